//! The engine: the one API the CLI and the desktop app call (gitops-engine's façade). It owns
//! the repo, the environments in pipeline order, one connection per kube context, and the single
//! gated path every write takes — sync, `--sync`, the app's Apply, rollback and the automatic
//! rollback all pass [`gates`] before anything is written.
//!
//! Layers below it never reach into each other: `repo`/`yaml` load, `policy` and `validate`
//! judge, `plan` diffs, `sync` applies, `health` assesses, `history` records, `git` reads and
//! commits, `promote` edits git; the engine composes them.

mod connections;
mod error;
pub mod gates;
mod pods;
mod rollback;
mod rollout;
#[cfg(feature = "model-validation")]
mod validate;

pub use connections::{Connector, connector_with_kubeconfig, default_connector};
pub use error::{EngineError, failure_code, failure_exit_code};
pub use gates::{Admission, Verification};
pub use rollback::{RollbackOutcome, RollbackRequest};
pub use rollout::{Followed, RolloutPreview, RolloutRequest, recorded_state};
#[cfg(feature = "model-validation")]
pub use validate::{ModelValidation, ValidateRequest};

use crate::check::{CheckReport, check_repo};
use crate::cluster::{Cluster, WatchEvent};
use crate::diagnostic::Diagnostic;
use crate::history::{self, Revision};
use crate::normalize::{mask_secret_pair, normalize};
use crate::pipeline::{self, Pipeline};
use crate::plan::render::{PlanReport, PlanSummary};
use crate::plan::{EnvPlan, PlanOptions, UnchangedMemo, plan_env};
use crate::promote::{self, ClusterAccess, ForgeAccess, PromoteOptions, PromoteOutcome, Services};
use crate::repo::{Environment, Repo};
use crate::rollout::leftover::Leftover;
use crate::sync::{
    self, CancelToken, Failure, FailureKind, Progress, SyncEvent, SyncOptions, SyncReport,
    SyncStatus,
};
use connections::Connections;
use futures::stream::BoxStream;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash as _, Hasher as _};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

/// One open repo and its clusters.
pub struct Engine {
    repo: Repo,
    /// Environment names in pipeline order (dev before prod).
    order: Vec<String>,
    envs: RwLock<BTreeMap<String, Arc<Environment>>>,
    connections: Connections,
    holder: String,
    /// Per env, what its last plan found unchanged (see [`UnchangedMemo`]).
    unchanged: Mutex<HashMap<String, Arc<UnchangedMemo>>>,
}

/// How to sync one environment.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// kube context override (default: the env's `context`, else the current one).
    pub context: Option<String>,
    pub dry_run: bool,
    /// With `dry_run`: check only what needs no cluster, without contacting one (`--offline`).
    pub offline: bool,
    pub force_conflicts: bool,
    pub prune_dangerous: bool,
    pub timeout: Duration,
    pub concurrency: usize,
    /// Recorded in history.
    pub message: String,
    /// Apply only if the plan computed under the lock still has this fingerprint (the app's
    /// preview); without it, the progress's `confirm` decides (the CLI's prompt).
    pub fingerprint: Option<String>,
    /// Cancels the sync (and its automatic rollback) before its next write: the CLI triggers it
    /// on SIGINT/SIGTERM, an app's Cancel button can too. The sync then records an
    /// `interrupted` revision and releases its lease.
    pub cancel: CancelToken,
}

impl Default for SyncRequest {
    fn default() -> Self {
        let options = SyncOptions::default();
        Self {
            context: None,
            dry_run: false,
            offline: false,
            force_conflicts: false,
            prune_dangerous: false,
            timeout: options.timeout,
            concurrency: options.concurrency,
            message: "coxswain sync".into(),
            fingerprint: None,
            cancel: options.cancel,
        }
    }
}

/// How a sync of one environment ended.
#[derive(Debug, Clone)]
pub enum SyncOutcome {
    /// It ran (or a gate refused it: `report.status` is `Blocked` with the reason).
    Finished { report: Box<SyncReport>, notes: Vec<String> },
    /// A dry run with no cluster to ask: everything that needs none was checked.
    Offline { env: String, context: Option<String>, reason: String, notes: Vec<String> },
}

