//! Comparing the spec's declared input/output contract with what the model file declares.
//!
//! A mismatch is a failed check (the model is not what the pipeline expects), not an error.

use crate::proto::{ModelDim, Signature, TensorInfo, elem_type_name};
use crate::spec::{DimSpec, TensorContract};

/// The verdict on one side of the contract, ready to become a report check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ContractLine {
    pub measured: String,
    pub threshold: String,
    pub pass: bool,
    pub detail: String,
}

/// How strictly names are matched: the candidate must match the spec; a baseline (the model the
/// target environment serves now) may predate a rename, so its sole input is accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Naming {
    Strict,
    Lenient,
}

/// What the run needs from a passed input check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputBinding {
    pub name: String,
}

pub(crate) fn check_input(
    sig: &Signature,
    spec: &TensorContract,
    features: usize,
    naming: Naming,
) -> (ContractLine, Option<InputBinding>) {
    let threshold = spec.to_string();
    let found = sig.inputs.iter().find(|i| i.name == spec.name).or_else(|| match naming {
        Naming::Lenient if sig.inputs.len() == 1 => sig.inputs.first(),
        _ => None,
    });
    let Some(info) = found else {
        return (
            fail(
                list(&sig.inputs),
                threshold,
                format!(
                    "the model has no input named `{}`; its inputs: {}",
                    spec.name,
                    list(&sig.inputs)
                ),
            ),
            None,
        );
    };
    let measured = info.to_string();
    let extra: Vec<&TensorInfo> = sig.inputs.iter().filter(|i| i.name != info.name).collect();
    if !extra.is_empty() {
        let names: Vec<String> = extra.iter().map(ToString::to_string).collect();
        return (
            fail(
                measured,
                threshold,
                format!(
                    "the model has further inputs the dataset cannot feed: {}",
                    names.join("; ")
                ),
            ),
            None,
        );
    }
    let mut problems = tensor_mismatches(info, spec);
    let per_row: u64 = spec
        .shape
        .iter()
        .skip(1)
        .map(|d| match d {
            DimSpec::Fixed(n) => *n,
            DimSpec::Symbol(_) => 1,
        })
        .product();
    if per_row != features as u64 {
        problems.push(format!(
            "the dataset has {features} feature column(s) but shape {} takes {per_row} value(s) per row",
            dims_text(&spec.shape)
        ));
    }
    if problems.is_empty() {
        let mut detail = String::new();
        if info.name != spec.name {
            detail = format!("baseline input `{}` accepted in place of `{}`", info.name, spec.name);
        }
        (
            ContractLine { measured, threshold, pass: true, detail },
            Some(InputBinding { name: info.name.clone() }),
        )
    } else {
        (fail(measured, threshold, problems.join("; ")), None)
    }
}

/// Picks the output to evaluate: the named one, or the first float output.
pub(crate) fn check_output(
    sig: &Signature,
    spec: Option<&TensorContract>,
    naming: Naming,
) -> (ContractLine, Option<String>) {
    let Some(spec) = spec else {
        let threshold = "first float output".to_owned();
        return match sig.outputs.iter().find(|o| o.elem_type.is_some_and(|t| t == 1 || t == 11)) {
            Some(o) => (
                ContractLine {
                    measured: o.to_string(),
                    threshold,
                    pass: true,
                    detail: format!("output `{}` chosen as the first float output", o.name),
                },
                Some(o.name.clone()),
            ),
            None => (
                fail(
                    list(&sig.outputs),
                    threshold,
                    "the model has no float output; name the output to check in `output`".into(),
                ),
                None,
            ),
        };
    };
    let threshold = spec.to_string();
    let found = sig.outputs.iter().find(|o| o.name == spec.name).or_else(|| match naming {
        Naming::Lenient => sig.outputs.iter().find(|o| o.elem_type == Some(spec.dtype.onnx_code())),
        Naming::Strict => None,
    });
    let Some(info) = found else {
        return (
            fail(
                list(&sig.outputs),
                threshold,
                format!(
                    "the model has no output named `{}`; its outputs: {}",
                    spec.name,
                    list(&sig.outputs)
                ),
            ),
            None,
        );
    };
    let problems = tensor_mismatches(info, spec);
    if problems.is_empty() {
        (
            ContractLine {
                measured: info.to_string(),
                threshold,
                pass: true,
                detail: String::new(),
            },
            Some(info.name.clone()),
        )
    } else {
        (fail(info.to_string(), threshold, problems.join("; ")), None)
    }
}

fn tensor_mismatches(info: &TensorInfo, spec: &TensorContract) -> Vec<String> {
    let mut problems = Vec::new();
    match info.elem_type {
        Some(code) if code == spec.dtype.onnx_code() => {}
        Some(code) => problems.push(format!(
            "`{}` is {} but the spec declares {}",
            info.name,
            elem_type_name(code),
            spec.dtype
        )),
        None => {}
    }
    let Some(dims) = &info.shape else {
        return problems;
    };
    if dims.len() != spec.shape.len() {
        problems.push(format!(
            "`{}` has rank {} but the spec declares rank {} ({})",
            info.name,
            dims.len(),
            spec.shape.len(),
            dims_text(&spec.shape)
        ));
        return problems;
    }
    for (i, (model, declared)) in dims.iter().zip(&spec.shape).enumerate() {
        match (model, declared) {
            (ModelDim::Fixed(m), DimSpec::Fixed(d)) if u64::try_from(*m).ok() != Some(*d) => {
                problems.push(format!("dimension {i} is {m} in the model but {d} in the spec"));
            }
            (ModelDim::Fixed(m), DimSpec::Symbol(s)) => problems.push(format!(
                "dimension {i} is fixed to {m} in the model but the spec declares it symbolic `{s}`; \
                 declare {m} to validate one batch of {m} rows at a time"
            )),
            _ => {}
        }
    }
    problems
}

fn fail(measured: String, threshold: String, detail: String) -> ContractLine {
    ContractLine { measured, threshold, pass: false, detail }
}

fn list(infos: &[TensorInfo]) -> String {
    if infos.is_empty() {
        return "(none)".into();
    }
    infos.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

fn dims_text(dims: &[DimSpec]) -> String {
    let inner: Vec<String> = dims.iter().map(ToString::to_string).collect();
    format!("[{}]", inner.join(", "))
}
