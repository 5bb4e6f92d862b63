//! Test helpers: tiny ONNX graphs built in Rust (no Python), a throwaway repository, specs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use coxswain_model::{ModelRef, ValidationSpec};
use prost::Message;
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};

pub const F32: i32 = 1;
pub const I64: i32 = 7;

/// A declared dimension in a synthetic model.
#[derive(Clone, Copy)]
pub enum D {
    Sym(&'static str),
    N(i64),
}

pub fn value_info(name: &str, elem_type: i32, dims: &[D]) -> pb::ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            denotation: String::new(),
            value: Some(match d {
                D::Sym(s) => dimension::Value::DimParam((*s).to_owned()),
                D::N(n) => dimension::Value::DimValue(*n),
            }),
        })
        .collect();
    pb::ValueInfoProto {
        name: name.to_owned(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
        }),
        doc_string: String::new(),
    }
}

pub fn f32_tensor(name: &str, dims: &[i64], values: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.to_owned(),
        data_type: F32,
        dims: dims.to_vec(),
        float_data: values.to_vec(),
        ..Default::default()
    }
}

pub fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.to_owned(),
        name: format!("{op}_{}", outputs.first().copied().unwrap_or("x")),
        input: inputs.iter().map(|s| (*s).to_owned()).collect(),
        output: outputs.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

pub fn model(graph: pb::GraphProto) -> Vec<u8> {
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 17 }],
        producer_name: "coxswain-model tests".into(),
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

/// `probabilities = Softmax(float_input · W)` with W picking features 0..3 as class scores, so
/// the predicted class is the arg-max of the first three features.
pub fn linear_graph(input_dims: &[D], output_dims: &[D]) -> pb::GraphProto {
    let w: Vec<f32> = vec![
        1.0, 0.0, 0.0, //
        0.0, 1.0, 0.0, //
        0.0, 0.0, 1.0, //
        0.0, 0.0, 0.0,
    ];
    pb::GraphProto {
        name: "linear".into(),
        node: vec![
            node("MatMul", &["float_input", "W"], &["scores"]),
            node("Softmax", &["scores"], &["probabilities"]),
        ],
        initializer: vec![f32_tensor("W", &[4, 3], &w)],
        input: vec![value_info("float_input", F32, input_dims)],
        output: vec![value_info("probabilities", F32, output_dims)],
        ..Default::default()
    }
}

pub fn linear_model() -> Vec<u8> {
    model(linear_graph(&[D::Sym("N"), D::N(4)], &[D::Sym("N"), D::N(3)]))
}

/// `y = x · w` for regression: one output value per row.
pub fn regression_model(w: [f32; 2]) -> Vec<u8> {
    model(pb::GraphProto {
        name: "regression".into(),
        node: vec![node("MatMul", &["x", "w"], &["y"])],
        initializer: vec![f32_tensor("w", &[2, 1], &w)],
        input: vec![value_info("x", F32, &[D::Sym("N"), D::N(2)])],
        output: vec![value_info("y", F32, &[D::Sym("N"), D::N(1)])],
        ..Default::default()
    })
}

/// A throwaway repository root with files written relative to it.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        Repo { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, bytes).expect("write");
        path
    }
}

/// Rows whose class is the arg-max of the first three features (what `linear_model` predicts).
pub const SIMPLE_CSV: &str = "a,b,c,d,species\n\
    5,1,1,0,0\n\
    1,5,1,0,1\n\
    1,1,5,0,2\n\
    2,1,0,9,0\n";

pub fn spec(json: &str) -> ValidationSpec {
    serde_json::from_str(json).expect("spec JSON")
}

/// The spec for `linear_model` + `SIMPLE_CSV` written at `data.csv`.
pub fn simple_spec() -> ValidationSpec {
    spec(
        r#"{"dataset": "data.csv", "labelColumn": "species",
            "input": {"name": "float_input", "shape": ["N", 4], "dtype": "f32"},
            "checks": {"minAccuracy": 0.9}}"#,
    )
}

pub fn model_ref(path: &str) -> ModelRef {
    ModelRef { path: path.to_owned(), sha256: None }
}

/// The workspace root, where the bundled `models/` live.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The spec the bundled iris models are validated with (as a pipeline would declare it).
pub fn iris_spec() -> ValidationSpec {
    spec(
        r#"{"dataset": "models/iris/validation.csv", "labelColumn": "species",
            "input": {"name": "float_input", "shape": ["N", 4], "dtype": "f32"},
            "output": {"name": "probabilities", "shape": ["N", 3], "dtype": "f32"},
            "checks": {"minAccuracy": 0.9, "tolerance": 1e-4, "maxRegression": 0.01,
                       "latencyMs": {"p50": 1000, "batch": 1}}}"#,
    )
}
