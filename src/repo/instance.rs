//! The repo's identity in a cluster: an instance id, so that two repos with an env of the same
//! name never take each other's objects for their own (cluster-scoped kinds are listed
//! cluster-wide). It goes into the `coxswain.dev/instance` label of everything Coxswain applies,
//! the inventory, the history and the field manager (`coxswain/<instance>/<env>`).
//!
//! Where it comes from, first match wins:
//! 1. `coxswain.yaml` at the repo root, committed with the repo: `instance: <id>`.
//! 2. Without that file, the `origin` remote's URL: the same for every clone (a laptop's SSH
//!    URL and CI's HTTPS URL normalise to the same `host/owner/repo`), so a derived id is stable
//!    until the remote moves. Coxswain says so on every sync and prints the line to commit.
//! 3. Without a remote, the repo's own path on this machine: a repo that lives in one place
//!    only. Commit `coxswain.yaml` before syncing it from anywhere else.

use crate::diagnostic::Diagnostic;
use crate::repo::config::decode_document;
use crate::repo::names::{InvalidName, check_label};
use crate::yaml;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;
use std::path::Path;

/// The file at the repo root that names the instance.
pub const FILE: &str = "coxswain.yaml";
/// At most this long: `coxswain/<instance>/<env>` must stay within the API server's 128
/// characters for a field manager with a 63-character env name.
pub const MAX_LEN: usize = 40;
/// The instance of environments built from files without a repo (tests, tools).
pub const UNNAMED: &str = "unnamed";

/// This repo's identity and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    pub origin: Origin,
}

/// Where an instance id came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `coxswain.yaml`.
    File,
    /// Derived from this remote URL (credentials removed).
    Remote(String),
    /// Derived from the repo's path on this machine (no remote).
    Path,
}

