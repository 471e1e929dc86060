//! DANE (RFC 6698, RFC 7671, RFC 7673 for SRV): TLSA records at `_PORT._tcp.TARGET` matched
//! against the chain a server presents. Advisory only: never a failure of the manifesto.
//!
//! [`assess`] runs beside the endpoint checks with a DNSSEC-validating resolver
//! ([`validating_resolver`], `--trust-anchor` for tests): it asks again the SRV names discovery
//! found and the A/AAAA of their targets, and, where both validate ("secure"), the TLSA records at
//! `_PORT._tcp.TARGET` ([`lookup_tlsa`]). [`degrade_discovery`] turns bogus answers into failed
//! lookups (the check becomes inconclusive, never a pass); [`advisories`] reports `dnssec` and
//! `dane` findings, TLSA matched against the chain each endpoint presented ([`match_tlsa`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::{Proof, TrustAnchors};
use hickory_resolver::proto::rr::{RData, RecordType};
use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256, Sha512};
use x509_parser::prelude::*;

use crate::check::dns::Discovery;
use crate::report::{
    Advisory, AdvisoryLevel, DiscoveryOutcome, DiscoveryRecord, Endpoint, EndpointSource, Mode,
    Service,
};

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

    fn detail(&self) -> Option<&str> {
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

    fn worst(self, other: DnssecStatus) -> DnssecStatus {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// One name asked again with the validating resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameStatus {
    /// e.g. `_xmpp-client._tcp.example.org SRV` or `xmpp.example.org A/AAAA`.
    pub what: String,
    pub status: DnssecStatus,
}

/// What the validating resolver says about a domain's discovery.
#[derive(Debug, Clone, Default)]
pub struct Assessment {
    /// Why DNSSEC could not be assessed at all (the resolver returns no validatable signature
    /// for the root zone, a timeout...); nothing else is filled in then.
    pub unavailable: Option<String>,
    /// SRV names (without trailing dot) with their service, mode and status.
    pub srv: Vec<(Service, Mode, String, DnssecStatus)>,
    /// SRV names that have no record, and the status of that denial (a forged denial can hide
    /// endpoints).
    pub srv_absent: Vec<(Service, Mode, String, DnssecStatus)>,
    /// Target hosts and the status of their A/AAAA answers.
    pub hosts: BTreeMap<String, DnssecStatus>,
    /// TLSA lookups at `_PORT._tcp.HOST`, keyed by (host, port), for targets whose SRV and
    /// address answers are secure.
    pub tlsa: BTreeMap<(String, u16), TlsaLookup>,
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
async fn validate(resolver: &TokioResolver, name: &str, rtype: RecordType) -> Option<DnssecStatus> {
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
async fn validate_absence(resolver: &TokioResolver, name: &str, rtype: RecordType) -> DnssecStatus {
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

/// Asks the validating resolver about what discovery found: the root zone first (does this
/// resolver return signatures at all?), then every SRV name with records, every target's
/// addresses, and TLSA where SRV and addresses are secure. At most `budget` in all.
pub async fn assess(
    resolver: &TokioResolver,
    discovery: &Discovery,
    budget: Duration,
) -> Assessment {
    match tokio::time::timeout(budget, assess_inner(resolver, discovery)).await {
        Ok(a) => a,
        Err(_) => Assessment {
            unavailable: Some(format!(
                "the DNSSEC lookups took longer than {} s",
                budget.as_secs_f64()
            )),
            ..Assessment::default()
        },
    }
}

async fn assess_inner(resolver: &TokioResolver, discovery: &Discovery) -> Assessment {
    let mut out = Assessment::default();
    let nothing_found = !discovery.records.iter().any(|r| {
        matches!(
            r.outcome,
            DiscoveryOutcome::Found | DiscoveryOutcome::ServiceAbsent
        )
    }) && !discovery
        .addresses
        .values()
        .any(|a| matches!(a, Ok(list) if !list.is_empty()));
    if nothing_found {
        // Nothing to validate (and no extra wait when DNS is down).
        return out;
    }
    match validate(resolver, ".", RecordType::SOA).await {
        Some(DnssecStatus::Secure) => {}
        other => {
            let why = match other {
                None => "no SOA record for the root zone".to_string(),
                Some(s) => format!(
                    "{}{}",
                    s.word(),
                    s.detail().map(|d| format!(": {d}")).unwrap_or_default()
                ),
            };
            out.unavailable = Some(format!(
                "the resolver gave no validatable signature for the root zone ({why}); use a DNSSEC-aware resolver"
            ));
            return out;
        }
    }

    let srv_names: Vec<(Service, Mode, String)> = discovery
        .records
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                DiscoveryOutcome::Found | DiscoveryOutcome::ServiceAbsent
            )
        })
        .map(|r| (r.service, r.mode, r.name.clone()))
        .collect();
    let absent_names: Vec<(Service, Mode, String)> = discovery
        .records
        .iter()
        .filter(|r| r.outcome == DiscoveryOutcome::NoRecords)
        .map(|r| (r.service, r.mode, r.name.clone()))
        .collect();
    let hosts: Vec<String> = discovery
        .addresses
        .iter()
        .filter(|(_, a)| matches!(a, Ok(list) if !list.is_empty()))
        .map(|(h, _)| h.clone())
        .collect();
    let (srv, srv_absent, host_statuses) = tokio::join!(
        futures::future::join_all(srv_names.into_iter().map(|(s, m, name)| async move {
            let fqdn = format!("{}.", name.trim_end_matches('.'));
            let status = validate(resolver, &fqdn, RecordType::SRV)
                .await
                .unwrap_or_else(|| {
                    DnssecStatus::Indeterminate("the SRV records vanished in between".into())
                });
            (s, m, name, status)
        })),
        futures::future::join_all(absent_names.into_iter().map(|(s, m, name)| async move {
            let fqdn = format!("{}.", name.trim_end_matches('.'));
            let status = validate_absence(resolver, &fqdn, RecordType::SRV).await;
            (s, m, name, status)
        })),
        futures::future::join_all(hosts.into_iter().map(|host| async move {
            let fqdn = format!("{}.", host.trim_end_matches('.'));
            let (v4, v6) = tokio::join!(
                validate(resolver, &fqdn, RecordType::A),
                validate(resolver, &fqdn, RecordType::AAAA)
            );
            let status = match (v4, v6) {
                (None, None) => {
                    DnssecStatus::Indeterminate("the addresses vanished in between".into())
                }
                (Some(s), None) | (None, Some(s)) => s,
                (Some(a), Some(b)) => a.worst(b),
            };
            (host, status)
        }))
    );
    out.srv = srv;
    out.srv_absent = srv_absent;
    out.hosts = host_statuses.into_iter().collect();

    // TLSA where the SRV record (if any) and the target's addresses are secure.
    let mut wanted: Vec<(String, u16)> = discovery
        .targets
        .iter()
        .filter(|t| {
            let srv_secure = t.source == EndpointSource::Fallback
                || out.srv.iter().any(|(s, m, _, st)| {
                    *s == t.service && *m == t.mode && *st == DnssecStatus::Secure
                });
            srv_secure && out.hosts.get(&t.host) == Some(&DnssecStatus::Secure)
        })
        .map(|t| (t.host.clone(), t.port))
        .collect();
    wanted.sort();
    wanted.dedup();
    let tlsa = futures::future::join_all(wanted.into_iter().map(|(host, port)| async move {
        let lookup = lookup_tlsa(resolver, &tlsa_name(port, &host)).await;
        ((host, port), lookup)
    }))
    .await;
    out.tlsa = tlsa.into_iter().collect();
    out
}

/// Bogus answers make discovery fail for their service: no conclusion may rest on answers a
/// validating resolver would refuse.
pub fn degrade_discovery(assessment: &Assessment, discovery: &mut Discovery) {
    let mut failed: Vec<Service> = Vec::new();
    for (service, mode, name, status) in assessment.srv.iter().chain(&assessment.srv_absent) {
        if let DnssecStatus::Bogus(why) = status {
            for record in discovery
                .records
                .iter_mut()
                .filter(|r| r.name == *name && r.mode == *mode && r.service == *service)
            {
                record.outcome = DiscoveryOutcome::Error;
                record.detail = Some(format!("DNSSEC validation failed (bogus): {why}"));
            }
            failed.push(*service);
        }
    }
    for (host, status) in &assessment.hosts {
        let DnssecStatus::Bogus(why) = status else {
            continue;
        };
        let mut seen: Vec<(Service, Mode)> = Vec::new();
        for t in discovery.targets.iter().filter(|t| t.host == *host) {
            if seen.contains(&(t.service, t.mode)) {
                continue;
            }
            seen.push((t.service, t.mode));
            failed.push(t.service);
        }
        for (service, mode) in seen {
            discovery.records.push(DiscoveryRecord {
                name: host.clone(),
                service,
                mode,
                outcome: DiscoveryOutcome::Error,
                records: vec![],
                detail: Some(format!("A/AAAA: DNSSEC validation failed (bogus): {why}")),
            });
        }
    }
    for service in failed {
        if !discovery.failed.contains(&service) {
            discovery.failed.push(service);
        }
    }
}

/// The `3 1 1` TLSA record (DANE-EE, SubjectPublicKeyInfo, SHA-256) for a certificate.
pub fn suggested_tlsa(leaf: &[u8]) -> Option<String> {
    let spki = selected(leaf, 1)?;
    Some(format!("3 1 1 {}", hex::encode(Sha256::digest(&spki))))
}

/// `dnssec` and `dane` advisories of a check.
pub fn advisories(domain: &str, assessment: &Assessment, endpoints: &[Endpoint]) -> Vec<Advisory> {
    let mut out = Vec::new();
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

fn dane_advisory(host: &str, port: u16, lookup: &TlsaLookup, endpoints: &[Endpoint]) -> Advisory {
    let owner = tlsa_name(port, host);
    let owner = owner.trim_end_matches('.');
    let eps: Vec<&Endpoint> = endpoints
        .iter()
        .filter(|e| e.host == host && e.port == port && !e.presented.0.is_empty())
        .collect();
    let suggestion = eps.iter().find_map(|e| {
        e.presented
            .0
            .first()
            .and_then(|c| suggested_tlsa(c.as_ref()))
    });
    let publish = suggestion
        .as_deref()
        .map(|r| {
            format!("`{owner}. IN TLSA {r}` (DANE-EE, SHA-256 of the certificate's public key)")
        })
        .unwrap_or_else(|| format!("a `3 1 1` TLSA record at `{owner}`"));
    let mut evidence = Vec::new();
    let (level, summary, fix) = match lookup {
        TlsaLookup::Secure(records) => {
            let mut matched = 0;
            let mut failed = 0;
            for ep in &eps {
                let trusted = ep.certificate.as_ref().is_some_and(|c| c.chain_trusted);
                match match_tlsa(records, &ep.presented.0, trusted) {
                    DaneMatch::Matched { record, position } => {
                        matched += 1;
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
                        failed += 1;
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
            for r in records {
                evidence.push(format!("{owner}: TLSA {}", r.to_text()));
            }
            if failed > 0 {
                (
                    AdvisoryLevel::Warn,
                    format!(
                        "The TLSA records at {owner} match no certificate presented there ({failed} endpoint{}): DANE-validating peers will refuse to connect.",
                        if failed == 1 { "" } else { "s" }
                    ),
                    Some(format!(
                        "Publish {publish} and remove the stale records; when renewing, publish the new key's TLSA record before switching certificates (or keep the key)."
                    )),
                )
            } else if matched > 0 {
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

    fn discovery() -> Discovery {
        let mut d = Discovery::default();
        for (service, mode, name) in [
            (
                Service::C2s,
                Mode::Starttls,
                "_xmpp-client._tcp.example.test",
            ),
            (
                Service::S2s,
                Mode::Starttls,
                "_xmpp-server._tcp.example.test",
            ),
        ] {
            d.records.push(DiscoveryRecord {
                name: name.into(),
                service,
                mode,
                outcome: DiscoveryOutcome::Found,
                records: vec![],
                detail: None,
            });
            d.targets.push(crate::check::dns::Target {
                service,
                mode,
                source: EndpointSource::Srv,
                host: format!("{}.example.test", service.as_str()),
                port: service.default_port(),
                priority: Some(0),
                weight: Some(0),
            });
        }
        d
    }

    #[test]
    fn bogus_answers_fail_their_service_only() {
        let mut d = discovery();
        let a = Assessment {
            srv: vec![
                (
                    Service::C2s,
                    Mode::Starttls,
                    "_xmpp-client._tcp.example.test".into(),
                    DnssecStatus::Bogus("bad".into()),
                ),
                (
                    Service::S2s,
                    Mode::Starttls,
                    "_xmpp-server._tcp.example.test".into(),
                    DnssecStatus::Secure,
                ),
            ],
            ..Assessment::default()
        };
        degrade_discovery(&a, &mut d);
        assert_eq!(d.failed, vec![Service::C2s]);
        assert_eq!(d.records[0].outcome, DiscoveryOutcome::Error);
        assert!(
            d.records[0]
                .detail
                .as_deref()
                .unwrap_or("")
                .contains("bogus")
        );
        assert_eq!(d.records[1].outcome, DiscoveryOutcome::Found);

        // A bogus address answer fails the services whose targets use that host.
        let mut d = discovery();
        let mut a = Assessment::default();
        a.hosts
            .insert("s2s.example.test".into(), DnssecStatus::Bogus("bad".into()));
        a.hosts
            .insert("c2s.example.test".into(), DnssecStatus::Secure);
        degrade_discovery(&a, &mut d);
        assert_eq!(d.failed, vec![Service::S2s]);
        assert!(
            d.records
                .iter()
                .any(|r| r.name == "s2s.example.test" && r.outcome == DiscoveryOutcome::Error)
        );

        // A forged denial (bogus NSEC) may hide endpoints: the service fails too.
        let mut d = discovery();
        d.records.push(DiscoveryRecord {
            name: "_xmpps-client._tcp.example.test".into(),
            service: Service::C2s,
            mode: Mode::DirectTls,
            outcome: DiscoveryOutcome::NoRecords,
            records: vec![],
            detail: None,
        });
        let a = Assessment {
            srv_absent: vec![(
                Service::C2s,
                Mode::DirectTls,
                "_xmpps-client._tcp.example.test".into(),
                DnssecStatus::Bogus("bad".into()),
            )],
            ..Assessment::default()
        };
        degrade_discovery(&a, &mut d);
        assert_eq!(d.failed, vec![Service::C2s]);
        assert_eq!(d.records[2].outcome, DiscoveryOutcome::Error);

        // Secure, insecure and undetermined answers change nothing.
        let mut d = discovery();
        let mut a = Assessment::default();
        a.hosts
            .insert("c2s.example.test".into(), DnssecStatus::Insecure);
        a.hosts.insert(
            "s2s.example.test".into(),
            DnssecStatus::Indeterminate("timeout".into()),
        );
        degrade_discovery(&a, &mut d);
        assert!(d.failed.is_empty());
    }

    #[test]
    fn dnssec_advisory_words() {
        let unavailable = Assessment {
            unavailable: Some("no signatures".into()),
            ..Assessment::default()
        };
        assert!(
            advisories("example.test", &Assessment::default(), &[]).is_empty(),
            "nothing validated, nothing said"
        );
        let adv = advisories("example.test", &unavailable, &[]);
        assert_eq!(adv.len(), 1);
        assert_eq!(adv[0].id, "dnssec");
        assert_eq!(adv[0].level, AdvisoryLevel::Info);
        assert!(adv[0].summary.contains("could not be determined"));

        let mut insecure = Assessment::default();
        insecure
            .hosts
            .insert("xmpp.example.test".into(), DnssecStatus::Insecure);
        insecure.srv.push((
            Service::C2s,
            Mode::Starttls,
            "_xmpp-client._tcp.example.test".into(),
            DnssecStatus::Secure,
        ));
        let adv = advisories("example.test", &insecure, &[]);
        assert_eq!(adv[0].level, AdvisoryLevel::Info);
        assert!(adv[0].summary.contains("(insecure)"), "{}", adv[0].summary);
        assert!(adv[0].fix.as_deref().unwrap_or("").contains("DS record"));
        assert_eq!(
            adv[0].evidence,
            vec![
                "_xmpp-client._tcp.example.test SRV: secure".to_string(),
                "xmpp.example.test A/AAAA: insecure".to_string()
            ]
        );
    }

    #[test]
    fn dane_advisories() {
        let c = chain();
        let mut ep = crate::report::Endpoint {
            service: Service::C2s,
            mode: Mode::Starttls,
            source: EndpointSource::Srv,
            host: "xmpp.example.test".into(),
            port: 5222,
            address: "192.0.2.1".into(),
            priority: None,
            weight: None,
            stream: None,
            pre_tls_features: None,
            starttls: None,
            tls: None,
            certificate: None,
            post_tls_features: None,
            probes: vec![],
            posture: vec![],
            post_tls_error: None,
            error: None,
            error_kind: None,
            duration_ms: 0,
            presented: crate::report::PresentedChain(vec![c.leaf.clone(), c.ca.clone()]),
        };
        let good = rec(3, 1, 1, Sha256::digest(&c.leaf_spki).to_vec());
        let suggestion = suggested_tlsa(c.leaf.as_ref()).expect("suggestion");
        assert_eq!(suggestion, good.to_text());
        let key = ("xmpp.example.test".to_string(), 5222);
        let mut a = Assessment::default();
        a.hosts
            .insert("xmpp.example.test".into(), DnssecStatus::Secure);

        a.tlsa.insert(key.clone(), TlsaLookup::Secure(vec![good]));
        let adv = advisories("example.test", &a, std::slice::from_ref(&ep));
        assert_eq!(adv[1].id, "dane");
        assert_eq!(adv[1].level, AdvisoryLevel::Info);
        assert!(adv[1].summary.contains("match the presented certificate"));

        a.tlsa.insert(
            key.clone(),
            TlsaLookup::Secure(vec![rec(3, 1, 1, vec![0; 32])]),
        );
        let adv = advisories("example.test", &a, std::slice::from_ref(&ep));
        assert_eq!(adv[1].level, AdvisoryLevel::Warn);
        let fix = adv[1].fix.clone().unwrap_or_default();
        assert!(
            fix.contains(&format!(
                "`_5222._tcp.xmpp.example.test. IN TLSA {suggestion}`"
            )),
            "{fix}"
        );

        a.tlsa.insert(key.clone(), TlsaLookup::Bogus("bad".into()));
        let adv = advisories("example.test", &a, std::slice::from_ref(&ep));
        assert_eq!(adv[1].level, AdvisoryLevel::Warn);
        assert!(adv[1].summary.contains("(bogus)"));

        // No certificate presented (the handshake failed): no claim of a match, no panic.
        ep.presented = crate::report::PresentedChain::default();
        a.tlsa.insert(key, TlsaLookup::NoRecords);
        let adv = advisories("example.test", &a, &[ep]);
        assert_eq!(adv[1].level, AdvisoryLevel::Info);
        assert!(adv[1].fix.as_deref().unwrap_or("").contains("3 1 1"));
    }
}
