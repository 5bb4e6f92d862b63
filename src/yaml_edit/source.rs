//! From parser positions to byte ranges of the source text.
//!
//! saphyr-parser counts positions in characters (a CRLF is two characters, a BOM is one), Rust
//! slices in bytes; and a scalar event's span starts at its anchor or tag, while quoted scalars'
//! spans may run past the closing quote over trailing blanks. So the exact text of a scalar is
//! found here by reading the source from the span's start.

use std::ops::Range;

/// Byte offset of the `index`-th character; `text.len()` for the position just past the end.
pub(crate) fn byte_offset(text: &str, index: usize) -> Option<usize> {
    if text.is_ascii() {
        return (index <= text.len()).then_some(index);
    }
    text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len())).nth(index)
}

/// How the scalar whose text is located is written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Quoting {
    Plain,
    Single,
    Double,
}

/// The byte range of a scalar's own text (quotes included, anchor and tag excluded), given its
/// span as byte offsets. `None` when the source does not look as expected; callers refuse the
/// edit then.
pub(crate) fn scalar_text(
    text: &str,
    span: Range<usize>,
    has_properties: bool,
    quoting: Quoting,
) -> Option<Range<usize>> {
    let mut start = span.start;
    if has_properties {
        start = skip_properties(text, start)?;
    }
    let rest = text.get(start..)?;
    let end = match quoting {
        Quoting::Plain => {
            // Plain scalars never end in blanks; trim in case the span included some.
            let raw = text.get(start..span.end)?;
            start + raw.trim_end_matches([' ', '\t', '\r', '\n']).len()
        }
        Quoting::Single => start + single_quoted_len(rest)?,
        Quoting::Double => start + double_quoted_len(rest)?,
    };
    (start < end && end <= span.end.max(start)).then_some(start..end)
}

/// Skips `&anchor`, `!tag` and the blanks, line breaks and comments between them and the value.
fn skip_properties(text: &str, mut pos: usize) -> Option<usize> {
    loop {
        let rest = text.get(pos..)?;
        let mut chars = rest.chars();
        match chars.next()? {
            '&' => {
                let name_len: usize = rest
                    .chars()
                    .skip(1)
                    .take_while(|&c| !is_blank_or_break(c) && !is_flow_indicator(c))
                    .map(char::len_utf8)
                    .sum();
                pos += 1 + name_len;
            }
            '!' if chars.next() == Some('<') => {
                pos += rest.find('>')? + 1;
            }
            '!' => {
                let len: usize = rest
                    .chars()
                    .take_while(|&c| !is_blank_or_break(c) && !is_flow_indicator(c))
                    .map(char::len_utf8)
                    .sum();
                pos += len;
            }
            _ => return None,
        }
        pos = skip_separation(text, pos)?;
        match text.get(pos..)?.chars().next() {
            Some('&' | '!') => {}
            _ => return Some(pos),
        }
    }
}

/// Skips blanks, line breaks and `#` comments.
fn skip_separation(text: &str, mut pos: usize) -> Option<usize> {
    loop {
        let rest = text.get(pos..)?;
        match rest.chars().next() {
            Some(' ' | '\t' | '\r' | '\n') => pos += 1,
            Some('#') => pos += rest.find(['\r', '\n']).unwrap_or(rest.len()),
            _ => return Some(pos),
        }
    }
}

/// Length in bytes of the single-quoted scalar at the start of `s`, quotes included.
fn single_quoted_len(s: &str) -> Option<usize> {
    let mut chars = s.char_indices().peekable();
    if chars.next()?.1 != '\'' {
        return None;
    }
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().is_some_and(|&(_, next)| next == '\'') {
                chars.next();
            } else {
                return Some(i + 1);
            }
        }
    }
    None
}

/// Length in bytes of the double-quoted scalar at the start of `s`, quotes included.
fn double_quoted_len(s: &str) -> Option<usize> {
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

fn is_blank_or_break(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_flow_indicator(c: char) -> bool {
    matches!(c, ',' | '[' | ']' | '{' | '}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_offsets_count_characters() {
        let text = "é: ü\r\nx";
        assert_eq!(byte_offset(text, 0), Some(0));
        assert_eq!(byte_offset(text, 1), Some(2));
        assert_eq!(byte_offset(text, 3), Some(4));
        assert_eq!(byte_offset(text, 7), Some(text.len()));
        assert_eq!(byte_offset(text, 8), None);
        assert_eq!(byte_offset("ab", 2), Some(2));
        assert_eq!(byte_offset("ab", 3), None);
    }

    #[test]
    fn finds_quoted_text_and_skips_properties() {
        let text = r#"k: &a !t "x\" y"  # c"#;
        let span = 3..text.len();
        let range = scalar_text(text, span, true, Quoting::Double);
        assert_eq!(range.and_then(|r| text.get(r)), Some(r#""x\" y""#));

        let text = "k: &a # note\n  'it''s' ";
        let range = scalar_text(text, 3..text.len(), true, Quoting::Single);
        assert_eq!(range.and_then(|r| text.get(r)), Some("'it''s'"));

        let text = "k: !<tag:x> plain  ";
        let range = scalar_text(text, 3..text.len(), true, Quoting::Plain);
        assert_eq!(range.and_then(|r| text.get(r)), Some("plain"));
    }

    #[test]
    fn refuses_unexpected_source() {
        assert_eq!(scalar_text("'open", 0..5, false, Quoting::Single), None);
        assert_eq!(scalar_text("\"a\\\"", 0..4, false, Quoting::Double), None);
        assert_eq!(scalar_text("x", 0..0, false, Quoting::Plain), None);
        assert_eq!(scalar_text("&a", 0..2, true, Quoting::Plain), None);
    }
}
