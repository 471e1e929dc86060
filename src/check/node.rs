//! The client of a check service (`manifesto serve`, docs/node.md): `--node URL` runs the check
//! there and uses its report as if it were local.
//!
//! Why: a GitHub runner has no IPv6 route and cannot be dialled back, so a review or sweep run
//! there sees only half of a dual-stack domain and cannot prove s2s enforcement with the
//! dialback responder. A service on a dual-stack host with a responder sees all of it.
//!
//! The protocol (`crate::serve::model`): `POST {node}/api/v1/checks` `{"domain": D}` answers
//! 202 with a queued or running check (or 200 with a fresh stored result), then
//! `GET {node}/api/v1/checks/{id}` until it is done or aborted. 429 carries `Retry-After`.
//! Every wait is bounded by one overall deadline; every answer by [`MAX_BODY`].
//!
//! Trust: the service is trusted to check honestly (the user chose it), not to answer for
//! anything else: a report for another domain than the one asked for is refused.

use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use tokio::time::Instant;

use crate::check::http::{self as web, percent_encode};
use crate::report::{
    Coverage, CoverageStatus, Report, Requirement, RequirementId, SCHEMA, Status, Verdict,
};
use crate::serve::model::{ApiErrorBody, CheckRequest, CheckResource, CheckState};

/// The largest answer read: a report with many endpoints and their evidence can be big.
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// Added to the check's own deadline for the whole wait on the service: the check may queue
/// behind others there before it runs, and its answer has to travel back.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// The longest `Retry-After` obeyed at once; a longer one is waited in steps of this (still
/// within the deadline).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Polling starts at this interval and doubles up to [`POLL_MAX`]: a fresh or quick check is
/// seen at once, a long one does not cost a request every quarter second.
const POLL_FIRST: Duration = Duration::from_millis(250);
const POLL_MAX: Duration = Duration::from_secs(2);

/// Failed polls in a row (connection lost, timeout, 5xx) before giving up: one lost poll is no
/// reason to lose a check that is still running.
const POLL_FAILURES: u32 = 3;

/// The environment variable that holds the service's token (optional: it raises the limits).
pub const TOKEN_ENV: &str = "MANIFESTO_NODE_TOKEN";

/// A check service's base URL: `http://` or `https://`, a host, maybe a path; no query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeUrl(String);

impl NodeUrl {
    /// Checks the URL's form (the service is not asked anything yet).
    pub fn parse(input: &str) -> Result<NodeUrl, NodeError> {
        let invalid = |why: &str| NodeError::Url(input.to_owned(), why.to_owned());
        let uri: http::Uri = input.parse().map_err(|_| invalid("not a URL"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(invalid("it must start with http:// or https://")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("it names no host"));
        }
        // Credentials in the URL would be printed in every report that names the service:
        // the token goes in MANIFESTO_NODE_TOKEN instead.
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(invalid(&format!(
                "it must not hold credentials (put the token in {TOKEN_ENV})"
            )));
        }
        if uri.query().is_some() {
            return Err(invalid("it must not have a query"));
        }
        Ok(NodeUrl(input.trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for NodeUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why the service gave no report. Each message ends with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("{0:?} is not the URL of a check service: {1}")]
    Url(String, String),
    #[error("cannot reach it: {0} (is the URL right and the service running?)")]
    Unreachable(String),
    #[error("it did not answer within {0:?} (--timeout; is the service overloaded?)")]
    Timeout(Duration),
    #[error(
        "it refused the token (HTTP {0}): is {TOKEN_ENV} one of the service's tokens? Without \
         a token the public limits apply"
    )]
    Unauthorized(u16),
    #[error("it refused the request (HTTP {status}): {}", api_text(.error, .hint))]
    Rejected {
        status: u16,
        error: String,
        hint: Option<String>,
    },
    #[error(
        "its limits allow no check before the deadline (HTTP 429, retry after {0} s): try again \
         later, or ask its operator for a token ({TOKEN_ENV})"
    )]
    RateLimited(u64),
    #[error("it answered HTTP {status}: {}", api_text(.error, .hint))]
    Status {
        status: u16,
        error: String,
        hint: Option<String>,
    },
    #[error("it answered something unreadable: {0} (is the URL that of a check service?)")]
    Body(String),
    #[error("its check was aborted: {0} (the service may have restarted; try again)")]
    Aborted(String),
    #[error(
        "its check was not done within {0:?} (--deadline, plus {margin} s for its queue): the \
         service is busy; try again later",
        margin = DEADLINE_MARGIN.as_secs()
    )]
    Deadline(Duration),
    #[error("its check is done but has no report (a bug in the service)")]
    NoReport,
    #[error(
        "it answered for {answered:?} when asked about {asked:?}: a service cannot answer for \
         another domain"
    )]
    WrongDomain { asked: String, answered: String },
    #[error("its report has schema {0:?}, not {SCHEMA} (is the service of another version?)")]
    Schema(String),
}

fn api_text(error: &str, hint: &Option<String>) -> String {
    let error = crate::text::neutralize(error);
    match hint {
        Some(hint) => format!("{error} ({})", crate::text::neutralize(hint)),
        None => error.into_owned(),
    }
}

