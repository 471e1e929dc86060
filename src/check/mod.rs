//! `manifesto check`: discovery, every endpoint concurrently, then grading into a [`Report`].

pub(crate) mod address;
pub(crate) mod advisories;
pub(crate) mod context;
pub(crate) mod coverage;
pub mod dane;
pub(crate) mod dialback;
pub(crate) mod dns;
pub(crate) mod grade;
pub(crate) mod http;
pub(crate) mod identity;
pub(crate) mod net;
pub mod node;
pub(crate) mod posture;
pub(crate) mod probes;
pub(crate) mod reach;
pub mod responder;
pub(crate) mod session;
pub(crate) mod tls;
pub(crate) mod xml;
pub(crate) mod xmpp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;

use crate::check::context::Context;
use crate::check::dns::{Discovery, MAX_ENDPOINTS};
use crate::check::tls::TlsClient;
use crate::check::xml::Limits;
use crate::report::{Endpoint, ErrorKind, IpFamily, Report, SCHEMA, Verdict};

/// Default overall deadline of one domain's check.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// Default sender name in s2s stream headers: a name that no target serves and that resolves
/// nowhere (RFC 6761 `.invalid`), so that no dialback can ever succeed.
pub const DEFAULT_S2S_FROM: &str = "probe.xmpp-manifesto.invalid";

