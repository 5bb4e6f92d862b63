//! The desktop app's view of the library: a [`Session`] over one repo and its clusters, whose
//! methods are thin, serialisable compositions of library calls (load, policy, plan, history,
//! sync, rollback). The app's commands call one method each; no behaviour lives in the UI.
//!
//! Every write goes through a preview: [`Session::preview_sync`] and
//! [`Session::preview_rollback`] return the exact plan and its fingerprint, and
//! [`Session::sync`] / [`Session::rollback`] apply only if the plan computed under the lock
//! still has that fingerprint — what the user confirmed is what gets applied.

use crate::cluster::{self, Cluster, ClusterError, ObjectKey};
use crate::diagnostic::Diagnostic;
use crate::git::{self, GitError};
use crate::health::{self, Assessment, Health};
use crate::history::{self, HistoryError, Revision};
use crate::normalize::{mask_secret_pair, normalize};
use crate::pipeline::{self, Pipeline};
use crate::plan::render::{PlanReport, PlanSummary};
use crate::plan::{Action, EnvPlan, PlanOptions, plan_env};
use crate::promote::{ForgeAccess, PromoteError, PromoteOptions, PromoteOutcome, Services};
use crate::repo::{Environment, Repo, RepoError};
use crate::sync::{self, Progress, RollbackError, SyncEvent, SyncOptions, SyncReport};
use crate::{policy, yaml};
use futures::future::BoxFuture;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash as _, Hasher as _};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

/// An error as the UI shows it: a stable `code`, a readable `message`, and the `file:line` it
/// concerns when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub location: Option<String>,
}

impl ApiError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), message: message.into(), location: None }
    }

    pub fn from_diagnostic(diagnostic: &Diagnostic) -> Self {
        Self {
            code: diagnostic.code.clone(),
            message: diagnostic.message.clone(),
            location: Some(diagnostic.location()),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(location) => write!(f, "{location}: {}[{}]", self.message, self.code),
            None => write!(f, "{} [{}]", self.message, self.code),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<RepoError> for ApiError {
    fn from(error: RepoError) -> Self {
        let code = match error {
            RepoError::NotARepo { .. } => "not-a-repo",
            RepoError::Io { .. } => "io",
            RepoError::UnknownEnv { .. } => "unknown-env",
        };
        Self::new(code, error.to_string())
    }
}

impl From<ClusterError> for ApiError {
    fn from(error: ClusterError) -> Self {
        let code = match error {
            ClusterError::Unreachable { .. } | ClusterError::Timeout { .. } => {
                "cluster-unreachable"
            }
            ClusterError::Config { .. } => "kubeconfig",
            ClusterError::Unauthorized { .. } => "unauthorized",
            ClusterError::Forbidden { .. } => "forbidden",
            ClusterError::Conflict { .. } => "conflict",
            ClusterError::Invalid { .. } => "rejected",
            ClusterError::UnknownKind { .. } => "unknown-kind",
            _ => "cluster-error",
        };
        Self::new(code, error.to_string())
    }
}

impl From<HistoryError> for ApiError {
    fn from(error: HistoryError) -> Self {
        match error {
            HistoryError::Cluster(error) => error.into(),
            HistoryError::NotFound { .. } => Self::new("revision-not-found", error.to_string()),
            HistoryError::Corrupt { .. } => Self::new("history-corrupt", error.to_string()),
            HistoryError::TooLarge { .. } => Self::new("history-too-large", error.to_string()),
        }
    }
}

impl From<RollbackError> for ApiError {
    fn from(error: RollbackError) -> Self {
        match error {
            RollbackError::History(error) => error.into(),
            RollbackError::Cluster(error) => error.into(),
            RollbackError::NoTarget { .. } | RollbackError::NoHistory { .. } => {
                Self::new("no-rollback-target", error.to_string())
            }
        }
    }
}

impl From<PromoteError> for ApiError {
    fn from(error: PromoteError) -> Self {
        let code = match &error {
            PromoteError::Repo(_) => "repo",
            PromoteError::Git(_) => "git",
            PromoteError::Change(_) => "promote-change",
            PromoteError::NoStage { .. }
            | PromoteError::AmbiguousStage { .. }
            | PromoteError::UnknownPipeline { .. }
            | PromoteError::InvalidPipelines(_)
            | PromoteError::NoSource { .. }
            | PromoteError::UnknownSource { .. }
            | PromoteError::SelfPromotion { .. } => "pipeline",
            PromoteError::InputErrors { .. } => "input-errors",
            PromoteError::NoForge(_) => "no-forge",
            PromoteError::Forge(_) | PromoteError::PullRequest { .. } => "forge",
            PromoteError::BranchTaken { .. } => "branch-taken",
        };
        Self::new(code, error.to_string())
    }
}

impl From<GitError> for ApiError {
    fn from(error: GitError) -> Self {
        let code = match error {
            GitError::Git { .. } => "git",
            GitError::Protected { .. } => "protected",
        };
        Self::new(code, error.to_string())
    }
}

/// Whether git and the cluster agree for an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SyncState {
    Synced,
    OutOfSync,
    /// No plan: the env has input errors or its cluster could not be asked.
    Unknown,
}

/// How many objects a sync would touch, by action (the namespace counts as a create).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub prune: usize,
    pub orphan: usize,
    pub unchanged: usize,
}

