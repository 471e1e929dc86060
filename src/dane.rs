//! DANE (RFC 6698, RFC 7671, RFC 7673 for SRV): TLSA records at `_PORT._tcp.TARGET` matched
//! against the chain a server presents. Advisory only: never a failure of the manifesto.
//!
//! Status: the matcher ([`match_tlsa`]) and the DNSSEC-validating TLSA lookup ([`lookup_tlsa`])
//! are done and tested; wiring them into discovery (SRV/A/AAAA proofs, `--trust-anchor`, bogus
//! answers making discovery inconclusive) and into the advisories is still to do.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::dnssec::{Proof, TrustAnchors};
use hickory_resolver::proto::rr::{RData, RecordType};
use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256, Sha512};
use x509_parser::prelude::*;

/// Most TLSA records used per name.
pub const MAX_TLSA_RECORDS: usize = 16;

/// One TLSA record (RFC 6698 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// 0 full certificate, 1 SubjectPublicKeyInfo.
    pub selector: u8,
    /// 0 exact, 1 SHA-256, 2 SHA-512.
    pub matching: u8,
    pub data: Vec<u8>,
}

impl Tlsa {
    /// Presentation form, e.g. `3 1 1 ab12...`.
    pub fn to_text(&self) -> String {
        format!(
            "{} {} {} {}",
            self.usage,
            self.selector,
            self.matching,
            hex::encode(&self.data)
        )
    }
}

/// The owner name of the TLSA records of a service (RFC 7673 §3: the SRV target and port).
pub fn tlsa_name(port: u16, target: &str) -> String {
    format!("_{port}._tcp.{}.", target.trim_end_matches('.'))
}

/// What the TLSA records say about a presented chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaneMatch {
    /// A usable record matched; `position` is the index in the presented chain (leaf = 0).
    Matched { record: String, position: usize },
    /// Usable records exist but none matched: a DANE client would refuse the server.
    NoMatch,
    /// No record is usable (unknown usage, selector or matching type, or PKIX usages on a
    /// chain that is not PKIX-valid): DANE does not apply (RFC 7671 §4.1).
    NoUsableRecords,
}

/// The bytes a selector picks from one certificate.
fn selected(cert: &[u8], selector: u8) -> Option<Vec<u8>> {
    match selector {
        0 => Some(cert.to_vec()),
        1 => X509Certificate::from_der(cert)
            .ok()
            .map(|(_, c)| c.tbs_certificate.subject_pki.raw.to_vec()),
        _ => None,
    }
}

fn matches(record: &Tlsa, cert: &[u8]) -> bool {
    let Some(bytes) = selected(cert, record.selector) else {
        return false;
    };
    match record.matching {
        0 => bytes == record.data,
        1 => Sha256::digest(&bytes).as_slice() == record.data.as_slice(),
        2 => Sha512::digest(&bytes).as_slice() == record.data.as_slice(),
        _ => false,
    }
}

/// Matches TLSA records against a presented chain (leaf first). `pkix_trusted` tells whether
/// the chain validates to a trusted root (needed by usages 0 and 1). Usage 0/2 match a
/// certificate other than the leaf (a CA or trust anchor); usage 1/3 the leaf only.
pub fn match_tlsa(records: &[Tlsa], chain: &[CertificateDer<'_>], pkix_trusted: bool) -> DaneMatch {
    let usable: Vec<&Tlsa> = records
        .iter()
        .take(MAX_TLSA_RECORDS)
        .filter(|r| r.usage <= 3 && r.selector <= 1 && r.matching <= 2)
        .filter(|r| pkix_trusted || r.usage >= 2)
        .collect();
    if usable.is_empty() {
        return DaneMatch::NoUsableRecords;
    }
    for record in usable {
        let positions: Vec<usize> = match record.usage {
            1 | 3 => vec![0],
            // A trust anchor: any certificate above the leaf; for DANE-TA, the leaf itself too
            // when it is the only one (a self-signed trust anchor, RFC 7671 §5.2.2 allows it
            // to be omitted, not the leaf).
            _ => (1..chain.len()).collect(),
        };
        for position in positions {
            if let Some(cert) = chain.get(position)
                && matches(record, cert.as_ref())
            {
                return DaneMatch::Matched {
                    record: record.to_text(),
                    position,
                };
            }
        }
    }
    DaneMatch::NoMatch
}

/// The DNSSEC status of a TLSA lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsaLookup {
    /// Validated records.
    Secure(Vec<Tlsa>),
    /// Records (or their absence) that are not DNSSEC-signed: DANE does not apply.
    Insecure,
    /// Signatures that do not validate: a DANE client must not connect.
    Bogus(String),
    /// No TLSA record, proven by DNSSEC.
    NoRecords,
    /// SERVFAIL, timeout...: no conclusion.
    Error(String),
}

/// A DNSSEC-validating resolver on `servers` (the system's when empty), with the IANA root
/// anchors or those in `trust_anchor` (a file of DNSKEY records, for tests).
pub fn validating_resolver(
    servers: &[std::net::SocketAddr],
    timeout: Duration,
    trust_anchor: Option<&Path>,
) -> Result<TokioResolver, String> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = if servers.is_empty() {
        TokioResolver::builder(provider).map_err(|e| e.to_string())?
    } else {
        let mut config = ResolverConfig::from_parts(None, vec![], vec![]);
        for server in servers {
            let mut ns = NameServerConfig::udp_and_tcp(server.ip());
            for conn in &mut ns.connections {
                conn.port = server.port();
            }
            config.add_name_server(ns);
        }
        TokioResolver::builder_with_config(config, provider)
    };
    if let Some(path) = trust_anchor {
        let anchors = TrustAnchors::from_file(path).map_err(|e| e.to_string())?;
        builder = builder.with_trust_anchor(Arc::new(anchors));
    }
    let opts: &mut ResolverOpts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 2;
    opts.ndots = 0;
    opts.validate = true;
    builder.build().map_err(|e| e.to_string())
}

