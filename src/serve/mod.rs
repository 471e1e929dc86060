//! `manifesto serve`: a public check service (issue 12). An HTTP service (axum) that runs
//! `manifesto check` for anyone, keeps every result in SQLite, and shows them as pages and as a
//! JSON API; the bot and the sweep can ask it for complete checks (dual-stack, with the dialback
//! responder) with `--node URL`.
//!
//! Threat model: every request is untrusted (the domain asked for, the client's address, the
//! headers and body); the SSRF policy of `check` always applies (no non-public address unless
//! `--allow-private`, for tests only); per-client and per-domain limits, a global cap on running
//! checks and a bounded queue keep it from being turned against the servers it checks or
//! against itself; tokens raise the limits, never the policy.
//!
//! Rooms: `model` (the API's JSON shapes, shared with the `--node` client), `pages` (HTML and
//! the SVG history chart, askama templates in the register's look), `db` (SQLite: the checks,
//! migrated on start), `queue` (the bounded queue, a task per running check, de-duplication and freshness),
//! `limits` (per-client token buckets), `tokens` (`--tokens`), `http` (the routes and the
//! accept loop with its limits), `openapi` (the document, generated from the code), `metrics`
//! (Prometheus text).
//!
//! Life: [`Service::bind`] opens the database (checks a previous process left queued or
//! running become aborted), builds one `Checker` for every check, and binds; [`Service::run`]
//! serves until its `shutdown` future resolves, then stops accepting, lets running checks
//! finish within [`ServeOptions::grace`], and records the rest (running and queued) as
//! aborted: a check is never lost.

pub mod db;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod openapi;
pub mod pages;
pub mod queue;
pub mod tokens;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::check::{CheckError, CheckOptions, Checker};
use db::{ABORTED_BY_STOP, Db, DbError};
use limits::Limiter;
use metrics::Metrics;
use queue::Queue;
use tokens::{Tokens, TokensError};

/// The service's options (the CLI's `manifesto serve` flags, without clap).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// The SQLite database file, created if missing.
    pub db: PathBuf,
    /// The options of every check (resolvers, CA files, `allow_private`, timeouts, responder).
    pub check: CheckOptions,
    /// Hashed API tokens (`tokens.rs`).
    pub tokens: Option<PathBuf>,
    /// A domain checked within this long gets its stored result.
    pub fresh: Duration,
    /// Checks running at once.
    pub max_running: usize,
    /// Checks waiting at most.
    pub queue: usize,
    /// New checks a minute per client address (a token: ten times more).
    pub per_minute: u32,
    /// Take the client's address from the last `X-Forwarded-For` hop (behind a reverse proxy).
    pub trust_forwarded_for: bool,
    /// How long running checks may take to finish after a stop is asked for.
    pub grace: Duration,
}

