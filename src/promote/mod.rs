//! `coxswain promote`: move what a pipeline stage promotes (image tags, the model reference) from
//! one environment to the next as a reviewed git change.
//!
//! Steps: check the user's checkout is clean → check out HEAD privately ([`gitops::Checkout`]) →
//! compute what moves ([`change`]) and edit only those scalars (format-preserving) → ask the
//! remote and the forge what exists already → run the stage's gates ([`gates`]) → commit on
//! `coxswain/promote-<env>-<short>` → push → open (or update) the pull request ([`forge`]).
//! A failed gate stops before the commit. Stages with `approval: direct` push the commit to the
//! tracked branch instead of opening a pull request.
//!
//! Network work (ls-remote, looking up an open pull request) happens before the gates, so a
//! missing token or an unreachable remote fails fast, before minutes of validation.

pub mod change;
pub mod forge;
pub mod gates;
pub mod gitops;
pub mod plan_comment;
mod render;
pub mod workload;

use crate::exit::ExitCode;
use crate::git::HostToken;
use crate::pipeline::{self, Approval, Pipeline, Stage};
use crate::repo::{Environment, Repo, RepoError};
use change::{Change, ChangeError};
use forge::{Forge, ForgeError, NewPullRequest, PullRequest};
pub use gates::ClusterAccess;
use gates::{GateContext, GateReport};
use gitops::{Checkout, GitOpsError, UserRepo};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// What to promote, and how far to go.
#[derive(Debug, Clone)]
pub struct PromoteOptions {
    /// The environment promoted into.
    pub target: String,
    /// The environment promoted from; default: the stage's `from`.
    pub from: Option<String>,
    /// The pipeline (its `name`) when the target is a stage of several.
    pub pipeline: Option<String>,
    /// The git remote pushed to.
    pub remote: String,
    /// `false` stops after the commit, which is left on a local branch (`--no-push`).
    pub push: bool,
    /// Show the edits and the gate results only (`--dry-run`).
    pub dry_run: bool,
    /// Token for HTTPS pushes to the forge's host (`GITHUB_TOKEN`); SSH uses the agent, else the
    /// credential helper, as does any other host.
    pub token: Option<HostToken>,
    /// The command line shown in the pull request's footer.
    pub command: String,
    #[cfg(feature = "model-validation")]
    pub validation_limits: coxswain_model::Limits,
}

impl PromoteOptions {
    pub fn new(target: &str) -> Self {
        Self {
            target: target.to_owned(),
            from: None,
            pipeline: None,
            remote: "origin".into(),
            push: true,
            dry_run: false,
            token: None,
            command: format!("coxswain promote {target}"),
            #[cfg(feature = "model-validation")]
            validation_limits: coxswain_model::Limits::default(),
        }
    }
}

/// The forge a promotion opens pull requests on, or why there is none.
pub enum ForgeAccess<'a> {
    Ready(&'a dyn Forge),
    /// Why no forge is configured; reported only when a pull request is needed.
    Unavailable(String),
}

/// What a promotion talks to besides git.
pub struct Services<'a> {
    pub forge: ForgeAccess<'a>,
    /// The cluster the dryRun gate plans against (skipped with a note when none is reachable).
    pub cluster: ClusterAccess,
}

/// How a promotion ended (errors aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum PromoteStatus {
    /// The target already has what the source has.
    NothingToPromote,
    /// `--dry-run`: edits and gates shown, nothing committed.
    DryRun,
    /// A gate failed; nothing committed.
    Blocked,
    /// `--no-push`: committed on a local branch.
    Committed,
    /// `approval: direct`: pushed to the tracked branch.
    Pushed,
    PullRequestOpened,
    PullRequestUpdated,
}

/// The result of a promotion, for people (`render_text`) and machines (JSON).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PromoteOutcome {
    pub status: PromoteStatus,
    pub pipeline: String,
    pub pipeline_file: String,
    pub approval: Approval,
    pub change: Change,
    /// Unified diff of the edited files.
    pub diff: String,
    pub gates: GateReport,
    /// The commit the promotion starts from (the user's HEAD).
    pub base: String,
    /// The branch pull requests target and direct promotions push to (the target's `branch`).
    pub base_branch: String,
    pub remote: String,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub commit_message: Option<String>,
    pub pull_request: Option<PullRequest>,
    pub pull_request_body: Option<String>,
    /// Things the user should know (HEAD not on the tracked branch, a reused branch).
    pub messages: Vec<String>,
}

