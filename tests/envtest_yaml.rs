//! Issue #14 item 1 on a real API server: a manifest read by the loader and applied the way a
//! sync applies it lands with the values `kubectl apply` would give it — `defaultMode: 0400` is
//! 256 (not 400), `mode: 0440` is 288, `stdin: yes` and `tty: on` are true, `replicas: 0x2` is
//! 2, and a `<<` merge key merges. See `support/envtest.rs` for how the server is found or started; without
//! one this test prints why and passes as skipped.

#[path = "support/envtest.rs"]
mod envtest;

use coxswain::cluster::Cluster;
use coxswain::ownership::{Owner, desired_with_ownership};
use coxswain::repo::{Environment, SourceFile};
use envtest::TestEnv;
use serde_json::{Value, json};

const MANIFEST: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: yaml11
spec:
  replicas: 0x2
  selector:
    matchLabels: &selector {app: yaml11}
  template:
    metadata:
      labels:
        <<: [*selector, {tier: model}]
        track: stable
    spec:
      containers:
        - name: server
          image: registry.example/server:1.0
          stdin: yes
          tty: on
          volumeMounts:
            - {name: secret, mountPath: /secret}
      volumes:
        - name: secret
          secret:
            secretName: yaml11
            defaultMode: 0400
            items:
              - key: token
                path: token
                mode: 0440
";

#[tokio::test]
async fn manifests_reach_the_server_as_kubectl_sends_them() {
    let env = match TestEnv::start().await {
        Ok(Some(env)) => env,
        Ok(None) => return,
        Err(error) => panic!("could not start or reach the test API server: {error}"),
    };
    let namespace = env.create_namespace("cx-yaml").await.expect("namespace");
    let outcome = apply_and_read_back(&env, &namespace).await;
    env.delete_namespace(&namespace).await;
    let live = outcome.unwrap_or_else(|error| panic!("{error}"));

    let spec = &live["spec"];
    let pod = &spec["template"]["spec"];
    let volume = &pod["volumes"][0]["secret"];
    assert_eq!(volume["defaultMode"], json!(256), "defaultMode: 0400 is octal, as for kubectl");
    assert_eq!(volume["items"][0]["mode"], json!(288), "mode: 0440 is octal");
    assert_eq!(pod["containers"][0]["stdin"], json!(true), "stdin: yes is a boolean");
    assert_eq!(pod["containers"][0]["tty"], json!(true), "tty: on is a boolean");
    assert_eq!(spec["replicas"], json!(2), "replicas: 0x2 is hexadecimal");
    assert_eq!(
        spec["template"]["metadata"]["labels"],
        json!({"app": "yaml11", "tier": "model", "track": "stable"}),
        "the << merge key merges"
    );
}

/// Loads the manifest as an env's file, applies every object as a sync does, and returns the
/// live Deployment.
async fn apply_and_read_back(env: &TestEnv, namespace: &str) -> Result<Value, String> {
    let files =
        [SourceFile { path: "environments/dev/app.yaml".into(), contents: MANIFEST.into() }];
    let environment =
        Environment::from_files("dev", Some(&format!("namespace: {namespace}\n")), &files);
    if environment.has_errors() {
        return Err(format!("the manifest does not load: {:?}", environment.diagnostics));
    }
    let cluster = env.cluster().await?;
    let owner = Owner::of(&environment);
    for object in &environment.objects {
        let resource = cluster.resolve(&object.gvk).await.map_err(|e| e.to_string())?;
        let desired = desired_with_ownership(object, &owner);
        cluster
            .apply(&resource, &desired, &owner.apply_options(false, false))
            .await
            .map_err(|e| format!("apply {}: {e}", object.key))?;
    }
    let object = environment.objects.first().ok_or("no object loaded")?;
    let resource = cluster.resolve(&object.gvk).await.map_err(|e| e.to_string())?;
    cluster
        .get(&resource, Some(namespace), "yaml11")
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "the Deployment is not on the server".to_owned())
}
