//! Progressive delivery against the in-memory cluster (issue 15's "done when"): a canary steps
//! 25/50/100 over a 4-replica Deployment behind one Service selector, abort and promote, pause
//! surviving a sync, abort not restarted by a sync, and a blue-green switch that waits for the
//! new colour's health and switches back in one write. Every write goes through the engine
//! (gates, the env's Lease, history), as the CLI and the app call it.

mod support;

use coxswain::cluster::recording::Recording;
use coxswain::cluster::{Cluster, ObjectKey};
use coxswain::engine::{Connector, Engine, RolloutRequest, SyncOutcome, SyncRequest};
use coxswain::exit::ExitCode;
use coxswain::repo::{Environment, SourceFile};
use coxswain::rollout::{Action, Colour, Phase, RolloutStatus};
use coxswain::sync::{Silent, SyncStatus};
use coxswain_memcluster::{MemoryCluster, PodFault};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use support::rollouts::{git_repo, set_image, workload};

const CANARY_ENV: &str = "\
namespace: shop
rollouts:
  web:
    canary:
      steps:
        - {weight: 25, pause: manual}
        - {weight: 50, pause: manual}
        - {weight: 100}
";

const BLUE_GREEN_ENV: &str = "\
namespace: store
rollouts:
  api:
    blueGreen:
      activeService: api
      scaleDownDelay: 10m
";

/// A git repo with the envs `canary` (Deployment web, 4 replicas) and `bluegreen` (api, 2).
fn repo() -> tempfile::TempDir {
    git_repo(&[
        ("environments/canary/env.yaml", CANARY_ENV.to_owned()),
        ("environments/canary/web.yaml", workload("web", 4, "registry.example/web:1.0.0")),
        ("environments/bluegreen/env.yaml", BLUE_GREEN_ENV.to_owned()),
        ("environments/bluegreen/api.yaml", workload("api", 2, "registry.example/api:1.0.0")),
    ])
}

struct Harness {
    memory: MemoryCluster,
    recording: Arc<Recording>,
}

impl Harness {
    fn new() -> Self {
        let memory = MemoryCluster::new();
        let recording = Arc::new(Recording::new(Arc::new(memory.clone())));
        Self { memory, recording }
    }

    fn connector(&self) -> Connector {
        let cluster: Arc<dyn Cluster> = self.recording.clone();
        Arc::new(move |_context| {
            let cluster = cluster.clone();
            Box::pin(async move { Ok(cluster) })
        })
    }

    /// `coxswain --repo ROOT ARGS…` in-process, against this cluster.
    fn cli(&self, root: &Path, args: &[&str]) -> ExitCode {
        let mut argv = vec!["coxswain".to_owned(), "--repo".into(), root.display().to_string()];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        coxswain::cli::run_with(argv, self.connector())
    }

    /// A fresh engine: it reads the working tree as it is now.
    fn engine(&self, root: &Path) -> Engine {
        Engine::open(root, self.connector()).expect("open").with_holder("test@host".into())
    }

    fn deployment(&self, namespace: &str, name: &str) -> Option<Value> {
        self.memory.object(&ObjectKey {
            group_kind: "Deployment.apps".into(),
            namespace: Some(namespace.into()),
            name: name.into(),
        })
    }

