//! Progressive delivery with plain Kubernetes objects: canary and blue-green rollouts of the
//! Deployments `env.yaml` names under `rollouts:` ([`spec`]).
//!
//! Coxswain runs no controller in the cluster. A rollout advances whenever Coxswain acts on the
//! environment — a sync, `--sync --wait` following the steps, or a `coxswain rollout` command —
//! always under the environment's Lease, each write fenced by it. What a rollout has reached
//! lives in the cluster ([`state`]: an annotation on the workload's Deployment), so any machine
//! can pause, resume, promote, abort or undo it, and a crash loses nothing.
//!
//! **Canary.** Git's new pod template runs in `<name>-canary`, a Deployment whose pods carry the
//! stable pods' labels plus `coxswain.dev/track: canary`, so the Service that selects the stable
//! pods selects them too and traffic splits by replica count. At weight *w* of *n* replicas the
//! canary runs ⌈n·w/100⌉ and the stable Deployment the rest (with an HPA targeting it, the
//! stable Deployment keeps the HPA's scale and the canary is counted from it). Stable keeps the
//! old template until promotion, which applies git's template to it at full scale and deletes
//! the canary.
//!
//! **Blue-green.** Git's Deployment is a template for `<name>-blue` and `<name>-green`, each
//! selecting `coxswain.dev/color`; the active Service's selector gets the colour key. A new
//! template rolls out on the inactive colour behind the preview Service; once it is healthy the
//! active Service's selector switches (one write), and the old colour keeps running for
//! `scaleDownDelay` so switching back (`undo`) is one write too.
//!
//! **Who writes what.** The stable Deployment is written by the env's own field manager, exactly
//! as the next sync will write it (the sync plans against [`view`], which puts the rollout's
//! stable template and replicas in place of git's), so a sync neither fights nor reverts a
//! rollout; the active Service's selector (an atomic map) is planned with the active colour in
//! it, so the switch and the sync apply the same selector. What a sync never writes — the canary
//! and colour Deployments, the preview Service — is written by the rollout's own field manager
//! `coxswain/<instance>/<env>/rollout` and labelled internal, so it is never planned, diffed or
//! pruned; the state has a field manager of its own.
//!
//! Where an NGINX Ingress routes to the workload, a canary takes exact percentages through
//! canary Ingresses instead of replica ratios ([`traffic`]). What a rollout leaves once its
//! strategy leaves `env.yaml` is found by the sync's plan and removed after the sync
//! ([`leftover`]).

pub mod leftover;
mod preview;
pub mod spec;
pub mod state;
pub mod traffic;

pub use preview::RolloutChange;
pub use spec::{BlueGreenSpec, CanarySpec, Delay, Pause, Step, Strategy};
pub use state::{Colour, Phase, RolloutState};

use crate::cluster::{Cluster, ClusterError, Gvk, ObjectKey, ResourceType};
use crate::health::{self, Health};
use crate::lock::{Fence, LeaseLost};
use crate::ownership::{INTERNAL_LABEL, Owner, desired_with_ownership};
use crate::repo::{DesiredObject, Environment};
use crate::sync::CancelToken;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Names the workload a rollout object belongs to.
pub const ROLLOUT_LABEL: &str = "coxswain.dev/rollout";
/// Added to a canary's selector and pod labels (`canary`).
pub const TRACK_LABEL: &str = "coxswain.dev/track";
/// Added to a colour Deployment's selector and pod labels, and to the active and preview
/// Services' selectors (`blue` / `green`).
pub const COLOR_LABEL: &str = "coxswain.dev/color";
/// The hash of the pod template a rollout object runs (see [`state::template_hash`]).
pub const TEMPLATE_ANNOTATION: &str = "coxswain.dev/template-hash";

#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error(
        "environment {env} declares no rollout strategy for {workload} (declared: {declared}); add \
         it under `rollouts:` in environments/{env}/env.yaml"
    )]
    NotDeclared { env: String, workload: String, declared: String },
    #[error("{workload}: {message}")]
    Refused { workload: String, message: String },
    #[error("the rollout state {name} is unreadable: {message}; delete it to start over from git")]
    CorruptState { name: String, message: String },
    #[error("{0}")]
    Lost(#[from] LeaseLost),
    #[error("interrupted before the next write")]
    Interrupted,
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

impl RolloutError {
    fn refused(workload: &str, message: impl Into<String>) -> Self {
        Self::Refused { workload: workload.to_owned(), message: message.into() }
    }
}

/// An operation a person (or CI) asks of a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "RolloutAction"))]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Stop at the current step (the canary or new colour Deployment gets `spec.paused`).
    Pause,
    /// Lift a pause (yours or a step's `manual` one) and go on with the steps.
    Resume,
    /// Finish now: canary to full promotion, blue-green switch to the new colour.
    Promote,
    /// Back to stable: delete the canary (stable at full scale, old template), or scale the new
    /// colour down without switching. Git's template is not rolled out again until it changes.
    Abort,
    /// Abort a rollout in progress; after a finished one, back to the previous stable template
    /// (blue-green: switch the active Service back, one write).
    Undo,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Promote => "promote",
            Self::Abort => "abort",
            Self::Undo => "undo",
        }
    }
}

/// One side of a rollout as the cluster has it: a Deployment, its images and replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Side {
    pub deployment: String,
    pub images: Vec<String>,
    pub replicas: u64,
    pub ready: u64,
    pub paused: bool,
    pub health: Health,
    /// Why it is not healthy (a failing pod: container, reason, restarts).
    pub message: String,
    /// The model version its pods serve, as the pod template says it: a container's
    /// `MODEL_VERSION` environment variable, else the `app.kubernetes.io/version` label.
    pub model_version: Option<String>,
}

/// Where a rollout stands: what `coxswain rollout status` shows and the app renders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    pub env: String,
    pub workload: String,
    /// `canary` or `blueGreen`.
    pub strategy: String,
    /// `None`: nothing recorded yet (the next sync records the stable template).
    pub phase: Option<Phase>,
    /// Paused by `coxswain rollout pause` (a step's own pause shows as phase `paused`).
    pub paused: bool,
    /// Canary: the current step (1-based) of `steps`, and its weight.
    pub step: Option<usize>,
    pub steps: usize,
    pub weight: Option<u32>,
    /// Canary: the stable Deployment; blue-green: the active colour.
    pub stable: Option<Side>,
    /// Canary: `<name>-canary`; blue-green: the colour rolled out behind the preview Service.
    pub new: Option<Side>,
    pub active_color: Option<Colour>,
    /// What is happening or awaited, in a sentence.
    pub message: String,
    /// What a person can ask of it now (the app's buttons); any other operation is refused.
    pub actions: Vec<Action>,
}

impl RolloutStatus {
    /// Waiting for a person: a manual step pause, an unpromoted blue-green, or a user pause.
    pub fn awaits_person(&self) -> bool {
        self.paused || self.phase == Some(Phase::Paused)
    }

