//! Pods that fail the way a kubelet reports it, for tests of fast rollout failure: a workload
//! whose pod template runs an image registered with [`crate::MemoryCluster::fail_pods`] gets,
//! as the controllers would create them, a `ReplicaSet` (for a Deployment) and pods whose status
//! shows the fault, and the crashed container's previous log.
//!
//! Everything else about pods stays out of this double: workloads with healthy images get no
//! pods at all, only the status `status.rs` simulates.

use serde_json::{Map, Value, json};

/// How a workload's pods fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodFault {
    /// The container exits at once: `CrashLoopBackOff` with `restarts` restarts, its previous
    /// instance's log being `log`.
    CrashLoop { restarts: u32, log: String },
    /// The container was killed for exceeding its memory limit (`lastState.terminated.reason:
    /// OOMKilled`) and is backing off.
    OomKilled { restarts: u32, log: String },
    /// The image cannot be pulled (`ImagePullBackOff`).
    ImagePullBackOff,
    /// A `ConfigMap` or Secret the container needs is missing (`CreateContainerConfigError`).
    CreateContainerConfigError { message: String },
    /// No node can run the pod (`PodScheduled=False`, reason `Unschedulable`), e.g. for a GPU
    /// request no node satisfies.
    Unschedulable { message: String },
    /// The container runs but is not ready yet (a model server still loading its weights, its
    /// readiness probe not passing): `Running`, not `Ready`, no restarts.
    NotReady,
}

/// The kinds whose pods this module creates.
pub(super) fn runs_pods(group_kind: &str) -> bool {
    matches!(group_kind, "Deployment.apps" | "StatefulSet.apps" | "DaemonSet.apps")
}

/// The first container of `workload`'s pod template whose image is in `faults`, with its fault.
pub(super) fn faulted_container<'a>(
    workload: &Value,
    faults: &'a [(String, PodFault)],
) -> Option<(String, &'a PodFault)> {
    let containers = workload.pointer("/spec/template/spec/containers")?.as_array()?;
    containers.iter().find_map(|container| {
        let image = container.get("image")?.as_str()?;
        let (_, fault) = faults.iter().find(|(faulted, _)| faulted == image)?;
        Some((container.get("name")?.as_str()?.to_owned(), fault))
    })
}

/// A stable 10-hex-digit hash of a pod template, standing in for `pod-template-hash` (FNV-1a;
/// the value only has to differ between templates and be the same across runs).
pub(super) fn template_hash(template: &Value) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in template.to_string().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:010x}", hash & 0xff_ffff_ffff)
}

fn owner_reference(owner: &Value) -> Value {
    let text = |pointer: &str| owner.pointer(pointer).cloned().unwrap_or(Value::Null);
    json!([{
        "apiVersion": text("/apiVersion"),
        "kind": text("/kind"),
        "name": text("/metadata/name"),
        "uid": text("/metadata/uid"),
        "controller": true,
        "blockOwnerDeletion": true,
    }])
}

fn template_labels(workload: &Value, extra: &[(&str, &str)]) -> Map<String, Value> {
    let mut labels = workload
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (key, value) in extra {
        labels.insert((*key).to_owned(), json!(value));
    }
    labels
}

/// The `ReplicaSet` the deployment controller would create for `deployment`'s current template.
pub(super) fn replica_set(deployment: &Value, hash: &str) -> Value {
    let text = |pointer: &str| deployment.pointer(pointer).and_then(Value::as_str).unwrap_or("");
    let name = text("/metadata/name");
    let labels = template_labels(deployment, &[("pod-template-hash", hash)]);
    let mut template = deployment.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
    template["metadata"]["labels"] = Value::Object(labels.clone());
    let mut match_labels = deployment
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    match_labels.insert("pod-template-hash".to_owned(), json!(hash));
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": format!("{name}-{hash}"),
            "namespace": text("/metadata/namespace"),
            "labels": labels,
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "ownerReferences": owner_reference(deployment),
        },
        "spec": {
            "replicas": deployment.pointer("/spec/replicas").cloned().unwrap_or(json!(1)),
            "selector": {"matchLabels": match_labels},
            "template": template,
        },
    })
}

/// A pod named `name` of `workload`'s template, owned by `owner`, with `labels` added.
pub(super) fn pod(workload: &Value, owner: &Value, name: &str, labels: &[(&str, &str)]) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": workload.pointer("/metadata/namespace").cloned().unwrap_or(Value::Null),
            "labels": template_labels(workload, labels),
            "ownerReferences": owner_reference(owner),
        },
        "spec": workload.pointer("/spec/template/spec").cloned().unwrap_or_else(|| json!({})),
    })
}

