//! The service's results in SQLite: one row per check, from queued to done or aborted.
//!
//! Schema (version 1, `PRAGMA user_version`):
//!
//! ```sql
//! CREATE TABLE checks (
//!     id TEXT PRIMARY KEY,          -- 32 random hex digits
//!     domain TEXT NOT NULL,         -- normalised (A-label)
//!     state TEXT NOT NULL,          -- queued, running, done, aborted
//!     queued_at INTEGER NOT NULL,   -- Unix milliseconds
//!     started_at INTEGER, finished_at INTEGER,
//!     verdict TEXT, duration_ms INTEGER,
//!     report TEXT,                  -- report-v1 JSON, when done
//!     error TEXT                    -- why it was aborted
//! );
//! CREATE INDEX checks_domain_finished ON checks (domain, finished_at);
//! CREATE INDEX checks_state ON checks (state);
//! CREATE INDEX checks_finished ON checks (finished_at);
//! ```
//!
//! WAL, so that readers (pages, the API) never wait for the writer of a result. rusqlite is
//! blocking: every call runs on tokio's blocking pool ([`Db::call`]), never on the async
//! threads, and one connection behind a mutex serialises them (SQLite has one writer anyway).
//! A newer schema than this build knows is refused rather than guessed at.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

use crate::report::{Report, Verdict};
use crate::serve::model::{CheckState, HistoryPoint};

/// The schema this build writes.
const SCHEMA_VERSION: i64 = 1;
/// Rows of a domain's history at most.
pub const HISTORY_LIMIT: usize = 100;
/// What a check cut by a stop says.
pub const ABORTED_BY_STOP: &str = "the service stopped before this check finished";

const MIGRATION_1: &str = "
CREATE TABLE IF NOT EXISTS checks (
    id TEXT PRIMARY KEY,
    domain TEXT NOT NULL,
    state TEXT NOT NULL,
    queued_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    verdict TEXT,
    duration_ms INTEGER,
    report TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS checks_domain_finished ON checks (domain, finished_at);
CREATE INDEX IF NOT EXISTS checks_state ON checks (state);
CREATE INDEX IF NOT EXISTS checks_finished ON checks (finished_at);
";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database has schema version {0}, newer than this build knows ({SCHEMA_VERSION})")]
    NewerSchema(i64),
    #[error("the database task failed: {0}")]
    Task(String),
    #[error("the database lock is poisoned")]
    Poisoned,
}

/// One stored check.
#[derive(Debug, Clone)]
pub struct CheckRow {
    pub id: String,
    pub domain: String,
    pub state: CheckState,
    pub queued_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    /// `None` when not done, or when the stored JSON no longer parses (never a panic).
    pub report: Option<Report>,
    pub error: Option<String>,
}

/// A finished check, for the front page.
#[derive(Debug, Clone)]
pub struct RecentRow {
    pub domain: String,
    pub verdict: Verdict,
    pub at: OffsetDateTime,
}

/// The database, shared by every request and worker.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating it if needed) and migrates the database file.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // `journal_mode` answers with the mode; a file system without WAL keeps its own.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        migrate(&conn)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the blocking pool with the connection.
    pub async fn call<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let guard = conn.lock().map_err(|_| DbError::Poisoned)?;
            f(&guard)
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Every check left queued or running (by a previous process, or by this one at its stop)
    /// becomes aborted with `error`; returns how many.
    pub async fn abort_unfinished(&self, error: &str) -> Result<usize, DbError> {
        let error = error.to_owned();
        let now = unix_ms(OffsetDateTime::now_utc());
        self.call(move |c| {
            Ok(c.execute(
                "UPDATE checks SET state = 'aborted', finished_at = ?1, error = ?2
                 WHERE state IN ('queued', 'running')",
                params![now, error],
            )?)
        })
        .await
    }

    pub async fn insert_queued(
        &self,
        id: String,
        domain: String,
        at: OffsetDateTime,
    ) -> Result<(), DbError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO checks (id, domain, state, queued_at) VALUES (?1, ?2, 'queued', ?3)",
                params![id, domain, unix_ms(at)],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn mark_running(&self, id: String, at: OffsetDateTime) -> Result<(), DbError> {
        self.call(move |c| {
            c.execute(
                "UPDATE checks SET state = 'running', started_at = ?2
                 WHERE id = ?1 AND state = 'queued'",
                params![id, unix_ms(at)],
            )?;
            Ok(())
        })
        .await
    }

    /// Stores the report of a running check. A check already marked aborted (by a stop that
    /// came first) stays aborted: the record never changes its story.
    pub async fn finish(&self, id: String, report: Report) -> Result<(), DbError> {
        let json = serde_json::to_string(&report).map_err(|e| DbError::Task(e.to_string()))?;
        let now = unix_ms(OffsetDateTime::now_utc());
        self.call(move |c| {
            c.execute(
                "UPDATE checks SET state = 'done', finished_at = ?2, verdict = ?3,
                 duration_ms = ?4, report = ?5
                 WHERE id = ?1 AND state = 'running'",
                params![
                    id,
                    now,
                    report.verdict.as_str(),
                    i64::try_from(report.duration_ms).unwrap_or(i64::MAX),
                    json
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn get(&self, id: String) -> Result<Option<CheckRow>, DbError> {
        self.call(move |c| {
            Ok(c.query_row(
                &format!("SELECT {COLUMNS} FROM checks WHERE id = ?1"),
                params![id],
                check_row,
            )
            .optional()?)
        })
        .await
    }

    /// The newest done check of `domain`.
    pub async fn latest_done(&self, domain: String) -> Result<Option<CheckRow>, DbError> {
        self.call(move |c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {COLUMNS} FROM checks WHERE domain = ?1 AND state = 'done'
                     ORDER BY finished_at DESC LIMIT 1"
                ),
                params![domain],
                check_row,
            )
            .optional()?)
        })
        .await
    }

    /// The newest check of `domain` in any state (for its page).
    pub async fn latest_any(&self, domain: String) -> Result<Option<CheckRow>, DbError> {
        self.call(move |c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {COLUMNS} FROM checks WHERE domain = ?1
                     ORDER BY queued_at DESC, rowid DESC LIMIT 1"
                ),
                params![domain],
                check_row,
            )
            .optional()?)
        })
        .await
    }

    /// The verdicts of `domain`, newest first, [`HISTORY_LIMIT`] at most.
    pub async fn history(&self, domain: String) -> Result<Vec<HistoryPoint>, DbError> {
        self.call(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, finished_at, verdict, duration_ms FROM checks
                 WHERE domain = ?1 AND state = 'done' ORDER BY finished_at DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![domain, HISTORY_LIMIT as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let mut points = Vec::new();
            for row in rows {
                let (id, at, verdict, duration) = row?;
                // A verdict this build does not know (a newer one) is left out, not guessed.
                if let Some(verdict) = parse_verdict(&verdict) {
                    points.push(HistoryPoint {
                        id,
                        at: from_unix_ms(at),
                        verdict,
                        duration_ms: u64::try_from(duration).unwrap_or(0),
                    });
                }
            }
            Ok(points)
        })
        .await
    }

    /// The newest finished checks, one per domain, `limit` at most.
    pub async fn recent(&self, limit: usize) -> Result<Vec<RecentRow>, DbError> {
        self.call(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT domain, verdict, MAX(finished_at) AS at FROM checks
                 WHERE state = 'done' GROUP BY domain ORDER BY at DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map(params![limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            let mut recent = Vec::new();
            for row in rows {
                let (domain, verdict, at) = row?;
                if let Some(verdict) = parse_verdict(&verdict) {
                    recent.push(RecentRow {
                        domain,
                        verdict,
                        at: from_unix_ms(at),
                    });
                }
            }
            Ok(recent)
        })
        .await
    }
}

