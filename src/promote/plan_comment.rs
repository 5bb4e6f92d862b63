//! The plan as pull-request comments (`coxswain plan --comment-pr N`): one comment per
//! environment, found again by a hidden marker on its first line and edited in place on every
//! push, so a pull request carries one current plan per env instead of a growing thread (what
//! `gh pr comment --edit-last` cannot do: it edits whichever comment the token wrote last).

use super::forge::{Comment, Forge, ForgeError};
use crate::plan::EnvPlan;
use crate::plan::render::PlanReport;
use serde::Serialize;
use std::fmt::Write as _;

/// GitHub refuses comment bodies longer than this many characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// Closes a Markdown code block left open by the cut.
const FENCE: &str = "```\n";

#[derive(Debug, thiserror::Error)]
pub enum CommentError {
    #[error("posting the plan on pull request #{number} needs GitHub access: {reason}")]
    NoForge { number: u64, reason: String },
    #[error("posting the plan of {env} on pull request #{number}: {error}")]
    Forge { env: String, number: u64, error: ForgeError },
    #[error("reading the comments of pull request #{number}: {error}")]
    List { number: u64, error: ForgeError },
}

/// One environment's plan, rendered as Markdown.
#[derive(Debug, Clone)]
pub struct EnvComment {
    pub env: String,
    pub markdown: String,
    /// Changes (rollout steps included), errors or skipped objects: worth a new comment. A plan
    /// without any updates an existing comment (the PR's earlier changes are gone) but opens
    /// none, so a repo of ten environments does not put ten "No changes." comments on every
    /// pull request.
    pub noteworthy: bool,
}

impl EnvComment {
    /// The plan of one environment.
    pub fn of_plan(plan: &EnvPlan) -> Self {
        let single = PlanReport::new(vec![plan.clone()]);
        Self {
            env: plan.env.clone(),
            noteworthy: single.summary.has_changes()
                || plan.rollout_writes
                || single.summary.errors > 0
                || !plan.skipped.is_empty(),
            markdown: single.render_markdown(),
        }
    }

    /// A plan that could not be made: replaces the env's earlier plan, which would otherwise
    /// stay on the pull request looking current.
    pub fn failed(env: &str, error: &str) -> Self {
        Self {
            env: env.to_owned(),
            markdown: format!(
                "### Coxswain plan\n\n❌ **The plan could not be made**; fix this and push \
                 again:\n\n~~~text\n{}\n~~~\n",
                error.replace("~~~", "~ ~ ~")
            ),
            noteworthy: true,
        }
    }
}

/// What was done with one environment's comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommentAction {
    Created,
    Updated,
    /// The comment already said this; not edited.
    Unchanged,
    /// No changes and no earlier comment: none opened.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Posted {
    pub env: String,
    pub action: CommentAction,
    /// The comment's page; empty when skipped.
    pub url: String,
    /// The plan was cut to fit the forge's limit.
    pub truncated: bool,
}

/// The hidden first line that identifies `env`'s plan comment.
pub fn marker(env: &str) -> String {
    format!("<!-- coxswain:plan env={env} -->")
}

