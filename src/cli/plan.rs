//! `coxswain plan`: the plan printed, and with `--comment-pr` posted on the pull request.

use super::args::PlanArgs;
use super::render;
use crate::engine::{Engine, EngineError};
use crate::exit::ExitCode;
use crate::plan::PlanOptions;
use crate::promote::plan_comment::{CommentAction, EnvComment, Posted, run_url_from_env};

pub(super) async fn plan_command(engine: &Engine, args: PlanArgs) -> Result<ExitCode, EngineError> {
    let options = PlanOptions { force_conflicts: args.force_conflicts, ..PlanOptions::default() };
    let env = args.env.get();
    let planned = engine.plan_all(env.as_deref(), args.context.as_deref(), &options).await;
    let comments: Vec<EnvComment> = match &planned {
        Ok(report) => report.environments.iter().map(EnvComment::of_plan).collect(),
        // The plan failed: the envs it was for say so, instead of keeping an earlier plan that
        // would look current (an unknown --env names none).
        Err(error) => engine
            .env_names()
            .iter()
            .filter(|name| env.as_ref().is_none_or(|only| only == *name))
            .map(|name| EnvComment::failed(name, &error.to_string()))
            .collect(),
    };
    if let Ok(report) = &planned {
        render::plan(report, args.output);
    }
    if let Some(number) = args.comment_pr {
        let settings = args.github.settings();
        let url = run_url_from_env();
        match engine.comment_plans(number, &comments, &settings, url.as_deref()).await {
            Ok(posted) => say(&posted),
            // The plan's own error comes first; the comment's is secondary then.
            Err(error) if planned.is_err() => eprintln!("error: {error}"),
            Err(error) => return Err(error),
        }
    }
    let report = planned?;
    Ok(if report.summary.errors > 0 {
        ExitCode::Error
    } else if args.detailed_exitcode
        && (report.summary.has_changes()
            || report.environments.iter().any(|plan| plan.rollout_writes))
    {
        ExitCode::Changes
    } else {
        ExitCode::Ok
    })
}

/// One line on stderr per env: what happened to its comment.
fn say(posted: &[Posted]) {
    for comment in posted {
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
