//! The `coxswain` command: parses arguments and calls the library, nothing else.

// Doc comments here are clap help text shown verbatim to users: no Markdown backticks.
#![allow(clippy::doc_markdown)]

use clap::{Parser, Subcommand, ValueEnum};
use coxswain::exit::ExitCode;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "coxswain",
    version,
    about = "GitOps for machine-learning deployments on Kubernetes"
)]
struct Cli {
    /// Path of the GitOps repo (holding environments/ and pipelines/).
    #[arg(long, global = true, default_value = ".", env = "COXSWAIN_REPO")]
    repo: PathBuf,
    /// Log verbosity: -v info, -vv debug (or set RUST_LOG).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load every environment and pipeline and run the policy gate (no cluster needed).
    Check {
        /// Only this environment.
        #[arg(long)]
        env: Option<String>,
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match run(cli) {
        Ok(code) => code.into(),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::Error.into()
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Check { env, output } => {
            let repo = coxswain::repo::Repo::open(&cli.repo).map_err(|e| e.to_string())?;
            let report =
                coxswain::check::check_repo(&repo, env.as_deref()).map_err(|e| e.to_string())?;
            match output {
                Format::Text => print!("{}", report.render_text()),
                Format::Json => println!("{}", to_json(&report)?),
            }
            Ok(report.exit_code())
        }
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string_pretty(value).map_err(|e| e.to_string())
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
