//! The checkers' client of the responder's HTTP API: `GET {api_url}v1/connections?from=DOMAIN
//! &since_ms=N` with the bearer token derived from the secret. Bounded in time and size.

use std::time::Duration;

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
        }
    }

    /// The connections that concern `domain` (its stream header or a dialback names it) which
    /// started at or after `since_ms` (Unix milliseconds, the responder's clock).
    pub async fn connections(&self, domain: &str, since_ms: u64) -> Result<Observations, ApiError> {
        let _ = (domain, since_ms, &self.token, self.timeout);
        Err(ApiError::Unreachable(
            self.base.clone(),
            "not implemented yet".into(),
        ))
    }
}
