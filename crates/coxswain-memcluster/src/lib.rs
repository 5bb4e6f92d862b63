//! `MemoryCluster`: an in-memory double of a Kubernetes API server for the engine's tests.
//!
//! It follows the rules the engine relies on, closely enough that a test passing here means
//! something against a real server: one global resourceVersion, `generation` bumped by spec
//! changes only, namespaces that must exist, 409 on stale versions and on apply conflicts, 422 on
//! invalid objects, server-side apply with real field ownership (`managedFields`, pruning of
//! fields a manager stopped applying, `force`), defaulting that no manager owns, dry-run, label
//! selectors and watches. On top it counts and logs requests and injects faults.
//!
//! Departures from a real server: no admission webhooks or quotas; deletion is immediate
//! (finalizers are not waited for; deleting a Namespace or CRD removes its objects at once);
//! status is computed in the same write instead of by controllers; a no-selector watch starts
//! "from now" as the [`Cluster`] trait specifies.
//!
//! A crate of its own, a dev-dependency of `coxswain` and an optional one behind its `demo`
//! feature (`COXSWAIN_CLUSTER=memory`), so that release binaries do not carry a test double.

mod clock;
mod defaults;
mod discovery;
mod instrument;
mod pods;
mod selector;
mod ssa;
mod status;
mod validate;
mod watch;

pub use instrument::{FaultKind, Request, RequestCounts, RequestTarget, Verb};
pub use pods::PodFault;
pub use selector::LabelSelector;

use async_trait::async_trait;
use coxswain_cluster::fieldset::{Schema, canonicalize_quantities, values_equal};
use coxswain_cluster::{
    ApplyOptions, Cluster, ClusterError, FIELD_MANAGER, FieldConflict, Gvk, LogRequest, ObjectKey,
    Preconditions, ResourceType, ServerVersion, WatchEvent,
};
use futures::stream::BoxStream;
use instrument::{Faults, Verdict};
use serde_json::{Map, Value, json};
use ssa::ManagedEntry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::broadcast;
use watch::{Change, Event, History};

/// The field manager of objects this double creates as the controllers would (`ReplicaSets`, pods).
const CONTROLLER: &str = "kube-controller-manager";

/// The server name errors of this double carry.
pub const SERVER: &str = "memory://coxswain-test";

/// How many past events a watch can resume from.
const HISTORY_LIMIT: usize = 4096;
/// How far a watcher may fall behind before it is closed.
const CHANNEL_CAPACITY: usize = 1024;

/// Metadata fields in the order the server writes them.
const METADATA_ORDER: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// An in-memory Kubernetes API server. Cloning shares the state; every method returns without
/// waiting (watch streams wait for events, as they should).
#[derive(Clone)]
pub struct MemoryCluster {
    state: Arc<Mutex<State>>,
}

impl Default for MemoryCluster {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryCluster")
            .field("objects", &state.objects.len())
            .field("resource_version", &state.resource_version)
            .finish_non_exhaustive()
    }
}

struct Stored {
    object: Value,
    managers: Vec<ManagedEntry>,
}

struct State {
    discovery: BTreeMap<Gvk, ResourceType>,
    objects: BTreeMap<ObjectKey, Stored>,
    resource_version: u64,
    uids: u64,
    auto_ready: bool,
    network: defaults::Network,
    history: History,
    events: broadcast::Sender<Arc<Event>>,
    counts: RequestCounts,
    log: Vec<Request>,
    faults: Faults,
    /// Images whose pods fail, and how (see [`MemoryCluster::fail_pods`]).
    pod_faults: Vec<(String, PodFault)>,
    /// Previous-instance logs by namespace, pod and container.
    logs: BTreeMap<(String, String, String), String>,
}

