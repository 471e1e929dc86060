//! A polite client that survives impolite servers (issue 10): the caps on open connections
//! per address and in all, and the retry of a connection refused after earlier ones to the
//! same address succeeded. Everything runs in a loopback-only network namespace
//! (`support::netns`): the rate limit is a real nftables rule there, the servers listen on
//! addresses of their own, and no packet can leave the machine.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::netns_test_name;
use crate::support::check::{CheckRun, check};
use crate::support::cli::manifesto_path;
use crate::support::dns::{DnsServer, Zone};
use crate::support::netns;
use crate::support::nft::RateLimit;
use crate::support::pki::Pki;
use crate::support::prosody::Prosody;
use crate::support::require_binary;
use crate::support::scenario::Scenario;

/// A real Prosody that rejects new connections beyond 5 a second (burst 2) with a TCP reset:
/// one check opens about 22 connections to it, the first 4 at once, so some are rejected
/// (the firewall's counter shows it). The pause and retry after a refusal, and the slower pace
/// from then on, get every connection through: the verdict is a pass. Without them, the
/// rejected connections would leave endpoints unreachable and probes unrun (inconclusive).
#[tokio::test(flavor = "multi_thread")]
async fn prosody_behind_a_rate_limit_passes() {
    if !netns::enter(&netns_test_name!("prosody_behind_a_rate_limit_passes")) {
        return;
    }
    let pki = Pki::new();
    let domain = "limited.example";
    let s = Scenario::prosody(
        Prosody::builder()
            .vhost(domain)
            .cert(&pki.leaf(&[domain]))
            .c2s_require_encryption(true)
            .s2s_require_encryption(true),
    )
    .await
    .trusting(&pki)
    .serve_domain(domain)
    .await;
    let server = s.server();
    let limit = RateLimit::new_connections(
        server.ip(),
        &[server.c2s_port(), server.s2s_port()],
        "5/second burst 2 packets",
    );
    let started = Instant::now();
    let run = s.check(domain, &["--timeout", "5"]).await;
    let rejected = limit.rejected();
    eprintln!(
        "behind the rate limit: verdict {} in {:?}, {rejected} connection(s) rejected by the firewall",
        run.verdict(),
        started.elapsed()
    );
    assert!(
        rejected > 0,
        "the firewall rejected nothing: the test shows nothing\n{}",
        run.dump()
    );
    assert_ne!(run.verdict(), "fail", "{}", run.dump());
    assert_eq!(run.verdict(), "pass", "{}", run.dump());
    for ep in run.endpoints() {
        assert!(ep["error"].is_null(), "{}", run.dump());
    }
}

/// Counts the connections a set of listeners holds open at once.
#[derive(Default)]
struct Meter {
    open: AtomicUsize,
    peak: AtomicUsize,
    total: AtomicUsize,
}

impl Meter {
    fn opened(&self) {
        let now = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.total.fetch_add(1, Ordering::SeqCst);
    }

    fn closed(&self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }

    /// The peak and the number of connections since the last call, then starts afresh.
    fn take(&self) -> (usize, usize) {
        (
            self.peak.swap(0, Ordering::SeqCst),
            self.total.swap(0, Ordering::SeqCst),
        )
    }
}

/// Servers that accept on every address, say nothing, and close each connection themselves
/// after `hold`: since the server always closes first, a connection it counts is one the
/// checker still holds, so the peak it sees never overstates the checker's.
async fn counting_servers(addrs: &[SocketAddr], hold: Duration) -> Arc<Meter> {
    let meter = Arc::new(Meter::default());
    for addr in addrs {
        let listener = TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        let meter = meter.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    continue;
                };
                meter.opened();
                let meter = meter.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let drain =
                        async { while matches!(sock.read(&mut buf).await, Ok(n) if n > 0) {} };
                    let _ = tokio::time::timeout(hold, drain).await;
                    // Counted as closed before the checker can see it closed.
                    meter.closed();
                    drop(sock);
                });
            }
        });
    }
    meter
}

/// `hosts` SRV targets of `domain` for c2s, each with `per_host` addresses of its own in
/// 127.0.1.0/24 (s2s absent); the sockets to listen on, and the zone.
fn many_targets(domain: &str, hosts: u8, per_host: u8) -> (Vec<SocketAddr>, Zone) {
    let mut zone = Zone::new().srv(&format!("_xmpp-server._tcp.{domain}"), 0, 0, 0, ".");
    let mut addrs = Vec::new();
    for h in 0..hosts {
        let host = format!("h{h}.{domain}");
        zone = zone.srv(&format!("_xmpp-client._tcp.{domain}"), 5, 0, 5222, &host);
        for a in 0..per_host {
            let ip = Ipv4Addr::new(127, 0, 1, 1 + h * per_host + a);
            zone = zone.a(&host, ip);
            addrs.push(SocketAddr::new(IpAddr::V4(ip), 5222));
        }
    }
    (addrs, zone)
}