    /// The canary or new colour of a running rollout is degraded.
    pub fn is_degraded(&self) -> bool {
        !self.is_settled() && self.new.as_ref().is_some_and(|s| s.health == Health::Degraded)
    }

    /// Nothing left to do: finished, aborted, or never started.
    pub fn is_settled(&self) -> bool {
        matches!(self.phase, None | Some(Phase::Completed | Phase::Aborted))
    }
}

/// The rollout's field manager of an environment.
pub fn field_manager(owner: &Owner) -> String {
    format!("{}/rollout", owner.field_manager())
}

/// The environment as a sync must apply it while rollouts run: a canary's stable Deployment
/// with the stable template and replicas the rollout holds, a blue-green Deployment left out
/// (its colours are the rollout's). `states` pairs each workload with its recorded state.
pub fn view(env: &Environment, states: &[(String, Option<RolloutState>)]) -> Environment {
    let mut view = env.clone();
    let state_of =
        |workload: &str| states.iter().find(|(w, _)| w == workload).and_then(|(_, s)| s.as_ref());
    view.objects.retain_mut(|object| {
        if object.key.group_kind == "Service" {
            // The active Service of a blue-green selects the active colour. Its selector is an
            // atomic map: the sync must apply the same one the switch applied.
            for (workload, strategy) in &env.config.rollouts {
                let Strategy::BlueGreen(spec) = strategy else { continue };
                let active = state_of(workload).and_then(|s| s.active);
                if let (true, Some(colour)) = (spec.active_service == object.name(), active) {
                    put(
                        &mut object.value,
                        &["spec", "selector", COLOR_LABEL],
                        json!(colour.as_str()),
                    );
                }
            }
            return true;
        }
        if object.key.group_kind != "Deployment.apps" {
            return true;
        }
        let Some(strategy) = env.config.rollouts.get(object.name()) else { return true };
        if matches!(strategy, Strategy::BlueGreen(_)) {
            return false;
        }
        if let Some(state) = state_of(object.name()) {
            *object = stable_view(object, state, state.stable_replicas);
        }
        true
    });
    view
}

/// What the next sync does to each rollout of `env`, one sentence each (the plan shows them: the
/// view hides a template change from the diff, since stable keeps its template).
pub fn pending(env: &Environment, states: &[(String, Option<RolloutState>)]) -> Pending {
    let mut out = Pending::default();
    for (workload, strategy) in &env.config.rollouts {
        let Some(git) = spec::deployment(&env.objects, workload) else { continue };
        let template = git.value.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
        let hash = state::template_hash(&template);
        let state = states.iter().find(|(w, _)| w == workload).and_then(|(_, s)| s.as_ref());
        let kind = strategy.kind();
        // A sync writes for a rollout it records for the first time or starts.
        let writes = state.is_none_or(|s| {
            s.stable_hash != hash
                && !(s.phase == Phase::Aborted && s.aborted_hash.as_deref() == Some(&hash))
                && !(matches!(s.phase, Phase::Progressing | Phase::Paused)
                    && (s.promoting || s.target_hash.as_deref() == Some(&hash)))
        });
        out.writes |= writes;
        let line = match state {
            None => match strategy {
                Strategy::Canary(_) => {
                    format!("{workload} ({kind}): the next sync records its template as stable")
                }
                Strategy::BlueGreen(spec) => format!(
                    "{workload} ({kind}): the next sync runs it as {workload}-blue behind Service {}",
                    spec.active_service
                ),
            },
            Some(s) if s.phase == Phase::Aborted && s.aborted_hash.as_deref() == Some(&hash) => {
                format!(
                    "{workload} ({kind}): aborted at this template; rolled out again only when git changes it"
                )
            }
            Some(s)
                if matches!(s.phase, Phase::Progressing | Phase::Paused)
                    && (s.promoting || s.target_hash.as_deref() == Some(&hash)) =>
            {
                format!("{workload} ({kind}): {} — {}", s.phase.as_str(), s.message)
            }
            Some(s) if s.stable_hash != hash => match strategy {
                Strategy::Canary(canary) => format!(
                    "{workload} ({kind}): a new pod template; the next sync starts {workload}-canary at step 1 of {} ({}%)",
                    canary.steps.len(),
                    canary.steps.first().map_or(100, |step| step.weight)
                ),
                Strategy::BlueGreen(spec) => format!(
                    "{workload} ({kind}): a new pod template; the next sync rolls it out on {workload}-{} behind Service {}",
                    s.active.unwrap_or(Colour::Blue).other().as_str(),
                    spec.preview_service(workload)
                ),
            },
            Some(_) => continue,
        };
        out.lines.push(line);
    }
    out
}

/// What the next sync does to an env's rollouts.
#[derive(Debug, Default)]
pub struct Pending {
    /// One sentence per rollout.
    pub lines: Vec<String>,
    /// Whether it writes for one (records a stable template, or starts a rollout): the env is
    /// out of sync even when no object's plan changes.
    pub writes: bool,
}

/// Git's Deployment with the rollout's stable template, and `replicas` in place of git's when
/// git declares replicas (an HPA-scaled Deployment declares none and keeps the HPA's).
fn stable_view(git: &DesiredObject, state: &RolloutState, replicas: Option<u64>) -> DesiredObject {
    let mut object = git.clone();
    if let Some(spec) = object.value.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("template".into(), state.stable_template.clone());
        if let Some(replicas) = replicas
            && spec.contains_key("replicas")
        {
            spec.insert("replicas".into(), json!(replicas));
        }
    }
    object
}

/// How a [`Writer`] writes.
pub enum Writes {
    /// For real, each write checked against the env's lease first.
    Fenced(Fence),
    /// Not at all: applies are server-side dry runs, deletes are only noted, and each change
    /// is collected for the operation's preview (no lease needed).
    Previewed { action: Action, changes: Vec<RolloutChange> },
}

/// Writes of one rollout operation: each checks the cancel token and the env's lease first,
/// and is remembered for the history record.
pub struct Writer {
    pub cluster: Arc<dyn Cluster>,
    pub writes: Writes,
    pub cancel: CancelToken,
    pub owner: Owner,
    pub namespace: String,
    pub written: Vec<String>,
}

impl Writer {
    async fn may_write(&self) -> Result<(), RolloutError> {
        if self.cancel.is_cancelled() {
            return Err(RolloutError::Interrupted);
        }
        match &self.writes {
            Writes::Fenced(fence) => Ok(fence.check(true).await?),
            Writes::Previewed { .. } => Ok(()),
        }
    }

    /// The changes a preview collected (none when it wrote for real).
    pub fn previewed(self) -> Vec<RolloutChange> {
        match self.writes {
            Writes::Previewed { changes, .. } => changes,
            Writes::Fenced(_) => Vec::new(),
        }
    }

    fn previewing(&self) -> bool {
        matches!(self.writes, Writes::Previewed { .. })
    }

