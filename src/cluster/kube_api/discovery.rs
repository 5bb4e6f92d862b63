//! Resolves kinds through the resource list of their group-version only.
//!
//! Full discovery walks every group the server has (hundreds of requests on clusters with many
//! CRDs); a sync needs a handful of kinds, so each group-version is fetched once, on first use.
//! An unknown kind is never cached as unknown: a sync may install a CRD and then use its kind,
//! so a miss fetches the group-version again before giving up.

use super::errors::Target;
use super::paths;
use super::transport::{Call, Transport};
use crate::cluster::{ClusterError, Gvk, ResourceType};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// One entry of an `APIResourceList`. Subresources (`deployments/status`) are skipped.
#[derive(Debug, Clone, Deserialize)]
struct ApiResource {
    name: String,
    kind: String,
    #[serde(default)]
    namespaced: bool,
}

#[derive(Debug, Deserialize)]
struct ApiResourceList {
    #[serde(default)]
    resources: Vec<ApiResource>,
}

/// Resource lists by group-version (`apps/v1`), shared by clones of one cluster handle.
#[derive(Debug, Default)]
pub(super) struct DiscoveryCache {
    by_group_version: Mutex<HashMap<String, Arc<Vec<ApiResource>>>>,
}

impl DiscoveryCache {
    pub(super) async fn resolve(
        &self,
        transport: &Transport,
        gvk: &Gvk,
    ) -> Result<ResourceType, ClusterError> {
        let unknown = || ClusterError::UnknownKind { gvk: gvk.to_string() };
        if gvk.version.is_empty() || gvk.kind.is_empty() || gvk.group.contains('/') {
            return Err(unknown());
        }
        let group_version = gvk.api_version();
        if let Some(resource) = self.cached(&group_version).and_then(|list| find(&list, gvk)) {
            return Ok(resource);
        }
        let target = Target::Discovery { gvk: gvk.clone() };
        let body = transport.call(&Call::get(paths::group_version_path(gvk)), &target).await?;
        let list: ApiResourceList =
            serde_json::from_slice(&body).map_err(|error| ClusterError::Other {
                target: target.to_string(),
                message: format!("the API server sent a resource list that is not valid: {error}"),
            })?;
        let resources = Arc::new(
            list.resources.into_iter().filter(|resource| !resource.name.contains('/')).collect(),
        );
        self.lock().insert(group_version, Arc::clone(&resources));
        find(&resources, gvk).ok_or_else(unknown)
    }

    fn cached(&self, group_version: &str) -> Option<Arc<Vec<ApiResource>>> {
        self.lock().get(group_version).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Vec<ApiResource>>>> {
        // The map is only ever replaced entry by entry, so a panic elsewhere cannot leave it torn.
        self.by_group_version.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn find(resources: &[ApiResource], gvk: &Gvk) -> Option<ResourceType> {
    resources.iter().find(|resource| resource.kind == gvk.kind).map(|resource| ResourceType {
        gvk: gvk.clone(),
        plural: resource.name.clone(),
        namespaced: resource.namespaced,
    })
}
