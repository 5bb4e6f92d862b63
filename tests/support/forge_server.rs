//! A stand-in for GitHub's pull-request API, for promotion tests.
//!
//! It keeps pull requests and their comments in memory and answers the calls `coxswain promote`
//! and `coxswain plan --comment-pr` make (list open pull requests by head, create, update;
//! list comments a page at a time, create, edit) the way GitHub does, including the 422 for a
//! second open pull request from the same branch, so a duplicate would fail the test. Every
//! request is recorded for assertions. HTTP/1.1, one request per connection, on 127.0.0.1.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

/// How the server misbehaves, if at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Normal,
    /// 401 Bad credentials for every request.
    Unauthorized,
    /// 422 Validation Failed when a pull request is created.
    RejectCreate,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Debug, Clone)]
struct Pull {
    number: u64,
    head: String,
    base: String,
    title: String,
    body: String,
}

/// A comment on a pull request, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredComment {
    pub id: u64,
    pub issue: u64,
    pub body: String,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    pulls: Vec<Pull>,
    comments: Vec<StoredComment>,
}

pub struct ForgeServer {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl ForgeServer {
    pub fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state, mode));
            }
        });
        Self { url, state }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).requests.clone()
    }

    /// Requests with this method whose path ends with `suffix`.
    pub fn count(&self, method: &str, suffix: &str) -> usize {
        self.requests().iter().filter(|r| r.method == method && r.path.ends_with(suffix)).count()
    }

    /// The body of the pull request `number` as it is now.
    pub fn pull_body(&self, number: u64) -> Option<String> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.pulls.iter().find(|p| p.number == number).map(|p| p.body.clone())
    }

    pub fn pull_count(&self) -> usize {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).pulls.len()
    }

    /// Opens a pull request directly (for tests that comment on one) and returns its number.
    pub fn open_pull(&self, head: &str, base: &str) -> u64 {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let number = state.pulls.len() as u64 + 1;
        state.pulls.push(Pull {
            number,
            head: head.into(),
            base: base.into(),
            title: head.into(),
            body: String::new(),
        });
        number
    }

    /// Adds a comment directly (someone else's), as if posted through the API.
    pub fn add_comment(&self, issue: u64, body: &str) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let id = next_comment_id(&state);
        state.comments.push(StoredComment { id, issue, body: body.into() });
    }

    /// The comments of pull request `issue`, oldest first.
    pub fn comments(&self, issue: u64) -> Vec<StoredComment> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.comments.iter().filter(|c| c.issue == issue).cloned().collect()
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>, mode: Mode) {
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else { return };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut length = 0usize;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            let value = value.trim().to_owned();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "authorization" => authorization = Some(value),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query: Vec<(String, String)> =
        form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let recorded =
        Recorded { method: method.clone(), path: path.to_owned(), query, authorization, body };
    let (status, reply) = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        state.requests.push(recorded.clone());
        answer(&mut state, &recorded, mode)
    };
    let text = reply.to_string();
    let reason = match status {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Unprocessable Entity",
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.flush();
}

fn pull_json(pull: &Pull) -> Value {
    json!({
        "number": pull.number,
        "html_url": format!("https://github.example/acme/gitops/pull/{}", pull.number),
        "state": "open",
        "title": pull.title,
        "head": { "ref": pull.head },
        "base": { "ref": pull.base },
    })
}

fn next_comment_id(state: &State) -> u64 {
    state.comments.iter().map(|c| c.id).max().unwrap_or(1000) + 1
}

/// GitHub's answer to a comment body over its limit.
fn too_long(body: &str) -> Option<(u16, Value)> {
    (body.chars().count() > 65_536).then(|| {
        (
            422,
            json!({"message": "Validation Failed", "errors": [{"resource": "IssueComment", "code": "custom", "field": "body", "message": "body is too long (maximum is 65536 characters)"}]}),
        )
    })
}

fn comment_json(comment: &StoredComment) -> Value {
    json!({
        "id": comment.id,
        "body": comment.body,
        "html_url": format!(
            "https://github.example/acme/gitops/pull/{}#issuecomment-{}",
            comment.issue, comment.id
        ),
    })
}

