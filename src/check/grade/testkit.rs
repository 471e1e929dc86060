//! Builders for the grading tests: evidence in one line, a table of cases per requirement.
//!
//! [`c2s`] and [`s2s`] start from a STARTTLS endpoint that passes every requirement (the way a
//! default Prosody 0.12 answers: `<required/>`, the plaintext probe refused, TLS 1.3, a trusted
//! certificate, legacy versions and static RSA refused); each method changes one piece of
//! evidence, with the words the real probes write. A [`Table`] grades every case through
//! [`requirements`] (as `Checker::check` does), asserts the expected status and basis, and
//! renders status, basis, summary, fix and evidence for an insta snapshot.

use std::fmt::Write as _;

use crate::check::dns::{Discovery, srv_name};
use crate::check::grade::{detect_software, outbound_requirement, requirements};
use crate::check::posture::Offer;
use crate::check::posture::hello::version_name;
use crate::report::{
    Basis, CertificateDetails, CertificateInfo, DiscoveryOutcome, DiscoveryRecord, Endpoint,
    EndpointSource, ErrorKind, Features, IpFamily, Mode, PostureOutcome, PostureProbe, ProbeKind,
    ProbeOutcome, ProbeResult, RequirementId, Service, StarttlsOutcome, Status, StreamHeader,
    TlsInfo,
};

/// The XMPP domain of every case.
pub(crate) const DOMAIN: &str = "example.test";

const NS_TLS: &str = "{urn:ietf:params:xml:ns:xmpp-tls}starttls";
const NS_SASL: &str = "{urn:ietf:params:xml:ns:xmpp-sasl}mechanisms";
const NS_DIALBACK: &str = "{urn:xmpp:features:dialback}dialback";

/// An endpoint under construction.
#[derive(Debug, Clone)]
pub(crate) struct Ep(Endpoint);

impl From<Ep> for Endpoint {
    fn from(ep: Ep) -> Endpoint {
        ep.0
    }
}

/// A c2s STARTTLS endpoint at `xmpp.example.test:5222 (192.0.2.1)` that passes everything.
pub(crate) fn c2s() -> Ep {
    Ep(good(Service::C2s))
}

/// An s2s STARTTLS endpoint at `xmpp.example.test:5269 (192.0.2.1)` that passes everything.
pub(crate) fn s2s() -> Ep {
    Ep(good(Service::S2s))
}

fn good(service: Service) -> Endpoint {
    let mut ep = Endpoint::planned(
        service,
        Mode::Starttls,
        EndpointSource::Srv,
        "xmpp.example.test",
        service.default_port(),
    );
    ep.address = "192.0.2.1".into();
    ep.priority = Some(0);
    ep.weight = Some(5);
    ep.stream = Some(StreamHeader {
        from: Some(DOMAIN.into()),
        id: Some("stream-1".into()),
        version: Some("1.0".into()),
        lang: None,
    });
    let second = match service {
        Service::C2s => NS_SASL,
        Service::S2s => NS_DIALBACK,
    };
    ep.pre_tls_features = Some(Features {
        starttls: true,
        starttls_required: true,
        elements: vec![NS_TLS.into(), second.into()],
        ..Features::default()
    });
    ep.starttls = Some(StarttlsOutcome::Proceed);
    ep.tls = Some(tls13());
    ep.certificate = Some(trusted_certificate());
    ep.post_tls_features = Some(Features::default());
    ep.probes = vec![probe_result(service, ProbeOutcome::Enforced)];
    ep.posture = default_prosody();
    ep.duration_ms = 40;
    ep
}

fn tls13() -> TlsInfo {
    TlsInfo {
        version: "TLS 1.3".into(),
        cipher_suite: "TLS13_AES_256_GCM_SHA384".into(),
        key_exchange: Some("X25519".into()),
        forward_secret: true,
        alpn: None,
        handshake_ms: 3,
    }
}

