//! Exact canary percentages through NGINX Ingress: where the env declares an NGINX Ingress
//! (`ingressClassName: nginx` or the `kubernetes.io/ingress.class: nginx` annotation) routing to
//! a Service that selects the workload's pods, a canary step does not split traffic by replica
//! count but by the ingress controller's canary weight.
//!
//! For each such Ingress `<ingress>` the rollout writes `<ingress>-canary`, a copy of its rules
//! for the routed paths only, with `nginx.ingress.kubernetes.io/canary: "true"` and
//! `canary-weight: "<weight>"`, whose backends are `<service>-canary`: a Service with the routed
//! Service's ports selecting only the canary's pods. So that the routed (stable) Service does not
//! select them as well — which would add a replica-ratio share on top of the weight — the canary
//! pods do not carry the labels that Service selects by; they carry `coxswain.dev/rollout:
//! <workload>` and `coxswain.dev/track: canary` instead. The stable Deployment keeps its full
//! scale (it serves the rest of the traffic); the canary runs the step's share of the replicas.

use super::{ROLLOUT_LABEL, TRACK_LABEL, put};
use crate::repo::{DesiredObject, Environment};
use serde_json::{Map, Value, json};

pub const CANARY_ANNOTATION: &str = "nginx.ingress.kubernetes.io/canary";
pub const WEIGHT_ANNOTATION: &str = "nginx.ingress.kubernetes.io/canary-weight";
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const INGRESS: &str = "Ingress.networking.k8s.io";

/// The NGINX Ingresses routing to a canary workload, and the Services they route through.
#[derive(Debug, Clone)]
pub struct Nginx<'a> {
    /// Services declared in git that select the workload's pods and that an NGINX Ingress
    /// routes to.
    pub services: Vec<&'a DesiredObject>,
    /// NGINX Ingresses declared in git with at least one backend among `services`.
    pub ingresses: Vec<&'a DesiredObject>,
}

/// `<name>-canary`: the canary Service of a routed Service, the canary Ingress of an Ingress.
pub fn canary_name(name: &str) -> String {
    format!("{name}-canary")
}

/// How `workload`'s canary takes traffic: through NGINX canary Ingresses, or (`None`) by replica
/// count behind the Service's selector.
pub fn nginx<'a>(env: &'a Environment, workload: &str) -> Option<Nginx<'a>> {
    nginx_in(&env.objects, workload)
}

/// [`nginx`] among `objects` (the loader checks them before there is an environment).
pub fn nginx_in<'a>(objects: &'a [DesiredObject], workload: &str) -> Option<Nginx<'a>> {
    let git = super::spec::deployment(objects, workload)?;
    let pod_labels = git.value.pointer("/spec/template/metadata/labels")?.as_object()?;
    let selecting: Vec<&DesiredObject> = objects
        .iter()
        .filter(|o| o.key.group_kind == "Service" && selects(&o.value, pod_labels))
        .collect();
    let routes_to = |ingress: &DesiredObject, service: &DesiredObject| {
        backends(&ingress.value).iter().any(|name| name == service.name())
    };
    let ingresses: Vec<&DesiredObject> = objects
        .iter()
        .filter(|o| o.key.group_kind == INGRESS && is_nginx(&o.value))
        .filter(|o| selecting.iter().any(|s| routes_to(o, s)))
        .collect();
    if ingresses.is_empty() {
        return None;
    }
    let services =
        selecting.into_iter().filter(|s| ingresses.iter().any(|i| routes_to(i, s))).collect();
    Some(Nginx { services, ingresses })
}

