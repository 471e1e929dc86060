//! s2s enforcement proven both ways through the dialback responder, with real Prosody and
//! ejabberd: the test starts the responder on loopback, the in-process DNS points both probe
//! domains at it, the test CA issues its certificate, and the servers resolve through that DNS
//! (and trust that CA).

use std::ffi::OsString;
use std::net::IpAddr;
use std::time::Instant;

use crate::support::Listen;
use crate::support::check::{CheckRun, check};
use crate::support::dns::{DnsServer, Zone};
use crate::support::ejabberd::{Ejabberd, S2sStarttls};
use crate::support::fake_target::{self, FakeOptions, FakeTarget};
use crate::support::next_loopback_ip;
use crate::support::pki::Pki;
use crate::support::prosody::{Prosody, ProsodyBuilder};
use crate::support::responder::TestResponder;

const DOMAIN: &str = "target.test";

/// The zone of a target on `ip` (standard ports) and of the responder's probe domains (as IP
/// literals for ejabberd, which resolves SRV targets with the system resolver).
async fn dns_for(responder: &TestResponder, ip: IpAddr, ip_literal_targets: bool) -> DnsServer {
    let zone = Zone::new().xmpp(DOMAIN, &format!("xmpp.{DOMAIN}"), ip, 5222, 5269);
    DnsServer::start(responder.zone(zone, ip_literal_targets)).await
}

fn args(dns: &DnsServer, pki: &Pki, responder: Option<&TestResponder>) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "--allow-private".into(),
        "--resolver".into(),
        dns.resolver_arg().into(),
        "--ca-file".into(),
        pki.ca_file().into(),
        "--timeout".into(),
        "5".into(),
    ];
    if let Some(r) = responder {
        args.extend(["--responder".into(), r.config().into()]);
    }
    args
}

/// The probe of `kind` on the s2s endpoint.
fn s2s_probe<'a>(run: &'a CheckRun, kind: &str) -> &'a serde_json::Value {
    run.endpoints()
        .iter()
        .filter(|e| e["service"] == "s2s")
        .flat_map(|e| e["probes"].as_array().into_iter().flatten())
        .find(|p| p["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} probe:\n{}", run.dump()))
}

/// Starts Prosody for [`DOMAIN`] on a fresh address, resolving through the test DNS, and
/// checks it with the responder.
async fn prosody_with_responder(
    configure: impl FnOnce(ProsodyBuilder) -> ProsodyBuilder,
) -> (CheckRun, Prosody) {
    let pki = Pki::new();
    let responder = TestResponder::start(&pki).await;
    let ip = IpAddr::V4(next_loopback_ip());
    let dns = dns_for(&responder, ip, false).await;
    let builder = Prosody::builder()
        .vhost(DOMAIN)
        .cert(&pki.leaf(&[DOMAIN]))
        .ca_file(pki.ca_file())
        .resolver(dns.addr())
        .ip(ip)
        .c2s_port(5222)
        .s2s_port(5269);
    let prosody = configure(builder).start().await.expect("start Prosody");
    let run = check(DOMAIN, &args(&dns, &pki, Some(&responder))).await;
    (run, prosody)
}

