//! The `GitOps` repo on disk: `environments/<env>/` folders of manifests and their `env.yaml`.

pub mod config;
pub mod instance;
pub mod kustomize;
pub mod loader;
pub mod names;
pub mod object;
mod parse_cache;

pub use parse_cache::ParseCache;

pub use config::{EnvConfig, ModelRef, PolicySettings};
pub use instance::Instance;
pub use kustomize::Kustomization;
pub use loader::{EnvContext, SourceFile};
pub use object::{DesiredObject, Source};

use crate::diagnostic::Diagnostic;
use crate::yaml::ExpansionBudget;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Errors that stop loading altogether (problems inside files are [`Diagnostic`]s instead).
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{path}: not a Coxswain repo: no environments/ folder (pass --repo PATH)")]
    NotARepo { path: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("no environment \"{name}\" in {repo}/environments (found: {found})")]
    UnknownEnv { name: String, repo: String, found: String },
}

/// One loaded environment: its settings, its objects, and every problem found.
#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    /// The repo's instance id ([`instance`]); [`instance::UNNAMED`] when built without a repo.
    pub instance: String,
    pub namespace: String,
    pub config: EnvConfig,
    pub objects: Vec<DesiredObject>,
    pub diagnostics: Vec<Diagnostic>,
    /// Set when the env folder is a kustomize overlay (its objects are its rendered output).
    pub kustomization: Option<Kustomization>,
}

impl Environment {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Builds an environment from files already read (a working tree or a git revision).
    /// `config_text` is the content of `env.yaml`, if the env has one. The env is a load of
    /// its own: its files get a fresh alias-expansion budget.
    pub fn from_files(name: &str, config_text: Option<&str>, files: &[SourceFile]) -> Self {
        Self::from_files_in_load(name, config_text, files, &ExpansionBudget::default(), None)
    }

