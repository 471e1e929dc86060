//! Behaviour no real server shows, from hand-written servers: a liar, a silent enforcer,
//! garbage, a DOCTYPE, megabytes of features, a tarpit, bytes smuggled after `<proceed/>`, a
//! server silent on SASL that refuses a stanza before authentication.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::check::CheckRun;
use crate::support::scenario::Scenario;

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='fake.example' id='fake1' version='1.0'>";
const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";

/// What a fake server does with one connection.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Advertises `<required/>` but answers SASL with a challenge.
    Liar,
    /// Advertises optional STARTTLS, but closes the stream on any cleartext SASL.
    SilentEnforcer,
    Garbage,
    Doctype,
    HugeFeatures,
    Tarpit,
    /// Answers `<starttls/>` with `<proceed/>` immediately followed by bytes.
    SmuggleAfterProceed,
    /// Advertises optional STARTTLS, stays silent on a cleartext SASL `<auth/>`, and answers a
    /// stanza before authentication with this stream error (condition, text).
    SilentOnSasl(&'static str, &'static str),
}

/// Reads until `needle` appears or the peer goes away; false if it never came.
async fn read_until(sock: &mut TcpStream, needle: &str) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(10), sock.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                buf.extend_from_slice(&chunk[..n]);
                if String::from_utf8_lossy(&buf).contains(needle) {
                    return true;
                }
            }
            _ => return false,
        }
    }
    false
}

async fn serve_one(mut sock: TcpStream, behaviour: Behaviour) {
    let _ = match behaviour {
        Behaviour::Liar => {
            read_until(&mut sock, "<stream:stream").await;
            let features = format!(
                "{HEADER}<stream:features><starttls xmlns='{TLS}'><required/></starttls><mechanisms xmlns='{SASL}'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"
            );
            let _ = sock.write_all(features.as_bytes()).await;
            let mut buf = [0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let got = String::from_utf8_lossy(&buf[..n]).into_owned();
            if got.contains("<auth") {
                let _ = sock
                    .write_all(
                        format!("<challenge xmlns='{SASL}'>cj1hYmMscz1kZWYsaT00MDk2</challenge>")
                            .as_bytes(),
                    )
                    .await;
            } else {
                let _ = sock
                    .write_all(format!("<failure xmlns='{TLS}'/></stream:stream>").as_bytes())
                    .await;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(())
        }
        Behaviour::SilentEnforcer => {
            read_until(&mut sock, "<stream:stream").await;
            let features = format!(
                "{HEADER}<stream:features><starttls xmlns='{TLS}'/><mechanisms xmlns='{SASL}'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"
            );
            let _ = sock.write_all(features.as_bytes()).await;
            let mut buf = [0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let got = String::from_utf8_lossy(&buf[..n]).into_owned();
            if got.contains("<auth") {
                let _ = sock.write_all(b"<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>").await;
            } else {
                let _ = sock
                    .write_all(format!("<failure xmlns='{TLS}'/></stream:stream>").as_bytes())
                    .await;
            }
            Ok(())
        }
        Behaviour::Garbage => {
            sock.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await
        }
        Behaviour::Doctype => {
            read_until(&mut sock, "<stream:stream").await;
            sock.write_all(b"<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY lol 'lol'>]><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>").await
        }
        Behaviour::HugeFeatures => {
            read_until(&mut sock, "<stream:stream").await;
            let _ = sock
                .write_all(format!("{HEADER}<stream:features>").as_bytes())
                .await;
            let chunk = "<x xmlns='urn:example:padding'/>".repeat(1024);
            for _ in 0..100 {
                if sock.write_all(chunk.as_bytes()).await.is_err() {
                    break;
                }
            }
            Ok(())
        }
        Behaviour::Tarpit => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        }
        Behaviour::SilentOnSasl(condition, text) => {
            silent_on_sasl(&mut sock, condition, text).await;
            Ok(())
        }
        Behaviour::SmuggleAfterProceed => {
            read_until(&mut sock, "<stream:stream").await;
            let features = format!(
                "{HEADER}<stream:features><starttls xmlns='{TLS}'><required/></starttls></stream:features>"
            );
            let _ = sock.write_all(features.as_bytes()).await;
            if read_until(&mut sock, "<starttls").await {
                let _ = sock
                    .write_all(
                        format!("<proceed xmlns='{TLS}'/><message>injected</message>").as_bytes(),
                    )
                    .await;
            } else {
                let _ = sock.write_all(b"<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>").await;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(())
        }
    };
}

/// Optional STARTTLS; silence on a cleartext `<auth/>`; this stream error for a stanza.
async fn silent_on_sasl(sock: &mut TcpStream, condition: &str, text: &str) {
    read_until(sock, "<stream:stream").await;
    let features = format!(
        "{HEADER}<stream:features><starttls xmlns='{TLS}'/><mechanisms xmlns='{SASL}'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"
    );
    let _ = sock.write_all(features.as_bytes()).await;
    let mut buf = [0u8; 4096];
    let n = sock.read(&mut buf).await.unwrap_or(0);
    let got = String::from_utf8_lossy(&buf[..n]).into_owned();
    if got.contains("<auth") {
        // Silence: the connection stays open and nothing comes back.
        tokio::time::sleep(Duration::from_secs(10)).await;
    } else if got.contains("<iq") {
        let error = format!(
            "<stream:error><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>{text}</text></stream:error></stream:stream>"
        );
        let _ = sock.write_all(error.as_bytes()).await;
    } else {
        let _ = sock
            .write_all(format!("<failure xmlns='{TLS}'/></stream:stream>").as_bytes())
            .await;
    }
}

async fn fake_server(behaviour: Behaviour) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve_one(sock, behaviour));
        }
    });
    addr
}

