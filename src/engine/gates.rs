//! The gates every write passes, whatever starts it (CLI, `--sync`, the app, a rollback, the
//! automatic rollback): input errors, policy, the model (sha256 pin + validation spec), the
//! protected-branch rule, and for restored revisions, the loader's rules plus proof that the
//! revision is what its git commit says. Nothing here writes; a refusal is a [`Failure`] that
//! says why, and the engine records nothing and applies nothing after one.

use crate::diagnostic::Diagnostic;
use crate::git::{self, GitInfo};
use crate::history::{self, Revision};
use crate::pipeline::Pipeline;
use crate::policy;
use crate::repo::{DesiredObject, Environment, Repo, kustomize};
use crate::sync::{Failure, FailureKind};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// What passing the gates of a sync yields: the checkout's git state for the history record and
/// notes to show (the model's result).
#[derive(Debug, Clone, Default)]
pub struct Admission {
    pub git: Option<GitInfo>,
    pub notes: Vec<String>,
}

/// The gates of a sync of `env` as loaded from the working tree. `dry_run` skips only the
/// protected-branch rule (a preview of uncommitted work is fine; applying it is not).
pub fn admit_sync(
    root: &Path,
    pipelines: &[Pipeline],
    env: &Environment,
    dry_run: bool,
) -> Result<Admission, Failure> {
    input(env)?;
    policy_gate(env)?;
    let notes = model_gate(root, pipelines, env)?.into_iter().collect();
    // An overlay's bases are part of what is synced: uncommitted changes there count too.
    let also = env.kustomization.as_ref().map(|k| k.extra_dirs.as_slice()).unwrap_or_default();
    let git = git::inspect_with(root, &env.name, also)
        .map_err(|error| Failure::new(FailureKind::Git, error.to_string()))?;
    if env.config.protected && !dry_run {
        protected_checkout(root, git.as_ref(), env)?;
    }
    Ok(Admission { git, notes })
}

/// A protected env syncs only what review saw: a clean, committed checkout of its branch, no
/// ignored file the loader would read, and a commit that is on `origin/<branch>` (pushed).
fn protected_checkout(
    root: &Path,
    git: Option<&GitInfo>,
    env: &Environment,
) -> Result<(), Failure> {
    let branch = &env.config.branch;
    let refused = |error: git::GitError| Failure::new(FailureKind::Protected, error.to_string());
    // kustomize reads any file an overlay names (generator inputs too), not only YAML.
    let loads = |path: &str| {
        let visible = path.split('/').all(|part| !part.starts_with('.'));
        visible && (env.kustomization.is_some() || loaded_from_env_folder(path))
    };
    git::check_protected(git, &env.name, branch, loads).map_err(refused)?;
    let sha = git.and_then(|g| g.sha.as_deref()).unwrap_or_default();
    let pushed = git::is_pushed(root, sha, branch)
        .map_err(|error| Failure::new(FailureKind::Git, error.to_string()))?;
    if pushed {
        return Ok(());
    }
    Err(refused(git::GitError::Protected {
        env: env.name.clone(),
        branch: branch.clone(),
        reason: format!(
            "commit {} is not on origin/{branch} (not pushed, or not fetched yet: `git fetch \
             origin`); a local commit cannot reach a protected environment",
            sha.get(..12).unwrap_or(sha)
        ),
    }))
}

/// Whether the loader reads the file at `path` (relative to the work tree): a YAML file with no
/// hidden (`.`) folder or name on its way.
fn loaded_from_env_folder(path: &str) -> bool {
    path.split('/').all(|part| !part.starts_with('.'))
        && (crate::repo::is_yaml_file(path) || kustomize::is_kustomization_file(path))
}

fn input(env: &Environment) -> Result<(), Failure> {
    let errors: Vec<&Diagnostic> = env.diagnostics.iter().filter(|d| d.is_error()).collect();
    let Some(first) = errors.first() else { return Ok(()) };
    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let message = format!(
        "environment {} has input errors (run `coxswain check`):\n  {}",
        env.name,
        list.join("\n  ")
    );
    Err(Failure::new(FailureKind::Input, message).at(first))
}

fn policy_gate(env: &Environment) -> Result<(), Failure> {
    let errors: Vec<Diagnostic> =
        policy::check(env).into_iter().filter(Diagnostic::is_error).collect();
    let Some(first) = errors.first() else { return Ok(()) };
    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let message = format!("policy gate failed:\n  {}", list.join("\n  "));
    Err(Failure::new(FailureKind::Policy, message).at(first))
}

