//! The real adapter: [`KubeCluster`] speaks the Kubernetes REST API through the `kube` crate.
//!
//! Only kube's transport is used (kubeconfig, credentials, TLS); requests are built here over
//! the dynamic REST layout so every server version and every CRD works without generated types,
//! and bodies are read as `serde_json::Value` straight from the wire so no field is lost.

mod discovery;
mod errors;
mod kubeconfig;
mod paths;
mod transport;
mod watch;

pub use transport::RetryPolicy;

use self::discovery::DiscoveryCache;
use self::errors::Target;
use self::transport::{Call, Repeat, Transport};
use super::{
    ApplyOptions, Cluster, ClusterError, LogRequest, ObjectKey, Preconditions, ResourceType,
    ServerVersion, WatchEvent,
};
use crate::cluster::Gvk;
use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

/// How long one request may take before it fails with [`ClusterError::Timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const JSON: &str = "application/json";
const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// A Kubernetes API server reached through a kubeconfig or an explicit `kube::Config`.
///
/// Discovery answers are cached for the lifetime of the value; create one per command run.
pub struct KubeCluster {
    transport: Transport,
    discovery: DiscoveryCache,
}

impl fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeCluster")
            .field("server", &self.transport.server)
            .field("timeout", &self.transport.timeout)
            .field("retry", &self.transport.retry)
            .finish_non_exhaustive()
    }
}

impl KubeCluster {
    /// Connects with the kubeconfig kubectl would use (`kubeconfig` when given, else
    /// `KUBECONFIG`, else `~/.kube/config`, else inside a pod its service account), with `context`
    /// or the current context. Must run inside a Tokio runtime.
    pub async fn from_kubeconfig(
        kubeconfig: Option<&std::path::Path>,
        context: Option<&str>,
    ) -> Result<Self, ClusterError> {
        Self::from_config(kubeconfig::load(kubeconfig, context).await?)
    }

    /// Connects with an explicit configuration. kube's built-in retry layer is turned off in
    /// favour of this adapter's bounded one (see [`RetryPolicy`]). Must run inside a Tokio
    /// runtime (the client spawns its connection pool there).
    pub fn from_config(mut config: kube::Config) -> Result<Self, ClusterError> {
        let server = config.cluster_url.to_string().trim_end_matches('/').to_owned();
        config.default_retry = false;
        let client = kube::Client::try_from(config).map_err(|error| ClusterError::Config {
            message: format!("cannot set up a client for {server}: {error}"),
        })?;
        Ok(Self {
            transport: Transport {
                client,
                server,
                timeout: DEFAULT_TIMEOUT,
                retry: RetryPolicy::default(),
            },
            discovery: DiscoveryCache::default(),
        })
    }

    /// Sets the per-request timeout (default [`DEFAULT_TIMEOUT`]). It bounds each attempt; a
    /// timed-out request is not retried.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.transport.timeout = timeout;
        self
    }

    /// Sets how throttled and failed requests are retried.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.transport.retry = retry;
        self
    }

    /// The API server URL, as errors name it.
    pub fn server_url(&self) -> &str {
        &self.transport.server
    }

    /// The namespace of the kubeconfig context (`default` when it names none).
    pub fn default_namespace(&self) -> &str {
        self.transport.client.default_namespace()
    }

    /// Builds the target of a request on one object, refusing names that cannot be a path
    /// segment and a missing namespace for a namespaced kind.
    fn object_target(
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(Option<String>, ObjectKey), ClusterError> {
        let group_kind = resource.gvk.group_kind();
        paths::check_segment("name", name, &format!("{group_kind} {name}"))?;
        let namespace = if resource.namespaced {
            let Some(namespace) = namespace else {
                return Err(ClusterError::Other {
                    target: format!("{group_kind} {name}"),
                    message: format!(
                        "{group_kind} is namespaced but no namespace was given; set \
                         metadata.namespace"
                    ),
                });
            };
            paths::check_segment("namespace", namespace, &format!("{group_kind} {name}"))?;
            Some(namespace.to_owned())
        } else {
            None
        };
        let key = ObjectKey::new(&resource.gvk, namespace.as_deref(), name);
        Ok((namespace, key))
    }

    /// The namespace and name an object's metadata gives, checked like [`Self::object_target`].
    fn target_of(
        resource: &ResourceType,
        object: &Value,
    ) -> Result<(Option<String>, ObjectKey), ClusterError> {
        let name = object.pointer("/metadata/name").and_then(Value::as_str).ok_or_else(|| {
            ClusterError::Other {
                target: format!("{} object", resource.gvk.group_kind()),
                message: "the object has no metadata.name".to_owned(),
            }
        })?;
        let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str);
        Self::object_target(resource, namespace, name)
    }

    fn collection_target(
        resource: &ResourceType,
        namespace: Option<&str>,
    ) -> Result<(Option<String>, Target), ClusterError> {
        let namespace = namespace.filter(|_| resource.namespaced);
        let target = Target::Collection {
            gvk: resource.gvk.clone(),
            namespace: namespace.map(str::to_owned),
        };
        if let Some(namespace) = namespace {
            paths::check_segment("namespace", namespace, &target.to_string())?;
        }
        Ok((namespace.map(str::to_owned), target))
    }

    async fn call_for_object(
        &self,
        call: &Call,
        target: &Target,
        resource: &ResourceType,
    ) -> Result<Value, ClusterError> {
        let body = self.transport.call(call, target).await?;
        let mut object = parse(&body, target)?;
        fill_type(&mut object, &resource.gvk.api_version(), &resource.gvk.kind);
        Ok(object)
    }

    /// The collection's current resourceVersion, from a LIST of at most one item.
    async fn current_version(&self, path: &str, target: &Target) -> Result<String, ClusterError> {
        let call = Call::get(paths::with_query(path.to_owned(), &[("limit", "1")]));
        let list = parse(&self.transport.call(&call, target).await?, target)?;
        list.pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ClusterError::Other {
                target: target.to_string(),
                message: "the API server sent a list without metadata.resourceVersion".to_owned(),
            })
    }
}

