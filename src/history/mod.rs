//! Sync history (design §6): one `ConfigMap` per sync in the env's namespace, holding who synced
//! what from which git revision, the outcome, and the full desired manifests (gzip + base64) so
//! any revision can be restored. The last [`KEEP`] revisions are kept.
//!
//! A revision `ConfigMap` can be written by anyone allowed to write `ConfigMap`s in the namespace,
//! so nothing read back from one is trusted: [`restore`] loads its manifests through the same
//! rules as files in git, and each revision records a digest of its manifests that the engine
//! compares with what the revision's git commit renders.

mod restore;

pub use restore::{RestoreError, digest, digest_of, restore};

use crate::cluster::{ApplyOptions, Cluster, ClusterError, Gvk, ObjectKey, ResourceType};
use crate::ownership::{ENV_LABEL, INTERNAL_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::repo::{DesiredObject, Source};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};

/// Revisions kept per environment.
pub const KEEP: usize = 10;
pub const REVISION_LABEL: &str = "coxswain.dev/revision";
const META_KEY: &str = "revision.json";
const MANIFESTS_KEY: &str = "manifests.json.gz.b64";
/// A compressed revision larger than this is refused (a `ConfigMap` holds at most 1 MiB).
const MAX_STORED_BYTES: usize = 900 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Succeeded,
    /// Applied, but health did not converge.
    Unhealthy,
    /// Stopped part-way: `applied` lists what was written.
    Failed,
}

/// What a revision records besides the manifests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    pub number: u64,
    pub git_sha: Option<String>,
    /// Whether the working tree had uncommitted changes in the env folder.
    #[serde(default)]
    pub dirty: bool,
    pub author: String,
    /// RFC 3339.
    pub time: String,
    pub outcome: Outcome,
    pub message: String,
    pub applied: Vec<String>,
    pub pruned: Vec<String>,
    /// When this sync restored an earlier revision.
    #[serde(default)]
    pub rollback_of: Option<u64>,
    /// [`digest`] of the stored manifests (absent in revisions written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub manifests_digest: Option<String>,
}

/// A desired object as stored in a revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredObject {
    pub file: String,
    pub line: u32,
    pub object: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("revision {number} of environment {env} not found (revisions kept: {kept})")]
    NotFound { env: String, number: u64, kept: String },
    #[error("revision {name} is unreadable: {message}")]
    Corrupt { name: String, message: String },
    #[error(
        "the manifests of this sync are {bytes} bytes compressed, over the {MAX_STORED_BYTES}-byte limit of a revision ConfigMap"
    )]
    TooLarge { bytes: usize },
    #[error(
        "environment {env} has no successful revision before revision {current} to roll back to"
    )]
    NoTarget { env: String, current: u64 },
    #[error("environment {env} has no sync history yet")]
    NoHistory { env: String },
}

fn config_maps_gvk() -> Gvk {
    Gvk::from_api_version("v1", "ConfigMap")
}

fn selector(env: &str) -> String {
    format!("{INTERNAL_LABEL}=true,{ENV_LABEL}={env},{REVISION_LABEL}")
}

/// Revisions of an environment, newest first, with their raw objects.
pub async fn list(
    cluster: &dyn Cluster,
    env: &str,
    namespace: &str,
) -> Result<Vec<(Revision, Value)>, HistoryError> {
    let resource = cluster.resolve(&config_maps_gvk()).await?;
    let mut revisions = Vec::new();
    for item in cluster.list(&resource, Some(namespace), Some(&selector(env))).await? {
        let name = item.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?").to_owned();
        let meta = item
            .pointer(&format!("/data/{}", META_KEY.replace('/', "~1")))
            .and_then(Value::as_str)
            .ok_or_else(|| HistoryError::Corrupt {
                name: name.clone(),
                message: format!("no {META_KEY}"),
            })?;
        let revision: Revision = serde_json::from_str(meta)
            .map_err(|e| HistoryError::Corrupt { name, message: e.to_string() })?;
        revisions.push((revision, item));
    }
    revisions.sort_by_key(|(revision, _)| std::cmp::Reverse(revision.number));
    Ok(revisions)
}

/// The manifests stored in a revision object.
pub fn manifests(raw: &Value) -> Result<Vec<StoredObject>, HistoryError> {
    let name = raw.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?").to_owned();
    let corrupt = |message: String| HistoryError::Corrupt { name: name.clone(), message };
    let encoded = raw
        .pointer(&format!("/data/{MANIFESTS_KEY}"))
        .and_then(Value::as_str)
        .ok_or_else(|| corrupt(format!("no {MANIFESTS_KEY}")))?;
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| corrupt(e.to_string()))?;
    let mut json = String::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_string(&mut json)
        .map_err(|e| corrupt(e.to_string()))?;
    serde_json::from_str(&json).map_err(|e| corrupt(e.to_string()))
}

