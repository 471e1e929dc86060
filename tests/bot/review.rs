//! `manifesto review` on temporary git repositories: which files a PR adds, modifies, renames
//! or deletes; files outside `signatories/`; invalid TOML with file:line; domain control and the
//! checks of real Prosody servers behind in-process DNS; hostile strings render inert.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use xmpp_manifesto::bot::github::{MAX_BODY_CHARS, REVIEW_MARKER, verdict_marker};
use xmpp_manifesto::bot::review::{
    Authorship, AuthorshipOutcome, Change, ChangeKind, DomainReview, FileProblem, FileReview,
    ReviewReport, SCHEMA, UncheckedDomain, render_comment,
};
use xmpp_manifesto::output::markdown::escape;
use xmpp_manifesto::report::{
    Advisory, AdvisoryLevel, Coverage, CoverageStatus, NotChecked, Report, Requirement,
    RequirementId, SCHEMA as REPORT_SCHEMA, Status, Verdict,
};

use crate::support::cli::manifesto;
use crate::support::dns::Zone;
use crate::support::git::{Repo, ReviewRun, developer, imported, operator, review};
use crate::support::pki::Pki;
use crate::support::prosody::Prosody;
use crate::support::scenario::Scenario;

/// A base registry of one operator, two developers and a 2014 import (no `github`),
/// committed on `main`; then branch `pr`.
fn base_repo() -> (Repo, String) {
    let repo = Repo::new();
    repo.write(
        "signatories/alpha.net.toml",
        &operator("Alpha", &["alpha.net"], "alice"),
    );
    repo.write("signatories/jane-doe.toml", &developer("Jane Doe", "jane"));
    repo.write("signatories/john-roe.toml", &developer("John Roe", "john"));
    repo.write("signatories/adam-brault.toml", &imported("Adam Brault"));
    repo.write("README.md", "registry\n");
    let base = repo.commit("base registry");
    repo.branch("pr");
    (repo, base)
}

/// Review with an empty DNS zone (no domain resolves) and short timeouts.
async fn review_offline(repo: &Repo, base: &str, extra: &[&str]) -> ReviewRun {
    review_offline_with(repo, base, extra, manifesto()).await
}

async fn review_offline_with(
    repo: &Repo,
    base: &str,
    extra: &[&str],
    cmd: std::process::Command,
) -> ReviewRun {
    review_in_zone(repo, base, extra, cmd, Zone::new()).await
}

async fn review_in_zone(
    repo: &Repo,
    base: &str,
    extra: &[&str],
    cmd: std::process::Command,
    zone: Zone,
) -> ReviewRun {
    let s = Scenario::new().serve_zone(|_, _| zone).await;
    let mut args = s.network_args();
    args.extend(["--timeout".into(), "2".into()]);
    args.extend(extra.iter().map(Into::into));
    tokio::task::block_in_place(|| review(cmd, repo, base, &args))
}

