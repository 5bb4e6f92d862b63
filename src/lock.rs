//! One sync at a time per environment: a `coordination.k8s.io/v1` Lease in the env's namespace,
//! taken with compare-and-swap (create, or replace at a known resourceVersion), renewed while the
//! sync runs, and taken over once expired (a crashed sync must not block an env forever).

use crate::cluster::{Cluster, ClusterError, Gvk, ResourceType};
use crate::ownership::{ENV_LABEL, INTERNAL_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

pub const LEASE_NAME: &str = "coxswain-sync";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "environment {env} is locked by {holder} (lease {namespace}/{LEASE_NAME}, renewed {renewed}, expires {expires}); wait for that sync to finish"
    )]
    Held { env: String, namespace: String, holder: String, renewed: String, expires: String },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Who holds the lock: `$COXSWAIN_HOLDER`, else a CI job id, else `user@host`.
pub fn default_holder() -> String {
    if let Ok(holder) = std::env::var("COXSWAIN_HOLDER") {
        return holder;
    }
    for (var, prefix) in
        [("GITHUB_RUN_ID", "github-run-"), ("CI_JOB_ID", "ci-job-"), ("BUILD_ID", "build-")]
    {
        if let Ok(id) = std::env::var(var) {
            return format!("{prefix}{id}");
        }
    }
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map_or_else(|_| "localhost".into(), |h| h.trim().to_owned());
    format!("{user}@{host}")
}

fn now_micro() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A held lock. Renewal runs in the background until [`SyncLock::release`].
pub struct SyncLock {
    cluster: Arc<dyn Cluster>,
    resource: ResourceType,
    namespace: String,
    holder: String,
    renewer: JoinHandle<()>,
}

impl SyncLock {
    /// Takes the env's lease or fails at once naming the holder.
    pub async fn acquire(
        cluster: Arc<dyn Cluster>,
        env: &str,
        namespace: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Self, LockError> {
        let resource =
            cluster.resolve(&Gvk::from_api_version("coordination.k8s.io/v1", "Lease")).await?;
        let seconds = ttl.as_secs().max(1);
        let lease = |resource_version: Option<&str>| {
            let mut lease = json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": LEASE_NAME, "namespace": namespace,
                    "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, ENV_LABEL: env, INTERNAL_LABEL: "true"}},
                "spec": {"holderIdentity": holder, "leaseDurationSeconds": seconds, "acquireTime": now_micro(), "renewTime": now_micro()}
            });
            if let Some(version) = resource_version {
                lease["metadata"]["resourceVersion"] = json!(version);
            }
            lease
        };
        let held = |current: &Value| {
            let spec = current.get("spec");
            let holder = spec
                .and_then(|s| s.get("holderIdentity"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let renewed = spec
                .and_then(|s| s.get("renewTime"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let duration = spec
                .and_then(|s| s.get("leaseDurationSeconds"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let expires = DateTime::parse_from_rfc3339(&renewed)
                .ok()
                .map(|t| t.with_timezone(&Utc) + chrono::Duration::seconds(duration));
            (holder, renewed, expires)
        };
        match cluster.get(&resource, Some(namespace), LEASE_NAME).await? {
            None => match cluster.create(&resource, &lease(None)).await {
                Ok(_) => {}
                Err(ClusterError::AlreadyExists { .. }) => {
                    // Someone took it between our GET and POST.
                    let current = cluster
                        .get(&resource, Some(namespace), LEASE_NAME)
                        .await?
                        .unwrap_or(Value::Null);
                    let (holder, renewed, expires) = held(&current);
                    return Err(LockError::Held {
                        env: env.into(),
                        namespace: namespace.into(),
                        holder,
                        renewed,
                        expires: expires.map(|e| e.to_rfc3339()).unwrap_or_default(),
                    });
                }
                Err(other) => return Err(other.into()),
            },
            Some(current) => {
                let (current_holder, renewed, expires) = held(&current);
                let free = current_holder.is_empty() || expires.is_none_or(|e| e < Utc::now());
                if !free {
                    return Err(LockError::Held {
                        env: env.into(),
                        namespace: namespace.into(),
                        holder: current_holder,
                        renewed,
                        expires: expires.map(|e| e.to_rfc3339()).unwrap_or_default(),
                    });
                }
                let version = current.pointer("/metadata/resourceVersion").and_then(Value::as_str);
                match cluster.replace(&resource, &lease(version)).await {
                    Ok(_) => {
                        tracing::info!(previous = %current_holder, "took over an expired or released lease");
                    }
                    Err(ClusterError::Conflict { .. }) => {
                        let current = cluster
                            .get(&resource, Some(namespace), LEASE_NAME)
                            .await?
                            .unwrap_or(Value::Null);
                        let (holder, renewed, expires) = held(&current);
                        return Err(LockError::Held {
                            env: env.into(),
                            namespace: namespace.into(),
                            holder,
                            renewed,
                            expires: expires.map(|e| e.to_rfc3339()).unwrap_or_default(),
                        });
                    }
                    Err(other) => return Err(other.into()),
                }
            }
        }
        let renewer = tokio::spawn(renew(
            cluster.clone(),
            resource.clone(),
            namespace.to_owned(),
            holder.to_owned(),
            ttl,
        ));
        Ok(Self {
            cluster,
            resource,
            namespace: namespace.to_owned(),
            holder: holder.to_owned(),
            renewer,
        })
    }

    /// Stops renewing and frees the lease (best effort: an expired lease frees itself).
    pub async fn release(self) {
        self.renewer.abort();
        if let Ok(Some(mut current)) =
            self.cluster.get(&self.resource, Some(&self.namespace), LEASE_NAME).await
            && current.pointer("/spec/holderIdentity").and_then(Value::as_str)
                == Some(self.holder.as_str())
        {
            if let Some(spec) = current.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("holderIdentity");
            }
            if let Err(error) = self.cluster.replace(&self.resource, &current).await {
                tracing::warn!(%error, "could not release the sync lease; it expires by itself");
            }
        }
    }
}

impl Drop for SyncLock {
    /// A lock dropped without `release` (a panic, an early return) must stop renewing, so the
    /// lease expires and the environment is not blocked forever.
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Renews the lease at a third of its duration so a slow sync keeps it.
async fn renew(
    cluster: Arc<dyn Cluster>,
    resource: ResourceType,
    namespace: String,
    holder: String,
    ttl: Duration,
) {
    let mut interval = tokio::time::interval((ttl / 3).max(Duration::from_millis(100)));
    interval.tick().await;
    loop {
        interval.tick().await;
        let Ok(Some(mut lease)) = cluster.get(&resource, Some(&namespace), LEASE_NAME).await else {
            continue;
        };
        if lease.pointer("/spec/holderIdentity").and_then(Value::as_str) != Some(holder.as_str()) {
            tracing::warn!("the sync lease was taken by someone else");
            return;
        }
        lease["spec"]["renewTime"] = json!(now_micro());
        if let Err(error) = cluster.replace(&resource, &lease).await {
            tracing::warn!(%error, "could not renew the sync lease");
        }
    }
}
