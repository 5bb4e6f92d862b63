//! `coxswain set image` and `coxswain scale`: one value of one workload's manifest changed in
//! git, the way `kubectl set image` and `kubectl scale` change it in the cluster — except that
//! git stays the truth. The edit is format-preserving (the promote editor: only that scalar
//! changes, comments and layout stay), made in a private checkout of HEAD (the user's working
//! tree and index are never touched) and committed on a branch; then, with a push, the commit
//! goes onto the env's branch, or — for a protected env — the branch is pushed and a pull request
//! opened (or updated) instead. Without a push the branch is left in the user's repository.

use super::change::{ChangeError, FileEdit, unified_diff};
use super::forge::{NewPullRequest, PullRequest};
use super::gitops::{Checkout, TRAILER, UserRepo};
use super::{ForgeAccess, PromoteError, loaded, sanitize};
use crate::repo::{DesiredObject, Repo, kustomize};
use crate::yaml_edit::{self, YamlPath};
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// The value to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum WorkloadEdit {
    /// `spec.template.spec.containers[name=container].image`.
    Image { container: String, image: String },
    /// `spec.replicas` (which git must already declare: an HPA-scaled workload declares none).
    Replicas(u64),
}

#[derive(Debug, Clone)]
pub struct EditOptions {
    pub env: String,
    pub workload: String,
    pub edit: WorkloadEdit,
    pub remote: String,
    /// `false`: stop after the commit, left on a local branch.
    pub push: bool,
    /// Show the edit only.
    pub dry_run: bool,
    /// For HTTPS pushes, only to the forge's own git host.
    pub token: Option<crate::git::HostToken>,
}

/// How the edit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum EditStatus {
    /// Git already has that value.
    Unchanged,
    DryRun,
    /// Committed on a local branch (no push).
    Committed,
    /// Pushed onto the env's branch.
    Pushed,
    PullRequestOpened,
    PullRequestUpdated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct EditOutcome {
    pub status: EditStatus,
    pub env: String,
    pub workload: String,
    /// The manifest and the line of the value.
    pub file: String,
    pub line: u32,
    pub old: String,
    pub new: String,
    pub diff: String,
    pub branch: Option<String>,
    pub commit: Option<String>,
    /// The branch the commit goes onto (or the pull request merges into).
    pub base_branch: String,
    pub pull_request: Option<PullRequest>,
}

impl EditOutcome {
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "{} {}/{}: {} → {} ({}:{})\n",
            match self.status {
                EditStatus::Unchanged => "unchanged",
                EditStatus::DryRun => "would change",
                EditStatus::Committed => "committed",
                EditStatus::Pushed => "pushed",
                EditStatus::PullRequestOpened => "pull request opened",
                EditStatus::PullRequestUpdated => "pull request updated",
            },
            self.env,
            self.workload,
            self.old,
            self.new,
            self.file,
            self.line
        );
        out.push_str(&self.diff);
        if let (Some(branch), Some(commit)) = (&self.branch, &self.commit) {
            let short = commit.get(..12).unwrap_or(commit);
            let _ = writeln!(out, "branch {branch}, commit {short}");
        }
        if let Some(pr) = &self.pull_request {
            let _ = writeln!(out, "pull request #{}: {}", pr.number, pr.url);
        }
        out
    }
}

const POD_TEMPLATE_KINDS: [&str; 4] =
    ["Deployment.apps", "StatefulSet.apps", "DaemonSet.apps", "Job.batch"];
const SCALABLE_KINDS: [&str; 2] = ["Deployment.apps", "StatefulSet.apps"];

/// What `set image` and `scale` can edit on a git object: its containers' images, and its
/// replicas when git declares them. `None` for objects that run no pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Editable {
    pub containers: Vec<ContainerImage>,
    /// `spec.replicas` as git declares it; `None`: not scalable here (an HPA owns the scale, or
    /// the kind has no replicas).
    pub replicas: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ContainerImage {
    pub name: String,
    pub image: String,
}

