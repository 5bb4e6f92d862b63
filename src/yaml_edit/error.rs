//! Why an edit was refused. Every variant names the path and the 1-based line, so the caller only
//! has to add the file name.

use thiserror::Error;

use super::path::YamlPath;

/// An edit or lookup that could not be done. The file is never half-edited: any error means the
/// caller gets no new text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum YamlEditError {
    /// The input is not valid YAML.
    #[error("YAML syntax error at line {line}, column {column}: {message}; fix the file first")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// The parser's description.
        message: String,
    },

    /// The path's document index is past the end of the file.
    #[error(
        "`{path}` is in document {} but the file has {count} document(s)",
        .path.document + 1
    )]
    DocumentNotFound {
        /// The path asked for.
        path: YamlPath,
        /// How many documents the file has.
        count: usize,
    },

    /// Some segment of the path does not exist. Keys are never inserted in this version.
    #[error(
        "`{path}` (document {}) does not exist: {reason}; the nearest existing parent is \
         `{parent}` at line {line}. Coxswain only rewrites existing values and does not add \
         keys yet: add the key to the file by hand, then promote again",
        .path.document + 1
    )]
    PathNotFound {
        /// The path asked for.
        path: YamlPath,
        /// The longest prefix of `path` that exists.
        parent: YamlPath,
        /// 1-based line of `parent`.
        line: usize,
        /// What is missing, e.g. "mapping has no key `imag`".
        reason: String,
    },

    /// The path leads to a mapping or a sequence, not to a single value.
    #[error(
        "`{path}` (document {}) at line {line} is a {found}, not a single value; point the path \
         at one of its entries",
        .path.document + 1
    )]
    NotAScalar {
        /// The path asked for.
        path: YamlPath,
        /// 1-based line of the node.
        line: usize,
        /// `"mapping"` or `"sequence"`.
        found: &'static str,
    },

    /// The value at the path is an alias (`*name`): rewriting it would detach it from its anchor,
    /// and rewriting the anchor would change every other alias too, so neither is done silently.
    #[error(
        "`{path}` (document {}) at line {line} is an alias (`*{name}`) of the value anchored at \
         line {anchor_line}; edit the anchored value instead (that changes every alias of it), \
         or replace the alias by hand",
        .path.document + 1
    )]
    AliasValue {
        /// The path asked for.
        path: YamlPath,
        /// 1-based line of the alias.
        line: usize,
        /// The anchor's name.
        name: String,
        /// 1-based line of the anchored node.
        anchor_line: usize,
    },

    /// The path goes through an alias: the value it reaches is shared with the anchor and every
    /// other alias of it.
    #[error(
        "`{path}` (document {}) goes through the alias `{through}` at line {line}, so the value \
         it reaches is shared with other places; edit it through the anchored node instead",
        .path.document + 1
    )]
    AliasInPath {
        /// The path asked for.
        path: YamlPath,
        /// The prefix of `path` that is an alias.
        through: YamlPath,
        /// 1-based line of the alias.
        line: usize,
    },

    /// Literal (`|`) and folded (`>`) scalars are not rewritten in this version.
    #[error(
        "`{path}` (document {}) at line {line} is a block scalar (`|` or `>`); Coxswain only \
         rewrites plain and quoted values: edit it by hand or turn it into a quoted value",
        .path.document + 1
    )]
    BlockScalar {
        /// The path asked for.
        path: YamlPath,
        /// 1-based line of the scalar.
        line: usize,
    },

    /// `key:` with nothing after it: there is no text to replace, and inserting text is
    /// insertion, which this version does not do.
    #[error(
        "`{path}` (document {}) at line {line} has no value written (an implicit null); write a \
         placeholder value such as `\"\"` there by hand, then promote again",
        .path.document + 1
    )]
    EmptyValue {
        /// The path asked for.
        path: YamlPath,
        /// 1-based line of the key.
        line: usize,
    },

    /// A mapping on the path has the same key twice, so the path is ambiguous.
    #[error(
        "`{path}` (document {}) is ambiguous: the key `{key}` appears at line {first_line} and \
         again at line {line}; remove the duplicate",
        .path.document + 1
    )]
    DuplicateKey {
        /// The path asked for.
        path: YamlPath,
        /// The duplicated key.
        key: String,
        /// 1-based line of the first occurrence.
        first_line: usize,
        /// 1-based line of the second occurrence.
        line: usize,
    },

    /// Two edits in one call set the same value to different things.
    #[error(
        "`{path}` (document {}) is edited twice with different values (`{first}` and `{second}`)",
        .path.document + 1
    )]
    ConflictingEdits {
        /// The path edited twice.
        path: YamlPath,
        /// The first new value.
        first: String,
        /// The second new value.
        second: String,
    },

    /// Two documents have the same kind and name.
    #[error(
        "two documents are `{kind}` named `{name}` (at lines {first_line} and {line}); keep one"
    )]
    DuplicateDocument {
        /// The kind searched for.
        kind: String,
        /// The name searched for.
        name: String,
        /// 1-based line of the first document.
        first_line: usize,
        /// 1-based line of the second document.
        line: usize,
    },

    /// The safety check after editing failed; the edit is refused rather than risk a corrupted
    /// file. This indicates a bug in Coxswain: please report it with the file.
    #[error(
        "refusing to write the edit of `{path}` (document {}): re-reading the edited text showed \
         {problem}; the file is left unchanged (this is a Coxswain bug, please report it)",
        .path.document + 1
    )]
    Unverified {
        /// The (first) path being edited.
        path: YamlPath,
        /// What did not match.
        problem: String,
    },
}
