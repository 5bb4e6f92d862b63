//! `environments/<env>/env.yaml`: per-environment settings. Every field has a default, unknown
//! fields are errors (a typo such as `protectd: true` must not silently leave prod unprotected).

use crate::diagnostic::Diagnostic;
use crate::rollout::Strategy;
use crate::yaml::{self, Document, LineMap};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// Settings of one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvConfig {
    /// Kubernetes namespace; defaults to the folder name.
    #[serde(default)]
    pub namespace: Option<String>,
    /// kubeconfig context; defaults to the current context.
    #[serde(default)]
    pub context: Option<String>,
    /// Sync only from a committed revision on `branch` with a clean env folder.
    #[serde(default)]
    pub protected: bool,
    /// The branch protected syncs must come from.
    #[serde(default = "default_branch")]
    pub branch: String,
    /// Delete objects Coxswain owns in this env that left git.
    #[serde(default = "default_true")]
    pub prune: bool,
    /// Cluster-scoped kinds this env may declare (e.g. `Namespace`).
    #[serde(default)]
    pub allow_cluster_scoped: Vec<String>,
    /// Accept `Secret` objects with plaintext `data`/`stringData` from git.
    #[serde(default)]
    pub allow_plaintext_secrets: bool,
    /// Roll back to the previous revision automatically when health fails after a sync.
    #[serde(default)]
    pub rollback_on_failure: bool,
    /// Hold the sync until every `LoadBalancer` Service and Ingress has an address. Off by
    /// default: clusters without a load-balancer or ingress controller never assign one.
    #[serde(default)]
    pub wait_for_addresses: bool,
    /// The model this environment serves.
    #[serde(default)]
    pub model: Option<ModelRef>,
    #[serde(default)]
    pub policy: PolicySettings,
    /// Progressive delivery per Deployment (see [`crate::rollout::spec`]).
    #[serde(default)]
    pub rollouts: BTreeMap<String, Strategy>,
}

impl Default for EnvConfig {
    fn default() -> Self {
        Self {
            namespace: None,
            context: None,
            protected: false,
            branch: default_branch(),
            prune: true,
            allow_cluster_scoped: Vec::new(),
            allow_plaintext_secrets: false,
            rollback_on_failure: false,
            wait_for_addresses: false,
            model: None,
            policy: PolicySettings::default(),
            rollouts: BTreeMap::new(),
        }
    }
}

/// A model file pinned by content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelRef {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    /// Repo-relative path of the ONNX file.
    pub path: String,
    /// Hex sha256 of the file; checked before validation and promotion.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Per-env tuning of the policy gate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySettings {
    /// Rule ids switched off in this env.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Minimum replicas (or HPA minReplicas) of every workload; default 2 when protected, else 1.
    #[serde(default)]
    pub min_replicas: Option<u32>,
}

fn default_true() -> bool {
    true
}

fn default_branch() -> String {
    "main".to_owned()
}

/// Deserialises a parsed YAML document into `T`, turning serde's error into a diagnostic at the
/// line of the offending field.
pub fn decode_document<T: DeserializeOwned>(
    document: &Document,
    file: &str,
) -> Result<T, Diagnostic> {
    serde_path_to_error::deserialize(&document.value).map_err(|error| {
        let mut pointer = String::new();
        for segment in error.path() {
            pointer.push('/');
            // A sequence index is `[1]` when displayed, `1` in a JSON pointer.
            match segment {
                serde_path_to_error::Segment::Seq { index } => {
                    let _ = write!(pointer, "{index}");
                }
                other => pointer.push_str(&yaml::escape_pointer_token(&other.to_string())),
            }
        }
        let inner = error.inner().to_string();
        let line = document.lines.line_of(&pointer).unwrap_or(document.line);
        // serde_path_to_error ends the path with an unknown field's own name: name only the parent.
        let mut segments: Vec<&serde_path_to_error::Segment> = error.path().iter().collect();
        if unknown_field_name(&inner).is_some() {
            segments.pop();
        }
        let path = dotted_path(&segments);
        let message = if path.is_empty() { inner } else { format!("{path}: {inner}") };
        Diagnostic::error(file, line, "invalid-config", message)
    })
}

/// `stages[0].gates`, the way a reader writes a YAML path.
fn dotted_path(segments: &[&serde_path_to_error::Segment]) -> String {
    let mut path = String::new();
    for segment in segments {
        match segment {
            serde_path_to_error::Segment::Seq { index } => {
                let _ = write!(path, "[{index}]");
            }
            other => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&other.to_string());
            }
        }
    }
    path
}

fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(name, _)| name)
}

/// Parses `env.yaml` text. An empty file means all defaults. The line map lets later checks
/// (namespace name, policy rule ids) point at the right line.
pub fn parse_env_config(text: &str, file: &str) -> Result<(EnvConfig, Arc<LineMap>), Diagnostic> {
    let documents = yaml::parse_documents(text).map_err(|e| {
        Diagnostic::error(file, e.line, "yaml-syntax", format!("invalid YAML: {}", e.message))
    })?;
    match documents.as_slice() {
        [] => Ok((EnvConfig::default(), Arc::default())),
        [document] => Ok((decode_document(document, file)?, document.lines.clone())),
        [_, second, ..] => Err(Diagnostic::error(
            file,
            second.line,
            "invalid-config",
            "env.yaml must hold a single YAML document",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_points_at_its_own_line() {
        let err = parse_env_config("namespace: a\nprotectd: true\n", "e/env.yaml").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.starts_with("unknown field `protectd`"), "{}", err.message);
    }

    #[test]
    fn nested_type_error_names_the_path_and_line() {
        let text = "model:\n  name: iris\n  path: m.onnx\n  sha256: [1]\n";
        let err = parse_env_config(text, "e/env.yaml").unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.message.starts_with("model.sha256: invalid type"), "{}", err.message);
    }

    #[test]
    fn error_in_a_sequence_item_points_at_the_item() {
        let text = "rollouts:\n  web:\n    canary:\n      steps:\n        - {weight: 50}\n        - {weight: 100, pause: soon}\n";
        let err = parse_env_config(text, "e/env.yaml").unwrap_err();
        assert_eq!(err.line, 6, "{}", err.message);
        assert!(
            err.message.starts_with("rollouts.web.canary.steps[1].pause: invalid pause"),
            "{}",
            err.message
        );
    }

    #[test]
    fn empty_file_is_all_defaults() {
        let (config, _) = parse_env_config("# nothing\n", "e/env.yaml").unwrap();
        assert!(config.prune && !config.protected && config.branch == "main");
    }
}
