//! A real ejabberd (Debian's 23.01) per scenario, its own config, spool and log directory, on
//! its own loopback address.
//!
//! It is started with `erl` directly (what `ejabberdctl foreground` ends up running) rather than
//! through `ejabberdctl`: as root, `ejabberdctl` re-executes itself as the `ejabberd` user with
//! `su`, which cannot read our 0700 temp directories, and it names an Erlang node that needs
//! epmd. Without `-sname` the VM runs as `nonode@nohost` with no Erlang distribution at all: no
//! epmd, no distribution port, nothing that can collide between parallel instances. (The price:
//! `ejabberdctl` cannot talk to the instance.)
//!
//! ```ignore
//! let e = Ejabberd::builder()
//!     .vhost("example.test")
//!     .cert(&cert)
//!     .starttls_required(true)
//!     .s2s_use_starttls(S2sStarttls::Required)
//!     .start()
//!     .await
//!     .unwrap();
//! ```

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::ops::Deref;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::listeners::{Listen, Listeners, Listening};
use super::pki::Cert;
use super::{Readiness, StartError, StartFailure, quote, require_binary, retry_start, tail};

/// ejabberd takes ~2-3 s to start here; leave room for a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Debian's ejabberd libraries (ejabberdctl sets the same `ERL_LIBS`).
const ERL_LIBS: &str = "/usr/lib/x86_64-linux-gnu";

/// `s2s_use_starttls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S2sStarttls {
    False,
    Optional,
    Required,
}

impl S2sStarttls {
    fn as_yaml(self) -> &'static str {
        match self {
            S2sStarttls::False => "false",
            S2sStarttls::Optional => "optional",
            S2sStarttls::Required => "required",
        }
    }
}

/// Scenario settings; see [`Ejabberd::builder`].
#[derive(Debug, Clone)]
pub struct EjabberdBuilder {
    vhosts: Vec<String>,
    certfiles: Vec<PathBuf>,
    starttls: bool,
    starttls_required: bool,
    s2s_use_starttls: S2sStarttls,
    protocol_options: Option<Vec<String>>,
    ciphers: Option<String>,
    listeners: Listeners,
    resolver: Option<SocketAddr>,
    modules: Vec<(String, String)>,
    extra_yaml: String,
}

impl Default for EjabberdBuilder {
    fn default() -> Self {
        EjabberdBuilder {
            vhosts: Vec::new(),
            certfiles: Vec::new(),
            starttls: true,
            starttls_required: true,
            s2s_use_starttls: S2sStarttls::Required,
            protocol_options: None,
            ciphers: None,
            listeners: Listeners::default(),
            resolver: None,
            // mod_s2s_dialback matters: without it ejabberd answers a db:result with a
            // not-authorized stream error instead of running dialback.
            modules: [
                ("mod_disco", "{}"),
                ("mod_ping", "{}"),
                ("mod_roster", "{}"),
                ("mod_s2s_dialback", "{}"),
                ("mod_stream_mgmt", "{}"),
                ("mod_version", "{show_os: false}"),
            ]
            .iter()
            .map(|(m, o)| (m.to_string(), o.to_string()))
            .collect(),
            extra_yaml: String::new(),
        }
    }
}

impl EjabberdBuilder {
    /// Adds a host (at least one is needed).
    pub fn vhost(mut self, domain: &str) -> Self {
        self.vhosts.push(domain.to_string());
        self
    }

    /// Adds the certificate (chain and key in one file) to `certfiles`.
    pub fn cert(mut self, cert: &Cert) -> Self {
        self.certfiles.push(cert.combined_file.clone());
        self
    }

    /// Adds a PEM file (certificates and/or key) to `certfiles`.
    pub fn certfile(mut self, path: &Path) -> Self {
        self.certfiles.push(path.to_path_buf());
        self
    }

    /// c2s listener `starttls` (default true): whether STARTTLS is offered at all.
    pub fn starttls(mut self, on: bool) -> Self {
        self.starttls = on;
        self
    }

    /// c2s listener `starttls_required` (default true; implies `starttls`).
    pub fn starttls_required(mut self, on: bool) -> Self {
        self.starttls_required = on;
        self
    }

    /// Global `s2s_use_starttls` (default required).
    pub fn s2s_use_starttls(mut self, mode: S2sStarttls) -> Self {
        self.s2s_use_starttls = mode;
        self
    }

    /// `c2s_protocol_options` and `s2s_protocol_options`, e.g. `["no_sslv3", "no_tlsv1"]`.
    pub fn protocol_options(mut self, options: &[&str]) -> Self {
        self.protocol_options = Some(options.iter().map(|s| s.to_string()).collect());
        self
    }

    /// `c2s_ciphers` and `s2s_ciphers` (OpenSSL cipher string).
    pub fn ciphers(mut self, ciphers: &str) -> Self {
        self.ciphers = Some(ciphers.to_string());
        self
    }

