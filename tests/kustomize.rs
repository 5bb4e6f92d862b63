//! Kustomize overlays (issue #14 item 5) on `tests/fixtures/kustomize`, a layout in the style of
//! argocd-example-apps' kustomize-guestbook: `base/` plus `environments/dev|staging|prod` overlays
//! with `images:` entries and patches. Overlays load (sources traced into `base/`), plan, sync
//! into the in-memory cluster, and promote an image through the kustomization's `images:`.
//!
//! Rendering needs `kubectl` (or `kustomize`) on PATH. Without either the tests fail and say
//! what to install, unless `COXSWAIN_SKIP_KUSTOMIZE=1` is set: then they are skipped with the
//! reason.

mod support;

use coxswain::cluster::Cluster as _;
use coxswain::exit::ExitCode;
use coxswain::plan::{Action, PlanOptions, plan_env};
use coxswain::repo::Repo;
use coxswain::sync::{Silent, SyncStatus, sync_env};
use coxswain_memcluster::MemoryCluster;
use git2::{BranchType, Repository, RepositoryInitOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// A command's stdout then stderr.
fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kustomize")
}

/// Whether a renderer is there; without one the test fails, or (opted out) is skipped.
fn renderer_present() -> bool {
    let found = ["kubectl", "kustomize"].iter().any(|program| {
        Command::new(program).arg("version").arg("--client").output().is_ok()
            || Command::new(program).arg("version").output().is_ok()
    });
    if found {
        return true;
    }
    assert!(
        std::env::var_os("COXSWAIN_SKIP_KUSTOMIZE").is_some(),
        "these tests render kustomize overlays and need `kubectl` 1.21 or newer (Kubernetes' apt \
         repository, pkgs.k8s.io; Debian's kubernetes-client 1.20 embeds a kustomize too old \
         for `patches:` and `labels:`) or the kustomize binary on PATH; set \
         COXSWAIN_SKIP_KUSTOMIZE=1 to skip them"
    );
    eprintln!("skipped: neither kubectl nor kustomize is on PATH (COXSWAIN_SKIP_KUSTOMIZE is set)");
    false
}

#[test]
fn overlays_load_with_their_images_patches_and_sources_in_base() {
    if !renderer_present() {
        return;
    }
    let repo = Repo::open(&fixture()).unwrap();
    let envs = repo.load(None).unwrap();
    let image = |env: &str, container: usize| {
        let env = envs.iter().find(|e| e.name == env).unwrap();
        assert!(!env.has_errors(), "{env:?}");
        let deployment = env.objects.iter().find(|o| o.kind() == "Deployment").unwrap();
        let containers = deployment.value["spec"]["template"]["spec"]["containers"].clone();
        let found = containers
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == if container == 0 { "guestbook-ui" } else { "metrics" });
        (
            found.unwrap()["image"].as_str().unwrap().to_owned(),
            deployment.value["spec"]["replicas"].clone(),
        )
    };
    assert_eq!(image("dev", 0).0, "gcr.io/heptio-images/ks-guestbook-demo:0.3");
    assert_eq!(image("dev", 1).0, "prom/statsd-exporter:v0.27.1");
    assert_eq!(
        image("staging", 0),
        ("gcr.io/heptio-images/ks-guestbook-demo:0.2".into(), 2.into())
    );
    assert_eq!(
        image("prod", 0),
        ("registry.acme.example/mirror/ks-guestbook-demo:0.1".into(), 3.into())
    );

    let dev = envs.iter().find(|e| e.name == "dev").unwrap();
    let kinds: Vec<(&str, &str)> = dev.objects.iter().map(|o| (o.kind(), o.name())).collect();
    assert_eq!(kinds, [("Deployment", "guestbook-ui"), ("Service", "guestbook-ui")]);
    for object in &dev.objects {
        assert_eq!(object.key.namespace.as_deref(), Some("guestbook-dev"));
    }
    let deployment = dev.objects.iter().find(|o| o.kind() == "Deployment").unwrap();
    assert_eq!(deployment.source.to_string(), "base/guestbook-ui-deployment.yaml:1");
    // Field lines come from the base file too.
    assert_eq!(deployment.line_of("/spec/revisionHistoryLimit"), 7);
    let kustomization = dev.kustomization.as_ref().unwrap();
    assert_eq!(kustomization.file, "environments/dev/kustomization.yaml");
    assert_eq!(kustomization.extra_dirs, ["base"]);
    assert_eq!(kustomization.images.len(), 1);
    assert_eq!(kustomization.patch_files, ["environments/dev/metrics-image.yaml"]);

    // The app re-plans every overlay whose base changed, and only those for an overlay's file.
    let root = repo.root();
    let known: Vec<String> = ["dev", "prod", "staging"].map(String::from).to_vec();
    let overlays = coxswain::repo::overlay_dirs(root, &known);
    assert_eq!(overlays.len(), 3, "{overlays:?}");
    let touched = |path: &str| {
        coxswain::repo::envs_touched_with(root, &[root.join(path)], &known, &overlays)
            .into_iter()
            .collect::<Vec<_>>()
    };
    assert_eq!(touched("base/guestbook-ui-svc.yaml"), known);
    assert_eq!(touched("environments/staging/replicas.yaml"), ["staging"]);
    assert!(touched("pipelines/guestbook.yaml").is_empty());
}