/// A c2s-only domain (s2s SRV target ".") served by `behaviour`.
async fn check_fake(
    domain: &str,
    behaviour: Behaviour,
    timeout_secs: &str,
) -> (CheckRun, Duration) {
    check_fake_with(domain, behaviour, &["--timeout", timeout_secs]).await
}

async fn check_fake_with(
    domain: &str,
    behaviour: Behaviour,
    args: &[&str],
) -> (CheckRun, Duration) {
    let addr = fake_server(behaviour).await;
    let host = format!("xmpp.{domain}");
    let s = Scenario::new()
        .serve_zone(|zone, _| {
            zone.srv(
                &format!("_xmpp-client._tcp.{domain}"),
                0,
                0,
                addr.port(),
                &host,
            )
            .srv(&format!("_xmpp-server._tcp.{domain}"), 0, 0, 0, ".")
            .ip(&host, addr.ip())
        })
        .await;
    let started = Instant::now();
    let run = s.check(domain, args).await;
    (run, started.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_lies_about_required_fails() {
    let (run, _) = check_fake("liar.example", Behaviour::Liar, "3").await;
    assert_eq!(run.status("c2s-tls-required"), "fail", "{}", run.dump());
    assert!(
        run.summary("c2s-tls-required").contains("cleartext"),
        "{}",
        run.dump()
    );
    assert_eq!(run.endpoints()[0]["probes"][0]["outcome"], "not-enforced");
    assert_eq!(run.code, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_requires_tls_without_saying_so_passes_verified() {
    let (run, _) = check_fake("silent.example", Behaviour::SilentEnforcer, "3").await;
    assert_eq!(run.status("c2s-tls-required"), "pass", "{}", run.dump());
    assert_eq!(
        run.basis("c2s-tls-required"),
        Some("verified"),
        "{}",
        run.dump()
    );
}

/// Silent on SASL, but a stanza before authentication is refused with a policy violation
/// that says encryption is required: the second probe proves enforcement.
#[tokio::test(flavor = "multi_thread")]
async fn a_policy_violation_for_tls_on_a_stanza_passes_verified() {
    let behaviour = Behaviour::SilentOnSasl("policy-violation", "Encryption is required");
    let (run, _) = check_fake("policy.example", behaviour, "3").await;
    assert_eq!(run.status("c2s-tls-required"), "pass", "{}", run.dump());
    assert_eq!(
        run.basis("c2s-tls-required"),
        Some("verified"),
        "{}",
        run.dump()
    );
    let probe = &run.endpoints()[0]["probes"][0];
    assert_eq!(probe["outcome"], "enforced", "{}", run.dump());
    assert!(
        probe["sent"].as_str().unwrap_or_default().contains("<iq"),
        "{}",
        run.dump()
    );
}

/// Silent on SASL, and `<not-authorized/>` to a stanza before authentication (what any server
/// answers): no proof, and optional STARTTLS from unknown software is no proof either, so
/// inconclusive, never fail.
#[tokio::test(flavor = "multi_thread")]
async fn not_authorized_on_a_stanza_is_inconclusive_never_fail() {
    let behaviour = Behaviour::SilentOnSasl("not-authorized", "Authenticate first");
    let (run, _) = check_fake("notauth.example", behaviour, "3").await;
    assert_eq!(
        run.status("c2s-tls-required"),
        "inconclusive",
        "{}",
        run.dump()
    );
    assert!(
        run.summary("c2s-tls-required").contains("not proven"),
        "{}",
        run.dump()
    );
    let probe = &run.endpoints()[0]["probes"][0];
    assert_eq!(probe["outcome"], "no-answer", "{}", run.dump());
    assert!(
        probe["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not-authorized"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_fails_without_panic() {
    let (run, _) = check_fake("garbage.example", Behaviour::Garbage, "3").await;
    assert_eq!(run.status("c2s-tls-required"), "fail", "{}", run.dump());
    assert_eq!(
        run.endpoints()[0]["error_kind"],
        "protocol",
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_doctype_is_refused() {
    let (run, _) = check_fake("doctype.example", Behaviour::Doctype, "3").await;
    assert_eq!(run.status("c2s-tls-required"), "fail", "{}", run.dump());
    let error = run.endpoints()[0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("document type declaration"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn megabytes_of_features_are_capped() {
    let (run, elapsed) = check_fake("huge.example", Behaviour::HugeFeatures, "3").await;
    assert_eq!(run.status("c2s-tls-required"), "fail", "{}", run.dump());
    let error = run.endpoints()[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("more than"), "{}", run.dump());
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tarpit_is_inconclusive_within_bounded_time() {
    let (run, elapsed) = check_fake("tarpit.example", Behaviour::Tarpit, "1").await;
    assert_eq!(run.verdict(), "inconclusive", "{}", run.dump());
    assert_eq!(
        run.endpoints()[0]["error_kind"],
        "timeout",
        "{}",
        run.dump()
    );
    assert_eq!(run.code, 3);
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_after_proceed_are_not_fed_to_tls() {
    let (run, _) = check_fake("smuggle.example", Behaviour::SmuggleAfterProceed, "3").await;
    let ep = &run.endpoints()[0];
    assert_eq!(ep["starttls"], "proceed", "{}", run.dump());
    assert!(ep.get("tls").is_none(), "{}", run.dump());
    assert!(
        ep["error"]
            .as_str()
            .unwrap_or_default()
            .contains("after <proceed/>"),
        "{}",
        run.dump()
    );
}

/// The deadline bounds a whole check below what its steps' own timeouts allow: a server that
/// answers every step just in time would otherwise stretch a check to minutes.
#[tokio::test(flavor = "multi_thread")]
async fn the_deadline_ends_a_check_whatever_the_step_timeouts() {
    let (run, elapsed) = check_fake_with(
        "staller.example",
        Behaviour::Tarpit,
        &["--timeout", "8", "--deadline", "1"],
    )
    .await;
    assert_eq!(run.verdict(), "inconclusive", "{}", run.dump());
    let ep = &run.endpoints()[0];
    assert_eq!(ep["error_kind"], "timeout", "{}", run.dump());
    assert!(
        ep["error"]
            .as_str()
            .unwrap_or_default()
            .contains("deadline"),
        "{}",
        run.dump()
    );
    assert_eq!(run.code, 3);
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
}
