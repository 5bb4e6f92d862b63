//! Tauri commands: one `Session` call each. Errors are `ApiError`s, which the UI receives as
//! `{code, message, location}`.

use crate::AppState;
use crate::progress::ChannelProgress;
use coxswain::app_api::{
    Action, ApiError, EnvDetail, EnvOverview, PodProblem, Preview, RemoteStatus, RepoInfo,
    RollbackOutcome, RolloutPreview, RolloutStatus,
};
use coxswain::history::Revision;
use coxswain::promote::PromoteOutcome;
use coxswain::promote::workload::{EditOutcome, WorkloadEdit};
use coxswain::sync::SyncReport;
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};

type Result<T> = std::result::Result<T, ApiError>;

/// What the repo picker needs: the open repo (if any), why none is open, and recent repos.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RepoState {
    pub info: Option<RepoInfo>,
    pub error: Option<ApiError>,
    pub recent: Vec<String>,
}

#[tauri::command]
pub async fn open_repo<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    path: PathBuf,
) -> Result<RepoInfo> {
    Ok(state.open(&app, &path)?.info())
}

#[tauri::command]
pub async fn repo_state(state: State<'_, AppState>) -> Result<RepoState> {
    let info = state.has_session().then(|| state.session().map(|s| s.info())).transpose()?;
    Ok(RepoState {
        info,
        error: state.startup_error(),
        recent: state.recent().iter().map(|p| p.display().to_string()).collect(),
    })
}

#[tauri::command]
pub async fn overview(state: State<'_, AppState>) -> Result<Vec<EnvOverview>> {
    Ok(state.session()?.overview().await)
}

#[tauri::command]
pub async fn env_detail(state: State<'_, AppState>, env: String) -> Result<EnvDetail> {
    state.session()?.detail(&env).await
}

#[tauri::command]
pub async fn live_object(
    state: State<'_, AppState>,
    env: String,
    id: String,
) -> Result<Option<String>> {
    state.session()?.live_object(&env, &id).await
}

/// A workload's failing pods, with the last lines of crashed containers' logs.
#[tauri::command]
pub async fn workload_pods(
    state: State<'_, AppState>,
    env: String,
    id: String,
) -> Result<Vec<PodProblem>> {
    state.session()?.workload_pods(&env, &id).await
}

#[tauri::command]
pub async fn preview_sync(
    state: State<'_, AppState>,
    env: String,
    force_conflicts: Option<bool>,
) -> Result<Preview> {
    state.session()?.preview_sync(&env, force_conflicts.unwrap_or(false)).await
}

#[tauri::command]
pub async fn sync_env(
    state: State<'_, AppState>,
    env: String,
    fingerprint: String,
    force_conflicts: Option<bool>,
    on_progress: Channel<Value>,
) -> Result<SyncReport> {
    let progress = ChannelProgress::new(on_progress);
    state.session()?.sync(&env, &fingerprint, force_conflicts.unwrap_or(false), &progress).await
}

/// Stops the env's running sync or rollback before its next write; `false` when none runs.
#[tauri::command]
pub async fn cancel_operation(state: State<'_, AppState>, env: String) -> Result<bool> {
    Ok(state.session()?.cancel(&env))
}

#[tauri::command]
pub async fn history(state: State<'_, AppState>, env: String) -> Result<Vec<Revision>> {
    state.session()?.history(&env).await
}

#[tauri::command]
pub async fn preview_rollback(
    state: State<'_, AppState>,
    env: String,
    to: Option<u64>,
) -> Result<Preview> {
    state.session()?.preview_rollback(&env, to).await
}

#[tauri::command]
pub async fn rollback(
    state: State<'_, AppState>,
    env: String,
    to: u64,
    fingerprint: String,
    git: bool,
    on_progress: Channel<Value>,
) -> Result<RollbackOutcome> {
    state.session()?.rollback(&env, to, &fingerprint, git, &ChannelProgress::new(on_progress)).await
}

