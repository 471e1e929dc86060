//! The service's HTML: the front page (a "check your server" form that works without
//! JavaScript, and the latest checks) and the page of one domain (the register's look and
//! templates; while a check runs it shows progress and refreshes itself with a meta refresh;
//! the history of verdicts as a small server-side SVG chart). Everything from a report is
//! peer- or user-controlled text: askama escapes it for HTML.
//!
//! The report itself is shown through the register's views (`crate::site::report_view`) and
//! `templates/serve_report.html`, the report sections of `templates/domain.html`, so that a
//! requirement, its basis, fix and evidence read the same on both. The pages extend
//! `templates/base.html` through `templates/serve_base.html` (the service's header and footer)
//! and link relative to the service root `/`; the stylesheet is the register's,
//! [`STYLE_CSS`], which the service serves at `/style.css` (the pages' Content-Security-Policy
//! allows no inline style).

use askama::Template;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::report::{Report, Verdict};
use crate::serve::model::{CheckState, HistoryPoint};
use crate::site::report_view::{ReportView, report_view};

/// The stylesheet the pages link as `/style.css`: the register's, which holds the service's
/// few rules too (form, progress, chart).
pub const STYLE_CSS: &str = include_str!("../../assets/style.css");

/// Seconds between the reloads of a pending page. Short, because a check takes seconds; the
/// progress message is a status region, so the reload is not an alarm.
pub const REFRESH_SECONDS: u32 = 2;

/// The root every link of the pages is relative to.
const ROOT: &str = "/";

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

/// A time as the pages show it: machine-readable in `datetime`, short for people.
struct TimeView {
    iso: String,
    text: String,
}

fn time_view(t: OffsetDateTime) -> TimeView {
    let utc = t.to_offset(time::UtcOffset::UTC);
    let short = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    TimeView {
        iso: utc.format(&Rfc3339).unwrap_or_default(),
        text: utc.format(&short).unwrap_or_default(),
    }
}

fn day(t: OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// The CSS class of a verdict: the one the register's report view gives it.
fn verdict_class(v: Verdict) -> &'static str {
    v.as_str()
}

/// `/check/{domain}`. The domain is normalised before it gets here (an A-label), but a page
/// link must not become another path whatever it holds: everything outside the unreserved
/// characters is percent-encoded, and so are the dots of a `.` or `..` segment.
fn check_href(domain: &str) -> String {
    let mut out = format!("{ROOT}check/");
    if domain == "." || domain == ".." {
        out.push_str(&"%2E".repeat(domain.len()));
        return out;
    }
    for b in domain.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct RecentView {
    domain: String,
    display: String,
    href: String,
    verdict: &'static str,
    verdict_class: &'static str,
    at: TimeView,
}

#[derive(Template)]
#[template(path = "serve_index.html")]
struct IndexTemplate<'a> {
    root: &'a str,
    message: Option<&'a str>,
    recent: Vec<RecentView>,
}

/// The front page. `message`: a sentence to show above the form (an invalid domain, a limit).
pub fn render_index(
    recent: &[RecentCheck],
    message: Option<&str>,
) -> Result<String, askama::Error> {
    let recent = recent
        .iter()
        .map(|c| RecentView {
            display: crate::domain::display(&c.domain),
            href: check_href(&c.domain),
            domain: c.domain.clone(),
            verdict: c.verdict.as_str(),
            verdict_class: verdict_class(c.verdict),
            at: time_view(c.at),
        })
        .collect();
    IndexTemplate {
        root: ROOT,
        message,
        recent,
    }
    .render()
}

/// The progress message of a pending check.
struct PendingView {
    refresh: u32,
    headline: String,
    detail: &'static str,
}

