//! The desktop app's view of the engine: a [`Session`] over one [`Engine`] with the app's kube
//! context choices, and the serialisable types the UI shows. Every method is a call into the
//! engine plus DTO conversion; the app's commands call one method each, and no behaviour lives in
//! the UI.
//!
//! Every write goes through a preview: [`Session::preview_sync`] and
//! [`Session::preview_rollback`] return the exact plan and its fingerprint, and
//! [`Session::sync`] / [`Session::rollback`] apply only if the plan computed under the lock
//! still has that fingerprint — what the user confirmed is what gets applied.

mod dto;

pub use dto::{
    ApiError, Counts, EnvDetail, EnvOverview, ModelSummary, RepoInfo, Resource, SyncState,
};

use crate::cluster::{ClusterError, WatchEvent};
use crate::diagnostic::Diagnostic;
pub use crate::engine::RolloutPreview;
pub use crate::engine::{Connector, Preview, RollbackOutcome, default_connector};
use crate::engine::{
    Engine, EngineError, ForgeSettings, RollbackRequest, RolloutRequest, SyncOutcome, SyncRequest,
};
pub use crate::git::{REMOTE_COMMITS_SHOWN, RemoteCommit, RemoteStatus};
use crate::health;
pub use crate::health::pods::PodProblem;
use crate::history::Revision;
use crate::plan::PlanOptions;
use crate::promote::workload::{EditOptions, EditOutcome, WorkloadEdit};
use crate::promote::{PromoteOptions, PromoteOutcome};
pub use crate::repo::{envs_touched, envs_touched_with, overlay_dirs};
pub use crate::rollout::{Action, RolloutStatus};
use crate::sync::{CancelToken, FailureKind, Progress, SyncReport, SyncStatus, Workload};
use futures::stream::BoxStream;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Mutex, PoisonError, RwLock};

/// One open repo: the engine, and the kube context the user picked per environment.
pub struct Session {
    engine: Engine,
    contexts: RwLock<HashMap<String, String>>,
    /// The cancel token of each env's running sync or rollback (the Cancel button).
    running: Mutex<HashMap<String, CancelToken>>,
}

/// An env's running operation, registered for [`Session::cancel`] until dropped.
struct Running<'a> {
    session: &'a Session,
    env: String,
    cancel: CancelToken,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.session.running.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.env);
    }
}

impl Session {
    /// Opens the repo at `path` and loads every environment.
    pub fn open(path: &Path, connector: Connector) -> Result<Self, ApiError> {
        let holder = format!("{} (desktop)", crate::lock::default_holder());
        let engine = Engine::open(path, connector)?.with_holder(holder).with_parse_cache();
        engine.load_all(None)?;
        Ok(Self { engine, contexts: RwLock::new(HashMap::new()), running: Mutex::default() })
    }

    pub fn root(&self) -> &Path {
        self.engine.root()
    }

    /// Environment names, in pipeline order (dev before prod).
    pub fn env_names(&self) -> &[String] {
        self.engine.env_names()
    }

    /// The repo's environments, pipelines and the kube contexts to choose from.
    pub fn info(&self) -> RepoInfo {
        let (pipelines, errors) = self.engine.pipelines();
        RepoInfo {
            root: self.root().display().to_string(),
            environments: self.env_names().to_vec(),
            pipelines,
            pipeline_errors: errors.iter().map(ApiError::from_diagnostic).collect(),
            contexts: kube_contexts(),
        }
    }

    /// Re-reads the named environments from disk (after the watcher saw their files change).
    pub fn reload(&self, names: &BTreeSet<String>) {
        self.engine.reload(names);
    }

    /// Uses `context` for `env` from now on (`None`: back to `env.yaml`'s or the current one).
    pub fn set_context(&self, env: &str, context: Option<String>) -> Result<(), ApiError> {
        self.engine.env(env)?;
        let mut contexts = self.contexts.write().unwrap_or_else(PoisonError::into_inner);
        match context {
            Some(context) => contexts.insert(env.to_owned(), context),
            None => contexts.remove(env),
        };
        Ok(())
    }

    /// The context the user picked for `env`, if any (else the engine uses the env's own).
    fn context(&self, env: &str) -> Option<String> {
        self.contexts.read().unwrap_or_else(PoisonError::into_inner).get(env).cloned()
    }

    /// Every environment's card, planned concurrently.
    pub async fn overview(&self) -> Vec<EnvOverview> {
        let names = self.env_names();
        let details = futures::future::join_all(names.iter().map(|name| self.detail(name))).await;
        details
            .into_iter()
            .zip(names)
            .map(|(detail, name)| match detail {
                Ok(detail) => detail.overview,
                Err(error) => unknown_overview(name, error),
            })
            .collect()
    }

