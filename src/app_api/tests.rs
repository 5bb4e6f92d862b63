use super::*;
use crate::cluster::{ApplyOptions, Cluster, Gvk, ObjectKey};
use crate::health::Health;
use crate::plan::Action;
use crate::sync::{self, SyncEvent};
use coxswain_memcluster::MemoryCluster;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A copy of the bundled example repo, so tests can edit manifests.
fn example_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR"));
    // models/ too: the app's syncs pass the model gate, as the CLI's do.
    for folder in ["environments", "pipelines", "models"] {
        copy_dir(&source.join(folder), &dir.path().join(folder));
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn session(root: &Path) -> (Session, MemoryCluster) {
    let memory = MemoryCluster::new();
    let shared = memory.clone();
    let connector: Connector = Arc::new(move |_context| {
        let cluster: Arc<dyn Cluster> = Arc::new(shared.clone());
        Box::pin(async move { Ok(cluster) })
    });
    (Session::open(root, connector).expect("open example repo"), memory)
}

/// Records events, as the app's channel would.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Progress for Recorder {
    fn event(&self, env: &str, event: &SyncEvent) {
        let json = serde_json::to_value(event).expect("event serialises");
        let kind = json.get("event").and_then(serde_json::Value::as_str).unwrap_or("?").to_owned();
        self.0.lock().expect("lock").push(format!("{env}:{kind}"));
    }
}

fn config_map_value(memory: &MemoryCluster, namespace: &str, key: &str) -> Option<String> {
    let id = ObjectKey {
        group_kind: "ConfigMap".into(),
        namespace: Some(namespace.into()),
        name: "iris-server-config".into(),
    };
    memory.object(&id)?.pointer(&format!("/data/{key}"))?.as_str().map(str::to_owned)
}

fn set_log_level(root: &Path, from: &str, to: &str) {
    let path = root.join("environments/dev/config.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(&format!("LOG_LEVEL: {from}")), "{text}");
    std::fs::write(&path, text.replace(&format!("LOG_LEVEL: {from}"), &format!("LOG_LEVEL: {to}")))
        .expect("write");
}

#[test]
fn envs_touched_maps_paths_to_known_environments() {
    let root = Path::new("/repo");
    let known = vec!["dev".to_owned(), "prod".to_owned()];
    let paths = vec![
        root.join("environments/dev/config.yaml"),
        root.join("environments/dev/sub/more.yaml"),
        root.join("environments/prod"),
        root.join("environments/gone/x.yaml"),
        root.join("pipelines/iris.yaml"),
        PathBuf::from("/elsewhere/environments/dev/x.yaml"),
    ];
    let touched: Vec<String> = envs_touched(root, &paths, &known).into_iter().collect();
    assert_eq!(touched, ["dev", "prod"]);
}

#[tokio::test]
async fn overview_lists_environments_in_pipeline_order_with_their_changes() {
    let repo = example_repo();
    let (session, _) = session(repo.path());
    let cards = session.overview().await;
    let names: Vec<&str> = cards.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["dev", "staging", "prod"]);
    let dev = &cards[0];
    assert_eq!(dev.sync_state, SyncState::OutOfSync);
    assert_eq!(dev.namespace, "iris-dev");
    // Four objects and the namespace, all new to an empty cluster.
    assert_eq!(dev.counts, Counts { create: 5, ..Counts::default() });
    assert_eq!(
        dev.model.as_ref().map(|m| (m.name.as_str(), m.version.as_deref())),
        Some(("iris-classifier", Some("1.1.0")))
    );
    assert_eq!(dev.health, Some(Health::Missing));
    assert!(dev.errors.is_empty(), "{:?}", dev.errors);
    assert!(dev.last_revision.is_none());
    assert!(cards[2].protected);
    assert_eq!(cards[2].counts.create, 7);
}

