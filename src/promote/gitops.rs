//! Git for promotions: a private checkout of HEAD, the promotion commit, and the remote.
//!
//! The user's working tree and index are never touched: the promotion is checked out into a
//! temporary repository that borrows the user's objects through `objects/info/alternates` (as
//! `git clone --shared` does, so nothing is copied), edited and committed there, and pushed from
//! there. Only `--no-push` writes to the user's repository, and only a branch ref.

use super::change::FileEdit;
use crate::git::{HostToken, redact_credentials};
use git2::{
    BranchType, Commit, Direction, ErrorCode, FetchOptions, Oid, PushOptions, Repository,
    Signature, Status, StatusOptions,
};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The trailer that marks a commit as made by `coxswain promote`; a branch whose tip carries it
/// may be replaced by the next run of the same promotion.
pub const TRAILER: &str = "Coxswain-Promotion:";

#[derive(Debug, thiserror::Error)]
pub enum GitOpsError {
    #[error(
        "{path} is not inside a git repository; promotions commit and push, so run them in a git \
         checkout of the GitOps repo"
    )]
    NotAGitRepo { path: String },
    #[error("{repo}: the repository has no commit yet; commit the environments first")]
    NoCommit { repo: String },
    #[error(
        "the working tree has uncommitted changes ({files}); commit or stash them first: a \
         promotion starts from the last commit (HEAD)"
    )]
    Dirty { files: String },
    #[error(
        "no git remote named \"{remote}\" (remotes: {available}); add it with `git remote add \
         {remote} URL`, choose another with --remote, or use --no-push"
    )]
    MissingRemote { remote: String, available: String },
    #[error("cannot reach remote {remote} ({url}): {message}")]
    Unreachable { remote: String, url: String, message: String },
    #[error("{remote} ({url}) rejected the push of {refname}: {message}; {hint}")]
    Rejected { remote: String, url: String, refname: String, message: String, hint: String },
    #[error(
        "a local branch {branch} already exists with commits not made by coxswain promote; rename \
         or delete it, then promote again"
    )]
    LocalBranchTaken { branch: String },
    #[error("git: {context}: {message}")]
    Git { context: String, message: String },
}

fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> GitOpsError {
    let context = context.into();
    move |e| GitOpsError::Git { context, message: e.message().to_owned() }
}

/// A remote to push to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteInfo {
    pub name: String,
    /// The push URL (`remote.<name>.pushurl`, else `url`).
    pub url: String,
}

/// The user's repository: read, and written only by [`UserRepo::import_branch`].
pub struct UserRepo {
    repo: Repository,
    /// The Coxswain repo root relative to the git work tree (empty when they are the same).
    prefix: PathBuf,
}

/// HEAD of the user's repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub oid: Oid,
    /// `None` when detached.
    pub branch: Option<String>,
}

impl UserRepo {
    /// Opens the git repository holding the Coxswain repo at `root`.
    pub fn open(root: &Path) -> Result<Self, GitOpsError> {
        let not_git = || GitOpsError::NotAGitRepo { path: root.display().to_string() };
        let repo = Repository::discover(root).map_err(|e| match e.code() {
            ErrorCode::NotFound => not_git(),
            _ => git(format!("opening {}", root.display()))(e),
        })?;
        let Some(workdir) = repo.workdir() else { return Err(not_git()) };
        let workdir = workdir.canonicalize().unwrap_or_else(|_| workdir.to_path_buf());
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let prefix = root.strip_prefix(&workdir).unwrap_or(Path::new("")).to_path_buf();
        Ok(Self { repo, prefix })
    }

    pub fn head(&self) -> Result<Head, GitOpsError> {
        let head = self.repo.head().map_err(|e| match e.code() {
            ErrorCode::UnbornBranch | ErrorCode::NotFound => {
                GitOpsError::NoCommit { repo: self.display() }
            }
            _ => git("reading HEAD")(e),
        })?;
        let oid = head.peel_to_commit().map_err(git("reading HEAD"))?.id();
        let branch = head.is_branch().then(|| head.shorthand().ok().map(str::to_owned)).flatten();
        Ok(Head { oid, branch })
    }