impl MemoryCluster {
    /// A cluster serving the built-in kinds, with no objects at all: not even namespaces (see
    /// [`MemoryCluster::with_namespace`]). Rollouts complete at once ([`Self::set_auto_ready`]).
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(CHANNEL_CAPACITY);
        let state = State {
            discovery: discovery::builtin().map(|r| (r.gvk.clone(), r)).collect(),
            objects: BTreeMap::new(),
            resource_version: 0,
            uids: 0,
            auto_ready: true,
            network: defaults::Network::default(),
            history: History::new(HISTORY_LIMIT),
            events,
            counts: RequestCounts::default(),
            log: Vec::new(),
            faults: Faults::default(),
            pod_faults: Vec::new(),
            logs: BTreeMap::new(),
        };
        Self { state: Arc::new(Mutex::new(state)) }
    }

    /// Adds a Namespace, as if created by `kubectl create namespace`. Not counted as a request.
    #[must_use]
    pub fn with_namespace(self, name: &str) -> Self {
        self.add_namespace(name);
        self
    }

    /// Adds a Namespace unless it exists. Not counted as a request.
    pub fn add_namespace(&self, name: &str) {
        let mut state = self.lock();
        let key = namespace_key(name);
        if state.objects.contains_key(&key) {
            return;
        }
        let resource = namespace_resource();
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        // A valid name is the caller's promise; an invalid one simply creates nothing.
        let _ = state.create(&resource, &body, "kubectl-create");
    }

    /// Serves another kind, as installing a CRD would.
    pub fn register(&self, resource: ResourceType) {
        self.lock().discovery.insert(resource.gvk.clone(), resource);
    }

    /// Whether workloads become ready right after each write (the default). Turning it on
    /// completes every pending rollout at once.
    pub fn set_auto_ready(&self, auto_ready: bool) {
        let mut state = self.lock();
        let was = std::mem::replace(&mut state.auto_ready, auto_ready);
        if auto_ready && !was {
            state.complete_rollouts();
        }
    }

    /// Replaces the status of an object, as its controller would. Not counted as a request.
    pub fn set_status(&self, key: &ObjectKey, status: Value) -> Result<Value, ClusterError> {
        self.lock().set_status(key, status)
    }

    /// A PUT by another client (`manager`, e.g. `kubectl-edit` or `kube-controller-manager`),
    /// recorded in managedFields as an `Update`. Not counted, and never failed by injected faults.
    pub fn update_as(
        &self,
        manager: &str,
        resource: &ResourceType,
        object: &Value,
    ) -> Result<Value, ClusterError> {
        self.lock().replace(resource, object, manager)
    }

    /// An object as stored, without making a request.
    pub fn object(&self, key: &ObjectKey) -> Option<Value> {
        self.lock().objects.get(key).map(|stored| stored.object.clone())
    }

    /// Every stored object, ordered by kind, namespace and name, without making a request.
    pub fn objects(&self) -> Vec<Value> {
        self.lock().objects.values().map(|stored| stored.object.clone()).collect()
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> String {
        self.lock().resource_version.to_string()
    }

    /// Requests per verb since creation or the last [`Self::reset_counters`].
    pub fn requests(&self) -> RequestCounts {
        self.lock().counts.clone()
    }

    /// Every request in arrival order since creation or the last [`Self::reset_counters`].
    pub fn request_log(&self) -> Vec<Request> {
        self.lock().log.clone()
    }

    pub fn reset_counters(&self) {
        let mut state = self.lock();
        state.counts = RequestCounts::default();
        state.log.clear();
    }

    /// Lets `writes` more writes (apply, create, replace, delete; not dry-run) through, then
    /// fails every later one with `fault`.
    pub fn fail_after_writes(&self, writes: usize, fault: FaultKind) {
        self.lock().faults.fail_after_writes(writes, fault);
    }

    /// Lets `writes` writes through, fails the next `failing` writes with `fault`, then recovers:
    /// a connection that drops for a moment.
    pub fn fail_writes_window(&self, writes: usize, failing: usize, fault: FaultKind) {
        self.lock().faults.fail_writes_window(writes, failing, fault);
    }

    /// Fails the next request of `verb` with `error`. Calls queue up.
    pub fn fail_next(&self, verb: Verb, error: ClusterError) {
        self.lock().faults.fail_next(verb, error);
    }

    /// Makes the pods of every Deployment, `StatefulSet` or `DaemonSet` written from now on whose pod
    /// template runs `image` fail with `fault`: the workload gets a `ReplicaSet` (Deployments) and
    /// pods as the controllers would create them, the pods' status shows the fault as a kubelet
    /// or the scheduler reports it, and the workload's rollout never finishes, whatever
    /// [`Self::set_auto_ready`] says. Workloads running other images get no pods.
    pub fn fail_pods(&self, image: &str, fault: PodFault) {
        let mut state = self.lock();
        state.pod_faults.retain(|(faulted, _)| faulted != image);
        state.pod_faults.push((image.to_owned(), fault));
    }

    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.faults.clear();
        state.pod_faults.clear();
    }

    /// Forgets the watch history, so resuming from any earlier resourceVersion fails as it does
    /// after etcd compaction.
    pub fn compact_history(&self) {
        let mut state = self.lock();
        let current = state.resource_version;
        state.history.forget_all(current);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data: every write replaces whole entries.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs the request, consults the faults, runs `op` unless a fault stops it.
    fn serve<T>(
        &self,
        verb: Verb,
        target: RequestTarget,
        op: impl FnOnce(&mut State) -> Result<T, ClusterError>,
    ) -> Result<T, ClusterError> {
        let mut state = self.lock();
        let request = Request { verb, target };
        state.counts.record(verb);
        let verdict = state.faults.verdict(&request);
        state.log.push(request);
        match verdict {
            Verdict::Proceed => op(&mut state),
            Verdict::Fail(error) => Err(error),
            Verdict::FailAfterCommit(error) => {
                let _ = op(&mut state);
                Err(error)
            }
        }
    }
}

#[async_trait]
impl Cluster for MemoryCluster {
    async fn resolve(&self, gvk: &Gvk) -> Result<ResourceType, ClusterError> {
        self.serve(Verb::Resolve, RequestTarget::Kind(gvk.clone()), |state| {
            state
                .discovery
                .get(gvk)
                .cloned()
                .ok_or_else(|| ClusterError::UnknownKind { gvk: gvk.to_string() })
        })
    }

