//! Kustomize overlays: an environment folder holding a `kustomization.yaml` is rendered the way
//! Argo CD renders it — `kustomize build <dir>` when a `kustomize` binary is on `PATH`, else
//! `kubectl kustomize <dir>` — and the rendered objects go through the same loader, policy, plan
//! and sync as plain manifests.
//!
//! Rendering runs a subprocess (no shell) with a timeout and bounded output, so a kustomization
//! that hangs (a remote base on a dead network) or explodes (a generator gone wrong) fails with a
//! message naming the kustomization instead of hanging the load. The kustomization itself is also
//! read here, for three things the rendered output does not say: which files it pulls in (so a
//! rendered object's source names the base file it came from, and the app watches those folders
//! too), and which images its `images:` list manages (so a promotion edits that entry instead of
//! a manifest).

use crate::yaml::{self, LineMap};
use crate::yaml_edit::YamlPath;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The file names kustomize looks for, in its order.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];
/// How long one `kustomize build` may take before it is killed.
pub const RENDER_TIMEOUT: Duration = Duration::from_mins(1);
/// The most rendered YAML accepted (the loader's per-file limit times the files an env may hold
/// is far beyond this; a larger output is a generator gone wrong).
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024 * 1024;
/// The most of kustomize's error output kept for the message.
const MAX_STDERR_BYTES: usize = 16 * 1024;
/// Nested kustomizations followed when reading what an overlay references.
const MAX_DEPTH: usize = 16;
/// Environment variable naming the renderer explicitly (`kustomize` or `kubectl`, or a path).
pub const RENDERER_ENV: &str = "COXSWAIN_KUSTOMIZE";

/// Why an overlay could not be rendered. Every message names the kustomization file.
#[derive(Debug, thiserror::Error)]
pub enum KustomizeError {
    #[error(
        "{file}: cannot render the kustomize overlay: neither `kustomize` nor `kubectl` is on \
         PATH; install kubectl 1.21 or newer (it includes kustomize) or the kustomize binary, or \
         name one in COXSWAIN_KUSTOMIZE"
    )]
    NoRenderer { file: String },
    #[error("{file}: cannot run `{program}`: {source}")]
    Spawn { file: String, program: String, source: std::io::Error },
    #[error("{file}: `{command}` did not finish within {} s and was stopped", timeout.as_secs())]
    Timeout { file: String, command: String, timeout: Duration },
    #[error("{file}: `{command}` wrote more than {limit} bytes and was stopped")]
    TooLarge { file: String, command: String, limit: usize },
    #[error("{file}: `{command}` failed: {message}")]
    Failed { file: String, command: String, message: String },
    #[error("{file}: `{command}` printed output that is not UTF-8")]
    NotUtf8 { file: String, command: String },
}

impl KustomizeError {
    /// The kustomization file the error concerns.
    pub fn file(&self) -> &str {
        match self {
            Self::NoRenderer { file }
            | Self::Spawn { file, .. }
            | Self::Timeout { file, .. }
            | Self::TooLarge { file, .. }
            | Self::Failed { file, .. }
            | Self::NotUtf8 { file, .. } => file,
        }
    }
}

/// One entry of a kustomization's `images:` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEntry {
    /// The image name it matches in the manifests.
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
    /// Where the entry is in the kustomization file (`images[i]`).
    pub path: YamlPath,
    pub line: u32,
}

impl ImageEntry {
    /// The image name the rendered manifests carry for images this entry manages.
    pub fn rendered_name(&self) -> &str {
        self.new_name.as_deref().unwrap_or(&self.name)
    }
}

/// What Coxswain reads from an overlay's kustomization (and the kustomizations it includes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kustomization {
    /// Repo-relative path of the env's kustomization file.
    pub file: String,
    /// The overlay's own `images:` entries.
    pub images: Vec<ImageEntry>,
    /// Repo-relative manifest files the overlay and its bases list under `resources:`, in order:
    /// where rendered objects are looked up for their source.
    pub resource_files: Vec<String>,
    /// Repo-relative patch files of the overlay and its bases.
    pub patch_files: Vec<String>,
    /// Repo-relative folders outside the env folder whose files the render reads (bases,
    /// components): a change there changes the env.
    pub extra_dirs: Vec<String>,
    /// `namePrefix`/`nameSuffix` of the overlay and its bases, applied to names when looking
    /// objects up in their files.
    pub name_affixes: Vec<(String, String)>,
    /// References that resolve outside the repo (`(kustomization file, reference)`): refused,
    /// as the loader refuses a symlink out of the repo — git would not hold what is deployed.
    pub outside: Vec<(String, String)>,
}

