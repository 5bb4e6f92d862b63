//! The command line: argument parsing and dispatch to the library. Lives in the library so the
//! `coxswain` binary and the desktop app's headless mode (`coxswain-app --sync`) share it.

// Doc comments here are clap help text shown verbatim to users: no Markdown backticks.
#![allow(clippy::doc_markdown)]

mod progress;

use crate::check::check_repo;
use crate::cluster::{self, Cluster, ClusterError};
use crate::exit::ExitCode;
use crate::plan::render::PlanReport;
use crate::plan::{PlanOptions, plan_env};
use crate::repo::{Environment, Repo};
use crate::sync::{
    RollbackError, SyncOptions, SyncReport, SyncStatus, rollback, rollback_target, sync_env,
};
use crate::{git, history, pipeline, policy, report};
use clap::{Args, Parser, Subcommand, ValueEnum};
use progress::TerminalProgress;
use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "coxswain",
    version,
    about = "GitOps for machine-learning deployments on Kubernetes"
)]
struct Cli {
    /// Path of the GitOps repo (holding environments/ and pipelines/).
    #[arg(long, global = true, default_value = ".", env = "COXSWAIN_REPO")]
    repo: PathBuf,
    /// Log verbosity: -v info, -vv debug (or set RUST_LOG).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Headless sync of every environment (or --env): the same as `coxswain sync`.
    #[arg(long)]
    sync: bool,
    #[command(flatten)]
    sync_args: SyncArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Load every environment and pipeline and run the policy gate (no cluster needed).
    Check {
        /// Only this environment.
        #[arg(long)]
        env: Option<String>,
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Show what a sync would change: an exact, noise-free diff against the live cluster.
    Plan {
        /// Only this environment.
        #[arg(long)]
        env: Option<String>,
        /// kubeconfig context (default: the env's `context`, else the current context).
        #[arg(long)]
        context: Option<String>,
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
        /// Exit 2 when there are changes, 0 when there are none (as Terraform does).
        #[arg(long)]
        detailed_exitcode: bool,
        /// Plan as if taking ownership of fields other managers own.
        #[arg(long)]
        force_conflicts: bool,
    },
    /// Apply git to the cluster: preview, lock, apply in order, wait for health, prune, record.
    Sync(SyncArgs),
    /// List an environment's sync revisions.
    History {
        #[arg(long)]
        env: String,
        #[arg(long)]
        context: Option<String>,
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Validate models with tract-onnx: sha256 pin, contract, accuracy, golden outputs, latency,
    /// regression against the model of the env it promotes into.
    #[cfg(feature = "model-validation")]
    Validate {
        /// Validate this env's model (default: every env that declares one).
        #[arg(long, conflicts_with = "model")]
        env: Option<String>,
        /// Validate this ONNX file (repo-relative) instead of an env's model; needs --spec.
        /// Outside a Coxswain repo: relative to the working directory, and the spec's paths
        /// relative to the spec file.
        #[arg(long, requires = "spec")]
        model: Option<String>,
        /// Expected sha256 of --model.
        #[arg(long, requires = "model")]
        sha256: Option<String>,
        /// A YAML file holding the validation spec (or a modelValidation: block).
        #[arg(long, requires = "model")]
        spec: Option<PathBuf>,
        /// Compare with this env's model (default: the env the validated one promotes into).
        #[arg(long)]
        against_env: Option<String>,
        /// Skip the regression comparison.
        #[arg(long, conflicts_with = "against_env")]
        no_baseline: bool,
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Restore an earlier revision (preview first), recorded as a new revision.
    Rollback {
        #[arg(long)]
        env: String,
        /// The revision to restore (default: the last successful one before the newest).
        #[arg(long)]
        to: Option<u64>,
        /// Also commit the env folder as it was at that revision (on a branch for protected envs).
        #[arg(long)]
        git: bool,
        #[arg(long)]
        context: Option<String>,
        /// Show the preview only.
        #[arg(long)]
        dry_run: bool,
        /// Apply without asking.
        #[arg(long, short)]
        yes: bool,
        #[arg(long, value_parser = parse_duration, default_value = "5m")]
        timeout: Duration,
    },
    /// Promote what a pipeline stage moves (image tags, the model) into ENV: edit the values in a
    /// private checkout, run the gates, commit on a branch, push, and open a pull request.
    Promote {
        /// The environment to promote into.
        env: String,
        /// Promote from this environment instead of the stage's `from`.
        #[arg(long)]
        from: Option<String>,
        /// The pipeline (by name), when ENV is a stage of several.
        #[arg(long)]
        pipeline: Option<String>,
        /// Stop after the commit, left on a local branch; needs no remote or token.
        #[arg(long)]
        no_push: bool,
        /// Show the edits and the gate results only; commit nothing.
        #[arg(long)]
        dry_run: bool,
        /// The git remote to push to.
        #[arg(long, default_value = "origin")]
        remote: String,
        /// GitHub repository OWNER/NAME (default: the remote's URL). The token is read from GITHUB_TOKEN or GH_TOKEN.
        #[arg(long, env = "GITHUB_REPOSITORY")]
        github_repo: Option<String>,
        /// GitHub REST API URL; for GitHub Enterprise Server https://HOST/api/v3.
        #[arg(long, env = "GITHUB_API_URL")]
        github_api: Option<String>,
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
}

#[derive(Args, Clone)]
struct SyncArgs {
    /// Only this environment.
    #[arg(long)]
    env: Option<String>,
    /// kubeconfig context (default: the env's `context`, else the current context).
    #[arg(long)]
    context: Option<String>,
    /// Preview only: do everything up to the writes.
    #[arg(long)]
    dry_run: bool,
    /// Apply without asking (CI=true implies it).
    #[arg(long, short)]
    yes: bool,
    /// Take ownership of fields other field managers own instead of stopping.
    #[arg(long)]
    force_conflicts: bool,
    /// Also prune Namespaces, PersistentVolumeClaims and CRDs that left git.
    #[arg(long)]
    prune_dangerous: bool,
    /// How long to wait for health, e.g. 90s, 5m.
    #[arg(long, value_parser = parse_duration, default_value = "5m")]
    timeout: Duration,
    /// Writes in flight at once within a tier.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Write a report: junit=FILE, markdown=FILE or json=FILE (repeatable).
    #[arg(long = "report", value_name = "KIND=FILE")]
    reports: Vec<String>,
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    output: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Markdown,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) =
        text.find(|c: char| !c.is_ascii_digit()).map_or((text, "s"), |i| text.split_at(i));
    let value: u64 =
        number.parse().map_err(|_| format!("invalid duration {text:?} (use e.g. 90s, 5m, 1h)"))?;
    match unit {
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        "h" => Ok(Duration::from_secs(value * 3600)),
        "ms" => Ok(Duration::from_millis(value)),
        _ => Err(format!("invalid duration unit in {text:?} (use s, m or h)")),
    }
}

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
    let cli = Cli::parse_from(args);
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::Error.into();
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code.into(),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::Error.into()
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
                    | "help"
            )
        })
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let a = &cli.sync_args;
    let sync_flags = cli.sync
        || a.env.is_some()
        || a.context.is_some()
        || a.dry_run
        || a.yes
        || a.force_conflicts
        || a.prune_dangerous
        || !a.reports.is_empty();
    if cli.command.is_some() && sync_flags {
        return Err("--sync and its flags cannot be combined with a subcommand; put a subcommand's flags after it (e.g. `coxswain plan --env dev`)".into());
    }
    #[cfg(feature = "model-validation")]
    if let Some(Command::Validate { model: Some(model), spec: Some(spec), sha256, output, .. }) =
        &cli.command
        && Repo::open(&cli.repo).is_err()
    {
        return standalone_validate(model, sha256.as_deref(), spec, *output);
    }
    let repo = Repo::open(&cli.repo).map_err(|e| e.to_string())?;
    match cli.command {
        None if cli.sync => sync_command(&repo, cli.sync_args).await,
        None => Err("nothing to do: give a command (see --help) or --sync".into()),
        Some(Command::Check { env, output }) => {
            let report = check_repo(&repo, env.as_deref()).map_err(|e| e.to_string())?;
            match output {
                Format::Json => println!("{}", to_json(&report)?),
                Format::Text | Format::Markdown => print!("{}", report.render_text()),
            }
            Ok(report.exit_code())
        }
        Some(Command::Plan { env, context, output, detailed_exitcode, force_conflicts }) => {
            plan_command(
                &repo,
                env.as_deref(),
                context.as_deref(),
                output,
                detailed_exitcode,
                force_conflicts,
            )
            .await
        }
        Some(Command::Sync(args)) => sync_command(&repo, args).await,
        Some(Command::History { env, context, output }) => {
            history_command(&repo, &env, context.as_deref(), output).await
        }
        #[cfg(feature = "model-validation")]
        Some(Command::Validate { env, model, sha256, spec, against_env, no_baseline, output }) => {
            validate_command(
                &repo,
                &ValidateArgs { env, model, sha256, spec, against_env, no_baseline },
                output,
            )
        }
        Some(Command::Rollback { env, to, git, context, dry_run, yes, timeout }) => {
            rollback_command(&repo, &env, to, git, context.as_deref(), dry_run, yes, timeout).await
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
            promote_command(&repo, options, github_repo.as_deref(), github_api.as_deref(), output)
                .await
        }
    }
}

