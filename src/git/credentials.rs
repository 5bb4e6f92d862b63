//! The one credential callback for every fetch and push (promotions, the app's remote status).

use git2::{Cred, CredentialType, RemoteCallbacks};

/// A token for HTTPS git operations (e.g. `GITHUB_TOKEN`) and the one host it may be sent to:
/// a token meant for the forge must not reach whatever host a remote URL names.
#[derive(Clone, PartialEq, Eq)]
pub struct HostToken {
    pub secret: String,
    /// The host (no port) of the forge's git remotes, e.g. `github.com`.
    pub host: String,
}

impl std::fmt::Debug for HostToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostToken {{ host: {:?}, secret: <redacted> }}", self.host)
    }
}

impl HostToken {
    /// Whether the token may be offered to `url`: https, to exactly [`Self::host`].
    pub fn may_send_to(&self, url: &str) -> bool {
        url.strip_prefix("https://")
            .and_then(|rest| rest.split(['/', '?', '#']).next())
            .map(|authority| authority.rsplit('@').next().unwrap_or(authority))
            .map(|host_port| host_port.split(':').next().unwrap_or(host_port))
            .is_some_and(|host| !host.is_empty() && host.eq_ignore_ascii_case(&self.host))
    }
}

/// Credentials in the order people expect: ssh-agent for SSH URLs; for HTTPS, `token` when given
/// and the URL is https to the token's own host, else the git credential helper. libgit2 asks
/// again after a refused credential, so attempts are counted and the fourth gives up with a
/// message listing what was tried, instead of looping.
pub fn remote_callbacks<'a>(
    config: &'a git2::Config,
    token: Option<&'a HostToken>,
) -> RemoteCallbacks<'a> {
    let mut attempts = 0u8;
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |url, username, allowed| {
        attempts += 1;
        let user = username.unwrap_or("git");
        if attempts > 3 {
            return Err(git2::Error::from_str(
                "authentication failed (tried ssh-agent, GITHUB_TOKEN and the git credential \
                 helper); check the remote URL and your credentials",
            ));
        }
        if allowed.contains(CredentialType::USERNAME) {
            return Cred::username(user);
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            return Cred::ssh_key_from_agent(user);
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            return match token {
                Some(token) if attempts == 1 && token.may_send_to(url) => {
                    Cred::userpass_plaintext("x-access-token", &token.secret)
                }
                _ => Cred::credential_helper(config, url, username),
            };
        }
        Cred::default()
    });
    callbacks
}

#[cfg(test)]
mod tests {
    use super::HostToken;

    #[test]
    fn a_token_goes_only_to_its_host_over_https() {
        let token = HostToken { secret: "s3cret".into(), host: "github.com".into() };
        for url in [
            "https://github.com/acme/gitops.git",
            "https://GitHub.com:443/acme/gitops",
            "https://x-access-token@github.com/acme/gitops",
        ] {
            assert!(token.may_send_to(url), "{url}");
        }
        for url in [
            "http://github.com/acme/gitops",
            "git://github.com/acme/gitops",
            "ssh://git@github.com/acme/gitops",
            "https://github.com.evil.example/acme/gitops",
            "https://evil.example/github.com/acme",
            "https://github.com@evil.example/acme",
            "https://gitlab.com/acme/gitops",
            "https:///acme",
        ] {
            assert!(!token.may_send_to(url), "{url}");
        }
    }

    #[test]
    fn the_secret_is_never_debug_printed() {
        let token = HostToken { secret: "s3cret".into(), host: "github.com".into() };
        assert!(!format!("{token:?}").contains("s3cret"));
    }
}
