//! One sync at a time per environment: a `coordination.k8s.io/v1` Lease in the env's namespace,
//! taken with compare-and-swap (create, or replace at a known resourceVersion), renewed while the
//! sync runs, and taken over once its holder stopped renewing it.
//!
//! The lease *fences* the sync: every renewal is a compare-and-swap at the resourceVersion this
//! process last wrote, so a renewal after someone else took the lease over fails; the first
//! failed renewal marks the lease lost, and the sync checks [`SyncLock::check`] before each write
//! and stops there. A check long after the last renewal (a laptop that slept) renews first, so a
//! process that cannot tell how long it was away never writes on an old lease.
//!
//! Expiry of someone else's lease is judged the way client-go's leader election does: by watching
//! its resourceVersion stay the same for a full `leaseDurationSeconds` on this machine's
//! monotonic clock, never by comparing the holder's `renewTime` (another machine's wall clock)
//! with ours. `renewTime` only decides whether to fail fast: a lease renewed recently by its own
//! account is held, and a sync does not wait for it.

use crate::cluster::{Cluster, ClusterError, Gvk, ResourceType};
use crate::ownership::{ENV_LABEL, INTERNAL_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub const LEASE_NAME: &str = "coxswain-sync";

/// The longest another holder's lease is watched for expiry; a lease claiming a longer duration
/// is reported as held instead of blocking the sync for that long.
pub const MAX_OBSERVATION: Duration = Duration::from_mins(10);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "environment {env} is locked by {holder} (lease {namespace}/{LEASE_NAME}, renewed {renewed}, expires {expires}); wait for that sync to finish"
    )]
    Held { env: String, namespace: String, holder: String, renewed: String, expires: String },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Why a sync may no longer write: it does not hold the lease any more, or cannot prove it does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseLost {
    #[error(
        "the sync lease {namespace}/{LEASE_NAME} was taken over by {holder} while this sync ran \
         (it was paused or cut off longer than the lease lasts)"
    )]
    TakenOver { namespace: String, holder: String },
    #[error("renewing the sync lease {namespace}/{LEASE_NAME} failed: {message}")]
    RenewalFailed { namespace: String, message: String },
}

/// Who holds the lock, as people read it: `$COXSWAIN_HOLDER`, else a CI job id, else
/// `user@host`. Not unique (two terminals of one user share it); [`SyncLock`] makes the lease's
/// holder identity unique by appending the process id and a random part.
pub fn default_holder() -> String {
    if let Ok(holder) = std::env::var("COXSWAIN_HOLDER") {
        return holder;
    }
    for (var, prefix) in
        [("GITHUB_RUN_ID", "github-run-"), ("CI_JOB_ID", "ci-job-"), ("BUILD_ID", "build-")]
    {
        if let Ok(id) = std::env::var(var) {
            return format!("{prefix}{id}");
        }
    }
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map_or_else(|_| "localhost".into(), |h| h.trim().to_owned());
    format!("{user}@{host}")
}

/// A lease holder identity no other process (or other lock of this process) uses:
/// `holder/<pid>-<random>`, the readable holder first.
pub fn unique_identity(holder: &str) -> String {
    // RandomState is seeded from the OS once per process and varies per instance: enough to tell
    // two locks apart without another dependency.
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos(),
    );
    format!("{holder}/{}-{:08x}", std::process::id(), hasher.finish() as u32)
}

fn now_micro() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The holder, `renewTime` and expiry (by the holder's own clock) a lease claims.
struct Claim {
    holder: String,
    renewed: String,
    duration: Duration,
    expires: Option<DateTime<Utc>>,
}

impl Claim {
    fn of(lease: &Value) -> Self {
        let spec = lease.get("spec");
        let text = |field: &str| {
            spec.and_then(|s| s.get(field)).and_then(Value::as_str).unwrap_or_default().to_owned()
        };
        let (holder, renewed) = (text("holderIdentity"), text("renewTime"));
        let seconds =
            spec.and_then(|s| s.get("leaseDurationSeconds")).and_then(Value::as_u64).unwrap_or(0);
        let expires = DateTime::parse_from_rfc3339(&renewed).ok().map(|t| {
            t.with_timezone(&Utc)
                + chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 1000))
        });
        Self { holder, renewed, duration: Duration::from_secs(seconds), expires }
    }

    fn held(self, env: &str, namespace: &str) -> LockError {
        LockError::Held {
            env: env.into(),
            namespace: namespace.into(),
            holder: self.holder,
            renewed: self.renewed,
            expires: self.expires.map(|e| e.to_rfc3339()).unwrap_or_default(),
        }
    }
}

