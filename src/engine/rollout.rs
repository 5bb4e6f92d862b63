//! Rollouts through the engine: the same gates and the same Lease as a sync, every operation
//! recorded in history. Front ends (the CLI, the app) call these and render the
//! [`RolloutStatus`] they return.

use super::{Engine, EngineError, gates};
use crate::cluster::Cluster;
use crate::git::GitInfo;
use crate::history::{self, Outcome, Revision};
use crate::lock::{LockError, SyncLock};
use crate::ownership::Owner;
use crate::repo::Environment;
use crate::rollout::{
    self, Action, Rollout, RolloutChange, RolloutError, RolloutState, RolloutStatus, Writer, Writes,
};
use crate::sync::{CancelToken, Failure, FailureKind, SyncOptions};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// How to run a rollout operation.
#[derive(Debug, Clone)]
pub struct RolloutRequest {
    /// kube context override (default: the env's `context`, else the current one).
    pub context: Option<String>,
    /// Stops before the next write (SIGINT/SIGTERM, a Cancel button).
    pub cancel: CancelToken,
    /// How long [`Engine::follow_rollouts`] follows the steps before giving up.
    pub timeout: Duration,
    /// How often it looks again while a canary becomes healthy or a timed pause runs.
    pub poll_interval: Duration,
    /// The clock (tests set it to step through timed pauses); `None`: now.
    pub now: Option<DateTime<Utc>>,
    /// The [`RolloutPreview::fingerprint`] the person confirmed: the operation is refused when
    /// the rollout's recorded state changed since.
    pub fingerprint: Option<String>,
}

impl Default for RolloutRequest {
    fn default() -> Self {
        Self {
            context: None,
            cancel: CancelToken::new(),
            timeout: Duration::from_mins(30),
            poll_interval: Duration::from_secs(2),
            now: None,
            fingerprint: None,
        }
    }
}

impl RolloutRequest {
    fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }
}

/// What a rollout operation would write, shown before a person confirms it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RolloutPreview {
    pub action: Action,
    /// Where the rollout stands now.
    pub status: RolloutStatus,
    /// Every object the operation writes (dry-run results), in order.
    pub changes: Vec<RolloutChange>,
    /// Where it stands after, in a sentence.
    pub message: String,
    /// Of the recorded state previewed (pass it back to [`Engine::rollout`]).
    pub fingerprint: String,
}

/// What [`Engine::follow_rollouts`] ended on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// Every rollout finished (or was aborted, or had nothing to do).
    Settled(Vec<RolloutStatus>),
    /// At least one waits for a person (a `manual` pause, a blue-green to promote, a pause).
    Paused(Vec<RolloutStatus>),
    /// A canary or new colour is degraded (crash-looping, unschedulable, …): a person decides
    /// whether to abort.
    Degraded(Vec<RolloutStatus>),
    /// The timeout passed first.
    TimedOut(Vec<RolloutStatus>),
}

impl Followed {
    pub fn statuses(&self) -> &[RolloutStatus] {
        match self {
            Self::Settled(s) | Self::Paused(s) | Self::Degraded(s) | Self::TimedOut(s) => s,
        }
    }
}

impl Engine {
    /// Each rollout's recorded state, to plan and sync the env as the rollouts hold it.
    pub(super) async fn rollout_view(
        &self,
        env: &Environment,
        cluster: &dyn Cluster,
    ) -> Result<Environment, EngineError> {
        Ok(self.rollout_view_and_pending(env, cluster).await?.0)
    }

    /// [`Engine::rollout_view`], and what the next sync does to each rollout (for the plan).
    pub(super) async fn rollout_view_and_pending(
        &self,
        env: &Environment,
        cluster: &dyn Cluster,
    ) -> Result<(Environment, rollout::Pending), EngineError> {
        if env.config.rollouts.is_empty() || env.has_errors() {
            return Ok((env.clone(), rollout::Pending::default()));
        }
        let mut states = Vec::new();
        for (workload, strategy) in &env.config.rollouts {
            let state = rollout::state::load(cluster, &env.namespace, workload, strategy).await?;
            states.push((workload.clone(), state));
        }
        Ok((rollout::view(env, &states), rollout::pending(env, &states)))
    }

    /// The status of `workload`'s rollout in `env` (read only; no lease).
    pub async fn rollout_status(
        &self,
        env: &str,
        workload: &str,
        context: Option<&str>,
    ) -> Result<RolloutStatus, EngineError> {
        let env = self.env(env)?;
        let cluster = self.cluster(&env, context).await?;
        let rollout = Rollout::of(&env, workload, Utc::now())?;
        let state = rollout.load(cluster.as_ref()).await?;
        Ok(rollout.status(cluster.as_ref(), state.as_ref()).await?)
    }

