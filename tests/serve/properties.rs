//! The OpenAPI document held against the live service with generated requests (property tests
//! of our own, in place of schemathesis): whatever body a client sends to `POST /api/v1/checks`
//! and whatever id or domain it asks for, every answer has a status the document lists for that
//! operation, and its JSON matches the schema listed for that status.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

use crate::client::{get, request};
use crate::schema::check_response;
use crate::service::{Serve, dns_only, os, temp_db};

/// Bodies a client might send: domains of every shape in valid JSON, JSON of the wrong shape,
/// and bytes that are not JSON at all.
fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-z0-9.-]{0,70}"
            .prop_map(|d| serde_json::json!({ "domain": d }).to_string().into_bytes()),
        ".{0,80}".prop_map(|d| serde_json::json!({ "domain": d }).to_string().into_bytes()),
        "(\\[::1\\]|127\\.0\\.0\\.1|10\\.0\\.0\\.[0-9]|[a-z]{1,10}\\.(test|invalid|local))"
            .prop_map(|d| serde_json::json!({ "domain": d }).to_string().into_bytes()),
        any::<i64>().prop_map(|n| serde_json::json!({ "domain": n }).to_string().into_bytes()),
        Just(b"{}".to_vec()),
        Just(vec![b'{'; 5000]),
        proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

/// Path segments: ids and domains, well formed or not.
fn segments() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9a-f]{32}", "[a-z0-9.-]{1,40}", "[%A-Za-z0-9._~-]{1,60}",]
}

fn generate<T>(strategy: impl Strategy<Value = T>, n: usize) -> Vec<T> {
    let mut runner = TestRunner::new(Config::default());
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).expect("generate").current())
        .collect()
}

fn json_or_null(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_requests_get_documented_answers() {
    // No XMPP server anywhere: the checks end fast, with nothing to contact.
    let dns = dns_only(&[]).await;
    let (_dir, db) = temp_db();
    let mut args = os(&[
        "--allow-private",
        "--timeout",
        "2",
        "--per-minute",
        "100000",
        "--queue",
        "1000",
    ]);
    args.extend(os(&["--resolver", &dns.resolver_arg()]));
    let serve = Serve::start(&db, &args);
    let doc = get(serve.addr, "/openapi.json").await.json();

    for body in generate(bodies(), 120) {
        let r = request(
            serve.addr,
            "POST",
            "/api/v1/checks",
            &[],
            Some(("application/json", &body)),
        )
        .await;
        let shown = String::from_utf8_lossy(&body)
            .chars()
            .take(80)
            .collect::<String>();
        let json = json_or_null(&r.text());
        if json.is_null() {
            // Only statuses the document lists may come without a JSON body (413 from the
            // body limit), and only if the document lists them.
            let listed = &doc["paths"]["/api/v1/checks"]["post"]["responses"][r.status.to_string()];
            assert!(
                listed.is_object(),
                "{shown:?}: undocumented {} {}",
                r.status,
                r.text()
            );
            continue;
        }
        check_response(&doc, "post", "/api/v1/checks", r.status, &json);
    }
    for segment in generate(segments(), 60) {
        for (template, path) in [
            ("/api/v1/checks/{id}", format!("/api/v1/checks/{segment}")),
            (
                "/api/v1/domains/{domain}",
                format!("/api/v1/domains/{segment}"),
            ),
            ("/check/{domain}", format!("/check/{segment}")),
        ] {
            let r = get(serve.addr, &path).await;
            let listed = &doc["paths"][template]["get"]["responses"][r.status.to_string()];
            assert!(
                listed.is_object(),
                "GET {path}: undocumented {} {}",
                r.status,
                r.text()
            );
            // The documented content type (HTML for pages, JSON for the API).
            if let Some(kind) = listed["content"].as_object().and_then(|c| c.keys().next()) {
                let got = r.header("content-type").unwrap_or_default();
                assert!(
                    got.starts_with(kind.as_str()),
                    "GET {path}: {got}, documented {kind}"
                );
            }
            let json = json_or_null(&r.text());
            if !json.is_null() {
                check_response(&doc, "get", template, r.status, &json);
            }
        }
    }
}
