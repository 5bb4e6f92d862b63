//! End-to-end tests of `coxswain promote` on temporary git repos: the example repo committed in a
//! work repo whose `origin` is a bare `file://` repo, and a local stand-in for GitHub's API.
//! Every test checks that the user's checkout (HEAD, branches, index, working tree) is untouched.

#[path = "support/forge_server.rs"]
mod forge_server;
mod support;

use coxswain::cluster::Cluster;
use coxswain::promote::forge::{Comment, Forge, ForgeError, NewPullRequest, PullRequest};
use coxswain::promote::{
    ClusterAccess, ForgeAccess, PromoteOptions, PromoteStatus, Services, promote,
};
use coxswain::repo::Repo;
use coxswain_memcluster::MemoryCluster;
use forge_server::{ForgeServer, Mode};
use git2::{BranchType, Oid, Repository, RepositoryInitOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

const BRANCH: &str = "coxswain/promote-staging-iris-classifier-1.1.0";

struct Fixture {
    _dir: tempfile::TempDir,
    work: PathBuf,
    remote: PathBuf,
}

fn push_main(repo: &Repository) {
    repo.find_remote("origin").unwrap().push(&["refs/heads/main:refs/heads/main"], None).unwrap();
}

/// The example repo (environments, pipelines, the iris models) committed on `main` of a work
/// repo, pushed to a bare remote.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let remote = dir.path().join("remote.git");
    let example = support::example_repo();
    support::copy_dir(&example.join("environments"), &work.join("environments"));
    support::copy_dir(&example.join("pipelines"), &work.join("pipelines"));
    support::copy_dir(&example.join("models/iris"), &work.join("models/iris"));
    std::fs::copy(example.join("coxswain.yaml"), work.join("coxswain.yaml")).unwrap();
    let repo =
        Repository::init_opts(&work, RepositoryInitOptions::new().initial_head("main")).unwrap();
    let mut config = repo.config().unwrap();
    config.set_str("user.name", "Test User").unwrap();
    config.set_str("user.email", "test@example.com").unwrap();
    support::commit_all_in(&repo, "Example repo");
    Repository::init_bare(&remote).unwrap().set_head("refs/heads/main").unwrap();
    repo.remote("origin", &format!("file://{}", remote.display())).unwrap();
    push_main(&repo);
    Fixture { _dir: dir, work, remote }
}

/// Edits a file of the work repo, commits it and pushes it, as the user would before promoting.
fn commit_edit(fx: &Fixture, file: &str, from: &str, to: &str, message: &str) {
    let path = fx.work.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
    let repo = Repository::open(&fx.work).unwrap();
    support::commit_all_in(&repo, message);
    push_main(&repo);
}

/// Everything about the user's checkout that a promotion must not change.
#[derive(Debug, PartialEq)]
struct UserState {
    head: Oid,
    head_ref: String,
    branches: Vec<(String, Oid)>,
    status: Vec<(String, u32)>,
    index: Vec<u8>,
}

fn user_state(work: &Path) -> UserState {
    let repo = Repository::open(work).unwrap();
    let head = repo.head().unwrap();
    let mut branches: Vec<(String, Oid)> = repo
        .branches(Some(BranchType::Local))
        .unwrap()
        .map(|b| {
            let (branch, _) = b.unwrap();
            (branch.name().unwrap().unwrap().to_owned(), branch.get().target().unwrap())
        })
        .collect();
    branches.sort();
    let mut options = git2::StatusOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true);
    let status = repo
        .statuses(Some(&mut options))
        .unwrap()
        .iter()
        .map(|s| (s.path().unwrap().to_owned(), s.status().bits()))
        .collect();
    UserState {
        head: head.target().unwrap(),
        head_ref: head.name().unwrap().to_owned(),
        branches,
        status,
        index: std::fs::read(work.join(".git/index")).unwrap(),
    }
}

fn run(fx: &Fixture, forge: &ForgeServer, args: &[&str]) -> Output {
    command(fx, forge, "promote", args)
}