    /// Every rollout of `env`, in name order (read only).
    pub async fn rollout_statuses(
        &self,
        env: &str,
        context: Option<&str>,
    ) -> Result<Vec<RolloutStatus>, EngineError> {
        let names: Vec<String> = self.env(env)?.config.rollouts.keys().cloned().collect();
        let mut statuses = Vec::new();
        for workload in &names {
            statuses.push(self.rollout_status(env, workload, context).await?);
        }
        Ok(statuses)
    }

    /// `pause`, `resume`, `promote`, `abort` or `undo` of `workload` in `env`: through the sync's
    /// gates, under the env's Lease, recorded in history. Returns the status after it.
    pub async fn rollout(
        &self,
        env: &str,
        workload: &str,
        action: Action,
        request: &RolloutRequest,
    ) -> Result<RolloutStatus, EngineError> {
        let env = self.env(env)?;
        let rollout = Rollout::of(&env, workload, request.now())?;
        let (cluster, git) = self.admit_rollout(&env, request).await?;
        let message = format!("rollout {} {workload}", action.as_str());
        self.under_lease(&env, cluster.clone(), request, git.as_ref(), &message, async |w| {
            let state = rollout.load(w.cluster.as_ref()).await?;
            if let Some(confirmed) = &request.fingerprint
                && *confirmed != rollout::state::fingerprint(state.as_ref())
            {
                return Err(RolloutError::Refused {
                    workload: workload.to_owned(),
                    message: "the rollout moved on since the preview; preview it again".into(),
                });
            }
            rollout.act(w, state, action).await
        })
        .await?;
        let state = rollout.load(cluster.as_ref()).await?;
        Ok(rollout.status(cluster.as_ref(), state.as_ref()).await?)
    }

    /// What `action` on `workload` would write now, without writing (the same gates, no lease):
    /// applies are server-side dry runs, deletes are listed. A refusal is an error, as it would be.
    pub async fn preview_rollout(
        &self,
        env: &str,
        workload: &str,
        action: Action,
        request: &RolloutRequest,
    ) -> Result<RolloutPreview, EngineError> {
        let env = self.env(env)?;
        let rollout = Rollout::of(&env, workload, request.now())?;
        let (cluster, _) = self.admit_rollout(&env, request).await?;
        let state = rollout.load(cluster.as_ref()).await?;
        let status = rollout.status(cluster.as_ref(), state.as_ref()).await?;
        let fingerprint = rollout::state::fingerprint(state.as_ref());
        let mut writer = Writer {
            cluster: cluster.clone(),
            writes: Writes::Previewed { action, changes: Vec::new() },
            cancel: request.cancel.clone(),
            owner: Owner::of(&env),
            namespace: env.namespace.clone(),
            written: Vec::new(),
        };
        let after = rollout.act(&mut writer, state, action).await?;
        let changes = writer.previewed();
        Ok(RolloutPreview { action, status, changes, message: after.message, fingerprint })
    }

    /// Starts, restarts or advances every rollout of `env` as far as it can go now (the step
    /// after a sync, and each round of following). Recorded in history when something was
    /// written.
    pub async fn advance_rollouts(
        &self,
        env: &str,
        request: &RolloutRequest,
    ) -> Result<Vec<RolloutStatus>, EngineError> {
        let env = self.env(env)?;
        if env.config.rollouts.is_empty() {
            return Ok(Vec::new());
        }
        let (cluster, git) = self.admit_rollout(&env, request).await?;
        self.advance_admitted(&env, cluster, git.as_ref(), request).await
    }

    /// [`Engine::advance_rollouts`] once the gates passed (a sync just passed them).
    pub(super) async fn advance_admitted(
        &self,
        env: &Environment,
        cluster: Arc<dyn Cluster>,
        git: Option<&GitInfo>,
        request: &RolloutRequest,
    ) -> Result<Vec<RolloutStatus>, EngineError> {
        let now = request.now();
        let names: Vec<&String> = env.config.rollouts.keys().collect();
        self.under_lease(env, cluster.clone(), request, git, "rollout step", async |w| {
            for workload in &names {
                let rollout = Rollout::of(env, workload, now)?;
                let state = rollout.load(w.cluster.as_ref()).await?;
                rollout.reconcile(w, state).await?;
            }
            Ok(())
        })
        .await?;
        let mut statuses = Vec::new();
        for workload in names {
            let rollout = Rollout::of(env, workload, now)?;
            let state = rollout.load(cluster.as_ref()).await?;
            statuses.push(rollout.status(cluster.as_ref(), state.as_ref()).await?);
        }
        Ok(statuses)
    }

