//! URL paths and queries of the REST API, built from a resolved [`ResourceType`].

use crate::cluster::{ClusterError, Gvk, ResourceType};

/// `/api/v1` for the core group, `/apis/{group}/{version}` otherwise.
pub(super) fn group_version_path(gvk: &Gvk) -> String {
    if gvk.group.is_empty() {
        format!("/api/{}", gvk.version)
    } else {
        format!("/apis/{}/{}", gvk.group, gvk.version)
    }
}

/// The collection URL of `resource`; `namespace` is ignored for cluster-scoped kinds and means
/// "all namespaces" when `None` for namespaced kinds.
pub(super) fn collection_path(resource: &ResourceType, namespace: Option<&str>) -> String {
    let base = group_version_path(&resource.gvk);
    match namespace.filter(|_| resource.namespaced) {
        Some(namespace) => format!("{base}/namespaces/{}/{}", encode(namespace), resource.plural),
        None => format!("{base}/{}", resource.plural),
    }
}

pub(super) fn object_path(resource: &ResourceType, namespace: Option<&str>, name: &str) -> String {
    format!("{}/{}", collection_path(resource, namespace), encode(name))
}

/// Appends a query (`?a=b&c=d`, form-encoded) when `pairs` is not empty.
pub(super) fn with_query(path: String, pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return path;
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        query.append_pair(key, value);
    }
    format!("{path}?{}", query.finish())
}

/// Checks a name or namespace before it becomes a path segment: a `/` would address a
/// subresource and `.`/`..` another path, so they are refused rather than sent.
pub(super) fn check_segment(what: &str, value: &str, target: &str) -> Result<(), ClusterError> {
    let problem = if value.is_empty() {
        Some("is empty")
    } else if value.contains('/') {
        Some("contains '/'")
    } else if value == "." || value == ".." {
        Some("may not be '.' or '..'")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ClusterError::Other {
            target: target.to_owned(),
            message: format!("{what} {value:?} {problem}; fix it in the manifest"),
        }),
        None => Ok(()),
    }
}

/// Percent-encodes everything outside RFC 3986's unreserved set plus `:` and `@` (which
/// Kubernetes names such as `system:controller:x` use and paths allow).
fn encode(segment: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0F)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployments() -> ResourceType {
        ResourceType {
            gvk: Gvk::from_api_version("apps/v1", "Deployment"),
            plural: "deployments".into(),
            namespaced: true,
        }
    }

    #[test]
    fn paths_follow_the_rest_layout() {
        let namespaces = ResourceType {
            gvk: Gvk::from_api_version("v1", "Namespace"),
            plural: "namespaces".into(),
            namespaced: false,
        };
        assert_eq!(
            object_path(&deployments(), Some("dev"), "iris"),
            "/apis/apps/v1/namespaces/dev/deployments/iris"
        );
        assert_eq!(collection_path(&deployments(), None), "/apis/apps/v1/deployments");
        assert_eq!(object_path(&namespaces, Some("ignored"), "dev"), "/api/v1/namespaces/dev");
    }

    #[test]
    fn unusual_characters_are_encoded() {
        assert_eq!(
            object_path(&deployments(), Some("dev"), "system:a b%"),
            "/apis/apps/v1/namespaces/dev/deployments/system:a%20b%25"
        );
    }

    #[test]
    fn query_is_form_encoded() {
        assert_eq!(
            with_query("/x".into(), &[("labelSelector", "app=iris,tier in (a,b)")]),
            "/x?labelSelector=app%3Diris%2Ctier+in+%28a%2Cb%29"
        );
        assert_eq!(with_query("/x".into(), &[]), "/x");
    }

    #[test]
    fn slashes_and_dots_are_refused() {
        assert!(check_segment("name", "a/b", "t").is_err());
        assert!(check_segment("name", "..", "t").is_err());
        assert!(check_segment("name", "", "t").is_err());
        assert!(check_segment("name", "iris-server.v2", "t").is_ok());
    }
}
