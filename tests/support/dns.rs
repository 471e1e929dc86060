//! An in-process authoritative DNS server (hickory-server) on 127.0.0.1, UDP and TCP on the
//! same port, serving a [`Zone`] built in the test.
//!
//! The zone is the root zone ".", so the server answers for every name: names without records
//! get NXDOMAIN (with the SOA), names with records of another type get NODATA. Names marked
//! with [`Zone::servfail`] answer SERVFAIL; names marked with [`Zone::no_answer`] are never
//! answered (the client times out).
//!
//! [`Zone::signed`] DNSSEC-signs the zone (NSEC, one ECDSA P-256 key for the root zone); the
//! server then writes its DNSKEY to a trust anchor file ([`DnsServer::trust_anchor_file`], for
//! `--trust-anchor`). [`Zone::bogus`] breaks the signatures of one name's RRsets.
//!
//! ```ignore
//! let dns = DnsServer::start(
//!     Zone::new()
//!         .srv("_xmpp-client._tcp.example.test", 0, 5, 5222, "xmpp.example.test")
//!         .a("xmpp.example.test", p.ip()),
//! ).await;
//! // --resolver dns.resolver_arg()
//! ```

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::dnssec::crypto::EcdsaSigningKey;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, RRSIG};
use hickory_proto::dnssec::{Algorithm, DnssecSigner, SigningKey};
use hickory_proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA, SRV, TLSA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordSet};
use hickory_server::Server;
use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};

use super::listeners::Listening;

/// TTL of every record served.
pub const TTL: u32 = 60;

/// Parses a name as absolute (a trailing dot is added when missing; "." is the root).
pub fn name(s: &str) -> Name {
    if s == "." || s.is_empty() {
        return Name::root();
    }
    let absolute = if s.ends_with('.') {
        s.to_string()
    } else {
        format!("{s}.")
    };
    Name::from_ascii(&absolute).unwrap_or_else(|e| panic!("bad DNS name {s:?}: {e}"))
}

/// The records of the test zone, plus names that fail on purpose.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    records: Vec<Record>,
    servfail: HashSet<LowerName>,
    no_answer: HashSet<LowerName>,
    signed: bool,
    bogus: HashSet<LowerName>,
}

impl Zone {
    pub fn new() -> Self {
        Self::default()
    }

    /// The SRV records of both STARTTLS services of `domain`, pointing at `host` on the given
    /// ports, and `host`'s address: the usual shape of an XMPP domain's DNS.
    pub fn xmpp(self, domain: &str, host: &str, ip: IpAddr, c2s: u16, s2s: u16) -> Self {
        self.srv(&format!("_xmpp-client._tcp.{domain}"), 5, 0, c2s, host)
            .srv(&format!("_xmpp-server._tcp.{domain}"), 5, 0, s2s, host)
            .ip(host, ip)
    }

    /// [`Zone::xmpp`] for a server the test started: its address and STARTTLS ports.
    pub fn xmpp_at(self, domain: &str, host: &str, server: &Listening) -> Self {
        self.xmpp(
            domain,
            host,
            server.ip(),
            server.c2s_port(),
            server.s2s_port(),
        )
    }

    /// Any record.
    pub fn record(mut self, owner: &str, rdata: RData) -> Self {
        self.records
            .push(Record::from_rdata(name(owner), TTL, rdata));
        self
    }

    /// SRV; `target` "." means "service decidedly not available".
    pub fn srv(self, owner: &str, priority: u16, weight: u16, port: u16, target: &str) -> Self {
        self.record(
            owner,
            RData::SRV(SRV::new(priority, weight, port, name(target))),
        )
    }

    pub fn a(self, owner: &str, ip: Ipv4Addr) -> Self {
        self.record(owner, RData::A(A(ip)))
    }

    pub fn aaaa(self, owner: &str, ip: Ipv6Addr) -> Self {
        self.record(owner, RData::AAAA(AAAA(ip)))
    }

