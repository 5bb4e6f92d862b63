//! The engine's one gated path, driven through both front ends: the CLI entry
//! (`cli::run_with`) and the app's `Session`, each against its own in-memory cluster, on a git
//! copy of the example repo. Every scenario asserts the same gate outcome from both, and that
//! nothing was written.

mod support;

use coxswain::app_api::{ApiError, Session};
use coxswain::cluster::{Cluster, Gvk, ObjectKey};
use coxswain::engine::{Connector, Engine, SyncOutcome, SyncRequest};
use coxswain::exit::ExitCode;
use coxswain::history::{self, Outcome, Revision, StoredObject};
use coxswain::ownership::Owner;
use coxswain::sync::{Progress, Silent, SyncEvent, SyncStatus};
use coxswain_memcluster::{MemoryCluster, PodFault};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A git checkout of the example repo (environments, pipelines, models), one commit on `main`.
fn example_git_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = support::example_repo();
    for folder in ["environments", "pipelines", "models"] {
        copy_dir(&source.join(folder), &dir.path().join(folder));
    }
    let repo = git2::Repository::init(dir.path()).expect("git init");
    repo.set_head("refs/heads/main").expect("main");
    commit_all(dir.path(), "example repo");
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.path().extension().is_none_or(|e| e != "py" && e != "txt") {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn commit_all(root: &Path, message: &str) -> String {
    let repo = git2::Repository::open(root).expect("open");
    let mut index = repo.index().expect("index");
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).expect("add");
    index.write().expect("write index");
    let tree = repo.find_tree(index.write_tree().expect("tree")).expect("find tree");
    let signature = git2::Signature::now("Test", "test@example.invalid").expect("signature");
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(Some("HEAD"), &signature, &signature, message, &tree, &parents)
        .expect("commit")
        .to_string()
}

fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
}

fn connector(cluster: &MemoryCluster) -> Connector {
    let shared = cluster.clone();
    Arc::new(move |_context| {
        let cluster: Arc<dyn Cluster> = Arc::new(shared.clone());
        Box::pin(async move { Ok(cluster) })
    })
}

