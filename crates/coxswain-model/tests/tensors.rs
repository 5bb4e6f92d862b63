//! Real-world model shapes: tensor datasets (`.npz`, `.npy` folders), several inputs and
//! outputs, numpy tolerances, top-k and token agreement, a batch tract can only handle
//! concretely, the bundled digits CNN, and validation outside a repository.
#![allow(clippy::float_cmp, reason = "expected metrics are exactly representable")]

mod common;

use common::{
    D, F32, I64, Repo, check, dynamic_batch_model, f32_npy, i64_npy, linear_model, model, node,
    npy, npz, run, softmax_rows, spec, two_input_model, value_info, workspace_root,
};
use coxswain_model::{Limits, ModelRef, ValidationError, Verdict, validate};

/// Rows of `b` (4 features) whose class is the arg-max of the first three, and tokens `a`.
const B: [f32; 20] = [
    5.0, 1.0, 1.0, 0.0, //
    1.0, 5.0, 1.0, 0.0, //
    1.0, 1.0, 5.0, 0.0, //
    2.0, 1.0, 0.0, 9.0, //
    0.0, 3.0, 1.0, 1.0,
];
const LABELS: [i64; 5] = [0, 1, 2, 0, 1];
const T: usize = 3;
const T64: i64 = 3;

fn tokens() -> Vec<i64> {
    (0..5 * T64).map(|i| i % 4).collect()
}

/// The expected `probabilities` of `two_input_model` for the rows above.
fn expected_probabilities() -> Vec<f64> {
    let a = tokens();
    let scores: Vec<f64> = (0..5)
        .flat_map(|r| {
            let shift: f64 = a[r * T..(r + 1) * T].iter().map(|v| *v as f64).sum();
            (0..3).map(move |c| f64::from(B[r * 4 + c]) + shift)
        })
        .collect();
    softmax_rows(&scores, 3)
}

fn two_input_spec(extra_checks: &str) -> coxswain_model::ValidationSpec {
    spec(&format!(
        r#"{{"dataset": "data.npz", "labelColumn": "label",
            "inputs": [{{"name": "a", "shape": ["N", "T"], "dtype": "i64"}},
                       {{"name": "b", "shape": ["N", 4], "dtype": "f32"}}],
            "outputs": [{{"name": "probabilities", "shape": ["N", 3], "dtype": "f32"}}],
            "batchSize": 2,
            "checks": {{"minAccuracy": 1.0 {extra_checks}}}}}"#
    ))
}

fn two_input_repo(deflate: bool, golden: Option<Vec<f32>>) -> Repo {
    let repo = Repo::new();
    repo.write("m.onnx", two_input_model(I64));
    let mut entries = vec![
        ("a", i64_npy(&[5, T], &tokens())),
        ("b", f32_npy(&[5, 4], &B)),
        ("label", i64_npy(&[5], &LABELS)),
    ];
    if let Some(g) = golden {
        entries.push(("probabilities", f32_npy(&[5, 3], &g)));
    }
    repo.write("data.npz", npz(&entries, deflate));
    repo
}

#[expect(clippy::cast_possible_truncation, reason = "golden outputs are f32")]
fn golden_f32() -> Vec<f32> {
    expected_probabilities().iter().map(|v| *v as f32).collect()
}

#[test]
fn npz_with_two_inputs_validates_stored_and_deflated() {
    for deflate in [false, true] {
        let repo = two_input_repo(deflate, Some(golden_f32()));
        let report = run(&repo, "m.onnx", &two_input_spec("")).unwrap();
        assert!(report.passed(), "deflate={deflate}\n{}", report.render_text());
        let m = report.metrics.as_ref().unwrap();
        assert_eq!((m.rows, m.accuracy), (5, Some(1.0)));
        // The golden outputs came from the bundle: arrays named like an output.
        assert_eq!(report.golden_outputs.as_deref(), Some("data.npz"));
        assert_eq!(check(&report, "golden outputs").verdict, Verdict::Pass);
        assert!(m.golden_max_abs_diff.unwrap() < 1e-6);
        assert_eq!(
            check(&report, "input contract").measured,
            "a i64 [N, T]; b f32 [N, 4]",
            "both inputs are reported"
        );
        // Batches of 2 over 5 rows: the symbolic batch ran 2, 2, 1.
        assert_eq!(m.latency.iter().map(|l| l.batch).collect::<Vec<_>>(), [1, 2]);
    }
}

