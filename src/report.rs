//! Reports of a sync run for CI systems: `JUnit` XML (one test case per environment), Markdown
//! (a PR comment or job summary) and JSON.

use crate::plan::render::PlanReport;
use crate::sync::{FailureKind, SyncReport, SyncStatus};
use chrono::{DateTime, FixedOffset};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::fmt::Write as _;
use std::time::Duration;

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

/// One environment's outcome and how long it took (`JUnit`'s `time`).
#[derive(Debug, Clone, Copy)]
pub struct Timed<'a> {
    pub report: &'a SyncReport,
    pub time: Option<Duration>,
}

/// `JUnit` XML through quick-junit (escaping, and characters XML cannot hold dropped): a test
/// suite `suite` (`coxswain-sync`, `coxswain-rollback`) started at `started`, a test case per
/// environment with its time. A gate or health failure is a `failure`; anything else that
/// stopped the environment (an error, the lock, an interruption) an `error`.
pub fn junit(
    suite: &str,
    started: Option<DateTime<FixedOffset>>,
    runs: &[Timed<'_>],
) -> Result<String, quick_junit::SerializeError> {
    let classname = suite.replacen('-', ".", 1);
    let mut test_suite = TestSuite::new(suite);
    if let Some(started) = started {
        test_suite.set_timestamp(started);
    }
    if runs.iter().all(|run| run.time.is_some()) {
        test_suite.set_time(runs.iter().filter_map(|run| run.time).sum());
    }
    for run in runs {
        let report = run.report;
        let status = if is_failure(report.status) {
            let gate = matches!(report.status, SyncStatus::Unhealthy | SyncStatus::RolledBack)
                || report.failure_kind().is_some_and(FailureKind::is_gate);
            let kind = if gate { NonSuccessKind::Failure } else { NonSuccessKind::Error };
            let mut status = TestCaseStatus::non_success(kind);
            status.set_message(status_text(report.status)).set_type(status_text(report.status));
            if let Some(error) = &report.error {
                status.set_description(error.to_string());
            }
            status
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(report.env.as_str(), status);
        case.set_classname(classname.as_str());
        if let Some(time) = run.time {
            case.set_time(time);
        }
        case.set_system_out(format!(
            "{}: applied {}, pruned {}, revision {}",
            status_text(report.status),
            report.applied.len(),
            report.pruned.len(),
            report.revision.map_or("-".into(), |r| r.to_string())
        ));
        test_suite.add_test_case(case);
    }
    let mut out = Report::new(suite);
    out.add_test_suite(test_suite);
    out.to_string()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::Failure;

    fn report(env: &str, status: SyncStatus, error: Option<Failure>) -> SyncReport {
        SyncReport {
            env: env.into(),
            namespace: format!("iris-{env}"),
            status,
            plan: None,
            applied: vec!["Deployment.apps iris-dev/iris-server".into()],
            pruned: Vec::new(),
            prune_skipped: Vec::new(),
            health: Vec::new(),
            revision: Some(3),
            rolled_back_to: None,
            rollouts: Vec::new(),
            error,
        }
    }

    fn started() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-12-01T06:00:00+01:00").unwrap()
    }

    #[test]
    fn junit_has_a_case_per_env_with_times_failures_and_errors() {
        let synced = report("dev", SyncStatus::Synced, None);
        let unhealthy = report(
            "staging",
            SyncStatus::Unhealthy,
            Some(Failure::new(FailureKind::Health, "Deployment iris-server: 0/2 ready")),
        );
        let locked = report(
            "prod",
            SyncStatus::LockHeld,
            Some(Failure::new(FailureKind::Lock, "held by ci@runner-7 since 05:59")),
        );
        let runs = [
            Timed { report: &synced, time: Some(Duration::from_millis(1_250)) },
            Timed { report: &unhealthy, time: Some(Duration::from_mins(5)) },
            Timed { report: &locked, time: Some(Duration::from_millis(40)) },
        ];
        insta::assert_snapshot!(junit("coxswain-sync", Some(started()), &runs).unwrap());
    }

    #[test]
    fn junit_text_is_xml_safe() {
        // Markup, quotes, an ANSI colour and a NUL from a container log in the failure text.
        let failure = Failure::new(
            FailureKind::Apply,
            "rejected <Deployment> \"a&b\" 'c': \u{1b}[31mcrash\u{1b}[0m\u{0} done",
        );
        let failed = report("a<b>&\"c\"", SyncStatus::Failed, Some(failure));
        let xml =
            junit("coxswain-rollback", None, &[Timed { report: &failed, time: None }]).unwrap();
        insta::assert_snapshot!(xml);
        assert!(!xml.contains('\u{1b}') && !xml.contains('\u{0}'), "{xml:?}");
    }
}
