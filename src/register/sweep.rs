//! `manifesto sweep`: re-checks every operator domain of the register and keeps the results.
//!
//! Layout of the results directory (default `results/`):
//!
//! - `<domain>.json`: the latest report (schema `report-v1`), what `manifesto site` reads;
//! - `history/<domain>.jsonl`: one compact line per check ([`HistoryEntry`]), oldest first;
//! - `status.json`: the index (schema [`STATUS_SCHEMA`]): every domain's lifecycle, last verdict,
//!   whether a lapse notice is open, and the events (lapsed, recovered) of this sweep.
//!
//! Every file is written to a temporary file in the same directory and renamed over the old
//! one, so an interrupted sweep leaves each file either as it was or complete. Domains are
//! written as their check finishes; `status.json` last.
//!
//! Politeness: at most `--jobs` checks at a time, one per domain (domains are deduplicated),
//! connections to one IP address spaced by `--connect-interval` across all checks, and a domain
//! whose check was inconclusive is checked once more after `--retry-after`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use time::OffsetDateTime;

use crate::check::net::Pacer;
use crate::check::{Checker, normalize_domain};
use crate::cli::{Exit, NetworkArgs};
use crate::register::lifecycle::{self, Event, Lifecycle, State};
use crate::register::registry::{self, Registry};
use crate::register::store::{
    DomainEntry, EventEntry, HISTORY_DIR, STATUS_FILE, STATUS_SCHEMA, StatusIndex, history_path,
    read_history, record, remove_stale_temp_files, write_atomic,
};
use crate::report::{Report, Verdict};

/// `manifesto sweep`.
#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    /// Directory of signatory files.
    #[arg(long, value_name = "DIR", default_value = registry::SIGNATORIES_DIR)]
    pub registry: PathBuf,
    /// Results directory: latest reports, history/, status.json.
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub results: PathBuf,
    /// Checks running at the same time (one per domain).
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub jobs: u16,
    /// Days a previously verified domain may fail before it lapses.
    #[arg(long, value_name = "DAYS", default_value_t = lifecycle::DEFAULT_GRACE_DAYS)]
    pub grace_days: u32,
    /// Minimum spacing between two connections to the same IP address, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10)]
    pub connect_interval: u64,
    /// Seconds to wait before checking an inconclusive domain once more (0: no second check).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub retry_after: f64,
    /// Check only these domains of the register (repeatable).
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub domains: Vec<String>,
    #[command(flatten)]
    pub network: NetworkArgs,
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
    pub results: PathBuf,
    pub jobs: usize,
    pub grace: time::Duration,
    pub retry_after: Duration,
    pub grace_days: u32,
}

