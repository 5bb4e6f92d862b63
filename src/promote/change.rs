//! What a promotion moves from one environment to the next, and the edited file texts.
//!
//! Only values move, never structure: image tags/digests of containers that exist in both
//! environments (matched by workload kind and name, then container name), and the `model`
//! reference of `env.yaml`. Everything else in the target (replica counts, resources, its own
//! image registry) stays as the target's owners wrote it, which is why a change is a list of
//! scalar edits rather than a copy of files.

use crate::pipeline::Artifact;
use crate::repo::{DesiredObject, Environment, ModelRef};
use crate::yaml_edit::{self, Segment, YamlEditError, YamlPath};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One value that moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Moved {
    pub artifact: Artifact,
    /// Repo-relative file of the target environment that is edited.
    pub file: String,
    /// What the value is, for people: `model.version`, `Deployment iris-server, container server: image`.
    pub field: String,
    /// Where the value is in the file.
    #[serde(skip)]
    pub path: YamlPath,
    /// The target's value before the promotion; `None` when the key is added.
    pub old: Option<String>,
    pub new: String,
}

/// The model reference before and after, when the model moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ModelMove {
    /// The target's model before the promotion (the validation baseline).
    pub old: ModelRef,
    /// The incoming model.
    pub new: ModelRef,
}

/// Everything that moves from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub from: String,
    pub to: String,
    pub moved: Vec<Moved>,
    /// Set when any model field moves.
    pub model: Option<ModelMove>,
    /// What was looked at but not moved, and why (a workload only in one env, say).
    pub notes: Vec<String>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.moved.is_empty()
    }
}

/// One edited file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    /// Repo-relative path.
    pub file: String,
    pub before: String,
    pub after: String,
}

/// Why the change could not be computed or applied. Nothing is written in either case.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(
        "{file}: environment \"{env}\" has no `model`, so the incoming model has nowhere to go; \
         add a model block (name, path) by hand, then promote again"
    )]
    NoTargetModel { env: String, file: String },
    #[error(
        "{source_file} has no model.{field} but {target_file} sets it ({value}); set model.{field} \
         in {source_file} (or remove it from {target_file}), then promote again"
    )]
    SourceLacksField {
        field: &'static str,
        source_file: String,
        target_file: String,
        value: String,
    },
    #[error("{file}: {source}")]
    Edit { file: String, source: YamlEditError },
    #[error(
        "{file}: cannot add model.{field} automatically ({reason}); add `{field}: {value}` to the \
         model block by hand, then promote again"
    )]
    Insert { file: String, field: &'static str, value: String, reason: InsertBlocked },
    #[error("{file}: {object} is not found in the file, though the environment declares it")]
    ObjectNotInFile { file: String, object: String },
    #[error("{file}: cannot read: {reason}")]
    Read { file: String, reason: String },
    #[error(
        "{object}: the image {image} comes from {file}, outside environments/{env}/, which other \
         environments may share; add an entry for it to the `images:` list of {kustomization} \
         (`- name: {image_name}` with `newTag:`), then promote again"
    )]
    SharedBase {
        env: String,
        object: String,
        image: String,
        image_name: String,
        file: String,
        kustomization: String,
    },
    #[error(
        "{file}:{line}: the `images:` entry for {image_name} has no `{field}`, so the promoted \
         {field} {value} has nowhere to go; add `{field}:` to it by hand, then promote again"
    )]
    ImageEntryField {
        file: String,
        line: u32,
        image_name: String,
        field: &'static str,
        value: String,
    },
    #[error(
        "{file}:{line}: the `images:` entry for {image_name} pins `{field}: {old}`, but the \
         promoted image {new} has no {field}; remove `{field}` from the entry by hand (or promote \
         an image with one), then promote again"
    )]
    ImageEntryPin {
        file: String,
        line: u32,
        image_name: String,
        field: &'static str,
        old: String,
        new: String,
    },
}

