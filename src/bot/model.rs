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

/// One file of `git diff --raw`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// The path at head (at base for a deletion).
    pub path: String,
    /// The path at base, for renames and copies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Git's mode of the file at head (`100644` for a regular file, `120000` for a symbolic
    /// link...); none for a deletion (and in older documents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// A problem in a signatory file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileProblem {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: String,
}

/// Whether the PR's author may make a file's change (see `bot::authorship` for the rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthorshipOutcome {
    /// The author's own entry: the only outcome that can be verified.
    Own,
    /// The review ran without `--author`: nobody's entry can be told apart.
    NoAuthor,
    /// The base version names another login (`owner`).
    OthersEntry,
    /// The base version names no login (a 2014 import).
    UnclaimedEntry,
    /// The file the PR modifies, renames or deletes is not in the base branch's register.
    NotInBase,
    /// The head version names another login (`owner`) than the author.
    ClaimsOther,
    /// The head version names no valid login.
    ClaimsNone,
}

/// The authorship of one changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorship {
    pub outcome: AuthorshipOutcome,
    /// The login the outcome is about: the entry's signer (`own`, `others-entry`) or the login
    /// the file claims (`claims-other`). Always a valid GitHub login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// One or two sentences: whose entry it is, who must confirm, and why.
    pub summary: String,
}

impl Authorship {
    pub fn is_own(&self) -> bool {
        self.outcome == AuthorshipOutcome::Own
    }
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
    /// Whether the PR's author may make this change (added in review-v1; absent in older
    /// documents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorship: Option<Authorship>,
}

impl FileReview {
    /// No problem in the file itself.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Valid, and the PR author's own to change.
    pub fn is_verified(&self) -> bool {
        self.is_ok() && self.authorship.as_ref().is_some_and(Authorship::is_own)
    }

    /// Someone else's entry, or a claim on one (an author was given, and it is not theirs).
    pub fn is_foreign(&self) -> bool {
        self.authorship
            .as_ref()
            .is_some_and(|a| !a.is_own() && a.outcome != AuthorshipOutcome::NoAuthor)
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

/// A domain the review did not check (over the per-review cap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UncheckedDomain {
    pub domain: String,
    /// The signatory file that lists it.
    pub file: String,
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
    /// Domains of valid files beyond the per-review cap, not checked (the review fails).
    #[serde(default)]
    pub unchecked_domains: Vec<UncheckedDomain>,
    /// Why the review as a whole cannot pass, in sentences (no PR author, too many domains).
    #[serde(default)]
    pub problems: Vec<String>,
    /// What the review could not do and who will (the s2s proof pending for the sweep): shown,
    /// without changing the verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ReviewReport {
    /// Fail on any file problem, any file that is not the author's to change, any change
    /// outside the register, any domain left unchecked or any failed domain; else inconclusive if a domain is, or if the
    /// author is unknown (nothing can be verified); else pass.
    pub fn compute_verdict(&self) -> Verdict {
        if self.files.iter().any(|f| !f.is_ok() || f.is_foreign())
            || !self.other_files.is_empty()
            || !self.unchecked_domains.is_empty()
        {
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
        // Pass only when every file is the author's own (a file without an authorship, from an
        // older document, is not).
        if !self.files.iter().all(FileReview::is_verified) {
            verdict = Verdict::Inconclusive;
        }
        verdict
    }
}