/// The kustomization file name of `dir`, if it has one.
pub fn find_kustomization(dir: &Path) -> Option<&'static str> {
    KUSTOMIZATION_FILES.into_iter().find(|name| dir.join(name).is_file())
}

/// Whether a repo-relative file path names a kustomization file.
pub fn is_kustomization_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    KUSTOMIZATION_FILES.contains(&name)
}

/// Which program renders overlays, as Argo CD picks it: `kustomize` when on `PATH`, else
/// `kubectl kustomize`. [`RENDERER_ENV`] overrides the choice.
fn renderer() -> Option<(PathBuf, Vec<&'static str>)> {
    let chosen = std::env::var_os(RENDERER_ENV).map(PathBuf::from);
    let candidates: Vec<PathBuf> = match chosen {
        Some(path) => vec![path],
        None => vec!["kustomize".into(), "kubectl".into()],
    };
    candidates.into_iter().find_map(|candidate| {
        let path =
            if candidate.components().count() > 1 { Some(candidate) } else { on_path(&candidate) }?;
        let is_kubectl =
            path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("kubectl"));
        Some((path, if is_kubectl { vec!["kustomize"] } else { vec!["build"] }))
    })
}

fn on_path(program: &Path) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// An overlay's rendered YAML and what the renderer warned about (deprecated fields, say).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub yaml: String,
    pub warnings: Vec<String>,
}

/// Renders the overlay in `dir` (absolute); `file` is its kustomization's repo-relative path,
/// for messages. Returns the rendered multi-document YAML and the renderer's warnings.
pub fn render(dir: &Path, file: &str) -> Result<Rendered, KustomizeError> {
    let Some((program, args)) = renderer() else {
        return Err(KustomizeError::NoRenderer { file: file.to_owned() });
    };
    run_bounded(&program, &args, dir, file, RENDER_TIMEOUT, MAX_OUTPUT_BYTES)
}

/// Runs `program args… dir` in `dir` (no shell, stdin closed), stopping it after `timeout` or
/// once it printed more than `limit` bytes; its stdout, or its error output as the reason.
fn run_bounded(
    program: &Path,
    args: &[&str],
    dir: &Path,
    file: &str,
    timeout: Duration,
    limit: usize,
) -> Result<Rendered, KustomizeError> {
    let shown_dir = file.rsplit_once('/').map_or(".", |(dir, _)| dir);
    let command = format!(
        "{} {} {shown_dir}",
        program.file_name().unwrap_or_default().to_string_lossy(),
        args.join(" ")
    );
    let mut child = Command::new(program)
        .args(args)
        .arg(dir)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| KustomizeError::Spawn {
            file: file.to_owned(),
            program: program.display().to_string(),
            source,
        })?;
    let mut stdout = child.stdout.take().map(|out| read_bounded(out, limit));
    let stderr = child.stderr.take().map(|err| read_bounded(err, MAX_STDERR_BYTES));
    let mut output: Option<(Vec<u8>, bool)> = None;
    let deadline = Instant::now() + timeout;
    let status = loop {
        // The reader stops at the bound: then the output is too large, whether or not the
        // process would ever end.
        if stdout.as_ref().is_some_and(std::thread::JoinHandle::is_finished) {
            output = stdout.take().map(join_reader);
        }
        if output.as_ref().is_some_and(|(_, over)| *over) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(KustomizeError::TooLarge { file: file.to_owned(), command, limit });
        }
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) | Err(_) => break None,
        }
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(KustomizeError::Timeout { file: file.to_owned(), command, timeout });
    };
    let (out, out_truncated) = output.or_else(|| stdout.map(join_reader)).unwrap_or_default();
    let (err, _) = stderr.map(join_reader).unwrap_or_default();
    if out_truncated {
        return Err(KustomizeError::TooLarge { file: file.to_owned(), command, limit });
    }
    if !status.success() {
        let message = String::from_utf8_lossy(&err).trim().to_owned();
        let message = if message.is_empty() { format!("exit status {status}") } else { message };
        return Err(KustomizeError::Failed { file: file.to_owned(), command, message });
    }
    let yaml = String::from_utf8(out)
        .map_err(|_| KustomizeError::NotUtf8 { file: file.to_owned(), command })?;
    let warnings = String::from_utf8_lossy(&err)
        .lines()
        .map(|line| line.trim().trim_start_matches('#').trim())
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Rendered { yaml, warnings })
}

