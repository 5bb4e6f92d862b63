//! Loading a model with tract and running the dataset and the latency loop through it.
//!
//! Everything here runs inside `isolate::run`, so a tract panic or a hang stays contained.
//!
//! Shapes: every input dimension but the batch is made concrete from the dataset before tract
//! analyses the graph (a symbolic image width or sequence length gains nothing at validation
//! time and blocks some optimisations). The batch stays symbolic when tract can translate the
//! graph that way, so one optimised plan serves every batch size; graphs that compute a shape
//! from the batch (a dynamic `Reshape`, `Expand`/`MultiBroadcastTo`) often cannot, and then the
//! model is optimised once per concrete batch size and the report says so. The contract check
//! reads the declarations in the file and stays symbolic either way.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tract_onnx::pb;
use tract_onnx::prelude::*;

use crate::arrays::{ArrayInfo, Cursor};
use crate::contract::{self, ContractLine, Naming};
use crate::dataset::Dataset;
use crate::error::ValidationError;
use crate::isolate::Worker;
use crate::metrics::{Classification, GoldenCompare, Regression, TokenAgreement};
use crate::proto;
use crate::report::LatencyStats;
use crate::spec::{DimSpec, Limits, Task, ValidationSpec};

/// Golden outputs for the candidate, and where they came from.
#[derive(Debug, Clone)]
pub(crate) struct Golden {
    /// The file shown in the report.
    pub source: String,
    /// `(output name, array)`; `None` is the output the metrics use (a single `.npy`).
    pub arrays: Vec<(Option<String>, ArrayInfo)>,
    /// Arrays named after no model output are reported (explicit files) or ignored (arrays of
    /// the dataset bundle that may hold anything).
    pub report_unmatched: bool,
}

/// Everything the worker needs, owned so it can move to the worker thread.
pub(crate) struct Job {
    pub file: String,
    pub bytes: Vec<u8>,
    pub spec: ValidationSpec,
    pub dataset: Arc<Dataset>,
    pub golden: Option<Arc<Golden>>,
    pub naming: Naming,
    pub limits: Limits,
}

/// The outcome for one model: the contract verdicts and, when they passed, the run.
#[derive(Debug)]
pub(crate) struct Evaluation {
    pub input: ContractLine,
    pub output: ContractLine,
    pub run: Option<RunOutput>,
}

/// Why an output cannot be compared with its golden array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Incomparable {
    #[error("array `{array}` has shape {shape} but the dataset has {rows} rows")]
    Rows { array: String, shape: String, rows: usize },
    #[error(
        "golden shape {golden:?} does not match the output ({width} values per row, shape \
         {output:?})"
    )]
    Width { golden: Vec<usize>, width: usize, output: Vec<usize> },
    #[error("no golden outputs for `{name}`: add an array named `{name}` to the golden outputs")]
    NoGolden { name: String },
}

/// One output compared with its golden array.
#[derive(Debug, Clone)]
pub(crate) struct GoldenOutcome {
    pub output: String,
    /// The comparison, or why the arrays cannot be compared (shape mismatch).
    pub result: Result<GoldenCompare, Incomparable>,
}

/// What the dataset pass measured, plus timings.
#[derive(Debug, Clone)]
pub(crate) struct RunOutput {
    /// The output the accuracy / error metrics were computed on.
    pub metric_output: String,
    pub accuracy: Option<f64>,
    pub top_k: Option<(usize, f64)>,
    /// `(mae, rmse)`.
    pub regression: Option<(f64, f64)>,
    pub golden: Vec<GoldenOutcome>,
    pub token_agreement: Option<Result<TokenAgreement, Incomparable>>,
    pub load_ms: f64,
    pub latency: Vec<LatencyStats>,
    pub rows_per_s: f64,
    /// Rows per call used for the dataset pass and the throughput figure.
    pub batch: usize,
    /// Decisions a reviewer should know about (the batch was made concrete, ignored arrays).
    pub notes: Vec<String>,
}

