//! The pages of `manifesto serve` (`src/serve/pages.rs`) in Debian's headless Chromium, checked
//! for accessibility by axe-core running inside that browser.
//!
//! The pages are rendered with `render_index` / `render_domain` (the Done page from the
//! recorded Prosody report `tests/fixtures/report-advisories.json`) and served from a tiny HTTP
//! server on 127.0.0.1, with the service's stylesheet at `/style.css` (so that axe judges the
//! real colours) and a `POST /check` that answers 303 to `/check/{domain}` as the service does.
//! A harness page on the same origin (`tests/support/browser.rs`, shared with the test of the
//! running service, `tests/serve/browser.rs`) loads each page in an iframe, injects axe into it
//! (a same-origin script, which the pages' Content-Security-Policy allows), and writes the
//! violations as JSON into its own DOM, which `--dump-dom` prints.
//!
//! Needs `chromium` and axe-core (both from scripts/install-test-deps.sh; axe-core from npm
//! under `~/.cache/xmpp-manifesto/npm`, or `AXE_CORE=/path/to/axe.min.js`); without either this
//! test FAILS, it never skips. `CHROMIUM=/path/to/chromium` picks another browser.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use time::macros::datetime;
use xmpp_manifesto::report::{Report, Verdict};
use xmpp_manifesto::serve::model::{CheckState, HistoryPoint};
use xmpp_manifesto::serve::pages::{
    DomainPage, RecentCheck, STYLE_CSS, render_domain, render_index,
};

use crate::support::browser::{self, Axe, axe_script, dump_dom, grave, run_harness};

fn fixture() -> Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-advisories.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("report")
}

fn history() -> Vec<HistoryPoint> {
    (0..12)
        .rev()
        .map(|i: i64| HistoryPoint {
            id: format!("c{i}"),
            at: datetime!(2026-01-02 06:00 UTC) + time::Duration::hours(i * 6),
            verdict: match i {
                3 => Verdict::Fail,
                7 => Verdict::Inconclusive,
                9 => Verdict::NoService,
                _ => Verdict::Pass,
            },
            duration_ms: 2000,
        })
        .collect()
}

/// Every page state, by the path it is served at.
fn pages() -> HashMap<String, String> {
    let report = fixture();
    let history = history();
    let recent = [
        RecentCheck {
            domain: "example.org".into(),
            verdict: Verdict::Pass,
            at: datetime!(2026-03-01 10:15 UTC),
        },
        RecentCheck {
            domain: "xn--mnchen-3ya.de".into(),
            verdict: Verdict::Fail,
            at: datetime!(2026-03-01 09:00 UTC),
        },
        RecentCheck {
            domain: "quiet.example".into(),
            verdict: Verdict::Inconclusive,
            at: datetime!(2026-03-01 08:00 UTC),
        },
        RecentCheck {
            domain: "gone.example".into(),
            verdict: Verdict::NoService,
            at: datetime!(2026-02-28 23:59 UTC),
        },
    ];
    let domain = |d: &str, page: DomainPage<'_>| render_domain(d, &page).expect("renders");
    let mut pages = HashMap::new();
    pages.insert("/".into(), render_index(&recent, None).expect("index"));
    let message = Some("“exa mple” is not a domain name.");
    pages.insert(
        "/message".into(),
        render_index(&[], message).expect("index"),
    );
    pages.insert(
        "/check/new.example".into(),
        domain("new.example", DomainPage::Unknown),
    );
    let queued = DomainPage::Pending {
        state: CheckState::Queued,
        queue_position: Some(3),
        latest: None,
        history: &[],
        refresh: true,
    };
    pages.insert(
        "/check/queued.example".into(),
        domain("queued.example", queued),
    );
    let running = DomainPage::Pending {
        state: CheckState::Running,
        queue_position: None,
        latest: Some(&report),
        history: &history,
        refresh: true,
    };
    pages.insert(
        "/check/running.example".into(),
        domain("running.example", running),
    );
    // The reader stopped the reloads (`?refresh=off`): still pending, no meta refresh.
    let still = DomainPage::Pending {
        state: CheckState::Running,
        queue_position: None,
        latest: Some(&report),
        history: &history,
        refresh: false,
    };
    pages.insert(
        "/check/still.example".into(),
        domain("still.example", still),
    );
    let done = DomainPage::Done {
        report: &report,
        history: &history,
    };
    pages.insert("/check/example.test".into(), domain("example.test", done));
    let aborted = DomainPage::Aborted {
        error: "the service shut down while the check ran",
        latest: Some(&report),
        history: &history,
    };
    pages.insert(
        "/check/aborted.example".into(),
        domain("aborted.example", aborted),
    );
    pages
}

