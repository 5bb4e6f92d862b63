//! What the remote has that the checkout has not synced from (the app's "incoming" list).

use super::{GitError, git_error, repo_prefix};
use crate::repo::envs_touched;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A commit on the tracked remote branch that the checkout does not have yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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

/// Commits on HEAD's upstream branch that HEAD does not contain, after a fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
pub fn remote_status(root: &Path, known: &[String]) -> Result<Option<RemoteStatus>, GitError> {
    let err = |e: git2::Error| git_error(root, &e);
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
    let mut options = git2::FetchOptions::new();
    options.remote_callbacks(super::remote_callbacks(&config, None));
    repo.find_remote(&remote_name)
        .and_then(|mut remote| remote.fetch(&[] as &[&str], Some(&mut options), None))
        .map_err(|e| GitError::Fetch {
            remote: remote_name.clone(),
            repo: root.display().to_string(),
            message: e.message().to_owned(),
        })?;
    let upstream_oid = repo.refname_to_id(&upstream_ref).map_err(err)?;
    let mut walk = repo.revwalk().map_err(err)?;
    walk.push(upstream_oid).map_err(err)?;
    walk.hide(head_oid).map_err(err)?;
    let oids: Vec<git2::Oid> = walk.collect::<Result<_, _>>().map_err(err)?;
    let prefix = repo_prefix(&repo, root);
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
