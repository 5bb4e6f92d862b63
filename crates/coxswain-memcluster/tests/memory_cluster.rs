//! The in-memory API server follows the rules the engine relies on.

use coxswain_cluster::fieldset::{FieldSet, is_subset_object};
use coxswain_cluster::{
    ApplyOptions, Cluster, ClusterError, FieldConflict, Gvk, ObjectKey, Preconditions,
    ResourceType, WatchEvent,
};
use coxswain_memcluster::{FaultKind, MemoryCluster, RequestTarget, Verb};
use futures::{FutureExt, StreamExt};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn resource(cluster: &MemoryCluster, api_version: &str, kind: &str) -> ResourceType {
    match cluster.resolve(&Gvk::from_api_version(api_version, kind)).await {
        Ok(resource) => resource,
        Err(error) => panic!("{kind} resolves: {error}"),
    }
}

fn deployment(name: &str, image: &str, replicas: u32) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "dev", "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "server", "image": image, "ports": [{"containerPort": 8080}]}]}
            }
        }
    })
}

fn config_map(name: &str, labels: &Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "dev", "labels": labels},
        "data": {"k": "v"}
    })
}

fn apply_opts() -> ApplyOptions {
    ApplyOptions::coxswain(false, false)
}

fn as_manager(manager: &str, force: bool) -> ApplyOptions {
    ApplyOptions { field_manager: manager.to_owned(), force, dry_run: false }
}

fn key(group_kind: &str, namespace: Option<&str>, name: &str) -> ObjectKey {
    ObjectKey {
        group_kind: group_kind.to_owned(),
        namespace: namespace.map(str::to_owned),
        name: name.to_owned(),
    }
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object.pointer(pointer).and_then(Value::as_str).unwrap_or("<absent>")
}

fn rv(object: &Value) -> u64 {
    text(object, "/metadata/resourceVersion").parse().unwrap_or(0)
}

/// The fields `manager`'s entry with `operation` owns, in conflict format.
fn owned(object: &Value, manager: &str, operation: &str) -> Vec<String> {
    let entries = object.pointer("/metadata/managedFields").and_then(Value::as_array);
    entries
        .into_iter()
        .flatten()
        .filter(|e| e["manager"] == manager && e["operation"] == operation)
        .filter_map(|e| FieldSet::from_fields_v1(&e["fieldsV1"]).ok())
        .flat_map(|set| set.to_strings())
        .collect()
}

fn all_owned(object: &Value) -> Vec<String> {
    let entries = object.pointer("/metadata/managedFields").and_then(Value::as_array);
    entries
        .into_iter()
        .flatten()
        .filter_map(|e| FieldSet::from_fields_v1(&e["fieldsV1"]).ok())
        .flat_map(|set| set.to_strings())
        .collect()
}

#[tokio::test]
async fn discovery_knows_the_builtin_kinds_and_registered_ones() -> TestResult {
    let cluster = MemoryCluster::new();
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    assert_eq!((deployments.plural.as_str(), deployments.namespaced), ("deployments", true));
    let namespaces = resource(&cluster, "v1", "Namespace").await;
    assert!(!namespaces.namespaced);
    let hpa = resource(&cluster, "autoscaling/v2", "HorizontalPodAutoscaler").await;
    assert_eq!(hpa.plural, "horizontalpodautoscalers");

    let widget = Gvk::from_api_version("example.com/v1", "Widget");
    let error = cluster.resolve(&widget).await.expect_err("unknown kind");
    assert!(matches!(&error, ClusterError::UnknownKind { gvk } if gvk == "example.com/v1/Widget"));
    assert!(error.to_string().contains("is its CRD installed?"));

    cluster.register(ResourceType {
        gvk: widget.clone(),
        plural: "widgets".into(),
        namespaced: true,
    });
    assert_eq!(cluster.resolve(&widget).await?.plural, "widgets");
    Ok(())
}

#[tokio::test]
async fn creating_a_crd_serves_its_kind() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let crds = resource(&cluster, "apiextensions.k8s.io/v1", "CustomResourceDefinition").await;
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "inferenceservices.serving.kserve.io"},
        "spec": {
            "group": "serving.kserve.io",
            "scope": "Namespaced",
            "names": {"kind": "InferenceService", "plural": "inferenceservices"},
            "versions": [{"name": "v1beta1", "served": true, "storage": true}]
        }
    });
    let stored = cluster.apply(&crds, &crd, &apply_opts()).await?;
    assert_eq!(stored.pointer("/status/conditions/1/type"), Some(&json!("Established")));
    let isvc = resource(&cluster, "serving.kserve.io/v1beta1", "InferenceService").await;
    let object = json!({
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "iris", "namespace": "dev"},
        "spec": {"predictor": {"containers": [{"name": "kserve", "image": "iris:1"}]}}
    });
    let stored = cluster.apply(&isvc, &object, &apply_opts()).await?;
    // No schema: the list is one field.
    assert_eq!(owned(&stored, "coxswain", "Apply"), [".spec.predictor.containers"]);

    assert!(cluster.delete(&crds, None, "inferenceservices.serving.kserve.io", None).await?);
    assert!(
        cluster.object(&key("InferenceService.serving.kserve.io", Some("dev"), "iris")).is_none()
    );
    assert!(cluster.resolve(&isvc.gvk).await.is_err());
    Ok(())
}

#[tokio::test]
async fn namespaced_objects_need_their_namespace() -> TestResult {
    let cluster = MemoryCluster::new();
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    let error = cluster.apply(&config_maps, &config_map("a", &json!({})), &apply_opts()).await;
    match error {
        Err(ClusterError::NotFound { object }) => assert_eq!(object, key("Namespace", None, "dev")),
        other => panic!("expected the namespace to be missing, got {other:?}"),
    }
    assert!(cluster.objects().is_empty(), "new() creates no namespaces");

    cluster.add_namespace("dev");
    let stored = cluster.apply(&config_maps, &config_map("a", &json!({})), &apply_opts()).await?;
    assert_eq!(text(&stored, "/metadata/namespace"), "dev");

    let no_namespace = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}});
    let error = cluster.apply(&config_maps, &no_namespace, &apply_opts()).await.expect_err("422");
    assert!(
        matches!(error, ClusterError::Invalid { ref message, .. } if message == "metadata.namespace: Required value")
    );
    Ok(())
}

