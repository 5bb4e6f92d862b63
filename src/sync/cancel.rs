//! Cancellation of a running sync: the CLI's Ctrl-C (SIGINT) and SIGTERM, or a Cancel button.
//! The sync checks it before each write, stops there, records what it applied as an
//! `interrupted` revision and releases its lease.

use std::sync::Arc;
use tokio::sync::watch;

/// A shared "stop" flag. Clones observe the same flag; cancelling is permanent.
#[derive(Debug, Clone)]
pub struct CancelToken {
    flag: Arc<watch::Sender<bool>>,
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl CancelToken {
    pub fn new() -> Self {
        Self { flag: Arc::new(watch::Sender::new(false)) }
    }

    /// Asks every sync holding this token to stop before its next write.
    pub fn cancel(&self) {
        self.flag.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.flag.borrow()
    }

    /// Resolves once [`CancelToken::cancel`] was called (at once if it already was).
    pub async fn cancelled(&self) {
        let mut receiver = self.flag.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = receiver.wait_for(|cancelled| *cancelled).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_clone_sees_the_cancellation_and_waiting_ends() {
        let token = CancelToken::new();
        let clone = token.clone();
        assert!(!clone.is_cancelled());
        let waiter = tokio::spawn(async move { clone.cancelled().await });
        token.cancel();
        waiter.await.unwrap();
        assert!(token.is_cancelled());
        token.cancelled().await; // already cancelled: returns at once
    }
}
