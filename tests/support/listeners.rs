//! Where a server under test listens: one option set for the Prosody and ejabberd builders
//! ([`Listen`]), and the addresses a started server really got ([`Listening`], which both
//! [`super::prosody::Prosody`] and [`super::ejabberd::Ejabberd`] dereference to).
//!
//! ```ignore
//! use support::Listen;
//! let p = Prosody::builder()
//!     .vhost("example.test")
//!     .ip(IpAddr::V6(Ipv6Addr::LOCALHOST))   // ephemeral ports then, unless given
//!     .c2s_direct_tls(true)
//!     .start()
//!     .await?;
//! let addr = p.c2s_direct_tls_addr();
//! ```

use std::net::{IpAddr, SocketAddr};

use super::{free_port, next_loopback_ip};

/// The standard ports (RFC 6120): a server on its own 127.0.0.X takes them.
const C2S_PORT: u16 = 5222;
const S2S_PORT: u16 = 5269;

/// What a test asks for. Without an address: a fresh 127.0.0.X and the standard ports 5222 and
/// 5269 (so that the A/AAAA fallback of discovery finds the server). With an explicit address,
/// which may be shared (e.g. `::1`): free ephemeral ports unless given. Direct TLS (XEP-0368)
/// listeners always get a free port.
#[derive(Debug, Clone, Default)]
pub struct Listeners {
    pub ip: Option<IpAddr>,
    pub c2s: Option<u16>,
    pub s2s: Option<u16>,
    pub direct_tls_c2s: bool,
    pub direct_tls_s2s: bool,
}

impl Listeners {
    /// Whether something is left to choose, so that a start which found an address taken (by
    /// another test process) may try again elsewhere.
    pub(crate) fn retryable(&self) -> bool {
        self.ip.is_none()
            || self.c2s.is_none()
            || self.s2s.is_none()
            || self.direct_tls_c2s
            || self.direct_tls_s2s
    }

    /// Chooses the concrete addresses for one start attempt.
    pub(crate) fn pick(&self) -> Listening {
        let (ip, standard) = match self.ip {
            Some(ip) => (ip, false),
            None => (IpAddr::V4(next_loopback_ip()), true),
        };
        let port = |explicit: Option<u16>, default: u16| {
            explicit.unwrap_or_else(|| if standard { default } else { free_port(ip) })
        };
        Listening {
            ip,
            c2s: port(self.c2s, C2S_PORT),
            s2s: port(self.s2s, S2S_PORT),
            direct_tls_c2s: self.direct_tls_c2s.then(|| free_port(ip)),
            direct_tls_s2s: self.direct_tls_s2s.then(|| free_port(ip)),
        }
    }
}

/// The listener setters of a server builder (implemented by both builders; bring the trait into
/// scope to call them).
pub trait Listen: Sized {
    /// The builder's listener options.
    fn listeners(&mut self) -> &mut Listeners;

    /// Listen on this address instead of a fresh 127.0.0.X. With an explicit address and no
    /// explicit ports, free ephemeral ports are chosen.
    fn ip(mut self, ip: IpAddr) -> Self {
        self.listeners().ip = Some(ip);
        self
    }

    fn c2s_port(mut self, port: u16) -> Self {
        self.listeners().c2s = Some(port);
        self
    }

    fn s2s_port(mut self, port: u16) -> Self {
        self.listeners().s2s = Some(port);
        self
    }

    /// Also listen for XEP-0368 Direct TLS c2s on a free port
    /// ([`Listening::c2s_direct_tls_port`]).
    fn c2s_direct_tls(mut self, on: bool) -> Self {
        self.listeners().direct_tls_c2s = on;
        self
    }

    /// Also listen for XEP-0368 Direct TLS s2s on a free port
    /// ([`Listening::s2s_direct_tls_port`]).
    fn s2s_direct_tls(mut self, on: bool) -> Self {
        self.listeners().direct_tls_s2s = on;
        self
    }
}

/// Where a started server listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listening {
    ip: IpAddr,
    c2s: u16,
    s2s: u16,
    direct_tls_c2s: Option<u16>,
    direct_tls_s2s: Option<u16>,
}

impl Listening {
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    pub fn c2s_port(&self) -> u16 {
        self.c2s
    }

    pub fn s2s_port(&self) -> u16 {
        self.s2s
    }

    pub fn c2s_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.c2s)
    }

    pub fn s2s_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.s2s)
    }

    pub fn c2s_direct_tls_port(&self) -> Option<u16> {
        self.direct_tls_c2s
    }

    pub fn s2s_direct_tls_port(&self) -> Option<u16> {
        self.direct_tls_s2s
    }

    pub fn c2s_direct_tls_addr(&self) -> Option<SocketAddr> {
        self.direct_tls_c2s.map(|p| SocketAddr::new(self.ip, p))
    }

    pub fn s2s_direct_tls_addr(&self) -> Option<SocketAddr> {
        self.direct_tls_s2s.map(|p| SocketAddr::new(self.ip, p))
    }

    /// Every listening address (STARTTLS c2s and s2s, then Direct TLS), for readiness checks.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        let mut addrs = vec![self.c2s_addr(), self.s2s_addr()];
        addrs.extend(self.c2s_direct_tls_addr());
        addrs.extend(self.s2s_direct_tls_addr());
        addrs
    }
}
