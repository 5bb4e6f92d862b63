//! Walking objects under the merge rules of a [`Schema`]: collecting the fields an object sets,
//! finding the value at a path, and the subset test.

use super::path::{compare_values, values_equal};
use super::quantity::same_quantity;
use super::schema::{ListType, MapKey, Schema, Step, key_of};
use super::{Path, PathElement};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// Adds to `out` every field path the fields of `map` (found at `path`) set, the way
/// structured-merge-diff's `ToFieldSet` does: scalars, nulls, empty maps, atomic maps and lists,
/// set elements, and keyed-list elements (`.`) together with their fields.
pub(super) fn collect_map(
    schema: &Schema,
    path: &mut Vec<PathElement>,
    map: &Map<String, Value>,
    out: &mut BTreeSet<Path>,
) {
    for (name, value) in map {
        path.push(PathElement::Field(name.clone()));
        collect_field(schema, path, name, value, out);
        path.pop();
    }
}

fn collect_field(
    schema: &Schema,
    path: &mut Vec<PathElement>,
    field: &str,
    value: &Value,
    out: &mut BTreeSet<Path>,
) {
    let parent = &path[..path.len() - 1];
    match value {
        Value::Object(map) if map.is_empty() || schema.is_atomic_map(parent, field) => {
            out.insert(Path(path.clone()));
        }
        Value::Object(map) => collect_map(schema, path, map, out),
        Value::Array(items) => collect_list(schema, path, field, items, out),
        _ => {
            out.insert(Path(path.clone()));
        }
    }
}

fn collect_list(
    schema: &Schema,
    path: &mut Vec<PathElement>,
    field: &str,
    items: &[Value],
    out: &mut BTreeSet<Path>,
) {
    match schema.list_type(&path[..path.len() - 1], field) {
        ListType::Atomic => {
            out.insert(Path(path.clone()));
        }
        ListType::Set => {
            if items.iter().any(|item| item.is_object() || item.is_array()) {
                out.insert(Path(path.clone()));
                return;
            }
            for item in items {
                path.push(PathElement::Value(item.clone()));
                out.insert(Path(path.clone()));
                path.pop();
            }
        }
        ListType::Map(keys) => {
            let Some(elements) = keyed_elements(items, keys) else {
                // An element without its merge key: the server would refuse the list; owning it as
                // one value keeps the set meaningful.
                out.insert(Path(path.clone()));
                return;
            };
            for (element, map) in elements {
                path.push(element);
                out.insert(Path(path.clone()));
                collect_map(schema, path, map, out);
                path.pop();
            }
        }
    }
}

/// Each item of a keyed list with its key element; `None` when an item is not a map or lacks a
/// merge key without default.
pub fn keyed_elements<'a>(
    items: &'a [Value],
    keys: &[MapKey],
) -> Option<Vec<(PathElement, &'a Map<String, Value>)>> {
    items.iter().map(|item| Some((key_of(item, keys)?, item.as_object()?))).collect()
}

/// The merge keys of the keyed list at `list_path` (whose last element names the list field).
pub(crate) fn list_keys(schema: &Schema, list_path: &[PathElement]) -> Option<&'static [MapKey]> {
    let (PathElement::Field(name), parent) = list_path.split_last()? else {
        return None;
    };
    match schema.list_type(parent, name) {
        ListType::Map(keys) => Some(keys),
        ListType::Atomic | ListType::Set => None,
    }
}

/// Position of the element `element` names in `items`, the list at `list_path`.
pub fn find_element(
    schema: &Schema,
    list_path: &[PathElement],
    items: &[Value],
    element: &PathElement,
) -> Option<usize> {
    match element {
        PathElement::Key(fields) => match list_keys(schema, list_path) {
            Some(keys) => {
                items.iter().position(|item| key_of(item, keys).as_ref() == Some(element))
            }
            // Keys from another source (a CRD's schema) than our table: match the fields as given.
            None => items.iter().position(|item| {
                fields.iter().all(|(name, value)| {
                    item.get(name)
                        .is_some_and(|found| compare_values(found, value) == Ordering::Equal)
                })
            }),
        },
        PathElement::Value(value) => {
            items.iter().position(|item| compare_values(item, value) == Ordering::Equal)
        }
        PathElement::Index(index) => (*index < items.len()).then_some(*index),
        PathElement::Field(_) => None,
    }
}

