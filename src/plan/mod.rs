//! Plan: what a sync would change, computed in few requests and shown without noise.
//!
//! Per environment: one discovery lookup per kind, one LIST per kind (namespace-wide, so objects
//! that exist but are not ours yet are found without a GET each), then a cheap local test decides
//! "unchanged"; only objects that may change get a server-side dry-run apply, and the preview is
//! the diff between the live object and the dry-run result, both normalised.

mod memo;
pub mod render;

pub use memo::UnchangedMemo;

use crate::cluster::{Cluster, ClusterError, FieldConflict, Gvk, ObjectKey, ResourceType};
use crate::diagnostic::Diagnostic;
use crate::fieldset::{FieldSet, fields_declared, is_subset_object, value_at, values_equal};
use crate::inventory::{self, Inventory};
use crate::normalize::{mask_secret_pair, normalize};
use crate::ownership::{
    Judgement, LEGACY_FIELD_MANAGER, Owner, apply_entry, desired_with_ownership, judge,
    owned_selector,
};
use crate::repo::{Environment, Source};
use crate::yaml;
use futures::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Options of a plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Dry-run with `force` so fields owned by other managers do not count as conflicts.
    pub force_conflicts: bool,
    /// Requests in flight at once (LISTs and dry-runs).
    pub concurrency: usize,
    /// What the env's previous plan found unchanged (re-planning as files change).
    pub unchanged: Option<std::sync::Arc<UnchangedMemo>>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self { force_conflicts: false, concurrency: 8, unchanged: None }
    }
}

/// What a sync would do to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    /// Owned by Coxswain in this env, gone from git: deleted by a sync.
    Prune,
    /// Would be pruned, but the env has `prune: false`.
    Orphan,
    Unchanged,
}

impl Action {
    /// Whether a sync would write (apply or delete) this object.
    pub fn is_change(self) -> bool {
        matches!(self, Self::Create | Self::Update | Self::Prune)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Prune => "prune",
            Self::Orphan => "orphan",
            Self::Unchanged => "unchanged",
        }
    }
}

/// One object's planned action.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ObjectPlan {
    #[serde(flatten)]
    pub key: ObjectKey,
    pub api_version: String,
    pub kind: String,
    pub action: Action,
    /// Where git declares it (absent for prune candidates).
    pub source: Option<Source>,
    /// Unified diff of normalised YAML, live → result; empty when unchanged.
    pub diff: String,
    /// Whether the server computed the result (dry-run) or it was decided locally.
    pub server_dry_run: bool,
    #[serde(skip)]
    pub resource: ResourceType,
    /// The object to apply, with ownership labels (absent for prune). Shared, as `live` is:
    /// previews, reports and renderers copy plans, and a plan of 10,000 objects is large.
    #[serde(skip)]
    pub desired: Option<Arc<Value>>,
    /// The live object as listed (absent for creates).
    #[serde(skip)]
    pub live: Option<Arc<Value>>,
    /// The live object is still owned by the field manager of Coxswain versions before
    /// instance ids: after applying it, the sync releases that manager's fields.
    #[serde(skip)]
    pub release_legacy: bool,
    /// Apply with force: the only conflicts are with that earlier Coxswain manager, or with the
    /// env's own rollout field manager.
    #[serde(skip)]
    pub force: bool,
    /// Fields git declares that another field manager changed in the cluster (absent from JSON
    /// when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<Drift>>", optional))]
    pub drift: Vec<Drift>,
}

impl ObjectPlan {
    /// Whether applying it needs `--force-conflicts`: another manager owns fields whose values
    /// git changes back, and server-side apply refuses to take them silently.
    pub fn needs_force(&self) -> bool {
        !self.drift.is_empty() && !self.force
    }
}

/// A field git declares whose live value another field manager set (`kubectl set image`, an
/// operator, a person's `kubectl edit`): drift. The plan shows it as an update; the sync that
/// takes it back needs `--force-conflicts` (see [`ObjectPlan::needs_force`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// The field as the API server names it: `.spec.template.spec.containers[name="app"].image`.
    pub field: String,
    /// The field manager that owns the live value now.
    pub manager: String,
    /// The live value (strings as they are, anything else as JSON); `None` when unknown.
    pub live: Option<String>,
    /// The value git declares.
    pub git: Option<String>,
}

