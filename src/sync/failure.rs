//! Why a sync did not succeed: a kind that decides exit codes and UI error codes, and the
//! message users read. Serialised as the message alone, so the JSON reports keep their
//! documented `error` string.

use serde::Serialize;

/// What stopped a sync, or what went wrong in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The environment's files have input errors.
    Input,
    /// A policy rule failed.
    Policy,
    /// The model's sha256 pin or its validation spec failed.
    Model,
    /// The model could not be validated at all (unreadable model, dataset or spec).
    ModelError,
    /// A protected environment from a checkout it may not sync from.
    Protected,
    /// git could not tell the checkout's state.
    Git,
    /// A revision to restore is untrusted: it breaks the env's rules, was altered, or differs
    /// from its git commit.
    Revision,
    /// The plan has errors (unknown kinds, rejected objects, conflicts).
    Plan,
    /// No API server could be reached (or the kubeconfig is unusable).
    Unreachable,
    /// The cluster answered with an error.
    Cluster,
    /// Another sync holds the environment's lock.
    Lock,
    /// Applying or pruning an object failed part-way.
    Apply,
    /// Applied, but not healthy in time.
    Health,
    /// The outcome could not be recorded.
    Record,
    /// The plan changed after it was previewed, or the preview was declined.
    Cancelled,
    /// Cancelled while running (Ctrl-C, SIGTERM, a Cancel button): stopped before a write.
    Interrupted,
}

impl FailureKind {
    /// Gates whose refusal is a verdict on the change (exit 3), not an error running it.
    pub fn is_gate(self) -> bool {
        matches!(self, Self::Policy | Self::Model | Self::Revision | Self::Health)
    }
}

/// A failure: its kind and the message shown to users, with the rule or diagnostic code and the
/// `file:line` when a finding in the repo caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
    pub code: Option<String>,
    pub location: Option<String>,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), code: None, location: None }
    }

    /// The same failure, pointing at a finding (its code and `file:line`).
    #[must_use]
    pub fn at(mut self, diagnostic: &crate::diagnostic::Diagnostic) -> Self {
        self.code = Some(diagnostic.code.clone());
        self.location = Some(diagnostic.location());
        self
    }

    /// Adds a note to the message, keeping the kind (e.g. "recording history failed").
    #[must_use]
    pub fn and(mut self, note: &str) -> Self {
        self.message = format!("{}; {note}", self.message);
        self
    }
}

impl Default for Failure {
    fn default() -> Self {
        Self::new(FailureKind::Cluster, String::new())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::ops::Deref for Failure {
    type Target = str;

    fn deref(&self) -> &str {
        &self.message
    }
}

impl Serialize for Failure {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.message)
    }
}
