//! A small, deterministic YAML writer for previews and diffs. Block style, keys in object
//! order, strings quoted only when a reader would otherwise take them for something else.

use serde_json::Value;
use std::fmt::Write as _;

/// Renders a JSON value as a YAML document (no `---`), ending with a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, level: usize) {
    for (key, value) in map {
        indent(out, level);
        out.push_str(&quote_if_needed(key));
        out.push(':');
        write_child(out, value, level);
    }
}

fn write_seq(out: &mut String, items: &[Value], level: usize) {
    for item in items {
        indent(out, level);
        out.push('-');
        match item {
            // A mapping in a sequence starts on the dash's line, as people write it.
            Value::Object(map) if !map.is_empty() => {
                let mut nested = String::new();
                write_map(&mut nested, map, level + 1);
                out.push(' ');
                out.push_str(nested.trim_start());
            }
            other => write_child(out, other, level),
        }
    }
}

fn write_child(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, level + 1);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, level + 1);
        }
        Value::String(s)
            if s.contains('\n')
                && !s.contains('\r')
                && s.chars().all(|c| !c.is_control() || c == '\n') =>
        {
            // Multi-line strings (config files in ConfigMaps) read best as literal blocks.
            out.push_str(if s.ends_with('\n') { " |" } else { " |-" });
            out.push('\n');
            for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
                if !line.is_empty() {
                    indent(out, level + 1);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote_if_needed(s),
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
    }
}

/// Plain when the text reads back as the same string under YAML 1.1 (kubectl) and 1.2 alike;
/// double-quoted otherwise.
fn quote_if_needed(s: &str) -> String {
    if needs_quotes(s) {
        let mut quoted = String::with_capacity(s.len() + 2);
        quoted.push('"');
        for c in s.chars() {
            match c {
                '"' => quoted.push_str("\\\""),
                '\\' => quoted.push_str("\\\\"),
                '\n' => quoted.push_str("\\n"),
                '\t' => quoted.push_str("\\t"),
                '\r' => quoted.push_str("\\r"),
                c if c.is_control() => {
                    let _ = write!(quoted, "\\u{:04x}", c as u32);
                }
                c => quoted.push(c),
            }
        }
        quoted.push('"');
        quoted
    } else {
        s.to_owned()
    }
}

fn needs_quotes(s: &str) -> bool {
    const RESERVED: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF", "<<",
    ];
    let Some(first) = s.chars().next() else { return true };
    if RESERVED.contains(&s) || s.trim() != s {
        return true;
    }
    // `-x` is a plain string; `-`, `- x` and `--x` are not (or read oddly).
    let plain_dash = first == '-' && s.len() > 1 && !s.starts_with("- ") && !s.starts_with("--");
    if "-?:,[]{}#&*!|>'\"%@`~".contains(first) && !plain_dash {
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.chars().any(char::is_control) {
        return true;
    }
    // Anything either reading takes for null, bool or number stays a string only if quoted.
    let text = format!("k: {s}\n");
    let reads_back = |docs: Result<Vec<super::Document>, super::YamlError>| {
        docs.ok().is_some_and(|docs| {
            docs.first().and_then(|d| d.value.get("k")).and_then(Value::as_str) == Some(s)
        })
    };
    let budget = super::ExpansionBudget::new(0);
    !(reads_back(super::parse_documents(&text))
        && reads_back(super::parse_manifests(&text, &budget)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_through_the_parser() {
        let value = json!({
            "kind": "ConfigMap", "n": 3, "f": 1.5, "t": true, "z": null,
            "data": {"a": "1", "b": "yes", "c": "on", "d": "text with: colon", "e": "", "g": "-x", "h": "- x",
                     "script": "line 1\n  indented\n\nend\n", "q": "say \"hi\"", "tilde": "~", "dot": "1.10"},
            "list": [{"name": "a", "value": "x"}, [1, 2], "plain", {}], "empty": {}, "none": []
        });
        let text = to_yaml(&value);
        let back = super::super::parse_documents(&text).unwrap();
        assert_eq!(back[0].value, value, "{text}");
    }

    #[test]
    fn round_trips_through_the_kubectl_reader() {
        let value = json!({
            "data": {"a": "0400", "b": "1_000", "c": "y", "d": "0o17", "e": ".5", "f": "1:30",
                     "g": "2001-12-14", "h": "0b1", "i": ".inf", "<<": "merge key as text"},
            "n": 256, "list": ["08", "+1", "~"]
        });
        let text = to_yaml(&value);
        let budget = super::super::ExpansionBudget::default();
        let back = super::super::parse_manifests(&text, &budget).unwrap();
        assert_eq!(back[0].value, value, "{text}");
    }
}
