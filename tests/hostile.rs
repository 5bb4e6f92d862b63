//! Hostile and unlucky users (issue 13): each scenario does what an attacker with a little access,
//! or a user having a bad day, would do — copy an object with Coxswain's labels, let a
//! controller copy them onto its children, sync two repos with an env of the same name, put two
//! environments in one namespace, upgrade from an earlier version, plant or corrupt revisions —
//! and asserts that nothing foreign was touched and that what was recorded is true.
//!
//! The in-memory cluster runs every scenario; `hostile_against_real_api_server` runs the
//! ownership ones against a real kube-apiserver when `KUBEBUILDER_ASSETS` (or
//! `COXSWAIN_TEST_KUBECONFIG`) is set, and says why it skips otherwise.

#[path = "support/envtest.rs"]
mod envtest;
mod support;

use base64::Engine as _;
use coxswain::cluster::{ApplyOptions, Cluster, Gvk, ObjectKey, ResourceType};
use coxswain::history::{self, MAX_REVISION, Outcome};
use coxswain::ownership::{LEGACY_FIELD_MANAGER, Owner};
use coxswain::plan::render::PlanReport;
use coxswain::plan::{PlanOptions, plan_env};
use coxswain::repo::{Environment, Repo};
use coxswain::sync::{Silent, SyncOptions, SyncReport, SyncStatus, sync_env};
use coxswain_memcluster::{MemoryCluster, Verb};
use futures::future::LocalBoxFuture;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;
use support::{apply_as_previous_version, deployment, env_from};

fn options() -> SyncOptions {
    SyncOptions {
        holder: "test@host".into(),
        timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(10),
        ..SyncOptions::default()
    }
}

async fn sync(cluster: &MemoryCluster, env: &Environment) -> SyncReport {
    sync_env(Arc::new(cluster.clone()), env, &options(), &Silent).await
}

async fn synced(cluster: &MemoryCluster, env: &Environment) -> SyncReport {
    let report = sync(cluster, env).await;
    assert_eq!(report.status, SyncStatus::Synced, "{report:?}");
    report
}

fn key(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> ObjectKey {
    ObjectKey::new(&Gvk::from_api_version(api_version, kind), namespace, name)
}

fn config_map(name: &str, data: &Value) -> String {
    let data = data.as_object().into_iter().flatten().fold(String::new(), |mut out, (k, v)| {
        let _ = writeln!(out, "  {k}: {v}");
        out
    });
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n{data}")
}

/// Every DELETE the cluster received since its counters were last reset.
fn deletes(cluster: &MemoryCluster) -> Vec<String> {
    cluster
        .request_log()
        .iter()
        .filter(|r| r.verb == Verb::Delete)
        .map(ToString::to_string)
        .collect()
}

fn managers(live: &Value) -> Vec<(String, String)> {
    live.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            let field = |name: &str| e.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
            (field("manager"), field("operation"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Prune trusts more than two labels.

/// A copy of one of our objects made with `kubectl get -o yaml` (labels, annotations, even its
/// managedFields), and a KServe-style child whose controller copied its parent's labels and set
/// itself as controller: neither is pruned, both are shown as skipped. An object Coxswain
/// created stays prunable after a controller adds an ownerReference to it.
#[tokio::test]
async fn look_alikes_are_never_pruned_and_our_objects_stay_prunable_under_owner_references() {
    let cluster = MemoryCluster::new();
    let server = deployment("iris-server", "ghcr.io/acme/iris:1.0.0", 1, &[]);
    let settings = config_map("settings", &json!({"LOG_LEVEL": "info"}));
    let extra = config_map("extra", &json!({"a": "b"}));
    let before = env_from(
        "dev",
        None,
        &[("server.yaml", &server), ("settings.yaml", &settings), ("extra.yaml", &extra)],
    );
    synced(&cluster, &before).await;
    let config_maps = cluster.resolve(&Gvk::from_api_version("v1", "ConfigMap")).await.unwrap();
    let deployments =
        cluster.resolve(&Gvk::from_api_version("apps/v1", "Deployment")).await.unwrap();

    // `kubectl get cm settings -o yaml`, renamed, `kubectl create -f`: every label and even the
    // managedFields naming Coxswain's field manager come along; the uid does not.
    let mut copy = cluster.object(&key("v1", "ConfigMap", Some("dev"), "settings")).unwrap();
    copy["metadata"]["name"] = json!("settings-copy");
    for field in ["uid", "resourceVersion", "creationTimestamp"] {
        copy["metadata"].as_object_mut().unwrap().remove(field);
    }
    cluster.create(&config_maps, &copy).await.unwrap();
    // A controller's child: the parent's labels copied, the parent as controller.
    let parent = cluster.object(&key("apps/v1", "Deployment", Some("dev"), "iris-server")).unwrap();
    let mut child = parent.clone();
    child["metadata"] = json!({"name": "iris-server-predictor", "namespace": "dev",
        "labels": parent["metadata"]["labels"],
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "iris-server",
            "uid": parent["metadata"]["uid"], "controller": true}]});
    cluster.create(&deployments, &child).await.unwrap();
    // A controller adopts `extra` (an ownerReference to the Deployment) after Coxswain made it.
    let mut adopted = cluster.object(&key("v1", "ConfigMap", Some("dev"), "extra")).unwrap();
    adopted["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "Deployment",
        "name": "iris-server", "uid": parent["metadata"]["uid"], "controller": true}]);
    cluster.update_as("some-controller", &config_maps, &adopted).unwrap();

    let after = env_from("dev", None, &[("server.yaml", &server), ("settings.yaml", &settings)]);
    let plan = plan_env(&cluster, &after, &PlanOptions::default()).await.unwrap();
    let skipped: Vec<String> = plan.skipped.iter().map(|s| s.key.to_string()).collect();
    assert_eq!(
        skipped,
        ["ConfigMap dev/settings-copy", "Deployment.apps dev/iris-server-predictor"]
    );
    assert!(
        plan.skipped.iter().all(|s| s.reason.contains("Coxswain did not create it")),
        "{:?}",
        plan.skipped
    );
    let report = PlanReport::new(vec![plan]);
    let text = report.render_text(false);
    assert!(
        text.contains("Not pruned")
            && text.contains("ConfigMap dev/settings-copy: it carries the labels"),
        "{text}"
    );
    assert!(report.render_markdown().contains("- `Deployment.apps dev/iris-server-predictor`: "));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["environments"][0]["skipped"][0]["name"], "settings-copy");

    cluster.reset_counters();
    let report = synced(&cluster, &after).await;
    assert_eq!(report.pruned, ["ConfigMap dev/extra"]);
    assert_eq!(deletes(&cluster), ["delete ConfigMap dev/extra"]);
    assert!(cluster.object(&key("v1", "ConfigMap", Some("dev"), "settings-copy")).is_some());
    assert!(
        cluster
            .object(&key("apps/v1", "Deployment", Some("dev"), "iris-server-predictor"))
            .is_some()
    );
}

