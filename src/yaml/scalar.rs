//! What a scalar means: the YAML 1.2 core schema for Coxswain's own files, and go-yaml v2's
//! YAML 1.1 rules plus sigs.k8s.io/yaml's JSON conversion for manifests, so a manifest means to
//! Coxswain exactly what it means to `kubectl apply`.
//!
//! The kubectl rules are a port of go-yaml v2's `resolve.go` and `decode.go` (decoding into an
//! `interface{}`), of `strconv.ParseInt`/`ParseFloat` as `resolve` calls them, of
//! sigs.k8s.io/yaml's `convertToJSONableObject` (map keys become strings) and of
//! `encoding/json` (no NaN or infinities; invalid UTF-8 becomes U+FFFD). Notable consequences:
//! `yes`/`on`/`y` are booleans, `0400` is octal (256), `1_000` is 1000, `1:30` stays a string
//! (go-yaml v2 does not do base 60), timestamps stay strings, and `1.0` reaches the server as 1.
//! `tests/yaml_fidelity.rs` checks all of it against go-yaml v2 itself.

use super::problem::Problem;
use saphyr_parser::ScalarStyle;
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::fmt::Write as _;

/// How scalars are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// YAML 1.2 core schema; keys are the scalar's text. For `env.yaml`, pipelines and specs.
    Core,
    /// go-yaml v2 + sigs.k8s.io/yaml, as `kubectl` reads manifests.
    Kubectl,
}

const STR: &str = "tag:yaml.org,2002:str";
const BOOL: &str = "tag:yaml.org,2002:bool";
const INT: &str = "tag:yaml.org,2002:int";
const FLOAT: &str = "tag:yaml.org,2002:float";
const NULL: &str = "tag:yaml.org,2002:null";
const TIMESTAMP: &str = "tag:yaml.org,2002:timestamp";
const BINARY: &str = "tag:yaml.org,2002:binary";
const MERGE: &str = "tag:yaml.org,2002:merge";

/// The value of a scalar in a value position.
pub fn value(
    schema: Schema,
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&str>,
) -> Result<Value, Problem> {
    match schema {
        Schema::Core => Ok(core_value(text, style, tag)),
        Schema::Kubectl => {
            let resolved = go_resolve(&text, style, tag)?;
            resolved.into_value(text)
        }
    }
}

/// The JSON key a scalar in a key position becomes.
pub fn key(
    schema: Schema,
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&str>,
) -> Result<String, Problem> {
    match schema {
        Schema::Core => Ok(text.into_owned()),
        Schema::Kubectl => {
            let resolved = go_resolve(&text, style, tag)?;
            resolved.into_key(text)
        }
    }
}

/// go-yaml v2's `isMerge`: a plain, untagged `<<` key (or one tagged `!!merge`).
pub fn is_merge_key(schema: Schema, text: &str, style: ScalarStyle, tag: Option<&str>) -> bool {
    schema == Schema::Kubectl && text == "<<" && (implicit(style, tag) || tag == Some(MERGE))
}

/// libyaml's `plain_implicit`: plain without a tag, or the non-specific tag `!`.
fn implicit(style: ScalarStyle, tag: Option<&str>) -> bool {
    (tag.is_none() && style == ScalarStyle::Plain) || tag == Some("!")
}

// ---------------------------------------------------------------------------------------------
// YAML 1.2 core schema.

/// YAML 1.2 core schema resolution of a scalar. Quoted scalars and `!!str` are always strings.
fn core_value(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&str>) -> Value {
    if style != ScalarStyle::Plain || tag == Some(STR) {
        return Value::String(text.into_owned());
    }
    match &*text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            // JSON has no infinities or NaN; keep the text rather than invent a number.
            return Value::String(text.into_owned());
        }
        _ => {}
    }
    if let Some(number) = core_int(&text) {
        return Value::Number(number);
    }
    if looks_like_core_float(&text)
        && let Ok(float) = text.parse::<f64>()
        && let Some(number) = Number::from_f64(float)
    {
        return Value::Number(number);
    }
    Value::String(text.into_owned())
}