/// A plan shown before a write, and the fingerprint that write must match.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub env: String,
    pub plan: EnvPlan,
    pub summary: PlanSummary,
    pub fingerprint: String,
    /// The revision a rollback restores.
    pub target: Option<Revision>,
    /// Whether that revision was checked against git.
    pub verification: Option<Verification>,
    /// Gate notes (the model's result).
    pub notes: Vec<String>,
}

/// GitHub settings of a promotion (flags or GitHub Actions' variables); the token always comes
/// from `GITHUB_TOKEN` / `GH_TOKEN`.
#[derive(Debug, Clone, Default)]
pub struct ForgeSettings {
    pub repository: Option<String>,
    pub api: Option<String>,
}

impl ForgeSettings {
    /// `GITHUB_REPOSITORY` and `GITHUB_API_URL`, as GitHub Actions sets them.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self { repository: var("GITHUB_REPOSITORY"), api: var("GITHUB_API_URL") }
    }
}

impl Engine {
    /// Opens the repo at `path`; environments load on first use.
    pub fn open(path: &Path, connector: Connector) -> Result<Self, EngineError> {
        Self::of_repo(Repo::open(path)?, connector)
    }

    fn of_repo(repo: Repo, connector: Connector) -> Result<Self, EngineError> {
        let names = repo.env_names()?;
        let (pipelines, _) = pipeline::load_pipelines(repo.root(), &names);
        Ok(Self {
            order: pipeline_order(&names, &pipelines),
            repo,
            envs: RwLock::new(BTreeMap::new()),
            connections: Connections::new(connector),
            holder: crate::lock::default_holder(),
            unchanged: Mutex::new(HashMap::new()),
        })
    }

    /// The lock holder and history author this engine writes as.
    #[must_use]
    pub fn with_holder(mut self, holder: String) -> Self {
        self.holder = holder;
        self
    }

    /// Keeps what each manifest parsed to, so [`Engine::reload`] parses only the files that
    /// changed (for a process that re-loads on every save: the app).
    #[must_use]
    pub fn with_parse_cache(mut self) -> Self {
        self.repo = self.repo.with_parse_cache();
        self
    }

    pub fn root(&self) -> &Path {
        self.repo.root()
    }

    /// Environment names in pipeline order (dev before prod); envs in no pipeline come last.
    pub fn env_names(&self) -> &[String] {
        &self.order
    }

    /// The pipelines and their problems.
    pub fn pipelines(&self) -> (Vec<Pipeline>, Vec<Diagnostic>) {
        pipeline::load_pipelines(self.repo.root(), &self.order)
    }

    /// One environment as loaded from the working tree (cached until [`Engine::reload`]).
    pub fn env(&self, name: &str) -> Result<Arc<Environment>, EngineError> {
        if let Some(env) = self.envs.read().unwrap_or_else(PoisonError::into_inner).get(name) {
            return Ok(env.clone());
        }
        let env = Arc::new(self.repo.load(Some(name))?.remove(0));
        let mut envs = self.envs.write().unwrap_or_else(PoisonError::into_inner);
        envs.insert(name.to_owned(), env.clone());
        Ok(env)
    }

    /// Every environment (or `only`) in pipeline order, loaded in parallel.
    pub fn load_all(&self, only: Option<&str>) -> Result<Vec<Arc<Environment>>, EngineError> {
        let mut loaded: Vec<Arc<Environment>> =
            self.repo.load(only)?.into_iter().map(Arc::new).collect();
        loaded.sort_by_key(|e| self.order.iter().position(|n| *n == e.name));
        let mut envs = self.envs.write().unwrap_or_else(PoisonError::into_inner);
        for env in &loaded {
            envs.insert(env.name.clone(), env.clone());
        }
        Ok(loaded)
    }

