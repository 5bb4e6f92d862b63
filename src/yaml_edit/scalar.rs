//! Writing a new value in the old value's quoting style, without changing what readers see.
//!
//! Readers differ: Kubernetes (go-yaml, YAML 1.1) reads `yes` and `0644` differently from a YAML
//! 1.2 reader. So "what type does this plain scalar have" is answered conservatively: anything that
//! either spec resolves to a non-string is treated as a non-string.

use std::fmt::Write as _;

use super::source::Quoting;

/// What a plain scalar resolves to, under YAML 1.1 or 1.2 (whichever is not a string wins).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PlainType {
    Null,
    Bool,
    Int,
    Float,
    /// YAML 1.1 `!!timestamp` (`2024-01-31`, `2024-01-31T10:00:00Z`).
    Timestamp,
    /// YAML 1.1 `<<` merge key and `=` value key.
    Special,
    Str,
}

/// Where the scalar sits: inside a flow collection (`{..}`, `[..]`) or not.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Context {
    Block,
    Flow,
}

/// The new scalar text and the style it is written in.
pub(crate) fn render(
    old_value: &str,
    old: Quoting,
    new_value: &str,
    context: Context,
) -> (String, Quoting) {
    match old {
        Quoting::Plain if plain_keeps_meaning(old_value, new_value, context) => {
            (new_value.to_owned(), Quoting::Plain)
        }
        Quoting::Single if new_value.chars().all(|c| is_printable(c) && c != '\u{FEFF}') => {
            (format!("'{}'", new_value.replace('\'', "''")), Quoting::Single)
        }
        _ => (double_quoted(new_value), Quoting::Double),
    }
}

/// Whether `new` can replace the plain scalar `old` unquoted: it must be valid as a plain scalar,
/// and a reader must get what the caller meant. A value that reads as a string stays plain;
/// one that reads as a number, bool, null or date stays plain only where the old value was of
/// the same type (`replicas: 2` → `3`). Floats whose text a reader would not keep (`1.10` reads
/// as 1.1) are quoted, because such values are versions far more often than numbers.
fn plain_keeps_meaning(old: &str, new: &str, context: Context) -> bool {
    if !is_safe_plain(new) {
        return false;
    }
    // go-yaml v2 (Kubernetes) and libyaml reject `a:b` inside flow collections, although YAML
    // 1.2 allows it. Only write it where the old value already had a colon (`s3://..`), so a file
    // those readers could read stays readable.
    if context == Context::Flow && new.contains(':') && !old.contains(':') {
        return false;
    }
    match resolve_plain(new) {
        PlainType::Str => true,
        PlainType::Float => resolve_plain(old) == PlainType::Float && float_text_survives(new),
        PlainType::Special => false,
        other => resolve_plain(old) == other,
    }
}

/// `2.5` reads back as 2.5, `1.10` as 1.1, `1e3` as 1000.
fn float_text_survives(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let Some((int, frac)) = digits.split_once('.') else { return false };
    let int_ok = int == "0" || (!int.is_empty() && !int.starts_with('0'));
    int_ok
        && int.bytes().all(|b| b.is_ascii_digit())
        && !frac.is_empty()
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !frac.ends_with('0')
}

/// Whether `s`, written unquoted as a mapping value or sequence item (block or flow), parses
/// back as exactly `s`. Conservative: flow indicators are refused even where block context would
/// allow them, and so are a leading `?` or `:`, which libyaml-based readers take as indicators
/// in flow collections.
pub(crate) fn is_safe_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    let second = s.chars().nth(1);
    let indicator_ok = match first {
        '-' => second.is_some_and(|c| !matches!(c, ' ' | '\t')),
        '?' | ':' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' => false,
        _ => true,
    };
    indicator_ok
        && s.chars().all(|c| is_printable(c) && c != '\t' && c != '\u{FEFF}')
        && !s.starts_with(' ')
        && !s.ends_with(' ')
        && !s.ends_with(':')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains([',', '[', ']', '{', '}'])
        && !s.starts_with("---")
        && !s.starts_with("...")
}

