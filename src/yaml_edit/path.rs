//! Paths into a YAML document: `spec.template.spec.containers[0].image`.
//!
//! The syntax is the one people already type for `kubectl`/`yq`-style paths, with one rule for keys
//! that contain dots or brackets: write them quoted in brackets,
//! `metadata.labels["app.kubernetes.io/name"]`.

use std::fmt;

use thiserror::Error;

/// One step of a [`YamlPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A key of a mapping, compared with the key's scalar value (so `"a"`, `'a'` and `a` match).
    Key(String),
    /// A 0-based position in a sequence.
    Index(usize),
}

/// A path into one document of a (multi-document) YAML file.
///
/// `document` is the 0-based position of the document in the file; error messages show it
/// 1-based ("document 2") because that is how people count.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct YamlPath {
    /// 0-based index of the document (`---`-separated) in the file.
    pub document: usize,
    /// The steps from the document root; empty means the root itself.
    pub segments: Vec<Segment>,
}

/// A path string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "invalid YAML path `{input}` at character {}: {reason}; write keys as `a.b`, indexes as \
     `[0]`, and keys containing dots or brackets as `[\"a.b\"]`",
    .position + 1
)]
pub struct YamlPathError {
    /// The path as given.
    pub input: String,
    /// 0-based character position of the problem.
    pub position: usize,
    /// What is wrong there.
    pub reason: String,
}

impl YamlPath {
    /// A path from already-split segments.
    pub fn new(document: usize, segments: Vec<Segment>) -> Self {
        Self { document, segments }
    }

    /// The root of document `document`.
    pub fn root(document: usize) -> Self {
        Self { document, segments: Vec::new() }
    }

    /// This path extended by a mapping key.
    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.segments.push(Segment::Key(key.into()));
        self
    }

    /// This path extended by a sequence index.
    #[must_use]
    pub fn index(mut self, index: usize) -> Self {
        self.segments.push(Segment::Index(index));
        self
    }

    /// The first `len` segments of this path (the whole path if it is shorter).
    #[must_use]
    pub fn prefix(&self, len: usize) -> Self {
        Self {
            document: self.document,
            segments: self.segments.iter().take(len).cloned().collect(),
        }
    }

    /// Parses `a.b[0]["c.d"]`. `""` and `"."` are the document root.
    ///
    /// Keys are bare (`a`), double-quoted (`"a.b"`, with `\"` and `\\` escapes) or single-quoted
    /// (`'a.b'`, with `''` for a quote), either after a dot or inside brackets. A bare key is
    /// always a key, even when it looks like a number: `ports.0` means the key `"0"`, `ports[0]`
    /// the first item.
    pub fn parse(document: usize, input: &str) -> Result<Self, YamlPathError> {
        PathParser { input, chars: input.char_indices().collect(), pos: 0 }
            .parse()
            .map(|segments| Self { document, segments })
    }
}

struct PathParser<'a> {
    input: &'a str,
    chars: Vec<(usize, char)>,
    pos: usize,
}

