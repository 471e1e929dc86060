//! `manifesto comment`: keep the bot's one sticky comment on a signatory pull request, and the
//! verdict label next to it.
//!
//! # Contract
//!
//! - The comment is recognised by [`REVIEW_MARKER`] (`<!-- xmpp-manifesto:review -->`) **and**
//!   by its author being the bot ([`CommentArgs::bot_login`], `github-actions[bot]` by default).
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
use std::process::ExitCode;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::json;

use crate::report::Verdict;

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
const MAX_PAGES: usize = 100;

/// The verdict marker for `verdict`, for renderers of the comment.
pub fn verdict_marker(verdict: Verdict) -> String {
    format!("{VERDICT_MARKER_PREFIX}{} -->", verdict.as_str())
}

/// Arguments of `manifesto comment`.
#[derive(Debug, Clone, clap::Args)]
pub struct CommentArgs {
    /// Repository of the pull request, OWNER/NAME.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: String,
    /// Pull request number.
    #[arg(long, value_name = "N")]
    pub pr: u64,
    /// Markdown body of the comment (at most 65,536 characters).
    #[arg(long, value_name = "FILE")]
    pub body_file: PathBuf,
    /// Also set the verdict label (`manifesto: verified` or `manifesto: needs work`) and remove
    /// the other one.
    #[arg(long)]
    pub labels: bool,
    /// Verdict for the label; combined with the body's `<!-- xmpp-manifesto:verdict=... -->`
    /// marker: only pass + pass gives "verified".
    #[arg(long, value_name = "pass|fail|inconclusive", value_parser = parse_verdict)]
    pub verdict: Option<Verdict>,
    /// Login of the bot whose comment is updated; comments by anyone else are never edited.
    #[arg(long, value_name = "LOGIN", default_value = DEFAULT_BOT_LOGIN)]
    pub bot_login: String,
    /// Write nothing unless the PR's head is still this commit (40 hex digits).
    #[arg(long, value_name = "SHA")]
    pub head_sha: Option<String>,
    /// Timeout of each HTTP request, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
}

fn parse_verdict(s: &str) -> Result<Verdict, String> {
    match s {
        "pass" => Ok(Verdict::Pass),
        "fail" => Ok(Verdict::Fail),
        "inconclusive" => Ok(Verdict::Inconclusive),
        other => Err(format!(
            "unknown verdict {other:?}: expected pass, fail or inconclusive"
        )),
    }
}

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
        )
    }

    /// Worth another try: a server error, a rate limit or the network.
    fn is_transient(&self) -> bool {
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

/// A small GitHub REST client over octocrab: retries, timeouts, and the few calls the bot needs.
pub struct Client {
    octo: Octocrab,
    /// Scheme and authority of the API base, e.g. `https://api.github.com`.
    origin: String,
    retry: RetryPolicy,
    timeout: Duration,
}

/// One response, read whole.
struct Answer {
    headers: HeaderMap,
    body: String,
}

#[derive(Debug, Deserialize)]
struct ApiUser {
    login: String,
}

/// An issue comment as the API lists it.
#[derive(Debug, Deserialize)]
pub struct ApiComment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    user: Option<ApiUser>,
}

impl ApiComment {
    /// Login of the comment's author (`None` for a deleted account).
    pub fn login(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.login.as_str())
    }
}

#[derive(Debug, Deserialize)]
struct ApiPull {
    head: ApiHead,
}

#[derive(Debug, Deserialize)]
struct ApiHead {
    sha: String,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(default)]
    message: String,
}

/// What [`Client::upsert_comment`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Created(u64),
    Updated(u64),
}

impl Client {
    /// A client for the API at `api_url` (no trailing path needed beyond the base).
    pub fn new(
        api_url: &str,
        token: &str,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Client, GithubError> {
        let uri: http::Uri = api_url
            .trim_end_matches('/')
            .parse()
            .map_err(|_| GithubError::InvalidApiUrl(api_url.to_string()))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(GithubError::InvalidApiUrl(api_url.to_string()));
        };
        if scheme != "https" && scheme != "http" {
            return Err(GithubError::InvalidApiUrl(api_url.to_string()));
        }
        let origin = format!("{scheme}://{authority}");
        let octo = Octocrab::builder()
            .base_uri(uri.clone())
            .map_err(|_| GithubError::InvalidApiUrl(api_url.to_string()))?
            .personal_token(token.to_string())
            .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
            .set_connect_timeout(Some(timeout))
            .set_read_timeout(Some(timeout))
            .set_write_timeout(Some(timeout))
            .build()
            .map_err(|e| GithubError::Transport {
                method: Method::GET,
                path: api_url.to_string(),
                attempts: 0,
                source: Box::new(e),
            })?;
        Ok(Client {
            octo,
            origin,
            retry,
            timeout,
        })
    }

