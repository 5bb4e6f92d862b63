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

mod arrays;
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

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use error::ValidationError;
pub use report::{BaselineReport, Check, LatencyStats, Metrics, ValidationReport, Verdict};
pub use spec::{
    Checks, DType, DimSpec, LatencySpec, Limits, ModelRef, OutputContract, Task, TensorContract,
    TokenAgreementSpec, TopKSpec, ValidationSpec,
};

use contract::Naming;
use dataset::Dataset;
use engine::{Evaluation, Golden, Job, RunOutput};
use paths::Base;

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
    let base = Base::repo(repo_root)?;
    run_gate(&base, candidate, spec, baseline, limits)
}

/// Validates a model file on its own, outside any repository (`coxswain validate --model F
/// --spec S`): `model` is taken as given (relative to the working directory), the dataset and
/// golden-output paths in `spec` are relative to the folder of `spec_file`, and paths are not
/// confined (the user names their own files). There is no baseline.
pub fn validate_standalone(
    model: &Path,
    sha256: Option<&str>,
    spec: &ValidationSpec,
    spec_file: &Path,
    limits: &Limits,
) -> Result<ValidationReport, ValidationError> {
    let spec_dir = spec_file.parent().unwrap_or(Path::new(""));
    let beside_spec = |p: &str| -> String {
        let path = Path::new(p);
        if path.is_absolute() { p.to_owned() } else { spec_dir.join(path).display().to_string() }
    };
    let mut spec = spec.clone();
    spec.dataset = beside_spec(&spec.dataset);
    spec.checks.golden_outputs = spec.checks.golden_outputs.as_deref().map(beside_spec);
    let candidate =
        ModelRef { path: model.display().to_string(), sha256: sha256.map(str::to_owned) };
    run_gate(&Base::free(Path::new("")), &candidate, &spec, None, limits)
}

