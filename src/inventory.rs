//! What Coxswain created or adopted in an environment, kept in a small `ConfigMap` in its
//! namespace: every object it applied, by uid, and the kinds of those objects.
//!
//! The uids are the proof of ownership pruning needs: labels are copied freely (`kubectl get -o
//! yaml`, controllers that copy their parent's labels), a uid is not — a copy, or an object
//! deleted and re-created by someone else, has a new one. The kinds let plan LIST a kind even
//! when git no longer declares any object of it, so an object whose whole kind left git is still
//! found and pruned, without listing every kind the cluster serves.
//!
//! The inventory also claims the namespace for one environment of one repo: a second env (or
//! another repo's env of the same name) finds it and is refused before it writes anything.
//!
//! Inventories written before uids were recorded hold only `kinds`; they are read as *legacy*:
//! nothing of them is prunable until a sync has applied (adopted) the env's objects again.

use crate::cluster::{Cluster, ClusterError, Gvk, ObjectKey, ResourceType};
use crate::ownership::{ENV_LABEL, INSTANCE_LABEL, INTERNAL_LABEL, Owner};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

pub const INVENTORY_NAME: &str = "coxswain-inventory";
const KINDS_KEY: &str = "kinds";
const OBJECTS_KEY: &str = "objects";
/// Where the entries go, gzipped, when their JSON is larger than [`INLINE_LIMIT`]: a `ConfigMap`
/// holds at most 1 MiB, which plain entries pass at about 9,000 objects.
const COMPRESSED_OBJECTS_KEY: &str = "objects.json.gz";
/// Entries up to this size stay readable text in `data.objects`.
const INLINE_LIMIT: usize = 256 * 1024;

pub fn config_map_gvk() -> Gvk {
    Gvk::from_api_version("v1", "ConfigMap")
}

/// One object Coxswain applied.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub uid: String,
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl Entry {
    /// The entry of a live object as the API returned it; `None` without uid or identity.
    pub fn of(live: &Value) -> Option<Self> {
        let metadata = live.get("metadata")?;
        Some(Self {
            uid: metadata.get("uid")?.as_str()?.to_owned(),
            api_version: live.get("apiVersion")?.as_str()?.to_owned(),
            kind: live.get("kind")?.as_str()?.to_owned(),
            namespace: metadata.get("namespace").and_then(Value::as_str).map(str::to_owned),
            name: metadata.get("name")?.as_str()?.to_owned(),
        })
    }

    pub fn gvk(&self) -> Gvk {
        Gvk::from_api_version(&self.api_version, &self.kind)
    }

    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(&self.gvk(), self.namespace.as_deref(), &self.name)
    }
}

/// An environment's inventory as read from its namespace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    /// Whether the namespace has one at all.
    pub exists: bool,
    /// The env and instance it belongs to (its labels; no instance before instance ids).
    pub env: Option<String>,
    pub instance: Option<String>,
    pub kinds: BTreeSet<Gvk>,
    /// Objects Coxswain applied, by uid.
    pub objects: BTreeMap<String, Entry>,
    /// Why no uids could be read (a legacy or unreadable inventory): then nothing is prunable.
    pub no_uids: Option<String>,
}

impl Inventory {
    /// The entry recorded for `key`, whatever its uid.
    pub fn entry_for(&self, key: &ObjectKey) -> Option<&Entry> {
        self.objects.values().find(|e| e.key() == *key)
    }

    /// Why `owner` may not use this namespace: it is another env's, or another repo's.
    pub fn claimed_by_other(&self, owner: &Owner, namespace: &str) -> Option<String> {
        if !self.exists {
            return None;
        }
        let env = self.env.as_deref().unwrap_or("?");
        if env != owner.env {
            return Some(format!(
                "namespace {namespace} belongs to environment {env} (its {INVENTORY_NAME} says \
                 so), not to environment {}: two environments on one cluster cannot share a \
                 namespace, their history, inventory and sync lock would overwrite each other. \
                 Give environments/{}/env.yaml another `namespace`",
                owner.env, owner.env
            ));
        }
        match self.instance.as_deref() {
            Some(instance) if instance != owner.instance => Some(format!(
                "namespace {namespace} belongs to environment {env} of another Coxswain repo \
                 (instance {instance}; this repo is instance {}), so nothing of it is touched. If \
                 it is this repo under an earlier id, put `instance: {instance}` in coxswain.yaml \
                 at the repo root",
                owner.instance
            )),
            _ => None,
        }
    }
}

