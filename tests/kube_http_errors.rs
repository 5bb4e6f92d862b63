//! The real adapter against a scripted HTTP server: every API answer maps to the right typed
//! error, retries are bounded, and requests carry the query, headers and body the API expects.

#[path = "support/mock_apiserver.rs"]
mod mock_apiserver;

use coxswain::cluster::kube_api::{KubeCluster, RetryPolicy};
use coxswain::cluster::{ApplyOptions, Cluster, ClusterError, FieldConflict, Gvk, ResourceType};
use coxswain::cluster::{ObjectKey, WatchEvent};
use futures::StreamExt;
use mock_apiserver::{MockApiServer, Reply};
use serde_json::{Value, json};
use std::time::Duration;

const DEPLOYMENT_PATH: &str = "/apis/apps/v1/namespaces/dev/deployments/iris";
const DEPLOYMENTS_PATH: &str = "/apis/apps/v1/namespaces/dev/deployments";

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

fn cluster_at(url: &str) -> KubeCluster {
    let uri = url.parse().expect("test URL parses");
    KubeCluster::from_config(kube::Config::new(uri))
        .expect("client builds")
        .with_retry(fast_retries())
        .with_timeout(Duration::from_secs(10))
}

async fn setup() -> (MockApiServer, KubeCluster) {
    let server = MockApiServer::start().await.expect("mock server starts");
    let cluster = cluster_at(&server.url());
    (server, cluster)
}

fn deployments() -> ResourceType {
    ResourceType {
        gvk: Gvk::from_api_version("apps/v1", "Deployment"),
        plural: "deployments".into(),
        namespaced: true,
    }
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "iris", "namespace": "dev", "labels": {"app": "iris"}},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "m", "image": "iris:1"}]}}}
    })
}

/// A server answer with fields no typed client knows, to prove nothing is dropped.
fn served_deployment() -> Value {
    let mut object = deployment();
    object["metadata"]["resourceVersion"] = json!("41");
    object["metadata"]["managedFields"] = json!([{"manager": "coxswain", "operation": "Apply"}]);
    object["status"] = json!({"replicas": 2, "x-future-field": {"nested": [1, 2.5, null]}});
    object
}

fn conflict_status() -> Reply {
    Reply::status(
        409,
        "Conflict",
        "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas",
        &json!({
            "name": "iris", "group": "apps", "kind": "deployments",
            "causes": [{
                "reason": "FieldManagerConflict",
                "message": "conflict with \"kubectl\" using apps/v1: .spec.replicas",
                "field": ".spec.replicas"
            }]
        }),
    )
}

fn expect_err<T: std::fmt::Debug>(result: Result<T, ClusterError>) -> ClusterError {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(error) => error,
    }
}

#[tokio::test]
async fn resolve_fetches_one_group_version_once() {
    let (server, cluster) = setup().await;
    let resource = cluster.resolve(&Gvk::from_api_version("apps/v1", "Deployment")).await;
    assert_eq!(resource.expect("Deployment resolves"), deployments());
    let again = cluster.resolve(&Gvk::from_api_version("apps/v1", "Deployment")).await;
    assert!(again.is_ok());
    let namespace = cluster.resolve(&Gvk::from_api_version("v1", "Namespace")).await;
    assert_eq!(
        namespace.expect("Namespace resolves"),
        ResourceType {
            gvk: Gvk::from_api_version("v1", "Namespace"),
            plural: "namespaces".into(),
            namespaced: false,
        }
    );
    assert_eq!(server.request_lines(), vec!["GET /apis/apps/v1", "GET /api/v1"]);
}