#[test]
fn folder_of_npy_files_is_a_dataset_too() {
    let repo = Repo::new();
    repo.write("m.onnx", two_input_model(I64));
    repo.write("data/a.npy", i64_npy(&[5, T], &tokens()));
    repo.write("data/b.npy", f32_npy(&[5, 4], &B));
    repo.write("data/label.npy", i64_npy(&[5], &LABELS));
    let mut s = two_input_spec("");
    s.dataset = "data".into();
    let report = run(&repo, "m.onnx", &s).unwrap();
    assert!(report.passed(), "{}", report.render_text());
    assert_eq!(report.metrics.unwrap().accuracy, Some(1.0));
}

#[test]
fn wrong_array_name_dtype_or_shape_is_an_error_naming_the_array() {
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "bb",
            f32_npy(&[5, 4], &B),
            "data.npz: array `b`: missing: input `b` is fed from the array of the same name; \
             the bundle has: a, label, bb",
        ),
        (
            "b",
            npy(
                "<f8",
                &[5, 4],
                &B.iter().flat_map(|v| f64::from(*v).to_le_bytes()).collect::<Vec<_>>(),
            ),
            "data.npz: array `b`: is f64 but input `b` is declared f32; convert it with .astype(np.float32)",
        ),
        (
            "b",
            f32_npy(&[4, 5], &B),
            "data.npz: array `b`: has shape (4, 5) but input `b` is declared [N, 4]: dimension 1 is 5, expected 4",
        ),
        ("b", f32_npy(&[5, 4, 1], &B), "rank 3 instead of 2"),
    ];
    for (name, bytes, expected) in cases {
        let repo = Repo::new();
        repo.write("m.onnx", two_input_model(I64));
        repo.write(
            "data.npz",
            npz(
                &[
                    ("a", i64_npy(&[5, T], &tokens())),
                    ("label", i64_npy(&[5], &LABELS)),
                    (name, bytes),
                ],
                true,
            ),
        );
        let err = run(&repo, "m.onnx", &two_input_spec("")).unwrap_err();
        assert!(matches!(err, ValidationError::DatasetArray { .. }), "{err:?}");
        assert!(err.to_string().contains(expected), "{err}\nexpected: {expected}");
    }
}

#[test]
fn arrays_disagreeing_on_rows_or_a_symbol_are_errors() {
    let repo = Repo::new();
    repo.write("m.onnx", two_input_model(I64));
    repo.write(
        "data.npz",
        npz(
            &[
                ("a", i64_npy(&[5, T], &tokens())),
                ("b", f32_npy(&[5, 4], &B)),
                ("label", i64_npy(&[4], &LABELS[..4])),
            ],
            false,
        ),
    );
    let err = run(&repo, "m.onnx", &two_input_spec("")).unwrap_err();
    assert_eq!(err.to_string(), "data.npz: array `label`: has 4 rows but array `a` has 5");

    // `T` names the same size in both inputs.
    let mut s = two_input_spec("");
    s.inputs[1].shape = vec![
        coxswain_model::DimSpec::Symbol("N".into()),
        coxswain_model::DimSpec::Symbol("T".into()),
    ];
    let repo = two_input_repo(false, None);
    let err = run(&repo, "m.onnx", &s).unwrap_err();
    assert!(err.to_string().contains("dimension 1 (`T`) is 4 but it is 3 in array `a`"), "{err}");
}

