//! The words of a promotion: commit message, pull-request title and body, terminal report.

use super::change::{Change, Moved};
use super::gates::{GateReport, GateStatus, gate_name};
use super::gitops::TRAILER;
use super::{PromoteOutcome, PromoteStatus};
use crate::pipeline::Approval;
use crate::report::markdown_cell as cell;
use std::fmt::Write as _;

/// GitHub refuses bodies over 65 536 characters; the plan's diffs are dropped first.
const MAX_BODY_CHARS: usize = 60_000;

/// What moves, in a few words: `iris-classifier 1.1.0, 1 image`.
fn headline(change: &Change) -> String {
    let mut parts = Vec::new();
    if let Some(model) = &change.model {
        parts.push(match &model.new.version {
            Some(version) => format!("{} {version}", model.new.name),
            None => format!("{} ({})", model.new.name, model.new.path),
        });
    }
    let images =
        change.moved.iter().filter(|m| m.artifact == crate::pipeline::Artifact::Images).count();
    if images > 0 {
        parts.push(format!("{images} image{}", if images == 1 { "" } else { "s" }));
    }
    parts.join(", ")
}

/// `Promote dev → staging: iris-classifier 1.1.0, 1 image`.
pub fn title(change: &Change) -> String {
    format!("Promote {} → {}: {}", change.from, change.to, headline(change))
}

fn old_text(moved: &Moved) -> &str {
    moved.old.as_deref().unwrap_or("(unset)")
}

/// The commit message: the title, what moved (old → new), the gates, and the trailer that lets
/// the next run recognise its own branch.
pub fn commit_message(
    change: &Change,
    pipeline_name: &str,
    pipeline_file: &str,
    base: &str,
    gates: &GateReport,
) -> String {
    let mut out = title(change);
    let _ = write!(out, "\n\nPipeline {pipeline_name} ({pipeline_file}), from commit {base}.\n\n");
    for moved in &change.moved {
        let _ =
            writeln!(out, "- {} {}: {} → {}", moved.file, moved.field, old_text(moved), moved.new);
    }
    let _ = write!(
        out,
        "\nGates: {}\n\n{TRAILER} {} -> {}\n",
        gates.one_line(),
        change.from,
        change.to
    );
    out
}

fn moved_table(change: &Change) -> String {
    let mut out =
        format!("| File | Field | {} now | from {} |\n|---|---|---|---|\n", change.to, change.from);
    for moved in &change.moved {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(&moved.file),
            moved.field.replace('|', "\\|"),
            moved.old.as_deref().map_or_else(|| "_(unset)_".to_owned(), cell),
            cell(&moved.new)
        );
    }
    out
}

fn gate_table(gates: &GateReport) -> String {
    if gates.results.is_empty() {
        return "No gates are configured for this stage.\n".into();
    }
    let mut out = String::from("| Gate | Result | Summary |\n|---|---|---|\n");
    for r in &gates.results {
        let _ = writeln!(
            out,
            "| {} | {} {} | {} |",
            gate_name(r.gate),
            r.status.icon(),
            r.status.as_str(),
            r.summary.replace(['\r', '\n'], " ").replace('|', "\\|")
        );
    }
    for r in gates.results.iter().filter(|r| !r.details.is_empty()) {
        let _ = write!(
            out,
            "\n<details><summary>{} findings ({})</summary>\n\n",
            gate_name(r.gate),
            r.details.len()
        );
        for detail in &r.details {
            let _ = writeln!(out, "- {}", detail.replace('\n', " "));
        }
        out.push_str("\n</details>\n");
    }
    out
}

