//! Where pull requests live. A trait, so tests can use a local HTTP server and other forges can
//! be added; [`GitHub`] speaks GitHub's REST API v3 (github.com and GitHub Enterprise Server).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A pull request as the forge reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PullRequest {
    pub number: u64,
    /// The page people open.
    #[serde(rename = "html_url")]
    pub url: String,
}

/// A comment on a pull request (GitHub: an issue comment).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Comment {
    /// The forge's id, to edit the comment later.
    pub id: u64,
    #[serde(default)]
    pub body: String,
    /// The page people open, anchored at the comment.
    #[serde(rename = "html_url", default)]
    pub url: String,
}

/// What to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPullRequest {
    pub title: String,
    /// The branch with the changes.
    pub head: String,
    /// The branch to merge into.
    pub base: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    #[error(
        "{forge} refused the token (401 Unauthorized): {message}; set GITHUB_TOKEN to a token \
         that can write pull requests of {repo}"
    )]
    Unauthorized { forge: String, repo: String, message: String },
    #[error(
        "{forge} denied access (403 Forbidden) to {repo}: {message}; the token needs \
         `pull-requests: write` and `contents: write`"
    )]
    Forbidden { forge: String, repo: String, message: String },
    #[error(
        "{forge}: repository {repo} not found (404), or the token cannot see it; check \
         --github-repo (or GITHUB_REPOSITORY) and the token's access"
    )]
    NotFound { forge: String, repo: String },
    #[error("{forge} rejected the request (422 Unprocessable Entity): {message}")]
    Unprocessable { forge: String, message: String },
    #[error("{forge} answered {status} to {method} {path}: {message}")]
    Status { forge: String, status: u16, method: String, path: String, message: String },
    #[error("cannot reach {forge} at {url}: {message}; check the network and --github-api")]
    Unreachable { forge: String, url: String, message: String },
    #[error("{forge}: unexpected answer to {method} {path}: {message}")]
    Decode { forge: String, method: String, path: String, message: String },
    #[error("{0}")]
    Config(String),
}

/// The operations a promotion needs from a forge.
#[async_trait]
pub trait Forge: Send + Sync {
    /// A short name for messages ("GitHub").
    fn name(&self) -> String;
    /// The open pull request from `head` into `base`, if there is one.
    async fn find_open(&self, head: &str, base: &str) -> Result<Option<PullRequest>, ForgeError>;
    async fn create(&self, request: &NewPullRequest) -> Result<PullRequest, ForgeError>;
    /// Replaces the title and body of an open pull request.
    async fn update(&self, number: u64, title: &str, body: &str)
    -> Result<PullRequest, ForgeError>;
    /// Adds a comment (reviewers are notified, unlike for a body edit).
    async fn comment(&self, number: u64, body: &str) -> Result<(), ForgeError> {
        self.create_comment(number, body).await.map(|_| ())
    }
    /// Every comment on pull request `number`, oldest first.
    async fn comments(&self, number: u64) -> Result<Vec<Comment>, ForgeError>;
    /// Adds a comment and returns it (with its id, for [`Forge::edit_comment`]).
    async fn create_comment(&self, number: u64, body: &str) -> Result<Comment, ForgeError>;
    /// Replaces the body of comment `id`.
    async fn edit_comment(&self, id: u64, body: &str) -> Result<Comment, ForgeError>;
}

/// Comments read per page (GitHub's maximum), and the pages read at most: a pull request with
/// more than 10,000 comments has its newest ones unread.
const COMMENTS_PER_PAGE: usize = 100;
const MAX_COMMENT_PAGES: u32 = 100;

/// GitHub's REST API v3.
pub struct GitHub {
    client: reqwest::Client,
    api: String,
    owner: String,
    repo: String,
    token: String,
}

/// The public API; GitHub Actions sets `GITHUB_API_URL` for Enterprise servers.
pub const DEFAULT_API: &str = "https://api.github.com";

