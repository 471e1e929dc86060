//! The lifecycle of an operator domain, derived from its history of checks.
//!
//! Pure logic, no I/O: [`derive()`] takes the history (one [`HistoryEntry`] per check, as stored
//! one JSON line each in `results/history/<domain>.jsonl`), the time of evaluation and the grace
//! period, and says where the domain stands:
//!
//! - `verified`: the last check passed; `since` is the start of the current pass streak
//!   (inconclusive checks do not break a streak, a failure does);
//! - `failing`: the last check failed, the domain passed before, and it has been failing for
//!   less than the grace period (`lapses_at` says when that ends);
//! - `lapsed`: the same, beyond the grace period (`since` is the moment it lapsed);
//! - `unreachable`: the last check was inconclusive (network trouble, no answer);
//! - `never-verified`: no check ever passed (including never checked at all).
//!
//! Each entry also keeps the coverage of its check in brief (absent from entries written before
//! coverage was recorded), and the lifecycle carries that of the last check: a domain verified
//! from a machine that could see only its IPv4 endpoints is "verified (IPv4 only)", not
//! verified over everything it serves.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::report::{CoverageBrief, Report, RequirementId, Status, Verdict};

/// One check of one domain, as kept in the history (one compact JSON line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    pub verdict: Verdict,
    /// Status of every requirement.
    #[serde(default)]
    pub requirements: BTreeMap<RequirementId, Status>,
    #[serde(default)]
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tool_version: String,
    /// What the check could see, in brief.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageBrief>,
}

impl HistoryEntry {
    pub fn from_report(report: &Report) -> HistoryEntry {
        HistoryEntry {
            checked_at: report.checked_at,
            verdict: report.verdict,
            requirements: report
                .requirements
                .iter()
                .map(|(id, r)| (*id, r.status))
                .collect(),
            duration_ms: report.duration_ms,
            tool_version: report.tool_version.clone(),
            coverage: report.coverage.as_ref().map(|c| c.brief()),
        }
    }

    /// A bare entry (tests, and a latest report without history).
    pub fn new(checked_at: OffsetDateTime, verdict: Verdict) -> HistoryEntry {
        HistoryEntry {
            checked_at,
            verdict,
            requirements: BTreeMap::new(),
            duration_ms: 0,
            tool_version: String::new(),
            coverage: None,
        }
    }
}

/// Where a domain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Verified,
    Failing,
    Lapsed,
    Unreachable,
    NeverVerified,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Verified,
        State::Failing,
        State::Lapsed,
        State::Unreachable,
        State::NeverVerified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Verified => "verified",
            State::Failing => "failing",
            State::Lapsed => "lapsed",
            State::Unreachable => "unreachable",
            State::NeverVerified => "never-verified",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The lifecycle of a domain at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub state: State,
    /// Start of the current state: verified since (start of the pass streak), failing since
    /// (first failure after the last pass), lapsed since (end of the grace period), unreachable
    /// since (first of the trailing inconclusive checks). None for never-verified.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<OffsetDateTime>,
    /// First failure after the last pass (failing and lapsed).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub failing_since: Option<OffsetDateTime>,
    /// When a failing domain lapses if nothing changes.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub lapses_at: Option<OffsetDateTime>,
    /// The last check that passed.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_pass: Option<OffsetDateTime>,
    /// The last check.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_checked: Option<OffsetDateTime>,
    /// Number of checks in the history.
    #[serde(default)]
    pub checks: usize,
    /// What the last check could see, in brief, when its history says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageBrief>,
}

/// The default grace period before a failing domain lapses.
pub const DEFAULT_GRACE_DAYS: u32 = 14;

