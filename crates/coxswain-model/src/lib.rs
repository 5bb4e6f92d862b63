//! The model validation gate (design.md §7): checks that an ONNX model in the repository is the
//! file it is pinned to, honours the declared input/output contract, and meets the accuracy,
//! golden-output, latency and no-regression thresholds on a validation dataset — running it with
//! tract, in-process, with no Python.
//!
//! Steps: size cap → sha256 → load (tract, symbolic batch) → contract → optimise → run the
//! dataset in batches → metrics → golden agreement → latency → baseline comparison. A failed pin
//! or contract stops the run (later checks are reported as skipped); a model that cannot be read
//! or loaded at all is a [`ValidationError`].
//!
//! Golden outputs are per model version: when `checks.goldenOutputs` is unset, a `golden.npy`
//! next to the model file is used if present, and the report says so.

mod contract;
mod dataset;
mod engine;
mod error;
mod isolate;
mod metrics;
mod npy;
mod paths;
mod proto;
mod report;
mod spec;

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use error::ValidationError;
pub use report::{BaselineReport, Check, LatencyStats, Metrics, ValidationReport, Verdict};
pub use spec::{
    Checks, DType, DimSpec, LatencySpec, Limits, ModelRef, Task, TensorContract, ValidationSpec,
};

use contract::Naming;
use dataset::Dataset;
use engine::{Evaluation, Job, RunOutput};

/// Validates `candidate` against `spec`, comparing with `baseline` (the model the target
/// environment serves) when given. Paths in `candidate`, `spec` and `baseline` are relative to
/// `repo_root` and may not leave it.
pub fn validate(
    repo_root: &Path,
    candidate: &ModelRef,
    spec: &ValidationSpec,
    baseline: Option<&ModelRef>,
    limits: &Limits,
) -> Result<ValidationReport, ValidationError> {
    spec.check()?;
    let root = paths::canonical_root(repo_root)?;
    let bytes = paths::read_capped(&root, &candidate.path, limits.max_model_bytes)?;
    let sha = sha256_hex(&bytes);
    let golden_path = golden_path(&root, candidate, spec);
    let mut gate = Gate::new(candidate, spec, baseline, &sha, golden_path.as_ref());

    if !gate.pin(CHECK_SHA, candidate, &sha) {
        gate.skip_rest("not run: the model does not match its sha256 pin");
        return Ok(gate.finish());
    }

    let dataset = Arc::new(load_dataset(&root, spec, limits)?);
    let golden = match &golden_path {
        Some(g) => Some(load_golden(&root, &g.path, limits)?),
        None => None,
    };

    let evaluation = evaluate(&candidate.path, bytes, spec, &dataset, Naming::Strict, limits)?;
    gate.contract(&evaluation);
    let Some(run) = evaluation.run else {
        gate.skip_rest("not run: the model does not match the declared contract");
        return Ok(gate.finish());
    };
    if spec.batch_symbol().is_none() {
        gate.note(format!(
            "the batch dimension is fixed: the dataset ran {} rows per call",
            run.batch
        ));
    }
    tracing::debug!(
        model = %candidate.path,
        load_ms = run.load_ms,
        rows_per_s = run.rows_per_s,
        "candidate evaluated"
    );
    let metrics = gate.quality(&candidate.path, &run, &dataset, golden.as_ref())?;
    gate.latency(&metrics);
    gate.report.metrics = Some(metrics);

    if let Some(base) = baseline {
        gate.baseline(&root, base, spec, &dataset, limits)?;
    }
    Ok(gate.finish())
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Where the golden outputs come from, if anywhere.
struct GoldenPath {
    path: String,
    discovered: bool,
}

fn golden_path(root: &Path, candidate: &ModelRef, spec: &ValidationSpec) -> Option<GoldenPath> {
    if let Some(p) = &spec.checks.golden_outputs {
        return Some(GoldenPath { path: p.clone(), discovered: false });
    }
    let sibling = paths::sibling(&candidate.path, "golden.npy");
    paths::exists(root, &sibling).then_some(GoldenPath { path: sibling, discovered: true })
}

fn load_dataset(
    root: &Path,
    spec: &ValidationSpec,
    limits: &Limits,
) -> Result<Dataset, ValidationError> {
    let bytes = paths::read_capped(root, &spec.dataset, limits.max_model_bytes)?;
    let text = String::from_utf8(bytes).map_err(|e| ValidationError::DatasetCell {
        file: spec.dataset.clone(),
        line: 1 + e
            .as_bytes()
            .iter()
            .take(e.utf8_error().valid_up_to())
            .filter(|b| **b == b'\n')
            .count(),
        column: "(any)".into(),
        reason: "the file is not UTF-8 text".into(),
    })?;
    dataset::parse_csv(&spec.dataset, &text, &spec.label_column, spec.task())
}

fn load_golden(root: &Path, rel: &str, limits: &Limits) -> Result<npy::NpyArray, ValidationError> {
    let bytes = paths::read_capped(root, rel, limits.max_model_bytes)?;
    npy::parse(&bytes).map_err(|reason| ValidationError::Golden { file: rel.to_owned(), reason })
}

fn evaluate(
    file: &str,
    bytes: Vec<u8>,
    spec: &ValidationSpec,
    dataset: &Arc<Dataset>,
    naming: Naming,
    limits: &Limits,
) -> Result<Evaluation, ValidationError> {
    let job = Job {
        file: file.to_owned(),
        bytes,
        spec: spec.clone(),
        dataset: Arc::clone(dataset),
        naming,
        limits: limits.clone(),
    };
    isolate::run(file, limits.max_run, move |worker| engine::evaluate(&job, worker))
}

/// Fills the report's check table in a fixed order: every configured check gets a row up front
/// (as skipped), and each step overwrites its rows.
struct Gate<'a> {
    spec: &'a ValidationSpec,
    report: ValidationReport,
    touched: Vec<bool>,
}

