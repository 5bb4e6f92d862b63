//! Turns the files of one environment into desired objects, collecting every problem with its
//! file and line instead of stopping at the first. Pure: it sees file contents, not the disk, so
//! the same code loads a working tree and a git revision.

use super::names::{check_label, check_name};
use super::object::{DesiredObject, Source, is_builtin_cluster_scoped};
use crate::cluster::{Gvk, ObjectKey};
use crate::diagnostic::Diagnostic;
use crate::repo::config::EnvConfig;
use crate::repo::parse_cache::ParseCache;
use crate::yaml::{self, Document, ExpansionBudget};
use serde_json::Value;
use std::collections::HashMap;

/// Files larger than this are refused: manifests are small, and a huge file is a mistake.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// One manifest file's path (repo-relative) and raw bytes.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub contents: Vec<u8>,
}

/// What the loader needs to know about the environment.
#[derive(Debug, Clone, Copy)]
pub struct EnvContext<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub config: &'a EnvConfig,
}

/// Loads every object of the given files. Files are processed in the order given; callers sort.
/// Manifests are read as `kubectl` reads them; their alias expansion is charged to `budget`,
/// which the caller shares across one load of the repo. With `cache`, files parsed before with
/// the same bytes are not parsed again.
pub fn load_objects(
    env: EnvContext<'_>,
    files: &[SourceFile],
    budget: &ExpansionBudget,
    cache: Option<&ParseCache>,
) -> (Vec<DesiredObject>, Vec<Diagnostic>) {
    let mut objects = Vec::new();
    let mut diagnostics = Vec::new();
    let mut seen: HashMap<ObjectKey, Source> = HashMap::new();
    for (file, parsed) in files.iter().zip(parse_files(files, budget, cache)) {
        let Some(parsed) = parsed else {
            decode_utf8(file, &mut diagnostics);
            continue;
        };
        let documents = match parsed {
            Ok(documents) => documents,
            Err(e) => {
                diagnostics.push(Diagnostic::error(
                    &file.path,
                    e.line,
                    "yaml-syntax",
                    format!("invalid YAML at column {}: {}", e.column, e.message),
                ));
                continue;
            }
        };
        for document in documents {
            match check_document(env, &file.path, document) {
                Ok(object) => {
                    if let Some(first) = seen.get(&object.key) {
                        diagnostics.push(Diagnostic::error(
                            &file.path,
                            object.source.line,
                            "duplicate-object",
                            format!("{} is declared twice: here and at {first}", object.key),
                        ));
                    } else {
                        seen.insert(object.key.clone(), object.source.clone());
                        objects.push(object);
                    }
                }
                Err(mut found) => diagnostics.append(&mut found),
            }
        }
    }
    (objects, diagnostics)
}

/// Envs with at least this many files parse them on every core: parsing is most of a load.
const PARALLEL_PARSE_FROM: usize = 64;

/// Each file's documents, in order; `None` for a file that is not UTF-8.
fn parse_files(
    files: &[SourceFile],
    budget: &ExpansionBudget,
    cache: Option<&ParseCache>,
) -> Vec<Option<Result<Vec<Document>, yaml::YamlError>>> {
    let parse = |file: &SourceFile| {
        let text = std::str::from_utf8(&file.contents).ok()?;
        if let Some(documents) = cache.and_then(|cache| cache.get(file)) {
            return Some(documents);
        }
        let documents = yaml::parse_manifests(text, budget);
        if let Some(cache) = cache {
            cache.put(file, &documents);
        }
        Some(documents)
    };
    crate::cores::map_in_parallel(files, PARALLEL_PARSE_FROM, parse)
}

fn decode_utf8<'a>(file: &'a SourceFile, diagnostics: &mut Vec<Diagnostic>) -> Option<&'a str> {
    match std::str::from_utf8(&file.contents) {
        Ok(text) => Some(text),
        Err(e) => {
            let valid = &file.contents[..e.valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() as u32 + 1;
            diagnostics.push(Diagnostic::error(
                &file.path,
                line,
                "not-utf8",
                format!("file is not valid UTF-8 (bad byte at offset {})", e.valid_up_to()),
            ));
            None
        }
    }
}