    /// One request with retries. `path` is relative to the API base (or an absolute URL on the
    /// same origin, as pagination links are). With `retry_transient` false, 5xx and network
    /// failures are returned at once (for requests that are not idempotent).
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        retry_transient: bool,
    ) -> Result<Answer, GithubError> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome = self.send_once(&method, path, body, attempt).await;
            let wait = match &outcome {
                Ok(_) => return outcome.map_err(Retry::into_error),
                Err(Retry::Fatal(_)) => None,
                Err(Retry::Transient(_)) if retry_transient => Some(self.backoff(attempt)),
                Err(Retry::Transient(_)) => None,
                Err(Retry::RateLimited(_, wait)) => Some(wait.unwrap_or(self.backoff(attempt))),
            };
            let Some(wait) = wait.filter(|_| attempt < self.retry.max_attempts) else {
                return outcome.map_err(Retry::into_error);
            };
            if wait > self.retry.max_delay {
                return Err(GithubError::RateLimited {
                    method,
                    path: path.to_string(),
                    wait_secs: wait.as_secs(),
                });
            }
            if let Err(e) = &outcome {
                eprintln!(
                    "manifesto comment: {}; retrying in {} ms",
                    e.error(),
                    wait.as_millis()
                );
            }
            tokio::time::sleep(wait).await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.retry
            .base_delay
            .saturating_mul(factor)
            .min(self.retry.max_delay)
    }

    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&serde_json::Value>,
        attempts: u32,
    ) -> Result<Answer, Retry> {
        let transport = |source: octocrab::Error| {
            Retry::Transient(GithubError::Transport {
                method: method.clone(),
                path: path.to_string(),
                attempts,
                source: Box::new(source),
            })
        };
        let exchange = async {
            let builder = http::Request::builder()
                .method(method.clone())
                .uri(path)
                .header(http::header::ACCEPT, "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28");
            let request = self
                .octo
                .build_request(builder, body)
                .map_err(|e| Retry::Fatal(self.decode(method, path, e.to_string())))?;
            let response = self.octo.execute(request).await.map_err(transport)?;
            let status = response.status();
            let headers = response.headers().clone();
            let text = self
                .octo
                .body_to_string(response)
                .await
                .map_err(transport)?;
            Ok((status, headers, text))
        };
        let (status, headers, text) = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(Retry::Transient(GithubError::Timeout {
                    method: method.clone(),
                    path: path.to_string(),
                    secs: self.timeout.as_secs(),
                    attempts,
                }));
            }
        };
        if status.is_success() {
            return Ok(Answer {
                headers,
                body: text,
            });
        }
        let message = serde_json::from_str::<ApiError>(&text)
            .map(|e| e.message)
            .unwrap_or_else(|_| text.chars().take(200).collect());
        let status_error = || GithubError::Status {
            method: method.clone(),
            path: path.to_string(),
            status,
            attempts,
            message: message.clone(),
        };
        if status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN && is_rate_limit(&headers, &message))
        {
            return Err(Retry::RateLimited(
                status_error(),
                rate_limit_wait(&headers),
            ));
        }
        if status == StatusCode::FORBIDDEN {
            return Err(Retry::Fatal(GithubError::Forbidden {
                method: method.clone(),
                path: path.to_string(),
                message,
            }));
        }
        if status.is_server_error() {
            return Err(Retry::Transient(status_error()));
        }
        Err(Retry::Fatal(status_error()))
    }

    fn decode(&self, method: &Method, path: &str, detail: String) -> GithubError {
        GithubError::Decode {
            method: method.clone(),
            path: path.to_string(),
            detail,
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        answer: &Answer,
    ) -> Result<T, GithubError> {
        serde_json::from_str(&answer.body).map_err(|e| self.decode(method, path, e.to_string()))
    }

    /// Every comment of issue or PR `number`, all pages.
    pub async fn list_comments(
        &self,
        repo: &RepoName,
        number: u64,
    ) -> Result<Vec<ApiComment>, GithubError> {
        let mut next = Some(format!(
            "/repos/{}/{}/issues/{number}/comments?per_page=100",
            repo.owner, repo.name
        ));
        let mut all = Vec::new();
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(GithubError::TooManyPages);
            }
            let answer = self.send(Method::GET, &path, None, true).await?;
            let mut page: Vec<ApiComment> = self.parse(&Method::GET, &path, &answer)?;
            all.append(&mut page);
            if let Some(link) = next_link(&answer.headers) {
                if !same_origin(&link, &self.origin) {
                    return Err(GithubError::ForeignLink(link));
                }
                next = Some(link);
            }
        }
        Ok(all)
    }

    /// The bot's review comment among `comments`: marker and author both match; the oldest wins.
    pub fn find_bot_comment<'a>(
        comments: &'a [ApiComment],
        bot_login: &str,
    ) -> Option<&'a ApiComment> {
        comments
            .iter()
            .filter(|c| is_bot_comment(c, bot_login))
            .min_by_key(|c| c.id)
    }

    /// Create the bot's comment, or update the one it already has.
    pub async fn upsert_comment(
        &self,
        repo: &RepoName,
        number: u64,
        bot_login: &str,
        body: &str,
    ) -> Result<Upsert, GithubError> {
        let payload = json!({ "body": body });
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let comments = self.list_comments(repo, number).await?;
            let mine: Vec<&ApiComment> = comments
                .iter()
                .filter(|c| is_bot_comment(c, bot_login))
                .collect();
            if mine.len() > 1 {
                eprintln!(
                    "manifesto comment: {} comments of {bot_login} carry the marker; updating \
                     the oldest",
                    mine.len()
                );
            }
            if let Some(existing) = Self::find_bot_comment(&comments, bot_login) {
                let path = format!(
                    "/repos/{}/{}/issues/comments/{}",
                    repo.owner, repo.name, existing.id
                );
                self.send(Method::PATCH, &path, Some(&payload), true)
                    .await?;
                return Ok(Upsert::Updated(existing.id));
            }
            // Creating is not idempotent: after a failure, look again before retrying, so that
            // a comment that was created after all is updated instead of duplicated.
            let path = format!(
                "/repos/{}/{}/issues/{number}/comments",
                repo.owner, repo.name
            );
            match self.send(Method::POST, &path, Some(&payload), false).await {
                Ok(answer) => {
                    #[derive(Deserialize)]
                    struct Created {
                        id: u64,
                    }
                    let created: Created = self.parse(&Method::POST, &path, &answer)?;
                    return Ok(Upsert::Created(created.id));
                }
                Err(e) if e.is_transient() && attempt < self.retry.max_attempts => {
                    let wait = self.backoff(attempt);
                    eprintln!(
                        "manifesto comment: {e}; looking again in {} ms",
                        wait.as_millis()
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Add `add` to the PR's labels and remove `remove` (absent is fine).
    pub async fn swap_labels(
        &self,
        repo: &RepoName,
        number: u64,
        add: &str,
        remove: &str,
    ) -> Result<(), GithubError> {
        let path = format!("/repos/{}/{}/issues/{number}/labels", repo.owner, repo.name);
        self.send(Method::POST, &path, Some(&json!({ "labels": [add] })), true)
            .await?;
        let path = format!(
            "/repos/{}/{}/issues/{number}/labels/{}",
            repo.owner,
            repo.name,
            encode_path_segment(remove)
        );
        match self.send(Method::DELETE, &path, None, true).await {
            Ok(_) => Ok(()),
            Err(GithubError::Status { status, .. }) if status == StatusCode::NOT_FOUND => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The SHA of the PR's current head commit.
    pub async fn pull_head_sha(&self, repo: &RepoName, number: u64) -> Result<String, GithubError> {
        let path = format!("/repos/{}/{}/pulls/{number}", repo.owner, repo.name);
        let answer = self.send(Method::GET, &path, None, true).await?;
        let pull: ApiPull = self.parse(&Method::GET, &path, &answer)?;
        Ok(pull.head.sha)
    }
}

/// The outcome of one attempt, sorted by what to do next.
enum Retry {
    /// Do not retry.
    Fatal(GithubError),
    /// Server error or network: retry after backoff (idempotent requests only).
    Transient(GithubError),
    /// Rate limit: retry after the wait GitHub asked for, if any.
    RateLimited(GithubError, Option<Duration>),
}

impl Retry {
    fn error(&self) -> &GithubError {
        match self {
            Retry::Fatal(e) | Retry::Transient(e) | Retry::RateLimited(e, _) => e,
        }
    }

    fn into_error(self) -> GithubError {
        match self {
            Retry::Fatal(e) | Retry::Transient(e) | Retry::RateLimited(e, _) => e,
        }
    }
}

fn is_bot_comment(comment: &ApiComment, bot_login: &str) -> bool {
    comment
        .login()
        .is_some_and(|l| l.eq_ignore_ascii_case(bot_login))
        && comment
            .body
            .as_deref()
            .is_some_and(|b| b.contains(REVIEW_MARKER))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// A 403 that is a rate limit rather than a permission problem.
fn is_rate_limit(headers: &HeaderMap, message: &str) -> bool {
    header_str(headers, "retry-after").is_some()
        || header_str(headers, "x-ratelimit-remaining") == Some("0")
        || message.to_ascii_lowercase().contains("rate limit")
}

/// How long GitHub asks us to wait: `retry-after` seconds, else until `x-ratelimit-reset`.
fn rate_limit_wait(headers: &HeaderMap) -> Option<Duration> {
    if let Some(secs) = header_str(headers, "retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    if header_str(headers, "x-ratelimit-remaining") == Some("0") {
        let reset = header_str(headers, "x-ratelimit-reset")?
            .parse::<i64>()
            .ok()?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        return Some(Duration::from_secs(
            u64::try_from(reset - now).unwrap_or(0).max(1),
        ));
    }
    None
}

/// The `rel="next"` target of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = header_str(headers, "link")?;
    link.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        let url = target.strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_string())
    })
}

fn same_origin(url: &str, origin: &str) -> bool {
    url.strip_prefix(origin)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Percent-encode everything but RFC 3986 unreserved characters.
fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `OWNER/NAME`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl std::str::FromStr for RepoName {
    type Err = GithubError;

    fn from_str(s: &str) -> Result<RepoName, GithubError> {
        let bad = || GithubError::InvalidRepo(s.to_string());
        let (owner, name) = s.split_once('/').ok_or_else(bad)?;
        let ok = |part: &str| {
            !part.is_empty()
                && part.len() <= 100
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        if !ok(owner) || !ok(name) {
            return Err(bad());
        }
        Ok(RepoName {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }
}

/// Every verdict marker in `body`, in order.
pub fn body_verdicts(body: &str) -> Vec<Option<Verdict>> {
    body.match_indices(VERDICT_MARKER_PREFIX)
        .map(|(i, _)| {
            let rest = &body[i + VERDICT_MARKER_PREFIX.len()..];
            let value = rest.split("-->").next().unwrap_or("").trim();
            parse_verdict(value).ok()
        })
        .collect()
}

/// The label verdict: `explicit` and every marker in the body must agree on pass; an unknown
/// marker value counts as a failure. `None` when there is no verdict at all.
pub fn effective_verdict(explicit: Option<Verdict>, body: &str) -> Option<Verdict> {
    let mut all: Vec<Option<Verdict>> = body_verdicts(body);
    if let Some(v) = explicit {
        all.push(Some(v));
    }
    if all.is_empty() {
        return None;
    }
    if all.iter().all(|v| *v == Some(Verdict::Pass)) {
        Some(Verdict::Pass)
    } else if all.contains(&Some(Verdict::Inconclusive)) && !all.contains(&Some(Verdict::Fail)) {
        Some(Verdict::Inconclusive)
    } else {
        Some(Verdict::Fail)
    }
}

/// Check and complete a comment body: not empty, marker present, not too long.
pub fn prepare_body(raw: &str) -> Result<String, GithubError> {
    if raw.trim().is_empty() {
        return Err(GithubError::EmptyBody);
    }
    let body = if raw.contains(REVIEW_MARKER) {
        raw.to_string()
    } else {
        format!("{REVIEW_MARKER}\n{raw}")
    };
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(GithubError::BodyTooLong { chars });
    }
    Ok(body)
}

/// Is `s` a full hexadecimal commit SHA (SHA-1, 40 digits)?
pub fn is_commit_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
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

/// `manifesto comment`: see the module documentation. Reads [`GithubConfig::from_env`].
pub async fn run_comment(args: &CommentArgs) -> anyhow::Result<ExitCode> {
    let config = GithubConfig::from_env()?;
    run_comment_with(args, &config).await
}

/// [`run_comment`] with an explicit configuration (tests use a fake API and short waits).
pub async fn run_comment_with(
    args: &CommentArgs,
    config: &GithubConfig,
) -> anyhow::Result<ExitCode> {
    let repo: RepoName = args.repo.parse()?;
    if let Some(sha) = &args.head_sha
        && !is_commit_sha(sha)
    {
        return Err(GithubError::InvalidSha(sha.clone()).into());
    }
    let raw = std::fs::read_to_string(&args.body_file).map_err(|source| GithubError::Body {
        path: args.body_file.clone(),
        source,
    })?;
    let body = prepare_body(&raw)?;
    let verdict = effective_verdict(args.verdict, &body);
    if args.labels && verdict.is_none() {
        return Err(GithubError::NoVerdict.into());
    }
    let client = Client::new(
        &config.api_url,
        &config.token,
        Duration::from_secs(args.timeout.max(1)),
        config.retry,
    )?;

    if let Some(expected) = &args.head_sha {
        let current = client.pull_head_sha(&repo, args.pr).await?;
        if !current.eq_ignore_ascii_case(expected) {
            eprintln!(
                "manifesto comment: PR #{} moved on from {expected} to {current}; not commenting \
                 (the review of the new head will)",
                args.pr
            );
            return Ok(ExitCode::SUCCESS);
        }
    }

    match client
        .upsert_comment(&repo, args.pr, &args.bot_login, &body)
        .await?
    {
        Upsert::Created(id) => println!("created comment {id} on {}#{}", args.repo, args.pr),
        Upsert::Updated(id) => println!("updated comment {id} on {}#{}", args.repo, args.pr),
    }
    if args.labels
        && let Some(verdict) = verdict
    {
        let (add, remove) = if verdict == Verdict::Pass {
            (LABEL_VERIFIED, LABEL_NEEDS_WORK)
        } else {
            (LABEL_NEEDS_WORK, LABEL_VERIFIED)
        };
        client.swap_labels(&repo, args.pr, add, remove).await?;
        println!("labelled {}#{} {add:?}", args.repo, args.pr);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names() {
        assert!("a/b".parse::<RepoName>().is_ok());
        assert!("a-b.c/d_e".parse::<RepoName>().is_ok());
        for bad in [
            "", "a", "/b", "a/", "a/b/c", "../b", "a/..", "a b/c", "a/b?x",
        ] {
            assert!(bad.parse::<RepoName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn verdicts() {
        let pass = verdict_marker(Verdict::Pass);
        let fail = verdict_marker(Verdict::Fail);
        assert_eq!(pass, "<!-- xmpp-manifesto:verdict=pass -->");
        assert_eq!(effective_verdict(None, "x"), None);
        assert_eq!(effective_verdict(None, &pass), Some(Verdict::Pass));
        assert_eq!(
            effective_verdict(Some(Verdict::Pass), &pass),
            Some(Verdict::Pass)
        );
        assert_eq!(
            effective_verdict(Some(Verdict::Fail), &pass),
            Some(Verdict::Fail)
        );
        assert_eq!(
            effective_verdict(Some(Verdict::Pass), &fail),
            Some(Verdict::Fail)
        );
        assert_eq!(
            effective_verdict(None, "<!-- xmpp-manifesto:verdict=yes -->"),
            Some(Verdict::Fail)
        );
        assert_eq!(
            effective_verdict(Some(Verdict::Inconclusive), &pass),
            Some(Verdict::Inconclusive)
        );
    }

    #[test]
    fn bodies() {
        assert!(matches!(prepare_body(" \n"), Err(GithubError::EmptyBody)));
        let b = prepare_body("hello").unwrap();
        assert!(b.starts_with(REVIEW_MARKER));
        let exact = format!(
            "{REVIEW_MARKER}{}",
            "é".repeat(MAX_BODY_CHARS - REVIEW_MARKER.len())
        );
        assert!(prepare_body(&exact).is_ok());
        let over = format!("{exact}x");
        assert!(matches!(
            prepare_body(&over),
            Err(GithubError::BodyTooLong { chars }) if chars == MAX_BODY_CHARS + 1
        ));
    }

    #[test]
    fn links() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            http::HeaderValue::from_static(
                "<https://api.github.com/x?page=2>; rel=\"next\", <https://api.github.com/x?page=5>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/x?page=2")
        );
        assert!(same_origin(
            "https://api.github.com/x?page=2",
            "https://api.github.com"
        ));
        assert!(!same_origin(
            "https://api.github.com.evil/x",
            "https://api.github.com"
        ));
        assert_eq!(
            encode_path_segment("manifesto: needs work"),
            "manifesto%3A%20needs%20work"
        );
        assert!(is_commit_sha(&"a".repeat(40)));
        assert!(!is_commit_sha(&"g".repeat(40)));
    }
}
