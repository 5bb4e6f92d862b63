//! How Coxswain marks what it owns, and how it tells its own objects from look-alikes (design §2).
//!
//! Every object Coxswain applies carries labels naming the env and the repo's instance, and is
//! applied by a field manager of its own per env, `coxswain/<instance>/<env>`: a second owner of
//! an object (another env, another repo) shows up as a server-side apply conflict instead of a
//! silent overwrite.
//!
//! Labels are a claim anyone can copy, so pruning never trusts them alone. An object is
//! Coxswain's to prune when both of these hold, whatever its labels or ownerReferences say:
//! - the env's inventory recorded its uid when Coxswain applied it (a copy made with
//!   `kubectl get -o yaml`, a controller's child that copies its parent's labels, or an object
//!   deleted and re-created by someone else all have other uids);
//! - its `managedFields` still hold an `Apply` entry of the env's field manager (someone who
//!   took every field over with `--force-conflicts` made it theirs).
//!
//! So an object Coxswain created stays prunable when a controller later adds an ownerReference,
//! and an object it did not create is never pruned. Objects that carry this env's labels but
//! fail those tests are shown in the plan as skipped look-alikes, with the reason.

use crate::cluster::{ApplyOptions, FIELD_MANAGER};
use crate::inventory::Inventory;
use crate::repo::{DesiredObject, Environment};
use serde_json::{Map, Value, json};

pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "coxswain";
pub const ENV_LABEL: &str = "coxswain.dev/env";
/// The repo's instance id (see [`crate::repo::instance`]).
pub const INSTANCE_LABEL: &str = "coxswain.dev/instance";
/// The file an object came from. No line number: a line shift must not look like a change.
pub const SOURCE_ANNOTATION: &str = "coxswain.dev/source";
/// Marks Coxswain's own bookkeeping objects (history, inventory): never pruned, never diffed.
pub const INTERNAL_LABEL: &str = "coxswain.dev/internal";
/// The field manager of Coxswain versions before instance ids. Objects still owned by it are
/// adopted by the env's own manager on their next sync, which then releases this one.
pub const LEGACY_FIELD_MANAGER: &str = FIELD_MANAGER;

/// Who owns what Coxswain writes for one environment: the repo's instance and the env.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    pub instance: String,
    pub env: String,
}

impl Owner {
    pub fn of(env: &Environment) -> Self {
        Self { instance: env.instance.clone(), env: env.name.clone() }
    }

    /// `coxswain/<instance>/<env>`: one field manager per env of each repo.
    pub fn field_manager(&self) -> String {
        format!("coxswain/{}/{}", self.instance, self.env)
    }

    /// Apply options as this owner.
    pub fn apply_options(&self, force: bool, dry_run: bool) -> ApplyOptions {
        ApplyOptions { field_manager: self.field_manager(), force, dry_run }
    }

    /// The ownership labels: managed-by, env, instance.
    pub fn labels(&self) -> Map<String, Value> {
        let mut labels = Map::new();
        labels.insert(MANAGED_BY_LABEL.to_owned(), json!(MANAGED_BY_VALUE));
        labels.insert(ENV_LABEL.to_owned(), json!(self.env));
        labels.insert(INSTANCE_LABEL.to_owned(), json!(self.instance));
        labels
    }
}

/// The label selector matching every object that claims to be Coxswain's in `env` (of any
/// instance: objects synced before instance ids carry none). A claim, not proof: see [`judge`].
pub fn owned_selector(env: &str) -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{ENV_LABEL}={env}")
}