/// The model gate of a sync: the env's model against its pipeline's spec (the regression
/// baseline belongs to promotion). A note when the env declares a model; none when it does not.
#[cfg(feature = "model-validation")]
fn model_gate(
    root: &Path,
    pipelines: &[Pipeline],
    env: &Environment,
) -> Result<Option<String>, Failure> {
    use crate::validate::{self, ValidateError};
    let Some(model) = &env.config.model else { return Ok(None) };
    let spec = match validate::spec_for_env(pipelines, &env.name) {
        Ok((spec, _)) => spec,
        Err(ValidateError::NoSpec { .. }) => {
            return Ok(Some(format!(
                "model {}: no validation spec in pipelines/, not validated",
                model.name
            )));
        }
        Err(error) => {
            return Err(Failure::new(
                FailureKind::ModelError,
                format!("model gate error: {error}"),
            ));
        }
    };
    let report = validate::run(root, model, &spec, None).map_err(|error| {
        Failure::new(
            FailureKind::ModelError,
            format!("model gate error: model validation: {error}"),
        )
    })?;
    if !report.passed() {
        let message = format!("model validation failed:\n{}", report.render_text());
        return Err(Failure::new(FailureKind::Model, message));
    }
    let checks =
        report.checks.iter().filter(|c| c.verdict != coxswain_model::Verdict::Skipped).count();
    Ok(Some(format!(
        "model {} {}: {checks} checks passed",
        model.name,
        model.version.as_deref().unwrap_or("")
    )))
}

#[cfg(not(feature = "model-validation"))]
#[allow(clippy::unnecessary_wraps)]
fn model_gate(
    _root: &Path,
    _pipelines: &[Pipeline],
    env: &Environment,
) -> Result<Option<String>, Failure> {
    Ok(env.config.model.as_ref().map(|m| {
        format!("model {}: not validated (built without the model-validation feature)", m.name)
    }))
}

/// Whether a restored revision was checked against git.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Verification {
    /// Its manifests are exactly what this commit has in the env folder.
    Verified { commit: String },
    /// It could not be checked, and why.
    Unverified { reason: String },
}

/// The gates of restoring revision `raw` of `env` (whose settings are today's, from git):
/// the recorded digest, the loader's rules, and the revision's git commit. Protected envs restore
/// only revisions verified against a commit on their branch; others also accept an unverifiable
/// revision when `allow_unverified` says so.
pub fn admit_restore(
    root: &Path,
    env: &Environment,
    revision: &Revision,
    raw: &Value,
    allow_unverified: bool,
) -> Result<(Environment, Verification), Failure> {
    let refuse = |message: String| Failure::new(FailureKind::Revision, message);
    let restored =
        history::restore(env, revision, raw).map_err(|error| refuse(error.to_string()))?;
    let verification = verify(root, env, revision, &restored.objects)?;
    let number = revision.number;
    match &verification {
        Verification::Verified { commit } if env.config.protected => {
            let branch = &env.config.branch;
            let pushed = git::is_pushed(root, commit, branch)
                .map_err(|error| Failure::new(FailureKind::Git, error.to_string()))?;
            if !pushed {
                return Err(Failure::new(
                    FailureKind::Protected,
                    format!(
                        "environment {} is protected: revision {number} comes from commit {commit}, \
                         which is not on origin/{branch}; protected environments restore only \
                         reviewed (pushed) commits",
                        env.name
                    ),
                ));
            }
        }
        Verification::Unverified { reason } if env.config.protected => {
            return Err(Failure::new(
                FailureKind::Protected,
                format!(
                    "environment {} is protected: revision {number} cannot be verified against \
                     git ({reason}); protected environments restore only revisions whose \
                     manifests match a reviewed commit",
                    env.name
                ),
            ));
        }
        Verification::Unverified { reason } if !allow_unverified => {
            return Err(refuse(format!(
                "revision {number} of environment {} cannot be verified against git ({reason}); \
                 pass --allow-unverified to restore it anyway",
                env.name
            )));
        }
        Verification::Verified { .. } | Verification::Unverified { .. } => {}
    }
    Ok((restored, verification))
}