#[tokio::test]
async fn sync_applies_only_the_previewed_plan() {
    let repo = example_repo();
    let (session, memory) = session(repo.path());
    let preview = session.preview_sync("dev", false).await.expect("preview");
    assert_eq!(preview.summary.create + preview.summary.namespaces, 5);

    // The repo changes after the preview: the confirmed plan is stale, nothing is written.
    set_log_level(repo.path(), "debug", "trace");
    session.reload(&BTreeSet::from(["dev".to_owned()]));
    let error = session
        .sync("dev", &preview.fingerprint, false, &Recorder::default())
        .await
        .expect_err("stale preview");
    assert_eq!(error.code, "plan-changed");
    assert_eq!(config_map_value(&memory, "iris-dev", "LOG_LEVEL"), None);

    let preview = session.preview_sync("dev", false).await.expect("preview again");
    let recorder = Recorder::default();
    let report = session.sync("dev", &preview.fingerprint, false, &recorder).await.expect("sync");
    assert_eq!(report.status, sync::SyncStatus::Synced, "{:?}", report.error);
    assert_eq!(config_map_value(&memory, "iris-dev", "LOG_LEVEL").as_deref(), Some("trace"));
    let events = recorder.0.lock().expect("lock").clone();
    assert_eq!(events.first().map(String::as_str), Some("dev:planned"));
    assert_eq!(events.last().map(String::as_str), Some("dev:recorded"));

    let detail = session.detail("dev").await.expect("detail");
    assert_eq!(detail.overview.sync_state, SyncState::Synced);
    assert_eq!(detail.overview.health, Some(Health::Healthy));
    assert_eq!(detail.overview.last_revision.as_ref().map(|r| r.number), Some(1));
    assert!(detail.resources.iter().all(|r| r.action == Action::Unchanged && r.diff.is_empty()));
    let live = session
        .live_object("dev", "ConfigMap iris-dev/iris-server-config")
        .await
        .expect("live")
        .expect("exists");
    assert!(live.contains("LOG_LEVEL: trace"), "{live}");
}

/// Someone took a field over with another manager (`kubectl apply --server-side
/// --force-conflicts`): the plan shows the drift (an update naming field, values and manager)
/// instead of overwriting it, and a sync previewed with `force_conflicts` takes the field back.
#[tokio::test]
async fn a_field_taken_over_by_another_manager_is_a_conflict_until_forced() {
    let repo = example_repo();
    let (session, memory) = session(repo.path());
    let preview = session.preview_sync("dev", false).await.expect("preview");
    session.sync("dev", &preview.fingerprint, false, &Recorder::default()).await.expect("sync");

    let resource = memory.resolve(&Gvk::from_api_version("v1", "ConfigMap")).await.expect("kind");
    let hotfix = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "iris-server-config", "namespace": "iris-dev"},
        "data": {"LOG_LEVEL": "trace"},
    });
    let by_hand = ApplyOptions { field_manager: "oncall".into(), force: true, dry_run: false };
    memory.apply(&resource, &hotfix, &by_hand).await.expect("hotfix");

    let detail = session.detail("dev").await.expect("detail");
    assert!(detail.overview.errors.is_empty(), "{:?}", detail.overview.errors);
    assert_eq!(detail.overview.sync_state, SyncState::OutOfSync);
    let drifted: Vec<_> = detail.resources.iter().filter(|r| !r.drift.is_empty()).collect();
    assert_eq!(drifted.len(), 1);
    let drift = &drifted[0].drift[0];
    assert_eq!((drift.field.as_str(), drift.manager.as_str()), (".data.LOG_LEVEL", "oncall"));
    assert_eq!((drift.live.as_deref(), drift.git.as_deref()), (Some("trace"), Some("debug")));
    assert!(
        drifted[0].diff.contains("-  LOG_LEVEL: trace\n+  LOG_LEVEL: debug"),
        "{}",
        drifted[0].diff
    );

    let forced = session.preview_sync("dev", true).await.expect("forced preview");
    assert_eq!((forced.summary.update, forced.summary.create), (1, 0));
    // Confirming it as an ordinary sync writes nothing: that plan still has the conflict.
    let report = session
        .sync("dev", &forced.fingerprint, false, &Recorder::default())
        .await
        .expect("an ordinary sync");
    assert_eq!(report.status, sync::SyncStatus::Blocked, "{:?}", report.error);
    assert!(report.applied.is_empty());
    assert_eq!(config_map_value(&memory, "iris-dev", "LOG_LEVEL").as_deref(), Some("trace"));

    let report = session
        .sync("dev", &forced.fingerprint, true, &Recorder::default())
        .await
        .expect("forced sync");
    assert_eq!(report.status, sync::SyncStatus::Synced, "{:?}", report.error);
    assert_eq!(config_map_value(&memory, "iris-dev", "LOG_LEVEL").as_deref(), Some("debug"));
    let detail = session.detail("dev").await.expect("detail");
    assert_eq!(detail.overview.sync_state, SyncState::Synced, "{:?}", detail.overview.errors);
}

