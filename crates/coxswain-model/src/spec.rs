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
use crate::npy::NpyDtype;

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
    #[serde(alias = "float16", alias = "half")]
    F16,
    #[serde(alias = "int8")]
    I8,
    #[serde(alias = "int32")]
    I32,
    #[serde(alias = "int64")]
    I64,
    #[serde(alias = "uint8")]
    U8,
    Bool,
}

impl DType {
    /// The ONNX `TensorProto.DataType` code.
    pub(crate) fn onnx_code(self) -> i32 {
        match self {
            DType::F32 => 1,
            DType::U8 => 2,
            DType::I8 => 3,
            DType::I32 => 6,
            DType::I64 => 7,
            DType::Bool => 9,
            DType::F16 => 10,
            DType::F64 => 11,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        self.npy().name()
    }

    /// The matching `.npy` element type.
    pub(crate) fn npy(self) -> NpyDtype {
        match self {
            DType::F32 => NpyDtype::F32,
            DType::F64 => NpyDtype::F64,
            DType::F16 => NpyDtype::F16,
            DType::I8 => NpyDtype::I8,
            DType::I32 => NpyDtype::I32,
            DType::I64 => NpyDtype::I64,
            DType::U8 => NpyDtype::U8,
            DType::Bool => NpyDtype::Bool,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One dimension of a declared shape: a fixed size, or a symbol: `"N"` for the batch dimension,
/// any name for a size the dataset decides (sequence length, image width).
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
        write!(f, "{} {} {}", self.name, self.dtype, dims_text(&self.shape))
    }
}

/// A model output the gate checks: the name, optionally the declared type and shape (the output
/// contract), and the tolerance for comparing it with golden outputs (numpy `allclose`
/// semantics: `|model − golden| ≤ atol + rtol·|golden|`; unset values fall back to `checks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputContract {
    pub name: String,
    pub shape: Option<Vec<DimSpec>>,
    pub dtype: Option<DType>,
    pub rtol: Option<f64>,
    pub atol: Option<f64>,
}

impl fmt::Display for OutputContract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(dtype) = self.dtype {
            write!(f, " {dtype}")?;
        }
        if let Some(shape) = &self.shape {
            write!(f, " {}", dims_text(shape))?;
        }
        Ok(())
    }
}

/// `[N, 3, 48, W]`.
pub(crate) fn dims_text(dims: &[DimSpec]) -> String {
    let inner: Vec<String> = dims.iter().map(ToString::to_string).collect();
    format!("[{}]", inner.join(", "))
}

/// Top-k accuracy: the label is among the `k` highest scores of the metric output
/// (`checks.output`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopKSpec {
    pub k: usize,
    /// Smallest allowed fraction of rows whose label is in the top k.
    pub min: f64,
}

/// Agreement of arg-max tokens with the golden outputs, for sequence outputs `[N, …, vocab]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenAgreementSpec {
    /// Smallest allowed fraction of positions whose arg-max equals the golden arg-max.
    pub min: f64,
    /// The output to compare; default `checks.output`.
    pub output: Option<String>,
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
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checks {
    /// The output that accuracy, top-k, MAE/RMSE and the regression comparison use; default:
    /// the first declared output, else the model's first float output.
    pub output: Option<String>,
    /// Classification only: minimum fraction of correct predictions.
    pub min_accuracy: Option<f64>,
    /// Classification only: top-k accuracy.
    pub top_k: Option<TopKSpec>,
    /// Regression only.
    pub max_mae: Option<f64>,
    /// Regression only.
    pub max_rmse: Option<f64>,
    /// Golden outputs: a `.npy` (the checked output, one row per dataset row) or a `.npz` with
    /// one array per output name. When unset, a `golden.npz` or `golden.npy` next to the model
    /// file is used if present (golden outputs are per model version, so one pipeline spec can
    /// serve every version), else arrays of the dataset bundle named like outputs; the report
    /// says which was used.
    pub golden_outputs: Option<String>,
    /// Absolute tolerance against golden outputs (the historical name of `atol`).
    pub tolerance: Option<f64>,
    /// Default relative tolerance for every output (default 0).
    pub rtol: Option<f64>,
    /// Default absolute tolerance for every output (default 1e-4).
    pub atol: Option<f64>,
    pub token_agreement: Option<TokenAgreementSpec>,
    pub latency_ms: Option<LatencySpec>,
    /// Largest allowed drop against the baseline model: accuracy points (classification) or
    /// RMSE increase (regression).
    pub max_regression: Option<f64>,
}

pub(crate) const DEFAULT_ATOL: f64 = 1e-4;

impl Checks {
    /// The default `(rtol, atol)` for outputs that set none.
    pub fn tolerances(&self) -> (f64, f64) {
        (self.rtol.unwrap_or(0.0), self.atol.or(self.tolerance).unwrap_or(DEFAULT_ATOL))
    }
}

