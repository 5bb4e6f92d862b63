//! The cluster boundary: the only door through which Coxswain talks to Kubernetes.
//!
//! The contract (the [`Cluster`] trait, its types, typed errors, field sets and the request
//! recorder) lives in the `coxswain-cluster` crate and is re-exported here, so `coxswain::cluster::
//! {Cluster, ClusterError, Gvk, ...}` keep working. This module adds the real adapter,
//! [`kube_api::KubeCluster`] over the `kube` crate, and [`connect`], which picks the backend. The
//! in-memory double (`coxswain-memcluster`) is a dev-dependency for tests and an optional
//! dependency behind the `demo` feature, so default builds do not contain it.

pub mod kube_api;

pub use coxswain_cluster::*;

/// The environment variable that selects the cluster backend: unset or `kube` for the
/// kubeconfig's cluster; `memory` for an in-process cluster (demos, the desktop app's end-to-end
/// tests), available in builds with the `demo` feature. The in-memory cluster lives only as long
/// as the process.
pub const BACKEND_VAR: &str = "COXSWAIN_CLUSTER";

/// A cluster backend [`BACKEND_VAR`] can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Kube,
    Memory,
}

/// Reads [`BACKEND_VAR`]'s value (`None` when unset). `memory_built_in` says whether this build
/// has the in-memory cluster (the `demo` feature); asking for it in a build without it is an
/// error that says how to get one, never a silent fallback to the kubeconfig's cluster.
fn backend(value: Option<&str>, memory_built_in: bool) -> Result<Backend, ClusterError> {
    match value {
        None | Some("kube") => Ok(Backend::Kube),
        Some("memory") if memory_built_in => Ok(Backend::Memory),
        Some("memory") => Err(no_memory_cluster()),
        Some(other) => Err(ClusterError::Backend {
            message: format!("{BACKEND_VAR}={other}: expected `kube` or `memory`"),
        }),
    }
}

/// Connects to the cluster of `context` (the kubeconfig's current context when `None`) through
/// `kubeconfig` (`--kubeconfig`) or the one kubectl would find, or to a new in-process cluster
/// when [`BACKEND_VAR`] is `memory` in a `demo` build.
pub async fn connect(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> Result<std::sync::Arc<dyn Cluster>, ClusterError> {
    let value = std::env::var(BACKEND_VAR).ok();
    match backend(value.as_deref(), cfg!(feature = "demo"))? {
        Backend::Kube => Ok(std::sync::Arc::new(
            kube_api::KubeCluster::from_kubeconfig(kubeconfig, context).await?,
        )),
        Backend::Memory => memory_cluster(),
    }
}

fn no_memory_cluster() -> ClusterError {
    ClusterError::Backend {
        message: format!(
            "{BACKEND_VAR}=memory: this build has no in-memory cluster; it comes with the `demo` \
             feature (`cargo run --features demo -- ...`, `cargo build --features demo`); unset \
             {BACKEND_VAR} to use the kubeconfig's cluster"
        ),
    }
}

#[cfg(feature = "demo")]
#[allow(clippy::unnecessary_wraps)] // the same signature as the build without the demo
fn memory_cluster() -> Result<std::sync::Arc<dyn Cluster>, ClusterError> {
    let memory = coxswain_memcluster::MemoryCluster::new();
    // Pods of these images run but never become ready (a model server loading slowly): to see
    // a sync wait for health, and be cancelled, in the demo.
    for image in std::env::var(NOT_READY_VAR).unwrap_or_default().split(',') {
        if !image.trim().is_empty() {
            memory.fail_pods(image.trim(), coxswain_memcluster::PodFault::NotReady);
        }
    }
    Ok(std::sync::Arc::new(memory))
}

/// Images whose pods the in-memory cluster never makes ready (comma-separated).
#[cfg(feature = "demo")]
const NOT_READY_VAR: &str = "COXSWAIN_MEMORY_NOT_READY";

/// Not reached (`backend` refuses `memory` in this build first); an error all the same.
#[cfg(not(feature = "demo"))]
fn memory_cluster() -> Result<std::sync::Arc<dyn Cluster>, ClusterError> {
    Err(no_memory_cluster())
}

#[cfg(test)]
mod tests {
    use super::{Backend, ClusterError, backend};

    #[test]
    fn unset_and_kube_select_the_kubeconfig_cluster() {
        for built_in in [false, true] {
            assert_eq!(backend(None, built_in).ok(), Some(Backend::Kube));
            assert_eq!(backend(Some("kube"), built_in).ok(), Some(Backend::Kube));
        }
    }

    #[test]
    fn memory_needs_the_demo_feature_and_says_how_to_get_it() {
        assert_eq!(backend(Some("memory"), true).ok(), Some(Backend::Memory));
        let Err(error) = backend(Some("memory"), false) else {
            panic!("memory accepted without the demo feature");
        };
        assert!(matches!(error, ClusterError::Backend { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("no in-memory cluster"), "{message}");
        assert!(message.contains("--features demo"), "{message}");
    }

    #[test]
    fn an_unknown_backend_names_the_choices() {
        let Err(error) = backend(Some("kind"), true) else { panic!("kind accepted") };
        assert_eq!(error.to_string(), "COXSWAIN_CLUSTER=kind: expected `kube` or `memory`");
    }
}