/// Computes what moves from `source` to `target` for the given artifacts. `read` returns the text
/// of a repo-relative file (of the target environment).
pub fn compute(
    source: &Environment,
    target: &Environment,
    artifacts: &[Artifact],
    read: &dyn Fn(&str) -> Result<String, ChangeError>,
) -> Result<Change, ChangeError> {
    let mut change = Change {
        from: source.name.clone(),
        to: target.name.clone(),
        moved: Vec::new(),
        model: None,
        notes: Vec::new(),
    };
    if artifacts.contains(&Artifact::Images) {
        images(source, target, read, &mut change)?;
    }
    if artifacts.contains(&Artifact::Model) {
        model(source, target, &mut change)?;
    }
    Ok(change)
}

fn env_file(env: &str) -> String {
    format!("environments/{env}/env.yaml")
}

/// The model reference fields, in the order they are listed and edited.
const MODEL_FIELDS: [&str; 4] = ["name", "version", "path", "sha256"];

fn model_field<'m>(model: &'m ModelRef, field: &str) -> Option<&'m str> {
    match field {
        "name" => Some(&model.name),
        "version" => model.version.as_deref(),
        "path" => Some(&model.path),
        _ => model.sha256.as_deref(),
    }
}

fn model(
    source: &Environment,
    target: &Environment,
    change: &mut Change,
) -> Result<(), ChangeError> {
    let Some(incoming) = &source.config.model else {
        change.notes.push(format!("{} declares no model: no model moves", source.name));
        return Ok(());
    };
    let target_file = env_file(&target.name);
    let Some(current) = &target.config.model else {
        return Err(ChangeError::NoTargetModel { env: target.name.clone(), file: target_file });
    };
    let before = change.moved.len();
    for field in MODEL_FIELDS {
        let new = model_field(incoming, field);
        let old = model_field(current, field);
        match (new, old) {
            (Some(new), old) if old != Some(new) => change.moved.push(Moved {
                artifact: Artifact::Model,
                file: target_file.clone(),
                field: format!("model.{field}"),
                path: YamlPath::root(0).key("model").key(field),
                old: old.map(str::to_owned),
                new: new.to_owned(),
            }),
            (None, Some(old)) => {
                return Err(ChangeError::SourceLacksField {
                    field,
                    source_file: env_file(&source.name),
                    target_file,
                    value: old.to_owned(),
                });
            }
            _ => {}
        }
    }
    if change.moved.len() > before {
        change.model = Some(ModelMove { old: current.clone(), new: incoming.clone() });
    }
    Ok(())
}

