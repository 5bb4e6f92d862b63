//! The generated env the benches measure: `count` objects, a third each Deployments (image
//! `…:1.1.0` for the first `changed_image` of them, else `…:1.0.0`), Services and `ConfigMaps`,
//! 50 to a file (`objects-000.yaml`, …), as (file name, text). Shared by the core's plan/sync bench
//! and the app's file-save bench.

pub const OBJECTS_PER_FILE: usize = 50;

/// The first `ConfigMap`'s setting, which the app bench edits (`model-0000` in `objects-000.yaml`).
#[allow(dead_code)] // the app's bench edits it; the plan/sync bench does not
pub const FIRST_CONFIG_SETTING: &str = "LOG_LEVEL: info";

pub fn generate(count: usize, changed_image: usize) -> Vec<(String, String)> {
    let mut objects = Vec::with_capacity(count);
    for i in 0..count {
        let name = format!("model-{:04}", i / 3);
        let object = match i % 3 {
            0 => {
                let version = if i / 3 < changed_image { "1.1.0" } else { "1.0.0" };
                format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels: {{app: {name}}}\n\
                     spec:\n  replicas: 0\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    \
                     metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        \
                     - name: server\n          image: ghcr.io/acme/{name}:{version}\n          \
                     ports:\n            - {{name: http, containerPort: 8080}}\n          \
                     env:\n            - {{name: MODEL_NAME, value: {name}}}\n          \
                     envFrom:\n            - configMapRef: {{name: {name}}}\n          \
                     resources:\n            requests: {{cpu: 100m, memory: 128Mi}}\n            \
                     limits: {{memory: 256Mi}}\n          \
                     readinessProbe: {{httpGet: {{path: /ready, port: http}}}}\n"
                )
            }
            1 => format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector: {{app: {name}}}\n  \
                 ports:\n    - {{name: http, port: 80, targetPort: http}}\n"
            ),
            _ => format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  LOG_LEVEL: info\n  \
                 MAX_BATCH: \"32\"\n  THREADS: \"2\"\n"
            ),
        };
        objects.push(object);
    }
    objects
        .chunks(OBJECTS_PER_FILE)
        .enumerate()
        .map(|(i, chunk)| (format!("objects-{i:03}.yaml"), chunk.join("---\n")))
        .collect()
}
