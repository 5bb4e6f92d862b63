//! Issue #13 item 7: alias expansion is capped per file and per repo load, not only per
//! document, so a manifest of many alias-bomb documents (each harmless alone) fails with a clear
//! error at `file:line` instead of exhausting memory. The documents here stay under go-yaml v2's
//! per-document ratio rule, so only the new caps can stop them. No timing is asserted: the caps
//! bound memory, and the error is the proof that they did.

use coxswain::check::check_repo;
use coxswain::diagnostic::Diagnostic;
use coxswain::repo::Repo;
use std::fmt::Write as _;
use std::path::Path;

/// `count` `ConfigMap`s, each aliasing a 1000-item list 50 times (about 50 000 nodes apiece).
fn bomb_documents(prefix: &str, count: usize) -> String {
    let items = vec!["x"; 1000].join(", ");
    let refs = vec!["*a"; 50].join(", ");
    let mut text = String::new();
    for i in 0..count {
        let _ = write!(
            text,
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {prefix}-{i}\ndata:\n  a: &a [{items}]\n  b: [{refs}]\n"
        );
    }
    text
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn errors(root: &Path) -> Vec<Diagnostic> {
    let repo = Repo::open(root).expect("repo opens");
    let report = check_repo(&repo, None).expect("repo loads");
    report.environments.into_iter().flat_map(|env| env.errors).collect()
}

#[test]
fn a_file_of_many_alias_bomb_documents_stops_at_the_per_file_cap() {
    let dir = tempfile::tempdir().expect("temp dir");
    // 200 documents, as in the report that drove `check` to 6.1 GB.
    write(dir.path(), "environments/dev/bombs.yaml", &bomb_documents("bomb", 200));
    let errors = errors(dir.path());
    let [error] = errors.as_slice() else { panic!("one error expected: {errors:?}") };
    // 19 documents fit in 1 000 000 nodes; the 20th document's `b:` line (8 lines each) fails.
    assert_eq!(error.location(), format!("environments/dev/bombs.yaml:{}", 19 * 8 + 8));
    assert_eq!(error.code, "yaml-syntax");
    assert!(
        error.message.contains("aliases in this file expand to more than 1000000 nodes"),
        "{error:?}"
    );
}

#[test]
fn many_files_share_one_budget_per_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    // 3 envs x 2 files x 15 documents: each file (750 000 nodes) is under the per-file cap,
    // together (4 500 000) far over the 2 000 000 one load may add.
    for env in ["dev", "staging", "prod"] {
        for file in ["a", "b"] {
            write(
                dir.path(),
                &format!("environments/{env}/{file}.yaml"),
                &bomb_documents(file, 15),
            );
        }
    }
    let errors = errors(dir.path());
    assert!(!errors.is_empty(), "the shared budget must run out");
    for error in &errors {
        assert!(error.message.contains("most one load of the repo may add"), "{error:?}");
        assert!(error.file.starts_with("environments/") && error.line > 0, "{error:?}");
    }
    // Loading one env alone is a load of its own, within budget for 2 files of 750 000.
    let repo = Repo::open(dir.path()).expect("repo opens");
    let alone = repo.load(Some("dev")).expect("dev loads");
    assert!(!alone[0].has_errors(), "{:?}", alone[0].diagnostics);
}
