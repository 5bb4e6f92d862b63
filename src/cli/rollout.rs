//! `coxswain rollout`, `coxswain set image` and `coxswain scale`: parse, one engine call, render.

use super::args::{GitEditArgs, RolloutOp};
use super::render::{self, Format};
use super::signals::cancel_on_signals;
use crate::engine::{Engine, EngineError, RolloutRequest};
use crate::exit::ExitCode;
use crate::promote::workload::{EditOptions, WorkloadEdit};
use crate::rollout::Action;

/// `coxswain set-image` / `coxswain scale`: one engine call, rendered.
pub(super) async fn edit_command(
    engine: &Engine,
    workload: String,
    edit: WorkloadEdit,
    git: GitEditArgs,
) -> Result<ExitCode, EngineError> {
    render::text_or_json("set/scale", git.output)?;
    let options = EditOptions {
        env: git.env,
        workload,
        edit,
        remote: git.remote,
        push: !git.no_push,
        dry_run: git.dry_run,
        token: None,
    };
    let forge = git.github.settings();
    let outcome = engine.edit_workload(options, &forge).await?;
    render::workload_edit(&outcome, git.output);
    Ok(ExitCode::Ok)
}

/// `coxswain rollout OPERATION [WORKLOAD] --env E`: parse, one engine call, render.
pub(super) async fn rollout_command(
    engine: &Engine,
    operation: RolloutOp,
    workload: Option<String>,
    env: &str,
    context: Option<String>,
    output: Format,
) -> Result<ExitCode, EngineError> {
    render::text_or_json("rollout", output)?;
    let action = match operation {
        RolloutOp::Status => {
            let statuses = match &workload {
                Some(workload) => {
                    vec![engine.rollout_status(env, workload, context.as_deref()).await?]
                }
                None => engine.rollout_statuses(env, context.as_deref()).await?,
            };
            render::rollouts(&statuses, output);
            return Ok(ExitCode::Ok);
        }
        RolloutOp::Pause => Action::Pause,
        RolloutOp::Resume => Action::Resume,
        RolloutOp::Promote => Action::Promote,
        RolloutOp::Abort => Action::Abort,
        RolloutOp::Undo => Action::Undo,
    };
    let Some(workload) = workload else {
        return Err(EngineError::Usage {
            message: format!(
                "`coxswain rollout {}` needs the workload: name the Deployment",
                action.as_str()
            ),
        });
    };
    let request = RolloutRequest { context, ..RolloutRequest::default() };
    let signals = cancel_on_signals(&request.cancel);
    let status = engine.rollout(env, &workload, action, &request).await;
    signals.abort();
    render::rollouts(std::slice::from_ref(&status?), output);
    Ok(ExitCode::Ok)
}
