//! The validation dataset: a numeric CSV with a header row.
//!
//! Hand-written on purpose: the format is "numbers separated by commas", and owning the parser
//! lets every error name the line and column a reviewer has to fix.

use crate::error::ValidationError;
use crate::spec::Task;

/// Feature rows (row-major) and one label per row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dataset {
    pub file: String,
    pub feature_names: Vec<String>,
    pub features: Vec<f64>,
    pub labels: Vec<f64>,
}

impl Dataset {
    pub fn rows(&self) -> usize {
        self.labels.len()
    }

    pub fn width(&self) -> usize {
        self.feature_names.len()
    }

    /// Row `i` of the features; empty when out of range.
    pub fn row(&self, i: usize) -> &[f64] {
        let w = self.width();
        self.features.get(i * w..(i + 1) * w).unwrap_or(&[])
    }
}

/// Parses `text` (the contents of `file`). Labels must be non-negative integers for
/// classification; any finite number for regression.
pub(crate) fn parse_csv(
    file: &str,
    text: &str,
    label_column: &str,
    task: Task,
) -> Result<Dataset, ValidationError> {
    let Some(ext) = file.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()) else {
        return Err(ValidationError::UnsupportedDataset { file: file.to_owned() });
    };
    if ext != "csv" {
        return Err(ValidationError::UnsupportedDataset { file: file.to_owned() });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let header: Vec<String> = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => {}
            Some((_, l)) => break l.split(',').map(|c| unquote(c.trim()).to_owned()).collect(),
            None => return Err(ValidationError::EmptyDataset { file: file.to_owned() }),
        }
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
    for (line, l) in lines {
        if l.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = l.split(',').collect();
        if cells.len() != header.len() {
            return Err(ValidationError::DatasetColumns {
                file: file.to_owned(),
                line,
                expected: header.len(),
                found: cells.len(),
            });
        }
        for (ix, (cell, name)) in cells.iter().zip(&header).enumerate() {
            let cell_error = |reason: String| ValidationError::DatasetCell {
                file: file.to_owned(),
                line,
                column: name.clone(),
                reason,
            };
            let raw = unquote(cell.trim());
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
    Ok(Dataset { file: file.to_owned(), feature_names, features, labels })
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s)
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
        assert_eq!(ds.row(1), [3.0, 4.0]);
        assert!(ds.row(2).is_empty());
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
    fn non_csv_extension_is_rejected() {
        let err = parse_csv("d.parquet", "a,y\n1,0\n", "y", Task::Classification).unwrap_err();
        assert!(matches!(err, ValidationError::UnsupportedDataset { .. }), "{err}");
    }

    #[test]
    fn header_only_is_empty() {
        let err = parse_csv("d.csv", "a,y\n\n", "y", Task::Classification).unwrap_err();
        assert!(matches!(err, ValidationError::EmptyDataset { .. }), "{err}");
    }
}