#[tokio::test(flavor = "multi_thread")]
async fn add_modify_rename_delete() {
    let (repo, base) = base_repo();
    repo.write(
        "signatories/ada-lovelace.toml",
        &developer("Ada Lovelace", "ada"),
    );
    repo.write(
        "signatories/jane-doe.toml",
        &developer("Jane Doe", "jane").replace("I support it.", "I still support it."),
    );
    repo.rename("signatories/john-roe.toml", "signatories/john-roe-2.toml");
    repo.remove("signatories/alpha.net.toml");
    repo.commit("the PR");

    let run = review_offline(&repo, &base, &["--author", "ada"]).await;
    assert_eq!(run.json["schema"], SCHEMA, "{}", run.dump());
    // ada's own file; the three others are other signers' entries (see the authorship tests).
    for (path, outcome) in [
        ("signatories/ada-lovelace.toml", "own"),
        ("signatories/jane-doe.toml", "others-entry"),
        ("signatories/john-roe-2.toml", "others-entry"),
        ("signatories/alpha.net.toml", "others-entry"),
    ] {
        assert_eq!(authorship(&run, path), outcome, "{path}: {}", run.dump());
    }
    assert_eq!(
        run.file("signatories/ada-lovelace.toml")["change"]["kind"],
        "added"
    );
    assert_eq!(
        run.file("signatories/jane-doe.toml")["change"]["kind"],
        "modified"
    );
    let renamed = run.file("signatories/john-roe-2.toml");
    assert_eq!(renamed["change"]["kind"], "renamed");
    assert_eq!(renamed["change"]["from"], "signatories/john-roe.toml");
    assert_eq!(
        run.file("signatories/alpha.net.toml")["change"]["kind"],
        "deleted"
    );
    for f in run.json["files"].as_array().unwrap() {
        assert_eq!(f["problems"], serde_json::json!([]), "{}", run.dump());
    }
    assert_eq!(run.json["other_files"], serde_json::json!([]));
    assert_eq!(run.json["domains"], serde_json::json!([]));
    assert_eq!(run.json["verdict"], "fail", "{}", run.dump());
    assert_eq!(run.code, 1, "{}", run.dump());
    assert!(run.comment.starts_with(REVIEW_MARKER), "{}", run.comment);
    assert!(run.comment.contains(&verdict_marker(Verdict::Fail)));
    assert!(
        run.comment.contains("3 files not the author's own"),
        "{}",
        run.comment
    );
    assert!(
        run.comment
            .contains("renamed signatories/john\\-roe\\.toml → signatories/john\\-roe\\-2\\.toml"),
        "{}",
        run.comment
    );
    assert!(
        run.comment
            .contains("deleted signatories/alpha\\.net\\.toml"),
        "{}",
        run.comment
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_outside_signatories_are_reported() {
    let (repo, base) = base_repo();
    repo.write(
        "signatories/ada-lovelace.toml",
        &developer("Ada Lovelace", "ada"),
    );
    repo.write("README.md", "registry, edited\n");
    repo.write(".github/workflows/review.yml", "name: review\n");
    repo.write("signatories/notes.txt", "not a signatory file\n");
    repo.commit("the PR");

    let run = review_offline(&repo, &base, &[]).await;
    let others: Vec<&str> = run.json["other_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        others,
        [
            ".github/workflows/review.yml",
            "README.md",
            "signatories/notes.txt"
        ],
        "{}",
        run.dump()
    );
    assert_eq!(run.json["verdict"], "fail");
    assert_eq!(run.code, 1, "{}", run.dump());
    assert!(
        run.comment.contains("Changes outside `signatories/`"),
        "{}",
        run.comment
    );
    assert!(run.comment.contains("README\\.md"), "{}", run.comment);
    assert!(
        run.stdout
            .contains("::error file=README.md,title=manifesto review::"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_toml_is_reported_with_file_and_line() {
    let (repo, base) = base_repo();
    repo.write(
        "signatories/ada-lovelace.toml",
        "name = \"Ada Lovelace\"\nrole = \"developer\"\nstatement = \"unterminated\nsigned = 2024-05-01\n",
    );
    repo.commit("the PR");

    let run = review_offline(&repo, &base, &[]).await;
    let problems = run.file("signatories/ada-lovelace.toml")["problems"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!problems.is_empty(), "{}", run.dump());
    assert_eq!(problems[0]["line"], 3, "{}", run.dump());
    assert!(
        run.stdout
            .contains("::error file=signatories/ada-lovelace.toml,line=3,"),
        "{}",
        run.dump()
    );
    assert!(run.comment.contains("line 3, column"), "{}", run.comment);
    assert!(run.comment.contains(&verdict_marker(Verdict::Fail)));
    assert_eq!(run.code, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_domain_already_listed_elsewhere_is_an_error() {
    let (repo, base) = base_repo();
    repo.write(
        "signatories/beta.net.toml",
        &operator("Beta", &["beta.net", "alpha.net"], "bob"),
    );
    repo.commit("the PR");
    let run = review_offline(&repo, &base, &["--author", "bob"]).await;
    let problems = run.file("signatories/beta.net.toml")["problems"].to_string();
    assert!(problems.contains("alpha.net"), "{}", run.dump());
    assert!(
        problems.contains("signatories/alpha.net.toml"),
        "{}",
        run.dump()
    );
    assert_eq!(
        run.json["domains"],
        serde_json::json!([]),
        "no checks of an invalid file"
    );
    assert_eq!(run.code, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2() {
    let (repo, _base) = base_repo();
    let run = review_offline(&repo, "no-such-ref", &[]).await;
    assert_eq!(run.code, 2, "{}", run.dump());
    let run = review_offline(&repo, "--output=/tmp/x", &[]).await;
    assert_eq!(run.code, 2, "{}", run.dump());
    let (repo, base) = base_repo();
    let run = review_offline(&repo, &base, &["--author", "@org/team"]).await;
    assert_eq!(run.code, 2, "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_file_names_and_values_render_inert() {
    let (repo, base) = base_repo();
    let nasty = "<script>alert(1)</script> @org/team ](javascript:alert(1)) ``` `x`";
    repo.write(
        "signatories/[x](javascript:alert(1)) @org-team <img>.toml",
        &developer(nasty, "mallory"),
    );
    repo.write(&format!("{}.txt", "a".repeat(200)), "x");
    repo.write(
        "signatories/line\nbreak <b>.toml",
        &developer("Line Break", "mallory"),
    );
    repo.commit("the PR");
    let run = review_offline(&repo, &base, &["--author", "mallory"]).await;
    assert_eq!(run.code, 1, "{}", run.dump());
    let others = run.json["other_files"].to_string();
    assert!(
        others.contains("signatories/line\\nbreak <b>.toml"),
        "{}",
        run.dump()
    );
    assert_inert(&run.comment);
    assert!(run.stdout.contains("::error file="), "{}", run.dump());
}

/// No HTML, no mention, no link, no unescaped code span from outside data.
fn assert_inert(body: &str) {
    for bad in ["<script", "<img", "](javascript", "@org", "```", "`x`"] {
        assert!(!body.contains(bad), "{bad:?} in:\n{body}");
    }
    // The only HTML is ours.
    for (i, _) in body.match_indices('<') {
        let rest = &body[i..];
        assert!(
            [
                "<!-- xmpp-manifesto:",
                "<details>",
                "</details>",
                "<summary>",
                "</summary>",
                "<sub>",
                "</sub>"
            ]
            .iter()
            .any(|ok| rest.starts_with(ok)),
            "unexpected '<' at {i}: {}",
            &rest[..rest.len().min(40)]
        );
    }
}

fn requirement(status: Status, text: &str) -> Requirement {
    Requirement {
        status,
        summary: text.to_owned(),
        basis: None,
        fix: None,
        evidence: vec![text.to_owned(), text.to_owned()],
    }
}

/// A review whose every outside string is `text`.
fn hostile_review(text: &str, domains: usize) -> ReviewReport {
    let mut requirements = BTreeMap::new();
    for id in RequirementId::CHECK {
        requirements.insert(id, requirement(Status::Fail, text));
    }
    requirements.insert(
        RequirementId::DomainControl,
        requirement(Status::Pass, text),
    );
    let report = Report {
        schema: REPORT_SCHEMA.into(),
        domain: "hostile.net".into(),
        verdict: Verdict::Fail,
        checked_at: OffsetDateTime::now_utc(),
        tool_version: text.into(),
        duration_ms: 1,
        requirements,
        advisories: vec![Advisory {
            id: text.into(),
            level: AdvisoryLevel::Warn,
            summary: text.into(),
            fix: Some(text.into()),
            evidence: vec![text.into()],
        }],
        discovery: vec![],
        endpoints: vec![],
        software: None,
        coverage: Some(Coverage {
            status: CoverageStatus::Partial,
            summary: text.into(),
            families: vec![],
            not_checked: vec![NotChecked {
                endpoint: text.into(),
                reason: text.into(),
            }],
        }),
    };
    ReviewReport {
        schema: SCHEMA.into(),
        verdict: Verdict::Fail,
        base: "b".repeat(40),
        head: "c".repeat(40),
        author: Some("mallory".into()),
        notes: vec![text.into()],
        reviewed_at: OffsetDateTime::now_utc(),
        tool_version: "0.1.0".into(),
        files: vec![FileReview {
            change: Change {
                kind: ChangeKind::Added,
                path: format!("signatories/{text}.toml"),
                from: None,
                mode: Some("100644".into()),
            },
            problems: vec![FileProblem {
                line: 1,
                column: 1,
                message: text.into(),
                hint: text.into(),
            }],
            name: Some(text.into()),
            role: None,
            domains: vec![],
            github: None,
            authorship: Some(Authorship {
                outcome: AuthorshipOutcome::OthersEntry,
                owner: Some(text.into()),
                summary: text.into(),
            }),
        }],
        other_files: vec![Change {
            kind: ChangeKind::Modified,
            path: text.into(),
            from: None,
            mode: None,
        }],
        domains: (0..domains)
            .map(|i| DomainReview {
                domain: format!("d{i}.hostile.net"),
                file: text.into(),
                report: report.clone(),
            })
            .collect(),
        unchecked_domains: vec![UncheckedDomain {
            domain: text.into(),
            file: text.into(),
        }],
        problems: vec![text.into()],
    }
}

#[test]
fn hostile_server_strings_render_inert() {
    let text = "<script>alert(1)</script> @org/team [a](javascript:alert(1)) ](javascript:x) `x` ``` | # *b*";
    let body = render_comment(&hostile_review(text, 2)).unwrap();
    assert_inert(&body);
    assert!(body.contains("&lt;script\\>alert"), "{body}");
    assert!(body.contains("@\u{200D}org/team"), "{body}");
    assert!(body.contains("<details><summary>Evidence</summary>"));
}

#[test]
fn huge_fields_are_truncated_but_the_verdict_stays() {
    let field = "@org/team <script> `x` ".repeat(65_536 / 23 + 1);
    let field: String = field.chars().take(65_536).collect();
    assert_eq!(field.chars().count(), 65_536);
    for domains in [1, 40, 400] {
        let review = hostile_review(&field, domains);
        let body = render_comment(&review).unwrap();
        let chars = body.chars().count();
        assert!(
            chars <= MAX_BODY_CHARS,
            "{chars} characters with {domains} domains"
        );
        assert!(body.starts_with(REVIEW_MARKER));
        assert!(body.contains(&verdict_marker(Verdict::Fail)));
        assert!(
            body.contains("## xmpp-manifesto review: ❌ fail"),
            "{}",
            &body[..500]
        );
        assert_inert(&body);
        // The body goes through `manifesto comment` unchanged.
        assert_eq!(
            xmpp_manifesto::bot::github::prepare_body(&body).unwrap(),
            body
        );
    }
}

/// Two domains of one operator on one real Prosody: one proves domain control with a TXT record
/// naming the PR author, one has no record (the fix names the author).
#[tokio::test(flavor = "multi_thread")]
async fn domains_are_checked_against_prosody_with_domain_control() {
    let pki = Pki::new();
    let good = "good-operator.net";
    let bad = "no-txt-operator.net";
    let cert = pki.leaf(&[good, bad]);
    let host = "xmpp.good-operator.net";
    let s = Scenario::prosody(Prosody::builder().vhost(good).vhost(bad).cert(&cert))
        .await
        .trusting(&pki)
        .serve_zone(|zone, s| {
            let p = s.server();
            let mut zone = zone.ip(host, p.ip());
            for d in [good, bad] {
                zone = zone
                    .srv(&format!("_xmpp-client._tcp.{d}"), 5, 0, p.c2s_port(), host)
                    .srv(&format!("_xmpp-server._tcp.{d}"), 5, 0, p.s2s_port(), host);
            }
            // The author's login in a TXT record among others; case does not matter.
            zone.txt(&format!("_xmpp-manifesto.{good}"), "v=spf1 -all")
                .txt(&format!("_xmpp-manifesto.{good}"), "github=Carol")
        })
        .await;

    let (repo, base) = base_repo();
    repo.write(
        &format!("signatories/{good}.toml"),
        &operator("Good", &[good], "carol"),
    );
    repo.write(
        &format!("signatories/{bad}.toml"),
        &operator("Bad", &[bad], "carol"),
    );
    repo.commit("the PR");
    let mut args = s.network_args();
    args.extend(["--author", "carol", "--timeout", "5"].map(Into::into));
    let run = tokio::task::block_in_place(|| review(manifesto(), &repo, &base, &args));

    assert_eq!(
        run.requirement(good, "domain-control"),
        "pass",
        "{}",
        run.dump()
    );
    for id in [
        "c2s-tls-required",
        "s2s-tls-required",
        "trusted-certificate",
    ] {
        assert_eq!(run.requirement(good, id), "pass", "{id}: {}", run.dump());
    }
    assert_eq!(
        run.requirement(bad, "c2s-tls-required"),
        "pass",
        "{}",
        run.dump()
    );
    assert_eq!(
        run.requirement(bad, "domain-control"),
        "fail",
        "{}",
        run.dump()
    );
    let fix = run.domain(bad)["report"]["requirements"]["domain-control"]["fix"]
        .as_str()
        .unwrap();
    assert!(
        fix.contains("`_xmpp-manifesto.no-txt-operator.net. 3600 IN TXT \"github=carol\"`"),
        "{fix}"
    );
    assert!(
        run.comment.contains(fix),
        "the comment shows the record:\n{}",
        run.comment
    );
    // Every report says what it could see, and so does the comment.
    assert_eq!(
        run.domain(good)["report"]["coverage"]["status"],
        "full",
        "{}",
        run.dump()
    );
    assert!(
        run.comment
            .contains("\nCoverage: checked every endpoint found, over IPv4.\n"),
        "{}",
        run.comment
    );
    assert_eq!(run.json["verdict"], "fail");
    assert_eq!(run.code, 1, "{}", run.dump());
    assert!(
        run.comment
            .contains("`manifesto check no-txt-operator.net`"),
        "{}",
        run.comment
    );
    assert!(
        run.comment.contains("| `domain-control` | ✅ pass |"),
        "{}",
        run.comment
    );
    if std::env::var_os("SHOW_COMMENT").is_some() {
        println!("{}", run.comment);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn step_summary_gets_the_same_markdown() {
    let (repo, base) = base_repo();
    repo.write(
        "signatories/ada-lovelace.toml",
        &developer("Ada Lovelace", "ada"),
    );
    repo.commit("the PR");
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let mut cmd = manifesto();
    cmd.env("GITHUB_STEP_SUMMARY", &summary);
    let run = review_offline_with(&repo, &base, &["--author", "ada"], cmd).await;
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.json["author"], "ada");
    let written = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(written, format!("earlier step\n{}\n", run.comment));
}

#[tokio::test(flavor = "multi_thread")]
async fn domain_control_is_inconclusive_when_dns_fails() {
    let (repo, base) = base_repo();
    repo.write(
        "signatories/gamma.net.toml",
        &operator("Gamma", &["gamma.net"], "gina"),
    );
    repo.commit("the PR");
    let zone = Zone::new().servfail("_xmpp-manifesto.gamma.net");
    let run = review_in_zone(&repo, &base, &["--author", "gina"], manifesto(), zone).await;
    assert_eq!(
        run.requirement("gamma.net", "domain-control"),
        "inconclusive",
        "{}",
        run.dump()
    );
    // Nothing serves gamma.net in this zone: the domain serves no XMPP, which never passes
    // (issue 13), so the review needs work whatever domain control says.
    assert_eq!(
        run.json["domains"][0]["report"]["verdict"],
        "no-service",
        "{}",
        run.dump()
    );
    assert_eq!(run.json["verdict"], "fail", "{}", run.dump());
    assert_eq!(run.code, 1);
    assert!(run.comment.contains("serves no XMPP"), "{}", run.comment);
}

/// The files are read from the head commit, not from whatever is checked out.
#[tokio::test(flavor = "multi_thread")]
async fn head_is_read_from_git_not_the_work_tree() {
    let (repo, base) = base_repo();
    repo.write(
        "signatories/ada-lovelace.toml",
        "name = \"Ada Lovelace\"\nrole = \"developer\"\nbroken = [\n",
    );
    let head = repo.commit("the PR");
    repo.git(&["checkout", "-q", "main"]);
    // The work tree now holds the base; an untracked, valid file of the same name is ignored.
    repo.write(
        "signatories/ada-lovelace.toml",
        &developer("Ada Lovelace", "ada"),
    );
    let out = tempfile::tempdir().unwrap();
    let output = manifesto()
        .arg("review")
        .arg("--repo")
        .arg(repo.path())
        .args(["--base", &base, "--head", &head, "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("review.json")).unwrap())
            .unwrap();
    assert_eq!(json["head"], head.as_str());
    assert_eq!(
        json["files"][0]["change"]["path"],
        "signatories/ada-lovelace.toml"
    );
    assert_ne!(
        json["files"][0]["problems"],
        serde_json::json!([]),
        "{json:#}"
    );
    assert_eq!(output.status.code(), Some(1));
}

// Authorship (issue 13): a signature belongs to the person who made it. The PR's author must be
// the `github` of every file it adds, and of the base version of every file it modifies,
// renames or deletes; the domain-control record must name the PR's author.

/// The authorship outcome of the changed file `path` in review.json.
fn authorship<'a>(run: &'a ReviewRun, path: &str) -> &'a str {
    run.file(path)["authorship"]["outcome"]
        .as_str()
        .unwrap_or_else(|| panic!("no authorship for {path}: {}", run.dump()))
}

/// The signer's own changes pass: modify, rename and delete their own entry, add a new one;
/// logins compare case-insensitively.
#[tokio::test(flavor = "multi_thread")]
async fn own_entries_pass() {
    let (repo, base) = base_repo();
    type Edit = fn(&Repo);
    let cases: [(&str, &str, &str, Edit); 4] = [
        ("modify", "jane", "signatories/jane-doe.toml", |r| {
            r.write(
                "signatories/jane-doe.toml",
                &developer("Jane Doe", "jane").replace("I support it.", "I still do."),
            );
        }),
        ("rename", "John", "signatories/john-roe-2.toml", |r| {
            r.rename("signatories/john-roe.toml", "signatories/john-roe-2.toml");
        }),
        ("delete", "jane", "signatories/jane-doe.toml", |r| {
            r.remove("signatories/jane-doe.toml");
        }),
        ("add", "ADA", "signatories/ada-lovelace.toml", |r| {
            r.write(
                "signatories/ada-lovelace.toml",
                &developer("Ada Lovelace", "ada"),
            );
        }),
    ];
    for (case, author, path, edit) in cases {
        repo.new_pr(&base);
        edit(&repo);
        repo.commit(case);
        let run = review_offline(&repo, &base, &["--author", author]).await;
        assert_eq!(run.json["verdict"], "pass", "{case}: {}", run.dump());
        assert_eq!(run.code, 0, "{case}: {}", run.dump());
        assert_eq!(authorship(&run, path), "own", "{case}: {}", run.dump());
    }
}

/// Another signer's entry: mallory may not edit, rename or delete it, however valid the result.
#[tokio::test(flavor = "multi_thread")]
async fn others_entries_are_not_verified() {
    let (repo, base) = base_repo();
    type Edit = fn(&Repo);
    let cases: [(&str, &str, &str, Edit); 3] = [
        ("edit", "signatories/jane-doe.toml", "jane", |r| {
            r.write(
                "signatories/jane-doe.toml",
                &developer("Jane Doe", "jane").replace("I support it.", "I withdraw."),
            );
        }),
        ("rename", "signatories/john-roe-2.toml", "john", |r| {
            r.rename("signatories/john-roe.toml", "signatories/john-roe-2.toml");
        }),
        ("delete", "signatories/jane-doe.toml", "jane", |r| {
            r.remove("signatories/jane-doe.toml");
        }),
    ];
    for (case, path, owner, edit) in cases {
        repo.new_pr(&base);
        edit(&repo);
        repo.commit(case);
        let run = review_offline(&repo, &base, &["--author", "mallory"]).await;
        assert_eq!(run.json["verdict"], "fail", "{case}: {}", run.dump());
        assert_eq!(run.code, 1, "{case}: {}", run.dump());
        assert_eq!(
            authorship(&run, path),
            "others-entry",
            "{case}: {}",
            run.dump()
        );
        assert_eq!(run.file(path)["authorship"]["owner"], owner);
        // The comment says whose it is, who may confirm, and why.
        let needs = format!("needs {owner}'s confirmation on this pull request, or a maintainer's");
        assert!(
            run.comment.contains(&escape(&needs)),
            "{case}: {}",
            run.comment
        );
        assert!(
            run.comment
                .contains("A signature belongs to the person who made it"),
            "{case}: {}",
            run.comment
        );
        assert!(
            run.stdout.contains(&format!("::error file={path},")),
            "{case}: {}",
            run.dump()
        );
        assert!(
            run.comment.contains(&verdict_marker(Verdict::Fail)),
            "{case}"
        );
    }
}

/// A new file naming someone else's login (a developer file needs no domain proof, so the
/// login is all there is).
#[tokio::test(flavor = "multi_thread")]
async fn claiming_another_login_is_not_verified() {
    let (repo, base) = base_repo();
    repo.write(
        "signatories/linus-torvalds.toml",
        &developer("Linus Torvalds", "torvalds"),
    );
    repo.commit("the PR");
    let run = review_offline(&repo, &base, &["--author", "mallory"]).await;
    assert_eq!(run.json["verdict"], "fail", "{}", run.dump());
    assert_eq!(run.code, 1, "{}", run.dump());
    let file = "signatories/linus-torvalds.toml";
    assert_eq!(authorship(&run, file), "claims-other", "{}", run.dump());
    assert_eq!(run.file(file)["authorship"]["owner"], "torvalds");
    assert!(
        run.comment.contains(&escape(
            "names github = torvalds, but the pull request is by mallory"
        )),
        "{}",
        run.comment
    );
}

/// A 2014 import names no login: nobody can show it is theirs, whatever github they add.
#[tokio::test(flavor = "multi_thread")]
async fn claiming_a_2014_import_is_not_verified() {
    let (repo, base) = base_repo();
    let file = "signatories/adam-brault.toml";
    repo.write(
        file,
        &format!("{}github = \"mallory\"\n", imported("Adam Brault")),
    );
    repo.commit("the PR");
    let run = review_offline(&repo, &base, &["--author", "mallory"]).await;
    assert_eq!(run.json["verdict"], "fail", "{}", run.dump());
    assert_eq!(run.code, 1, "{}", run.dump());
    assert_eq!(authorship(&run, file), "unclaimed-entry", "{}", run.dump());
    assert!(
        run.comment
            .contains(&escape("needs a maintainer's confirmation")),
        "{}",
        run.comment
    );
    assert!(run.comment.contains("2014"), "{}", run.comment);
}

/// Without --author nothing can be verified: the review says so and does not pass.
#[tokio::test(flavor = "multi_thread")]
async fn without_author_nothing_is_verified() {
    let (repo, base) = base_repo();
    repo.write(
        "signatories/ada-lovelace.toml",
        &developer("Ada Lovelace", "ada"),
    );
    repo.commit("the PR");
    let run = review_offline(&repo, &base, &[]).await;
    assert_eq!(run.json["verdict"], "inconclusive", "{}", run.dump());
    assert_eq!(run.code, 3, "{}", run.dump());
    assert_eq!(
        authorship(&run, "signatories/ada-lovelace.toml"),
        "no-author"
    );
    assert!(
        run.comment.contains(&escape("without --author")),
        "{}",
        run.comment
    );
}

/// The TXT record must name the PR's author, not the file's `github`: mallory's edit of
/// alice's operator entry does not borrow alice's record.
#[tokio::test(flavor = "multi_thread")]
async fn domain_control_must_name_the_pr_author() {
    let (repo, base) = base_repo();
    let file = "signatories/alpha.net.toml";
    repo.write(
        file,
        &format!(
            "{}website = \"https://alpha.net/about\"\n",
            operator("Alpha", &["alpha.net"], "alice")
        ),
    );
    repo.commit("the PR");
    let zone = || Zone::new().txt("_xmpp-manifesto.alpha.net", "github=alice");
    let run = review_in_zone(&repo, &base, &["--author", "mallory"], manifesto(), zone()).await;
    assert_eq!(
        run.requirement("alpha.net", "domain-control"),
        "fail",
        "{}",
        run.dump()
    );
    let summary = run.domain("alpha.net")["report"]["requirements"]["domain-control"]["summary"]
        .as_str()
        .unwrap();
    assert!(summary.contains("github=mallory"), "{summary}");
    assert_eq!(authorship(&run, file), "others-entry", "{}", run.dump());
    // alice's own PR: the same record proves it.
    let run = review_in_zone(&repo, &base, &["--author", "alice"], manifesto(), zone()).await;
    assert_eq!(
        run.requirement("alpha.net", "domain-control"),
        "pass",
        "{}",
        run.dump()
    );
    assert_eq!(authorship(&run, file), "own", "{}", run.dump());
}

/// End to end on a real Prosody: mallory changes `website` in alice's entry, whose domain
/// passes every check and whose TXT record names alice. The review must not pass; alice's own
/// identical PR does.
#[tokio::test(flavor = "multi_thread")]
async fn editing_anothers_passing_entry_is_not_verified() {
    let pki = Pki::new();
    let domain = "alice-server.net";
    let host = "xmpp.alice-server.net";
    let s = Scenario::prosody(Prosody::builder().vhost(domain).cert(&pki.leaf(&[domain])))
        .await
        .trusting(&pki)
        .serve_zone(|zone, s| {
            zone.xmpp_at(domain, host, s.server())
                .txt(&format!("_xmpp-manifesto.{domain}"), "github=alice")
        })
        .await;
    let repo = Repo::new();
    let file = format!("signatories/{domain}.toml");
    let entry = operator("Alice", &[domain], "alice");
    repo.write(&file, &entry);
    let base = repo.commit("base registry");
    repo.branch("pr");
    repo.write(
        &file,
        &format!("{entry}website = \"https://mallory.net/\"\n"),
    );
    repo.commit("the PR");

    let run_as = |author: &str| {
        let mut args = s.network_args();
        args.extend(["--author", author, "--timeout", "5"].map(Into::into));
        tokio::task::block_in_place(|| review(manifesto(), &repo, &base, &args))
    };
    let run = run_as("mallory");
    assert_eq!(run.json["verdict"], "fail", "{}", run.dump());
    assert_eq!(run.code, 1, "{}", run.dump());
    assert_eq!(authorship(&run, &file), "others-entry", "{}", run.dump());
    assert_eq!(run.requirement(domain, "domain-control"), "fail");
    assert!(
        run.comment.contains(&escape("needs alice's confirmation")),
        "{}",
        run.comment
    );

    let run = run_as("alice");
    assert_eq!(run.json["verdict"], "pass", "{}", run.dump());
    assert_eq!(run.code, 0, "{}", run.dump());
}

/// Only regular files (git mode 100644) are signatory files: a symbolic link is refused, even
/// one whose target text is a valid signatory file, and so is an executable file.
#[tokio::test(flavor = "multi_thread")]
async fn symlinks_and_executables_are_refused() {
    let (repo, base) = base_repo();
    let file = "signatories/ada-lovelace.toml";
    let valid = developer("Ada Lovelace", "ada");
    let cases: [(&str, &str); 3] = [
        ("symlink-to-toml", "symbolic link (git mode 120000)"),
        ("executable", "executable file (git mode 100755)"),
        ("symlink", "symbolic link (git mode 120000)"),
    ];
    for (case, message) in cases {
        repo.new_pr(&base);
        match case {
            "symlink" => repo.symlink(file, "../README.md"),
            "symlink-to-toml" => repo.symlink(file, &valid),
            _ => {
                repo.write(file, &valid);
                repo.make_executable(file);
            }
        }
        repo.commit(case);
        let run = review_offline(&repo, &base, &["--author", "ada"]).await;
        assert_eq!(run.json["verdict"], "fail", "{case}: {}", run.dump());
        assert_eq!(run.code, 1, "{case}: {}", run.dump());
        let problems = run.file(file)["problems"].to_string();
        assert!(problems.contains(message), "{case}: {}", run.dump());
        assert!(
            run.comment.contains("not a regular file"),
            "{}",
            run.comment
        );
        assert!(
            run.stdout
                .contains("::error file=signatories/ada-lovelace.toml,"),
            "{case}: {}",
            run.dump()
        );
    }
}

/// At most 16 domains are checked per review: the rest are listed, and the review fails.
#[tokio::test(flavor = "multi_thread")]
async fn at_most_16_domains_per_review() {
    let (repo, base) = base_repo();
    let many: Vec<String> = (1..=16).map(|i| format!("d{i:02}.bob.net")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    repo.write(
        "signatories/d01.bob.net.toml",
        &operator("Bob", &many, "bob"),
    );
    repo.write(
        "signatories/extra.bob.net.toml",
        &operator("Bob again", &["extra.bob.net"], "bob"),
    );
    repo.commit("the PR");
    let run = review_offline(&repo, &base, &["--author", "bob"]).await;
    assert_eq!(
        run.json["domains"].as_array().map(Vec::len),
        Some(16),
        "{}",
        run.dump()
    );
    assert_eq!(
        run.json["unchecked_domains"],
        serde_json::json!([{"domain": "extra.bob.net", "file": "signatories/extra.bob.net.toml"}]),
        "{}",
        run.dump()
    );
    let problems = run.json["problems"].to_string();
    assert!(problems.contains("at most 16 domains"), "{}", run.dump());
    assert_eq!(run.json["verdict"], "fail");
    assert_eq!(run.code, 1);
    assert!(
        run.comment.contains("at most 16 domains"),
        "{}",
        run.comment
    );
    assert!(run.comment.contains("extra\\.bob\\.net"), "{}", run.comment);
}

/// With the dialback responder (its config and secret), a review proves s2s both ways; a
/// pull request from a fork gets no secret: its review still runs, without the responder, and
/// says "s2s proof pending: the next sweep proves it".
#[tokio::test(flavor = "multi_thread")]
async fn the_responder_proves_s2s_and_without_its_secret_the_proof_is_pending() {
    use crate::support::Listen;
    use crate::support::responder::TestResponder;
    let pki = Pki::new();
    let domain = "carol-server.net";
    let responder = TestResponder::start(&pki).await;
    let ip = std::net::IpAddr::V4(crate::support::next_loopback_ip());
    let zone = Zone::new()
        .xmpp(domain, &format!("xmpp.{domain}"), ip, 5222, 5269)
        .txt(&format!("_xmpp-manifesto.{domain}"), "github=carol");
    let dns = crate::support::dns::DnsServer::start(responder.zone(zone, false)).await;
    let _p = Prosody::builder()
        .vhost(domain)
        .cert(&pki.leaf(&[domain]))
        .resolver(dns.addr())
        .ip(ip)
        .c2s_port(5222)
        .s2s_port(5269)
        .start()
        .await
        .expect("start Prosody");
    let (repo, base) = base_repo();
    repo.write(
        &format!("signatories/{domain}.toml"),
        &operator("Carol", &[domain], "carol"),
    );
    repo.commit("the PR");
    // The fork's view: the same configuration, no secret anywhere.
    let no_secret = repo.out.path().join("responder-no-secret.toml");
    let text = std::fs::read_to_string(responder.config()).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("secret_file"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&no_secret, text).unwrap();
    let run_with = |config: &std::path::Path| {
        let mut cmd = manifesto();
        cmd.env_remove("MANIFESTO_RESPONDER_SECRET");
        let args: Vec<std::ffi::OsString> = vec![
            "--allow-private".into(),
            "--resolver".into(),
            dns.resolver_arg().into(),
            "--ca-file".into(),
            pki.ca_file().into(),
            "--author".into(),
            "carol".into(),
            "--timeout".into(),
            "5".into(),
            "--responder".into(),
            config.into(),
        ];
        tokio::task::block_in_place(|| review(cmd, &repo, &base, &args))
    };

    let run = run_with(responder.config());
    assert_eq!(run.json["verdict"], "pass", "{}", run.dump());
    assert_eq!(run.requirement(domain, "s2s-tls-required"), "pass");
    assert_eq!(
        run.requirement(domain, "s2s-outbound-tls"),
        "pass",
        "{}",
        run.dump()
    );
    assert!(
        !run.comment.contains("s2s proof pending"),
        "{}",
        run.comment
    );
    assert!(run.comment.contains("s2s-outbound-tls"), "{}", run.comment);

    let run = run_with(&no_secret);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(run.comment.contains("s2s proof pending"), "{}", run.comment);
    assert!(run.comment.contains("no secret"), "{}", run.comment);
    let report = &run.domain(domain)["report"];
    assert!(
        report["requirements"]["s2s-outbound-tls"].is_null(),
        "{}",
        run.dump()
    );
}
