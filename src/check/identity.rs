//! Certificates: trust chain, the XMPP reference identity (RFC 6120 §13.7.1.2, RFC 6125) and
//! the details a report records.
//!
//! rustls' WebPki verifier only knows DNS-IDs, so chain and name are judged separately: the
//! chain with rustls' own trust-anchor check, the name by matching DNS-ID, SRV-ID and XmppAddr
//! against the XMPP domain (never the SRV target, never the CN).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::RootCertStore;
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::server::ParsedCertificate;
use rustls_pki_types::{CertificateDer, UnixTime};
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

use crate::report::{CertificateDetails, CertificateInfo, Mode, Service};

const OID_SRV_NAME: &str = "1.3.6.1.5.5.7.8.7";
const OID_XMPP_ADDR: &str = "1.3.6.1.5.5.7.8.5";

/// Trust anchors: Mozilla's roots plus any extra ones.
pub fn root_store(extra: &[CertificateDer<'static>]) -> (RootCertStore, usize) {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let (added, _ignored) = roots.add_parsable_certificates(extra.iter().cloned());
    (roots, added)
}

/// Judges a presented chain (leaf first) for `domain` offering `service`.
pub fn assess(
    chain: &[CertificateDer<'_>],
    domain: &str,
    service: Service,
    mode: Mode,
    roots: &RootCertStore,
    now: SystemTime,
) -> CertificateInfo {
    let mut info = CertificateInfo {
        chain: chain.iter().take(8).map(|c| details(c)).collect(),
        ..CertificateInfo::default()
    };
    let Some(leaf) = chain.first() else {
        info.chain_error = Some("the server presented no certificate".into());
        return info;
    };
    let parsed_leaf = X509Certificate::from_der(leaf.as_ref())
        .ok()
        .map(|(_, c)| c);
    let Some(x509) = parsed_leaf else {
        info.chain_error = Some("the certificate could not be parsed".into());
        return info;
    };
    let now_secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let not_before = x509.validity().not_before.timestamp();
    let not_after = x509.validity().not_after.timestamp();
    info.expired = now_secs > not_after;
    info.not_yet_valid = now_secs < not_before;

    // Judge the chain at a moment inside the validity period, so that an expired certificate
    // still tells whether it was otherwise issued by a trusted CA.
    let judge_at = if info.expired || info.not_yet_valid {
        (not_before + (not_after - not_before) / 2).max(0) as u64
    } else {
        now_secs.max(0) as u64
    };
    info.chain_trusted = false;
    match ParsedCertificate::try_from(leaf) {
        Ok(parsed) => {
            let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
            match verify_server_cert_signed_by_trust_anchor(
                &parsed,
                roots,
                &chain[1..],
                UnixTime::since_unix_epoch(Duration::from_secs(judge_at)),
                algs.all,
            ) {
                Ok(()) => info.chain_trusted = true,
                Err(e) => info.chain_error = Some(chain_error_text(&e, &x509, chain.len())),
            }
        }
        Err(e) => info.chain_error = Some(format!("the certificate is not usable: {e}")),
    }

    let names = identities(&x509);
    match match_reference_identity(&names, domain, service, mode) {
        Some(kind) => info.name_match = Some(kind.to_string()),
        None => info.name_error = Some(name_error_text(&names, domain)),
    }
    info
}

fn chain_error_text(e: &rustls::Error, x509: &X509Certificate<'_>, chain_len: usize) -> String {
    use rustls::CertificateError as C;
    if x509.subject() == x509.issuer() && chain_len == 1 {
        return "the certificate is self-signed".into();
    }
    match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
            "the certificate is not issued by a trusted CA (unknown issuer)".into()
        }
        rustls::Error::InvalidCertificate(C::BadSignature) => {
            "a signature in the chain is invalid".into()
        }
        rustls::Error::InvalidCertificate(C::Revoked) => "the certificate is revoked".into(),
        other => format!("the chain does not verify: {other}"),
    }
}

/// The names a certificate asserts, by kind.
#[derive(Debug, Default, Clone)]
pub struct Identities {
    pub dns: Vec<String>,
    pub srv: Vec<String>,
    pub xmpp: Vec<String>,
}