    /// In a preview, notes the change from the live object to `after` (`None`: deleted).
    async fn preview(
        &mut self,
        resource: &ResourceType,
        name: &str,
        after: Option<&Value>,
    ) -> Result<(), RolloutError> {
        if !self.previewing() {
            return Ok(());
        }
        let live = self.cluster.get(resource, Some(&self.namespace), name).await?;
        let key = ObjectKey::new(&resource.gvk, Some(&self.namespace), name);
        if let Writes::Previewed { action, changes } = &mut self.writes {
            let operation = format!("rollout {}", action.as_str());
            changes.extend(RolloutChange::between(key, live.as_ref(), after, &operation));
        }
        Ok(())
    }

    async fn resource(&self, api_version: &str, kind: &str) -> Result<ResourceType, RolloutError> {
        Ok(self.cluster.resolve(&Gvk::from_api_version(api_version, kind)).await?)
    }

    /// Server-side apply as the rollout's field manager (which owns what it writes outright).
    async fn apply_rollout(&mut self, object: &Value) -> Result<Value, RolloutError> {
        let (api_version, kind) = api_kind(object);
        let resource = self.resource(&api_version, &kind).await?;
        self.may_write().await?;
        let options = crate::cluster::ApplyOptions {
            field_manager: field_manager(&self.owner),
            force: true,
            dry_run: self.previewing(),
        };
        let applied = self.cluster.apply(&resource, object, &options).await?;
        self.preview(&resource, &name_of(object), Some(&applied)).await?;
        self.note(object);
        Ok(applied)
    }

    /// Server-side apply of a git object as the env's own field manager, as a sync would.
    async fn apply_as_env(&mut self, object: &DesiredObject) -> Result<Value, RolloutError> {
        let value = desired_with_ownership(object, &self.owner);
        let resource = self.cluster.resolve(&object.gvk).await?;
        self.may_write().await?;
        let options = self.owner.apply_options(false, self.previewing());
        let applied = self.cluster.apply(&resource, &value, &options).await?;
        self.preview(&resource, object.name(), Some(&applied)).await?;
        self.note(&value);
        Ok(applied)
    }

    async fn delete(
        &mut self,
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> Result<bool, RolloutError> {
        let resource = self.resource(api_version, kind).await?;
        self.may_write().await?;
        if self.previewing() {
            self.preview(&resource, name, None).await?;
            return Ok(true);
        }
        let deleted = self.cluster.delete(&resource, Some(&self.namespace), name, None).await?;
        if deleted {
            let key = ObjectKey::new(&resource.gvk, Some(&self.namespace), name);
            self.written.push(format!("deleted {key}"));
        }
        Ok(deleted)
    }

    fn note(&mut self, object: &Value) {
        if let Some(key) = ObjectKey::of(object) {
            self.written.push(key.to_string());
        }
    }

    async fn get(&self, kind: &str, name: &str) -> Result<Option<Value>, RolloutError> {
        let api_version = if kind == "Deployment" { "apps/v1" } else { "v1" };
        let resource = self.resource(api_version, kind).await?;
        Ok(self.cluster.get(&resource, Some(&self.namespace), name).await?)
    }

    /// Records the state on its Deployment, as the state's own field manager (bookkeeping:
    /// not listed among what the operation wrote).
    async fn save(&mut self, state: &RolloutState, holder: &str) -> Result<(), RolloutError> {
        if self.previewing() {
            return Ok(());
        }
        let object = state::to_annotation(state, holder, &self.namespace);
        let resource = self.resource("apps/v1", "Deployment").await?;
        self.may_write().await?;
        let options = crate::cluster::ApplyOptions {
            field_manager: state::field_manager(&self.owner),
            force: true,
            dry_run: false,
        };
        self.cluster.apply(&resource, &object, &options).await?;
        Ok(())
    }
}

fn name_of(object: &Value) -> String {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn api_kind(object: &Value) -> (String, String) {
    let text =
        |field: &str| object.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
    (text("apiVersion"), text("kind"))
}

/// Labels of an object the rollout owns: the env's ownership (a claim), internal (never
/// planned or pruned), and the workload it belongs to.
fn rollout_labels(owner: &Owner, workload: &str) -> Map<String, Value> {
    let mut labels = owner.labels();
    labels.insert(INTERNAL_LABEL.into(), json!("true"));
    labels.insert(ROLLOUT_LABEL.into(), json!(workload));
    labels
}

/// A Deployment the rollout owns: git's spec with `template`, `replicas`, and `label`
/// (`key: value`) added to its selector and pod labels.
fn derived_deployment(
    git: &DesiredObject,
    owner: &Owner,
    name: &str,
    template: &Value,
    replicas: u64,
    label: (&str, &str),
    paused: bool,
) -> Value {
    let mut spec = git.value.get("spec").cloned().unwrap_or_else(|| json!({}));
    put(&mut spec, &["template"], template.clone());
    put(&mut spec, &["replicas"], json!(replicas));
    put(&mut spec, &["selector", "matchLabels", label.0], json!(label.1));
    put(&mut spec, &["template", "metadata", "labels", label.0], json!(label.1));
    if paused {
        put(&mut spec, &["paused"], json!(true));
    } else if let Some(spec) = spec.as_object_mut() {
        spec.remove("paused");
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": git.key.namespace,
            "labels": rollout_labels(owner, git.name()),
            "annotations": {TEMPLATE_ANNOTATION: state::template_hash(template)},
        },
        "spec": spec,
    })
}

/// Runs one rollout's transitions against the cluster.
pub struct Rollout<'a> {
    pub env: &'a Environment,
    pub workload: &'a str,
    pub strategy: &'a Strategy,
    /// Git's Deployment.
    pub git: &'a DesiredObject,
    pub now: DateTime<Utc>,
}

impl<'a> Rollout<'a> {
    /// The rollout of `workload` in `env`, or why there is none.
    pub fn of(
        env: &'a Environment,
        workload: &'a str,
        now: DateTime<Utc>,
    ) -> Result<Self, RolloutError> {
        let not_declared = || RolloutError::NotDeclared {
            env: env.name.clone(),
            workload: workload.to_owned(),
            declared: if env.config.rollouts.is_empty() {
                "none".into()
            } else {
                env.config.rollouts.keys().cloned().collect::<Vec<_>>().join(", ")
            },
        };
        let strategy = env.config.rollouts.get(workload).ok_or_else(not_declared)?;
        let git = spec::deployment(&env.objects, workload).ok_or_else(not_declared)?;
        Ok(Self { env, workload, strategy, git, now })
    }

