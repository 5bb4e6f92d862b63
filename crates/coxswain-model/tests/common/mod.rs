//! Test helpers: tiny ONNX graphs built in Rust (no Python), a throwaway repository, specs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use coxswain_model::{Limits, ModelRef, ValidationError, ValidationReport, ValidationSpec};
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

// ---- tensor datasets ----

/// A `.npy` file image as `np.save` writes it.
pub fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let shape =
        if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend(u16::try_from(header.len()).unwrap().to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

pub fn f32_npy(shape: &[usize], values: &[f32]) -> Vec<u8> {
    npy("<f4", shape, &values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>())
}

pub fn i64_npy(shape: &[usize], values: &[i64]) -> Vec<u8> {
    npy("<i8", shape, &values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>())
}

/// A `.npz` bundle: `NAME.npy` entries, deflated (`np.savez_compressed`) or stored (`np.savez`).
pub fn npz(entries: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
    use std::io::Write as _;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method =
        if deflate { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in entries {
        zip.start_file(format!("{name}.npy"), options).expect("zip entry");
        zip.write_all(bytes).expect("zip write");
    }
    zip.finish().expect("zip finish").into_inner()
}

/// `probabilities = Softmax((b + ReduceSum(Cast(a), axis 1)) · W)`: two inputs, `a` integer
/// tokens `[N, T]` (T symbolic) and `b` features `[N, 4]`. The sum shifts every score equally,
/// so the prediction is the arg-max of b's first three features.
pub fn two_input_model(a_type: i32) -> Vec<u8> {
    let w: Vec<f32> = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0];
    let mut cast = node("Cast", &["a"], &["a_f"]);
    cast.attribute.push(pb::AttributeProto {
        name: "to".into(),
        i: i64::from(F32),
        r#type: 2,
        ..Default::default()
    });
    let mut sum = node("ReduceSum", &["a_f", "axes"], &["a_sum"]);
    sum.attribute.push(pb::AttributeProto {
        name: "keepdims".into(),
        i: 1,
        r#type: 2,
        ..Default::default()
    });
    model(pb::GraphProto {
        name: "two_inputs".into(),
        node: vec![
            cast,
            sum,
            node("Add", &["b", "a_sum"], &["shifted"]),
            node("MatMul", &["shifted", "W"], &["scores"]),
            node("Softmax", &["scores"], &["probabilities"]),
        ],
        initializer: vec![
            f32_tensor("W", &[4, 3], &w),
            pb::TensorProto {
                name: "axes".into(),
                data_type: I64,
                dims: vec![1],
                int64_data: vec![1],
                ..Default::default()
            },
        ],
        input: vec![
            value_info("a", a_type, &[D::Sym("N"), D::Sym("T")]),
            value_info("b", F32, &[D::Sym("N"), D::N(4)]),
        ],
        output: vec![value_info("probabilities", F32, &[D::Sym("N"), D::N(3)])],
        ..Default::default()
    })
}

/// Softmax over each row, in f64.
pub fn softmax_rows(scores: &[f64], width: usize) -> Vec<f64> {
    scores
        .chunks(width)
        .flat_map(|row| {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let exps: Vec<f64> = row.iter().map(|v| (v - max).exp()).collect();
            let sum: f64 = exps.iter().sum();
            exps.into_iter().map(move |e| e / sum)
        })
        .collect()
}

fn int_attr(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), i, r#type: 2, ..Default::default() }
}

fn i64_tensor(name: &str, values: &[i64]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.to_owned(),
        data_type: I64,
        dims: vec![i64::try_from(values.len()).unwrap()],
        int64_data: values.to_vec(),
        ..Default::default()
    }
}

/// The linear classifier with the batch size computed at run time, as exporters of dynamic
/// graphs write it: `Shape → Cast(f32) → Cast(i64) → Gather(0)` gives N, then `Reshape(x,
/// [N, 2, 2])`, `Reshape(·, [N, 4])`, `Expand(·, [N, 4])`. The float round trip hides N from
/// tract's symbolic shape arithmetic, so the shapes are only known once N is a number.
pub fn dynamic_batch_model() -> Vec<u8> {
    let mut to_f = node("Cast", &["shape"], &["shape_f"]);
    to_f.attribute.push(int_attr("to", i64::from(F32)));
    let mut to_i = node("Cast", &["shape_f"], &["shape_i"]);
    to_i.attribute.push(int_attr("to", i64::from(I64)));
    let mut gather = node("Gather", &["shape_i", "zero"], &["n"]);
    gather.attribute.push(int_attr("axis", 0));
    let mut cat3 = node("Concat", &["n", "two_two"], &["shape3"]);
    cat3.attribute.push(int_attr("axis", 0));
    let mut cat2 = node("Concat", &["n", "four"], &["shape2"]);
    cat2.attribute.push(int_attr("axis", 0));
    let w: Vec<f32> = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0];
    model(pb::GraphProto {
        name: "dynamic_batch".into(),
        node: vec![
            node("Shape", &["float_input"], &["shape"]),
            to_f,
            to_i,
            gather,
            cat3,
            cat2,
            node("Reshape", &["float_input", "shape3"], &["x3"]),
            node("Reshape", &["x3", "shape2"], &["x2"]),
            node("Expand", &["x2", "shape2"], &["x"]),
            node("MatMul", &["x", "W"], &["scores"]),
            node("Softmax", &["scores"], &["probabilities"]),
        ],
        initializer: vec![
            f32_tensor("W", &[4, 3], &w),
            i64_tensor("zero", &[0]),
            i64_tensor("two_two", &[2, 2]),
            i64_tensor("four", &[4]),
        ],
        input: vec![value_info("float_input", F32, &[D::Sym("N"), D::N(4)])],
        output: vec![value_info("probabilities", F32, &[D::Sym("N"), D::N(3)])],
        ..Default::default()
    })
}

/// Validates `model_path` in `repo` with default limits and no baseline.
pub fn run(
    repo: &Repo,
    model_path: &str,
    spec: &ValidationSpec,
) -> Result<ValidationReport, ValidationError> {
    coxswain_model::validate(repo.root(), &model_ref(model_path), spec, None, &Limits::default())
}

/// The report's check named `name`; panics with the table when it is missing.
pub fn check<'a>(report: &'a ValidationReport, name: &str) -> &'a coxswain_model::Check {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {:#?}", report.checks))
}
