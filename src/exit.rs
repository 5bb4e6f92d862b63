//! Process exit codes, shared by every command so scripts can rely on them.

/// What a command's outcome means to a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Success; for `plan --detailed-exitcode`, also "no changes".
    Ok = 0,
    /// Bad input, unreachable cluster, or another error.
    Error = 1,
    /// `plan --detailed-exitcode` found changes.
    Changes = 2,
    /// A gate failed: policy, model validation or health.
    GateFailed = 3,
    /// Another sync holds the environment's lock, or took it over while this sync ran.
    LockHeld = 4,
    /// `--sync --wait` (or `rollout resume --wait`) stopped at a rollout waiting for a person:
    /// a step's `manual` pause, a blue-green to promote, or a `rollout pause`. Nothing failed;
    /// promote, resume or abort it with `coxswain rollout`.
    RolloutPaused = 5,
    /// Interrupted by SIGINT or SIGTERM (Ctrl-C): stopped before a write, recorded as an
    /// `interrupted` revision. 130 = 128 + SIGINT, as shells report it.
    Interrupted = 130,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}
