//! Sync history (design §6): one `Secret` per sync in the env's namespace, holding who synced
//! what from which git revision, the outcome, and the full desired manifests (gzip) so any
//! revision can be restored. Revisions are Secrets because manifests may hold Secrets (with
//! `allowPlaintextSecrets`): their values stay behind the same RBAC as the Secrets themselves, the
//! way Helm keeps releases. Revisions stored as `ConfigMap`s by earlier versions are still read.
//!
//! The newest [`KEEP`] revisions are kept, and always the newest successful one, which the
//! automatic rollback restores.
//!
//! A revision can be written by anyone allowed to write Secrets (or `ConfigMap`s) in the
//! namespace, so nothing read back from one is trusted: a revision that cannot be read (bad
//! metadata, gzip or JSON, a number out of range, manifests that inflate past
//! [`MAX_INFLATED_BYTES`]) is listed as unreadable and skipped, never failing `history` or the
//! next sync's record; [`restore`] loads manifests through the same rules as files in git, and
//! each revision records a digest of its manifests that the engine compares with what the
//! revision's git commit renders.

mod restore;

pub use restore::{RestoreError, digest, digest_of, restore};

use crate::cluster::{Cluster, ClusterError, Gvk, ObjectKey, ResourceType};
use crate::gzip::InflateError;
use crate::ownership::{ENV_LABEL, INTERNAL_LABEL, Owner};
use crate::repo::{DesiredObject, Source};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Revisions kept per environment (plus the newest successful one when it is older).
pub const KEEP: usize = 10;
pub const REVISION_LABEL: &str = "coxswain.dev/revision";
/// The highest revision number: exact in a JavaScript number (the desktop app), and far from
/// `u64::MAX`, so numbering never overflows. A revision claiming a higher one is unreadable.
pub const MAX_REVISION: u64 = (1 << 53) - 1;
/// The `type` of revision Secrets.
pub const SECRET_TYPE: &str = "coxswain.dev/revision.v1";
const META_KEY: &str = "revision.json";
/// Secrets: the gzip itself (the API base64-encodes Secret data).
const MANIFESTS_KEY: &str = "manifests.json.gz";
/// `ConfigMap` revisions of earlier versions: the gzip in base64 text.
const LEGACY_MANIFESTS_KEY: &str = "manifests.json.gz.b64";
/// A compressed revision larger than this is refused (a Secret holds at most 1 MiB).
const MAX_STORED_BYTES: usize = 900 * 1024;
/// Inflating a revision's manifests stops here (see [`crate::gzip`]).
pub use crate::gzip::MAX_INFLATED_BYTES;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Succeeded,
    /// Applied, but health did not converge.
    Unhealthy,
    /// Stopped part-way: `applied` lists what was written.
    Failed,
    /// Stopped before a write by a cancellation (Ctrl-C) or a lost lease: `applied` lists what
    /// was written before.
    Interrupted,
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

impl Revision {
    /// The commit as history lists show it: 8 hex digits, `+` when synced with uncommitted
    /// changes in the env folder, `-` without git.
    pub fn short_sha(&self) -> String {
        self.git_sha.as_deref().map_or("-".to_owned(), |sha| {
            sha.chars().take(8).collect::<String>() + if self.dirty { "+" } else { "" }
        })
    }

    /// The outcome as JSON names it (`succeeded`, `interrupted`, …).
    pub fn outcome_name(&self) -> String {
        serde_json::to_value(self.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// A desired object as stored in a revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredObject {
    pub file: String,
    pub line: u32,
    pub object: Value,
}

/// A revision object that could not be read: reported, skipped, never deleted by retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unreadable {
    /// `Secret coxswain-rev-7`.
    pub object: String,
    /// The number its label claims, when that much is readable.
    pub number: Option<u64>,
    pub reason: String,
}

/// An environment's revisions, newest first, and the revision objects that could not be read.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub revisions: Vec<(Revision, Value)>,
    pub unreadable: Vec<Unreadable>,
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
        "the manifests of this sync are {bytes} bytes compressed, over the {MAX_STORED_BYTES}-byte limit of a revision"
    )]
    TooLarge { bytes: usize },
    #[error(
        "environment {env} has no successful revision before revision {current} to roll back to"
    )]
    NoTarget { env: String, current: u64 },
    #[error("environment {env} has no sync history yet")]
    NoHistory { env: String },
    #[error(
        "revision numbers of environment {env} are exhausted: revision {highest} is the highest \
         allowed ({MAX_REVISION}); delete that revision object if it was planted"
    )]
    Exhausted { env: String, highest: u64 },
}

