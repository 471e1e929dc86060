//! Lookups with the DNSSEC-validating resolver, and the DNSSEC status of their answers.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::{Proof, TrustAnchors};
use hickory_resolver::proto::rr::{RData, RecordType};

use crate::check::dane::tlsa::{MAX_TLSA_RECORDS, Tlsa};

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
            let records = tlsa_records(answers);
            if records.is_empty() {
                TlsaLookup::NoRecords
            } else {
                TlsaLookup::Secure(records)
            }
        }
        Err(e) => match classify(&e) {
            Failure::NoRecords(DnssecStatus::Bogus(why)) => TlsaLookup::Bogus(why),
            Failure::NoRecords(DnssecStatus::Insecure) => TlsaLookup::Insecure,
            Failure::NoRecords(_) => TlsaLookup::NoRecords,
            Failure::Dnssec(DnssecStatus::Bogus(why)) => TlsaLookup::Bogus(why),
            Failure::Dnssec(DnssecStatus::Insecure) => TlsaLookup::Insecure,
            Failure::Dnssec(other) => TlsaLookup::Error(other.word().to_string()),
            Failure::Other(why) => TlsaLookup::Error(why),
        },
    }
}

/// Why a validating lookup gave no records.
enum Failure {
    /// NXDOMAIN / NODATA, with the status of its proof of non-existence.
    NoRecords(DnssecStatus),
    /// The validator's verdict on the (negative) answer.
    Dnssec(DnssecStatus),
    /// SERVFAIL, timeout...
    Other(String),
}

/// Classifies a lookup error by its kind, never by its text (which holds the query name).
fn classify(e: &NetError) -> Failure {
    match e {
        NetError::Dns(DnsError::DnssecBogus) => {
            Failure::Dnssec(DnssecStatus::Bogus("a signature does not validate".into()))
        }
        NetError::Dns(DnsError::Nsec { proof, .. }) => Failure::Dnssec(match proof {
            Proof::Bogus => {
                DnssecStatus::Bogus("the proof of non-existence does not validate".into())
            }
            Proof::Insecure => DnssecStatus::Insecure,
            Proof::Secure => DnssecStatus::Secure,
            _ => DnssecStatus::Indeterminate("no proof of non-existence".into()),
        }),
        NetError::Dns(DnsError::NoRecordsFound(none)) => {
            let proofs: Vec<Proof> = none
                .authorities
                .iter()
                .flat_map(|a| a.iter())
                .filter(|r| {
                    matches!(
                        r.record_type(),
                        RecordType::NSEC | RecordType::NSEC3 | RecordType::SOA
                    )
                })
                .map(|r| r.proof)
                .collect();
            Failure::NoRecords(if proofs.contains(&Proof::Bogus) {
                DnssecStatus::Bogus("the proof of non-existence does not validate".into())
            } else if proofs.contains(&Proof::Secure) {
                DnssecStatus::Secure
            } else if !proofs.is_empty() && proofs.iter().all(|p| *p == Proof::Insecure) {
                DnssecStatus::Insecure
            } else {
                DnssecStatus::Indeterminate("no proof of non-existence".into())
            })
        }
        _ if e.is_no_records_found() => Failure::NoRecords(DnssecStatus::Indeterminate(
            "no proof of non-existence".into(),
        )),
        _ => Failure::Other(e.to_string()),
    }
}

/// The DNSSEC status of one answer (RFC 4033 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnssecStatus {
    /// Signed, and the signatures validate up to the trust anchor.
    Secure,
    /// Provably not signed.
    Insecure,
    /// Signatures that should validate and do not: validating resolvers refuse the answer.
    Bogus(String),
    /// No conclusion (the answer changed, a lookup failed, a timeout...).
    Indeterminate(String),
}

impl DnssecStatus {
    pub fn word(&self) -> &'static str {
        match self {
            DnssecStatus::Secure => "secure",
            DnssecStatus::Insecure => "insecure",
            DnssecStatus::Bogus(_) => "bogus",
            DnssecStatus::Indeterminate(_) => "indeterminate",
        }
    }

    pub(super) fn detail(&self) -> Option<&str> {
        match self {
            DnssecStatus::Bogus(d) | DnssecStatus::Indeterminate(d) => Some(d),
            _ => None,
        }
    }

    /// Rank for "the worst of": bogus > indeterminate > insecure > secure.
    fn rank(&self) -> u8 {
        match self {
            DnssecStatus::Secure => 0,
            DnssecStatus::Insecure => 1,
            DnssecStatus::Indeterminate(_) => 2,
            DnssecStatus::Bogus(_) => 3,
        }
    }

    pub(super) fn worst(self, other: DnssecStatus) -> DnssecStatus {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// The worst proof of the records of type `rtype` (and the CNAMEs that led to them).
fn status_of_answers(
    records: &[hickory_resolver::proto::rr::Record],
    rtype: RecordType,
) -> DnssecStatus {
    let proofs: Vec<Proof> = records
        .iter()
        .filter(|r| r.record_type() == rtype || r.record_type() == RecordType::CNAME)
        .map(|r| r.proof)
        .collect();
    if proofs.is_empty() {
        DnssecStatus::Indeterminate("the validated answer holds no record of this type".into())
    } else if proofs.contains(&Proof::Bogus) {
        DnssecStatus::Bogus("a signature does not validate".into())
    } else if proofs.iter().all(|p| *p == Proof::Secure) {
        DnssecStatus::Secure
    } else if proofs.contains(&Proof::Insecure) {
        DnssecStatus::Insecure
    } else {
        DnssecStatus::Indeterminate("no DNSSEC proof either way".into())
    }
}

/// Validates one positive answer. `None`: the name has no record of this type (a negative
/// answer, which says nothing about the records discovery used).
pub(super) async fn validate(
    resolver: &TokioResolver,
    name: &str,
    rtype: RecordType,
) -> Option<DnssecStatus> {
    match resolver.lookup(name, rtype).await {
        Ok(lookup) => Some(status_of_answers(lookup.answers(), rtype)),
        Err(e) => match classify(&e) {
            Failure::NoRecords(_) => None,
            Failure::Dnssec(status) => Some(status),
            Failure::Other(why) => Some(DnssecStatus::Indeterminate(why)),
        },
    }
}

/// Validates a negative answer (NXDOMAIN / NODATA): is the absence proven?
pub(super) async fn validate_absence(
    resolver: &TokioResolver,
    name: &str,
    rtype: RecordType,
) -> DnssecStatus {
    match resolver.lookup(name, rtype).await {
        Ok(lookup) if lookup.answers().iter().any(|r| r.record_type() == rtype) => {
            DnssecStatus::Indeterminate("records appeared in between".into())
        }
        Ok(_) => DnssecStatus::Indeterminate("an empty answer without error".into()),
        Err(e) => match classify(&e) {
            Failure::NoRecords(status) | Failure::Dnssec(status) => status,
            Failure::Other(why) => DnssecStatus::Indeterminate(why),
        },
    }
}

/// The TLSA records of an answer (at most [`MAX_TLSA_RECORDS`]).
pub(crate) fn tlsa_records(answers: &[hickory_proto::rr::Record]) -> Vec<Tlsa> {
    answers
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
        .collect()
}
