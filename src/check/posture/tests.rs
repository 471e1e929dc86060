//! Unit tests of the posture probes: the hello builders, the reply parser on bytes recorded from
//! Debian's Prosody 0.12.3 (OpenSSL 3), the classification, and the runner against scripted fake
//! servers. The judges of the results are tested with the requirements they decide
//! (`crate::check::grade`).

use std::net::SocketAddr;
use std::time::Duration;

use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::hello::*;
use super::reply::*;
use super::run::*;
use super::*;
use crate::check::context::Context;
use crate::report::{Mode, PostureOutcome, PostureProbe, Service};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test hex")
}

// Recorded from Prosody 0.12.3 with `ssl = { protocol = "tlsv1+", ciphers =
// "DEFAULT:AES128-SHA:@SECLEVEL=0" }` and an RSA certificate, after <proceed/>.
/// ServerHello to our TLS 1.0 hello (ECDHE-RSA-AES256-SHA, random ends in DOWNGRD\0).
const PROSODY_TLS10_ACCEPT: &str = "160301003902000035030136b572cd3e5ad9cf99a685baa1c38e976f1f5ee8f04218ab444f574e4752440000c01400000dff01000100000b000403000102";
/// The same reply, with the start of the Certificate record that followed it.
const PROSODY_TLS10_ACCEPT_MORE: &str = "160301003902000035030136b572cd3e5ad9cf99a685baa1c38e976f1f5ee8f04218ab444f574e4752440000c01400000dff01000100000b00040300010216030103360b00033200032f00032c3082032830820210a00302010202144b49d9d9ee060526";
/// ServerHello to our static-RSA TLS 1.2 hello (TLS_RSA_WITH_AES_128_GCM_SHA256).
const PROSODY_STATIC_RSA_ACCEPT: &str = "16030300310200002d0303813b073b71110bbb1a2238e5b7b5d2d06c3b72e672de6d33444f574e4752440100009c000005ff01000100";
/// ServerHello to rustls' TLS 1.3 hello (supported_versions = 0x0304, key_share x25519).
const PROSODY_TLS13_ACCEPT: &str = "160303007a020000760303da8247a3ffee6348a5f21f696176c69ec5ab068b946f59c8e1fc28437d8f86512066db1b1cffaec04e8cb3ee5decca5487e5e4f477de15f5b8afc2fc6c84fb95dc130200002e002b0002030400330024001d002062bbba7022788ac94a2b45ef3253fda970316466bdf54dfada8eb7e070b6b270";
/// Fatal alerts from Prosody: protocol_version (to SSLv2 and, in the default config, TLS 1.0/1.1)
/// and handshake_failure (to SSLv3, and to static RSA with an ECDSA certificate).
const PROSODY_ALERT_PROTOCOL_VERSION: &str = "15030300020246";
const PROSODY_ALERT_TLS10_PROTOCOL_VERSION: &str = "15030100020246";
const PROSODY_ALERT_SSL3_HANDSHAKE_FAILURE: &str = "15030000020228";

/// A minimal reader of our own hellos, for the builder tests.
struct Hello {
    record_type: u8,
    record_version: u16,
    client_version: u16,
    suites: Vec<u16>,
    extensions: Vec<(u16, Vec<u8>)>,
}

