//! The state of a rollout, kept in the cluster as an annotation (`coxswain.dev/rollout-state`,
//! JSON) on a Deployment of the workload — the stable Deployment of a canary, `<name>-blue` of a
//! blue-green — so every machine sees the same rollout and a crash loses nothing.
//!
//! On the Deployment, not in a `ConfigMap`, because the state holds the pod templates Coxswain
//! applies: whoever can change it chooses what runs, so it must take the right to write that
//! Deployment, not merely a `ConfigMap` in the namespace. It is written under the env's Lease by
//! a field manager of its own (`coxswain/<instance>/<env>/rollout-state`) that owns nothing but
//! the annotation, so neither a sync nor the rollout's other writes touch it.

use super::{RolloutError, Strategy};
use crate::cluster::{Cluster, Gvk};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The annotation holding the state.
pub const STATE_ANNOTATION: &str = "coxswain.dev/rollout-state";

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Stable runs git's template (or the template git had when it was aborted).
    Completed,
    /// Steps are being taken (or a timed pause is running).
    Progressing,
    /// At a step's `manual` pause, or a blue-green waiting to be promoted.
    Paused,
    /// Stopped by abort or undo: stable runs the old template until git changes.
    Aborted,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Progressing => "progressing",
            Self::Paused => "paused",
            Self::Aborted => "aborted",
        }
    }
}

/// A blue-green colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Colour {
    Blue,
    Green,
}

impl Colour {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blue => "blue",
            Self::Green => "green",
        }
    }

    #[must_use]
    pub fn other(self) -> Self {
        match self {
            Self::Blue => Self::Green,
            Self::Green => Self::Blue,
        }
    }
}

/// What a rollout has reached. Templates are git's `spec.template` values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutState {
    pub workload: String,
    pub strategy: String,
    pub phase: Phase,
    /// Paused by a person (`coxswain rollout pause`).
    #[serde(default)]
    pub paused: bool,
    /// Canary: index of the current step.
    #[serde(default)]
    pub step: usize,
    /// When the current step's timed pause began (RFC 3339).
    #[serde(default)]
    pub step_since: Option<String>,
    pub stable_hash: String,
    pub stable_template: Value,
    #[serde(default)]
    pub previous_template: Option<Value>,
    #[serde(default)]
    pub target_hash: Option<String>,
    #[serde(default)]
    pub target_template: Option<Value>,
    /// The git template an abort or undo turned away: not rolled out again until git changes.
    #[serde(default)]
    pub aborted_hash: Option<String>,
    /// Replicas across stable and canary (or of each colour).
    #[serde(default)]
    pub total_replicas: Option<u64>,
    /// Canary: what the stable Deployment runs meanwhile (`None`: git's replicas).
    #[serde(default)]
    pub stable_replicas: Option<u64>,
    /// Canary: stable has the new template; the canary goes once stable is healthy.
    #[serde(default)]
    pub promoting: bool,
    /// An HPA scales the workload: stable keeps its scale.
    #[serde(default)]
    pub hpa: bool,
    /// Blue-green: the colour the active Service selects.
    #[serde(default)]
    pub active: Option<Colour>,
    /// Blue-green: when the old colour scales down (RFC 3339).
    #[serde(default)]
    pub scale_down_at: Option<String>,
    #[serde(default)]
    pub message: String,
}

impl RolloutState {
    pub fn new(workload: &str, strategy: &str, stable_template: Value) -> Self {
        Self {
            workload: workload.to_owned(),
            strategy: strategy.to_owned(),
            phase: Phase::Completed,
            paused: false,
            step: 0,
            step_since: None,
            stable_hash: template_hash(&stable_template),
            stable_template,
            previous_template: None,
            target_hash: None,
            target_template: None,
            aborted_hash: None,
            total_replicas: None,
            stable_replicas: None,
            promoting: false,
            hpa: false,
            active: None,
            scale_down_at: None,
            message: String::new(),
        }
    }

    pub fn step_since(&self) -> Option<DateTime<Utc>> {
        parse_time(self.step_since.as_deref())
    }

    pub fn scale_down_at(&self) -> Option<DateTime<Utc>> {
        parse_time(self.scale_down_at.as_deref())
    }
}

fn parse_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?).ok().map(|t| t.with_timezone(&Utc))
}

pub fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The Deployment that carries the state of `workload`'s rollout.
pub fn holder(workload: &str, strategy: &Strategy) -> String {
    match strategy {
        Strategy::Canary(_) => workload.to_owned(),
        Strategy::BlueGreen(_) => format!("{workload}-{}", Colour::Blue.as_str()),
    }
}

/// A stable digest of a pod template: sha256 of its JSON with keys sorted, so reordering keys
/// in git is not a new template.
pub fn template_hash(template: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let digest = Sha256::digest(sorted(template).to_string().as_bytes());
    digest.iter().take(8).fold(String::new(), |mut hex, byte| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// Identifies a recorded state: an operation previewed on one state is refused on another (the
/// rollout moved on, or someone else acted, between the preview and the confirmation).
pub fn fingerprint(state: Option<&RolloutState>) -> String {
    state
        .and_then(|s| serde_json::to_value(s).ok())
        .map_or_else(|| "none".to_owned(), |value| template_hash(&value))
}

/// The apply that records `state` on its Deployment `holder`: the annotation alone.
pub(super) fn to_annotation(state: &RolloutState, holder: &str, namespace: &str) -> Value {
    let text = serde_json::to_string(state).unwrap_or_default();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": holder, "namespace": namespace, "annotations": {STATE_ANNOTATION: text}},
    })
}

/// The recorded state of `workload`'s rollout, `None` when there is none (no Deployment yet,
/// or no annotation).
pub async fn load(
    cluster: &dyn Cluster,
    namespace: &str,
    workload: &str,
    strategy: &Strategy,
) -> Result<Option<RolloutState>, RolloutError> {
    let resource = cluster.resolve(&Gvk::from_api_version("apps/v1", "Deployment")).await?;
    let holder = holder(workload, strategy);
    let Some(object) = cluster.get(&resource, Some(namespace), &holder).await? else {
        return Ok(None);
    };
    let pointer = format!("/metadata/annotations/{}", STATE_ANNOTATION.replace('/', "~1"));
    let Some(text) = object.pointer(&pointer).and_then(Value::as_str) else { return Ok(None) };
    let corrupt = |message: String| RolloutError::CorruptState {
        name: format!("annotation {STATE_ANNOTATION} of Deployment {namespace}/{holder}"),
        message,
    };
    let state: RolloutState = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    if state.workload != workload || state.strategy != strategy.kind() {
        return Err(corrupt(format!(
            "it records the {} rollout of {}",
            state.strategy, state.workload
        )));
    }
    Ok(Some(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hash_ignores_key_order() {
        let a = json!({"spec": {"containers": [{"name": "a", "image": "x:1"}]}, "metadata": {"labels": {"app": "a"}}});
        let b = json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"image": "x:1", "name": "a"}]}});
        assert_eq!(template_hash(&a), template_hash(&b));
        let c = json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"image": "x:2", "name": "a"}]}});
        assert_ne!(template_hash(&a), template_hash(&c));
    }
}