/// `coxswain promote`: GitHub access comes from flags and the environment; the library decides
/// whether it is needed (only when a pull request is opened).
async fn promote_command(
    repo: &Repo,
    mut options: crate::promote::PromoteOptions,
    github_repo: Option<&str>,
    github_api: Option<&str>,
    output: Format,
) -> Result<ExitCode, String> {
    use crate::promote::{ForgeAccess, Services, github_forge, github_token_from_env, promote};
    let token = github_token_from_env();
    options.token.clone_from(&token);
    let forge =
        github_forge(repo.root(), &options.remote, github_repo, github_api, token.as_deref());
    let services = Services {
        forge: match &forge {
            Ok(forge) => ForgeAccess::Ready(forge),
            Err(why) => ForgeAccess::Unavailable(why.clone()),
        },
        cluster: None,
    };
    let outcome = promote(repo.root(), &options, &services).await.map_err(|e| e.to_string())?;
    match output {
        Format::Text => print!("{}", outcome.render_text()),
        Format::Markdown => print!("{}", outcome.render_markdown(&options.command)),
        Format::Json => println!("{}", to_json(&outcome)?),
    }
    Ok(outcome.exit_code())
}

/// Loads environments in pipeline order (dev before prod), refusing any with input errors.
fn load_envs(repo: &Repo, only: Option<&str>) -> Result<Vec<Environment>, String> {
    let mut envs = repo.load(only).map_err(|e| e.to_string())?;
    let names = repo.env_names().map_err(|e| e.to_string())?;
    let (pipelines, _) = pipeline::load_pipelines(repo.root(), &names);
    let order: Vec<String> =
        pipelines.iter().flat_map(|p| p.stages.iter().map(|s| s.env.clone())).collect();
    envs.sort_by_key(|e| order.iter().position(|n| *n == e.name).unwrap_or(usize::MAX));
    let errors: Vec<String> = envs
        .iter()
        .flat_map(|e| e.diagnostics.iter().filter(|d| d.is_error()).map(ToString::to_string))
        .collect();
    if errors.is_empty() {
        Ok(envs)
    } else {
        Err(format!("the repo has input errors (run `coxswain check`):\n  {}", errors.join("\n  ")))
    }
}

