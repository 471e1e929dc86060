//! `manifesto check`: its arguments, the check options they make, the reports printed to
//! stdout, and the exit code of their verdicts.

use std::io::{IsTerminal, Write};

use clap::Args;

use crate::check::{CheckError, Checker, normalize_domain};
use crate::cli::exit::Exit;
use crate::cli::network::NetworkArgs;
use crate::output::{self, Format};

/// `--format`: the clap face of [`Format`] (the library knows no clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
    Markdown,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Markdown => Format::Markdown,
        }
    }
}
use crate::report::Report;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// XMPP domains to check (Unicode or A-labels).
    #[arg(required = true, value_name = "DOMAIN")]
    pub domains: Vec<String>,
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text, help_heading = "Output")]
    pub format: FormatArg,
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

/// Why `manifesto check` could not report (its exit code: `Exit::from`, in `cli/exit.rs`).
#[derive(Debug, thiserror::Error)]
pub enum CheckCommandError {
    /// A domain that is not one, an unusable trust file, or a checker that cannot start.
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error("cannot write the reports to stdout: {0}")]
    Output(std::io::Error),
}

/// Runs the command; an error is printed here and becomes its exit code, so that only usage
/// errors exit 2 (the dispatcher turns any error it receives into a usage error).
pub async fn run(args: CheckArgs) -> anyhow::Result<Exit> {
    match execute(args).await {
        Ok(exit) => Ok(exit),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(Exit::from(&e))
        }
    }
}

/// Checks every domain concurrently, prints the reports, and exits with their verdicts.
pub(crate) async fn execute(args: CheckArgs) -> Result<Exit, CheckCommandError> {
    let domains = args
        .domains
        .iter()
        .map(|d| normalize_domain(d))
        .collect::<Result<Vec<String>, CheckError>>()?;
    let checker = Checker::new(args.network.check_options()?)?;
    let reports: Vec<Report> =
        futures::future::join_all(domains.iter().map(|d| checker.check(d))).await;
    print_reports(&reports, args.format.into(), args.color).map_err(CheckCommandError::Output)?;
    if let Some(note) = checker.dnssec_note() {
        eprintln!("{}", crate::text::neutralize(&note));
    }
    Ok(Exit::for_verdicts(reports.iter().map(|r| r.verdict)))
}

fn print_reports(reports: &[Report], format: Format, color: Color) -> std::io::Result<()> {
    let rendered = output::formatter(format, color.enabled()).render(reports);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(rendered.as_bytes())?;
    stdout.flush()
}
