//! What the CLI prints, and the exit codes its outcomes mean. No behaviour: every decision was
//! made by the engine.

use super::args::ColorChoice;
use crate::check::CheckReport;
use crate::engine::{EngineError, SyncOutcome, failure_exit_code};
use crate::exit::ExitCode;
use crate::history::Revision;
use crate::plan::render::PlanReport;
use crate::promote::PromoteOutcome;
use crate::report;
use crate::sync::{SyncReport, SyncStatus};
use chrono::{DateTime, FixedOffset};
use clap::ValueEnum;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Format {
    Text,
    Json,
    Markdown,
    /// The JSON document as YAML (same fields, same schema).
    Yaml,
    /// GitHub Actions: annotations at each finding's file and line, the text report, and the
    /// Markdown report appended to the job summary (`$GITHUB_STEP_SUMMARY`).
    Github,
}

/// `-o github`: annotations and the text on stdout, the Markdown in the job summary.
pub(super) fn github(annotations: &str, text: &str, markdown: &str) {
    print!("{annotations}{text}");
    if let Err(error) = crate::annotations::append_step_summary(markdown) {
        eprintln!("warning: cannot append to the job summary ($GITHUB_STEP_SUMMARY): {error}");
    }
}

/// Prints `value` as JSON, or as YAML for `-o yaml`: one schema, two notations.
pub(super) fn structured<T: serde::Serialize>(output: Format, value: &T) {
    if output == Format::Yaml {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        print!("{}", crate::yaml::to_yaml(&value));
    } else {
        println!("{}", to_json(value));
    }
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

static COLOUR: std::sync::OnceLock<ColorChoice> = std::sync::OnceLock::new();

/// Sets `--color` for this process's rendering (first call wins).
pub(super) fn set_colour(choice: ColorChoice) {
    let _ = COLOUR.set(choice);
}

fn colour() -> bool {
    let choice = COLOUR.get().copied().unwrap_or_default();
    choice.colours(std::env::var_os("NO_COLOR").as_deref(), std::io::stdout().is_terminal())
}

pub(super) fn check(report: &CheckReport, output: Format) {
    match output {
        Format::Json | Format::Yaml => structured(output, report),
        Format::Text => print!("{}", report.render_text()),
        Format::Markdown => print!("{}", report.render_markdown()),
        Format::Github => github(
            &crate::annotations::check(report),
            &report.render_text(),
            &report.render_markdown(),
        ),
    }
}

pub(super) fn plan(report: &PlanReport, output: Format) {
    match output {
        Format::Text => print!("{}", report.render_text(colour())),
        Format::Markdown => print!("{}", report.render_markdown()),
        Format::Json | Format::Yaml => structured(output, report),
        Format::Github => github(
            &crate::annotations::plan(report),
            &report.render_text(false),
            &report.render_markdown(),
        ),
    }
}

/// The plan of a dry run, as `plan` shows it.
pub(super) fn dry_run_plan(report: &SyncReport) {
    if let Some(plan) = &report.plan {
        print!("{}", PlanReport::new(vec![plan.clone()]).render_text(colour()));
    }
}

/// The worst outcome decides: lock held 4, errors 1, gates/health 3.
pub(super) fn sync_exit_code(reports: &[SyncReport]) -> ExitCode {
    let rank = |code: &ExitCode| match code {
        ExitCode::Ok | ExitCode::Changes => 0,
        ExitCode::GateFailed | ExitCode::RolloutPaused => 1,
        ExitCode::Error => 2,
        ExitCode::LockHeld => 3,
        ExitCode::Interrupted => 4,
    };
    reports
        .iter()
        .map(|r| match r.status {
            SyncStatus::NoChanges | SyncStatus::DryRun | SyncStatus::Synced => ExitCode::Ok,
            SyncStatus::Unhealthy | SyncStatus::RolledBack => ExitCode::GateFailed,
            SyncStatus::LockHeld => ExitCode::LockHeld,
            SyncStatus::Blocked
            | SyncStatus::Failed
            | SyncStatus::Cancelled
            | SyncStatus::Interrupted => {
                r.failure_kind().map_or(ExitCode::Error, failure_exit_code)
            }
        })
        .max_by_key(rank)
        .unwrap_or(ExitCode::Ok)
}

/// `--report KIND=FILE` arguments.
pub(super) fn parse_reports(specs: &[String]) -> Result<Vec<(String, PathBuf)>, EngineError> {
    specs
        .iter()
        .map(|spec| match spec.split_once('=') {
            Some((kind @ ("junit" | "markdown" | "json"), file)) if !file.is_empty() => {
                Ok((kind.to_owned(), PathBuf::from(file)))
            }
            _ => Err(EngineError::Usage {
                message: format!(
                    "--report {spec}: expected junit=FILE, markdown=FILE or json=FILE"
                ),
            }),
        })
        .collect()
}

/// Writes the `--report` files: the `JUnit`, Markdown and JSON documents given (the last two
/// are what `-o markdown` and `-o json` print).
pub(super) fn write_reports(
    targets: &[(String, PathBuf)],
    junit: &str,
    markdown: &str,
    json: &serde_json::Value,
) -> Result<(), EngineError> {
    for (kind, path) in targets {
        let text = match kind.as_str() {
            "junit" => junit.to_owned(),
            "markdown" => markdown.to_owned(),
            _ => to_json(json),
        };
        std::fs::write(path, text).map_err(|e| EngineError::Usage {
            message: format!("writing the report {}: {e}", path.display()),
        })?;
    }
    Ok(())
}

/// [`report::junit`] of a run that started at `started`.
pub(super) fn junit(
    suite: &str,
    started: DateTime<FixedOffset>,
    runs: &[report::Timed<'_>],
) -> Result<String, EngineError> {
    report::junit(suite, Some(started), runs)
        .map_err(|e| EngineError::Usage { message: format!("cannot write the JUnit report: {e}") })
}

pub(super) fn sync_value(reports: &[SyncReport]) -> serde_json::Value {
    serde_json::json!({"schemaVersion": 1, "environments": reports})
}

/// The results of `sync` / `--sync`: reports written, outcomes printed, the exit code.
pub(super) fn sync(
    root: &Path,
    (started, outcomes): (DateTime<FixedOffset>, &[(SyncOutcome, Duration)]),
    report_targets: &[(String, PathBuf)],
    output: Format,
    offline_expected: bool,
) -> Result<ExitCode, EngineError> {
    let mut reports = Vec::new();
    let mut times = Vec::new();
    let mut notes = Vec::new();
    let mut offline = Vec::new();
    for (outcome, time) in outcomes {
        match outcome {
            SyncOutcome::Finished { report, notes: env_notes } => {
                reports.push((**report).clone());
                times.push(*time);
                notes.extend(env_notes.iter().map(|n| format!("{}: {n}", report.env)));
            }
            SyncOutcome::Offline { env, context, reason, notes: env_notes } => {
                notes.extend(env_notes.iter().map(|n| format!("{env}: {n}")));
                offline.push((env.as_str(), context.as_deref(), reason.as_str()));
            }
        }
    }
    let mut document = sync_value(&reports);
    if !offline.is_empty() {
        document["offline"] = offline
            .iter()
            .map(|(env, _, reason)| serde_json::json!({"env": env, "reason": reason}))
            .collect();
    }
    let runs: Vec<report::Timed<'_>> = reports
        .iter()
        .zip(&times)
        .map(|(report, time)| report::Timed { report, time: Some(*time) })
        .collect();
    let junit = junit("coxswain-sync", started, &runs)?;
    write_reports(report_targets, &junit, &report::markdown(&reports), &document)?;
    let listing = offline_listing(root, &offline, offline_expected);
    match output {
        Format::Json | Format::Yaml => {
            structured(output, &document);
            eprint!("{listing}");
        }
        Format::Markdown => print!("{}{listing}", report::markdown(&reports)),
        Format::Text | Format::Github => {
            if output == Format::Github {
                github(&crate::annotations::sync(&reports), "", &report::markdown(&reports));
            }
            for r in &reports {
                let detail = r.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
                println!("{}: {}{detail}", r.env, report::status_text(r.status));
            }
            for note in &notes {
                println!("{note}");
            }
            print!("{listing}");
        }
    }
    let code = sync_exit_code(&reports);
    if offline.is_empty() || offline_expected || code != ExitCode::Ok {
        return Ok(code);
    }
    let names: Vec<&str> = offline.iter().map(|o| o.0).collect();
    eprintln!(
        "error: the dry run could not reach the cluster of {}, so it was not checked against \
         one; pass --offline if a check without a cluster is what you want",
        names.join(", ")
    );
    Ok(ExitCode::Error)
}

/// The environments a dry run checked without a cluster, and the command that checks them
/// against one.
fn offline_listing(root: &Path, offline: &[(&str, Option<&str>, &str)], expected: bool) -> String {
    use std::fmt::Write as _;
    if offline.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = offline.iter().map(|o| o.0).collect();
    let why = if expected { "Offline (--offline)" } else { "No cluster reachable" };
    let mut out = format!(
        "\n{why}; checked everything that needs none (manifests, policy, models) for: {}.\n",
        names.join(", ")
    );
    for (env, context, reason) in offline {
        let context = context.map(|c| format!(" --context {c}")).unwrap_or_default();
        let _ = writeln!(out, "  {env}: {reason}");
        let _ = writeln!(
            out,
            "  to preview and sync it against a cluster: coxswain --sync --repo {} --env {env}{context}",
            root.display()
        );
    }
    out
}

/// A set-image or scale edit: text, or the outcome as JSON.
pub(super) fn workload_edit(outcome: &crate::promote::workload::EditOutcome, output: Format) {
    match output {
        Format::Json | Format::Yaml => structured(output, &edit_value(outcome)),
        // The command refused Markdown and GitHub output before it ran (`text_or_json`).
        Format::Text | Format::Markdown | Format::Github => print!("{}", outcome.render_text()),
    }
}

fn edit_value(outcome: &crate::promote::workload::EditOutcome) -> serde_json::Value {
    let mut report = serde_json::json!({"schemaVersion": 1});
    if let (Some(map), Ok(serde_json::Value::Object(fields))) =
        (report.as_object_mut(), serde_json::to_value(outcome))
    {
        map.extend(fields);
    }
    report
}

/// A set-image or scale edit with `--sync` as one JSON or YAML document: the edit, and under
/// `sync` the sync's report as `coxswain sync -o json` prints it (`null`: nothing synced).
pub(super) fn workload_edit_synced(
    outcome: &crate::promote::workload::EditOutcome,
    synced: Option<&SyncOutcome>,
    output: Format,
) -> ExitCode {
    let reports: Vec<SyncReport> = synced
        .into_iter()
        .filter_map(|s| match s {
            SyncOutcome::Finished { report, .. } => Some((**report).clone()),
            SyncOutcome::Offline { .. } => None,
        })
        .collect();
    let mut value = edit_value(outcome);
    value["sync"] = if synced.is_some() { sync_value(&reports) } else { serde_json::Value::Null };
    structured(output, &value);
    sync_exit_code(&reports)
}

/// Commands that print only text or JSON refuse the other formats before they do anything.
pub(super) fn text_or_json(command: &str, output: Format) -> Result<(), EngineError> {
    match output {
        Format::Text | Format::Json | Format::Yaml => Ok(()),
        Format::Markdown | Format::Github => Err(EngineError::Usage {
            message: format!(
                "`coxswain {command}` prints text, JSON or YAML only (-o text|json|yaml)"
            ),
        }),
    }
}

/// Rollout statuses: text, or `{"schemaVersion": 1, "rollouts": [...]}`.
pub(super) fn rollouts(statuses: &[crate::rollout::RolloutStatus], output: Format) {
    match output {
        Format::Json | Format::Yaml => {
            let report = serde_json::json!({"schemaVersion": 1, "rollouts": statuses});
            structured(output, &report);
        }
        Format::Text | Format::Markdown | Format::Github => {
            if statuses.is_empty() {
                println!("no rollout strategies declared (rollouts: in env.yaml)");
            }
            for status in statuses {
                print!("{}", status.render_text());
            }
        }
    }
}

pub(super) fn history(
    env: &str,
    revisions: &[Revision],
    unreadable: &[crate::history::Unreadable],
    output: Format,
) {
    match output {
        Format::Json | Format::Yaml => {
            let mut report =
                serde_json::json!({"schemaVersion": 1, "env": env, "revisions": revisions});
            if !unreadable.is_empty() {
                report["unreadable"] = serde_json::json!(unreadable);
            }
            structured(output, &report);
        }
        Format::Markdown => {
            print!("{}", crate::history::render_markdown(env, revisions, unreadable));
        }
        Format::Text | Format::Github => {
            if output == Format::Github {
                github("", "", &crate::history::render_markdown(env, revisions, unreadable));
            }
            if revisions.is_empty() {
                println!("{env}: no revisions yet");
            }
            println!(
                "{:>4}  {:<20}  {:<10}  {:<9}  {:<24}  MESSAGE",
                "REV", "TIME", "GIT", "OUTCOME", "AUTHOR"
            );
            for r in revisions {
                println!(
                    "{:>4}  {:<20}  {:<10}  {:<9}  {:<24}  {}",
                    r.number,
                    r.time,
                    r.short_sha(),
                    r.outcome_name(),
                    r.author,
                    r.message
                );
            }
            for u in unreadable {
                eprintln!("warning: skipped unreadable revision {}: {}", u.object, u.reason);
            }
        }
    }
}

pub(super) fn promotion(outcome: &PromoteOutcome, command: &str, output: Format) {
    match output {
        Format::Text => print!("{}", outcome.render_text()),
        Format::Markdown => print!("{}", outcome.render_markdown(command)),
        Format::Json | Format::Yaml => structured(output, outcome),
        Format::Github => github("", &outcome.render_text(), &outcome.render_markdown(command)),
    }
}

/// The manual page of `command`, in roff, on stdout.
pub(super) fn man_page(command: clap::Command) -> ExitCode {
    let mut page = Vec::new();
    match clap_mangen::Man::new(command).render(&mut page) {
        Ok(()) => {
            print!("{}", String::from_utf8_lossy(&page));
            ExitCode::Ok
        }
        Err(error) => {
            eprintln!("error: cannot render the manual page: {error}");
            ExitCode::Error
        }
    }
}