fn trusted_certificate() -> CertificateInfo {
    CertificateInfo {
        chain_trusted: true,
        chain_error: None,
        name_match: Some("DNS-ID".into()),
        name_error: None,
        expired: false,
        not_yet_valid: false,
        chain: vec![CertificateDetails {
            subject: "CN=example.test".into(),
            issuer: "CN=Test CA".into(),
            dns_names: vec![DOMAIN.into(), "xmpp.example.test".into()],
            not_before: "2025-01-01T00:00:00Z".into(),
            not_after: "2031-01-01T00:00:00Z".into(),
            key: "EC 256 bits".into(),
            sha256: "00".repeat(32),
            ..CertificateDetails::default()
        }],
    }
}

/// The enforcement probe of `service` with `outcome`, in the words the real probe writes.
pub(crate) fn probe_result(service: Service, outcome: ProbeOutcome) -> ProbeResult {
    let (kind, sent) = match service {
        Service::C2s => (
            ProbeKind::Sasl,
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>…</auth>",
        ),
        Service::S2s => (
            ProbeKind::Dialback,
            "<db:result xmlns:db='jabber:server:dialback'>…</db:result>",
        ),
    };
    let detail = match (service, outcome) {
        (Service::C2s, ProbeOutcome::Enforced) => {
            "the server refused to authenticate before TLS (<encryption-required/>)"
        }
        (Service::S2s, ProbeOutcome::Enforced) => {
            "the server closed the stream instead of running dialback before TLS"
        }
        (Service::C2s, ProbeOutcome::NotEnforced) => {
            "the server processed SASL authentication in cleartext (it answered <failure><not-authorized/></failure>, not <encryption-required/>)"
        }
        (Service::S2s, ProbeOutcome::NotEnforced) => {
            "the server authenticated a peer with dialback in cleartext (type='valid')"
        }
        (_, ProbeOutcome::Attempted) => {
            "the server ran dialback before TLS and answered type='invalid'"
        }
        (Service::C2s, ProbeOutcome::NoAnswer) => {
            "no answer to SASL before TLS within the wait: no proof either way"
        }
        (Service::S2s, ProbeOutcome::NoAnswer) => {
            "no answer to dialback before TLS within the wait (the server may be dialing back first): no proof either way"
        }
        (_, ProbeOutcome::Error) => "the probe could not run: connection refused",
    };
    ProbeResult {
        kind,
        outcome,
        sent: sent.into(),
        received: String::new(),
        detail: detail.into(),
        duration_ms: 5,
        error_kind: None,
        responder: None,
    }
}

/// One posture probe that sent its hello and got `outcome`.
pub(crate) fn posture(offer: Offer, outcome: PostureOutcome, suite: Option<&str>) -> PostureProbe {
    let detail = (outcome == PostureOutcome::Inconclusive).then(|| {
        format!(
            "no answer to the {} hello within 5s",
            version_name(offer.version())
        )
    });
    PostureProbe {
        offer: offer.name().into(),
        outcome,
        selected_suite: suite.map(str::to_owned),
        sent_hex: "16".into(),
        received_hex: String::new(),
        detail,
    }
}

