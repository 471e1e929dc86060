//! One scenario of an integration test, in the order a test sets it up: start the servers,
//! serve a DNS zone that points at them, then run the real `manifesto` against them with the
//! test's resolver and CA.
//!
//! ```ignore
//! let pki = Pki::new();
//! let s = Scenario::prosody(Prosody::builder().vhost(domain).cert(&pki.leaf(&[domain])))
//!     .await
//!     .trusting(&pki)                      // --ca-file
//!     .serve_domain(domain)                // or .serve_zone(|zone, s| zone.srv(...))
//!     .await;
//! let run = s.check(domain, &["--timeout", "5"]).await;
//! assert_eq!(run.code, 0, "{}", run.dump());
//! ```
//!
//! The servers and the DNS server live as long as the scenario. A signed zone
//! ([`Zone::signed`]) is trusted automatically (`--trust-anchor`).

use std::ffi::OsString;
use std::ops::Deref;
use std::path::PathBuf;

use super::check::{CheckRun, check};
use super::cli::manifesto;
use super::dns::{DnsServer, Zone};
use super::ejabberd::{Ejabberd, EjabberdBuilder};
use super::listeners::Listening;
use super::pki::Pki;
use super::prosody::{Prosody, ProsodyBuilder};

/// A server started by a scenario. Dereferences to where it listens.
pub enum Server {
    Prosody(Prosody),
    Ejabberd(Ejabberd),
}

impl Server {
    /// The last lines of the server's log, for assertion messages.
    pub fn log_tail(&self, lines: usize) -> String {
        match self {
            Server::Prosody(p) => p.log_tail(lines),
            Server::Ejabberd(e) => e.log_tail(lines),
        }
    }
}

impl Deref for Server {
    type Target = Listening;

    fn deref(&self) -> &Listening {
        match self {
            Server::Prosody(p) => p,
            Server::Ejabberd(e) => e,
        }
    }
}

/// Servers, the DNS zone that points at them, and the CA the verifier trusts.
#[derive(Default)]
pub struct Scenario {
    servers: Vec<Server>,
    ca_file: Option<PathBuf>,
    dns: Option<DnsServer>,
}

impl Scenario {
    /// A scenario without a server of its own (only DNS, e.g. pointing at a closed port or a
    /// hand-written fake server).
    pub fn new() -> Scenario {
        Scenario::default()
    }

    /// Starts Prosody (panics when it does not start, with its log).
    pub async fn prosody(builder: ProsodyBuilder) -> Scenario {
        Scenario::new().and_prosody(builder).await
    }

    /// Starts ejabberd (panics when it does not start, with its log).
    pub async fn ejabberd(builder: EjabberdBuilder) -> Scenario {
        Scenario::new().and_ejabberd(builder).await
    }

    /// Starts one more Prosody ([`Scenario::servers`] keeps the order).
    pub async fn and_prosody(mut self, builder: ProsodyBuilder) -> Scenario {
        let p = builder.start().await.expect("start Prosody");
        self.servers.push(Server::Prosody(p));
        self
    }

    /// Starts one more ejabberd.
    pub async fn and_ejabberd(mut self, builder: EjabberdBuilder) -> Scenario {
        let e = builder.start().await.expect("start ejabberd");
        self.servers.push(Server::Ejabberd(e));
        self
    }

    /// The verifier trusts this test CA (`--ca-file`). The `Pki` must outlive the scenario.
    pub fn trusting(mut self, pki: &Pki) -> Scenario {
        self.ca_file = Some(pki.ca_file().to_path_buf());
        self
    }

    /// Starts the DNS server with the zone `records` builds from an empty one; `records` gets
    /// the scenario to read the servers' addresses and ports.
    pub async fn serve_zone(mut self, records: impl FnOnce(Zone, &Scenario) -> Zone) -> Scenario {
        assert!(self.dns.is_none(), "the scenario already serves its zone");
        let zone = records(Zone::new(), &self);
        self.dns = Some(DnsServer::start(zone).await);
        self
    }

    /// Serves the usual DNS of `domain` ([`Zone::xmpp_at`]): both STARTTLS SRV records to
    /// `xmpp.DOMAIN`, which has the (first) server's address.
    pub async fn serve_domain(self, domain: &str) -> Scenario {
        self.serve_zone(|zone, s| zone.xmpp_at(domain, &format!("xmpp.{domain}"), s.server()))
            .await
    }

    /// The first server started.
    pub fn server(&self) -> &Server {
        self.servers
            .first()
            .expect("the scenario started no server")
    }

    /// Every server, in the order started.
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    pub fn dns(&self) -> &DnsServer {
        self.dns
            .as_ref()
            .expect("serve the zone first (serve_zone, serve_domain)")
    }

    /// The network options every command that connects needs here: `--allow-private`, the
    /// test's `--resolver`, and `--ca-file` / `--trust-anchor` when set.
    pub fn network_args(&self) -> Vec<OsString> {
        let dns = self.dns();
        let mut args: Vec<OsString> = vec![
            "--allow-private".into(),
            "--resolver".into(),
            dns.resolver_arg().into(),
        ];
        if let Some(ca) = &self.ca_file {
            args.extend(["--ca-file".into(), ca.into()]);
        }
        if let Some(anchor) = dns.trust_anchor_file() {
            args.extend(["--trust-anchor".into(), anchor.into()]);
        }
        args
    }

    /// `manifesto check DOMAIN --format json`, with [`Scenario::network_args`] and `extra`:
    /// the parsed report and the exit code.
    pub async fn check(&self, domain: &str, extra: &[&str]) -> CheckRun {
        let mut args = self.network_args();
        args.extend(extra.iter().map(OsString::from));
        check(domain, &args).await
    }

    /// What `manifesto check DOMAIN --format FORMAT` prints, for the same inputs as
    /// [`Scenario::check`].
    pub fn render(&self, domain: &str, format: &str, extra: &[&str]) -> String {
        let out = manifesto()
            .args(["check", domain, "--format", format])
            .args(self.network_args())
            .args(extra)
            .output()
            .expect("run manifesto");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
