//! Reading and rewriting scalars in place, with a re-parse check before anything is returned.

use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, ScalarStyle};

use super::error::YamlEditError;
use super::path::YamlPath;
use super::scalar::{Context, render};
use super::source::{Quoting, byte_offset, scalar_text};
use super::tree::{Aliases, Kind, Lookup, NodeId, Tree, parse_events};

/// The value of the scalar at `path` (unquoted, escapes resolved, as a YAML reader sees it).
///
/// Reading follows aliases (`*x` reads the anchored value). `Ok(None)` when the path does not
/// exist in the document; an error when the document itself does not exist, the path ends on a
/// mapping or sequence, a key on the path is duplicated, or the text is not YAML.
pub fn get_scalar(text: &str, path: &YamlPath) -> Result<Option<String>, YamlEditError> {
    let tree = Tree::parse(text)?;
    match tree.lookup(path, Aliases::Follow)? {
        Lookup::Missing { .. } => Ok(None),
        Lookup::Found { id, line } => {
            let id = tree.resolve_for_read(id);
            match tree.scalar(id) {
                Some((value, _)) => Ok(Some(value.to_owned())),
                None => Err(not_a_scalar(&tree, id, path, line)),
            }
        }
    }
}

/// Sets one scalar; see [`set_scalars`].
pub fn set_scalar(text: &str, path: &YamlPath, value: &str) -> Result<String, YamlEditError> {
    set_scalars(text, &[(path.clone(), value.to_owned())])
}

/// Rewrites the scalars at the given paths and returns the new text; every other byte is kept.
///
/// All or nothing: if any path cannot be edited, nothing is. Each new value is written in the old
/// value's style (see the [module docs](super) for when a plain value gets quoted). Setting a value
/// to what it already is changes nothing, so a call where all values are unchanged returns the
/// input byte for byte. Before returning, the new text is parsed again and must produce the same
/// event stream as the old one except for the edited values, which must read back as the new
/// values; otherwise [`YamlEditError::Unverified`] is returned.
pub fn set_scalars(text: &str, edits: &[(YamlPath, String)]) -> Result<String, YamlEditError> {
    let tree = Tree::parse(text)?;
    let mut planned: Vec<Planned<'_>> = Vec::new();
    let mut seen: HashMap<NodeId, (&YamlPath, &str)> = HashMap::new();
    for (path, value) in edits {
        let id = editable_target(&tree, path)?;
        if let Some(&(first_path, first_value)) = seen.get(&id) {
            if first_value != value {
                return Err(YamlEditError::ConflictingEdits {
                    path: first_path.clone(),
                    first: first_value.to_owned(),
                    second: value.clone(),
                });
            }
            continue;
        }
        seen.insert(id, (path, value));
        if let Some(edit) = plan(text, &tree, id, path, value)? {
            planned.push(edit);
        }
    }
    if planned.is_empty() {
        return Ok(text.to_owned());
    }
    // Right to left, so earlier offsets stay valid while later text is replaced.
    planned.sort_by_key(|p| std::cmp::Reverse(p.range.start));
    let mut out = text.to_owned();
    let mut limit = text.len();
    for edit in &planned {
        if edit.range.end > limit || out.get(edit.range.clone()).is_none() {
            return Err(unverified(edit.path, "two edited values overlapping in the source"));
        }
        limit = edit.range.start;
        out.replace_range(edit.range.clone(), &edit.replacement);
    }
    verify(&tree, &out, &planned)?;
    Ok(out)
}

/// One replacement to make.
struct Planned<'e> {
    path: &'e YamlPath,
    value: &'e str,
    /// Index of the scalar's event in the stream.
    event: usize,
    /// Byte range of the old scalar text (quotes included, anchor and tag excluded).
    range: Range<usize>,
    replacement: String,
    style: ScalarStyle,
}

/// The node at `path`, if it is a scalar that can be rewritten in place.
fn editable_target(tree: &Tree<'_>, path: &YamlPath) -> Result<NodeId, YamlEditError> {
    let (id, line) = match tree.lookup(path, Aliases::Refuse)? {
        Lookup::Found { id, line } => (id, line),
        Lookup::Missing { parent_len, parent_line, reason } => {
            return Err(YamlEditError::PathNotFound {
                path: path.clone(),
                parent: path.prefix(parent_len),
                line: parent_line,
                reason,
            });
        }
    };
    match tree.node(id).map(|n| &n.kind) {
        Some(Kind::Alias(anchor)) => {
            let target = tree.alias_target(*anchor);
            let name = tree
                .event(id)
                .and_then(|(_, span)| alias_name(tree, span.start.index(), span.end.index()))
                .unwrap_or_default();
            Err(YamlEditError::AliasValue {
                path: path.clone(),
                line,
                name,
                anchor_line: target.map_or(0, |t| tree.line(t)),
            })
        }
        Some(Kind::Scalar) => match tree.scalar(id) {
            Some((_, ScalarStyle::Literal | ScalarStyle::Folded)) => {
                Err(YamlEditError::BlockScalar { path: path.clone(), line })
            }
            Some(("", ScalarStyle::Plain)) => {
                Err(YamlEditError::EmptyValue { path: path.clone(), line })
            }
            _ => Ok(id),
        },
        _ => Err(not_a_scalar(tree, id, path, line)),
    }
}