/// Compares the restored objects with what the revision's commit renders.
fn verify(
    root: &Path,
    env: &Environment,
    revision: &Revision,
    restored: &[DesiredObject],
) -> Result<Verification, Failure> {
    let unverified = |reason: &str| Ok(Verification::Unverified { reason: reason.to_owned() });
    let Some(sha) = &revision.git_sha else {
        return unverified("it was not synced from a git commit");
    };
    if revision.dirty {
        return unverified("it was synced from a checkout with uncommitted changes");
    }
    let files = git::env_files_at(root, sha, &env.name)
        .map_err(|error| Failure::new(FailureKind::Git, error.to_string()))?;
    let Some(files) = files else {
        return unverified(&format!("its commit {sha} is not in this repository; fetch it"));
    };
    let env_dir = format!("environments/{}", env.name);
    let is_overlay = files.files.iter().any(|f| {
        f.path.strip_prefix(&format!("{env_dir}/")).is_some_and(kustomize::is_kustomization_file)
            && f.path.matches('/').count() == 2
    });
    let rendered = if is_overlay {
        overlay_at(root, sha, &env.name)?
    } else {
        Environment::from_files(&env.name, files.config.as_deref(), &files.files)
    };
    if history::digest_of(&rendered.objects) == history::digest_of(restored) {
        return Ok(Verification::Verified { commit: sha.clone() });
    }
    Err(Failure::new(
        FailureKind::Revision,
        format!(
            "revision {} of environment {} is refused: it says it was synced from commit {sha}, \
             but its manifests differ from what that commit has in environments/{}/ ({}); \
             nothing was applied",
            revision.number,
            env.name,
            env.name,
            differences(&rendered.objects, restored)
        ),
    ))
}

/// The kustomize overlay `environments/<env>/` rendered as commit `sha` has it: the env folder
/// and the folders it references (bases, components; found level by level, as each level is
/// written) are written to a temporary folder and loaded from there.
fn overlay_at(root: &Path, sha: &str, env: &str) -> Result<Environment, Failure> {
    let git_failure = |error: git::GitError| Failure::new(FailureKind::Git, error.to_string());
    let temporary = tempfile::tempdir().map_err(|e| {
        Failure::new(
            FailureKind::Git,
            format!("cannot create a folder to render commit {sha}: {e}"),
        )
    })?;
    let dest = temporary.path();
    let env_dir = format!("environments/{env}");
    git::write_dir_at(root, sha, &env_dir, dest).map_err(git_failure)?;
    std::fs::create_dir_all(dest.join("environments")).map_err(|e| {
        Failure::new(FailureKind::Git, format!("cannot write commit {sha}'s files: {e}"))
    })?;
    let mut written = vec![env_dir.clone()];
    for _ in 0..16 {
        let Some(file_name) = kustomize::find_kustomization(&dest.join(&env_dir)) else { break };
        let needed: Vec<String> = kustomize::read(dest, &env_dir, file_name)
            .extra_dirs
            .into_iter()
            .filter(|dir| !written.iter().any(|w| dir == w || dir.starts_with(&format!("{w}/"))))
            .collect();
        if needed.is_empty() {
            break;
        }
        for dir in needed {
            git::write_dir_at(root, sha, &dir, dest).map_err(git_failure)?;
            written.push(dir);
        }
    }
    let repo = Repo::open(dest).map_err(|e| Failure::new(FailureKind::Git, e.to_string()))?;
    let rendered = repo.load_env(env);
    if let Some(error) = rendered.diagnostics.iter().find(|d| d.is_error()) {
        return Err(Failure::new(
            FailureKind::Revision,
            format!(
                "the kustomize overlay environments/{env}/ of commit {sha} cannot be rendered to \
                 check the revision against it: {error}; nothing was applied"
            ),
        ));
    }
    Ok(rendered)
}

/// `only in the revision: …; only in git: …; different: …`, a few names each.
fn differences(git: &[DesiredObject], revision: &[DesiredObject]) -> String {
    let index = |objects: &[DesiredObject]| -> BTreeMap<String, (String, Value)> {
        objects
            .iter()
            .map(|o| (o.key.to_string(), (o.source.file.clone(), o.value.clone())))
            .collect()
    };
    let (git, revision) = (index(git), index(revision));
    let names = |keys: Vec<&String>| {
        let shown: Vec<&str> = keys.iter().take(5).map(|k| k.as_str()).collect();
        let more = keys.len().saturating_sub(shown.len());
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        format!("{}{more}", shown.join(", "))
    };
    let extra: Vec<&String> = revision.keys().filter(|k| !git.contains_key(*k)).collect();
    let missing: Vec<&String> = git.keys().filter(|k| !revision.contains_key(*k)).collect();
    let changed: Vec<&String> = revision
        .iter()
        .filter(|(k, v)| git.get(*k).is_some_and(|g| g != *v))
        .map(|(k, _)| k)
        .collect();
    let mut parts = Vec::new();
    if !extra.is_empty() {
        parts.push(format!("only in the revision: {}", names(extra)));
    }
    if !missing.is_empty() {
        parts.push(format!("only in git: {}", names(missing)));
    }
    if !changed.is_empty() {
        parts.push(format!("different: {}", names(changed)));
    }
    if parts.is_empty() { "the same objects in another order".into() } else { parts.join("; ") }
}