impl PromoteOutcome {
    /// 0 for every status but [`PromoteStatus::Blocked`], which is a failed gate (3).
    pub fn exit_code(&self) -> ExitCode {
        if self.status == PromoteStatus::Blocked { ExitCode::GateFailed } else { ExitCode::Ok }
    }

    pub fn render_text(&self) -> String {
        render::text(self)
    }

    /// The pull request's body (also for a `--dry-run` posted as a comment); `command` is shown
    /// in its footer.
    pub fn render_markdown(&self, command: &str) -> String {
        render::pr_body(self, command)
    }

    pub(crate) fn base_short(&self) -> &str {
        self.base.get(..12).unwrap_or(&self.base)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    #[error(transparent)]
    Git(#[from] GitOpsError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Change(#[from] ChangeError),
    #[error(
        "no pipeline in pipelines/ has a stage for environment \"{env}\"; add one (see \
         docs/promotion.md)"
    )]
    NoStage { env: String },
    #[error(
        "environment \"{env}\" is a stage of several pipelines ({pipelines}); choose one with \
         --pipeline NAME"
    )]
    AmbiguousStage { env: String, pipelines: String },
    #[error("no pipeline named \"{name}\" has a stage for \"{env}\" (pipelines: {found})")]
    UnknownPipeline { name: String, env: String, found: String },
    #[error("the pipeline files have errors (run `coxswain check`):\n  {0}")]
    InvalidPipelines(String),
    #[error("stage \"{env}\" of {file} has no `from`; add one or pass --from ENV")]
    NoSource { env: String, file: String },
    #[error("no environment \"{name}\" to promote from (environments: {found})")]
    UnknownSource { name: String, found: String },
    #[error("cannot promote environment \"{env}\" from itself; pass another --from")]
    SelfPromotion { env: String },
    #[error("environment {env} has input errors (run `coxswain check --env {env}`):\n  {list}")]
    InputErrors { env: String, list: String },
    #[error(
        "opening a pull request needs GitHub access: {0}; or pass --no-push to stop after the \
         commit"
    )]
    NoForge(String),
    #[error("{0}; nothing was committed or pushed")]
    Forge(Box<ForgeError>),
    #[error(
        "branch {branch} on {remote} has a commit not made by coxswain promote ({tip}: \
         \"{summary}\"); merge or close its pull request, or delete the branch, then promote again"
    )]
    BranchTaken { branch: String, remote: String, tip: String, summary: String },
    #[error(
        "pushed branch {branch} to {remote}, but {source}; open the pull request by hand, or fix \
         the cause and run `coxswain promote {env}` again (it reuses the branch)"
    )]
    PullRequest { branch: String, remote: String, env: String, source: Box<ForgeError> },
    #[error("environment {env} declares no {kinds} named {workload}")]
    NoWorkload { env: String, workload: String, kinds: String },
    #[error("{workload} has no container named {container} (containers: {found})")]
    NoContainer { workload: String, container: String, found: String },
    #[error(
        "{file}:{line}: {workload} declares no spec.replicas (an HorizontalPodAutoscaler scales \
         it); change the HPA's minReplicas/maxReplicas instead"
    )]
    NoReplicas { workload: String, file: String, line: u32 },
    #[error(
        "{workload} comes from {file}, through a kustomize overlay or outside the env's folder; \
         editing it there would change every environment that shares it: edit the overlay (its \
         images: or replicas: list) instead"
    )]
    RenderedWorkload { workload: String, file: String },
}

