//! The dialback responder in-process on loopback, driven by a raw-socket "target": STARTTLS,
//! the target's own `<db:result/>`, `<db:verify/>` with keys minted by a checker (valid,
//! replayed, forged, bound to another stream), the plain listener, the API's authentication,
//! and a flood from one source address.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use xmpp_manifesto::check::responder::config::Limits;
use xmpp_manifesto::check::responder::{ApiClient, ApiError, KeyInput, ResponderConfig, Secret};
use xmpp_manifesto::responder::{Responder, Running};

use crate::support::pki::Pki;

const STEP: Duration = Duration::from_secs(5);
const DOMAIN: &str = "probe.test";
const PLAIN: &str = "plain.probe.test";
const TARGET: &str = "target.test";

struct Fixture {
    pki: Pki,
    running: Running,
    config: ResponderConfig,
    secret: Secret,
}

async fn start(limits: Limits) -> Fixture {
    let pki = Pki::new();
    let cert = pki.leaf(&[DOMAIN]);
    let text = format!(
        r#"
domain = "{DOMAIN}"
plain_domain = "{PLAIN}"
listen = "127.0.0.1:0"
plain_listen = "127.0.0.1:0"
cert = "{}"
key = "{}"
api_listen = "127.0.0.1:0"
api_url = "http://127.0.0.1:1/"
"#,
        cert.chain_file.display(),
        cert.key_file.display()
    );
    let mut config = ResponderConfig::parse(&text).unwrap();
    config.limits = limits;
    let secret = Secret::new("a test secret, long enough").unwrap();
    let running = timeout(
        STEP,
        Responder::start_with_secret(config.clone(), secret.clone()),
    )
    .await
    .unwrap()
    .unwrap();
    config.api_url = format!("http://{}/", running.api_addr.unwrap());
    Fixture {
        pki,
        running,
        config,
        secret,
    }
}

impl Fixture {
    fn api(&self) -> ApiClient {
        ApiClient::new(&self.config, &self.secret, STEP)
    }

    fn connector(&self) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(self.pki.ca_der())).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }

    fn key(&self, sender: &str, stream_id: &str) -> (String, String) {
        self.secret.mint(KeyInput {
            receiver: TARGET,
            sender,
            stream_id,
        })
    }
}

fn header(to: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' from='{TARGET}' to='{to}' version='1.0'>"
    )
}

async fn send<S: AsyncWrite + Unpin>(s: &mut S, data: &str) {
    timeout(STEP, s.write_all(data.as_bytes()))
        .await
        .unwrap()
        .unwrap();
}

/// Reads until `needle` arrived (or the peer closed), within [`STEP`]; returns all read.
async fn read_until<S: AsyncRead + Unpin>(s: &mut S, needle: &str) -> String {
    let mut text = String::new();
    let mut chunk = [0u8; 4096];
    while !text.contains(needle) {
        let n = match timeout(STEP, s.read(&mut chunk)).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) => 0,
            Err(_) => panic!("timed out waiting for {needle:?}, got {text:?}"),
        };
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    text
}

/// Header, features, `<starttls/>`, `<proceed/>`, TLS, header and features again.
async fn tls_stream(f: &Fixture) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut tcp = timeout(STEP, TcpStream::connect(f.running.tls_addrs[0]))
        .await
        .unwrap()
        .unwrap();
    send(&mut tcp, &header(DOMAIN)).await;
    let features = read_until(&mut tcp, "</stream:features>").await;
    assert!(features.contains("from='probe.test'"), "{features}");
    assert!(features.contains("to='target.test'"), "{features}");
    assert!(features.contains("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
    assert!(features.contains("urn:xmpp:features:dialback"));
    send(
        &mut tcp,
        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    )
    .await;
    let proceed = read_until(&mut tcp, "<proceed").await;
    assert!(proceed.contains("<proceed"), "{proceed}");
    let name = ServerName::try_from(DOMAIN).unwrap();
    let mut tls = timeout(STEP, f.connector().connect(name, tcp))
        .await
        .unwrap()
        .unwrap();
    send(&mut tls, &header(DOMAIN)).await;
    let features = read_until(&mut tls, "</stream:features>").await;
    assert!(!features.contains("starttls"), "{features}");
    assert!(
        features.contains("urn:xmpp:features:dialback"),
        "{features}"
    );
    tls
}

async fn verify<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    to: &str,
    id: &str,
    key: &str,
) -> String {
    send(
        s,
        &format!("<db:verify from='{TARGET}' to='{to}' id='{id}'>{key}</db:verify>"),
    )
    .await;
    read_until(s, &format!("id='{id}'/>")).await
}

