//! `--node URL`: the check runs on a check service (`manifesto serve`) and its report is used as
//! if it were local. The service here is a fake (wiremock) speaking the API of
//! `xmpp_manifesto::serve::model`: queued, running, done; a stored result; limits; an aborted
//! check; a report for another domain; a token; no service at all. Nothing leaves loopback.

use std::process::Output;

use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use xmpp_manifesto::report::{Report, RequirementId, Status, Verdict};

use crate::support::cli::manifesto;

const DOMAIN: &str = "checked.example";
const ID: &str = "c-1";

/// The passing report of tests/fixtures/report-advisories.json, as if of `domain`.
fn report_of(domain: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/report-advisories.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut report: Value = serde_json::from_str(&text).unwrap();
    report["domain"] = json!(domain);
    report
}

/// A check resource of the API in `state`, with `extra` fields (report, error, ...).
fn resource(state: &str, extra: Value) -> Value {
    let mut r = json!({
        "id": ID,
        "domain": DOMAIN,
        "state": state,
        "url": format!("/api/v1/checks/{ID}"),
        "page": format!("/check/{DOMAIN}"),
        "queued_at": "2026-01-02T03:04:05Z",
    });
    if state != "queued" {
        r["started_at"] = json!("2026-01-02T03:04:06Z");
    }
    if let (Some(r), Some(extra)) = (r.as_object_mut(), extra.as_object()) {
        r.extend(extra.clone());
    }
    r
}

fn done() -> Value {
    resource(
        "done",
        json!({"finished_at": "2026-01-02T03:04:30Z", "report": report_of(DOMAIN)}),
    )
}

async fn node() -> MockServer {
    MockServer::start().await
}

/// `POST /api/v1/checks` for DOMAIN answers `response` (`times` times at most, or always).
async fn on_post(server: &MockServer, response: ResponseTemplate, times: Option<u64>) {
    let mock = Mock::given(method("POST"))
        .and(path("/api/v1/checks"))
        .and(body_json(json!({"domain": DOMAIN})))
        .respond_with(response);
    let mock = match times {
        Some(n) => mock.up_to_n_times(n),
        None => mock,
    };
    mock.mount(server).await;
}

