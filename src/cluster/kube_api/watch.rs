//! Decodes a WATCH response: one JSON event per line, `{"type": ..., "object": ...}`.
//!
//! The stream ends when the server closes it (it does after `timeoutSeconds`); callers resume
//! from the last resourceVersion they saw. An `ERROR` event (typically 410 Gone) or a broken
//! connection yields one error and ends the stream.

use super::errors::{self, Target};
use crate::cluster::{ClusterError, WatchEvent};
use futures::StreamExt;
use futures::stream::BoxStream;
use http_body_util::BodyDataStream;
use http_body_util::BodyExt;
use kube::client::Body;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// The server ends each watch after this many seconds; kube-rs and client-go use the same.
pub(super) const WATCH_TIMEOUT_SECONDS: u64 = 290;

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: Value,
}

struct Decoder {
    body: BodyDataStream<Body>,
    buffer: Vec<u8>,
    target: Target,
    server: String,
    /// With no byte for this long the connection is taken as dead.
    idle: Duration,
    api_version: String,
    kind: String,
    finished: bool,
}

pub(super) fn events(
    response: http::Response<Body>,
    target: Target,
    server: String,
    idle: Duration,
    api_version: String,
    kind: String,
) -> BoxStream<'static, Result<WatchEvent, ClusterError>> {
    let decoder = Decoder {
        body: response.into_body().into_data_stream(),
        buffer: Vec::new(),
        target,
        server,
        idle,
        api_version,
        kind,
        finished: false,
    };
    futures::stream::unfold(decoder, |mut decoder| async move {
        decoder.next_event().await.map(|event| (event, decoder))
    })
    .boxed()
}

impl Decoder {
    async fn next_event(&mut self) -> Option<Result<WatchEvent, ClusterError>> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(end) = self.buffer.iter().position(|&byte| byte == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                if line.trim_ascii().is_empty() {
                    continue;
                }
                return Some(self.decode_or_finish(&line));
            }
            match tokio::time::timeout(self.idle, self.body.next()).await {
                Err(_elapsed) => {
                    self.finished = true;
                    return Some(Err(errors::timeout_error(&self.target, self.idle)));
                }
                Ok(Some(Ok(chunk))) => self.buffer.extend_from_slice(&chunk),
                Ok(Some(Err(error))) => {
                    self.finished = true;
                    return Some(Err(errors::from_transport(
                        &error,
                        &self.server,
                        &self.target,
                        self.idle,
                    )));
                }
                Ok(None) => {
                    self.finished = true;
                    let rest = std::mem::take(&mut self.buffer);
                    return (!rest.trim_ascii().is_empty()).then(|| self.decode(&rest));
                }
            }
        }
    }

    fn decode_or_finish(&mut self, line: &[u8]) -> Result<WatchEvent, ClusterError> {
        let event = self.decode(line);
        self.finished = event.is_err();
        event
    }

    fn decode(&self, line: &[u8]) -> Result<WatchEvent, ClusterError> {
        let malformed = |detail: String| ClusterError::Other {
            target: self.target.to_string(),
            message: format!("the API server sent a watch event that is not valid: {detail}"),
        };
        let raw: RawEvent =
            serde_json::from_slice(line).map_err(|error| malformed(error.to_string()))?;
        let mut object = raw.object;
        match raw.kind.as_str() {
            "ADDED" | "MODIFIED" | "DELETED" => {
                super::fill_type(&mut object, &self.api_version, &self.kind);
                Ok(match raw.kind.as_str() {
                    "ADDED" => WatchEvent::Added(object),
                    "MODIFIED" => WatchEvent::Modified(object),
                    _ => WatchEvent::Deleted(object),
                })
            }
            "BOOKMARK" => object
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .map(|version| WatchEvent::Bookmark { resource_version: version.to_owned() })
                .ok_or_else(|| malformed("a BOOKMARK without metadata.resourceVersion".into())),
            "ERROR" => {
                let code = object.get("code").and_then(Value::as_u64).unwrap_or(500);
                let body = serde_json::to_vec(&object).unwrap_or_default();
                Err(errors::from_response(u16::try_from(code).unwrap_or(500), &body, &self.target))
            }
            other => Err(malformed(format!("unknown event type {other:?}"))),
        }
    }
}
