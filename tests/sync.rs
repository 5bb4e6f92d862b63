//! The sync engine against the in-memory cluster double: order, idempotence, pruning safety,
//! locking, faults part-way, health timeouts, and history/rollback (the automatic rollback is the engine's: tests/engine.rs).

mod support;

use coxswain::cluster::{ApplyOptions, Cluster, Gvk, ObjectKey};
use coxswain::history::{self, Outcome};
use coxswain::lock::SyncLock;
use coxswain::repo::{Environment, Repo};
use coxswain::sync::{Silent, SyncOptions, SyncStatus, sync_env};
use coxswain_memcluster::{FaultKind, MemoryCluster, Verb};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use support::{deployment, env_from};

fn options() -> SyncOptions {
    SyncOptions {
        holder: "test@host".into(),
        timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(10),
        ..SyncOptions::default()
    }
}

fn example_env(name: &str) -> Environment {
    Repo::open(&support::example_repo()).unwrap().load_env(name)
}

fn writes_log(cluster: &MemoryCluster) -> Vec<String> {
    cluster.request_log().iter().filter(|r| r.verb.is_write()).map(ToString::to_string).collect()
}

#[tokio::test]
async fn sync_creates_everything_in_tier_order_and_a_resync_writes_nothing() {
    let cluster = MemoryCluster::new();
    let env = example_env("prod");
    let report = sync_env(Arc::new(cluster.clone()), &env, &options(), &Silent).await;
    assert_eq!(report.status, SyncStatus::Synced, "{report:?}");
    assert_eq!(report.revision, Some(1));
    let applies: Vec<String> =
        writes_log(&cluster).into_iter().filter(|w| w.starts_with("apply ")).collect();
    assert_eq!(
        applies,
        [
            "apply Namespace iris-prod",
            "apply ConfigMap iris-prod/coxswain-inventory",
            "apply ConfigMap iris-prod/iris-server-config",
            "apply Service iris-prod/iris-server",
            "apply Deployment.apps iris-prod/iris-server",
            "apply HorizontalPodAutoscaler.autoscaling iris-prod/iris-server",
            "apply Ingress.networking.k8s.io iris-prod/iris-server",
            "apply PodDisruptionBudget.policy iris-prod/iris-server",
            "apply ConfigMap iris-prod/coxswain-inventory",
            "apply Secret iris-prod/coxswain-rev-1",
        ]
    );
    cluster.reset_counters();
    let again = sync_env(Arc::new(cluster.clone()), &env, &options(), &Silent).await;
    assert_eq!(again.status, SyncStatus::NoChanges);
    assert_eq!(cluster.requests().writes(), 0, "{:?}", writes_log(&cluster));
    assert_eq!(cluster.requests().get(Verb::ApplyDryRun), 0);
}

#[tokio::test]
async fn removing_a_file_prunes_exactly_that_object_and_never_a_foreign_one() {
    let cluster = MemoryCluster::new();
    let server = deployment("iris-server", "ghcr.io/acme/iris:1.0.0", 1, &[]);
    let extra = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: b\n";
    let env = env_from("dev", None, &[("server.yaml", &server), ("extra.yaml", extra)]);
    assert_eq!(
        sync_env(Arc::new(cluster.clone()), &env, &options(), &Silent).await.status,
        SyncStatus::Synced
    );
    // Objects Coxswain does not own, in the same namespace: one bare, one with only one of our labels.
    let config_maps = cluster.resolve(&Gvk::from_api_version("v1", "ConfigMap")).await.unwrap();
    for (name, labels) in [
        ("foreign", json!({})),
        (
            "other-env",
            json!({"app.kubernetes.io/managed-by": "coxswain", "coxswain.dev/env": "staging"}),
        ),
    ] {
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "dev", "labels": labels}, "data": {}});
        cluster
            .apply(
                &config_maps,
                &object,
                &ApplyOptions { field_manager: "helm".into(), force: false, dry_run: false },
            )
            .await
            .unwrap();
    }
    let without_extra = env_from("dev", None, &[("server.yaml", &server)]);
    cluster.reset_counters();
    let report = sync_env(Arc::new(cluster.clone()), &without_extra, &options(), &Silent).await;
    assert_eq!(report.status, SyncStatus::Synced, "{report:?}");
    assert_eq!(report.pruned, ["ConfigMap dev/extra"]);
    let deletes: Vec<String> =
        writes_log(&cluster).into_iter().filter(|w| w.starts_with("delete")).collect();
    assert_eq!(deletes, ["delete ConfigMap dev/extra"]);
    for name in ["foreign", "other-env"] {
        assert!(
            cluster
                .object(&ObjectKey::new(
                    &Gvk::from_api_version("v1", "ConfigMap"),
                    Some("dev"),
                    name
                ))
                .is_some()
        );
    }
}

