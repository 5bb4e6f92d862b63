//! Defaulting as the API server does it on every write. The defaults are what makes a live object
//! differ from the manifest that produced it; none of them is owned by an applier.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Allocated Service cluster IPs (10.96.0.0/12) and node ports (30000-32767), by owner.
#[derive(Debug, Clone, Default)]
pub(super) struct Network {
    cluster_ips: BTreeMap<u32, String>,
    node_ports: BTreeMap<u64, String>,
}

const SERVICE_CIDR_BASE: u32 = 10 << 24 | 96 << 16;
const SERVICE_CIDR_SIZE: u32 = 1 << 20;
const NODE_PORT_BASE: u64 = 30_000;
const NODE_PORT_COUNT: u64 = 2_768;

impl Network {
    /// A free cluster IP derived from the owner's name, so the same Service gets the same address
    /// whatever order the objects were created in (collisions move to the next free address).
    fn cluster_ip(&self, owner: &str) -> String {
        // .0 is the network, .1 the `kubernetes` Service.
        let usable = SERVICE_CIDR_SIZE - 3;
        let mut offset = fnv1a(owner) % usable;
        for _ in 0..usable {
            let address = SERVICE_CIDR_BASE + 2 + offset;
            if !self.cluster_ips.contains_key(&address) {
                return format_ip(address);
            }
            offset = (offset + 1) % usable;
        }
        format_ip(SERVICE_CIDR_BASE + 2)
    }

    fn node_port(&self, owner: &str, taken: &[u64]) -> u64 {
        let mut offset = u64::from(fnv1a(owner)) % NODE_PORT_COUNT;
        for _ in 0..NODE_PORT_COUNT {
            let port = NODE_PORT_BASE + offset;
            if !self.node_ports.contains_key(&port) && !taken.contains(&port) {
                return port;
            }
            offset = (offset + 1) % NODE_PORT_COUNT;
        }
        NODE_PORT_BASE
    }

    /// Records the addresses `service` holds, replacing what `owner` held before.
    pub(super) fn reserve(&mut self, owner: &str, service: &Value) {
        self.release(owner);
        let spec = service.get("spec");
        if let Some(ip) =
            spec.and_then(|s| s.get("clusterIP")).and_then(Value::as_str).and_then(parse_ip)
        {
            self.cluster_ips.insert(ip, owner.to_owned());
        }
        let ports = spec.and_then(|s| s.get("ports")).and_then(Value::as_array);
        for port in ports.into_iter().flatten() {
            if let Some(node_port) = port.get("nodePort").and_then(Value::as_u64) {
                self.node_ports.insert(node_port, owner.to_owned());
            }
        }
    }

    pub(super) fn release(&mut self, owner: &str) {
        self.cluster_ips.retain(|_, holder| holder != owner);
        self.node_ports.retain(|_, holder| holder != owner);
    }
}

fn fnv1a(text: &str) -> u32 {
    text.bytes()
        .fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193))
}

fn format_ip(address: u32) -> String {
    let [a, b, c, d] = address.to_be_bytes();
    format!("{a}.{b}.{c}.{d}")
}

fn parse_ip(text: &str) -> Option<u32> {
    let octets: Vec<u8> = text.split('.').map(str::parse).collect::<Result<_, _>>().ok()?;
    let [a, b, c, d] = octets.try_into().ok()?;
    Some(u32::from_be_bytes([a, b, c, d]))
}