/// Calls per batch size before timing starts (first calls allocate and resolve shapes).
const WARMUP_CALLS: usize = 3;
/// Enough samples for a meaningful p99.
const MAX_TIMED_CALLS: usize = 1000;
/// Fewest timed calls before the time budget may end the loop.
const MIN_TIMED_CALLS: usize = 20;

type Plan = Arc<TypedSimplePlan>;

pub(crate) fn evaluate(job: &Job, worker: &Worker) -> Result<Evaluation, ValidationError> {
    let file = job.file.as_str();
    let spec = &job.spec;
    worker.stage("decoding the model");
    let model = proto::decode(file, &job.bytes)?;
    let onnx = tract_onnx::onnx().with_ignore_value_info(spec.ignore_value_info);
    let known = |op: &str| onnx.op_register.0.contains_key(op);
    proto::preflight(file, &model, &known, job.limits.max_model_bytes)?;

    let sig = proto::signature(&model);
    let declared_inputs = spec.input_contracts();
    let (input, input_names) =
        contract::check_inputs(&sig, &declared_inputs, job.dataset.csv_width, job.naming);
    let declared_outputs = spec.output_contracts();
    let wanted =
        spec.checks.output.as_deref().or_else(|| declared_outputs.first().map(|o| o.name.as_str()));
    let metric = contract::metric_output(&sig, wanted, job.naming);
    let (output, _) = contract::check_outputs(&sig, &declared_outputs, &metric, job.naming);
    let (Some(input_names), Ok(metric_output), true) = (input_names, metric, output.pass) else {
        return Ok(Evaluation { input, output, run: None });
    };

    // The outputs to compute: the metric output first, then those with golden data and the
    // ones the per-output checks name.
    let mut notes = Vec::new();
    let mut outputs = vec![metric_output.clone()];
    let mut golden_arrays: Vec<(String, ArrayInfo)> = Vec::new();
    if let Some(golden) = &job.golden {
        for (name, array) in &golden.arrays {
            let target = name.clone().unwrap_or_else(|| metric_output.clone());
            if sig.outputs.iter().any(|o| o.name == target) {
                golden_arrays.push((target, array.clone()));
            } else if golden.report_unmatched {
                notes.push(format!(
                    "{}: array `{}` matches no model output and was not compared",
                    golden.source, array.name
                ));
            }
        }
    }
    let mut checked = |name: &str, what: &str| -> Result<(), ValidationError> {
        if !sig.outputs.iter().any(|o| o.name == name) {
            return Err(ValidationError::InvalidSpec {
                field: what.to_owned(),
                reason: format!(
                    "names output `{name}`, which the model does not have; its outputs: {}",
                    sig.outputs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            });
        }
        if !outputs.iter().any(|o| o == name) {
            outputs.push(name.to_owned());
        }
        Ok(())
    };
    for (name, _) in &golden_arrays {
        checked(name, "checks.goldenOutputs")?;
    }
    let token_output = match &spec.checks.token_agreement {
        Some(t) => {
            let name = t.output.clone().unwrap_or_else(|| metric_output.clone());
            checked(&name, "checks.tokenAgreement.output")?;
            Some(name)
        }
        None => None,
    };

    let load_start = Instant::now();
    let inputs = job
        .dataset
        .inputs
        .iter()
        .zip(&declared_inputs)
        .zip(input_names)
        .map(|((array, contract), name)| ModelInput {
            name,
            datum_type: array.dtype.datum_type(),
            dims: contract
                .shape
                .iter()
                .zip(&array.shape)
                .enumerate()
                .map(|(i, (d, actual))| match d {
                    _ if i == 0 => Dim::Batch,
                    DimSpec::Fixed(n) => Dim::Fixed(usize::try_from(*n).unwrap_or(usize::MAX)),
                    DimSpec::Symbol(_) => Dim::Fixed(*actual),
                })
                .collect(),
        })
        .collect();
    let mut planner = Planner {
        file,
        onnx: &onnx,
        model: &model,
        inputs,
        outputs: &outputs,
        batch_symbol: spec.batch_symbol().map(str::to_owned),
        concrete: HashMap::new(),
    };
    let rows = job.dataset.rows;
    let batch = match spec.fixed_batch() {
        Some(n) => {
            planner.plan(n, worker)?;
            Batching::Fixed(n)
        }
        // The symbolic attempt only tells whether the batch can stay symbolic (the report notes
        // when not); the runs use plans optimised for a concrete batch, which tract makes much
        // faster on conv models (models/README.md: 6.5x at batch 1 on the bench conv net).
        None => match planner.probe_symbolic(worker)? {
            None => {
                planner.plan(spec.batch_size(), worker)?;
                Batching::Fixed(spec.batch_size())
            }
            Some(reason) => {
                let n = spec.batch_size();
                planner.plan(n, worker)?;
                notes.push(format!(
                    "the batch dimension `{}` could not stay symbolic in tract ({reason}); the \
                     model was optimised for each batch size it ran at (the dataset in batches \
                     of {n}); the contract check used the declared shapes",
                    spec.batch_symbol().unwrap_or("N")
                ));
                Batching::Fixed(n)
            }
        },
    };
    let load_ms = load_start.elapsed().as_secs_f64() * 1e3;
    worker.check_time()?;

    worker.stage("running the dataset");
    let output_index = |name: &str| outputs.iter().position(|o| o == name).unwrap_or(0);
    let mut sink = Sink {
        file,
        task: spec.task(),
        labels: job.dataset.labels.as_deref(),
        classification: Classification::new(spec.checks.top_k.as_ref().map(|t| t.k)),
        regression: Regression::default(),
        width: None,
        golden: golden_arrays
            .iter()
            .map(|(name, array)| {
                GoldenState::new(name, output_index(name), array, rows, spec.tolerances_for(name))
            })
            .collect::<Result<_, _>>()?,
        token_index: token_output.as_deref().map(output_index),
        tokens: TokenAgreement::default(),
    };
    let runner = Runner { file, dataset: &job.dataset };
    let plan = planner.plan(batch.rows(), worker)?;
    let mut state = plan.spawn().map_err(|e| inference(file, &e))?;
    runner.run_dataset(&mut state, batch, &mut sink, worker)?;

    worker.stage("measuring latency");
    let mut sizes = match spec.fixed_batch() {
        Some(n) => vec![n],
        None => {
            let mut sizes = vec![1, batch.rows()];
            if let Some(lat) = &spec.checks.latency_ms {
                sizes.push(lat.batch);
            }
            sizes
        }
    };
    sizes.sort_unstable();
    sizes.dedup();
    let mut latency = Vec::with_capacity(sizes.len());
    let mut rows_per_s = 0.0;
    for size in sizes {
        let plan = planner.plan(size, worker)?;
        let mut state = plan.spawn().map_err(|e| inference(file, &e))?;
        let (stats, mean_s) =
            runner.measure(&mut state, size, job.limits.latency_budget, worker)?;
        if size == batch.rows() && mean_s > 0.0 {
            rows_per_s = size as f64 / mean_s;
        }
        latency.push(stats);
    }
    let (accuracy, top_k, regression) = sink.metrics();
    Ok(Evaluation {
        input,
        output,
        run: Some(RunOutput {
            metric_output,
            accuracy,
            top_k,
            regression,
            golden: sink
                .golden
                .iter()
                .map(|g| GoldenOutcome { output: g.output.clone(), result: g.result.clone() })
                .collect(),
            token_agreement: token_output.map(|name| {
                match sink.golden.iter().find(|g| g.output == name) {
                    None => Err(Incomparable::NoGolden { name: name.clone() }),
                    Some(g) => match &g.result {
                        Err(e) => Err(e.clone()),
                        Ok(_) => Ok(sink.tokens.clone()),
                    },
                }
            }),
            load_ms,
            latency,
            rows_per_s,
            batch: batch.rows(),
            notes,
        }),
    })
}

#[derive(Debug, Clone, Copy)]
enum Batching {
    /// The plan takes exactly this many rows per call.
    Fixed(usize),
}

impl Batching {
    fn rows(self) -> usize {
        match self {
            Batching::Fixed(n) => n,
        }
    }
}

/// One input as tract gets it: its datum type and shape with every non-batch size concrete.
struct ModelInput {
    name: String,
    datum_type: DatumType,
    dims: Vec<Dim>,
}

#[derive(Debug, Clone, Copy)]
enum Dim {
    Batch,
    Fixed(usize),
}

/// Optimised plans, one per concrete batch size.
struct Planner<'a> {
    file: &'a str,
    onnx: &'a tract_onnx::Onnx,
    model: &'a pb::ModelProto,
    inputs: Vec<ModelInput>,
    outputs: &'a [String],
    batch_symbol: Option<String>,
    concrete: HashMap<usize, Plan>,
}

