//! Reads YAML into JSON values while remembering where every node came from.
//!
//! Kubernetes objects are JSON documents, so the engine works on `serde_json::Value`; but every
//! message about a manifest must name its file and line. This module walks `saphyr-parser`'s
//! event stream itself to keep, for each node, the line it starts on (keyed by JSON pointer).
//! Scalars are resolved with the YAML 1.2 core schema; aliases are expanded under a budget so a
//! "billion laughs" document fails cleanly instead of exhausting memory.

mod emit;

pub use emit::to_yaml;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The most nodes one document may expand to (aliases included), against alias bombs.
const MAX_NODES_PER_DOCUMENT: usize = 1_000_000;
/// The deepest nesting accepted; real manifests stay far below it.
const MAX_DEPTH: usize = 256;

/// Lines of the nodes of one document, by JSON pointer (`/spec/replicas`). 1-based.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineMap {
    lines: HashMap<String, u32>,
}

impl LineMap {
    /// The line of the node at `pointer`, or of its nearest ancestor that has one.
    pub fn line_of(&self, pointer: &str) -> Option<u32> {
        let mut current = pointer;
        loop {
            if let Some(line) = self.lines.get(current) {
                return Some(*line);
            }
            match current.rfind('/') {
                Some(cut) => current = &current[..cut],
                None => return None,
            }
        }
    }

    /// The line of the node at `pointer` only if that exact node exists.
    pub fn exact(&self, pointer: &str) -> Option<u32> {
        self.lines.get(pointer).copied()
    }
}

/// One YAML document converted to JSON.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    /// Line of the document's first node.
    pub line: u32,
    pub lines: Arc<LineMap>,
}

/// A YAML syntax or structure error at a position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// Escapes a key for use in a JSON pointer (RFC 6901).
pub fn escape_pointer_token(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1").into()
    } else {
        key.into()
    }
}

/// Parses every document of a YAML stream. Empty documents (only comments, or `---` alone) are
/// skipped. Stops at the first syntax error: the parser cannot resynchronise after one.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, YamlError> {
    let mut builder = Builder::default();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| YamlError {
            line: e.marker().line() as u32,
            column: e.marker().col() as u32 + 1,
            message: e.info().to_owned(),
        })?;
        builder.event(event, span)?;
    }
    Ok(builder.documents)
}

enum Frame {
    Sequence {
        items: Vec<Value>,
        anchor: usize,
        pointer: String,
    },
    Mapping {
        map: Map<String, Value>,
        pending_key: Option<(String, u32)>,
        anchor: usize,
        pointer: String,
    },
}

#[derive(Default)]
struct Builder {
    documents: Vec<Document>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    lines: LineMap,
    nodes: usize,
    doc_line: Option<u32>,
    root: Option<Value>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let line = span.start.line() as u32;
        let column = span.start.col() as u32 + 1;
        let error = |message: String| YamlError { line, column, message };
        match event {
            Event::DocumentStart(_) => {
                self.anchors.clear();
                self.lines = LineMap::default();
                self.nodes = 0;
                self.doc_line = None;
                self.root = None;
            }
            Event::DocumentEnd => {
                // A document with no content (`---` alone, or only comments) is a null root.
                if let Some(value) = self.root.take().filter(|v| !v.is_null()) {
                    self.documents.push(Document {
                        value,
                        line: self.doc_line.unwrap_or(line),
                        lines: Arc::new(std::mem::take(&mut self.lines)),
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                if let Some(Frame::Mapping { pending_key: pending @ None, map, .. }) =
                    self.stack.last_mut()
                {
                    let key = text.into_owned();
                    if map.contains_key(&key) {
                        return Err(error(format!("duplicate key \"{key}\" in mapping")));
                    }
                    *pending = Some((key, line));
                    return Ok(());
                }
                let tag_suffix = tag.as_ref().map(|t| t.suffix.clone());
                let value = resolve_scalar(&text, style, tag_suffix.as_deref());
                self.count(1).map_err(&error)?;
                if anchor != 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                self.push_value(value, line);
            }
            Event::Alias(anchor) => {
                let value = self
                    .anchors
                    .get(&anchor)
                    .cloned()
                    .ok_or_else(|| error("alias to an unknown anchor".to_owned()))?;
                if let Some(Frame::Mapping { pending_key: pending @ None, map, .. }) =
                    self.stack.last_mut()
                {
                    let key = scalar_key(&value).map_err(&error)?;
                    if map.contains_key(&key) {
                        return Err(error(format!("duplicate key \"{key}\" in mapping")));
                    }
                    *pending = Some((key, line));
                    return Ok(());
                }
                self.count(count_nodes(&value)).map_err(&error)?;
                self.push_value(value, line);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(error(format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                if let Some(Frame::Mapping { pending_key: None, .. }) = self.stack.last() {
                    return Err(error(
                        "a mapping or sequence used as a mapping key is not supported".to_owned(),
                    ));
                }
                self.count(1).map_err(&error)?;
                let pointer = self.child_pointer();
                let entry_line = self.entry_line(line);
                self.lines.lines.entry(pointer.clone()).or_insert(entry_line);
                self.doc_line.get_or_insert(line);
                self.stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Sequence { items: Vec::new(), anchor, pointer }
                } else {
                    Frame::Mapping { map: Map::new(), pending_key: None, anchor, pointer }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Frame::Sequence { items, anchor, .. }) => (Value::Array(items), anchor),
                    Some(Frame::Mapping { map, anchor, .. }) => (Value::Object(map), anchor),
                    None => return Err(error("unbalanced end of collection".to_owned())),
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                self.attach(value);
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn count(&mut self, nodes: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES_PER_DOCUMENT {
            return Err(format!(
                "document expands to more than {MAX_NODES_PER_DOCUMENT} nodes (alias bomb?)"
            ));
        }
        Ok(())
    }

    /// The pointer the next value will have, given the open collections.
    fn child_pointer(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Sequence { items, pointer, .. }) => format!("{pointer}/{}", items.len()),
            Some(Frame::Mapping { pending_key, pointer, .. }) => {
                let key = pending_key.as_ref().map(|(k, _)| k.as_str()).unwrap_or_default();
                format!("{pointer}/{}", escape_pointer_token(key))
            }
        }
    }

    /// For a mapping value, the key's line is the one a reader looks for.
    fn entry_line(&self, value_line: u32) -> u32 {
        match self.stack.last() {
            Some(Frame::Mapping { pending_key: Some((_, key_line)), .. }) => *key_line,
            _ => value_line,
        }
    }

    fn push_value(&mut self, value: Value, line: u32) {
        let pointer = self.child_pointer();
        let entry_line = self.entry_line(line);
        self.lines.lines.entry(pointer).or_insert(entry_line);
        self.doc_line.get_or_insert(line);
        self.attach(value);
    }

    fn attach(&mut self, value: Value) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Sequence { items, .. }) => items.push(value),
            Some(Frame::Mapping { map, pending_key, .. }) => {
                if let Some((key, _)) = pending_key.take() {
                    map.insert(key, value);
                }
            }
        }
    }
}

fn scalar_key(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok("null".to_owned()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err("a mapping or sequence used as a mapping key is not supported".to_owned()),
    }
}

fn count_nodes(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

/// YAML 1.2 core schema resolution of a scalar. Quoted scalars and `!!str` are always strings.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    if style != ScalarStyle::Plain || tag == Some("str") {
        return Value::String(text.to_owned());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            // JSON has no infinities or NaN; keep the text rather than invent a number.
            return Value::String(text.to_owned());
        }
        _ => {}
    }
    if let Some(number) = parse_int(text) {
        return Value::Number(number);
    }
    if looks_like_float(text)
        && let Ok(float) = text.parse::<f64>()
        && let Some(number) = Number::from_f64(float)
    {
        return Value::Number(number);
    }
    Value::String(text.to_owned())
}

