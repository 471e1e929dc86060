//! What the index and the domain pages show of the register: counts, one row per signatory,
//! one entry per domain with its status and lifecycle. Plain text only; askama escapes it.

use serde::Serialize;
use time::OffsetDateTime;

use super::{DomainStatus, date_str};
use crate::register::lifecycle::{Lifecycle, State};
use crate::register::registry::{Role, Signatory};

/// The counts at the top of the index, also in `signatories.json`.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct Counts {
    pub(super) signatories: usize,
    pub(super) operators: usize,
    pub(super) developers: usize,
    pub(super) domains: usize,
    pub(super) verified: usize,
    pub(super) failing: usize,
    pub(super) unverified: usize,
    pub(super) imported: usize,
    /// Lifecycle counts (added within v1): failing past the grace period, inconclusive last
    /// check, never passed.
    pub(super) lapsed: usize,
    pub(super) unreachable: usize,
    pub(super) never_verified: usize,
}

impl Counts {
    pub(super) fn add_signatory(&mut self, s: &Signatory) {
        self.signatories += 1;
        match s.role {
            Role::Operator => self.operators += 1,
            Role::Developer => self.developers += 1,
        }
        if s.is_imported() {
            self.imported += 1;
        }
    }

    pub(super) fn add_domain(&mut self, status: DomainStatus, lifecycle: &Lifecycle) {
        self.domains += 1;
        match lifecycle.state {
            State::Lapsed => self.lapsed += 1,
            State::Unreachable => self.unreachable += 1,
            State::NeverVerified => self.never_verified += 1,
            State::Verified | State::Failing => {}
        }
        match status {
            DomainStatus::Verified => self.verified += 1,
            DomainStatus::Failing => self.failing += 1,
            DomainStatus::Inconclusive | DomainStatus::Unverified | DomainStatus::NoService => {
                self.unverified += 1
            }
        }
    }
}

/// The lifecycle of a domain as shown on the page.
#[derive(Debug, Clone)]
pub(super) struct LifecycleView {
    /// CSS class suffix and state name.
    pub(super) state: &'static str,
    /// "verified since", "failing since"...
    pub(super) label: &'static str,
    /// YYYY-MM-DD after the label.
    pub(super) date: Option<String>,
    /// A second fact, e.g. "lapses on 2026-02-01".
    pub(super) note: Option<String>,
    /// Whether it says more than the status beside it ("never verified" next to "not verified"
    /// does not).
    pub(super) shown: bool,
}

pub(super) fn lifecycle_view(lc: &Lifecycle) -> LifecycleView {
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

/// One domain in a row of the index (and in `signatories.json`).
#[derive(Debug, Clone)]
pub(super) struct DomainView {
    /// A-label, as in the register and the file names.
    pub(super) domain: String,
    /// Unicode form, for people.
    pub(super) display: String,
    pub(super) status: DomainStatus,
    pub(super) checked: Option<String>,
    pub(super) page: String,
    pub(super) lifecycle: LifecycleView,
    pub(super) lifecycle_data: Lifecycle,
}

/// One signatory in the table of the index; the `*_sort` and `search` fields feed `site.js`.
#[derive(Debug, Clone)]
pub(super) struct RowView {
    pub(super) slug: String,
    pub(super) name: String,
    pub(super) name_sort: String,
    pub(super) website: Option<String>,
    pub(super) statement: String,
    pub(super) role: &'static str,
    pub(super) domains: Vec<DomainView>,
    pub(super) domains_sort: String,
    pub(super) signed_sort: String,
    pub(super) imported: bool,
    pub(super) source: String,
    pub(super) status_sort: String,
    pub(super) search: String,
}

/// What the text box of the index searches: the row's words and its domains' states, in
/// lower case.
fn search_text(s: &Signatory, domains: &[DomainView]) -> String {
    let mut search = format!("{} {} {} {}", s.name, s.statement, s.role.as_str(), s.slug);
    for d in domains {
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
    search.to_lowercase()
}

pub(super) fn row_view(s: &Signatory, domains: Vec<DomainView>) -> RowView {
    // A row sorts by its worst domain; rows without domains (developers) last.
    let status_sort = domains
        .iter()
        .map(|d| d.status.sort_rank())
        .max()
        .map_or_else(|| "9".to_owned(), |r| r.to_string());
    let search = search_text(s, &domains);
    RowView {
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
        search,
    }
}

/// The signatory on a domain page.
#[derive(Debug, Clone)]
pub(super) struct SignatoryView {
    pub(super) slug: String,
    pub(super) name: String,
    pub(super) website: Option<String>,
    pub(super) statement: String,
    pub(super) signed: String,
    pub(super) imported: bool,
    pub(super) source: String,
}

/// The website, only if it is an https URL (validation guarantees it; this is a second lock).
fn safe_website(s: &Signatory) -> Option<String> {
    s.website
        .clone()
        .filter(|u| u.starts_with("https://") && !u.chars().any(char::is_whitespace))
}

pub(super) fn signatory_view(s: &Signatory) -> SignatoryView {
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