#[tokio::test]
async fn cluster_scoped_objects_ignore_the_namespace() -> TestResult {
    let cluster = MemoryCluster::new();
    let roles = resource(&cluster, "rbac.authorization.k8s.io/v1", "ClusterRole").await;
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "system:coxswain-reader", "namespace": "dev"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    });
    let stored = cluster.apply(&roles, &role, &apply_opts()).await?;
    assert_eq!(stored.pointer("/metadata/namespace"), None);
    let found = cluster.get(&roles, Some("elsewhere"), "system:coxswain-reader").await?;
    assert_eq!(found.as_ref().map(|o| text(o, "/metadata/name")), Some("system:coxswain-reader"));
    assert_eq!(cluster.list(&roles, Some("elsewhere"), None).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn every_write_gets_a_new_global_resource_version() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let start: u64 = cluster.resource_version().parse()?;
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    let a = cluster.apply(&config_maps, &config_map("a", &json!({})), &apply_opts()).await?;
    let b = cluster.apply(&config_maps, &config_map("b", &json!({})), &apply_opts()).await?;
    let a2 =
        cluster.apply(&config_maps, &config_map("a", &json!({"x": "1"})), &apply_opts()).await?;
    assert_eq!([rv(&a), rv(&b), rv(&a2)], [start + 1, start + 2, start + 3]);
    assert_eq!(text(&a, "/metadata/uid"), text(&a2, "/metadata/uid"));
    assert_ne!(text(&a, "/metadata/uid"), text(&b, "/metadata/uid"));
    assert_eq!(text(&a, "/metadata/creationTimestamp"), text(&a2, "/metadata/creationTimestamp"));
    assert!(text(&a, "/metadata/creationTimestamp").ends_with('Z'));
    assert!(cluster.delete(&config_maps, Some("dev"), "b", None).await?);
    assert_eq!(cluster.resource_version(), (start + 4).to_string());
    Ok(())
}

#[tokio::test]
async fn generation_counts_spec_changes_only() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    let first = cluster.apply(&deployments, &deployment("web", "web:1", 2), &apply_opts()).await?;
    assert_eq!(first.pointer("/metadata/generation"), Some(&json!(1)));

    let mut relabelled = deployment("web", "web:1", 2);
    relabelled["metadata"]["labels"]["team"] = json!("ml");
    let second = cluster.apply(&deployments, &relabelled, &apply_opts()).await?;
    assert_eq!(second.pointer("/metadata/generation"), Some(&json!(1)));
    assert!(rv(&second) > rv(&first));

    let mut scaled = relabelled.clone();
    scaled["spec"]["replicas"] = json!(3);
    let third = cluster.apply(&deployments, &scaled, &apply_opts()).await?;
    assert_eq!(third.pointer("/metadata/generation"), Some(&json!(2)));

    let again = cluster.apply(&deployments, &scaled, &apply_opts()).await?;
    assert_eq!(rv(&again), rv(&third), "an apply that changes nothing writes nothing");
    assert_eq!(again, third);
    Ok(())
}

#[tokio::test]
async fn invalid_objects_are_rejected_with_the_field() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    let mut no_selector = deployment("web", "web:1", 1);
    no_selector["spec"].as_object_mut().map(|s| s.shift_remove("selector"));
    let mut mismatched = deployment("web", "web:1", 1);
    mismatched["spec"]["selector"]["matchLabels"]["app"] = json!("other");
    let mut no_image = deployment("web", "web:1", 1);
    no_image["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .map(|c| c.shift_remove("image"));
    let mut no_name = deployment("web", "web:1", 1);
    no_name["metadata"].as_object_mut().map(|m| m.shift_remove("name"));
    let cases = [
        (no_selector, "spec.selector: Required value"),
        (
            mismatched,
            "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
        ),
        (no_image, "spec.template.spec.containers[0].image: Required value"),
        (
            deployment("Bad_Name", "x:1", 1),
            "metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain",
        ),
        (no_name, "metadata.name: Required value"),
    ];
    for (object, expected) in cases {
        match cluster.apply(&deployments, &object, &apply_opts()).await {
            Err(ClusterError::Invalid { message, causes, object }) => {
                assert!(message.starts_with(expected), "{message}\nexpected {expected}");
                assert!(causes.iter().any(|c| c.starts_with(expected)));
                assert_eq!(object.group_kind, "Deployment.apps");
            }
            other => panic!("expected 422 for {expected}, got {other:?}"),
        }
    }
    assert!(cluster.objects().iter().all(|o| o["kind"] == "Namespace"), "nothing was stored");

    let services = resource(&cluster, "v1", "Service").await;
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "9web", "namespace": "dev"}, "spec": {"ports": [{"port": 80}]}});
    let error = cluster.apply(&services, &service, &apply_opts()).await.expect_err("DNS-1035");
    assert!(
        error
            .to_string()
            .contains("Service dev/9web: rejected by the API server as invalid: metadata.name")
    );
    Ok(())
}

#[tokio::test]
async fn duplicate_merge_keys_are_rejected() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    let mut object = deployment("web", "web:1", 1);
    object["spec"]["template"]["spec"]["containers"] =
        json!([{"name": "a", "image": "x:1"}, {"name": "a", "image": "y:1"}]);
    let error = cluster.apply(&deployments, &object, &apply_opts()).await.expect_err("duplicate");
    assert!(
        error
            .to_string()
            .contains(".spec.template.spec.containers: duplicate entries for key [name=\"a\"]"),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn apply_conflicts_with_another_manager_and_names_field_and_manager() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    cluster
        .apply(&deployments, &deployment("web", "web:1", 3), &as_manager("kubectl", false))
        .await?;

    let mut ours = deployment("web", "web:2", 2);
    ours["metadata"]["labels"]["team"] = json!("ml");
    let error = cluster.apply(&deployments, &ours, &apply_opts()).await.expect_err("conflict");
    let ClusterError::Conflict { object, message, conflicts } = &error else {
        panic!("expected a conflict, got {error:?}");
    };
    assert_eq!(object, &key("Deployment.apps", Some("dev"), "web"));
    assert_eq!(
        conflicts,
        &[
            FieldConflict { field: ".spec.replicas".into(), manager: "kubectl".into() },
            FieldConflict {
                field: r#".spec.template.spec.containers[name="server"].image"#.into(),
                manager: "kubectl".into()
            },
        ]
    );
    assert_eq!(
        message,
        "Apply failed with 2 conflicts: conflicts with \"kubectl\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"server\"].image"
    );
    let live = cluster.object(&key("Deployment.apps", Some("dev"), "web")).unwrap_or_default();
    assert_eq!(live.pointer("/spec/replicas"), Some(&json!(3)), "a conflict changes nothing");

    // Same values as the other manager: no conflict, both own the fields.
    let shared = cluster.apply(&deployments, &deployment("web", "web:1", 3), &apply_opts()).await?;
    assert!(owned(&shared, "kubectl", "Apply").contains(&".spec.replicas".to_owned()));
    assert!(owned(&shared, "coxswain", "Apply").contains(&".spec.replicas".to_owned()));
    Ok(())
}

