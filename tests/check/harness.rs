//! Proves that every piece of the test harness (tests/support) works, by talking to it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::Command;
use std::time::Instant;

use hickory_proto::rr::RData;
use hickory_resolver::Resolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

use crate::support::dns::{DnsServer, Zone};
use crate::support::ejabberd::{Ejabberd, S2sStarttls};
use crate::support::pki::{LeafSpec, Pki};
use crate::support::prosody::Prosody;
use crate::support::{self, Listen, stream_features};

const TLS_NS: &str = "urn:ietf:params:xml:ns:xmpp-tls";

fn has_starttls(features: &str) -> bool {
    features.contains("<starttls") && features.contains(TLS_NS)
}

/// `<required/>` inside `<starttls>` (Prosody writes `<required/>`, ejabberd too).
fn starttls_required(features: &str) -> bool {
    let Some(start) = features.find("<starttls") else {
        return false;
    };
    let rest = &features[start..];
    let end = rest
        .find("</starttls>")
        .unwrap_or_else(|| rest.find("/>").unwrap_or(rest.len()));
    rest[..end].contains("<required")
}

// ---------- PKI ----------

fn openssl_verify(ca: &std::path::Path, leaf: &std::path::Path) -> (bool, String) {
    support::require_binary("openssl", "openssl");
    let out = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(ca)
        .arg(leaf)
        .output()
        .expect("run openssl verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn pki_leaf_verifies_against_ca_and_bad_ones_do_not() {
    let pki = Pki::new();
    let good = pki.leaf(&["example.test"]);
    let (ok, text) = openssl_verify(pki.ca_file(), &good.leaf_file);
    assert!(ok, "good leaf must verify: {text}");

    // The name check, as a verifier does it.
    let out = Command::new("openssl")
        .args(["verify", "-verify_hostname", "example.test", "-CAfile"])
        .arg(pki.ca_file())
        .arg(&good.leaf_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "hostname must match");
    let wrong = pki.wrong_name();
    let out = Command::new("openssl")
        .args(["verify", "-verify_hostname", "example.test", "-CAfile"])
        .arg(pki.ca_file())
        .arg(&wrong.leaf_file)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "wrong-name leaf must not match example.test"
    );

    let expired = pki.expired(&["example.test"]);
    let (ok, text) = openssl_verify(pki.ca_file(), &expired.leaf_file);
    assert!(!ok && text.contains("expired"), "expired leaf: {text}");

    let selfsigned = pki.self_signed(&["example.test"]);
    let (ok, text) = openssl_verify(pki.ca_file(), &selfsigned.leaf_file);
    assert!(!ok, "self-signed leaf must not verify: {text}");

    // The chain file is leaf + CA; the key matches the leaf.
    let chain = std::fs::read_to_string(&good.chain_file).unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(chain.ends_with(&pki.ca_pem()));
    let combined = std::fs::read_to_string(&good.combined_file).unwrap();
    assert!(combined.contains("BEGIN PRIVATE KEY"));
    let leaf_pub = support::run(
        Command::new("openssl")
            .args(["x509", "-noout", "-pubkey", "-in"])
            .arg(&good.leaf_file),
    );
    let key_pub = support::run(
        Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&good.key_file),
    );
    assert_eq!(leaf_pub, key_pub, "key file belongs to the leaf");
}

#[test]
fn pki_rsa_leaf() {
    let pki = Pki::new();
    let rsa = pki.leaf_rsa(&["rsa.example.test"]);
    let (ok, text) = openssl_verify(pki.ca_file(), &rsa.leaf_file);
    assert!(ok, "RSA leaf must verify: {text}");
    let (_, cert) = x509_parser::parse_x509_certificate(&rsa.der).unwrap();
    assert_eq!(
        cert.public_key().algorithm.algorithm,
        x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION
    );
    let usage = cert.key_usage().unwrap().unwrap().value;
    assert!(usage.key_encipherment(), "static RSA needs keyEncipherment");
}