#[test]
fn truncated_or_corrupt_npz_fails_cleanly() {
    let full = npz(
        &[
            ("a", i64_npy(&[5, T], &tokens())),
            ("b", f32_npy(&[5, 4], &B)),
            ("label", i64_npy(&[5], &LABELS)),
        ],
        false,
    );
    let repo = Repo::new();
    repo.write("m.onnx", two_input_model(I64));
    for cut in [0, 10, full.len() / 2, full.len() - 10] {
        repo.write("data.npz", &full[..cut]);
        let err = run(&repo, "m.onnx", &two_input_spec("")).unwrap_err();
        assert!(matches!(err, ValidationError::DatasetFile { .. }), "cut {cut}: {err:?}");
        assert!(err.to_string().starts_with("data.npz: "), "{err}");
    }
    // A flipped byte in `b`'s data (stored entry): the CRC-32 catches it when the rows are read.
    let mut corrupt = full.clone();
    let b_at = full.windows(4).position(|w| w == 5.0f32.to_le_bytes()).unwrap();
    corrupt[b_at] ^= 0x40;
    repo.write("data.npz", &corrupt);
    let err = run(&repo, "m.onnx", &two_input_spec("")).unwrap_err();
    assert!(matches!(&err, ValidationError::DatasetArray { array, .. } if array == "b"), "{err:?}");
    assert!(err.to_string().contains("CRC-32 mismatch"), "{err}");
}

/// Little-endian bytes of a small integer in one dtype.
type Encode = fn(u8) -> Vec<u8>;

#[test]
fn every_supported_input_dtype_is_fed_as_declared() {
    // Cast(input → f32) then the linear classifier; the features are small non-negative
    // integers so every dtype holds them exactly (bool: 0/1).
    let rows: [[u8; 4]; 4] = [[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 0], [1, 0, 0, 1]];
    let labels = [0i64, 1, 2, 0];
    let cases: [(&str, &str, i32, Encode); 7] = [
        ("f16", "<f2", 10, |v| {
            tract_onnx::prelude::f16::from_f32(f32::from(v)).to_le_bytes().to_vec()
        }),
        ("f64", "<f8", 11, |v| f64::from(v).to_le_bytes().to_vec()),
        ("i8", "|i1", 3, |v| vec![v]),
        ("i32", "<i4", 6, |v| i32::from(v).to_le_bytes().to_vec()),
        ("i64", "<i8", 7, |v| i64::from(v).to_le_bytes().to_vec()),
        ("u8", "|u1", 2, |v| vec![v]),
        ("bool", "|b1", 9, |v| vec![v]),
    ];
    for (dtype, descr, code, encode) in cases {
        let mut graph = common::linear_graph(&[D::Sym("N"), D::N(4)], &[D::Sym("N"), D::N(3)]);
        graph.input = vec![value_info("x", code, &[D::Sym("N"), D::N(4)])];
        let mut cast = node("Cast", &["x"], &["float_input"]);
        cast.attribute.push(tract_onnx::pb::AttributeProto {
            name: "to".into(),
            i: i64::from(F32),
            r#type: 2,
            ..Default::default()
        });
        graph.node.insert(0, cast);
        let repo = Repo::new();
        repo.write("m.onnx", model(graph));
        let data: Vec<u8> = rows.iter().flatten().flat_map(|v| encode(*v)).collect();
        repo.write(
            "data.npz",
            npz(&[("x", npy(descr, &[4, 4], &data)), ("y", i64_npy(&[4], &labels))], true),
        );
        let s = spec(&format!(
            r#"{{"dataset": "data.npz", "labels": "y",
                "input": {{"name": "x", "shape": ["N", 4], "dtype": "{dtype}"}},
                "checks": {{"minAccuracy": 1.0}}}}"#
        ));
        let report = run(&repo, "m.onnx", &s).unwrap();
        assert!(report.passed(), "{dtype}\n{}", report.render_text());
    }
}