fn config_maps_gvk() -> Gvk {
    Gvk::from_api_version("v1", "ConfigMap")
}

fn secrets_gvk() -> Gvk {
    Gvk::from_api_version("v1", "Secret")
}

fn selector(env: &str) -> String {
    format!("{INTERNAL_LABEL}=true,{ENV_LABEL}={env},{REVISION_LABEL}")
}

/// The revisions as a Markdown table, newest first, with the unreadable ones listed after it.
pub fn render_markdown(env: &str, revisions: &[Revision], unreadable: &[Unreadable]) -> String {
    use crate::report::markdown_cell as cell;
    use std::fmt::Write as _;
    let mut out = format!("### History of {env}\n\n");
    if revisions.is_empty() {
        out.push_str("No revisions yet.\n");
    } else {
        out.push_str(
            "| Rev | Time | Git | Outcome | Author | Message |\n|---:|---|---|---|---|---|\n",
        );
    }
    for r in revisions {
        let (sha, outcome) = (r.short_sha(), r.outcome_name());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {outcome} | {} | {} |",
            r.number,
            r.time,
            cell(&sha),
            r.author.replace('|', "\\|"),
            r.message.replace(['\r', '\n'], " ").replace('|', "\\|")
        );
    }
    for u in unreadable {
        let _ = writeln!(out, "\n> skipped unreadable revision {}: {}", cell(&u.object), u.reason);
    }
    out
}

/// The name of revision `number`.
pub fn revision_name(number: u64) -> String {
    format!("coxswain-rev-{number}")
}

/// Revisions of an environment, newest first, with their raw objects; unreadable ones skipped.
pub async fn list(
    cluster: &dyn Cluster,
    env: &str,
    namespace: &str,
) -> Result<Vec<(Revision, Value)>, HistoryError> {
    Ok(list_all(cluster, env, namespace).await?.revisions)
}

/// Revisions of an environment (Secrets, and `ConfigMap`s of earlier versions), newest first,
/// and the revision objects that could not be read. Fails only when the cluster does.
pub async fn list_all(
    cluster: &dyn Cluster,
    env: &str,
    namespace: &str,
) -> Result<Listing, HistoryError> {
    let mut listing = Listing::default();
    let selector = selector(env);
    // Secrets first: a ConfigMap claiming the number of a Secret revision is the duplicate.
    for gvk in [secrets_gvk(), config_maps_gvk()] {
        let resource = cluster.resolve(&gvk).await?;
        for item in cluster.list(&resource, Some(namespace), Some(&selector)).await? {
            let object = format!("{} {}", gvk.kind, name_of(&item));
            match read_meta(&item) {
                Ok(revision)
                    if listing.revisions.iter().any(|(r, _)| r.number == revision.number) =>
                {
                    listing.unreadable.push(Unreadable {
                        object,
                        number: Some(revision.number),
                        reason: format!(
                            "another object already holds revision {}; this one is ignored",
                            revision.number
                        ),
                    });
                }
                Ok(revision) => listing.revisions.push((revision, item)),
                Err(reason) => {
                    let number = label_number(&item);
                    tracing::warn!(%object, %reason, "skipping an unreadable revision");
                    listing.unreadable.push(Unreadable {
                        object,
                        number,
                        reason: reason.to_string(),
                    });
                }
            }
        }
    }
    listing.revisions.sort_by_key(|(revision, _)| std::cmp::Reverse(revision.number));
    listing
        .unreadable
        .sort_by(|a, b| b.number.cmp(&a.number).then_with(|| a.object.cmp(&b.object)));
    Ok(listing)
}

