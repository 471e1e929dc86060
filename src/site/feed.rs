//! `feed.atom`: the newest signatures, newest first (at most [`FEED_ENTRIES`]).

use askama::Template;

use super::{FEED_ENTRIES, SiteError, date_str};
use crate::register::registry::Signatory;

struct FeedEntry {
    slug: String,
    title: String,
    updated: String,
    link: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "feed.xml")]
struct Feed<'a> {
    base: &'a str,
    updated: String,
    entries: Vec<FeedEntry>,
}

/// One entry per signature; the 2014 imports say they are not verified.
fn feed_entry(s: &Signatory) -> FeedEntry {
    let what = if s.domains.is_empty() {
        s.role.as_str().to_owned()
    } else {
        s.domains.join(", ")
    };
    FeedEntry {
        slug: s.slug.clone(),
        title: format!("{} ({what})", s.name),
        updated: format!("{}T00:00:00Z", date_str(s.signed)),
        link: format!("index.html#{}", s.slug),
        summary: if s.is_imported() {
            format!(
                "{}. Signed in 2014 (on or before 2014-03-26); not verified until a check passes.",
                s.statement
            )
        } else {
            s.statement.clone()
        },
    }
}

/// Renders the feed of `ordered` (newest signature first); links are under `base`.
pub(super) fn render_feed(ordered: &[&Signatory], base: &str) -> Result<String, SiteError> {
    let entries: Vec<FeedEntry> = ordered
        .iter()
        .take(FEED_ENTRIES)
        .map(|s| feed_entry(s))
        .collect();
    // The feed changes when a signature is added, not when the site is rebuilt.
    let updated = entries
        .first()
        .map_or_else(|| "2013-11-01T00:00:00Z".to_owned(), |e| e.updated.clone());
    let feed = Feed {
        base,
        updated,
        entries,
    };
    feed.render().map_err(|source| SiteError::Render {
        what: "feed.atom".into(),
        source,
    })
}