/// The summary of a sweep.
#[derive(Debug, Clone)]
pub struct SweepSummary {
    pub outcomes: Vec<Outcome>,
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

/// Domains of the register to check, with their signatory: every domain, sorted, or only
/// `only` (normalised; an unknown domain is an error).
pub fn domains_to_check(
    registry: &Registry,
    only: &[String],
) -> anyhow::Result<Vec<(String, usize)>> {
    let mut all: BTreeMap<String, usize> = BTreeMap::new();
    for (i, s) in registry.signatories.iter().enumerate() {
        for d in &s.domains {
            all.entry(d.clone()).or_insert(i);
        }
    }
    if only.is_empty() {
        return Ok(all.into_iter().collect());
    }
    let mut picked = BTreeMap::new();
    for d in only {
        let d = normalize_domain(d)?;
        let i = *all
            .get(&d)
            .with_context(|| format!("{d} is not a domain of the register"))?;
        picked.insert(d, i);
    }
    Ok(picked.into_iter().collect())
}

/// Checks `domains` and records each result as it comes; then writes `status.json`.
pub async fn sweep(
    checker: Arc<Checker>,
    registry: &Registry,
    domains: Vec<(String, usize)>,
    config: &SweepConfig,
) -> anyhow::Result<SweepSummary> {
    let started = Instant::now();
    let results = &config.results;
    std::fs::create_dir_all(results.join(HISTORY_DIR))
        .with_context(|| format!("creating {}", results.display()))?;
    remove_stale_temp_files(results);
    remove_stale_temp_files(&results.join(HISTORY_DIR));
    let previous = StatusIndex::load(results)?;

    let total = domains.len();
    let mut progress = Progress::new(total);
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(total);
    let mut retry: Vec<(String, Instant, Duration)> = Vec::new();
    let jobs = config.jobs.max(1);

    // First round.
    {
        let checker = &checker;
        let mut stream = futures::stream::iter(domains.iter().map(|(d, _)| d.clone()))
            .map(|domain| async move {
                let t = Instant::now();
                let report = checker.check(&domain).await;
                (domain, report, t.elapsed())
            })
            .buffer_unordered(jobs);
        while let Some((domain, report, took)) = stream.next().await {
            if report.verdict == Verdict::Inconclusive && !config.retry_after.is_zero() {
                progress.note(&format!(
                    "{domain}: inconclusive, will check again in {:.0} s",
                    config.retry_after.as_secs_f64()
                ));
                retry.push((domain, Instant::now() + config.retry_after, took));
                continue;
            }
            let outcome = finish(results, &report, took, false, config)?;
            progress.finished(&domain, outcome.verdict, took, "");
            outcomes.push(outcome);
        }
    }
    // Second chance for the inconclusive ones, each after its own delay.
    {
        let checker = &checker;
        let mut stream = futures::stream::iter(retry)
            .map(|(domain, at, first)| async move {
                tokio::time::sleep_until(at.into()).await;
                let t = Instant::now();
                let report = checker.check(&domain).await;
                (domain, report, first + t.elapsed())
            })
            .buffer_unordered(jobs);
        while let Some((domain, report, took)) = stream.next().await {
            let outcome = finish(results, &report, took, true, config)?;
            progress.finished(&domain, outcome.verdict, took, " (second check)");
            outcomes.push(outcome);
        }
    }
    progress.finish();

    // The index: every checked domain, plus domains of the register kept from the previous one.
    let now = OffsetDateTime::now_utc();
    let mut index = StatusIndex {
        schema: STATUS_SCHEMA.into(),
        generated_at: now,
        grace_days: config.grace_days,
        domains: BTreeMap::new(),
        events: Vec::new(),
    };
    let prev = |d: &str| previous.as_ref().and_then(|p| p.domains.get(d));
    let checked: BTreeMap<&str, &Outcome> =
        outcomes.iter().map(|o| (o.domain.as_str(), o)).collect();
    for (domain, i) in &domains_to_check(registry, &[])? {
        let Some(s) = registry.signatories.get(*i) else {
            continue;
        };
        let (verdict, lifecycle) = match checked.get(domain.as_str()) {
            Some(o) => (Some(o.verdict), o.lifecycle.clone()),
            None => {
                // Not checked this time: what its history says now.
                let history = read_history(&history_path(results, domain))?;
                let last = history
                    .iter()
                    .max_by_key(|e| e.checked_at)
                    .map(|e| e.verdict);
                (last, lifecycle::derive(&history, now, config.grace))
            }
        };
        let open = prev(domain).is_some_and(|p| p.lapse_notice);
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
            domain.clone(),
            DomainEntry {
                signatory: s.slug.clone(),
                github: s.github.clone(),
                verdict,
                lifecycle,
                lapse_notice,
            },
        );
    }
    let mut json = serde_json::to_string_pretty(&index)?;
    json.push('\n');
    write_atomic(&results.join(STATUS_FILE), json.as_bytes())?;
    Ok(SweepSummary {
        outcomes,
        index,
        wall: started.elapsed(),
    })
}

fn finish(
    results: &Path,
    report: &Report,
    took: Duration,
    retried: bool,
    config: &SweepConfig,
) -> anyhow::Result<Outcome> {
    let history = record(results, report)?;
    let lifecycle = lifecycle::derive(&history, OffsetDateTime::now_utc(), config.grace);
    Ok(Outcome {
        domain: report.domain.clone(),
        verdict: report.verdict,
        lifecycle,
        duration: took,
        retried,
    })
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

/// Runs `manifesto sweep`. Exits 0 when the sweep completed, whatever the domains' verdicts
/// (they are data, in the results); 2 on a usage error or an invalid register, and an I/O error
/// (results not writable) stops the sweep with the previous files intact.
pub async fn run_sweep(args: &SweepArgs) -> anyhow::Result<Exit> {
    let registry = match registry::load_dir(&args.registry, registry::today_utc()) {
        Ok(r) => r,
        Err(errors) => {
            for e in &errors {
                eprintln!("{}", e.to_human());
            }
            anyhow::bail!(
                "the register in {} is not valid ({} problems)",
                args.registry.display(),
                errors.len()
            );
        }
    };
    let domains = domains_to_check(&registry, &args.domains)?;
    let mut options = args.network.check_options();
    options.pacer = Some(Arc::new(Pacer::new(Duration::from_millis(
        args.connect_interval,
    ))));
    options.posture_cache = Some(Arc::new(crate::check::posture::PostureCache::new()));
    let checker = Arc::new(Checker::new(options)?);
    anyhow::ensure!(
        args.retry_after.is_finite() && args.retry_after >= 0.0,
        "--retry-after must be a number of seconds"
    );
    let config = SweepConfig {
        results: args.results.clone(),
        jobs: usize::from(args.jobs),
        grace: time::Duration::days(i64::from(args.grace_days)),
        retry_after: Duration::from_secs_f64(args.retry_after),
        grace_days: args.grace_days,
    };
    let summary = sweep(checker, &registry, domains, &config).await?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(render_summary(&summary).as_bytes())?;
    stdout.flush()?;
    Ok(Exit::Pass)
}
