//! Keeps the UI's plans fresh without polling: a debounced file watcher on `environments/`
//! reloads only the environments whose files changed, and watches on each env's owned objects
//! catch drift made by others. Either way the env is re-planned and its new detail is pushed to
//! the UI as an `env-updated` event.

use coxswain::app_api::{
    ApiError, RemoteStatus, Session, envs_touched_with, overlay_dirs, remote_status,
};
use futures::StreamExt as _;
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;
use tauri::{AppHandle, Emitter as _, Runtime};
use tokio::sync::mpsc;

/// The event the UI listens to; its payload is an `EnvDetail`.
pub const ENV_UPDATED: &str = "env-updated";
/// Emitted when re-planning an env fails; its payload is `{env, error}`.
pub const ENV_ERROR: &str = "env-error";
/// File events are gathered until none came for this long: an editor's save (write, rename,
/// chmod) comes in bursts a few milliseconds apart, and what the person sees must follow the
/// save within 200 ms.
const FILE_QUIET: Duration = Duration::from_millis(25);
/// ... but no longer than this after the first, so a tool that keeps writing (a checkout of a
/// branch) still shows progress.
const FILE_GATHER_AT_MOST: Duration = Duration::from_millis(500);
/// How long cluster events are gathered before re-planning.
const CLUSTER_DEBOUNCE: Duration = Duration::from_millis(500);
/// Wait before re-opening a cluster watch that failed or ended.
const REWATCH_AFTER: Duration = Duration::from_secs(5);
/// How often the remote is fetched for commits not synced yet.
const FETCH_EVERY: Duration = Duration::from_mins(5);
/// The event carrying a `RemoteStatus` (or `{error}`) after each periodic fetch.
pub const REMOTE_STATUS: &str = "remote-status";

/// Why an env needs a new plan.
#[derive(Debug)]
enum Trigger {
    /// Its files changed: reload from disk first.
    Files(BTreeSet<String>),
    /// Its owned objects changed in the cluster.
    Cluster(String),
}

/// Dropping this stops every watcher of the repo.
pub struct Watchers {
    _files: Arc<RepoWatch>,
    tasks: Vec<tauri::async_runtime::JoinHandle<()>>,
}

impl Drop for Watchers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The file watcher of the repo: `environments/`, plus the folders outside it that kustomize
/// overlays read (their bases), which can change whenever an overlay's kustomization does.
struct RepoWatch {
    watcher: Mutex<RecommendedWatcher>,
    /// Per overlay env, the folders it reads (shared with the watcher's callback).
    overlays: Arc<RwLock<BTreeMap<String, Vec<String>>>>,
    /// Folders outside `environments/` watched so far.
    outside: Mutex<BTreeSet<String>>,
}

impl RepoWatch {
    /// Reads the overlays again and watches the folders they read that are not watched yet (a
    /// folder that does not exist is watched once it is referenced again after it appears).
    fn refresh(&self, session: &Session) {
        let root = session.root();
        let overlays = overlay_dirs(root, session.env_names());
        let wanted: BTreeSet<String> = overlays
            .values()
            .flatten()
            .filter(|dir| !dir.starts_with("environments/") && root.join(dir).is_dir())
            .cloned()
            .collect();
        *self.overlays.write().unwrap_or_else(PoisonError::into_inner) = overlays;
        let mut outside = self.outside.lock().unwrap_or_else(PoisonError::into_inner);
        let mut watcher = self.watcher.lock().unwrap_or_else(PoisonError::into_inner);
        for dir in wanted.difference(&outside.clone()) {
            let path = root.join(dir);
            match watcher.watch(&path, RecursiveMode::Recursive) {
                Ok(()) => {
                    outside.insert(dir.clone());
                }
                Err(error) => tracing::warn!(%error, path = %path.display(), "cannot watch"),
            }
        }
    }
}

/// Starts watching the session's repo and clusters.
pub fn start<R: Runtime>(app: AppHandle<R>, session: Arc<Session>) -> Result<Watchers, ApiError> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let root = session.root().to_path_buf();
    let known = session.env_names().to_vec();
    // Kustomize overlays also read folders outside `environments/` (their bases): those are
    // watched too, and a change there re-plans the overlays that read them.
    let overlays = Arc::new(RwLock::new(BTreeMap::new()));
    let callback_overlays = overlays.clone();
    let file_sender = sender.clone();
    let mut watcher =
        notify::recommended_watcher(move |result: notify::Result<Event>| match result {
            Ok(event) if changes_content(event.kind) => {
                let overlays = callback_overlays.read().unwrap_or_else(PoisonError::into_inner);
                let envs = envs_touched_with(&root, &event.paths, &known, &overlays);
                if !envs.is_empty() {
                    let _ = file_sender.send(Trigger::Files(envs));
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "repo watcher error"),
        })
        .map_err(|e| {
            ApiError::new("watch", format!("cannot watch {}: {e}", session.root().display()))
        })?;
    let environments = session.root().join("environments");
    watcher.watch(&environments, RecursiveMode::Recursive).map_err(|e| {
        ApiError::new("watch", format!("cannot watch {}: {e}", environments.display()))
    })?;
    let files = Arc::new(RepoWatch {
        watcher: Mutex::new(watcher),
        overlays,
        outside: Mutex::new(BTreeSet::new()),
    });
    files.refresh(&session);

    let app_for_fetch = app.clone();
    let mut tasks =
        vec![tauri::async_runtime::spawn(replan(app, session.clone(), files.clone(), receiver))];
    for env in session.env_names() {
        tasks.push(tauri::async_runtime::spawn(watch_cluster(
            session.clone(),
            env.clone(),
            sender.clone(),
        )));
    }
    tasks.push(tauri::async_runtime::spawn(fetch_periodically(app_for_fetch, session)));
    Ok(Watchers { _files: files, tasks })
}