fn args(dns: &DnsServer, extra: &[&str]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "--allow-private".into(),
        "--resolver".into(),
        dns.resolver_arg().into(),
        "--timeout".into(),
        "5".into(),
    ];
    args.extend(extra.iter().map(OsString::from));
    args
}

/// Every endpoint of the report was checked to its end: none cut by the deadline, none short
/// of descriptors.
fn assert_completed(run: &CheckRun, endpoints: usize) {
    assert_eq!(run.endpoints().len(), endpoints, "{}", run.dump());
    let text = run.json.to_string();
    assert!(!text.contains("Too many open files"), "{}", run.dump());
    assert!(!text.contains("deadline"), "{}", run.dump());
    assert_eq!(
        run.code,
        3,
        "inconclusive: the servers never answer\n{}",
        run.dump()
    );
}

/// 16 SRV targets on 16 addresses: about 176 connections. With `--max-connections 8` the
/// servers never see more than 8 open at once, and the check completes; without a cap that
/// binds, they see many more (which shows that the meter can tell).
#[tokio::test(flavor = "multi_thread")]
async fn many_targets_never_exceed_the_connection_cap() {
    if !netns::enter(&netns_test_name!(
        "many_targets_never_exceed_the_connection_cap"
    )) {
        return;
    }
    let domain = "many.example";
    let (addrs, zone) = many_targets(domain, 16, 1);
    let meter = counting_servers(&addrs, Duration::from_millis(150)).await;
    let dns = DnsServer::start(zone).await;

    let started = Instant::now();
    let run = check(domain, &args(&dns, &["--max-connections", "8"])).await;
    let (peak, total) = meter.take();
    eprintln!(
        "--max-connections 8: peak {peak} of {total} connections in {:?}",
        started.elapsed()
    );
    assert_completed(&run, 16);
    assert!(
        total >= 16 * 11,
        "{total} connections: not every probe ran\n{}",
        run.dump()
    );
    assert!(
        peak <= 8,
        "{peak} connections open at once, over the cap of 8"
    );

    let started = Instant::now();
    let uncapped = [
        "--max-connections",
        "100000",
        "--max-connections-per-address",
        "100000",
    ];
    let run = check(domain, &args(&dns, &uncapped)).await;
    let (peak, total) = meter.take();
    eprintln!(
        "no cap that binds: peak {peak} of {total} connections in {:?}",
        started.elapsed()
    );
    assert_completed(&run, 16);
    assert!(
        peak > 8,
        "only {peak} open at once without a cap: the meter sees nothing"
    );
}

/// 16 targets of 3 addresses each (48 endpoints, over 500 connections) under a hard limit of
/// 256 descriptors: the default cap stays 64 below it, so no connection fails with "Too many
/// open files" (it once did, for over 200 probes). The per-address cap is raised so that the
/// process-wide one is what binds.
#[tokio::test(flavor = "multi_thread")]
async fn a_low_descriptor_limit_is_never_exhausted() {
    if !netns::enter(&netns_test_name!(
        "a_low_descriptor_limit_is_never_exhausted"
    )) {
        return;
    }
    let domain = "wide.example";
    let (addrs, zone) = many_targets(domain, 16, 3);
    let meter = counting_servers(&addrs, Duration::from_millis(150)).await;
    let dns = DnsServer::start(zone).await;
    let prlimit = require_binary("prlimit", "util-linux");
    let mut cmd = std::process::Command::new(prlimit);
    cmd.arg("--nofile=256:256")
        .arg(manifesto_path())
        .args(["check", domain, "--format", "json"])
        .args(args(&dns, &["--max-connections-per-address", "16"]))
        .env("NO_COLOR", "1");
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("run manifesto under prlimit");
    let (peak, total) = meter.take();
    eprintln!(
        "256 descriptors: peak {peak} of {total} connections in {:?}",
        started.elapsed()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let run = CheckRun {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON ({e}): {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        }),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_completed(&run, 48);
    assert!(
        peak <= 256 - 64,
        "{peak} connections open at once under 256 descriptors"
    );
    assert!(
        peak > 64,
        "only {peak} at once: the process-wide cap never bound"
    );
}
