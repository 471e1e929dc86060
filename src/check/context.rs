//! What every endpoint check of one domain shares: names, limits, TLS client, trust roots, and
//! the optional pacer and posture cache a sweep lends to its checks.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::check::net;
use crate::check::tls::TlsClient;
use crate::check::xml::Limits;
use crate::check::xmpp::Header;
use crate::report::Service;

/// Everything an endpoint check needs, shared by all endpoints of a check.
pub struct Context<'a> {
    pub domain: &'a str,
    pub s2s_from: &'a str,
    pub timeout: Duration,
    /// How long to wait for an answer to a probe before calling it silence: adapted to the
    /// connection's round trip, between these two.
    pub probe_wait_min: Duration,
    pub probe_wait: Duration,
    pub allow_private: bool,
    pub tls: &'a TlsClient,
    pub roots: &'a rustls::RootCertStore,
    pub limits: Limits,
    /// Spacing between connections to one address, when the caller shares one.
    pub pacer: Option<&'a net::Pacer>,
    /// Posture results shared across the checks of a sweep.
    pub posture_cache: Option<&'a crate::check::posture::PostureCache>,
}

impl Context<'_> {
    /// A bounded connect, after this address's turn when connections are paced.
    pub async fn connect(&self, addr: SocketAddr) -> Result<TcpStream, net::ConnectError> {
        if let Some(pacer) = self.pacer {
            pacer.wait(addr.ip()).await;
        }
        net::connect(addr, self.timeout, self.allow_private).await
    }

    pub(crate) fn header(&self, service: Service) -> Header<'_> {
        Header {
            service,
            to: self.domain,
            from: (service == Service::S2s).then_some(self.s2s_from),
        }
    }
}