/// One connection per kubeconfig context.
#[derive(Default)]
struct Connections(HashMap<Option<String>, Arc<dyn Cluster>>);

impl Connections {
    async fn get(&mut self, context: Option<&str>) -> Result<Arc<dyn Cluster>, ClusterError> {
        let key = context.map(str::to_owned);
        if let Some(cluster) = self.0.get(&key) {
            return Ok(cluster.clone());
        }
        let cluster = cluster::connect(context).await?;
        self.0.insert(key, cluster.clone());
        Ok(cluster)
    }
}

fn is_offline(error: &ClusterError) -> bool {
    matches!(
        error,
        ClusterError::Unreachable { .. }
            | ClusterError::Config { .. }
            | ClusterError::Timeout { .. }
    )
}

async fn plan_command(
    repo: &Repo,
    only: Option<&str>,
    context: Option<&str>,
    output: Format,
    detailed: bool,
    force_conflicts: bool,
) -> Result<ExitCode, String> {
    let envs = load_envs(repo, only)?;
    let mut connections = Connections::default();
    let mut plans = Vec::new();
    let options = PlanOptions { force_conflicts, ..PlanOptions::default() };
    for env in &envs {
        let context = context.or(env.config.context.as_deref());
        let cluster = connections.get(context).await.map_err(|e| format!("{}: {e}", env.name))?;
        plans.push(
            plan_env(cluster.as_ref(), env, &options)
                .await
                .map_err(|e| format!("{}: {e}", env.name))?,
        );
    }
    let report = PlanReport::new(plans);
    match output {
        Format::Text => print!("{}", report.render_text(std::io::stdout().is_terminal())),
        Format::Markdown => print!("{}", report.render_markdown()),
        Format::Json => println!("{}", to_json(&report)?),
    }
    Ok(if report.summary.errors > 0 {
        ExitCode::Error
    } else if detailed && report.summary.has_changes() {
        ExitCode::Changes
    } else {
        ExitCode::Ok
    })
}

