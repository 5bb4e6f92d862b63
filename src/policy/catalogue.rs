//! The policy rules' catalogue: ids, severities and summaries. It depends on nothing of the
//! repo, so the loader can check `policy.disable` against it without an import cycle.

use crate::diagnostic::Severity;
use serde::Serialize;

/// A policy rule's identity and what it enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

/// Every rule, in the order findings are reported.
pub const RULES: &[Rule] = &[
    Rule {
        id: "resources-requests",
        severity: Severity::Error,
        summary: "every container requests cpu and memory",
    },
    Rule {
        id: "resources-limits",
        severity: Severity::Error,
        summary: "every container has a memory limit",
    },
    Rule {
        id: "readiness-probe",
        severity: Severity::Error,
        summary: "Deployment/StatefulSet containers have a readiness probe",
    },
    Rule {
        id: "liveness-probe",
        severity: Severity::Warning,
        summary: "Deployment/StatefulSet containers have a liveness probe",
    },
    Rule {
        id: "image-tag",
        severity: Severity::Error,
        summary: "images name a tag other than latest, or a digest",
    },
    Rule {
        id: "gpu-limits",
        severity: Severity::Error,
        summary: "nvidia.com/gpu limits equal requests and the pod selects GPU nodes (nodeSelector or toleration)",
    },
    Rule {
        id: "min-replicas",
        severity: Severity::Error,
        summary: "workloads run at least policy.minReplicas replicas (default 2 in protected envs), directly or through an HPA's minReplicas",
    },
    Rule {
        id: "replicas-with-hpa",
        severity: Severity::Warning,
        summary: "a workload scaled by an HPA does not also set spec.replicas (each sync would reset the scale)",
    },
];

/// Looks up a rule by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}