/// `coxswain --repo ROOT ARGS…` in-process, against `cluster`.
fn cli(root: &Path, cluster: &MemoryCluster, args: &[&str]) -> ExitCode {
    let mut argv = vec!["coxswain".to_owned(), "--repo".into(), root.display().to_string()];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    coxswain::cli::run_with(argv, connector(cluster))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

fn session(root: &Path, cluster: &MemoryCluster) -> Session {
    Session::open(root, connector(cluster)).expect("open session")
}

/// The app's Apply: preview, then sync the previewed plan.
fn app_sync(root: &Path, cluster: &MemoryCluster, env: &str) -> Result<SyncStatus, ApiError> {
    let session = session(root, cluster);
    runtime().block_on(async {
        let preview = session.preview_sync(env, false).await?;
        Ok(session.sync(env, &preview.fingerprint, false, &Silent).await?.status)
    })
}

/// The app's Rollback: preview, then restore the previewed plan.
fn app_rollback(
    root: &Path,
    cluster: &MemoryCluster,
    env: &str,
    to: u64,
) -> Result<SyncStatus, ApiError> {
    let session = session(root, cluster);
    runtime().block_on(async {
        let preview = session.preview_rollback(env, Some(to)).await?;
        let outcome = session.rollback(env, to, &preview.fingerprint, false, &Silent).await?;
        Ok(outcome.report.status)
    })
}

fn object_exists(
    cluster: &MemoryCluster,
    gvk: (&str, &str),
    namespace: Option<&str>,
    name: &str,
) -> bool {
    cluster.object(&ObjectKey::new(&Gvk::from_api_version(gvk.0, gvk.1), namespace, name)).is_some()
}

/// Writes a revision `ConfigMap` as someone who may write `ConfigMap`s in the namespace could:
/// any objects, a consistent digest, and the claimed git commit.
fn plant_revision(
    cluster: &MemoryCluster,
    env: &str,
    namespace: &str,
    sha: Option<String>,
    objects: Vec<Value>,
) -> u64 {
    let stored: Vec<StoredObject> = objects
        .into_iter()
        .map(|object| StoredObject {
            file: format!("environments/{env}/planted.yaml"),
            line: 1,
            object,
        })
        .collect();
    let desired = history::desired_objects(&stored);
    let revision = Revision {
        number: 0,
        git_sha: sha,
        dirty: false,
        author: "mallory@laptop".into(),
        time: "2026-11-30T00:00:00Z".into(),
        outcome: Outcome::Succeeded,
        message: "looks legitimate".into(),
        applied: Vec::new(),
        pruned: Vec::new(),
        rollback_of: None,
        manifests_digest: None,
    };
    runtime()
        .block_on(history::record(cluster, &mallory(env), namespace, revision, &desired))
        .expect("plant a revision")
        .number
}

/// Whoever plants a revision can label it as any owner.
fn mallory(env: &str) -> Owner {
    Owner { instance: "planted".into(), env: env.into() }
}

/// Both front ends, the same refusal, and no write.
fn assert_sync_refused_by_both(root: &Path, env: &str, exit: ExitCode, code: &str) {
    let for_cli = MemoryCluster::new();
    assert_eq!(cli(root, &for_cli, &["sync", "--env", env, "--yes"]), exit, "CLI exit code");
    assert_eq!(for_cli.requests().writes(), 0, "the CLI wrote something");
    let for_app = MemoryCluster::new();
    let error = app_sync(root, &for_app, env).expect_err("the app must refuse too");
    assert_eq!(error.code, code, "{error:?}");
    assert_eq!(for_app.requests().writes(), 0, "the app wrote something");
}

#[test]
fn a_wrong_model_sha256_is_refused_before_any_write_from_both_front_ends() {
    let repo = example_git_repo();
    edit(repo.path(), "environments/dev/env.yaml", "sha256: f", "sha256: 0");
    commit_all(repo.path(), "wrong pin");
    assert_sync_refused_by_both(
        repo.path(),
        "dev",
        ExitCode::GateFailed,
        "model-validation-failed",
    );
}

#[test]
fn a_model_failing_its_validation_spec_is_refused_before_any_write_from_both_front_ends() {
    let repo = example_git_repo();
    // The deliberately worse candidate (accuracy 0.62 < the spec's 0.9), correctly pinned.
    edit(
        repo.path(),
        "environments/dev/env.yaml",
        "models/iris/1.1.0/",
        "models/iris/candidate-bad/",
    );
    edit(
        repo.path(),
        "environments/dev/env.yaml",
        "f3e2e503a33969c07baeeb9d8b67f9d5deb2c047265097d56063fd344230242c",
        "216d432c98069a7ad8ca4a3b099945f30d5883674aa9d1b4edef6d142c69ff0b",
    );
    commit_all(repo.path(), "a worse model");
    assert_sync_refused_by_both(
        repo.path(),
        "dev",
        ExitCode::GateFailed,
        "model-validation-failed",
    );
}

#[test]
fn an_invalid_validation_spec_is_an_error_before_any_write_from_both_front_ends() {
    let repo = example_git_repo();
    edit(repo.path(), "pipelines/iris.yaml", "minAccuracy: 0.9", "minAccuracy: 1.01");
    commit_all(repo.path(), "impossible accuracy");
    assert_sync_refused_by_both(repo.path(), "dev", ExitCode::Error, "model");
}

#[test]
fn a_policy_error_is_refused_with_its_rule_and_location_from_both_front_ends() {
    let repo = example_git_repo();
    edit(
        repo.path(),
        "environments/dev/iris-server.yaml",
        "iris-server:1.1.0",
        "iris-server:latest",
    );
    commit_all(repo.path(), "latest tag");
    assert_sync_refused_by_both(repo.path(), "dev", ExitCode::GateFailed, "image-tag");
}

/// Syncs dev once through the CLI so revision 1 exists (verified: synced from a commit).
fn synced_dev(repo: &Path) -> MemoryCluster {
    let cluster = MemoryCluster::new();
    assert_eq!(cli(repo, &cluster, &["sync", "--env", "dev", "--yes"]), ExitCode::Ok);
    cluster
}

fn head(repo: &Path) -> String {
    git2::Repository::open(repo)
        .expect("open")
        .head()
        .expect("head")
        .target()
        .expect("oid")
        .to_string()
}

/// Rolls dev back to revision `number` through `front_end` and asserts the refusal: exit 3 from
/// the CLI (with `flags`), `revision-refused` from the app with a message saying each of `says`,
/// and no write from either.
fn assert_rollback_refused(
    front_end: &str,
    repo: &Path,
    cluster: &MemoryCluster,
    number: u64,
    flags: &[&str],
    says: &[&str],
) {
    let writes = cluster.requests().writes();
    if front_end == "cli" {
        let to = number.to_string();
        let mut args = vec!["rollback", "--env", "dev", "--to", to.as_str(), "--yes"];
        args.extend_from_slice(flags);
        assert_eq!(cli(repo, cluster, &args), ExitCode::GateFailed);
    } else {
        let error = app_rollback(repo, cluster, "dev", number).expect_err("refused");
        assert_eq!(error.code, "revision-refused", "{error:?}");
        for text in says {
            assert!(error.message.contains(text), "{}", error.message);
        }
    }
    assert_eq!(cluster.requests().writes(), writes, "{front_end} wrote something");
}

#[test]
fn a_planted_revision_with_cluster_admin_and_another_namespace_creates_neither() {
    let repo = example_git_repo();
    for front_end in ["cli", "app"] {
        let cluster = synced_dev(repo.path());
        let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "pwned"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "mallory", "namespace": "iris-dev"}]});
        let elsewhere = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "planted", "namespace": "kube-system"}, "data": {"a": "b"}});
        let number = plant_revision(&cluster, "dev", "iris-dev", None, vec![binding, elsewhere]);
        let says = ["cluster-scoped", "kube-system"];
        assert_rollback_refused(
            front_end,
            repo.path(),
            &cluster,
            number,
            &["--allow-unverified"],
            &says,
        );
        assert!(!object_exists(
            &cluster,
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
            None,
            "pwned"
        ));
        assert!(!object_exists(&cluster, ("v1", "ConfigMap"), Some("kube-system"), "planted"));
    }
}