    fn git_template(&self) -> Value {
        self.git.value.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}))
    }

    fn canary_name(&self) -> String {
        format!("{}-canary", self.workload)
    }

    fn colour_name(&self, colour: Colour) -> String {
        format!("{}-{}", self.workload, colour.as_str())
    }

    /// Reads the recorded state.
    pub async fn load(&self, cluster: &dyn Cluster) -> Result<Option<RolloutState>, RolloutError> {
        state::load(cluster, &self.env.namespace, self.workload, self.strategy).await
    }

    async fn save(&self, w: &mut Writer, state: &RolloutState) -> Result<(), RolloutError> {
        w.save(state, &state::holder(self.workload, self.strategy)).await
    }

    /// After a sync (or while following): records the first stable template, starts a rollout
    /// of a new git template, restarts one whose template git changed again, and advances a
    /// running one as far as health and pauses allow.
    pub async fn reconcile(
        &self,
        w: &mut Writer,
        state: Option<RolloutState>,
    ) -> Result<RolloutState, RolloutError> {
        let template = self.git_template();
        let hash = state::template_hash(&template);
        let Some(mut state) = state else {
            return self.adopt(w, template).await;
        };
        if state.phase == Phase::Aborted && state.aborted_hash.as_deref() == Some(hash.as_str()) {
            return Ok(state); // aborted: not again until git changes
        }
        let running = matches!(state.phase, Phase::Progressing | Phase::Paused);
        if running && (state.promoting || state.target_hash.as_deref() == Some(hash.as_str())) {
            return self.advance(w, state).await;
        }
        if hash == state.stable_hash {
            if running {
                // Git went back to the stable template mid-rollout: that is an abort.
                return self.abort(w, state, None).await;
            }
            if state.phase == Phase::Aborted {
                state.phase = Phase::Completed;
                state.message = "git is back on the stable template".into();
                self.save(w, &state).await?;
            }
            return self.housekeeping(w, state).await;
        }
        self.start(w, state, template, hash).await
    }

    /// No state yet: what runs is stable (canary: git's Deployment as the sync applied it;
    /// blue-green: git's template as the blue colour, made active).
    async fn adopt(&self, w: &mut Writer, template: Value) -> Result<RolloutState, RolloutError> {
        let mut state = RolloutState::new(self.workload, self.strategy.kind(), template);
        if let Strategy::BlueGreen(spec) = self.strategy {
            let replicas = self.total_replicas(w).await?;
            let colour = Colour::Blue;
            w.apply_rollout(&self.colour_deployment(
                colour,
                &state.stable_template,
                replicas,
                false,
            ))
            .await?;
            w.apply_rollout(&self.service_colour(&spec.active_service, colour)).await?;
            state.active = Some(colour);
            state.total_replicas = Some(replicas);
        }
        state.message = "stable template recorded".into();
        self.save(w, &state).await?;
        Ok(state)
    }

    async fn start(
        &self,
        w: &mut Writer,
        mut state: RolloutState,
        template: Value,
        hash: String,
    ) -> Result<RolloutState, RolloutError> {
        state.target_template = Some(template);
        state.target_hash = Some(hash);
        state.aborted_hash = None;
        state.phase = Phase::Progressing;
        state.step = 0;
        state.step_since = None;
        state.paused = false;
        match self.strategy {
            Strategy::Canary(_) => {
                let (total, hpa) = self.canary_total(w).await?;
                state.total_replicas = Some(total);
                state.hpa = hpa;
                self.set_weights(w, &mut state).await?;
            }
            Strategy::BlueGreen(spec) => {
                let total = self.total_replicas(w).await?;
                state.total_replicas = Some(total);
                let active = state.active.unwrap_or(Colour::Blue);
                let preview = active.other();
                let target = state.target_template.clone().unwrap_or_default();
                w.apply_rollout(&self.colour_deployment(preview, &target, total, false)).await?;
                w.apply_rollout(&self.preview_service(spec, preview)?).await?;
                state.message = format!(
                    "rolling out on {} behind Service {}",
                    self.colour_name(preview),
                    spec.preview_service(self.workload)
                );
            }
        }
        self.save(w, &state).await?;
        self.advance(w, state).await
    }

    /// Replicas across stable and canary: git's, else (an HPA scales it) the live scale.
    async fn canary_total(&self, w: &Writer) -> Result<(u64, bool), RolloutError> {
        let hpa = self.hpa_targets();
        if !hpa && let Some(replicas) = spec::declared_replicas(&self.git.value) {
            return Ok((replicas, false));
        }
        Ok((self.live_scale(w).await?, hpa))
    }

    async fn total_replicas(&self, w: &Writer) -> Result<u64, RolloutError> {
        if let Some(replicas) = spec::declared_replicas(&self.git.value) {
            return Ok(replicas);
        }
        self.live_scale(w).await
    }

    /// The HPA's current scale, else the live Deployment's replicas, else 1.
    async fn live_scale(&self, w: &Writer) -> Result<u64, RolloutError> {
        if let Some(hpa) = self.hpa() {
            let resource = w.cluster.resolve(&hpa.gvk).await?;
            let live = w.cluster.get(&resource, Some(&self.env.namespace), hpa.name()).await?;
            let current = live
                .as_ref()
                .and_then(|h| h.pointer("/status/currentReplicas"))
                .and_then(Value::as_u64);
            let minimum = hpa.value.pointer("/spec/minReplicas").and_then(Value::as_u64);
            if let Some(replicas) = current.filter(|r| *r > 0).or(minimum) {
                return Ok(replicas);
            }
        }
        let live = w.get("Deployment", self.workload).await?;
        Ok(live.and_then(|d| d.pointer("/spec/replicas").and_then(Value::as_u64)).unwrap_or(1))
    }

    fn hpa(&self) -> Option<&DesiredObject> {
        self.env.objects.iter().find(|o| {
            o.key.group_kind == "HorizontalPodAutoscaler.autoscaling"
                && o.value.pointer("/spec/scaleTargetRef/kind").and_then(Value::as_str)
                    == Some("Deployment")
                && o.value.pointer("/spec/scaleTargetRef/name").and_then(Value::as_str)
                    == Some(self.workload)
        })
    }

    fn hpa_targets(&self) -> bool {
        self.hpa().is_some()
    }

    fn steps(&self) -> &[Step] {
        match self.strategy {
            Strategy::Canary(canary) => &canary.steps,
            Strategy::BlueGreen(_) => &[],
        }
    }

    /// Applies the current step's split: the canary's replicas, then the stable Deployment's
    /// (through NGINX: the canary Services; stable keeps its full scale, and the canary
    /// Ingresses take the step's weight once the canary is healthy, in [`Rollout::advance`]).
    async fn set_weights(
        &self,
        w: &mut Writer,
        state: &mut RolloutState,
    ) -> Result<(), RolloutError> {
        let total = state.total_replicas.unwrap_or(1);
        let weight = self.steps().get(state.step).map_or(100, |s| s.weight);
        let canary = canary_replicas(total, weight);
        let target = state.target_template.clone().unwrap_or_default();
        let object = self.canary_deployment(&w.owner, &target, canary, state.paused);
        // A selector is immutable: a canary started in the other mode (an NGINX Ingress added
        // or removed in git meanwhile) is replaced, not patched into a refusal.
        if let Some(live) = w.get("Deployment", &self.canary_name()).await?
            && live.pointer("/spec/selector") != object.pointer("/spec/selector")
        {
            w.delete("apps/v1", "Deployment", &self.canary_name()).await?;
        }
        w.apply_rollout(&object).await?;
        let nginx = traffic::nginx(self.env, self.workload);
        if let Some(nginx) = &nginx {
            let labels = rollout_labels(&w.owner, self.workload);
            for service in nginx.canary_services(self.workload, &self.env.namespace, &labels) {
                w.apply_rollout(&service).await?;
            }
            if !state.hpa && state.stable_replicas.take().is_some() {
                w.apply_as_env(&stable_view(self.git, state, None)).await?;
            }
        } else if !state.hpa {
            state.stable_replicas = Some(total - canary);
            w.apply_as_env(&stable_view(self.git, state, state.stable_replicas)).await?;
        }
        state.message = format!(
            "step {} of {}: weight {weight}%, {canary} of {total} replicas on the new template{}",
            state.step + 1,
            self.steps().len(),
            if nginx.is_some() { " (traffic by NGINX canary weight)" } else { "" }
        );
        Ok(())
    }

    /// `<name>-canary` running `template`: the stable pods' labels plus the canary track, or,
    /// through NGINX, without the labels the routed Services select by (see [`traffic`]).
    fn canary_deployment(
        &self,
        owner: &Owner,
        template: &Value,
        replicas: u64,
        paused: bool,
    ) -> Value {
        let mut object = derived_deployment(
            self.git,
            owner,
            &self.canary_name(),
            template,
            replicas,
            (TRACK_LABEL, "canary"),
            paused,
        );
        if let (Some(nginx), Some(spec)) =
            (traffic::nginx(self.env, self.workload), object.get_mut("spec"))
        {
            nginx.canary_spec(spec, self.workload);
        }
        object
    }

    /// Through NGINX, once the canary of a step is healthy: the canary Ingresses at the step's
    /// weight (written when it changed).
    async fn set_ingress_weight(
        &self,
        w: &mut Writer,
        state: &mut RolloutState,
        weight: u32,
    ) -> Result<(), RolloutError> {
        let Some(nginx) = traffic::nginx(self.env, self.workload) else { return Ok(()) };
        if state.ingress_weight == Some(weight) {
            return Ok(());
        }
        let labels = rollout_labels(&w.owner, self.workload);
        for ingress in nginx.canary_ingresses(&self.env.namespace, &labels, weight) {
            w.apply_rollout(&ingress).await?;
        }
        state.ingress_weight = Some(weight);
        self.save(w, state).await
    }

    /// Deletes the canary: first its Ingresses (traffic leaves it), then its Services, then
    /// the Deployment.
    async fn remove_canary(
        &self,
        w: &mut Writer,
        state: &mut RolloutState,
    ) -> Result<(), RolloutError> {
        if let Some(nginx) = traffic::nginx(self.env, self.workload) {
            for ingress in &nginx.ingresses {
                let name = traffic::canary_name(ingress.name());
                w.delete("networking.k8s.io/v1", "Ingress", &name).await?;
            }
            for service in &nginx.services {
                w.delete("v1", "Service", &traffic::canary_name(service.name())).await?;
            }
        }
        state.ingress_weight = None;
        w.delete("apps/v1", "Deployment", &self.canary_name()).await?;
        Ok(())
    }

    /// Goes on as far as health and pauses allow.
    pub async fn advance(
        &self,
        w: &mut Writer,
        mut state: RolloutState,
    ) -> Result<RolloutState, RolloutError> {
        loop {
            if state.paused || state.phase != Phase::Progressing {
                return Ok(state);
            }
            match self.strategy {
                Strategy::BlueGreen(spec) => {
                    let preview = state.active.unwrap_or(Colour::Blue).other();
                    if !self.healthy(w, &self.colour_name(preview)).await? {
                        state.message =
                            format!("waiting for {} to be healthy", self.colour_name(preview));
                        return Ok(state);
                    }
                    if spec.auto_promote {
                        return self.switch(w, state).await;
                    }
                    state.phase = Phase::Paused;
                    state.message = format!(
                        "{} is healthy behind Service {}; promote to switch",
                        self.colour_name(preview),
                        spec.preview_service(self.workload)
                    );
                    self.save(w, &state).await?;
                    return Ok(state);
                }
                Strategy::Canary(canary) => {
                    if state.promoting {
                        return self.finish_promotion(w, state).await;
                    }
                    if !self.healthy(w, &self.canary_name()).await? {
                        return Ok(state);
                    }
                    let Some(step) = canary.steps.get(state.step) else {
                        return self.promote_canary(w, state).await;
                    };
                    self.set_ingress_weight(w, &mut state, step.weight).await?;
                    match step.pause {
                        Some(Pause::Manual) => {
                            state.phase = Phase::Paused;
                            state.message = format!(
                                "step {} of {}: weight {}%, paused until resumed or promoted",
                                state.step + 1,
                                canary.steps.len(),
                                step.weight
                            );
                            self.save(w, &state).await?;
                            return Ok(state);
                        }
                        Some(Pause::For(delay)) => {
                            let Some(since) = state.step_since() else {
                                state.step_since = Some(state::timestamp(self.now));
                                self.save(w, &state).await?;
                                return Ok(state);
                            };
                            let until =
                                since + chrono::Duration::from_std(delay.0).unwrap_or_default();
                            if self.now < until {
                                return Ok(state);
                            }
                        }
                        None => {}
                    }
                    state = self.next_step(w, state).await?;
                }
            }
        }
    }

    async fn next_step(
        &self,
        w: &mut Writer,
        mut state: RolloutState,
    ) -> Result<RolloutState, RolloutError> {
        state.step += 1;
        state.step_since = None;
        state.phase = Phase::Progressing;
        if self.steps().get(state.step).is_none_or(|s| s.weight >= 100) {
            return self.promote_canary(w, state).await;
        }
        self.set_weights(w, &mut state).await?;
        self.save(w, &state).await?;
        Ok(state)
    }

    async fn healthy(&self, w: &Writer, deployment: &str) -> Result<bool, RolloutError> {
        let Some(live) = w.get("Deployment", deployment).await? else { return Ok(false) };
        let assessment = assess(w.cluster.as_ref(), &self.env.namespace, &live).await;
        Ok(assessment.health == Health::Healthy)
    }

    /// Canary promotion: git's template on stable at full scale; the canary goes once stable is
    /// healthy (until then it keeps serving, so capacity does not dip while stable rolls).
    async fn promote_canary(
        &self,
        w: &mut Writer,
        mut state: RolloutState,
    ) -> Result<RolloutState, RolloutError> {
        let target = state.target_template.take().unwrap_or_else(|| self.git_template());
        let previous = std::mem::replace(&mut state.stable_template, target);
        state.previous_template = Some(previous);
        state.stable_hash = state
            .target_hash
            .take()
            .unwrap_or_else(|| state::template_hash(&state.stable_template));
        state.stable_replicas = None;
        w.apply_as_env(&stable_view(self.git, &state, None)).await?;
        state.promoting = true;
        state.phase = Phase::Progressing;
        state.paused = false;
        state.step = self.steps().len().saturating_sub(1);
        state.message = format!(
            "promoting: {} rolls out the new template; the canary goes once it is healthy",
            self.workload
        );
        self.save(w, &state).await?;
        self.finish_promotion(w, state).await
    }

    async fn finish_promotion(
        &self,
        w: &mut Writer,
        mut state: RolloutState,
    ) -> Result<RolloutState, RolloutError> {
        if !self.healthy(w, self.workload).await? {
            return Ok(state);
        }
        self.remove_canary(w, &mut state).await?;
        state.promoting = false;
        state.phase = Phase::Completed;
        state.message = "promoted: stable runs the new template, the canary is gone".into();
        self.save(w, &state).await?;
        Ok(state)
    }

    /// Blue-green: the active Service's selector to the new colour (one write).
    async fn switch(
        &self,
        w: &mut Writer,
        mut state: RolloutState,
    ) -> Result<RolloutState, RolloutError> {
        let Strategy::BlueGreen(spec) = self.strategy else { return Ok(state) };
        let new = state.active.unwrap_or(Colour::Blue).other();
        w.apply_rollout(&self.service_colour(&spec.active_service, new)).await?;
        let target = state.target_template.take().unwrap_or_else(|| self.git_template());
        state.previous_template = Some(std::mem::replace(&mut state.stable_template, target));
        state.stable_hash = state
            .target_hash
            .take()
            .unwrap_or_else(|| state::template_hash(&state.stable_template));
        state.active = Some(new);
        state.phase = Phase::Completed;
        state.paused = false;
        let delay = chrono::Duration::from_std(spec.scale_down_delay.0).unwrap_or_default();
        state.scale_down_at = Some(state::timestamp(self.now + delay));
        state.message = format!(
            "Service {} switched to {}; {} scales down after {}",
            spec.active_service,
            self.colour_name(new),
            self.colour_name(new.other()),
            spec.scale_down_delay
        );
        self.save(w, &state).await?;
        Ok(state)
    }

    /// Blue-green between rollouts: the active colour follows git's replicas (`coxswain scale`
    /// changes no template), and after a switch the old colour scales down once
    /// `scaleDownDelay` passed.
    async fn housekeeping(
        &self,
        w: &mut Writer,
        mut state: RolloutState,
    ) -> Result<RolloutState, RolloutError> {
        let (Strategy::BlueGreen(_), Some(active)) = (self.strategy, state.active) else {
            return Ok(state);
        };
        if let Some(replicas) = spec::declared_replicas(&self.git.value)
            && state.total_replicas != Some(replicas)
        {
            let colour = self.colour_deployment(active, &state.stable_template, replicas, false);
            w.apply_rollout(&colour).await?;
            state.total_replicas = Some(replicas);
            state.message = format!("{} scaled to {replicas}", self.colour_name(active));
            self.save(w, &state).await?;
        }
        let Some(at) = state.scale_down_at() else { return Ok(state) };
        if self.now < at {
            return Ok(state);
        }
        let old = state.previous_template.clone().unwrap_or_default();
        w.apply_rollout(&self.colour_deployment(active.other(), &old, 0, false)).await?;
        state.scale_down_at = None;
        state.message = format!("{} scaled down", self.colour_name(active.other()));
        self.save(w, &state).await?;
        Ok(state)
    }

    /// A person's operation, then as far as the rollout can go on by itself.
    pub async fn act(
        &self,
        w: &mut Writer,
        state: Option<RolloutState>,
        action: Action,
    ) -> Result<RolloutState, RolloutError> {
        let Some(mut state) = state else {
            return Err(RolloutError::refused(
                self.workload,
                "no rollout recorded yet; sync the environment first",
            ));
        };
        let running = matches!(state.phase, Phase::Progressing | Phase::Paused);
        if state.promoting {
            return match action {
                Action::Promote | Action::Resume => self.finish_promotion(w, state).await,
                Action::Pause | Action::Abort | Action::Undo => Err(RolloutError::refused(
                    self.workload,
                    format!(
                        "the promotion is under way (the canary goes once {} is healthy); {} it \
                         once it finished",
                        self.workload,
                        if action == Action::Pause { "undo" } else { action.as_str() }
                    ),
                )),
            };
        }
        match action {
            Action::Pause | Action::Resume if !running => Err(RolloutError::refused(
                self.workload,
                format!("nothing to {}: the rollout is {}", action.as_str(), state.phase.as_str()),
            )),
            Action::Pause => {
                state.paused = true;
                self.mark_paused(w, &state).await?;
                state.message = "paused".into();
                self.save(w, &state).await?;
                Ok(state)
            }
            Action::Resume => {
                let step_pause = state.phase == Phase::Paused;
                state.paused = false;
                state.phase = Phase::Progressing;
                self.mark_paused(w, &state).await?;
                state.message = "resumed".into();
                if step_pause && matches!(self.strategy, Strategy::Canary(_)) {
                    state = self.next_step(w, state).await?;
                } else {
                    self.save(w, &state).await?;
                }
                self.advance(w, state).await
            }
            Action::Promote if !running => Err(RolloutError::refused(
                self.workload,
                format!("nothing to promote: the rollout is {}", state.phase.as_str()),
            )),
            Action::Promote => match self.strategy {
                Strategy::Canary(_) => self.promote_canary(w, state).await,
                Strategy::BlueGreen(_) => {
                    let preview = self.colour_name(state.active.unwrap_or(Colour::Blue).other());
                    if !self.healthy(w, &preview).await? {
                        return Err(RolloutError::refused(
                            self.workload,
                            format!(
                                "{preview} is not healthy yet; switching would send traffic to it"
                            ),
                        ));
                    }
                    self.switch(w, state).await
                }
            },
            Action::Abort | Action::Undo if running => self.abort(w, state, Some(action)).await,
            Action::Abort => Err(RolloutError::refused(
                self.workload,
                format!("nothing to abort: the rollout is {}", state.phase.as_str()),
            )),
            Action::Undo => self.undo(w, state).await,
        }
    }

    /// `spec.paused` of the Deployment being rolled out follows the rollout's pause.
    async fn mark_paused(&self, w: &mut Writer, state: &RolloutState) -> Result<(), RolloutError> {
        let target = state.target_template.clone().unwrap_or_default();
        let total = state.total_replicas.unwrap_or(1);
        let object = match self.strategy {
            Strategy::Canary(canary) => {
                let weight = canary.steps.get(state.step).map_or(100, |s| s.weight);
                self.canary_deployment(
                    &w.owner,
                    &target,
                    canary_replicas(total, weight),
                    state.paused,
                )
            }
            Strategy::BlueGreen(_) => {
                let preview = state.active.unwrap_or(Colour::Blue).other();
                self.colour_deployment_paused(preview, &target, total, state.paused)
            }
        };
        w.apply_rollout(&object).await.map(|_| ())
    }

    async fn abort(
        &self,
        w: &mut Writer,
        mut state: RolloutState,
        action: Option<Action>,
    ) -> Result<RolloutState, RolloutError> {
        match self.strategy {
            Strategy::Canary(_) => {
                state.stable_replicas = None;
                // Stable back at full scale, then traffic leaves the canary, then it goes.
                if !state.hpa {
                    w.apply_as_env(&stable_view(self.git, &state, state.total_replicas)).await?;
                }
                self.remove_canary(w, &mut state).await?;
            }
            Strategy::BlueGreen(_) => {
                let preview = state.active.unwrap_or(Colour::Blue).other();
                let target = state.target_template.clone().unwrap_or_default();
                w.apply_rollout(&self.colour_deployment(preview, &target, 0, false)).await?;
            }
        }
        state.aborted_hash = state.target_hash.clone();
        state.phase = if action.is_some() { Phase::Aborted } else { Phase::Completed };
        state.paused = false;
        state.message = match action {
            Some(_) => "aborted: stable runs the old template; git's template rolls out again only when it changes".into(),
            None => "git went back to the stable template; rollout stopped".into(),
        };
        self.save(w, &state).await?;
        Ok(state)
    }

    /// After a finished rollout: back to the previous stable template.
    async fn undo(
        &self,
        w: &mut Writer,
        mut state: RolloutState,
    ) -> Result<RolloutState, RolloutError> {
        let Some(previous) = state.previous_template.clone() else {
            return Err(RolloutError::refused(
                self.workload,
                "no previous stable template to go back to",
            ));
        };
        let git_hash = state::template_hash(&self.git_template());
        match self.strategy {
            Strategy::Canary(_) => {
                state.previous_template =
                    Some(std::mem::replace(&mut state.stable_template, previous));
                w.apply_as_env(&stable_view(self.git, &state, None)).await?;
            }
            Strategy::BlueGreen(spec) => {
                if state.scale_down_at.is_none() {
                    return Err(RolloutError::refused(
                        self.workload,
                        "the previous colour was already scaled down (after scaleDownDelay); revert the change in git instead",
                    ));
                }
                let old = state.active.unwrap_or(Colour::Blue).other();
                w.apply_rollout(&self.service_colour(&spec.active_service, old)).await?;
                state.previous_template =
                    Some(std::mem::replace(&mut state.stable_template, previous));
                state.active = Some(old);
                state.scale_down_at = None;
            }
        }
        state.stable_hash = state::template_hash(&state.stable_template);
        state.phase = Phase::Aborted;
        state.aborted_hash = Some(git_hash);
        state.message = "undone: back on the previous stable template; git's template rolls out again only when it changes".into();
        self.save(w, &state).await?;
        Ok(state)
    }

    fn colour_deployment(
        &self,
        colour: Colour,
        template: &Value,
        replicas: u64,
        paused: bool,
    ) -> Value {
        self.colour_deployment_paused(colour, template, replicas, paused)
    }

    fn colour_deployment_paused(
        &self,
        colour: Colour,
        template: &Value,
        replicas: u64,
        paused: bool,
    ) -> Value {
        let owner = Owner::of(self.env);
        derived_deployment(
            self.git,
            &owner,
            &self.colour_name(colour),
            template,
            replicas,
            (COLOR_LABEL, colour.as_str()),
            paused,
        )
    }

    /// The active Service's selector on `colour`: git's selector plus the colour key, whole
    /// (a Service's selector is an atomic map), as [`view`] makes the next sync apply it.
    fn service_colour(&self, service: &str, colour: Colour) -> Value {
        let mut selector = self
            .env
            .objects
            .iter()
            .find(|o| o.key.group_kind == "Service" && o.name() == service)
            .and_then(|o| o.value.pointer("/spec/selector").cloned())
            .unwrap_or_else(|| json!({}));
        put(&mut selector, &[COLOR_LABEL], json!(colour.as_str()));
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service, "namespace": self.env.namespace},
            "spec": {"selector": selector},
        })
    }

    /// The preview Service: the active Service's ports and selector, on the new colour.
    fn preview_service(&self, spec: &BlueGreenSpec, colour: Colour) -> Result<Value, RolloutError> {
        let active = self
            .env
            .objects
            .iter()
            .find(|o| o.key.group_kind == "Service" && o.name() == spec.active_service)
            .ok_or_else(|| {
                RolloutError::refused(
                    self.workload,
                    format!("no Service {} in git", spec.active_service),
                )
            })?;
        let mut selector =
            active.value.pointer("/spec/selector").cloned().unwrap_or_else(|| json!({}));
        put(&mut selector, &[COLOR_LABEL], json!(colour.as_str()));
        let ports = active.value.pointer("/spec/ports").cloned().unwrap_or_else(|| json!([]));
        Ok(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": spec.preview_service(self.workload),
                "namespace": self.env.namespace,
                "labels": rollout_labels(&Owner::of(self.env), self.workload),
            },
            "spec": {"selector": selector, "ports": ports},
        }))
    }

    /// Where the rollout stands, read from the cluster.
    pub async fn status(
        &self,
        cluster: &dyn Cluster,
        state: Option<&RolloutState>,
    ) -> Result<RolloutStatus, RolloutError> {
        let resource = cluster.resolve(&Gvk::from_api_version("apps/v1", "Deployment")).await?;
        let side = |name: String| {
            let resource = resource.clone();
            async move {
                let live = cluster.get(&resource, Some(&self.env.namespace), &name).await?;
                let Some(live) = live else { return Ok::<_, RolloutError>(None) };
                let assessment = assess(cluster, &self.env.namespace, &live).await;
                Ok(Some(side_of(&name, &live, assessment)))
            }
        };
        let steps = self.steps();
        let (stable, new, active) = match self.strategy {
            Strategy::Canary(_) => {
                (side(self.workload.to_owned()).await?, side(self.canary_name()).await?, None)
            }
            Strategy::BlueGreen(_) => {
                let active = state.and_then(|s| s.active);
                let colour = active.unwrap_or(Colour::Blue);
                (
                    side(self.colour_name(colour)).await?,
                    side(self.colour_name(colour.other())).await?,
                    active,
                )
            }
        };
        let canary_step = matches!(self.strategy, Strategy::Canary(_))
            && state.is_some_and(|s| s.phase != Phase::Completed || s.target_hash.is_some());
        Ok(RolloutStatus {
            env: self.env.name.clone(),
            workload: self.workload.to_owned(),
            strategy: self.strategy.kind().to_owned(),
            phase: state.map(|s| s.phase),
            paused: state.is_some_and(|s| s.paused),
            step: state.filter(|_| canary_step).map(|s| s.step + 1),
            steps: steps.len(),
            weight: state.filter(|_| canary_step).and_then(|s| steps.get(s.step)).map(|s| s.weight),
            stable,
            new,
            active_color: active,
            message: state.map_or_else(
                || "no rollout recorded yet: the next sync records the stable template".into(),
                |s| s.message.clone(),
            ),
            actions: self.actions(state),
        })
    }

    /// The operations [`Rollout::act`] accepts on `state`.
    fn actions(&self, state: Option<&RolloutState>) -> Vec<Action> {
        let Some(state) = state else { return Vec::new() };
        if state.promoting {
            return vec![Action::Promote];
        }
        match state.phase {
            Phase::Progressing | Phase::Paused => {
                let held = state.paused || state.phase == Phase::Paused;
                vec![
                    if held { Action::Resume } else { Action::Pause },
                    Action::Promote,
                    Action::Abort,
                ]
            }
            Phase::Completed
                if state.previous_template.is_some()
                    && (matches!(self.strategy, Strategy::Canary(_))
                        || state.scale_down_at.is_some()) =>
            {
                vec![Action::Undo]
            }
            Phase::Completed | Phase::Aborted => Vec::new(),
        }
    }
}