#[tokio::test]
async fn a_whole_kind_leaving_git_is_still_pruned_through_the_inventory() {
    let cluster = MemoryCluster::new();
    let server = deployment("iris-server", "ghcr.io/acme/iris:1.0.0", 1, &[]);
    let pdb = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: iris\nspec:\n  minAvailable: 1\n  selector: {matchLabels: {app: iris-server}}\n";
    let env = env_from("dev", None, &[("server.yaml", &server), ("pdb.yaml", pdb)]);
    assert_eq!(
        sync_env(Arc::new(cluster.clone()), &env, &options(), &Silent).await.status,
        SyncStatus::Synced
    );
    let report = sync_env(
        Arc::new(cluster.clone()),
        &env_from("dev", None, &[("server.yaml", &server)]),
        &options(),
        &Silent,
    )
    .await;
    assert_eq!(report.pruned, ["PodDisruptionBudget.policy dev/iris"]);
}

#[tokio::test]
async fn a_sync_during_a_held_lease_fails_fast_naming_the_holder() {
    let cluster = MemoryCluster::new();
    let env = example_env("dev");
    assert_eq!(
        sync_env(Arc::new(cluster.clone()), &env, &options(), &Silent).await.status,
        SyncStatus::Synced
    );
    let shared: Arc<dyn Cluster> = Arc::new(cluster.clone());
    let lock = SyncLock::acquire(
        shared.clone(),
        "dev",
        "iris-dev",
        "alice@laptop",
        Duration::from_mins(1),
    )
    .await
    .unwrap();
    let mut changed = env_from(
        "dev",
        Some("namespace: iris-dev\n"),
        &[("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new\n")],
    );
    changed.instance.clone_from(&env.instance); // the same repo's env

    cluster.reset_counters();
    let report = sync_env(shared.clone(), &changed, &options(), &Silent).await;
    assert_eq!(report.status, SyncStatus::LockHeld);
    assert!(report.error.as_deref().unwrap().contains("locked by alice@laptop"), "{report:?}");
    assert!(
        writes_log(&cluster).iter().all(|w| !w.starts_with("apply ") && !w.starts_with("delete")),
        "{:?}",
        writes_log(&cluster)
    );
    lock.release().await;
    assert_eq!(sync_env(shared, &changed, &options(), &Silent).await.status, SyncStatus::Synced);
}

#[tokio::test]
async fn an_expired_lease_is_taken_over() {
    let cluster = MemoryCluster::new().with_namespace("iris-dev");
    let shared: Arc<dyn Cluster> = Arc::new(cluster.clone());
    let stale =
        SyncLock::acquire(shared.clone(), "dev", "iris-dev", "crashed@ci", Duration::from_secs(1))
            .await
            .unwrap();
    drop(stale); // never released, as after a crash
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let report = sync_env(shared, &example_env("dev"), &options(), &Silent).await;
    assert_eq!(report.status, SyncStatus::Synced, "{report:?}");
}