    /// Makes ejabberd's SRV lookups (inet_res) ask this DNS server (e.g. a
    /// [`super::dns::DnsServer`]). Trap: ejabberd 23.01 (p1_xmpp `xmpp_stream_out:a_lookup`)
    /// resolves SRV *targets* with `net:getaddrinfo`, i.e. the system resolver, which no inetrc
    /// reaches: in the test zone, give SRV targets as IP literals (`"127.0.0.5"`), which
    /// getaddrinfo parses without DNS.
    pub fn resolver(mut self, addr: SocketAddr) -> Self {
        self.resolver = Some(addr);
        self
    }

    /// Adds (or replaces) a module with its options as inline YAML, e.g.
    /// `.module("mod_register", "{ip_access: all}")`.
    pub fn module(mut self, name: &str, options_yaml: &str) -> Self {
        self.modules.retain(|(m, _)| m != name);
        self.modules
            .push((name.to_string(), options_yaml.to_string()));
        self
    }

    /// Removes a module from the default set.
    pub fn without_module(mut self, name: &str) -> Self {
        self.modules.retain(|(m, _)| m != name);
        self
    }

    /// Raw top-level YAML appended to the config (not `modules:`; use [`Self::module`]).
    pub fn extra_config(mut self, yaml: &str) -> Self {
        self.extra_yaml.push_str(yaml);
        self.extra_yaml.push('\n');
        self
    }

    /// Writes the config and starts the VM; waits until ejabberd has logged every listener
    /// and every port accepts connections. When an address turns out to be taken (by another
    /// test process), retries on fresh addresses/ports unless all were given.
    pub async fn start(self) -> Result<Ejabberd, StartError> {
        let attempts = if self.listeners.retryable() { 3 } else { 1 };
        retry_start(attempts, || self.clone().start_once()).await
    }

    /// The `listen:` section: STARTTLS c2s and s2s, and the Direct TLS (`tls: true`) ones.
    fn listen_yaml(&self, at: &Listening, cfg: &mut String) {
        let ip_s = quote(&at.ip().to_string());
        let _ = writeln!(cfg, "listen:");
        let _ = writeln!(cfg, "  - port: {}", at.c2s_port());
        let _ = writeln!(cfg, "    ip: {ip_s}");
        let _ = writeln!(cfg, "    module: ejabberd_c2s");
        let _ = writeln!(cfg, "    max_stanza_size: 262144");
        let _ = writeln!(cfg, "    access: c2s");
        // `starttls_required: false` alone offers no STARTTLS at all: `starttls: true` is what
        // advertises it.
        let _ = writeln!(
            cfg,
            "    starttls: {}",
            self.starttls || self.starttls_required
        );
        let _ = writeln!(cfg, "    starttls_required: {}", self.starttls_required);
        if let Some(port) = at.c2s_direct_tls_port() {
            let _ = writeln!(cfg, "  - port: {port}");
            let _ = writeln!(cfg, "    ip: {ip_s}");
            let _ = writeln!(cfg, "    module: ejabberd_c2s");
            let _ = writeln!(cfg, "    access: c2s");
            let _ = writeln!(cfg, "    tls: true");
        }
        let _ = writeln!(cfg, "  - port: {}", at.s2s_port());
        let _ = writeln!(cfg, "    ip: {ip_s}");
        let _ = writeln!(cfg, "    module: ejabberd_s2s_in");
        let _ = writeln!(cfg, "    max_stanza_size: 524288");
        if let Some(port) = at.s2s_direct_tls_port() {
            let _ = writeln!(cfg, "  - port: {port}");
            let _ = writeln!(cfg, "    ip: {ip_s}");
            let _ = writeln!(cfg, "    module: ejabberd_s2s_in");
            let _ = writeln!(cfg, "    max_stanza_size: 524288");
            let _ = writeln!(cfg, "    tls: true");
        }
    }

