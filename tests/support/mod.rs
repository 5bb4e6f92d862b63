//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod rollouts;

use coxswain::cluster::{ApplyOptions, Cluster};
use coxswain::inventory;
use coxswain::ownership::{Owner, desired_with_ownership};
use coxswain::repo::{Environment, SourceFile};
use coxswain_memcluster::MemoryCluster;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Sync options for tests: a fixed holder, a short health timeout polled often.
pub fn sync_options() -> coxswain::sync::SyncOptions {
    coxswain::sync::SyncOptions {
        holder: "test@host".into(),
        timeout: std::time::Duration::from_secs(5),
        poll_interval: std::time::Duration::from_millis(10),
        ..coxswain::sync::SyncOptions::default()
    }
}

/// The bundled example repo's root.
pub fn example_repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds an environment from in-memory files (`name`, `text`).
pub fn env_from(name: &str, config: Option<&str>, files: &[(&str, &str)]) -> Environment {
    let files: Vec<SourceFile> = files
        .iter()
        .map(|(path, text)| SourceFile {
            path: format!("environments/{name}/{path}"),
            contents: text.as_bytes().to_vec(),
        })
        .collect();
    let env = Environment::from_files(name, config, &files);
    assert!(!env.has_errors(), "test env has errors: {:?}", env.diagnostics);
    env
}

/// Applies every object of `env` the way a sync does, plus the inventory, so tests of the plan
/// can start from a synced state independently of the sync engine.
pub async fn apply_directly(cluster: &MemoryCluster, env: &Environment) {
    cluster.add_namespace(&env.namespace);
    let owner = Owner::of(env);
    let mut objects = BTreeMap::new();
    for object in &env.objects {
        let resource = cluster.resolve(&object.gvk).await.unwrap();
        let live = cluster
            .apply(
                &resource,
                &desired_with_ownership(object, &owner),
                &owner.apply_options(false, false),
            )
            .await
            .unwrap();
        let entry = inventory::Entry::of(&live).unwrap();
        objects.insert(entry.uid.clone(), entry);
    }
    let config_maps = cluster.resolve(&inventory::config_map_gvk()).await.unwrap();
    let record = inventory::inventory_object(&owner, &env.namespace, &objects, &BTreeSet::new());
    cluster.apply(&config_maps, &record, &owner.apply_options(true, false)).await.unwrap();
}

/// Applies `env` the way Coxswain did before instance ids: labels without an instance, field
/// manager `coxswain`, an inventory of kinds only.
pub async fn apply_as_previous_version(cluster: &MemoryCluster, env: &Environment) {
    cluster.add_namespace(&env.namespace);
    let mut kinds = Vec::new();
    for object in &env.objects {
        let resource = cluster.resolve(&object.gvk).await.unwrap();
        let mut value = object.value.clone();
        value["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("coxswain");
        value["metadata"]["labels"]["coxswain.dev/env"] = json!(env.name);
        value["metadata"]["annotations"]["coxswain.dev/source"] = json!(object.source.file);
        cluster.apply(&resource, &value, &ApplyOptions::coxswain(false, false)).await.unwrap();
        kinds.push(format!("{}/{}", object.gvk.api_version(), object.gvk.kind));
    }
    kinds.sort();
    kinds.dedup();
    let config_maps = cluster.resolve(&inventory::config_map_gvk()).await.unwrap();
    let record = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "coxswain-inventory", "namespace": env.namespace,
            "labels": {"app.kubernetes.io/managed-by": "coxswain", "coxswain.dev/env": env.name, "coxswain.dev/internal": "true"}},
        "data": {"kinds": kinds.join("\n")}});
    cluster.apply(&config_maps, &record, &ApplyOptions::coxswain(true, false)).await.unwrap();
}

/// A model-server Deployment manifest.
pub fn deployment(name: &str, image: &str, replicas: u32, env_vars: &[(&str, &str)]) -> String {
    let vars = env_vars.iter().fold(String::new(), |mut out, (k, v)| {
        let _ = write!(out, "            - name: {k}\n              value: \"{v}\"\n");
        out
    });
    let env_block = if vars.is_empty() { String::new() } else { format!("          env:\n{vars}") };
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: server\n          image: {image}\n{env_block}          resources:\n            requests: {{cpu: 100m, memory: 128Mi}}\n            limits: {{memory: 256Mi}}\n"
    )
}

/// Copies a folder tree.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The author and committer of test commits.
pub fn signature() -> git2::Signature<'static> {
    git2::Signature::now("Test User", "test@example.com").unwrap()
}

/// Stages everything and commits it on HEAD.
pub fn commit_all_in(repo: &git2::Repository, message: &str) -> git2::Oid {
    let mut index = repo.index().unwrap();
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(Some("HEAD"), &signature(), &signature(), message, &tree, &parents).unwrap()
}

/// `git diff old new`, without the `index` lines (blob ids).
pub fn diff_text(repo: &git2::Repository, old: git2::Oid, new: git2::Oid) -> String {
    let old = repo.find_commit(old).unwrap().tree().unwrap();
    let new = repo.find_commit(new).unwrap().tree().unwrap();
    let diff = repo.diff_tree_to_tree(Some(&old), Some(&new), None).unwrap();
    let mut out = String::new();
    diff.print(git2::DiffFormat::Patch, |_, _, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            out.push(line.origin());
        }
        out.push_str(std::str::from_utf8(line.content()).unwrap());
        true
    })
    .unwrap();
    out.lines().filter(|l| !l.starts_with("index ")).flat_map(|l| [l, "\n"]).collect()
}
