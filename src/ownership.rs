//! How Coxswain marks what it owns (design §2). Pruning trusts these labels and nothing else:
//! an object is a prune candidate only if it carries both labels for the environment.

use crate::repo::DesiredObject;
use serde_json::{Map, Value};

pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "coxswain";
pub const ENV_LABEL: &str = "coxswain.dev/env";
/// The file an object came from. No line number: a line shift must not look like a change.
pub const SOURCE_ANNOTATION: &str = "coxswain.dev/source";
/// Marks Coxswain's own bookkeeping objects (history, inventory): never pruned, never diffed.
pub const INTERNAL_LABEL: &str = "coxswain.dev/internal";

/// The label selector matching every object Coxswain owns in `env`.
pub fn owned_selector(env: &str) -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{ENV_LABEL}={env}")
}

/// The object as Coxswain applies it: the manifest plus the ownership labels and annotation.
pub fn desired_with_ownership(object: &DesiredObject, env: &str) -> Value {
    let mut value = object.value.clone();
    if let Some(root) = value.as_object_mut() {
        let metadata = root.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let Some(metadata) = metadata.as_object_mut() {
            insert(metadata, "labels", MANAGED_BY_LABEL, MANAGED_BY_VALUE);
            insert(metadata, "labels", ENV_LABEL, env);
            insert(metadata, "annotations", SOURCE_ANNOTATION, &object.source.file);
        }
    }
    value
}

fn insert(metadata: &mut Map<String, Value>, field: &str, key: &str, value: &str) {
    let entry = metadata.entry(field).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Some(map) = entry.as_object_mut() {
        map.insert(key.to_owned(), Value::String(value.to_owned()));
    }
}

/// Whether a live object is Coxswain's in `env` and may be pruned when it leaves git.
pub fn is_prunable(live: &Value, env: &str) -> bool {
    let label = |key: &str| {
        live.pointer(&format!("/metadata/labels/{}", key.replace('/', "~1")))
            .and_then(Value::as_str)
    };
    label(MANAGED_BY_LABEL) == Some(MANAGED_BY_VALUE)
        && label(ENV_LABEL) == Some(env)
        && label(INTERNAL_LABEL).is_none()
}
