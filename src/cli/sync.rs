//! `coxswain sync` and `--sync`: every environment (or `--env`) in pipeline order, reports,
//! and `--wait` for rollout strategies.

use super::args::SyncArgs;
use super::progress::TerminalProgress;
use super::render::{self, Format};
use super::signals::cancel_on_signals;
use crate::engine::{Engine, EngineError, Followed, RolloutRequest, SyncOutcome, SyncRequest};
use crate::exit::ExitCode;
use crate::rollout::{Pause, Strategy};
use crate::sync::SyncStatus;
use std::time::{Duration, Instant};

/// Whether a write may go ahead without asking: `--yes`, a dry run (nothing to approve), or
/// `CI=true` (or 1), which approves as `--yes` does and says so on stderr — CI systems set it,
/// and a sync that writes because of a variable nobody typed must leave a trace in the log.
pub(super) fn approved(yes: bool, dry_run: bool) -> bool {
    if yes || dry_run {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if ci {
        eprintln!(
            "note: CI={} approves the sync as --yes does (pass --yes to say so)",
            std::env::var("CI").unwrap_or_default()
        );
    }
    ci
}

pub(super) async fn sync_command(engine: &Engine, args: SyncArgs) -> Result<ExitCode, EngineError> {
    let report_targets = render::parse_reports(&args.reports)?;
    let envs = engine.environments(args.env.as_deref())?;
    let progress =
        TerminalProgress::new(approved(args.yes, args.dry_run), args.output == Format::Text);
    let request = SyncRequest {
        context: args.context.clone(),
        dry_run: args.dry_run,
        offline: args.offline,
        force_conflicts: args.force_conflicts,
        prune_dangerous: args.prune_dangerous,
        timeout: args.timeout,
        concurrency: args.concurrency,
        ..SyncRequest::default()
    };
    let signals = cancel_on_signals(&request.cancel);
    let started = chrono::Local::now().fixed_offset();
    let mut outcomes: Vec<(SyncOutcome, Duration)> = Vec::new();
    for env in &envs {
        if request.cancel.is_cancelled() {
            break; // the environments after an interrupted one are not started
        }
        let clock = Instant::now();
        let outcome = engine.sync(&env.name, &request, &progress).await;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                signals.abort();
                return Err(error);
            }
        };
        if args.dry_run
            && args.output == Format::Text
            && let SyncOutcome::Finished { report, .. } = &outcome
        {
            render::dry_run_plan(report);
        }
        outcomes.push((outcome, clock.elapsed()));
    }
    let mut followed = Vec::new();
    if args.wait && !args.dry_run {
        for (outcome, _) in &outcomes {
            let SyncOutcome::Finished { report, .. } = outcome else { continue };
            let settled = matches!(report.status, SyncStatus::Synced | SyncStatus::NoChanges);
            if !settled || engine.env(&report.env)?.config.rollouts.is_empty() {
                continue;
            }
            // --timeout bounds the waits for health; the steps' own timed pauses come on top.
            let pauses: Duration = engine
                .env(&report.env)?
                .config
                .rollouts
                .values()
                .filter_map(|strategy| match strategy {
                    Strategy::Canary(canary) => Some(&canary.steps),
                    Strategy::BlueGreen(_) => None,
                })
                .flatten()
                .filter_map(|step| match step.pause {
                    Some(Pause::For(delay)) => Some(delay.0),
                    _ => None,
                })
                .sum();
            let rollout_request = RolloutRequest {
                context: args.context.clone(),
                cancel: request.cancel.clone(),
                timeout: args.timeout + pauses,
                ..RolloutRequest::default()
            };
            let text = args.output == Format::Text;
            let observe = move |statuses: &[crate::rollout::RolloutStatus]| {
                if text {
                    for status in statuses {
                        eprintln!("rollout {}/{}: {}", status.env, status.workload, status.message);
                    }
                }
            };
            match engine.follow_rollouts(&report.env, &rollout_request, &observe).await {
                Ok(result) => followed.push(result),
                Err(error) => {
                    signals.abort();
                    return Err(error);
                }
            }
        }
    }
    signals.abort();
    progress.finish();
    let code = render::sync(
        engine.root(),
        (started, &outcomes),
        &report_targets,
        args.output,
        args.offline,
    )?;
    if code != ExitCode::Ok {
        return Ok(code);
    }
    if args.output == Format::Text {
        for result in &followed {
            render::rollouts(result.statuses(), Format::Text);
        }
    }
    Ok(if followed.iter().any(|f| matches!(f, Followed::Degraded(_))) {
        eprintln!(
            "a canary or new colour is degraded: see above; `coxswain rollout abort` goes back to stable"
        );
        ExitCode::GateFailed
    } else if followed.iter().any(|f| matches!(f, Followed::TimedOut(_))) {
        eprintln!("a rollout did not finish within --timeout (plus its steps' pauses)");
        ExitCode::GateFailed
    } else if followed.iter().any(|f| matches!(f, Followed::Paused(_))) {
        ExitCode::RolloutPaused
    } else {
        ExitCode::Ok
    })
}