const CHECK_SHA: &str = "sha256";
const CHECK_INPUT: &str = "input contract";
const CHECK_OUTPUT: &str = "output contract";
const CHECK_ACCURACY: &str = "accuracy";
const CHECK_MAE: &str = "mae";
const CHECK_RMSE: &str = "rmse";
const CHECK_GOLDEN: &str = "golden outputs";
const CHECK_BASELINE_SHA: &str = "baseline sha256";
const CHECK_REGRESSION: &str = "regression vs baseline";

fn latency_check_name(p: &str, batch: usize) -> String {
    format!("latency {p} (batch {batch})")
}

impl<'a> Gate<'a> {
    fn new(
        candidate: &ModelRef,
        spec: &'a ValidationSpec,
        baseline: Option<&ModelRef>,
        sha: &str,
        golden: Option<&GoldenPath>,
    ) -> Self {
        let c = &spec.checks;
        let mut rows: Vec<(String, String)> = vec![
            (
                CHECK_SHA.into(),
                candidate.sha256.as_deref().map_or("not pinned".into(), report::short),
            ),
            (CHECK_INPUT.into(), spec.input.to_string()),
            (
                CHECK_OUTPUT.into(),
                spec.output.as_ref().map_or("first float output".into(), ToString::to_string),
            ),
        ];
        if let Some(v) = c.min_accuracy {
            rows.push((CHECK_ACCURACY.into(), format!("≥ {v:.4}")));
        }
        if let Some(v) = c.max_mae {
            rows.push((CHECK_MAE.into(), format!("≤ {v}")));
        }
        if let Some(v) = c.max_rmse {
            rows.push((CHECK_RMSE.into(), format!("≤ {v}")));
        }
        rows.push((CHECK_GOLDEN.into(), format!("≤ {:e}", c.tolerance)));
        if let Some(lat) = &c.latency_ms {
            for (p, v) in [("p50", lat.p50), ("p95", lat.p95), ("p99", lat.p99)] {
                if let Some(v) = v {
                    rows.push((latency_check_name(p, lat.batch), format!("≤ {v} ms")));
                }
            }
        }
        if let Some(b) = baseline
            && let Some(pin) = &b.sha256
        {
            rows.push((CHECK_BASELINE_SHA.into(), report::short(pin)));
        }
        if let Some(v) = c.max_regression {
            rows.push((CHECK_REGRESSION.into(), format!("≤ {v:.4}")));
        }
        let checks: Vec<Check> = rows
            .into_iter()
            .map(|(name, threshold)| Check {
                name,
                measured: "–".into(),
                threshold,
                verdict: Verdict::Skipped,
                detail: String::new(),
            })
            .collect();
        let touched = vec![false; checks.len()];
        let mut gate = Gate {
            spec,
            report: ValidationReport {
                model: candidate.path.clone(),
                sha256: sha.to_owned(),
                task: spec.task(),
                dataset: spec.dataset.clone(),
                golden_outputs: golden.map(|g| g.path.clone()),
                checks,
                metrics: None,
                baseline: None,
                notes: Vec::new(),
            },
            touched,
        };
        match golden {
            Some(g) if g.discovered => gate.note(format!(
                "checks.goldenOutputs is not set: compared with {}, found next to the model",
                g.path
            )),
            Some(_) => {}
            None => gate.set(
                CHECK_GOLDEN,
                "–".into(),
                Verdict::Skipped,
                "no golden outputs: set checks.goldenOutputs or commit golden.npy next to the model"
                    .into(),
            ),
        }
        if baseline.is_none() && c.max_regression.is_some() {
            gate.set(
                CHECK_REGRESSION,
                "–".into(),
                Verdict::Skipped,
                "no baseline model to compare with (the target environment serves none)".into(),
            );
        }
        gate
    }

