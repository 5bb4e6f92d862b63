//! Sync: plan → confirm → lock → plan again under the lock → apply in tiers → wait for health →
//! prune → record history → unlock (design §5). Every step reports progress; every outcome,
//! including failures part-way, is recorded so nothing is half-applied silently.
//!
//! The plan that is written is the one computed under the lease: the plan shown for confirmation
//! is computed before it (no lease is held while a person reads it), and when the two differ the
//! sync writes nothing and says so. Every write is fenced: it is issued only after
//! [`SyncLock::check`] and the [`CancelToken`] allow it, so a sync whose lease was lost or that
//! was cancelled stops before its next write and records an `interrupted` revision.

mod cancel;
mod failure;
pub mod pod_inspector;
mod summary;
pub mod tiers;

pub use cancel::CancelToken;
pub use failure::{Failure, FailureKind};
pub use pod_inspector::{PodInspector, Workload};

use crate::cluster::{Cluster, ClusterError, Gvk, ObjectKey, Preconditions, ResourceType};
use crate::health::{self, Assessment, Health};
use crate::history::{self, Outcome, Revision};
use crate::inventory::{self, Entry};
use crate::lock::{Fence, LeaseLost, LockError, SyncLock};
use crate::ownership::{
    INTERNAL_LABEL, Judgement, LEGACY_FIELD_MANAGER, Owner, applies, judge, owned_selector,
};
use crate::plan::{Action, EnvPlan, ObjectPlan, PlanOptions, plan_env};
use crate::repo::Environment;
use futures::{StreamExt, stream};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a sync runs.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Plan and preview only; write nothing.
    pub dry_run: bool,
    pub force_conflicts: bool,
    /// Also prune Namespaces, PVCs, PVs and CRDs.
    pub prune_dangerous: bool,
    /// How long to wait for health after applying.
    pub timeout: Duration,
    pub poll_interval: Duration,
    /// Requests in flight at once within a tier.
    pub concurrency: usize,
    /// Lock holder identity.
    pub holder: String,
    pub lease_ttl: Duration,
    /// Recorded in history.
    pub git_sha: Option<String>,
    pub dirty: bool,
    pub message: String,
    /// Set when this sync restores revision N.
    pub rollback_of: Option<u64>,
    /// Stops the sync before its next write (Ctrl-C, a Cancel button).
    pub cancel: CancelToken,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            force_conflicts: false,
            prune_dangerous: false,
            timeout: Duration::from_mins(5),
            poll_interval: Duration::from_secs(2),
            concurrency: 8,
            holder: crate::lock::default_holder(),
            lease_ttl: Duration::from_mins(1),
            git_sha: None,
            dirty: false,
            message: String::new(),
            rollback_of: None,
            cancel: CancelToken::new(),
        }
    }
}

/// Progress of a sync, for a progress bar, log lines or the desktop app.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum SyncEvent {
    Planned { changes: usize },
    Locked { holder: String },
    NamespaceCreated { namespace: String },
    TierStarted { tier: String, objects: usize },
    Applied { object: String },
    Health { object: String, health: Health, message: String },
    Pruned { object: String },
    PruneSkipped { object: String, reason: String },
    Recorded { revision: u64 },
    RollingBack { to: u64 },
}

/// Receives [`SyncEvent`]s as they happen.
pub trait Progress: Send + Sync {
    fn event(&self, env: &str, event: &SyncEvent);

    /// Called with the plan before anything is written; `false` cancels the sync. The CLI
    /// prompts here; the desktop app checks the plan is the one the user previewed.
    fn confirm(&self, _plan: &EnvPlan) -> bool {
        true
    }
}

/// Ignores progress.
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _env: &str, _event: &SyncEvent) {}
}

/// Where a sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum SyncStatus {
    /// Nothing differed; nothing was written.
    NoChanges,
    /// `--dry-run`: the plan was shown, nothing was written.
    DryRun,
    Synced,
    /// Applied, but not healthy within the timeout.
    Unhealthy,
    /// Applied, unhealthy, and rolled back to the last good revision.
    RolledBack,
    /// The plan has errors (unknown kinds, rejected objects, conflicts): nothing was written.
    Blocked,
    /// Another sync holds the lock: nothing was written.
    LockHeld,
    /// Stopped by an error; `applied` says what was written before it.
    Failed,
    /// The preview was declined, or the plan changed before it could be applied: nothing was
    /// written.
    Cancelled,
    /// Stopped before its next write (cancelled, or its lease was lost); `applied` says what was
    /// written before, and the revision is recorded as `interrupted`.
    Interrupted,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ObjectHealth {
    pub object: String,
    #[serde(flatten)]
    pub assessment: Assessment,
}

