//! How lists and maps of the built-in kinds merge, standing in for the `OpenAPI` schema the real
//! server reads (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`).
//!
//! Only the built-in API groups use the table. Custom resources get atomic lists, which is what the
//! server does for lists whose schema declares no list type.

use super::PathElement;
use serde_json::Value;

/// A field path as the schema reads it: the owned elements of a field set, or the borrowed
/// [`Step`]s of a walk that allocates nothing (the plan's unchanged test runs once per object).
pub trait SchemaPath {
    /// How many elements the path has.
    fn depth(&self) -> usize;
    /// The field name at `index`; `None` for a list element or past the end.
    fn field(&self, index: usize) -> Option<&str>;
    /// Whether the element at `index` is a keyed-list element (`[name="x"]`).
    fn is_key(&self, index: usize) -> bool;
}

impl SchemaPath for [PathElement] {
    fn depth(&self) -> usize {
        self.len()
    }

    fn field(&self, index: usize) -> Option<&str> {
        match self.get(index) {
            Some(PathElement::Field(name)) => Some(name),
            _ => None,
        }
    }

    fn is_key(&self, index: usize) -> bool {
        matches!(self.get(index), Some(PathElement::Key(_)))
    }
}

/// One element of a borrowed path: what the schema needs to know of it, nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    Field(&'a str),
    /// A keyed-list element.
    Key,
    /// A set element or a list position.
    Item,
}

impl SchemaPath for [Step<'_>] {
    fn depth(&self) -> usize {
        self.len()
    }

    fn field(&self, index: usize) -> Option<&str> {
        match self.get(index) {
            Some(Step::Field(name)) => Some(name),
            _ => None,
        }
    }

    fn is_key(&self, index: usize) -> bool {
        matches!(self.get(index), Some(Step::Key))
    }
}

/// How a list field merges under server-side apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// The whole list is one value, replaced as a unit and owned as one field.
    Atomic,
    /// A list of distinct scalars; each element is owned on its own (`v:"x"`).
    Set,
    /// A list of maps identified by the merge keys (`k:{"name":"x"}`); each element and each of its
    /// fields is owned on its own.
    Map(&'static [MapKey]),
}

/// One merge key of a keyed list, with the default the server assumes when an element omits it
/// (container ports without `protocol` are keyed as `"TCP"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapKey {
    pub name: &'static str,
    pub default: Option<&'static str>,
}

const fn key(name: &'static str) -> MapKey {
    MapKey { name, default: None }
}

const NAME: &[MapKey] = &[key("name")];
const CONTAINER_PORT: &[MapKey] =
    &[key("containerPort"), MapKey { name: "protocol", default: Some("TCP") }];
const SERVICE_PORT: &[MapKey] = &[key("port"), MapKey { name: "protocol", default: Some("TCP") }];
const MOUNT_PATH: &[MapKey] = &[key("mountPath")];
const DEVICE_PATH: &[MapKey] = &[key("devicePath")];
const IP: &[MapKey] = &[key("ip")];
const TOPOLOGY_SPREAD: &[MapKey] = &[key("topologyKey"), key("whenUnsatisfiable")];
const TYPE: &[MapKey] = &[key("type")];
const UID: &[MapKey] = &[key("uid")];

/// API groups whose kinds the built-in table describes.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "autoscaling",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "coordination.k8s.io",
    "apiextensions.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "discovery.k8s.io",
];

/// The merge rules for one object, chosen by its `apiVersion` and `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    builtin: bool,
    kind: String,
}

impl Schema {
    /// The rules for `object`, read from its `apiVersion` and `kind`.
    pub fn for_object(object: &Value) -> Self {
        let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
        Self { builtin: BUILTIN_GROUPS.contains(&group), kind: kind.to_owned() }
    }

    /// Whether the object is of a built-in API group, whose lists the table describes.
    pub fn is_builtin(&self) -> bool {
        self.builtin
    }

