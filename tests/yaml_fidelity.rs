//! Differential test (issue #14): Coxswain reads every manifest exactly as `kubectl` does.
//!
//! The reference is go-yaml v2 itself, driven by `tests/yaml_reference/main.go` (go-yaml v2 +
//! sigs.k8s.io/yaml's JSON conversion + `encoding/json`, built in GOPATH mode against Debian's
//! `golang-gopkg-yaml.v2-dev`). Every document of `tests/fixtures/yaml11/*.yaml` must give the
//! same JSON; where the reference refuses a file, Coxswain must refuse it too, with a line, and
//! the loader must report it as `file:line`. Fixtures whose first line starts with
//! `# coxswain: stricter` are the deliberate exceptions: kubectl accepts them (duplicate keys, it
//! keeps the last value) and Coxswain refuses them.
//!
//! Without `go` or go-yaml v2 the test is skipped with the reason, unless `CI` or
//! `COXSWAIN_REQUIRE_YAML_REFERENCE` is set: then it fails. `scripts/test` (the README's test
//! command, which CI runs) installs both and sets the latter, so the reference always runs there.

use coxswain::repo::{Environment, SourceFile};
use coxswain::yaml::{ExpansionBudget, parse_manifests};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian's golang-gopkg-yaml.v2-dev puts go-yaml v2 (GOPATH layout).
const GOPATH: &str = "/usr/share/gocode";
const STRICTER: &str = "# coxswain: stricter";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the reference program into the target dir, or says why it cannot.
fn build_reference() -> Result<PathBuf, String> {
    let go_yaml = Path::new(GOPATH).join("src/gopkg.in/yaml.v2/yaml.go");
    if !go_yaml.is_file() {
        return Err(format!(
            "go-yaml v2 is not installed ({} is missing; apt-get install golang-gopkg-yaml.v2-dev)",
            go_yaml.display()
        ));
    }
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let binary = out_dir.join("yaml_reference");
    let output = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(".")
        .current_dir(manifest_dir().join("tests/yaml_reference"))
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOFLAGS", "")
        .env("GOCACHE", out_dir.join("go-build-cache"))
        .output()
        .map_err(|e| format!("cannot run `go` ({e}); apt-get install golang-go"))?;
    // Go and go-yaml are present, so a failed build is a real failure.
    assert!(
        output.status.success(),
        "building the reference failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(binary)
}

/// What the reference made of one file.
enum Reference {
    Docs(Vec<Value>),
    Error(String),
}

fn run_reference(binary: &Path, files: &[PathBuf]) -> Vec<Reference> {
    let output = Command::new(binary).args(files).output().expect("run the reference");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 from the reference");
    let results: Vec<Reference> = stdout
        .lines()
        .map(|line| {
            let mut result: Value = serde_json::from_str(line).expect("a JSON line");
            match result["error"].as_str() {
                Some(error) => Reference::Error(error.to_owned()),
                None => Reference::Docs(match result["docs"].take() {
                    Value::Array(docs) => docs,
                    _ => Vec::new(),
                }),
            }
        })
        .collect();
    assert_eq!(results.len(), files.len(), "one reference line per file");
    results
}

/// Our value as the JSON text the server would get, read back the way the reference's is.
fn as_sent(value: &Value) -> Value {
    serde_json::from_str(&value.to_string()).expect("our JSON reads back")
}

fn reference_required() -> bool {
    ["CI", "COXSWAIN_REQUIRE_YAML_REFERENCE"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "false" && v != "0"))
}

#[test]
fn manifests_read_exactly_as_kubectl_reads_them() {
    let binary = match build_reference() {
        Ok(binary) => binary,
        Err(why) if reference_required() => {
            panic!(
                "the YAML reference is required here (CI or COXSWAIN_REQUIRE_YAML_REFERENCE) but cannot run: {why}"
            )
        }
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifest_dir().join("tests/fixtures/yaml11"))
        .expect("the corpus")
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 80, "the corpus has only {} documents", files.len());
    let references = run_reference(&binary, &files);

    let mut failures = Vec::new();
    let (mut same, mut refused, mut stricter) = (0, 0, 0);
    for (path, reference) in files.iter().zip(references) {
        let name = path.file_name().and_then(|n| n.to_str()).expect("a file name");
        let text = std::fs::read_to_string(path).expect("a UTF-8 fixture");
        let ours = parse_manifests(&text, &ExpansionBudget::default());
        let is_stricter = text.starts_with(STRICTER);
        match (reference, ours) {
            (Reference::Docs(_), Err(error)) if is_stricter => {
                stricter += 1;
                if error.line == 0 {
                    failures.push(format!("{name}: refused without a line: {error:?}"));
                }
            }
            (Reference::Docs(_), Ok(_)) if is_stricter => {
                failures.push(format!("{name}: marked stricter but Coxswain accepts it"));
            }
            (Reference::Docs(expected), Ok(documents)) => {
                let ours: Vec<Value> = documents.iter().map(|d| as_sent(&d.value)).collect();
                if ours == expected {
                    same += 1;
                } else {
                    failures.push(format!(
                        "{name}: different JSON\n  kubectl:  {}\n  coxswain: {}",
                        Value::Array(expected),
                        Value::Array(ours)
                    ));
                }
            }
            (Reference::Docs(expected), Err(error)) => failures.push(format!(
                "{name}: kubectl reads {} but Coxswain refuses it: {error:?}",
                Value::Array(expected)
            )),
            (Reference::Error(why), Ok(documents)) => failures.push(format!(
                "{name}: kubectl refuses it ({why}) but Coxswain reads {}",
                Value::Array(documents.into_iter().map(|d| d.value).collect())
            )),
            (Reference::Error(_), Err(error)) => {
                refused += 1;
                if let Err(problem) = loader_reports_file_and_line(name, &text) {
                    failures.push(format!("{name}: {problem} ({error:?})"));
                }
            }
        }
    }
    eprintln!("{same} read alike, {refused} refused by both, {stricter} refused only by Coxswain");
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// Through the loader, a refused manifest is a `yaml-syntax` error at `file:line`.
fn loader_reports_file_and_line(name: &str, text: &str) -> Result<(), String> {
    let path = format!("environments/dev/{name}");
    let files = [SourceFile { path: path.clone(), contents: text.as_bytes().to_vec() }];
    let env = Environment::from_files("dev", None, &files);
    env.diagnostics
        .iter()
        .find(|d| d.is_error() && d.file == path && d.line > 0 && d.code == "yaml-syntax")
        .map(|_| ())
        .ok_or_else(|| format!("the loader did not report it at a line: {:?}", env.diagnostics))
}