fn core_int(text: &str) -> Option<Number> {
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

fn looks_like_core_float(text: &str) -> bool {
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

// ---------------------------------------------------------------------------------------------
// go-yaml v2 (decode.go `scalar` into an interface{}, resolve.go `resolve`).

/// A scalar as go-yaml v2 hands it to an `interface{}`. `Str` and `Timestamp` are the scalar's
/// own text (go-yaml gives timestamps to an `interface{}` as strings).
#[derive(Debug, Clone, PartialEq)]
enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str,
    Timestamp,
    Bytes(Vec<u8>),
}

impl Resolved {
    /// The tag go-yaml reports in "cannot decode" errors.
    fn short_tag(&self) -> &'static str {
        match self {
            Self::Null => "!!null",
            Self::Bool(_) => "!!bool",
            Self::Int(_) | Self::Uint(_) => "!!int",
            Self::Float(_) => "!!float",
            Self::Str | Self::Bytes(_) => "!!str",
            Self::Timestamp => "!!timestamp",
        }
    }

    fn long_tag(&self) -> &'static str {
        match self {
            Self::Null => NULL,
            Self::Bool(_) => BOOL,
            Self::Int(_) | Self::Uint(_) => INT,
            Self::Float(_) => FLOAT,
            Self::Str | Self::Bytes(_) => STR,
            Self::Timestamp => TIMESTAMP,
        }
    }

    /// The JSON value `encoding/json` writes for it (as kubectl sends it).
    fn into_value(self, text: Cow<'_, str>) -> Result<Value, Problem> {
        Ok(match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(b),
            Self::Int(i) => Value::from(i),
            Self::Uint(u) => Value::from(u),
            Self::Float(f) if !f.is_finite() => {
                let what = if f.is_nan() { "NaN" } else { "an infinity" };
                return Err(Problem::NotFinite { text: text.into_owned(), what });
            }
            Self::Float(f) => Value::Number(json_number(f)),
            Self::Str | Self::Timestamp => Value::String(text.into_owned()),
            Self::Bytes(bytes) => Value::String(go_json_string(bytes)),
        })
    }

    /// The key sigs.k8s.io/yaml's `convertToJSONableObject` makes of it.
    fn into_key(self, text: Cow<'_, str>) -> Result<String, Problem> {
        Ok(match self {
            Self::Str | Self::Timestamp => text.into_owned(),
            Self::Int(i) => i.to_string(),
            Self::Bool(b) => b.to_string(),
            Self::Float(f) => match go_format_float32(f).as_str() {
                "+Inf" => ".inf".to_owned(),
                "-Inf" => "-.inf".to_owned(),
                "NaN" => ".nan".to_owned(),
                other => other.to_owned(),
            },
            Self::Bytes(bytes) => go_json_string(bytes),
            Self::Null => {
                return Err(Problem::NullKey { text: text.into_owned() });
            }
            Self::Uint(_) => {
                return Err(Problem::UnsignedKey { text: text.into_owned() });
            }
        })
    }
}

/// decode.go's `scalar` for an `interface{}` target, with resolve.go's `resolve`.
fn go_resolve(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Resolved, Problem> {
    if tag.is_none() && !implicit(style, tag) {
        // Quoted and block scalars without a tag are strings.
        return Ok(Resolved::Str);
    }
    let tag = tag.unwrap_or("");
    if tag == BINARY {
        return go_base64(text).map(Resolved::Bytes).ok_or(Problem::InvalidBase64);
    }
    if !matches!(tag, "" | STR | BOOL | INT | FLOAT | NULL | TIMESTAMP) {
        // Tags go-yaml cannot resolve (`!foo`, `!`, `!!map` on a scalar) leave the text.
        return Ok(Resolved::Str);
    }
    let resolved = go_resolve_untagged(text, tag);
    if tag.is_empty() || tag == STR || tag == resolved.long_tag() {
        return Ok(resolved);
    }
    if tag == FLOAT
        && let Resolved::Int(i) = resolved
    {
        #[allow(clippy::cast_precision_loss)] // go-yaml's float64(v)
        return Ok(Resolved::Float(i as f64));
    }
    let short = tag.strip_prefix("tag:yaml.org,2002:").map_or(tag.to_owned(), |s| format!("!!{s}"));
    Err(Problem::TagMismatch { found: resolved.short_tag(), text: text.to_owned(), tag: short })
}

/// resolve.go's `resolve` body: the scalar's type from its text.
fn go_resolve_untagged(text: &str, tag: &str) -> Resolved {
    let hint = match text.as_bytes().first() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => 0,
    };
    if hint == 0 || tag == STR {
        return Resolved::Str;
    }
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match hint {
        b'.' => go_parse_float(text).map_or(Resolved::Str, Resolved::Float),
        b'D' | b'S' => {
            if tag == TIMESTAMP && is_go_timestamp(text) {
                // Untagged timestamps are strings anyway: nothing that starts `dddd-` is a number.
                return Resolved::Timestamp;
            }
            let plain: Cow<'_, str> =
                if text.contains('_') { text.replace('_', "").into() } else { text.into() };
            if let Some(i) = go_parse_int(&plain) {
                Resolved::Int(i)
            } else if let Some(u) = go_parse_uint(&plain) {
                Resolved::Uint(u)
            } else if is_yaml_style_float(&plain)
                && let Ok(f) = plain.parse::<f64>()
                && f.is_finite()
            {
                // An out-of-range float is strconv's ErrRange: go-yaml keeps the text.
                Resolved::Float(f)
            } else {
                // resolve.go's "0b" fallbacks never match what ParseInt(s, 0, 64) refused.
                Resolved::Str
            }
        }
        _ => Resolved::Str,
    }
}

