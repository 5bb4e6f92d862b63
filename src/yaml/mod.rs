//! Reads YAML into JSON values while remembering where every node came from.
//!
//! Kubernetes objects are JSON documents, so the engine works on `serde_json::Value`; but every
//! message about a manifest must name its file and line. This module walks `saphyr-parser`'s
//! event stream itself to keep, for each node, the line it starts on (keyed by JSON pointer).
//!
//! Two readings (see [`scalar`]): manifests ([`parse_manifests`]) are read exactly as `kubectl`
//! reads them (go-yaml v2's YAML 1.1 scalars and `<<` merge keys, sigs.k8s.io/yaml's JSON
//! conversion), so `defaultMode: 0400` is 256 here as on the server; Coxswain's own files
//! ([`parse_documents`]: `env.yaml`, pipelines, specs) keep the YAML 1.2 core schema. Duplicate
//! keys are errors in both (kubectl silently keeps the last one).
//!
//! Aliases are expanded under three limits, so a "billion laughs" file fails cleanly instead of
//! exhausting memory: go-yaml v2's own ratio rule per document (what kubectl rejects, Coxswain
//! rejects), [`MAX_ALIAS_NODES_PER_FILE`] per file, and an [`ExpansionBudget`] shared by every
//! file of one repo load (many small bombs in many documents or files add up).

mod emit;
mod libyaml;
mod problem;
mod scalar;

pub use emit::to_yaml;

use problem::Problem;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use scalar::Schema;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most nodes (keys included) alias expansion may add in one file.
pub const MAX_ALIAS_NODES_PER_FILE: usize = 1_000_000;
/// The most nodes alias expansion may add across all files of one repo load.
pub const MAX_ALIAS_NODES_PER_LOAD: usize = 2_000_000;
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

/// How many alias-expanded nodes the files of one load may still produce. Shared by reference
/// between the threads that load environments.
#[derive(Debug)]
pub struct ExpansionBudget {
    limit: usize,
    remaining: AtomicUsize,
}

impl ExpansionBudget {
    pub fn new(limit: usize) -> Self {
        Self { limit, remaining: AtomicUsize::new(limit) }
    }

    /// Takes `nodes` from the budget; false (and nothing taken) when that is more than is left.
    fn take(&self, nodes: usize) -> bool {
        self.remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(nodes))
            .is_ok()
    }

    fn give_back(&self, nodes: usize) {
        self.remaining.fetch_add(nodes, Ordering::Relaxed);
    }
}

impl Default for ExpansionBudget {
    /// The budget of one repo load: [`MAX_ALIAS_NODES_PER_LOAD`].
    fn default() -> Self {
        Self::new(MAX_ALIAS_NODES_PER_LOAD)
    }
}

/// Escapes a key for use in a JSON pointer (RFC 6901).
pub fn escape_pointer_token(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1").into()
    } else {
        key.into()
    }
}

/// Parses every document of one of Coxswain's own files (`env.yaml`, pipelines, specs) with the
/// YAML 1.2 core schema. Empty documents (only comments, or `---` alone) are skipped. Stops at
/// the first error: the parser cannot resynchronise after one.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, YamlError> {
    parse(text, Schema::Core, &ExpansionBudget::new(MAX_ALIAS_NODES_PER_FILE))
}

/// Parses every document of a manifest exactly as `kubectl` reads it (go-yaml v2, YAML 1.1:
/// `yes` is true, `0400` is 256, `<<: *base` merges), charging alias expansion to `budget`.
/// Documents that are empty or null are skipped, as kubectl skips them. Where go-yaml's syntax
/// differs from the YAML 1.2 parser underneath, go-yaml's wins (see [`libyaml`]).
pub fn parse_manifests(text: &str, budget: &ExpansionBudget) -> Result<Vec<Document>, YamlError> {
    let mut text = Cow::Borrowed(text);
    for _ in 0..libyaml::MAX_REWRITES {
        match parse(&text, Schema::Kubectl, budget) {
            Err(error) => match libyaml::rewrite_for_retry(&text, &error) {
                Some(rewritten) => text = Cow::Owned(rewritten),
                None => return Err(error),
            },
            documents => return documents,
        }
    }
    parse(&text, Schema::Kubectl, budget)
}

