//! Diagnostics: one problem in the user's repo, located by file and line.

use serde::Serialize;
use std::fmt;

/// How bad a diagnostic is. Errors stop a plan or sync; warnings are reported only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// A problem in the repo, with the file (repo-relative, `/`-separated) and 1-based line it is at
/// (0 when it concerns the whole file).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub severity: Severity,
    /// Stable identifier of the kind of problem, e.g. `duplicate-object`; documented in docs/.
    pub code: String,
    pub message: String,
}

impl Diagnostic {
    pub fn error(file: &str, line: u32, code: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line,
            severity: Severity::Error,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    pub fn warning(file: &str, line: u32, code: &str, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(file, line, code, message) }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line` (or just `file` when the line is unknown), as editors and terminals link it.
    pub fn location(&self) -> String {
        if self.line == 0 { self.file.clone() } else { format!("{}:{}", self.file, self.line) }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}[{}]: {}", self.location(), self.severity, self.code, self.message)
    }
}