/// One HTTP answer: status line, one header (Content-Type or Location), body.
struct Reply {
    status: &'static str,
    header: (&'static str, String),
    body: Vec<u8>,
}

fn ok(kind: &str, body: impl Into<Vec<u8>>) -> Option<Reply> {
    Some(Reply {
        status: "200 OK",
        header: ("Content-Type", kind.to_owned()),
        body: body.into(),
    })
}

/// What the tiny server answers; `None` for 404.
fn route(
    method: &str,
    path: &str,
    body: &str,
    pages: &HashMap<String, String>,
    axe: &[u8],
) -> Option<Reply> {
    let html = "text/html; charset=utf-8";
    match (method, path) {
        ("POST", "/check") => {
            // As the service: the form's `domain=` becomes a 303 to the domain's page.
            let domain = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("domain="))
                .unwrap_or_default();
            Some(Reply {
                status: "303 See Other",
                header: (
                    "Location",
                    format!("/check/{}", domain.to_ascii_lowercase()),
                ),
                body: Vec::new(),
            })
        }
        ("GET", "/style.css") => ok("text/css", STYLE_CSS),
        ("GET", "/axe.min.js") => ok("text/javascript", axe),
        ("GET", "/harness.html") => ok(html, browser::HARNESS),
        ("GET", p) => {
            let page = pages.get(p).cloned().or_else(|| {
                // A domain just asked for: queued, as the service shows it.
                let d = p.strip_prefix("/check/")?;
                let queued = DomainPage::Pending {
                    state: CheckState::Queued,
                    queue_position: Some(0),
                    latest: None,
                    history: &[],
                    refresh: true,
                };
                render_domain(d, &queued).ok()
            })?;
            ok(html, page)
        }
        _ => None,
    }
}

fn answer(mut stream: TcpStream, pages: &HashMap<String, String>, axe: &[u8]) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_or(true, |n| n == 0) || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(4096)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let mut words = request.split_whitespace();
    let method = words.next().unwrap_or("GET");
    let target = words.next().unwrap_or("/");
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let body = String::from_utf8_lossy(&body);
    let Reply {
        status,
        header: (name, value),
        body,
    } = route(method, path, &body, pages, axe).unwrap_or(Reply {
        status: "404 Not Found",
        header: ("Content-Type", "text/plain".into()),
        body: b"not found".to_vec(),
    });
    let head = format!(
        "HTTP/1.1 {status}\r\n{name}: {value}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

/// Serves the pages, the stylesheet, axe and the harness on 127.0.0.1; returns the port.
fn serve(pages: HashMap<String, String>, axe: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let shared = Arc::new((pages, axe));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || answer(stream, &shared.0, &shared.1));
        }
    });
    port
}

/// Each page of the tiny server in Chromium, axe run on its first load.
fn axe_page(port: u16, query: &str, extra: &[&str]) -> Axe {
    run_harness(
        &format!("http://127.0.0.1:{port}"),
        query,
        7000,
        extra,
        Duration::from_secs(60),
    )
}

