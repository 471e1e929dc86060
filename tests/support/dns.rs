//! An in-process authoritative DNS server (hickory-server) on 127.0.0.1, UDP and TCP on the
//! same port, serving a [`Zone`] built in the test.
//!
//! The zone is the root zone ".", so the server answers for every name: names without records
//! get NXDOMAIN (with the SOA), names with records of another type get NODATA. Names marked
//! with [`Zone::servfail`] answer SERVFAIL; names marked with [`Zone::no_answer`] are never
//! answered (the client times out).
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

use hickory_proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA, SRV, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};

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
}

impl Zone {
    pub fn new() -> Self {
        Self::default()
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

    fn into_handler(self) -> ZoneRequestHandler {
        let origin = Name::root();
        let mut zone =
            InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::empty(
                origin.clone(),
                ZoneType::Primary,
                AxfrPolicy::Deny,
                None,
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
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![std::sync::Arc::new(zone)]);
        ZoneRequestHandler {
            catalog,
            servfail: self.servfail,
            no_answer: self.no_answer,
        }
    }
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
}

impl DnsServer {
    /// Binds 127.0.0.1 on one port for both UDP and TCP and serves `zone`.
    pub async fn start(zone: Zone) -> DnsServer {
        let (udp, tcp) = bind_same_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).await;
        let addr = udp.local_addr().expect("UDP local address");
        let mut server = Server::new(zone.into_handler());
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 16);
        DnsServer { addr, server }
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
