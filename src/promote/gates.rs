//! The gates a promotion must pass before anything is committed: the incoming model against the
//! one the target serves, the policy rules on the edited environment, and a plan against the
//! target's cluster. Every gate listed for the stage runs, so one report shows every problem.

use super::change::Change;
use crate::cluster::{Cluster, ClusterError};
use crate::pipeline::{Gate, Pipeline};
use crate::plan::render::PlanReport;
use crate::plan::{PlanOptions, plan_env};
use crate::policy;
use crate::repo::Environment;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum GateStatus {
    Passed,
    Failed,
    /// Not run, with the reason in the summary (no cluster reachable, the model does not move).
    Skipped,
}

impl GateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "FAILED",
            Self::Skipped => "skipped",
        }
    }

    pub fn icon(self) -> &'static str {
        match self {
            Self::Passed => "✅",
            Self::Failed => "❌",
            Self::Skipped => "➖",
        }
    }
}

/// The outcome of one gate.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct GateResult {
    pub gate: Gate,
    pub status: GateStatus,
    /// One line: what was decided, and why.
    pub summary: String,
    /// Findings behind the summary, one per line (policy findings, plan errors).
    pub details: Vec<String>,
}

/// Every gate's outcome, with the full reports behind them.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct GateReport {
    pub results: Vec<GateResult>,
    /// The model validation report, as `coxswain validate -o json` prints it.
    #[cfg_attr(
        all(feature = "ts", feature = "model-validation"),
        ts(as = "Option<coxswain_model::ValidationReport>")
    )]
    pub validation: Option<serde_json::Value>,
    #[serde(skip)]
    pub validation_text: Option<String>,
    #[serde(skip)]
    pub validation_markdown: Option<String>,
    /// The plan of the edited target environment.
    pub plan: Option<PlanReport>,
}