async fn sync_command(repo: &Repo, args: SyncArgs) -> Result<ExitCode, String> {
    let report_targets = parse_reports(&args.reports)?;
    let envs = load_envs(repo, args.env.as_deref())?;
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let progress =
        TerminalProgress::new(args.yes || ci || args.dry_run, args.output == Format::Text);
    let mut connections = Connections::default();
    let mut reports = Vec::new();
    let mut offline = Vec::new();
    let mut model_notes = Vec::new();
    for env in &envs {
        // Gates that need no cluster come first: a policy error stops this env.
        let policy_errors: Vec<String> =
            policy::check(env).iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
        if !policy_errors.is_empty() {
            reports.push(blocked(
                env,
                format!("policy gate failed:\n  {}", policy_errors.join("\n  ")),
            ));
            continue;
        }
        match model_gate(repo, env) {
            Ok(Some(summary)) => model_notes.push(format!("{}: {summary}", env.name)),
            Ok(None) => {}
            Err(message) => {
                let gate = message.starts_with("model validation failed");
                reports.push(blocked(
                    env,
                    if gate { message } else { format!("model gate error: {message}") },
                ));
                continue;
            }
        }
        let info = git::inspect(repo.root(), &env.name).map_err(|e| e.to_string())?;
        if env.config.protected
            && !args.dry_run
            && let Err(error) = git::check_protected(info.as_ref(), &env.name, &env.config.branch)
        {
            reports.push(blocked(env, error.to_string()));
            continue;
        }
        let context = args.context.as_deref().or(env.config.context.as_deref());
        let cluster = match connections.get(context).await {
            Ok(cluster) => cluster,
            Err(error) if args.dry_run && is_offline(&error) => {
                offline.push((env.name.clone(), context.map(str::to_owned), error.to_string()));
                continue;
            }
            Err(error) => {
                reports.push(failed(env, &error));
                continue;
            }
        };
        let options = SyncOptions {
            dry_run: args.dry_run,
            force_conflicts: args.force_conflicts,
            prune_dangerous: args.prune_dangerous,
            timeout: args.timeout,
            concurrency: args.concurrency,
            git_sha: info.as_ref().and_then(|i| i.sha.clone()),
            dirty: info.as_ref().is_some_and(|i| !i.dirty_files.is_empty()),
            message: "coxswain sync".into(),
            ..SyncOptions::default()
        };
        let report = sync_env(cluster, env, &options, &progress).await;
        if args.dry_run
            && report.status == SyncStatus::Failed
            && report.error.as_deref().is_some_and(looks_offline)
        {
            offline.push((
                env.name.clone(),
                context.map(str::to_owned),
                report.error.clone().unwrap_or_default(),
            ));
            continue;
        }
        if args.dry_run
            && args.output == Format::Text
            && let Some(plan) = &report.plan
        {
            print!(
                "{}",
                PlanReport::new(vec![plan.clone()]).render_text(std::io::stdout().is_terminal())
            );
        }
        reports.push(report);
    }
    progress.finish();
    write_reports(&report_targets, &reports)?;
    match args.output {
        Format::Json => println!(
            "{}",
            to_json(&serde_json::json!({"schemaVersion": 1, "environments": reports}))?
        ),
        Format::Markdown => print!("{}", report::markdown(&reports)),
        Format::Text => {
            for r in &reports {
                let detail = r.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
                println!("{}: {}{detail}", r.env, report::status_text(r.status));
            }
        }
    }
    if args.output == Format::Text {
        for note in &model_notes {
            println!("{note}");
        }
    }
    if !offline.is_empty() {
        println!(
            "\nNo cluster reachable; checked everything that needs none (manifests, policy, models) for: {}.",
            offline.iter().map(|o| o.0.as_str()).collect::<Vec<_>>().join(", ")
        );
        for (env, context, reason) in &offline {
            println!("  {env}: {reason}");
            let context = context.as_deref().map(|c| format!(" --context {c}")).unwrap_or_default();
            println!(
                "  to preview and sync it against a cluster: coxswain --sync --repo {} --env {env}{context}",
                repo.root().display()
            );
        }
    }
    Ok(sync_exit_code(&reports))
}

