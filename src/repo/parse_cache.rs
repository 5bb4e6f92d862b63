//! Parsed manifests by file, for a process that loads the same repo again and again: the app
//! re-loads an env on every save, and parsing its files was most of that (≈ 30 ms for 1,000
//! files). A file whose bytes are what they were is not parsed again.

use super::loader::SourceFile;
use crate::yaml::{Document, YamlError};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

/// What one file parsed to, kept with the bytes it was parsed from.
#[derive(Debug)]
struct Parsed {
    contents: Vec<u8>,
    documents: Result<Vec<Document>, YamlError>,
}

/// Shared by the loads of one repo (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct ParseCache {
    files: Arc<Mutex<HashMap<String, Arc<Parsed>>>>,
}

impl ParseCache {
    /// The documents `file` parsed to before, if its bytes are unchanged since.
    pub fn get(&self, file: &SourceFile) -> Option<Result<Vec<Document>, YamlError>> {
        let files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let parsed = files.get(&file.path).filter(|p| p.contents == file.contents)?.clone();
        drop(files);
        Some(parsed.documents.clone())
    }

    /// Keeps what `file` parsed to. Files with a `*` are not kept: an alias expansion is
    /// charged to the load's budget, which a cached parse would skip.
    pub fn put(&self, file: &SourceFile, documents: &Result<Vec<Document>, YamlError>) {
        if file.contents.contains(&b'*') {
            return;
        }
        let parsed = Parsed { contents: file.contents.clone(), documents: documents.clone() };
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files.insert(file.path.clone(), Arc::new(parsed));
    }

    /// Forgets the files under `dir` (`environments/dev/`) that are not in `present`: deleted
    /// or renamed since.
    pub fn forget_missing(&self, dir: &str, present: &[SourceFile]) {
        let present: HashSet<&str> = present.iter().map(|f| f.path.as_str()).collect();
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files.retain(|path, _| !path.starts_with(dir) || present.contains(path.as_str()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.files.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{ExpansionBudget, parse_manifests};

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile { path: path.to_owned(), contents: text.as_bytes().to_vec() }
    }

    fn parse(file: &SourceFile) -> Result<Vec<Document>, YamlError> {
        let text = std::str::from_utf8(&file.contents).unwrap();
        parse_manifests(text, &ExpansionBudget::default())
    }

    #[test]
    fn serves_a_file_only_while_its_bytes_are_unchanged() {
        let cache = ParseCache::default();
        let before = file("environments/dev/a.yaml", "kind: ConfigMap\ndata: {k: v}\n");
        assert!(cache.get(&before).is_none());
        cache.put(&before, &parse(&before));
        let served = cache.get(&before).unwrap().unwrap();
        assert_eq!(served[0].value["data"]["k"], "v");
        let after = file("environments/dev/a.yaml", "kind: ConfigMap\ndata: {k: w}\n");
        assert!(cache.get(&after).is_none(), "edited: parsed again");
        let broken = file("environments/dev/b.yaml", "a: [\n");
        cache.put(&broken, &parse(&broken));
        assert!(cache.get(&broken).unwrap().is_err(), "errors are kept too");
    }

    #[test]
    fn keeps_no_file_with_aliases_and_forgets_deleted_files() {
        let cache = ParseCache::default();
        let aliased = file("environments/dev/a.yaml", "x: &a 1\ny: *a\n");
        cache.put(&aliased, &parse(&aliased));
        assert!(cache.get(&aliased).is_none(), "alias expansion is charged on every load");
        let dev = file("environments/dev/c.yaml", "kind: ConfigMap\n");
        let prod = file("environments/prod/c.yaml", "kind: ConfigMap\n");
        cache.put(&dev, &parse(&dev));
        cache.put(&prod, &parse(&prod));
        cache.forget_missing("environments/dev/", &[]);
        assert!(cache.get(&dev).is_none());
        assert!(cache.get(&prod).is_some(), "another env's files stay");
        assert_eq!(cache.len(), 1);
    }
}