/// Default Prosody 0.12 (tls_profile intermediate), as recorded.
pub(crate) fn default_prosody() -> Vec<PostureProbe> {
    use PostureOutcome::{Accepted as A, Refused as R};
    vec![
        posture(Offer::Sslv2, R, None),
        posture(Offer::Sslv3, R, None),
        posture(Offer::Tls10, R, None),
        posture(Offer::Tls11, R, None),
        posture(
            Offer::Tls12,
            A,
            Some("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
        ),
        posture(Offer::Tls13, A, Some("TLS13_AES_256_GCM_SHA384")),
        posture(Offer::Tls12StaticRsa, R, None),
        posture(
            Offer::Tls12RsaPreferred,
            A,
            Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        ),
        posture(
            Offer::Tls12FsFirst,
            A,
            Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        ),
    ]
}

/// Prosody 0.12 with `protocol = "tlsv1+"` and `DEFAULT:AES128-SHA:@SECLEVEL=0`, as recorded:
/// TLS 1.0/1.1 and static RSA accepted, and it follows the client's order of suites.
pub(crate) fn weak_prosody() -> Vec<PostureProbe> {
    use PostureOutcome::{Accepted as A, Refused as R};
    vec![
        posture(Offer::Sslv2, R, None),
        posture(Offer::Sslv3, R, None),
        posture(Offer::Tls10, A, Some("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA")),
        posture(Offer::Tls11, A, Some("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA")),
        posture(
            Offer::Tls12,
            A,
            Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        ),
        posture(Offer::Tls13, A, Some("TLS13_AES_256_GCM_SHA384")),
        posture(
            Offer::Tls12StaticRsa,
            A,
            Some("TLS_RSA_WITH_AES_128_GCM_SHA256"),
        ),
        posture(
            Offer::Tls12RsaPreferred,
            A,
            Some("TLS_RSA_WITH_AES_128_GCM_SHA256"),
        ),
        posture(
            Offer::Tls12FsFirst,
            A,
            Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        ),
    ]
}

/// A posture probe that could not even connect (no hello sent).
fn could_not_run(offer: Offer, why: &str) -> PostureProbe {
    PostureProbe {
        offer: offer.name().into(),
        outcome: PostureOutcome::Error,
        selected_suite: None,
        sent_hex: String::new(),
        received_hex: String::new(),
        detail: Some(format!("the probe could not run: {why}")),
    }
}

impl Ep {
    pub(crate) fn build(self) -> Endpoint {
        self.0
    }

    /// Another address of the same host (for several endpoints in one case).
    pub(crate) fn at(mut self, address: &str) -> Self {
        self.0.address = address.into();
        self
    }

    /// Direct TLS (XEP-0368) on 5223/5270: no features before TLS, no plaintext probe.
    pub(crate) fn direct_tls(mut self) -> Self {
        let ep = &mut self.0;
        ep.mode = Mode::DirectTls;
        ep.port = match ep.service {
            Service::C2s => 5223,
            Service::S2s => 5270,
        };
        ep.pre_tls_features = None;
        ep.starttls = None;
        ep.probes.clear();
        if let Some(tls) = &mut ep.tls {
            tls.alpn = Some(
                match ep.service {
                    Service::C2s => "xmpp-client",
                    Service::S2s => "xmpp-server",
                }
                .into(),
            );
        }
        self
    }

    fn features(&mut self) -> &mut Features {
        self.0
            .pre_tls_features
            .get_or_insert_with(Features::default)
    }

    /// `<starttls/>` without `<required/>`, beside other features.
    pub(crate) fn starttls_optional(mut self) -> Self {
        self.features().starttls_required = false;
        self
    }

    /// `<starttls/>` without `<required/>`, as the only feature (mandatory-to-negotiate).
    pub(crate) fn starttls_only_feature(mut self) -> Self {
        let f = self.features();
        f.starttls_required = false;
        f.elements = vec![NS_TLS.into()];
        self
    }

    /// No `<starttls/>` at all: the server answers `<failure/>`, so no TLS, no certificate,
    /// and the plaintext probe goes through.
    pub(crate) fn no_starttls(mut self) -> Self {
        let f = self.features();
        f.starttls = false;
        f.starttls_required = false;
        f.elements.retain(|e| e != NS_TLS);
        let service = self.0.service;
        let ep = &mut self.0;
        ep.starttls = Some(StarttlsOutcome::Failure);
        ep.tls = None;
        ep.certificate = None;
        ep.post_tls_features = None;
        ep.error = Some("the server refused STARTTLS (<failure/>)".into());
        ep.error_kind = Some(ErrorKind::Protocol);
        ep.probes = vec![probe_result(service, ProbeOutcome::NotEnforced)];
        ep.posture = Offer::ALL
            .into_iter()
            .map(|o| could_not_run(o, "<starttls/> was answered with <failure/>"))
            .collect();
        self
    }

    /// The enforcement probe ended with `outcome`.
    pub(crate) fn probe(mut self, outcome: ProbeOutcome) -> Self {
        self.0.probes = vec![probe_result(self.0.service, outcome)];
        self
    }

    /// The enforcement probe was turned away twice after earlier connections succeeded.
    pub(crate) fn probe_rate_limited(mut self) -> Self {
        let mut probe = probe_result(self.0.service, ProbeOutcome::Error);
        probe.detail = format!("the probe could not run: {}", self.rate_limit_message());
        probe.error_kind = Some(ErrorKind::RateLimited);
        self.0.probes = vec![probe];
        self
    }

    /// The words of `ConnectError::RateLimited` for this endpoint's address.
    fn rate_limit_message(&self) -> String {
        let socket = self.socket();
        format!(
            "{socket} appears to rate-limit new connections: it refused a connection, after 5 \
             earlier connection(s) to it succeeded, and again after a pause of 1.2 s. Re-run \
             the check later, or have the server allow more new connections from the \
             checker's address (this checker opens at most 4 at once to one address: \
             --max-connections-per-address)"
        )
    }

    /// With a responder: the outbound probe ended with `outcome`, in the real probe's words.
    pub(crate) fn outbound(mut self, outcome: ProbeOutcome) -> Self {
        let detail = match outcome {
            ProbeOutcome::Enforced => {
                "the server connected to plain.responder.example, which offers no TLS, and insisted on <starttls/>: it does not federate without TLS"
            }
            ProbeOutcome::NotEnforced => {
                "the server dialled back to plain.responder.example, which offers no TLS, and sent our key's <db:verify/> in cleartext: it federates with peers that offer no TLS"
            }
            _ => {
                "the server never authenticated to plain.responder.example (the responder saw 0 connection(s) from it) and answered nothing on our cleartext stream: no proof either way"
            }
        };
        let evidence = crate::report::ResponderEvidence {
            sender: "plain.responder.example".into(),
            dialed_back: outcome == ProbeOutcome::NotEnforced,
            starttls_unoffered: outcome == ProbeOutcome::Enforced,
            connections: u32::from(outcome != ProbeOutcome::NoAnswer),
            summary: detail.into(),
            ..Default::default()
        };
        self.0.probes.push(ProbeResult {
            kind: ProbeKind::OutboundDialback,
            outcome,
            sent: "<db:result xmlns:db='jabber:server:dialback'>…</db:result>".into(),
            received: String::new(),
            detail: detail.into(),
            duration_ms: 5,
            error_kind: None,
            responder: Some(evidence),
        });
        self
    }

    /// No enforcement probe recorded.
    pub(crate) fn no_probe(mut self) -> Self {
        self.0.probes.clear();
        self
    }

    /// Nothing got through: the main session, the probe and every posture probe failed to
    /// connect with `message` (an `ErrorKind::Unreachable` or `Timeout`).
    fn cut_off(mut self, kind: ErrorKind, message: &str) -> Self {
        let service = self.0.service;
        let ep = &mut self.0;
        ep.stream = None;
        ep.pre_tls_features = None;
        ep.starttls = None;
        ep.tls = None;
        ep.certificate = None;
        ep.post_tls_features = None;
        ep.error = Some(message.into());
        ep.error_kind = Some(kind);
        let mut probe = probe_result(service, ProbeOutcome::Error);
        probe.detail = format!("the probe could not run: {message}");
        ep.probes = match ep.mode {
            Mode::Starttls => vec![probe],
            Mode::DirectTls => vec![],
        };
        ep.posture = Offer::ALL
            .into_iter()
            .map(|o| could_not_run(o, message))
            .collect();
        self
    }

    /// Never contacted (`not-checked`), with `reason`: no connection, no probe, no posture.
    fn not_checked(mut self, reason: &str) -> Self {
        let ep = &mut self.0;
        ep.stream = None;
        ep.pre_tls_features = None;
        ep.starttls = None;
        ep.tls = None;
        ep.certificate = None;
        ep.post_tls_features = None;
        ep.probes.clear();
        ep.posture.clear();
        ep.error = Some(reason.into());
        ep.error_kind = Some(ErrorKind::NotChecked);
        ep.duration_ms = 0;
        self
    }

    /// Not checked: this checker has no route to the address's family (the words of
    /// `crate::check::reach`).
    pub(crate) fn no_route(self) -> Self {
        let family = self.0.address.parse().map_or(IpFamily::Ipv6, IpFamily::of);
        self.not_checked(&format!("this checker has no {family} route"))
    }

    /// Not checked: `--ip-family keep` left the address's family out.
    pub(crate) fn excluded(self, keep: IpFamily) -> Self {
        self.not_checked(&format!("excluded by --ip-family {}", keep.as_str()))
    }

    /// `address:port` as a socket address prints.
    fn socket(&self) -> String {
        match self.0.address.parse::<std::net::IpAddr>() {
            Ok(ip) => std::net::SocketAddr::new(ip, self.0.port).to_string(),
            Err(_) => format!("{}:{}", self.0.address, self.0.port),
        }
    }

    /// Connection refused everywhere.
    pub(crate) fn unreachable(self) -> Self {
        let message = format!(
            "connection to {} failed: Connection refused (os error 111)",
            self.socket()
        );
        self.cut_off(ErrorKind::Unreachable, &message)
    }

    /// Every connection turned away as a rate limiter does, after earlier ones succeeded.
    pub(crate) fn rate_limited(self) -> Self {
        let message = self.rate_limit_message();
        let mut ep = self.cut_off(ErrorKind::RateLimited, &message);
        for probe in &mut ep.0.probes {
            probe.error_kind = Some(ErrorKind::RateLimited);
        }
        ep
    }

    /// No answer to the connection attempts.
    pub(crate) fn timeout(self) -> Self {
        let message = format!("connection to {} timed out after 10s", self.socket());
        self.cut_off(ErrorKind::Timeout, &message)
    }

    /// The server broke XMPP before TLS (e.g. garbage instead of a stream header).
    pub(crate) fn protocol_error(self, message: &str) -> Self {
        self.cut_off(ErrorKind::Protocol, message)
    }

    /// The main session's TLS handshake failed: no TLS 1.2/1.3 forward-secret suite.
    pub(crate) fn tls_incompatible(mut self) -> Self {
        let ep = &mut self.0;
        ep.tls = None;
        ep.certificate = None;
        ep.post_tls_features = None;
        ep.error = Some(
            "TLS handshake failed: the server accepts no TLS version or cipher suite of TLS 1.2/1.3 with forward secrecy (received fatal alert: HandshakeFailure)"
                .into(),
        );
        ep.error_kind = Some(ErrorKind::TlsIncompatible);
        self
    }

    /// The main session negotiated TLS 1.2 with `suite`.
    pub(crate) fn tls12(mut self, suite: &str, forward_secret: bool) -> Self {
        self.0.tls = Some(TlsInfo {
            version: "TLS 1.2".into(),
            cipher_suite: suite.into(),
            key_exchange: forward_secret.then(|| "secp256r1".into()),
            forward_secret,
            alpn: None,
            handshake_ms: 4,
        });
        self
    }

    fn certificate(&mut self) -> &mut CertificateInfo {
        self.0.certificate.get_or_insert_with(trusted_certificate)
    }

    /// A self-signed certificate.
    pub(crate) fn self_signed(mut self) -> Self {
        let c = self.certificate();
        c.chain_trusted = false;
        c.chain_error = Some("the certificate is self-signed".into());
        if let Some(leaf) = c.chain.first_mut() {
            leaf.issuer = leaf.subject.clone();
        }
        self
    }

    /// A certificate for the server host only, not the XMPP domain.
    pub(crate) fn names_host_only(mut self) -> Self {
        let c = self.certificate();
        c.name_match = None;
        c.name_error = Some(
            "the certificate is not valid for the XMPP domain example.test: it names xmpp.example.test"
                .into(),
        );
        if let Some(leaf) = c.chain.first_mut() {
            leaf.subject = "CN=xmpp.example.test".into();
            leaf.dns_names = vec!["xmpp.example.test".into()];
        }
        self
    }

    /// A certificate for some other name.
    pub(crate) fn names_other(mut self) -> Self {
        let c = self.certificate();
        c.name_match = None;
        c.name_error = Some(
            "the certificate is not valid for the XMPP domain example.test: it names other.test"
                .into(),
        );
        if let Some(leaf) = c.chain.first_mut() {
            leaf.dns_names = vec!["other.test".into()];
        }
        self
    }

    /// An expired certificate.
    pub(crate) fn expired(mut self) -> Self {
        let c = self.certificate();
        c.expired = true;
        if let Some(leaf) = c.chain.first_mut() {
            leaf.not_after = "2024-01-01T00:00:00Z".into();
        }
        self
    }

    /// A certificate whose validity starts in the future.
    pub(crate) fn not_yet_valid(mut self) -> Self {
        self.certificate().not_yet_valid = true;
        self
    }

    /// Replaces every posture probe.
    pub(crate) fn posture(mut self, probes: Vec<PostureProbe>) -> Self {
        self.0.posture = probes;
        self
    }

    /// Sets one posture probe (that sent its hello) to `outcome`.
    pub(crate) fn offer(
        mut self,
        offer: Offer,
        outcome: PostureOutcome,
        suite: Option<&str>,
    ) -> Self {
        let new = posture(offer, outcome, suite);
        match self.0.posture.iter_mut().find(|p| p.offer == offer.name()) {
            Some(p) => *p = new,
            None => self.0.posture.push(new),
        }
        self
    }

    /// One posture probe could not connect (no hello sent).
    pub(crate) fn offer_not_run(mut self, offer: Offer) -> Self {
        let new = could_not_run(offer, "connection refused");
        match self.0.posture.iter_mut().find(|p| p.offer == offer.name()) {
            Some(p) => *p = new,
            None => self.0.posture.push(new),
        }
        self
    }

    /// No posture probe got as far as a hello: the main session alone is judged.
    pub(crate) fn posture_not_run(mut self) -> Self {
        self.0.posture = Offer::ALL
            .into_iter()
            .map(|o| could_not_run(o, "connection refused"))
            .collect();
        self
    }

    /// Prosody's caps node in the features (software detection).
    pub(crate) fn prosody(mut self) -> Self {
        self.features().caps_node = Some("http://prosody.im".into());
        self
    }

    /// ejabberd's caps node in the features (software detection).
    pub(crate) fn ejabberd(mut self) -> Self {
        self.features().caps_node = Some("https://www.process-one.net/en/ejabberd/".into());
        self
    }

    /// Openfire's caps node in the features (software detection).
    pub(crate) fn openfire(self) -> Self {
        self.caps("http://www.igniterealtime.org/projects/openfire/")
    }

    /// Tigase's caps node in the features (software detection).
    pub(crate) fn tigase(self) -> Self {
        self.caps("http://www.tigase.org/xmpp-server")
    }

    /// This caps node in the features (software detection).
    pub(crate) fn caps(mut self, node: &str) -> Self {
        self.features().caps_node = Some(node.into());
        self
    }
}

/// What discovery found, under construction (by default: SRV records for both services).
#[derive(Debug, Default)]
pub(crate) struct Dns(Discovery);

pub(crate) fn dns() -> Dns {
    Dns::default()
}

impl Dns {
    /// The discovery itself.
    pub(crate) fn build(self) -> Discovery {
        self.0
    }

    /// `service` publishes the SRV target ".": decidedly absent.
    pub(crate) fn absent(mut self, service: Service) -> Self {
        self.0.records.push(DiscoveryRecord {
            name: srv_name(service, Mode::Starttls, DOMAIN)
                .trim_end_matches('.')
                .into(),
            service,
            mode: Mode::Starttls,
            outcome: DiscoveryOutcome::ServiceAbsent,
            records: vec!["0 0 0 .".into()],
            detail: Some("target \".\": the service is decidedly not available".into()),
        });
        self.0.absent.push(service);
        self
    }

    /// The Direct TLS SRV lookup of `service` failed (SERVFAIL): its endpoints may be unknown.
    pub(crate) fn failed(mut self, service: Service) -> Self {
        self.0.records.push(DiscoveryRecord {
            name: srv_name(service, Mode::DirectTls, DOMAIN)
                .trim_end_matches('.')
                .into(),
            service,
            mode: Mode::DirectTls,
            outcome: DiscoveryOutcome::Error,
            records: vec![],
            detail: Some("request failed: SERVFAIL".into()),
        });
        self.0.failed.push(service);
        self
    }
}

/// What a case must grade to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expect {
    status: Status,
    basis: Option<Basis>,
}

