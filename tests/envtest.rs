//! The real adapter against a real API server (see `support/envtest.rs` for how one is found
//! or started; without one this test prints why and passes as skipped).
//!
//! One control plane serves every scenario, each in its own namespace; the scenarios run in
//! order and all failures are reported together.

#[path = "support/envtest.rs"]
mod envtest;

use coxswain::cluster::kube_api::KubeCluster;
use coxswain::cluster::{ApplyOptions, Cluster, ClusterError, FieldConflict, Gvk, ObjectKey};
use coxswain::cluster::{Preconditions, ResourceType, WatchEvent};
use envtest::TestEnv;
use futures::StreamExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::time::Duration;

type Outcome = Result<(), String>;
type Scenario = for<'a> fn(&'a Ctx) -> BoxFuture<'a, Outcome>;

struct Ctx {
    cluster: KubeCluster,
    /// The admin configuration, for scenarios that connect as someone else.
    config: kube::Config,
    namespace: String,
}

/// Guards against a scenario that hangs (a watch that never delivers); not a speed check.
const SCENARIO_LIMIT: Duration = Duration::from_mins(2);

#[tokio::test]
async fn real_api_server() {
    let env = match TestEnv::start().await {
        Ok(Some(env)) => env,
        Ok(None) => return,
        Err(error) => panic!("could not start or reach the test API server: {error}"),
    };
    let scenarios: [(&str, Scenario); 12] = [
        ("resolve", |ctx| Box::pin(resolve(ctx))),
        ("apply-get-list", |ctx| Box::pin(apply_get_list(ctx))),
        ("apply-defaults", |ctx| Box::pin(apply_defaults(ctx))),
        ("conflict", |ctx| Box::pin(conflict(ctx))),
        ("already-exists", |ctx| Box::pin(already_exists(ctx))),
        ("replace-stale", |ctx| Box::pin(replace_stale(ctx))),
        ("delete", |ctx| Box::pin(delete(ctx))),
        ("delete-preconditions", |ctx| Box::pin(delete_preconditions(ctx))),
        ("watch", |ctx| Box::pin(watch(ctx))),
        ("invalid", |ctx| Box::pin(invalid(ctx))),
        ("forbidden", |ctx| Box::pin(forbidden(ctx))),
        ("unauthorized", |ctx| Box::pin(unauthorized(ctx))),
    ];
    let mut failures = Vec::new();
    for (name, scenario) in scenarios {
        let outcome = run(&env, name, scenario).await;
        match outcome {
            Ok(()) => eprintln!("ok: {name}"),
            Err(error) => {
                eprintln!("FAILED: {name}: {error}");
                failures.push(format!("{name}: {error}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        scenarios.len(),
        failures.join("\n")
    );
}

async fn run(env: &TestEnv, name: &str, scenario: Scenario) -> Outcome {
    let namespace = env.create_namespace(&format!("cx-{name}")).await?;
    let config = env.config().await?;
    let cluster = KubeCluster::from_config(config.clone()).map_err(|e| e.to_string())?;
    let ctx = Ctx { cluster, config, namespace };
    let outcome = match tokio::time::timeout(SCENARIO_LIMIT, scenario(&ctx)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("did not finish within {SCENARIO_LIMIT:?}")),
    };
    env.delete_namespace(&ctx.namespace).await;
    outcome
}

macro_rules! ensure_eq {
    ($left:expr, $right:expr, $what:expr) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!("{}: expected {:?}, got {:?}", $what, right, left));
        }
    }};
}

fn ensure(condition: bool, what: impl FnOnce() -> String) -> Outcome {
    if condition { Ok(()) } else { Err(what()) }
}

fn configmaps() -> ResourceType {
    ResourceType {
        gvk: Gvk::from_api_version("v1", "ConfigMap"),
        plural: "configmaps".into(),
        namespaced: true,
    }
}

fn deployments() -> ResourceType {
    ResourceType {
        gvk: Gvk::from_api_version("apps/v1", "Deployment"),
        plural: "deployments".into(),
        namespaced: true,
    }
}

