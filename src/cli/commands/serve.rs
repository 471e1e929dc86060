//! `manifesto serve`: the public check service (`crate::serve`). Plain HTTP on `--listen`; TLS
//! is a reverse proxy's job (it also keeps the certificates' renewal out of this process), and
//! behind one, `--trust-forwarded-for` takes the client's address from it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::cli::exit::Exit;
use crate::cli::network::NetworkArgs;
use crate::serve::{ServeError, ServeOptions, Service};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (plain HTTP: put a TLS reverse proxy in front).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The SQLite database of the checks (created and migrated on start).
    #[arg(long, value_name = "FILE", required_unless_present = "hash_token")]
    pub db: Option<PathBuf>,
    /// API tokens, one a line as `NAME SHA256-HEX` (see --hash-token): they raise the limits.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// A domain checked within this many seconds gets its stored result.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub fresh: u64,
    /// Checks running at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub max_running: u16,
    /// Checks waiting at most; beyond, 429.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub queue: u32,
    /// New checks a minute per client address (a valid token: ten times more).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub per_minute: u32,
    /// Take the client's address from the last X-Forwarded-For hop (only behind a reverse
    /// proxy that sets it; otherwise clients choose their address).
    #[arg(long)]
    pub trust_forwarded_for: bool,
    /// Seconds running checks get to finish on SIGTERM before they are recorded as aborted.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub grace: u64,
    /// Print the tokens-file line for NAME with the token read from stdin, and exit.
    #[arg(long, value_name = "NAME")]
    pub hash_token: Option<String>,
    #[command(flatten)]
    pub network: NetworkArgs,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<Exit> {
    if let Some(name) = &args.hash_token {
        return Ok(hash_token(name));
    }
    let service = match bind(&args).await {
        Ok(service) => service,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(crate::cli::exit::for_serve_error(&e));
        }
    };
    if service.recovered() > 0 {
        eprintln!(
            "manifesto serve: {} check(s) left unfinished by the previous run recorded as aborted",
            service.recovered()
        );
    }
    if let Some(addr) = service.local_addr() {
        eprintln!("manifesto serve: listening on http://{addr}");
    }
    match service.run(stop_signal()).await {
        Ok(()) => {
            eprintln!("manifesto serve: stopped");
            Ok(Exit::Pass)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(crate::cli::exit::for_serve_error(&e))
        }
    }
}

async fn bind(args: &ServeArgs) -> Result<Service, ServeError> {
    let check = args.network.check_options()?;
    let db = args.db.clone().unwrap_or_default();
    let mut options = ServeOptions::new(db, check);
    options.listen = args.listen;
    options.tokens = args.tokens.clone();
    options.fresh = Duration::from_secs(args.fresh);
    options.max_running = usize::from(args.max_running);
    options.queue = args.queue as usize;
    options.per_minute = args.per_minute;
    options.trust_forwarded_for = args.trust_forwarded_for;
    options.grace = Duration::from_secs(args.grace);
    Service::bind(options).await
}

fn hash_token(name: &str) -> Exit {
    let mut token = String::new();
    if std::io::stdin().read_line(&mut token).is_err() || token.trim().is_empty() {
        eprintln!("error: give the token on stdin");
        return Exit::Usage;
    }
    if name.is_empty() || name.contains(char::is_whitespace) || name.contains('#') {
        eprintln!("error: the name must be one word without '#'");
        return Exit::Usage;
    }
    println!("{}", crate::serve::tokens::hash_line(name, token.trim()));
    Exit::Pass
}

/// SIGTERM or Ctrl-C. A signal handler that cannot be installed stops at once rather than
/// leave a service that cannot be stopped cleanly.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => eprintln!("error: cannot handle SIGTERM: {e}"),
        }
        eprintln!("manifesto serve: stopping");
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
