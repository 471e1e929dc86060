//! `manifesto site`: snapshots of the output, escaping of everything a pull request can put in
//! a signatory file, honesty of the 2014 signatures, the CLI.

use std::path::Path;

use assert_cmd::Command;
use xmpp_manifesto::site::{DomainStatus, Results, SiteOptions, build_site, render_badge};

use crate::support::site as fixtures;

fn build(results: &Results) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("tempdir");
    build_site(
        &fixtures::registry(),
        results,
        out.path(),
        &SiteOptions::default(),
    )
    .expect("site builds");
    out
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn snapshots() {
    let out = build(&fixtures::results());
    let dir = out.path();
    insta::assert_snapshot!("index.html", read(dir, "index.html"));
    insta::assert_snapshot!(
        "domain-verified.html",
        read(dir, "domains/xmpp.good.net.html")
    );
    insta::assert_snapshot!("domain-failing.html", read(dir, "domains/bad.org.html"));
    insta::assert_snapshot!(
        "domain-unverified-2014.html",
        read(dir, "domains/jabber.org.html")
    );
    insta::assert_snapshot!("signatories.json", read(dir, "signatories.json"));
    insta::assert_snapshot!("feed.atom", read(dir, "feed.atom"));
    insta::assert_snapshot!("badge-verified.svg", read(dir, "badges/xmpp.good.net.svg"));
}

#[test]
fn badges_have_three_states() {
    for (status, text) in [
        (DomainStatus::Verified, "verified"),
        (DomainStatus::Failing, "failing"),
        (DomainStatus::Unverified, "unverified"),
        (DomainStatus::Inconclusive, "unverified"),
    ] {
        let svg = render_badge("a.org", status).expect("badge");
        assert!(svg.contains(&format!(">{text}</text>")), "{svg}");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    }
}

/// Every file of the site, as text.
fn all_files(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).expect("utf-8");
                files.push((path.display().to_string(), text));
            }
        }
    }
    files
}