#[tokio::test]
async fn single_conflict_message_matches_the_server() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    cluster
        .apply(&deployments, &deployment("web", "web:1", 3), &as_manager("kubectl", false))
        .await?;
    let error = cluster
        .apply(&deployments, &deployment("web", "web:1", 2), &apply_opts())
        .await
        .expect_err("conflict");
    assert_eq!(
        error.to_string(),
        "Deployment.apps dev/web: conflict: Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas [.spec.replicas (owned by \"kubectl\")]; rerun with --force-conflicts to take ownership"
    );
    Ok(())
}

#[tokio::test]
async fn force_takes_ownership() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    cluster
        .apply(&deployments, &deployment("web", "web:1", 3), &as_manager("kubectl", false))
        .await?;
    let forced = cluster
        .apply(&deployments, &deployment("web", "web:1", 2), &ApplyOptions::coxswain(true, false))
        .await?;
    assert_eq!(forced.pointer("/spec/replicas"), Some(&json!(2)));
    assert!(owned(&forced, "coxswain", "Apply").contains(&".spec.replicas".to_owned()));
    assert!(!owned(&forced, "kubectl", "Apply").contains(&".spec.replicas".to_owned()));
    // kubectl still owns what it shares without conflict.
    let image = r#".spec.template.spec.containers[name="server"].image"#;
    assert!(owned(&forced, "kubectl", "Apply").iter().any(|f| f == image));
    // And kubectl now conflicts with us.
    let error = cluster
        .apply(&deployments, &deployment("web", "web:1", 5), &as_manager("kubectl", false))
        .await;
    assert!(
        matches!(error, Err(ClusterError::Conflict { conflicts, .. }) if conflicts[0].manager == "coxswain")
    );
    Ok(())
}

#[tokio::test]
async fn updates_by_controllers_conflict_with_their_manager_description() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    let applied =
        cluster.apply(&deployments, &deployment("web", "web:1", 2), &apply_opts()).await?;
    let mut scaled = applied.clone();
    scaled["spec"]["replicas"] = json!(7);
    let updated = cluster.update_as("kube-controller-manager", &deployments, &scaled)?;
    assert_eq!(owned(&updated, "kube-controller-manager", "Update"), [".spec.replicas"]);
    assert!(!owned(&updated, "coxswain", "Apply").contains(&".spec.replicas".to_owned()));

    let error = cluster
        .apply(&deployments, &deployment("web", "web:1", 2), &apply_opts())
        .await
        .expect_err("conflict");
    let ClusterError::Conflict { message, conflicts, .. } = error else {
        panic!("conflict expected")
    };
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"kube-controller-manager\" using apps/v1: .spec.replicas"
    );
    assert_eq!(conflicts[0].manager, "kube-controller-manager");
    // Leaving replicas out of the config leaves the controller's value alone.
    let mut without = deployment("web", "web:1", 2);
    without["spec"].as_object_mut().map(|s| s.shift_remove("replicas"));
    let live = cluster.apply(&deployments, &without, &apply_opts()).await?;
    assert_eq!(live.pointer("/spec/replicas"), Some(&json!(7)));
    Ok(())
}

#[tokio::test]
async fn fields_left_out_of_the_config_are_removed() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    let mut first = deployment("web", "web:1", 2);
    first["metadata"]["labels"]["tier"] = json!("front");
    first["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]);
    if let Some(containers) = first["spec"]["template"]["spec"]["containers"].as_array_mut() {
        containers.push(json!({"name": "sidecar", "image": "envoy:1"}));
    }
    cluster.apply(&deployments, &first, &apply_opts()).await?;

    let mut second = deployment("web", "web:1", 2);
    second["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "B", "value": "2"}]);
    let live = cluster.apply(&deployments, &second, &apply_opts()).await?;
    assert_eq!(live.pointer("/metadata/labels/tier"), None);
    assert_eq!(
        live.pointer("/spec/template/spec/containers/0/env"),
        Some(&json!([{"name": "B", "value": "2"}]))
    );
    let containers = live
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    assert_eq!(containers, 1, "the sidecar left the config and the object");
    // Defaults of the removed container went with it; defaults of the kept one stay.
    assert_eq!(text(&live, "/spec/template/spec/containers/0/imagePullPolicy"), "IfNotPresent");

    // Removing all env vars drops the list itself.
    let live = cluster.apply(&deployments, &deployment("web", "web:1", 2), &apply_opts()).await?;
    assert_eq!(live.pointer("/spec/template/spec/containers/0/env"), None);
    Ok(())
}

#[tokio::test]
async fn fields_another_manager_owns_survive_removal() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    cluster
        .apply(&config_maps, &config_map("c", &json!({"a": "1", "b": "2"})), &apply_opts())
        .await?;
    cluster
        .apply(&config_maps, &config_map("c", &json!({"b": "2"})), &as_manager("kubectl", false))
        .await?;
    let mut unlabelled = config_map("c", &json!({}));
    unlabelled["metadata"].as_object_mut().map(|m| m.shift_remove("labels"));
    let live = cluster.apply(&config_maps, &unlabelled, &apply_opts()).await?;
    assert_eq!(live.pointer("/metadata/labels"), Some(&json!({"b": "2"})));
    assert!(!owned(&live, "coxswain", "Apply").iter().any(|f| f.starts_with(".metadata.labels")));
    Ok(())
}

