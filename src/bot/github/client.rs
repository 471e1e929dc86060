//! The HTTP core of the GitHub client: one request with a timeout, retries with bounded
//! exponential backoff (5xx, transport errors, secondary rate limits), and pagination that
//! never leaves the API's origin.

use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use octocrab::Octocrab;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::helpers::{header_str, next_link, same_origin};
use super::{GithubError, MAX_PAGES, RetryPolicy};

/// A small GitHub REST client over octocrab: retries, timeouts, and the few calls the bot needs
/// (the sticky comment in `comments.rs`, the labels in `labels.rs`).
pub struct Client {
    octo: Octocrab,
    /// Scheme and authority of the API base, e.g. `https://api.github.com`.
    origin: String,
    pub(super) retry: RetryPolicy,
    timeout: Duration,
}

/// One response, read whole.
pub(super) struct Answer {
    pub(super) headers: HeaderMap,
    pub(super) body: String,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(default)]
    message: String,
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

/// Construction.
impl Client {
    /// A client for the API at `api_url` (no trailing path needed beyond the base).
    pub fn new(
        api_url: &str,
        token: &str,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Client, GithubError> {
        let invalid = || GithubError::InvalidApiUrl(api_url.to_string());
        let uri: http::Uri = api_url
            .trim_end_matches('/')
            .parse()
            .map_err(|_| invalid())?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(invalid());
        };
        if scheme != "https" && scheme != "http" {
            return Err(invalid());
        }
        let origin = format!("{scheme}://{authority}");
        let octo = Octocrab::builder()
            .base_uri(uri.clone())
            .map_err(|_| invalid())?
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
}

/// Requests with retries.
impl Client {
    /// One request with retries. `path` is relative to the API base (or an absolute URL on the
    /// same origin, as pagination links are). With `retry_transient` false, 5xx and network
    /// failures are returned at once (for requests that are not idempotent).
    pub(super) async fn send(
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

    /// The wait before attempt `attempt + 1`: the base delay, doubled each time, capped.
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.retry
            .base_delay
            .saturating_mul(factor)
            .min(self.retry.max_delay)
    }
}

/// Pagination and JSON bodies.
impl Client {
    /// Every item of a paginated list, following `Link: <...>; rel="next"` on the same origin.
    pub(super) async fn get_all_pages<T: DeserializeOwned>(
        &self,
        first: String,
    ) -> Result<Vec<T>, GithubError> {
        let mut next = Some(first);
        let mut all = Vec::new();
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(GithubError::TooManyPages);
            }
            let answer = self.send(Method::GET, &path, None, true).await?;
            let mut page: Vec<T> = self.parse(&Method::GET, &path, &answer)?;
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

    /// The JSON body of `answer`.
    pub(super) fn parse<T: DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        answer: &Answer,
    ) -> Result<T, GithubError> {
        serde_json::from_str(&answer.body).map_err(|e| decode(method, path, e.to_string()))
    }
}

/// One attempt: the exchange under the timeout.
impl Client {
    /// One attempt, sorted by what to do next.
    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&serde_json::Value>,
        attempts: u32,
    ) -> Result<Answer, Retry> {
        let exchange = self.exchange(method, path, body, attempts);
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
        classify(method, path, attempts, status, headers, text)
    }

    /// The request and its whole answer, without a timeout.
    async fn exchange(
        &self,
        method: &Method,
        path: &str,
        body: Option<&serde_json::Value>,
        attempts: u32,
    ) -> Result<(StatusCode, HeaderMap, String), Retry> {
        let transport = |source: octocrab::Error| {
            Retry::Transient(GithubError::Transport {
                method: method.clone(),
                path: path.to_string(),
                attempts,
                source: Box::new(source),
            })
        };
        let builder = http::Request::builder()
            .method(method.clone())
            .uri(path)
            .header(http::header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28");
        let request = self
            .octo
            .build_request(builder, body)
            .map_err(|e| Retry::Fatal(decode(method, path, e.to_string())))?;
        let response = self.octo.execute(request).await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = self
            .octo
            .body_to_string(response)
            .await
            .map_err(transport)?;
        Ok((status, headers, text))
    }
}

/// Sorts an answer: success, rate limit, missing permission, server error, other refusal.
fn classify(
    method: &Method,
    path: &str,
    attempts: u32,
    status: StatusCode,
    headers: HeaderMap,
    text: String,
) -> Result<Answer, Retry> {
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

fn decode(method: &Method, path: &str, detail: String) -> GithubError {
    GithubError::Decode {
        method: method.clone(),
        path: path.to_string(),
        detail,
    }
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