fn version_of(lease: &Value) -> Option<&str> {
    lease.pointer("/metadata/resourceVersion").and_then(Value::as_str)
}

/// What this process knows of its lease.
enum State {
    /// Held as of the last successful write of `lease` (the object the server returned).
    Held {
        lease: Value,
        at: Instant,
        wall: SystemTime,
    },
    Lost(LeaseLost),
}

/// The lease shared by the lock, its renewer and the checks before each write.
struct Shared {
    cluster: Arc<dyn Cluster>,
    resource: ResourceType,
    namespace: String,
    identity: String,
    ttl: Duration,
    state: Mutex<State>,
    /// One renewal at a time: a check and the background renewer must not race each other's
    /// compare-and-swap (the loser would see a conflict and call the lease lost).
    renewing: tokio::sync::Mutex<()>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lost(&self) -> Option<LeaseLost> {
        match &*self.state() {
            State::Lost(why) => Some(why.clone()),
            State::Held { .. } => None,
        }
    }

    /// Whether the last renewal is recent enough to write without renewing first: a third of
    /// the lease by both the monotonic clock and the wall clock (the monotonic clock stops while
    /// a machine sleeps; the wall clock does not).
    fn fresh(&self) -> bool {
        match &*self.state() {
            State::Held { at, wall, .. } => {
                let limit = self.ttl / 3;
                at.elapsed() < limit
                    && SystemTime::now().duration_since(*wall).is_ok_and(|d| d < limit)
            }
            State::Lost(_) => false,
        }
    }

    /// Renews with compare-and-swap at the resourceVersion last written. Any failure loses the
    /// lease for this sync: a sync that cannot renew cannot prove it still holds it. With
    /// `only_if_stale`, a renewal another caller just made is enough.
    async fn renew(&self, only_if_stale: bool) -> Result<(), LeaseLost> {
        let _one = self.renewing.lock().await;
        if only_if_stale && self.fresh() {
            return Ok(());
        }
        let mut lease = match &*self.state() {
            State::Lost(why) => return Err(why.clone()),
            State::Held { lease, .. } => lease.clone(),
        };
        lease["spec"]["renewTime"] = json!(now_micro());
        let outcome = match self.cluster.replace(&self.resource, &lease).await {
            Ok(renewed) => {
                *self.state() =
                    State::Held { lease: renewed, at: Instant::now(), wall: SystemTime::now() };
                return Ok(());
            }
            Err(ClusterError::Conflict { .. } | ClusterError::NotFound { .. }) => {
                let holder =
                    match self.cluster.get(&self.resource, Some(&self.namespace), LEASE_NAME).await
                    {
                        Ok(Some(current)) => Some(Claim::of(&current).holder),
                        Ok(None) => None,
                        Err(_) => Some(String::new()),
                    };
                let holder = match holder.as_deref() {
                    None => "nobody (the lease was deleted)".to_owned(),
                    Some("") => "someone else".to_owned(),
                    Some(holder) => holder.to_owned(),
                };
                LeaseLost::TakenOver { namespace: self.namespace.clone(), holder }
            }
            Err(error) => LeaseLost::RenewalFailed {
                namespace: self.namespace.clone(),
                message: error.to_string(),
            },
        };
        tracing::warn!(error = %outcome, "the sync lease is lost; this sync writes nothing more");
        *self.state() = State::Lost(outcome.clone());
        Err(outcome)
    }
}

impl Shared {
    /// Reads the lease back: it must still be the version this process wrote last.
    async fn verify(&self) -> Result<(), LeaseLost> {
        let _one = self.renewing.lock().await;
        let ours = match &*self.state() {
            State::Lost(why) => return Err(why.clone()),
            State::Held { lease, .. } => version_of(lease).unwrap_or_default().to_owned(),
        };
        let lost = match self.cluster.get(&self.resource, Some(&self.namespace), LEASE_NAME).await {
            Ok(Some(current)) if version_of(&current) == Some(ours.as_str()) => return Ok(()),
            Ok(Some(current)) => {
                let holder = Claim::of(&current).holder;
                let holder =
                    if holder.is_empty() { "nobody (it was released)".into() } else { holder };
                LeaseLost::TakenOver { namespace: self.namespace.clone(), holder }
            }
            Ok(None) => LeaseLost::TakenOver {
                namespace: self.namespace.clone(),
                holder: "nobody (the lease was deleted)".into(),
            },
            Err(error) => LeaseLost::RenewalFailed {
                namespace: self.namespace.clone(),
                message: format!("reading it back failed: {error}"),
            },
        };
        tracing::warn!(error = %lost, "the sync lease is lost; this sync writes nothing more");
        *self.state() = State::Lost(lost.clone());
        Err(lost)
    }
}