#[tokio::test]
async fn a_connection_drop_part_way_is_recorded_and_a_rerun_converges_without_duplicate_work() {
    let cluster = MemoryCluster::new().with_namespace("iris-prod");
    let env = example_env("prod");
    // Writes: lease create, the inventory's claim on the namespace, ConfigMap, Service,
    // Deployment — then the connection drops for one write.
    cluster.fail_writes_window(5, 1, FaultKind::ConnectionDrop);
    let report = sync_env(Arc::new(cluster.clone()), &env, &options(), &Silent).await;
    assert_eq!(report.status, SyncStatus::Failed);
    assert!(report.error.as_deref().unwrap().starts_with("applying HorizontalPodAutoscaler.autoscaling iris-prod/iris-server (environments/prod/iris-server.yaml:"), "{report:?}");
    assert_eq!(
        report.applied,
        [
            "ConfigMap iris-prod/iris-server-config",
            "Service iris-prod/iris-server",
            "Deployment.apps iris-prod/iris-server",
            "Ingress.networking.k8s.io iris-prod/iris-server",
            "PodDisruptionBudget.policy iris-prod/iris-server"
        ]
    );
    let revisions = history::list(&cluster, "prod", "iris-prod").await.unwrap();
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0].0.outcome, Outcome::Failed);
    assert_eq!(revisions[0].0.applied, report.applied);
    cluster.reset_counters();
    let rerun = sync_env(Arc::new(cluster.clone()), &env, &options(), &Silent).await;
    assert_eq!(rerun.status, SyncStatus::Synced, "{rerun:?}");
    assert_eq!(rerun.applied, ["HorizontalPodAutoscaler.autoscaling iris-prod/iris-server"]);
}

#[tokio::test]
async fn a_conflict_stops_the_sync_naming_field_and_manager_and_force_takes_ownership() {
    let cluster = MemoryCluster::new();
    let env = env_from(
        "dev",
        None,
        &[("server.yaml", &deployment("iris-server", "ghcr.io/acme/iris:1.0.0", 2, &[]))],
    );
    assert_eq!(
        sync_env(Arc::new(cluster.clone()), &env, &options(), &Silent).await.status,
        SyncStatus::Synced
    );
    let deployments =
        cluster.resolve(&Gvk::from_api_version("apps/v1", "Deployment")).await.unwrap();
    let hand_scale = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "iris-server", "namespace": "dev"}, "spec": {"replicas": 6}});
    cluster
        .apply(
            &deployments,
            &hand_scale,
            &ApplyOptions { field_manager: "kubectl".into(), force: true, dry_run: false },
        )
        .await
        .unwrap();
    let bumped = env_from(
        "dev",
        None,
        &[("server.yaml", &deployment("iris-server", "ghcr.io/acme/iris:1.1.0", 2, &[]))],
    );
    let report = sync_env(Arc::new(cluster.clone()), &bumped, &options(), &Silent).await;
    assert_eq!(report.status, SyncStatus::Blocked);
    assert!(report.applied.is_empty(), "nothing is written before the drift is forced");
    let error = report.error.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(
        error.contains(".spec.replicas (set by kubectl)") && error.contains("--force-conflicts"),
        "{error}"
    );
    // The plan shows the drift as an update (the image bump and the replicas taken back).
    let plan = report.plan.as_ref().unwrap();
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(plan.objects[0].drift.len(), 1, "{:?}", plan.objects[0].drift);
    let forced = sync_env(
        Arc::new(cluster.clone()),
        &bumped,
        &SyncOptions { force_conflicts: true, ..options() },
        &Silent,
    )
    .await;
    assert_eq!(forced.status, SyncStatus::Synced, "{forced:?}");
    let live = cluster
        .object(&ObjectKey::new(
            &Gvk::from_api_version("apps/v1", "Deployment"),
            Some("dev"),
            "iris-server",
        ))
        .unwrap();
    assert_eq!(live["spec"]["replicas"], 2);
}

