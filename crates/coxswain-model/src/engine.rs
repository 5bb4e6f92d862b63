//! Loading a model with tract and running the dataset and the latency loop through it.
//!
//! Everything here runs inside `isolate::run`, so a tract panic or a hang stays contained.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tract_onnx::pb;
use tract_onnx::prelude::*;

use crate::contract::{self, ContractLine, Naming};
use crate::dataset::Dataset;
use crate::error::ValidationError;
use crate::isolate::Worker;
use crate::proto;
use crate::report::LatencyStats;
use crate::spec::{DType, DimSpec, Limits, ValidationSpec};

/// Everything the worker needs, owned so it can move to the worker thread.
pub(crate) struct Job {
    pub file: String,
    pub bytes: Vec<u8>,
    pub spec: ValidationSpec,
    pub dataset: Arc<Dataset>,
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

/// The chosen output for every dataset row, plus timings.
#[derive(Debug, Clone)]
pub(crate) struct RunOutput {
    /// Row-major, `rows × width`.
    pub values: Vec<f64>,
    pub width: usize,
    /// The output tensor had an integer type (predicted labels rather than scores).
    pub integer_output: bool,
    pub load_ms: f64,
    pub latency: Vec<LatencyStats>,
    pub rows_per_s: f64,
    /// Rows per call used for the dataset pass and the throughput figure.
    pub batch: usize,
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
    worker.stage("decoding the model");
    let model = proto::decode(file, &job.bytes)?;
    let onnx = tract_onnx::onnx().with_ignore_value_info(job.spec.ignore_value_info);
    let known = |op: &str| onnx.op_register.0.contains_key(op);
    proto::preflight(file, &model, &known, job.limits.max_model_bytes)?;

    let sig = proto::signature(&model);
    let (input, binding) =
        contract::check_input(&sig, &job.spec.input, job.dataset.width(), job.naming);
    let (output, output_name) = contract::check_output(&sig, job.spec.output.as_ref(), job.naming);
    let (Some(binding), Some(output_name)) = (binding, output_name) else {
        return Ok(Evaluation { input, output, run: None });
    };

    let batch = match job.spec.input.shape.first() {
        Some(DimSpec::Fixed(n)) => Batching::Fixed(usize::try_from(*n).unwrap_or(usize::MAX)),
        _ => Batching::Symbolic(job.spec.batch_size()),
    };
    let load_start = Instant::now();
    let plan = load(file, &onnx, &model, &binding.name, &output_name, &job.spec, worker)?;
    let load_ms = load_start.elapsed().as_secs_f64() * 1e3;
    worker.check_time()?;

    worker.stage("running the dataset");
    let mut state = plan.spawn().map_err(|e| inference(file, &e))?;
    let runner = Runner { file, spec: &job.spec, dataset: &job.dataset };
    let (values, width, integer_output) = runner.run_dataset(&mut state, batch.rows(), worker)?;