/// An object deleted and re-created by someone else under the same name is another object: it
/// is not pruned when it leaves git, and the plan says why.
#[tokio::test]
async fn an_object_recreated_by_someone_else_is_not_pruned() {
    let cluster = MemoryCluster::new();
    let extra = config_map("extra", &json!({"a": "b"}));
    let keep = config_map("keep", &json!({"k": "v"}));
    synced(&cluster, &env_from("dev", None, &[("extra.yaml", &extra), ("keep.yaml", &keep)])).await;
    let config_maps = cluster.resolve(&Gvk::from_api_version("v1", "ConfigMap")).await.unwrap();
    let mut live = cluster.object(&key("v1", "ConfigMap", Some("dev"), "extra")).unwrap();
    cluster.delete(&config_maps, Some("dev"), "extra", None).await.unwrap();
    for field in ["uid", "resourceVersion", "creationTimestamp", "managedFields"] {
        live["metadata"].as_object_mut().unwrap().remove(field);
    }
    cluster.create(&config_maps, &live).await.unwrap();
    let after = env_from("dev", None, &[("keep.yaml", &keep)]);
    cluster.reset_counters();
    let report = sync(&cluster, &after).await;
    assert_eq!(report.status, SyncStatus::NoChanges, "{report:?}");
    assert!(report.pruned.is_empty(), "{report:?}");
    assert!(deletes(&cluster).is_empty());
    let skipped = &report.plan.unwrap().skipped;
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].reason.contains("deleted and re-created by someone else"), "{skipped:?}");
}

// ---------------------------------------------------------------------------------------------
// 2. Identity includes the repo.

fn cluster_role_env(instance: &str, namespace: &str, roles: &[(&str, &str)]) -> Environment {
    let files: Vec<(String, String)> = roles
        .iter()
        .map(|(name, verbs)| {
            (
                format!("{name}.yaml"),
                format!(
                    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {name}\nrules:\n  - apiGroups: [\"\"]\n    resources: [configmaps]\n    verbs: {verbs}\n"
                ),
            )
        })
        .collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let config = format!("namespace: {namespace}\nallowClusterScoped: [ClusterRole]\n");
    let mut env = env_from("prod", Some(&config), &files);
    instance.clone_into(&mut env.instance);
    env
}

/// Repo A's env `prod` and repo B's env `prod` both manage `ClusterRole`s: neither prunes the
/// other's, and one object declared by both is an SSA conflict naming the other's field manager,
/// not a silent overwrite.
#[tokio::test]
async fn another_repos_env_of_the_same_name_is_neither_pruned_nor_overwritten() {
    let cluster = MemoryCluster::new();
    let a = cluster_role_env("repo-a", "a-prod", &[("a-reader", "[get]"), ("a-old", "[get]")]);
    let b = cluster_role_env("repo-b", "b-prod", &[("b-reader", "[get]")]);
    synced(&cluster, &a).await;
    synced(&cluster, &b).await;

    // A drops a-old: exactly that is pruned; B's ClusterRole, labelled prod too, is not touched.
    let a2 = cluster_role_env("repo-a", "a-prod", &[("a-reader", "[get]")]);
    cluster.reset_counters();
    let report = synced(&cluster, &a2).await;
    assert_eq!(report.pruned, ["ClusterRole.rbac.authorization.k8s.io a-old"]);
    assert_eq!(deletes(&cluster), ["delete ClusterRole.rbac.authorization.k8s.io a-old"]);
    assert!(
        report.plan.unwrap().skipped.is_empty(),
        "another repo's objects are not even look-alikes"
    );
    let b_reader = key("rbac.authorization.k8s.io/v1", "ClusterRole", None, "b-reader");
    assert!(cluster.object(&b_reader).is_some());
    cluster.reset_counters();
    assert_eq!(sync(&cluster, &b).await.status, SyncStatus::NoChanges);
    assert!(deletes(&cluster).is_empty());

    // Both declare `shared`, differently: the second is refused, naming the first's manager.
    let a3 = cluster_role_env("repo-a", "a-prod", &[("a-reader", "[get]"), ("shared", "[get]")]);
    synced(&cluster, &a3).await;
    let b3 =
        cluster_role_env("repo-b", "b-prod", &[("b-reader", "[get]"), ("shared", "[get, list]")]);
    cluster.reset_counters();
    let report = sync(&cluster, &b3).await;
    assert_eq!(report.status, SyncStatus::Blocked, "{report:?}");
    let errors = report.plan.unwrap().errors;
    assert!(
        errors
            .iter()
            .any(|e| e.code == "conflict" && e.message.contains("\"coxswain/repo-a/prod\"")),
        "{errors:?}"
    );
    assert_eq!(cluster.requests().writes(), 0);
    let shared = cluster
        .object(&key("rbac.authorization.k8s.io/v1", "ClusterRole", None, "shared"))
        .unwrap();
    assert_eq!(shared["rules"][0]["verbs"], json!(["get"]));
    assert_eq!(shared["metadata"]["labels"]["coxswain.dev/instance"], "repo-a");
}

/// A repo without `coxswain.yaml` gets an id derived from its remote (the same for SSH and
/// HTTPS clones); one with the file uses it; a bad file is an input error naming file and line.
#[test]
fn the_instance_id_comes_from_coxswain_yaml_or_the_remote() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("environments/dev")).unwrap();
    let clone = |url: &str| {
        let repo = git2::Repository::init(dir.path()).unwrap();
        let _ = repo.remote_delete("origin");
        repo.remote("origin", url).unwrap();
        Repo::open(dir.path()).unwrap().load_env("dev").instance
    };
    let ssh = clone("git@github.com:acme/ml-deploy.git");
    let https = clone("https://github.com/acme/ml-deploy");
    assert_eq!(ssh, https);
    assert!(ssh.starts_with("ml-deploy-"), "{ssh}");
    assert_ne!(clone("https://github.com/someone/ml-deploy"), ssh);
    let repo = Repo::open(dir.path()).unwrap();
    let note = repo.instance().unwrap().note().unwrap_or_default();
    assert!(note.contains("coxswain.yaml") && note.contains("instance: ml-deploy-"), "{note}");

    std::fs::write(dir.path().join("coxswain.yaml"), "instance: acme-ml\n").unwrap();
    let env = Repo::open(dir.path()).unwrap().load_env("dev");
    assert_eq!(env.instance, "acme-ml");
    assert!(!env.has_errors());
    std::fs::write(dir.path().join("coxswain.yaml"), "# the repo's id\ninstance: Acme ML\n")
        .unwrap();
    let env = Repo::open(dir.path()).unwrap().load_env("dev");
    let error = env.diagnostics.iter().find(|d| d.is_error()).expect("an input error");
    assert_eq!(
        (error.file.as_str(), error.line, error.code.as_str()),
        ("coxswain.yaml", 2, "invalid-name")
    );
}