    /// The whole `ejabberd.yml` for one start.
    fn config(&self, at: &Listening) -> String {
        let mut cfg = String::new();
        let _ = writeln!(cfg, "# generated by tests/support/ejabberd.rs");
        let _ = writeln!(cfg, "loglevel: info");
        let _ = writeln!(cfg, "log_rotate_count: 0");
        let _ = writeln!(cfg, "hosts:");
        for vhost in &self.vhosts {
            let _ = writeln!(cfg, "  - {}", quote(vhost));
        }
        if !self.certfiles.is_empty() {
            let _ = writeln!(cfg, "certfiles:");
            for f in &self.certfiles {
                let _ = writeln!(cfg, "  - {}", quote(&f.to_string_lossy()));
            }
        }
        if let Some(options) = &self.protocol_options {
            for key in ["c2s_protocol_options", "s2s_protocol_options"] {
                let _ = writeln!(cfg, "{key}:");
                for o in options {
                    let _ = writeln!(cfg, "  - {}", quote(o));
                }
            }
        }
        if let Some(ciphers) = &self.ciphers {
            let _ = writeln!(cfg, "c2s_ciphers: {}", quote(ciphers));
            let _ = writeln!(cfg, "s2s_ciphers: {}", quote(ciphers));
        }
        self.listen_yaml(at, &mut cfg);
        let _ = writeln!(cfg, "s2s_use_starttls: {}", self.s2s_use_starttls.as_yaml());
        // 23.01 rejects s2s_dns_options.
        let _ = writeln!(cfg, "s2s_dns_timeout: 5");
        let _ = writeln!(cfg, "auth_method: internal");
        let _ = writeln!(cfg, "auth_password_format: scram");
        let _ = writeln!(
            cfg,
            "disable_sasl_mechanisms: [\"digest-md5\", \"X-OAUTH2\"]"
        );
        let _ = writeln!(cfg, "acl:");
        let _ = writeln!(cfg, "  local:");
        let _ = writeln!(cfg, "    user_regexp: \"\"");
        let _ = writeln!(cfg, "access_rules:");
        let _ = writeln!(cfg, "  c2s:");
        let _ = writeln!(cfg, "    allow: all");
        let _ = writeln!(cfg, "modules:");
        for (module, options) in &self.modules {
            let _ = writeln!(cfg, "  {module}: {options}");
        }
        cfg.push_str(&self.extra_yaml);
        cfg
    }

    /// Like /etc/ejabberd/inetrc, optionally with our DNS server for inet_res.
    fn inetrc(&self) -> String {
        // With a test resolver, `dns` (inet_res) instead of `native` (the system resolver), so
        // that SRV targets resolve through the test zone too.
        let lookup = if self.resolver.is_some() {
            "dns"
        } else {
            "native"
        };
        // Atoms, not strings (Debian's /etc/ejabberd/inetrc has strings).
        let mut rc = format!("{{lookup,[file,{lookup}]}}.\n");
        rc.push_str("{host,{127,0,0,1}, [\"localhost\"]}.\n");
        match self.resolver {
            Some(addr) => {
                let ip = match addr.ip() {
                    IpAddr::V4(v4) => {
                        let o = v4.octets();
                        format!("{{{},{},{},{}}}", o[0], o[1], o[2], o[3])
                    }
                    IpAddr::V6(v6) => {
                        let s = v6.segments();
                        format!(
                            "{{{},{},{},{},{},{},{},{}}}",
                            s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
                        )
                    }
                };
                // Erlang reads /etc/resolv.conf by itself and prefers its servers over
                // inetrc's `nameserver`: switch that off.
                rc.push_str("{resolv_conf,\"\"}.\n");
                let _ = writeln!(rc, "{{nameserver,{ip},{}}}.", addr.port());
            }
            None => rc.push_str("{file, resolv, \"/etc/resolv.conf\"}.\n"),
        }
        rc
    }

    async fn start_once(self) -> Result<Ejabberd, (StartFailure, String)> {
        let other = |e: String| (StartFailure::Other(e.clone()), e);
        require_binary("ejabberdctl", "ejabberd");
        let erl = require_binary("erl", "erlang-base (a dependency of ejabberd)");
        assert!(!self.vhosts.is_empty(), "ejabberd needs at least one vhost");
        let dir = tempfile::Builder::new()
            .prefix("manifesto-ejabberd-")
            .tempdir()
            .map_err(|e| other(format!("create temp dir: {e}")))?;
        let at = self.listeners.pick();
        let files = Files::under(dir.path());
        let cfg = self.write_files(&files, &at).map_err(other)?;
        let child = spawn_vm(&erl, dir.path(), &files).map_err(other)?;
        let mut ejabberd = Ejabberd {
            child,
            listening: at,
            log_file: files.log,
            console_file: files.console,
            config_file: files.config,
            startup: Duration::ZERO,
            dir,
        };
        let readiness = Readiness {
            log_file: &ejabberd.log_file,
            ready_lines: ready_lines(&at),
            // ejabberd exits when it cannot bind ("Failed to open socket at ...: address
            // already in use"), but another server may answer on the port meanwhile.
            in_use_markers: &["address already in use", "eaddrinuse"],
            addrs: at.addrs(),
            timeout: START_TIMEOUT,
        };
        match readiness.wait(&mut ejabberd.child).await {
            Ok(elapsed) => {
                ejabberd.startup = elapsed;
                Ok(ejabberd)
            }
            Err(failure) => {
                let report = format!(
                    "ejabberd on {} did not start: {}\n--- console ---\n{}\n--- log tail ---\n{}\n--- config ---\n{cfg}",
                    at.ip(),
                    failure.reason(),
                    tail(&ejabberd.console_file, 30),
                    tail(&ejabberd.log_file, 40),
                );
                Err((failure, report))
            }
        }
    }

