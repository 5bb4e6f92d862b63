//! The app's commands through Tauri's IPC on the mock runtime: arguments and results as the UI
//! sends and receives them, errors as `{code, message, location}`, and the repo watcher's
//! `env-updated` events.

use coxswain::app_api::Connector;
use coxswain::cluster::{Cluster, Gvk, ObjectKey};
use coxswain_memcluster::MemoryCluster;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;
use tauri::Listener as _;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;

struct TestApp {
    app: tauri::App<MockRuntime>,
    webview: tauri::WebviewWindow<MockRuntime>,
    memory: MemoryCluster,
    repo: tempfile::TempDir,
}

impl TestApp {
    fn new() -> Self {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        Self::with_folders(&example, &["environments", "pipelines", "models"])
    }

    /// An app over a copy of `folders` of the repo at `source`.
    fn with_folders(source: &Path, folders: &[&str]) -> Self {
        let repo = tempfile::tempdir().expect("temp dir");
        for folder in folders {
            copy_dir(&source.join(folder), &repo.path().join(folder));
        }
        let memory = MemoryCluster::new();
        let shared = memory.clone();
        let connector: Connector = Arc::new(move |_context| {
            let cluster: Arc<dyn Cluster> = Arc::new(shared.clone());
            Box::pin(async move { Ok(cluster) })
        });
        let app = coxswain_app::builder(mock_builder(), connector, None)
            .build(mock_context(noop_assets()))
            .expect("app builds");
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", tauri::WebviewUrl::default())
            .build()
            .expect("webview");
        Self { app, webview, memory, repo }
    }

    fn invoke(&self, command: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: command.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("url"),
            body: InvokeBody::Json(args),
            headers: tauri::http::HeaderMap::default(),
            invoke_key: INVOKE_KEY.to_owned(),
        };
        get_ipc_response(&self.webview, request)
            .map(|body| body.deserialize::<Value>().expect("json response"))
    }

    fn open(&self) -> Value {
        self.invoke("open_repo", json!({"path": self.repo.path()})).expect("open_repo")
    }

    /// Previews a sync of `env`, then confirms exactly that preview: (preview, report).
    fn preview_and_sync(&self, env: &str) -> (Value, Value) {
        let preview = self
            .invoke("preview_sync", json!({"env": env, "forceConflicts": false}))
            .expect("preview");
        let fingerprint = preview["fingerprint"].as_str().expect("fingerprint");
        let report = self
            .invoke(
                "sync_env",
                json!({"env": env, "fingerprint": fingerprint, "onProgress": CHANNEL}),
            )
            .expect("sync");
        (preview, report)
    }

    /// The payloads of the `env-updated` events from now on.
    fn env_updates(&self) -> mpsc::Receiver<Value> {
        let (sender, receiver) = mpsc::channel::<Value>();
        self.app.listen("env-updated", move |event| {
            let _ = sender.send(serde_json::from_str(event.payload()).unwrap_or(Value::Null));
        });
        receiver
    }
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

/// The channel argument as the JS side sends it; the mock webview drops what is sent on it.
const CHANNEL: &str = "__CHANNEL__:7";

#[test]
fn commands_need_an_open_repo_and_say_so() {
    let app = TestApp::new();
    let state = app.invoke("repo_state", json!({})).expect("repo_state");
    assert_eq!(state["info"], Value::Null);
    let error = app.invoke("overview", json!({})).expect_err("no repo");
    assert_eq!(error["code"], "no-repo");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("environments/")), "{error}");

    let error = app
        .invoke("open_repo", json!({"path": app.repo.path().join("environments")}))
        .expect_err("not a repo");
    assert_eq!(error["code"], "not-a-repo");
}

