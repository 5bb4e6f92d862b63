//! Kubernetes name rules, so a bad name is caught with its file and line before the API server
//! rejects it mid-sync.

/// Why a name is not a valid Kubernetes name (completes "invalid name: …").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidName(pub String);

/// Kinds whose names must be DNS-1123 labels (no dots, ≤ 63), not subdomains.
const LABEL_NAMED_KINDS: &[&str] = &["Namespace", "Service"];

/// Checks a `metadata.name`; `Err` says what is wrong.
pub fn check_name(kind: &str, name: &str) -> Result<(), InvalidName> {
    if LABEL_NAMED_KINDS.contains(&kind) {
        check_label(name)
            .map_err(|why| InvalidName(format!("{kind} names must be DNS-1123 labels and {why}")))
    } else {
        check_subdomain(name)
            .map_err(|why| InvalidName(format!("names must be DNS-1123 subdomains and {why}")))
    }
}

/// Lowercase alphanumerics and `-`, starting and ending alphanumeric, at most 63 characters.
pub fn check_label(name: &str) -> Result<(), InvalidName> {
    if name.is_empty() {
        return Err(InvalidName("it is empty".to_owned()));
    }
    if name.len() > 63 {
        return Err(InvalidName(format!(
            "it has {} characters, at most 63 are allowed",
            name.len()
        )));
    }
    check_chars(name, false)
}

/// A label value: at most 63 letters, digits, `-`, `_` or `.`, starting and ending alphanumeric.
pub fn check_label_value(value: &str) -> Result<(), InvalidName> {
    if value.is_empty() {
        return Err(InvalidName("it is empty".to_owned()));
    }
    if value.len() > 63 {
        return Err(InvalidName(format!(
            "it has {} characters, at most 63 are allowed",
            value.len()
        )));
    }
    if let Some(bad) =
        value.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(InvalidName(format!(
            "character {bad:?} is not allowed (use letters, digits, '-', '_', '.')"
        )));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(value.chars().next()) || !alnum(value.chars().last()) {
        return Err(InvalidName("it must start and end with a letter or digit".to_owned()));
    }
    Ok(())
}

fn check_subdomain(name: &str) -> Result<(), InvalidName> {
    if name.is_empty() {
        return Err(InvalidName("it is empty".to_owned()));
    }
    if name.len() > 253 {
        return Err(InvalidName(format!(
            "it has {} characters, at most 253 are allowed",
            name.len()
        )));
    }
    check_chars(name, true)
}

fn check_chars(name: &str, dots: bool) -> Result<(), InvalidName> {
    if let Some(bad) = name.chars().find(|c| {
        !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || (dots && *c == '.'))
    }) {
        return Err(InvalidName(format!(
            "character {bad:?} is not allowed (use lowercase letters, digits, '-'{})",
            if dots { ", '.'" } else { "" }
        )));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err(InvalidName("it must start and end with a letter or digit".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects_names() {
        assert!(check_name("Deployment", "iris-server.v1").is_ok());
        assert!(check_name("Service", "iris-server.v1").is_err());
        assert!(check_name("ConfigMap", "Iris").is_err());
        assert!(check_name("ConfigMap", "-iris").is_err());
        assert!(check_name("ConfigMap", "").is_err());
        assert!(check_label(&"a".repeat(64)).is_err());
    }
}