    async fn list(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, ClusterError> {
        let target = collection_target(resource, namespace);
        self.serve(Verb::List, target, |state| state.list(resource, namespace, label_selector))
    }

    async fn get(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ClusterError> {
        let target = RequestTarget::Object(address(resource, namespace, name));
        self.serve(Verb::Get, target, |state| state.get(resource, namespace, name))
    }

    async fn apply(
        &self,
        resource: &ResourceType,
        object: &Value,
        options: &ApplyOptions,
    ) -> Result<Value, ClusterError> {
        let verb = if options.dry_run { Verb::ApplyDryRun } else { Verb::Apply };
        self.serve(verb, body_target(resource, object), |state| {
            state.apply(resource, object, options)
        })
    }

    async fn create(&self, resource: &ResourceType, object: &Value) -> Result<Value, ClusterError> {
        self.serve(Verb::Create, body_target(resource, object), |state| {
            state.create(resource, object, FIELD_MANAGER)
        })
    }

    async fn replace(
        &self,
        resource: &ResourceType,
        object: &Value,
    ) -> Result<Value, ClusterError> {
        self.serve(Verb::Replace, body_target(resource, object), |state| {
            state.replace(resource, object, FIELD_MANAGER)
        })
    }

    async fn delete(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        preconditions: Option<&Preconditions>,
    ) -> Result<bool, ClusterError> {
        let target = RequestTarget::Object(address(resource, namespace, name));
        self.serve(Verb::Delete, target, |state| {
            state.delete(resource, namespace, name, preconditions)
        })
    }

    async fn watch(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        label_selector: Option<&str>,
        resource_version: Option<&str>,
    ) -> Result<BoxStream<'static, Result<WatchEvent, ClusterError>>, ClusterError> {
        let target = collection_target(resource, namespace);
        self.serve(Verb::Watch, target, |state| {
            state.watch(resource, namespace, label_selector, resource_version)
        })
    }

    /// This crate's version, marked so no one mistakes it for a Kubernetes release.
    async fn server_version(&self) -> Result<Option<ServerVersion>, ClusterError> {
        Ok(Some(ServerVersion {
            git_version: concat!("coxswain-memcluster ", env!("CARGO_PKG_VERSION"), " (in-memory)")
                .to_owned(),
            platform: None,
        }))
    }

    /// Only previous-instance logs of pods failed by [`MemoryCluster::fail_pods`] exist.
    async fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        request: &LogRequest,
    ) -> Result<Option<String>, ClusterError> {
        let key = ObjectKey::new(&Gvk::from_api_version("v1", "Pod"), Some(namespace), pod);
        self.serve(Verb::Log, RequestTarget::Object(key.clone()), |state| {
            if !state.objects.contains_key(&key) {
                return Ok(None);
            }
            let log = state
                .logs
                .get(&(namespace.to_owned(), pod.to_owned(), request.container.clone()))
                .filter(|_| request.previous);
            Ok(log.map(|log| pods::tail(log, request.tail_lines, request.limit_bytes)))
        })
    }
}

fn namespace_resource() -> ResourceType {
    ResourceType {
        gvk: Gvk::from_api_version("v1", "Namespace"),
        plural: "namespaces".to_owned(),
        namespaced: false,
    }
}

fn namespace_key(name: &str) -> ObjectKey {
    ObjectKey { group_kind: "Namespace".to_owned(), namespace: None, name: name.to_owned() }
}

/// The key of an object addressed by URL; cluster-scoped kinds ignore the namespace.
fn address(resource: &ResourceType, namespace: Option<&str>, name: &str) -> ObjectKey {
    ObjectKey::new(&resource.gvk, namespace.filter(|_| resource.namespaced), name)
}

fn collection_target(resource: &ResourceType, namespace: Option<&str>) -> RequestTarget {
    RequestTarget::Collection {
        group_kind: resource.gvk.group_kind(),
        namespace: namespace.filter(|_| resource.namespaced).map(str::to_owned),
    }
}

fn body_target(resource: &ResourceType, object: &Value) -> RequestTarget {
    let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
    match text("/metadata/name") {
        Some(name) => RequestTarget::Object(address(resource, text("/metadata/namespace"), name)),
        None => collection_target(resource, text("/metadata/namespace")),
    }
}

fn invalid(object: &ObjectKey, causes: Vec<String>) -> ClusterError {
    let message = match causes.as_slice() {
        [only] => only.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    ClusterError::Invalid { object: object.clone(), message, causes }
}

fn bad_request(target: &impl ToString, message: impl Into<String>) -> ClusterError {
    ClusterError::Other { target: target.to_string(), message: message.into() }
}

fn stale(resource: &ResourceType, key: &ObjectKey) -> ClusterError {
    ClusterError::Conflict {
        object: key.clone(),
        message: format!(
            "Operation cannot be fulfilled on {} {:?}: the object has been modified; please apply your changes to the latest version and try again",
            qualified(resource),
            key.name
        ),
        conflicts: Vec::new(),
    }
}

/// A DELETE's preconditions against the stored object: 409 with the API server's message (its
/// generic registry's, seen from kube-apiserver 1.28) when the uid or resourceVersion differs.
fn check_delete_preconditions(
    resource: &ResourceType,
    key: &ObjectKey,
    live: &Value,
    preconditions: &Preconditions,
) -> Result<(), ClusterError> {
    let field = |name: &str| {
        live.pointer(&format!("/metadata/{name}")).and_then(Value::as_str).unwrap_or_default()
    };
    let checks = [
        ("UID", "uid", &preconditions.uid, "deleted and then recreated"),
        ("ResourceVersion", "resourceVersion", &preconditions.resource_version, "modified"),
    ];
    for (label, name, wanted, why) in checks {
        if let Some(wanted) = wanted
            && wanted != field(name)
        {
            return Err(ClusterError::Conflict {
                object: key.clone(),
                message: format!(
                    "Operation cannot be fulfilled on {} {:?}: the {label} in the precondition \
                     ({wanted}) does not match the {label} in record ({}). The object might have \
                     been {why}",
                    qualified(resource),
                    key.name,
                    field(name)
                ),
                conflicts: Vec::new(),
            });
        }
    }
    Ok(())
}

/// `deployments.apps`, as the API server names a resource in messages.
fn qualified(resource: &ResourceType) -> String {
    if resource.gvk.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.gvk.group)
    }
}