/// Where a workload kind keeps its pod spec (the same kinds the policy gate checks).
fn pod_spec_pointer(object: &DesiredObject) -> Option<&'static str> {
    match (object.gvk.group.as_str(), object.kind()) {
        ("", "Pod") => Some("/spec"),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch", "Job") => {
            Some("/spec/template/spec")
        }
        ("batch", "CronJob") => Some("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

fn images(
    source: &Environment,
    target: &Environment,
    read: &dyn Fn(&str) -> Result<String, ChangeError>,
    change: &mut Change,
) -> Result<(), ChangeError> {
    for workload in &source.objects {
        let Some(pod_pointer) = pod_spec_pointer(workload) else { continue };
        let label = format!("{} {}", workload.kind(), workload.name());
        let Some(counterpart) = target.objects.iter().find(|o| {
            o.gvk.group == workload.gvk.group
                && o.kind() == workload.kind()
                && o.name() == workload.name()
        }) else {
            change
                .notes
                .push(format!("{label} is only in {}: its images do not move", source.name));
            continue;
        };
        for list in ["initContainers", "containers"] {
            let Some(containers) =
                workload.value.pointer(&format!("{pod_pointer}/{list}")).and_then(Value::as_array)
            else {
                continue;
            };
            let target_list = counterpart
                .value
                .pointer(&format!("{pod_pointer}/{list}"))
                .and_then(Value::as_array);
            for container in containers {
                let Some(name) = container.get("name").and_then(Value::as_str) else { continue };
                let Some(incoming) = container.get("image").and_then(Value::as_str) else {
                    continue;
                };
                let found = target_list.and_then(|items| {
                    items
                        .iter()
                        .enumerate()
                        .find(|(_, c)| c.get("name").and_then(Value::as_str) == Some(name))
                });
                let Some((index, target_container)) = found else {
                    change.notes.push(format!(
                        "{label}: container {name} is only in {}: its image does not move",
                        source.name
                    ));
                    continue;
                };
                let Some(current) = target_container.get("image").and_then(Value::as_str) else {
                    change.notes.push(format!(
                        "{label}: container {name} has no image in {}: nothing to replace",
                        target.name
                    ));
                    continue;
                };
                let new = retag(current, incoming);
                if image_name(current) != image_name(incoming) {
                    change.notes.push(format!(
                        "{label}: container {name} uses {} in {} and {} in {}: only the tag/digest moves",
                        image_name(incoming),
                        source.name,
                        image_name(current),
                        target.name
                    ));
                }
                if new == current {
                    continue;
                }
                if let Some(kustomization) = &target.kustomization {
                    let place = ContainerPlace {
                        label: &label,
                        object: counterpart,
                        pod_pointer,
                        list,
                        container: name,
                    };
                    change.moved.extend(overlay_moves(
                        &target.name,
                        kustomization,
                        &place,
                        current,
                        &new,
                        read,
                    )?);
                    continue;
                }
                let file = counterpart.source.file.clone();
                let text = read(&file)?;
                let document =
                    yaml_edit::find_document(&text, counterpart.kind(), counterpart.name())
                        .map_err(|source| ChangeError::Edit { file: file.clone(), source })?
                        .ok_or_else(|| ChangeError::ObjectNotInFile {
                            file: file.clone(),
                            object: label.clone(),
                        })?;
                let mut path = YamlPath::root(document);
                for key in pod_pointer.split('/').filter(|k| !k.is_empty()) {
                    path = path.key(key);
                }
                let list_label = if list == "containers" { "container" } else { "init container" };
                change.moved.push(Moved {
                    artifact: Artifact::Images,
                    file,
                    field: format!("{label}, {list_label} {name}: image"),
                    path: path.key(list).index(index).key("image"),
                    old: Some(current.to_owned()),
                    new,
                });
            }
        }
    }
    Ok(())
}

/// A container of a workload in the target environment.
struct ContainerPlace<'a> {
    /// `Deployment web`, for messages.
    label: &'a str,
    object: &'a DesiredObject,
    pod_pointer: &'a str,
    /// `containers` or `initContainers`.
    list: &'a str,
    container: &'a str,
}