/// Promotes into `options.target` from the repo at `root` (the Coxswain repo root; it may sit
/// below the git work tree's root).
pub async fn promote(
    root: &Path,
    options: &PromoteOptions,
    services: &Services<'_>,
) -> Result<PromoteOutcome, PromoteError> {
    let user = UserRepo::open(root)?;
    let head = user.head()?;
    user.check_clean()?;
    let pushing = options.push && !options.dry_run;
    let remote = if pushing { Some(user.remote(&options.remote)?) } else { None };
    let checkout = Checkout::create(&user, head.oid)?;
    let repo = Repo::open(checkout.root())?.identified_as(root);
    let names = repo.env_names()?;
    let (pipeline, stage) = find_stage(&repo, &names, options)?;
    let from = options.from.clone().or_else(|| stage.from.clone()).ok_or_else(|| {
        PromoteError::NoSource { env: stage.env.clone(), file: pipeline.file.clone() }
    })?;
    if !names.contains(&from) {
        return Err(PromoteError::UnknownSource { name: from, found: names.join(", ") });
    }
    if from == options.target {
        return Err(PromoteError::SelfPromotion { env: from });
    }
    let source = loaded(&repo, &from)?;
    let target = loaded(&repo, &options.target)?;
    let checkout_root = checkout.root().to_path_buf();
    let read = move |file: &str| {
        std::fs::read_to_string(checkout_root.join(file))
            .map_err(|e| ChangeError::Read { file: file.to_owned(), reason: e.to_string() })
    };
    let change = change::compute(&source, &target, &stage.promote, &read)?;
    let mut outcome = PromoteOutcome {
        status: PromoteStatus::NothingToPromote,
        pipeline: pipeline.name.clone(),
        pipeline_file: pipeline.file.clone(),
        approval: stage.approval,
        change,
        diff: String::new(),
        gates: GateReport::default(),
        base: head.oid.to_string(),
        base_branch: target.config.branch.clone(),
        remote: options.remote.clone(),
        branch: None,
        commit: None,
        commit_message: None,
        pull_request: None,
        pull_request_body: None,
        messages: Vec::new(),
    };
    if outcome.change.is_empty() {
        return Ok(outcome);
    }
    let forge = match (&services.forge, pushing, stage.approval) {
        (ForgeAccess::Ready(forge), true, Approval::PullRequest) => Some(*forge),
        (ForgeAccess::Unavailable(why), true, Approval::PullRequest) => {
            return Err(PromoteError::NoForge(why.clone()));
        }
        _ => None,
    };
    if head.branch.as_deref() != Some(outcome.base_branch.as_str()) {
        outcome.messages.push(format!(
            "note: the promotion starts from HEAD ({}), not from {}",
            head.branch.as_deref().unwrap_or("detached"),
            outcome.base_branch
        ));
    }
    let edits = change::edit_files(&outcome.change, &read)?;
    checkout.write_files(&edits)?;
    outcome.diff = change::unified_diff(&edits);
    let edited = repo.load_env(&options.target);
    let branch = branch_name(&outcome.change);

    // Ask the remote and the forge before the (slow) gates.
    let remote_refs = match &remote {
        Some(remote) => checkout.list_remote(&user, remote, options.token.as_ref())?,
        None => HashMap::new(),
    };
    // A branch left by an earlier run may be replaced; one someone else committed to may not.
    let remote_ref = format!("refs/heads/{branch}");
    let earlier_run = match (&remote, forge, remote_refs.get(&remote_ref)) {
        (Some(remote), Some(_), Some(&tip)) => {
            checkout.fetch(&user, remote, &remote_ref, options.token.as_ref())?;
            let (ours, parents, summary) = checkout.describe(tip).unwrap_or_default();
            if !ours || parents.len() != 1 {
                return Err(PromoteError::BranchTaken {
                    branch,
                    remote: remote.name.clone(),
                    tip: tip.to_string(),
                    summary,
                });
            }
            Some((tip, parents))
        }
        _ => None,
    };
    let open_pr = match forge {
        Some(forge) => forge
            .find_open(&branch, &outcome.base_branch)
            .await
            .map_err(|e| PromoteError::Forge(Box::new(e)))?,
        None => None,
    };

    outcome.gates = gates::run(GateContext {
        root: checkout.root(),
        pipeline: &pipeline,
        gates: &stage.gates,
        change: &outcome.change,
        target: &edited,
        cluster: &services.cluster,
        #[cfg(feature = "model-validation")]
        limits: options.validation_limits.clone(),
    })
    .await;
    if !outcome.gates.passed() {
        outcome.status = PromoteStatus::Blocked;
        return Ok(outcome);
    }
    if options.dry_run {
        outcome.status = PromoteStatus::DryRun;
        outcome.branch = Some(branch);
        return Ok(outcome);
    }

    let message = render::commit_message(
        &outcome.change,
        &pipeline.name,
        &pipeline.file,
        outcome.base_short(),
        &outcome.gates,
    );
    let commit = checkout.commit(&edits, &branch, &message, &user.signature()?)?;
    outcome.commit = Some(commit.to_string());
    outcome.commit_message = Some(message);
    outcome.branch = Some(branch.clone());
    let Some(remote) = remote else {
        user.import_branch(&checkout, &branch)?;
        outcome.status = PromoteStatus::Committed;
        return Ok(outcome);
    };
    let token = options.token.as_ref();
    let Some(forge) = forge else {
        let target_ref = format!("refs/heads/{}", outcome.base_branch);
        checkout.push(&user, &remote, &branch, &target_ref, None, token)?;
        outcome.status = PromoteStatus::Pushed;
        return Ok(outcome);
    };

    // The branch: pushed fresh, kept when it already holds this promotion, or replaced when it
    // holds an earlier run's commit.
    let mut replaced = true;
    match earlier_run {
        None => checkout.push(&user, &remote, &branch, &remote_ref, None, token)?,
        Some((tip, parents))
            if parents == [checkout.base()]
                && checkout.tree_of(tip).is_some()
                && checkout.tree_of(tip) == checkout.tree_of(commit) =>
        {
            replaced = false;
            outcome.commit = Some(tip.to_string());
            outcome.messages.push(format!(
                "{}/{branch} already holds this promotion; not pushed again",
                remote.name
            ));
        }
        Some((tip, _)) => checkout.push(&user, &remote, &branch, &remote_ref, Some(tip), token)?,
    }
    let body = render::pr_body(&outcome, &options.command);
    let title = render::title(&outcome.change);
    let pr_error = |source| PromoteError::PullRequest {
        branch: branch.clone(),
        remote: remote.name.clone(),
        env: options.target.clone(),
        source: Box::new(source),
    };
    let pr = if let Some(open) = open_pr {
        let pr = forge.update(open.number, &title, &body).await.map_err(pr_error)?;
        let comment = render::update_comment(&outcome, replaced);
        forge.comment(pr.number, &comment).await.map_err(pr_error)?;
        outcome.status = PromoteStatus::PullRequestUpdated;
        pr
    } else {
        let request = NewPullRequest {
            title,
            head: branch.clone(),
            base: outcome.base_branch.clone(),
            body: body.clone(),
        };
        let pr = forge.create(&request).await.map_err(pr_error)?;
        outcome.status = PromoteStatus::PullRequestOpened;
        pr
    };
    outcome.pull_request = Some(pr);
    outcome.pull_request_body = Some(body);
    Ok(outcome)
}

