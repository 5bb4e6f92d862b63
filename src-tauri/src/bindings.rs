//! The UI's TypeScript declarations of what the commands send it, generated from the Rust types
//! with `ts-rs` and checked in as `ui/src/lib/generated/bindings.ts`, so the UI and the Rust side
//! cannot drift apart. The derives sit behind the core's `ts` feature, which only this crate's
//! dev-dependency turns on: release builds do not carry them.
//!
//! The test regenerates the file and fails when the checked-in one differs. A command that
//! returns (or streams) a new type adds it to [`ROOTS`]; the types it contains follow.

use crate::commands::RepoState;
use coxswain::app_api::{
    ApiError, EnvDetail, EnvOverview, Preview, RemoteStatus, RepoInfo, RollbackOutcome,
    RolloutPreview,
};
use coxswain::history::Revision;
use coxswain::promote::PromoteOutcome;
use coxswain::promote::workload::{EditOutcome, WorkloadEdit};
use coxswain::sync::{SyncEvent, SyncReport};
use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use ts_rs::{Config, TS, TypeVisitor};

/// The checked-in file, relative to the workspace root.
const FILE: &str = "ui/src/lib/generated/bindings.ts";

/// What rewrites [`FILE`] from the Rust types.
const REFRESH: &str = "COXSWAIN_UPDATE_BINDINGS=1 cargo test --workspace --lib bindings";

/// Every declared type reachable from the commands' results and progress events, by name.
struct Declarations {
    config: Config,
    seen: HashSet<TypeId>,
    by_name: BTreeMap<String, String>,
}

impl TypeVisitor for Declarations {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Primitives, `Option`, `Vec`, … have no declaration; their type parameters are visited
        // on their own.
        if T::output_path().is_none() || !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        let name = T::ident(&self.config);
        let declaration =
            format!("{}export {}\n", T::docs().unwrap_or_default(), T::decl(&self.config));
        // One declaration per name: `serde_json::Value` and ts-rs' stand-in for it are two Rust
        // types with the same one; two different declarations of a name are a mistake.
        if let Some(other) = self.by_name.insert(name.clone(), declaration.clone()) {
            assert_eq!(
                other, declaration,
                "two Rust types are both `{name}` in TypeScript: give one a #[ts(rename = \"…\")]"
            );
        }
        T::visit_dependencies(self);
    }
}

/// The roots: what the commands return, and the progress events they stream.
const ROOTS: &[fn(&mut Declarations)] = &[
    |d| d.visit::<ApiError>(),
    |d| d.visit::<RepoState>(),
    |d| d.visit::<RepoInfo>(),
    |d| d.visit::<EnvOverview>(),
    |d| d.visit::<EnvDetail>(),
    |d| d.visit::<Preview>(),
    |d| d.visit::<SyncEvent>(),
    |d| d.visit::<SyncReport>(),
    |d| d.visit::<Revision>(),
    |d| d.visit::<RollbackOutcome>(),
    |d| d.visit::<RemoteStatus>(),
    |d| d.visit::<PromoteOutcome>(),
    |d| d.visit::<RolloutPreview>(),
    |d| d.visit::<EditOutcome>(),
    |d| d.visit::<coxswain::app_api::PodProblem>(),
    |d| d.visit::<WorkloadEdit>(),
];

/// The whole file: a header, then every declaration in name order.
fn generate() -> String {
    // `u64` (revision numbers) arrives as a JSON number, which `JSON.parse` reads as `number`.
    let config = Config::new().with_large_int("number");
    let mut declarations = Declarations { config, seen: HashSet::new(), by_name: BTreeMap::new() };
    for root in ROOTS {
        root(&mut declarations);
    }
    let mut out = format!(
        "// Generated from the Rust types by src-tauri/src/bindings.rs (ts-rs): do not edit.\n\
         // Refresh: {REFRESH}\n"
    );
    for declaration in declarations.by_name.values() {
        out.push('\n');
        // ts-rs ends the lines before a field's doc comment with a space.
        for line in declaration.lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// The first line where `a` and `b` differ (1-based), with both versions of it.
fn first_difference(a: &str, b: &str) -> Option<(usize, String, String)> {
    let (mut a, mut b) = (a.lines(), b.lines());
    for number in 1.. {
        match (a.next(), b.next()) {
            (None, None) => return None,
            (x, y) if x == y => {}
            (x, y) => {
                let show = |line: Option<&str>| line.unwrap_or("(end of file)").to_owned();
                return Some((number, show(x), show(y)));
            }
        }
    }
    None
}

#[test]
fn checked_in_bindings_match_the_rust_types() {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("src-tauri is in the workspace");
    let file = root.join(FILE);
    let generated = generate();
    if std::env::var_os("COXSWAIN_UPDATE_BINDINGS").is_some() {
        std::fs::create_dir_all(file.parent().expect("FILE has a folder")).expect("create folder");
        std::fs::write(&file, &generated).expect("write the bindings");
        return;
    }
    let checked_in = std::fs::read_to_string(&file).unwrap_or_default();
    if let Some((line, theirs, ours)) = first_difference(&checked_in, &generated) {
        panic!(
            "{FILE} is out of date with the Rust types (first difference at line {line}):\n  \
             checked in: {theirs}\n  generated:  {ours}\nrefresh it with `{REFRESH}`, then run \
             `npm run check` in ui/"
        );
    }
}

#[test]
fn first_difference_names_the_line() {
    assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
    assert_eq!(first_difference("a\nb\n", "a\nc\n"), Some((2, "b".into(), "c".into())));
    assert_eq!(first_difference("a\n", "a\nb\n"), Some((2, "(end of file)".into(), "b".into())));
}
