//! `trusted-certificate`: the certificate chains to a trusted CA, names the XMPP domain itself
//! (the reference identity of RFC 6120 §13.7.1.2 and RFC 6125, matched by
//! `crate::check::identity`: never only the SRV target) and is valid now.

use crate::check::grade::{Judgement, no_starttls, unreached};
use crate::report::{CertificateInfo, Endpoint, ErrorKind, Mode, Status};

pub(super) fn judge(ep: &Endpoint) -> Judgement {
    let Some(cert) = &ep.certificate else {
        return no_certificate(ep);
    };
    if cert.is_trusted() {
        let leaf = cert.chain.first();
        return Judgement::new(
            Status::Pass,
            format!(
                "trusted; {} matches; issued by {}; valid until {}",
                cert.name_match.as_deref().unwrap_or("name"),
                leaf.map(|l| l.issuer.as_str()).unwrap_or("?"),
                leaf.map(|l| l.not_after.as_str()).unwrap_or("?")
            ),
        );
    }
    Judgement::new(Status::Fail, problems(ep, cert).join("; "))
}

/// Why no certificate was seen: a server without STARTTLS or without a usable TLS handshake
/// fails; one that could not be reached is inconclusive.
fn no_certificate(ep: &Endpoint) -> Judgement {
    if no_starttls(ep) && ep.mode == Mode::Starttls {
        return Judgement::new(Status::Fail, "no certificate: STARTTLS is not offered");
    }
    match ep.error_kind {
        Some(ErrorKind::Protocol) if ep.pre_tls_features.is_none() => unreached(ep),
        Some(ErrorKind::TlsIncompatible) => Judgement::new(
            Status::Fail,
            format!(
                "no certificate was presented: {}",
                ep.error.as_deref().unwrap_or("the TLS handshake failed")
            ),
        ),
        _ => Judgement::new(
            Status::Inconclusive,
            format!(
                "no certificate could be obtained: {}",
                ep.error.as_deref().unwrap_or("TLS was not established")
            ),
        ),
    }
}

/// Every reason an untrusted certificate is untrusted.
fn problems(ep: &Endpoint, cert: &CertificateInfo) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(e) = &cert.chain_error {
        problems.push(e.clone());
    }
    if let Some(e) = &cert.name_error {
        // A certificate for the server host only is the common mistake: say so.
        let only_host = cert
            .chain
            .first()
            .is_some_and(|l| l.dns_names.iter().any(|n| n.eq_ignore_ascii_case(&ep.host)));
        if only_host && ep.host != e.as_str() {
            problems.push(format!(
                "it names only the server host {}, not the XMPP domain",
                ep.host
            ));
        } else {
            problems.push(e.clone());
        }
    }
    if cert.expired {
        let until = cert
            .chain
            .first()
            .map(|l| l.not_after.as_str())
            .unwrap_or("?");
        problems.push(format!("the certificate expired on {until}"));
    }
    if cert.not_yet_valid {
        problems.push("the certificate is not valid yet".into());
    }
    problems
}

pub(super) fn pass_summary(endpoints: &str, domain: &str) -> String {
    format!("The certificate on {endpoints} chains to a trusted CA, names {domain} and is valid.")
}

#[cfg(test)]
mod tests {
    use crate::check::grade::testkit::{Table, c2s, dns, s2s};
    use crate::report::IpFamily::Ipv4;
    use crate::report::RequirementId::TrustedCertificate;
    use crate::report::Service::{C2s, S2s};
    use crate::report::Status::{Fail, Inconclusive, NotApplicable, Pass};

    #[test]
    fn trusted_certificate() {
        let table = Table::new(TrustedCertificate)
            .case("pass: c2s and s2s", Pass, [c2s(), s2s()])
            .case("pass: Direct TLS", Pass, [c2s().direct_tls()])
            .case("fail: self-signed", Fail, [c2s().self_signed()])
            .case(
                "fail: names only the server host",
                Fail,
                [c2s().names_host_only()],
            )
            .case("fail: names another domain", Fail, [c2s().names_other()])
            .case("fail: expired", Fail, [c2s().expired()])
            .case("fail: not valid yet", Fail, [c2s().not_yet_valid()])
            .case(
                "fail: every problem at once",
                Fail,
                [c2s().self_signed().names_other().expired()],
            )
            .case(
                "fail: self-signed, Prosody detected",
                Fail,
                [c2s().self_signed().prosody()],
            )
            .case("fail: no STARTTLS", Fail, [c2s().no_starttls()])
            .case(
                "fail: no TLS 1.2/1.3 handshake",
                Fail,
                [c2s().tls_incompatible()],
            )
            .case(
                "fail: not XMPP before TLS",
                Fail,
                [c2s().protocol_error("protocol error: not an XML stream")],
            )
            .case(
                "inconclusive: unreachable",
                Inconclusive,
                [c2s().unreachable()],
            )
            .case("inconclusive: timeout", Inconclusive, [s2s().timeout()])
            .case_dns(
                "not-applicable: no XMPP service at all",
                NotApplicable,
                dns().absent(C2s).absent(S2s),
                [],
            )
            .case("inconclusive: no endpoint found", Inconclusive, [])
            .case_dns(
                "inconclusive: s2s SRV lookup failed beside passing endpoints",
                Inconclusive,
                dns().failed(S2s),
                [c2s()],
            )
            .case_dns(
                "fail: a failed lookup does not hide a fail",
                Fail,
                dns().failed(C2s),
                [s2s().expired()],
            )
            .case(
                "fail: the worst of three, across services",
                Fail,
                [c2s(), s2s().self_signed(), c2s().direct_tls()],
            )
            .case(
                "fail: two endpoints share the worst",
                Fail,
                [
                    c2s().unreachable(),
                    c2s().at("192.0.2.2").expired(),
                    s2s().expired(),
                ],
            );
        let table = coverage(table);
        insta::assert_snapshot!(table.run());
    }

    const V6: &str = "2001:db8::1";

    /// Endpoints never contacted: judged on the others, inconclusive when none was checked.
    fn coverage(table: Table) -> Table {
        table
            .case(
                "pass: judged over IPv4, the IPv6 endpoints not checked (no route)",
                Pass,
                [
                    c2s(),
                    s2s(),
                    c2s().at(V6).no_route(),
                    s2s().at(V6).no_route(),
                ],
            )
            .case(
                "fail: the IPv4 certificate expired, the IPv6 endpoint left out by --ip-family",
                Fail,
                [c2s().expired(), c2s().at(V6).excluded(Ipv4)],
            )
            .case(
                "inconclusive: nothing checked (IPv6 only, no route)",
                Inconclusive,
                [c2s().at(V6).no_route(), s2s().at(V6).no_route()],
            )
    }
}