/// Sets `value` at `path`, replacing whatever is not a mapping on the way (git's manifests are
/// not trusted to have the shape a Deployment or Service should: no panic on odd input).
fn put(value: &mut Value, path: &[&str], new: Value) {
    let Some((last, parents)) = path.split_last() else {
        *value = new;
        return;
    };
    let mut current = value;
    for key in parents {
        if !current.is_object() {
            *current = json!({});
        }
        let Some(map) = current.as_object_mut() else { return };
        current = map.entry((*key).to_owned()).or_insert_with(|| json!({}));
    }
    if !current.is_object() {
        *current = json!({});
    }
    if let Some(map) = current.as_object_mut() {
        map.insert((*last).to_owned(), new);
    }
}

/// Canary replicas at `weight` percent of `total`: rounded up, at least one, at most all.
pub fn canary_replicas(total: u64, weight: u32) -> u64 {
    (total * u64::from(weight)).div_ceil(100).clamp(1, total.max(1))
}

/// A Deployment's health with its failing pods (as a sync judges it): a canary whose pods
/// crash-loop, cannot pull their image or cannot be scheduled is degraded at once, not merely
/// progressing until a timeout. Listing pods is best effort: refused, the status decides.
async fn assess(cluster: &dyn Cluster, namespace: &str, live: &Value) -> health::Assessment {
    let assessment = health::assess(Some(live));
    if assessment.health != Health::Progressing {
        return assessment;
    }
    let resolve = |api_version: &'static str, kind: &'static str| async move {
        cluster.resolve(&Gvk::from_api_version(api_version, kind)).await.ok()
    };
    let (Some(pods), Some(replica_sets)) =
        (resolve("v1", "Pod").await, resolve("apps/v1", "ReplicaSet").await)
    else {
        return assessment;
    };
    let (Ok(pods), Ok(replica_sets)) = (
        cluster.list(&pods, Some(namespace), None).await,
        cluster.list(&replica_sets, Some(namespace), None).await,
    ) else {
        return assessment;
    };
    health::pods::workload_problem(live, &replica_sets, &pods)
        .map_or(assessment, |problem| problem.assessment())
}