impl Editable {
    pub fn of(object: &crate::repo::DesiredObject) -> Option<Self> {
        let kind = object.key.group_kind.as_str();
        if !POD_TEMPLATE_KINDS.contains(&kind) {
            return None;
        }
        let text = |value: &Value, field: &str| {
            value.get(field).and_then(Value::as_str).unwrap_or_default().to_owned()
        };
        let containers = object
            .value
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|c| ContainerImage { name: text(c, "name"), image: text(c, "image") })
                    .collect()
            })
            .unwrap_or_default();
        let replicas = SCALABLE_KINDS
            .contains(&kind)
            .then(|| object.value.pointer("/spec/replicas").and_then(Value::as_u64))
            .flatten();
        Some(Self { containers, replicas })
    }
}

/// Edits the workload in git (see the module docs).
pub async fn edit_workload(
    root: &Path,
    options: &EditOptions,
    forge: &ForgeAccess<'_>,
) -> Result<EditOutcome, PromoteError> {
    let user = UserRepo::open(root)?;
    let head = user.head()?;
    let pushing = options.push && !options.dry_run;
    let remote = if pushing { Some(user.remote(&options.remote)?) } else { None };
    let checkout = Checkout::create(&user, head.oid)?;
    let repo = Repo::open(checkout.root())?.identified_as(root);
    let env = loaded(&repo, &options.env)?;
    let kinds: &[&str] = match options.edit {
        WorkloadEdit::Image { .. } => &POD_TEMPLATE_KINDS,
        WorkloadEdit::Replicas(_) => &SCALABLE_KINDS,
    };
    let object = env
        .objects
        .iter()
        .find(|o| o.name() == options.workload && kinds.contains(&o.key.group_kind.as_str()))
        .ok_or_else(|| PromoteError::NoWorkload {
            env: options.env.clone(),
            workload: options.workload.clone(),
            kinds: kinds.join(", "),
        })?;
    let file = object.source.file.clone();
    // An overlay's objects come from its bases: editing one would change every env sharing it.
    let env_dir = format!("environments/{}/", options.env);
    let overlay = kustomize::find_kustomization(&checkout.root().join(&env_dir)).is_some();
    if overlay || !file.starts_with(&env_dir) || kustomize::is_kustomization_file(&file) {
        return Err(PromoteError::RenderedWorkload { workload: object.key.to_string(), file });
    }
    let before = std::fs::read_to_string(checkout.root().join(&file))
        .map_err(|e| ChangeError::Read { file: file.clone(), reason: e.to_string() })?;
    let edit_error = |source| ChangeError::Edit { file: file.clone(), source };
    let document = yaml_edit::find_document(&before, object.kind(), object.name())
        .map_err(edit_error)?
        .ok_or_else(|| ChangeError::ObjectNotInFile {
            file: file.clone(),
            object: object.key.to_string(),
        })?;
    let (path, pointer, new) = value_path(object, document, &options.edit)?;
    let old = yaml_edit::get_scalar(&before, &path).map_err(edit_error)?.unwrap_or_default();
    let mut outcome = EditOutcome {
        status: EditStatus::Unchanged,
        env: options.env.clone(),
        workload: options.workload.clone(),
        line: object.line_of(&pointer),
        file: file.clone(),
        old: old.clone(),
        new: new.clone(),
        diff: String::new(),
        branch: None,
        commit: None,
        base_branch: env.config.branch.clone(),
        pull_request: None,
    };
    if old == new {
        return Ok(outcome);
    }
    let after = yaml_edit::set_scalar(&before, &path, &new).map_err(edit_error)?;
    let edits = vec![FileEdit { file: file.clone(), before, after }];
    checkout.write_files(&edits)?;
    outcome.diff = unified_diff(&edits);
    // The edited environment must still load (a replica count the schema refuses, say).
    loaded(&repo, &options.env)?;
    let what = match &options.edit {
        WorkloadEdit::Image { container, .. } => format!("set image {container}"),
        WorkloadEdit::Replicas(_) => "scale".to_owned(),
    };
    let branch = format!(
        "coxswain/{}-{}-{}",
        what.replace(' ', "-"),
        sanitize(&options.env),
        sanitize(&options.workload)
    );
    outcome.branch = Some(branch.clone());
    if options.dry_run {
        outcome.status = EditStatus::DryRun;
        return Ok(outcome);
    }
    let protected = env.config.protected;
    let forge = match (forge, pushing && protected) {
        (ForgeAccess::Ready(forge), true) => Some(*forge),
        (ForgeAccess::Unavailable(why), true) => return Err(PromoteError::NoForge(why.clone())),
        (_, false) => None,
    };
    let title = format!("{}: {what} {} {old} → {new}", options.env, options.workload);
    let message = format!(
        "{title}\n\n{file}:{} changed by `coxswain {what}`.\n\n{TRAILER} {} {}\n",
        outcome.line, options.env, options.workload
    );
    let commit = checkout.commit(&edits, &branch, &message, &user.signature()?)?;
    outcome.commit = Some(commit.to_string());
    let Some(remote) = remote else {
        user.import_branch(&checkout, &branch)?;
        outcome.status = EditStatus::Committed;
        return Ok(outcome);
    };
    let token = options.token.as_ref();
    let Some(forge) = forge else {
        let target = format!("refs/heads/{}", outcome.base_branch);
        checkout.push(&user, &remote, &branch, &target, None, token)?;
        outcome.status = EditStatus::Pushed;
        return Ok(outcome);
    };
    // Our own branch: a re-run replaces the earlier run's commit, only if the branch did not
    // move since it was listed (force-with-lease).
    let remote_ref = format!("refs/heads/{branch}");
    let lease = checkout.list_remote(&user, &remote, token)?.get(&remote_ref).copied();
    checkout.push(&user, &remote, &branch, &remote_ref, lease, token)?;
    let body = format!(
        "`coxswain {what}` changes `{}` of {} in environment **{}** ({file}:{}): `{old}` → `{new}`.\n\n```diff\n{}```\n",
        match options.edit {
            WorkloadEdit::Image { .. } => "image",
            WorkloadEdit::Replicas(_) => "spec.replicas",
        },
        options.workload,
        options.env,
        outcome.line,
        outcome.diff
    );
    let pr_error = |source| PromoteError::PullRequest {
        branch: branch.clone(),
        remote: remote.name.clone(),
        env: options.env.clone(),
        source: Box::new(source),
    };
    let open = forge.find_open(&branch, &outcome.base_branch).await.map_err(pr_error)?;
    let pr = if let Some(open) = open {
        outcome.status = EditStatus::PullRequestUpdated;
        forge.update(open.number, &title, &body).await.map_err(pr_error)?
    } else {
        outcome.status = EditStatus::PullRequestOpened;
        let request =
            NewPullRequest { title, head: branch.clone(), base: outcome.base_branch.clone(), body };
        forge.create(&request).await.map_err(pr_error)?
    };
    outcome.pull_request = Some(pr);
    Ok(outcome)
}

