//! The service's HTML: the front page (a "check your server" form that works without
//! JavaScript, and the latest checks) and the page of one domain (the register's look and
//! templates; while a check runs it shows progress and refreshes itself with a meta refresh,
//! which a "Stop refreshing" link turns off (WCAG 2.2.1: `?refresh=off`, a page with a
//! "Refresh" link instead); the history of verdicts as a small server-side SVG chart). Everything from a report is
//! peer- or user-controlled text: askama escapes it for HTML.
//!
//! The report itself is shown through the register's views (`crate::site::report_view`) and
//! `templates/report_sections.html`, which the register's `templates/domain.html` includes too,
//! so that a requirement, its basis, fix and evidence read the same on both. The pages extend
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
    /// A check is queued or running; `latest` is the previous result, if any. `refresh`: the
    /// page reloads itself every [`REFRESH_SECONDS`] (a meta refresh) and links to its own
    /// `?refresh=off`; `false` (the reader stopped it): no meta refresh, a "Refresh" link.
    Pending {
        state: CheckState,
        queue_position: Option<usize>,
        latest: Option<&'a Report>,
        history: &'a [HistoryPoint],
        refresh: bool,
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
    out.push_str(&crate::check::http::percent_encode(domain));
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
    /// Whether the page reloads itself (a meta refresh), every `seconds`.
    auto: bool,
    seconds: u32,
    headline: String,
    detail: &'static str,
    /// The page without the meta refresh (`?refresh=off`): "Stop refreshing", then "Refresh".
    still_href: String,
    /// The page that reloads itself again.
    href: String,
}

