//! End-to-end behaviour of `validate`: errors for what cannot be evaluated, failed checks for
//! what does not meet the spec, and the bundled iris models.
#![allow(clippy::float_cmp, reason = "expected metrics are exactly representable")]

mod common;

use std::time::Duration;

use common::{
    D, F32, I64, Repo, SIMPLE_CSV, check, iris_spec, linear_graph, linear_model, model, model_ref,
    node, run, simple_spec, spec, value_info, workspace_root,
};
use coxswain_model::{Limits, ModelRef, ValidationError, Verdict, validate};
use sha2::{Digest, Sha256};

fn sha_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn simple_repo() -> Repo {
    let repo = Repo::new();
    repo.write("m/model.onnx", linear_model());
    repo.write("data.csv", SIMPLE_CSV);
    repo
}

#[test]
fn synthetic_model_passes_and_reports_metrics() {
    let repo = simple_repo();
    let report = run(&repo, "m/model.onnx", &simple_spec()).unwrap();
    assert!(report.passed(), "{}", report.render_text());
    let metrics = report.metrics.as_ref().unwrap();
    assert_eq!(metrics.rows, 4);
    // The 4th row's arg-max over the first three features is class 0, as labelled.
    assert_eq!(metrics.accuracy, Some(1.0));
    assert_eq!(check(&report, "accuracy").verdict, Verdict::Pass);
    assert_eq!(check(&report, "sha256").verdict, Verdict::Skipped);
    assert_eq!(check(&report, "golden outputs").verdict, Verdict::Skipped);
    let batches: Vec<usize> = metrics.latency.iter().map(|l| l.batch).collect();
    assert_eq!(batches, [1, 64]);
    assert!(metrics.latency.iter().all(|l| l.calls >= 1 && l.p50_ms <= l.p99_ms));
    assert!(metrics.rows_per_s > 0.0);
}

#[test]
fn accuracy_below_threshold_is_a_failed_check() {
    let repo = Repo::new();
    repo.write("m/model.onnx", linear_model());
    // Two of four labels disagree with the arg-max.
    repo.write("data.csv", "a,b,c,d,species\n5,1,1,0,1\n1,5,1,0,1\n1,1,5,0,0\n2,1,0,9,0\n");
    let report = run(&repo, "m/model.onnx", &simple_spec()).unwrap();
    assert!(!report.passed());
    let acc = check(&report, "accuracy");
    assert_eq!(
        (acc.verdict, acc.measured.as_str(), acc.threshold.as_str()),
        (Verdict::Fail, "0.5000", "≥ 0.9000")
    );
}

#[test]
fn sha_mismatch_fails_and_skips_everything_else() {
    let repo = simple_repo();
    let pinned = ModelRef { path: "m/model.onnx".into(), sha256: Some("ab".repeat(32)) };
    let report = validate(repo.root(), &pinned, &simple_spec(), None, &Limits::default()).unwrap();
    assert!(!report.passed());
    let sha = check(&report, "sha256");
    assert_eq!(sha.verdict, Verdict::Fail);
    assert!(sha.detail.contains(&report.sha256), "{}", sha.detail);
    assert!(report.metrics.is_none());
    for c in report.checks.iter().filter(|c| c.name != "sha256") {
        assert_eq!(c.verdict, Verdict::Skipped, "{c:?}");
    }
    assert!(check(&report, "accuracy").detail.contains("sha256 pin"));
}

#[test]
fn matching_pin_passes_case_insensitively() {
    let repo = simple_repo();
    let sha = sha_hex(&linear_model()).to_uppercase();
    let pinned = ModelRef { path: "m/model.onnx".into(), sha256: Some(sha) };
    let report = validate(repo.root(), &pinned, &simple_spec(), None, &Limits::default()).unwrap();
    assert_eq!(check(&report, "sha256").verdict, Verdict::Pass);
    assert!(report.passed());
}