#[tokio::test]
async fn an_edit_is_planned_as_an_update_and_rollback_restores_the_previous_revision() {
    let repo = example_repo();
    let (session, memory) = session(repo.path());
    let first = session.preview_sync("dev", false).await.expect("preview");
    session.sync("dev", &first.fingerprint, false, &Recorder::default()).await.expect("first sync");

    set_log_level(repo.path(), "debug", "warn");
    session.reload(&BTreeSet::from(["dev".to_owned()]));
    let detail = session.detail("dev").await.expect("detail");
    assert_eq!(detail.overview.counts, Counts { update: 1, unchanged: 3, ..Counts::default() });
    let changed = detail.resources.iter().find(|r| r.action == Action::Update).expect("an update");
    assert_eq!(changed.id, "ConfigMap iris-dev/iris-server-config");
    assert_eq!(changed.source.as_deref(), Some("environments/dev/config.yaml:2"));
    assert!(changed.diff.contains("-  LOG_LEVEL: debug\n+  LOG_LEVEL: warn"), "{}", changed.diff);

    let second = session.preview_sync("dev", false).await.expect("preview");
    session
        .sync("dev", &second.fingerprint, false, &Recorder::default())
        .await
        .expect("second sync");
    assert_eq!(config_map_value(&memory, "iris-dev", "LOG_LEVEL").as_deref(), Some("warn"));
    let numbers: Vec<u64> =
        session.history("dev").await.expect("history").iter().map(|r| r.number).collect();
    assert_eq!(numbers, [2, 1]);

    let rollback = session.preview_rollback("dev", None).await.expect("rollback preview");
    assert_eq!(rollback.target.as_ref().map(|r| r.number), Some(1));
    assert_eq!(rollback.summary.update, 1);
    let diff =
        &rollback.plan.objects.iter().find(|o| o.action == Action::Update).expect("update").diff;
    assert!(diff.contains("-  LOG_LEVEL: warn\n+  LOG_LEVEL: debug"), "{diff}");
    let outcome = session
        .rollback("dev", 1, &rollback.fingerprint, false, &Recorder::default())
        .await
        .expect("rollback");
    assert_eq!(outcome.report.status, sync::SyncStatus::Synced, "{:?}", outcome.report.error);
    assert_eq!(outcome.commit, None);
    assert_eq!(config_map_value(&memory, "iris-dev", "LOG_LEVEL").as_deref(), Some("debug"));
    let history = session.history("dev").await.expect("history");
    assert_eq!(history.first().and_then(|r| r.rollback_of), Some(1));
    // git still says "warn": the env is out of sync again.
    assert_eq!(session.detail("dev").await.expect("detail").overview.counts.update, 1);
}

#[tokio::test]
async fn rollback_with_git_needs_a_revision_synced_from_a_commit() {
    let repo = example_repo();
    let (session, _) = session(repo.path());
    let preview = session.preview_sync("dev", false).await.expect("preview");
    session.sync("dev", &preview.fingerprint, false, &Recorder::default()).await.expect("sync");
    let error =
        session.rollback("dev", 1, "any", true, &Recorder::default()).await.expect_err("no sha");
    assert_eq!(error.code, "no-git-revision");
}

#[tokio::test]
async fn gates_run_before_the_cluster_is_asked() {
    let repo = example_repo();
    let (session, memory) = session(repo.path());
    // prod is protected, and this copy is no git checkout.
    let error = session.preview_sync("prod", false).await.expect_err("protected");
    assert_eq!(error.code, "protected");
    assert_eq!(memory.requests().total(), 0);

    // A policy error names its file and line.
    let path = repo.path().join("environments/dev/iris-server.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, text.replace("iris-server:1.1.0", "iris-server:latest")).expect("write");
    session.reload(&BTreeSet::from(["dev".to_owned()]));
    let error = session.preview_sync("dev", false).await.expect_err("policy");
    assert_eq!(error.code, "image-tag");
    assert!(
        error
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("environments/dev/iris-server.yaml:")),
        "{error:?}"
    );
    let detail = session.detail("dev").await.expect("detail");
    assert!(detail.overview.errors.iter().any(|e| e.code == "image-tag"));
}