/// An object that claims to be the env's (it carries its labels) but that Coxswain will not
/// prune, because it cannot prove it created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct SkippedObject {
    #[serde(flatten)]
    pub key: ObjectKey,
    pub api_version: String,
    pub kind: String,
    pub reason: String,
}

/// The plan of one environment.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct EnvPlan {
    pub env: String,
    pub namespace: String,
    /// False when the namespace does not exist yet (a sync creates it).
    pub namespace_exists: bool,
    pub objects: Vec<ObjectPlan>,
    /// Problems that block a sync: unknown kinds, objects the server rejects, conflicts.
    pub errors: Vec<Diagnostic>,
    /// Look-alikes: objects with this env's labels that are not provably Coxswain's, so neither
    /// pruned nor orphaned. Absent from JSON when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<SkippedObject>>", optional))]
    pub skipped: Vec<SkippedObject>,
    /// What the next sync does to rollout strategies (starts a canary, continues one, …), one
    /// sentence each; filled in by the engine. Absent from JSON when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<String>>", optional))]
    pub rollouts: Vec<String>,
    /// The next sync writes for a rollout (see [`crate::rollout::Pending::writes`]).
    #[serde(skip)]
    pub rollout_writes: bool,
    /// The inventory as read, restricted to objects that still exist (for the sync to update).
    #[serde(skip)]
    pub inventory: Inventory,
    /// What rollouts whose strategy left `env.yaml` left behind, found among the objects the
    /// plan read (the engine removes them after the sync; see [`crate::rollout::leftover`]).
    #[serde(skip)]
    pub rollout_leftovers: Vec<crate::rollout::leftover::Leftover>,
}

impl EnvPlan {
    pub fn count(&self, action: Action) -> usize {
        self.objects.iter().filter(|o| o.action == action).count()
    }

    pub fn has_changes(&self) -> bool {
        !self.namespace_exists || self.objects.iter().any(|o| o.action.is_change())
    }
}