/// `GET /api/v1/checks/ID` answers `body` (`times` times at most, or always).
async fn on_get(server: &MockServer, body: Value, times: Option<u64>) {
    let mock = Mock::given(method("GET"))
        .and(path(format!("/api/v1/checks/{ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(body));
    let mock = match times {
        Some(n) => mock.up_to_n_times(n),
        None => mock,
    };
    mock.mount(server).await;
}

/// `manifesto check DOMAIN --node URL --format json`, with `token` in MANIFESTO_NODE_TOKEN.
async fn check(url: &str, token: Option<&str>) -> Output {
    let mut cmd = manifesto();
    cmd.args(["check", DOMAIN, "--node", url, "--format", "json"])
        .args(["--timeout", "5", "--deadline", "10"])
        .env_remove("MANIFESTO_NODE_TOKEN");
    if let Some(token) = token {
        cmd.env("MANIFESTO_NODE_TOKEN", token);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn dump(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn printed(out: &Output) -> Report {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", dump(out)))
}

/// The report a service could not make: inconclusive (exit 3), every requirement saying why.
fn assert_unchecked(out: &Output, url: &str, why: &str) {
    assert_eq!(out.status.code(), Some(3), "{}", dump(out));
    let report = printed(out);
    assert_eq!(report.domain, DOMAIN);
    assert_eq!(report.verdict, Verdict::Inconclusive);
    assert!(report.endpoints.is_empty(), "{}", dump(out));
    for id in RequirementId::CHECK {
        let requirement = &report.requirements[&id];
        assert_eq!(requirement.status, Status::Inconclusive, "{id}");
        let expected = format!("the check service at {url} could not check it: ");
        assert!(
            requirement.summary.starts_with(&expected) && requirement.summary.contains(why),
            "{id}: {:?} lacks {why:?}",
            requirement.summary
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_check_is_polled_until_done_and_its_report_printed() {
    let server = node().await;
    on_post(
        &server,
        ResponseTemplate::new(202).set_body_json(resource("queued", json!({"queue_position": 0}))),
        None,
    )
    .await;
    on_get(&server, resource("running", json!({})), Some(1)).await;
    on_get(&server, done(), None).await;

    let out = check(&server.uri(), None).await;
    assert_eq!(out.status.code(), Some(0), "{}", dump(&out));
    let expected: Report = serde_json::from_value(report_of(DOMAIN)).unwrap();
    assert_eq!(printed(&out), expected);
    let requests = server.received_requests().await.unwrap_or_default();
    let gets = requests.iter().filter(|r| r.method.as_str() == "GET");
    assert_eq!(gets.count(), 2, "running, then done");
    assert!(
        requests
            .iter()
            .all(|r| !r.headers.contains_key("authorization")),
        "no token, no Authorization header"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_stored_result_needs_no_poll() {
    let server = node().await;
    on_post(
        &server,
        ResponseTemplate::new(200).set_body_json(done()),
        None,
    )
    .await;

    let out = check(&server.uri(), None).await;
    assert_eq!(out.status.code(), Some(0), "{}", dump(&out));
    assert_eq!(printed(&out).domain, DOMAIN);
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 1, "one POST, no GET");
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_are_waited_out_with_retry_after() {
    let server = node().await;
    on_post(
        &server,
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "1")
            .set_body_json(json!({"error": "too many checks", "hint": "wait a minute"})),
        Some(1),
    )
    .await;
    on_post(
        &server,
        ResponseTemplate::new(202).set_body_json(resource("running", json!({}))),
        None,
    )
    .await;
    on_get(&server, done(), None).await;

    let started = std::time::Instant::now();
    let out = check(&server.uri(), None).await;
    assert_eq!(out.status.code(), Some(0), "{}", dump(&out));
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After was obeyed"
    );
    let requests = server.received_requests().await.unwrap_or_default();
    let posts = requests.iter().filter(|r| r.method.as_str() == "POST");
    assert_eq!(posts.count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_beyond_the_deadline_are_inconclusive() {
    let server = node().await;
    on_post(
        &server,
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "3600")
            .set_body_json(json!({"error": "too many checks"})),
        None,
    )
    .await;
    let out = check(&server.uri(), None).await;
    assert_unchecked(&out, &server.uri(), "HTTP 429");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aborted_check_is_inconclusive_with_its_reason() {
    let server = node().await;
    on_post(
        &server,
        ResponseTemplate::new(202).set_body_json(resource("running", json!({}))),
        None,
    )
    .await;
    on_get(
        &server,
        resource("aborted", json!({"error": "the service shut down"})),
        None,
    )
    .await;
    let out = check(&server.uri(), None).await;
    assert_unchecked(
        &out,
        &server.uri(),
        "its check was aborted: the service shut down",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_for_another_domain_is_refused() {
    let server = node().await;
    let mut answer = done();
    answer["report"] = report_of("other.example");
    on_post(
        &server,
        ResponseTemplate::new(200).set_body_json(answer),
        None,
    )
    .await;
    let out = check(&server.uri(), None).await;
    assert_unchecked(&out, &server.uri(), "cannot answer for another domain");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"pass\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_domain_is_inconclusive_with_the_services_words() {
    let server = node().await;
    on_post(
        &server,
        ResponseTemplate::new(400)
            .set_body_json(json!({"error": "not a domain", "hint": "give an XMPP domain"})),
        None,
    )
    .await;
    let out = check(&server.uri(), None).await;
    assert_unchecked(
        &out,
        &server.uri(),
        "HTTP 400): not a domain (give an XMPP domain)",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_is_sent_as_a_bearer_token() {
    let server = node().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/checks"))
        .and(header("authorization", "Bearer s3cret-token"))
        .respond_with(ResponseTemplate::new(202).set_body_json(resource("queued", json!({}))))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/checks/{ID}")))
        .and(header("authorization", "Bearer s3cret-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(done()))
        .mount(&server)
        .await;
    // Anything without the token is refused, as the service would refuse a wrong one.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "bad token"})))
        .with_priority(10)
        .mount(&server)
        .await;

    let out = check(&server.uri(), Some("s3cret-token")).await;
    assert_eq!(out.status.code(), Some(0), "{}", dump(&out));
    assert_eq!(printed(&out).verdict, Verdict::Pass);

    let out = check(&server.uri(), Some("wrong")).await;
    assert_unchecked(&out, &server.uri(), "refused the token (HTTP 401)");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("wrong"));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_service_at_the_url_is_inconclusive_with_a_hint() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = check(&url, None).await;
    assert_unchecked(&out, &url, "is the URL right and the service running?");
}

#[test]
fn a_url_that_is_not_one_is_a_usage_error() {
    for url in [
        "check.example.org",
        "ftp://check.example.org",
        "https://x/?q=1",
    ] {
        let out = manifesto()
            .args(["check", DOMAIN, "--node", url])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{url}: {}", dump(&out));
    }
}
