//! Everything Coxswain asks of git, in one place: the checkout's state and whether a protected
//! environment may be synced from it, an env folder as a commit has it, the restore commit of a
//! rollback, the remote's incoming commits, and the one credential callback.

mod credentials;
mod remote;
mod revision;

pub use credentials::{HostToken, remote_callbacks};
pub use remote::{REMOTE_COMMITS_SHOWN, RemoteCommit, RemoteStatus, remote_status};
pub use revision::{EnvFiles, env_files_at, is_pushed, write_dir_at};

use git2::{Repository, StatusOptions};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The checkout's state, as recorded in history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitInfo {
    /// HEAD's commit, when the repo is a git checkout with a commit.
    pub sha: Option<String>,
    /// HEAD's branch (`None` when detached).
    pub branch: Option<String>,
    /// Branches (local, or remote-tracking under `origin/`) whose tip is HEAD.
    pub branches_at_head: Vec<String>,
    /// Uncommitted or untracked files under the environment's folder.
    pub dirty_files: Vec<String>,
    /// Files under the environment's folder that `.gitignore` hides from `git status` (at most
    /// [`MAX_IGNORED_LISTED`]): the loader still reads the manifests among them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored_files: Vec<String>,
}

/// How many ignored files [`inspect`] lists.
pub const MAX_IGNORED_LISTED: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{repo}: {message}")]
    Git { repo: String, message: String },
    #[error(
        "environment {env} is protected: {reason}. Protected environments sync only from a \
         committed revision of branch {branch}, pushed to origin/{branch}, with a clean \
         environments/{env}/ folder (and clean folders a kustomize overlay reads)"
    )]
    Protected { env: String, branch: String, reason: String },
    #[error("git fetch {remote} in {repo}: {message}")]
    Fetch { remote: String, repo: String, message: String },
}