    /// One environment's card, resource table and findings, from a fresh plan.
    pub async fn detail(&self, name: &str) -> Result<EnvDetail, ApiError> {
        let env = self.engine.env(name)?;
        let context = self.context(name);
        let mut findings: Vec<Diagnostic> =
            env.diagnostics.iter().filter(|d| !d.is_error()).cloned().collect();
        findings.extend(crate::policy::check(&env));
        findings.sort();
        let mut errors: Vec<ApiError> = env
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(ApiError::from_diagnostic)
            .collect();
        errors.extend(findings.iter().filter(|d| d.is_error()).map(ApiError::from_diagnostic));
        let warnings = findings.iter().filter(|d| !d.is_error()).count();
        let mut overview = EnvOverview {
            name: env.name.clone(),
            namespace: env.namespace.clone(),
            context: context.clone().or_else(|| env.config.context.clone()),
            protected: env.config.protected,
            model: env.config.model.as_ref().map(|m| ModelSummary {
                name: m.name.clone(),
                version: m.version.clone(),
                path: m.path.clone(),
            }),
            sync_state: SyncState::Unknown,
            health: None,
            counts: Counts::default(),
            errors,
            warnings,
            last_revision: None,
        };
        if env.has_errors() {
            return Ok(EnvDetail {
                overview,
                resources: Vec::new(),
                findings,
                rollouts: Vec::new(),
            });
        }
        let planned = async {
            let plan = self.engine.plan(&env, context.as_deref(), &PlanOptions::default()).await?;
            let last = if plan.namespace_exists {
                self.engine.history(name, context.as_deref()).await?.into_iter().next()
            } else {
                None
            };
            Ok::<_, EngineError>((plan, last))
        };
        let (plan, last_revision) = match planned.await {
            Ok(planned) => planned,
            Err(error) => {
                overview.errors.push(error.into());
                return Ok(EnvDetail {
                    overview,
                    resources: Vec::new(),
                    findings,
                    rollouts: Vec::new(),
                });
            }
        };
        let declared: HashMap<&crate::cluster::ObjectKey, &crate::repo::DesiredObject> =
            env.objects.iter().map(|git| (&git.key, git)).collect();
        let resources: Vec<Resource> = plan
            .objects
            .iter()
            .map(|o| Resource {
                id: o.key.to_string(),
                key: o.key.clone(),
                action: o.action,
                source: o.source.as_ref().map(ToString::to_string),
                health: o.source.is_some().then(|| health::assess(o.live.as_deref())),
                diff: o.diff.clone(),
                drift: o.drift.clone(),
                editable: declared
                    .get(&o.key)
                    .and_then(|git| crate::promote::workload::Editable::of(git)),
            })
            .collect();
        // A workload still progressing may be failing: its pods say so (crash loop, image pull,
        // unschedulable), as the sync's health wait would report it.
        let mut resources = resources;
        let mut assessments: Vec<(usize, health::Assessment)> = resources
            .iter()
            .enumerate()
            .filter_map(|(index, r)| Some((index, r.health.clone()?)))
            .filter(|(_, a)| a.health == health::Health::Progressing)
            .collect();
        if !assessments.is_empty() {
            let mut workloads: Vec<Workload<'_>> = assessments
                .iter_mut()
                .map(|(index, assessment)| Workload {
                    key: &plan.objects[*index].key,
                    live: plan.objects[*index].live.as_deref(),
                    assessment,
                })
                .collect();
            self.engine.inspect_workloads(&env, context.as_deref(), &mut workloads).await;
            for (index, assessment) in assessments {
                resources[index].health = Some(assessment);
            }
        }
        overview.counts = Counts::of(&plan);
        overview.health =
            resources.iter().filter_map(|r| r.health.as_ref().map(|h| h.health)).max();
        overview.errors.extend(plan.errors.iter().map(ApiError::from_diagnostic));
        overview.sync_state = if !plan.errors.is_empty() {
            SyncState::Unknown
        } else if plan.has_changes() || plan.rollout_writes {
            SyncState::OutOfSync
        } else {
            SyncState::Synced
        };
        overview.last_revision = last_revision;
        let rollouts = if env.config.rollouts.is_empty() {
            Vec::new()
        } else {
            match self.engine.rollout_statuses(name, context.as_deref()).await {
                Ok(rollouts) => rollouts,
                Err(error) => {
                    overview.errors.push(error.into());
                    Vec::new()
                }
            }
        };
        crate::engine::free_in_background(plan);
        Ok(EnvDetail { overview, resources, findings, rollouts })
    }