#[test]
fn missing_model_file_names_it() {
    let repo = simple_repo();
    let err = run(&repo, "m/nope.onnx", &simple_spec()).unwrap_err();
    assert!(matches!(err, ValidationError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().starts_with("m/nope.onnx: file not found"), "{err}");
}

#[test]
fn paths_outside_the_repo_are_refused() {
    let outer = Repo::new();
    outer.write("secret.onnx", linear_model());
    let repo = Repo::new();
    repo.write("data.csv", SIMPLE_CSV);
    let rel_to_outer =
        format!("../{}/secret.onnx", outer.root().file_name().unwrap().to_str().unwrap());
    for path in [
        rel_to_outer.as_str(),
        "m/../../secret.onnx",
        outer.root().join("secret.onnx").to_str().unwrap(),
    ] {
        let err = run(&repo, path, &simple_spec()).unwrap_err();
        assert!(matches!(err, ValidationError::OutsideRepo { .. }), "{path}: {err:?}");
        assert!(err.to_string().starts_with(path), "{err}");
    }
}

#[cfg(unix)]
#[test]
fn symlink_escaping_the_repo_is_refused_but_inner_symlink_is_fine() {
    let outer = Repo::new();
    outer.write("secret.onnx", linear_model());
    let repo = simple_repo();
    std::os::unix::fs::symlink(outer.root(), repo.root().join("escape")).unwrap();
    let err = run(&repo, "escape/secret.onnx", &simple_spec()).unwrap_err();
    assert!(matches!(err, ValidationError::OutsideRepo { .. }), "{err:?}");
    assert!(err.to_string().contains("symlink"), "{err}");

    std::os::unix::fs::symlink(repo.root().join("m/model.onnx"), repo.root().join("link.onnx"))
        .unwrap();
    assert!(run(&repo, "link.onnx", &simple_spec()).unwrap().passed());
}

#[test]
fn dataset_path_is_confined_too() {
    let repo = simple_repo();
    let mut s = simple_spec();
    s.dataset = "../data.csv".into();
    let err = run(&repo, "m/model.onnx", &s).unwrap_err();
    assert!(
        matches!(err, ValidationError::OutsideRepo { ref file, .. } if file == "../data.csv"),
        "{err:?}"
    );
}

#[test]
fn file_over_the_size_cap_is_refused_before_reading() {
    let repo = simple_repo();
    let limits = Limits { max_model_bytes: 100, ..Limits::default() };
    let err = validate(repo.root(), &model_ref("m/model.onnx"), &simple_spec(), None, &limits)
        .unwrap_err();
    assert!(matches!(err, ValidationError::TooLarge { limit: 100, .. }), "{err:?}");
    assert!(err.to_string().starts_with("m/model.onnx: "), "{err}");
}

#[test]
fn empty_truncated_and_random_files_are_not_onnx() {
    let repo = simple_repo();
    let bundled = std::fs::read(workspace_root().join("models/iris/1.1.0/model.onnx")).unwrap();
    let mut random = vec![0u8; 2048];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in &mut random {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x.to_le_bytes()[0];
    }
    let cases: [(&str, &[u8]); 3] = [
        ("empty.onnx", &[]),
        ("truncated.onnx", &bundled[..bundled.len() * 2 / 3]),
        ("random.onnx", &random),
    ];
    for (name, bytes) in cases {
        repo.write(name, bytes);
        let err = run(&repo, name, &simple_spec()).unwrap_err();
        assert!(matches!(err, ValidationError::NotOnnx { .. }), "{name}: {err:?}");
        assert!(err.to_string().starts_with(&format!("{name}: not an ONNX model")), "{err}");
    }
    assert!(run(&repo, "empty.onnx", &simple_spec()).unwrap_err().to_string().contains("empty"));
}

#[test]
fn unsupported_operator_is_named() {
    let repo = simple_repo();
    let mut graph = linear_graph(&[D::Sym("N"), D::N(4)], &[D::Sym("N"), D::N(3)]);
    graph.node.push(node("FrobnicateTensor", &["probabilities"], &["extra"]));
    repo.write("bad.onnx", model(graph));
    let err = run(&repo, "bad.onnx", &simple_spec()).unwrap_err();
    match &err {
        ValidationError::UnsupportedOperator { file, op, node } => {
            assert_eq!(
                (file.as_str(), op.as_str(), node.as_str()),
                ("bad.onnx", "FrobnicateTensor", "FrobnicateTensor_extra")
            );
        }
        other => panic!("expected UnsupportedOperator, got {other:?}"),
    }
    assert!(err.to_string().contains("`FrobnicateTensor`"), "{err}");
}

#[test]
fn graph_output_naming_a_missing_tensor_is_an_error_not_a_panic() {
    let repo = simple_repo();
    let mut graph = linear_graph(&[D::Sym("N"), D::N(4)], &[D::Sym("N"), D::N(3)]);
    graph.output.push(value_info("ghost", F32, &[D::Sym("N")]));
    repo.write("ghost.onnx", model(graph));
    let err = run(&repo, "ghost.onnx", &simple_spec()).unwrap_err();
    assert!(matches!(err, ValidationError::InvalidModel { .. }), "{err:?}");
    assert!(err.to_string().contains("graph output `ghost`"), "{err}");
}

#[test]
fn tract_panic_inside_the_model_becomes_an_error() {
    // tract 0.23 unwraps the axis of ArgMax during analysis: an out-of-range axis panics. Found by
    // the mutation fuzzer (an `axis: 1` byte turned into 7); the gate must report, not crash.
    let repo = simple_repo();
    let mut graph = linear_graph(&[D::Sym("N"), D::N(4)], &[D::Sym("N"), D::N(3)]);
    let mut argmax = node("ArgMax", &["probabilities"], &["label"]);
    argmax.attribute.push(tract_onnx::pb::AttributeProto {
        name: "axis".into(),
        i: 7,
        r#type: 2,
        ..Default::default()
    });
    graph.node.push(argmax);
    graph.output.push(value_info("label", I64, &[D::Sym("N")]));
    repo.write("panics.onnx", model(graph));
    let err = run(&repo, "panics.onnx", &simple_spec()).unwrap_err();
    match &err {
        ValidationError::Panic { file, stage, message } => {
            assert_eq!(file, "panics.onnx");
            assert_eq!(stage, "analysing and optimising the model");
            assert!(!message.contains('\n') && message.contains("reduce.rs"), "{message}");
        }
        other => panic!("expected a caught panic, got {other:?}"),
    }
}

#[test]
fn external_tensor_data_is_refused() {
    let repo = simple_repo();
    let mut graph = linear_graph(&[D::Sym("N"), D::N(4)], &[D::Sym("N"), D::N(3)]);
    if let Some(w) = graph.initializer.first_mut() {
        w.float_data.clear();
        w.data_location = Some(1);
        w.external_data.push(tract_onnx::pb::StringStringEntryProto {
            key: "location".into(),
            value: "../../etc/passwd".into(),
        });
    }
    repo.write("ext.onnx", model(graph));
    let err = run(&repo, "ext.onnx", &simple_spec()).unwrap_err();
    assert!(err.to_string().contains("tensor `W` keeps its data in an external file"), "{err}");
}

#[test]
fn wrong_input_name_dtype_or_shape_is_a_failed_contract_check() {
    let repo = simple_repo();
    let cases = [
        (r#"{"name": "x", "shape": ["N", 4], "dtype": "f32"}"#, "no input named `x`"),
        (
            r#"{"name": "float_input", "shape": ["N", 4], "dtype": "f64"}"#,
            "is f32 but the spec declares f64",
        ),
        (
            r#"{"name": "float_input", "shape": ["N", 5], "dtype": "f32"}"#,
            "dimension 1 is 4 in the model but 5 in the spec",
        ),
        (
            r#"{"name": "float_input", "shape": ["N", 2, 2], "dtype": "f32"}"#,
            "has rank 2 but the spec declares rank 3",
        ),
        (r#"{"name": "float_input", "shape": [8, 4], "dtype": "f32"}"#, ""),
    ];
    for (input, expected) in cases {
        let s = spec(&format!(
            r#"{{"dataset": "data.csv", "labelColumn": "species", "input": {input}, "checks": {{"minAccuracy": 0.5}}}}"#
        ));
        let report = run(&repo, "m/model.onnx", &s).unwrap();
        let c = check(&report, "input contract");
        if expected.is_empty() {
            // A symbolic model dimension accepts a fixed spec dimension: 8 rows per call.
            assert_eq!(c.verdict, Verdict::Pass, "{input}: {c:?}");
            assert!(report.passed());
            assert_eq!(
                report
                    .metrics
                    .as_ref()
                    .unwrap()
                    .latency
                    .iter()
                    .map(|l| l.batch)
                    .collect::<Vec<_>>(),
                [8]
            );
            continue;
        }
        assert_eq!(c.verdict, Verdict::Fail, "{input}");
        assert!(c.detail.contains(expected), "{input}: {}", c.detail);
        assert_eq!(c.measured, "float_input f32 [N, 4]");
        assert_eq!(check(&report, "accuracy").verdict, Verdict::Skipped);
        assert!(report.metrics.is_none());
        assert!(!report.passed());
    }
}

#[test]
fn feature_count_must_match_the_declared_shape() {
    let repo = simple_repo();
    repo.write("data.csv", "a,b,c,species\n1,2,3,0\n");
    let report = run(&repo, "m/model.onnx", &simple_spec()).unwrap();
    let c = check(&report, "input contract");
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.detail.contains("3 feature column(s) but shape [N, 4] takes 4"), "{}", c.detail);
}

#[test]
fn wrong_output_contract_is_a_failed_check() {
    let repo = simple_repo();
    let mut s = simple_spec();
    s.output = Some(
        serde_json::from_str(r#"{"name": "probabilities", "shape": ["N", 2], "dtype": "f32"}"#)
            .unwrap(),
    );
    let report = run(&repo, "m/model.onnx", &s).unwrap();
    let c = check(&report, "output contract");
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.detail.contains("dimension 1 is 3 in the model but 2 in the spec"), "{}", c.detail);

    s.output =
        Some(serde_json::from_str(r#"{"name": "label", "shape": ["N"], "dtype": "i64"}"#).unwrap());
    let report = run(&repo, "m/model.onnx", &s).unwrap();
    assert!(check(&report, "output contract").detail.contains("no output named `label`"));
}

#[test]
fn model_fixing_the_batch_dimension_runs_fixed_batches() {
    let repo = Repo::new();
    repo.write("fixed.onnx", model(linear_graph(&[D::N(3), D::N(4)], &[D::N(3), D::N(3)])));
    // 4 rows with a batch of 3: the second call is padded and its extra outputs dropped.
    repo.write("data.csv", SIMPLE_CSV);
    let symbolic = run(&repo, "fixed.onnx", &simple_spec()).unwrap();
    let c = check(&symbolic, "input contract");
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(
        c.detail.contains("fixed to 3 in the model but the spec declares it symbolic `N`"),
        "{}",
        c.detail
    );

    let s = spec(
        r#"{"dataset": "data.csv", "labelColumn": "species",
            "input": {"name": "float_input", "shape": [3, 4], "dtype": "f32"},
            "checks": {"minAccuracy": 1.0, "latencyMs": {"p99": 100000}}}"#,
    );
    let report = run(&repo, "fixed.onnx", &s).unwrap();
    assert!(report.passed(), "{}", report.render_text());
    let m = report.metrics.as_ref().unwrap();
    assert_eq!((m.rows, m.accuracy), (4, Some(1.0)));
    assert_eq!(m.latency.iter().map(|l| l.batch).collect::<Vec<_>>(), [3]);
    assert!(
        check(&report, "latency p99 (batch 1)").detail.contains("measured at batch 3 instead of 1")
    );
    assert!(report.notes.iter().any(|n| n.contains("3 rows per call")), "{:?}", report.notes);
}

#[test]
fn regression_task_reports_mae_and_rmse() {
    let repo = Repo::new();
    repo.write("reg.onnx", common::regression_model([2.0, -1.0]));
    // y = 2a − b exactly, except the last row which is off by 3.
    repo.write("data.csv", "a,b,y\n1,1,1\n2,0,4\n0,3,-3\n1,0,5\n");
    let s = spec(
        r#"{"dataset": "data.csv", "labelColumn": "y", "task": "regression",
            "input": {"name": "x", "shape": ["N", 2], "dtype": "f32"},
            "checks": {"maxMae": 1.0, "maxRmse": 1.0}}"#,
    );
    let report = run(&repo, "reg.onnx", &s).unwrap();
    let m = report.metrics.as_ref().unwrap();
    assert_eq!(m.mae, Some(0.75));
    assert_eq!(m.rmse, Some(1.5));
    assert_eq!(check(&report, "mae").verdict, Verdict::Pass);
    assert_eq!(check(&report, "rmse").verdict, Verdict::Fail);
    assert_eq!(m.accuracy, None);
}

#[test]
fn dataset_with_wrong_column_count_names_the_line() {
    let repo = simple_repo();
    repo.write("data.csv", "a,b,c,d,species\n1,2,3,4,0\n\n1,2,3,0\n");
    let err = run(&repo, "m/model.onnx", &simple_spec()).unwrap_err();
    assert_eq!(err.to_string(), "data.csv:4: expected 5 columns (as in the header), found 4");
}

#[test]
fn nan_and_non_numeric_cells_name_line_and_column() {
    let repo = simple_repo();
    repo.write("data.csv", "a,b,c,d,species\n1,2,3,4,0\n1,NaN,3,4,0\n");
    let err = run(&repo, "m/model.onnx", &simple_spec()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "data.csv:3: column `b`: `NaN` is not a finite number; remove or impute missing values"
    );
    repo.write("data.csv", "a,b,c,d,species\n1,2,3,4,0\n1,2,x3,4,0\n");
    let err = run(&repo, "m/model.onnx", &simple_spec()).unwrap_err();
    assert_eq!(err.to_string(), "data.csv:3: column `c`: `x3` is not a number");
}

#[test]
fn missing_label_column_lists_the_header() {
    let repo = simple_repo();
    let mut s = simple_spec();
    s.label_column = Some("label".into());
    let err = run(&repo, "m/model.onnx", &s).unwrap_err();
    assert_eq!(
        err.to_string(),
        "data.csv: label column `label` not found; the header has: a, b, c, d, species"
    );
}

#[test]
fn run_over_the_time_cap_is_an_error() {
    let repo = simple_repo();
    let limits = Limits { max_run: Duration::ZERO, ..Limits::default() };
    let err = validate(repo.root(), &model_ref("m/model.onnx"), &simple_spec(), None, &limits)
        .unwrap_err();
    assert!(matches!(err, ValidationError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().starts_with("m/model.onnx: "), "{err}");
}

#[test]
fn invalid_spec_values_are_rejected() {
    let repo = simple_repo();
    let mut s = simple_spec();
    s.checks.tolerance = Some(-1.0);
    let err = run(&repo, "m/model.onnx", &s).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid validation spec: `checks.tolerance` must be a number ≥ 0, got -1"
    );
    let mut s = simple_spec();
    s.checks.max_rmse = Some(1.0);
    assert!(matches!(run(&repo, "m/model.onnx", &s), Err(ValidationError::InvalidSpec { .. })));
}

#[test]
fn spec_json_is_strict_and_defaults_are_documented() {
    let typo = serde_json::from_str::<coxswain_model::ValidationSpec>(
        r#"{"dataset": "d.csv", "labelColumn": "y", "input": {"name": "x", "shape": ["N", 4], "dtype": "f32"},
            "checks": {"minAcuracy": 0.9}}"#,
    )
    .unwrap_err();
    assert!(typo.to_string().contains("unknown field `minAcuracy`"), "{typo}");
    let bad_dim = serde_json::from_str::<coxswain_model::ValidationSpec>(
        r#"{"dataset": "d.csv", "labelColumn": "y", "input": {"name": "x", "shape": ["N-1", 4], "dtype": "f32"}}"#,
    )
    .unwrap_err();
    assert!(bad_dim.to_string().contains("`N-1` is not a dimension symbol"), "{bad_dim}");
    let s = spec(
        r#"{"dataset": "d.csv", "labelColumn": "y", "input": {"name": "x", "shape": ["N", 4], "dtype": "float32"}}"#,
    );
    assert_eq!(s.task(), coxswain_model::Task::Classification);
    assert_eq!(s.batch_size(), 64);
    assert_eq!(s.checks.tolerances(), (0.0, 1e-4));
    assert!(!s.ignore_value_info);
    assert_eq!(s.input.as_ref().map(|i| i.dtype), Some(coxswain_model::DType::F32));
}

#[test]
fn integer_input_models_are_fed_integers() {
    let repo = Repo::new();
    // Cast(i64 → f32) then the same linear classifier.
    let mut graph = linear_graph(&[D::Sym("N"), D::N(4)], &[D::Sym("N"), D::N(3)]);
    graph.input = vec![value_info("ids", I64, &[D::Sym("N"), D::N(4)])];
    let mut cast = node("Cast", &["ids"], &["float_input"]);
    cast.attribute.push(tract_onnx::pb::AttributeProto {
        name: "to".into(),
        i: 1,
        r#type: 2,
        ..Default::default()
    });
    graph.node.insert(0, cast);
    repo.write("int.onnx", model(graph));
    repo.write("data.csv", SIMPLE_CSV);
    let s = spec(
        r#"{"dataset": "data.csv", "labelColumn": "species",
            "input": {"name": "ids", "shape": ["N", 4], "dtype": "i64"}, "checks": {"minAccuracy": 1.0}}"#,
    );
    let report = run(&repo, "int.onnx", &s).unwrap();
    assert!(report.passed(), "{}", report.render_text());
}

