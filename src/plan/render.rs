//! Renders plans for people (text, with colour on a terminal), for pull requests (Markdown,
//! collapsible per object) and for machines (JSON, documented in docs/json-output.md).

use super::{Action, EnvPlan};
use serde::Serialize;
use std::fmt::Write as _;

/// Plans of several environments, as one report.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PlanReport {
    pub schema_version: u32,
    pub environments: Vec<EnvPlan>,
    pub summary: PlanSummary,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PlanSummary {
    pub create: usize,
    pub update: usize,
    pub prune: usize,
    pub orphan: usize,
    pub unchanged: usize,
    pub errors: usize,
    /// Namespaces a sync would create.
    pub namespaces: usize,
    /// Updates that take back drift by another field manager: a sync needs `--force-conflicts`.
    pub drifted: usize,
}

impl PlanSummary {
    pub fn has_changes(&self) -> bool {
        self.create + self.update + self.prune + self.namespaces > 0
    }
}

impl PlanReport {
    pub fn new(environments: Vec<EnvPlan>) -> Self {
        let mut summary = PlanSummary::default();
        for env in &environments {
            summary.create += env.count(Action::Create);
            summary.update += env.count(Action::Update);
            summary.prune += env.count(Action::Prune);
            summary.orphan += env.count(Action::Orphan);
            summary.unchanged += env.count(Action::Unchanged);
            summary.errors += env.errors.len();
            summary.namespaces += usize::from(!env.namespace_exists);
            summary.drifted += env.objects.iter().filter(|o| o.needs_force()).count();
        }
        Self { schema_version: 1, environments, summary }
    }

    /// Terminal output: a summary table, then the diff of every changed object.
    pub fn render_text(&self, colour: bool) -> String {
        let mut out = String::new();
        let rows: Vec<[String; 4]> = self
            .environments
            .iter()
            .flat_map(|env| {
                let namespace_row = (!env.namespace_exists).then(|| {
                    [
                        env.env.clone(),
                        "Namespace".to_owned(),
                        env.namespace.clone(),
                        "create".to_owned(),
                    ]
                });
                namespace_row.into_iter().chain(
                    env.objects.iter().filter(|o| o.action != Action::Unchanged).map(|o| {
                        [
                            env.env.clone(),
                            o.key.group_kind.clone(),
                            o.key.name.clone(),
                            o.action.as_str().to_owned(),
                        ]
                    }),
                )
            })
            .collect();
        if rows.is_empty() {
            out.push_str("No changes.\n");
        } else {
            let header = ["ENV", "KIND", "NAME", "ACTION"].map(str::to_owned);
            let widths: Vec<usize> = (0..4)
                .map(|i| rows.iter().chain([&header]).map(|r| r[i].len()).max().unwrap_or(0))
                .collect();
            for row in [&header].into_iter().chain(&rows) {
                let line = (0..4)
                    .map(|i| format!("{:w$}", row[i], w = widths[i]))
                    .collect::<Vec<_>>()
                    .join("  ");
                let _ = writeln!(out, "{}", paint(line.trim_end(), action_colour(&row[3]), colour));
            }
        }
        for env in &self.environments {
            for object in
                env.objects.iter().filter(|o| !o.diff.is_empty() && o.action != Action::Unchanged)
            {
                let _ = writeln!(
                    out,
                    "\n{} {} ({}{})",
                    paint(object.action.as_str(), action_colour(object.action.as_str()), colour),
                    object.key,
                    env.env,
                    object.source.as_ref().map(|s| format!(", {s}")).unwrap_or_default()
                );
                for line in object.diff.lines() {
                    let tint = match line.as_bytes().first() {
                        Some(b'+') if !line.starts_with("+++") => "32",
                        Some(b'-') if !line.starts_with("---") => "31",
                        Some(b'@') => "36",
                        _ => "",
                    };
                    let _ = writeln!(out, "{}", paint(line, tint, colour));
                }
                for drift in &object.drift {
                    let _ = writeln!(
                        out,
                        "{}",
                        paint(&format!("drift: {}", drift_sentence(drift)), "35", colour)
                    );
                }
                if !object.drift.is_empty() {
                    let _ = writeln!(out, "{}", paint(drift_note(object), "35", colour));
                }
            }
            for error in &env.errors {
                let _ = writeln!(out, "{}", paint(&error.to_string(), "31", colour));
            }
            if !env.skipped.is_empty() {
                let _ = writeln!(out, "\n{} in {}:", paint(SKIPPED_TITLE, "35", colour), env.env);
                for object in &env.skipped {
                    let _ = writeln!(out, "  {}: {}", object.key, object.reason);
                }
            }
            if !env.rollouts.is_empty() {
                let _ = writeln!(out, "\n{} in {}:", paint("Rollouts", "36", colour), env.env);
                for rollout in &env.rollouts {
                    let _ = writeln!(out, "  {rollout}");
                }
            }
        }
        let s = self.summary;
        let _ = writeln!(
            out,
            "\nPlan: {} to create, {} to update, {} to prune, {} unchanged{}{}.",
            s.create + s.namespaces,
            s.update,
            s.prune,
            s.unchanged,
            if s.orphan > 0 {
                format!(", {} orphaned (pruning off)", s.orphan)
            } else {
                String::new()
            },
            if s.errors > 0 { format!(", {} errors", s.errors) } else { String::new() },
        );
        if s.drifted > 0 {
            let _ = writeln!(
                out,
                "{} update(s) take back changes another field manager made: sync with \
                 --force-conflicts to apply them.",
                s.drifted
            );
        }
        out
    }

