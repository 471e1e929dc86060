//! Command-line interface: argument parsing and dispatch. Every command lives in the library;
//! this module only wires them to clap and to exit codes.

use std::process::ExitCode;

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

#[derive(Debug, clap::Parser)]
#[command(name = "manifesto", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Check signatory files (default: all of signatories/).
    Validate(crate::registry::ValidateArgs),
    /// Build the public page from signatories/ and check results.
    Site(crate::site::SiteArgs),
}

pub fn main() -> ExitCode {
    use clap::Parser as _;
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage.into()
            } else {
                Exit::Pass.into()
            };
        }
    };
    let result = match &cli.command {
        Command::Validate(args) => crate::registry::run_validate(args),
        Command::Site(args) => crate::site::run_site(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Usage.into()
        }
    }
}
