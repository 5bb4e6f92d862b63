//! `coxswain version`: the client's version and, when a cluster is configured and answers, the
//! API server's — as `kubectl version` shows both. `--version` stays clap's static line (it
//! must be instant and cannot fail); this command does the one request, bounded by a timeout,
//! and never fails either: an unreachable or unconfigured cluster is reported, not an error.

use super::render::{Format, structured};
use crate::cluster::ServerVersion;
use crate::engine::Connector;
use crate::exit::ExitCode;
use serde::Serialize;
use std::time::Duration;

/// This binary's release and the commit it was built from (see build.rs).
const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");
const GIT_COMMIT: &str = env!("COXSWAIN_GIT_SHA");

/// What `coxswain version -o json|yaml` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Versions {
    client: Client,
    /// Absent with `--client`.
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<Server>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Client {
    version: &'static str,
    git_commit: &'static str,
}

/// The server's version, or why there is none.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase", tag = "status")]
enum Server {
    Reachable {
        #[serde(flatten)]
        version: ServerVersion,
    },
    /// The backend has no version to report.
    Unknown,
    /// No cluster is configured (no kubeconfig, no current context) or it did not answer.
    Unreachable { reason: String },
}

/// Prints the versions; the exit code is always 0.
pub(super) async fn version_command(
    connector: &Connector,
    client_only: bool,
    context: Option<String>,
    timeout: Duration,
    output: Format,
) -> ExitCode {
    let server = if client_only { None } else { Some(server(connector, context, timeout).await) };
    let versions =
        Versions { client: Client { version: CLIENT_VERSION, git_commit: GIT_COMMIT }, server };
    match output {
        Format::Json | Format::Yaml => structured(output, &versions),
        Format::Text | Format::Markdown | Format::Github => print!("{}", text(&versions)),
    }
    ExitCode::Ok
}

/// Connects and asks, both within `timeout` (a kubeconfig's exec plugin or a black-holed
/// address would otherwise wait for the adapter's own, much longer limits).
async fn server(connector: &Connector, context: Option<String>, timeout: Duration) -> Server {
    let ask = async {
        let cluster = connector(context).await?;
        cluster.server_version().await
    };
    match tokio::time::timeout(timeout, ask).await {
        Ok(Ok(Some(version))) => Server::Reachable { version },
        Ok(Ok(None)) => Server::Unknown,
        Ok(Err(error)) => Server::Unreachable { reason: error.to_string() },
        Err(_) => {
            Server::Unreachable { reason: format!("no answer within {timeout:?} (--timeout)") }
        }
    }
}

fn text(versions: &Versions) -> String {
    let client = &versions.client;
    let client_line = format!("client: {} (git {})\n", client.version, client.git_commit);
    let server_line = match &versions.server {
        None => String::new(),
        Some(Server::Reachable { version }) => match &version.platform {
            Some(platform) => format!("server: {} ({platform})\n", version.git_version),
            None => format!("server: {}\n", version.git_version),
        },
        Some(Server::Unknown) => "server: unknown (the cluster reports no version)\n".to_owned(),
        Some(Server::Unreachable { reason }) => format!("server: unreachable ({reason})\n"),
    };
    client_line + &server_line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_names_client_and_server_or_why_not() {
        let versions =
            |server| Versions { client: Client { version: "1.2.3", git_commit: "abc" }, server };
        let reachable = Server::Reachable {
            version: ServerVersion {
                git_version: "v1.31.2".into(),
                platform: Some("linux/arm64".into()),
            },
        };
        assert_eq!(
            text(&versions(Some(reachable))),
            "client: 1.2.3 (git abc)\nserver: v1.31.2 (linux/arm64)\n"
        );
        let unreachable = Server::Unreachable { reason: "connection refused".into() };
        assert_eq!(
            text(&versions(Some(unreachable))),
            "client: 1.2.3 (git abc)\nserver: unreachable (connection refused)\n"
        );
        assert_eq!(text(&versions(None)), "client: 1.2.3 (git abc)\n");
    }

    #[test]
    fn json_tags_the_server_status() {
        let versions = Versions {
            client: Client { version: "1.2.3", git_commit: "abc" },
            server: Some(Server::Reachable {
                version: ServerVersion { git_version: "v1.31.2".into(), platform: None },
            }),
        };
        assert_eq!(
            serde_json::to_value(&versions).unwrap(),
            serde_json::json!({
                "client": {"version": "1.2.3", "gitCommit": "abc"},
                "server": {"status": "reachable", "gitVersion": "v1.31.2"}
            })
        );
    }
}
