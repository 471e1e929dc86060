//! What the validating resolver says about a domain's discovery, and what bogus answers do
//! to it.

use std::collections::BTreeMap;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RecordType;

use crate::check::dane::lookup::{
    DnssecStatus, TlsaLookup, lookup_tlsa, validate, validate_absence,
};
use crate::check::dane::tlsa::tlsa_name;
use crate::check::dns::Discovery;
use crate::report::{DiscoveryOutcome, DiscoveryRecord, EndpointSource, Mode, Service};

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
    /// The resolver itself does not validate (no signatures for the root zone): a property of
    /// the checker's machine, said once per run ([`RootCheck::note`]), not of the domain.
    pub resolver_not_validating: bool,
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

/// Asks the validating resolver about what discovery found: the root zone first (does this
/// resolver return signatures at all?), then every SRV name with records, every target's
/// addresses, and TLSA where SRV and addresses are secure. At most `budget` in all.
pub async fn assess(
    resolver: &TokioResolver,
    discovery: &Discovery,
    budget: Duration,
    root: &RootCheck,
) -> Assessment {
    match tokio::time::timeout(budget, assess_inner(resolver, discovery, root)).await {
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

async fn assess_inner(
    resolver: &TokioResolver,
    discovery: &Discovery,
    root: &RootCheck,
) -> Assessment {
    let mut out = Assessment::default();
    if nothing_found(discovery) {
        // Nothing to validate (and no extra wait when DNS is down).
        return out;
    }
    if let Err(why) = root.get(resolver).await {
        out.unavailable = Some(format!(
            "the resolver gave no validatable signature for the root zone ({why}); use a DNSSEC-aware resolver"
        ));
        out.resolver_not_validating = true;
        return out;
    }
    let (srv, srv_absent, hosts) = tokio::join!(
        validate_srv_names(resolver, discovery),
        validate_srv_absence(resolver, discovery),
        validate_hosts(resolver, discovery)
    );
    out.srv = srv;
    out.srv_absent = srv_absent;
    out.hosts = hosts;
    out.tlsa = tlsa_lookups(resolver, discovery, &out).await;
    out
}

/// Discovery found no SRV record (nor its decided absence) and no address.
fn nothing_found(discovery: &Discovery) -> bool {
    !discovery.records.iter().any(|r| {
        matches!(
            r.outcome,
            DiscoveryOutcome::Found | DiscoveryOutcome::ServiceAbsent
        )
    }) && !discovery
        .addresses
        .values()
        .any(|a| matches!(a, Ok(list) if !list.is_empty()))
}

/// Does this resolver return validatable signatures at all? The root zone's SOA must be
/// secure; else nothing it says about DNSSEC can be trusted.
/// Whether the resolver validates at all, asked once per [`crate::check::Checker`] (a run): a
/// stub resolver that strips DNSSEC (127.0.0.53 on Ubuntu, GitHub's runners) is a fact about the
/// checker's machine, so it is said once, not as an advisory on every domain.
#[derive(Debug, Default)]
pub struct RootCheck(tokio::sync::OnceCell<Result<(), String>>);

impl RootCheck {
    async fn get(&self, resolver: &TokioResolver) -> Result<(), String> {
        self.0
            .get_or_init(|| root_validates(resolver))
            .await
            .clone()
    }

    /// The line to print once per run when the resolver does not validate; None when it does
    /// or when it was never asked.
    pub fn note(&self) -> Option<String> {
        match self.0.get() {
            Some(Err(why)) => Some(format!(
                "note: this resolver does not validate DNSSEC ({why}): the dnssec and dane \
                 advisories were skipped; use --resolver with a validating resolver to get them"
            )),
            _ => None,
        }
    }
}

async fn root_validates(resolver: &TokioResolver) -> Result<(), String> {
    match validate(resolver, ".", RecordType::SOA).await {
        Some(DnssecStatus::Secure) => Ok(()),
        None => Err("no SOA record for the root zone".to_string()),
        Some(s) => Err(format!(
            "{}{}",
            s.word(),
            s.detail().map(|d| format!(": {d}")).unwrap_or_default()
        )),
    }
}

fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// The SRV names discovery found records (or a decided absence) at.
async fn validate_srv_names(
    resolver: &TokioResolver,
    discovery: &Discovery,
) -> Vec<(Service, Mode, String, DnssecStatus)> {
    let names = discovery.records.iter().filter(|r| {
        matches!(
            r.outcome,
            DiscoveryOutcome::Found | DiscoveryOutcome::ServiceAbsent
        )
    });
    futures::future::join_all(names.map(|r| async move {
        let status = validate(resolver, &fqdn(&r.name), RecordType::SRV)
            .await
            .unwrap_or_else(|| {
                DnssecStatus::Indeterminate("the SRV records vanished in between".into())
            });
        (r.service, r.mode, r.name.clone(), status)
    }))
    .await
}

/// The SRV names that had no record: is their absence proven?
async fn validate_srv_absence(
    resolver: &TokioResolver,
    discovery: &Discovery,
) -> Vec<(Service, Mode, String, DnssecStatus)> {
    let names = discovery
        .records
        .iter()
        .filter(|r| r.outcome == DiscoveryOutcome::NoRecords);
    futures::future::join_all(names.map(|r| async move {
        let status = validate_absence(resolver, &fqdn(&r.name), RecordType::SRV).await;
        (r.service, r.mode, r.name.clone(), status)
    }))
    .await
}

/// The A and AAAA answers of every target host with addresses: the worst of the two.
async fn validate_hosts(
    resolver: &TokioResolver,
    discovery: &Discovery,
) -> BTreeMap<String, DnssecStatus> {
    let hosts = discovery
        .addresses
        .iter()
        .filter(|(_, a)| matches!(a, Ok(list) if !list.is_empty()))
        .map(|(h, _)| h);
    let statuses = futures::future::join_all(hosts.map(|host| async move {
        let fqdn = fqdn(host);
        let (v4, v6) = tokio::join!(
            validate(resolver, &fqdn, RecordType::A),
            validate(resolver, &fqdn, RecordType::AAAA)
        );
        let status = match (v4, v6) {
            (None, None) => DnssecStatus::Indeterminate("the addresses vanished in between".into()),
            (Some(s), None) | (None, Some(s)) => s,
            (Some(a), Some(b)) => a.worst(b),
        };
        (host.clone(), status)
    }))
    .await;
    statuses.into_iter().collect()
}

/// TLSA where the SRV record (if any) and the target's addresses are secure: DANE only
/// applies to a target reached through secure answers (RFC 7673 §3).
async fn tlsa_lookups(
    resolver: &TokioResolver,
    discovery: &Discovery,
    assessed: &Assessment,
) -> BTreeMap<(String, u16), TlsaLookup> {
    let mut wanted: Vec<(String, u16)> = discovery
        .targets
        .iter()
        .filter(|t| {
            let srv_secure = t.source == EndpointSource::Fallback
                || assessed.srv.iter().any(|(s, m, _, st)| {
                    *s == t.service && *m == t.mode && *st == DnssecStatus::Secure
                });
            srv_secure && assessed.hosts.get(&t.host) == Some(&DnssecStatus::Secure)
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
    tlsa.into_iter().collect()
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