#[tokio::test]
async fn keyed_lists_merge_by_key_across_managers() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    cluster.apply(&deployments, &deployment("web", "web:1", 2), &apply_opts()).await?;
    let injector = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "dev"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "server", "env": [{"name": "PROXY", "value": "on"}]},
            {"name": "istio-proxy", "image": "istio/proxyv2:1.22"}
        ]}}}
    });
    cluster.apply(&deployments, &injector, &as_manager("istio", false)).await?;
    let live = cluster.apply(&deployments, &deployment("web", "web:2", 2), &apply_opts()).await?;
    let containers = live.pointer("/spec/template/spec/containers").cloned().unwrap_or_default();
    assert_eq!(containers[0]["name"], "server");
    assert_eq!(containers[0]["image"], "web:2");
    assert_eq!(containers[0]["env"], json!([{"name": "PROXY", "value": "on"}]));
    assert_eq!(containers[1]["name"], "istio-proxy");
    assert_eq!(
        owned(&live, "istio", "Apply"),
        [
            r#".spec.template.spec.containers[name="istio-proxy"]"#,
            r#".spec.template.spec.containers[name="istio-proxy"].image"#,
            r#".spec.template.spec.containers[name="istio-proxy"].name"#,
            r#".spec.template.spec.containers[name="server"]"#,
            r#".spec.template.spec.containers[name="server"].env[name="PROXY"]"#,
            r#".spec.template.spec.containers[name="server"].env[name="PROXY"].name"#,
            r#".spec.template.spec.containers[name="server"].env[name="PROXY"].value"#,
            r#".spec.template.spec.containers[name="server"].name"#,
        ]
    );
    Ok(())
}

#[tokio::test]
async fn defaults_are_present_but_owned_by_nobody() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    let desired = deployment("web", "web:latest", 2);
    let live = cluster.apply(&deployments, &desired, &apply_opts()).await?;
    for (pointer, value) in [
        (
            "/spec/strategy",
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
        ),
        ("/spec/revisionHistoryLimit", json!(10)),
        ("/spec/progressDeadlineSeconds", json!(600)),
        ("/spec/template/spec/restartPolicy", json!("Always")),
        ("/spec/template/spec/dnsPolicy", json!("ClusterFirst")),
        ("/spec/template/spec/schedulerName", json!("default-scheduler")),
        ("/spec/template/spec/terminationGracePeriodSeconds", json!(30)),
        ("/spec/template/spec/securityContext", json!({})),
        ("/spec/template/spec/containers/0/imagePullPolicy", json!("Always")),
        ("/spec/template/spec/containers/0/terminationMessagePath", json!("/dev/termination-log")),
        ("/spec/template/spec/containers/0/terminationMessagePolicy", json!("File")),
        ("/spec/template/spec/containers/0/ports/0/protocol", json!("TCP")),
    ] {
        assert_eq!(live.pointer(pointer), Some(&value), "{pointer}");
    }
    let owned = all_owned(&live);
    assert_eq!(
        owned,
        FieldSet::from_object(&desired).to_strings(),
        "exactly the applied fields are owned"
    );
    assert!(is_subset_object(&desired, &live));
    assert!(!is_subset_object(&live, &desired), "the live object has more than we set");

    // Another manager setting a defaulted field to another value does not conflict.
    let mut other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "dev"}});
    other["spec"] = json!({"revisionHistoryLimit": 3});
    let live = cluster.apply(&deployments, &other, &as_manager("kubectl", false)).await?;
    assert_eq!(live.pointer("/spec/revisionHistoryLimit"), Some(&json!(3)));
    Ok(())
}

#[tokio::test]
async fn services_get_addresses_and_port_defaults() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let services = resource(&cluster, "v1", "Service").await;
    let service = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "dev"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}
    });
    let live = cluster.apply(&services, &service, &apply_opts()).await?;
    let ip = text(&live, "/spec/clusterIP").to_owned();
    assert!(ip.starts_with("10."), "{ip}");
    let second_octet: u8 = ip.split('.').nth(1).and_then(|o| o.parse().ok()).unwrap_or(0);
    assert!((96..112).contains(&second_octet), "{ip} is inside 10.96.0.0/12");
    assert_eq!(live.pointer("/spec/clusterIPs"), Some(&json!([ip])));
    assert_eq!(live.pointer("/spec/type"), Some(&json!("ClusterIP")));
    assert_eq!(live.pointer("/spec/sessionAffinity"), Some(&json!("None")));
    assert_eq!(live.pointer("/spec/ipFamilies"), Some(&json!(["IPv4"])));
    assert_eq!(
        live.pointer("/spec/ports/0"),
        Some(&json!({"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}))
    );
    assert_eq!(
        owned(&live, "coxswain", "Apply"),
        [
            r#".spec.ports[port=80,protocol="TCP"]"#,
            r#".spec.ports[port=80,protocol="TCP"].name"#,
            r#".spec.ports[port=80,protocol="TCP"].port"#,
            ".spec.selector",
        ]
    );
    let again = cluster.apply(&services, &service, &apply_opts()).await?;
    assert_eq!(text(&again, "/spec/clusterIP"), ip, "the address stays");

    // Same name elsewhere, fresh cluster: same address (order-independent allocation).
    let other = MemoryCluster::new().with_namespace("dev");
    let live = other.apply(&services, &service, &apply_opts()).await?;
    assert_eq!(text(&live, "/spec/clusterIP"), ip);
    Ok(())
}

#[tokio::test]
async fn secrets_fold_string_data_into_data() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let secrets = resource(&cluster, "v1", "Secret").await;
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "dev"}, "stringData": {"token": "hunter2"}});
    let live = cluster.apply(&secrets, &secret, &apply_opts()).await?;
    assert_eq!(live.get("data"), Some(&json!({"token": "aHVudGVyMg=="})));
    assert_eq!(live.get("stringData"), None);
    assert_eq!(live.get("type"), Some(&json!("Opaque")));
    assert!(!is_subset_object(&secret, &live), "write-only fields never read back");
    Ok(())
}

