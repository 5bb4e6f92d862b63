//! Rollouts against a real API server (issue 15), gated on `KUBEBUILDER_ASSETS` like the other
//! envtest tests: without a server it prints why and passes as skipped. A bare kube-apiserver
//! has no controller-manager or kubelet, so this asserts objects — replicas, images, selectors,
//! annotations, the state — never pods; a [`RolloutController`] marks Deployments rolled out
//! through the status subresource as the deployment controller would.

#[path = "support/envtest.rs"]
mod envtest;
mod support;

use coxswain::cluster::recording::Recording;
use coxswain::cluster::{Cluster, Gvk};
use coxswain::engine::{Connector, Engine, Followed, RolloutRequest, SyncOutcome, SyncRequest};
use coxswain::rollout::{Action, Colour, Phase};
use coxswain::sync::{Silent, SyncStatus};
use envtest::{RolloutController, TestEnv};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use support::rollouts::{git_repo, set_image, workload};

struct Ctx {
    cluster: Arc<Recording>,
    namespace: String,
}

impl Ctx {
    fn engine(&self, root: &Path) -> Engine {
        let cluster: Arc<dyn Cluster> = self.cluster.clone();
        let connector: Connector = Arc::new(move |_context| {
            let cluster = cluster.clone();
            Box::pin(async move { Ok(cluster) })
        });
        Engine::open(root, connector).expect("open").with_holder("envtest@host".into())
    }

    async fn deployment(&self, name: &str) -> Option<Value> {
        let resource =
            self.cluster.resolve(&Gvk::from_api_version("apps/v1", "Deployment")).await.ok()?;
        self.cluster.get(&resource, Some(&self.namespace), name).await.ok()?
    }

    async fn selector(&self, service: &str) -> Value {
        let resource =
            self.cluster.resolve(&Gvk::from_api_version("v1", "Service")).await.expect("resolve");
        let live = self.cluster.get(&resource, Some(&self.namespace), service).await.expect("get");
        live.and_then(|s| s.pointer("/spec/selector").cloned()).unwrap_or(Value::Null)
    }
}

fn replicas_and_image(deployment: &Value) -> (u64, String) {
    let replicas = deployment.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(0);
    let image =
        deployment.pointer("/spec/template/spec/containers/0/image").and_then(Value::as_str);
    (replicas, image.unwrap_or_default().to_owned())
}

async fn sync(engine: &Engine, env: &str) -> SyncStatus {
    let request = SyncRequest { timeout: Duration::from_mins(1), ..SyncRequest::default() };
    match engine.sync(env, &request, &Silent).await.expect("sync") {
        SyncOutcome::Finished { report, .. } => {
            assert!(report.error.is_none(), "sync of {env} failed: {:?}", report.error);
            report.status
        }
        SyncOutcome::Offline { reason, .. } => panic!("offline: {reason}"),
    }
}

/// Follows the steps (the controller marks the canary ready in its own time) until a pause.
async fn follow(engine: &Engine, env: &str) -> Followed {
    let request = RolloutRequest {
        timeout: Duration::from_mins(1),
        poll_interval: Duration::from_millis(200),
        ..RolloutRequest::default()
    };
    engine.follow_rollouts(env, &request, &|_| {}).await.expect("follow")
}

#[tokio::test]
async fn rollouts_against_real_api_server() {
    let env = match TestEnv::start().await {
        Ok(Some(env)) => env,
        Ok(None) => return,
        Err(error) => panic!("could not start or reach the test API server: {error}"),
    };
    let config = env.config().await.expect("config");
    let client = kube::Client::try_from(config.clone()).expect("client");
    let kube = coxswain::cluster::kube_api::KubeCluster::from_config(config).expect("cluster");
    let cluster = Arc::new(Recording::new(Arc::new(kube)));
    // One namespace per environment (one namespace, one env).
    for (scenario, name) in
        [("canary", "cxe-canary"), ("blue-green", "cxe-blue-green"), ("nginx", "cxe-nginx")]
    {
        let namespace = format!("{name}-{}", std::process::id());
        let ctx = Ctx { cluster: cluster.clone(), namespace: namespace.clone() };
        let _controller = RolloutController::start(client.clone(), &namespace);
        match scenario {
            "canary" => Box::pin(canary(&ctx)).await,
            "blue-green" => Box::pin(blue_green(&ctx)).await,
            _ => Box::pin(nginx(&ctx)).await,
        }
        env.delete_namespace(&namespace).await;
        eprintln!("ok: {scenario}");
    }
}

