//! The command line's grammar (clap). Doc comments here are help text shown verbatim to users:
//! no Markdown backticks.
#![allow(clippy::doc_markdown)]

use super::duration::parse_duration;
use super::env_arg::{EnvFilter, EnvName, SyncCommand};
use super::render::Format;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory as _, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "coxswain",
    version = concat!(env!("CARGO_PKG_VERSION"), " (git ", env!("COXSWAIN_GIT_SHA"), ")"),
    about = "GitOps for machine-learning deployments on Kubernetes"
)]
pub(super) struct Cli {
    /// Path of the GitOps repo (holding environments/ and pipelines/).
    #[arg(long, global = true, default_value = ".", env = "COXSWAIN_REPO")]
    pub(super) repo: PathBuf,
    /// The kubeconfig file to use (default: KUBECONFIG, else ~/.kube/config; inside a pod with
    /// neither, its service account).
    #[arg(long, global = true, value_name = "PATH")]
    pub(super) kubeconfig: Option<PathBuf>,
    /// Colour in text output: auto (a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub(super) color: ColorChoice,
    /// Log verbosity: -v info, -vv debug (Coxswain only), -vvv debug of everything (or RUST_LOG).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(super) verbose: u8,
    /// Headless sync of every environment (or --env): the same as `coxswain sync`.
    #[arg(long)]
    pub(super) sync: bool,
    #[command(flatten)]
    pub(super) sync_args: SyncArgs,
    #[command(subcommand)]
    pub(super) command: Option<Command>,
}

/// When text output is coloured (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(super) enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// `always` and `never` decide; `auto` colours a terminal unless `NO_COLOR` is set to
    /// anything non-empty (no-color.org).
    pub(super) fn colours(self, no_color: Option<&std::ffi::OsStr>, terminal: bool) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => terminal && no_color.is_none_or(std::ffi::OsStr::is_empty),
        }
    }
}

impl Cli {
    /// The options given before a command that belong to `--sync` (`coxswain -o json plan`,
    /// `coxswain --timeout 10m sync`): they would do nothing there, so the command line is
    /// refused naming them. Global options (`--repo`, `--kubeconfig`, `-v`) may go anywhere.
    pub(super) fn misplaced_options(matches: &ArgMatches) -> Vec<String> {
        if matches.subcommand().is_none() {
            return Vec::new();
        }
        Self::command()
            .get_arguments()
            .filter(|arg| !arg.is_global_set())
            .filter(|arg| {
                matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine)
            })
            .map(|arg| match (arg.get_long(), arg.get_short()) {
                (Some(long), _) => format!("--{long}"),
                (None, Some(short)) => format!("-{short}"),
                (None, None) => arg.get_id().to_string(),
            })
            .collect()
    }
}