/// Recovers the "controller" when the sync starts rolling back, as a real `ReplicaSet` of the
/// previous version would become ready again.
#[tokio::test]
async fn rollback_to_n_restores_revision_n_exactly() {
    let cluster = MemoryCluster::new();
    let v1 = env_from(
        "dev",
        None,
        &[
            (
                "server.yaml",
                &deployment(
                    "iris-server",
                    "ghcr.io/acme/iris:1.0.0",
                    2,
                    &[("MODEL_VERSION", "1.0.0")],
                ),
            ),
            (
                "old.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\ndata:\n  a: \"1\"\n",
            ),
        ],
    );
    let v2 = env_from(
        "dev",
        None,
        &[
            (
                "server.yaml",
                &deployment(
                    "iris-server",
                    "ghcr.io/acme/iris:1.1.0",
                    3,
                    &[("MODEL_VERSION", "1.1.0"), ("DEBUG", "1")],
                ),
            ),
            (
                "new.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new\ndata:\n  b: \"2\"\n",
            ),
        ],
    );
    let shared: Arc<dyn Cluster> = Arc::new(cluster.clone());
    assert_eq!(sync_env(shared.clone(), &v1, &options(), &Silent).await.status, SyncStatus::Synced);
    let snapshot_v1 = managed_objects(&cluster);
    assert_eq!(sync_env(shared.clone(), &v2, &options(), &Silent).await.status, SyncStatus::Synced);
    assert_ne!(managed_objects(&cluster), snapshot_v1);
    let target = history::rollback_target(&cluster, "dev", "dev", None).await.unwrap();
    assert_eq!(
        target.0.number, 1,
        "default target: the last successful revision before the newest"
    );
    // The mechanism under the engine's gated rollback: restore through the loader's rules, sync.
    let restored = history::restore(&v2, &target.0, &target.1).unwrap();
    let restoring = SyncOptions { rollback_of: Some(1), ..options() };
    let report = sync_env(shared.clone(), &restored, &restoring, &Silent).await;
    assert_eq!(report.status, SyncStatus::Synced, "{report:?}");
    assert_eq!(report.pruned, ["ConfigMap dev/new"]);
    assert_eq!(managed_objects(&cluster), snapshot_v1);
    let newest = history::list(&cluster, "dev", "dev").await.unwrap().remove(0).0;
    assert_eq!((newest.number, newest.rollback_of), (3, Some(1)));
    let explicit = history::rollback_target(&cluster, "dev", "dev", Some(2)).await.unwrap();
    assert_eq!(explicit.0.number, 2);
    assert!(
        history::rollback_target(&cluster, "dev", "dev", Some(42))
            .await
            .unwrap_err()
            .to_string()
            .contains("revision 42 of environment dev not found (revisions kept: 3, 2, 1)")
    );
}

/// Our objects' specs and data, without server bookkeeping: what a rollback must restore.
fn managed_objects(cluster: &MemoryCluster) -> Vec<serde_json::Value> {
    let mut objects: Vec<serde_json::Value> = cluster
        .objects()
        .into_iter()
        .filter(|o| o.pointer("/metadata/labels/coxswain.dev~1env").is_some() && o.pointer("/metadata/labels/coxswain.dev~1internal").is_none())
        .map(|o| json!({"kind": o["kind"], "name": o["metadata"]["name"], "spec": o.get("spec"), "data": o.get("data"), "labels": o["metadata"]["labels"]}))
        .collect();
    objects.sort_by_key(ToString::to_string);
    objects
}

