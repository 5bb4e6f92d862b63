//! The validation dataset: a numeric CSV with a header row (tabular models), or named arrays in
//! a `.npz` bundle or a folder of `.npy` files (any model: several inputs, images, token ids).
//!
//! CSV goes through the `csv` crate, so quoted fields (a header name with a comma in it), CRLF
//! line ends and a byte-order mark read the way spreadsheets write them; each record's position
//! keeps every error naming the line and column a reviewer has to fix. Array datasets
//! are checked against the spec's inputs here, before any model runs, so a wrong array name,
//! dtype or shape is an error that names the array; their rows are streamed later (arrays.rs).

use std::collections::BTreeMap;

use crate::arrays::{self, ArrayInfo};
use crate::error::ValidationError;
use crate::paths::Base;
use crate::spec::{DimSpec, Limits, Task, TensorContract, ValidationSpec};

/// The rows the model is run on, the labels, and any further arrays (golden outputs).
#[derive(Debug, Clone)]
pub(crate) struct Dataset {
    pub file: String,
    pub rows: usize,
    /// One array per declared input, in the spec's order.
    pub inputs: Vec<ArrayInfo>,
    pub labels: Option<Vec<f64>>,
    /// Arrays that are neither inputs nor labels (golden outputs named like model outputs).
    pub extra: Vec<ArrayInfo>,
    /// CSV only: the number of feature columns (the contract check compares it with the shape).
    pub csv_width: Option<usize>,
}

/// Reads the dataset the spec names and checks it against the declared inputs.
pub(crate) fn load(
    base: &Base,
    spec: &ValidationSpec,
    limits: &Limits,
) -> Result<Dataset, ValidationError> {
    let file = spec.dataset.as_str();
    if has_extension(file, "csv") {
        return load_csv(base, spec, limits);
    }
    let path = base.resolve(file)?;
    let arrays = if has_extension(file, "npz") {
        arrays::open_npz(&path, file)?
    } else if path.is_dir() {
        arrays::open_npy_dir(&path, file)?
    } else {
        return Err(ValidationError::UnsupportedDataset { file: file.to_owned() });
    };
    from_arrays(file, arrays, spec, limits)
}

