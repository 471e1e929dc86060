//! The command line: exit codes, usage errors, and every output format (snapshots of reports
//! recorded from a real Prosody: `report-fail.json`, a failing check, and
//! `report-advisories.json`, a passing one with every advisory and the posture probes).

use crate::support::cli::manifesto;
use xmpp_manifesto::output::{Format, formatter};
use xmpp_manifesto::report::Report;

/// A report under tests/fixtures/.
fn recorded(name: &str) -> Report {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not report-v1: {e}"))
}

/// A failing check (self-signed certificate, optional s2s TLS); no advisories.
fn fixture() -> Report {
    recorded("report-fail.json")
}

/// A passing check of Prosody 0.12 restricted to TLS 1.2 and accepting a static-RSA suite, with
/// an RSA certificate expiring in 10 days, in a DNSSEC-signed zone with one matching and one
/// stale TLSA record: every advisory (dnssec, dane info and warn, certificate-expires-soon,
/// tls13-not-offered), a `warn` requirement, and nine posture probes per endpoint.
fn advisories_fixture() -> Report {
    recorded("report-advisories.json")
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
    for report in [advisories_fixture(), fixture()] {
        assert_eq!(report.schema, "xmpp-manifesto/report-v1");
        let rendered = formatter(Format::Json, false).render(std::slice::from_ref(&report));
        let again: Report = serde_json::from_str(&rendered).unwrap();
        assert_eq!(again, report);
    }
    let report = fixture();
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

/// What the advisories fixture is there for; its snapshots must keep showing all of it.
#[test]
fn advisories_fixture_covers_every_advisory_and_the_posture() {
    let report = advisories_fixture();
    let mut ids: Vec<(&str, String)> = report
        .advisories
        .iter()
        .map(|a| (a.id.as_str(), format!("{:?}", a.level)))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            ("certificate-expires-soon", "Warn".to_string()),
            ("dane", "Info".to_string()),
            ("dane", "Warn".to_string()),
            ("dnssec", "Info".to_string()),
            ("tls13-not-offered", "Info".to_string()),
        ]
    );
    assert!(report.advisories.iter().any(|a| a.fix.is_some()));
    assert!(report.endpoints.iter().all(|e| e.posture.len() == 9));
    assert!(
        report
            .requirements
            .values()
            .any(|r| r.status == xmpp_manifesto::report::Status::Warn)
    );
}

#[test]
fn text_advisories_snapshot() {
    insta::assert_snapshot!(formatter(Format::Text, false).render(&[advisories_fixture()]));
}

#[test]
fn markdown_advisories_snapshot() {
    insta::assert_snapshot!(formatter(Format::Markdown, false).render(&[advisories_fixture()]));
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
