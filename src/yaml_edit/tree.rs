//! The parsed file: saphyr's event stream plus a flat node arena over it, and path lookup.
//!
//! The arena is flat (children are indexes, not boxes) and built without recursion, so a hostile
//! file with deep nesting cannot overflow the stack on build or on drop.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::error::YamlEditError;
use super::path::{Segment, YamlPath};

/// Index into [`Tree::nodes`].
pub(crate) type NodeId = usize;

#[derive(Debug)]
pub(crate) enum Kind {
    Scalar,
    Mapping(Vec<(NodeId, NodeId)>),
    Sequence(Vec<NodeId>),
    /// An alias, with the anchor id it refers to.
    Alias(usize),
}

#[derive(Debug)]
pub(crate) struct Node {
    /// Index into [`Tree::events`] of the event that starts this node.
    pub event: usize,
    pub kind: Kind,
    /// The mapping or sequence holding this node.
    pub parent: Option<NodeId>,
}

pub(crate) struct Tree<'a> {
    /// The text the events were parsed from.
    pub source: &'a str,
    pub events: Vec<(Event<'a>, Span)>,
    pub nodes: Vec<Node>,
    pub documents: Vec<Document>,
    /// Anchor id → the node it is attached to.
    anchors: HashMap<usize, NodeId>,
}

/// One `---`-separated document.
pub(crate) struct Document {
    /// Root node (`None` only for a document without content, which the parser does not produce
    /// in practice but the arena does not rely on).
    pub root: Option<NodeId>,
    /// 1-based line where the document starts (its `---`, or its first content).
    pub line: usize,
}

/// Where a path lookup ended.
pub(crate) enum Lookup {
    /// The node, and the line to report for it: the line of the key or item that leads to it.
    Found { id: NodeId, line: usize },
    /// A segment did not exist; `parent_len` segments did.
    Missing { parent_len: usize, parent_line: usize, reason: String },
}

/// Whether lookups may pass through aliases (reading) or must refuse them (editing).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aliases {
    Follow,
    Refuse,
}

enum Frame {
    Mapping { id: NodeId, entries: Vec<(NodeId, NodeId)>, key: Option<NodeId> },
    Sequence { id: NodeId, items: Vec<NodeId> },
}

/// Parses the whole stream; the first syntax error fails the parse.
pub(crate) fn parse_events(text: &str) -> Result<Vec<(Event<'_>, Span)>, YamlEditError> {
    let mut events = Vec::new();
    for item in Parser::new_from_str(text) {
        match item {
            Ok(event) => events.push(event),
            Err(e) => {
                return Err(YamlEditError::Syntax {
                    line: e.marker().line(),
                    column: e.marker().col() + 1,
                    message: e.info().to_owned(),
                });
            }
        }
    }
    Ok(events)
}

impl<'a> Tree<'a> {
    pub(crate) fn parse(text: &'a str) -> Result<Self, YamlEditError> {
        Ok(Self::build(parse_events(text)?, text))
    }