/// `strconv.ParseUint(s, 0, 64)` on text without underscores: `0x`, `0o`, `0b` and a leading
/// `0` (octal) select the base.
fn go_parse_uint(s: &str) -> Option<u64> {
    let bytes = s.as_bytes();
    let (base, digits) = match bytes {
        [] => return None,
        [b'0', second, _, ..] if second.eq_ignore_ascii_case(&b'b') => (2, &s[2..]),
        [b'0', second, _, ..] if second.eq_ignore_ascii_case(&b'o') => (8, &s[2..]),
        [b'0', second, _, ..] if second.eq_ignore_ascii_case(&b'x') => (16, &s[2..]),
        [b'0', ..] => (8, &s[1..]),
        _ => (10, s),
    };
    if !digits.chars().all(|c| c.is_digit(base)) {
        return None;
    }
    if digits.is_empty() {
        // Only "0" gets here (a bare octal prefix); an empty string was refused above.
        return Some(0);
    }
    u64::from_str_radix(digits, base).ok()
}

/// `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Option<i64> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = go_parse_uint(rest)?;
    if negative { 0i64.checked_sub_unsigned(magnitude) } else { i64::try_from(magnitude).ok() }
}

/// resolve.go's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s).as_bytes();
    let digits = |from: usize| body[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = digits(0);
    if i == 0 {
        // `.5`
        if body.first() != Some(&b'.') || digits(1) == 0 {
            return false;
        }
        i = 1 + digits(1);
    } else if body.get(i) == Some(&b'.') {
        i += 1 + digits(i + 1);
    }
    if matches!(body.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(body.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exponent = digits(i);
        if exponent == 0 {
            return false;
        }
        i += exponent;
    }
    i == body.len()
}

/// `strconv.ParseFloat(s, 64)` for text starting with `.`, as resolve.go calls it (underscores
/// not removed first, so Go's rules for them apply).
fn go_parse_float(s: &str) -> Option<f64> {
    let bytes = s.as_bytes();
    let mut i = 1;
    let mut saw_digits = false;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'_' => {}
            b'0'..=b'9' => saw_digits = true,
            _ => break,
        }
        i += 1;
    }
    if !saw_digits {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        while bytes.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    if i != bytes.len() || (s.contains('_') && !go_underscore_ok(s)) {
        return None;
    }
    let f = s.replace('_', "").parse::<f64>().ok()?;
    f.is_finite().then_some(f)
}