#[async_trait]
impl Cluster for KubeCluster {
    async fn server_version(&self) -> Result<Option<ServerVersion>, ClusterError> {
        let target = Target::ServerVersion;
        let body = self.transport.call(&Call::get("/version".to_owned()), &target).await?;
        serde_json::from_value(parse(&body, &target)?).map(Some).map_err(|error| {
            ClusterError::Other {
                target: target.to_string(),
                message: format!("the API server sent an unreadable version: {error}"),
            }
        })
    }

    async fn resolve(&self, gvk: &Gvk) -> Result<ResourceType, ClusterError> {
        self.discovery.resolve(&self.transport, gvk).await
    }

    async fn list(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, ClusterError> {
        let (namespace, target) = Self::collection_target(resource, namespace)?;
        let pairs: Vec<(&str, &str)> =
            label_selector.map(|selector| ("labelSelector", selector)).into_iter().collect();
        let path =
            paths::with_query(paths::collection_path(resource, namespace.as_deref()), &pairs);
        let list = parse(&self.transport.call(&Call::get(path), &target).await?, &target)?;
        let items = match list {
            Value::Object(mut map) => map.remove("items").unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let mut items = match items {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            _ => {
                return Err(ClusterError::Other {
                    target: target.to_string(),
                    message: "the API server sent a list whose items are not an array".to_owned(),
                });
            }
        };
        // List items come without apiVersion and kind; the engine keys objects by them.
        let api_version = resource.gvk.api_version();
        for item in &mut items {
            fill_type(item, &api_version, &resource.gvk.kind);
        }
        Ok(items)
    }

    async fn get(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ClusterError> {
        let (namespace, key) = Self::object_target(resource, namespace, name)?;
        let call = Call::get(paths::object_path(resource, namespace.as_deref(), name));
        match self.call_for_object(&call, &Target::Object(key), resource).await {
            Ok(object) => Ok(Some(object)),
            Err(ClusterError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn apply(
        &self,
        resource: &ResourceType,
        object: &Value,
        options: &ApplyOptions,
    ) -> Result<Value, ClusterError> {
        let (namespace, key) = Self::target_of(resource, object)?;
        let mut pairs = vec![("fieldManager", options.field_manager.as_str())];
        if options.force {
            pairs.push(("force", "true"));
        }
        if options.dry_run {
            pairs.push(("dryRun", "All"));
        }
        let path = paths::object_path(resource, namespace.as_deref(), &key.name);
        let call = Call {
            method: http::Method::PATCH,
            path_and_query: paths::with_query(path, &pairs),
            content_type: Some(APPLY_PATCH),
            body: to_body(object, &key)?,
            // Server-side apply is idempotent; see the transport module.
            repeat: Repeat::Safe,
        };
        self.call_for_object(&call, &Target::Object(key), resource).await
    }

    async fn create(&self, resource: &ResourceType, object: &Value) -> Result<Value, ClusterError> {
        let (namespace, key) = Self::target_of(resource, object)?;
        let path = paths::collection_path(resource, namespace.as_deref());
        let call = Call {
            method: http::Method::POST,
            path_and_query: paths::with_query(path, &[("fieldManager", super::FIELD_MANAGER)]),
            content_type: Some(JSON),
            body: to_body(object, &key)?,
            repeat: Repeat::Unsafe,
        };
        self.call_for_object(&call, &Target::Object(key), resource).await
    }

    async fn replace(
        &self,
        resource: &ResourceType,
        object: &Value,
    ) -> Result<Value, ClusterError> {
        let (namespace, key) = Self::target_of(resource, object)?;
        let has_version = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|version| !version.is_empty());
        if !has_version {
            // Without it the PUT would overwrite whatever is there: not a compare-and-swap.
            return Err(ClusterError::Other {
                target: key.to_string(),
                message: "replace needs metadata.resourceVersion (read the object first)"
                    .to_owned(),
            });
        }
        let path = paths::object_path(resource, namespace.as_deref(), &key.name);
        let call = Call {
            method: http::Method::PUT,
            path_and_query: paths::with_query(path, &[("fieldManager", super::FIELD_MANAGER)]),
            content_type: Some(JSON),
            body: to_body(object, &key)?,
            repeat: Repeat::Unsafe,
        };
        self.call_for_object(&call, &Target::Object(key), resource).await
    }

    async fn delete(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        preconditions: Option<&Preconditions>,
    ) -> Result<bool, ClusterError> {
        let (namespace, key) = Self::object_target(resource, namespace, name)?;
        let mut options = serde_json::json!({
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": "Background",
        });
        // `DeleteOptions.preconditions`: the server answers 409 when the object differs.
        if let Some(preconditions) = preconditions.filter(|p| !p.is_empty()) {
            let mut wanted = Map::new();
            if let Some(uid) = &preconditions.uid {
                wanted.insert("uid".to_owned(), Value::from(uid.as_str()));
            }
            if let Some(version) = &preconditions.resource_version {
                wanted.insert("resourceVersion".to_owned(), Value::from(version.as_str()));
            }
            options["preconditions"] = Value::Object(wanted);
        }
        let call = Call {
            method: http::Method::DELETE,
            path_and_query: paths::object_path(resource, namespace.as_deref(), name),
            content_type: Some(JSON),
            body: to_body(&options, &key)?,
            repeat: Repeat::Unsafe,
        };
        match self.transport.call(&call, &Target::Object(key)).await {
            Ok(_) => Ok(true),
            Err(ClusterError::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Without `resource_version` the watch starts at the collection's current version (read
    /// with a one-item LIST), so it reports changes from now on rather than replaying every
    /// existing object as `Added`.
    async fn watch(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        label_selector: Option<&str>,
        resource_version: Option<&str>,
    ) -> Result<BoxStream<'static, Result<WatchEvent, ClusterError>>, ClusterError> {
        let (namespace, target) = Self::collection_target(resource, namespace)?;
        let path = paths::collection_path(resource, namespace.as_deref());
        let version = match resource_version {
            Some(version) => version.to_owned(),
            None => self.current_version(&path, &target).await?,
        };
        let timeout = watch::WATCH_TIMEOUT_SECONDS.to_string();
        let mut pairs = vec![
            ("watch", "true"),
            ("resourceVersion", version.as_str()),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeout.as_str()),
        ];
        if let Some(selector) = label_selector {
            pairs.push(("labelSelector", selector));
        }
        let call = Call::get(paths::with_query(path, &pairs));
        let response = self.transport.open(&call, &target).await?;
        let idle = Duration::from_secs(watch::WATCH_TIMEOUT_SECONDS) + self.transport.timeout;
        Ok(watch::events(
            response,
            target,
            self.transport.server.clone(),
            idle,
            resource.gvk.api_version(),
            resource.gvk.kind.clone(),
        ))
    }

    /// `GET /api/v1/namespaces/{ns}/pods/{pod}/log` with `tailLines` and `limitBytes`, so the
    /// answer is bounded however much the container wrote. A missing pod or previous instance
    /// (404, or the 400 the server gives for "previous terminated container not found") is
    /// `Ok(None)`.
    async fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        request: &LogRequest,
    ) -> Result<Option<String>, ClusterError> {
        let resource = ResourceType {
            gvk: Gvk::from_api_version("v1", "Pod"),
            plural: "pods".to_owned(),
            namespaced: true,
        };
        let (namespace, key) = Self::object_target(&resource, Some(namespace), pod)?;
        paths::check_segment("container", &request.container, &key.to_string())?;
        let tail = request.tail_lines.to_string();
        let limit = request.limit_bytes.to_string();
        let mut pairs = vec![
            ("container", request.container.as_str()),
            ("tailLines", tail.as_str()),
            ("limitBytes", limit.as_str()),
        ];
        if request.previous {
            pairs.push(("previous", "true"));
        }
        let path = format!("{}/log", paths::object_path(&resource, namespace.as_deref(), pod));
        match self
            .transport
            .call(&Call::get(paths::with_query(path, &pairs)), &Target::Object(key))
            .await
        {
            Ok(body) => Ok(Some(String::from_utf8_lossy(&body).into_owned())),
            Err(ClusterError::NotFound { .. } | ClusterError::Invalid { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

fn parse(body: &[u8], target: &Target) -> Result<Value, ClusterError> {
    serde_json::from_slice(body).map_err(|error| ClusterError::Other {
        target: target.to_string(),
        message: format!("the API server sent a body that is not valid JSON: {error}"),
    })
}

fn to_body(value: &Value, key: &ObjectKey) -> Result<Vec<u8>, ClusterError> {
    serde_json::to_vec(value).map_err(|error| ClusterError::Other {
        target: key.to_string(),
        message: format!("cannot encode the object as JSON: {error}"),
    })
}

/// Adds `apiVersion` and `kind` (first, as the server orders them) when an object lacks them,
/// as LIST items do; present values are left alone.
fn fill_type(object: &mut Value, api_version: &str, kind: &str) {
    let Value::Object(map) = object else { return };
    let missing = |key: &str| map.get(key).is_none_or(Value::is_null);
    if !missing("apiVersion") && !missing("kind") {
        return;
    }
    let mut filled = Map::with_capacity(map.len() + 2);
    filled.insert("apiVersion".to_owned(), Value::String(api_version.to_owned()));
    filled.insert("kind".to_owned(), Value::String(kind.to_owned()));
    for (key, value) in std::mem::take(map) {
        let keep_filled = (key == "apiVersion" || key == "kind") && value.is_null();
        if !keep_filled {
            filled.insert(key, value);
        }
    }
    *map = filled;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fill_type_adds_missing_type_first_and_keeps_present_fields() {
        let mut item = json!({"metadata": {"name": "a"}, "spec": {"x": 1}});
        fill_type(&mut item, "apps/v1", "Deployment");
        assert_eq!(
            serde_json::to_string(&item).unwrap_or_default(),
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a"},"spec":{"x":1}}"#
        );
        let mut typed = json!({"apiVersion": "apps/v1beta1", "kind": "Deployment"});
        fill_type(&mut typed, "apps/v1", "Deployment");
        assert_eq!(typed, json!({"apiVersion": "apps/v1beta1", "kind": "Deployment"}));
    }
}

#[cfg(test)]
mod proxy_tests {
    use super::*;
    use std::io::{BufRead as _, BufReader, Write as _};

    /// With `HTTPS_PROXY` (or a kubeconfig's `proxy-url`) set, requests go through the proxy, as
    /// kubectl's do; without the client's proxy support every connection would fail instead.
    #[tokio::test]
    async fn requests_go_through_the_configured_proxy() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let proxy = format!("http://{}", listener.local_addr().expect("addr"));
        let first_line = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut line = String::new();
            BufReader::new(stream.try_clone().expect("clone")).read_line(&mut line).expect("read");
            let _ = stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
            line
        });
        let mut config = kube::Config::new("https://kube.invalid:6443".parse().expect("url"));
        config.proxy_url = Some(proxy.parse().expect("proxy url"));
        let cluster = KubeCluster::from_config(config)
            .expect("a client with a proxy")
            .with_timeout(Duration::from_secs(5))
            .with_retry(RetryPolicy::none());
        let deployments = Gvk::from_api_version("apps/v1", "Deployment");
        let result = cluster.resolve(&deployments).await;
        assert!(result.is_err(), "the stand-in proxy answers 502");
        let line = first_line.join().expect("proxy thread");
        assert!(line.starts_with("CONNECT kube.invalid:6443 "), "{line:?}");
    }
}
