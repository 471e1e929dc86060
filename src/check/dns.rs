//! Discovery of a domain's XMPP endpoints (RFC 6120 §3.2, XEP-0368) with hickory-resolver.
//!
//! Every answer is untrusted: record counts are capped, and a failed lookup is reported as an
//! error (the check becomes inconclusive), never silently replaced by the A/AAAA fallback.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};

use crate::report::{DiscoveryOutcome, DiscoveryRecord, EndpointSource, Mode, Service};

/// At most this many SRV records per name, and addresses per host, are used.
pub const MAX_SRV_RECORDS: usize = 16;
pub const MAX_ADDRESSES_PER_HOST: usize = 8;
/// At most this many endpoints per domain.
pub const MAX_ENDPOINTS: usize = 48;

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("resolver configuration: {0}")]
    Config(String),
}

/// Builds a resolver on the given servers (`IP:PORT`), or the system's when empty.
pub fn resolver(servers: &[SocketAddr], timeout: Duration) -> Result<TokioResolver, DnsError> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = if servers.is_empty() {
        TokioResolver::builder(provider).map_err(|e| DnsError::Config(e.to_string()))?
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
    let opts: &mut ResolverOpts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 2;
    opts.ndots = 0;
    opts.cache_size = 256;
    builder.build().map_err(|e| DnsError::Config(e.to_string()))
}

/// A host to contact for one service, with its addresses.
#[derive(Debug, Clone)]
pub struct Target {
    pub service: Service,
    pub mode: Mode,
    pub source: EndpointSource,
    pub host: String,
    pub port: u16,
    pub priority: Option<u16>,
    pub weight: Option<u16>,
}

/// What discovery found for a domain.
#[derive(Debug, Default)]
pub struct Discovery {
    pub records: Vec<DiscoveryRecord>,
    pub targets: Vec<Target>,
    /// Addresses per target host; an empty list with an error when resolution failed.
    pub addresses: BTreeMap<String, Result<Vec<IpAddr>, String>>,
    /// Services decidedly absent (SRV target ".").
    pub absent: Vec<Service>,
    /// Services whose discovery failed (no conclusion may rest on them).
    pub failed: Vec<Service>,
}

pub fn srv_name(service: Service, mode: Mode, domain: &str) -> String {
    let label = match (service, mode) {
        (Service::C2s, Mode::Starttls) => "_xmpp-client",
        (Service::S2s, Mode::Starttls) => "_xmpp-server",
        (Service::C2s, Mode::DirectTls) => "_xmpps-client",
        (Service::S2s, Mode::DirectTls) => "_xmpps-server",
    };
    format!("{label}._tcp.{domain}.")
}

enum SrvAnswer {
    /// The records kept (at most [`MAX_SRV_RECORDS`], in priority order) and how many the
    /// answer held.
    Records(Vec<(u16, u16, u16, String)>, usize),
    NoRecords,
    Absent,
    Error(String),
}

async fn lookup_srv(resolver: &TokioResolver, name: &str) -> SrvAnswer {
    match resolver.lookup(name, RecordType::SRV).await {
        Ok(lookup) => srv_answer(lookup.answers()),
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => SrvAnswer::NoRecords,
        Err(e) => SrvAnswer::Error(e.to_string()),
    }
}

/// What the records of an SRV answer say (untrusted: at most [`MAX_SRV_RECORDS`], targets
/// lower-cased, the single "." target meaning "not offered").
fn srv_answer(answers: &[hickory_proto::rr::Record]) -> SrvAnswer {
    let mut records: Vec<(u16, u16, u16, String)> = answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(srv) => Some((
                srv.priority,
                srv.weight,
                srv.port,
                srv.target
                    .to_ascii()
                    .trim_end_matches('.')
                    .to_ascii_lowercase(),
            )),
            _ => None,
        })
        .collect();
    // Sorted before the cap, so the records kept are the ones a client would try first,
    // whatever order the server sent.
    records.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.3.cmp(&b.3)));
    if records.is_empty() {
        SrvAnswer::NoRecords
    } else if records.len() == 1 && records[0].3.is_empty() {
        SrvAnswer::Absent
    } else {
        records.retain(|r| !r.3.is_empty());
        let total = records.len();
        records.truncate(MAX_SRV_RECORDS);
        SrvAnswer::Records(records, total)
    }
}