/// The request body as the server takes it in: status and server-managed metadata dropped,
/// namespace set from the key.
fn request_body(body: &Value, key: &ObjectKey) -> Value {
    let mut object = body.clone();
    if let Some(map) = object.as_object_mut() {
        map.shift_remove("status");
        let metadata = map.entry("metadata").or_insert_with(|| json!({}));
        if let Some(metadata) = metadata.as_object_mut() {
            for field in [
                "resourceVersion",
                "uid",
                "creationTimestamp",
                "generation",
                "managedFields",
                "selfLink",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ] {
                metadata.shift_remove(field);
            }
            match &key.namespace {
                Some(namespace) => {
                    metadata.insert("namespace".to_owned(), json!(namespace));
                }
                None => {
                    metadata.shift_remove("namespace");
                }
            }
        }
    }
    object
}

/// Drops what a typed object cannot hold: nulls, and for built-in kinds empty lists and empty
/// label/annotation maps (`omitempty`).
fn normalize(object: &mut Value) {
    fn strip(value: &mut Value, builtin: bool) {
        match value {
            Value::Object(map) => {
                map.retain(|_, v| {
                    !(v.is_null() || builtin && v.as_array().is_some_and(Vec::is_empty))
                });
                map.values_mut().for_each(|v| strip(v, builtin));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| strip(v, builtin)),
            _ => {}
        }
    }
    let builtin = Schema::for_object(object).is_builtin();
    strip(object, builtin);
    if builtin && let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.retain(|key, v| {
            !(matches!(key.as_str(), "labels" | "annotations")
                && v.as_object().is_some_and(Map::is_empty))
        });
    }
}

/// `kind, apiVersion, metadata, ..., status` (Go's `TypeMeta` order, which every single-object
/// response of kube-apiserver has), metadata in the server's field order.
fn canonical_order(object: &mut Value) {
    let Some(map) = object.as_object_mut() else { return };
    let mut ordered = Map::new();
    for field in ["kind", "apiVersion", "metadata"] {
        if let Some(value) = map.shift_remove(field) {
            ordered.insert(field.to_owned(), value);
        }
    }
    let status = map.shift_remove("status");
    ordered.extend(std::mem::take(map));
    if let Some(status) = status {
        ordered.insert("status".to_owned(), status);
    }
    if let Some(metadata) = ordered.get_mut("metadata").and_then(Value::as_object_mut) {
        let mut sorted = Map::new();
        for field in METADATA_ORDER {
            if let Some(value) = metadata.shift_remove(*field) {
                sorted.insert((*field).to_owned(), value);
            }
        }
        sorted.extend(std::mem::take(metadata));
        *metadata = sorted;
    }
    *map = ordered;
}

/// Everything but metadata and status: what `generation` counts changes of.
fn spec_part(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.shift_remove("metadata");
        map.shift_remove("status");
    }
    copy
}

/// Equal apart from resourceVersion and managedFields.
fn same_content(a: &Value, b: &Value) -> bool {
    let strip = |object: &Value| {
        let mut copy = object.clone();
        if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.shift_remove("resourceVersion");
            metadata.shift_remove("managedFields");
        }
        copy
    };
    values_equal(&strip(a), &strip(b))
}

fn set_metadata(object: &mut Value, field: &str, value: Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert(field.to_owned(), value);
    }
}

impl State {
    fn now(&self) -> String {
        clock::timestamp(clock::EPOCH + self.resource_version)
    }

    fn resource(&self, resource: &ResourceType) -> Result<ResourceType, ClusterError> {
        self.discovery
            .get(&resource.gvk)
            .cloned()
            .ok_or_else(|| ClusterError::UnknownKind { gvk: resource.gvk.to_string() })
    }

    /// The key a request body addresses, after checking it names the right kind.
    fn identify(
        &self,
        resource: &ResourceType,
        body: &Value,
    ) -> Result<(ResourceType, ObjectKey), ClusterError> {
        let resource = self.resource(resource)?;
        let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
        let name = text("/metadata/name").unwrap_or_default();
        let namespace = text("/metadata/namespace").filter(|_| resource.namespaced);
        let key = ObjectKey::new(&resource.gvk, namespace, name);
        if !body.is_object() {
            return Err(bad_request(&key, "the request body must be a JSON object"));
        }
        let api_version = text("/apiVersion").unwrap_or_default();
        let kind = text("/kind").unwrap_or_default();
        if kind != resource.gvk.kind || api_version != resource.gvk.api_version() {
            return Err(bad_request(
                &key,
                format!(
                    "the body is {api_version}/{kind} but the request is for {} (400 Bad Request)",
                    resource.gvk
                ),
            ));
        }
        if name.is_empty() {
            return Err(invalid(
                &key,
                vec!["metadata.name: Required value: name or generateName is required".to_owned()],
            ));
        }
        if resource.namespaced && namespace.is_none_or(str::is_empty) {
            return Err(invalid(&key, vec!["metadata.namespace: Required value".to_owned()]));
        }
        Ok((resource, key))
    }

