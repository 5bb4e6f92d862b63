//! Plain data types shared by every [`crate::Cluster`] implementation.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// A group/version/kind, as written in a manifest's `apiVersion` and `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Gvk {
    /// Empty for the core group (`apiVersion: v1`).
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    /// Splits an `apiVersion` (`apps/v1`, `v1`) and pairs it with `kind`.
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((group, version)) => (group.to_owned(), version.to_owned()),
            None => (String::new(), api_version.to_owned()),
        };
        Self { group, version, kind: kind.to_owned() }
    }

    /// The `apiVersion` string this GVK is written as.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Group and kind, the identity of a kind across versions (`Deployment.apps`).
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

impl fmt::Display for Gvk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.api_version(), self.kind)
    }
}

/// A resolved resource: what discovery says about a kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResourceType {
    pub gvk: Gvk,
    /// The URL path segment, e.g. `deployments`.
    pub plural: String,
    pub namespaced: bool,
}

/// Identifies one object for messages and maps: `Deployment.apps dev/iris-server`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ObjectKey {
    /// `Kind.group` (group omitted for the core group), stable across API versions.
    pub group_kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    pub fn new(gvk: &Gvk, namespace: Option<&str>, name: &str) -> Self {
        Self {
            group_kind: gvk.group_kind(),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    /// Reads kind, namespace and name from an object as the API returns it. `None` when the
    /// object lacks `apiVersion`, `kind` or `metadata.name`.
    pub fn of(object: &Value) -> Option<Self> {
        let gvk = Gvk::from_api_version(
            object.get("apiVersion")?.as_str()?,
            object.get("kind")?.as_str()?,
        );
        let metadata = object.get("metadata")?;
        let name = metadata.get("name")?.as_str()?;
        let namespace = metadata.get("namespace").and_then(Value::as_str);
        Some(Self::new(&gvk, namespace, name))
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{} {}/{}", self.group_kind, namespace, self.name),
            None => write!(f, "{} {}", self.group_kind, self.name),
        }
    }
}

/// Options of a server-side apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    pub field_manager: String,
    /// Take ownership of fields another manager owns instead of failing with a conflict.
    pub force: bool,
    /// `dryRun=All`: run admission and defaulting, persist nothing.
    pub dry_run: bool,
}

impl ApplyOptions {
    /// Apply as Coxswain's field manager.
    pub fn coxswain(force: bool, dry_run: bool) -> Self {
        Self { field_manager: crate::FIELD_MANAGER.to_owned(), force, dry_run }
    }
}

/// Preconditions of a DELETE: the server refuses it with 409 Conflict
/// ([`crate::ClusterError::Conflict`]) unless the object still has this uid (it is the same
/// object, not one deleted and re-created under its name) and, when given, this resourceVersion
/// (nobody changed it since it was read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

impl Preconditions {
    /// The uid and resourceVersion of `object` as read from the server.
    pub fn of(object: &Value) -> Self {
        let field = |name: &str| {
            object
                .pointer(&format!("/metadata/{name}"))
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Self { uid: field("uid"), resource_version: field("resourceVersion") }
    }

    pub fn is_empty(&self) -> bool {
        self.uid.is_none() && self.resource_version.is_none()
    }
}

/// One event of a WATCH.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    Added(Value),
    Modified(Value),
    Deleted(Value),
    /// Progress marker carrying only a resourceVersion to resume from.
    Bookmark {
        resource_version: String,
    },
}

/// The API server's build (`GET /version`), as `kubectl version` shows it under "Server
/// Version". Only the fields a person reads are kept; the rest of the answer is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerVersion {
    /// The release, e.g. `v1.31.2`.
    pub git_version: String,
    /// `os/arch` of the server binary, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// What to read of a container's log: the tail of the current or the previous (crashed)
/// instance, bounded so a chatty container cannot blow up a health message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRequest {
    pub container: String,
    /// The previous instance (`previous=true`): the one that crashed, for a crash-looping pod.
    pub previous: bool,
    /// At most this many lines from the end (`tailLines`).
    pub tail_lines: u32,
    /// At most this many bytes (`limitBytes`).
    pub limit_bytes: u32,
}

impl LogRequest {
    /// The last 20 lines, at most 4 KiB, of the previous instance of `container`.
    pub fn previous_tail(container: &str) -> Self {
        Self { container: container.to_owned(), previous: true, tail_lines: 20, limit_bytes: 4096 }
    }
}
