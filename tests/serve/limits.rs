//! Abuse limits against the running service: the per-client rate limit (429, Retry-After, a
//! hint), a token that raises it, and the bounded queue.

use std::ffi::OsString;
use std::net::SocketAddr;

use std::time::Duration;

use crate::client::{get, post_check, wait_state};
use crate::schema::check_response;
use crate::service::{Serve, Tarpit, dns_only, os, temp_db, tokens_file};

#[tokio::test(flavor = "multi_thread")]
async fn per_client_rate_limit_and_a_token_raises_it() {
    // Names without records: each check ends at once (no service).
    let dns = dns_only(&[]).await;
    let (dir, db) = temp_db();
    let (tokens, token) = tokens_file(dir.path());
    let mut args = os(&[
        "--allow-private",
        "--timeout",
        "2",
        "--per-minute",
        "2",
        "--resolver",
    ]);
    args.push(dns.resolver_arg().into());
    args.extend([OsString::from("--tokens"), tokens.into()]);
    let serve = Serve::start(&db, &args);
    let doc: serde_json::Value = get(serve.addr, "/openapi.json").await.json();
    for i in 0..2 {
        let r = post_check(serve.addr, &format!("rl{i}.example"), None).await;
        assert_eq!(r.status, 202, "{}", r.text());
    }
    let limited = post_check(serve.addr, "rl2.example", None).await;
    assert_eq!(limited.status, 429, "{}", limited.text());
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body = limited.json();
    check_response(&doc, "post", "/api/v1/checks", 429, &body);
    assert!(body["hint"].as_str().unwrap().contains("token"), "{body}");
    // A valid token: ten times the limit, counted apart from the address.
    for i in 0..5 {
        let r = post_check(serve.addr, &format!("tok{i}.example"), Some(&token)).await;
        assert_eq!(r.status, 202, "{}", r.text());
    }
    // A wrong token is no token.
    let wrong = post_check(serve.addr, "wrong.example", Some("guess")).await;
    assert_eq!(wrong.status, 429);
    let metrics = get(serve.addr, "/metrics").await.text();
    assert!(
        metrics.contains("manifesto_rejections_total{reason=\"rate-limited\"} 2"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_429() {
    let tarpit = Tarpit::start().await;
    let names: Vec<(String, SocketAddr)> = (0..6)
        .map(|i| (format!("slow{i}.example"), tarpit.addr))
        .collect();
    let dns = dns_only(&names).await;
    let (_dir, db) = temp_db();
    let mut args = os(&[
        "--allow-private",
        "--timeout",
        "3",
        "--max-running",
        "1",
        "--queue",
        "2",
        "--resolver",
    ]);
    args.push(dns.resolver_arg().into());
    let serve = Serve::start(&db, &args);
    // The first check running before the others are asked for: then the queue holds two.
    let first = post_check(serve.addr, &names[0].0, None).await;
    let first_id = first.json()["id"].as_str().unwrap().to_owned();
    wait_state(serve.addr, &first_id, &["running"], Duration::from_secs(10)).await;
    let mut statuses = vec![first.status];
    let mut full = None;
    for (name, _) in &names[1..] {
        let r = post_check(serve.addr, name, None).await;
        if r.status == 429 {
            full.get_or_insert(r);
            statuses.push(429);
        } else {
            statuses.push(r.status);
        }
    }
    // One running, two queued: the fourth and later are refused.
    assert_eq!(&statuses[..3], &[202, 202, 202], "{statuses:?}");
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    let full = full.unwrap();
    assert!(full.header("retry-after").is_some());
    assert_eq!(full.json()["error"], "queue full");
    // A domain already queued is not refused: it gets its check.
    let same = post_check(serve.addr, "slow1.example", None).await;
    assert_eq!(same.status, 202, "{}", same.text());
    let health = get(serve.addr, "/healthz").await.json();
    assert_eq!(health["running"], 1, "{health}");
    let metrics = get(serve.addr, "/metrics").await.text();
    assert!(
        metrics.contains("manifesto_rejections_total{reason=\"queue-full\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("manifesto_queue_length 2"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn trust_forwarded_for_counts_the_last_hop() {
    let dns = dns_only(&[]).await;
    let (_dir, db) = temp_db();
    let mut args = os(&[
        "--allow-private",
        "--timeout",
        "2",
        "--per-minute",
        "1",
        "--trust-forwarded-for",
        "--resolver",
    ]);
    args.push(dns.resolver_arg().into());
    let serve = Serve::start(&db, &args);
    let post = |domain: &'static str, xff: &'static str| {
        let body = format!("{{\"domain\": \"{domain}\"}}");
        async move {
            crate::client::request(
                serve.addr,
                "POST",
                "/api/v1/checks",
                &[("X-Forwarded-For", xff)],
                Some(("application/json", body.as_bytes())),
            )
            .await
            .status
        }
    };
    assert_eq!(post("xff1.example", "192.0.2.1").await, 202);
    // The client's own earlier hops do not matter: the last one (the proxy's) does.
    assert_eq!(post("xff2.example", "192.0.2.1, 198.51.100.7").await, 202);
    assert_eq!(post("xff3.example", "203.0.113.9, 192.0.2.1").await, 429);
}
