//! The plan engine against the in-memory cluster double: classification, request economy
//! (asserted on the double's request counters, not on time) and rendered output.

mod support;

use coxswain::cluster::{ApplyOptions, Cluster, Gvk};
use coxswain::plan::render::PlanReport;
use coxswain::plan::{Action, PlanOptions, plan_env};
use coxswain::repo::Repo;
use coxswain_memcluster::{MemoryCluster, Verb};
use serde_json::json;
use support::{apply_directly, deployment, env_from};

const CONFIG: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  LOG_LEVEL: info\n";

/// The `+`/`-` lines of a unified diff, headers left out, in order.
fn changed_lines(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect()
}

/// `dev` with one Deployment `iris-server` (image `ghcr.io/acme/iris:1.0.0`, 2 replicas), as a
/// sync left it in `cluster`.
async fn synced_server(cluster: &MemoryCluster) -> coxswain::repo::Environment {
    let env = env_from(
        "dev",
        None,
        &[("server.yaml", &deployment("iris-server", "ghcr.io/acme/iris:1.0.0", 2, &[]))],
    );
    apply_directly(cluster, &env).await;
    env
}

fn actions(plan: &coxswain::plan::EnvPlan) -> Vec<(String, &'static str)> {
    plan.objects.iter().map(|o| (o.key.to_string(), o.action.as_str())).collect()
}

#[tokio::test]
async fn fresh_namespace_plans_all_creates_without_dry_runs() {
    let cluster = MemoryCluster::new();
    let repo = Repo::open(&support::example_repo()).unwrap();
    let env = repo.load_env("prod");
    let plan = plan_env(&cluster, &env, &PlanOptions::default()).await.unwrap();
    assert!(!plan.namespace_exists);
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(plan.count(Action::Create), 6);
    assert_eq!(plan.objects.len(), 6);
    // The namespace does not exist: nothing to LIST in it, nothing to dry-run against.
    let counts = cluster.requests();
    assert_eq!((counts.get(Verb::List), counts.get(Verb::ApplyDryRun), counts.writes()), (0, 0, 0));
}

#[tokio::test]
async fn no_op_replan_lists_each_kind_once_and_dry_runs_nothing() {
    let cluster = MemoryCluster::new();
    let repo = Repo::open(&support::example_repo()).unwrap();
    let env = repo.load_env("prod");
    apply_directly(&cluster, &env).await;
    cluster.reset_counters();
    let plan = plan_env(&cluster, &env, &PlanOptions::default()).await.unwrap();
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert!(!plan.has_changes(), "{}", PlanReport::new(vec![plan.clone()]).render_text(false));
    assert_eq!(plan.count(Action::Unchanged), 6);
    let counts = cluster.requests();
    // Six objects of six kinds: one LIST per kind, and the server is asked nothing else per object.
    assert_eq!(counts.get(Verb::List), 6);
    assert_eq!(counts.get(Verb::ApplyDryRun), 0);
    assert_eq!(counts.get(Verb::Get), 2, "the namespace and the inventory");
    assert_eq!(counts.writes(), 0);
}

#[tokio::test]
async fn one_image_bump_among_a_thousand_objects_costs_one_dry_run() {
    let cluster = MemoryCluster::new();
    let mut manifests = String::new();
    for i in 0..500 {
        let name = format!("model-{i:03}");
        manifests += "---\n";
        manifests +=
            &deployment(&name, "ghcr.io/acme/model:1.0.0", 2, &[("MODEL_VERSION", "1.0.0")]);
        manifests += "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ";
        manifests += &name;
        manifests += "\ndata:\n  threads: \"2\"\n";
    }
    let before = env_from("dev", None, &[("all.yaml", &manifests)]);
    assert_eq!(before.objects.len(), 1000);
    apply_directly(&cluster, &before).await;
    let bumped = manifests.replacen(
        "name: model-042\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: model-042}\n  template:\n    metadata:\n      labels: {app: model-042}\n    spec:\n      containers:\n        - name: server\n          image: ghcr.io/acme/model:1.0.0",
        "name: model-042\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: model-042}\n  template:\n    metadata:\n      labels: {app: model-042}\n    spec:\n      containers:\n        - name: server\n          image: ghcr.io/acme/model:1.1.0",
        1,
    );
    assert_ne!(bumped, manifests);
    let after = env_from("dev", None, &[("all.yaml", &bumped)]);
    cluster.reset_counters();
    let plan = plan_env(&cluster, &after, &PlanOptions::default()).await.unwrap();
    let counts = cluster.requests();
    assert_eq!(counts.get(Verb::ApplyDryRun), 1);
    assert_eq!(counts.get(Verb::List), 2);
    assert_eq!(plan.count(Action::Update), 1);
    assert_eq!(plan.count(Action::Unchanged), 999);
    let update = plan.objects.iter().find(|o| o.action == Action::Update).unwrap();
    assert_eq!(update.key.name, "model-042");
    let changed = changed_lines(&update.diff);
    assert_eq!(
        changed,
        [
            "-          image: ghcr.io/acme/model:1.0.0",
            "+          image: ghcr.io/acme/model:1.1.0"
        ]
    );
}

