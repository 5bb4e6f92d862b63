//! The lock fences the sync (issue 13, items 4 and 5), on the in-memory cluster: a sync whose
//! lease is taken over, whose renewal fails or that is cancelled stops before its next write and
//! records an `interrupted` revision; someone else's lease expires only after its
//! resourceVersion stood still for a full duration on our clock; holder ids are unique; a prune
//! deletes only the object it planned (preconditions); a plan that changed before the lock was
//! taken is not applied; a sync stopped part-way keeps what it applied in the inventory.

mod support;

use coxswain::cluster::{Cluster, ClusterError, Gvk, ObjectKey, ResourceType};
use coxswain::engine::failure_exit_code;
use coxswain::exit::ExitCode;
use coxswain::history::{self, Outcome};
use coxswain::inventory;
use coxswain::lock::{LEASE_NAME, LockError, SyncLock, unique_identity};
use coxswain::plan::EnvPlan;
use coxswain::repo::Environment;
use coxswain::sync::{
    CancelToken, FailureKind, Progress, SyncEvent, SyncOptions, SyncReport, SyncStatus, sync_env,
};
use coxswain_memcluster::{FaultKind, MemoryCluster, Verb};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use support::{deployment, env_from};

use support::sync_options as options;

fn config_maps() -> ResourceType {
    ResourceType {
        gvk: Gvk::from_api_version("v1", "ConfigMap"),
        plural: "configmaps".into(),
        namespaced: true,
    }
}

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: \"{value}\"\n")
}

/// An env of two tiers (config, then workloads), so a test can act between them.
fn two_tiers(version: &str) -> Environment {
    env_from(
        "dev",
        None,
        &[
            ("config.yaml", &config_map("settings", version)),
            ("server.yaml", &deployment("server", &format!("web:{version}"), 1, &[])),
        ],
    )
}

fn key(api_version: &str, kind: &str, name: &str) -> ObjectKey {
    ObjectKey::new(&Gvk::from_api_version(api_version, kind), Some("dev"), name)
}

fn lease_key() -> ObjectKey {
    key("coordination.k8s.io/v1", "Lease", LEASE_NAME)
}

async fn leases(cluster: &MemoryCluster) -> ResourceType {
    cluster.resolve(&Gvk::from_api_version("coordination.k8s.io/v1", "Lease")).await.unwrap()
}

/// The writes logged from index `from` on, as `verb target`.
fn writes_since(cluster: &MemoryCluster, from: usize) -> Vec<String> {
    cluster.request_log()[from..]
        .iter()
        .filter(|r| r.verb.is_write())
        .map(ToString::to_string)
        .collect()
}

/// Object writes (not the lease, the inventory or a revision).
fn object_writes(writes: &[String]) -> Vec<String> {
    writes
        .iter()
        .filter(|w| {
            !w.contains(LEASE_NAME)
                && !w.contains("coxswain-inventory")
                && !w.contains("coxswain-rev-")
        })
        .cloned()
        .collect()
}

/// Runs `hook` on the first event `trigger` accepts, remembering where the request log was.
struct OnEvent<F: Fn(&SyncEvent) -> bool, H: Fn()> {
    trigger: F,
    hook: H,
    cluster: MemoryCluster,
    at: Mutex<Option<usize>>,
}

impl<F: Fn(&SyncEvent) -> bool + Send + Sync, H: Fn() + Send + Sync> OnEvent<F, H> {
    fn new(cluster: &MemoryCluster, trigger: F, hook: H) -> Self {
        Self { trigger, hook, cluster: cluster.clone(), at: Mutex::new(None) }
    }

    /// The request log's length when the hook ran.
    fn ran_at(&self) -> usize {
        self.at.lock().unwrap_or_else(PoisonError::into_inner).expect("the hook ran")
    }
}

impl<F: Fn(&SyncEvent) -> bool + Send + Sync, H: Fn() + Send + Sync> Progress for OnEvent<F, H> {
    fn event(&self, _env: &str, event: &SyncEvent) {
        let mut at = self.at.lock().unwrap_or_else(PoisonError::into_inner);
        if at.is_none() && (self.trigger)(event) {
            (self.hook)();
            *at = Some(self.cluster.request_log().len());
        }
    }

    fn confirm(&self, _plan: &EnvPlan) -> bool {
        true
    }
}

fn first_applied(event: &SyncEvent) -> bool {
    matches!(event, SyncEvent::Applied { .. })
}

async fn sync_with(
    cluster: &MemoryCluster,
    env: &Environment,
    options: &SyncOptions,
    progress: &dyn Progress,
) -> SyncReport {
    sync_env(Arc::new(cluster.clone()), env, options, progress).await
}

async fn revisions(cluster: &MemoryCluster) -> Vec<history::Revision> {
    history::list(cluster, "dev", "dev").await.unwrap().into_iter().map(|(r, _)| r).collect()
}

