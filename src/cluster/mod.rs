//! The cluster boundary: the only door through which Coxswain talks to Kubernetes.
//!
//! The engine sees objects as `serde_json::Value` (what the API server speaks) and a narrow async
//! trait. Two implementations: `kube_api::KubeCluster` over the `kube` crate, and
//! `memory::MemoryCluster`, an in-memory double that follows the API server's rules closely
//! enough (resourceVersion, 404/409/422, managedFields) for the engine's tests to mean something.

mod error;
pub mod kube_api;
pub mod memory;
pub mod recording;
mod types;

pub use error::{ClusterError, FieldConflict};
pub use types::{ApplyOptions, Gvk, ObjectKey, ResourceType, WatchEvent};

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

    /// DELETE with background propagation. `Ok(false)` when the object was already gone.
    async fn delete(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<bool, ClusterError>;

    /// WATCH from `resource_version` (or from now when `None`).
    async fn watch(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        label_selector: Option<&str>,
        resource_version: Option<&str>,
    ) -> Result<BoxStream<'static, Result<WatchEvent, ClusterError>>, ClusterError>;
}

/// The environment variable that selects the cluster backend: unset or `kube` for the
/// kubeconfig's cluster; `memory` for an in-process cluster (demos, the desktop app's end-to-end
/// tests). The in-memory cluster lives only as long as the process.
pub const BACKEND_VAR: &str = "COXSWAIN_CLUSTER";

/// Connects to the cluster of `context` (the kubeconfig's current context when `None`).
pub async fn connect(context: Option<&str>) -> Result<std::sync::Arc<dyn Cluster>, ClusterError> {
    match std::env::var(BACKEND_VAR).as_deref() {
        Ok("memory") => Ok(std::sync::Arc::new(memory::MemoryCluster::new())),
        Ok("kube") | Err(_) => {
            Ok(std::sync::Arc::new(kube_api::KubeCluster::from_kubeconfig(context).await?))
        }
        Ok(other) => Err(ClusterError::Config {
            message: format!("{BACKEND_VAR}={other}: expected `kube` or `memory`"),
        }),
    }
}