impl PathParser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|&(_, c)| c)
    }

    fn error(&self, reason: impl Into<String>) -> YamlPathError {
        YamlPathError { input: self.input.to_owned(), position: self.pos, reason: reason.into() }
    }

    fn parse(mut self) -> Result<Vec<Segment>, YamlPathError> {
        let mut segments = Vec::new();
        if self.input.is_empty() || self.input == "." {
            return Ok(segments);
        }
        // `expect_key` is true at the start and after a dot: a key must follow.
        let mut expect_key = true;
        loop {
            match self.peek() {
                None if expect_key => return Err(self.error("expected a key")),
                None => return Ok(segments),
                Some('[') => {
                    self.pos += 1;
                    segments.push(self.bracket()?);
                    expect_key = false;
                }
                Some('.') if !expect_key => {
                    self.pos += 1;
                    expect_key = true;
                }
                Some(_) if expect_key => {
                    segments.push(Segment::Key(self.key()?));
                    expect_key = false;
                }
                Some(c) => {
                    return Err(self.error(format!("expected `.` or `[`, found `{c}`")));
                }
            }
        }
    }

    /// A key after a dot or at the start: quoted or bare.
    fn key(&mut self) -> Result<String, YamlPathError> {
        if let Some(q @ ('"' | '\'')) = self.peek() {
            self.pos += 1;
            return self.quoted(q);
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, '.' | '[' | ']' | '"' | '\'') {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            let found = self.peek().map_or_else(|| "the end".to_owned(), |c| format!("`{c}`"));
            return Err(self.error(format!("expected a key, found {found}")));
        }
        Ok(self.chars.get(start..self.pos).unwrap_or_default().iter().map(|&(_, c)| c).collect())
    }

    /// After `[`: `0]`, `"key"]` or `'key']`.
    fn bracket(&mut self) -> Result<Segment, YamlPathError> {
        let segment = match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.pos += 1;
                Segment::Key(self.quoted(q)?)
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.pos;
                let mut digits = String::new();
                while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                    digits.push(c);
                    self.pos += 1;
                }
                let index = digits.parse::<usize>().map_err(|_| YamlPathError {
                    input: self.input.to_owned(),
                    position: start,
                    reason: format!("index {digits} is too large"),
                })?;
                Segment::Index(index)
            }
            _ => return Err(self.error("expected an index or a quoted key after `[`")),
        };
        if self.peek() == Some(']') {
            self.pos += 1;
            Ok(segment)
        } else {
            Err(self.error("expected `]`"))
        }
    }

    /// The body of a quoted key; the opening quote is consumed.
    fn quoted(&mut self, quote: char) -> Result<String, YamlPathError> {
        let mut key = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error(format!("unterminated quoted key (missing `{quote}`)")));
            };
            self.pos += 1;
            match c {
                '\\' if quote == '"' => match self.peek() {
                    Some(e @ ('"' | '\\')) => {
                        key.push(e);
                        self.pos += 1;
                    }
                    _ => return Err(self.error("only `\\\"` and `\\\\` escapes are allowed")),
                },
                '\'' if quote == '\'' && self.peek() == Some('\'') => {
                    key.push('\'');
                    self.pos += 1;
                }
                c if c == quote => return Ok(key),
                c => key.push(c),
            }
        }
    }
}

/// Whether a key can be written bare in a path (and parse back to itself).
fn is_bare_key(key: &str) -> bool {
    !key.is_empty() && !key.contains(['.', '[', ']', '"', '\'']) && key != "."
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str(".");
        }
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Key(key) if is_bare_key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                Segment::Key(key) => {
                    let escaped = key.replace('\\', "\\\\").replace('"', "\\\"");
                    write!(f, "[\"{escaped}\"]")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(s: &str) -> Vec<Segment> {
        match YamlPath::parse(0, s) {
            Ok(path) => path.segments,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn parses_keys_indexes_and_quoted_keys() {
        assert_eq!(
            segments("spec.containers[0].image"),
            vec![
                Segment::Key("spec".into()),
                Segment::Key("containers".into()),
                Segment::Index(0),
                Segment::Key("image".into())
            ]
        );
        assert_eq!(
            segments(r#"metadata.labels["app.kubernetes.io/name"]"#),
            vec![
                Segment::Key("metadata".into()),
                Segment::Key("labels".into()),
                Segment::Key("app.kubernetes.io/name".into())
            ]
        );
        assert_eq!(
            segments("a.'b.c'.\"d\\\"e\""),
            vec![Segment::Key("a".into()), Segment::Key("b.c".into()), Segment::Key("d\"e".into())]
        );
        assert_eq!(segments("[1][2]"), vec![Segment::Index(1), Segment::Index(2)]);
        assert_eq!(
            segments("ports.0"),
            vec![Segment::Key("ports".into()), Segment::Key("0".into())]
        );
        assert!(segments("").is_empty());
        assert!(segments(".").is_empty());
    }

    #[test]
    fn rejects_malformed_paths_with_position() {
        for (input, position) in
            [("a..b", 2), ("a.", 2), (".a", 0), ("a[x]", 2), ("a[0", 3), ("a[\"b]", 5), ("a]b", 1)]
        {
            match YamlPath::parse(0, input) {
                Err(e) => assert_eq!(e.position, position, "{input}: {e}"),
                Ok(p) => panic!("{input} parsed as {p:?}"),
            }
        }
        let too_big = YamlPath::parse(0, "a[99999999999999999999999]");
        assert!(too_big.is_err_and(|e| e.reason.contains("too large")));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "spec.containers[0].image",
            r#"metadata.labels["app.kubernetes.io/name"]"#,
            "[0].a",
            ".",
        ] {
            let path = YamlPath::parse(3, s).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(path.to_string(), s);
        }
        let odd = YamlPath::root(0).key("").key("a\"b\\c").key("x y").index(7);
        assert_eq!(YamlPath::parse(0, &odd.to_string()), Ok(odd));
    }
}
