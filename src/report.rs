//! The one `Report` model: what a check found, rendered by every formatter.
//!
//! The JSON form is a stable contract (`schema` = [`SCHEMA`]): fields are only ever added.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// JSON schema identifier of a single-domain report.
pub const SCHEMA: &str = "xmpp-manifesto/report-v1";

/// The outcome of a check of one domain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema: String,
    /// The XMPP domain as checked (A-label, lower case).
    pub domain: String,
    pub verdict: Verdict,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    pub tool_version: String,
    pub duration_ms: u64,
    pub requirements: BTreeMap<RequirementId, Requirement>,
    /// Findings that never decide the verdict (DNSSEC, DANE, expiry soon...).
    #[serde(default)]
    pub advisories: Vec<Advisory>,
    pub discovery: Vec<DiscoveryRecord>,
    pub endpoints: Vec<Endpoint>,
    /// Server software, when the server revealed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<Software>,
    /// Which endpoints and address families this check could see, and why not the others.
    /// Absent from reports written before coverage was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Inconclusive,
    /// Neither c2s nor s2s is served (both SRV targets ".", or no XMPP endpoint at all):
    /// nothing was checked, so nothing can pass. Never "verified".
    #[serde(rename = "no-service")]
    NoService,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NoService => "no-service",
        }
    }

    /// The verdict of a domain's requirements: [`Verdict::NoService`] when neither the c2s nor
    /// the s2s requirement applies (the domain serves no XMPP: there was nothing to check),
    /// else [`Verdict::from_statuses`]. A client-only or server-only domain is judged on what
    /// it serves.
    pub fn from_requirements(requirements: &BTreeMap<RequirementId, Requirement>) -> Verdict {
        let not_served = |id| {
            requirements
                .get(&id)
                .is_none_or(|r: &Requirement| r.status == Status::NotApplicable)
        };
        if not_served(RequirementId::C2sTlsRequired) && not_served(RequirementId::S2sTlsRequired) {
            return Verdict::NoService;
        }
        Verdict::from_statuses(requirements.values().map(|r| &r.status))
    }

    /// Fail if any requirement fails, else inconclusive if any is inconclusive, else pass.
    pub fn from_statuses<'a>(statuses: impl IntoIterator<Item = &'a Status>) -> Verdict {
        let mut verdict = Verdict::Pass;
        for status in statuses {
            match status {
                Status::Fail => return Verdict::Fail,
                Status::Inconclusive => verdict = Verdict::Inconclusive,
                _ => {}
            }
        }
        verdict
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum RequirementId {
    C2sTlsRequired,
    S2sTlsRequired,
    TrustedCertificate,
    ModernTls,
    ForwardSecrecy,
    DomainControl,
    /// Present only when a dialback responder was used (`--responder`): does the server refuse
    /// to federate with a peer that offers no TLS? Absent means "not tested".
    S2sOutboundTls,
}

impl RequirementId {
    pub const CHECK: [RequirementId; 5] = [
        RequirementId::C2sTlsRequired,
        RequirementId::S2sTlsRequired,
        RequirementId::TrustedCertificate,
        RequirementId::ModernTls,
        RequirementId::ForwardSecrecy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequirementId::C2sTlsRequired => "c2s-tls-required",
            RequirementId::S2sTlsRequired => "s2s-tls-required",
            RequirementId::TrustedCertificate => "trusted-certificate",
            RequirementId::ModernTls => "modern-tls",
            RequirementId::ForwardSecrecy => "forward-secrecy",
            RequirementId::DomainControl => "domain-control",
            RequirementId::S2sOutboundTls => "s2s-outbound-tls",
        }
    }

    /// A short human title.
    pub fn title(self) -> &'static str {
        match self {
            RequirementId::C2sTlsRequired => "TLS required for clients",
            RequirementId::S2sTlsRequired => "TLS required for servers",
            RequirementId::TrustedCertificate => "Trusted certificate for the domain",
            RequirementId::ModernTls => "Modern TLS versions",
            RequirementId::ForwardSecrecy => "Forward secrecy",
            RequirementId::DomainControl => "Domain control",
            RequirementId::S2sOutboundTls => "TLS required for outgoing federation",
        }
    }
}

