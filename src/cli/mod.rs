//! The command line: argument parsing, one call into the [`Engine`] per command, and rendering
//! ([`render`]). Lives in the library so the `coxswain` binary and the desktop app's headless mode
//! (`coxswain-app --sync`) share it.

mod args;
mod duration;
mod env_arg;
mod logging;
mod plan;
mod progress;
mod render;
mod rollback;
mod rollout;
mod signals;
mod sync;
#[cfg(feature = "model-validation")]
mod validation;
mod version;

use crate::engine::{Connector, Engine, EngineError, connector_with_kubeconfig};
use crate::exit::ExitCode;
use crate::promote::workload::WorkloadEdit;
use args::{Cli, Command, SetWhat};
use clap::{CommandFactory as _, FromArgMatches as _, Parser as _};
use logging::init_tracing;
pub use logging::tracing_filter;
use rollout::{edit_command, rollout_command};
use sync::sync_command;

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
                    | "version"
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
        Some(Command::Version { client, context, timeout, output }) => {
            let (context, timeout, output) = (context.clone(), *timeout, *output);
            return Ok(
                version::version_command(&connector, *client, context, timeout, output).await
            );
        }
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
            let report = engine.check(env.get().as_deref())?;
            render::check(&report, output);
            Ok(report.exit_code())
        }
        Some(Command::Plan(args)) => plan::plan_command(&engine, args).await,
        Some(Command::Sync(command)) => sync_command(&engine, command.get()).await,
        // Answered above, before a repo is needed.
        Some(Command::Completions { .. } | Command::Man | Command::Version { .. }) => {
            Ok(ExitCode::Ok)
        }
        Some(Command::History { env, context, output }) => {
            let env = env.get()?;
            let (revisions, unreadable) = engine.history_listing(&env, context.as_deref()).await?;
            render::history(&env, &revisions, &unreadable, output);
            Ok(ExitCode::Ok)
        }
        #[cfg(feature = "model-validation")]
        Some(Command::Validate { env, model, sha256, spec, against_env, no_baseline, output }) => {
            let request = crate::engine::ValidateRequest {
                env: env.get(),
                model,
                sha256,
                spec,
                against_env,
                no_baseline,
            };
            let results = engine.validate(&request)?;
            Ok(validation::validations(&results, output))
        }
        Some(Command::Rollback(args)) => rollback::rollback_command(&engine, args).await,
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
            github,
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
            let forge = github.settings();
            let outcome = engine.promote(options.clone(), &forge, context.as_deref()).await?;
            render::promotion(&outcome, &options.command, output);
            Ok(outcome.exit_code())
        }
    }
}