    pub(crate) fn build(events: Vec<(Event<'a>, Span)>, source: &'a str) -> Self {
        let mut nodes: Vec<Node> = Vec::new();
        let mut documents = Vec::new();
        let mut anchors = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut root: Option<NodeId> = None;
        let mut document_line = 1;

        for (index, (event, span)) in events.iter().enumerate() {
            let (kind, anchor) = match event {
                Event::DocumentStart(_) => {
                    root = None;
                    document_line = span.start.line();
                    stack.clear();
                    continue;
                }
                Event::DocumentEnd => {
                    documents.push(Document { root: root.take(), line: document_line });
                    continue;
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    match stack.pop() {
                        Some(Frame::Mapping { id, entries, .. }) => {
                            if let Some(node) = nodes.get_mut(id) {
                                node.kind = Kind::Mapping(entries);
                            }
                        }
                        Some(Frame::Sequence { id, items }) => {
                            if let Some(node) = nodes.get_mut(id) {
                                node.kind = Kind::Sequence(items);
                            }
                        }
                        None => {}
                    }
                    continue;
                }
                Event::Nothing | Event::StreamStart | Event::StreamEnd => continue,
                Event::Scalar(_, _, anchor, _) => (Kind::Scalar, *anchor),
                Event::Alias(anchor) => (Kind::Alias(*anchor), 0),
                Event::MappingStart(anchor, _) => (Kind::Mapping(Vec::new()), *anchor),
                Event::SequenceStart(anchor, _) => (Kind::Sequence(Vec::new()), *anchor),
            };
            let id = nodes.len();
            let opens = match kind {
                Kind::Mapping(_) => Some(Frame::Mapping { id, entries: Vec::new(), key: None }),
                Kind::Sequence(_) => Some(Frame::Sequence { id, items: Vec::new() }),
                Kind::Scalar | Kind::Alias(_) => None,
            };
            let parent = stack.last().map(|frame| match frame {
                Frame::Mapping { id, .. } | Frame::Sequence { id, .. } => *id,
            });
            nodes.push(Node { event: index, kind, parent });
            if anchor != 0 {
                anchors.insert(anchor, id);
            }
            match stack.last_mut() {
                None => root = Some(id),
                Some(Frame::Mapping { entries, key, .. }) => match key.take() {
                    None => *key = Some(id),
                    Some(k) => entries.push((k, id)),
                },
                Some(Frame::Sequence { items, .. }) => items.push(id),
            }
            if let Some(frame) = opens {
                stack.push(frame);
            }
        }
        Self { source, events, nodes, documents, anchors }
    }

    pub(crate) fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    pub(crate) fn event(&self, id: NodeId) -> Option<&(Event<'a>, Span)> {
        self.node(id).and_then(|n| self.events.get(n.event))
    }

    /// 1-based line where the node starts (its anchor or tag, if it has one).
    pub(crate) fn line(&self, id: NodeId) -> usize {
        self.event(id).map_or(1, |(_, span)| span.start.line())
    }

    /// The scalar's value and style, if the node is a scalar.
    pub(crate) fn scalar(&self, id: NodeId) -> Option<(&str, ScalarStyle)> {
        match self.event(id) {
            Some((Event::Scalar(value, style, ..), _)) => Some((value, *style)),
            _ => None,
        }
    }

    /// Whether the node sits inside a flow collection. A flow collection's start event ends
    /// with its `{` or `[`; a block collection's ends at its first entry.
    pub(crate) fn in_flow(&self, id: NodeId) -> bool {
        let Some((_, span)) = self.node(id).and_then(|n| n.parent).and_then(|p| self.event(p))
        else {
            return false;
        };
        span.end
            .index()
            .checked_sub(1)
            .and_then(|last| super::source::byte_offset(self.source, last))
            .and_then(|b| self.source.get(b..))
            .is_some_and(|rest| rest.starts_with(['{', '[']))
    }

    /// The node an alias refers to.
    pub(crate) fn alias_target(&self, anchor: usize) -> Option<NodeId> {
        self.anchors.get(&anchor).copied()
    }

    /// Follows an alias to its anchored node; other nodes are returned as they are.
    fn dealias(&self, id: NodeId) -> NodeId {
        match self.node(id).map(|n| &n.kind) {
            Some(Kind::Alias(anchor)) => self.alias_target(*anchor).unwrap_or(id),
            _ => id,
        }
    }

    /// Root node of a document, or the `DocumentNotFound` error.
    pub(crate) fn document_root(&self, path: &YamlPath) -> Result<Option<NodeId>, YamlEditError> {
        match self.documents.get(path.document) {
            Some(document) => Ok(document.root),
            None => Err(YamlEditError::DocumentNotFound {
                path: path.clone(),
                count: self.documents.len(),
            }),
        }
    }

    /// Walks `path` from its document's root.
    pub(crate) fn lookup(
        &self,
        path: &YamlPath,
        aliases: Aliases,
    ) -> Result<Lookup, YamlEditError> {
        let Some(mut current) = self.document_root(path)? else {
            return Ok(Lookup::Missing {
                parent_len: 0,
                parent_line: 1,
                reason: "the document is empty".to_owned(),
            });
        };
        // The line to report for the current node: the line of the key or item that led there.
        let mut current_line = self.line(current);
        for (depth, segment) in path.segments.iter().enumerate() {
            if let Some(Kind::Alias(_)) = self.node(current).map(|n| &n.kind) {
                if aliases == Aliases::Refuse {
                    return Err(YamlEditError::AliasInPath {
                        path: path.clone(),
                        through: path.prefix(depth),
                        line: self.line(current),
                    });
                }
                current = self.dealias(current);
            }
            let missing = |reason: String| Lookup::Missing {
                parent_len: depth,
                parent_line: current_line,
                reason,
            };
            let kind = self.node(current).map(|n| &n.kind);
            match (segment, kind) {
                (Segment::Key(key), Some(Kind::Mapping(entries))) => {
                    let mut found: Option<(NodeId, NodeId)> = None;
                    for &(k, v) in entries {
                        if self.scalar(self.dealias(k)).is_some_and(|(value, _)| value == key) {
                            if let Some((first, _)) = found {
                                return Err(YamlEditError::DuplicateKey {
                                    path: path.clone(),
                                    key: key.clone(),
                                    first_line: self.line(first),
                                    line: self.line(k),
                                });
                            }
                            found = Some((k, v));
                        }
                    }
                    let Some((k, v)) = found else {
                        let merge = entries
                            .iter()
                            .any(|&(k, _)| self.scalar(k).is_some_and(|(value, _)| value == "<<"));
                        let note = if merge {
                            " (values inherited through a `<<` merge key are not reachable by path: \
                             edit the merged mapping instead)"
                        } else {
                            ""
                        };
                        return Ok(missing(format!("the mapping has no key `{key}`{note}")));
                    };
                    current_line = self.line(k);
                    current = v;
                }
                (Segment::Index(index), Some(Kind::Sequence(items))) => {
                    let Some(&item) = items.get(*index) else {
                        return Ok(missing(format!(
                            "index {index} is past the end of the sequence ({} item(s))",
                            items.len()
                        )));
                    };
                    current_line = self.line(item);
                    current = item;
                }
                (segment, kind) => {
                    let wanted = match segment {
                        Segment::Key(key) => format!("key `{key}` was asked for"),
                        Segment::Index(index) => format!("index {index} was asked for"),
                    };
                    let found = match kind {
                        Some(Kind::Mapping(_)) => "a mapping",
                        Some(Kind::Sequence(_)) => "a sequence",
                        _ => "a single value",
                    };
                    return Ok(missing(format!("{wanted} but the parent is {found}")));
                }
            }
        }
        Ok(Lookup::Found { id: current, line: current_line })
    }

    /// Follows an alias at the end of a lookup when reading.
    pub(crate) fn resolve_for_read(&self, id: NodeId) -> NodeId {
        self.dealias(id)
    }
}