fn name_of(raw: &Value) -> &str {
    raw.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?")
}

fn is_secret(raw: &Value) -> bool {
    raw.get("kind").and_then(Value::as_str) == Some("Secret")
}

/// The revision number a revision object's label claims, when it is a valid one.
fn label_number(raw: &Value) -> Option<u64> {
    raw.pointer(&format!("/metadata/labels/{}", REVISION_LABEL.replace('/', "~1")))
        .and_then(Value::as_str)
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| *n <= MAX_REVISION)
}

/// A data entry of a revision object: decoded bytes for Secrets, text for `ConfigMap`s.
fn data(raw: &Value, key: &'static str) -> Result<Vec<u8>, Damage> {
    let value = raw
        .pointer(&format!("/data/{}", key.replace('/', "~1")))
        .and_then(Value::as_str)
        .ok_or(Damage::Missing { key })?;
    if is_secret(raw) {
        base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|source| Damage::NotBase64 { key, source })
    } else {
        Ok(value.as_bytes().to_vec())
    }
}

/// The recorded metadata of a revision object, checked against its label.
fn read_meta(raw: &Value) -> Result<Revision, Damage> {
    let meta = data(raw, META_KEY)?;
    let revision: Revision = serde_json::from_slice(&meta).map_err(Damage::Meta)?;
    if revision.number == 0 || revision.number > MAX_REVISION {
        return Err(Damage::OutOfRange { number: revision.number });
    }
    if label_number(raw) != Some(revision.number) {
        return Err(Damage::LabelMismatch { number: revision.number });
    }
    Ok(revision)
}

/// Why a revision object cannot be read: it is skipped with this reason, never trusted.
#[derive(Debug, thiserror::Error)]
enum Damage {
    #[error("no {key}")]
    Missing { key: &'static str },
    #[error("{key} is not base64: {source}")]
    NotBase64 { key: &'static str, source: base64::DecodeError },
    #[error("{META_KEY}: {0}")]
    Meta(serde_json::Error),
    #[error("revision number {number} is out of range (1 to {MAX_REVISION})")]
    OutOfRange { number: u64 },
    #[error("its {REVISION_LABEL} label does not match the number it records ({number})")]
    LabelMismatch { number: u64 },
}

/// The manifests stored in a revision object (either storage); inflation is capped at
/// [`MAX_INFLATED_BYTES`].
pub fn manifests(raw: &Value) -> Result<Vec<StoredObject>, HistoryError> {
    let name = name_of(raw).to_owned();
    let corrupt = |message: String| HistoryError::Corrupt { name: name.clone(), message };
    let compressed = if is_secret(raw) {
        data(raw, MANIFESTS_KEY).map_err(|d| corrupt(d.to_string()))?
    } else {
        let encoded = data(raw, LEGACY_MANIFESTS_KEY).map_err(|d| corrupt(d.to_string()))?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| corrupt(format!("{LEGACY_MANIFESTS_KEY} is not base64: {e}")))?
    };
    let json = crate::gzip::inflate(&compressed).map_err(|error| {
        corrupt(match error {
            InflateError::NotGzip(e) => format!("the manifests are not valid gzip: {e}"),
            InflateError::TooLarge => format!(
                "the manifests inflate past {MAX_INFLATED_BYTES} bytes; refusing to read further"
            ),
        })
    })?;
    serde_json::from_slice(&json)
        .map_err(|e| corrupt(format!("the manifests are not valid JSON: {e}")))
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

/// Stores a revision (numbered after the newest, unreadable ones included) as a Secret, then
/// deletes readable revisions beyond [`KEEP`], never the newest successful one. Unreadable
/// revisions are skipped, never a reason to fail.
pub async fn record(
    cluster: &dyn Cluster,
    owner: &Owner,
    namespace: &str,
    mut revision: Revision,
    objects: &[DesiredObject],
) -> Result<Revision, HistoryError> {
    let secrets = cluster.resolve(&secrets_gvk()).await?;
    let existing = list_all(cluster, &owner.env, namespace).await?;
    let highest = existing
        .revisions
        .iter()
        .map(|(r, _)| r.number)
        .chain(existing.unreadable.iter().filter_map(|u| u.number))
        .max()
        .unwrap_or(0);
    revision.number = highest
        .checked_add(1)
        .filter(|n| *n <= MAX_REVISION)
        .ok_or_else(|| HistoryError::Exhausted { env: owner.env.clone(), highest })?;
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
    let compressed = crate::gzip::compress(&json).map_err(|e| HistoryError::Corrupt {
        name: "new revision".into(),
        message: e.to_string(),
    })?;
    if compressed.len() > MAX_STORED_BYTES {
        return Err(HistoryError::TooLarge { bytes: compressed.len() });
    }
    let meta = serde_json::to_vec_pretty(&revision).unwrap_or_default();
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut labels = owner.labels();
    labels.insert(INTERNAL_LABEL.to_owned(), json!("true"));
    labels.insert(REVISION_LABEL.to_owned(), json!(revision.number.to_string()));
    let object = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": SECRET_TYPE,
        "metadata": {"name": revision_name(revision.number), "namespace": namespace, "labels": labels},
        "data": {META_KEY: base64(&meta), MANIFESTS_KEY: base64(&compressed)}
    });
    cluster.apply(&secrets, &object, &owner.apply_options(true, false)).await?;
    let newest_good = std::iter::once(&revision)
        .chain(existing.revisions.iter().map(|(r, _)| r))
        .find(|r| r.outcome == Outcome::Succeeded)
        .map(|r| r.number);
    for (old, raw) in existing.revisions.iter().skip(KEEP - 1) {
        if Some(old.number) == newest_good {
            continue;
        }
        let deleted = match resource_of(cluster, raw).await {
            Ok(resource) => cluster.delete(&resource, Some(namespace), name_of(raw), None).await,
            Err(error) => Err(error),
        };
        if let Err(error) = deleted {
            tracing::warn!(revision = old.number, %error, "could not delete an old revision");
        }
    }
    Ok(revision)
}