fn read_hello(bytes: &[u8]) -> Hello {
    let u16at = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
    assert_eq!(usize::from(u16at(3)), bytes.len() - 5, "record length");
    assert_eq!(bytes[5], 1, "client_hello");
    let hs_len =
        (usize::from(bytes[6]) << 16) | (usize::from(bytes[7]) << 8) | usize::from(bytes[8]);
    assert_eq!(hs_len, bytes.len() - 9, "handshake length");
    let client_version = u16at(9);
    let mut i = 9 + 2 + 32;
    assert_eq!(bytes[i], 0, "empty session id");
    i += 1;
    let n = usize::from(u16at(i));
    i += 2;
    let suites = (0..n / 2).map(|k| u16at(i + 2 * k)).collect();
    i += n;
    assert_eq!(&bytes[i..i + 2], &[1, 0], "null compression only");
    i += 2;
    let ext_len = usize::from(u16at(i));
    i += 2;
    assert_eq!(i + ext_len, bytes.len(), "extensions length");
    let mut extensions = Vec::new();
    while i < bytes.len() {
        let kind = u16at(i);
        let len = usize::from(u16at(i + 2));
        extensions.push((kind, bytes[i + 4..i + 4 + len].to_vec()));
        i += 4 + len;
    }
    Hello {
        record_type: bytes[0],
        record_version: u16at(1),
        client_version,
        suites,
        extensions,
    }
}

#[test]
fn hellos_are_well_formed() {
    let random = [7u8; 32];
    for (offer, version, record_version) in [
        (Offer::Sslv3, SSL3, SSL3),
        (Offer::Tls10, TLS10, TLS10),
        (Offer::Tls11, TLS11, TLS10),
        (Offer::Tls12StaticRsa, TLS12, TLS10),
        (Offer::Tls12RsaPreferred, TLS12, TLS10),
        (Offer::Tls12FsFirst, TLS12, TLS10),
    ] {
        let bytes = client_hello(offer, "example.test", &random).expect("hand-built");
        let h = read_hello(&bytes);
        assert_eq!(h.record_type, 0x16);
        assert_eq!(h.record_version, record_version, "{offer:?}");
        assert_eq!(h.client_version, version, "{offer:?}");
        assert_eq!(&bytes[11..43], &random);
        let kinds: Vec<u16> = h.extensions.iter().map(|(k, _)| *k).collect();
        assert!(kinds.contains(&0x0000), "SNI");
        assert!(kinds.contains(&0x000a), "supported_groups");
        assert!(kinds.contains(&0x000b), "ec_point_formats");
        assert!(kinds.contains(&0xff01), "renegotiation_info");
        assert!(!kinds.contains(&0x002b), "no supported_versions");
        assert_eq!(
            kinds.contains(&0x000d),
            version == TLS12,
            "signature_algorithms"
        );
        let sni = &h.extensions.iter().find(|(k, _)| *k == 0).expect("sni").1;
        assert_eq!(&sni[5..], b"example.test");
        let expected: Vec<u16> = match offer {
            Offer::Tls12StaticRsa => STATIC_RSA_SUITES.to_vec(),
            Offer::Tls12RsaPreferred => [&STATIC_RSA_SUITES[..], &FS_TLS12_SUITES[..]].concat(),
            Offer::Tls12FsFirst => [&FS_TLS12_SUITES[..], &STATIC_RSA_SUITES[..]].concat(),
            _ => LEGACY_SUITES.to_vec(),
        };
        assert_eq!(h.suites, expected, "{offer:?}");
    }
    assert_eq!(
        STATIC_RSA_SUITES,
        [0x009c, 0x009d, 0x003c, 0x003d, 0x002f, 0x0035, 0x000a]
    );
    assert!(
        STATIC_RSA_SUITES
            .iter()
            .all(|s| !name_is_forward_secret(&suite_name(*s)))
    );
    assert!(
        FS_TLS12_SUITES
            .iter()
            .all(|s| name_is_forward_secret(&suite_name(*s)))
    );
    for offer in [Offer::Sslv2, Offer::Tls12, Offer::Tls13] {
        assert!(client_hello(offer, "example.test", &random).is_none());
    }
}