    worker.stage("measuring latency");
    let mut sizes = match batch {
        Batching::Fixed(n) => vec![n],
        Batching::Symbolic(n) => {
            let mut sizes = vec![1, n];
            if let Some(lat) = &job.spec.checks.latency_ms {
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
        let (stats, mean_s) =
            runner.measure(&mut state, size, job.limits.latency_budget, worker)?;
        if size == batch.rows() && mean_s > 0.0 {
            rows_per_s = size as f64 / mean_s;
        }
        latency.push(stats);
    }
    Ok(Evaluation {
        input,
        output,
        run: Some(RunOutput {
            values,
            width,
            integer_output,
            load_ms,
            latency,
            rows_per_s,
            batch: batch.rows(),
        }),
    })
}

#[derive(Debug, Clone, Copy)]
enum Batching {
    /// The batch dimension is symbolic: any number of rows per call.
    Symbolic(usize),
    /// The model takes exactly this many rows per call.
    Fixed(usize),
}

impl Batching {
    fn rows(self) -> usize {
        match self {
            Batching::Symbolic(n) | Batching::Fixed(n) => n,
        }
    }
}

fn datum_type(dtype: DType) -> DatumType {
    match dtype {
        DType::F32 => f32::datum_type(),
        DType::F64 => f64::datum_type(),
        DType::I32 => i32::datum_type(),
        DType::I64 => i64::datum_type(),
    }
}

/// Parse → declare the input fact (symbolic batch) → keep only the checked output → optimise.
fn load(
    file: &str,
    onnx: &tract_onnx::Onnx,
    model: &pb::ModelProto,
    input_name: &str,
    output_name: &str,
    spec: &ValidationSpec,
    worker: &Worker,
) -> Result<Plan, ValidationError> {
    let invalid = |e: &TractError| ValidationError::InvalidModel {
        file: file.to_owned(),
        reason: tract_message(e),
    };
    worker.stage("loading the model");
    let mut inference = onnx.model_for_proto_model(model).map_err(|e| invalid(&e))?;
    let inputs = inference.input_outlets().map_err(|e| invalid(&e))?.to_vec();
    let index =
        inputs.iter().position(|o| inference.node(o.node).name == input_name).ok_or_else(|| {
            ValidationError::InvalidModel {
                file: file.to_owned(),
                reason: format!("tract does not see the input `{input_name}`"),
            }
        })?;
    let shape: TVec<TDim> = spec
        .input
        .shape
        .iter()
        .map(|d| match d {
            DimSpec::Fixed(n) => TDim::Val(i64::try_from(*n).unwrap_or(i64::MAX)),
            DimSpec::Symbol(s) => inference.sym(s).to_dim(),
        })
        .collect();
    inference
        .set_input_fact(index, InferenceFact::dt_shape(datum_type(spec.input.dtype), shape))
        .map_err(|e| invalid(&e))?;
    // Pruning the other outputs (e.g. a label branch) avoids work and ops irrelevant to checks.
    inference.select_outputs_by_name([output_name]).map_err(|e| invalid(&e))?;
    worker.check_time()?;
    worker.stage("analysing and optimising the model");
    let typed = inference.into_optimized().map_err(|e| invalid(&e))?;
    worker.check_time()?;
    worker.stage("preparing the model to run");
    typed.into_runnable().map_err(|e| invalid(&e))
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

fn inference(file: &str, e: &TractError) -> ValidationError {
    ValidationError::Inference { file: file.to_owned(), reason: tract_message(e) }
}

struct Runner<'a> {
    file: &'a str,
    spec: &'a ValidationSpec,
    dataset: &'a Dataset,
}

impl Runner<'_> {
    /// An input tensor of `rows` rows taken cyclically from the dataset starting at `start`.
    fn tensor(&self, start: usize, rows: usize) -> Result<Tensor, ValidationError> {
        let n = self.dataset.rows().max(1);
        let mut shape = Vec::with_capacity(self.spec.input.shape.len());
        shape.push(rows);
        for d in self.spec.input.shape.iter().skip(1) {
            if let DimSpec::Fixed(v) = d {
                shape.push(usize::try_from(*v).unwrap_or(usize::MAX));
            }
        }
        let values = (0..rows).flat_map(|i| self.dataset.row((start + i) % n).iter().copied());
        let built = match self.spec.input.dtype {
            #[expect(clippy::cast_possible_truncation, reason = "f32 models take f32 inputs")]
            DType::F32 => Tensor::from_shape(&shape, &values.map(|v| v as f32).collect::<Vec<_>>()),
            DType::F64 => Tensor::from_shape(&shape, &values.collect::<Vec<_>>()),
            // Integer inputs: the dataset parser accepted any finite number; truncation toward
            // zero is what numpy's astype does, and the contract says the column is integral.
            DType::I32 => Tensor::from_shape(&shape, &values.map(|v| v as i32).collect::<Vec<_>>()),
            DType::I64 => Tensor::from_shape(&shape, &values.map(|v| v as i64).collect::<Vec<_>>()),
        };
        built.map_err(|e| inference(self.file, &e))
    }

    /// Runs every dataset row once; returns (row-major values, width, integer output).
    fn run_dataset(
        &self,
        state: &mut TypedSimpleState,
        batch: usize,
        worker: &Worker,
    ) -> Result<(Vec<f64>, usize, bool), ValidationError> {
        let rows = self.dataset.rows();
        let batch = batch.max(1);
        let mut values = Vec::new();
        let mut width = None;
        let mut integer = false;
        let mut start = 0;
        while start < rows {
            worker.check_time()?;
            // A fixed-batch model gets full batches; the tail wraps to the first rows and the
            // extra outputs are dropped.
            let real = batch.min(rows - start);
            let input = self.tensor(start, batch)?;
            let outputs =
                state.run(tvec!(input.into_tvalue())).map_err(|e| inference(self.file, &e))?;
            let (out, w, is_int) = self.extract(&outputs, batch)?;
            match width {
                None => width = Some(w),
                Some(prev) if prev != w => {
                    return Err(ValidationError::Inference {
                        file: self.file.to_owned(),
                        reason: format!("output width changed between batches ({prev} then {w})"),
                    });
                }
                Some(_) => {}
            }
            integer = is_int;
            values.extend(out.into_iter().take(real * w));
            start += real;
        }
        Ok((values, width.unwrap_or(0), integer))
    }

    /// The single selected output as f64 values, with its per-row width.
    fn extract(
        &self,
        outputs: &[TValue],
        rows: usize,
    ) -> Result<(Vec<f64>, usize, bool), ValidationError> {
        let bad =
            |reason: String| ValidationError::Inference { file: self.file.to_owned(), reason };
        let Some(out) = outputs.first() else {
            return Err(bad("the model returned no output".into()));
        };
        let shape = out.shape();
        if shape.first() != Some(&rows) {
            return Err(bad(format!(
                "output shape {shape:?} does not start with the batch size {rows}"
            )));
        }
        let width: usize = shape.iter().skip(1).product();
        let dt = out.datum_type();
        let view_err = |e: TractError| bad(tract_message(&e));
        let (values, integer): (Vec<f64>, bool) = if dt == f32::datum_type() {
            (
                out.to_plain_array_view::<f32>()
                    .map_err(view_err)?
                    .iter()
                    .map(|v| f64::from(*v))
                    .collect(),
                false,
            )
        } else if dt == f64::datum_type() {
            (out.to_plain_array_view::<f64>().map_err(view_err)?.iter().copied().collect(), false)
        } else if dt.is_integer() || dt == TDim::datum_type() {
            // Label outputs; some graphs produce them as TDim.
            let cast = out.cast_to::<i64>().map_err(view_err)?;
            #[expect(clippy::cast_precision_loss, reason = "class ids are small")]
            let values = cast
                .to_plain_array_view::<i64>()
                .map_err(view_err)?
                .iter()
                .map(|v| *v as f64)
                .collect();
            (values, true)
        } else {
            return Err(bad(format!("output type {dt:?} is not numeric")));
        };
        Ok((values, width, integer))
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
        let input = self.tensor(0, rows)?.into_tvalue();
        for _ in 0..WARMUP_CALLS {
            worker.check_time()?;
            state.run(tvec!(input.clone())).map_err(|e| inference(self.file, &e))?;
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
            state.run(tvec!(input.clone())).map_err(|e| inference(self.file, &e))?;
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