impl Planner<'_> {
    /// Why tract cannot type the graph with a symbolic batch (`None`: it can). The `Err` is a
    /// model tract cannot load at all.
    fn probe_symbolic(&mut self, worker: &Worker) -> Result<Option<String>, ValidationError> {
        match self.compile(None, worker)? {
            Ok(_) => Ok(None),
            Err(e) => Ok(Some(first_line(&e))),
        }
    }

    /// The plan to run `batch` rows per call with.
    fn plan(&mut self, batch: usize, worker: &Worker) -> Result<Plan, ValidationError> {
        if let Some(plan) = self.concrete.get(&batch) {
            return Ok(Arc::clone(plan));
        }
        let plan = self.compile(Some(batch), worker)?.map_err(|e| {
            ValidationError::InvalidModel { file: self.file.to_owned(), reason: tract_message(&e) }
        })?;
        self.concrete.insert(batch, Arc::clone(&plan));
        Ok(plan)
    }

    /// Parse → declare the input facts → keep only the needed outputs → optimise. Parse errors
    /// are final (outer `Err`); analysis and optimisation errors are returned for a retry.
    fn compile(
        &self,
        batch: Option<usize>,
        worker: &Worker,
    ) -> Result<Result<Plan, TractError>, ValidationError> {
        let invalid = |e: &TractError| ValidationError::InvalidModel {
            file: self.file.to_owned(),
            reason: tract_message(e),
        };
        worker.stage("loading the model");
        let mut model = self.onnx.model_for_proto_model(self.model).map_err(|e| invalid(&e))?;
        let outlets = model.input_outlets().map_err(|e| invalid(&e))?.to_vec();
        for input in &self.inputs {
            let index = outlets
                .iter()
                .position(|o| model.node(o.node).name == input.name)
                .ok_or_else(|| ValidationError::InvalidModel {
                    file: self.file.to_owned(),
                    reason: format!("tract does not see the input `{}`", input.name),
                })?;
            let shape: TVec<TDim> = input
                .dims
                .iter()
                .map(|d| match (*d, batch) {
                    (Dim::Fixed(n), _) | (Dim::Batch, Some(n)) => {
                        TDim::Val(i64::try_from(n).unwrap_or(i64::MAX))
                    }
                    (Dim::Batch, None) => {
                        model.sym(self.batch_symbol.as_deref().unwrap_or("N")).to_dim()
                    }
                })
                .collect();
            model
                .set_input_fact(index, InferenceFact::dt_shape(input.datum_type, shape))
                .map_err(|e| invalid(&e))?;
        }
        // Pruning the other outputs (e.g. a label branch) avoids work and ops irrelevant to checks.
        model.select_outputs_by_name(self.outputs).map_err(|e| invalid(&e))?;
        worker.check_time()?;
        worker.stage("analysing and optimising the model");
        let typed = match model.into_optimized() {
            Ok(typed) => typed,
            Err(e) => return Ok(Err(e)),
        };
        worker.check_time()?;
        worker.stage("preparing the model to run");
        Ok(typed.into_runnable())
    }
}

