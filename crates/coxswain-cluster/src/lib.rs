//! The cluster contract: the only door through which Coxswain talks to Kubernetes.
//!
//! The engine sees objects as `serde_json::Value` (what the API server speaks) and a narrow async
//! trait, [`Cluster`]. This crate holds the trait, its types and typed errors, the server-side-apply
//! field sets ([`fieldset`]) that both the engine's plan and an API server implementation need, and
//! a request-recording decorator ([`recording`]). It is its own crate so that implementations can
//! live outside the `coxswain` library: the real adapter over the `kube` crate stays in `coxswain`
//! (`coxswain::cluster::kube_api`), and the in-memory double used by tests and the demo lives in
//! `coxswain-memcluster`, which release builds do not contain.

mod error;
pub mod fieldset;
pub mod recording;
mod types;

pub use error::{ClusterError, FieldConflict};
pub use types::{
    ApplyOptions, Gvk, LogRequest, ObjectKey, Preconditions, ResourceType, ServerVersion,
    WatchEvent,
};

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::Value;

/// The field manager Coxswain applies with; ownership in `managedFields` is read under this name.
pub const FIELD_MANAGER: &str = "coxswain";

/// Everything the engine needs from a Kubernetes API server, and nothing more.
///
/// Objects are addressed by a [`ResourceType`] from [`Cluster::resolve`], so discovery happens once
/// per kind, not once per request. Every error names the object it concerns.
#[async_trait]
pub trait Cluster: Send + Sync {
    /// Resolves a group/version/kind to its resource (plural name, scope) through discovery.
    /// Implementations cache discovery for their lifetime. Unknown kinds give
    /// [`ClusterError::UnknownKind`].
    async fn resolve(&self, gvk: &Gvk) -> Result<ResourceType, ClusterError>;

    /// One LIST request. `namespace` is ignored for cluster-scoped resources; `label_selector`
    /// uses the API's syntax (`a=b,c=d`).
    async fn list(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, ClusterError>;

    /// One GET; `Ok(None)` when the object does not exist.
    async fn get(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ClusterError>;

    /// Server-side apply (`PATCH application/apply-patch+yaml`). Namespace and name come from the
    /// object's metadata. With `dry_run` the server computes the result without persisting it.
    async fn apply(
        &self,
        resource: &ResourceType,
        object: &Value,
        options: &ApplyOptions,
    ) -> Result<Value, ClusterError>;

    /// POST: creates the object, failing with [`ClusterError::AlreadyExists`] if it is there.
    async fn create(&self, resource: &ResourceType, object: &Value) -> Result<Value, ClusterError>;

    /// PUT with the object's `metadata.resourceVersion` as precondition; a stale version gives
    /// [`ClusterError::Conflict`]. Used for leases, where compare-and-swap is the point.
    async fn replace(&self, resource: &ResourceType, object: &Value)
    -> Result<Value, ClusterError>;

    /// DELETE with background propagation. `Ok(false)` when the object was already gone. With
    /// `preconditions`, a live object whose uid or resourceVersion differs is not deleted: the
    /// server answers 409, [`ClusterError::Conflict`] (prune deletes only the object it planned to).
    async fn delete(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        preconditions: Option<&Preconditions>,
    ) -> Result<bool, ClusterError>;

    /// WATCH from `resource_version` (or from now when `None`).
    async fn watch(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        label_selector: Option<&str>,
        resource_version: Option<&str>,
    ) -> Result<BoxStream<'static, Result<WatchEvent, ClusterError>>, ClusterError>;

    /// A container's log (`GET pods/{pod}/log`), as text. `Ok(None)` when there is none to
    /// read (the pod, the container or its previous instance does not exist). Health uses it
    /// best effort, to show why a container crashed; the default says no logs are available,
    /// for implementations that have none.
    async fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        request: &LogRequest,
    ) -> Result<Option<String>, ClusterError> {
        let _ = (namespace, pod, request);
        Ok(None)
    }

    /// The server's version (`GET /version`), for `coxswain version`. `Ok(None)` when the
    /// implementation has none to report (the default).
    async fn server_version(&self) -> Result<Option<ServerVersion>, ClusterError> {
        Ok(None)
    }
}