    /// The list type of field `field` inside the map at `parent`.
    pub fn list_type<P: SchemaPath + ?Sized>(&self, parent: &P, field: &str) -> ListType {
        if is_field_path(parent, &["metadata"]) {
            return match field {
                "finalizers" => ListType::Set,
                "ownerReferences" => ListType::Map(UID),
                _ => ListType::Atomic,
            };
        }
        if !self.builtin {
            return ListType::Atomic;
        }
        match field {
            "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "imagePullSecrets"
            | "volumes" => ListType::Map(NAME),
            "env" if in_container(parent) => ListType::Map(NAME),
            "ports" if in_container(parent) => ListType::Map(CONTAINER_PORT),
            "ports" if self.kind == "Service" && is_field_path(parent, &["spec"]) => {
                ListType::Map(SERVICE_PORT)
            }
            "volumeMounts" if in_container(parent) => ListType::Map(MOUNT_PATH),
            "volumeDevices" if in_container(parent) => ListType::Map(DEVICE_PATH),
            "hostAliases" => ListType::Map(IP),
            "topologySpreadConstraints" => ListType::Map(TOPOLOGY_SPREAD),
            "conditions" if is_field_path(parent, &["status"]) => ListType::Map(TYPE),
            _ => ListType::Atomic,
        }
    }

    /// True when field `field` of the map at `parent` is a `resource.Quantity`, which the server
    /// stores in canonical form (see [`super::canonical_quantity`]).
    pub fn is_quantity<P: SchemaPath + ?Sized>(&self, parent: &P, field: &str) -> bool {
        if !self.builtin {
            return false;
        }
        let name = |from_end: usize| {
            parent
                .depth()
                .checked_sub(from_end + 1)
                .and_then(|i| parent.field(i))
                .unwrap_or_default()
        };
        let (map, outer) = (name(0), name(1));
        match (self.kind.as_str(), map) {
            // ResourceRequirements wherever they occur: containers, pods, claims and templates.
            (_, "requests" | "limits") if outer == "resources" => true,
            (_, "overhead" | "podFixed")
            | ("ResourceQuota", "hard" | "used")
            | ("PersistentVolume" | "PersistentVolumeClaim", "capacity")
            | (
                "LimitRange",
                "max" | "min" | "default" | "defaultRequest" | "maxLimitRequestRatio",
            ) => true,
            (_, "emptyDir") => field == "sizeLimit",
            ("HorizontalPodAutoscaler", "target" | "current") => {
                matches!(field, "value" | "averageValue")
            }
            _ => false,
        }
    }

    /// True when the map in field `field` of the map at `parent` is replaced as a whole
    /// (`x-kubernetes-map-type: atomic`): label selectors and node selectors.
    pub fn is_atomic_map<P: SchemaPath + ?Sized>(&self, _parent: &P, field: &str) -> bool {
        self.builtin
            && matches!(
                field,
                "selector" | "podSelector" | "namespaceSelector" | "labelSelector" | "nodeSelector"
            )
    }
}

fn is_field_path<P: SchemaPath + ?Sized>(path: &P, names: &[&str]) -> bool {
    path.depth() == names.len()
        && names.iter().enumerate().all(|(index, name)| path.field(index) == Some(*name))
}

/// True when `parent` is an element of a containers list (`...containers[name="x"]`).
fn in_container<P: SchemaPath + ?Sized>(parent: &P) -> bool {
    let depth = parent.depth();
    depth >= 2
        && parent.is_key(depth - 1)
        && matches!(
            parent.field(depth - 2),
            Some("containers" | "initContainers" | "ephemeralContainers")
        )
}

/// The key element naming `item` in a list with merge keys `keys`, or `None` when the item is
/// not a map or lacks a key field that has no default.
pub fn key_of(item: &Value, keys: &[MapKey]) -> Option<PathElement> {
    let map = item.as_object()?;
    let mut fields = Vec::with_capacity(keys.len());
    for key in keys {
        let value = match map.get(key.name) {
            Some(value) if !value.is_null() => value.clone(),
            _ => Value::String(key.default?.to_owned()),
        };
        fields.push((key.name, value));
    }
    Some(PathElement::key(fields))
}