impl fmt::Display for RequirementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Status of one requirement. Ordered from best to worst for aggregation, so that
/// a requirement over several endpoints takes the `max` (the worst endpoint's).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    NotApplicable,
    Pass,
    Warn,
    Inconclusive,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotApplicable => "not-applicable",
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Inconclusive => "inconclusive",
            Status::Fail => "fail",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a `*-tls-required` pass rests on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// A plaintext probe was refused by the server.
    Verified,
    /// Only the server's `<required/>` (or STARTTLS-only) advertisement.
    Advertised,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Requirement {
    pub status: Status,
    /// One sentence telling the operator where they stand or what to change.
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Basis>,
    /// The concrete change to make, in the words of the server software when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Facts the status rests on, one per line, each naming its endpoint.
    #[serde(default)]
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AdvisoryLevel {
    Info,
    Warn,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Advisory {
    pub id: String,
    pub level: AdvisoryLevel,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    #[serde(default)]
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    C2s,
    S2s,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::C2s => "c2s",
            Service::S2s => "s2s",
        }
    }
    pub fn default_port(self) -> u16 {
        match self {
            Service::C2s => 5222,
            Service::S2s => 5269,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Starttls,
    DirectTls,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Starttls => "starttls",
            Mode::DirectTls => "direct-tls",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One DNS question asked during discovery and what it gave.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DiscoveryRecord {
    /// e.g. `_xmpp-client._tcp.example.org` or `example.org` for the A/AAAA fallback.
    pub name: String,
    pub service: Service,
    pub mode: Mode,
    pub outcome: DiscoveryOutcome,
    /// Records as text, e.g. `5 0 5222 xmpp.example.org.`.
    #[serde(default)]
    pub records: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DiscoveryOutcome {
    /// SRV records found.
    Found,
    /// No record of this name (NXDOMAIN / NODATA).
    NoRecords,
    /// A single SRV record with target ".": the service is decidedly absent.
    ServiceAbsent,
    /// A/AAAA fallback on the default port, used because no SRV exists.
    Fallback,
    /// The lookup failed (SERVFAIL, timeout...): no conclusion may rest on it.
    Error,
    /// Addresses were found but refused by policy (private, loopback...).
    Refused,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointSource {
    Srv,
    Fallback,
}

/// One connection target: a service on one address of one host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    pub service: Service,
    pub mode: Mode,
    pub source: EndpointSource,
    /// SRV target (or the domain itself for the fallback), without trailing dot.
    pub host: String,
    pub port: u16,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    /// Attributes of the server's stream header before TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_tls_features: Option<Features>,
    /// What the server answered to `<starttls/>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starttls: Option<StarttlsOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_tls_features: Option<Features>,
    /// Enforcement probes, each on its own plaintext connection.
    #[serde(default)]
    pub probes: Vec<ProbeResult>,
    /// TLS posture probes (versions and suites the server still accepts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub posture: Vec<PostureProbe>,
    /// What went wrong after TLS was established (not a failure of TLS enforcement, e.g. a
    /// server that wants a client certificate on s2s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_tls_error: Option<String>,
    /// Why the main session stopped early, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    pub duration_ms: u64,
    /// The certificates the server presented (DER, leaf first), kept in memory for DANE
    /// matching; not part of the report.
    #[serde(skip)]
    pub presented: PresentedChain,
}

/// The DER chain an endpoint presented, for the duration of a check. Never serialised, and
/// ignored by equality (a report read back from JSON equals the one written).
#[derive(Debug, Clone, Default)]
pub struct PresentedChain(pub Vec<rustls_pki_types::CertificateDer<'static>>);

impl PartialEq for PresentedChain {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Endpoint {
    /// An endpoint before anything is known about it but where it is.
    pub fn planned(
        service: Service,
        mode: Mode,
        source: EndpointSource,
        host: &str,
        port: u16,
    ) -> Endpoint {
        Endpoint {
            service,
            mode,
            source,
            host: host.to_owned(),
            port,
            address: String::new(),
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
            presented: PresentedChain::default(),
        }
    }

    /// `host:port (address)`, as evidence lines name endpoints.
    pub fn label(&self) -> String {
        let addr = if self.address.contains(':') {
            format!("[{}]", self.address)
        } else {
            self.address.clone()
        };
        format!(
            "{} {} {}:{} ({})",
            self.service, self.mode, self.host, self.port, addr
        )
    }
}

/// Why an endpoint session stopped early.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// Connection refused, reset, no route, no address.
    Unreachable,
    /// The peer did not answer in time.
    Timeout,
    /// Not contacted: the address is not public and `--allow-private` was not given.
    Policy,
    /// The peer broke the XMPP protocol (garbage, restricted XML, oversized data, stream error).
    Protocol,
    /// The TLS handshake failed.
    Tls,
    /// The TLS handshake failed because no TLS 1.2/1.3 forward-secret suite is accepted.
    TlsIncompatible,
    /// Not contacted because of the checker, not the server: this machine has no route to the
    /// address's family, or `--ip-family` excluded it. Never graded (see [`Coverage`]).
    NotChecked,
    /// Refused or reset again after a pause, when earlier connections to the same address had
    /// succeeded: the server appears to rate-limit new connections (inconclusive, never a fail).
    RateLimited,
}

/// An IP address family.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    Ipv4,
    Ipv6,
}

impl IpFamily {
    /// The family of `ip`; an IPv4-mapped IPv6 address is IPv4 (that is where it goes).
    pub fn of(ip: std::net::IpAddr) -> IpFamily {
        if ip.to_canonical().is_ipv4() {
            IpFamily::Ipv4
        } else {
            IpFamily::Ipv6
        }
    }

    /// The JSON name and the `--ip-family` value: `ipv4`, `ipv6`.
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
        }
    }

    /// For people: `IPv4`, `IPv6`.
    pub fn name(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "IPv4",
            IpFamily::Ipv6 => "IPv6",
        }
    }
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How much of a domain a check could see.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CoverageStatus {
    /// Every endpoint that has an address was checked (or there was none).
    Full,
    /// Some endpoints could not be checked from here.
    Partial,
    /// No endpoint could be checked from here.
    #[serde(rename = "none")]
    Nothing,
}

impl CoverageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CoverageStatus::Full => "full",
            CoverageStatus::Partial => "partial",
            CoverageStatus::Nothing => "none",
        }
    }
}

