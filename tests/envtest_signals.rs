//! The CLI as users run it — a process — against a real API server (gated like every envtest
//! test on `KUBEBUILDER_ASSETS` or `COXSWAIN_TEST_KUBECONFIG`): Ctrl-C in the middle of a sync
//! stops it, records what it applied as an `interrupted` revision and releases the lease.

#[path = "support/envtest.rs"]
mod envtest;
mod support;

use coxswain::cluster::{Cluster, Gvk};
use coxswain::history::{self, Outcome};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn sigint_mid_sync_records_an_interrupted_revision_and_releases_the_lease() {
    let test_env = match envtest::TestEnv::start().await {
        Ok(Some(env)) => env,
        Ok(None) => return,
        Err(error) => panic!("could not start or reach the test API server: {error}"),
    };
    let namespace = format!("cxs-sigint-{}", std::process::id());
    let repo = tempfile::tempdir().expect("temp dir");
    let env_dir = repo.path().join("environments/dev");
    std::fs::create_dir_all(&env_dir).expect("env dir");
    std::fs::write(env_dir.join("env.yaml"), format!("namespace: {namespace}\n")).expect("env");
    std::fs::write(
        env_dir.join("config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n",
    )
    .expect("config");
    // No controller-manager runs here: the Deployment never becomes available, so the sync is
    // still waiting for its health when the signal comes.
    let manifest = support::deployment("web", "registry.example/web:1.0.0", 1, &[]).replace(
        "          resources:",
        "          readinessProbe: {httpGet: {path: /ready, port: 8080}}\n          resources:",
    );
    std::fs::write(env_dir.join("web.yaml"), manifest).expect("deployment");

    let mut sync = Command::new(env!("CARGO_BIN_EXE_coxswain"))
        .args(["sync", "--env", "dev", "--yes", "--timeout", "5m", "--repo"])
        .arg(repo.path())
        .env("KUBECONFIG", &test_env.kubeconfig)
        .env("COXSWAIN_HOLDER", "sigint-test")
        .env_remove("COXSWAIN_CLUSTER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start coxswain");

    let cluster: Arc<dyn Cluster> = Arc::new(test_env.cluster().await.expect("client"));
    let deployments =
        cluster.resolve(&Gvk::from_api_version("apps/v1", "Deployment")).await.expect("resolve");
    let started = Instant::now();
    loop {
        if let Ok(Some(_)) = cluster.get(&deployments, Some(&namespace), "web").await {
            break;
        }
        if let Ok(Some(status)) = sync.try_wait() {
            let output = sync.wait_with_output().expect("output");
            panic!(
                "the sync ended ({status}) before applying the Deployment:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(started.elapsed() < Duration::from_mins(2), "the Deployment was never applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let signalled = Instant::now();
    let kill = Command::new("kill").args(["-INT", &sync.id().to_string()]).status();
    assert!(kill.is_ok_and(|s| s.success()), "could not send SIGINT");
    let output = tokio::task::spawn_blocking(move || sync.wait_with_output())
        .await
        .expect("join")
        .expect("wait for coxswain");
    let stopped_after = signalled.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("the sync stopped {stopped_after:?} after SIGINT");

    let result = async {
        if output.status.code() != Some(130) {
            return Err(format!("exit {:?}, expected 130:\n{text}", output.status.code()));
        }
        let revisions = history::list(cluster.as_ref(), "dev", &namespace)
            .await
            .map_err(|e| format!("history: {e}"))?;
        let Some((newest, _)) = revisions.first() else {
            return Err(format!("no revision was recorded:\n{text}"));
        };
        if newest.outcome != Outcome::Interrupted {
            return Err(format!("the revision is {:?}, expected interrupted", newest.outcome));
        }
        for object in ["ConfigMap", "Deployment"] {
            if !newest.applied.iter().any(|a| a.contains(object)) {
                return Err(format!("the revision does not list the {object}: {newest:?}"));
            }
        }
        let leases = cluster
            .resolve(&Gvk::from_api_version("coordination.k8s.io/v1", "Lease"))
            .await
            .map_err(|e| e.to_string())?;
        let lease = cluster
            .get(&leases, Some(&namespace), "coxswain-sync")
            .await
            .map_err(|e| e.to_string())?;
        let holder = lease.as_ref().and_then(|l| l.pointer("/spec/holderIdentity")).cloned();
        if holder.is_some() {
            return Err(format!("the lease is still held: {holder:?}"));
        }
        Ok(())
    }
    .await;
    test_env.delete_namespace(&namespace).await;
    if let Err(error) = result {
        panic!("{error}");
    }
}