/// The outcome of syncing one environment.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub env: String,
    pub namespace: String,
    pub status: SyncStatus,
    pub plan: Option<EnvPlan>,
    pub applied: Vec<String>,
    pub pruned: Vec<String>,
    pub prune_skipped: Vec<String>,
    pub health: Vec<ObjectHealth>,
    pub revision: Option<u64>,
    /// The revision restored after a failed rollout.
    pub rolled_back_to: Option<u64>,
    /// Serialised as its message (see [`Failure`]).
    #[cfg_attr(feature = "ts", ts(as = "Option<String>"))]
    pub error: Option<Failure>,
    /// Where the env's rollouts stand after the sync (started, advanced, waiting), a sentence
    /// each; filled in by the engine. Absent from JSON when the env has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<String>>", optional))]
    pub rollouts: Vec<String>,
}

impl SyncReport {
    /// An empty report of `env` with `status`, for outcomes decided before the engine runs.
    pub fn new_for(env: &Environment, status: SyncStatus) -> Self {
        Self::new(env, status)
    }

    fn new(env: &Environment, status: SyncStatus) -> Self {
        Self {
            env: env.name.clone(),
            namespace: env.namespace.clone(),
            status,
            plan: None,
            applied: Vec::new(),
            pruned: Vec::new(),
            prune_skipped: Vec::new(),
            health: Vec::new(),
            revision: None,
            rolled_back_to: None,
            error: None,
            rollouts: Vec::new(),
        }
    }

    /// This report ending with `status` for `failure`.
    #[must_use]
    pub fn ended(mut self, status: SyncStatus, failure: Failure) -> Self {
        self.status = status;
        self.error = Some(failure);
        self
    }

    /// The kind of failure, if any.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        self.error.as_ref().map(|f| f.kind)
    }

    fn failed(self, error: &ClusterError) -> Self {
        let kind = if error.is_offline() { FailureKind::Unreachable } else { FailureKind::Cluster };
        self.ended(SyncStatus::Failed, Failure::new(kind, error.to_string()))
    }

    fn failed_with(self, kind: FailureKind, message: String) -> Self {
        self.ended(SyncStatus::Failed, Failure::new(kind, message))
    }
}

/// Syncs one environment. Never panics on cluster behaviour; every failure is a report.
///
/// This is the write mechanism only: the gates (policy, model, protected branches, trusted
/// revisions) and the automatic rollback belong to [`crate::engine`], the one path front ends
/// use.
pub async fn sync_env(
    cluster: Arc<dyn Cluster>,
    env: &Environment,
    options: &SyncOptions,
    progress: &dyn Progress,
) -> SyncReport {
    let mut report = SyncReport::new(env, SyncStatus::Synced);
    if env.has_errors() {
        let first = env
            .diagnostics
            .iter()
            .find(|d| d.is_error())
            .map(ToString::to_string)
            .unwrap_or_default();
        return report.ended(
            SyncStatus::Blocked,
            Failure::new(
                FailureKind::Input,
                format!(
                    "environment {} has input errors (first: {first}); run `coxswain check`",
                    env.name
                ),
            ),
        );
    }
    let plan_options = PlanOptions {
        force_conflicts: options.force_conflicts,
        concurrency: options.concurrency,
        unchanged: None,
    };
    let plan = match plan_env(cluster.as_ref(), env, &plan_options).await {
        Ok(plan) => plan,
        Err(error) => return report.failed(&error),
    };
    let changes = plan.objects.iter().filter(|o| o.action.is_change()).count()
        + usize::from(!plan.namespace_exists);
    progress.event(&env.name, &SyncEvent::Planned { changes });
    report.plan = Some(plan.clone());
    if !plan.errors.is_empty() {
        let message = format!("the plan has {} error(s); nothing was applied", plan.errors.len());
        return report.ended(SyncStatus::Blocked, Failure::new(FailureKind::Plan, message));
    }
    if options.dry_run {
        report.status = SyncStatus::DryRun;
        return report;
    }
    if let Some(failure) = drift_needs_force(&plan) {
        return report.ended(SyncStatus::Blocked, failure);
    }
    if !plan.has_changes() {
        report.status = SyncStatus::NoChanges;
        return report;
    }
    if !progress.confirm(&plan) {
        let message = "the preview was not confirmed; nothing was applied";
        return report.ended(SyncStatus::Cancelled, Failure::new(FailureKind::Cancelled, message));
    }
    if options.cancel.is_cancelled() {
        return report.ended(SyncStatus::Interrupted, interrupted_before_writing());
    }

    if !plan.namespace_exists {
        if let Err(error) = create_namespace(cluster.as_ref(), env).await {
            return report.failed(&error);
        }
        progress
            .event(&env.name, &SyncEvent::NamespaceCreated { namespace: env.namespace.clone() });
    }
    // Taking over a lease can wait up to its duration: a cancellation ends the wait.
    let acquired = tokio::select! {
        acquired = SyncLock::acquire(
            cluster.clone(),
            &env.name,
            &env.namespace,
            &options.holder,
            options.lease_ttl,
        ) => acquired,
        () = options.cancel.cancelled() => {
            return report.ended(SyncStatus::Interrupted, interrupted_before_writing());
        }
    };
    let lock = match acquired {
        Ok(lock) => lock,
        Err(error @ LockError::Held { .. }) => {
            let failure = Failure::new(FailureKind::Lock, error.to_string());
            return report.ended(SyncStatus::LockHeld, failure);
        }
        Err(LockError::Cluster(error)) => return report.failed(&error),
    };
    progress.event(&env.name, &SyncEvent::Locked { holder: lock.identity().to_owned() });
    let report = locked(cluster, env, &plan, options, progress, report, &lock).await;
    lock.release().await;
    report
}