fn pending_view(state: CheckState, queue_position: Option<usize>) -> PendingView {
    let headline = match (state, queue_position) {
        (CheckState::Queued, Some(0)) => "Queued: this check is next.".to_owned(),
        (CheckState::Queued, Some(1)) => "Queued: 1 check ahead of this one.".to_owned(),
        (CheckState::Queued, Some(n)) => format!("Queued: {n} checks ahead of this one."),
        (CheckState::Queued, None) => "Queued.".to_owned(),
        (CheckState::Running, _) => "Checking now.".to_owned(),
        // The service shows a finished check as Done or Aborted; if a caller passes one here
        // anyway, the next reload shows the result.
        (CheckState::Done | CheckState::Aborted, _) => "Finishing.".to_owned(),
    };
    let detail = match state {
        CheckState::Running => {
            "DNS, every endpoint's TLS and the plaintext probes take up to about a minute."
        }
        _ => "A check takes up to about a minute once it starts.",
    };
    PendingView {
        refresh: REFRESH_SECONDS,
        headline,
        detail,
    }
}

/// The verdict at the top of a finished check's page, in a sentence.
struct LedeView {
    verdict: &'static str,
    class: &'static str,
    sentence: &'static str,
}

fn lede_view(r: &Report) -> LedeView {
    LedeView {
        verdict: r.verdict.as_str(),
        class: verdict_class(r.verdict),
        sentence: match r.verdict {
            Verdict::Pass => "Every requirement passed: plaintext is refused, TLS is current and the certificate is trusted.",
            Verdict::Fail => "At least one requirement failed; each one below says how to fix it.",
            Verdict::Inconclusive => "Nothing failed, but the check could not decide every requirement (an endpoint unreachable, a timeout, a DNS failure).",
            Verdict::NoService => "No XMPP service was found for this domain: there was nothing to check.",
        },
    }
}

struct HistoryRow {
    at: TimeView,
    verdict: &'static str,
    verdict_class: &'static str,
    duration: String,
}

struct HistoryView {
    /// The rendered SVG (askama-escaped when it was rendered: inserted as is).
    chart: String,
    /// Newest first.
    rows: Vec<HistoryRow>,
}

fn history_view(points: &[HistoryPoint]) -> Result<Option<HistoryView>, askama::Error> {
    if points.is_empty() {
        return Ok(None);
    }
    let mut sorted: Vec<&HistoryPoint> = points.iter().collect();
    sorted.sort_by(|a, b| b.at.cmp(&a.at));
    let rows = sorted
        .iter()
        .map(|p| HistoryRow {
            at: time_view(p.at),
            verdict: p.verdict.as_str(),
            verdict_class: verdict_class(p.verdict),
            duration: seconds(p.duration_ms),
        })
        .collect();
    Ok(Some(HistoryView {
        chart: history_chart(points)?,
        rows,
    }))
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

#[derive(Template)]
#[template(path = "serve_domain.html")]
struct DomainTemplate<'a> {
    root: &'a str,
    domain: &'a str,
    display: String,
    unknown: bool,
    pending: Option<PendingView>,
    error: Option<&'a str>,
    lede: Option<LedeView>,
    /// The label of the "check" form's button, when the page offers one.
    check_button: Option<&'static str>,
    report_heading: &'static str,
    report: Option<ReportView>,
    history: Option<HistoryView>,
}

/// The page of `domain`.
pub fn render_domain(domain: &str, page: &DomainPage<'_>) -> Result<String, askama::Error> {
    let mut t = DomainTemplate {
        root: ROOT,
        domain,
        display: crate::domain::display(domain),
        unknown: false,
        pending: None,
        error: None,
        lede: None,
        check_button: None,
        report_heading: "Last check",
        report: None,
        history: None,
    };
    match page {
        DomainPage::Unknown => {
            t.unknown = true;
            t.check_button = Some("Check it now");
        }
        DomainPage::Pending {
            state,
            queue_position,
            latest,
            history,
        } => {
            // No "check" button while one is pending: it would only queue a duplicate.
            t.pending = Some(pending_view(*state, *queue_position));
            t.report_heading = "Previous check";
            t.report = latest.map(report_view);
            t.history = history_view(history)?;
        }
        DomainPage::Done { report, history } => {
            t.lede = Some(lede_view(report));
            t.check_button = Some("Check again");
            t.report = Some(report_view(report));
            t.history = history_view(history)?;
        }
        DomainPage::Aborted {
            error,
            latest,
            history,
        } => {
            t.error = Some(error);
            t.check_button = Some("Check again");
            t.report_heading = "Previous check";
            t.report = latest.map(report_view);
            t.history = history_view(history)?;
        }
    }
    t.render()
}

