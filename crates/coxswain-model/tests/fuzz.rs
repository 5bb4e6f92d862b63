//! Mutated model files must never crash the gate: every outcome is a report or a typed error.

mod common;

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use common::{iris_spec, workspace_root};
use coxswain_model::{Limits, ModelRef, ValidationError, validate};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

fn mutate(rng: &mut Rng, original: &[u8]) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for _ in 0..=rng.below(3) {
        let len = bytes.len().max(1);
        match rng.below(16) {
            0 => bytes.truncate(rng.below(len)),
            1 => {
                let at = rng.below(len);
                bytes.insert(at.min(bytes.len()), rng.next().to_le_bytes()[0]);
            }
            2 => {
                if !bytes.is_empty() {
                    let at = rng.below(bytes.len());
                    bytes.remove(at);
                }
            }
            3..=9 => {
                // Flip one bit: mostly keeps the protobuf structure, changes a value or tag.
                if let Some(b) = bytes.get_mut(rng.below(len)) {
                    *b ^= 1 << rng.below(8);
                }
            }
            _ => {
                if let Some(b) = bytes.get_mut(rng.below(len)) {
                    *b = rng.next().to_le_bytes()[0];
                }
            }
        }
    }
    bytes
}

fn kind(result: &Result<coxswain_model::ValidationReport, ValidationError>) -> &'static str {
    match result {
        Ok(r) if r.passed() => "report: passed",
        Ok(_) => "report: failed checks",
        Err(ValidationError::NotOnnx { .. }) => "error: not ONNX",
        Err(ValidationError::UnsupportedOperator { .. }) => "error: unsupported operator",
        Err(ValidationError::InvalidModel { .. }) => "error: invalid model",
        Err(ValidationError::Inference { .. }) => "error: inference",
        Err(ValidationError::Panic { .. }) => "error: tract panic (caught)",
        Err(ValidationError::Timeout { .. }) => "error: timeout",
        Err(_) => "error: other",
    }
}

/// `COXSWAIN_FUZZ_ITERATIONS` raises the count for a longer local hunt.
fn iterations() -> usize {
    std::env::var("COXSWAIN_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

#[test]
fn three_hundred_mutations_of_the_bundled_model_never_panic() {
    let root = workspace_root();
    let original = std::fs::read(root.join("models/iris/1.1.0/model.onnx")).unwrap();
    let repo = common::Repo::new();
    repo.write(
        "models/iris/validation.csv",
        std::fs::read(root.join("models/iris/validation.csv")).unwrap(),
    );
    let spec = iris_spec();
    let limits = Limits {
        max_run: Duration::from_secs(30),
        latency_budget: Duration::from_millis(1),
        ..Limits::default()
    };
    let mut rng = Rng(0x00C0_FFEE_D15E_A5E5);
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut escaped = Vec::new();
    let n = iterations();
    for i in 0..n {
        let bytes = mutate(&mut rng, &original);
        repo.write("models/iris/mutant/model.onnx", &bytes);
        let model = ModelRef { path: "models/iris/mutant/model.onnx".into(), sha256: None };
        match panic::catch_unwind(AssertUnwindSafe(|| {
            validate(repo.root(), &model, &spec, None, &limits)
        })) {
            Ok(result) => {
                if let Err(e @ ValidationError::Panic { .. }) = &result
                    && std::env::var_os("COXSWAIN_FUZZ_KEEP").is_some()
                {
                    let keep = std::env::temp_dir().join(format!("coxswain-fuzz-panic-{i}.onnx"));
                    std::fs::write(&keep, &bytes).unwrap();
                    eprintln!("mutation {i} (kept at {}): {e}", keep.display());
                }
                if let Err(e) = &result {
                    assert!(
                        e.to_string().contains("models/iris/mutant/model.onnx"),
                        "mutation {i}: {e}"
                    );
                }
                *outcomes.entry(kind(&result)).or_default() += 1;
            }
            Err(_) => escaped.push(i),
        }
    }
    eprintln!("outcomes of {n} mutations: {outcomes:#?}");
    assert!(escaped.is_empty(), "panics escaped validate() for mutations {escaped:?}");
    assert_eq!(outcomes.values().sum::<usize>(), n);
    // The mutations are not all trivially rejected: some still load and get a report.
    assert!(outcomes.keys().any(|k| k.starts_with("report")), "{outcomes:?}");
}

#[test]
fn mutations_of_the_bundled_npz_never_panic() {
    let root = workspace_root();
    let original = std::fs::read(root.join("models/digits/validation.npz")).unwrap();
    let repo = common::Repo::new();
    repo.write("model.onnx", std::fs::read(root.join("models/digits/1.0.0/model.onnx")).unwrap());
    let spec = common::spec(
        r#"{"dataset": "data.npz", "labelColumn": "label",
            "input": {"name": "pixels", "shape": ["N", 1, 8, 8], "dtype": "f32"},
            "checks": {"minAccuracy": 0.9}}"#,
    );
    let limits = Limits { latency_budget: Duration::from_millis(1), ..Limits::default() };
    let mut rng = Rng(0x0BAD_5EED_0000_0016);
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for i in 0..iterations() / 3 {
        repo.write("data.npz", mutate(&mut rng, &original));
        let model = ModelRef { path: "model.onnx".into(), sha256: None };
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            validate(repo.root(), &model, &spec, None, &limits)
        }));
        let Ok(result) = result else { panic!("mutation {i} panicked") };
        if let Err(e) = &result {
            assert!(e.to_string().starts_with("data.npz"), "mutation {i}: {e}");
        }
        let kind = match &result {
            Ok(_) => "report",
            Err(ValidationError::DatasetFile { .. }) => "error: file",
            Err(ValidationError::DatasetArray { .. }) => "error: array",
            Err(_) => "error: other",
        };
        *outcomes.entry(kind).or_default() += 1;
    }
    eprintln!("outcomes of npz mutations: {outcomes:#?}");
    assert!(outcomes.contains_key("error: array") || outcomes.contains_key("error: file"));
}
