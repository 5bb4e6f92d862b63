//! Fast rollout failure against a real API server (issue #14, item 3): a sync whose Deployment's
//! new pods crash-loop fails on the first health polls, naming pod, container, reason and
//! restarts, instead of waiting out its five-minute timeout. See `support/envtest.rs` for how
//! the server is found or started; without one this test prints why and passes as skipped.
//!
//! A bare kube-apiserver runs no controller-manager and no kubelet, so the test plays both: once
//! the sync has created the Deployment, it creates the `ReplicaSet` the deployment controller would
//! (owned by the Deployment, its template plus `pod-template-hash`) and a Pod owned by it, and
//! writes the Pod's status through the `status` subresource as a kubelet reports a crash loop.

#[path = "support/envtest.rs"]
mod envtest;
mod support;

use coxswain::cluster::Cluster;
use coxswain::cluster::recording::{Recording, Verb};
use coxswain::engine::failure_exit_code;
use coxswain::exit::ExitCode;
use coxswain::sync::{FailureKind, Silent, SyncOptions, SyncStatus, sync_env};
use envtest::TestEnv;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use support::{deployment, env_from};

const HASH: &str = "5f7c8d9b4";
const POD: &str = "web-5f7c8d9b4-x2k4q";

#[tokio::test]
async fn a_crash_looping_pod_fails_the_sync_without_waiting_for_the_timeout() {
    let env = match TestEnv::start().await {
        Ok(Some(env)) => env,
        Ok(None) => return,
        Err(error) => panic!("could not start or reach the test API server: {error}"),
    };
    let config = env.config().await.expect("kubeconfig");
    let client = kube::Client::try_from(config).expect("client");
    let namespace = format!("cxh-crashloop-{}", std::process::id());
    let environment = env_from(
        "dev",
        Some(&format!("namespace: {namespace}\n")),
        &[("web.yaml", &deployment("web", "registry.example/web:1.0.0", 1, &[]))],
    );
    let recording = Arc::new(Recording::new(Arc::new(env.cluster().await.expect("cluster"))));
    let controllers = tokio::spawn(crash_loop_once_created(client, namespace.clone()));
    let options = SyncOptions {
        timeout: Duration::from_mins(5),
        poll_interval: Duration::from_millis(200),
        holder: "envtest".into(),
        message: "envtest".into(),
        ..SyncOptions::default()
    };
    let cluster: Arc<dyn Cluster> = recording.clone();
    let started = std::time::Instant::now();
    let report = sync_env(cluster, &environment, &options, &Silent).await;
    // Printed for the record, not asserted (a loaded machine is slow; the reason is the proof).
    eprintln!("sync ended after {:?} of its {:?} timeout", started.elapsed(), options.timeout);
    controllers.abort();
    let stood_in = controllers.await.ok().and_then(Result::ok);
    env.delete_namespace(&namespace).await;

    let error = report.error.as_ref().map(ToString::to_string).unwrap_or_default();
    eprintln!("sync error: {error}");
    assert_eq!(report.status, SyncStatus::Unhealthy, "{error} (controllers: {stood_in:?})");
    assert_eq!(report.failure_kind(), Some(FailureKind::Health));
    assert_eq!(failure_exit_code(FailureKind::Health), ExitCode::GateFailed);
    assert!(
        error
            .starts_with("rollout failed: 1 of 1 not healthy: 1 CrashLoopBackOff (Deployment/web)"),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "pod {POD} container server: CrashLoopBackOff, 7 restarts: back-off 5m0s"
        )),
        "{error}"
    );
    // The log was asked for once (this server has no kubelet to serve it: best effort, and the
    // sync's outcome does not depend on it).
    assert_eq!(recording.count(Verb::Log), 1, "{}", recording.summary());
}

/// Plays the deployment controller and the kubelet for Deployment `web` in `namespace`: waits
/// for it to exist, then creates its `ReplicaSet` and a crash-looping Pod. Returns the pod's
/// status as stored.
async fn crash_loop_once_created(client: kube::Client, namespace: String) -> Result<Value, String> {
    let deployments = format!("/apis/apps/v1/namespaces/{namespace}/deployments");
    let deployment = loop {
        if let Ok(found) =
            send(&client, http::Method::GET, &format!("{deployments}/web"), None).await
        {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let owner = |object: &Value| {
        json!([{
            "apiVersion": object["apiVersion"], "kind": object["kind"],
            "name": object["metadata"]["name"], "uid": object["metadata"]["uid"],
            "controller": true, "blockOwnerDeletion": true,
        }])
    };
    let labels = json!({"app": "web", "pod-template-hash": HASH});
    let mut template = deployment["spec"]["template"].clone();
    template["metadata"]["labels"] = labels.clone();
    let replica_set = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": format!("web-{HASH}"), "labels": labels, "ownerReferences": owner(&deployment),
            "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": template},
    });
    let replica_set = send(
        &client,
        http::Method::POST,
        &format!("/apis/apps/v1/namespaces/{namespace}/replicasets"),
        Some(replica_set),
    )
    .await?;
    let pods = format!("/api/v1/namespaces/{namespace}/pods");
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": POD, "labels": labels, "ownerReferences": owner(&replica_set)},
        "spec": template["spec"],
    });
    send(&client, http::Method::POST, &pods, Some(pod)).await?;
    let now = "2026-11-30T20:00:00Z";
    let status = json!({"status": {
        "phase": "Running",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": now},
        ],
        "containerStatuses": [{
            "name": "server", "image": "registry.example/web:1.0.0", "imageID": "", "ready": false,
            "restartCount": 7, "started": false,
            "state": {"waiting": {"reason": "CrashLoopBackOff",
                "message": format!("back-off 5m0s restarting failed container=server pod={POD}_{namespace}")}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}},
        }],
    }});
    let stored =
        send(&client, http::Method::PATCH, &format!("{pods}/{POD}/status"), Some(status)).await?;
    Ok(stored["status"].clone())
}

async fn send(
    client: &kube::Client,
    method: http::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let content_type = if method == http::Method::PATCH {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    let body = body.map(|b| serde_json::to_vec(&b)).transpose().map_err(|e| e.to_string())?;
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body.unwrap_or_default())
        .map_err(|e| e.to_string())?;
    client.request::<Value>(request).await.map_err(|e| format!("{path}: {e}"))
}