/// Whether a Service's (non-empty) selector selects pods labelled `labels`.
fn selects(service: &Value, labels: &Map<String, Value>) -> bool {
    service
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

fn is_nginx(ingress: &Value) -> bool {
    let class = ingress.pointer("/spec/ingressClassName").and_then(Value::as_str);
    let annotation = ingress
        .pointer(&format!("/metadata/annotations/{}", CLASS_ANNOTATION.replace('/', "~1")))
        .and_then(Value::as_str);
    class == Some("nginx") || annotation == Some("nginx")
}

/// The Service names an Ingress routes to (default backend and every path).
fn backends(ingress: &Value) -> Vec<String> {
    let mut names = Vec::new();
    let mut name_of = |backend: Option<&Value>| {
        if let Some(name) = backend.and_then(|b| b.pointer("/service/name")).and_then(Value::as_str)
        {
            names.push(name.to_owned());
        }
    };
    name_of(ingress.pointer("/spec/defaultBackend"));
    for rule in array(ingress.pointer("/spec/rules")) {
        for path in array(rule.pointer("/http/paths")) {
            name_of(path.get("backend"));
        }
    }
    names
}

fn array(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

impl Nginx<'_> {
    /// The label keys the routed Services select by: the canary pods go without them.
    fn routed_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .services
            .iter()
            .filter_map(|s| s.value.pointer("/spec/selector").and_then(Value::as_object))
            .flat_map(|selector| selector.keys().cloned())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The canary Deployment's spec for NGINX: pods (and the selector) without the routed
    /// Services' keys, with the workload's rollout and track labels.
    pub fn canary_spec(&self, spec: &mut Value, workload: &str) {
        let keys = self.routed_keys();
        for pointer in ["/selector/matchLabels", "/template/metadata/labels"] {
            if let Some(labels) = spec.pointer_mut(pointer).and_then(Value::as_object_mut) {
                labels.retain(|key, _| !keys.contains(key));
            }
        }
        if let Some(expressions) =
            spec.pointer_mut("/selector/matchExpressions").and_then(Value::as_array_mut)
        {
            expressions.retain(|e| {
                e.get("key").and_then(Value::as_str).is_none_or(|k| !keys.iter().any(|x| x == k))
            });
        }
        for (key, value) in [(ROLLOUT_LABEL, workload), (TRACK_LABEL, "canary")] {
            put(spec, &["selector", "matchLabels", key], json!(value));
            put(spec, &["template", "metadata", "labels", key], json!(value));
        }
    }

    /// The canary Services: each routed Service's ports, selecting the canary pods only.
    pub fn canary_services(
        &self,
        workload: &str,
        namespace: &str,
        labels: &Map<String, Value>,
    ) -> Vec<Value> {
        self.services
            .iter()
            .map(|service| {
                let ports =
                    service.value.pointer("/spec/ports").cloned().unwrap_or_else(|| json!([]));
                json!({
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {
                        "name": canary_name(service.name()),
                        "namespace": namespace,
                        "labels": labels,
                    },
                    "spec": {
                        "selector": {ROLLOUT_LABEL: workload, TRACK_LABEL: "canary"},
                        "ports": ports,
                    },
                })
            })
            .collect()
    }

    /// The canary Ingresses at `weight` percent: each Ingress's rules for the routed paths,
    /// their backends on the canary Services.
    pub fn canary_ingresses(
        &self,
        namespace: &str,
        labels: &Map<String, Value>,
        weight: u32,
    ) -> Vec<Value> {
        let routed = |backend: &Value| {
            backend
                .pointer("/service/name")
                .and_then(Value::as_str)
                .is_some_and(|name| self.services.iter().any(|s| s.name() == name))
        };
        let to_canary = |backend: &Value| {
            let mut backend = backend.clone();
            if let Some(name) = backend.pointer("/service/name").and_then(Value::as_str) {
                let canary = canary_name(name);
                put(&mut backend, &["service", "name"], json!(canary));
            }
            backend
        };
        self.ingresses
            .iter()
            .map(|ingress| {
                let mut annotations = Map::new();
                annotations.insert(CANARY_ANNOTATION.into(), json!("true"));
                annotations.insert(WEIGHT_ANNOTATION.into(), json!(weight.to_string()));
                let class_annotation = ingress.value.pointer(&format!(
                    "/metadata/annotations/{}",
                    CLASS_ANNOTATION.replace('/', "~1")
                ));
                if let Some(class) = class_annotation {
                    annotations.insert(CLASS_ANNOTATION.into(), class.clone());
                }
                let mut spec = Map::new();
                if let Some(class) = ingress.value.pointer("/spec/ingressClassName") {
                    spec.insert("ingressClassName".into(), class.clone());
                }
                if let Some(backend) = ingress.value.pointer("/spec/defaultBackend")
                    && routed(backend)
                {
                    spec.insert("defaultBackend".into(), to_canary(backend));
                }
                let rules: Vec<Value> = array(ingress.value.pointer("/spec/rules"))
                    .iter()
                    .filter_map(|rule| {
                        let paths: Vec<Value> = array(rule.pointer("/http/paths"))
                            .iter()
                            .filter(|p| p.get("backend").is_some_and(routed))
                            .map(|p| {
                                let mut path = p.clone();
                                if let Some(backend) = p.get("backend") {
                                    put(&mut path, &["backend"], to_canary(backend));
                                }
                                path
                            })
                            .collect();
                        if paths.is_empty() {
                            return None;
                        }
                        let mut rule = rule.clone();
                        put(&mut rule, &["http"], json!({"paths": paths}));
                        Some(rule)
                    })
                    .collect();
                if !rules.is_empty() {
                    spec.insert("rules".into(), json!(rules));
                }
                json!({
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "Ingress",
                    "metadata": {
                        "name": canary_name(ingress.name()),
                        "namespace": namespace,
                        "labels": labels,
                        "annotations": annotations,
                    },
                    "spec": spec,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::SourceFile;

    const WORKLOAD: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec: {containers: [{name: web, image: 'x:1'}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
";

    fn env(ingress: &str) -> Environment {
        let files = [SourceFile {
            path: "environments/dev/web.yaml".into(),
            contents: format!("{WORKLOAD}---\n{ingress}").into_bytes(),
        }];
        Environment::from_files("dev", None, &files)
    }

    #[test]
    fn the_class_annotation_and_a_default_backend_route_through_nginx() {
        let env = env("\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: edge
  annotations: {kubernetes.io/ingress.class: nginx}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
");
        let nginx = nginx(&env, "web").expect("an NGINX route");
        let ingresses = nginx.canary_ingresses("dev", &Map::new(), 10);
        assert_eq!(ingresses[0]["metadata"]["name"], json!("edge-canary"));
        assert_eq!(
            ingresses[0]["metadata"]["annotations"],
            json!({CANARY_ANNOTATION: "true", WEIGHT_ANNOTATION: "10", CLASS_ANNOTATION: "nginx"})
        );
        assert_eq!(ingresses[0]["spec"]["defaultBackend"]["service"]["name"], json!("web-canary"));
        // The canary pods keep their other labels, not the one Service web selects by.
        let mut spec = json!({"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web", "tier": "front"}}}});
        nginx.canary_spec(&mut spec, "web");
        assert_eq!(
            spec["template"]["metadata"]["labels"],
            json!({"tier": "front", ROLLOUT_LABEL: "web", TRACK_LABEL: "canary"})
        );
        assert_eq!(
            spec["selector"]["matchLabels"],
            json!({ROLLOUT_LABEL: "web", TRACK_LABEL: "canary"})
        );
    }

    #[test]
    fn another_ingress_class_keeps_replica_ratios() {
        let env = env("\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: edge}
spec:
  ingressClassName: traefik
  defaultBackend: {service: {name: web, port: {number: 80}}}
");
        assert!(nginx(&env, "web").is_none());
    }
}
