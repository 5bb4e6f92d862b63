//! The command line: argument parsing, one call into the [`Engine`] per command, and rendering
//! ([`render`]). Lives in the library so the `coxswain` binary and the desktop app's headless mode
//! (`coxswain-app --sync`) share it.

mod args;
mod duration;
mod logging;
mod progress;
mod render;
mod rollout;
mod signals;
#[cfg(feature = "model-validation")]
mod validation;

use crate::engine::{
    Connector, Engine, EngineError, Followed, ForgeSettings, RollbackRequest, RolloutRequest,
    SyncOutcome, SyncRequest, connector_with_kubeconfig,
};
use crate::exit::ExitCode;
use crate::plan::PlanOptions;
use crate::promote::workload::WorkloadEdit;
use crate::rollout::{Pause, Strategy};
use crate::sync::{CancelToken, SyncStatus};
use args::{Cli, Command, SetWhat, SyncArgs};
use clap::{CommandFactory as _, FromArgMatches as _, Parser as _};
use logging::init_tracing;
use progress::TerminalProgress;
use render::Format;
use rollout::{edit_command, rollout_command};
use signals::cancel_on_signals;
use std::time::Duration;

/// Runs the command line given by the process arguments.
pub fn main() -> std::process::ExitCode {
    main_from(std::env::args_os())
}

/// Runs a command line (the first item is the program name).
pub fn main_from<I, T>(args: I) -> std::process::ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    // `--kubeconfig` picks the connector; a command line that does not parse is reported by
    // `run_with`, which parses it again.
    let kubeconfig = Cli::try_parse_from(&args).ok().and_then(|cli| cli.kubeconfig);
    main_with(args, connector_with_kubeconfig(kubeconfig))
}

/// [`main_from`] with the clusters `connector` hands out.
pub fn main_with<I, T>(args: I, connector: Connector) -> std::process::ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    run_with(args, connector).into()
}

/// Runs a command line and returns its exit code (tests drive the CLI and the app over one
/// in-memory cluster this way).
pub fn run_with<I, T>(args: I, connector: Connector) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = Cli::command().get_matches_from(args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let misplaced = Cli::misplaced_options(&matches);
    let ansi = cli.color.colours(
        std::env::var_os("NO_COLOR").as_deref(),
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    );
    init_tracing(cli.verbose, ansi);
    render::set_colour(cli.color);
    if let (false, Some(command)) = (misplaced.is_empty(), matches.subcommand_name()) {
        if misplaced.iter().any(|option| option == "--sync") {
            eprintln!(
                "error: --sync runs the headless sync; it cannot be combined with `{command}`"
            );
        } else {
            eprintln!(
                "error: {} before the command `{command}` would do nothing there; put it after \
                 the command (`coxswain {command} {} …`)",
                misplaced.join(", "),
                misplaced[0]
            );
        }
        return ExitCode::Error;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::Error;
        }
    };
    match runtime.block_on(run(cli, connector)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            error.exit_code()
        }
    }
}

/// Whether these arguments ask for headless work (the desktop app checks this before any GUI
/// code runs, since GTK cannot start without a display).
pub fn is_headless_invocation(args: &[String]) -> bool {
    args.iter()
        .skip(1)
        .any(|a| a == "--sync" || a == "--help" || a == "-h" || a == "--version" || a == "-V")
        || args.get(1).is_some_and(|a| {
            matches!(
                a.as_str(),
                "check"
                    | "plan"
                    | "sync"
                    | "history"
                    | "rollback"
                    | "validate"
                    | "promote"
                    | "completions"
                    | "man"
                    | "rollout"
                    | "set"
                    | "scale"
                    | "help"
            )
        })
}

