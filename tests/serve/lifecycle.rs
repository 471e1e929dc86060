//! Restarts and stops: results survive a restart on the same database, and a check cut by
//! SIGTERM (running, or still queued) is recorded as aborted, never lost.

use std::net::SocketAddr;
use std::time::Duration;

use crate::client::{get, post_check, wait_state};
use crate::service::{Serve, Tarpit, dns_only, network_args, os, prosody_env, temp_db};
use crate::support::pki::Pki;

const ABORTED: &str = "the service stopped before this check finished";

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_the_results() {
    let pki = Pki::new();
    let domain = "serve-restart.example".to_owned();
    let s = prosody_env(&pki, std::slice::from_ref(&domain), &[]).await;
    let (_dir, db) = temp_db();
    let mut serve = Serve::start(&db, &network_args(&s));
    let r = post_check(serve.addr, &domain, None).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let done = wait_state(serve.addr, &id, &["done"], Duration::from_secs(60)).await;
    let status = serve.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", serve.stderr());
    drop(serve);

    let serve = Serve::start(&db, &network_args(&s));
    let after = get(serve.addr, &format!("/api/v1/checks/{id}")).await;
    assert_eq!(after.status, 200);
    let after = after.json();
    assert_eq!(after["state"], "done");
    assert_eq!(after["report"], done["report"]);
    let history = get(serve.addr, &format!("/api/v1/domains/{domain}"))
        .await
        .json();
    assert_eq!(history["history"].as_array().unwrap().len(), 1, "{history}");
    // Still fresh after the restart: the stored result, not a new check.
    let again = post_check(serve.addr, &domain, None).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_check_records_it_aborted() {
    let tarpit = Tarpit::start().await;
    let names: Vec<(String, SocketAddr)> = ["cut.example", "waiting.example"]
        .map(|n| (n.to_owned(), tarpit.addr))
        .to_vec();
    let dns = dns_only(&names).await;
    let (_dir, db) = temp_db();
    let mut args = os(&[
        "--allow-private",
        "--timeout",
        "10",
        "--max-running",
        "1",
        "--grace",
        "1",
        "--resolver",
    ]);
    args.push(dns.resolver_arg().into());
    let mut serve = Serve::start(&db, &args);
    let running = post_check(serve.addr, "cut.example", None).await.json();
    let running_id = running["id"].as_str().unwrap().to_owned();
    wait_state(
        serve.addr,
        &running_id,
        &["running"],
        Duration::from_secs(10),
    )
    .await;
    let queued = post_check(serve.addr, "waiting.example", None).await.json();
    assert_eq!(queued["state"], "queued", "{queued}");
    assert_eq!(queued["queue_position"], 0, "{queued}");
    let queued_id = queued["id"].as_str().unwrap().to_owned();

    let started = std::time::Instant::now();
    let status = serve.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}: {}", serve.stderr());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    drop(serve);

    let serve = Serve::start(&db, &args);
    for id in [&running_id, &queued_id] {
        let check = get(serve.addr, &format!("/api/v1/checks/{id}"))
            .await
            .json();
        assert_eq!(check["state"], "aborted", "{check}");
        assert_eq!(check["error"], ABORTED, "{check}");
        assert!(check["finished_at"].is_string(), "{check}");
        assert!(check.get("report").is_none(), "{check}");
    }
    // An aborted check does not count as fresh: the domain can be checked again.
    let again = post_check(serve.addr, "cut.example", None).await;
    assert_eq!(again.status, 202, "{}", again.text());
}