/// A client of one check service.
#[derive(Clone)]
pub struct NodeClient {
    url: NodeUrl,
    token: Option<String>,
    /// Per request.
    timeout: Duration,
    /// For a whole check, from the POST to the report.
    wait: Duration,
    /// Built on first use: a failure belongs to a check (inconclusive).
    client: web::LazyClient,
}

impl std::fmt::Debug for NodeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("NodeClient")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("timeout", &self.timeout)
            .field("wait", &self.wait)
            .finish()
    }
}

/// One answer of the API: its status, its `Retry-After` in seconds, and its body.
struct Answer {
    status: http::StatusCode,
    retry_after: Option<u64>,
    body: Bytes,
}

impl NodeClient {
    /// A client of the service at `url`; `token`, when given, is sent as a bearer token;
    /// `timeout` bounds each request. The whole wait is bounded by
    /// [`crate::check::DEFAULT_DEADLINE`] plus [`DEADLINE_MARGIN`] unless [`Self::with_wait`]
    /// says otherwise.
    pub fn new(url: NodeUrl, token: Option<String>, timeout: Duration) -> NodeClient {
        NodeClient {
            url,
            token: token.filter(|t| !t.trim().is_empty()),
            timeout,
            wait: crate::check::DEFAULT_DEADLINE + DEADLINE_MARGIN,
            client: Default::default(),
        }
    }

    /// The bound on a whole check, from the POST to the report.
    pub fn with_wait(mut self, wait: Duration) -> NodeClient {
        self.wait = wait;
        self
    }

    pub fn url(&self) -> &NodeUrl {
        &self.url
    }

