//! The built page in Debian's headless Chromium: all rows are there, the search box filters
//! (from `?q=` on load, and by typing), the column headers sort.
//!
//! Needs `chromium` (scripts/install-test-deps.sh installs it); without it this test FAILS.
//! `CHROMIUM=/path/to/chromium` picks another binary.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use xmpp_manifesto::register::registry;
use xmpp_manifesto::site::{Results, SiteOptions, build_site};

use crate::support::browser::chromium;

/// Serves `root` over HTTP on 127.0.0.1 (same origin for the typing harness's iframe).
fn serve(root: PathBuf) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).map_or(true, |n| n == 0) || line == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let path = path.split(['?', '#']).next().unwrap_or("/");
            let rel = path.trim_start_matches('/');
            let rel = if rel.is_empty() { "index.html" } else { rel };
            let file = root.join(rel);
            let (status, body, kind) = if !rel.contains("..") && file.is_file() {
                let kind = match file.extension().and_then(|e| e.to_str()) {
                    Some("html") => "text/html; charset=utf-8",
                    Some("css") => "text/css",
                    Some("js") => "text/javascript",
                    Some("svg") => "image/svg+xml",
                    Some("json") => "application/json",
                    _ => "application/octet-stream",
                };
                ("200 OK", std::fs::read(&file).expect("read"), kind)
            } else {
                ("404 Not Found", b"not found".to_vec(), "text/plain")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    port
}

fn dump_dom(url: &str, profile: &Path) -> String {
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
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
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

/// (all rows, visible rows) of the signatory table in a dumped DOM.
fn rows(dom: &str) -> (usize, usize) {
    let body = dom
        .split("<tbody>")
        .nth(1)
        .and_then(|b| b.split("</tbody>").next())
        .expect("a tbody in the signatory table");
    let tags: Vec<&str> = body
        .match_indices("<tr ")
        .map(|(i, _)| &body[i..i + body[i..].find('>').unwrap_or(0)])
        .collect();
    let visible = tags.iter().filter(|t| !t.contains(" hidden")).count();
    (tags.len(), visible)
}

const HARNESS: &str = r##"<!doctype html>
<meta charset="utf-8">
<title>typing harness</title>
<iframe id="f" src="index.html" style="width:1200px;height:800px"></iframe>
<pre id="out">pending</pre>
<script>
var f = document.getElementById("f");
f.addEventListener("load", function () {
  var d = f.contentDocument;
  var input = d.getElementById("q");
  function visible() {
    var n = 0;
    d.querySelectorAll("#signatories tbody tr").forEach(function (r) { if (!r.hidden) { n++; } });
    return n;
  }
  function first() { return d.querySelector("#signatories tbody tr:not([hidden])").id; }
  var report = [];
  report.push("formHidden=" + d.getElementById("search").hidden);
  input.focus();
  input.value = "prosody";
  input.dispatchEvent(new Event("input", { bubbles: true }));
  report.push("typed=" + visible());
  report.push("shown=" + d.getElementById("shown").textContent);
  input.value = "";
  input.dispatchEvent(new Event("input", { bubbles: true }));
  report.push("cleared=" + visible());
  var name = d.querySelector("#signatories thead th button");
  name.click();
  report.push("asc=" + first() + " sort=" + name.parentNode.getAttribute("aria-sort"));
  name.click();
  report.push("desc=" + first() + " sort=" + name.parentNode.getAttribute("aria-sort"));
  document.getElementById("out").textContent = report.join("\n");
});
</script>
"##;

#[test]
fn page_in_headless_chromium() {
    let chromium = chromium();
    assert!(chromium.exists() || chromium.components().count() == 1);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let reg = registry::load_dir(&root.join("signatories"), registry::today_utc())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let site = tempfile::tempdir().expect("tempdir");
    build_site(
        &reg,
        &Results::default(),
        site.path(),
        &SiteOptions::default(),
    )
    .expect("build");
    std::fs::write(site.path().join("typing-harness.html"), HARNESS).expect("harness");
    let profile = tempfile::tempdir().expect("profile");
    let total = reg.signatories.len();
    assert_eq!(total, 75);

    // Straight from the file system: the full table, the search box shown by the script.
    let index = site.path().join("index.html");
    let dom = dump_dom(&format!("file://{}", index.display()), profile.path());
    assert_eq!(rows(&dom), (total, total));
    assert!(
        dom.contains(&format!("data-visible=\"{total}\"")),
        "script did not run"
    );
    assert!(!dom.contains(
        "id=\"search\" class=\"search\" role=\"search\" action=\"index.html\" method=\"get\" hidden"
    ));

    // ?q= applied on load.
    let dom = dump_dom(
        &format!("file://{}?q=prosody", index.display()),
        profile.path(),
    );
    assert_eq!(rows(&dom), (total, 2), "filtering on ?q=prosody");
    assert!(dom.contains("2 of 75 signatories match"), "live count");
    let dom = dump_dom(
        &format!("file://{}?q=JABBER.ORG%20peter", index.display()),
        profile.path(),
    );
    assert_eq!(
        rows(&dom),
        (total, 1),
        "terms are combined, case-insensitively"
    );

    // Typing, sorting: a same-origin harness over HTTP drives the page.
    let port = serve(site.path().to_path_buf());
    std::thread::sleep(Duration::from_millis(50));
    let dom = dump_dom(
        &format!("http://127.0.0.1:{port}/typing-harness.html"),
        profile.path(),
    );
    let out = dom
        .split("<pre id=\"out\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .expect("harness output");
    let mut names: Vec<(String, String)> = reg
        .signatories
        .iter()
        .map(|s| (s.name.to_lowercase(), s.slug.clone()))
        .collect();
    names.sort();
    let (first, last) = (&names[0].1, &names[names.len() - 1].1);
    let expected = format!(
        "formHidden=false\ntyped=2\nshown=2 of 75 signatories match “prosody”\ncleared=75\n\
         asc={first} sort=ascending\ndesc={last} sort=descending"
    );
    assert_eq!(out, expected);
}
