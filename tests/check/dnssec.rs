//! DNSSEC and DANE (issue 4): a zone signed in the test and served in-process, the verifier's
//! validating resolver pointed at its key with `--trust-anchor`, and TLSA records matched
//! against the chain a real Prosody presents. Advisories only: never a failure of the manifesto;
//! a bogus signature makes discovery inconclusive.

use std::time::Duration;

use hickory_proto::rr::RecordType;
use serde_json::Value;
use xmpp_manifesto::check::dane::{self, TlsaLookup};

use crate::support::check::CheckRun;
use crate::support::cli::manifesto;
use crate::support::dns::{DnsServer, Zone};
use crate::support::pki::{Cert, Pki};
use crate::support::prosody::{Prosody, ProsodyBuilder};
use crate::support::scenario::Scenario;

/// The harness itself: a signed zone validates, a corrupted signature does not.
#[tokio::test(flavor = "multi_thread")]
async fn harness_signs_and_breaks_signatures() {
    let dns = DnsServer::start(
        Zone::new()
            .srv("_xmpp-client._tcp.good.test", 5, 0, 5222, "xmpp.good.test")
            .a("xmpp.good.test", "127.0.0.9".parse().expect("ip"))
            .tlsa("_5222._tcp.xmpp.good.test", 3, 1, 1, &[7; 32])
            .srv("_xmpp-client._tcp.bad.test", 5, 0, 5222, "xmpp.bad.test")
            .bogus("_xmpp-client._tcp.bad.test"),
    )
    .await;
    let anchor = dns
        .trust_anchor_file()
        .expect("a signed zone has a trust anchor");
    let text = std::fs::read_to_string(anchor).expect("read the trust anchor");
    assert!(text.contains("DNSKEY"), "{text}");
    let resolver = dane::validating_resolver(&[dns.addr()], Duration::from_secs(3), Some(anchor))
        .expect("validating resolver");
    let proofs = |name: &'static str, rtype: RecordType| {
        let resolver = resolver.clone();
        async move {
            resolver
                .lookup(name, rtype)
                .await
                .map(|l| {
                    l.answers()
                        .iter()
                        .filter(|r| r.record_type() == rtype)
                        .map(|r| r.proof.to_string())
                        .collect::<Vec<_>>()
                })
                .map_err(|e| e.to_string())
        }
    };
    assert_eq!(
        proofs("_xmpp-client._tcp.good.test.", RecordType::SRV).await,
        Ok(vec!["Secure".to_string()])
    );
    assert_eq!(
        proofs("xmpp.good.test.", RecordType::A).await,
        Ok(vec!["Secure".to_string()])
    );
    let bad = proofs("_xmpp-client._tcp.bad.test.", RecordType::SRV).await;
    assert!(
        matches!(&bad, Err(e) if e.contains("DNSSEC"))
            || matches!(&bad, Ok(p) if p.iter().all(|p| p == "Bogus")),
        "{bad:?}"
    );
    assert_eq!(
        dane::lookup_tlsa(&resolver, "_5222._tcp.xmpp.good.test.").await,
        TlsaLookup::Secure(vec![dane::Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: vec![7; 32]
        }])
    );
}

fn advisories<'a>(run: &'a CheckRun, id: &str) -> Vec<&'a Value> {
    run.json["advisories"]
        .as_array()
        .expect("advisories array")
        .iter()
        .filter(|a| a["id"] == id)
        .collect()
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