/// Checks one document and builds its object; returns every problem found in it.
fn check_document(
    env: EnvContext<'_>,
    file: &str,
    document: Document,
) -> Result<DesiredObject, Vec<Diagnostic>> {
    let Document { mut value, line, lines } = document;
    let error =
        |line: u32, code: &str, message: String| Diagnostic::error(file, line, code, message);
    let Some(map) = value.as_object() else {
        return Err(vec![error(
            line,
            "not-a-mapping",
            format!("a manifest must be a mapping, found {}", type_name(&value)),
        )]);
    };
    let mut problems = Vec::new();
    let mut string_field = |pointer: &str, field: &str| -> Option<String> {
        match value.pointer(pointer) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::String(_) | Value::Null) | None => {
                problems.push(error(
                    lines.line_of(pointer).unwrap_or(line),
                    "missing-field",
                    format!("missing {field}"),
                ));
                None
            }
            Some(other) => {
                problems.push(error(
                    lines.line_of(pointer).unwrap_or(line),
                    "invalid-field",
                    format!("{field} must be a string, found {}", type_name(other)),
                ));
                None
            }
        }
    };
    let api_version = string_field("/apiVersion", "apiVersion");
    let kind = string_field("/kind", "kind");
    let name = if map.get("metadata").is_some_and(|m| !m.is_object() && !m.is_null()) {
        problems.push(error(
            lines.line_of("/metadata").unwrap_or(line),
            "invalid-field",
            "metadata must be a mapping".to_owned(),
        ));
        None
    } else {
        string_field("/metadata/name", "metadata.name")
    };
    let (Some(api_version), Some(kind), Some(name)) = (api_version, kind, name) else {
        return Err(problems);
    };
    let gvk = Gvk::from_api_version(&api_version, &kind);
    let name_line = lines.line_of("/metadata/name").unwrap_or(line);
    if let Err(why) = check_name(&kind, &name) {
        problems.push(error(
            name_line,
            "invalid-name",
            format!("invalid {kind} name \"{name}\": {why}"),
        ));
    }
    if kind.ends_with("List") && map.contains_key("items") {
        problems.push(error(
            line,
            "unsupported-kind",
            format!("{kind} is not supported: write one document per object"),
        ));
    }

    let namespace_line = lines.line_of("/metadata/namespace").unwrap_or(name_line);
    let declared_namespace = value.pointer("/metadata/namespace").cloned();
    let namespace = if is_builtin_cluster_scoped(&gvk) {
        if !env.config.allow_cluster_scoped.contains(&kind) {
            problems.push(error(
                line,
                "cluster-scoped-not-allowed",
                format!(
                    "{kind} \"{name}\" is cluster-scoped; add {kind} to allowClusterScoped in \
                     environments/{}/env.yaml to manage it from this environment",
                    env.name
                ),
            ));
        }
        if let Some(ns) = declared_namespace.filter(|ns| !ns.is_null()) {
            problems.push(error(
                namespace_line,
                "wrong-namespace",
                format!("{kind} is cluster-scoped and cannot have a namespace (found {ns})"),
            ));
        }
        None
    } else {
        match declared_namespace {
            None | Some(Value::Null) => {}
            Some(Value::String(ns)) if ns == env.namespace => {}
            Some(other) => problems.push(error(
                namespace_line,
                "wrong-namespace",
                format!(
                    "{kind} \"{name}\" names namespace {other} but environment \"{}\" deploys to \
                     namespace \"{}\"; remove metadata.namespace or move the file",
                    env.name, env.namespace
                ),
            )),
        }
        Some(env.namespace.to_owned())
    };

    if gvk.group.is_empty() && kind == "Secret" && !env.config.allow_plaintext_secrets {
        for field in ["data", "stringData"] {
            if map.get(field).is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty())) {
                problems.push(error(
                    lines.line_of(&format!("/{field}")).unwrap_or(line),
                    "plaintext-secret",
                    format!(
                        "Secret \"{name}\" holds plaintext {field} in git; use a SealedSecret or \
                         ExternalSecret, or set allowPlaintextSecrets: true in environments/{}/env.yaml",
                        env.name
                    ),
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if let (Some(ns), Some(metadata)) =
        (&namespace, value.get_mut("metadata").and_then(Value::as_object_mut))
    {
        metadata.insert("namespace".to_owned(), Value::String(ns.clone()));
    }
    let key = ObjectKey::new(&gvk, namespace.as_deref(), &name);
    Ok(DesiredObject::new(gvk, key, value, Source { file: file.to_owned(), line }, lines))
}

/// Checks that an environment's namespace is a valid namespace name.
pub fn check_namespace(namespace: &str) -> Result<(), super::names::InvalidName> {
    check_label(namespace)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}