/// An env synced by the previous version (labels without instance, field manager `coxswain`,
/// an inventory of kinds only) is adopted by its next sync: nothing deleted or re-created, the
/// old manager released (so a field git dropped is removed), a value git changed taken over
/// without `--force-conflicts`; what left git in the same commit is not guessed at — it is shown
/// as skipped, and pruned normally once synced by this version.
#[tokio::test]
async fn an_env_synced_by_the_previous_version_is_adopted_without_deleting_anything() {
    let cluster = MemoryCluster::new();
    let v1 = env_from(
        "dev",
        None,
        &[
            (
                "server.yaml",
                &deployment("web", "ghcr.io/acme/web:1.0.0", 1, &[("A", "1"), ("B", "2")]),
            ),
            ("settings.yaml", &config_map("settings", &json!({"LOG_LEVEL": "info"}))),
            ("old.yaml", &config_map("old", &json!({"x": "y"}))),
        ],
    );
    apply_as_previous_version(&cluster, &v1).await;
    let uid = |kind: (&str, &str), name: &str| {
        cluster.object(&key(kind.0, kind.1, Some("dev"), name)).unwrap()["metadata"]["uid"].clone()
    };
    let uids = [uid(("apps/v1", "Deployment"), "web"), uid(("v1", "ConfigMap"), "settings")];

    let v2 = env_from(
        "dev",
        None,
        &[
            ("server.yaml", &deployment("web", "ghcr.io/acme/web:1.1.0", 1, &[("A", "1")])),
            ("settings.yaml", &config_map("settings", &json!({"LOG_LEVEL": "info"}))),
        ],
    );
    cluster.reset_counters();
    let report = synced(&cluster, &v2).await;
    let log: Vec<String> = cluster.request_log().iter().map(ToString::to_string).collect();
    assert!(deletes(&cluster).is_empty(), "{log:?}");
    assert!(!log.iter().any(|r| r.starts_with("create ") && !r.contains("Lease")), "{log:?}");
    assert_eq!([uid(("apps/v1", "Deployment"), "web"), uid(("v1", "ConfigMap"), "settings")], uids);
    let skipped = report.plan.as_ref().unwrap().skipped.clone();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].key.to_string(), "ConfigMap dev/old");
    assert!(skipped[0].reason.contains("earlier version of Coxswain"), "{}", skipped[0].reason);

    let web = cluster.object(&key("apps/v1", "Deployment", Some("dev"), "web")).unwrap();
    assert_eq!(web["spec"]["template"]["spec"]["containers"][0]["image"], "ghcr.io/acme/web:1.1.0");
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "A", "value": "1"}])
    );
    assert_eq!(web["metadata"]["labels"]["coxswain.dev/instance"], "unnamed");
    let owners = managers(&web);
    assert!(owners.contains(&("coxswain/unnamed/dev".into(), "Apply".into())), "{owners:?}");
    assert!(!owners.iter().any(|(m, _)| m == LEGACY_FIELD_MANAGER), "{owners:?}");

    cluster.reset_counters();
    assert_eq!(sync(&cluster, &v2).await.status, SyncStatus::NoChanges);
    assert_eq!(cluster.requests().writes(), 0);
    // Adopted objects are this version's now: removing one from git prunes it.
    let v3 = env_from(
        "dev",
        None,
        &[("server.yaml", &deployment("web", "ghcr.io/acme/web:1.1.0", 1, &[("A", "1")]))],
    );
    let report = synced(&cluster, &v3).await;
    assert_eq!(report.pruned, ["ConfigMap dev/settings"]);
    assert!(cluster.object(&key("v1", "ConfigMap", Some("dev"), "old")).is_some());
}

