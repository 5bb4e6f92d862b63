//! The resources a fresh cluster serves: the built-in kinds Coxswain deploys, and CRDs registered
//! by tests or by creating a `CustomResourceDefinition`.

use coxswain_cluster::{Gvk, ResourceType};
use serde_json::Value;

/// `(apiVersion, kind, plural, namespaced)` of the built-in kinds.
const BUILTIN: &[(&str, &str, &str, bool)] = &[
    ("v1", "Namespace", "namespaces", false),
    ("v1", "ConfigMap", "configmaps", true),
    ("v1", "Secret", "secrets", true),
    ("v1", "Service", "services", true),
    ("v1", "ServiceAccount", "serviceaccounts", true),
    ("v1", "PersistentVolumeClaim", "persistentvolumeclaims", true),
    ("v1", "Pod", "pods", true),
    ("apps/v1", "Deployment", "deployments", true),
    ("apps/v1", "ReplicaSet", "replicasets", true),
    ("apps/v1", "StatefulSet", "statefulsets", true),
    ("apps/v1", "DaemonSet", "daemonsets", true),
    ("batch/v1", "Job", "jobs", true),
    ("batch/v1", "CronJob", "cronjobs", true),
    ("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true),
    ("networking.k8s.io/v1", "Ingress", "ingresses", true),
    ("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true),
    ("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", true),
    ("rbac.authorization.k8s.io/v1", "Role", "roles", true),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", true),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", false),
    ("coordination.k8s.io/v1", "Lease", "leases", true),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", false),
];

pub(super) fn builtin() -> impl Iterator<Item = ResourceType> {
    BUILTIN.iter().map(|(api_version, kind, plural, namespaced)| ResourceType {
        gvk: Gvk::from_api_version(api_version, kind),
        plural: (*plural).to_owned(),
        namespaced: *namespaced,
    })
}

/// The resources a `CustomResourceDefinition` serves: one per served version.
pub(super) fn from_crd(crd: &Value) -> Vec<ResourceType> {
    let spec = crd.get("spec");
    let text = |pointer: &str| spec.and_then(|s| s.pointer(pointer)).and_then(Value::as_str);
    let (Some(group), Some(kind), Some(plural)) =
        (text("/group"), text("/names/kind"), text("/names/plural"))
    else {
        return Vec::new();
    };
    let namespaced = text("/scope") != Some("Cluster");
    let versions = spec.and_then(|s| s.get("versions")).and_then(Value::as_array);
    versions
        .into_iter()
        .flatten()
        .filter(|version| version.get("served").and_then(Value::as_bool).unwrap_or(true))
        .filter_map(|version| version.get("name").and_then(Value::as_str))
        .map(|version| ResourceType {
            gvk: Gvk {
                group: group.to_owned(),
                version: version.to_owned(),
                kind: kind.to_owned(),
            },
            plural: plural.to_owned(),
            namespaced,
        })
        .collect()
}
