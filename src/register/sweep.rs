//! `manifesto sweep`: re-checks every operator domain of the register and keeps the results.
//!
//! Layout of the results directory (default `results/`):
//!
//! - `<domain>.json`: the latest report (schema `report-v1`), what `manifesto site` reads;
//! - `history/<domain>.jsonl`: one compact line per check
//!   ([`HistoryEntry`](crate::register::lifecycle::HistoryEntry)), oldest first;
//! - `status.json`: the index (schema [`STATUS_SCHEMA`]): every domain's lifecycle, last verdict,
//!   whether a lapse notice is open, and the events (lapsed, recovered) of this sweep.
//!
//! Every file is written to a temporary file in the same directory and renamed over the old
//! one, so an interrupted sweep leaves each file either as it was or complete (see
//! [`crate::register::store`]). Domains are written as their check finishes, on tokio's blocking
//! threads so that file I/O never stalls the checks in flight; `status.json` last.
//!
//! Politeness: at most `--jobs` checks at a time, one per domain (domains are deduplicated),
//! connections to one IP address spaced by `--connect-interval` across all checks, and a domain
//! whose check was inconclusive is checked once more after `--retry-after`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use time::{Date, OffsetDateTime};

use crate::check::net::Pacer;
use crate::check::posture::PostureCache;
use crate::check::{CheckError, CheckOptions, Checker};
use crate::register::lifecycle::{self, Event, Lifecycle, State};
use crate::register::registry::{self, Registry, RegistryError};
use crate::register::store::{
    self, DomainEntry, EventEntry, STATUS_SCHEMA, StatusIndex, StoreError, history_path,
    read_history,
};
use crate::report::{Report, Verdict};

/// Why a sweep did not run or did not complete. Results written before the error stay (each
/// file is complete); `status.json` is only written at the end.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The register does not validate: nothing is checked.
    #[error("the register in {} is not valid ({} problems)", dir.display(), errors.len())]
    InvalidRegister {
        dir: PathBuf,
        errors: Vec<RegistryError>,
    },
    /// A domain asked for is not a domain name.
    #[error("invalid domain {domain:?}: {reason}")]
    InvalidDomain { domain: String, reason: String },
    /// A domain asked for is not listed by any signatory.
    #[error("{0} is not a domain of the register")]
    NotInRegister(String),
    /// The checker could not be set up (CA file, trust anchor, resolver, TLS).
    #[error(transparent)]
    Checker(CheckError),
    /// The results directory could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A results writer was cancelled (the runtime is shutting down).
    #[error("a results writer was cancelled")]
    Cancelled,
}

/// What one domain's sweep produced (small: the reports themselves are not kept).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub domain: String,
    pub verdict: Verdict,
    pub lifecycle: Lifecycle,
    pub duration: Duration,
    pub retried: bool,
}

/// Settings of [`sweep`].
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// The results directory: latest reports, `history/`, `status.json`.
    pub results: PathBuf,
    /// Checks running at the same time (at least 1).
    pub jobs: usize,
    /// Days a previously verified domain may fail before it lapses.
    pub grace_days: u32,
    /// Minimum spacing between two connections to the same IP address, across all checks.
    pub connect_interval: Duration,
    /// Wait before checking an inconclusive domain once more (zero: no second check).
    pub retry_after: Duration,
    /// How to check; the sweep adds its own pacer (from `connect_interval`) and a posture cache
    /// shared by its checks.
    pub check: CheckOptions,
}

impl SweepConfig {
    fn grace(&self) -> time::Duration {
        time::Duration::days(i64::from(self.grace_days))
    }
}

/// The summary of a sweep.
#[derive(Debug, Clone)]
pub struct SweepSummary {
    pub outcomes: Vec<Outcome>,
    /// Said once per run: this resolver does not validate DNSSEC.
    pub dnssec_note: Option<String>,
    pub index: StatusIndex,
    pub wall: Duration,
}

/// Progress display: a bar on a terminal, one line per domain otherwise.
enum Progress {
    Bar(indicatif::ProgressBar),
    Lines { total: usize, done: usize },
}