/// The value at `path` inside `root`, keyed-list elements matched by merge key.
pub(crate) fn lookup<'a>(
    schema: &Schema,
    root: &'a Value,
    path: &[PathElement],
) -> Option<&'a Value> {
    let mut current = root;
    for (depth, element) in path.iter().enumerate() {
        current = if let PathElement::Field(name) = element {
            current.as_object()?.get(name)?
        } else {
            let items = current.as_array()?;
            items.get(find_element(schema, &path[..depth], items, element)?)?
        };
    }
    Some(current)
}

/// Mutable counterpart of [`lookup`].
pub fn lookup_mut<'a>(
    schema: &Schema,
    root: &'a mut Value,
    path: &[PathElement],
) -> Option<&'a mut Value> {
    let mut current = root;
    for (depth, element) in path.iter().enumerate() {
        current = if let PathElement::Field(name) = element {
            current.as_object_mut()?.get_mut(name)?
        } else {
            let items = current.as_array_mut()?;
            let index = find_element(schema, &path[..depth], items, element)?;
            items.get_mut(index)?
        };
    }
    Some(current)
}

/// Whether every field `desired` sets has the same value in `live`. Walks with borrowed
/// [`Step`]s: it runs for every object of every plan, and allocates nothing.
pub(super) fn subset_map<'a>(
    schema: &Schema,
    path: &mut Vec<Step<'a>>,
    desired: &'a Map<String, Value>,
    live: &Map<String, Value>,
) -> bool {
    desired.iter().all(|(name, wanted)| {
        path.push(Step::Field(name));
        let holds = match (wanted, live.get(name)) {
            (Value::Null, found) => found.is_none_or(Value::is_null),
            // Empty lists are omitted by the server when it stores typed objects.
            (Value::Array(items), None) => items.is_empty(),
            (_, None) => false,
            (wanted, Some(found)) => subset_field(schema, path, name, wanted, found),
        };
        path.pop();
        holds
    })
}

fn subset_field<'a>(
    schema: &Schema,
    path: &mut Vec<Step<'a>>,
    field: &str,
    wanted: &'a Value,
    found: &Value,
) -> bool {
    let parent = &path[..path.len() - 1];
    if schema.is_quantity(parent, field) && !wanted.is_object() && !wanted.is_array() {
        return values_equal(wanted, found) || same_quantity(wanted, found);
    }
    match (wanted, found) {
        (Value::Object(map), Value::Object(_)) if map.is_empty() => true,
        (Value::Object(_), _) if schema.is_atomic_map(parent, field) => {
            equal_in(schema, path, wanted, found)
        }
        (Value::Object(want), Value::Object(have)) => subset_map(schema, path, want, have),
        (Value::Array(want), Value::Array(have)) => match schema.list_type(parent, field) {
            ListType::Atomic => equal_in(schema, path, wanted, found),
            ListType::Set => {
                want.iter().all(|item| have.iter().any(|other| values_equal(item, other)))
            }
            ListType::Map(keys) => {
                if !all_keyed(want, keys) || !all_keyed(have, keys) {
                    return equal_in(schema, path, wanted, found);
                }
                want.iter().filter_map(Value::as_object).all(|item| {
                    have.iter()
                        .filter_map(Value::as_object)
                        .find(|other| same_key(item, other, keys))
                        .is_some_and(|live_item| {
                            path.push(Step::Key);
                            let holds = subset_map(schema, path, item, live_item);
                            path.pop();
                            holds
                        })
                })
            }
        },
        _ => values_equal(wanted, found),
    }
}