#[test]
fn hello_matches_the_bytes_prosody_accepted() {
    // The static-RSA hello sent to Prosody in the recorded run (its random replaced).
    let recorded = unhex(
        "1603010085010000810303150c6c298ca3d432f555748877b5b226113bb6606f0d77796b56923def31f2a100000e009c009d003c003d002f0035000a0100004a00000011000f00000c6578616d706c652e74657374000a000a0008001d001700180019000b00020100000d0018001604030503060308040805080604010501060102030201ff01000100",
    );
    let mut random = [0u8; 32];
    random.copy_from_slice(&recorded[11..43]);
    let built = client_hello(Offer::Tls12StaticRsa, "example.test", &random).expect("hello");
    assert_eq!(hex::encode(built), hex::encode(recorded));
}

#[test]
fn no_sni_for_ip_or_odd_names() {
    let random = [0u8; 32];
    for name in ["192.0.2.1", "", "bad name", "x\u{e9}.test"] {
        let h = read_hello(&client_hello(Offer::Tls10, name, &random).expect("hello"));
        assert!(h.extensions.iter().all(|(k, _)| *k != 0), "{name:?}");
    }
}

#[test]
fn sslv2_hello_is_classic() {
    let challenge = [9u8; 16];
    let h = sslv2_client_hello(&challenge);
    assert_eq!(h[0] & 0x80, 0x80, "2-byte header");
    assert_eq!(
        usize::from(u16::from_be_bytes([h[0] & 0x7f, h[1]])),
        h.len() - 2
    );
    assert_eq!(h[2], 1, "CLIENT-HELLO");
    assert_eq!(&h[3..5], &[0, 2], "version 2");
    assert_eq!(u16::from_be_bytes([h[5], h[6]]), 21, "7 cipher kinds");
    assert_eq!(u16::from_be_bytes([h[7], h[8]]), 0, "no session id");
    assert_eq!(u16::from_be_bytes([h[9], h[10]]), 16, "challenge length");
    assert_eq!(&h[h.len() - 16..], &challenge);
    // The recorded hello (other challenge) has the same shape.
    let recorded = unhex(
        "802e0100020015000000100700c00500800300800100800600400400800200804e2cce0e4df1f8127db4d513ca64780e",
    );
    assert_eq!(&recorded[..recorded.len() - 16], &h[..h.len() - 16]);
}

#[test]
fn parses_recorded_replies() {
    assert_eq!(
        parse_reply(&unhex(PROSODY_TLS10_ACCEPT)),
        Reply::ServerHello {
            version: TLS10,
            suite: 0xc014
        }
    );
    assert_eq!(
        parse_reply(&unhex(PROSODY_TLS10_ACCEPT_MORE)),
        Reply::ServerHello {
            version: TLS10,
            suite: 0xc014
        }
    );
    assert_eq!(
        parse_reply(&unhex(PROSODY_STATIC_RSA_ACCEPT)),
        Reply::ServerHello {
            version: TLS12,
            suite: 0x009c
        }
    );
    assert_eq!(
        parse_reply(&unhex(PROSODY_TLS13_ACCEPT)),
        Reply::ServerHello {
            version: TLS13,
            suite: 0x1302
        }
    );
    assert_eq!(
        parse_reply(&unhex(PROSODY_ALERT_PROTOCOL_VERSION)),
        Reply::Alert {
            level: 2,
            description: 70
        }
    );
    assert_eq!(
        parse_reply(&unhex(PROSODY_ALERT_TLS10_PROTOCOL_VERSION)),
        Reply::Alert {
            level: 2,
            description: 70
        }
    );
    assert_eq!(
        parse_reply(&unhex(PROSODY_ALERT_SSL3_HANDSHAKE_FAILURE)),
        Reply::Alert {
            level: 2,
            description: 40
        }
    );
}

#[test]
fn every_truncation_needs_more() {
    for fixture in [
        PROSODY_TLS10_ACCEPT,
        PROSODY_STATIC_RSA_ACCEPT,
        PROSODY_TLS13_ACCEPT,
        PROSODY_ALERT_PROTOCOL_VERSION,
    ] {
        let bytes = unhex(fixture);
        for n in 0..bytes.len() {
            assert_eq!(
                parse_reply(&bytes[..n]),
                Reply::NeedMore,
                "{fixture} cut at {n}"
            );
        }
    }
}