// ---- the bundled iris models ----

fn iris(version: &str) -> ModelRef {
    ModelRef { path: format!("models/iris/{version}/model.onnx"), sha256: None }
}

#[test]
fn bundled_1_1_0_passes_against_1_0_0_baseline() {
    let root = workspace_root();
    let report =
        validate(&root, &iris("1.1.0"), &iris_spec(), Some(&iris("1.0.0")), &Limits::default())
            .unwrap();
    assert!(report.passed(), "{}", report.render_text());
    let m = report.metrics.as_ref().unwrap();
    assert_eq!(m.rows, 45);
    assert_eq!(m.accuracy, Some(1.0));
    // Golden outputs came from onnxruntime; tract agrees to well within the tolerance.
    assert!(m.golden_max_abs_diff.unwrap() <= 1e-5, "{:?}", m.golden_max_abs_diff);
    assert_eq!(report.golden_outputs.as_deref(), Some("models/iris/1.1.0/golden.npy"));
    assert!(
        report.notes.iter().any(|n| n.contains("found next to the model")),
        "{:?}",
        report.notes
    );
    let baseline = report.baseline.as_ref().unwrap();
    let base_acc = baseline.metrics.as_ref().unwrap().accuracy.unwrap();
    assert!((base_acc - 42.0 / 45.0).abs() < 1e-9, "{base_acc}");
    let reg = check(&report, "regression vs baseline");
    assert_eq!((reg.verdict, reg.measured.as_str()), (Verdict::Pass, "-0.0667"));
    assert_eq!(check(&report, "golden outputs").verdict, Verdict::Pass);
}