fn parse(text: &str, schema: Schema, budget: &ExpansionBudget) -> Result<Vec<Document>, YamlError> {
    let source = (schema == Schema::Kubectl).then(|| libyaml::Source::new(text));
    let mut builder = Builder::new(schema, budget, source);
    for item in Parser::new_from_str(text) {
        let step = item
            .map_err(|e| YamlError {
                line: e.marker().line() as u32,
                column: e.marker().col() as u32 + 1,
                message: e.info().to_owned(),
            })
            .and_then(|(event, span)| builder.event(event, span));
        if let Err(error) = step {
            // The file's values are dropped: what they took from the load's budget is free again
            // (and a parse retried after a rewrite is not charged twice).
            budget.give_back(builder.file_alias_nodes);
            return Err(error);
        }
    }
    Ok(builder.documents)
}

/// What an anchor names: a scalar is kept as written (its key and value readings differ), a
/// collection as built. `cost` is the nodes go-yaml decodes for it (keys included).
enum Anchored {
    Scalar { text: String, style: ScalarStyle, tag: Option<String> },
    Node(Value),
}

struct Anchor {
    node: Anchored,
    cost: usize,
}

/// An alias's target read as a key or as a value.
enum Expanded {
    Key(String),
    Value(Value),
}

/// The slot of an open mapping: waiting for a key, for a key's value, or for a merge's value.
enum Pending {
    Key,
    Value(String, u32),
    Merge(u32),
}

enum Frame {
    Sequence {
        items: Vec<Value>,
        anchor: usize,
        /// `None` inside a merge's value: its nodes land under other pointers.
        pointer: Option<String>,
        start: usize,
        /// `[ ]` rather than a block sequence.
        flow: bool,
    },
    Mapping {
        map: Map<String, Value>,
        pending: Pending,
        anchor: usize,
        pointer: Option<String>,
        start: usize,
        /// Keys that came from a merge and have not been set explicitly since: an explicit key
        /// may override them once (go-yaml's order), but not itself.
        merged: Option<HashSet<String>>,
        /// `{ }` rather than a block mapping.
        flow: bool,
    },
}

struct Builder<'a> {
    schema: Schema,
    budget: &'a ExpansionBudget,
    /// The text, for go-yaml's syntax rules saphyr does not apply (manifests only).
    source: Option<libyaml::Source<'a>>,
    documents: Vec<Document>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchor>,
    lines: LineMap,
    doc_line: Option<u32>,
    root: Option<Value>,
    /// go-yaml's `decodeCount` and `aliasCount` for the current document.
    decodes: usize,
    alias_decodes: usize,
    /// Nodes added by alias expansion in this file (all taken from `budget`).
    file_alias_nodes: usize,
}

