//! Why a workload is still not ready, from its pods: a crash loop, an image that cannot be
//! pulled, a pod that cannot be scheduled. Shared by the sync's health wait and the app's env
//! view, so both say the same thing; one LIST of pods (and of `ReplicaSets`) per namespace
//! however many workloads are inspected.

use crate::cluster::{Cluster, Gvk, LogRequest, ObjectKey};
use crate::health::{Assessment, Health, pods};
use serde_json::Value;
use std::collections::BTreeMap;

/// One workload to inspect: its live object and the assessment to sharpen.
pub struct Workload<'a> {
    pub key: &'a ObjectKey,
    pub live: Option<&'a Value>,
    pub assessment: &'a mut Assessment,
}

/// Reads the pods of workloads that are not healthy yet, best effort: a cluster that refuses
/// to list pods (RBAC) or serve logs leaves the assessments as they are.
pub struct PodInspector {
    read_logs: bool,
    /// Previous-instance logs already read, by namespace, pod and container: read once.
    logs: BTreeMap<(String, String, String), Option<String>>,
}

impl PodInspector {
    /// Adds a crashed container's last log lines to its assessment (read once per container).
    pub fn with_logs() -> Self {
        Self { read_logs: true, logs: BTreeMap::new() }
    }

    /// Only the pods' states: no log reads (a view that shows logs on demand).
    pub fn without_logs() -> Self {
        Self { read_logs: false, logs: BTreeMap::new() }
    }

    /// Replaces the assessment of each progressing workload whose current pods fail with that
    /// failure (degraded).
    pub async fn inspect(&mut self, cluster: &dyn Cluster, workloads: &mut [Workload<'_>]) {
        let mut namespaces: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, workload) in workloads.iter().enumerate() {
            if workload.live.is_some()
                && workload.assessment.health == Health::Progressing
                && pods::runs_pods(&workload.key.group_kind)
                && let Some(namespace) = workload.key.namespace.as_deref()
            {
                namespaces.entry(namespace.to_owned()).or_default().push(index);
            }
        }
        if namespaces.is_empty() {
            return;
        }
        let resolve = |api_version: &'static str, kind: &'static str| async move {
            cluster.resolve(&Gvk::from_api_version(api_version, kind)).await.ok()
        };
        let Some(pod_resource) = resolve("v1", "Pod").await else { return };
        let replica_set_resource = resolve("apps/v1", "ReplicaSet").await;
        for (namespace, indices) in namespaces {
            let Ok(pod_list) = cluster.list(&pod_resource, Some(&namespace), None).await else {
                continue;
            };
            let has_deployment =
                indices.iter().any(|&i| workloads[i].key.group_kind == "Deployment.apps");
            let replica_sets = match (&replica_set_resource, has_deployment) {
                (Some(resource), true) => {
                    cluster.list(resource, Some(&namespace), None).await.unwrap_or_default()
                }
                _ => Vec::new(),
            };
            for index in indices {
                let Some(live) = workloads[index].live else { continue };
                let Some(mut problem) = pods::workload_problem(live, &replica_sets, &pod_list)
                else {
                    continue;
                };
                if self.read_logs
                    && problem.has_previous_log()
                    && let Some(container) = problem.container.clone()
                {
                    let key = (namespace.clone(), problem.pod.clone(), container);
                    if !self.logs.contains_key(&key) {
                        let request = LogRequest::previous_tail(&key.2);
                        let log =
                            cluster.pod_log(&namespace, &key.1, &request).await.ok().flatten();
                        self.logs.insert(key.clone(), log);
                    }
                    problem.log = self.logs.get(&key).cloned().flatten();
                }
                *workloads[index].assessment = problem.assessment();
            }
        }
    }
}
