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

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use askama::Template;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::register::lifecycle::{Lifecycle, State};
use crate::register::registry::{self, Registry, Role, Signatory};
use crate::report::{self, Report, Status, Verdict};

/// Schema identifier of `signatories.json`.
pub const SIGNATORIES_SCHEMA: &str = "xmpp-manifesto/signatories-v1";
/// Most entries in the Atom feed.
pub const FEED_ENTRIES: usize = 100;

const STYLE_CSS: &str = include_str!("../../assets/style.css");
const SITE_JS: &str = include_str!("../../assets/site.js");

/// `manifesto site`: builds the public page.
#[derive(Debug, Clone, clap::Args)]
pub struct SiteArgs {
    /// Output directory (created; existing files are overwritten).
    #[arg(long, default_value = "site")]
    pub out: PathBuf,
    /// Directory of the latest check reports (report-v1 JSON, e.g. <domain>.json). Without it,
    /// every domain is shown as not verified yet.
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Directory of signatory files.
    #[arg(long, default_value = registry::SIGNATORIES_DIR)]
    pub registry: PathBuf,
    /// Absolute URL the site is published at (ending in /), for links in the feed and JSON.
    /// Without it, those links are relative.
    #[arg(long)]
    pub base_url: Option<String>,
}

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
}

impl DomainStatus {
    fn from_report(report: Option<&Report>) -> DomainStatus {
        match report.map(|r| r.verdict) {
            Some(Verdict::Pass) => DomainStatus::Verified,
            Some(Verdict::Fail) => DomainStatus::Failing,
            Some(Verdict::Inconclusive) => DomainStatus::Inconclusive,
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
        }
    }

    /// Text on the page.
    pub fn label(self) -> &'static str {
        match self {
            DomainStatus::Verified => "verified",
            DomainStatus::Failing => "failing",
            DomainStatus::Inconclusive => "inconclusive, not verified",
            DomainStatus::Unverified => "not verified",
        }
    }

    /// Text of the badge: only three states, an inconclusive check is not a verification.
    pub fn badge(self) -> (&'static str, &'static str) {
        match self {
            DomainStatus::Verified => ("verified", "#14722f"),
            DomainStatus::Failing => ("failing", "#b3261e"),
            DomainStatus::Inconclusive | DomainStatus::Unverified => ("unverified", "#5f5f5f"),
        }
    }

    fn sort_rank(self) -> u8 {
        match self {
            DomainStatus::Verified => 0,
            DomainStatus::Inconclusive => 1,
            DomainStatus::Unverified => 2,
            DomainStatus::Failing => 3,
        }
    }
}

pub use crate::register::store::Results;

/// Options of [`build_site`].
#[derive(Debug, Clone, Default)]
pub struct SiteOptions {
    /// Absolute URL ending in `/`, or empty for relative links.
    pub base_url: String,
}

/// What [`build_site`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteSummary {
    pub signatories: usize,
    pub domains: usize,
    pub files: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
struct Counts {
    signatories: usize,
    operators: usize,
    developers: usize,
    domains: usize,
    verified: usize,
    failing: usize,
    unverified: usize,
    imported: usize,
    /// Lifecycle counts (added within v1): failing past the grace period, inconclusive last
    /// check, never passed.
    lapsed: usize,
    unreachable: usize,
    never_verified: usize,
}

/// The lifecycle of a domain as shown on the page.
#[derive(Debug, Clone)]
struct LifecycleView {
    /// CSS class suffix and state name.
    state: &'static str,
    /// "verified since", "failing since"...
    label: &'static str,
    /// YYYY-MM-DD after the label.
    date: Option<String>,
    /// A second fact, e.g. "lapses on 2026-02-01".
    note: Option<String>,
    /// Whether it says more than the status beside it ("never verified" next to "not verified"
    /// does not).
    shown: bool,
}

fn lifecycle_view(lc: &Lifecycle) -> LifecycleView {
    let day = |t: Option<OffsetDateTime>| t.map(|t| date_str(t.date()));
    let (label, note) = match lc.state {
        State::Verified => ("verified since", None),
        State::Failing => (
            "failing since",
            day(lc.lapses_at).map(|d| format!("lapses on {d} unless fixed")),
        ),
        State::Lapsed => (
            "lapsed on",
            day(lc.failing_since).map(|d| format!("failing since {d}")),
        ),
        State::Unreachable => (
            "unreachable since",
            day(lc.last_pass).map(|d| format!("last verified {d}")),
        ),
        State::NeverVerified => ("never verified", None),
    };
    LifecycleView {
        state: lc.state.as_str(),
        label,
        date: day(lc.since),
        note,
        shown: !(lc.state == State::NeverVerified && lc.checks == 0),
    }
}

