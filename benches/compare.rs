//! Wall time of `manifesto check` beside testssl.sh and sslyze on the same local Prosody.
//!
//! `cargo bench --bench compare` (or `bash scripts/bench-compare.sh`, which installs the tools).
//! testssl.sh and sslyze look at one host:port with STARTTLS; `manifesto check` discovers both
//! services through DNS, proves enforcement on each and grades them, so it does strictly more.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::dns::{DnsServer, Zone};
use support::pki::Pki;
use support::prosody::Prosody;

const RUNS: usize = 3;

fn time_command(label: &str, mut make: impl FnMut() -> Command) -> Option<Duration> {
    let mut best: Option<Duration> = None;
    for _ in 0..RUNS {
        let mut cmd = make();
        let started = Instant::now();
        let out = match cmd.output() {
            Ok(out) => out,
            Err(e) => {
                eprintln!("{label}: cannot run ({e})");
                return None;
            }
        };
        let elapsed = started.elapsed();
        if !out.status.success() && label == "manifesto" {
            // manifesto exits 1 on a failing domain: only a usage error (2) is a problem.
            if out.status.code() == Some(2) {
                eprintln!("{label}: {}", String::from_utf8_lossy(&out.stderr));
                return None;
            }
        }
        best = Some(best.map_or(elapsed, |b| b.min(elapsed)));
    }
    best
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let pki = Pki::new();
        let domain = "bench.example";
        let prosody = Prosody::builder()
            .vhost(domain)
            .cert(&pki.leaf_rsa(&[domain]))
            .start()
            .await
            .expect("start Prosody");
        let host = "xmpp.bench.example";
        let dns = DnsServer::start(
            Zone::new()
                .srv(
                    &format!("_xmpp-client._tcp.{domain}"),
                    0,
                    0,
                    prosody.c2s_port(),
                    host,
                )
                .srv(
                    &format!("_xmpp-server._tcp.{domain}"),
                    0,
                    0,
                    prosody.s2s_port(),
                    host,
                )
                .ip(host, prosody.ip()),
        )
        .await;
        let resolver = dns.resolver_arg();
        let ca = pki.ca_file().to_path_buf();
        let c2s = prosody.c2s_addr().to_string();

        let manifesto = time_command("manifesto", || {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_manifesto"));
            cmd.args([
                "check",
                domain,
                "--format",
                "json",
                "--allow-private",
                "--resolver",
                &resolver,
            ])
            .arg("--ca-file")
            .arg(&ca);
            cmd
        });
        let testssl = time_command("testssl.sh", || {
            let mut cmd = Command::new("testssl");
            cmd.args([
                "--quiet",
                "--color",
                "0",
                "--warnings",
                "off",
                "--starttls",
                "xmpp",
                "--xmpphost",
                domain,
                &c2s,
            ]);
            cmd
        });
        let sslyze_bin =
            std::env::var("SSLYZE").unwrap_or_else(|_| "/opt/sslyze-venv/bin/sslyze".into());
        let sslyze = time_command("sslyze", || {
            let mut cmd = Command::new(&sslyze_bin);
            cmd.args(["--starttls", "xmpp", "--xmpp_to", domain, &c2s]);
            cmd
        });

        println!(
            "best of {RUNS} runs against Prosody {} (c2s {c2s}):",
            prosody.ip()
        );
        let show = |name: &str, d: Option<Duration>| match d {
            Some(d) => println!("  {name:<12} {:>9.3} s", d.as_secs_f64()),
            None => println!("  {name:<12} (not run)"),
        };
        show("manifesto", manifesto);
        show("testssl.sh", testssl);
        show("sslyze", sslyze);
        if let Some(m) = manifesto {
            for (name, other) in [("testssl.sh", testssl), ("sslyze", sslyze)] {
                if let Some(o) = other {
                    println!(
                        "  manifesto is {:.1}x faster than {name}",
                        o.as_secs_f64() / m.as_secs_f64()
                    );
                }
            }
        }
    });
}
