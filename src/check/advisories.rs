//! Advisories: findings that never decide the verdict but that an operator should act on
//! (a certificate about to expire, TLS 1.3 missing, DNSSEC and DANE).

use std::collections::BTreeMap;

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::check::posture::Offer;
use crate::report::{Advisory, AdvisoryLevel, Endpoint, PostureOutcome};

/// A certificate that expires within this many days gets an advisory.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// Every advisory of a check's endpoints, as of `now`.
pub fn advisories(endpoints: &[Endpoint], now: OffsetDateTime) -> Vec<Advisory> {
    let mut out = Vec::new();
    out.extend(expiring_certificates(endpoints, now));
    out.extend(tls13_missing(endpoints));
    out
}

/// One advisory per certificate (leaf or intermediate, by SHA-256) that is still valid but
/// expires within [`EXPIRY_WARNING_DAYS`].
pub fn expiring_certificates(endpoints: &[Endpoint], now: OffsetDateTime) -> Vec<Advisory> {
    // sha256 -> (subject, not_after, days left, evidence lines)
    let mut soon: BTreeMap<String, (String, String, i64, Vec<String>)> = BTreeMap::new();
    for ep in endpoints {
        let Some(cert) = &ep.certificate else {
            continue;
        };
        for (i, c) in cert.chain.iter().enumerate() {
            let Ok(not_after) = OffsetDateTime::parse(&c.not_after, &Rfc3339) else {
                continue;
            };
            let left = not_after - now;
            if left <= Duration::ZERO || left > Duration::days(EXPIRY_WARNING_DAYS) {
                continue;
            }
            let role = if i == 0 {
                "certificate"
            } else {
                "intermediate certificate"
            };
            let entry = soon.entry(c.sha256.clone()).or_insert_with(|| {
                (
                    format!("{role} {}", c.subject),
                    c.not_after.clone(),
                    left.whole_days(),
                    Vec::new(),
                )
            });
            entry.3.push(format!(
                "{}: {role} {} (SHA-256 {}) expires {}",
                ep.label(),
                c.subject,
                c.sha256,
                c.not_after
            ));
        }
    }
    soon.into_values()
        .map(|(what, until, days, evidence)| Advisory {
            id: "certificate-expires-soon".into(),
            level: AdvisoryLevel::Warn,
            summary: format!(
                "The {what} expires on {until}, in {}: after that every peer will refuse it.",
                match days {
                    0 => "less than a day".to_string(),
                    1 => "1 day".to_string(),
                    d => format!("{d} days"),
                }
            ),
            fix: Some(
                "Renew it now and make renewal automatic (e.g. certbot with a deploy hook). Prosody: `prosodyctl --root cert import /etc/letsencrypt/live` then `prosodyctl reload`. ejabberd: enable the `acme:` section (auto renewal) or point `certfiles:` at the renewed files and run `ejabberdctl reload_config`.".into(),
            ),
            evidence,
        })
        .collect()
}

/// An advisory when some endpoint refuses TLS 1.3 (the manifesto asks for the latest TLS).
pub fn tls13_missing(endpoints: &[Endpoint]) -> Option<Advisory> {
    let evidence: Vec<String> = endpoints
        .iter()
        .filter(|ep| {
            ep.posture.iter().any(|p| {
                p.offer == Offer::Tls13.name()
                    && p.outcome == PostureOutcome::Refused
                    && !p.sent_hex.is_empty()
            })
        })
        .map(|ep| format!("{}: TLS 1.3 refused", ep.label()))
        .collect();
    if evidence.is_empty() {
        return None;
    }
    Some(Advisory {
        id: "tls13-not-offered".into(),
        level: AdvisoryLevel::Info,
        summary: format!(
            "{} endpoint{} refuse{} TLS 1.3, the latest TLS version.",
            evidence.len(),
            if evidence.len() == 1 { "" } else { "s" },
            if evidence.len() == 1 { "s" } else { "" }
        ),
        fix: Some(
            "Run the server with OpenSSL 1.1.1 or later. Prosody: `ssl = { protocol = \"tlsv1_2+\" }` (or `tls_profile = \"intermediate\"`), not `tlsv1_2` alone. ejabberd: do not add `no_tlsv1_3` to `protocol_options`.".into(),
        ),
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        CertificateDetails, CertificateInfo, EndpointSource, Mode, PostureProbe, Service,
    };

    fn ep(not_after: &str) -> Endpoint {
        Endpoint {
            service: Service::C2s,
            mode: Mode::Starttls,
            source: EndpointSource::Srv,
            host: "example.test".into(),
            port: 5222,
            address: "127.0.0.1".into(),
            priority: None,
            weight: None,
            stream: None,
            pre_tls_features: None,
            starttls: None,
            tls: None,
            certificate: Some(CertificateInfo {
                chain: vec![CertificateDetails {
                    subject: "CN=example.test".into(),
                    not_after: not_after.into(),
                    sha256: "ab".into(),
                    ..CertificateDetails::default()
                }],
                ..CertificateInfo::default()
            }),
            post_tls_features: None,
            probes: vec![],
            posture: vec![],
            post_tls_error: None,
            error: None,
            error_kind: None,
            duration_ms: 0,
            presented: Default::default(),
        }
    }

    #[test]
    fn expiry_window() {
        let now = OffsetDateTime::parse("2026-11-25T12:00:00Z", &Rfc3339).expect("now");
        let soon = advisories(
            &[ep("2026-12-05T12:22:21Z"), ep("2026-12-05T12:22:21Z")],
            now,
        );
        assert_eq!(soon.len(), 1, "one advisory per certificate");
        assert_eq!(soon[0].id, "certificate-expires-soon");
        assert_eq!(soon[0].evidence.len(), 2);
        assert!(
            soon[0].summary.contains("in 10 days"),
            "{}",
            soon[0].summary
        );
        assert!(advisories(&[ep("2027-01-05T00:00:00Z")], now).is_empty());
        assert!(
            advisories(&[ep("2026-11-01T00:00:00Z")], now).is_empty(),
            "expired: a failure elsewhere"
        );
        assert!(advisories(&[ep("garbage")], now).is_empty());
    }

    #[test]
    fn tls13() {
        let mut e = ep("2030-01-01T00:00:00Z");
        e.posture.push(PostureProbe {
            offer: "tls1.3".into(),
            outcome: PostureOutcome::Refused,
            selected_suite: None,
            sent_hex: "16".into(),
            received_hex: String::new(),
            detail: None,
        });
        let now = OffsetDateTime::parse("2026-11-25T12:00:00Z", &Rfc3339).expect("now");
        let a = advisories(&[e], now);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].id, "tls13-not-offered");
    }
}