    fn require_namespace(&self, key: &ObjectKey) -> Result<(), ClusterError> {
        match &key.namespace {
            Some(namespace) if !self.objects.contains_key(&namespace_key(namespace)) => {
                Err(ClusterError::NotFound { object: namespace_key(namespace) })
            }
            _ => Ok(()),
        }
    }

    fn url_key(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(ResourceType, ObjectKey), ClusterError> {
        let resource = self.resource(resource)?;
        if resource.namespaced && namespace.is_none() {
            return Err(bad_request(
                &format!("{} {name}", resource.gvk.group_kind()),
                "a namespace is required to address a namespaced object",
            ));
        }
        let key = address(&resource, namespace, name);
        Ok((resource, key))
    }

    fn list(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Value>, ClusterError> {
        let resource = self.resource(resource)?;
        let selector = LabelSelector::parse(selector.unwrap_or_default())
            .map_err(|message| bad_request(&collection_target(&resource, namespace), message))?;
        let group_kind = resource.gvk.group_kind();
        let namespace = namespace.filter(|_| resource.namespaced);
        Ok(self
            .objects
            .iter()
            .filter(|(key, _)| key.group_kind == group_kind)
            .filter(|(key, _)| namespace.is_none() || key.namespace.as_deref() == namespace)
            .filter(|(_, stored)| selector.matches_object(&stored.object))
            .map(|(_, stored)| list_item(&stored.object, &resource))
            .collect())
    }

    fn get(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ClusterError> {
        let (resource, key) = self.url_key(resource, namespace, name)?;
        Ok(self.objects.get(&key).map(|stored| as_version(&stored.object, &resource)))
    }

    fn check_precondition(
        &self,
        resource: &ResourceType,
        key: &ObjectKey,
        body: &Value,
    ) -> Result<(), ClusterError> {
        let wanted = body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty());
        let Some(wanted) = wanted else { return Ok(()) };
        let current = self
            .objects
            .get(key)
            .and_then(|stored| stored.object.pointer("/metadata/resourceVersion"))
            .and_then(Value::as_str);
        if current == Some(wanted) { Ok(()) } else { Err(stale(resource, key)) }
    }

    fn apply(
        &mut self,
        resource: &ResourceType,
        body: &Value,
        options: &ApplyOptions,
    ) -> Result<Value, ClusterError> {
        let (resource, key) = self.identify(resource, body)?;
        let managed = body.pointer("/metadata/managedFields");
        if managed.is_some_and(|m| !m.is_null() && m.as_array().is_none_or(|a| !a.is_empty())) {
            return Err(invalid(
                &key,
                vec![
                    "metadata.managedFields: Invalid value: must be nil in an apply request"
                        .to_owned(),
                ],
            ));
        }
        self.require_namespace(&key)?;
        self.check_precondition(&resource, &key, body)?;
        let config = request_body(body, &key);
        let problems = validate::list_structure(&config);
        if !problems.is_empty() {
            return Err(invalid(&key, problems));
        }
        let now = self.now();
        let (live, live_managers) = match self.objects.get(&key) {
            Some(stored) => (stored.object.clone(), stored.managers.clone()),
            None => (skeleton(&config), Vec::new()),
        };
        let (merged, managers) =
            ssa::apply(&live, &live_managers, &config, &options.field_manager, options.force, &now)
                .map_err(|conflicts| ClusterError::Conflict {
                    object: key.clone(),
                    message: ssa::conflict_message(&conflicts),
                    conflicts: conflicts
                        .into_iter()
                        .map(|c| FieldConflict { field: c.path.to_string(), manager: c.manager })
                        .collect(),
                })?;
        let object = self.prepare(&resource, &key, merged)?;
        Ok(self.commit(&resource, &key, object, managers, options.dry_run))
    }

    fn create(
        &mut self,
        resource: &ResourceType,
        body: &Value,
        manager: &str,
    ) -> Result<Value, ClusterError> {
        let (resource, key) = self.identify(resource, body)?;
        self.require_namespace(&key)?;
        if self.objects.contains_key(&key) {
            return Err(ClusterError::AlreadyExists { object: key });
        }
        if body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
        {
            return Err(invalid(&key, vec!["metadata.resourceVersion: Invalid value: resourceVersion should not be set on objects to be created".to_owned()]));
        }
        let base = ssa::parse_managed_fields(body)
            .map_err(|e| invalid(&key, vec![e]))?
            .unwrap_or_default();
        let object = request_body(body, &key);
        let problems = validate::list_structure(&object);
        if !problems.is_empty() {
            return Err(invalid(&key, problems));
        }
        let object = self.prepare(&resource, &key, object)?;
        let managers = ssa::update(&skeleton(&object), &base, &object, manager, &self.now());
        Ok(self.commit(&resource, &key, object, managers, false))
    }

    fn replace(
        &mut self,
        resource: &ResourceType,
        body: &Value,
        manager: &str,
    ) -> Result<Value, ClusterError> {
        let (resource, key) = self.identify(resource, body)?;
        let Some(stored) = self.objects.get(&key) else {
            return Err(ClusterError::NotFound { object: key });
        };
        let (live, live_managers) = (stored.object.clone(), stored.managers.clone());
        self.check_precondition(&resource, &key, body)?;
        let base = ssa::parse_managed_fields(body)
            .map_err(|e| invalid(&key, vec![e]))?
            .unwrap_or(live_managers);
        let mut object = request_body(body, &key);
        let problems = validate::list_structure(&object);
        if !problems.is_empty() {
            return Err(invalid(&key, problems));
        }
        // The main resource cannot change status; the stored one stays.
        if let (Some(map), Some(status)) = (object.as_object_mut(), live.get("status")) {
            map.insert("status".to_owned(), status.clone());
        }
        let object = self.prepare(&resource, &key, object)?;
        let managers = ssa::update(&live, &base, &object, manager, &self.now());
        Ok(self.commit(&resource, &key, object, managers, false))
    }

    /// Identity, defaults, validation and generation of an object about to be written.
    fn prepare(
        &self,
        resource: &ResourceType,
        key: &ObjectKey,
        mut object: Value,
    ) -> Result<Value, ClusterError> {
        let group_kind = resource.gvk.group_kind();
        let existing = self.objects.get(key).map(|stored| &stored.object);
        normalize(&mut object);
        let uid = existing
            .and_then(|live| live.pointer("/metadata/uid").cloned())
            .unwrap_or_else(|| json!(format!("636f7873-0000-4000-8000-{:012x}", self.uids + 1)));
        set_metadata(&mut object, "uid", uid);
        let created = existing
            .and_then(|live| live.pointer("/metadata/creationTimestamp").cloned())
            .unwrap_or_else(|| json!(self.now()));
        set_metadata(&mut object, "creationTimestamp", created);
        defaults::apply(
            &group_kind,
            &mut object,
            existing.and_then(|live| live.get("spec")),
            &self.network,
        );
        // The server decodes quantities and encodes them back canonically (`1024Mi` → `1Gi`).
        canonicalize_quantities(&mut object);
        let mut problems = validate::object(&group_kind, &object);
        if let Some(live) = existing {
            problems.extend(validate::update(&group_kind, live, &object));
        }
        if !problems.is_empty() {
            return Err(invalid(key, problems));
        }
        let generation = match existing {
            Some(live) => {
                let old = live.pointer("/metadata/generation").and_then(Value::as_u64).unwrap_or(1);
                if values_equal(&spec_part(live), &spec_part(&object)) { old } else { old + 1 }
            }
            None => 1,
        };
        set_metadata(&mut object, "generation", json!(generation));
        Ok(object)
    }

    /// Stores a prepared object (or, for a dry run, only shows it) and tells the watchers.
    fn commit(
        &mut self,
        resource: &ResourceType,
        key: &ObjectKey,
        mut object: Value,
        managers: Vec<ManagedEntry>,
        dry_run: bool,
    ) -> Value {
        let group_kind = resource.gvk.group_kind();
        let previous = self.objects.get(key);
        if let Some(stored) = previous
            && same_content(&stored.object, &object)
            && ssa::same_ownership(&stored.managers, &managers)
        {
            return stored.object.clone();
        }
        let before = previous.map(|stored| stored.object.clone());
        set_metadata(&mut object, "managedFields", ssa::render_managed_fields(&managers));
        if dry_run {
            match &before {
                Some(live) => {
                    let version =
                        live.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
                    set_metadata(&mut object, "resourceVersion", version);
                }
                None => {
                    if let Some(metadata) =
                        object.get_mut("metadata").and_then(Value::as_object_mut)
                    {
                        metadata.shift_remove("resourceVersion");
                    }
                }
            }
            canonical_order(&mut object);
            return object;
        }
        self.resource_version += 1;
        if before.is_none() {
            self.uids += 1;
        }
        set_metadata(&mut object, "resourceVersion", json!(self.resource_version.to_string()));
        let now = self.now();
        status::simulate(&group_kind, &mut object, self.auto_ready, before.is_none(), &now);
        canonical_order(&mut object);
        if group_kind == "Service" {
            self.network.reserve(&key.to_string(), &object);
        }
        if group_kind == "CustomResourceDefinition.apiextensions.k8s.io" {
            for served in discovery::from_crd(&object) {
                self.discovery.insert(served.gvk.clone(), served);
            }
        }
        let change = if before.is_some() { Change::Modified } else { Change::Added };
        let spec_changed = before.as_ref().is_none_or(|old| {
            old.pointer("/metadata/generation") != object.pointer("/metadata/generation")
        });
        self.objects.insert(key.clone(), Stored { object: object.clone(), managers });
        self.emit(key, change, before, object.clone());
        if spec_changed && pods::runs_pods(&group_kind) {
            self.roll_out_pods(key, &object);
        }
        object
    }

    /// A new pod template replaces the pods of the old one; pods of a faulted image fail (see
    /// [`MemoryCluster::fail_pods`]) and hold the workload's rollout.
    fn roll_out_pods(&mut self, key: &ObjectKey, workload: &Value) {
        if let Some(uid) = workload.pointer("/metadata/uid").and_then(Value::as_str) {
            self.remove_owned(uid);
        }
        let Some((container, fault)) = pods::faulted_container(workload, &self.pod_faults)
            .map(|(container, fault)| (container, fault.clone()))
        else {
            return;
        };
        let resource = |api_version: &str, kind: &str| {
            self.discovery.get(&Gvk::from_api_version(api_version, kind)).cloned()
        };
        let (Some(pod_resource), Some(rs_resource)) =
            (resource("v1", "Pod"), resource("apps/v1", "ReplicaSet"))
        else {
            return;
        };
        let template = workload.pointer("/spec/template").cloned().unwrap_or(Value::Null);
        let hash = pods::template_hash(&template);
        let name = key.name.clone();
        let generation = workload
            .pointer("/metadata/generation")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .to_string();
        let replicas = workload.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1);
        let revision = format!("{name}-{hash}");
        let (owner, labels, names): (Value, Vec<(&str, &str)>, Vec<String>) =
            match key.group_kind.as_str() {
                "Deployment.apps" => {
                    let body = pods::replica_set(workload, &hash);
                    let Ok(replica_set) = self.create(&rs_resource, &body, CONTROLLER) else {
                        return;
                    };
                    let names = (0..replicas.min(3))
                        .map(|i| {
                            let suffix = pods::template_hash(&json!([hash, i]));
                            format!("{revision}-{}", &suffix[..5])
                        })
                        .collect();
                    (replica_set, vec![("pod-template-hash", hash.as_str())], names)
                }
                "StatefulSet.apps" => (
                    workload.clone(),
                    vec![("controller-revision-hash", revision.as_str())],
                    (0..replicas.min(3)).map(|i| format!("{name}-{i}")).collect(),
                ),
                _ => (
                    workload.clone(),
                    vec![("pod-template-generation", generation.as_str())],
                    vec![format!("{name}-{}", &hash[..5])],
                ),
            };
        let now = self.now();
        for pod_name in names {
            let body = pods::pod(workload, &owner, &pod_name, &labels);
            let Ok(pod) = self.create(&pod_resource, &body, CONTROLLER) else { continue };
            let Some(pod_key) = ObjectKey::of(&pod) else { continue };
            let _ = self.set_status(&pod_key, pods::failing_status(&pod, &container, &fault, &now));
            if let (Some(log), Some(namespace)) = (pods::previous_log(&fault), &pod_key.namespace) {
                self.logs.insert((namespace.clone(), pod_name, container.clone()), log.to_owned());
            }
        }
        let spec = workload.get("spec").cloned().unwrap_or_else(|| json!({}));
        let generation = workload.pointer("/metadata/generation").cloned().unwrap_or(json!(1));
        let mut status = status::workload(&key.group_kind, &spec, &generation, false, &now);
        if key.group_kind == "StatefulSet.apps" {
            status["currentRevision"] = json!(revision);
            status["updateRevision"] = json!(revision);
        }
        let _ = self.set_status(key, status);
    }

    /// Deletes what `uid` owns, and what that owns, as the garbage collector would.
    fn remove_owned(&mut self, uid: &str) {
        let owned: Vec<(ObjectKey, String)> = self
            .objects
            .iter()
            .filter(|(_, stored)| {
                stored
                    .object
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| {
                        refs.iter().any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                    })
            })
            .map(|(key, stored)| {
                let uid = stored.object.pointer("/metadata/uid").and_then(Value::as_str);
                (key.clone(), uid.unwrap_or_default().to_owned())
            })
            .collect();
        for (key, child) in owned {
            self.remove(&key);
            if !child.is_empty() {
                self.remove_owned(&child);
            }
        }
    }