#[tokio::test]
async fn responder_verifies_a_checker_key_over_tls_and_records_it() {
    let f = start(Limits::default()).await;
    let since = xmpp_manifesto_now_ms() - 1000;
    let mut tls = tls_stream(&f).await;
    send(
        &mut tls,
        &format!("<db:result from='{TARGET}' to='{DOMAIN}'>their-own-key</db:result>"),
    )
    .await;
    let answer = read_until(&mut tls, "/>").await;
    assert!(answer.contains("type='valid'"), "{answer}");
    assert!(
        answer.contains("from='probe.test' to='target.test'"),
        "{answer}"
    );

    let (key, nonce) = f.key(DOMAIN, "sid-1");
    let answer = verify(&mut tls, DOMAIN, "sid-1", &key).await;
    assert!(answer.contains("type='valid'"), "{answer}");
    assert!(
        answer.contains("from='probe.test' to='target.test'"),
        "{answer}"
    );

    let seen = f.api().connections(TARGET, since, None).await.unwrap();
    let record = seen
        .connections
        .iter()
        .find(|r| r.verify_of(&nonce).is_some())
        .unwrap_or_else(|| panic!("no record of the key: {seen:?}"));
    let tls_seen = record.tls.as_ref().unwrap();
    assert!(tls_seen.version.starts_with("TLS 1."), "{tls_seen:?}");
    assert!(!tls_seen.cipher.is_empty());
    assert_eq!(record.stream_from.as_deref(), Some(TARGET));
    assert_eq!(record.stream_to.as_deref(), Some(DOMAIN));
    assert_eq!(record.results.len(), 1);
    assert_eq!(record.results[0].answered, "valid");
    assert!(record.results[0].secure);
    let v = record.verify_of(&nonce).unwrap();
    assert_eq!(v.answered, "valid");
    assert_eq!(v.reason, "minted by a checker");
    assert!(v.secure);
    assert_eq!(v.id, "sid-1");
    assert!(seen.now_ms >= since);
    // Nothing for another domain.
    let other = f.api().connections("other.test", 0, None).await.unwrap();
    assert!(other.connections.is_empty());
    f.running.shutdown().await;
}

#[tokio::test]
async fn responder_refuses_replayed_forged_and_misbound_keys() {
    let f = start(Limits::default()).await;
    let mut tls = tls_stream(&f).await;
    let (key, nonce) = f.key(DOMAIN, "sid-1");
    assert!(
        verify(&mut tls, DOMAIN, "sid-1", &key)
            .await
            .contains("type='valid'")
    );
    let again = verify(&mut tls, DOMAIN, "sid-1", &key).await;
    assert!(again.contains("type='invalid'"), "{again}");

    let (other, _) = f.key(DOMAIN, "sid-2");
    let misbound = verify(&mut tls, DOMAIN, "sid-1", &other).await;
    assert!(misbound.contains("type='invalid'"), "{misbound}");
    let mut forged = key.clone();
    forged.pop();
    forged.push(if key.ends_with('0') { '1' } else { '0' });
    let forged_answer = verify(&mut tls, DOMAIN, "sid-3", &forged).await;
    assert!(forged_answer.contains("type='invalid'"), "{forged_answer}");
    // A key for the plain domain, asked of the TLS domain's listener.
    let (plain_key, _) = f.key(PLAIN, "sid-4");
    let wrong = verify(&mut tls, PLAIN, "sid-4", &plain_key).await;
    assert!(wrong.contains("type='invalid'"), "{wrong}");

    let seen = f.running.observations(Some(TARGET), 0);
    let record = &seen.connections[0];
    let reasons: Vec<&str> = record.verifies.iter().map(|v| v.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "minted by a checker",
            "replayed",
            "forged",
            "forged",
            "not this listener's domain"
        ]
    );
    assert_eq!(record.verifies[1].nonce.as_deref(), Some(nonce.as_str()));
    // A stanza ends the stream: the responder routes nothing.
    send(
        &mut tls,
        "<message from='a@target.test' to='b@probe.test'><body>hi</body></message>",
    )
    .await;
    let refused = read_until(&mut tls, "</stream:stream>").await;
    assert!(refused.contains("<not-authorized"), "{refused}");
    f.running.shutdown().await;
}

