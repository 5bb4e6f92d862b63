//! `coxswain check` over the bundled example repo and the bad-input corpus in
//! tests/fixtures/bad/ (one small repo per case; each case's exact output is a snapshot).

use coxswain::check::{CheckReport, check_repo};
use coxswain::exit::ExitCode;
use coxswain::repo::Repo;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad")
}

fn check(path: &Path) -> CheckReport {
    let repo = Repo::open(path).expect("fixture repo opens");
    check_repo(&repo, None).expect("fixture repo loads")
}

#[test]
fn bundled_example_repo_is_clean() {
    let report = check(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert_eq!(report.exit_code(), ExitCode::Ok, "{}", report.render_text());
    assert_eq!(report.summary.warnings, 0, "{}", report.render_text());
    let names: Vec<_> = report.environments.iter().map(|e| (e.name.as_str(), e.objects)).collect();
    assert_eq!(names, [("dev", 4), ("prod", 6), ("staging", 4)]);
    assert_eq!(report.pipelines[0].stages, ["dev", "staging", "prod"]);
}

#[test]
fn every_bad_input_case_matches_its_snapshot() {
    let mut cases: Vec<_> = std::fs::read_dir(fixture_root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    assert!(cases.len() >= 25, "the corpus has {} cases", cases.len());
    for case in cases {
        let report = check(&fixture_root().join(&case));
        let rendered = format!("exit code: {:?}\n{}", report.exit_code(), report.render_text());
        insta::assert_snapshot!(case, rendered);
    }
}

#[test]
fn clean_cases_stay_clean_and_dirty_cases_fail() {
    for (case, expected) in [
        ("sealed-secret-passes", ExitCode::Ok),
        ("empty-and-comment-only-files", ExitCode::Ok),
        ("policy-missing-probes", ExitCode::GateFailed),
        ("plaintext-secret-data", ExitCode::Error),
    ] {
        assert_eq!(check(&fixture_root().join(case)).exit_code(), expected, "{case}");
    }
}

fn temp_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("environments/dev")).unwrap();
    dir
}

#[cfg(unix)]
#[test]
fn symlinks_escaping_the_repo_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("secret.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .unwrap();
    let repo = temp_repo();
    let env = repo.path().join("environments/dev");
    std::os::unix::fs::symlink(outside.path().join("secret.yaml"), env.join("linked.yaml"))
        .unwrap();
    std::os::unix::fs::symlink(outside.path(), env.join("linked-dir")).unwrap();
    // A symlink that stays inside the repo is fine.
    std::fs::write(
        repo.path().join("shared.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(repo.path().join("shared.yaml"), env.join("shared.yaml")).unwrap();
    let report = check(repo.path());
    let codes: Vec<_> =
        report.environments[0].errors.iter().map(|d| (d.file.as_str(), d.code.as_str())).collect();
    assert_eq!(
        codes,
        [
            ("environments/dev/linked-dir", "path-escapes-repo"),
            ("environments/dev/linked.yaml", "path-escapes-repo")
        ]
    );
    assert_eq!(report.environments[0].objects, 1);
}

#[test]
fn files_over_four_mebibytes_are_refused_unread() {
    let repo = temp_repo();
    let mut big = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n");
    while big.len() <= 4 * 1024 * 1024 {
        big.push_str("  k: vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\n");
    }
    std::fs::write(repo.path().join("environments/dev/big.yaml"), big).unwrap();
    let errors = &check(repo.path()).environments[0].errors;
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].file.as_str(), errors[0].code.as_str()),
        ("environments/dev/big.yaml", "file-too-large")
    );
}

fn coxswain(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_coxswain")).args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn cli_exit_codes_and_json() {
    let root = env!("CARGO_MANIFEST_DIR");
    let (code, stdout, _) = coxswain(&["check", "--repo", root]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("3 environments, 14 objects: 0 errors, 0 policy errors, 0 warnings"),
        "{stdout}"
    );

    let bad = fixture_root().join("policy-image-tags");
    let (code, stdout, _) = coxswain(&["check", "--repo", bad.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 3);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["schemaVersion"], 1);
    assert_eq!(json["summary"]["policyErrors"], 2);
    let first = &json["environments"][0]["findings"][0];
    assert_eq!(first["code"], "image-tag");
    assert_eq!(first["file"], "environments/dev/app.yaml");
    assert_eq!(first["line"], 14);

    let bad = fixture_root().join("missing-name");
    assert_eq!(coxswain(&["check", "--repo", bad.to_str().unwrap()]).0, 1);

    let (code, _, stderr) = coxswain(&["check", "--repo", root, "--env", "qa"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no environment \"qa\""), "{stderr}");

    let (code, _, stderr) = coxswain(&["check", "--repo", "/"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not a Coxswain repo"), "{stderr}");
}

#[test]
fn markdown_report_lists_findings_per_env() {
    let report = check(&fixture_root().join("policy-prod-replicas"));
    insta::assert_snapshot!("markdown-policy-prod-replicas", report.render_markdown());
    let (code, stdout, _) = coxswain(&[
        "check",
        "-o",
        "markdown",
        "--repo",
        fixture_root().join("policy-prod-replicas").to_str().unwrap(),
    ]);
    assert_eq!(code, 3);
    assert_eq!(stdout, report.render_markdown());
}
