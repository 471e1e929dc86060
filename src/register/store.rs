//! The results store: the directory `manifesto sweep` writes and `manifesto site` reads.
//!
//! Layout (default `results/`):
//!
//! - `<domain>.json`: the latest report (schema `report-v1`);
//! - `history/<domain>.jsonl`: one compact line per check ([`HistoryEntry`]), oldest first;
//! - `status.json`: the index (schema [`STATUS_SCHEMA`]): every domain's lifecycle, last verdict,
//!   whether a lapse notice is open, and the events (lapsed, recovered) of the last sweep.
//!
//! Every file is written to a temporary file in the same directory and renamed over the old
//! one, so an interrupted writer leaves each file either as it was or complete. The files are
//! published (the status branch, the page), so everything read back is untrusted: a file that
//! does not parse is skipped with its reason, never fatal to the rest.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::register::lifecycle::{self, Event, HistoryEntry, Lifecycle, State};
use crate::report::{self, Report, Verdict};

/// Schema identifier of `status.json`.
pub const STATUS_SCHEMA: &str = "xmpp-manifesto/status-v1";
/// Name of the index in the results directory.
pub const STATUS_FILE: &str = "status.json";
/// Subdirectory of the histories.
pub const HISTORY_DIR: &str = "history";

/// What can go wrong with the results directory. Each message names the file and includes
/// its cause (the cause is not also a `source`, so a printed chain does not repeat it).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("reading results directory {}: {error}", path.display())]
    ReadDir {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("creating {}: {error}", path.display())]
    CreateDir {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("reading {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("writing {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("parsing {}: {error}", path.display())]
    Parse {
        path: PathBuf,
        error: serde_json::Error,
    },
    #[error("{}: schema {found:?}, expected {STATUS_SCHEMA}", path.display())]
    Schema { path: PathBuf, found: String },
    #[error("{0}")]
    Encode(serde_json::Error),
}

/// One domain's entry in `status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEntry {
    /// Slug of the signatory that lists the domain.
    pub signatory: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    pub lifecycle: Lifecycle,
    /// A lapse notice was sent and the domain has not been verified since.
    #[serde(default)]
    pub lapse_notice: bool,
}

/// An event of this sweep, for the notifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEntry {
    pub domain: String,
    pub signatory: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<String>,
    pub event: Event,
    pub state: State,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<OffsetDateTime>,
}

/// `status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusIndex {
    pub schema: String,
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    pub grace_days: u32,
    pub domains: BTreeMap<String, DomainEntry>,
    #[serde(default)]
    pub events: Vec<EventEntry>,
}

impl StatusIndex {
    /// Reads `status.json` from a results directory; None when absent.
    pub fn load(dir: &Path) -> Result<Option<StatusIndex>, StoreError> {
        let path = dir.join(STATUS_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(StoreError::Read { path, error }),
        };
        let index: StatusIndex = match serde_json::from_slice(&bytes) {
            Ok(index) => index,
            Err(error) => return Err(StoreError::Parse { path, error }),
        };
        if index.schema != STATUS_SCHEMA {
            return Err(StoreError::Schema {
                path,
                found: index.schema,
            });
        }
        Ok(Some(index))
    }

    /// Writes `status.json` into a results directory (atomically).
    pub fn save(&self, dir: &Path) -> Result<(), StoreError> {
        write_json(&dir.join(STATUS_FILE), self)
    }
}

/// Creates the results directory and its `history/`, and removes the temporary files an
/// interrupted writer left there.
pub fn prepare(results: &Path) -> Result<(), StoreError> {
    let history = results.join(HISTORY_DIR);
    std::fs::create_dir_all(&history).map_err(|error| StoreError::CreateDir {
        path: results.to_path_buf(),
        error,
    })?;
    remove_stale_temp_files(results);
    remove_stale_temp_files(&history);
    Ok(())
}

/// Writes a value as pretty JSON followed by a newline (atomically).
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let mut json = serde_json::to_string_pretty(value).map_err(StoreError::Encode)?;
    json.push('\n');
    write_atomic(path, json.as_bytes())
}

/// Writes `content` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content)?;
        f.flush()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(error) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(StoreError::Write {
            path: path.to_path_buf(),
            error,
        });
    }
    Ok(())
}