impl Counts {
    fn of(plan: &EnvPlan) -> Self {
        Self {
            create: plan.count(Action::Create) + usize::from(!plan.namespace_exists),
            update: plan.count(Action::Update),
            prune: plan.count(Action::Prune),
            orphan: plan.count(Action::Orphan),
            unchanged: plan.count(Action::Unchanged),
        }
    }

    /// Objects a sync would write.
    pub fn changes(&self) -> usize {
        self.create + self.update + self.prune
    }
}

/// The model an environment serves, as its `env.yaml` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSummary {
    pub name: String,
    pub version: Option<String>,
    pub path: String,
}

/// One environment card of the overview.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvOverview {
    pub name: String,
    pub namespace: String,
    /// The kube context used (override, else `env.yaml`, else the current context: `None`).
    pub context: Option<String>,
    pub protected: bool,
    pub model: Option<ModelSummary>,
    pub sync_state: SyncState,
    /// The worst health of the env's live objects (`None` without a plan or objects).
    pub health: Option<Health>,
    pub counts: Counts,
    /// Input errors, policy errors, plan errors, or the reason there is no plan.
    pub errors: Vec<ApiError>,
    pub warnings: usize,
    /// The newest sync revision recorded in the cluster.
    pub last_revision: Option<Revision>,
}

/// One row of an environment's resource table.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// `Deployment.apps iris-dev/iris-server`: the key commands take back.
    pub id: String,
    #[serde(flatten)]
    pub key: ObjectKey,
    pub action: Action,
    /// `file:line` in git (absent for prune candidates).
    pub source: Option<String>,
    pub health: Option<Assessment>,
    /// Unified diff of normalised YAML, live → after sync; empty when unchanged.
    pub diff: String,
}

/// Everything the env detail view shows, from one plan.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvDetail {
    pub overview: EnvOverview,
    pub resources: Vec<Resource>,
    /// Policy findings and input warnings, with `file:line`.
    pub findings: Vec<Diagnostic>,
}

/// A plan shown before a write, and the fingerprint that write must match.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub env: String,
    pub plan: EnvPlan,
    pub summary: PlanSummary,
    pub fingerprint: String,
    /// The revision a rollback restores.
    pub target: Option<Revision>,
}

/// The outcome of a rollback, with the git commit that restored the env folder (`git: true`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackOutcome {
    pub report: SyncReport,
    pub commit: Option<String>,
    /// The branch the commit is on, for protected environments (open a pull request from it).
    pub branch: Option<String>,
}

