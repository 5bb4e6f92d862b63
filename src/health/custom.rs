//! Health of kinds Coxswain has no built-in rule for — custom resources above all, since model
//! servers are mostly custom resources — read from what their controllers report.
//!
//! The generic rule, for any object with `status.conditions`:
//! - `status.observedGeneration` older than `metadata.generation`: progressing (the status
//!   describes an older spec);
//! - the `Ready` condition, else `Available`: `True` is healthy; `False` is degraded when its
//!   reason reads terminal (contains `Fail`, `Error`, `Invalid`, `BackOff`, `Exceeded`,
//!   `Unschedulable`, `Forbidden` or `Denied`, case-insensitive) and progressing otherwise,
//!   because controllers report `Ready=False` while they reconcile (`Reconciling`,
//!   `MinimumReplicasUnavailable`, `Pending`...) and a sync must not fail on that; `Unknown`
//!   is progressing;
//! - neither condition: healthy (the object exists and nothing says otherwise).
//!
//! Objects without conditions stay healthy once they exist, as before. The known ML serving
//! kinds ([`assess`]) have their own rule, because their status is absent until the controller
//! reconciles (so "no status" means "not ready yet") or is not condition-based.

use super::{Assessment, Health, condition, int, text};
use serde_json::Value;

/// Substrings of a `False` condition's reason that make it degraded rather than progressing.
const TERMINAL_REASON: &[&str] =
    &["fail", "error", "invalid", "backoff", "exceeded", "unschedulable", "forbidden", "denied"];

/// The per-kind table of ML serving kinds; `None` when `group`/`kind` is not one of them.
pub(super) fn known(group: &str, kind: &str, object: &Value) -> Option<Assessment> {
    match (group, kind) {
        // KServe: Ready aggregates predictor, transformer and ingress readiness.
        ("serving.kserve.io", "InferenceService" | "InferenceGraph" | "TrainedModel") => {
            Some(conditions(object, true).unwrap_or_else(not_reconciled))
        }
        // Seldon Core v1: `status.state` is Creating, Available or Failed.
        ("machinelearning.seldon.io", "SeldonDeployment") => Some(seldon(object)),
        // KubeRay: RayService reports `Ready` in recent versions, `serviceStatus` before.
        ("ray.io", "RayService") => Some(conditions(object, false).unwrap_or_else(|| {
            state(object, "/status/serviceStatus", &["Running"], &[], "/status/serviceStatus")
        })),
        // RayCluster: `status.state` is `ready`, `suspended` or `failed` (with `status.reason`).
        ("ray.io", "RayCluster") => {
            Some(state(object, "/status/state", &["ready"], &["failed"], "/status/reason"))
        }
        // RayJob: the deployment status ends in Complete or Failed.
        ("ray.io", "RayJob") => Some(state(
            object,
            "/status/jobDeploymentStatus",
            &["Complete"],
            &["Failed", "ValidationFailed"],
            "/status/message",
        )),
        _ => None,
    }
}

/// The generic rule; `None` when the object has no `Ready`/`Available` condition to read (and,
/// unless `required`, when it has no conditions at all).
pub(super) fn conditions(object: &Value, required: bool) -> Option<Assessment> {
    let has_conditions = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    if !has_conditions && !required {
        return None;
    }
    if let (Some(generation), Some(observed)) =
        (int(object, "/metadata/generation"), int(object, "/status/observedGeneration"))
        && observed < generation
    {
        return Some(Assessment::new(
            Health::Progressing,
            format!(
                "waiting for the controller to observe generation {generation} (at {observed})"
            ),
        ));
    }
    let (kind, found) = ["Ready", "Available"]
        .iter()
        .find_map(|kind| condition(object, kind).map(|c| (*kind, c)))?;
    let reason = text(found, "/reason").unwrap_or_default();
    let message = text(found, "/message").filter(|m| !m.is_empty()).unwrap_or(reason);
    let described = |state: &str| {
        if message.is_empty() {
            format!("{kind} {state}")
        } else {
            format!("{kind} {state}: {message}")
        }
    };
    Some(match text(found, "/status") {
        Some("True") => Assessment::new(Health::Healthy, kind.to_lowercase()),
        Some("False") if terminal(reason) => {
            Assessment::new(Health::Degraded, described("False")).with_reason(reason)
        }
        Some("False") => Assessment::new(Health::Progressing, described("False")),
        _ => Assessment::new(Health::Progressing, described("Unknown")),
    })
}

fn terminal(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    TERMINAL_REASON.iter().any(|t| reason.contains(t))
}

fn not_reconciled() -> Assessment {
    Assessment::new(Health::Progressing, "waiting for the controller to report Ready")
}

fn seldon(object: &Value) -> Assessment {
    match text(object, "/status/state") {
        Some("Available") => Assessment::new(Health::Healthy, "available"),
        Some("Failed") => {
            let why = text(object, "/status/description").unwrap_or("failed");
            Assessment::new(Health::Degraded, format!("failed: {why}")).with_reason("Failed")
        }
        Some(other) => Assessment::new(Health::Progressing, other.to_lowercase()),
        None => not_reconciled(),
    }
}