// ---------------------------------------------------------------------------------------------
// 3. Two environments in one namespace.

/// Two envs of one repo in one namespace on one context: refused at load, naming both.
#[test]
fn two_envs_sharing_a_namespace_are_refused_at_load_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    for (env, config) in [
        ("a", "namespace: shared\n"),
        ("b", "namespace: shared\n"),
        ("c", "namespace: shared\ncontext: other-cluster\n"),
    ] {
        std::fs::create_dir_all(dir.path().join("environments").join(env)).unwrap();
        std::fs::write(dir.path().join("environments").join(env).join("env.yaml"), config).unwrap();
    }
    let repo = Repo::open(dir.path()).unwrap();
    let a = repo.load_env("a");
    let error = a.diagnostics.iter().find(|d| d.code == "namespace-shared").expect("refused");
    assert_eq!(error.file, "environments/a/env.yaml");
    assert!(
        error
            .message
            .contains("environments a and b both use namespace shared on the current kube context"),
        "{}",
        error.message
    );
    // Another context may be another cluster: a namespace of the same name there is fine.
    assert!(!repo.load_env("c").has_errors(), "{:?}", repo.load_env("c").diagnostics);
}

/// Two envs whose contexts turn out to reach one cluster: the second is refused at plan time
/// because the namespace's inventory names the first; the first's history, inventory and
/// revisions are untouched.
#[tokio::test]
async fn a_second_env_in_a_namespace_is_refused_and_the_first_keeps_its_history() {
    let cluster = MemoryCluster::new();
    let a = env_from(
        "a",
        Some("namespace: shared\ncontext: one\n"),
        &[("x.yaml", &config_map("x", &json!({"k": "a"})))],
    );
    let b = env_from(
        "b",
        Some("namespace: shared\ncontext: two\n"),
        &[("y.yaml", &config_map("b-config", &json!({"k": "b"})))],
    );
    synced(&cluster, &a).await;
    cluster.reset_counters();
    let report = sync(&cluster, &b).await;
    assert_eq!(report.status, SyncStatus::Blocked, "{report:?}");
    let errors = report.plan.unwrap().errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "namespace-taken");
    assert!(
        errors[0].message.contains("belongs to environment a")
            && errors[0].message.contains("not to environment b"),
        "{}",
        errors[0].message
    );
    assert_eq!(cluster.requests().writes(), 0);
    let revisions = history::list(&cluster, "a", "shared").await.unwrap();
    assert_eq!(revisions.iter().map(|(r, _)| r.number).collect::<Vec<_>>(), [1]);
    assert!(history::list(&cluster, "b", "shared").await.unwrap().is_empty());
    let inventory =
        cluster.object(&key("v1", "ConfigMap", Some("shared"), "coxswain-inventory")).unwrap();
    assert_eq!(inventory["metadata"]["labels"]["coxswain.dev/env"], "a");
    assert!(cluster.object(&key("v1", "ConfigMap", Some("shared"), "b-config")).is_none());
}

// ---------------------------------------------------------------------------------------------
// 6. History.

fn unhealthy_env(image: &str) -> Environment {
    env_from("dev", None, &[("server.yaml", &deployment("web", image, 1, &[]))])
}

/// Ten failed rollouts in a row do not delete the last good revision: the automatic rollback
/// still has something to restore.
#[tokio::test]
async fn retention_never_deletes_the_newest_successful_revision() {
    let cluster = MemoryCluster::new();
    synced(&cluster, &unhealthy_env("web:1")).await;
    cluster.set_auto_ready(false);
    let quick = SyncOptions {
        timeout: Duration::from_millis(1),
        poll_interval: Duration::from_millis(1),
        ..options()
    };
    for n in 2..=13 {
        let report = sync_env(
            Arc::new(cluster.clone()),
            &unhealthy_env(&format!("web:{n}")),
            &quick,
            &Silent,
        )
        .await;
        assert_eq!(report.status, SyncStatus::Unhealthy, "{report:?}");
    }
    let numbers: Vec<(u64, Outcome)> = history::list(&cluster, "dev", "dev")
        .await
        .unwrap()
        .iter()
        .map(|(r, _)| (r.number, r.outcome))
        .collect();
    assert_eq!(numbers.len(), history::KEEP + 1, "{numbers:?}");
    assert_eq!(numbers.first(), Some(&(13, Outcome::Unhealthy)));
    assert_eq!(numbers.last(), Some(&(1, Outcome::Succeeded)));
    let good = history::last_good(&cluster, "dev", "dev", Some(13)).await.unwrap().unwrap();
    assert_eq!(good.0.number, 1);
}

fn revision_secret(name: &str, label: &str, data: &Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": history::SECRET_TYPE,
        "metadata": {"name": name, "namespace": "dev", "labels": {
            "coxswain.dev/internal": "true", "coxswain.dev/env": "dev", "coxswain.dev/revision": label}},
        "data": data})
}

