//! Rollback, manual and automatic: the revision is found in history, admitted by
//! [`gates::admit_restore`] (digest, loader rules, git), then applied through the same sync
//! mechanism as any change, and recorded as a new revision. With `with_git`, the env folder is
//! also restored in git (on a branch for protected envs).

use super::gates::{self, Verification};
use super::{Confirming, Engine, EngineError, Preview, plan_changed, preview};
use crate::cluster::Cluster;
use crate::history::{self, Revision};
use crate::plan::{PlanOptions, plan_env};
use crate::repo::Environment;
use crate::sync::{
    self, CancelToken, Failure, FailureKind, Progress, SyncEvent, SyncOptions, SyncReport,
    SyncStatus,
};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// What to restore, and how.
#[derive(Debug, Clone)]
pub struct RollbackRequest {
    /// The revision (default: the last successful one before the newest).
    pub to: Option<u64>,
    pub context: Option<String>,
    pub dry_run: bool,
    pub timeout: Duration,
    /// Also commit the env folder as it was at that revision.
    pub with_git: bool,
    /// Restore a revision that cannot be checked against git (never for protected envs).
    pub allow_unverified: bool,
    /// Apply only if the plan still has this previewed fingerprint.
    pub fingerprint: Option<String>,
    /// Stops the rollback before its next write (see [`super::SyncRequest::cancel`]).
    pub cancel: CancelToken,
}

impl Default for RollbackRequest {
    fn default() -> Self {
        Self {
            to: None,
            context: None,
            dry_run: false,
            timeout: SyncOptions::default().timeout,
            with_git: false,
            allow_unverified: false,
            fingerprint: None,
            cancel: CancelToken::new(),
        }
    }
}

/// The outcome of a rollback.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RollbackOutcome {
    pub report: SyncReport,
    /// The revision restored.
    pub target: Revision,
    pub verification: Verification,
    /// The git commit restoring the env folder (`with_git`).
    pub commit: Option<String>,
    /// The branch that commit is on, for protected environments (open a pull request from it).
    pub branch: Option<String>,
}

impl Engine {
    /// The target revision, admitted through the gates, as an environment to apply.
    async fn admitted(
        &self,
        name: &str,
        request: &RollbackRequest,
    ) -> Result<
        (Arc<Environment>, Arc<dyn Cluster>, Revision, Environment, Verification),
        EngineError,
    > {
        let env = self.env(name)?;
        // Today's env.yaml decides what a revision may contain: it must load.
        if let Some(error) =
            env.diagnostics.iter().find(|d| d.is_error() && d.file.ends_with("/env.yaml"))
        {
            return Err(EngineError::InputErrors(vec![error.clone()]));
        }
        let cluster = self.cluster(&env, request.context.as_deref()).await?;
        let (revision, raw) =
            history::rollback_target(cluster.as_ref(), &env.name, &env.namespace, request.to)
                .await?;
        let (restored, verification) =
            gates::admit_restore(self.root(), &env, &revision, &raw, request.allow_unverified)
                .map_err(EngineError::Refused)?;
        // Workloads with a rollout strategy stay as their rollout holds them (see `rollout`).
        let restored = self.rollout_view(&restored, cluster.as_ref()).await?;
        Ok((env, cluster, revision, restored, verification))
    }

    /// The plan restoring the revision would apply.
    pub async fn preview_rollback(
        &self,
        name: &str,
        request: &RollbackRequest,
    ) -> Result<Preview, EngineError> {
        let (env, cluster, revision, restored, verification) = self.admitted(name, request).await?;
        let plan = plan_env(cluster.as_ref(), &restored, &PlanOptions::default())
            .await
            .map_err(|e| EngineError::cluster(&env.name, e))?;
        Ok(preview(plan, Some(revision), Some(verification)))
    }