/// A held lock. Renewal runs in the background until [`SyncLock::release`]; writes go through
/// [`SyncLock::check`] first.
pub struct SyncLock {
    shared: Arc<Shared>,
    renewer: JoinHandle<()>,
}

impl SyncLock {
    /// Takes the env's lease, or fails naming the holder. A lease whose holder says it renewed
    /// it within its duration fails at once; one that looks expired by its `renewTime` is
    /// watched for up to its duration (see the module doc) and taken over only if nobody
    /// renewed it meanwhile. `holder` is the readable part of the identity
    /// (see [`unique_identity`]).
    pub async fn acquire(
        cluster: Arc<dyn Cluster>,
        env: &str,
        namespace: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Self, LockError> {
        let resource =
            cluster.resolve(&Gvk::from_api_version("coordination.k8s.io/v1", "Lease")).await?;
        let identity = unique_identity(holder);
        let seconds = ttl.as_secs().max(1);
        let lease = |resource_version: Option<&str>| {
            let now = now_micro();
            let mut lease = json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": LEASE_NAME, "namespace": namespace,
                    "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, ENV_LABEL: env, INTERNAL_LABEL: "true"}},
                "spec": {"holderIdentity": identity, "leaseDurationSeconds": seconds, "acquireTime": now, "renewTime": now}
            });
            if let Some(version) = resource_version {
                lease["metadata"]["resourceVersion"] = json!(version);
            }
            lease
        };
        let held_now = |cluster: Arc<dyn Cluster>, resource: ResourceType| async move {
            let current = cluster.get(&resource, Some(namespace), LEASE_NAME).await?;
            Ok::<_, LockError>(Claim::of(&current.unwrap_or(Value::Null)).held(env, namespace))
        };
        let taken = match cluster.get(&resource, Some(namespace), LEASE_NAME).await? {
            None => match cluster.create(&resource, &lease(None)).await {
                Ok(created) => created,
                // Someone took it between our GET and POST.
                Err(ClusterError::AlreadyExists { .. }) => {
                    return Err(held_now(cluster.clone(), resource.clone()).await?);
                }
                Err(other) => return Err(other.into()),
            },
            Some(current) => {
                let claim = Claim::of(&current);
                let previous = claim.holder.clone();
                if !claim.holder.is_empty() {
                    observe_expiry(cluster.as_ref(), &resource, namespace, &current, claim)
                        .await
                        .map_err(|held| match held {
                        Observed::Renewed(claim) => claim.held(env, namespace),
                        Observed::Error(error) => error.into(),
                    })?;
                }
                match cluster.replace(&resource, &lease(version_of(&current))).await {
                    Ok(replaced) => {
                        if !previous.is_empty() {
                            tracing::warn!(%previous, "took over a lease nobody renewed for its full duration");
                        }
                        replaced
                    }
                    Err(ClusterError::Conflict { .. } | ClusterError::NotFound { .. }) => {
                        return Err(held_now(cluster.clone(), resource.clone()).await?);
                    }
                    Err(other) => return Err(other.into()),
                }
            }
        };
        let shared = Arc::new(Shared {
            cluster,
            resource,
            namespace: namespace.to_owned(),
            identity,
            ttl,
            state: Mutex::new(State::Held {
                lease: taken,
                at: Instant::now(),
                wall: SystemTime::now(),
            }),
            renewing: tokio::sync::Mutex::new(()),
        });
        let renewer = tokio::spawn(renew_in_background(Arc::downgrade(&shared), ttl));
        Ok(Self { shared, renewer })
    }

    /// The holder identity written in the lease (unique to this lock).
    pub fn identity(&self) -> &str {
        &self.shared.identity
    }

    /// Why the lease is lost, if it is (no request: what the last renewal found).
    pub fn lost(&self) -> Option<LeaseLost> {
        self.shared.lost()
    }

    /// The handle the sync checks before each write.
    pub fn fence(&self) -> Fence {
        Fence(self.shared.clone())
    }

    /// Stops renewing and frees the lease with compare-and-swap at the version this process
    /// wrote last, so a lease someone else took over is never released by the loser (best
    /// effort: an unreleased lease expires by itself).
    pub async fn release(self) {
        self.renewer.abort();
        let _one = self.shared.renewing.lock().await;
        let mut lease = match &*self.shared.state() {
            State::Held { lease, .. } => lease.clone(),
            State::Lost(_) => return,
        };
        if let Some(spec) = lease.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("holderIdentity");
        }
        if let Err(error) = self.shared.cluster.replace(&self.shared.resource, &lease).await {
            tracing::warn!(%error, "could not release the sync lease; it expires by itself");
        }
    }
}