/// The object as Coxswain applies it: the manifest plus the ownership labels and annotation.
pub fn desired_with_ownership(object: &DesiredObject, owner: &Owner) -> Value {
    let mut value = object.value.clone();
    if let Some(root) = value.as_object_mut() {
        let metadata = root.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let Some(metadata) = metadata.as_object_mut() {
            for (key, label) in owner.labels() {
                insert(metadata, "labels", &key, label.as_str().unwrap_or_default());
            }
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

/// What a live object that git no longer declares is to an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Coxswain created or adopted it in this env: prunable.
    Ours,
    /// It claims to be this env's but is not provably so: never pruned, shown with the reason.
    LookAlike(String),
    /// Nothing to do with this env (no claim, another env's or another repo's, bookkeeping).
    Foreign,
}

/// Whether `live` is `owner`'s to prune, by the rules of the module docs.
pub fn judge(live: &Value, owner: &Owner, inventory: &Inventory) -> Judgement {
    let label = |key: &str| {
        live.pointer(&format!("/metadata/labels/{}", key.replace('/', "~1")))
            .and_then(Value::as_str)
    };
    if label(INTERNAL_LABEL).is_some() {
        return Judgement::Foreign;
    }
    let uid = live.pointer("/metadata/uid").and_then(Value::as_str);
    if let Some(entry) = uid.and_then(|uid| inventory.objects.get(uid))
        && live.get("kind").and_then(Value::as_str) == Some(entry.kind.as_str())
    {
        let manager = owner.field_manager();
        return if applies(live, &manager) {
            Judgement::Ours
        } else {
            Judgement::LookAlike(format!(
                "Coxswain created it, but field manager {manager} no longer applies any of its \
                 fields (another manager took them over): it is theirs now"
            ))
        };
    }
    let claims_ours = label(MANAGED_BY_LABEL) == Some(MANAGED_BY_VALUE)
        && label(ENV_LABEL) == Some(owner.env.as_str())
        && label(INSTANCE_LABEL).is_none_or(|instance| instance == owner.instance);
    if !claims_ours {
        return Judgement::Foreign;
    }
    let reason = if let Some(why) = &inventory.no_uids {
        format!(
            "{why}; a sync adopts the objects git still declares, this one it cannot tell from a copy — delete it by hand if it should go"
        )
    } else if let Some(recorded) =
        crate::cluster::ObjectKey::of(live).and_then(|key| inventory.entry_for(&key))
    {
        format!(
            "it carries this environment's labels, but it is not the object Coxswain created \
             (uid {}, the inventory recorded {}): it was deleted and re-created by someone else",
            uid.unwrap_or("?"),
            recorded.uid
        )
    } else {
        format!(
            "it carries the labels of environment {}, but Coxswain did not create it: its uid \
             is not in the environment's inventory (a copy, or made by a controller that copies \
             its parent's labels)",
            owner.env
        )
    };
    Judgement::LookAlike(reason)
}

/// Whether `live`'s managedFields hold an `Apply` entry of `manager`.
pub fn applies(live: &Value, manager: &str) -> bool {
    apply_entry(live, manager).is_some()
}

/// The `Apply` entry of `manager` in `live`'s managedFields.
pub fn apply_entry<'a>(live: &'a Value, manager: &str) -> Option<&'a Value> {
    live.pointer("/metadata/managedFields").and_then(Value::as_array)?.iter().find(|entry| {
        entry.get("manager").and_then(Value::as_str) == Some(manager)
            && entry.get("operation").and_then(Value::as_str) == Some("Apply")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Entry;

    fn owner() -> Owner {
        Owner { instance: "repo-a".into(), env: "prod".into() }
    }

    fn object(uid: &str, labels: &Value, managers: &[&str]) -> Value {
        let managed: Vec<Value> = managers
            .iter()
            .map(|m| json!({"manager": m, "operation": "Apply", "fieldsV1": {"f:data": {}}}))
            .collect();
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "x", "namespace": "ns", "uid": uid, "labels": labels, "managedFields": managed}})
    }

    fn inventory_with(uid: &str) -> Inventory {
        let entry = Entry {
            uid: uid.into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("ns".into()),
            name: "x".into(),
        };
        Inventory {
            exists: true,
            objects: [(uid.to_owned(), entry)].into(),
            ..Inventory::default()
        }
    }

    #[test]
    fn prunable_only_with_a_recorded_uid_and_our_apply_entry() {
        let labels = Value::Object(owner().labels());
        let manager = owner().field_manager();
        let inventory = inventory_with("u1");
        assert_eq!(
            judge(&object("u1", &labels, &[&manager]), &owner(), &inventory),
            Judgement::Ours
        );
        // Labels removed or ownerReferences added later change nothing: the uid decides.
        assert_eq!(
            judge(&object("u1", &json!({}), &[&manager]), &owner(), &inventory),
            Judgement::Ours
        );
        // Taken over by another manager.
        assert!(matches!(
            judge(&object("u1", &labels, &["kubectl"]), &owner(), &inventory),
            Judgement::LookAlike(_)
        ));
        // A copy: same labels, forged managedFields, another uid.
        let copy = judge(&object("u2", &labels, &[&manager]), &owner(), &inventory);
        assert!(
            matches!(&copy, Judgement::LookAlike(why) if why.contains("deleted and re-created")),
            "{copy:?}"
        );
        // Another repo's env of the same name, and no claim at all: not even shown.
        let other =
            json!({MANAGED_BY_LABEL: "coxswain", ENV_LABEL: "prod", INSTANCE_LABEL: "repo-b"});
        assert_eq!(judge(&object("u3", &other, &[]), &owner(), &inventory), Judgement::Foreign);
        assert_eq!(judge(&object("u4", &json!({}), &[]), &owner(), &inventory), Judgement::Foreign);
    }

    #[test]
    fn the_field_manager_names_instance_and_env() {
        assert_eq!(owner().field_manager(), "coxswain/repo-a/prod");
        let longest = Owner { instance: "a".repeat(40), env: "e".repeat(63) };
        assert!(longest.field_manager().len() <= 128);
    }
}