fn configmap(namespace: &str, name: &str, app: &str, data: &Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
        "data": data,
    })
}

fn deployment(namespace: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "iris", "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "iris"}},
            "template": {
                "metadata": {"labels": {"app": "iris"}},
                "spec": {"containers": [{"name": "server", "image": "example.invalid/iris:1"}]}
            }
        }
    })
}

fn apply_as(manager: &str, force: bool, dry_run: bool) -> ApplyOptions {
    ApplyOptions { field_manager: manager.to_owned(), force, dry_run }
}

fn text(error: &ClusterError) -> String {
    format!("{error} ({error:?})")
}

fn name_of(object: &Value) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

async fn resolve(ctx: &Ctx) -> Outcome {
    let cluster = &ctx.cluster;
    let resolved = cluster.resolve(&Gvk::from_api_version("v1", "ConfigMap")).await;
    ensure_eq!(resolved.map_err(|e| text(&e))?, configmaps(), "ConfigMap");
    let resolved = cluster.resolve(&Gvk::from_api_version("apps/v1", "Deployment")).await;
    ensure_eq!(resolved.map_err(|e| text(&e))?, deployments(), "Deployment");
    let cluster_role = Gvk::from_api_version("rbac.authorization.k8s.io/v1", "ClusterRole");
    let resolved = cluster.resolve(&cluster_role).await.map_err(|e| text(&e))?;
    ensure_eq!(
        (resolved.plural.as_str(), resolved.namespaced),
        ("clusterroles", false),
        "ClusterRole"
    );
    for unknown in [
        Gvk::from_api_version("apps/v1", "Widget"),
        Gvk::from_api_version("example.com/v1", "Widget"),
    ] {
        match cluster.resolve(&unknown).await {
            Err(ClusterError::UnknownKind { gvk }) => ensure_eq!(gvk, unknown.to_string(), "gvk"),
            other => return Err(format!("{unknown}: expected UnknownKind, got {other:?}")),
        }
    }
    Ok(())
}

async fn apply_get_list(ctx: &Ctx) -> Outcome {
    let (cluster, ns) = (&ctx.cluster, ctx.namespace.as_str());
    let object = configmap(ns, "iris-config", "iris", &json!({"model": "v1"}));
    let coxswain = ApplyOptions::coxswain(false, false);

    let dry = cluster.apply(&configmaps(), &object, &ApplyOptions::coxswain(false, true)).await;
    let dry = dry.map_err(|e| text(&e))?;
    ensure_eq!(dry["data"], json!({"model": "v1"}), "dry-run result data");
    let after_dry = cluster.get(&configmaps(), Some(ns), "iris-config").await;
    ensure(after_dry.map_err(|e| text(&e))?.is_none(), || "dry run persisted the object".into())?;

    let applied = cluster.apply(&configmaps(), &object, &coxswain).await.map_err(|e| text(&e))?;
    ensure(applied.pointer("/metadata/uid").is_some(), || format!("no uid in {applied}"))?;
    let got = cluster.get(&configmaps(), Some(ns), "iris-config").await.map_err(|e| text(&e))?;
    let got = got.ok_or("applied object not found")?;
    ensure_eq!(got["data"], json!({"model": "v1"}), "stored data");
    ensure_eq!(got["kind"], json!("ConfigMap"), "kind of a GET");
    let managers = got["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    ensure(
        managers
            .iter()
            .any(|entry| entry["manager"] == "coxswain" && entry["operation"] == "Apply"),
        || format!("no Apply entry by coxswain in managedFields: {managers:?}"),
    )?;

    let other = configmap(ns, "other-config", "other", &json!({"k": "v"}));
    cluster.apply(&configmaps(), &other, &coxswain).await.map_err(|e| text(&e))?;
    let selected = cluster.list(&configmaps(), Some(ns), Some("app=iris")).await;
    let selected = selected.map_err(|e| text(&e))?;
    let names: Vec<&str> = selected.iter().map(name_of).collect();
    ensure_eq!(names, vec!["iris-config"], "names selected by app=iris");
    for item in &selected {
        ensure_eq!(
            (item["apiVersion"].clone(), item["kind"].clone()),
            (json!("v1"), json!("ConfigMap")),
            "list item type"
        );
    }
    let all = cluster.list(&configmaps(), Some(ns), None).await.map_err(|e| text(&e))?;
    let names: Vec<&str> = all.iter().map(name_of).collect();
    ensure(names.contains(&"iris-config") && names.contains(&"other-config"), || {
        format!("unselected list misses objects: {names:?}")
    })
}