impl From<Status> for Expect {
    fn from(status: Status) -> Self {
        Expect {
            status,
            basis: None,
        }
    }
}

impl From<(Status, Basis)> for Expect {
    fn from((status, basis): (Status, Basis)) -> Self {
        Expect {
            status,
            basis: Some(basis),
        }
    }
}

struct Case {
    name: &'static str,
    expect: Expect,
    dns: Dns,
    endpoints: Vec<Endpoint>,
}

/// The cases of one requirement.
pub(crate) struct Table {
    id: RequirementId,
    cases: Vec<Case>,
}

impl Table {
    pub(crate) fn new(id: RequirementId) -> Self {
        Table { id, cases: vec![] }
    }

    /// A case with SRV records found for both services.
    pub(crate) fn case(
        self,
        name: &'static str,
        expect: impl Into<Expect>,
        endpoints: impl IntoIterator<Item = Ep>,
    ) -> Self {
        self.case_dns(name, expect, dns(), endpoints)
    }

    /// A case with this discovery.
    pub(crate) fn case_dns(
        mut self,
        name: &'static str,
        expect: impl Into<Expect>,
        dns: Dns,
        endpoints: impl IntoIterator<Item = Ep>,
    ) -> Self {
        self.cases.push(Case {
            name,
            expect: expect.into(),
            dns,
            endpoints: endpoints.into_iter().map(Ep::build).collect(),
        });
        self
    }