#[test]
fn pki_xmpp_other_names() {
    use x509_parser::extensions::GeneralName;
    let pki = Pki::new();
    let cert = pki.issue(
        LeafSpec::new(&["xmpp.example.test"])
            .srv_id("_xmpp-client.example.test")
            .srv_id("_xmpp-server.example.test")
            .xmpp_addr("example.test"),
    );
    let (ok, text) = openssl_verify(pki.ca_file(), &cert.leaf_file);
    assert!(ok, "leaf with otherNames must verify: {text}");

    let (_, x509) = x509_parser::parse_x509_certificate(&cert.der).unwrap();
    let san = x509.subject_alternative_name().unwrap().unwrap().value;
    let mut dns = Vec::new();
    let mut srv = Vec::new();
    let mut addr = Vec::new();
    for name in &san.general_names {
        match name {
            GeneralName::DNSName(d) => dns.push(d.to_string()),
            GeneralName::OtherName(oid, value) => {
                // x509-parser hands over the `[0] EXPLICIT` wrapper; its content is the value.
                assert_eq!(value[0], 0xa0, "otherName value: {value:02x?}");
                assert!(value[1] < 0x80 && value.len() == 2 + value[1] as usize);
                let inner = &value[2..];
                let oid = oid.to_id_string();
                let tag = inner[0];
                assert!(inner[1] < 0x80 && inner.len() == 2 + inner[1] as usize);
                let text = String::from_utf8(inner[2..].to_vec()).unwrap();
                match oid.as_str() {
                    "1.3.6.1.5.5.7.8.7" => {
                        assert_eq!(tag, 22, "SRV-ID must be an IA5String");
                        srv.push(text)
                    }
                    "1.3.6.1.5.5.7.8.5" => {
                        assert_eq!(tag, 12, "XmppAddr must be a UTF8String");
                        addr.push(text)
                    }
                    other => panic!("unexpected otherName {other}"),
                }
            }
            other => panic!("unexpected SAN {other:?}"),
        }
    }
    assert_eq!(dns, ["xmpp.example.test"]);
    assert_eq!(
        srv,
        ["_xmpp-client.example.test", "_xmpp-server.example.test"]
    );
    assert_eq!(addr, ["example.test"]);

    // openssl agrees on the encoding.
    let text = String::from_utf8(support::run(
        Command::new("openssl")
            .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
            .arg(&cert.leaf_file),
    ))
    .unwrap();
    assert!(text.contains("DNS:xmpp.example.test"), "{text}");
    assert!(text.contains("_xmpp-client.example.test"), "{text}");
}

// ---------- DNS ----------

fn resolver_for(dns: &DnsServer) -> Resolver<TokioRuntimeProvider> {
    let mut ns = NameServerConfig::udp_and_tcp(dns.addr().ip());
    for c in &mut ns.connections {
        c.port = dns.port();
    }
    let config = ResolverConfig::from_name_servers(vec![ns]);
    let mut opts = ResolverOpts::default();
    opts.cache_size = 0;
    opts.attempts = 1;
    opts.timeout = std::time::Duration::from_secs(2);
    let mut builder = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
    *builder.options_mut() = opts;
    builder.build().expect("build resolver")
}

#[tokio::test]
async fn dns_serves_the_zone() {
    let v4 = Ipv4Addr::new(127, 0, 0, 9);
    let v6 = Ipv6Addr::LOCALHOST;
    let dns = DnsServer::start(
        Zone::new()
            .srv(
                "_xmpp-client._tcp.example.test",
                0,
                5,
                5222,
                "xmpp.example.test",
            )
            .srv(
                "_xmpp-client._tcp.example.test",
                10,
                1,
                5223,
                "backup.example.test",
            )
            .srv("_xmpp-server._tcp.example.test", 0, 0, 0, ".")
            .a("xmpp.example.test", v4)
            .aaaa("xmpp.example.test", v6)
            .cname("alias.example.test", "xmpp.example.test")
            .txt("example.test", "hello")
            .servfail("_xmpp-client._tcp.broken.test")
            .no_answer("silent.test"),
    )
    .await;
    assert!(dns.addr().ip().is_loopback());
    assert_eq!(dns.resolver_arg(), format!("127.0.0.1:{}", dns.port()));
    let resolver = resolver_for(&dns);
    serves_srv_records(&resolver).await;
    serves_addresses_and_txt(&resolver, v4, v6).await;
    serves_negative_answers(&resolver).await;
}

