//! Loading speed: generates a repo of 10,000 objects across 3 environments and reports
//! objects per second for `Repo::load` + the policy gate. Run: `cargo bench --bench load`.

use coxswain::repo::Repo;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];
const OBJECTS_PER_ENV: usize = 3_334;
const OBJECTS_PER_FILE: usize = 50;

fn deployment(name: &str) -> String {
    [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata:",
        "  name: NAME",
        "  labels: {app: NAME}",
        "spec:",
        "  replicas: 2",
        "  selector:",
        "    matchLabels: {app: NAME}",
        "  template:",
        "    metadata:",
        "      labels: {app: NAME}",
        "    spec:",
        "      containers:",
        "        - name: server",
        "          image: ghcr.io/acme/NAME:1.0.0",
        "          resources:",
        "            requests: {cpu: 100m, memory: 128Mi}",
        "            limits: {memory: 256Mi}",
        "          readinessProbe: {httpGet: {path: /ready, port: 8080}}",
        "          livenessProbe: {httpGet: {path: /live, port: 8080}}",
        "",
    ]
    .join("\n")
    .replace("NAME", name)
}

fn config_map(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  LOG_LEVEL: info\n  MAX_BATCH: \"32\"\n"
    )
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    for env in ENVIRONMENTS {
        let env_dir = dir.path().join("environments").join(env);
        std::fs::create_dir_all(&env_dir).expect("env dir");
        std::fs::write(env_dir.join("env.yaml"), "prune: true\n").expect("env.yaml");
        let mut file = String::new();
        for i in 0..OBJECTS_PER_ENV {
            let name = format!("svc-{i:05}");
            let _ = write!(
                file,
                "---\n{}",
                if i % 2 == 0 { deployment(&name) } else { config_map(&name) }
            );
            if (i + 1) % OBJECTS_PER_FILE == 0 || i + 1 == OBJECTS_PER_ENV {
                std::fs::write(
                    env_dir.join(format!("part-{:04}.yaml", i / OBJECTS_PER_FILE)),
                    &file,
                )
                .expect("write");
                file.clear();
            }
        }
    }
    let repo = Repo::open(dir.path()).expect("repo");
    let mut times = Vec::new();
    let mut load_times = Vec::new();
    let mut objects = 0;
    for _ in 0..7 {
        let start = Instant::now();
        let environments = repo.load(None).expect("load");
        load_times.push(start.elapsed());
        let findings: usize = environments.iter().map(|e| coxswain::policy::check(e).len()).sum();
        times.push(start.elapsed());
        objects = environments.iter().map(|e| e.objects.len()).sum();
        let problems: Vec<String> = environments
            .iter()
            .flat_map(|e| e.diagnostics.iter().cloned().chain(coxswain::policy::check(e)))
            .map(|d| d.to_string())
            .collect();
        assert!(problems.is_empty() && findings == 0, "generated repo must be clean: {problems:?}");
    }
    times.sort();
    load_times.sort();
    println!("load only: median {:.1} ms", ms(load_times[load_times.len() / 2]));
    let median = times[times.len() / 2];
    let rate = objects as f64 / median.as_secs_f64();
    println!(
        "load+policy: {objects} objects in 3 envs: median {:.1} ms (min {:.1}, max {:.1}) = {rate:.0} objects/s",
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
