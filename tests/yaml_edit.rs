//! Format-preserving scalar edits: every test checks the exact bytes of the result (only the
//! edited values differ) and snapshots the whole edited file.

use coxswain::yaml_edit::{
    DocumentInfo, YamlEditError, YamlPath, find_document, find_documents, get_scalar, set_scalar,
    set_scalars,
};

fn path(document: usize, s: &str) -> YamlPath {
    YamlPath::parse(document, s).unwrap_or_else(|e| panic!("{e}"))
}

fn set(text: &str, edits: &[(usize, &str, &str)]) -> String {
    let edits: Vec<(YamlPath, String)> =
        edits.iter().map(|&(doc, p, v)| (path(doc, p), v.to_owned())).collect();
    set_scalars(text, &edits).unwrap_or_else(|e| panic!("{e}"))
}

fn get(text: &str, document: usize, p: &str) -> Option<String> {
    get_scalar(text, &path(document, p)).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str, edits: &[(usize, &str, &str)]) -> YamlEditError {
    let edits: Vec<(YamlPath, String)> =
        edits.iter().map(|&(doc, p, v)| (path(doc, p), v.to_owned())).collect();
    match set_scalars(text, &edits) {
        Ok(out) => panic!("expected an error, got:\n{out}"),
        Err(e) => e,
    }
}

/// `original` with each `(old, new)` fragment replaced; each `old` must occur exactly once, so
/// the comparison with the edited text proves that no other byte changed.
fn replaced(original: &str, replacements: &[(&str, &str)]) -> String {
    let mut out = original.to_owned();
    for (old, new) in replacements {
        assert_eq!(out.matches(old).count(), 1, "`{old}` must occur exactly once");
        out = out.replacen(old, new, 1);
    }
    out
}

/// Makes carriage returns and a missing final newline visible in snapshots.
fn visible(text: &str) -> String {
    let mut out = text.replace('\r', "␍");
    if !text.ends_with('\n') {
        out.push_str("⟨no newline at end of file⟩");
    }
    out
}

const DEPLOYMENT: &str = r#"# Iris model server — dev environment.
# Managed by Coxswain; edit freely, comments are kept.
apiVersion: apps/v1   # apps group
kind: Deployment
metadata:
  name: iris-server     # the Service selects on this
  namespace: dev
  labels:
    app.kubernetes.io/name: iris
    "app.kubernetes.io/version": "1.4.2"

spec:
  replicas: 2    # scale with load
  selector:
    matchLabels: {app: iris}
  template:
    metadata:
      labels:
        app: iris
    spec:
      containers:
        # The model server.
        - name: server
          image: registry.example.com/iris-server:1.4.2   # promoted by Coxswain
          ports:
            - containerPort: 8080
        # Sidecar: not promoted.
        - name: metrics
          image: registry.example.com/metrics:0.9
"#;

#[test]
fn deployment_with_comments_changes_only_the_image_tag() {
    let image = "spec.template.spec.containers[0].image";
    assert_eq!(
        get(DEPLOYMENT, 0, image).as_deref(),
        Some("registry.example.com/iris-server:1.4.2")
    );

    let edited = set(DEPLOYMENT, &[(0, image, "registry.example.com/iris-server:1.5.0")]);

    assert_eq!(edited, replaced(DEPLOYMENT, &[("iris-server:1.4.2", "iris-server:1.5.0")]));
    assert_eq!(get(&edited, 0, image).as_deref(), Some("registry.example.com/iris-server:1.5.0"));
    assert_eq!(
        get(&edited, 0, "spec.template.spec.containers[1].image").as_deref(),
        Some("registry.example.com/metrics:0.9")
    );
    insta::assert_snapshot!(visible(&edited));
}

#[test]
fn quoted_label_key_with_dots_is_addressable() {
    let label = r#"metadata.labels["app.kubernetes.io/version"]"#;
    assert_eq!(get(DEPLOYMENT, 0, label).as_deref(), Some("1.4.2"));
    let edited = set(DEPLOYMENT, &[(0, label, "1.5.0")]);
    assert_eq!(
        edited,
        replaced(
            DEPLOYMENT,
            &[(
                r#""app.kubernetes.io/version": "1.4.2""#,
                r#""app.kubernetes.io/version": "1.5.0""#
            )]
        )
    );
}