/// `text` with the user-info of every URL in it (`https://user:secret@host/…`) replaced by `***`,
/// so an error or a log line never shows a credential someone put in a remote URL.
pub fn redact_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let authority_end = after.find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace());
        let authority = &after[..authority_end.unwrap_or(after.len())];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                rest = &after[userinfo_end..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

fn git_error(repo: &Path, error: &git2::Error) -> GitError {
    GitError::Git { repo: repo.display().to_string(), message: error.message().to_owned() }
}

/// Where the Coxswain repo `root` sits inside the git work tree (empty when at its top).
fn repo_prefix(repo: &Repository, root: &Path) -> PathBuf {
    let workdir = repo.workdir().and_then(|w| w.canonicalize().ok());
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    workdir.and_then(|w| root.strip_prefix(w).ok().map(Path::to_path_buf)).unwrap_or_default()
}

/// The `origin` remote's URL of the git repository holding `root`, and where `root` sits in its
/// work tree (`/`-separated, empty at the top). `None` outside git or without an `origin`.
pub fn origin(root: &Path) -> Option<(String, String)> {
    let repo = Repository::discover(root).ok()?;
    let remote = repo.find_remote("origin").ok()?;
    let url = remote.url().ok()?.to_owned();
    let prefix = repo_prefix(&repo, root).to_string_lossy().replace('\\', "/");
    Some((url, prefix))
}

/// Inspects the checkout at `root` for `environments/<env>/`. `Ok(None)` when `root` is not in a
/// git repository.
pub fn inspect(root: &Path, env: &str) -> Result<Option<GitInfo>, GitError> {
    inspect_with(root, env, &[])
}

/// [`inspect`], counting uncommitted files in `also` (repo-relative folders the env reads
/// besides its own, a kustomize overlay's bases) as the env's too.
pub fn inspect_with(root: &Path, env: &str, also: &[String]) -> Result<Option<GitInfo>, GitError> {
    let repo = match Repository::discover(root) {
        Ok(repo) => repo,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(git_error(root, &e)),
    };
    let head = repo.head().ok();
    let sha = head.as_ref().and_then(git2::Reference::target).map(|oid| oid.to_string());
    let branch =
        head.as_ref().filter(|h| h.is_branch()).and_then(|h| h.shorthand().ok()).map(str::to_owned);
    let mut branches_at_head = Vec::new();
    if let Some(target) = head.as_ref().and_then(git2::Reference::target) {
        for (kind, prefix) in [(git2::BranchType::Local, ""), (git2::BranchType::Remote, "origin/")]
        {
            let branches = repo.branches(Some(kind)).map_err(|e| git_error(root, &e))?;
            for (branch, _) in branches.flatten() {
                let name = branch.name().ok().flatten().unwrap_or_default().to_owned();
                if branch.get().target() == Some(target) && name.starts_with(prefix) {
                    branches_at_head.push(name.trim_start_matches(prefix).to_owned());
                }
            }
        }
    }
    // Status paths are relative to the work tree, which may sit above the Coxswain repo root.
    let prefix = repo_prefix(&repo, root);
    let env_path = prefix.join("environments").join(env);
    let mut options = StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(true)
        .recurse_ignored_dirs(true);
    for path in std::iter::once(env_path).chain(also.iter().map(|dir| prefix.join(dir))) {
        options.pathspec(path.to_string_lossy().replace('\\', "/"));
    }
    let statuses = repo.statuses(Some(&mut options)).map_err(|e| git_error(root, &e))?;
    let (mut dirty_files, mut ignored_files) = (Vec::new(), Vec::new());
    for entry in statuses.iter() {
        let Ok(path) = entry.path() else { continue };
        if !entry.status().is_ignored() {
            dirty_files.push(path.to_owned());
        } else if ignored_files.len() < MAX_IGNORED_LISTED {
            ignored_files.push(path.to_owned());
        }
    }
    Ok(Some(GitInfo { sha, branch, branches_at_head, dirty_files, ignored_files }))
}

/// Refuses a protected env unless the checkout is a clean, committed revision of `branch` whose
/// env folder holds no ignored file that `loads` (the loader would read it, though git does not
/// track it).
pub fn check_protected(
    info: Option<&GitInfo>,
    env: &str,
    branch: &str,
    loads: impl Fn(&str) -> bool,
) -> Result<(), GitError> {
    let refuse = |reason: String| {
        Err(GitError::Protected { env: env.to_owned(), branch: branch.to_owned(), reason })
    };
    let Some(info) = info else { return refuse("the repo is not a git checkout".into()) };
    if info.sha.is_none() {
        return refuse("the repo has no commit yet".into());
    }
    if !info.dirty_files.is_empty() {
        let mut files = info.dirty_files.clone();
        files.truncate(5);
        return refuse(format!("the folder has uncommitted changes ({})", files.join(", ")));
    }
    let ignored: Vec<&str> =
        info.ignored_files.iter().map(String::as_str).filter(|f| loads(f)).take(5).collect();
    if !ignored.is_empty() {
        return refuse(format!(
            "the folder holds files that git ignores but the loader reads ({}); a file that is \
             not committed cannot reach a protected environment: commit it or move it out",
            ignored.join(", ")
        ));
    }
    let on_branch =
        info.branch.as_deref() == Some(branch) || info.branches_at_head.iter().any(|b| b == branch);
    if !on_branch {
        let at = info.branch.clone().unwrap_or_else(|| "a detached HEAD".into());
        return refuse(format!("HEAD is {at}, not the tip of {branch}"));
    }
    Ok(())
}

/// Writes a commit whose `environments/<env>/` equals that folder at commit `sha`, so git agrees
/// with a rolled-back cluster and the next sync does not redeploy the bad version.
///
/// With `branch`, the commit goes on that new branch (from HEAD) and the working tree is left
/// alone — for protected envs, whose changes go through review. Without, it goes on the current
/// branch and the env folder in the working tree and index is updated to match.
pub fn commit_env_restore(
    root: &Path,
    env: &str,
    sha: &str,
    branch: Option<&str>,
    message: &str,
) -> Result<git2::Oid, GitError> {
    let repo = Repository::discover(root).map_err(|e| git_error(root, &e))?;
    let err = |e: git2::Error| git_error(root, &e);
    let env_path = repo_prefix(&repo, root).join("environments").join(env);
    let source =
        repo.find_commit(git2::Oid::from_str(sha).map_err(err)?).map_err(|e| GitError::Git {
            repo: root.display().to_string(),
            message: format!(
                "commit {sha} of the revision is not in this repository ({}); fetch it first",
                e.message()
            ),
        })?;
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(err)?;
    let old_entry = source.tree().map_err(err)?.get_path(&env_path).map_err(|e| GitError::Git {
        repo: root.display().to_string(),
        message: format!("commit {sha} has no {}: {}", env_path.display(), e.message()),
    })?;
    let new_tree = replace_subtree(&repo, &head.tree().map_err(err)?, &env_path, old_entry.id())
        .map_err(err)?;
    if new_tree == head.tree_id() {
        return Err(GitError::Git {
            repo: root.display().to_string(),
            message: format!(
                "{} already matches commit {sha}; nothing to commit",
                env_path.display()
            ),
        });
    }
    let tree = repo.find_tree(new_tree).map_err(err)?;
    let signature = repo
        .signature()
        .or_else(|_| git2::Signature::now("Coxswain", "coxswain@localhost"))
        .map_err(err)?;
    let oid = if let Some(name) = branch {
        let oid =
            repo.commit(None, &signature, &signature, message, &tree, &[&head]).map_err(err)?;
        repo.branch(name, &repo.find_commit(oid).map_err(err)?, false).map_err(err)?;
        oid
    } else {
        {
            let oid = repo
                .commit(Some("HEAD"), &signature, &signature, message, &tree, &[&head])
                .map_err(err)?;
            let mut checkout = git2::build::CheckoutBuilder::new();
            checkout.force().path(env_path.to_string_lossy().replace('\\', "/"));
            repo.checkout_tree(tree.as_object(), Some(&mut checkout)).map_err(err)?;
            let mut index = repo.index().map_err(err)?;
            index.read_tree(&tree).map_err(err)?;
            index.write().map_err(err)?;
            oid
        }
    };
    Ok(oid)
}

/// Which of `dirs` (repo-relative folders) differ between commit `sha` and HEAD: a kustomize
/// overlay's bases, which restoring the env folder alone does not bring back.
pub fn dirs_changed_since(
    root: &Path,
    sha: &str,
    dirs: &[String],
) -> Result<Vec<String>, GitError> {
    let repo = Repository::discover(root).map_err(|e| git_error(root, &e))?;
    let err = |e: git2::Error| git_error(root, &e);
    let prefix = repo_prefix(&repo, root);
    let then = repo.find_commit(git2::Oid::from_str(sha).map_err(err)?).map_err(err)?;
    let then = then.tree().map_err(err)?;
    let now = repo.head().and_then(|h| h.peel_to_tree()).map_err(err)?;
    let id =
        |tree: &git2::Tree<'_>, dir: &str| tree.get_path(&prefix.join(dir)).ok().map(|e| e.id());
    Ok(dirs.iter().filter(|dir| id(&then, dir) != id(&now, dir)).cloned().collect())
}

/// A copy of `tree` with the entry at `path` (a directory) replaced by tree `replacement`.
fn replace_subtree(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    path: &Path,
    replacement: git2::Oid,
) -> Result<git2::Oid, git2::Error> {
    let mut components = path.components();
    let Some(first) = components.next() else { return Ok(replacement) };
    let name = first.as_os_str().to_string_lossy().into_owned();
    let rest: std::path::PathBuf = components.collect();
    let mut builder = repo.treebuilder(Some(tree))?;
    let child = if rest.as_os_str().is_empty() {
        replacement
    } else {
        let existing = match tree.get_name(&name) {
            Some(entry) => repo.find_tree(entry.id())?,
            None => repo.find_tree(repo.treebuilder(None)?.write()?)?,
        };
        replace_subtree(repo, &existing, &rest, replacement)?
    };
    builder.insert(&name, child, 0o040_000)?;
    builder.write()
}

#[cfg(test)]
mod redaction_tests {
    use super::redact_credentials;

    #[test]
    fn credentials_in_urls_are_never_shown() {
        assert_eq!(
            redact_credentials("cannot reach https://bob:ghp_s3cret@github.com/a/b.git: 401"),
            "cannot reach https://***@github.com/a/b.git: 401"
        );
        assert_eq!(
            redact_credentials("push https://tok@ghe.example/x and http://u:p@h:8080/y"),
            "push https://***@ghe.example/x and http://***@h:8080/y"
        );
        let plain = "ssh: git@github.com:a/b.git and https://github.com/a/b and mail a@b.c";
        assert_eq!(redact_credentials(plain), plain);
    }
}