    fn display(&self) -> String {
        self.repo.workdir().unwrap_or(self.repo.path()).display().to_string()
    }

    /// Refuses a working tree with changes to tracked files, or untracked files where Coxswain
    /// reads (`environments/`, `pipelines/`): the user would expect them in the promotion, and
    /// the promotion is made from HEAD.
    pub fn check_clean(&self) -> Result<(), GitOpsError> {
        let mut options = StatusOptions::new();
        options.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false);
        options.exclude_submodules(true);
        let statuses = self.repo.statuses(Some(&mut options)).map_err(git("reading git status"))?;
        let watched: Vec<String> = ["environments", "pipelines"]
            .iter()
            .map(|dir| slash_path(&self.prefix.join(dir)) + "/")
            .collect();
        let mut dirty = Vec::new();
        for entry in statuses.iter() {
            let Ok(path) = entry.path() else { continue };
            let untracked = entry.status() == Status::WT_NEW;
            if !untracked || watched.iter().any(|w| path.starts_with(w.as_str())) {
                dirty.push(path.to_owned());
            }
        }
        if dirty.is_empty() {
            return Ok(());
        }
        let more = dirty.len().saturating_sub(5);
        dirty.truncate(5);
        let mut files = dirty.join(", ");
        if more > 0 {
            let _ = write!(files, " and {more} more");
        }
        Err(GitOpsError::Dirty { files })
    }

    /// The remote `name` and its push URL.
    pub fn remote(&self, name: &str) -> Result<RemoteInfo, GitOpsError> {
        match self.repo.find_remote(name) {
            Ok(remote) => {
                let url = remote.pushurl().ok().flatten().or_else(|| remote.url().ok());
                let url = url.filter(|u| !u.is_empty()).ok_or_else(|| GitOpsError::Git {
                    context: format!("remote {name}"),
                    message: "has no URL; set one with `git remote set-url`".into(),
                })?;
                Ok(RemoteInfo { name: name.to_owned(), url: url.to_owned() })
            }
            Err(e) if e.code() == ErrorCode::NotFound => {
                let names = self.repo.remotes().map_err(git("listing remotes"))?;
                let mut available: Vec<String> =
                    names.iter().flatten().flatten().map(str::to_owned).collect();
                if available.is_empty() {
                    available.push("none".into());
                }
                Err(GitOpsError::MissingRemote {
                    remote: name.to_owned(),
                    available: available.join(", "),
                })
            }
            Err(e) => Err(git(format!("remote {name}"))(e)),
        }
    }

    /// The author of promotion commits: the user's git identity, else "Coxswain".
    pub fn signature(&self) -> Result<Signature<'static>, GitOpsError> {
        self.repo
            .signature()
            .or_else(|_| Signature::now("Coxswain", "coxswain@localhost"))
            .map_err(git("building the commit signature"))
    }

    /// Copies branch `branch` of the checkout into the user's repository (for `--no-push`). An
    /// existing local branch of that name is replaced only if its tip is a promotion commit.
    pub fn import_branch(&self, checkout: &Checkout, branch: &str) -> Result<(), GitOpsError> {
        let refname = format!("refs/heads/{branch}");
        if let Ok(existing) = self.repo.find_branch(branch, BranchType::Local) {
            let head_is_it = existing.is_head();
            let tip = existing.get().peel_to_commit().ok();
            if head_is_it || !tip.as_ref().is_some_and(is_promotion_commit) {
                return Err(GitOpsError::LocalBranchTaken { branch: branch.to_owned() });
            }
        }
        let url = file_url(checkout.repo.path());
        let mut remote = self.repo.remote_anonymous(&url).map_err(git("reading the checkout"))?;
        remote
            .fetch(&[format!("+{refname}:{refname}")], None, None)
            .map_err(git(format!("creating branch {branch}")))
    }
}