/// Reads at most `limit` bytes on a thread; the flag says more was there.
fn read_bounded(
    reader: impl std::io::Read + Send + 'static,
    limit: usize,
) -> std::thread::JoinHandle<(Vec<u8>, bool)> {
    std::thread::spawn(move || {
        let mut buffer = Vec::new();
        let mut limited = reader.take(limit as u64 + 1);
        let _ = limited.read_to_end(&mut buffer);
        let over = buffer.len() > limit;
        buffer.truncate(limit);
        if over && limit <= MAX_STDERR_BYTES {
            // Error output: keep draining, so a chatty process is not blocked on a full pipe.
            let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
        }
        (buffer, over)
    })
}

fn join_reader(handle: std::thread::JoinHandle<(Vec<u8>, bool)>) -> (Vec<u8>, bool) {
    handle.join().unwrap_or_default()
}

/// `dir/relative`, normalised lexically (`..` removed), repo-relative; `None` when it leaves the
/// repo or is a remote reference (a URL or `github.com/...`).
fn join_relative(dir: &str, relative: &str) -> Option<String> {
    if is_remote(relative) {
        return None;
    }
    let mut parts: Vec<String> =
        dir.split('/').filter(|p| !p.is_empty()).map(str::to_owned).collect();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// Whether a kustomization reference names a remote (git or HTTP) resource, which kustomize
/// fetches itself, as Argo CD lets it.
fn is_remote(reference: &str) -> bool {
    reference.contains("://")
        || reference.starts_with("github.com/")
        || reference.starts_with("git@")
}

/// Reads the kustomization of the env folder `env_dir` (repo-relative) and what it includes.
/// Problems reading it are left to `kustomize build`, which reports them better; what cannot be
/// read here only costs source lines and watched folders.
pub fn read(root: &Path, env_dir: &str, file_name: &str) -> Kustomization {
    let mut kustomization =
        Kustomization { file: format!("{env_dir}/{file_name}"), ..Kustomization::default() };
    let mut visited = Vec::new();
    walk(root, env_dir, env_dir, 0, &mut kustomization, &mut visited);
    kustomization
}

fn string_list(value: &Value, key: &str) -> Vec<String> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn walk(
    root: &Path,
    env_dir: &str,
    dir: &str,
    depth: usize,
    out: &mut Kustomization,
    visited: &mut Vec<String>,
) {
    if depth > MAX_DEPTH || visited.iter().any(|v| v == dir) {
        return;
    }
    visited.push(dir.to_owned());
    let Some(name) = find_kustomization(&root.join(dir)) else { return };
    let Ok(text) = std::fs::read_to_string(root.join(dir).join(name)) else { return };
    let Ok(documents) = yaml::parse_documents(&text) else { return };
    let Some(document) = documents.first() else { return };
    let value = &document.value;
    if depth == 0 {
        out.images = images(value, &document.lines);
    }
    let prefix = value.get("namePrefix").and_then(Value::as_str).unwrap_or_default();
    let suffix = value.get("nameSuffix").and_then(Value::as_str).unwrap_or_default();
    if !prefix.is_empty() || !suffix.is_empty() {
        out.name_affixes.push((prefix.to_owned(), suffix.to_owned()));
    }
    let in_env = |path: &str| path == env_dir || path.starts_with(&format!("{env_dir}/"));
    let mut patches = string_list(value, "patchesStrategicMerge");
    for key in ["patches", "patchesJson6902"] {
        if let Some(items) = value.get(key).and_then(Value::as_array) {
            patches.extend(
                items
                    .iter()
                    .filter_map(|p| p.get("path"))
                    .filter_map(Value::as_str)
                    .map(str::to_owned),
            );
        }
    }
    let here = format!("{dir}/{name}");
    for patch in patches {
        if join_relative(dir, &patch).is_none() && !is_remote(&patch) {
            record_outside(out, &here, &patch);
        }
        if let Some(path) = join_relative(dir, &patch) {
            if !in_env(&path) {
                push_dir(out, parent(&path));
            }
            if !out.patch_files.contains(&path) {
                out.patch_files.push(path);
            }
        }
    }
    let mut references = string_list(value, "resources");
    references.extend(string_list(value, "bases"));
    references.extend(string_list(value, "components"));
    for reference in references {
        let Some(path) = join_relative(dir, &reference) else {
            if !is_remote(&reference) {
                record_outside(out, &here, &reference);
            }
            continue;
        };
        let full = root.join(&path);
        if !full.exists() {
            // Not there (yet: a commit's overlay is written level by level): a folder, unless
            // it is named like a manifest. kustomize reports it if it stays missing.
            if !crate::repo::is_yaml_file(&path) && !in_env(&path) {
                push_dir(out, path);
            }
            continue;
        }
        if !full.canonicalize().is_ok_and(|c| root.canonicalize().is_ok_and(|r| c.starts_with(r))) {
            record_outside(out, &here, &reference);
            continue;
        }
        if full.is_dir() {
            if !in_env(&path) {
                push_dir(out, path.clone());
            }
            walk(root, env_dir, &path, depth + 1, out, visited);
        } else if full.is_file() {
            if !in_env(&path) {
                push_dir(out, parent(&path));
            }
            if !out.resource_files.contains(&path) {
                out.resource_files.push(path);
            }
        }
    }
}

fn record_outside(out: &mut Kustomization, file: &str, reference: &str) {
    let entry = (file.to_owned(), reference.to_owned());
    if !out.outside.contains(&entry) {
        out.outside.push(entry);
    }
}

fn parent(path: &str) -> String {
    path.rsplit_once('/').map_or_else(String::new, |(dir, _)| dir.to_owned())
}

fn push_dir(out: &mut Kustomization, dir: String) {
    if !dir.is_empty() && !out.extra_dirs.contains(&dir) {
        out.extra_dirs.push(dir);
    }
}

fn images(value: &Value, lines: &LineMap) -> Vec<ImageEntry> {
    let Some(items) = value.get("images").and_then(Value::as_array) else { return Vec::new() };
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_owned);
            Some(ImageEntry {
                name: text("name")?,
                new_name: text("newName"),
                new_tag: text("newTag").or_else(|| {
                    // `newTag: 1.2` is a number to YAML; kustomize takes it as the tag "1.2".
                    item.get("newTag").filter(|v| v.is_number()).map(ToString::to_string)
                }),
                digest: text("digest"),
                path: YamlPath::root(0).key("images").index(index),
                line: lines.line_of(&format!("/images/{index}")).unwrap_or(0),
            })
        })
        .collect()
}

