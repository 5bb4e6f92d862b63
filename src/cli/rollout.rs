//! `coxswain rollout`, `coxswain set image` and `coxswain scale`: parse, one engine call, render.

use super::args::{GitEditArgs, RolloutOp};
use super::progress::TerminalProgress;
use super::render::{self, Format};
use super::signals::cancel_on_signals;
use crate::engine::{Engine, EngineError, RolloutRequest, SyncRequest};
use crate::exit::ExitCode;
use crate::promote::workload::{EditOptions, EditOutcome, EditStatus, WorkloadEdit};
use crate::rollout::Action;

/// `coxswain set-image` / `coxswain scale`: one engine call, rendered; with `--sync`, the
/// sync of the commit rendered as `coxswain sync` renders it.
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
    if !git.sync {
        let outcome = engine.edit_workload(options, &forge).await?;
        render::workload_edit(&outcome, git.output);
        return Ok(ExitCode::Ok);
    }
    let request = SyncRequest { context: git.context, ..SyncRequest::default() };
    let progress =
        TerminalProgress::new(super::sync::approved(git.yes, false), git.output == Format::Text);
    let signals = cancel_on_signals(&request.cancel);
    let output = git.output;
    let text = output == Format::Text;
    // Text: the edit first, then the sync's progress; JSON or YAML: one document at the end.
    let show = move |outcome: &EditOutcome| {
        if text {
            render::workload_edit(outcome, output);
        }
    };
    let started = chrono::Local::now().fixed_offset();
    let clock = std::time::Instant::now();
    let result = Box::pin(engine.edit_and_sync(options, &forge, &request, &progress, &show)).await;
    signals.abort();
    let (outcome, synced) = result?;
    progress.finish();
    if !text {
        return Ok(render::workload_edit_synced(&outcome, synced.as_ref(), output));
    }
    let Some(synced) = synced else {
        eprintln!(
            "{}",
            if outcome.status == EditStatus::DryRun {
                "--sync: a dry run syncs nothing".to_owned()
            } else {
                format!(
                    "--sync: {} is protected, so the change is a pull request; nothing is synced \
                     now — sync the environment once the pull request is merged",
                    outcome.env
                )
            }
        );
        return Ok(ExitCode::Ok);
    };
    render::sync(engine.root(), (started, &[(synced, clock.elapsed())]), &[], git.output, false)
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