fn pending_view(
    domain: &str,
    state: CheckState,
    queue_position: Option<usize>,
    refresh: bool,
) -> PendingView {
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
    let href = check_href(domain);
    PendingView {
        auto: refresh,
        seconds: REFRESH_SECONDS,
        headline,
        detail,
        still_href: format!("{href}?refresh=off"),
        href,
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
            Verdict::Pass => {
                "Every requirement passed: plaintext is refused, TLS is current and the certificate is trusted."
            }
            Verdict::Fail => "At least one requirement failed; each one below says how to fix it.",
            Verdict::Inconclusive => {
                "Nothing failed, but the check could not decide every requirement (an endpoint unreachable, a timeout, a DNS failure)."
            }
            Verdict::NoService => {
                "No XMPP service was found for this domain: there was nothing to check."
            }
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
    sorted.sort_by_key(|p| std::cmp::Reverse(p.at));
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
            refresh,
        } => {
            // No "check" button while one is pending: it would only queue a duplicate.
            t.pending = Some(pending_view(domain, *state, *queue_position, *refresh));
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
    sorted.sort_by_key(|p| p.at);
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
mod tests {
    use super::*;
    use time::macros::datetime;

    fn fixture() -> Report {
        serde_json::from_str(include_str!("../../tests/fixtures/report-advisories.json"))
            .expect("fixture parses")
    }

    fn point(i: u32, verdict: Verdict) -> HistoryPoint {
        HistoryPoint {
            id: format!("c{i}"),
            at: datetime!(2026-01-02 06:00 UTC) + time::Duration::hours(i64::from(i) * 6),
            verdict,
            duration_ms: 1500 + u64::from(i) * 100,
        }
    }

    /// Twelve checks, given newest first as the API lists them: 10 pass, 1 fail, 1
    /// inconclusive.
    fn history() -> Vec<HistoryPoint> {
        let mut h: Vec<HistoryPoint> = (0..12)
            .map(|i| {
                let v = match i {
                    3 => Verdict::Fail,
                    7 => Verdict::Inconclusive,
                    _ => Verdict::Pass,
                };
                point(i, v)
            })
            .collect();
        h.reverse();
        h
    }

    /// A report in which every text a server or the DNS can influence tries to inject markup.
    fn hostile_report() -> Report {
        let mut r = fixture();
        let evil = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
        for q in r.requirements.values_mut() {
            q.summary = evil.to_owned();
            q.evidence.push(evil.to_owned());
            q.fix = Some(evil.to_owned());
        }
        for a in &mut r.advisories {
            a.summary = evil.to_owned();
        }
        for e in &mut r.endpoints {
            e.error = Some(evil.to_owned());
        }
        r.tool_version = evil.to_owned();
        r
    }

    fn assert_inert(html: &str) {
        assert!(
            !html.contains("<script"),
            "a script tag got through:\n{html}"
        );
        assert!(!html.contains("<img"), "an img tag got through:\n{html}");
    }

    #[test]
    fn index_snapshot() {
        let recent = [
            RecentCheck {
                domain: "example.org".into(),
                verdict: Verdict::Pass,
                at: datetime!(2026-03-01 10:15:30 UTC),
            },
            RecentCheck {
                // A Unicode domain is shown in Unicode, linked and titled by its A-label.
                domain: "xn--mnchen-3ya.de".into(),
                verdict: Verdict::Fail,
                at: datetime!(2026-03-01 09:00 UTC),
            },
            RecentCheck {
                domain: "gone.example".into(),
                verdict: Verdict::NoService,
                at: datetime!(2026-02-28 23:59 UTC),
            },
        ];
        let html = render_index(&recent, None).expect("renders");
        insta::assert_snapshot!("index", html);
        let empty = render_index(&[], Some("“exa mple” is not a domain name.")).expect("renders");
        insta::assert_snapshot!("index-empty-with-message", empty);
    }

    #[test]
    fn index_form_works_without_javascript() {
        let html = render_index(&[], None).expect("renders");
        assert!(html.contains("<form class=\"check\" method=\"post\" action=\"/check\">"));
        assert!(html.contains("<label for=\"domain\">"));
        assert!(html.contains("id=\"domain\" name=\"domain\""));
        assert!(html.contains("<button type=\"submit\">"));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn hostile_domain_and_message_stay_text() {
        let evil = "a\"><script>alert(1)</script><img src=x onerror=alert(2)>.example";
        let recent = [RecentCheck {
            domain: evil.into(),
            verdict: Verdict::Pass,
            at: datetime!(2026-03-01 10:15 UTC),
        }];
        let html = render_index(&recent, Some(evil)).expect("renders");
        assert_inert(&html);
        assert!(html.contains("&#60;script&#62;"), "{html}");
        // The link stays one path segment under /check/.
        assert!(html.contains("href=\"/check/a%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E"));
        let report = fixture();
        for page in [
            DomainPage::Unknown,
            DomainPage::Done {
                report: &report,
                history: &[],
            },
            DomainPage::Aborted {
                error: evil,
                latest: None,
                history: &[],
            },
        ] {
            let html = render_domain(evil, &page).expect("renders");
            assert_inert(&html);
            assert!(
                html.contains("value=\"a&#34;&#62;&#60;script&#62;"),
                "{html}"
            );
        }
        assert_eq!(check_href(".."), "/check/%2E%2E");
        assert_eq!(check_href("a/../b"), "/check/a%2F..%2Fb");
    }

    #[test]
    fn hostile_report_text_stays_text() {
        let report = hostile_report();
        let history = history();
        let html = render_domain(
            "example.test",
            &DomainPage::Done {
                report: &report,
                history: &history,
            },
        )
        .expect("renders");
        assert_inert(&html);
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;&#34;&#62;&#60;img src=x"));
        let html = render_domain(
            "example.test",
            &DomainPage::Pending {
                state: CheckState::Running,
                queue_position: None,
                latest: Some(&report),
                history: &history,
                refresh: true,
            },
        )
        .expect("renders");
        assert_inert(&html);
    }

    #[test]
    fn domain_snapshots() {
        let report = fixture();
        let history = history();
        let one = [point(0, Verdict::Fail)];
        let pages = [
            ("domain-unknown", DomainPage::Unknown),
            (
                "domain-queued",
                DomainPage::Pending {
                    state: CheckState::Queued,
                    queue_position: Some(3),
                    latest: None,
                    history: &[],
                    refresh: true,
                },
            ),
            (
                "domain-running-with-previous",
                DomainPage::Pending {
                    state: CheckState::Running,
                    queue_position: None,
                    latest: Some(&report),
                    history: &one,
                    refresh: true,
                },
            ),
            (
                "domain-running-refresh-off",
                DomainPage::Pending {
                    state: CheckState::Running,
                    queue_position: None,
                    latest: None,
                    history: &[],
                    refresh: false,
                },
            ),
            (
                "domain-done",
                DomainPage::Done {
                    report: &report,
                    history: &history,
                },
            ),
            (
                "domain-aborted",
                DomainPage::Aborted {
                    error: "the service was shut down while the check ran",
                    latest: None,
                    history: &one,
                },
            ),
        ];
        for (name, page) in pages {
            let html = render_domain("example.test", &page).expect("renders");
            insta::assert_snapshot!(name, html);
        }
    }

    #[test]
    fn meta_refresh_only_while_pending() {
        let report = fixture();
        let refresh = "<meta http-equiv=\"refresh\" content=\"2\">";
        for (state, pos) in [(CheckState::Queued, Some(0)), (CheckState::Running, None)] {
            let html = render_domain(
                "example.test",
                &DomainPage::Pending {
                    state,
                    queue_position: pos,
                    latest: Some(&report),
                    history: &[],
                    refresh: true,
                },
            )
            .expect("renders");
            assert!(html.contains(refresh), "{html}");
            assert!(html.contains("role=\"status\""));
            // The previous result stays readable below the progress.
            assert!(html.contains("Previous check"));
            // No second check can be queued from a pending page.
            assert!(!html.contains("action=\"/check\""));
            // The reader can stop the reloads (WCAG 2.2.1).
            let stop = "<a href=\"/check/example.test?refresh=off\">Stop refreshing</a>";
            assert!(html.contains(stop), "{html}");
        }
        // Stopped: still the progress, but no meta refresh; a link to reload by hand, and one
        // back to the page that reloads itself.
        let html = render_domain(
            "example.test",
            &DomainPage::Pending {
                state: CheckState::Running,
                queue_position: None,
                latest: Some(&report),
                history: &[],
                refresh: false,
            },
        )
        .expect("renders");
        assert!(!html.contains("http-equiv=\"refresh\""), "{html}");
        assert!(!html.contains("Stop refreshing"), "{html}");
        assert!(html.contains("role=\"status\""));
        assert!(
            html.contains("<a href=\"/check/example.test?refresh=off\">Refresh</a>"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"/check/example.test\">refresh every 2 seconds</a>"),
            "{html}"
        );
        for page in [
            DomainPage::Unknown,
            DomainPage::Done {
                report: &report,
                history: &[],
            },
            DomainPage::Aborted {
                error: "shutdown",
                latest: Some(&report),
                history: &[],
            },
        ] {
            let html = render_domain("example.test", &page).expect("renders");
            assert!(!html.contains("http-equiv=\"refresh\""), "{html}");
            assert!(html.contains("action=\"/check\""), "a check form: {html}");
        }
    }

    #[test]
    fn unicode_domain_is_shown_in_unicode() {
        let html = render_domain("xn--mnchen-3ya.de", &DomainPage::Unknown).expect("renders");
        assert!(
            html.contains("<h1>münchen.de <span class=\"alabel\">(xn--mnchen-3ya.de)</span></h1>")
        );
        // The form posts the A-label.
        assert!(html.contains("name=\"domain\" value=\"xn--mnchen-3ya.de\""));
    }

    #[test]
    fn chart_of_zero_one_and_many_points() {
        let zero = history_chart(&[]).expect("renders");
        assert!(zero.contains("aria-label=\"No checks recorded yet\""));
        assert!(!zero.contains("<rect"));
        insta::assert_snapshot!("chart-0", zero);

        let one = history_chart(&[point(0, Verdict::Pass)]).expect("renders");
        assert!(
            one.contains("aria-label=\"1 check on 2026-01-02: 1 pass\""),
            "{one}"
        );
        assert_eq!(one.matches("<rect").count(), 1);
        insta::assert_snapshot!("chart-1", one);

        let many = history_chart(&history()).expect("renders");
        assert!(
            many.contains(
                "aria-label=\"12 checks since 2026-01-02: 10 pass, 1 inconclusive, 1 fail\""
            ),
            "{many}"
        );
        assert_eq!(many.matches("<rect").count(), 12);
        assert_eq!(many.matches("<title>").count(), 12);
        assert!(many.contains("role=\"img\""));
        insta::assert_snapshot!("chart-12", many);

        // Newest right: the last mark drawn is the newest check, at the right edge.
        let last = many.rsplit("<rect").next().expect("a mark");
        assert!(last.contains("2026-01-05 00:00 UTC: pass"), "{last}");

        // The most the API lists (100) still fits the width.
        let hundred: Vec<HistoryPoint> = (0..100).map(|i| point(i, Verdict::Pass)).collect();
        let svg = history_chart(&hundred).expect("renders");
        let first_x: f64 = svg
            .split(" x=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .and_then(|s| s.parse().ok())
            .expect("x of the first mark");
        assert!(first_x >= 0.0, "{svg}");
    }
}