#[test]
fn open_repo_and_overview_list_the_environments_in_pipeline_order() {
    let app = TestApp::new();
    let info = app.open();
    assert_eq!(info["environments"], json!(["dev", "staging", "prod"]));
    assert_eq!(info["pipelines"][0]["name"], "iris");

    let cards = app.invoke("overview", json!({})).expect("overview");
    let cards = cards.as_array().expect("a list");
    assert_eq!(cards.len(), 3);
    assert_eq!(cards[0]["name"], "dev");
    assert_eq!(cards[0]["syncState"], "outOfSync");
    assert_eq!(cards[0]["counts"]["create"], 5);
    assert_eq!(cards[0]["model"]["version"], "1.1.0");
    assert_eq!(cards[2]["protected"], true);

    let error = app.invoke("env_detail", json!({"env": "qa"})).expect_err("unknown env");
    assert_eq!(error["code"], "unknown-env");
    assert_eq!(error["location"], Value::Null);
}

#[test]
fn sync_applies_the_previewed_plan_and_refuses_a_stale_one() {
    let app = TestApp::new();
    app.open();
    let error = app
        .invoke("sync_env", json!({"env": "dev", "fingerprint": "0000", "onProgress": CHANNEL}))
        .expect_err("stale");
    assert_eq!(error["code"], "plan-changed");
    assert_eq!(app.memory.requests().writes(), 0);

    let (preview, report) = app.preview_and_sync("dev");
    assert_eq!(preview["summary"]["namespaces"], 1);
    assert_eq!(report["status"], "synced", "{report}");
    assert_eq!(report["revision"], 1);
    let key = ObjectKey {
        group_kind: "Deployment.apps".into(),
        namespace: Some("iris-dev".into()),
        name: "iris-server".into(),
    };
    assert!(app.memory.object(&key).is_some());

    let history = app.invoke("history", json!({"env": "dev"})).expect("history");
    assert_eq!(history[0]["number"], 1);
    let error = app
        .invoke("preview_rollback", json!({"env": "dev", "to": null}))
        .expect_err("nothing earlier");
    assert_eq!(error["code"], "no-rollback-target");
}

#[test]
fn the_protected_env_refuses_a_checkout_that_is_not_git_with_a_readable_error() {
    let app = TestApp::new();
    app.open();
    let error = app.invoke("preview_sync", json!({"env": "prod"})).expect_err("protected");
    assert_eq!(error["code"], "protected");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("not a git checkout")), "{error}");
}

/// Makes the copy a git repository with one commit, as promotion needs.
fn commit_all(root: &Path) {
    for args in [&["init", "-q"][..], &["add", "."], &["commit", "-q", "-m", "example"]] {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.invalid"])
            .args(args)
            .current_dir(root)
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    }
}

#[test]
fn promote_preview_shows_what_moves_and_every_gate_without_committing() {
    let app = TestApp::new();
    commit_all(app.repo.path());
    app.open();
    let outcome =
        app.invoke("promote_preview", json!({"from": "dev", "to": "staging"})).expect("dry run");
    assert_eq!(outcome["status"], "dryRun", "{outcome}");
    assert_eq!(outcome["change"]["model"]["new"]["version"], "1.1.0");
    assert_eq!(outcome["change"]["model"]["old"]["version"], "1.0.0");
    let gates: Vec<&str> = outcome["gates"]["results"]
        .as_array()
        .expect("gates")
        .iter()
        .filter_map(|g| g["gate"].as_str())
        .collect();
    assert_eq!(gates, ["modelValidation", "policy", "dryRun"]);
    assert!(
        outcome["diff"].as_str().is_some_and(|d| d.contains("+  version: 1.1.0")),
        "{}",
        outcome["diff"]
    );
    assert_eq!(outcome["commit"], Value::Null);

    // Without GitHub access, creating the pull request says what to set.
    let error =
        app.invoke("promote", json!({"from": "dev", "to": "staging"})).expect_err("no forge");
    assert!(["no-forge", "git"].contains(&error["code"].as_str().unwrap_or_default()), "{error}");
}

