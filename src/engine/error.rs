//! The engine's one error type. Front ends map it once: [`EngineError::exit_code`] for the CLI,
//! [`EngineError::code`] and [`EngineError::location`] for the app's `{code, message, location}`.

use crate::cluster::ClusterError;
use crate::diagnostic::Diagnostic;
use crate::exit::ExitCode;
use crate::git::GitError;
use crate::history::{HistoryError, RestoreError};
use crate::promote::PromoteError;
use crate::repo::RepoError;
use crate::rollout::RolloutError;
use crate::sync::{Failure, FailureKind};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// Files that do not load: every write and plan refuses them.
    #[error("the repo has input errors (run `coxswain check`):\n  {}", list(.0))]
    InputErrors(Vec<Diagnostic>),
    #[error("{env}: {source}")]
    Cluster {
        env: String,
        #[source]
        source: ClusterError,
    },
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Promote(#[from] PromoteError),
    /// Posting the plan on a pull request (`plan --comment-pr`).
    #[error(transparent)]
    Comment(#[from] crate::promote::plan_comment::CommentError),
    #[cfg(feature = "model-validation")]
    #[error(transparent)]
    Validate(#[from] crate::validate::ValidateError),
    /// A gate refused the write before anything was written.
    #[error("{0}")]
    Refused(Failure),
    #[error(
        "revision {revision} was not synced from a git commit; cannot restore the folder from git \
         (roll back without the git option)"
    )]
    NoGitRevision { revision: u64 },
    #[error("{message}")]
    Usage { message: String },
    #[error(transparent)]
    Rollout(#[from] crate::rollout::RolloutError),
}

fn list(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
}

impl From<RestoreError> for EngineError {
    fn from(error: RestoreError) -> Self {
        match error {
            RestoreError::History(error) => Self::History(error),
            refused => Self::Refused(Failure::new(FailureKind::Revision, refused.to_string())),
        }
    }
}

impl EngineError {
    pub(crate) fn cluster(env: &str, source: ClusterError) -> Self {
        Self::Cluster { env: env.to_owned(), source }
    }

    /// The process exit code this error means (README's table).
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Refused(failure) => failure_exit_code(failure.kind),
            Self::Rollout(RolloutError::Lost(_)) => ExitCode::LockHeld,
            Self::Rollout(RolloutError::Interrupted) => ExitCode::Interrupted,
            _ => ExitCode::Error,
        }
    }

    /// A stable, kebab-case code for the UI.
    pub fn code(&self) -> String {
        let code = match self {
            Self::Repo(RepoError::NotARepo { .. }) => "not-a-repo",
            Self::Repo(RepoError::Io { .. }) => "io",
            Self::Repo(RepoError::UnknownEnv { .. }) => "unknown-env",
            Self::InputErrors(diagnostics) => {
                return diagnostics
                    .first()
                    .map_or_else(|| "input-errors".into(), |d| d.code.clone());
            }
            Self::Cluster { source, .. } => cluster_code(source),
            Self::History(HistoryError::Cluster(source)) => cluster_code(source),
            Self::History(HistoryError::NotFound { .. }) => "revision-not-found",
            Self::History(HistoryError::Corrupt { .. }) => "history-corrupt",
            Self::History(HistoryError::TooLarge { .. }) => "history-too-large",
            Self::History(HistoryError::Exhausted { .. }) => "history-exhausted",
            Self::History(HistoryError::NoTarget { .. } | HistoryError::NoHistory { .. }) => {
                "no-rollback-target"
            }
            Self::Git(GitError::Protected { .. }) => "protected",
            Self::Git(GitError::Fetch { .. }) => "git-fetch",
            Self::Git(GitError::Git { .. }) => "git",
            Self::Promote(error) => promote_code(error),
            Self::Comment(crate::promote::plan_comment::CommentError::NoForge { .. }) => "no-forge",
            Self::Comment(_) => "forge",
            #[cfg(feature = "model-validation")]
            Self::Validate(_) => "model",
            Self::Refused(failure) => return failure_code(failure),
            Self::NoGitRevision { .. } => "no-git-revision",
            Self::Usage { .. } => "usage",
            Self::Rollout(RolloutError::NotDeclared { .. }) => "rollout-not-declared",
            Self::Rollout(RolloutError::Refused { .. }) => "rollout-refused",
            Self::Rollout(RolloutError::CorruptState { .. }) => "rollout-state",
            Self::Rollout(RolloutError::Lost(_)) => "lock-held",
            Self::Rollout(RolloutError::Interrupted) => "interrupted",
            Self::Rollout(RolloutError::Cluster(source)) => cluster_code(source),
        };
        code.to_owned()
    }

    /// `file:line` of the first problem, when the error concerns a file.
    pub fn location(&self) -> Option<String> {
        match self {
            Self::InputErrors(diagnostics) => diagnostics.first().map(Diagnostic::location),
            Self::Refused(failure) => failure.location.clone(),
            _ => None,
        }
    }
}