/// Reads the env's inventory (empty when the env was never synced). Never fails on its content:
/// an unreadable inventory says why in [`Inventory::no_uids`], and nothing is pruned through it.
pub async fn read(
    cluster: &dyn Cluster,
    config_maps: &ResourceType,
    namespace: &str,
) -> Result<Inventory, ClusterError> {
    let Some(object) = cluster.get(config_maps, Some(namespace), INVENTORY_NAME).await? else {
        return Ok(Inventory::default());
    };
    Ok(parse(&object))
}

/// An inventory from its `ConfigMap`.
pub fn parse(object: &Value) -> Inventory {
    let label = |key: &str| {
        object
            .pointer(&format!("/metadata/labels/{}", key.replace('/', "~1")))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let data = |key: &str| object.pointer(&format!("/data/{key}")).and_then(Value::as_str);
    let mut kinds: BTreeSet<Gvk> = data(KINDS_KEY)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (api_version, kind) = line.trim().rsplit_once('/')?;
            (!kind.is_empty()).then(|| Gvk::from_api_version(api_version, kind))
        })
        .collect();
    let entries = match (data(OBJECTS_KEY), compressed_entries(object)) {
        (Some(text), _) => {
            Some(serde_json::from_str::<Vec<Entry>>(text).map_err(|e| e.to_string()))
        }
        (None, Some(inflated)) => {
            Some(inflated.and_then(|json| serde_json::from_slice(&json).map_err(|e| e.to_string())))
        }
        (None, None) => None,
    };
    let (objects, no_uids) = match entries {
        None => (
            BTreeMap::new(),
            Some(format!(
                "the {INVENTORY_NAME} of this namespace was written by an earlier version of \
                 Coxswain, which recorded no uids"
            )),
        ),
        Some(Err(error)) => (
            BTreeMap::new(),
            Some(format!("the {INVENTORY_NAME} of this namespace is unreadable ({error})")),
        ),
        Some(Ok(entries)) => (entries.into_iter().map(|e| (e.uid.clone(), e)).collect(), None),
    };
    kinds.extend(objects.values().map(Entry::gvk));
    Inventory {
        exists: true,
        env: label(ENV_LABEL),
        instance: label(INSTANCE_LABEL),
        kinds,
        objects,
        no_uids,
    }
}

/// The inventory object recording `objects` (and their kinds plus `extra_kinds`) for `owner`.
pub fn inventory_object(
    owner: &Owner,
    namespace: &str,
    objects: &BTreeMap<String, Entry>,
    extra_kinds: &BTreeSet<Gvk>,
) -> Value {
    let mut kinds: BTreeSet<Gvk> = objects.values().map(Entry::gvk).collect();
    kinds.extend(extra_kinds.iter().cloned());
    let lines: Vec<String> =
        kinds.iter().map(|gvk| format!("{}/{}", gvk.api_version(), gvk.kind)).collect();
    let entries: Vec<&Entry> = objects.values().collect();
    let entries = serde_json::to_string(&entries).unwrap_or_else(|_| "[]".to_owned());
    let mut labels = owner.labels();
    labels.insert(INTERNAL_LABEL.to_owned(), json!("true"));
    let mut object = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": INVENTORY_NAME, "namespace": namespace, "labels": labels},
        "data": {KINDS_KEY: lines.join("\n")}
    });
    if entries.len() <= INLINE_LIMIT {
        object["data"][OBJECTS_KEY] = json!(entries);
    } else {
        // Compressing into memory cannot fail.
        let gzip = crate::gzip::compress(entries.as_bytes()).unwrap_or_default();
        object["binaryData"] =
            json!({COMPRESSED_OBJECTS_KEY: base64::engine::general_purpose::STANDARD.encode(gzip)});
    }
    object
}

