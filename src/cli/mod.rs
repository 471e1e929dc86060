//! Command-line interface: argument parsing, tracing and exit codes. The only module that
//! knows clap and anyhow: every command's work lives in the library, which takes plain option
//! structs and returns domain results and typed errors; `commands/` holds one file per command
//! with its arguments and its `run`, and `exit.rs` turns results and errors into exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod commands;
pub mod exit;
pub mod network;

pub use exit::Exit;
pub use network::NetworkArgs;

#[derive(Debug, Parser)]
#[command(
    name = "manifesto",
    version,
    about = "Proves whether XMPP services really enforce TLS, and keeps the manifesto's register honest",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check XMPP domains: discover endpoints, prove TLS enforcement, grade certificate and TLS.
    Check(commands::check::CheckArgs),
    /// Validate signatory files (default: all of signatories/).
    Validate(commands::validate::ValidateArgs),
    /// Build the public page from signatories/ and the latest check results.
    Site(commands::site::SiteArgs),
    /// Re-check every operator domain of the register; keep latest reports, history, lifecycle.
    Sweep(commands::sweep::SweepArgs),
    /// Create or update the bot's sticky review comment on a pull request, and its label.
    Comment(commands::comment::CommentArgs),
    /// Review a pull request on the registry: validate the signatory files it changes, check
    /// their domains (and domain control), write comment.md and review.json.
    Review(commands::review::ReviewArgs),
    /// Run the dialback responder: the probe domains' s2s endpoint that proves s2s TLS
    /// enforcement (see docs/responder.md).
    Responder(commands::responder::ResponderArgs),
    /// Run the public check service: a form, pages and a JSON API that check domains, with
    /// every result kept in SQLite.
    Serve(commands::serve::ServeArgs),
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Exit::Pass.into()
                }
                _ => Exit::Usage.into(),
            };
        }
    };
    init_tracing();
    // Every connection is a descriptor: the default cap on open connections
    // (`check::net::default_max_connections`) is set below the limit, so lift it first.
    if let Err(e) = crate::check::net::raise_fd_limit() {
        tracing::debug!("cannot raise the file-descriptor limit: {e}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Fail.into();
        }
    };
    let exit = runtime.block_on(run(cli));
    match exit {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Usage.into()
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MANIFESTO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Check(args) => commands::check::run(args).await,
        Command::Validate(args) => commands::validate::run(args).await,
        Command::Sweep(args) => commands::sweep::run(args).await,
        Command::Site(args) => commands::site::run(args).await,
        Command::Comment(args) => commands::comment::run(args).await,
        Command::Review(args) => commands::review::run(args).await,
        Command::Responder(args) => commands::responder::run(args).await,
        Command::Serve(args) => commands::serve::run(args).await,
    }
}