/// Prosody for `domain` with `cert`, requiring TLS on both services.
fn strict_prosody(domain: &str, cert: &Cert) -> ProsodyBuilder {
    Prosody::builder()
        .vhost(domain)
        .cert(cert)
        .c2s_require_encryption(true)
        .s2s_require_encryption(true)
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_zone_is_secure_and_tlsa_matches() {
    let pki = Pki::new();
    let domain = "dane.example";
    let host = format!("xmpp.{domain}");
    let cert = pki.leaf(&[domain]);
    let record = dane::suggested_tlsa(&cert.der).expect("3 1 1 record of the leaf");
    let digest = hex::decode(record.rsplit(' ').next().unwrap_or_default()).expect("hex digest");
    // The check trusts the signed zone's key (--trust-anchor) by itself.
    let s = Scenario::prosody(strict_prosody(domain, &cert))
        .await
        .trusting(&pki)
        .serve_zone(|zone, s| {
            let p = s.server();
            zone.xmpp_at(domain, &host, p)
                // c2s: the right key; s2s: a stale one.
                .tlsa(&format!("_{}._tcp.{host}", p.c2s_port()), 3, 1, 1, &digest)
                .tlsa(&format!("_{}._tcp.{host}", p.s2s_port()), 3, 1, 1, &[0; 32])
                .signed()
        })
        .await;
    let p = s.server();
    let run = s.check(domain, &["--timeout", "5"]).await;

    // Advisories never decide the verdict.
    assert_eq!(run.verdict(), "pass", "{}", run.dump());
    assert_eq!(run.code, 0, "{}", run.dump());
    let dnssec = advisories(&run, "dnssec");
    assert_eq!(dnssec.len(), 1, "{}", run.dump());
    assert_eq!(dnssec[0]["level"], "info", "{}", run.dump());
    assert!(
        text(dnssec[0], "summary").contains("(secure)"),
        "{}",
        run.dump()
    );
    let evidence = dnssec[0]["evidence"].to_string();
    assert!(
        evidence.contains(&format!("_xmpp-client._tcp.{domain} SRV: secure")),
        "{}",
        run.dump()
    );
    assert!(
        evidence.contains(&format!("{host} A/AAAA: secure")),
        "{}",
        run.dump()
    );
    // The absence of Direct TLS SRV records is proven too (NSEC).
    assert!(
        evidence.contains(&format!(
            "_xmpps-client._tcp.{domain} SRV (no record): secure"
        )),
        "{}",
        run.dump()
    );

    let dane = advisories(&run, "dane");
    assert_eq!(dane.len(), 2, "one per TLSA name: {}", run.dump());
    let c2s_owner = format!("_{}._tcp.{host}", p.c2s_port());
    let s2s_owner = format!("_{}._tcp.{host}", p.s2s_port());
    let c2s = dane
        .iter()
        .find(|a| text(a, "summary").contains(&c2s_owner))
        .expect("c2s dane advisory");
    assert_eq!(c2s["level"], "info", "{}", run.dump());
    assert!(text(c2s, "summary").contains("match"), "{}", run.dump());
    assert!(
        c2s["evidence"]
            .to_string()
            .contains(&format!("TLSA {record} matches the server certificate")),
        "{}",
        run.dump()
    );
    let s2s = dane
        .iter()
        .find(|a| text(a, "summary").contains(&s2s_owner))
        .expect("s2s dane advisory");
    assert_eq!(s2s["level"], "warn", "{}", run.dump());
    assert!(
        text(s2s, "summary").contains("match no certificate"),
        "{}",
        run.dump()
    );
    assert!(
        text(s2s, "fix").contains(&format!("`{s2s_owner}. IN TLSA {record}`")),
        "the fix names the record to publish: {}",
        run.dump()
    );

    // Every output format shows both findings.
    let text_out = s.render(domain, "text", &["--timeout", "5"]);
    assert!(text_out.contains("advisory info dnssec:"), "{text_out}");
    assert!(text_out.contains("advisory warn dane:"), "{text_out}");
    assert!(text_out.contains(&record), "{text_out}");
    let md = s.render(domain, "markdown", &["--timeout", "5"]);
    assert!(md.contains("**dnssec** (info)"), "{md}");
    assert!(md.contains("**dane** (warn)"), "{md}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bogus_signature_makes_discovery_inconclusive() {
    let pki = Pki::new();
    let domain = "bogus-dnssec.example";
    let host = format!("xmpp.{domain}");
    let cert = pki.leaf(&[domain]);
    let s = Scenario::prosody(strict_prosody(domain, &cert))
        .await
        .trusting(&pki)
        .serve_zone(|zone, s| {
            zone.xmpp_at(domain, &host, s.server())
                .bogus(&format!("_xmpp-client._tcp.{domain}"))
        })
        .await;
    let p = s.server();
    let run = s.check(domain, &["--timeout", "5"]).await;

    assert_eq!(run.verdict(), "inconclusive", "{}", run.dump());
    assert_eq!(run.code, 3, "{}", run.dump());
    assert_eq!(
        run.status("c2s-tls-required"),
        "inconclusive",
        "{}",
        run.dump()
    );
    // The s2s SRV record validates: that service keeps its verdict.
    assert_eq!(run.status("s2s-tls-required"), "pass", "{}", run.dump());
    let dnssec = advisories(&run, "dnssec");
    assert_eq!(dnssec.len(), 1, "{}", run.dump());
    assert_eq!(dnssec[0]["level"], "warn", "{}", run.dump());
    assert!(
        text(dnssec[0], "summary").contains("(bogus)"),
        "{}",
        run.dump()
    );
    assert!(
        text(dnssec[0], "fix").contains("DS record"),
        "{}",
        run.dump()
    );
    assert!(
        dnssec[0]["evidence"]
            .to_string()
            .contains(&format!("_xmpp-client._tcp.{domain} SRV: bogus")),
        "{}",
        run.dump()
    );
    let record = run.json["discovery"]
        .as_array()
        .expect("discovery")
        .iter()
        .find(|r| r["name"] == format!("_xmpp-client._tcp.{domain}"))
        .expect("c2s SRV discovery record");
    assert_eq!(record["outcome"], "error", "{}", run.dump());
    assert!(text(record, "detail").contains("bogus"), "{}", run.dump());
    // No DANE conclusion rests on bogus answers: only the s2s target (secure SRV and
    // addresses) gets a TLSA lookup, and it has no record.
    let dane = advisories(&run, "dane");
    assert_eq!(dane.len(), 1, "{}", run.dump());
    let s2s_owner = format!("_{}._tcp.{host}", p.s2s_port());
    assert!(
        text(dane[0], "summary").starts_with(&format!("No TLSA record at {s2s_owner}")),
        "{}",
        run.dump()
    );
    assert_eq!(dane[0]["level"], "info", "{}", run.dump());
}

/// Without a signed zone (and with the IANA root keys), nothing is claimed about the domain.
#[tokio::test(flavor = "multi_thread")]
async fn unsigned_zone_claims_nothing() {
    let pki = Pki::new();
    let domain = "unsigned.example";
    let cert = pki.leaf(&[domain]);
    let run = Scenario::prosody(strict_prosody(domain, &cert))
        .await
        .trusting(&pki)
        .serve_domain(domain)
        .await
        .check(domain, &["--timeout", "5"])
        .await;
    assert_eq!(run.verdict(), "pass", "{}", run.dump());
    // A resolver that returns no signatures for the root zone is the checker's limit, not the
    // domain's: no advisory on the domain, one note per run on stderr (issue 10).
    assert!(advisories(&run, "dnssec").is_empty(), "{}", run.dump());
    assert!(advisories(&run, "dane").is_empty(), "{}", run.dump());
    assert_eq!(
        run.stderr
            .matches("this resolver does not validate DNSSEC")
            .count(),
        1,
        "{}",
        run.dump()
    );
}

#[test]
fn bad_trust_anchor_file_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("anchor.key");
    std::fs::write(&path, "this is not a DNSKEY record\n").expect("write");
    let out = manifesto()
        .args(["check", "example.test", "--trust-anchor"])
        .arg(&path)
        .output()
        .expect("run manifesto");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("trust anchor"),
        "{out:?}"
    );
}