#[test]
fn a_broken_overlay_is_an_error_naming_its_kustomization() {
    if !renderer_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    support::copy_dir(&fixture(), dir.path());
    std::fs::write(
        dir.path().join("environments/dev/kustomization.yaml"),
        "resources:\n  - ../../no-such-base\n",
    )
    .unwrap();
    let env = Repo::open(dir.path()).unwrap().load_env("dev");
    let errors: Vec<String> = env.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("environments/dev/kustomization.yaml"), "{errors:?}");
    assert!(errors[0].contains("kustomize-failed"), "{errors:?}");
    assert!(errors[0].contains("no-such-base"), "kustomize's own reason is kept: {errors:?}");
    assert!(env.objects.is_empty());
}

#[test]
fn a_missing_renderer_says_what_to_install() {
    // No renderer needed: PATH is emptied for the child.
    let output = Command::new(env!("CARGO_BIN_EXE_coxswain"))
        .args(["check", "--env", "dev", "--repo"])
        .arg(fixture())
        .env("PATH", "")
        .env_remove("COXSWAIN_KUSTOMIZE")
        .output()
        .unwrap();
    let text = output_text(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("environments/dev/kustomization.yaml"), "{text}");
    assert!(
        text.contains(
            "neither `kustomize` nor `kubectl` is on PATH; install kubectl 1.21 or newer"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn an_overlay_plans_and_syncs_and_a_resync_changes_nothing() {
    if !renderer_present() {
        return;
    }
    let env = Repo::open(&fixture()).unwrap().load_env("staging");
    assert!(!env.has_errors(), "{:?}", env.diagnostics);
    let cluster = MemoryCluster::new();
    let plan = plan_env(&cluster, &env, &PlanOptions::default()).await.unwrap();
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    let actions: Vec<(String, Action)> =
        plan.objects.iter().map(|o| (o.key.to_string(), o.action)).collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(actions.iter().all(|(_, action)| *action == Action::Create), "{actions:?}");

    let report = sync_env(Arc::new(cluster.clone()), &env, &support::sync_options(), &Silent).await;
    assert_eq!(report.status, SyncStatus::Synced, "{report:?}");
    let deployment = cluster
        .get(
            &cluster
                .resolve(&coxswain::cluster::Gvk::from_api_version("apps/v1", "Deployment"))
                .await
                .unwrap(),
            Some("guestbook-staging"),
            "guestbook-ui",
        )
        .await
        .unwrap()
        .unwrap();
    let labels = &deployment["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/managed-by"], "coxswain");
    assert_eq!(labels["coxswain.dev/env"], "staging");
    assert_eq!(labels["app.kubernetes.io/part-of"], "guestbook", "the base's labels apply");
    assert_eq!(
        deployment["metadata"]["annotations"]["coxswain.dev/source"],
        "base/guestbook-ui-deployment.yaml"
    );
    assert_eq!(deployment["spec"]["replicas"], 2);

    let again = sync_env(Arc::new(cluster.clone()), &env, &support::sync_options(), &Silent).await;
    assert_eq!(again.status, SyncStatus::NoChanges, "{again:?}");
}

/// The fixture committed on `main` of a fresh git repo (no remote).
fn git_fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    support::copy_dir(&fixture(), &work);
    let repo =
        Repository::init_opts(&work, RepositoryInitOptions::new().initial_head("main")).unwrap();
    let mut config = repo.config().unwrap();
    config.set_str("user.name", "Test User").unwrap();
    config.set_str("user.email", "test@example.com").unwrap();
    let head = support::commit_all_in(&repo, "Guestbook overlays");
    // As a clone of the reviewed remote branch has it: protected prod syncs only pushed commits.
    repo.reference("refs/remotes/origin/main", head, true, "test: fetched").unwrap();
    (dir, work)
}

fn promote(work: &Path, args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_coxswain"))
        .arg("promote")
        .args(args)
        .arg("--repo")
        .arg(work)
        .env("COXSWAIN_CLUSTER", "memory")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .output()
        .unwrap();
    let text = output_text(&output);
    (output.status.code(), text)
}

const EXPECTED_STAGING_DIFF: &str = "\
diff --git a/environments/staging/kustomization.yaml b/environments/staging/kustomization.yaml
--- a/environments/staging/kustomization.yaml
+++ b/environments/staging/kustomization.yaml
@@ -4,7 +4,7 @@ resources:
   - ../../base
 images:
   - name: gcr.io/heptio-images/ks-guestbook-demo
-    newTag: \"0.2\"
+    newTag: \"0.3\"
 patches:
   - path: replicas.yaml
   - path: metrics-image.yaml
diff --git a/environments/staging/metrics-image.yaml b/environments/staging/metrics-image.yaml
--- a/environments/staging/metrics-image.yaml
+++ b/environments/staging/metrics-image.yaml
@@ -7,4 +7,4 @@ spec:
     spec:
       containers:
         - name: metrics
-          image: prom/statsd-exporter:v0.26.0
+          image: prom/statsd-exporter:v0.27.1
";

#[test]
fn promotion_edits_the_images_entry_and_the_overlay_patch_not_the_base() {
    if !renderer_present() {
        return;
    }
    let (_dir, work) = git_fixture();
    let repo = Repository::open(&work).unwrap();
    let head = repo.head().unwrap().target().unwrap();

    let (code, text) = promote(&work, &["staging", "--no-push"]);
    assert_eq!(code, Some(0), "{text}");
    let branches: Vec<git2::Oid> = repo
        .branches(Some(BranchType::Local))
        .unwrap()
        .map(|b| b.unwrap().0.get().target().unwrap())
        .filter(|oid| *oid != head)
        .collect();
    let [tip] = branches.as_slice() else { panic!("one promotion branch expected: {text}") };
    assert_eq!(support::diff_text(&repo, head, *tip), EXPECTED_STAGING_DIFF);

    // The promoted overlay renders the incoming image under staging's own settings.
    let promoted = tempfile::tempdir().unwrap();
    support::copy_dir(&work, promoted.path());
    let checkout = Repository::open(promoted.path()).unwrap();
    checkout
        .checkout_tree(
            &checkout.find_object(*tip, None).unwrap(),
            Some(git2::build::CheckoutBuilder::new().force()),
        )
        .unwrap();
    let staging = Repo::open(promoted.path()).unwrap().load_env("staging");
    assert!(!staging.has_errors(), "{:?}", staging.diagnostics);
    let deployment = staging.objects.iter().find(|o| o.kind() == "Deployment").unwrap();
    let images: Vec<&str> = deployment.value["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["image"].as_str().unwrap())
        .collect();
    assert!(images.contains(&"gcr.io/heptio-images/ks-guestbook-demo:0.3"), "{images:?}");
    assert!(images.contains(&"prom/statsd-exporter:v0.27.1"), "{images:?}");
    assert_eq!(deployment.value["spec"]["replicas"], 2, "staging keeps its own replicas");
}

#[test]
fn an_image_only_a_shared_base_sets_is_not_promoted_by_editing_the_base() {
    if !renderer_present() {
        return;
    }
    let (_dir, work) = git_fixture();
    // staging now runs a newer exporter (from its patch); prod takes it from the base.
    let (code, text) = promote(&work, &["prod", "--from", "dev", "--no-push", "--dry-run"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "the image prom/statsd-exporter:v0.26.0 comes from base/guestbook-ui-deployment.yaml"
        ),
        "{text}"
    );
    assert!(text.contains("environments/prod/kustomization.yaml"), "{text}");
}

fn connector(cluster: &MemoryCluster) -> coxswain::engine::Connector {
    let shared = cluster.clone();
    Arc::new(move |_context| {
        let cluster: Arc<dyn coxswain::cluster::Cluster> = Arc::new(shared.clone());
        Box::pin(async move { Ok(cluster) })
    })
}

/// `coxswain --repo ROOT ARGS…` in-process, against `cluster`.
fn cli(root: &Path, cluster: &MemoryCluster, args: &[&str]) -> ExitCode {
    let mut argv = vec!["coxswain".to_owned(), "--repo".into(), root.display().to_string()];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    coxswain::cli::run_with(argv, connector(cluster))
}

fn edit_and_commit(work: &Path, file: &str, from: &str, to: &str) {
    let path = work.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    support::commit_all_in(&Repository::open(work).unwrap(), &format!("edit {file}"));
}

#[test]
fn a_revision_of_an_overlay_is_verified_against_its_commit_base_included() {
    if !renderer_present() {
        return;
    }
    let (_dir, work) = git_fixture();
    let cluster = MemoryCluster::new();
    assert_eq!(cli(&work, &cluster, &["sync", "--env", "dev", "--yes"]), ExitCode::Ok);
    // The next commit changes the overlay's tag and the base it shares.
    edit_and_commit(&work, "environments/dev/kustomization.yaml", "\"0.3\"", "\"0.4\"");
    edit_and_commit(
        &work,
        "base/guestbook-ui-deployment.yaml",
        "revisionHistoryLimit: 3",
        "revisionHistoryLimit: 5",
    );
    assert_eq!(cli(&work, &cluster, &["sync", "--env", "dev", "--yes"]), ExitCode::Ok);
    let key = coxswain::cluster::ObjectKey::new(
        &coxswain::cluster::Gvk::from_api_version("apps/v1", "Deployment"),
        Some("guestbook-dev"),
        "guestbook-ui",
    );
    assert_eq!(cluster.object(&key).unwrap()["spec"]["revisionHistoryLimit"], 5);
    // Revision 1 is rendered from its commit (overlay and base as they were): verified, restored
    // without --allow-unverified.
    assert_eq!(
        cli(&work, &cluster, &["rollback", "--env", "dev", "--to", "1", "--yes"]),
        ExitCode::Ok
    );
    let deployment = cluster.object(&key).unwrap();
    assert_eq!(deployment["spec"]["revisionHistoryLimit"], 3);
    let images = deployment["spec"]["template"]["spec"]["containers"].to_string();
    assert!(images.contains("ks-guestbook-demo:0.3"), "{images}");

    // `--git` would restore environments/dev/ but not the shared base that changed since:
    // refused before anything is applied or committed.
    let head = Repository::open(&work).unwrap().head().unwrap().target().unwrap();
    let before = cluster.resource_version();
    assert_eq!(
        cli(&work, &cluster, &["rollback", "--env", "dev", "--to", "1", "--git", "--yes"]),
        ExitCode::Error
    );
    assert_eq!(Repository::open(&work).unwrap().head().unwrap().target().unwrap(), head);
    assert_eq!(cluster.resource_version(), before, "nothing was written");
}

#[test]
fn a_kustomization_below_the_env_folder_is_named_not_read_as_a_manifest() {
    let files = [coxswain::repo::SourceFile {
        path: "environments/dev/overlay/kustomization.yaml".into(),
        contents: b"resources: [../../../base]\n".to_vec(),
    }];
    let env = coxswain::repo::Environment::from_files("dev", None, &files);
    let errors: Vec<String> = env.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "environments/dev/overlay/kustomization.yaml: error[kustomization-not-at-root]"
        ),
        "{errors:?}"
    );
}

