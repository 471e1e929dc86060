//! The command line: exit codes, usage errors, and every output format (snapshots of a report
//! recorded from a real Prosody).

use crate::support::cli::manifesto;
use xmpp_manifesto::output::{Format, formatter};
use xmpp_manifesto::report::Report;

fn fixture() -> Report {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/report-fail.json"
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("fixture parses as report-v1")
}

#[test]
fn help_and_version_exit_zero() {
    let out = manifesto().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("check"));
    let out = manifesto().args(["check", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0));
    for option in [
        "--resolver",
        "--ca-file",
        "--allow-private",
        "--timeout",
        "--s2s-from",
        "--format",
    ] {
        assert!(help.contains(option), "{option} missing from help:\n{help}");
    }
    let out = manifesto().arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn usage_errors_exit_two() {
    for args in [
        vec!["check"],
        vec!["check", "1.2.3.4"],
        vec!["check", "[::1]"],
        vec!["check", "bad domain.example"],
        vec!["check", "example.org", "--timeout", "0"],
        vec!["check", "example.org", "--format", "yaml"],
        vec!["check", "example.org", "--resolver", "not-an-ip"],
        vec!["check", "example.org", "--ca-file", "/nonexistent/ca.pem"],
        vec!["frobnicate"],
    ] {
        let out = manifesto().args(&args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty(), "{args:?} printed no error");
    }
}

#[test]
fn json_round_trips_the_schema() {
    let report = fixture();
    assert_eq!(report.schema, "xmpp-manifesto/report-v1");
    let rendered = formatter(Format::Json, false).render(std::slice::from_ref(&report));
    let again: Report = serde_json::from_str(&rendered).unwrap();
    assert_eq!(again, report);
    // Several domains: an array of reports.
    let two = formatter(Format::Json, false).render(&[report.clone(), report]);
    let array: serde_json::Value = serde_json::from_str(&two).unwrap();
    assert_eq!(array.as_array().map(Vec::len), Some(2));
}

#[test]
fn text_snapshot() {
    insta::assert_snapshot!(formatter(Format::Text, false).render(&[fixture()]));
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(formatter(Format::Markdown, false).render(&[fixture()]));
}

#[test]
fn text_colour_only_when_asked() {
    let plain = formatter(Format::Text, false).render(&[fixture()]);
    assert!(!plain.contains('\x1b'));
    let coloured = formatter(Format::Text, true).render(&[fixture()]);
    assert!(coloured.contains("\x1b[31;1m"));
}

/// Server-controlled strings must render inert in every format.
#[test]
fn hostile_strings_render_inert() {
    let mut report = fixture();
    let hostile = "<script>alert(1)</script> @org/team ](javascript:alert(1)) `x` \x1b[31m |";
    report.endpoints[0].error = Some(hostile.into());
    report.endpoints[0].host = hostile.into();
    for req in report.requirements.values_mut() {
        req.summary = hostile.into();
        req.evidence.push(hostile.into());
    }
    let md = formatter(Format::Markdown, false).render(std::slice::from_ref(&report));
    assert!(!md.contains("<script"), "{md}");
    assert!(!md.contains("@org"), "{md}");
    assert!(!md.contains("](javascript"), "{md}");
    assert!(!md.contains('\x1b'));
    let text = formatter(Format::Text, false).render(std::slice::from_ref(&report));
    assert!(
        !text.contains('\x1b'),
        "terminal escapes must not pass through"
    );
    let json = formatter(Format::Json, false).render(std::slice::from_ref(&report));
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back.endpoints[0].host, hostile);
}
