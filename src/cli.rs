//! Command-line interface: argument parsing and dispatch. Every command lives in the library;
//! this module only wires them to clap and to exit codes.

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::check::{CheckOptions, Checker, DEFAULT_S2S_FROM, normalize_domain};
use crate::output::{self, Format};
use crate::report::{Report, Verdict};

/// Exit codes shared by every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Pass = 0,
    Fail = 1,
    Usage = 2,
    Inconclusive = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

impl Exit {
    /// The exit code for a set of verdicts: any fail, else any inconclusive, else pass.
    pub fn for_verdicts(verdicts: impl IntoIterator<Item = Verdict>) -> Exit {
        let mut exit = Exit::Pass;
        for v in verdicts {
            match v {
                Verdict::Fail => return Exit::Fail,
                Verdict::Inconclusive => exit = Exit::Inconclusive,
                Verdict::Pass => {}
            }
        }
        exit
    }
}

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
    Check(CheckArgs),
    /// Validate signatory files (default: all of signatories/).
    Validate(crate::registry::ValidateArgs),
    /// Build the public page from signatories/ and the latest check results.
    Site(crate::site::SiteArgs),
    /// Re-check every operator domain of the register; keep latest reports, history, lifecycle.
    Sweep(crate::sweep::SweepArgs),
    /// Create or update the bot's sticky review comment on a pull request, and its label.
    Comment(crate::github::CommentArgs),
    /// Review a pull request on the registry: validate the signatory files it changes, check
    /// their domains (and domain control), write comment.md and review.json.
    Review(crate::review::ReviewArgs),
}

/// Network options shared by every command that checks domains.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Network")]
pub struct NetworkArgs {
    /// DNS server to ask, as IP or IP:PORT (repeatable; default: the system resolver).
    #[arg(long = "resolver", value_name = "IP[:PORT]", value_parser = parse_resolver)]
    pub resolvers: Vec<SocketAddr>,
    /// Extra trust anchors (PEM), beside Mozilla's roots (repeatable).
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_files: Vec<PathBuf>,
    /// DNSSEC trust anchors (a file of DNSKEY records) instead of the IANA root keys.
    #[arg(long = "trust-anchor", value_name = "FILE")]
    pub trust_anchor: Option<PathBuf>,
    /// Allow connections to loopback, private, link-local and other non-public addresses.
    #[arg(long)]
    pub allow_private: bool,
    /// Timeout for each network step, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = parse_secs)]
    pub timeout: f64,
    /// Sender domain in s2s stream headers (must not be a domain the target serves).
    #[arg(long, value_name = "DOMAIN", default_value = DEFAULT_S2S_FROM)]
    pub s2s_from: String,
    /// The longest a plaintext probe waits for an answer before calling it silence, in seconds
    /// (the wait adapts to the connection's round trip).
    #[arg(long, value_name = "SECS", default_value_t = 2.0, value_parser = parse_secs, hide = true)]
    pub probe_wait: f64,
    /// The shortest wait for a probe's answer, in seconds (raise it on slow links).
    #[arg(long, value_name = "SECS", default_value_t = 0.4, value_parser = parse_secs, hide = true)]
    pub probe_wait_min: f64,
}

impl NetworkArgs {
    pub fn check_options(&self) -> CheckOptions {
        CheckOptions {
            resolvers: self.resolvers.clone(),
            ca_files: self.ca_files.clone(),
            trust_anchor: self.trust_anchor.clone(),
            allow_private: self.allow_private,
            timeout: Duration::from_secs_f64(self.timeout),
            s2s_from: self.s2s_from.clone(),
            probe_wait: Duration::from_secs_f64(self.probe_wait),
            probe_wait_min: Duration::from_secs_f64(self.probe_wait_min),
            pacer: None,
            posture_cache: None,
        }
    }
}

fn parse_resolver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{s:?} is not an IP address or IP:PORT"))
}

fn parse_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if !(0.05..=600.0).contains(&v) {
        return Err("must be between 0.05 and 600 seconds".into());
    }
    Ok(v)
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// XMPP domains to check (Unicode or A-labels).
    #[arg(required = true, value_name = "DOMAIN")]
    pub domains: Vec<String>,
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text, help_heading = "Output")]
    pub format: Format,
    /// Colour in text output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, default_value_t = Color::Auto, help_heading = "Output")]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    fn enabled(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
            }
        }
    }
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
        Command::Check(args) => run_check(args).await,
        Command::Validate(args) => exit_of(crate::registry::run_validate(&args)?),
        Command::Sweep(args) => crate::sweep::run_sweep(&args).await,
        Command::Site(args) => exit_of(crate::site::run_site(&args)?),
        Command::Comment(args) => match crate::github::run_comment(&args).await {
            Ok(code) => exit_of(code),
            Err(e) => {
                let usage = e
                    .downcast_ref::<crate::github::GithubError>()
                    .is_some_and(crate::github::GithubError::is_usage);
                eprintln!("error: {e:#}");
                Ok(if usage { Exit::Usage } else { Exit::Fail })
            }
        },
        Command::Review(args) => match crate::review::run_review(&args).await {
            Ok(exit) => Ok(exit),
            Err(e) => {
                eprintln!("error: {e}");
                Ok(if e.is_usage() {
                    Exit::Usage
                } else {
                    Exit::Fail
                })
            }
        },
    }
}

/// Commands that report a std `ExitCode` map onto ours (they only use 0, 1 and 2).
fn exit_of(code: ExitCode) -> anyhow::Result<Exit> {
    Ok(if code == ExitCode::SUCCESS {
        Exit::Pass
    } else if code == ExitCode::from(Exit::Usage as u8) {
        Exit::Usage
    } else {
        Exit::Fail
    })
}

async fn run_check(args: CheckArgs) -> anyhow::Result<Exit> {
    let mut domains = Vec::new();
    for d in &args.domains {
        domains.push(normalize_domain(d)?);
    }
    let checker = Checker::new(args.network.check_options())?;
    let reports: Vec<Report> =
        futures::future::join_all(domains.iter().map(|d| checker.check(d))).await;
    let rendered = output::formatter(args.format, args.color.enabled()).render(&reports);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(rendered.as_bytes())?;
    stdout.flush()?;
    Ok(Exit::for_verdicts(reports.iter().map(|r| r.verdict)))
}
