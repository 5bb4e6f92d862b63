//! Health of live objects, per kind, as a sync waits for a rollout to finish.
//!
//! What healthy means, per kind:
//! - Deployment: the controller observed the latest spec and every replica is updated, ready and
//!   available, with no old replica left. A `Progressing=False/ProgressDeadlineExceeded`
//!   condition is degraded only when the status is current (`status.observedGeneration >=
//!   metadata.generation`): a stale condition from a broken rollout must not fail its fix.
//!   While a Deployment, `StatefulSet` or `DaemonSet` is not healthy, the sync also reads the pods of
//!   its current rollout ([`pods`]): a `CrashLoopBackOff`, ImagePullBackOff/ErrImagePull,
//!   `InvalidImageName`, `CreateContainerConfigError`, `OOMKilled` or Unschedulable pod makes it
//!   degraded at once, with the pod, container, reason, restarts and the crashed instance's last
//!   log lines.
//! - `StatefulSet`: all replicas updated to the update revision and ready. `DaemonSet`: every
//!   scheduled pod updated and available. Job: `Complete` (a `Failed` condition is degraded).
//!   `PersistentVolumeClaim`: `Bound` (`Lost` is degraded). `HorizontalPodAutoscaler`: healthy
//!   unless `AbleToScale=False`.
//! - Service of type `LoadBalancer` and Ingress: progressing (reason [`ADDRESS_PENDING`]) until
//!   `status.loadBalancer.ingress` has an address. A sync reports this but does not wait for it
//!   unless the env sets `waitForAddresses: true`: a cluster without a load-balancer or ingress
//!   controller (kind, envtest, many on-premises clusters) never assigns one, and most rollouts
//!   do not depend on it.
//! - The ML serving kinds (`KServe`, Seldon, Ray) and any other object with `status.conditions`:
//!   see [`custom`]. Every other object is healthy once it exists.

mod custom;
pub mod pods;

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
    /// A short, stable cause for summaries (`CrashLoopBackOff`, `ProgressDeadlineExceeded`,
    /// [`ADDRESS_PENDING`]); `None` when the health word says it all. Not serialised: the
    /// message carries it for readers.
    #[serde(skip)]
    pub reason: Option<String>,
}

/// The [`Assessment::reason`] of a `LoadBalancer` Service or Ingress still without an address.
pub const ADDRESS_PENDING: &str = "AddressPending";

impl Assessment {
    pub fn new(health: Health, message: impl Into<String>) -> Self {
        Self { health, message: message.into(), reason: None }
    }

    #[must_use]
    pub fn with_reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_owned()).filter(|r| !r.is_empty());
        self
    }

    /// What a summary groups this assessment under: its reason, else its health.
    pub fn cause(&self) -> &str {
        self.reason.as_deref().unwrap_or(self.health.as_str())
    }

    /// Whether this is only a `LoadBalancer` Service or Ingress waiting for an address.
    pub fn is_address_pending(&self) -> bool {
        self.reason.as_deref() == Some(ADDRESS_PENDING)
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
        ("", "Service") => service(object),
        ("networking.k8s.io" | "extensions", "Ingress") => address(object, "ingress controller"),
        _ => custom::known(group, kind, object)
            .or_else(|| custom::conditions(object, false))
            .unwrap_or_else(|| Assessment::new(Health::Healthy, "exists")),
    }
}

fn int(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

fn text<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
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

fn not_observed() -> Assessment {
    Assessment::new(Health::Progressing, "waiting for the controller to observe the new spec")
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
    // Before the controller observed the latest spec, every condition describes an older one:
    // a ProgressDeadlineExceeded from the broken rollout a fix replaces must not fail the fix.
    if !observed_latest(object) {
        return not_observed();
    }
    if let Some(progressing) = condition(object, "Progressing")
        && text(progressing, "/status") != Some("True")
        && text(progressing, "/reason") == Some("ProgressDeadlineExceeded")
    {
        let message = text(progressing, "/message").unwrap_or("progress deadline exceeded");
        return Assessment::new(Health::Degraded, message).with_reason("ProgressDeadlineExceeded");
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
        return not_observed();
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
        return not_observed();
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

fn service(object: &Value) -> Assessment {
    if text(object, "/spec/type") == Some("LoadBalancer") {
        return address(object, "load-balancer controller");
    }
    Assessment::new(Health::Healthy, "exists")
}

/// A `LoadBalancer` Service or an Ingress: healthy once `status.loadBalancer.ingress` has an IP
/// or a hostname; `controller` names who assigns it.
fn address(object: &Value, controller: &str) -> Assessment {
    let ingress = object.pointer("/status/loadBalancer/ingress").and_then(Value::as_array);
    let assigned = ingress
        .into_iter()
        .flatten()
        .find_map(|entry| text(entry, "/ip").or_else(|| text(entry, "/hostname")));
    match assigned {
        Some(address) => Assessment::new(Health::Healthy, format!("address {address}")),
        None => Assessment::new(
            Health::Progressing,
            format!("no address yet (assigned by the {controller})"),
        )
        .with_reason(ADDRESS_PENDING),
    }
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
        assert_eq!(assess(Some(&d)).reason.as_deref(), Some("ProgressDeadlineExceeded"));
        assert_eq!(assess(None).health, Health::Missing);
    }

    /// A fix applied over a rollout that exceeded its deadline: until the controller observes the
    /// new generation, the old condition says nothing about the fix.
    #[test]
    fn stale_progress_deadline_does_not_fail_a_fix() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"generation": 3}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-1\" has timed out progressing."}]}});
        let stale = assess(Some(&d));
        assert_eq!(stale.health, Health::Progressing, "{stale:?}");
        // Observed and rolled out: the controller has replaced the condition; healthy.
        d["status"] = json!({"observedGeneration": 3, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
            "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]});
        assert_eq!(assess(Some(&d)).health, Health::Healthy);
        // Observed, and the deadline really passed for the current generation: degraded.
        d["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]);
        assert_eq!(assess(Some(&d)).health, Health::Degraded);
    }

    #[test]
    fn load_balancers_and_ingresses_wait_for_an_address() {
        let mut svc = json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}});
        let pending = assess(Some(&svc));
        assert_eq!((pending.health, pending.is_address_pending()), (Health::Progressing, true));
        svc["status"]["loadBalancer"]["ingress"] = json!([{"ip": "203.0.113.7"}]);
        assert_eq!(assess(Some(&svc)), Assessment::new(Health::Healthy, "address 203.0.113.7"));
        let cluster_ip =
            json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "ClusterIP"}});
        assert_eq!(assess(Some(&cluster_ip)).health, Health::Healthy);
        let mut ingress = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "status": {"loadBalancer": {}}});
        assert!(assess(Some(&ingress)).is_address_pending());
        ingress["status"]["loadBalancer"]["ingress"] = json!([{"hostname": "lb.example.com"}]);
        assert_eq!(assess(Some(&ingress)).health, Health::Healthy);
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
