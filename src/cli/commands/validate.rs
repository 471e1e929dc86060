//! `manifesto validate`.

use std::path::PathBuf;

use crate::cli::exit::{self, Exit};
use crate::register::registry::{self, SIGNATORIES_DIR, ValidateFormat};

/// `manifesto validate [PATH...]`: checks signatory files.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// Files or directories to check (directories: their *.toml files).
    #[arg(default_value = SIGNATORIES_DIR)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// The `--format` values (the library's [`ValidateFormat`], which knows no clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// `file:line:column: error: message` and a hint, for people.
    #[default]
    Human,
    /// GitHub Actions workflow commands (`::error file=...,line=...,col=...::message`).
    Github,
}

impl From<Format> for ValidateFormat {
    fn from(f: Format) -> ValidateFormat {
        match f {
            Format::Human => ValidateFormat::Human,
            Format::Github => ValidateFormat::Github,
        }
    }
}

/// Prints every problem; exit 0 when none, 1 otherwise (an unreadable file is a problem).
pub async fn run(args: ValidateArgs) -> anyhow::Result<Exit> {
    let validation = registry::validate_paths(&args.paths, registry::today_utc());
    print!(
        "{}",
        registry::render_validation(&validation, args.format.into())
    );
    Ok(exit::for_validation(&validation))
}
