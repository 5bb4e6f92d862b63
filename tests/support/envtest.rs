//! An envtest-style harness: a real API server for integration tests, or a clear skip.
//!
//! - `COXSWAIN_TEST_KUBECONFIG=path`: use that cluster (its current context).
//! - `KUBEBUILDER_ASSETS=dir` holding `etcd` and `kube-apiserver`: start both on free loopback
//!   ports, the way controller-runtime's envtest does: temp dirs, a CA and serving certificate
//!   made here with rcgen, an admin client certificate in `system:masters`, a service-account
//!   signing key. Both processes are killed when the [`TestEnv`] is dropped.
//! - neither: [`TestEnv::start`] returns `Ok(None)` after printing why.
//!
//! A bare kube-apiserver runs no controllers; [`RolloutController`] stands in for the deployment
//! controller where a test needs Deployments to become healthy.

use coxswain::cluster::kube_api::KubeCluster;
use coxswain::cluster::{Cluster, Gvk, ResourceType};
use kube::config::{KubeConfigOptions, Kubeconfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long etcd and the API server get to become ready (first start on a loaded machine).
const READY_WITHIN: Duration = Duration::from_mins(2);

pub struct TestEnv {
    pub kubeconfig: PathBuf,
    /// The control plane this harness started; `None` for an existing cluster.
    control_plane: Option<ControlPlane>,
}

struct ControlPlane {
    etcd: Child,
    apiserver: Child,
    /// Held so the directory (certificates, etcd data, logs) lives as long as the processes.
    dir: tempfile::TempDir,
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        for child in [&mut self.apiserver, &mut self.etcd] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl TestEnv {
    /// Connects to or starts a cluster; `Ok(None)` (with the reason printed) when the
    /// environment offers neither.
    pub async fn start() -> Result<Option<Self>, String> {
        if let Some(path) = std::env::var_os("COXSWAIN_TEST_KUBECONFIG") {
            let mut env = Self { kubeconfig: PathBuf::from(path), control_plane: None };
            env.wait_ready().await?;
            return Ok(Some(env));
        }
        let Some(assets) = std::env::var_os("KUBEBUILDER_ASSETS").map(PathBuf::from) else {
            eprintln!(
                "SKIPPED: set COXSWAIN_TEST_KUBECONFIG to a test cluster's kubeconfig, or \
                 KUBEBUILDER_ASSETS to a directory with `etcd` and `kube-apiserver`"
            );
            return Ok(None);
        };
        for binary in ["etcd", "kube-apiserver"] {
            if !assets.join(binary).is_file() {
                eprintln!("SKIPPED: KUBEBUILDER_ASSETS={} has no `{binary}`", assets.display());
                return Ok(None);
            }
        }
        let (control_plane, kubeconfig) = ControlPlane::start(&assets)?;
        let mut env = Self { kubeconfig, control_plane: Some(control_plane) };
        env.wait_ready().await?;
        Ok(Some(env))
    }

    pub async fn config(&self) -> Result<kube::Config, String> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)
            .map_err(|e| format!("reading {}: {e}", self.kubeconfig.display()))?;
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| format!("kubeconfig {}: {e}", self.kubeconfig.display()))
    }

    /// A fresh adapter (with its own discovery cache).
    pub async fn cluster(&self) -> Result<KubeCluster, String> {
        KubeCluster::from_config(self.config().await?).map_err(|e| e.to_string())
    }

    /// Creates a namespace unique to this test run; delete it with [`Self::delete_namespace`].
    #[allow(dead_code)] // the engine tests let the sync create their namespaces
    pub async fn create_namespace(&self, prefix: &str) -> Result<String, String> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let name = format!(
            "{prefix}-{}-{}-{nanos:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let namespace =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        let cluster = self.cluster().await?;
        cluster.create(&namespaces(), &namespace).await.map_err(|e| e.to_string())?;
        Ok(name)
    }

    /// Best effort: a namespace left behind in a throwaway control plane does no harm.
    pub async fn delete_namespace(&self, name: &str) {
        if let Ok(cluster) = self.cluster().await
            && let Err(error) = cluster.delete(&namespaces(), None, name, None).await
        {
            eprintln!("warning: could not delete test namespace {name}: {error}");
        }
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let client = kube::Client::try_from(self.config().await?).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let mut last = String::from("no answer yet");
        while started.elapsed() < READY_WITHIN {
            let request =
                http::Request::get("/readyz").body(Vec::new()).map_err(|e| e.to_string())?;
            match client.request_text(request).await {
                Ok(text) if text.trim() == "ok" => return Ok(()),
                Ok(text) => last = text,
                Err(error) => last = error.to_string(),
            }
            if let Some(control_plane) = &mut self.control_plane {
                control_plane.check_running()?;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let logs = self.control_plane.as_ref().map(ControlPlane::logs).unwrap_or_default();
        Err(format!("the API server was not ready within {READY_WITHIN:?}: {last}\n{logs}"))
    }
}

pub fn namespaces() -> ResourceType {
    ResourceType {
        gvk: Gvk::from_api_version("v1", "Namespace"),
        plural: "namespaces".into(),
        namespaced: false,
    }
}

impl ControlPlane {
    fn start(assets: &Path) -> Result<(Self, PathBuf), String> {
        let dir = tempfile::Builder::new()
            .prefix("coxswain-envtest-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let root = dir.path().to_owned();
        let pki = Pki::write(&root)?;
        let etcd_client = free_port()?;
        let etcd_peer = free_port()?;
        let secure_port = free_port()?;

        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer}");
        let etcd = spawn(
            Command::new(assets.join("etcd"))
                .arg(format!("--data-dir={}", root.join("etcd").display()))
                .arg("--name=default")
                .arg(format!("--listen-client-urls={etcd_url}"))
                .arg(format!("--advertise-client-urls={etcd_url}"))
                .arg(format!("--listen-peer-urls={peer_url}"))
                .arg(format!("--initial-advertise-peer-urls={peer_url}"))
                .arg(format!("--initial-cluster=default={peer_url}")),
            &root.join("etcd.log"),
        )?;
        let apiserver = spawn(
            Command::new(assets.join("kube-apiserver"))
                .arg(format!("--etcd-servers={etcd_url}"))
                .arg("--advertise-address=127.0.0.1")
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--secure-port={secure_port}"))
                .arg(format!("--cert-dir={}", root.display()))
                .arg(format!("--tls-cert-file={}", pki.serving_cert.display()))
                .arg(format!("--tls-private-key-file={}", pki.serving_key.display()))
                .arg(format!("--client-ca-file={}", pki.ca_cert.display()))
                .arg("--authorization-mode=RBAC")
                .arg("--service-cluster-ip-range=10.0.0.0/16")
                .arg("--disable-admission-plugins=ServiceAccount")
                .arg("--allow-privileged=true")
                .arg(format!("--service-account-issuer=https://127.0.0.1:{secure_port}"))
                .arg(format!(
                    "--service-account-key-file={}",
                    pki.service_account_public_key.display()
                ))
                .arg(format!(
                    "--service-account-signing-key-file={}",
                    pki.service_account_key.display()
                )),
            &root.join("kube-apiserver.log"),
        );
        let apiserver = match apiserver {
            Ok(child) => child,
            Err(error) => {
                let mut etcd = etcd;
                let _ = etcd.kill();
                let _ = etcd.wait();
                return Err(error);
            }
        };
        let kubeconfig = root.join("kubeconfig");
        fs::write(&kubeconfig, pki.kubeconfig(secure_port))
            .map_err(|e| format!("writing {}: {e}", kubeconfig.display()))?;
        Ok((Self { etcd, apiserver, dir }, kubeconfig))
    }

    /// Fails with the log's last lines when etcd or the API server has exited.
    fn check_running(&mut self) -> Result<(), String> {
        let root = self.dir.path().to_owned();
        let children = [
            ("etcd", &mut self.etcd, "etcd.log"),
            ("kube-apiserver", &mut self.apiserver, "kube-apiserver.log"),
        ];
        for (name, child, log) in children {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "{name} exited ({status}); the end of its log:\n{}",
                    tail(&root.join(log))
                ));
            }
        }
        Ok(())
    }

    fn logs(&self) -> String {
        let root = self.dir.path();
        format!(
            "etcd log:\n{}\nkube-apiserver log:\n{}",
            tail(&root.join("etcd.log")),
            tail(&root.join("kube-apiserver.log"))
        )
    }
}