/// The environment, refusing one with input errors: promoting from or into a broken env would
/// carry the breakage along or hide it.
fn loaded(repo: &Repo, name: &str) -> Result<Environment, PromoteError> {
    let env = repo.load_env(name);
    let errors: Vec<String> =
        env.diagnostics.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    if errors.is_empty() {
        Ok(env)
    } else {
        Err(PromoteError::InputErrors { env: name.to_owned(), list: errors.join("\n  ") })
    }
}

/// The pipeline stage that promotes into the target.
fn find_stage(
    repo: &Repo,
    names: &[String],
    options: &PromoteOptions,
) -> Result<(Pipeline, Stage), PromoteError> {
    if !names.contains(&options.target) {
        return Err(RepoError::UnknownEnv {
            name: options.target.clone(),
            repo: repo.root().display().to_string(),
            found: names.join(", "),
        }
        .into());
    }
    let (pipelines, diagnostics) = pipeline::load_pipelines(repo.root(), names);
    let errors: Vec<String> =
        diagnostics.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    if !errors.is_empty() {
        return Err(PromoteError::InvalidPipelines(errors.join("\n  ")));
    }
    let mut candidates: Vec<(Pipeline, Stage)> = pipelines
        .iter()
        .filter_map(|p| p.stage(&options.target).map(|s| (p.clone(), s.clone())))
        .collect();
    if let Some(wanted) = &options.pipeline {
        let found: Vec<String> = candidates.iter().map(|(p, _)| p.name.clone()).collect();
        candidates.retain(|(p, _)| &p.name == wanted);
        if candidates.is_empty() {
            return Err(PromoteError::UnknownPipeline {
                name: wanted.clone(),
                env: options.target.clone(),
                found: if found.is_empty() { "none".into() } else { found.join(", ") },
            });
        }
    }
    match candidates.len() {
        0 => Err(PromoteError::NoStage { env: options.target.clone() }),
        1 => Ok(candidates.remove(0)),
        _ => Err(PromoteError::AmbiguousStage {
            env: options.target.clone(),
            pipelines: candidates
                .iter()
                .map(|(p, _)| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// `coxswain/promote-<env>-<short>`: `<short>` is the incoming model's name and version when the
/// model moves with a version, else a hash of the moved values, so the same promotion always
/// lands on the same branch (and the same pull request).
pub fn branch_name(change: &Change) -> String {
    let short = change
        .model
        .as_ref()
        .and_then(|m| m.new.version.as_ref().map(|v| format!("{}-{v}", m.new.name)))
        .map(|s| sanitize(&s))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            let mut text = String::new();
            for moved in &change.moved {
                let _ = writeln!(text, "{}\0{}\0{}", moved.file, moved.field, moved.new);
            }
            let oid = git2::Oid::hash_object(git2::ObjectType::Blob, text.as_bytes())
                .map(|o| o.to_string())
                .unwrap_or_default();
            oid.get(..8).unwrap_or("changes").to_owned()
        });
    let name = format!("coxswain/promote-{}-{short}", sanitize(&change.to));
    if git2::Reference::is_valid_name(&format!("refs/heads/{name}")) {
        name
    } else {
        format!("coxswain/promote-{}", sanitize(&change.to))
    }
}

/// Keeps `[A-Za-z0-9._-]`, turns the rest into `-`, and avoids `..` and edge dots.
fn sanitize(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .collect();
    let mut out = mapped.replace("..", "-");
    while out.contains("..") {
        out = out.replace("..", "-");
    }
    out.trim_matches(|c| c == '.' || c == '-').trim_end_matches(".lock").to_owned()
}

/// A non-empty environment variable.
fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The token for GitHub: `GITHUB_TOKEN`, else `GH_TOKEN`.
pub fn github_token_from_env() -> Option<String> {
    non_empty_env("GITHUB_TOKEN").or_else(|| non_empty_env("GH_TOKEN"))
}

/// Why no forge is configured (completes "opening a pull request needs GitHub access: …").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NoForgeReason(pub String);

/// [`github_forge`] with everything from the environment, as GitHub Actions sets it
/// (`GITHUB_REPOSITORY`, `GITHUB_API_URL`, the token): for callers with no command line.
pub fn github_forge_from_env(root: &Path, remote: &str) -> Result<forge::GitHub, NoForgeReason> {
    github_forge(
        root,
        remote,
        non_empty_env("GITHUB_REPOSITORY").as_deref(),
        non_empty_env("GITHUB_API_URL").as_deref(),
        github_token_from_env().as_deref(),
    )
}

/// A GitHub forge configured the way people expect: `--github-repo` (or `GITHUB_REPOSITORY`,
/// or the remote's URL when it points at a GitHub host), `--github-api` (or `GITHUB_API_URL`,
/// else api.github.com), and the token from `GITHUB_TOKEN` / `GH_TOKEN`. The `Err` says what is
/// missing; it matters only when a pull request is to be opened.
pub fn github_forge(
    root: &Path,
    remote: &str,
    repository: Option<&str>,
    api: Option<&str>,
    token: Option<&str>,
) -> Result<forge::GitHub, NoForgeReason> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| NoForgeReason("set GITHUB_TOKEN (or GH_TOKEN)".into()))?;
    let repository = if let Some(repository) = repository.filter(|r| !r.is_empty()) {
        repository.to_owned()
    } else {
        let url = UserRepo::open(root)
            .and_then(|user| user.remote(remote))
            .map(|r| r.url)
            .map_err(|e| NoForgeReason(e.to_string()))?;
        forge::repository_from_url(&url).ok_or_else(|| {
            NoForgeReason(format!(
                "cannot tell the GitHub repository from the URL of remote {remote} ({}); \
                 pass --github-repo OWNER/NAME",
                crate::git::redact_credentials(&url)
            ))
        })?
    };
    forge::GitHub::new(api.unwrap_or(forge::DEFAULT_API), &repository, token)
        .map_err(|e| NoForgeReason(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Callers (the desktop app) spawn promotions on a multi-threaded runtime.
    #[allow(dead_code)]
    fn promote_future_is_send(root: &Path, options: &PromoteOptions, services: &Services<'_>) {
        fn is_send<T: Send>(_: &T) {}
        is_send(&promote(root, options, services));
    }

    #[test]
    fn branch_names_are_valid_refs() {
        for text in ["iris-1.1.0", "a b/c..d", "..x..", "m.lock", "ü"] {
            let name = format!("coxswain/promote-x-{}", sanitize(text));
            assert!(git2::Reference::is_valid_name(&format!("refs/heads/{name}")), "{name}");
        }
        assert_eq!(sanitize("iris-classifier-1.1.0"), "iris-classifier-1.1.0");
        assert_eq!(sanitize("a b/c..d"), "a-b-c-d");
    }
}
