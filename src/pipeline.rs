//! `pipelines/<name>.yaml`: how artifacts move between environments and the gates on the way.

use crate::diagnostic::Diagnostic;
use crate::repo::config::decode_document;
use crate::yaml::{self, Document};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// A pipeline: ordered stages, each an environment fed from another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pipeline {
    pub name: String,
    /// The model validation gate's spec, decoded by the validation module (see docs/).
    #[serde(default)]
    pub model_validation: Option<Value>,
    pub stages: Vec<Stage>,
    /// The file it was read from (repo-relative); set by the loader.
    #[serde(skip)]
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Stage {
    pub env: String,
    /// The environment this stage is promoted from.
    #[serde(default)]
    pub from: Option<String>,
    /// What moves on promotion.
    #[serde(default)]
    pub promote: Vec<Artifact>,
    #[serde(default)]
    pub gates: Vec<Gate>,
    #[serde(default)]
    pub approval: Approval,
    /// Refused with a pointer to `rollouts:` in the env's `env.yaml`, where strategies live.
    #[serde(default)]
    pub strategy: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Artifact {
    /// Container images (tags/digests), matched by workload and container name.
    Images,
    /// The env's model reference and its sha256.
    Model,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Gate {
    ModelValidation,
    Policy,
    DryRun,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Approval {
    /// A branch and a pull request; merging is the approval.
    #[default]
    PullRequest,
    /// Commit straight to the tracked branch.
    Direct,
}

impl Pipeline {
    pub fn stage(&self, env: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.env == env)
    }

    /// The stage that is promoted from `env`, i.e. the next environment downstream.
    pub fn downstream_of(&self, env: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.from.as_deref() == Some(env))
    }
}

/// Loads and checks every `pipelines/*.yaml` (not subfolders: `pipelines/ci/` holds CI recipes).
pub fn load_pipelines(root: &Path, env_names: &[String]) -> (Vec<Pipeline>, Vec<Diagnostic>) {
    let mut pipelines = Vec::new();
    let mut diagnostics = Vec::new();
    let Ok(entries) = std::fs::read_dir(root.join("pipelines")) else {
        return (pipelines, diagnostics);
    };
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    for path in paths {
        let file = format!("pipelines/{}", path.file_name().unwrap_or_default().to_string_lossy());
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                diagnostics.push(Diagnostic::error(&file, 0, "unreadable-file", e.to_string()));
                continue;
            }
        };
        match parse_pipeline(&text, &file, env_names) {
            Ok(pipeline) => pipelines.push(pipeline),
            Err(mut found) => diagnostics.append(&mut found),
        }
    }
    (pipelines, diagnostics)
}

/// Parses one pipeline file and checks its stage graph against the repo's environments.
pub fn parse_pipeline(
    text: &str,
    file: &str,
    env_names: &[String],
) -> Result<Pipeline, Vec<Diagnostic>> {
    let documents = yaml::parse_documents(text).map_err(|e| {
        vec![Diagnostic::error(file, e.line, "yaml-syntax", format!("invalid YAML: {}", e.message))]
    })?;
    let [document] = documents.as_slice() else {
        return Err(vec![Diagnostic::error(
            file,
            0,
            "invalid-pipeline",
            "a pipeline file must hold exactly one YAML document",
        )]);
    };
    let mut pipeline: Pipeline = decode_document(document, file).map_err(|d| vec![d])?;
    file.clone_into(&mut pipeline.file);
    let problems = check_stages(&pipeline, document, env_names);
    if problems.is_empty() { Ok(pipeline) } else { Err(problems) }
}

fn check_stages(pipeline: &Pipeline, document: &Document, env_names: &[String]) -> Vec<Diagnostic> {
    let file = pipeline.file.as_str();
    let line = |index: usize, field: &str| {
        document.lines.line_of(&format!("/stages/{index}/{field}")).unwrap_or(document.line)
    };
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for (index, stage) in pipeline.stages.iter().enumerate() {
        if !env_names.contains(&stage.env) {
            problems.push(Diagnostic::error(file, line(index, "env"), "unknown-env", format!(
                "stage names environment \"{}\", which has no folder under environments/ (found: {})",
                stage.env, env_names.join(", ")
            )));
        }
        if !seen.insert(stage.env.as_str()) {
            problems.push(Diagnostic::error(
                file,
                line(index, "env"),
                "invalid-pipeline",
                format!("environment \"{}\" has two stages", stage.env),
            ));
        }
        if let Some(from) = &stage.from {
            if from == &stage.env {
                problems.push(Diagnostic::error(
                    file,
                    line(index, "from"),
                    "invalid-pipeline",
                    format!("stage \"{}\" is promoted from itself", stage.env),
                ));
            } else if !pipeline.stages.iter().any(|s| &s.env == from) {
                problems.push(Diagnostic::error(file, line(index, "from"), "unknown-env", format!(
                    "stage \"{}\" is promoted from \"{from}\", which is not a stage of this pipeline", stage.env
                )));
            }
        } else if !stage.promote.is_empty() || !stage.gates.is_empty() {
            problems.push(Diagnostic::error(
                file,
                line(index, "env"),
                "invalid-pipeline",
                format!("stage \"{}\" lists promote/gates but no `from` environment", stage.env),
            ));
        }
        if stage.gates.contains(&Gate::ModelValidation) && pipeline.model_validation.is_none() {
            problems.push(Diagnostic::error(
                file,
                line(index, "gates"),
                "invalid-pipeline",
                "gate modelValidation needs a top-level modelValidation spec",
            ));
        }
        if stage.strategy.is_some() {
            problems.push(Diagnostic::error(
                file,
                line(index, "strategy"),
                "strategy-in-pipeline",
                format!(
                    "rollout strategies are declared per Deployment in \
                     environments/{}/env.yaml under `rollouts:` (see README, Progressive \
                     delivery); remove `strategy` here",
                    stage.env
                ),
            ));
        }
    }
    // Cycles: follow `from` links; a walk longer than the stage count has looped.
    let from: HashMap<&str, &str> =
        pipeline.stages.iter().filter_map(|s| Some((s.env.as_str(), s.from.as_deref()?))).collect();
    for (index, stage) in pipeline.stages.iter().enumerate() {
        if stage.from.as_deref() == Some(stage.env.as_str()) {
            continue; // reported above as promoted from itself
        }
        let mut current = stage.env.as_str();
        for _ in 0..=pipeline.stages.len() {
            match from.get(current) {
                Some(next) => current = next,
                None => break,
            }
            if current == stage.env {
                problems.push(Diagnostic::error(
                    file,
                    line(index, "from"),
                    "invalid-pipeline",
                    format!("stage \"{}\" is part of a promotion cycle", stage.env),
                ));
                break;
            }
        }
    }
    problems.sort();
    problems
}