#[derive(Subcommand)]
pub(super) enum Command {
    /// Load every environment and pipeline and run the policy gate (no cluster needed).
    Check {
        #[command(flatten)]
        env: EnvFilter,
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Show what a sync would change: an exact, noise-free diff against the live cluster.
    Plan(PlanArgs),
    /// Apply git to the cluster: preview, lock, apply in order, wait for health, prune, record.
    Sync(SyncCommand),
    /// List an environment's sync revisions.
    History {
        #[command(flatten)]
        env: EnvName,
        #[arg(long)]
        context: Option<String>,
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Validate models with tract-onnx: sha256 pin, contract, accuracy, golden outputs, latency,
    /// regression against the model of the env it promotes into.
    #[cfg(feature = "model-validation")]
    Validate {
        #[command(flatten)]
        env: EnvFilter,
        /// Validate this ONNX file (repo-relative) instead of an env's model; needs --spec.
        /// Outside a Coxswain repo: relative to the working directory, and the spec's paths
        /// relative to the spec file.
        #[arg(long, requires = "spec", conflicts_with_all = ["env", "env_name"])]
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
    Rollback(RollbackArgs),
    /// Print a shell completion script: e.g. `coxswain completions bash > /etc/bash_completion.d/coxswain`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `coxswain man | man -l -`.
    Man,
    /// Print the client's version and git commit and, when a cluster is configured and answers,
    /// the API server's version (as kubectl version does). Never fails: an unreachable cluster
    /// is reported as such.
    Version {
        /// The client's version only; contact no cluster.
        #[arg(long)]
        client: bool,
        /// kubeconfig context to ask (default: the current context).
        #[arg(long, conflicts_with = "client")]
        context: Option<String>,
        /// How long to wait for the server (connecting included).
        #[arg(long, value_parser = parse_duration, default_value = "5s")]
        timeout: Duration,
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Progressive delivery: show or steer a Deployment's canary or blue-green rollout.
    Rollout {
        #[arg(value_enum)]
        operation: RolloutOp,
        /// The Deployment (as named under rollouts: in env.yaml); status without it shows all.
        workload: Option<String>,
        #[arg(long)]
        env: String,
        #[arg(long)]
        context: Option<String>,
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Change a workload's container image in git (format-preserving), committed in a private
    /// checkout: pushed onto the env's branch, or a pull request for protected envs. The next
    /// sync applies it.
    Set {
        #[command(subcommand)]
        what: SetWhat,
    },
    /// Change a Deployment's or StatefulSet's spec.replicas in git, as set-image does.
    Scale {
        workload: String,
        #[arg(long)]
        replicas: u64,
        #[command(flatten)]
        git: GitEditArgs,
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
        #[command(flatten)]
        github: GitHubArgs,
        /// kubeconfig context of the dryRun gate (default: the target env's `context`, else the
        /// current context).
        #[arg(long)]
        context: Option<String>,
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
}

/// What `coxswain rollout` does.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum RolloutOp {
    /// Show where the rollout stands (read only).
    Status,
    /// Stop at the current step.
    Pause,
    /// Lift a pause (yours or a step's manual one) and go on with the steps.
    Resume,
    /// Finish now: the canary becomes stable, or the active Service switches colour.
    Promote,
    /// Back to stable; git's template rolls out again only when it changes.
    Abort,
    /// Abort a running rollout, or go back to the previous stable template after one.
    Undo,
}

/// What `coxswain set` changes.
#[derive(Subcommand)]
pub(super) enum SetWhat {
    /// A container's image: `coxswain set image --env E WORKLOAD CONTAINER=IMAGE`.
    Image {
        /// The workload (Deployment, StatefulSet, DaemonSet or Job).
        workload: String,
        /// CONTAINER=IMAGE
        assignment: String,
        #[command(flatten)]
        git: GitEditArgs,
    },
}

/// Where GitHub is (promotions, edits of protected envs, plan comments).
#[derive(Args, Clone)]
pub(super) struct GitHubArgs {
    /// GitHub repository OWNER/NAME (default: the remote's URL). The token is read from
    /// GITHUB_TOKEN or GH_TOKEN.
    #[arg(long, env = "GITHUB_REPOSITORY")]
    pub(super) github_repo: Option<String>,
    /// GitHub REST API URL; for GitHub Enterprise Server https://HOST/api/v3.
    #[arg(long, env = "GITHUB_API_URL")]
    pub(super) github_api: Option<String>,
}

impl GitHubArgs {
    pub(super) fn settings(self) -> crate::engine::ForgeSettings {
        crate::engine::ForgeSettings { repository: self.github_repo, api: self.github_api }
    }
}

/// Where a git edit goes.
#[derive(Args, Clone)]
pub(super) struct GitEditArgs {
    #[arg(long)]
    pub(super) env: String,
    /// Stop after the commit, left on a local branch; needs no remote or token.
    #[arg(long)]
    pub(super) no_push: bool,
    /// Show the edit only; commit nothing.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// The git remote to push to.
    #[arg(long, default_value = "origin")]
    pub(super) remote: String,
    #[command(flatten)]
    pub(super) github: GitHubArgs,
    /// After the commit, sync the environment as `coxswain sync --env E` does (every gate,
    /// the env's Lease, rollouts started), from the commit just made. Not after a dry run, nor
    /// for a protected env: its change is a pull request, synced once merged.
    #[arg(long)]
    pub(super) sync: bool,
    /// With --sync: apply without asking (as `coxswain sync --yes`).
    #[arg(long, requires = "sync")]
    pub(super) yes: bool,
    /// With --sync: kubeconfig context (default: the env's `context`, else the current context).
    #[arg(long, requires = "sync")]
    pub(super) context: Option<String>,
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub(super) output: Format,
}

#[derive(Args, Clone)]
pub(super) struct PlanArgs {
    #[command(flatten)]
    pub(super) env: EnvFilter,
    /// kubeconfig context (default: the env's `context`, else the current context).
    #[arg(long)]
    pub(super) context: Option<String>,
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub(super) output: Format,
    /// Exit 2 when there are changes, 0 when there are none (as Terraform does).
    #[arg(long)]
    pub(super) detailed_exitcode: bool,
    /// Plan as if taking ownership of fields other managers own.
    #[arg(long)]
    pub(super) force_conflicts: bool,
    /// Post the plan on this GitHub pull request: one comment per environment, edited in place
    /// by the next run. The token is read from GITHUB_TOKEN or GH_TOKEN.
    #[arg(long, value_name = "NUMBER")]
    pub(super) comment_pr: Option<u64>,
    #[command(flatten)]
    pub(super) github: GitHubArgs,
}

#[derive(Args, Clone)]
pub(super) struct RollbackArgs {
    #[command(flatten)]
    pub(super) env: EnvName,
    /// The revision to restore (default: the last successful one before the newest).
    #[arg(long)]
    pub(super) to: Option<u64>,
    /// Also commit the env folder as it was at that revision (on a branch for protected envs).
    #[arg(long)]
    pub(super) git: bool,
    #[arg(long)]
    pub(super) context: Option<String>,
    /// Show the preview only.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Apply without asking.
    #[arg(long, short)]
    pub(super) yes: bool,
    #[arg(long, value_parser = parse_duration, default_value = "5m")]
    pub(super) timeout: Duration,
    /// Restore a revision whose manifests cannot be checked against its git commit (not
    /// synced from a commit, synced from uncommitted changes, or the commit is not here).
    /// Never for protected environments.
    #[arg(long)]
    pub(super) allow_unverified: bool,
    /// Write a report: junit=FILE, markdown=FILE or json=FILE (repeatable).
    #[arg(long = "report", value_name = "KIND=FILE")]
    pub(super) reports: Vec<String>,
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub(super) output: Format,
}

#[derive(Args, Clone)]
pub(super) struct SyncArgs {
    /// Only this environment.
    #[arg(long)]
    pub(super) env: Option<String>,
    /// kubeconfig context (default: the env's `context`, else the current context).
    #[arg(long)]
    pub(super) context: Option<String>,
    /// Preview only: do everything up to the writes. A dry run that cannot reach the cluster
    /// fails (exit 1) unless --offline is given.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// With --dry-run: check only what needs no cluster (manifests, policy, models), without
    /// contacting one; exit 0 when that is clean.
    #[arg(long, requires = "dry_run")]
    pub(super) offline: bool,
    /// Apply without asking (CI=true implies it).
    #[arg(long, short)]
    pub(super) yes: bool,
    /// Take ownership of fields other field managers own instead of stopping.
    #[arg(long)]
    pub(super) force_conflicts: bool,
    /// Also prune Namespaces, PersistentVolumeClaims and CRDs that left git.
    #[arg(long)]
    pub(super) prune_dangerous: bool,
    /// How long to wait for health, e.g. 90s, 5m.
    #[arg(long, value_parser = parse_duration, default_value = "5m")]
    pub(super) timeout: Duration,
    /// Writes in flight at once within a tier.
    #[arg(long, default_value_t = 8)]
    pub(super) concurrency: usize,
    /// Write a report: junit=FILE, markdown=FILE or json=FILE (repeatable).
    #[arg(long = "report", value_name = "KIND=FILE")]
    pub(super) reports: Vec<String>,
    /// With rollout strategies: follow their steps until they complete, or stop with exit code
    /// 5 when one waits at a manual pause.
    #[arg(long)]
    pub(super) wait: bool,
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub(super) output: Format,
}

#[cfg(test)]
mod tests {
    use super::ColorChoice;

    #[test]
    fn no_color_turns_auto_colour_off_and_flags_decide() {
        use std::ffi::OsStr;
        assert!(ColorChoice::Auto.colours(None, true));
        assert!(ColorChoice::Auto.colours(Some(OsStr::new("")), true));
        assert!(!ColorChoice::Auto.colours(Some(OsStr::new("1")), true));
        assert!(!ColorChoice::Auto.colours(None, false));
        assert!(ColorChoice::Always.colours(Some(OsStr::new("1")), false));
        assert!(!ColorChoice::Never.colours(None, true));
    }
}