/// Fills in the server's defaults. `live` is the stored object being replaced, whose allocated
/// addresses a Service keeps.
pub(super) fn apply(group_kind: &str, object: &mut Value, live: Option<&Value>, network: &Network) {
    let owner = owner_of(object);
    let name =
        object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let uid =
        object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_owned();
    match group_kind {
        "Namespace" => namespace(object, &name),
        "Secret" => secret(object),
        "Service" => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                service(spec, live.and_then(|l| l.get("spec")), network, &owner);
            }
        }
        "PersistentVolumeClaim" => {
            if let Some(spec) = map_at(object, "spec") {
                default(spec, "volumeMode", json!("Filesystem"));
            }
        }
        "Pod" => {
            if let Some(spec) = map_at(object, "spec") {
                pod_spec(spec);
                for (field, value) in [
                    ("enableServiceLinks", json!(true)),
                    ("preemptionPolicy", json!("PreemptLowerPriority")),
                    ("priority", json!(0)),
                    ("serviceAccountName", json!("default")),
                    ("serviceAccount", json!("default")),
                ] {
                    default(spec, field, value);
                }
            }
        }
        "Deployment.apps" => {
            if let Some(spec) = map_at(object, "spec") {
                deployment(spec);
                pod_template(spec);
            }
        }
        "StatefulSet.apps" => {
            if let Some(spec) = map_at(object, "spec") {
                stateful_set(spec);
                pod_template(spec);
            }
        }
        "DaemonSet.apps" => {
            if let Some(spec) = map_at(object, "spec") {
                default(spec, "revisionHistoryLimit", json!(10));
                default(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
                );
                pod_template(spec);
            }
        }
        "Job.batch" => {
            if let Some(spec) = map_at(object, "spec") {
                job(spec, &name, &uid);
                pod_template(spec);
            }
        }
        "CronJob.batch" => {
            if let Some(spec) = map_at(object, "spec") {
                for (field, value) in [
                    ("concurrencyPolicy", json!("Allow")),
                    ("suspend", json!(false)),
                    ("successfulJobsHistoryLimit", json!(3)),
                    ("failedJobsHistoryLimit", json!(1)),
                ] {
                    default(spec, field, value);
                }
                if let Some(job_spec) = spec
                    .get_mut("jobTemplate")
                    .and_then(|t| t.get_mut("spec"))
                    .and_then(Value::as_object_mut)
                {
                    pod_template(job_spec);
                }
            }
        }
        "HorizontalPodAutoscaler.autoscaling" => {
            if let Some(spec) = map_at(object, "spec") {
                default(spec, "minReplicas", json!(1));
                default(
                    spec,
                    "metrics",
                    json!([{"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80}}}]),
                );
            }
        }
        _ => {}
    }
}

fn owner_of(object: &Value) -> String {
    let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str).unwrap_or_default();
    format!("{}/{}", text("/metadata/namespace"), text("/metadata/name"))
}

fn map_at<'a>(object: &'a mut Value, field: &str) -> Option<&'a mut Map<String, Value>> {
    object.get_mut(field).and_then(Value::as_object_mut)
}

fn default(map: &mut Map<String, Value>, field: &str, value: Value) {
    if map.get(field).is_none_or(Value::is_null) {
        map.insert(field.to_owned(), value);
    }
}

fn namespace(object: &mut Value, name: &str) {
    let Some(map) = object.as_object_mut() else { return };
    if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = metadata.entry("labels").or_insert_with(|| json!({}));
        if let Some(labels) = labels.as_object_mut() {
            // Forced by the server, not merely defaulted.
            labels.insert("kubernetes.io/metadata.name".to_owned(), json!(name));
        }
    }
    let spec = map.entry("spec").or_insert_with(|| json!({}));
    if let Some(spec) = spec.as_object_mut() {
        default(spec, "finalizers", json!(["kubernetes"]));
    }
}