#[test]
fn a_revision_holding_a_plaintext_secret_is_refused_by_both_front_ends() {
    let repo = example_git_repo();
    for front_end in ["cli", "app"] {
        let cluster = synced_dev(repo.path());
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "iris-dev"}, "data": {"password": "aHVudGVyMg=="}});
        let number = plant_revision(&cluster, "dev", "iris-dev", None, vec![secret]);
        let flags = ["--allow-unverified"];
        assert_rollback_refused(front_end, repo.path(), &cluster, number, &flags, &["plaintext"]);
        assert!(!object_exists(&cluster, ("v1", "Secret"), Some("iris-dev"), "creds"));
    }
}

#[test]
fn a_revision_whose_manifests_differ_from_its_commit_is_refused_by_both_front_ends() {
    let repo = example_git_repo();
    for front_end in ["cli", "app"] {
        let cluster = synced_dev(repo.path());
        // Revision 1's own manifests, one value changed, claiming revision 1's commit.
        let (_, raw) =
            runtime().block_on(history::find(&cluster, "dev", "iris-dev", 1)).expect("revision 1");
        let mut objects: Vec<Value> =
            history::manifests(&raw).expect("manifests").into_iter().map(|s| s.object).collect();
        let config = objects.iter_mut().find(|o| o["kind"] == "ConfigMap").expect("a ConfigMap");
        config["data"]["LOG_LEVEL"] = json!("trace");
        let number = plant_revision(&cluster, "dev", "iris-dev", Some(head(repo.path())), objects);
        let says = ["differ from what that commit has", "ConfigMap iris-dev/iris-server-config"];
        assert_rollback_refused(front_end, repo.path(), &cluster, number, &[], &says);
    }
}

