//! The validation gate's inputs: which model, which dataset, which checks.
//!
//! `ValidationSpec` is the `modelValidation` block of a pipeline (design.md §7), deserialised with
//! `deny_unknown_fields` so that a typo such as `minAcuracy` is an error instead of a silently
//! missing gate.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ValidationError;

/// A model file in the repository and the digest it is pinned to (from `env.yaml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    /// Repo-relative path, e.g. `models/iris/1.1.0/model.onnx`.
    pub path: String,
    /// Expected lowercase hex sha256; `None` means "not pinned" (the check is reported as skipped).
    pub sha256: Option<String>,
}

/// What the model predicts; decides the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Integer class ids in the label column; accuracy from the arg-max of the output.
    #[default]
    Classification,
    /// Real-valued targets; MAE and RMSE.
    Regression,
}

/// Element type of a tensor as the spec names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    #[serde(alias = "float32", alias = "float")]
    F32,
    #[serde(alias = "float64", alias = "double")]
    F64,
    #[serde(alias = "int32")]
    I32,
    #[serde(alias = "int64")]
    I64,
}

impl DType {
    /// The ONNX `TensorProto.DataType` code.
    pub(crate) fn onnx_code(self) -> i32 {
        match self {
            DType::F32 => 1,
            DType::I32 => 6,
            DType::I64 => 7,
            DType::F64 => 11,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I32 => "i32",
            DType::I64 => "i64",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One dimension of a declared shape: a fixed size, or a symbol (`"N"`) for the batch dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimSpec {
    Fixed(u64),
    Symbol(String),
}

impl fmt::Display for DimSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DimSpec::Fixed(n) => write!(f, "{n}"),
            DimSpec::Symbol(s) => f.write_str(s),
        }
    }
}

impl Serialize for DimSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            DimSpec::Fixed(n) => serializer.serialize_u64(*n),
            DimSpec::Symbol(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for DimSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DimVisitor;
        impl Visitor<'_> for DimVisitor {
            type Value = DimSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a dimension: a positive integer or a symbol name such as \"N\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DimSpec, E> {
                if v == 0 {
                    return Err(E::custom("a dimension must be at least 1"));
                }
                Ok(DimSpec::Fixed(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DimSpec, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("a dimension cannot be negative ({v})")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DimSpec, E> {
                let mut chars = v.chars();
                let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    return Err(E::custom(format!(
                        "`{v}` is not a dimension symbol: use a name such as \"N\" or an integer"
                    )));
                }
                Ok(DimSpec::Symbol(v.to_owned()))
            }
        }
        deserializer.deserialize_any(DimVisitor)
    }
}

/// The declared name, element type and shape of a model input or output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TensorContract {
    pub name: String,
    pub shape: Vec<DimSpec>,
    pub dtype: DType,
}

impl fmt::Display for TensorContract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} [", self.name, self.dtype)?;
        for (i, d) in self.shape.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// Latency thresholds in milliseconds, measured at `batch` rows per call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LatencySpec {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    #[serde(default = "default_latency_batch")]
    pub batch: usize,
}

fn default_latency_batch() -> usize {
    1
}

/// Thresholds; every unset check is simply not evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checks {
    /// Classification only: minimum fraction of correct predictions.
    pub min_accuracy: Option<f64>,
    /// Regression only.
    pub max_mae: Option<f64>,
    /// Regression only.
    pub max_rmse: Option<f64>,
    /// Repo-relative `.npy` with the expected output for every dataset row. When unset, a
    /// `golden.npy` next to the model file is used if present (golden outputs are per model
    /// version, so one pipeline spec can serve every version); the report says which was used.
    pub golden_outputs: Option<String>,
    /// Largest allowed absolute difference between the model output and the golden outputs.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    pub latency_ms: Option<LatencySpec>,
    /// Largest allowed drop against the baseline model: accuracy points (classification) or
    /// RMSE increase (regression).
    pub max_regression: Option<f64>,
}

fn default_tolerance() -> f64 {
    1e-4
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            min_accuracy: None,
            max_mae: None,
            max_rmse: None,
            golden_outputs: None,
            tolerance: default_tolerance(),
            latency_ms: None,
            max_regression: None,
        }
    }
}

/// The `modelValidation` gate of a pipeline stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidationSpec {
    /// Repo-relative CSV: a header row, the feature columns in input order, and the label column.
    pub dataset: String,
    pub label_column: String,
    /// Defaults to classification.
    pub task: Option<Task>,
    pub input: TensorContract,
    /// The output whose values are checked; default: the model's first float output.
    pub output: Option<TensorContract>,
    /// Rows per inference call when the batch dimension is symbolic; default 64.
    pub batch_size: Option<usize>,
    /// Ignore the model's `value_info` type hints; some exporters write inconsistent ones.
    #[serde(default)]
    pub ignore_value_info: bool,
    #[serde(default)]
    pub checks: Checks,
}