pub fn identities(x509: &X509Certificate<'_>) -> Identities {
    let mut ids = Identities::default();
    let Ok(Some(san)) = x509.subject_alternative_name() else {
        return ids;
    };
    for name in san.value.general_names.iter().take(256) {
        match name {
            GeneralName::DNSName(d) => ids.dns.push(d.to_ascii_lowercase()),
            GeneralName::OtherName(oid, value) => {
                let Some(text) = der_string(value) else {
                    continue;
                };
                let oid = oid.to_id_string();
                if oid == OID_SRV_NAME {
                    ids.srv.push(text.to_ascii_lowercase());
                } else if oid == OID_XMPP_ADDR {
                    ids.xmpp.push(text);
                }
            }
            _ => {}
        }
    }
    ids
}

/// Reads a DER UTF8String / IA5String, possibly wrapped in the `[0] EXPLICIT` of otherName.
fn der_string(mut bytes: &[u8]) -> Option<String> {
    for _ in 0..2 {
        let (tag, content) = der_tlv(bytes)?;
        match tag {
            0xa0 => bytes = content,
            0x0c | 0x16 => return std::str::from_utf8(content).ok().map(str::to_owned),
            _ => return None,
        }
    }
    None
}

fn der_tlv(bytes: &[u8]) -> Option<(u8, &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = if len0 < 0x80 {
        (len0 as usize, rest)
    } else {
        let n = (len0 & 0x7f) as usize;
        if n == 0 || n > 2 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    rest.get(..len).map(|c| (tag, c))
}

/// Which reference identity for `domain` the certificate satisfies, if any.
pub fn match_reference_identity(
    ids: &Identities,
    domain: &str,
    service: Service,
    mode: Mode,
) -> Option<&'static str> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if ids.dns.iter().any(|d| dns_id_matches(d, &domain)) {
        return Some("DNS-ID");
    }
    let srv_labels: &[&str] = match (service, mode) {
        (Service::C2s, Mode::Starttls) => &["_xmpp-client"],
        (Service::S2s, Mode::Starttls) => &["_xmpp-server"],
        (Service::C2s, Mode::DirectTls) => &["_xmpps-client", "_xmpp-client"],
        (Service::S2s, Mode::DirectTls) => &["_xmpps-server", "_xmpp-server"],
    };
    if ids.srv.iter().any(|s| {
        srv_labels.iter().any(|label| {
            s.trim_end_matches('.')
                .strip_prefix(label)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|rest| rest == domain)
        })
    }) {
        return Some("SRV-ID");
    }
    if ids.xmpp.iter().any(|x| {
        let ascii = idna::domain_to_ascii(x).unwrap_or_else(|_| x.to_ascii_lowercase());
        ascii == domain
    }) {
        return Some("XmppAddr");
    }
    None
}

/// RFC 6125 DNS-ID matching: exact, or a wildcard that is the whole left-most label.
fn dns_id_matches(presented: &str, domain: &str) -> bool {
    let presented = presented.trim_end_matches('.');
    if presented == domain {
        return true;
    }
    if let Some(rest) = presented.strip_prefix("*.") {
        if rest.contains('*') || !rest.contains('.') {
            return false;
        }
        return domain
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest);
    }
    false
}

fn name_error_text(ids: &Identities, domain: &str) -> String {
    let mut names: Vec<&str> = ids.dns.iter().map(String::as_str).collect();
    names.extend(ids.srv.iter().map(String::as_str));
    names.extend(ids.xmpp.iter().map(String::as_str));
    if names.is_empty() {
        return format!(
            "the certificate names no DNS-ID, SRV-ID or XmppAddr; it must name {domain}"
        );
    }
    let shown: Vec<String> = names.iter().take(8).map(|n| n.to_string()).collect();
    format!(
        "the certificate is not valid for the XMPP domain {domain}: it names {}",
        shown.join(", ")
    )
}

