//! The validation report: stable JSON for machines, an aligned table for terminals, Markdown
//! for the promotion pull request.

use std::fmt::Write as _;

use serde::Serialize;

use crate::spec::Task;

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// Not evaluated: not configured for this run, or an earlier check stopped the run.
    Skipped,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Skipped => "skipped",
        }
    }
}

/// One line of the report table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: String,
    pub measured: String,
    pub threshold: String,
    pub verdict: Verdict,
    /// Why it failed or was skipped, or where a value came from; empty when there is nothing to add.
    pub detail: String,
}

/// Latency of one inference call at `batch` rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencyStats {
    pub batch: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Timed calls behind the percentiles.
    pub calls: usize,
}

/// What was measured for one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    pub rows: usize,
    pub accuracy: Option<f64>,
    /// Top-k accuracy when `checks.topK` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k_accuracy: Option<f64>,
    pub mae: Option<f64>,
    pub rmse: Option<f64>,
    /// Largest |output − golden| over all compared outputs, rows and columns.
    pub golden_max_abs_diff: Option<f64>,
    /// Fraction of arg-max tokens agreeing with the golden outputs (`checks.tokenAgreement`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_agreement: Option<f64>,
    /// Parse, analyse and optimise time.
    pub load_ms: f64,
    /// At batch 1, at the run's batch size, and at the latency check's batch size.
    pub latency: Vec<LatencyStats>,
    /// Rows per second at the run's batch size (batch rows ÷ mean call time).
    pub rows_per_s: f64,
}

/// The model the candidate was compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BaselineReport {
    pub model: String,
    pub sha256: String,
    pub metrics: Option<Metrics>,
}

/// The gate's verdict on one candidate model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationReport {
    /// Repo-relative path of the candidate.
    pub model: String,
    /// Measured sha256 of the candidate file.
    pub sha256: String,
    pub task: Task,
    pub dataset: String,
    /// The golden outputs compared against, if any.
    pub golden_outputs: Option<String>,
    pub checks: Vec<Check>,
    pub metrics: Option<Metrics>,
    pub baseline: Option<BaselineReport>,
    /// Decisions the gate made that a reviewer should know about.
    pub notes: Vec<String>,
}

impl ValidationReport {
    /// True when no check failed (skipped checks do not fail the gate).
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.verdict != Verdict::Fail)
    }

    fn counts(&self) -> (usize, usize, usize) {
        let count = |v| self.checks.iter().filter(|c| c.verdict == v).count();
        (count(Verdict::Pass), count(Verdict::Fail), count(Verdict::Skipped))
    }

    fn summary(&self) -> String {
        let (pass, fail, skipped) = self.counts();
        format!(
            "{} ({pass} passed, {fail} failed, {skipped} skipped)",
            if self.passed() { "PASSED" } else { "FAILED" }
        )
    }

    /// Aligned table for terminals: check, measured, threshold, verdict; then details and
    /// metrics.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Model validation: {}", self.model);
        let _ = writeln!(out, "  sha256   {}", self.sha256);
        let _ = writeln!(out, "  dataset  {} ({})", self.dataset, task_name(self.task));
        if let Some(g) = &self.golden_outputs {
            let _ = writeln!(out, "  golden   {g}");
        }
        out.push('\n');
        let header = ["CHECK", "MEASURED", "THRESHOLD", "VERDICT"];
        let rows: Vec<[&str; 4]> = self
            .checks
            .iter()
            .map(|c| {
                [c.name.as_str(), c.measured.as_str(), c.threshold.as_str(), c.verdict.as_str()]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = w - cell.chars().count();
                    let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let details: Vec<&Check> = self.checks.iter().filter(|c| !c.detail.is_empty()).collect();
        if !details.is_empty() {
            out.push('\n');
            for c in details {
                let _ = writeln!(out, "  {}: {}", c.name, c.detail);
            }
        }
        if let Some(m) = &self.metrics {
            out.push('\n');
            let _ = writeln!(out, "Metrics ({} rows)", m.rows);
            write_metrics_text(&mut out, "  ", m);
        }
        if let Some(b) = &self.baseline {
            out.push('\n');
            let _ = writeln!(out, "Baseline {} (sha256 {})", b.model, short(&b.sha256));
            if let Some(m) = &b.metrics {
                write_metrics_text(&mut out, "  ", m);
            }
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "note: {note}");
            }
        }
        out.push('\n');
        let _ = writeln!(out, "Result: {}", self.summary());
        out
    }

    /// Markdown for a pull-request body.
    pub fn render_markdown(&self) -> String {
        let mut out = String::new();
        let icon = if self.passed() { "✅" } else { "❌" };
        let _ = writeln!(out, "### {icon} Model validation: {}", self.summary());
        out.push('\n');
        let _ = writeln!(out, "- Model: `{}` (sha256 `{}`)", md(&self.model), self.sha256);
        let _ = writeln!(out, "- Dataset: `{}` ({})", md(&self.dataset), task_name(self.task));
        if let Some(g) = &self.golden_outputs {
            let _ = writeln!(out, "- Golden outputs: `{}`", md(g));
        }
        if let Some(b) = &self.baseline {
            let _ = writeln!(out, "- Baseline: `{}` (sha256 `{}`)", md(&b.model), b.sha256);
        }
        out.push('\n');
        out.push_str("| Check | Measured | Threshold | Verdict |\n|---|---|---|---|\n");
        for c in &self.checks {
            let verdict = match c.verdict {
                Verdict::Pass => "✅ pass",
                Verdict::Fail => "❌ **fail**",
                Verdict::Skipped => "➖ skipped",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {verdict} |",
                md(&c.name),
                md(&c.measured),
                md(&c.threshold)
            );
        }
        let details: Vec<&Check> = self.checks.iter().filter(|c| !c.detail.is_empty()).collect();
        if !details.is_empty() {
            out.push('\n');
            for c in details {
                let _ = writeln!(out, "- **{}**: {}", md(&c.name), md(&c.detail));
            }
        }
        if let Some(m) = &self.metrics {
            out.push('\n');
            let baseline = self.baseline.as_ref().and_then(|b| b.metrics.as_ref());
            write_metrics_markdown(&mut out, m, baseline);
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "> {}", md(note));
            }
        }
        out
    }
}

