//! Reading a server's first answer to a hello: TLS records and the ServerHello, SSL 2.0
//! messages, alerts, and the classification of the answer into a posture outcome.
//!
//! The parser ([`parse_reply`]) never panics: it only indexes through bounds-checked helpers.

use crate::check::posture::Offer;
use crate::check::posture::hello::{suite_name, version_name};
use crate::report::PostureOutcome;

/// What the first bytes from a server say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Not enough bytes yet to tell.
    NeedMore,
    /// A TLS ServerHello (version after any supported_versions extension).
    ServerHello { version: u16, suite: u16 },
    /// An SSL 2.0 SERVER-HELLO.
    Sslv2ServerHello { version: u16 },
    /// An SSL 2.0 ERROR message.
    Sslv2Error { code: u16 },
    /// A TLS alert.
    Alert { level: u8, description: u8 },
    /// The server answered in XML.
    Xml,
    /// Anything else.
    Malformed(String),
}

/// A bounds-checked reader over a byte slice.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).and_then(|s| s.first().copied())
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|s| u16::from_be_bytes([s[0], s[1]]))
    }
    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
}

/// Largest TLS record body a peer may send (2^14 + 2048, RFC 5246 §6.2.3).
const MAX_RECORD: usize = 16384 + 2048;

/// Classifies the first bytes a server sent in answer to a hello. Never panics.
pub fn parse_reply(bytes: &[u8]) -> Reply {
    let Some(&first) = bytes.first() else {
        return Reply::NeedMore;
    };
    match first {
        0x16 | 0x15 => parse_tls_records(bytes),
        b if b & 0x80 != 0 => parse_sslv2(bytes),
        b'<' => Reply::Xml,
        b' ' | b'\t' | b'\r' | b'\n' => match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            None => Reply::NeedMore,
            Some(b'<') => Reply::Xml,
            Some(b) => Reply::Malformed(format!("not TLS: text starting with byte 0x{b:02x}")),
        },
        b => Reply::Malformed(format!("not TLS: first byte 0x{b:02x}")),
    }
}

fn parse_sslv2(bytes: &[u8]) -> Reply {
    let mut c = Cursor::new(bytes);
    let Some(header) = c.u16() else {
        return Reply::NeedMore;
    };
    let len = usize::from(header & 0x7fff);
    if len == 0 {
        return Reply::Malformed("empty SSL 2.0 record".into());
    }
    match c.u8() {
        None => Reply::NeedMore,
        Some(4) => {
            // SERVER-HELLO: session-id-hit, certificate type, server version, ...
            let (Some(_hit), Some(_cert_type), Some(version)) = (c.u8(), c.u8(), c.u16()) else {
                return Reply::NeedMore;
            };
            if len < 11 {
                return Reply::Malformed("SSL 2.0 SERVER-HELLO too short".into());
            }
            Reply::Sslv2ServerHello { version }
        }
        Some(0) => match c.u16() {
            Some(code) => Reply::Sslv2Error { code },
            None => Reply::NeedMore,
        },
        Some(t) => Reply::Malformed(format!("SSL 2.0 record of unexpected type {t}")),
    }
}

fn parse_tls_records(bytes: &[u8]) -> Reply {
    let mut c = Cursor::new(bytes);
    // Handshake bytes gathered across records (a ServerHello may be fragmented).
    let mut handshake: Vec<u8> = Vec::new();
    loop {
        if c.remaining() == 0 {
            return Reply::NeedMore;
        }
        let (Some(kind), Some(version), Some(len)) = (c.u8(), c.u16(), c.u16()) else {
            return Reply::NeedMore;
        };
        let len = usize::from(len);
        if version >> 8 != 3 {
            return Reply::Malformed(format!("TLS record with version 0x{version:04x}"));
        }
        if len > MAX_RECORD {
            return Reply::Malformed(format!("TLS record of {len} bytes"));
        }
        match kind {
            0x15 => {
                return match (c.u8(), c.u8()) {
                    (Some(level), Some(description)) => Reply::Alert { level, description },
                    _ if len < 2 => Reply::Malformed("TLS alert record too short".into()),
                    _ => Reply::NeedMore,
                };
            }
            0x16 => {
                let available = len.min(c.remaining());
                let Some(payload) = c.take(available) else {
                    return Reply::NeedMore;
                };
                handshake.extend_from_slice(payload);
                if let Some(reply) = parse_handshake(&handshake) {
                    return reply;
                }
                if available < len {
                    return Reply::NeedMore;
                }
                if handshake.len() > MAX_RECORD {
                    return Reply::Malformed("oversized handshake message".into());
                }
            }
            k => {
                return Reply::Malformed(format!("TLS record of type {k} before the ServerHello"));
            }
        }
    }
}