/// Under the lock: plans again, then writes only if that plan is the one confirmed.
async fn locked(
    cluster: Arc<dyn Cluster>,
    env: &Environment,
    confirmed: &EnvPlan,
    options: &SyncOptions,
    progress: &dyn Progress,
    mut report: SyncReport,
    lock: &SyncLock,
) -> SyncReport {
    let plan_options = PlanOptions {
        force_conflicts: options.force_conflicts,
        concurrency: options.concurrency,
        unchanged: None,
    };
    let plan = match plan_env(cluster.as_ref(), env, &plan_options).await {
        Ok(plan) => plan,
        Err(error) => return report.failed(&error),
    };
    if !same_plan(confirmed, &plan) {
        report.plan = Some(plan);
        let message = format!(
            "the plan of {} changed between the preview and taking the lock (another sync or \
             someone else changed the cluster); nothing was applied — review the new plan and \
             sync again",
            env.name
        );
        return report.ended(SyncStatus::Cancelled, Failure::new(FailureKind::Cancelled, message));
    }
    report.plan = Some(plan.clone());
    let fence = lock.fence();
    if let Err(stop) = may_write(&fence, &options.cancel, true).await {
        return report.ended(SyncStatus::Interrupted, stop.failure(&[]));
    }
    // The first sync claims the namespace before anything else is written in it, so a second
    // environment (or repo) finds the claim even if this sync stops half-way.
    if !plan.inventory.exists
        && let Err(error) =
            write_inventory(cluster.as_ref(), env, &plan, &[], &BTreeSet::new()).await
    {
        let message = format!("claiming namespace {} failed: {error}", env.namespace);
        return report.failed_with(FailureKind::Record, message);
    }
    run_locked(cluster, env, &plan, options, progress, report, &fence).await
}

/// Whether the plan computed under the lock writes what the confirmed plan showed. A namespace
/// the sync created in between, and the server dry-runs that became possible in it, are no
/// difference.
fn same_plan(confirmed: &EnvPlan, locked: &EnvPlan) -> bool {
    let comparable = |plan: &EnvPlan| {
        let mut plan = plan.clone();
        plan.namespace_exists = true;
        for object in &mut plan.objects {
            object.server_dry_run = false;
        }
        serde_json::to_value(&plan).unwrap_or(Value::Null)
    };
    comparable(confirmed) == comparable(locked)
}

/// One apply of a tier: the object, the apply's result (or why it was not issued), and a failure
/// to release the field manager of earlier versions.
type Applied = (ObjectKey, Result<Result<Value, ClusterError>, Stop>, Option<ClusterError>);

/// Why a sync stopped before a write.
#[derive(Debug, Clone)]
enum Stop {
    Cancelled,
    Lost(LeaseLost),
}

impl Stop {
    /// The failure reported for a sync stopped here, after applying `applied`.
    fn failure(&self, applied: &[String]) -> Failure {
        let done = if applied.is_empty() {
            "nothing had been applied".to_owned()
        } else {
            format!("{} object(s) had been applied (listed in the revision)", applied.len())
        };
        match self {
            Self::Cancelled => Failure::new(
                FailureKind::Interrupted,
                format!("the sync was interrupted; no further write was issued; {done}"),
            ),
            Self::Lost(lost @ LeaseLost::TakenOver { .. }) => Failure::new(
                FailureKind::Lock,
                format!("{lost}; no further write was issued; {done}"),
            ),
            Self::Lost(lost @ LeaseLost::RenewalFailed { .. }) => Failure::new(
                FailureKind::Cluster,
                format!("{lost}; no further write was issued; {done}"),
            ),
        }
    }
}

