//! The `coxswain` binary end to end: the README's main job, validation exit codes, and a full
//! sync against the in-process cluster. Runs with an empty HOME so no real kubeconfig is used.

use std::process::Command;

fn coxswain(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_coxswain"));
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .env_remove("COXSWAIN_CLUSTER")
        .env("CI", "true");
    for (key, value) in envs {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_main_job_without_a_cluster_checks_everything_offline_and_names_the_command() {
    // A dry run that could not reach the cluster checked the offline part, but fails: in CI
    // it would otherwise pass without the plan ever being checked.
    let (code, stdout, stderr) = coxswain(&["--sync", "--dry-run"], &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("No cluster reachable"), "{stdout}");
    assert!(stdout.contains("dev: model iris-classifier"), "{stdout}");
    assert!(
        stderr.contains("the dry run could not reach the cluster of dev, staging, prod")
            && stderr.contains("pass --offline"),
        "{stderr}"
    );
    let (code, _, stderr) = coxswain(&["sync", "--env", "dev", "--dry-run", "-o", "json"], &[]);
    assert_eq!(code, 1, "{stderr}");
    // --offline says a check without a cluster is expected: it does not try one.
    let (code, stdout, stderr) = coxswain(&["--sync", "--dry-run", "--offline"], &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Offline (--offline); checked everything"), "{stdout}");
    assert!(stdout.contains("dev: not contacted (--offline)"), "{stdout}");
    for env in ["dev", "staging", "prod"] {
        assert!(stdout.contains(&format!("{env}: model iris-classifier")), "{stdout}");
        assert!(
            stdout.contains(&format!(
                "coxswain --sync --repo {} --env {env}",
                env!("CARGO_MANIFEST_DIR")
            )),
            "{stdout}"
        );
    }
    // JSON stays one document on stdout; the offline envs are in it.
    let (code, stdout, stderr) =
        coxswain(&["sync", "--env", "dev", "--dry-run", "--offline", "-o", "json"], &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(json["offline"][0]["env"], "dev", "{json}");
    assert!(stderr.contains("Offline (--offline)"), "{stderr}");
    // --offline is for dry runs only.
    let (code, _, stderr) = coxswain(&["--sync", "--offline"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--dry-run"), "{stderr}");
    // Without --dry-run an unreachable cluster is an error, never a silent success.
    let (code, stdout, _) = coxswain(&["--sync", "--env", "dev"], &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("dev: failed: kubeconfig: no kubeconfig found"), "{stdout}");
}

#[cfg(feature = "model-validation")]
#[test]
fn validate_exit_codes() {
    let (code, stdout, _) = coxswain(&["validate"], &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("dev (iris-classifier 1.1.0), compared with staging's model: passed"),
        "{stdout}"
    );

    let (code, stdout, _) = coxswain(
        &[
            "validate",
            "--model",
            "models/iris/candidate-bad/model.onnx",
            "--spec",
            "pipelines/iris.yaml",
            "--against-env",
            "staging",
            "-o",
            "json",
        ],
        &[],
    );
    assert_eq!(code, 3, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let checks = json["validations"][0]["report"]["checks"].as_array().unwrap();
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c["verdict"] == "fail")
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(failed, ["accuracy", "regression vs baseline"]);

    let (code, _, stderr) = coxswain(
        &["validate", "--model", "models/iris/missing.onnx", "--spec", "pipelines/iris.yaml"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("models/iris/missing.onnx"), "{stderr}");
}

#[test]
fn a_full_sync_against_the_in_process_cluster() {
    let (code, stdout, stderr) = coxswain(
        &["--sync", "--env", "dev", "--report", "junit=/dev/null"],
        &[("COXSWAIN_CLUSTER", "memory")],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("Plan: 5 to create, 0 to update, 0 to prune, 0 unchanged."),
        "{stdout}"
    );
    assert!(stdout.contains("dev: synced"), "{stdout}");
    assert!(stderr.contains("dev: recorded revision 1"), "{stderr}");
    let (code, _, stderr) = coxswain(&["sync", "--report", "bogus"], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("expected junit=FILE"), "{stderr}");
}

#[test]
fn kubeconfig_flag_is_used_before_or_after_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-config");
    let missing = missing.to_str().unwrap();
    for args in [
        vec!["--kubeconfig", missing, "sync", "--env", "dev"],
        vec!["sync", "--env", "dev", "--kubeconfig", missing],
    ] {
        let (code, stdout, stderr) = coxswain(&args, &[]);
        assert_eq!(code, 1, "{args:?}: {stdout}{stderr}");
        let expected = format!("dev: failed: kubeconfig: --kubeconfig {missing}: no such file");
        assert!(stdout.contains(&expected), "{args:?}: {stdout}{stderr}");
    }
    // It wins over KUBECONFIG.
    let (_, stdout, _) =
        coxswain(&["sync", "--env", "dev", "--kubeconfig", missing], &[("KUBECONFIG", "/x")]);
    assert!(stdout.contains("--kubeconfig"), "{stdout}");
}

#[test]
fn a_command_option_before_the_command_is_refused_naming_it() {
    for (args, named) in [
        (vec!["-o", "json", "plan"], "--output before the command `plan`"),
        (vec!["--timeout", "10m", "sync", "--env", "dev"], "--timeout before the command `sync`"),
        (vec!["--env", "dev", "plan"], "--env before the command `plan`"),
        (vec!["--sync", "check"], "--sync runs the headless sync"),
    ] {
        let (code, stdout, stderr) = coxswain(&args, &[]);
        assert_eq!(code, 1, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
    // Global options go anywhere.
    let (code, stdout, stderr) = coxswain(&["--repo", ".", "-v", "check", "--env", "dev"], &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn timeouts_are_go_durations() {
    let (code, _, stderr) = coxswain(&["sync", "--env", "dev", "--timeout", "1m30"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("invalid duration \"1m30\""), "{stderr}");
}

#[test]
fn colour_follows_color_and_no_color() {
    let memory = [("COXSWAIN_CLUSTER", "memory")];
    let (code, stdout, stderr) = coxswain(&["plan", "--env", "dev", "--color", "always"], &memory);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("\u{1b}["), "--color always paints even into a pipe: {stdout}");
    for args in [
        vec!["plan", "--env", "dev"],
        vec!["plan", "--env", "dev", "--color", "never"],
        vec!["--color", "auto", "plan", "--env", "dev"],
    ] {
        let (_, stdout, _) = coxswain(&args, &[memory[0], ("NO_COLOR", "1")]);
        assert!(!stdout.contains('\u{1b}'), "{args:?}: {stdout}");
    }
}

#[test]
fn completions_and_man_page_need_no_repo() {
    let empty = tempfile::tempdir().unwrap();
    let repo = empty.path().to_str().unwrap();
    for (shell, marker) in [
        ("bash", "_coxswain()"),
        ("zsh", "#compdef coxswain"),
        ("fish", "complete -c coxswain"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let (code, stdout, stderr) = coxswain(&["completions", shell, "--repo", repo], &[]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(stdout.contains(marker), "{shell}: {stdout}");
        assert!(stdout.contains("rollback") && stdout.contains("kubeconfig"), "{shell}");
    }
    let (code, stdout, stderr) = coxswain(&["man", "--repo", repo], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with(".ie") || stdout.contains(".TH coxswain"), "{stdout}");
    assert!(stdout.contains("sync"), "{stdout}");
}

#[test]
fn version_names_the_commit() {
    let (code, stdout, _) = coxswain(&["--version"], &[]);
    assert_eq!(code, 0);
    let expected = format!("coxswain {} (git ", env!("CARGO_PKG_VERSION"));
    assert!(stdout.starts_with(&expected), "{stdout}");
    let sha = stdout.trim().trim_start_matches(&expected).trim_end_matches(')');
    assert!(
        sha == "unknown" || (sha.len() == 12 && sha.chars().all(|c| c.is_ascii_hexdigit())),
        "{stdout}"
    );
}

#[test]
fn yaml_output_is_the_json_document_in_yaml() {
    let memory = [("COXSWAIN_CLUSTER", "memory")];
    for args in [vec!["check"], vec!["plan", "--env", "dev"], vec!["history", "--env", "dev"]] {
        let mut json_args = args.clone();
        json_args.extend(["-o", "json"]);
        let (code, json, stderr) = coxswain(&json_args, &memory);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        let mut yaml_args = args.clone();
        yaml_args.extend(["-o", "yaml"]);
        let (code, yaml, stderr) = coxswain(&yaml_args, &memory);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        let from_json: serde_json::Value = serde_json::from_str(&json).unwrap();
        let documents = coxswain::yaml::parse_documents(&yaml).expect("valid YAML");
        assert_eq!(documents.len(), 1, "{yaml}");
        assert_eq!(documents[0].value, from_json, "{args:?}:\n{yaml}");
    }
}

#[test]
fn the_environment_is_positional_with_env_kept_as_an_alias() {
    let memory = [("COXSWAIN_CLUSTER", "memory")];
    for (positional, flag) in [
        (vec!["check", "staging", "-o", "json"], vec!["check", "--env", "staging", "-o", "json"]),
        (vec!["plan", "dev", "-o", "json"], vec!["plan", "--env", "dev", "-o", "json"]),
        (vec!["history", "dev", "-o", "json"], vec!["history", "--env", "dev", "-o", "json"]),
        (
            vec!["sync", "dev", "--dry-run", "-o", "json"],
            vec!["sync", "--env", "dev", "--dry-run", "-o", "json"],
        ),
    ] {
        let (code, by_position, stderr) = coxswain(&positional, &memory);
        assert_eq!(code, 0, "{positional:?}: {by_position}{stderr}");
        let (code, by_flag, stderr) = coxswain(&flag, &memory);
        assert_eq!(code, 0, "{flag:?}: {by_flag}{stderr}");
        let by_position: serde_json::Value = serde_json::from_str(&by_position).unwrap();
        let by_flag: serde_json::Value = serde_json::from_str(&by_flag).unwrap();
        assert_eq!(by_position, by_flag, "{positional:?}");
        let text = by_position.to_string();
        assert!(text.contains("\"dev\"") || text.contains("\"staging\""), "{text}");
        // (check also lists the pipelines, which name every stage)
        if positional[0] != "check" {
            assert!(!text.contains("\"prod\""), "{positional:?} named one env: {text}");
        }
    }
    // Both at once, or none where one is needed, is a usage error that names the argument.
    let (code, _, stderr) = coxswain(&["plan", "dev", "--env", "prod"], &memory);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    for command in ["history", "rollback"] {
        let (code, _, stderr) = coxswain(&[command], &memory);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("<ENV>"), "{command}: {stderr}");
    }
    let (code, _, stderr) = coxswain(&["validate", "dev", "--model", "m.onnx"], &[]);
    assert_eq!(code, 2, "{stderr}");
    // --sync keeps --env (a word after it would be a command).
    let (code, stdout, stderr) =
        coxswain(&["--sync", "--env", "dev", "--dry-run", "--offline"], &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("for: dev."), "{stdout}");
}

#[test]
fn version_command_reports_the_server_or_why_not_and_never_fails() {
    let client = format!("client: {} (git ", env!("CARGO_PKG_VERSION"));
    // No kubeconfig (empty HOME): the client line, and why there is no server.
    let (code, stdout, stderr) = coxswain(&["version"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with(&client), "{stdout}");
    assert!(
        stdout.contains("server: unreachable (") && stdout.contains("no kubeconfig"),
        "{stdout}"
    );
    // --client contacts nothing and prints no server line.
    let (code, stdout, _) = coxswain(&["version", "--client", "-o", "json"], &[]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["client"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(json.get("server").is_none(), "{json}");
    // The in-process cluster answers with its own, marked version.
    let memory = [("COXSWAIN_CLUSTER", "memory")];
    let (code, stdout, stderr) = coxswain(&["version", "-o", "yaml"], &memory);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("status: reachable"), "{stdout}");
    assert!(stdout.contains("gitVersion: coxswain-memcluster"), "{stdout}");
}