fn details(der: &CertificateDer<'_>) -> CertificateDetails {
    let sha256 = hex::encode(Sha256::digest(der.as_ref()));
    let Ok((_, x509)) = X509Certificate::from_der(der.as_ref()) else {
        return CertificateDetails {
            subject: "(unparsable certificate)".into(),
            sha256,
            ..CertificateDetails::default()
        };
    };
    let ids = identities(&x509);
    let cap = |v: Vec<String>| v.into_iter().take(64).collect::<Vec<_>>();
    CertificateDetails {
        subject: x509.subject().to_string(),
        issuer: x509.issuer().to_string(),
        dns_names: cap(ids.dns),
        srv_names: cap(ids.srv),
        xmpp_addrs: cap(ids.xmpp),
        not_before: rfc3339(x509.validity().not_before.timestamp()),
        not_after: rfc3339(x509.validity().not_after.timestamp()),
        key: key_description(&x509),
        sha256,
    }
}

fn rfc3339(ts: i64) -> String {
    ::time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&::time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ts.to_string())
}

fn key_description(x509: &X509Certificate<'_>) -> String {
    use x509_parser::public_key::PublicKey;
    match x509.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {} bits", rsa.key_size()),
        Ok(PublicKey::EC(ec)) => format!("EC {} bits", ec.key_size()),
        Ok(PublicKey::DSA(_)) => "DSA".into(),
        Ok(PublicKey::GostR3410(_)) | Ok(PublicKey::GostR3410_2012(_)) => "GOST".into(),
        _ => {
            let oid = x509.public_key().algorithm.algorithm.to_id_string();
            match oid.as_str() {
                "1.3.101.112" => "Ed25519".into(),
                "1.3.101.113" => "Ed448".into(),
                other => format!("key algorithm {other}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(dns: &[&str], srv: &[&str], xmpp: &[&str]) -> Identities {
        Identities {
            dns: dns.iter().map(|s| s.to_string()).collect(),
            srv: srv.iter().map(|s| s.to_string()).collect(),
            xmpp: xmpp.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn dns_id_exact_and_wildcard() {
        let c2s = (Service::C2s, Mode::Starttls);
        let m = |i: &Identities, d| match_reference_identity(i, d, c2s.0, c2s.1);
        assert_eq!(
            m(&ids(&["example.org"], &[], &[]), "example.org"),
            Some("DNS-ID")
        );
        assert_eq!(m(&ids(&["*.example.org"], &[], &[]), "example.org"), None);
        assert_eq!(
            m(&ids(&["*.example.org"], &[], &[]), "chat.example.org"),
            Some("DNS-ID")
        );
        assert_eq!(m(&ids(&["*.org"], &[], &[]), "example.org"), None);
        assert_eq!(
            m(&ids(&["x*.example.org"], &[], &[]), "xa.example.org"),
            None
        );
        assert_eq!(
            m(&ids(&["xmpp.example.org"], &[], &[]), "example.org"),
            None
        );
    }

    #[test]
    fn srv_id_is_service_specific() {
        let i = ids(&[], &["_xmpp-client.example.org"], &[]);
        assert_eq!(
            match_reference_identity(&i, "example.org", Service::C2s, Mode::Starttls),
            Some("SRV-ID")
        );
        assert_eq!(
            match_reference_identity(&i, "example.org", Service::S2s, Mode::Starttls),
            None
        );
    }

    #[test]
    fn xmpp_addr_matches_domain() {
        let i = ids(&[], &[], &["example.org"]);
        assert_eq!(
            match_reference_identity(&i, "example.org", Service::S2s, Mode::Starttls),
            Some("XmppAddr")
        );
    }

    #[test]
    fn der_strings() {
        assert_eq!(der_string(&[0x0c, 2, b'h', b'i']), Some("hi".into()));
        assert_eq!(
            der_string(&[0xa0, 4, 0x16, 2, b'h', b'i']),
            Some("hi".into())
        );
        assert_eq!(der_string(&[0x0c, 5, b'h']), None);
        assert_eq!(der_string(&[]), None);
        assert_eq!(der_string(&[0x0c, 0x85, 1, 1, 1, 1, 1]), None);
    }
}