/// The classic cases, rendered in every format: an image bump, a replica change, a removed env
/// var, a new object, a pruned object, an unchanged object, and a foreign object left alone.
#[tokio::test]
async fn renders_create_update_prune_and_unchanged() {
    let cluster = MemoryCluster::new();
    let synced = env_from(
        "staging",
        Some("namespace: iris-staging\n"),
        &[
            (
                "server.yaml",
                &deployment(
                    "iris-server",
                    "ghcr.io/acme/iris:1.0.0",
                    2,
                    &[("MODEL_VERSION", "1.0.0"), ("DEBUG", "1")],
                ),
            ),
            ("config.yaml", CONFIG),
            (
                "old.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: retired\ndata:\n  a: b\n",
            ),
        ],
    );
    apply_directly(&cluster, &synced).await;
    // Someone else's object in the same namespace: never pruned.
    let config_maps = cluster.resolve(&Gvk::from_api_version("v1", "ConfigMap")).await.unwrap();
    let foreign = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": "iris-staging"}, "data": {"ca.crt": "x"}});
    cluster
        .apply(
            &config_maps,
            &foreign,
            &ApplyOptions {
                field_manager: "kube-controller-manager".into(),
                force: false,
                dry_run: false,
            },
        )
        .await
        .unwrap();

    let next = env_from(
        "staging",
        Some("namespace: iris-staging\n"),
        &[
            (
                "server.yaml",
                &deployment(
                    "iris-server",
                    "ghcr.io/acme/iris:1.1.0",
                    3,
                    &[("MODEL_VERSION", "1.1.0")],
                ),
            ),
            ("config.yaml", CONFIG),
            (
                "batch.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: batching\ndata:\n  MAX_BATCH: \"64\"\n",
            ),
        ],
    );
    let plan = plan_env(&cluster, &next, &PlanOptions::default()).await.unwrap();
    assert_eq!(
        actions(&plan),
        [
            ("ConfigMap iris-staging/batching".to_owned(), "create"),
            ("ConfigMap iris-staging/retired".to_owned(), "prune"),
            ("ConfigMap iris-staging/settings".to_owned(), "unchanged"),
            ("Deployment.apps iris-staging/iris-server".to_owned(), "update"),
        ]
    );
    let report = PlanReport::new(vec![plan]);
    insta::assert_snapshot!("plan_text", report.render_text(false));
    insta::assert_snapshot!("plan_markdown", report.render_markdown());
    insta::assert_json_snapshot!("plan_json", report);
}

#[tokio::test]
async fn unknown_kinds_are_errors_at_their_line_before_anything_else() {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let env = env_from(
        "dev",
        None,
        &[(
            "model.yaml",
            &format!(
                "{CONFIG}---\napiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: iris\n"
            ),
        )],
    );
    let plan = plan_env(&cluster, &env, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.errors.len(), 1);
    assert_eq!(
        plan.errors[0].to_string(),
        "environments/dev/model.yaml:8: error[unknown-kind]: InferenceService iris: the cluster serves no kind serving.kserve.io/v1beta1/InferenceService (check apiVersion, or install its CRD first)"
    );
}

#[tokio::test]
async fn conflicts_with_another_manager_name_field_and_manager() {
    let cluster = MemoryCluster::new();
    let env = synced_server(&cluster).await;
    // An operator scales the deployment by hand with its own server-side apply.
    let deployments =
        cluster.resolve(&Gvk::from_api_version("apps/v1", "Deployment")).await.unwrap();
    let scale = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "iris-server", "namespace": "dev"}, "spec": {"replicas": 5}});
    cluster
        .apply(
            &deployments,
            &scale,
            &ApplyOptions { field_manager: "kubectl".into(), force: true, dry_run: false },
        )
        .await
        .unwrap();
    let plan = plan_env(&cluster, &env, &PlanOptions::default()).await.unwrap();
    // Drift, not an error: an update naming the field, both values and the manager.
    assert!(plan.errors.is_empty(), "{plan:#?}");
    assert_eq!(plan.count(Action::Update), 1);
    let drift = &plan.objects[0].drift;
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!((drift[0].field.as_str(), drift[0].manager.as_str()), (".spec.replicas", "kubectl"));
    assert_eq!((drift[0].live.as_deref(), drift[0].git.as_deref()), (Some("5"), Some("2")));
    assert!(plan.objects[0].diff.contains("-  replicas: 5\n+  replicas: 2\n"));
    // With --force-conflicts the plan shows the change that would take ownership back.
    let forced =
        plan_env(&cluster, &env, &PlanOptions { force_conflicts: true, ..PlanOptions::default() })
            .await
            .unwrap();
    assert!(forced.errors.is_empty());
    assert_eq!(forced.count(Action::Update), 1);
    assert!(
        forced.objects[0].diff.contains("-  replicas: 5\n+  replicas: 2\n"),
        "{}",
        forced.objects[0].diff
    );
}

