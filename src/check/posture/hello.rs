//! Building the hellos of the posture probes: the protocol versions and suites offered, their
//! names, the TLS-record ClientHello (SSL 3.0 .. TLS 1.2) and the SSL 2.0 CLIENT-HELLO.

use crate::check::posture::Offer;

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