async fn canary(ctx: &Ctx) {
    let env_yaml = format!(
        "namespace: {}\nrollouts:\n  web:\n    canary:\n      steps:\n        - {{weight: 25, pause: manual}}\n        - {{weight: 50, pause: manual}}\n        - {{weight: 100}}\n",
        ctx.namespace
    );
    let repo = git_repo(&[
        ("environments/canary/env.yaml", env_yaml),
        ("environments/canary/web.yaml", workload("web", 4, "registry.example/web:1.0.0")),
    ]);
    let root = repo.path();
    assert_eq!(sync(&ctx.engine(root), "canary").await, SyncStatus::Synced);

    set_image(root, "canary", "web.yaml", "registry.example/web:2.0.0");
    sync(&ctx.engine(root), "canary").await;
    let followed = follow(&ctx.engine(root), "canary").await;
    assert!(matches!(followed, Followed::Paused(_)), "{followed:?}");
    let canary = ctx.deployment("web-canary").await.expect("canary");
    assert_eq!(replicas_and_image(&canary), (1, "registry.example/web:2.0.0".into()));
    let stable = ctx.deployment("web").await.expect("web");
    assert_eq!(replicas_and_image(&stable), (3, "registry.example/web:1.0.0".into()));
    let selector = ctx.selector("web").await;
    let labels = canary.pointer("/spec/template/metadata/labels").cloned().unwrap_or_default();
    assert!(
        selector.as_object().is_some_and(|s| s.iter().all(|(k, v)| labels.get(k) == Some(v))),
        "{selector} vs {labels}"
    );
    assert_eq!(
        canary.pointer("/metadata/annotations/coxswain.dev~1template-hash").map(Value::is_string),
        Some(true)
    );

    // A person's pause survives a sync: the canary stays paused, its step and split unchanged.
    let engine = ctx.engine(root);
    let now = engine
        .rollout("canary", "web", Action::Pause, &RolloutRequest::default())
        .await
        .expect("pause");
    assert!(now.paused);
    assert_eq!(sync(&ctx.engine(root), "canary").await, SyncStatus::NoChanges);
    let now = engine.rollout_status("canary", "web", None).await.expect("status");
    assert_eq!((now.paused, now.step), (true, Some(1)), "the sync lifted the pause");
    let canary = ctx.deployment("web-canary").await.expect("canary");
    assert_eq!(canary.pointer("/spec/paused"), Some(&json!(true)));
    assert_eq!(replicas_and_image(&canary).0, 1);
    assert_eq!(replicas_and_image(&ctx.deployment("web").await.expect("web")).0, 3);

    let now = engine
        .rollout("canary", "web", Action::Resume, &RolloutRequest::default())
        .await
        .expect("resume");
    assert_eq!(now.weight, Some(50));
    follow(&engine, "canary").await;
    let canary = ctx.deployment("web-canary").await.expect("canary");
    assert_eq!(replicas_and_image(&canary).0, 2);

    // The abort's preview, against the real server: server-side dry runs, nothing written.
    let preview = engine
        .preview_rollout("canary", "web", Action::Abort, &RolloutRequest::default())
        .await
        .expect("abort preview");
    let changed: Vec<(&str, &str)> =
        preview.changes.iter().map(|c| (c.key.name.as_str(), c.action.as_str())).collect();
    assert_eq!(changed, [("web", "update"), ("web-canary", "prune")]);
    assert!(preview.changes[0].diff.contains("+  replicas: 4"), "{}", preview.changes[0].diff);
    assert_eq!(replicas_and_image(&ctx.deployment("web").await.expect("web")).0, 2);
    assert!(ctx.deployment("web-canary").await.is_some(), "the preview deleted the canary");

    let now = engine
        .rollout("canary", "web", Action::Abort, &RolloutRequest::default())
        .await
        .expect("abort");
    assert_eq!(now.phase, Some(Phase::Aborted));
    let stable = ctx.deployment("web").await.expect("web");
    assert_eq!(replicas_and_image(&stable), (4, "registry.example/web:1.0.0".into()));
    assert!(ctx.deployment("web-canary").await.is_none(), "abort deletes the canary");
    sync(&ctx.engine(root), "canary").await;
    assert!(
        ctx.deployment("web-canary").await.is_none(),
        "a sync after abort restarted the canary"
    );

    set_image(root, "canary", "web.yaml", "registry.example/web:3.0.0");
    sync(&ctx.engine(root), "canary").await;
    let engine = ctx.engine(root);
    follow(&engine, "canary").await;
    let now = engine
        .rollout("canary", "web", Action::Promote, &RolloutRequest::default())
        .await
        .expect("promote");
    // Stable rolls out the new template; the canary stays until the controller says it is done.
    let stable = ctx.deployment("web").await.expect("web");
    assert_eq!(replicas_and_image(&stable), (4, "registry.example/web:3.0.0".into()));
    if now.phase == Some(Phase::Progressing) {
        assert!(ctx.deployment("web-canary").await.is_some(), "the canary went too early");
    }
    let followed = follow(&engine, "canary").await;
    assert!(matches!(followed, Followed::Settled(_)), "{followed:?}");
    assert_eq!(followed.statuses()[0].phase, Some(Phase::Completed));
    assert!(ctx.deployment("web-canary").await.is_none(), "promotion deletes the canary");
    assert_eq!(sync(&ctx.engine(root), "canary").await, SyncStatus::NoChanges);
}