fn answer(state: &mut State, request: &Recorded, mode: Mode) -> (u16, Value) {
    if mode == Mode::Unauthorized || request.authorization.as_deref() != Some("Bearer test-token") {
        return (401, json!({"message": "Bad credentials", "status": "401"}));
    }
    let segments: Vec<&str> = request.path.trim_start_matches('/').split('/').collect();
    let query = |name: &str| {
        request.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let field = |name: &str| request.body.get(name).and_then(Value::as_str).map(str::to_owned);
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["repos", owner, _, "pulls"]) => {
            let head = query("head");
            let base = query("base");
            let found: Vec<Value> = state
                .pulls
                .iter()
                .filter(|p| {
                    format!("{owner}:{}", p.head) == head && (base.is_empty() || p.base == base)
                })
                .map(pull_json)
                .collect();
            (200, Value::Array(found))
        }
        ("POST", ["repos", owner, _, "pulls"]) => {
            if mode == Mode::RejectCreate {
                return (
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": "No commits between main and the head branch"}]}),
                );
            }
            let (Some(title), Some(head), Some(base), Some(body)) =
                (field("title"), field("head"), field("base"), field("body"))
            else {
                return (
                    422,
                    json!({"message": "Invalid request: title, head, base and body are required"}),
                );
            };
            if state.pulls.iter().any(|p| p.head == head) {
                return (
                    422,
                    json!({"message": "Validation Failed", "errors": [{"message": format!("A pull request already exists for {owner}:{head}.")}]}),
                );
            }
            let pull = Pull { number: state.pulls.len() as u64 + 1, head, base, title, body };
            let reply = pull_json(&pull);
            state.pulls.push(pull);
            (201, reply)
        }
        ("PATCH", ["repos", _, _, "pulls", number]) => {
            let number: u64 = number.parse().unwrap_or(0);
            let Some(pull) = state.pulls.iter_mut().find(|p| p.number == number) else {
                return (404, json!({"message": "Not Found"}));
            };
            if let Some(title) = field("title") {
                pull.title = title;
            }
            if let Some(body) = field("body") {
                pull.body = body;
            }
            (200, pull_json(pull))
        }
        ("GET", ["repos", _, _, "issues", number, "comments"]) => {
            let number: u64 = number.parse().unwrap_or(0);
            if !state.pulls.iter().any(|p| p.number == number) {
                return (404, json!({"message": "Not Found"}));
            }
            // GitHub's paging: per_page (default 30, at most 100) and page (from 1).
            let per_page = query("per_page").parse::<usize>().unwrap_or(30).clamp(1, 100);
            let page = query("page").parse::<usize>().unwrap_or(1).max(1);
            let found: Vec<Value> = state
                .comments
                .iter()
                .filter(|c| c.issue == number)
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(comment_json)
                .collect();
            (200, Value::Array(found))
        }
        ("POST", ["repos", _, _, "issues", number, "comments"]) => {
            let number: u64 = number.parse().unwrap_or(0);
            if !state.pulls.iter().any(|p| p.number == number) {
                return (404, json!({"message": "Not Found"}));
            }
            let Some(body) = field("body") else {
                return (422, json!({"message": "Invalid request: body is required"}));
            };
            if let Some(refusal) = too_long(&body) {
                return refusal;
            }
            let comment = StoredComment { id: next_comment_id(state), issue: number, body };
            let reply = comment_json(&comment);
            state.comments.push(comment);
            (201, reply)
        }
        ("PATCH", ["repos", _, _, "issues", "comments", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let Some(body) = field("body") else {
                return (422, json!({"message": "Invalid request: body is required"}));
            };
            if let Some(refusal) = too_long(&body) {
                return refusal;
            }
            let Some(comment) = state.comments.iter_mut().find(|c| c.id == id) else {
                return (404, json!({"message": "Not Found"}));
            };
            comment.body = body;
            (200, comment_json(comment))
        }
        _ => (404, json!({"message": "Not Found"})),
    }
}