fn meta(number: u64) -> String {
    let revision = json!({"number": number, "gitSha": null, "author": "mallory", "time": "2026-11-30T00:00:00Z",
        "outcome": "succeeded", "message": "planted", "applied": [], "pruned": []});
    b64(revision.to_string().as_bytes())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Planted and corrupted revisions: bad JSON, bad gzip, a gzip bomb, a number past `u64::MAX`'s
/// reach. `history` lists the good ones and reports the rest; the next sync records normally;
/// restoring a corrupt one is refused with the reason — and nothing inflates without bound.
#[tokio::test]
async fn corrupt_revisions_are_reported_and_skipped_never_failing_history_or_the_next_record() {
    let cluster = MemoryCluster::new();
    let env = env_from("dev", None, &[("a.yaml", &config_map("a", &json!({"k": "v1"})))]);
    synced(&cluster, &env).await;
    let secrets = cluster.resolve(&Gvk::from_api_version("v1", "Secret")).await.unwrap();
    let config_maps = cluster.resolve(&Gvk::from_api_version("v1", "ConfigMap")).await.unwrap();
    let mallory = ApplyOptions { field_manager: "mallory".into(), force: true, dry_run: false };
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..80 {
        bomb.write_all(&zeros).unwrap();
    }
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 200 * 1024, "{} bytes", bomb.len());
    for object in [
        revision_secret(
            "coxswain-rev-2",
            "2",
            &json!({"revision.json": b64(b"{not json"), "manifests.json.gz": ""}),
        ),
        revision_secret(
            "coxswain-rev-3",
            "3",
            &json!({"revision.json": meta(3), "manifests.json.gz": b64(b"not gzip")}),
        ),
        revision_secret(
            "coxswain-rev-4",
            "4",
            &json!({"revision.json": meta(4), "manifests.json.gz": b64(&bomb)}),
        ),
        revision_secret(
            "coxswain-rev-max",
            &u64::MAX.to_string(),
            &json!({"revision.json": meta(u64::MAX)}),
        ),
    ] {
        cluster.apply(&secrets, &object, &mallory).await.unwrap();
    }
    let legacy = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "coxswain-rev-5", "namespace": "dev", "labels": {
            "coxswain.dev/internal": "true", "coxswain.dev/env": "dev", "coxswain.dev/revision": "5"}},
        "data": {"revision.json": "[]"}});
    cluster.apply(&config_maps, &legacy, &mallory).await.unwrap();

    let listing = history::list_all(&cluster, "dev", "dev").await.unwrap();
    let numbers: Vec<u64> = listing.revisions.iter().map(|(r, _)| r.number).collect();
    assert_eq!(numbers, [4, 3, 1]);
    let unreadable: Vec<&str> = listing.unreadable.iter().map(|u| u.object.as_str()).collect();
    assert_eq!(
        unreadable,
        ["ConfigMap coxswain-rev-5", "Secret coxswain-rev-2", "Secret coxswain-rev-max"]
    );
    assert!(
        listing.unreadable[2].reason.contains("does not match")
            || listing.unreadable[2].reason.contains("out of range")
    );

    for (number, expected) in [(3, "not valid gzip"), (4, "inflate past")] {
        let (revision, raw) = history::find(&cluster, "dev", "dev", number).await.unwrap();
        let error = history::restore(&env, &revision, &raw).unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }
    let error = history::find(&cluster, "dev", "dev", 2).await.unwrap_err().to_string();
    assert!(error.contains("coxswain-rev-2") && error.contains("revision.json"), "{error}");

    // The next sync records after the highest number it can read, the bad ones included.
    let next = env_from("dev", None, &[("a.yaml", &config_map("a", &json!({"k": "v2"})))]);
    let report = synced(&cluster, &next).await;
    assert_eq!(report.revision, Some(6));
}

/// A planted revision at the highest number: the next record fails with a clear message (no
/// overflow, no panic), and removing the planted revision lets the next sync record again.
#[tokio::test]
async fn revision_numbers_never_overflow() {
    let cluster = MemoryCluster::new();
    let env = env_from("dev", None, &[("a.yaml", &config_map("a", &json!({"k": "v1"})))]);
    synced(&cluster, &env).await;
    let secrets = cluster.resolve(&Gvk::from_api_version("v1", "Secret")).await.unwrap();
    let planted = revision_secret(
        "coxswain-rev-top",
        &MAX_REVISION.to_string(),
        &json!({"revision.json": meta(MAX_REVISION), "manifests.json.gz": ""}),
    );
    let mallory = ApplyOptions { field_manager: "mallory".into(), force: true, dry_run: false };
    cluster.apply(&secrets, &planted, &mallory).await.unwrap();
    let next = env_from("dev", None, &[("a.yaml", &config_map("a", &json!({"k": "v2"})))]);
    let report = sync(&cluster, &next).await;
    assert_eq!(report.status, SyncStatus::Failed);
    let error = report.error.unwrap().message;
    assert!(error.contains("revision numbers of environment dev are exhausted"), "{error}");
    cluster.delete(&secrets, Some("dev"), "coxswain-rev-top", None).await.unwrap();
    let again = env_from("dev", None, &[("a.yaml", &config_map("a", &json!({"k": "v3"})))]);
    assert_eq!(
        synced(&cluster, &again).await.revision,
        Some(2),
        "the failed record left no revision"
    );
}

/// With `allowPlaintextSecrets`, the Secret's values are in the revision's manifests (a rollback
/// restores them) — which is why revisions are Secrets: no `ConfigMap` holds a revision.
#[tokio::test]
async fn secret_values_never_land_in_a_config_map() {
    let cluster = MemoryCluster::new();
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: hunter2\n";
    let env = env_from("dev", Some("allowPlaintextSecrets: true\n"), &[("creds.yaml", secret)]);
    synced(&cluster, &env).await;
    for object in cluster.objects() {
        if object["kind"] == "ConfigMap" {
            assert!(
                object.pointer("/metadata/labels/coxswain.dev~1revision").is_none(),
                "{object}"
            );
            let text = object.to_string();
            assert!(!text.contains("hunter2") && !text.contains(&b64(b"hunter2")), "{text}");
        }
    }
    let (revision, raw) = history::find(&cluster, "dev", "dev", 1).await.unwrap();
    assert_eq!(
        (raw["kind"].as_str(), raw["type"].as_str()),
        (Some("Secret"), Some(history::SECRET_TYPE))
    );
    let stored = history::manifests(&raw).unwrap();
    assert_eq!(stored[0].object["stringData"]["password"], "hunter2");
    // The digest the engine verifies against git is over the manifests as git has them.
    assert_eq!(revision.manifests_digest, Some(history::digest_of(&env.objects)));
}