#[tokio::test]
async fn dry_run_persists_nothing() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    let before = cluster.resource_version();
    let mut events = cluster.watch(&deployments, None, None, None).await?;
    let preview = cluster
        .apply(&deployments, &deployment("web", "web:1", 2), &ApplyOptions::coxswain(false, true))
        .await?;
    assert_eq!(
        preview.pointer("/spec/revisionHistoryLimit"),
        Some(&json!(10)),
        "defaults are shown"
    );
    assert_eq!(preview.pointer("/metadata/resourceVersion"), None);
    assert!(preview.get("status").is_none(), "no controller ran");
    assert_eq!(cluster.resource_version(), before);
    assert!(cluster.get(&deployments, Some("dev"), "web").await?.is_none());
    assert!(events.next().now_or_never().is_none(), "a dry run is not an event");

    let live = cluster.apply(&deployments, &deployment("web", "web:1", 2), &apply_opts()).await?;
    let preview = cluster
        .apply(&deployments, &deployment("web", "web:2", 2), &ApplyOptions::coxswain(false, true))
        .await?;
    assert_eq!(text(&preview, "/spec/template/spec/containers/0/image"), "web:2");
    assert_eq!(preview.pointer("/metadata/generation"), Some(&json!(2)));
    assert_eq!(rv(&preview), rv(&live));
    let stored = cluster.get(&deployments, Some("dev"), "web").await?.unwrap_or_default();
    assert_eq!(stored, live);
    assert_eq!(cluster.requests().get(Verb::ApplyDryRun), 2);
    Ok(())
}

#[tokio::test]
async fn apply_with_a_resource_version_is_a_precondition() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    let live = cluster.apply(&config_maps, &config_map("c", &json!({})), &apply_opts()).await?;
    let mut body = config_map("c", &json!({"v": "2"}));
    body["metadata"]["resourceVersion"] = json!("999");
    let error = cluster.apply(&config_maps, &body, &apply_opts()).await.expect_err("stale");
    let ClusterError::Conflict { message, conflicts, .. } = error else { panic!("409 expected") };
    assert!(conflicts.is_empty());
    assert!(
        message.contains(
            "Operation cannot be fulfilled on configmaps \"c\": the object has been modified"
        ),
        "{message}"
    );
    body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"].clone();
    let applied = cluster.apply(&config_maps, &body, &apply_opts()).await?;
    assert_eq!(applied.pointer("/metadata/labels/v"), Some(&json!("2")));
    Ok(())
}

#[tokio::test]
async fn status_is_not_writable_through_apply() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    cluster.set_auto_ready(false);
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    let mut body = deployment("web", "web:1", 2);
    body["status"] = json!({"readyReplicas": 2, "availableReplicas": 2});
    let live = cluster.apply(&deployments, &body, &apply_opts()).await?;
    assert_eq!(live.pointer("/status/readyReplicas"), None);
    assert!(!all_owned(&live).iter().any(|f| f.starts_with(".status")));
    Ok(())
}

#[tokio::test]
async fn rollouts_complete_at_once_or_wait() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    let live = cluster.apply(&deployments, &deployment("web", "web:1", 3), &apply_opts()).await?;
    assert_eq!(live["status"]["observedGeneration"], 1);
    for field in ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas"] {
        assert_eq!(live["status"][field], 3, "{field}");
    }

    cluster.set_auto_ready(false);
    let live = cluster.apply(&deployments, &deployment("web", "web:2", 3), &apply_opts()).await?;
    assert_eq!(live["metadata"]["generation"], 2);
    assert_eq!(live["status"]["observedGeneration"], 1, "the controller has not caught up");
    let fresh = cluster.apply(&deployments, &deployment("api", "api:1", 2), &apply_opts()).await?;
    assert_eq!(fresh["status"]["readyReplicas"], Value::Null);
    assert_eq!(fresh["status"]["unavailableReplicas"], 2);

    cluster.set_auto_ready(true);
    let web = cluster.object(&key("Deployment.apps", Some("dev"), "web")).unwrap_or_default();
    assert_eq!(web["status"]["observedGeneration"], 2);
    assert_eq!(web["status"]["readyReplicas"], 3);

    let status = json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 1});
    let set = cluster.set_status(&key("Deployment.apps", Some("dev"), "web"), status.clone())?;
    assert_eq!(set["status"], status);
    assert!(rv(&set) > rv(&web));
    assert!(cluster.set_status(&key("Deployment.apps", Some("dev"), "nope"), json!({})).is_err());
    Ok(())
}

#[tokio::test]
async fn jobs_complete_and_claims_bind() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let jobs = resource(&cluster, "batch/v1", "Job").await;
    let job = json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "dev"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "m:1"}]}}}
    });
    let live = cluster.apply(&jobs, &job, &apply_opts()).await?;
    assert_eq!(live.pointer("/status/conditions/0/type"), Some(&json!("Complete")));
    assert_eq!(text(&live, "/spec/template/metadata/labels/job-name"), "migrate");
    let mut changed = job.clone();
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("m:2");
    let error = cluster.apply(&jobs, &changed, &apply_opts()).await.expect_err("immutable");
    assert!(error.to_string().contains("spec.template: Invalid value"), "{error}");

    let mut always = job.clone();
    always["metadata"]["name"] = json!("other");
    always["spec"]["template"]["spec"].as_object_mut().map(|s| s.shift_remove("restartPolicy"));
    let error = cluster.apply(&jobs, &always, &apply_opts()).await.expect_err("restartPolicy");
    assert!(error.to_string().contains(r#"restartPolicy: Unsupported value: "Always""#), "{error}");

    let claims = resource(&cluster, "v1", "PersistentVolumeClaim").await;
    let claim = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "models", "namespace": "dev"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    });
    let live = cluster.apply(&claims, &claim, &apply_opts()).await?;
    assert_eq!(live.pointer("/status/phase"), Some(&json!("Bound")));
    Ok(())
}

#[tokio::test]
async fn selectors_are_immutable() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    cluster.apply(&deployments, &deployment("web", "web:1", 1), &apply_opts()).await?;
    let mut moved = deployment("web", "web:1", 1);
    moved["spec"]["selector"] = json!({"matchLabels": {"app": "web", "v": "2"}});
    moved["spec"]["template"]["metadata"]["labels"]["v"] = json!("2");
    let error = cluster.apply(&deployments, &moved, &apply_opts()).await.expect_err("immutable");
    assert!(error.to_string().contains("spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"v\":\"2\"}}: field is immutable"), "{error}");
    Ok(())
}