async fn apply_defaults(ctx: &Ctx) -> Outcome {
    let (cluster, ns) = (&ctx.cluster, ctx.namespace.as_str());
    let applied = cluster
        .apply(&deployments(), &deployment(ns, 2), &ApplyOptions::coxswain(false, false))
        .await
        .map_err(|e| text(&e))?;
    // Defaulting proves the object went through the real apps/v1 handler.
    ensure_eq!(applied["spec"]["strategy"]["type"], json!("RollingUpdate"), "defaulted strategy");
    ensure_eq!(applied["spec"]["replicas"], json!(2), "replicas");

    let missing = format!("{ns}-absent");
    let elsewhere = deployment(&missing, 1);
    match cluster.apply(&deployments(), &elsewhere, &ApplyOptions::coxswain(false, false)).await {
        Err(ClusterError::NotFound { object }) => ensure_eq!(
            object,
            ObjectKey { group_kind: "Namespace".into(), namespace: None, name: missing.clone() },
            "missing namespace"
        ),
        other => {
            return Err(format!(
                "apply into a missing namespace: expected NotFound, got {other:?}"
            ));
        }
    }
    Ok(())
}

async fn conflict(ctx: &Ctx) -> Outcome {
    let (cluster, ns) = (&ctx.cluster, ctx.namespace.as_str());
    let theirs = configmap(ns, "shared", "iris", &json!({"x": "1"}));
    cluster
        .apply(&configmaps(), &theirs, &apply_as("other-tool", false, false))
        .await
        .map_err(|e| text(&e))?;

    let ours = configmap(ns, "shared", "iris", &json!({"x": "2"}));
    match cluster.apply(&configmaps(), &ours, &ApplyOptions::coxswain(false, false)).await {
        Err(error @ ClusterError::Conflict { .. }) => {
            ensure_eq!(
                error.to_string(),
                format!(
                    "ConfigMap {ns}/shared: conflict: Apply failed with 1 conflict [.data.x (owned \
                     by \"other-tool\")]; rerun with --force-conflicts to take ownership"
                ),
                "conflict message"
            );
            let ClusterError::Conflict { object, conflicts, .. } = error else {
                return Err("unreachable".into());
            };
            ensure_eq!(object, ObjectKey::of(&ours).ok_or("key")?, "conflict object");
            ensure_eq!(
                conflicts,
                vec![FieldConflict { field: ".data.x".into(), manager: "other-tool".into() }],
                "field conflicts"
            );
        }
        other => return Err(format!("expected Conflict, got {other:?}")),
    }

    let dry = cluster.apply(&configmaps(), &ours, &ApplyOptions::coxswain(true, true)).await;
    ensure_eq!(dry.map_err(|e| text(&e))?["data"]["x"], json!("2"), "forced dry run");
    let stored = cluster.get(&configmaps(), Some(ns), "shared").await.map_err(|e| text(&e))?;
    ensure_eq!(stored.ok_or("gone")?["data"]["x"], json!("1"), "value after forced dry run");

    cluster
        .apply(&configmaps(), &ours, &ApplyOptions::coxswain(true, false))
        .await
        .map_err(|e| text(&e))?;
    let stored = cluster.get(&configmaps(), Some(ns), "shared").await.map_err(|e| text(&e))?;
    ensure_eq!(stored.ok_or("gone")?["data"]["x"], json!("2"), "value after forced apply");
    Ok(())
}

