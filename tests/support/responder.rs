//! A dialback responder (`manifesto responder`, in-process) for a test: its two probe domains,
//! a certificate for the STARTTLS one from the test's CA, a secret, and the checker's copy of
//! its configuration file (the same keys, with the API's real address).
//!
//! ```ignore
//! let responder = TestResponder::start(&pki).await;
//! let zone = responder.zone(Zone::new(), false);     // SRV + A for both probe domains
//! let run = check(domain, &[..., "--responder", responder.config()]).await;
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use xmpp_manifesto::check::responder::ResponderConfig;
use xmpp_manifesto::responder::{Responder, Running};

use super::dns::Zone;
use super::next_loopback_ip;
use super::pki::Pki;

/// The probe domain that offers STARTTLS.
pub const PROBE: &str = "responder.test";
/// The probe domain that never offers TLS.
pub const PLAIN: &str = "plain.responder.test";
const SECRET: &str = "a test secret, never used anywhere else";

pub struct TestResponder {
    pub running: Running,
    ip: IpAddr,
    config: PathBuf,
    _dir: TempDir,
}

impl TestResponder {
    /// Starts a responder on a fresh 127.0.0.X (ephemeral ports), with a certificate for
    /// [`PROBE`] from `pki`.
    pub async fn start(pki: &Pki) -> TestResponder {
        let ip = IpAddr::V4(next_loopback_ip());
        let dir = tempfile::Builder::new()
            .prefix("manifesto-responder-")
            .tempdir()
            .expect("temp dir");
        let cert = pki.leaf(&[PROBE]);
        let secret = dir.path().join("secret");
        std::fs::write(&secret, SECRET).expect("write the secret");
        let text = |api_url: &str| {
            format!(
                "domain = \"{PROBE}\"\nplain_domain = \"{PLAIN}\"\nlisten = \"{ip}:0\"\nplain_listen = \"{ip}:0\"\n\
                 cert = {:?}\nkey = {:?}\nsecret_file = {:?}\napi_listen = \"{ip}:0\"\napi_url = \"{api_url}\"\n\
                 [limits]\nidle_timeout_s = 10\n",
                cert.chain_file, cert.key_file, secret
            )
        };
        let mut config = ResponderConfig::parse(&text("http://unused/")).expect("responder config");
        config.base = dir.path().to_path_buf();
        let running = Responder::start(config).await.expect("start the responder");
        let api = running.api_addr.expect("the API listens");
        let path = dir.path().join("responder.toml");
        std::fs::write(&path, text(&format!("http://{api}/"))).expect("write the config");
        TestResponder {
            running,
            ip,
            config: path,
            _dir: dir,
        }
    }

    /// The configuration file checkers read (`--responder`).
    pub fn config(&self) -> &Path {
        &self.config
    }

    pub fn tls_addr(&self) -> SocketAddr {
        self.running.tls_addrs[0]
    }

    pub fn plain_addr(&self) -> SocketAddr {
        self.running.plain_addrs[0]
    }

    /// `zone` with the s2s SRV records of both probe domains. ejabberd resolves SRV targets
    /// with the system resolver (see `super::ejabberd`): `ip_literal_targets` names them as IP
    /// literals for it; Prosody needs host names with A records.
    pub fn zone(&self, zone: Zone, ip_literal_targets: bool) -> Zone {
        let mut zone = zone;
        for (domain, addr) in [(PROBE, self.tls_addr()), (PLAIN, self.plain_addr())] {
            let owner = format!("_xmpp-server._tcp.{domain}");
            if ip_literal_targets {
                zone = zone.srv(&owner, 0, 0, addr.port(), &self.ip.to_string());
            } else {
                let host = format!("xmpp.{domain}");
                zone = zone
                    .srv(&owner, 0, 0, addr.port(), &host)
                    .ip(&host, self.ip);
            }
        }
        zone
    }
}