/// SRV records with their priority, weight and port, and the "no service" target `.`.
async fn serves_srv_records(resolver: &Resolver<TokioRuntimeProvider>) {
    let srv = resolver
        .lookup(
            "_xmpp-client._tcp.example.test.",
            hickory_proto::rr::RecordType::SRV,
        )
        .await
        .expect("SRV lookup");
    let mut got: Vec<(u16, u16, u16, String)> = srv
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some((s.priority, s.weight, s.port, s.target.to_string())),
            _ => None,
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (0, 5, 5222, "xmpp.example.test.".to_string()),
            (10, 1, 5223, "backup.example.test.".to_string())
        ]
    );

    let dot = resolver
        .lookup(
            "_xmpp-server._tcp.example.test.",
            hickory_proto::rr::RecordType::SRV,
        )
        .await
        .expect("SRV '.' lookup");
    let targets: Vec<String> = dot
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some(s.target.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(targets, ["."]);
}

/// A and AAAA, an A through a CNAME, and TXT.
async fn serves_addresses_and_txt(
    resolver: &Resolver<TokioRuntimeProvider>,
    v4: Ipv4Addr,
    v6: Ipv6Addr,
) {
    let ips: Vec<IpAddr> = resolver
        .lookup_ip("xmpp.example.test.")
        .await
        .expect("A/AAAA lookup")
        .iter()
        .collect();
    assert!(
        ips.contains(&IpAddr::V4(v4)) && ips.contains(&IpAddr::V6(v6)),
        "{ips:?}"
    );

    let via_cname: Vec<IpAddr> = resolver
        .lookup_ip("alias.example.test.")
        .await
        .expect("A through CNAME")
        .iter()
        .collect();
    assert!(via_cname.contains(&IpAddr::V4(v4)), "{via_cname:?}");

    let txt = resolver
        .lookup("example.test.", hickory_proto::rr::RecordType::TXT)
        .await
        .expect("TXT");
    assert_eq!(txt.answers().len(), 1);
}

/// NXDOMAIN, NODATA, SERVFAIL, and a name that never gets an answer.
async fn serves_negative_answers(resolver: &Resolver<TokioRuntimeProvider>) {
    let nx = resolver
        .lookup(
            "_xmpp-client._tcp.nowhere.test.",
            hickory_proto::rr::RecordType::SRV,
        )
        .await
        .expect_err("absent name");
    assert!(nx.is_nx_domain(), "expected NXDOMAIN, got {nx:?}");

    let nodata = resolver
        .lookup("example.test.", hickory_proto::rr::RecordType::SRV)
        .await
        .expect_err("name exists, no SRV");
    assert!(
        nodata.is_no_records_found() && !nodata.is_nx_domain(),
        "expected NODATA, got {nodata:?}"
    );

    let sf = resolver
        .lookup(
            "_xmpp-client._tcp.broken.test.",
            hickory_proto::rr::RecordType::SRV,
        )
        .await
        .expect_err("SERVFAIL name");
    assert!(
        format!("{sf:?}").to_lowercase().contains("servfail")
            || format!("{sf}").to_lowercase().contains("servfail"),
        "expected SERVFAIL, got {sf:?}"
    );

    let started = Instant::now();
    let silent = resolver
        .lookup("silent.test.", hickory_proto::rr::RecordType::A)
        .await;
    assert!(silent.is_err(), "silent name must not resolve: {silent:?}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
}

#[tokio::test]
async fn dns_answers_over_tcp_and_stops_on_drop() {
    let dns =
        DnsServer::start(Zone::new().a("tcp.example.test", Ipv4Addr::new(127, 0, 0, 7))).await;
    let addr = dns.addr();
    let mut ns = NameServerConfig::tcp(addr.ip());
    ns.connections[0].port = addr.port();
    let resolver = Resolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![ns]),
        TokioRuntimeProvider::default(),
    )
    .build()
    .unwrap();
    let ips: Vec<IpAddr> = resolver
        .lookup_ip("tcp.example.test.")
        .await
        .expect("A over TCP")
        .iter()
        .collect();
    assert_eq!(ips, [IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7))]);

    drop(dns);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "DNS server must stop listening when dropped"
    );
}

// ---------- Prosody ----------

