//! The kinds Coxswain has applied in an environment, kept in a small `ConfigMap` in its
//! namespace. Plan LISTs these kinds even when git no longer declares any object of them, so an
//! object whose whole kind left git is still found and pruned — without listing every kind the
//! cluster serves.

use crate::cluster::{Cluster, ClusterError, Gvk, ResourceType};
use crate::ownership::{ENV_LABEL, INTERNAL_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub const INVENTORY_NAME: &str = "coxswain-inventory";

pub fn config_map_gvk() -> Gvk {
    Gvk::from_api_version("v1", "ConfigMap")
}

/// Reads the recorded kinds (empty when the env was never synced).
pub async fn read_kinds(
    cluster: &dyn Cluster,
    config_maps: &ResourceType,
    namespace: &str,
) -> Result<BTreeSet<Gvk>, ClusterError> {
    let Some(object) = cluster.get(config_maps, Some(namespace), INVENTORY_NAME).await? else {
        return Ok(BTreeSet::new());
    };
    let kinds = object.pointer("/data/kinds").and_then(Value::as_str).unwrap_or_default();
    Ok(kinds
        .lines()
        .filter_map(|line| {
            let (api_version, kind) =
                line.trim().rsplit_once('/').map_or(("", ""), |(a, k)| (a, k));
            (!kind.is_empty()).then(|| Gvk::from_api_version(api_version, kind))
        })
        .collect())
}

/// The inventory object recording `kinds` for `env`.
pub fn inventory_object(env: &str, namespace: &str, kinds: &BTreeSet<Gvk>) -> Value {
    let lines: Vec<String> =
        kinds.iter().map(|gvk| format!("{}/{}", gvk.api_version(), gvk.kind)).collect();
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": INVENTORY_NAME,
            "namespace": namespace,
            "labels": { MANAGED_BY_LABEL: MANAGED_BY_VALUE, ENV_LABEL: env, INTERNAL_LABEL: "true" }
        },
        "data": { "kinds": lines.join("\n") }
    })
}
