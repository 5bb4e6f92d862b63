//! Quality metrics from model outputs and labels.

use crate::engine::RunOutput;

/// Fraction of rows whose predicted class equals the label.
///
/// The prediction is the arg-max of a score row (width ≥ 2); for width 1 it is the value itself
/// when the output is integer (a label output) and `score ≥ 0.5` otherwise (a binary
/// probability). A row with NaN scores counts as wrong.
pub(crate) fn accuracy(run: &RunOutput, labels: &[f64]) -> f64 {
    if labels.is_empty() || run.width == 0 {
        return 0.0;
    }
    let correct = run
        .values
        .chunks_exact(run.width)
        .zip(labels)
        .filter(|(row, label)| predict(row, run.integer_output) == Some(**label))
        .count();
    correct as f64 / labels.len() as f64
}

fn predict(row: &[f64], integer: bool) -> Option<f64> {
    match row {
        [] => None,
        [v] if integer => Some(*v),
        [p] => (!p.is_nan()).then_some(if *p >= 0.5 { 1.0 } else { 0.0 }),
        _ => {
            let mut best: Option<(usize, f64)> = None;
            for (i, v) in row.iter().enumerate() {
                if !v.is_nan() && best.is_none_or(|(_, b)| *v > b) {
                    best = Some((i, *v));
                }
            }
            best.map(|(i, _)| i as f64)
        }
    }
}

/// Mean absolute and root-mean-square error; `None` unless there is one value per row.
pub(crate) fn regression_errors(run: &RunOutput, labels: &[f64]) -> Option<(f64, f64)> {
    if run.width != 1 || labels.is_empty() || run.values.len() != labels.len() {
        return None;
    }
    let n = labels.len() as f64;
    let (abs, sq) = run.values.iter().zip(labels).fold((0.0, 0.0), |(a, s), (p, y)| {
        let e = p - y;
        (a + e.abs(), s + e * e)
    });
    Some((abs / n, (sq / n).sqrt()))
}

/// Largest absolute difference against the golden array, or why the two cannot be compared.
/// NaN on either side counts as an infinite difference.
pub(crate) fn golden_max_abs_diff(
    run: &RunOutput,
    rows: usize,
    golden_shape: &[usize],
    golden: &[f64],
) -> Result<f64, String> {
    let shape_ok = match golden_shape {
        [r] => *r == rows && run.width == 1,
        [r, rest @ ..] => *r == rows && rest.iter().product::<usize>() == run.width,
        [] => false,
    };
    if !shape_ok || golden.len() != run.values.len() {
        return Err(format!(
            "golden shape {golden_shape:?} does not match the output ({rows} rows × {} values)",
            run.width
        ));
    }
    Ok(run.values.iter().zip(golden).fold(0.0_f64, |max, (a, b)| {
        let d = (a - b).abs();
        if d.is_nan() { f64::INFINITY } else { max.max(d) }
    }))
}

#[cfg(test)]
#[allow(clippy::float_cmp, reason = "the expected values are exactly representable")]
mod tests {
    use super::*;

    fn run(values: Vec<f64>, width: usize, integer: bool) -> RunOutput {
        RunOutput {
            values,
            width,
            integer_output: integer,
            load_ms: 0.0,
            latency: vec![],
            rows_per_s: 0.0,
            batch: 1,
        }
    }

    #[test]
    fn argmax_accuracy_with_nan_row_wrong() {
        let r = run(vec![0.1, 0.9, 0.8, 0.2, f64::NAN, f64::NAN], 2, false);
        assert!((accuracy(&r, &[1.0, 1.0, 0.0]) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn binary_score_and_label_outputs() {
        assert_eq!(accuracy(&run(vec![0.7, 0.2], 1, false), &[1.0, 0.0]), 1.0);
        assert_eq!(accuracy(&run(vec![2.0, 0.0], 1, true), &[2.0, 1.0]), 0.5);
    }

    #[test]
    fn mae_rmse() {
        let (mae, rmse) = regression_errors(&run(vec![1.0, 3.0], 1, false), &[2.0, 3.0]).unwrap();
        assert_eq!(mae, 0.5);
        assert!((rmse - 0.5f64.sqrt()).abs() < 1e-12);
        assert!(regression_errors(&run(vec![1.0, 3.0], 2, false), &[2.0]).is_none());
    }

    #[test]
    fn golden_diff_and_shape_mismatch() {
        let r = run(vec![0.5, 0.5, 1.0, 0.0], 2, false);
        assert_eq!(golden_max_abs_diff(&r, 2, &[2, 2], &[0.5, 0.25, 1.0, 0.0]).unwrap(), 0.25);
        assert!(golden_max_abs_diff(&r, 2, &[4], &[0.0; 4]).is_err());
        let nan = golden_max_abs_diff(&r, 2, &[2, 2], &[f64::NAN, 0.5, 1.0, 0.0]).unwrap();
        assert!(nan.is_infinite());
    }
}
