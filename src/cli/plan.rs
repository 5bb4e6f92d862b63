//! `coxswain plan`: the plan printed, and with `--comment-pr` posted on the pull request.

use super::args::PlanArgs;
use super::render;
use crate::engine::{Engine, EngineError};
use crate::exit::ExitCode;
use crate::plan::PlanOptions;
use crate::promote::plan_comment::{CommentAction, run_url_from_env};

pub(super) async fn plan_command(engine: &Engine, args: PlanArgs) -> Result<ExitCode, EngineError> {
    let options = PlanOptions { force_conflicts: args.force_conflicts, ..PlanOptions::default() };
    let env = args.env.get();
    let report = engine.plan_all(env.as_deref(), args.context.as_deref(), &options).await?;
    render::plan(&report, args.output);
    if let Some(number) = args.comment_pr {
        let settings = args.github.settings();
        let posted =
            engine.comment_plan(number, &report, &settings, run_url_from_env().as_deref()).await?;
        for comment in &posted {
            let cut = if comment.truncated { " (truncated to GitHub's limit)" } else { "" };
            match comment.action {
                CommentAction::Created => {
                    eprintln!("{}: plan comment created{cut}: {}", comment.env, comment.url);
                }
                CommentAction::Updated => {
                    eprintln!("{}: plan comment updated{cut}: {}", comment.env, comment.url);
                }
                CommentAction::Unchanged => {
                    eprintln!("{}: plan comment already up to date: {}", comment.env, comment.url);
                }
                CommentAction::Skipped => {
                    eprintln!("{}: no changes; no plan comment posted", comment.env);
                }
            }
        }
    }
    Ok(if report.summary.errors > 0 {
        ExitCode::Error
    } else if args.detailed_exitcode && report.summary.has_changes() {
        ExitCode::Changes
    } else {
        ExitCode::Ok
    })
}