/// Fetches the remote now and then, so commits pushed by others show before anyone syncs them.
async fn fetch_periodically<R: Runtime>(app: AppHandle<R>, session: Arc<Session>) {
    loop {
        tokio::time::sleep(FETCH_EVERY).await;
        let payload = match fetch_remote(session.clone()).await {
            Ok(status) => serde_json::json!({ "status": status }),
            Err(error) => serde_json::json!({ "error": error }),
        };
        let _ = app.emit(REMOTE_STATUS, payload);
    }
}

/// `git fetch` and the commits HEAD lacks, off the async threads (fetching blocks).
pub async fn fetch_remote(session: Arc<Session>) -> Result<Option<RemoteStatus>, ApiError> {
    tauri::async_runtime::spawn_blocking(move || remote_status(session.root(), session.env_names()))
        .await
        .map_err(|e| ApiError::new("internal", format!("the fetch task failed: {e}")))?
}

/// Whether an event can change what an env loads. Reads are not changes: the reload itself
/// opens every file of the env, and counting that would re-plan forever.
fn changes_content(kind: EventKind) -> bool {
    use notify::event::{MetadataKind, ModifyKind};
    !matches!(
        kind,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))
            | EventKind::Access(_)
            | EventKind::Other
    )
}

/// Re-plans envs as triggers arrive, merging triggers that arrive close together (an editor
/// writes a file in several steps; one sync writes many objects).
async fn replan<R: Runtime>(
    app: AppHandle<R>,
    session: Arc<Session>,
    files: Arc<RepoWatch>,
    mut receiver: mpsc::UnboundedReceiver<Trigger>,
) {
    // Each env's sync state at its last re-plan here, to tell drift from a steady state.
    let mut states = std::collections::HashMap::new();
    while let Some(first) = receiver.recv().await {
        let mut pending = vec![first];
        if matches!(pending[0], Trigger::Files(_)) {
            let until = tokio::time::Instant::now() + FILE_GATHER_AT_MOST;
            loop {
                let quiet = until.min(tokio::time::Instant::now() + FILE_QUIET);
                match tokio::time::timeout_at(quiet, receiver.recv()).await {
                    Ok(Some(more)) => pending.push(more),
                    Ok(None) | Err(_) => break,
                }
            }
        } else {
            tokio::time::sleep(CLUSTER_DEBOUNCE).await;
        }
        let mut reload = BTreeSet::new();
        let mut envs = BTreeSet::new();
        let mut from_cluster = BTreeSet::new();
        while let Ok(more) = receiver.try_recv() {
            pending.push(more);
        }
        for trigger in pending {
            match trigger {
                Trigger::Files(names) => {
                    envs.extend(names.iter().cloned());
                    reload.extend(names);
                }
                Trigger::Cluster(name) => {
                    from_cluster.insert(name.clone());
                    envs.insert(name);
                }
            }
        }
        if !reload.is_empty() {
            session.reload(&reload);
            // An overlay's kustomization may now read other folders.
            files.refresh(&session);
        }
        for env in envs {
            match session.detail(&env).await {
                Ok(detail) => {
                    let previous = states.insert(env.clone(), detail.overview.sync_state);
                    // Only the cluster changed (not the files): someone else wrote.
                    if from_cluster.contains(&env) && !reload.contains(&env) {
                        let running = session.is_running(&env);
                        if let Some(notice) = crate::notices::drift(previous, &detail, running) {
                            crate::notices::show(&app, notice);
                        }
                    }
                    let _ = app.emit(ENV_UPDATED, &detail);
                }
                Err(error) => {
                    let _ = app.emit(ENV_ERROR, serde_json::json!({"env": env, "error": error}));
                }
            }
        }
    }
}

/// Watches the env's owned objects; any change asks for a re-plan. Watches that fail (no
/// namespace yet, cluster unreachable) or end are re-opened after a pause.
async fn watch_cluster(session: Arc<Session>, env: String, sender: mpsc::UnboundedSender<Trigger>) {
    loop {
        if let Ok(streams) = session.watch_owned(&env).await {
            let mut events = futures::stream::select_all(streams);
            while let Some(event) = events.next().await {
                match event {
                    Ok(coxswain::cluster::WatchEvent::Bookmark { .. }) => {}
                    Ok(_) => {
                        if sender.send(Trigger::Cluster(env.clone())).is_err() {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
        tokio::time::sleep(REWATCH_AFTER).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, DataChange, MetadataKind, ModifyKind, RemoveKind};

    #[test]
    fn reads_are_not_changes_but_writes_creates_and_removes_are() {
        assert!(changes_content(EventKind::Modify(ModifyKind::Data(DataChange::Content))));
        assert!(changes_content(EventKind::Create(CreateKind::File)));
        assert!(changes_content(EventKind::Remove(RemoveKind::File)));
        assert!(!changes_content(EventKind::Access(AccessKind::Read)));
        assert!(!changes_content(EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::AccessTime
        ))));
    }
}