/// Whether a commit was made by `coxswain promote`.
pub fn is_promotion_commit(commit: &Commit<'_>) -> bool {
    commit.message().is_ok_and(|m| m.lines().any(|l| l.starts_with(TRAILER)))
}

fn slash_path(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    text.trim_end_matches('/').to_owned()
}

fn file_url(path: &Path) -> String {
    format!("file://{}", slash_path(path))
}

/// A private checkout of one commit of the user's repository, in a temporary directory that is
/// deleted when this is dropped.
pub struct Checkout {
    repo: Repository,
    root: PathBuf,
    prefix: PathBuf,
    base: Oid,
    // Declared last: dropped after `repo` has closed its files.
    _dir: tempfile::TempDir,
}

impl Checkout {
    /// Checks out commit `base` of `user` into a new temporary repository.
    pub fn create(user: &UserRepo, base: Oid) -> Result<Self, GitOpsError> {
        let io = |e: std::io::Error| GitOpsError::Git {
            context: "creating a temporary checkout".into(),
            message: e.to_string(),
        };
        let dir = tempfile::Builder::new().prefix("coxswain-promote-").tempdir().map_err(io)?;
        Repository::init(dir.path()).map_err(git("creating a temporary checkout"))?;
        let objects = user.repo.commondir().join("objects");
        let objects = objects.canonicalize().unwrap_or(objects);
        let alternates = dir.path().join(".git/objects/info/alternates");
        std::fs::write(&alternates, format!("{}\n", objects.display())).map_err(io)?;
        // Reopened so the object database reads the alternates file.
        let repo = Repository::open(dir.path()).map_err(git("opening the temporary checkout"))?;
        {
            let commit = repo.find_commit(base).map_err(git(format!("reading commit {base}")))?;
            let mut checkout = git2::build::CheckoutBuilder::new();
            checkout.force();
            repo.checkout_tree(commit.as_object(), Some(&mut checkout))
                .map_err(git(format!("checking out {base}")))?;
            repo.set_head_detached(base).map_err(git("setting HEAD of the checkout"))?;
        }
        let root = dir.path().join(&user.prefix);
        Ok(Self { repo, root, prefix: user.prefix.clone(), base, _dir: dir })
    }

