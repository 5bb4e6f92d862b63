//! The policy gate: deployment best practices for model services, checked per container.
//!
//! Each rule has a stable id and a severity and can be switched off per environment in
//! `env.yaml` (`policy.disable`). Findings point at the line of the offending field.

pub mod catalogue;

pub use catalogue::{RULES, Rule, rule};

use crate::diagnostic::Diagnostic;
use crate::repo::{DesiredObject, Environment};
use serde_json::Value;
use std::collections::HashMap;

const GPU: &str = "nvidia.com/gpu";

/// Runs every enabled rule on an environment's objects. (Unknown ids in `policy.disable` are
/// input errors, reported by the loader, so a typo does not silently keep a rule on.)
pub fn check(env: &Environment) -> Vec<Diagnostic> {
    let mut checker = Checker { env, findings: Vec::new() };
    for object in &env.objects {
        checker.object(object);
    }
    checker.replicas();
    checker.findings
}

struct Checker<'a> {
    env: &'a Environment,
    findings: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn report(
        &mut self,
        rule_id: &'static str,
        object: &DesiredObject,
        pointer: &str,
        message: &str,
    ) {
        if self.env.config.policy.disable.iter().any(|d| d == rule_id) {
            return;
        }
        let Some(rule) = rule(rule_id) else { return };
        self.findings.push(Diagnostic {
            file: object.source.file.clone(),
            line: object.line_of(pointer),
            severity: rule.severity,
            code: rule_id.to_owned(),
            message: format!("{} {}: {message}", object.kind(), object.name()),
        });
    }

    fn object(&mut self, object: &DesiredObject) {
        let Some(pod_pointer) = pod_spec_pointer(object) else { return };
        let Some(pod) = object.value.pointer(pod_pointer) else { return };
        let needs_probes = matches!(object.kind(), "Deployment" | "StatefulSet");
        let selects_gpu_nodes = pod
            .get("nodeSelector")
            .is_some_and(|s| s.as_object().is_some_and(|m| !m.is_empty()))
            || pod.get("tolerations").is_some_and(|t| t.as_array().is_some_and(|a| !a.is_empty()));
        for list in ["initContainers", "containers"] {
            let Some(containers) = pod.get(list).and_then(Value::as_array) else { continue };
            for (index, container) in containers.iter().enumerate() {
                let pointer = format!("{pod_pointer}/{list}/{index}");
                let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
                let what = format!("container \"{name}\"");
                self.container(
                    object,
                    &pointer,
                    &what,
                    container,
                    list == "containers" && needs_probes,
                    selects_gpu_nodes,
                );
            }
        }
    }

    fn container(
        &mut self,
        object: &DesiredObject,
        pointer: &str,
        what: &str,
        container: &Value,
        needs_probes: bool,
        selects_gpu_nodes: bool,
    ) {
        let resources = container.get("resources");
        let requests = resources.and_then(|r| r.get("requests"));
        let limits = resources.and_then(|r| r.get("limits"));
        let missing: Vec<&str> = ["cpu", "memory"]
            .into_iter()
            .filter(|k| requests.and_then(|r| r.get(*k)).is_none())
            .collect();
        if !missing.is_empty() {
            self.report(
                "resources-requests",
                object,
                &format!("{pointer}/resources"),
                &format!("{what} sets no {} request", missing.join(" or ")),
            );
        }
        if limits.and_then(|l| l.get("memory")).is_none() {
            self.report(
                "resources-limits",
                object,
                &format!("{pointer}/resources"),
                &format!("{what} sets no memory limit"),
            );
        }
        if needs_probes {
            if container.get("readinessProbe").is_none() {
                self.report(
                    "readiness-probe",
                    object,
                    pointer,
                    &format!("{what} has no readinessProbe"),
                );
            }
            if container.get("livenessProbe").is_none() {
                self.report(
                    "liveness-probe",
                    object,
                    pointer,
                    &format!("{what} has no livenessProbe"),
                );
            }
        }
        match container.get("image").and_then(Value::as_str) {
            Some(image) => {
                if let Err(why) = check_image_reference(image) {
                    self.report(
                        "image-tag",
                        object,
                        &format!("{pointer}/image"),
                        &format!("{what} image \"{image}\" {why}"),
                    );
                }
            }
            None => self.report("image-tag", object, pointer, &format!("{what} names no image")),
        }
        let gpu_request = requests.and_then(|r| r.get(GPU));
        let gpu_limit = limits.and_then(|l| l.get(GPU));
        if gpu_request.is_some() || gpu_limit.is_some() {
            if quantity_text(gpu_request) != quantity_text(gpu_limit) {
                self.report(
                    "gpu-limits",
                    object,
                    &format!("{pointer}/resources"),
                    &format!(
                        "{what} requests {} {GPU} but limits {}; they must be equal",
                        quantity_text(gpu_request).unwrap_or_else(|| "no".into()),
                        quantity_text(gpu_limit).unwrap_or_else(|| "none".into()),
                    ),
                );
            }
            if !selects_gpu_nodes {
                self.report("gpu-limits", object, &format!("{pointer}/resources"), &format!(
                    "{what} uses {GPU} but the pod has no nodeSelector or toleration for GPU nodes"
                ));
            }
        }
    }

    /// Replica rules look across objects: an HPA may scale a Deployment declared elsewhere.
    fn replicas(&mut self) {
        let minimum = self.env.config.policy.min_replicas.unwrap_or(if self.env.config.protected {
            2
        } else {
            1
        });
        let env = self.env;
        let mut hpas: HashMap<(&str, &str), &DesiredObject> = HashMap::new();
        for hpa in env.objects.iter().filter(|o| o.kind() == "HorizontalPodAutoscaler") {
            let target = |field: &str| {
                hpa.value.pointer(&format!("/spec/scaleTargetRef/{field}")).and_then(Value::as_str)
            };
            if let (Some(kind), Some(name)) = (target("kind"), target("name")) {
                hpas.entry((kind, name)).or_insert(hpa);
            }
        }
        for object in &env.objects {
            if !matches!(object.kind(), "Deployment" | "StatefulSet") {
                continue;
            }
            let hpa = hpas.get(&(object.kind(), object.name())).copied();
            let replicas = object.value.pointer("/spec/replicas");
            if let Some(hpa) = hpa {
                if replicas.is_some() {
                    self.report("replicas-with-hpa", object, "/spec/replicas", &format!(
                        "sets spec.replicas but HorizontalPodAutoscaler {} scales it; remove spec.replicas so a sync does not reset the scale",
                        hpa.name()
                    ));
                }
                let hpa_min =
                    hpa.value.pointer("/spec/minReplicas").and_then(Value::as_u64).unwrap_or(1);
                if hpa_min < u64::from(minimum) {
                    self.report("min-replicas", hpa, "/spec/minReplicas", &format!(
                        "minReplicas is {hpa_min}, below the {minimum} this environment requires"
                    ));
                }
            } else {
                let count = replicas.and_then(Value::as_u64).unwrap_or(1);
                if count < u64::from(minimum) {
                    self.report("min-replicas", object, "/spec/replicas", &format!(
                        "runs {count} replica(s) and no HPA scales it; this environment requires at least {minimum}"
                    ));
                }
            }
        }
    }
}

/// Where a workload kind keeps its pod spec.
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

/// `Ok` for `repo/name:tag` (tag not `latest`) and `repo/name@sha256:…`.
fn check_image_reference(image: &str) -> Result<(), &'static str> {
    if image.contains('@') {
        return Ok(());
    }
    // The tag follows the last ':' after the last '/' (a registry port also uses ':').
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    match last_segment.rsplit_once(':') {
        None => Err("has no tag (it would pull :latest); pin a version or a digest"),
        Some((_, "latest")) => Err("uses the mutable tag :latest; pin a version or a digest"),
        Some((_, "")) => Err("has an empty tag"),
        Some(_) => Ok(()),
    }
}

fn quantity_text(value: Option<&Value>) -> Option<String> {
    value.map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        assert!(check_image_reference("ghcr.io/acme/iris:1.1.0").is_ok());
        assert!(check_image_reference("registry:5000/iris@sha256:abc").is_ok());
        assert!(check_image_reference("registry:5000/iris").is_err());
        assert!(check_image_reference("iris:latest").is_err());
        assert!(check_image_reference("iris").is_err());
    }
}
