//! Test harness shared by the integration tests: a throwaway PKI, an in-process authoritative
//! DNS server, real Prosody / ejabberd instances on loopback addresses, and the scenario that
//! ties them to a run of the real `manifesto` binary.
//!
//! Every test binary (one per room: `tests/check/`, `tests/register/`, `tests/bot/`,
//! `tests/site/`) includes it from its `main.rs` with
//! `#[path = "../support/mod.rs"] mod support;`. Every binary uses a different subset, hence
//! the `dead_code` allowance.
//!
//! ```ignore
//! let pki = Pki::new();                                  // --ca-file pki.ca_file()
//! let cert = pki.leaf(&["example.test"]);
//! let s = Scenario::prosody(
//!     Prosody::builder()
//!         .vhost("example.test")
//!         .cert(&cert)
//!         .c2s_require_encryption(true)
//!         .s2s_require_encryption(false),
//! )
//! .await                                                 // s.server().ip(), .c2s_port(), ...
//! .trusting(&pki)
//! .serve_domain("example.test")                          // SRV records to xmpp.example.test
//! .await;
//! let run = s.check("example.test", &["--timeout", "5"]).await;  // run.code, run.json
//! ```
//!
//! Every server gets its own 127.0.0.X (so the standard ports 5222/5269 are free for it), its
//! own temp directory (config, data, logs), and is killed with its process group on drop.
//! Servers are started as root here: Prosody gets `run_as_root = true`, ejabberd runs `erl`
//! directly (see `ejabberd.rs`). A missing server binary panics with install instructions
//! ([`require_binary`]); nothing is ever skipped silently.
#![allow(dead_code)]

pub mod browser;
pub mod check;
pub mod cli;
pub mod dns;
pub mod ejabberd;
pub mod fake_target;
pub mod git;
pub mod listeners;
pub mod netns;
pub mod nft;
pub mod pki;
pub mod prosody;
pub mod responder;
pub mod scenario;
pub mod site;

