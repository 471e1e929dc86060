//! `manifesto check` against real Prosody and ejabberd servers on loopback, with DNS from an
//! in-process server and certificates from a throwaway CA.

use std::net::IpAddr;

use crate::support::Listen;
use crate::support::check::CheckRun;
use crate::support::cli::manifesto;
use crate::support::ejabberd::{Ejabberd, S2sStarttls};
use crate::support::pki::{Cert, LeafSpec, Pki};
use crate::support::prosody::{Prosody, ProsodyBuilder};
use crate::support::scenario::Scenario;

/// Starts Prosody for `domain` (SRV to xmpp.DOMAIN) and checks it.
async fn check_prosody(
    domain: &str,
    cert: Option<&Cert>,
    pki: &Pki,
    configure: impl FnOnce(ProsodyBuilder) -> ProsodyBuilder,
) -> (CheckRun, Scenario) {
    let mut builder = Prosody::builder().vhost(domain);
    if let Some(cert) = cert {
        builder = builder.cert(cert);
    }
    let s = Scenario::prosody(configure(builder))
        .await
        .trusting(pki)
        .serve_domain(domain)
        .await;
    let run = s.check(domain, &["--timeout", "5"]).await;
    (run, s)
}

#[tokio::test(flavor = "multi_thread")]
async fn prosody_both_required_passes() {
    let pki = Pki::new();
    let domain = "both-required.example";
    let cert = pki.leaf(&[domain]);
    let (run, _p) = check_prosody(domain, Some(&cert), &pki, |b| {
        b.c2s_require_encryption(true).s2s_require_encryption(true)
    })
    .await;
    assert_eq!(run.status("c2s-tls-required"), "pass", "{}", run.dump());
    assert_eq!(
        run.basis("c2s-tls-required"),
        Some("verified"),
        "{}",
        run.dump()
    );
    assert_eq!(run.status("s2s-tls-required"), "pass", "{}", run.dump());
    assert_eq!(run.status("trusted-certificate"), "pass", "{}", run.dump());
    assert_eq!(run.status("modern-tls"), "pass", "{}", run.dump());
    assert_eq!(run.status("forward-secrecy"), "pass", "{}", run.dump());
    assert_eq!(run.verdict(), "pass", "{}", run.dump());
    assert_eq!(run.code, 0);
    assert_eq!(run.json["schema"], "xmpp-manifesto/report-v1");
    assert_eq!(run.json["software"], "prosody", "{}", run.dump());
    let eps = run.endpoints();
    assert_eq!(eps.len(), 2, "{}", run.dump());
    let c2s = eps.iter().find(|e| e["service"] == "c2s").unwrap();
    assert_eq!(c2s["pre_tls_features"]["starttls_required"], true);
    assert_eq!(c2s["probes"][0]["outcome"], "enforced");
    assert!(
        c2s["tls"]["version"]
            .as_str()
            .unwrap()
            .starts_with("TLS 1.")
    );
    assert_eq!(c2s["certificate"]["name_match"], "DNS-ID");
    assert!(
        c2s["post_tls_features"]["sasl_mechanisms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "PLAIN" || m == "SCRAM-SHA-1"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prosody_both_optional_fails_with_probe_evidence() {
    let pki = Pki::new();
    let domain = "both-optional.example";
    let cert = pki.leaf(&[domain]);
    let (run, _p) = check_prosody(domain, Some(&cert), &pki, |b| {
        b.c2s_require_encryption(false)
            .s2s_require_encryption(false)
    })
    .await;
    assert_eq!(run.status("c2s-tls-required"), "fail", "{}", run.dump());
    assert_eq!(run.status("s2s-tls-required"), "fail", "{}", run.dump());
    assert_eq!(run.status("trusted-certificate"), "pass", "{}", run.dump());
    assert_eq!(run.verdict(), "fail");
    assert_eq!(run.code, 1);
    let c2s = run
        .endpoints()
        .iter()
        .find(|e| e["service"] == "c2s")
        .unwrap();
    assert_eq!(
        c2s["probes"][0]["outcome"],
        "not-enforced",
        "{}",
        run.dump()
    );
    let fix = run.json["requirements"]["c2s-tls-required"]["fix"]
        .as_str()
        .unwrap();
    assert!(fix.contains("c2s_require_encryption"), "{fix}");
    let fix = run.json["requirements"]["s2s-tls-required"]["fix"]
        .as_str()
        .unwrap();
    assert!(fix.contains("s2s_require_encryption"), "{fix}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prosody_c2s_required_s2s_optional() {
    let pki = Pki::new();
    let domain = "c2s-only.example";
    let cert = pki.leaf(&[domain]);
    let (run, _p) = check_prosody(domain, Some(&cert), &pki, |b| {
        b.c2s_require_encryption(true).s2s_require_encryption(false)
    })
    .await;
    assert_eq!(run.status("c2s-tls-required"), "pass", "{}", run.dump());
    assert_eq!(run.basis("c2s-tls-required"), Some("verified"));
    assert_eq!(run.status("s2s-tls-required"), "fail", "{}", run.dump());
    assert_eq!(run.verdict(), "fail");
}

#[tokio::test(flavor = "multi_thread")]
async fn prosody_without_tls_offers_no_starttls() {
    let pki = Pki::new();
    let domain = "no-tls.example";
    let (run, _p) = check_prosody(domain, None, &pki, |b| {
        b.tls(false)
            .c2s_require_encryption(false)
            .s2s_require_encryption(false)
    })
    .await;
    assert_eq!(run.status("c2s-tls-required"), "fail", "{}", run.dump());
    assert!(
        run.summary("c2s-tls-required")
            .contains("STARTTLS is not offered"),
        "{}",
        run.dump()
    );
    assert_eq!(run.status("trusted-certificate"), "fail", "{}", run.dump());
    let fix = run.json["requirements"]["trusted-certificate"]["fix"]
        .as_str()
        .unwrap();
    assert!(fix.contains("certificate"), "{fix}");
    assert_eq!(run.verdict(), "fail");
}

#[tokio::test(flavor = "multi_thread")]
async fn prosody_without_certificate_fails_the_handshake() {
    // Prosody 0.12 without a certificate still advertises STARTTLS, then fails the handshake.
    let pki = Pki::new();
    let domain = "no-cert.example";
    let (run, _p) = check_prosody(domain, None, &pki, |b| b).await;
    assert_eq!(run.verdict(), "fail", "{}", run.dump());
    assert_eq!(run.status("trusted-certificate"), "fail", "{}", run.dump());
}

async fn certificate_scenario(domain: &str, cert: Cert, pki: &Pki) -> CheckRun {
    let (run, _p) = check_prosody(domain, Some(&cert), pki, |b| b).await;
    run
}

#[tokio::test(flavor = "multi_thread")]
async fn self_signed_certificate_fails() {
    let pki = Pki::new();
    let domain = "self-signed.example";
    let run = certificate_scenario(domain, pki.self_signed(&[domain]), &pki).await;
    assert_eq!(run.status("trusted-certificate"), "fail", "{}", run.dump());
    assert!(
        run.summary("trusted-certificate").contains("self-signed"),
        "{}",
        run.dump()
    );
    // TLS enforcement itself is unaffected.
    assert_eq!(run.status("c2s-tls-required"), "pass", "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_certificate_fails() {
    let pki = Pki::new();
    let domain = "expired.example";
    let run = certificate_scenario(domain, pki.expired(&[domain]), &pki).await;
    assert_eq!(run.status("trusted-certificate"), "fail", "{}", run.dump());
    assert!(
        run.summary("trusted-certificate").contains("expired"),
        "{}",
        run.dump()
    );
    let c2s = run
        .endpoints()
        .iter()
        .find(|e| e["service"] == "c2s")
        .unwrap();
    assert_eq!(c2s["certificate"]["expired"], true);
    // Issued by the trusted CA: only the date is wrong.
    assert_eq!(c2s["certificate"]["chain_trusted"], true, "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_name_certificate_fails() {
    let pki = Pki::new();
    let domain = "wrong-name.example";
    let run = certificate_scenario(domain, pki.wrong_name(), &pki).await;
    assert_eq!(run.status("trusted-certificate"), "fail", "{}", run.dump());
    assert!(
        run.summary("trusted-certificate")
            .contains("not valid for the XMPP domain"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_for_the_srv_host_only_fails() {
    let pki = Pki::new();
    let domain = "host-only.example";
    let run = certificate_scenario(domain, pki.leaf(&[&format!("xmpp.{domain}")]), &pki).await;
    assert_eq!(run.status("trusted-certificate"), "fail", "{}", run.dump());
    assert!(
        run.summary("trusted-certificate")
            .contains("names only the server host"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn srv_id_and_xmpp_addr_certificates_pass() {
    let pki = Pki::new();
    let domain = "srv-id.example";
    // Both identities, for the c2s and s2s endpoints respectively.
    let cert = pki.issue(
        LeafSpec::new(&["xmpp.srv-id.example"])
            .srv_id(&format!("_xmpp-client.{domain}"))
            .xmpp_addr(domain),
    );
    let run = certificate_scenario(domain, cert, &pki).await;
    assert_eq!(run.status("trusted-certificate"), "pass", "{}", run.dump());
    let by_service = |s: &str| {
        run.endpoints().iter().find(|e| e["service"] == s).unwrap()["certificate"]["name_match"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(by_service("c2s"), "SRV-ID");
    assert_eq!(by_service("s2s"), "XmppAddr");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_srv_falls_back_to_the_domain_address() {
    let pki = Pki::new();
    let domain = "fallback.example";
    let s = Scenario::prosody(Prosody::builder().vhost(domain).cert(&pki.leaf(&[domain])))
        .await
        .trusting(&pki)
        .serve_zone(|zone, s| zone.ip(domain, s.server().ip()))
        .await;
    // The fallback only uses 5222/5269: Prosody listens there on its own loopback address.
    assert_eq!((s.server().c2s_port(), s.server().s2s_port()), (5222, 5269));
    let run = s.check(domain, &["--timeout", "5"]).await;
    assert_eq!(run.verdict(), "pass", "{}", run.dump());
    for ep in run.endpoints() {
        assert_eq!(ep["source"], "fallback", "{}", run.dump());
    }
    let outcomes: Vec<&str> = run.json["discovery"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes.contains(&"fallback"), "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn srv_to_a_closed_port_is_inconclusive() {
    let pki = Pki::new();
    let domain = "closed.example";
    let ip = IpAddr::V4(crate::support::next_loopback_ip());
    let port = crate::support::free_port(ip);
    let run = Scenario::new()
        .trusting(&pki)
        .serve_zone(|zone, _| zone.xmpp(domain, "xmpp.closed.example", ip, port, port))
        .await
        .check(domain, &["--timeout", "2"])
        .await;
    assert_eq!(run.verdict(), "inconclusive", "{}", run.dump());
    assert_eq!(run.code, 3);
    assert_eq!(
        run.endpoints()[0]["error_kind"],
        "unreachable",
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn s2s_srv_target_dot_is_not_applicable() {
    let pki = Pki::new();
    let domain = "no-federation.example";
    let host = "xmpp.no-federation.example";
    let run = Scenario::prosody(Prosody::builder().vhost(domain).cert(&pki.leaf(&[domain])))
        .await
        .trusting(&pki)
        .serve_zone(|zone, s| {
            zone.srv(
                &format!("_xmpp-client._tcp.{domain}"),
                5,
                0,
                s.server().c2s_port(),
                host,
            )
            .srv(&format!("_xmpp-server._tcp.{domain}"), 0, 0, 0, ".")
            .ip(host, s.server().ip())
        })
        .await
        .check(domain, &["--timeout", "5"])
        .await;
    assert_eq!(
        run.status("s2s-tls-required"),
        "not-applicable",
        "{}",
        run.dump()
    );
    assert_eq!(run.verdict(), "pass", "{}", run.dump());
    assert!(run.endpoints().iter().all(|e| e["service"] == "c2s"));
}

/// Issue 13: a domain that serves no XMPP was "PASS", exit 0, with five not-applicable
/// requirements. Nothing was checked, so nothing passes.
#[tokio::test(flavor = "multi_thread")]
async fn a_domain_serving_no_xmpp_never_passes() {
    for (domain, dots) in [("nothing.example", true), ("empty.example", false)] {
        let run = Scenario::new()
            .serve_zone(|zone, _| {
                if dots {
                    zone.srv(&format!("_xmpp-client._tcp.{domain}"), 0, 0, 0, ".")
                        .srv(&format!("_xmpp-server._tcp.{domain}"), 0, 0, 0, ".")
                } else {
                    // No SRV, no A/AAAA: no endpoint at all.
                    zone.txt(domain, "v=spf1 -all")
                }
            })
            .await
            .check(domain, &["--timeout", "3"])
            .await;
        assert_eq!(run.verdict(), "no-service", "{}", run.dump());
        assert_eq!(run.code, 1, "{}", run.dump());
        assert_eq!(run.status("c2s-tls-required"), "not-applicable");
        assert_eq!(run.status("s2s-tls-required"), "not-applicable");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn servfail_is_inconclusive_never_a_fallback() {
    let domain = "servfail.example";
    let run = Scenario::new()
        .serve_zone(|zone, _| {
            zone.servfail(&format!("_xmpp-client._tcp.{domain}"))
                .servfail(&format!("_xmpp-server._tcp.{domain}"))
        })
        .await
        .check(domain, &["--timeout", "2"])
        .await;
    assert_eq!(run.verdict(), "inconclusive", "{}", run.dump());
    assert!(
        run.endpoints().iter().all(|e| e["source"] != "fallback"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn private_addresses_are_refused_without_allow_private() {
    let domain = "private.example";
    let s = Scenario::new()
        .serve_zone(|zone, _| {
            zone.xmpp(
                domain,
                "xmpp.private.example",
                "127.0.0.1".parse().unwrap(),
                5222,
                5269,
            )
        })
        .await;
    // Not `s.network_args()`: without --allow-private.
    let output = manifesto()
        .args([
            "check",
            domain,
            "--format",
            "json",
            "--resolver",
            &s.dns().resolver_arg(),
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["verdict"], "inconclusive", "{json:#}");
    assert_eq!(output.status.code(), Some(3));
    for ep in json["endpoints"].as_array().unwrap() {
        assert_eq!(ep["error_kind"], "policy", "{json:#}");
        assert!(ep.get("tls").is_none());
    }
}

async fn ejabberd_check(domain: &str, c2s_required: bool, s2s: S2sStarttls) -> CheckRun {
    let pki = Pki::new();
    let cert = pki.leaf(&[domain]);
    Scenario::ejabberd(
        Ejabberd::builder()
            .vhost(domain)
            .cert(&cert)
            .starttls_required(c2s_required)
            .s2s_use_starttls(s2s),
    )
    .await
    .trusting(&pki)
    .serve_domain(domain)
    .await
    .check(domain, &["--timeout", "5"])
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn ejabberd_required_is_verified_on_both_services() {
    let run = ejabberd_check("ejabberd-required.example", true, S2sStarttls::Required).await;
    assert_eq!(run.status("c2s-tls-required"), "pass", "{}", run.dump());
    assert_eq!(
        run.basis("c2s-tls-required"),
        Some("verified"),
        "{}",
        run.dump()
    );
    assert_eq!(run.status("s2s-tls-required"), "pass", "{}", run.dump());
    assert_eq!(
        run.basis("s2s-tls-required"),
        Some("verified"),
        "{}",
        run.dump()
    );
    assert_eq!(run.status("trusted-certificate"), "pass", "{}", run.dump());
    assert_eq!(run.verdict(), "pass", "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread")]
async fn ejabberd_optional_fails_on_both_services() {
    let run = ejabberd_check("ejabberd-optional.example", false, S2sStarttls::Optional).await;
    assert_eq!(run.status("c2s-tls-required"), "fail", "{}", run.dump());
    assert_eq!(run.status("s2s-tls-required"), "fail", "{}", run.dump());
    let fix = run.json["requirements"]["s2s-tls-required"]["fix"]
        .as_str()
        .unwrap();
    assert!(fix.contains("s2s_use_starttls"), "{fix}");
}

/// Every address of every target is checked, IPv4 and IPv6: one weak address fails the domain.
#[tokio::test(flavor = "multi_thread")]
async fn every_address_ipv4_and_ipv6_is_checked() {
    use std::net::Ipv6Addr;
    let pki = Pki::new();
    let domain = "dual-stack.example";
    let cert = pki.leaf(&[domain]);
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    // The same ports on both addresses, as one host behind A and AAAA records would have.
    let (v4, c2s, s2s) = loop {
        let (c, s) = (crate::support::free_port(v6), crate::support::free_port(v6));
        let v4 = IpAddr::V4(crate::support::next_loopback_ip());
        if std::net::TcpListener::bind((v4, c)).is_ok()
            && std::net::TcpListener::bind((v4, s)).is_ok()
        {
            break (v4, c, s);
        }
    };
    let at = |ip: IpAddr| {
        Prosody::builder()
            .vhost(domain)
            .cert(&cert)
            .ip(ip)
            .c2s_port(c2s)
            .s2s_port(s2s)
    };
    let host = "xmpp.dual-stack.example";
    // A strong server on the IPv4 address, a weak one on the IPv6 address.
    let run = Scenario::prosody(at(v4))
        .await
        .and_prosody(at(v6).c2s_require_encryption(false))
        .await
        .trusting(&pki)
        .serve_zone(|zone, s| {
            let [strong, weak] = s.servers() else {
                unreachable!("two servers")
            };
            zone.xmpp_at(domain, host, strong).ip(host, weak.ip())
        })
        .await
        .check(domain, &["--timeout", "5"])
        .await;
    let addresses: Vec<&str> = run
        .endpoints()
        .iter()
        .map(|e| e["address"].as_str().unwrap())
        .collect();
    assert_eq!(run.endpoints().len(), 4, "{}", run.dump());
    assert!(addresses.contains(&"::1"), "{addresses:?}");
    assert_eq!(run.status("c2s-tls-required"), "fail", "{}", run.dump());
    assert!(
        run.summary("c2s-tls-required").contains("[::1]"),
        "{}",
        run.dump()
    );
    assert_eq!(run.status("s2s-tls-required"), "pass", "{}", run.dump());
}