fn interrupted_before_writing() -> Failure {
    Stop::Cancelled.failure(&[])
}

/// Whether the next write may be issued: not cancelled, and the lease still held (`verify`:
/// read back, see [`Fence::check`]).
async fn may_write(fence: &Fence, cancel: &CancelToken, verify: bool) -> Result<(), Stop> {
    if cancel.is_cancelled() {
        return Err(Stop::Cancelled);
    }
    fence.check(verify).await.map_err(Stop::Lost)
}

/// Records a sync stopped before a write. With the lease still held (cancelled) the inventory
/// keeps what was applied; with the lease lost it is left alone, since it is the new holder's to
/// write (objects applied here that the new holder does not declare stay unpruned, never deleted
/// by mistake, and are listed in the revision).
#[allow(clippy::too_many_arguments)]
async fn interrupted(
    cluster: &dyn Cluster,
    env: &Environment,
    plan: &EnvPlan,
    entries: &[Entry],
    options: &SyncOptions,
    progress: &dyn Progress,
    mut report: SyncReport,
    stop: &Stop,
    fence: &Fence,
) -> SyncReport {
    let failure = stop.failure(&report.applied);
    report.status = SyncStatus::Interrupted;
    report.error = Some(failure.clone());
    if matches!(stop, Stop::Cancelled) {
        keep_inventory(cluster, env, plan, entries, &mut report, fence).await;
    }
    record(cluster, env, options, Outcome::Interrupted, &failure.message, &mut report, progress)
        .await;
    report
}