/// `stringData` is write-only: the server folds it into `data`, base64-encoded, and drops it.
fn secret(object: &mut Value) {
    let Some(map) = object.as_object_mut() else { return };
    default(map, "type", json!("Opaque"));
    let Some(Value::Object(string_data)) = map.shift_remove("stringData") else { return };
    let data = map.entry("data").or_insert_with(|| json!({}));
    if let Some(data) = data.as_object_mut() {
        for (key, value) in string_data {
            let text = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            data.insert(key, Value::String(base64(text.as_bytes())));
        }
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn service(spec: &mut Map<String, Value>, live: Option<&Value>, network: &Network, owner: &str) {
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    let service_type = spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_owned();
    if service_type != "ExternalName" {
        let ip = live
            .and_then(|l| l.get("clusterIP"))
            .cloned()
            .unwrap_or_else(|| json!(network.cluster_ip(owner)));
        default(spec, "clusterIP", ip);
        let ip = spec.get("clusterIP").cloned().unwrap_or(Value::Null);
        default(spec, "clusterIPs", json!([ip]));
        default(spec, "ipFamilies", json!(["IPv4"]));
        default(spec, "ipFamilyPolicy", json!("SingleStack"));
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    let node_ports = matches!(service_type.as_str(), "NodePort" | "LoadBalancer");
    if node_ports {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if service_type == "LoadBalancer" {
        default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    let live_ports = live.and_then(|l| l.get("ports")).and_then(Value::as_array);
    let mut taken = Vec::new();
    for port in spec.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
        let Some(port) = port.as_object_mut() else { continue };
        default(port, "protocol", json!("TCP"));
        if let Some(number) = port.get("port").cloned() {
            default(port, "targetPort", number);
        }
        if node_ports && port.get("nodePort").is_none() {
            let same = |other: &&Value| {
                other.get("port") == port.get("port")
                    && other.get("protocol") == port.get("protocol")
            };
            let node_port = live_ports
                .and_then(|ports| ports.iter().find(same))
                .and_then(|p| p.get("nodePort"))
                .and_then(Value::as_u64)
                .unwrap_or_else(|| {
                    let label = format!("{owner}:{}", port.get("port").unwrap_or(&Value::Null));
                    network.node_port(&label, &taken)
                });
            taken.push(node_port);
            port.insert("nodePort".to_owned(), json!(node_port));
        }
    }
}

fn deployment(spec: &mut Map<String, Value>) {
    default(spec, "replicas", json!(1));
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "progressDeadlineSeconds", json!(600));
    default(spec, "strategy", json!({}));
    if let Some(strategy) = spec.get_mut("strategy").and_then(Value::as_object_mut) {
        default(strategy, "type", json!("RollingUpdate"));
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            default(strategy, "rollingUpdate", json!({}));
            if let Some(rolling) = strategy.get_mut("rollingUpdate").and_then(Value::as_object_mut)
            {
                default(rolling, "maxUnavailable", json!("25%"));
                default(rolling, "maxSurge", json!("25%"));
            }
        }
    }
}

fn stateful_set(spec: &mut Map<String, Value>) {
    default(spec, "replicas", json!(1));
    default(spec, "podManagementPolicy", json!("OrderedReady"));
    default(spec, "revisionHistoryLimit", json!(10));
    default(
        spec,
        "updateStrategy",
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
    );
    default(
        spec,
        "persistentVolumeClaimRetentionPolicy",
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
    );
    let templates = spec.get_mut("volumeClaimTemplates").and_then(Value::as_array_mut);
    for template in templates.into_iter().flatten() {
        if let Some(template) = template.as_object_mut() {
            default(template, "apiVersion", json!("v1"));
            default(template, "kind", json!("PersistentVolumeClaim"));
            if let Some(claim) = template.get_mut("spec").and_then(Value::as_object_mut) {
                default(claim, "volumeMode", json!("Filesystem"));
            }
        }
    }
}

fn job(spec: &mut Map<String, Value>, name: &str, uid: &str) {
    for (field, value) in [
        ("backoffLimit", json!(6)),
        ("completionMode", json!("NonIndexed")),
        ("completions", json!(1)),
        ("parallelism", json!(1)),
        ("podReplacementPolicy", json!("TerminatingOrFailed")),
        ("suspend", json!(false)),
    ] {
        default(spec, field, value);
    }
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    // The server generates the selector and the matching template labels.
    default(spec, "selector", json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}));
    let template = spec.entry("template").or_insert_with(|| json!({}));
    let Some(template) = template.as_object_mut() else { return };
    let metadata = template.entry("metadata").or_insert_with(|| json!({}));
    let Some(metadata) = metadata.as_object_mut() else { return };
    let labels = metadata.entry("labels").or_insert_with(|| json!({}));
    if let Some(labels) = labels.as_object_mut() {
        for (key, value) in [
            ("batch.kubernetes.io/controller-uid", uid),
            ("batch.kubernetes.io/job-name", name),
            ("controller-uid", uid),
            ("job-name", name),
        ] {
            labels.insert(key.to_owned(), json!(value));
        }
    }
}

