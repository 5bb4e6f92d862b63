//! Ctrl-C and SIGTERM during a write: cancel the engine's work instead of killing the process.

use crate::exit::ExitCode;
use crate::sync::CancelToken;

/// SIGINT (Ctrl-C) or SIGTERM cancels `token`: the running sync stops before its next write,
/// records an `interrupted` revision and releases its lease (exit code 130). A second signal
/// exits at once, with the same code; the lease then expires by itself.
pub(super) fn cancel_on_signals(token: &CancelToken) -> tokio::task::JoinHandle<()> {
    let token = token.clone();
    tokio::spawn(async move {
        for round in 0.. {
            if !next_signal().await {
                return; // no signal handling here: the default behaviour stays
            }
            if round > 0 {
                eprintln!("interrupted again: exiting without waiting for the sync to stop");
                std::process::exit(ExitCode::Interrupted as i32);
            }
            eprintln!(
                "interrupted: stopping before the next write and recording what was applied \
                 (press Ctrl-C again to quit at once)"
            );
            token.cancel();
        }
    })
}

/// Waits for SIGINT or SIGTERM; `false` when they cannot be listened to.
#[cfg(unix)]
async fn next_signal() -> bool {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) =
        (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return false;
    };
    tokio::select! {
        _ = interrupt.recv() => true,
        _ = terminate.recv() => true,
    }
}

#[cfg(not(unix))]
async fn next_signal() -> bool {
    tokio::signal::ctrl_c().await.is_ok()
}
