//! Comparing the spec's declared input/output contract with what the model file declares.
//!
//! A mismatch is a failed check (the model is not what the pipeline expects), not an error.

use crate::proto::{ModelDim, Signature, TensorInfo, elem_type_name};
use crate::spec::{DType, DimSpec, OutputContract, TensorContract, dims_text};

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

/// Checks every declared input against the model; on success, the model's input name for each
/// declared input (in the spec's order). `csv_width` is the CSV's feature-column count.
pub(crate) fn check_inputs(
    sig: &Signature,
    declared: &[&TensorContract],
    csv_width: Option<usize>,
    naming: Naming,
) -> (ContractLine, Option<Vec<String>>) {
    let threshold = declared.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    let mut bound: Vec<&TensorInfo> = Vec::new();
    let mut problems = Vec::new();
    let mut details = Vec::new();
    for spec in declared {
        let found = sig.inputs.iter().find(|i| i.name == spec.name).or_else(|| match naming {
            Naming::Lenient if sig.inputs.len() == 1 && declared.len() == 1 => sig.inputs.first(),
            _ => None,
        });
        let Some(info) = found else {
            problems.push(format!(
                "the model has no input named `{}`; its inputs: {}",
                spec.name,
                list(&sig.inputs)
            ));
            continue;
        };
        if info.name != spec.name {
            details.push(format!(
                "baseline input `{}` accepted in place of `{}`",
                info.name, spec.name
            ));
        }
        problems.extend(tensor_mismatches(info, Some(&spec.shape), Some(spec.dtype)));
        if let Some(features) = csv_width {
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
        }
        bound.push(info);
    }
    let measured = if bound.len() == declared.len() && !bound.is_empty() {
        bound.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    } else {
        list(&sig.inputs)
    };
    if problems.is_empty() {
        let extra: Vec<String> = sig
            .inputs
            .iter()
            .filter(|i| !bound.iter().any(|b| b.name == i.name))
            .map(ToString::to_string)
            .collect();
        if !extra.is_empty() {
            problems.push(format!(
                "the model has further inputs the dataset cannot feed: {}; declare them in `inputs`",
                extra.join("; ")
            ));
        }
    }
    if problems.is_empty() {
        let names = bound.iter().map(|i| i.name.clone()).collect();
        (ContractLine { measured, threshold, pass: true, detail: details.join("; ") }, Some(names))
    } else {
        (fail(measured, threshold, problems.join("; ")), None)
    }
}

/// The model output the metric checks use: `checks.output`, else the first declared output,
/// else the model's first float output. `Err` says why none fits.
pub(crate) fn metric_output(
    sig: &Signature,
    wanted: Option<&str>,
    naming: Naming,
) -> Result<String, NoMetricOutput> {
    if let Some(name) = wanted {
        if sig.outputs.iter().any(|o| o.name == name) {
            return Ok(name.to_owned());
        }
        if naming == Naming::Lenient
            && let [only] = sig.outputs.as_slice()
        {
            return Ok(only.name.clone());
        }
        return Err(NoMetricOutput::Missing { name: name.to_owned(), outputs: list(&sig.outputs) });
    }
    sig.outputs
        .iter()
        .find(|o| o.elem_type.is_some_and(|t| t == 1 || t == 10 || t == 11))
        .map(|o| o.name.clone())
        .ok_or(NoMetricOutput::NoFloat)
}

/// Why no model output can carry the metric checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NoMetricOutput {
    #[error("the model has no output named `{name}`; its outputs: {outputs}")]
    Missing { name: String, outputs: String },
    #[error("the model has no float output; name the output to check in `output`")]
    NoFloat,
}

/// Checks the declared outputs; on success, the model's name for each (spec order). With no
/// declared output, `metric` (the output the metrics use) is reported instead.
pub(crate) fn check_outputs(
    sig: &Signature,
    declared: &[&OutputContract],
    metric: &Result<String, NoMetricOutput>,
    naming: Naming,
) -> (ContractLine, Option<Vec<String>>) {
    if declared.is_empty() {
        let threshold = "first float output".to_owned();
        return match metric {
            Ok(name) => {
                let info = sig.outputs.iter().find(|o| &o.name == name);
                (
                    ContractLine {
                        measured: info.map_or_else(|| name.clone(), ToString::to_string),
                        threshold,
                        pass: true,
                        detail: format!("output `{name}` chosen as the first float output"),
                    },
                    Some(Vec::new()),
                )
            }
            Err(why) => (fail(list(&sig.outputs), threshold, why.to_string()), None),
        };
    }
    let threshold = declared.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    let mut problems = Vec::new();
    let mut bound: Vec<&TensorInfo> = Vec::new();
    for spec in declared {
        let found = sig.outputs.iter().find(|o| o.name == spec.name).or_else(|| match naming {
            Naming::Lenient => spec
                .dtype
                .and_then(|d| sig.outputs.iter().find(|o| o.elem_type == Some(d.onnx_code()))),
            Naming::Strict => None,
        });
        let Some(info) = found else {
            problems.push(format!(
                "the model has no output named `{}`; its outputs: {}",
                spec.name,
                list(&sig.outputs)
            ));
            continue;
        };
        problems.extend(tensor_mismatches(info, spec.shape.as_deref(), spec.dtype));
        bound.push(info);
    }
    if let Err(why) = metric {
        problems.push(why.to_string());
    }
    let measured = if bound.len() == declared.len() {
        bound.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    } else {
        list(&sig.outputs)
    };
    if problems.is_empty() {
        let names = bound.iter().map(|o| o.name.clone()).collect();
        (ContractLine { measured, threshold, pass: true, detail: String::new() }, Some(names))
    } else {
        (fail(measured, threshold, problems.join("; ")), None)
    }
}

fn tensor_mismatches(
    info: &TensorInfo,
    shape: Option<&[DimSpec]>,
    dtype: Option<DType>,
) -> Vec<String> {
    let mut problems = Vec::new();
    match (info.elem_type, dtype) {
        (Some(code), Some(d)) if code != d.onnx_code() => problems.push(format!(
            "`{}` is {} but the spec declares {d}",
            info.name,
            elem_type_name(code),
        )),
        _ => {}
    }
    let (Some(dims), Some(shape)) = (&info.shape, shape) else {
        return problems;
    };
    if dims.len() != shape.len() {
        problems.push(format!(
            "`{}` has rank {} but the spec declares rank {} ({})",
            info.name,
            dims.len(),
            shape.len(),
            dims_text(shape)
        ));
        return problems;
    }
    for (i, (model, declared)) in dims.iter().zip(shape).enumerate() {
        match (model, declared) {
            (ModelDim::Fixed(m), DimSpec::Fixed(d)) if u64::try_from(*m).ok() != Some(*d) => {
                problems.push(format!("dimension {i} is {m} in the model but {d} in the spec"));
            }
            (ModelDim::Fixed(m), DimSpec::Symbol(s)) if i == 0 => problems.push(format!(
                "dimension {i} is fixed to {m} in the model but the spec declares it symbolic `{s}`; \
                 declare {m} to validate one batch of {m} rows at a time"
            )),
            (ModelDim::Fixed(m), DimSpec::Symbol(s)) => problems.push(format!(
                "dimension {i} is fixed to {m} in the model but the spec declares it symbolic `{s}`; \
                 declare {m}"
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
