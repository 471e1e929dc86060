//! `manifesto comment`: keep the bot's one sticky comment on a signatory pull request, and the
//! verdict label next to it.
//!
//! # Contract
//!
//! - The comment is recognised by [`REVIEW_MARKER`] (`<!-- xmpp-manifesto:review -->`) **and**
//!   by its author being the bot ([`CommentOptions::bot_login`], `github-actions[bot]` by default).
//!   A human comment that quotes the marker is never edited. Every page of the comment list is
//!   read (GitHub's `Link: <...>; rel="next"` pagination). The oldest matching comment is
//!   updated; when there is none, one is created. A body without the marker gets it prepended.
//! - The verdict comes from `--verdict pass|fail|inconclusive` and/or from a marker in the body,
//!   `<!-- xmpp-manifesto:verdict=pass -->` ([`VERDICT_MARKER_PREFIX`]). When both are given,
//!   the label is "verified" only if both say `pass`; any other value means "needs work".
//! - With `--labels`, the PR gets [`LABEL_VERIFIED`] or [`LABEL_NEEDS_WORK`], and the other one
//!   is removed (a 404 on removal is fine: it was not there).
//! - With `--head-sha`, nothing is written unless the PR's current head is still that commit
//!   (a newer push has its own review run coming); the command then exits 0.
//! - Bodies are at most [`MAX_BODY_CHARS`] characters (GitHub's limit): a longer body is
//!   refused; truncating is the job of whoever renders it (`manifesto review`).
//! - Token from `GITHUB_TOKEN`, API base from `GITHUB_API_URL` (default
//!   `https://api.github.com`; a GitHub Enterprise base such as `https://ghe.example/api/v3`
//!   works). Every request has a timeout; 5xx answers, transport errors and secondary rate
//!   limits (403/429 with `retry-after`, `x-ratelimit-remaining: 0` or a "secondary rate limit"
//!   message) are retried with bounded exponential backoff. A plain 403 is reported with what
//!   to fix (the token lacks `pull-requests: write`, or it is the read-only token of a
//!   `pull_request` run from a fork).

use std::path::PathBuf;
use std::time::Duration;

use http::{Method, StatusCode};

mod client;
mod comments;
mod helpers;
mod job;
mod labels;
mod statuses;

pub use client::Client;
pub use comments::{ApiComment, Upsert};
pub use helpers::{
    RepoName, body_verdicts, effective_verdict, is_commit_sha, parse_verdict, prepare_body,
    verdict_marker,
};
pub use job::{CommentJob, CommentOptions, Commented, post_comment, status_state};
pub use labels::verdict_labels;

/// Hidden marker that identifies the bot's review comment.
pub const REVIEW_MARKER: &str = "<!-- xmpp-manifesto:review -->";
/// Start of the hidden verdict marker: `<!-- xmpp-manifesto:verdict=pass -->`.
pub const VERDICT_MARKER_PREFIX: &str = "<!-- xmpp-manifesto:verdict=";
/// Label set when every signatory file and domain of the PR passed.
pub const LABEL_VERIFIED: &str = "manifesto: verified";
/// Label set when anything failed or was inconclusive.
pub const LABEL_NEEDS_WORK: &str = "manifesto: needs work";
/// GitHub refuses comment bodies longer than this many characters.
pub const MAX_BODY_CHARS: usize = 65_536;
/// Login of the token GitHub Actions hands to workflows.
pub const DEFAULT_BOT_LOGIN: &str = "github-actions[bot]";
/// API base when `GITHUB_API_URL` is not set.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// At most this many pages of 100 comments are read.
pub(crate) const MAX_PAGES: usize = 100;