/// The first lines of tract's error chain; its full chains embed whole node dumps.
fn tract_message(e: &TractError) -> String {
    const MAX: usize = 600;
    let text = format!("{e:#}");
    if text.chars().count() <= MAX {
        return text;
    }
    let mut cut: String = text.chars().take(MAX).collect();
    cut.push('…');
    cut
}

/// The innermost cause, one line: what a reviewer needs in a note.
fn first_line(e: &TractError) -> String {
    let root = e.root_cause().to_string();
    let line = root.lines().next().unwrap_or_default().trim();
    let mut out: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        out.push('…');
    }
    out
}

fn inference(file: &str, e: &TractError) -> ValidationError {
    ValidationError::Inference { file: file.to_owned(), reason: tract_message(e) }
}

type Metrics3 = (Option<f64>, Option<(usize, f64)>, Option<(f64, f64)>);

/// Accumulates the metrics batch by batch.
struct Sink<'a> {
    file: &'a str,
    task: Task,
    labels: Option<&'a [f64]>,
    classification: Classification,
    regression: Regression,
    width: Option<usize>,
    golden: Vec<GoldenState>,
    token_index: Option<usize>,
    tokens: TokenAgreement,
}

struct GoldenState {
    output: String,
    index: usize,
    cursor: Option<Cursor>,
    shape: Vec<usize>,
    row_len: usize,
    result: Result<GoldenCompare, Incomparable>,
}

