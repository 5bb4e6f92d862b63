//! Snapshots of the rendered report: terminal table, Markdown for PRs, and the JSON shape.

mod common;

use common::{iris_spec, workspace_root};
use coxswain_model::{
    BaselineReport, Check, LatencyStats, Limits, Metrics, ModelRef, Task, ValidationReport,
    Verdict, validate,
};

fn check(name: &str, measured: &str, threshold: &str, verdict: Verdict, detail: &str) -> Check {
    Check {
        name: name.into(),
        measured: measured.into(),
        threshold: threshold.into(),
        verdict,
        detail: detail.into(),
    }
}

fn metrics(accuracy: f64, load_ms: f64, scale: f64) -> Metrics {
    Metrics {
        rows: 45,
        accuracy: Some(accuracy),
        top_k_accuracy: None,
        mae: None,
        rmse: None,
        golden_max_abs_diff: None,
        token_agreement: None,
        load_ms,
        latency: vec![
            LatencyStats {
                batch: 1,
                p50_ms: 0.011 * scale,
                p95_ms: 0.013 * scale,
                p99_ms: 0.02 * scale,
                calls: 1000,
            },
            LatencyStats {
                batch: 64,
                p50_ms: 0.06 * scale,
                p95_ms: 0.07 * scale,
                p99_ms: 0.09 * scale,
                calls: 1000,
            },
        ],
        rows_per_s: 64.0 / (0.062e-3 * scale),
    }
}

/// A failing promotion: fixed numbers so the rendering is deterministic.
fn fixed_report() -> ValidationReport {
    let mut candidate = metrics(0.6222, 1.84, 1.0);
    candidate.golden_max_abs_diff = Some(8.9e-8);
    ValidationReport {
        model: "models/iris/candidate-bad/model.onnx".into(),
        sha256: "216d432c98069a7ad8ca4a3b099945f30d5883674aa9d1b4edef6d142c69ff0b".into(),
        task: Task::Classification,
        dataset: "models/iris/validation.csv".into(),
        golden_outputs: Some("models/iris/candidate-bad/golden.npy".into()),
        checks: vec![
            check("sha256", "216d432c9806", "216d432c9806", Verdict::Pass, ""),
            check("input contract", "float_input f32 [?, 4]", "float_input f32 [N, 4]", Verdict::Pass, ""),
            check("output contract", "probabilities f32 [?, 3]", "probabilities f32 [N, 3]", Verdict::Pass, ""),
            check("accuracy", "0.6222", "≥ 0.9000", Verdict::Fail, ""),
            check("golden outputs", "8.900e-8", "≤ 1e-4", Verdict::Pass, ""),
            check("latency p50 (batch 1)", "0.011 ms", "≤ 2 ms", Verdict::Pass, ""),
            check(
                "regression vs baseline",
                "+0.3111",
                "≤ 0.0100",
                Verdict::Fail,
                "accuracy: baseline 0.9333, candidate 0.6222",
            ),
            check("baseline | pipes", "–", "–", Verdict::Skipped, "a cell with | in it stays one cell"),
        ],
        metrics: Some(candidate),
        baseline: Some(BaselineReport {
            model: "models/iris/1.0.0/model.onnx".into(),
            sha256: "2967f93509167133a0088ddf610767b4a5c58a9005288839aae8560732929ac2".into(),
            metrics: Some(metrics(0.9333, 2.1, 1.5)),
        }),
        notes: vec![
            "checks.goldenOutputs is not set: compared with models/iris/candidate-bad/golden.npy, found next to the model".into(),
        ],
    }
}

#[test]
fn text_table() {
    let report = fixed_report();
    assert!(!report.passed());
    insta::assert_snapshot!(report.render_text());
}

#[test]
fn markdown_for_pull_requests() {
    insta::assert_snapshot!(fixed_report().render_markdown());
}

#[test]
fn passing_report_without_baseline() {
    let mut report = fixed_report();
    report.baseline = None;
    report.notes.clear();
    report.checks.truncate(3);
    report.golden_outputs = None;
    assert!(report.passed());
    insta::assert_snapshot!("passing_text", report.render_text());
    insta::assert_snapshot!("passing_markdown", report.render_markdown());
}

#[test]
fn json_of_a_real_run_is_stable() {
    let model = |v: &str| ModelRef { path: format!("models/iris/{v}/model.onnx"), sha256: None };
    let report = validate(
        &workspace_root(),
        &model("candidate-bad"),
        &iris_spec(),
        Some(&model("1.0.0")),
        &Limits::default(),
    )
    .unwrap();
    // Timings and the last bits of float agreement depend on the machine; everything else is fixed.
    insta::assert_json_snapshot!(report, {
        ".metrics.loadMs" => "[ms]",
        ".metrics.rowsPerS" => "[rows/s]",
        ".metrics.goldenMaxAbsDiff" => "[diff]",
        ".metrics.latency[].p50Ms" => "[ms]",
        ".metrics.latency[].p95Ms" => "[ms]",
        ".metrics.latency[].p99Ms" => "[ms]",
        ".metrics.latency[].calls" => "[calls]",
        ".baseline.metrics.loadMs" => "[ms]",
        ".baseline.metrics.rowsPerS" => "[rows/s]",
        ".baseline.metrics.latency[].p50Ms" => "[ms]",
        ".baseline.metrics.latency[].p95Ms" => "[ms]",
        ".baseline.metrics.latency[].p99Ms" => "[ms]",
        ".baseline.metrics.latency[].calls" => "[calls]",
        ".checks[4].measured" => "[diff]",
        ".checks[5].measured" => "[ms]",
    });
}