/// A status string: one of `good` is healthy, one of `bad` degraded (explained by `why`),
/// anything else (or nothing yet) progressing.
fn state(object: &Value, pointer: &str, good: &[&str], bad: &[&str], why: &str) -> Assessment {
    let Some(value) = text(object, pointer) else { return not_reconciled() };
    if good.contains(&value) {
        return Assessment::new(Health::Healthy, value.to_lowercase());
    }
    if bad.contains(&value) || terminal(value) {
        let detail = text(object, why).filter(|d| *d != value);
        let message = detail.map_or_else(|| value.to_owned(), |d| format!("{value}: {d}"));
        return Assessment::new(Health::Degraded, message).with_reason(value);
    }
    Assessment::new(Health::Progressing, value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::super::assess;
    use super::*;
    use serde_json::json;

    fn widget(status: &Value) -> Value {
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "generation": 3}, "status": status})
    }

    #[test]
    fn conditions_rule_for_any_custom_resource() {
        let cases = [
            (json!({"conditions": [{"type": "Ready", "status": "True"}]}), Health::Healthy),
            (
                json!({"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]}),
                Health::Progressing,
            ),
            (
                json!({"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "True"}]}),
                Health::Healthy,
            ),
            (
                json!({"conditions": [{"type": "Ready", "status": "False", "reason": "Reconciling"}]}),
                Health::Progressing,
            ),
            (
                json!({"conditions": [{"type": "Ready", "status": "False", "reason": "InstallFailed", "message": "chart not found"}]}),
                Health::Degraded,
            ),
            (json!({"conditions": [{"type": "Ready", "status": "Unknown"}]}), Health::Progressing),
            (
                json!({"conditions": [{"type": "Available", "status": "False", "reason": "ImagePullBackOff"}]}),
                Health::Degraded,
            ),
            (json!({"conditions": [{"type": "Synced", "status": "False"}]}), Health::Healthy),
            (json!({}), Health::Healthy),
        ];
        for (status, expected) in cases {
            assert_eq!(assess(Some(&widget(&status))).health, expected, "{status}");
        }
        let failed = widget(
            &json!({"conditions": [{"type": "Ready", "status": "False", "reason": "InstallFailed", "message": "chart not found"}]}),
        );
        let assessment = assess(Some(&failed));
        assert_eq!(assessment.message, "Ready False: chart not found");
        assert_eq!(assessment.reason.as_deref(), Some("InstallFailed"));
    }

    #[test]
    fn ml_serving_kinds_table() {
        let object = |api_version: &str, kind: &str, status: Value| {
            let mut object = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "m", "generation": 1}});
            if !status.is_null() {
                object["status"] = status;
            }
            object
        };
        let kserve = "serving.kserve.io/v1beta1";
        let cases = [
            // A fresh InferenceService has no status: not ready yet (generic objects would be healthy).
            (object(kserve, "InferenceService", Value::Null), Health::Progressing),
            (
                object(
                    kserve,
                    "InferenceService",
                    json!({"observedGeneration": 1, "conditions": [{"type": "PredictorReady", "status": "True"}, {"type": "Ready", "status": "True"}]}),
                ),
                Health::Healthy,
            ),
            (
                object(
                    kserve,
                    "InferenceService",
                    json!({"conditions": [{"type": "Ready", "status": "False", "reason": "RevisionFailed", "message": "Revision \"m-predictor-00001\" failed with message: OOMKilled"}]}),
                ),
                Health::Degraded,
            ),
            (
                object(
                    kserve,
                    "InferenceService",
                    json!({"conditions": [{"type": "IngressReady", "status": "False"}]}),
                ),
                Health::Progressing,
            ),
            (
                object(
                    "machinelearning.seldon.io/v1",
                    "SeldonDeployment",
                    json!({"state": "Available"}),
                ),
                Health::Healthy,
            ),
            (
                object(
                    "machinelearning.seldon.io/v1",
                    "SeldonDeployment",
                    json!({"state": "Creating"}),
                ),
                Health::Progressing,
            ),
            (
                object(
                    "machinelearning.seldon.io/v1",
                    "SeldonDeployment",
                    json!({"state": "Failed", "description": "Deployment mnist failed"}),
                ),
                Health::Degraded,
            ),
            (
                object("machinelearning.seldon.io/v1", "SeldonDeployment", Value::Null),
                Health::Progressing,
            ),
            (
                object("ray.io/v1", "RayService", json!({"serviceStatus": "Running"})),
                Health::Healthy,
            ),
            (
                object(
                    "ray.io/v1",
                    "RayService",
                    json!({"serviceStatus": "WaitForServeDeploymentReady"}),
                ),
                Health::Progressing,
            ),
            (
                object(
                    "ray.io/v1",
                    "RayService",
                    json!({"conditions": [{"type": "Ready", "status": "True"}]}),
                ),
                Health::Healthy,
            ),
            (object("ray.io/v1", "RayService", Value::Null), Health::Progressing),
            (object("ray.io/v1", "RayCluster", json!({"state": "ready"})), Health::Healthy),
            (
                object(
                    "ray.io/v1",
                    "RayCluster",
                    json!({"state": "failed", "reason": "head pod failed"}),
                ),
                Health::Degraded,
            ),
            (object("ray.io/v1", "RayCluster", Value::Null), Health::Progressing),
            (
                object("ray.io/v1", "RayJob", json!({"jobDeploymentStatus": "Complete"})),
                Health::Healthy,
            ),
            (
                object(
                    "ray.io/v1",
                    "RayJob",
                    json!({"jobDeploymentStatus": "Failed", "message": "exit 1"}),
                ),
                Health::Degraded,
            ),
        ];
        for (object, expected) in cases {
            assert_eq!(assess(Some(&object)).health, expected, "{object}");
        }
        let failed = object(
            "ray.io/v1",
            "RayCluster",
            json!({"state": "failed", "reason": "head pod failed"}),
        );
        assert_eq!(assess(Some(&failed)).message, "failed: head pod failed");
    }
}