/// Plans one environment against a cluster. Errors that concern one object become entries of
/// `errors`; errors that make the whole plan meaningless (cluster unreachable, forbidden LIST)
/// are returned.
pub async fn plan_env(
    cluster: &dyn Cluster,
    env: &Environment,
    options: &PlanOptions,
) -> Result<EnvPlan, ClusterError> {
    let concurrency = options.concurrency.max(1);
    let owner = Owner::of(env);
    let mut errors = Vec::new();
    let namespace_type = cluster.resolve(&Gvk::from_api_version("v1", "Namespace")).await?;
    let config_maps = cluster.resolve(&inventory::config_map_gvk()).await?;
    let namespace_exists = cluster.get(&namespace_type, None, &env.namespace).await?.is_some();

    // Desired objects, resolved to their resources.
    let mut resources: HashMap<Gvk, ResourceType> = HashMap::new();
    let mut resolved = Vec::with_capacity(env.objects.len());
    for object in &env.objects {
        let namespaced = match resources.get(&object.gvk) {
            Some(resource) => resource.namespaced,
            None => match cluster.resolve(&object.gvk).await {
                Ok(resource) => {
                    let namespaced = resource.namespaced;
                    resources.insert(object.gvk.clone(), resource);
                    namespaced
                }
                Err(ClusterError::UnknownKind { .. }) => {
                    errors.push(Diagnostic::error(&object.source.file, object.source.line, "unknown-kind", format!(
                        "{} {}: the cluster serves no kind {} (check apiVersion, or install its CRD first)",
                        object.kind(), object.name(), object.gvk
                    )));
                    continue;
                }
                Err(other) => return Err(other),
            },
        };
        if !namespaced && object.key.namespace.is_some() {
            // The loader took an unfamiliar kind for namespaced; discovery knows better.
            if !env.config.allow_cluster_scoped.iter().any(|k| k == object.kind()) {
                errors.push(Diagnostic::error(&object.source.file, object.source.line, "cluster-scoped-not-allowed", format!(
                    "{} \"{}\" is cluster-scoped; add {} to allowClusterScoped in environments/{}/env.yaml to manage it from this environment",
                    object.kind(), object.name(), object.kind(), env.name
                )));
                continue;
            }
        }
        resolved.push(object);
    }
    // The objects to apply, with this env's ownership labels: a copy of each, made on every core.
    let desired: Vec<_> = crate::cores::map_in_parallel(&resolved, PARALLEL_FROM, |object| {
        let resource = resources.get(&object.gvk)?; // every resolved kind is there
        let mut value = desired_with_ownership(object, &owner);
        let mut key = object.key.clone();
        if !resource.namespaced && key.namespace.is_some() {
            key.namespace = None;
            if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("namespace");
            }
        }
        Some((key, resource.clone(), value, object.source.clone(), object.gvk.clone()))
    })
    .into_iter()
    .flatten()
    .collect();

    // Kinds to LIST: every desired kind, plus kinds applied before (for prune).
    let mut kinds: BTreeMap<String, (ResourceType, bool)> = BTreeMap::new();
    for resource in resources.values() {
        kinds.insert(resource.gvk.group_kind(), (resource.clone(), true));
    }
    let mut inventory = if namespace_exists {
        inventory::read(cluster, &config_maps, &env.namespace).await?
    } else {
        Inventory::default()
    };
    if let Some(why) = inventory.claimed_by_other(&owner, &env.namespace) {
        errors.push(Diagnostic::error(
            &format!("environments/{}/env.yaml", env.name),
            0,
            "namespace-taken",
            why,
        ));
        // Nothing there is this env's: prune nothing, skip nothing.
        inventory.objects.clear();
        inventory.kinds.clear();
    }
    if namespace_exists {
        for gvk in inventory.kinds.clone() {
            if kinds.contains_key(&gvk.group_kind()) {
                continue;
            }
            match cluster.resolve(&gvk).await {
                Ok(resource) => {
                    kinds.insert(gvk.group_kind(), (resource, false));
                }
                Err(ClusterError::UnknownKind { .. }) => {} // the kind (a CRD) is gone, and its objects with it
                Err(other) => return Err(other),
            }
        }
    }
    let selector = owned_selector(&env.name);
    let lists: Vec<(ResourceType, Vec<Value>)> = stream::iter(kinds.into_values())
        .map(|(resource, desired_kind)| {
            let selector = selector.clone();
            let namespace = env.namespace.clone();
            async move {
                // A fresh namespace holds nothing: skip namespaced LISTs there.
                if resource.namespaced && !namespace_exists {
                    return Ok((resource, Vec::new()));
                }
                // Desired kinds: namespace-wide, to find objects that exist but are not ours yet.
                // Prune-only kinds: just our own objects.
                let filter = (!desired_kind).then_some(selector.as_str());
                let items = cluster
                    .list(&resource, resource.namespaced.then_some(namespace.as_str()), filter)
                    .await?;
                Ok::<_, ClusterError>((resource, items))
            }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    let mut live: HashMap<ObjectKey, (ResourceType, Value)> = HashMap::new();
    for (resource, items) in lists {
        for item in items {
            if let Some(key) = ObjectKey::of(&item) {
                live.insert(key, (resource.clone(), item));
            }
        }
    }

    // Read from every live object before the desired ones move into their plans.
    let seen: HashSet<String> = live
        .values()
        .filter_map(|(_, object)| object.pointer("/metadata/uid").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    let rollout_leftovers = crate::rollout::leftover::find(env, live.values().map(|(r, o)| (r, o)));

    // Each desired object with its live counterpart, moved out of `live`: what stays there is
    // what git no longer declares.
    let candidates: Vec<Candidate> = desired
        .into_iter()
        .map(|(key, resource, desired, source, gvk)| {
            let live = live.remove(&key).map(|(_, object)| object);
            Candidate { key, resource, desired, source, gvk, live }
        })
        .collect();
    let manager = owner.field_manager();
    let unchanged = unchanged_locally(&candidates, &manager, options.unchanged.as_deref());
    let mut objects = Vec::with_capacity(candidates.len());
    let mut may_change = Vec::new();
    for (candidate, unchanged) in candidates.into_iter().zip(unchanged) {
        if unchanged {
            objects.push(candidate.into_plan(Action::Unchanged, options.force_conflicts));
        } else {
            may_change.push(candidate);
        }
    }

    // Dry-run only what may change.
    let can_dry_run_creates = namespace_exists;
    let planned: Vec<Result<ObjectPlan, Diagnostic>> = stream::iter(may_change)
        .map(|candidate| classify(cluster, &owner, candidate, options, can_dry_run_creates))
        .buffered(concurrency)
        .collect()
        .await;
    for result in planned {
        match result {
            Ok(plan) => objects.push(plan),
            Err(diagnostic) => errors.push(diagnostic),
        }
    }
    let mut skipped = Vec::new();
    for (key, (resource, object)) in live {
        match judge(&object, &owner, &inventory) {
            Judgement::Ours => {}
            Judgement::Foreign => continue,
            Judgement::LookAlike(reason) => {
                skipped.push(SkippedObject {
                    key,
                    api_version: resource.gvk.api_version(),
                    kind: resource.gvk.kind.clone(),
                    reason,
                });
                continue;
            }
        }
        let mut before = normalize(&object);
        mask_secret_pair(Some(&mut before), None);
        objects.push(ObjectPlan {
            diff: unified_diff(&key, Some(&before), None),
            key,
            api_version: resource.gvk.api_version(),
            kind: resource.gvk.kind.clone(),
            action: if env.config.prune { Action::Prune } else { Action::Orphan },
            source: None,
            server_dry_run: false,
            resource,
            desired: None,
            live: Some(Arc::new(object)),
            release_legacy: false,
            force: false,
            drift: Vec::new(),
        });
    }
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    skipped.sort_by(|a, b| a.key.cmp(&b.key));
    errors.sort();
    // What the sync builds on: recorded objects that still exist (the rest is gone).
    inventory.objects.retain(|uid, _| seen.contains(uid.as_str()));
    inventory.kinds.extend(skipped.iter().map(|s| Gvk::from_api_version(&s.api_version, &s.kind)));
    Ok(EnvPlan {
        env: env.name.clone(),
        namespace: env.namespace.clone(),
        namespace_exists,
        objects,
        errors,
        skipped,
        rollouts: Vec::new(),
        rollout_writes: false,
        inventory,
        rollout_leftovers,
    })
}

/// Envs at least this large label and check their objects on every core: for 10,000 objects
/// that is most of a plan's local work; for small ones, starting threads would cost more.
const PARALLEL_FROM: usize = 512;

/// A desired object, resolved, with the live object of the same key.
struct Candidate {
    key: ObjectKey,
    resource: ResourceType,
    /// With ownership labels.
    desired: Value,
    source: Source,
    gvk: Gvk,
    live: Option<Value>,
}

impl Candidate {
    /// Whether the object is provably unchanged without asking the server (see
    /// [`is_unchanged_locally`]); objects still owned by the pre-instance-id manager never are,
    /// since adopting them changes their manager.
    fn is_unchanged(&self, manager: &str, memo: Option<&UnchangedMemo>) -> bool {
        let Some(live) = &self.live else { return false };
        if apply_entry(live, LEGACY_FIELD_MANAGER).is_some() {
            return false;
        }
        if memo.is_some_and(|memo| memo.holds(&self.key, &self.desired, live, manager)) {
            return true;
        }
        let unchanged = is_unchanged_locally(&self.desired, live, manager);
        if let (true, Some(memo)) = (unchanged, memo) {
            memo.remember(&self.key, &self.desired, live, manager);
        }
        unchanged
    }

    /// Its plan, with no diff and nothing decided by the server yet.
    fn into_plan(self, action: Action, force: bool) -> ObjectPlan {
        ObjectPlan {
            key: self.key,
            api_version: self.gvk.api_version(),
            kind: self.gvk.kind,
            action,
            source: Some(self.source),
            diff: String::new(),
            server_dry_run: false,
            resource: self.resource,
            desired: Some(Arc::new(self.desired)),
            live: self.live.map(Arc::new),
            release_legacy: false,
            force,
            drift: Vec::new(),
        }
    }
}

/// [`Candidate::is_unchanged`] of each candidate, in order; split over the machine's cores when
/// there are many.
fn unchanged_locally(
    candidates: &[Candidate],
    manager: &str,
    memo: Option<&UnchangedMemo>,
) -> Vec<bool> {
    crate::cores::map_in_parallel(candidates, PARALLEL_FROM, |candidate| {
        candidate.is_unchanged(manager, memo)
    })
}

/// The plan of an object that may change: a server-side dry-run apply tells what the sync
/// would make of it (creates are dry-run too when the namespace exists, so the server validates
/// them before a sync starts).
async fn classify(
    cluster: &dyn Cluster,
    owner: &Owner,
    candidate: Candidate,
    options: &PlanOptions,
    can_dry_run_creates: bool,
) -> Result<ObjectPlan, Diagnostic> {
    let Candidate { key, resource, desired, source, .. } = &candidate;
    let reject = |error: ClusterError| {
        Diagnostic::error(&source.file, source.line, error_code(&error), error.to_string())
    };
    let dry_run = |force: bool| owner.apply_options(force, true);
    let Some(live) = &candidate.live else {
        if can_dry_run_creates {
            // Validates the object (admission, schema) now rather than halfway through a sync.
            cluster
                .apply(resource, desired, &dry_run(options.force_conflicts))
                .await
                .map_err(reject)?;
        }
        let mut after = normalize(desired);
        mask_secret_pair(None, Some(&mut after));
        let diff = unified_diff(key, None, Some(&after));
        let mut plan = candidate.into_plan(Action::Create, options.force_conflicts);
        plan.diff = diff;
        plan.server_dry_run = can_dry_run_creates;
        return Ok(plan);
    };
    // Applied by a Coxswain version before instance ids: adopt it, then release that manager.
    let release_legacy = apply_entry(live, LEGACY_FIELD_MANAGER).is_some();
    let mut force = options.force_conflicts;
    let mut drift = Vec::new();
    // This env's rollouts write with a field manager of their own (the active Service's
    // selector of a blue-green): once the strategy is gone, git's value is the env's to take.
    let rollout_manager = crate::rollout::field_manager(owner);
    let result = match cluster.apply(resource, desired, &dry_run(force)).await {
        // Fields the earlier Coxswain manager or this env's rollouts own are Coxswain's: take
        // them without --force.
        Err(ClusterError::Conflict { conflicts, .. })
            if !conflicts.is_empty()
                && conflicts.iter().all(|c| {
                    (release_legacy && c.manager == LEGACY_FIELD_MANAGER)
                        || c.manager == rollout_manager
                }) =>
        {
            force = true;
            cluster.apply(resource, desired, &dry_run(true)).await.map_err(reject)?
        }
        // Drift: values another (non-Coxswain) manager set on fields git declares. Show what a
        // forced apply would change; the sync itself still needs --force-conflicts.
        Err(ClusterError::Conflict { conflicts, .. })
            if !conflicts.is_empty()
                && conflicts.iter().all(|c| !is_coxswain_manager(&c.manager)) =>
        {
            drift = drift_of(desired, live, &conflicts);
            cluster.apply(resource, desired, &dry_run(true)).await.map_err(reject)?
        }
        other => other.map_err(reject)?,
    };
    let mut before = normalize(live);
    let mut after = normalize(&result);
    let changed = before != after || release_legacy;
    if changed && drift.is_empty() && options.force_conflicts {
        // Forced, the server reports no conflicts: what the force takes back is read from the
        // live object's managedFields, so the preview still names the managers it overrides.
        drift = drift_in_managed_fields(desired, live);
    }
    let diff = if changed {
        mask_secret_pair(Some(&mut before), Some(&mut after));
        unified_diff(key, Some(&before), Some(&after))
    } else {
        String::new()
    };
    let action = if changed { Action::Update } else { Action::Unchanged };
    let mut plan = candidate.into_plan(action, force);
    plan.diff = diff;
    plan.server_dry_run = true;
    plan.release_legacy = release_legacy;
    plan.drift = drift;
    Ok(plan)
}

/// True when applying `desired` as `manager` cannot change `live`: every desired field already
/// has its value, and no field the manager applied before has left `desired` (its removal would
/// be a change).
pub fn is_unchanged_locally(desired: &Value, live: &Value, manager: &str) -> bool {
    if !is_subset_object(desired, live) {
        return false;
    }
    let Some(fields) = apply_entry(live, manager).and_then(|entry| entry.get("fieldsV1")) else {
        return false; // we never applied it: adopting it is a change of ownership
    };
    fields_declared(fields, desired)
}

/// Whether a field manager is Coxswain's (any instance or env, or the manager of versions
/// before instance ids): a conflict with one is two owners declaring one object, an error, not
/// drift to take back.
fn is_coxswain_manager(manager: &str) -> bool {
    manager == LEGACY_FIELD_MANAGER || manager.starts_with("coxswain/")
}

/// The drift the server reported as conflicts, with the live and git values of each field: the
/// fields git declares are matched to the server's field names, so values are exact.
fn drift_of(desired: &Value, live: &Value, conflicts: &[FieldConflict]) -> Vec<Drift> {
    let declared = FieldSet::from_object(desired);
    conflicts
        .iter()
        .map(|conflict| {
            let path = declared.iter().find(|path| path.to_string() == conflict.field);
            Drift {
                field: conflict.field.clone(),
                manager: conflict.manager.clone(),
                live: path.and_then(|p| value_at(live, p)).map(shown),
                git: path.and_then(|p| value_at(desired, p)).map(shown),
            }
        })
        .collect()
}

/// The fields `desired` sets whose live value differs and that another, non-Coxswain manager
/// owns (by `managedFields`): the conflicts a forced apply overrides. Leaves only — a keyed
/// list element or a map is compared through its fields — so defaults never count.
fn drift_in_managed_fields(desired: &Value, live: &Value) -> Vec<Drift> {
    let declared = FieldSet::from_object(desired);
    let entries = live.pointer("/metadata/managedFields").and_then(Value::as_array);
    let mut drift = Vec::new();
    for entry in entries.into_iter().flatten() {
        let Some(manager) = entry.get("manager").and_then(Value::as_str) else { continue };
        if is_coxswain_manager(manager) {
            continue;
        }
        let Some(owned) = entry.get("fieldsV1").and_then(|f| FieldSet::from_fields_v1(f).ok())
        else {
            continue;
        };
        for path in owned.intersection(&declared).iter() {
            let (Some(want), Some(have)) = (value_at(desired, path), value_at(live, path)) else {
                continue;
            };
            if want.is_object() || values_equal(want, have) {
                continue;
            }
            drift.push(Drift {
                field: path.to_string(),
                manager: manager.to_owned(),
                live: Some(shown(have)),
                git: Some(shown(want)),
            });
        }
    }
    drift
}

/// A value for people: strings as they are, anything else as JSON.
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn error_code(error: &ClusterError) -> &'static str {
    match error {
        ClusterError::Conflict { .. } => "conflict",
        ClusterError::Invalid { .. } => "rejected",
        ClusterError::Forbidden { .. } => "forbidden",
        _ => "cluster-error",
    }
}

/// A unified diff of two normalised objects, as YAML. `None` on one side is a create or delete.
pub fn unified_diff(key: &ObjectKey, before: Option<&Value>, after: Option<&Value>) -> String {
    diff_after(key, before, after, "sync")
}

/// [`unified_diff`] with the header `after <what>: KEY` (what writes it: a sync, a rollout
/// operation).
pub fn diff_after(
    key: &ObjectKey,
    before: Option<&Value>,
    after: Option<&Value>,
    what: &str,
) -> String {
    let old = before.map(yaml::to_yaml).unwrap_or_default();
    let new = after.map(yaml::to_yaml).unwrap_or_default();
    let name = key.to_string();
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live: {name}"), &format!("after {what}: {name}"))
        .to_string()
}