async fn inventory_names(cluster: &MemoryCluster) -> Vec<String> {
    let config_maps = cluster.resolve(&inventory::config_map_gvk()).await.unwrap();
    let inventory = inventory::read(cluster, &config_maps, "dev").await.unwrap();
    let mut names: Vec<String> = inventory.objects.values().map(|e| e.key().to_string()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_sync_whose_lease_is_taken_over_stops_before_the_next_write_and_does_not_release_it() {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let leases = leases(&cluster).await;
    // After the first tier another holder replaces the Lease (as a sync that found it expired
    // would, while this one was suspended).
    let taker = cluster.clone();
    let progress = OnEvent::new(&cluster, first_applied, move || {
        let mut lease = taker.object(&lease_key()).expect("the lease");
        lease["spec"]["holderIdentity"] = json!("ci-job-7/42-beef");
        taker.update_as("coxswain", &leases, &lease).expect("take the lease over");
    });
    let report = sync_with(&cluster, &two_tiers("1"), &options(), &progress).await;
    assert_eq!(report.status, SyncStatus::Interrupted, "{report:?}");
    assert_eq!(report.applied, ["ConfigMap dev/settings"]);
    assert_eq!(report.failure_kind(), Some(FailureKind::Lock));
    let error = report.error.as_deref().unwrap();
    assert!(error.contains("taken over by ci-job-7/42-beef"), "{error}");
    assert_eq!(failure_exit_code(FailureKind::Lock), ExitCode::LockHeld);

    // No object, inventory or lease write after the takeover; only the revision.
    let after = writes_since(&cluster, progress.ran_at());
    assert!(after.iter().all(|w| w.starts_with("apply Secret dev/coxswain-rev-")), "{after:?}");
    assert!(cluster.object(&key("apps/v1", "Deployment", "server")).is_none());
    // The lease is the new holder's, untouched.
    let lease = cluster.object(&lease_key()).unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], json!("ci-job-7/42-beef"));
    let recorded = revisions(&cluster).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].outcome, Outcome::Interrupted);
    assert_eq!(recorded[0].applied, ["ConfigMap dev/settings"]);
    assert!(recorded[0].message.contains("taken over"), "{}", recorded[0].message);
}

#[tokio::test]
async fn a_failed_renewal_stops_the_sync_before_the_next_write() {
    let cluster = MemoryCluster::new().with_namespace("dev");
    // A zero lease duration makes every check before a write renew the lease: the renewal after
    // the first tier fails.
    let options = SyncOptions { lease_ttl: Duration::ZERO, ..options() };
    let failing = cluster.clone();
    let progress = OnEvent::new(&cluster, first_applied, move || {
        failing.fail_next(
            Verb::Replace,
            ClusterError::Server { target: "Lease".into(), status: 500, message: "etcd".into() },
        );
    });
    let report = sync_with(&cluster, &two_tiers("1"), &options, &progress).await;
    assert_eq!(report.status, SyncStatus::Interrupted, "{report:?}");
    let error = report.error.as_deref().unwrap();
    assert!(error.contains("renewing the sync lease dev/coxswain-sync failed"), "{error}");
    assert_eq!(report.applied, ["ConfigMap dev/settings"]);
    let after = writes_since(&cluster, progress.ran_at());
    assert!(object_writes(&after).is_empty(), "{after:?}");
    assert!(cluster.object(&key("apps/v1", "Deployment", "server")).is_none());
    assert_eq!(revisions(&cluster).await[0].outcome, Outcome::Interrupted);
}

#[tokio::test]
async fn cancelling_mid_sync_stops_writes_records_what_was_applied_and_releases_the_lease() {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let cancel = CancelToken::new();
    let options = SyncOptions { cancel: cancel.clone(), ..options() };
    let progress = OnEvent::new(&cluster, first_applied, move || cancel.cancel());
    let report = sync_with(&cluster, &two_tiers("1"), &options, &progress).await;
    assert_eq!(report.status, SyncStatus::Interrupted, "{report:?}");
    assert_eq!(report.failure_kind(), Some(FailureKind::Interrupted));
    assert_eq!(failure_exit_code(FailureKind::Interrupted), ExitCode::Interrupted);
    assert_eq!(ExitCode::Interrupted as u8, 130);
    assert_eq!(report.applied, ["ConfigMap dev/settings"]);
    let after = writes_since(&cluster, progress.ran_at());
    assert!(object_writes(&after).is_empty(), "{after:?}");
    assert!(cluster.object(&key("apps/v1", "Deployment", "server")).is_none());
    // Recorded as interrupted, listing what was applied; the inventory keeps it (so it stays
    // prunable); the lease is released.
    let recorded = revisions(&cluster).await;
    assert_eq!(recorded[0].outcome, Outcome::Interrupted);
    assert_eq!(recorded[0].applied, ["ConfigMap dev/settings"]);
    assert_eq!(inventory_names(&cluster).await, ["ConfigMap dev/settings"]);
    let lease = cluster.object(&lease_key()).unwrap();
    assert!(lease.pointer("/spec/holderIdentity").is_none(), "{lease}");
    // The next sync finishes the job.
    let rerun = sync_with(&cluster, &two_tiers("1"), &self::options(), &progress).await;
    assert_eq!(rerun.status, SyncStatus::Synced, "{rerun:?}");
    assert_eq!(rerun.applied, ["Deployment.apps dev/server"]);
}