impl Instance {
    /// A note for derived ids: how to pin them. `None` when `coxswain.yaml` names the instance.
    pub fn note(&self) -> Option<String> {
        let from = match &self.origin {
            Origin::File => return None,
            Origin::Remote(url) => format!("derived from the remote {url}"),
            Origin::Path => "derived from this checkout's path (the repo has no remote)".to_owned(),
        };
        Some(format!(
            "instance id {} {from}; commit a {FILE} holding `instance: {}` at the repo root to keep \
             it if the remote or checkout moves",
            self.id, self.id
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceFile {
    instance: String,
}

/// The instance of the repo at `root` (see the module docs). `Err` when `coxswain.yaml` exists
/// but is unreadable or names an invalid id: nothing may be synced under a guessed identity then.
pub fn resolve(root: &Path) -> Result<Instance, Diagnostic> {
    let path = root.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|e| {
                Diagnostic::error(FILE, 0, "invalid-config", format!("not UTF-8: {e}"))
            })?;
            parse(&text).map(|id| Instance { id, origin: Origin::File })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(derive(root)),
        Err(error) => Err(Diagnostic::error(FILE, 0, "unreadable-file", error.to_string())),
    }
}

/// Parses `coxswain.yaml`: one document, one field, `instance`.
pub fn parse(text: &str) -> Result<String, Diagnostic> {
    let documents = yaml::parse_documents(text).map_err(|e| {
        Diagnostic::error(FILE, e.line, "yaml-syntax", format!("invalid YAML: {}", e.message))
    })?;
    let [document] = documents.as_slice() else {
        return Err(Diagnostic::error(
            FILE,
            documents.get(1).map_or(0, |d| d.line),
            "invalid-config",
            format!("{FILE} must hold one YAML document: `instance: <id>`"),
        ));
    };
    let file: InstanceFile = decode_document(document, FILE)?;
    check(&file.instance).map_err(|why| {
        let line = document.lines.line_of("/instance").unwrap_or(document.line);
        Diagnostic::error(
            FILE,
            line,
            "invalid-name",
            format!("instance \"{}\" is not a valid instance id: {why}", file.instance),
        )
    })?;
    Ok(file.instance)
}

/// An instance id is a DNS-1123 label of at most [`MAX_LEN`] characters: it is a label value
/// and part of the field manager's name.
pub fn check(id: &str) -> Result<(), InvalidName> {
    check_label(id)?;
    if id.len() > MAX_LEN {
        return Err(InvalidName(format!(
            "it has {} characters, at most {MAX_LEN} are allowed",
            id.len()
        )));
    }
    Ok(())
}

fn derive(root: &Path) -> Instance {
    match crate::git::origin(root) {
        Some((url, prefix)) => {
            let normalised = normalise_remote(&url);
            let key = if prefix.is_empty() {
                normalised.clone()
            } else {
                format!("{normalised}//{prefix}")
            };
            let name = normalised.rsplit('/').next().unwrap_or_default();
            Instance { id: id_from(name, &key), origin: Origin::Remote(strip_credentials(&url)) }
        }
        None => {
            let path = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
            let key = path.to_string_lossy().into_owned();
            let name =
                path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            Instance { id: id_from(&name, &key), origin: Origin::Path }
        }
    }
}

/// `<slug of name>-<8 hex digits of sha256(key)>`, a valid id for any input.
fn id_from(name: &str, key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hash: String = digest.iter().take(4).fold(String::new(), |mut hash, b| {
        let _ = write!(hash, "{b:02x}");
        hash
    });
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.truncate(MAX_LEN - hash.len() - 1);
    let slug = slug.trim_matches('-');
    if slug.is_empty() { format!("repo-{hash}") } else { format!("{slug}-{hash}") }
}

/// `host/path` of a git remote URL, lowercase, without scheme, user, port or `.git`, so the SSH
/// and HTTPS URLs of one repository are equal.
pub fn normalise_remote(url: &str) -> String {
    let url = url.trim();
    let rest = match url.split_once("://") {
        Some((_, rest)) => rest.to_owned(),
        // scp-like syntax: `git@host:owner/repo.git`
        None => match url.split_once(':') {
            Some((host, path)) if !host.contains('/') => format!("{host}/{path}"),
            _ => url.to_owned(),
        },
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest.as_str(), ""));
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = host.split(':').next().unwrap_or(host);
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    format!("{host}/{path}").to_lowercase()
}

/// The URL without `user:password@`, safe to print.
fn strip_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}/{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_and_https_remotes_of_one_repo_give_one_id() {
        let urls = [
            "git@github.com:Acme/ml-deploy.git",
            "https://github.com/acme/ml-deploy",
            "https://x-access-token:secret@github.com/acme/ml-deploy.git",
            "ssh://git@github.com:22/acme/ml-deploy.git/",
        ];
        let normalised: Vec<String> = urls.iter().map(|u| normalise_remote(u)).collect();
        assert!(normalised.iter().all(|n| n == "github.com/acme/ml-deploy"), "{normalised:?}");
        let other = normalise_remote("git@github.com:acme/ml-deploy-fork.git");
        assert_ne!(id_from("ml-deploy", &normalised[0]), id_from("ml-deploy-fork", &other));
    }

    #[test]
    fn derived_ids_are_valid_whatever_the_name() {
        for name in ["", "---", "Ünïcode Repo", &"x".repeat(200), "ml_deploy.v2"] {
            let id = id_from(name, "key");
            assert!(check(&id).is_ok(), "{id}: {:?}", check(&id));
        }
        assert_eq!(id_from("ML_Deploy", "k").split_once('-').map(|(a, _)| a), Some("ml"));
    }

    #[test]
    fn credentials_never_reach_the_note() {
        assert_eq!(
            strip_credentials("https://user:token@github.com/acme/x.git"),
            "https://github.com/acme/x.git"
        );
    }

    #[test]
    fn the_file_names_one_valid_id() {
        assert_eq!(parse("instance: acme-ml\n").unwrap(), "acme-ml");
        let bad = parse("instance: Acme_ML\n").unwrap_err();
        assert_eq!((bad.line, bad.code.as_str()), (1, "invalid-name"));
        let unknown = parse("instance: a\nenv: b\n").unwrap_err();
        assert_eq!(unknown.line, 2);
        let long = parse(&format!("instance: {}\n", "a".repeat(41))).unwrap_err();
        assert!(long.message.contains("at most 40"), "{}", long.message);
        assert!(parse("").is_err());
    }
}
