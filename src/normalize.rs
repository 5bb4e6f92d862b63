//! Strips what the API server adds for its own bookkeeping, so previews show only what matters.

use serde_json::{Map, Value};

/// Metadata fields the server maintains; they change on every write and mean nothing to a user.
const SERVER_METADATA: &[&str] =
    &["managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink"];
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Shown instead of a Secret's values.
pub const MASK: &str = "***";
pub const MASK_CHANGED: &str = "*** (changed)";

/// Fields written first, in this order, whatever order the object arrived in.
const LEADING_FIELDS: &[&str] = &["apiVersion", "kind", "metadata"];

/// Returns the object without status and server-maintained metadata; empty annotation maps
/// left behind are removed too. `apiVersion`, `kind` and `metadata` come first: the real API
/// server writes `kind` before `apiVersion` in GET and PATCH responses, while LIST items carry
/// neither and get them filled in, so the same object arrives in two key orders and a diff of
/// the YAML would otherwise show `kind:` moving.
pub fn normalize(object: &Value) -> Value {
    let Value::Object(map) = object else { return object.clone() };
    let mut ordered = Map::with_capacity(map.len());
    for field in LEADING_FIELDS {
        if let Some(value) = map.get(*field) {
            ordered.insert((*field).to_owned(), value.clone());
        }
    }
    for (field, value) in map {
        if !LEADING_FIELDS.contains(&field.as_str()) {
            ordered.insert(field.clone(), value.clone());
        }
    }
    let mut value = Value::Object(ordered);
    let Some(root) = value.as_object_mut() else { return value };
    root.remove("status");
    if let Some(metadata) = root.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in SERVER_METADATA {
            metadata.remove(*field);
        }
        let empty = metadata.get_mut("annotations").and_then(Value::as_object_mut).is_some_and(
            |annotations| {
                annotations.remove(LAST_APPLIED);
                annotations.is_empty()
            },
        );
        if empty {
            metadata.remove("annotations");
        }
    }
    value
}

fn is_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Secret")
        && object.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// Masks Secret values in a before/after pair, keeping which keys changed visible.
pub fn mask_secret_pair(before: Option<&mut Value>, mut after: Option<&mut Value>) {
    let secret =
        before.as_deref().is_some_and(is_secret) || after.as_deref().is_some_and(is_secret);
    if !secret {
        return;
    }
    for field in ["data", "stringData"] {
        let old = before.as_deref().and_then(|b| b.get(field)).cloned();
        if let Some(map) =
            after.as_deref_mut().and_then(|a| a.get_mut(field)).and_then(Value::as_object_mut)
        {
            for (key, value) in map.iter_mut() {
                let unchanged = old.as_ref().and_then(|o| o.get(key)) == Some(value);
                *value = Value::String(
                    if unchanged || old.is_none() && before.is_none() {
                        MASK
                    } else {
                        MASK_CHANGED
                    }
                    .to_owned(),
                );
            }
        }
    }
    if let Some(before) = before {
        for field in ["data", "stringData"] {
            if let Some(map) = before.get_mut(field).and_then(Value::as_object_mut) {
                for value in map.values_mut() {
                    *value = Value::String(MASK.to_owned());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_fields_lead_whatever_order_the_server_sent() {
        // A PATCH response (kind first) and a LIST item (apiVersion filled in first).
        let patched: Value = serde_json::from_str(
            r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a"},"data":{"k":"v"}}"#,
        )
        .unwrap_or_default();
        let listed: Value = serde_json::from_str(
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}"#,
        )
        .unwrap_or_default();
        let text = |v: &Value| crate::yaml::to_yaml(&normalize(v));
        assert_eq!(text(&patched), text(&listed));
        assert_eq!(
            text(&patched),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n"
        );
    }

    #[test]
    fn drops_server_fields_and_masks_secrets() {
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "uid": "1",
            "resourceVersion": "9", "annotations": {LAST_APPLIED: "{}"}}, "data": {"a": "eA==", "b": "eQ=="}, "status": {}});
        let mut before = normalize(&live);
        assert_eq!(
            before,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "eA==", "b": "eQ=="}})
        );
        let mut after = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "eA==", "b": "eg=="}});
        mask_secret_pair(Some(&mut before), Some(&mut after));
        assert_eq!(before["data"], json!({"a": MASK, "b": MASK}));
        assert_eq!(after["data"], json!({"a": MASK, "b": MASK_CHANGED}));
    }
}