#[tokio::test]
async fn unknown_kind_and_unknown_group_are_unknown_kind() {
    let (server, cluster) = setup().await;
    let in_known_group =
        expect_err(cluster.resolve(&Gvk::from_api_version("apps/v1", "Widget")).await);
    insta::assert_snapshot!("unknown_kind_in_known_group", in_known_group);
    let in_unknown_group =
        expect_err(cluster.resolve(&Gvk::from_api_version("example.com/v1", "Widget")).await);
    assert!(matches!(in_unknown_group, ClusterError::UnknownKind { .. }), "{in_unknown_group:?}");
    insta::assert_snapshot!("unknown_kind_in_unknown_group", in_unknown_group);
    // A miss is not cached as a miss: the CRD may be installed in the meantime.
    let _ = cluster.resolve(&Gvk::from_api_version("apps/v1", "Widget")).await;
    assert_eq!(
        server.request_lines(),
        vec!["GET /apis/apps/v1", "GET /apis/example.com/v1", "GET /apis/apps/v1"]
    );
}

#[tokio::test]
async fn get_returns_the_object_exactly() {
    let (server, cluster) = setup().await;
    server.on("GET", DEPLOYMENT_PATH, Reply::json(200, &served_deployment()));
    let object = cluster.get(&deployments(), Some("dev"), "iris").await;
    assert_eq!(object.expect("get succeeds"), Some(served_deployment()));
}

#[tokio::test]
async fn get_of_missing_object_is_none_and_delete_is_false() {
    let (server, cluster) = setup().await;
    let missing = Reply::status(
        404,
        "NotFound",
        "deployments.apps \"iris\" not found",
        &json!({"name": "iris", "group": "apps", "kind": "deployments"}),
    );
    server.on("GET", DEPLOYMENT_PATH, missing.clone());
    server.on("DELETE", DEPLOYMENT_PATH, missing);
    assert_eq!(cluster.get(&deployments(), Some("dev"), "iris").await.expect("get"), None);
    assert!(!cluster.delete(&deployments(), Some("dev"), "iris", None).await.expect("delete"));
}

#[tokio::test]
async fn delete_uses_background_propagation() {
    let (server, cluster) = setup().await;
    server.on("DELETE", DEPLOYMENT_PATH, Reply::json(200, &served_deployment()));
    assert!(cluster.delete(&deployments(), Some("dev"), "iris", None).await.expect("delete"));
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.line(), format!("DELETE {DEPLOYMENT_PATH}"));
    assert_eq!(request.json()["propagationPolicy"], "Background");
    assert_eq!(request.json()["kind"], "DeleteOptions");
    assert!(request.json().get("preconditions").is_none());
}

#[tokio::test]
async fn delete_sends_its_preconditions() {
    let (server, cluster) = setup().await;
    server.on("DELETE", DEPLOYMENT_PATH, Reply::json(200, &served_deployment()));
    let preconditions = coxswain::cluster::Preconditions {
        uid: Some("0b5e-uid".into()),
        resource_version: Some("42".into()),
    };
    assert!(
        cluster
            .delete(&deployments(), Some("dev"), "iris", Some(&preconditions))
            .await
            .expect("delete")
    );
    let request = server.requests().pop().expect("one request");
    assert_eq!(
        request.json()["preconditions"],
        json!({"uid": "0b5e-uid", "resourceVersion": "42"})
    );
}

#[tokio::test]
async fn apply_into_missing_namespace_names_the_namespace() {
    let (server, cluster) = setup().await;
    server.on(
        "PATCH",
        DEPLOYMENT_PATH,
        Reply::status(
            404,
            "NotFound",
            "namespaces \"dev\" not found",
            &json!({"name": "dev", "kind": "namespaces"}),
        ),
    );
    let error = expect_err(
        cluster.apply(&deployments(), &deployment(), &ApplyOptions::coxswain(false, false)).await,
    );
    assert!(matches!(&error, ClusterError::NotFound { object } if object.name == "dev"));
    insta::assert_snapshot!("apply_missing_namespace", error);
}

