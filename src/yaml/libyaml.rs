//! Where go-yaml v2's scanner (a port of libyaml, YAML 1.1) and saphyr (YAML 1.2) disagree on
//! syntax, manifests follow go-yaml, as `kubectl` does. Found by `tests/yaml_fidelity.rs`:
//!
//! - go-yaml reads `\'` in double quotes as `'` and has no `\/`; saphyr the other way round.
//! - go-yaml takes tabs after a key's `:` as separation; saphyr refuses them. go-yaml refuses a
//!   tab right after a block entry `- ` or an explicit key's `:`, which saphyr accepts.
//! - Anchor and alias names are letters, digits, `-` and `_` only in go-yaml (`&a.b` fails).
//! - Inside `[ ]` and `{ }`, go-yaml ends a plain scalar at `?` and takes a leading `:` for a
//!   value indicator (it then fails, or builds another structure); saphyr keeps the scalar.
//!
//! The first two are bridged by rewriting the text and parsing again (saphyr reports the spot;
//! the rewrite keeps every line, so positions stay right); the others are checked on the source
//! of the events saphyr reports, and refused with a line.

use super::YamlError;
use super::problem::Problem;
use saphyr_parser::Span;

/// Parses retried after a rewrite, at most; beyond that saphyr's error stands.
pub const MAX_REWRITES: usize = 64;

/// The text with the construct go-yaml accepts at `error` rewritten so saphyr reads it the same
/// way, or `None` when the error is a real one.
pub fn rewrite_for_retry(text: &str, error: &YamlError) -> Option<String> {
    let at = byte_of_position(text, error.line, error.column)?;
    if error.message.contains("unknown escape character") {
        // saphyr points at the opening quote of the scalar.
        rewrite_single_quote_escapes(text, at)
    } else if error.message.contains("':' must be followed by a valid YAML whitespace") {
        // saphyr points just past the tabs.
        rewrite_tabs_after_colon(text, at)
    } else {
        None
    }
}

/// The byte offset of a 1-based line and column (in characters).
fn byte_of_position(text: &str, line: u32, column: u32) -> Option<usize> {
    let line_start = match line {
        0 => return None,
        1 => 0,
        _ => text.match_indices('\n').nth(usize::try_from(line).ok()? - 2)?.0 + 1,
    };
    let column = usize::try_from(column).ok()?.checked_sub(1)?;
    let rest = &text[line_start..];
    Some(line_start + rest.char_indices().nth(column).map_or(rest.len(), |(at, _)| at))
}

/// `\'` becomes `\x27` in the double-quoted scalar opening at `start`.
fn rewrite_single_quote_escapes(text: &str, start: usize) -> Option<String> {
    let scalar = text[start..].strip_prefix('"')?;
    let mut found = Vec::new();
    let mut chars = scalar.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => break,
            '\\' => {
                if let Some((_, '\'')) = chars.next() {
                    found.push(start + 1 + at);
                }
            }
            _ => {}
        }
    }
    if found.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 2 * found.len());
    let mut from = 0;
    for at in found {
        out.push_str(&text[from..at]);
        out.push_str("\\x27");
        from = at + 2;
    }
    out.push_str(&text[from..]);
    Some(out)
}

/// The tabs between a `:` and `end` become spaces (same length: nothing moves).
fn rewrite_tabs_after_colon(text: &str, end: usize) -> Option<String> {
    let bytes = text.as_bytes();
    let mut start = end;
    while start > 0 && matches!(bytes[start - 1], b' ' | b'\t') {
        start -= 1;
    }
    if start == 0 || bytes[start - 1] != b':' || !bytes[start..end].contains(&b'\t') {
        return None;
    }
    // After an explicit key's `:` (first on its line) go-yaml refuses the tab too.
    let line = text[..start - 1].rsplit('\n').next().unwrap_or_default();
    if line.trim_start_matches(' ').is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start]);
    out.push_str(&text[start..end].replace('\t', " "));
    out.push_str(&text[end..]);
    Some(out)
}

