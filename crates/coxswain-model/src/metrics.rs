//! Quality metrics, accumulated batch by batch so that neither the outputs nor the golden arrays
//! of a large dataset are held in memory.

/// Accuracy (and top-k accuracy) of a classifier output against integer labels.
///
/// The prediction is the arg-max of a score row (width ≥ 2); for width 1 it is the value itself
/// when the output is integer (a label output) and `score ≥ 0.5` otherwise (a binary
/// probability). A row with NaN scores counts as wrong.
#[derive(Debug, Clone, Default)]
pub(crate) struct Classification {
    rows: usize,
    correct: usize,
    top_k: Option<(usize, usize)>,
}

impl Classification {
    pub fn new(top_k: Option<usize>) -> Self {
        Classification { rows: 0, correct: 0, top_k: top_k.map(|k| (k, 0)) }
    }

    /// `values` is `labels.len()` rows of `width` values.
    pub fn add(&mut self, values: &[f64], width: usize, integer: bool, labels: &[f64]) {
        if width == 0 {
            self.rows += labels.len();
            return;
        }
        for (row, label) in values.chunks_exact(width).zip(labels) {
            self.rows += 1;
            if predict(row, integer) == Some(*label) {
                self.correct += 1;
            }
            if let Some((k, hits)) = &mut self.top_k
                && in_top_k(row, integer, *label, *k)
            {
                *hits += 1;
            }
        }
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.correct, self.rows)
    }

    /// `(k, top-k accuracy)` when configured.
    pub fn top_k(&self) -> Option<(usize, f64)> {
        self.top_k.map(|(k, hits)| (k, ratio(hits, self.rows)))
    }
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

fn predict(row: &[f64], integer: bool) -> Option<f64> {
    match row {
        [] => None,
        [v] if integer => Some(*v),
        [p] => (!p.is_nan()).then_some(if *p >= 0.5 { 1.0 } else { 0.0 }),
        _ => argmax(row).map(|i| i as f64),
    }
}

/// Index of the largest non-NaN value (the first on ties).
pub(crate) fn argmax(row: &[f64]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, v) in row.iter().enumerate() {
        if !v.is_nan() && best.is_none_or(|(_, b)| *v > b) {
            best = Some((i, *v));
        }
    }
    best.map(|(i, _)| i)
}

/// The label's score is beaten by fewer than `k` others (ties count in the label's favour).
fn in_top_k(row: &[f64], integer: bool, label: f64, k: usize) -> bool {
    if row.len() < 2 {
        return predict(row, integer) == Some(label);
    }
    if label < 0.0 || label.fract() != 0.0 {
        return false;
    }
    #[expect(clippy::cast_sign_loss, reason = "checked non-negative above")]
    let Some(score) = row.get(label as usize).copied() else {
        return false;
    };
    !score.is_nan() && row.iter().filter(|v| **v > score).count() < k
}

/// Mean absolute and root-mean-square error of a one-value-per-row output.
#[derive(Debug, Clone, Default)]
pub(crate) struct Regression {
    n: usize,
    abs: f64,
    sq: f64,
}

impl Regression {
    pub fn add(&mut self, values: &[f64], labels: &[f64]) {
        for (p, y) in values.iter().zip(labels) {
            let e = p - y;
            self.n += 1;
            self.abs += e.abs();
            self.sq += e * e;
        }
    }

    /// `(mae, rmse)`.
    pub fn result(&self) -> (f64, f64) {
        let n = self.n.max(1) as f64;
        (self.abs / n, (self.sq / n).sqrt())
    }
}

/// The element furthest outside its tolerance.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Worst {
    /// Multi-index into the golden array (row first).
    pub index: Vec<usize>,
    pub model: f64,
    pub golden: f64,
}

/// numpy `allclose` against golden outputs: `|model − golden| ≤ atol + rtol·|golden|`, equal
/// values (infinities included) always agree, NaN never does.
#[derive(Debug, Clone)]
pub(crate) struct GoldenCompare {
    pub rtol: f64,
    pub atol: f64,
    /// The golden array's shape, for the worst element's index.
    shape: Vec<usize>,
    offset: usize,
    pub max_abs_diff: f64,
    /// How far the worst element is past its allowance (≤ 0 when everything agrees).
    worst_excess: f64,
    pub worst: Option<Worst>,
    pub mismatched: u64,
    pub elements: u64,
}

impl GoldenCompare {
    pub fn new(rtol: f64, atol: f64, shape: Vec<usize>) -> Self {
        GoldenCompare {
            rtol,
            atol,
            shape,
            offset: 0,
            max_abs_diff: 0.0,
            worst_excess: f64::NEG_INFINITY,
            worst: None,
            mismatched: 0,
            elements: 0,
        }
    }