#[tokio::test]
async fn apply_sends_server_side_apply_request() {
    let (server, cluster) = setup().await;
    server.on("PATCH", DEPLOYMENT_PATH, Reply::json(200, &served_deployment()));
    let applied =
        cluster.apply(&deployments(), &deployment(), &ApplyOptions::coxswain(true, true)).await;
    assert_eq!(applied.expect("apply succeeds"), served_deployment());
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.line(), format!("PATCH {DEPLOYMENT_PATH}"));
    assert_eq!(request.query("fieldManager"), Some("coxswain"));
    assert_eq!(request.query("force"), Some("true"));
    assert_eq!(request.query("dryRun"), Some("All"));
    assert_eq!(request.header("content-type"), Some("application/apply-patch+yaml"));
    assert_eq!(request.json(), deployment());

    let plain =
        cluster.apply(&deployments(), &deployment(), &ApplyOptions::coxswain(false, false)).await;
    assert!(plain.is_ok());
    let request = server.requests().pop().expect("second request");
    assert_eq!(request.query("force"), None);
    assert_eq!(request.query("dryRun"), None);
}

#[tokio::test]
async fn list_sends_selector_and_types_the_items() {
    let (server, cluster) = setup().await;
    let mut item = served_deployment();
    let map = item.as_object_mut().expect("object");
    map.remove("apiVersion");
    map.remove("kind");
    server.on(
        "GET",
        DEPLOYMENTS_PATH,
        Reply::json(
            200,
            &json!({"kind": "DeploymentList", "apiVersion": "apps/v1",
                    "metadata": {"resourceVersion": "50"}, "items": [item]}),
        ),
    );
    let items = cluster.list(&deployments(), Some("dev"), Some("app=iris,tier in (a,b)")).await;
    assert_eq!(items.expect("list succeeds"), vec![served_deployment()]);
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.query("labelSelector"), Some("app=iris,tier in (a,b)"));
}

#[tokio::test]
async fn unauthorized_is_typed() {
    let (server, cluster) = setup().await;
    server.on(
        "GET",
        DEPLOYMENT_PATH,
        Reply::status(401, "Unauthorized", "Unauthorized", &json!({})),
    );
    let error = expect_err(cluster.get(&deployments(), Some("dev"), "iris").await);
    assert!(matches!(error, ClusterError::Unauthorized { .. }), "{error:?}");
    insta::assert_snapshot!("unauthorized", error);
    assert_eq!(server.requests().len(), 1, "401 is not retried");
}

#[tokio::test]
async fn forbidden_keeps_the_servers_message() {
    let (server, cluster) = setup().await;
    server.on(
        "GET",
        DEPLOYMENTS_PATH,
        Reply::status(
            403,
            "Forbidden",
            "deployments.apps is forbidden: User \"bob\" cannot list resource \"deployments\" in \
             API group \"apps\" in the namespace \"dev\"",
            &json!({"group": "apps", "kind": "deployments"}),
        ),
    );
    let error = expect_err(cluster.list(&deployments(), Some("dev"), None).await);
    assert!(matches!(error, ClusterError::Forbidden { .. }), "{error:?}");
    insta::assert_snapshot!("forbidden", error);
}

#[tokio::test]
async fn create_of_existing_object_is_already_exists() {
    let (server, cluster) = setup().await;
    server.on(
        "POST",
        DEPLOYMENTS_PATH,
        Reply::status(
            409,
            "AlreadyExists",
            "deployments.apps \"iris\" already exists",
            &json!({"name": "iris", "group": "apps", "kind": "deployments"}),
        ),
    );
    let error = expect_err(cluster.create(&deployments(), &deployment()).await);
    assert!(matches!(error, ClusterError::AlreadyExists { .. }), "{error:?}");
    insta::assert_snapshot!("already_exists", error);
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.query("fieldManager"), Some("coxswain"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.json(), deployment());
}

