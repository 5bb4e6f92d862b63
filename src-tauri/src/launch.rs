//! What the app opens at start: `--repo PATH`, else `COXSWAIN_REPO`, else the current directory
//! when it is a Coxswain repo, else the most recent repo (decided in setup), else the picker.

use std::path::PathBuf;

/// Start-up options from the command line and environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Launch {
    pub repo: Option<PathBuf>,
}

impl Launch {
    /// Reads `--repo PATH` / `--repo=PATH` from `args` (the first item is the program).
    pub fn from_args(args: &[String]) -> Self {
        let mut repo = None;
        let mut rest = args.iter().skip(1);
        while let Some(arg) = rest.next() {
            if arg == "--repo" {
                repo = rest.next().map(PathBuf::from);
            } else if let Some(path) = arg.strip_prefix("--repo=") {
                repo = Some(PathBuf::from(path));
            }
        }
        let repo =
            repo.or_else(|| std::env::var_os("COXSWAIN_REPO").map(PathBuf::from)).or_else(|| {
                std::env::current_dir().ok().filter(|dir| dir.join("environments").is_dir())
            });
        Self { repo }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_repo_argument_in_both_spellings() {
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            Launch::from_args(&args(&["app", "--repo", "/r"])).repo,
            Some(PathBuf::from("/r"))
        );
        assert_eq!(Launch::from_args(&args(&["app", "--repo=/s"])).repo, Some(PathBuf::from("/s")));
    }
}