/// Where each manifest of an overlay's resource files is declared, by kind and name: each file
/// is read and parsed once however many objects the overlay renders.
#[derive(Debug, Default)]
pub struct Sources {
    by_object: HashMap<(String, String), (String, u32, Arc<LineMap>)>,
    name_affixes: Vec<(String, String)>,
}

impl Sources {
    /// Indexes the resource files of `kustomization` (the first declaration of an object wins,
    /// as in file order).
    pub fn index(root: &Path, kustomization: &Kustomization) -> Self {
        let mut by_object = HashMap::new();
        for file in &kustomization.resource_files {
            let Ok(text) = std::fs::read_to_string(root.join(file)) else { continue };
            let Ok(documents) = yaml::parse_documents(&text) else { continue };
            for document in documents {
                let value = &document.value;
                let (Some(kind), Some(name)) = (
                    value.get("kind").and_then(Value::as_str),
                    value.pointer("/metadata/name").and_then(Value::as_str),
                ) else {
                    continue;
                };
                by_object
                    .entry((kind.to_owned(), name.to_owned()))
                    .or_insert_with(|| (file.clone(), document.line, document.lines.clone()));
            }
        }
        Self { by_object, name_affixes: kustomization.name_affixes.clone() }
    }

    /// Where a rendered object came from: the document of `kind`/`name` in the resource files
    /// (the overlays' name prefixes and suffixes taken off, outermost first), with its line map;
    /// `None` when no file declares it (a generator's output, say).
    pub fn locate(&self, kind: &str, name: &str) -> Option<(String, u32, Arc<LineMap>)> {
        let found = |name: &str| self.by_object.get(&(kind.to_owned(), name.to_owned())).cloned();
        if let Some(hit) = found(name) {
            return Some(hit);
        }
        let mut stripped = name;
        for (prefix, suffix) in &self.name_affixes {
            if let Some(rest) =
                stripped.strip_prefix(prefix.as_str()).and_then(|r| r.strip_suffix(suffix.as_str()))
            {
                stripped = rest;
                if let Some(hit) = found(stripped) {
                    return Some(hit);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_relative_references_inside_the_repo_only() {
        assert_eq!(join_relative("environments/dev", "../../base").as_deref(), Some("base"));
        assert_eq!(
            join_relative("environments/dev", "./patch.yaml").as_deref(),
            Some("environments/dev/patch.yaml")
        );
        assert_eq!(join_relative("environments/dev", "../../../etc"), None);
        assert_eq!(join_relative("environments/dev", "https://github.com/x/y//base"), None);
        assert_eq!(join_relative("environments/dev", "/etc/passwd"), None);
    }

    #[test]
    fn a_renderer_that_hangs_is_stopped_at_its_timeout() {
        // The folder argument becomes the script's $0.
        let error = run_bounded(
            Path::new("/bin/sh"),
            &["-c", "sleep 30"],
            Path::new("/"),
            "environments/dev/kustomization.yaml",
            Duration::from_millis(200),
            1024,
        )
        .unwrap_err();
        assert!(matches!(error, KustomizeError::Timeout { .. }), "{error}");
        assert!(error.to_string().starts_with("environments/dev/kustomization.yaml: `sh -c"));
    }

    #[test]
    fn a_renderer_that_prints_without_end_is_stopped_at_its_bound() {
        let error = run_bounded(
            Path::new("/usr/bin/yes"),
            &[],
            Path::new("/"),
            "environments/dev/kustomization.yaml",
            RENDER_TIMEOUT,
            64 * 1024,
        )
        .unwrap_err();
        assert!(matches!(error, KustomizeError::TooLarge { limit: 65536, .. }), "{error}");
    }

    #[test]
    fn a_failing_renderer_is_reported_with_its_error_output() {
        let error = run_bounded(
            Path::new("/bin/ls"),
            &["--no-such-flag"],
            Path::new("/"),
            "environments/dev/kustomization.yaml",
            RENDER_TIMEOUT,
            1024,
        )
        .unwrap_err();
        let KustomizeError::Failed { message, .. } = &error else { panic!("{error}") };
        assert!(message.contains("no-such-flag"), "{message}");
    }

    #[test]
    fn reads_nested_bases_patches_and_prefixes_and_traces_objects_to_their_file() {
        let root = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let full = root.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        };
        write("apps/web/base/kustomization.yaml", "resources: [web.yaml]\nnameSuffix: -v1\n");
        write(
            "apps/web/base/web.yaml",
            "# the server\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
        );
        write("components/probes/kustomization.yaml", "kind: Component\n");
        write(
            "environments/dev/kustomization.yaml",
            "resources:\n  - ../../apps/web/base\n  - https://github.com/acme/x//base\ncomponents: [../../components/probes]\nnamePrefix: dev-\npatches:\n  - path: replicas.yaml\n    target: {kind: Deployment}\n",
        );
        let read = read(root.path(), "environments/dev", "kustomization.yaml");
        assert_eq!(read.file, "environments/dev/kustomization.yaml");
        assert_eq!(read.extra_dirs, ["apps/web/base", "components/probes"]);
        assert_eq!(read.resource_files, ["apps/web/base/web.yaml"]);
        assert_eq!(read.patch_files, ["environments/dev/replicas.yaml"]);
        let sources = Sources::index(root.path(), &read);
        let (file, line, _) = sources.locate("Deployment", "dev-web-v1").unwrap();
        assert_eq!((file.as_str(), line), ("apps/web/base/web.yaml", 2));
        assert!(sources.locate("Deployment", "other").is_none());
        assert!(sources.locate("Service", "web").is_none());
    }

    #[test]
    fn finds_kustomization_files_by_name() {
        assert!(is_kustomization_file("environments/dev/kustomization.yaml"));
        assert!(is_kustomization_file("environments/dev/Kustomization"));
        assert!(!is_kustomization_file("environments/dev/deployment.yaml"));
    }

    #[test]
    fn reads_image_entries_with_their_place() {
        let text = "resources: [../../base]\nimages:\n  - name: ghcr.io/acme/iris\n    newTag: \"1.2\"\n  - name: redis\n    newName: mirror/redis\n    digest: sha256:abc\n";
        let document = yaml::parse_documents(text).unwrap().remove(0);
        let entries = images(&document.value, &document.lines);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].new_tag.as_deref(), Some("1.2"));
        assert_eq!(entries[0].line, 3);
        assert_eq!(entries[1].rendered_name(), "mirror/redis");
        assert_eq!(entries[1].digest.as_deref(), Some("sha256:abc"));
    }
}
