//! `GET /metrics`: the Prometheus text format, written by hand (a handful of counters does not
//! need a metrics framework). Labels take only fixed values, never text from a request.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::report::Verdict;

/// Upper bounds of the check duration histogram, in seconds.
const BUCKETS: [f64; 9] = [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0];

/// Why a request was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    RateLimited,
    QueueFull,
    InvalidDomain,
    BadRequest,
    Stopping,
}

impl Rejection {
    const ALL: [Rejection; 5] = [
        Rejection::RateLimited,
        Rejection::QueueFull,
        Rejection::InvalidDomain,
        Rejection::BadRequest,
        Rejection::Stopping,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Rejection::RateLimited => "rate-limited",
            Rejection::QueueFull => "queue-full",
            Rejection::InvalidDomain => "invalid-domain",
            Rejection::BadRequest => "bad-request",
            Rejection::Stopping => "stopping",
        }
    }
}

const VERDICTS: [Verdict; 4] = [
    Verdict::Pass,
    Verdict::Fail,
    Verdict::Inconclusive,
    Verdict::NoService,
];

#[derive(Debug, Default)]
pub struct Metrics {
    checks: [AtomicU64; 4],
    aborted: AtomicU64,
    stored_answers: AtomicU64,
    duration_buckets: [AtomicU64; BUCKETS.len()],
    duration_count: AtomicU64,
    duration_sum_ms: AtomicU64,
    rejections: [AtomicU64; 5],
    http_requests: AtomicU64,
}

fn verdict_index(v: Verdict) -> usize {
    VERDICTS.iter().position(|x| *x == v).unwrap_or(0)
}

impl Metrics {
    pub fn check_done(&self, verdict: Verdict, duration: Duration) {
        self.checks[verdict_index(verdict)].fetch_add(1, Ordering::Relaxed);
        let secs = duration.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(&self.duration_buckets) {
            if secs <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.duration_count.fetch_add(1, Ordering::Relaxed);
        let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        self.duration_sum_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// The mean duration of the checks so far.
    pub fn mean_duration(&self) -> Option<Duration> {
        let count = self.duration_count.load(Ordering::Relaxed);
        let sum = self.duration_sum_ms.load(Ordering::Relaxed);
        (count > 0).then(|| Duration::from_millis(sum / count))
    }

    pub fn checks_aborted(&self, n: u64) {
        self.aborted.fetch_add(n, Ordering::Relaxed);
    }

    pub fn stored_answer(&self) {
        self.stored_answers.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rejected(&self, why: Rejection) {
        let i = Rejection::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.rejections[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn http_request(&self) {
        self.http_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition, with the queue's gauges read at the time of the request.
    pub fn render(&self, queued: usize, running: usize) -> String {
        let mut out = String::with_capacity(2048);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP manifesto_checks_total Checks finished, by verdict (aborted: cut by a stop).\n# TYPE manifesto_checks_total counter\n");
        for (v, count) in VERDICTS.iter().zip(&self.checks) {
            let _ = writeln!(
                out,
                "manifesto_checks_total{{verdict=\"{}\"}} {}",
                v.as_str(),
                get(count)
            );
        }
        let _ = writeln!(
            out,
            "manifesto_checks_total{{verdict=\"aborted\"}} {}",
            get(&self.aborted)
        );
        out.push_str("# HELP manifesto_stored_answers_total Requests answered with a fresh stored result.\n# TYPE manifesto_stored_answers_total counter\n");
        let _ = writeln!(
            out,
            "manifesto_stored_answers_total {}",
            get(&self.stored_answers)
        );
        out.push_str("# HELP manifesto_check_duration_seconds Time from the start of a check to its report.\n# TYPE manifesto_check_duration_seconds histogram\n");
        for (bound, count) in BUCKETS.iter().zip(&self.duration_buckets) {
            let _ = writeln!(
                out,
                "manifesto_check_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                get(count)
            );
        }
        let count = get(&self.duration_count);
        let _ = writeln!(
            out,
            "manifesto_check_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = get(&self.duration_sum_ms) as f64 / 1000.0;
        let _ = writeln!(out, "manifesto_check_duration_seconds_sum {sum}");
        let _ = writeln!(out, "manifesto_check_duration_seconds_count {count}");
        out.push_str("# HELP manifesto_queue_length Checks waiting for a slot.\n# TYPE manifesto_queue_length gauge\n");
        let _ = writeln!(out, "manifesto_queue_length {queued}");
        out.push_str("# HELP manifesto_running_checks Checks running now.\n# TYPE manifesto_running_checks gauge\n");
        let _ = writeln!(out, "manifesto_running_checks {running}");
        out.push_str("# HELP manifesto_rejections_total Requests turned away, by reason.\n# TYPE manifesto_rejections_total counter\n");
        for (r, count) in Rejection::ALL.iter().zip(&self.rejections) {
            let _ = writeln!(
                out,
                "manifesto_rejections_total{{reason=\"{}\"}} {}",
                r.as_str(),
                get(count)
            );
        }
        out.push_str("# HELP manifesto_http_requests_total HTTP requests served.\n# TYPE manifesto_http_requests_total counter\n");
        let _ = writeln!(
            out,
            "manifesto_http_requests_total {}",
            get(&self.http_requests)
        );
        out
    }
}