#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// DNS servers (`IP:PORT`); empty = the system resolver.
    pub resolvers: Vec<SocketAddr>,
    /// Extra trust anchors (PEM files).
    pub ca_files: Vec<PathBuf>,
    /// DNSSEC trust anchors (DNSKEY records) instead of the IANA root keys.
    pub trust_anchor: Option<PathBuf>,
    pub allow_private: bool,
    /// Per network step.
    pub timeout: Duration,
    /// For the whole check of one domain: an endpoint not done by then is inconclusive
    /// ("deadline"), whatever its steps' own timeouts. Bounds a check of a server that answers
    /// every step just before its timeout.
    pub deadline: Duration,
    pub s2s_from: String,
    /// The longest a probe waits for an answer before calling it silence (the wait adapts to
    /// the connection's round trip, from 400 ms up to this).
    pub probe_wait: Duration,
    /// The shortest such wait.
    pub probe_wait_min: Duration,
    /// Spacing between connections to the same address (a sweep shares one over its checks).
    pub pacer: Option<Arc<net::Pacer>>,
    /// Posture results shared by every check of a sweep (see `crate::check::posture::PostureCache`);
    /// without one, each check shares them between its own endpoints on one address and port.
    pub posture_cache: Option<Arc<crate::check::posture::PostureCache>>,
    /// Check only the endpoints of this family (`None`: both); the others are not checked.
    pub ip_family: Option<IpFamily>,
    /// A requirement that rests on part of its endpoints is inconclusive, not a pass.
    pub require_full_coverage: bool,
    /// Connections open at once to one IP address (`--max-connections-per-address`).
    pub max_connections_per_address: usize,
    /// Connections open at once in all; `None`: [`net::default_max_connections`], below the
    /// file-descriptor limit (`--max-connections`).
    pub max_connections: Option<usize>,
    /// The caps above, shared by every `Checker` that is given the same one; `Checker::new`
    /// makes one from the two numbers when absent (see `crate::check::net::ConnectionLimiter`).
    pub connection_limiter: Option<Arc<net::ConnectionLimiter>>,
    /// The dialback responder (`--responder`): s2s enforcement proven both ways.
    pub responder: Option<Arc<responder::ResponderLink>>,
    /// A check service (`--node`, docs/node.md): each check runs there and its report is used
    /// as if it were local (the options above then apply only as far as
    /// [`Checker::check`] says).
    pub node: Option<Arc<node::NodeClient>>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            resolvers: vec![],
            ca_files: vec![],
            trust_anchor: None,
            allow_private: false,
            timeout: Duration::from_secs(10),
            deadline: DEFAULT_DEADLINE,
            s2s_from: DEFAULT_S2S_FROM.into(),
            probe_wait: Duration::from_millis(2000),
            probe_wait_min: Duration::from_millis(400),
            pacer: None,
            posture_cache: None,
            ip_family: None,
            require_full_coverage: false,
            max_connections_per_address: net::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            max_connections: None,
            connection_limiter: None,
            responder: None,
            node: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("invalid domain {0:?}: {1}")]
    InvalidDomain(String, String),
    #[error("cannot read CA file {0}: {1}")]
    CaFile(PathBuf, String),
    #[error("cannot use the DNSSEC trust anchor {0}: {1}")]
    TrustAnchor(PathBuf, String),
    #[error(transparent)]
    Dns(#[from] dns::DnsError),
    #[error(transparent)]
    Tls(#[from] crate::check::tls::TlsError),
    /// The dialback responder's configuration or secret cannot be used (`--responder`).
    #[error(transparent)]
    Responder(#[from] responder::ConfigError),
}

/// Normalises an XMPP domain to its lower-case A-label form (see [`crate::domain::normalize`]).
pub fn normalize_domain(input: &str) -> Result<String, CheckError> {
    crate::domain::normalize(input).map_err(|e| CheckError::InvalidDomain(input.to_owned(), e.0))
}

/// A configured checker, reusable for many domains.
pub struct Checker {
    resolver: TokioResolver,
    /// DNSSEC-validating, for the `dnssec` and `dane` advisories.
    validating: TokioResolver,
    /// Whether `validating` validates at all: asked once per checker.
    root_check: dane::RootCheck,
    roots: Arc<RootCertStore>,
    tls: TlsClient,
    limiter: Arc<net::ConnectionLimiter>,
    opts: CheckOptions,
}

impl Checker {
    pub fn new(opts: CheckOptions) -> Result<Self, CheckError> {
        let mut extra = Vec::new();
        for path in &opts.ca_files {
            let certs: Result<Vec<CertificateDer<'static>>, _> =
                CertificateDer::pem_file_iter(path)
                    .map_err(|e| CheckError::CaFile(path.clone(), e.to_string()))?
                    .collect();
            let certs = certs.map_err(|e| CheckError::CaFile(path.clone(), e.to_string()))?;
            if certs.is_empty() {
                return Err(CheckError::CaFile(
                    path.clone(),
                    "no certificate in it".into(),
                ));
            }
            extra.extend(certs);
        }
        let (roots, _) = identity::root_store(&extra);
        let validating = crate::check::dane::validating_resolver(
            &opts.resolvers,
            opts.timeout,
            opts.trust_anchor.as_deref(),
        )
        .map_err(|e| match &opts.trust_anchor {
            Some(path) => CheckError::TrustAnchor(path.clone(), e),
            None => CheckError::Dns(dns::DnsError::Config(e)),
        })?;
        let limiter = opts.connection_limiter.clone().unwrap_or_else(|| {
            Arc::new(net::ConnectionLimiter::new(
                opts.max_connections_per_address,
                opts.max_connections
                    .unwrap_or_else(net::default_max_connections),
            ))
        });
        Ok(Checker {
            resolver: dns::resolver(&opts.resolvers, opts.timeout)?,
            validating,
            root_check: dane::RootCheck::default(),
            roots: Arc::new(roots),
            tls: TlsClient::new()?,
            limiter,
            opts,
        })
    }

    pub fn resolver(&self) -> &TokioResolver {
        &self.resolver
    }

    pub fn options(&self) -> &CheckOptions {
        &self.opts
    }

    /// The caps on open connections every check of this checker shares.
    pub fn connection_limiter(&self) -> &Arc<net::ConnectionLimiter> {
        &self.limiter
    }

    /// Checks one domain (already normalised with [`normalize_domain`]): here, or on the check
    /// service when one is set.
    pub async fn check(&self, domain: &str) -> Report {
        match &self.opts.node {
            Some(node) => self.check_on_node(node, domain).await,
            None => self.check_here(domain).await,
        }
    }

    /// The service's report; an error makes the report inconclusive, never a pass or a fail
    /// that no check found. The service's own settings decided how it checked (its resolver,
    /// its families, its responder); of ours only `--require-full-coverage` applies, since it
    /// judges a report's coverage rather than how it was made.
    async fn check_on_node(&self, node: &node::NodeClient, domain: &str) -> Report {
        let started = Instant::now();
        let mut report = match node.check(domain).await {
            Ok(report) => report,
            Err(e) => return node::unchecked_report(domain, node.url(), &e, started.elapsed()),
        };
        if self.opts.require_full_coverage
            && let Some(coverage) = &report.coverage
        {
            coverage::require_full(&mut report.requirements, &report.endpoints, coverage);
            report.verdict = Verdict::from_requirements(&report.requirements);
        }
        report
    }

    /// Checks one domain from this machine.
    async fn check_here(&self, domain: &str) -> Report {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.opts.deadline;
        let checked_at = OffsetDateTime::now_utc();
        let mut discovery = dns::discover(&self.resolver, domain).await;
        // DNSSEC and DANE lookups run beside the endpoint checks; bogus answers then make
        // discovery fail (inconclusive, never a pass).
        let (endpoints, dnssec) = tokio::join!(
            self.check_endpoints(domain, &discovery, deadline),
            dane::assess(
                &self.validating,
                &discovery,
                self.opts.timeout * 3,
                &self.root_check
            )
        );
        dane::degrade_discovery(&dnssec, &mut discovery);
        let software = grade::detect_software(&endpoints);
        let mut requirements = grade::requirements(domain, &discovery, &endpoints, software);
        if self.opts.responder.is_some() {
            let outbound = grade::outbound_requirement(domain, &discovery, &endpoints, software);
            requirements.insert(crate::report::RequirementId::S2sOutboundTls, outbound);
        }
        let coverage = coverage::of(&endpoints);
        if self.opts.require_full_coverage {
            coverage::require_full(&mut requirements, &endpoints, &coverage);
        }
        let verdict = Verdict::from_requirements(&requirements);
        let mut advisories = crate::check::advisories::advisories(&endpoints, checked_at);
        advisories.extend(dane::advisories(domain, &dnssec, &endpoints));
        Report {
            schema: SCHEMA.into(),
            domain: domain.to_owned(),
            verdict,
            checked_at,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            duration_ms: started.elapsed().as_millis() as u64,
            requirements,
            advisories,
            discovery: discovery.records,
            endpoints,
            software,
            coverage: Some(coverage),
        }
    }

    /// Said once per run: the resolver does not validate DNSSEC (see [`dane::RootCheck`]).
    pub fn dnssec_note(&self) -> Option<String> {
        self.root_check.note()
    }

    async fn check_endpoints(
        &self,
        domain: &str,
        discovery: &Discovery,
        deadline: tokio::time::Instant,
    ) -> Vec<Endpoint> {
        // Endpoints of one check on the same address and port (several SRV targets with one
        // address) share their posture, as the checks of a sweep do.
        let own_cache = crate::check::posture::PostureCache::for_one_check();
        let target_addresses: Vec<std::net::IpAddr> = discovery
            .addresses
            .values()
            .filter_map(|r| r.as_ref().ok())
            .flatten()
            .copied()
            .collect();
        let ctx = Context {
            domain,
            s2s_from: &self.opts.s2s_from,
            timeout: self.opts.timeout,
            probe_wait: self.opts.probe_wait.min(self.opts.timeout),
            probe_wait_min: self.opts.probe_wait_min.min(self.opts.timeout),
            allow_private: self.opts.allow_private,
            tls: &self.tls,
            roots: &self.roots,
            limits: Limits::default(),
            deadline,
            limiter: &self.limiter,
            pacer: self.opts.pacer.as_deref(),
            posture_cache: Some(self.opts.posture_cache.as_deref().unwrap_or(&own_cache)),
            responder: self.opts.responder.as_deref(),
            target_addresses: &target_addresses,
        };
        let mut planned: Vec<(Endpoint, Option<SocketAddr>)> = Vec::new();
        for target in &discovery.targets {
            let base = Endpoint {
                priority: target.priority,
                weight: target.weight,
                ..Endpoint::planned(
                    target.service,
                    target.mode,
                    target.source,
                    &target.host,
                    target.port,
                )
            };
            match discovery.addresses.get(&target.host) {
                Some(Ok(addrs)) if !addrs.is_empty() => {
                    for ip in addrs {
                        let mut ep = base.clone();
                        ep.address = ip.to_string();
                        if !self.opts.allow_private && !net::is_public(*ip) {
                            ep.error = Some(net::ConnectError::NotPublic(*ip).to_string());
                            ep.error_kind = Some(ErrorKind::Policy);
                            planned.push((ep, None));
                        } else {
                            planned.push((ep, Some(SocketAddr::new(*ip, target.port))));
                        }
                    }
                }
                Some(Ok(_)) => {
                    let mut ep = base;
                    ep.error = Some(format!("{} has no A or AAAA record", target.host));
                    ep.error_kind = Some(ErrorKind::Unreachable);
                    planned.push((ep, None));
                }
                Some(Err(e)) => {
                    let mut ep = base;
                    ep.error = Some(format!("address lookup of {} failed: {e}", target.host));
                    ep.error_kind = Some(ErrorKind::Unreachable);
                    planned.push((ep, None));
                }
                None => {}
            }
        }
        planned.truncate(MAX_ENDPOINTS);
        reach::mark_not_checked(&mut planned, self.opts.ip_family);
        let ctx = &ctx;
        let limit = self.opts.deadline;
        futures::future::join_all(planned.into_iter().map(|(ep, addr)| async move {
            let Some(addr) = addr else {
                return ep;
            };
            let planned = ep.clone();
            match tokio::time::timeout_at(deadline, session::check_endpoint(ctx, ep, addr)).await {
                Ok(ep) => ep,
                Err(_) => past_deadline(planned, limit),
            }
        }))
        .await
    }
}

/// An endpoint whose checks were cut by the check's deadline: inconclusive, with the reason.
fn past_deadline(mut ep: Endpoint, limit: Duration) -> Endpoint {
    ep.error = Some(format!(
        "the check's deadline of {} s passed before this endpoint was done (--deadline)",
        limit.as_secs_f64()
    ));
    ep.error_kind = Some(ErrorKind::Timeout);
    ep.duration_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
    ep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_normalise() {
        assert_eq!(normalize_domain("Example.ORG.").unwrap(), "example.org");
        assert_eq!(
            normalize_domain("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert!(normalize_domain("1.2.3.4").is_err());
        assert!(normalize_domain("[::1]").is_err());
        assert!(normalize_domain("").is_err());
        assert!(normalize_domain("a..b").is_err());
        assert!(normalize_domain("exa mple.org").is_err());
    }

    /// Compile-time only: a check can be spawned on its own task (`tokio::spawn` needs `Send`
    /// futures; `manifesto serve` runs each check on one, and so may a library user). This
    /// test failing is a build error naming what is not `Send`, typically a borrowed value
    /// captured by an async closure (rust-lang/rust#102211; see `Checker::check_endpoints`).
    #[test]
    fn a_check_is_send() {
        fn assert_send<T: Send>(_: T) {}
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Checker>();
        // Never polled: only the types of the futures matter.
        let Ok(checker) = Checker::new(CheckOptions::default()) else {
            return;
        };
        assert_send(checker.check("example.org"));
        // The shape `tokio::spawn` gets: the check's future held inside another async block,
        // where rustc proves `Send` for every lifetime of the borrows it holds (where #102211
        // bites). `async move` owns the checker and the domain: it is `'static` as well.
        let checker = Arc::new(checker);
        let domain = String::from("example.org");
        assert_send(async move { checker.check(&domain).await });
    }
}
