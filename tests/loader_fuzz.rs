//! The loader must never panic: random bytes, truncated and mutated manifests all end in
//! diagnostics, never a crash.

use coxswain::repo::{Environment, SourceFile};
use proptest::prelude::*;

const SAMPLES: &[&str] = &[
    include_str!("../environments/prod/iris-server.yaml"),
    include_str!("../environments/prod/ingress.yaml"),
    include_str!("fixtures/bad/alias-bomb/environments/dev/app.yaml"),
    include_str!("fixtures/bad/many-errors-collected/environments/dev/app.yaml"),
];

fn load(contents: Vec<u8>, config: Option<&str>) -> Environment {
    let files = [SourceFile { path: "environments/dev/app.yaml".into(), contents }];
    Environment::from_files("dev", config, &files)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = load(bytes, None);
    }

    #[test]
    fn truncated_manifests_never_panic(sample in 0..SAMPLES.len(), cut in 0usize..4096) {
        let text = SAMPLES[sample].as_bytes();
        let env = load(text[..cut.min(text.len())].to_vec(), None);
        // Whatever was loaded has a name and kind: the loader never returns half-objects.
        for object in &env.objects {
            prop_assert!(!object.key.name.is_empty());
        }
    }

    #[test]
    fn mutated_manifests_never_panic(sample in 0..SAMPLES.len(), edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = SAMPLES[sample].as_bytes().to_vec();
        for (index, byte) in edits {
            let i = index.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = load(bytes, None);
    }

    #[test]
    fn random_env_config_never_panics(text in "\\PC{0,200}") {
        let _ = load(Vec::new(), Some(&text));
    }
}