#[test]
fn fragmented_server_hello_is_reassembled() {
    let whole = unhex(PROSODY_STATIC_RSA_ACCEPT);
    let hs = &whole[5..];
    let mut split = vec![0x16, 0x03, 0x03, 0x00, 0x10];
    split.extend_from_slice(&hs[..0x10]);
    split.extend_from_slice(&[0x16, 0x03, 0x03, 0x00, (hs.len() - 0x10) as u8]);
    split.extend_from_slice(&hs[0x10..]);
    assert_eq!(
        parse_reply(&split),
        Reply::ServerHello {
            version: TLS12,
            suite: 0x009c
        }
    );
    assert_eq!(parse_reply(&split[..30]), Reply::NeedMore);
}

#[test]
fn malformed_replies_are_errors_not_panics() {
    let malformed = |hex_or_text: &[u8]| {
        let r = parse_reply(hex_or_text);
        assert!(matches!(r, Reply::Malformed(_)), "{hex_or_text:?}: {r:?}");
    };
    // A Certificate where the ServerHello should be.
    malformed(&unhex("160303000a0b0000060000030000000000"));
    // SSL 2-style version in a TLS record header.
    malformed(&unhex("16020300040200000000"));
    // Record longer than TLS allows.
    malformed(&unhex("1603037fff02"));
    // Session id length 40.
    let mut sh = unhex(PROSODY_STATIC_RSA_ACCEPT);
    sh[5 + 4 + 2 + 32] = 40;
    malformed(&sh);
    // ServerHello whose declared body is shorter than its fields.
    malformed(&unhex("16030300080200000403030000"));
    // Extensions block overrunning the message.
    let mut sh = unhex(PROSODY_STATIC_RSA_ACCEPT);
    let ext_at = sh.len() - 7;
    sh[ext_at] = 0x7f;
    malformed(&sh);
    // Application data before any handshake.
    malformed(&unhex("1703030002abcd"));
    malformed(b"HTTP/1.1 400 Bad Request\r\n");
    malformed(&[0x00]);
    // Zero-length SSL 2.0 record, unknown SSL 2.0 message.
    malformed(&[0x80, 0x00]);
    malformed(&[0x80, 0x03, 0x09, 0x00, 0x00]);
    // Zero-length alert record.
    malformed(&unhex("1503030000"));
}

#[test]
fn xml_and_ssl2_replies() {
    assert_eq!(parse_reply(b"<stream:error><not-well-formed/>"), Reply::Xml);
    assert_eq!(parse_reply(b"\r\n <failure/>"), Reply::Xml);
    assert_eq!(parse_reply(b"  \n"), Reply::NeedMore);
    assert_eq!(parse_reply(b""), Reply::NeedMore);
    // SSL 2.0 SERVER-HELLO (session-id-hit 0, X.509, version 2, lengths...).
    let ssl2 = unhex("800e0400010002000000030010");
    assert_eq!(
        parse_reply(&ssl2),
        Reply::Sslv2ServerHello { version: SSL2 }
    );
    assert_eq!(parse_reply(&ssl2[..4]), Reply::NeedMore);
    assert_eq!(
        parse_reply(&unhex("8003000001")),
        Reply::Sslv2Error { code: 1 }
    );
}