fn migrate(conn: &Connection) -> Result<(), DbError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(DbError::NewerSchema(version));
    }
    if version < 1 {
        conn.execute_batch(&format!(
            "BEGIN; {MIGRATION_1} PRAGMA user_version = 1; COMMIT;"
        ))?;
    }
    Ok(())
}

const COLUMNS: &str = "id, domain, state, queued_at, started_at, finished_at, report, error";

fn check_row(r: &Row<'_>) -> rusqlite::Result<CheckRow> {
    let state: String = r.get(2)?;
    let report: Option<String> = r.get(6)?;
    Ok(CheckRow {
        id: r.get(0)?,
        domain: r.get(1)?,
        state: parse_state(&state),
        queued_at: from_unix_ms(r.get(3)?),
        started_at: r.get::<_, Option<i64>>(4)?.map(from_unix_ms),
        finished_at: r.get::<_, Option<i64>>(5)?.map(from_unix_ms),
        report: report.and_then(|json| serde_json::from_str(&json).ok()),
        error: r.get(7)?,
    })
}

fn parse_state(s: &str) -> CheckState {
    match s {
        "queued" => CheckState::Queued,
        "running" => CheckState::Running,
        "done" => CheckState::Done,
        // Anything else is not a check that will finish.
        _ => CheckState::Aborted,
    }
}

fn parse_verdict(s: &str) -> Option<Verdict> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

pub fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

pub fn from_unix_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(domain: &str) -> Report {
        let json = std::fs::read_to_string("tests/fixtures/report-fail.json").unwrap();
        let mut report: Report = serde_json::from_str(&json).unwrap();
        report.domain = domain.into();
        report
    }

    #[tokio::test]
    async fn migrates_stores_and_aborts_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let db = Db::open(&path).unwrap();
        let now = OffsetDateTime::now_utc();
        db.insert_queued("a".into(), "x.example".into(), now)
            .await
            .unwrap();
        db.mark_running("a".into(), now).await.unwrap();
        db.finish("a".into(), report("x.example")).await.unwrap();
        db.insert_queued("b".into(), "x.example".into(), now)
            .await
            .unwrap();
        drop(db);
        let db = Db::open(&path).unwrap();
        assert_eq!(db.abort_unfinished(ABORTED_BY_STOP).await.unwrap(), 1);
        let b = db.get("b".into()).await.unwrap().unwrap();
        assert_eq!(b.state, CheckState::Aborted);
        assert_eq!(b.error.as_deref(), Some(ABORTED_BY_STOP));
        let a = db.latest_done("x.example".into()).await.unwrap().unwrap();
        assert_eq!(a.id, "a");
        assert!(a.report.is_some());
        assert_eq!(db.history("x.example".into()).await.unwrap().len(), 1);
        assert_eq!(db.recent(10).await.unwrap().len(), 1);
        // A finish after the abort does not resurrect the check.
        db.finish("b".into(), report("x.example")).await.unwrap();
        let b = db.get("b".into()).await.unwrap().unwrap();
        assert_eq!(b.state, CheckState::Aborted);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 7;").unwrap();
        drop(conn);
        assert!(matches!(Db::open(&path), Err(DbError::NewerSchema(7))));
    }
}