/// The source of a stream, for checks on what saphyr's events do not carry.
pub struct Source<'t> {
    text: &'t str,
    /// A character index and its byte offset: saphyr counts characters, and asks in order.
    chars: usize,
    bytes: usize,
    slash_escapes: bool,
    tabs: bool,
}

impl<'t> Source<'t> {
    pub fn new(text: &'t str) -> Self {
        Self {
            text,
            chars: 0,
            bytes: 0,
            slash_escapes: text.contains("\\/"),
            tabs: text.contains('\t'),
        }
    }

    pub fn has_tabs(&self) -> bool {
        self.tabs
    }

    fn byte_at(&mut self, chars: usize) -> usize {
        if chars < self.chars {
            (self.chars, self.bytes) = (0, 0);
        }
        let rest = &self.text[self.bytes..];
        self.bytes += rest.char_indices().nth(chars - self.chars).map_or(rest.len(), |(at, _)| at);
        self.chars = chars;
        self.bytes
    }

    fn slice(&mut self, span: Span) -> &'t str {
        let start = self.byte_at(span.start.index());
        let end = self.byte_at(span.end.index()).max(start);
        &self.text[start..end]
    }

    /// Whether a collection whose start event has `span` is a flow one: the span ends just
    /// after its `[` or `{` (a block collection's span is empty or ends before its first node).
    pub fn opens_flow(&mut self, span: Span) -> bool {
        span.end.index() > span.start.index()
            && matches!(self.slice(span).chars().next_back(), Some('[' | '{'))
    }

    /// A double-quoted scalar must not use `\/`.
    pub fn check_double_quoted(&mut self, span: Span) -> Result<(), Problem> {
        if !self.slash_escapes {
            return Ok(());
        }
        let mut chars = self.slice(span).chars();
        while let Some(c) = chars.next() {
            if c == '\\' && chars.next() == Some('/') {
                return Err(Problem::SlashEscape);
            }
        }
        Ok(())
    }

    /// The anchor (`&name`) among the properties a node's span starts with must be a name
    /// go-yaml can scan.
    pub fn check_anchor(&mut self, span: Span) -> Result<(), Problem> {
        let properties = self.slice(span);
        let name = properties
            .split_whitespace()
            .take_while(|token| token.starts_with(['&', '!']))
            .find_map(|token| token.strip_prefix('&'));
        name.map_or(Ok(()), |name| check_name("anchor", name))
    }

    /// An alias's name (`*name`, its whole span) must be a name go-yaml can scan.
    pub fn check_alias(&mut self, span: Span) -> Result<(), Problem> {
        let text = self.slice(span);
        check_name("alias", text.strip_prefix('*').unwrap_or(text).trim_end())
    }

    /// go-yaml refuses a tab between a block entry's `-` (or an explicit key's `:`, first on
    /// its line) and the node after it: a simple key may start there, and keys cannot follow
    /// tabs. Implicit keys' `:` may be followed by tabs.
    pub fn check_tab_after_indicator(&mut self, span: Span, entry: bool) -> Result<(), Problem> {
        if !self.tabs {
            return Ok(());
        }
        let before = &self.text[..self.byte_at(span.start.index())];
        let indicator = before.trim_end_matches([' ', '\t']);
        if !before[indicator.len()..].contains('\t') {
            return Ok(());
        }
        let refused = if entry {
            indicator.ends_with('-')
        } else {
            indicator.strip_suffix(':').is_some_and(|rest| {
                rest.rsplit('\n').next().is_some_and(|line| line.trim_start_matches(' ').is_empty())
            })
        };
        if refused {
            let indicator = if entry { '-' } else { ':' };
            return Err(Problem::TabAfterIndicator { indicator });
        }
        Ok(())
    }
}

/// A plain scalar go-yaml would not read as one inside a flow collection.
pub fn check_flow_plain(text: &str) -> Result<(), Problem> {
    if text.contains('?') || text.starts_with(':') {
        return Err(Problem::FlowIndicator { text: text.to_owned() });
    }
    Ok(())
}

fn check_name(what: &'static str, name: &str) -> Result<(), Problem> {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        return Ok(());
    }
    Err(Problem::AnchorName { what, name: name.to_owned() })
}
