//! `manifesto sweep`: lifecycle over scripted histories through the CLI, an interrupted sweep
//! that must leave the previous results intact, and a sweep over real local servers with mixed
//! outcomes.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::cli::manifesto;
use crate::support::pki::Pki;
use crate::support::prosody::Prosody;
use crate::support::scenario::Scenario;

/// Operator signature files, one per domain, in a fresh register directory.
fn register(domains: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for d in domains {
        let text = format!(
            "name = \"Operator of {d}\"\nrole = \"operator\"\ndomains = [\"{d}\"]\n\
             statement = \"runs {d}\"\nsigned = 2025-06-01\ngithub = \"op-{}\"\n",
            d.split('.').next().unwrap_or("x")
        );
        std::fs::write(dir.path().join(format!("{d}.toml")), text).expect("write signatory");
    }
    dir
}

fn ago(days: i64) -> String {
    (OffsetDateTime::now_utc() - time::Duration::days(days))
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

/// A history from (days ago, verdict) pairs.
fn write_history(results: &Path, domain: &str, checks: &[(i64, &str)]) {
    let dir = results.join("history");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    for (days, verdict) in checks {
        text.push_str(
            &serde_json::json!({"checked_at": ago(*days), "verdict": verdict, "requirements": {}})
                .to_string(),
        );
        text.push('\n');
    }
    std::fs::write(dir.join(format!("{domain}.jsonl")), text).unwrap();
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
}

struct SweepRun {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `manifesto sweep` of `registry` into `results`, against the scenario's DNS (and CA).
async fn sweep(registry: &Path, results: &Path, s: &Scenario, extra: &[&str]) -> SweepRun {
    let mut cmd = manifesto();
    cmd.arg("sweep")
        .arg("--registry")
        .arg(registry)
        .arg("--results")
        .arg(results)
        .args(s.network_args());
    cmd.args(extra);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("run manifesto sweep");
    SweepRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn state(status: &Value, domain: &str) -> String {
    status["domains"][domain]["lifecycle"]["state"]
        .as_str()
        .unwrap_or_else(|| panic!("no state for {domain}: {status:#}"))
        .to_owned()
}

fn date_of(v: &Value) -> String {
    v.as_str().unwrap_or("")[..10].to_owned()
}

/// The scripted domains: one actually checked (`probe.*`, which has no DNS records), the others
/// derived from their history.
const SCRIPTED: [&str; 7] = [
    "verified.sweep-zone.net",
    "failing.sweep-zone.net",
    "lapsed.sweep-zone.net",
    "recovered.sweep-zone.net",
    "unreachable.sweep-zone.net",
    "never.sweep-zone.net",
    "probe.sweep-zone.net",
];

/// Scripted histories, one domain actually checked (it has no DNS records), the others
/// derived from their history: verified, failing within grace, lapsed, recovered (a lapse notice
/// was open), unreachable, never verified.
#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_transitions_over_scripted_histories() {
    let reg = register(&SCRIPTED);
    let results = tempfile::tempdir().unwrap();
    let r = results.path();
    script_histories(r);
    let nothing = Scenario::new().serve_zone(|zone, _| zone).await;
    let run = sweep_probe_only(reg.path(), r, &nothing).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let status = read_json(&r.join("status.json"));
    assert_eq!(status["schema"], "xmpp-manifesto/status-v1");
    assert_scripted_states(&status);
    assert_first_sweep_events(&status, &run);
    // The checked domain has a report and a one-line history.
    let report = read_json(&r.join("probe.sweep-zone.net.json"));
    assert_eq!(report["schema"], "xmpp-manifesto/report-v1");
    let history = std::fs::read_to_string(r.join("history/probe.sweep-zone.net.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 1);
    // Both record what the check could see (here: no endpoint, nothing missed).
    assert_eq!(report["coverage"]["status"], "full", "{report:#}");
    assert!(
        history.contains(r#""coverage":{"status":"full"}"#),
        "{history}"
    );

    // A second sweep does not announce the lapse again.
    let run = sweep_probe_only(reg.path(), r, &nothing).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let status = read_json(&r.join("status.json"));
    assert_eq!(status["events"], serde_json::json!([]));
    assert_eq!(
        status["domains"]["lapsed.sweep-zone.net"]["lapse_notice"],
        true
    );
    let history = std::fs::read_to_string(r.join("history/probe.sweep-zone.net.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 2);

    assert_page_shows_lifecycle(reg.path(), r);
}

/// The histories of the scripted domains (`never.*` has none, `probe.*` gets its first from
/// the sweep), and the previous index, in which `recovered.*` had lapsed and was told so.
fn script_histories(r: &Path) {
    write_history(
        r,
        "verified.sweep-zone.net",
        &[
            (30, "fail"),
            (20, "pass"),
            (10, "inconclusive"),
            (1, "pass"),
        ],
    );
    write_history(
        r,
        "failing.sweep-zone.net",
        &[(40, "pass"), (5, "fail"), (1, "fail")],
    );
    write_history(
        r,
        "lapsed.sweep-zone.net",
        &[
            (40, "pass"),
            (20, "fail"),
            (10, "inconclusive"),
            (1, "fail"),
        ],
    );
    write_history(
        r,
        "recovered.sweep-zone.net",
        &[(60, "pass"), (40, "fail"), (20, "fail"), (1, "pass")],
    );
    write_history(
        r,
        "unreachable.sweep-zone.net",
        &[(40, "pass"), (2, "inconclusive"), (1, "inconclusive")],
    );
    let previous = serde_json::json!({
        "schema": "xmpp-manifesto/status-v1",
        "generated_at": ago(2),
        "grace_days": 14,
        "domains": {
            "recovered.sweep-zone.net": {
                "signatory": "recovered.sweep-zone.net",
                "verdict": "fail",
                "lifecycle": {"state": "lapsed", "checks": 3},
                "lapse_notice": true
            }
        },
        "events": []
    });
    std::fs::write(r.join("status.json"), previous.to_string()).unwrap();
}

/// A sweep of `probe.sweep-zone.net` alone: every other domain keeps its history, and its
/// lifecycle is derived again.
async fn sweep_probe_only(registry: &Path, results: &Path, s: &Scenario) -> SweepRun {
    sweep(
        registry,
        results,
        s,
        &[
            "--domain",
            "probe.sweep-zone.net",
            "--retry-after",
            "0",
            "--timeout",
            "2",
        ],
    )
    .await
}

/// Every scripted history in its state, with the dates the grace period gives it.
fn assert_scripted_states(status: &Value) {
    assert_eq!(state(status, "verified.sweep-zone.net"), "verified");
    let lc = &status["domains"]["verified.sweep-zone.net"]["lifecycle"];
    assert_eq!(date_of(&lc["since"]), ago(20)[..10], "{lc:#}");
    assert_eq!(state(status, "failing.sweep-zone.net"), "failing");
    let lc = &status["domains"]["failing.sweep-zone.net"]["lifecycle"];
    assert_eq!(date_of(&lc["failing_since"]), ago(5)[..10]);
    assert_eq!(date_of(&lc["lapses_at"]), ago(5 - 14)[..10]);
    assert_eq!(state(status, "lapsed.sweep-zone.net"), "lapsed");
    let lc = &status["domains"]["lapsed.sweep-zone.net"]["lifecycle"];
    assert_eq!(date_of(&lc["since"]), ago(20 - 14)[..10], "{lc:#}");
    assert_eq!(state(status, "recovered.sweep-zone.net"), "verified");
    assert_eq!(state(status, "unreachable.sweep-zone.net"), "unreachable");
    assert_eq!(state(status, "never.sweep-zone.net"), "never-verified");
    assert_eq!(state(status, "probe.sweep-zone.net"), "never-verified");
    assert_eq!(
        status["domains"]["failing.sweep-zone.net"]["github"],
        "op-failing"
    );
}

/// Events: a new lapse, a recovery; the notice stays open for the lapsed one only; the
/// summary counts the states and names the events.
fn assert_first_sweep_events(status: &Value, run: &SweepRun) {
    let events: Vec<(String, String)> = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["domain"].as_str().unwrap().into(),
                e["event"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![
            ("lapsed.sweep-zone.net".to_owned(), "lapsed".to_owned()),
            (
                "recovered.sweep-zone.net".to_owned(),
                "recovered".to_owned()
            ),
        ]
    );
    assert_eq!(
        status["domains"]["lapsed.sweep-zone.net"]["lapse_notice"],
        true
    );
    assert_eq!(
        status["domains"]["recovered.sweep-zone.net"]["lapse_notice"],
        false
    );
    assert!(
        run.stdout.contains(
            "lifecycle: 2 verified, 1 failing, 1 lapsed, 1 unreachable, 2 never-verified"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("event: lapsed.sweep-zone.net lapsed"),
        "{}",
        run.stdout
    );
}

/// The page shows the lifecycle and its dates; the JSON export carries them.
fn assert_page_shows_lifecycle(registry: &Path, results: &Path) {
    let site = tempfile::tempdir().unwrap();
    let out = manifesto()
        .arg("site")
        .arg("--registry")
        .arg(registry)
        .arg("--results")
        .arg(results)
        .arg("--out")
        .arg(site.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index = std::fs::read_to_string(site.path().join("index.html")).unwrap();
    assert!(index.contains("lapsed on"), "{index}");
    assert!(
        index.contains(&format!(
            "verified since <time datetime=\"{}\"",
            &ago(20)[..10]
        )),
        "{index}"
    );
    let json = read_json(&site.path().join("signatories.json"));
    let lapsed = json["signatories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slug"] == "lapsed.sweep-zone.net")
        .unwrap();
    assert_eq!(lapsed["domains"][0]["lifecycle"]["state"], "lapsed");
    // No report file for it in this scripted set: the last verdict is unknown to the page.
    assert_eq!(lapsed["domains"][0]["status"], "unverified");
    assert_eq!(json["counts"]["lapsed"], 1);
}

/// Every file under `dir`, with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A sweep killed while one domain's check hangs (a tarpit that accepts and never speaks):
/// the domains already finished are written completely, everything else is as it was.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_sweep_leaves_previous_results_intact() {
    let domains = [
        "fast1.sweep-zone.net",
        "fast2.sweep-zone.net",
        "slow.sweep-zone.net",
    ];
    let reg = register(&domains);
    let results = tempfile::tempdir().unwrap();
    let r = results.path();

    // Previous results: one full sweep, with the tarpit domain answering nothing yet.
    let tarpit = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tarpit_port = tarpit.local_addr().unwrap().port();
    let nothing = Scenario::new().serve_zone(|zone, _| zone).await;
    let run = sweep(
        reg.path(),
        r,
        &nothing,
        &["--retry-after", "0", "--timeout", "2"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let before = snapshot(r);
    assert_eq!(before.len(), 7, "{before:?}"); // 3 reports, 3 histories, status.json

    // Now slow.* points at the tarpit, which accepts and holds every connection.
    let held = hold_every_connection(tarpit);
    let tarpitted = Scenario::new()
        .serve_zone(|zone, _| {
            zone.xmpp(
                "slow.sweep-zone.net",
                "tarpit.sweep-zone.net",
                IpAddr::from([127, 0, 0, 1]),
                tarpit_port,
                tarpit_port,
            )
        })
        .await;
    let mut cmd = manifesto();
    cmd.arg("sweep")
        .arg("--registry")
        .arg(reg.path())
        .arg("--results")
        .arg(r)
        .args(tarpitted.network_args())
        .args(["--retry-after", "0", "--timeout", "30"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    wait_for_fast_domains(r, &held).await;
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_only_finished_domains_rewritten(&before, &snapshot(r));

    // The next sweep completes from there.
    let run = sweep(
        reg.path(),
        r,
        &nothing,
        &["--retry-after", "0", "--timeout", "2"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let history = std::fs::read_to_string(r.join("history/slow.sweep-zone.net.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 2);
    let after = snapshot(r);
    assert!(
        after
            .iter()
            .all(|(p, _)| !p.to_string_lossy().contains(".tmp."))
    );
}

/// A tarpit: accepts every connection and holds it without a word.
fn hold_every_connection(
    tarpit: tokio::net::TcpListener,
) -> Arc<Mutex<Vec<tokio::net::TcpStream>>> {
    let held = Arc::new(Mutex::new(Vec::new()));
    let holder = held.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = tarpit.accept().await {
            holder.lock().unwrap().push(s);
        }
    });
    held
}

/// Waits until both fast domains have their second history line, and the tarpit holds a
/// connection.
async fn wait_for_fast_domains(r: &Path, held: &Mutex<Vec<tokio::net::TcpStream>>) {
    let started = Instant::now();
    loop {
        let lines = |d: &str| {
            std::fs::read_to_string(r.join(format!("history/{d}.jsonl")))
                .map(|t| t.lines().count())
                .unwrap_or(0)
        };
        if lines("fast1.sweep-zone.net") == 2
            && lines("fast2.sweep-zone.net") == 2
            && !held.lock().unwrap().is_empty()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the fast domains never finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The fast domains' files are rewritten completely (they parse, one more check in the
/// history); every other file is byte for byte as it was, and no file was added.
fn assert_only_finished_domains_rewritten(
    before: &[(PathBuf, Vec<u8>)],
    after: &[(PathBuf, Vec<u8>)],
) {
    for (path, bytes) in before {
        let name = path.to_string_lossy();
        let now = after.iter().find(|(p, _)| p == path).map(|(_, b)| b);
        if name.contains("fast") {
            let now = now.expect("still there");
            if name.ends_with(".json") {
                let v: Value = serde_json::from_slice(now).unwrap();
                assert_eq!(v["schema"], "xmpp-manifesto/report-v1");
            } else {
                let text = String::from_utf8(now.clone()).unwrap();
                assert_eq!(text.lines().count(), 2);
                for line in text.lines() {
                    let _: Value = serde_json::from_str(line).unwrap();
                }
            }
        } else {
            assert_eq!(now, Some(bytes), "{name} changed");
        }
    }
    // Nothing but the same files (a leftover temp file would be hidden and is cleaned next time).
    let visible: Vec<_> = after
        .iter()
        .filter(|(p, _)| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(visible.len(), before.len());
}

const GOOD: [&str; 2] = ["one.good-sweep.net", "two.good-sweep.net"];
const OPTIONAL: &str = "lax.optional-sweep.net";
const CLOSED: &str = "down.closed-sweep.net";

/// Two Prosody servers: one with two virtual hosts requiring TLS (certificate from the test CA
/// for both), one with encryption optional; and a domain whose SRV points at a closed port.
#[tokio::test(flavor = "multi_thread")]
async fn sweep_over_real_servers_with_mixed_outcomes() {
    let pki = Pki::new();
    let s = strict_lax_and_closed(&pki).await;
    let reg = register(&[GOOD[0], GOOD[1], OPTIONAL, CLOSED]);
    let results = tempfile::tempdir().unwrap();
    let r = results.path();
    // The closed one passed once, long ago.
    write_history(r, CLOSED, &[(100, "pass")]);
    let run = sweep(
        reg.path(),
        r,
        &s,
        &["--jobs", "4", "--retry-after", "0.5", "--timeout", "5"],
    )
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let status = read_json(&r.join("status.json"));
    let report = |d: &str| read_json(&r.join(format!("{d}.json")));
    for d in GOOD {
        assert_eq!(report(d)["verdict"], "pass", "{:#}", report(d));
        assert_eq!(state(&status, d), "verified");
    }
    assert_eq!(report(OPTIONAL)["verdict"], "fail");
    assert_eq!(
        report(OPTIONAL)["requirements"]["c2s-tls-required"]["status"],
        "fail"
    );
    assert_eq!(state(&status, OPTIONAL), "never-verified");
    assert_eq!(
        report(CLOSED)["verdict"],
        "inconclusive",
        "{:#}",
        report(CLOSED)
    );
    assert_eq!(state(&status, CLOSED), "unreachable");
    // Checked twice: still one history line for this sweep.
    let history = std::fs::read_to_string(r.join(format!("history/{CLOSED}.jsonl"))).unwrap();
    assert_eq!(history.lines().count(), 2);
    assert_ci_output(&run);
    assert_posture_measured_once(&report(GOOD[0]), &report(GOOD[1]));
    // Per-requirement statuses are in the history line.
    let line = std::fs::read_to_string(r.join(format!("history/{}.jsonl", GOOD[0]))).unwrap();
    let entry: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(entry["requirements"]["s2s-tls-required"], "pass");
    assert_eq!(entry["verdict"], "pass");
}

/// The strict Prosody serves both [`GOOD`] domains, the lax one [`OPTIONAL`]; the SRV records
/// of [`CLOSED`] point at a port nobody listens on.
async fn strict_lax_and_closed(pki: &Pki) -> Scenario {
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    Scenario::prosody(
        Prosody::builder()
            .vhost(GOOD[0])
            .vhost(GOOD[1])
            .cert(&pki.leaf(&GOOD))
            .c2s_require_encryption(true)
            .s2s_require_encryption(true),
    )
    .await
    .and_prosody(
        Prosody::builder()
            .vhost(OPTIONAL)
            .cert(&pki.leaf(&[OPTIONAL]))
            .c2s_require_encryption(false)
            .s2s_require_encryption(false),
    )
    .await
    .trusting(pki)
    .serve_zone(|mut zone, s| {
        let [strict, lax] = s.servers() else {
            unreachable!("two servers")
        };
        for d in GOOD {
            zone = zone.xmpp_at(d, &format!("xmpp.{d}"), strict);
        }
        zone.xmpp_at(OPTIONAL, &format!("xmpp.{OPTIONAL}"), lax)
            .xmpp(
                CLOSED,
                &format!("xmpp.{CLOSED}"),
                IpAddr::from([127, 0, 0, 1]),
                closed_port,
                closed_port,
            )
    })
    .await
}

/// CI output: plain lines (the retry of the inconclusive domain), then the summary.
fn assert_ci_output(run: &SweepRun) {
    assert!(run.stderr.contains("will check again"), "{}", run.stderr);
    assert!(run.stderr.contains("(second check)"), "{}", run.stderr);
    assert!(
        run.stdout.contains("swept 4 domains")
            && run
                .stdout
                .contains("2 pass, 1 fail, 1 inconclusive (1 checked twice)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "lifecycle: 2 verified, 0 failing, 0 lapsed, 1 unreachable, 1 never-verified"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("slowest:"), "{}", run.stdout);
}

/// The two domains of the strict Prosody share its sockets: their posture was measured once,
/// and the domain that reused it says so.
fn assert_posture_measured_once(first: &Value, second: &Value) {
    let shared = |report: &Value| {
        report["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["posture"].as_array().unwrap().iter())
            .filter(|p| {
                p["detail"]
                    .as_str()
                    .is_some_and(|t| t.contains("measured once for this address"))
            })
            .count()
    };
    let (a, b) = (shared(first), shared(second));
    assert!(
        (a == 0) != (b == 0) && a + b == 18,
        "posture shared {a} + {b} probes: {second:#}"
    );
    assert!(first["endpoints"][0]["posture"].as_array().unwrap().len() == 9);
}
