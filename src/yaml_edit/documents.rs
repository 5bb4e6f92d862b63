//! Finding a Kubernetes object's document in a multi-document file.

use super::error::YamlEditError;
use super::path::YamlPath;
use super::tree::{Aliases, Lookup, Tree};

/// What identifies one document of a file, as far as it is a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentInfo {
    /// 0-based position in the file (the `document` of a [`YamlPath`]).
    pub index: usize,
    /// 1-based line where the document starts.
    pub line: usize,
    /// `apiVersion`, when it is a scalar.
    pub api_version: Option<String>,
    /// `kind`, when it is a scalar.
    pub kind: Option<String>,
    /// `metadata.name`, when it is a scalar.
    pub name: Option<String>,
    /// `metadata.namespace`, when it is a scalar.
    pub namespace: Option<String>,
}

/// Every document of the file with its Kubernetes identity (fields that are missing or not
/// scalars are `None`, so non-Kubernetes documents are listed too).
pub fn find_documents(text: &str) -> Result<Vec<DocumentInfo>, YamlEditError> {
    let tree = Tree::parse(text)?;
    let field = |index: usize, path: &str| -> Result<Option<String>, YamlEditError> {
        let mut path_ = YamlPath::root(index);
        for key in path.split('.') {
            path_ = path_.key(key);
        }
        Ok(match tree.lookup(&path_, Aliases::Follow)? {
            Lookup::Found { id, .. } => {
                tree.scalar(tree.resolve_for_read(id)).map(|(value, _)| value.to_owned())
            }
            Lookup::Missing { .. } => None,
        })
    };
    tree.documents
        .iter()
        .enumerate()
        .map(|(index, document)| {
            Ok(DocumentInfo {
                index,
                line: document.line,
                api_version: field(index, "apiVersion")?,
                kind: field(index, "kind")?,
                name: field(index, "metadata.name")?,
                namespace: field(index, "metadata.namespace")?,
            })
        })
        .collect()
}

/// The index of the document whose `kind` and `metadata.name` are `kind` and `name`.
///
/// `Ok(None)` when no document matches; an error when two do, since an edit could then land in
/// the wrong one.
pub fn find_document(text: &str, kind: &str, name: &str) -> Result<Option<usize>, YamlEditError> {
    let mut found: Option<DocumentInfo> = None;
    for document in find_documents(text)? {
        if document.kind.as_deref() != Some(kind) || document.name.as_deref() != Some(name) {
            continue;
        }
        if let Some(first) = &found {
            return Err(YamlEditError::DuplicateDocument {
                kind: kind.to_owned(),
                name: name.to_owned(),
                first_line: first.line,
                line: document.line,
            });
        }
        found = Some(document);
    }
    Ok(found.map(|d| d.index))
}
