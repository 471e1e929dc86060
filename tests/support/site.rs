//! Fixtures of the site tests: a small register and a results directory.

use std::path::PathBuf;

use time::macros::date;
use xmpp_manifesto::register::registry::{Registry, Role, Signatory};
use xmpp_manifesto::report::Report;
use xmpp_manifesto::site::Results;

pub const XSS_NAME: &str = "<img src=x onerror=alert(1)>";
pub const XSS_LINK: &str = "](javascript:alert(1))";

fn signatory(slug: &str, name: &str, role: Role, domains: &[&str]) -> Signatory {
    Signatory {
        slug: slug.into(),
        path: PathBuf::from(format!("signatories/{slug}.toml")),
        name: name.into(),
        role,
        domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        statement: format!("Statement of {name}"),
        signed: date!(2024 - 05 - 01),
        website: None,
        contact: None,
        github: Some("someone".into()),
        source: None,
    }
}

/// Five signatories: verified, failing, unverified (imported 2014), an IDN operator, and
/// developers whose name and statement try to inject markup.
pub fn registry() -> Registry {
    let mut verified = signatory(
        "xmpp.good.net",
        "Good Operator",
        Role::Operator,
        &["xmpp.good.net", "good.net"],
    );
    verified.website = Some("https://good.net/".into());
    verified.signed = date!(2024 - 09 - 30);
    let failing = signatory("bad.org", "Bad & Sons", Role::Operator, &["bad.org"]);
    let mut imported = signatory(
        "jabber.org",
        "Peter Saint-Andre",
        Role::Operator,
        &["jabber.org"],
    );
    imported.github = None;
    imported.source = Some("stpeter/manifesto manifesto.txt v0.5 (2014)".into());
    imported.signed = date!(2014 - 03 - 26);
    imported.statement = "operator of jabber.org and author of XMPP RFCs".into();
    let idn = signatory(
        "xn--bcher-kva.de",
        "Bücher Chat",
        Role::Operator,
        &["xn--bcher-kva.de"],
    );
    let mut xss = signatory("img-src-x-onerror-alert-1", XSS_NAME, Role::Developer, &[]);
    xss.statement = "<script>alert(\"x\")</script>".into();
    xss.signed = date!(2024 - 10 - 02);
    let mut md = signatory("javascript-alert-1", XSS_LINK, Role::Developer, &[]);
    md.statement = "[click](javascript:alert(1)) \" onmouseover=\"alert(1)".into();
    md.signed = date!(2024 - 10 - 01);
    let mut signatories = vec![verified, failing, imported, idn, xss, md];
    signatories.sort_by(|a, b| a.slug.cmp(&b.slug));
    Registry { signatories }
}

fn report_json(domain: &str, verdict: &str, status: &str) -> serde_json::Value {
    serde_json::json!({
        "schema": "xmpp-manifesto/report-v1",
        "domain": domain,
        "verdict": verdict,
        "checked_at": "2025-01-15T08:30:00Z",
        "tool_version": "0.1.0",
        "duration_ms": 2345,
        "requirements": {
            "c2s-tls-required": {
                "status": status,
                "summary": if status == "pass" { "Clients must use TLS." } else { "Clients may log in without TLS <b>in the clear</b>." },
                "basis": "verified",
                "fix": if status == "pass" { serde_json::Value::Null } else { serde_json::json!("Set c2s_require_encryption = true in prosody.cfg.lua") },
                "evidence": ["c2s starttls xmpp.example:5222 (192.0.2.1): SASL before TLS <success/>"]
            },
            "trusted-certificate": {
                "status": "pass",
                "summary": "The certificate is valid for the domain.",
                "evidence": []
            }
        },
        "advisories": [
            {"id": "dnssec", "level": "info", "summary": "The zone is not signed.", "evidence": []}
        ],
        "discovery": [
            {"name": format!("_xmpp-client._tcp.{domain}"), "service": "c2s", "mode": "starttls",
             "outcome": "found", "records": ["5 0 5222 xmpp.example."]}
        ],
        "endpoints": [
            {"service": "c2s", "mode": "starttls", "source": "srv", "host": "xmpp.example",
             "port": 5222, "address": "192.0.2.1",
             "tls": {"version": "TLSv1.3", "cipher_suite": "TLS13_AES_256_GCM_SHA384",
                     "forward_secret": true, "handshake_ms": 40},
             "certificate": {"chain_trusted": true, "name_match": "DNS-ID", "expired": false,
                             "not_yet_valid": false,
                             "chain": [{"subject": "CN=xmpp.example", "issuer": "CN=Test CA",
                                        "not_before": "2025-01-01", "not_after": "2025-04-01",
                                        "key": "EC P-256", "sha256": "00"}]},
             "probes": [{"kind": "sasl", "outcome": if status == "pass" { "enforced" } else { "not-enforced" },
                         "sent": "<auth/>", "received": "<failure/>", "detail": "", "duration_ms": 3}],
             "duration_ms": 120}
        ]
    })
}

/// Reports: `xmpp.good.net` passes, `bad.org` fails; the rest were never checked.
pub fn results() -> Results {
    let mut results = Results::default();
    for (domain, verdict, status) in [
        ("xmpp.good.net", "pass", "pass"),
        ("good.net", "pass", "pass"),
        ("bad.org", "fail", "fail"),
    ] {
        let report: Report =
            serde_json::from_value(report_json(domain, verdict, status)).expect("report");
        results.insert(report);
    }
    results
}

/// Writes the reports of [`results`] as a results directory (one `<domain>.json` each).
pub fn results_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (domain, report) in &results().latest {
        let text = serde_json::to_string_pretty(report).expect("json");
        std::fs::write(dir.path().join(format!("{domain}.json")), text).expect("write");
    }
    dir
}