/// A pipeline and its stages, for the promote view's from → to pickers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoInfo {
    pub root: String,
    /// Environment names in pipeline order.
    pub environments: Vec<String>,
    pub pipelines: Vec<Pipeline>,
    pub pipeline_errors: Vec<ApiError>,
    /// Contexts in the kubeconfig (empty when there is none).
    pub contexts: Vec<String>,
}

/// Opens a cluster connection for a kube context (`None`: the current context).
pub type Connector = Arc<
    dyn Fn(Option<String>) -> BoxFuture<'static, Result<Arc<dyn Cluster>, ClusterError>>
        + Send
        + Sync,
>;

/// [`cluster::connect`]: the kubeconfig's cluster, or the in-memory one with `COXSWAIN_CLUSTER=memory`.
pub fn default_connector() -> Connector {
    Arc::new(|context: Option<String>| {
        Box::pin(async move { cluster::connect(context.as_deref()).await })
    })
}

/// One open repo: its loaded environments and a connection per kube context.
pub struct Session {
    repo: Repo,
    order: Vec<String>,
    envs: RwLock<BTreeMap<String, Environment>>,
    contexts: RwLock<HashMap<String, String>>,
    connector: Connector,
    connections: tokio::sync::Mutex<HashMap<Option<String>, Arc<dyn Cluster>>>,
    holder: String,
}

impl Session {
    /// Opens the repo at `path` and loads every environment.
    pub fn open(path: &Path, connector: Connector) -> Result<Self, ApiError> {
        let repo = Repo::open(path)?;
        let names = repo.env_names()?;
        let (pipelines, _) = pipeline::load_pipelines(repo.root(), &names);
        let order = pipeline_order(&names, &pipelines);
        let envs = repo.load(None)?.into_iter().map(|env| (env.name.clone(), env)).collect();
        Ok(Self {
            repo,
            order,
            envs: RwLock::new(envs),
            contexts: RwLock::new(HashMap::new()),
            connector,
            connections: tokio::sync::Mutex::new(HashMap::new()),
            holder: format!("{} (desktop)", crate::lock::default_holder()),
        })
    }

    pub fn root(&self) -> &Path {
        self.repo.root()
    }

    /// Environment names, in pipeline order (dev before prod).
    pub fn env_names(&self) -> &[String] {
        &self.order
    }