    /// [`Engine::load_all`], refusing any environment with input errors (plan, sync).
    pub fn environments(&self, only: Option<&str>) -> Result<Vec<Arc<Environment>>, EngineError> {
        let envs = self.load_all(only)?;
        let errors: Vec<Diagnostic> = envs
            .iter()
            .flat_map(|e| e.diagnostics.iter().filter(|d| d.is_error()).cloned())
            .collect();
        if errors.is_empty() { Ok(envs) } else { Err(EngineError::InputErrors(errors)) }
    }

    /// Re-reads the named environments from disk (after the watcher saw their files change).
    pub fn reload(&self, names: &BTreeSet<String>) {
        let fresh: Vec<Environment> = names
            .iter()
            .filter(|n| self.order.contains(n))
            .map(|n| self.repo.load_env(n))
            .collect();
        let mut envs = self.envs.write().unwrap_or_else(PoisonError::into_inner);
        for env in fresh {
            if let Some(old) = envs.insert(env.name.clone(), Arc::new(env)) {
                free_in_background(old);
            }
        }
    }

    /// `coxswain check`: every env (or `only`) and pipeline, with the policy gate.
    pub fn check(&self, only: Option<&str>) -> Result<CheckReport, EngineError> {
        Ok(check_repo(&self.repo, only)?)
    }

    /// The cluster of `env`: `context`, else the env's own, else the current context.
    pub async fn cluster(
        &self,
        env: &Environment,
        context: Option<&str>,
    ) -> Result<Arc<dyn Cluster>, EngineError> {
        let context = context.or(env.config.context.as_deref());
        self.connections.get(context).await.map_err(|e| EngineError::cluster(&env.name, e))
    }

    /// The exact plan of `env` against its cluster.
    pub async fn plan(
        &self,
        env: &Environment,
        context: Option<&str>,
        options: &PlanOptions,
    ) -> Result<EnvPlan, EngineError> {
        let cluster = self.cluster(env, context).await?;
        let (env, rollouts) = self.rollout_view_and_pending(env, cluster.as_ref()).await?;
        let memo = self
            .unchanged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(env.name.clone())
            .or_default()
            .clone();
        let options = PlanOptions { unchanged: Some(memo), ..options.clone() };
        let mut plan = plan_env(cluster.as_ref(), &env, &options)
            .await
            .map_err(|e| EngineError::cluster(&env.name, e))?;
        plan.rollouts = rollouts.lines;
        plan.rollouts.extend(plan.rollout_leftovers.iter().map(Leftover::describe));
        plan.rollout_writes = rollouts.writes || !plan.rollout_leftovers.is_empty();
        Ok(plan)
    }

    /// Plans every environment (or `only`), refusing input errors.
    pub async fn plan_all(
        &self,
        only: Option<&str>,
        context: Option<&str>,
        options: &PlanOptions,
    ) -> Result<PlanReport, EngineError> {
        let mut plans = Vec::new();
        for env in self.environments(only)? {
            plans.push(self.plan(&env, context, options).await?);
        }
        Ok(PlanReport::new(plans))
    }

    /// The plan a sync of `name` would apply now, after the gates that need no cluster.
    pub async fn preview_sync(
        &self,
        name: &str,
        request: &SyncRequest,
    ) -> Result<Preview, EngineError> {
        let env = self.env(name)?;
        // A preview leads to an apply: it passes every gate, the protected branch included.
        let admission = gates::admit_sync(self.root(), &self.pipelines().0, &env, false)
            .map_err(EngineError::Refused)?;
        let options =
            PlanOptions { force_conflicts: request.force_conflicts, ..PlanOptions::default() };
        let plan = self.plan(&env, request.context.as_deref(), &options).await?;
        let mut preview = preview(plan, None, None);
        preview.notes = admission.notes;
        preview.notes.extend(self.instance_note());
        Ok(preview)
    }

