//! `coxswain plan --comment-pr N` against a local stand-in for GitHub's API: one comment per
//! environment, found again by its marker and edited (never duplicated), cut under GitHub's
//! 65,536-character limit, and a refused token that is never printed.

#[path = "support/forge_server.rs"]
mod forge_server;

use coxswain::promote::forge::GitHub;
use coxswain::promote::plan_comment::{CommentAction, EnvComment, GITHUB_COMMENT_LIMIT, post};
use forge_server::{ForgeServer, Mode};
use std::fmt::Write as _;
use std::process::Command;

fn forge(server: &ForgeServer) -> GitHub {
    GitHub::new(&server.url, "acme/gitops", "test-token").unwrap()
}

fn plan(env: &str, markdown: &str) -> EnvComment {
    EnvComment { env: env.into(), markdown: markdown.into(), noteworthy: true }
}

#[tokio::test]
async fn a_comment_per_env_is_created_then_edited_in_place() {
    let server = ForgeServer::start(Mode::Normal);
    let pr = server.open_pull("feature", "main");
    server.add_comment(pr, "LGTM");
    let first = [
        plan("dev", "### Coxswain plan\n\n**1 to create**\n"),
        plan("prod", "### Coxswain plan\n\n**2 to create**\n"),
    ];
    let posted = post(&forge(&server), pr, &first, None).await.unwrap();
    assert_eq!(
        posted.iter().map(|p| p.action).collect::<Vec<_>>(),
        [CommentAction::Created, CommentAction::Created]
    );
    let comments = server.comments(pr);
    assert_eq!(comments.len(), 3);
    assert_eq!(
        comments[1].body,
        "<!-- coxswain:plan env=dev -->\n### Coxswain plan: `dev`\n\n**1 to create**\n"
    );
    assert!(posted[1].url.ends_with(&format!("#issuecomment-{}", comments[2].id)));

    // The next push: dev changed, prod did not.
    let second = [
        plan("dev", "### Coxswain plan\n\n**3 to create**\n"),
        plan("prod", "### Coxswain plan\n\n**2 to create**\n"),
    ];
    let posted = post(&forge(&server), pr, &second, None).await.unwrap();
    assert_eq!(
        posted.iter().map(|p| p.action).collect::<Vec<_>>(),
        [CommentAction::Updated, CommentAction::Unchanged]
    );
    let after = server.comments(pr);
    assert_eq!(after.len(), 3, "no duplicate: {after:?}");
    assert_eq!(after[0].body, "LGTM");
    assert_eq!(after[1].id, comments[1].id);
    assert!(after[1].body.ends_with("**3 to create**\n"), "{}", after[1].body);
    assert_eq!(after[2], comments[2]);
    assert_eq!(server.count("PATCH", &format!("/comments/{}", comments[1].id)), 1);
    assert_eq!(server.count("PATCH", &format!("/comments/{}", comments[2].id)), 0);
}

#[tokio::test]
async fn the_marker_is_found_past_the_first_page_of_comments() {
    let server = ForgeServer::start(Mode::Normal);
    let pr = server.open_pull("feature", "main");
    for n in 0..150 {
        server.add_comment(pr, &format!("comment {n}"));
    }
    server.add_comment(pr, "<!-- coxswain:plan env=dev -->\nold plan");
    // A quote of the comment is not the comment.
    server.add_comment(pr, "> <!-- coxswain:plan env=dev -->\n> old plan\n\nwhy?");
    let posted = post(&forge(&server), pr, &[plan("dev", "new plan\n")], None).await.unwrap();
    assert_eq!(posted[0].action, CommentAction::Updated);
    let comments = server.comments(pr);
    assert_eq!(comments.len(), 152);
    assert_eq!(comments[150].body, "<!-- coxswain:plan env=dev -->\nnew plan\n");
    assert!(comments[151].body.ends_with("why?"));
}

#[tokio::test]
async fn a_plan_without_changes_opens_no_comment_but_updates_one() {
    let server = ForgeServer::start(Mode::Normal);
    let pr = server.open_pull("feature", "main");
    let quiet = EnvComment { noteworthy: false, ..plan("dev", "No changes.\n") };
    let posted = post(&forge(&server), pr, std::slice::from_ref(&quiet), None).await.unwrap();
    assert_eq!(posted[0].action, CommentAction::Skipped);
    assert!(server.comments(pr).is_empty());
    post(&forge(&server), pr, &[plan("dev", "1 to create\n")], None).await.unwrap();
    let posted = post(&forge(&server), pr, &[quiet], None).await.unwrap();
    assert_eq!(posted[0].action, CommentAction::Updated);
    assert!(server.comments(pr)[0].body.ends_with("No changes.\n"));
}

