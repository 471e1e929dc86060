//! TLS posture: what a server still ACCEPTS, beyond what rustls negotiates.
//!
//! rustls speaks only TLS 1.2/1.3 with forward-secret AEAD suites, so a successful handshake says
//! nothing about SSLv2, SSLv3, TLS 1.0/1.1 or static-RSA key exchange. Each probe here opens ONE
//! fresh connection (after `<proceed/>` for STARTTLS, from the first byte for Direct TLS), sends
//! one hand-built ClientHello (or runs a rustls handshake pinned to one version), reads the
//! first bytes of the answer within a deadline and a byte cap, and classifies them. All probes of
//! an endpoint run concurrently (see [`run_posture`]).
//!
//! The parser ([`parse_reply`]) never panics: it only indexes through bounds-checked helpers.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use rand::Rng;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::check::context::Context;
use crate::check::xml::StreamEvent;
use crate::check::xmpp::{Header, NS_TLS, XmppError, XmppStream};
use crate::report::{Endpoint, ErrorKind, Mode, PostureOutcome, PostureProbe, Service, Status};

/// Most bytes read from a server in answer to a hand-built hello.
pub const MAX_REPLY: usize = 4096;
/// Most bytes of the answer kept (as hex) in the report.
pub const MAX_RECEIVED_HEX_BYTES: usize = 256;
/// Most bytes of what was sent kept (as hex) for the rustls probes (their hello is bigger).
const MAX_SENT_HEX_BYTES: usize = 1024;
/// Upper bound of the wait for the first answer to a hello (the step timeout if shorter): a
/// server that accepts answers at once, so a long wait only delays a check.
const MAX_REPLY_WAIT: Duration = Duration::from_secs(5);

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

    pub fn from_name(name: &str) -> Option<Offer> {
        Offer::ALL.into_iter().find(|o| o.name() == name)
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

pub const SSL2: u16 = 0x0002;
pub const SSL3: u16 = 0x0300;
pub const TLS10: u16 = 0x0301;
pub const TLS11: u16 = 0x0302;
pub const TLS12: u16 = 0x0303;
pub const TLS13: u16 = 0x0304;

/// A protocol version's usual name.
pub fn version_name(v: u16) -> String {
    match v {
        SSL2 => "SSL 2.0".into(),
        SSL3 => "SSL 3.0".into(),
        TLS10 => "TLS 1.0".into(),
        TLS11 => "TLS 1.1".into(),
        TLS12 => "TLS 1.2".into(),
        TLS13 => "TLS 1.3".into(),
        other => format!("version 0x{other:04x}"),
    }
}

/// Static-RSA suites (no forward secrecy), in the order of §6 of the research notes.
pub const STATIC_RSA_SUITES: [u16; 7] = [0x009c, 0x009d, 0x003c, 0x003d, 0x002f, 0x0035, 0x000a];

/// Forward-secret TLS 1.2 suites (ECDHE, then DHE).
pub const FS_TLS12_SUITES: [u16; 21] = [
    0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc023, 0xc027, 0xc024, 0xc028, 0xc009, 0xc013,
    0xc00a, 0xc014, 0x009e, 0x009f, 0xccaa, 0x0067, 0x006b, 0x0033, 0x0039,
];

/// Suites usable with SSL 3.0 .. TLS 1.1 (CBC/RC4, forward-secret first), wide on purpose: the
/// question is whether the version is accepted at all.
pub const LEGACY_SUITES: [u16; 13] = [
    0xc014, 0xc013, 0xc00a, 0xc009, 0x0039, 0x0033, 0x0035, 0x002f, 0xc012, 0x0016, 0x000a, 0x0005,
    0x0004,
];

/// SSL 2.0 cipher kinds (3 bytes each).
const SSL2_CIPHER_KINDS: [[u8; 3]; 7] = [
    [0x07, 0x00, 0xc0], // DES_192_EDE3_CBC_WITH_MD5
    [0x05, 0x00, 0x80], // IDEA_128_CBC_WITH_MD5
    [0x03, 0x00, 0x80], // RC2_128_CBC_WITH_MD5
    [0x01, 0x00, 0x80], // RC4_128_WITH_MD5
    [0x06, 0x00, 0x40], // DES_64_CBC_WITH_MD5
    [0x04, 0x00, 0x80], // RC2_128_CBC_EXPORT40_WITH_MD5
    [0x02, 0x00, 0x80], // RC4_128_EXPORT40_WITH_MD5
];

/// The IANA name of a TLS cipher suite, or its number.
pub fn suite_name(suite: u16) -> String {
    let name = match suite {
        0x0004 => "TLS_RSA_WITH_RC4_128_MD5",
        0x0005 => "TLS_RSA_WITH_RC4_128_SHA",
        0x000a => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x0016 => "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
        0x002f => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0033 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x0039 => "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        0x003c => "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x003d => "TLS_RSA_WITH_AES_256_CBC_SHA256",
        0x0067 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
        0x006b => "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
        0x009c => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009d => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x009e => "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0x009f => "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0xc009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xc00a => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xc012 => "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        0xc013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xc014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xc023 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xc024 => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        0xc027 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xc028 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xccaa => "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        other => return format!("0x{other:04X}"),
    };
    name.into()
}

/// Whether a suite (by IANA name, as rustls or [`suite_name`] gives it) is forward-secret.
/// TLS 1.3 suites always are.
pub fn name_is_forward_secret(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    n.contains("DHE_")
        || n.starts_with("TLS13_")
        || (n.starts_with("TLS_AES_"))
        || n == "TLS_CHACHA20_POLY1305_SHA256"
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_len16(out: &mut Vec<u8>, len: usize) {
    put_u16(out, u16::try_from(len).unwrap_or(u16::MAX));
}

/// An extension: type, 2-byte length, data.
fn extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    put_u16(out, kind);
    put_len16(out, data.len());
    out.extend_from_slice(data);
}

/// A name fit for SNI: an ASCII host name, not an IP address.
fn sni_name(name: &str) -> Option<&str> {
    let name = name.trim_end_matches('.');
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.parse::<std::net::IpAddr>().is_err()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    ok.then_some(name)
}

/// A TLS-record ClientHello (SSL 3.0 .. TLS 1.2) for `offer`, with SNI `sni`, the
/// supported_groups, ec_point_formats and renegotiation_info extensions, signature_algorithms
/// for TLS 1.2, and no supported_versions. `None` for the SSLv2 and rustls offers.
pub fn client_hello(offer: Offer, sni: &str, random: &[u8; 32]) -> Option<Vec<u8>> {
    let suites: Vec<u16> = match offer {
        Offer::Sslv3 | Offer::Tls10 | Offer::Tls11 => LEGACY_SUITES.to_vec(),
        Offer::Tls12StaticRsa => STATIC_RSA_SUITES.to_vec(),
        Offer::Tls12RsaPreferred => STATIC_RSA_SUITES
            .iter()
            .chain(FS_TLS12_SUITES.iter())
            .copied()
            .collect(),
        Offer::Tls12FsFirst => FS_TLS12_SUITES
            .iter()
            .chain(STATIC_RSA_SUITES.iter())
            .copied()
            .collect(),
        Offer::Sslv2 | Offer::Tls12 | Offer::Tls13 => return None,
    };
    let version = offer.version();
    // The record layer says SSL 3.0 for an SSL 3.0 hello, TLS 1.0 otherwise (as OpenSSL does:
    // some servers reject a hello whose record version is above TLS 1.0).
    let record_version = if version == SSL3 { SSL3 } else { TLS10 };

    let mut body = Vec::with_capacity(256);
    put_u16(&mut body, version);
    body.extend_from_slice(random);
    body.push(0); // empty session id
    put_len16(&mut body, suites.len() * 2);
    for s in &suites {
        put_u16(&mut body, *s);
    }
    body.extend_from_slice(&[1, 0]); // compression: null only

    let mut ext = Vec::with_capacity(128);
    if let Some(name) = sni_name(sni) {
        let mut list = vec![0u8]; // host_name
        put_len16(&mut list, name.len());
        list.extend_from_slice(name.as_bytes());
        let mut data = Vec::new();
        put_len16(&mut data, list.len());
        data.extend_from_slice(&list);
        extension(&mut ext, 0x0000, &data);
    }
    // supported_groups: x25519, secp256r1, secp384r1, secp521r1
    let groups: [u16; 4] = [0x001d, 0x0017, 0x0018, 0x0019];
    let mut data = Vec::new();
    put_len16(&mut data, groups.len() * 2);
    for g in groups {
        put_u16(&mut data, g);
    }
    extension(&mut ext, 0x000a, &data);
    // ec_point_formats: uncompressed
    extension(&mut ext, 0x000b, &[1, 0]);
    if version == TLS12 {
        let algs: [u16; 11] = [
            0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201,
        ];
        let mut data = Vec::new();
        put_len16(&mut data, algs.len() * 2);
        for a in algs {
            put_u16(&mut data, a);
        }
        extension(&mut ext, 0x000d, &data);
    }
    // renegotiation_info, empty (initial handshake)
    extension(&mut ext, 0xff01, &[0]);
    put_len16(&mut body, ext.len());
    body.extend_from_slice(&ext);

    let mut handshake = Vec::with_capacity(body.len() + 4);
    handshake.push(1); // client_hello
    let len = u32::try_from(body.len()).unwrap_or(0).to_be_bytes();
    handshake.extend_from_slice(&len[1..]);
    handshake.extend_from_slice(&body);

    let mut record = Vec::with_capacity(handshake.len() + 5);
    record.push(0x16);
    put_u16(&mut record, record_version);
    put_len16(&mut record, handshake.len());
    record.extend_from_slice(&handshake);
    Some(record)
}

/// The classic SSL 2.0 CLIENT-HELLO with a 2-byte record header, SSL 2.0 cipher kinds only.
pub fn sslv2_client_hello(challenge: &[u8; 16]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(64);
    msg.push(1); // CLIENT-HELLO
    put_u16(&mut msg, SSL2);
    put_len16(&mut msg, SSL2_CIPHER_KINDS.len() * 3);
    put_u16(&mut msg, 0); // session id length
    put_len16(&mut msg, challenge.len());
    for kind in SSL2_CIPHER_KINDS {
        msg.extend_from_slice(&kind);
    }
    msg.extend_from_slice(challenge);
    let len = u16::try_from(msg.len()).unwrap_or(0) & 0x7fff;
    let mut record = Vec::with_capacity(msg.len() + 2);
    put_u16(&mut record, 0x8000 | len);
    record.extend_from_slice(&msg);
    record
}

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

fn hex_capped(bytes: &[u8], cap: usize) -> String {
    hex::encode(&bytes[..bytes.len().min(cap)])
}

/// Runs every posture probe of one endpoint, concurrently, one fresh connection each.
pub async fn run_posture(
    ctx: &Context<'_>,
    service: Service,
    mode: Mode,
    addr: SocketAddr,
) -> Vec<PostureProbe> {
    futures::future::join_all(
        Offer::ALL
            .into_iter()
            .map(|offer| run_probe(ctx, service, mode, addr, offer)),
    )
    .await
}

/// Runs one posture probe on its own connection.
pub async fn run_probe(
    ctx: &Context<'_>,
    service: Service,
    mode: Mode,
    addr: SocketAddr,
    offer: Offer,
) -> PostureProbe {
    let mut probe = PostureProbe {
        offer: offer.name().into(),
        outcome: PostureOutcome::Error,
        selected_suite: None,
        sent_hex: String::new(),
        received_hex: String::new(),
        detail: None,
    };
    let io = match open_transport(ctx, service, mode, addr).await {
        Ok(io) => io,
        Err(e) => {
            probe.detail = Some(format!("the probe could not run: {e}"));
            return probe;
        }
    };
    if offer.hand_built() {
        raw_probe(ctx, io, offer, &mut probe).await;
    } else {
        rustls_probe(ctx, io, service, mode, offer, &mut probe).await;
    }
    probe
}

/// A connection ready for a TLS hello: after `<proceed/>` for STARTTLS, fresh for Direct TLS.
async fn open_transport(
    ctx: &Context<'_>,
    service: Service,
    mode: Mode,
    addr: SocketAddr,
) -> Result<TcpStream, String> {
    let tcp = ctx.connect(addr).await.map_err(|e| e.to_string())?;
    if mode == Mode::DirectTls {
        return Ok(tcp);
    }
    let mut stream = XmppStream::new(tcp, ctx.timeout, ctx.limits);
    let header = Header {
        service,
        to: ctx.domain,
        from: (service == Service::S2s).then_some(ctx.s2s_from),
    };
    stream.open(&header).await.map_err(|e| e.to_string())?;
    stream
        .send(&format!("<starttls xmlns='{NS_TLS}'/>"))
        .await
        .map_err(|e| e.to_string())?;
    match stream.next("the answer to <starttls/>").await {
        Ok(StreamEvent::Element(e, _)) if e.is(NS_TLS, "proceed") => {}
        Ok(StreamEvent::Element(e, _)) => {
            return Err(format!(
                "<starttls/> was answered with <{}/>",
                XmppError::short(&e.name)
            ));
        }
        Ok(_) => return Err("<starttls/> was not answered with <proceed/>".into()),
        Err(e) => return Err(e.to_string()),
    }
    stream.into_transport().map_err(|e| e.to_string())
}

fn reply_wait(ctx: &Context<'_>) -> Duration {
    ctx.timeout.min(MAX_REPLY_WAIT)
}

/// How reading an answer ended.
enum ReadEnd {
    Classified(Reply),
    Eof,
    Reset(String),
    Silence,
    Full,
}

/// Reads until the answer can be classified, the peer closes, the deadline or the byte cap.
async fn read_reply<S: AsyncRead + Unpin>(io: &mut S, wait: Duration) -> (Vec<u8>, ReadEnd) {
    let deadline = tokio::time::Instant::now() + wait;
    let mut received = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let room = MAX_REPLY.saturating_sub(received.len()).min(chunk.len());
        if room == 0 {
            return (received, ReadEnd::Full);
        }
        let n = match tokio::time::timeout_at(deadline, io.read(&mut chunk[..room])).await {
            Err(_) => return (received, ReadEnd::Silence),
            Ok(Err(e)) => return (received, ReadEnd::Reset(e.to_string())),
            Ok(Ok(0)) => return (received, ReadEnd::Eof),
            Ok(Ok(n)) => n,
        };
        received.extend_from_slice(chunk.get(..n).unwrap_or_default());
        match parse_reply(&received) {
            Reply::NeedMore => {}
            reply => return (received, ReadEnd::Classified(reply)),
        }
    }
}

