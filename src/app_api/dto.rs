//! The types the desktop app's UI shows, and the one mapping of engine errors to the UI's
//! `{code, message, location}`.

use crate::cluster::ObjectKey;
use crate::diagnostic::Diagnostic;
use crate::engine::{EngineError, failure_code};
use crate::health::{Assessment, Health};
use crate::history::Revision;
use crate::pipeline::Pipeline;
use crate::plan::{Action, Drift, EnvPlan};
use crate::sync::Failure;
use serde::Serialize;

/// An error as the UI shows it: a stable `code`, a readable `message`, and the `file:line` it
/// concerns when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub location: Option<String>,
}

impl ApiError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), message: message.into(), location: None }
    }

    pub fn from_diagnostic(diagnostic: &Diagnostic) -> Self {
        Self {
            code: diagnostic.code.clone(),
            message: diagnostic.message.clone(),
            location: Some(diagnostic.location()),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(location) => write!(f, "{location}: {}[{}]", self.message, self.code),
            None => write!(f, "{} [{}]", self.message, self.code),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        Self { code: error.code(), message: error.to_string(), location: error.location() }
    }
}

impl From<&Failure> for ApiError {
    fn from(failure: &Failure) -> Self {
        Self {
            code: failure_code(failure),
            message: failure.message.clone(),
            location: failure.location.clone(),
        }
    }
}

/// Whether git and the cluster agree for an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum SyncState {
    Synced,
    OutOfSync,
    /// No plan: the env has input errors or its cluster could not be asked.
    Unknown,
}

/// How many objects a sync would touch, by action (the namespace counts as a create).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub prune: usize,
    pub orphan: usize,
    pub unchanged: usize,
}

impl Counts {
    pub(crate) fn of(plan: &EnvPlan) -> Self {
        Self {
            create: plan.count(Action::Create) + usize::from(!plan.namespace_exists),
            update: plan.count(Action::Update),
            prune: plan.count(Action::Prune),
            orphan: plan.count(Action::Orphan),
            unchanged: plan.count(Action::Unchanged),
        }
    }

    /// Objects a sync would write.
    pub fn changes(&self) -> usize {
        self.create + self.update + self.prune
    }
}

/// The model an environment serves, as its `env.yaml` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ModelSummary {
    pub name: String,
    pub version: Option<String>,
    pub path: String,
}

/// One environment card of the overview.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct EnvOverview {
    pub name: String,
    pub namespace: String,
    /// The kube context used (override, else `env.yaml`, else the current context: `None`).
    pub context: Option<String>,
    pub protected: bool,
    pub model: Option<ModelSummary>,
    pub sync_state: SyncState,
    /// The worst health of the env's live objects (`None` without a plan or objects).
    pub health: Option<Health>,
    pub counts: Counts,
    /// Input errors, policy errors, plan errors, or the reason there is no plan.
    pub errors: Vec<ApiError>,
    pub warnings: usize,
    /// The newest sync revision recorded in the cluster.
    pub last_revision: Option<Revision>,
}

/// One row of an environment's resource table.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// `Deployment.apps iris-dev/iris-server`: the key commands take back.
    pub id: String,
    #[serde(flatten)]
    pub key: ObjectKey,
    pub action: Action,
    /// `file:line` in git (absent for prune candidates).
    pub source: Option<String>,
    pub health: Option<Assessment>,
    /// Unified diff of normalised YAML, live → after sync; empty when unchanged.
    pub diff: String,
    /// Fields another field manager changed (drift); applying them back needs
    /// `force_conflicts`. Absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<Drift>>", optional))]
    pub drift: Vec<Drift>,
    /// Git's images and replicas of a workload, for set image / scale; absent for other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub editable: Option<crate::promote::workload::Editable>,
}

/// Everything the env detail view shows, from one plan.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct EnvDetail {
    pub overview: EnvOverview,
    pub resources: Vec<Resource>,
    /// Policy findings and input warnings, with `file:line`.
    pub findings: Vec<Diagnostic>,
    /// The env's canary and blue-green rollouts as the cluster has them (its rollout panel).
    pub rollouts: Vec<crate::rollout::RolloutStatus>,
}

/// A pipeline and its stages, for the promote view's from → to pickers.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RepoInfo {
    pub root: String,
    /// Environment names in pipeline order.
    pub environments: Vec<String>,
    pub pipelines: Vec<Pipeline>,
    pub pipeline_errors: Vec<ApiError>,
    /// Contexts in the kubeconfig (empty when there is none).
    pub contexts: Vec<String>,
}
