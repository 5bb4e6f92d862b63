//! File save → updated plan in the app, end to end: an env of N generated objects (default
//! 1,000) is synced, the app watches it (its own file watcher and cluster watches, on Tauri's
//! mock runtime), then one `ConfigMap` setting is edited on disk again and again, each time timing
//! from the write to the `env-updated` event that carries the new diff. Reports the median, the
//! fastest and slowest, and the requests each re-plan sent.
//!
//! Run: `cargo bench -p coxswain-app --bench file_save [-- N]`. The cluster:
//! - default: the in-memory double, which measures the app and engine alone;
//! - `KUBEBUILDER_ASSETS=dir` with `etcd` and `kube-apiserver`: a real control plane on loopback
//!   (`tests/support/envtest.rs`) with a stand-in deployment controller; with
//!   `COXSWAIN_BENCH_KUBECTL=path/to/kubectl` also what a kubectl user runs after a save,
//!   `kubectl diff --server-side` of the env's folder, on the same server, for the ratio.
//!
//! Goal (issue 17): ≤ 200 ms from save to the new diff shown (Argo CD polls git every 180 s).

#[path = "../../tests/support/envtest.rs"]
mod envtest;
#[path = "../../benches/support/manifests.rs"]
mod manifests;

use coxswain::app_api::Connector;
use coxswain::cluster::Cluster;
use coxswain::cluster::recording::{Recording, Verb};
use coxswain_memcluster::MemoryCluster;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use tauri::Listener as _;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;

const DEFAULT_OBJECTS: usize = 1_000;
/// Saves timed; the median is reported.
const SAVES: usize = 15;
/// The env's name (and folder) in the generated repo.
const ENV: &str = "bench";
/// How long one save may take to show before the bench gives up (a bound, not a target).
const GIVE_UP_AFTER: Duration = Duration::from_mins(2);
const GOAL: Duration = Duration::from_millis(200);

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            let shown: String = error.chars().take(2_000).collect();
            eprintln!("file_save bench failed: {shown}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn object_count() -> Result<usize, String> {
    match std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        None => Ok(DEFAULT_OBJECTS),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n >= 3 => Ok(n),
            _ => Err(format!("object count `{text}`: expected a number ≥ 3")),
        },
    }
}

/// The cluster under test, with what keeps it alive (dropped at the end of the run).
struct Backend {
    name: String,
    cluster: Arc<dyn Cluster>,
    /// Stopped before the control plane (fields drop in order).
    _controller: Option<envtest::RolloutController>,
    test_env: Option<envtest::TestEnv>,
}

fn backend(runtime: &tokio::runtime::Runtime, namespace: &str) -> Result<Backend, String> {
    if std::env::var_os("KUBEBUILDER_ASSETS").is_none() {
        return Ok(Backend {
            name: "in-memory double".into(),
            cluster: Arc::new(MemoryCluster::new()),
            test_env: None,
            _controller: None,
        });
    }
    runtime.block_on(async {
        let test_env = envtest::TestEnv::start()
            .await?
            .ok_or("KUBEBUILDER_ASSETS is set but holds no etcd/kube-apiserver")?;
        let cluster = test_env.cluster().await?;
        let client = kube::Client::try_from(test_env.config().await?).map_err(|e| e.to_string())?;
        let version =
            client.apiserver_version().await.map_or_else(|_| "?".into(), |info| info.git_version);
        let controller = envtest::RolloutController::start(client, namespace);
        Ok(Backend {
            name: format!("kube-apiserver {version} + etcd (envtest, loopback)"),
            cluster: Arc::new(cluster),
            test_env: Some(test_env),
            _controller: Some(controller),
        })
    })
}