/// Whether `file` ends in `.ext`, in any case.
pub(crate) fn has_extension(file: &str, ext: &str) -> bool {
    std::path::Path::new(file).extension().is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

fn load_csv(
    base: &Base,
    spec: &ValidationSpec,
    limits: &Limits,
) -> Result<Dataset, ValidationError> {
    let file = spec.dataset.as_str();
    let inputs = spec.input_contracts();
    let [input] = inputs.as_slice() else {
        return Err(ValidationError::InvalidSpec {
            field: "inputs".into(),
            reason: format!(
                "a CSV dataset feeds one input; {file} cannot feed {} — use a .npz bundle",
                inputs.len()
            ),
        });
    };
    if let Some(d) = input.shape.iter().skip(1).find(|d| matches!(d, DimSpec::Symbol(_))) {
        return Err(ValidationError::InvalidSpec {
            field: "input.shape".into(),
            reason: format!(
                "a CSV row has a fixed number of columns: only the batch dimension may be symbolic (found `{d}`); use a .npz bundle for variable sizes"
            ),
        });
    }
    let Some(label_column) = spec.label_column.as_deref() else {
        return Err(ValidationError::InvalidSpec {
            field: "labelColumn".into(),
            reason: "a CSV dataset needs its label column named".into(),
        });
    };
    let bytes = base.read_capped(file, limits.max_model_bytes)?;
    let text = String::from_utf8(bytes).map_err(|e| ValidationError::DatasetCell {
        file: file.to_owned(),
        line: 1 + e
            .as_bytes()
            .iter()
            .take(e.utf8_error().valid_up_to())
            .filter(|b| **b == b'\n')
            .count(),
        column: "(any)".into(),
        reason: "the file is not UTF-8 text".into(),
    })?;
    let csv = parse_csv(file, &text, label_column, spec.task())?;
    let rows = csv.rows();
    let width = csv.width();
    let dtype = input.dtype.npy();
    let mut bytes = Vec::with_capacity(csv.features.len() * dtype.size());
    for v in &csv.features {
        dtype.push_f64(*v, &mut bytes);
    }
    // The declared row shape when the column count fits it (the contract check reports a
    // mismatch), else one flat row.
    let declared: Vec<usize> = input
        .shape
        .iter()
        .skip(1)
        .map(|d| match d {
            DimSpec::Fixed(n) => usize::try_from(*n).unwrap_or(usize::MAX),
            DimSpec::Symbol(_) => 1,
        })
        .collect();
    let mut shape = vec![rows];
    if declared.iter().product::<usize>() == width {
        shape.extend(declared);
    } else {
        shape.push(width);
    }
    Ok(Dataset {
        file: file.to_owned(),
        rows,
        inputs: vec![ArrayInfo::memory(&input.name, file, dtype, shape, bytes)],
        labels: Some(csv.labels),
        extra: Vec::new(),
        csv_width: Some(width),
    })
}

/// Matches the arrays to the declared inputs and labels; errors name the array.
fn from_arrays(
    file: &str,
    arrays: Vec<ArrayInfo>,
    spec: &ValidationSpec,
    limits: &Limits,
) -> Result<Dataset, ValidationError> {
    let names = || arrays.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ");
    let array_error = |array: &str, reason: String| ValidationError::DatasetArray {
        file: file.to_owned(),
        array: array.to_owned(),
        reason,
    };
    let mut inputs = Vec::new();
    let mut symbols: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut rows: Option<(usize, String)> = None;
    let mut agree_rows = |array: &ArrayInfo| -> Result<(), ValidationError> {
        match &rows {
            None => rows = Some((array.rows(), array.name.clone())),
            Some((n, first)) if *n != array.rows() => {
                return Err(array_error(
                    &array.name,
                    format!("has {} rows but array `{first}` has {n}", array.rows()),
                ));
            }
            Some(_) => {}
        }
        Ok(())
    };
    for contract in spec.input_contracts() {
        let Some(array) = arrays.iter().find(|a| a.name == contract.name) else {
            return Err(array_error(
                &contract.name,
                format!(
                    "missing: input `{}` is fed from the array of the same name; the bundle has: {}",
                    contract.name,
                    names()
                ),
            ));
        };
        check_array(array, contract, &mut symbols)?;
        agree_rows(array)?;
        inputs.push(array.clone());
    }
    let labels = match spec.label_column.as_deref() {
        None => None,
        Some(name) => {
            let Some(array) = arrays.iter().find(|a| a.name == name) else {
                return Err(array_error(
                    name,
                    format!("missing: labelColumn names it; the bundle has: {}", names()),
                ));
            };
            if array.row_len() != 1 || array.shape.is_empty() {
                return Err(array_error(
                    name,
                    format!(
                        "labels must hold one value per row, shape (rows,) or (rows, 1); found {}",
                        array.shape_text()
                    ),
                ));
            }
            agree_rows(array)?;
            let values = array.read_all_f64(limits.max_model_bytes)?;
            if spec.task() == Task::Classification {
                if array.dtype.is_float()
                    && let Some((i, v)) = values
                        .iter()
                        .enumerate()
                        .find(|(_, v)| !(v.is_finite() && **v >= 0.0 && v.fract() == 0.0))
                {
                    return Err(array_error(
                        name,
                        format!(
                            "element {i} is {v}, not a class id; classification labels are integers ≥ 0"
                        ),
                    ));
                }
                if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| **v < 0.0) {
                    return Err(array_error(
                        name,
                        format!("element {i} is {v}; classification labels are integers ≥ 0"),
                    ));
                }
            } else if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(array_error(name, format!("element {i} is {v}, not a finite number")));
            }
            Some(values)
        }
    };
    let rows = rows.map_or(0, |(n, _)| n);
    if rows == 0 {
        return Err(ValidationError::EmptyDataset { file: file.to_owned() });
    }
    let used: Vec<&str> = spec
        .input_contracts()
        .iter()
        .map(|c| c.name.as_str())
        .chain(spec.label_column.as_deref())
        .collect();
    let extra = arrays.into_iter().filter(|a| !used.contains(&a.name.as_str())).collect();
    Ok(Dataset { file: file.to_owned(), rows, inputs, labels, extra, csv_width: None })
}

