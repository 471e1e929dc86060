//! The `dnssec` and `dane` advisories of a check: never a failure of the manifesto.

use crate::check::dane::assess::Assessment;
use crate::check::dane::lookup::{DnssecStatus, TlsaLookup};
use crate::check::dane::tlsa::{DaneMatch, Tlsa, match_tlsa, suggested_tlsa, tlsa_name};
use crate::report::{Advisory, AdvisoryLevel, Endpoint};

/// `dnssec` and `dane` advisories of a check.
pub fn advisories(domain: &str, assessment: &Assessment, endpoints: &[Endpoint]) -> Vec<Advisory> {
    let mut out = Vec::new();
    // The resolver, not the domain: said once per run by the caller (RootCheck::note).
    if assessment.resolver_not_validating {
        return Vec::new();
    }
    let nothing = assessment.unavailable.is_none()
        && assessment.srv.is_empty()
        && assessment.srv_absent.is_empty()
        && assessment.hosts.is_empty();
    if !nothing {
        out.push(dnssec_advisory(domain, assessment));
    }
    for ((host, port), lookup) in &assessment.tlsa {
        out.push(dane_advisory(host, *port, lookup, endpoints));
    }
    out
}

fn dnssec_advisory(domain: &str, a: &Assessment) -> Advisory {
    if let Some(why) = &a.unavailable {
        return Advisory {
            id: "dnssec".into(),
            level: AdvisoryLevel::Info,
            summary: format!("The DNSSEC status of {domain} could not be determined: {why}."),
            fix: None,
            evidence: vec![],
        };
    }
    let mut evidence: Vec<String> = Vec::new();
    let mut worst = DnssecStatus::Secure;
    let mut bogus = 0;
    for (_, _, name, status) in &a.srv {
        evidence.push(line(&format!("{name} SRV"), status));
        bogus += usize::from(matches!(status, DnssecStatus::Bogus(_)));
        worst = worst.worst(status.clone());
    }
    for (_, _, name, status) in &a.srv_absent {
        evidence.push(line(&format!("{name} SRV (no record)"), status));
        bogus += usize::from(matches!(status, DnssecStatus::Bogus(_)));
        worst = worst.worst(status.clone());
    }
    for (host, status) in &a.hosts {
        evidence.push(line(&format!("{host} A/AAAA"), status));
        bogus += usize::from(matches!(status, DnssecStatus::Bogus(_)));
        worst = worst.worst(status.clone());
    }
    let (level, summary, fix) = match (&worst, evidence.is_empty()) {
        (_, true) => (
            AdvisoryLevel::Info,
            format!("{domain} has no SRV record or address to validate with DNSSEC."),
            None,
        ),
        (DnssecStatus::Secure, false) => (
            AdvisoryLevel::Info,
            format!(
                "The SRV records (and their absence) and addresses of {domain} are DNSSEC-signed and validate (secure): TLSA records (DANE) can protect its XMPP servers."
            ),
            None,
        ),
        (DnssecStatus::Bogus(_), _) => (
            AdvisoryLevel::Warn,
            format!(
                "DNSSEC signatures of {bogus} answer{} for {domain} do not validate (bogus): validating resolvers refuse them, so peers behind such resolvers cannot find the service, and discovery is inconclusive.",
                if bogus == 1 { "" } else { "s" }
            ),
            Some(
                "Re-sign the zone (expired or broken signatures) and check that the DS record at your registrar matches the zone's current key signing key (`dig +dnssec`, https://dnsviz.net). If the zone cannot be signed correctly, remove the DS record at the registrar first, then stop signing.".into(),
            ),
        ),
        (DnssecStatus::Insecure, _) => (
            AdvisoryLevel::Info,
            format!(
                "The SRV records or addresses of {domain} are not DNSSEC-signed (insecure): DNS answers can be forged, and DANE cannot be used."
            ),
            Some(
                "Enable DNSSEC signing at your DNS host and publish the DS record at your registrar; then publish TLSA records (`_5222._tcp.HOST` and `_5269._tcp.HOST`) for the XMPP servers.".into(),
            ),
        ),
        (DnssecStatus::Indeterminate(_), _) => (
            AdvisoryLevel::Info,
            format!("The DNSSEC status of some answers for {domain} could not be determined."),
            None,
        ),
    };
    Advisory {
        id: "dnssec".into(),
        level,
        summary,
        fix,
        evidence,
    }
}

fn line(what: &str, status: &DnssecStatus) -> String {
    match status.detail() {
        Some(d) => format!("{what}: {} ({d})", status.word()),
        None => format!("{what}: {}", status.word()),
    }
}

/// What an advisory says: its level, its sentence and the fix, if any.
type Finding = (AdvisoryLevel, String, Option<String>);

