//! Reading the ONNX protobuf before tract sees it.
//!
//! tract reports unsupported operators only deep inside analysis, and panics on some malformed
//! graphs (an output naming a tensor nothing produces). Checking those things on the protobuf
//! first gives errors that name the operator or tensor, and keeps panics for the truly odd cases.

use std::collections::HashSet;

use prost::Message;
use tract_onnx::pb;

use crate::error::ValidationError;

/// One dimension as the model file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModelDim {
    Fixed(i64),
    Param(String),
    Unknown,
}

/// Name, element type and shape of a graph input or output, as declared in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TensorInfo {
    pub name: String,
    /// ONNX `DataType` code; `None` when the file does not say.
    pub elem_type: Option<i32>,
    /// `None` when the file declares no shape (rank unknown).
    pub shape: Option<Vec<ModelDim>>,
}

impl std::fmt::Display for TensorInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dtype = self.elem_type.map_or("?", elem_type_name);
        write!(f, "{} {dtype} ", self.name)?;
        match &self.shape {
            None => f.write_str("[?]"),
            Some(dims) => {
                f.write_str("[")?;
                for (i, d) in dims.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match d {
                        ModelDim::Fixed(n) => write!(f, "{n}")?,
                        ModelDim::Param(p) => f.write_str(p)?,
                        ModelDim::Unknown => f.write_str("?")?,
                    }
                }
                f.write_str("]")
            }
        }
    }
}

/// The model's feedable inputs (initializers excluded) and outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signature {
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
}

pub(crate) fn elem_type_name(code: i32) -> &'static str {
    match code {
        1 => "f32",
        2 => "u8",
        3 => "i8",
        4 => "u16",
        5 => "i16",
        6 => "i32",
        7 => "i64",
        8 => "string",
        9 => "bool",
        10 => "f16",
        11 => "f64",
        12 => "u32",
        13 => "u64",
        16 => "bf16",
        _ => "unknown",
    }
}

fn elem_size(code: i32) -> u64 {
    match code {
        11 | 7 | 13 => 8,
        1 | 6 | 12 => 4,
        4 | 5 | 10 | 16 => 2,
        _ => 1,
    }
}

/// Decodes the protobuf and insists on the minimum that makes it a model.
pub(crate) fn decode(file: &str, bytes: &[u8]) -> Result<pb::ModelProto, ValidationError> {
    let not_onnx = |reason: String| ValidationError::NotOnnx { file: file.to_owned(), reason };
    if bytes.is_empty() {
        return Err(not_onnx("the file is empty".into()));
    }
    let model = pb::ModelProto::decode(bytes)
        .map_err(|e| not_onnx(format!("protobuf decoding failed: {e}")))?;
    // Protobuf is permissive: many byte strings decode to a message of unknown fields. A model
    // has a graph with at least one output.
    let Some(graph) = &model.graph else {
        return Err(not_onnx("no graph in the file".into()));
    };
    if graph.output.is_empty() {
        return Err(not_onnx("the graph declares no outputs".into()));
    }
    Ok(model)
}

/// Refuses what tract would choke on, with errors that name the culprit: unknown operators,
/// external tensor data, graph outputs that nothing produces, tensors declaring more data than
/// the file could hold.
pub(crate) fn preflight(
    file: &str,
    model: &pb::ModelProto,
    known_ops: &dyn Fn(&str) -> bool,
    max_bytes: u64,
) -> Result<(), ValidationError> {
    let Some(graph) = &model.graph else {
        return Err(ValidationError::NotOnnx {
            file: file.to_owned(),
            reason: "no graph in the file".into(),
        });
    };
    check_graph(file, graph, known_ops, max_bytes, 0)?;
    let mut produced: HashSet<&str> = graph.input.iter().map(|i| i.name.as_str()).collect();
    produced.extend(graph.initializer.iter().map(|t| t.name.as_str()));
    for node in &graph.node {
        produced.extend(node.output.iter().map(String::as_str));
    }
    for output in &graph.output {
        if !produced.contains(output.name.as_str()) {
            return Err(ValidationError::InvalidModel {
                file: file.to_owned(),
                reason: format!(
                    "graph output `{}` is not produced by any node, input or initializer",
                    output.name
                ),
            });
        }
    }
    Ok(())
}