const MULTI: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: iris-server
spec:
  selector: {app: iris}
  ports: [{port: 80, targetPort: 8080}]
---
# The Deployment is the second document.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: iris-server
spec:
  template:
    spec:
      containers:
        - name: server
          image: registry.example.com/iris-server:1.4.2
---
apiVersion: v1
kind: ConfigMap
metadata: {name: iris-config, namespace: dev}
data:
  image: registry.example.com/iris-server:1.4.2   # same text, other document: not edited
";

#[test]
fn multi_document_file_edits_only_the_second_document() {
    let index = find_document(MULTI, "Deployment", "iris-server").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(index, Some(1));
    assert_eq!(find_document(MULTI, "Deployment", "other"), Ok(None));

    let image = "spec.template.spec.containers[0].image";
    let edited = set(MULTI, &[(1, image, "registry.example.com/iris-server:1.5.0")]);

    assert_eq!(
        edited,
        replaced(
            MULTI,
            &[(
                "image: registry.example.com/iris-server:1.4.2\n---",
                "image: registry.example.com/iris-server:1.5.0\n---"
            )]
        )
    );
    assert_eq!(
        get(&edited, 2, "data.image").as_deref(),
        Some("registry.example.com/iris-server:1.4.2")
    );
    insta::assert_snapshot!(visible(&edited));
}

/// index, line, kind, name, namespace
type Summary<'a> = (usize, usize, Option<&'a str>, Option<&'a str>, Option<&'a str>);

#[test]
fn find_documents_lists_kubernetes_identities() {
    let docs = find_documents(MULTI).unwrap_or_else(|e| panic!("{e}"));
    let summary: Vec<Summary<'_>> = docs
        .iter()
        .map(|d: &DocumentInfo| {
            (d.index, d.line, d.kind.as_deref(), d.name.as_deref(), d.namespace.as_deref())
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, 1, Some("Service"), Some("iris-server"), None),
            (1, 8, Some("Deployment"), Some("iris-server"), None),
            (2, 20, Some("ConfigMap"), Some("iris-config"), Some("dev")),
        ]
    );
    let twice = format!("{MULTI}---\nkind: Deployment\nmetadata:\n  name: iris-server\n");
    let e = find_document(&twice, "Deployment", "iris-server");
    assert!(
        matches!(e, Err(YamlEditError::DuplicateDocument { first_line: 8, line: 26, .. })),
        "{e:?}"
    );
}

const ANCHORS: &str = "\
defaults:
  image: &server-image registry.example.com/iris-server:1.4.2  # anchored here
  env: &env
    LOG_LEVEL: info
canary:
  image: *server-image   # alias: shares the value above
  env: *env
";

#[test]
fn anchored_value_is_editable_and_keeps_its_anchor() {
    assert_eq!(
        get(ANCHORS, 0, "canary.image").as_deref(),
        Some("registry.example.com/iris-server:1.4.2")
    );
    assert_eq!(get(ANCHORS, 0, "canary.env.LOG_LEVEL").as_deref(), Some("info"));

    let edited = set(ANCHORS, &[(0, "defaults.image", "registry.example.com/iris-server:1.5.0")]);
    assert_eq!(
        edited,
        replaced(
            ANCHORS,
            &[(
                "server-image registry.example.com/iris-server:1.4.2",
                "server-image registry.example.com/iris-server:1.5.0"
            )]
        )
    );
    // The alias now reads the new value, as YAML means.
    assert_eq!(
        get(&edited, 0, "canary.image").as_deref(),
        Some("registry.example.com/iris-server:1.5.0")
    );
    insta::assert_snapshot!(visible(&edited));
}

#[test]
fn aliases_are_refused() {
    let alias = err(ANCHORS, &[(0, "canary.image", "x")]);
    assert!(
        matches!(&alias, YamlEditError::AliasValue { line: 6, anchor_line: 2, name, .. } if name == "server-image"),
        "{alias:?}"
    );
    let through = err(ANCHORS, &[(0, "canary.env.LOG_LEVEL", "debug")]);
    assert!(matches!(through, YamlEditError::AliasInPath { line: 7, .. }), "{through:?}");
    insta::assert_snapshot!(format!("{alias}\n\n{through}"));
}

