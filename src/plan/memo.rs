//! What the last plan of an env found unchanged, so the next one (the app re-plans on every save
//! and every drift event) skips the field-set comparison for those objects. An object is still
//! unchanged when its desired value, the live object's uid and `resourceVersion`, and the field
//! manager are what they were: any write to the live object, by anyone, bumps its
//! `resourceVersion`, and any edit in git changes the desired value. Syncs do not use it.

use crate::cluster::ObjectKey;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Per object: the proof it was unchanged at the last plan.
#[derive(Debug, Default)]
pub struct UnchangedMemo {
    entries: Mutex<HashMap<ObjectKey, Entry>>,
}

#[derive(Debug)]
struct Entry {
    manager: String,
    uid: String,
    resource_version: String,
    desired: Value,
}

/// The live object's identity at one moment; `None` when it lacks either field.
fn version(live: &Value) -> Option<(&str, &str)> {
    let metadata = live.get("metadata")?;
    Some((metadata.get("uid")?.as_str()?, metadata.get("resourceVersion")?.as_str()?))
}

impl UnchangedMemo {
    /// Whether `key` was found unchanged with exactly this desired value, live version and manager.
    pub fn holds(&self, key: &ObjectKey, desired: &Value, live: &Value, manager: &str) -> bool {
        let Some((uid, resource_version)) = version(live) else { return false };
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get(key).is_some_and(|entry| {
            entry.resource_version == resource_version
                && entry.uid == uid
                && entry.manager == manager
                && entry.desired == *desired
        })
    }

    /// Records that `key` is unchanged with this desired value, live version and manager.
    pub fn remember(&self, key: &ObjectKey, desired: &Value, live: &Value, manager: &str) {
        let Some((uid, resource_version)) = version(live) else { return };
        let entry = Entry {
            manager: manager.to_owned(),
            uid: uid.to_owned(),
            resource_version: resource_version.to_owned(),
            desired: desired.clone(),
        };
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).insert(key.clone(), entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> ObjectKey {
        ObjectKey { group_kind: "ConfigMap".into(), namespace: Some("ns".into()), name: "a".into() }
    }

    fn live(uid: &str, resource_version: &str) -> Value {
        json!({"metadata": {"name": "a", "uid": uid, "resourceVersion": resource_version}})
    }

    #[test]
    fn holds_only_for_the_same_desired_value_live_version_and_manager() {
        let memo = UnchangedMemo::default();
        let desired = json!({"data": {"LOG_LEVEL": "info"}});
        assert!(!memo.holds(&key(), &desired, &live("u1", "7"), "m"), "nothing remembered");
        memo.remember(&key(), &desired, &live("u1", "7"), "m");
        assert!(memo.holds(&key(), &desired, &live("u1", "7"), "m"));
        assert!(!memo.holds(
            &key(),
            &json!({"data": {"LOG_LEVEL": "debug"}}),
            &live("u1", "7"),
            "m"
        ));
        assert!(!memo.holds(&key(), &desired, &live("u1", "8"), "m"), "written since");
        assert!(!memo.holds(&key(), &desired, &live("u2", "7"), "m"), "re-created");
        assert!(!memo.holds(&key(), &desired, &live("u1", "7"), "other"), "another manager");
        let unversioned = json!({"metadata": {"name": "a"}});
        memo.remember(&key(), &desired, &unversioned, "m");
        assert!(!memo.holds(&key(), &desired, &unversioned, "m"), "no version: never memoised");
    }
}