#[tokio::test]
async fn prosody_c2s_required_and_optional() {
    let pki = Pki::new();
    let cert = pki.leaf(&["example.test"]);
    let (required, optional) = tokio::join!(
        Prosody::builder()
            .vhost("example.test")
            .cert(&cert)
            .c2s_require_encryption(true)
            .start(),
        Prosody::builder()
            .vhost("example.test")
            .cert(&cert)
            .c2s_require_encryption(false)
            .start(),
    );
    let required = required.unwrap();
    let optional = optional.unwrap();
    assert_ne!(
        required.ip(),
        optional.ip(),
        "parallel instances need distinct addresses"
    );
    eprintln!(
        "prosody startup: {:?} and {:?}",
        required.startup_time(),
        optional.startup_time()
    );
    assert_eq!(required.c2s_port(), 5222);

    let f = stream_features(required.c2s_addr(), "example.test", None).await;
    assert!(
        f.contains("<stream:features"),
        "{f}\n{}",
        required.log_tail(30)
    );
    assert!(has_starttls(&f) && starttls_required(&f), "{f}");

    let f = stream_features(optional.c2s_addr(), "example.test", None).await;
    assert!(has_starttls(&f) && !starttls_required(&f), "{f}");
    assert!(
        f.contains("mechanisms"),
        "optional TLS: SASL offered in clear: {f}"
    );
}

#[tokio::test]
async fn prosody_s2s_and_no_certificate() {
    let pki = Pki::new();
    let cert = pki.leaf(&["example.test"]);
    let (s2s, nocert) = tokio::join!(
        Prosody::builder()
            .vhost("example.test")
            .cert(&cert)
            .s2s_require_encryption(true)
            .s2s_secure_auth(false)
            .start(),
        Prosody::builder()
            .vhost("example.test")
            .c2s_require_encryption(false)
            .start(),
    );
    let s2s = s2s.unwrap();
    let nocert = nocert.unwrap();

    let f = stream_features(s2s.s2s_addr(), "example.test", Some("sender.invalid")).await;
    assert!(has_starttls(&f) && starttls_required(&f), "{f}");
    assert!(f.contains("urn:xmpp:features:dialback"), "{f}");

    // Trap: without a certificate Prosody 0.12 still advertises STARTTLS (the handshake then
    // fails with "no shared cipher"); only without mod_tls is there no STARTTLS.
    let f = stream_features(nocert.c2s_addr(), "example.test", None).await;
    assert!(f.contains("<stream:features"), "{f}");
    assert!(has_starttls(&f), "{f}");

    let notls = Prosody::builder()
        .vhost("example.test")
        .cert(&cert)
        .tls(false)
        .c2s_require_encryption(false)
        .s2s_require_encryption(false)
        .start()
        .await
        .unwrap();
    let f = stream_features(notls.c2s_addr(), "example.test", None).await;
    assert!(f.contains("<stream:features"), "{f}");
    assert!(!has_starttls(&f), "without mod_tls, no STARTTLS: {f}");
    let f = stream_features(notls.s2s_addr(), "example.test", Some("sender.invalid")).await;
    assert!(!has_starttls(&f), "without mod_tls, no s2s STARTTLS: {f}");
}