pub(crate) const DEFAULT_BATCH_SIZE: usize = 64;

impl ValidationSpec {
    pub fn task(&self) -> Task {
        self.task.unwrap_or_default()
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE)
    }

    /// Rejects specs that deserialise but cannot be meant (negative tolerance, accuracy for a
    /// regression model, a symbolic dimension anywhere but first, ...).
    pub fn check(&self) -> Result<(), ValidationError> {
        let bad = |field: &str, reason: String| {
            Err(ValidationError::InvalidSpec { field: field.to_owned(), reason })
        };
        check_contract("input", &self.input)?;
        if let Some(output) = &self.output {
            check_contract("output", output)?;
        }
        if self.batch_size == Some(0) {
            return bad("batchSize", "must be at least 1".into());
        }
        let c = &self.checks;
        if !(c.tolerance.is_finite() && c.tolerance >= 0.0) {
            return bad("checks.tolerance", format!("must be a number ≥ 0, got {}", c.tolerance));
        }
        for (field, value) in [
            ("checks.minAccuracy", c.min_accuracy),
            ("checks.maxMae", c.max_mae),
            ("checks.maxRmse", c.max_rmse),
            ("checks.maxRegression", c.max_regression),
        ] {
            if let Some(v) = value
                && !v.is_finite()
            {
                return bad(field, format!("must be a finite number, got {v}"));
            }
        }
        if let Some(v) = c.min_accuracy
            && !(0.0..=1.0).contains(&v)
        {
            return bad("checks.minAccuracy", format!("is a fraction in [0, 1], got {v}"));
        }
        match self.task() {
            Task::Classification => {
                if c.max_mae.is_some() || c.max_rmse.is_some() {
                    return bad(
                        "checks.maxMae/maxRmse",
                        "apply to `task: regression`; use minAccuracy for classification".into(),
                    );
                }
            }
            Task::Regression => {
                if c.min_accuracy.is_some() {
                    return bad(
                        "checks.minAccuracy",
                        "applies to classification; use maxMae/maxRmse for `task: regression`"
                            .into(),
                    );
                }
            }
        }
        if let Some(lat) = &c.latency_ms {
            if lat.batch == 0 {
                return bad("checks.latencyMs.batch", "must be at least 1".into());
            }
            for (field, value) in [("p50", lat.p50), ("p95", lat.p95), ("p99", lat.p99)] {
                if let Some(v) = value
                    && !(v.is_finite() && v > 0.0)
                {
                    return bad(
                        &format!("checks.latencyMs.{field}"),
                        format!("must be a positive number of milliseconds, got {v}"),
                    );
                }
            }
        }
        Ok(())
    }

    /// The symbol of the batch dimension, `None` when the first dimension is fixed.
    pub(crate) fn batch_symbol(&self) -> Option<&str> {
        match self.input.shape.first() {
            Some(DimSpec::Symbol(s)) => Some(s),
            _ => None,
        }
    }
}

fn check_contract(which: &str, contract: &TensorContract) -> Result<(), ValidationError> {
    let bad = |field: &str, reason: String| {
        Err(ValidationError::InvalidSpec { field: format!("{which}.{field}"), reason })
    };
    if contract.name.is_empty() {
        return bad("name", "must name the model's tensor".into());
    }
    if contract.shape.is_empty() {
        return bad("shape", "needs at least the batch dimension, e.g. [N, 4]".into());
    }
    if let Some(pos) = contract.shape.iter().skip(1).position(|d| matches!(d, DimSpec::Symbol(_))) {
        return bad(
            "shape",
            format!(
                "only the first (batch) dimension may be symbolic; dimension {} is `{}`",
                pos + 1,
                contract.shape.get(pos + 1).map(ToString::to_string).unwrap_or_default()
            ),
        );
    }
    Ok(())
}

/// Resource caps for one validation run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest file the gate reads: model, dataset and golden outputs alike.
    pub max_model_bytes: u64,
    /// Wall-clock cap for loading and running one model (candidate and baseline each get it).
    pub max_run: Duration,
    /// Time spent measuring latency per batch size (at least 20 calls unless `max_run` ends first).
    pub latency_budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_model_bytes: 256 * 1024 * 1024,
            max_run: Duration::from_mins(1),
            latency_budget: Duration::from_secs(1),
        }
    }
}