#[tokio::test]
async fn a_sync_failing_part_way_keeps_what_it_applied_in_the_inventory() {
    let cluster = MemoryCluster::new().with_namespace("dev");
    sync_with(&cluster, &two_tiers("1"), &options(), &OnEvent::new(&cluster, |_| false, || {}))
        .await;
    // A kind new in this commit (a Service) is applied, then the connection drops.
    let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [{port: 80}]\n  selector: {app: server}\n";
    let next = env_from(
        "dev",
        None,
        &[
            ("config.yaml", &config_map("settings", "1")),
            ("service.yaml", service),
            ("server.yaml", &deployment("server", "web:2", 1, &[])),
        ],
    );
    // Writes: the lease, the Service; then every write fails.
    cluster.fail_writes_window(2, 1, FaultKind::ConnectionDrop);
    let report =
        sync_with(&cluster, &next, &options(), &OnEvent::new(&cluster, |_| false, || {})).await;
    assert_eq!(report.status, SyncStatus::Failed, "{report:?}");
    assert_eq!(report.applied, ["Service dev/web"]);
    assert!(
        inventory_names(&cluster).await.contains(&"Service dev/web".to_owned()),
        "{:?}",
        inventory_names(&cluster).await
    );
    assert_eq!(revisions(&cluster).await[0].outcome, Outcome::Failed);
}

#[tokio::test]
async fn a_plan_that_changed_before_the_lock_was_taken_is_not_applied() {
    let cluster = MemoryCluster::new().with_namespace("dev");
    sync_with(&cluster, &two_tiers("1"), &options(), &OnEvent::new(&cluster, |_| false, || {}))
        .await;
    // Between the confirmed plan and the lock someone edits the ConfigMap.
    let editor = cluster.clone();
    let progress = OnEvent::new(
        &cluster,
        |event| matches!(event, SyncEvent::Locked { .. }),
        move || {
            let config_maps = config_maps();
            let mut live = editor.object(&key("v1", "ConfigMap", "settings")).unwrap();
            live["data"]["v"] = json!("edited by hand");
            editor.update_as("kubectl-edit", &config_maps, &live).unwrap();
        },
    );
    let report = sync_with(&cluster, &two_tiers("2"), &options(), &progress).await;
    assert_eq!(report.status, SyncStatus::Cancelled, "{report:?}");
    assert!(report.error.as_deref().unwrap().contains("changed between the preview"), "{report:?}");
    let after = writes_since(&cluster, progress.ran_at());
    assert!(object_writes(&after).is_empty(), "{after:?}");
    let lease = cluster.object(&lease_key()).unwrap();
    assert!(lease.pointer("/spec/holderIdentity").is_none(), "released: {lease}");
}

#[tokio::test]
async fn a_prune_target_recreated_between_plan_and_delete_is_refused_and_reported() {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let with_extra = env_from(
        "dev",
        None,
        &[("config.yaml", &config_map("settings", "1")), ("extra.yaml", &config_map("extra", "x"))],
    );
    sync_with(&cluster, &with_extra, &options(), &OnEvent::new(&cluster, |_| false, || {})).await;
    let planned_uid =
        cluster.object(&key("v1", "ConfigMap", "extra")).unwrap()["metadata"]["uid"].clone();
    // Once the sync is writing (its plan made), someone deletes `extra` and creates it again.
    let other = cluster.clone();
    let progress = OnEvent::new(
        &cluster,
        |event| matches!(event, SyncEvent::TierStarted { .. }),
        move || {
            let config_maps = config_maps();
            let mut live = other.object(&key("v1", "ConfigMap", "extra")).unwrap();
            futures::executor::block_on(other.delete(&config_maps, Some("dev"), "extra", None))
                .unwrap();
            for field in ["uid", "resourceVersion", "creationTimestamp", "managedFields"] {
                live["metadata"].as_object_mut().unwrap().remove(field);
            }
            futures::executor::block_on(other.create(&config_maps, &live)).unwrap();
        },
    );
    let without = env_from("dev", None, &[("config.yaml", &config_map("settings", "2"))]);
    let report = sync_with(&cluster, &without, &options(), &progress).await;
    assert_eq!(report.status, SyncStatus::Synced, "{report:?}");
    assert!(report.pruned.is_empty(), "{report:?}");
    assert_eq!(report.prune_skipped.len(), 1, "{report:?}");
    assert!(
        report.prune_skipped[0].starts_with("ConfigMap dev/extra (not deleted")
            && report.prune_skipped[0].contains("the UID in the precondition"),
        "{:?}",
        report.prune_skipped
    );
    let survivor = cluster.object(&key("v1", "ConfigMap", "extra")).expect("not deleted");
    assert_ne!(survivor["metadata"]["uid"], planned_uid);
}