#[tokio::test]
async fn prosody_direct_tls_custom_ports_and_tls_options() {
    let pki = Pki::new();
    let cert = pki.leaf_rsa(&["example.test"]);
    let p = Prosody::builder()
        .vhost("example.test")
        .vhost("other.test")
        .cert(&cert)
        .ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .c2s_direct_tls(true)
        .s2s_direct_tls(true)
        .tls_protocol("tlsv1+")
        .tls_ciphers("DEFAULT:AES128-SHA:@SECLEVEL=0")
        .start()
        .await
        .unwrap();
    assert_ne!(p.c2s_port(), 5222, "explicit address: ephemeral ports");
    let direct = p.c2s_direct_tls_addr().expect("direct TLS port");
    // A TLS handshake with a static-RSA suite on the Direct TLS port, with the CA.
    let out = tokio::task::spawn_blocking(move || {
        Command::new("openssl")
            .args(["s_client", "-connect", &direct.to_string()])
            .args([
                "-servername",
                "example.test",
                "-tls1_2",
                "-cipher",
                "AES128-SHA:@SECLEVEL=0",
            ])
            .args(["-verify_return_error", "-CAfile"])
            .arg(pki.ca_file())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Cipher is AES128-SHA") && text.contains("Verify return code: 0"),
        "static RSA over Direct TLS:\n{text}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        p.log_tail(30)
    );
    let f = stream_features(p.c2s_addr(), "other.test", None).await;
    assert!(has_starttls(&f), "{f}");
}

#[tokio::test]
async fn prosody_startup_failure_reports_the_log() {
    let err = match Prosody::builder()
        .vhost("example.test")
        .extra_config("this is not lua")
        .start()
        .await
    {
        Ok(_) => panic!("a broken config must not start"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("did not start"), "{err}");
    assert!(err.contains("--- console ---"), "{err}");
}

#[tokio::test]
async fn prosody_many_in_parallel() {
    let pki = Pki::new();
    let cert = pki.leaf(&["example.test"]);
    let starts = (0..6).map(|_| Prosody::builder().vhost("example.test").cert(&cert).start());
    let servers: Vec<Prosody> = futures::future::join_all(starts)
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut ips: Vec<IpAddr> = servers.iter().map(|p| p.ip()).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), servers.len());
    for p in &servers {
        let f = stream_features(p.c2s_addr(), "example.test", None).await;
        assert!(starttls_required(&f), "{f}");
    }
    let addr: SocketAddr = servers[0].c2s_addr();
    drop(servers);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "Prosody must be gone after drop"
    );
}

#[tokio::test]
async fn prosody_ipv6_loopback() {
    let pki = Pki::new();
    let cert = pki.leaf(&["example.test"]);
    let p = Prosody::builder()
        .vhost("example.test")
        .cert(&cert)
        .ip(IpAddr::V6(Ipv6Addr::LOCALHOST))
        .start()
        .await
        .unwrap();
    assert!(p.c2s_addr().is_ipv6());
    let f = stream_features(p.c2s_addr(), "example.test", None).await;
    assert!(starttls_required(&f), "{f}");
}

/// A server whose address is taken must fail (or move), never pass off the other server as
/// itself: Prosody keeps running without the port, and the port answers anyway.
#[tokio::test]
async fn taken_address_is_an_error_not_a_silent_success() {
    let first = Prosody::builder()
        .vhost("example.test")
        .tls(false)
        .start()
        .await
        .unwrap();
    let (prosody, ejabberd) = tokio::join!(
        Prosody::builder()
            .vhost("example.test")
            .ip(first.ip())
            .c2s_port(first.c2s_port())
            .s2s_port(first.s2s_port())
            .start(),
        Ejabberd::builder()
            .vhost("example.test")
            .ip(first.ip())
            .c2s_port(first.c2s_port())
            .s2s_port(first.s2s_port())
            .start(),
    );
    let err = prosody
        .err()
        .expect("second Prosody on a taken address")
        .to_string();
    assert!(err.contains("already in use"), "{err}");
    let err = ejabberd
        .err()
        .expect("ejabberd on a taken address")
        .to_string();
    assert!(err.contains("already in use"), "{err}");
}

/// Prosody with `.resolver(dns)` resolves the dialback peer through the test's DNS server:
/// a db:result from `sender.test` makes it connect to the SRV target's address from our zone.
#[tokio::test]
async fn prosody_resolves_through_the_test_dns() {
    use tokio::io::AsyncWriteExt;
    let pki = Pki::new();
    let cert = pki.leaf(&["example.test"]);
    let sender_ip = support::next_loopback_ip();
    // Something listening where the zone points, to see Prosody arrive.
    let listener = tokio::net::TcpListener::bind((sender_ip, 5269))
        .await
        .unwrap();
    let dns = DnsServer::start(
        Zone::new()
            .srv(
                "_xmpp-server._tcp.sender.test",
                0,
                0,
                5269,
                "xmpp.sender.test",
            )
            .a("xmpp.sender.test", sender_ip),
    )
    .await;
    let p = Prosody::builder()
        .vhost("example.test")
        .cert(&cert)
        .s2s_require_encryption(false)
        .resolver(dns.addr())
        .start()
        .await
        .unwrap();
    let mut s = tokio::net::TcpStream::connect(p.s2s_addr()).await.unwrap();
    s.write_all(
        b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
          xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' \
          to='example.test' from='sender.test' version='1.0'>\
          <db:result from='sender.test' to='example.test'>0123456789abcdef</db:result>",
    )
    .await
    .unwrap();
    let accepted =
        tokio::time::timeout(std::time::Duration::from_secs(10), listener.accept()).await;
    assert!(
        matches!(accepted, Ok(Ok(_))),
        "Prosody did not dial back to {sender_ip}:5269 via the test DNS:\n{}",
        p.log_tail(40)
    );
}