impl<'a> Builder<'a> {
    fn new(
        schema: Schema,
        budget: &'a ExpansionBudget,
        source: Option<libyaml::Source<'a>>,
    ) -> Self {
        Self {
            schema,
            budget,
            source,
            documents: Vec::new(),
            stack: Vec::new(),
            anchors: HashMap::new(),
            lines: LineMap::default(),
            doc_line: None,
            root: None,
            decodes: 0,
            alias_decodes: 0,
            file_alias_nodes: 0,
        }
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let line = span.start.line() as u32;
        let column = span.start.col() as u32 + 1;
        let error = |problem: Problem| YamlError { line, column, message: problem.to_string() };
        if self.source.is_some() {
            self.check_syntax(&event, span).map_err(&error)?;
        }
        match event {
            Event::DocumentStart(_) => {
                self.anchors.clear();
                self.lines = LineMap::default();
                self.decodes = 1; // the document node
                self.alias_decodes = 0;
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
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                let tag = tag.as_deref();
                if self.wants_key() {
                    if scalar::is_merge_key(self.schema, &text, style, tag) {
                        self.set_pending(Pending::Merge(line));
                    } else {
                        self.count(1).map_err(&error)?;
                        if anchor != 0 {
                            self.anchor_scalar(anchor, &text, style, tag);
                        }
                        let key = scalar::key(self.schema, text, style, tag).map_err(&error)?;
                        self.set_key(key, line).map_err(&error)?;
                    }
                    return Ok(());
                }
                self.count(1).map_err(&error)?;
                if anchor != 0 {
                    self.anchor_scalar(anchor, &text, style, tag);
                }
                let value = scalar::value(self.schema, text, style, tag).map_err(&error)?;
                self.push_value(value, line).map_err(&error)?;
            }
            Event::Alias(id) => {
                let Some(anchor) = self.anchors.get(&id) else {
                    return Err(error(Problem::UnknownAnchor));
                };
                // Charge the budget before copying anything.
                let cost = anchor.cost;
                self.expand(cost).map_err(&error)?;
                let Some(anchor) = self.anchors.get(&id) else {
                    return Err(error(Problem::UnknownAnchor));
                };
                let resolved = match (&anchor.node, self.wants_key()) {
                    (Anchored::Scalar { text, style, tag }, true) => {
                        scalar::key(self.schema, Cow::Borrowed(text), *style, tag.as_deref())
                            .map(Expanded::Key)
                    }
                    (Anchored::Node(_), true) => Err(Problem::CollectionKey),
                    (Anchored::Scalar { text, style, tag }, false) => {
                        scalar::value(self.schema, Cow::Borrowed(text), *style, tag.as_deref())
                            .map(Expanded::Value)
                    }
                    (Anchored::Node(value), false) => Ok(Expanded::Value(value.clone())),
                };
                match resolved.map_err(&error)? {
                    Expanded::Key(key) => self.set_key(key, line).map_err(&error)?,
                    Expanded::Value(value) => {
                        if matches!(
                            self.stack.last(),
                            Some(Frame::Mapping { pending: Pending::Merge(_), .. })
                        ) && !value.is_object()
                        {
                            // An alias must name a mapping; a list of mappings only inline.
                            return Err(error(merge_error(&value)));
                        }
                        self.push_value(value, line).map_err(&error)?;
                    }
                }
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                // A flow collection's start event spans its `[` or `{` (and any properties
                // before it); a block one's is empty unless it has properties.
                let flow = match &mut self.source {
                    Some(source) if anchor != 0 || tag.is_some() => source.opens_flow(span),
                    _ => span.end.index() > span.start.index(),
                };
                if self.stack.len() >= MAX_DEPTH {
                    return Err(error(Problem::TooDeep { max: MAX_DEPTH }));
                }
                if self.wants_key() {
                    return Err(error(Problem::CollectionKey));
                }
                let start = self.decodes;
                self.count(1).map_err(&error)?;
                let pointer = self.child_pointer();
                if let Some(pointer) = &pointer {
                    let entry_line = self.entry_line(line);
                    self.lines.lines.entry(pointer.clone()).or_insert(entry_line);
                }
                self.doc_line.get_or_insert(line);
                self.stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Sequence { items: Vec::new(), anchor, pointer, start, flow }
                } else {
                    Frame::Mapping {
                        map: Map::new(),
                        pending: Pending::Key,
                        anchor,
                        pointer,
                        start,
                        merged: None,
                        flow,
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor, start) = match self.stack.pop() {
                    Some(Frame::Sequence { items, anchor, start, .. }) => {
                        (Value::Array(items), anchor, start)
                    }
                    Some(Frame::Mapping { map, anchor, start, .. }) => {
                        (Value::Object(map), anchor, start)
                    }
                    None => return Err(error(Problem::Unbalanced)),
                };
                if anchor != 0 {
                    let cost = self.decodes - start;
                    self.anchors
                        .insert(anchor, Anchor { node: Anchored::Node(value.clone()), cost });
                }
                self.attach(value).map_err(&error)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    /// go-yaml's syntax rules that saphyr does not apply (see [`libyaml`]).
    fn check_syntax(&mut self, event: &Event<'_>, span: Span) -> Result<(), Problem> {
        let Some(source) = &mut self.source else { return Ok(()) };
        let (anchor, plain) = match event {
            Event::Scalar(text, style, anchor, _) => {
                if *style == ScalarStyle::DoubleQuoted {
                    source.check_double_quoted(span)?;
                }
                (*anchor, (*style == ScalarStyle::Plain).then_some(text))
            }
            Event::Alias(_) => {
                source.check_alias(span)?;
                (0, None)
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => (*anchor, None),
            _ => return Ok(()),
        };
        if anchor != 0 {
            source.check_anchor(span)?;
        }
        let suspicious = plain.is_some_and(|text| text.contains('?') || text.starts_with(':'));
        if !suspicious && !source.has_tabs() {
            return Ok(());
        }
        let (sequence, value, flow) = match self.stack.last() {
            Some(Frame::Sequence { flow, .. }) => (true, false, *flow),
            Some(Frame::Mapping { flow, pending, .. }) => {
                (false, !matches!(pending, Pending::Key), *flow)
            }
            None => return Ok(()),
        };
        if flow {
            if let Some(text) = plain {
                libyaml::check_flow_plain(text)?;
            }
        } else if sequence || value {
            source.check_tab_after_indicator(span, sequence)?;
        }
        Ok(())
    }

    fn anchor_scalar(&mut self, anchor: usize, text: &str, style: ScalarStyle, tag: Option<&str>) {
        let node = Anchored::Scalar { text: text.to_owned(), style, tag: tag.map(str::to_owned) };
        self.anchors.insert(anchor, Anchor { node, cost: 1 });
    }

    /// Whether the next node is a mapping key.
    fn wants_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Mapping { pending: Pending::Key, .. }))
    }

    fn set_pending(&mut self, next: Pending) {
        if let Some(Frame::Mapping { pending, .. }) = self.stack.last_mut() {
            *pending = next;
        }
    }

    /// Records `key` as the open mapping's next key, refusing a key it already has (unless the
    /// earlier one came from a merge, which an explicit key overrides).
    fn set_key(&mut self, key: String, line: u32) -> Result<(), Problem> {
        if let Some(Frame::Mapping { map, pending, merged, .. }) = self.stack.last_mut() {
            if map.contains_key(&key) && !merged.as_mut().is_some_and(|m| m.remove(&key)) {
                return Err(Problem::DuplicateKey { key });
            }
            *pending = Pending::Value(key, line);
        }
        Ok(())
    }

    /// Counts `nodes` decoded nodes and applies go-yaml v2's alias ratio rule: past 1000 nodes,
    /// a document may not get more than 99% of them from aliases (10% past 4 million).
    fn count(&mut self, nodes: usize) -> Result<(), Problem> {
        self.decodes += nodes;
        if self.alias_decodes > 100 && self.decodes > 1000 {
            #[allow(clippy::cast_precision_loss)] // go-yaml's own float64 arithmetic
            let (aliases, decodes) = (self.alias_decodes as f64, self.decodes as f64);
            let allowed = if decodes <= 400_000.0 {
                0.99
            } else if decodes >= 4_000_000.0 {
                0.10
            } else {
                0.99 - 0.89 * ((decodes - 400_000.0) / 3_600_000.0)
            };
            if aliases / decodes > allowed {
                return Err(Problem::ExcessiveAliasing {
                    aliases: self.alias_decodes,
                    nodes: self.decodes,
                });
            }
        }
        Ok(())
    }

    /// Charges the expansion of an alias whose target decodes to `cost` nodes.
    fn expand(&mut self, cost: usize) -> Result<(), Problem> {
        if self.file_alias_nodes.saturating_add(cost) > MAX_ALIAS_NODES_PER_FILE {
            return Err(Problem::FileAliasCap { max: MAX_ALIAS_NODES_PER_FILE });
        }
        if !self.budget.take(cost) {
            return Err(Problem::LoadAliasCap { max: self.budget.limit });
        }
        // Only what was taken from the budget, so an error gives back exactly that.
        self.file_alias_nodes += cost;
        self.alias_decodes += cost;
        self.count(1 + cost)
    }

    /// The pointer the next value will have, given the open collections; `None` inside a
    /// merge's value.
    fn child_pointer(&self) -> Option<String> {
        match self.stack.last() {
            None => Some(String::new()),
            Some(Frame::Sequence { items, pointer, .. }) => {
                pointer.as_ref().map(|p| format!("{p}/{}", items.len()))
            }
            Some(Frame::Mapping { pending: Pending::Value(key, _), pointer: Some(p), .. }) => {
                Some(format!("{p}/{}", escape_pointer_token(key)))
            }
            Some(Frame::Mapping { .. }) => None,
        }
    }

    /// For a mapping value, the key's line is the one a reader looks for.
    fn entry_line(&self, value_line: u32) -> u32 {
        match self.stack.last() {
            Some(Frame::Mapping { pending: Pending::Value(_, key_line), .. }) => *key_line,
            _ => value_line,
        }
    }

    fn push_value(&mut self, value: Value, line: u32) -> Result<(), Problem> {
        if let Some(pointer) = self.child_pointer() {
            let entry_line = self.entry_line(line);
            self.lines.lines.entry(pointer).or_insert(entry_line);
        }
        self.doc_line.get_or_insert(line);
        self.attach(value)
    }

    fn attach(&mut self, value: Value) -> Result<(), Problem> {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Sequence { items, .. }) => items.push(value),
            Some(Frame::Mapping { map, pending, pointer, merged, .. }) => {
                match std::mem::replace(pending, Pending::Key) {
                    Pending::Value(key, _) => {
                        map.insert(key, value);
                    }
                    Pending::Merge(merge_line) => {
                        let merged = merged.get_or_insert_default();
                        let sources = match value {
                            Value::Object(source) => vec![source],
                            Value::Array(items) if items.iter().all(Value::is_object) => {
                                // go-yaml decodes no node for the list itself.
                                self.decodes -= 1;
                                // Earlier maps win: merge them last.
                                items.into_iter().rev().filter_map(into_object).collect()
                            }
                            other => return Err(merge_error(&other)),
                        };
                        for source in sources {
                            for (key, value) in source {
                                if let Some(p) = pointer {
                                    let child = format!("{p}/{}", escape_pointer_token(&key));
                                    self.lines.lines.insert(child, merge_line);
                                }
                                if !map.contains_key(&key) {
                                    merged.insert(key.clone());
                                }
                                map.insert(key, value);
                            }
                        }
                    }
                    Pending::Key => {}
                }
            }
        }
        Ok(())
    }
}