    /// Markdown for a pull-request comment: a summary table and one collapsible diff per object.
    pub fn render_markdown(&self) -> String {
        let mut out = String::from("### Coxswain plan\n\n");
        let s = self.summary;
        let _ = writeln!(
            out,
            "**{} to create, {} to update, {} to prune, {} unchanged**{}\n",
            s.create + s.namespaces,
            s.update,
            s.prune,
            s.unchanged,
            if s.errors > 0 { format!(" — ⚠️ {} errors", s.errors) } else { String::new() }
        );
        if s.drifted > 0 {
            let _ = writeln!(
                out,
                "⚠️ {} update(s) take back changes another field manager made: the sync \
                 needs `--force-conflicts`.\n",
                s.drifted
            );
        }
        if !s.has_changes() && s.errors == 0 {
            out.push_str("No changes.\n");
            if self.environments.iter().all(|env| env.skipped.is_empty()) {
                return out;
            }
        } else {
            out.push_str("| Env | Kind | Name | Action |\n|---|---|---|---|\n");
        }
        for env in &self.environments {
            if !env.namespace_exists {
                let _ = writeln!(out, "| {} | Namespace | {} | create |", env.env, env.namespace);
            }
            for object in env.objects.iter().filter(|o| o.action != Action::Unchanged) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    env.env,
                    object.key.group_kind,
                    object.key.name,
                    if object.needs_force() { "update (drift)" } else { object.action.as_str() }
                );
            }
        }
        for env in &self.environments {
            for object in
                env.objects.iter().filter(|o| o.action != Action::Unchanged && !o.diff.is_empty())
            {
                let mut drift = String::new();
                if !object.drift.is_empty() {
                    drift.push_str("\n| Field | Live | Git | Set by |\n|---|---|---|---|\n");
                    for d in &object.drift {
                        let _ = writeln!(
                            drift,
                            "| `{}` | {} | {} | `{}` |",
                            d.field,
                            code_or_unknown(d.live.as_deref()),
                            code_or_unknown(d.git.as_deref()),
                            d.manager
                        );
                    }
                    let _ = writeln!(drift, "\n{}", drift_note(object));
                }
                let _ = write!(
                    out,
                    "\n<details><summary>{} <code>{}</code> ({})</summary>\n\n```diff\n{}```\n{drift}</details>\n",
                    object.action.as_str(),
                    object.key,
                    env.env,
                    object.diff
                );
            }
            if !env.errors.is_empty() {
                let _ = writeln!(out, "\n**Errors in {}:**\n", env.env);
                for error in &env.errors {
                    let _ = writeln!(out, "- `{}`: {}", error.location(), error.message);
                }
            }
            if !env.skipped.is_empty() {
                let _ = writeln!(out, "\n**{SKIPPED_TITLE} in {}:**\n", env.env);
                for object in &env.skipped {
                    let _ = writeln!(out, "- `{}`: {}", object.key, object.reason);
                }
            }
            if !env.rollouts.is_empty() {
                let _ = writeln!(out, "\n**Rollouts in {}:**\n", env.env);
                for rollout in &env.rollouts {
                    let _ = writeln!(out, "- {rollout}");
                }
            }
        }
        out
    }
}

/// Said under every drifted object: whether the sync needs `--force-conflicts` or has it.
fn drift_note(object: &super::ObjectPlan) -> &'static str {
    if object.needs_force() {
        "another field manager owns these fields now: a sync takes them back only with \
         --force-conflicts"
    } else {
        "another field manager owns these fields now: with --force-conflicts, the sync takes them \
         back"
    }
}

/// `FIELD is LIVE in the cluster (set by MANAGER); git has GIT`.
fn drift_sentence(drift: &super::Drift) -> String {
    format!(
        "{} is {} in the cluster (set by {}); git has {}",
        drift.field,
        drift.live.as_deref().unwrap_or("(unknown)"),
        drift.manager,
        drift.git.as_deref().unwrap_or("(unknown)")
    )
}

/// A value as inline Markdown code, backticks in it escaped by a longer fence.
fn code_or_unknown(value: Option<&str>) -> String {
    match value {
        None => "(unknown)".to_owned(),
        Some(text) if text.contains('`') => format!("`` {} ``", text.replace('|', "\\|")),
        Some(text) => format!("`{}`", text.replace('|', "\\|")),
    }
}

/// The heading of skipped look-alikes.
const SKIPPED_TITLE: &str =
    "Not pruned: look like this environment's objects, but Coxswain did not create them";

fn action_colour(action: &str) -> &'static str {
    match action {
        "create" => "32",
        "update" => "33",
        "prune" => "31",
        "orphan" => "35",
        _ => "",
    }
}

fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour && !code.is_empty() { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
}