/// Apply, health, prune, inventory and history, under the lock.
async fn run_locked(
    cluster: Arc<dyn Cluster>,
    env: &Environment,
    plan: &EnvPlan,
    options: &SyncOptions,
    progress: &dyn Progress,
    mut report: SyncReport,
    fence: &Fence,
) -> SyncReport {
    let mut by_tier: BTreeMap<usize, Vec<&ObjectPlan>> = BTreeMap::new();
    for object in
        plan.objects.iter().filter(|o| matches!(o.action, Action::Create | Action::Update))
    {
        by_tier
            .entry(tiers::tier_of(&object.resource.gvk.group, &object.resource.gvk.kind))
            .or_default()
            .push(object);
    }
    let owner = Owner::of(env);
    let mut failure: Option<String> = None;
    let mut stop: Option<Stop> = None;
    // What this sync applied, for the inventory.
    let mut entries: Vec<Entry> = Vec::new();
    for (tier, mut objects) in by_tier {
        if let Err(stopped) = may_write(fence, &options.cancel, true).await {
            stop = Some(stopped);
            break;
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        progress.event(
            &env.name,
            &SyncEvent::TierStarted { tier: tiers::TIERS[tier].to_owned(), objects: objects.len() },
        );
        // Owned items: a closure over `&ObjectPlan` makes the whole sync future !Send (a
        // higher-ranked lifetime rustc cannot prove), so it could not be spawned on a runtime.
        let work: Vec<(ObjectKey, ResourceType, Arc<Value>, bool, bool)> = objects
            .iter()
            .map(|o| {
                let desired = o.desired.clone().unwrap_or_else(|| Arc::new(Value::Null));
                (o.key.clone(), o.resource.clone(), desired, o.force, o.release_legacy)
            })
            .collect();
        let results: Vec<Applied> = stream::iter(work)
            .map(|(key, resource, desired, force, release_legacy)| {
                let cluster = cluster.clone();
                let fence = fence.clone();
                let cancel = options.cancel.clone();
                let apply_options = owner.apply_options(force || options.force_conflicts, false);
                async move {
                    // Fenced one by one: requests in flight finish, none starts after a stop.
                    if let Err(stopped) = may_write(&fence, &cancel, false).await {
                        return (key, Err(stopped), None);
                    }
                    let result = cluster.apply(&resource, &desired, &apply_options).await;
                    let mut released = None;
                    if release_legacy && result.is_ok() {
                        released = match may_write(&fence, &cancel, false).await {
                            Ok(()) => release_legacy_manager(cluster.as_ref(), &resource, &desired)
                                .await
                                .err(),
                            Err(_) => None, // the next sync releases it
                        };
                    }
                    (key, Ok(result), released)
                }
            })
            .buffered(options.concurrency.max(1))
            .collect()
            .await;
        for (key, result, release_failed) in results {
            let result = match result {
                Ok(result) => result,
                Err(stopped) => {
                    stop.get_or_insert(stopped);
                    continue;
                }
            };
            match result {
                Ok(live) => {
                    progress.event(&env.name, &SyncEvent::Applied { object: key.to_string() });
                    report.applied.push(key.to_string());
                    entries.extend(Entry::of(&live));
                    if let Some(error) = release_failed {
                        failure.get_or_insert_with(|| {
                            format!(
                                "applied {key}, but releasing the field manager \
                                 {LEGACY_FIELD_MANAGER} of earlier Coxswain versions failed: {error}"
                            )
                        });
                    }
                }
                Err(error) => {
                    let source = plan
                        .objects
                        .iter()
                        .find(|o| o.key == key)
                        .and_then(|o| o.source.clone())
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default();
                    failure
                        .get_or_insert_with(|| format!("applying {key}{source} failed: {error}"));
                }
            }
        }
        if failure.is_some() || stop.is_some() {
            break; // later tiers depend on this one
        }
    }
    if let Some(stop) = stop {
        return interrupted(
            cluster.as_ref(),
            env,
            plan,
            &entries,
            options,
            progress,
            report,
            &stop,
            fence,
        )
        .await;
    }
    if let Some(message) = failure {
        report.status = SyncStatus::Failed;
        report.error = Some(Failure::new(FailureKind::Apply, message.clone()));
        keep_inventory(cluster.as_ref(), env, plan, &entries, &mut report, fence).await;
        record(cluster.as_ref(), env, options, Outcome::Failed, &message, &mut report, progress)
            .await;
        return report;
    }

    let applied_plans: Vec<&ObjectPlan> = plan
        .objects
        .iter()
        .filter(|o| matches!(o.action, Action::Create | Action::Update))
        .collect();
    let health = tokio::select! {
        health = wait_for_health(cluster.as_ref(), env, &applied_plans, options, progress) => health,
        () = options.cancel.cancelled() => {
            let stop = Stop::Cancelled;
            return interrupted(cluster.as_ref(), env, plan, &entries, options, progress, report, &stop, fence)
                .await;
        }
    };
    match health {
        Ok(health) => report.health = health,
        Err(error) => {
            let message = format!("checking health failed: {error}");
            keep_inventory(cluster.as_ref(), env, plan, &entries, &mut report, fence).await;
            record(
                cluster.as_ref(),
                env,
                options,
                Outcome::Failed,
                &message,
                &mut report,
                progress,
            )
            .await;
            return report.failed_with(FailureKind::Cluster, message);
        }
    }
    let unhealthy: Vec<&ObjectHealth> =
        report.health.iter().filter(|h| blocks(env, &h.assessment)).collect();
    if !unhealthy.is_empty() {
        let (summary, message) =
            summary::unhealthy(&unhealthy, report.health.len(), options.timeout);
        report.status = SyncStatus::Unhealthy;
        report.error = Some(Failure::new(FailureKind::Health, message));
        keep_inventory(cluster.as_ref(), env, plan, &entries, &mut report, fence).await;
        record(cluster.as_ref(), env, options, Outcome::Unhealthy, &summary, &mut report, progress)
            .await;
        return report;
    }

    // Prune only after a healthy rollout: the old objects may still be serving until then.
    let mut prune: Vec<&ObjectPlan> =
        plan.objects.iter().filter(|o| o.action == Action::Prune).collect();
    prune.sort_by_key(|o| {
        std::cmp::Reverse((
            tiers::tier_of(&o.resource.gvk.group, &o.resource.gvk.kind),
            o.key.clone(),
        ))
    });
    for object in prune {
        let gvk = &object.resource.gvk;
        if tiers::is_dangerous_to_prune(&gvk.group, &gvk.kind) && !options.prune_dangerous {
            let entry = format!("{} (pass --prune-dangerous to delete it)", object.key);
            progress.event(
                &env.name,
                &SyncEvent::PruneSkipped {
                    object: object.key.to_string(),
                    reason: "dangerous kind".into(),
                },
            );
            report.prune_skipped.push(entry);
            continue;
        }
        if let Err(stopped) = may_write(fence, &options.cancel, true).await {
            return interrupted(
                cluster.as_ref(),
                env,
                plan,
                &entries,
                options,
                progress,
                report,
                &stopped,
                fence,
            )
            .await;
        }
        match prune_one(cluster.as_ref(), env, plan, object).await {
            Ok(Pruned::Deleted) => {
                progress.event(&env.name, &SyncEvent::Pruned { object: object.key.to_string() });
                report.pruned.push(object.key.to_string());
            }
            Ok(Pruned::Refused(reason)) => {
                progress.event(
                    &env.name,
                    &SyncEvent::PruneSkipped {
                        object: object.key.to_string(),
                        reason: reason.clone(),
                    },
                );
                report.prune_skipped.push(format!("{} ({reason})", object.key));
            }
            Err(error) => {
                let message = format!("pruning {} failed: {error}", object.key);
                keep_inventory(cluster.as_ref(), env, plan, &entries, &mut report, fence).await;
                record(
                    cluster.as_ref(),
                    env,
                    options,
                    Outcome::Failed,
                    &message,
                    &mut report,
                    progress,
                )
                .await;
                return report.failed_with(FailureKind::Apply, message);
            }
        }
    }
    if let Err(stopped) = may_write(fence, &options.cancel, true).await {
        return interrupted(
            cluster.as_ref(),
            env,
            plan,
            &entries,
            options,
            progress,
            report,
            &stopped,
            fence,
        )
        .await;
    }
    let pruned = pruned_uids(plan, &report);
    if let Err(error) = write_inventory(cluster.as_ref(), env, plan, &entries, &pruned).await {
        let message = format!("recording the inventory failed: {error}");
        record(cluster.as_ref(), env, options, Outcome::Failed, &message, &mut report, progress)
            .await;
        return report.failed_with(FailureKind::Record, message);
    }
    record(
        cluster.as_ref(),
        env,
        options,
        Outcome::Succeeded,
        &options.message,
        &mut report,
        progress,
    )
    .await;
    report
}

/// How a prune ended without an error.
enum Pruned {
    Deleted,
    /// The object is no longer the one planned (re-created under its name, or changed so that
    /// it is no longer provably ours): the server's preconditions refused the delete.
    Refused(String),
}

/// Deletes a prune candidate with the uid and resourceVersion it was planned with. When only
/// the resourceVersion moved (a controller updated its status), the object is read again and
/// deleted at its new version if it is still the same object and still provably ours.
async fn prune_one(
    cluster: &dyn Cluster,
    env: &Environment,
    plan: &EnvPlan,
    object: &ObjectPlan,
) -> Result<Pruned, ClusterError> {
    let (namespace, name) = (object.key.namespace.as_deref(), object.key.name.as_str());
    let planned = object.live.as_deref().map(Preconditions::of).unwrap_or_default();
    let refused = match cluster.delete(&object.resource, namespace, name, Some(&planned)).await {
        Ok(_) => return Ok(Pruned::Deleted),
        Err(ClusterError::Conflict { message, .. }) => message,
        Err(other) => return Err(other),
    };
    let Some(now) = cluster.get(&object.resource, namespace, name).await? else {
        return Ok(Pruned::Deleted); // gone meanwhile
    };
    let current = Preconditions::of(&now);
    let ours = matches!(judge(&now, &Owner::of(env), &plan.inventory), Judgement::Ours);
    if current.uid != planned.uid || !ours {
        return Ok(Pruned::Refused(format!(
            "not deleted: it changed since the plan and is not provably the object planned \
             ({refused})"
        )));
    }
    match cluster.delete(&object.resource, namespace, name, Some(&current)).await {
        Ok(_) => Ok(Pruned::Deleted),
        Err(ClusterError::Conflict { message, .. }) => {
            Ok(Pruned::Refused(format!("not deleted: it kept changing ({message})")))
        }
        Err(other) => Err(other),
    }
}

/// Records a revision; a failure to record is added to the report's error, never hidden.
async fn record(
    cluster: &dyn Cluster,
    env: &Environment,
    options: &SyncOptions,
    outcome: Outcome,
    message: &str,
    report: &mut SyncReport,
    progress: &dyn Progress,
) {
    let revision = Revision {
        number: 0,
        git_sha: options.git_sha.clone(),
        dirty: options.dirty,
        author: options.holder.clone(),
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        outcome,
        message: message.to_owned(),
        applied: report.applied.clone(),
        pruned: report.pruned.clone(),
        rollback_of: options.rollback_of,
        manifests_digest: None,
    };
    let owner = Owner::of(env);
    match history::record(cluster, &owner, &env.namespace, revision, &env.objects).await {
        Ok(stored) => {
            progress.event(&env.name, &SyncEvent::Recorded { revision: stored.number });
            report.revision = Some(stored.number);
        }
        Err(error) => {
            let note = format!("recording history failed: {error}");
            report.error = Some(match report.error.take() {
                Some(previous) => previous.and(&note),
                None => Failure::new(FailureKind::Record, note),
            });
            if report.status == SyncStatus::Synced {
                report.status = SyncStatus::Failed;
            }
        }
    }
}

async fn create_namespace(cluster: &dyn Cluster, env: &Environment) -> Result<(), ClusterError> {
    let resource = cluster.resolve(&Gvk::from_api_version("v1", "Namespace")).await?;
    // Internal: a namespace Coxswain created is never pruned with the objects in it.
    let owner = Owner::of(env);
    let mut labels = owner.labels();
    labels.insert(INTERNAL_LABEL.to_owned(), json!("true"));
    let namespace = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": env.namespace, "labels": labels}
    });
    cluster.apply(&resource, &namespace, &owner.apply_options(false, false)).await.map(|_| ())
}

