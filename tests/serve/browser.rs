//! The running service in a real browser: headless Chromium submits the front page's form for a
//! real Prosody behind the in-process DNS, follows the service's 303 to `/check/{domain}`, waits
//! while that page reloads itself (meta refresh, every 2 s) until it shows the finished check,
//! and axe-core, inside that browser, judges the result page and the front page. A pending
//! check (a tarpit that never answers keeps it running) is judged too, with its reloads
//! stopped (`?refresh=off`: no meta refresh at all) and running.
//!
//! Chromium loads everything from a same-origin proxy in front of the service (a tiny HTTP
//! server in the test, forwarding GET and POST with their body and answering with the
//! service's status, headers and body), which also serves the harness page
//! (`tests/support/browser.rs`) and `/axe.min.js`: the harness reaches into the iframe of the
//! page under test only on the same origin. The proxy holds a page that refreshes itself for
//! [`PENDING_HOLD`] before answering: Chromium's virtual clock stands still while a fetch is
//! open, so the 2 s reloads, which the virtual time budget runs at once otherwise, leave the
//! check real time to finish.
//!
//! Needs `chromium`, axe-core and Prosody (scripts/install-test-deps.sh); without any of them
//! this test FAILS with the install hint, it never skips.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::client::{post_check, request};
use crate::service::{Serve, Tarpit, network_args, prosody_env, temp_db};
use crate::support::browser::{Axe, HARNESS, axe_script, grave, query_value, run_harness};
use crate::support::pki::Pki;

/// How long the proxy holds a page that refreshes itself (real time, while the virtual clock
/// stands still).
const PENDING_HOLD: Duration = Duration::from_millis(300);

/// Headers that belong to one connection, not to the answer.
const HOP_BY_HOP: [&str; 4] = [
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
];

/// The same-origin front of the service on 127.0.0.1; stops on drop.
struct Proxy {
    addr: SocketAddr,
    /// `METHOD TARGET -> STATUS`, one line per request, in order (for failure messages).
    log: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let axe = Arc::new(axe_script());
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&log);
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let axe = Arc::clone(&axe);
                let log = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = relay(tcp, upstream, &axe, &log).await;
                });
            }
        });
        Proxy { addr, log, task }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn log(&self) -> String {
        self.log.lock().expect("proxy log").join("\n")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request from the browser: the harness and axe from here, everything else from the
/// service.
async fn relay(
    tcp: TcpStream,
    upstream: SocketAddr,
    axe: &[u8],
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let (read, mut write) = tcp.into_split();
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("GET").to_owned();
    let target = words.next().unwrap_or("/").to_owned();
    let (mut length, mut content_type) = (0usize, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).await? == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_owned());
            }
        }
    }
    let mut body = vec![0; length.min(1 << 16)];
    reader.read_exact(&mut body).await?;
    let html = "text/html; charset=utf-8";
    let (status, headers, body) = match (method.as_str(), target.split('?').next()) {
        ("GET", Some("/harness.html")) => (200, vec![content(html)], HARNESS.as_bytes().to_vec()),
        ("GET", Some("/axe.min.js")) => (200, vec![content("text/javascript")], axe.to_vec()),
        _ => {
            let form = content_type.as_deref().map(|t| (t, &body[..]));
            let r = request(upstream, &method, &target, &[], form).await;
            let headers = r
                .headers
                .into_iter()
                .filter(|(k, _)| !HOP_BY_HOP.iter().any(|h| k.eq_ignore_ascii_case(h)))
                .collect();
            (r.status, headers, r.body)
        }
    };
    let is_html = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v.starts_with("text/html"));
    let refreshes = is_html && String::from_utf8_lossy(&body).contains("http-equiv=\"refresh\"");
    let note = if refreshes { " (refreshes itself)" } else { "" };
    log.lock()
        .expect("proxy log")
        .push(format!("{method} {target} -> {status}{note}"));
    if refreshes {
        tokio::time::sleep(PENDING_HOLD).await;
    }
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    write.write_all(head.as_bytes()).await?;
    write.write_all(&body).await?;
    write.shutdown().await
}

fn content(kind: &str) -> (String, String) {
    ("Content-Type".to_owned(), kind.to_owned())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        303 => "See Other",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Status",
    }
}

