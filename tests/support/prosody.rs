//! A real Prosody (Debian's 0.12) per scenario, in the foreground, on its own loopback address.
//!
//! ```ignore
//! let p = Prosody::builder()
//!     .vhost("example.test")
//!     .cert(&cert)
//!     .c2s_require_encryption(true)
//!     .start()
//!     .await
//!     .unwrap();
//! let addr = p.c2s_addr();
//! ```

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::ops::Deref;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::listeners::{Listen, Listeners, Listening};
use super::pki::Cert;
use super::{Readiness, StartError, StartFailure, quote, require_binary, retry_start, tail};

/// How long a start may take before it counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Scenario settings; see [`Prosody::builder`].
#[derive(Debug, Clone)]
pub struct ProsodyBuilder {
    vhosts: Vec<String>,
    cert: Option<(PathBuf, PathBuf)>,
    c2s_require_encryption: bool,
    s2s_require_encryption: bool,
    s2s_secure_auth: bool,
    tls_protocol: Option<String>,
    tls_ciphers: Option<String>,
    listeners: Listeners,
    modules: Vec<String>,
    resolver: Option<SocketAddr>,
    ca_file: Option<PathBuf>,
    extra_global: String,
}

impl Default for ProsodyBuilder {
    fn default() -> Self {
        ProsodyBuilder {
            vhosts: Vec::new(),
            cert: None,
            // Prosody 0.12's own defaults.
            c2s_require_encryption: true,
            s2s_require_encryption: true,
            s2s_secure_auth: false,
            tls_protocol: None,
            tls_ciphers: None,
            listeners: Listeners::default(),
            modules: [
                "roster", "saslauth", "tls", "dialback", "disco", "ping", "register", "version",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            resolver: None,
            ca_file: None,
            extra_global: String::new(),
        }
    }
}

impl ProsodyBuilder {
    /// Adds a `VirtualHost` (at least one is needed).
    pub fn vhost(mut self, domain: &str) -> Self {
        self.vhosts.push(domain.to_string());
        self
    }

    /// Certificate chain and key for every host and service. Without one, Prosody offers no
    /// STARTTLS at all.
    pub fn cert(mut self, cert: &Cert) -> Self {
        self.cert = Some((cert.chain_file.clone(), cert.key_file.clone()));
        self
    }

    /// Certificate and key from explicit files.
    pub fn cert_files(mut self, chain: &Path, key: &Path) -> Self {
        self.cert = Some((chain.to_path_buf(), key.to_path_buf()));
        self
    }

    pub fn c2s_require_encryption(mut self, on: bool) -> Self {
        self.c2s_require_encryption = on;
        self
    }

    pub fn s2s_require_encryption(mut self, on: bool) -> Self {
        self.s2s_require_encryption = on;
        self
    }

    pub fn s2s_secure_auth(mut self, on: bool) -> Self {
        self.s2s_secure_auth = on;
        self
    }

    /// LuaSec protocol, e.g. `"tlsv1+"` (accept TLS 1.0 and later) or `"tlsv1_2+"`.
    pub fn tls_protocol(mut self, protocol: &str) -> Self {
        self.tls_protocol = Some(protocol.to_string());
        self
    }

    /// OpenSSL cipher string, e.g. `"DEFAULT:AES128-SHA:@SECLEVEL=0"`.
    pub fn tls_ciphers(mut self, ciphers: &str) -> Self {
        self.tls_ciphers = Some(ciphers.to_string());
        self
    }

    /// Without `mod_tls` (`false`), Prosody offers no STARTTLS at all. Note that merely leaving
    /// out the certificate is not the same: Prosody 0.12 still advertises STARTTLS and then
    /// fails the handshake ("no shared cipher").
    pub fn tls(mut self, on: bool) -> Self {
        self.modules.retain(|m| m != "tls");
        if on {
            self.modules.push("tls".to_string());
        }
        self
    }

    /// Makes Prosody's resolver (libunbound) forward every query to this DNS server (e.g. a
    /// [`super::dns::DnsServer`]) instead of /etc/resolv.conf, so s2s dialback and outgoing
    /// connections resolve names of the test's zone.
    pub fn resolver(mut self, addr: SocketAddr) -> Self {
        self.resolver = Some(addr);
        self
    }

    /// Trust this CA for the certificates of peers (`ssl = { cafile = ... }`), e.g. a test
    /// responder's under `s2s_secure_auth`.
    pub fn ca_file(mut self, path: &Path) -> Self {
        self.ca_file = Some(path.to_path_buf());
        self
    }