fn assert_s2s(run: &CheckRun, prosody_log: &str, inbound: &str, outbound: &str) {
    let dump = || format!("{}\n--- server log ---\n{prosody_log}", run.dump());
    assert_eq!(run.status("s2s-tls-required"), inbound, "{}", dump());
    assert_eq!(run.status("s2s-outbound-tls"), outbound, "{}", dump());
    let inbound_probe = s2s_probe(run, "dialback");
    assert_eq!(
        inbound_probe["responder"]["dialed_back"],
        true,
        "the target did not dial back to the responder: {}",
        dump()
    );
    if inbound == "pass" {
        assert_eq!(
            run.basis("s2s-tls-required"),
            Some("verified"),
            "{}",
            dump()
        );
        assert!(
            run.summary("s2s-tls-required")
                .contains("dialback responder"),
            "{}",
            dump()
        );
    }
    if outbound == "pass" {
        assert_eq!(
            run.basis("s2s-outbound-tls"),
            Some("verified"),
            "{}",
            dump()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prosody_requiring_s2s_encryption_passes_both_ways() {
    let (run, p) = prosody_with_responder(|b| b.s2s_require_encryption(true)).await;
    assert_s2s(&run, &p.log_tail(60), "pass", "pass");
    let outbound = s2s_probe(&run, "outbound-dialback");
    assert_eq!(
        outbound["responder"]["starttls_unoffered"],
        true,
        "{}",
        run.dump()
    );
    assert_eq!(run.verdict(), "pass", "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread")]
async fn prosody_with_secure_auth_passes_both_ways() {
    let (run, p) =
        prosody_with_responder(|b| b.s2s_require_encryption(true).s2s_secure_auth(true)).await;
    assert_s2s(&run, &p.log_tail(60), "pass", "pass");
}

#[tokio::test(flavor = "multi_thread")]
async fn prosody_not_requiring_s2s_encryption_fails_both_ways() {
    let (run, p) = prosody_with_responder(|b| b.s2s_require_encryption(false)).await;
    assert_s2s(&run, &p.log_tail(60), "fail", "fail");
    assert_eq!(run.verdict(), "fail");
    assert!(
        s2s_probe(&run, "dialback")["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("dialled back"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prosody_requiring_only_c2s_fails_s2s_both_ways() {
    let (run, p) =
        prosody_with_responder(|b| b.c2s_require_encryption(true).s2s_require_encryption(false))
            .await;
    assert_eq!(run.status("c2s-tls-required"), "pass", "{}", run.dump());
    assert_s2s(&run, &p.log_tail(60), "fail", "fail");
}

async fn ejabberd_with_responder(mode: S2sStarttls) -> (CheckRun, Ejabberd) {
    let pki = Pki::new();
    let responder = TestResponder::start(&pki).await;
    let ip = IpAddr::V4(next_loopback_ip());
    let dns = dns_for(&responder, ip, true).await;
    let ejabberd = Ejabberd::builder()
        .vhost(DOMAIN)
        .cert(&pki.leaf(&[DOMAIN]))
        .starttls_required(true)
        .s2s_use_starttls(mode)
        .resolver(dns.addr())
        .ip(ip)
        .c2s_port(5222)
        .s2s_port(5269)
        .start()
        .await
        .expect("start ejabberd");
    let run = check(DOMAIN, &args(&dns, &pki, Some(&responder))).await;
    (run, ejabberd)
}

#[tokio::test(flavor = "multi_thread")]
async fn ejabberd_requiring_s2s_starttls_passes_inbound() {
    let (run, e) = ejabberd_with_responder(S2sStarttls::Required).await;
    let dump = || format!("{}\n--- ejabberd ---\n{}", run.dump(), e.log_tail(60));
    assert_eq!(run.status("s2s-tls-required"), "pass", "{}", dump());
    assert_eq!(
        run.basis("s2s-tls-required"),
        Some("verified"),
        "{}",
        dump()
    );
    // ejabberd refuses a cleartext dialback at once; the outbound question is then asked over
    // TLS on our stream. Whatever it decides, never a failure without a cleartext dial-back.
    assert_ne!(run.status("s2s-outbound-tls"), "fail", "{}", dump());
    eprintln!(
        "ejabberd required, outbound: {}",
        run.summary("s2s-outbound-tls")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ejabberd_with_optional_s2s_starttls_fails() {
    let (run, e) = ejabberd_with_responder(S2sStarttls::Optional).await;
    let dump = || format!("{}\n--- ejabberd ---\n{}", run.dump(), e.log_tail(60));
    assert_eq!(run.status("s2s-tls-required"), "fail", "{}", dump());
    assert_eq!(run.status("s2s-outbound-tls"), "fail", "{}", dump());
    assert_eq!(
        s2s_probe(&run, "outbound-dialback")["responder"]["dialed_back"],
        true,
        "{}",
        dump()
    );
}

/// The figure of the issue: a good Prosody checked with and without the responder. Without,
/// the dialback probe waits out Prosody's silence; with, Prosody answers at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_responder_makes_a_good_prosody_quick_to_prove() {
    let pki = Pki::new();
    let responder = TestResponder::start(&pki).await;
    let ip = IpAddr::V4(next_loopback_ip());
    let dns = dns_for(&responder, ip, false).await;
    let _p = Prosody::builder()
        .vhost(DOMAIN)
        .cert(&pki.leaf(&[DOMAIN]))
        .resolver(dns.addr())
        .ip(ip)
        .c2s_port(5222)
        .s2s_port(5269)
        .start()
        .await
        .expect("start Prosody");
    let quick = ["--probe-wait-min", "0.4", "--probe-wait", "2"];
    let timed = |with: bool| {
        let mut a = args(&dns, &pki, with.then_some(&responder));
        a.extend(quick.iter().map(OsString::from));
        async move {
            let started = Instant::now();
            let run = check(DOMAIN, &a).await;
            (run, started.elapsed())
        }
    };
    // Warm Prosody's s2s connection to the responder, as a running service's would be.
    let _ = timed(true).await;
    let (without, t_without) = timed(false).await;
    let (with, t_with) = timed(true).await;
    eprintln!(
        "good Prosody: without responder {:?} (report {} ms), with {:?} (report {} ms)",
        t_without, without.json["duration_ms"], t_with, with.json["duration_ms"]
    );
    assert_eq!(
        with.basis("s2s-tls-required"),
        Some("verified"),
        "{}",
        with.dump()
    );
    assert_eq!(
        without.basis("s2s-tls-required"),
        Some("advertised"),
        "{}",
        without.dump()
    );
    let ms = |run: &CheckRun| run.json["duration_ms"].as_u64().unwrap_or(u64::MAX);
    assert!(
        ms(&with) < ms(&without),
        "{} vs {}",
        with.dump(),
        without.dump()
    );
}

/// A fake target behind the test DNS (its s2s SRV only), checked with the responder.
async fn check_fake(behaviour: FakeTarget) -> (CheckRun, fake_target::FakeServer) {
    let pki = Pki::new();
    let responder = TestResponder::start(&pki).await;
    let fake = fake_target::start(
        behaviour,
        FakeOptions::new(DOMAIN, &pki.leaf(&[DOMAIN]), &pki)
            .responder(responder.tls_addr())
            .idle_close(std::time::Duration::from_secs(20)),
    )
    .await;
    let host = format!("xmpp.{DOMAIN}");
    let zone = Zone::new()
        .srv(
            &format!("_xmpp-server._tcp.{DOMAIN}"),
            0,
            0,
            fake.addr().port(),
            &host,
        )
        .ip(&host, fake.addr().ip());
    let dns = DnsServer::start(responder.zone(zone, false)).await;
    let run = check(DOMAIN, &args(&dns, &pki, Some(&responder))).await;
    (run, fake)
}

/// A server that ignores a cleartext dialback (no dial-back, no answer) but completes the same
/// dialback over TLS enforces TLS: proven by difference.
#[tokio::test(flavor = "multi_thread")]
async fn ignoring_cleartext_dialback_but_completing_it_over_tls_passes_by_difference() {
    let (run, fake) = check_fake(FakeTarget::IgnoresCleartextDialback).await;
    let dump = || format!("{}\n--- fake ---\n{:?}", run.dump(), fake.events());
    assert_eq!(run.status("s2s-tls-required"), "pass", "{}", dump());
    assert_eq!(
        run.basis("s2s-tls-required"),
        Some("verified"),
        "{}",
        dump()
    );
    assert_eq!(
        s2s_probe(&run, "dialback")["responder"]["by_difference"],
        true,
        "{}",
        dump()
    );
    assert!(
        run.summary("s2s-tls-required").contains("by difference"),
        "{}",
        dump()
    );
    // It never dials the plain probe domain: no proof of the outbound direction, never a fail.
    assert_eq!(run.status("s2s-outbound-tls"), "inconclusive", "{}", dump());
}

/// Silence everywhere proves nothing: inconclusive, never a fail.
#[tokio::test(flavor = "multi_thread")]
async fn ignoring_dialback_everywhere_is_inconclusive() {
    let (run, fake) = check_fake(FakeTarget::IgnoresBoth).await;
    let dump = || format!("{}\n--- fake ---\n{:?}", run.dump(), fake.events());
    assert_eq!(run.status("s2s-tls-required"), "inconclusive", "{}", dump());
    assert_eq!(run.status("s2s-outbound-tls"), "inconclusive", "{}", dump());
    assert_ne!(run.verdict(), "fail", "{}", dump());
}

/// `valid` without a dial-back: the responder saw no `<db:verify/>` with our key, so the
/// target accepts anyone in cleartext.
#[tokio::test(flavor = "multi_thread")]
async fn answering_valid_without_dialing_back_fails() {
    let (run, fake) = check_fake(FakeTarget::ValidWithoutDialback).await;
    let dump = || format!("{}\n--- fake ---\n{:?}", run.dump(), fake.events());
    assert_eq!(run.status("s2s-tls-required"), "fail", "{}", dump());
    let probe = s2s_probe(&run, "dialback");
    assert_eq!(probe["responder"]["dialed_back"], false, "{}", dump());
    assert!(
        probe["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("without ever dialing back"),
        "{}",
        dump()
    );
    assert!(!fake.dialed_back(), "{}", dump());
}

/// `manifesto responder` runs from the documented example (deploy/responder/), with only its
/// addresses and files made local: it serves, a checker reading the same file proves a
/// Prosody with it, SIGHUP reloads the certificate, SIGTERM stops it with exit 0.
#[tokio::test(flavor = "multi_thread")]
async fn the_responder_command_runs_from_the_documented_config() {
    use std::io::{BufRead, BufReader};
    let pki = Pki::new();
    let cert = pki.leaf(&["probe.example.org"]);
    let dir = tempfile::tempdir().unwrap();
    let ip = next_loopback_ip();
    let config = example_config(dir.path(), ip, &cert);
    let path = dir.path().join("responder.toml");
    std::fs::write(&path, &config).unwrap();
    let mut child = crate::support::cli::manifesto()
        .args(["responder", "--config"])
        .arg(&path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let mut started = String::new();
    while !started.contains("API on") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "responder exited: {started}"
        );
        started.push_str(&line);
    }
    assert!(started.contains(&format!("{ip}:5269")), "{started}");

    // A checker reading the same file proves a Prosody with it.
    let target_ip = IpAddr::V4(next_loopback_ip());
    let zone = Zone::new()
        .xmpp(DOMAIN, &format!("xmpp.{DOMAIN}"), target_ip, 5222, 5269)
        .srv(
            "_xmpp-server._tcp.probe.example.org",
            0,
            0,
            5269,
            "xmpp.probe.example.org",
        )
        .srv(
            "_xmpp-server._tcp.plain.probe.example.org",
            0,
            0,
            5270,
            "xmpp.probe.example.org",
        )
        .ip("xmpp.probe.example.org", IpAddr::V4(ip));
    let dns = DnsServer::start(zone).await;
    let _p = Prosody::builder()
        .vhost(DOMAIN)
        .cert(&pki.leaf(&[DOMAIN]))
        .resolver(dns.addr())
        .ip(target_ip)
        .c2s_port(5222)
        .s2s_port(5269)
        .start()
        .await
        .expect("start Prosody");
    let mut a = args(&dns, &pki, None);
    a.extend(["--responder".into(), path.clone().into()]);
    let run = check(DOMAIN, &a).await;
    assert_eq!(run.status("s2s-tls-required"), "pass", "{}", run.dump());
    assert_eq!(run.status("s2s-outbound-tls"), "pass", "{}", run.dump());

    let pid = child.id().to_string();
    let signal = |name: &str| {
        let ok = std::process::Command::new("kill")
            .args(["-s", name, &pid])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    signal("HUP");
    line.clear();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("certificate reloaded"), "{line}");
    signal("TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// The documented example configuration, with its addresses and files made local: listeners
/// on `ip`, the certificate `cert`, the secret beside the file.
fn example_config(
    dir: &std::path::Path,
    ip: std::net::Ipv4Addr,
    cert: &crate::support::pki::Cert,
) -> String {
    let api_port = crate::support::free_port(IpAddr::V4(ip));
    std::fs::write(dir.join("secret"), "a secret for this test only, 32+").unwrap();
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/responder/responder.example.toml"),
    )
    .unwrap();
    let config = example
        .replace(
            "[\"0.0.0.0:5269\", \"[::]:5269\"]",
            &format!("\"{ip}:5269\""),
        )
        .replace(
            "[\"0.0.0.0:5270\", \"[::]:5270\"]",
            &format!("\"{ip}:5270\""),
        )
        .replace(
            "/etc/manifesto/responder/fullchain.pem",
            &cert.chain_file.to_string_lossy(),
        )
        .replace(
            "/etc/manifesto/responder/privkey.pem",
            &cert.key_file.to_string_lossy(),
        )
        .replace("/etc/manifesto/responder/secret", "secret")
        .replace("127.0.0.1:8269", &format!("{ip}:{api_port}"))
        .replace(
            "https://probe.example.org/responder/",
            &format!("http://{ip}:{api_port}/"),
        );
    assert!(!config.contains("/etc/"), "the example changed: {config}");
    config
}

/// Anyone can connect to the responder claiming to be the target. Inside a loopback-only
/// namespace, a forger on another address (192.0.2.77 on `lo`: nothing leaves the namespace)
/// tells the plain probe domain, in the target's name, both that it insists on STARTTLS and
/// that it authenticates in cleartext, over and over while a target that never dials back is
/// checked: neither counts, and the outbound requirement stays inconclusive.
#[tokio::test(flavor = "multi_thread")]
async fn connections_claiming_to_be_the_target_from_elsewhere_prove_nothing() {
    use crate::netns_test_name;
    use crate::support::netns;
    use tokio::io::AsyncWriteExt;
    if !netns::enter(&netns_test_name!(
        "connections_claiming_to_be_the_target_from_elsewhere_prove_nothing"
    )) {
        return;
    }
    let forger_ip: std::net::Ipv4Addr = "192.0.2.77".parse().unwrap();
    let ip = crate::support::require_binary("ip", "iproute2");
    let added = std::process::Command::new(ip)
        .args(["addr", "add", "192.0.2.77/32", "dev", "lo"])
        .status()
        .unwrap();
    assert!(added.success());
    let pki = Pki::new();
    let responder = TestResponder::start(&pki).await;
    let plain = responder.plain_addr();
    let forger = tokio::spawn(async move {
        let header = format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' \
             xmlns:stream='http://etherx.jabber.org/streams' from='{DOMAIN}' to='{}' version='1.0'>",
            crate::support::responder::PLAIN
        );
        let lies = [
            "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>".to_owned(),
            format!(
                "<db:result from='{DOMAIN}' to='{}'>forged</db:result>",
                crate::support::responder::PLAIN
            ),
        ];
        for round in 0..200 {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind((forger_ip, 0).into()).unwrap();
            if let Ok(mut tcp) = socket.connect(plain).await {
                let _ = tcp.write_all(header.as_bytes()).await;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                let _ = tcp.write_all(lies[round % 2].as_bytes()).await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
    let fake = fake_target::start(
        FakeTarget::IgnoresBoth,
        FakeOptions::new(DOMAIN, &pki.leaf(&[DOMAIN]), &pki).responder(responder.tls_addr()),
    )
    .await;
    let host = format!("xmpp.{DOMAIN}");
    let zone = Zone::new()
        .srv(
            &format!("_xmpp-server._tcp.{DOMAIN}"),
            0,
            0,
            fake.addr().port(),
            &host,
        )
        .ip(&host, fake.addr().ip());
    let dns = DnsServer::start(responder.zone(zone, false)).await;
    let run = check(DOMAIN, &args(&dns, &pki, Some(&responder))).await;
    forger.abort();
    let forged = responder
        .running
        .observations(Some(DOMAIN), 0)
        .connections
        .len();
    assert!(forged > 0, "the forger never reached the responder");
    assert_eq!(
        run.status("s2s-outbound-tls"),
        "inconclusive",
        "{}",
        run.dump()
    );
    let detail = s2s_probe(&run, "outbound-dialback")["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("count for nothing"), "{}", run.dump());
}