/// Derives the lifecycle from a history (any order; sorted here by `checked_at`), evaluated at
/// `now` with the given grace period.
pub fn derive(history: &[HistoryEntry], now: OffsetDateTime, grace: Duration) -> Lifecycle {
    let mut entries: Vec<&HistoryEntry> = history.iter().collect();
    entries.sort_by_key(|e| e.checked_at);
    let last_pass_index = entries.iter().rposition(|e| e.verdict == Verdict::Pass);
    let mut lc = Lifecycle {
        state: State::NeverVerified,
        since: None,
        failing_since: None,
        lapses_at: None,
        last_pass: last_pass_index.map(|i| entries[i].checked_at),
        last_checked: entries.last().map(|e| e.checked_at),
        checks: entries.len(),
        coverage: entries.last().and_then(|e| e.coverage),
    };
    let (Some(last), Some(last_pass_index)) = (entries.last(), last_pass_index) else {
        return lc;
    };
    match last.verdict {
        Verdict::Pass => {
            // Back from the end while no failure: the start of the pass streak.
            let mut start = last.checked_at;
            for e in entries.iter().rev() {
                match e.verdict {
                    Verdict::Fail | Verdict::NoService => break,
                    Verdict::Pass => start = e.checked_at,
                    Verdict::Inconclusive => {}
                }
            }
            lc.state = State::Verified;
            lc.since = Some(start);
        }
        Verdict::Inconclusive => {
            let mut start = last.checked_at;
            for e in entries.iter().rev() {
                if e.verdict != Verdict::Inconclusive {
                    break;
                }
                start = e.checked_at;
            }
            lc.state = State::Unreachable;
            lc.since = Some(start);
        }
        // A verified domain that stops serving XMPP fails like one that stops enforcing TLS.
        Verdict::Fail | Verdict::NoService => {
            let failing_since = entries[last_pass_index + 1..]
                .iter()
                .find(|e| matches!(e.verdict, Verdict::Fail | Verdict::NoService))
                .map_or(last.checked_at, |e| e.checked_at);
            let lapses_at = failing_since + grace;
            lc.failing_since = Some(failing_since);
            if now >= lapses_at {
                lc.state = State::Lapsed;
                lc.since = Some(lapses_at);
            } else {
                lc.state = State::Failing;
                lc.since = Some(failing_since);
                lc.lapses_at = Some(lapses_at);
            }
        }
    }
    lc
}

/// A change that deserves a notice to the signatory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    /// The domain has just lapsed.
    Lapsed,
    /// A domain that had lapsed is verified again.
    Recovered,
}

