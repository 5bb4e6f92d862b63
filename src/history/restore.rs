//! Restoring a revision: its manifests are loaded again through the loader's rules (namespace
//! pinning, the cluster-scoped allowlist, plaintext Secrets, duplicate objects, valid names)
//! under the environment's *current* settings, so a planted or edited revision `ConfigMap`
//! cannot reach further than a file in git could.

use super::{HistoryError, Revision, StoredObject, manifests};
use crate::diagnostic::Diagnostic;
use crate::repo::{DesiredObject, EnvContext, Environment, SourceFile, loader};
use crate::yaml::ExpansionBudget;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(
        "revision {revision} of environment {env} is refused: its manifests break the \
         environment's rules, so nothing of it is applied:\n  {}",
        join(.problems)
    )]
    Refused { env: String, revision: u64, problems: Vec<Diagnostic> },
    #[error(
        "revision {revision} of environment {env} is refused: its manifests were changed after it \
         was recorded (their digest is {actual}, the revision recorded {recorded})"
    )]
    Altered { env: String, revision: u64, recorded: String, actual: String },
}

fn join(problems: &[Diagnostic]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
}

/// A stable digest of stored manifests: sha256 over each object's file and content, in order.
/// Lines are left out: they say where an object sat, not what it is.
pub fn digest(stored: &[StoredObject]) -> String {
    hash(stored.iter().map(|o| (o.file.as_str(), &o.object)))
}

/// [`digest`] of loaded objects, as [`super::record`] would store them.
pub fn digest_of(objects: &[DesiredObject]) -> String {
    hash(objects.iter().map(|o| (o.source.file.as_str(), &o.value)))
}

fn hash<'a>(objects: impl Iterator<Item = (&'a str, &'a Value)>) -> String {
    let mut hasher = Sha256::new();
    for (file, object) in objects {
        hasher.update(file.as_bytes());
        hasher.update([0]);
        hasher.update(serde_json::to_vec(object).unwrap_or_default());
        hasher.update([0]);
    }
    format!("sha256:{:x}", hasher.finalize())
}

/// The environment as revision `raw` recorded it: `env`'s settings, the revision's objects —
/// after checking the recorded digest and loading every object through the loader's rules.
pub fn restore(
    env: &Environment,
    revision: &Revision,
    raw: &Value,
) -> Result<Environment, RestoreError> {
    let stored = manifests(raw)?;
    if let Some(recorded) = &revision.manifests_digest {
        let actual = digest(&stored);
        if *recorded != actual {
            return Err(RestoreError::Altered {
                env: env.name.clone(),
                revision: revision.number,
                recorded: recorded.clone(),
                actual,
            });
        }
    }
    let (files, origin) = as_source_files(&stored);
    let context = EnvContext { name: &env.name, namespace: &env.namespace, config: &env.config };
    let (objects, diagnostics) =
        loader::load_objects(context, &files, &ExpansionBudget::default(), None);
    let problems: Vec<Diagnostic> = diagnostics
        .into_iter()
        .filter(Diagnostic::is_error)
        .map(|mut d| {
            // Each object sits on its own line of the rebuilt file: map it back to the line the
            // revision recorded for it.
            d.line = origin.get(&(d.file.clone(), d.line)).copied().unwrap_or(0);
            d.file = format!("revision {}: {}", revision.number, d.file);
            d
        })
        .collect();
    if !problems.is_empty() {
        return Err(RestoreError::Refused {
            env: env.name.clone(),
            revision: revision.number,
            problems,
        });
    }
    let objects = objects
        .into_iter()
        .map(|mut o| {
            o.source.line =
                origin.get(&(o.source.file.clone(), o.source.line)).copied().unwrap_or(0);
            o
        })
        .collect();
    Ok(Environment { objects, diagnostics: Vec::new(), ..env.clone() })
}

/// One YAML stream per recorded file, one document (compact JSON, which is YAML) per object on
/// lines 2, 4, 6…, and the map from (file, line in the stream) back to the recorded line.
fn as_source_files(stored: &[StoredObject]) -> (Vec<SourceFile>, BTreeMap<(String, u32), u32>) {
    let mut streams: BTreeMap<String, (String, u32)> = BTreeMap::new();
    let mut origin = BTreeMap::new();
    for object in stored {
        let (stream, lines) = streams.entry(object.file.clone()).or_default();
        let line = *lines + 2;
        *lines += 2;
        stream.push_str("---\n");
        stream.push_str(&serde_json::to_string(&object.object).unwrap_or_default());
        stream.push('\n');
        origin.insert((object.file.clone(), line), object.line);
    }
    let files = streams
        .into_iter()
        .map(|(path, (text, _))| SourceFile { path, contents: text.into_bytes() })
        .collect();
    (files, origin)
}
