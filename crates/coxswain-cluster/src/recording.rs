//! A decorator that records every request sent through a [`Cluster`], in order, by verb and
//! target. Tests assert on it against a real API server (where the server keeps no counters, unlike
//! the in-memory double), and the benchmarks report it beside their timings.

use crate::{
    ApplyOptions, Cluster, ClusterError, Gvk, LogRequest, ObjectKey, Preconditions, ResourceType,
    ServerVersion, WatchEvent,
};
use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// What a request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    Resolve,
    List,
    Get,
    Apply,
    DryRun,
    Create,
    Replace,
    Delete,
    Watch,
    /// A container log read (`pods/log`).
    Log,
}

impl Verb {
    /// The verb as reports print it (`dry-run`, `list`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resolve => "resolve",
            Self::List => "list",
            Self::Get => "get",
            Self::Apply => "apply",
            Self::DryRun => "dry-run",
            Self::Create => "create",
            Self::Replace => "replace",
            Self::Delete => "delete",
            Self::Watch => "watch",
            Self::Log => "log",
        }
    }

    /// Whether the request changes what the server stores.
    pub fn is_write(self) -> bool {
        matches!(self, Self::Apply | Self::Create | Self::Replace | Self::Delete)
    }
}

/// Wraps a cluster and records each request it passes on.
pub struct Recording {
    inner: Arc<dyn Cluster>,
    log: Mutex<Vec<(Verb, String)>>,
}

impl Recording {
    pub fn new(inner: Arc<dyn Cluster>) -> Self {
        Self { inner, log: Mutex::new(Vec::new()) }
    }

    fn note(&self, verb: Verb, target: String) {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).push((verb, target));
    }

    /// The requests recorded so far, clearing the record.
    pub fn take(&self) -> Vec<(Verb, String)> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn reset(&self) {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    pub fn calls(&self) -> Vec<(Verb, String)> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn count(&self, verb: Verb) -> usize {
        self.calls().iter().filter(|(v, _)| *v == verb).count()
    }

    pub fn writes(&self) -> Vec<(Verb, String)> {
        self.calls().into_iter().filter(|(v, _)| v.is_write()).collect()
    }

    pub fn summary(&self) -> String {
        let mut counts: BTreeMap<Verb, usize> = BTreeMap::new();
        for (verb, _) in self.calls() {
            *counts.entry(verb).or_default() += 1;
        }
        format!("{counts:?}")
    }
}

fn key_of(resource: &ResourceType, object: &Value) -> String {
    ObjectKey::of(object).map_or_else(|| resource.gvk.group_kind(), |key| key.to_string())
}

fn collection(resource: &ResourceType, namespace: Option<&str>) -> String {
    format!("{} in {}", resource.gvk.group_kind(), namespace.unwrap_or("<cluster>"))
}

#[async_trait]
impl Cluster for Recording {
    async fn resolve(&self, gvk: &Gvk) -> Result<ResourceType, ClusterError> {
        self.note(Verb::Resolve, gvk.to_string());
        self.inner.resolve(gvk).await
    }

    async fn list(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, ClusterError> {
        self.note(Verb::List, collection(resource, namespace));
        self.inner.list(resource, namespace, label_selector).await
    }

    async fn get(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ClusterError> {
        self.note(Verb::Get, ObjectKey::new(&resource.gvk, namespace, name).to_string());
        self.inner.get(resource, namespace, name).await
    }

    async fn apply(
        &self,
        resource: &ResourceType,
        object: &Value,
        options: &ApplyOptions,
    ) -> Result<Value, ClusterError> {
        let verb = if options.dry_run { Verb::DryRun } else { Verb::Apply };
        self.note(verb, key_of(resource, object));
        self.inner.apply(resource, object, options).await
    }

    async fn create(&self, resource: &ResourceType, object: &Value) -> Result<Value, ClusterError> {
        self.note(Verb::Create, key_of(resource, object));
        self.inner.create(resource, object).await
    }

    async fn replace(
        &self,
        resource: &ResourceType,
        object: &Value,
    ) -> Result<Value, ClusterError> {
        self.note(Verb::Replace, key_of(resource, object));
        self.inner.replace(resource, object).await
    }

    async fn delete(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        preconditions: Option<&Preconditions>,
    ) -> Result<bool, ClusterError> {
        self.note(Verb::Delete, ObjectKey::new(&resource.gvk, namespace, name).to_string());
        self.inner.delete(resource, namespace, name, preconditions).await
    }

    async fn watch(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        label_selector: Option<&str>,
        resource_version: Option<&str>,
    ) -> Result<BoxStream<'static, Result<WatchEvent, ClusterError>>, ClusterError> {
        self.note(Verb::Watch, collection(resource, namespace));
        self.inner.watch(resource, namespace, label_selector, resource_version).await
    }

    async fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        request: &LogRequest,
    ) -> Result<Option<String>, ClusterError> {
        self.note(Verb::Log, format!("Pod {namespace}/{pod} container {}", request.container));
        self.inner.pod_log(namespace, pod, request).await
    }

    /// Not noted: it reads no object, and the recorded requests are about objects.
    async fn server_version(&self) -> Result<Option<ServerVersion>, ClusterError> {
        self.inner.server_version().await
    }
}
