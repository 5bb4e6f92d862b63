//! Recently opened repos, newest first, kept in the app's config directory as a JSON list.

use std::path::{Path, PathBuf};

/// How many repos are remembered.
pub const KEEP: usize = 8;

/// `list` with `repo` moved (or added) to the front, at most [`KEEP`] long.
pub fn remember(mut list: Vec<PathBuf>, repo: &Path) -> Vec<PathBuf> {
    list.retain(|p| p != repo);
    list.insert(0, repo.to_path_buf());
    list.truncate(KEEP);
    list
}

/// Reads the list; a missing or unreadable file is an empty list (it is only a convenience).
pub fn load(file: &Path) -> Vec<PathBuf> {
    std::fs::read(file)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

pub fn save(file: &Path, list: &[PathBuf]) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::to_vec_pretty(list).map_err(std::io::Error::other)?;
    std::fs::write(file, json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remember_moves_a_repo_to_the_front_without_duplicates() {
        let list: Vec<PathBuf> = (0..KEEP).map(|i| PathBuf::from(format!("/r{i}"))).collect();
        let list = remember(list, Path::new("/r3"));
        assert_eq!(list.first(), Some(&PathBuf::from("/r3")));
        assert_eq!(list.len(), KEEP);
        let list = remember(list, Path::new("/new"));
        assert_eq!(list.len(), KEEP);
        assert_eq!(list.first(), Some(&PathBuf::from("/new")));
        assert!(!list.contains(&PathBuf::from(format!("/r{}", KEEP - 1))));
    }

    #[test]
    fn the_list_survives_a_round_trip_and_garbage_reads_as_empty() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("sub/recent.json");
        save(&file, &[PathBuf::from("/a"), PathBuf::from("/b")]).expect("save");
        assert_eq!(load(&file), [PathBuf::from("/a"), PathBuf::from("/b")]);
        std::fs::write(&file, "not json").expect("write");
        assert!(load(&file).is_empty());
    }
}
