//! `validate`: which models to check against which spec and baseline, decided once here; the
//! runner is [`crate::validate::run`], the same one the sync gate and promotion use.

use super::{Engine, EngineError};
use crate::repo::{Environment, ModelRef};
use crate::validate::{self, ValidateError, ValidationReport};
use std::path::PathBuf;

/// What to validate: every env's model (or `env`'s), or one file with a spec.
#[derive(Debug, Clone, Default)]
pub struct ValidateRequest {
    pub env: Option<String>,
    /// A model file (repo-relative) instead of an env's model; needs `spec`.
    pub model: Option<String>,
    pub sha256: Option<String>,
    pub spec: Option<PathBuf>,
    /// Compare with this env's model (default: the env the validated one promotes into).
    pub against_env: Option<String>,
    pub no_baseline: bool,
}

/// One model's validation.
#[derive(Debug)]
pub struct ModelValidation {
    /// `dev (iris 1.1.0)` or the model's path.
    pub label: String,
    /// The env whose model was the regression baseline.
    pub baseline_env: Option<String>,
    pub result: Result<ValidationReport, ValidateError>,
}

impl Engine {
    /// Validates the requested models; a model that cannot be validated at all is an `Err` in
    /// its [`ModelValidation`], not a failure of the whole request.
    pub fn validate(&self, request: &ValidateRequest) -> Result<Vec<ModelValidation>, EngineError> {
        let environments = self.environments(None)?;
        let (pipelines, _) = self.pipelines();
        let find_env = |name: &str| {
            environments.iter().find(|e| e.name == name).map(AsRef::as_ref).ok_or_else(|| {
                EngineError::Usage {
                    message: format!(
                        "no environment \"{name}\" (found: {})",
                        self.env_names().join(", ")
                    ),
                }
            })
        };
        let against = request.against_env.as_deref().map(find_env).transpose()?;
        let mut jobs: Vec<(String, ModelRef, validate::ValidationSpec, Option<&Environment>)> =
            Vec::new();
        if let (Some(path), Some(spec_file)) = (&request.model, &request.spec) {
            let spec = validate::read_spec_file(spec_file)?;
            let candidate = ModelRef {
                name: path.clone(),
                version: None,
                path: path.clone(),
                sha256: request.sha256.clone(),
            };
            jobs.push((path.clone(), candidate, spec, against));
        } else {
            let selected: Vec<&Environment> = match &request.env {
                Some(name) => vec![find_env(name)?],
                None => environments
                    .iter()
                    .filter(|e| e.config.model.is_some())
                    .map(AsRef::as_ref)
                    .collect(),
            };
            for env in selected {
                let model = env
                    .config
                    .model
                    .clone()
                    .ok_or_else(|| ValidateError::NoModel { env: env.name.clone() })?;
                let (spec, _) = validate::spec_for_env(&pipelines, &env.name)?;
                let baseline = against
                    .or_else(|| validate::baseline_env(&pipelines, &environments, &env.name));
                let label = format!(
                    "{} ({} {})",
                    env.name,
                    model.name,
                    model.version.as_deref().unwrap_or("unversioned")
                );
                jobs.push((label, model, spec, baseline));
            }
        }
        Ok(jobs
            .into_iter()
            .map(|(label, candidate, spec, baseline_env)| {
                let baseline = if request.no_baseline {
                    None
                } else {
                    baseline_env.and_then(|e| e.config.model.clone())
                };
                let result = validate::run(self.root(), &candidate, &spec, baseline.as_ref());
                let baseline_env =
                    baseline_env.filter(|_| baseline.is_some()).map(|e| e.name.clone());
                ModelValidation { label, baseline_env, result }
            })
            .collect())
    }
}