    /// A or AAAA, by the address family of `ip`.
    pub fn ip(self, owner: &str, ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => self.a(owner, v4),
            IpAddr::V6(v6) => self.aaaa(owner, v6),
        }
    }

    pub fn txt(self, owner: &str, text: &str) -> Self {
        self.record(owner, RData::TXT(TXT::new(vec![text.to_string()])))
    }

    pub fn cname(self, owner: &str, target: &str) -> Self {
        self.record(owner, RData::CNAME(CNAME(name(target))))
    }

    /// TLSA (RFC 6698), e.g. `.tlsa("_5222._tcp.xmpp.example.test", 3, 1, 1, &digest)`.
    pub fn tlsa(self, owner: &str, usage: u8, selector: u8, matching: u8, data: &[u8]) -> Self {
        self.record(
            owner,
            RData::TLSA(TLSA::new(
                usage.into(),
                selector.into(),
                matching.into(),
                data.to_vec(),
            )),
        )
    }

    /// DNSSEC-signs the whole zone (the root zone, so every name is signed) with NSEC denial of
    /// existence. The trust anchor is [`DnsServer::trust_anchor_file`].
    pub fn signed(mut self) -> Self {
        self.signed = true;
        self
    }

    /// Signs the zone ([`Zone::signed`]) but corrupts the signatures over every RRset of
    /// `owner`: a validating resolver finds them bogus.
    pub fn bogus(mut self, owner: &str) -> Self {
        self.signed = true;
        self.bogus.insert(LowerName::new(&name(owner)));
        self
    }

    /// Every query for `owner` (any type) answers SERVFAIL.
    pub fn servfail(mut self, owner: &str) -> Self {
        self.servfail.insert(LowerName::new(&name(owner)));
        self
    }

    /// Queries for `owner` are dropped: the client sees a timeout.
    pub fn no_answer(mut self, owner: &str) -> Self {
        self.no_answer.insert(LowerName::new(&name(owner)));
        self
    }

    /// The request handler, and the trust anchor (a DNSKEY record as text) when signed.
    fn into_handler(self) -> (ZoneRequestHandler, Option<String>) {
        let origin = Name::root();
        let mut zone =
            InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::empty(
                origin.clone(),
                ZoneType::Primary,
                AxfrPolicy::Deny,
                self.signed.then_some(NxProofKind::Nsec),
            );
        let serial = 1;
        let soa = SOA::new(
            name("ns.test"),
            name("hostmaster.test"),
            serial,
            3600,
            600,
            86400,
            TTL,
        );
        assert!(zone.upsert_mut(
            Record::from_rdata(origin.clone(), TTL, RData::SOA(soa)),
            serial
        ));
        for record in self.records {
            let text = record.to_string();
            assert!(
                zone.upsert_mut(record, serial),
                "the zone refused the record {text}"
            );
        }
        let anchor = self.signed.then(|| sign(&mut zone, &origin, &self.bogus));
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![std::sync::Arc::new(zone)]);
        let handler = ZoneRequestHandler {
            catalog,
            servfail: self.servfail,
            no_answer: self.no_answer,
        };
        (handler, anchor)
    }
}

/// Signs `zone` with a fresh ECDSA P-256 key, corrupts the RRSIGs of the `bogus` names, and
/// returns the trust anchor (the DNSKEY record in zone-file form).
fn sign(
    zone: &mut InMemoryZoneHandler<hickory_server::net::runtime::TokioRuntimeProvider>,
    origin: &Name,
    bogus: &HashSet<LowerName>,
) -> String {
    let algorithm = Algorithm::ECDSAP256SHA256;
    let pkcs8 = EcdsaSigningKey::generate_pkcs8(algorithm).expect("generate a DNSSEC key");
    let key = EcdsaSigningKey::from_pkcs8(&pkcs8, algorithm).expect("load the DNSSEC key");
    let public = key.to_public_key().expect("DNSSEC public key");
    let dnskey = DNSKEY::from_key(&public);
    let signer = DnssecSigner::new(
        dnskey.clone(),
        Box::new(key),
        origin.clone(),
        Duration::from_secs(7 * 86400),
    );
    zone.add_zone_signing_key_mut(signer)
        .expect("add the zone signing key");
    zone.secure_zone_mut().expect("sign the zone");
    for (key, rrset) in zone.records_get_mut().iter_mut() {
        if !bogus.contains(&key.name) {
            continue;
        }
        let mut broken = RecordSet::clone(rrset);
        let rrsigs: Vec<Record> = broken
            .rrsigs()
            .iter()
            .map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(sig)) => {
                    let mut bytes = sig.sig().to_vec();
                    if let Some(b) = bytes.get_mut(8) {
                        *b ^= 0x5a;
                    }
                    Record::from_rdata(
                        r.name.clone(),
                        r.ttl,
                        RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(
                            sig.input().clone(),
                            bytes,
                        ))),
                    )
                }
                _ => r.clone(),
            })
            .collect();
        assert!(!rrsigs.is_empty(), "no RRSIG to break at {}", key.name);
        broken.set_rrsigs(rrsigs);
        *rrset = std::sync::Arc::new(broken);
    }
    Record::from_rdata(
        origin.clone(),
        TTL,
        RData::DNSSEC(DNSSECRData::DNSKEY(dnskey)),
    )
    .to_string()
}

