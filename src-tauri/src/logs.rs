//! The app's log: `tracing` to a file in the platform's log directory (on Linux
//! `~/.local/share/<identifier>/logs`), a new file each day and the last week kept, so a
//! problem can be reported after the fact. `RUST_LOG` overrides the level (default: info for
//! Coxswain's crates, warnings for the rest). Help → Open logs shows the folder.

use std::path::{Path, PathBuf};

/// Files kept: one a day.
const KEPT: usize = 7;

/// Starts logging into `dir`; `None` (and logging nowhere) when the folder cannot be used.
pub fn init(dir: &Path) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("coxswain-app")
        .filename_suffix("log")
        .max_log_files(KEPT)
        .build(dir)
        .ok()?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(coxswain::cli::tracing_filter(1)));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(appender)
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(dir.to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn logs_go_to_a_dated_file_in_the_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let logs = dir.path().join("logs");
        assert_eq!(super::init(&logs).as_deref(), Some(logs.as_path()));
        tracing::warn!(target: "coxswain_app", "a line for the log file");
        let files: Vec<_> = std::fs::read_dir(&logs).expect("logs").flatten().collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let name = files[0].file_name().to_string_lossy().into_owned();
        let path = std::path::Path::new(&name);
        assert!(name.starts_with("coxswain-app."), "{name}");
        assert_eq!(path.extension().and_then(|e| e.to_str()), Some("log"), "{name}");
        let text = std::fs::read_to_string(files[0].path()).expect("read");
        assert!(text.contains("a line for the log file"), "{text}");
    }
}