#[tokio::test]
async fn create_replace_get_delete() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("coxswain");
    let leases = resource(&cluster, "coordination.k8s.io/v1", "Lease").await;
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "env-dev", "namespace": "coxswain"},
        "spec": {"holderIdentity": "alice", "leaseDurationSeconds": 60}
    });
    let created = cluster.create(&leases, &lease).await?;
    assert!(matches!(
        cluster.create(&leases, &lease).await,
        Err(ClusterError::AlreadyExists { .. })
    ));
    assert_eq!(
        owned(&created, "coxswain", "Update"),
        [".spec.holderIdentity", ".spec.leaseDurationSeconds"]
    );

    let mut taken = created.clone();
    taken["spec"]["holderIdentity"] = json!("bob");
    let replaced = cluster.replace(&leases, &taken).await?;
    assert_eq!(text(&replaced, "/spec/holderIdentity"), "bob");

    // Alice's compare-and-swap with her old version loses.
    let mut stale = created.clone();
    stale["spec"]["holderIdentity"] = json!("alice-again");
    let error = cluster.replace(&leases, &stale).await.expect_err("stale");
    assert!(
        matches!(&error, ClusterError::Conflict { message, .. }
        if message.contains("Operation cannot be fulfilled on leases.coordination.k8s.io \"env-dev\"")),
        "{error}"
    );

    let mut missing = lease.clone();
    missing["metadata"]["name"] = json!("nope");
    assert!(matches!(cluster.replace(&leases, &missing).await, Err(ClusterError::NotFound { .. })));

    let got = cluster.get(&leases, Some("coxswain"), "env-dev").await?;
    assert_eq!(got.as_ref().map(|o| text(o, "/spec/holderIdentity")), Some("bob"));
    assert!(cluster.get(&leases, Some("coxswain"), "nope").await?.is_none());
    assert!(cluster.delete(&leases, Some("coxswain"), "env-dev", None).await?);
    assert!(!cluster.delete(&leases, Some("coxswain"), "env-dev", None).await?);
    assert!(cluster.get(&leases, Some("coxswain"), "env-dev").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_objects() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev").with_namespace("prod");
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    let namespaces = resource(&cluster, "v1", "Namespace").await;
    cluster.apply(&config_maps, &config_map("a", &json!({})), &apply_opts()).await?;
    let mut prod = config_map("a", &json!({}));
    prod["metadata"]["namespace"] = json!("prod");
    cluster.apply(&config_maps, &prod, &apply_opts()).await?;
    assert!(cluster.delete(&namespaces, None, "dev", None).await?);
    let left = cluster.list(&config_maps, None, None).await?;
    assert_eq!(left.iter().map(|o| text(o, "/metadata/namespace")).collect::<Vec<_>>(), ["prod"]);
    Ok(())
}

#[tokio::test]
async fn list_filters_by_namespace_and_label_selector() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev").with_namespace("prod");
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    let owned_labels =
        json!({"app.kubernetes.io/managed-by": "coxswain", "coxswain.dev/env": "dev"});
    cluster.apply(&config_maps, &config_map("a", &owned_labels.clone()), &apply_opts()).await?;
    cluster
        .apply(
            &config_maps,
            &config_map("b", &json!({"app.kubernetes.io/managed-by": "helm"})),
            &apply_opts(),
        )
        .await?;
    cluster.apply(&config_maps, &config_map("c", &json!({})), &apply_opts()).await?;
    let mut elsewhere = config_map("d", &owned_labels);
    elsewhere["metadata"]["namespace"] = json!("prod");
    cluster.apply(&config_maps, &elsewhere, &apply_opts()).await?;

    let names = |objects: Vec<Value>| {
        objects.iter().map(|o| text(o, "/metadata/name").to_owned()).collect::<Vec<_>>()
    };
    let cases = [
        (Some("dev"), None, vec!["a", "b", "c"]),
        (None, None, vec!["a", "b", "c", "d"]),
        (
            Some("dev"),
            Some("app.kubernetes.io/managed-by=coxswain,coxswain.dev/env=dev"),
            vec!["a"],
        ),
        (None, Some("app.kubernetes.io/managed-by==coxswain"), vec!["a", "d"]),
        (Some("dev"), Some("app.kubernetes.io/managed-by!=coxswain"), vec!["b", "c"]),
        (Some("dev"), Some("app.kubernetes.io/managed-by"), vec!["a", "b"]),
        (Some("dev"), Some("!app.kubernetes.io/managed-by"), vec!["c"]),
        (Some("dev"), Some("app.kubernetes.io/managed-by in (helm, kustomize)"), vec!["b"]),
    ];
    for (namespace, selector, expected) in cases {
        let listed = names(cluster.list(&config_maps, namespace, selector).await?);
        assert_eq!(listed, expected, "{namespace:?} {selector:?}");
    }
    let error =
        cluster.list(&config_maps, Some("dev"), Some("a in (b")).await.expect_err("bad selector");
    assert!(error.to_string().contains("unable to parse requirement"), "{error}");
    Ok(())
}

async fn next(
    stream: &mut futures::stream::BoxStream<'static, Result<WatchEvent, ClusterError>>,
) -> (String, String) {
    match stream.next().await {
        Some(Ok(WatchEvent::Added(o))) => ("Added".into(), text(&o, "/metadata/name").into()),
        Some(Ok(WatchEvent::Modified(o))) => ("Modified".into(), text(&o, "/metadata/name").into()),
        Some(Ok(WatchEvent::Deleted(o))) => ("Deleted".into(), text(&o, "/metadata/name").into()),
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_streams_events_after_a_resource_version() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    let start = cluster.resource_version();
    let mut all = cluster.watch(&config_maps, Some("dev"), None, Some(&start)).await?;
    let mut selected = cluster.watch(&config_maps, Some("dev"), Some("watched=yes"), None).await?;

    cluster.apply(&config_maps, &config_map("a", &json!({})), &apply_opts()).await?;
    cluster.apply(&deployments, &deployment("web", "web:1", 1), &apply_opts()).await?;
    cluster
        .apply(&config_maps, &config_map("a", &json!({"watched": "yes"})), &apply_opts())
        .await?;
    cluster
        .apply(&config_maps, &config_map("a", &json!({"watched": "yes", "x": "1"})), &apply_opts())
        .await?;
    cluster.apply(&config_maps, &config_map("a", &json!({})), &apply_opts()).await?;
    cluster.delete(&config_maps, Some("dev"), "a", None).await?;

    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(next(&mut all).await);
    }
    let expected =
        [("Added", "a"), ("Modified", "a"), ("Modified", "a"), ("Modified", "a"), ("Deleted", "a")];
    assert_eq!(seen, expected.map(|(k, n)| (k.to_owned(), n.to_owned())));
    let mut selected_seen = Vec::new();
    for _ in 0..3 {
        selected_seen.push(next(&mut selected).await);
    }
    let expected = [("Added", "a"), ("Modified", "a"), ("Deleted", "a")];
    assert_eq!(
        selected_seen,
        expected.map(|(k, n)| (k.to_owned(), n.to_owned())),
        "entering and leaving the selection"
    );

    // Resuming from the start replays the history.
    let mut replay = cluster.watch(&config_maps, None, None, Some(&start)).await?;
    assert_eq!(next(&mut replay).await, ("Added".to_owned(), "a".to_owned()));

    cluster.compact_history();
    let error = cluster.watch(&config_maps, None, None, Some(&start)).await.err();
    assert!(error.is_some_and(|e| e.to_string().contains("too old resource version")));
    Ok(())
}

