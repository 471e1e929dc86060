//! What the responder saw on each connection to it, as its API serves it (JSON) and checkers
//! read it. Every string in it came from a peer: shortened and stripped of control characters
//! by the responder, and escaped again by whatever shows it.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Which listener a connection came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListenerKind {
    /// `domain`: STARTTLS offered.
    Tls,
    /// `plain_domain`: no TLS offered.
    Plain,
}

/// One inbound connection to the responder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    /// Increasing, unique per responder process.
    pub id: u64,
    pub listener: Option<ListenerKind>,
    /// The peer's IP address.
    pub peer: String,
    /// Unix time in milliseconds.
    pub started_ms: u64,
    /// The `from` and `to` of the peer's first stream header.
    pub stream_from: Option<String>,
    pub stream_to: Option<String>,
    /// The TLS session, when the peer negotiated one.
    pub tls: Option<TlsSeen>,
    /// Why a TLS handshake failed (for example: the peer refused our certificate).
    pub tls_error: Option<String>,
    /// The peer sent `<starttls/>` on the plain listener, where none was offered: it insists on
    /// TLS (Prosody with `s2s_require_encryption` does so).
    pub starttls_unoffered: bool,
    /// The peer's own `<db:result/>` (it authenticates its outgoing stream to us).
    pub results: Vec<ResultSeen>,
    /// The peer's `<db:verify/>` requests: the dial-back proper.
    pub verifies: Vec<VerifySeen>,
    pub end: Option<End>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSeen {
    /// `TLS 1.3`, `TLS 1.2` (`crate::check::tls::version_name`, as endpoints are reported).
    pub version: String,
    pub cipher: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultSeen {
    pub from: String,
    pub to: String,
    /// Sent over TLS.
    pub secure: bool,
    /// What we answered: `valid` (we relay nothing, so vouching for the peer's own stream
    /// costs nothing) or `invalid`.
    pub answered: String,
    pub at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifySeen {
    /// The receiving server (the target).
    pub from: String,
    /// The probe domain it asks about.
    pub to: String,
    /// The stream id.
    pub id: String,
    /// The key's nonce, when the key was in our format (valid or not).
    pub nonce: Option<String>,
    /// Sent over TLS.
    pub secure: bool,
    /// `valid` or `invalid`.
    pub answered: String,
    /// Why, in words: "minted by a checker", "forged", "expired", "replayed", "malformed".
    pub reason: String,
    pub at_ms: u64,
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    pub at_ms: u64,
    /// `peer-closed` (`</stream:stream>` or EOF), `stream-error`, `reset`, `idle`, `limit`,
    /// `protocol`, `tls` (the handshake failed: see `tls_error`), `shutdown`.
    pub how: String,
    /// The stream error condition and text, or what went wrong, shortened.
    pub detail: Option<String>,
}

/// The API's answer to `GET /v1/connections`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observations {
    pub connections: Vec<ConnectionRecord>,
    /// The responder's clock, Unix milliseconds (checkers compare it with their own).
    pub now_ms: u64,
}

impl ConnectionRecord {
    /// Whether this connection came from `domain`: its stream header or a dialback names it.
    pub fn concerns(&self, domain: &str) -> bool {
        let eq = |s: &str| s.eq_ignore_ascii_case(domain);
        self.stream_from.as_deref().is_some_and(eq)
            || self.verifies.iter().any(|v| eq(&v.from))
            || self.results.iter().any(|r| eq(&r.from))
    }

    /// The `<db:verify/>` carrying the key with `nonce`, if any.
    pub fn verify_of(&self, nonce: &str) -> Option<&VerifySeen> {
        self.verifies
            .iter()
            .find(|v| v.nonce.as_deref() == Some(nonce))
    }
}

/// Unix time in milliseconds: the clock of every `*_ms` field here, for the responder and the
/// checkers alike.
pub fn unix_ms_now() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}