    /// Syncs `name` through the gates: input, policy, model, protected branch; then plan,
    /// confirm, lock, apply, health, prune, record; and the automatic rollback when the env asks
    /// for it (gated like any rollback).
    pub async fn sync(
        &self,
        name: &str,
        request: &SyncRequest,
        progress: &dyn Progress,
    ) -> Result<SyncOutcome, EngineError> {
        let env = self.env(name)?;
        let admission =
            match gates::admit_sync(self.root(), &self.pipelines().0, &env, request.dry_run) {
                Ok(admission) => admission,
                Err(failure) => {
                    let report = SyncReport::new_for(&env, SyncStatus::Blocked)
                        .ended(SyncStatus::Blocked, failure);
                    return Ok(SyncOutcome::Finished {
                        report: Box::new(report),
                        notes: Vec::new(),
                    });
                }
            };
        let mut notes = admission.notes;
        notes.extend(self.instance_note());
        let context = request.context.clone().or_else(|| env.config.context.clone());
        let offline = |reason: String, notes: Vec<String>| SyncOutcome::Offline {
            env: env.name.clone(),
            context: context.clone(),
            reason,
            notes,
        };
        if request.dry_run && request.offline {
            return Ok(offline("not contacted (--offline)".into(), notes));
        }
        let cluster = match self.connections.get(context.as_deref()).await {
            Ok(cluster) => cluster,
            Err(error) if request.dry_run && error.is_offline() => {
                return Ok(offline(error.to_string(), notes));
            }
            Err(error) => {
                let kind = if error.is_offline() {
                    FailureKind::Unreachable
                } else {
                    FailureKind::Cluster
                };
                let report = SyncReport::new_for(&env, SyncStatus::Failed)
                    .ended(SyncStatus::Failed, Failure::new(kind, error.to_string()));
                return Ok(SyncOutcome::Finished { report: Box::new(report), notes });
            }
        };
        let git = admission.git.as_ref();
        let options = SyncOptions {
            dry_run: request.dry_run,
            force_conflicts: request.force_conflicts,
            prune_dangerous: request.prune_dangerous,
            timeout: request.timeout,
            concurrency: request.concurrency,
            holder: self.holder.clone(),
            git_sha: git.and_then(|i| i.sha.clone()),
            dirty: git.is_some_and(|i| !i.dirty_files.is_empty()),
            message: request.message.clone(),
            cancel: request.cancel.clone(),
            ..SyncOptions::default()
        };
        let confirming =
            Confirming { inner: progress, fingerprint: request.fingerprint.as_deref() };
        let (view, rollouts) = match self.rollout_view_and_pending(&env, cluster.as_ref()).await {
            Ok(view) => view,
            Err(error) => {
                let report = SyncReport::new_for(&env, SyncStatus::Failed).ended(
                    SyncStatus::Failed,
                    Failure::new(FailureKind::Cluster, error.to_string()),
                );
                return Ok(SyncOutcome::Finished { report: Box::new(report), notes });
            }
        };
        let mut report = sync::sync_env(cluster.clone(), &view, &options, &confirming).await;
        let mut leftovers = Vec::new();
        if let Some(plan) = report.plan.as_mut() {
            plan.rollouts = rollouts.lines;
            plan.rollouts.extend(plan.rollout_leftovers.iter().map(Leftover::describe));
            plan.rollout_writes = rollouts.writes || !plan.rollout_leftovers.is_empty();
            leftovers = std::mem::take(&mut plan.rollout_leftovers);
        }
        if request.dry_run && report.failure_kind() == Some(FailureKind::Unreachable) {
            let reason = report.error.map(|f| f.message).unwrap_or_default();
            return Ok(offline(reason, notes));
        }
        plan_changed(&mut report, request.fingerprint.as_deref());
        if report.status == SyncStatus::Unhealthy
            && env.config.rollback_on_failure
            && !request.cancel.is_cancelled()
        {
            report = self
                .roll_back_after_failure(&env, cluster.clone(), &options, progress, report)
                .await;
        }
        if !request.dry_run
            && matches!(report.status, SyncStatus::Synced | SyncStatus::NoChanges)
            && (!env.config.rollouts.is_empty() || !leftovers.is_empty())
        {
            let rollout_request = RolloutRequest {
                context: request.context.clone(),
                cancel: request.cancel.clone(),
                ..RolloutRequest::default()
            };
            let git = admission.git.as_ref();
            let advanced =
                self.advance_admitted(&env, cluster.clone(), git, &rollout_request, &leftovers);
            match advanced.await {
                Ok(statuses) => {
                    report.rollouts = statuses
                        .iter()
                        .map(|s| format!("rollout {} ({}): {}", s.workload, s.strategy, s.message))
                        .collect();
                    notes.extend(report.rollouts.iter().cloned());
                }
                Err(error) => {
                    let message =
                        format!("the sync applied, but its rollouts did not go on: {error}");
                    report.status = SyncStatus::Failed;
                    report.error = Some(Failure::new(FailureKind::Apply, message));
                }
            }
        }
        Ok(SyncOutcome::Finished { report: Box::new(report), notes })
    }