/// [`run_harness`] off the async workers (the proxy and the DNS server run on them meanwhile).
async fn harness(proxy: &Proxy, query: String, budget_ms: u32, limit: Duration) -> Axe {
    let origin = proxy.origin();
    tokio::task::spawn_blocking(move || run_harness(&origin, &query, budget_ms, &[], limit))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// No serious or critical violation (the meta refresh excused only when `pending`), printing
/// every violation and, on failure, what the proxy saw.
fn assert_accessible(name: &str, axe: &Axe, pending: bool, proxy: &Proxy) {
    let failures = grave(name, &axe.violations, pending);
    assert!(
        failures.is_empty(),
        "serious or critical axe violations:\n{}\nthe proxy saw:\n{}",
        failures.join("\n"),
        proxy.log()
    );
    // The stylesheet came through the proxy and its colours were judged.
    assert!(
        axe.passes.iter().any(|p| p == "color-contrast"),
        "{name}: {:?}",
        axe.passes
    );
}

/// The form, the wait and the result page of a good Prosody; axe on the result and the front
/// page; then a pending check with its reloads stopped and running. Every wait is bounded: the
/// browser runs get a virtual time budget and a real-time limit.
#[tokio::test(flavor = "multi_thread")]
async fn browser_submits_form_and_reads_result_page() {
    let started = Instant::now();
    let pki = Pki::new();
    let domain = "browser-pass.example".to_owned();
    let slow = "browser-slow.example".to_owned();
    let tarpit = Tarpit::start().await;
    let s = prosody_env(
        &pki,
        std::slice::from_ref(&domain),
        &[(slow.clone(), tarpit.addr)],
    )
    .await;
    let (_dir, db) = temp_db();
    let serve = Serve::start(&db, &network_args(&s));
    let proxy = Proxy::start(serve.addr).await;
    eprintln!("set up in {:?}", started.elapsed());

    // A user types the domain (in capitals) and presses Check; the harness waits for the
    // finished check: a verdict (or, to fail with the page, an error message).
    let t = Instant::now();
    let query = format!(
        "page=/&submit={}&until={}",
        query_value(&domain.to_uppercase()),
        query_value("p.lede, p.message")
    );
    let result = harness(&proxy, query, 90_000, Duration::from_secs(40)).await;
    eprintln!(
        "form to result in {:?}; the iframe loaded {:?}; the proxy saw:\n{}",
        t.elapsed(),
        result.trail,
        proxy.log()
    );
    let page = format!("/check/{domain}");
    assert_eq!(result.url, page, "{}", result.html);
    assert_eq!(result.trail.first().map(String::as_str), Some("/"));
    assert!(
        proxy.log().contains("POST /check -> 303"),
        "the form posted: {}",
        proxy.log()
    );
    assert!(
        result
            .html
            .contains("<p class=\"lede\"><span class=\"status s-pass\">pass</span>"),
        "the finished check, passed:\n{}\nthe proxy saw:\n{}",
        result.html,
        proxy.log()
    );
    for id in ["c2s-tls-required", "s2s-tls-required"] {
        assert!(
            result.html.contains(&format!("<code>{id}</code>")),
            "{id}: {}",
            result.html
        );
    }
    assert!(!result.refreshes(), "a finished page has no meta refresh");
    assert!(!result.violations.iter().any(|v| v["id"] == "meta-refresh"));
    assert!(!result.html.contains("Stop refreshing"), "{}", result.html);
    assert_accessible(&page, &result, false, &proxy);

    // The front page, now listing the check.
    let index = harness(&proxy, "page=/".into(), 5_000, Duration::from_secs(30)).await;
    assert_eq!(index.url, "/");
    assert!(
        index.html.contains(&format!("<a href=\"{page}\">")),
        "{}",
        index.html
    );
    assert!(!index.refreshes());
    assert_accessible("/", &index, false, &proxy);

    pending_pages(&serve, &proxy, &slow).await;
    eprintln!("whole test in {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// A check that stays pending (its endpoints never answer): with `?refresh=off` no meta
/// refresh at all, a Refresh link, and no serious violation left; without, it reloads itself
/// and links "Stop refreshing" (the meta refresh the only violation excused).
async fn pending_pages(serve: &Serve, proxy: &Proxy, slow: &str) {
    let asked = post_check(serve.addr, slow, None).await;
    assert_eq!(asked.status, 202, "{}", asked.text());
    let page = format!("/check/{slow}");

    let still = format!("{page}?refresh=off");
    let query = format!("page={}", query_value(&still));
    let axe = harness(proxy, query, 7_000, Duration::from_secs(30)).await;
    assert_eq!(
        (axe.url.as_str(), axe.search.as_str()),
        (page.as_str(), "?refresh=off")
    );
    assert!(
        axe.html.contains("role=\"status\""),
        "pending: {}",
        axe.html
    );
    assert!(!axe.refreshes(), "{}", axe.html);
    assert!(
        axe.html
            .contains(&format!("<a href=\"{still}\">Refresh</a>")),
        "{}",
        axe.html
    );
    assert_eq!(axe.loads, 1, "a page whose reloads were stopped stays put");
    assert!(!axe.violations.iter().any(|v| v["id"] == "meta-refresh"));
    assert_accessible(&still, &axe, false, proxy);

    let query = format!("page={}", query_value(&page));
    let axe = harness(proxy, query, 7_000, Duration::from_secs(30)).await;
    assert!(axe.refreshes(), "{}", axe.html);
    assert!(
        axe.html
            .contains(&format!("<a href=\"{still}\">Stop refreshing</a>")),
        "{}",
        axe.html
    );
    assert!(
        axe.loads >= 2,
        "a pending page reloads itself: {:?}",
        axe.trail
    );
    assert_accessible(&page, &axe, true, proxy);
}