/// strconv's `underscoreOK`: underscores only between digits.
fn go_underscore_ok(s: &str) -> bool {
    let mut saw = b'^';
    for &c in s.strip_prefix(['-', '+']).unwrap_or(s).as_bytes() {
        if c.is_ascii_digit() {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Whether go-yaml's `parseTimestamp` accepts `s`: `time.Parse` with the layouts
/// `2006-1-2T15:4:5.999999999Z07:00` (also with `t`), `2006-1-2 15:4:5.999999999` and
/// `2006-1-2`. Only explicit `!!timestamp` tags need this.
fn is_go_timestamp(s: &str) -> bool {
    fn number(s: &[u8], at: &mut usize, max_digits: usize) -> Option<u32> {
        let start = *at;
        while *at < s.len() && *at - start < max_digits && s[*at].is_ascii_digit() {
            *at += 1;
        }
        if *at == start {
            return None;
        }
        std::str::from_utf8(&s[start..*at]).ok()?.parse().ok()
    }
    fn expect(s: &[u8], at: &mut usize, c: u8) -> Option<()> {
        (s.get(*at) == Some(&c)).then(|| *at += 1)
    }
    let check = || -> Option<()> {
        let s = s.as_bytes();
        let mut at = 0;
        if s.len() < 5 || !s[..4].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let year = number(s, &mut at, 4)?;
        expect(s, &mut at, b'-')?;
        let month = number(s, &mut at, 2)?;
        expect(s, &mut at, b'-')?;
        let day = number(s, &mut at, 2)?;
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        if day == 0 || day > days {
            return None;
        }
        let Some(&separator) = s.get(at) else { return Some(()) };
        at += 1;
        if !matches!(separator, b'T' | b't' | b' ') {
            return None;
        }
        let hour = number(s, &mut at, 2)?;
        expect(s, &mut at, b':')?;
        let minute = number(s, &mut at, 2)?;
        expect(s, &mut at, b':')?;
        let second = number(s, &mut at, 2)?;
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        if matches!(s.get(at), Some(b'.' | b',')) && s.get(at + 1).is_some_and(u8::is_ascii_digit) {
            at += 1;
            while s.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
        }
        if separator == b' ' {
            return (at == s.len()).then_some(());
        }
        match &s[at..] {
            b"Z" => Some(()),
            [b'+' | b'-', h1, h2, b':', m1, m2]
                if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) =>
            {
                let hours = (h1 - b'0') * 10 + (h2 - b'0');
                let minutes = (m1 - b'0') * 10 + (m2 - b'0');
                (hours <= 24 && minutes <= 60).then_some(())
            }
            _ => None,
        }
    };
    check().is_some()
}

/// `base64.StdEncoding.DecodeString`: padded, `\r` and `\n` ignored, non-zero trailing bits
/// allowed.
fn go_base64(text: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let clean: Vec<u8> = text.bytes().filter(|c| !matches!(c, b'\r' | b'\n')).collect();
    if !clean.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let quads = clean.len() / 4;
    for (index, quad) in clean.chunks_exact(4).enumerate() {
        let padding = quad.iter().rev().take_while(|c| **c == b'=').count();
        if padding > 2 || (padding > 0 && index + 1 != quads) {
            return None;
        }
        let mut bits = 0u32;
        for &c in &quad[..4 - padding] {
            bits = (bits << 6) | sextet(c)?;
        }
        bits <<= 6 * padding;
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - padding]);
    }
    Some(out)
}

/// `encoding/json` writes each byte of invalid UTF-8 as U+FFFD.
fn go_json_string(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let bytes = error.into_bytes();
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                out.extend(std::iter::repeat_n('\u{FFFD}', chunk.invalid().len()));
            }
            out
        }
    }
}

/// The number the server gets for a float: `encoding/json` writes the shortest decimal that
/// reads back (`1` for 1.0, `100000000000000000000` for 1e20, `1e+21` from 1e21 on), and the
/// JSON reader makes an integer of it when it has no fraction and fits. Going through the same
/// text keeps even 2^63 (written `9223372036854776000`) the number kubectl sends.
fn json_number(f: f64) -> Number {
    if f.fract() == 0.0 && f.abs() < 1e21 && !(f == 0.0 && f.is_sign_negative()) {
        // Display writes the shortest round-trip digits without an exponent, as Go's 'f' does.
        let text = f.to_string();
        if let Ok(i) = text.parse::<i64>() {
            return Number::from(i);
        }
        if let Ok(u) = text.parse::<u64>() {
            return Number::from(u);
        }
    }
    // `-0` stays a float, as JSON readers keep it; NaN and infinities were refused before.
    Number::from_f64(f).unwrap_or_else(|| Number::from(0))
}

