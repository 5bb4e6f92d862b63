//! The failing pods of a workload, with the last lines of a crashed container's log: what the
//! app shows under an unhealthy workload, read on demand (one LIST of pods, one of `ReplicaSets`,
//! one bounded log read per crashed container); and, for a whole env view, why its progressing
//! workloads are not ready (one LIST of pods and of `ReplicaSets` for all of them).

use super::{Engine, EngineError};
use crate::cluster::{Gvk, LogRequest};
use crate::health::pods::{self, PodProblem};
use crate::repo::Environment;
use crate::sync::{PodInspector, Workload};

/// At most this many pods are shown (and their logs read): the first ones tell the story.
const SHOWN: usize = 10;

impl Engine {
    /// The problems of the current rollout's pods of workload `id` (a `Kind.group ns/name` key
    /// of an object git declares in `env`); empty when none fails or the kind runs no pods.
    pub async fn workload_pods(
        &self,
        env: &str,
        id: &str,
        context: Option<&str>,
    ) -> Result<Vec<PodProblem>, EngineError> {
        let env = self.env(env)?;
        let Some(object) = env.objects.iter().find(|o| o.key.to_string() == id) else {
            return Err(EngineError::Usage {
                message: format!("{id} is not declared in environments/{}", env.name),
            });
        };
        if !pods::runs_pods(&object.key.group_kind) {
            return Ok(Vec::new());
        }
        let cluster = self.cluster(&env, context).await?;
        let at = |e| EngineError::cluster(&env.name, e);
        let namespace = Some(env.namespace.as_str());
        let resource = cluster.resolve(&object.gvk).await.map_err(at)?;
        let Some(live) = cluster.get(&resource, namespace, object.name()).await.map_err(at)? else {
            return Ok(Vec::new());
        };
        let pod_resource =
            cluster.resolve(&Gvk::from_api_version("v1", "Pod")).await.map_err(at)?;
        let pod_list = cluster.list(&pod_resource, namespace, None).await.map_err(at)?;
        let replica_sets = if object.key.group_kind == "Deployment.apps" {
            let rs = cluster.resolve(&Gvk::from_api_version("apps/v1", "ReplicaSet")).await;
            cluster.list(&rs.map_err(at)?, namespace, None).await.map_err(at)?
        } else {
            Vec::new()
        };
        let mut problems = pods::workload_problems(&live, &replica_sets, &pod_list);
        problems.truncate(SHOWN);
        for problem in &mut problems {
            if problem.has_previous_log()
                && let Some(container) = &problem.container
            {
                let request = LogRequest::previous_tail(container);
                // A log that cannot be read leaves the kubelet's message to speak.
                problem.log =
                    cluster.pod_log(&env.namespace, &problem.pod, &request).await.ok().flatten();
            }
        }
        Ok(problems)
    }

    /// Sharpens the assessments of `env`'s progressing workloads from their pods (a crash loop
    /// becomes degraded with the pod's reason), as the sync's health wait does, without reading
    /// logs. Best effort: a cluster that cannot be reached or refuses to list pods changes nothing.
    pub async fn inspect_workloads(
        &self,
        env: &Environment,
        context: Option<&str>,
        workloads: &mut [Workload<'_>],
    ) {
        if let Ok(cluster) = self.cluster(env, context).await {
            PodInspector::without_logs().inspect(cluster.as_ref(), workloads).await;
        }
    }
}
