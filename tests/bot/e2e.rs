//! End to end: a pull request on a temporary registry adds an operator file for a domain served
//! by a real local Prosody (DNS, including the domain-control TXT record, from the in-process
//! server); `manifesto review` reviews it, then `manifesto comment --labels` posts the comment to
//! a fake GitHub (wiremock). A second push and run update the same comment.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use xmpp_manifesto::bot::github::{
    LABEL_NEEDS_WORK, LABEL_VERIFIED, REVIEW_MARKER, verdict_marker,
};
use xmpp_manifesto::report::Verdict;

use crate::support::cli::manifesto;
use crate::support::git::{Repo, ReviewRun, operator, review};
use crate::support::pki::Pki;
use crate::support::prosody::Prosody;
use crate::support::scenario::Scenario;

const ISSUE: &str = "/repos/acme/register/issues/7";
const BOT: &str = "github-actions[bot]";

#[derive(Default)]
struct State {
    /// (id, login, body)
    comments: Vec<(u64, String, String)>,
    labels: BTreeSet<String>,
    creates: usize,
    edits: usize,
}

/// Issue comments and labels of PR 7 of acme/register.
#[derive(Clone, Default)]
struct FakeGitHub(Arc<Mutex<State>>);

impl Respond for FakeGitHub {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let p = req.url.path().to_string();
        let m = req.method.as_str();
        if req.headers.get("authorization").is_none() {
            return ResponseTemplate::new(401).set_body_json(json!({"message": "no token"}));
        }
        let as_json = |c: &(u64, String, String)| json!({"id": c.0, "body": c.2, "user": {"login": c.1, "type": "Bot"}});
        if m == "GET" && p == format!("{ISSUE}/comments") {
            let all: Vec<Value> = s.comments.iter().map(as_json).collect();
            return ResponseTemplate::new(200).set_body_json(all);
        }
        if m == "POST" && p == format!("{ISSUE}/comments") {
            let body: Value = req.body_json().unwrap();
            let id = 100 + s.comments.len() as u64;
            let c = (
                id,
                BOT.to_string(),
                body["body"].as_str().unwrap().to_string(),
            );
            s.comments.push(c.clone());
            s.creates += 1;
            return ResponseTemplate::new(201).set_body_json(as_json(&c));
        }
        if let Some(id) = p.strip_prefix("/repos/acme/register/issues/comments/")
            && m == "PATCH"
        {
            let id: u64 = id.parse().unwrap();
            let body: Value = req.body_json().unwrap();
            let Some(c) = s.comments.iter_mut().find(|c| c.0 == id) else {
                return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
            };
            c.2 = body["body"].as_str().unwrap().to_string();
            let c = c.clone();
            s.edits += 1;
            return ResponseTemplate::new(200).set_body_json(as_json(&c));
        }
        if m == "POST" && p == format!("{ISSUE}/labels") {
            let body: Value = req.body_json().unwrap();
            for l in body["labels"].as_array().unwrap() {
                s.labels.insert(l.as_str().unwrap().to_string());
            }
            let all: Vec<Value> = s.labels.iter().map(|l| json!({"name": l})).collect();
            return ResponseTemplate::new(200).set_body_json(all);
        }
        if let Some(name) = p.strip_prefix(&format!("{ISSUE}/labels/"))
            && m == "DELETE"
        {
            let name = name.replace("%3A", ":").replace("%20", " ");
            return if s.labels.remove(&name) {
                ResponseTemplate::new(200).set_body_json(json!([]))
            } else {
                ResponseTemplate::new(404).set_body_json(json!({"message": "Label does not exist"}))
            };
        }
        ResponseTemplate::new(404).set_body_json(json!({"message": format!("no fake for {m} {p}")}))
    }
}