/// `coxswain SUBCOMMAND ARGS…` on the fixture, against the forge stand-in.
fn command(fx: &Fixture, forge: &ForgeServer, subcommand: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coxswain"))
        .arg(subcommand)
        .args(args)
        .arg("--repo")
        .arg(&fx.work)
        .args(["--github-repo", "acme/gitops", "--github-api", &forge.url])
        .env("COXSWAIN_CLUSTER", "memory")
        .env("GITHUB_TOKEN", "test-token")
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_REPOSITORY")
        .env_remove("GITHUB_API_URL")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn remote_branch(fx: &Fixture, name: &str) -> Option<Oid> {
    Repository::open_bare(&fx.remote).unwrap().refname_to_id(&format!("refs/heads/{name}")).ok()
}

fn remote_branches(fx: &Fixture) -> Vec<String> {
    let repo = Repository::open_bare(&fx.remote).unwrap();
    let mut names: Vec<String> = repo
        .branches(Some(BranchType::Local))
        .unwrap()
        .map(|b| b.unwrap().0.name().unwrap().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Filters for values that change from run to run: commit ids and timings.
fn unstable_values() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"\b[0-9a-f]{40}\b", "[commit]"),
        (r"\b[0-9a-f]{12}\b", "[short]"),
        (r"\d+\.\d+ / \d+\.\d+ / \d+\.\d+ ms", "[latencies]"),
        (r"\d+(\.\d+)? ms", "[ms]"),
        (r"\d\.\d+e-\d+", "[small]"),
        (r"\d+ rows/s", "[rate]"),
    ]
}

const EXPECTED_DIFF: &str = "\
diff --git a/environments/staging/env.yaml b/environments/staging/env.yaml
--- a/environments/staging/env.yaml
+++ b/environments/staging/env.yaml
@@ -3,6 +3,6 @@ namespace: iris-staging
 prune: true
 model:
   name: iris-classifier
-  version: 1.0.0
-  path: models/iris/1.0.0/model.onnx
-  sha256: 2967f93509167133a0088ddf610767b4a5c58a9005288839aae8560732929ac2
+  version: 1.1.0
+  path: models/iris/1.1.0/model.onnx
+  sha256: f3e2e503a33969c07baeeb9d8b67f9d5deb2c047265097d56063fd344230242c
diff --git a/environments/staging/iris-server.yaml b/environments/staging/iris-server.yaml
--- a/environments/staging/iris-server.yaml
+++ b/environments/staging/iris-server.yaml
@@ -19,7 +19,7 @@ spec:
     spec:
       containers:
         - name: server