    fn set(&mut self, name: &str, measured: String, verdict: Verdict, detail: String) {
        if let Some(i) = self.report.checks.iter().position(|c| c.name == name) {
            if let Some(c) = self.report.checks.get_mut(i) {
                c.measured = measured;
                c.verdict = verdict;
                c.detail = detail;
            }
            if let Some(t) = self.touched.get_mut(i) {
                *t = true;
            }
        }
    }

    fn threshold_check(&mut self, name: &str, measured: String, pass: bool, detail: String) {
        let verdict = if pass { Verdict::Pass } else { Verdict::Fail };
        self.set(name, measured, verdict, detail);
    }

    fn note(&mut self, note: String) {
        self.report.notes.push(note);
    }

    /// Compares a measured digest with the pin; true when the run may continue.
    fn pin(&mut self, name: &str, model: &ModelRef, sha: &str) -> bool {
        let Some(pin) = &model.sha256 else {
            self.set(
                name,
                report::short(sha),
                Verdict::Skipped,
                format!("{} has no sha256 pin", model.path),
            );
            return true;
        };
        let pin = pin.trim().to_ascii_lowercase();
        let ok = pin == sha;
        let detail = if ok {
            String::new()
        } else if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
            format!("the pin `{pin}` is not a 64-digit hex sha256; {} has sha256 {sha}", model.path)
        } else {
            format!(
                "{} has sha256 {sha} but is pinned to {pin}; update the pin only if this file is the intended model",
                model.path
            )
        };
        self.threshold_check(name, report::short(sha), ok, detail);
        ok
    }

    fn contract(&mut self, e: &Evaluation) {
        for (name, line) in [(CHECK_INPUT, &e.input), (CHECK_OUTPUT, &e.output)] {
            self.threshold_check(name, line.measured.clone(), line.pass, line.detail.clone());
        }
    }

    /// Accuracy or MAE/RMSE and golden agreement; returns the metrics (latency filled in too).
    fn quality(
        &mut self,
        file: &str,
        run: &RunOutput,
        dataset: &Dataset,
        golden: Option<&npy::NpyArray>,
    ) -> Result<Metrics, ValidationError> {
        let c = &self.spec.checks;
        let mut metrics = base_metrics(file, run, dataset, self.spec.task())?;
        if let (Some(min), Some(acc)) = (c.min_accuracy, metrics.accuracy) {
            self.threshold_check(CHECK_ACCURACY, format!("{acc:.4}"), acc >= min, String::new());
        }
        if let (Some(max), Some(mae)) = (c.max_mae, metrics.mae) {
            self.threshold_check(CHECK_MAE, format!("{mae:.6}"), mae <= max, String::new());
        }
        if let (Some(max), Some(rmse)) = (c.max_rmse, metrics.rmse) {
            self.threshold_check(CHECK_RMSE, format!("{rmse:.6}"), rmse <= max, String::new());
        }
        if let Some(g) = golden {
            let detail_src = self.report.golden_outputs.clone().unwrap_or_default();
            match metrics::golden_max_abs_diff(run, dataset.rows(), &g.shape, &g.data) {
                Ok(diff) => {
                    metrics.golden_max_abs_diff = Some(diff);
                    let pass = diff <= c.tolerance;
                    let detail = if pass {
                        String::new()
                    } else {
                        format!("outputs differ from {detail_src} by up to {diff:.3e}")
                    };
                    self.threshold_check(CHECK_GOLDEN, format!("{diff:.3e}"), pass, detail);
                }
                Err(reason) => {
                    self.threshold_check(
                        CHECK_GOLDEN,
                        "shape mismatch".into(),
                        false,
                        format!("{detail_src}: {reason}"),
                    );
                }
            }
        }
        Ok(metrics)
    }

    fn latency(&mut self, metrics: &Metrics) {
        let Some(lat) = self.spec.checks.latency_ms.clone() else {
            return;
        };
        let measured = metrics
            .latency
            .iter()
            .find(|l| l.batch == lat.batch)
            .or_else(|| metrics.latency.first());
        let Some(stats) = measured else {
            return;
        };
        let detail = if stats.batch == lat.batch {
            String::new()
        } else {
            format!(
                "the model's batch dimension is fixed: measured at batch {} instead of {}",
                stats.batch, lat.batch
            )
        };
        for (p, limit, value) in [
            ("p50", lat.p50, stats.p50_ms),
            ("p95", lat.p95, stats.p95_ms),
            ("p99", lat.p99, stats.p99_ms),
        ] {
            if let Some(limit) = limit {
                self.threshold_check(
                    &latency_check_name(p, lat.batch),
                    format!("{value:.3} ms"),
                    value <= limit,
                    detail.clone(),
                );
            }
        }
    }

    fn baseline(
        &mut self,
        root: &Path,
        base: &ModelRef,
        spec: &ValidationSpec,
        dataset: &Arc<Dataset>,
        limits: &Limits,
    ) -> Result<(), ValidationError> {
        let bytes = paths::read_capped(root, &base.path, limits.max_model_bytes)?;
        let sha = sha256_hex(&bytes);
        self.report.baseline =
            Some(BaselineReport { model: base.path.clone(), sha256: sha.clone(), metrics: None });
        if base.sha256.is_some() && !self.pin(CHECK_BASELINE_SHA, base, &sha) {
            self.set(
                CHECK_REGRESSION,
                "–".into(),
                Verdict::Skipped,
                "not run: the baseline does not match its sha256 pin".into(),
            );
            return Ok(());
        }
        // The baseline only needs to accept the same rows; the golden outputs belong to the
        // candidate version, and latency thresholds judge only the candidate.
        let mut base_spec = spec.clone();
        base_spec.checks.golden_outputs = None;
        let evaluation = evaluate(&base.path, bytes, &base_spec, dataset, Naming::Lenient, limits)?;
        let Some(run) = evaluation.run else {
            let why = [&evaluation.input, &evaluation.output]
                .into_iter()
                .filter(|l| !l.pass)
                .map(|l| l.detail.clone())
                .collect::<Vec<_>>()
                .join("; ");
            self.set(
                CHECK_REGRESSION,
                "–".into(),
                Verdict::Fail,
                format!(
                    "the baseline {} cannot run on this dataset ({why}); remove checks.maxRegression \
                     for a promotion that changes the model's contract",
                    base.path
                ),
            );
            return Ok(());
        };
        let base_metrics = base_metrics(&base.path, &run, dataset, spec.task())?;
        if let (Some(max), Some(candidate)) =
            (spec.checks.max_regression, self.report.metrics.as_ref())
        {
            let (drop, what) = match spec.task() {
                Task::Classification => (
                    base_metrics.accuracy.unwrap_or(0.0) - candidate.accuracy.unwrap_or(0.0),
                    format!(
                        "accuracy: baseline {:.4}, candidate {:.4}",
                        base_metrics.accuracy.unwrap_or(0.0),
                        candidate.accuracy.unwrap_or(0.0)
                    ),
                ),
                Task::Regression => (
                    candidate.rmse.unwrap_or(f64::INFINITY) - base_metrics.rmse.unwrap_or(0.0),
                    format!(
                        "rmse: baseline {:.6}, candidate {:.6}",
                        base_metrics.rmse.unwrap_or(0.0),
                        candidate.rmse.unwrap_or(f64::INFINITY)
                    ),
                ),
            };
            self.threshold_check(CHECK_REGRESSION, format!("{drop:+.4}"), drop <= max, what);
        }
        if let Some(b) = self.report.baseline.as_mut() {
            b.metrics = Some(base_metrics);
        }
        Ok(())
    }

    fn skip_rest(&mut self, reason: &str) {
        for (check, touched) in self.report.checks.iter_mut().zip(&self.touched) {
            if !touched {
                check.verdict = Verdict::Skipped;
                reason.clone_into(&mut check.detail);
            }
        }
    }

    fn finish(self) -> ValidationReport {
        self.report
    }
}

/// Metrics without golden agreement.
fn base_metrics(
    file: &str,
    run: &RunOutput,
    dataset: &Dataset,
    task: Task,
) -> Result<Metrics, ValidationError> {
    let (accuracy, mae, rmse) = match task {
        Task::Classification => (Some(metrics::accuracy(run, &dataset.labels)), None, None),
        Task::Regression => {
            let Some((mae, rmse)) = metrics::regression_errors(run, &dataset.labels) else {
                return Err(ValidationError::Inference {
                    file: file.to_owned(),
                    reason: format!(
                        "a regression model must output one value per row; the checked output has {}",
                        run.width
                    ),
                });
            };
            (None, Some(mae), Some(rmse))
        }
    };
    Ok(Metrics {
        rows: dataset.rows(),
        accuracy,
        mae,
        rmse,
        golden_max_abs_diff: None,
        load_ms: run.load_ms,
        latency: run.latency.clone(),
        rows_per_s: run.rows_per_s,
    })
}