#[test]
fn classification() {
    let hello = |version, suite| Reply::ServerHello { version, suite };
    let (o, s, _) = classify(Offer::Tls10, &hello(TLS10, 0xc014));
    assert_eq!(o, PostureOutcome::Accepted);
    assert_eq!(s.as_deref(), Some("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"));
    assert_eq!(
        classify(Offer::Tls11, &hello(TLS10, 0xc014)).0,
        PostureOutcome::Refused,
        "a lower version is a refusal"
    );
    assert_eq!(
        classify(Offer::Sslv3, &hello(TLS12, 0xc014)).0,
        PostureOutcome::Error,
        "a higher version than offered is broken"
    );
    assert_eq!(
        classify(Offer::Sslv2, &hello(SSL3, 0x002f)).0,
        PostureOutcome::Refused,
        "SSLv2 answered with SSLv3 is not SSLv2"
    );
    assert_eq!(
        classify(Offer::Sslv2, &Reply::Sslv2ServerHello { version: SSL2 }).0,
        PostureOutcome::Accepted
    );
    let alert = parse_reply(&unhex(PROSODY_ALERT_TLS10_PROTOCOL_VERSION));
    let (o, _, detail) = classify(Offer::Tls10, &alert);
    assert_eq!(o, PostureOutcome::Refused);
    assert!(detail.contains("protocol_version"), "{detail}");
    assert_eq!(classify(Offer::Tls10, &Reply::Xml).0, PostureOutcome::Error);
    assert_eq!(
        classify(Offer::Tls10, &Reply::Malformed("x".into())).0,
        PostureOutcome::Error
    );
    assert_eq!(
        classify(
            Offer::Tls12StaticRsa,
            &parse_reply(&unhex(PROSODY_STATIC_RSA_ACCEPT))
        )
        .1,
        Some("TLS_RSA_WITH_AES_128_GCM_SHA256".into())
    );
}

#[test]
fn offers_have_distinct_names() {
    let names: std::collections::BTreeSet<&str> = Offer::ALL.iter().map(|o| o.name()).collect();
    assert_eq!(names.len(), Offer::ALL.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_reply(&bytes);
    }

    #[test]
    fn parser_never_panics_on_mutated_recordings(
        which in 0usize..4,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let fixtures = [
            PROSODY_TLS10_ACCEPT_MORE,
            PROSODY_STATIC_RSA_ACCEPT,
            PROSODY_TLS13_ACCEPT,
            PROSODY_ALERT_PROTOCOL_VERSION,
        ];
        let mut bytes = unhex(fixtures[which]);
        for (at, value) in flips {
            let i = at % bytes.len();
            bytes[i] = value;
        }
        let cut = cut % (bytes.len() + 1);
        let _ = parse_reply(&bytes[..cut]);
        for offer in Offer::ALL {
            let _ = classify(offer, &parse_reply(&bytes));
        }
    }
}

// --- the runner against scripted servers ---------------------------------------------------

/// What a fake server does after reading the hello.
#[derive(Clone, Copy)]
enum Script {
    Reply(&'static str),
    Close,
    Silence,
    Flood,
    Xml,
}

async fn fake_server(script: Script, starttls: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                if starttls {
                    let _ = sock.read(&mut buf).await;
                    let _ = sock.write_all(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x' version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>").await;
                    let _ = sock.read(&mut buf).await;
                    let _ = sock
                        .write_all(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
                        .await;
                }
                let _ = sock.read(&mut buf).await;
                match script {
                    Script::Reply(h) => {
                        let _ = sock.write_all(&unhex(h)).await;
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                    Script::Close => {}
                    Script::Silence => tokio::time::sleep(Duration::from_secs(5)).await,
                    Script::Flood => {
                        // A handshake record that never completes its ServerHello.
                        let _ = sock.write_all(&unhex("16030340000200ffff")).await;
                        let junk = vec![0u8; 1 << 16];
                        let _ = sock.write_all(&junk).await;
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                    Script::Xml => {
                        let _ = sock.write_all(b"<stream:error/>").await;
                    }
                }
            });
        }
    });
    addr
}