fn run_gate(
    base: &Base,
    candidate: &ModelRef,
    spec: &ValidationSpec,
    baseline: Option<&ModelRef>,
    limits: &Limits,
) -> Result<ValidationReport, ValidationError> {
    spec.check()?;
    let bytes = base.read_capped(&candidate.path, limits.max_model_bytes)?;
    let sha = sha256_hex(&bytes);
    let golden_path = golden_path(base, candidate, spec);
    let mut gate = Gate::new(candidate, spec, baseline, &sha, golden_path.as_ref());

    if !gate.pin(CHECK_SHA, candidate, &sha) {
        gate.skip_rest("not run: the model does not match its sha256 pin");
        return Ok(gate.finish());
    }

    let dataset = Arc::new(dataset::load(base, spec, limits)?);
    let golden = load_golden(base, golden_path.as_ref(), &dataset)?;
    if golden_path.is_none()
        && let Some(g) = &golden
    {
        gate.report.golden_outputs = Some(g.source.clone());
    }

    let evaluation =
        evaluate(&candidate.path, bytes, spec, &dataset, golden.clone(), Naming::Strict, limits)?;
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
    for note in &run.notes {
        gate.note(note.clone());
    }
    tracing::debug!(
        model = %candidate.path,
        load_ms = run.load_ms,
        rows_per_s = run.rows_per_s,
        "candidate evaluated"
    );
    let metrics = gate.quality(&run, &dataset, golden.as_deref());
    gate.latency(&metrics);
    gate.report.metrics = Some(metrics);

    if let Some(base_model) = baseline {
        gate.baseline(base, base_model, spec, &dataset, limits)?;
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

/// Where the golden outputs come from, if a file names them.
struct GoldenPath {
    path: String,
    discovered: bool,
}

/// `checks.goldenOutputs`, else `golden.npz` / `golden.npy` next to the model.
fn golden_path(base: &Base, candidate: &ModelRef, spec: &ValidationSpec) -> Option<GoldenPath> {
    if let Some(p) = &spec.checks.golden_outputs {
        return Some(GoldenPath { path: p.clone(), discovered: false });
    }
    ["golden.npz", "golden.npy"].into_iter().find_map(|name| {
        let sibling = paths::sibling(&candidate.path, name);
        base.exists(&sibling).then_some(GoldenPath { path: sibling, discovered: true })
    })
}

/// Opens the golden outputs (headers only: the rows are streamed during the run). Without a
/// golden file, arrays of the dataset bundle named like model outputs serve.
fn load_golden(
    base: &Base,
    path: Option<&GoldenPath>,
    dataset: &Dataset,
) -> Result<Option<Arc<Golden>>, ValidationError> {
    let Some(g) = path else {
        if dataset.extra.is_empty() {
            return Ok(None);
        }
        return Ok(Some(Arc::new(Golden {
            source: dataset.file.clone(),
            arrays: dataset.extra.iter().map(|a| (Some(a.name.clone()), a.clone())).collect(),
            report_unmatched: false,
        })));
    };
    let real: PathBuf = base.resolve(&g.path)?;
    let arrays = if dataset::has_extension(&g.path, "npz") {
        arrays::open_npz(&real, &g.path)?.into_iter().map(|a| (Some(a.name.clone()), a)).collect()
    } else {
        vec![(None, arrays::open_npy(&real, &g.path, "golden")?)]
    };
    Ok(Some(Arc::new(Golden { source: g.path.clone(), arrays, report_unmatched: true })))
}

fn evaluate(
    file: &str,
    bytes: Vec<u8>,
    spec: &ValidationSpec,
    dataset: &Arc<Dataset>,
    golden: Option<Arc<Golden>>,
    naming: Naming,
    limits: &Limits,
) -> Result<Evaluation, ValidationError> {
    let job = Job {
        file: file.to_owned(),
        bytes,
        spec: spec.clone(),
        dataset: Arc::clone(dataset),
        golden,
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
const CHECK_TOKENS: &str = "token agreement";
const CHECK_BASELINE_SHA: &str = "baseline sha256";
const CHECK_REGRESSION: &str = "regression vs baseline";

fn top_k_check_name(k: usize) -> String {
    format!("top-{k} accuracy")
}

/// `≤ 1e-4` for an absolute tolerance, `≤ 1e-5 + 1e-3·|golden|` with a relative part.
fn tolerance_text((rtol, atol): (f64, f64)) -> String {
    if rtol == 0.0 { format!("≤ {atol:e}") } else { format!("≤ {atol:e} + {rtol:e}·|golden|") }
}

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
            (
                CHECK_INPUT.into(),
                spec.input_contracts()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            (
                CHECK_OUTPUT.into(),
                if spec.output_contracts().is_empty() {
                    "first float output".into()
                } else {
                    spec.output_contracts()
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                },
            ),
        ];
        if let Some(v) = c.min_accuracy {
            rows.push((CHECK_ACCURACY.into(), format!("≥ {v:.4}")));
        }
        if let Some(t) = &c.top_k {
            rows.push((top_k_check_name(t.k), format!("≥ {:.4}", t.min)));
        }
        if let Some(v) = c.max_mae {
            rows.push((CHECK_MAE.into(), format!("≤ {v}")));
        }
        if let Some(v) = c.max_rmse {
            rows.push((CHECK_RMSE.into(), format!("≤ {v}")));
        }
        rows.push((CHECK_GOLDEN.into(), tolerance_text(c.tolerances())));
        if let Some(t) = &c.token_agreement {
            rows.push((CHECK_TOKENS.into(), format!("≥ {:.4}", t.min)));
        }
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
                "no golden outputs: set checks.goldenOutputs, commit golden.npz or golden.npy next \
                 to the model, or add arrays named like the outputs to the dataset bundle"
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

    /// Accuracy or MAE/RMSE, top-k, golden agreement and token agreement; returns the metrics
    /// (latency filled in too).
    fn quality(&mut self, run: &RunOutput, dataset: &Dataset, golden: Option<&Golden>) -> Metrics {
        let c = &self.spec.checks;
        let mut metrics = base_metrics(run, dataset);
        if let (Some(min), Some(acc)) = (c.min_accuracy, metrics.accuracy) {
            self.threshold_check(CHECK_ACCURACY, format!("{acc:.4}"), acc >= min, String::new());
        }
        if let (Some(t), Some((k, v))) = (&c.top_k, run.top_k) {
            let detail = format!("on output `{}`", run.metric_output);
            self.threshold_check(&top_k_check_name(k), format!("{v:.4}"), v >= t.min, detail);
            metrics.top_k_accuracy = Some(v);
        }
        if let (Some(max), Some(mae)) = (c.max_mae, metrics.mae) {
            self.threshold_check(CHECK_MAE, format!("{mae:.6}"), mae <= max, String::new());
        }
        if let (Some(max), Some(rmse)) = (c.max_rmse, metrics.rmse) {
            self.threshold_check(CHECK_RMSE, format!("{rmse:.6}"), rmse <= max, String::new());
        }
        let source = golden.map(|g| g.source.clone()).unwrap_or_default();
        if golden.is_some() && run.golden.is_empty() {
            self.set(
                CHECK_GOLDEN,
                "–".into(),
                Verdict::Skipped,
                format!("no array in {source} is named after a model output"),
            );
        }
        let per_output = run.golden.len() > 1;
        if per_output {
            self.split_row(
                CHECK_GOLDEN,
                run.golden
                    .iter()
                    .map(|g| {
                        (
                            golden_check_name(&g.output),
                            tolerance_text(self.spec.tolerances_for(&g.output)),
                        )
                    })
                    .collect(),
            );
        }
        for outcome in &run.golden {
            let name =
                if per_output { golden_check_name(&outcome.output) } else { CHECK_GOLDEN.into() };
            match &outcome.result {
                Ok(cmp) => {
                    let diff = cmp.max_abs_diff;
                    metrics.golden_max_abs_diff =
                        Some(metrics.golden_max_abs_diff.map_or(diff, |d: f64| d.max(diff)));
                    if !per_output {
                        self.retitle(CHECK_GOLDEN, tolerance_text((cmp.rtol, cmp.atol)));
                    }
                    let detail = if cmp.passed() {
                        String::new()
                    } else {
                        golden_failure(&outcome.output, &source, cmp)
                    };
                    self.threshold_check(&name, format!("{diff:.3e}"), cmp.passed(), detail);
                }
                Err(reason) => {
                    self.threshold_check(
                        &name,
                        "shape mismatch".into(),
                        false,
                        format!("{source}: {reason}"),
                    );
                }
            }
        }
        if let (Some(t), Some(result)) = (&c.token_agreement, &run.token_agreement) {
            match result {
                Ok(tokens) => {
                    let v = tokens.fraction();
                    metrics.token_agreement = Some(v);
                    self.threshold_check(
                        CHECK_TOKENS,
                        format!("{v:.4}"),
                        v >= t.min,
                        format!(
                            "{} of {} arg-max tokens agree with {source}",
                            tokens.agreeing, tokens.positions
                        ),
                    );
                }
                Err(reason) => {
                    self.threshold_check(CHECK_TOKENS, "–".into(), false, reason.to_string());
                }
            }
        }
        metrics
    }

    /// Replaces the row `name` by `rows` (name, threshold), in place.
    fn split_row(&mut self, name: &str, rows: Vec<(String, String)>) {
        let Some(i) = self.report.checks.iter().position(|c| c.name == name) else {
            return;
        };
        let template = self.report.checks.remove(i);
        self.touched.remove(i);
        for (offset, (name, threshold)) in rows.into_iter().enumerate() {
            self.report.checks.insert(i + offset, Check { name, threshold, ..template.clone() });
            self.touched.insert(i + offset, false);
        }
    }

    fn retitle(&mut self, name: &str, threshold: String) {
        if let Some(c) = self.report.checks.iter_mut().find(|c| c.name == name) {
            c.threshold = threshold;
        }
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
        root: &Base,
        base: &ModelRef,
        spec: &ValidationSpec,
        dataset: &Arc<Dataset>,
        limits: &Limits,
    ) -> Result<(), ValidationError> {
        let bytes = root.read_capped(&base.path, limits.max_model_bytes)?;
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
        let evaluation =
            evaluate(&base.path, bytes, &base_spec, dataset, None, Naming::Lenient, limits)?;
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
        let base_metrics = base_metrics(&run, dataset);
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

fn golden_check_name(output: &str) -> String {
    format!("golden {output}")
}

/// What a reviewer needs to judge a golden mismatch: how many elements, and the worst one.
fn golden_failure(output: &str, source: &str, cmp: &metrics::GoldenCompare) -> String {
    let mut text = format!(
        "`{output}` differs from {source}: {} of {} elements outside {}",
        cmp.mismatched,
        cmp.elements,
        if cmp.rtol == 0.0 {
            format!("atol {:e}", cmp.atol)
        } else {
            format!("atol {:e} + rtol {:e}·|golden|", cmp.atol, cmp.rtol)
        }
    );
    if let Some(w) = &cmp.worst {
        use std::fmt::Write as _;
        let index = w.index.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let _ = write!(
            text,
            "; worst element [{index}]: model {}, golden {} (|Δ| {:.3e})",
            w.model,
            w.golden,
            (w.model - w.golden).abs()
        );
    }
    text
}

/// Metrics without golden agreement.
fn base_metrics(run: &RunOutput, dataset: &Dataset) -> Metrics {
    Metrics {
        rows: dataset.rows,
        accuracy: run.accuracy,
        top_k_accuracy: None,
        mae: run.regression.map(|(mae, _)| mae),
        rmse: run.regression.map(|(_, rmse)| rmse),
        golden_max_abs_diff: None,
        token_agreement: None,
        load_ms: run.load_ms,
        latency: run.latency.clone(),
        rows_per_s: run.rows_per_s,
    }
}
