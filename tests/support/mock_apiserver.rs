//! A scripted stand-in for a Kubernetes API server, for tests of the HTTP adapter.
//!
//! It speaks just enough HTTP/1.1 (one request per connection, `Connection: close`) and answers
//! each `METHOD path` from a script; unscripted requests get the API server's 404 `Status`.
//! Every request is recorded so tests can assert the query, headers and body that were sent.

use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering (to provoke client timeouts).
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: serde_json::to_vec(body).unwrap_or_default(),
            delay: None,
        }
    }

    /// A body sent as is, e.g. the newline-separated events of a watch.
    pub fn raw(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self { status, headers: Vec::new(), body: body.into(), delay: None }
    }

    /// A `meta/v1 Status` failure as the API server sends it.
    pub fn status(code: u16, reason: &str, message: &str, details: &Value) -> Self {
        Self::json(
            code,
            &json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": message,
                "reason": reason,
                "details": details,
                "code": code,
            }),
        )
    }

    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    #[must_use]
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

/// A request as the server received it; the query is percent-decoded.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// `METHOD path`, for compact assertions on the request sequence.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

type Script = HashMap<(String, String), VecDeque<Reply>>;

#[derive(Default)]
struct Shared {
    script: Mutex<Script>,
    requests: Mutex<Vec<Recorded>>,
}

pub struct MockApiServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockApiServer {
    /// Starts on a free loopback port with discovery for `v1` and `apps/v1` scripted.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(serve(listener, Arc::clone(&shared)));
        let server = Self { addr, shared, task };
        server.on("GET", "/api/v1", Reply::json(200, &core_v1_resources()));
        server.on("GET", "/apis/apps/v1", Reply::json(200, &apps_v1_resources()));
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers `method path` with `reply` from now on.
    pub fn on(&self, method: &str, path: &str, reply: Reply) {
        self.on_sequence(method, path, vec![reply]);
    }

    /// Answers `method path` with `replies` in order; the last one repeats.
    pub fn on_sequence(&self, method: &str, path: &str, replies: Vec<Reply>) {
        lock(&self.shared.script).insert((method.to_owned(), path.to_owned()), replies.into());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    pub fn request_lines(&self) -> Vec<String> {
        self.requests().iter().map(Recorded::line).collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(answer(stream, Arc::clone(&shared)));
    }
}

async fn answer(mut stream: TcpStream, shared: Arc<Shared>) {
    let Some(request) = read_request(&mut stream).await else { return };
    let reply = next_reply(&shared, &request);
    lock(&shared.requests).push(request);
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let reason = http::StatusCode::from_u16(reply.status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("Unknown");
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    // The client may have given up (timeout tests); a failed write is expected then.
    if stream.write_all(head.as_bytes()).await.is_ok()
        && stream.write_all(&reply.body).await.is_ok()
    {
        let _ = stream.shutdown().await;
    }
}

fn next_reply(shared: &Shared, request: &Recorded) -> Reply {
    let mut script = lock(&shared.script);
    let key = (request.method.clone(), request.path.clone());
    match script.get_mut(&key) {
        Some(replies) if replies.len() > 1 => replies.pop_front().unwrap_or_else(not_found),
        Some(replies) => replies.front().cloned().unwrap_or_else(not_found),
        None => not_found(),
    }
}

fn not_found() -> Reply {
    Reply::status(404, "NotFound", "the server could not find the requested resource", &json!({}))
}

const MAX_HEAD: usize = 64 * 1024;

async fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(chunk.get(..read)?);
    };
    let head = String::from_utf8_lossy(buffer.get(..head_end)?).into_owned();
    let mut body = buffer.get(head_end + 4..)?.to_vec();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(chunk.get(..read)?);
    }
    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    let query = form_urlencoded::parse(query.as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    Some(Recorded { method, path: path.to_owned(), query, headers, body })
}

fn core_v1_resources() -> Value {
    json!({
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            {"name": "configmaps", "singularName": "configmap", "namespaced": true,
             "kind": "ConfigMap", "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
            {"name": "namespaces", "singularName": "namespace", "namespaced": false,
             "kind": "Namespace", "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
            {"name": "namespaces/status", "singularName": "", "namespaced": false,
             "kind": "Namespace", "verbs": ["get", "patch", "update"]},
        ]
    })
}

fn apps_v1_resources() -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "apps/v1",
        "resources": [
            {"name": "deployments/scale", "singularName": "", "namespaced": true,
             "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]},
            {"name": "deployments/status", "singularName": "", "namespaced": true,
             "kind": "Deployment", "verbs": ["get", "patch", "update"]},
            {"name": "deployments", "singularName": "deployment", "namespaced": true,
             "kind": "Deployment", "shortNames": ["deploy"],
             "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]},
        ]
    })
}