    /// The live object `id` (a [`Resource::id`]) as normalised YAML; `None` when it does not exist.
    pub async fn live_object(&self, env: &str, id: &str) -> Result<Option<String>, ApiError> {
        Ok(self.engine.live_object(env, id, self.context(env).as_deref()).await?)
    }

    /// The failing pods of workload `id` (a [`Resource::id`]) with their crashed containers'
    /// last log lines: what the app shows under an unhealthy workload.
    pub async fn workload_pods(&self, env: &str, id: &str) -> Result<Vec<PodProblem>, ApiError> {
        Ok(self.engine.workload_pods(env, id, self.context(env).as_deref()).await?)
    }

    /// The plan a sync of `env` would apply now, after every gate. With `force_conflicts` the
    /// plan takes ownership of fields another manager changed since the last sync (someone's
    /// `kubectl edit`); without it such fields are reported as conflicts.
    pub async fn preview_sync(
        &self,
        name: &str,
        force_conflicts: bool,
    ) -> Result<Preview, ApiError> {
        let request = SyncRequest { force_conflicts, ..self.sync_request(name) };
        Ok(self.engine.preview_sync(name, &request).await?)
    }

    fn sync_request(&self, name: &str) -> SyncRequest {
        SyncRequest {
            context: self.context(name),
            message: "coxswain app sync".into(),
            ..SyncRequest::default()
        }
    }

    /// Stops `name`'s running sync or rollback before its next write; what it applied so far is
    /// recorded in history as an interrupted revision. `false` when none is running.
    pub fn cancel(&self, name: &str) -> bool {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.get(name).map(CancelToken::cancel).is_some()
    }