#[test]
fn holder_ids_are_unique_per_lock_with_the_readable_holder_first() {
    let first = unique_identity("alice@laptop");
    let second = unique_identity("alice@laptop");
    assert_ne!(first, second);
    let prefix = format!("alice@laptop/{}-", std::process::id());
    assert!(first.starts_with(&prefix) && second.starts_with(&prefix), "{first} {second}");
}

#[tokio::test]
async fn two_locks_of_the_same_user_and_host_write_different_holder_ids() {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let shared: Arc<dyn Cluster> = Arc::new(cluster.clone());
    let ttl = Duration::from_mins(1);
    let first = SyncLock::acquire(shared.clone(), "dev", "dev", "ci", ttl).await.unwrap();
    let written = cluster.object(&lease_key()).unwrap()["spec"]["holderIdentity"].clone();
    assert_eq!(written, json!(first.identity()));
    first.release().await;
    let second = SyncLock::acquire(shared, "dev", "dev", "ci", ttl).await.unwrap();
    assert_ne!(second.identity(), written.as_str().unwrap());
    second.release().await;
}

/// A Lease held by another machine whose `renewTime` is far in the past (its clock is off).
fn foreign_lease(holder: &str, seconds: u64) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": LEASE_NAME, "namespace": "dev"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": seconds,
            "renewTime": "2001-01-01T00:00:00.000000Z", "acquireTime": "2001-01-01T00:00:00.000000Z"}
    })
}

#[tokio::test(start_paused = true)]
async fn a_lease_is_taken_over_only_after_its_version_stood_still_for_a_full_duration() {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let leases = leases(&cluster).await;
    cluster.create(&leases, &foreign_lease("skewed@ci/1-a", 10)).await.unwrap();
    let shared: Arc<dyn Cluster> = Arc::new(cluster.clone());

    // Its holder keeps renewing (the resourceVersion moves), though its renewTime stays old.
    let renewer = {
        let cluster = cluster.clone();
        let leases = leases.clone();
        tokio::spawn(async move {
            for n in 0u32.. {
                tokio::time::sleep(Duration::from_secs(3)).await;
                let mut lease = cluster.object(&lease_key()).unwrap();
                lease["spec"]["leaseTransitions"] = json!(n);
                cluster.update_as("other", &leases, &lease).unwrap();
            }
        })
    };
    let started = tokio::time::Instant::now();
    match SyncLock::acquire(shared.clone(), "dev", "dev", "me", Duration::from_mins(1)).await {
        Err(LockError::Held { holder, .. }) => assert_eq!(holder, "skewed@ci/1-a"),
        Err(other) => panic!("expected Held, got {other}"),
        Ok(_) => panic!("a lease its holder keeps renewing was taken over"),
    }
    assert!(started.elapsed() < Duration::from_secs(10), "gave up as soon as it moved");
    renewer.abort();

    // Once nobody renews it, it is taken over after a full duration of standing still.
    let still = cluster.object(&lease_key()).unwrap()["metadata"]["resourceVersion"].clone();
    let started = tokio::time::Instant::now();
    let lock = SyncLock::acquire(shared, "dev", "dev", "me", Duration::from_mins(1)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(10), "{:?}", started.elapsed());
    let lease = cluster.object(&lease_key()).unwrap();
    assert_ne!(lease["metadata"]["resourceVersion"], still);
    assert_eq!(lease["spec"]["holderIdentity"], json!(lock.identity()));
    lock.release().await;
}

#[tokio::test]
async fn a_lease_renewed_recently_by_its_holders_account_fails_fast() {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let shared: Arc<dyn Cluster> = Arc::new(cluster.clone());
    let held =
        SyncLock::acquire(shared.clone(), "dev", "dev", "alice@laptop", Duration::from_mins(1))
            .await
            .unwrap();
    cluster.reset_counters();
    let refused =
        SyncLock::acquire(shared, "dev", "dev", "bob@laptop", Duration::from_mins(1)).await;
    assert!(matches!(refused, Err(LockError::Held { .. })));
    assert_eq!(cluster.requests().get(Verb::Get), 1, "one look, no waiting");
    held.release().await;
}