/// Whether every item is a map with each merge key (or its default): what [`keyed_elements`]
/// checks, without building the elements.
fn all_keyed(items: &[Value], keys: &[MapKey]) -> bool {
    items.iter().all(|item| {
        item.as_object().is_some_and(|map| {
            keys.iter()
                .all(|key| key.default.is_some() || map.get(key.name).is_some_and(|v| !v.is_null()))
        })
    })
}

/// A merge key's value in `map`, the default when it is absent or null.
fn key_value<'a>(map: &'a Map<String, Value>, key: &MapKey) -> Option<KeyValue<'a>> {
    match map.get(key.name) {
        Some(value) if !value.is_null() => Some(KeyValue::Value(value)),
        _ => key.default.map(KeyValue::Default),
    }
}

enum KeyValue<'a> {
    Value(&'a Value),
    Default(&'static str),
}

impl KeyValue<'_> {
    fn matches(&self, other: &Value) -> bool {
        match self {
            Self::Value(value) => compare_values(value, other) == Ordering::Equal,
            Self::Default(text) => other.as_str() == Some(*text),
        }
    }
}

/// Whether two keyed-list items have the same merge key (`key_of` equal, without building it).
fn same_key(a: &Map<String, Value>, b: &Map<String, Value>, keys: &[MapKey]) -> bool {
    keys.iter().all(|key| match (key_value(a, key), key_value(b, key)) {
        (Some(KeyValue::Value(x)), Some(y)) => y.matches(x),
        (Some(KeyValue::Default(x)), Some(KeyValue::Value(y))) => y.as_str() == Some(x),
        (Some(KeyValue::Default(x)), Some(KeyValue::Default(y))) => x == y,
        _ => false,
    })
}

/// Deep equality of two values found at `path` (an atomic list or map, replaced as a whole), with
/// quantities inside compared by their canonical form: an HPA's `metrics` list is atomic, yet the
/// server rewrites the `averageValue` quantities in it.
fn equal_in<'a>(
    schema: &Schema,
    path: &mut Vec<Step<'a>>,
    wanted: &'a Value,
    found: &Value,
) -> bool {
    match (wanted, found) {
        (Value::Object(want), Value::Object(have)) => {
            want.len() == have.len()
                && want.iter().all(|(name, value)| {
                    have.get(name).is_some_and(|other| {
                        if schema.is_quantity(path.as_slice(), name)
                            && !value.is_object()
                            && !value.is_array()
                        {
                            return values_equal(value, other) || same_quantity(value, other);
                        }
                        path.push(Step::Field(name));
                        let equal = equal_in(schema, path, value, other);
                        path.pop();
                        equal
                    })
                })
        }
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len()
                && want.iter().zip(have).all(|(value, other)| {
                    path.push(Step::Item);
                    let equal = equal_in(schema, path, value, other);
                    path.pop();
                    equal
                })
        }
        _ => values_equal(wanted, found),
    }
}

/// What the desired object has at a path of a `fieldsV1` tree, as [`collect_map`] sees it.
#[derive(Clone, Copy)]
pub(super) enum Declared<'a> {
    /// A map whose fields the set holds; `member`: the path itself is in the set too (a
    /// keyed-list element).
    Map { map: &'a Map<String, Value>, member: bool },
    /// A set of scalars: its elements are in the set by value, the list itself is not.
    Set(&'a [Value]),
    /// A keyed list: its elements are in the set by merge key, the list itself is not.
    Keyed { items: &'a [Value], keys: &'static [MapKey] },
    /// A field owned as one value (scalar, null, empty or atomic map, atomic list): in the set,
    /// nothing below it is.
    Leaf,
}

impl Declared<'_> {
    fn is_member(self) -> bool {
        match self {
            Self::Map { member, .. } => member,
            Self::Leaf => true,
            Self::Set(_) | Self::Keyed { .. } => false,
        }
    }
}

