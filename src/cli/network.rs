//! The network options shared by every command that checks domains.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use std::sync::Arc;

use crate::check::node::{NodeClient, NodeUrl};
use crate::check::responder::ResponderLink;
use crate::check::{CheckError, CheckOptions, DEFAULT_S2S_FROM};
use crate::report::IpFamily;

/// Network options shared by every command that checks domains.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Network")]
pub struct NetworkArgs {
    /// DNS server to ask, as IP or IP:PORT (repeatable; default: the system resolver).
    #[arg(long = "resolver", value_name = "IP[:PORT]", value_parser = parse_resolver)]
    pub resolvers: Vec<SocketAddr>,
    /// Extra trust anchors (PEM), beside Mozilla's roots (repeatable).
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_files: Vec<PathBuf>,
    /// DNSSEC trust anchors (a file of DNSKEY records) instead of the IANA root keys.
    #[arg(long = "trust-anchor", value_name = "FILE")]
    pub trust_anchor: Option<PathBuf>,
    /// Allow connections to loopback, private, link-local and other non-public addresses.
    #[arg(long)]
    pub allow_private: bool,
    /// Timeout for each network step, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = parse_secs)]
    pub timeout: f64,
    /// Deadline for the whole check of one domain, in seconds: endpoints not done by then are
    /// inconclusive.
    #[arg(long, value_name = "SECS", default_value_t = crate::check::DEFAULT_DEADLINE.as_secs_f64(), value_parser = parse_secs)]
    pub deadline: f64,
    /// Sender domain in s2s stream headers (must not be a domain the target serves).
    #[arg(long, value_name = "DOMAIN", default_value = DEFAULT_S2S_FROM)]
    pub s2s_from: String,
    /// The longest a plaintext probe waits for an answer before calling it silence, in seconds
    /// (the wait adapts to the connection's round trip).
    #[arg(long, value_name = "SECS", default_value_t = 2.0, value_parser = parse_secs, hide = true)]
    pub probe_wait: f64,
    /// The shortest wait for a probe's answer, in seconds (raise it on slow links).
    #[arg(long, value_name = "SECS", default_value_t = 0.4, value_parser = parse_secs, hide = true)]
    pub probe_wait_min: f64,
    /// Check only the endpoints of one address family; those of the other are reported as not
    /// checked (excluded by --ip-family).
    #[arg(long, value_enum, value_name = "FAMILY", default_value_t = IpFamilyArg::Any)]
    pub ip_family: IpFamilyArg,
    /// Partial coverage is inconclusive: a requirement passes only when every one of its
    /// endpoints could be checked from here (none left out by a missing route or --ip-family).
    #[arg(long)]
    pub require_full_coverage: bool,
    /// Connections open at once to one IP address (servers limit new connections per source;
    /// lower it for a server that rate-limits).
    #[arg(long, value_name = "N", default_value_t = crate::check::net::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, value_parser = parse_count)]
    pub max_connections_per_address: usize,
    /// Connections open at once in all [default: 256, or the file-descriptor limit less 64 if
    /// lower].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub max_connections: Option<usize>,
    /// The dialback responder's configuration file (docs/responder.md): proves s2s TLS
    /// enforcement both ways (inbound and outbound). The secret comes from its `secret_file`
    /// or the environment variable MANIFESTO_RESPONDER_SECRET.
    #[arg(long, value_name = "FILE")]
    pub responder: Option<PathBuf>,
    /// Run each check on this check service (`manifesto serve`, docs/node.md) and use its
    /// report: complete coverage (IPv4 and IPv6, the responder's proofs) from a machine that has
    /// neither. Its token, if any, comes from the environment variable MANIFESTO_NODE_TOKEN
    /// (it raises the limits). The service's own network settings apply there; --deadline
    /// bounds the wait (plus time for its queue).
    #[arg(long, value_name = "URL", value_parser = parse_node)]
    pub node: Option<NodeUrl>,
}

/// The clap face of `CheckOptions::ip_family`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IpFamilyArg {
    /// Both IPv4 and IPv6.
    Any,
    Ipv4,
    Ipv6,
}

impl IpFamilyArg {
    fn family(self) -> Option<IpFamily> {
        match self {
            IpFamilyArg::Any => None,
            IpFamilyArg::Ipv4 => Some(IpFamily::Ipv4),
            IpFamilyArg::Ipv6 => Some(IpFamily::Ipv6),
        }
    }
}

impl NetworkArgs {
    /// The check options, with the responder's configuration and secret read when given.
    pub fn check_options(&self) -> Result<CheckOptions, CheckError> {
        let mut options = self.options_without_responder();
        if let Some(path) = &self.responder {
            let link = ResponderLink::load(path, options.timeout)?;
            options.responder = Some(Arc::new(link));
        }
        Ok(options)
    }

    /// The check options, without a responder (the check service, if any, stays: it has its
    /// own responder).
    pub fn options_without_responder(&self) -> CheckOptions {
        let timeout = Duration::from_secs_f64(self.timeout);
        let deadline = Duration::from_secs_f64(self.deadline);
        let node = self.node.as_ref().map(|url| {
            let token = std::env::var(crate::check::node::TOKEN_ENV).ok();
            let client = NodeClient::new(url.clone(), token, timeout)
                .with_wait(deadline + crate::check::node::DEADLINE_MARGIN);
            Arc::new(client)
        });
        CheckOptions {
            resolvers: self.resolvers.clone(),
            ca_files: self.ca_files.clone(),
            trust_anchor: self.trust_anchor.clone(),
            allow_private: self.allow_private,
            timeout,
            deadline,
            s2s_from: self.s2s_from.clone(),
            probe_wait: Duration::from_secs_f64(self.probe_wait),
            probe_wait_min: Duration::from_secs_f64(self.probe_wait_min),
            pacer: None,
            posture_cache: None,
            ip_family: self.ip_family.family(),
            require_full_coverage: self.require_full_coverage,
            max_connections_per_address: self.max_connections_per_address,
            max_connections: self.max_connections,
            connection_limiter: None,
            responder: None,
            node,
        }
    }
}

fn parse_node(s: &str) -> Result<NodeUrl, String> {
    NodeUrl::parse(s).map_err(|e| e.to_string())
}

fn parse_resolver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{s:?} is not an IP address or IP:PORT"))
}

fn parse_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a number from 1 to 1000000")),
    }
}

pub(crate) fn parse_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if !(0.05..=600.0).contains(&v) {
        return Err("must be between 0.05 and 600 seconds".into());
    }
    Ok(v)
}
