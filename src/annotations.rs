//! GitHub Actions output (`-o github`): workflow-command annotations that GitHub shows on the
//! pull request's diff at the file and line of each finding, and the job summary (Markdown
//! appended to `$GITHUB_STEP_SUMMARY`). Reports decide what to say; this module only encodes it.

use crate::check::CheckReport;
use crate::diagnostic::{Diagnostic, Severity};
use crate::plan::render::PlanReport;
use crate::sync::{SyncReport, SyncStatus};
use std::fmt::Write as _;
use std::io::Write as _;

/// An annotation's level (`::error`, `::warning`, `::notice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Notice => "notice",
        }
    }
}

/// One workflow command: `::error file=F,line=L,title=T::message`, escaped as the runner reads
/// it (`%`, CR and LF in the message; also `:` and `,` in properties), so a message with newlines
/// stays one annotation.
pub fn annotation(
    level: Level,
    file: Option<&str>,
    line: Option<u32>,
    title: &str,
    message: &str,
) -> String {
    let mut properties = Vec::new();
    if let Some(file) = file.filter(|f| !f.is_empty()) {
        properties.push(format!("file={}", escape_property(file)));
        if let Some(line) = line.filter(|l| *l > 0) {
            properties.push(format!("line={line}"));
        }
    }
    properties.push(format!("title={}", escape_property(title)));
    format!("::{} {}::{}", level.command(), properties.join(","), escape_data(message))
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// A diagnostic at its file and line, titled by its rule.
pub fn diagnostic(diagnostic: &Diagnostic, context: &str) -> String {
    let level = match diagnostic.severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
    };
    let title = format!("{context}: {}", diagnostic.code);
    annotation(level, Some(&diagnostic.file), Some(diagnostic.line), &title, &diagnostic.message)
}

/// `check`: every finding of every env and pipeline.
pub fn check(report: &CheckReport) -> String {
    let mut out = String::new();
    for env in &report.environments {
        for finding in env.errors.iter().chain(&env.findings) {
            let _ =
                writeln!(out, "{}", diagnostic(finding, &format!("coxswain check {}", env.name)));
        }
    }
    for finding in &report.pipeline_errors {
        let _ = writeln!(out, "{}", diagnostic(finding, "coxswain check pipelines"));
    }
    out
}

/// `plan`: what blocks a sync, at its file and line, and one notice per env with changes.
pub fn plan(report: &PlanReport) -> String {
    let mut out = String::new();
    for env in &report.environments {
        for error in &env.errors {
            let _ = writeln!(out, "{}", diagnostic(error, &format!("coxswain plan {}", env.env)));
        }
        let changes = env.objects.iter().filter(|o| o.action.is_change()).count();
        if changes > 0 {
            let message =
                format!("{changes} object(s) would change in namespace {}", env.namespace);
            let _ = writeln!(
                out,
                "{}",
                annotation(
                    Level::Notice,
                    None,
                    None,
                    &format!("coxswain plan {}", env.env),
                    &message
                )
            );
        }
    }
    out
}

/// `sync`: each env that did not end well, at the file and line that caused it when known.
pub fn sync(reports: &[SyncReport]) -> String {
    let mut out = String::new();
    for report in reports {
        let level = match report.status {
            SyncStatus::NoChanges | SyncStatus::DryRun | SyncStatus::Synced => continue,
            SyncStatus::Cancelled => Level::Warning,
            _ => Level::Error,
        };
        let Some(failure) = &report.error else { continue };
        let (file, line) = failure.location.as_deref().map_or((None, None), split_location);
        let title =
            format!("coxswain sync {}: {}", report.env, crate::report::status_text(report.status));
        let _ = writeln!(out, "{}", annotation(level, file, line, &title, &failure.message));
    }
    out
}

/// `file:line` as diagnostics print it.
fn split_location(location: &str) -> (Option<&str>, Option<u32>) {
    match location.rsplit_once(':') {
        Some((file, line)) if line.parse::<u32>().is_ok() => (Some(file), line.parse().ok()),
        _ => (Some(location), None),
    }
}

/// Appends `markdown` to the job summary when running in GitHub Actions (`GITHUB_STEP_SUMMARY`
/// names the file); `Ok(false)` elsewhere.
pub fn append_step_summary(markdown: &str) -> std::io::Result<bool> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(false);
    };
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(file, "{markdown}")?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_properties_are_escaped_as_the_runner_reads_them() {
        assert_eq!(
            annotation(
                Level::Error,
                Some("envs/a,b.yaml"),
                Some(7),
                "rule: x",
                "100% bad\nsee: docs"
            ),
            "::error file=envs/a%2Cb.yaml,line=7,title=rule%3A x::100%25 bad%0Asee: docs"
        );
        assert_eq!(annotation(Level::Notice, None, Some(3), "t", "m"), "::notice title=t::m");
        assert_eq!(
            split_location("environments/dev/app.yaml:12"),
            (Some("environments/dev/app.yaml"), Some(12))
        );
        assert_eq!(split_location("env.yaml"), (Some("env.yaml"), None));
    }
}
