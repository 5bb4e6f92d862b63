//! Reading repo-relative files without leaving the repository.
//!
//! Paths come from YAML in a pull request, so a path like `../../home/me/.ssh/id_rsa` or a
//! committed symlink to `/etc` must not make the gate read (and hash, or report on) files outside
//! the checkout. A standalone run (`coxswain validate --model F --spec S` outside a repository)
//! reads the user's own files: there paths are relative to the spec file and not confined.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use crate::error::ValidationError;

/// Where relative paths start, and whether they must stay below it.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    dir: PathBuf,
    confined: bool,
}

impl Base {
    /// A repository root: paths must stay inside it.
    pub fn repo(root: &Path) -> Result<Base, ValidationError> {
        Ok(Base { dir: canonical_root(root)?, confined: true })
    }

    /// A folder the user chose (the spec file's): any relative or absolute path is allowed.
    pub fn free(dir: &Path) -> Base {
        Base { dir: dir.to_owned(), confined: false }
    }

    pub fn resolve(&self, rel: &str) -> Result<PathBuf, ValidationError> {
        if self.confined {
            return resolve(&self.dir, rel);
        }
        if rel.is_empty() {
            return Err(ValidationError::NotFound { file: rel.to_owned() });
        }
        let path = self.dir.join(rel);
        if !path.exists() {
            return Err(ValidationError::NotFound { file: rel.to_owned() });
        }
        Ok(path)
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.resolve(rel).is_ok_and(|p| p.is_file())
    }

    pub fn read_capped(&self, rel: &str, cap: u64) -> Result<Vec<u8>, ValidationError> {
        read_path_capped(&self.resolve(rel)?, rel, cap)
    }
}

/// The canonical repository root; errors name the root itself.
pub(crate) fn canonical_root(repo_root: &Path) -> Result<PathBuf, ValidationError> {
    repo_root.canonicalize().map_err(|e| io_error(&repo_root.display().to_string(), e))
}

/// Resolves `rel` under `root` (canonical), following symlinks, and insists the result stays
/// under `root`. Any `..` component is refused outright: it is never needed in a repo-relative
/// path and refusing it keeps the rule easy to state.
pub(crate) fn resolve(root: &Path, rel: &str) -> Result<PathBuf, ValidationError> {
    let outside = |reason: &str| ValidationError::OutsideRepo {
        file: rel.to_owned(),
        reason: reason.to_owned(),
    };
    if rel.is_empty() {
        return Err(outside("empty path"));
    }
    let path = Path::new(rel);
    for component in path.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err(outside("`..` is not allowed in the path")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(outside("absolute paths are not allowed"));
            }
        }
    }
    let joined = root.join(path);
    let real = joined.canonicalize().map_err(|e| io_error(rel, e))?;
    if !real.starts_with(root) {
        return Err(outside(&format!("resolves through a symlink to {}", real.display())));
    }
    Ok(real)
}

/// Reads a resolved file (`rel` names it in errors), refusing anything over `cap` bytes before
/// reading it.
fn read_path_capped(real: &Path, rel: &str, cap: u64) -> Result<Vec<u8>, ValidationError> {
    let file = fs::File::open(real).map_err(|e| io_error(rel, e))?;
    let meta = file.metadata().map_err(|e| io_error(rel, e))?;
    if !meta.is_file() {
        return Err(ValidationError::Io {
            file: rel.to_owned(),
            source: io::Error::other("not a regular file"),
        });
    }
    if meta.len() > cap {
        return Err(ValidationError::TooLarge {
            file: rel.to_owned(),
            size: meta.len(),
            limit: cap,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // `take` guards against a file that grows between the size check and the read.
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| io_error(rel, e))?;
    if bytes.len() as u64 > cap {
        return Err(ValidationError::TooLarge {
            file: rel.to_owned(),
            size: bytes.len() as u64,
            limit: cap,
        });
    }
    Ok(bytes)
}

pub(crate) fn io_error(file: &str, e: io::Error) -> ValidationError {
    if e.kind() == io::ErrorKind::NotFound {
        ValidationError::NotFound { file: file.to_owned() }
    } else {
        ValidationError::Io { file: file.to_owned(), source: e }
    }
}

/// `dir/of/model.onnx` → `dir/of/golden.npy`, kept repo-relative with forward slashes.
pub(crate) fn sibling(rel: &str, name: &str) -> String {
    match rel.rfind('/') {
        Some(i) => format!("{}/{name}", &rel[..i]),
        None => name.to_owned(),
    }
}