#[test]
fn git_restore_commit_makes_the_env_folder_equal_to_the_revision() {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let commit_all = |message: &str| {
        let mut index = repo.index().unwrap();
        index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let signature = git2::Signature::now("t", "t@example.com").unwrap();
        let parents: Vec<git2::Commit> =
            repo.head().ok().and_then(|h| h.peel_to_commit().ok()).into_iter().collect();
        let parents: Vec<&git2::Commit> = parents.iter().collect();
        repo.commit(Some("HEAD"), &signature, &signature, message, &tree, &parents).unwrap()
    };
    let env_dir = dir.path().join("environments/dev");
    std::fs::create_dir_all(&env_dir).unwrap();
    std::fs::write(dir.path().join("README.md"), "x\n").unwrap();
    std::fs::write(env_dir.join("server.yaml"), "image: v1\n").unwrap();
    let good = commit_all("v1");
    std::fs::write(env_dir.join("server.yaml"), "image: v2\n").unwrap();
    std::fs::write(env_dir.join("extra.yaml"), "x: 1\n").unwrap();
    std::fs::write(dir.path().join("README.md"), "y\n").unwrap();
    commit_all("v2");

    let oid = coxswain::git::commit_env_restore(
        dir.path(),
        "dev",
        &good.to_string(),
        None,
        "rollback dev",
    )
    .unwrap();
    let restored = repo.find_commit(oid).unwrap();
    let path = std::path::Path::new("environments/dev");
    assert_eq!(
        restored.tree().unwrap().get_path(path).unwrap().id(),
        repo.find_commit(good).unwrap().tree().unwrap().get_path(path).unwrap().id()
    );
    // Everything outside the env folder is untouched, and the working tree follows.
    assert_eq!(std::fs::read_to_string(dir.path().join("README.md")).unwrap(), "y\n");
    assert_eq!(std::fs::read_to_string(env_dir.join("server.yaml")).unwrap(), "image: v1\n");
    assert!(!env_dir.join("extra.yaml").exists());
    assert_eq!(repo.head().unwrap().target(), Some(oid));

    // Protected envs: on a branch, the working tree and HEAD left alone.
    std::fs::write(env_dir.join("server.yaml"), "image: v3\n").unwrap();
    let head = commit_all("v3");
    let branch_oid = coxswain::git::commit_env_restore(
        dir.path(),
        "dev",
        &good.to_string(),
        Some("coxswain/rollback-dev-1"),
        "rollback dev",
    )
    .unwrap();
    assert_eq!(repo.head().unwrap().target(), Some(head));
    assert_eq!(
        repo.find_branch("coxswain/rollback-dev-1", git2::BranchType::Local)
            .unwrap()
            .get()
            .target(),
        Some(branch_oid)
    );
    assert_eq!(std::fs::read_to_string(env_dir.join("server.yaml")).unwrap(), "image: v3\n");
}

fn service_yaml(name: &str, kind: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  type: {kind}\n  selector: {{app: web}}\n  ports:\n    - port: 80\n"
    )
}

/// No load-balancer controller assigns an address here: reported, and waited for only when the
/// env opts in.
#[tokio::test]
async fn a_load_balancer_without_an_address_holds_the_sync_only_when_the_env_asks() {
    let files = [("svc.yaml", service_yaml("public", "LoadBalancer"))];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let env = env_from("dev", None, &files);
    let report = sync_env(Arc::new(MemoryCluster::new()), &env, &options(), &Silent).await;
    assert_eq!(report.status, SyncStatus::Synced, "{:?}", report.error);
    let service = &report.health[0].assessment;
    assert!(service.is_address_pending(), "{service:?}");

    let waiting = env_from("dev", Some("waitForAddresses: true\n"), &files);
    let options = SyncOptions { timeout: Duration::from_millis(50), ..options() };
    let report = sync_env(Arc::new(MemoryCluster::new()), &waiting, &options, &Silent).await;
    assert_eq!(report.status, SyncStatus::Unhealthy);
    let error = report.error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.starts_with(
            "not healthy within 0s: 1 of 1 not healthy: 1 AddressPending (Service/public)"
        ),
        "{error}"
    );
}

