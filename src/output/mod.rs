//! Renderers of [`Report`]s: one module per format behind one trait.

use crate::report::{Report, Status, Verdict};

pub mod json;
pub mod markdown;
pub mod text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// Renders a set of reports (one per checked domain) as one document.
pub trait Formatter {
    fn render(&self, reports: &[Report]) -> String;
}

pub fn formatter(format: Format, color: bool) -> Box<dyn Formatter> {
    match format {
        Format::Text => Box::new(text::Text { color }),
        Format::Json => Box::new(json::Json),
        Format::Markdown => Box::new(markdown::Markdown),
    }
}

pub fn status_symbol(status: Status) -> &'static str {
    match status {
        Status::Pass => "✔",
        Status::Warn => "!",
        Status::Fail => "✘",
        Status::Inconclusive => "?",
        Status::NotApplicable => "-",
    }
}

pub fn verdict_symbol(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✔",
        Verdict::Fail => "✘",
        Verdict::Inconclusive => "?",
    }
}