    /// Whether a sync or rollback of `name` started here is running (its writes are not drift).
    pub fn is_running(&self, name: &str) -> bool {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).contains_key(name)
    }

    fn start(&self, name: &str) -> Running<'_> {
        let cancel = CancelToken::new();
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.insert(name.to_owned(), cancel.clone());
        Running { session: self, env: name.to_owned(), cancel }
    }

    /// Syncs `env` if its plan still has the previewed `fingerprint` (previewed with the same
    /// `force_conflicts`); events go to `progress`. A gate's refusal is an error.
    pub async fn sync(
        &self,
        name: &str,
        fingerprint: &str,
        force_conflicts: bool,
        progress: &dyn Progress,
    ) -> Result<SyncReport, ApiError> {
        let running = self.start(name);
        let request = SyncRequest {
            force_conflicts,
            fingerprint: Some(fingerprint.to_owned()),
            cancel: running.cancel.clone(),
            ..self.sync_request(name)
        };
        match self.engine.sync(name, &request, progress).await? {
            SyncOutcome::Finished { report, .. } => refused(*report),
            SyncOutcome::Offline { reason, .. } => {
                Err(ApiError::new("cluster-unreachable", reason))
            }
        }
    }

    /// An environment's revisions, newest first.
    pub async fn history(&self, name: &str) -> Result<Vec<Revision>, ApiError> {
        Ok(self.engine.history(name, self.context(name).as_deref()).await?)
    }

    /// Every rollout of an environment (a workload's rollout panel), read from the cluster.
    pub async fn rollouts(&self, name: &str) -> Result<Vec<RolloutStatus>, ApiError> {
        Ok(self.engine.rollout_statuses(name, self.context(name).as_deref()).await?)
    }

    /// What a rollout operation would write (dry run), and the fingerprint to confirm it with.
    pub async fn preview_rollout(
        &self,
        name: &str,
        workload: &str,
        action: Action,
    ) -> Result<RolloutPreview, ApiError> {
        let request = RolloutRequest { context: self.context(name), ..RolloutRequest::default() };
        Ok(self.engine.preview_rollout(name, workload, action, &request).await?)
    }

    /// A person's rollout operation — pause, resume, promote, abort, undo — through the sync's
    /// gates and the env's lock, recorded in history, if the rollout is still where the preview
    /// with `fingerprint` saw it; the status after it.
    pub async fn rollout(
        &self,
        name: &str,
        workload: &str,
        action: Action,
        fingerprint: &str,
    ) -> Result<RolloutStatus, ApiError> {
        let request = RolloutRequest {
            context: self.context(name),
            fingerprint: Some(fingerprint.to_owned()),
            ..RolloutRequest::default()
        };
        Ok(self.engine.rollout(name, workload, action, &request).await?)
    }

    fn rollback_request(&self, name: &str, to: Option<u64>) -> RollbackRequest {
        // The app shows a revision's verification in the preview the user confirms, so an
        // unverifiable revision of an unprotected env is restored on that confirmation
        // (protected envs refuse it whatever).
        RollbackRequest {
            to,
            context: self.context(name),
            allow_unverified: true,
            ..RollbackRequest::default()
        }
    }

    /// The plan that restoring revision `to` (default: the last good one before the newest)
    /// would apply, and whether the revision matches its git commit.
    pub async fn preview_rollback(&self, name: &str, to: Option<u64>) -> Result<Preview, ApiError> {
        Ok(self.engine.preview_rollback(name, &self.rollback_request(name, to)).await?)
    }

    /// Restores revision `to` if its plan still has the previewed `fingerprint`; with `git`, also
    /// commits the env folder as it was at that revision (on a branch for protected envs).
    pub async fn rollback(
        &self,
        name: &str,
        to: u64,
        fingerprint: &str,
        with_git: bool,
        progress: &dyn Progress,
    ) -> Result<RollbackOutcome, ApiError> {
        let running = self.start(name);
        let request = RollbackRequest {
            with_git,
            fingerprint: Some(fingerprint.to_owned()),
            cancel: running.cancel.clone(),
            ..self.rollback_request(name, Some(to))
        };
        let outcome = self.engine.rollback(name, &request, progress).await?;
        refused(outcome.report.clone())?;
        Ok(outcome)
    }

    /// Promotes `to` from `from` (design §8). Without `create`, a dry run: the edits, every
    /// gate's result and nothing committed. With it: commit on a branch, push, and open or update
    /// the pull request. GitHub access comes from the environment, as in GitHub Actions. Model
    /// validation is CPU-bound: call this off the async threads.
    pub async fn promote(
        &self,
        from: &str,
        to: &str,
        create: bool,
    ) -> Result<PromoteOutcome, ApiError> {
        let mut options = PromoteOptions::new(to);
        options.from = Some(from.to_owned());
        options.command = format!("coxswain promote {to} --from {from}");
        options.dry_run = !create;
        let context = self.context(to);
        Ok(self.engine.promote(options, &ForgeSettings::from_env(), context.as_deref()).await?)
    }

    /// `set image` / `scale` of `workload` in git: without `commit`, the edit only (its diff);
    /// with it, committed in a private checkout of HEAD and pushed onto the env's branch, or as
    /// a pull request for a protected env. The user's working tree is never touched; the next
    /// sync applies it.
    pub async fn edit_workload(
        &self,
        name: &str,
        workload: &str,
        edit: WorkloadEdit,
        commit: bool,
    ) -> Result<EditOutcome, ApiError> {
        let options = EditOptions {
            env: name.to_owned(),
            workload: workload.to_owned(),
            edit,
            remote: "origin".into(),
            push: true,
            dry_run: !commit,
            token: None,
        };
        Ok(self.engine.edit_workload(options, &ForgeSettings::from_env()).await?)
    }

    /// Watch streams over the env's owned objects, one per kind it declares.
    pub async fn watch_owned(
        &self,
        name: &str,
    ) -> Result<Vec<BoxStream<'static, Result<WatchEvent, ClusterError>>>, ApiError> {
        Ok(self.engine.watch_owned(name, self.context(name).as_deref()).await?)
    }
}

/// Gate refusals and a changed plan are errors to the app; other outcomes are reports.
fn refused(report: SyncReport) -> Result<SyncReport, ApiError> {
    match (&report.status, &report.error) {
        (SyncStatus::Blocked | SyncStatus::Cancelled, Some(failure))
            if failure.kind != FailureKind::Plan =>
        {
            Err(ApiError::from(failure))
        }
        _ => Ok(report),
    }
}

/// [`crate::git::remote_status`] for the app.
pub fn remote_status(root: &Path, known: &[String]) -> Result<Option<RemoteStatus>, ApiError> {
    crate::git::remote_status(root, known).map_err(|e| EngineError::from(e).into())
}

fn unknown_overview(name: &str, error: ApiError) -> EnvOverview {
    EnvOverview {
        name: name.to_owned(),
        namespace: String::new(),
        context: None,
        protected: false,
        model: None,
        sync_state: SyncState::Unknown,
        health: None,
        counts: Counts::default(),
        errors: vec![error],
        warnings: 0,
        last_revision: None,
    }
}

/// Context names of the kubeconfig (`KUBECONFIG` or `~/.kube/config`); empty when unreadable.
fn kube_contexts() -> Vec<String> {
    kube::config::Kubeconfig::read()
        .map(|config| config.contexts.into_iter().map(|c| c.name).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