/// Defaults of `spec.template.spec` in a workload spec.
fn pod_template(workload_spec: &mut Map<String, Value>) {
    if let Some(spec) = workload_spec
        .get_mut("template")
        .and_then(|t| t.get_mut("spec"))
        .and_then(Value::as_object_mut)
    {
        pod_spec(spec);
    }
}

fn pod_spec(spec: &mut Map<String, Value>) {
    for (field, value) in [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("securityContext", json!({})),
        ("schedulerName", json!("default-scheduler")),
    ] {
        default(spec, field, value);
    }
    for list in ["initContainers", "containers"] {
        for container in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(container) = container.as_object_mut() {
                self::container(container);
            }
        }
    }
    for volume in spec.get_mut("volumes").and_then(Value::as_array_mut).into_iter().flatten() {
        for source in ["configMap", "secret", "projected", "downwardAPI"] {
            if let Some(source) = volume.get_mut(source).and_then(Value::as_object_mut) {
                default(source, "defaultMode", json!(420));
            }
        }
    }
}

fn container(container: &mut Map<String, Value>) {
    let image = container.get("image").and_then(Value::as_str).unwrap_or_default();
    default(container, "imagePullPolicy", json!(pull_policy(image)));
    default(container, "terminationMessagePath", json!("/dev/termination-log"));
    default(container, "terminationMessagePolicy", json!("File"));
    default(container, "resources", json!({}));
    for port in container.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(port) = port.as_object_mut() {
            default(port, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(probe) = container.get_mut(probe).and_then(Value::as_object_mut) else { continue };
        for (field, value) in [
            ("timeoutSeconds", 1),
            ("periodSeconds", 10),
            ("successThreshold", 1),
            ("failureThreshold", 3),
        ] {
            default(probe, field, json!(value));
        }
        if let Some(http) = probe.get_mut("httpGet").and_then(Value::as_object_mut) {
            default(http, "scheme", json!("HTTP"));
        }
    }
    // Quantities (`resources.limits.cpu: 1` → `"1"`) are canonicalised for the whole object in
    // `MemoryCluster::prepare`, with `fieldset::canonicalize_quantities`.
}

/// `Always` for `:latest` or an untagged image, else `IfNotPresent`.
fn pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    match last_segment.rsplit_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(pull_policy("nginx"), "Always");
        assert_eq!(pull_policy("nginx:latest"), "Always");
        assert_eq!(pull_policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(pull_policy("registry:5000/team/model"), "Always");
        assert_eq!(pull_policy("registry:5000/team/model:v2"), "IfNotPresent");
        assert_eq!(pull_policy("nginx@sha256:abcd"), "IfNotPresent");
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"hunter2!"), "aHVudGVyMiE=");
    }

    #[test]
    fn cluster_ips_are_stable_and_distinct() {
        let mut network = Network::default();
        let first = network.cluster_ip("dev/web");
        assert_eq!(first, Network::default().cluster_ip("dev/web"));
        network.reserve("dev/web", &json!({"spec": {"clusterIP": first}}));
        let second = network.cluster_ip("dev/web");
        assert_ne!(first, second, "a taken address is skipped");
        let address = parse_ip(&first).unwrap_or_default();
        assert!((SERVICE_CIDR_BASE..SERVICE_CIDR_BASE + SERVICE_CIDR_SIZE).contains(&address));
    }
}