/// The `modelValidation` gate of a pipeline stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidationSpec {
    /// A CSV (header row, the feature columns in input order, the label column), a `.npz`
    /// bundle (one array per input name, plus labels and golden outputs), or a folder of `.npy`
    /// files named like the arrays.
    pub dataset: String,
    /// The label column (CSV) or array (`.npz`/folder); optional for tensor datasets.
    #[serde(alias = "labels")]
    pub label_column: Option<String>,
    /// Defaults to classification.
    pub task: Option<Task>,
    /// The model's input (one-input models); or use `inputs`.
    pub input: Option<TensorContract>,
    /// Every model input, fed from the dataset's array of the same name.
    #[serde(default)]
    pub inputs: Vec<TensorContract>,
    /// The output to check; default: the model's first float output. Or use `outputs`.
    pub output: Option<OutputContract>,
    /// Outputs whose contract is checked and which golden outputs are compared with.
    #[serde(default)]
    pub outputs: Vec<OutputContract>,
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

    /// The declared inputs, `input` or `inputs`.
    pub fn input_contracts(&self) -> Vec<&TensorContract> {
        self.input.iter().chain(&self.inputs).collect()
    }

    /// The declared outputs, `output` or `outputs`.
    pub fn output_contracts(&self) -> Vec<&OutputContract> {
        self.output.iter().chain(&self.outputs).collect()
    }

    /// `(rtol, atol)` for an output.
    pub(crate) fn tolerances_for(&self, output: &str) -> (f64, f64) {
        let (rtol, atol) = self.checks.tolerances();
        let declared = self.output_contracts().into_iter().find(|o| o.name == output);
        (
            declared.and_then(|o| o.rtol).unwrap_or(rtol),
            declared.and_then(|o| o.atol).unwrap_or(atol),
        )
    }

    /// Rejects specs that deserialise but cannot be meant (negative tolerance, accuracy for a
    /// regression model, inputs that disagree on the batch dimension, ...).
    pub fn check(&self) -> Result<(), ValidationError> {
        let bad = |field: &str, reason: String| {
            Err(ValidationError::InvalidSpec { field: field.to_owned(), reason })
        };
        let inputs = self.input_contracts();
        match (&self.input, self.inputs.is_empty()) {
            (None, true) => return bad("input", "declare the model's input (or `inputs`)".into()),
            (Some(_), false) => {
                return bad("inputs", "set `input` or `inputs`, not both".into());
            }
            _ => {}
        }
        if self.output.is_some() && !self.outputs.is_empty() {
            return bad("outputs", "set `output` or `outputs`, not both".into());
        }
        for (i, input) in inputs.iter().enumerate() {
            check_contract("input", input)?;
            if inputs.iter().take(i).any(|other| other.name == input.name) {
                return bad("inputs", format!("`{}` is declared twice", input.name));
            }
        }
        let firsts: Vec<&DimSpec> = inputs.iter().filter_map(|i| i.shape.first()).collect();
        if let Some(first) = firsts.first()
            && let Some(other) = firsts.iter().find(|d| *d != first)
        {
            return bad(
                "inputs",
                format!(
                    "every input must share the batch dimension; found `{first}` and `{other}`"
                ),
            );
        }
        for output in self.output_contracts() {
            if output.name.is_empty() {
                return bad("output.name", "must name the model's tensor".into());
            }
            for (field, value) in [("rtol", output.rtol), ("atol", output.atol)] {
                if let Some(v) = value
                    && !(v.is_finite() && v >= 0.0)
                {
                    return bad(
                        &format!("output `{}`.{field}", output.name),
                        format!("must be a number ≥ 0, got {v}"),
                    );
                }
            }
        }
        if self.batch_size == Some(0) {
            return bad("batchSize", "must be at least 1".into());
        }
        let c = &self.checks;
        for (field, value) in
            [("checks.tolerance", c.tolerance), ("checks.rtol", c.rtol), ("checks.atol", c.atol)]
        {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                return bad(field, format!("must be a number ≥ 0, got {v}"));
            }
        }
        if c.tolerance.is_some() && c.atol.is_some() {
            return bad("checks.tolerance", "is the old name of `atol`; set one of them".into());
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
        for (field, value) in [
            ("checks.minAccuracy", c.min_accuracy),
            ("checks.topK.min", c.top_k.as_ref().map(|t| t.min)),
            ("checks.tokenAgreement.min", c.token_agreement.as_ref().map(|t| t.min)),
        ] {
            if let Some(v) = value
                && !(0.0..=1.0).contains(&v)
            {
                return bad(field, format!("is a fraction in [0, 1], got {v}"));
            }
        }
        if c.top_k.as_ref().is_some_and(|t| t.k == 0) {
            return bad("checks.topK.k", "must be at least 1".into());
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
                if c.min_accuracy.is_some() || c.top_k.is_some() {
                    return bad(
                        "checks.minAccuracy/topK",
                        "apply to classification; use maxMae/maxRmse for `task: regression`".into(),
                    );
                }
            }
        }
        let needs_labels = c.min_accuracy.is_some()
            || c.top_k.is_some()
            || c.max_mae.is_some()
            || c.max_rmse.is_some()
            || c.max_regression.is_some();
        if needs_labels && self.label_column.is_none() {
            return bad(
                "labelColumn",
                "is needed by the accuracy, error and regression checks: name the label column or array"
                    .into(),
            );
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
        match self.input_contracts().first().and_then(|i| i.shape.first()) {
            Some(DimSpec::Symbol(s)) => Some(s),
            _ => None,
        }
    }

    /// The fixed batch size, when the first dimension is a number.
    pub(crate) fn fixed_batch(&self) -> Option<usize> {
        match self.input_contracts().first().and_then(|i| i.shape.first()) {
            Some(DimSpec::Fixed(n)) => Some(usize::try_from(*n).unwrap_or(usize::MAX)),
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
