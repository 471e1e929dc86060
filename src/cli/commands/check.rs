//! `manifesto check`.

use std::io::{IsTerminal, Write};

use clap::Args;

use crate::check::{Checker, normalize_domain};
use crate::cli::exit::Exit;
use crate::cli::network::NetworkArgs;
use crate::output::{self, Format};
use crate::report::Report;

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

pub async fn run(args: CheckArgs) -> anyhow::Result<Exit> {
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