const FLOW: &str = "\
resources: {limits: {cpu: '2', memory: 4Gi}, requests: {cpu: 500m}}
args: [--model, /models/iris/v3/model.onnx, \"--port\", '8080']
matrix: [[a, b], {k: v}]
";

#[test]
fn flow_mappings_and_sequences_are_edited_in_place() {
    let edited = set(
        FLOW,
        &[
            (0, "resources.limits.memory", "8Gi"),
            (0, "resources.limits.cpu", "4"),
            (0, "args[1]", "/models/iris/v4/model.onnx"),
            (0, "args[3]", "9090"),
            (0, "matrix[0][1]", "c"),
            (0, "matrix[1].k", "w, with comma"),
        ],
    );
    assert_eq!(
        edited,
        "resources: {limits: {cpu: '4', memory: 8Gi}, requests: {cpu: 500m}}\n\
         args: [--model, /models/iris/v4/model.onnx, \"--port\", '9090']\n\
         matrix: [[a, c], {k: \"w, with comma\"}]\n"
    );
    insta::assert_snapshot!(visible(&edited));
}

const QUOTED: &str = r#"single: 'it''s here'    # single-quoted
double: "say \"hi\""    # double-quoted
version: v1.9           # a plain string
replicas: 2             # a plain int
ratio: 0.5
enabled: yes            # YAML 1.1 bool
owner: team-a
note: fine
"#;

#[test]
fn quoting_styles_are_kept_and_plain_values_quoted_when_needed() {
    let edited = set(
        QUOTED,
        &[
            (0, "single", "Bob's model"),
            (0, "double", r#"path "C:\models""#),
            (0, "version", "1.10"),
            (0, "replicas", "3"),
            (0, "ratio", "0.75"),
            (0, "enabled", "no"),
            (0, "owner", "null"),
            (0, "note", "yes"),
        ],
    );
    assert_eq!(
        edited,
        replaced(
            QUOTED,
            &[
                ("'it''s here'", "'Bob''s model'"),
                (r#""say \"hi\"""#, r#""path \"C:\\models\"""#),
                ("v1.9", "\"1.10\""),
                ("replicas: 2", "replicas: 3"),
                ("0.5", "0.75"),
                ("enabled: yes", "enabled: no"),
                ("team-a", "\"null\""),
                ("note: fine", "note: \"yes\""),
            ]
        )
    );
    for (p, v) in [
        ("single", "Bob's model"),
        ("double", r#"path "C:\models""#),
        ("version", "1.10"),
        ("owner", "null"),
    ] {
        assert_eq!(get(&edited, 0, p).as_deref(), Some(v));
    }
    insta::assert_snapshot!(visible(&edited));
}

#[test]
fn crlf_line_endings_are_kept() {
    let crlf = DEPLOYMENT.replace('\n', "\r\n");
    let image = "spec.template.spec.containers[0].image";
    let edited = set(
        &crlf,
        &[(0, image, "registry.example.com/iris-server:1.5.0"), (0, "spec.replicas", "3")],
    );
    assert_eq!(
        edited,
        replaced(
            &crlf,
            &[("iris-server:1.4.2   #", "iris-server:1.5.0   #"), ("replicas: 2", "replicas: 3")]
        )
    );
    assert_eq!(edited.matches("\r\n").count(), edited.matches('\n').count());
    insta::assert_snapshot!(visible(&edited));
}

#[test]
fn missing_final_newline_stays_missing() {
    let text = "model:\n  version: 'v3'\n  path: s3://models/iris/v3";
    let edited = set(text, &[(0, "model.path", "s3://models/iris/v4"), (0, "model.version", "v4")]);
    assert_eq!(edited, "model:\n  version: 'v4'\n  path: s3://models/iris/v4");
    insta::assert_snapshot!(visible(&edited));
}

#[test]
fn non_ascii_before_the_value_does_not_shift_offsets() {
    let text = "\u{FEFF}# Modèle « iris » — équipe données 日本語 🚀\n\
                owner: \"Zoë\"   # propriétaire\n\
                # ✓ promu automatiquement\n\
                model: {path: s3://modèles/iris/v3, sha256: e3b0c442}   # ü\n";
    let edited = set(text, &[(0, "model.path", "s3://modèles/iris/v4"), (0, "owner", "Łukasz")]);
    assert_eq!(
        edited,
        replaced(
            text,
            &[("s3://modèles/iris/v3", "s3://modèles/iris/v4"), ("\"Zoë\"", "\"Łukasz\"")]
        )
    );
    insta::assert_snapshot!(visible(&edited));
}

const ENV: &str = "\
# environments/staging/env.yaml
name: staging
model: { path: s3://models/iris/v3/model.onnx, sha256: 9f86d081884c7d65, version: \"3\" }  # promoted together
images:
  server: registry.example.com/iris-server:1.4.2
";

#[test]
fn env_yaml_model_path_and_sha_change_together() {
    let edited = set(
        ENV,
        &[
            (0, "model.path", "s3://models/iris/v4/model.onnx"),
            (0, "model.sha256", "2c26b46b68ffc68f"),
            (0, "model.version", "4"),
        ],
    );
    assert_eq!(
        edited,
        replaced(
            ENV,
            &[
                ("v3/model.onnx", "v4/model.onnx"),
                ("9f86d081884c7d65", "2c26b46b68ffc68f"),
                ("version: \"3\"", "version: \"4\""),
            ]
        )
    );
    insta::assert_snapshot!(visible(&edited));
}

#[test]
fn unchanged_values_leave_the_text_byte_identical() {
    let crlf = QUOTED.replace('\n', "\r\n");
    // `ratio: 0.5` would be rewritten differently if it changed; unchanged, nothing moves.
    let same = set(&crlf, &[(0, "single", "it's here"), (0, "ratio", "0.5"), (0, "replicas", "2")]);
    assert_eq!(same, crlf);
    let image = "spec.template.spec.containers[0].image";
    let same = set(DEPLOYMENT, &[(0, image, "registry.example.com/iris-server:1.4.2")]);
    assert_eq!(same, DEPLOYMENT);
    assert_eq!(set_scalars(DEPLOYMENT, &[]).as_deref(), Ok(DEPLOYMENT));
}

#[test]
fn multi_line_values_are_replaced_whole() {
    let text = "a: first\n  continued   # c\nb: \"one\n  two\"\nc: x\n";
    assert_eq!(get(text, 0, "a").as_deref(), Some("first continued"));
    let edited = set(text, &[(0, "a", "single"), (0, "b", "q")]);
    assert_eq!(edited, "a: single   # c\nb: \"q\"\nc: x\n");
}

#[test]
fn tags_and_anchors_before_the_value_are_kept() {
    let text = "a: !!str &x\n  # why\n  '1.4'\nb: *x\n";
    let edited = set(text, &[(0, "a", "1.5")]);
    assert_eq!(edited, "a: !!str &x\n  # why\n  '1.5'\nb: *x\n");
}

#[test]
fn errors_name_the_path_and_line() {
    let image = "spec.template.spec.containers[0].image";
    let cases = [
        err(DEPLOYMENT, &[(0, "spec.template.spec.containers[0].imagePullPolicy", "Always")]),
        err(DEPLOYMENT, &[(0, "spec.template.spec.containers[5].image", "x")]),
        err(DEPLOYMENT, &[(0, "spec.replicas.count", "x")]),
        err(DEPLOYMENT, &[(0, "spec.template", "x")]),
        err(DEPLOYMENT, &[(0, "spec.template.spec.containers", "x")]),
        err(DEPLOYMENT, &[(1, image, "x")]),
        err(DEPLOYMENT, &[(0, image, "a"), (0, image, "b")]),
        err("script: |\n  echo hi\n", &[(0, "script", "x")]),
        err("a: 1\nempty:\nb: 2\n", &[(0, "empty", "x")]),
        err("a: 1\nb: 2\na: 3\n", &[(0, "a", "x")]),
        err("base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n", &[(0, "child.x", "5")]),
        err("a: [1, 2\nb: 3\n", &[(0, "a[0]", "x")]),
    ];
    let rendered: Vec<String> = cases.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(rendered.join("\n\n"));
    assert!(matches!(cases[0], YamlEditError::PathNotFound { line: 23, .. }), "{:?}", cases[0]);
    assert!(matches!(cases[3], YamlEditError::NotAScalar { found: "mapping", .. }));
    assert!(matches!(cases[4], YamlEditError::NotAScalar { found: "sequence", line: 21, .. }));
    assert!(matches!(cases[7], YamlEditError::BlockScalar { line: 1, .. }));
    assert!(matches!(cases[8], YamlEditError::EmptyValue { line: 2, .. }));
    assert!(matches!(cases[9], YamlEditError::DuplicateKey { first_line: 1, line: 3, .. }));
    assert!(matches!(cases[11], YamlEditError::Syntax { .. }));
}

#[test]
fn one_bad_edit_refuses_the_whole_call() {
    let image = "spec.template.spec.containers[0].image";
    let e =
        err(DEPLOYMENT, &[(0, image, "registry.example.com/iris-server:9"), (0, "spec.nope", "x")]);
    assert!(matches!(e, YamlEditError::PathNotFound { .. }));
}

#[test]
fn get_scalar_reports_missing_paths_as_none() {
    assert_eq!(get(DEPLOYMENT, 0, "spec.nope"), None);
    assert_eq!(get(DEPLOYMENT, 0, "spec.template.spec.containers[9]"), None);
    assert_eq!(get("a: [x]\n", 0, "a[0]").as_deref(), Some("x"));
    assert!(matches!(
        get_scalar(DEPLOYMENT, &path(3, "kind")),
        Err(YamlEditError::DocumentNotFound { count: 1, .. })
    ));
    assert!(matches!(
        get_scalar(DEPLOYMENT, &path(0, "spec")),
        Err(YamlEditError::NotAScalar { .. })
    ));
    assert_eq!(set_scalar("a: 1\n", &path(0, "a"), "2").as_deref(), Ok("a: 2\n"));
}

mod properties {
    //! Generated files: editing any value must read back as the new value and leave every other
    //! value as it was; arbitrary and truncated input must give errors, never panics.

    use super::*;
    use proptest::prelude::*;
    use proptest::sample::Index;

    #[derive(Debug, Clone, Copy)]
    enum Style {
        Plain,
        Single,
        Double,
    }

    #[derive(Debug, Clone)]
    enum Node {
        Scalar(String, Style),
        Map(Vec<(String, Node)>, bool),
        Seq(Vec<Node>, bool),
    }

    fn scalar() -> impl Strategy<Value = Node> {
        prop_oneof![
            "[a-z0-9][a-z0-9./_-]{0,10}".prop_map(|s| Node::Scalar(s, Style::Plain)),
            "[ -~éü日😀]{0,10}".prop_map(|s| Node::Scalar(s, Style::Single)),
            "[ -~éü日😀]{0,10}".prop_map(|s| Node::Scalar(s, Style::Double)),
        ]
    }

    fn dedup(entries: Vec<(String, Node)>) -> Vec<(String, Node)> {
        let mut seen = std::collections::HashSet::new();
        entries.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect()
    }

    fn document() -> impl Strategy<Value = Node> {
        let tree = scalar().prop_recursive(4, 40, 4, |inner| {
            prop_oneof![
                (prop::collection::vec(("[a-z]{1,4}", inner.clone()), 1..4), any::<bool>())
                    .prop_map(|(entries, flow)| Node::Map(dedup(entries), flow)),
                (prop::collection::vec(inner, 1..4), any::<bool>())
                    .prop_map(|(items, flow)| Node::Seq(items, flow)),
            ]
        });
        prop::collection::vec(("[a-z]{1,4}", tree), 1..5)
            .prop_map(|entries| Node::Map(dedup(entries), false))
    }

    fn new_value() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "1.10",
                "yes",
                "null",
                "~",
                "",
                " lead",
                "trail ",
                "a: b",
                "a:b",
                "#x",
                "x #y",
                "-",
                "- x",
                "-x",
                "?x",
                ":x",
                "[a]",
                "{a}",
                "a,b",
                "*x",
                "&x",
                "!x",
                "|",
                ">",
                "'q'",
                "\"dq\"",
                "tab\there",
                "line\nbreak",
                "cr\r",
                "\u{85}",
                "\u{FEFF}bom",
                "é日本😀",
                "---",
                "...",
                "\\back",
                "0644",
                "2024-01-31",
                "<<",
                "%x",
                "@x",
                "`x",
            ])
            .prop_map(str::to_owned),
            "\\PC{0,12}",
            "[\\x00-\\x1f\\x7f-\\x9f a]{0,4}",
            "[a-z0-9:./-]{1,12}",
        ]
    }

    fn scalar_text(value: &str, style: Style) -> String {
        match style {
            Style::Plain => value.to_owned(),
            Style::Single => format!("'{}'", value.replace('\'', "''")),
            Style::Double => format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")),
        }
    }

    fn flow(node: &Node, at: &YamlPath, leaves: &mut Vec<(YamlPath, String)>) -> String {
        match node {
            Node::Scalar(value, style) => {
                leaves.push((at.clone(), value.clone()));
                scalar_text(value, *style)
            }
            Node::Map(entries, _) => {
                let parts: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", flow(v, &at.clone().key(k.clone()), leaves)))
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            Node::Seq(items, _) => {
                let parts: Vec<String> = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| flow(v, &at.clone().index(i), leaves))
                    .collect();
                format!("[{}]", parts.join(", "))
            }
        }
    }

    /// Writes `node` as the value after `key:` or `-`, comments included.
    fn value(
        node: &Node,
        indent: usize,
        at: &YamlPath,
        out: &mut String,
        leaves: &mut Vec<(YamlPath, String)>,
    ) {
        match node {
            Node::Scalar(..) | Node::Map(_, true) | Node::Seq(_, true) => {
                out.push(' ');
                out.push_str(&flow(node, at, leaves));
                out.push_str("  # note é\n");
            }
            Node::Map(..) | Node::Seq(..) => {
                out.push_str("   # nested\n");
                block(node, indent + 2, at, out, leaves);
            }
        }
    }

    fn block(
        node: &Node,
        indent: usize,
        at: &YamlPath,
        out: &mut String,
        leaves: &mut Vec<(YamlPath, String)>,
    ) {
        let pad = " ".repeat(indent);
        match node {
            Node::Map(entries, _) => {
                for (k, v) in entries {
                    out.push_str(&pad);
                    out.push_str(k);
                    out.push(':');
                    value(v, indent, &at.clone().key(k.clone()), out, leaves);
                }
            }
            Node::Seq(items, _) => {
                for (i, v) in items.iter().enumerate() {
                    out.push_str(&pad);
                    out.push_str("# item\n");
                    out.push_str(&pad);
                    out.push('-');
                    value(v, indent, &at.clone().index(i), out, leaves);
                }
            }
            Node::Scalar(..) => value(node, indent, at, out, leaves),
        }
    }

    fn render(doc: &Node, crlf: bool) -> (String, Vec<(YamlPath, String)>) {
        let mut out = String::from("# generated — ünïcode\n");
        let mut leaves = Vec::new();
        block(doc, 0, &YamlPath::root(0), &mut out, &mut leaves);
        if crlf {
            out = out.replace('\n', "\r\n");
        }
        (out, leaves)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn edits_read_back_and_change_nothing_else(
            doc in document(),
            crlf in any::<bool>(),
            picks in prop::collection::vec((any::<Index>(), new_value()), 1..3),
        ) {
            let (text, leaves) = render(&doc, crlf);
            prop_assume!(!leaves.is_empty());
            let mut edits: Vec<(YamlPath, String)> = Vec::new();
            for (pick, value) in picks {
                let (p, _) = pick.get(&leaves);
                if !edits.iter().any(|(q, _)| q == p) {
                    edits.push((p.clone(), value));
                }
            }
            let edited = set_scalars(&text, &edits)
                .map_err(|e| TestCaseError::fail(format!("{e}\n--- file ---\n{text}")))?;
            for (p, old) in &leaves {
                let expected = edits.iter().find(|(q, _)| q == p).map_or(old, |(_, v)| v);
                prop_assert_eq!(get_scalar(&edited, p), Ok(Some(expected.clone())), "{}\n{}", p, edited);
            }
            if edits.iter().all(|(p, v)| leaves.iter().any(|(q, old)| q == p && old == v)) {
                prop_assert_eq!(&edited, &text);
            }
            // New values are single-line: the line structure is the same and at most one line per
            // edit differs.
            let old_lines: Vec<&str> = text.split('\n').collect();
            let new_lines: Vec<&str> = edited.split('\n').collect();
            prop_assert_eq!(old_lines.len(), new_lines.len());
            let changed = old_lines.iter().zip(&new_lines).filter(|(a, b)| a != b).count();
            prop_assert!(changed <= edits.len(), "{} lines changed\n{}", changed, edited);
        }

        #[test]
        fn arbitrary_input_never_panics(
            text in "[a-z0-9 :\\-\\[\\]{},#&*!|>'\"%@`?.\\\\\n\r\t\u{FEFF}é]{0,120}",
            path_text in "[a-z0-9.\\[\\]\"']{0,16}",
            document in 0usize..3,
            value in new_value(),
        ) {
            if let Ok(p) = YamlPath::parse(document, &path_text) {
                let _ = get_scalar(&text, &p);
                if let Ok(out) = set_scalars(&text, &[(p.clone(), value.clone())]) {
                    prop_assert_eq!(get_scalar(&out, &p), Ok(Some(value)));
                }
            }
            let _ = find_documents(&text);
        }
    }

    /// Every prefix of the sample files (a file truncated mid-write) is handled without panicking.
    #[test]
    fn truncated_files_never_panic() {
        let paths = [
            path(0, "spec.template.spec.containers[0].image"),
            path(1, "spec.template.spec.containers[0].image"),
            path(0, "model.path"),
            path(0, "single"),
            path(0, "canary.image"),
            path(0, "args[1]"),
        ];
        for sample in [DEPLOYMENT, MULTI, ANCHORS, FLOW, QUOTED, ENV] {
            let crlf = sample.replace('\n', "\r\n");
            for text in [sample, crlf.as_str()] {
                for (cut, _) in text.char_indices() {
                    let Some(prefix) = text.get(..cut) else { continue };
                    let _ = find_documents(prefix);
                    for p in &paths {
                        let _ = get_scalar(prefix, p);
                        if let Ok(out) = set_scalars(prefix, &[(p.clone(), "x y: z".to_owned())]) {
                            assert_eq!(get_scalar(&out, p), Ok(Some("x y: z".to_owned())));
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn indicator_like_values_in_flow_and_block_context() {
    let text = "flow: {k: abc, s: [abc]}\nblock: abc\nseq:\n  - abc\n";
    let mut rendered = Vec::new();
    // Kubernetes' YAML reader (go-yaml v2) rejects `a:b` inside flow collections: quoted there.
    for value in [":x", "?x", "-x", "a:b", "a#b", "%x", "x]", "@x"] {
        let edited = set(
            text,
            &[
                (0, "flow.k", value),
                (0, "flow.s[0]", value),
                (0, "block", value),
                (0, "seq[0]", value),
            ],
        );
        for p in ["flow.k", "flow.s[0]", "block", "seq[0]"] {
            assert_eq!(get(&edited, 0, p).as_deref(), Some(value), "{p} in\n{edited}");
        }
        rendered.push(edited);
    }
    insta::assert_snapshot!(rendered.join("---\n"));
}

#[test]
fn flow_context_is_detected_through_anchors_and_tags() {
    let text = "f: &f !!map {k: abc}\nb: &b\n  k: abc\ns: &s [abc]\n";
    let edited = set(text, &[(0, "f.k", "a:b"), (0, "b.k", "a:b"), (0, "s[0]", "a:b")]);
    assert_eq!(edited, "f: &f !!map {k: \"a:b\"}\nb: &b\n  k: a:b\ns: &s [\"a:b\"]\n");
}
