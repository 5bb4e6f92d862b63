//! An environment as a commit has it, to check a revision against the commit it claims.

use super::{GitError, git_error, repo_prefix};
use crate::repo::kustomize::is_kustomization_file;
use crate::repo::{SourceFile, is_yaml_file};
use git2::{ObjectType, Oid, Repository, Tree};
use std::path::Path;

/// `environments/<env>/` at one commit: `env.yaml`'s text and the manifest files, in the order
/// the working-tree loader reads them.
#[derive(Debug, Clone, Default)]
pub struct EnvFiles {
    pub config: Option<String>,
    pub files: Vec<SourceFile>,
}

/// The env folder at commit `sha`; `Ok(None)` when the commit is not in the local repository
/// (or the repo is no git checkout).
pub fn env_files_at(root: &Path, sha: &str, env: &str) -> Result<Option<EnvFiles>, GitError> {
    let Ok(repo) = Repository::discover(root) else { return Ok(None) };
    let Some(commit) = Oid::from_str(sha).ok().and_then(|oid| repo.find_commit(oid).ok()) else {
        return Ok(None);
    };
    let err = |e: git2::Error| git_error(root, &e);
    let folder = repo_prefix(&repo, root).join("environments").join(env);
    let tree = commit.tree().map_err(err)?;
    let Ok(entry) = tree.get_path(&folder) else { return Ok(Some(EnvFiles::default())) };
    let Ok(env_tree) = repo.find_tree(entry.id()) else { return Ok(Some(EnvFiles::default())) };
    let mut files = Vec::new();
    collect(&repo, &env_tree, &format!("environments/{env}"), &mut files).map_err(err)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let config_path = format!("environments/{env}/env.yaml");
    let config = files
        .iter()
        .position(|f| f.path == config_path)
        .map(|i| String::from_utf8_lossy(&files.remove(i).contents).into_owned());
    Ok(Some(EnvFiles { config, files }))
}

fn collect(
    repo: &Repository,
    tree: &Tree<'_>,
    relative: &str,
    files: &mut Vec<SourceFile>,
) -> Result<(), git2::Error> {
    for entry in tree {
        let name = entry.name().unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let path = format!("{relative}/{name}");
        match entry.kind() {
            Some(ObjectType::Tree) => collect(repo, &repo.find_tree(entry.id())?, &path, files)?,
            Some(ObjectType::Blob) if is_yaml_file(name) || is_kustomization_file(name) => {
                let blob = repo.find_blob(entry.id())?;
                files.push(SourceFile { path, contents: blob.content().to_vec() });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether commit `sha` is on `origin/<branch>`, the remote-tracking branch as last fetched:
/// pushed, and so through review where the forge protects the branch. A commit only on the local
/// branch is not.
pub fn is_pushed(root: &Path, sha: &str, branch: &str) -> Result<bool, GitError> {
    let Ok(repo) = Repository::discover(root) else { return Ok(false) };
    let Ok(oid) = Oid::from_str(sha) else { return Ok(false) };
    let Ok(tip) = repo.refname_to_id(&format!("refs/remotes/origin/{branch}")) else {
        return Ok(false);
    };
    Ok(tip == oid || repo.graph_descendant_of(tip, oid).map_err(|e| git_error(root, &e))?)
}

/// Writes the folder `relative` (repo-relative, `/`-separated) of the Coxswain repo at commit
/// `sha` into `dest/relative`, every file of it (a kustomize overlay also reads generator inputs
/// that are not YAML); symlinks are skipped. `Ok(false)` when the commit or the folder is not
/// there. Rendering an overlay as a commit had it needs its files on disk.
pub fn write_dir_at(root: &Path, sha: &str, relative: &str, dest: &Path) -> Result<bool, GitError> {
    let Ok(repo) = Repository::discover(root) else { return Ok(false) };
    let Some(commit) = Oid::from_str(sha).ok().and_then(|oid| repo.find_commit(oid).ok()) else {
        return Ok(false);
    };
    let err = |e: git2::Error| git_error(root, &e);
    let tree = commit.tree().map_err(err)?;
    let folder = repo_prefix(&repo, root).join(relative);
    let Ok(entry) = tree.get_path(&folder) else { return Ok(false) };
    let Ok(sub_tree) = repo.find_tree(entry.id()) else { return Ok(false) };
    write_tree(&repo, &sub_tree, &dest.join(relative)).map_err(|e| GitError::Git {
        repo: root.display().to_string(),
        message: format!("cannot write {relative} of commit {sha} to {}: {e}", dest.display()),
    })?;
    Ok(true)
}

fn write_tree(repo: &Repository, tree: &Tree<'_>, dest: &Path) -> std::io::Result<()> {
    let git = |e: git2::Error| std::io::Error::other(e.message().to_owned());
    std::fs::create_dir_all(dest)?;
    for entry in tree {
        let Ok(name) = entry.name() else { continue };
        if name == ".." || name == "." || name.contains('/') {
            continue;
        }
        match entry.kind() {
            Some(ObjectType::Tree) => {
                write_tree(repo, &repo.find_tree(entry.id()).map_err(git)?, &dest.join(name))?;
            }
            // 0o120000: a symlink, whose target could point anywhere; not written.
            Some(ObjectType::Blob) if entry.filemode() != 0o120_000 => {
                let blob = repo.find_blob(entry.id()).map_err(git)?;
                std::fs::write(dest.join(name), blob.content())?;
            }
            _ => {}
        }
    }
    Ok(())
}
