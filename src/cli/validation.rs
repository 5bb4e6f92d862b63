//! How `coxswain validate` shows model validation reports (text, JSON, Markdown, GitHub).

use super::render::{Format, github, structured};
use crate::engine::EngineError;
use crate::exit::ExitCode;
use std::path::Path;

pub(super) fn validations(results: &[crate::engine::ModelValidation], output: Format) -> ExitCode {
    let mut code = ExitCode::Ok;
    let mut passed = Vec::new();
    for validation in results {
        match &validation.result {
            Ok(report) => {
                if !report.passed() && code == ExitCode::Ok {
                    code = ExitCode::GateFailed;
                }
                passed.push((validation, report));
            }
            Err(error) => {
                eprintln!("error: {}: {error}", validation.label);
                code = ExitCode::Error;
            }
        }
    }
    match output {
        Format::Json | Format::Yaml => {
            let reports: Vec<_> = passed
                .iter()
                .map(|(v, report)| {
                    serde_json::json!({"target": v.label, "baselineEnv": v.baseline_env, "passed": report.passed(), "report": report})
                })
                .collect();
            structured(output, &serde_json::json!({"schemaVersion": 1, "validations": reports}));
        }
        Format::Markdown => {
            for (v, report) in &passed {
                println!("#### Model validation: {}\n\n{}", v.label, report.render_markdown());
            }
        }
        Format::Text | Format::Github => {
            if output == Format::Github {
                for (v, report) in &passed {
                    let markdown = format!(
                        "#### Model validation: {}\n\n{}",
                        v.label,
                        report.render_markdown()
                    );
                    let failed = (!report.passed()).then(|| {
                        let title = format!("coxswain validate {}", v.label);
                        let message = "the model failed its validation spec (see the job summary)";
                        let annotation = crate::annotations::annotation(
                            crate::annotations::Level::Error,
                            None,
                            None,
                            &title,
                            message,
                        );
                        format!("{annotation}\n")
                    });
                    github(&failed.unwrap_or_default(), "", &markdown);
                }
            }
            for (v, report) in &passed {
                let against = v
                    .baseline_env
                    .as_deref()
                    .map(|e| format!(", compared with {e}'s model"))
                    .unwrap_or_default();
                println!(
                    "{}{against}: {}\n{}",
                    v.label,
                    if report.passed() { "passed" } else { "FAILED" },
                    report.render_text()
                );
            }
        }
    }
    code
}

/// `validate --model F --spec S` outside a Coxswain repo: the spec's paths are relative to the
/// spec file, the model's to the working directory; there is no baseline.
pub(super) fn standalone_validation(
    model: &str,
    sha256: Option<&str>,
    spec_file: &Path,
    output: Format,
) -> Result<ExitCode, EngineError> {
    let spec = crate::validate::read_spec_file(spec_file)?;
    let report = coxswain_model::validate_standalone(
        Path::new(model),
        sha256,
        &spec,
        spec_file,
        &coxswain_model::Limits::default(),
    )
    .map_err(crate::validate::ValidateError::from)?;
    match output {
        Format::Json | Format::Yaml => {
            let entry = serde_json::json!({"target": model, "baselineEnv": null, "passed": report.passed(), "report": report});
            structured(output, &serde_json::json!({"schemaVersion": 1, "validations": [entry]}));
        }
        Format::Markdown => {
            println!("#### Model validation: {model}\n\n{}", report.render_markdown());
        }
        Format::Text | Format::Github => {
            if output == Format::Github {
                let markdown =
                    format!("#### Model validation: {model}\n\n{}", report.render_markdown());
                github("", "", &markdown);
            }
            let verdict = if report.passed() { "passed" } else { "FAILED" };
            println!("{model}: {verdict}\n{}", report.render_text());
        }
    }
    Ok(if report.passed() { ExitCode::Ok } else { ExitCode::GateFailed })
}
