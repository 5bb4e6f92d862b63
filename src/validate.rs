//! The model validation gate, wired to the repo: which spec (the env's pipeline), which model
//! (the env's `model:`), and which baseline (the model of the env this one promotes into).
//! The validation itself lives in the `coxswain-model` crate (tract-onnx).

use crate::pipeline::Pipeline;
use crate::repo::{Environment, ModelRef};
pub use coxswain_model::{Limits, ValidationReport, ValidationSpec};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("environment {env} declares no model (add `model:` to environments/{env}/env.yaml)")]
    NoModel { env: String },
    #[error("no pipeline stage for environment {env} has a modelValidation spec (see pipelines/)")]
    NoSpec { env: String },
    #[error("{file}: modelValidation: {message}")]
    InvalidSpec { file: String, message: String },
    #[error(transparent)]
    Validation(#[from] coxswain_model::ValidationError),
}

/// The model reference as the validation crate takes it.
pub fn model_ref(model: &ModelRef) -> coxswain_model::ModelRef {
    coxswain_model::ModelRef { path: model.path.clone(), sha256: model.sha256.clone() }
}

/// The validation spec of the pipeline that has a stage for `env`, with the file it came from.
pub fn spec_for_env(
    pipelines: &[Pipeline],
    env: &str,
) -> Result<(ValidationSpec, String), ValidateError> {
    let pipeline = pipelines
        .iter()
        .find(|p| p.stage(env).is_some() && p.model_validation.is_some())
        .ok_or_else(|| ValidateError::NoSpec { env: env.to_owned() })?;
    let spec = pipeline.model_validation.clone().unwrap_or_default();
    parse_spec(spec, &pipeline.file).map(|s| (s, pipeline.file.clone()))
}

/// Decodes a spec from JSON (the pipeline's `modelValidation` block or a `--spec` file).
pub fn parse_spec(spec: serde_json::Value, file: &str) -> Result<ValidationSpec, ValidateError> {
    serde_path_to_error::deserialize(spec)
        .map_err(|e| ValidateError::InvalidSpec { file: file.to_owned(), message: e.to_string() })
}

/// Reads a spec file (YAML), for `validate --spec FILE`.
pub fn read_spec_file(path: &Path) -> Result<ValidationSpec, ValidateError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ValidateError::InvalidSpec { file: file.clone(), message: e.to_string() })?;
    let documents =
        crate::yaml::parse_documents(&text).map_err(|e| ValidateError::InvalidSpec {
            file: file.clone(),
            message: format!("line {}: {}", e.line, e.message),
        })?;
    let mut value = documents.into_iter().next().map(|d| d.value).unwrap_or_default();
    // A spec file may hold the bare spec or a `modelValidation:` block.
    if let Some(inner) = value.get_mut("modelValidation") {
        value = inner.take();
    }
    parse_spec(value, &file)
}

/// The env whose model is the regression baseline for `env`: the one `env` promotes into.
pub fn baseline_env<'a>(
    pipelines: &[Pipeline],
    environments: &'a [Arc<Environment>],
    env: &str,
) -> Option<&'a Environment> {
    let downstream = pipelines.iter().find_map(|p| p.downstream_of(env))?;
    environments.iter().find(|e| e.name == downstream.env).map(AsRef::as_ref)
}

/// Validates `candidate` against `spec`, with `baseline` for the regression check.
pub fn run(
    root: &Path,
    candidate: &ModelRef,
    spec: &ValidationSpec,
    baseline: Option<&ModelRef>,
) -> Result<ValidationReport, ValidateError> {
    let baseline = baseline.map(model_ref);
    run_model(root, &model_ref(candidate), spec, baseline.as_ref(), &Limits::default())
}

/// The one runner every model gate uses (sync, `validate`, promotion).
pub fn run_model(
    root: &Path,
    candidate: &coxswain_model::ModelRef,
    spec: &ValidationSpec,
    baseline: Option<&coxswain_model::ModelRef>,
    limits: &Limits,
) -> Result<ValidationReport, ValidateError> {
    Ok(coxswain_model::validate(root, candidate, spec, baseline, limits)?)
}
