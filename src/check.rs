//! `coxswain check`: load every environment and pipeline, run the policy gate, report.
//! Needs no cluster. The JSON form is stable (see docs/json-output.md).

use crate::diagnostic::{Diagnostic, Severity};
use crate::exit::ExitCode;
use crate::pipeline::{self, Pipeline};
use crate::policy;
use crate::repo::{Environment, Repo, RepoError};
use serde::Serialize;
use std::fmt::Write as _;

/// The result of checking a repo.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub schema_version: u32,
    pub environments: Vec<EnvReport>,
    pub pipelines: Vec<PipelineReport>,
    /// Problems in `pipelines/*.yaml`.
    pub pipeline_errors: Vec<Diagnostic>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvReport {
    pub name: String,
    pub namespace: String,
    pub objects: usize,
    /// Input errors: the env could not be loaded as written.
    pub errors: Vec<Diagnostic>,
    /// Policy findings (errors and warnings), each with its rule id as `code`.
    pub findings: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineReport {
    pub name: String,
    pub file: String,
    /// Environment names in stage order.
    pub stages: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub environments: usize,
    pub objects: usize,
    pub errors: usize,
    pub policy_errors: usize,
    pub warnings: usize,
}

/// Checks the repo (all envs, or `only`).
pub fn check_repo(repo: &Repo, only: Option<&str>) -> Result<CheckReport, RepoError> {
    let environments = repo.load(only)?;
    let (pipelines, pipeline_errors) = pipeline::load_pipelines(repo.root(), &repo.env_names()?);
    Ok(build_report(&environments, &pipelines, pipeline_errors))
}

/// Builds the report for environments already loaded.
pub fn build_report(
    environments: &[Environment],
    pipelines: &[Pipeline],
    pipeline_errors: Vec<Diagnostic>,
) -> CheckReport {
    let mut summary = Summary {
        environments: environments.len(),
        errors: pipeline_errors.len(),
        ..Summary::default()
    };
    let environments = environments
        .iter()
        .map(|env| {
            let (errors, warnings): (Vec<_>, Vec<_>) =
                env.diagnostics.iter().cloned().partition(Diagnostic::is_error);
            let mut findings = warnings;
            findings.extend(policy::check(env));
            findings.sort();
            summary.objects += env.objects.len();
            summary.errors += errors.len();
            summary.policy_errors += findings.iter().filter(|f| f.is_error()).count();
            summary.warnings += findings.iter().filter(|f| f.severity == Severity::Warning).count();
            EnvReport {
                name: env.name.clone(),
                namespace: env.namespace.clone(),
                objects: env.objects.len(),
                errors,
                findings,
            }
        })
        .collect();
    let pipelines = pipelines
        .iter()
        .map(|p| PipelineReport {
            name: p.name.clone(),
            file: p.file.clone(),
            stages: p.stages.iter().map(|s| s.env.clone()).collect(),
        })
        .collect();
    CheckReport { schema_version: 1, environments, pipelines, pipeline_errors, summary }
}

impl CheckReport {
    /// 1 for input errors, 3 for policy errors, else 0.
    pub fn exit_code(&self) -> ExitCode {
        if self.summary.errors > 0 {
            ExitCode::Error
        } else if self.summary.policy_errors > 0 {
            ExitCode::GateFailed
        } else {
            ExitCode::Ok
        }
    }

    /// Human output, grouped by environment, with a summary line.
    /// A Markdown report (a job summary or PR comment): one table of findings per env.
    pub fn render_markdown(&self) -> String {
        use crate::report::markdown_cell as cell;
        let s = self.summary;
        let mut out = format!(
            "### Coxswain check\n\n{} environments, {} objects: **{} errors**, {} policy errors, {} \
             warnings\n",
            s.environments, s.objects, s.errors, s.policy_errors, s.warnings
        );
        let sections = self
            .environments
            .iter()
            .map(|env| {
                (
                    format!("{} (namespace {})", env.name, env.namespace),
                    env.errors.iter().chain(&env.findings).collect::<Vec<_>>(),
                )
            })
            .chain(
                (!self.pipeline_errors.is_empty())
                    .then(|| ("pipelines".to_owned(), self.pipeline_errors.iter().collect())),
            );
        for (title, diagnostics) in sections {
            let _ = write!(out, "\n#### {title}\n\n");
            if diagnostics.is_empty() {
                out.push_str("No findings.\n");
                continue;
            }
            out.push_str("| Severity | Rule | Where | Message |\n|---|---|---|---|\n");
            for d in diagnostics {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    d.severity,
                    cell(&d.code),
                    cell(&d.location()),
                    d.message.replace(['\r', '\n'], " ").replace('|', "\\|")
                );
            }
        }
        out
    }

    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for env in &self.environments {
            let _ = writeln!(
                out,
                "{} (namespace {}): {} objects",
                env.name, env.namespace, env.objects
            );
            for diagnostic in env.errors.iter().chain(&env.findings) {
                let _ = writeln!(out, "  {diagnostic}");
            }
            if env.errors.is_empty() && env.findings.is_empty() {
                let _ = writeln!(out, "  ok");
            }
        }
        for pipeline in &self.pipelines {
            let _ = writeln!(
                out,
                "pipeline {} ({}): {}",
                pipeline.name,
                pipeline.file,
                pipeline.stages.join(" → ")
            );
        }
        for diagnostic in &self.pipeline_errors {
            let _ = writeln!(out, "  {diagnostic}");
        }
        let s = self.summary;
        let _ = writeln!(
            out,
            "\n{} environments, {} objects: {} errors, {} policy errors, {} warnings",
            s.environments, s.objects, s.errors, s.policy_errors, s.warnings
        );
        out
    }
}
