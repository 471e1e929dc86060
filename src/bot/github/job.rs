//! `manifesto comment`, step by step: check the input before any request, skip a stale head,
//! create or update the sticky comment, set the verdict label. The command prints between the
//! steps; [`post_comment`] runs them all.

use std::path::PathBuf;
use std::time::Duration;

use super::client::Client;
use super::comments::Upsert;
use super::helpers::{RepoName, effective_verdict, is_commit_sha, prepare_body};
use super::labels::verdict_labels;
use super::{GithubConfig, GithubError};
use crate::report::Verdict;

/// What `manifesto comment` is asked to do.
#[derive(Debug, Clone)]
pub struct CommentOptions {
    /// Repository of the pull request, `OWNER/NAME`.
    pub repo: String,
    /// Pull request number.
    pub pr: u64,
    /// Markdown body of the comment (at most [`MAX_BODY_CHARS`](super::MAX_BODY_CHARS)
    /// characters).
    pub body_file: PathBuf,
    /// Also set the verdict label and remove the other one.
    pub labels: bool,
    /// Verdict for the label, combined with the body's verdict markers.
    pub verdict: Option<Verdict>,
    /// Login of the bot whose comment is updated; comments by anyone else are never edited.
    pub bot_login: String,
    /// Write nothing unless the PR's head is still this commit (40 hex digits).
    pub head_sha: Option<String>,
    /// Timeout of each HTTP request, in seconds (at least 1).
    pub timeout: u64,
    /// Also set a commit status with this context (e.g. `manifesto/review`) on `head_sha`:
    /// success for pass, failure for fail, error for inconclusive.
    pub status: Option<String>,
}

/// A checked `manifesto comment`: the body is read and prepared, the client built.
pub struct CommentJob {
    client: Client,
    repo: RepoName,
    pr: u64,
    body: String,
    bot_login: String,
    head_sha: Option<String>,
    /// The verdict to label with; `None` when no label is asked for.
    label: Option<Verdict>,
    /// The commit status to set: context, verdict, reviewed head.
    status: Option<(String, Verdict, String)>,
}

/// What [`post_comment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commented {
    /// The PR's head moved on from `head_sha` (now `current`): nothing was written.
    Stale { current: String },
    /// The comment was created or updated, and labelled when asked to.
    Posted {
        upsert: Upsert,
        label: Option<&'static str>,
        /// The commit status set: its state (`success`, `failure`, `error`).
        status: Option<&'static str>,
    },
}

impl CommentJob {
    /// Checks the options and reads the body; no request is made. Input errors come first, in
    /// this order: repository, head SHA, body, verdict, API base.
    pub fn new(opts: &CommentOptions, config: &GithubConfig) -> Result<CommentJob, GithubError> {
        let repo: RepoName = opts.repo.parse()?;
        if let Some(sha) = &opts.head_sha
            && !is_commit_sha(sha)
        {
            return Err(GithubError::InvalidSha(sha.clone()));
        }
        let raw = std::fs::read_to_string(&opts.body_file).map_err(|source| GithubError::Body {
            path: opts.body_file.clone(),
            source,
        })?;
        let body = prepare_body(&raw)?;
        let verdict = effective_verdict(opts.verdict, &body);
        if (opts.labels || opts.status.is_some()) && verdict.is_none() {
            return Err(GithubError::NoVerdict);
        }
        let status = match (&opts.status, &opts.head_sha, verdict) {
            (None, ..) => None,
            (Some(_), None, _) => return Err(GithubError::StatusWithoutSha),
            (Some(context), Some(sha), Some(v)) => {
                if context.is_empty()
                    || context.len() > 100
                    || !context.bytes().all(|b| b.is_ascii_graphic())
                {
                    return Err(GithubError::InvalidStatusContext(context.clone()));
                }
                Some((context.clone(), v, sha.to_ascii_lowercase()))
            }
            (Some(_), Some(_), None) => return Err(GithubError::NoVerdict),
        };
        let client = Client::new(
            &config.api_url,
            &config.token,
            Duration::from_secs(opts.timeout.max(1)),
            config.retry,
        )?;
        Ok(CommentJob {
            client,
            repo,
            pr: opts.pr,
            body,
            bot_login: opts.bot_login.clone(),
            head_sha: opts.head_sha.clone(),
            label: verdict.filter(|_| opts.labels),
            status,
        })
    }

    /// The PR's current head when it is no longer `head_sha`; `None` when it still is, or when
    /// no `head_sha` was given.
    pub async fn moved_on(&self) -> Result<Option<String>, GithubError> {
        let Some(expected) = &self.head_sha else {
            return Ok(None);
        };
        let current = self.client.pull_head_sha(&self.repo, self.pr).await?;
        Ok((!current.eq_ignore_ascii_case(expected)).then_some(current))
    }

    /// Creates or updates the sticky comment.
    pub async fn upsert(&self) -> Result<Upsert, GithubError> {
        self.client
            .upsert_comment(&self.repo, self.pr, &self.bot_login, &self.body)
            .await
    }

    /// Sets the commit status on the reviewed head when asked to; the state set.
    pub async fn status(&self) -> Result<Option<&'static str>, GithubError> {
        let Some((context, verdict, sha)) = &self.status else {
            return Ok(None);
        };
        let state = status_state(*verdict);
        self.client
            .set_status(
                &self.repo,
                sha,
                state,
                context,
                &status_description(*verdict),
            )
            .await?;
        Ok(Some(state))
    }

    /// Sets the verdict label when asked to; the label added.
    pub async fn label(&self) -> Result<Option<&'static str>, GithubError> {
        let Some(verdict) = self.label else {
            return Ok(None);
        };
        let (add, remove) = verdict_labels(verdict);
        self.client
            .swap_labels(&self.repo, self.pr, add, remove)
            .await?;
        Ok(Some(add))
    }
}

/// `manifesto comment` without the printing: see the module documentation of
/// [`crate::bot::github`].
pub async fn post_comment(
    opts: &CommentOptions,
    config: &GithubConfig,
) -> Result<Commented, GithubError> {
    let job = CommentJob::new(opts, config)?;
    if let Some(current) = job.moved_on().await? {
        return Ok(Commented::Stale { current });
    }
    let upsert = job.upsert().await?;
    let label = job.label().await?;
    let status = job.status().await?;
    Ok(Commented::Posted {
        upsert,
        label,
        status,
    })
}

/// The commit state for a verdict: only a pass is success (branch protection can require it).
pub fn status_state(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "success",
        Verdict::Fail | Verdict::NoService => "failure",
        Verdict::Inconclusive => "error",
    }
}

fn status_description(verdict: Verdict) -> String {
    match verdict {
        Verdict::Pass => "verified: every file and domain of this commit passed".into(),
        Verdict::Fail => "needs work: see the bot's comment".into(),
        Verdict::Inconclusive => "inconclusive: see the bot's comment".into(),
        Verdict::NoService => "needs work: a domain serves no XMPP".into(),
    }
}