async fn blue_green(ctx: &Ctx) {
    let env_yaml = format!(
        "namespace: {}\nrollouts:\n  api:\n    blueGreen:\n      activeService: api\n      scaleDownDelay: 10m\n",
        ctx.namespace
    );
    let repo = git_repo(&[
        ("environments/bluegreen/env.yaml", env_yaml),
        ("environments/bluegreen/api.yaml", workload("api", 2, "registry.example/api:1.0.0")),
    ]);
    let root = repo.path();
    sync(&ctx.engine(root), "bluegreen").await;
    assert_eq!(ctx.selector("api").await, json!({"app": "api", "coxswain.dev/color": "blue"}));

    set_image(root, "bluegreen", "api.yaml", "registry.example/api:2.0.0");
    sync(&ctx.engine(root), "bluegreen").await;
    let followed = follow(&ctx.engine(root), "bluegreen").await;
    assert!(matches!(followed, Followed::Settled(_)), "{followed:?}");
    assert_eq!(followed.statuses()[0].active_color, Some(Colour::Green));
    assert_eq!(ctx.selector("api").await, json!({"app": "api", "coxswain.dev/color": "green"}));
    assert_eq!(
        ctx.selector("api-preview").await,
        json!({"app": "api", "coxswain.dev/color": "green"})
    );
    let green = ctx.deployment("api-green").await.expect("green");
    assert_eq!(replicas_and_image(&green), (2, "registry.example/api:2.0.0".into()));

    let spec =
        async |name: &str| ctx.deployment(name).await.and_then(|d| d.pointer("/spec").cloned());
    let specs = (spec("api-blue").await, spec("api-green").await);
    ctx.cluster.reset();
    let engine = ctx.engine(root);
    let now = engine
        .rollout("bluegreen", "api", Action::Undo, &RolloutRequest::default())
        .await
        .expect("undo");
    assert_eq!(now.active_color, Some(Colour::Blue));
    // One write moves traffic; the state annotation on api-blue changes no spec.
    let writes: Vec<String> = ctx.cluster.writes().into_iter().map(|(_, target)| target).collect();
    let of =
        |kind: &str| writes.iter().filter(|t| t.starts_with(kind)).cloned().collect::<Vec<_>>();
    assert_eq!(of("Service "), vec![format!("Service {}/api", ctx.namespace)], "{writes:?}");
    assert_eq!(of("Deployment.apps "), vec![format!("Deployment.apps {}/api-blue", ctx.namespace)]);
    assert_eq!((spec("api-blue").await, spec("api-green").await), specs);
    assert_eq!(ctx.selector("api").await, json!({"app": "api", "coxswain.dev/color": "blue"}));
    // The sync after the undo has nothing to change and switches nothing.
    assert_eq!(sync(&ctx.engine(root), "bluegreen").await, SyncStatus::NoChanges);
    assert_eq!(ctx.selector("api").await, json!({"app": "api", "coxswain.dev/color": "blue"}));

    // The strategy leaves env.yaml: git's Deployment runs under its own name, the Service
    // selects it, and the colours and the preview Service go.
    let env_yaml = format!("namespace: {}\n", ctx.namespace);
    std::fs::write(root.join("environments/bluegreen/env.yaml"), env_yaml).expect("write");
    assert_eq!(sync(&ctx.engine(root), "bluegreen").await, SyncStatus::Synced);
    assert!(ctx.deployment("api").await.is_some());
    assert_eq!(ctx.selector("api").await, json!({"app": "api"}));
    for gone in ["api-blue", "api-green"] {
        assert!(ctx.deployment(gone).await.is_none(), "{gone} stayed");
    }
    assert_eq!(ctx.selector("api-preview").await, Value::Null, "the preview Service stayed");
    assert_eq!(sync(&ctx.engine(root), "bluegreen").await, SyncStatus::NoChanges);
}