async fn already_exists(ctx: &Ctx) -> Outcome {
    let (cluster, ns) = (&ctx.cluster, ctx.namespace.as_str());
    let object = configmap(ns, "once", "iris", &json!({}));
    let created = cluster.create(&configmaps(), &object).await.map_err(|e| text(&e))?;
    ensure_eq!(created["kind"], json!("ConfigMap"), "created kind");
    match cluster.create(&configmaps(), &object).await {
        Err(ClusterError::AlreadyExists { object: key }) => {
            ensure_eq!(key, ObjectKey::of(&object).ok_or("key")?, "existing object");
            Ok(())
        }
        other => Err(format!("second create: expected AlreadyExists, got {other:?}")),
    }
}

async fn replace_stale(ctx: &Ctx) -> Outcome {
    let (cluster, ns) = (&ctx.cluster, ctx.namespace.as_str());
    let object = configmap(ns, "lease", "iris", &json!({"holder": "a"}));
    let stale = cluster.create(&configmaps(), &object).await.map_err(|e| text(&e))?;
    let mut fresh = stale.clone();
    fresh["data"]["holder"] = json!("b");
    let fresh = cluster.replace(&configmaps(), &fresh).await.map_err(|e| text(&e))?;
    ensure(fresh["metadata"]["resourceVersion"] != stale["metadata"]["resourceVersion"], || {
        "replace did not change resourceVersion".into()
    })?;
    let mut late = stale.clone();
    late["data"]["holder"] = json!("c");
    match cluster.replace(&configmaps(), &late).await {
        Err(ClusterError::Conflict { conflicts, message, .. }) => {
            ensure(conflicts.is_empty(), || format!("unexpected field conflicts {conflicts:?}"))?;
            ensure(message.contains("the object has been modified"), || {
                format!("stale-version message changed: {message}")
            })?;
        }
        other => return Err(format!("stale replace: expected Conflict, got {other:?}")),
    }
    let stored = cluster.get(&configmaps(), Some(ns), "lease").await.map_err(|e| text(&e))?;
    ensure_eq!(stored.ok_or("gone")?["data"]["holder"], json!("b"), "holder after stale replace");
    Ok(())
}

/// A DELETE with the uid and resourceVersion of an object that was since deleted and re-created
/// under its name (or changed) is refused with 409 and deletes nothing; the current ones delete.
async fn delete_preconditions(ctx: &Ctx) -> Outcome {
    let (cluster, ns) = (&ctx.cluster, ctx.namespace.as_str());
    let object = configmap(ns, "reborn", "iris", &json!({}));
    let first = cluster.create(&configmaps(), &object).await.map_err(|e| text(&e))?;
    let planned = Preconditions::of(&first);
    cluster.delete(&configmaps(), Some(ns), "reborn", None).await.map_err(|e| text(&e))?;
    let second = cluster.create(&configmaps(), &object).await.map_err(|e| text(&e))?;
    match cluster.delete(&configmaps(), Some(ns), "reborn", Some(&planned)).await {
        Err(ClusterError::Conflict { message, .. }) => {
            ensure(message.contains("the UID in the precondition"), || message.clone())?;
        }
        other => return Err(format!("expected a 409 for the old uid, got {other:?}")),
    }
    let still = cluster.get(&configmaps(), Some(ns), "reborn").await.map_err(|e| text(&e))?;
    ensure(still.is_some(), || "the re-created object was deleted".into())?;
    let stale_version =
        Preconditions { uid: Preconditions::of(&second).uid, resource_version: Some("1".into()) };
    match cluster.delete(&configmaps(), Some(ns), "reborn", Some(&stale_version)).await {
        Err(ClusterError::Conflict { message, .. }) => {
            ensure(message.contains("the ResourceVersion in the precondition"), || {
                message.clone()
            })?;
        }
        other => return Err(format!("expected a 409 for a stale resourceVersion, got {other:?}")),
    }
    ensure_eq!(
        cluster
            .delete(&configmaps(), Some(ns), "reborn", Some(&Preconditions::of(&second)))
            .await
            .map_err(|e| text(&e))?,
        true,
        "delete with the current uid and resourceVersion"
    );
    Ok(())
}

