//! The figures of the issue, printed (run with `--nocapture` to read them): a stored result's
//! answer time, the service's overhead on top of a check, and 100 concurrent checks with the
//! peak memory of the service. The assertions are loose bounds (a shared machine); the printed
//! numbers are the measurement.

use std::time::{Duration, Instant};

use crate::client::{get, post_check, wait_state};
use crate::service::{Serve, network_args, os, prosody_env, temp_db};
use crate::support::pki::Pki;

#[tokio::test(flavor = "multi_thread")]
async fn figures() {
    let pki = Pki::new();
    let domains: Vec<String> = (0..101).map(|i| format!("fig{i}.example")).collect();
    let s = prosody_env(&pki, &domains, &[]).await;
    let (_dir, db) = temp_db();
    let mut args = network_args(&s);
    args.extend(os(&[
        "--max-running",
        "8",
        "--queue",
        "128",
        "--per-minute",
        "1000",
    ]));
    let serve = Serve::start(&db, &args);

    // Overhead: POST to done, by polling every 10 ms, less the check's own duration.
    let start = Instant::now();
    let r = post_check(serve.addr, &domains[0], None).await;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let done = wait_state(serve.addr, &id, &["done"], Duration::from_secs(60)).await;
    let total = start.elapsed();
    let check_ms = done["report"]["duration_ms"].as_u64().unwrap();
    let overhead = total.as_millis() as i64 - check_ms as i64;
    println!(
        "figure: POST→done {total:?}, check {check_ms} ms, service overhead {overhead} ms (polling every 10 ms)"
    );

    // A stored result: median of 50 (each on a fresh connection).
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let r = post_check(serve.addr, &domains[0], None).await;
        times.push(t.elapsed());
        assert_eq!(r.status, 200);
    }
    times.sort();
    println!(
        "figure: stored result answered in {:?} (median), {:?} (max)",
        times[25], times[49]
    );
    assert!(times[25] < Duration::from_millis(100), "{times:?}");
    assert!(overhead < 500, "{overhead}");

    concurrent(&serve, &domains[1..]).await;
}

async fn concurrent(serve: &Serve, domains: &[String]) {
    let before = (serve.rss_kib(), serve.peak_rss_kib());
    let start = Instant::now();
    let posts = domains.iter().map(|d| post_check(serve.addr, d, None));
    let answers = futures::future::join_all(posts).await;
    let ids: Vec<String> = answers
        .iter()
        .map(|r| {
            assert_eq!(r.status, 202, "{}", r.text());
            r.json()["id"].as_str().unwrap().to_owned()
        })
        .collect();
    println!("figure: 100 POSTs accepted in {:?}", start.elapsed());
    for id in &ids {
        wait_state(serve.addr, id, &["done"], Duration::from_secs(300)).await;
    }
    let after = (serve.rss_kib(), serve.peak_rss_kib());
    println!(
        "figure: 100 concurrent checks (8 running at once) done in {:?}; RSS {} KiB before, {} KiB after; peak RSS (VmHWM) {} KiB before, {} KiB after",
        start.elapsed(),
        before.0,
        after.0,
        before.1,
        after.1
    );
    let metrics = get(serve.addr, "/metrics").await.text();
    assert!(
        metrics.contains("manifesto_check_duration_seconds_count 101"),
        "{metrics}"
    );
    assert!(after.1 < 512 * 1024, "peak RSS {} KiB", after.1);
}