/// Rebuilds desired objects from a revision, for rollback.
pub fn desired_objects(stored: &[StoredObject]) -> Vec<DesiredObject> {
    stored
        .iter()
        .filter_map(|s| {
            let key = ObjectKey::of(&s.object)?;
            let gvk = Gvk::from_api_version(
                s.object.get("apiVersion")?.as_str()?,
                s.object.get("kind")?.as_str()?,
            );
            Some(DesiredObject::new(
                gvk,
                key,
                s.object.clone(),
                Source { file: s.file.clone(), line: s.line },
                std::sync::Arc::default(),
            ))
        })
        .collect()
}

/// Stores a revision (numbered after the newest) and deletes those beyond [`KEEP`].
pub async fn record(
    cluster: &dyn Cluster,
    env: &str,
    namespace: &str,
    mut revision: Revision,
    objects: &[DesiredObject],
) -> Result<Revision, HistoryError> {
    let resource = cluster.resolve(&config_maps_gvk()).await?;
    let existing = list(cluster, env, namespace).await?;
    revision.number = existing.first().map_or(1, |(r, _)| r.number + 1);
    let stored: Vec<StoredObject> = objects
        .iter()
        .map(|o| StoredObject {
            file: o.source.file.clone(),
            line: o.source.line,
            object: o.value.clone(),
        })
        .collect();
    revision.manifests_digest = Some(digest(&stored));
    let json = serde_json::to_vec(&stored).map_err(|e| HistoryError::Corrupt {
        name: "new revision".into(),
        message: e.to_string(),
    })?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = encoder.write_all(&json).and_then(|()| encoder.finish()).map_err(|e| {
        HistoryError::Corrupt { name: "new revision".into(), message: e.to_string() }
    })?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(compressed);
    if encoded.len() > MAX_STORED_BYTES {
        return Err(HistoryError::TooLarge { bytes: encoded.len() });
    }
    let meta = serde_json::to_string_pretty(&revision).unwrap_or_default();
    let object = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": format!("coxswain-rev-{}", revision.number),
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, ENV_LABEL: env, INTERNAL_LABEL: "true", REVISION_LABEL: revision.number.to_string()}
        },
        "data": {META_KEY: meta, MANIFESTS_KEY: encoded}
    });
    cluster.apply(&resource, &object, &ApplyOptions::coxswain(true, false)).await?;
    for (old, raw) in existing.iter().skip(KEEP - 1) {
        if let Some(name) = raw.pointer("/metadata/name").and_then(Value::as_str)
            && let Err(error) = cluster.delete(&resource, Some(namespace), name).await
        {
            tracing::warn!(revision = old.number, %error, "could not delete an old revision");
        }
    }
    Ok(revision)
}

/// Finds revision `number`.
pub async fn find(
    cluster: &dyn Cluster,
    env: &str,
    namespace: &str,
    number: u64,
) -> Result<(Revision, Value), HistoryError> {
    let revisions = list(cluster, env, namespace).await?;
    let kept: Vec<String> = revisions.iter().map(|(r, _)| r.number.to_string()).collect();
    revisions.into_iter().find(|(r, _)| r.number == number).ok_or_else(|| HistoryError::NotFound {
        env: env.into(),
        number,
        kept: if kept.is_empty() { "none".into() } else { kept.join(", ") },
    })
}

/// The revision a rollback restores: `to`, or the last successful one before the newest.
pub async fn rollback_target(
    cluster: &dyn Cluster,
    env: &str,
    namespace: &str,
    to: Option<u64>,
) -> Result<(Revision, Value), HistoryError> {
    if let Some(number) = to {
        return find(cluster, env, namespace, number).await;
    }
    let revisions = list(cluster, env, namespace).await?;
    let Some((current, _)) = revisions.first() else {
        return Err(HistoryError::NoHistory { env: env.to_owned() });
    };
    let current = current.number;
    revisions
        .into_iter()
        .skip(1)
        .find(|(r, _)| r.outcome == Outcome::Succeeded)
        .ok_or(HistoryError::NoTarget { env: env.to_owned(), current })
}

/// The newest successful revision other than `except` (the automatic rollback's target).
pub async fn last_good(
    cluster: &dyn Cluster,
    env: &str,
    namespace: &str,
    except: Option<u64>,
) -> Result<Option<(Revision, Value)>, HistoryError> {
    Ok(list(cluster, env, namespace)
        .await?
        .into_iter()
        .find(|(r, _)| r.outcome == Outcome::Succeeded && Some(r.number) != except))
}

/// The resource type revision objects live in (for callers that already resolved it).
pub async fn resource(cluster: &dyn Cluster) -> Result<ResourceType, ClusterError> {
    cluster.resolve(&config_maps_gvk()).await
}