/// What a sync checks before each write; clones share the lease's state.
#[derive(Clone)]
pub struct Fence(Arc<Shared>);

impl Fence {
    /// `Err` when the lease is lost. When the last renewal is older than a third of the lease
    /// (by either clock), renews first, so a process that was suspended finds out before it
    /// writes. With `verify`, a fresh lease is also read back (one GET) to confirm nobody else
    /// wrote it since: the sync verifies before each tier, each prune and its bookkeeping, and
    /// relies on the renewals between.
    pub async fn check(&self, verify: bool) -> Result<(), LeaseLost> {
        if let Some(why) = self.0.lost() {
            return Err(why);
        }
        if !self.0.fresh() {
            return self.0.renew(true).await;
        }
        if verify { self.0.verify().await } else { Ok(()) }
    }
}

impl Drop for SyncLock {
    /// A lock dropped without `release` (a panic, an early return) must stop renewing, so the
    /// lease expires and the environment is not blocked forever.
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Why someone else's lease was not taken over.
enum Observed {
    /// Its resourceVersion changed (or it was re-created) while watched: its holder is alive.
    Renewed(Claim),
    Error(ClusterError),
}

/// Waits until `current` (held by someone else) has kept its resourceVersion for its full
/// duration on the local monotonic clock. Fails fast when its holder claims it renewed within
/// the duration by our clock, or when it claims a duration over [`MAX_OBSERVATION`].
async fn observe_expiry(
    cluster: &dyn Cluster,
    resource: &ResourceType,
    namespace: &str,
    current: &Value,
    claim: Claim,
) -> Result<(), Observed> {
    // `renewTime` from another machine only ever makes us refuse sooner, never take over.
    // A renewTime more than a duration in our future is a broken clock: watch it instead.
    let now = Utc::now();
    let duration = chrono::Duration::from_std(claim.duration).unwrap_or(chrono::Duration::MAX);
    let fresh = claim.expires.is_some_and(|e| e > now && e <= now + duration + duration);
    if fresh || claim.duration > MAX_OBSERVATION {
        return Err(Observed::Renewed(claim));
    }
    let version = version_of(current).unwrap_or_default().to_owned();
    let started = Instant::now();
    let step = (claim.duration / 4).clamp(Duration::from_millis(100), Duration::from_secs(2));
    tracing::warn!(
        holder = %claim.holder,
        seconds = claim.duration.as_secs(),
        "the sync lease looks expired; watching it for its full duration before taking it over"
    );
    while started.elapsed() < claim.duration {
        tokio::time::sleep(step.min(claim.duration.saturating_sub(started.elapsed()))).await;
        let now = cluster
            .get(resource, Some(namespace), LEASE_NAME)
            .await
            .map_err(Observed::Error)?
            .unwrap_or(Value::Null);
        if version_of(&now) != Some(version.as_str()) {
            return Err(Observed::Renewed(Claim::of(&now)));
        }
    }
    Ok(())
}

/// Renews at a third of the lease's duration until the lock is dropped or a renewal fails.
async fn renew_in_background(shared: std::sync::Weak<Shared>, ttl: Duration) {
    let mut interval = tokio::time::interval((ttl / 3).max(Duration::from_millis(100)));
    interval.tick().await;
    loop {
        interval.tick().await;
        let Some(shared) = shared.upgrade() else { return };
        if shared.renew(false).await.is_err() {
            return;
        }
    }
}
