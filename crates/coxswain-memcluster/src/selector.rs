//! Label selectors in the API's query syntax (`app=web,tier!=db,canary,!legacy,env in (a,b)`).

use serde_json::{Map, Value};

/// A parsed label selector: every requirement must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl LabelSelector {
    /// Parses the `labelSelector` query parameter. The error says which requirement is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                if text.trim().is_empty() {
                    continue;
                }
                return Err(format!("unable to parse requirement in {text:?}: empty requirement"));
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(Self { requirements })
    }

    /// Whether an object with these labels is selected.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.requirements.iter().all(|requirement| match requirement {
            Requirement::Equals(key, value) => label(key) == Some(value),
            Requirement::NotEquals(key, value) => label(key) != Some(value),
            Requirement::In(key, values) => {
                label(key).is_some_and(|l| values.iter().any(|v| v == l))
            }
            Requirement::NotIn(key, values) => {
                label(key).is_none_or(|l| values.iter().all(|v| v != l))
            }
            Requirement::Exists(key) => label(key).is_some(),
            Requirement::DoesNotExist(key) => label(key).is_none(),
        })
    }

    /// Whether `object` (a full API object) is selected by its `metadata.labels`.
    pub fn matches_object(&self, object: &Value) -> bool {
        self.matches(object.pointer("/metadata/labels").and_then(Value::as_object))
    }
}

/// Splits on commas outside parentheses: `a in (x,y),b` is two requirements.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0_i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    let fail = |why: &str| Err(format!("unable to parse requirement {part:?}: {why}"));
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(key_of(key.trim(), part)?));
    }
    if let Some(open) = part.find('(') {
        let Some(inner) = part[open + 1..].strip_suffix(')') else {
            return fail("missing closing parenthesis");
        };
        let mut words = part[..open].split_whitespace();
        let (Some(key), Some(operator), None) = (words.next(), words.next(), words.next()) else {
            return fail("expected `key in (values)` or `key notin (values)`");
        };
        let values = inner
            .split(',')
            .map(|value| value_of(value.trim(), part))
            .collect::<Result<Vec<_>, _>>()?;
        let key = key_of(key, part)?;
        return match operator {
            "in" => Ok(Requirement::In(key, values)),
            "notin" => Ok(Requirement::NotIn(key, values)),
            _ => fail("the operator must be `in` or `notin`"),
        };
    }
    if let Some((key, value)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(
            key_of(key.trim(), part)?,
            value_of(value.trim(), part)?,
        ));
    }
    if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(key_of(key.trim(), part)?, value_of(value.trim(), part)?));
    }
    Ok(Requirement::Exists(key_of(part, part)?))
}

fn key_of(key: &str, part: &str) -> Result<String, String> {
    if key.is_empty() || key.contains(|c: char| c.is_whitespace() || "=!(),".contains(c)) {
        return Err(format!("unable to parse requirement {part:?}: invalid label key {key:?}"));
    }
    Ok(key.to_owned())
}

fn value_of(value: &str, part: &str) -> Result<String, String> {
    if value.contains(|c: char| c.is_whitespace() || "=!(),".contains(c)) {
        return Err(format!("unable to parse requirement {part:?}: invalid label value {value:?}"));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(value: &Value) -> Option<&Map<String, Value>> {
        value.as_object()
    }

    #[test]
    fn every_operator_selects_as_the_api_does() {
        let l = json!({"app": "web", "tier": "front", "canary": ""});
        let cases = [
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("canary", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("tier in (front, back)", true),
            ("tier in (back)", false),
            ("tier notin (back)", true),
            ("missing notin (back)", true),
            ("tier notin (front)", false),
            ("app=web,tier in (front,back),!legacy", true),
            ("app=web,tier=back", false),
            ("", true),
        ];
        for (selector, expected) in cases {
            let parsed =
                LabelSelector::parse(selector).unwrap_or_else(|e| panic!("{selector}: {e}"));
            assert_eq!(parsed.matches(labels(&l)), expected, "{selector}");
        }
        assert!(!LabelSelector::parse("app").is_ok_and(|s| s.matches(None)));
    }

    #[test]
    fn malformed_selectors_are_rejected_with_the_requirement() {
        for bad in ["app in (a", "app=web,,x", "a b", "app within (x)", "=x", "app=w b"] {
            let error = LabelSelector::parse(bad).expect_err(bad);
            assert!(error.contains("unable to parse requirement"), "{bad}: {error}");
        }
    }
}