    /// An environment's revisions, newest first.
    pub async fn history(
        &self,
        name: &str,
        context: Option<&str>,
    ) -> Result<Vec<Revision>, EngineError> {
        Ok(self.history_listing(name, context).await?.0)
    }

    /// An environment's revisions, newest first, and the revision objects that could not be
    /// read (reported, never fatal).
    pub async fn history_listing(
        &self,
        name: &str,
        context: Option<&str>,
    ) -> Result<(Vec<Revision>, Vec<history::Unreadable>), EngineError> {
        let env = self.env(name)?;
        let cluster = self.cluster(&env, context).await?;
        let listing = history::list_all(cluster.as_ref(), &env.name, &env.namespace).await?;
        Ok((listing.revisions.into_iter().map(|(r, _)| r).collect(), listing.unreadable))
    }

    /// How to pin a derived instance id (none when `coxswain.yaml` names it).
    fn instance_note(&self) -> Option<String> {
        self.repo.instance().ok().and_then(crate::repo::Instance::note)
    }

    /// The live object `id` (`Deployment.apps ns/name`) as normalised YAML, Secret values
    /// masked; `None` when it does not exist.
    pub async fn live_object(
        &self,
        name: &str,
        id: &str,
        context: Option<&str>,
    ) -> Result<Option<String>, EngineError> {
        let env = self.env(name)?;
        let cluster = self.cluster(&env, context).await?;
        let at = |e| EngineError::cluster(&env.name, e);
        // Objects git declares need one discovery lookup; prune candidates only a plan knows.
        let (resource, key) = match env.objects.iter().find(|o| o.key.to_string() == id) {
            Some(object) => (cluster.resolve(&object.gvk).await.map_err(at)?, object.key.clone()),
            None => {
                let plan =
                    plan_env(cluster.as_ref(), &env, &PlanOptions::default()).await.map_err(at)?;
                let object = plan.objects.into_iter().find(|o| o.key.to_string() == id);
                let object = object.ok_or_else(|| EngineError::Usage {
                    message: format!(
                        "{id} is neither in environments/{} nor owned by it in the cluster",
                        env.name
                    ),
                })?;
                (object.resource, object.key)
            }
        };
        let namespace = key.namespace.as_deref().filter(|_| resource.namespaced);
        let Some(live) = cluster.get(&resource, namespace, &key.name).await.map_err(at)? else {
            return Ok(None);
        };
        let mut live = normalize(&live);
        mask_secret_pair(Some(&mut live), None);
        Ok(Some(crate::yaml::to_yaml(&live)))
    }

    /// Watch streams over the env's owned objects, one per kind it declares, so drift made by
    /// others shows up without polling. Fails while the namespace does not exist yet.
    pub async fn watch_owned(
        &self,
        name: &str,
        context: Option<&str>,
    ) -> Result<
        Vec<BoxStream<'static, Result<WatchEvent, crate::cluster::ClusterError>>>,
        EngineError,
    > {
        let env = self.env(name)?;
        let cluster = self.cluster(&env, context).await?;
        let at = |e| EngineError::cluster(&env.name, e);
        let kinds: BTreeSet<_> = env.objects.iter().map(|o| o.gvk.clone()).collect();
        let selector = crate::ownership::owned_selector(&env.name);
        let mut streams = Vec::new();
        for gvk in kinds {
            let resource = cluster.resolve(&gvk).await.map_err(at)?;
            let namespace = resource.namespaced.then_some(env.namespace.as_str());
            streams.push(
                cluster.watch(&resource, namespace, Some(&selector), None).await.map_err(at)?,
            );
        }
        Ok(streams)
    }