/// A host's addresses as they are checked: sorted, without duplicates, at most
/// [`MAX_ADDRESSES_PER_HOST`].
fn capped(mut addrs: Vec<IpAddr>) -> Vec<IpAddr> {
    addrs.sort();
    addrs.dedup();
    addrs.truncate(MAX_ADDRESSES_PER_HOST);
    addrs
}

/// The addresses in an A/AAAA answer.
fn addresses_in(answers: &[hickory_proto::rr::Record]) -> impl Iterator<Item = IpAddr> + '_ {
    answers.iter().filter_map(|r| match &r.data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
        _ => None,
    })
}

/// Discovery of `domain` from one DNS message standing for every answer (the fuzz target of
/// DNS answer handling: the same code paths as [`discover`], without a resolver).
pub(crate) fn discover_from_answers(
    domain: &str,
    answers: &[hickory_proto::rr::Record],
) -> Discovery {
    let answer = srv_answer(answers);
    let mut d = Discovery::default();
    for service in [Service::C2s, Service::S2s] {
        let modes = [Mode::Starttls, Mode::DirectTls].map(|m| (m, &answer));
        add_service(&mut d, domain, service, modes.into_iter());
    }
    let addrs = capped(addresses_in(answers).collect());
    for t in &d.targets {
        d.addresses.insert(t.host.clone(), Ok(addrs.clone()));
    }
    drop_addressless_fallbacks(&mut d);
    d
}

