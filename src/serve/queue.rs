//! The checks waiting and running: a bounded queue in front of at most `max_running` running
//! checks (the global cap), each on its own task, with one check per domain at a time.
//!
//! A request for a domain goes, in order, to:
//! 1. its stored result, when a check of it finished within `fresh` (200, nothing runs: a
//!    domain is checked at most once per `fresh`, whoever asks);
//! 2. the check of it already queued or running (202 with that check: de-duplication);
//! 3. a new check, if the client's bucket allows it ([`super::limits`]) and the queue has
//!    room; else 429 with a Retry-After.
//!
//! The queue lives in memory; the database has every check from the moment it is accepted, so
//! a stop can mark what was left as aborted ([`super::db::Db::abort_unfinished`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinSet};

use crate::serve::State;
use crate::serve::db::{CheckRow, DbError};
use crate::serve::limits::Client;
use crate::serve::metrics::Rejection;

#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub id: String,
    pub domain: String,
}

#[derive(Debug, Default)]
struct Inner {
    pending: VecDeque<Job>,
    /// Domain → id of its check queued, being queued, or running.
    active: HashMap<String, String>,
    /// Accepted, not yet in `pending` (the database row is being written).
    reserved: usize,
    running: usize,
    closed: bool,
}

/// The bounded queue.
#[derive(Debug)]
pub(crate) struct Queue {
    inner: Mutex<Inner>,
    notify: Notify,
    capacity: usize,
}

enum Reserve {
    Existing(String),
    Reserved,
    Full,
    Closed,
}

/// What a request for a check got.
#[derive(Debug)]
pub(crate) enum Submitted {
    /// A check that finished within `fresh`.
    Fresh(Box<CheckRow>),
    /// A check queued or running (new, or the domain's current one).
    Pending(String),
}

/// Why a request for a check was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("too many checks from this client")]
    RateLimited(Duration),
    #[error("the queue is full")]
    QueueFull(Duration),
    #[error("the service is stopping")]
    Stopping,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Queue {
        Queue {
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
            capacity,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A panic while holding the lock cannot leave `Inner` half-updated in a way that
        // matters more than stopping the service would: keep going with its contents.
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    fn reserve(&self, domain: &str, id: &str) -> Reserve {
        self.with(|q| {
            if let Some(existing) = q.active.get(domain) {
                return Reserve::Existing(existing.clone());
            }
            if q.closed {
                return Reserve::Closed;
            }
            if q.pending.len() + q.reserved >= self.capacity {
                return Reserve::Full;
            }
            q.reserved += 1;
            q.active.insert(domain.to_owned(), id.to_owned());
            Reserve::Reserved
        })
    }

    fn cancel(&self, domain: &str) {
        self.with(|q| {
            q.reserved = q.reserved.saturating_sub(1);
            q.active.remove(domain);
        });
    }

    fn commit(&self, job: Job) {
        self.with(|q| {
            q.reserved = q.reserved.saturating_sub(1);
            q.pending.push_back(job);
        });
        self.notify.notify_one();
    }

    /// The next job, or `None` once closed.
    pub(crate) async fn next(&self) -> Option<Job> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before looking, so that a close or a push in between is not missed.
            notified.as_mut().enable();
            let job = self.with(|q| {
                if q.closed {
                    return Some(None);
                }
                let job = q.pending.pop_front()?;
                q.running += 1;
                Some(Some(job))
            });
            if let Some(job) = job {
                return job;
            }
            notified.await;
        }
    }

    pub(crate) fn finished(&self, job: &Job) {
        self.with(|q| {
            q.running = q.running.saturating_sub(1);
            q.active.remove(&job.domain);
        });
    }

    /// No job is handed out any more; a waiting [`dispatch`] returns.
    pub(crate) fn close(&self) {
        self.with(|q| q.closed = true);
        self.notify.notify_waiters();
    }

    /// Checks ahead of `id` while it is queued.
    pub(crate) fn position(&self, id: &str) -> Option<usize> {
        self.with(|q| q.pending.iter().position(|j| j.id == id))
    }

    /// (queued, running).
    pub(crate) fn lengths(&self) -> (usize, usize) {
        self.with(|q| (q.pending.len() + q.reserved, q.running))
    }
}

fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A request for a check of `domain` (normalised) from `client`.
pub(crate) async fn submit(
    state: &State,
    domain: &str,
    client: &Client,
) -> Result<Submitted, Refusal> {
    if let Some(row) = state.db.latest_done(domain.to_owned()).await? {
        let fresh_since = OffsetDateTime::now_utc() - state.fresh;
        if row.finished_at.is_some_and(|at| at >= fresh_since) {
            state.metrics.stored_answer();
            return Ok(Submitted::Fresh(Box::new(row)));
        }
    }
    let id = new_id();
    match state.queue.reserve(domain, &id) {
        Reserve::Existing(id) => return Ok(Submitted::Pending(id)),
        Reserve::Closed => return Err(refused(state, Refusal::Stopping)),
        Reserve::Full => {
            return Err(refused(state, Refusal::QueueFull(retry_after(state))));
        }
        Reserve::Reserved => {}
    }
    if let Err(wait) = state.limiter.try_take(client) {
        state.queue.cancel(domain);
        return Err(refused(state, Refusal::RateLimited(wait)));
    }
    let queued_at = OffsetDateTime::now_utc();
    if let Err(e) = state
        .db
        .insert_queued(id.clone(), domain.to_owned(), queued_at)
        .await
    {
        state.queue.cancel(domain);
        return Err(e.into());
    }
    state.queue.commit(Job {
        id: id.clone(),
        domain: domain.to_owned(),
    });
    Ok(Submitted::Pending(id))
}

fn refused(state: &State, refusal: Refusal) -> Refusal {
    state.metrics.rejected(match refusal {
        Refusal::RateLimited(_) => Rejection::RateLimited,
        Refusal::QueueFull(_) => Rejection::QueueFull,
        Refusal::Stopping | Refusal::Db(_) => Rejection::Stopping,
    });
    refusal
}

/// When the queue may have room again: the time `max_running` slots need for what is queued, at the
/// mean duration of the checks so far (10 s before any), between 1 s and 5 min.
fn retry_after(state: &State) -> Duration {
    let (queued, _) = state.queue.lengths();
    let mean = state
        .metrics
        .mean_duration()
        .unwrap_or(Duration::from_secs(10));
    let rounds = (queued / state.max_running.max(1)).max(1) as u32;
    (mean * rounds).clamp(Duration::from_secs(1), Duration::from_secs(300))
}

/// Hands the queued jobs out until the queue closes, each to a task of its own in `checks`
/// once one of `max_running` slots is free; reaps the tasks that ended meanwhile.
///
/// A task per check, not checks polled together by one task: they run on every core of the
/// runtime, and a check stuck in a long computation does not hold up the others. (That needs
/// the future of `Checker::check` to be `Send`: see `Context::politely` in `crate::check`.)
/// The tasks stay in `checks` for [`crate::serve::Service::run`], which gives them the grace
/// at a stop, then aborts the rest.
pub(crate) async fn dispatch(state: &Arc<State>, checks: &mut JoinSet<()>) {
    let slots = Arc::new(Semaphore::new(state.max_running));
    loop {
        // A slot first, then a job: a job is taken from the queue (and counted as running)
        // only when it can start at once. Both waits are cancel-safe: when a task ends first,
        // nothing is lost by starting them again.
        let next = async {
            let slot = Arc::clone(&slots).acquire_owned().await.ok()?;
            let job = state.queue.next().await?;
            Some((slot, job))
        };
        tokio::select! {
            next = next => {
                let Some((slot, job)) = next else {
                    return;
                };
                checks.spawn(run_job(Arc::clone(state), job, slot));
            }
            Some(ended) = checks.join_next() => reap(ended),
        }
    }
}

/// What a check's task ended with: nothing to do unless it panicked (a bug, logged; its
/// record is left running, and becomes aborted at the service's stop).
pub(crate) fn reap(ended: Result<(), JoinError>) {
    if let Err(e) = ended
        && e.is_panic()
    {
        tracing::error!("a check panicked: {e}");
    }
}

/// A running job, given back to the queue when its task ends, however it ends: done,
/// panicked, or aborted at a stop (its future dropped).
struct Running {
    state: Arc<State>,
    job: Job,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.state.queue.finished(&self.job);
    }
}

/// One check, on its own task; `_slot` is its place among the `max_running`, freed with it.
async fn run_job(state: Arc<State>, job: Job, _slot: OwnedSemaphorePermit) {
    let running = Running { state, job };
    let (state, job) = (&running.state, &running.job);
    if let Err(e) = state
        .db
        .mark_running(job.id.clone(), OffsetDateTime::now_utc())
        .await
    {
        tracing::warn!("check {}: cannot mark it running: {e}", job.id);
    }
    let report = state.checker.check(&job.domain).await;
    state
        .metrics
        .check_done(report.verdict, Duration::from_millis(report.duration_ms));
    if let Err(e) = state.db.finish(job.id.clone(), report).await {
        tracing::warn!("check {}: cannot store its report: {e}", job.id);
    }
}