#[test]
fn numpy_tolerances_and_the_worst_element() {
    // One element off by 3e-4 on a value near 1: fails the default atol 1e-4, passes rtol 1e-3.
    let mut golden = golden_f32();
    golden[2 * 3 + 2] += 3e-4;
    let repo = two_input_repo(false, Some(golden.clone()));
    let report = run(&repo, "m.onnx", &two_input_spec("")).unwrap();
    let g = check(&report, "golden outputs");
    assert_eq!((g.verdict, g.threshold.as_str()), (Verdict::Fail, "≤ 1e-4"));
    assert!(
        g.detail.starts_with(
            "`probabilities` differs from data.npz: 1 of 15 elements outside atol 1e-4; worst element [2, 2]: model "
        ),
        "{}",
        g.detail
    );
    assert!(g.detail.contains(&format!("golden {}", f64::from(golden[8]))), "{}", g.detail);

    let report = run(&repo, "m.onnx", &two_input_spec(r#", "rtol": 1e-3"#)).unwrap();
    let g = check(&report, "golden outputs");
    assert_eq!((g.verdict, g.threshold.as_str()), (Verdict::Pass, "≤ 1e-4 + 1e-3·|golden|"));

    // Per-output tolerances win over the checks' defaults.
    let mut s = two_input_spec(r#", "rtol": 1e-3"#);
    s.outputs[0].rtol = Some(0.0);
    s.outputs[0].atol = Some(1e-5);
    let report = run(&repo, "m.onnx", &s).unwrap();
    assert_eq!(check(&report, "golden outputs").verdict, Verdict::Fail);
}

#[test]
fn explicit_golden_npz_compares_each_output_by_name() {
    let repo = two_input_repo(false, None);
    repo.write(
        "golden.npz",
        npz(
            &[
                ("probabilities", f32_npy(&[5, 3], &golden_f32())),
                ("extra", f32_npy(&[5], &[0.0; 5])),
            ],
            false,
        ),
    );
    let report =
        run(&repo, "m.onnx", &two_input_spec(r#", "goldenOutputs": "golden.npz""#)).unwrap();
    assert!(report.passed(), "{}", report.render_text());
    assert_eq!(report.golden_outputs.as_deref(), Some("golden.npz"));
    assert!(
        report.notes.iter().any(|n| n.contains("array `extra` matches no model output")),
        "{:?}",
        report.notes
    );
}

#[test]
fn symbolic_batch_that_tract_cannot_translate_runs_concretely_with_a_note() {
    let repo = Repo::new();
    repo.write("dyn.onnx", dynamic_batch_model());
    repo.write("data.csv", common::SIMPLE_CSV);
    let s = spec(
        r#"{"dataset": "data.csv", "labelColumn": "species",
            "input": {"name": "float_input", "shape": ["N", 4], "dtype": "f32"},
            "batchSize": 3,
            "checks": {"minAccuracy": 1.0, "latencyMs": {"p99": 100000, "batch": 2}}}"#,
    );
    let report = run(&repo, "dyn.onnx", &s).unwrap();
    assert!(report.passed(), "{}", report.render_text());
    // The contract check still saw the symbolic declaration.
    assert_eq!(check(&report, "input contract").measured, "float_input f32 [N, 4]");
    let note = report
        .notes
        .iter()
        .find(|n| n.contains("could not stay symbolic"))
        .unwrap_or_else(|| panic!("no note about the batch: {:?}", report.notes));
    assert!(note.contains("batch dimension `N`") && note.contains("batches of 3"), "{note}");
    let m = report.metrics.as_ref().unwrap();
    assert_eq!((m.rows, m.accuracy), (4, Some(1.0)));
    // Latency at 1, the dataset batch and the latency batch: one plan each.
    assert_eq!(m.latency.iter().map(|l| l.batch).collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn top_k_and_token_agreement() {
    // The linear model: label 1 for a row whose best score is class 0 but second is class 1.
    let repo = Repo::new();
    repo.write("m.onnx", linear_model());
    let x: [f32; 12] = [5.0, 4.0, 1.0, 0.0, 1.0, 5.0, 1.0, 0.0, 1.0, 1.0, 5.0, 0.0];
    let scores: Vec<f64> = x.chunks(4).flat_map(|r| r[..3].iter().map(|v| f64::from(*v))).collect();
    #[expect(clippy::cast_possible_truncation, reason = "f32 golden")]
    let mut golden: Vec<f32> = softmax_rows(&scores, 3).iter().map(|v| *v as f32).collect();
    // Row 2's golden arg-max moves to class 0: one of three tokens disagrees.
    golden.swap(6, 8);
    repo.write(
        "data.npz",
        npz(
            &[
                ("float_input", f32_npy(&[3, 4], &x)),
                ("species", i64_npy(&[3], &[1, 1, 2])),
                ("probabilities", f32_npy(&[3, 3], &golden)),
            ],
            true,
        ),
    );
    let s = spec(
        r#"{"dataset": "data.npz", "labelColumn": "species",
            "input": {"name": "float_input", "shape": ["N", 4], "dtype": "f32"},
            "checks": {"output": "probabilities", "minAccuracy": 0.5, "topK": {"k": 2, "min": 1.0},
                       "atol": 1.0, "tokenAgreement": {"min": 0.9}}}"#,
    );
    let report = run(&repo, "m.onnx", &s).unwrap();
    let acc = check(&report, "accuracy");
    assert_eq!((acc.verdict, acc.measured.as_str()), (Verdict::Pass, "0.6667"));
    let top2 = check(&report, "top-2 accuracy");
    assert_eq!((top2.verdict, top2.measured.as_str()), (Verdict::Pass, "1.0000"));
    let tokens = check(&report, "token agreement");
    assert_eq!((tokens.verdict, tokens.measured.as_str()), (Verdict::Fail, "0.6667"));
    assert_eq!(tokens.detail, "2 of 3 arg-max tokens agree with data.npz");
    let m = report.metrics.as_ref().unwrap();
    assert_eq!(
        (m.top_k_accuracy, m.token_agreement.map(|t| (t * 3.0).round())),
        (Some(1.0), Some(2.0))
    );
}

// ---- the bundled digits CNN ----

fn digits_spec() -> coxswain_model::ValidationSpec {
    spec(
        r#"{"dataset": "models/digits/validation.npz", "labelColumn": "label",
            "input": {"name": "pixels", "shape": ["N", 1, 8, 8], "dtype": "f32"},
            "outputs": [{"name": "logits", "shape": ["N", 10], "dtype": "f32"},
                        {"name": "probabilities", "shape": ["N", 10], "dtype": "f32", "atol": 1e-6}],
            "checks": {"output": "logits", "minAccuracy": 0.95, "topK": {"k": 3, "min": 0.99},
                       "atol": 1e-4, "rtol": 1e-4, "tokenAgreement": {"min": 1.0, "output": "probabilities"}}}"#,
    )
}

#[test]
fn bundled_digits_cnn_passes_with_golden_npz_per_output() {
    let root = workspace_root();
    let model = ModelRef { path: "models/digits/1.0.0/model.onnx".into(), sha256: None };
    let report = validate(&root, &model, &digits_spec(), None, &Limits::default()).unwrap();
    assert!(report.passed(), "{}", report.render_text());
    let m = report.metrics.as_ref().unwrap();
    assert_eq!((m.rows, m.accuracy), (400, Some(0.98)));
    assert!(m.top_k_accuracy.unwrap() >= 0.99);
    assert_eq!(m.token_agreement, Some(1.0));
    assert_eq!(report.golden_outputs.as_deref(), Some("models/digits/1.0.0/golden.npz"));
    // Two outputs compared: one row each, with its own tolerance.
    assert_eq!(check(&report, "golden logits").threshold, "≤ 1e-4 + 1e-4·|golden|");
    assert_eq!(check(&report, "golden probabilities").threshold, "≤ 1e-6 + 1e-4·|golden|");
    assert!(report.checks.iter().all(|c| c.name != "golden outputs"));
    assert!(m.golden_max_abs_diff.unwrap() < 1e-4, "tract vs onnxruntime: {m:?}");
    assert!(report.notes.iter().any(|n| n.contains("golden.npz, found next to the model")));
}

#[test]
fn digits_cnn_with_a_wrong_image_shape_names_the_array() {
    let root = workspace_root();
    let model = ModelRef { path: "models/digits/1.0.0/model.onnx".into(), sha256: None };
    let mut s = digits_spec();
    s.input.as_mut().unwrap().shape[2] = coxswain_model::DimSpec::Fixed(16);
    let err = validate(&root, &model, &s, None, &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "models/digits/validation.npz: array `pixels`: has shape (400, 1, 8, 8) but input \
         `pixels` is declared [N, 1, 16, 8]: dimension 2 is 8, expected 16"
    );
}

// ---- outside a repository ----

#[test]
fn standalone_validation_resolves_paths_beside_the_spec() {
    let dir = Repo::new();
    dir.write("export/m.onnx", two_input_model(I64));
    let repo = two_input_repo(true, Some(golden_f32()));
    let data = std::fs::read(repo.root().join("data.npz")).unwrap();
    dir.write("data/data.npz", data);
    dir.write("specs/spec.yaml", "unused: the caller parses the spec");
    let standalone = |s: &coxswain_model::ValidationSpec| {
        coxswain_model::validate_standalone(
            &dir.root().join("export/m.onnx"),
            None,
            s,
            &dir.root().join("specs/spec.yaml"),
            &Limits::default(),
        )
    };
    let mut s = two_input_spec("");
    s.dataset = "../data/data.npz".into();
    let report = standalone(&s).unwrap();
    assert!(report.passed(), "{}", report.render_text());
    assert!(report.dataset.ends_with("specs/../data/data.npz"), "{}", report.dataset);
    assert_eq!(check(&report, "golden outputs").verdict, Verdict::Pass);

    // A missing dataset names the path as resolved.
    s.dataset = "nope.npz".into();
    let err = standalone(&s).unwrap_err();
    assert!(
        matches!(err, ValidationError::NotFound { ref file } if file.ends_with("specs/nope.npz")),
        "{err:?}"
    );
}

#[test]
fn golden_array_of_the_wrong_shape_is_a_failed_check() {
    // Four rows of golden outputs for a five-row dataset, then the right rows but 2 columns.
    for (shape, golden, expected) in [
        (vec![4, 3], vec![0.0f32; 12], "has shape (4, 3) but the dataset has 5 rows"),
        (vec![5, 2], vec![0.0f32; 10], "does not match the output (3 values per row"),
    ] {
        let repo = two_input_repo(false, None);
        repo.write("golden.npz", npz(&[("probabilities", f32_npy(&shape, &golden))], false));
        let report =
            run(&repo, "m.onnx", &two_input_spec(r#", "goldenOutputs": "golden.npz""#)).unwrap();
        let g = check(&report, "golden outputs");
        assert_eq!((g.verdict, g.measured.as_str()), (Verdict::Fail, "shape mismatch"));
        assert!(
            g.detail.starts_with("golden.npz: ") && g.detail.contains(expected),
            "{}",
            g.detail
        );
    }
}

#[test]
fn labels_must_be_class_ids_one_per_row() {
    let bad: [(Vec<u8>, &str); 3] = [
        (
            npy(
                "<f8",
                &[5],
                &[0.0f64, 1.0, 2.5, 0.0, 1.0]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<_>>(),
            ),
            "data.npz: array `label`: element 2 is 2.5, not a class id",
        ),
        (
            i64_npy(&[5], &[0, 1, -2, 0, 1]),
            "element 2 is -2; classification labels are integers ≥ 0",
        ),
        (
            i64_npy(&[5, 2], &[0; 10]),
            "labels must hold one value per row, shape (rows,) or (rows, 1); found (5, 2)",
        ),
    ];
    for (labels, expected) in bad {
        let repo = Repo::new();
        repo.write("m.onnx", two_input_model(I64));
        repo.write(
            "data.npz",
            npz(
                &[
                    ("a", i64_npy(&[5, T], &tokens())),
                    ("b", f32_npy(&[5, 4], &B)),
                    ("label", labels),
                ],
                false,
            ),
        );
        let err = run(&repo, "m.onnx", &two_input_spec("")).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}\nexpected: {expected}");
    }
}

#[test]
fn spec_rules_for_inputs_outputs_and_tolerances() {
    let repo = two_input_repo(false, None);
    let cases = [
        (
            r#"{"dataset": "data.npz", "input": {"name": "a", "shape": ["N", "T"], "dtype": "i64"},
                "inputs": [{"name": "b", "shape": ["N", 4], "dtype": "f32"}]}"#,
            "`inputs` set `input` or `inputs`, not both",
        ),
        (r#"{"dataset": "data.npz"}"#, "`input` declare the model's input (or `inputs`)"),
        (
            r#"{"dataset": "data.npz", "inputs": [{"name": "a", "shape": ["N", "T"], "dtype": "i64"},
                {"name": "b", "shape": ["M", 4], "dtype": "f32"}]}"#,
            "every input must share the batch dimension; found `N` and `M`",
        ),
        (
            r#"{"dataset": "data.npz", "input": {"name": "b", "shape": ["N", 4], "dtype": "f32"},
                "checks": {"tolerance": 1e-3, "atol": 1e-3}}"#,
            "`checks.tolerance` is the old name of `atol`; set one of them",
        ),
        (
            r#"{"dataset": "data.npz", "input": {"name": "b", "shape": ["N", 4], "dtype": "f32"},
                "checks": {"minAccuracy": 0.9}}"#,
            "`labelColumn` is needed by the accuracy",
        ),
        (
            r#"{"dataset": "data.npz", "input": {"name": "b", "shape": ["N", 4], "dtype": "f32"},
                "outputs": [{"name": "p", "rtol": -1}]}"#,
            "`output `p`.rtol` must be a number ≥ 0, got -1",
        ),
        (
            r#"{"dataset": "data.npz", "labels": "label", "input": {"name": "b", "shape": ["N", 4], "dtype": "f32"},
                "checks": {"topK": {"k": 0, "min": 0.5}}}"#,
            "`checks.topK.k` must be at least 1",
        ),
    ];
    for (json, expected) in cases {
        let err = run(&repo, "m.onnx", &spec(json)).unwrap_err();
        assert!(matches!(err, ValidationError::InvalidSpec { .. }), "{json}: {err:?}");
        assert!(err.to_string().contains(expected), "{err}\nexpected: {expected}");
    }
    // A CSV feeds one input with fixed row dimensions.
    repo.write("data.csv", "x,y,label\n1,2,0\n");
    let err = run(
        &repo,
        "m.onnx",
        &spec(r#"{"dataset": "data.csv", "labelColumn": "label", "input": {"name": "a", "shape": ["N", "T"], "dtype": "i64"}}"#),
    )
    .unwrap_err();
    assert!(err.to_string().contains("a CSV row has a fixed number of columns"), "{err}");
}

#[test]
fn a_model_input_the_spec_does_not_declare_fails_the_contract() {
    let repo = two_input_repo(false, None);
    let s = spec(
        r#"{"dataset": "data.npz", "labelColumn": "label",
            "input": {"name": "b", "shape": ["N", 4], "dtype": "f32"}, "checks": {"minAccuracy": 1.0}}"#,
    );
    let report = run(&repo, "m.onnx", &s).unwrap();
    let c = check(&report, "input contract");
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(
        c.detail.contains("further inputs the dataset cannot feed: a i64 [N, T]"),
        "{}",
        c.detail
    );
    assert_eq!(check(&report, "accuracy").verdict, Verdict::Skipped);
}
