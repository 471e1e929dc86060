//! `signatories.json`: the register and the status of every domain, as data (schema
//! [`SIGNATORIES_SCHEMA`], documented in `docs/signatories-json.md`). Fields are only ever
//! added within v1.

use serde::Serialize;

use super::views::{Counts, DomainView, RowView};
use super::{
    DomainStatus, Results, SIGNATORIES_SCHEMA, SiteError, badge_path, date_str, domain_page,
    rfc3339,
};
use crate::register::lifecycle::Lifecycle;
use crate::register::registry::{Role, Signatory};
use crate::report::Verdict;

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

fn json_domain<'a>(d: &'a DomainView, results: &Results, base: &str) -> JsonDomain<'a> {
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
}

/// `row` is the table row of `s`, whose domains are already resolved.
fn json_signatory<'a>(
    s: &'a Signatory,
    row: &'a RowView,
    results: &Results,
    base: &str,
) -> JsonSignatory<'a> {
    JsonSignatory {
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
        website: row.website.clone(),
        contact: s.contact.as_deref(),
        github: s.github.as_deref(),
        source: s.source.as_deref(),
        domains: row
            .domains
            .iter()
            .map(|d| json_domain(d, results, base))
            .collect(),
    }
}

/// Renders the document: `ordered` and `rows` are the signatories and their rows in page
/// order; links are under `base`.
pub(super) fn render_signatories(
    counts: &Counts,
    ordered: &[&Signatory],
    rows: &[RowView],
    results: &Results,
    base: &str,
) -> Result<String, SiteError> {
    let document = JsonDocument {
        schema: SIGNATORIES_SCHEMA,
        counts,
        signatories: ordered
            .iter()
            .zip(rows)
            .map(|(s, row)| json_signatory(s, row, results, base))
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&document)?;
    text.push('\n');
    Ok(text)
}
