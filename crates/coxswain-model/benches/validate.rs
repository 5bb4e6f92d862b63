//! Validation of the bundled models: load time, latency at batch 1 and 64, rows/s.
//!
//! `cargo bench -p coxswain-model --bench validate` (release profile). Prints Markdown tables,
//! comparable with `python models/compare_onnxruntime.py` (same inputs, same measuring policy):
//! the iris models, then the conv models — the bundled digits CNN and, when
//! `COXSWAIN_BENCH_CONVNET` names the folder `models/make_bench_convnet.py` wrote, the synthetic
//! text-line conv net (`--convnet` on the Python side).
//! Each model is validated `RUNS` times and every column is the median over the runs (the
//! machine is shared; single runs are noisy). The first model's text report is printed too, as a
//! smoke check of the gate itself.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use coxswain_model::{Limits, ModelRef, ValidationReport, ValidationSpec, validate};

const RUNS: usize = 5;

const SPEC: &str = r#"{
    "dataset": "models/iris/validation.csv", "labelColumn": "species",
    "input": {"name": "float_input", "shape": ["N", 4], "dtype": "f32"},
    "output": {"name": "probabilities", "shape": ["N", 3], "dtype": "f32"},
    "batchSize": 64,
    "checks": {"minAccuracy": 0.9, "maxRegression": 0.01, "latencyMs": {"p50": 5, "p99": 20, "batch": 1}}
}"#;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let spec: ValidationSpec = match serde_json::from_str(SPEC) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench spec: {e}");
            return ExitCode::FAILURE;
        }
    };
    let model = |v: &str| ModelRef { path: format!("models/iris/{v}/model.onnx"), sha256: None };
    let baseline = model("1.0.0");
    println!(
        "| model | accuracy | max abs diff vs golden | load ms | p50 b=1 ms | p50 b=64 ms | p99 b=64 ms | rows/s b=64 | validate total s | verdict |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut first_report = None;
    for version in ["1.0.0", "1.1.0", "candidate-bad"] {
        let candidate = model(version);
        let base = (version != "1.0.0").then_some(&baseline);
        let mut rows: Vec<[f64; 8]> = Vec::with_capacity(RUNS);
        let mut last: Option<ValidationReport> = None;
        for _ in 0..RUNS {
            let started = Instant::now();
            let report = match validate(&root, &candidate, &spec, base, &Limits::default()) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let total = started.elapsed().as_secs_f64();
            let Some(m) = &report.metrics else {
                eprintln!("{version}: no metrics\n{}", report.render_text());
                return ExitCode::FAILURE;
            };
            let at = |b: usize| m.latency.iter().find(|l| l.batch == b);
            let (Some(b1), Some(b64)) = (at(1), at(64)) else {
                eprintln!("{version}: latency at batch 1 and 64 missing");
                return ExitCode::FAILURE;
            };
            rows.push([
                m.accuracy.unwrap_or(f64::NAN),
                m.golden_max_abs_diff.unwrap_or(f64::NAN),
                m.load_ms,
                b1.p50_ms,
                b64.p50_ms,
                b64.p99_ms,
                m.rows_per_s,
                total,
            ]);
            last = Some(report);
        }
        let Some(report) = last else {
            return ExitCode::FAILURE;
        };
        let med = |i: usize| median(&rows, i);
        println!(
            "| {version} | {:.4} | {:.1e} | {:.2} | {:.4} | {:.4} | {:.4} | {:.0} | {:.2} | {} |",
            med(0),
            med(1),
            med(2),
            med(3),
            med(4),
            med(5),
            med(6),
            med(7),
            if report.passed() { "pass" } else { "fail" },
        );
        first_report.get_or_insert(report);
    }
    if let Some(r) = first_report {
        println!("\n{}", r.render_text());
    }
    conv_table(&root)
}

/// Median of column `i` over the runs.
fn median<const N: usize>(rows: &[[f64; N]], i: usize) -> f64 {
    let mut v: Vec<f64> = rows.iter().filter_map(|r| r.get(i).copied()).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

const DIGITS_SPEC: &str = r#"{
    "dataset": "models/digits/validation.npz", "labelColumn": "label",
    "input": {"name": "pixels", "shape": ["N", 1, 8, 8], "dtype": "f32"},
    "output": {"name": "logits", "shape": ["N", 10], "dtype": "f32"},
    "batchSize": 64,
    "checks": {"minAccuracy": 0.95, "latencyMs": {"p50": 50, "batch": 1}}
}"#;

const CONVNET_SPEC: &str = r#"{
    "dataset": "data.npz",
    "input": {"name": "x", "shape": ["N", 3, 48, "W"], "dtype": "f32"},
    "output": {"name": "probabilities", "shape": ["N", 2], "dtype": "f32"},
    "batchSize": 8,
    "checks": {"rtol": 1e-3, "atol": 1e-5, "latencyMs": {"p50": 500, "batch": 1}}
}"#;

/// The conv models: median of `RUNS` validations each.
fn conv_table(root: &Path) -> ExitCode {
    let mut models = vec![(
        "digits 1.0.0".to_owned(),
        root.to_path_buf(),
        "models/digits/1.0.0/model.onnx".to_owned(),
        DIGITS_SPEC,
    )];
    if let Some(dir) = std::env::var_os("COXSWAIN_BENCH_CONVNET") {
        models.push(("bench convnet".into(), dir.into(), "model.onnx".into(), CONVNET_SPEC));
    }
    println!(
        "\n| model | load ms | p50 b=1 ms | p50 b=B ms | p99 b=B ms | B | rows/s b=B | max abs diff vs golden | verdict |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (label, dir, path, spec) in models {
        let spec: ValidationSpec = match serde_json::from_str(spec) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("bench spec: {e}");
                return ExitCode::FAILURE;
            }
        };
        let batch = spec.batch_size();
        let candidate = ModelRef { path, sha256: None };
        let mut rows: Vec<[f64; 6]> = Vec::with_capacity(RUNS);
        let mut verdict = "pass";
        for _ in 0..RUNS {
            let report = match validate(&dir, &candidate, &spec, None, &Limits::default()) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{label}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            if !report.passed() {
                verdict = "fail";
                eprintln!("{}", report.render_text());
            }
            let Some(m) = &report.metrics else {
                eprintln!("{label}: no metrics\n{}", report.render_text());
                return ExitCode::FAILURE;
            };
            let at = |b: usize| m.latency.iter().find(|l| l.batch == b);
            let (Some(b1), Some(bb)) = (at(1), at(batch)) else {
                eprintln!("{label}: latency at batch 1 and {batch} missing");
                return ExitCode::FAILURE;
            };
            rows.push([
                m.load_ms,
                b1.p50_ms,
                bb.p50_ms,
                bb.p99_ms,
                m.rows_per_s,
                m.golden_max_abs_diff.unwrap_or(f64::NAN),
            ]);
        }
        let med = |i: usize| median(&rows, i);
        println!(
            "| {label} | {:.2} | {:.4} | {:.4} | {:.4} | {batch} | {:.0} | {:.1e} | {verdict} |",
            med(0),
            med(1),
            med(2),
            med(3),
            med(4),
            med(5),
        );
    }
    ExitCode::SUCCESS
}