/// The alias's name from its source text (`*name` → `name`). The tree does not keep the source,
/// so the name is rebuilt from the event's character span.
fn alias_name(tree: &Tree<'_>, start: usize, end: usize) -> Option<String> {
    let source = tree.source;
    let (start, end) = (byte_offset(source, start)?, byte_offset(source, end)?);
    source.get(start..end).map(|s| s.trim_start_matches('*').trim_end().to_owned())
}

fn not_a_scalar(tree: &Tree<'_>, id: NodeId, path: &YamlPath, line: usize) -> YamlEditError {
    let found = match tree.node(id).map(|n| &n.kind) {
        Some(Kind::Sequence(_)) => "sequence",
        _ => "mapping",
    };
    YamlEditError::NotAScalar { path: path.clone(), line, found }
}

/// The replacement for one scalar, or `None` when the value is unchanged.
fn plan<'e>(
    text: &str,
    tree: &Tree<'_>,
    id: NodeId,
    path: &'e YamlPath,
    value: &'e str,
) -> Result<Option<Planned<'e>>, YamlEditError> {
    let Some(node) = tree.node(id) else {
        return Err(unverified(path, "a node that is not in the parsed file"));
    };
    let Some((Event::Scalar(old, style, anchor, tag), span)) = tree.events.get(node.event) else {
        return Err(unverified(path, "a node that is not a scalar"));
    };
    if old == value {
        return Ok(None);
    }
    let quoting = match style {
        ScalarStyle::Plain => Quoting::Plain,
        ScalarStyle::SingleQuoted => Quoting::Single,
        ScalarStyle::DoubleQuoted => Quoting::Double,
        ScalarStyle::Literal | ScalarStyle::Folded => {
            return Err(YamlEditError::BlockScalar { path: path.clone(), line: tree.line(id) });
        }
    };
    let line = span.start.line();
    let range = byte_offset(text, span.start.index())
        .zip(byte_offset(text, span.end.index()))
        .and_then(|(start, end)| {
            scalar_text(text, start..end, *anchor != 0 || tag.is_some(), quoting)
        })
        .ok_or_else(|| unverified(path, &format!("no readable value text at line {line}")))?;
    let context = if tree.in_flow(id) { Context::Flow } else { Context::Block };
    let (replacement, quoting) = render(old, quoting, value, context);
    let style = match quoting {
        Quoting::Plain => ScalarStyle::Plain,
        Quoting::Single => ScalarStyle::SingleQuoted,
        Quoting::Double => ScalarStyle::DoubleQuoted,
    };
    Ok(Some(Planned { path, value, event: node.event, range, replacement, style }))
}

/// Parses the edited text and compares it with the original, event by event.
fn verify(old: &Tree<'_>, new_text: &str, planned: &[Planned<'_>]) -> Result<(), YamlEditError> {
    let Some(first) = planned.first() else { return Ok(()) };
    let new_events = parse_events(new_text)
        .map_err(|e| unverified(first.path, &format!("invalid YAML ({e})")))?;
    if new_events.len() != old.events.len() {
        return Err(unverified(
            first.path,
            &format!("{} parser events instead of {}", new_events.len(), old.events.len()),
        ));
    }
    let by_event: HashMap<usize, &Planned<'_>> = planned.iter().map(|p| (p.event, p)).collect();
    for (index, ((old_event, _), (new_event, new_span))) in
        old.events.iter().zip(&new_events).enumerate()
    {
        match by_event.get(&index) {
            Some(edit) => {
                let ok = match (old_event, new_event) {
                    (
                        Event::Scalar(_, _, old_anchor, old_tag),
                        Event::Scalar(value, style, anchor, tag),
                    ) => {
                        value == edit.value
                            && *style == edit.style
                            && anchor == old_anchor
                            && tag == old_tag
                    }
                    _ => false,
                };
                if !ok {
                    return Err(unverified(
                        edit.path,
                        &format!("the new value read back as {new_event:?}"),
                    ));
                }
            }
            None if old_event == new_event => {}
            None => {
                return Err(unverified(
                    first.path,
                    &format!("an unrequested change at line {}", new_span.start.line()),
                ));
            }
        }
    }
    let new_tree = Tree::build(new_events, new_text);
    for edit in planned {
        let read_back = match new_tree.lookup(edit.path, Aliases::Refuse) {
            Ok(Lookup::Found { id, .. }) => new_tree.scalar(id).map(|(v, _)| v.to_owned()),
            _ => None,
        };
        if read_back.as_deref() != Some(edit.value) {
            return Err(unverified(edit.path, &format!("{read_back:?} at the edited path")));
        }
    }
    Ok(())
}

fn unverified(path: &YamlPath, problem: &str) -> YamlEditError {
    YamlEditError::Unverified { path: path.clone(), problem: problem.to_owned() }
}