impl GateReport {
    /// True when no gate failed (skipped gates do not block).
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.status != GateStatus::Failed)
    }

    /// `modelValidation passed, policy passed, dryRun skipped`.
    pub fn one_line(&self) -> String {
        if self.results.is_empty() {
            return "none configured".into();
        }
        self.results
            .iter()
            .map(|r| format!("{} {}", gate_name(r.gate), r.status.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub fn gate_name(gate: Gate) -> &'static str {
    match gate {
        Gate::ModelValidation => "modelValidation",
        Gate::Policy => "policy",
        Gate::DryRun => "dryRun",
    }
}

/// What the gates look at.
pub struct GateContext<'a> {
    /// The Coxswain repo root of the checkout, with the edits written.
    pub root: &'a Path,
    pub pipeline: &'a Pipeline,
    pub gates: &'a [Gate],
    pub change: &'a Change,
    /// The target environment as edited.
    pub target: &'a Environment,
    /// The cluster to plan against.
    pub cluster: &'a ClusterAccess,
    #[cfg(feature = "model-validation")]
    pub limits: coxswain_model::Limits,
}

/// Runs the stage's gates in the order listed.
pub async fn run(context: GateContext<'_>) -> GateReport {
    let mut report = GateReport::default();
    for gate in context.gates {
        let result = match gate {
            Gate::ModelValidation => model_validation(&context, &mut report).await,
            Gate::Policy => policy_gate(context.target),
            Gate::DryRun => dry_run(context.target, context.cluster, &mut report).await,
        };
        report.results.push(result);
    }
    report
}

fn result(gate: Gate, status: GateStatus, summary: impl Into<String>) -> GateResult {
    GateResult { gate, status, summary: summary.into(), details: Vec::new() }
}

#[cfg(not(feature = "model-validation"))]
#[allow(clippy::unused_async)]
async fn model_validation(_: &GateContext<'_>, _: &mut GateReport) -> GateResult {
    result(Gate::ModelValidation, GateStatus::Skipped, "skipped: built without model validation")
}

#[cfg(feature = "model-validation")]
async fn model_validation(context: &GateContext<'_>, report: &mut GateReport) -> GateResult {
    use coxswain_model::ModelRef;
    let gate = Gate::ModelValidation;
    let Some(model) = &context.change.model else {
        return result(gate, GateStatus::Skipped, "skipped: the model does not move");
    };
    let file = &context.pipeline.file;
    let Some(spec) = &context.pipeline.model_validation else {
        return result(gate, GateStatus::Failed, format!("{file} has no modelValidation spec"));
    };
    let spec = match crate::validate::parse_spec(spec.clone(), file) {
        Ok(spec) => spec,
        Err(e) => return result(gate, GateStatus::Failed, e.to_string()),
    };
    let candidate = ModelRef { path: model.new.path.clone(), sha256: model.new.sha256.clone() };
    let baseline = ModelRef { path: model.old.path.clone(), sha256: model.old.sha256.clone() };
    let root = context.root.to_path_buf();
    let limits = context.limits.clone();
    let job = tokio::task::spawn_blocking(move || {
        crate::validate::run_model(&root, &candidate, &spec, Some(&baseline), &limits)
    });
    let validation = match job.await {
        Ok(Ok(validation)) => validation,
        Ok(Err(e)) => return result(gate, GateStatus::Failed, e.to_string()),
        Err(e) => return result(gate, GateStatus::Failed, format!("validation stopped: {e}")),
    };
    let failed: Vec<String> = validation
        .checks
        .iter()
        .filter(|c| c.verdict == coxswain_model::Verdict::Fail)
        .map(|c| format!("{}: measured {}, threshold {}", c.name, c.measured, c.threshold))
        .collect();
    let status = if validation.passed() { GateStatus::Passed } else { GateStatus::Failed };
    let summary = if failed.is_empty() {
        format!("{} against {}: every check passed", model.new.path, model.old.path)
    } else {
        format!("{} against {}: {} check(s) failed", model.new.path, model.old.path, failed.len())
    };
    report.validation = serde_json::to_value(&validation).ok();
    report.validation_text = Some(validation.render_text());
    report.validation_markdown = Some(validation.render_markdown());
    GateResult { gate, status, summary, details: failed }
}

fn policy_gate(target: &Environment) -> GateResult {
    let gate = Gate::Policy;
    let input_errors: Vec<String> =
        target.diagnostics.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    if !input_errors.is_empty() {
        return GateResult {
            gate,
            status: GateStatus::Failed,
            summary: format!("the edited environment {} has input errors", target.name),
            details: input_errors,
        };
    }
    let findings = policy::check(target);
    let errors = findings.iter().filter(|d| d.is_error()).count();
    let warnings = findings.len() - errors;
    let status = if errors > 0 { GateStatus::Failed } else { GateStatus::Passed };
    GateResult {
        gate,
        status,
        summary: format!("{errors} error(s), {warnings} warning(s) in {}", target.name),
        details: findings.iter().map(ToString::to_string).collect(),
    }
}

/// The target environment's cluster as the caller connected to it.
pub enum ClusterAccess {
    Ready(Arc<dyn Cluster>),
    /// No cluster could be asked: the dryRun gate is skipped with this reason.
    Offline(String),
    /// The cluster refused the connection (credentials, permissions): the gate fails.
    Failed(String),
}

impl ClusterAccess {
    /// Classifies a connection attempt.
    pub fn from_result(result: Result<Arc<dyn Cluster>, ClusterError>) -> Self {
        match result {
            Ok(cluster) => Self::Ready(cluster),
            Err(error) if error.is_offline() => Self::Offline(error.to_string()),
            Err(error) => Self::Failed(error.to_string()),
        }
    }
}

async fn dry_run(
    target: &Environment,
    cluster: &ClusterAccess,
    report: &mut GateReport,
) -> GateResult {
    let gate = Gate::DryRun;
    let skipped = |error: &dyn std::fmt::Display| {
        result(
            gate,
            GateStatus::Skipped,
            format!(
                "skipped: no cluster reachable for {} ({error}); run `coxswain plan --env {}` \
                 once it is",
                target.name, target.name
            ),
        )
    };
    let cluster = match cluster {
        ClusterAccess::Ready(cluster) => cluster,
        ClusterAccess::Offline(reason) => return skipped(reason),
        ClusterAccess::Failed(reason) => return result(gate, GateStatus::Failed, reason.clone()),
    };
    match plan_env(cluster.as_ref(), target, &PlanOptions::default()).await {
        Ok(plan) => {
            let details: Vec<String> = plan.errors.iter().map(ToString::to_string).collect();
            let plan = PlanReport::new(vec![plan]);
            let s = plan.summary;
            let counts = format!(
                "{} to create, {} to update, {} to prune, {} unchanged",
                s.create + s.namespaces,
                s.update,
                s.prune,
                s.unchanged
            );
            report.plan = Some(plan);
            if details.is_empty() {
                result(gate, GateStatus::Passed, counts)
            } else {
                GateResult {
                    gate,
                    status: GateStatus::Failed,
                    summary: format!("the cluster rejects the edited objects ({counts})"),
                    details,
                }
            }
        }
        Err(error) if error.is_offline() => skipped(&error),
        Err(error) => result(gate, GateStatus::Failed, error.to_string()),
    }
}
