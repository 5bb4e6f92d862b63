//! Status as controllers would write it, so health checks have something to read: a rollout
//! that completes at once (`auto_ready`), or one that never progresses.

use serde_json::{Map, Value, json};

/// Sets `status` of a freshly written object. With `auto_ready` workloads look finished; without
/// it a new object looks just created and an updated one keeps its old status, so its
/// `observedGeneration` lags behind `generation` like a controller that has not caught up.
pub(super) fn simulate(
    group_kind: &str,
    object: &mut Value,
    auto_ready: bool,
    created: bool,
    now: &str,
) {
    let Some(map) = object.as_object_mut() else { return };
    let spec = map.get("spec").cloned().unwrap_or_else(|| json!({}));
    let generation =
        map.get("metadata").and_then(|m| m.get("generation")).cloned().unwrap_or(json!(1));
    let status = match group_kind {
        "Namespace" if created => Some(json!({"phase": "Active"})),
        "Service" if created => Some(json!({"loadBalancer": {}})),
        "CustomResourceDefinition.apiextensions.k8s.io" => Some(crd(&spec, now)),
        "Deployment.apps"
        | "StatefulSet.apps"
        | "DaemonSet.apps"
        | "Job.batch"
        | "PersistentVolumeClaim"
        | "Pod"
            if auto_ready || created =>
        {
            Some(workload(group_kind, &spec, &generation, auto_ready, now))
        }
        _ => None,
    };
    if let Some(status) = status {
        map.insert("status".to_owned(), status);
    }
}

/// The status of a finished (`ready`) or just-started workload.
pub(super) fn workload(
    group_kind: &str,
    spec: &Value,
    generation: &Value,
    ready: bool,
    now: &str,
) -> Value {
    let replicas = spec.get("replicas").and_then(Value::as_u64).unwrap_or(1);
    let condition = |kind: &str, status: &str, reason: &str| json!({"type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": now, "reason": reason});
    match group_kind {
        "Deployment.apps" | "StatefulSet.apps" => {
            let mut status = Map::new();
            status.insert("observedGeneration".to_owned(), generation.clone());
            // Zero counts are omitted on the wire, as the server's `omitempty` does.
            let counts: &[&str] = if ready {
                &["replicas", "updatedReplicas", "readyReplicas", "availableReplicas"]
            } else {
                &["replicas", "updatedReplicas", "unavailableReplicas"]
            };
            if replicas > 0 {
                for field in counts {
                    status.insert((*field).to_owned(), json!(replicas));
                }
            }
            if group_kind == "Deployment.apps" {
                let conditions = if ready {
                    vec![
                        condition("Available", "True", "MinimumReplicasAvailable"),
                        condition("Progressing", "True", "NewReplicaSetAvailable"),
                    ]
                } else {
                    vec![
                        condition("Available", "False", "MinimumReplicasUnavailable"),
                        condition("Progressing", "True", "ReplicaSetUpdated"),
                    ]
                };
                status.insert("conditions".to_owned(), Value::Array(conditions));
            }
            Value::Object(status)
        }
        "DaemonSet.apps" => {
            let ready_count = u64::from(ready);
            json!({
                "observedGeneration": generation,
                "currentNumberScheduled": 1,
                "desiredNumberScheduled": 1,
                "numberMisscheduled": 0,
                "numberReady": ready_count,
                "numberAvailable": ready_count,
                "updatedNumberScheduled": 1,
            })
        }
        "Job.batch" => {
            if ready {
                let completions = spec.get("completions").and_then(Value::as_u64).unwrap_or(1);
                json!({
                    "conditions": [{"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now}],
                    "startTime": now,
                    "completionTime": now,
                    "succeeded": completions,
                })
            } else {
                json!({"active": 1, "startTime": now})
            }
        }
        "PersistentVolumeClaim" => {
            if ready {
                let mut status = json!({"phase": "Bound"});
                if let Some(modes) = spec.get("accessModes") {
                    status["accessModes"] = modes.clone();
                }
                if let Some(storage) = spec.pointer("/resources/requests/storage") {
                    status["capacity"] = json!({"storage": storage});
                }
                status
            } else {
                json!({"phase": "Pending"})
            }
        }
        "Pod" => {
            if ready {
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]})
            } else {
                json!({"phase": "Pending"})
            }
        }
        _ => json!({}),
    }
}

fn crd(spec: &Value, now: &str) -> Value {
    let condition = |kind: &str, reason: &str| json!({"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason});
    json!({
        "acceptedNames": spec.get("names").cloned().unwrap_or_else(|| json!({})),
        "conditions": [condition("NamesAccepted", "NoConflicts"), condition("Established", "InitialNamesAccepted")],
        "storedVersions": spec
            .get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
            .filter_map(|v| v.get("name").cloned())
            .collect::<Vec<_>>(),
    })
}

/// Kinds whose status [`workload`] simulates.
pub(super) fn is_workload(group_kind: &str) -> bool {
    matches!(
        group_kind,
        "Deployment.apps"
            | "StatefulSet.apps"
            | "DaemonSet.apps"
            | "Job.batch"
            | "PersistentVolumeClaim"
            | "Pod"
    )
}
