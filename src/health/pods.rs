//! Why a rollout will not finish, read from its pods, so a sync fails within one poll instead of
//! waiting for `--timeout`: a workload's status only says "progressing" while its new pods
//! crash-loop, cannot pull their image, miss a `ConfigMap`, are OOM-killed or fit on no node.
//!
//! Only the pods of the current rollout count: for a Deployment those of its newest `ReplicaSet`
//! (the one whose pod template equals the Deployment's, as the deployment controller finds it),
//! for a `StatefulSet` those at `status.updateRevision`, for a `DaemonSet` those of the current
//! `metadata.generation`. Pods of the previous rollout may crash-loop while a fix rolls out;
//! they must not fail it.

use super::{Assessment, Health, text};
use serde_json::Value;
use std::fmt::Write as _;

/// Waiting reasons a container does not recover from by itself.
const FAILING_WAITING: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
];

/// Kinds whose pods [`current_pods`] finds.
pub fn runs_pods(group_kind: &str) -> bool {
    matches!(group_kind, "Deployment.apps" | "StatefulSet.apps" | "DaemonSet.apps")
}

/// One failing pod (and container) of a rollout.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PodProblem {
    pub pod: String,
    /// `None` for a pod that never got a node (Unschedulable).
    pub container: Option<String>,
    /// `CrashLoopBackOff`, `ImagePullBackOff`, `OOMKilled`, `Unschedulable`, ...
    pub reason: String,
    pub restarts: i64,
    /// What the kubelet or the scheduler said.
    pub message: String,
    /// The last lines of the crashed instance's log, when read.
    pub log: Option<String>,
}

impl PodProblem {
    /// Whether the container ran and crashed, so its previous instance left a log to show.
    pub fn has_previous_log(&self) -> bool {
        self.container.is_some() && self.restarts > 0
    }

    /// The workload's assessment: degraded, with pod, container, reason, restarts and the log
    /// tail (indented lines after the first).
    pub fn assessment(&self) -> Assessment {
        let mut message = format!("pod {}", self.pod);
        if let Some(container) = &self.container {
            let _ = write!(message, " container {container}");
        }
        let _ = write!(message, ": {}", self.reason);
        if self.container.is_some() {
            let plural = if self.restarts == 1 { "" } else { "s" };
            let _ = write!(message, ", {} restart{plural}", self.restarts);
        }
        if !self.message.is_empty() {
            let _ = write!(message, ": {}", self.message);
        }
        if let Some(log) = self.log.as_deref().map(str::trim_end).filter(|l| !l.is_empty()) {
            message.push_str("\n  last log lines of the previous instance:");
            for line in log.lines() {
                let _ = write!(message, "\n  | {line}");
            }
        }
        Assessment::new(Health::Degraded, message).with_reason(&self.reason)
    }
}

/// The first failing container of `pod`, else its scheduling failure.
pub fn problem(pod: &Value) -> Option<PodProblem> {
    let name = text(pod, "/metadata/name").unwrap_or_default().to_owned();
    let statuses = ["/status/initContainerStatuses", "/status/containerStatuses"]
        .iter()
        .filter_map(|pointer| pod.pointer(pointer)?.as_array())
        .flatten();
    for status in statuses {
        let restarts = status.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        let container = text(status, "/name").map(str::to_owned);
        let waiting = text(status, "/state/waiting/reason");
        let found = |reason: &str, message: Option<&str>| PodProblem {
            pod: name.clone(),
            container: container.clone(),
            reason: reason.to_owned(),
            restarts,
            message: message.unwrap_or_default().to_owned(),
            log: None,
        };
        let oom = [
            text(status, "/lastState/terminated/reason"),
            text(status, "/state/terminated/reason"),
        ]
        .contains(&Some("OOMKilled"));
        if oom {
            let message = waiting.map(|w| format!("killed for exceeding its memory limit; {w}"));
            return Some(found(
                "OOMKilled",
                Some(message.as_deref().unwrap_or("killed for exceeding its memory limit")),
            ));
        }
        if let Some(reason) = waiting.filter(|w| FAILING_WAITING.contains(w)) {
            return Some(found(reason, text(status, "/state/waiting/message")));
        }
    }
    let conditions = pod.pointer("/status/conditions").and_then(Value::as_array);
    let unschedulable = conditions.into_iter().flatten().find(|c| {
        text(c, "/type") == Some("PodScheduled")
            && text(c, "/status") == Some("False")
            && text(c, "/reason") == Some("Unschedulable")
    })?;
    Some(PodProblem {
        pod: name,
        container: None,
        reason: "Unschedulable".to_owned(),
        restarts: 0,
        message: text(unschedulable, "/message").unwrap_or_default().to_owned(),
        log: None,
    })
}

/// Every problem among the pods of `workload`'s current rollout, one per pod.
pub fn workload_problems(
    workload: &Value,
    replica_sets: &[Value],
    pods: &[Value],
) -> Vec<PodProblem> {
    current_pods(workload, replica_sets, pods).into_iter().filter_map(problem).collect()
}

/// The first problem among the pods of `workload`'s current rollout.
pub fn workload_problem(
    workload: &Value,
    replica_sets: &[Value],
    pods: &[Value],
) -> Option<PodProblem> {
    current_pods(workload, replica_sets, pods).into_iter().find_map(problem)
}