fn task_name(task: Task) -> &'static str {
    match task {
        Task::Classification => "classification",
        Task::Regression => "regression",
    }
}

pub(crate) fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// Escapes the characters that would break a table cell or inline code.
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn write_metrics_text(out: &mut String, indent: &str, m: &Metrics) {
    if let Some(a) = m.accuracy {
        let _ = writeln!(out, "{indent}accuracy        {a:.4}");
    }
    if let Some(a) = m.top_k_accuracy {
        let _ = writeln!(out, "{indent}top-k accuracy  {a:.4}");
    }
    if let Some(v) = m.mae {
        let _ = writeln!(out, "{indent}mae             {v:.6}");
    }
    if let Some(v) = m.rmse {
        let _ = writeln!(out, "{indent}rmse            {v:.6}");
    }
    if let Some(d) = m.golden_max_abs_diff {
        let _ = writeln!(out, "{indent}golden max |Δ|  {d:.3e}");
    }
    if let Some(t) = m.token_agreement {
        let _ = writeln!(out, "{indent}token agreement {t:.4}");
    }
    let _ = writeln!(out, "{indent}load            {:.2} ms", m.load_ms);
    for l in &m.latency {
        let _ = writeln!(
            out,
            "{indent}latency b={:<4}  p50 {:.3} ms  p95 {:.3} ms  p99 {:.3} ms  ({} calls)",
            l.batch, l.p50_ms, l.p95_ms, l.p99_ms, l.calls
        );
    }
    let _ = writeln!(out, "{indent}throughput      {:.0} rows/s", m.rows_per_s);
}

fn write_metrics_markdown(out: &mut String, m: &Metrics, baseline: Option<&Metrics>) {
    let mut rows: Vec<(String, String, Option<String>)> = Vec::new();
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or_else(|| "–".into(), f);
    let b = baseline;
    if m.accuracy.is_some() {
        let f = |v: f64| format!("{v:.4}");
        rows.push(("accuracy".into(), opt(m.accuracy, f), b.map(|b| opt(b.accuracy, f))));
    }
    if m.top_k_accuracy.is_some() {
        let f = |v: f64| format!("{v:.4}");
        rows.push(("top-k accuracy".into(), opt(m.top_k_accuracy, f), b.map(|_| "–".into())));
    }
    if m.mae.is_some() {
        let f = |v: f64| format!("{v:.6}");
        rows.push(("mae".into(), opt(m.mae, f), b.map(|b| opt(b.mae, f))));
        rows.push(("rmse".into(), opt(m.rmse, f), b.map(|b| opt(b.rmse, f))));
    }
    if let Some(d) = m.golden_max_abs_diff {
        rows.push(("golden max abs diff".into(), format!("{d:.3e}"), b.map(|_| "–".into())));
    }
    if let Some(t) = m.token_agreement {
        rows.push(("token agreement".into(), format!("{t:.4}"), b.map(|_| "–".into())));
    }
    rows.push((
        "load".into(),
        format!("{:.2} ms", m.load_ms),
        b.map(|b| format!("{:.2} ms", b.load_ms)),
    ));
    for l in &m.latency {
        let other = b.and_then(|b| b.latency.iter().find(|x| x.batch == l.batch));
        rows.push((
            format!("latency p50 / p95 / p99 (batch {})", l.batch),
            latency_cell(l),
            b.map(|_| other.map_or_else(|| "–".into(), latency_cell)),
        ));
    }
    rows.push((
        "throughput".into(),
        format!("{:.0} rows/s", m.rows_per_s),
        b.map(|b| format!("{:.0} rows/s", b.rows_per_s)),
    ));
    if baseline.is_some() {
        out.push_str("| Metric | Candidate | Baseline |\n|---|---|---|\n");
    } else {
        out.push_str("| Metric | Candidate |\n|---|---|\n");
    }
    for (name, cand, base) in rows {
        match base {
            Some(base) => {
                let _ = writeln!(out, "| {name} | {cand} | {base} |");
            }
            None => {
                let _ = writeln!(out, "| {name} | {cand} |");
            }
        }
    }
    let _ = writeln!(
        out,
        "\n_{} rows; latency is wall-clock per call on the validating machine._",
        m.rows
    );
}

fn latency_cell(l: &LatencyStats) -> String {
    format!("{:.3} / {:.3} / {:.3} ms", l.p50_ms, l.p95_ms, l.p99_ms)
}