/// The inflated JSON of `binaryData`'s compressed entries, if there are any.
fn compressed_entries(object: &Value) -> Option<Result<Vec<u8>, String>> {
    let encoded = object.pointer(&format!("/binaryData/{COMPRESSED_OBJECTS_KEY}"))?;
    let inflate = || {
        let encoded = encoded.as_str().ok_or("not a string")?;
        let gzip = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("not base64: {e}"))?;
        crate::gzip::inflate(&gzip).map_err(|error| match error {
            crate::gzip::InflateError::NotGzip(e) => format!("not gzip: {e}"),
            too_large @ crate::gzip::InflateError::TooLarge => too_large.to_string(),
        })
    };
    Some(inflate().map_err(|e: String| format!("{COMPRESSED_OBJECTS_KEY}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner { instance: "repo-a".into(), env: "prod".into() }
    }

    #[test]
    fn an_inventory_round_trips_with_its_owner() {
        let entry = Entry {
            uid: "u1".into(),
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("ns".into()),
            name: "web".into(),
        };
        let objects = BTreeMap::from([("u1".to_owned(), entry)]);
        let extra = BTreeSet::from([Gvk::from_api_version("v1", "ConfigMap")]);
        let read = parse(&inventory_object(&owner(), "ns", &objects, &extra));
        assert_eq!(read.objects, objects);
        assert_eq!(read.kinds.len(), 2);
        assert_eq!((read.env.as_deref(), read.instance.as_deref()), (Some("prod"), Some("repo-a")));
        assert_eq!(read.no_uids, None);
        assert_eq!(read.claimed_by_other(&owner(), "ns"), None);
    }

    #[test]
    fn legacy_and_unreadable_inventories_hold_no_uids_and_foreign_ones_are_refused() {
        let legacy = parse(
            &json!({"metadata": {"labels": {ENV_LABEL: "prod"}}, "data": {"kinds": "v1/ConfigMap"}}),
        );
        assert!(legacy.objects.is_empty() && legacy.no_uids.is_some());
        assert_eq!(legacy.claimed_by_other(&owner(), "ns"), None, "legacy is adopted");
        let broken =
            parse(&json!({"metadata": {"labels": {ENV_LABEL: "prod"}}, "data": {"objects": "[{"}}));
        assert!(broken.no_uids.is_some_and(|why| why.contains("unreadable")));
        let other_env = parse(&json!({"metadata": {"labels": {ENV_LABEL: "staging"}}}));
        let why = other_env.claimed_by_other(&owner(), "ns").unwrap_or_default();
        assert!(why.contains("environment staging") && why.contains("environment prod"), "{why}");
        let other_repo =
            parse(&json!({"metadata": {"labels": {ENV_LABEL: "prod", INSTANCE_LABEL: "repo-b"}}}));
        let why = other_repo.claimed_by_other(&owner(), "ns").unwrap_or_default();
        assert!(why.contains("instance repo-b") && why.contains("instance repo-a"), "{why}");
    }

    #[test]
    fn a_large_inventory_is_stored_gzipped_under_the_config_map_limit_and_read_back() {
        let objects: BTreeMap<String, Entry> = (0..10_000)
            .map(|i| {
                let uid = format!("{:08x}-4d3c-4b2a-9f8e-{:012x}", i * 7919, i * 104_729);
                let entry = Entry {
                    uid: uid.clone(),
                    api_version: "apps/v1".into(),
                    kind: "Deployment".into(),
                    namespace: Some("models".into()),
                    name: format!("model-{i:05}"),
                };
                (uid, entry)
            })
            .collect();
        let object = inventory_object(&owner(), "models", &objects, &BTreeSet::new());
        assert!(object.pointer("/data/objects").is_none(), "too large to inline");
        let stored = serde_json::to_string(&object).expect("json").len();
        assert!(stored < 1024 * 1024, "{stored} bytes: over a ConfigMap's 1 MiB");
        let read = parse(&object);
        assert_eq!(read.no_uids, None);
        assert_eq!(read.objects, objects);

        // Small ones stay readable text.
        let few: BTreeMap<String, Entry> = objects.into_iter().take(3).collect();
        let object = inventory_object(&owner(), "models", &few, &BTreeSet::new());
        assert!(object.pointer("/data/objects").and_then(Value::as_str).is_some());
        assert_eq!(parse(&object).objects, few);
    }

    #[test]
    fn a_corrupt_compressed_inventory_prunes_nothing_and_says_why() {
        let planted = json!({"metadata": {"labels": {ENV_LABEL: "prod"}},
            "binaryData": {"objects.json.gz": "bm90IGd6aXA="}});
        let read = parse(&planted);
        assert!(read.objects.is_empty());
        let why = read.no_uids.expect("unreadable");
        assert!(why.contains("objects.json.gz: not gzip"), "{why}");
    }
}