#[tokio::test]
async fn apply_conflict_names_field_and_manager() {
    let (server, cluster) = setup().await;
    server.on("PATCH", DEPLOYMENT_PATH, conflict_status());
    let error = expect_err(
        cluster.apply(&deployments(), &deployment(), &ApplyOptions::coxswain(false, false)).await,
    );
    let ClusterError::Conflict { object, conflicts, .. } = &error else {
        panic!("expected Conflict, got {error:?}");
    };
    assert_eq!(object, &ObjectKey::of(&deployment()).expect("key"));
    assert_eq!(
        conflicts,
        &vec![FieldConflict { field: ".spec.replicas".into(), manager: "kubectl".into() }]
    );
    insta::assert_snapshot!("apply_conflict", error);
}

#[tokio::test]
async fn replace_with_stale_version_is_conflict() {
    let (server, cluster) = setup().await;
    server.on(
        "PUT",
        DEPLOYMENT_PATH,
        Reply::status(
            409,
            "Conflict",
            "Operation cannot be fulfilled on deployments.apps \"iris\": the object has been \
             modified; please apply your changes to the latest version and try again",
            &json!({"name": "iris", "group": "apps", "kind": "deployments"}),
        ),
    );
    let error = expect_err(cluster.replace(&deployments(), &served_deployment()).await);
    assert!(matches!(&error, ClusterError::Conflict { conflicts, .. } if conflicts.is_empty()));
    insta::assert_snapshot!("replace_stale", error);
    let request = server.requests().pop().expect("one request");
    assert_eq!(request.json()["metadata"]["resourceVersion"], "41");
}