    /// Replaces the list of `modules_enabled`.
    pub fn modules(mut self, modules: &[&str]) -> Self {
        self.modules = modules.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Raw Lua appended to the global section of the config.
    pub fn extra_config(mut self, lua: &str) -> Self {
        self.extra_global.push_str(lua);
        self.extra_global.push('\n');
        self
    }

    /// Writes the config, starts `prosody -F`, and waits until Prosody has logged every
    /// listener as active and every port accepts connections. When an address turns out to be
    /// taken (by another test process), retries on fresh addresses/ports unless all were given.
    pub async fn start(self) -> Result<Prosody, StartError> {
        let attempts = if self.listeners.retryable() { 4 } else { 1 };
        retry_start(attempts, || self.clone().start_once()).await
    }

    /// The Lua config for one start: the global section, then one `VirtualHost` per vhost.
    fn config(&self, dir: &Path, at: &Listening, log_file: &Path) -> String {
        let ports = |p: Option<u16>| match p {
            Some(p) => format!("{{ {p} }}"),
            None => "{ }".to_string(),
        };
        let path = |p: &Path| quote(&p.to_string_lossy());
        let ip_s = quote(&at.ip().to_string());
        let mut ssl = String::new();
        if let Some((chain, key)) = &self.cert {
            let _ = write!(ssl, "certificate = {}; key = {}; ", path(chain), path(key));
        }
        if let Some(p) = &self.tls_protocol {
            let _ = write!(ssl, "protocol = {}; ", quote(p));
        }
        if let Some(c) = &self.tls_ciphers {
            let _ = write!(ssl, "ciphers = {}; ", quote(c));
        }
        if let Some(ca) = &self.ca_file {
            let _ = write!(ssl, "cafile = {}; ", path(ca));
        }
        let modules = self
            .modules
            .iter()
            .map(|m| quote(m))
            .collect::<Vec<_>>()
            .join(", ");

        let mut cfg = String::new();
        let _ = writeln!(cfg, "-- generated by tests/support/prosody.rs");
        // The tests run as root; Prosody refuses to unless told (and, started directly rather
        // than through prosodyctl, it never switches to the prosody user itself).
        let _ = writeln!(cfg, "run_as_root = true");
        let _ = writeln!(cfg, "pidfile = {}", path(&dir.join("prosody.pid")));
        let _ = writeln!(cfg, "data_path = {}", path(&dir.join("data")));
        let _ = writeln!(cfg, "certificates = {}", path(&dir.join("certs")));
        let _ = writeln!(cfg, "log = {{ debug = {} }}", path(log_file));
        let _ = writeln!(cfg, "interfaces = {{ {ip_s} }}");
        let _ = writeln!(cfg, "c2s_interfaces = {{ {ip_s} }}");
        let _ = writeln!(cfg, "s2s_interfaces = {{ {ip_s} }}");
        let _ = writeln!(cfg, "c2s_ports = {}", ports(Some(at.c2s_port())));
        let _ = writeln!(cfg, "s2s_ports = {}", ports(Some(at.s2s_port())));
        let _ = writeln!(
            cfg,
            "c2s_direct_tls_ports = {}",
            ports(at.c2s_direct_tls_port())
        );
        let _ = writeln!(
            cfg,
            "s2s_direct_tls_ports = {}",
            ports(at.s2s_direct_tls_port())
        );
        let _ = writeln!(cfg, "legacy_ssl_ports = {{ }}");
        let _ = writeln!(cfg, "modules_enabled = {{ {modules} }}");
        let _ = writeln!(cfg, "allow_registration = false");
        let _ = writeln!(cfg, "authentication = \"internal_hashed\"");
        let _ = writeln!(cfg, "storage = \"internal\"");
        let _ = writeln!(
            cfg,
            "c2s_require_encryption = {}",
            self.c2s_require_encryption
        );
        let _ = writeln!(
            cfg,
            "s2s_require_encryption = {}",
            self.s2s_require_encryption
        );
        let _ = writeln!(cfg, "s2s_secure_auth = {}", self.s2s_secure_auth);
        let _ = writeln!(cfg, "s2s_timeout = 10");
        if !ssl.is_empty() {
            let _ = writeln!(cfg, "ssl = {{ {ssl}}}");
        }
        if let Some(addr) = self.resolver {
            // libunbound refuses to query 127.0.0.0/8 and ::1 unless told otherwise, and
            // answers NXDOMAIN itself for the special-use `test.` (RFC 6761) unless that
            // default local zone is made transparent ("nodefault" has no effect through lunbound).
            let _ = writeln!(
                cfg,
                "unbound = {{ resolvconf = false; hoststxt = false; forward = {}; options = {{ \
                 [\"do-not-query-localhost:\"] = \"no\"; \
                 [\"local-zone:\"] = \"test. transparent\" }} }}",
                quote(&format!("{}@{}", addr.ip(), addr.port()))
            );
        }
        cfg.push_str(&self.extra_global);
        for vhost in &self.vhosts {
            let _ = writeln!(cfg, "\nVirtualHost {}", quote(vhost));
            if !ssl.is_empty() {
                let _ = writeln!(cfg, "  ssl = {{ {ssl}}}");
            }
        }
        cfg
    }

    async fn start_once(self) -> Result<Prosody, (StartFailure, String)> {
        let other = |e: String| (StartFailure::Other(e.clone()), e);
        let binary = require_binary("prosody", "prosody");
        assert!(!self.vhosts.is_empty(), "Prosody needs at least one vhost");
        let dir = tempfile::Builder::new()
            .prefix("manifesto-prosody-")
            .tempdir()
            .map_err(|e| other(format!("create temp dir: {e}")))?;
        let at = self.listeners.pick();
        for d in [dir.path().join("data"), dir.path().join("certs")] {
            std::fs::create_dir_all(&d)
                .map_err(|e| other(format!("create {}: {e}", d.display())))?;
        }
        let log_file = dir.path().join("prosody.log");
        let console_file = dir.path().join("console.log");
        let config_file = dir.path().join("prosody.cfg.lua");
        let cfg = self.config(dir.path(), &at, &log_file);
        std::fs::write(&config_file, &cfg).map_err(|e| other(format!("write config: {e}")))?;

        let console = std::fs::File::create(&console_file)
            .map_err(|e| other(format!("create {}: {e}", console_file.display())))?;
        let console_err = console
            .try_clone()
            .map_err(|e| other(format!("clone console file: {e}")))?;
        // `-F` = foreground (`-D` would daemonize and lose the pid). Own process group so
        // Drop can kill everything it may spawn.
        let child = Command::new(&binary)
            .arg("-F")
            .arg("--config")
            .arg(&config_file)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(console_err)
            .process_group(0)
            .spawn()
            .map_err(|e| other(format!("spawn {}: {e}", binary.display())))?;

        let mut prosody = Prosody {
            child,
            listening: at,
            log_file,
            console_file,
            config_file,
            startup: Duration::ZERO,
            dir,
        };
        let activated = |service: &str, port: u16| {
            vec![
                format!("Activated service '{service}' on"),
                format!("]:{port}"),
            ]
        };
        let mut ready_lines = vec![
            activated("c2s", at.c2s_port()),
            activated("s2s", at.s2s_port()),
        ];
        ready_lines.extend(
            at.c2s_direct_tls_port()
                .map(|port| activated("c2s_direct_tls", port)),
        );
        ready_lines.extend(
            at.s2s_direct_tls_port()
                .map(|port| activated("s2s_direct_tls", port)),
        );
        let readiness = Readiness {
            log_file: &prosody.log_file,
            ready_lines,
            // Prosody keeps running when it cannot bind; this log line is the only sign.
            in_use_markers: &["Failed to open server port"],
            addrs: at.addrs(),
            timeout: START_TIMEOUT,
        };
        match readiness.wait(&mut prosody.child).await {
            Ok(elapsed) => {
                prosody.startup = elapsed;
                Ok(prosody)
            }
            Err(failure) => {
                let report = format!(
                    "Prosody on {} did not start: {}\n--- console ---\n{}\n--- log tail ---\n{}\n--- config ---\n{cfg}",
                    at.ip(),
                    failure.reason(),
                    tail(&prosody.console_file, 20),
                    tail(&prosody.log_file, 40),
                );
                Err((failure, report))
            }
        }
    }
}

impl Listen for ProsodyBuilder {
    fn listeners(&mut self) -> &mut Listeners {
        &mut self.listeners
    }
}

/// A running Prosody; killed (with its process group) when dropped. Dereferences to where it
/// listens ([`Listening`]: `ip()`, `c2s_port()`, `c2s_addr()`, ...).
pub struct Prosody {
    child: Child,
    listening: Listening,
    log_file: PathBuf,
    console_file: PathBuf,
    config_file: PathBuf,
    startup: Duration,
    // Last: removed after the process is gone.
    dir: TempDir,
}

impl Prosody {
    pub fn builder() -> ProsodyBuilder {
        ProsodyBuilder::default()
    }

    /// How long the start took until every port accepted connections.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The whole debug log so far (for assertions and failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_file, lines)
    }

    pub fn config_file(&self) -> &Path {
        &self.config_file
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Deref for Prosody {
    type Target = Listening;

    fn deref(&self) -> &Listening {
        &self.listening
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        super::kill_group(&mut self.child);
    }
}
