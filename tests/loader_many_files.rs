//! An env of many files is parsed on every core (from 64 files): what comes out must be what a
//! file-by-file load gives — objects in file order, each problem at its own file and line.

use coxswain::repo::{Environment, SourceFile};

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n")
}

#[test]
fn a_hundred_files_load_in_order_with_each_problem_at_its_file() {
    let mut files: Vec<SourceFile> = (0..100)
        .map(|i| SourceFile {
            path: format!("environments/dev/cm-{i:03}.yaml"),
            contents: config_map(&format!("cm-{i:03}")).into_bytes(),
        })
        .collect();
    // An unclosed flow sequence: the parser reports it where the input ends (line 4).
    files[37].contents = b"apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n".to_vec();
    files[80].contents = config_map("cm-010").into_bytes();
    files[90].contents = vec![b'a', b':', b' ', 0xff, b'\n'];

    let env = Environment::from_files("dev", None, &files);

    let names: Vec<&str> = env.objects.iter().map(|o| o.key.name.as_str()).collect();
    let expected: Vec<String> =
        (0..100).filter(|i| ![37, 80, 90].contains(i)).map(|i| format!("cm-{i:03}")).collect();
    assert_eq!(names, expected);
    let problems: Vec<(&str, &str, u32)> =
        env.diagnostics.iter().map(|d| (d.file.as_str(), d.code.as_str(), d.line)).collect();
    assert_eq!(
        problems,
        [
            ("environments/dev/cm-037.yaml", "yaml-syntax", 4),
            ("environments/dev/cm-080.yaml", "duplicate-object", 1),
            ("environments/dev/cm-090.yaml", "not-utf8", 1),
        ],
        "{:#?}",
        env.diagnostics
    );
    let duplicate = &env.diagnostics[1];
    assert!(duplicate.message.contains("environments/dev/cm-010.yaml"), "{}", duplicate.message);
}