/// Whether every field of the `fieldsV1` tree `node` (found at `path`, where the desired object
/// has `here`) is one the desired object sets: `FieldSet::from_fields_v1(node)` minus
/// `FieldSet::from_object(desired)` is empty, decided in one walk that builds neither set. A
/// tree that does not parse, or a keyed list with two elements of one key, is never covered.
pub(super) fn fields_declared<'a>(
    schema: &Schema,
    path: &mut Vec<Step<'a>>,
    node: &Value,
    here: Declared<'a>,
) -> bool {
    let Some(entries) = node.as_object() else { return false };
    entries.iter().all(|(key, child)| {
        let Some(child_entries) = child.as_object() else { return false };
        if key == "." {
            return here.is_member() && !is_server_path(path);
        }
        let Some((step, declared)) = step_into(schema, path, here, key) else { return false };
        path.push(step);
        let covered = if child_entries.is_empty() {
            declared.is_member() && !is_server_path(path)
        } else {
            fields_declared(schema, path, child, declared)
        };
        path.pop();
        covered
    })
}

/// The desired object's part at the `fieldsV1` entry `key` below `here`; `None` when the set
/// holds nothing there (or the entry does not parse).
fn step_into<'a>(
    schema: &Schema,
    path: &[Step<'a>],
    here: Declared<'a>,
    key: &str,
) -> Option<(Step<'a>, Declared<'a>)> {
    let (prefix, rest) = key.split_at_checked(2)?;
    match (prefix, here) {
        ("f:", Declared::Map { map, .. }) => {
            let (name, value) = map.get_key_value(rest)?;
            Some((Step::Field(name), declared_field(schema, path, name, value)))
        }
        ("k:", Declared::Keyed { items, keys }) => {
            let fields: Map<String, Value> = serde_json::from_str(rest).ok()?;
            if fields.len() != keys.len() {
                return None;
            }
            let mut matching = items.iter().filter_map(Value::as_object).filter(|item| {
                keys.iter().all(|key| {
                    fields.get(key.name).is_some_and(|want| {
                        key_value(item, key).is_some_and(|have| have.matches(want))
                    })
                })
            });
            let item = matching.next()?;
            // Two elements with one key: the server refuses such a list; never call it covered.
            if matching.next().is_some() {
                return None;
            }
            Some((Step::Key, Declared::Map { map: item, member: true }))
        }
        ("v:", Declared::Set(items)) => {
            let value: Value = serde_json::from_str(rest).ok()?;
            items
                .iter()
                .any(|item| compare_values(item, &value) == Ordering::Equal)
                .then_some((Step::Item, Declared::Leaf))
        }
        _ => None,
    }
}

/// What the field `name` (of the map at `parent`) with `value` puts in the set.
fn declared_field<'a>(
    schema: &Schema,
    parent: &[Step<'a>],
    name: &str,
    value: &'a Value,
) -> Declared<'a> {
    match value {
        Value::Object(map) if map.is_empty() || schema.is_atomic_map(parent, name) => {
            Declared::Leaf
        }
        Value::Object(map) => Declared::Map { map, member: false },
        // Atomic lists, sets holding maps or lists, keyed lists missing a key: one value.
        Value::Array(items) => match schema.list_type(parent, name) {
            ListType::Set if !items.iter().any(|item| item.is_object() || item.is_array()) => {
                Declared::Set(items)
            }
            ListType::Map(keys) if all_keyed(items, keys) => Declared::Keyed { items, keys },
            ListType::Atomic | ListType::Set | ListType::Map(_) => Declared::Leaf,
        },
        _ => Declared::Leaf,
    }
}

/// [`super::is_server_field`] of a borrowed path.
fn is_server_path(path: &[Step<'_>]) -> bool {
    if path.first() == Some(&Step::Field("status")) {
        return true;
    }
    super::SERVER_FIELDS.iter().any(|fields| {
        path.len() == fields.len()
            && path.iter().zip(*fields).all(|(step, name)| *step == Step::Field(name))
    })
}