#[tokio::test]
async fn replace_without_resource_version_is_refused_before_sending() {
    let (server, cluster) = setup().await;
    let error = expect_err(cluster.replace(&deployments(), &deployment()).await);
    insta::assert_snapshot!("replace_without_version", error);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn invalid_object_keeps_the_causes() {
    let (server, cluster) = setup().await;
    server.on(
        "PATCH",
        DEPLOYMENT_PATH,
        Reply::status(
            422,
            "Invalid",
            "Deployment.apps \"iris\" is invalid: spec.replicas: Invalid value: -1: must be \
             greater than or equal to 0",
            &json!({"name": "iris", "group": "apps", "kind": "Deployment", "causes": [{
                "reason": "FieldValueInvalid",
                "message": "Invalid value: -1: must be greater than or equal to 0",
                "field": "spec.replicas"
            }]}),
        ),
    );
    let error = expect_err(
        cluster.apply(&deployments(), &deployment(), &ApplyOptions::coxswain(false, false)).await,
    );
    let ClusterError::Invalid { causes, .. } = &error else {
        panic!("expected Invalid, got {error:?}");
    };
    assert_eq!(
        causes,
        &vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0".to_owned()]
    );
    insta::assert_snapshot!("invalid", error);
}

#[tokio::test]
async fn throttled_list_is_retried_until_it_succeeds() {
    let (server, cluster) = setup().await;
    let throttled = Reply::status(429, "TooManyRequests", "too many requests", &json!({}))
        .with_header("Retry-After", "1");
    let list = json!({"kind": "DeploymentList", "apiVersion": "apps/v1",
                      "metadata": {"resourceVersion": "1"}, "items": []});
    server.on_sequence("GET", DEPLOYMENTS_PATH, vec![throttled, Reply::json(200, &list)]);
    let items = cluster.list(&deployments(), Some("dev"), None).await;
    assert_eq!(items.expect("second attempt succeeds"), Vec::<Value>::new());
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn persistent_throttling_gives_up_after_bounded_attempts() {
    let (server, cluster) = setup().await;
    server.on(
        "GET",
        DEPLOYMENTS_PATH,
        Reply::status(429, "TooManyRequests", "too many requests", &json!({}))
            .with_header("Retry-After", "3600"),
    );
    let error = expect_err(cluster.list(&deployments(), Some("dev"), None).await);
    assert!(matches!(error, ClusterError::TooManyRequests { .. }), "{error:?}");
    insta::assert_snapshot!("too_many_requests", error);
    assert_eq!(server.requests().len(), 3, "attempts are bounded by the policy");
}

#[tokio::test]
async fn server_errors_are_retried_only_for_safe_verbs() {
    let (server, cluster) = setup().await;
    let unavailable = Reply::status(503, "ServiceUnavailable", "etcd leader changed", &json!({}));
    server.on("GET", DEPLOYMENT_PATH, unavailable.clone());
    server.on("POST", DEPLOYMENTS_PATH, unavailable);
    let error = expect_err(cluster.get(&deployments(), Some("dev"), "iris").await);
    assert!(matches!(error, ClusterError::Server { status: 503, .. }), "{error:?}");
    insta::assert_snapshot!("service_unavailable", error);
    assert_eq!(server.requests().len(), 3);

    let create = expect_err(cluster.create(&deployments(), &deployment()).await);
    assert!(matches!(create, ClusterError::Server { status: 503, .. }), "{create:?}");
    assert_eq!(server.requests().len(), 4, "a POST is sent once");
}

#[tokio::test]
async fn internal_error_keeps_the_servers_message() {
    let (server, cluster) = setup().await;
    server.on(
        "PATCH",
        DEPLOYMENT_PATH,
        Reply::status(
            500,
            "InternalError",
            "Internal error occurred: failed calling webhook \"validate.example.com\"",
            &json!({}),
        ),
    );
    let error = expect_err(
        cluster.apply(&deployments(), &deployment(), &ApplyOptions::coxswain(false, false)).await,
    );
    insta::assert_snapshot!("internal_error", error);
    assert_eq!(server.requests().len(), 3, "server-side apply is idempotent and retried");
}

#[tokio::test]
async fn slow_answer_times_out() {
    let (server, _) = setup().await;
    server.on(
        "GET",
        DEPLOYMENT_PATH,
        Reply::json(200, &served_deployment()).delayed(Duration::from_secs(30)),
    );
    let cluster = cluster_at(&server.url()).with_timeout(Duration::from_secs(1));
    let error = expect_err(cluster.get(&deployments(), Some("dev"), "iris").await);
    assert!(matches!(error, ClusterError::Timeout { seconds: 1, .. }), "{error:?}");
    insta::assert_snapshot!("timeout", error);
    assert_eq!(server.requests().len(), 1, "a timeout is not retried");
}

#[tokio::test]
async fn refused_connection_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let cluster = cluster_at(&format!("http://{addr}"));
    let error = expect_err(cluster.get(&deployments(), Some("dev"), "iris").await);
    let ClusterError::Unreachable { server, .. } = &error else {
        panic!("expected Unreachable, got {error:?}");
    };
    assert_eq!(server, &format!("http://{addr}"));
    insta::assert_snapshot!("unreachable", error.to_string().replace(&addr.to_string(), "ADDR"));
}

#[tokio::test]
async fn watch_starts_now_and_maps_events() {
    let (server, cluster) = setup().await;
    let lines = [
        json!({"type": "ADDED", "object": served_deployment()}),
        json!({"type": "BOOKMARK", "object": {"kind": "Deployment", "apiVersion": "apps/v1",
               "metadata": {"resourceVersion": "80"}}}),
        json!({"type": "DELETED", "object": served_deployment()}),
        json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
               "status": "Failure", "message": "too old resource version: 77 (78)",
               "reason": "Expired", "code": 410}}),
    ];
    let body: String = lines.iter().map(|line| line.to_string() + "\n").collect();
    // The first GET is the one-item LIST that finds the current version; the next is the watch.
    server.on_sequence(
        "GET",
        DEPLOYMENTS_PATH,
        vec![
            Reply::json(
                200,
                &json!({"kind": "DeploymentList", "metadata": {"resourceVersion": "77"}, "items": []}),
            ),
            Reply::raw(200, body),
        ],
    );
    let stream = cluster.watch(&deployments(), Some("dev"), Some("app=iris"), None).await;
    let events: Vec<Result<WatchEvent, ClusterError>> =
        stream.expect("watch opens").collect().await;
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(matches!(&events[0], Ok(WatchEvent::Added(object)) if *object == served_deployment()));
    assert!(matches!(&events[1],
        Ok(WatchEvent::Bookmark { resource_version }) if resource_version == "80"));
    assert!(matches!(&events[2], Ok(WatchEvent::Deleted(_))));
    let Err(expired) = &events[3] else { panic!("expected the 410 as an error: {events:?}") };
    insta::assert_snapshot!("watch_expired", expired);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].query("limit"), Some("1"));
    let watch = &requests[1];
    assert_eq!(watch.query("watch"), Some("true"));
    assert_eq!(watch.query("resourceVersion"), Some("77"));
    assert_eq!(watch.query("allowWatchBookmarks"), Some("true"));
    assert_eq!(watch.query("labelSelector"), Some("app=iris"));
}

