//! TLSA records (RFC 6698) and their matching against the chain a server presents (RFC 7671).

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

/// The `3 1 1` TLSA record (DANE-EE, SubjectPublicKeyInfo, SHA-256) for a certificate.
pub fn suggested_tlsa(leaf: &[u8]) -> Option<String> {
    let spki = selected(leaf, 1)?;
    Some(format!("3 1 1 {}", hex::encode(Sha256::digest(&spki))))
}
