//! Coverage (issue 10): what the checker cannot see is its own limit, not the server's fault.
//!
//! A checker with no IPv6 route (as on GitHub-hosted runners) checking a dual-stack domain: the
//! IPv4 endpoint is a real Prosody, the IPv6 address a public one. Inside a loopback-only
//! network namespace (`support::netns`) only 127/8 and ::1 are routable, so that is exactly the
//! runner's situation, and nothing can leave the machine. Then `--ip-family` on a dual-stack
//! domain whose IPv6 endpoint is a lax Prosody on ::1: checked over IPv4 only, it passes and
//! says what it did not look at.

use std::net::{IpAddr, Ipv6Addr};

use serde_json::Value;
use xmpp_manifesto::output::markdown::escape;

use crate::netns_test_name;
use crate::support::Listen;
use crate::support::check::CheckRun;
use crate::support::netns;
use crate::support::pki::Pki;
use crate::support::prosody::Prosody;
use crate::support::scenario::Scenario;

/// Public by the address policy, so a checker without an IPv6 route cannot reach it (inside the
/// namespace the connect would fail locally: it is never even tried).
const GLOBAL_V6: Ipv6Addr = Ipv6Addr::new(0x2a01, 0x4f8, 0, 0, 0, 0, 0, 1);

/// The endpoints of `run` whose address is `address`.
fn endpoints_at<'a>(run: &'a CheckRun, address: &str) -> Vec<&'a Value> {
    run.endpoints()
        .iter()
        .filter(|e| e["address"] == address)
        .collect()
}

/// Coverage `status` and summary of a run.
fn coverage(run: &CheckRun) -> (&str, &str) {
    let c = &run.json["coverage"];
    (
        c["status"].as_str().unwrap_or_default(),
        c["summary"].as_str().unwrap_or_default(),
    )
}