#[test]
fn an_unverifiable_revision_needs_consent_on_the_cli_and_a_verified_one_restores() {
    let repo = example_git_repo();
    let cluster = synced_dev(repo.path());
    edit(repo.path(), "environments/dev/config.yaml", "LOG_LEVEL: debug", "LOG_LEVEL: warn");
    commit_all(repo.path(), "quieter");
    assert_eq!(cli(repo.path(), &cluster, &["sync", "--env", "dev", "--yes"]), ExitCode::Ok);
    // Revision 1 matches the first commit: restored without any flag.
    assert_eq!(
        cli(repo.path(), &cluster, &["rollback", "--env", "dev", "--to", "1", "--yes"]),
        ExitCode::Ok
    );
    let config = ObjectKey::new(
        &Gvk::from_api_version("v1", "ConfigMap"),
        Some("iris-dev"),
        "iris-server-config",
    );
    assert_eq!(cluster.object(&config).expect("config")["data"]["LOG_LEVEL"], "debug");
    // A revision with no commit: only with --allow-unverified.
    let (_, raw) =
        runtime().block_on(history::find(&cluster, "dev", "iris-dev", 2)).expect("revision 2");
    let objects =
        history::manifests(&raw).expect("manifests").into_iter().map(|s| s.object).collect();
    let number = plant_revision(&cluster, "dev", "iris-dev", None, objects).to_string();
    let refused =
        cli(repo.path(), &cluster, &["rollback", "--env", "dev", "--to", &number, "--yes"]);
    assert_eq!(refused, ExitCode::GateFailed);
    assert_eq!(cluster.object(&config).expect("config")["data"]["LOG_LEVEL"], "debug");
    let allowed = cli(
        repo.path(),
        &cluster,
        &["rollback", "--env", "dev", "--to", &number, "--yes", "--allow-unverified"],
    );
    assert_eq!(allowed, ExitCode::Ok);
    assert_eq!(cluster.object(&config).expect("config")["data"]["LOG_LEVEL"], "warn");
}

#[test]
fn rollback_writes_the_reports_sync_writes_and_prints_json_or_yaml() {
    let repo = example_git_repo();
    let cluster = synced_dev(repo.path());
    edit(repo.path(), "environments/dev/config.yaml", "LOG_LEVEL: debug", "LOG_LEVEL: warn");
    commit_all(repo.path(), "quieter");
    assert_eq!(cli(repo.path(), &cluster, &["sync", "--env", "dev", "--yes"]), ExitCode::Ok);
    let out = tempfile::tempdir().expect("temp dir");
    let file = |name: &str| out.path().join(name).display().to_string();
    let writes = cluster.requests().writes();
    let bad = ["rollback", "--env", "dev", "--to", "1", "--yes", "--report", "xml=x"];
    assert_eq!(cli(repo.path(), &cluster, &bad), ExitCode::Error);
    assert_eq!(cluster.requests().writes(), writes, "a bad --report is refused before writing");
    let dry = ["rollback", "dev", "--to", "1", "--dry-run", "-o", "yaml"];
    assert_eq!(cli(repo.path(), &cluster, &dry), ExitCode::Ok);
    assert_eq!(cluster.requests().writes(), writes);

    let reports = [
        format!("json={}", file("r.json")),
        format!("junit={}", file("r.xml")),
        format!("markdown={}", file("r.md")),
    ];
    let mut args = vec!["rollback", "--env", "dev", "--to", "1", "--yes", "-o", "json"];
    for report in &reports {
        args.extend(["--report", report.as_str()]);
    }
    assert_eq!(cli(repo.path(), &cluster, &args), ExitCode::Ok);
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(file("r.json")).expect("json")).unwrap();
    assert_eq!(json["schemaVersion"], 1, "{json}");
    assert_eq!(json["environments"][0]["env"], "dev", "{json}");
    assert_eq!(json["environments"][0]["status"], "synced", "{json}");
    assert_eq!(json["rollback"]["target"]["number"], 1, "{json}");
    assert_eq!(json["rollback"]["verification"]["state"], "verified", "{json}");
    assert!(json["rollback"].get("report").is_none(), "{json}");
    let junit = std::fs::read_to_string(file("r.xml")).expect("junit");
    assert!(junit.contains("name=\"coxswain-rollback\""), "{junit}");
    assert!(junit.contains("tests=\"1\"") && junit.contains("failures=\"0\""), "{junit}");
    assert!(
        junit.contains("<testcase name=\"dev\" classname=\"coxswain.rollback\" time=\""),
        "{junit}"
    );
    assert!(junit.contains(" timestamp=\""), "{junit}");
    let markdown = std::fs::read_to_string(file("r.md")).expect("markdown");
    assert!(markdown.starts_with("### Coxswain rollback: `dev` to revision 1\n"), "{markdown}");
    assert!(markdown.contains("- revision 1 matches commit "), "{markdown}");
    assert!(markdown.contains("| dev | ✅ synced |"), "{markdown}");
}

struct RecoverOnRollback(MemoryCluster);

