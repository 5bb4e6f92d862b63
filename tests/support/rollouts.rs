//! Manifests and git repos for the rollout tests (memory cluster and envtest).

use std::path::Path;

/// A Deployment `name` (pods labelled `app: name`) and a Service selecting it, passing the
/// policy gate.
pub fn workload(name: &str, replicas: u32, image: &str) -> String {
    format!(
        "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: {name}
          image: {image}
          resources:
            requests: {{cpu: 100m, memory: 64Mi}}
            limits: {{memory: 128Mi}}
          readinessProbe:
            httpGet: {{path: /ready, port: 8080}}
          livenessProbe:
            httpGet: {{path: /live, port: 8080}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports:
    - port: 80
      targetPort: 8080
"
    )
}

/// A git repo on `main` with `files` (path, text) committed.
pub fn git_repo(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let repo = git2::Repository::init(dir.path()).expect("git init");
    repo.set_head("refs/heads/main").expect("main");
    let mut index = repo.index().expect("index");
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).expect("add");
    index.write().expect("write index");
    let tree = repo.find_tree(index.write_tree().expect("tree")).expect("find tree");
    let signature = git2::Signature::now("Test", "test@example.invalid").expect("signature");
    repo.commit(Some("HEAD"), &signature, &signature, "repo", &tree, &[]).expect("commit");
    dir
}

/// Sets the first `image:` of `environments/<env>/<file>` in the working tree.
pub fn set_image(root: &Path, env: &str, file: &str, image: &str) {
    let path = root.join("environments").join(env).join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    let start = text.find("image: ").expect("image line") + "image: ".len();
    let end = start + text[start..].find('\n').expect("line end");
    std::fs::write(&path, format!("{}{image}{}", &text[..start], &text[end..])).expect("write");
}

/// An NGINX Ingress routing `/` of web.example to Service web (and `/docs` to docs).
pub const INGRESS: &str = "\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations:
    nginx.ingress.kubernetes.io/proxy-body-size: 8m
spec:
  ingressClassName: nginx
  rules:
    - host: web.example
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: {name: web, port: {number: 80}}
          - path: /docs
            pathType: Prefix
            backend:
              service: {name: docs, port: {number: 80}}
";

/// A git repo with the env `edge` in `namespace`: Deployment web (4 replicas) behind Service
/// web, routed by an NGINX Ingress, and `rollouts` (an env.yaml naming namespace `shop`).
pub fn nginx_repo(namespace: &str, rollouts: &str) -> tempfile::TempDir {
    git_repo(&[
        (
            "environments/edge/env.yaml",
            rollouts.replace("namespace: shop", &format!("namespace: {namespace}")),
        ),
        ("environments/edge/web.yaml", workload("web", 4, "registry.example/web:1.0.0")),
        ("environments/edge/ingress.yaml", INGRESS.to_owned()),
    ])
}