/// Sends a hand-built hello and classifies the answer.
async fn raw_probe(ctx: &Context<'_>, mut io: TcpStream, offer: Offer, probe: &mut PostureProbe) {
    let hello = if offer == Offer::Sslv2 {
        sslv2_client_hello(&rand::rng().random::<[u8; 16]>())
    } else {
        match client_hello(offer, ctx.domain, &rand::rng().random::<[u8; 32]>()) {
            Some(h) => h,
            None => {
                probe.detail = Some("no hand-built hello for this offer".into());
                return;
            }
        }
    };
    let write = async {
        io.write_all(&hello).await?;
        io.flush().await
    };
    match tokio::time::timeout(ctx.timeout, write).await {
        Ok(Ok(())) => probe.sent_hex = hex::encode(&hello),
        Ok(Err(e)) => {
            // Closed before we could even send: the server will not talk TLS with us here.
            probe.outcome = PostureOutcome::Refused;
            probe.detail = Some(format!(
                "the connection was closed while sending the hello: {e}"
            ));
            return;
        }
        Err(_) => {
            probe.outcome = PostureOutcome::Inconclusive;
            probe.detail = Some("timed out sending the hello".into());
            return;
        }
    }
    let (received, end) = read_reply(&mut io, reply_wait(ctx)).await;
    probe.received_hex = hex_capped(&received, MAX_RECEIVED_HEX_BYTES);
    let asked = version_name(offer.version());
    let (outcome, suite, detail) = match end {
        ReadEnd::Classified(reply) => classify(offer, &reply),
        ReadEnd::Eof if received.is_empty() => (
            PostureOutcome::Refused,
            None,
            format!("the server closed the connection in answer to the {asked} hello"),
        ),
        ReadEnd::Eof => (
            PostureOutcome::Refused,
            None,
            format!(
                "the server closed the connection after {} bytes of an incomplete answer to the {asked} hello",
                received.len()
            ),
        ),
        ReadEnd::Reset(e) => (
            PostureOutcome::Refused,
            None,
            format!("the server reset the connection in answer to the {asked} hello ({e})"),
        ),
        ReadEnd::Silence if received.is_empty() => (
            PostureOutcome::Inconclusive,
            None,
            format!(
                "no answer to the {asked} hello within {:?}",
                reply_wait(ctx)
            ),
        ),
        ReadEnd::Silence => (
            PostureOutcome::Inconclusive,
            None,
            format!("incomplete answer to the {asked} hello before the deadline"),
        ),
        ReadEnd::Full => (
            PostureOutcome::Error,
            None,
            format!("no ServerHello in the first {MAX_REPLY} bytes"),
        ),
    };
    probe.outcome = outcome;
    probe.selected_suite = suite;
    probe.detail = Some(detail);
    let _ = tokio::time::timeout(Duration::from_millis(200), io.shutdown()).await;
}

