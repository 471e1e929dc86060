//! Wall time and peak memory of `manifesto sweep` over N domains served by ONE local Prosody
//! with N virtual hosts (one wildcard certificate from the test CA), DNS from the in-process
//! server, for N = 100 and N = 1,000 (or the sizes in `SWEEP_BENCH_N`, comma-separated).
//!
//! `cargo bench --bench sweep` (release), or `cargo bench --profile dev --bench sweep` for a
//! quicker build of a slower binary. Options passed to the sweep come from `SWEEP_BENCH_ARGS`
//! (default: `--jobs 64 --connect-interval 0`: every domain shares the one address, so the
//! default politeness of 10 ms between connections to one address would dominate).
//!
//! Peak memory is the sweep process's VmHWM (resident high-water mark), read from
//! /proc/PID/status while it runs (the mark only grows; the last reading before exit is kept),
//! and its CPU time from /proc/PID/stat. The time Prosody takes to activate its N hosts (minutes
//! for 1,000) is waited out and reported apart.
//!
//! What bounds the figures (measured on the shared 2-core machine, debug build): one check opens
//! about 23 connections (STARTTLS session, enforcement probe, posture probes per service), so
//! 1,000 domains are ~23,000 connections and TLS handshakes to ONE single-threaded Lua Prosody,
//! which takes about ten times the CPU of the sweep itself. Faster than it can answer, its stream
//! headers arrive after the 10 s timeout and checks come out inconclusive (then checked again);
//! `--connect-interval` paces connections per address below that.
//!
//! Figures of 2026-11-25 (debug build, machine shared with other builds):
//!   --jobs 32 --connect-interval 8:  N=100 18.7 s, 19.9 MiB; N=1000 177.4 s, 20.3 MiB, all pass
//!   --jobs 64 --connect-interval 3:  N=1000 180.4 s, 25.7 MiB, 331 inconclusive on the first try
//!   --jobs 64 --connect-interval 0:  N=1000 197.4 s, 26.2 MiB, 156 still inconclusive

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::dns::{DnsServer, Zone};
use support::pki::Pki;
use support::prosody::Prosody;

const ZONE: &str = "sweep-bench.net";

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU seconds of a process so far (clock ticks of 1/100 s on Linux).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

async fn bench(n: usize, pki: &Pki, extra: &[String]) {
    let domains: Vec<String> = (0..n).map(|i| format!("d{i:05}.{ZONE}")).collect();
    let (prosody, prosody_start) = start_prosody(&domains, pki).await;
    let dns = DnsServer::start(zone(&domains, &prosody)).await;
    let registry = register(&domains);
    let results = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_manifesto"));
    cmd.arg("sweep")
        .arg("--registry")
        .arg(registry.path())
        .arg("--results")
        .arg(results.path())
        .args(["--allow-private", "--resolver", &dns.resolver_arg()])
        .arg("--ca-file")
        .arg(pki.ca_file())
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let run = measure(cmd).await;
    let passed = std::fs::read_to_string(results.path().join("status.json"))
        .map(|s| s.matches("\"state\": \"verified\"").count())
        .unwrap_or(0);
    println!(
        "N = {n:>5}: wall {:>7.2} s, sweep CPU {:.1} s, peak RSS {:>7.1} MiB, {passed}/{n} verified, exit {} (Prosody started in {:.1} s)",
        run.wall.as_secs_f64(),
        run.cpu_secs,
        run.peak_kib as f64 / 1024.0,
        run.status,
        prosody_start.as_secs_f64()
    );
    for line in run.summary.lines() {
        println!("    {line}");
    }
    if std::env::var_os("SWEEP_BENCH_KEEP").is_some() {
        println!("    results kept in {}", results.keep().display());
    }
    drop(prosody);
}

/// One Prosody serving every domain with the wildcard certificate, once it has activated all
/// of them; and how long that took.
async fn start_prosody(domains: &[String], pki: &Pki) -> (Prosody, Duration) {
    let wildcard = format!("*.{ZONE}");
    let cert = pki.leaf(&[wildcard.as_str()]);
    let mut builder = Prosody::builder().cert(&cert);
    for d in domains {
        builder = builder.vhost(d);
    }
    let started = Instant::now();
    let prosody = builder.start().await.expect("start Prosody");
    // Prosody listens before it has activated every host (1,000 hosts take it minutes on a
    // busy machine); a check of a host not yet active would measure Prosody's start.
    let deadline = Instant::now() + Duration::from_secs(900);
    let n = domains.len();
    while prosody.log().matches("Activated host: ").count() < n {
        assert!(
            Instant::now() < deadline,
            "Prosody did not activate {n} hosts"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    (prosody, started.elapsed())
}

/// Both SRV records of every domain, pointing at the one Prosody.
fn zone(domains: &[String], prosody: &Prosody) -> Zone {
    let host = format!("xmpp.{ZONE}");
    let mut zone = Zone::new().ip(&host, prosody.ip());
    for d in domains {
        zone = zone
            .srv(
                &format!("_xmpp-client._tcp.{d}"),
                0,
                0,
                prosody.c2s_port(),
                &host,
            )
            .srv(
                &format!("_xmpp-server._tcp.{d}"),
                0,
                0,
                prosody.s2s_port(),
                &host,
            );
    }
    zone
}

/// A register of one operator file per domain.
fn register(domains: &[String]) -> tempfile::TempDir {
    let registry = tempfile::tempdir().expect("tempdir");
    for d in domains {
        std::fs::write(
            registry.path().join(format!("{d}.toml")),
            format!(
                "name = \"Operator {d}\"\nrole = \"operator\"\ndomains = [\"{d}\"]\n\
                 statement = \"runs {d}\"\nsigned = 2025-06-01\ngithub = \"bench\"\n"
            ),
        )
        .expect("write signatory");
    }
    registry
}

/// What one sweep cost.
struct Measured {
    status: std::process::ExitStatus,
    wall: Duration,
    peak_kib: u64,
    cpu_secs: f64,
    /// The sweep's stdout: its summary.
    summary: String,
}

/// Runs the sweep, reading its peak memory and CPU time every 20 ms until it exits.
async fn measure(mut cmd: Command) -> Measured {
    let started = Instant::now();
    let mut child = cmd.spawn().expect("run manifesto sweep");
    let pid = child.id();
    let mut peak_kib = 0;
    let mut cpu = 0.0_f64;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(c) = cpu_secs(pid) {
            cpu = cpu.max(c);
        }
        match child.try_wait().expect("wait") {
            Some(status) => break status,
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let wall = started.elapsed();
    let mut summary = String::new();
    if let Some(mut out) = child.stdout.take() {
        use std::io::Read;
        let _ = out.read_to_string(&mut summary);
    }
    Measured {
        status,
        wall,
        peak_kib,
        cpu_secs: cpu,
        summary,
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SWEEP_BENCH_N")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1000]);
    let extra: Vec<String> = std::env::var("SWEEP_BENCH_ARGS")
        .unwrap_or_else(|_| "--jobs 64 --connect-interval 0".into())
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    println!(
        "manifesto sweep, one Prosody with N virtual hosts, args {extra:?}, {} CPUs",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let pki = Pki::new();
        for n in sizes {
            bench(n, &pki, &extra).await;
        }
    });
}