#[test]
fn bundled_candidate_bad_fails_the_regression_check() {
    let root = workspace_root();
    let report = validate(
        &root,
        &iris("candidate-bad"),
        &iris_spec(),
        Some(&iris("1.0.0")),
        &Limits::default(),
    )
    .unwrap();
    assert!(!report.passed());
    let reg = check(&report, "regression vs baseline");
    assert_eq!(reg.verdict, Verdict::Fail);
    let acc = report.metrics.as_ref().unwrap().accuracy.unwrap();
    let base = report.baseline.as_ref().unwrap().metrics.as_ref().unwrap().accuracy.unwrap();
    assert!(base - acc > 0.05, "baseline {base} candidate {acc}");
    assert_eq!(check(&report, "accuracy").verdict, Verdict::Fail);
    // Its own golden outputs still match: the model is bad, not corrupt.
    assert_eq!(check(&report, "golden outputs").verdict, Verdict::Pass);
}

#[test]
fn golden_outputs_of_another_version_fail_the_golden_check() {
    let root = workspace_root();
    let mut s = iris_spec();
    s.checks.golden_outputs = Some("models/iris/1.0.0/golden.npy".into());
    let report = validate(&root, &iris("1.1.0"), &s, None, &Limits::default()).unwrap();
    let g = check(&report, "golden outputs");
    assert_eq!(g.verdict, Verdict::Fail);
    assert!(g.detail.contains("models/iris/1.0.0/golden.npy"), "{}", g.detail);
    assert!(report.notes.is_empty(), "explicit golden path: {:?}", report.notes);
    assert_eq!(check(&report, "regression vs baseline").verdict, Verdict::Skipped);
}

#[test]
fn bundled_pins_are_the_committed_files() {
    let root = workspace_root();
    for version in ["1.0.0", "1.1.0", "candidate-bad"] {
        let bytes = std::fs::read(root.join(format!("models/iris/{version}/model.onnx"))).unwrap();
        let pinned = ModelRef { sha256: Some(sha_hex(&bytes)), ..iris(version) };
        let report = validate(&root, &pinned, &iris_spec(), None, &Limits::default()).unwrap();
        assert_eq!(check(&report, "sha256").verdict, Verdict::Pass, "{version}");
        assert_eq!(report.sha256, sha_hex(&bytes));
    }
}

#[test]
fn baseline_pin_mismatch_is_a_failed_check() {
    let root = workspace_root();
    let base = ModelRef { sha256: Some("0".repeat(64)), ..iris("1.0.0") };
    let report =
        validate(&root, &iris("1.1.0"), &iris_spec(), Some(&base), &Limits::default()).unwrap();
    assert_eq!(check(&report, "baseline sha256").verdict, Verdict::Fail);
    assert_eq!(check(&report, "regression vs baseline").verdict, Verdict::Skipped);
    assert!(!report.passed());
}
