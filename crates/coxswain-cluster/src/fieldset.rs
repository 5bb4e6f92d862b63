//! Server-side-apply field sets: which fields of an object a field manager owns.
//!
//! The API server records ownership in `metadata.managedFields` as `fieldsV1` trees. Coxswain
//! needs the same sets locally to decide, without a request, whether an object can be left alone:
//! nothing desired differs from live ([`is_subset_object`]) and no field it owned has left the
//! desired object (`owned.difference(&FieldSet::from_object(desired))` is empty).
//!
//! Lists merge by the rules of the real `OpenAPI` schema for the built-in kinds ([`Schema`]); the
//! paths print in the API's conflict format (`.spec.template.spec.containers[name="server"].image`).

mod fields_v1;
mod path;
mod quantity;
mod schema;
mod walk;

#[cfg(test)]
mod tests;

pub use fields_v1::FieldsV1Error;
pub use path::{Path, PathElement, compare_values, values_equal};
pub use quantity::{canonical as canonical_quantity, canonicalize_quantities, same_quantity};
pub use schema::{ListType, MapKey, Schema, SchemaPath, Step, key_of};
/// Keyed-list lookups by the schema's merge keys, for an API server's server-side apply (the
/// in-memory cluster's); the engine itself only needs the set operations above.
pub use walk::{find_element, keyed_elements, lookup_mut};

use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

/// Fields the API server never records as owned: identity and bookkeeping of `metadata`, plus the
/// type (`stripMeta` in the server's field manager).
const SERVER_FIELDS: &[&[&str]] = &[
    &["apiVersion"],
    &["kind"],
    &["metadata", "name"],
    &["metadata", "namespace"],
    &["metadata", "creationTimestamp"],
    &["metadata", "selfLink"],
    &["metadata", "uid"],
    &["metadata", "clusterName"],
    &["metadata", "generation"],
    &["metadata", "managedFields"],
    &["metadata", "resourceVersion"],
];

/// A set of field paths, ordered as the server orders them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    paths: BTreeSet<Path>,
}

impl FieldSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// The fields an applied configuration sets, as the server records them for its manager:
    /// every leaf, atomic lists and maps as one field, keyed-list elements with `.` (the element
    /// itself) and their fields, set elements by value. `apiVersion`, `kind`, the server-managed
    /// parts of `metadata` (name, namespace, uid, ...) and `status` (written only through its own
    /// subresource) are left out.
    pub fn from_object(object: &Value) -> Self {
        let Some(map) = object.as_object() else {
            return Self::default();
        };
        let schema = Schema::for_object(object);
        let mut paths = BTreeSet::new();
        walk::collect_map(&schema, &mut Vec::new(), map, &mut paths);
        paths.retain(|path| !is_server_field(path));
        Self { paths }
    }

    /// Parses a `fieldsV1` tree from `metadata.managedFields[].fieldsV1`.
    pub fn from_fields_v1(fields: &Value) -> Result<Self, FieldsV1Error> {
        let mut paths = BTreeSet::new();
        fields_v1::parse(fields, &mut Vec::new(), &mut paths)?;
        Ok(Self { paths })
    }

    /// The set as a `fieldsV1` tree, byte-for-byte the server's layout when serialised.
    pub fn to_fields_v1(&self) -> Value {
        fields_v1::render(self.paths.iter())
    }

    pub fn insert(&mut self, path: Path) -> bool {
        self.paths.insert(path)
    }

    pub fn remove(&mut self, path: &Path) -> bool {
        self.paths.remove(path)
    }

    pub fn contains(&self, path: &Path) -> bool {
        self.paths.contains(path)
    }

    #[must_use]
    pub fn union(&self, other: &Self) -> Self {
        Self { paths: self.paths.union(&other.paths).cloned().collect() }
    }

    #[must_use]
    pub fn difference(&self, other: &Self) -> Self {
        Self { paths: self.paths.difference(&other.paths).cloned().collect() }
    }

    #[must_use]
    pub fn intersection(&self, other: &Self) -> Self {
        Self { paths: self.paths.intersection(&other.paths).cloned().collect() }
    }

    /// True when every path of `self` is in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.paths.is_subset(&other.paths)
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// True when some path lies strictly below `prefix`.
    pub fn has_descendant(&self, prefix: &Path) -> bool {
        self.paths
            .range(prefix.clone()..)
            .find(|path| *path != prefix)
            .is_some_and(|path| path.starts_with(&prefix.0))
    }

    /// The paths in order (parents before children).
    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.paths.iter()
    }

    /// The paths in the API's conflict format, in order.
    pub fn to_strings(&self) -> Vec<String> {
        self.paths.iter().map(ToString::to_string).collect()
    }
}

impl FromIterator<Path> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Path>>(iter: I) -> Self {
        Self { paths: iter.into_iter().collect() }
    }
}

impl<'a> IntoIterator for &'a FieldSet {
    type Item = &'a Path;
    type IntoIter = std::collections::btree_set::Iter<'a, Path>;

    fn into_iter(self) -> Self::IntoIter {
        self.paths.iter()
    }
}

impl fmt::Display for FieldSet {
    /// One path per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for path in &self.paths {
            writeln!(f, "{path}")?;
        }
        Ok(())
    }
}

fn is_server_field(path: &Path) -> bool {
    if matches!(path.0.first(), Some(PathElement::Field(name)) if name == "status") {
        return true;
    }
    SERVER_FIELDS.iter().any(|fields| {
        path.0.len() == fields.len()
            && path
                .0
                .iter()
                .zip(*fields)
                .all(|(element, name)| matches!(element, PathElement::Field(f) if f == name))
    })
}

/// Whether every field `desired` sets has the same value in `live`: keyed-list elements matched
/// by merge key (not position), set elements by membership, atomic lists and maps by equality,
/// numbers as numbers (`1 == 1.0`), resource quantities by the canonical form the server stores
/// (`cpu: 1` matches `"1"`, `1024Mi` matches `1Gi`). Fields `live` has beyond those are ignored; that is what
/// server-side apply leaves alone.
pub fn is_subset_object(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(want), Value::Object(have)) => {
            walk::subset_map(&Schema::for_object(desired), &mut Vec::new(), want, have)
        }
        _ => values_equal(desired, live),
    }
}

/// Whether every field of the `fieldsV1` tree `owned` is one `desired` sets: the same answer as
/// `FieldSet::from_fields_v1(owned)?.difference(&FieldSet::from_object(desired)).is_empty()`
/// (false when `owned` does not parse, and when a keyed list of `desired` repeats a key, which the
/// server refuses), in one walk that builds neither set — the plan asks it
/// of every object it finds unchanged.
pub fn fields_declared(owned: &Value, desired: &Value) -> bool {
    let Some(map) = desired.as_object() else {
        return FieldSet::from_fields_v1(owned).is_ok_and(|set| set.is_empty());
    };
    let root = walk::Declared::Map { map, member: false };
    walk::fields_declared(&Schema::for_object(desired), &mut Vec::new(), owned, root)
}

/// The value at `path` inside `object`, keyed-list elements found by merge key.
pub fn value_at<'a>(object: &'a Value, path: &Path) -> Option<&'a Value> {
    walk::lookup(&Schema::for_object(object), object, &path.0)
}
