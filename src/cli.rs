//! Command-line interface: argument parsing and dispatch. Every command lives in the library;
//! this module only wires them to clap and to exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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

#[derive(Debug, Parser)]
#[command(name = "manifesto", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or update the bot's sticky review comment on a pull request, and its label.
    Comment(crate::github::CommentArgs),
}

pub fn main() -> ExitCode {
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
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Fail.into();
        }
    };
    match cli.command {
        Command::Comment(args) => match runtime.block_on(crate::github::run_comment(&args)) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                let usage = e
                    .downcast_ref::<crate::github::GithubError>()
                    .is_some_and(crate::github::GithubError::is_usage);
                if usage { Exit::Usage } else { Exit::Fail }.into()
            }
        },
    }
}