// ---------- ejabberd ----------

#[tokio::test]
async fn ejabberd_required_and_optional() {
    let pki = Pki::new();
    let cert = pki.leaf(&["example.test"]);
    let (required, optional) = tokio::join!(
        Ejabberd::builder()
            .vhost("example.test")
            .cert(&cert)
            .starttls_required(true)
            .s2s_use_starttls(S2sStarttls::Required)
            .start(),
        Ejabberd::builder()
            .vhost("example.test")
            .cert(&cert)
            .starttls_required(false)
            .s2s_use_starttls(S2sStarttls::Optional)
            .c2s_direct_tls(true)
            .s2s_direct_tls(true)
            .start(),
    );
    let required = required.unwrap();
    let optional = optional.unwrap();
    eprintln!(
        "ejabberd startup: {:?} and {:?}",
        required.startup_time(),
        optional.startup_time()
    );

    let f = stream_features(required.c2s_addr(), "example.test", None).await;
    assert!(
        has_starttls(&f) && starttls_required(&f),
        "{f}\n{}",
        required.log_tail(30)
    );
    let f = stream_features(required.s2s_addr(), "example.test", Some("sender.invalid")).await;
    assert!(has_starttls(&f) && starttls_required(&f), "{f}");

    let f = stream_features(optional.c2s_addr(), "example.test", None).await;
    assert!(has_starttls(&f) && !starttls_required(&f), "{f}");
    let f = stream_features(optional.s2s_addr(), "example.test", Some("sender.invalid")).await;
    assert!(has_starttls(&f) && !starttls_required(&f), "{f}");

    // Direct TLS (XEP-0368) listeners, c2s and s2s: a verified TLS handshake with SNI.
    for direct in [
        optional.c2s_direct_tls_addr().expect("c2s Direct TLS port"),
        optional.s2s_direct_tls_addr().expect("s2s Direct TLS port"),
    ] {
        let ca = pki.ca_file().to_path_buf();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("openssl")
                .args(["s_client", "-connect", &direct.to_string()])
                .args([
                    "-servername",
                    "example.test",
                    "-verify_hostname",
                    "example.test",
                ])
                .args(["-verify_return_error", "-CAfile"])
                .arg(ca)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Verify return code: 0 (ok)"),
            "ejabberd Direct TLS on {direct}:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let addr = required.c2s_addr();
    let started = Instant::now();
    drop(required);
    eprintln!("ejabberd drop took {:?}", started.elapsed());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// `openssl s_client -starttls xmpp` with the given protocol flag and cipher list; returns the
/// negotiated "Protocol, Cipher" line or the whole output when the handshake failed.
async fn starttls_handshake(addr: SocketAddr, domain: &str, proto: &str, cipher: &str) -> String {
    let (domain, proto, cipher) = (domain.to_string(), proto.to_string(), cipher.to_string());
    tokio::task::spawn_blocking(move || {
        let out = Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &addr.to_string(),
                "-starttls",
                "xmpp",
            ])
            .args(["-xmpphost", &domain, "-servername", &domain, &proto])
            .args(["-cipher", &cipher])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    })
    .await
    .unwrap()
}

/// "PROTOCOL CIPHER" from the SSL-Session block (the "New, ..." line shows the cipher's
/// version, "SSLv3" for AES128-SHA, not the protocol), None when nothing was negotiated.
fn negotiated(out: &str) -> Option<String> {
    let field = |key: &str| {
        out.lines()
            .map(str::trim)
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split(':').nth(1))
            .map(|v| v.trim().to_string())
    };
    let cipher = field("Cipher    :")?;
    if cipher == "0000" || cipher == "(NONE)" {
        return None;
    }
    Some(format!("{} {cipher}", field("Protocol  :")?))
}

