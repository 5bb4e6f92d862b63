//! Typed errors of the cluster boundary. Each names the object (or server) it concerns, so the
//! CLI can print it as is.

use crate::ObjectKey;
use serde::Serialize;

/// One field another manager owns, from a 409 apply conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldConflict {
    /// The field path as the API server reports it, e.g. `.spec.replicas`.
    pub field: String,
    /// The field manager that owns it, e.g. `kubectl`.
    pub manager: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{object}: not found")]
    NotFound { object: ObjectKey },

    #[error("{object}: already exists")]
    AlreadyExists { object: ObjectKey },

    /// A server-side apply conflict with other field managers, or a stale resourceVersion.
    #[error("{object}: conflict: {message}{}", render_conflicts(.conflicts))]
    Conflict { object: ObjectKey, message: String, conflicts: Vec<FieldConflict> },

    /// 422: the server validated the object and refused it.
    #[error("{object}: rejected by the API server as invalid: {message}")]
    Invalid { object: ObjectKey, message: String, causes: Vec<String> },

    #[error("unknown kind {gvk}: the API server has no such resource (is its CRD installed?)")]
    UnknownKind { gvk: String },

    #[error(
        "{target}: unauthorized (401): the credentials were refused; check the kubeconfig user"
    )]
    Unauthorized { target: String, message: String },

    #[error("{target}: forbidden (403): {message}")]
    Forbidden { target: String, message: String },

    #[error("{target}: the API server is throttling requests (429); try again later")]
    TooManyRequests { target: String },

    #[error("{target}: API server error {status}: {message}")]
    Server { target: String, status: u16, message: String },

    #[error("{target}: no answer from the API server within {seconds}s")]
    Timeout { target: String, seconds: u64 },

    #[error("cannot reach the API server at {server}: {message}")]
    Unreachable { server: String, message: String },

    #[error("kubeconfig: {message}")]
    Config { message: String },

    /// The backend chosen by `COXSWAIN_CLUSTER` is unknown or not part of this build. Not an
    /// "offline" error: the user asked for something this binary cannot give, so it must not be
    /// mistaken for "no cluster reachable".
    #[error("{message}")]
    Backend { message: String },

    #[error("{target}: {message}")]
    Other { target: String, message: String },
}

fn render_conflicts(conflicts: &[FieldConflict]) -> String {
    if conflicts.is_empty() {
        return String::new();
    }
    let fields: Vec<String> =
        conflicts.iter().map(|c| format!("{} (owned by \"{}\")", c.field, c.manager)).collect();
    format!(" [{}]; rerun with --force-conflicts to take ownership", fields.join(", "))
}

impl ClusterError {
    /// True when there is no cluster to ask (unreachable, unusable kubeconfig, no answer), as
    /// opposed to a cluster that answered no: dry runs treat these as "offline".
    pub fn is_offline(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Config { .. } | Self::Timeout { .. })
    }

    /// True when retrying the same request later may succeed (throttling, 5xx, timeouts).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::TooManyRequests { .. }
                | Self::Server { .. }
                | Self::Timeout { .. }
                | Self::Unreachable { .. }
        )
    }
}