// The chart: one mark per check, oldest left, newest right; the row (and the colour) is the
// verdict, so that it reads without colour too.
const CHART_WIDTH: u32 = 320;
const CHART_HEIGHT: u32 = 60;
const MARK_HEIGHT: u32 = 10;
const CHART_PAD: f64 = 4.0;
/// Widest gap between two marks' left edges, so that a few checks do not spread thin.
const MAX_STEP: f64 = 16.0;

/// Row centre (y) and default fill of each verdict, top to bottom. The fills have at least
/// 4.5:1 contrast on white; the stylesheet sets lighter ones for the dark scheme.
fn verdict_row(v: Verdict) -> (u32, &'static str) {
    match v {
        Verdict::Pass => (9, "#14722f"),
        Verdict::Inconclusive => (23, "#8a5300"),
        Verdict::Fail => (37, "#b3261e"),
        Verdict::NoService => (51, "#5f5f5f"),
    }
}

struct Mark {
    x: String,
    y: u32,
    w: String,
    class: &'static str,
    fill: &'static str,
    title: String,
}

#[derive(Template)]
#[template(path = "serve_chart.svg")]
struct ChartTemplate {
    width: u32,
    height: u32,
    mark_height: u32,
    label: String,
    guides: Vec<u32>,
    marks: Vec<Mark>,
}

/// What a screen reader hears for the chart: "12 checks since 2026-01-02: 10 pass, 2 fail".
fn chart_label(sorted: &[&HistoryPoint]) -> String {
    let (Some(first), Some(_)) = (sorted.first(), sorted.last()) else {
        return "No checks recorded yet".to_owned();
    };
    let order = [
        Verdict::Pass,
        Verdict::Inconclusive,
        Verdict::Fail,
        Verdict::NoService,
    ];
    let counts: Vec<String> = order
        .iter()
        .filter_map(|v| {
            let n = sorted.iter().filter(|p| p.verdict == *v).count();
            (n > 0).then(|| format!("{n} {}", v.as_str()))
        })
        .collect();
    if sorted.len() == 1 {
        format!("1 check on {}: {}", day(first.at), counts.join(", "))
    } else {
        format!(
            "{} checks since {}: {}",
            sorted.len(),
            day(first.at),
            counts.join(", ")
        )
    }
}

/// The history of a domain as a small inline SVG (no script, no external resource). Points
/// may come in any order; they are drawn oldest to newest.
pub(crate) fn history_chart(points: &[HistoryPoint]) -> Result<String, askama::Error> {
    let mut sorted: Vec<&HistoryPoint> = points.iter().collect();
    sorted.sort_by(|a, b| a.at.cmp(&b.at));
    let n = sorted.len();
    let usable = f64::from(CHART_WIDTH) - 2.0 * CHART_PAD;
    let step = if n > 1 {
        (usable / n as f64).min(MAX_STEP)
    } else {
        MAX_STEP
    };
    let w = (step * 0.7).clamp(1.5, 8.0);
    let right = f64::from(CHART_WIDTH) - CHART_PAD - w;
    let marks = sorted
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (row, fill) = verdict_row(p.verdict);
            let x = right - (n - 1 - i) as f64 * step;
            let at = time_view(p.at);
            Mark {
                x: format!("{x:.1}"),
                y: row - MARK_HEIGHT / 2,
                w: format!("{w:.1}"),
                class: verdict_class(p.verdict),
                fill,
                title: format!(
                    "{}: {} ({})",
                    at.text,
                    p.verdict.as_str(),
                    seconds(p.duration_ms)
                ),
            }
        })
        .collect();
    ChartTemplate {
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        mark_height: MARK_HEIGHT,
        label: chart_label(&sorted),
        guides: [
            Verdict::Pass,
            Verdict::Inconclusive,
            Verdict::Fail,
            Verdict::NoService,
        ]
        .iter()
        .map(|v| verdict_row(*v).0)
        .collect(),
        marks,
    }
    .render()
}

#[cfg(test)]
mod tests {}
