//! What a review found: the review-v1 document (`review.json`, schema [`SCHEMA`]).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::report::{Report, Verdict};

/// JSON schema identifier of `review.json`.
pub const SCHEMA: &str = "xmpp-manifesto/review-v1";

/// How a file changed between base and head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Added,
    Modified,
    Renamed,
    Deleted,
    /// Copied, type changed, unmerged...
    Other,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Modified => "modified",
            ChangeKind::Renamed => "renamed",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Other => "changed",
        }
    }
}

/// One line of `git diff --name-status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// The path at head (at base for a deletion).
    pub path: String,
    /// The path at base, for renames and copies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// A problem in a signatory file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileProblem {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: String,
}

/// The review of one changed signatory file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileReview {
    pub change: Change,
    /// Empty when the file is valid (and for deletions, which are not validated).
    pub problems: Vec<FileProblem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<String>,
}

impl FileReview {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The check of one domain, with `domain-control` among its requirements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainReview {
    pub domain: String,
    /// The signatory file that lists it.
    pub file: String,
    pub report: Report,
}

/// `review.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewReport {
    pub schema: String,
    pub verdict: Verdict,
    /// Resolved commits.
    pub base: String,
    pub head: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub reviewed_at: OffsetDateTime,
    pub tool_version: String,
    /// Changed signatory files.
    pub files: Vec<FileReview>,
    /// Changed files outside `signatories/*.toml`: not reviewed by the bot.
    pub other_files: Vec<Change>,
    pub domains: Vec<DomainReview>,
}

impl ReviewReport {
    /// Fail on any file problem, any change outside the register or any failed domain; else
    /// inconclusive if a domain is; else pass.
    pub fn compute_verdict(&self) -> Verdict {
        if self.files.iter().any(|f| !f.is_ok()) || !self.other_files.is_empty() {
            return Verdict::Fail;
        }
        let mut verdict = Verdict::Pass;
        for d in &self.domains {
            match d.report.verdict {
                // A domain that serves no XMPP has nothing to verify: the PR needs work.
                Verdict::Fail | Verdict::NoService => return Verdict::Fail,
                Verdict::Inconclusive => verdict = Verdict::Inconclusive,
                Verdict::Pass => {}
            }
        }
        verdict
    }
}
