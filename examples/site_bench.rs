//! Bench: validate and build the site for 10,000 signatories.
//!
//! ```sh
//! cargo run --release --example site_bench
//! ```
//!
//! 7,000 operators (one domain each, half of them with a report) and 3,000 developers, written
//! as signatory files, validated from disk, then built into a temporary directory (index with
//! 10,000 rows, 7,000 domain pages, 7,000 badges, JSON, feed). Prints the times; exits 1 if
//! the site build takes a second or more (in a release build).

use std::process::ExitCode;
use std::time::Instant;

use xmpp_manifesto::register::registry::{self, name_slug};
use xmpp_manifesto::report::Report;
use xmpp_manifesto::site::{Results, SiteOptions, build_site};

const SIGNATORIES: usize = 10_000;
const OPERATORS: usize = 7_000;

fn report(domain: &str, pass: bool) -> Report {
    let verdict = if pass { "pass" } else { "fail" };
    let json = serde_json::json!({
        "schema": "xmpp-manifesto/report-v1",
        "domain": domain,
        "verdict": verdict,
        "checked_at": "2025-01-15T08:30:00Z",
        "tool_version": "0.1.0",
        "duration_ms": 1500,
        "requirements": {
            "c2s-tls-required": {"status": verdict, "summary": "Clients must use TLS.", "evidence": ["c2s probe refused"]},
            "s2s-tls-required": {"status": "pass", "summary": "Servers must use TLS.", "evidence": []}
        },
        "discovery": [],
        "endpoints": []
    });
    serde_json::from_value(json).unwrap_or_else(|e| panic!("report: {e}"))
}

/// CPU time (user + system, all threads) of this process in seconds, on Linux.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() -> ExitCode {
    let today = registry::today_utc();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let reg_dir = dir.path().join("signatories");
    std::fs::create_dir_all(&reg_dir).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..SIGNATORIES {
        let (slug, text) = if i < OPERATORS {
            let domain = format!("xmpp{i}.chat-service.net");
            let text = format!(
                "name = \"Operator {i} <b>&</b>\"\nrole = \"operator\"\ndomains = [\"{domain}\"]\n\
                 statement = \"Operator of {domain}\"\nsigned = 2024-05-01\ngithub = \"op{i}\"\n\
                 website = \"https://{domain}/\"\n"
            );
            (domain, text)
        } else {
            let name = format!("Developer Number {i}");
            let text = format!(
                "name = \"{name}\"\nrole = \"developer\"\nstatement = \"Writes XMPP software\"\n\
                 signed = 2024-06-01\ngithub = \"dev{i}\"\n"
            );
            (name_slug(&name), text)
        };
        std::fs::write(reg_dir.join(format!("{slug}.toml")), text)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    let start = Instant::now();
    let validation = registry::validate_paths(std::slice::from_ref(&reg_dir), today);
    let validate_time = start.elapsed();
    if !validation.is_ok() {
        eprintln!("{:?}", &validation.errors[..3.min(validation.errors.len())]);
        return ExitCode::from(1);
    }

    let mut results = Results::default();
    for (i, s) in validation.registry.signatories.iter().enumerate() {
        for d in &s.domains {
            if i % 2 == 0 {
                results.insert(report(d, i % 4 == 0));
            }
        }
    }

    let out = dir.path().join("site");
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let summary = build_site(
        &validation.registry,
        &results,
        &out,
        &SiteOptions::default(),
    )
    .unwrap_or_else(|e| panic!("build: {e:#}"));
    let build_time = start.elapsed();
    let cpu = cpu_seconds().zip(cpu_start).map(|(end, start)| end - start);
    let index_size = std::fs::metadata(out.join("index.html")).map_or(0, |m| m.len());

    println!(
        "validate {} files: {:.3} s",
        validation.files,
        validate_time.as_secs_f64()
    );
    println!(
        "build site for {} signatories ({} domains, {} files, index.html {} KiB): {:.3} s \
         (CPU time, all threads: {})",
        summary.signatories,
        summary.domains,
        summary.files,
        index_size / 1024,
        build_time.as_secs_f64(),
        cpu.map_or_else(|| "unknown".to_owned(), |c| format!("{c:.2} s")),
    );
    if cfg!(debug_assertions) {
        println!("(debug build: the bound of one second applies to --release)");
        ExitCode::SUCCESS
    } else if build_time.as_secs_f64() < 1.0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("too slow: the site build must take under a second");
        ExitCode::from(1)
    }
}