    /// Grades every case; panics listing every case whose status or basis is not the expected
    /// one, else returns the rendering to snapshot.
    pub(crate) fn run(self) -> String {
        let mut out = String::new();
        let mut wrong = Vec::new();
        for case in &self.cases {
            let software = detect_software(&case.endpoints);
            let mut all = requirements(DOMAIN, &case.dns.0, &case.endpoints, software);
            if self.id == RequirementId::S2sOutboundTls {
                let outbound = outbound_requirement(DOMAIN, &case.dns.0, &case.endpoints, software);
                all.insert(self.id, outbound);
            }
            let Some(req) = all.get(&self.id) else {
                wrong.push(format!("{}: no {} requirement", case.name, self.id));
                continue;
            };
            let got = Expect {
                status: req.status,
                basis: req.basis,
            };
            if got != case.expect {
                wrong.push(format!(
                    "{}: expected {:?}, got {:?}: {}",
                    case.name, case.expect, got, req.summary
                ));
            }
            let _ = writeln!(out, "## {}", case.name);
            let _ = write!(out, "status: {}", req.status);
            if let Some(basis) = req.basis {
                let _ = write!(out, " ({basis:?})");
            }
            let _ = writeln!(out, "\nsummary: {}", req.summary);
            if let Some(fix) = &req.fix {
                let _ = writeln!(out, "fix: {fix}");
            }
            for line in &req.evidence {
                let _ = writeln!(out, "- {line}");
            }
            out.push('\n');
        }
        assert!(
            wrong.is_empty(),
            "{} case(s) of {} graded wrong:\n{}",
            wrong.len(),
            self.id,
            wrong.join("\n")
        );
        out
    }
}