    fn emit(&mut self, key: &ObjectKey, change: Change, before: Option<Value>, object: Value) {
        let event = Arc::new(Event {
            resource_version: self.resource_version,
            group_kind: key.group_kind.clone(),
            namespace: key.namespace.clone(),
            change,
            before,
            object,
        });
        self.history.push(Arc::clone(&event));
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(event);
    }

    fn delete(
        &mut self,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        preconditions: Option<&Preconditions>,
    ) -> Result<bool, ClusterError> {
        let (resource, key) = self.url_key(resource, namespace, name)?;
        let Some(stored) = self.objects.get(&key) else {
            return Ok(false);
        };
        if let Some(preconditions) = preconditions {
            check_delete_preconditions(&resource, &key, &stored.object, preconditions)?;
        }
        if key.group_kind == "Namespace" {
            let inside: Vec<ObjectKey> = self
                .objects
                .keys()
                .filter(|k| k.namespace.as_deref() == Some(name))
                .cloned()
                .collect();
            for k in &inside {
                self.remove(k);
            }
        }
        if key.group_kind == "CustomResourceDefinition.apiextensions.k8s.io" {
            let served =
                self.objects.get(&key).map(|s| discovery::from_crd(&s.object)).unwrap_or_default();
            for resource in served {
                self.discovery.remove(&resource.gvk);
                let group_kind = resource.gvk.group_kind();
                let instances: Vec<ObjectKey> =
                    self.objects.keys().filter(|k| k.group_kind == group_kind).cloned().collect();
                for k in &instances {
                    self.remove(k);
                }
            }
        }
        let uid = self
            .objects
            .get(&key)
            .and_then(|stored| stored.object.pointer("/metadata/uid"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        self.remove(&key);
        if let Some(uid) = uid {
            self.remove_owned(&uid);
        }
        Ok(true)
    }

    fn remove(&mut self, key: &ObjectKey) {
        let Some(stored) = self.objects.remove(key) else { return };
        if key.group_kind == "Pod" {
            let namespace = key.namespace.clone().unwrap_or_default();
            self.logs.retain(|(ns, pod, _), _| *ns != namespace || *pod != key.name);
        }
        self.network.release(&key.to_string());
        self.resource_version += 1;
        let mut object = stored.object;
        set_metadata(&mut object, "resourceVersion", json!(self.resource_version.to_string()));
        self.emit(key, Change::Deleted, None, object);
    }

    fn watch(
        &mut self,
        resource: &ResourceType,
        namespace: Option<&str>,
        selector: Option<&str>,
        resource_version: Option<&str>,
    ) -> Result<BoxStream<'static, Result<WatchEvent, ClusterError>>, ClusterError> {
        let resource = self.resource(resource)?;
        let target = collection_target(&resource, namespace);
        let selector = LabelSelector::parse(selector.unwrap_or_default())
            .map_err(|message| bad_request(&target, message))?;
        let after = match resource_version {
            None => self.resource_version,
            Some(text) => text.parse::<u64>().map_err(|_| {
                bad_request(&target, format!("invalid resourceVersion {text:?}: expected the value of metadata.resourceVersion"))
            })?,
        };
        if after < self.history.floor {
            return Err(bad_request(
                &target,
                format!(
                    "too old resource version: {after} ({}) (410 Gone); list again and watch from the list",
                    self.history.floor
                ),
            ));
        }
        let filter = watch::Filter {
            group_kind: resource.gvk.group_kind(),
            namespace: namespace.filter(|_| resource.namespaced).map(str::to_owned),
            selector,
        };
        Ok(watch::stream(self.history.after(after), self.events.subscribe(), filter, after))
    }

    fn set_status(&mut self, key: &ObjectKey, status: Value) -> Result<Value, ClusterError> {
        let Some(stored) = self.objects.get(key) else {
            return Err(ClusterError::NotFound { object: key.clone() });
        };
        let before = stored.object.clone();
        let mut object = before.clone();
        if let Some(map) = object.as_object_mut() {
            map.insert("status".to_owned(), status);
        }
        self.resource_version += 1;
        set_metadata(&mut object, "resourceVersion", json!(self.resource_version.to_string()));
        canonical_order(&mut object);
        if let Some(stored) = self.objects.get_mut(key) {
            stored.object = object.clone();
        }
        self.emit(key, Change::Modified, Some(before), object.clone());
        Ok(object)
    }

    /// What controllers do once they catch up: every workload reports its rollout finished.
    fn complete_rollouts(&mut self) {
        let now = self.now();
        let pending: Vec<(ObjectKey, Value)> = self
            .objects
            .iter()
            .filter(|(key, _)| status::is_workload(&key.group_kind))
            .map(|(key, stored)| {
                let object = &stored.object;
                let spec = object.get("spec").cloned().unwrap_or_else(|| json!({}));
                let generation =
                    object.pointer("/metadata/generation").cloned().unwrap_or(json!(1));
                (key.clone(), status::workload(&key.group_kind, &spec, &generation, true, &now))
            })
            .filter(|(key, status)| {
                self.objects
                    .get(key)
                    .and_then(|s| s.object.get("status"))
                    .is_none_or(|old| !values_equal(old, status))
            })
            .collect();
        for (key, status) in pending {
            let _ = self.set_status(&key, status);
        }
    }
}

/// The object as a client asking for `resource`'s version sees it.
fn as_version(object: &Value, resource: &ResourceType) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.insert("apiVersion".to_owned(), json!(resource.gvk.api_version()));
    }
    copy
}

/// A LIST item as the engine receives it from the real adapter: the server sends items without
/// `kind` and `apiVersion`, and `KubeCluster` fills both in front, `apiVersion` first. Single
/// objects come `kind` first, so the same object reaches the engine in two key orders.
fn list_item(object: &Value, resource: &ResourceType) -> Value {
    let mut item = Map::new();
    item.insert("apiVersion".to_owned(), json!(resource.gvk.api_version()));
    item.insert("kind".to_owned(), json!(resource.gvk.kind));
    if let Some(map) = object.as_object() {
        for (field, value) in map {
            if field != "apiVersion" && field != "kind" {
                item.insert(field.clone(), value.clone());
            }
        }
    }
    Value::Object(item)
}

/// The empty object an apply creating `config` starts from.
fn skeleton(config: &Value) -> Value {
    let mut metadata = Map::new();
    for field in ["name", "namespace"] {
        if let Some(value) = config.pointer(&format!("/metadata/{field}")) {
            metadata.insert(field.to_owned(), value.clone());
        }
    }
    json!({
        "apiVersion": config.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": config.get("kind").cloned().unwrap_or(Value::Null),
        "metadata": metadata,
    })
}
