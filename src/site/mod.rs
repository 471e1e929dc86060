//! The public page: `manifesto site --out DIR [--results DIR]`.
//!
//! Built from the validated register ([`crate::register::registry`]) and, when present, a directory of
//! check reports (`report-v1` JSON, one file per domain, e.g. `results/<domain>.json`). The
//! output is static and self-contained (no third-party requests):
//!
//! - `index.html`: the statement in our words, counts, the table of signatories (sortable,
//!   with a search box; both are progressive enhancements by `site.js`);
//! - `domains/<domain>.html`: the latest report of one operator domain, readable;
//! - `badges/<domain>.svg`: "manifesto: verified" / "failing" / "unverified";
//! - `signatories.json`: the register and statuses (schema [`SIGNATORIES_SCHEMA`], see
//!   `docs/signatories-json.md`);
//! - `feed.atom`: the newest signatures;
//! - `style.css`, `site.js`.
//!
//! Everything that comes from a signatory file or a report is escaped by askama. The output
//! depends only on the inputs (no build time in it), so rebuilding changes nothing.
//!
//! The rooms: `build` orders the register and writes the files; `views` and `report_view`
//! turn the register and the reports into what the templates show; `json`, `feed` and
//! `badge` render one output each.

use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::report::{Report, Verdict};

mod badge;
mod build;
mod feed;
mod json;
pub(crate) mod report_view;
mod views;

pub use crate::register::store::Results;
pub use badge::render_badge;
pub use build::build_site;

/// Schema identifier of `signatories.json`.
pub const SIGNATORIES_SCHEMA: &str = "xmpp-manifesto/signatories-v1";
/// Most entries in the Atom feed.
pub const FEED_ENTRIES: usize = 100;

/// Status of one operator domain on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DomainStatus {
    /// The last check passed.
    Verified,
    /// The last check failed.
    Failing,
    /// The last check could not decide (network trouble...): not verified.
    Inconclusive,
    /// Never checked.
    Unverified,
    /// The last check found no XMPP service (neither c2s nor s2s): nothing to verify.
    #[serde(rename = "no-service")]
    NoService,
}

impl DomainStatus {
    fn from_report(report: Option<&Report>) -> DomainStatus {
        match report.map(|r| r.verdict) {
            Some(Verdict::Pass) => DomainStatus::Verified,
            Some(Verdict::Fail) => DomainStatus::Failing,
            Some(Verdict::Inconclusive) => DomainStatus::Inconclusive,
            Some(Verdict::NoService) => DomainStatus::NoService,
            None => DomainStatus::Unverified,
        }
    }

    /// CSS class suffix.
    pub fn class(self) -> &'static str {
        match self {
            DomainStatus::Verified => "verified",
            DomainStatus::Failing => "failing",
            DomainStatus::Inconclusive => "inconclusive",
            DomainStatus::Unverified => "unverified",
            DomainStatus::NoService => "no-service",
        }
    }

    /// Text on the page.
    pub fn label(self) -> &'static str {
        match self {
            DomainStatus::Verified => "verified",
            DomainStatus::Failing => "failing",
            DomainStatus::Inconclusive => "inconclusive, not verified",
            DomainStatus::Unverified => "not verified",
            DomainStatus::NoService => "serves no XMPP, not verified",
        }
    }

    /// Text of the badge: only three states, an inconclusive check is not a verification.
    pub fn badge(self) -> (&'static str, &'static str) {
        match self {
            DomainStatus::Verified => ("verified", "#14722f"),
            DomainStatus::Failing => ("failing", "#b3261e"),
            DomainStatus::Inconclusive | DomainStatus::Unverified | DomainStatus::NoService => {
                ("unverified", "#5f5f5f")
            }
        }
    }

    fn sort_rank(self) -> u8 {
        match self {
            DomainStatus::Verified => 0,
            DomainStatus::Inconclusive => 1,
            DomainStatus::Unverified => 2,
            DomainStatus::Failing => 3,
            DomainStatus::NoService => 4,
        }
    }
}

/// Options of [`build_site`].
#[derive(Debug, Clone, Default)]
pub struct SiteOptions {
    /// Absolute URL ending in `/`, or empty for relative links.
    pub base_url: String,
}

impl SiteOptions {
    /// Options for a site published at `base_url` (a `/` is added if it lacks one), or with
    /// relative links when there is none.
    pub fn with_base_url(base_url: Option<&str>) -> SiteOptions {
        let mut base_url = base_url.unwrap_or_default().to_owned();
        if !base_url.is_empty() && !base_url.ends_with('/') {
            base_url.push('/');
        }
        SiteOptions { base_url }
    }
}

/// What [`build_site`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteSummary {
    pub signatories: usize,
    pub domains: usize,
    pub files: usize,
}

/// Why the site could not be built. None of these is a usage error: the register was
/// validated before, so they are I/O failures or a broken invariant.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// The results directory could not be read (the store's error, as text, so this does not
    /// depend on the store's error type).
    #[error("{0}")]
    Results(String),
    /// A domain that would become a file name is not normalised: the register was not
    /// validated (validation guarantees it; this is the second lock against path traversal).
    #[error("{path}: domain {domain:?} is not normalised")]
    UnnormalisedDomain { path: PathBuf, domain: String },
    /// Creating a directory or writing a file of the site failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A template failed to render.
    #[error("rendering {what}: {source}")]
    Render { what: String, source: askama::Error },
    #[error("serialising signatories.json: {0}")]
    Json(#[from] serde_json::Error),
    /// A worker writing domain pages panicked (a bug).
    #[error("a page writer panicked")]
    WriterPanicked,
}

/// Reads the results directory if there is one; without it every domain is unverified.
/// Files that cannot be used are listed in [`Results::skipped`], not errors.
pub fn load_results(dir: Option<&Path>) -> Result<Results, SiteError> {
    match dir {
        Some(dir) => Results::load(dir).map_err(|e| SiteError::Results(format!("{e:#}"))),
        None => Ok(Results::default()),
    }
}

fn date_str(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| date_str(t.date()))
}

/// Where the page of a domain is, relative to the site root.
fn domain_page(domain: &str) -> String {
    format!("domains/{domain}.html")
}

/// Where the badge of a domain is, relative to the site root.
fn badge_path(domain: &str) -> String {
    format!("badges/{domain}.svg")
}
