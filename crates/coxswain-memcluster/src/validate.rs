//! Validation the API server performs before storing an object (422 Unprocessable Entity). Each
//! problem reads like the server's: `spec.template.spec.containers[0].image: Required value`.

use coxswain_cluster::fieldset::{
    ListType, PathElement, Schema, compare_values, key_of, values_equal,
};
use serde_json::{Map, Value};
use std::cmp::Ordering;

const SUBDOMAIN_RULE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const LABEL_RULE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1035_RULE: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_RULE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// Problems with the lists an apply would merge: elements without merge keys, duplicate keys.
/// The server refuses these before merging.
pub(super) fn list_structure(object: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(map) = object.as_object() {
        walk_lists(&Schema::for_object(object), &mut Vec::new(), map, &mut problems);
    }
    problems
}

fn walk_lists(
    schema: &Schema,
    path: &mut Vec<PathElement>,
    map: &Map<String, Value>,
    problems: &mut Vec<String>,
) {
    for (name, value) in map {
        let parent_len = path.len();
        path.push(PathElement::Field(name.clone()));
        match value {
            Value::Object(inner) if !schema.is_atomic_map(&path[..parent_len], name) => {
                walk_lists(schema, path, inner, problems);
            }
            Value::Array(items) => match schema.list_type(&path[..parent_len], name) {
                ListType::Atomic => {}
                ListType::Set => check_set(path, items, problems),
                ListType::Map(keys) => {
                    let mut seen: Vec<PathElement> = Vec::new();
                    for (index, item) in items.iter().enumerate() {
                        let Some(element) = key_of(item, keys) else {
                            let display = coxswain_cluster::fieldset::Path(path.clone());
                            let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
                            problems.push(format!(
                                "{display}: element {index}: associative list with keys has an element that omits key field {:?} (and doesn't have default value)",
                                names.join(", ")
                            ));
                            continue;
                        };
                        if seen.contains(&element) {
                            let display = coxswain_cluster::fieldset::Path(path.clone());
                            problems
                                .push(format!("{display}: duplicate entries for key {element}"));
                            continue;
                        }
                        if let Some(inner) = item.as_object() {
                            path.push(element.clone());
                            walk_lists(schema, path, inner, problems);
                            path.pop();
                        }
                        seen.push(element);
                    }
                }
            },
            _ => {}
        }
        path.pop();
    }
}

fn check_set(path: &[PathElement], items: &[Value], problems: &mut Vec<String>) {
    for (index, item) in items.iter().enumerate() {
        if items[..index].iter().any(|earlier| compare_values(earlier, item) == Ordering::Equal) {
            let display = coxswain_cluster::fieldset::Path(path.to_vec());
            problems.push(format!(
                "{display}: duplicate entries for key {}",
                PathElement::Value(item.clone())
            ));
        }
    }
}

/// Everything wrong with `object` of kind `group_kind`, as the server would list it.
pub(super) fn object(group_kind: &str, object: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    metadata(group_kind, object, &mut problems);
    let spec = object.get("spec");
    match group_kind {
        "Deployment.apps" | "StatefulSet.apps" | "DaemonSet.apps" => {
            workload_selector(spec, &mut problems);
            replicas(spec, &mut problems);
            pod_template(
                spec.and_then(|s| s.get("template")),
                "spec.template",
                &["Always"],
                &mut problems,
            );
        }
        "Job.batch" => {
            pod_template(
                spec.and_then(|s| s.get("template")),
                "spec.template",
                &["OnFailure", "Never"],
                &mut problems,
            );
        }
        "CronJob.batch" => {
            if spec
                .and_then(|s| s.get("schedule"))
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                problems.push("spec.schedule: Required value".to_owned());
            }
            let template = spec.and_then(|s| s.pointer("/jobTemplate/spec/template"));
            pod_template(
                template,
                "spec.jobTemplate.spec.template",
                &["OnFailure", "Never"],
                &mut problems,
            );
        }
        "Pod" => match spec {
            Some(spec) => pod_spec(spec, "spec", None, &mut problems),
            None => problems.push("spec.containers: Required value".to_owned()),
        },
        "Service" => service(spec, &mut problems),
        "ConfigMap" | "Secret" => data_keys(object, &mut problems),
        _ => {}
    }
    problems
}