impl GoldenState {
    fn new(
        output: &str,
        index: usize,
        array: &ArrayInfo,
        rows: usize,
        (rtol, atol): (f64, f64),
    ) -> Result<GoldenState, ValidationError> {
        let result = if array.rows() == rows && !array.shape.is_empty() {
            Ok(GoldenCompare::new(rtol, atol, array.shape.clone()))
        } else {
            Err(Incomparable::Rows { array: array.name.clone(), shape: array.shape_text(), rows })
        };
        let cursor = if result.is_ok() { Some(array.open()?) } else { None };
        Ok(GoldenState {
            output: output.to_owned(),
            index,
            cursor,
            shape: array.shape.clone(),
            row_len: array.row_len(),
            result,
        })
    }
}

impl Sink<'_> {
    fn add(
        &mut self,
        start: usize,
        real: usize,
        outputs: &[(Vec<f64>, Vec<usize>, bool)],
    ) -> Result<(), ValidationError> {
        let bad =
            |reason: String| ValidationError::Inference { file: self.file.to_owned(), reason };
        let Some((values, shape, integer)) = outputs.first() else {
            return Err(bad("the model returned no output".into()));
        };
        let width: usize = shape.iter().skip(1).product();
        match self.width {
            None => self.width = Some(width),
            Some(prev) if prev != width => {
                return Err(bad(format!(
                    "output width changed between batches ({prev} then {width})"
                )));
            }
            Some(_) => {}
        }
        let rows = values.get(..real * width).unwrap_or(values);
        if let Some(labels) = self.labels {
            let labels = labels.get(start..start + real).unwrap_or_default();
            match self.task {
                Task::Classification => self.classification.add(rows, width, *integer, labels),
                Task::Regression => {
                    if width != 1 {
                        return Err(bad(format!(
                            "a regression model must output one value per row; the checked output has {width}"
                        )));
                    }
                    self.regression.add(rows, labels);
                }
            }
        }
        for g in &mut self.golden {
            let (Ok(compare), Some(cursor)) = (&mut g.result, &mut g.cursor) else {
                continue;
            };
            let Some((values, shape, _)) = outputs.get(g.index) else {
                continue;
            };
            let width: usize = shape.iter().skip(1).product();
            if width != g.row_len {
                g.result = Err(Incomparable::Width {
                    golden: g.shape.clone(),
                    width,
                    output: shape.clone(),
                });
                continue;
            }
            let golden = cursor.read_f64(real)?;
            let model = values.get(..real * width).unwrap_or(values);
            compare.add(model, &golden);
            if self.token_index == Some(g.index) {
                self.tokens.add(model, &golden, shape.last().copied().unwrap_or(0));
            }
        }
        Ok(())
    }

    /// `(accuracy, (k, top-k accuracy), (mae, rmse))`, each when it applies.
    fn metrics(&self) -> Metrics3 {
        if self.labels.is_none() {
            return (None, None, None);
        }
        match self.task {
            Task::Classification => {
                (Some(self.classification.accuracy()), self.classification.top_k(), None)
            }
            Task::Regression => (None, None, Some(self.regression.result())),
        }
    }
}