/// Gives up the fields the field manager of Coxswain versions before instance ids still owns in
/// an object the env's own manager has just applied: fields both applied stay (the env's manager
/// owns them now), fields only the old manager applied — gone from git since — are removed, as
/// that version's next sync would have.
async fn release_legacy_manager(
    cluster: &dyn Cluster,
    resource: &ResourceType,
    applied: &Value,
) -> Result<(), ClusterError> {
    let mut metadata = serde_json::Map::new();
    for field in ["name", "namespace"] {
        if let Some(value) = applied.pointer(&format!("/metadata/{field}")) {
            metadata.insert(field.to_owned(), value.clone());
        }
    }
    let empty = json!({
        "apiVersion": applied.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": applied.get("kind").cloned().unwrap_or(Value::Null),
        "metadata": metadata,
    });
    let options = crate::cluster::ApplyOptions {
        field_manager: LEGACY_FIELD_MANAGER.to_owned(),
        force: false,
        dry_run: false,
    };
    cluster.apply(resource, &empty, &options).await.map(|_| ())
}

/// The uids of the objects this sync pruned.
fn pruned_uids(plan: &EnvPlan, report: &SyncReport) -> BTreeSet<String> {
    let pruned: BTreeSet<&str> = report.pruned.iter().map(String::as_str).collect();
    plan.objects
        .iter()
        .filter(|o| o.action == Action::Prune && pruned.contains(o.key.to_string().as_str()))
        .filter_map(|o| o.live.as_deref().and_then(Entry::of))
        .map(|e| e.uid)
        .collect()
}

