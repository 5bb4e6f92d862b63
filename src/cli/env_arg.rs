//! The environment a command works on: `coxswain plan dev`, as argocd, helm and flux name what
//! they act on, with `--env dev` kept for scripts written before. Help text: no Markdown.
#![allow(clippy::doc_markdown)]

use super::args::SyncArgs;
use crate::engine::EngineError;
use clap::Args;

/// One environment, or every one when none is given.
#[derive(Args, Clone)]
pub(super) struct EnvFilter {
    /// Only this environment (default: every one).
    #[arg(value_name = "ENV", conflicts_with = "env")]
    env_name: Option<String>,
    /// The same as ENV.
    #[arg(long = "env", id = "env", value_name = "ENV")]
    env_flag: Option<String>,
}

impl EnvFilter {
    pub(super) fn get(self) -> Option<String> {
        self.env_name.or(self.env_flag)
    }
}

/// The one environment a command needs.
#[derive(Args, Clone)]
pub(super) struct EnvName {
    /// The environment.
    #[arg(value_name = "ENV", conflicts_with = "env", required_unless_present = "env")]
    env_name: Option<String>,
    /// The same as ENV.
    #[arg(long = "env", id = "env", value_name = "ENV")]
    env_flag: Option<String>,
}

impl EnvName {
    /// The name; clap has made sure there is one.
    pub(super) fn get(self) -> Result<String, EngineError> {
        self.env_name.or(self.env_flag).ok_or_else(|| EngineError::Usage {
            message: "name the environment: ENV or --env ENV".into(),
        })
    }
}

/// `coxswain sync [ENV]`: `--sync`'s options, which also stand before any command, and the
/// positional environment only the command takes.
#[derive(Args, Clone)]
pub(super) struct SyncCommand {
    /// Only this environment (default: every one); the same as --env.
    #[arg(value_name = "ENV", conflicts_with = "env")]
    env_name: Option<String>,
    #[command(flatten)]
    args: SyncArgs,
}

impl SyncCommand {
    pub(super) fn get(self) -> SyncArgs {
        let mut args = self.args;
        if self.env_name.is_some() {
            args.env = self.env_name;
        }
        args
    }
}
