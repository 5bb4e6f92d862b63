//! Sends one request through the `kube` client with a deadline and bounded retries.
//!
//! kube's own retry layer is switched off (it retries up to 15 times with delays up to 1000s,
//! longer than a CLI user waits); this layer decides per verb instead:
//! - 429 is retried for every verb: the server rejected the request before running it.
//! - 500/502/503/504 and dropped connections are retried only for requests that are safe to
//!   repeat: GET, LIST, discovery, WATCH and server-side apply. Apply is idempotent (the same
//!   patch from the same manager converges to the same object), so a retry after a lost answer
//!   cannot do harm. POST, PUT and DELETE are not retried: a repeat after a lost success would
//!   report a false `AlreadyExists`, `Conflict` or "already gone".
//! - A timeout is not retried, so the configured timeout bounds how long a call waits.

use super::errors::{self, Target};
use crate::cluster::ClusterError;
use http_body_util::BodyExt;
use kube::client::Body;
use std::time::Duration;

/// How failed requests are retried. `attempts` counts the first try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    /// Delay before the first retry; doubles on each further retry.
    pub base_delay: Duration,
    /// Upper bound of any delay, including one asked for by a `Retry-After` header.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Never retry: every failure is returned at once.
    pub fn none() -> Self {
        Self { attempts: 1, ..Self::default() }
    }

    fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = || {
            let factor = 2u32.checked_pow(retry.saturating_sub(1)).unwrap_or(u32::MAX);
            self.base_delay.saturating_mul(factor)
        };
        retry_after.unwrap_or_else(backoff).min(self.max_delay)
    }
}

/// Whether a request may be sent twice without changing its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repeat {
    Safe,
    Unsafe,
}

/// A request that can be rebuilt for each attempt.
pub(super) struct Call {
    pub method: http::Method,
    pub path_and_query: String,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    pub repeat: Repeat,
}

impl Call {
    pub(super) fn get(path_and_query: String) -> Self {
        Self {
            method: http::Method::GET,
            path_and_query,
            content_type: None,
            body: Vec::new(),
            repeat: Repeat::Safe,
        }
    }

    fn build(&self) -> Result<http::Request<Body>, http::Error> {
        let mut builder = http::Request::builder()
            .method(self.method.clone())
            .uri(self.path_and_query.as_str())
            .header(http::header::ACCEPT, "application/json");
        if let Some(content_type) = self.content_type {
            builder = builder.header(http::header::CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(self.body.clone()))
    }
}

/// A failed attempt and how long the server asked us to wait before the next.
struct Failure {
    error: ClusterError,
    retry_after: Option<Duration>,
}

impl From<ClusterError> for Failure {
    fn from(error: ClusterError) -> Self {
        Self { error, retry_after: None }
    }
}

pub(super) struct Transport {
    pub client: kube::Client,
    /// The API server URL, for `Unreachable` messages.
    pub server: String,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl Transport {
    /// Sends `call` and returns the body of its 2xx answer.
    pub(super) async fn call(&self, call: &Call, target: &Target) -> Result<Vec<u8>, ClusterError> {
        self.with_retries(call, target, || async {
            let response = self.send(call, target).await?;
            read_body(response, &self.server, target, self.timeout).await.map_err(Failure::from)
        })
        .await
    }

    /// Sends `call` and returns its 2xx answer with the body unread, for streaming. The timeout
    /// covers the response head only.
    pub(super) async fn open(
        &self,
        call: &Call,
        target: &Target,
    ) -> Result<http::Response<Body>, ClusterError> {
        self.with_retries(call, target, || self.send(call, target)).await
    }

    async fn with_retries<T, F, Fut>(
        &self,
        call: &Call,
        target: &Target,
        attempt: F,
    ) -> Result<T, ClusterError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut retry = 0;
        loop {
            let failure = match tokio::time::timeout(self.timeout, attempt()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(failure)) => failure,
                Err(_elapsed) => return Err(errors::timeout_error(target, self.timeout)),
            };
            retry += 1;
            if retry >= self.retry.attempts || !retryable(&failure.error, call.repeat) {
                return Err(failure.error);
            }
            let delay = self.retry.delay(retry, failure.retry_after);
            tracing::debug!(%target, error = %failure.error, ?delay, "retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt: the response on 2xx, the mapped error otherwise.
    async fn send(&self, call: &Call, target: &Target) -> Result<http::Response<Body>, Failure> {
        let request = call.build().map_err(|error| ClusterError::Other {
            target: target.to_string(),
            message: format!("cannot build the request {}: {error}", call.path_and_query),
        })?;
        let response =
            self.client.send(request).await.map_err(|error| {
                errors::from_transport(&error, &self.server, target, self.timeout)
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(response.headers());
        let body = read_body(response, &self.server, target, self.timeout).await?;
        Err(Failure { error: errors::from_response(status.as_u16(), &body, target), retry_after })
    }
}

async fn read_body(
    response: http::Response<Body>,
    server: &str,
    target: &Target,
    timeout: Duration,
) -> Result<Vec<u8>, ClusterError> {
    let collected = response
        .into_body()
        .collect()
        .await
        .map_err(|error| errors::from_transport(&error, server, target, timeout))?;
    Ok(collected.to_bytes().to_vec())
}

fn retryable(error: &ClusterError, repeat: Repeat) -> bool {
    match error {
        ClusterError::TooManyRequests { .. } => true,
        ClusterError::Server { status, .. } => {
            repeat == Repeat::Safe && matches!(status, 500 | 502 | 503 | 504)
        }
        ClusterError::Unreachable { .. } => repeat == Repeat::Safe,
        _ => false,
    }
}

/// `Retry-After` in seconds (the form the API server sends); HTTP dates are ignored.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy {
            attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        assert_eq!(policy.delay(1, None), Duration::from_millis(100));
        assert_eq!(policy.delay(2, None), Duration::from_millis(200));
        assert_eq!(policy.delay(4, None), Duration::from_millis(500));
        assert_eq!(policy.delay(40, None), Duration::from_millis(500));
        assert_eq!(policy.delay(1, Some(Duration::from_mins(1))), Duration::from_millis(500));
        assert_eq!(policy.delay(3, Some(Duration::ZERO)), Duration::ZERO);
    }

    #[test]
    fn only_safe_requests_retry_server_errors() {
        let server = ClusterError::Server { target: "t".into(), status: 503, message: "m".into() };
        assert!(retryable(&server, Repeat::Safe));
        assert!(!retryable(&server, Repeat::Unsafe));
        let not_implemented =
            ClusterError::Server { target: "t".into(), status: 501, message: "m".into() };
        assert!(!retryable(&not_implemented, Repeat::Safe));
        let throttled = ClusterError::TooManyRequests { target: "t".into() };
        assert!(retryable(&throttled, Repeat::Unsafe));
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