/// Where a promoted image goes in a kustomize overlay, as people edit overlays by hand: the
/// kustomization's `images:` entry when one manages the image (its `newTag`/`digest`), else the
/// overlay's own file (a patch or a resource of the env folder) that sets the image. An image
/// that only a shared base sets is refused: editing the base would promote every environment
/// built from it.
fn overlay_moves(
    env: &str,
    kustomization: &crate::repo::Kustomization,
    place: &ContainerPlace<'_>,
    current: &str,
    new: &str,
    read: &dyn Fn(&str) -> Result<String, ChangeError>,
) -> Result<Vec<Moved>, ChangeError> {
    let list_label = if place.list == "containers" { "container" } else { "init container" };
    let field = format!("{}, {list_label} {}: image", place.label, place.container);
    if let Some(entry) =
        kustomization.images.iter().find(|entry| entry.rendered_name() == image_name(current))
    {
        let (_, tag, digest) = split_image(new);
        let mut moves = Vec::new();
        let mut wanted = vec![("newTag", tag, entry.new_tag.as_deref())];
        wanted.push(("digest", digest, entry.digest.as_deref()));
        for (key, value, old) in wanted {
            match (value, old) {
                (Some(value), Some(old)) if value != old => moves.push(Moved {
                    artifact: Artifact::Images,
                    file: kustomization.file.clone(),
                    field: format!("{field} (images: {} {key})", entry.name),
                    path: entry.path.clone().key(key),
                    old: Some(old.to_owned()),
                    new: value.to_owned(),
                }),
                (Some(_), Some(_)) | (None, None) => {}
                (Some(value), None) => {
                    return Err(ChangeError::ImageEntryField {
                        file: kustomization.file.clone(),
                        line: entry.line,
                        image_name: entry.name.clone(),
                        field: key,
                        value: value.to_owned(),
                    });
                }
                (None, Some(old)) => {
                    // The incoming image has no such part: the entry would keep pinning the old.
                    return Err(ChangeError::ImageEntryPin {
                        file: kustomization.file.clone(),
                        line: entry.line,
                        image_name: entry.name.clone(),
                        field: key,
                        old: old.to_owned(),
                        new: new.to_owned(),
                    });
                }
            }
        }
        return Ok(moves);
    }
    let env_dir = format!("environments/{env}/");
    let mut candidates: Vec<&String> =
        kustomization.patch_files.iter().filter(|f| f.starts_with(&env_dir)).collect();
    candidates.extend(kustomization.resource_files.iter().filter(|f| f.starts_with(&env_dir)));
    for file in candidates {
        let text = read(file)?;
        if let Some(path) = container_image_in(&text, place) {
            return Ok(vec![Moved {
                artifact: Artifact::Images,
                file: file.clone(),
                field,
                path,
                old: Some(current.to_owned()),
                new: new.to_owned(),
            }]);
        }
    }
    Err(ChangeError::SharedBase {
        env: env.to_owned(),
        object: place.label.to_owned(),
        image: current.to_owned(),
        image_name: image_name(current).to_owned(),
        file: place.object.source.file.clone(),
        kustomization: kustomization.file.clone(),
    })
}

/// The path of the container's `image` in the document of `text` declaring the place's object
/// (by kind and name), when that document sets it.
fn container_image_in(text: &str, place: &ContainerPlace<'_>) -> Option<YamlPath> {
    let document =
        yaml_edit::find_document(text, place.object.kind(), place.object.name()).ok()??;
    let parsed = crate::yaml::parse_documents(text).ok()?;
    let value = &parsed
        .iter()
        .find(|d| {
            d.value.get("kind").and_then(Value::as_str) == Some(place.object.kind())
                && d.value.pointer("/metadata/name").and_then(Value::as_str)
                    == Some(place.object.name())
        })?
        .value;
    let containers = value
        .pointer(&format!("{}/{}", place.pod_pointer, place.list))
        .and_then(Value::as_array)?;
    let index = containers.iter().position(|c| {
        c.get("name").and_then(Value::as_str) == Some(place.container)
            && c.get("image").is_some_and(Value::is_string)
    })?;
    let mut path = YamlPath::root(document);
    for key in place.pod_pointer.split('/').filter(|k| !k.is_empty()) {
        path = path.key(key);
    }
    Some(path.key(place.list).index(index).key("image"))
}

/// The image reference split as `name[:tag][@digest]` (the tag's colon comes after the last `/`,
/// so a registry port is not taken for a tag).
fn split_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(colon) => (&rest[..slash + colon], Some(&rest[slash + colon + 1..]), digest),
        None => (rest, None, digest),
    }
}

fn image_name(image: &str) -> &str {
    split_image(image).0
}

/// The target's image name with the incoming tag and digest: environments may pull the same
/// image from different registries, and what is promoted is the version.
fn retag(current: &str, incoming: &str) -> String {
    let (name, _, _) = split_image(current);
    let (_, tag, digest) = split_image(incoming);
    let mut out = name.to_owned();
    if let Some(tag) = tag {
        out.push(':');
        out.push_str(tag);
    }
    if let Some(digest) = digest {
        out.push('@');
        out.push_str(digest);
    }
    out
}