/// Accepts any certificate and signature: a posture probe only asks which protocol the server
/// accepts; the certificate is judged on the main session.
#[derive(Debug)]
struct AcceptAnything(Vec<SignatureScheme>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.clone()
    }
}

fn pinned_config(offer: Offer, alpn: Option<&[u8]>) -> Result<Arc<ClientConfig>, String> {
    let provider = crate::check::tls::provider();
    let schemes = provider
        .signature_verification_algorithms
        .supported_schemes();
    let version: &'static rustls::SupportedProtocolVersion = if offer == Offer::Tls13 {
        &rustls::version::TLS13
    } else {
        &rustls::version::TLS12
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnything(schemes)))
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    if let Some(alpn) = alpn {
        config.alpn_protocols = vec![alpn.to_vec()];
    }
    Ok(Arc::new(config))
}

/// The first bytes each way of a connection, for the report.
#[derive(Default)]
struct Recorded {
    sent: Vec<u8>,
    received: Vec<u8>,
}

struct Recorder<S> {
    inner: S,
    log: Arc<Mutex<Recorded>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorder<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll
            && let Ok(mut log) = this.log.lock()
        {
            let new = buf.filled().get(before..).unwrap_or_default();
            let room = MAX_RECEIVED_HEX_BYTES.saturating_sub(log.received.len());
            log.received.extend_from_slice(&new[..new.len().min(room)]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorder<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll
            && let Ok(mut log) = this.log.lock()
        {
            let written = buf.get(..n).unwrap_or_default();
            let room = MAX_SENT_HEX_BYTES.saturating_sub(log.sent.len());
            log.sent
                .extend_from_slice(&written[..written.len().min(room)]);
        }
        poll
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A rustls handshake pinned to one version (TLS 1.2 or 1.3).
async fn rustls_probe(
    ctx: &Context<'_>,
    io: TcpStream,
    service: Service,
    mode: Mode,
    offer: Offer,
    probe: &mut PostureProbe,
) {
    let alpn: Option<&[u8]> = match (mode, service) {
        (Mode::DirectTls, Service::C2s) => Some(b"xmpp-client"),
        (Mode::DirectTls, Service::S2s) => Some(b"xmpp-server"),
        _ => None,
    };
    let config = match pinned_config(offer, alpn) {
        Ok(c) => c,
        Err(e) => {
            probe.detail = Some(format!("TLS configuration: {e}"));
            return;
        }
    };
    let name = match ServerName::try_from(ctx.domain.to_owned()) {
        Ok(n) => n,
        Err(_) => {
            probe.detail = Some(format!("invalid server name {}", ctx.domain));
            return;
        }
    };
    let log = Arc::new(Mutex::new(Recorded::default()));
    let recorder = Recorder {
        inner: io,
        log: log.clone(),
    };
    let connector = tokio_rustls::TlsConnector::from(config);
    let result = tokio::time::timeout(ctx.timeout, connector.connect(name, recorder)).await;
    if let Ok(log) = log.lock() {
        probe.sent_hex = hex::encode(&log.sent);
        probe.received_hex = hex::encode(&log.received);
    }
    let asked = version_name(offer.version());
    let received_xml = probe.received_hex.starts_with("3c");
    let (outcome, suite, detail) = match result {
        Err(_) => (
            PostureOutcome::Inconclusive,
            None,
            format!(
                "the {asked} handshake did not finish within {:?}",
                ctx.timeout
            ),
        ),
        Ok(Ok(mut tls)) => {
            let (_, conn) = tls.get_ref();
            let suite = conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()));
            let version = conn.protocol_version().map(u16::from);
            let _ = tokio::time::timeout(Duration::from_millis(200), tls.shutdown()).await;
            if version == Some(offer.version()) {
                (
                    PostureOutcome::Accepted,
                    suite.clone(),
                    format!(
                        "a full {asked} handshake succeeded with {}",
                        suite.as_deref().unwrap_or("an unknown suite")
                    ),
                )
            } else {
                (
                    PostureOutcome::Error,
                    None,
                    format!("the handshake ended on {version:?}, not {asked}"),
                )
            }
        }
        Ok(Err(_)) if received_xml => (
            PostureOutcome::Error,
            None,
            format!("the server answered the {asked} hello in XML, not TLS"),
        ),
        Ok(Err(e)) => {
            let refused = e
                .get_ref()
                .and_then(|i| i.downcast_ref::<rustls::Error>())
                .map(|r| format!("{r}"))
                .unwrap_or_else(|| e.to_string());
            (
                PostureOutcome::Refused,
                None,
                format!("the {asked} handshake failed: {refused}"),
            )
        }
    };
    probe.outcome = outcome;
    probe.selected_suite = suite;
    probe.detail = Some(detail);
}

// ---------------------------------------------------------------------------------------------
// Grading

fn find(ep: &Endpoint, offer: Offer) -> Option<&PostureProbe> {
    ep.posture.iter().find(|p| p.offer == offer.name())
}

fn outcome(ep: &Endpoint, offer: Offer) -> Option<PostureOutcome> {
    find(ep, offer).map(|p| p.outcome)
}

fn accepted(ep: &Endpoint, offer: Offer) -> bool {
    outcome(ep, offer) == Some(PostureOutcome::Accepted)
}

/// Whether the probe got as far as sending its hello.
fn ran(p: &PostureProbe) -> bool {
    !p.sent_hex.is_empty()
}

fn list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn pretty(offer: Offer) -> &'static str {
    match offer {
        Offer::Sslv2 => "SSLv2",
        Offer::Sslv3 => "SSLv3",
        Offer::Tls10 => "TLS 1.0",
        Offer::Tls11 => "TLS 1.1",
        Offer::Tls12 => "TLS 1.2",
        Offer::Tls13 => "TLS 1.3",
        Offer::Tls12StaticRsa => "static-RSA TLS 1.2",
        Offer::Tls12RsaPreferred => "RSA-first TLS 1.2",
        Offer::Tls12FsFirst => "FS-first TLS 1.2",
    }
}