/// `kubectl set image` on a Deployment git owns: the plan shows the drift as an update with its
/// exact diff (the image only), names the manager that owns the field now and the values on
/// both sides, counts it as a change, and a sync refuses to take it back without
/// `--force-conflicts` — before writing anything.
#[tokio::test]
async fn drift_by_another_field_manager_is_an_update_that_needs_force() {
    let cluster = MemoryCluster::new();
    let env = synced_server(&cluster).await;
    let resource = cluster.resolve(&Gvk::from_api_version("apps/v1", "Deployment")).await.unwrap();
    let key = coxswain::cluster::ObjectKey::new(
        &Gvk::from_api_version("apps/v1", "Deployment"),
        Some("dev"),
        "iris-server",
    );
    let mut live = cluster.object(&key).unwrap();
    live["spec"]["template"]["spec"]["containers"][0]["image"] = json!("ghcr.io/acme/iris:hotfix");
    cluster.update_as("kubectl-set", &resource, &live).unwrap();

    cluster.reset_counters();
    let plan = plan_env(&cluster, &env, &PlanOptions::default()).await.unwrap();
    assert!(plan.errors.is_empty(), "drift is not an error: {:?}", plan.errors);
    assert_eq!(actions(&plan), [("Deployment.apps dev/iris-server".to_owned(), "update")]);
    let object = &plan.objects[0];
    assert!(object.needs_force());
    assert_eq!(
        object.drift,
        [coxswain::plan::Drift {
            field: ".spec.template.spec.containers[name=\"server\"].image".into(),
            manager: "kubectl-set".into(),
            live: Some("ghcr.io/acme/iris:hotfix".into()),
            git: Some("ghcr.io/acme/iris:1.0.0".into()),
        }]
    );
    // Exact: the image line and nothing else changes.
    let changed = changed_lines(&object.diff);
    assert_eq!(
        changed,
        ["-          image: ghcr.io/acme/iris:hotfix", "+          image: ghcr.io/acme/iris:1.0.0"],
        "{}",
        object.diff
    );
    assert_eq!(cluster.requests().get(Verb::ApplyDryRun), 2, "one refused, one forced");
    assert_eq!(cluster.requests().writes(), 0);

    let report = PlanReport::new(vec![plan]);
    assert!(report.summary.has_changes());
    assert_eq!((report.summary.update, report.summary.drifted, report.summary.errors), (1, 1, 0));
    insta::assert_snapshot!("drift_text", report.render_text(false));
    insta::assert_snapshot!("drift_markdown", report.render_markdown());
    insta::assert_json_snapshot!("drift_json", report);

    // The forced plan (what `sync --force-conflicts` previews) still names what it overrides.
    let forced =
        plan_env(&cluster, &env, &PlanOptions { force_conflicts: true, ..PlanOptions::default() })
            .await
            .unwrap();
    let object = &forced.objects[0];
    assert!(!object.needs_force());
    assert_eq!(object.drift, report.environments[0].objects[0].drift);
    assert_eq!(PlanReport::new(vec![forced.clone()]).summary.drifted, 0);
    assert!(
        PlanReport::new(vec![forced])
            .render_text(false)
            .contains("with --force-conflicts, the sync takes them back"),
    );

    // A sync without --force-conflicts writes nothing and says why; with it, git wins.
    let sync = |force_conflicts: bool| coxswain::sync::SyncOptions {
        force_conflicts,
        ..support::sync_options()
    };
    let blocked = coxswain::sync::sync_env(
        std::sync::Arc::new(cluster.clone()),
        &env,
        &sync(false),
        &coxswain::sync::Silent,
    )
    .await;
    assert_eq!(blocked.status, coxswain::sync::SyncStatus::Blocked);
    let why = blocked.error.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(why.contains("--force-conflicts") && why.contains("kubectl-set"), "{why}");
    assert_eq!(
        cluster.object(&key).unwrap()["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/acme/iris:hotfix"
    );
    let forced = coxswain::sync::sync_env(
        std::sync::Arc::new(cluster.clone()),
        &env,
        &sync(true),
        &coxswain::sync::Silent,
    )
    .await;
    assert_eq!(forced.status, coxswain::sync::SyncStatus::Synced, "{:?}", forced.error);
    assert_eq!(
        cluster.object(&key).unwrap()["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/acme/iris:1.0.0"
    );
    let after = plan_env(&cluster, &env, &PlanOptions::default()).await.unwrap();
    assert!(!after.has_changes(), "{}", PlanReport::new(vec![after.clone()]).render_text(false));
}