/// Deployments `web-0` (running `first`) to `web-4` (running `others`), two replicas each.
fn five_deployments(first: &str, others: &str) -> Environment {
    let files: Vec<(String, String)> = (0..5)
        .map(|i| {
            let image = if i == 0 { first } else { others };
            (format!("web-{i}.yaml"), deployment(&format!("web-{i}"), image, 2, &[]))
        })
        .collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    env_from("dev", None, &files)
}

/// Pods are listed once per namespace per poll (with the `ReplicaSets`), only while a workload is
/// not healthy, and the crashed container's log is read once.
#[tokio::test]
async fn failing_pods_cost_one_pod_list_per_poll_and_one_log_read() {
    let cluster = MemoryCluster::new();
    let env = five_deployments("web:broken", "web:1.0.0");

    // Healthy at once: no pod is ever listed.
    let report = sync_env(Arc::new(cluster.clone()), &env, &options(), &Silent).await;
    assert_eq!(report.status, SyncStatus::Synced, "{:?}", report.error);
    let pod_lists = |cluster: &MemoryCluster| {
        cluster
            .request_log()
            .iter()
            .filter(|r| r.verb == Verb::List && r.target.to_string().starts_with("Pod "))
            .count()
    };
    assert_eq!(pod_lists(&cluster), 0);

    // A new rollout: four Deployments still progressing, one crash-looping.
    cluster.set_auto_ready(false);
    cluster.fail_pods(
        "web:broken-2",
        coxswain_memcluster::PodFault::CrashLoop { restarts: 2, log: "boom\n".into() },
    );
    let env = five_deployments("web:broken-2", "web:1.0.1");
    cluster.reset_counters();
    let options = SyncOptions { timeout: Duration::from_mins(5), ..options() };
    let report = sync_env(Arc::new(cluster.clone()), &env, &options, &Silent).await;
    assert_eq!(report.status, SyncStatus::Unhealthy);
    let error = report.error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.starts_with("rollout failed: 5 of 5 not healthy: 1 CrashLoopBackOff (Deployment/web-0), 4 progressing (Deployment/web-1, Deployment/web-2, Deployment/web-3, … 1 more)"),
        "{error}"
    );
    assert!(error.contains("    | boom"), "{error}");
    // One poll found it: one LIST of pods and one of ReplicaSets for the five Deployments.
    assert_eq!(pod_lists(&cluster), 1, "{:?}", cluster.request_log());
    assert_eq!(cluster.requests().get(Verb::Log), 1);
}

/// The same pod-based detection for stateful sets and daemon sets.
#[tokio::test]
async fn stateful_and_daemon_sets_fail_at_once_on_failing_pods() {
    let cluster = MemoryCluster::new();
    cluster.fail_pods("db:broken", coxswain_memcluster::PodFault::ImagePullBackOff);
    cluster.fail_pods(
        "agent:broken",
        coxswain_memcluster::PodFault::CreateContainerConfigError {
            message: "configmap \"agent-config\" not found".into(),
        },
    );
    let stateful = deployment("db", "db:broken", 1, &[])
        .replace("kind: Deployment", "kind: StatefulSet")
        .replace("spec:\n  replicas: 1\n", "spec:\n  replicas: 1\n  serviceName: db\n");
    let daemon = deployment("agent", "agent:broken", 1, &[])
        .replace("kind: Deployment", "kind: DaemonSet")
        .replace("  replicas: 1\n", "");
    let env = env_from("dev", None, &[("db.yaml", &stateful), ("agent.yaml", &daemon)]);
    let options = SyncOptions { timeout: Duration::from_mins(5), ..options() };
    let report = sync_env(Arc::new(cluster), &env, &options, &Silent).await;
    assert_eq!(report.status, SyncStatus::Unhealthy);
    let error = report.error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.starts_with("rollout failed: 2 of 2 not healthy: 1 CreateContainerConfigError (DaemonSet/agent), 1 ImagePullBackOff (StatefulSet/db)"),
        "{error}"
    );
    assert!(error.contains("pod agent-"), "{error}");
    assert!(error.contains("configmap \"agent-config\" not found"), "{error}");
}