    /// The repo's environments, pipelines and the kube contexts to choose from.
    pub fn info(&self) -> RepoInfo {
        let (pipelines, errors) = pipeline::load_pipelines(self.repo.root(), &self.order);
        RepoInfo {
            root: self.repo.root().display().to_string(),
            environments: self.order.clone(),
            pipelines,
            pipeline_errors: errors.iter().map(ApiError::from_diagnostic).collect(),
            contexts: kube_contexts(),
        }
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
            envs.insert(env.name.clone(), env);
        }
    }

    /// Uses `context` for `env` from now on (`None`: back to `env.yaml`'s or the current one).
    pub fn set_context(&self, env: &str, context: Option<String>) -> Result<(), ApiError> {
        self.env(env)?;
        let mut contexts = self.contexts.write().unwrap_or_else(PoisonError::into_inner);
        match context {
            Some(context) => contexts.insert(env.to_owned(), context),
            None => contexts.remove(env),
        };
        Ok(())
    }

    fn env(&self, name: &str) -> Result<Environment, ApiError> {
        let envs = self.envs.read().unwrap_or_else(PoisonError::into_inner);
        envs.get(name).cloned().ok_or_else(|| {
            ApiError::new(
                "unknown-env",
                format!(
                    "no environment \"{name}\" in {}/environments (found: {})",
                    self.repo.root().display(),
                    self.order.join(", ")
                ),
            )
        })
    }

    fn context_of(&self, env: &Environment) -> Option<String> {
        let contexts = self.contexts.read().unwrap_or_else(PoisonError::into_inner);
        contexts.get(&env.name).cloned().or_else(|| env.config.context.clone())
    }

    /// The cluster of `env`, connecting once per context.
    pub async fn cluster(&self, env: &str) -> Result<Arc<dyn Cluster>, ApiError> {
        let env = self.env(env)?;
        self.cluster_for(&env).await
    }

    async fn cluster_for(&self, env: &Environment) -> Result<Arc<dyn Cluster>, ApiError> {
        let context = self.context_of(env);
        let mut connections = self.connections.lock().await;
        if let Some(cluster) = connections.get(&context) {
            return Ok(cluster.clone());
        }
        let cluster = (self.connector)(context.clone()).await?;
        connections.insert(context, cluster.clone());
        Ok(cluster)
    }

    /// Every environment's card, planned concurrently.
    pub async fn overview(&self) -> Vec<EnvOverview> {
        let details =
            futures::future::join_all(self.order.iter().map(|name| self.detail(name))).await;
        details
            .into_iter()
            .zip(&self.order)
            .map(|(detail, name)| match detail {
                Ok(detail) => detail.overview,
                Err(error) => unknown_overview(name, error),
            })
            .collect()
    }

    /// One environment's card, resource table and findings, from a fresh plan.
    pub async fn detail(&self, name: &str) -> Result<EnvDetail, ApiError> {
        let env = self.env(name)?;
        let context = self.context_of(&env);
        let mut findings: Vec<Diagnostic> =
            env.diagnostics.iter().filter(|d| !d.is_error()).cloned().collect();
        findings.extend(policy::check(&env));
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
            context,
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
            return Ok(EnvDetail { overview, resources: Vec::new(), findings });
        }
        let planned = async {
            let cluster = self.cluster_for(&env).await?;
            let plan = plan_env(cluster.as_ref(), &env, &PlanOptions::default()).await?;
            let last = if plan.namespace_exists {
                history::list(cluster.as_ref(), &env.name, &env.namespace)
                    .await?
                    .into_iter()
                    .next()
                    .map(|(r, _)| r)
            } else {
                None
            };
            Ok::<_, ApiError>((plan, last))
        };
        let (plan, last_revision) = match planned.await {
            Ok(planned) => planned,
            Err(error) => {
                overview.errors.push(error);
                return Ok(EnvDetail { overview, resources: Vec::new(), findings });
            }
        };
        let resources: Vec<Resource> = plan
            .objects
            .iter()
            .map(|o| Resource {
                id: o.key.to_string(),
                key: o.key.clone(),
                action: o.action,
                source: o.source.as_ref().map(ToString::to_string),
                health: o.source.is_some().then(|| health::assess(o.live.as_ref())),
                diff: o.diff.clone(),
            })
            .collect();
        overview.counts = Counts::of(&plan);
        overview.health =
            resources.iter().filter_map(|r| r.health.as_ref().map(|h| h.health)).max();
        overview.errors.extend(plan.errors.iter().map(ApiError::from_diagnostic));
        overview.sync_state = if !plan.errors.is_empty() {
            SyncState::Unknown
        } else if plan.has_changes() {
            SyncState::OutOfSync
        } else {
            SyncState::Synced
        };
        overview.last_revision = last_revision;
        Ok(EnvDetail { overview, resources, findings })
    }

    /// The live object `id` (a [`Resource::id`]) as normalised YAML; `None` when it does not exist.
    pub async fn live_object(&self, env: &str, id: &str) -> Result<Option<String>, ApiError> {
        let env = self.env(env)?;
        let cluster = self.cluster_for(&env).await?;
        // Objects git declares need one discovery lookup; prune candidates only a plan knows.
        let (resource, key) = match env.objects.iter().find(|o| o.key.to_string() == id) {
            Some(object) => (cluster.resolve(&object.gvk).await?, object.key.clone()),
            None => {
                let plan = plan_env(cluster.as_ref(), &env, &PlanOptions::default()).await?;
                let object = plan.objects.into_iter().find(|o| o.key.to_string() == id);
                let object = object.ok_or_else(|| {
                    ApiError::new(
                        "unknown-object",
                        format!(
                            "{id} is neither in environments/{} nor owned by it in the cluster",
                            env.name
                        ),
                    )
                })?;
                (object.resource, object.key)
            }
        };
        let namespace = key.namespace.as_deref().filter(|_| resource.namespaced);
        let Some(live) = cluster.get(&resource, namespace, &key.name).await? else {
            return Ok(None);
        };
        let mut live = normalize(&live);
        mask_secret_pair(Some(&mut live), None);
        Ok(Some(yaml::to_yaml(&live)))
    }

    /// The plan a sync of `env` would apply now, after the gates that need no cluster. With
    /// `force_conflicts` the plan takes ownership of fields another manager changed since the
    /// last sync (someone's `kubectl edit`); without it such fields are reported as conflicts.
    pub async fn preview_sync(
        &self,
        name: &str,
        force_conflicts: bool,
    ) -> Result<Preview, ApiError> {
        let env = self.env(name)?;
        preflight(&self.repo, &env)?;
        let cluster = self.cluster_for(&env).await?;
        let options = PlanOptions { force_conflicts, ..PlanOptions::default() };
        let plan = plan_env(cluster.as_ref(), &env, &options).await?;
        Ok(preview(plan, None))
    }

    /// Syncs `env` if its plan still has the previewed `fingerprint` (previewed with the same
    /// `force_conflicts`); events go to `progress`.
    pub async fn sync(
        &self,
        name: &str,
        fingerprint: &str,
        force_conflicts: bool,
        progress: &dyn Progress,
    ) -> Result<SyncReport, ApiError> {
        let env = self.env(name)?;
        let info = preflight(&self.repo, &env)?;
        let cluster = self.cluster_for(&env).await?;
        let options = SyncOptions {
            git_sha: info.as_ref().and_then(|i| i.sha.clone()),
            dirty: info.as_ref().is_some_and(|i| !i.dirty_files.is_empty()),
            message: "coxswain app sync".into(),
            holder: self.holder.clone(),
            force_conflicts,
            ..SyncOptions::default()
        };
        let confirming = Confirming { inner: progress, fingerprint };
        let report = sync::sync_env(cluster, &env, &options, &confirming).await;
        plan_changed(&report, fingerprint)?;
        Ok(report)
    }

    /// An environment's revisions, newest first.
    pub async fn history(&self, name: &str) -> Result<Vec<Revision>, ApiError> {
        let env = self.env(name)?;
        let cluster = self.cluster_for(&env).await?;
        let revisions = history::list(cluster.as_ref(), &env.name, &env.namespace).await?;
        Ok(revisions.into_iter().map(|(r, _)| r).collect())
    }

    /// The plan that restoring revision `to` (default: the last good one before the newest)
    /// would apply.
    pub async fn preview_rollback(&self, name: &str, to: Option<u64>) -> Result<Preview, ApiError> {
        let env = self.env(name)?;
        let cluster = self.cluster_for(&env).await?;
        let target = sync::rollback_target(cluster.as_ref(), &env, to).await?;
        let restored = sync::environment_at(&env, &target.1)?;
        let plan = plan_env(cluster.as_ref(), &restored, &PlanOptions::default()).await?;
        Ok(preview(plan, Some(target.0)))
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
        let env = self.env(name)?;
        let cluster = self.cluster_for(&env).await?;
        let target = sync::rollback_target(cluster.as_ref(), &env, Some(to)).await?;
        if with_git && target.0.git_sha.is_none() {
            return Err(ApiError::new(
                "no-git-revision",
                format!(
                    "revision {to} was not synced from a git commit; roll back without the git option"
                ),
            ));
        }
        let options = SyncOptions { holder: self.holder.clone(), ..SyncOptions::default() };
        let confirming = Confirming { inner: progress, fingerprint };
        let report = sync::rollback(cluster, &env, &target, &options, &confirming).await?;
        plan_changed(&report, fingerprint)?;
        let (mut commit, mut branch) = (None, None);
        if with_git
            && !crate::report::is_failure(report.status)
            && let Some(sha) = target.0.git_sha.as_deref()
        {
            let on_branch =
                env.config.protected.then(|| format!("coxswain/rollback-{}-{to}", env.name));
            let message = format!("Roll back environments/{} to revision {to} ({sha})", env.name);
            commit = Some(
                git::commit_env_restore(
                    self.repo.root(),
                    &env.name,
                    sha,
                    on_branch.as_deref(),
                    &message,
                )?
                .to_string(),
            );
            branch = on_branch;
        }
        Ok(RollbackOutcome { report, commit, branch })
    }

    /// Promotes `to` from `from` (design §8). Without `create`, a dry run: the edits, every
    /// gate's result (model validation, policy, a plan against `to`'s cluster) and nothing
    /// committed. With it: commit on a branch, push, and open or update the pull request (or push
    /// directly for `approval: direct`). GitHub access comes from the environment, as in GitHub
    /// Actions: `GITHUB_TOKEN`/`GH_TOKEN`, `GITHUB_REPOSITORY` (else the remote's URL) and
    /// `GITHUB_API_URL`. Model validation is CPU-bound: call this off
    /// the async threads.
    pub async fn promote(
        &self,
        from: &str,
        to: &str,
        create: bool,
    ) -> Result<PromoteOutcome, ApiError> {
        let target = self.env(to)?;
        let mut options = PromoteOptions::new(to);
        options.from = Some(from.to_owned());
        options.command = format!("coxswain promote {to} --from {from}");
        options.dry_run = !create;
        options.token = crate::promote::github_token_from_env();
        let forge = crate::promote::github_forge_from_env(self.repo.root(), &options.remote);
        let services = Services {
            forge: match &forge {
                Ok(forge) => ForgeAccess::Ready(forge),
                Err(why) => ForgeAccess::Unavailable(why.clone()),
            },
            // The dryRun gate plans against the cluster this session shows for the target.
            cluster: self.cluster_for(&target).await.ok(),
        };
        Ok(crate::promote::promote(self.repo.root(), &options, &services).await?)
    }

    /// Watch streams over the env's owned objects, one per kind it declares, so drift made by
    /// others shows up without polling. Fails while the namespace does not exist yet.
    pub async fn watch_owned(
        &self,
        name: &str,
    ) -> Result<
        Vec<futures::stream::BoxStream<'static, Result<cluster::WatchEvent, ClusterError>>>,
        ApiError,
    > {
        let env = self.env(name)?;
        let cluster = self.cluster_for(&env).await?;
        let kinds: BTreeSet<_> = env.objects.iter().map(|o| o.gvk.clone()).collect();
        let selector = crate::ownership::owned_selector(&env.name);
        let mut streams = Vec::new();
        for gvk in kinds {
            let resource = cluster.resolve(&gvk).await?;
            let namespace = resource.namespaced.then_some(env.namespace.as_str());
            streams.push(cluster.watch(&resource, namespace, Some(&selector), None).await?);
        }
        Ok(streams)
    }
}