impl Progress for RecoverOnRollback {
    fn event(&self, _env: &str, event: &SyncEvent) {
        if matches!(event, SyncEvent::RollingBack { .. }) {
            self.0.set_auto_ready(true);
        }
    }
}

fn engine_sync(engine: &Engine, env: &str, progress: &dyn Progress) -> coxswain::sync::SyncReport {
    let request = SyncRequest { timeout: Duration::from_millis(300), ..SyncRequest::default() };
    match runtime().block_on(engine.sync(env, &request, progress)).expect("sync") {
        SyncOutcome::Finished { report, .. } => *report,
        SyncOutcome::Offline { reason, .. } => panic!("offline: {reason}"),
    }
}

#[test]
fn a_rollout_that_never_becomes_ready_rolls_back_through_the_gates() {
    let repo = example_git_repo();
    edit(
        repo.path(),
        "environments/dev/env.yaml",
        "prune: true",
        "prune: true\nrollbackOnFailure: true",
    );
    commit_all(repo.path(), "roll back on failure");
    let cluster = MemoryCluster::new();
    let engine = Engine::open(repo.path(), connector(&cluster)).expect("engine");
    assert_eq!(engine_sync(&engine, "dev", &Silent).status, SyncStatus::Synced);

    cluster.set_auto_ready(false);
    edit(
        repo.path(),
        "environments/dev/iris-server.yaml",
        "iris-server:1.1.0",
        "iris-server:1.2.0-broken",
    );
    commit_all(repo.path(), "broken image");
    let engine = Engine::open(repo.path(), connector(&cluster)).expect("engine");
    let report = engine_sync(&engine, "dev", &RecoverOnRollback(cluster.clone()));
    assert_eq!(report.status, SyncStatus::RolledBack, "{report:?}");
    assert_eq!(report.rolled_back_to, Some(1));
    assert!(
        report.error.as_deref().is_some_and(|e| e.contains("not healthy within")),
        "{report:?}"
    );
    let deployment = ObjectKey::new(
        &Gvk::from_api_version("apps/v1", "Deployment"),
        Some("iris-dev"),
        "iris-server",
    );
    let image =
        cluster.object(&deployment).expect("deployment")["spec"]["template"]["spec"]["containers"]
            [0]["image"]
            .clone();
    assert!(image.as_str().is_some_and(|i| i.ends_with(":1.1.0")), "{image}");
    let outcomes: Vec<(u64, Outcome, Option<u64>)> = runtime()
        .block_on(history::list(&cluster, "dev", "iris-dev"))
        .expect("history")
        .iter()
        .map(|(r, _)| (r.number, r.outcome, r.rollback_of))
        .collect();
    assert_eq!(
        outcomes,
        [
            (3, Outcome::Succeeded, Some(1)),
            (2, Outcome::Unhealthy, None),
            (1, Outcome::Succeeded, None)
        ]
    );
}

#[test]
fn the_automatic_rollback_refuses_a_planted_revision() {
    let repo = example_git_repo();
    edit(
        repo.path(),
        "environments/dev/env.yaml",
        "prune: true",
        "prune: true\nrollbackOnFailure: true",
    );
    commit_all(repo.path(), "roll back on failure");
    let cluster = MemoryCluster::new();
    let engine = Engine::open(repo.path(), connector(&cluster)).expect("engine");
    assert_eq!(engine_sync(&engine, "dev", &Silent).status, SyncStatus::Synced);
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "pwned"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "mallory", "namespace": "iris-dev"}]});
    plant_revision(&cluster, "dev", "iris-dev", None, vec![binding]);

    cluster.set_auto_ready(false);
    edit(
        repo.path(),
        "environments/dev/iris-server.yaml",
        "iris-server:1.1.0",
        "iris-server:1.2.0-broken",
    );
    commit_all(repo.path(), "broken image");
    let engine = Engine::open(repo.path(), connector(&cluster)).expect("engine");
    let report = engine_sync(&engine, "dev", &RecoverOnRollback(cluster.clone()));
    assert_eq!(report.status, SyncStatus::Unhealthy, "{report:?}");
    let error = report.error.expect("a reason");
    assert!(error.contains("automatic rollback to revision 2 refused"), "{error}");
    assert!(!object_exists(
        &cluster,
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        None,
        "pwned"
    ));
}

