//! Server-side apply as structured-merge-diff performs it: merge the applied configuration into
//! the live object, prune what the manager stopped applying, detect conflicts with other managers
//! and move ownership. Updates (POST/PUT) take ownership of what they change, never conflicting.

use coxswain_cluster::fieldset::{
    FieldSet, ListType, Path, PathElement, Schema, find_element, keyed_elements, lookup_mut,
    value_at, values_equal,
};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

/// One `metadata.managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ManagedEntry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl ManagedEntry {
    /// Whether this entry belongs to the same manager identity: appliers are one manager
    /// whatever the API version, updaters one per API version (the server's manager identifier).
    fn is(&self, manager: &str, operation: Operation, api_version: &str) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.is_none()
            && (operation == Operation::Apply || self.api_version == api_version)
    }

    /// The manager as conflict messages print it: `"kubectl"`, `"kubectl-edit" using apps/v1`.
    pub fn describe(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if let Some(subresource) = &self.subresource {
            let _ = write!(out, " with subresource {subresource:?}");
        }
        if self.operation == Operation::Update {
            let _ = write!(out, " using {}", self.api_version);
        }
        out
    }

    fn to_json(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation.as_str(),
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_fields_v1(),
        });
        if let (Some(subresource), Some(map)) = (&self.subresource, entry.as_object_mut()) {
            map.insert("subresource".to_owned(), Value::String(subresource.clone()));
        }
        entry
    }

    fn from_json(entry: &Value) -> Result<Self, String> {
        let text =
            |name: &str| entry.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let operation = match entry.get("operation").and_then(Value::as_str) {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            other => return Err(format!("operation must be Apply or Update, found {other:?}")),
        };
        let fields = match entry.get("fieldsV1") {
            Some(fields) => FieldSet::from_fields_v1(fields).map_err(|e| e.to_string())?,
            None => FieldSet::new(),
        };
        Ok(Self {
            manager: text("manager"),
            operation,
            api_version: text("apiVersion"),
            time: text("time"),
            subresource: entry.get("subresource").and_then(Value::as_str).map(str::to_owned),
            fields,
        })
    }
}

/// Reads `metadata.managedFields` of a request body; `None` when the body has none.
pub(super) fn parse_managed_fields(object: &Value) -> Result<Option<Vec<ManagedEntry>>, String> {
    let Some(entries) = object.pointer("/metadata/managedFields").filter(|e| !e.is_null()) else {
        return Ok(None);
    };
    let Some(entries) = entries.as_array() else {
        return Err("metadata.managedFields must be a list".to_owned());
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            ManagedEntry::from_json(entry).map_err(|e| format!("metadata.managedFields[{i}]: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub(super) fn render_managed_fields(entries: &[ManagedEntry]) -> Value {
    Value::Array(entries.iter().map(ManagedEntry::to_json).collect())
}

/// Equal apart from timestamps: a write that only refreshes times is no write at all.
pub(super) fn same_ownership(a: &[ManagedEntry], b: &[ManagedEntry]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.manager == y.manager
                && x.operation == y.operation
                && x.api_version == y.api_version
                && x.subresource == y.subresource
                && x.fields == y.fields
        })
}

/// A field another manager owns and this apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Conflict {
    pub manager: String,
    /// The manager as the server's message prints it.
    pub described: String,
    pub path: Path,
}

/// The server's message for a failed apply, e.g.
/// `Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas`.
pub(super) fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.described, only.path
        );
    }
    let mut lines = Vec::new();
    let mut current: Option<&str> = None;
    for conflict in conflicts {
        if current != Some(conflict.described.as_str()) {
            lines.push(format!("conflicts with {}:", conflict.described));
            current = Some(&conflict.described);
        }
        lines.push(format!("- {}", conflict.path));
    }
    format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
}

/// What changed between two versions of an object, over the fields [`FieldSet::from_object`]
/// tracks.
struct Comparison {
    added: FieldSet,
    removed: FieldSet,
    modified: FieldSet,
}

fn compare(old: &Value, new: &Value) -> Comparison {
    let old_set = FieldSet::from_object(old);
    let new_set = FieldSet::from_object(new);
    let modified = old_set
        .intersection(&new_set)
        .iter()
        .filter(|path| {
            matches!(path.elements().last(), Some(PathElement::Field(_) | PathElement::Index(_)))
        })
        .filter(|path| match (value_at(old, path), value_at(new, path)) {
            (Some(a), Some(b)) => !values_equal(a, b),
            _ => true,
        })
        .cloned()
        .collect();
    Comparison {
        added: new_set.difference(&old_set),
        removed: old_set.difference(&new_set),
        modified,
    }
}