/// The knobs for the weak-posture scenarios really make both servers accept TLS 1.0 and a
/// static-RSA suite (OpenSSL 3 refuses both at its default security level).
#[tokio::test]
async fn weak_tls_posture_knobs_work() {
    let pki = Pki::new();
    let cert = pki.leaf_rsa(&["example.test"]);
    let weak_ciphers = "DEFAULT:AES128-SHA:@SECLEVEL=0";
    let (prosody, ejabberd, strict) = tokio::join!(
        Prosody::builder()
            .vhost("example.test")
            .cert(&cert)
            .tls_protocol("tlsv1+")
            .tls_ciphers(weak_ciphers)
            .start(),
        Ejabberd::builder()
            .vhost("example.test")
            .cert(&cert)
            .protocol_options(&["no_sslv3"])
            .ciphers(weak_ciphers)
            .start(),
        Prosody::builder().vhost("example.test").cert(&cert).start(),
    );
    let (prosody, ejabberd, strict) = (prosody.unwrap(), ejabberd.unwrap(), strict.unwrap());
    let client_weak = "AES128-SHA:@SECLEVEL=0";
    for (name, addr) in [
        ("prosody", prosody.c2s_addr()),
        ("ejabberd", ejabberd.c2s_addr()),
    ] {
        let out = starttls_handshake(addr, "example.test", "-tls1", client_weak).await;
        let line = negotiated(&out).unwrap_or_else(|| panic!("{name}: TLS 1.0 refused:\n{out}"));
        assert_eq!(line, "TLSv1 AES128-SHA", "{name}");
        let out = starttls_handshake(addr, "example.test", "-tls1_2", client_weak).await;
        let line = negotiated(&out).unwrap_or_else(|| panic!("{name}: static RSA refused:\n{out}"));
        assert_eq!(line, "TLSv1.2 AES128-SHA", "{name}");
    }
    // Prosody's defaults refuse both.
    let out = starttls_handshake(strict.c2s_addr(), "example.test", "-tls1", client_weak).await;
    assert!(
        negotiated(&out).is_none(),
        "default Prosody accepted TLS 1.0:\n{out}"
    );
    let out = starttls_handshake(strict.c2s_addr(), "example.test", "-tls1_2", client_weak).await;
    assert!(
        negotiated(&out).is_none(),
        "default Prosody accepted static RSA:\n{out}"
    );
}

/// ejabberd with `.resolver(dns)` looks up the dialback peer's SRV through the test's DNS
/// server. Trap: it resolves SRV *targets* with `net:getaddrinfo` (the system resolver, which
/// no inetrc reaches), so the zone names the target as an IP literal.
#[tokio::test]
async fn ejabberd_resolves_through_the_test_dns() {
    use tokio::io::AsyncWriteExt;
    let pki = Pki::new();
    let cert = pki.leaf(&["example.test"]);
    let sender_ip = support::next_loopback_ip();
    let listener = tokio::net::TcpListener::bind((sender_ip, 5269))
        .await
        .unwrap();
    let dns = DnsServer::start(Zone::new().srv(
        "_xmpp-server._tcp.sender.test",
        0,
        0,
        5269,
        &sender_ip.to_string(),
    ))
    .await;
    let e = Ejabberd::builder()
        .vhost("example.test")
        .cert(&cert)
        .s2s_use_starttls(S2sStarttls::Optional)
        .resolver(dns.addr())
        .start()
        .await
        .unwrap();
    let mut s = tokio::net::TcpStream::connect(e.s2s_addr()).await.unwrap();
    s.write_all(
        b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
          xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' \
          to='example.test' from='sender.test' version='1.0'>\
          <db:result from='sender.test' to='example.test'>0123456789abcdef</db:result>",
    )
    .await
    .unwrap();
    let accepted =
        tokio::time::timeout(std::time::Duration::from_secs(10), listener.accept()).await;
    assert!(
        matches!(accepted, Ok(Ok(_))),
        "ejabberd did not dial back to {sender_ip}:5269 via the test DNS:\n{}",
        e.log_tail(40)
    );
}

// ---------- require_binary ----------

#[test]
#[should_panic(expected = "bash scripts/install-test-deps.sh")]
fn require_binary_fails_loudly() {
    support::require_binary("surely-not-an-installed-xmpp-server", "nothing");
}