/// The page of the current GitHub Actions run (`GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`,
/// `GITHUB_RUN_ID`), where the untruncated plan is (job summary and log); `None` outside Actions.
pub fn run_url_from_env() -> Option<String> {
    let var = |name: &str| std::env::var(name).ok();
    run_url(var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY"), var("GITHUB_RUN_ID"))
}

fn run_url(
    server: Option<String>,
    repository: Option<String>,
    run: Option<String>,
) -> Option<String> {
    let [server, repository, run] =
        [server, repository, run].map(|v| v.filter(|v| !v.trim().is_empty()));
    Some(format!("{}/{}/actions/runs/{}", server?.trim_end_matches('/'), repository?, run?))
}

/// The comment for `env`: the marker, the plan titled with the env, and — when that is over
/// [`GITHUB_COMMENT_LIMIT`] characters — the plan cut at a line (an open code block closed)
/// with a note pointing at `full_report`. Returns the body and whether it was cut.
pub fn comment_body(env: &str, markdown: &str, full_report: Option<&str>) -> (String, bool) {
    let plan = match markdown.strip_prefix("### Coxswain plan\n") {
        Some(rest) => format!("### Coxswain plan: `{env}`\n{rest}"),
        None => markdown.to_owned(),
    };
    let head = format!("{}\n", marker(env));
    let whole = format!("{head}{plan}");
    if whole.chars().count() <= GITHUB_COMMENT_LIMIT {
        return (whole, false);
    }
    let mut note = format!(
        "\n---\n⚠️ **Truncated**: the plan of `{env}` is {} characters, more than a GitHub \
         comment holds ({GITHUB_COMMENT_LIMIT}). ",
        plan.chars().count()
    );
    match full_report {
        Some(url) => {
            let _ = write!(note, "The full plan: {url}");
        }
        None => {
            let _ = write!(note, "Run `coxswain plan {env}` for the full plan.");
        }
    }
    note.push('\n');
    let budget = GITHUB_COMMENT_LIMIT
        .saturating_sub(head.chars().count() + note.chars().count() + FENCE.len());
    let cut: String = plan.chars().take(budget).collect();
    let mut kept = match cut.rfind('\n') {
        Some(end) => cut[..=end].to_owned(),
        None => cut,
    };
    let fences = kept.lines().filter(|line| line.trim_start().starts_with("```")).count();
    if fences % 2 == 1 {
        kept.push_str(FENCE);
    }
    (format!("{head}{kept}{note}"), true)
}

/// Creates or updates the comment of each env on pull request `number`: the first comment whose
/// first line is the env's [`marker`] is edited, else one is created (when noteworthy).
pub async fn post(
    forge: &dyn Forge,
    number: u64,
    plans: &[EnvComment],
    full_report: Option<&str>,
) -> Result<Vec<Posted>, CommentError> {
    let existing =
        forge.comments(number).await.map_err(|error| CommentError::List { number, error })?;
    let mut posted = Vec::new();
    for plan in plans {
        let (body, truncated) = comment_body(&plan.env, &plan.markdown, full_report);
        let marker = marker(&plan.env);
        let found: Option<&Comment> =
            existing.iter().find(|c| c.body.lines().next() == Some(marker.as_str()));
        let forge_error = |error| CommentError::Forge { env: plan.env.clone(), number, error };
        let (action, url) = match found {
            Some(comment) if comment.body == body => {
                (CommentAction::Unchanged, comment.url.clone())
            }
            Some(comment) => {
                let edited = forge.edit_comment(comment.id, &body).await.map_err(forge_error)?;
                (CommentAction::Updated, edited.url)
            }
            None if plan.noteworthy => {
                let created = forge.create_comment(number, &body).await.map_err(forge_error)?;
                (CommentAction::Created, created.url)
            }
            None => (CommentAction::Skipped, String::new()),
        };
        posted.push(Posted { env: plan.env.clone(), action, url, truncated });
    }
    Ok(posted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_plan_is_kept_whole_under_its_marker() {
        let (body, truncated) = comment_body("dev", "### Coxswain plan\n\nNo changes.\n", None);
        assert!(!truncated);
        assert_eq!(
            body,
            "<!-- coxswain:plan env=dev -->\n### Coxswain plan: `dev`\n\nNo changes.\n"
        );
    }

    #[test]
    fn a_long_plan_is_cut_at_a_line_with_its_code_block_closed() {
        let mut plan = String::from("### Coxswain plan\n\n```diff\n");
        while plan.len() < 3 * GITHUB_COMMENT_LIMIT {
            plan.push_str("+  data: é0123456789abcdefghijklmnopqrstuvwxyz\n");
        }
        plan.push_str("```\nthe end\n");
        let url = "https://github.com/acme/gitops/actions/runs/42";
        let (body, truncated) = comment_body("prod", &plan, Some(url));
        assert!(truncated);
        assert!(body.chars().count() <= GITHUB_COMMENT_LIMIT, "{}", body.chars().count());
        assert!(body.chars().count() > GITHUB_COMMENT_LIMIT - 200, "{}", body.chars().count());
        assert!(body.starts_with("<!-- coxswain:plan env=prod -->\n### Coxswain plan: `prod`\n"));
        assert!(!body.contains("the end"));
        assert!(
            body.ends_with(&format!("The full plan: {url}\n")),
            "{}",
            &body[body.len() - 300..]
        );
        let before_note = body.split("\n---\n").next().unwrap();
        assert!(before_note.ends_with("abcdefghijklmnopqrstuvwxyz\n```\n"), "{before_note:?}");
        let fences = body.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(fences % 2, 0);
        let (body, _) = comment_body("prod", &plan, None);
        assert!(body.contains("Run `coxswain plan prod` for the full plan."));
    }

    #[test]
    fn the_run_url_needs_all_three_variables() {
        let some = |v: &str| Some(v.to_owned());
        assert_eq!(
            run_url(some("https://github.com/"), some("acme/gitops"), some("42")).as_deref(),
            Some("https://github.com/acme/gitops/actions/runs/42")
        );
        assert_eq!(run_url(some("https://github.com"), None, some("42")), None);
        assert_eq!(run_url(some("https://github.com"), some("acme/gitops"), some("")), None);
    }
}