/// Which endpoints a check could see. Requirements are judged on the endpoints checked; the
/// others are the checker's limits (no route to a family, `--ip-family`), not the server's
/// faults, and this says so.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Coverage {
    pub status: CoverageStatus,
    /// One plain sentence, e.g. "checked over IPv4 only: a lax IPv6 endpoint could not be seen
    /// from here (this checker has no IPv6 route)".
    pub summary: String,
    /// Each family the domain's endpoints use, IPv4 first.
    #[serde(default)]
    pub families: Vec<FamilyCoverage>,
    /// Each endpoint not checked, and why.
    #[serde(default)]
    pub not_checked: Vec<NotChecked>,
}

impl Coverage {
    /// What the history keeps of it.
    pub fn brief(&self) -> CoverageBrief {
        let only = match self.families.as_slice() {
            _ if self.status != CoverageStatus::Partial => None,
            families => {
                let mut checked = families.iter().filter(|f| f.checked > 0);
                match (checked.next(), checked.next()) {
                    (Some(f), None) if f.not_checked == 0 => Some(f.family),
                    _ => None,
                }
            }
        };
        CoverageBrief {
            status: self.status,
            only,
        }
    }
}

/// The endpoints of one address family.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FamilyCoverage {
    pub family: IpFamily,
    pub checked: usize,
    pub not_checked: usize,
    /// Why some were not checked, e.g. "this checker has no IPv6 route".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// An endpoint that was not checked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NotChecked {
    /// As evidence lines name it ([`Endpoint::label`]).
    pub endpoint: String,
    pub reason: String,
}

