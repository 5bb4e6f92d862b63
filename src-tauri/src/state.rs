//! The app's state: the open repo's session, the watchers that keep it fresh, recent repos.

use crate::{recent, watch};
use coxswain::app_api::{ApiError, Connector, Session};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use tauri::{AppHandle, Runtime};

/// Managed by Tauri; commands reach the session through it.
pub struct AppState {
    connector: Connector,
    session: Mutex<Option<Arc<Session>>>,
    /// Dropping the handles stops the watchers of the previous repo.
    watchers: Mutex<Option<watch::Watchers>>,
    recent_file: Mutex<Option<PathBuf>>,
    startup_error: Mutex<Option<ApiError>>,
    /// Where the log files go (`None`: not logging).
    log_dir: Mutex<Option<PathBuf>>,
}

impl AppState {
    pub fn new(connector: Connector, recent_file: Option<PathBuf>) -> Self {
        Self {
            connector,
            session: Mutex::new(None),
            watchers: Mutex::new(None),
            recent_file: Mutex::new(recent_file),
            startup_error: Mutex::new(None),
            log_dir: Mutex::new(None),
        }
    }

    /// Opens `path` as the current repo, starts watching it and remembers it.
    pub fn open<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        path: &Path,
    ) -> Result<Arc<Session>, ApiError> {
        let session = Arc::new(Session::open(path, self.connector.clone())?);
        let watchers = watch::start(app.clone(), session.clone())?;
        *lock(&self.watchers) = Some(watchers);
        *lock(&self.session) = Some(session.clone());
        *lock(&self.startup_error) = None;
        if let Some(file) = lock(&self.recent_file).clone() {
            let list = recent::remember(recent::load(&file), session.root());
            if let Err(error) = recent::save(&file, &list) {
                tracing::warn!(%error, file = %file.display(), "could not remember the repo");
            }
        }
        Ok(session)
    }

    /// The open repo's session, or an error the UI answers with the repo picker.
    pub fn session(&self) -> Result<Arc<Session>, ApiError> {
        lock(&self.session).clone().ok_or_else(|| {
            lock(&self.startup_error).clone().unwrap_or_else(|| {
                ApiError::new("no-repo", "no repo is open: choose a folder holding environments/")
            })
        })
    }

    pub fn has_session(&self) -> bool {
        lock(&self.session).is_some()
    }

    pub fn set_recent_file(&self, file: PathBuf) {
        *lock(&self.recent_file) = Some(file);
    }

    pub fn recent(&self) -> Vec<PathBuf> {
        lock(&self.recent_file).as_deref().map(recent::load).unwrap_or_default()
    }

    pub fn set_startup_error(&self, error: ApiError) {
        *lock(&self.startup_error) = Some(error);
    }

    pub fn set_log_dir(&self, dir: Option<PathBuf>) {
        *lock(&self.log_dir) = dir;
    }

    pub fn log_dir(&self) -> Option<PathBuf> {
        lock(&self.log_dir).clone()
    }

    pub fn startup_error(&self) -> Option<ApiError> {
        lock(&self.startup_error).clone()
    }
}

/// A poisoned lock only means another command panicked; the data is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
