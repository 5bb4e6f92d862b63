//! The `fieldsV1` wire format of `metadata.managedFields`: nested objects keyed `f:`, `k:`, `v:`,
//! `i:`, with `{}` leaves and `".": {}` marking an element that is itself in the set.

use super::{Path, PathElement};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::collections::BTreeSet;

/// A `fieldsV1` document that does not follow the format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("managedFields fieldsV1 at `{at}`: {message}")]
pub struct FieldsV1Error {
    /// The path (conflict format) of the entry that failed to parse; empty at the root.
    pub at: String,
    pub message: String,
}

pub(super) fn parse(
    value: &Value,
    path: &mut Vec<PathElement>,
    out: &mut BTreeSet<Path>,
) -> Result<(), FieldsV1Error> {
    let Some(map) = value.as_object() else {
        return Err(error(path, format!("expected an object, found {}", kind_of(value))));
    };
    for (key, child) in map {
        let Some(child_map) = child.as_object() else {
            return Err(error(
                path,
                format!("entry `{key}` must be an object, found {}", kind_of(child)),
            ));
        };
        if key == "." {
            out.insert(Path(path.clone()));
            continue;
        }
        let element = parse_element(key, path)?;
        path.push(element);
        if child_map.is_empty() {
            out.insert(Path(path.clone()));
        } else {
            parse(child, path, out)?;
        }
        path.pop();
    }
    Ok(())
}

/// One entry's key as a path element; errors name the entry and where it is (`path`).
fn parse_element(key: &str, path: &[PathElement]) -> Result<PathElement, FieldsV1Error> {
    let (prefix, rest) = key.split_at_checked(2).unwrap_or((key, ""));
    match prefix {
        "f:" => Ok(PathElement::Field(rest.to_owned())),
        "k:" => {
            let fields: Map<String, Value> = serde_json::from_str(rest)
                .map_err(|e| error(path, format!("key `{key}` is not a JSON object: {e}")))?;
            Ok(PathElement::key(fields))
        }
        "v:" => serde_json::from_str(rest)
            .map(PathElement::Value)
            .map_err(|e| error(path, format!("value `{key}` is not JSON: {e}"))),
        "i:" => rest
            .parse()
            .map(PathElement::Index)
            .map_err(|_| error(path, format!("index `{key}` is not a non-negative integer"))),
        _ => Err(error(path, format!("entry `{key}` has no known prefix (f:, k:, v:, i: or .)"))),
    }
}

fn error(path: &[PathElement], message: String) -> FieldsV1Error {
    FieldsV1Error { at: Path(path.to_vec()).to_string(), message }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[derive(Default)]
struct Node<'a> {
    member: bool,
    children: BTreeMap<&'a PathElement, Node<'a>>,
}

pub(super) fn render<'a>(paths: impl Iterator<Item = &'a Path>) -> Value {
    let mut root = Node::default();
    for path in paths {
        let mut node = &mut root;
        for element in &path.0 {
            node = node.children.entry(element).or_default();
        }
        node.member = true;
    }
    Value::Object(render_node(&root))
}

/// Children in path order, `"."` first when the node is itself a member: structured-merge-diff's
/// `emitContentsV1`.
fn render_node(node: &Node<'_>) -> Map<String, Value> {
    let mut out = Map::new();
    if node.member && !node.children.is_empty() {
        out.insert(".".to_owned(), Value::Object(Map::new()));
    }
    for (element, child) in &node.children {
        out.insert(element_key(element), Value::Object(render_node(child)));
    }
    out
}

fn element_key(element: &PathElement) -> String {
    match element {
        PathElement::Field(name) => format!("f:{name}"),
        PathElement::Key(fields) => {
            let mut out = String::from("k:{");
            for (i, (name, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&go_json(&Value::String(name.clone())));
                out.push(':');
                out.push_str(&go_json(value));
            }
            out.push('}');
            out
        }
        PathElement::Value(value) => format!("v:{}", go_json(value)),
        PathElement::Index(index) => format!("i:{index}"),
    }
}

/// JSON as Go's `encoding/json` writes it, which escapes HTML-significant characters; these can
/// only occur inside strings, so replacing them keeps the JSON valid.
fn go_json(value: &Value) -> String {
    let plain = value.to_string();
    if !plain.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return plain;
    }
    plain
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}