/// `manifesto comment --repo acme/register --pr 7 --body-file OUT/comment.md --labels`.
fn comment(github: &MockServer, run: &ReviewRun) -> std::process::Output {
    let mut cmd = manifesto();
    cmd.args([
        "comment",
        "--repo",
        "acme/register",
        "--pr",
        "7",
        "--labels",
    ])
    .arg("--body-file")
    .arg(run.out.join("comment.md"))
    .env("GITHUB_API_URL", github.uri())
    .env("GITHUB_TOKEN", "test-token");
    cmd.output().expect("run manifesto comment")
}

#[tokio::test(flavor = "multi_thread")]
async fn review_then_comment_against_fake_github() {
    let pki = Pki::new();
    let domain = "chat.operator-one.net";
    let host = "xmpp.operator-one.net";
    let s = Scenario::prosody(Prosody::builder().vhost(domain).cert(&pki.leaf(&[domain])))
        .await
        .trusting(&pki)
        .serve_zone(|zone, s| {
            zone.xmpp_at(domain, host, s.server())
                .txt(&format!("_xmpp-manifesto.{domain}"), "github=op-one")
        })
        .await;

    let github = MockServer::start().await;
    let fake = FakeGitHub::default();
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&github)
        .await;

    // The registry, and a PR adding the operator's file.
    let repo = Repo::new();
    repo.write(
        "signatories/alpha.net.toml",
        &operator("Alpha", &["alpha.net"], "alice"),
    );
    let base = repo.commit("base registry");
    repo.branch("sign");
    let file = format!("signatories/{domain}.toml");
    repo.write(&file, &operator("Operator One", &[domain], "op-one"));
    repo.commit("sign the manifesto");

    let mut args = s.network_args();
    args.extend(["--author", "op-one", "--timeout", "5"].map(Into::into));
    let run = tokio::task::block_in_place(|| review(manifesto(), &repo, &base, &args));
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(
        run.requirement(domain, "domain-control"),
        "pass",
        "{}",
        run.dump()
    );

    let out = tokio::task::block_in_place(|| comment(&github, &run));
    assert!(
        out.status.success(),
        "manifesto comment: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    {
        let s = fake.0.lock().unwrap();
        assert_eq!(s.comments.len(), 1);
        let body = &s.comments[0].2;
        assert!(body.starts_with(REVIEW_MARKER), "{body}");
        assert!(body.contains("## xmpp-manifesto review: ✅ pass"), "{body}");
        assert!(body.contains(&verdict_marker(Verdict::Pass)), "{body}");
        assert!(
            body.contains("chat\\.operator\\-one\\.net: ✅ pass"),
            "{body}"
        );
        assert_eq!(
            s.labels,
            BTreeSet::from([LABEL_VERIFIED.to_string()]),
            "verified label set"
        );
    }

    // The operator pushes again: a second domain without its TXT record. The same comment is
    // updated and the label swapped.
    let second = "muc.operator-one.net";
    repo.write(
        &file,
        &operator("Operator One", &[domain, second], "op-one"),
    );
    repo.commit("add a second domain");
    let run = tokio::task::block_in_place(|| review(manifesto(), &repo, &base, &args));
    assert_eq!(run.code, 1, "{}", run.dump());
    assert_eq!(
        run.requirement(second, "domain-control"),
        "fail",
        "{}",
        run.dump()
    );
    let out = tokio::task::block_in_place(|| comment(&github, &run));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = fake.0.lock().unwrap();
    assert_eq!(s.comments.len(), 1, "no duplicate comment");
    assert_eq!((s.creates, s.edits), (1, 1));
    let body = &s.comments[0].2;
    assert!(body.contains("## xmpp-manifesto review: ❌ fail"), "{body}");
    assert!(body.contains(&verdict_marker(Verdict::Fail)), "{body}");
    assert!(
        body.contains("`_xmpp-manifesto.muc.operator-one.net. 3600 IN TXT \"github=op-one\"`"),
        "{body}"
    );
    assert_eq!(s.labels, BTreeSet::from([LABEL_NEEDS_WORK.to_string()]));
}