fn metadata(group_kind: &str, object: &Value, problems: &mut Vec<String>) {
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty() {
        problems.push("metadata.name: Required value: name or generateName is required".to_owned());
    } else if let Some(rule) = name_problem(group_kind, name, object) {
        problems.push(format!("metadata.name: Invalid value: {name:?}: {rule}"));
    }
    for (field, check_values) in [("labels", true), ("annotations", false)] {
        let Some(entries) = object.pointer(&format!("/metadata/{field}")) else { continue };
        let Some(entries) = entries.as_object() else {
            problems.push(format!("metadata.{field}: Invalid value: must be a map of strings"));
            continue;
        };
        for (key, value) in entries {
            if let Some(rule) = qualified_name_problem(key) {
                problems.push(format!("metadata.{field}: Invalid value: {key:?}: {rule}"));
            }
            match value.as_str() {
                None => problems.push(format!("metadata.{field}.{key}: Invalid value: must be a string")),
                Some(text) if check_values && !label_value_ok(text) => problems.push(format!(
                    "metadata.labels: Invalid value: {text:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, at most 63 characters"
                )),
                Some(_) => {}
            }
        }
    }
}

fn name_problem(group_kind: &str, name: &str, object: &Value) -> Option<String> {
    match group_kind {
        "Namespace" => (!is_dns1123_label(name)).then(|| LABEL_RULE.to_owned()),
        "Service" => (!is_dns1035_label(name)).then(|| DNS1035_RULE.to_owned()),
        "Role.rbac.authorization.k8s.io"
        | "RoleBinding.rbac.authorization.k8s.io"
        | "ClusterRole.rbac.authorization.k8s.io"
        | "ClusterRoleBinding.rbac.authorization.k8s.io" => {
            (name == "." || name == ".." || name.contains(['/', '%']))
                .then(|| "may not be '.' or '..' and may not contain '/' or '%'".to_owned())
        }
        "CustomResourceDefinition.apiextensions.k8s.io" => {
            let plural =
                object.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default();
            let group = object.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default();
            (name != format!("{plural}.{group}"))
                .then(|| "must be spec.names.plural+\".\"+spec.group".to_owned())
        }
        _ => (!is_dns1123_subdomain(name)).then(|| SUBDOMAIN_RULE.to_owned()),
    }
}

pub(super) fn is_dns1123_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

fn is_dns1035_label(text: &str) -> bool {
    is_dns1123_label(text) && text.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

pub(super) fn is_dns1123_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(is_dns1123_label)
}

fn qualified_name_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !is_dns1123_subdomain(prefix)
    {
        return Some(format!("prefix part {SUBDOMAIN_RULE}"));
    }
    if name.is_empty() || name.len() > 63 || !label_value_ok(name) {
        return Some(format!("name part {QUALIFIED_RULE}, at most 63 characters"));
    }
    None
}

fn label_value_ok(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.is_empty()
        || (bytes.len() <= 63
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
            && bytes.last().is_some_and(u8::is_ascii_alphanumeric))
}

fn replicas(spec: Option<&Value>, problems: &mut Vec<String>) {
    if let Some(replicas) = spec.and_then(|s| s.get("replicas"))
        && replicas.as_i64().is_none_or(|n| n < 0)
    {
        problems.push(format!(
            "spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
        ));
    }
}

