//! TLS posture (issue 4) against real peers: what Prosody and ejabberd still accept (TLS 1.0,
//! static-RSA suites), Direct TLS endpoints behind `_xmpps-*` SRV records, and the expiry
//! advisory. The same scenarios as `scripts/posture-scenarios.sh`, on the tests/support harness.

use serde_json::Value;

use crate::support::Listen;
use crate::support::check::CheckRun;
use crate::support::ejabberd::{Ejabberd, S2sStarttls};
use crate::support::pki::{LeafSpec, Pki};
use crate::support::prosody::Prosody;
use crate::support::scenario::Scenario;

/// offer -> outcome of one endpoint's posture probes.
fn posture(ep: &Value) -> std::collections::BTreeMap<String, String> {
    ep["posture"]
        .as_array()
        .map(|probes| {
            probes
                .iter()
                .map(|p| {
                    (
                        p["offer"].as_str().unwrap_or_default().to_string(),
                        p["outcome"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn advisory_ids(run: &CheckRun) -> Vec<String> {
    let mut ids: Vec<String> = run.json["advisories"]
        .as_array()
        .expect("advisories array")
        .iter()
        .filter_map(|a| a["id"].as_str().map(str::to_string))
        // Every check has a `dnssec` advisory (here: undetermined, the test zone is unsigned).
        .filter(|id| id != "dnssec")
        .collect();
    ids.sort();
    ids
}

/// Prosody accepting TLS 1.0 and AES128-SHA (static RSA, RSA certificate), with Direct TLS on
/// both services behind `_xmpps-*` SRV records and a certificate expiring in 10 days.
#[tokio::test(flavor = "multi_thread")]
async fn prosody_weak_direct_tls_expiring() {
    let pki = Pki::new();
    let domain = "weak-posture.example";
    let (s, direct_ports) = weak_prosody_with_direct_tls(&pki, domain).await;
    let run = s.check(domain, &["--timeout", "5"]).await;

    assert_eq!(run.status("modern-tls"), "warn", "{}", run.dump());
    assert_eq!(run.status("forward-secrecy"), "warn", "{}", run.dump());
    assert_eq!(run.status("c2s-tls-required"), "pass", "{}", run.dump());
    assert_eq!(run.status("trusted-certificate"), "pass", "{}", run.dump());
    // Warnings do not fail the manifesto.
    assert_eq!(run.verdict(), "pass", "{}", run.dump());
    let modern_fix = run.json["requirements"]["modern-tls"]["fix"]
        .as_str()
        .unwrap_or_default();
    assert!(modern_fix.contains("protocol"), "{}", run.dump());

    let eps = run.endpoints();
    assert_eq!(eps.len(), 4, "{}", run.dump());
    assert_direct_tls_sessions(&run, direct_ports);
    for ep in eps {
        let p = posture(ep);
        assert_eq!(p.len(), 9, "9 posture probes per endpoint: {}", run.dump());
        assert_eq!(p["tls1.0"], "accepted", "{}", run.dump());
        assert_eq!(p["sslv3"], "refused", "{}", run.dump());
        assert_eq!(p["tls1.2-static-rsa"], "accepted", "{}", run.dump());
    }
    assert_expiry_advisory(&run);
}

/// The weak Prosody of [`prosody_weak_direct_tls_expiring`], its STARTTLS and Direct TLS
/// ports published under `xmpp.DOMAIN`; also returns its Direct TLS ports (c2s, s2s).
async fn weak_prosody_with_direct_tls(pki: &Pki, domain: &str) -> (Scenario, [u16; 2]) {
    let host = format!("xmpp.{domain}");
    let cert = pki.issue(LeafSpec::new(&[domain]).rsa(2048).expires_in_days(10));
    let s = Scenario::prosody(
        Prosody::builder()
            .vhost(domain)
            .cert(&cert)
            .c2s_require_encryption(true)
            .s2s_require_encryption(true)
            .tls_protocol("tlsv1+")
            .tls_ciphers("DEFAULT:AES128-SHA:@SECLEVEL=0")
            .c2s_direct_tls(true)
            .s2s_direct_tls(true),
    )
    .await;
    let c2s_direct = s
        .server()
        .c2s_direct_tls_port()
        .expect("c2s Direct TLS port");
    let s2s_direct = s
        .server()
        .s2s_direct_tls_port()
        .expect("s2s Direct TLS port");
    let s = s
        .trusting(pki)
        .serve_zone(|zone, s| {
            zone.xmpp_at(domain, &host, s.server())
                .srv(
                    &format!("_xmpps-client._tcp.{domain}"),
                    5,
                    0,
                    c2s_direct,
                    &host,
                )
                .srv(
                    &format!("_xmpps-server._tcp.{domain}"),
                    5,
                    0,
                    s2s_direct,
                    &host,
                )
        })
        .await;
    (s, [c2s_direct, s2s_direct])
}

/// Both Direct TLS endpoints were found through their SRV records and reached a real session:
/// TLS from the first byte, a certificate, and the features of each service after TLS.
fn assert_direct_tls_sessions(run: &CheckRun, [c2s_direct, s2s_direct]: [u16; 2]) {
    let direct: Vec<&Value> = run
        .endpoints()
        .iter()
        .filter(|e| e["mode"] == "direct-tls")
        .collect();
    assert_eq!(direct.len(), 2, "{}", run.dump());
    for ep in &direct {
        assert!(
            ep["tls"].is_object(),
            "Direct TLS handshake: {}",
            run.dump()
        );
        assert!(ep["certificate"].is_object(), "{}", run.dump());
        assert!(ep["post_tls_features"].is_object(), "{}", run.dump());
        let alpn = ep["tls"]["alpn"].as_str().unwrap_or_default();
        let want = if ep["service"] == "c2s" {
            "xmpp-client"
        } else {
            "xmpp-server"
        };
        // The features after TLS are those of a real session: SASL for clients, dialback
        // for servers.
        if ep["service"] == "c2s" {
            assert!(
                ep["post_tls_features"]["sasl_mechanisms"]
                    .as_array()
                    .is_some_and(|m| !m.is_empty()),
                "{}",
                run.dump()
            );
        } else {
            assert_eq!(ep["post_tls_features"]["dialback"], true, "{}", run.dump());
        }
        // Prosody 0.12 negotiates no ALPN (it ignores the one we offer); never another one.
        assert!(alpn.is_empty() || alpn == want, "{}", run.dump());
    }
    let ports: Vec<u64> = direct.iter().filter_map(|e| e["port"].as_u64()).collect();
    assert!(ports.contains(&u64::from(c2s_direct)), "{}", run.dump());
    assert!(ports.contains(&u64::from(s2s_direct)), "{}", run.dump());
}

/// The certificate expiring in 10 days is the one advisory (beside `dnssec`): a warning that
/// says how many days are left and to renew.
fn assert_expiry_advisory(run: &CheckRun) {
    assert_eq!(
        advisory_ids(run),
        ["certificate-expires-soon"],
        "{}",
        run.dump()
    );
    let adv = run.json["advisories"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == "certificate-expires-soon"))
        .expect("expiry advisory");
    assert_eq!(adv["level"], "warn");
    assert!(
        adv["summary"].as_str().unwrap_or_default().contains("days"),
        "{}",
        run.dump()
    );
    assert!(adv["fix"].as_str().unwrap_or_default().contains("Renew"));
}

/// Default Prosody 0.12 (ECDSA certificate): TLS 1.2+ only, forward-secret suites only.
#[tokio::test(flavor = "multi_thread")]
async fn prosody_default_passes_posture() {
    let pki = Pki::new();
    let domain = "good-posture.example";
    let cert = pki.leaf(&[domain]);
    let run = Scenario::prosody(
        Prosody::builder()
            .vhost(domain)
            .cert(&cert)
            .c2s_require_encryption(true)
            .s2s_require_encryption(true),
    )
    .await
    .trusting(&pki)
    .serve_domain(domain)
    .await
    .check(domain, &["--timeout", "5"])
    .await;
    assert_eq!(run.status("modern-tls"), "pass", "{}", run.dump());
    assert_eq!(run.status("forward-secrecy"), "pass", "{}", run.dump());
    assert_eq!(run.verdict(), "pass", "{}", run.dump());
    for ep in run.endpoints() {
        let p = posture(ep);
        assert_eq!(p["sslv2"], "refused", "{}", run.dump());
        assert_eq!(p["sslv3"], "refused", "{}", run.dump());
        assert_eq!(p["tls1.0"], "refused", "{}", run.dump());
        assert_eq!(p["tls1.1"], "refused", "{}", run.dump());
        assert_eq!(p["tls1.2"], "accepted", "{}", run.dump());
        assert_eq!(p["tls1.2-static-rsa"], "refused", "{}", run.dump());
    }
    assert!(
        !advisory_ids(&run).contains(&"certificate-expires-soon".to_string()),
        "{}",
        run.dump()
    );
}

/// ejabberd with `protocol_options` that keep TLS 1.0 and a cipher list with a static-RSA
/// suite: the same warnings, with ejabberd's words in the fixes.
#[tokio::test(flavor = "multi_thread")]
async fn ejabberd_weak_posture_warns() {
    let pki = Pki::new();
    let domain = "ejabberd-posture.example";
    let cert = pki.issue(LeafSpec::new(&[domain]).rsa(2048));
    let run = Scenario::ejabberd(
        Ejabberd::builder()
            .vhost(domain)
            .cert(&cert)
            .starttls_required(true)
            .s2s_use_starttls(S2sStarttls::Required)
            .protocol_options(&["no_sslv2", "no_sslv3"])
            .ciphers("DEFAULT:AES128-SHA:@SECLEVEL=0"),
    )
    .await
    .trusting(&pki)
    .serve_domain(domain)
    .await
    .check(domain, &["--timeout", "5"])
    .await;
    assert_eq!(run.status("modern-tls"), "warn", "{}", run.dump());
    assert_eq!(run.status("forward-secrecy"), "warn", "{}", run.dump());
    let c2s = run
        .endpoints()
        .iter()
        .find(|ep| ep["service"] == "c2s")
        .expect("c2s endpoint");
    let p = posture(c2s);
    assert_eq!(p["tls1.0"], "accepted", "{}", run.dump());
    assert_eq!(p["sslv3"], "refused", "{}", run.dump());
    assert_eq!(p["tls1.2-static-rsa"], "accepted", "{}", run.dump());
}