#[tokio::test]
async fn input_errors_leave_the_state_unknown_with_their_location() {
    let repo = example_repo();
    std::fs::write(
        repo.path().join("environments/staging/broken.yaml"),
        "kind: ConfigMap\nmetadata: [\n",
    )
    .expect("write");
    let (session, _) = session(repo.path());
    let cards = session.overview().await;
    let staging = cards.iter().find(|c| c.name == "staging").expect("staging");
    assert_eq!(staging.sync_state, SyncState::Unknown);
    let error = staging.errors.first().expect("an error");
    assert!(
        error
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("environments/staging/broken.yaml")),
        "{error:?}"
    );
    assert_eq!(session.detail("nope").await.expect_err("unknown").code, "unknown-env");
}

fn commit_all(repo: &git2::Repository, message: &str) {
    let mut index = repo.index().expect("index");
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).expect("add");
    index.write().expect("write index");
    let tree = repo.find_tree(index.write_tree().expect("tree")).expect("find tree");
    let signature = git2::Signature::now("Ada", "ada@example.invalid").expect("signature");
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(Some("HEAD"), &signature, &signature, message, &tree, &parents).expect("commit");
}

#[test]
fn remote_status_lists_fetched_commits_the_checkout_lacks_with_the_envs_they_touch() {
    let upstream_dir = example_repo();
    let upstream = git2::Repository::init(upstream_dir.path()).expect("init");
    commit_all(&upstream, "example");
    let clone_dir = tempfile::tempdir().expect("temp dir");
    let checkout = clone_dir.path().join("checkout");
    git2::Repository::clone(&upstream_dir.path().display().to_string(), &checkout).expect("clone");
    let known = vec!["dev".to_owned(), "staging".to_owned(), "prod".to_owned()];
    let status = remote_status(&checkout, &known).expect("status").expect("tracks a remote");
    assert_eq!((status.behind, status.commits.len()), (0, 0));

    set_log_level(upstream_dir.path(), "debug", "trace");
    commit_all(&upstream, "dev: trace logging");
    let status = remote_status(&checkout, &known).expect("status").expect("tracks a remote");
    assert!(status.upstream.starts_with("origin/"), "{}", status.upstream);
    assert_eq!(status.behind, 1);
    let commit = status.commits.first().expect("one commit");
    assert_eq!((commit.summary.as_str(), commit.author.as_str()), ("dev: trace logging", "Ada"));
    assert_eq!(commit.envs, ["dev"]);

    let plain = tempfile::tempdir().expect("temp dir");
    assert_eq!(remote_status(plain.path(), &known).expect("no git"), None);
}

/// Cancels the env's sync when the first object of a tier is applied (the app's Cancel button
/// pressed mid-sync).
struct CancelOnFirstApply<'a> {
    session: &'a Session,
    cancelled: Mutex<bool>,
}

impl Progress for CancelOnFirstApply<'_> {
    fn event(&self, env: &str, event: &SyncEvent) {
        let mut cancelled = self.cancelled.lock().expect("lock");
        if matches!(event, SyncEvent::Applied { .. }) && !*cancelled {
            *cancelled = self.session.cancel(env);
        }
    }
}

#[tokio::test]
async fn cancel_stops_a_running_sync_before_its_next_write_and_records_what_it_applied() {
    let repo = example_repo();
    let (session, memory) = session(repo.path());
    assert!(!session.cancel("dev"), "nothing runs yet");
    let preview = session.preview_sync("dev", false).await.expect("preview");
    let progress = CancelOnFirstApply { session: &session, cancelled: Mutex::new(false) };
    let report = session.sync("dev", &preview.fingerprint, false, &progress).await.expect("sync");
    assert!(*progress.cancelled.lock().expect("lock"), "the sync was running");
    assert_eq!(report.status, sync::SyncStatus::Interrupted, "{:?}", report.error);
    // The first tier (config) went in; the Deployment of a later tier did not.
    assert!(config_map_value(&memory, "iris-dev", "LOG_LEVEL").is_some());
    let deployment = ObjectKey {
        group_kind: "Deployment.apps".into(),
        namespace: Some("iris-dev".into()),
        name: "iris-server".into(),
    };
    assert!(memory.object(&deployment).is_none(), "a write after the cancel");
    let history = session.history("dev").await.expect("history");
    assert_eq!(history.first().map(|r| r.outcome), Some(crate::history::Outcome::Interrupted));
    assert!(!session.cancel("dev"), "the finished sync is no longer cancellable");
}