    /// The Coxswain repo root inside the checkout.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn base(&self) -> Oid {
        self.base
    }

    /// Writes edited files into the checkout's work tree (the gates read them from there).
    pub fn write_files(&self, edits: &[FileEdit]) -> Result<(), GitOpsError> {
        for edit in edits {
            std::fs::write(self.root.join(&edit.file), &edit.after).map_err(|e| {
                GitOpsError::Git {
                    context: format!("writing {}", edit.file),
                    message: e.to_string(),
                }
            })?;
        }
        Ok(())
    }

    /// Commits the edits on top of the base commit as branch `branch` (created or reset).
    pub fn commit(
        &self,
        edits: &[FileEdit],
        branch: &str,
        message: &str,
        signature: &Signature<'_>,
    ) -> Result<Oid, GitOpsError> {
        let base = self.repo.find_commit(self.base).map_err(git("reading the base commit"))?;
        let mut tree = base.tree().map_err(git("reading the base tree"))?;
        for edit in edits {
            let path = self.prefix.join(&edit.file);
            let components: Vec<String> =
                path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            let blob = self
                .repo
                .blob(edit.after.as_bytes())
                .map_err(git(format!("storing {}", edit.file)))?;
            let oid = replace_blob(&self.repo, &tree, &components, blob)
                .map_err(git(format!("updating {} in the tree", edit.file)))?;
            tree = self.repo.find_tree(oid).map_err(git("reading the new tree"))?;
        }
        let oid = self
            .repo
            .commit(None, signature, signature, message, &tree, &[&base])
            .map_err(git("writing the commit"))?;
        let commit = self.repo.find_commit(oid).map_err(git("reading the new commit"))?;
        self.repo
            .branch(branch, &commit, true)
            .map_err(git(format!("creating branch {branch}")))?;
        Ok(oid)
    }

    /// Moves HEAD (detached) to `commit` and makes the index and work tree match it, so what
    /// is checked out is exactly that commit: a sync of the checkout records it, clean.
    pub fn check_out(&self, commit: Oid) -> Result<(), GitOpsError> {
        let found =
            self.repo.find_commit(commit).map_err(git(format!("reading commit {commit}")))?;
        let mut options = git2::build::CheckoutBuilder::new();
        options.force();
        // From the old HEAD, so the index takes the commit's blobs too.
        self.repo
            .checkout_tree(found.as_object(), Some(&mut options))
            .map_err(git("checking out the new commit"))?;
        self.repo.set_head_detached(commit).map_err(git("moving HEAD to the new commit"))
    }

    /// The tree of a commit, if the commit is known here (fetched or local).
    pub fn tree_of(&self, commit: Oid) -> Option<Oid> {
        self.repo.find_commit(commit).ok().map(|c| c.tree_id())
    }

    /// Whether `commit` is a single-parent promotion commit whose parent is `parent`.
    pub fn describe(&self, commit: Oid) -> Option<(bool, Vec<Oid>, String)> {
        let commit = self.repo.find_commit(commit).ok()?;
        let summary = commit.summary().ok().flatten().unwrap_or_default().to_owned();
        Some((is_promotion_commit(&commit), commit.parent_ids().collect(), summary))
    }

    /// The remote's branches and tags (`git ls-remote`).
    pub fn list_remote(
        &self,
        user: &UserRepo,
        remote: &RemoteInfo,
        token: Option<&HostToken>,
    ) -> Result<HashMap<String, Oid>, GitOpsError> {
        let config = user.repo.config().map_err(git("reading git config"))?;
        let mut anonymous = self.repo.remote_anonymous(&remote.url).map_err(git("remote URL"))?;
        let callbacks = crate::git::remote_callbacks(&config, token);
        let connection = anonymous
            .connect_auth(Direction::Fetch, Some(callbacks), None)
            .map_err(|e| unreachable(remote, &e))?;
        let heads = connection.list().map_err(|e| unreachable(remote, &e))?;
        Ok(heads.iter().map(|h| (h.name().to_owned(), h.oid())).collect())
    }

    /// Fetches one ref of the remote into the checkout, so its commit can be inspected.
    pub fn fetch(
        &self,
        user: &UserRepo,
        remote: &RemoteInfo,
        refname: &str,
        token: Option<&HostToken>,
    ) -> Result<(), GitOpsError> {
        let config = user.repo.config().map_err(git("reading git config"))?;
        let mut anonymous = self.repo.remote_anonymous(&remote.url).map_err(git("remote URL"))?;
        let mut options = FetchOptions::new();
        options.remote_callbacks(crate::git::remote_callbacks(&config, token));
        anonymous
            .fetch(&[format!("+{refname}:refs/coxswain/fetched")], Some(&mut options), None)
            .map_err(|e| unreachable(remote, &e))
    }

    /// Pushes local branch `branch` to `remote_ref` on the remote. Without `lease` the push must
    /// fast-forward (or create) the ref; with `lease`, it replaces the ref only if the remote
    /// still has exactly that commit there (git's `--force-with-lease=<ref>:<expect>`): the
    /// check runs on the remote's own advertisement, and the old value is sent with the update,
    /// so the server refuses it if the ref moved in between.
    pub fn push(
        &self,
        user: &UserRepo,
        remote: &RemoteInfo,
        branch: &str,
        remote_ref: &str,
        lease: Option<Oid>,
        token: Option<&HostToken>,
    ) -> Result<(), GitOpsError> {
        let config = user.repo.config().map_err(git("reading git config"))?;
        let mut anonymous = self.repo.remote_anonymous(&remote.url).map_err(git("remote URL"))?;
        let mut rejection: Option<(String, String)> = None;
        let mut moved: Option<Oid> = None;
        let result = {
            let mut callbacks = crate::git::remote_callbacks(&config, token);
            callbacks.push_update_reference(|refname, status| {
                if let Some(message) = status {
                    rejection = Some((refname.to_owned(), message.to_owned()));
                }
                Ok(())
            });
            if let Some(expected) = lease {
                let moved = &mut moved;
                callbacks.push_negotiation(move |updates| {
                    let ours = updates.iter().find(|u| u.dst_refname().ok() == Some(remote_ref));
                    match ours {
                        Some(update) if update.src() != expected => {
                            *moved = Some(update.src());
                            Err(git2::Error::from_str("the remote branch moved"))
                        }
                        _ => Ok(()),
                    }
                });
            }
            let mut options = PushOptions::new();
            options.remote_callbacks(callbacks);
            let force = if lease.is_some() { "+" } else { "" };
            anonymous
                .push(&[format!("{force}refs/heads/{branch}:{remote_ref}")], Some(&mut options))
        };
        let rejected = |refname: &str, message: String, hint: &str| GitOpsError::Rejected {
            remote: remote.name.clone(),
            url: redact_credentials(&remote.url),
            refname: refname.to_owned(),
            message,
            hint: hint.to_owned(),
        };
        let retry = "nothing was changed; fix the cause, then promote again";
        if let (Some(now), Some(expected)) = (moved, lease) {
            let now = if now.is_zero() { "deleted".to_owned() } else { format!("now at {now}") };
            return Err(rejected(
                remote_ref,
                format!("the branch moved since it was checked (expected {expected}, {now})"),
                "someone else pushed to it; nothing was changed: look at what they pushed, then \
                 promote again",
            ));
        }
        match result {
            Err(e) if e.code() == ErrorCode::NotFastForward => Err(rejected(
                remote_ref,
                "the remote branch has commits that your HEAD does not have".into(),
                "pull them (`git pull`), then promote again",
            )),
            Err(e)
                if matches!(
                    e.class(),
                    git2::ErrorClass::Net | git2::ErrorClass::Ssh | git2::ErrorClass::Http
                ) =>
            {
                Err(unreachable(remote, &e))
            }
            Err(e) => Err(rejected(remote_ref, redact_credentials(e.message()), retry)),
            Ok(()) => match rejection {
                Some((refname, message)) => Err(rejected(&refname, message, retry)),
                None => Ok(()),
            },
        }
    }
}

fn unreachable(remote: &RemoteInfo, error: &git2::Error) -> GitOpsError {
    GitOpsError::Unreachable {
        remote: remote.name.clone(),
        url: redact_credentials(&remote.url),
        message: redact_credentials(error.message()),
    }
}

/// A copy of `tree` with the blob at `path` replaced (its file mode kept).
fn replace_blob(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    path: &[String],
    blob: Oid,
) -> Result<Oid, git2::Error> {
    let mut builder = repo.treebuilder(Some(tree))?;
    match path {
        [] => return Err(git2::Error::from_str("empty path")),
        [name] => {
            let mode = tree.get_name(name).map_or(0o100_644, |e| e.filemode());
            builder.insert(name, blob, mode)?;
        }
        [dir, rest @ ..] => {
            let entry = tree
                .get_name(dir)
                .ok_or_else(|| git2::Error::from_str(&format!("no directory {dir}")))?;
            let subtree = repo.find_tree(entry.id())?;
            let child = replace_blob(repo, &subtree, rest, blob)?;
            builder.insert(dir, child, 0o040_000)?;
        }
    }
    builder.write()
}