/// The status a kubelet (or the scheduler) reports for `pod` when `container` has `fault`.
pub(super) fn failing_status(pod: &Value, container: &str, fault: &PodFault, now: &str) -> Value {
    let pod_name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let condition = |kind: &str, status: &str| json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
    if let PodFault::Unschedulable { message } = fault {
        return json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "lastProbeTime": null, "lastTransitionTime": now, "reason": "Unschedulable", "message": message}],
            "qosClass": "Burstable",
        });
    }
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array);
    let statuses: Vec<Value> = containers
        .into_iter()
        .flatten()
        .map(|spec| {
            let name = spec.get("name").and_then(Value::as_str).unwrap_or_default();
            let image = spec.get("image").cloned().unwrap_or(Value::Null);
            if name != container {
                return json!({"name": name, "image": image, "ready": true, "restartCount": 0, "started": true, "state": {"running": {"startedAt": now}}});
            }
            if matches!(fault, PodFault::NotReady) {
                return json!({"name": name, "image": image, "ready": false, "restartCount": 0, "started": true, "state": {"running": {"startedAt": now}}});
            }
            let back_off = format!(
                "back-off 40s restarting failed container={name} pod={pod_name}_{}",
                pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default()
            );
            let (waiting, restarts, last) = match fault {
                PodFault::CrashLoop { restarts, .. } => (
                    json!({"reason": "CrashLoopBackOff", "message": back_off}),
                    *restarts,
                    json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}}),
                ),
                PodFault::OomKilled { restarts, .. } => (
                    json!({"reason": "CrashLoopBackOff", "message": back_off}),
                    *restarts,
                    json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": now, "finishedAt": now}}),
                ),
                PodFault::ImagePullBackOff => (
                    json!({"reason": "ImagePullBackOff", "message": format!("Back-off pulling image {image}")}),
                    0,
                    json!({}),
                ),
                PodFault::CreateContainerConfigError { message } => (
                    json!({"reason": "CreateContainerConfigError", "message": message}),
                    0,
                    json!({}),
                ),
                PodFault::Unschedulable { .. } | PodFault::NotReady => (json!({}), 0, json!({})),
            };
            json!({"name": name, "image": image, "ready": false, "restartCount": restarts, "started": false, "state": {"waiting": waiting}, "lastState": last})
        })
        .collect();
    let phase = if matches!(
        fault,
        PodFault::CrashLoop { .. } | PodFault::OomKilled { .. } | PodFault::NotReady
    ) {
        "Running"
    } else {
        "Pending"
    };
    json!({
        "phase": phase,
        "conditions": [condition("PodScheduled", "True"), condition("Initialized", "True"), condition("ContainersReady", "False"), condition("Ready", "False")],
        "containerStatuses": statuses,
        "hostIP": "10.89.0.2",
        "podIP": "10.244.0.17",
        "qosClass": "Burstable",
        "startTime": now,
    })
}

/// The previous instance's log a fault leaves behind, if any.
pub(super) fn previous_log(fault: &PodFault) -> Option<&str> {
    match fault {
        PodFault::CrashLoop { log, .. } | PodFault::OomKilled { log, .. } => Some(log),
        _ => None,
    }
}

/// The end of `log`: at most `lines` lines, then at most `bytes` bytes (cut at a character
/// boundary), as the server applies `tailLines` and `limitBytes`.
pub(super) fn tail(log: &str, lines: u32, bytes: u32) -> String {
    let all: Vec<&str> = log.lines().collect();
    let keep = usize::try_from(lines).unwrap_or(usize::MAX).min(all.len());
    let mut text = all[all.len() - keep..].join("\n");
    if !text.is_empty() && log.ends_with('\n') {
        text.push('\n');
    }
    let limit = usize::try_from(bytes).unwrap_or(usize::MAX);
    if text.len() > limit {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_bounds_lines_then_bytes() {
        let log = "a\nb\nc\nd\n";
        assert_eq!(tail(log, 2, 100), "c\nd\n");
        assert_eq!(tail(log, 10, 3), "a\nb");
        assert_eq!(tail("ééé", 1, 3), "é");
    }

    #[test]
    fn hash_differs_by_template() {
        assert_ne!(template_hash(&json!({"a": 1})), template_hash(&json!({"a": 2})));
        assert_eq!(template_hash(&json!({"a": 1})).len(), 10);
    }
}