/// Every endpoint at `address` was left alone with `reason`: not checked, never contacted.
fn assert_not_checked(run: &CheckRun, address: &str, reason: &str) {
    let eps = endpoints_at(run, address);
    assert_eq!(eps.len(), 2, "c2s and s2s at {address}: {}", run.dump());
    for ep in eps {
        assert_eq!(ep["error_kind"], "not-checked", "{}", run.dump());
        assert_eq!(ep["error"], reason, "{}", run.dump());
        // Never contacted: no probe ran, no stream was opened.
        assert_eq!(ep["probes"], Value::Array(vec![]), "{}", run.dump());
        assert!(ep.get("posture").is_none(), "{}", run.dump());
        assert!(ep.get("stream").is_none(), "{}", run.dump());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_ipv6_route_a_dual_stack_domain_passes_over_ipv4() {
    if !netns::enter(&netns_test_name!(
        "without_an_ipv6_route_a_dual_stack_domain_passes_over_ipv4"
    )) {
        return;
    }
    let pki = Pki::new();
    let domain = "no-ipv6-route.example";
    let host = "xmpp.no-ipv6-route.example";
    let s = Scenario::prosody(Prosody::builder().vhost(domain).cert(&pki.leaf(&[domain])))
        .await
        .trusting(&pki)
        .serve_zone(|zone, s| zone.xmpp_at(domain, host, s.server()).aaaa(host, GLOBAL_V6))
        .await;
    let v4 = s.server().ip().to_string();
    let run = s.check(domain, &["--timeout", "5"]).await;
    assert_eq!((run.code, run.verdict()), (0, "pass"), "{}", run.dump());
    assert_not_checked(
        &run,
        &GLOBAL_V6.to_string(),
        "this checker has no IPv6 route",
    );
    for ep in endpoints_at(&run, &v4) {
        assert!(ep.get("error_kind").is_none(), "{}", run.dump());
    }
    let (status, summary) = coverage(&run);
    assert_eq!(status, "partial", "{}", run.dump());
    assert_eq!(
        summary,
        "checked over IPv4 only: a lax IPv6 endpoint could not be seen from here \
         (2 IPv6 endpoints not checked: this checker has no IPv6 route)"
    );
    let families = &run.json["coverage"]["families"];
    assert_eq!(families[0]["family"], "ipv4");
    assert_eq!(
        (&families[0]["checked"], &families[0]["not_checked"]),
        (&2.into(), &0.into())
    );
    assert_eq!(
        (&families[1]["checked"], &families[1]["not_checked"]),
        (&0.into(), &2.into())
    );
    assert!(
        run.summary("c2s-tls-required")
            .ends_with("1 more endpoint was not checked (this checker has no IPv6 route)."),
        "{}",
        run.dump()
    );
    // Text and Markdown say it too.
    let text = s.render(domain, "text", &["--timeout", "5"]);
    assert!(text.contains(&format!("  coverage: {summary}\n")), "{text}");
    let markdown = s.render(domain, "markdown", &["--timeout", "5"]);
    assert!(
        markdown.contains(&format!("\nCoverage: {}.\n", escape(summary))),
        "{markdown}"
    );
    strict_and_excluded(&s, domain).await;
}

/// The same domain with `--require-full-coverage` (inconclusive), and with `--ip-family ipv6`
/// (nothing left to check: inconclusive, and nothing contacted).
async fn strict_and_excluded(s: &Scenario, domain: &str) {
    let strict = s
        .check(domain, &["--timeout", "5", "--require-full-coverage"])
        .await;
    assert_eq!(
        (strict.code, strict.verdict()),
        (3, "inconclusive"),
        "{}",
        strict.dump()
    );
    for id in [
        "c2s-tls-required",
        "s2s-tls-required",
        "trusted-certificate",
    ] {
        assert_eq!(strict.status(id), "inconclusive", "{}", strict.dump());
        assert!(
            strict.summary(id).contains("--require-full-coverage"),
            "{}",
            strict.dump()
        );
    }
    assert_eq!(coverage(&strict).0, "partial");
    let v6_only = s
        .check(domain, &["--timeout", "5", "--ip-family", "ipv6"])
        .await;
    assert_eq!(
        (v6_only.code, v6_only.verdict()),
        (3, "inconclusive"),
        "{}",
        v6_only.dump()
    );
    assert_not_checked(
        &v6_only,
        &s.server().ip().to_string(),
        "excluded by --ip-family ipv6",
    );
    assert_not_checked(
        &v6_only,
        &GLOBAL_V6.to_string(),
        "this checker has no IPv6 route",
    );
    assert_eq!(
        coverage(&v6_only),
        (
            "none",
            "nothing could be checked from here (2 IPv4 endpoints not checked: excluded by \
             --ip-family ipv6; 2 IPv6 endpoints not checked: this checker has no IPv6 route)"
        )
    );
    assert!(
        v6_only
            .summary("c2s-tls-required")
            .starts_with("Nothing could be seen: "),
        "{}",
        v6_only.dump()
    );
}

/// `--ip-family ipv4` on a dual-stack domain whose IPv6 endpoint does not require TLS: checked
/// over IPv4 only, it passes and says the IPv6 endpoints were left out; over both it fails,
/// and over IPv6 only it fails on what it saw.
#[tokio::test(flavor = "multi_thread")]
async fn ip_family_checks_one_family_and_says_so() {
    let pki = Pki::new();
    let domain = "one-family.example";
    let host = "xmpp.one-family.example";
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
    let s = Scenario::prosody(at(v4))
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
        .await;
    let both = s.check(domain, &["--timeout", "5"]).await;
    assert_eq!(both.status("c2s-tls-required"), "fail", "{}", both.dump());
    assert_eq!(
        coverage(&both),
        ("full", "checked every endpoint found, over IPv4 and IPv6")
    );
    let ipv4 = s
        .check(domain, &["--timeout", "5", "--ip-family", "ipv4"])
        .await;
    assert_eq!((ipv4.code, ipv4.verdict()), (0, "pass"), "{}", ipv4.dump());
    assert_not_checked(&ipv4, "::1", "excluded by --ip-family ipv4");
    assert_eq!(
        coverage(&ipv4),
        (
            "partial",
            "checked over IPv4 only: a lax IPv6 endpoint could not be seen from here \
             (2 IPv6 endpoints not checked: excluded by --ip-family ipv4)"
        )
    );
    let ipv6 = s
        .check(domain, &["--timeout", "5", "--ip-family", "ipv6"])
        .await;
    assert_eq!(ipv6.status("c2s-tls-required"), "fail", "{}", ipv6.dump());
    assert_not_checked(&ipv6, &v4.to_string(), "excluded by --ip-family ipv6");
    assert!(
        coverage(&ipv6).1.starts_with("checked over IPv6 only: "),
        "{}",
        ipv6.dump()
    );
}