    /// The service's report of `domain` (normalised), checked that it is for that domain.
    pub async fn check(&self, domain: &str) -> Result<Report, NodeError> {
        let deadline = Instant::now() + self.wait;
        let mut resource = self.submit(domain, deadline).await?;
        let mut interval = POLL_FIRST;
        let mut failures = 0;
        loop {
            match resource.state {
                CheckState::Done => return self.report_of(domain, resource),
                CheckState::Aborted => {
                    let why = resource.error.unwrap_or_else(|| "no reason given".into());
                    return Err(NodeError::Aborted(
                        crate::text::neutralize(&why).into_owned(),
                    ));
                }
                CheckState::Queued | CheckState::Running => {}
            }
            if Instant::now() + interval > deadline {
                return Err(NodeError::Deadline(self.wait));
            }
            tokio::time::sleep(interval).await;
            interval = (interval * 2).min(POLL_MAX);
            match self.poll(&resource.id, deadline).await {
                Ok(next) => {
                    failures = 0;
                    resource = next;
                }
                Err(e @ (NodeError::Unreachable(_) | NodeError::Timeout(_)))
                | Err(e @ NodeError::Status { .. }) => {
                    failures += 1;
                    if failures >= POLL_FAILURES {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `POST /api/v1/checks`, waiting out 429s within the deadline.
    async fn submit(&self, domain: &str, deadline: Instant) -> Result<CheckResource, NodeError> {
        let body = serde_json::to_vec(&CheckRequest {
            domain: domain.to_owned(),
        })
        .map_err(|e| NodeError::Body(e.to_string()))?;
        let url = format!("{}/api/v1/checks", self.url);
        let answer = self
            .until_admitted(deadline, || self.request(http::Method::POST, &url, &body))
            .await?;
        self.resource(answer)
    }

    /// `GET /api/v1/checks/{id}`, waiting out 429s within the deadline.
    async fn poll(&self, id: &str, deadline: Instant) -> Result<CheckResource, NodeError> {
        let url = format!("{}/api/v1/checks/{}", self.url, percent_encode(id));
        let answer = self
            .until_admitted(deadline, || self.request(http::Method::GET, &url, &[]))
            .await?;
        self.resource(answer)
    }

    /// Repeats a request while the service answers 429, as long as its `Retry-After` (capped at
    /// [`MAX_RETRY_AFTER`]) ends before the deadline.
    async fn until_admitted<F, Fut>(
        &self,
        deadline: Instant,
        mut request: F,
    ) -> Result<Answer, NodeError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Answer, NodeError>>,
    {
        loop {
            let answer = request().await?;
            if answer.status != http::StatusCode::TOO_MANY_REQUESTS {
                return Ok(answer);
            }
            // No Retry-After (or an HTTP date, which a clock skew makes unreliable): a second.
            let asked = answer.retry_after.unwrap_or(1);
            let wait = Duration::from_secs(asked).min(MAX_RETRY_AFTER);
            if Instant::now() + wait > deadline {
                return Err(NodeError::RateLimited(asked));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// A check resource from a 200 or 202; any other status is an error with the API's words.
    fn resource(&self, answer: Answer) -> Result<CheckResource, NodeError> {
        let status = answer.status.as_u16();
        if answer.status.is_success() {
            return serde_json::from_slice(&answer.body)
                .map_err(|e| NodeError::Body(e.to_string()));
        }
        let api: Option<ApiErrorBody> = serde_json::from_slice(&answer.body).ok();
        let (error, hint) = match api {
            Some(api) => (api.error, api.hint),
            None => (
                answer
                    .status
                    .canonical_reason()
                    .unwrap_or("no reason")
                    .to_owned(),
                None,
            ),
        };
        Err(match answer.status {
            http::StatusCode::UNAUTHORIZED | http::StatusCode::FORBIDDEN => {
                NodeError::Unauthorized(status)
            }
            s if s.is_client_error() => NodeError::Rejected {
                status,
                error,
                hint,
            },
            _ => NodeError::Status {
                status,
                error,
                hint,
            },
        })
    }

    /// The report of a done check, if it is one of `domain`.
    fn report_of(&self, domain: &str, resource: CheckResource) -> Result<Report, NodeError> {
        let report = resource.report.ok_or(NodeError::NoReport)?;
        if report.schema != SCHEMA {
            return Err(NodeError::Schema(
                crate::text::neutralize(&report.schema).into_owned(),
            ));
        }
        if report.domain != domain || resource.domain != domain {
            let answered = if report.domain != domain {
                report.domain
            } else {
                resource.domain
            };
            return Err(NodeError::WrongDomain {
                asked: domain.to_owned(),
                answered: crate::text::neutralize(&answered).into_owned(),
            });
        }
        Ok(report)
    }

    /// One request, bounded by the timeout and [`MAX_BODY`].
    async fn request(
        &self,
        method: http::Method,
        url: &str,
        body: &[u8],
    ) -> Result<Answer, NodeError> {
        match tokio::time::timeout(self.timeout, self.exchange(method, url, body)).await {
            Ok(answer) => answer,
            Err(_) => Err(NodeError::Timeout(self.timeout)),
        }
    }

    async fn exchange(
        &self,
        method: http::Method,
        url: &str,
        body: &[u8],
    ) -> Result<Answer, NodeError> {
        let unreachable = |e: &dyn std::fmt::Display| NodeError::Unreachable(e.to_string());
        let client = self.client.get().await.map_err(|e| unreachable(&e))?;
        let mut request = http::Request::builder()
            .method(method)
            .uri(url)
            .header(http::header::USER_AGENT, web::USER_AGENT)
            .header(http::header::ACCEPT, "application/json");
        if !body.is_empty() {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        if let Some(token) = &self.token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| unreachable(&e))?;
        let response = web::send(client, request)
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = web::read_body(response, MAX_BODY)
            .await
            .map_err(|e| NodeError::Body(e.to_string()))?;
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }
}

/// The report of a check the service could not do: inconclusive, every requirement of a check
/// inconclusive with the reason, nothing seen. Never a pass or a fail: those come only from a
/// real check.
pub fn unchecked_report(domain: &str, url: &NodeUrl, error: &NodeError, took: Duration) -> Report {
    let summary = format!("the check service at {url} could not check it: {error}");
    let requirements = RequirementId::CHECK
        .into_iter()
        .map(|id| {
            let requirement = Requirement {
                status: Status::Inconclusive,
                summary: summary.clone(),
                basis: None,
                fix: None,
                evidence: vec![],
            };
            (id, requirement)
        })
        .collect();
    Report {
        schema: SCHEMA.into(),
        domain: domain.to_owned(),
        verdict: Verdict::Inconclusive,
        checked_at: time::OffsetDateTime::now_utc(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        requirements,
        advisories: vec![],
        discovery: vec![],
        endpoints: vec![],
        software: None,
        coverage: Some(Coverage {
            status: CoverageStatus::Nothing,
            summary: format!("nothing was checked: {summary}"),
            families: vec![],
            not_checked: vec![],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert_eq!(
            NodeUrl::parse("https://check.example.org/")
                .unwrap()
                .as_str(),
            "https://check.example.org"
        );
        assert_eq!(
            NodeUrl::parse("http://127.0.0.1:8080/node")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080/node"
        );
        for bad in [
            "check.example.org",
            "ftp://check.example.org",
            "https://",
            "https://check.example.org/?x=1",
            "https://user:secret@check.example.org",
            "",
        ] {
            assert!(NodeUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_unchecked_report_is_inconclusive_everywhere() {
        let url = NodeUrl::parse("https://check.example.org").unwrap();
        let error = NodeError::Aborted("shutdown".into());
        let report = unchecked_report("example.org", &url, &error, Duration::ZERO);
        assert_eq!(report.verdict, Verdict::Inconclusive);
        assert_eq!(report.requirements.len(), RequirementId::CHECK.len());
        for requirement in report.requirements.values() {
            assert_eq!(requirement.status, Status::Inconclusive);
            assert!(
                requirement
                    .summary
                    .starts_with("the check service at https://check.example.org could not check it: its check was aborted: shutdown"),
                "{}",
                requirement.summary
            );
        }
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let url = NodeUrl::parse("https://check.example.org").unwrap();
        let client = NodeClient::new(url, Some("s3cret".into()), Duration::from_secs(1));
        assert!(!format!("{client:?}").contains("s3cret"));
    }
}
