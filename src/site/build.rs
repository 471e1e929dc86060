//! [`build_site`]: orders the register, resolves every domain against the results, and writes
//! the pages, the badges, `signatories.json`, the feed and the assets.

use std::path::Path;

use askama::Template;

use super::badge::{badge_width, render_badge};
use super::report_view::{ReportView, report_view};
use super::views::{
    Counts, DomainView, LifecycleView, RowView, SignatoryView, lifecycle_view, row_view,
    signatory_view,
};
use super::{
    DomainStatus, Results, SiteError, SiteOptions, SiteSummary, badge_path, date_str, domain_page,
    feed, json,
};
use crate::register::registry::{Registry, Signatory};
use crate::report::Report;

const STYLE_CSS: &str = include_str!("../../assets/style.css");
const SITE_JS: &str = include_str!("../../assets/site.js");

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    root: &'a str,
    counts: &'a Counts,
    rows: &'a [RowView],
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

/// One domain page and badge to write.
struct PageJob<'a> {
    domain: &'a str,
    display: String,
    status: DomainStatus,
    lifecycle: LifecycleView,
    signatory: &'a SignatoryView,
    report: Option<&'a Report>,
}

/// The register resolved against the results: what the index, the JSON and the domain pages
/// are made of.
struct Model<'a> {
    counts: Counts,
    /// One per signatory, in page order.
    rows: Vec<RowView>,
    jobs: Vec<PageJob<'a>>,
}

/// Newest signatures first, then by name.
fn page_order(registry: &Registry) -> Vec<&Signatory> {
    let mut ordered: Vec<&Signatory> = registry.signatories.iter().collect();
    ordered.sort_by(|a, b| {
        b.signed
            .cmp(&a.signed)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then_with(|| a.slug.cmp(&b.slug))
    });
    ordered
}

/// `ordered` and `views` are the signatories and their views, in page order.
fn resolve<'a>(
    ordered: &[&'a Signatory],
    views: &'a [SignatoryView],
    results: &'a Results,
) -> Result<Model<'a>, SiteError> {
    let mut model = Model {
        counts: Counts::default(),
        rows: Vec::with_capacity(ordered.len()),
        jobs: Vec::new(),
    };
    for (s, view) in ordered.iter().zip(views) {
        model.counts.add_signatory(s);
        let mut domains = Vec::with_capacity(s.domains.len());
        for d in &s.domains {
            let (domain, job) = resolve_domain(s, d, results, view)?;
            model
                .counts
                .add_domain(domain.status, &domain.lifecycle_data);
            model.jobs.push(job);
            domains.push(domain);
        }
        model.rows.push(row_view(s, domains));
    }
    Ok(model)
}

/// A domain of `s`: its entry in the row and its page.
fn resolve_domain<'a>(
    s: &Signatory,
    d: &'a str,
    results: &'a Results,
    signatory: &'a SignatoryView,
) -> Result<(DomainView, PageJob<'a>), SiteError> {
    // Domains become file names: only normalised ones (validation guarantees it).
    if crate::domain::normalize_public(d).ok().as_deref() != Some(d) {
        return Err(SiteError::UnnormalisedDomain {
            path: s.path.clone(),
            domain: d.to_owned(),
        });
    }
    let report = results.latest.get(d);
    let status = DomainStatus::from_report(report);
    let lifecycle_data = results.lifecycle_of(d);
    let lifecycle = lifecycle_view(&lifecycle_data);
    let display = crate::domain::display(d);
    let job = PageJob {
        domain: d,
        display: display.clone(),
        status,
        lifecycle: lifecycle.clone(),
        signatory,
        report,
    };
    let view = DomainView {
        domain: d.to_owned(),
        display,
        status,
        checked: report.map(|r| date_str(r.checked_at.date())),
        page: domain_page(d),
        lifecycle,
        lifecycle_data,
    };
    Ok((view, job))
}

fn create_dir(path: &Path) -> Result<(), SiteError> {
    std::fs::create_dir_all(path).map_err(|source| SiteError::Io {
        action: "creating",
        path: path.to_owned(),
        source,
    })
}

fn write_file(out: &Path, rel: &str, content: &str) -> Result<(), SiteError> {
    let path = out.join(rel);
    std::fs::write(&path, content).map_err(|source| SiteError::Io {
        action: "writing",
        path,
        source,
    })
}

fn write_pages(out: &Path, jobs: &[PageJob<'_>]) -> Result<(), SiteError> {
    for job in jobs {
        let page = DomainPage {
            root: "../",
            domain: job.domain,
            display: &job.display,
            status: job.status,
            lifecycle: job.lifecycle.clone(),
            badge_width: badge_width(job.status),
            signatory: job.signatory,
            report: job.report.map(report_view),
        };
        let html = page.render().map_err(|source| SiteError::Render {
            what: domain_page(job.domain),
            source,
        })?;
        write_file(out, &domain_page(job.domain), &html)?;
        write_file(
            out,
            &badge_path(job.domain),
            &render_badge(job.domain, job.status)?,
        )?;
    }
    Ok(())
}

/// Domain pages and badges, rendered and written by one worker per core (they are most of
/// the files and of the time).
fn write_domain_pages(out: &Path, jobs: &[PageJob<'_>]) -> Result<(), SiteError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let chunk = jobs.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| scope.spawn(move || write_pages(out, part)))
            .collect();
        for handle in handles {
            handle.join().map_err(|_| SiteError::WriterPanicked)??;
        }
        Ok(())
    })
}

fn write_index(out: &Path, model: &Model<'_>) -> Result<(), SiteError> {
    let index = IndexPage {
        root: "",
        counts: &model.counts,
        rows: &model.rows,
    };
    let html = index.render().map_err(|source| SiteError::Render {
        what: "index.html".into(),
        source,
    })?;
    write_file(out, "index.html", &html)?;
    write_file(out, "style.css", STYLE_CSS)?;
    write_file(out, "site.js", SITE_JS)
}

/// Writes the whole site into `out` (created if needed). Returns what was written.
pub fn build_site(
    registry: &Registry,
    results: &Results,
    out: &Path,
    options: &SiteOptions,
) -> Result<SiteSummary, SiteError> {
    create_dir(&out.join("domains"))?;
    create_dir(&out.join("badges"))?;
    let ordered = page_order(registry);
    let views: Vec<SignatoryView> = ordered.iter().map(|s| signatory_view(s)).collect();
    let model = resolve(&ordered, &views, results)?;

    write_domain_pages(out, &model.jobs)?;
    write_index(out, &model)?;
    let base = options.base_url.as_str();
    let json = json::render_signatories(&model.counts, &ordered, &model.rows, results, base)?;
    write_file(out, "signatories.json", &json)?;
    write_file(out, "feed.atom", &feed::render_feed(&ordered, base)?)?;

    Ok(SiteSummary {
        signatories: model.counts.signatories,
        domains: model.counts.domains,
        // A page and a badge per domain; index, style, script, JSON and feed.
        files: 2 * model.jobs.len() + 5,
    })
}
