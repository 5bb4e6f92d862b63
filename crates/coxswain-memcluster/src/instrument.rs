//! What tests observe and inject: a log of requests by verb and target, and faults that make
//! chosen requests fail the way a flaky connection or a misbehaving server would.

use coxswain_cluster::{ClusterError, Gvk, ObjectKey};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// One kind of request to the API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    Resolve,
    List,
    Get,
    Apply,
    /// A server-side apply with `dryRun=All`.
    ApplyDryRun,
    Create,
    Replace,
    Delete,
    Watch,
    /// A container log read (`pods/log`).
    Log,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resolve => "resolve",
            Self::List => "list",
            Self::Get => "get",
            Self::Apply => "apply",
            Self::ApplyDryRun => "apply_dry_run",
            Self::Create => "create",
            Self::Replace => "replace",
            Self::Delete => "delete",
            Self::Watch => "watch",
            Self::Log => "log",
        }
    }

    /// Whether the request changes state (a dry-run apply does not).
    pub fn is_write(self) -> bool {
        matches!(self, Self::Apply | Self::Create | Self::Replace | Self::Delete)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a request addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestTarget {
    /// One object (get, apply, create, replace, delete).
    Object(ObjectKey),
    /// A collection (list, watch): a kind, optionally in one namespace.
    Collection { group_kind: String, namespace: Option<String> },
    /// A kind being resolved through discovery.
    Kind(Gvk),
}

impl fmt::Display for RequestTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Object(key) => write!(f, "{key}"),
            Self::Collection { group_kind, namespace: Some(namespace) } => {
                write!(f, "{group_kind} in {namespace}")
            }
            Self::Collection { group_kind, namespace: None } => write!(f, "{group_kind}"),
            Self::Kind(gvk) => write!(f, "{gvk}"),
        }
    }
}

/// One logged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub verb: Verb,
    pub target: RequestTarget,
}

impl fmt::Display for Request {
    /// `apply Deployment.apps dev/iris-server`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb, self.target)
    }
}

/// Requests counted per verb since the cluster was made or counters were reset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCounts(BTreeMap<Verb, usize>);

impl RequestCounts {
    pub fn get(&self, verb: Verb) -> usize {
        self.0.get(&verb).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.0.values().sum()
    }

    /// Apply (not dry-run), create, replace and delete requests.
    pub fn writes(&self) -> usize {
        self.0.iter().filter(|(verb, _)| verb.is_write()).map(|(_, n)| n).sum()
    }

    pub(super) fn record(&mut self, verb: Verb) {
        *self.0.entry(verb).or_default() += 1;
    }
}

impl fmt::Display for RequestCounts {
    /// `apply=2 list=3`, verbs in a fixed order, zero counts left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(verb, n)| format!("{verb}={n}")).collect();
        f.write_str(&parts.join(" "))
    }
}

/// The error a failing request returns.
#[derive(Clone)]
pub enum FaultKind {
    /// The connection drops before the server sees the request: nothing changes, the client
    /// gets [`ClusterError::Unreachable`].
    ConnectionDrop,
    /// The server performs the request, then the connection drops before the answer arrives:
    /// the change happened, the client gets [`ClusterError::Unreachable`].
    DropAfterCommit,
    /// An error of the test's choosing, built from the failing request; nothing changes.
    Error(Arc<dyn Fn(&Request) -> ClusterError + Send + Sync>),
}

impl FaultKind {
    /// A fault returning the error `make` builds from the request.
    pub fn error(make: impl Fn(&Request) -> ClusterError + Send + Sync + 'static) -> Self {
        Self::Error(Arc::new(make))
    }

    pub(super) fn to_error(&self, request: &Request) -> ClusterError {
        match self {
            Self::ConnectionDrop | Self::DropAfterCommit => unreachable_error(request),
            Self::Error(make) => make(request),
        }
    }
}

impl fmt::Debug for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConnectionDrop => f.write_str("ConnectionDrop"),
            Self::DropAfterCommit => f.write_str("DropAfterCommit"),
            Self::Error(_) => f.write_str("Error(..)"),
        }
    }
}

pub(super) fn unreachable_error(request: &Request) -> ClusterError {
    ClusterError::Unreachable {
        server: super::SERVER.to_owned(),
        message: format!("connection dropped during {request}"),
    }
}

/// How a request is to fail, decided when it arrives.
pub(super) enum Verdict {
    Proceed,
    /// Fail now, change nothing.
    Fail(ClusterError),
    /// Perform the request, then report this error instead of its result.
    FailAfterCommit(ClusterError),
}

/// Armed faults.
#[derive(Default)]
pub(super) struct Faults {
    after_writes: Option<(usize, FaultKind)>,
    /// How many writes fail once the fault starts (`None`: all later writes).
    failing_writes: Option<usize>,
    writes_seen: usize,
    next: Vec<(Verb, ClusterError)>,
}

impl Faults {
    pub(super) fn fail_after_writes(&mut self, writes: usize, fault: FaultKind) {
        self.after_writes = Some((writes, fault));
        self.failing_writes = None;
        self.writes_seen = 0;
    }

    pub(super) fn fail_writes_window(&mut self, writes: usize, failing: usize, fault: FaultKind) {
        self.fail_after_writes(writes, fault);
        self.failing_writes = Some(failing);
    }

    pub(super) fn fail_next(&mut self, verb: Verb, error: ClusterError) {
        self.next.push((verb, error));
    }

    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }

    pub(super) fn verdict(&mut self, request: &Request) -> Verdict {
        if let Some(index) = self.next.iter().position(|(verb, _)| *verb == request.verb) {
            return Verdict::Fail(self.next.remove(index).1);
        }
        if !request.verb.is_write() {
            return Verdict::Proceed;
        }
        self.writes_seen += 1;
        match &self.after_writes {
            Some((allowed, fault))
                if self.writes_seen > *allowed
                    && self.failing_writes.is_none_or(|n| self.writes_seen <= allowed + n) =>
            {
                match fault {
                    FaultKind::DropAfterCommit => Verdict::FailAfterCommit(fault.to_error(request)),
                    FaultKind::ConnectionDrop | FaultKind::Error(_) => {
                        Verdict::Fail(fault.to_error(request))
                    }
                }
            }
            _ => Verdict::Proceed,
        }
    }
}
