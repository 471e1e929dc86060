//! The checkers' client of the responder's HTTP API: `GET {api_url}v1/connections?from=DOMAIN
//! &since_ms=N` with the bearer token derived from the secret. Bounded in time and size.

use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;

use crate::check::http::{self as web, HttpError, percent_encode};
use crate::check::responder::config::ResponderConfig;
use crate::check::responder::key::Secret;
use crate::check::responder::model::Observations;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the responder's API at {0} cannot be reached: {1}")]
    Unreachable(String, String),
    #[error(
        "the responder's API at {0} refused the token (HTTP 401): is the secret the responder's?"
    )]
    Unauthorized(String),
    #[error("the responder's API at {0} answered HTTP {1}")]
    Status(String, u16),
    #[error("the responder's API at {0} answered something unreadable: {1}")]
    Body(String, String),
    #[error("the responder's API at {0} did not answer within {1:?}")]
    Timeout(String, Duration),
}

/// A client of one responder's API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    token: String,
    timeout: Duration,
    client: web::LazyClient,
}

impl ApiClient {
    pub fn new(config: &ResponderConfig, secret: &Secret, timeout: Duration) -> Self {
        let mut base = config.api_url.clone();
        if !base.ends_with('/') {
            base.push('/');
        }
        ApiClient {
            base,
            token: secret.api_token(),
            timeout,
            client: web::LazyClient::default(),
        }
    }

    /// The connections that concern `domain` (its stream header or a dialback names it) which
    /// started at or after `since_ms` (Unix milliseconds, the responder's clock).
    /// With `nonce`, the records that carry a `<db:verify/>` of that key are in the answer
    /// whatever the responder's cap on records.
    pub async fn connections(
        &self,
        domain: &str,
        since_ms: u64,
        nonce: Option<&str>,
    ) -> Result<Observations, ApiError> {
        let mut url = format!(
            "{}v1/connections?from={}&since_ms={since_ms}",
            self.base,
            percent_encode(domain)
        );
        if let Some(nonce) = nonce {
            url.push_str(&format!("&nonce={}", percent_encode(nonce)));
        }
        match tokio::time::timeout(self.timeout, self.get(&url)).await {
            Ok(result) => result,
            Err(_) => Err(ApiError::Timeout(self.base.clone(), self.timeout)),
        }
    }

    async fn get(&self, url: &str) -> Result<Observations, ApiError> {
        let unreachable =
            |e: &dyn std::fmt::Display| ApiError::Unreachable(self.base.clone(), e.to_string());
        let uri: http::Uri = url.parse().map_err(|e| unreachable(&e))?;
        let client = self.client.get().await.map_err(|e| unreachable(&e))?;
        let request = http::Request::get(uri)
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", self.token),
            )
            .header(http::header::USER_AGENT, web::USER_AGENT)
            .body(Full::new(Bytes::new()))
            .map_err(|e| unreachable(&e))?;
        let response = web::send(client, request)
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        if status == http::StatusCode::UNAUTHORIZED {
            return Err(ApiError::Unauthorized(self.base.clone()));
        }
        if !status.is_success() {
            return Err(ApiError::Status(self.base.clone(), status.as_u16()));
        }
        let body = web::read_body(response, MAX_BODY)
            .await
            .map_err(|e: HttpError| ApiError::Body(self.base.clone(), e.to_string()))?;
        serde_json::from_slice(&body).map_err(|e| ApiError::Body(self.base.clone(), e.to_string()))
    }
}

/// The largest answer read.
const MAX_BODY: usize = 1024 * 1024;
