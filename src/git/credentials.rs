//! The one credential callback for every fetch and push (promotions, the app's remote status).

use git2::{Cred, CredentialType, RemoteCallbacks};

/// Credentials in the order people expect: ssh-agent for SSH URLs; for HTTPS, `token` (e.g.
/// `GITHUB_TOKEN`) when given, else the git credential helper. The token is offered only over
/// https, never to an `http://` or `git://` remote. libgit2 asks again after a refused
/// credential, so attempts are counted and the fourth gives up with a message listing what was
/// tried, instead of looping.
pub fn remote_callbacks<'a>(
    config: &'a git2::Config,
    token: Option<&'a str>,
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
                Some(token) if attempts == 1 && url.starts_with("https://") => {
                    Cred::userpass_plaintext("x-access-token", token)
                }
                _ => Cred::credential_helper(config, url, username),
            };
        }
        Cred::default()
    });
    callbacks
}