#[tokio::test]
async fn requests_are_counted_and_logged_in_order() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    cluster.reset_counters();
    cluster.list(&config_maps, Some("dev"), None).await?;
    cluster.get(&config_maps, Some("dev"), "a").await?;
    cluster
        .apply(&config_maps, &config_map("a", &json!({})), &ApplyOptions::coxswain(false, true))
        .await?;
    cluster.apply(&config_maps, &config_map("a", &json!({})), &apply_opts()).await?;
    cluster.delete(&config_maps, Some("dev"), "a", None).await?;
    let counts = cluster.requests();
    assert_eq!(counts.to_string(), "list=1 get=1 apply=1 apply_dry_run=1 delete=1");
    assert_eq!((counts.get(Verb::Apply), counts.writes(), counts.total()), (1, 2, 5));
    let log: Vec<String> = cluster.request_log().iter().map(ToString::to_string).collect();
    assert_eq!(
        log,
        [
            "list ConfigMap in dev",
            "get ConfigMap dev/a",
            "apply_dry_run ConfigMap dev/a",
            "apply ConfigMap dev/a",
            "delete ConfigMap dev/a",
        ]
    );
    assert!(matches!(&cluster.request_log()[1].target, RequestTarget::Object(k) if k.name == "a"));
    cluster.reset_counters();
    assert_eq!(cluster.requests().total(), 0);
    assert!(cluster.request_log().is_empty());
    Ok(())
}

#[tokio::test]
async fn writes_fail_after_the_kth() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    cluster.fail_after_writes(1, FaultKind::ConnectionDrop);
    cluster.apply(&config_maps, &config_map("a", &json!({})), &apply_opts()).await?;
    cluster
        .apply(&config_maps, &config_map("b", &json!({})), &ApplyOptions::coxswain(false, true))
        .await?;
    let error = cluster
        .apply(&config_maps, &config_map("b", &json!({})), &apply_opts())
        .await
        .expect_err("dropped");
    assert!(matches!(&error, ClusterError::Unreachable { .. }) && error.is_transient(), "{error}");
    assert!(
        cluster.get(&config_maps, Some("dev"), "b").await?.is_none(),
        "reads still work, nothing was written"
    );
    assert!(cluster.delete(&config_maps, Some("dev"), "a", None).await.is_err());

    cluster.fail_after_writes(0, FaultKind::DropAfterCommit);
    let error = cluster.apply(&config_maps, &config_map("c", &json!({})), &apply_opts()).await;
    assert!(matches!(error, Err(ClusterError::Unreachable { .. })));
    assert!(cluster.get(&config_maps, Some("dev"), "c").await?.is_some(), "the write happened");

    cluster.fail_after_writes(
        0,
        FaultKind::error(|request| ClusterError::Forbidden {
            target: request.target.to_string(),
            message: "admission webhook denied".into(),
        }),
    );
    let error = cluster
        .apply(&config_maps, &config_map("d", &json!({})), &apply_opts())
        .await
        .expect_err("denied");
    assert_eq!(error.to_string(), "ConfigMap dev/d: forbidden (403): admission webhook denied");

    cluster.clear_faults();
    cluster.apply(&config_maps, &config_map("d", &json!({})), &apply_opts()).await?;
    Ok(())
}

#[tokio::test]
async fn the_next_request_of_a_verb_fails_once() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    cluster.fail_next(Verb::List, ClusterError::TooManyRequests { target: "configmaps".into() });
    cluster.get(&config_maps, Some("dev"), "a").await?;
    assert!(matches!(
        cluster.list(&config_maps, None, None).await,
        Err(ClusterError::TooManyRequests { .. })
    ));
    assert!(cluster.list(&config_maps, None, None).await.is_ok());
    assert_eq!(cluster.requests().get(Verb::List), 2, "failed requests count too");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_share_state_across_threads() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let cluster = cluster.clone();
            let config_maps = config_maps.clone();
            tokio::spawn(async move {
                cluster
                    .apply(&config_maps, &config_map(&format!("cm-{i}"), &json!({})), &apply_opts())
                    .await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(rv(&task.await??));
    }
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), 16, "every write got its own resourceVersion");
    assert_eq!(cluster.list(&config_maps, Some("dev"), None).await?.len(), 16);
    assert_eq!(cluster.requests().get(Verb::Apply), 16);
    Ok(())
}

#[tokio::test]
async fn a_stored_deployment_looks_like_the_api_servers() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    let mut desired = deployment("iris-server", "ghcr.io/acme/iris:1.1.0", 2);
    desired["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"limits": {"cpu": 0.5}});
    let live = cluster.apply(&deployments, &desired, &apply_opts()).await?;
    insta::assert_yaml_snapshot!(live);
    Ok(())
}