async fn delete(ctx: &Ctx) -> Outcome {
    let (cluster, ns) = (&ctx.cluster, ctx.namespace.as_str());
    let object = configmap(ns, "doomed", "iris", &json!({}));
    cluster.create(&configmaps(), &object).await.map_err(|e| text(&e))?;
    ensure_eq!(
        cluster.delete(&configmaps(), Some(ns), "doomed", None).await.map_err(|e| text(&e))?,
        true,
        "first delete"
    );
    let got = cluster.get(&configmaps(), Some(ns), "doomed").await.map_err(|e| text(&e))?;
    ensure(got.is_none(), || "object still there after delete".into())?;
    ensure_eq!(
        cluster.delete(&configmaps(), Some(ns), "doomed", None).await.map_err(|e| text(&e))?,
        false,
        "second delete"
    );
    Ok(())
}

async fn watch(ctx: &Ctx) -> Outcome {
    let (cluster, ns) = (&ctx.cluster, ctx.namespace.as_str());
    let before = configmap(ns, "before", "iris", &json!({}));
    cluster.create(&configmaps(), &before).await.map_err(|e| text(&e))?;
    let mut events =
        cluster.watch(&configmaps(), Some(ns), None, None).await.map_err(|e| text(&e))?;
    let after = configmap(ns, "after", "iris", &json!({}));
    cluster.create(&configmaps(), &after).await.map_err(|e| text(&e))?;
    loop {
        match events.next().await {
            Some(Ok(WatchEvent::Bookmark { .. })) => {}
            Some(Ok(WatchEvent::Added(object))) => {
                ensure_eq!(name_of(&object), "after", "first added object (watch starts now)");
                ensure_eq!(object["kind"], json!("ConfigMap"), "watched kind");
                return Ok(());
            }
            other => return Err(format!("expected Added(after), got {other:?}")),
        }
    }
}

async fn invalid(ctx: &Ctx) -> Outcome {
    let (cluster, ns) = (&ctx.cluster, ctx.namespace.as_str());
    match cluster
        .apply(&deployments(), &deployment(ns, -1), &ApplyOptions::coxswain(false, false))
        .await
    {
        Err(ClusterError::Invalid { causes, .. }) => {
            ensure(causes.iter().any(|cause| cause.starts_with("spec.replicas: ")), || {
                format!("no cause for spec.replicas in {causes:?}")
            })
        }
        other => Err(format!("replicas -1: expected Invalid, got {other:?}")),
    }
}

async fn forbidden(ctx: &Ctx) -> Outcome {
    let mut config = ctx.config.clone();
    config.auth_info.impersonate = Some("coxswain-nobody".into());
    let cluster = KubeCluster::from_config(config).map_err(|e| text(&e))?;
    match cluster.list(&configmaps(), Some(&ctx.namespace), None).await {
        Err(ClusterError::Forbidden { target, message }) => {
            ensure_eq!(target, format!("ConfigMap in namespace {}", ctx.namespace), "target");
            ensure(
                message.contains("User \"coxswain-nobody\" cannot list resource \"configmaps\""),
                || format!("the server's message is not kept: {message}"),
            )
        }
        other => {
            Err(format!("impersonating a user without roles: expected Forbidden, got {other:?}"))
        }
    }
}

async fn unauthorized(ctx: &Ctx) -> Outcome {
    let mut config = ctx.config.clone();
    config.auth_info = kube::config::AuthInfo {
        token: Some("not-a-valid-token".to_owned().into()),
        ..Default::default()
    };
    let cluster = KubeCluster::from_config(config).map_err(|e| text(&e))?;
    match cluster.get(&configmaps(), Some(&ctx.namespace), "any").await {
        Err(error @ ClusterError::Unauthorized { .. }) => ensure_eq!(
            error.to_string(),
            format!(
                "ConfigMap {}/any: unauthorized (401): the credentials were refused; check the \
                 kubeconfig user",
                ctx.namespace
            ),
            "unauthorized message"
        ),
        other => return Err(format!("a bogus token: expected Unauthorized, got {other:?}")),
    }
    Ok(())
}