#[derive(Debug, Clone)]
struct DomainView {
    domain: String,
    display: String,
    status: DomainStatus,
    checked: Option<String>,
    page: String,
    lifecycle: LifecycleView,
    lifecycle_data: Lifecycle,
}

#[derive(Debug, Clone)]
struct RowView {
    slug: String,
    name: String,
    name_sort: String,
    website: Option<String>,
    statement: String,
    role: &'static str,
    domains: Vec<DomainView>,
    domains_sort: String,
    signed_sort: String,
    imported: bool,
    source: String,
    status_sort: String,
    search: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    root: &'a str,
    counts: &'a Counts,
    rows: &'a [RowView],
}

#[derive(Debug, Clone)]
struct SignatoryView {
    slug: String,
    name: String,
    website: Option<String>,
    statement: String,
    signed: String,
    imported: bool,
    source: String,
}

struct RequirementView {
    id: &'static str,
    title: &'static str,
    status: &'static str,
    class: &'static str,
    summary: String,
    basis: Option<&'static str>,
    fix: Option<String>,
    evidence: Vec<String>,
}

struct AdvisoryView {
    id: String,
    level: &'static str,
    class: &'static str,
    summary: String,
    fix: Option<String>,
    evidence: Vec<String>,
}

struct EndpointView {
    label: String,
    error: Option<String>,
    tls: String,
    certificate: String,
    probes: Vec<String>,
}

struct ReportView {
    checked_at: String,
    verdict: &'static str,
    verdict_class: &'static str,
    tool_version: String,
    duration: String,
    software: Option<&'static str>,
    requirements: Vec<RequirementView>,
    advisories: Vec<AdvisoryView>,
    endpoints: Vec<EndpointView>,
    discovery: Vec<String>,
}

#[derive(Template)]
#[template(path = "domain.html")]
struct DomainPage<'a> {
    root: &'a str,
    domain: &'a str,
    display: &'a str,
    status: DomainStatus,
    lifecycle: LifecycleView,
    badge_width: u32,
    signatory: &'a SignatoryView,
    report: Option<ReportView>,
}

#[derive(Template)]
#[template(path = "badge.svg")]
struct Badge<'a> {
    domain: &'a str,
    message: &'a str,
    color: &'a str,
    width: u32,
    label_width: u32,
    message_width: u32,
    label_x: f32,
    message_x: f32,
}

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

#[derive(Serialize)]
struct JsonDomain<'a> {
    domain: &'a str,
    unicode: &'a str,
    status: DomainStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checked_at: Option<String>,
    /// Added within v1: state and dates derived from the history of checks.
    lifecycle: &'a Lifecycle,
    page: String,
    badge: String,
}

#[derive(Serialize)]
struct JsonSignatory<'a> {
    slug: &'a str,
    name: &'a str,
    role: Role,
    statement: &'a str,
    signed: String,
    /// `day` for dated signatures, `on-or-before` for the 2014 imports.
    signed_precision: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    website: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    github: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    domains: Vec<JsonDomain<'a>>,
}

#[derive(Serialize)]
struct JsonDocument<'a> {
    schema: &'static str,
    counts: &'a Counts,
    signatories: Vec<JsonSignatory<'a>>,
}

fn date_str(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| date_str(t.date()))
}

fn domain_page(domain: &str) -> String {
    format!("domains/{domain}.html")
}

fn badge_path(domain: &str) -> String {
    format!("badges/{domain}.svg")
}

/// Text width estimate of Verdana 11px, enough for a badge.
fn text_width(s: &str) -> u32 {
    let w: f32 = s
        .chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | 't' | 'f' | 'r' => 4.0,
            'm' | 'w' => 10.0,
            _ => 7.0,
        })
        .sum();
    w.ceil() as u32
}

/// Renders the SVG badge of a domain.
pub fn render_badge(domain: &str, status: DomainStatus) -> anyhow::Result<String> {
    let (message, color) = status.badge();
    let label_width = text_width("manifesto") + 12;
    let message_width = text_width(message) + 12;
    let badge = Badge {
        domain,
        message,
        color,
        width: label_width + message_width,
        label_width,
        message_width,
        label_x: label_width as f32 / 2.0,
        message_x: label_width as f32 + message_width as f32 / 2.0,
    };
    Ok(badge.render()?)
}

fn badge_width(status: DomainStatus) -> u32 {
    text_width("manifesto") + 12 + text_width(status.badge().0) + 12
}