impl Progress {
    fn new(total: usize) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            Progress::Bar(bar)
        } else {
            Progress::Lines { total, done: 0 }
        }
    }

    fn finished(&mut self, domain: &str, verdict: Verdict, took: Duration, note: &str) {
        match self {
            Progress::Bar(bar) => {
                bar.inc(1);
                bar.set_message(format!("{domain}: {verdict}{note}"));
            }
            Progress::Lines { total, done } => {
                *done += 1;
                eprintln!(
                    "[{done}/{total}] {domain}: {verdict} ({:.1} s){note}",
                    took.as_secs_f64()
                );
            }
        }
    }

    fn note(&self, line: &str) {
        match self {
            Progress::Bar(bar) => bar.println(line),
            Progress::Lines { .. } => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Loads the register from `dir`; an invalid register is an error carrying every problem.
pub fn load_register(dir: &Path, today: Date) -> Result<Registry, SweepError> {
    registry::load_dir(dir, today).map_err(|errors| SweepError::InvalidRegister {
        dir: dir.to_path_buf(),
        errors,
    })
}

/// Every domain of the register, with the index of its signatory.
fn register_domains(registry: &Registry) -> BTreeMap<String, usize> {
    let mut all: BTreeMap<String, usize> = BTreeMap::new();
    for (i, s) in registry.signatories.iter().enumerate() {
        for d in &s.domains {
            all.entry(d.clone()).or_insert(i);
        }
    }
    all
}

/// Domains of the register to check, with their signatory: every domain, sorted, or only
/// `only` (normalised; an unknown domain is an error).
pub fn domains_to_check(
    registry: &Registry,
    only: &[String],
) -> Result<Vec<(String, usize)>, SweepError> {
    let all = register_domains(registry);
    if only.is_empty() {
        return Ok(all.into_iter().collect());
    }
    let mut picked = BTreeMap::new();
    for input in only {
        let d = crate::domain::normalize(input).map_err(|e| SweepError::InvalidDomain {
            domain: input.clone(),
            reason: e.0,
        })?;
        let i = *all
            .get(&d)
            .ok_or_else(|| SweepError::NotInRegister(d.clone()))?;
        picked.insert(d, i);
    }
    Ok(picked.into_iter().collect())
}

/// Runs blocking file work off the async workers. A panic in it is the caller's panic.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, SweepError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => Ok(result?),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(SweepError::Cancelled),
    }
}

/// Checks `domains` and records each result as it comes; then writes `status.json`.
pub async fn sweep(
    config: &SweepConfig,
    registry: &Registry,
    domains: Vec<(String, usize)>,
) -> Result<SweepSummary, SweepError> {
    let started = Instant::now();
    let mut options = config.check.clone();
    options.pacer = Some(Arc::new(Pacer::new(config.connect_interval)));
    options.posture_cache = Some(Arc::new(PostureCache::new()));
    let checker = Checker::new(options).map_err(SweepError::Checker)?;
    let results = config.results.clone();
    let previous = blocking(move || {
        store::prepare(&results)?;
        StatusIndex::load(&results)
    })
    .await?;

    let mut progress = Progress::new(domains.len());
    let (mut outcomes, retry) = first_round(&checker, &domains, config, &mut progress).await?;
    outcomes.extend(second_round(&checker, retry, config, &mut progress).await?);
    progress.finish();

    let (registry, results, grace_days) =
        (registry.clone(), config.results.clone(), config.grace_days);
    let (index, outcomes) = blocking(move || {
        let index = build_index(
            &registry,
            &outcomes,
            previous.as_ref(),
            &results,
            grace_days,
        )?;
        index.save(&results)?;
        Ok((index, outcomes))
    })
    .await?;
    Ok(SweepSummary {
        dnssec_note: checker.dnssec_note(),
        outcomes,
        index,
        wall: started.elapsed(),
    })
}

/// A domain to check once more, when its first check was inconclusive.
struct Retry {
    domain: String,
    at: Instant,
    /// How long the first check took.
    first: Duration,
}

enum FirstCheck {
    Done(Outcome),
    Again(Retry),
}

/// Checks every domain once, `config.jobs` at a time; records the conclusive ones as they
/// finish and returns the inconclusive ones to check again.
async fn first_round(
    checker: &Checker,
    domains: &[(String, usize)],
    config: &SweepConfig,
    progress: &mut Progress,
) -> Result<(Vec<Outcome>, Vec<Retry>), SweepError> {
    let mut outcomes = Vec::with_capacity(domains.len());
    let mut retry = Vec::new();
    let mut stream = futures::stream::iter(domains.iter().map(|(d, _)| d.clone()))
        .map(|domain| async move {
            let t = Instant::now();
            let report = checker.check(&domain).await;
            let took = t.elapsed();
            if report.verdict == Verdict::Inconclusive && !config.retry_after.is_zero() {
                let at = Instant::now() + config.retry_after;
                return Ok(FirstCheck::Again(Retry {
                    domain,
                    at,
                    first: took,
                }));
            }
            finish(config, report, took, false)
                .await
                .map(FirstCheck::Done)
        })
        .buffer_unordered(config.jobs.max(1));
    while let Some(checked) = stream.next().await {
        match checked? {
            FirstCheck::Again(r) => {
                progress.note(&format!(
                    "{}: inconclusive, will check again in {:.0} s",
                    r.domain,
                    config.retry_after.as_secs_f64()
                ));
                retry.push(r);
            }
            FirstCheck::Done(outcome) => {
                progress.finished(&outcome.domain, outcome.verdict, outcome.duration, "");
                outcomes.push(outcome);
            }
        }
    }
    Ok((outcomes, retry))
}