#[tokio::test]
async fn a_plan_over_the_limit_is_cut_with_a_link_to_the_full_report() {
    let server = ForgeServer::start(Mode::Normal);
    let pr = server.open_pull("feature", "main");
    let mut markdown = String::from("### Coxswain plan\n\n```diff\n");
    for n in 0..5_000 {
        writeln!(markdown, "+  key{n}: {}", "v".repeat(20)).unwrap();
    }
    markdown.push_str("```\n");
    assert!(markdown.len() > 2 * GITHUB_COMMENT_LIMIT);
    let url = "https://github.com/acme/gitops/actions/runs/42";
    for _ in 0..2 {
        let posted =
            post(&forge(&server), pr, &[plan("staging", &markdown)], Some(url)).await.unwrap();
        assert!(posted[0].truncated);
    }
    let comments = server.comments(pr);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(body.chars().count() <= GITHUB_COMMENT_LIMIT);
    assert!(body.starts_with("<!-- coxswain:plan env=staging -->\n"));
    assert!(body.contains("+  key100: "));
    assert!(!body.contains("+  key4999: "));
    assert!(body.contains("more than a GitHub comment holds"), "{}", &body[body.len() - 400..]);
    assert!(body.trim_end().ends_with(url));
}

fn coxswain(server: &ForgeServer, token: &str, args: &[&str]) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_coxswain"))
        .args(args)
        .args(["--github-repo", "acme/gitops", "--github-api", &server.url])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("HOME", home.path())
        .env("COXSWAIN_CLUSTER", "memory")
        .env("GITHUB_TOKEN", token)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_RUN_ID", "42")
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_REPOSITORY")
        .env_remove("GITHUB_API_URL")
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn plan_comment_pr_posts_once_per_env_and_a_rerun_adds_none() {
    let server = ForgeServer::start(Mode::Normal);
    let pr = server.open_pull("feature", "main");
    let number = pr.to_string();
    let args = ["plan", "--comment-pr", &number, "-o", "json"];
    let (code, stdout, stderr) = coxswain(&server, "test-token", &args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(serde_json::from_str::<serde_json::Value>(&stdout).is_ok(), "{stdout}");
    for env in ["dev", "staging", "prod"] {
        assert!(stderr.contains(&format!("{env}: plan comment created: https://")), "{stderr}");
    }
    let comments = server.comments(pr);
    let markers: Vec<&str> = comments.iter().filter_map(|c| c.body.lines().next()).collect();
    assert_eq!(
        markers,
        [
            "<!-- coxswain:plan env=dev -->",
            "<!-- coxswain:plan env=staging -->",
            "<!-- coxswain:plan env=prod -->"
        ]
    );
    assert!(comments[0].body.contains("### Coxswain plan: `dev`"), "{}", comments[0].body);
    assert!(
        comments[0].body.contains("| dev | Deployment.apps | iris-server | create |"),
        "{}",
        comments[0].body
    );

    let (code, _, stderr) = coxswain(&server, "test-token", &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("dev: plan comment already up to date"), "{stderr}");
    assert_eq!(server.comments(pr), comments);
}

#[test]
fn a_refused_token_fails_the_plan_without_printing_the_token() {
    let server = ForgeServer::start(Mode::Normal);
    let pr = server.open_pull("feature", "main").to_string();
    let secret = "ghs_secret0123456789";
    let (code, stdout, stderr) =
        coxswain(&server, secret, &["plan", "--env", "dev", "--comment-pr", &pr]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("refused the token (401 Unauthorized)"), "{stderr}");
    assert!(stderr.contains("GITHUB_TOKEN"), "{stderr}");
    assert!(!stderr.contains(secret) && !stdout.contains(secret));

    let (code, _, stderr) = coxswain(&server, "", &["plan", "--env", "dev", "--comment-pr", &pr]);
    assert_eq!(code, 1);
    assert!(stderr.contains("needs GitHub access: set GITHUB_TOKEN (or GH_TOKEN)"), "{stderr}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_plan_that_fails_replaces_the_earlier_plan_on_the_pull_request() {
    let server = ForgeServer::start(Mode::Normal);
    let pr = server.open_pull("feature", "main").to_string();
    let repo = tempfile::tempdir().unwrap();
    for folder in ["environments", "pipelines", "models"] {
        copy_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder),
            &repo.path().join(folder),
        );
    }
    let root = repo.path().to_str().unwrap();
    let args = ["plan", "dev", "--comment-pr", &pr, "--repo", root];
    let (code, _, stderr) = coxswain(&server, "test-token", &args);
    assert_eq!(code, 0, "{stderr}");
    let broken = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n";
    std::fs::write(repo.path().join("environments/dev/broken.yaml"), broken).unwrap();
    let (code, stdout, stderr) = coxswain(&server, "test-token", &args);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("dev: plan comment updated"), "{stderr}");
    assert!(stderr.contains("environments/dev/broken.yaml"), "{stderr}");
    let comments = server.comments(pr.parse().unwrap());
    assert_eq!(comments.len(), 1, "{comments:?}");
    let body = &comments[0].body;
    assert!(body.contains("The plan could not be made"), "{body}");
    assert!(body.contains("environments/dev/broken.yaml"), "{body}");
    assert!(!body.contains("| dev | Deployment.apps"), "{body}");
}