// ---------------------------------------------------------------------------------------------
// The same against a real API server.

type Checked = Result<(), String>;
type Scenario = for<'a> fn(&'a Real) -> LocalBoxFuture<'a, Checked>;

struct Real {
    cluster: Arc<dyn Cluster>,
    namespace: String,
}

impl Real {
    async fn sync(&self, env: &Environment) -> SyncReport {
        sync_env(self.cluster.clone(), env, &options(), &Silent).await
    }

    async fn synced(&self, env: &Environment) -> Result<SyncReport, String> {
        let report = self.sync(env).await;
        check(report.status == SyncStatus::Synced, || {
            format!("sync: {:?} {:?}", report.status, report.error)
        })?;
        Ok(report)
    }

    async fn live(
        &self,
        kind: (&str, &str, &str),
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, String> {
        let resource = ResourceType {
            gvk: Gvk::from_api_version(kind.0, kind.1),
            plural: kind.2.into(),
            namespaced: namespace.is_some(),
        };
        self.cluster.get(&resource, namespace, name).await.map_err(|e| e.to_string())
    }

    fn env(&self, name: &str, files: &[(&str, &str)]) -> Environment {
        env_from(name, Some(&format!("namespace: {}\n", self.namespace)), files)
    }
}

const CONFIG_MAPS: (&str, &str, &str) = ("v1", "ConfigMap", "configmaps");

fn check(condition: bool, what: impl FnOnce() -> String) -> Checked {
    if condition { Ok(()) } else { Err(what()) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_against_real_api_server() {
    let test_env = match envtest::TestEnv::start().await {
        Ok(Some(env)) => env,
        Ok(None) => return,
        Err(error) => panic!("could not start or reach the test API server: {error}"),
    };
    let scenarios: [(&str, Scenario); 6] = [
        ("look-alikes", |r| Box::pin(real_look_alikes(r))),
        ("cross-repo", |r| Box::pin(real_cross_repo(r))),
        ("shared-namespace", |r| Box::pin(real_shared_namespace(r))),
        ("previous-version", |r| Box::pin(real_previous_version(r))),
        ("secret-revisions", |r| Box::pin(real_secret_revisions(r))),
        ("lease-taken-over", |r| Box::pin(real_lease_taken_over(r))),
    ];
    let mut failures = Vec::new();
    for (index, (name, scenario)) in scenarios.iter().enumerate() {
        let cluster: Arc<dyn Cluster> = Arc::new(test_env.cluster().await.expect("client"));
        let namespace = format!("cxh-{name}-{}-{index}", std::process::id());
        let real = Real { cluster, namespace: namespace.clone() };
        let outcome = tokio::time::timeout(Duration::from_mins(3), scenario(&real))
            .await
            .unwrap_or_else(|_| Err("did not finish within 3 minutes".into()));
        test_env.delete_namespace(&namespace).await;
        match outcome {
            Ok(()) => eprintln!("ok: {name}"),
            Err(error) => {
                eprintln!("FAILED: {name}: {error}");
                failures.push(format!("{name}: {error}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} scenarios failed:\n{}", failures.len(), failures.join("\n"));
}

/// A copy and a label-copying controller's child survive; what Coxswain made is pruned.
async fn real_look_alikes(real: &Real) -> Checked {
    let ns = real.namespace.as_str();
    let keep = config_map("keep", &json!({"k": "v"}));
    let extra = config_map("extra", &json!({"a": "b"}));
    real.synced(&real.env("dev", &[("keep.yaml", &keep), ("extra.yaml", &extra)])).await?;
    let config_maps = real
        .cluster
        .resolve(&Gvk::from_api_version("v1", "ConfigMap"))
        .await
        .map_err(|e| e.to_string())?;
    let live = real.live(CONFIG_MAPS, Some(ns), "keep").await?.ok_or("keep missing")?;
    // `kubectl get -o yaml` (managedFields hidden, as kubectl does by default) and create.
    let copy = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "keep-copy", "namespace": ns, "labels": live["metadata"]["labels"], "annotations": live["metadata"]["annotations"]},
        "data": live["data"]});
    real.cluster.create(&config_maps, &copy).await.map_err(|e| e.to_string())?;
    let child = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "keep-child", "namespace": ns, "labels": live["metadata"]["labels"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "keep", "uid": live["metadata"]["uid"], "controller": true}]},
        "data": {"c": "d"}});
    real.cluster.create(&config_maps, &child).await.map_err(|e| e.to_string())?;
    let report = real.synced(&real.env("dev", &[("keep.yaml", &keep)])).await?;
    check(report.pruned == [format!("ConfigMap {ns}/extra")], || {
        format!("pruned {:?}", report.pruned)
    })?;
    let skipped: Vec<String> = report
        .plan
        .map(|p| p.skipped.iter().map(|s| s.key.name.clone()).collect())
        .unwrap_or_default();
    check(skipped == ["keep-child", "keep-copy"], || format!("skipped {skipped:?}"))?;
    for name in ["keep-copy", "keep-child", "keep"] {
        check(real.live(CONFIG_MAPS, Some(ns), name).await?.is_some(), || {
            format!("{name} was deleted")
        })?;
    }
    check(real.live(CONFIG_MAPS, Some(ns), "extra").await?.is_none(), || "extra survived".into())
}