/// `modern-tls` for one endpoint from its posture probes: fail if SSLv2/SSLv3 is accepted or
/// nothing >= TLS 1.2 works; warn if TLS 1.0/1.1 is accepted (RFC 8996); pass otherwise.
/// `None` when no posture probe got as far as a hello (the caller judges the session alone).
pub fn judge_modern_tls(ep: &Endpoint) -> Option<(Status, String)> {
    if !ep.posture.iter().any(ran) {
        return None;
    }
    let legacy = [Offer::Sslv2, Offer::Sslv3, Offer::Tls10, Offer::Tls11];
    let accepted_legacy: Vec<&str> = legacy
        .into_iter()
        .filter(|o| accepted(ep, *o))
        .map(pretty)
        .collect();
    let modern: Vec<&str> = [Offer::Tls13, Offer::Tls12]
        .into_iter()
        .filter(|o| accepted(ep, *o))
        .map(pretty)
        .collect();
    let negotiated = ep.tls.as_ref().map(|t| t.version.clone());
    if accepted(ep, Offer::Sslv2) || accepted(ep, Offer::Sslv3) {
        return Some((
            Status::Fail,
            format!(
                "the server still accepts {} (SSLv2 and SSLv3 are broken and prohibited: RFC 6176, RFC 7568)",
                list(&accepted_legacy)
            ),
        ));
    }
    if modern.is_empty() && negotiated.is_none() {
        let refused = |o| outcome(ep, o) == Some(PostureOutcome::Refused);
        if (refused(Offer::Tls12) && refused(Offer::Tls13))
            || ep.error_kind == Some(ErrorKind::TlsIncompatible)
        {
            let only = if accepted_legacy.is_empty() {
                String::new()
            } else {
                format!(" (only {})", list(&accepted_legacy))
            };
            return Some((
                Status::Fail,
                format!("the server accepts neither TLS 1.2 nor TLS 1.3{only}"),
            ));
        }
        let why = find(ep, Offer::Tls12)
            .and_then(|p| p.detail.clone())
            .or_else(|| ep.error.clone())
            .unwrap_or_else(|| "no data".into());
        return Some((
            Status::Inconclusive,
            format!("whether TLS 1.2 or 1.3 works could not be established: {why}"),
        ));
    }
    let modern_words = if modern.is_empty() {
        format!("negotiated {}", negotiated.unwrap_or_default())
    } else {
        format!("accepts {}", list(&modern))
    };
    if !accepted_legacy.is_empty() {
        return Some((
            Status::Warn,
            format!(
                "{modern_words}, but still accepts {} (deprecated by RFC 8996)",
                list(&accepted_legacy)
            ),
        ));
    }
    let unknown: Vec<String> = legacy
        .into_iter()
        .filter_map(|o| find(ep, o).map(|p| (o, p)).or(Some((o, &MISSING))))
        .filter(|(_, p)| !ran(p))
        .map(|(o, p)| {
            format!(
                "{}: {}",
                pretty(o),
                p.detail.as_deref().unwrap_or("not probed")
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Some((
            Status::Inconclusive,
            format!(
                "{modern_words}; the legacy protocols could not all be probed ({})",
                unknown.join("; ")
            ),
        ));
    }
    let silent: Vec<&str> = legacy
        .into_iter()
        .filter(|o| {
            !matches!(
                outcome(ep, *o),
                Some(PostureOutcome::Refused) | Some(PostureOutcome::Accepted)
            )
        })
        .map(pretty)
        .collect();
    let note = if silent.is_empty() {
        String::new()
    } else {
        format!(
            " ({} got no TLS answer, counted as not accepted)",
            list(&silent)
        )
    };
    Some((
        Status::Pass,
        format!("{modern_words}; SSLv2, SSLv3, TLS 1.0 and TLS 1.1 are not accepted{note}"),
    ))
}

static MISSING: PostureProbe = PostureProbe {
    offer: String::new(),
    outcome: PostureOutcome::Error,
    selected_suite: None,
    sent_hex: String::new(),
    received_hex: String::new(),
    detail: None,
};

/// `forward-secrecy` for one endpoint from its posture probes. Fail if the server picks a
/// non-forward-secret suite although forward-secret ones are offered (whatever their order), or
/// accepts only non-FS; warn if it accepts non-FS (when only those are offered, or when a client
/// lists them first and the server follows the client's order) but picks FS for a client that
/// prefers it; pass if it refuses non-FS. `None` when no probe ran (the caller judges the
/// session alone).
pub fn judge_forward_secrecy(ep: &Endpoint) -> Option<(Status, String)> {
    let stat = find(ep, Offer::Tls12StaticRsa)?;
    let rsa_first = find(ep, Offer::Tls12RsaPreferred);
    let fs_first = find(ep, Offer::Tls12FsFirst);
    if !ran(stat) && !rsa_first.is_some_and(ran) && !fs_first.is_some_and(ran) {
        return None;
    }
    let pick = |p: Option<&PostureProbe>| {
        p.filter(|p| p.outcome == PostureOutcome::Accepted)
            .and_then(|p| p.selected_suite.clone())
    };
    let (rsa_first_pick, fs_first_pick) = (pick(rsa_first), pick(fs_first));
    let non_fs = |s: &Option<String>| s.as_deref().is_some_and(|s| !name_is_forward_secret(s));
    let fs = |s: &Option<String>| s.as_deref().is_some_and(name_is_forward_secret);
    if non_fs(&fs_first_pick) || (non_fs(&rsa_first_pick) && !fs(&fs_first_pick)) {
        let picked = fs_first_pick
            .clone()
            .filter(|s| !name_is_forward_secret(s))
            .or(rsa_first_pick.clone())
            .unwrap_or_default();
        return Some((
            Status::Fail,
            format!(
                "offered forward-secret and static-RSA suites, the server picked {picked} (no forward secrecy): it prefers static RSA"
            ),
        ));
    }
    let session_fs = ep.tls.as_ref().filter(|t| t.forward_secret).map(|t| {
        format!(
            "negotiated {} with {}",
            t.cipher_suite,
            t.key_exchange.as_deref().unwrap_or("(EC)DHE")
        )
    });
    let fs_shown = if fs(&rsa_first_pick) {
        rsa_first_pick
            .clone()
            .map(|p| format!("it prefers forward secrecy (picks {p} over static RSA)"))
    } else {
        fs_first_pick
            .clone()
            .filter(|p| name_is_forward_secret(p))
            .map(|p| format!("it picks {p} for a client that prefers forward secrecy"))
            .or(session_fs)
    };
    let follows_client = non_fs(&rsa_first_pick).then(|| {
        format!(
            "; it follows the client's order, so a client that lists static RSA first gets {} (no forward secrecy)",
            rsa_first_pick.clone().unwrap_or_default()
        )
    });
    match stat.outcome {
        PostureOutcome::Accepted => {
            let suite = stat
                .selected_suite
                .as_deref()
                .unwrap_or("a static-RSA suite");
            match fs_shown {
                Some(fs) => Some((
                    Status::Warn,
                    format!(
                        "{fs}, but it still accepts {suite} (no forward secrecy) when a client offers only static-RSA suites{}",
                        follows_client.unwrap_or_default()
                    ),
                )),
                None => Some((
                    Status::Fail,
                    format!(
                        "the server accepts {suite} (no forward secrecy) and no forward-secret suite could be negotiated"
                    ),
                )),
            }
        }
        PostureOutcome::Refused => fs_shown.map(|fs| {
            (
                Status::Pass,
                format!("{fs}; static-RSA (non forward-secret) suites are refused"),
            )
        }),
        _ => Some((
            Status::Inconclusive,
            format!(
                "whether static-RSA suites are accepted could not be established: {}",
                stat.detail.as_deref().unwrap_or("no data")
            ),
        )),
    }
}

#[cfg(test)]
mod tests;

type PostureKey = (SocketAddr, Service, Mode);

/// Posture results shared by the checks of one sweep. The protocol versions and suites a
/// server accepts belong to its listening socket, not to the domain asked for, so the many
/// domains one server hosts need them measured once: otherwise a sweep would open nine extra
/// connections per endpoint per domain to the same socket.
#[derive(Debug, Default)]
pub struct PostureCache {
    entries:
        Mutex<std::collections::HashMap<PostureKey, Arc<tokio::sync::OnceCell<Vec<PostureProbe>>>>>,
}

impl PostureCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The posture of `addr` for this service and mode: measured now by the first caller,
    /// awaited by concurrent ones, reused by later ones (whose copies say so in `detail`).
    pub async fn get_or_run(
        &self,
        ctx: &Context<'_>,
        service: Service,
        mode: Mode,
        addr: SocketAddr,
    ) -> Vec<PostureProbe> {
        let cell = {
            let mut entries = match self.entries.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            entries.entry((addr, service, mode)).or_default().clone()
        };
        let mut measured_here = false;
        let probes = cell
            .get_or_init(|| async {
                measured_here = true;
                run_posture(ctx, service, mode, addr).await
            })
            .await
            .clone();
        if measured_here {
            return probes;
        }
        probes
            .into_iter()
            .map(|mut p| {
                let note = "measured once for this address and port during this sweep";
                p.detail = Some(match p.detail {
                    Some(d) => format!("{d} ({note})"),
                    None => note.to_owned(),
                });
                p
            })
            .collect()
    }
}