/// Resolves A and AAAA of `host`; an error only when both lookups failed for a reason other
/// than "no such records".
pub async fn lookup_addresses(resolver: &TokioResolver, host: &str) -> Result<Vec<IpAddr>, String> {
    let fqdn = format!("{}.", host.trim_end_matches('.'));
    let (v4, v6) = tokio::join!(
        resolver.lookup(fqdn.as_str(), RecordType::A),
        resolver.lookup(fqdn.as_str(), RecordType::AAAA)
    );
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for result in [v4, v6] {
        match result {
            Ok(lookup) => out.extend(addresses_in(lookup.answers())),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    let out = capped(out);
    if out.is_empty() && !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok(out)
}

/// The four SRV names of a domain, in the order they are asked.
const SRV_KINDS: [(Service, Mode); 4] = [
    (Service::C2s, Mode::Starttls),
    (Service::C2s, Mode::DirectTls),
    (Service::S2s, Mode::Starttls),
    (Service::S2s, Mode::DirectTls),
];

/// Discovers the endpoints of `domain` (an A-label): the four SRV names concurrently, the
/// A/AAAA fallback where a service has no SRV at all, then every target's addresses.
pub async fn discover(resolver: &TokioResolver, domain: &str) -> Discovery {
    let answers = futures::future::join_all(
        SRV_KINDS
            .iter()
            .map(|(s, m)| async move { lookup_srv(resolver, &srv_name(*s, *m, domain)).await }),
    )
    .await;
    let mut d = Discovery::default();
    for service in [Service::C2s, Service::S2s] {
        let answers = SRV_KINDS
            .iter()
            .zip(&answers)
            .filter(|((s, _), _)| *s == service)
            .map(|((_, mode), answer)| (*mode, answer));
        add_service(&mut d, domain, service, answers);
    }
    d.addresses = resolve_targets(resolver, &d.targets).await;
    drop_addressless_fallbacks(&mut d);
    d
}

/// A service with no SRV record whose fallback host has no A or AAAA record either (a
/// definite "no such records", not a failed lookup) is absent: the domain does not serve it.
/// Without this a domain with no XMPP at all would read as an unreachable server.
fn drop_addressless_fallbacks(d: &mut Discovery) {
    for service in [Service::C2s, Service::S2s] {
        let fallback_only = d
            .targets
            .iter()
            .filter(|t| t.service == service)
            .all(|t| t.source == EndpointSource::Fallback);
        let no_addresses = d
            .targets
            .iter()
            .filter(|t| t.service == service)
            .all(|t| matches!(d.addresses.get(&t.host), Some(Ok(a)) if a.is_empty()));
        let has_target = d.targets.iter().any(|t| t.service == service);
        if !(has_target && fallback_only && no_addresses) {
            continue;
        }
        d.targets.retain(|t| t.service != service);
        for r in d
            .records
            .iter_mut()
            .filter(|r| r.service == service && r.outcome == DiscoveryOutcome::Fallback)
        {
            if let Some(detail) = &mut r.detail {
                detail.push_str(", which has no A or AAAA record: the service is not offered");
            }
        }
        if !d.absent.contains(&service) {
            d.absent.push(service);
        }
    }
}

/// What the SRV answers of one service said, over its two names.
#[derive(Default)]
struct ServiceSeen {
    any_srv: bool,
    starttls_absent: bool,
    failed: bool,
}

/// Records the SRV answers of one service and their targets; falls back to the domain itself
/// on the default port when the service has no SRV record at all (RFC 6120 §3.2.2), but never
/// when a lookup failed (no conclusion may rest on it).
fn add_service<'a>(
    d: &mut Discovery,
    domain: &str,
    service: Service,
    answers: impl Iterator<Item = (Mode, &'a SrvAnswer)>,
) {
    let mut seen = ServiceSeen::default();
    for (mode, answer) in answers {
        let record = srv_record(d, domain, service, mode, answer, &mut seen);
        d.records.push(record);
    }
    if seen.failed {
        d.failed.push(service);
    } else if !seen.any_srv {
        add_fallback(d, domain, service);
    }
    let has_targets = d.targets.iter().any(|t| t.service == service);
    if seen.starttls_absent && !has_targets && !seen.failed {
        d.absent.push(service);
    }
}

/// The discovery record of one SRV name; its targets go to `d.targets`.
fn srv_record(
    d: &mut Discovery,
    domain: &str,
    service: Service,
    mode: Mode,
    answer: &SrvAnswer,
    seen: &mut ServiceSeen,
) -> DiscoveryRecord {
    let name = srv_name(service, mode, domain);
    let mut record = DiscoveryRecord {
        name: name.trim_end_matches('.').to_owned(),
        service,
        mode,
        outcome: DiscoveryOutcome::NoRecords,
        records: vec![],
        detail: None,
    };
    match answer {
        SrvAnswer::Records(records, total) => {
            seen.any_srv = true;
            record.outcome = DiscoveryOutcome::Found;
            if *total > records.len() {
                record.detail = Some(format!(
                    "{total} SRV records: only the first {} (by priority and weight) are checked",
                    records.len()
                ));
            }
            for (priority, weight, port, target) in records {
                record
                    .records
                    .push(format!("{priority} {weight} {port} {target}."));
                d.targets.push(Target {
                    service,
                    mode,
                    source: EndpointSource::Srv,
                    host: target.clone(),
                    port: *port,
                    priority: Some(*priority),
                    weight: Some(*weight),
                });
            }
        }
        SrvAnswer::NoRecords => {}
        SrvAnswer::Absent => {
            seen.any_srv = true;
            if mode == Mode::Starttls {
                seen.starttls_absent = true;
            }
            record.outcome = DiscoveryOutcome::ServiceAbsent;
            record.records.push("0 0 0 .".into());
            record.detail = Some("target \".\": the service is decidedly not available".into());
        }
        SrvAnswer::Error(e) => {
            seen.failed = true;
            record.outcome = DiscoveryOutcome::Error;
            record.detail = Some(e.clone());
        }
    }
    record
}

/// The A/AAAA fallback: the domain itself on the service's default port, STARTTLS.
fn add_fallback(d: &mut Discovery, domain: &str, service: Service) {
    d.records.push(DiscoveryRecord {
        name: domain.to_owned(),
        service,
        mode: Mode::Starttls,
        outcome: DiscoveryOutcome::Fallback,
        records: vec![],
        detail: Some(format!(
            "no SRV records: falling back to {domain}:{}",
            service.default_port()
        )),
    });
    d.targets.push(Target {
        service,
        mode: Mode::Starttls,
        source: EndpointSource::Fallback,
        host: domain.to_owned(),
        port: service.default_port(),
        priority: None,
        weight: None,
    });
}

/// The addresses of every distinct target host, concurrently.
async fn resolve_targets(
    resolver: &TokioResolver,
    targets: &[Target],
) -> BTreeMap<String, Result<Vec<IpAddr>, String>> {
    let mut hosts: Vec<String> = targets.iter().map(|t| t.host.clone()).collect();
    hosts.sort();
    hosts.dedup();
    let resolved = futures::future::join_all(
        hosts
            .iter()
            .map(|h| async move { (h.clone(), lookup_addresses(resolver, h).await) }),
    )
    .await;
    resolved.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srv_names() {
        assert_eq!(
            srv_name(Service::C2s, Mode::Starttls, "example.org"),
            "_xmpp-client._tcp.example.org."
        );
        assert_eq!(
            srv_name(Service::S2s, Mode::DirectTls, "example.org"),
            "_xmpps-server._tcp.example.org."
        );
    }
}
