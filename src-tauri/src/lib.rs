//! The Coxswain desktop app: a Tauri 2 shell over `coxswain::app_api`. Commands are thin async
//! wrappers (one `Session` call each), errors reach the UI as `{code, message, location}`, long
//! operations stream progress over a channel, and a repo watcher plus cluster watches push fresh
//! plans to the UI as `env-updated` events.

#[cfg(test)]
mod bindings;
mod commands;
mod launch;
mod logs;
mod progress;
mod recent;
mod state;
mod watch;

pub use launch::Launch;
pub use state::AppState;

use coxswain::app_api::{Connector, default_connector};
use tauri::{Manager as _, Runtime};

/// Adds the app's commands and state to `builder` (Tauri's own, or the mock one in tests).
pub fn builder<R: Runtime>(
    builder: tauri::Builder<R>,
    connector: Connector,
    recent_file: Option<std::path::PathBuf>,
) -> tauri::Builder<R> {
    builder.manage(AppState::new(connector, recent_file)).invoke_handler(tauri::generate_handler![
        commands::open_repo,
        commands::repo_state,
        commands::overview,
        commands::env_detail,
        commands::live_object,
        commands::workload_pods,
        commands::preview_sync,
        commands::sync_env,
        commands::cancel_operation,
        commands::history,
        commands::preview_rollback,
        commands::rollback,
        commands::preview_rollout,
        commands::rollout,
        commands::edit_workload,
        commands::set_context,
        commands::remote_status,
        commands::promote_preview,
        commands::promote,
        commands::open_in_browser,
        commands::open_logs,
    ])
}

/// Set (to anything) to keep the webview's GPU compositing on.
pub const GPU_VAR: &str = "COXSWAIN_APP_GPU";

/// The views are tables and text, which software rendering draws well. It keeps `WebKitGTK`'s
/// web process about 90 MB smaller (no GL stack) and avoids the blank windows some GPU drivers
/// give `WebKitGTK`.
#[cfg(target_os = "linux")]
#[allow(clippy::needless_pass_by_value, reason = "the signature `with_webview` asks for")]
fn software_rendering(webview: tauri::webview::PlatformWebview) {
    use webkit2gtk::{SettingsExt as _, WebViewExt as _};
    if let Some(settings) = webview.inner().settings() {
        settings.set_hardware_acceleration_policy(webkit2gtk::HardwareAccelerationPolicy::Never);
    }
}

#[cfg(not(target_os = "linux"))]
fn software_rendering(_webview: tauri::webview::PlatformWebview) {}

/// Runs the desktop app until its window closes.
pub fn run(launch: &Launch) -> std::process::ExitCode {
    let repo = launch.repo.clone();
    let result = builder(tauri::Builder::default(), default_connector(), None)
        .plugin(tauri_plugin_dialog::init())
        .setup(move |app| {
            if std::env::var_os(GPU_VAR).is_none()
                && let Some(window) = app.get_webview_window("main")
                && let Err(error) = window.with_webview(software_rendering)
            {
                tracing::warn!(%error, "could not switch the webview to software rendering");
            }
            let state = app.state::<AppState>();
            if let Ok(dir) = app.path().app_log_dir() {
                state.set_log_dir(logs::init(&dir));
            }
            tracing::info!(version = env!("CARGO_PKG_VERSION"), "coxswain-app started");
            if let Ok(dir) = app.path().app_config_dir() {
                state.set_recent_file(dir.join("recent-repos.json"));
            }
            let repo = repo.clone().or_else(|| state.recent().into_iter().next());
            if let Some(repo) = repo {
                // A failure is kept and shown by the repo picker, not fatal.
                if let Err(error) = state.open(app.handle(), &repo) {
                    state.set_startup_error(error);
                }
            }
            Ok(())
        })
        .run(tauri::generate_context!());
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: the desktop app could not start: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
