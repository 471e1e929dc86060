//! What the index and the domain pages show of the register: counts, one row per signatory,
//! one entry per domain with its status and lifecycle. Plain text only; askama escapes it.

use serde::Serialize;
use time::OffsetDateTime;

use super::{DomainStatus, date_str};
use crate::register::lifecycle::{Lifecycle, State};
use crate::register::registry::{Role, Signatory};
use crate::report::{CoverageBrief, CoverageStatus, IpFamily};

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

/// "verified since", or what the last check could see when it was not everything: a pass
/// over IPv4 alone is "verified (IPv4 only)".
fn verified_label(coverage: Option<CoverageBrief>) -> &'static str {
    match coverage {
        Some(CoverageBrief {
            status: CoverageStatus::Partial,
            only,
        }) => match only {
            Some(IpFamily::Ipv4) => "verified (IPv4 only) since",
            Some(IpFamily::Ipv6) => "verified (IPv6 only) since",
            None => "verified (partly checked) since",
        },
        _ => "verified since",
    }
}

pub(super) fn lifecycle_view(lc: &Lifecycle) -> LifecycleView {
    let day = |t: Option<OffsetDateTime>| t.map(|t| date_str(t.date()));
    let nothing_seen = lc
        .coverage
        .is_some_and(|c| c.status == CoverageStatus::Nothing);
    let (label, note) = match lc.state {
        State::Verified => (verified_label(lc.coverage), None),
        State::Failing => (
            "failing since",
            day(lc.lapses_at).map(|d| format!("lapses on {d} unless fixed")),
        ),
        State::Lapsed => (
            "lapsed on",
            day(lc.failing_since).map(|d| format!("failing since {d}")),
        ),
        // The checker could reach none of its endpoints: its limit, not the domain's fault.
        State::Unreachable if nothing_seen => (
            "unreachable since",
            Some(match day(lc.last_pass) {
                Some(d) => {
                    format!("the checker could reach none of its endpoints; last verified {d}")
                }
                None => "the checker could reach none of its endpoints".to_owned(),
            }),
        ),
        State::Unreachable => (
            "unreachable since",
            day(lc.last_pass).map(|d| format!("last verified {d}")),
        ),
        State::NeverVerified => (
            "never verified",
            nothing_seen.then(|| "the checker could reach none of its endpoints".to_owned()),
        ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::lifecycle::{HistoryEntry, derive};
    use crate::report::Verdict;
    use time::macros::datetime;

    fn view(verdict: Verdict, status: CoverageStatus, only: Option<IpFamily>) -> LifecycleView {
        let mut entry = HistoryEntry::new(datetime!(2026-01-01 06:00 UTC), verdict);
        entry.coverage = Some(CoverageBrief { status, only });
        let lc = derive(
            &[entry],
            datetime!(2026-01-02 06:00 UTC),
            time::Duration::days(14),
        );
        lifecycle_view(&lc)
    }

    #[test]
    fn verified_says_what_was_seen() {
        use CoverageStatus::{Full, Nothing, Partial};
        let pass = Verdict::Pass;
        assert_eq!(view(pass, Full, None).label, "verified since");
        assert_eq!(
            view(pass, Partial, Some(IpFamily::Ipv4)).label,
            "verified (IPv4 only) since"
        );
        assert_eq!(
            view(pass, Partial, Some(IpFamily::Ipv6)).label,
            "verified (IPv6 only) since"
        );
        assert_eq!(
            view(pass, Partial, None).label,
            "verified (partly checked) since"
        );
        let unseen = view(Verdict::Inconclusive, Nothing, None);
        assert_eq!(
            (unseen.state, unseen.note.as_deref()),
            (
                "never-verified",
                Some("the checker could reach none of its endpoints")
            )
        );
        let mut history = vec![HistoryEntry::new(datetime!(2026-01-01 06:00 UTC), pass)];
        let mut last = HistoryEntry::new(datetime!(2026-01-02 06:00 UTC), Verdict::Inconclusive);
        last.coverage = Some(CoverageBrief {
            status: Nothing,
            only: None,
        });
        history.push(last);
        let lc = derive(
            &history,
            datetime!(2026-01-03 06:00 UTC),
            time::Duration::days(14),
        );
        let v = lifecycle_view(&lc);
        assert_eq!(v.label, "unreachable since");
        assert_eq!(
            v.note.as_deref(),
            Some("the checker could reach none of its endpoints; last verified 2026-01-01")
        );
    }
}