/// The last 30 lines of a log file.
fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines.get(lines.len().saturating_sub(30)..).unwrap_or_default().join("\n")
}

fn spawn(command: &mut Command, log: &Path) -> Result<Child, String> {
    let out = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| format!("{}: {e}", log.display()))?;
    command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", Path::new(command.get_program()).display()))
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map(|addr| addr.port()).map_err(|e| e.to_string())
}

/// The certificates and keys of a throwaway control plane, written as PEM files.
struct Pki {
    ca_cert: PathBuf,
    serving_cert: PathBuf,
    serving_key: PathBuf,
    admin_cert: PathBuf,
    admin_key: PathBuf,
    service_account_key: PathBuf,
    service_account_public_key: PathBuf,
}

impl Pki {
    fn write(dir: &Path) -> Result<Self, String> {
        let err = |e: rcgen::Error| format!("generating certificates: {e}");
        let ca_key = KeyPair::generate().map_err(err)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.distinguished_name.push(DnType::CommonName, "coxswain-envtest-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let serving_key = KeyPair::generate().map_err(err)?;
        let mut serving = CertificateParams::new(vec![
            "127.0.0.1".to_owned(),
            "localhost".to_owned(),
            "10.0.0.1".to_owned(),
        ])
        .map_err(err)?;
        serving.distinguished_name.push(DnType::CommonName, "kube-apiserver");
        let serving_cert = serving.signed_by(&serving_key, &issuer).map_err(err)?;

        let admin_key = KeyPair::generate().map_err(err)?;
        let mut admin = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        admin.distinguished_name.push(DnType::CommonName, "coxswain-envtest-admin");
        admin.distinguished_name.push(DnType::OrganizationName, "system:masters");
        let admin_cert = admin.signed_by(&admin_key, &issuer).map_err(err)?;

        let service_account_key = KeyPair::generate().map_err(err)?;

        let files = [
            ("ca.crt", ca_cert.pem()),
            ("apiserver.crt", serving_cert.pem()),
            ("apiserver.key", serving_key.serialize_pem()),
            ("admin.crt", admin_cert.pem()),
            ("admin.key", admin_key.serialize_pem()),
            ("sa.key", service_account_key.serialize_pem()),
            ("sa.pub", service_account_key.public_key_pem()),
        ];
        for (name, pem) in &files {
            let path = dir.join(name);
            fs::write(&path, pem).map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
        Ok(Self {
            ca_cert: dir.join("ca.crt"),
            serving_cert: dir.join("apiserver.crt"),
            serving_key: dir.join("apiserver.key"),
            admin_cert: dir.join("admin.crt"),
            admin_key: dir.join("admin.key"),
            service_account_key: dir.join("sa.key"),
            service_account_public_key: dir.join("sa.pub"),
        })
    }

    fn kubeconfig(&self, port: u16) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: envtest\n\
             clusters:\n- name: envtest\n  cluster:\n    server: https://127.0.0.1:{port}\n    \
             certificate-authority: {}\n\
             users:\n- name: admin\n  user:\n    client-certificate: {}\n    client-key: {}\n\
             contexts:\n- name: envtest\n  context:\n    cluster: envtest\n    user: admin\n    \
             namespace: default\n",
            self.ca_cert.display(),
            self.admin_cert.display(),
            self.admin_key.display()
        )
    }
}

