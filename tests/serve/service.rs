//! The real `manifesto serve` as the tests run it, and the targets it checks: a real Prosody
//! behind the in-process DNS, and a tarpit (accepts, never answers) for slow checks.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::cli::manifesto;
use crate::support::dns::{DnsServer, Zone};
use crate::support::pki::Pki;
use crate::support::prosody::Prosody;
use crate::support::scenario::Scenario;

/// A running `manifesto serve`; killed on drop.
pub struct Serve {
    child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Serve {
    /// `manifesto serve --listen 127.0.0.1:0 --db DB ARGS...`, once it says where it listens.
    pub fn start(db: &Path, args: &[OsString]) -> Serve {
        let mut child = manifesto()
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start manifesto serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("stderr piped");
        let log = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("manifesto serve: listening on http://") {
                    let _ = tx.send(addr.parse::<SocketAddr>().expect("address"));
                }
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("manifesto serve did not start: {}", stderr.lock().unwrap());
            }
        };
        Serve {
            child,
            addr,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then waits (at most `within`) for the exit.
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                start.elapsed() < within,
                "manifesto serve did not stop within {within:?} after SIGTERM: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Peak resident memory (VmHWM) in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
    }
}

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The options every test passes: the test's DNS and CA, short timeouts.
pub fn network_args(scenario: &Scenario) -> Vec<OsString> {
    let mut args = scenario.network_args();
    args.extend(["--timeout", "5"].map(OsString::from));
    args
}

/// Prosody serving `domains` (the first is its vhost, with a certificate for it), each with
/// SRV records to it; plus, for each `(name, addr)` of `tarpits`, SRV records to that address.
pub async fn prosody_env(
    pki: &Pki,
    domains: &[String],
    tarpits: &[(String, SocketAddr)],
) -> Scenario {
    let vhost = &domains[0];
    let cert = pki.leaf(&[vhost.as_str()]);
    let builder = Prosody::builder()
        .vhost(vhost)
        .cert(&cert)
        .c2s_require_encryption(true)
        .s2s_require_encryption(true);
    Scenario::prosody(builder)
        .await
        .trusting(pki)
        .serve_zone(|mut zone, s| {
            for d in domains {
                zone = zone.xmpp_at(d, &format!("xmpp.{d}"), s.server());
            }
            for (name, addr) in tarpits {
                zone = zone.xmpp(
                    name,
                    &format!("xmpp.{name}"),
                    addr.ip(),
                    addr.port(),
                    addr.port(),
                );
            }
            zone
        })
        .await
}

/// DNS alone: each `(name, addr)` with SRV records to `addr` (both services on its port).
pub async fn dns_only(names: &[(String, SocketAddr)]) -> DnsServer {
    let mut zone = Zone::new();
    for (name, addr) in names {
        zone = zone.xmpp(
            name,
            &format!("xmpp.{name}"),
            addr.ip(),
            addr.port(),
            addr.port(),
        );
    }
    DnsServer::start(zone).await
}

/// A TCP listener that accepts and never answers; connections are held until it is dropped.
pub struct Tarpit {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Tarpit {
    pub async fn start() -> Tarpit {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                held.push(tcp);
            }
        });
        Tarpit { addr, task }
    }
}

impl Drop for Tarpit {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A temporary directory with the database path in it.
pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("manifesto-serve-")
        .tempdir()
        .unwrap();
    let db = dir.path().join("db.sqlite");
    (dir, db)
}

/// A tokens file with one token, `bot`: returns the token.
pub fn tokens_file(dir: &Path) -> (PathBuf, String) {
    use sha2::Digest;
    let token = "test-token-0123456789abcdef".to_owned();
    let path = dir.join("tokens");
    let digest = hex::encode(sha2::Sha256::digest(token.as_bytes()));
    std::fs::write(&path, format!("# test\nbot {digest}\n")).unwrap();
    (path, token)
}

pub fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}