/// The pull request's body: what moved, the gates, the validation report, the plan.
pub fn pr_body(outcome: &PromoteOutcome, command: &str) -> String {
    let change = &outcome.change;
    let mut out = format!("## Promote {} → {}\n\n", change.from, change.to);
    let _ = write!(
        out,
        "Pipeline `{}` (`{}`), from commit `{}`.\n\n### What moves\n\n{}",
        outcome.pipeline,
        outcome.pipeline_file,
        outcome.base_short(),
        moved_table(change)
    );
    if !change.notes.is_empty() {
        out.push_str("\nNot moved:\n");
        for note in &change.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    let _ = write!(out, "\n### Gates\n\n{}", gate_table(&outcome.gates));
    if let Some(validation) = &outcome.gates.validation_markdown {
        let _ = write!(out, "\n{}\n", validation.trim_end());
    }
    let footer = format!(
        "\n---\n<sub>Opened by `{command}`. Running it again updates this pull request.</sub>\n"
    );
    if let Some(plan) = &outcome.gates.plan {
        let full = plan.render_markdown();
        if out.chars().count() + full.chars().count() + footer.len() <= MAX_BODY_CHARS {
            let _ = write!(out, "\n{}\n", full.trim_end());
        } else {
            let s = plan.summary;
            let _ = write!(
                out,
                "\n### Coxswain plan\n\n**{} to create, {} to update, {} to prune, {} unchanged**\n\n\
                 The diffs are too long for a pull request; run `coxswain plan --env {}` to see them.\n",
                s.create + s.namespaces,
                s.update,
                s.prune,
                s.unchanged,
                change.to
            );
        }
    }
    out.push_str(&footer);
    out
}

/// The comment posted when a run updates an open pull request.
pub fn update_comment(outcome: &PromoteOutcome, replaced: bool) -> String {
    let commit = outcome.commit.as_deref().map_or("", |c| c.get(..12).unwrap_or(c));
    let what = if replaced {
        format!("the branch now holds `{commit}`, made from commit `{}`", outcome.base_short())
    } else {
        "the branch already held this promotion and is unchanged".to_owned()
    };
    format!(
        "`coxswain promote {}` ran again: {what}. Gates: {}.",
        outcome.change.to,
        outcome.gates.one_line()
    )
}

/// The terminal report.
pub fn text(outcome: &PromoteOutcome) -> String {
    let change = &outcome.change;
    let mut out =
        format!("Promotion {} → {} (pipeline {})\n", change.from, change.to, outcome.pipeline);
    if change.moved.is_empty() {
        out.push_str("\nNothing moves.\n");
    } else {
        out.push_str("\nMoves:\n");
        for moved in &change.moved {
            let _ = writeln!(
                out,
                "  {} {}: {} → {}",
                moved.file,
                moved.field,
                old_text(moved),
                moved.new
            );
        }
    }
    for note in &change.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    if !outcome.diff.is_empty() {
        let _ = write!(out, "\n{}", outcome.diff);
    }
    if !outcome.gates.results.is_empty() {
        out.push_str("\nGates:\n");
        for r in &outcome.gates.results {
            let _ = writeln!(
                out,
                "  {} {:<16} {:<8} {}",
                r.status.icon(),
                gate_name(r.gate),
                r.status.as_str(),
                r.summary
            );
            if r.status == GateStatus::Failed || outcome.status == PromoteStatus::DryRun {
                for detail in &r.details {
                    let _ = writeln!(out, "      {detail}");
                }
            }
        }
    }
    if let Some(validation) = &outcome.gates.validation_text {
        let _ = write!(out, "\n{}", validation.trim_end());
        out.push('\n');
    }
    if let (Some(plan), true) = (&outcome.gates.plan, outcome.status == PromoteStatus::DryRun) {
        let _ = write!(out, "\n{}", plan.render_text(false));
    }
    out.push('\n');
    out.push_str(&status_line(outcome));
    out.push('\n');
    for message in &outcome.messages {
        let _ = writeln!(out, "{message}");
    }
    out
}

fn status_line(outcome: &PromoteOutcome) -> String {
    let to = &outcome.change.to;
    let branch = outcome.branch.as_deref().unwrap_or_default();
    let commit = outcome.commit.as_deref().map_or("", |c| c.get(..12).unwrap_or(c));
    match outcome.status {
        PromoteStatus::NothingToPromote => {
            format!("nothing to promote: {to} already has what {} has", outcome.change.from)
        }
        PromoteStatus::Blocked => {
            let failed: Vec<&str> = outcome
                .gates
                .results
                .iter()
                .filter(|r| r.status == GateStatus::Failed)
                .map(|r| gate_name(r.gate))
                .collect();
            format!("blocked: gate {} failed; nothing was committed", failed.join(", "))
        }
        PromoteStatus::DryRun => "dry run: nothing was committed or pushed".to_owned(),
        PromoteStatus::Committed => match outcome.approval {
            Approval::PullRequest => format!(
                "committed {commit} on local branch {branch} (not pushed); push it with \
                 `git push {} {branch}` and open a pull request",
                outcome.remote
            ),
            Approval::Direct => format!(
                "committed {commit} on local branch {branch} (not pushed); this stage commits \
                 directly, so merge it into {} and push",
                outcome.base_branch
            ),
        },
        PromoteStatus::Pushed => format!(
            "pushed {commit} to {}/{} (approval: direct); run `git pull` to update your checkout",
            outcome.remote, outcome.base_branch
        ),
        PromoteStatus::PullRequestOpened | PromoteStatus::PullRequestUpdated => {
            let verb = if outcome.status == PromoteStatus::PullRequestOpened {
                "opened"
            } else {
                "updated"
            };
            let pr = outcome.pull_request.as_ref();
            format!(
                "{verb} pull request #{} {} (branch {branch}, commit {commit})",
                pr.map_or(0, |p| p.number),
                pr.map_or("", |p| p.url.as_str())
            )
        }
    }
}
