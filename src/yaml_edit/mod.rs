//! Format-preserving edits of scalar values in YAML files, for promotions.
//!
//! `coxswain promote` moves a few values (image tags, model path/sha256/version) from one
//! environment's files into the next. People review those files in pull requests, so the diff
//! must be exactly the moved values: comments, key order, quoting, indentation, blank lines,
//! line endings (CRLF too) and the presence or absence of a final newline all stay as they were.
//! Re-serializing the YAML cannot promise that, so edits are made on the source text: the parser
//! (saphyr-parser) gives each scalar's position, and only that scalar's bytes are replaced.
//!
//! Rules:
//! - Only existing values are rewritten; keys are never inserted in this version
//!   ([`YamlEditError::PathNotFound`] names the nearest existing parent and its line).
//! - The new value keeps the old quoting style. A plain value stays plain when the new text is a
//!   valid plain scalar that readers take as a string, or as the same type as the old value
//!   (`replicas: 2` → `3`); otherwise it is double-quoted (`v1.9` → `"1.10"`, since a plain
//!   `1.10` reads as the float 1.1; likewise `yes`, `null`, `a: b`). Type resolution is
//!   conservative: both YAML 1.1 (Kubernetes' go-yaml: `yes`, `on`, `0644`) and YAML 1.2 rules
//!   count. Values starting with `?` or `:`, and inside flow collections values with a `:` where
//!   the old value had none, are quoted too: Kubernetes' reader (go-yaml v2, like libyaml)
//!   rejects `{k: a:b}` although YAML 1.2 allows it. Single-quoted values stay single-quoted (`'` doubled) unless the value has
//!   characters only double quotes can escape; double-quoted values escape `"`, `\` and control
//!   characters.
//! - Block scalars (`|`, `>`) are refused, as are aliases (`*x`: the value is shared) and paths
//!   through aliases. The anchored node (`&x value`) can be edited; its anchor and tag are kept,
//!   and every alias of it then reads the new value, as YAML means.
//! - Flow collections (`{a: 1, b: [x, y]}`) are edited like block ones.
//! - Every edit is checked by parsing the result: the event stream must equal the original's
//!   except for the edited values, which must read back as the new values. A mismatch is an
//!   error, never a corrupted file.

mod documents;
mod edit;
mod error;
mod path;
mod scalar;
mod source;
mod tree;

pub use documents::{DocumentInfo, find_document, find_documents};
pub use edit::{get_scalar, set_scalar, set_scalars};
pub use error::YamlEditError;
pub use path::{Segment, YamlPath, YamlPathError};