/// `Some` once the first handshake message is complete (or proven wrong).
fn parse_handshake(hs: &[u8]) -> Option<Reply> {
    let mut c = Cursor::new(hs);
    let kind = c.u8()?;
    if kind != 2 {
        return Some(Reply::Malformed(format!(
            "handshake message of type {kind} instead of a ServerHello"
        )));
    }
    let len = c.take(3)?;
    let len = (usize::from(len[0]) << 16) | (usize::from(len[1]) << 8) | usize::from(len[2]);
    let body = c.take(len)?;
    Some(parse_server_hello(body))
}

fn parse_server_hello(body: &[u8]) -> Reply {
    let bad = |what: &str| Reply::Malformed(format!("truncated or malformed ServerHello ({what})"));
    let mut c = Cursor::new(body);
    let Some(mut version) = c.u16() else {
        return bad("version");
    };
    if c.take(32).is_none() {
        return bad("random");
    }
    let Some(sid_len) = c.u8() else {
        return bad("session id");
    };
    if sid_len > 32 || c.take(usize::from(sid_len)).is_none() {
        return bad("session id");
    }
    let Some(suite) = c.u16() else {
        return bad("cipher suite");
    };
    if c.u8().is_none() {
        return bad("compression");
    }
    if c.remaining() > 0 {
        let Some(ext_len) = c.u16() else {
            return bad("extensions");
        };
        let Some(exts) = c.take(usize::from(ext_len)) else {
            return bad("extensions");
        };
        let mut e = Cursor::new(exts);
        while e.remaining() > 0 {
            let (Some(kind), Some(len)) = (e.u16(), e.u16()) else {
                return bad("extension header");
            };
            let Some(data) = e.take(usize::from(len)) else {
                return bad("extension data");
            };
            // supported_versions in a ServerHello: the version actually selected.
            if kind == 0x002b {
                match Cursor::new(data).u16() {
                    Some(v) => version = v,
                    None => return bad("supported_versions"),
                }
            }
        }
    }
    Reply::ServerHello { version, suite }
}

/// The name of a TLS alert description.
pub fn alert_name(description: u8) -> String {
    let name = match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        47 => "illegal_parameter",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        120 => "no_application_protocol",
        d => return format!("alert {d}"),
    };
    name.into()
}

/// Outcome, selected suite and a sentence, for a classified reply to `offer`.
pub fn classify(offer: Offer, reply: &Reply) -> (PostureOutcome, Option<String>, String) {
    let asked = offer.version();
    let asked_name = version_name(asked);
    match reply {
        Reply::ServerHello { version, suite } if offer == Offer::Sslv2 => (
            PostureOutcome::Refused,
            None,
            format!(
                "the server answered the SSL 2.0 hello with a {} ServerHello ({}): SSL 2.0 itself is refused",
                version_name(*version),
                suite_name(*suite)
            ),
        ),
        Reply::ServerHello { version, suite } if *version == asked => (
            PostureOutcome::Accepted,
            Some(suite_name(*suite)),
            format!(
                "the server accepted {asked_name} and selected {}",
                suite_name(*suite)
            ),
        ),
        Reply::ServerHello { version, suite } if *version < asked => (
            PostureOutcome::Refused,
            None,
            format!(
                "the server answered with {} ({}): {asked_name} refused",
                version_name(*version),
                suite_name(*suite)
            ),
        ),
        Reply::ServerHello { version, .. } => (
            PostureOutcome::Error,
            None,
            format!(
                "the server answered {asked_name} with {}, higher than offered (broken server)",
                version_name(*version)
            ),
        ),
        Reply::Sslv2ServerHello { .. } if offer == Offer::Sslv2 => (
            PostureOutcome::Accepted,
            None,
            "the server accepted SSL 2.0 (SERVER-HELLO)".into(),
        ),
        Reply::Sslv2ServerHello { .. } => (
            PostureOutcome::Error,
            None,
            format!("the server answered {asked_name} with an SSL 2.0 SERVER-HELLO"),
        ),
        Reply::Sslv2Error { code } => (
            PostureOutcome::Refused,
            None,
            format!("the server refused {asked_name} with SSL 2.0 error 0x{code:04x}"),
        ),
        Reply::Alert { level, description } => (
            PostureOutcome::Refused,
            None,
            format!(
                "the server refused {asked_name} with a {} alert ({})",
                if *level == 2 { "fatal" } else { "warning" },
                alert_name(*description)
            ),
        ),
        Reply::Xml => (
            PostureOutcome::Error,
            None,
            format!("the server answered the {asked_name} hello in XML, not TLS"),
        ),
        Reply::Malformed(why) => (
            PostureOutcome::Error,
            None,
            format!("unreadable answer to the {asked_name} hello: {why}"),
        ),
        Reply::NeedMore => (
            PostureOutcome::Inconclusive,
            None,
            format!("incomplete answer to the {asked_name} hello"),
        ),
    }
}