impl GitHub {
    /// A client for `owner/repo` at `api` (e.g. <https://api.github.com>).
    pub fn new(api: &str, repository: &str, token: &str) -> Result<Self, ForgeError> {
        let (owner, repo) = repository
            .split_once('/')
            .filter(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'))
            .ok_or_else(|| {
                ForgeError::Config(format!(
                    "GitHub repository \"{repository}\" is not OWNER/NAME; pass --github-repo OWNER/NAME"
                ))
            })?;
        // reqwest is built without a TLS crypto provider (to keep aws-lc-rs out); use ring, as
        // the kube client does. An error means one is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("coxswain/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_mins(1))
            .build()
            .map_err(|e| ForgeError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            api: api.trim_end_matches('/').to_owned(),
            owner: owner.to_owned(),
            repo: repo.trim_end_matches(".git").to_owned(),
            token: token.to_owned(),
        })
    }

    fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, ForgeError> {
        let url = format!("{}{path}", self.api);
        let mut request = self
            .client
            .request(method.clone(), &url)
            .bearer_auth(&self.token)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let forge = self.name();
        let response = request.send().await.map_err(|e| ForgeError::Unreachable {
            forge: forge.clone(),
            url: self.api.clone(),
            message: error_chain(&e),
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| ForgeError::Unreachable {
            forge: forge.clone(),
            url: self.api.clone(),
            message: error_chain(&e),
        })?;
        if !status.is_success() {
            let message = github_message(&text);
            let repo = self.repository();
            return Err(match status.as_u16() {
                401 => ForgeError::Unauthorized { forge, repo, message },
                403 => ForgeError::Forbidden { forge, repo, message },
                404 => ForgeError::NotFound { forge, repo },
                422 => ForgeError::Unprocessable { forge, message },
                code => ForgeError::Status {
                    forge,
                    status: code,
                    method: method.to_string(),
                    path: path.to_owned(),
                    message,
                },
            });
        }
        serde_json::from_str(&text).map_err(|e| ForgeError::Decode {
            forge,
            method: method.to_string(),
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

/// GitHub's error body: `message`, plus `errors[].message` for 422s.
fn github_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Detail {
        message: Option<String>,
        code: Option<String>,
        field: Option<String>,
    }
    #[derive(Deserialize)]
    struct Body {
        message: Option<String>,
        #[serde(default)]
        errors: Vec<Detail>,
    }
    let Ok(parsed) = serde_json::from_str::<Body>(body) else {
        let mut text: String = body.chars().take(200).collect();
        if text.is_empty() {
            text = "(no message)".into();
        }
        return text;
    };
    let mut parts: Vec<String> = parsed.message.into_iter().collect();
    for detail in parsed.errors {
        let text = detail.message.unwrap_or_else(|| {
            format!("{} {}", detail.field.unwrap_or_default(), detail.code.unwrap_or_default())
        });
        parts.push(text.trim().to_owned());
    }
    if parts.is_empty() { "(no message)".into() } else { parts.join(": ") }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[async_trait]
impl Forge for GitHub {
    fn name(&self) -> String {
        "GitHub".into()
    }

    async fn find_open(&self, head: &str, base: &str) -> Result<Option<PullRequest>, ForgeError> {
        let path = format!(
            "/repos/{}/{}/pulls?state=open&head={}&base={}&per_page=10",
            self.owner,
            self.repo,
            encode(&format!("{}:{head}", self.owner)),
            encode(base)
        );
        let found: Vec<PullRequest> = self.send(reqwest::Method::GET, &path, None).await?;
        Ok(found.into_iter().next())
    }

    async fn create(&self, request: &NewPullRequest) -> Result<PullRequest, ForgeError> {
        let path = format!("/repos/{}/{}/pulls", self.owner, self.repo);
        let body = serde_json::json!({
            "title": request.title,
            "head": request.head,
            "base": request.base,
            "body": request.body,
            "maintainer_can_modify": true,
        });
        self.send(reqwest::Method::POST, &path, Some(body)).await
    }

    async fn update(
        &self,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, ForgeError> {
        let path = format!("/repos/{}/{}/pulls/{number}", self.owner, self.repo);
        let body = serde_json::json!({ "title": title, "body": body });
        self.send(reqwest::Method::PATCH, &path, Some(body)).await
    }

    async fn comments(&self, number: u64) -> Result<Vec<Comment>, ForgeError> {
        let mut all = Vec::new();
        for page in 1..=MAX_COMMENT_PAGES {
            let path = format!(
                "/repos/{}/{}/issues/{number}/comments?per_page={COMMENTS_PER_PAGE}&page={page}",
                self.owner, self.repo
            );
            let found: Vec<Comment> = self.send(reqwest::Method::GET, &path, None).await?;
            let last = found.len() < COMMENTS_PER_PAGE;
            all.extend(found);
            if last {
                break;
            }
        }
        Ok(all)
    }

    async fn create_comment(&self, number: u64, body: &str) -> Result<Comment, ForgeError> {
        let path = format!("/repos/{}/{}/issues/{number}/comments", self.owner, self.repo);
        self.send(reqwest::Method::POST, &path, Some(serde_json::json!({ "body": body }))).await
    }

    async fn edit_comment(&self, id: u64, body: &str) -> Result<Comment, ForgeError> {
        let path = format!("/repos/{}/{}/issues/comments/{id}", self.owner, self.repo);
        self.send(reqwest::Method::PATCH, &path, Some(serde_json::json!({ "body": body }))).await
    }
}

/// The host the forge at `api` serves git from, the only host its token is sent to for pushes:
/// `api.github.com` → `github.com`; a GitHub Enterprise API (`https://ghe.example/api/v3`) →
/// its own host. `None` for an API URL that is not https.
pub fn git_host(api: &str) -> Option<String> {
    let rest = api.strip_prefix("https://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?.to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    Some(if host == "api.github.com" { "github.com".to_owned() } else { host })
}

/// `OWNER/NAME` from a GitHub remote URL (`git@github.com:o/n.git`, `https://github.com/o/n`,
/// `ssh://git@github.com/o/n.git`); `None` for other hosts' URLs it cannot read.
pub fn repository_from_url(url: &str) -> Option<String> {
    let rest = if let Some(rest) = url.strip_prefix("git@") {
        rest.split_once(':')?.1
    } else {
        let (scheme, after_scheme) = url.split_once("://")?;
        let (host, path) = after_scheme.split_once('/')?;
        if scheme == "file" || host.is_empty() {
            return None;
        }
        path
    };
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let mut parts = rest.split('/');
    let (owner, name) = (parts.next()?, parts.next()?);
    (parts.next().is_none() && !owner.is_empty() && !name.is_empty())
        .then(|| format!("{owner}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_host_is_the_forge_git_host() {
        assert_eq!(git_host(DEFAULT_API).as_deref(), Some("github.com"));
        assert_eq!(git_host("https://GHE.example:8443/api/v3").as_deref(), Some("ghe.example"));
        assert_eq!(git_host("http://api.github.com"), None);
    }

    #[test]
    fn repository_is_read_from_common_remote_urls() {
        for url in [
            "git@github.com:acme-ml/gitops.git",
            "https://github.com/acme-ml/gitops",
            "https://github.com/acme-ml/gitops.git/",
            "ssh://git@github.com/acme-ml/gitops.git",
            "https://x-access-token:t@github.example.com/acme-ml/gitops.git",
        ] {
            assert_eq!(repository_from_url(url).as_deref(), Some("acme-ml/gitops"), "{url}");
        }
        assert_eq!(repository_from_url("file:///tmp/remote.git"), None);
        assert_eq!(repository_from_url("/srv/git/a/b/c"), None);
    }

    #[test]
    fn github_error_bodies_become_one_line() {
        let body = r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"No commits between main and x"}]}"#;
        assert_eq!(github_message(body), "Validation Failed: No commits between main and x");
        assert_eq!(github_message(r#"{"message":"Bad credentials"}"#), "Bad credentials");
        assert_eq!(github_message("<html>oops</html>"), "<html>oops</html>");
    }
}