/// A server-side apply of `config` by `manager` onto `live`. Returns the merged object (not yet
/// defaulted) and the new ownership, or the conflicts when `force` is off.
pub(super) fn apply(
    live: &Value,
    live_managers: &[ManagedEntry],
    config: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<(Value, Vec<ManagedEntry>), Vec<Conflict>> {
    let schema = Schema::for_object(config);
    let api_version = config.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let config_set = FieldSet::from_object(config);
    let mut merged = merge(&schema, live, config);

    let mut managers = live_managers.to_vec();
    let last_set = if let Some(entry) =
        managers.iter_mut().find(|e| e.is(manager, Operation::Apply, api_version))
    {
        let last = std::mem::replace(&mut entry.fields, config_set);
        api_version.clone_into(&mut entry.api_version);
        now.clone_into(&mut entry.time);
        last
    } else {
        managers.push(ManagedEntry {
            manager: manager.to_owned(),
            operation: Operation::Apply,
            api_version: api_version.to_owned(),
            time: now.to_owned(),
            subresource: None,
            fields: config_set,
        });
        FieldSet::new()
    };
    let owned = managers.iter().fold(FieldSet::new(), |all, entry| all.union(&entry.fields));
    prune(&schema, &mut merged, &last_set.difference(&owned), &owned);

    let comparison = compare(live, &merged);
    let changed = comparison.modified.union(&comparison.added);
    let mut conflicts = Vec::new();
    for entry in &mut managers {
        if entry.is(manager, Operation::Apply, api_version) {
            continue;
        }
        let lost = entry.fields.intersection(&changed);
        conflicts.extend(lost.iter().map(|path| Conflict {
            manager: entry.manager.clone(),
            described: entry.describe(),
            path: path.clone(),
        }));
        entry.fields = entry.fields.difference(&lost).difference(&comparison.removed);
    }
    if !force && !conflicts.is_empty() {
        conflicts.sort_by(|a, b| a.described.cmp(&b.described).then_with(|| a.path.cmp(&b.path)));
        return Err(conflicts);
    }
    managers.retain(|entry| !entry.fields.is_empty());
    Ok((merged, managers))
}

/// Ownership after a non-apply write (POST/PUT) by `manager`: it takes every field it added or
/// changed, from whoever owned it, and removed fields leave every manager.
pub(super) fn update(
    live: &Value,
    live_managers: &[ManagedEntry],
    new: &Value,
    manager: &str,
    now: &str,
) -> Vec<ManagedEntry> {
    let api_version = new.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let comparison = compare(live, new);
    let taken = comparison.modified.union(&comparison.added);
    let mut managers = live_managers.to_vec();
    for entry in &mut managers {
        if !entry.is(manager, Operation::Update, api_version) {
            entry.fields = entry.fields.difference(&taken).difference(&comparison.removed);
        }
    }
    match managers.iter_mut().find(|e| e.is(manager, Operation::Update, api_version)) {
        Some(entry) => {
            entry.fields = entry.fields.difference(&comparison.removed).union(&taken);
            if !taken.is_empty() || !comparison.removed.is_empty() {
                now.clone_into(&mut entry.time);
            }
        }
        None => managers.push(ManagedEntry {
            manager: manager.to_owned(),
            operation: Operation::Update,
            api_version: api_version.to_owned(),
            time: now.to_owned(),
            subresource: None,
            fields: taken,
        }),
    }
    managers.retain(|entry| !entry.fields.is_empty());
    managers
}

/// Merges `config` into `live`: maps field by field, keyed and set lists element by element,
/// everything else (scalars, atomic lists and maps) replaced by the config's value.
pub(super) fn merge(schema: &Schema, live: &Value, config: &Value) -> Value {
    match (live, config) {
        (Value::Object(live), Value::Object(config)) => {
            Value::Object(merge_maps(schema, &mut Vec::new(), live, config))
        }
        _ => config.clone(),
    }
}

fn merge_maps(
    schema: &Schema,
    path: &mut Vec<PathElement>,
    live: &Map<String, Value>,
    config: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = live.clone();
    for (name, wanted) in config {
        path.push(PathElement::Field(name.clone()));
        let merged = match live.get(name) {
            Some(current) => merge_field(schema, path, name, current, wanted),
            None => wanted.clone(),
        };
        out.insert(name.clone(), merged);
        path.pop();
    }
    out
}

fn merge_field(
    schema: &Schema,
    path: &mut Vec<PathElement>,
    field: &str,
    live: &Value,
    config: &Value,
) -> Value {
    let parent = &path[..path.len() - 1];
    let atomic_map = schema.is_atomic_map(parent, field);
    let list_type = schema.list_type(parent, field);
    match (live, config) {
        (Value::Object(l), Value::Object(c)) if !atomic_map => {
            Value::Object(merge_maps(schema, path, l, c))
        }
        (Value::Array(l), Value::Array(c)) => match list_type {
            ListType::Atomic => config.clone(),
            ListType::Set => {
                if l.iter().chain(c).any(|item| item.is_object() || item.is_array()) {
                    return config.clone();
                }
                let lhs: Vec<_> = l.iter().map(|v| (PathElement::Value(v.clone()), v)).collect();
                let rhs: Vec<_> = c.iter().map(|v| (PathElement::Value(v.clone()), v)).collect();
                Value::Array(merge_ordered(&lhs, &rhs, |_, _, wanted| wanted.clone()))
            }
            ListType::Map(keys) => {
                let (Some(lhs), Some(rhs)) = (keyed_elements(l, keys), keyed_elements(c, keys))
                else {
                    return config.clone();
                };
                let merged = merge_ordered(&lhs, &rhs, |element, current, wanted| {
                    path.push(element.clone());
                    let out = match current {
                        Some(current) => merge_maps(schema, path, current, wanted),
                        None => wanted.clone(),
                    };
                    path.pop();
                    out
                });
                Value::Array(merged.into_iter().map(Value::Object).collect())
            }
        },
        _ => config.clone(),
    }
}

/// Merges two lists of identified elements: the config's elements in the config's order, live-only
/// elements kept where they were (structured-merge-diff's ordering, simplified).
fn merge_ordered<T: Clone>(
    lhs: &[(PathElement, &T)],
    rhs: &[(PathElement, &T)],
    mut merge_item: impl FnMut(&PathElement, Option<&T>, &T) -> T,
) -> Vec<T> {
    let in_rhs: BTreeSet<&PathElement> = rhs.iter().map(|(pe, _)| pe).collect();
    let find_lhs =
        |pe: &PathElement| lhs.iter().find(|(other, _)| other == pe).map(|(_, item)| *item);
    let mut emitted: BTreeSet<&PathElement> = BTreeSet::new();
    let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
    let (mut l, mut r) = (0, 0);
    while l < lhs.len() || r < rhs.len() {
        if let (Some((left, current)), Some((right, wanted))) = (lhs.get(l), rhs.get(r))
            && left == right
        {
            if emitted.insert(right) {
                out.push(merge_item(right, Some(current), wanted));
            }
            l += 1;
            r += 1;
            continue;
        }
        if let Some((left, current)) = lhs.get(l) {
            if !in_rhs.contains(left) {
                out.push((*current).clone());
                l += 1;
                continue;
            }
            if emitted.contains(left) || r >= rhs.len() {
                l += 1;
                continue;
            }
        }
        if let Some((right, wanted)) = rhs.get(r) {
            if emitted.insert(right) {
                out.push(merge_item(right, find_lhs(right), wanted));
            }
            r += 1;
        }
    }
    out
}

/// Removes from `object` the fields in `remove`, except where a field below is still owned
/// (`owned`), and except the merge keys of elements that stay. Parents go before their children,
/// so a removed element takes its fields with it. Maps and lists emptied by the removal go too,
/// as the server drops them.
fn prune(schema: &Schema, object: &mut Value, remove: &FieldSet, owned: &FieldSet) {
    let mut removed: Vec<&Path> = Vec::new();
    for path in remove {
        if removed.iter().any(|gone| path.starts_with(gone.elements()))
            || owned.has_descendant(path)
            || is_merge_key(path)
            || !remove_at(schema, object, path.elements())
        {
            continue;
        }
        removed.push(path);
        let mut ancestor = &path.elements()[..path.len() - 1];
        while let Some(last) = ancestor.last() {
            let here = Path(ancestor.to_vec());
            let now_empty = match value_at(object, &here) {
                Some(Value::Object(map)) => map.is_empty() && matches!(last, PathElement::Field(_)),
                Some(Value::Array(items)) => items.is_empty(),
                _ => false,
            };
            if !now_empty || owned.contains(&here) {
                break;
            }
            remove_at(schema, object, ancestor);
            ancestor = &ancestor[..ancestor.len() - 1];
        }
    }
}

/// A key field of a keyed-list element (`containers[name="x"].name`): removing it alone would
/// leave an element nobody can address.
fn is_merge_key(path: &Path) -> bool {
    match path.elements() {
        [.., PathElement::Key(fields), PathElement::Field(name)] => {
            fields.iter().any(|(key, _)| key == name)
        }
        _ => false,
    }
}

fn remove_at(schema: &Schema, object: &mut Value, path: &[PathElement]) -> bool {
    let Some((last, parent_path)) = path.split_last() else {
        return false;
    };
    let Some(parent) = lookup_mut(schema, object, parent_path) else {
        return false;
    };
    if let PathElement::Field(name) = last {
        return parent.as_object_mut().is_some_and(|map| map.shift_remove(name).is_some());
    }
    let Some(items) = parent.as_array_mut() else {
        return false;
    };
    match find_element(schema, parent_path, items, last) {
        Some(index) => {
            items.remove(index);
            true
        }
        None => false,
    }
}