/// Two repos' `prod` envs with `ClusterRole`s: no cross-pruning, a shared object conflicts.
async fn real_cross_repo(real: &Real) -> Checked {
    let ns = real.namespace.as_str();
    let (a_ns, b_ns) = (format!("{ns}-a"), format!("{ns}-b"));
    let name = |n: &str| format!("{ns}-{n}");
    let (a_role, a_old, b_role, shared) = (name("a"), name("a-old"), name("b"), name("shared"));
    let a = cluster_role_env("repo-a", &a_ns, &[(&a_role, "[get]"), (&a_old, "[get]")]);
    let b = cluster_role_env("repo-b", &b_ns, &[(&b_role, "[get]")]);
    let outcome = async {
        real.synced(&a).await?;
        real.synced(&b).await?;
        let a2 = cluster_role_env("repo-a", &a_ns, &[(&a_role, "[get]")]);
        let report = real.synced(&a2).await?;
        check(report.pruned == [format!("ClusterRole.rbac.authorization.k8s.io {a_old}")], || {
            format!("pruned {:?}", report.pruned)
        })?;
        let roles = ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles");
        check(real.live(roles, None, &b_role).await?.is_some(), || {
            "repo B's ClusterRole was deleted".into()
        })?;
        let a3 = cluster_role_env("repo-a", &a_ns, &[(&a_role, "[get]"), (&shared, "[get]")]);
        real.synced(&a3).await?;
        let b3 = cluster_role_env("repo-b", &b_ns, &[(&b_role, "[get]"), (&shared, "[get, list]")]);
        let report = real.sync(&b3).await;
        check(report.status == SyncStatus::Blocked, || {
            format!("second owner: {:?} {:?}", report.status, report.error)
        })?;
        let errors = report.plan.map(|p| p.errors).unwrap_or_default();
        check(errors.iter().any(|e| e.message.contains("coxswain/repo-a/prod")), || {
            format!("errors {errors:?}")
        })?;
        let live = real.live(roles, None, &shared).await?.ok_or("shared missing")?;
        check(live["rules"][0]["verbs"] == json!(["get"]), || {
            format!("shared was overwritten: {live}")
        })
    }
    .await;
    // Cluster-scoped leftovers of this run: best effort.
    if let Ok(resource) = real
        .cluster
        .resolve(&Gvk::from_api_version("rbac.authorization.k8s.io/v1", "ClusterRole"))
        .await
    {
        for role in [&a_role, &a_old, &b_role, &shared] {
            let _ = real.cluster.delete(&resource, None, role, None).await;
        }
    }
    if let Ok(resource) = real.cluster.resolve(&Gvk::from_api_version("v1", "Namespace")).await {
        for namespace in [&a_ns, &b_ns] {
            let _ = real.cluster.delete(&resource, None, namespace, None).await;
        }
    }
    outcome
}

/// Two envs whose contexts reach one cluster, one namespace: the second is refused.
async fn real_shared_namespace(real: &Real) -> Checked {
    let ns = real.namespace.as_str();
    let a = env_from(
        "a",
        Some(&format!("namespace: {ns}\ncontext: one\n")),
        &[("x.yaml", &config_map("x", &json!({"k": "a"})))],
    );
    let b = env_from(
        "b",
        Some(&format!("namespace: {ns}\ncontext: two\n")),
        &[("y.yaml", &config_map("b-config", &json!({"k": "b"})))],
    );
    real.synced(&a).await?;
    let report = real.sync(&b).await;
    check(report.status == SyncStatus::Blocked, || {
        format!("second env: {:?} {:?}", report.status, report.error)
    })?;
    let errors = report.plan.map(|p| p.errors).unwrap_or_default();
    check(errors.iter().any(|e| e.code == "namespace-taken"), || format!("errors {errors:?}"))?;
    let revisions =
        history::list(real.cluster.as_ref(), "a", ns).await.map_err(|e| e.to_string())?;
    check(revisions.len() == 1, || format!("env a's history: {} revisions", revisions.len()))?;
    check(real.live(CONFIG_MAPS, Some(ns), "b-config").await?.is_none(), || {
        "env b wrote into a's namespace".into()
    })
}

/// The previous version's objects (field manager `coxswain`) are adopted on the real server:
/// same uids, no delete, the old manager released (the field git dropped is gone).
async fn real_previous_version(real: &Real) -> Checked {
    let ns = real.namespace.as_str();
    let namespaces = real
        .cluster
        .resolve(&Gvk::from_api_version("v1", "Namespace"))
        .await
        .map_err(|e| e.to_string())?;
    real.cluster
        .create(
            &namespaces,
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await
        .map_err(|e| e.to_string())?;
    let config_maps = real
        .cluster
        .resolve(&Gvk::from_api_version("v1", "ConfigMap"))
        .await
        .map_err(|e| e.to_string())?;
    let labels = json!({"app.kubernetes.io/managed-by": "coxswain", "coxswain.dev/env": "dev"});
    let previous = ApplyOptions::coxswain(false, false);
    for (name, data) in [("settings", json!({"a": "1", "b": "2"})), ("old", json!({"x": "y"}))] {
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": labels}, "data": data});
        real.cluster.apply(&config_maps, &object, &previous).await.map_err(|e| e.to_string())?;
    }
    let inventory = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "coxswain-inventory", "namespace": ns, "labels": {"app.kubernetes.io/managed-by": "coxswain", "coxswain.dev/env": "dev", "coxswain.dev/internal": "true"}},
        "data": {"kinds": "v1/ConfigMap"}});
    real.cluster
        .apply(&config_maps, &inventory, &ApplyOptions::coxswain(true, false))
        .await
        .map_err(|e| e.to_string())?;
    let uid_before =
        real.live(CONFIG_MAPS, Some(ns), "settings").await?.ok_or("settings missing")?["metadata"]
            ["uid"]
            .clone();

    let env =
        real.env("dev", &[("settings.yaml", &config_map("settings", &json!({"a": "changed"})))]);
    let report = real.synced(&env).await?;
    check(report.pruned.is_empty(), || format!("pruned {:?}", report.pruned))?;
    let live = real.live(CONFIG_MAPS, Some(ns), "settings").await?.ok_or("settings was deleted")?;
    check(live["metadata"]["uid"] == uid_before, || "settings was re-created".into())?;
    check(live["data"] == json!({"a": "changed"}), || {
        format!("data after adoption: {}", live["data"])
    })?;
    let owners = managers(&live);
    check(!owners.iter().any(|(m, _)| m == LEGACY_FIELD_MANAGER), || {
        format!("the old manager still owns fields: {owners:?}")
    })?;
    let owner = Owner::of(&env).field_manager();
    check(owners.contains(&(owner.clone(), "Apply".into())), || {
        format!("{owner} owns nothing: {owners:?}")
    })?;
    check(real.live(CONFIG_MAPS, Some(ns), "old").await?.is_some(), || "old was deleted".into())?;
    let again = real.sync(&env).await;
    check(again.status == SyncStatus::NoChanges, || {
        format!("second sync: {:?} {:?}", again.status, again.error)
    })
}