#[test]
fn a_protected_overlay_refuses_uncommitted_changes_in_its_base() {
    if !renderer_present() {
        return;
    }
    let (_dir, work) = git_fixture();
    let cluster = MemoryCluster::new();
    let base = work.join("base/guestbook-ui-deployment.yaml");
    let text = std::fs::read_to_string(&base).unwrap();
    std::fs::write(&base, text.replace("revisionHistoryLimit: 3", "revisionHistoryLimit: 4"))
        .unwrap();
    // prod is protected: the base it reads is part of what it syncs.
    assert_eq!(cli(&work, &cluster, &["sync", "--env", "prod", "--yes"]), ExitCode::Error);
    assert!(cluster.objects().is_empty(), "nothing was written");
    std::fs::write(&base, text).unwrap();
    assert_eq!(cli(&work, &cluster, &["sync", "--env", "prod", "--yes"]), ExitCode::Ok);
}

#[test]
fn an_overlay_reading_outside_the_repo_is_refused_without_rendering() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    support::copy_dir(&fixture(), &repo);
    std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
    std::fs::write(
        repo.join("environments/dev/kustomization.yaml"),
        "resources:\n  - ../../base\n  - ../../../elsewhere\n",
    )
    .unwrap();
    let env = Repo::open(&repo).unwrap().load_env("dev");
    let errors: Vec<String> = env.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        ["environments/dev/kustomization.yaml: error[path-escapes-repo]: ../../../elsewhere \
          resolves outside the repo; what an overlay reads must be in git (remote bases by URL \
          are fine)"]
    );
    assert!(env.objects.is_empty());
}

