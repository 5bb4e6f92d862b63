//! Health of live objects, per kind, as a sync waits for a rollout to finish.

use serde::Serialize;
use serde_json::Value;

/// Ordered from best to worst, so the worst of several is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Progressing,
    Degraded,
    Missing,
    Unknown,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Progressing => "progressing",
            Self::Degraded => "degraded",
            Self::Missing => "missing",
            Self::Unknown => "unknown",
        }
    }
}

/// An object's health and a short reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Assessment {
    pub health: Health,
    pub message: String,
}

impl Assessment {
    fn new(health: Health, message: impl Into<String>) -> Self {
        Self { health, message: message.into() }
    }
}

/// Assesses a live object (`None`: it does not exist).
pub fn assess(object: Option<&Value>) -> Assessment {
    let Some(object) = object else { return Assessment::new(Health::Missing, "not found") };
    let group = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.rsplit_once('/'))
        .map_or("", |(g, _)| g);
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    match (group, kind) {
        ("apps", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => stateful_set(object),
        ("apps", "DaemonSet") => daemon_set(object),
        ("batch", "Job") => job(object),
        ("autoscaling", "HorizontalPodAutoscaler") => hpa(object),
        ("", "PersistentVolumeClaim") => pvc(object),
        _ => Assessment::new(Health::Healthy, "exists"),
    }
}

fn int(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn condition_is(object: &Value, kind: &str, status: &str) -> bool {
    condition(object, kind).and_then(|c| c.get("status")).and_then(Value::as_str) == Some(status)
}

/// The controller has seen the latest spec; until then the status describes an older one.
fn observed_latest(object: &Value) -> bool {
    match (int(object, "/metadata/generation"), int(object, "/status/observedGeneration")) {
        (Some(generation), Some(observed)) => observed >= generation,
        (None, _) => true,
        (Some(_), None) => false,
    }
}

fn deployment(object: &Value) -> Assessment {
    if let Some(progressing) = condition(object, "Progressing")
        && progressing.get("reason").and_then(Value::as_str) == Some("ProgressDeadlineExceeded")
    {
        let message = progressing
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("progress deadline exceeded");
        return Assessment::new(Health::Degraded, message);
    }
    if !observed_latest(object) {
        return Assessment::new(
            Health::Progressing,
            "waiting for the controller to observe the new spec",
        );
    }
    let desired = int(object, "/spec/replicas").unwrap_or(1);
    let updated = int(object, "/status/updatedReplicas").unwrap_or(0);
    let ready = int(object, "/status/readyReplicas").unwrap_or(0);
    let available = int(object, "/status/availableReplicas").unwrap_or(0);
    let total = int(object, "/status/replicas").unwrap_or(0);
    if updated < desired {
        return Assessment::new(
            Health::Progressing,
            format!("{updated} of {desired} replicas updated"),
        );
    }
    if total > updated {
        return Assessment::new(
            Health::Progressing,
            format!("{} old replicas pending termination", total - updated),
        );
    }
    if ready < desired || available < desired {
        return Assessment::new(
            Health::Progressing,
            format!("{available} of {desired} replicas available"),
        );
    }
    Assessment::new(Health::Healthy, format!("{available}/{desired} replicas available"))
}

fn stateful_set(object: &Value) -> Assessment {
    if !observed_latest(object) {
        return Assessment::new(
            Health::Progressing,
            "waiting for the controller to observe the new spec",
        );
    }
    let desired = int(object, "/spec/replicas").unwrap_or(1);
    let ready = int(object, "/status/readyReplicas").unwrap_or(0);
    let updated = int(object, "/status/updatedReplicas").unwrap_or(0);
    let revisions_match =
        object.pointer("/status/currentRevision") == object.pointer("/status/updateRevision");
    if updated < desired || !revisions_match {
        return Assessment::new(
            Health::Progressing,
            format!("{updated} of {desired} replicas updated"),
        );
    }
    if ready < desired {
        return Assessment::new(
            Health::Progressing,
            format!("{ready} of {desired} replicas ready"),
        );
    }
    Assessment::new(Health::Healthy, format!("{ready}/{desired} replicas ready"))
}

fn daemon_set(object: &Value) -> Assessment {
    if !observed_latest(object) {
        return Assessment::new(
            Health::Progressing,
            "waiting for the controller to observe the new spec",
        );
    }
    let desired = int(object, "/status/desiredNumberScheduled").unwrap_or(0);
    let updated = int(object, "/status/updatedNumberScheduled").unwrap_or(0);
    let available = int(object, "/status/numberAvailable").unwrap_or(0);
    if updated < desired || available < desired {
        return Assessment::new(
            Health::Progressing,
            format!("{available} of {desired} pods available"),
        );
    }
    Assessment::new(Health::Healthy, format!("{available}/{desired} pods available"))
}

fn job(object: &Value) -> Assessment {
    if condition_is(object, "Failed", "True") {
        let reason = condition(object, "Failed")
            .and_then(|c| c.get("message").or(c.get("reason")))
            .and_then(Value::as_str)
            .unwrap_or("failed");
        return Assessment::new(Health::Degraded, format!("job failed: {reason}"));
    }
    if condition_is(object, "Complete", "True") {
        return Assessment::new(Health::Healthy, "job complete");
    }
    Assessment::new(Health::Progressing, "job running")
}

fn hpa(object: &Value) -> Assessment {
    // A fresh HPA has no conditions yet; only an explicit "cannot scale" is unhealthy.
    if condition_is(object, "AbleToScale", "False") {
        let reason = condition(object, "AbleToScale")
            .and_then(|c| c.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("unable to scale");
        return Assessment::new(Health::Degraded, reason);
    }
    Assessment::new(Health::Healthy, "able to scale")
}

fn pvc(object: &Value) -> Assessment {
    match object.pointer("/status/phase").and_then(Value::as_str) {
        Some("Bound") => Assessment::new(Health::Healthy, "bound"),
        Some("Lost") => Assessment::new(Health::Degraded, "claim lost its volume"),
        _ => Assessment::new(Health::Progressing, "waiting to be bound"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_rollout_states() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}});
        assert_eq!(assess(Some(&d)).health, Health::Progressing);
        d["status"]["observedGeneration"] = json!(2);
        d["status"]["updatedReplicas"] = json!(1);
        assert_eq!(assess(Some(&d)).message, "1 of 3 replicas updated");
        d["status"]["updatedReplicas"] = json!(3);
        assert_eq!(assess(Some(&d)).health, Health::Healthy);
        d["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"x\" has timed out progressing."}]);
        assert_eq!(assess(Some(&d)).health, Health::Degraded);
        assert_eq!(assess(None).health, Health::Missing);
    }

    #[test]
    fn jobs_pvcs_and_others() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}});
        assert_eq!(
            assess(Some(&job)),
            Assessment::new(Health::Degraded, "job failed: BackoffLimitExceeded")
        );
        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}});
        assert_eq!(assess(Some(&pvc)).health, Health::Progressing);
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap"});
        assert_eq!(assess(Some(&cm)).health, Health::Healthy);
        assert!(Health::Healthy < Health::Progressing && Health::Degraded < Health::Missing);
    }
}