fn parse_int(text: &str) -> Option<Number> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x") {
        (16, hex)
    } else if let Some(oct) = digits.strip_prefix("0o") {
        (8, oct)
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    if let Ok(small) = i64::try_from(value) {
        Some(Number::from(small))
    } else {
        u64::try_from(value).ok().map(Number::from)
    }
}

fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(cut) => (&body[..cut], Some(&body[cut + 1..])),
        None => (body, None),
    };
    let mantissa_ok = {
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        (!int.is_empty() || !frac.is_empty())
            && int.chars().all(|c| c.is_ascii_digit())
            && frac.chars().all(|c| c.is_ascii_digit())
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['-', '+']).unwrap_or(e);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::fmt::Write as _;

    #[test]
    fn resolves_core_schema_scalars() {
        let docs = parse_documents(
            "a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: yes\ng: 0x1F\nh: 1e3\ni: 1.10\nj: v1.2\n",
        )
        .unwrap();
        assert_eq!(
            docs[0].value,
            json!({"a": 1, "b": 1.5, "c": true, "d": null, "e": "1", "f": "yes", "g": 31,
                   "h": 1000.0, "i": 1.1, "j": "v1.2"})
        );
    }

    #[test]
    fn records_lines_by_pointer_and_skips_empty_documents() {
        let text =
            "# only a comment\n---\n---\nkind: A\nmetadata:\n  name: x\nlist:\n  - a\n  - b\n";
        let docs = parse_documents(text).unwrap();
        assert_eq!(docs.len(), 1);
        let lines = &docs[0].lines;
        assert_eq!(docs[0].line, 4);
        assert_eq!(lines.exact("/kind"), Some(4));
        assert_eq!(lines.exact("/metadata"), Some(5));
        assert_eq!(lines.exact("/metadata/name"), Some(6));
        assert_eq!(lines.exact("/list/1"), Some(9));
        assert_eq!(lines.line_of("/metadata/labels/app"), Some(5));
    }

    #[test]
    fn rejects_duplicate_keys_with_their_line() {
        let err = parse_documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!((err.line, err.message.as_str()), (3, "duplicate key \"a\" in mapping"));
    }

    #[test]
    fn expands_aliases_but_stops_alias_bombs() {
        let docs = parse_documents("x: &a {k: v}\ny: *a\n").unwrap();
        assert_eq!(docs[0].value, json!({"x": {"k": "v"}, "y": {"k": "v"}}));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            let _ = writeln!(bomb, "a{i}: &a{i} [{refs}]");
        }
        let err = parse_documents(&bomb).unwrap_err();
        assert!(err.message.contains("alias bomb"), "{err:?}");
    }
}