    /// Restores the revision (preview first: `request.fingerprint` or the progress's confirm).
    pub async fn rollback(
        &self,
        name: &str,
        request: &RollbackRequest,
        progress: &dyn Progress,
    ) -> Result<RollbackOutcome, EngineError> {
        let (env, cluster, revision, restored, verification) = self.admitted(name, request).await?;
        if request.with_git && revision.git_sha.is_none() {
            return Err(EngineError::NoGitRevision { revision: revision.number });
        }
        if let (true, Some(sha), Some(overlay)) =
            (request.with_git, revision.git_sha.as_deref(), env.kustomization.as_ref())
        {
            // `--git` restores environments/<env>/ only; an overlay's shared bases would stay
            // as HEAD has them, and git would no longer render what the cluster runs.
            let shared: Vec<String> = overlay
                .extra_dirs
                .iter()
                .filter(|dir| !dir.starts_with(&format!("environments/{}/", env.name)))
                .cloned()
                .collect();
            let changed = crate::git::dirs_changed_since(self.root(), sha, &shared)?;
            if !changed.is_empty() {
                return Err(crate::git::GitError::Git {
                    repo: self.root().display().to_string(),
                    message: format!(
                        "environments/{} is a kustomize overlay and {} changed since commit {sha}; \
                         --git restores only environments/{}/, which would not reproduce revision \
                         {}: roll back without --git, then restore those folders in git yourself \
                         (git checkout {sha} -- {}); nothing was applied",
                        env.name,
                        changed.join(", "),
                        env.name,
                        revision.number,
                        changed.join(" ")
                    ),
                }
                .into());
            }
        }
        let options = SyncOptions {
            dry_run: request.dry_run,
            timeout: request.timeout,
            holder: self.holder.clone(),
            rollback_of: Some(revision.number),
            git_sha: revision.git_sha.clone(),
            message: format!("rollback to revision {}", revision.number),
            cancel: request.cancel.clone(),
            ..SyncOptions::default()
        };
        progress.event(&env.name, &SyncEvent::RollingBack { to: revision.number });
        let confirming =
            Confirming { inner: progress, fingerprint: request.fingerprint.as_deref() };
        let mut report = sync::sync_env(cluster, &restored, &options, &confirming).await;
        plan_changed(&mut report, request.fingerprint.as_deref());
        let (mut commit, mut branch) = (None, None);
        if request.with_git
            && !request.dry_run
            && !crate::report::is_failure(report.status)
            && let Some(sha) = revision.git_sha.as_deref()
        {
            let number = revision.number;
            let on_branch =
                env.config.protected.then(|| format!("coxswain/rollback-{}-{number}", env.name));
            let message =
                format!("Roll back environments/{} to revision {number} ({sha})", env.name);
            let oid = crate::git::commit_env_restore(
                self.root(),
                &env.name,
                sha,
                on_branch.as_deref(),
                &message,
            )?;
            commit = Some(oid.to_string());
            branch = on_branch;
        }
        Ok(RollbackOutcome { report, target: revision, verification, commit, branch })
    }

    /// After a failed rollout: restore the newest other successful revision, through the same
    /// gates as a manual rollback (a revision that cannot be verified is not restored).
    pub(super) async fn roll_back_after_failure(
        &self,
        env: &Environment,
        cluster: Arc<dyn Cluster>,
        options: &SyncOptions,
        progress: &dyn Progress,
        mut report: SyncReport,
    ) -> SyncReport {
        let failure = report.error.take().unwrap_or_else(|| Failure::new(FailureKind::Health, ""));
        let give_up = |note: String| Some(failure.clone().and(&note));
        let good =
            match history::last_good(cluster.as_ref(), &env.name, &env.namespace, report.revision)
                .await
            {
                Ok(Some(good)) => good,
                Ok(None) => {
                    report.error = give_up("no earlier successful revision to roll back to".into());
                    return report;
                }
                Err(error) => {
                    report.error = give_up(format!("automatic rollback impossible: {error}"));
                    return report;
                }
            };
        let (revision, raw): (Revision, Value) = good;
        progress.event(&env.name, &SyncEvent::RollingBack { to: revision.number });
        let restored = match gates::admit_restore(self.root(), env, &revision, &raw, false) {
            Ok((restored, _)) => restored,
            Err(refused) => {
                report.error = give_up(format!(
                    "automatic rollback to revision {} refused: {refused}",
                    revision.number
                ));
                return report;
            }
        };
        let restored = match self.rollout_view(&restored, cluster.as_ref()).await {
            Ok(view) => view,
            Err(error) => {
                report.error = give_up(format!(
                    "automatic rollback to revision {}: reading its rollouts failed: {error}",
                    revision.number
                ));
                return report;
            }
        };
        let rollback_options = SyncOptions {
            rollback_of: Some(revision.number),
            git_sha: revision.git_sha.clone(),
            dirty: false,
            message: format!(
                "automatic rollback to revision {} after a failed rollout",
                revision.number
            ),
            ..options.clone()
        };
        let rollback = sync::sync_env(cluster, &restored, &rollback_options, progress).await;
        report.rolled_back_to = Some(revision.number);
        report.status = if matches!(rollback.status, SyncStatus::Synced | SyncStatus::NoChanges) {
            SyncStatus::RolledBack
        } else {
            SyncStatus::Failed
        };
        let note = match rollback.error {
            Some(error) => {
                format!("rollback to revision {} did not complete: {error}", revision.number)
            }
            None => format!("rolled back to revision {}", revision.number),
        };
        report.error = Some(failure.and(&note));
        report
    }
}