/// A canary through an NGINX Ingress: exact weights on a canary Ingress, removed by abort;
/// then the strategy leaves env.yaml mid-rollout and the next sync removes the canary objects.
async fn nginx(ctx: &Ctx) {
    let env_yaml = "namespace: shop\nrollouts:\n  web:\n    canary:\n      steps:\n        - {weight: 25, pause: manual}\n        - {weight: 50, pause: manual}\n        - {weight: 100}\n";
    let repo = support::rollouts::nginx_repo(&ctx.namespace, env_yaml);
    let root = repo.path();
    assert_eq!(sync(&ctx.engine(root), "edge").await, SyncStatus::Synced);
    set_image(root, "edge", "web.yaml", "registry.example/web:2.0.0");
    sync(&ctx.engine(root), "edge").await;
    let followed = follow(&ctx.engine(root), "edge").await;
    assert!(matches!(followed, Followed::Paused(_)), "{followed:?}");
    let weight = async || {
        let resource = ctx
            .cluster
            .resolve(&Gvk::from_api_version("networking.k8s.io/v1", "Ingress"))
            .await
            .expect("resolve");
        let live = ctx.cluster.get(&resource, Some(&ctx.namespace), "web-canary").await;
        live.expect("get").map(|i| {
            let annotations = i.pointer("/metadata/annotations").cloned().unwrap_or_default();
            (
                annotations["nginx.ingress.kubernetes.io/canary"].clone(),
                annotations["nginx.ingress.kubernetes.io/canary-weight"].clone(),
            )
        })
    };
    assert_eq!(weight().await, Some((json!("true"), json!("25"))));
    let canary = ctx.deployment("web-canary").await.expect("canary");
    assert_eq!(replicas_and_image(&canary), (1, "registry.example/web:2.0.0".into()));
    assert_eq!(replicas_and_image(&ctx.deployment("web").await.expect("web")).0, 4);
    assert_eq!(
        ctx.selector("web-canary").await,
        json!({"coxswain.dev/rollout": "web", "coxswain.dev/track": "canary"})
    );

    let engine = ctx.engine(root);
    engine
        .rollout("edge", "web", Action::Resume, &RolloutRequest::default())
        .await
        .expect("resume");
    follow(&engine, "edge").await;
    assert_eq!(weight().await, Some((json!("true"), json!("50"))));
    engine.rollout("edge", "web", Action::Abort, &RolloutRequest::default()).await.expect("abort");
    assert_eq!(weight().await, None, "abort removes the canary Ingress");
    assert_eq!(ctx.selector("web-canary").await, Value::Null, "abort removes the canary Service");
    assert!(ctx.deployment("web-canary").await.is_none());

    // Again, and the strategy leaves env.yaml mid-rollout: the sync applies git's template to
    // stable and removes the canary objects and the rollout state.
    set_image(root, "edge", "web.yaml", "registry.example/web:3.0.0");
    sync(&ctx.engine(root), "edge").await;
    follow(&ctx.engine(root), "edge").await;
    assert_eq!(weight().await, Some((json!("true"), json!("25"))));
    let env_yaml = format!("namespace: {}\n", ctx.namespace);
    std::fs::write(root.join("environments/edge/env.yaml"), env_yaml).expect("write");
    assert_eq!(sync(&ctx.engine(root), "edge").await, SyncStatus::Synced);
    assert_eq!(weight().await, None);
    assert_eq!(ctx.selector("web-canary").await, Value::Null);
    assert!(ctx.deployment("web-canary").await.is_none());
    let stable = ctx.deployment("web").await.expect("web");
    assert_eq!(replicas_and_image(&stable), (4, "registry.example/web:3.0.0".into()));
    assert_eq!(stable.pointer("/metadata/annotations/coxswain.dev~1rollout-state"), None);
    assert_eq!(sync(&ctx.engine(root), "edge").await, SyncStatus::NoChanges);
}
