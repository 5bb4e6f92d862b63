//! Loads a kubeconfig the way kubectl finds it, with messages that say what to fix.

use crate::cluster::ClusterError;
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::{Path, PathBuf};

/// The variable the kubelet sets in every pod; with no kubeconfig found, its presence means
/// "running in a pod": use the pod's service account, as client-go and kubectl do.
const IN_CLUSTER_VAR: &str = "KUBERNETES_SERVICE_HOST";

/// Builds a client config for `context` (the current context when `None`) the way kubectl finds
/// one: `explicit` (`--kubeconfig`) alone when given; else `KUBECONFIG` (a path list, merged) or
/// `~/.kube/config`; and when none of those exists inside a pod, the pod's service account.
pub(super) async fn load(
    explicit: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Config, ClusterError> {
    if let Some(path) = explicit {
        if !path.is_file() {
            return Err(config_error(format!("--kubeconfig {}: no such file", path.display())));
        }
        return load_from(&[path.to_path_buf()], context).await;
    }
    let paths = candidate_paths()?;
    if !paths.iter().any(|path| path.exists()) && std::env::var_os(IN_CLUSTER_VAR).is_some() {
        return in_cluster(context);
    }
    load_from(&paths, context).await
}

/// The pod's service account (token and CA under /var/run/secrets/kubernetes.io/serviceaccount).
fn in_cluster(context: Option<&str>) -> Result<kube::Config, ClusterError> {
    if let Some(context) = context {
        return Err(config_error(format!(
            "context {context:?} was asked for, but there is no kubeconfig: inside a pod only \
             the in-cluster service account is available (leave out the context, or mount a \
             kubeconfig and set KUBECONFIG)"
        )));
    }
    kube::Config::incluster().map_err(|error| {
        config_error(format!(
            "no kubeconfig found and {IN_CLUSTER_VAR} is set, so the in-cluster service account \
             was tried: {error}"
        ))
    })
}

async fn load_from(paths: &[PathBuf], context: Option<&str>) -> Result<kube::Config, ClusterError> {
    let kubeconfig = read(paths)?;
    if let Some(wanted) = context
        && !kubeconfig.contexts.iter().any(|named| named.name == wanted)
    {
        let known: Vec<&str> =
            kubeconfig.contexts.iter().map(|named| named.name.as_str()).collect();
        return Err(config_error(format!(
            "no context named {wanted:?}; the kubeconfig has {}",
            if known.is_empty() { "no contexts".to_owned() } else { known.join(", ") }
        )));
    }
    if context.is_none() && kubeconfig.current_context.as_deref().unwrap_or("").is_empty() {
        return Err(config_error(
            "no current context is set; pass a context or run `kubectl config use-context NAME`"
                .to_owned(),
        ));
    }
    let options = KubeConfigOptions { context: context.map(str::to_owned), ..Default::default() };
    kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|error| config_error(error.to_string()))
}

/// `KUBECONFIG`'s paths, else `~/.kube/config`.
fn candidate_paths() -> Result<Vec<PathBuf>, ClusterError> {
    let from_env: Vec<PathBuf> = std::env::var_os("KUBECONFIG")
        .map(|value| std::env::split_paths(&value).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default();
    if !from_env.is_empty() {
        return Ok(from_env);
    }
    match std::env::home_dir() {
        Some(home) => Ok(vec![home.join(".kube").join("config")]),
        None => Err(config_error(
            "KUBECONFIG is not set and there is no home directory to find ~/.kube/config in"
                .to_owned(),
        )),
    }
}

fn read(paths: &[PathBuf]) -> Result<Kubeconfig, ClusterError> {
    // kubectl skips missing files in KUBECONFIG; it fails only when none is there.
    let present: Vec<&PathBuf> = paths.iter().filter(|path| path.exists()).collect();
    if present.is_empty() {
        let listed: Vec<String> = paths.iter().map(|path| path.display().to_string()).collect();
        return Err(config_error(format!(
            "no kubeconfig found at {}; set KUBECONFIG or create the file (e.g. with your \
             cloud's `get-credentials` command)",
            listed.join(", ")
        )));
    }
    present.into_iter().try_fold(Kubeconfig::default(), |merged, path| {
        Kubeconfig::read_from(path)
            .and_then(|config| merged.merge(config))
            .map_err(|error| config_error(format!("{}: {error}", path.display())))
    })
}

fn config_error(message: String) -> ClusterError {
    ClusterError::Config { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = "\
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev
  cluster:
    server: https://127.0.0.1:6443
contexts:
- name: dev
  context:
    cluster: dev
    user: dev
    namespace: team-a
users:
- name: dev
  user:
    token: abc
";

    fn message(result: Result<kube::Config, ClusterError>) -> String {
        match result {
            Ok(config) => format!("unexpected success: {}", config.cluster_url),
            Err(error) => error.to_string(),
        }
    }

    #[tokio::test]
    async fn missing_file_says_where_it_looked() {
        let Ok(dir) = tempfile::tempdir() else { panic!("tempdir") };
        let path = dir.path().join("absent");
        let text = message(load_from(std::slice::from_ref(&path), None).await);
        assert!(text.starts_with("kubeconfig: no kubeconfig found at "), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
    }

    #[tokio::test]
    async fn an_explicit_kubeconfig_is_read_alone_and_must_exist() {
        let Ok(dir) = tempfile::tempdir() else { panic!("tempdir") };
        let path = dir.path().join("config");
        let text = message(load(Some(&path), None).await);
        assert_eq!(text, format!("kubeconfig: --kubeconfig {}: no such file", path.display()));
        assert!(std::fs::write(&path, KUBECONFIG).is_ok());
        let config = load(Some(&path), Some("dev")).await;
        let Ok(config) = config else { panic!("{config:?}") };
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
    }

    #[test]
    fn in_a_pod_without_a_service_account_the_error_says_what_was_tried() {
        let text = message(in_cluster(Some("prod")));
        assert!(
            text.contains("context \"prod\" was asked for, but there is no kubeconfig"),
            "{text}"
        );
        if std::path::Path::new("/var/run/secrets/kubernetes.io/serviceaccount/token").exists() {
            return; // really inside a pod: the service account is there
        }
        let text = message(in_cluster(None));
        assert!(text.contains("in-cluster service account was tried"), "{text}");
    }

    #[tokio::test]
    async fn unknown_context_lists_the_known_ones() {
        let Ok(dir) = tempfile::tempdir() else { panic!("tempdir") };
        let path = dir.path().join("config");
        assert!(std::fs::write(&path, KUBECONFIG).is_ok());
        let text = message(load_from(std::slice::from_ref(&path), Some("prod")).await);
        assert_eq!(text, "kubeconfig: no context named \"prod\"; the kubeconfig has dev");
        let config = load_from(std::slice::from_ref(&path), None).await;
        let Ok(config) = config else { panic!("{config:?}") };
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
        assert_eq!(config.default_namespace, "team-a");
    }
}