/// A second chance for the inconclusive ones, each after its own delay.
async fn second_round(
    checker: &Checker,
    retry: Vec<Retry>,
    config: &SweepConfig,
    progress: &mut Progress,
) -> Result<Vec<Outcome>, SweepError> {
    let mut outcomes = Vec::with_capacity(retry.len());
    let mut stream = futures::stream::iter(retry)
        .map(|r| async move {
            tokio::time::sleep_until(r.at.into()).await;
            let t = Instant::now();
            let report = checker.check(&r.domain).await;
            finish(config, report, r.first + t.elapsed(), true).await
        })
        .buffer_unordered(config.jobs.max(1));
    while let Some(outcome) = stream.next().await {
        let outcome = outcome?;
        progress.finished(
            &outcome.domain,
            outcome.verdict,
            outcome.duration,
            " (second check)",
        );
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Records a report (history line and latest report) and derives the domain's lifecycle.
async fn finish(
    config: &SweepConfig,
    report: Report,
    took: Duration,
    retried: bool,
) -> Result<Outcome, SweepError> {
    let (domain, verdict) = (report.domain.clone(), report.verdict);
    let results = config.results.clone();
    let history = blocking(move || store::record(&results, &report)).await?;
    let lifecycle = lifecycle::derive(&history, OffsetDateTime::now_utc(), config.grace());
    Ok(Outcome {
        domain,
        verdict,
        lifecycle,
        duration: took,
        retried,
    })
}

/// The index: every checked domain, plus the register's other domains as their history says
/// now; a lapse notice opens or closes as the lifecycle says, which is an event.
fn build_index(
    registry: &Registry,
    outcomes: &[Outcome],
    previous: Option<&StatusIndex>,
    results: &Path,
    grace_days: u32,
) -> Result<StatusIndex, StoreError> {
    let now = OffsetDateTime::now_utc();
    let grace = time::Duration::days(i64::from(grace_days));
    let mut index = StatusIndex {
        schema: STATUS_SCHEMA.into(),
        generated_at: now,
        grace_days,
        domains: BTreeMap::new(),
        events: Vec::new(),
    };
    let checked: BTreeMap<&str, &Outcome> =
        outcomes.iter().map(|o| (o.domain.as_str(), o)).collect();
    for (domain, i) in register_domains(registry) {
        let Some(s) = registry.signatories.get(i) else {
            continue;
        };
        let (verdict, lifecycle) = match checked.get(domain.as_str()) {
            Some(o) => (Some(o.verdict), o.lifecycle.clone()),
            None => {
                // Not checked this time: what its history says now.
                let history = read_history(&history_path(results, &domain))?;
                let last = history
                    .iter()
                    .max_by_key(|e| e.checked_at)
                    .map(|e| e.verdict);
                (last, lifecycle::derive(&history, now, grace))
            }
        };
        let open = previous
            .and_then(|p| p.domains.get(&domain))
            .is_some_and(|p| p.lapse_notice);
        let (lapse_notice, event) = lifecycle::notice_transition(open, lifecycle.state);
        if let Some(event) = event {
            index.events.push(EventEntry {
                domain: domain.clone(),
                signatory: s.slug.clone(),
                github: s.github.clone(),
                event,
                state: lifecycle.state,
                since: lifecycle.since,
            });
        }
        index.domains.insert(
            domain,
            DomainEntry {
                signatory: s.slug.clone(),
                github: s.github.clone(),
                verdict,
                lifecycle,
                lapse_notice,
            },
        );
    }
    Ok(index)
}

/// The summary printed at the end.
pub fn render_summary(summary: &SweepSummary) -> String {
    let mut out = String::new();
    let o = &summary.outcomes;
    let count = |v: Verdict| o.iter().filter(|x| x.verdict == v).count();
    out.push_str(&format!(
        "swept {} domains in {:.1} s: {} pass, {} fail, {} inconclusive ({} checked twice)\n",
        o.len(),
        summary.wall.as_secs_f64(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Inconclusive),
        o.iter().filter(|x| x.retried).count(),
    ));
    let states: Vec<String> = State::ALL
        .iter()
        .map(|s| {
            let n = summary
                .index
                .domains
                .values()
                .filter(|d| d.lifecycle.state == *s)
                .count();
            format!("{n} {s}")
        })
        .collect();
    out.push_str(&format!("lifecycle: {}\n", states.join(", ")));
    for e in &summary.index.events {
        let event = match e.event {
            Event::Lapsed => "lapsed",
            Event::Recovered => "recovered",
        };
        out.push_str(&format!("event: {} {event}\n", e.domain));
    }
    let mut slowest: Vec<&Outcome> = o.iter().collect();
    slowest.sort_by(|a, b| b.duration.cmp(&a.duration).then(a.domain.cmp(&b.domain)));
    if !slowest.is_empty() {
        out.push_str("slowest:");
        for s in slowest.iter().take(5) {
            out.push_str(&format!(" {} {:.1} s;", s.domain, s.duration.as_secs_f64()));
        }
        out.pop();
        out.push('\n');
    }
    out
}