/// The edited texts of every file the change touches, in file order. All or nothing.
pub fn edit_files(
    change: &Change,
    read: &dyn Fn(&str) -> Result<String, ChangeError>,
) -> Result<Vec<FileEdit>, ChangeError> {
    let mut by_file: BTreeMap<&str, Vec<&Moved>> = BTreeMap::new();
    for moved in &change.moved {
        by_file.entry(moved.file.as_str()).or_default().push(moved);
    }
    let mut edits = Vec::new();
    for (file, moved) in by_file {
        let before = read(file)?;
        let sets: Vec<(YamlPath, String)> = moved
            .iter()
            .filter(|m| m.old.is_some())
            .map(|m| (m.path.clone(), m.new.clone()))
            .collect();
        let mut after = yaml_edit::set_scalars(&before, &sets)
            .map_err(|source| ChangeError::Edit { file: file.to_owned(), source })?;
        for added in moved.iter().filter(|m| m.old.is_none()) {
            // Only model fields are ever added (images always replace an existing value).
            let field = MODEL_FIELDS
                .into_iter()
                .find(|f| added.path.segments.last() == Some(&Segment::Key((*f).to_owned())))
                .unwrap_or("sha256");
            after = insert_model_field(&after, field, &added.new).map_err(|reason| {
                ChangeError::Insert {
                    file: file.to_owned(),
                    field,
                    value: added.new.clone(),
                    reason,
                }
            })?;
        }
        edits.push(FileEdit { file: file.to_owned(), before, after });
    }
    Ok(edits)
}

/// Adds `field: "value"` to the block mapping `model` of an `env.yaml`, on a new line after
/// `model.path` with the same indentation, then checks the result: it must parse to the old
/// document plus exactly that key. Anything unusual (flow style, a multi-line path) fails the
/// check and is reported instead of guessed at.
fn insert_model_field(text: &str, field: &str, value: &str) -> Result<String, InsertBlocked> {
    let documents = crate::yaml::parse_documents(text).map_err(InsertBlocked::Yaml)?;
    let [document] = documents.as_slice() else {
        return Err(InsertBlocked::NotOneDocument);
    };
    let line = document.lines.exact("/model/path").ok_or(InsertBlocked::NoModelPath)?;
    let line = usize::try_from(line).map_err(|_| InsertBlocked::PastEnd)?;
    let mut offset = 0;
    let mut insert_at = None;
    let mut indent = "";
    for (index, piece) in text.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            indent = &piece[..piece.len() - piece.trim_start().len()];
            insert_at = Some(offset + piece.len());
        }
        offset += piece.len();
    }
    let insert_at = insert_at.ok_or(InsertBlocked::PastEnd)?;
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    let mut new_line = format!("{indent}{field}: \"{escaped}\"{newline}");
    let mut out = text.to_owned();
    if !out[..insert_at].ends_with('\n') {
        new_line = format!("{newline}{}", new_line.trim_end_matches(['\r', '\n']));
    }
    out.insert_str(insert_at, &new_line);
    let mut expected = document.value.clone();
    match expected.pointer_mut("/model").and_then(Value::as_object_mut) {
        Some(model) => {
            model.insert(field.to_owned(), Value::String(value.to_owned()));
        }
        None => return Err(InsertBlocked::NotPlainBlock),
    }
    let reparsed = crate::yaml::parse_documents(&out).map_err(InsertBlocked::Yaml)?;
    match reparsed.as_slice() {
        [document] if document.value == expected => Ok(out),
        _ => Err(InsertBlocked::NotPlainBlock),
    }
}

/// Why a model field could not be added to an `env.yaml` without guessing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsertBlocked {
    #[error("{0}")]
    Yaml(crate::yaml::YamlError),
    #[error("env.yaml must hold one YAML document")]
    NotOneDocument,
    #[error("model.path is not in the file")]
    NoModelPath,
    #[error("model.path's line is past the end of the file")]
    PastEnd,
    #[error("the model block is not a plain block mapping")]
    NotPlainBlock,
}