    fn service(&self, namespace: &str, name: &str) -> Value {
        self.memory
            .object(&ObjectKey {
                group_kind: "Service".into(),
                namespace: Some(namespace.into()),
                name: name.into(),
            })
            .expect("service")
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

fn sync(engine: &Engine, env: &str) -> (SyncStatus, Vec<String>) {
    let request = SyncRequest { message: "test".into(), ..SyncRequest::default() };
    match runtime().block_on(engine.sync(env, &request, &Silent)).expect("sync") {
        SyncOutcome::Finished { report, notes } => {
            assert!(report.error.is_none(), "sync failed: {:?}", report.error);
            (report.status, notes)
        }
        SyncOutcome::Offline { reason, .. } => panic!("offline: {reason}"),
    }
}

fn act(engine: &Engine, env: &str, workload: &str, action: Action) -> RolloutStatus {
    runtime()
        .block_on(engine.rollout(env, workload, action, &RolloutRequest::default()))
        .unwrap_or_else(|e| panic!("rollout {}: {e}", action.as_str()))
}

fn status(engine: &Engine, env: &str, workload: &str) -> RolloutStatus {
    runtime().block_on(engine.rollout_status(env, workload, None)).expect("status")
}

fn replicas(deployment: &Value) -> u64 {
    deployment.pointer("/spec/replicas").and_then(Value::as_u64).expect("replicas")
}

fn image(deployment: &Value) -> &str {
    deployment
        .pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .expect("image")
}

/// Whether `selector` (a Service's) selects the pods of `deployment`.
fn selects(selector: &Value, deployment: &Value) -> bool {
    let labels = deployment.pointer("/spec/template/metadata/labels").expect("pod labels");
    selector.as_object().expect("selector").iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn canary_steps_split_replicas_behind_one_selector_then_abort_and_promote() {
    let repo = repo();
    let root = repo.path();
    let h = Harness::new();
    assert_eq!(sync(&h.engine(root), "canary").0, SyncStatus::Synced);
    let stable = h.deployment("shop", "web").expect("web");
    assert_eq!((replicas(&stable), image(&stable)), (4, "registry.example/web:1.0.0"));
    assert!(h.deployment("shop", "web-canary").is_none(), "no canary for the first sync");
    assert_eq!(status(&h.engine(root), "canary", "web").phase, Some(Phase::Completed));

    // A new image starts the canary at 25%: 1 of 4 replicas, behind the Service's selector.
    set_image(root, "canary", "web.yaml", "registry.example/web:2.0.0");
    // The plan says so: stable keeps its template, so the diff alone would show nothing.
    let plan = runtime()
        .block_on(h.engine(root).plan_all(Some("canary"), None, &Default::default()))
        .expect("plan");
    assert!(!plan.summary.has_changes(), "the stable Deployment is not changed in place");
    insta::assert_snapshot!("canary_plan_pending", plan.render_text(false));
    let (_, notes) = sync(&h.engine(root), "canary");
    assert!(notes.iter().any(|n| n.contains("rollout web (canary)")), "{notes:?}");
    let canary = h.deployment("shop", "web-canary").expect("canary");
    let stable = h.deployment("shop", "web").expect("web");
    assert_eq!((replicas(&canary), image(&canary)), (1, "registry.example/web:2.0.0"));
    assert_eq!((replicas(&stable), image(&stable)), (3, "registry.example/web:1.0.0"));
    let selector = h.service("shop", "web").pointer("/spec/selector").cloned().expect("selector");
    assert!(selects(&selector, &canary) && selects(&selector, &stable), "{selector}");
    let now = status(&h.engine(root), "canary", "web");
    assert_eq!((now.phase, now.step, now.weight), (Some(Phase::Paused), Some(1), Some(25)));
    insta::assert_snapshot!("canary_status_step_1", now.render_text());

    // Resume: 50%, 2 of 4.
    let now = act(&h.engine(root), "canary", "web", Action::Resume);
    assert_eq!((now.step, now.weight), (Some(2), Some(50)));
    assert_eq!(replicas(&h.deployment("shop", "web-canary").expect("canary")), 2);
    assert_eq!(replicas(&h.deployment("shop", "web").expect("web")), 2);

    // Abort: 4 stable replicas on the old image, no canary.
    let now = act(&h.engine(root), "canary", "web", Action::Abort);
    assert_eq!(now.phase, Some(Phase::Aborted));
    let stable = h.deployment("shop", "web").expect("web");
    assert_eq!((replicas(&stable), image(&stable)), (4, "registry.example/web:1.0.0"));
    assert!(h.deployment("shop", "web-canary").is_none(), "abort deletes the canary");

    // A sync after the abort neither restarts the canary nor applies git's template to stable.
    assert_eq!(sync(&h.engine(root), "canary").0, SyncStatus::NoChanges);
    assert!(h.deployment("shop", "web-canary").is_none(), "the sync restarted the canary");
    let stable = h.deployment("shop", "web").expect("web");
    assert_eq!((replicas(&stable), image(&stable)), (4, "registry.example/web:1.0.0"));

    // Git changes again: a new canary; promote ends on 4 replicas of the new image.
    set_image(root, "canary", "web.yaml", "registry.example/web:3.0.0");
    sync(&h.engine(root), "canary");
    let canary = h.deployment("shop", "web-canary").expect("canary restarted");
    assert_eq!((replicas(&canary), image(&canary)), (1, "registry.example/web:3.0.0"));
    let now = act(&h.engine(root), "canary", "web", Action::Promote);
    assert_eq!(now.phase, Some(Phase::Completed));
    let stable = h.deployment("shop", "web").expect("web");
    assert_eq!((replicas(&stable), image(&stable)), (4, "registry.example/web:3.0.0"));
    assert!(h.deployment("shop", "web-canary").is_none(), "promotion deletes the canary");
    // And the next sync has nothing to change: the promotion wrote what git says.
    assert_eq!(sync(&h.engine(root), "canary").0, SyncStatus::NoChanges);

    // Every operation is in history.
    let revisions = runtime().block_on(h.engine(root).history("canary", None)).expect("history");
    let messages: Vec<&str> = revisions.iter().map(|r| r.message.as_str()).collect();
    for expected in ["rollout resume web", "rollout abort web", "rollout promote web"] {
        assert!(messages.contains(&expected), "{expected} not in {messages:?}");
    }
}

#[test]
fn a_sync_after_pause_leaves_the_canary_paused() {
    let repo = repo();
    let root = repo.path();
    let h = Harness::new();
    sync(&h.engine(root), "canary");
    set_image(root, "canary", "web.yaml", "registry.example/web:2.0.0");
    sync(&h.engine(root), "canary");
    let now = act(&h.engine(root), "canary", "web", Action::Pause);
    assert!(now.paused);
    let canary = h.deployment("shop", "web-canary").expect("canary");
    assert_eq!(canary.pointer("/spec/paused"), Some(&json!(true)));

    // The sync plans the rollout's view: nothing to change, nothing resumed or reverted.
    let (status, _) = sync(&h.engine(root), "canary");
    assert_eq!(status, SyncStatus::NoChanges);
    let now = self::status(&h.engine(root), "canary", "web");
    assert!(now.paused, "the sync lifted the pause");
    assert_eq!(now.step, Some(1));
    let canary = h.deployment("shop", "web-canary").expect("canary");
    assert_eq!((canary.pointer("/spec/paused"), replicas(&canary)), (Some(&json!(true)), 1));
    assert_eq!(replicas(&h.deployment("shop", "web").expect("web")), 3);

    // Resume lifts it and goes on.
    let now = act(&h.engine(root), "canary", "web", Action::Resume);
    assert!(!now.paused);
    let canary = h.deployment("shop", "web-canary").expect("canary");
    assert_eq!(canary.pointer("/spec/paused"), None);
}

/// Marks a Deployment's rollout finished, as its controller would.
fn make_ready(cluster: &MemoryCluster, namespace: &str, name: &str) {
    let key = ObjectKey {
        group_kind: "Deployment.apps".into(),
        namespace: Some(namespace.into()),
        name: name.into(),
    };
    let live = cluster.object(&key).expect("deployment");
    let n = replicas(&live);
    let generation = live.pointer("/metadata/generation").cloned().unwrap_or(json!(1));
    let condition =
        |kind: &str, reason: &str| json!({"type": kind, "status": "True", "reason": reason});
    let status = json!({
        "observedGeneration": generation, "replicas": n, "updatedReplicas": n,
        "readyReplicas": n, "availableReplicas": n,
        "conditions": [condition("Available", "MinimumReplicasAvailable"), condition("Progressing", "NewReplicaSetAvailable")],
    });
    cluster.set_status(&key, status).expect("set status");
}

#[test]
fn blue_green_switches_after_the_new_colour_is_healthy_and_back_in_one_write() {
    let repo = repo();
    let root = repo.path();
    let h = Harness::new();
    sync(&h.engine(root), "bluegreen");
    let blue = h.deployment("store", "api-blue").expect("api-blue");
    assert_eq!((replicas(&blue), image(&blue)), (2, "registry.example/api:1.0.0"));
    assert!(h.deployment("store", "api").is_none(), "git's Deployment is the colours' template");
    let selector = h.service("store", "api").pointer("/spec/selector").cloned().expect("selector");
    assert_eq!(selector, json!({"app": "api", "coxswain.dev/color": "blue"}));

    // The new colour rolls out behind the preview Service; not healthy yet: no switch.
    h.memory.set_auto_ready(false);
    set_image(root, "bluegreen", "api.yaml", "registry.example/api:2.0.0");
    sync(&h.engine(root), "bluegreen");
    let green = h.deployment("store", "api-green").expect("api-green");
    assert_eq!(image(&green), "registry.example/api:2.0.0");
    let preview = h.service("store", "api-preview");
    assert_eq!(preview.pointer("/spec/selector/coxswain.dev~1color"), Some(&json!("green")));
    let active = h.service("store", "api");
    assert_eq!(active.pointer("/spec/selector/coxswain.dev~1color"), Some(&json!("blue")));
    assert_eq!(status(&h.engine(root), "bluegreen", "api").phase, Some(Phase::Progressing));
    let refused = runtime().block_on(h.engine(root).rollout(
        "bluegreen",
        "api",
        Action::Promote,
        &RolloutRequest::default(),
    ));
    assert!(refused.is_err_and(|e| e.to_string().contains("not healthy yet")));

    // Healthy: the next step switches the active Service.
    make_ready(&h.memory, "store", "api-green");
    let statuses = runtime()
        .block_on(h.engine(root).advance_rollouts("bluegreen", &RolloutRequest::default()))
        .expect("advance");
    assert_eq!(statuses[0].active_color, Some(Colour::Green));
    assert_eq!(statuses[0].actions, [Action::Undo], "switching back is what is left");
    let active = h.service("store", "api");
    assert_eq!(active.pointer("/spec/selector/coxswain.dev~1color"), Some(&json!("green")));
    assert_eq!(replicas(&h.deployment("store", "api-blue").expect("blue kept")), 2);

    // Switching back: one write moves traffic (the Service's selector). The rest is
    // bookkeeping: the lease, history, and the state annotation on api-blue, which changes no
    // spec of either colour.
    let spec = |name: &str| h.deployment("store", name).and_then(|d| d.pointer("/spec").cloned());
    let specs = (spec("api-blue"), spec("api-green"));
    h.recording.reset();
    let now = act(&h.engine(root), "bluegreen", "api", Action::Undo);
    assert_eq!(now.active_color, Some(Colour::Blue));
    let writes: Vec<String> = h.recording.writes().into_iter().map(|(_, target)| target).collect();
    let of =
        |kind: &str| writes.iter().filter(|t| t.starts_with(kind)).cloned().collect::<Vec<_>>();
    assert_eq!(of("Service "), vec!["Service store/api".to_owned()], "{writes:?}");
    assert_eq!(of("Deployment.apps "), vec!["Deployment.apps store/api-blue".to_owned()]);
    assert_eq!((spec("api-blue"), spec("api-green")), specs);
    let active = h.service("store", "api");
    assert_eq!(active.pointer("/spec/selector/coxswain.dev~1color"), Some(&json!("blue")));
    // And a sync after the undo does not roll git's template out again.
    sync(&h.engine(root), "bluegreen");
    let active = h.service("store", "api");
    assert_eq!(active.pointer("/spec/selector/coxswain.dev~1color"), Some(&json!("blue")));
}

#[test]
fn sync_wait_stops_at_a_manual_pause_with_exit_code_5() {
    let repo = repo();
    let root = repo.path();
    let h = Harness::new();
    let cli = |args: &[&str]| h.cli(root, args);
    assert_eq!(cli(&["--sync", "--env", "canary", "--yes", "--wait"]), ExitCode::Ok);
    set_image(root, "canary", "web.yaml", "registry.example/web:2.0.0");
    assert_eq!(cli(&["--sync", "--env", "canary", "--yes", "--wait"]), ExitCode::RolloutPaused);
    assert_eq!(cli(&["rollout", "status", "--env", "canary"]), ExitCode::Ok);
    assert_eq!(cli(&["rollout", "promote", "web", "--env", "canary"]), ExitCode::Ok);
    let stable = h.deployment("shop", "web").expect("web");
    assert_eq!((replicas(&stable), image(&stable)), (4, "registry.example/web:2.0.0"));
    assert_eq!(
        cli(&["rollout", "pause", "web", "--env", "canary"]),
        ExitCode::Error,
        "nothing to pause"
    );
    assert_eq!(cli(&["rollout", "abort", "nope", "--env", "canary"]), ExitCode::Error);
}

#[test]
fn strategy_mistakes_are_loader_errors_with_file_and_line() {
    let config = "\
rollouts:
  web:
    canary:
      steps:
        - {weight: 50}
        - {weight: 25, pause: 5 minutes}
        - {weight: 90}
  ghost:
    blueGreen:
      activeService: nowhere
  web2:
    canary:
      stepz: []
";
    let files = [SourceFile {
        path: "environments/dev/web.yaml".into(),
        contents: workload("web", 4, "registry.example/web:1.0.0").into_bytes(),
    }];
    let env = Environment::from_files("dev", Some(config), &files);
    let rendered: Vec<String> = env.diagnostics.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!("strategy_mistakes", rendered.join("\n"));

    let config = "\
rollouts:
  web:
    canary:
      steps:
        - {weight: 50}
        - {weight: 25}
        - {weight: 90, pause: manual}
  ghost:
    blueGreen:
      activeService: nowhere
  scaled:
    blueGreen:
      activeService: scaled
";
    let mut files = files.to_vec();
    files.push(SourceFile {
        path: "environments/dev/scaled.yaml".into(),
        contents: format!(
            "{}---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: scaled\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: scaled}}\n  minReplicas: 2\n  maxReplicas: 4\n",
            workload("scaled", 2, "registry.example/scaled:1.0.0")
        )
        .into_bytes(),
    });
    let env = Environment::from_files("dev", Some(config), &files);
    let rendered: Vec<String> = env.diagnostics.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!("strategy_rule_errors", rendered.join("\n"));
}

#[test]
fn a_timed_pause_waits_its_time_then_goes_on_and_an_hpa_keeps_the_stable_scale() {
    let env_yaml = "\
namespace: timed
rollouts:
  web:
    canary:
      steps:
        - {weight: 25, pause: 5m}
        - {weight: 100}
";
    // No spec.replicas: an HPA with minReplicas 4 scales the Deployment.
    let manifests = workload("web", 4, "registry.example/web:1.0.0").replace("  replicas: 4\n", "");
    let hpa = "\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 4
  maxReplicas: 8
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
";
    let repo = git_repo(&[
        ("environments/timed/env.yaml", env_yaml.to_owned()),
        ("environments/timed/web.yaml", manifests),
        ("environments/timed/hpa.yaml", hpa.to_owned()),
    ]);
    let root = repo.path();
    let h = Harness::new();
    sync(&h.engine(root), "timed");
    let before = replicas(&h.deployment("timed", "web").expect("web"));
    set_image(root, "timed", "web.yaml", "registry.example/web:2.0.0");
    sync(&h.engine(root), "timed");
    // 25% of the HPA's scale (4) is 1 canary replica; the stable scale is the HPA's to keep.
    assert_eq!(replicas(&h.deployment("timed", "web-canary").expect("canary")), 1);
    assert_eq!(replicas(&h.deployment("timed", "web").expect("web")), before);
    let strategy = h.engine(root).env("timed").expect("env").config.rollouts["web"].clone();
    let state = runtime()
        .block_on(coxswain::engine::recorded_state(h.recording.as_ref(), "timed", "web", &strategy))
        .expect("state")
        .expect("recorded");
    let since = state.step_since().expect("the pause started when the canary was healthy");

    let at = |minutes: i64| RolloutRequest {
        now: Some(since + chrono::Duration::minutes(minutes)),
        ..RolloutRequest::default()
    };
    let statuses =
        runtime().block_on(h.engine(root).advance_rollouts("timed", &at(4))).expect("advance");
    assert_eq!((statuses[0].phase, statuses[0].step), (Some(Phase::Progressing), Some(1)));
    assert!(h.deployment("timed", "web-canary").is_some(), "went on before the pause ended");
    let statuses =
        runtime().block_on(h.engine(root).advance_rollouts("timed", &at(5))).expect("advance");
    assert_eq!(statuses[0].phase, Some(Phase::Completed));
    assert!(h.deployment("timed", "web-canary").is_none());
    assert_eq!(image(&h.deployment("timed", "web").expect("web")), "registry.example/web:2.0.0");
}

#[test]
fn promotion_keeps_the_canary_until_stable_is_healthy() {
    let repo = repo();
    let root = repo.path();
    let h = Harness::new();
    sync(&h.engine(root), "canary");
    set_image(root, "canary", "web.yaml", "registry.example/web:2.0.0");
    sync(&h.engine(root), "canary");
    // The stable Deployment's new rollout does not finish by itself any more.
    h.memory.set_auto_ready(false);
    let now = act(&h.engine(root), "canary", "web", Action::Promote);
    assert_eq!(now.phase, Some(Phase::Progressing), "{}", now.message);
    let stable = h.deployment("shop", "web").expect("web");
    assert_eq!((replicas(&stable), image(&stable)), (4, "registry.example/web:2.0.0"));
    assert!(
        h.deployment("shop", "web-canary").is_some(),
        "the canary went before stable was healthy"
    );
    // A sync meanwhile neither reverts the promotion nor takes it for a rollback of git.
    sync(&h.engine(root), "canary");
    assert!(h.deployment("shop", "web-canary").is_some());
    assert_eq!(image(&h.deployment("shop", "web").expect("web")), "registry.example/web:2.0.0");

    make_ready(&h.memory, "shop", "web");
    let statuses = runtime()
        .block_on(h.engine(root).advance_rollouts("canary", &RolloutRequest::default()))
        .expect("advance");
    assert_eq!(statuses[0].phase, Some(Phase::Completed));
    assert!(h.deployment("shop", "web-canary").is_none());
}

#[test]
fn blue_green_waits_for_promote_then_abort_scales_the_new_colour_down_and_sticks() {
    let env_yaml = "\
namespace: manual
rollouts:
  api:
    blueGreen:
      activeService: api
      previewService: api-next
      autoPromote: false
      scaleDownDelay: 10m
";
    let repo = git_repo(&[
        ("environments/manual/env.yaml", env_yaml.to_owned()),
        ("environments/manual/api.yaml", workload("api", 2, "registry.example/api:1.0.0")),
    ]);
    let root = repo.path();
    let h = Harness::new();
    let cli = |args: &[&str]| h.cli(root, args);
    assert_eq!(cli(&["--sync", "--env", "manual", "--yes", "--wait"]), ExitCode::Ok);
    set_image(root, "manual", "api.yaml", "registry.example/api:2.0.0");
    // Healthy behind the preview Service, but not switched: a person promotes.
    assert_eq!(cli(&["--sync", "--env", "manual", "--yes", "--wait"]), ExitCode::RolloutPaused);
    let preview = h.service("manual", "api-next");
    assert_eq!(preview.pointer("/spec/selector/coxswain.dev~1color"), Some(&json!("green")));
    let active = h.service("manual", "api");
    assert_eq!(active.pointer("/spec/selector/coxswain.dev~1color"), Some(&json!("blue")));

    let now = act(&h.engine(root), "manual", "api", Action::Abort);
    assert_eq!((now.phase, now.active_color), (Some(Phase::Aborted), Some(Colour::Blue)));
    assert_eq!(replicas(&h.deployment("manual", "api-green").expect("green")), 0);
    assert_eq!(replicas(&h.deployment("manual", "api-blue").expect("blue")), 2);
    // Not restarted by a sync until git changes.
    sync(&h.engine(root), "manual");
    assert_eq!(replicas(&h.deployment("manual", "api-green").expect("green")), 0);
    assert_eq!(status(&h.engine(root), "manual", "api").phase, Some(Phase::Aborted));

    // Git changes: green rolls out again; promote switches; blue scales down after the delay.
    set_image(root, "manual", "api.yaml", "registry.example/api:3.0.0");
    sync(&h.engine(root), "manual");
    assert_eq!(replicas(&h.deployment("manual", "api-green").expect("green")), 2);
    let now = act(&h.engine(root), "manual", "api", Action::Promote);
    assert_eq!(now.active_color, Some(Colour::Green));
    let strategy = h.engine(root).env("manual").expect("env").config.rollouts["api"].clone();
    let state = runtime()
        .block_on(coxswain::engine::recorded_state(
            h.recording.as_ref(),
            "manual",
            "api",
            &strategy,
        ))
        .expect("state")
        .expect("recorded");
    let at = state.scale_down_at().expect("a scale-down is due");
    let request = RolloutRequest {
        now: Some(at - chrono::Duration::seconds(1)),
        ..RolloutRequest::default()
    };
    runtime().block_on(h.engine(root).advance_rollouts("manual", &request)).expect("advance");
    assert_eq!(replicas(&h.deployment("manual", "api-blue").expect("blue")), 2, "too early");
    let request = RolloutRequest { now: Some(at), ..RolloutRequest::default() };
    runtime().block_on(h.engine(root).advance_rollouts("manual", &request)).expect("advance");
    assert_eq!(replicas(&h.deployment("manual", "api-blue").expect("blue")), 0);
    // Switching back to a colour that no longer runs is refused, not a switch to nothing.
    let refused = runtime().block_on(h.engine(root).rollout(
        "manual",
        "api",
        Action::Undo,
        &RolloutRequest::default(),
    ));
    assert!(refused.is_err_and(|e| e.to_string().contains("already scaled down")));
    let active = h.service("manual", "api");
    assert_eq!(active.pointer("/spec/selector/coxswain.dev~1color"), Some(&json!("green")));
}

#[test]
fn the_app_session_reads_and_steers_rollouts_with_one_call_each() {
    let repo = repo();
    let root = repo.path();
    let h = Harness::new();
    sync(&h.engine(root), "canary");
    set_image(root, "canary", "web.yaml", "registry.example/web:2.0.0");
    // Only the pod template changed: no object's plan changes (stable keeps its template during
    // a rollout), yet the env is out of sync, since its next sync starts the canary.
    let only_template = coxswain::app_api::Session::open(root, h.connector()).expect("session");
    let detail = runtime().block_on(only_template.detail("canary")).expect("detail");
    assert_eq!(detail.overview.sync_state, coxswain::app_api::SyncState::OutOfSync);
    assert_eq!(h.cli(root, &["plan", "--env", "canary", "--detailed-exitcode"]), ExitCode::Changes);
    let settings = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n";
    std::fs::write(root.join("environments/canary/settings.yaml"), settings).expect("write");
    // The app's Apply: the preview (which lists the pending rollout) is what the sync applies.
    let session = coxswain::app_api::Session::open(root, h.connector()).expect("session");
    let applied = runtime().block_on(async {
        let preview = session.preview_sync("canary", false).await?;
        assert_eq!(preview.plan.rollouts.len(), 1, "{:?}", preview.plan.rollouts);
        session.sync("canary", &preview.fingerprint, false, &Silent).await
    });
    let applied = applied.expect("the app's Apply was refused");
    assert!(applied.error.is_none(), "{:?}", applied.error);
    assert!(
        applied.rollouts.iter().any(|line| line.contains("step 1 of 3")),
        "the report says where the rollout stands: {:?}",
        applied.rollouts
    );
    assert!(h.deployment("shop", "web-canary").is_some(), "the app's Apply starts the canary");
    let rollouts = runtime().block_on(session.rollouts("canary")).expect("rollouts");
    assert_eq!(rollouts.len(), 1);
    assert_eq!((rollouts[0].workload.as_str(), rollouts[0].weight), ("web", Some(25)));
    assert_eq!(rollouts[0].actions, [Action::Resume, Action::Promote, Action::Abort]);
    let json = serde_json::to_value(&rollouts[0]).expect("json");
    assert_eq!(json["new"]["images"], json!(["registry.example/web:2.0.0"]));
    // Every button previews first: abort's preview lists the stable Deployment back at 4 on the
    // old image and the canary's deletion, and writes nothing.
    let revisions = || runtime().block_on(session.history("canary")).expect("history").len();
    let before = revisions();
    let preview = runtime()
        .block_on(session.preview_rollout("canary", "web", Action::Abort))
        .expect("preview");
    let changed: Vec<(String, &str)> =
        preview.changes.iter().map(|c| (c.key.to_string(), c.action.as_str())).collect();
    assert_eq!(
        changed,
        [
            ("Deployment.apps shop/web".to_owned(), "update"),
            ("Deployment.apps shop/web-canary".to_owned(), "prune")
        ]
    );
    assert!(preview.changes[0].diff.contains("+  replicas: 4"), "{}", preview.changes[0].diff);
    assert!(preview.message.starts_with("aborted"), "{}", preview.message);
    assert!(h.deployment("shop", "web-canary").is_some(), "a preview deleted the canary");
    assert_eq!(replicas(&h.deployment("shop", "web").expect("web")), 3, "a preview scaled stable");
    assert_eq!(revisions(), before, "a preview was recorded in history");
    // Pause, confirmed on the state its preview saw; the abort previewed before it is then stale.
    let pause = runtime()
        .block_on(session.preview_rollout("canary", "web", Action::Pause))
        .expect("preview");
    assert_eq!(pause.changes.len(), 1, "{:?}", pause.changes);
    assert!(pause.changes[0].diff.contains("+  paused: true"), "{}", pause.changes[0].diff);
    let paused = runtime()
        .block_on(session.rollout("canary", "web", Action::Pause, &pause.fingerprint))
        .expect("pause");
    assert!(paused.paused);
    let stale = runtime()
        .block_on(session.rollout("canary", "web", Action::Abort, &preview.fingerprint))
        .expect_err("the abort was previewed before the pause");
    assert!(stale.message.contains("moved on since the preview"), "{}", stale.message);
    assert!(h.deployment("shop", "web-canary").is_some(), "a stale confirmation aborted");
    let error = runtime()
        .block_on(session.preview_rollout("canary", "nope", Action::Abort))
        .expect_err("not declared");
    assert_eq!(error.code, "rollout-not-declared");
    // The env's detail carries its rollouts (the panel, refreshed by the cluster watch).
    let detail = runtime().block_on(session.detail("canary")).expect("detail");
    assert_eq!(detail.rollouts.len(), 1);
    assert!(detail.rollouts[0].paused);
}

#[test]
fn a_crash_looping_canary_stops_the_wait_with_exit_3_and_abort_recovers() {
    let repo = repo();
    let root = repo.path();
    let h = Harness::new();
    assert_eq!(h.cli(root, &["--sync", "--env", "canary", "--yes", "--wait"]), ExitCode::Ok);
    let broken = "registry.example/web:2.0.0-broken";
    h.memory.fail_pods(
        broken,
        PodFault::CrashLoop { restarts: 4, log: "KeyError: 'MODEL_PATH'\n".into() },
    );
    set_image(root, "canary", "web.yaml", broken);
    assert_eq!(
        h.cli(root, &["--sync", "--env", "canary", "--yes", "--wait"]),
        ExitCode::GateFailed
    );
    let now = status(&h.engine(root), "canary", "web");
    let canary = now.new.as_ref().expect("the canary");
    assert_eq!(canary.health, coxswain::health::Health::Degraded, "{}", canary.message);
    assert!(canary.message.contains("CrashLoopBackOff"), "{}", canary.message);
    assert_eq!(
        (now.phase, now.step),
        (Some(Phase::Progressing), Some(1)),
        "no step past a failing canary"
    );
    insta::assert_snapshot!("canary_status_degraded", now.render_text());
    let now = act(&h.engine(root), "canary", "web", Action::Abort);
    assert_eq!(now.phase, Some(Phase::Aborted));
    let stable = h.deployment("shop", "web").expect("web");
    assert_eq!((replicas(&stable), image(&stable)), (4, "registry.example/web:1.0.0"));
}