#[test]
fn markup_from_a_pull_request_renders_as_text() {
    let out = build(&fixtures::results());
    let index = read(out.path(), "index.html");
    // The names appear, escaped.
    assert!(
        index.contains("&#60;img src=x onerror=alert(1)&#62;"),
        "{index}"
    );
    assert!(index.contains("](javascript:alert(1))"));
    for (path, text) in all_files(out.path()) {
        if path.ends_with(".js") || path.ends_with(".json") {
            continue;
        }
        for needle in [
            "<img src=x",
            "<script>alert",
            "href=\"javascript:",
            "href='javascript:",
            "<b>in the clear</b>",
            "\" onmouseover=\"alert",
        ] {
            assert!(!text.contains(needle), "{path} contains {needle:?}");
        }
        // The only scripts are ours.
        if path.ends_with(".html") {
            let scripts: Vec<&str> = text
                .match_indices("<script")
                .map(|(i, _)| &text[i..])
                .collect();
            assert!(scripts.len() <= 1, "{path}");
            for s in scripts {
                assert!(
                    s.starts_with("<script src=\"site.js\" defer></script>"),
                    "{path}"
                );
            }
            // No third-party requests: every src/href is relative, https to a link target, or mailto.
            assert!(!text.contains("src=\"http"), "{path}");
            assert!(!text.contains("src=\"//"), "{path}");
        }
    }
    // JSON carries the text as data, correctly quoted.
    let json: serde_json::Value =
        serde_json::from_str(&read(out.path(), "signatories.json")).expect("json");
    let names: Vec<&str> = json["signatories"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(names.contains(&fixtures::XSS_NAME));
    assert!(names.contains(&fixtures::XSS_LINK));
}

#[test]
fn signatures_of_2014_are_shown_honestly() {
    let out = build(&Results::default());
    let index = read(out.path(), "index.html");
    let row_start = index.find("<tr id=\"jabber.org\"").expect("row");
    let row = &index[row_start
        ..index[row_start..]
            .find("</tr>")
            .map_or(index.len(), |e| row_start + e)];
    assert!(row.contains(">2014</span>"), "{row}");
    assert!(row.contains("on or before 2014-03-26"), "{row}");
    assert!(row.contains(">not verified</span>"), "{row}");
    assert!(!row.contains(">verified</span>"), "{row}");
    // Without results nothing is verified.
    assert!(!index.contains("s-verified"), "{index}");
    let page = read(out.path(), "domains/jabber.org.html");
    assert!(page.contains("Not verified yet"));
    assert!(page.contains("not what the service does today"));
    let badge = read(out.path(), "badges/jabber.org.svg");
    assert!(badge.contains(">unverified</text>"));
    let json: serde_json::Value =
        serde_json::from_str(&read(out.path(), "signatories.json")).expect("json");
    let peter = json["signatories"]
        .as_array()
        .expect("array")
        .iter()
        .find(|s| s["slug"] == "jabber.org")
        .expect("jabber.org");
    assert_eq!(peter["signed_precision"], "on-or-before");
    assert_eq!(peter["domains"][0]["status"], "unverified");
}

/// A pass over IPv4 alone (the checker had no IPv6 route) is "verified (IPv4 only)", and the
/// domain page says what the check could not see.
#[test]
fn a_pass_over_one_family_says_so() {
    use xmpp_manifesto::report::{Coverage, CoverageStatus, FamilyCoverage, IpFamily, NotChecked};
    let summary = "checked over IPv4 only: a lax IPv6 endpoint could not be seen from here \
                   (1 IPv6 endpoint not checked: this checker has no IPv6 route)";
    let mut results = fixtures::results();
    let report = results
        .latest
        .get_mut("xmpp.good.net")
        .expect("xmpp.good.net");
    report.coverage = Some(Coverage {
        status: CoverageStatus::Partial,
        summary: summary.into(),
        families: vec![
            FamilyCoverage {
                family: IpFamily::Ipv4,
                checked: 1,
                not_checked: 0,
                reasons: vec![],
            },
            FamilyCoverage {
                family: IpFamily::Ipv6,
                checked: 0,
                not_checked: 1,
                reasons: vec!["this checker has no IPv6 route".into()],
            },
        ],
        not_checked: vec![NotChecked {
            endpoint: "c2s starttls xmpp.example:5222 ([2a01:4f8::1])".into(),
            reason: "this checker has no IPv6 route".into(),
        }],
    });
    let out = build(&results);
    let dir = out.path();
    let verified_v4 = "verified (IPv4 only) since <time datetime=\"2025-01-15\">";
    let page = read(dir, "domains/xmpp.good.net.html");
    assert!(page.contains(verified_v4), "{page}");
    assert!(
        page.contains(&format!("<dt>Coverage</dt><dd>{summary}</dd>")),
        "{page}"
    );
    let index = read(dir, "index.html");
    assert!(index.contains(verified_v4), "{index}");
    // The other verified domain was seen whole (its report predates coverage: no claim).
    let good = read(dir, "domains/good.net.html");
    assert!(good.contains("verified since <time"), "{good}");
    assert!(!good.contains("<dt>Coverage</dt>"), "{good}");
    let json: serde_json::Value =
        serde_json::from_str(&read(dir, "signatories.json")).expect("json");
    let lifecycles: Vec<&serde_json::Value> = json["signatories"]
        .as_array()
        .expect("signatories")
        .iter()
        .flat_map(|s| s["domains"].as_array().expect("domains"))
        .filter(|d| d["domain"] == "xmpp.good.net")
        .map(|d| &d["lifecycle"])
        .collect();
    assert_eq!(
        lifecycles[0]["coverage"],
        serde_json::json!({"status": "partial", "only": "ipv4"})
    );
}

#[test]
fn results_directory_is_read() {
    let results = fixtures::results_dir();
    let loaded = Results::load(results.path()).expect("results");
    assert_eq!(loaded.latest.len(), 3);
    assert!(loaded.skipped.is_empty());
    std::fs::write(results.path().join("broken.json"), "{").expect("write");
    let loaded = Results::load(results.path()).expect("results");
    assert_eq!(loaded.skipped.len(), 1);
}

#[test]
fn cli_builds_the_imported_register() {
    let out = tempfile::tempdir().expect("tempdir");
    let results = fixtures::results_dir();
    Command::cargo_bin("manifesto")
        .expect("binary")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["site", "--out"])
        .arg(out.path())
        .arg("--results")
        .arg(results.path())
        .assert()
        .code(0);
    let index = read(out.path(), "index.html");
    assert_eq!(index.matches("<tr id=").count(), 75);
    for file in [
        "signatories.json",
        "feed.atom",
        "style.css",
        "site.js",
        "badges/jabber.org.svg",
    ] {
        assert!(out.path().join(file).is_file(), "{file}");
    }
    // The Atom feed is well-formed XML.
    let feed = read(out.path(), "feed.atom");
    let mut reader = quick_xml::Reader::from_str(&feed);
    let mut entries = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) if e.name().as_ref() == b"entry" => entries += 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("feed.atom: {e}"),
        }
    }
    assert_eq!(entries, 75);
}

#[test]
fn cli_refuses_an_invalid_register() {
    let registry = tempfile::tempdir().expect("tempdir");
    std::fs::write(registry.path().join("x.toml"), "name = 1\n").expect("write");
    let out = tempfile::tempdir().expect("tempdir");
    Command::cargo_bin("manifesto")
        .expect("binary")
        .args(["site", "--registry"])
        .arg(registry.path())
        .arg("--out")
        .arg(out.path())
        .assert()
        .code(1);
    assert!(!out.path().join("index.html").exists());
}

#[test]
fn unvalidated_input_is_refused_or_neutralised() {
    let mut reg = fixtures::registry();
    reg.signatories[0].website = Some("javascript:alert(1)".into());
    let out = tempfile::tempdir().expect("tempdir");
    build_site(
        &reg,
        &Results::default(),
        out.path(),
        &SiteOptions::default(),
    )
    .expect("build");
    for (path, text) in all_files(out.path()) {
        if path.ends_with(".html") {
            assert!(!text.contains("javascript:alert(1)\""), "{path}");
        }
    }
    reg.signatories[0].domains = vec!["../../etc/x".into()];
    let out = tempfile::tempdir().expect("tempdir");
    assert!(
        build_site(
            &reg,
            &Results::default(),
            out.path(),
            &SiteOptions::default()
        )
        .is_err()
    );
}