    /// Promotes `options.target` (design §8): edits in a private checkout, the stage's gates (the
    /// dryRun gate against the target's cluster through this engine's connections), commit,
    /// push, pull request. Model validation is CPU-bound: call this off the async threads.
    pub async fn promote(
        &self,
        mut options: PromoteOptions,
        forge: &ForgeSettings,
        context: Option<&str>,
    ) -> Result<PromoteOutcome, EngineError> {
        let (token, forge) = self.github(&options.remote, forge);
        options.token = token;
        let target_context = match self.env(&options.target) {
            Ok(env) => context.map(str::to_owned).or(env.config.context.clone()),
            Err(_) => context.map(str::to_owned),
        };
        let services = Services {
            forge: match &forge {
                Ok(forge) => ForgeAccess::Ready(forge),
                Err(why) => ForgeAccess::Unavailable(why.to_string()),
            },
            cluster: ClusterAccess::from_result(
                self.connections.get(target_context.as_deref()).await,
            ),
        };
        Ok(promote::promote(self.root(), &options, &services).await?)
    }
}

impl Engine {
    /// The token (`GITHUB_TOKEN` / `GH_TOKEN`) and the GitHub forge of `remote`, or why there
    /// is none.
    fn github(
        &self,
        remote: &str,
        settings: &ForgeSettings,
    ) -> (Option<crate::git::HostToken>, Result<promote::forge::GitHub, promote::NoForgeReason>)
    {
        let token = promote::github_token_from_env();
        let api = settings.api.as_deref().unwrap_or(promote::forge::DEFAULT_API);
        // The token goes only to the API's own git host.
        let host_token = token.clone().and_then(|secret| {
            promote::forge::git_host(api).map(|host| crate::git::HostToken { secret, host })
        });
        let forge = promote::github_forge(
            self.root(),
            remote,
            settings.repository.as_deref(),
            settings.api.as_deref(),
            token.as_deref(),
        );
        (host_token, forge)
    }

    /// Posts `plans` on pull request `number`, one comment per env edited in place
    /// ([`promote::plan_comment`]). The forge is found as for `promote` (the repository from
    /// `settings`, else the `origin` remote's URL; the token from `GITHUB_TOKEN` / `GH_TOKEN`).
    pub async fn comment_plans(
        &self,
        number: u64,
        plans: &[promote::plan_comment::EnvComment],
        settings: &ForgeSettings,
        full_report: Option<&str>,
    ) -> Result<Vec<promote::plan_comment::Posted>, EngineError> {
        use promote::plan_comment::CommentError;
        let (_, forge) = self.github("origin", settings);
        let forge =
            forge.map_err(|why| CommentError::NoForge { number, reason: why.to_string() })?;
        Ok(promote::plan_comment::post(&forge, number, plans, full_report).await?)
    }

    /// `coxswain set image` / `coxswain scale`: the value edited in git, committed in a private
    /// checkout; pushed onto the env's branch, or as a pull request for protected envs (see
    /// [`promote::workload`]). Nothing is applied: the next sync does, through every gate.
    pub async fn edit_workload(
        &self,
        options: promote::workload::EditOptions,
        forge: &ForgeSettings,
    ) -> Result<promote::workload::EditOutcome, EngineError> {
        Ok(self.edit_in_checkout(options, forge).await?.0)
    }

    async fn edit_in_checkout(
        &self,
        mut options: promote::workload::EditOptions,
        forge: &ForgeSettings,
    ) -> Result<(promote::workload::EditOutcome, promote::gitops::Checkout), EngineError> {
        let (token, forge) = self.github(&options.remote, forge);
        options.token = token;
        let access = match &forge {
            Ok(forge) => ForgeAccess::Ready(forge),
            Err(why) => ForgeAccess::Unavailable(why.to_string()),
        };
        Ok(promote::workload::edit_in_checkout(self.root(), &options, &access).await?)
    }