/// A stand-in for the deployment controller: every 100 ms, marks each Deployment of `namespace`
/// rolled out (observedGeneration = generation, all replicas updated, ready and available)
/// through the status subresource, as the real controller would once its pods are ready.
/// Stops when dropped.
#[allow(dead_code)] // used by the engine tests and the bench, not by tests/envtest.rs
pub struct RolloutController {
    task: tokio::task::JoinHandle<()>,
}

#[allow(dead_code)]
impl RolloutController {
    pub fn start(client: kube::Client, namespace: &str) -> Self {
        let namespace = namespace.to_owned();
        let task = tokio::spawn(async move {
            loop {
                if let Err(error) = mark_rolled_out(&client, &namespace).await {
                    eprintln!("rollout controller: {error}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self { task }
    }
}

impl Drop for RolloutController {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn mark_rolled_out(client: &kube::Client, namespace: &str) -> Result<(), String> {
    let path = format!("/apis/apps/v1/namespaces/{namespace}/deployments");
    // resourceVersion=0: served from the watch cache, as controllers' informers are.
    let request = http::Request::get(format!("{path}?resourceVersion=0"))
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let list: Value = match client.request(request).await {
        Ok(list) => list,
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
        Err(error) => return Err(error.to_string()),
    };
    for item in list["items"].as_array().into_iter().flatten() {
        let generation = item.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
        let replicas = item.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        let status = json!({"observedGeneration": generation, "replicas": replicas,
            "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas});
        if item.get("status") == Some(&status) {
            continue;
        }
        let name = item.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let mut object = item.clone();
        object["apiVersion"] = json!("apps/v1");
        object["kind"] = json!("Deployment");
        object["status"] = status;
        let body = serde_json::to_vec(&object).map_err(|e| e.to_string())?;
        let request = http::Request::put(format!("{path}/{name}/status"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(|e| e.to_string())?;
        // A conflict (the object changed under us) is retried on the next round.
        match client.request::<Value>(request).await {
            Ok(_) | Err(kube::Error::Api(_)) => {}
            Err(error) => return Err(error.to_string()),
        }
    }
    Ok(())
}