fn workload_selector(spec: Option<&Value>, problems: &mut Vec<String>) {
    let Some(selector) = spec.and_then(|s| s.get("selector")).filter(|s| !s.is_null()) else {
        problems.push("spec.selector: Required value".to_owned());
        return;
    };
    let empty = selector.get("matchLabels").and_then(Value::as_object).is_none_or(Map::is_empty)
        && selector.get("matchExpressions").and_then(Value::as_array).is_none_or(Vec::is_empty);
    if empty {
        problems.push(format!(
            "spec.selector: Invalid value: {selector}: empty selector is invalid for deployment"
        ));
        return;
    }
    let labels =
        spec.and_then(|s| s.pointer("/template/metadata/labels")).and_then(Value::as_object);
    if !selector_matches(selector, labels) {
        let shown =
            labels.map_or_else(|| "{}".to_owned(), |l| Value::Object(l.clone()).to_string());
        problems.push(format!(
            "spec.template.metadata.labels: Invalid value: {shown}: `selector` does not match template `labels`"
        ));
    }
}

/// Whether a `metav1.LabelSelector` (matchLabels and matchExpressions) selects `labels`.
pub(super) fn selector_matches(selector: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let labels_ok =
        match_labels.into_iter().flatten().all(|(key, value)| label(key) == value.as_str());
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    let expressions_ok = expressions.into_iter().flatten().all(|expression| {
        let key = expression.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> = expression
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match expression.get("operator").and_then(Value::as_str) {
            Some("In") => label(key).is_some_and(|l| values.contains(&l)),
            Some("NotIn") => label(key).is_none_or(|l| !values.contains(&l)),
            Some("Exists") => label(key).is_some(),
            Some("DoesNotExist") => label(key).is_none(),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

fn pod_template(
    template: Option<&Value>,
    at: &str,
    restart_policies: &[&str],
    problems: &mut Vec<String>,
) {
    match template.and_then(|t| t.get("spec")) {
        Some(spec) => pod_spec(spec, &format!("{at}.spec"), Some(restart_policies), problems),
        None => problems.push(format!("{at}.spec.containers: Required value")),
    }
}

fn pod_spec(spec: &Value, at: &str, restart_policies: Option<&[&str]>, problems: &mut Vec<String>) {
    match spec.get("containers").and_then(Value::as_array) {
        Some(containers) if !containers.is_empty() => {}
        _ => problems.push(format!("{at}.containers: Required value")),
    }
    let mut names: Vec<&str> = Vec::new();
    for list in ["initContainers", "containers"] {
        let containers = spec.get(list).and_then(Value::as_array);
        for (index, container) in containers.into_iter().flatten().enumerate() {
            let here = format!("{at}.{list}[{index}]");
            match container.get("name").and_then(Value::as_str) {
                None | Some("") => problems.push(format!("{here}.name: Required value")),
                Some(name) if !is_dns1123_label(name) => {
                    problems.push(format!("{here}.name: Invalid value: {name:?}: {LABEL_RULE}"));
                }
                Some(name) if names.contains(&name) => {
                    problems.push(format!("{here}.name: Duplicate value: {name:?}"));
                }
                Some(name) => names.push(name),
            }
            if container
                .get("image")
                .and_then(Value::as_str)
                .is_none_or(|image| image.trim().is_empty())
            {
                problems.push(format!("{here}.image: Required value"));
            }
            let ports = container.get("ports").and_then(Value::as_array);
            for (port_index, port) in ports.into_iter().flatten().enumerate() {
                if !port
                    .get("containerPort")
                    .and_then(Value::as_i64)
                    .is_some_and(|p| (1..=65_535).contains(&p))
                {
                    problems.push(format!(
                        "{here}.ports[{port_index}].containerPort: Invalid value: {}: must be between 1 and 65535, inclusive",
                        port.get("containerPort").unwrap_or(&Value::Null)
                    ));
                }
            }
        }
    }
    if let Some(allowed) = restart_policies {
        let policy = spec.get("restartPolicy").and_then(Value::as_str).unwrap_or_default();
        if !allowed.contains(&policy) {
            let supported: Vec<String> = allowed.iter().map(|p| format!("{p:?}")).collect();
            problems.push(format!(
                "{at}.restartPolicy: Unsupported value: {policy:?}: supported values: {}",
                supported.join(", ")
            ));
        }
    }
}

fn service(spec: Option<&Value>, problems: &mut Vec<String>) {
    let text = |field: &str| spec.and_then(|s| s.get(field)).and_then(Value::as_str);
    let ports = spec.and_then(|s| s.get("ports")).and_then(Value::as_array);
    let headless = text("clusterIP") == Some("None");
    if text("type") == Some("ExternalName") {
        if text("externalName").is_none_or(str::is_empty) {
            problems.push("spec.externalName: Required value".to_owned());
        }
        return;
    }
    if ports.is_none_or(Vec::is_empty) && !headless {
        problems.push("spec.ports: Required value".to_owned());
    }
    let ports = ports.map(Vec::as_slice).unwrap_or_default();
    for (index, port) in ports.iter().enumerate() {
        if !port.get("port").and_then(Value::as_i64).is_some_and(|p| (1..=65_535).contains(&p)) {
            problems.push(format!(
                "spec.ports[{index}].port: Invalid value: {}: must be between 1 and 65535, inclusive",
                port.get("port").unwrap_or(&Value::Null)
            ));
        }
        if ports.len() > 1 && port.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
            problems.push(format!("spec.ports[{index}].name: Required value"));
        }
    }
}

fn data_keys(object: &Value, problems: &mut Vec<String>) {
    for field in ["data", "binaryData", "stringData"] {
        let entries = object.get(field).and_then(Value::as_object);
        for key in entries.into_iter().flatten().map(|(key, _)| key) {
            let ok = !key.is_empty()
                && key.len() <= 253
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !ok {
                problems.push(format!(
                    "{field}[{key}]: Invalid value: {key:?}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
                ));
            }
        }
    }
}

/// Changes the server refuses on update: immutable selectors, Job templates, `StatefulSet` fields
/// other than the few it may change, a Service's cluster IP, data of immutable ConfigMaps/Secrets.
pub(super) fn update(group_kind: &str, old: &Value, new: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let differs = |pointer: &str| match (old.pointer(pointer), new.pointer(pointer)) {
        (Some(a), Some(b)) => !values_equal(a, b),
        (None, None) => false,
        _ => true,
    };
    let immutable = |field: &str, pointer: &str, problems: &mut Vec<String>| {
        if differs(pointer) {
            let shown = new.pointer(pointer).map_or_else(|| "null".to_owned(), Value::to_string);
            problems.push(format!("{field}: Invalid value: {shown}: field is immutable"));
        }
    };
    match group_kind {
        "Deployment.apps" | "DaemonSet.apps" => {
            immutable("spec.selector", "/spec/selector", &mut problems);
        }
        "StatefulSet.apps" => {
            let mutable = [
                "replicas",
                "ordinals",
                "template",
                "updateStrategy",
                "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds",
            ];
            let strip = |object: &Value| -> Value {
                let mut spec = object.get("spec").cloned().unwrap_or(Value::Null);
                if let Some(map) = spec.as_object_mut() {
                    map.retain(|key, _| !mutable.contains(&key.as_str()));
                }
                spec
            };
            if !values_equal(&strip(old), &strip(new)) {
                problems.push("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".to_owned());
            }
        }
        "Job.batch" => {
            immutable("spec.selector", "/spec/selector", &mut problems);
            immutable("spec.template", "/spec/template", &mut problems);
            immutable("spec.completions", "/spec/completions", &mut problems);
        }
        "Service" => {
            let old_ip = old.pointer("/spec/clusterIP");
            if old_ip.is_some_and(|ip| ip.as_str().is_some_and(|ip| !ip.is_empty())) {
                immutable("spec.clusterIP", "/spec/clusterIP", &mut problems);
            }
        }
        "ConfigMap" | "Secret" if old.get("immutable").and_then(Value::as_bool) == Some(true) => {
            for field in ["data", "binaryData"] {
                if differs(&format!("/{field}")) {
                    problems.push(format!(
                        "{field}: Forbidden: field is immutable when `immutable` is set"
                    ));
                }
            }
            if differs("/immutable") {
                problems.push(
                    "immutable: Forbidden: field is immutable when `immutable` is set".to_owned(),
                );
            }
        }
        _ => {}
    }
    problems
}
