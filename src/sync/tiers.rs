//! Apply order. Kinds that others depend on go first (a Deployment's `ConfigMap` must exist before
//! its pods start); autoscalers and ingresses, which point at workloads, go last. Pruning runs
//! in reverse.

/// Tier names, in apply order.
pub const TIERS: &[&str] =
    &["namespaces", "definitions", "access", "config", "services", "workloads", "routing", "other"];

/// The tier index of a kind.
pub fn tier_of(group: &str, kind: &str) -> usize {
    match (group, kind) {
        ("", "Namespace") => 0,
        ("apiextensions.k8s.io", "CustomResourceDefinition")
        | ("scheduling.k8s.io", "PriorityClass")
        | ("storage.k8s.io", "StorageClass") => 1,
        ("", "ServiceAccount" | "ResourceQuota" | "LimitRange")
        | ("rbac.authorization.k8s.io", _)
        | ("networking.k8s.io", "NetworkPolicy") => 2,
        ("", "ConfigMap" | "Secret" | "PersistentVolumeClaim" | "PersistentVolume")
        | ("bitnami.com", "SealedSecret")
        | ("external-secrets.io", "ExternalSecret") => 3,
        ("", "Service") => 4,
        ("apps" | "batch", _) | ("", "Pod" | "ReplicationController") => 5,
        ("autoscaling", "HorizontalPodAutoscaler")
        | ("policy", "PodDisruptionBudget")
        | ("networking.k8s.io", "Ingress") => 6,
        _ => 7,
    }
}

/// Kinds whose deletion loses data or takes other objects with it: pruned only on request.
pub fn is_dangerous_to_prune(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("", "Namespace" | "PersistentVolumeClaim" | "PersistentVolume")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
    )
}