/// The pages and whether each refreshes itself (pending, and the reloads not stopped).
const PAGES: [(&str, bool); 8] = [
    ("/", false),
    ("/message", false),
    ("/check/new.example", false),
    ("/check/queued.example", true),
    ("/check/running.example", true),
    ("/check/still.example", false),
    ("/check/example.test", false),
    ("/check/aborted.example", false),
];

/// Every page state passes axe (no serious or critical violation) in the light and the dark
/// colour scheme. One exception, printed and asserted: axe's `meta-refresh` (WCAG 2.2.1) on a
/// pending page, whose reload every 2 seconds the issue asks for ("refreshes itself, no
/// JavaScript needed") and which links "Stop refreshing"; it must not appear anywhere else
/// (not on a pending page whose reloads were stopped), and the pending pages must really
/// reload.
#[test]
fn serve_pages_pass_axe_in_chromium() {
    let port = serve(pages(), axe_script());
    let mut failures = Vec::new();
    for (scheme, extra) in [("light", &[][..]), ("dark", &["--force-dark-mode"][..])] {
        for (path, pending) in PAGES {
            let axe = axe_page(port, &format!("page={path}"), extra);
            let name = format!("{path} ({scheme})");
            assert_eq!(axe.url, path);
            assert_eq!(axe.dark, scheme == "dark", "{name}: colour scheme");
            // The stylesheet was there and its colours were judged.
            assert!(
                axe.passes.iter().any(|p| p == "color-contrast"),
                "{name}: {:?}",
                axe.passes
            );
            failures.extend(grave(&name, &axe.violations, pending));
            let refreshed = axe.violations.iter().any(|v| v["id"] == "meta-refresh");
            let loads = axe.loads;
            assert_eq!(
                refreshed, pending,
                "{name}: meta refresh only while pending"
            );
            assert_eq!(axe.refreshes(), pending, "{name}: {}", axe.html);
            if pending {
                let stop = format!("<a href=\"{path}?refresh=off\">Stop refreshing</a>");
                assert!(axe.html.contains(&stop), "{name}: {}", axe.html);
            }
            if pending {
                assert!(
                    loads >= 2,
                    "{name}: a pending page reloads itself ({loads} loads)"
                );
            } else {
                assert_eq!(loads, 1, "{name}: a finished page stays put");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "serious or critical axe violations:\n{}",
        failures.join("\n")
    );
}

/// The front page's form without any script: a POST to /check with a labelled `domain`; a
/// browser submitting it lands on the domain's page (after the service's 303), which passes
/// axe too.
#[test]
fn index_form_submits_without_javascript() {
    let port = serve(pages(), axe_script());
    // The page has no script at all: what the browser shows is what the server sent.
    let dom = dump_dom(
        &format!("http://127.0.0.1:{port}/"),
        7000,
        &[],
        Duration::from_secs(60),
    );
    assert!(!dom.contains("<script"), "{dom}");
    assert!(
        dom.contains("<form class=\"check\" method=\"post\" action=\"/check\">"),
        "{dom}"
    );
    assert!(
        dom.contains("<label for=\"domain\">Domain of the XMPP service</label>"),
        "{dom}"
    );
    assert!(dom.contains("id=\"domain\" name=\"domain\""), "{dom}");
    assert!(
        dom.contains("<button type=\"submit\">Check</button>"),
        "{dom}"
    );
    assert!(
        dom.contains(
            "<a href=\"/check/xn--mnchen-3ya.de\" title=\"xn--mnchen-3ya.de\">münchen.de</a>"
        ),
        "{dom}"
    );

    let axe = axe_page(port, "page=/&submit=Example.ORG", &[]);
    assert_eq!(
        axe.url, "/check/example.org",
        "the form posted and the 303 was followed"
    );
    assert!(axe.loads >= 2);
    let failures = grave(&axe.url, &axe.violations, true);
    assert!(
        failures.is_empty(),
        "serious or critical axe violations:\n{}",
        failures.join("\n")
    );
}
