//! Watch events: a bounded history to resume from a resourceVersion, and a broadcast channel
//! for what happens next.

use super::selector::LabelSelector;
use coxswain_cluster::{ClusterError, WatchEvent};
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::broadcast;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    Added,
    Modified,
    Deleted,
}

/// One stored change, with the object before it (for `Modified`) so selector watches can tell
/// an object entering or leaving their selection.
#[derive(Debug)]
pub(super) struct Event {
    pub resource_version: u64,
    pub group_kind: String,
    pub namespace: Option<String>,
    pub change: Change,
    pub before: Option<Value>,
    pub object: Value,
}

/// What one watch asks for.
pub(super) struct Filter {
    pub group_kind: String,
    pub namespace: Option<String>,
    pub selector: LabelSelector,
}

impl Filter {
    /// The event this watcher sees, if any: an object that starts matching the selector is
    /// `Added`, one that stops matching is `Deleted`, as the API server reports them.
    fn translate(&self, event: &Event) -> Option<WatchEvent> {
        if event.group_kind != self.group_kind
            || (self.namespace.is_some() && event.namespace != self.namespace)
        {
            return None;
        }
        let now = self.selector.matches_object(&event.object);
        let object = event.object.clone();
        match event.change {
            Change::Added => now.then_some(WatchEvent::Added(object)),
            Change::Deleted => now.then_some(WatchEvent::Deleted(object)),
            Change::Modified => {
                let before = event.before.as_ref().is_some_and(|b| self.selector.matches_object(b));
                match (before, now) {
                    (true, true) => Some(WatchEvent::Modified(object)),
                    (false, true) => Some(WatchEvent::Added(object)),
                    (true, false) => Some(WatchEvent::Deleted(object)),
                    (false, false) => None,
                }
            }
        }
    }
}

/// Past events kept for resuming watches.
pub(super) struct History {
    events: VecDeque<Arc<Event>>,
    /// Every event at or below this resourceVersion has been forgotten.
    pub floor: u64,
    limit: usize,
}

impl History {
    pub(super) fn new(limit: usize) -> Self {
        Self { events: VecDeque::new(), floor: 0, limit }
    }

    pub(super) fn push(&mut self, event: Arc<Event>) {
        self.events.push_back(event);
        while self.events.len() > self.limit {
            if let Some(old) = self.events.pop_front() {
                self.floor = old.resource_version;
            }
        }
    }

    pub(super) fn forget_all(&mut self, current: u64) {
        self.events.clear();
        self.floor = current;
    }

    pub(super) fn after(&self, resource_version: u64) -> Vec<Arc<Event>> {
        self.events.iter().filter(|e| e.resource_version > resource_version).cloned().collect()
    }
}

struct Cursor {
    backlog: VecDeque<Arc<Event>>,
    receiver: broadcast::Receiver<Arc<Event>>,
    filter: Filter,
    last: u64,
    done: bool,
}

/// The events after `resource_version`: first `backlog` (from history), then live ones. The
/// receiver must have been subscribed under the same lock the backlog was read with.
pub(super) fn stream(
    backlog: Vec<Arc<Event>>,
    receiver: broadcast::Receiver<Arc<Event>>,
    filter: Filter,
    resource_version: u64,
) -> BoxStream<'static, Result<WatchEvent, ClusterError>> {
    let cursor =
        Cursor { backlog: backlog.into(), receiver, filter, last: resource_version, done: false };
    stream::unfold(cursor, |mut cursor| async move {
        loop {
            if cursor.done {
                return None;
            }
            let event = match cursor.backlog.pop_front() {
                Some(event) => event,
                None => match cursor.receiver.recv().await {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Closed) => return None,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        cursor.done = true;
                        let error = ClusterError::Other {
                            target: format!("watch of {}", cursor.filter.group_kind),
                            message: format!(
                                "the watcher fell {missed} events behind and was closed (410 Gone); list again and watch from the list's resourceVersion"
                            ),
                        };
                        return Some((Err(error), cursor));
                    }
                },
            };
            if event.resource_version <= cursor.last {
                continue;
            }
            cursor.last = event.resource_version;
            if let Some(translated) = cursor.filter.translate(&event) {
                return Some((Ok(translated), cursor));
            }
        }
    })
    .boxed()
}
