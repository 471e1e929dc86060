//! The output of `manifesto validate`: every problem, then a summary line. The library keeps
//! it (not the CLI) because `manifesto site` prints the same text for an invalid register.

use std::fmt::Write as _;

use super::Validation;

/// Output format of `manifesto validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValidateFormat {
    /// `file:line:column: error: message` and a hint, for people.
    #[default]
    Human,
    /// GitHub Actions workflow commands (`::error file=...,line=...,col=...::message`).
    Github,
}

/// The output of `manifesto validate` for a validation (errors, then a summary line).
pub fn render_validation(validation: &Validation, format: ValidateFormat) -> String {
    let mut out = String::new();
    for e in &validation.errors {
        let line = match format {
            ValidateFormat::Human => e.to_human(),
            ValidateFormat::Github => e.to_github(),
        };
        let _ = writeln!(out, "{line}");
    }
    let files = validation.files;
    let plural = if files == 1 { "" } else { "s" };
    if validation.is_ok() {
        let people = validation.registry.signatories.len();
        let domains = validation.registry.domain_count();
        let _ = writeln!(
            out,
            "{files} signatory file{plural} checked: no problems ({people} signator{}, {domains} domain{})",
            if people == 1 { "y" } else { "ies" },
            if domains == 1 { "" } else { "s" }
        );
    } else {
        let n = validation.errors.len();
        let _ = writeln!(
            out,
            "{files} signatory file{plural} checked: {n} problem{}",
            if n == 1 { "" } else { "s" }
        );
    }
    out
}