/// Removes temporary files an interrupted sweep left behind (`.NAME.tmp.PID`).
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".tmp.") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Reads a history file; a missing file is an empty history. Lines that do not parse (there
/// should be none) are skipped with a warning rather than losing the rest.
pub fn read_history(path: &Path) -> Result<Vec<HistoryEntry>, StoreError> {
    Ok(parse_history(path, &read_history_text(path)?))
}

fn read_history_text(path: &Path) -> Result<String, StoreError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(error) => Err(StoreError::Read {
            path: path.to_path_buf(),
            error,
        }),
    }
}

fn parse_history(path: &Path, text: &str) -> Vec<HistoryEntry> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<HistoryEntry>(line) {
            Ok(e) => entries.push(e),
            Err(e) => eprintln!("warning: {}:{}: skipped: {e}", path.display(), i + 1),
        }
    }
    entries
}

/// History file of a domain.
pub fn history_path(results: &Path, domain: &str) -> PathBuf {
    results.join(HISTORY_DIR).join(format!("{domain}.jsonl"))
}

/// Appends one check to a domain's history (rewriting the file atomically) and writes its
/// latest report. Returns the whole history.
pub fn record(results: &Path, report: &Report) -> Result<Vec<HistoryEntry>, StoreError> {
    let path = history_path(results, &report.domain);
    let mut text = read_history_text(&path)?;
    let mut history = parse_history(&path, &text);
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let entry = HistoryEntry::from_report(report);
    text.push_str(&serde_json::to_string(&entry).map_err(StoreError::Encode)?);
    text.push('\n');
    write_atomic(&path, text.as_bytes())?;
    history.push(entry);
    write_json(&results.join(format!("{}.json", report.domain)), report)?;
    Ok(history)
}

/// The latest report per domain, read from a results directory.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// Keyed by domain (A-label, lower case).
    pub latest: BTreeMap<String, Report>,
    /// Lifecycle per domain, from `status.json` (written by `manifesto sweep`) when present;
    /// domains it does not list get the lifecycle their latest report alone implies.
    pub lifecycle: BTreeMap<String, Lifecycle>,
    /// Files that could not be used, with the reason (the site still builds).
    pub skipped: Vec<(PathBuf, String)>,
}

impl Results {
    /// Reads every `*.json` file directly under `dir` as a report, except the sweep's index
    /// `status.json`, which gives the lifecycles. When several reports name the same domain, the
    /// latest `checked_at` wins (`history/` beside is not read).
    pub fn load(dir: &Path) -> Result<Results, StoreError> {
        let mut results = Results::default();
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|error| StoreError::ReadDir {
                path: dir.to_path_buf(),
                error,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
            .filter(|p| p.file_name().is_none_or(|n| n != STATUS_FILE))
            .collect();
        files.sort();
        for path in files {
            let parsed = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Report>(&b).map_err(|e| e.to_string()));
            match parsed {
                Ok(r) if r.schema != report::SCHEMA => results.skipped.push((
                    path,
                    format!("schema {:?}, expected {}", r.schema, report::SCHEMA),
                )),
                Ok(r) => results.insert(r),
                Err(e) => results.skipped.push((path, e)),
            }
        }
        match StatusIndex::load(dir) {
            Ok(Some(index)) => {
                for (domain, entry) in index.domains {
                    results.lifecycle.insert(domain, entry.lifecycle);
                }
            }
            Ok(None) => {}
            Err(e) => results.skipped.push((dir.join(STATUS_FILE), e.to_string())),
        }
        Ok(results)
    }

    /// The lifecycle of a domain: from the sweep's index, else what its latest report alone
    /// says (evaluated at the time of that report, so the site depends only on its inputs).
    pub fn lifecycle_of(&self, domain: &str) -> Lifecycle {
        if let Some(lc) = self.lifecycle.get(domain) {
            return lc.clone();
        }
        let history: Vec<HistoryEntry> = self
            .latest
            .get(domain)
            .map(HistoryEntry::from_report)
            .into_iter()
            .collect();
        let now = history
            .first()
            .map_or(OffsetDateTime::UNIX_EPOCH, |e| e.checked_at);
        lifecycle::derive(
            &history,
            now,
            time::Duration::days(i64::from(lifecycle::DEFAULT_GRACE_DAYS)),
        )
    }

    /// Adds a report, keeping the latest per domain.
    pub fn insert(&mut self, report: Report) {
        let domain = report.domain.trim_end_matches('.').to_ascii_lowercase();
        match self.latest.get(&domain) {
            Some(old) if old.checked_at >= report.checked_at => {}
            _ => {
                self.latest.insert(domain, report);
            }
        }
    }
}