-          image: ghcr.io/acme-ml/iris-server:1.0.0
+          image: ghcr.io/acme-ml/iris-server:1.1.0
           args: [\"--model-dir=/models\", \"--port=8080\"]
           ports:
             - name: http
";

#[test]
fn promote_opens_one_pull_request_and_a_second_run_updates_it() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    let before = user_state(&fx.work);
    let main = remote_branch(&fx, "main").unwrap();

    let output = run(&fx, &forge, &["staging"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("opened pull request #1"), "{}", stdout(&output));

    let tip = remote_branch(&fx, BRANCH).expect("the promotion branch is pushed");
    let remote = Repository::open_bare(&fx.remote).unwrap();
    let commit = remote.find_commit(tip).unwrap();
    assert_eq!(commit.parent_ids().collect::<Vec<_>>(), vec![main], "exactly one commit on main");
    assert_eq!(support::diff_text(&remote, main, tip), EXPECTED_DIFF);
    assert_eq!(remote_branches(&fx), vec![BRANCH.to_owned(), "main".to_owned()]);
    insta::with_settings!({ filters => unstable_values() }, {
        insta::assert_snapshot!("commit_message", commit.message().unwrap());
    });

    assert_eq!(forge.count("POST", "/pulls"), 1);
    let lookup = forge.requests().into_iter().next().unwrap();
    assert_eq!((lookup.method.as_str(), lookup.path.as_str()), ("GET", "/repos/acme/gitops/pulls"));
    for (key, value) in [("state", "open"), ("head", &format!("acme:{BRANCH}")), ("base", "main")] {
        assert!(lookup.query.contains(&(key.to_owned(), value.to_owned())), "{:?}", lookup.query);
    }
    let create = forge.requests().into_iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(create.path, "/repos/acme/gitops/pulls");
    assert_eq!(create.body["head"], BRANCH);
    assert_eq!(create.body["base"], "main");
    assert_eq!(create.body["title"], "Promote dev → staging: iris-classifier 1.1.0, 1 image");
    let body = create.body["body"].as_str().unwrap().to_owned();
    insta::with_settings!({ filters => unstable_values() }, {
        insta::assert_snapshot!("pull_request_body", body);
    });
    assert_eq!(user_state(&fx.work), before, "the user's checkout must not change");

    // Second run: the same branch and pull request, updated in place.
    let output = run(&fx, &forge, &["staging"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("updated pull request #1"), "{}", stdout(&output));
    assert!(stdout(&output).contains("already holds this promotion"), "{}", stdout(&output));
    assert_eq!(remote_branch(&fx, BRANCH), Some(tip), "the branch is not rewritten");
    assert_eq!(forge.count("POST", "/pulls"), 1, "no duplicate pull request");
    assert_eq!(forge.count("PATCH", "/pulls/1"), 1);
    assert_eq!(forge.count("POST", "/issues/1/comments"), 1);
    assert_eq!(forge.pull_count(), 1);
    assert_eq!(user_state(&fx.work), before);
}

#[test]
fn a_new_base_replaces_the_earlier_promotion_commit() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    assert_eq!(run(&fx, &forge, &["staging"]).status.code(), Some(0));
    let first = remote_branch(&fx, BRANCH).unwrap();
    commit_edit(
        &fx,
        "environments/staging/config.yaml",
        "LOG_LEVEL: info",
        "LOG_LEVEL: warn",
        "Quieter staging",
    );
    let main = remote_branch(&fx, "main").unwrap();

    let output = run(&fx, &forge, &["staging"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    let second = remote_branch(&fx, BRANCH).unwrap();
    assert_ne!(second, first);
    let remote = Repository::open_bare(&fx.remote).unwrap();
    assert_eq!(remote.find_commit(second).unwrap().parent_ids().collect::<Vec<_>>(), vec![main]);
    assert_eq!(support::diff_text(&remote, main, second), EXPECTED_DIFF);
    assert_eq!((forge.count("POST", "/pulls"), forge.count("PATCH", "/pulls/1")), (1, 1));
    let comment = forge.requests().into_iter().rfind(|r| r.path.ends_with("/comments")).unwrap();
    assert!(comment.body["body"].as_str().unwrap().contains("the branch now holds"));
}

#[test]
fn a_branch_someone_else_committed_to_is_not_overwritten() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    let repo = Repository::open(&fx.work).unwrap();
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    repo.branch(BRANCH, &head, false).unwrap();
    repo.find_remote("origin")
        .unwrap()
        .push(&[format!("refs/heads/{BRANCH}:refs/heads/{BRANCH}")], None)
        .unwrap();
    repo.find_branch(BRANCH, BranchType::Local).unwrap().delete().unwrap();
    let before = user_state(&fx.work);

    let output = run(&fx, &forge, &["staging"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("has a commit not made by coxswain promote"),
        "{}",
        stderr(&output)
    );
    assert_eq!(remote_branch(&fx, BRANCH), Some(head.id()));
    assert_eq!(forge.count("POST", "/pulls"), 0);
    assert_eq!(user_state(&fx.work), before);
}

#[test]
fn a_worse_model_in_dev_blocks_with_exit_3_and_no_commit() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    commit_edit(
        &fx,
        "environments/dev/env.yaml",
        "  version: 1.1.0\n  path: models/iris/1.1.0/model.onnx\n  sha256: f3e2e503a33969c07baeeb9d8b67f9d5deb2c047265097d56063fd344230242c",
        "  version: 1.2.0\n  path: models/iris/candidate-bad/model.onnx\n  sha256: 216d432c98069a7ad8ca4a3b099945f30d5883674aa9d1b4edef6d142c69ff0b",
        "Try the new candidate in dev",
    );
    let before = user_state(&fx.work);

    let output = run(&fx, &forge, &["staging"]);
    assert_eq!(output.status.code(), Some(3), "{}{}", stdout(&output), stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("blocked: gate modelValidation failed; nothing was committed"), "{text}");
    assert!(text.contains("accuracy: measured 0.6222, threshold ≥ 0.9000"), "{text}");
    assert!(
        text.contains("Model validation: models/iris/candidate-bad/model.onnx"),
        "the report is printed: {text}"
    );
    assert!(text.contains("models/iris/candidate-bad/model.onnx"), "{text}");
    assert_eq!(remote_branches(&fx), vec!["main".to_owned()], "nothing pushed");
    assert_eq!(forge.count("POST", "/pulls"), 0);
    assert_eq!(user_state(&fx.work), before);
}

#[test]
fn a_dirty_working_tree_is_refused_and_left_as_it_is() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    let config = fx.work.join("environments/staging/config.yaml");
    let edited = std::fs::read_to_string(&config).unwrap().replace("info", "debug");
    std::fs::write(&config, &edited).unwrap();
    let before = user_state(&fx.work);
    assert_eq!(before.status.len(), 1);

    let output = run(&fx, &forge, &["staging"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("uncommitted changes (environments/staging/config.yaml)"),
        "{message}"
    );
    assert!(message.contains("commit or stash them first"), "{message}");
    assert_eq!(user_state(&fx.work), before);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
    assert_eq!(remote_branches(&fx), vec!["main".to_owned()]);
    assert!(forge.requests().is_empty());
}

#[test]
fn a_missing_remote_is_named() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    Repository::open(&fx.work).unwrap().remote_delete("origin").unwrap();
    let before = user_state(&fx.work);

    let output = run(&fx, &forge, &["staging"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("no git remote named \"origin\" (remotes: none)"), "{message}");
    assert!(message.contains("--no-push"), "{message}");
    assert_eq!(user_state(&fx.work), before);
    assert!(forge.requests().is_empty());
}

#[test]
fn a_rejected_push_leaves_both_repos_as_they_were() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    // A direct stage pushes to main; someone else pushed to main meanwhile.
    commit_edit(
        &fx,
        "pipelines/iris.yaml",
        "    gates: [modelValidation, policy, dryRun]\n    approval: pullRequest\n  - env: prod",
        "    gates: [modelValidation, policy, dryRun]\n    approval: direct\n  - env: prod",
        "Staging takes promotions directly",
    );
    let other = tempfile::tempdir().unwrap();
    let clone =
        Repository::clone(&format!("file://{}", fx.remote.display()), other.path()).unwrap();
    std::fs::write(other.path().join("README.md"), "someone else's change\n").unwrap();
    support::commit_all_in(&clone, "Someone else's change");
    push_main(&clone);
    let remote_main = remote_branch(&fx, "main").unwrap();
    let before = user_state(&fx.work);

    let output = run(&fx, &forge, &["staging"]);
    assert_eq!(output.status.code(), Some(1), "{}{}", stdout(&output), stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("rejected the push of refs/heads/main"), "{message}");
    assert!(message.contains("`git pull`"), "{message}");
    assert_eq!(remote_branch(&fx, "main"), Some(remote_main));
    assert_eq!(remote_branches(&fx), vec!["main".to_owned()]);
    assert_eq!(user_state(&fx.work), before);
    assert!(forge.requests().is_empty(), "direct stages open no pull request");
}

#[test]
fn approval_direct_pushes_one_commit_to_the_tracked_branch() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    commit_edit(
        &fx,
        "pipelines/iris.yaml",
        "    gates: [modelValidation, policy, dryRun]\n    approval: pullRequest\n  - env: prod",
        "    gates: [modelValidation, policy, dryRun]\n    approval: direct\n  - env: prod",
        "Staging takes promotions directly",
    );
    let main = remote_branch(&fx, "main").unwrap();
    let before = user_state(&fx.work);

    let output = run(&fx, &forge, &["staging"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("(approval: direct)"), "{}", stdout(&output));
    let tip = remote_branch(&fx, "main").unwrap();
    let remote = Repository::open_bare(&fx.remote).unwrap();
    assert_eq!(remote.find_commit(tip).unwrap().parent_ids().collect::<Vec<_>>(), vec![main]);
    assert_eq!(support::diff_text(&remote, main, tip), EXPECTED_DIFF);
    assert_eq!(remote_branches(&fx), vec!["main".to_owned()]);
    assert!(forge.requests().is_empty());
    assert_eq!(user_state(&fx.work), before);
}

#[test]
fn a_refused_token_stops_before_anything_is_pushed() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Unauthorized);
    let before = user_state(&fx.work);

    let output = run(&fx, &forge, &["staging"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("GitHub refused the token (401 Unauthorized): Bad credentials"),
        "{message}"
    );
    assert!(message.contains("nothing was committed or pushed"), "{message}");
    assert_eq!(remote_branches(&fx), vec!["main".to_owned()]);
    assert_eq!(forge.requests().len(), 1, "one lookup, then stop");
    assert_eq!(user_state(&fx.work), before);
}