#[tokio::test]
async fn the_env_view_lists_pods_once_for_all_its_failing_workloads_and_reads_no_logs() {
    let repo = example_repo();
    let dev = repo.path().join("environments/dev");
    let manifest = std::fs::read_to_string(dev.join("iris-server.yaml")).expect("read");
    let deployment = manifest.split("\n---").next().expect("the Deployment comes first");
    for name in ["iris-shadow-a", "iris-shadow-b"] {
        let copy = deployment.replace("name: iris-server\n", &format!("name: {name}\n")).replace(
            "app.kubernetes.io/name: iris-server\n",
            &format!("app.kubernetes.io/name: {name}\n"),
        );
        std::fs::write(dev.join(format!("{name}.yaml")), copy).expect("write");
    }
    let memory = MemoryCluster::new();
    let recording = Arc::new(crate::cluster::recording::Recording::new(Arc::new(memory.clone())));
    let shared = recording.clone();
    let connector: Connector = Arc::new(move |_context| {
        let cluster: Arc<dyn Cluster> = shared.clone();
        Box::pin(async move { Ok(cluster) })
    });
    let session = Session::open(repo.path(), connector).expect("open");
    memory.fail_pods(
        "ghcr.io/acme-ml/iris-server:1.1.0",
        coxswain_memcluster::PodFault::CrashLoop { restarts: 2, log: "KeyError\n".into() },
    );
    let preview = session.preview_sync("dev", false).await.expect("preview");
    let report = session.sync("dev", &preview.fingerprint, false, &Recorder::default()).await;
    assert!(report.is_ok_and(|r| r.status != sync::SyncStatus::Synced), "crash loops");

    recording.reset();
    let detail = session.detail("dev").await.expect("detail");
    let degraded: Vec<&str> = detail
        .resources
        .iter()
        .filter(|r| {
            r.health.as_ref().is_some_and(|h| {
                h.health == Health::Degraded && h.message.contains("CrashLoopBackOff")
            })
        })
        .map(|r| r.key.name.as_str())
        .collect();
    assert_eq!(degraded, ["iris-server", "iris-shadow-a", "iris-shadow-b"]);
    let requests = recording.take();
    let count = |verb, target: &str| {
        requests.iter().filter(|(v, t)| *v == verb && t.starts_with(target)).count()
    };
    assert_eq!(count(crate::cluster::recording::Verb::List, "Pod in iris-dev"), 1, "{requests:?}");
    assert_eq!(
        count(crate::cluster::recording::Verb::List, "ReplicaSet.apps in iris-dev"),
        1,
        "{requests:?}"
    );
    assert_eq!(count(crate::cluster::recording::Verb::Log, ""), 0, "{requests:?}");
}

#[tokio::test]
async fn a_crash_looping_workload_shows_its_pods_with_the_last_log_lines() {
    let repo = example_repo();
    let (session, memory) = session(repo.path());
    let image = "ghcr.io/acme-ml/iris-server:1.1.0";
    memory.fail_pods(
        image,
        coxswain_memcluster::PodFault::CrashLoop {
            restarts: 3,
            log: "loading /models/model.onnx\nKeyError: 'MODEL_PATH'\n".into(),
        },
    );
    let id = "Deployment.apps iris-dev/iris-server";
    assert!(session.workload_pods("dev", id).await.expect("pods").is_empty(), "not deployed yet");
    let preview = session.preview_sync("dev", false).await.expect("preview");
    let report = session.sync("dev", &preview.fingerprint, false, &Recorder::default()).await;
    assert!(
        report.is_ok_and(|r| r.status != sync::SyncStatus::Synced),
        "a crash loop is not healthy"
    );
    // The resource table reports it where it is: degraded, with the pod's reason.
    let detail = session.detail("dev").await.expect("detail");
    let health = detail.resources.iter().find(|r| r.id == id).and_then(|r| r.health.clone());
    assert!(
        health.as_ref().is_some_and(|h| h.health == Health::Degraded && h.message.contains("CrashLoopBackOff")),
        "{health:?}"
    );
    let problems = session.workload_pods("dev", id).await.expect("pods");
    assert!(!problems.is_empty());
    let first = &problems[0];
    assert_eq!((first.reason.as_str(), first.restarts), ("CrashLoopBackOff", 3));
    assert_eq!(first.container.as_deref(), Some("server"));
    assert!(
        first.log.as_deref().is_some_and(|l| l.contains("KeyError: 'MODEL_PATH'")),
        "{first:?}"
    );
    let error =
        session.workload_pods("dev", "Deployment.apps iris-dev/nope").await.expect_err("unknown");
    assert!(error.message.contains("not declared"), "{}", error.message);
}