/// YAML's printable set (c-printable), minus line breaks: what may appear literally in a
/// single-line scalar.
fn is_printable(c: char) -> bool {
    match c {
        '\u{A0}'..='\u{D7FF}' => !matches!(c, '\u{2028}' | '\u{2029}'),
        '\t' | '\u{20}'..='\u{7E}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}' => true,
        _ => false,
    }
}

/// `s` as a double-quoted scalar, escaping what a double-quoted scalar cannot hold literally.
pub(crate) fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{B}' => out.push_str("\\v"),
            '\u{C}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1B}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if c == '\u{FEFF}' || !is_printable(c) => {
                let code = u32::from(c);
                // Writing to a String cannot fail.
                let _ = if code <= 0xFF {
                    write!(out, "\\x{code:02X}")
                } else if code <= 0xFFFF {
                    write!(out, "\\u{code:04X}")
                } else {
                    write!(out, "\\U{code:08X}")
                };
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The type a YAML 1.1 or 1.2 reader gives the plain scalar `s`.
pub(crate) fn resolve_plain(s: &str) -> PlainType {
    if matches!(s, "" | "~" | "null" | "Null" | "NULL") {
        PlainType::Null
    } else if is_bool(s) {
        PlainType::Bool
    } else if is_int(s) {
        PlainType::Int
    } else if is_float(s) {
        PlainType::Float
    } else if is_timestamp(s) {
        PlainType::Timestamp
    } else if matches!(s, "<<" | "=") {
        PlainType::Special
    } else {
        PlainType::Str
    }
}

fn is_bool(s: &str) -> bool {
    const WORDS: [&str; 8] = ["y", "yes", "n", "no", "true", "false", "on", "off"];
    WORDS.iter().any(|w| {
        s == *w || s == w.to_uppercase() || {
            let mut chars = w.chars();
            chars
                .next()
                .is_some_and(|c| s == format!("{}{}", c.to_ascii_uppercase(), chars.as_str()))
        }
    })
}

/// Digits with YAML 1.1 `_` separators; at least one digit.
fn digits_with_underscores(s: &str, radix: u32) -> bool {
    s.chars().any(|c| c.is_digit(radix)) && s.chars().all(|c| c == '_' || c.is_digit(radix))
}

fn is_int(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if let Some(hex) = body.strip_prefix("0x") {
        return digits_with_underscores(hex, 16);
    }
    if let Some(oct) = body.strip_prefix("0o") {
        return digits_with_underscores(oct, 8);
    }
    if let Some(bin) = body.strip_prefix("0b") {
        return digits_with_underscores(bin, 2);
    }
    if body.starts_with(|c: char| c.is_ascii_digit()) && body.contains(':') {
        // YAML 1.1 sexagesimal: 190:20:30
        return body.split(':').all(|part| digits_with_underscores(part, 10));
    }
    body.starts_with(|c: char| c.is_ascii_digit()) && digits_with_underscores(body, 10)
}