/// See [`Side::model_version`].
fn model_version(deployment: &Value) -> Option<String> {
    let template = deployment.pointer("/spec/template")?;
    let from_env = template
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("env").and_then(Value::as_array))
        .flatten()
        .find(|var| var.get("name").and_then(Value::as_str) == Some("MODEL_VERSION"))
        .and_then(|var| var.get("value").and_then(Value::as_str));
    from_env
        .or_else(|| {
            template.pointer("/metadata/labels/app.kubernetes.io~1version").and_then(Value::as_str)
        })
        .map(str::to_owned)
}

fn side_of(name: &str, live: &Value, assessment: health::Assessment) -> Side {
    let count = |pointer: &str| live.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    let images = live
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("image").and_then(Value::as_str).map(str::to_owned))
        .collect();
    Side {
        deployment: name.to_owned(),
        model_version: model_version(live),
        images,
        replicas: count("/spec/replicas"),
        ready: count("/status/readyReplicas"),
        paused: live.pointer("/spec/paused").and_then(Value::as_bool).unwrap_or(false),
        health: assessment.health,
        message: assessment.message,
    }
}

impl RolloutStatus {
    /// The status as `coxswain rollout status` prints it.
    pub fn render_text(&self) -> String {
        use std::fmt::Write as _;
        let phase = self.phase.map_or("not started", Phase::as_str);
        let mut out = format!("{} ({}) in {}: {phase}", self.workload, self.strategy, self.env);
        if self.paused {
            out.push_str(", paused by a person");
        }
        if let (Some(step), Some(weight)) = (self.step, self.weight) {
            let _ = write!(out, " — step {step} of {}, weight {weight}%", self.steps);
        }
        if let Some(colour) = self.active_color {
            let _ = write!(out, " — active colour {}", colour.as_str());
        }
        out.push('\n');
        let (stable, new) =
            if self.strategy == "canary" { ("stable", "canary") } else { ("active", "preview") };
        for (label, side) in [(stable, &self.stable), (new, &self.new)] {
            let Some(side) = side else { continue };
            let _ = writeln!(
                out,
                "  {label:<8}{:<28}{:<40}{}/{} ready, {}{}{}",
                side.deployment,
                side.images.join(","),
                side.ready,
                side.replicas,
                side.health.as_str(),
                if side.paused { ", paused" } else { "" },
                side.model_version.as_ref().map(|v| format!(", model {v}")).unwrap_or_default()
            );
            if side.health == Health::Degraded {
                let first = side.message.lines().next().unwrap_or_default();
                let _ = writeln!(out, "          {first}");
            }
        }
        let _ = writeln!(out, "  {}", self.message);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_replicas_round_up_within_bounds() {
        assert_eq!(canary_replicas(4, 25), 1);
        assert_eq!(canary_replicas(4, 50), 2);
        assert_eq!(canary_replicas(4, 100), 4);
        assert_eq!(canary_replicas(10, 1), 1);
        assert_eq!(canary_replicas(3, 50), 2);
        assert_eq!(canary_replicas(0, 50), 1);
    }

    #[test]
    fn the_model_version_comes_from_model_version_else_the_version_label() {
        let deployment = |template: Value| json!({"spec": {"template": template}});
        let env = json!({"spec": {"containers": [
            {"name": "sidecar"},
            {"name": "server", "env": [{"name": "LOG", "value": "x"}, {"name": "MODEL_VERSION", "value": "1.2.0"}]},
        ]}, "metadata": {"labels": {"app.kubernetes.io/version": "9"}}});
        assert_eq!(model_version(&deployment(env)).as_deref(), Some("1.2.0"));
        let label = json!({"metadata": {"labels": {"app.kubernetes.io/version": "2.0"}}, "spec": {"containers": [{"name": "s"}]}});
        assert_eq!(model_version(&deployment(label)).as_deref(), Some("2.0"));
        assert_eq!(
            model_version(&deployment(json!({"spec": {"containers": [{"name": "s"}]}}))),
            None
        );
        assert_eq!(model_version(&json!({"kind": "Deployment"})), None);
    }
}