    /// Follows every rollout of `env` step by step until each is settled, one waits for a
    /// person, a canary or new colour is degraded, or `request.timeout` passes; `observe` sees
    /// each round's statuses. The gates run once, the Lease is taken for each round's writes.
    pub async fn follow_rollouts(
        &self,
        env: &str,
        request: &RolloutRequest,
        observe: &(dyn Fn(&[RolloutStatus]) + Send + Sync),
    ) -> Result<Followed, EngineError> {
        let env = self.env(env)?;
        if env.config.rollouts.is_empty() {
            return Ok(Followed::Settled(Vec::new()));
        }
        let (cluster, git) = self.admit_rollout(&env, request).await?;
        let deadline = tokio::time::Instant::now() + request.timeout;
        loop {
            let statuses =
                self.advance_admitted(&env, cluster.clone(), git.as_ref(), request).await?;
            observe(&statuses);
            if statuses.iter().any(RolloutStatus::awaits_person) {
                return Ok(Followed::Paused(statuses));
            }
            if statuses.iter().all(RolloutStatus::is_settled) {
                return Ok(Followed::Settled(statuses));
            }
            if statuses.iter().any(RolloutStatus::is_degraded) {
                return Ok(Followed::Degraded(statuses));
            }
            if tokio::time::Instant::now() + request.poll_interval > deadline {
                return Ok(Followed::TimedOut(statuses));
            }
            tokio::select! {
                () = tokio::time::sleep(request.poll_interval) => {}
                () = request.cancel.cancelled() => return Err(RolloutError::Interrupted.into()),
            }
        }
    }

    /// The sync's gates (input, policy, model, protected branch), then the env's cluster.
    async fn admit_rollout(
        &self,
        env: &Environment,
        request: &RolloutRequest,
    ) -> Result<(Arc<dyn Cluster>, Option<GitInfo>), EngineError> {
        let admission = gates::admit_sync(self.root(), &self.pipelines().0, env, false)
            .map_err(EngineError::Refused)?;
        let cluster = self.cluster(env, request.context.as_deref()).await?;
        Ok((cluster, admission.git))
    }

    /// Runs `work` holding the env's Lease, each of its writes fenced by it, and records a
    /// revision listing what it wrote (nothing written: nothing recorded).
    async fn under_lease<T>(
        &self,
        env: &Environment,
        cluster: Arc<dyn Cluster>,
        request: &RolloutRequest,
        git: Option<&GitInfo>,
        message: &str,
        work: impl AsyncFnOnce(&mut Writer) -> Result<T, RolloutError>,
    ) -> Result<T, EngineError> {
        let ttl = SyncOptions::default().lease_ttl;
        let acquired = tokio::select! {
            acquired = SyncLock::acquire(cluster.clone(), &env.name, &env.namespace, &self.holder, ttl) => acquired,
            () = request.cancel.cancelled() => return Err(RolloutError::Interrupted.into()),
        };
        let lock = match acquired {
            Ok(lock) => lock,
            Err(error @ LockError::Held { .. }) => {
                return Err(EngineError::Refused(Failure::new(
                    FailureKind::Lock,
                    error.to_string(),
                )));
            }
            Err(LockError::Cluster(error)) => return Err(EngineError::cluster(&env.name, error)),
        };
        let owner = Owner::of(env);
        let mut writer = Writer {
            cluster: cluster.clone(),
            writes: Writes::Fenced(lock.fence()),
            cancel: request.cancel.clone(),
            owner: owner.clone(),
            namespace: env.namespace.clone(),
            written: Vec::new(),
        };
        let result = work(&mut writer).await;
        let written = writer.written;
        let mut recorded = Ok(());
        if !written.is_empty() && lock.lost().is_none() {
            let outcome = if result.is_ok() { Outcome::Succeeded } else { Outcome::Failed };
            let revision = Revision {
                number: 0,
                git_sha: git.and_then(|g| g.sha.clone()),
                dirty: git.is_some_and(|g| !g.dirty_files.is_empty()),
                author: self.holder.clone(),
                time: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                outcome,
                message: message.to_owned(),
                applied: written,
                pruned: Vec::new(),
                rollback_of: None,
                manifests_digest: None,
            };
            recorded =
                history::record(cluster.as_ref(), &owner, &env.namespace, revision, &env.objects)
                    .await
                    .map(|_| ());
        }
        lock.release().await;
        let value = result?;
        recorded?;
        Ok(value)
    }
}

/// The state of `workload`'s rollout (`strategy`) as recorded, for tests and the app's panel.
pub async fn recorded_state(
    cluster: &dyn Cluster,
    namespace: &str,
    workload: &str,
    strategy: &rollout::Strategy,
) -> Result<Option<RolloutState>, RolloutError> {
    rollout::state::load(cluster, namespace, workload, strategy).await
}