    /// [`Environment::from_files`] as part of a larger load whose files share `budget`.
    pub fn from_files_in_load(
        name: &str,
        config_text: Option<&str>,
        files: &[SourceFile],
        budget: &ExpansionBudget,
        cache: Option<&ParseCache>,
    ) -> Self {
        // A kustomization is rendered only at the env folder's root (see `Repo::load_overlay`);
        // anywhere else it is no manifest, and reading it as one would report nonsense.
        let is_kustomization = |f: &SourceFile| kustomize::is_kustomization_file(&f.path);
        let kustomizations: Vec<&SourceFile> =
            files.iter().filter(|f| is_kustomization(f)).collect();
        let manifests: std::borrow::Cow<'_, [SourceFile]> = if kustomizations.is_empty() {
            files.into()
        } else {
            files.iter().filter(|f| !is_kustomization(f)).cloned().collect::<Vec<_>>().into()
        };
        Self::build(name, config_text, |context| {
            let (objects, mut diagnostics) =
                loader::load_objects(context, &manifests, budget, cache);
            diagnostics.extend(kustomizations.iter().map(|file| {
                Diagnostic::error(
                    &file.path,
                    0,
                    "kustomization-not-at-root",
                    format!(
                        "a kustomization is rendered only when it is environments/{name}/{}; \
                         move the overlay to the env folder itself (with its patches), or point \
                         the env's kustomization at this folder under `resources:`",
                        kustomize::KUSTOMIZATION_FILES[0]
                    ),
                )
            }));
            (objects, diagnostics)
        })
    }

    /// The environment of `env.yaml`'s text, its objects loaded by `load` under its settings.
    fn build(
        name: &str,
        config_text: Option<&str>,
        load: impl FnOnce(EnvContext<'_>) -> (Vec<DesiredObject>, Vec<Diagnostic>),
    ) -> Self {
        let config_file = format!("environments/{name}/env.yaml");
        let mut diagnostics = Vec::new();
        let (config, lines) =
            match config_text.map(|text| config::parse_env_config(text, &config_file)) {
                None => (EnvConfig::default(), Arc::default()),
                Some(Ok(parsed)) => parsed,
                Some(Err(diagnostic)) => {
                    diagnostics.push(diagnostic);
                    (EnvConfig::default(), Arc::default())
                }
            };
        let line_of = |pointer: &str| lines.line_of(pointer).unwrap_or(0);
        if let Err(why) = names::check_label_value(name) {
            diagnostics.push(Diagnostic::error(
                &config_file,
                0,
                "invalid-name",
                format!(
                    "environment name \"{name}\" cannot be used: it labels every object the \
                     environment owns, and {why}"
                ),
            ));
        }
        for (index, id) in config.policy.disable.iter().enumerate() {
            if crate::policy::catalogue::rule(id).is_none() {
                let known: Vec<&str> =
                    crate::policy::catalogue::RULES.iter().map(|r| r.id).collect();
                diagnostics.push(Diagnostic::error(
                    &config_file,
                    line_of(&format!("/policy/disable/{index}")),
                    "invalid-config",
                    format!(
                        "policy.disable names unknown rule \"{id}\" (rules: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        let namespace = config.namespace.clone().unwrap_or_else(|| name.to_owned());
        if let Err(why) = loader::check_namespace(&namespace) {
            diagnostics.push(Diagnostic::error(
                &config_file,
                line_of("/namespace"),
                "invalid-name",
                format!("namespace \"{namespace}\" of environment \"{name}\" is not a valid namespace name: {why}"),
            ));
        }
        let context = EnvContext { name, namespace: &namespace, config: &config };
        let (objects, mut found) = load(context);
        diagnostics.append(&mut found);
        diagnostics.extend(crate::rollout::spec::check(
            &config.rollouts,
            &objects,
            &config_file,
            &line_of,
        ));
        Self {
            name: name.to_owned(),
            instance: instance::UNNAMED.to_owned(),
            namespace,
            config,
            objects,
            diagnostics,
            kustomization: None,
        }
    }
}

/// A `GitOps` repo checked out on disk.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
    /// The repo's instance, or why `coxswain.yaml` cannot name it.
    instance: Result<Instance, Diagnostic>,
    /// Set for a process that re-loads envs as their files change (the app).
    parse_cache: Option<ParseCache>,
}

impl Repo {
    /// Opens the repo at `path`, which must hold an `environments/` folder.
    pub fn open(path: &Path) -> Result<Self, RepoError> {
        let root = path
            .canonicalize()
            .map_err(|source| RepoError::Io { path: path.display().to_string(), source })?;
        if !root.join("environments").is_dir() {
            return Err(RepoError::NotARepo { path: path.display().to_string() });
        }
        let instance = instance::resolve(&root);
        Ok(Self { root, instance, parse_cache: None })
    }

    /// This repo, keeping what each file parsed to so that a re-load parses only changed files.
    #[must_use]
    pub fn with_parse_cache(mut self) -> Self {
        self.parse_cache = Some(ParseCache::default());
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// This repo, owning what the repo at `root` owns: a private checkout of it (promotion)
    /// must plan as the user's repo, whose remote or path its derived id comes from.
    #[must_use]
    pub fn identified_as(mut self, root: &Path) -> Self {
        self.instance = instance::resolve(root);
        self
    }

    /// The repo's instance, or the problem with `coxswain.yaml`.
    pub fn instance(&self) -> Result<&Instance, &Diagnostic> {
        self.instance.as_ref()
    }

    /// Environment names (folders under `environments/`), sorted.
    pub fn env_names(&self) -> Result<Vec<String>, RepoError> {
        let dir = self.root.join("environments");
        let entries = std::fs::read_dir(&dir)
            .map_err(|source| RepoError::Io { path: "environments".into(), source })?;
        let mut names = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|source| RepoError::Io { path: "environments".into(), source })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && entry.path().is_dir() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Loads all environments, or only `only`. All files of the load share one alias-expansion
    /// budget, so many small alias bombs spread over documents, files and envs still stop.
    pub fn load(&self, only: Option<&str>) -> Result<Vec<Environment>, RepoError> {
        let names = self.env_names()?;
        if let Some(wanted) = only {
            if !names.iter().any(|n| n == wanted) {
                return Err(RepoError::UnknownEnv {
                    name: wanted.to_owned(),
                    repo: self.root.display().to_string(),
                    found: names.join(", "),
                });
            }
            return Ok(vec![self.load_env(wanted)]);
        }
        let budget = ExpansionBudget::default();
        let budget = &budget;
        // Environments are independent: load them on parallel threads.
        Ok(std::thread::scope(|scope| {
            let handles: Vec<_> = names
                .iter()
                .map(|name| scope.spawn(move || self.load_env_in_load(name, budget)))
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        }))
    }

    /// Loads one environment from the working tree (a load of its own).
    pub fn load_env(&self, name: &str) -> Environment {
        self.load_env_in_load(name, &ExpansionBudget::default())
    }

    fn load_env_in_load(&self, name: &str, budget: &ExpansionBudget) -> Environment {
        let env_dir = format!("environments/{name}");
        let mut diagnostics = Vec::new();
        let mut files = Vec::new();
        let mut visited = HashSet::new();
        self.collect(&env_dir, &mut files, &mut diagnostics, &mut visited);
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let config_path = format!("{env_dir}/env.yaml");
        let config_index = files.iter().position(|f| f.path == config_path);
        let config_file = config_index.map(|i| files.remove(i));
        let config_text =
            config_file.as_ref().map(|f| String::from_utf8_lossy(&f.contents).into_owned());
        let overlay = kustomize::find_kustomization(&self.root.join(&env_dir));
        let mut environment = match overlay {
            None => {
                let cache = self.parse_cache.as_ref();
                if let Some(cache) = cache {
                    cache.forget_missing(&format!("{env_dir}/"), &files);
                }
                Environment::from_files_in_load(name, config_text.as_deref(), &files, budget, cache)
            }
            Some(file_name) => {
                self.load_overlay(name, &env_dir, file_name, config_text.as_deref(), budget)
            }
        };
        match &self.instance {
            Ok(instance) => environment.instance.clone_from(&instance.id),
            Err(problem) => diagnostics.push(problem.clone()),
        }
        diagnostics.extend(self.namespace_clashes(&environment));
        diagnostics.append(&mut environment.diagnostics);
        environment.diagnostics = diagnostics;
        environment
    }

    /// An env folder that is a kustomize overlay: `env.yaml` as usual, and as objects what
    /// `kustomize build` renders (the folder's other files are the overlay's, not manifests).
    fn load_overlay(
        &self,
        name: &str,
        env_dir: &str,
        file_name: &str,
        config_text: Option<&str>,
        budget: &ExpansionBudget,
    ) -> Environment {
        let kustomization = kustomize::read(&self.root, env_dir, file_name);
        let file = kustomization.file.clone();
        if !kustomization.outside.is_empty() {
            let refused = kustomization
                .outside
                .iter()
                .map(|(at, reference)| {
                    Diagnostic::error(
                        at,
                        0,
                        "path-escapes-repo",
                        format!(
                            "{reference} resolves outside the repo; what an overlay reads must \
                             be in git (remote bases by URL are fine)"
                        ),
                    )
                })
                .collect();
            let mut environment = Environment::build(name, config_text, |_| (Vec::new(), refused));
            environment.kustomization = Some(kustomization);
            return environment;
        }
        let rendered = kustomize::render(&self.root.join(env_dir), &file);
        let mut environment = Environment::build(name, config_text, |context| match rendered {
            Ok(rendered) => {
                let (objects, mut diagnostics) = loader::load_objects(
                    context,
                    &[SourceFile { path: file.clone(), contents: rendered.yaml.into_bytes() }],
                    budget,
                    None,
                );
                diagnostics.extend(
                    rendered
                        .warnings
                        .iter()
                        .map(|w| Diagnostic::warning(&file, 0, "kustomize-warning", w.clone())),
                );
                self.trace_rendered(&kustomization, objects, diagnostics)
            }
            Err(error) => (
                Vec::new(),
                vec![Diagnostic::error(&file, 0, "kustomize-failed", error.to_string())],
            ),
        });
        environment.kustomization = Some(kustomization);
        environment
    }

    /// Gives rendered objects the source of the manifest they come from (a base file and line)
    /// when one declares them, else the kustomization file; and says that diagnostics about the
    /// rendered output concern that output.
    fn trace_rendered(
        &self,
        kustomization: &Kustomization,
        objects: Vec<DesiredObject>,
        diagnostics: Vec<Diagnostic>,
    ) -> (Vec<DesiredObject>, Vec<Diagnostic>) {
        let sources = kustomize::Sources::index(&self.root, kustomization);
        let mut objects: Vec<DesiredObject> = objects
            .into_iter()
            .map(|object| match sources.locate(object.kind(), object.name()) {
                Some((file, line, lines)) => object.traced_to(Source { file, line }, lines),
                None => object.traced_to(
                    Source { file: kustomization.file.clone(), line: 0 },
                    Arc::default(),
                ),
            })
            .collect();
        // In file order, as a folder of manifests loads (and as a revision stores them).
        objects.sort_by(|a, b| a.source.cmp(&b.source));
        let diagnostics = diagnostics
            .into_iter()
            .map(|mut diagnostic| {
                if diagnostic.file == kustomization.file && diagnostic.line > 0 {
                    diagnostic.message = format!(
                        "in the rendered output of the overlay, line {}: {}",
                        diagnostic.line, diagnostic.message
                    );
                    diagnostic.line = 0;
                }
                diagnostic
            })
            .collect();
        (objects, diagnostics)
    }

    /// Other environments of this repo in the same namespace on the same kube context: their
    /// bookkeeping (history, inventory, sync lock) lives per namespace, so they would overwrite
    /// each other's. Envs that name different contexts may share a namespace name (one per
    /// cluster); whether two contexts reach one cluster only the cluster can tell, and a sync
    /// finds out from the namespace's inventory.
    fn namespace_clashes(&self, env: &Environment) -> Vec<Diagnostic> {
        let Ok(names) = self.env_names() else { return Vec::new() };
        let mut clashes = Vec::new();
        for other in names.iter().filter(|n| **n != env.name) {
            let path = self.root.join("environments").join(other).join("env.yaml");
            let text = std::fs::read_to_string(&path).ok();
            let file = format!("environments/{other}/env.yaml");
            let config = match text.map(|t| config::parse_env_config(&t, &file)) {
                None => EnvConfig::default(),
                Some(Ok((config, _))) => config,
                Some(Err(_)) => continue, // that env reports its own broken env.yaml
            };
            let namespace = config.namespace.clone().unwrap_or_else(|| other.clone());
            if namespace == env.namespace && config.context == env.config.context {
                let on = env.config.context.as_deref().map_or_else(
                    || "the current kube context".to_owned(),
                    |c| format!("kube context {c}"),
                );
                clashes.push(Diagnostic::error(
                    &format!("environments/{}/env.yaml", env.name),
                    0,
                    "namespace-shared",
                    format!(
                        "environments {} and {other} both use namespace {namespace} on {on}: \
                         Coxswain keeps each environment's history, inventory and sync lock in its \
                         namespace, so they would overwrite each other's. Give one of them another \
                         `namespace` (or another `context`)",
                        env.name
                    ),
                ));
            }
        }
        clashes
    }

    /// Reads the YAML files under `relative`, refusing anything that resolves outside the repo.
    fn collect(
        &self,
        relative: &str,
        files: &mut Vec<SourceFile>,
        diagnostics: &mut Vec<Diagnostic>,
        visited: &mut HashSet<PathBuf>,
    ) {
        let dir = self.root.join(relative);
        let Some(canonical_dir) = self.inside_repo(&dir, relative, diagnostics) else { return };
        if !visited.insert(canonical_dir) {
            return; // a directory symlink loop
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                diagnostics.push(Diagnostic::error(relative, 0, "unreadable-file", e.to_string()));
                return;
            }
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if file_name.starts_with('.') {
                continue;
            }
            let path = format!("{relative}/{file_name}");
            let full = entry.path();
            if full.is_dir() {
                self.collect(&path, files, diagnostics, visited);
                continue;
            }
            if !is_yaml_file(&file_name) && !kustomize::is_kustomization_file(&file_name) {
                continue;
            }
            if self.inside_repo(&full, &path, diagnostics).is_none() {
                continue;
            }
            match std::fs::metadata(&full) {
                Ok(meta) if meta.len() > loader::MAX_FILE_BYTES => {
                    diagnostics.push(Diagnostic::error(
                        &path,
                        0,
                        "file-too-large",
                        format!(
                            "file is {} bytes; manifests over {} bytes are refused",
                            meta.len(),
                            loader::MAX_FILE_BYTES
                        ),
                    ));
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    diagnostics.push(Diagnostic::error(&path, 0, "unreadable-file", e.to_string()));
                    continue;
                }
            }
            match std::fs::read(&full) {
                Ok(contents) => files.push(SourceFile { path, contents }),
                Err(e) => {
                    diagnostics.push(Diagnostic::error(&path, 0, "unreadable-file", e.to_string()));
                }
            }
        }
    }

    /// The canonical path of `full` when it stays inside the repo; a diagnostic otherwise.
    fn inside_repo(
        &self,
        full: &Path,
        relative: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<PathBuf> {
        match full.canonicalize() {
            Ok(canonical) if canonical.starts_with(&self.root) => Some(canonical),
            Ok(canonical) => {
                diagnostics.push(Diagnostic::error(
                    relative,
                    0,
                    "path-escapes-repo",
                    format!(
                        "resolves to {} outside the repo; symlinks must stay inside it",
                        canonical.display()
                    ),
                ));
                None
            }
            Err(e) => {
                diagnostics.push(Diagnostic::error(
                    relative,
                    0,
                    "unreadable-file",
                    format!("cannot resolve path: {e}"),
                ));
                None
            }
        }
    }
}

/// Which environments a set of changed paths concern: files under `environments/<env>/`
/// concern that env; anything else (pipelines, models) concerns none.
pub fn envs_touched(root: &Path, paths: &[PathBuf], known: &[String]) -> BTreeSet<String> {
    envs_touched_with(root, paths, known, &BTreeMap::new())
}

/// The folders outside `environments/<env>/` that each kustomize overlay among `known` reads
/// (its bases, components, patches), repo-relative: the app watches them too.
pub fn overlay_dirs(root: &Path, known: &[String]) -> BTreeMap<String, Vec<String>> {
    known
        .iter()
        .filter_map(|env| {
            let env_dir = format!("environments/{env}");
            let file_name = kustomize::find_kustomization(&root.join(&env_dir))?;
            let dirs = kustomize::read(root, &env_dir, file_name).extra_dirs;
            (!dirs.is_empty()).then(|| (env.clone(), dirs))
        })
        .collect()
}

/// [`envs_touched`], plus the overlays whose [`overlay_dirs`] (`extra`) hold a changed path.
pub fn envs_touched_with(
    root: &Path,
    paths: &[PathBuf],
    known: &[String],
    extra: &BTreeMap<String, Vec<String>>,
) -> BTreeSet<String> {
    let mut touched = BTreeSet::new();
    for path in paths {
        let Ok(relative) = path.strip_prefix(root) else { continue };
        for (env, dirs) in extra {
            if dirs.iter().any(|dir| relative.starts_with(dir)) {
                touched.insert(env.clone());
            }
        }
    }
    touched.extend(paths.iter().filter_map(|path| {
        let relative = path.strip_prefix(root).ok()?;
        let mut parts = relative.components();
        (parts.next()? == Component::Normal("environments".as_ref())).then_some(())?;
        let Component::Normal(env) = parts.next()? else { return None };
        let env = env.to_str()?;
        known.iter().any(|k| k == env).then(|| env.to_owned())
    }));
    touched
}

/// `.yaml` / `.yml`, in any letter case.
pub fn is_yaml_file(name: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml"))
}