    /// Compares the next run of elements (consecutive rows, row-major).
    pub fn add(&mut self, model: &[f64], golden: &[f64]) {
        for (i, (a, b)) in model.iter().zip(golden).enumerate() {
            #[allow(clippy::float_cmp, reason = "exact equality is numpy's first test")]
            let (diff, excess) = if a == b {
                (0.0, -(self.atol + self.rtol * b.abs()))
            } else {
                let diff = (a - b).abs();
                let excess = diff - (self.atol + self.rtol * b.abs());
                if diff.is_nan() { (f64::INFINITY, f64::INFINITY) } else { (diff, excess) }
            };
            self.max_abs_diff = self.max_abs_diff.max(diff);
            if excess > 0.0 || excess.is_nan() {
                self.mismatched += 1;
            }
            if excess > self.worst_excess || self.worst.is_none() {
                self.worst_excess = excess;
                self.worst = Some(Worst {
                    index: unravel(self.offset + i, &self.shape),
                    model: *a,
                    golden: *b,
                });
            }
        }
        self.offset += model.len().min(golden.len());
        self.elements += model.len().min(golden.len()) as u64;
    }

    pub fn passed(&self) -> bool {
        self.mismatched == 0
    }
}

/// Flat index → multi-index for a C-ordered shape.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, dim) in index.iter_mut().zip(shape).rev() {
        let dim = (*dim).max(1);
        *slot = flat % dim;
        flat /= dim;
    }
    index
}

/// Agreement of arg-max tokens (over the last axis) between the model and the golden outputs.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenAgreement {
    pub positions: u64,
    pub agreeing: u64,
}

impl TokenAgreement {
    pub fn add(&mut self, model: &[f64], golden: &[f64], vocab: usize) {
        if vocab == 0 {
            return;
        }
        for (m, g) in model.chunks_exact(vocab).zip(golden.chunks_exact(vocab)) {
            self.positions += 1;
            if argmax(m).is_some() && argmax(m) == argmax(g) {
                self.agreeing += 1;
            }
        }
    }

    pub fn fraction(&self) -> f64 {
        if self.positions == 0 { 0.0 } else { self.agreeing as f64 / self.positions as f64 }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp, reason = "the expected values are exactly representable")]
mod tests {
    use super::*;

    #[test]
    fn argmax_accuracy_with_nan_row_wrong() {
        let mut c = Classification::new(None);
        c.add(&[0.1, 0.9, 0.8, 0.2, f64::NAN, f64::NAN], 2, false, &[1.0, 1.0, 0.0]);
        assert!((c.accuracy() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn binary_score_and_label_outputs() {
        let mut c = Classification::new(None);
        c.add(&[0.7, 0.2], 1, false, &[1.0, 0.0]);
        assert_eq!(c.accuracy(), 1.0);
        let mut c = Classification::new(None);
        c.add(&[2.0, 0.0], 1, true, &[2.0, 1.0]);
        assert_eq!(c.accuracy(), 0.5);
    }

    #[test]
    fn top_k_counts_the_label_among_the_k_best() {
        let mut c = Classification::new(Some(2));
        // Row 0: label 2 is second best; row 1: label 0 is third; row 2: label 1 is best.
        c.add(&[0.5, 0.1, 0.4, 0.1, 0.5, 0.4, 0.2, 0.7, 0.1], 3, false, &[2.0, 0.0, 1.0]);
        assert_eq!(c.accuracy(), 1.0 / 3.0);
        assert_eq!(c.top_k(), Some((2, 2.0 / 3.0)));
    }

    #[test]
    fn mae_rmse() {
        let mut r = Regression::default();
        r.add(&[1.0], &[2.0]);
        r.add(&[3.0], &[3.0]);
        let (mae, rmse) = r.result();
        assert_eq!(mae, 0.5);
        assert!((rmse - 0.5f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn allclose_semantics_and_worst_element_index() {
        // Shape (2, 3): the worst relative offender is element [1, 2].
        let mut g = GoldenCompare::new(1e-3, 1e-5, vec![2, 3]);
        g.add(&[1.0, 100.05, 0.0], &[1.0, 100.0, 0.0]);
        assert!(g.passed(), "0.05 ≤ 1e-5 + 1e-3·100");
        g.add(&[f64::INFINITY, 2.0, 0.5], &[f64::INFINITY, 2.0, 0.4]);
        assert!(!g.passed());
        assert_eq!(g.mismatched, 1);
        assert_eq!(g.worst, Some(Worst { index: vec![1, 2], model: 0.5, golden: 0.4 }));
        assert!((g.max_abs_diff - 0.1).abs() < 1e-12);
        assert_eq!(g.elements, 6);
    }

    #[test]
    fn nan_never_agrees() {
        let mut g = GoldenCompare::new(0.0, 1.0, vec![2]);
        g.add(&[f64::NAN, 0.0], &[f64::NAN, 0.0]);
        assert!(!g.passed());
        assert!(g.max_abs_diff.is_infinite());
        assert_eq!(g.worst.as_ref().map(|w| w.index.clone()), Some(vec![0]));
    }

    #[test]
    fn token_agreement_over_the_last_axis() {
        let mut t = TokenAgreement::default();
        t.add(&[0.1, 0.9, 0.8, 0.2, 0.3, 0.7], &[0.0, 1.0, 0.0, 1.0, 0.0, 1.0], 2);
        assert_eq!((t.positions, t.agreeing), (3, 2));
    }
}
