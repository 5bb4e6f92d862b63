//! Field paths as structured-merge-diff (the API server's apply engine) names them, with the same
//! ordering, so sets serialise in the order the server writes them.

use serde_json::Value;
use std::cmp::Ordering;
use std::fmt::{self, Write as _};

/// One step of a field path.
#[derive(Debug, Clone)]
pub enum PathElement {
    /// A map field: `f:name` in `fieldsV1`, `.name` in conflict messages.
    Field(String),
    /// An element of a keyed list (`x-kubernetes-list-type: map`), named by its merge-key fields
    /// sorted by name: `k:{"name":"server"}`, `[name="server"]`.
    Key(Vec<(String, Value)>),
    /// An element of a set list (`x-kubernetes-list-type: set`): `v:"x"`, `[="x"]`.
    Value(Value),
    /// A list position: `i:0`, `[0]`. The server rarely tracks these; they are parsed for fidelity.
    Index(usize),
}

impl PathElement {
    /// The key element for `fields`, sorted by field name as the server sorts them.
    pub fn key<I, S>(fields: I) -> Self
    where
        I: IntoIterator<Item = (S, Value)>,
        S: Into<String>,
    {
        let mut fields: Vec<(String, Value)> =
            fields.into_iter().map(|(name, value)| (name.into(), value)).collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        Self::Key(fields)
    }

    fn rank(&self) -> u8 {
        match self {
            Self::Field(_) => 0,
            Self::Key(_) => 1,
            Self::Value(_) => 2,
            Self::Index(_) => 3,
        }
    }
}

impl Ord for PathElement {
    /// Field < Key < Value < Index, then by content: the order of `PathElement.Compare` in
    /// structured-merge-diff, which fixes the key order of serialised `fieldsV1`.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Field(a), Self::Field(b)) => a.cmp(b),
            (Self::Key(a), Self::Key(b)) => {
                for ((name_a, value_a), (name_b, value_b)) in a.iter().zip(b) {
                    let by_field =
                        name_a.cmp(name_b).then_with(|| compare_values(value_a, value_b));
                    if by_field != Ordering::Equal {
                        return by_field;
                    }
                }
                a.len().cmp(&b.len())
            }
            (Self::Value(a), Self::Value(b)) => compare_values(a, b),
            (Self::Index(a), Self::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl fmt::Display for PathElement {
    /// The conflict-message form: `.name`, `[name="x",port=80]`, `[="x"]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Field(name) => write!(f, ".{name}"),
            Self::Key(fields) => {
                f.write_char('[')?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{name}={}", value_to_string(value))?;
                }
                f.write_char(']')
            }
            Self::Value(value) => write!(f, "[={}]", value_to_string(value)),
            Self::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// Strings quoted, everything else as JSON: how the server prints key values in paths.
fn value_to_string(value: &Value) -> String {
    value.to_string()
}

/// A path from the object's root to one field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    /// A path of plain field names, e.g. `Path::fields(["spec", "replicas"])`.
    pub fn fields<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(names.into_iter().map(|name| PathElement::Field(name.into())).collect())
    }

    pub fn elements(&self) -> &[PathElement] {
        &self.0
    }

    /// True when `prefix` is this path or one of its ancestors.
    pub fn starts_with(&self, prefix: &[PathElement]) -> bool {
        self.0.starts_with(prefix)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Path {
    /// The API's conflict format: `.spec.template.spec.containers[name="server"].image`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in &self.0 {
            write!(f, "{element}")?;
        }
        Ok(())
    }
}

impl From<Vec<PathElement>> for Path {
    fn from(elements: Vec<PathElement>) -> Self {
        Self(elements)
    }
}

/// A total order on JSON values, structured-merge-diff's `value.Compare`: numbers (compared as
/// numbers, so `1 == 1.0`) < strings < booleans < lists < maps < null.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(value: &Value) -> u8 {
        match value {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (item_x, item_y) in x.iter().zip(y) {
                let by_item = compare_values(item_x, item_y);
                if by_item != Ordering::Equal {
                    return by_item;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut keys_x: Vec<&String> = x.keys().collect();
            let mut keys_y: Vec<&String> = y.keys().collect();
            keys_x.sort();
            keys_y.sort();
            for (key_x, key_y) in keys_x.iter().zip(&keys_y) {
                let by_entry =
                    key_x.cmp(key_y).then_with(|| match (x.get(*key_x), y.get(*key_y)) {
                        (Some(value_x), Some(value_y)) => compare_values(value_x, value_y),
                        _ => Ordering::Equal,
                    });
                if by_entry != Ordering::Equal {
                    return by_entry;
                }
            }
            keys_x.len().cmp(&keys_y.len())
        }
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => rank(a).cmp(&rank(b)),
    }
}

fn compare_numbers(x: &serde_json::Number, y: &serde_json::Number) -> Ordering {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a.cmp(&b);
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a.cmp(&b);
    }
    let a = x.as_f64().unwrap_or(f64::NAN);
    let b = y.as_f64().unwrap_or(f64::NAN);
    a.total_cmp(&b)
}

/// Deep equality where numbers compare as numbers (`1 == 1.0`) and map key order is ignored.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, value)| y.get(key).is_some_and(|other| values_equal(value, other)))
        }
        _ => a == b,
    }
}
