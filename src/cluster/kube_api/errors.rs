//! Turns HTTP answers and transport failures into typed [`ClusterError`]s.
//!
//! The API server explains every refusal in a `Status` object; the mapping keeps its message (a
//! 403 names the verb, resource and user) and reads its `details` (conflict causes, the missing
//! namespace) so the CLI can say what to do without showing raw JSON.

use crate::cluster::{ClusterError, FieldConflict, Gvk, ObjectKey};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// What one request is about; every error names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// GET, PATCH, POST, PUT or DELETE of one object.
    Object(ObjectKey),
    /// LIST or WATCH of one kind.
    Collection { gvk: Gvk, namespace: Option<String> },
    /// The resource list of a group-version, fetched to resolve `gvk`.
    Discovery { gvk: Gvk },
    /// `GET /version`.
    ServerVersion,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Object(key) => key.fmt(f),
            Self::Collection { gvk, namespace: Some(namespace) } => {
                write!(f, "{} in namespace {namespace}", gvk.group_kind())
            }
            Self::Collection { gvk, namespace: None } => {
                write!(f, "{} in all namespaces", gvk.group_kind())
            }
            Self::Discovery { gvk } => {
                write!(f, "discovery of {} for {}", gvk.api_version(), gvk.kind)
            }
            Self::ServerVersion => f.write_str("the server version (GET /version)"),
        }
    }
}