/// `coxswain sync --env dev --timeout 5m` with dev's image failing its pods as `fault`: the exit
/// code and the report's error. The rollout fails on the first health poll, from the pods, not
/// after the five minutes (the assertions are on the reason, which a timeout would not name).
fn sync_with_failing_pods(fault: PodFault) -> (ExitCode, String, MemoryCluster) {
    let repo = example_git_repo();
    let cluster = MemoryCluster::new();
    cluster.fail_pods("ghcr.io/acme-ml/iris-server:1.1.0", fault);
    let report = repo.path().join("report.json");
    let json_report = format!("json={}", report.display());
    let exit = cli(
        repo.path(),
        &cluster,
        &["sync", "--env", "dev", "--yes", "--timeout", "5m", "--report", &json_report],
    );
    let text = std::fs::read_to_string(&report).expect("the json report");
    let report: Value = serde_json::from_str(&text).expect("json");
    let error = report
        .pointer("/environments/0/error")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no error in the report: {text}"))
        .to_owned();
    (exit, error, cluster)
}

#[test]
fn a_crash_looping_image_fails_the_sync_at_once_naming_pod_container_restarts_and_log() {
    let log = "loading model /models/iris.onnx\nTraceback (most recent call last):\nKeyError: 'MODEL_PATH'\n";
    let (exit, error, cluster) =
        sync_with_failing_pods(PodFault::CrashLoop { restarts: 4, log: log.to_owned() });
    assert_eq!(exit, ExitCode::GateFailed, "{error}");
    assert!(error.starts_with("rollout failed: 1 of "), "{error}");
    assert!(error.contains("1 CrashLoopBackOff (Deployment/iris-server)"), "{error}");
    assert!(error.contains("pod iris-server-"), "{error}");
    assert!(error.contains("container server: CrashLoopBackOff, 4 restarts"), "{error}");
    assert!(error.contains("| KeyError: 'MODEL_PATH'"), "{error}");
    // One log read, for the failing container.
    assert_eq!(cluster.requests().get(coxswain_memcluster::Verb::Log), 1);
}

#[test]
fn an_image_that_cannot_be_pulled_fails_the_sync_at_once() {
    let (exit, error, _) = sync_with_failing_pods(PodFault::ImagePullBackOff);
    assert_eq!(exit, ExitCode::GateFailed, "{error}");
    assert!(error.contains("1 ImagePullBackOff (Deployment/iris-server)"), "{error}");
    assert!(
        error.contains("container server: ImagePullBackOff, 0 restarts: Back-off pulling image"),
        "{error}"
    );
}

#[test]
fn a_pod_no_node_can_run_fails_the_sync_at_once() {
    let message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.";
    let (exit, error, _) =
        sync_with_failing_pods(PodFault::Unschedulable { message: message.to_owned() });
    assert_eq!(exit, ExitCode::GateFailed, "{error}");
    assert!(error.contains("1 Unschedulable (Deployment/iris-server)"), "{error}");
    assert!(error.contains(&format!(": Unschedulable: {message}")), "{error}");
}

#[test]
fn an_oom_killed_container_fails_the_sync_at_once() {
    let log = "allocating 4Gi tensor arena\n";
    let (exit, error, _) =
        sync_with_failing_pods(PodFault::OomKilled { restarts: 2, log: log.to_owned() });
    assert_eq!(exit, ExitCode::GateFailed, "{error}");
    assert!(error.contains("1 OOMKilled (Deployment/iris-server)"), "{error}");
    assert!(error.contains("| allocating 4Gi tensor arena"), "{error}");
}

