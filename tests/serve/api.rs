//! The API against the running service and a real Prosody: a check from POST to its report,
//! the stored answer, the domain's history, the pages, errors with hints, the SSRF policy, and
//! the live answers held to the OpenAPI document.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use crate::client::{get, post_check, request, wait_state};
use crate::schema::check_response;
use crate::service::{Serve, dns_only, network_args, prosody_env, temp_db};
use crate::support::pki::Pki;

async fn openapi(addr: SocketAddr) -> Value {
    let r = get(addr, "/openapi.json").await;
    assert_eq!(r.status, 200);
    r.json()
}

#[tokio::test(flavor = "multi_thread")]
async fn check_then_stored_result_then_history() {
    let pki = Pki::new();
    let domain = "serve-pass.example".to_owned();
    let s = prosody_env(&pki, std::slice::from_ref(&domain), &[]).await;
    let (_dir, db) = temp_db();
    let serve = Serve::start(&db, &network_args(&s));
    let doc = openapi(serve.addr).await;

    let first = post_check(serve.addr, &domain, None).await;
    assert_eq!(first.status, 202, "{}", first.text());
    let queued = first.json();
    check_response(&doc, "post", "/api/v1/checks", 202, &queued);
    let id = queued["id"].as_str().unwrap().to_owned();
    assert_eq!(
        first.header("location"),
        Some(format!("/api/v1/checks/{id}").as_str())
    );
    assert_eq!(queued["page"], format!("/check/{domain}"));
    let done = wait_state(
        serve.addr,
        &id,
        &["done", "aborted"],
        Duration::from_secs(60),
    )
    .await;
    check_response(&doc, "get", "/api/v1/checks/{id}", 200, &done);
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["report"]["verdict"], "pass", "{done}");
    assert_eq!(done["report"]["schema"], "xmpp-manifesto/report-v1");
    assert!(done["finished_at"].is_string() && done["started_at"].is_string());

    // Within --fresh: the stored result, at once, and nothing new runs.
    let again = post_check(serve.addr, "SERVE-PASS.example", None).await;
    assert_eq!(again.status, 200, "{}", again.text());
    let again = again.json();
    check_response(&doc, "post", "/api/v1/checks", 200, &again);
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["report"]["verdict"], "pass");

    domain_and_pages(&serve, &doc, &domain, &id).await;
    service_endpoints(&serve).await;
}

async fn domain_and_pages(serve: &Serve, doc: &Value, domain: &str, id: &str) {
    let r = get(serve.addr, &format!("/api/v1/domains/{domain}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let resource = r.json();
    check_response(doc, "get", "/api/v1/domains/{domain}", 200, &resource);
    assert_eq!(resource["latest"]["id"], id);
    let history = resource["history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{resource}");
    assert_eq!(history[0]["verdict"], "pass");
    assert_eq!(history[0]["id"], id);
    let unknown = get(serve.addr, "/api/v1/domains/never-checked.example").await;
    assert_eq!(unknown.status, 404);
    check_response(doc, "get", "/api/v1/domains/{domain}", 404, &unknown.json());

    let page = get(serve.addr, &format!("/check/{domain}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let index = get(serve.addr, "/").await;
    assert_eq!(index.status, 200);
    assert!(index.text().contains("<form"), "{}", index.text());
}

async fn service_endpoints(serve: &Serve) {
    let health = get(serve.addr, "/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["ok"], true);
    let metrics = get(serve.addr, "/metrics").await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    for line in [
        "manifesto_checks_total{verdict=\"pass\"} 1",
        "manifesto_stored_answers_total 1",
        "manifesto_check_duration_seconds_count 1",
        "manifesto_queue_length 0",
        "manifesto_running_checks 0",
        "manifesto_rejections_total{reason=\"rate-limited\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
    }
    assert!(text.contains("manifesto_http_requests_total "));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_errors_with_hints() {
    let dns = dns_only(&[]).await;
    let (_dir, db) = temp_db();
    let args: Vec<OsString> = [
        "--allow-private",
        "--resolver",
        &dns.resolver_arg(),
        "--timeout",
        "2",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let serve = Serve::start(&db, &args);
    let doc = openapi(serve.addr).await;
    for bad in [
        "not a domain!",
        "https://example.org/",
        "127.0.0.1",
        "",
        "a..b",
    ] {
        let r = post_check(serve.addr, bad, None).await;
        assert_eq!(r.status, 400, "{bad:?}: {}", r.text());
        let body = r.json();
        check_response(&doc, "post", "/api/v1/checks", 400, &body);
        assert!(
            body["hint"].as_str().unwrap().contains("example.org"),
            "{body}"
        );
    }
    let not_json = request(
        serve.addr,
        "POST",
        "/api/v1/checks",
        &[],
        Some(("application/json", b"{domain")),
    )
    .await;
    assert_eq!(not_json.status, 400, "{}", not_json.text());
    assert!(not_json.json()["hint"].is_string());
    let big = format!("{{\"domain\": \"{}\"}}", "a".repeat(8000));
    let too_big = request(
        serve.addr,
        "POST",
        "/api/v1/checks",
        &[],
        Some(("application/json", big.as_bytes())),
    )
    .await;
    assert_eq!(too_big.status, 413, "{}", too_big.text());
    check_response(&doc, "post", "/api/v1/checks", 413, &too_big.json());
    for path in [
        "/api/v1/checks/nothex",
        "/api/v1/checks/0123456789abcdef0123456789abcdef",
    ] {
        let r = get(serve.addr, path).await;
        assert_eq!(r.status, 404, "{path}");
        check_response(&doc, "get", "/api/v1/checks/{id}", 404, &r.json());
    }
    form(&serve).await;
}

async fn form(serve: &Serve) {
    let form = |body: &'static str| {
        request(
            serve.addr,
            "POST",
            "/check",
            &[],
            Some(("application/x-www-form-urlencoded", body.as_bytes())),
        )
    };
    let bad = form("domain=http%3A%2F%2Fx").await;
    assert_eq!(bad.status, 400);
    assert!(bad.header("content-type").unwrap().starts_with("text/html"));
    let good = form("domain=Form.Example").await;
    assert_eq!(good.status, 303, "{}", good.text());
    assert_eq!(good.header("location"), Some("/check/form.example"));
    let page = get(serve.addr, "/check/form.example").await;
    assert_eq!(page.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ssrf_policy_applies_without_allow_private() {
    let pki = Pki::new();
    let domain = "serve-private.example".to_owned();
    let s = prosody_env(&pki, std::slice::from_ref(&domain), &[]).await;
    let (_dir, db) = temp_db();
    let args: Vec<OsString> = network_args(&s)
        .into_iter()
        .filter(|a| a != "--allow-private")
        .collect();
    let serve = Serve::start(&db, &args);
    let r = post_check(serve.addr, &domain, None).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let done = wait_state(serve.addr, &id, &["done"], Duration::from_secs(60)).await;
    let report = &done["report"];
    assert_ne!(report["verdict"], "pass", "{report}");
    let endpoints = report["endpoints"].as_array().unwrap();
    assert!(!endpoints.is_empty(), "{report}");
    for ep in endpoints {
        assert_eq!(ep["error_kind"], "policy", "{ep}");
        assert!(
            ep["error"]
                .as_str()
                .unwrap()
                .contains("not a public address"),
            "{ep}"
        );
    }
}