async fn run_against(script: Script, starttls: bool, offer: Offer) -> PostureProbe {
    let addr = fake_server(script, starttls).await;
    let tls = crate::check::tls::TlsClient::new().expect("tls");
    let roots = rustls::RootCertStore::empty();
    let ctx = Context {
        domain: "example.test",
        s2s_from: "probe.invalid",
        timeout: Duration::from_millis(700),
        probe_wait: Duration::from_millis(300),
        probe_wait_min: Duration::from_millis(300),
        allow_private: true,
        tls: &tls,
        roots: &roots,
        limits: crate::check::xml::Limits::default(),
        deadline: tokio::time::Instant::now() + Duration::from_secs(30),
        limiter: &crate::check::net::ConnectionLimiter::new(4, 64),
        pacer: None,
        posture_cache: None,
        responder: None,
        target_addresses: &[],
    };
    let mode = if starttls {
        Mode::Starttls
    } else {
        Mode::DirectTls
    };
    run_probe(&ctx, Service::C2s, mode, addr, offer).await
}

#[tokio::test]
async fn runner_classifies_scripted_servers() {
    let p = run_against(Script::Reply(PROSODY_TLS10_ACCEPT_MORE), true, Offer::Tls10).await;
    assert_eq!(p.outcome, PostureOutcome::Accepted, "{p:?}");
    assert_eq!(
        p.selected_suite.as_deref(),
        Some("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA")
    );
    assert!(p.sent_hex.starts_with("1603010"), "{}", p.sent_hex);
    assert!(p.received_hex.starts_with("160301"), "{}", p.received_hex);
    assert!(p.received_hex.len() <= 2 * MAX_RECEIVED_HEX_BYTES);

    let p = run_against(
        Script::Reply(PROSODY_ALERT_SSL3_HANDSHAKE_FAILURE),
        false,
        Offer::Sslv3,
    )
    .await;
    assert_eq!(p.outcome, PostureOutcome::Refused, "{p:?}");

    let p = run_against(Script::Close, false, Offer::Sslv2).await;
    assert_eq!(p.outcome, PostureOutcome::Refused, "{p:?}");
    assert!(p.sent_hex.starts_with("80"), "{}", p.sent_hex);

    let p = run_against(Script::Silence, true, Offer::Tls11).await;
    assert_eq!(p.outcome, PostureOutcome::Inconclusive, "{p:?}");

    let p = run_against(Script::Xml, false, Offer::Tls12StaticRsa).await;
    assert_eq!(p.outcome, PostureOutcome::Error, "{p:?}");

    let p = run_against(Script::Flood, false, Offer::Tls10).await;
    assert_ne!(p.outcome, PostureOutcome::Accepted, "{p:?}");
    assert!(p.received_hex.len() <= 2 * MAX_RECEIVED_HEX_BYTES);

    // rustls probe against a server that only closes: refused, the hello is recorded.
    let p = run_against(Script::Close, false, Offer::Tls13).await;
    assert_eq!(p.outcome, PostureOutcome::Refused, "{p:?}");
    assert!(p.sent_hex.starts_with("16030"), "{}", p.sent_hex);

    // Nothing listening: the probe could not run (no hello sent).
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let tls = crate::check::tls::TlsClient::new().expect("tls");
    let roots = rustls::RootCertStore::empty();
    let ctx = Context {
        domain: "example.test",
        s2s_from: "probe.invalid",
        timeout: Duration::from_millis(500),
        probe_wait: Duration::from_millis(300),
        probe_wait_min: Duration::from_millis(300),
        allow_private: true,
        tls: &tls,
        roots: &roots,
        limits: crate::check::xml::Limits::default(),
        deadline: tokio::time::Instant::now() + Duration::from_secs(30),
        limiter: &crate::check::net::ConnectionLimiter::new(4, 64),
        pacer: None,
        posture_cache: None,
        responder: None,
        target_addresses: &[],
    };
    let p = run_probe(&ctx, Service::C2s, Mode::DirectTls, addr, Offer::Sslv3).await;
    assert_eq!(p.outcome, PostureOutcome::Error);
    assert!(p.sent_hex.is_empty());
}