/// `strconv.FormatFloat(f, 'g', -1, 32)`, which sigs.k8s.io/yaml uses for float map keys.
fn go_format_float32(f: f64) -> String {
    #[allow(clippy::cast_possible_truncation)] // Go's float32(f)
    let x = f as f32;
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0");
    }
    // Shortest digits for a float32, e.g. "1.2345679e8".
    let scientific = format!("{:e}", x.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let count = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let digit = |i: i32| {
        usize::try_from(i).ok().and_then(|i| digits.get(i)).map_or('0', |d| char::from(*d))
    };
    let mut out = String::from(sign);
    if (-4..6).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        if point > 0 {
            (0..point).for_each(|i| out.push(digit(i)));
        } else {
            out.push('0');
        }
        let decimals = (count - point).max(0);
        if decimals > 0 {
            out.push('.');
            (0..decimals).for_each(|i| out.push(digit(point + i)));
        }
    } else {
        out.push(digit(0));
        if count > 1 {
            out.push('.');
            (1..count).for_each(|i| out.push(digit(i)));
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exponent.abs());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integers_like_strconv_base_zero() {
        assert_eq!(go_parse_int("0400"), Some(256));
        assert_eq!(go_parse_int("0"), Some(0));
        assert_eq!(go_parse_int("-0o17"), Some(-15));
        assert_eq!(go_parse_int("0B11"), Some(3));
        assert_eq!(go_parse_int("+0x10"), Some(16));
        assert_eq!(go_parse_int("08"), None);
        assert_eq!(go_parse_int("0x"), None);
        assert_eq!(go_parse_int("0x+1"), None);
        assert_eq!(go_parse_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(go_parse_int("9223372036854775808"), None);
        assert_eq!(go_parse_uint("9223372036854775808"), Some(1 << 63));
        assert_eq!(go_parse_uint("+1"), None);
    }

    #[test]
    fn recognises_yaml_style_floats() {
        for yes in ["1.5", "-.5", "+1.", "1e3", "1.e5", "08", "1E-3"] {
            assert!(is_yaml_style_float(yes), "{yes}");
        }
        for no in [".", "1e", "e3", "1.2.3", "0x1p3", "-", ".e5", "1e+"] {
            assert!(!is_yaml_style_float(no), "{no}");
        }
    }

    #[test]
    fn formats_float_keys_like_go() {
        let cases = [
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1000.0, "1000"),
            (1e6, "1e+06"),
            (100_000.0, "100000"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (123_456_789.0, "1.2345679e+08"),
            (-0.0, "-0"),
            (1e40, "+Inf"),
            (1.234_567_890_123, "1.2345679"),
        ];
        for (value, text) in cases {
            assert_eq!(go_format_float32(value), text, "{value}");
        }
    }

    #[test]
    fn json_numbers_are_what_encoding_json_writes() {
        assert_eq!(json_number(1.0), Number::from(1));
        assert_eq!(json_number(1e19), Number::from(10_000_000_000_000_000_000_u64));
        assert_eq!(
            json_number(9_223_372_036_854_775_808.0),
            Number::from(9_223_372_036_854_776_000_u64)
        );
        assert!(json_number(-9_223_372_036_854_775_808.0).is_f64());
        assert!(json_number(1e20).is_f64());
        assert!(json_number(-0.0).is_f64());
        assert!(json_number(0.5).is_f64());
    }

    #[test]
    fn decodes_base64_like_go() {
        assert_eq!(go_base64("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(go_base64("aGVs\nbG8g\r\nd29ybGQ="), Some(b"hello world".to_vec()));
        assert_eq!(go_base64("aGVsbG8"), None);
        assert_eq!(go_base64("aG=sbG8="), None);
        assert_eq!(go_json_string(vec![0xF0, 0x9F, 0x98, b'A']), "\u{FFFD}\u{FFFD}\u{FFFD}A");
    }

    #[test]
    fn accepts_timestamps_time_parse_accepts() {
        for yes in ["2001-12-14", "2001-12-14T21:59:43Z", "2001-1-2 3:4:5.5", "2000-2-29"] {
            assert!(is_go_timestamp(yes), "{yes}");
        }
        for no in ["2001-13-01", "2001-2-29", "hello", "2001-12-14T21:59:43", "2001-12-14 x"] {
            assert!(!is_go_timestamp(no), "{no}");
        }
    }
}