fn dane_advisory(host: &str, port: u16, lookup: &TlsaLookup, endpoints: &[Endpoint]) -> Advisory {
    let owner = tlsa_name(port, host);
    let owner = owner.trim_end_matches('.');
    let eps: Vec<&Endpoint> = endpoints
        .iter()
        .filter(|e| e.host == host && e.port == port && !e.presented.0.is_empty())
        .collect();
    let publish = record_to_publish(owner, &eps);
    let mut evidence = Vec::new();
    let (level, summary, fix) = match lookup {
        TlsaLookup::Secure(records) => {
            let matched = match_endpoints(records, &eps, &mut evidence);
            for r in records {
                evidence.push(format!("{owner}: TLSA {}", r.to_text()));
            }
            secure_records(owner, &publish, matched)
        }
        TlsaLookup::NoRecords => (
            AdvisoryLevel::Info,
            format!(
                "No TLSA record at {owner}: the service is DNSSEC-signed but does not use DANE."
            ),
            Some(format!(
                "Publish {publish}, and update it before every key change."
            )),
        ),
        TlsaLookup::Insecure => (
            AdvisoryLevel::Info,
            format!(
                "The TLSA records at {owner} are not DNSSEC-signed (insecure): DANE does not apply."
            ),
            Some(
                "Sign the zone that holds the TLSA records (DNSSEC) and publish its DS record."
                    .into(),
            ),
        ),
        TlsaLookup::Bogus(why) => {
            evidence.push(format!("{owner}: {why}"));
            (
                AdvisoryLevel::Warn,
                format!(
                    "The TLSA records at {owner} have DNSSEC signatures that do not validate (bogus): DANE-validating peers will refuse to connect."
                ),
                Some("Re-sign the zone that holds the TLSA records and check its DS record at the registrar.".into()),
            )
        }
        TlsaLookup::Error(why) => {
            evidence.push(format!("{owner}: {why}"));
            (
                AdvisoryLevel::Info,
                format!("The TLSA lookup at {owner} failed; DANE could not be checked."),
                None,
            )
        }
    };
    Advisory {
        id: "dane".into(),
        level,
        summary,
        fix,
        evidence,
    }
}

/// The record to publish: `3 1 1` of the presented certificate's key when one was seen.
fn record_to_publish(owner: &str, eps: &[&Endpoint]) -> String {
    let suggestion = eps.iter().find_map(|e| {
        e.presented
            .0
            .first()
            .and_then(|c| suggested_tlsa(c.as_ref()))
    });
    suggestion
        .as_deref()
        .map(|r| {
            format!("`{owner}. IN TLSA {r}` (DANE-EE, SHA-256 of the certificate's public key)")
        })
        .unwrap_or_else(|| format!("a `3 1 1` TLSA record at `{owner}`"))
}

/// How many endpoints the records matched, and how many they failed.
struct Matches {
    matched: usize,
    failed: usize,
}

/// Matches the records against each endpoint's presented chain, one evidence line each.
fn match_endpoints(records: &[Tlsa], eps: &[&Endpoint], evidence: &mut Vec<String>) -> Matches {
    let mut m = Matches {
        matched: 0,
        failed: 0,
    };
    for ep in eps {
        let trusted = ep.certificate.as_ref().is_some_and(|c| c.chain_trusted);
        match match_tlsa(records, &ep.presented.0, trusted) {
            DaneMatch::Matched { record, position } => {
                m.matched += 1;
                evidence.push(format!(
                    "{}: TLSA {record} matches the {} certificate",
                    ep.label(),
                    if position == 0 {
                        "server".to_string()
                    } else {
                        format!("chain's #{position}")
                    }
                ));
            }
            DaneMatch::NoMatch => {
                m.failed += 1;
                evidence.push(format!(
                    "{}: no TLSA record matches the presented chain",
                    ep.label()
                ));
            }
            DaneMatch::NoUsableRecords => evidence.push(format!(
                "{}: no usable TLSA record (unknown parameters, or PKIX usages on an untrusted chain)",
                ep.label()
            )),
        }
    }
    m
}

/// Secure TLSA records: a warn when they match no presented certificate (DANE-validating
/// peers refuse the server), else information.
fn secure_records(owner: &str, publish: &str, m: Matches) -> Finding {
    if m.failed > 0 {
        (
            AdvisoryLevel::Warn,
            format!(
                "The TLSA records at {owner} match no certificate presented there ({} endpoint{}): DANE-validating peers will refuse to connect.",
                m.failed,
                if m.failed == 1 { "" } else { "s" }
            ),
            Some(format!(
                "Publish {publish} and remove the stale records; when renewing, publish the new key's TLSA record before switching certificates (or keep the key)."
            )),
        )
    } else if m.matched > 0 {
        (
            AdvisoryLevel::Info,
            format!(
                "DANE: the DNSSEC-signed TLSA records at {owner} match the presented certificate (secure)."
            ),
            None,
        )
    } else {
        (
            AdvisoryLevel::Info,
            format!(
                "The TLSA records at {owner} could not be matched (no usable record, or no certificate was presented)."
            ),
            Some(format!("Publish {publish}.")),
        )
    }
}