/// Writes the inventory: the plan's recorded objects that still exist, the desired objects the
/// env's field manager already applies (unchanged ones included) and those `applied` now, minus
/// the `pruned` uids.
async fn write_inventory(
    cluster: &dyn Cluster,
    env: &Environment,
    plan: &EnvPlan,
    applied: &[Entry],
    pruned: &BTreeSet<String>,
) -> Result<(), ClusterError> {
    let owner = Owner::of(env);
    let manager = owner.field_manager();
    let mut objects = plan.inventory.objects.clone();
    let already_ours = plan
        .objects
        .iter()
        .filter(|o| o.source.is_some())
        .filter_map(|o| o.live.as_deref().filter(|live| applies(live, &manager)))
        .filter_map(Entry::of);
    let mut uid_of: BTreeMap<ObjectKey, String> =
        objects.values().map(|e| (e.key(), e.uid.clone())).collect();
    for entry in already_ours.chain(applied.iter().cloned()) {
        // A re-created object replaces the entry of its predecessor.
        if let Some(previous) = uid_of.insert(entry.key(), entry.uid.clone())
            && previous != entry.uid
        {
            objects.remove(&previous);
        }
        objects.insert(entry.uid.clone(), entry);
    }
    objects.retain(|uid, _| !pruned.contains(uid));
    let mut kinds: BTreeSet<Gvk> = env.objects.iter().map(|o| o.gvk.clone()).collect();
    kinds.extend(plan.skipped.iter().map(|s| Gvk::from_api_version(&s.api_version, &s.kind)));
    let resource = cluster.resolve(&inventory::config_map_gvk()).await?;
    let object = inventory::inventory_object(&owner, &env.namespace, &objects, &kinds);
    cluster.apply(&resource, &object, &owner.apply_options(true, false)).await.map(|_| ())
}

/// On a sync that stops early: records what it applied (and pruned), so those objects stay
/// prunable; a failure to do so is added to the report's error.
async fn keep_inventory(
    cluster: &dyn Cluster,
    env: &Environment,
    plan: &EnvPlan,
    applied: &[Entry],
    report: &mut SyncReport,
    fence: &Fence,
) {
    if let Err(lost) = fence.check(true).await {
        // The inventory is the new holder's to write now.
        let note = format!("the inventory was not updated: {lost}");
        report.error = Some(match report.error.take() {
            Some(previous) => previous.and(&note),
            None => Failure::new(FailureKind::Lock, note),
        });
        return;
    }
    let pruned = pruned_uids(plan, report);
    if let Err(error) = write_inventory(cluster, env, plan, applied, &pruned).await {
        let note = format!("recording the inventory failed: {error}");
        report.error = Some(match report.error.take() {
            Some(previous) => previous.and(&note),
            None => Failure::new(FailureKind::Record, note),
        });
    }
}