async fn run(cli: Cli, connector: Connector) -> Result<ExitCode, EngineError> {
    match &cli.command {
        Some(Command::Completions { shell }) => {
            let mut command = Cli::command();
            clap_complete::generate(*shell, &mut command, "coxswain", &mut std::io::stdout());
            return Ok(ExitCode::Ok);
        }
        Some(Command::Man) => return Ok(render::man_page(Cli::command())),
        _ => {}
    }
    #[cfg(feature = "model-validation")]
    if let Some(Command::Validate { model: Some(model), spec: Some(spec), sha256, output, .. }) =
        &cli.command
        && crate::repo::Repo::open(&cli.repo).is_err()
    {
        return validation::standalone_validation(model, sha256.as_deref(), spec, *output);
    }
    let engine = Engine::open(&cli.repo, connector)?;
    match cli.command {
        None if cli.sync => sync_command(&engine, cli.sync_args).await,
        None => Err(EngineError::Usage {
            message: "nothing to do: give a command (see --help) or --sync".into(),
        }),
        Some(Command::Check { env, output }) => {
            let report = engine.check(env.as_deref())?;
            render::check(&report, output);
            Ok(report.exit_code())
        }
        Some(Command::Plan { env, context, output, detailed_exitcode, force_conflicts }) => {
            let options = PlanOptions { force_conflicts, ..PlanOptions::default() };
            let report = engine.plan_all(env.as_deref(), context.as_deref(), &options).await?;
            render::plan(&report, output);
            Ok(if report.summary.errors > 0 {
                ExitCode::Error
            } else if detailed_exitcode
                && (report.summary.has_changes()
                    || report.environments.iter().any(|plan| plan.rollout_writes))
            {
                ExitCode::Changes
            } else {
                ExitCode::Ok
            })
        }
        Some(Command::Sync(args)) => sync_command(&engine, args).await,
        // Answered above, before a repo is needed.
        Some(Command::Completions { .. } | Command::Man) => Ok(ExitCode::Ok),
        Some(Command::History { env, context, output }) => {
            let (revisions, unreadable) = engine.history_listing(&env, context.as_deref()).await?;
            render::history(&env, &revisions, &unreadable, output);
            Ok(ExitCode::Ok)
        }
        #[cfg(feature = "model-validation")]
        Some(Command::Validate { env, model, sha256, spec, against_env, no_baseline, output }) => {
            let request = crate::engine::ValidateRequest {
                env,
                model,
                sha256,
                spec,
                against_env,
                no_baseline,
            };
            let results = engine.validate(&request)?;
            Ok(validation::validations(&results, output))
        }
        Some(Command::Rollback {
            env,
            to,
            git,
            context,
            dry_run,
            yes,
            timeout,
            allow_unverified,
        }) => {
            let request = RollbackRequest {
                to,
                context,
                dry_run,
                timeout,
                with_git: git,
                allow_unverified,
                fingerprint: None,
                cancel: CancelToken::new(),
            };
            let signals = cancel_on_signals(&request.cancel);
            let progress = TerminalProgress::new(approved(yes, dry_run), true);
            let outcome = engine.rollback(&env, &request, &progress).await;
            signals.abort();
            let outcome = outcome?;
            progress.finish();
            render::rollback(&outcome, dry_run);
            Ok(render::sync_exit_code(std::slice::from_ref(&outcome.report)))
        }
        Some(Command::Set { what: SetWhat::Image { workload, assignment, git } }) => {
            let Some((container, image)) =
                assignment.split_once('=').filter(|(c, i)| !c.is_empty() && !i.is_empty())
            else {
                return Err(EngineError::Usage {
                    message: format!("expected CONTAINER=IMAGE, got {assignment:?}"),
                });
            };
            let edit = WorkloadEdit::Image { container: container.into(), image: image.into() };
            edit_command(&engine, workload, edit, git).await
        }
        Some(Command::Scale { workload, replicas, git }) => {
            edit_command(&engine, workload, WorkloadEdit::Replicas(replicas), git).await
        }
        Some(Command::Rollout { operation, workload, env, context, output }) => {
            rollout_command(&engine, operation, workload, &env, context, output).await
        }
        Some(Command::Promote {
            env,
            from,
            pipeline,
            no_push,
            dry_run,
            remote,
            github_repo,
            github_api,
            context,
            output,
        }) => {
            let mut options = crate::promote::PromoteOptions::new(&env);
            if let Some(from) = &from {
                options.command = format!("coxswain promote {env} --from {from}");
            }
            options.from = from;
            options.pipeline = pipeline;
            options.push = !no_push;
            options.dry_run = dry_run;
            options.remote = remote;
            let forge = ForgeSettings { repository: github_repo, api: github_api };
            let outcome = engine.promote(options.clone(), &forge, context.as_deref()).await?;
            render::promotion(&outcome, &options.command, output);
            Ok(outcome.exit_code())
        }
    }
}

/// Whether a write may go ahead without asking: `--yes`, a dry run (nothing to approve), or
/// `CI=true` (or 1), which approves as `--yes` does and says so on stderr — CI systems set it,
/// and a sync that writes because of a variable nobody typed must leave a trace in the log.
fn approved(yes: bool, dry_run: bool) -> bool {
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

async fn sync_command(engine: &Engine, args: SyncArgs) -> Result<ExitCode, EngineError> {
    let report_targets = render::parse_reports(&args.reports)?;
    let envs = engine.environments(args.env.as_deref())?;
    let progress =
        TerminalProgress::new(approved(args.yes, args.dry_run), args.output == Format::Text);
    let request = SyncRequest {
        context: args.context.clone(),
        dry_run: args.dry_run,
        force_conflicts: args.force_conflicts,
        prune_dangerous: args.prune_dangerous,
        timeout: args.timeout,
        concurrency: args.concurrency,
        ..SyncRequest::default()
    };
    let signals = cancel_on_signals(&request.cancel);
    let mut outcomes: Vec<SyncOutcome> = Vec::new();
    for env in &envs {
        if request.cancel.is_cancelled() {
            break; // the environments after an interrupted one are not started
        }
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
        outcomes.push(outcome);
    }
    let mut followed = Vec::new();
    if args.wait && !args.dry_run {
        for outcome in &outcomes {
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
    let code = render::sync(engine.root(), &outcomes, &report_targets, args.output)?;
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