/// Issue #14: `kubectl set image` on a Deployment git owns is a change for `plan
/// --detailed-exitcode` (exit 2, not an error), the sync refuses before writing, and
/// `--force-conflicts` takes it back.
#[test]
fn drift_by_another_manager_is_a_change_and_sync_needs_force_conflicts() {
    let repo = example_git_repo();
    let cluster = synced_dev(repo.path());
    let key = ObjectKey::new(
        &Gvk::from_api_version("apps/v1", "Deployment"),
        Some("iris-dev"),
        "iris-server",
    );
    let mut live = cluster.object(&key).expect("deployment");
    let git_image = live["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    live["spec"]["template"]["spec"]["containers"][0]["image"] =
        "ghcr.io/acme-ml/iris-server:hotfix".into();
    let resource = runtime()
        .block_on(cluster.resolve(&Gvk::from_api_version("apps/v1", "Deployment")))
        .expect("kind");
    cluster.update_as("kubectl-set", &resource, &live).expect("kubectl set image");
    let image = |cluster: &MemoryCluster| {
        cluster.object(&key).expect("deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
            .clone()
    };

    assert_eq!(
        cli(repo.path(), &cluster, &["plan", "--env", "dev", "--detailed-exitcode"]),
        ExitCode::Changes
    );
    assert_eq!(cli(repo.path(), &cluster, &["plan", "--env", "dev"]), ExitCode::Ok);
    assert_ne!(cli(repo.path(), &cluster, &["sync", "--env", "dev", "--yes"]), ExitCode::Ok);
    assert_eq!(image(&cluster), "ghcr.io/acme-ml/iris-server:hotfix");
    assert_eq!(
        cli(repo.path(), &cluster, &["sync", "--env", "dev", "--yes", "--force-conflicts"]),
        ExitCode::Ok
    );
    assert_eq!(image(&cluster), git_image);
    assert_eq!(
        cli(repo.path(), &cluster, &["plan", "--env", "dev", "--detailed-exitcode"]),
        ExitCode::Ok
    );
}

/// Marks HEAD as fetched from `origin/main`, as a clone of a reviewed remote branch has it.
fn mark_pushed(root: &Path) {
    let repo = git2::Repository::open(root).expect("open");
    let head = repo.head().expect("head").target().expect("commit");
    repo.reference("refs/remotes/origin/main", head, true, "test: fetched").expect("ref");
}

#[test]
fn a_protected_env_syncs_only_a_commit_pushed_to_its_branch_from_both_front_ends() {
    let repo = example_git_repo();
    // Committed on main but never pushed: no origin/main at all.
    assert_sync_refused_by_both(repo.path(), "prod", ExitCode::Error, "protected");
    mark_pushed(repo.path());
    let cluster = MemoryCluster::new();
    assert_eq!(cli(repo.path(), &cluster, &["sync", "--env", "prod", "--yes"]), ExitCode::Ok);
    assert!(cluster.requests().writes() > 0, "the pushed commit was not synced");

    // A local commit on top of the pushed one is not reviewed.
    edit(repo.path(), "environments/prod/config.yaml", "\n", "\n# local tweak\n");
    commit_all(repo.path(), "unreviewed local commit");
    assert_sync_refused_by_both(repo.path(), "prod", ExitCode::Error, "protected");
}

#[test]
fn an_ignored_manifest_in_a_protected_env_is_refused_by_both_front_ends() {
    let repo = example_git_repo();
    std::fs::write(repo.path().join(".gitignore"), "local.yaml\n.scratch/\n").expect("gitignore");
    commit_all(repo.path(), "ignore local files");
    mark_pushed(repo.path());
    // Hidden files and folders are never loaded, ignored or not: no reason to refuse.
    std::fs::create_dir_all(repo.path().join("environments/prod/.scratch")).expect("dir");
    std::fs::write(repo.path().join("environments/prod/.scratch/notes.yaml"), "a: 1\n").expect("w");
    let cluster = MemoryCluster::new();
    assert_eq!(cli(repo.path(), &cluster, &["sync", "--env", "prod", "--yes"]), ExitCode::Ok);

    std::fs::write(
        repo.path().join("environments/prod/local.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local-override\ndata:\n  a: b\n",
    )
    .expect("write");
    let git = git2::Repository::open(repo.path()).expect("open");
    let mut visible = git2::StatusOptions::new();
    visible.include_ignored(false).include_untracked(true);
    let statuses = git.statuses(Some(&mut visible)).expect("status");
    assert!(statuses.is_empty(), "git status shows the ignored file");
    assert_sync_refused_by_both(repo.path(), "prod", ExitCode::Error, "protected");
    let session = session(repo.path(), &MemoryCluster::new());
    let error = runtime()
        .block_on(async {
            let preview = session.preview_sync("prod", false).await?;
            session.sync("prod", &preview.fingerprint, false, &Silent).await.map(|_| ())
        })
        .expect_err("refused");
    assert!(error.message.contains("environments/prod/local.yaml"), "{}", error.message);
    assert!(error.message.contains("ignores"), "{}", error.message);
}
