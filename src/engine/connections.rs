//! One connection per kubeconfig context, shared by every operation of an engine.

use crate::cluster::{self, Cluster, ClusterError};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Opens a cluster connection for a kube context (`None`: the current context). Front ends pass
/// [`default_connector`]; tests pass one that hands out an in-memory cluster.
pub type Connector = Arc<
    dyn Fn(Option<String>) -> BoxFuture<'static, Result<Arc<dyn Cluster>, ClusterError>>
        + Send
        + Sync,
>;

/// [`cluster::connect`]: the kubeconfig's cluster (or, in `demo` builds, the in-process one
/// with `COXSWAIN_CLUSTER=memory`).
pub fn default_connector() -> Connector {
    connector_with_kubeconfig(None)
}

/// [`default_connector`] reading `kubeconfig` (`--kubeconfig`) instead of the one kubectl would
/// find when it is `Some`.
pub fn connector_with_kubeconfig(kubeconfig: Option<PathBuf>) -> Connector {
    Arc::new(move |context: Option<String>| {
        let kubeconfig = kubeconfig.clone();
        Box::pin(async move { cluster::connect(kubeconfig.as_deref(), context.as_deref()).await })
    })
}

/// The connection cache.
pub(super) struct Connections {
    connector: Connector,
    open: tokio::sync::Mutex<HashMap<Option<String>, Arc<dyn Cluster>>>,
}

impl Connections {
    pub(super) fn new(connector: Connector) -> Self {
        Self { connector, open: tokio::sync::Mutex::new(HashMap::new()) }
    }

    /// The connector, for an engine over a private checkout of the same repo.
    pub(super) fn connector(&self) -> Connector {
        self.connector.clone()
    }

    /// The cluster of `context`, connecting on first use. Failures are not cached: the next
    /// call tries again (the cluster may come back).
    pub(super) async fn get(
        &self,
        context: Option<&str>,
    ) -> Result<Arc<dyn Cluster>, ClusterError> {
        let key = context.map(str::to_owned);
        let mut open = self.open.lock().await;
        if let Some(cluster) = open.get(&key) {
            return Ok(cluster.clone());
        }
        let cluster = (self.connector)(key.clone()).await?;
        open.insert(key, cluster.clone());
        Ok(cluster)
    }
}