struct Runner<'a> {
    file: &'a str,
    dataset: &'a Dataset,
}

impl Runner<'_> {
    fn open(&self) -> Result<Vec<Cursor>, ValidationError> {
        self.dataset.inputs.iter().map(ArrayInfo::open).collect()
    }

    /// `real`-row tensors padded to `rows` rows by cycling through `head`'s rows.
    fn pad(
        &self,
        tensors: Vec<Tensor>,
        rows: usize,
        head: &[Tensor],
    ) -> Result<Vec<Tensor>, ValidationError> {
        tensors
            .into_iter()
            .zip(head)
            .map(|(t, h)| {
                let mut have = t.shape().first().copied().unwrap_or(0);
                let available = h.shape().first().copied().unwrap_or(0).max(1);
                let mut pieces = vec![t];
                while have < rows {
                    let take = (rows - have).min(available);
                    pieces.push(h.slice(0, 0, take)?);
                    have += take;
                }
                if pieces.len() == 1 {
                    return Ok(pieces.remove(0));
                }
                Tensor::stack_tensors(0, &pieces)
            })
            .collect::<TractResult<Vec<_>>>()
            .map_err(|e| inference(self.file, &e))
    }

    /// `rows` rows from the start of the dataset (cycled when the dataset is shorter).
    fn first_rows(&self, rows: usize) -> Result<Vec<Tensor>, ValidationError> {
        let mut cursors = self.open()?;
        let take = rows.min(self.dataset.rows);
        let head =
            cursors.iter_mut().map(|c| c.read_tensor(take)).collect::<Result<Vec<_>, _>>()?;
        self.pad(head.clone(), rows, &head)
    }

    /// Runs every dataset row once, feeding the outputs to `sink`.
    fn run_dataset(
        &self,
        state: &mut TypedSimpleState,
        batching: Batching,
        sink: &mut Sink<'_>,
        worker: &Worker,
    ) -> Result<(), ValidationError> {
        let rows = self.dataset.rows;
        let batch = batching.rows().max(1);
        let mut cursors = self.open()?;
        let mut head: Vec<Tensor> = Vec::new();
        let mut start = 0;
        while start < rows {
            worker.check_time()?;
            let real = batch.min(rows - start);
            let mut tensors =
                cursors.iter_mut().map(|c| c.read_tensor(real)).collect::<Result<Vec<_>, _>>()?;
            if start == 0 {
                head.clone_from(&tensors);
            }
            // A fixed-batch plan gets full batches; the tail wraps to the first rows and the
            // extra outputs are dropped.
            if matches!(batching, Batching::Fixed(_)) && real < batch {
                tensors = self.pad(tensors, batch, &head)?;
            }
            let outputs = state
                .run(tensors.into_iter().map(IntoTValue::into_tvalue).collect())
                .map_err(|e| inference(self.file, &e))?;
            let outputs = outputs.iter().map(|o| self.values(o)).collect::<Result<Vec<_>, _>>()?;
            if let Some((_, shape, _)) = outputs.first()
                && shape.first() != Some(&tensors_rows(batching, real))
            {
                return Err(ValidationError::Inference {
                    file: self.file.to_owned(),
                    reason: format!(
                        "output shape {shape:?} does not start with the batch size {}",
                        tensors_rows(batching, real)
                    ),
                });
            }
            sink.add(start, real, &outputs)?;
            start += real;
        }
        Ok(())
    }

    /// An output as f64 values with its shape, and whether it was an integer tensor.
    fn values(&self, out: &TValue) -> Result<(Vec<f64>, Vec<usize>, bool), ValidationError> {
        let bad = |e: TractError| inference(self.file, &e);
        let dt = out.datum_type();
        let shape = out.shape().to_vec();
        if dt.is_float() {
            let cast = out.cast_to::<f64>().map_err(bad)?;
            let values = cast.to_plain_array_view::<f64>().map_err(bad)?.iter().copied().collect();
            Ok((values, shape, false))
        } else if dt.is_integer() || dt == TDim::datum_type() || dt == bool::datum_type() {
            // Label outputs; some graphs produce them as TDim.
            let cast = out.cast_to::<i64>().map_err(bad)?;
            let values =
                cast.to_plain_array_view::<i64>().map_err(bad)?.iter().map(|v| *v as f64).collect();
            Ok((values, shape, true))
        } else {
            Err(ValidationError::Inference {
                file: self.file.to_owned(),
                reason: format!("output type {dt:?} is not numeric"),
            })
        }
    }

    /// Warm-up, then timed calls until the budget or `MAX_TIMED_CALLS`; returns the stats and
    /// the mean call time in seconds.
    fn measure(
        &self,
        state: &mut TypedSimpleState,
        rows: usize,
        budget: Duration,
        worker: &Worker,
    ) -> Result<(LatencyStats, f64), ValidationError> {
        let inputs: TVec<TValue> =
            self.first_rows(rows)?.into_iter().map(IntoTValue::into_tvalue).collect();
        for _ in 0..WARMUP_CALLS {
            worker.check_time()?;
            state.run(inputs.clone()).map_err(|e| inference(self.file, &e))?;
        }
        let started = Instant::now();
        let mut samples = Vec::with_capacity(MAX_TIMED_CALLS);
        while samples.len() < MAX_TIMED_CALLS {
            if samples.len() >= MIN_TIMED_CALLS && started.elapsed() >= budget {
                break;
            }
            // Out of total time: keep what was measured rather than failing the whole run.
            if !samples.is_empty() && Instant::now() >= worker.deadline() {
                break;
            }
            worker.check_time()?;
            let t = Instant::now();
            state.run(inputs.clone()).map_err(|e| inference(self.file, &e))?;
            samples.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let mean_s = samples.iter().sum::<f64>() / samples.len().max(1) as f64 / 1e3;
        samples.sort_by(f64::total_cmp);
        let stats = LatencyStats {
            batch: rows,
            p50_ms: percentile(&samples, 50.0),
            p95_ms: percentile(&samples, 95.0),
            p99_ms: percentile(&samples, 99.0),
            calls: samples.len(),
        };
        Ok((stats, mean_s))
    }
}

/// Rows the model is given per call (short batches are padded).
fn tensors_rows(batching: Batching, _real: usize) -> usize {
    batching.rows()
}

/// Nearest-rank percentile of sorted samples.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[expect(clippy::cast_sign_loss, reason = "p and len are positive")]
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1).min(sorted.len() - 1)).copied().unwrap_or(0.0)
}

#[cfg(test)]
#[allow(clippy::float_cmp, reason = "the expected values are exactly representable")]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&s, 50.0), 50.0);
        assert_eq!(percentile(&s, 95.0), 95.0);
        assert_eq!(percentile(&s, 99.0), 99.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
