//! `manifesto responder`.

use std::path::PathBuf;

use crate::check::responder::config::ResponderConfig;
use crate::cli::exit::Exit;
use crate::responder::{Responder, Running};

/// `manifesto responder --config FILE`: serves until SIGTERM or Ctrl-C; SIGHUP re-reads the
/// certificate and key.
#[derive(Debug, Clone, clap::Args)]
pub struct ResponderArgs {
    /// The responder's configuration file (TOML; see docs/responder.md).
    #[arg(long)]
    pub config: PathBuf,
}

pub async fn run(args: ResponderArgs) -> anyhow::Result<Exit> {
    let config = match ResponderConfig::load(&args.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Usage);
        }
    };
    let (domain, plain_domain) = (config.domain.clone(), config.plain_domain.clone());
    let running = match Responder::start(config).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(if e.is_usage() {
                Exit::Usage
            } else {
                Exit::Fail
            });
        }
    };
    for addr in &running.tls_addrs {
        eprintln!("responder: s2s for {domain} (STARTTLS) on {addr}");
    }
    for addr in &running.plain_addrs {
        eprintln!("responder: s2s for {plain_domain} (no TLS) on {addr}");
    }
    if let Some(addr) = running.api_addr {
        eprintln!("responder: API on http://{addr}/");
    }
    wait(&running).await?;
    eprintln!("responder: shutting down");
    running.shutdown().await;
    Ok(Exit::Pass)
}

/// Until SIGTERM or Ctrl-C; reloads the certificate on SIGHUP.
#[cfg(unix)]
async fn wait(running: &Running) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            r = tokio::signal::ctrl_c() => return Ok(r?),
            _ = hup.recv() => match running.reload_certificates() {
                Ok(()) => eprintln!("responder: certificate reloaded"),
                Err(e) => eprintln!("responder: certificate not reloaded, the old one stays: {e}"),
            },
        }
    }
}

#[cfg(not(unix))]
async fn wait(_running: &Running) -> anyhow::Result<()> {
    Ok(tokio::signal::ctrl_c().await?)
}