/// Revisions are Secrets on a real server too, and restore byte for byte.
async fn real_secret_revisions(real: &Real) -> Checked {
    let ns = real.namespace.as_str();
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: hunter2\n";
    let env = env_from(
        "dev",
        Some(&format!("namespace: {ns}\nallowPlaintextSecrets: true\n")),
        &[("creds.yaml", secret)],
    );
    real.synced(&env).await?;
    let (revision, raw) =
        history::find(real.cluster.as_ref(), "dev", ns, 1).await.map_err(|e| e.to_string())?;
    check(raw["kind"] == "Secret" && raw["type"] == history::SECRET_TYPE, || {
        format!("revision object {}", raw["kind"])
    })?;
    let restored = history::restore(&env, &revision, &raw).map_err(|e| e.to_string())?;
    check(history::digest_of(&restored.objects) == history::digest_of(&env.objects), || {
        "restored manifests differ".into()
    })?;
    let config_maps = real
        .cluster
        .resolve(&Gvk::from_api_version("v1", "ConfigMap"))
        .await
        .map_err(|e| e.to_string())?;
    let listed = real
        .cluster
        .list(&config_maps, Some(ns), Some("coxswain.dev/revision"))
        .await
        .map_err(|e| e.to_string())?;
    check(listed.is_empty(), || format!("{} revision ConfigMaps", listed.len()))
}

/// Takes the env's Lease over (as a sync that found it expired would) the first time the sync
/// reports an applied object: what a laptop suspended mid-sync finds when it wakes.
struct TakeOverAfterFirstApply {
    cluster: Arc<dyn Cluster>,
    namespace: String,
    runtime: tokio::runtime::Handle,
    done: std::sync::atomic::AtomicBool,
}

impl coxswain::sync::Progress for TakeOverAfterFirstApply {
    fn event(&self, _env: &str, event: &coxswain::sync::SyncEvent) {
        use std::sync::atomic::Ordering;
        if !matches!(event, coxswain::sync::SyncEvent::Applied { .. })
            || self.done.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let (cluster, namespace) = (self.cluster.clone(), self.namespace.clone());
        tokio::task::block_in_place(|| {
            self.runtime.block_on(async move {
                let gvk = Gvk::from_api_version("coordination.k8s.io/v1", "Lease");
                let leases = cluster.resolve(&gvk).await.expect("leases");
                let mut lease = cluster
                    .get(&leases, Some(&namespace), "coxswain-sync")
                    .await
                    .expect("get the lease")
                    .expect("the sync holds a lease");
                lease["spec"]["holderIdentity"] = json!("ci-job-7/42-beef");
                cluster.replace(&leases, &lease).await.expect("take the lease over");
            });
        });
    }
}

/// A sync whose lease is taken over after its first tier writes nothing more, records an
/// `interrupted` revision and leaves the new holder's lease alone.
async fn real_lease_taken_over(real: &Real) -> Checked {
    let ns = real.namespace.as_str();
    let env = real.env(
        "dev",
        &[
            ("settings.yaml", &config_map("settings", &json!({"mode": "fast"}))),
            ("server.yaml", &deployment("server", "registry.example/server:1", 1, &[])),
        ],
    );
    let progress = TakeOverAfterFirstApply {
        cluster: real.cluster.clone(),
        namespace: ns.to_owned(),
        runtime: tokio::runtime::Handle::current(),
        done: std::sync::atomic::AtomicBool::new(false),
    };
    let report = sync_env(real.cluster.clone(), &env, &options(), &progress).await;
    check(report.status == SyncStatus::Interrupted, || {
        format!("status {:?}: {:?}", report.status, report.error)
    })?;
    check(report.applied == [format!("ConfigMap {ns}/settings")], || {
        format!("applied {:?}", report.applied)
    })?;
    let message = report.error.as_ref().map(ToString::to_string).unwrap_or_default();
    check(message.contains("taken over by ci-job-7/42-beef"), || message.clone())?;
    let server = real.live(("apps/v1", "Deployment", "deployments"), Some(ns), "server").await?;
    check(server.is_none(), || "the second tier was written after the takeover".into())?;
    let lease =
        real.live(("coordination.k8s.io/v1", "Lease", "leases"), Some(ns), "coxswain-sync").await?;
    let holder = lease.as_ref().and_then(|l| l.pointer("/spec/holderIdentity")).cloned();
    check(holder == Some(json!("ci-job-7/42-beef")), || format!("lease holder {holder:?}"))?;
    let revisions =
        history::list(real.cluster.as_ref(), "dev", ns).await.map_err(|e| e.to_string())?;
    let newest = revisions.first().map(|(r, _)| r);
    check(newest.is_some_and(|r| r.outcome == Outcome::Interrupted), || {
        format!("newest revision {newest:?}")
    })
}