fn report_view(r: &Report) -> ReportView {
    let requirements = r
        .requirements
        .iter()
        .map(|(id, q)| RequirementView {
            id: id.as_str(),
            title: id.title(),
            status: q.status.as_str(),
            class: status_class(q.status),
            summary: q.summary.clone(),
            basis: q.basis.map(|b| match b {
                report::Basis::Verified => "verified by a plaintext probe",
                report::Basis::Advertised => "as advertised by the server, not probed",
            }),
            fix: q.fix.clone(),
            evidence: q.evidence.clone(),
        })
        .collect();
    let advisories = r
        .advisories
        .iter()
        .map(|a| {
            let (level, class) = match a.level {
                report::AdvisoryLevel::Info => ("info", "info"),
                report::AdvisoryLevel::Warn => ("warning", "warn"),
            };
            AdvisoryView {
                id: a.id.clone(),
                level,
                class,
                summary: a.summary.clone(),
                fix: a.fix.clone(),
                evidence: a.evidence.clone(),
            }
        })
        .collect();
    let endpoints = r
        .endpoints
        .iter()
        .map(|e| EndpointView {
            label: e.label(),
            error: e.error.clone(),
            tls: match &e.tls {
                Some(t) => format!(
                    "{} {}{}",
                    t.version,
                    t.cipher_suite,
                    if t.forward_secret {
                        ", forward secret"
                    } else {
                        ", no forward secrecy"
                    }
                ),
                None => "no TLS session".into(),
            },
            certificate: match &e.certificate {
                Some(c) => {
                    let leaf = c.chain.first();
                    let mut s = if c.is_trusted() {
                        "trusted".to_owned()
                    } else {
                        "not trusted".to_owned()
                    };
                    if let Some(m) = &c.name_match {
                        s.push_str(&format!(", name matched by {m}"));
                    }
                    for err in [&c.chain_error, &c.name_error].into_iter().flatten() {
                        s.push_str(&format!("; {err}"));
                    }
                    if c.expired {
                        s.push_str("; expired");
                    }
                    if let Some(l) = leaf {
                        s.push_str(&format!(
                            "; issued by {}, valid until {}",
                            l.issuer, l.not_after
                        ));
                    }
                    s
                }
                None => "none seen".into(),
            },
            probes: e
                .probes
                .iter()
                .map(|p| {
                    let kind = match p.kind {
                        report::ProbeKind::Sasl => "SASL auth before TLS",
                        report::ProbeKind::Dialback => "dialback before TLS",
                    };
                    let outcome = match p.outcome {
                        report::ProbeOutcome::Enforced => "refused (good)",
                        report::ProbeOutcome::NotEnforced => "accepted without TLS",
                        report::ProbeOutcome::Attempted => {
                            "processed in cleartext, outcome unproven"
                        }
                        report::ProbeOutcome::NoAnswer => "no answer",
                        report::ProbeOutcome::Error => "could not run",
                    };
                    format!("{kind}: {outcome}")
                })
                .collect(),
        })
        .collect();
    let discovery = r
        .discovery
        .iter()
        .map(|d| {
            let outcome = match d.outcome {
                report::DiscoveryOutcome::Found => "found",
                report::DiscoveryOutcome::NoRecords => "no records",
                report::DiscoveryOutcome::ServiceAbsent => "service decidedly absent",
                report::DiscoveryOutcome::Fallback => "fallback to the domain's addresses",
                report::DiscoveryOutcome::Error => "lookup failed",
                report::DiscoveryOutcome::Refused => "refused by policy",
            };
            let mut s = format!("{} ({} {}): {outcome}", d.name, d.service, d.mode);
            if !d.records.is_empty() {
                s.push_str(&format!(": {}", d.records.join(", ")));
            }
            if let Some(detail) = &d.detail {
                s.push_str(&format!(" ({detail})"));
            }
            s
        })
        .collect();
    ReportView {
        checked_at: rfc3339(r.checked_at),
        verdict: r.verdict.as_str(),
        verdict_class: match r.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
        },
        tool_version: r.tool_version.clone(),
        duration: format!("{:.1} s", r.duration_ms as f64 / 1000.0),
        software: r.software.map(|s| s.name()),
        requirements,
        advisories,
        endpoints,
        discovery,
    }
}

fn status_class(s: Status) -> &'static str {
    s.as_str()
}

/// The website, only if it is an https URL (validation guarantees it; this is a second lock).
fn safe_website(s: &Signatory) -> Option<String> {
    s.website
        .clone()
        .filter(|u| u.starts_with("https://") && !u.chars().any(char::is_whitespace))
}