/// A commit on the tracked remote branch that the checkout does not have yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteCommit {
    pub sha: String,
    pub summary: String,
    pub author: String,
    /// RFC 3339.
    pub time: String,
    /// The environments whose folders the commit changes.
    pub envs: Vec<String>,
}

/// What the remote has that the checkout has not synced from: commits on HEAD's upstream branch
/// that HEAD does not contain, after a fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteStatus {
    /// The upstream branch, e.g. `origin/main`.
    pub upstream: String,
    /// Newest first, at most [`REMOTE_COMMITS_SHOWN`].
    pub commits: Vec<RemoteCommit>,
    /// How many such commits there are in all.
    pub behind: usize,
}

/// How many remote commits [`remote_status`] lists.
pub const REMOTE_COMMITS_SHOWN: usize = 20;

/// Fetches HEAD's upstream remote and lists the commits it has that HEAD has not. `Ok(None)` when
/// the repo is no git checkout or HEAD's branch tracks no remote branch. Credentials come from
/// the SSH agent or git's credential helpers, as `git fetch` would use them.
pub fn remote_status(root: &Path, known: &[String]) -> Result<Option<RemoteStatus>, ApiError> {
    let err = |e: git2::Error| ApiError::new("git", format!("{}: {}", root.display(), e.message()));
    let repo = match git2::Repository::discover(root) {
        Ok(repo) => repo,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    let Ok(head) = repo.head() else { return Ok(None) };
    let (Some(head_name), Some(head_oid)) = (head.name().ok().map(str::to_owned), head.target())
    else {
        return Ok(None);
    };
    let Ok(remote_name) = repo.branch_upstream_remote(&head_name) else { return Ok(None) };
    let remote_name = remote_name.as_str().unwrap_or("origin").to_owned();
    let upstream_ref = repo.branch_upstream_name(&head_name).map_err(err)?;
    let upstream_ref = upstream_ref.as_str().unwrap_or_default().to_owned();
    let config = repo.config().map_err(err)?;
    let mut callbacks = git2::RemoteCallbacks::new();
    callbacks.credentials(move |url, username, allowed| {
        if allowed.contains(git2::CredentialType::SSH_KEY) {
            return git2::Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) {
            return git2::Cred::credential_helper(&config, url, username);
        }
        git2::Cred::default()
    });
    let mut options = git2::FetchOptions::new();
    options.remote_callbacks(callbacks);
    repo.find_remote(&remote_name)
        .and_then(|mut remote| remote.fetch(&[] as &[&str], Some(&mut options), None))
        .map_err(|e| {
            ApiError::new(
                "git-fetch",
                format!("git fetch {remote_name} in {}: {}", root.display(), e.message()),
            )
        })?;
    let upstream_oid = repo.refname_to_id(&upstream_ref).map_err(err)?;
    let mut walk = repo.revwalk().map_err(err)?;
    walk.push(upstream_oid).map_err(err)?;
    walk.hide(head_oid).map_err(err)?;
    let oids: Vec<git2::Oid> = walk.collect::<Result<_, _>>().map_err(err)?;
    let prefix = git_prefix(&repo, root);
    let mut commits = Vec::new();
    for oid in oids.iter().take(REMOTE_COMMITS_SHOWN) {
        let commit = repo.find_commit(*oid).map_err(err)?;
        let time = chrono::DateTime::from_timestamp(commit.time().seconds(), 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        commits.push(RemoteCommit {
            sha: oid.to_string(),
            summary: commit.summary().ok().flatten().unwrap_or_default().to_owned(),
            author: commit.author().name().unwrap_or_default().to_owned(),
            time,
            envs: envs_changed_by(&repo, &commit, &prefix, known).map_err(err)?,
        });
    }
    let upstream = upstream_ref.strip_prefix("refs/remotes/").unwrap_or(&upstream_ref).to_owned();
    Ok(Some(RemoteStatus { upstream, commits, behind: oids.len() }))
}

/// Where the Coxswain repo sits inside the git work tree (empty when at its top).
fn git_prefix(repo: &git2::Repository, root: &Path) -> PathBuf {
    let workdir = repo.workdir().and_then(|w| w.canonicalize().ok());
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    workdir.and_then(|w| root.strip_prefix(w).ok().map(Path::to_path_buf)).unwrap_or_default()
}

fn envs_changed_by(
    repo: &git2::Repository,
    commit: &git2::Commit<'_>,
    prefix: &Path,
    known: &[String],
) -> Result<Vec<String>, git2::Error> {
    let tree = commit.tree()?;
    let parent = commit.parents().next().map(|p| p.tree()).transpose()?;
    let diff = repo.diff_tree_to_tree(parent.as_ref(), Some(&tree), None)?;
    let paths: Vec<PathBuf> = diff
        .deltas()
        .flat_map(|d| [d.old_file().path(), d.new_file().path()])
        .flatten()
        .map(|p| Path::new("/").join(p))
        .collect();
    Ok(envs_touched(&Path::new("/").join(prefix), &paths, known).into_iter().collect())
}

/// The gates a sync passes before any cluster call, as `coxswain sync` runs them: input errors,
/// policy errors, and for protected envs a clean committed checkout of their branch. Returns
/// what git says about the checkout, for the history record.
pub fn preflight(repo: &Repo, env: &Environment) -> Result<Option<git::GitInfo>, ApiError> {
    if let Some(error) = env.diagnostics.iter().find(|d| d.is_error()) {
        return Err(ApiError::from_diagnostic(error));
    }
    if let Some(error) = policy::check(env).iter().find(|d| d.is_error()) {
        let mut error = ApiError::from_diagnostic(error);
        error.message = format!("policy gate failed: {}", error.message);
        return Err(error);
    }
    let info = git::inspect(repo.root(), &env.name)?;
    if env.config.protected {
        git::check_protected(info.as_ref(), &env.name, &env.config.branch)?;
    }
    Ok(info)
}

/// Which environments a set of changed paths concern: files under `environments/<env>/`
/// concern that env; anything else (pipelines, models) concerns none.
pub fn envs_touched(root: &Path, paths: &[PathBuf], known: &[String]) -> BTreeSet<String> {
    paths
        .iter()
        .filter_map(|path| {
            let relative = path.strip_prefix(root).ok()?;
            let mut parts = relative.components();
            (parts.next()? == Component::Normal("environments".as_ref())).then_some(())?;
            let Component::Normal(env) = parts.next()? else { return None };
            let env = env.to_str()?;
            known.iter().any(|k| k == env).then(|| env.to_owned())
        })
        .collect()
}

/// A stable identity of a plan: what would be written, and how.
pub fn fingerprint(plan: &EnvPlan) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    serde_json::to_string(plan).unwrap_or_default().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

fn preview(plan: EnvPlan, target: Option<Revision>) -> Preview {
    let summary = PlanReport::new(vec![plan.clone()]).summary;
    Preview { env: plan.env.clone(), fingerprint: fingerprint(&plan), plan, summary, target }
}

/// A cancelled sync here means the fresh plan differed from the previewed one.
fn plan_changed(report: &SyncReport, fingerprint: &str) -> Result<(), ApiError> {
    if report.status != sync::SyncStatus::Cancelled {
        return Ok(());
    }
    let now = report.plan.as_ref().map(self::fingerprint).unwrap_or_default();
    Err(ApiError::new(
        "plan-changed",
        format!(
            "the plan of {} changed since the preview (previewed {fingerprint}, now {now}); nothing was applied — review the new preview",
            report.env
        ),
    ))
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

/// Env names ordered by their first pipeline stage; envs in no pipeline keep name order, last.
fn pipeline_order(names: &[String], pipelines: &[Pipeline]) -> Vec<String> {
    let staged: Vec<&str> =
        pipelines.iter().flat_map(|p| p.stages.iter().map(|s| s.env.as_str())).collect();
    let mut ordered = names.to_vec();
    ordered.sort_by_key(|name| staged.iter().position(|s| s == name).unwrap_or(usize::MAX));
    ordered
}

/// Context names of the kubeconfig (`KUBECONFIG` or `~/.kube/config`); empty when unreadable.
fn kube_contexts() -> Vec<String> {
    kube::config::Kubeconfig::read()
        .map(|config| config.contexts.into_iter().map(|c| c.name).collect())
        .unwrap_or_default()
}

/// Forwards events, and confirms only the plan whose fingerprint the user previewed.
struct Confirming<'a> {
    inner: &'a dyn Progress,
    fingerprint: &'a str,
}

impl Progress for Confirming<'_> {
    fn event(&self, env: &str, event: &SyncEvent) {
        self.inner.event(env, event);
    }

    fn confirm(&self, plan: &EnvPlan) -> bool {
        fingerprint(plan) == self.fingerprint
    }
}

#[cfg(test)]
mod tests;