#[tokio::test]
async fn forbidden_updates_are_refused() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let sets = resource(&cluster, "apps/v1", "StatefulSet").await;
    let claim = |size: &str| json!([{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}]);
    let mut set = deployment("db", "postgres:16", 1);
    set["kind"] = json!("StatefulSet");
    set["spec"]["serviceName"] = json!("db");
    set["spec"]["volumeClaimTemplates"] = claim("1Gi");
    let live = cluster.apply(&sets, &set, &apply_opts()).await?;
    assert_eq!(text(&live, "/spec/volumeClaimTemplates/0/spec/volumeMode"), "Filesystem");
    set["spec"]["replicas"] = json!(3);
    cluster.apply(&sets, &set, &apply_opts()).await?;
    set["spec"]["volumeClaimTemplates"] = claim("2Gi");
    let error = cluster.apply(&sets, &set, &apply_opts()).await.expect_err("forbidden");
    assert!(
        error
            .to_string()
            .contains("spec: Forbidden: updates to statefulset spec for fields other than"),
        "{error}"
    );

    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    let mut frozen = config_map("frozen", &json!({}));
    frozen["immutable"] = json!(true);
    cluster.apply(&config_maps, &frozen, &apply_opts()).await?;
    frozen["data"]["k"] = json!("changed");
    let error = cluster.apply(&config_maps, &frozen, &apply_opts()).await.expect_err("immutable");
    assert!(
        error.to_string().contains("data: Forbidden: field is immutable when `immutable` is set"),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn replace_keeps_status_and_records_an_update() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    let live = cluster.apply(&deployments, &deployment("web", "web:1", 2), &apply_opts()).await?;
    let mut edited = live.clone();
    edited["metadata"].as_object_mut().map(|m| m.shift_remove("managedFields"));
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("web:hotfix");
    edited["status"] = json!({"readyReplicas": 99});
    let replaced = cluster.update_as("kubectl-edit", &deployments, &edited)?;
    assert_eq!(replaced["status"]["readyReplicas"], 2, "PUT on the main resource ignores status");
    assert_eq!(
        owned(&replaced, "kubectl-edit", "Update"),
        [r#".spec.template.spec.containers[name="server"].image"#]
    );
    assert!(!owned(&replaced, "coxswain", "Apply").iter().any(|f| f.ends_with("].image")));
    assert_eq!(replaced["metadata"]["generation"], 2);
    Ok(())
}

/// kube-apiserver v1.28 stores `requests: {cpu: 1, memory: 1024Mi}` as `{cpu: "1", memory: 1Gi}`
/// (seen in `tests/envtest_engine.rs`); the double must too, or the engine's "unchanged" test
/// passes here and costs dry-runs against a real server.
#[tokio::test]
async fn quantities_are_stored_canonically() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let deployments = resource(&cluster, "apps/v1", "Deployment").await;
    let mut desired = deployment("quantities", "example.invalid/q:1", 1);
    desired["spec"]["template"]["spec"]["containers"][0]["resources"] = json!({
        "requests": {"cpu": 1, "memory": "1024Mi", "ephemeral-storage": 1e9},
        "limits": {"cpu": "2000m", "memory": "2.5Gi"}});
    let live = cluster.apply(&deployments, &desired, &apply_opts()).await?;
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["resources"],
        json!({"requests": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1G"},
            "limits": {"cpu": "2", "memory": "2560Mi"}})
    );
    // The manifest's spelling is still "the same" to the engine's local comparison.
    assert!(is_subset_object(&desired, &live));
    // A ConfigMap value that looks like a quantity is data, stored as written.
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    let mut config = config_map("limits", &json!({}));
    config["data"] = json!({"memory": "1024Mi"});
    let stored = cluster.apply(&config_maps, &config, &apply_opts()).await?;
    assert_eq!(stored["data"]["memory"], json!("1024Mi"));
    Ok(())
}

/// Single objects (GET, apply) come `kind` first as kube-apiserver sends them; LIST items come
/// `apiVersion` first, as the real adapter fills them in. Diffs must not depend on the order.
#[tokio::test]
async fn responses_have_the_real_servers_key_order() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    let applied = cluster.apply(&config_maps, &config_map("a", &json!({})), &apply_opts()).await?;
    let leading = |object: &Value| -> Vec<String> {
        object.as_object().map(|m| m.keys().take(3).cloned().collect()).unwrap_or_default()
    };
    assert_eq!(leading(&applied), ["kind", "apiVersion", "metadata"]);
    let got = cluster.get(&config_maps, Some("dev"), "a").await?.ok_or("a is gone")?;
    assert_eq!(leading(&got), ["kind", "apiVersion", "metadata"]);
    let listed = cluster.list(&config_maps, Some("dev"), None).await?;
    assert_eq!(
        listed.iter().map(leading).collect::<Vec<_>>(),
        [["apiVersion", "kind", "metadata"]]
    );
    Ok(())
}

/// A DELETE with preconditions is refused with 409, as the API server does, when the object was
/// re-created (another uid) or changed (another resourceVersion); the current ones delete it.
#[tokio::test]
async fn delete_preconditions_refuse_a_recreated_or_changed_object() -> TestResult {
    let cluster = MemoryCluster::new().with_namespace("dev");
    let config_maps = resource(&cluster, "v1", "ConfigMap").await;
    let first = cluster.apply(&config_maps, &config_map("a", &json!({})), &apply_opts()).await?;
    let planned = Preconditions::of(&first);
    cluster.delete(&config_maps, Some("dev"), "a", None).await?;
    let second = cluster.apply(&config_maps, &config_map("a", &json!({})), &apply_opts()).await?;
    let refused = cluster.delete(&config_maps, Some("dev"), "a", Some(&planned)).await;
    let Err(ClusterError::Conflict { message, .. }) = refused else {
        panic!("expected a conflict, got {refused:?}");
    };
    assert!(message.contains("the UID in the precondition"), "{message}");
    let changed = cluster
        .apply(&config_maps, &config_map("a", &json!({"changed": "yes"})), &apply_opts())
        .await?;
    let stale = Preconditions::of(&second);
    let refused = cluster.delete(&config_maps, Some("dev"), "a", Some(&stale)).await;
    let Err(ClusterError::Conflict { message, .. }) = refused else {
        panic!("expected a conflict, got {refused:?}");
    };
    assert!(message.contains("the ResourceVersion in the precondition"), "{message}");
    assert!(
        cluster.delete(&config_maps, Some("dev"), "a", Some(&Preconditions::of(&changed))).await?
    );
    // Gone: preconditions do not matter any more.
    assert!(!cluster.delete(&config_maps, Some("dev"), "a", Some(&planned)).await?);
    Ok(())
}