fn into_object(value: Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn merge_error(found: &Value) -> Problem {
    let found = match found {
        Value::Null => "null",
        Value::Bool(_) | Value::Number(_) | Value::String(_) => "a scalar",
        Value::Array(_) => "a sequence that is not all mappings",
        Value::Object(_) => "a mapping",
    };
    Problem::MergeSource { found }
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

    fn manifests(text: &str) -> Result<Vec<Document>, YamlError> {
        parse_manifests(text, &ExpansionBudget::default())
    }

    #[test]
    fn reads_manifest_scalars_as_kubectl_does() {
        let docs = manifests(
            "a: 0400\nb: yes\nc: on\nd: 1_000\ne: 1:30\nf: 1.0\ng: '0400'\nh: 2001-12-14\n\
             i: !!binary aGk=\n0x10: hex key\ny: bool key\n",
        )
        .unwrap();
        assert_eq!(
            docs[0].value,
            json!({"a": 256, "b": true, "c": true, "d": 1000, "e": "1:30", "f": 1, "g": "0400",
                   "h": "2001-12-14", "i": "hi", "16": "hex key", "true": "bool key"})
        );
    }

    #[test]
    fn refuses_what_kubectl_refuses_with_a_line() {
        for (text, line, words) in [
            ("a: 1\nb: .inf\n", 2, "JSON cannot hold"),
            ("a: 1\n~: x\n", 2, "null key"),
            ("a: !!int 1.5\n", 1, "cannot decode !!float `1.5` as a !!int"),
            ("a: !!binary '***'\n", 1, "invalid base64"),
            ("a: 1\nb:\n  <<: 3\n", 3, "merge key needs a mapping"),
            ("a: 1\nb: \"x\\/y\"\n", 2, "unknown escape character `\\/`"),
        ] {
            let err = manifests(text).unwrap_err();
            assert_eq!(err.line, line, "{text}: {err:?}");
            assert!(err.message.contains(words), "{text}: {err:?}");
        }
    }

    #[test]
    fn merges_keys_in_go_yaml_order_with_lines() {
        let text = "one: &one {k: 1, a: x}\ntwo: &two {k: 2, b: z}\nd:\n  k: 0\n  <<: [*one, *two]\n  e: 5\n  a: 9\n";
        let docs = manifests(text).unwrap();
        // The merge overrides `k` set before it; `a`, set after it, overrides the merge.
        assert_eq!(docs[0].value["d"], json!({"k": 1, "a": 9, "b": "z", "e": 5}));
        assert_eq!(docs[0].lines.exact("/d/b"), Some(5));
        assert_eq!(docs[0].lines.exact("/d/e"), Some(6));
        let err = manifests("m: &m {a: 1}\nd:\n  <<: *m\n  a: 2\n  a: 3\n").unwrap_err();
        assert_eq!((err.line, err.message.as_str()), (5, "duplicate key \"a\" in mapping"));
    }

    #[test]
    fn reads_single_quote_escapes_as_go_yaml_does() {
        let docs = manifests("a: \"it\\'s\"\nb: 'x\\'\nc: \"\\'\\'\"\n").unwrap();
        assert_eq!(docs[0].value, json!({"a": "it's", "b": "x\\", "c": "''"}));
        assert!(manifests("a: \"\\q\"\n").unwrap_err().message.contains("unknown escape"));
    }

    /// `count` documents, each aliasing a 1000-item list 50 times (50 050 nodes): under go-yaml's
    /// ratio rule, so only the per-file and per-load caps can stop them.
    fn alias_documents(count: usize) -> String {
        let items = vec!["x"; 1000].join(", ");
        let refs = vec!["*a"; 50].join(", ");
        let mut text = String::new();
        for _ in 0..count {
            let _ = write!(text, "---\na: &a [{items}]\nb: [{refs}]\n");
        }
        text
    }

    #[test]
    fn caps_alias_expansion_per_file_across_documents() {
        assert_eq!(manifests(&alias_documents(19)).unwrap().len(), 19);
        let err = manifests(&alias_documents(200)).unwrap_err();
        assert!(
            err.message.contains("aliases in this file expand to more than 1000000"),
            "{err:?}"
        );
        assert_eq!(err.line, 3 * 19 + 3, "the line of the alias that ran over");
    }

    #[test]
    fn caps_alias_expansion_per_load_across_files() {
        let budget = ExpansionBudget::new(120_000);
        let file = alias_documents(1);
        // A file that fails keeps nothing, so it charges nothing (nor do retried parses).
        let broken = format!("{file}c: [unclosed\n");
        assert!(parse_manifests(&broken, &budget).is_err());
        let retried = format!("{file}c: \"it\\'s\"\n");
        parse_manifests(&retried, &budget).unwrap();
        for _ in 0..1 {
            parse_manifests(&file, &budget).unwrap();
        }
        let err = parse_manifests(&file, &budget).unwrap_err();
        assert!(err.message.contains("most one load of the repo may add"), "{err:?}");
        assert_eq!(err.line, 3);
    }
}
