//! Kubernetes resource quantities (`cpu: 1`, `memory: 1024Mi`) in the form the API server stores
//! them. The server parses every `resource.Quantity` field and writes it back canonically
//! (`1024Mi` → `1Gi`, `1` → `"1"`, `0.5` → `500m`), so a live object rarely repeats the manifest's
//! spelling. Comparing canonical forms tells "unchanged" from "changed" exactly as the server
//! would, without a dry-run: two spellings are the same value to the server only if they
//! canonicalise to the same string (`1024` and `1Ki` are equal numbers but stay different).
//!
//! This follows `k8s.io/apimachinery/pkg/api/resource` (`ParseQuantity`, `CanonicalizeBytes`).
//! Anything it cannot represent exactly (over 38 significant digits, exponents beyond the suffix
//! table) gives `None`, and callers fall back to plain equality, which at worst costs a dry-run.

use super::{PathElement, Schema};
use serde_json::Value;

/// How a quantity was written; the canonical form keeps the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `Ki`, `Mi`, ... `Ei`.
    BinarySi,
    /// No suffix, or `n`, `u`, `m`, `k`, `M`, `G`, `T`, `P`, `E`.
    DecimalSi,
    /// `1e3`, `5E-3`.
    DecimalExponent,
}

/// `negative × mantissa × 10^exponent`, exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quantity {
    negative: bool,
    mantissa: u128,
    exponent: i32,
    format: Format,
}

const DECIMAL_SUFFIXES: &[(&str, i32)] = &[
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];
const BINARY_SUFFIXES: &[(&str, u32)] =
    &[("", 0), ("Ki", 10), ("Mi", 20), ("Gi", 30), ("Ti", 40), ("Pi", 50), ("Ei", 60)];

/// The canonical string the API server stores for a quantity written as `value` (a string, or a
/// JSON number, which the server reads by its text). `None` when `value` is no quantity this
/// module can represent.
pub fn canonical(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.trim().to_owned(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    parse(&text)?.canonical()
}

/// Whether two spellings of a quantity are stored identically by the server.
pub fn same_quantity(a: &Value, b: &Value) -> bool {
    match (canonical(a), canonical(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Rewrites every quantity field of a built-in object to its canonical string, as the server
/// does on every write. Values that do not parse are left as they are.
pub fn canonicalize_quantities(object: &mut Value) {
    let schema = Schema::for_object(object);
    if schema.is_builtin() {
        canonicalize_in(&schema, &mut Vec::new(), object);
    }
}

fn canonicalize_in(schema: &Schema, path: &mut Vec<PathElement>, value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (field, child) in map.iter_mut() {
                if schema.is_quantity(path.as_slice(), field)
                    && !child.is_object()
                    && !child.is_array()
                {
                    if let Some(text) = canonical(child) {
                        *child = Value::String(text);
                    }
                    continue;
                }
                path.push(PathElement::Field(field.clone()));
                canonicalize_in(schema, path, child);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                path.push(PathElement::Index(index));
                canonicalize_in(schema, path, item);
                path.pop();
            }
        }
        _ => {}
    }
}

fn pow10(exponent: u32) -> Option<u128> {
    10u128.checked_pow(exponent)
}

fn parse(text: &str) -> Option<Quantity> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    let mut mantissa: u128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    let mut exponent = -i32::try_from(fraction.len()).ok()?;
    let format = if let Some(&(_, shift)) =
        BINARY_SUFFIXES.iter().find(|(s, _)| !s.is_empty() && *s == suffix)
    {
        mantissa = mantissa.checked_mul(1u128.checked_shl(shift)?)?;
        Format::BinarySi
    } else if let Some(&(_, power)) = DECIMAL_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        exponent = exponent.checked_add(power)?;
        Format::DecimalSi
    } else {
        let power = suffix.strip_prefix(['e', 'E'])?;
        let unsigned = power.strip_prefix(['+', '-']).unwrap_or(power);
        if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        exponent = exponent.checked_add(power.parse().ok()?)?;
        Format::DecimalExponent
    };
    // The server keeps nine decimals and rounds anything finer away from zero.
    if exponent < -9 && mantissa != 0 {
        let divisor = pow10(u32::try_from(-9 - exponent).ok()?)?;
        mantissa = mantissa.div_ceil(divisor);
        exponent = -9;
    }
    Some(Quantity { negative, mantissa, exponent, format })
}

impl Quantity {
    /// The integer value, when it is one.
    fn integer(&self) -> Option<u128> {
        if self.exponent >= 0 {
            return self.mantissa.checked_mul(pow10(self.exponent.unsigned_abs())?);
        }
        let divisor = pow10(self.exponent.unsigned_abs())?;
        self.mantissa.is_multiple_of(divisor).then(|| self.mantissa / divisor)
    }

