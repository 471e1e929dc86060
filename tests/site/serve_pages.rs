//! The pages of `manifesto serve` (`src/serve/pages.rs`) in Debian's headless Chromium, checked
//! for accessibility by axe-core running inside that browser.
//!
//! The pages are rendered with `render_index` / `render_domain` (the Done page from the
//! recorded Prosody report `tests/fixtures/report-advisories.json`) and served from a tiny HTTP
//! server on 127.0.0.1, with the service's stylesheet at `/style.css` (so that axe judges the
//! real colours) and a `POST /check` that answers 303 to `/check/{domain}` as the service does.
//! A harness page on the same origin loads each page in an iframe, injects axe into it (a
//! same-origin script, which the pages' Content-Security-Policy allows), and writes the
//! violations as JSON into its own DOM, which `--dump-dom` prints.
//!
//! Needs `chromium` and axe-core (both from scripts/install-test-deps.sh; axe-core from npm
//! under `~/.cache/xmpp-manifesto/npm`, or `AXE_CORE=/path/to/axe.min.js`); without either this
//! test FAILS, it never skips. `CHROMIUM=/path/to/chromium` picks another browser.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use time::macros::datetime;
use xmpp_manifesto::report::{Report, Verdict};
use xmpp_manifesto::serve::model::{CheckState, HistoryPoint};
use xmpp_manifesto::serve::pages::{
    DomainPage, RecentCheck, STYLE_CSS, render_domain, render_index,
};

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    for candidate in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new("which").arg(candidate).output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!(
        "headless Chromium is required for the page test and was not found: run \
         scripts/install-test-deps.sh (or `apt-get install chromium`), or set CHROMIUM=/path"
    );
}