#[tokio::test]
async fn responder_plain_listener_refuses_starttls_and_records_cleartext_dialback() {
    let f = start(Limits::default()).await;
    let addr = f.running.plain_addrs[0];
    let mut tcp = timeout(STEP, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    send(&mut tcp, &header(PLAIN)).await;
    let features = read_until(&mut tcp, "</stream:features>").await;
    assert!(!features.contains("starttls"), "{features}");
    assert!(features.contains("from='plain.probe.test'"), "{features}");
    send(
        &mut tcp,
        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    )
    .await;
    let failure = read_until(&mut tcp, "</stream:stream>").await;
    assert!(
        failure.contains("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
        "{failure}"
    );

    let mut tcp = timeout(STEP, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    send(&mut tcp, &header(PLAIN)).await;
    read_until(&mut tcp, "</stream:features>").await;
    let (key, nonce) = f.key(PLAIN, "sid-p");
    let answer = verify(&mut tcp, PLAIN, "sid-p", &key).await;
    assert!(answer.contains("type='valid'"), "{answer}");
    send(&mut tcp, "</stream:stream>").await;
    read_until(&mut tcp, "</stream:stream>").await;

    let seen = f.api().connections(TARGET, 0, None).await.unwrap();
    assert_eq!(seen.connections.len(), 2, "{seen:?}");
    assert!(seen.connections[0].starttls_unoffered);
    assert!(seen.connections[0].tls.is_none());
    let v = seen.connections[1].verify_of(&nonce).unwrap();
    assert!(!v.secure);
    assert_eq!(v.answered, "valid");
    // The record of a connection's end follows its close.
    let ended = timeout(STEP, async {
        loop {
            let seen = f.running.observations(Some(TARGET), 0);
            if let Some(end) = seen.connections[1].end.clone() {
                return end;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(ended.how, "peer-closed");
    f.running.shutdown().await;
}

#[tokio::test]
async fn responder_wrong_host_gets_host_unknown() {
    let f = start(Limits::default()).await;
    let mut tcp = timeout(STEP, TcpStream::connect(f.running.tls_addrs[0]))
        .await
        .unwrap()
        .unwrap();
    send(&mut tcp, &header("elsewhere.test")).await;
    let answer = read_until(&mut tcp, "</stream:stream>").await;
    assert!(answer.contains("<host-unknown"), "{answer}");
    f.running.shutdown().await;
}

async fn http_get(addr: std::net::SocketAddr, path: &str, auth: Option<&str>) -> String {
    let mut tcp = timeout(STEP, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: responder\r\n{auth}Connection: close\r\n\r\n");
    send(&mut tcp, &request).await;
    let mut answer = Vec::new();
    timeout(STEP, tcp.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn responder_api_requires_the_token() {
    let f = start(Limits::default()).await;
    let api = f.running.api_addr.unwrap();
    let path = "/v1/connections?from=target.test&since_ms=0";
    assert!(http_get(api, path, None).await.starts_with("HTTP/1.1 401"));
    let wrong = http_get(api, path, Some("Bearer 00112233")).await;
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    let right = format!("Bearer {}", f.secret.api_token());
    let ok = http_get(api, path, Some(&right)).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let health = http_get(api, "/healthz", None).await;
    assert!(
        health.starts_with("HTTP/1.1 200") && health.contains("\"refused\""),
        "{health}"
    );

    let stranger = Secret::new("not the responder's secret").unwrap();
    let client = ApiClient::new(&f.config, &stranger, STEP);
    assert!(matches!(
        client.connections(TARGET, 0, None).await,
        Err(ApiError::Unauthorized(_))
    ));
    f.running.shutdown().await;
}

/// Opens a connection (from `source`, when given), sends a header and says whether features
/// came back; the connection is returned to keep it open.
async fn try_stream(addr: std::net::SocketAddr, source: Option<&str>) -> (bool, Option<TcpStream>) {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(ip) = source {
        socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    }
    let Ok(Ok(mut tcp)) = timeout(STEP, socket.connect(addr)).await else {
        return (false, None);
    };
    if tcp.write_all(header(DOMAIN).as_bytes()).await.is_err() {
        return (false, None);
    }
    let text = read_until(&mut tcp, "</stream:features>").await;
    (text.contains("</stream:features>"), Some(tcp))
}

#[tokio::test]
async fn responder_survives_a_flood_from_one_address() {
    let limits = Limits {
        connections_per_address: 4,
        connects_per_minute: 10_000,
        observations: 50,
        ..Limits::default()
    };
    let f = start(limits).await;
    let addr = f.running.tls_addrs[0];
    let flood: Vec<_> = (0..200)
        .map(|_| tokio::spawn(try_stream(addr, Some("127.0.0.1"))))
        .collect();
    let mut held = Vec::new();
    let mut served = 0;
    for task in flood {
        let (ok, tcp) = timeout(STEP * 2, task).await.unwrap().unwrap();
        served += usize::from(ok);
        held.push(tcp);
    }
    assert!((1..=4).contains(&served), "served {served}");

    // Another source is served while the flood's connections are still open.
    let (ok, tcp) = try_stream(addr, Some("127.0.0.2")).await;
    assert!(ok, "127.0.0.2 refused during the flood");
    let mut tcp = tcp.unwrap();
    let (key, _) = f.key(DOMAIN, "sid-f");
    // Cleartext dialback on the TLS listener: answered, recorded as not secure.
    assert!(
        verify(&mut tcp, DOMAIN, "sid-f", &key)
            .await
            .contains("type='valid'")
    );

    assert!(
        f.running.refused() >= 196,
        "refused {}",
        f.running.refused()
    );
    let seen = f.running.observations(None, 0);
    assert!(seen.connections.len() <= 50);
    assert!(seen.connections.len() <= served + 1);
    drop(held);
    f.running.shutdown().await;
}

fn xmpp_manifesto_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn responder_records_a_peer_that_refuses_its_certificate() {
    let f = start(Limits::default()).await;
    let mut tcp = timeout(STEP, TcpStream::connect(f.running.tls_addrs[0]))
        .await
        .unwrap()
        .unwrap();
    send(&mut tcp, &header(DOMAIN)).await;
    read_until(&mut tcp, "</stream:features>").await;
    send(
        &mut tcp,
        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    )
    .await;
    read_until(&mut tcp, "<proceed").await;
    // Trusts no CA: refuses the responder's certificate.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = ServerName::try_from(DOMAIN).unwrap();
    let handshake = TlsConnector::from(Arc::new(config)).connect(name, tcp);
    assert!(timeout(STEP, handshake).await.unwrap().is_err());
    let record = timeout(STEP, async {
        loop {
            let seen = f.running.observations(Some(TARGET), 0);
            if let Some(record) = seen.connections.into_iter().find(|r| r.end.is_some()) {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert!(record.tls.is_none());
    let error = record.tls_error.unwrap();
    assert!(error.contains("alert"), "{error}");
    assert_eq!(record.end.unwrap().how, "tls");
    f.running.shutdown().await;
}

#[test]
fn responder_cli_unreadable_config_is_a_usage_error() {
    let out = crate::support::cli::manifesto()
        .args(["responder", "--config", "/nonexistent/responder.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read the responder configuration"),
        "{stderr}"
    );
}

#[tokio::test]
async fn responder_closes_idle_and_malformed_streams() {
    let f = start(Limits {
        idle_timeout_s: 1,
        ..Limits::default()
    })
    .await;
    let addr = f.running.tls_addrs[0];
    let mut idle = timeout(STEP, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    send(&mut idle, &header(DOMAIN)).await;
    let text = read_until(&mut idle, "</stream:stream>").await;
    assert!(text.contains("<connection-timeout"), "{text}");

    let mut bad = timeout(STEP, TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    send(&mut bad, &header(DOMAIN)).await;
    read_until(&mut bad, "</stream:features>").await;
    send(&mut bad, "<db:verify from='x'></db:result>").await;
    let text = read_until(&mut bad, "</stream:stream>").await;
    assert!(text.contains("<not-well-formed"), "{text}");

    let seen = f.running.observations(Some(TARGET), 0);
    let hows: Vec<_> = seen
        .connections
        .iter()
        .map(|r| r.end.as_ref().map(|e| e.how.clone()))
        .collect();
    assert_eq!(hows, [Some("idle".into()), Some("protocol".into())]);
    f.running.shutdown().await;
}

#[tokio::test]
async fn responder_reload_keeps_the_old_certificate_on_error() {
    let f = start(Limits::default()).await;
    f.running.reload_certificates().unwrap();
    let key_file = f.config.key.clone().unwrap();
    let saved = std::fs::read(&key_file).unwrap();
    std::fs::write(&key_file, "not a key").unwrap();
    assert!(f.running.reload_certificates().is_err());
    std::fs::write(&key_file, saved).unwrap();
    // Still served with the certificate loaded before.
    let _tls = tls_stream(&f).await;
    f.running.shutdown().await;
}