#[tokio::test]
async fn namespaced_kind_without_namespace_is_refused_before_sending() {
    let (server, cluster) = setup().await;
    let error = expect_err(cluster.get(&deployments(), None, "iris").await);
    insta::assert_snapshot!("missing_namespace_argument", error);
    let error = expect_err(cluster.get(&deployments(), Some("dev"), "a/b").await);
    insta::assert_snapshot!("name_with_slash", error);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn server_version_reads_get_version() {
    let (server, cluster) = setup().await;
    server.on(
        "GET",
        "/version",
        Reply::json(
            200,
            &json!({"major": "1", "minor": "31", "gitVersion": "v1.31.2",
                    "gitCommit": "abc", "platform": "linux/arm64"}),
        ),
    );
    let version = cluster.server_version().await.expect("version answers");
    assert_eq!(
        version,
        Some(coxswain::cluster::ServerVersion {
            git_version: "v1.31.2".into(),
            platform: Some("linux/arm64".into()),
        })
    );
    assert_eq!(server.request_lines(), vec!["GET /version"]);
    server.on("GET", "/version", Reply::raw(200, "<html>proxy</html>"));
    let error = expect_err(cluster.server_version().await);
    assert!(error.to_string().contains("the server version (GET /version)"), "{error}");
}

/// `coxswain version` end to end: the binary reads a kubeconfig pointing at the scripted
/// server; a second kubeconfig points at a closed port and still exits 0.
#[tokio::test(flavor = "multi_thread")]
async fn version_command_asks_the_kubeconfig_cluster() {
    let server = MockApiServer::start().await.expect("mock server starts");
    server.on("GET", "/version", Reply::json(200, &json!({"gitVersion": "v1.30.0"})));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, url: &str| {
        let path = dir.path().join(name);
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters:\n- name: t\n  \
             cluster: {{server: \"{url}\"}}\ncontexts:\n- name: t\n  context: {{cluster: t, \
             user: u}}\nusers:\n- name: u\n  user: {{token: x}}\n"
        );
        std::fs::write(&path, kubeconfig).expect("write kubeconfig");
        path
    };
    let reachable = write("reachable", &server.url());
    let unreachable = write("unreachable", &closed_url);
    let run = |kubeconfig: std::path::PathBuf| {
        tokio::task::spawn_blocking(move || {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_coxswain"))
                .arg("--kubeconfig")
                .arg(kubeconfig)
                .args(["version", "--timeout", "20s"])
                .env_remove("COXSWAIN_CLUSTER")
                .env_remove("HTTPS_PROXY")
                .env_remove("HTTP_PROXY")
                .output()
                .expect("binary runs");
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            (output.status.code(), stdout)
        })
    };
    let (code, stdout) = run(reachable).await.expect("joins");
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.ends_with("server: v1.30.0\n"), "{stdout}");
    let (code, stdout) = run(unreachable).await.expect("joins");
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("server: unreachable ("), "{stdout}");
    assert!(stdout.contains(&closed_url), "{stdout}");
}
