//! A real browser for the page tests: Debian's headless Chromium, printing the DOM after a
//! virtual time budget (`--dump-dom`), and axe-core running inside it.
//!
//! The test serves [`HARNESS`] at `/harness.html` and axe-core ([`axe_script`]) at
//! `/axe.min.js` from the same origin as the page under test. The harness loads the page in an
//! iframe, optionally types a domain into its form and presses the button (`submit=`; the page
//! needs no script of its own), waits for a page that matches a CSS selector (`until=`; a
//! pending page reloads itself meanwhile), injects axe into it and writes what axe found as
//! JSON into its own DOM, which [`dump_dom`] prints and [`run_harness`] reads back.
//!
//! Needs `chromium` and axe-core (both from scripts/install-test-deps.sh; axe-core from npm
//! under `~/.cache/xmpp-manifesto/npm`, or `AXE_CORE=/path/to/axe.min.js`); without either the
//! test FAILS with the install hint, it never skips. `CHROMIUM=/path/to/chromium` picks another
//! browser.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The browser: `CHROMIUM`, else `chromium` or `chromium-browser` on `PATH`; panics with the
/// install hint when there is none.
pub fn chromium() -> PathBuf {
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

/// axe-core's browser bundle: `AXE_CORE`, else where scripts/install-test-deps.sh puts it;
/// panics with the install hint when it is not there.
pub fn axe_core() -> PathBuf {
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

/// The bytes to serve at `/axe.min.js`.
pub fn axe_script() -> Vec<u8> {
    std::fs::read(axe_core()).expect("read axe.min.js")
}

/// The page the harness is served as (`/harness.html`). Query: `page` (the path to load),
/// `submit` (a domain to type into the page's `#domain` and submit with the form's button, on
/// the first load), `until` (a CSS selector: axe runs on the first load, after the submission,
/// whose document matches it; without it, on the first load).
pub const HARNESS: &str = r##"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>axe harness</title>
<iframe id="f" title="page under test" style="width:1200px;height:900px"></iframe>
<pre id="loads">0</pre>
<pre id="trail"></pre>
<pre id="out">pending</pre>
<pre id="html"></pre>
<script>
var params = new URLSearchParams(location.search);
var submit = params.get("submit"), until = params.get("until");
var f = document.getElementById("f");
var out = document.getElementById("out");
var trail = document.getElementById("trail");
var loads = 0, submitted = false, ran = false;
function runAxe(d, w) {
  // What the browser showed, before axe adds its script.
  document.getElementById("html").textContent = d.documentElement.outerHTML;
  var s = d.createElement("script");
  s.src = "/axe.min.js";
  s.onerror = function () { out.textContent = "error: axe.min.js did not load in the page"; };
  s.onload = function () {
    w.axe.run(d, { resultTypes: ["violations"] }).then(function (r) {
      out.textContent = JSON.stringify({
        url: w.location.pathname,
        search: w.location.search,
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
  trail.textContent += w.location.pathname + w.location.search + "\n";
  if (ran) { return; }
  if (submit !== null && !submitted) {
    // A user typing a domain and pressing the button: no script of the page is involved.
    submitted = true;
    d.getElementById("domain").value = submit;
    d.querySelector("form.check button[type=submit]").click();
    return;
  }
  // Not there yet: a pending page reloads itself, and this runs again.
  if (until !== null && !d.querySelector(until)) { return; }
  ran = true;
  runAxe(d, w);
});
f.src = params.get("page");
</script>
</html>
"##;

/// `s` percent-encoded for a query value of the harness URL.
pub fn query_value(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `chromium --headless --dump-dom URL` after `budget_ms` of virtual time (timers run as fast
/// as the page lets them; network fetches pause the clock): the DOM it prints. Fails when the
/// browser fails or takes longer than `limit` of real time (then it is killed, with its
/// process group).
pub fn dump_dom(url: &str, budget_ms: u32, extra: &[&str], limit: Duration) -> String {
    let profile = tempfile::tempdir().expect("profile");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .args(extra)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("run chromium");
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break Some(status);
        }
        if start.elapsed() > limit {
            // The whole group: the browser's renderer and GPU processes too.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = stdout.join().expect("stdout reader");
    let err = String::from_utf8_lossy(&stderr.join().expect("stderr reader")).into_owned();
    let Some(status) = status else {
        panic!("chromium did not finish {url} within {limit:?}: {err}");
    };
    assert!(status.success(), "chromium failed on {url}: {err}");
    String::from_utf8(out).expect("utf-8 DOM")
}

/// The text of the harness's `<pre id=...>`, entities decoded as far as JSON and HTML need.
pub fn pre(dom: &str, id: &str) -> String {
    dom.split(&format!("<pre id=\"{id}\">"))
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("no #{id} in the harness DOM:\n{dom}"))
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// What axe found on one page.
#[derive(Debug)]
pub struct Axe {
    /// The path the iframe ended on, and its query (`?...` or empty).
    pub url: String,
    pub search: String,
    /// Whether the page saw the dark colour scheme.
    pub dark: bool,
    pub violations: Vec<Value>,
    /// The ids of the rules that passed.
    pub passes: Vec<String>,
    /// How often the iframe loaded (a pending page reloads itself).
    pub loads: u32,
    /// Every URL the iframe loaded, in order.
    pub trail: Vec<String>,
    /// The page's HTML as the browser had it when axe started.
    pub html: String,
}

impl Axe {
    /// Whether the page had a meta refresh when axe judged it.
    pub fn refreshes(&self) -> bool {
        self.html.contains("http-equiv=\"refresh\"")
    }
}

/// Loads `{origin}/harness.html?{query}` in Chromium (see [`HARNESS`] for the query) and reads
/// what axe found; fails with the DOM when axe did not report within the budget.
pub fn run_harness(
    origin: &str,
    query: &str,
    budget_ms: u32,
    extra: &[&str],
    limit: Duration,
) -> Axe {
    let dom = dump_dom(
        &format!("{origin}/harness.html?{query}"),
        budget_ms,
        extra,
        limit,
    );
    let out = pre(&dom, "out");
    let loads = pre(&dom, "loads").parse().expect("load count");
    let trail: Vec<String> = pre(&dom, "trail").lines().map(str::to_owned).collect();
    let json: Value = serde_json::from_str(&out).unwrap_or_else(|e| {
        panic!("axe did not report for {query} ({e}): {out}; the iframe loaded {trail:?}")
    });
    let text = |key: &str| json[key].as_str().unwrap_or_default().to_owned();
    Axe {
        url: text("url"),
        search: text("search"),
        dark: json["dark"].as_bool().unwrap_or_default(),
        violations: json["violations"].as_array().cloned().unwrap_or_default(),
        passes: json["passes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect(),
        loads,
        trail,
        html: pre(&dom, "html"),
    }
}

/// Prints every violation; returns the serious and critical ones, except axe's `meta-refresh`
/// (WCAG 2.2.1) when `pending` (a pending page's reload, which it offers to stop).
pub fn grave(page: &str, violations: &[Value], pending: bool) -> Vec<String> {
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