const MAX_SUBGRAPH_DEPTH: usize = 32;

fn check_graph(
    file: &str,
    graph: &pb::GraphProto,
    known_ops: &dyn Fn(&str) -> bool,
    max_bytes: u64,
    depth: usize,
) -> Result<(), ValidationError> {
    let invalid = |reason: String| ValidationError::InvalidModel { file: file.to_owned(), reason };
    if depth > MAX_SUBGRAPH_DEPTH {
        return Err(invalid(format!("subgraphs nested deeper than {MAX_SUBGRAPH_DEPTH} levels")));
    }
    for tensor in &graph.initializer {
        check_tensor(file, tensor, max_bytes)?;
    }
    for node in &graph.node {
        if !known_ops(&node.op_type) {
            return Err(ValidationError::UnsupportedOperator {
                file: file.to_owned(),
                op: if node.domain.is_empty() || node.domain == "ai.onnx" {
                    node.op_type.clone()
                } else {
                    format!("{}.{}", node.domain, node.op_type)
                },
                node: if node.name.is_empty() {
                    node.output.first().cloned().unwrap_or_default()
                } else {
                    node.name.clone()
                },
            });
        }
        for attr in &node.attribute {
            for tensor in attr.t.iter().chain(&attr.tensors) {
                check_tensor(file, tensor, max_bytes)?;
            }
            for sub in attr.g.iter().chain(&attr.graphs) {
                check_graph(file, sub, known_ops, max_bytes, depth + 1)?;
            }
        }
    }
    Ok(())
}

fn check_tensor(
    file: &str,
    tensor: &pb::TensorProto,
    max_bytes: u64,
) -> Result<(), ValidationError> {
    let invalid = |reason: String| ValidationError::InvalidModel { file: file.to_owned(), reason };
    if !tensor.external_data.is_empty() || tensor.data_location == Some(1) {
        return Err(invalid(format!(
            "tensor `{}` keeps its data in an external file; save the model with the weights \
             embedded (onnx.save(..., save_as_external_data=False))",
            tensor.name
        )));
    }
    let mut bytes = elem_size(tensor.data_type);
    for &d in &tensor.dims {
        let d = u64::try_from(d).map_err(|_| {
            invalid(format!("tensor `{}` has a negative dimension {d}", tensor.name))
        })?;
        bytes = bytes.saturating_mul(d);
    }
    // Embedded data cannot exceed the file, so a larger declared size is corrupt; refusing it
    // also keeps tract from trying a huge allocation (which would abort, not panic).
    if bytes > max_bytes {
        return Err(invalid(format!(
            "tensor `{}` declares {bytes} bytes of data, more than the file can hold",
            tensor.name
        )));
    }
    Ok(())
}

pub(crate) fn signature(model: &pb::ModelProto) -> Signature {
    let Some(graph) = &model.graph else {
        return Signature { inputs: vec![], outputs: vec![] };
    };
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    Signature {
        inputs: graph
            .input
            .iter()
            .filter(|i| !initializers.contains(i.name.as_str()))
            .map(tensor_info)
            .collect(),
        outputs: graph.output.iter().map(tensor_info).collect(),
    }
}

fn tensor_info(value: &pb::ValueInfoProto) -> TensorInfo {
    let tensor = value.r#type.as_ref().and_then(|t| t.value.as_ref()).map(|v| match v {
        pb::type_proto::Value::TensorType(t) => t,
    });
    let elem_type = tensor.map(|t| t.elem_type).filter(|&t| t != 0);
    let shape = tensor.and_then(|t| t.shape.as_ref()).map(|s| {
        s.dim
            .iter()
            .map(|d| match &d.value {
                Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) if *v > 0 => {
                    ModelDim::Fixed(*v)
                }
                Some(pb::tensor_shape_proto::dimension::Value::DimParam(p)) if !p.is_empty() => {
                    ModelDim::Param(p.clone())
                }
                _ => ModelDim::Unknown,
            })
            .collect()
    });
    TensorInfo { name: value.name.clone(), elem_type, shape }
}