/// Looks up the TLSA records at `name` with a validating resolver.
pub async fn lookup_tlsa(resolver: &TokioResolver, name: &str) -> TlsaLookup {
    match resolver.lookup(name, RecordType::TLSA).await {
        Ok(lookup) => {
            let answers = lookup.answers();
            if answers.iter().any(|r| r.proof == Proof::Bogus) {
                return TlsaLookup::Bogus("a TLSA signature does not validate".into());
            }
            if answers.iter().any(|r| r.proof != Proof::Secure) {
                return TlsaLookup::Insecure;
            }
            let records: Vec<Tlsa> = answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TLSA(t) => Some(Tlsa {
                        usage: t.cert_usage.into(),
                        selector: t.selector.into(),
                        matching: t.matching.into(),
                        data: t.cert_data.clone(),
                    }),
                    _ => None,
                })
                .take(MAX_TLSA_RECORDS)
                .collect();
            if records.is_empty() {
                TlsaLookup::NoRecords
            } else {
                TlsaLookup::Secure(records)
            }
        }
        Err(e) => {
            let text = e.to_string();
            if text.contains("DNSSEC") || text.to_ascii_lowercase().contains("bogus") {
                TlsaLookup::Bogus(text)
            } else if e.is_no_records_found() {
                TlsaLookup::NoRecords
            } else {
                TlsaLookup::Error(text)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Chain {
        leaf: CertificateDer<'static>,
        ca: CertificateDer<'static>,
        leaf_spki: Vec<u8>,
    }

    fn chain() -> Chain {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(vec![]).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(vec!["example.test".into()])
            .expect("params")
            .signed_by(&leaf_key, &issuer)
            .expect("leaf");
        Chain {
            leaf: leaf.der().clone(),
            ca: ca.der().clone(),
            leaf_spki: rcgen::PublicKeyData::subject_public_key_info(&leaf_key),
        }
    }

    fn rec(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> Tlsa {
        Tlsa {
            usage,
            selector,
            matching,
            data,
        }
    }

    #[test]
    fn usages_selectors_matching_types() {
        let c = chain();
        let presented = [c.leaf.clone(), c.ca.clone()];
        let leaf_der = c.leaf.as_ref().to_vec();
        // DANE-EE, SPKI, SHA-256 (the common "3 1 1").
        let r = rec(3, 1, 1, Sha256::digest(&c.leaf_spki).to_vec());
        assert!(matches!(
            match_tlsa(&[r], &presented, false),
            DaneMatch::Matched { position: 0, .. }
        ));
        // DANE-EE, full certificate, exact / SHA-512.
        let r = rec(3, 0, 0, leaf_der.clone());
        assert!(matches!(
            match_tlsa(&[r], &presented, false),
            DaneMatch::Matched { position: 0, .. }
        ));
        let r = rec(3, 0, 2, Sha512::digest(&leaf_der).to_vec());
        assert!(matches!(
            match_tlsa(&[r], &presented, false),
            DaneMatch::Matched { .. }
        ));
        // DANE-TA on the CA (2 0 1).
        let r = rec(2, 0, 1, Sha256::digest(c.ca.as_ref()).to_vec());
        assert!(matches!(
            match_tlsa(std::slice::from_ref(&r), &presented, false),
            DaneMatch::Matched { position: 1, .. }
        ));
        // ...but not when the CA is not presented.
        assert_eq!(match_tlsa(&[r], &presented[..1], false), DaneMatch::NoMatch);
        // PKIX-EE needs a PKIX-valid chain.
        let r = rec(1, 1, 1, Sha256::digest(&c.leaf_spki).to_vec());
        assert_eq!(
            match_tlsa(std::slice::from_ref(&r), &presented, false),
            DaneMatch::NoUsableRecords
        );
        assert!(matches!(
            match_tlsa(&[r], &presented, true),
            DaneMatch::Matched { .. }
        ));
        // PKIX-TA on the CA.
        let r = rec(0, 1, 1, vec![0; 32]);
        assert_eq!(match_tlsa(&[r], &presented, true), DaneMatch::NoMatch);
        // A wrong digest, an unknown matching type, garbage certificates.
        assert_eq!(
            match_tlsa(&[rec(3, 1, 1, vec![1; 32])], &presented, false),
            DaneMatch::NoMatch
        );
        assert_eq!(
            match_tlsa(&[rec(3, 1, 9, vec![1; 32])], &presented, false),
            DaneMatch::NoUsableRecords
        );
        let junk = [CertificateDer::from(vec![0x30, 0x01])];
        assert_eq!(
            match_tlsa(&[rec(3, 1, 1, vec![1; 32])], &junk, false),
            DaneMatch::NoMatch
        );
        assert_eq!(
            tlsa_name(5222, "xmpp.example.test."),
            "_5222._tcp.xmpp.example.test."
        );
    }
}