fn looks_offline(error: &str) -> bool {
    error.contains("cannot reach the API server") || error.starts_with("kubeconfig:")
}

fn blocked(env: &Environment, message: String) -> SyncReport {
    let mut report = SyncReport::new_for(env, SyncStatus::Blocked);
    report.error = Some(message);
    report
}

fn failed(env: &Environment, error: &ClusterError) -> SyncReport {
    let mut report = SyncReport::new_for(env, SyncStatus::Failed);
    report.error = Some(error.to_string());
    report
}

/// The worst outcome decides: lock held 4, errors 1, gates/health 3.
fn sync_exit_code(reports: &[SyncReport]) -> ExitCode {
    let codes = reports.iter().map(|r| match r.status {
        SyncStatus::NoChanges | SyncStatus::DryRun | SyncStatus::Synced => ExitCode::Ok,
        SyncStatus::Unhealthy | SyncStatus::RolledBack => ExitCode::GateFailed,
        SyncStatus::Blocked
            if r.error.as_deref().is_some_and(|e| {
                e.starts_with("policy gate failed") || e.starts_with("model validation failed")
            }) =>
        {
            ExitCode::GateFailed
        }
        SyncStatus::Blocked | SyncStatus::Failed | SyncStatus::Cancelled => ExitCode::Error,
        SyncStatus::LockHeld => ExitCode::LockHeld,
    });
    let rank = |code: &ExitCode| match code {
        ExitCode::Ok | ExitCode::Changes => 0,
        ExitCode::GateFailed => 1,
        ExitCode::Error => 2,
        ExitCode::LockHeld => 3,
    };
    codes.max_by_key(rank).unwrap_or(ExitCode::Ok)
}