    /// Creates the spool and log directories and writes the configuration and the inetrc;
    /// returns the configuration (shown when the start fails).
    fn write_files(&self, files: &Files, at: &Listening) -> Result<String, String> {
        for d in [&files.spool, &files.logs] {
            std::fs::create_dir_all(d).map_err(|e| format!("create {}: {e}", d.display()))?;
        }
        let cfg = self.config(at);
        std::fs::write(&files.config, &cfg).map_err(|e| format!("write config: {e}"))?;
        std::fs::write(&files.inetrc, self.inetrc()).map_err(|e| format!("write inetrc: {e}"))?;
        Ok(cfg)
    }
}

/// Where one instance keeps its files, all under its temporary directory.
struct Files {
    spool: PathBuf,
    logs: PathBuf,
    config: PathBuf,
    inetrc: PathBuf,
    log: PathBuf,
    /// The VM's stdout and stderr.
    console: PathBuf,
}

impl Files {
    fn under(dir: &Path) -> Files {
        let logs = dir.join("log");
        Files {
            spool: dir.join("spool"),
            log: logs.join("ejabberd.log"),
            logs,
            config: dir.join("ejabberd.yml"),
            inetrc: dir.join("inetrc"),
            console: dir.join("console.log"),
        }
    }
}

/// Starts the Erlang VM the way `ejabberdctl foreground` would, without a node name (see the
/// module documentation), in its own process group so that dropping the instance kills it all.
fn spawn_vm(erl: &Path, home: &Path, files: &Files) -> Result<Child, String> {
    let console = std::fs::File::create(&files.console)
        .map_err(|e| format!("create {}: {e}", files.console.display()))?;
    let console_err = console
        .try_clone()
        .map_err(|e| format!("clone console file: {e}"))?;
    let mnesia_dir = format!("\"{}\"", files.spool.display());
    Command::new(erl)
        .args(["-noinput", "+K", "true", "+P", "250000"])
        .args(["-env", "ERL_CRASH_DUMP_BYTES", "0"])
        .args(["-mnesia", "dir", &mnesia_dir])
        .args(["-s", "ejabberd"])
        .env("HOME", home)
        .env("EJABBERD_CONFIG_PATH", &files.config)
        .env("EJABBERD_LOG_PATH", &files.log)
        .env("ERL_LIBS", ERL_LIBS)
        .env("ERL_INETRC", &files.inetrc)
        .env("ERL_CRASH_DUMP", files.logs.join("erl_crash.dump"))
        .env("ERL_MAX_PORTS", "32000")
        .env("ERL_MAX_ETS_TABLES", "1400")
        .env_remove("ERL_DIST_PORT")
        .current_dir(&files.spool)
        .stdin(Stdio::null())
        .stdout(console)
        .stderr(console_err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", erl.display()))
}

/// The log line that proves this instance accepts connections on each of its listeners.
fn ready_lines(at: &Listening) -> Vec<Vec<String>> {
    let accepting = |port: u16, module: &str| {
        vec![
            // "TCP" for plain listeners, "TLS" for `tls: true` ones.
            "Start accepting T".to_string(),
            format!(":{port} for {module}"),
        ]
    };
    let mut lines = vec![
        accepting(at.c2s_port(), "ejabberd_c2s"),
        accepting(at.s2s_port(), "ejabberd_s2s_in"),
    ];
    lines.extend(
        at.c2s_direct_tls_port()
            .map(|port| accepting(port, "ejabberd_c2s")),
    );
    lines.extend(
        at.s2s_direct_tls_port()
            .map(|port| accepting(port, "ejabberd_s2s_in")),
    );
    lines
}

impl Listen for EjabberdBuilder {
    fn listeners(&mut self) -> &mut Listeners {
        &mut self.listeners
    }
}

/// A running ejabberd; its VM (and process group) is killed when dropped, which is instant,
/// unlike a clean `stop` (~1-5 s). Dereferences to where it listens ([`Listening`]).
pub struct Ejabberd {
    child: Child,
    listening: Listening,
    log_file: PathBuf,
    console_file: PathBuf,
    config_file: PathBuf,
    startup: Duration,
    // Last: removed after the process is gone.
    dir: TempDir,
}

impl Ejabberd {
    pub fn builder() -> EjabberdBuilder {
        EjabberdBuilder::default()
    }

    /// How long the start took until every port accepted connections.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

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

impl Deref for Ejabberd {
    type Target = Listening;

    fn deref(&self) -> &Listening {
        &self.listening
    }
}

impl Drop for Ejabberd {
    fn drop(&mut self) {
        super::kill_group(&mut self.child);
    }
}