#[test]
fn the_renderers_warnings_are_reported_against_the_kustomization() {
    if !renderer_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    support::copy_dir(&fixture(), dir.path());
    // `patchesStrategicMerge` still works, but kustomize 5 warns that it is deprecated.
    let file = dir.path().join("environments/staging/kustomization.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(
            "patches:\n  - path: replicas.yaml\n  - path: metrics-image.yaml\n",
            "patchesStrategicMerge:\n  - replicas.yaml\n  - metrics-image.yaml\n",
        ),
    )
    .unwrap();
    let env = Repo::open(dir.path()).unwrap().load_env("staging");
    assert!(!env.has_errors(), "{:?}", env.diagnostics);
    let deployment = env.objects.iter().find(|o| o.kind() == "Deployment").unwrap();
    assert_eq!(deployment.value["spec"]["replicas"], 2, "the patch still applies");
    let warnings: Vec<String> = env.diagnostics.iter().map(ToString::to_string).collect();
    // kubectl's embedded kustomize 4 does not warn; kustomize 5 does.
    for warning in &warnings {
        assert!(
            warning.starts_with(
                "environments/staging/kustomization.yaml: warning[kustomize-warning]: "
            ),
            "{warnings:?}"
        );
    }
    let version = Command::new("kubectl").args(["version", "--client"]).output();
    let says_v5 =
        version.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("Kustomize Version: v5"));
    if says_v5 {
        assert!(warnings.iter().any(|w| w.contains("patchesStrategicMerge")), "{warnings:?}");
    }
}

#[test]
fn set_image_refuses_a_workload_an_overlay_renders_and_leaves_git_alone() {
    if !renderer_present() {
        return;
    }
    let (_dir, work) = git_fixture();
    let branches = |work: &Path| {
        let repo = Repository::open(work).unwrap();
        repo.branches(None).unwrap().count()
    };
    let before = branches(&work);
    let output = Command::new(env!("CARGO_BIN_EXE_coxswain"))
        .args(["set", "image", "guestbook-ui", "guestbook-ui=example/ui:9", "--env", "staging"])
        .arg("--no-push")
        .arg("--repo")
        .arg(&work)
        .output()
        .unwrap();
    let text = output_text(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("edit the overlay"), "{text}");
    assert_eq!(branches(&work), before, "a branch was created");
}