/// The parts of a `meta/v1 Status` the mapping reads. Unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ApiStatus {
    pub kind: String,
    pub message: String,
    pub reason: String,
    pub code: u16,
    pub details: StatusDetails,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct StatusDetails {
    pub name: String,
    pub group: String,
    /// The resource (plural, e.g. `namespaces`) the status is about.
    pub kind: String,
    pub causes: Vec<StatusCause>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct StatusCause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

impl ApiStatus {
    /// Reads a `Status` body; `None` when the body is something else (a proxy's HTML page).
    pub(super) fn parse(body: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Self>(body).ok().filter(|status| status.kind == "Status")
    }
}

/// Longest piece of a non-`Status` error body quoted in a message.
const MAX_QUOTED_BODY: usize = 300;

/// Maps a non-2xx answer to an error about `target`.
pub(super) fn from_response(status: u16, body: &[u8], target: &Target) -> ClusterError {
    let parsed = ApiStatus::parse(body);
    let message = response_message(status, body, parsed.as_ref());
    let parsed = parsed.unwrap_or_default();
    let other = |message: String| ClusterError::Other { target: target.to_string(), message };
    match status {
        401 => ClusterError::Unauthorized { target: target.to_string(), message },
        403 => ClusterError::Forbidden { target: target.to_string(), message },
        404 => match target {
            Target::Object(key) => ClusterError::NotFound { object: missing_object(key, &parsed) },
            Target::Collection { gvk, .. } | Target::Discovery { gvk } => {
                ClusterError::UnknownKind { gvk: gvk.to_string() }
            }
            Target::ServerVersion => other(format!("not found (404): {message}")),
        },
        409 => match target {
            Target::Object(key) if parsed.reason == "AlreadyExists" => {
                ClusterError::AlreadyExists { object: key.clone() }
            }
            Target::Object(key) => {
                let conflicts = field_conflicts(&parsed.details.causes);
                // "Apply failed with 1 conflict: conflict with ..." lists what `conflicts`
                // renders again; keep only the summary then.
                let message = match message.split_once(": ") {
                    Some((summary, _)) if !conflicts.is_empty() => summary.to_owned(),
                    _ => message,
                };
                ClusterError::Conflict { object: key.clone(), message, conflicts }
            }
            _ => other(format!("conflict (409): {message}")),
        },
        400 | 422 => match target {
            Target::Object(key) => ClusterError::Invalid {
                object: key.clone(),
                message,
                causes: parsed.details.causes.iter().map(render_cause).collect(),
            },
            _ => other(format!("bad request ({status}): {message}")),
        },
        410 => other(format!(
            "resourceVersion expired (410 Gone): {message}; list again and watch from the list's \
             resourceVersion"
        )),
        429 => ClusterError::TooManyRequests { target: target.to_string() },
        500..=599 => ClusterError::Server { target: target.to_string(), status, message },
        _ => other(format!("unexpected HTTP status {status}: {message}")),
    }
}

/// The server's message, else a quoted slice of the body, else the status line's reason.
fn response_message(status: u16, body: &[u8], parsed: Option<&ApiStatus>) -> String {
    if let Some(parsed) = parsed
        && !parsed.message.trim().is_empty()
    {
        return parsed.message.trim().to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return http::StatusCode::from_u16(status)
            .ok()
            .and_then(|code| code.canonical_reason())
            .unwrap_or("no message")
            .to_owned();
    }
    match text.char_indices().nth(MAX_QUOTED_BODY) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A 404 on an object can be about its namespace (`namespaces "dev" not found` when applying
/// into a namespace that does not exist); name the namespace then, not the object.
fn missing_object(key: &ObjectKey, status: &ApiStatus) -> ObjectKey {
    let details = &status.details;
    let about_namespace = details.kind == "namespaces"
        && details.group.is_empty()
        && !details.name.is_empty()
        && key.group_kind != "Namespace";
    if about_namespace {
        ObjectKey {
            group_kind: "Namespace".to_owned(),
            namespace: None,
            name: details.name.clone(),
        }
    } else {
        key.clone()
    }
}

/// Reads server-side apply conflicts. The server reports each as a cause
/// `{reason: FieldManagerConflict, message: "conflict with \"kubectl\": .spec.replicas",
/// field: ".spec.replicas"}`; the message may also say `... with "kubectl" using apps/v1: ...`.
pub(super) fn field_conflicts(causes: &[StatusCause]) -> Vec<FieldConflict> {
    causes
        .iter()
        .filter(|cause| cause.reason == "FieldManagerConflict")
        .map(|cause| {
            let (manager, field_in_message) = parse_conflict_message(&cause.message);
            let field = if cause.field.is_empty() { field_in_message } else { cause.field.clone() };
            FieldConflict { field, manager: manager.unwrap_or_else(|| cause.message.clone()) }
        })
        .collect()
}

/// Splits `conflict with "<manager>"[ using <apiVersion>]: <field>` into manager and field.
fn parse_conflict_message(message: &str) -> (Option<String>, String) {
    let field = message.rsplit_once(": ").map(|(_, field)| field.to_owned()).unwrap_or_default();
    let Some(rest) = message.strip_prefix("conflict with \"") else {
        return (None, field);
    };
    // A manager name may itself contain quotes: take the quote that the grammar closes.
    let manager = rest.match_indices('"').map(|(at, _)| at).find(|&at| {
        let after = &rest[at + 1..];
        after.is_empty() || after.starts_with(':') || after.starts_with(" using ")
    });
    (manager.map(|at| rest[..at].to_owned()), field)
}

fn render_cause(cause: &StatusCause) -> String {
    match (cause.field.is_empty(), cause.message.is_empty()) {
        (false, false) => format!("{}: {}", cause.field, cause.message),
        (false, true) => format!("{}: {}", cause.field, cause.reason),
        (true, false) => cause.message.clone(),
        (true, true) => cause.reason.clone(),
    }
}

/// Maps a failure below HTTP (connect, TLS, reset, credentials plugin) to an error.
pub(super) fn from_transport(
    error: &kube::Error,
    server: &str,
    target: &Target,
    timeout: Duration,
) -> ClusterError {
    if let kube::Error::Auth(auth) = error {
        return ClusterError::Config {
            message: format!(
                "cannot get credentials for {server}: {}; check the user of the kubeconfig \
                 context",
                chain(auth)
            ),
        };
    }
    if timed_out(error) {
        return timeout_error(target, timeout);
    }
    ClusterError::Unreachable { server: server.to_owned(), message: chain(error) }
}

pub(super) fn timeout_error(target: &Target, timeout: Duration) -> ClusterError {
    // Round up so a sub-second timeout never reads as "within 0s".
    let seconds = timeout.as_millis().div_ceil(1000);
    ClusterError::Timeout {
        target: target.to_string(),
        seconds: u64::try_from(seconds).unwrap_or(u64::MAX),
    }
}

fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        current = error.source();
    }
    false
}

/// The innermost causes are the informative ones (`Connection refused (os error 111)`); the
/// outer layers only say which library wrapped them. Skips kube's wrapper and repeats.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = error.source().or(Some(error));
    while let Some(error) = current {
        let text = error.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Target {
        Target::Object(ObjectKey::new(
            &Gvk::from_api_version("apps/v1", "Deployment"),
            Some("dev"),
            "iris",
        ))
    }

    fn body(value: &serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(value).unwrap_or_default()
    }

    #[test]
    fn conflict_message_with_api_version_parses() {
        let (manager, field) =
            parse_conflict_message("conflict with \"kubectl\" using apps/v1: .spec.replicas");
        assert_eq!(manager.as_deref(), Some("kubectl"));
        assert_eq!(field, ".spec.replicas");
    }

    #[test]
    fn conflict_manager_with_quotes_parses() {
        let (manager, _) = parse_conflict_message("conflict with \"a \"b\" c\": .spec.x");
        assert_eq!(manager.as_deref(), Some("a \"b\" c"));
    }

    #[test]
    fn conflict_message_in_unknown_shape_keeps_message_as_manager() {
        let causes = vec![StatusCause {
            reason: "FieldManagerConflict".into(),
            message: "something new".into(),
            field: ".spec.x".into(),
        }];
        let conflicts = field_conflicts(&causes);
        assert_eq!(
            conflicts,
            vec![FieldConflict { field: ".spec.x".into(), manager: "something new".into() }]
        );
    }

    #[test]
    fn missing_namespace_is_named_instead_of_object() {
        let status = json!({"kind": "Status", "code": 404, "reason": "NotFound",
            "message": "namespaces \"dev\" not found",
            "details": {"name": "dev", "kind": "namespaces"}});
        let error = from_response(404, &body(&status), &deployment());
        assert_eq!(error.to_string(), "Namespace dev: not found");
    }

    #[test]
    fn non_status_body_is_quoted_and_truncated() {
        let long = "x".repeat(1000);
        let error = from_response(502, long.as_bytes(), &deployment());
        let ClusterError::Server { message, status, .. } = error else {
            panic!("expected Server, got {error:?}");
        };
        assert_eq!(status, 502);
        assert_eq!(message.chars().count(), MAX_QUOTED_BODY + 1);
    }

    #[test]
    fn empty_body_uses_status_reason() {
        let error = from_response(503, b"", &deployment());
        assert_eq!(
            error.to_string(),
            "Deployment.apps dev/iris: API server error 503: Service Unavailable"
        );
    }

    #[test]
    fn not_found_on_a_collection_is_unknown_kind() {
        let target = Target::Collection {
            gvk: Gvk::from_api_version("example.com/v1", "Widget"),
            namespace: None,
        };
        let error = from_response(404, b"404 page not found", &target);
        assert!(
            matches!(error, ClusterError::UnknownKind { ref gvk } if gvk == "example.com/v1/Widget")
        );
    }

    #[test]
    fn sub_second_timeout_rounds_up() {
        let error = timeout_error(&deployment(), Duration::from_millis(200));
        assert!(matches!(error, ClusterError::Timeout { seconds: 1, .. }));
    }
}