/// Whether `assessment` holds the sync: anything not healthy, except a `LoadBalancer` Service or
/// Ingress waiting for its address unless the env opts in with `waitForAddresses` (see
/// [`crate::health`] for why).
fn blocks(env: &Environment, assessment: &Assessment) -> bool {
    assessment.health != Health::Healthy
        && (env.config.wait_for_addresses || !assessment.is_address_pending())
}

/// Polls health of the applied objects (one LIST per kind per round) until all are healthy,
/// one is degraded (no point waiting), or the timeout passes. While a workload is not healthy,
/// each round also lists the pods (and `ReplicaSets`) of its namespace once, to fail at once on
/// pods that will not start ([`PodInspector`]).
async fn wait_for_health(
    cluster: &dyn Cluster,
    env: &Environment,
    applied: &[&ObjectPlan],
    options: &SyncOptions,
    progress: &dyn Progress,
) -> Result<Vec<ObjectHealth>, ClusterError> {
    let started = Instant::now();
    let mut kinds: BTreeMap<String, (ResourceType, Vec<ObjectKey>)> = BTreeMap::new();
    for object in applied {
        kinds
            .entry(object.resource.gvk.group_kind())
            .or_insert_with(|| (object.resource.clone(), Vec::new()))
            .1
            .push(object.key.clone());
    }
    let selector = owned_selector(&env.name);
    let mut reported: BTreeMap<String, Assessment> = BTreeMap::new();
    let mut inspector = PodInspector::with_logs();
    loop {
        let mut live: Vec<(ObjectKey, Option<Value>)> = Vec::new();
        for (resource, keys) in kinds.values() {
            let items = cluster
                .list(
                    resource,
                    resource.namespaced.then_some(env.namespace.as_str()),
                    Some(&selector),
                )
                .await?;
            let mut by_key: BTreeMap<ObjectKey, Value> =
                items.into_iter().filter_map(|item| Some((ObjectKey::of(&item)?, item))).collect();
            for key in keys {
                live.push((key.clone(), by_key.remove(key)));
            }
        }
        let mut states: Vec<ObjectHealth> = live
            .iter()
            .map(|(key, object)| ObjectHealth {
                object: key.to_string(),
                assessment: health::assess(object.as_ref()),
            })
            .collect();
        let mut workloads: Vec<Workload<'_>> = live
            .iter()
            .zip(states.iter_mut())
            .map(|((key, object), state)| Workload {
                key,
                live: object.as_ref(),
                assessment: &mut state.assessment,
            })
            .collect();
        inspector.inspect(cluster, &mut workloads).await;
        for state in &states {
            if reported.get(&state.object) != Some(&state.assessment) {
                progress.event(
                    &env.name,
                    &SyncEvent::Health {
                        object: state.object.clone(),
                        health: state.assessment.health,
                        message: state.assessment.message.clone(),
                    },
                );
                reported.insert(state.object.clone(), state.assessment.clone());
            }
        }
        let worst = states
            .iter()
            .filter(|s| blocks(env, &s.assessment))
            .map(|s| s.assessment.health)
            .max()
            .unwrap_or(Health::Healthy);
        if worst == Health::Healthy
            || worst >= Health::Degraded
            || started.elapsed() >= options.timeout
        {
            return Ok(states);
        }
        tokio::time::sleep(
            options.poll_interval.min(options.timeout.saturating_sub(started.elapsed())),
        )
        .await;
    }
}

/// Drift by another field manager is taken back only with `--force-conflicts`: server-side apply
/// refuses to overwrite another manager's fields silently, and so does Coxswain. Checked before
/// anything is written, so the sync does not stop half-way on a conflict.
fn drift_needs_force(plan: &EnvPlan) -> Option<Failure> {
    let drifted: Vec<String> = plan
        .objects
        .iter()
        .filter(|o| o.needs_force())
        .map(|o| {
            let fields: Vec<String> =
                o.drift.iter().map(|d| format!("{} (set by {})", d.field, d.manager)).collect();
            format!("{}: {}", o.key, fields.join(", "))
        })
        .collect();
    if drifted.is_empty() {
        return None;
    }
    Some(Failure::new(
        FailureKind::Plan,
        format!(
            "another field manager changed fields git declares ({}); the sync would take them \
             back: rerun with --force-conflicts to do so; nothing was applied",
            drifted.join("; ")
        ),
    ))
}