/// The YAML path and JSON pointer of the edited value, and its new text.
fn value_path(
    object: &DesiredObject,
    document: usize,
    edit: &WorkloadEdit,
) -> Result<(YamlPath, String, String), PromoteError> {
    match edit {
        WorkloadEdit::Image { container, image } => {
            let containers = object
                .value
                .pointer("/spec/template/spec/containers")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let names: Vec<&str> =
                containers.iter().filter_map(|c| c.get("name").and_then(Value::as_str)).collect();
            let index = names.iter().position(|n| n == container).ok_or_else(|| {
                PromoteError::NoContainer {
                    workload: object.key.to_string(),
                    container: container.clone(),
                    found: names.join(", "),
                }
            })?;
            let path = YamlPath::new(document, Vec::new())
                .key("spec")
                .key("template")
                .key("spec")
                .key("containers")
                .index(index)
                .key("image");
            let pointer = format!("/spec/template/spec/containers/{index}/image");
            Ok((path, pointer, image.clone()))
        }
        WorkloadEdit::Replicas(replicas) => {
            if object.value.pointer("/spec/replicas").is_none() {
                return Err(PromoteError::NoReplicas {
                    workload: object.key.to_string(),
                    file: object.source.file.clone(),
                    line: object.line_of("/spec"),
                });
            }
            let path = YamlPath::new(document, Vec::new()).key("spec").key("replicas");
            Ok((path, "/spec/replicas".to_owned(), replicas.to_string()))
        }
    }
}