/// The exit code of a failure kind: gates 3, the lock 4, an interruption 130, everything else 1.
pub fn failure_exit_code(kind: FailureKind) -> ExitCode {
    match kind {
        FailureKind::Lock => ExitCode::LockHeld,
        FailureKind::Interrupted => ExitCode::Interrupted,
        kind if kind.is_gate() => ExitCode::GateFailed,
        _ => ExitCode::Error,
    }
}

/// The UI code of a failure: policy and input failures keep their rule or diagnostic code.
pub fn failure_code(failure: &Failure) -> String {
    if let Some(code) = &failure.code {
        return code.clone();
    }
    let code = match failure.kind {
        FailureKind::Input => "input-errors",
        FailureKind::Policy => "policy",
        FailureKind::Model => "model-validation-failed",
        FailureKind::ModelError => "model",
        FailureKind::Protected => "protected",
        FailureKind::Git => "git",
        FailureKind::Revision => "revision-refused",
        FailureKind::Plan => "plan-errors",
        FailureKind::Unreachable => "cluster-unreachable",
        FailureKind::Cluster => "cluster-error",
        FailureKind::Lock => "lock-held",
        FailureKind::Apply => "apply-failed",
        FailureKind::Health => "unhealthy",
        FailureKind::Record => "history",
        FailureKind::Cancelled => "plan-changed",
        FailureKind::Interrupted => "interrupted",
    };
    code.to_owned()
}

fn cluster_code(error: &ClusterError) -> &'static str {
    match error {
        ClusterError::Unreachable { .. } | ClusterError::Timeout { .. } => "cluster-unreachable",
        ClusterError::Config { .. } => "kubeconfig",
        ClusterError::Unauthorized { .. } => "unauthorized",
        ClusterError::Forbidden { .. } => "forbidden",
        ClusterError::Conflict { .. } => "conflict",
        ClusterError::Invalid { .. } => "rejected",
        ClusterError::UnknownKind { .. } => "unknown-kind",
        _ => "cluster-error",
    }
}

fn promote_code(error: &PromoteError) -> &'static str {
    match error {
        PromoteError::Repo(_) => "repo",
        PromoteError::Git(_) => "git",
        PromoteError::Change(_) => "promote-change",
        PromoteError::NoStage { .. }
        | PromoteError::AmbiguousStage { .. }
        | PromoteError::UnknownPipeline { .. }
        | PromoteError::InvalidPipelines(_)
        | PromoteError::NoSource { .. }
        | PromoteError::UnknownSource { .. }
        | PromoteError::SelfPromotion { .. } => "pipeline",
        PromoteError::InputErrors { .. } => "input-errors",
        PromoteError::NoForge(_) => "no-forge",
        PromoteError::Forge(_) | PromoteError::PullRequest { .. } => "forge",
        PromoteError::BranchTaken { .. } => "branch-taken",
        PromoteError::NoWorkload { .. } => "no-workload",
        PromoteError::NoContainer { .. } => "no-container",
        PromoteError::NoReplicas { .. } => "no-replicas",
        PromoteError::RenderedWorkload { .. } => "rendered-workload",
    }
}