/// What went wrong talking to GitHub, or with the input.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GITHUB_TOKEN is not set (or empty): the comment needs a token")]
    MissingToken,
    #[error("invalid --repo {0:?}: expected OWNER/NAME")]
    InvalidRepo(String),
    #[error("invalid API base {0:?} (GITHUB_API_URL)")]
    InvalidApiUrl(String),
    #[error("invalid --head-sha {0:?}: expected 40 hexadecimal digits")]
    InvalidSha(String),
    #[error("cannot read the comment body {path}: {source}")]
    Body {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the comment body is empty")]
    EmptyBody,
    #[error(
        "the comment body has {chars} characters; GitHub accepts at most {MAX_BODY_CHARS} \
         (the renderer must truncate the details)"
    )]
    BodyTooLong { chars: usize },
    #[error(
        "--labels needs a verdict: pass --verdict or put {VERDICT_MARKER_PREFIX}pass --> \
         (or fail) in the body"
    )]
    NoVerdict,
    #[error(
        "--status needs --head-sha: a commit status belongs to the commit that was reviewed, \
         never to whatever the PR's head is by the time this runs"
    )]
    StatusWithoutSha,
    #[error("invalid --status context {0:?}: 1 to 100 printable ASCII characters")]
    InvalidStatusContext(String),
    #[error(
        "GitHub refused {method} {path} with 403 Forbidden ({message}). The token cannot write \
         to this pull request: give the job `permissions: pull-requests: write`, and note that \
         a `pull_request` run from a fork only ever gets a read-only token (comment from a \
         `workflow_run` workflow instead)"
    )]
    Forbidden {
        method: Method,
        path: String,
        message: String,
    },
    #[error("GitHub answered {status} to {method} {path} (after {attempts} attempt(s)): {message}")]
    Status {
        method: Method,
        path: String,
        status: StatusCode,
        attempts: u32,
        message: String,
    },
    #[error("GitHub rate-limits {method} {path} for {wait_secs} s, longer than this command waits")]
    RateLimited {
        method: Method,
        path: String,
        wait_secs: u64,
    },
    #[error("{method} {path} timed out after {secs} s (after {attempts} attempt(s))")]
    Timeout {
        method: Method,
        path: String,
        secs: u64,
        attempts: u32,
    },
    #[error("{method} {path} failed (after {attempts} attempt(s)): {source}")]
    Transport {
        method: Method,
        path: String,
        attempts: u32,
        source: Box<octocrab::Error>,
    },
    #[error("unexpected answer to {method} {path}: {detail}")]
    Decode {
        method: Method,
        path: String,
        detail: String,
    },
    #[error("the next-page link {0:?} leaves the API base; not followed")]
    ForeignLink(String),
    #[error("more than {MAX_PAGES} pages of comments; giving up")]
    TooManyPages,
}

impl GithubError {
    /// True when the input was wrong (exit 2) rather than GitHub or the network (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            GithubError::MissingToken
                | GithubError::InvalidRepo(_)
                | GithubError::InvalidApiUrl(_)
                | GithubError::InvalidSha(_)
                | GithubError::Body { .. }
                | GithubError::EmptyBody
                | GithubError::BodyTooLong { .. }
                | GithubError::NoVerdict
                | GithubError::StatusWithoutSha
                | GithubError::InvalidStatusContext(_)
        )
    }

    /// Worth another try: a server error, a rate limit or the network.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            GithubError::Status { status, .. } => status.is_server_error(),
            GithubError::Timeout { .. } | GithubError::Transport { .. } => true,
            _ => false,
        }
    }
}

/// How often and how patiently requests are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub base_delay: Duration,
    /// Longest single wait; a rate limit asking for more fails at once.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// Where and as whom to talk to GitHub.
#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// API base, e.g. `https://api.github.com`.
    pub api_url: String,
    pub token: String,
    pub retry: RetryPolicy,
}

impl GithubConfig {
    /// From `GITHUB_TOKEN` and `GITHUB_API_URL` (default [`DEFAULT_API_URL`]).
    pub fn from_env() -> Result<GithubConfig, GithubError> {
        let token = std::env::var("GITHUB_TOKEN")
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .ok_or(GithubError::MissingToken)?;
        let api_url = std::env::var("GITHUB_API_URL")
            .ok()
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_API_URL.to_string());
        Ok(GithubConfig {
            api_url,
            token,
            retry: RetryPolicy::default(),
        })
    }
}
