//! Sync progress to the UI: each `SyncEvent` goes over the command's channel as
//! `{env, event, ...fields}` the moment it happens.

use coxswain::sync::{Progress, SyncEvent};
use serde_json::{Value, json};
use tauri::ipc::Channel;

pub struct ChannelProgress {
    channel: Channel<Value>,
}

impl ChannelProgress {
    pub fn new(channel: Channel<Value>) -> Self {
        Self { channel }
    }
}

/// `{env, event: "applied", object: ...}`: the event's own fields, tagged with its env.
pub fn message(env: &str, event: &SyncEvent) -> Value {
    let mut value = serde_json::to_value(event).unwrap_or_else(|_| json!({}));
    if let Some(map) = value.as_object_mut() {
        map.insert("env".into(), Value::String(env.to_owned()));
    }
    value
}

impl Progress for ChannelProgress {
    fn event(&self, env: &str, event: &SyncEvent) {
        // The window may have closed; the sync goes on regardless.
        if let Err(error) = self.channel.send(message(env, event)) {
            tracing::debug!(%error, "progress channel closed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_env_and_the_event_fields() {
        let value = message("dev", &SyncEvent::TierStarted { tier: "config".into(), objects: 2 });
        assert_eq!(
            value,
            json!({"env": "dev", "event": "tierStarted", "tier": "config", "objects": 2})
        );
    }
}
