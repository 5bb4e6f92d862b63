//! Reports of a sync run for CI systems: `JUnit` XML (one test case per environment), Markdown
//! (a PR comment or job summary) and JSON.

use crate::plan::render::PlanReport;
use crate::sync::{SyncReport, SyncStatus};
use std::fmt::Write as _;

/// Whether a status means the run failed (for exit codes and `JUnit`).
pub fn is_failure(status: SyncStatus) -> bool {
    !matches!(status, SyncStatus::NoChanges | SyncStatus::DryRun | SyncStatus::Synced)
}

pub fn status_text(status: SyncStatus) -> &'static str {
    match status {
        SyncStatus::NoChanges => "no changes",
        SyncStatus::DryRun => "dry run",
        SyncStatus::Synced => "synced",
        SyncStatus::Unhealthy => "unhealthy",
        SyncStatus::RolledBack => "rolled back",
        SyncStatus::Blocked => "blocked",
        SyncStatus::LockHeld => "locked by another sync",
        SyncStatus::Failed => "failed",
        SyncStatus::Cancelled => "cancelled",
        SyncStatus::Interrupted => "interrupted",
    }
}

/// A Markdown table cell: pipes escaped, one line, as code when it can be.
pub fn markdown_cell(text: &str) -> String {
    let flat = text.replace(['\r', '\n'], " ").replace('|', "\\|");
    if flat.contains('`') { flat } else { format!("`{flat}`") }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// `JUnit` XML: a test suite named `suite` (`coxswain-sync`, `coxswain-rollback`), a test case
/// per environment.
pub fn junit(suite: &str, reports: &[SyncReport]) -> String {
    let failures = reports.iter().filter(|r| is_failure(r.status)).count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
        xml_escape(suite),
        reports.len()
    );
    for report in reports {
        let _ = write!(
            out,
            "  <testcase classname=\"coxswain.sync\" name=\"{}\">",
            xml_escape(&report.env)
        );
        if is_failure(report.status) {
            let message = report.error.clone().unwrap_or_default();
            let _ = write!(
                out,
                "\n    <failure message=\"{}\" type=\"{}\">{}</failure>\n  ",
                xml_escape(status_text(report.status)),
                xml_escape(status_text(report.status)),
                xml_escape(&message)
            );
        }
        let summary = format!(
            "applied {}, pruned {}, revision {}",
            report.applied.len(),
            report.pruned.len(),
            report.revision.map_or("-".into(), |r| r.to_string())
        );
        let _ = writeln!(out, "<system-out>{}</system-out></testcase>", xml_escape(&summary));
    }
    out.push_str("</testsuite>\n");
    out
}

/// Markdown: the outcome per environment, then the plan.
pub fn markdown(reports: &[SyncReport]) -> String {
    let mut out = String::from(
        "### Coxswain sync\n\n| Env | Status | Applied | Pruned | Revision |\n|---|---|---|---|---|\n",
    );
    for r in reports {
        let icon = if is_failure(r.status) { "❌" } else { "✅" };
        let _ = writeln!(
            out,
            "| {} | {icon} {} | {} | {} | {} |",
            r.env,
            status_text(r.status),
            r.applied.len(),
            r.pruned.len(),
            r.revision.map_or("-".into(), |n| n.to_string())
        );
    }
    for r in reports.iter().filter(|r| r.error.is_some()) {
        let _ = writeln!(out, "\n**{}**: {}", r.env, r.error.as_deref().unwrap_or_default());
    }
    let plans: Vec<_> = reports.iter().filter_map(|r| r.plan.clone()).collect();
    if !plans.is_empty() {
        out.push('\n');
        out.push_str(&PlanReport::new(plans).render_markdown());
    }
    out
}