fn signatory_view(s: &Signatory) -> SignatoryView {
    SignatoryView {
        slug: s.slug.clone(),
        name: s.name.clone(),
        website: safe_website(s),
        statement: s.statement.clone(),
        signed: date_str(s.signed),
        imported: s.is_imported(),
        source: s.source.clone().unwrap_or_default(),
    }
}

/// One domain page and badge to write.
struct PageJob<'a> {
    domain: &'a str,
    display: String,
    status: DomainStatus,
    lifecycle: LifecycleView,
    /// Index into the signatory views.
    signatory: usize,
    report: Option<&'a Report>,
}

fn write_file(out: &Path, rel: &str, content: &[u8]) -> anyhow::Result<()> {
    let path = out.join(rel);
    std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))
}

fn write_domain_pages(
    out: &Path,
    jobs: &[PageJob<'_>],
    views: &[SignatoryView],
) -> anyhow::Result<()> {
    for job in jobs {
        let signatory = views
            .get(job.signatory)
            .context("signatory of a domain page")?;
        let page = DomainPage {
            root: "../",
            domain: job.domain,
            display: &job.display,
            status: job.status,
            lifecycle: job.lifecycle.clone(),
            badge_width: badge_width(job.status),
            signatory,
            report: job.report.map(report_view),
        };
        write_file(out, &domain_page(job.domain), page.render()?.as_bytes())?;
        write_file(
            out,
            &badge_path(job.domain),
            render_badge(job.domain, job.status)?.as_bytes(),
        )?;
    }
    Ok(())
}

/// Writes the whole site into `out` (created if needed). Returns what was written.
pub fn build_site(
    registry: &Registry,
    results: &Results,
    out: &Path,
    options: &SiteOptions,
) -> anyhow::Result<SiteSummary> {
    std::fs::create_dir_all(out.join("domains"))
        .with_context(|| format!("creating {}", out.display()))?;
    std::fs::create_dir_all(out.join("badges"))?;
    let write = |rel: &str, content: &[u8]| write_file(out, rel, content);

    // Newest signatures first, then by name.
    let mut ordered: Vec<&Signatory> = registry.signatories.iter().collect();
    ordered.sort_by(|a, b| {
        b.signed
            .cmp(&a.signed)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then_with(|| a.slug.cmp(&b.slug))
    });

    let mut counts = Counts {
        signatories: ordered.len(),
        ..Counts::default()
    };
    let mut rows = Vec::with_capacity(ordered.len());
    let mut views = Vec::with_capacity(ordered.len());
    let mut jobs = Vec::new();
    for s in &ordered {
        match s.role {
            Role::Operator => counts.operators += 1,
            Role::Developer => counts.developers += 1,
        }
        if s.is_imported() {
            counts.imported += 1;
        }
        let view_index = views.len();
        views.push(signatory_view(s));
        let mut domains = Vec::with_capacity(s.domains.len());
        for d in &s.domains {
            // Domains become file names: only normalised ones (validation guarantees it).
            if crate::domain::normalize_public(d).ok().as_deref() != Some(d.as_str()) {
                anyhow::bail!("{}: domain {d:?} is not normalised", s.path.display());
            }
            let report = results.latest.get(d);
            let status = DomainStatus::from_report(report);
            let lifecycle_data = results.lifecycle_of(d);
            let lifecycle = lifecycle_view(&lifecycle_data);
            counts.domains += 1;
            match lifecycle_data.state {
                State::Lapsed => counts.lapsed += 1,
                State::Unreachable => counts.unreachable += 1,
                State::NeverVerified => counts.never_verified += 1,
                State::Verified | State::Failing => {}
            }
            match status {
                DomainStatus::Verified => counts.verified += 1,
                DomainStatus::Failing => counts.failing += 1,
                DomainStatus::Inconclusive | DomainStatus::Unverified => counts.unverified += 1,
            }
            let display = crate::domain::to_unicode(d);
            jobs.push(PageJob {
                domain: d,
                display: display.clone(),
                status,
                lifecycle: lifecycle.clone(),
                signatory: view_index,
                report,
            });
            domains.push(DomainView {
                domain: d.clone(),
                display,
                status,
                checked: report.map(|r| date_str(r.checked_at.date())),
                page: domain_page(d),
                lifecycle,
                lifecycle_data,
            });
        }
        let status_sort = domains
            .iter()
            .map(|d| d.status.sort_rank())
            .max()
            .map_or_else(|| "9".to_owned(), |r| r.to_string());
        let mut search = format!("{} {} {} {}", s.name, s.statement, s.role.as_str(), s.slug);
        for d in &domains {
            search.push(' ');
            search.push_str(&d.domain);
            if d.display != d.domain {
                search.push(' ');
                search.push_str(&d.display);
            }
            search.push(' ');
            search.push_str(d.status.label());
            search.push(' ');
            search.push_str(d.lifecycle.state);
        }
        rows.push(RowView {
            slug: s.slug.clone(),
            name: s.name.clone(),
            name_sort: s.name.to_lowercase(),
            website: safe_website(s),
            statement: s.statement.clone(),
            role: s.role.as_str(),
            domains_sort: s.domains.first().cloned().unwrap_or_default(),
            domains,
            signed_sort: date_str(s.signed),
            imported: s.is_imported(),
            source: s.source.clone().unwrap_or_default(),
            status_sort,
            search: search.to_lowercase(),
        });
    }

    // Domain pages and badges, rendered and written by one worker per core.
    let mut files = 2 * jobs.len();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let chunk = jobs.len().div_ceil(workers).max(1);
    let views = &views;
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| scope.spawn(move || write_domain_pages(out, part, views)))
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("a page writer panicked"))??;
        }
        Ok(())
    })?;

    let index = IndexPage {
        root: "",
        counts: &counts,
        rows: &rows,
    };
    write("index.html", index.render()?.as_bytes())?;
    write("style.css", STYLE_CSS.as_bytes())?;
    write("site.js", SITE_JS.as_bytes())?;
    files += 3;

    // signatories.json
    let base = options.base_url.as_str();
    let json = JsonDocument {
        schema: SIGNATORIES_SCHEMA,
        counts: &counts,
        signatories: ordered
            .iter()
            .zip(&rows)
            .map(|(s, row)| JsonSignatory {
                slug: &s.slug,
                name: &s.name,
                role: s.role,
                statement: &s.statement,
                signed: date_str(s.signed),
                signed_precision: if s.is_imported() {
                    "on-or-before"
                } else {
                    "day"
                },
                website: safe_website(s),
                contact: s.contact.as_deref(),
                github: s.github.as_deref(),
                source: s.source.as_deref(),
                domains: row
                    .domains
                    .iter()
                    .map(|d| {
                        let report = results.latest.get(&d.domain);
                        JsonDomain {
                            domain: &d.domain,
                            unicode: &d.display,
                            status: d.status,
                            verdict: report.map(|r| r.verdict),
                            checked_at: report.map(|r| rfc3339(r.checked_at)),
                            lifecycle: &d.lifecycle_data,
                            page: format!("{base}{}", domain_page(&d.domain)),
                            badge: format!("{base}{}", badge_path(&d.domain)),
                        }
                    })
                    .collect(),
            })
            .collect(),
    };
    let mut json_text = serde_json::to_string_pretty(&json)?;
    json_text.push('\n');
    write("signatories.json", json_text.as_bytes())?;

    // feed.atom: newest first.
    let entries: Vec<FeedEntry> = ordered
        .iter()
        .take(FEED_ENTRIES)
        .map(|s| {
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
        })
        .collect();
    let updated = entries
        .first()
        .map_or_else(|| "2013-11-01T00:00:00Z".to_owned(), |e| e.updated.clone());
    let feed = Feed {
        base,
        updated,
        entries,
    };
    write("feed.atom", feed.render()?.as_bytes())?;
    files += 2;

    Ok(SiteSummary {
        signatories: counts.signatories,
        domains: counts.domains,
        files,
    })
}

/// Runs `manifesto site`: validates the register (exit 1 with every problem if invalid), reads
/// the results if given, writes the site.
pub fn run_site(args: &SiteArgs) -> anyhow::Result<ExitCode> {
    let validation =
        registry::validate_paths(std::slice::from_ref(&args.registry), registry::today_utc());
    if !validation.is_ok() {
        eprint!(
            "{}",
            registry::render_validation(&validation, registry::ValidateFormat::Human)
        );
        return Ok(ExitCode::from(1));
    }
    let results = match &args.results {
        Some(dir) => Results::load(dir)?,
        None => Results::default(),
    };
    for (path, why) in &results.skipped {
        eprintln!("warning: {}: skipped: {why}", path.display());
    }
    let mut base_url = args.base_url.clone().unwrap_or_default();
    if !base_url.is_empty() && !base_url.ends_with('/') {
        base_url.push('/');
    }
    let summary = build_site(
        &validation.registry,
        &results,
        &args.out,
        &SiteOptions { base_url },
    )?;
    println!(
        "site written to {}: {} signatories, {} domains, {} files",
        args.out.display(),
        summary.signatories,
        summary.domains,
        summary.files
    );
    Ok(ExitCode::SUCCESS)
}