/// A repo with one env of `count` generated objects in `namespace`.
fn write_repo(root: &Path, namespace: &str, count: usize) -> Result<PathBuf, String> {
    let dir = root.join("environments").join(ENV);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let write = |path: PathBuf, text: &str| {
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(root.join("coxswain.yaml"), "instance: file-save-bench\n")?;
    // The generated Deployments run no pods (`replicas: 0`), which the policy allows only when told.
    let env_yaml = format!("namespace: {namespace}\nprune: true\npolicy:\n  minReplicas: 0\n");
    write(dir.join("env.yaml"), &env_yaml)?;
    for (name, text) in manifests::generate(count, 0) {
        write(dir.join(name), &text)?;
    }
    Ok(dir)
}

struct App {
    _tauri: tauri::App<MockRuntime>,
    webview: tauri::WebviewWindow<MockRuntime>,
    updates: mpsc::Receiver<Value>,
}

impl App {
    fn new(cluster: Arc<dyn Cluster>) -> Result<Self, String> {
        let connector: Connector = Arc::new(move |_context| {
            let cluster = cluster.clone();
            Box::pin(async move { Ok(cluster) })
        });
        let app = coxswain_app::builder(mock_builder(), connector, None)
            .build(mock_context(noop_assets()))
            .map_err(|e| format!("the app does not build: {e}"))?;
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", tauri::WebviewUrl::default())
            .build()
            .map_err(|e| format!("no webview: {e}"))?;
        let (sender, updates) = mpsc::channel();
        app.listen("env-updated", move |event| {
            let _ = sender.send(serde_json::from_str(event.payload()).unwrap_or(Value::Null));
        });
        Ok(Self { _tauri: app, webview, updates })
    }

    fn invoke(&self, command: &str, args: Value) -> Result<Value, String> {
        let request = InvokeRequest {
            cmd: command.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().map_err(|e| format!("url: {e}"))?,
            body: InvokeBody::Json(args),
            headers: tauri::http::HeaderMap::default(),
            invoke_key: INVOKE_KEY.to_owned(),
        };
        get_ipc_response(&self.webview, request)
            .map_err(|error| format!("{command}: {error}"))?
            .deserialize::<Value>()
            .map_err(|e| format!("{command}: {e}"))
    }

    /// Previews a sync of the env and confirms that preview, as a person clicking Apply does.
    fn sync(&self) -> Result<(), String> {
        let preview = self.invoke("preview_sync", json!({"env": ENV, "forceConflicts": false}))?;
        let fingerprint =
            preview["fingerprint"].as_str().ok_or("the preview has no fingerprint")?;
        let report = self.invoke(
            "sync_env",
            json!({"env": ENV, "fingerprint": fingerprint, "onProgress": "__CHANNEL__:7"}),
        )?;
        match report["status"].as_str() {
            Some("synced" | "noChanges") => Ok(()),
            _ => Err(format!("the first sync did not succeed: {report}")),
        }
    }

    /// Drops the events that are already queued or arrive within `quiet` of each other.
    fn settle(&self, quiet: Duration) {
        while self.updates.recv_timeout(quiet).is_ok() {}
    }

    /// Waits for the `env-updated` event whose `ConfigMap` diff shows `wanted`.
    fn wait_for_diff(&self, wanted: &str) -> Result<Value, String> {
        let started = Instant::now();
        while let Some(left) = GIVE_UP_AFTER.checked_sub(started.elapsed()) {
            let Ok(detail) = self.updates.recv_timeout(left) else { break };
            let shown = detail["resources"].as_array().into_iter().flatten().any(|r| {
                r["groupKind"] == "ConfigMap"
                    && r["diff"].as_str().is_some_and(|d| d.contains(wanted))
            });
            if shown {
                return Ok(detail);
            }
        }
        Err(format!("no env-updated event showed `{wanted}` within {GIVE_UP_AFTER:?}"))
    }
}

fn by_verb(calls: Vec<(Verb, String)>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (verb, _) in calls {
        if verb == Verb::Resolve {
            continue;
        }
        let name = verb.as_str();
        *counts.entry(name).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(verb, n)| format!("{verb} {n}")).collect();
    format!("{} ({})", counts.values().sum::<usize>(), parts.join(", "))
}

fn millis(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
}

fn run() -> Result<(), String> {
    let count = object_count()?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("no async runtime: {e}"))?;
    let _entered = runtime.enter();
    let namespace = format!("coxswain-file-save-{}", std::process::id());
    let backend = backend(&runtime, &namespace)?;
    let recording = Arc::new(Recording::new(backend.cluster.clone()));
    let repo = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let env_dir = write_repo(repo.path(), &namespace, count)?;
    eprintln!("{count} objects against the {}", backend.name);

    let app = App::new(recording.clone())?;
    app.invoke("open_repo", json!({"path": repo.path()}))?;
    app.sync()?;
    // The sync's own writes come back through the cluster watches as one more re-plan.
    app.settle(Duration::from_secs(3));

    let file = env_dir.join("objects-000.yaml");
    let original =
        std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    if !original.contains(manifests::FIRST_CONFIG_SETTING) {
        return Err(format!("{} lacks `{}`", file.display(), manifests::FIRST_CONFIG_SETTING));
    }
    let mut times = Vec::with_capacity(SAVES);
    let mut requests = String::new();
    for save in 0..SAVES {
        let setting = format!("LOG_LEVEL: debug-{save}");
        let text = original.replacen(manifests::FIRST_CONFIG_SETTING, &setting, 1);
        recording.reset();
        let started = Instant::now();
        std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        let detail = app.wait_for_diff(&setting)?;
        times.push(started.elapsed());
        requests = by_verb(recording.take());
        let updates = detail["overview"]["counts"]["update"].as_u64();
        if updates != Some(1) {
            return Err(format!("save {save}: the plan shows {updates:?} updates, wanted 1"));
        }
        app.settle(Duration::from_millis(300));
    }
    times.sort();
    let median = times[times.len() / 2];
    println!("\nfile save → env-updated with the new diff, {count} objects, {}", backend.name);
    println!(
        "  median {} over {SAVES} saves (fastest {}, slowest {})",
        millis(median),
        millis(times[0]),
        millis(times[times.len() - 1])
    );
    println!("  requests per re-plan (last save): {requests}");
    println!("  goal ≤ {}: {}", millis(GOAL), if median <= GOAL { "met" } else { "NOT met" });
    if let (Some(kubectl), Some(test_env)) =
        (std::env::var_os("COXSWAIN_BENCH_KUBECTL"), backend.test_env.as_ref())
    {
        let kubectl_time =
            kubectl_diff(Path::new(&kubectl), &test_env.kubeconfig, &namespace, &env_dir)?;
        println!(
            "  kubectl diff --server-side of the env's folder, same server: {} ({:.1}× the app)",
            millis(kubectl_time),
            kubectl_time.as_secs_f64() / median.as_secs_f64()
        );
    }
    if let Some(test_env) = &backend.test_env {
        runtime.block_on(test_env.delete_namespace(&namespace));
    }
    Ok(())
}

/// What a kubectl user runs after saving: `kubectl diff --server-side` of the env's manifests
/// (median of 3; exit 1 means "differences", as the last save left one).
fn kubectl_diff(
    kubectl: &Path,
    kubeconfig: &Path,
    namespace: &str,
    dir: &Path,
) -> Result<Duration, String> {
    let manifests = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.file_name().is_some_and(|n| n != "env.yaml") {
            let target = manifests.path().join(path.file_name().unwrap_or_default());
            std::fs::copy(&path, target).map_err(|e| e.to_string())?;
        }
    }
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let output = std::process::Command::new(kubectl)
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .args(["diff", "--server-side", "--force-conflicts", "-n", namespace, "-f"])
            .arg(manifests.path())
            .output()
            .map_err(|e| format!("running {}: {e}", kubectl.display()))?;
        times.push(started.elapsed());
        if !matches!(output.status.code(), Some(0 | 1)) {
            return Err(format!(
                "kubectl diff: {}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    times.sort();
    Ok(times[1])
}