/// Whether a lapse notice is open for a domain, carried from one sweep to the next, and the
/// event (if any) that moving to `now` produces. A lapse notice stays open through unreachable
/// or failing checks until the domain is verified again.
pub fn notice_transition(open_notice: bool, now: State) -> (bool, Option<Event>) {
    match (open_notice, now) {
        (false, State::Lapsed) => (true, Some(Event::Lapsed)),
        (true, State::Verified) => (false, Some(Event::Recovered)),
        (open, _) => (open, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const GRACE: Duration = Duration::days(14);

    fn day(n: i64) -> OffsetDateTime {
        datetime!(2026-01-01 06:00 UTC) + Duration::days(n)
    }

    /// A history from a script: one character per day from day 0, `P` pass, `F` fail,
    /// `I` inconclusive, `.` no check.
    fn history(script: &str) -> Vec<HistoryEntry> {
        script
            .chars()
            .enumerate()
            .filter_map(|(i, c)| {
                let verdict = match c {
                    'P' => Verdict::Pass,
                    'F' => Verdict::Fail,
                    'I' => Verdict::Inconclusive,
                    _ => return None,
                };
                Some(HistoryEntry::new(day(i as i64), verdict))
            })
            .collect()
    }

    fn at(script: &str, now: i64) -> Lifecycle {
        derive(&history(script), day(now), GRACE)
    }

    #[test]
    fn never_checked_is_never_verified() {
        let lc = at("", 0);
        assert_eq!(lc.state, State::NeverVerified);
        assert_eq!(lc.since, None);
        assert_eq!(lc.checks, 0);
    }

    #[test]
    fn never_passed_is_never_verified_whatever_the_failures() {
        for script in ["F", "FFFFFFFFFFFFFFFFFFFF", "IIF", "I", "FI"] {
            let lc = at(script, 40);
            assert_eq!(lc.state, State::NeverVerified, "{script}");
            assert_eq!(lc.last_pass, None);
            assert_eq!(
                lc.last_checked,
                history(script).last().map(|e| e.checked_at)
            );
        }
    }

    #[test]
    fn pass_is_verified_since_the_start_of_the_streak() {
        let lc = at("PPP", 2);
        assert_eq!(lc.state, State::Verified);
        assert_eq!(lc.since, Some(day(0)));
        assert_eq!(lc.last_pass, Some(day(2)));
        assert_eq!(lc.checks, 3);
    }

    #[test]
    fn inconclusive_in_between_does_not_break_a_streak() {
        let lc = at("PPIIP", 4);
        assert_eq!(lc.state, State::Verified);
        assert_eq!(lc.since, Some(day(0)));
    }

    #[test]
    fn failure_within_grace_is_failing() {
        let lc = at("PPF", 2);
        assert_eq!(lc.state, State::Failing);
        assert_eq!(lc.since, Some(day(2)));
        assert_eq!(lc.failing_since, Some(day(2)));
        assert_eq!(lc.lapses_at, Some(day(16)));
        // Still failing the day before the grace ends, with more failures.
        let lc = at("PPFFFFFFFFFFFFF", 15);
        assert_eq!(lc.state, State::Failing);
        assert_eq!(lc.failing_since, Some(day(2)));
    }

    #[test]
    fn failure_beyond_grace_lapses() {
        let lc = at("PPFFFFFFFFFFFFFF", 16);
        assert_eq!(lc.state, State::Lapsed);
        assert_eq!(lc.since, Some(day(16)));
        assert_eq!(lc.failing_since, Some(day(2)));
        assert_eq!(lc.lapses_at, None);
        assert_eq!(lc.last_pass, Some(day(1)));
        // Time alone lapses a domain whose last check failed, even without new checks.
        assert_eq!(at("PF", 30).state, State::Lapsed);
    }

    #[test]
    fn inconclusive_checks_do_not_restart_the_grace_period() {
        // Fails on day 1, unreachable, fails again on day 20: failing since day 1, lapsed.
        let lc = at("PFIIIIIIIIIIIIIIIIIF", 20);
        assert_eq!(lc.state, State::Lapsed);
        assert_eq!(lc.failing_since, Some(day(1)));
    }

    #[test]
    fn last_inconclusive_is_unreachable() {
        let lc = at("PPII", 3);
        assert_eq!(lc.state, State::Unreachable);
        assert_eq!(lc.since, Some(day(2)));
        assert_eq!(lc.last_pass, Some(day(1)));
    }

    #[test]
    fn a_lapsed_domain_recovers_with_a_pass() {
        let lc = at("PFFFFFFFFFFFFFFFFFFFP", 20);
        assert_eq!(lc.state, State::Verified);
        assert_eq!(lc.since, Some(day(20)));
        assert_eq!(lc.failing_since, None);
        // And a new failure starts a new grace period.
        let lc = at("PFFFFFFFFFFFFFFFFFFFPF", 21);
        assert_eq!(lc.state, State::Failing);
        assert_eq!(lc.failing_since, Some(day(21)));
        assert_eq!(lc.lapses_at, Some(day(35)));
    }

    #[test]
    fn order_of_the_history_does_not_matter() {
        let mut h = history("PPFF");
        h.reverse();
        assert_eq!(derive(&h, day(3), GRACE), at("PPFF", 3));
    }

    #[test]
    fn notices_open_on_lapse_and_close_on_recovery() {
        let mut open = false;
        let mut events = Vec::new();
        for state in [
            State::Verified,
            State::Failing,
            State::Lapsed,
            State::Lapsed,
            State::Unreachable,
            State::Lapsed,
            State::Verified,
            State::Verified,
        ] {
            let (next, event) = notice_transition(open, state);
            open = next;
            events.extend(event);
        }
        assert_eq!(events, vec![Event::Lapsed, Event::Recovered]);
        assert!(!open);
    }

    #[test]
    fn the_last_checks_coverage_is_carried() {
        use crate::report::{CoverageStatus, IpFamily};
        let partial = CoverageBrief {
            status: CoverageStatus::Partial,
            only: Some(IpFamily::Ipv4),
        };
        let mut h = history("PPP");
        h[2].coverage = Some(partial);
        let lc = derive(&h, day(2), GRACE);
        assert_eq!((lc.state, lc.coverage), (State::Verified, Some(partial)));
        // An older check's coverage says nothing about the last one.
        h[2].coverage = None;
        h[1].coverage = Some(partial);
        assert_eq!(derive(&h, day(2), GRACE).coverage, None);
        let line = serde_json::to_string(&h[1]).unwrap();
        assert!(
            line.contains(r#""coverage":{"status":"partial","only":"ipv4"}"#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<HistoryEntry>(&line).unwrap(), h[1]);
        // Lines written before coverage was recorded still read.
        let old = r#"{"checked_at":"2026-01-01T06:00:00Z","verdict":"pass"}"#;
        assert_eq!(
            serde_json::from_str::<HistoryEntry>(old).unwrap().coverage,
            None
        );
    }

    #[test]
    fn history_lines_round_trip() {
        let mut e = HistoryEntry::new(day(0), Verdict::Fail);
        e.requirements
            .insert(RequirementId::C2sTlsRequired, Status::Fail);
        let line = serde_json::to_string(&e).unwrap();
        assert!(!line.contains('\n'));
        assert!(line.contains("\"c2s-tls-required\":\"fail\""), "{line}");
        let back: HistoryEntry = serde_json::from_str(&line).unwrap();
        assert_eq!(back, e);
    }
}
