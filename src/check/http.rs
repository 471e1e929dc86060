//! The one HTTP client of the checker's clients (the dialback responder's API, the check
//! service's API): hyper over rustls with the ring provider and Mozilla's roots (webpki-roots),
//! `http://` allowed too, HTTP/1.1 only. Bounded in size here; bounded in time by the callers,
//! who know their own timeouts and deadlines.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str = concat!("xmpp-manifesto/", env!("CARGO_PKG_VERSION"));

/// A client that speaks `https://` (rustls, ring, webpki roots) and `http://`.
pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Why a request got no answer, or an answer that could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// The TLS setup, the connection or the request failed: nothing was answered.
    #[error("{0}")]
    Request(String),
    /// The answer's body could not be read, or was larger than allowed.
    #[error("{0}")]
    Body(String),
}

/// A new client. Connections are kept alive and reused by the same client.
pub(crate) fn client() -> Result<HttpClient, HttpError> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(crate::check::tls::provider())
        .map_err(|e| HttpError::Request(e.to_string()))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// A client built on first use and shared by its clones, so that connections are kept alive
/// between requests (a poll every few tens of milliseconds must not cost a TLS handshake and a
/// new root store each time). Its construction can fail, and a failure belongs to the request
/// (an unreachable service), not to the command line.
#[derive(Clone, Default)]
pub(crate) struct LazyClient(std::sync::Arc<tokio::sync::OnceCell<HttpClient>>);

impl LazyClient {
    pub(crate) async fn get(&self) -> Result<&HttpClient, HttpError> {
        self.0.get_or_try_init(|| async { client() }).await
    }
}

impl std::fmt::Debug for LazyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LazyClient")
    }
}

/// Sends one request; the answer's body is left to [`read_body`], so that a caller can look at
/// the status first.
pub(crate) async fn send(
    client: &HttpClient,
    request: http::Request<Full<Bytes>>,
) -> Result<http::Response<Incoming>, HttpError> {
    client
        .request(request)
        .await
        .map_err(|e| HttpError::Request(error_chain(&e)))
}

/// The whole body of an answer, at most `max` bytes: a larger one is an error, never truncated
/// (half a JSON document is no document).
pub(crate) async fn read_body(
    response: http::Response<Incoming>,
    max: usize,
) -> Result<Bytes, HttpError> {
    Limited::new(response.into_body(), max)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| HttpError::Body(e.to_string()))
}

/// An error with its causes: hyper's own message ("client error (Connect)") says nothing of
/// why (connection refused, certificate unknown...).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for a query value or a path
/// segment).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            percent_encode("xn--bcher-kva.example"),
            "xn--bcher-kva.example"
        );
        assert_eq!(percent_encode("a&b=c d/é"), "a%26b%3Dc%20d%2F%C3%A9");
    }
}