#[test]
fn a_refused_pull_request_says_the_branch_was_pushed() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::RejectCreate);
    let before = user_state(&fx.work);

    let output = run(&fx, &forge, &["staging"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains(&format!("pushed branch {BRANCH} to origin, but GitHub rejected the request (422 Unprocessable Entity): Validation Failed: No commits between main and the head branch")), "{message}");
    assert!(message.contains("open the pull request by hand"), "{message}");
    assert!(remote_branch(&fx, BRANCH).is_some());
    assert_eq!(forge.count("POST", "/pulls"), 1);
    assert_eq!(user_state(&fx.work), before);
}

#[test]
fn an_up_to_date_target_has_nothing_to_promote() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    commit_edit(
        &fx,
        "environments/staging/env.yaml",
        "  version: 1.0.0\n  path: models/iris/1.0.0/model.onnx\n  sha256: 2967f93509167133a0088ddf610767b4a5c58a9005288839aae8560732929ac2",
        "  version: 1.1.0\n  path: models/iris/1.1.0/model.onnx\n  sha256: f3e2e503a33969c07baeeb9d8b67f9d5deb2c047265097d56063fd344230242c",
        "Staging serves 1.1.0",
    );
    commit_edit(
        &fx,
        "environments/staging/iris-server.yaml",
        "iris-server:1.0.0",
        "iris-server:1.1.0",
        "Staging image 1.1.0",
    );
    let before = user_state(&fx.work);

    let output = run(&fx, &forge, &["staging"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(
        stdout(&output).contains("nothing to promote: staging already has what dev has"),
        "{}",
        stdout(&output)
    );
    assert_eq!(remote_branches(&fx), vec!["main".to_owned()]);
    assert!(forge.requests().is_empty());
    assert_eq!(user_state(&fx.work), before);
}

#[test]
fn no_push_leaves_the_commit_on_a_local_branch_only() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    Repository::open(&fx.work).unwrap().remote_delete("origin").unwrap();
    let before = user_state(&fx.work);

    let output = run(&fx, &forge, &["staging", "--no-push"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(
        stdout(&output).contains(&format!("on local branch {BRANCH} (not pushed)")),
        "{}",
        stdout(&output)
    );
    let after = user_state(&fx.work);
    assert_eq!(
        (after.head, &after.head_ref, &after.status, &after.index),
        (before.head, &before.head_ref, &before.status, &before.index)
    );
    let repo = Repository::open(&fx.work).unwrap();
    let tip = repo.find_branch(BRANCH, BranchType::Local).unwrap().get().target().unwrap();
    assert_eq!(support::diff_text(&repo, before.head, tip), EXPECTED_DIFF);
    assert!(forge.requests().is_empty());
}

#[test]
fn dry_run_shows_the_edits_and_gates_and_commits_nothing() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    let before = user_state(&fx.work);

    let output = run(&fx, &forge, &["staging", "--dry-run"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("-          image: ghcr.io/acme-ml/iris-server:1.0.0\n+          image: ghcr.io/acme-ml/iris-server:1.1.0"), "{text}");
    assert!(text.contains("modelValidation  passed"), "{text}");
    assert!(text.contains("dryRun           passed"), "{text}");
    assert!(text.contains("dry run: nothing was committed or pushed"), "{text}");
    assert_eq!(remote_branches(&fx), vec!["main".to_owned()]);
    assert!(forge.requests().is_empty());
    assert_eq!(user_state(&fx.work), before);
}

/// A forge that records calls, for the library-level test.
#[derive(Default)]
struct RecordingForge {
    created: Mutex<Vec<NewPullRequest>>,
}

#[async_trait::async_trait]
impl Forge for RecordingForge {
    fn name(&self) -> String {
        "Recorder".into()
    }
    async fn find_open(&self, _: &str, _: &str) -> Result<Option<PullRequest>, ForgeError> {
        Ok(None)
    }
    async fn create(&self, request: &NewPullRequest) -> Result<PullRequest, ForgeError> {
        self.created.lock().unwrap().push(request.clone());
        Ok(PullRequest { number: 7, url: "https://forge.example/pull/7".into() })
    }
    async fn update(&self, number: u64, _: &str, _: &str) -> Result<PullRequest, ForgeError> {
        Ok(PullRequest { number, url: String::new() })
    }
    async fn comments(&self, _: u64) -> Result<Vec<Comment>, ForgeError> {
        Ok(Vec::new())
    }
    async fn create_comment(&self, _: u64, body: &str) -> Result<Comment, ForgeError> {
        Ok(Comment { id: 1, body: body.into(), url: String::new() })
    }
    async fn edit_comment(&self, id: u64, body: &str) -> Result<Comment, ForgeError> {
        Ok(Comment { id, body: body.into(), url: String::new() })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dry_run_gate_plans_the_edited_env_against_the_cluster() {
    let fx = fixture();
    // Staging as it runs today, synced from the work repo.
    let cluster = Arc::new(MemoryCluster::new());
    let staging = Repo::open(&fx.work).unwrap().load_env("staging");
    support::apply_directly(&cluster, &staging).await;
    let forge = RecordingForge::default();
    let services = Services {
        forge: ForgeAccess::Ready(&forge),
        cluster: ClusterAccess::Ready(cluster.clone() as Arc<dyn Cluster>),
    };
    let outcome = promote(&fx.work, &PromoteOptions::new("staging"), &services).await.unwrap();

    assert_eq!(outcome.status, PromoteStatus::PullRequestOpened);
    let plan = outcome.gates.plan.as_ref().expect("the dryRun gate ran a plan");
    assert_eq!((plan.summary.create, plan.summary.update), (0, 1), "only the Deployment changes");
    let body = outcome.pull_request_body.as_deref().unwrap();
    assert!(body.contains("| staging | Deployment.apps | iris-server | update |"), "{body}");
    assert!(body.contains("-          image: ghcr.io/acme-ml/iris-server:1.0.0"), "{body}");
    assert!(body.contains("<details><summary>update <code>"), "{body}");
    assert_eq!(forge.created.lock().unwrap().len(), 1);
    assert!(remote_branch(&fx, BRANCH).is_some());
}

#[test]
fn from_picks_another_source_and_json_reports_the_change() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    let before = user_state(&fx.work);

    let output = run(&fx, &forge, &["prod", "--from", "dev", "--dry-run", "-o", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], "dryRun");
    assert_eq!(
        (report["change"]["from"].as_str(), report["change"]["to"].as_str()),
        (Some("dev"), Some("prod"))
    );
    let moved: Vec<(&str, &str)> = report["change"]["moved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["field"].as_str().unwrap(), m["new"].as_str().unwrap()))
        .collect();
    assert_eq!(
        moved,
        vec![
            (
                "Deployment iris-server, container server: image",
                "ghcr.io/acme-ml/iris-server:1.1.0"
            ),
            ("model.version", "1.1.0"),
            ("model.path", "models/iris/1.1.0/model.onnx"),
            ("model.sha256", "f3e2e503a33969c07baeeb9d8b67f9d5deb2c047265097d56063fd344230242c"),
        ]
    );
    assert_eq!(report["branch"], "coxswain/promote-prod-iris-classifier-1.1.0");
    assert_eq!(report["gates"]["results"][0]["status"], "passed");
    assert_eq!(user_state(&fx.work), before);

    let output = run(&fx, &forge, &["prod", "--from", "qa", "--dry-run"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output)
            .contains("no environment \"qa\" to promote from (environments: dev, prod, staging)"),
        "{}",
        stderr(&output)
    );
    let output = run(&fx, &forge, &["prod", "--from", "prod", "--dry-run"]);
    assert!(
        stderr(&output).contains("cannot promote environment \"prod\" from itself"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repo_below_the_git_root_is_promoted_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let root = work.join("deploy");
    let example = support::example_repo();
    for sub in ["environments", "pipelines"] {
        support::copy_dir(&example.join(sub), &root.join(sub));
    }
    support::copy_dir(&example.join("models/iris"), &root.join("models/iris"));
    std::fs::write(work.join("notes.txt"), "untracked files outside environments/ are fine\n")
        .unwrap();
    let repo =
        Repository::init_opts(&work, RepositoryInitOptions::new().initial_head("main")).unwrap();
    let mut index = repo.index().unwrap();
    index.add_all(["deploy"], git2::IndexAddOption::DEFAULT, None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let head = repo
        .commit(
            Some("HEAD"),
            &support::signature(),
            &support::signature(),
            "Deploy repo",
            &tree,
            &[],
        )
        .unwrap();
    let before = user_state(&work);

    let mut options = PromoteOptions::new("staging");
    options.push = false;
    let services = Services {
        forge: ForgeAccess::Unavailable("not needed".into()),
        cluster: ClusterAccess::Ready(Arc::new(MemoryCluster::new()) as Arc<dyn Cluster>),
    };
    let outcome = promote(&root, &options, &services).await.unwrap();

    assert_eq!(outcome.status, PromoteStatus::Committed);
    let tip = repo.find_branch(BRANCH, BranchType::Local).unwrap().get().target().unwrap();
    assert_eq!(outcome.commit, Some(tip.to_string()));
    assert_eq!(
        support::diff_text(&repo, head, tip),
        EXPECTED_DIFF.replace(" a/", " a/deploy/").replace(" b/", " b/deploy/")
    );
    let after = user_state(&work);
    assert_eq!((after.head, after.status, after.index), (before.head, before.status, before.index));
}

#[test]
fn set_image_on_a_protected_env_opens_a_pull_request_touching_only_that_line() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    let before = user_state(&fx.work);
    let main = remote_branch(&fx, "main").unwrap();
    let image = "server=ghcr.io/acme-ml/iris-server:1.2.0";
    let output = command(&fx, &forge, "set", &["image", "iris-server", image, "--env", "prod"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("pull request opened"), "{}", stdout(&output));
    let branch = "coxswain/set-image-server-prod-iris-server";
    let tip = remote_branch(&fx, branch).expect("the branch is pushed");
    let remote = Repository::open_bare(&fx.remote).unwrap();
    assert_eq!(remote.find_commit(tip).unwrap().parent_ids().collect::<Vec<_>>(), vec![main]);
    assert_eq!(remote_branch(&fx, "main"), Some(main), "a protected branch is not committed to");
    let diff = support::diff_text(&remote, main, tip);
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(
        changed,
        vec![
            "-          image: ghcr.io/acme-ml/iris-server:1.0.0",
            "+          image: ghcr.io/acme-ml/iris-server:1.2.0"
        ],
        "{diff}"
    );
    let create = forge.requests().into_iter().find(|r| r.method == "POST").expect("a pull request");
    assert_eq!(
        (create.body["head"].as_str(), create.body["base"].as_str()),
        (Some(branch), Some("main"))
    );
    assert_eq!(user_state(&fx.work), before, "the user's checkout must not change");

    // Again with another image: the same pull request, updated. `--sync` syncs nothing: the
    // change reaches prod once the pull request is merged.
    let image = "server=ghcr.io/acme-ml/iris-server:1.3.0";
    let args = ["image", "iris-server", image, "--env", "prod", "--sync", "--yes"];
    let output = command(&fx, &forge, "set", &args);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("pull request updated"), "{}", stdout(&output));
    assert!(stderr(&output).contains("nothing is synced now"), "{}", stderr(&output));
    assert_eq!(forge.count("POST", "/pulls"), 1);
    assert_eq!(user_state(&fx.work), before);
}

#[test]
fn scale_commits_to_an_unprotected_env_and_refuses_a_workload_an_hpa_scales() {
    let fx = fixture();
    let forge = ForgeServer::start(Mode::Normal);
    let output = command(&fx, &forge, "scale", &["iris-server", "--replicas", "3", "--env", "dev"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("environments/dev/iris-server.yaml:9: Deployment.apps iris-dev/iris-server declares no spec.replicas"),
        "{}",
        stderr(&output)
    );
    commit_edit(
        &fx,
        "environments/dev/iris-server.yaml",
        "  # No spec.replicas: the HorizontalPodAutoscaler below owns the scale.\n",
        "  replicas: 2\n",
        "declare replicas",
    );
    let before = user_state(&fx.work);
    let main = remote_branch(&fx, "main").unwrap();
    let output = command(
        &fx,
        &forge,
        "scale",
        &["iris-server", "--replicas", "3", "--env", "dev", "--no-push"],
    );
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("committed dev/iris-server: 2 → 3"), "{}", stdout(&output));
    let after = user_state(&fx.work);
    assert_eq!(
        (after.head, &after.status, &after.index),
        (before.head, &before.status, &before.index)
    );
    assert!(
        after.branches.iter().any(|(b, _)| b == "coxswain/scale-dev-iris-server"),
        "{:?}",
        after.branches
    );
    assert_eq!(remote_branch(&fx, "main"), Some(main), "--no-push pushes nothing");

    // Pushed, then (--sync) synced from the commit just pushed, as `coxswain sync` would.
    let args = ["iris-server", "--replicas", "3", "--env", "dev", "--sync", "--yes"];
    let output = command(&fx, &forge, "scale", &args);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("pushed dev/iris-server"), "{}", stdout(&output));
    let (out, err) = (stdout(&output), stderr(&output));
    let (edit, synced) = (out.find("pushed dev/iris-server"), out.find("dev: synced"));
    assert!(edit.is_some() && synced.is_some() && edit < synced, "{out}{err}");
    assert!(err.contains("iris-server: healthy (3/3 replicas available)"), "{err}");
    // -o json: one document, the edit and the sync's report (of the local commit: --no-push).
    let args = [
        "iris-server",
        "--replicas",
        "4",
        "--env",
        "dev",
        "--no-push",
        "--sync",
        "--yes",
        "-o",
        "json",
    ];
    let output = command(&fx, &forge, "scale", &args);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("one document");
    assert_eq!((json["status"].as_str(), json["new"].as_str()), (Some("committed"), Some("4")));
    assert_eq!(json["sync"]["environments"][0]["status"].as_str(), Some("synced"), "{json}");
    let tip = remote_branch(&fx, "main").unwrap();
    let remote = Repository::open_bare(&fx.remote).unwrap();
    assert_eq!(remote.find_commit(tip).unwrap().parent_ids().collect::<Vec<_>>(), vec![main]);
    assert!(support::diff_text(&remote, main, tip).contains("+  replicas: 3"));
    assert_eq!(forge.count("POST", "/pulls"), 0, "an unprotected env gets no pull request");
}

/// Replacing an earlier run's promotion branch is a force-with-lease: when the branch moved since
/// it was checked, the push is refused naming both commits and the remote keeps what it had.
#[test]
fn a_promotion_branch_is_replaced_only_if_it_did_not_move() {
    use coxswain::promote::gitops::{Checkout, UserRepo};
    let fx = fixture();
    let branch = "coxswain/promote-lease";
    let remote_ref = format!("refs/heads/{branch}");
    let work = Repository::open(&fx.work).unwrap();
    work.find_remote("origin")
        .unwrap()
        .push(&[format!("refs/heads/main:{remote_ref}")], None)
        .unwrap();
    let user = UserRepo::open(&fx.work).unwrap();
    let remote = user.remote("origin").unwrap();
    let base = user.head().unwrap().oid;
    assert_eq!(remote_branch(&fx, branch), Some(base));
    let checkout = Checkout::create(&user, base).unwrap();
    let ours = checkout.commit(&[], branch, "promotion", &support::signature()).unwrap();

    let stale = ours; // any commit other than the one the remote has
    let error = checkout
        .push(&user, &remote, branch, &remote_ref, Some(stale), None)
        .expect_err("a moved branch must not be replaced");
    let text = error.to_string();
    assert!(text.contains("moved") && text.contains(&base.to_string()), "{text}");
    assert_eq!(remote_branch(&fx, branch), Some(base), "the remote branch changed");

    checkout.push(&user, &remote, branch, &remote_ref, Some(base), None).unwrap();
    assert_eq!(remote_branch(&fx, branch), Some(ours));
}

/// A credential in a remote's URL never shows in an error.
#[test]
fn a_credential_in_the_remote_url_is_never_printed() {
    let fx = fixture();
    let work = Repository::open(&fx.work).unwrap();
    work.remote_set_url("origin", "https://bob:ghp_s3cret@127.0.0.1:9/acme/gitops.git").unwrap();
    let output = run(&fx, &ForgeServer::start(Mode::Normal), &["staging"]);
    let all = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!output.status.success(), "{all}");
    assert!(!all.contains("ghp_s3cret") && !all.contains("bob:"), "{all}");
    assert!(all.contains("https://***@127.0.0.1:9/acme/gitops.git"), "{all}");
}

/// The app's set image: one `Session` call previews the edit (nothing committed), a second
/// commits and pushes it onto an unprotected env's branch; the user's checkout stays as it was.
#[test]
fn the_app_previews_then_pushes_a_set_image() {
    use coxswain::app_api::Session;
    use coxswain::promote::workload::{EditStatus, WorkloadEdit};
    let fx = fixture();
    let before = user_state(&fx.work);
    let main = remote_branch(&fx, "main").unwrap();
    let cluster: Arc<dyn Cluster> = Arc::new(MemoryCluster::new());
    let connector: coxswain::engine::Connector = Arc::new(move |_context| {
        let cluster = cluster.clone();
        Box::pin(async move { Ok(cluster) })
    });
    let session = Session::open(&fx.work, connector).expect("session");
    let edit = || WorkloadEdit::Image {
        container: "server".into(),
        image: "ghcr.io/acme-ml/iris-server:1.2.0".into(),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let detail = runtime.block_on(session.detail("dev")).expect("detail");
    let deployment = detail
        .resources
        .iter()
        .find(|r| r.key.group_kind == "Deployment.apps")
        .and_then(|r| r.editable.clone())
        .expect("the Deployment is editable");
    assert_eq!(deployment.containers[0].name, "server");
    assert_eq!(deployment.replicas, None, "an HPA owns dev's scale");

    let preview =
        runtime.block_on(session.edit_workload("dev", "iris-server", edit(), false)).unwrap();
    assert_eq!(preview.status, EditStatus::DryRun);
    assert!(preview.diff.contains("+          image: ghcr.io/acme-ml/iris-server:1.2.0"));
    assert_eq!(remote_branch(&fx, "main"), Some(main), "a preview pushes nothing");

    let pushed =
        runtime.block_on(session.edit_workload("dev", "iris-server", edit(), true)).unwrap();
    assert_eq!(pushed.status, EditStatus::Pushed);
    let tip = remote_branch(&fx, "main").unwrap();
    let remote = Repository::open_bare(&fx.remote).unwrap();
    assert!(support::diff_text(&remote, main, tip).contains("iris-server:1.2.0"));
    assert_eq!(user_state(&fx.work), before, "the user's checkout must not change");
}