/// The array's dtype and shape against the declared input; binds symbolic dimensions.
fn check_array(
    array: &ArrayInfo,
    contract: &TensorContract,
    symbols: &mut BTreeMap<String, (usize, String)>,
) -> Result<(), ValidationError> {
    let error = |reason: String| ValidationError::DatasetArray {
        file: array.file.clone(),
        array: array.name.clone(),
        reason,
    };
    let declared = contract.dtype.npy();
    if array.dtype != declared {
        return Err(error(format!(
            "is {} but input `{}` is declared {}; convert it with .astype(np.{})",
            array.dtype.name(),
            contract.name,
            contract.dtype,
            declared.numpy_name()
        )));
    }
    let shape_error = |detail: String| {
        error(format!(
            "has shape {} but input `{}` is declared {}: {detail}",
            array.shape_text(),
            contract.name,
            crate::spec::dims_text(&contract.shape)
        ))
    };
    if array.shape.len() != contract.shape.len() {
        return Err(shape_error(format!(
            "rank {} instead of {}",
            array.shape.len(),
            contract.shape.len()
        )));
    }
    for (i, (actual, dim)) in array.shape.iter().zip(&contract.shape).enumerate().skip(1) {
        match dim {
            DimSpec::Fixed(n) if *actual as u64 != *n => {
                return Err(shape_error(format!("dimension {i} is {actual}, expected {n}")));
            }
            DimSpec::Fixed(_) => {}
            DimSpec::Symbol(s) => match symbols.get(s) {
                Some((v, other)) if v != actual => {
                    return Err(shape_error(format!(
                        "dimension {i} (`{s}`) is {actual} but it is {v} in array `{other}`"
                    )));
                }
                Some(_) => {}
                None => {
                    symbols.insert(s.clone(), (*actual, array.name.clone()));
                }
            },
        }
    }
    Ok(())
}

/// A parsed CSV: feature rows (row-major) and one label per row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Csv {
    pub feature_names: Vec<String>,
    pub features: Vec<f64>,
    pub labels: Vec<f64>,
}

impl Csv {
    pub fn rows(&self) -> usize {
        self.labels.len()
    }

    pub fn width(&self) -> usize {
        self.feature_names.len()
    }
}

/// Parses `text` (the contents of `file`). Labels must be non-negative integers for
/// classification; any finite number for regression. Blank lines are skipped; the first
/// non-blank record is the header.
pub(crate) fn parse_csv(
    file: &str,
    text: &str,
    label_column: &str,
    task: Task,
) -> Result<Csv, ValidationError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // `flexible`: a row with the wrong number of cells is reported below with both counts,
    // rather than as the crate's generic "found record with N fields".
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut lines = LineCounter::new(text.as_bytes());
    let mut records = reader.records().filter_map(|r| match r {
        Ok(record) if is_blank(&record) => None,
        Ok(record) => {
            let byte = record.position().map_or(0, csv::Position::byte);
            Some(Ok((lines.line_at(usize::try_from(byte).unwrap_or(usize::MAX)), record)))
        }
        Err(e) => {
            let line = e.position().map(|p| lines.line_at(usize::try_from(p.byte()).unwrap_or(0)));
            Some(Err(csv_error(file, line, &e)))
        }
    });
    let header: Vec<String> = match records.next() {
        Some(record) => record?.1.iter().map(str::to_owned).collect(),
        None => return Err(ValidationError::EmptyDataset { file: file.to_owned() }),
    };
    let Some(label_ix) = header.iter().position(|h| h == label_column) else {
        return Err(ValidationError::LabelColumnMissing {
            file: file.to_owned(),
            column: label_column.to_owned(),
            available: header.join(", "),
        });
    };
    let feature_names: Vec<String> =
        header.iter().enumerate().filter(|(i, _)| *i != label_ix).map(|(_, h)| h.clone()).collect();
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for record in records {
        let (line, cells) = record?;
        if cells.len() != header.len() {
            return Err(ValidationError::DatasetColumns {
                file: file.to_owned(),
                line,
                expected: header.len(),
                found: cells.len(),
            });
        }
        for (ix, (raw, name)) in cells.iter().zip(&header).enumerate() {
            let cell_error = |reason: String| ValidationError::DatasetCell {
                file: file.to_owned(),
                line,
                column: name.clone(),
                reason,
            };
            let value: f64 =
                raw.parse().map_err(|_| cell_error(format!("`{raw}` is not a number")))?;
            if !value.is_finite() {
                return Err(cell_error(format!(
                    "`{raw}` is not a finite number; remove or impute missing values"
                )));
            }
            if ix == label_ix {
                if task == Task::Classification
                    && (value < 0.0 || value.fract() != 0.0 || value > f64::from(u32::MAX))
                {
                    return Err(cell_error(format!(
                        "`{raw}` is not a class id; classification labels are integers ≥ 0"
                    )));
                }
                labels.push(value);
            } else {
                features.push(value);
            }
        }
    }
    if labels.is_empty() {
        return Err(ValidationError::EmptyDataset { file: file.to_owned() });
    }
    Ok(Csv { feature_names, features, labels })
}

/// The line a byte offset is on. `csv::Position::line` undercounts line breaks inside quoted
/// fields (csv-core 0.1.13 skips them on its fast path), so lines are counted here from the
/// record's byte offset, which is exact. Records come in order, so counting is incremental.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self { text, offset: 0, line: 1 }
    }

    /// The line of the first character at or after `byte` that is not a line break (a record's
    /// position may point at the empty lines the reader skipped before it).
    fn line_at(&mut self, byte: usize) -> usize {
        let byte = byte.min(self.text.len()).max(self.offset);
        self.line += self.text[self.offset..byte].iter().filter(|b| **b == b'\n').count();
        self.offset = byte;
        let skipped = self.text[byte..].iter().take_while(|b| matches!(b, b'\r' | b'\n'));
        self.line + skipped.filter(|b| **b == b'\n').count()
    }
}

