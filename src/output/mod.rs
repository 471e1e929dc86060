//! Renderers of [`Report`]s: one formatter per output format, behind one trait.
//!
//! - [`text`]: for a person at a terminal (colour only when asked);
//! - [`json`]: the `report-v1` document, for programs;
//! - [`markdown`]: for GitHub; its escaping helpers ([`markdown::escape`],
//!   [`markdown::status_badge`], [`markdown::verdict_badge`]) are public because the review
//!   bot writes its comment with them.
//!
//! Every formatter treats the text in a report that came from a server as hostile: the text
//! formatter keeps it from driving the terminal, the Markdown formatter from becoming markup.

use crate::report::Report;

pub mod json;
pub mod markdown;
pub mod text;

/// An output format of `manifesto check --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// [`text::Text`].
    Text,
    /// [`json::Json`].
    Json,
    /// [`markdown::Markdown`].
    Markdown,
}

/// Renders a set of reports (one per checked domain) as one document.
pub trait Formatter {
    fn render(&self, reports: &[Report]) -> String;
}

/// The formatter of `format`; `color` only matters to text.
pub fn formatter(format: Format, color: bool) -> Box<dyn Formatter> {
    match format {
        Format::Text => Box::new(text::Text { color }),
        Format::Json => Box::new(json::Json),
        Format::Markdown => Box::new(markdown::Markdown),
    }
}

/// The kebab-case name serde gives a unit enum variant (the same word as in the JSON).
pub(crate) fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