// The builders' listener setters, for `use support::Listen` (not every binary calls them).
#[allow(unused_imports)]
pub use listeners::Listen;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Panics (never skips) when `name` is not on `PATH`, saying how to install it.
pub fn require_binary(name: &str, package: &str) -> PathBuf {
    if let Some(path) = find_in_path(name) {
        return path;
    }
    panic!(
        "the test needs the `{name}` binary (Debian package `{package}`), which is not installed; \
         run `bash scripts/install-test-deps.sh` (as root or with sudo) and try again"
    );
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let candidate = Path::new(name);
    if candidate.is_absolute() {
        return candidate.is_file().then(|| candidate.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A fresh loopback address 127.0.0.X for one server instance, so every instance can listen on
/// the standard ports 5222/5269 without colliding. Distinct within this process (atomic counter)
/// and, thanks to a pid-derived offset, very likely across the test binaries cargo runs one
/// after another or at the same time. Addresses whose standard ports are already taken are
/// skipped.
pub fn next_loopback_ip() -> Ipv4Addr {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    const FIRST: u32 = 2;
    const COUNT: u32 = 249; // 127.0.0.2 ..= 127.0.0.250
    let offset = std::process::id().wrapping_mul(37) % COUNT;
    for _ in 0..COUNT {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let last = FIRST + (offset + n) % COUNT;
        let ip = Ipv4Addr::new(127, 0, 0, last as u8);
        if [5222, 5269]
            .iter()
            .all(|&port| std::net::TcpListener::bind((ip, port)).is_ok())
        {
            return ip;
        }
    }
    panic!(
        "no loopback address in 127.0.0.2..=127.0.0.250 has 5222 and 5269 free; is a packaged \
         prosody/ejabberd service listening on *:5222? (`bash scripts/install-test-deps.sh` \
         stops them)"
    );
}

/// A TCP port that was free a moment ago on `ip` (for extra listeners such as Direct TLS).
pub fn free_port(ip: IpAddr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A server did not start. Its message carries the reason, the console output, the log tail
/// and the generated config; `Debug` prints the same text so `.unwrap()` stays readable.
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// Starts a server with `start_once` up to `attempts` times, as long as each failure is an
/// address already in use (another test process got there first).
pub(crate) async fn retry_start<T, F>(
    attempts: usize,
    mut start_once: impl FnMut() -> F,
) -> Result<T, StartError>
where
    F: Future<Output = Result<T, (StartFailure, String)>>,
{
    let mut last = String::new();
    for _ in 0..attempts {
        match start_once().await {
            Ok(server) => return Ok(server),
            Err((StartFailure::AddressInUse(_), report)) => last = report,
            Err((StartFailure::Other(_), report)) => return Err(StartError(report)),
        }
    }
    Err(StartError(last))
}

/// Why a server did not come up (internal, decides about retrying).
#[derive(Debug)]
pub(crate) enum StartFailure {
    /// Another process holds one of the addresses: worth retrying elsewhere.
    AddressInUse(String),
    Other(String),
}

impl StartFailure {
    pub(crate) fn reason(&self) -> &str {
        match self {
            StartFailure::AddressInUse(why) | StartFailure::Other(why) => why,
        }
    }
}

/// What "ready" means for a server process: for every listener, one log line containing all of
/// the given substrings (proof that *this* process bound it, not some other server on the same
/// address), and then a successful TCP connect to every address.
pub(crate) struct Readiness<'a> {
    pub log_file: &'a Path,
    pub ready_lines: Vec<Vec<String>>,
    pub in_use_markers: &'a [&'a str],
    pub addrs: Vec<SocketAddr>,
    pub timeout: Duration,
}

impl Readiness<'_> {
    pub(crate) async fn wait(
        &self,
        child: &mut std::process::Child,
    ) -> Result<Duration, StartFailure> {
        let start = Instant::now();
        loop {
            let log = std::fs::read_to_string(self.log_file).unwrap_or_default();
            if let Some(marker) = self.in_use_markers.iter().find(|m| log.contains(**m)) {
                return Err(StartFailure::AddressInUse(format!(
                    "an address is already in use (log says {marker:?})"
                )));
            }
            match child.try_wait() {
                Ok(Some(status)) => {
                    return Err(StartFailure::Other(format!("exited early ({status})")));
                }
                Ok(None) => {}
                Err(e) => return Err(StartFailure::Other(format!("wait for the process: {e}"))),
            }
            let logged = self.ready_lines.iter().all(|parts| {
                log.lines()
                    .any(|line| parts.iter().all(|p| line.contains(p.as_str())))
            });
            if logged {
                let mut all = true;
                for addr in &self.addrs {
                    if tokio::net::TcpStream::connect(addr).await.is_err() {
                        all = false;
                        break;
                    }
                }
                if all {
                    return Ok(start.elapsed());
                }
            }
            if start.elapsed() > self.timeout {
                return Err(StartFailure::Other(format!(
                    "timed out after {:?} waiting for {:?} (log lines {:?})",
                    self.timeout, self.addrs, self.ready_lines
                )));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// The last `lines` lines of a text file (for error messages).
pub fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Runs a command to completion, panicking with its output when it fails.
pub(crate) fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Escapes a string for a double-quoted Lua or YAML string literal.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Kills a child started with `process_group(0)` together with everything in its process group
/// (SIGKILL), then reaps it. Used by the servers' `Drop`.
pub(crate) fn kill_group(child: &mut std::process::Child) {
    if let Ok(None) = child.try_wait() {
        let group = format!("-{}", child.id());
        let killed = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !killed {
            let _ = child.kill();
        }
    }
    let _ = child.wait();
}

/// Opens a stream to `addr` (c2s when `from` is None, s2s otherwise) and returns everything the
/// server sent until `</stream:features>` (or the stream ended, or 5 s passed). For harness
/// self-tests and quick assertions, not a parser.
pub async fn stream_features(addr: SocketAddr, to: &str, from: Option<&str>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let header = match from {
        None => format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams' to='{to}' version='1.0'>"
        ),
        Some(from) => format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
             xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' \
             to='{to}' from='{from}' version='1.0'>"
        ),
    };
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream
        .write_all(header.as_bytes())
        .await
        .expect("send stream header");
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 4096];
    loop {
        let read = tokio::time::timeout_at(deadline, stream.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&received);
        if text.contains("</stream:features>") || text.contains("</stream:stream>") {
            break;
        }
    }
    String::from_utf8_lossy(&received).into_owned()
}
