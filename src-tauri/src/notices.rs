//! Desktop notifications: drift found in a watched environment, and a sync or rollback that
//! ended while the window was not in front. Best effort: a desktop without a notification
//! service shows nothing, and the app goes on.

use coxswain::app_api::{EnvDetail, SyncState};
use coxswain::sync::{SyncReport, SyncStatus};
use tauri::{AppHandle, Manager as _, Runtime};

/// A notification's title and body.
pub type Notice = (String, String);

/// For a re-plan the cluster alone triggered: an env that was in sync no longer is, and no
/// sync of this app is running on it (its own writes are not drift).
pub fn drift(previous: Option<SyncState>, detail: &EnvDetail, running: bool) -> Option<Notice> {
    let now = detail.overview.sync_state;
    if running || previous != Some(SyncState::Synced) || now != SyncState::OutOfSync {
        return None;
    }
    let counts = &detail.overview.counts;
    let changed = counts.create + counts.update + counts.prune;
    Some((
        format!("{} drifted from git", detail.overview.name),
        format!(
            "{changed} object{} in namespace {} no longer match{} git: open Coxswain for the diff",
            if changed == 1 { "" } else { "s" },
            detail.overview.namespace,
            if changed == 1 { "es" } else { "" },
        ),
    ))
}

/// How a sync or rollback ended, for when the window was not in front.
pub fn finished(report: &SyncReport) -> Notice {
    let how = match report.status {
        SyncStatus::Synced => "synced and healthy",
        SyncStatus::NoChanges => "had no changes",
        SyncStatus::Unhealthy => "applied, but is not healthy",
        SyncStatus::RolledBack => "was unhealthy and rolled back",
        SyncStatus::Interrupted => "was interrupted",
        SyncStatus::Cancelled => "was cancelled",
        _ => "failed",
    };
    let body = report.error.as_ref().map_or_else(
        || format!("{} object(s) applied, {} pruned", report.applied.len(), report.pruned.len()),
        |failure| failure.message.clone(),
    );
    (format!("{} {how}", report.env), body)
}

/// Notifies when the main window is not focused (or gone).
pub fn when_away<R: Runtime>(app: &AppHandle<R>, notice: Notice) {
    let focused = app.get_webview_window("main").and_then(|w| w.is_focused().ok());
    if focused != Some(true) {
        show(app, notice);
    }
}

pub fn show<R: Runtime>(app: &AppHandle<R>, (title, body): Notice) {
    // Absent where the plugin is not installed (the command tests' mock app).
    let Some(notification) = app.try_state::<tauri_plugin_notification::Notification<R>>() else {
        return;
    };
    if let Err(error) = notification.builder().title(title).body(body).show() {
        tracing::debug!(%error, "no desktop notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coxswain::app_api::{Counts, EnvOverview};

    fn detail(state: SyncState, update: usize) -> EnvDetail {
        EnvDetail {
            overview: EnvOverview {
                name: "prod".into(),
                namespace: "iris-prod".into(),
                context: None,
                protected: true,
                model: None,
                sync_state: state,
                health: None,
                counts: Counts { update, ..Counts::default() },
                errors: Vec::new(),
                warnings: 0,
                last_revision: None,
            },
            resources: Vec::new(),
            findings: Vec::new(),
            rollouts: Vec::new(),
        }
    }

    #[test]
    fn drift_is_a_synced_env_going_out_of_sync_while_no_sync_of_ours_runs() {
        let out = detail(SyncState::OutOfSync, 1);
        let notice = drift(Some(SyncState::Synced), &out, false).expect("a notice");
        assert_eq!(notice.0, "prod drifted from git");
        assert!(
            notice.1.starts_with("1 object in namespace iris-prod no longer matches git"),
            "{}",
            notice.1
        );
        assert_eq!(drift(Some(SyncState::Synced), &out, true), None, "our own sync");
        assert_eq!(drift(Some(SyncState::OutOfSync), &out, false), None, "already out of sync");
        assert_eq!(drift(None, &out, false), None, "not seen before");
        assert_eq!(drift(Some(SyncState::Synced), &detail(SyncState::Synced, 0), false), None);
    }
}
