//! `coxswain rollback`: the restore through the sync's engine, printed as text, JSON, YAML or
//! Markdown, with the same `--report` files as `sync`.

use super::args::RollbackArgs;
use super::progress::TerminalProgress;
use super::render::{self, Format};
use super::signals::cancel_on_signals;
use super::sync::approved;
use crate::engine::{Engine, EngineError, RollbackOutcome, RollbackRequest, Verification};
use crate::exit::ExitCode;
use crate::report;
use crate::sync::CancelToken;
use std::fmt::Write as _;

pub(super) async fn rollback_command(
    engine: &Engine,
    args: RollbackArgs,
) -> Result<ExitCode, EngineError> {
    let report_targets = render::parse_reports(&args.reports)?;
    let env = args.env.get()?;
    let request = RollbackRequest {
        to: args.to,
        context: args.context,
        dry_run: args.dry_run,
        timeout: args.timeout,
        with_git: args.git,
        allow_unverified: args.allow_unverified,
        fingerprint: None,
        cancel: CancelToken::new(),
    };
    let signals = cancel_on_signals(&request.cancel);
    let text = args.output == Format::Text;
    let progress = TerminalProgress::new(approved(args.yes, args.dry_run), text);
    let started = chrono::Local::now().fixed_offset();
    let clock = std::time::Instant::now();
    let outcome = engine.rollback(&env, &request, &progress).await;
    let time = clock.elapsed();
    signals.abort();
    let outcome = outcome?;
    progress.finish();
    let reports = std::slice::from_ref(&outcome.report);
    let value = value(&outcome);
    let run = report::Timed { report: &outcome.report, time: Some(time) };
    let junit = render::junit("coxswain-rollback", started, &[run])?;
    render::write_reports(&report_targets, &junit, &markdown(&outcome), &value)?;
    match args.output {
        Format::Json | Format::Yaml => render::structured(args.output, &value),
        Format::Markdown => print!("{}", markdown(&outcome)),
        Format::Text | Format::Github => {
            if args.output == Format::Github {
                render::github(&crate::annotations::sync(reports), "", &markdown(&outcome));
            } else if args.dry_run {
                render::dry_run_plan(&outcome.report);
            }
            for line in lines(&outcome) {
                println!("{line}");
            }
        }
    }
    Ok(render::sync_exit_code(reports))
}

/// The sync document (`{"schemaVersion", "environments": [report]}`, so tools reading sync
/// reports read this one) with `rollback`: the revision restored, its verification, the commit.
fn value(outcome: &RollbackOutcome) -> serde_json::Value {
    let mut rollback = serde_json::to_value(outcome).unwrap_or(serde_json::Value::Null);
    if let Some(fields) = rollback.as_object_mut() {
        fields.remove("report");
    }
    let mut value = render::sync_value(std::slice::from_ref(&outcome.report));
    value["rollback"] = rollback;
    value
}

/// What happened, one sentence a line.
fn lines(outcome: &RollbackOutcome) -> Vec<String> {
    let report = &outcome.report;
    let number = outcome.target.number;
    let detail = report.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
    let mut lines = vec![format!(
        "{}: {} (revision {number} restored{detail})",
        report.env,
        report::status_text(report.status)
    )];
    lines.push(match &outcome.verification {
        Verification::Verified { commit } => format!("revision {number} matches commit {commit}"),
        Verification::Unverified { reason } => {
            format!("revision {number} was not verified against git: {reason}")
        }
    });
    match (&outcome.commit, &outcome.branch) {
        (Some(oid), Some(branch)) => lines
            .push(format!("committed {oid} on branch {branch}; open a pull request to merge it")),
        (Some(oid), None) => lines.push(format!(
            "committed {oid}: environments/{} now matches revision {number}",
            report.env
        )),
        _ => {}
    }
    lines
}

/// The sentences above a sync report of the restore.
fn markdown(outcome: &RollbackOutcome) -> String {
    let mut out = format!(
        "### Coxswain rollback: `{}` to revision {}\n\n",
        outcome.report.env, outcome.target.number
    );
    for line in lines(outcome).iter().skip(1) {
        let _ = writeln!(out, "- {line}");
    }
    out.push('\n');
    out.push_str(&report::markdown(std::slice::from_ref(&outcome.report)));
    out
}