/// The catalog, with SERVFAIL and silence for chosen names in front of it.
struct ZoneRequestHandler {
    catalog: Catalog,
    servfail: HashSet<LowerName>,
    no_answer: HashSet<LowerName>,
}

#[async_trait::async_trait]
impl RequestHandler for ZoneRequestHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let failed = || {
            let mut metadata = Metadata::response_from_request(&request.metadata);
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        };
        if let Ok(info) = request.request_info() {
            let qname = info.query.name();
            if self.no_answer.contains(qname) {
                return failed();
            }
            if self.servfail.contains(qname) {
                let response = MessageResponseBuilder::new(&request.queries, None)
                    .error_msg(&request.metadata, ResponseCode::ServFail);
                return response_handle
                    .send_response(response)
                    .await
                    .unwrap_or_else(|_| failed());
            }
        }
        self.catalog
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}

/// A running DNS server; stops when dropped.
pub struct DnsServer {
    addr: SocketAddr,
    server: Server<ZoneRequestHandler>,
    /// The signed zone's DNSKEY in a file, for `--trust-anchor`.
    trust_anchor: Option<(tempfile::TempDir, std::path::PathBuf)>,
}

impl DnsServer {
    /// Binds 127.0.0.1 on one port for both UDP and TCP and serves `zone`.
    pub async fn start(zone: Zone) -> DnsServer {
        let (udp, tcp) = bind_same_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).await;
        let addr = udp.local_addr().expect("UDP local address");
        let (handler, anchor) = zone.into_handler();
        let trust_anchor = anchor.map(|text| {
            let dir = tempfile::Builder::new()
                .prefix("manifesto-dnssec-")
                .tempdir()
                .expect("temp dir for the trust anchor");
            let path = dir.path().join("trust-anchor.key");
            std::fs::write(&path, format!("{text}\n")).expect("write the trust anchor");
            (dir, path)
        });
        let mut server = Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 16);
        DnsServer {
            addr,
            server,
            trust_anchor,
        }
    }

    /// The DNSKEY of a signed zone ([`Zone::signed`]) in a trust anchor file, for
    /// `--trust-anchor`; `None` for an unsigned zone.
    pub fn trust_anchor_file(&self) -> Option<&std::path::Path> {
        self.trust_anchor.as_ref().map(|(_, p)| p.as_path())
    }

    /// Where the server listens (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The value for the verifier's `--resolver` option: `127.0.0.1:PORT`.
    pub fn resolver_arg(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        // Cancel the serving tasks; dropping `server` (its JoinSet) aborts whatever is left.
        self.server.shutdown_token().cancel();
    }
}

async fn bind_same_port(ip: IpAddr) -> (tokio::net::UdpSocket, tokio::net::TcpListener) {
    for _ in 0..50 {
        let udp = tokio::net::UdpSocket::bind((ip, 0))
            .await
            .expect("bind UDP");
        let port = udp.local_addr().expect("UDP address").port();
        if let Ok(tcp) = tokio::net::TcpListener::bind((ip, port)).await {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP on {ip}");
}