/// The pods of `workload`'s current rollout, found among `pods` (and, for a Deployment,
/// `replica_sets`) of its namespace.
pub fn current_pods<'a>(
    workload: &Value,
    replica_sets: &[Value],
    pods: &'a [Value],
) -> Vec<&'a Value> {
    let kind = text(workload, "/kind").unwrap_or_default();
    match kind {
        "Deployment" => {
            let Some(newest) = replica_sets
                .iter()
                .find(|rs| owned_by(rs, workload) && same_template(workload, rs))
            else {
                return Vec::new();
            };
            pods.iter().filter(|pod| owned_by(pod, newest)).collect()
        }
        "StatefulSet" => {
            let revision = text(workload, "/status/updateRevision");
            pods.iter()
                .filter(|pod| owned_by(pod, workload))
                .filter(|pod| {
                    revision.is_none()
                        || text(pod, "/metadata/labels/controller-revision-hash") == revision
                })
                .collect()
        }
        "DaemonSet" => {
            let generation = workload.pointer("/metadata/generation").and_then(Value::as_i64);
            pods.iter()
                .filter(|pod| owned_by(pod, workload))
                .filter(|pod| {
                    let label = text(pod, "/metadata/labels/pod-template-generation")
                        .and_then(|g| g.parse::<i64>().ok());
                    label.is_none() || generation.is_none() || label == generation
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// `object` names `owner` in its ownerReferences: by uid when both have one, else by kind and
/// name.
fn owned_by(object: &Value, owner: &Value) -> bool {
    let references = object.pointer("/metadata/ownerReferences").and_then(Value::as_array);
    let owner_uid = text(owner, "/metadata/uid");
    references.into_iter().flatten().any(|reference| match (text(reference, "/uid"), owner_uid) {
        (Some(uid), Some(owner_uid)) => uid == owner_uid,
        _ => {
            text(reference, "/kind") == text(owner, "/kind")
                && text(reference, "/name") == text(owner, "/metadata/name")
        }
    })
}

/// The `ReplicaSet`'s pod template is the Deployment's, apart from the `pod-template-hash` label
/// the controller adds (the deployment controller's own test for "the new `ReplicaSet`").
fn same_template(deployment: &Value, replica_set: &Value) -> bool {
    let (Some(wanted), Some(template)) =
        (deployment.pointer("/spec/template"), replica_set.pointer("/spec/template"))
    else {
        return false;
    };
    let mut template = template.clone();
    if let Some(labels) = template.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.shift_remove("pod-template-hash");
        if labels.is_empty()
            && wanted.pointer("/metadata/labels").is_none()
            && let Some(metadata) = template.get_mut("metadata").and_then(Value::as_object_mut)
        {
            metadata.shift_remove("labels");
        }
    }
    template == *wanted
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "uid": "d1", "generation": 2},
            "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "web:2"}]}}}})
    }

    fn replica_set(name: &str, uid: &str, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "uid": uid,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1", "controller": true}]},
            "spec": {"template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "h"}}, "spec": {"containers": [{"name": "app", "image": image}]}}}})
    }

    fn crashing_pod(name: &str, owner: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "ownerReferences": [{"kind": "ReplicaSet", "name": "x", "uid": owner}]},
            "status": {"containerStatuses": [{"name": "app", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}}]}})
    }

    #[test]
    fn only_pods_of_the_newest_replica_set_count() {
        let replica_sets =
            [replica_set("web-old", "rs1", "web:1"), replica_set("web-new", "rs2", "web:2")];
        // The old rollout's pod crash-loops (the reason for the fix): not a problem of this one.
        let pods = [crashing_pod("web-old-a", "rs1")];
        assert_eq!(workload_problem(&deployment(), &replica_sets, &pods), None);
        let pods = [crashing_pod("web-old-a", "rs1"), crashing_pod("web-new-b", "rs2")];
        let found = workload_problem(&deployment(), &replica_sets, &pods);
        assert_eq!(
            found.as_ref().map(|p| (p.pod.as_str(), p.reason.as_str(), p.restarts)),
            Some(("web-new-b", "CrashLoopBackOff", 3))
        );
        // No ReplicaSet for the current template yet: nothing to judge.
        assert_eq!(workload_problem(&deployment(), &replica_sets[..1], &pods), None);
    }

    #[test]
    fn reasons_read_from_pod_status() {
        let pod = |status: Value| json!({"metadata": {"name": "p"}, "status": status});
        let oom = pod(
            json!({"containerStatuses": [{"name": "app", "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}),
        );
        assert_eq!(problem(&oom).map(|p| p.reason), Some("OOMKilled".to_owned()));
        let pull = pod(
            json!({"containerStatuses": [{"name": "app", "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}}]}),
        );
        assert_eq!(problem(&pull).map(|p| p.reason), Some("ErrImagePull".to_owned()));
        let config = pod(
            json!({"initContainerStatuses": [{"name": "init", "state": {"waiting": {"reason": "CreateContainerConfigError", "message": "configmap \"x\" not found"}}}]}),
        );
        assert_eq!(problem(&config).and_then(|p| p.container), Some("init".to_owned()));
        let unschedulable = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}]}),
        );
        let found = problem(&unschedulable);
        assert_eq!(found.as_ref().map(|p| p.reason.as_str()), Some("Unschedulable"));
        assert_eq!(
            found.map(|p| p.assessment().message),
            Some(
                "pod p: Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
                    .to_owned()
            )
        );
        let starting = pod(
            json!({"containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        assert_eq!(problem(&starting), None);
    }

    #[test]
    fn stateful_set_pods_at_the_update_revision() {
        let set = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "uid": "s1"}, "status": {"updateRevision": "db-2"}});
        let mut old = crashing_pod("db-0", "s1");
        old["metadata"]["labels"] = json!({"controller-revision-hash": "db-1"});
        assert_eq!(workload_problem(&set, &[], &[old.clone()]), None);
        old["metadata"]["labels"] = json!({"controller-revision-hash": "db-2"});
        assert!(workload_problem(&set, &[], &[old]).is_some());
    }
}