/// A line of only whitespace (the crate skips empty lines, not `"  "`). A row of empty cells
/// (`,,`) is not blank: it is reported as cells that are not numbers.
fn is_blank(record: &csv::StringRecord) -> bool {
    record.len() == 1 && record[0].is_empty()
}

/// A record the crate could not read (from memory, only invalid UTF-8 can cause that, and the
/// text was checked before), with the line it starts on when the crate knows it.
fn csv_error(file: &str, line: Option<usize>, e: &csv::Error) -> ValidationError {
    let reason = match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!("field {} is not UTF-8 text", err.field() + 1),
        _ => e.to_string(),
    };
    let file = match line {
        Some(line) => format!("{file}:{line}"),
        None => file.to_owned(),
    };
    ValidationError::DatasetFile { file, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_features_and_labels_in_header_order() {
        let ds = parse_csv("d.csv", "a,y,b\n1,0,2\n3,2,4\n", "y", Task::Classification).unwrap();
        assert_eq!(ds.feature_names, ["a", "b"]);
        assert_eq!(ds.features, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(ds.labels, [0.0, 2.0]);
        assert_eq!((ds.rows(), ds.width()), (2, 2));
    }

    #[test]
    fn fractional_class_label_names_line_and_column() {
        let err = parse_csv("d.csv", "a,y\n1,0\n2,0.5\n", "y", Task::Classification).unwrap_err();
        assert_eq!(
            err.to_string(),
            "d.csv:3: column `y`: `0.5` is not a class id; classification labels are integers ≥ 0"
        );
        // Regression accepts the same value.
        assert!(parse_csv("d.csv", "a,y\n1,0\n2,0.5\n", "y", Task::Regression).is_ok());
    }

    #[test]
    fn quoted_fields_may_hold_commas_and_quotes() {
        let text = "\"petal, length\",\"say \"\"hi\"\"\",y\n\"1.5\", 2 ,\"0\"\n";
        let ds = parse_csv("d.csv", text, "y", Task::Classification).unwrap();
        assert_eq!(ds.feature_names, ["petal, length", "say \"hi\""]);
        assert_eq!(ds.features, [1.5, 2.0]);
        assert_eq!(ds.labels, [0.0]);
    }

    #[test]
    fn crlf_blank_lines_and_bom_are_accepted() {
        let text = "\u{feff}\r\n  \r\na,y\r\n1,0\r\n\r\n2,1\r\n";
        let ds = parse_csv("d.csv", text, "y", Task::Classification).unwrap();
        assert_eq!(ds.feature_names, ["a"]);
        assert_eq!(ds.features, [1.0, 2.0]);
        assert_eq!(ds.labels, [0.0, 1.0]);
    }

    #[test]
    fn bad_row_names_its_line_after_crlf_and_multiline_quotes() {
        // The quoted header cell spans two lines, so the bad row is on line 5.
        let text = "\"a\r\nb\",y\r\n1,0\r\n2,1\r\nx,0\r\n";
        let err = parse_csv("d.csv", text, "y", Task::Classification).unwrap_err();
        assert_eq!(err.to_string(), "d.csv:5: column `a\r\nb`: `x` is not a number");
        // Skipped blank lines still count.
        let err = parse_csv("d.csv", "a,y\n\n \n\n1,x\n", "y", Task::Regression).unwrap_err();
        assert_eq!(err.to_string(), "d.csv:5: column `y`: `x` is not a number");
        let err = parse_csv("d.csv", "a,y\r\n1,0\r\n1,0,3\r\n", "y", Task::Regression).unwrap_err();
        assert_eq!(err.to_string(), "d.csv:3: expected 2 columns (as in the header), found 3");
    }

    #[test]
    fn a_row_of_empty_cells_is_an_error_not_skipped() {
        let err = parse_csv("d.csv", "a,y\n1,0\n,\n", "y", Task::Regression).unwrap_err();
        assert_eq!(err.to_string(), "d.csv:3: column `a`: `` is not a number");
    }

    #[test]
    fn header_only_is_empty() {
        let err = parse_csv("d.csv", "a,y\n\n", "y", Task::Classification).unwrap_err();
        assert!(matches!(err, ValidationError::EmptyDataset { .. }), "{err}");
    }
}