impl ServeOptions {
    /// The defaults of `manifesto serve`, with the database and check options given.
    pub fn new(db: PathBuf, check: CheckOptions) -> ServeOptions {
        ServeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db,
            check,
            tokens: None,
            fresh: Duration::from_secs(300),
            max_running: 4,
            queue: 64,
            per_minute: 10,
            trust_forwarded_for: false,
            grace: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the database {0}: {1}")]
    Db(PathBuf, DbError),
    #[error(transparent)]
    Tokens(#[from] TokensError),
    #[error(transparent)]
    Checker(#[from] CheckError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("cannot record the checks cut by the stop: {0}")]
    Stop(DbError),
}

impl ServeError {
    /// Whether the user's input is at fault (a file or option that cannot be used), rather
    /// than the run.
    pub fn is_usage(&self) -> bool {
        match self {
            ServeError::Tokens(_) => true,
            ServeError::Checker(e) => matches!(
                e,
                CheckError::InvalidDomain(..)
                    | CheckError::CaFile(..)
                    | CheckError::TrustAnchor(..)
                    | CheckError::Responder(_)
            ),
            ServeError::Db(_, DbError::NewerSchema(_)) => true,
            ServeError::Db(..) | ServeError::Bind(..) | ServeError::Stop(_) => false,
        }
    }
}

/// What every request and check task shares.
pub(crate) struct State {
    pub(crate) db: Db,
    pub(crate) queue: Queue,
    pub(crate) checker: Checker,
    pub(crate) metrics: Metrics,
    pub(crate) limiter: Limiter,
    pub(crate) tokens: Tokens,
    pub(crate) fresh: Duration,
    pub(crate) max_running: usize,
    pub(crate) per_minute: u32,
    pub(crate) trust_forwarded_for: bool,
    /// `/openapi.json`, rendered once.
    pub(crate) openapi: String,
}

/// A bound service, not yet serving.
pub struct Service {
    listener: TcpListener,
    state: Arc<State>,
    grace: Duration,
    /// Checks found unfinished at start and recorded as aborted.
    recovered: usize,
}

impl Service {
    pub async fn bind(options: ServeOptions) -> Result<Service, ServeError> {
        let path = options.db.clone();
        let db = tokio::task::spawn_blocking(move || Db::open(&path))
            .await
            .map_err(|e| ServeError::Db(options.db.clone(), DbError::Task(e.to_string())))?
            .map_err(|e| ServeError::Db(options.db.clone(), e))?;
        // Whatever a previous process left queued or running will never finish.
        let recovered = db
            .abort_unfinished(ABORTED_BY_STOP)
            .await
            .map_err(|e| ServeError::Db(options.db.clone(), e))?;
        let tokens = match &options.tokens {
            Some(path) => Tokens::load(path)?,
            None => Tokens::default(),
        };
        let checker = Checker::new(options.check.clone())?;
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|e| ServeError::Bind(options.listen, e))?;
        let state = State {
            db,
            queue: Queue::new(options.queue),
            checker,
            metrics: Metrics::default(),
            limiter: Limiter::new(options.per_minute),
            tokens,
            fresh: options.fresh,
            max_running: options.max_running.max(1),
            per_minute: options.per_minute,
            trust_forwarded_for: options.trust_forwarded_for,
            openapi: openapi::document(),
        };
        Ok(Service {
            listener,
            state: Arc::new(state),
            grace: options.grace,
            recovered,
        })
    }

    /// Where it listens (the port chosen for `:0`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Checks a previous process left unfinished, now recorded as aborted.
    pub fn recovered(&self) -> usize {
        self.recovered
    }

    /// Serves until `shutdown` resolves, then stops as the module doc says.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let state = self.state;
        // Each running check is a task in `checks` (`queue::dispatch`): a stop can wait for
        // them, then abort them, whatever `dispatch` was doing.
        let mut checks = JoinSet::new();
        let (stop_tx, stop_rx) = watch::channel(false);
        let server = tokio::spawn(http::accept_loop(
            self.listener,
            Arc::clone(&state),
            stop_rx,
        ));
        {
            // `dispatch` returns only once the queue is closed, which happens below.
            let dispatching = queue::dispatch(&state, &mut checks);
            tokio::pin!(shutdown, dispatching);
            tokio::select! {
                _ = &mut shutdown => {}
                _ = dispatching => {}
            }
        }
        let _ = stop_tx.send(true);
        state.queue.close();
        // Running checks get the grace; whatever is still running then is aborted, and waited
        // for (its future dropped, its slot given back) before the unfinished checks are
        // recorded.
        let _ = tokio::time::timeout(self.grace, async {
            while let Some(ended) = checks.join_next().await {
                queue::reap(ended);
            }
        })
        .await;
        checks.shutdown().await;
        let _ = server.await;
        let aborted = state
            .db
            .abort_unfinished(ABORTED_BY_STOP)
            .await
            .map_err(ServeError::Stop)?;
        state.metrics.checks_aborted(aborted as u64);
        Ok(())
    }
}

/// Binds and serves until `shutdown` resolves.
pub async fn serve(
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    Service::bind(options).await?.run(shutdown).await
}