#[test]
fn editing_a_manifest_pushes_a_new_plan_of_that_env_only() {
    let app = TestApp::new();
    app.open();
    let receiver = app.env_updates();
    let file = app.repo.path().join("environments/staging/config.yaml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, text.replace("LOG_LEVEL: info", "LOG_LEVEL: warn")).expect("write");

    // A bound on how long to wait, not a speed check.
    let detail = receiver.recv_timeout(Duration::from_mins(1)).expect("an env-updated event");
    assert_eq!(detail["overview"]["name"], "staging");
    let config = detail["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["name"] == "iris-server-config")
        .cloned()
        .expect("config map");
    assert!(config["diff"].as_str().is_some_and(|d| d.contains("LOG_LEVEL: warn")), "{config}");
    assert!(receiver.recv_timeout(Duration::from_secs(2)).is_err(), "only staging changed");
}

/// Somebody deletes an object Coxswain synced (`kubectl delete`): the watch on the env's owned
/// objects re-plans the env and the UI gets the drift as an update, with no file touched.
#[test]
fn drift_in_the_cluster_pushes_a_new_plan_of_that_env() {
    let app = TestApp::new();
    app.open();
    let (_, report) = app.preview_and_sync("dev");
    assert_eq!(report["status"], "synced", "{report}");

    let receiver = app.env_updates();
    let service =
        tauri::async_runtime::block_on(app.memory.resolve(&Gvk::from_api_version("v1", "Service")))
            .expect("resolve Service");
    let key = ObjectKey {
        group_kind: "Service".into(),
        namespace: Some("iris-dev".into()),
        name: "iris-server".into(),
    };
    // The watch opens once dev's namespace exists (re-tried every few seconds): touch an
    // annotation nobody declares until an update arrives, so the watch is known to be open.
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    for touch in 0.. {
        let mut touched = app.memory.object(&key).expect("synced service");
        touched["metadata"]["annotations"]["example.com/touched"] = json!(touch.to_string());
        tauri::async_runtime::block_on(app.memory.replace(&service, &touched)).expect("touch");
        if let Ok(detail) = receiver.recv_timeout(Duration::from_secs(2)) {
            assert_eq!(detail["overview"]["name"], "dev");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the watch on dev never reported");
    }

    assert!(
        tauri::async_runtime::block_on(app.memory.delete(
            &service,
            Some("iris-dev"),
            "iris-server",
            None
        ))
        .expect("delete")
    );
    let detail = loop {
        let detail = receiver.recv_timeout(Duration::from_mins(1)).expect("an update after drift");
        let resources = detail["resources"].as_array().expect("resources");
        if resources.iter().any(|r| {
            r["name"] == "iris-server" && r["groupKind"] == "Service" && r["action"] == "create"
        }) {
            break detail;
        }
    };
    assert_eq!(detail["overview"]["name"], "dev");
    assert_eq!(detail["overview"]["syncState"], "outOfSync", "{}", detail["overview"]);
    assert_eq!(detail["overview"]["counts"]["create"], 1, "{}", detail["overview"]);
    assert_eq!(detail["overview"]["counts"]["update"], 0, "{}", detail["overview"]);
}

/// Issue #14: a kustomize overlay reads its base outside `environments/`: editing the base
/// re-plans every overlay built from it (the fixture's three), each with the base's change.
#[test]
fn editing_a_kustomize_base_re_plans_the_overlays_that_read_it() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kustomize");
    let app = TestApp::with_folders(&fixture, &["base", "environments", "pipelines"]);
    app.open();
    let receiver = app.env_updates();
    let file = app.repo.path().join("base/guestbook-ui-svc.yaml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, text.replace("port: 80\n", "port: 8080\n")).expect("write");

    let mut updated = std::collections::BTreeSet::new();
    while updated.len() < 3 {
        // A bound on how long to wait, not a speed check.
        let detail = receiver.recv_timeout(Duration::from_mins(1)).expect("an env-updated event");
        let service = detail["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .find(|r| r["groupKind"] == "Service")
            .cloned()
            .expect("the base's service");
        assert!(service["diff"].as_str().is_some_and(|d| d.contains("port: 8080")), "{service}");
        updated.insert(detail["overview"]["name"].as_str().expect("name").to_owned());
    }
    assert_eq!(updated.into_iter().collect::<Vec<_>>(), ["dev", "prod", "staging"]);
}
