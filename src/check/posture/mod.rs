//! TLS posture: what a server still ACCEPTS, beyond what rustls negotiates.
//!
//! rustls speaks only TLS 1.2/1.3 with forward-secret AEAD suites, so a successful handshake says
//! nothing about SSLv2, SSLv3, TLS 1.0/1.1 or static-RSA key exchange. Each probe here opens ONE
//! fresh connection (after `<proceed/>` for STARTTLS, from the first byte for Direct TLS), sends
//! one hand-built ClientHello (or runs a rustls handshake pinned to one version), reads the
//! first bytes of the answer within a deadline and a byte cap, and classifies them. All probes of
//! an endpoint run concurrently (see `run::run_posture`).
//!
//! The parser (`reply::parse_reply`) never panics: it only indexes through bounds-checked helpers.
//!
//! The files follow a probe's path: `hello` builds what is sent, `run` opens the connections
//! and reads the answers, `reply` classifies them, and `cache` shares the results of one socket
//! across the checks of a sweep. The judges of these results live with the requirements they
//! decide (`crate::check::grade::modern_tls` and `crate::check::grade::forward_secrecy`).

mod cache;
pub(crate) mod hello;
pub(crate) mod reply;
pub(crate) mod run;

pub use cache::PostureCache;
pub(crate) use hello::name_is_forward_secret;
pub(crate) use run::run_posture;

use hello::{SSL2, SSL3, TLS10, TLS11, TLS12, TLS13};

/// One posture probe: a protocol version, or a TLS 1.2 suite set, offered to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Offer {
    /// The SSL 2.0 CLIENT-HELLO (2-byte header).
    Sslv2,
    Sslv3,
    Tls10,
    Tls11,
    /// rustls, pinned to TLS 1.2.
    Tls12,
    /// rustls, pinned to TLS 1.3.
    Tls13,
    /// A TLS 1.2 hello with only static-RSA (non forward-secret) suites.
    Tls12StaticRsa,
    /// A TLS 1.2 hello with static-RSA suites first, then ECDHE/DHE: the server's pick shows
    /// whether it prefers forward secrecy.
    Tls12RsaPreferred,
    /// The same suites, ECDHE/DHE first: tells a server that follows the client's order (a
    /// static-RSA pick above, a forward-secret one here) from one that prefers static RSA.
    Tls12FsFirst,
}

impl Offer {
    pub const ALL: [Offer; 9] = [
        Offer::Sslv2,
        Offer::Sslv3,
        Offer::Tls10,
        Offer::Tls11,
        Offer::Tls12,
        Offer::Tls13,
        Offer::Tls12StaticRsa,
        Offer::Tls12RsaPreferred,
        Offer::Tls12FsFirst,
    ];

    /// The name in reports (`PostureProbe::offer`).
    pub fn name(self) -> &'static str {
        match self {
            Offer::Sslv2 => "sslv2",
            Offer::Sslv3 => "sslv3",
            Offer::Tls10 => "tls1.0",
            Offer::Tls11 => "tls1.1",
            Offer::Tls12 => "tls1.2",
            Offer::Tls13 => "tls1.3",
            Offer::Tls12StaticRsa => "tls1.2-static-rsa",
            Offer::Tls12RsaPreferred => "tls1.2-rsa-preferred",
            Offer::Tls12FsFirst => "tls1.2-fs-first",
        }
    }

    /// The protocol version asked for, as on the wire.
    pub fn version(self) -> u16 {
        match self {
            Offer::Sslv2 => SSL2,
            Offer::Sslv3 => SSL3,
            Offer::Tls10 => TLS10,
            Offer::Tls11 => TLS11,
            Offer::Tls12
            | Offer::Tls12StaticRsa
            | Offer::Tls12RsaPreferred
            | Offer::Tls12FsFirst => TLS12,
            Offer::Tls13 => TLS13,
        }
    }

    /// Whether the probe is a hand-built hello (else a rustls handshake).
    fn hand_built(self) -> bool {
        !matches!(self, Offer::Tls12 | Offer::Tls13)
    }
}

#[cfg(test)]
mod tests;