/// axe-core's browser bundle: `AXE_CORE`, else where scripts/install-test-deps.sh puts it.
fn axe_core() -> PathBuf {
    let path = std::env::var_os("AXE_CORE").map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|home| {
            PathBuf::from(home).join(".cache/xmpp-manifesto/npm/node_modules/axe-core/axe.min.js")
        })
    });
    match path {
        Some(p) if p.is_file() => p,
        other => panic!(
            "axe-core is required for the accessibility test and was not found at {other:?}: run \
             scripts/install-test-deps.sh (it runs `npm install --prefix \
             \"$HOME/.cache/xmpp-manifesto/npm\" axe-core@4`), or set AXE_CORE=/path/to/axe.min.js"
        ),
    }
}

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
    };
    pages.insert(
        "/check/running.example".into(),
        domain("running.example", running),
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

const HARNESS: &str = r##"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>axe harness</title>
<iframe id="f" title="page under test" style="width:1200px;height:900px"></iframe>
<pre id="loads">0</pre>
<pre id="out">pending</pre>
<script>
var params = new URLSearchParams(location.search);
var f = document.getElementById("f");
var out = document.getElementById("out");
var loads = 0;
function runAxe(d, w) {
  var s = d.createElement("script");
  s.src = "/axe.min.js";
  s.onerror = function () { out.textContent = "error: axe.min.js did not load in the page"; };
  s.onload = function () {
    w.axe.run(d, { resultTypes: ["violations"] }).then(function (r) {
      out.textContent = JSON.stringify({
        url: w.location.pathname,
        dark: w.matchMedia("(prefers-color-scheme: dark)").matches,
        passes: r.passes.map(function (p) { return p.id; }),
        violations: r.violations.map(function (v) {
          return { id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(function (n) { return n.target.join(" ") + ": " + n.failureSummary; }) };
        })
      });
    }, function (e) { out.textContent = "error: " + e; });
  };
  d.head.appendChild(s);
}
f.addEventListener("load", function () {
  loads++;
  document.getElementById("loads").textContent = String(loads);
  var d = f.contentDocument, w = f.contentWindow;
  if (params.get("submit") && loads === 1) {
    // A user typing a domain and pressing the button: no script of the page is involved.
    d.getElementById("domain").value = params.get("submit");
    d.querySelector("form.check button[type=submit]").click();
    return;
  }
  if (loads === 1 || (params.get("submit") && loads === 2)) { runAxe(d, w); }
});
f.src = params.get("page");
</script>
</html>
"##;

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
        ("GET", "/harness.html") => ok(html, HARNESS),
        ("GET", p) => {
            let page = pages.get(p).cloned().or_else(|| {
                // A domain just asked for: queued, as the service shows it.
                let d = p.strip_prefix("/check/")?;
                let queued = DomainPage::Pending {
                    state: CheckState::Queued,
                    queue_position: Some(0),
                    latest: None,
                    history: &[],
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

fn dump_dom(url: &str, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().expect("profile");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=7000",
        ])
        .args(extra)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 DOM")
}

/// The text of the harness's `<pre id=...>`, entities decoded as far as JSON needs.
fn pre(dom: &str, id: &str) -> String {
    dom.split(&format!("<pre id=\"{id}\">"))
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("no #{id} in the harness DOM:\n{dom}"))
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// What axe found on one page.
struct Axe {
    /// The path the iframe ended on.
    url: String,
    /// Whether the page saw the dark colour scheme.
    dark: bool,
    violations: Vec<Value>,
    /// The ids of the rules that passed.
    passes: Vec<String>,
    /// How often the iframe loaded (a pending page reloads itself).
    loads: u32,
}

fn axe_page(port: u16, query: &str, extra: &[&str]) -> Axe {
    let dom = dump_dom(
        &format!("http://127.0.0.1:{port}/harness.html?{query}"),
        extra,
    );
    let out = pre(&dom, "out");
    let loads = pre(&dom, "loads").parse().expect("load count");
    let json: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("axe did not report for {query} ({e}): {out}"));
    Axe {
        url: json["url"].as_str().unwrap_or_default().to_owned(),
        dark: json["dark"].as_bool().unwrap_or_default(),
        violations: json["violations"].as_array().cloned().unwrap_or_default(),
        passes: json["passes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect(),
        loads,
    }
}

/// Prints every violation; returns the serious and critical ones, except the meta refresh of
/// a pending page (see [`serve_pages_pass_axe_in_chromium`]).
fn grave(page: &str, violations: &[Value], pending: bool) -> Vec<String> {
    let mut grave = Vec::new();
    for v in violations {
        let impact = v["impact"].as_str().unwrap_or("unknown");
        eprintln!(
            "{page}: axe {impact}: {} ({}): {}",
            v["id"], v["help"], v["nodes"]
        );
        let excused = pending && v["id"] == "meta-refresh";
        if matches!(impact, "serious" | "critical") && !excused {
            grave.push(format!("{page}: {} ({impact}): {}", v["id"], v["nodes"]));
        }
    }
    grave
}

/// The pages and whether each is pending (refreshes itself).
const PAGES: [(&str, bool); 7] = [
    ("/", false),
    ("/message", false),
    ("/check/new.example", false),
    ("/check/queued.example", true),
    ("/check/running.example", true),
    ("/check/example.test", false),
    ("/check/aborted.example", false),
];

/// Every page state passes axe (no serious or critical violation) in the light and the dark
/// colour scheme. One exception, printed and asserted: axe's `meta-refresh` (WCAG 2.2.1) on a
/// pending page, whose reload every 2 seconds the issue asks for ("refreshes itself, no
/// JavaScript needed"); it must not appear anywhere else, and the pending pages must really
/// reload.
#[test]
fn serve_pages_pass_axe_in_chromium() {
    let axe = std::fs::read(axe_core()).expect("read axe.min.js");
    let port = serve(pages(), axe);
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
    let axe = std::fs::read(axe_core()).expect("read axe.min.js");
    let port = serve(pages(), axe);
    // The page has no script at all: what the browser shows is what the server sent.
    let dom = dump_dom(&format!("http://127.0.0.1:{port}/"), &[]);
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
