//! A desired object: a manifest from git, with where it came from.

use crate::cluster::{Gvk, ObjectKey};
use crate::yaml::LineMap;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// Where an object was declared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Source {
    /// Repo-relative, `/`-separated.
    pub file: String,
    pub line: u32,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One object of an environment, as git declares it (namespace filled in).
#[derive(Debug, Clone)]
pub struct DesiredObject {
    pub gvk: Gvk,
    pub key: ObjectKey,
    pub value: Value,
    pub source: Source,
    lines: Arc<LineMap>,
}

impl DesiredObject {
    pub(crate) fn new(
        gvk: Gvk,
        key: ObjectKey,
        value: Value,
        source: Source,
        lines: Arc<LineMap>,
    ) -> Self {
        Self { gvk, key, value, source, lines }
    }

    /// The same object, declared at `source` (lines of its fields from `lines`): a rendered
    /// object traced back to the manifest it came from.
    #[must_use]
    pub(crate) fn traced_to(self, source: Source, lines: Arc<LineMap>) -> Self {
        Self { source, lines, ..self }
    }

    /// The line of the field at a JSON pointer, or of its nearest declared ancestor.
    pub fn line_of(&self, pointer: &str) -> u32 {
        self.lines.line_of(pointer).unwrap_or(self.source.line)
    }

    pub fn kind(&self) -> &str {
        &self.gvk.kind
    }

    pub fn name(&self) -> &str {
        &self.key.name
    }
}

/// Kinds the built-in API serves cluster-scoped. Any other kind is taken as namespaced until
/// discovery against a cluster says otherwise (see `plan`).
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("networking.k8s.io", "IngressClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("apiregistration.k8s.io", "APIService"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
];

/// Whether a kind is cluster-scoped according to the built-in table.
pub fn is_builtin_cluster_scoped(gvk: &Gvk) -> bool {
    CLUSTER_SCOPED.iter().any(|(group, kind)| *group == gvk.group && *kind == gvk.kind)
}