    fn canonical(&self) -> Option<String> {
        if self.mantissa == 0 {
            return Some("0".to_owned());
        }
        let sign = if self.negative { "-" } else { "" };
        if self.format == Format::BinarySi
            && let Some(value) = self.integer().filter(|v| *v >= 1024)
        {
            let (mut amount, mut shift) = (value, 0u32);
            while amount % 1024 == 0 {
                amount /= 1024;
                shift += 10;
            }
            let (suffix, _) = BINARY_SUFFIXES.iter().find(|(_, s)| *s == shift)?;
            return Some(format!("{sign}{amount}{suffix}"));
        }
        // Decimal: the mantissa without trailing zeros, then the exponent lowered to a multiple
        // of three (a binary quantity below 1Ki or with a fraction is shown this way too).
        let (mut amount, mut exponent) = (self.mantissa, self.exponent);
        while amount % 10 == 0 {
            amount /= 10;
            exponent += 1;
        }
        let lower = exponent.rem_euclid(3);
        amount = amount.checked_mul(pow10(lower.unsigned_abs())?)?;
        exponent -= lower;
        let suffix = if self.format == Format::DecimalExponent {
            if exponent == 0 { String::new() } else { format!("e{exponent}") }
        } else {
            (*DECIMAL_SUFFIXES.iter().find(|(_, p)| *p == exponent)?.0).to_owned()
        };
        Some(format!("{sign}{amount}{suffix}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_forms_match_the_api_server() {
        // Pairs observed on kube-apiserver v1.28 (tests/envtest_engine.rs) and in
        // apimachinery's quantity tests.
        for (written, stored) in [
            (json!(1), "1"),
            (json!("1024Mi"), "1Gi"),
            (json!("2000m"), "2"),
            (json!("2.5Gi"), "2560Mi"),
            (json!("0.5Gi"), "512Mi"),
            (json!(1e9), "1G"),
            (json!("1000Mi"), "1000Mi"),
            (json!("100m"), "100m"),
            (json!(0.5), "500m"),
            (json!(2.0), "2"),
            (json!(0.25), "250m"),
            (json!("0.5Ki"), "512"),
            (json!("1Ki"), "1Ki"),
            (json!("1.5Ki"), "1536"),
            (json!("1.1Mi"), "1153433600m"),
            (json!("1e3"), "1e3"),
            (json!("1.5e3"), "1500"),
            (json!("1E"), "1E"),
            (json!("12345"), "12345"),
            (json!("1000"), "1k"),
            (json!("-500m"), "-500m"),
            (json!("+4"), "4"),
            (json!("0.1n"), "1n"),
            (json!("0"), "0"),
            (json!("0Mi"), "0"),
            (json!(".5"), "500m"),
        ] {
            assert_eq!(canonical(&written).as_deref(), Some(stored), "{written}");
        }
    }

    #[test]
    fn rejects_what_the_server_rejects_or_cannot_be_exact() {
        for text in ["", "abc", "1.2.3", "1Qi", "1e", "1e+", "--1", ".", "1 Mi", "1e99999999999"] {
            assert_eq!(canonical(&json!(text)), None, "{text}");
        }
        assert_eq!(canonical(&json!(true)), None);
        assert_eq!(canonical(&json!("99999999999999999999999999999999999999999")), None);
    }

    #[test]
    fn canonicalises_only_quantity_fields_of_builtin_kinds() {
        let mut deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1,
            "template": {"metadata": {"labels": {"memory": "1024Mi"}}, "spec": {
                "containers": [{"name": "a", "resources": {"requests": {"cpu": 1, "memory": "1024Mi"}, "limits": {"cpu": "bad"}}}],
                "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "2048Mi"}}]}}}});
        canonicalize_quantities(&mut deployment);
        assert_eq!(deployment["spec"]["replicas"], json!(1));
        assert_eq!(deployment["spec"]["template"]["metadata"]["labels"]["memory"], json!("1024Mi"));
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            container["resources"],
            json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "bad"}})
        );
        assert_eq!(
            deployment["spec"]["template"]["spec"]["volumes"][0]["emptyDir"]["sizeLimit"],
            json!("2Gi")
        );
        let mut custom = json!({"apiVersion": "example.com/v1", "kind": "Model", "spec": {"resources": {"requests": {"cpu": 1}}}});
        let before = custom.clone();
        canonicalize_quantities(&mut custom);
        assert_eq!(custom, before);
    }

    #[test]
    fn equal_values_in_other_families_stay_different() {
        assert!(same_quantity(&json!("1024Mi"), &json!("1Gi")));
        assert!(same_quantity(&json!(1), &json!("1000m")));
        assert!(!same_quantity(&json!("1024"), &json!("1Ki")));
        assert!(!same_quantity(&json!("1"), &json!("2")));
        assert!(!same_quantity(&json!("x"), &json!("x")));
    }
}