    /// `set image` / `scale` with `--sync`: the edit, then a sync of its env exactly as
    /// [`Engine::sync`] runs one (every gate, the env's Lease, rollouts started or advanced) of
    /// the commit just made — read from the edit's private checkout, since the user's working
    /// tree never has it. No sync (`None`) after a dry run or a pull request: a protected env
    /// gets the change once the pull request is merged, never from this command. `edited`
    /// sees the edit before the sync starts (to show it first).
    pub async fn edit_and_sync(
        &self,
        options: promote::workload::EditOptions,
        forge: &ForgeSettings,
        request: &SyncRequest,
        progress: &dyn Progress,
        edited: &(dyn Fn(&promote::workload::EditOutcome) + Send + Sync),
    ) -> Result<(promote::workload::EditOutcome, Option<SyncOutcome>), EngineError> {
        use promote::workload::EditStatus;
        let env = options.env.clone();
        let (outcome, checkout) = self.edit_in_checkout(options, forge).await?;
        edited(&outcome);
        if matches!(
            outcome.status,
            EditStatus::DryRun | EditStatus::PullRequestOpened | EditStatus::PullRequestUpdated
        ) {
            return Ok((outcome, None));
        }
        let repo = Repo::open(checkout.root())?.identified_as(self.root());
        let engine =
            Self::of_repo(repo, self.connections.connector())?.with_holder(self.holder.clone());
        let synced = Box::pin(engine.sync(&env, request, progress)).await?;
        drop(checkout);
        Ok((outcome, Some(synced)))
    }
}

/// A stable identity of a plan: what would be written, and how.
pub fn fingerprint(plan: &EnvPlan) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    // The rollout notes are not written by the sync (the engine adds them around it).
    let mut plan = plan.clone();
    plan.rollouts.clear();
    serde_json::to_string(&plan).unwrap_or_default().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

fn preview(plan: EnvPlan, target: Option<Revision>, verification: Option<Verification>) -> Preview {
    let summary = PlanReport::new(vec![plan.clone()]).summary;
    Preview {
        env: plan.env.clone(),
        fingerprint: fingerprint(&plan),
        plan,
        summary,
        target,
        verification,
        notes: Vec::new(),
    }
}

/// With a previewed fingerprint, a cancelled sync means the fresh plan differed from it.
fn plan_changed(report: &mut SyncReport, fingerprint: Option<&str>) {
    let Some(fingerprint) = fingerprint else { return };
    if report.status != SyncStatus::Cancelled {
        return;
    }
    let now = report.plan.as_ref().map(self::fingerprint).unwrap_or_default();
    let message = format!(
        "the plan of {} changed since the preview (previewed {fingerprint}, now {now}); nothing \
         was applied — review the new preview",
        report.env
    );
    report.error = Some(Failure::new(FailureKind::Cancelled, message));
}

/// Env names ordered by their first pipeline stage; envs in no pipeline keep name order, last.
fn pipeline_order(names: &[String], pipelines: &[Pipeline]) -> Vec<String> {
    let staged: Vec<&str> =
        pipelines.iter().flat_map(|p| p.stages.iter().map(|s| s.env.as_str())).collect();
    let mut ordered = names.to_vec();
    ordered.sort_by_key(|name| staged.iter().position(|s| s == name).unwrap_or(usize::MAX));
    ordered
}

/// Forwards events; with a fingerprint, confirms only the plan the user previewed.
struct Confirming<'a> {
    inner: &'a dyn Progress,
    fingerprint: Option<&'a str>,
}

impl Progress for Confirming<'_> {
    fn event(&self, env: &str, event: &SyncEvent) {
        self.inner.event(env, event);
    }

    fn confirm(&self, plan: &EnvPlan) -> bool {
        match self.fingerprint {
            Some(fingerprint) => self::fingerprint(plan) == fingerprint,
            None => self.inner.confirm(plan),
        }
    }
}

/// Frees `value` on a blocking thread when there is a runtime (else here): an env or a plan of
/// thousands of objects takes milliseconds to free, which the person waiting for the re-planned
/// view would wait for too.
pub(crate) fn free_in_background<T: Send + 'static>(value: T) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(move || drop(value))),
        Err(_) => drop(value),
    }
}