/// A unified diff of the edited files, as `git diff` shows it.
pub fn unified_diff(edits: &[FileEdit]) -> String {
    let mut out = String::new();
    for edit in edits {
        out.push_str(
            &similar::TextDiff::from_lines(&edit.before, &edit.after)
                .unified_diff()
                .context_radius(2)
                .header(&format!("a/{}", edit.file), &format!("b/{}", edit.file))
                .to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::SourceFile;
    use std::collections::HashMap;

    const DEPLOY: &str = "# server\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: fetch\n          image: IMG_INIT\n      containers:\n        - name: app\n          image: IMG_APP\n";

    /// An environment from `env.yaml` text and manifests, plus a reader over the same files.
    fn env(
        name: &str,
        config: &str,
        manifests: &[(&str, String)],
    ) -> (Environment, HashMap<String, String>) {
        let files: Vec<SourceFile> = manifests
            .iter()
            .map(|(file, text)| SourceFile {
                path: format!("environments/{name}/{file}"),
                contents: text.as_bytes().to_vec(),
            })
            .collect();
        let environment = Environment::from_files(name, Some(config), &files);
        assert!(!environment.has_errors(), "{:?}", environment.diagnostics);
        let mut texts: HashMap<String, String> = manifests
            .iter()
            .map(|(file, text)| (format!("environments/{name}/{file}"), text.clone()))
            .collect();
        texts.insert(format!("environments/{name}/env.yaml"), config.to_owned());
        (environment, texts)
    }

    fn reader(
        texts: &HashMap<String, String>,
    ) -> impl Fn(&str) -> Result<String, ChangeError> + '_ {
        |file| {
            texts
                .get(file)
                .cloned()
                .ok_or_else(|| ChangeError::Read { file: file.into(), reason: "missing".into() })
        }
    }

    #[test]
    fn a_pinned_model_carries_its_pin_into_an_unpinned_target() {
        let (dev, _) = env("dev", "model:\n  name: m\n  path: m/2.onnx\n  sha256: ab12\n", &[]);
        let (staging, texts) =
            env("staging", "# keep\nmodel:\n  name: m\n  path: m/1.onnx # old\n", &[]);
        let read = reader(&texts);
        let change = compute(&dev, &staging, &[Artifact::Model], &read).unwrap();
        let moved: Vec<(&str, Option<&str>, &str)> = change
            .moved
            .iter()
            .map(|m| (m.field.as_str(), m.old.as_deref(), m.new.as_str()))
            .collect();
        assert_eq!(
            moved,
            vec![("model.path", Some("m/1.onnx"), "m/2.onnx"), ("model.sha256", None, "ab12")]
        );
        let edits = edit_files(&change, &read).unwrap();
        assert_eq!(edits.len(), 1);
        assert_eq!(
            edits[0].after,
            "# keep\nmodel:\n  name: m\n  path: m/2.onnx # old\n  sha256: \"ab12\"\n"
        );
    }

    #[test]
    fn a_pin_the_source_lacks_stops_the_promotion() {
        let (dev, _) = env("dev", "model:\n  name: m\n  path: m/2.onnx\n", &[]);
        let (staging, texts) =
            env("staging", "model:\n  name: m\n  path: m/1.onnx\n  sha256: ff\n", &[]);
        let error = compute(&dev, &staging, &[Artifact::Model], &reader(&texts)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "environments/dev/env.yaml has no model.sha256 but environments/staging/env.yaml sets it \
             (ff); set model.sha256 in environments/dev/env.yaml (or remove it from \
             environments/staging/env.yaml), then promote again"
        );
        let (bare, texts) = env("qa", "namespace: qa\n", &[]);
        let error = compute(&dev, &bare, &[Artifact::Model], &reader(&texts)).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("environments/qa/env.yaml: environment \"qa\" has no `model`")
        );
    }

    #[test]
    fn images_move_by_workload_and_container_name_keeping_the_target_registry() {
        let source = DEPLOY
            .replace("IMG_INIT", "dev.io/fetch:2")
            .replace("IMG_APP", "dev.io/app:2@sha256:aa")
            + "        - name: sidecar\n          image: dev.io/side:1\n";
        let extra = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: once\nspec:\n  template:\n    spec:\n      containers:\n        - name: job\n          image: j:1\n";
        let (dev, _) = env("dev", "", &[("web.yaml", source), ("job.yaml", extra.to_owned())]);
        let target_text =
            DEPLOY.replace("IMG_INIT", "prod.io/fetch:1").replace("IMG_APP", "prod.io/app:1");
        let (prod, texts) = env("prod", "", &[("web.yaml", target_text)]);
        let read = reader(&texts);
        let change = compute(&dev, &prod, &[Artifact::Images, Artifact::Model], &read).unwrap();
        let moved: Vec<(&str, &str)> =
            change.moved.iter().map(|m| (m.field.as_str(), m.new.as_str())).collect();
        assert_eq!(
            moved,
            vec![
                ("Deployment web, init container fetch: image", "prod.io/fetch:2"),
                ("Deployment web, container app: image", "prod.io/app:2@sha256:aa"),
            ]
        );
        assert_eq!(
            change.notes,
            [
                "Deployment web: container fetch uses dev.io/fetch in dev and prod.io/fetch in prod: only the tag/digest moves",
                "Deployment web: container app uses dev.io/app in dev and prod.io/app in prod: only the tag/digest moves",
                "Deployment web: container sidecar is only in dev: its image does not move",
                "Job once is only in dev: its images do not move",
                "dev declares no model: no model moves",
            ]
        );
        let edits = edit_files(&change, &read).unwrap();
        assert_eq!(
            edits[0].after,
            DEPLOY
                .replace("IMG_INIT", "prod.io/fetch:2")
                .replace("IMG_APP", "prod.io/app:2@sha256:aa")
        );
    }

    /// `prod` as a kustomize overlay whose `images:` entry manages `prod.io/app`.
    fn overlay_target(kustomization: &str) -> (Environment, HashMap<String, String>) {
        let text =
            DEPLOY.replace("IMG_INIT", "prod.io/fetch:1").replace("IMG_APP", "prod.io/app:1");
        let (mut prod, mut texts) = env("prod", "", &[("web.yaml", text)]);
        let file = "environments/prod/kustomization.yaml".to_owned();
        let document = crate::yaml::parse_documents(kustomization).unwrap().remove(0);
        let entry = &document.value["images"][0];
        prod.kustomization = Some(crate::repo::Kustomization {
            file: file.clone(),
            images: vec![crate::repo::kustomize::ImageEntry {
                name: entry["name"].as_str().unwrap().to_owned(),
                new_name: None,
                new_tag: entry["newTag"].as_str().map(str::to_owned),
                digest: entry["digest"].as_str().map(str::to_owned),
                path: YamlPath::root(0).key("images").index(0),
                line: 2,
            }],
            resource_files: vec!["environments/prod/web.yaml".to_owned()],
            ..crate::repo::Kustomization::default()
        });
        texts.insert(file, kustomization.to_owned());
        (prod, texts)
    }

    #[test]
    fn an_overlay_image_moves_through_its_images_entry_and_a_missing_key_is_named() {
        let source =
            DEPLOY.replace("IMG_INIT", "dev.io/fetch:1").replace("IMG_APP", "dev.io/app:2");
        let (dev, _) = env("dev", "", &[("web.yaml", source)]);
        let (prod, texts) = overlay_target("images:\n  - name: prod.io/app\n    newTag: \"1\"\n");
        let read = reader(&texts);
        let change = compute(&dev, &prod, &[Artifact::Images], &read).unwrap();
        let moved: Vec<(&str, &str, Option<&str>, &str)> = change
            .moved
            .iter()
            .map(|m| (m.file.as_str(), m.field.as_str(), m.old.as_deref(), m.new.as_str()))
            .collect();
        assert_eq!(
            moved,
            [(
                "environments/prod/kustomization.yaml",
                "Deployment web, container app: image (images: prod.io/app newTag)",
                Some("1"),
                "2"
            )]
        );
        let edits = edit_files(&change, &read).unwrap();
        assert_eq!(edits[0].after, "images:\n  - name: prod.io/app\n    newTag: \"2\"\n");

        // A digest has nowhere to go in an entry without `digest:`: named, not restructured.
        let pinned = DEPLOY
            .replace("IMG_INIT", "dev.io/fetch:1")
            .replace("IMG_APP", "dev.io/app:2@sha256:aa");
        let (dev, _) = env("dev", "", &[("web.yaml", pinned)]);
        let error = compute(&dev, &prod, &[Artifact::Images], &read).unwrap_err();
        assert_eq!(
            error.to_string(),
            "environments/prod/kustomization.yaml:2: the `images:` entry for prod.io/app has no \
             `digest`, so the promoted digest sha256:aa has nowhere to go; add `digest:` to it by \
             hand, then promote again"
        );
        // An entry pinning a digest the incoming image lacks would keep the old one: named.
        let (prod, texts) = overlay_target(
            "images:\n  - name: prod.io/app\n    newTag: \"1\"\n    digest: sha256:bb\n",
        );
        let read = reader(&texts);
        let (dev, _) = env(
            "dev",
            "",
            &[("web.yaml", DEPLOY.replace("IMG_INIT", "a:1").replace("IMG_APP", "dev.io/app:2"))],
        );
        let error = compute(&dev, &prod, &[Artifact::Images], &read).unwrap_err();
        assert!(error.to_string().contains("pins `digest: sha256:bb`"), "{error}");
    }

    #[test]
    fn image_references_split_at_the_last_path_segment() {
        assert_eq!(split_image("ghcr.io/a/b:1.1"), ("ghcr.io/a/b", Some("1.1"), None));
        assert_eq!(split_image("localhost:5000/b"), ("localhost:5000/b", None, None));
        assert_eq!(
            split_image("localhost:5000/b:2@sha256:ab"),
            ("localhost:5000/b", Some("2"), Some("sha256:ab"))
        );
        assert_eq!(split_image("b@sha256:ab"), ("b", None, Some("sha256:ab")));
    }

    #[test]
    fn retag_keeps_the_target_registry() {
        assert_eq!(retag("prod.io/iris:1.0", "dev.io/iris:1.1"), "prod.io/iris:1.1");
        assert_eq!(retag("iris:1.0", "iris@sha256:ab"), "iris@sha256:ab");
        assert_eq!(retag("r:5000/iris:1.0", "iris:2@sha256:cd"), "r:5000/iris:2@sha256:cd");
    }

    #[test]
    fn a_model_field_is_added_after_path_with_its_indentation() {
        let text = "# env\nmodel:\n    name: iris\n    path: m.onnx\nprune: true\n";
        let out = insert_model_field(text, "sha256", "00ab").unwrap();
        assert_eq!(
            out,
            "# env\nmodel:\n    name: iris\n    path: m.onnx\n    sha256: \"00ab\"\nprune: true\n"
        );
        let crlf = "model:\r\n  name: iris\r\n  path: m.onnx";
        assert_eq!(
            insert_model_field(crlf, "version", "1.10").unwrap(),
            "model:\r\n  name: iris\r\n  path: m.onnx\r\n  version: \"1.10\""
        );
    }

    #[test]
    fn a_flow_model_block_is_refused_not_guessed() {
        let text = "model: {name: iris, path: m.onnx}\n";
        assert!(insert_model_field(text, "sha256", "ab").is_err());
    }
}