/// What a rollout operation (pause, resume, promote, abort, undo) would write.
#[tauri::command]
pub async fn preview_rollout(
    state: State<'_, AppState>,
    env: String,
    workload: String,
    action: Action,
) -> Result<RolloutPreview> {
    state.session()?.preview_rollout(&env, &workload, action).await
}

/// The rollout operation, if the rollout is still where the preview saw it.
#[tauri::command]
pub async fn rollout(
    state: State<'_, AppState>,
    env: String,
    workload: String,
    action: Action,
    fingerprint: String,
) -> Result<RolloutStatus> {
    state.session()?.rollout(&env, &workload, action, &fingerprint).await
}

/// `set image` / `scale` in git: the edit's diff without `commit`; with it, commit and push (a
/// pull request for protected envs).
#[tauri::command]
pub async fn edit_workload(
    state: State<'_, AppState>,
    env: String,
    workload: String,
    edit: WorkloadEdit,
    commit: bool,
) -> Result<EditOutcome> {
    state.session()?.edit_workload(&env, &workload, edit, commit).await
}

/// Runs CPU-bound work (model validation) on a blocking thread, off the async workers.
async fn on_blocking_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::new("internal", format!("the sync task failed: {e}")))?
}

/// Fetches the remote now; the watcher also does so every few minutes.
#[tauri::command]
pub async fn remote_status(state: State<'_, AppState>) -> Result<Option<RemoteStatus>> {
    crate::watch::fetch_remote(state.session()?).await
}

#[tauri::command]
pub async fn set_context(
    state: State<'_, AppState>,
    env: String,
    context: Option<String>,
) -> Result<()> {
    state.session()?.set_context(&env, context)
}

/// A promotion's dry run: what moves, every gate's result, the diff; nothing committed.
#[tauri::command]
pub async fn promote_preview(
    state: State<'_, AppState>,
    from: String,
    to: String,
) -> Result<PromoteOutcome> {
    let session = state.session()?;
    on_blocking_thread(move || tauri::async_runtime::block_on(session.promote(&from, &to, false)))
        .await
}

/// The promotion itself: commit, push, pull request (see `Session::promote`).
#[tauri::command]
pub async fn promote(
    state: State<'_, AppState>,
    from: String,
    to: String,
) -> Result<PromoteOutcome> {
    let session = state.session()?;
    on_blocking_thread(move || tauri::async_runtime::block_on(session.promote(&from, &to, true)))
        .await
}

/// Opens a web page (a pull request) in the user's browser. Only `http(s)` URLs: the webview
/// must not be able to launch arbitrary programs or files through the desktop's handlers.
#[tauri::command]
pub async fn open_in_browser(url: String) -> Result<()> {
    if !is_web_url(&url) {
        return Err(ApiError::new("bad-url", format!("not a web address: {url}")));
    }
    open::that_detached(&url)
        .map_err(|error| ApiError::new("open-failed", format!("cannot open {url}: {error}")))
}

/// Help → Open logs: the folder of the app's log files in the file manager.
#[tauri::command]
pub async fn open_logs(state: State<'_, AppState>) -> Result<String> {
    let dir = state
        .log_dir()
        .ok_or_else(|| ApiError::new("no-logs", "the app could not create its log folder"))?;
    open::that_detached(&dir).map_err(|error| {
        ApiError::new("open-failed", format!("cannot open {}: {error}", dir.display()))
    })?;
    Ok(dir.display().to_string())
}

fn is_web_url(url: &str) -> bool {
    ["https://", "http://"].iter().any(|scheme| {
        url.get(..scheme.len()).is_some_and(|head| head.eq_ignore_ascii_case(scheme))
            && url.len() > scheme.len()
            && !url.chars().any(char::is_control)
    })
}

#[cfg(test)]
mod tests {
    use super::is_web_url;

    #[test]
    fn only_web_addresses_are_opened() {
        assert!(is_web_url("https://github.com/acme/gitops/pull/7"));
        assert!(is_web_url("HTTP://example.com"));
        for url in
            ["file:///etc/passwd", "javascript:alert(1)", "https://", "/tmp/x", "https://a\nb"]
        {
            assert!(!is_web_url(url), "{url}");
        }
    }
}
