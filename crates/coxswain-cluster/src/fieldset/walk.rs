//! Walking objects under the merge rules of a [`Schema`]: collecting the fields an object sets,
//! finding the value at a path, and the subset test.

use super::path::{compare_values, values_equal};
use super::quantity::same_quantity;
use super::schema::{ListType, MapKey, Schema, key_of};
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

/// Whether every field `desired` sets has the same value in `live`.
pub(super) fn subset_map(
    schema: &Schema,
    path: &mut Vec<PathElement>,
    desired: &Map<String, Value>,
    live: &Map<String, Value>,
) -> bool {
    desired.iter().all(|(name, wanted)| {
        path.push(PathElement::Field(name.clone()));
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

fn subset_field(
    schema: &Schema,
    path: &mut Vec<PathElement>,
    field: &str,
    wanted: &Value,
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
                let (Some(want), Some(have)) =
                    (keyed_elements(want, keys), keyed_elements(have, keys))
                else {
                    return equal_in(schema, path, wanted, found);
                };
                want.iter().all(|(element, item)| {
                    have.iter().find(|(other, _)| other == element).is_some_and(|(_, live_item)| {
                        path.push(element.clone());
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

/// Deep equality of two values found at `path` (an atomic list or map, replaced as a whole), with
/// quantities inside compared by their canonical form: an HPA's `metrics` list is atomic, yet the
/// server rewrites the `averageValue` quantities in it.
fn equal_in(schema: &Schema, path: &mut Vec<PathElement>, wanted: &Value, found: &Value) -> bool {
    match (wanted, found) {
        (Value::Object(want), Value::Object(have)) => {
            want.len() == have.len()
                && want.iter().all(|(name, value)| {
                    have.get(name).is_some_and(|other| {
                        if schema.is_quantity(path, name) && !value.is_object() && !value.is_array()
                        {
                            return values_equal(value, other) || same_quantity(value, other);
                        }
                        path.push(PathElement::Field(name.clone()));
                        let equal = equal_in(schema, path, value, other);
                        path.pop();
                        equal
                    })
                })
        }
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len()
                && want.iter().zip(have).enumerate().all(|(index, (value, other))| {
                    path.push(PathElement::Index(index));
                    let equal = equal_in(schema, path, value, other);
                    path.pop();
                    equal
                })
        }
        _ => values_equal(wanted, found),
    }
}