/// The resource a revision object lives in (a Secret, or a `ConfigMap` of an earlier version).
async fn resource_of(cluster: &dyn Cluster, raw: &Value) -> Result<ResourceType, ClusterError> {
    cluster.resolve(&if is_secret(raw) { secrets_gvk() } else { config_maps_gvk() }).await
}

/// Finds revision `number`.
pub async fn find(
    cluster: &dyn Cluster,
    env: &str,
    namespace: &str,
    number: u64,
) -> Result<(Revision, Value), HistoryError> {
    let Listing { revisions, unreadable } = list_all(cluster, env, namespace).await?;
    if !revisions.iter().any(|(r, _)| r.number == number)
        && let Some(bad) = unreadable.into_iter().find(|u| u.number == Some(number))
    {
        return Err(HistoryError::Corrupt { name: bad.object, message: bad.reason });
    }
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

#[cfg(test)]
mod markdown_tests {
    use super::{Outcome, Revision, Unreadable, render_markdown};

    fn revision(number: u64, outcome: Outcome, message: &str) -> Revision {
        Revision {
            number,
            git_sha: Some("0123456789abcdef".into()),
            dirty: number == 2,
            author: "ci@runner".into(),
            time: format!("2026-12-01T0{number}:00:00Z"),
            outcome,
            message: message.into(),
            applied: Vec::new(),
            pruned: Vec::new(),
            rollback_of: None,
            manifests_digest: None,
        }
    }

    #[test]
    fn history_as_markdown() {
        let revisions = [
            revision(3, Outcome::Interrupted, "interrupted | by\nSIGINT"),
            revision(2, Outcome::Succeeded, "synced"),
        ];
        let unreadable = [Unreadable {
            object: "Secret coxswain-rev-9".into(),
            number: Some(9),
            reason: "no revision.json".into(),
        }];
        insta::assert_snapshot!(render_markdown("prod", &revisions, &unreadable));
        insta::assert_snapshot!("history_empty", render_markdown("dev", &[], &[]));
    }
}