fn parse_reports(specs: &[String]) -> Result<Vec<(String, PathBuf)>, String> {
    specs
        .iter()
        .map(|spec| match spec.split_once('=') {
            Some((kind @ ("junit" | "markdown" | "json"), file)) if !file.is_empty() => {
                Ok((kind.to_owned(), PathBuf::from(file)))
            }
            _ => Err(format!("--report {spec}: expected junit=FILE, markdown=FILE or json=FILE")),
        })
        .collect()
}

fn write_reports(targets: &[(String, PathBuf)], reports: &[SyncReport]) -> Result<(), String> {
    for (kind, path) in targets {
        let text = match kind.as_str() {
            "junit" => report::junit(reports),
            "markdown" => report::markdown(reports),
            _ => to_json(&serde_json::json!({"schemaVersion": 1, "environments": reports}))?,
        };
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

async fn history_command(
    repo: &Repo,
    env_name: &str,
    context: Option<&str>,
    output: Format,
) -> Result<ExitCode, String> {
    let env = load_envs(repo, Some(env_name))?.remove(0);
    let cluster = cluster::connect(context.or(env.config.context.as_deref()))
        .await
        .map_err(|e| e.to_string())?;
    let revisions = history::list(cluster.as_ref(), &env.name, &env.namespace)
        .await
        .map_err(|e| e.to_string())?;
    let revisions: Vec<history::Revision> = revisions.into_iter().map(|(r, _)| r).collect();
    match output {
        Format::Json => println!(
            "{}",
            to_json(
                &serde_json::json!({"schemaVersion": 1, "env": env.name, "revisions": revisions})
            )?
        ),
        Format::Text | Format::Markdown => {
            if revisions.is_empty() {
                println!("{}: no revisions yet", env.name);
            }
            println!(
                "{:>4}  {:<20}  {:<10}  {:<9}  {:<24}  MESSAGE",
                "REV", "TIME", "GIT", "OUTCOME", "AUTHOR"
            );
            for r in &revisions {
                let sha = r.git_sha.as_deref().map_or("-".to_owned(), |s| {
                    s.chars().take(8).collect::<String>() + if r.dirty { "+" } else { "" }
                });
                let outcome = serde_json::to_value(r.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                println!(
                    "{:>4}  {:<20}  {:<10}  {:<9}  {:<24}  {}",
                    r.number, r.time, sha, outcome, r.author, r.message
                );
            }
        }
    }
    Ok(ExitCode::Ok)
}

#[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)]
async fn rollback_command(
    repo: &Repo,
    env_name: &str,
    to: Option<u64>,
    with_git: bool,
    context: Option<&str>,
    dry_run: bool,
    yes: bool,
    timeout: Duration,
) -> Result<ExitCode, String> {
    let env = load_envs(repo, Some(env_name))?.remove(0);
    let cluster = cluster::connect(context.or(env.config.context.as_deref()))
        .await
        .map_err(|e| e.to_string())?;
    let target = rollback_target(cluster.as_ref(), &env, to)
        .await
        .map_err(|e: RollbackError| e.to_string())?;
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let progress = TerminalProgress::new(yes || ci || dry_run, true);
    let options = SyncOptions { dry_run, timeout, ..SyncOptions::default() };
    let report =
        rollback(cluster, &env, &target, &options, &progress).await.map_err(|e| e.to_string())?;
    progress.finish();
    if dry_run && let Some(plan) = &report.plan {
        print!(
            "{}",
            PlanReport::new(vec![plan.clone()]).render_text(std::io::stdout().is_terminal())
        );
    }
    let detail = report.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
    println!(
        "{}: {} (revision {} restored{})",
        env.name,
        report::status_text(report.status),
        target.0.number,
        detail
    );
    if with_git && !dry_run && !report::is_failure(report.status) {
        let sha = target.0.git_sha.as_deref().ok_or_else(|| {
            format!(
                "revision {} was not synced from a git commit; cannot restore the folder from git",
                target.0.number
            )
        })?;
        let branch = env
            .config
            .protected
            .then(|| format!("coxswain/rollback-{}-{}", env.name, target.0.number));
        let message =
            format!("Roll back environments/{} to revision {} ({sha})", env.name, target.0.number);
        let oid = git::commit_env_restore(repo.root(), &env.name, sha, branch.as_deref(), &message)
            .map_err(|e| e.to_string())?;
        match branch {
            Some(branch) => {
                println!("committed {oid} on branch {branch}; open a pull request to merge it");
            }
            None => println!(
                "committed {oid}: environments/{} now matches revision {}",
                env.name, target.0.number
            ),
        }
    }
    Ok(sync_exit_code(&[report]))
}

#[cfg(feature = "model-validation")]
struct ValidateArgs {
    env: Option<String>,
    model: Option<String>,
    sha256: Option<String>,
    spec: Option<PathBuf>,
    against_env: Option<String>,
    no_baseline: bool,
}

#[cfg(feature = "model-validation")]
fn validate_command(repo: &Repo, args: &ValidateArgs, output: Format) -> Result<ExitCode, String> {
    use crate::validate;
    let environments = load_envs(repo, None)?;
    let names = repo.env_names().map_err(|e| e.to_string())?;
    let (pipelines, _) = pipeline::load_pipelines(repo.root(), &names);
    let find_env = |name: &str| {
        environments
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| format!("no environment \"{name}\" (found: {})", names.join(", ")))
    };
    let against = args.against_env.as_deref().map(find_env).transpose()?;
    // (label, candidate, spec, baseline env)
    let mut jobs = Vec::new();
    if let (Some(path), Some(spec_file)) = (&args.model, &args.spec) {
        let spec = validate::read_spec_file(spec_file).map_err(|e| e.to_string())?;
        let candidate = crate::repo::ModelRef {
            name: path.clone(),
            version: None,
            path: path.clone(),
            sha256: args.sha256.clone(),
        };
        jobs.push((path.clone(), candidate, spec, against));
    } else {
        let selected: Vec<&Environment> = match &args.env {
            Some(name) => vec![find_env(name)?],
            None => environments.iter().filter(|e| e.config.model.is_some()).collect(),
        };
        for env in selected {
            let model = env.config.model.clone().ok_or_else(|| {
                validate::ValidateError::NoModel { env: env.name.clone() }.to_string()
            })?;
            let (spec, _) =
                validate::spec_for_env(&pipelines, &env.name).map_err(|e| e.to_string())?;
            let baseline =
                against.or_else(|| validate::baseline_env(&pipelines, &environments, &env.name));
            let label = format!(
                "{} ({} {})",
                env.name,
                model.name,
                model.version.as_deref().unwrap_or("unversioned")
            );
            jobs.push((label, model, spec, baseline));
        }
    }
    let mut results = Vec::new();
    let mut code = ExitCode::Ok;
    for (label, candidate, spec, baseline_env) in jobs {
        let baseline =
            if args.no_baseline { None } else { baseline_env.and_then(|e| e.config.model.clone()) };
        match validate::run(repo.root(), &candidate, &spec, baseline.as_ref()) {
            Ok(report) => {
                if !report.passed() && code == ExitCode::Ok {
                    code = ExitCode::GateFailed;
                }
                let against = baseline_env.filter(|_| baseline.is_some()).map(|e| e.name.clone());
                results.push((label, against, report));
            }
            Err(error) => {
                eprintln!("error: {label}: {error}");
                code = ExitCode::Error;
            }
        }
    }
    match output {
        Format::Json => {
            let reports: Vec<_> = results.iter().map(|(label, against, report)| serde_json::json!({"target": label, "baselineEnv": against, "passed": report.passed(), "report": report})).collect();
            println!(
                "{}",
                to_json(&serde_json::json!({"schemaVersion": 1, "validations": reports}))?
            );
        }
        Format::Markdown => {
            for (label, _, report) in &results {
                println!("#### Model validation: {label}\n\n{}", report.render_markdown());
            }
        }
        Format::Text => {
            for (label, against, report) in &results {
                let against = against
                    .as_deref()
                    .map(|e| format!(", compared with {e}'s model"))
                    .unwrap_or_default();
                println!(
                    "{label}{against}: {}\n{}",
                    if report.passed() { "passed" } else { "FAILED" },
                    report.render_text()
                );
            }
        }
    }
    Ok(code)
}

/// `validate --model F --spec S` outside a Coxswain repo: the spec's paths are relative to the
/// spec file, the model's to the working directory; there is no baseline.
#[cfg(feature = "model-validation")]
fn standalone_validate(
    model: &str,
    sha256: Option<&str>,
    spec_file: &std::path::Path,
    output: Format,
) -> Result<ExitCode, String> {
    let spec = crate::validate::read_spec_file(spec_file).map_err(|e| e.to_string())?;
    let limits = coxswain_model::Limits::default();
    let report = coxswain_model::validate_standalone(
        std::path::Path::new(model),
        sha256,
        &spec,
        spec_file,
        &limits,
    )
    .map_err(|e| e.to_string())?;
    let verdict = if report.passed() { "passed" } else { "FAILED" };
    match output {
        Format::Json => {
            let entry = serde_json::json!({"target": model, "baselineEnv": null, "passed": report.passed(), "report": report});
            println!(
                "{}",
                to_json(&serde_json::json!({"schemaVersion": 1, "validations": [entry]}))?
            );
        }
        Format::Markdown => {
            println!("#### Model validation: {model}\n\n{}", report.render_markdown())
        }
        Format::Text => println!("{model}: {verdict}\n{}", report.render_text()),
    }
    Ok(if report.passed() { ExitCode::Ok } else { ExitCode::GateFailed })
}

/// The model gate of a sync: the env's model against its pipeline's spec (no regression
/// baseline: that belongs to promotion). `Ok(None)` when the env declares no model.
#[cfg(feature = "model-validation")]
fn model_gate(repo: &Repo, env: &Environment) -> Result<Option<String>, String> {
    use crate::validate;
    let Some(model) = &env.config.model else { return Ok(None) };
    let names = repo.env_names().map_err(|e| e.to_string())?;
    let (pipelines, _) = pipeline::load_pipelines(repo.root(), &names);
    let (spec, _) = match validate::spec_for_env(&pipelines, &env.name) {
        Ok(spec) => spec,
        Err(validate::ValidateError::NoSpec { .. }) => {
            return Ok(Some(format!(
                "model {}: no validation spec in pipelines/, not validated",
                model.name
            )));
        }
        Err(error) => return Err(error.to_string()),
    };
    let report = validate::run(repo.root(), model, &spec, None)
        .map_err(|e| format!("model validation: {e}"))?;
    let checks =
        report.checks.iter().filter(|c| c.verdict != coxswain_model::Verdict::Skipped).count();
    if report.passed() {
        Ok(Some(format!(
            "model {} {}: {checks} checks passed",
            model.name,
            model.version.as_deref().unwrap_or("")
        )))
    } else {
        Err(format!("model validation failed:\n{}", report.render_text()))
    }
}

#[cfg(not(feature = "model-validation"))]
fn model_gate(_repo: &Repo, env: &Environment) -> Result<Option<String>, String> {
    Ok(env.config.model.as_ref().map(|m| {
        format!("model {}: not validated (built without the model-validation feature)", m.name)
    }))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string_pretty(value).map_err(|e| e.to_string())
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