fn is_float(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if matches!(body, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (body, None),
    };
    if let Some(e) = exponent {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    // YAML 1.1 sexagesimal float: 190:20:30.15
    let mantissa = match mantissa.rsplit_once(':') {
        Some((hours, last)) if hours.split(':').all(|p| digits_with_underscores(p, 10)) => last,
        Some(_) => return false,
        None => mantissa,
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let int_ok = int.is_empty() || digits_with_underscores(int, 10);
    let frac_ok = frac.is_none_or(|f| f.is_empty() || digits_with_underscores(f, 10));
    let has_digit = mantissa.bytes().any(|b| b.is_ascii_digit());
    // Without a dot or an exponent it is an int (or not a number).
    let is_fractional = frac.is_some() || exponent.is_some();
    int_ok && frac_ok && has_digit && is_fractional
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8
        && b.iter().take(4).all(u8::is_ascii_digit)
        && b.get(4) == Some(&b'-')
        && b.get(5).is_some_and(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_yaml_readers() {
        for (s, t) in [
            ("~", PlainType::Null),
            ("null", PlainType::Null),
            ("yes", PlainType::Bool),
            ("Off", PlainType::Bool),
            ("TRUE", PlainType::Bool),
            ("y", PlainType::Bool),
            ("3", PlainType::Int),
            ("-0x1F", PlainType::Int),
            ("0644", PlainType::Int),
            ("1_000", PlainType::Int),
            ("190:20:30", PlainType::Int),
            ("1.10", PlainType::Float),
            (".5", PlainType::Float),
            ("1.", PlainType::Float),
            ("1e3", PlainType::Float),
            ("-.inf", PlainType::Float),
            ("2024-01-31", PlainType::Timestamp),
            ("<<", PlainType::Special),
            ("1.2.3", PlainType::Str),
            ("v1.10", PlainType::Str),
            ("e3", PlainType::Str),
            ("cafe", PlainType::Str),
            ("yes please", PlainType::Str),
            ("1.0.0-rc1", PlainType::Str),
            ("12:xx", PlainType::Str),
            ("sha256:abc", PlainType::Str),
            (".", PlainType::Str),
            ("-", PlainType::Str),
        ] {
            assert_eq!(resolve_plain(s), t, "{s}");
        }
    }

    #[test]
    fn plain_values_are_quoted_when_they_would_change_meaning() {
        let plain = |old: &str, new: &str| render(old, Quoting::Plain, new, Context::Block);
        assert_eq!(plain("v1.9", "v1.10"), ("v1.10".into(), Quoting::Plain));
        assert_eq!(plain("v1.9", "1.10"), ("\"1.10\"".into(), Quoting::Double));
        assert_eq!(plain("1.9", "1.10"), ("\"1.10\"".into(), Quoting::Double));
        assert_eq!(plain("0.5", "0.75"), ("0.75".into(), Quoting::Plain));
        assert_eq!(plain("2", "3"), ("3".into(), Quoting::Plain));
        assert_eq!(plain("yes", "no"), ("no".into(), Quoting::Plain));
        assert_eq!(plain("abc", "yes"), ("\"yes\"".into(), Quoting::Double));
        assert_eq!(plain("abc", "null"), ("\"null\"".into(), Quoting::Double));
        assert_eq!(plain("abc", "a: b"), ("\"a: b\"".into(), Quoting::Double));
        assert_eq!(plain("abc", ""), ("\"\"".into(), Quoting::Double));
        assert_eq!(plain("abc", "-x"), ("-x".into(), Quoting::Plain));
        assert_eq!(plain("abc", "- x"), ("\"- x\"".into(), Quoting::Double));
        assert_eq!(plain("abc", "a,b"), ("\"a,b\"".into(), Quoting::Double));
        assert_eq!(plain("abc", "?x"), ("\"?x\"".into(), Quoting::Double));
        assert_eq!(plain("abc", "a:b"), ("a:b".into(), Quoting::Plain));
        let flow = |old: &str, new: &str| render(old, Quoting::Plain, new, Context::Flow);
        assert_eq!(flow("abc", "a:b"), ("\"a:b\"".into(), Quoting::Double));
        assert_eq!(flow("s3://a", "s3://b"), ("s3://b".into(), Quoting::Plain));
    }

    #[test]
    fn quoted_styles_escape_their_quotes() {
        assert_eq!(
            render("x", Quoting::Single, "it's", Context::Block),
            ("'it''s'".into(), Quoting::Single)
        );
        assert_eq!(
            render("x", Quoting::Single, "a\nb", Context::Block),
            ("\"a\\nb\"".into(), Quoting::Double)
        );
        assert_eq!(
            render("x", Quoting::Double, "say \"hi\" \\ o/", Context::Block),
            (r#""say \"hi\" \\ o/""#.into(), Quoting::Double)
        );
        assert_eq!(double_quoted("\u{1}\u{85}\u{FEFF}é"), "\"\\x01\\N\\uFEFFé\"");
    }
}