/// Coverage in brief, as histories and lifecycles keep it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CoverageBrief {
    pub status: CoverageStatus,
    /// Set when the check saw exactly one family, all of it, and nothing of the other: what
    /// "verified (IPv4 only)" rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<IpFamily>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StreamHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Features {
    pub starttls: bool,
    pub starttls_required: bool,
    #[serde(default)]
    pub sasl_mechanisms: Vec<String>,
    #[serde(default)]
    pub channel_binding: Vec<String>,
    pub dialback: bool,
    /// Every feature element as `{namespace}name`, in the order sent.
    #[serde(default)]
    pub elements: Vec<String>,
    /// Entity capabilities node (XEP-0115), which names the server software.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps_node: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StarttlsOutcome {
    Proceed,
    Failure,
    /// Stream error or close instead of an answer.
    Closed,
    NoAnswer,
    NotAttempted,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TlsInfo {
    pub version: String,
    pub cipher_suite: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_exchange: Option<String>,
    pub forward_secret: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    pub handshake_ms: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CertificateInfo {
    /// Chains to a trust anchor (Mozilla's roots or `--ca-file`), ignoring the name.
    pub chain_trusted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_error: Option<String>,
    /// Which reference identity matched: `DNS-ID`, `SRV-ID` or `XmppAddr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_match: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_error: Option<String>,
    pub expired: bool,
    pub not_yet_valid: bool,
    /// Leaf first, as presented.
    #[serde(default)]
    pub chain: Vec<CertificateDetails>,
}

impl CertificateInfo {
    pub fn is_trusted(&self) -> bool {
        self.chain_trusted && self.name_match.is_some() && !self.expired && !self.not_yet_valid
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CertificateDetails {
    pub subject: String,
    pub issuer: String,
    #[serde(default)]
    pub dns_names: Vec<String>,
    #[serde(default)]
    pub srv_names: Vec<String>,
    #[serde(default)]
    pub xmpp_addrs: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    pub key: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeKind {
    /// SASL SCRAM-SHA-1 (then PLAIN) auth before TLS, c2s.
    Sasl,
    /// Dialback `<db:result/>` before TLS, s2s. With a responder, from its `domain`: the
    /// target can complete the dial-back, and must then refuse or accept our cleartext stream.
    Dialback,
    /// With a responder: dialback from its `plain_domain`, which never offers TLS. Does the
    /// target federate outbound in cleartext?
    OutboundDialback,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeOutcome {
    /// The server refused to process the plaintext request.
    Enforced,
    /// The server processed the request without TLS.
    NotEnforced,
    /// The server began to process the request in cleartext (e.g. dialback was attempted),
    /// without proving that it would accept the peer: only the advertisement can decide.
    Attempted,
    /// No answer within the wait: no proof either way.
    NoAnswer,
    /// The probe could not be run (connect, stream or protocol error).
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProbeResult {
    pub kind: ProbeKind,
    pub outcome: ProbeOutcome,
    /// What was sent, verbatim.
    pub sent: String,
    /// The first element (or event) received in answer, truncated.
    #[serde(default)]
    pub received: String,
    pub detail: String,
    pub duration_ms: u64,
    /// Why the probe could not run, when that decides how it is graded (`rate-limited`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    /// What the dialback responder saw of this probe (only with `--responder`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responder: Option<ResponderEvidence>,
}

impl ProbeResult {
    /// A probe of `kind` that has not run yet: an error until it says otherwise.
    pub fn pending(kind: ProbeKind) -> Self {
        ProbeResult {
            kind,
            outcome: ProbeOutcome::Error,
            sent: String::new(),
            received: String::new(),
            detail: String::new(),
            duration_ms: 0,
            error_kind: None,
            responder: None,
        }
    }
}

impl ResponderEvidence {
    /// What the responder saw, in a few words: how the proof came about.
    pub fn words(&self) -> String {
        let sender = &self.sender;
        if self.by_difference {
            return format!(
                "proved by difference: no dial-back for a cleartext dialback, one to {sender} for the same dialback over TLS"
            );
        }
        if self.dialed_back {
            let how = self
                .tls
                .as_deref()
                .map(|v| format!("over {v}"))
                .unwrap_or_else(|| "in cleartext".into());
            let answer = if self.verified {
                "vouched for"
            } else {
                "refused"
            };
            return format!(
                "the target dialled back to {sender} {how}; the responder {answer} our key"
            );
        }
        if self.starttls_unoffered {
            return format!("the target insisted on STARTTLS with {sender}, which offers none");
        }
        match self.connections {
            0 => format!("the target never connected to {sender}"),
            n => format!("the target connected to {sender} {n} time(s) without dialing back"),
        }
    }
}

/// What the dialback responder (`manifesto responder`) saw while a probe ran: whether the
/// target dialled back to the probe domain, how, and what it did there.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResponderEvidence {
    /// The probe domain we claimed to be.
    pub sender: String,
    /// The target sent our key back in a `<db:verify/>` (the dial-back happened).
    pub dialed_back: bool,
    /// The responder answered that `<db:verify/>` `valid`.
    #[serde(default)]
    pub verified: bool,
    /// The TLS version of the target's connection to the responder, if it used TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
    /// The target sent `<starttls/>` to a probe domain that offered none.
    #[serde(default)]
    pub starttls_unoffered: bool,
    /// Connections from the target the responder saw during the probe.
    #[serde(default)]
    pub connections: u32,
    /// The proof rests on a difference: the cleartext dialback got nothing, the same dialback
    /// over TLS on our own stream completed.
    #[serde(default)]
    pub by_difference: bool,
    /// In words, for people.
    pub summary: String,
}

/// One TLS posture probe: a protocol version or suite set offered to the server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PostureProbe {
    /// e.g. `sslv3`, `tls1.0`, `tls1.2-static-rsa`, `tls1.2-rsa-preferred`.
    pub offer: String,
    pub outcome: PostureOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_suite: Option<String>,
    #[serde(default)]
    pub sent_hex: String,
    #[serde(default)]
    pub received_hex: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PostureOutcome {
    Accepted,
    Refused,
    Error,
    Inconclusive,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Software {
    Prosody,
    Ejabberd,
    Openfire,
    Tigase,
    Other,
}

impl Software {
    pub fn name(self) -> &'static str {
        match self {
            Software::Prosody => "Prosody",
            Software::Ejabberd => "ejabberd",
            Software::Openfire => "Openfire",
            Software::Tigase => "Tigase",
            Software::Other => "the server",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(status: Status) -> Requirement {
        Requirement {
            status,
            summary: String::new(),
            basis: None,
            fix: None,
            evidence: vec![],
        }
    }

    fn reqs(c2s: Status, s2s: Status, others: Status) -> BTreeMap<RequirementId, Requirement> {
        BTreeMap::from([
            (RequirementId::C2sTlsRequired, req(c2s)),
            (RequirementId::S2sTlsRequired, req(s2s)),
            (RequirementId::TrustedCertificate, req(others)),
            (RequirementId::ModernTls, req(others)),
            (RequirementId::ForwardSecrecy, req(others)),
        ])
    }

    #[test]
    fn serving_nothing_is_never_a_pass() {
        use Status::{NotApplicable as Na, Pass};
        assert_eq!(
            Verdict::from_requirements(&reqs(Na, Na, Na)),
            Verdict::NoService
        );
        assert_eq!(
            Verdict::from_requirements(&BTreeMap::new()),
            Verdict::NoService
        );
        // Client-only and server-only domains are judged on what they serve.
        assert_eq!(
            Verdict::from_requirements(&reqs(Pass, Na, Pass)),
            Verdict::Pass
        );
        assert_eq!(
            Verdict::from_requirements(&reqs(Na, Pass, Pass)),
            Verdict::Pass
        );
        assert_eq!(
            Verdict::from_requirements(&reqs(Status::Fail, Na, Pass)),
            Verdict::Fail
        );
        assert_eq!(
            serde_json::to_string(&Verdict::NoService).unwrap(),
            "\"no-service\""
        );
    }
}
