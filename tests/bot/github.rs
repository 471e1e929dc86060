//! `manifesto comment` against a fake GitHub (wiremock): sticky comment, pagination, labels,
//! errors and retries.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use xmpp_manifesto::bot::github::{
    self, CommentOptions, Commented, DEFAULT_BOT_LOGIN, GithubConfig, GithubError,
    LABEL_NEEDS_WORK, LABEL_VERIFIED, REVIEW_MARKER, RetryPolicy,
};
use xmpp_manifesto::report::Verdict;

const OWNER: &str = "acme";
const REPO: &str = "register";
const PR: u64 = 7;
const HEAD: &str = "0123456789abcdef0123456789abcdef01234567";

#[derive(Debug, Clone)]
struct FakeComment {
    id: u64,
    login: String,
    body: String,
}

#[derive(Debug, Default)]
struct State {
    comments: Vec<FakeComment>,
    labels: BTreeSet<String>,
    next_id: u64,
    page_size: usize,
    /// (comment id, login of the comment's author) of every PATCH.
    edits: Vec<(u64, String)>,
    creates: usize,
    /// (sha, state, context) of every commit status set.
    statuses: Vec<(String, String, String)>,
}

/// A stateful GitHub: issue comments (paginated with Link headers), labels, the PR's head.
#[derive(Clone)]
struct FakeGitHub {
    state: Arc<Mutex<State>>,
    base: String,
    /// Login of the token's owner: who creates comments.
    actor: String,
}

impl FakeGitHub {
    fn new(base: &str, page_size: usize) -> FakeGitHub {
        FakeGitHub {
            state: Arc::new(Mutex::new(State {
                next_id: 1000,
                page_size,
                ..State::default()
            })),
            base: base.to_string(),
            actor: DEFAULT_BOT_LOGIN.to_string(),
        }
    }

    fn seed(&self, login: &str, body: &str) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id;
        s.comments.push(FakeComment {
            id,
            login: login.to_string(),
            body: body.to_string(),
        });
        id
    }

    fn comments(&self) -> Vec<FakeComment> {
        self.state.lock().unwrap().comments.clone()
    }

    fn labels(&self) -> BTreeSet<String> {
        self.state.lock().unwrap().labels.clone()
    }

    fn statuses(&self) -> Vec<(String, String, String)> {
        self.state.lock().unwrap().statuses.clone()
    }
}

fn comment_json(c: &FakeComment) -> Value {
    json!({ "id": c.id, "body": c.body, "user": { "login": c.login, "type": "Bot" } })
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

impl Respond for FakeGitHub {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let p = req.url.path().to_string();
        let issue = format!("/repos/{OWNER}/{REPO}/issues/{PR}");
        let mut s = self.state.lock().unwrap();
        let m = req.method.as_str();
        if req.headers.get("authorization").is_none() {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"message": "Requires authentication"}));
        }
        if m == "GET" && p == format!("{issue}/comments") {
            let page: usize = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "page")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(1);
            let size = s.page_size;
            let items: Vec<Value> = s
                .comments
                .iter()
                .skip((page - 1) * size)
                .take(size)
                .map(comment_json)
                .collect();
            let mut t = ResponseTemplate::new(200).set_body_json(items);
            if page * size < s.comments.len() {
                t = t.insert_header(
                    "link",
                    format!(
                        "<{}{}?per_page=100&page={}>; rel=\"next\", <{}{}?page=99>; rel=\"last\"",
                        self.base,
                        p,
                        page + 1,
                        self.base,
                        p
                    ),
                );
            }
            return t;
        }
        if m == "POST" && p == format!("{issue}/comments") {
            let body: Value = req.body_json().unwrap();
            s.next_id += 1;
            let c = FakeComment {
                id: s.next_id,
                login: self.actor.clone(),
                body: body["body"].as_str().unwrap().to_string(),
            };
            s.comments.push(c.clone());
            s.creates += 1;
            return ResponseTemplate::new(201).set_body_json(comment_json(&c));
        }
        if let Some(id) = p.strip_prefix(&format!("/repos/{OWNER}/{REPO}/issues/comments/"))
            && m == "PATCH"
        {
            let id: u64 = id.parse().unwrap();
            let body: Value = req.body_json().unwrap();
            let Some(idx) = s.comments.iter().position(|c| c.id == id) else {
                return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
            };
            let login = s.comments[idx].login.clone();
            s.edits.push((id, login));
            s.comments[idx].body = body["body"].as_str().unwrap().to_string();
            let c = s.comments[idx].clone();
            return ResponseTemplate::new(200).set_body_json(comment_json(&c));
        }
        if m == "POST" && p == format!("{issue}/labels") {
            let body: Value = req.body_json().unwrap();
            for l in body["labels"].as_array().unwrap() {
                s.labels.insert(l.as_str().unwrap().to_string());
            }
            let all: Vec<Value> = s.labels.iter().map(|l| json!({"name": l})).collect();
            return ResponseTemplate::new(200).set_body_json(all);
        }
        if let Some(name) = p.strip_prefix(&format!("{issue}/labels/"))
            && m == "DELETE"
        {
            let name = decode(name);
            if s.labels.remove(&name) {
                return ResponseTemplate::new(200).set_body_json(json!([]));
            }
            return ResponseTemplate::new(404)
                .set_body_json(json!({"message": "Label does not exist"}));
        }
        if let Some(sha) = p.strip_prefix(&format!("/repos/{OWNER}/{REPO}/statuses/"))
            && m == "POST"
        {
            let body: Value = req.body_json().unwrap();
            let field = |k: &str| body[k].as_str().unwrap().to_string();
            s.statuses
                .push((sha.to_string(), field("state"), field("context")));
            return ResponseTemplate::new(201).set_body_json(json!({"state": field("state")}));
        }
        if m == "GET" && p == format!("/repos/{OWNER}/{REPO}/pulls/{PR}") {
            return ResponseTemplate::new(200)
                .set_body_json(json!({"number": PR, "head": {"sha": HEAD}}));
        }
        ResponseTemplate::new(404).set_body_json(json!({"message": format!("no fake for {m} {p}")}))
    }
}

async fn fake(page_size: usize) -> (MockServer, FakeGitHub) {
    let server = MockServer::start().await;
    let gh = FakeGitHub::new(&server.uri(), page_size);
    Mock::given(any())
        .respond_with(gh.clone())
        .with_priority(10)
        .mount(&server)
        .await;
    (server, gh)
}

fn config(server: &MockServer) -> GithubConfig {
    GithubConfig {
        api_url: server.uri(),
        token: "test-token".to_string(),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_secs(2),
        },
    }
}

fn args(body_file: &Path) -> CommentOptions {
    CommentOptions {
        repo: format!("{OWNER}/{REPO}"),
        pr: PR,
        body_file: body_file.to_path_buf(),
        labels: false,
        verdict: None,
        bot_login: DEFAULT_BOT_LOGIN.to_string(),
        head_sha: None,
        timeout: 5,
        status: None,
    }
}

fn body_file(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

async fn run(a: &CommentOptions, server: &MockServer) -> Result<Commented, GithubError> {
    github::post_comment(a, &config(server)).await
}

#[tokio::test]
async fn first_run_creates_second_run_updates() {
    let (server, gh) = fake(100).await;
    let dir = tempfile::tempdir().unwrap();
    let first = body_file(&dir, "1.md", "first review");
    assert!(matches!(
        run(&args(&first), &server).await.unwrap(),
        Commented::Posted { .. }
    ));
    let comments = gh.comments();
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].body.starts_with(REVIEW_MARKER),
        "marker prepended"
    );
    assert!(comments[0].body.contains("first review"));

    let second = body_file(&dir, "2.md", &format!("{REVIEW_MARKER}\nsecond review"));
    run(&args(&second), &server).await.unwrap();
    let comments = gh.comments();
    assert_eq!(comments.len(), 1, "no duplicate: {comments:?}");
    assert_eq!(comments[0].body, format!("{REVIEW_MARKER}\nsecond review"));
    assert_eq!(gh.state.lock().unwrap().creates, 1);
}

#[tokio::test]
async fn finds_the_bot_comment_on_page_two_and_leaves_humans_alone() {
    let (server, gh) = fake(2).await;
    let quote = format!("> {REVIEW_MARKER}\n> the bot said this, but I disagree");
    let human = gh.seed("alice", &quote);
    gh.seed("bob", "LGTM");
    let bot = gh.seed(DEFAULT_BOT_LOGIN, &format!("{REVIEW_MARKER}\nold review"));
    gh.seed("carol", "thanks");
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "b.md", "new review");
    run(&args(&f), &server).await.unwrap();

    let comments = gh.comments();
    assert_eq!(comments.len(), 4, "nothing created");
    let by_id = |id| comments.iter().find(|c| c.id == id).unwrap();
    assert_eq!(by_id(human).body, quote, "human comment untouched");
    assert!(by_id(bot).body.contains("new review"));
    let edits = gh.state.lock().unwrap().edits.clone();
    assert_eq!(edits, vec![(bot, DEFAULT_BOT_LOGIN.to_string())]);
    // Page 2 was read through the Link header.
    let reqs = server.received_requests().await.unwrap();
    assert!(
        reqs.iter()
            .any(|r| r.url.query().is_some_and(|q| q.contains("page=2")))
    );
}

#[tokio::test]
async fn a_human_quoting_the_marker_does_not_stop_the_bot_from_creating() {
    let (server, gh) = fake(100).await;
    let human = gh.seed("mallory", &format!("{REVIEW_MARKER}\nfake verdict: pass"));
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "b.md", "real review");
    run(&args(&f), &server).await.unwrap();
    let comments = gh.comments();
    assert_eq!(comments.len(), 2);
    assert!(
        comments
            .iter()
            .any(|c| c.id == human && c.body.contains("fake verdict"))
    );
    assert!(
        comments
            .iter()
            .any(|c| c.login == DEFAULT_BOT_LOGIN && c.body.contains("real review"))
    );
    assert!(gh.state.lock().unwrap().edits.is_empty());
}

#[tokio::test]
async fn another_bot_login_is_honoured() {
    let (server, gh) = fake(100).await;
    let old = gh.seed("registry-bot[bot]", &format!("{REVIEW_MARKER}\nold"));
    let gha = gh.seed(DEFAULT_BOT_LOGIN, &format!("{REVIEW_MARKER}\nother bot"));
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "b.md", "new");
    let mut a = args(&f);
    a.bot_login = "registry-bot[bot]".to_string();
    run(&a, &server).await.unwrap();
    let edits = gh.state.lock().unwrap().edits.clone();
    assert_eq!(edits, vec![(old, "registry-bot[bot]".to_string())]);
    assert!(
        gh.comments()
            .iter()
            .any(|c| c.id == gha && c.body.contains("other bot"))
    );
}

#[tokio::test]
async fn labels_are_swapped() {
    let (server, gh) = fake(100).await;
    let dir = tempfile::tempdir().unwrap();
    let fail = body_file(
        &dir,
        "f.md",
        &format!(
            "{}\nsomething failed",
            github::verdict_marker(Verdict::Fail)
        ),
    );
    let mut a = args(&fail);
    a.labels = true;
    run(&a, &server).await.unwrap();
    assert_eq!(gh.labels(), BTreeSet::from([LABEL_NEEDS_WORK.to_string()]));

    let pass = body_file(
        &dir,
        "p.md",
        &format!("{}\nall good", github::verdict_marker(Verdict::Pass)),
    );
    let mut a = args(&pass);
    a.labels = true;
    run(&a, &server).await.unwrap();
    assert_eq!(gh.labels(), BTreeSet::from([LABEL_VERIFIED.to_string()]));

    // The check failed although the body says pass: needs work wins.
    a.verdict = Some(Verdict::Fail);
    run(&a, &server).await.unwrap();
    assert_eq!(gh.labels(), BTreeSet::from([LABEL_NEEDS_WORK.to_string()]));
    assert_eq!(gh.comments().len(), 1);
}

#[tokio::test]
async fn labels_without_a_verdict_are_a_usage_error() {
    let (server, gh) = fake(100).await;
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "b.md", "no verdict here");
    let mut a = args(&f);
    a.labels = true;
    let err = run(&a, &server).await.unwrap_err();
    assert!(err.is_usage());
    assert!(gh.comments().is_empty());
}

#[tokio::test]
async fn forbidden_gives_a_clear_message() {
    let (server, gh) = fake(100).await;
    Mock::given(method("POST"))
        .and(path(format!("/repos/{OWNER}/{REPO}/issues/{PR}/comments")))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"message": "Resource not accessible by integration", "status": "403"}),
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "b.md", "review");
    let err = run(&args(&f), &server).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("403"), "{msg}");
    assert!(msg.contains("pull-requests: write"), "{msg}");
    assert!(msg.contains("fork"), "{msg}");
    assert!(
        msg.contains("Resource not accessible by integration"),
        "{msg}"
    );
    assert!(gh.comments().is_empty());
    // A plain 403 is not retried.
    let posts = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn a_502_is_retried_then_succeeds() {
    let (server, gh) = fake(100).await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/{OWNER}/{REPO}/issues/{PR}/comments")))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "b.md", "review");
    run(&args(&f), &server).await.unwrap();
    assert_eq!(gh.comments().len(), 1);
    let gets = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .count();
    assert_eq!(gets, 2, "one 502, one success");
}

#[tokio::test]
async fn a_502_on_create_does_not_duplicate() {
    // The comment is created but the answer is lost (502): the next attempt finds it.
    let (server, gh) = fake(100).await;
    struct CreateThen502(FakeGitHub);
    impl Respond for CreateThen502 {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let _ = self.0.respond(req);
            ResponseTemplate::new(502)
        }
    }
    Mock::given(method("POST"))
        .and(path(format!("/repos/{OWNER}/{REPO}/issues/{PR}/comments")))
        .respond_with(CreateThen502(gh.clone()))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "b.md", "review");
    run(&args(&f), &server).await.unwrap();
    assert_eq!(gh.comments().len(), 1);
    assert_eq!(
        gh.state.lock().unwrap().edits.len(),
        1,
        "updated after the lost answer"
    );
}

#[tokio::test]
async fn secondary_rate_limit_is_retried_and_persistent_5xx_gives_up() {
    let (server, gh) = fake(100).await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/{OWNER}/{REPO}/issues/{PR}/comments")))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("retry-after", "0")
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit."})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "b.md", "review");
    run(&args(&f), &server).await.unwrap();
    assert_eq!(gh.comments().len(), 1);

    Mock::given(method("GET"))
        .and(path(format!("/repos/{OWNER}/{REPO}/issues/{PR}/comments")))
        .respond_with(ResponseTemplate::new(503))
        .with_priority(1)
        .mount(&server)
        .await;
    let err = run(&args(&f), &server).await.unwrap_err();
    assert!(format!("{err:#}").contains("503"), "{err:#}");
    assert!(format!("{err:#}").contains("3 attempt"), "{err:#}");
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let (server, _gh) = fake(100).await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .with_priority(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "b.md", "review");
    let mut a = args(&f);
    a.timeout = 1;
    let mut c = config(&server);
    c.retry.max_attempts = 1;
    let started = std::time::Instant::now();
    let err = github::post_comment(&a, &c).await.unwrap_err();
    assert!(format!("{err:#}").contains("timed out"), "{err:#}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn stale_head_writes_nothing() {
    let (server, gh) = fake(100).await;
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "b.md", "review");
    let mut a = args(&f);
    a.head_sha = Some("f".repeat(40));
    assert!(matches!(
        run(&a, &server).await.unwrap(),
        Commented::Stale { .. }
    ));
    assert!(gh.comments().is_empty());
    a.head_sha = Some(HEAD.to_string());
    run(&a, &server).await.unwrap();
    assert_eq!(gh.comments().len(), 1);
    a.head_sha = Some("not-a-sha".to_string());
    assert!(run(&a, &server).await.is_err());
}

#[tokio::test]
async fn too_long_bodies_are_refused() {
    let (server, gh) = fake(100).await;
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "b.md", &"x".repeat(github::MAX_BODY_CHARS + 1));
    let err = run(&args(&f), &server).await.unwrap_err();
    assert!(format!("{err:#}").contains("65536"), "{err:#}");
    assert!(gh.comments().is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// The binary, with every GITHUB_* variable of this environment scrubbed.
fn manifesto(server: &MockServer) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_manifesto"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GITHUB_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("GITHUB_API_URL", server.uri())
        .env("GITHUB_TOKEN", "test-token");
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_creates_updates_and_labels() {
    let (server, gh) = fake(1).await;
    gh.seed("alice", "first!");
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(
        &dir,
        "comment.md",
        &format!("{}\nall good", github::verdict_marker(Verdict::Pass)),
    );
    for _ in 0..2 {
        let out = manifesto(&server)
            .args([
                "comment",
                "--repo",
                &format!("{OWNER}/{REPO}"),
                "--pr",
                &PR.to_string(),
            ])
            .arg("--body-file")
            .arg(&f)
            .args(["--labels", "--verdict", "pass", "--head-sha", HEAD])
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(gh.comments().len(), 2, "alice's and the bot's");
    assert_eq!(gh.state.lock().unwrap().creates, 1);
    assert_eq!(gh.labels(), BTreeSet::from([LABEL_VERIFIED.to_string()]));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_exits_1_on_403_and_2_without_a_token() {
    let (server, _gh) = fake(100).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "Forbidden"})))
        .with_priority(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "comment.md", "review");
    let base = |cmd: &mut tokio::process::Command| {
        cmd.args(["comment", "--repo", &format!("{OWNER}/{REPO}"), "--pr", "7"])
            .arg("--body-file")
            .arg(&f);
    };
    let mut cmd = manifesto(&server);
    base(&mut cmd);
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pull-requests: write"), "{err}");

    let mut cmd = manifesto(&server);
    cmd.env_remove("GITHUB_TOKEN");
    base(&mut cmd);
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GITHUB_TOKEN"));
}

#[tokio::test]
async fn the_commit_status_goes_on_the_reviewed_head_and_is_success_only_for_pass() {
    let (server, gh) = fake(100).await;
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "b.md", "review");
    let mut a = args(&f);
    a.status = Some("manifesto/review".into());
    a.head_sha = Some(HEAD.to_string());
    for (verdict, state) in [
        (Verdict::Pass, "success"),
        (Verdict::Fail, "failure"),
        (Verdict::Inconclusive, "error"),
    ] {
        a.verdict = Some(verdict);
        run(&a, &server).await.unwrap();
        let last = gh.statuses().last().cloned().unwrap();
        assert_eq!(
            last,
            (HEAD.to_string(), state.into(), "manifesto/review".into())
        );
    }
    // A stale head gets nothing, not even a status.
    a.head_sha = Some("f".repeat(40));
    let before = gh.statuses().len();
    run(&a, &server).await.unwrap();
    assert_eq!(gh.statuses().len(), before);
}

#[tokio::test]
async fn a_status_needs_the_reviewed_head_and_a_verdict() {
    let (server, gh) = fake(100).await;
    let dir = tempfile::tempdir().unwrap();
    let f = body_file(&dir, "b.md", "no verdict here");
    let mut a = args(&f);
    a.status = Some("manifesto/review".into());
    a.verdict = Some(Verdict::Pass);
    let err = run(&a, &server).await.unwrap_err();
    assert!(matches!(err, GithubError::StatusWithoutSha), "{err}");
    assert!(err.is_usage());
    a.head_sha = Some(HEAD.to_string());
    a.verdict = None;
    let err = run(&a, &server).await.unwrap_err();
    assert!(matches!(err, GithubError::NoVerdict), "{err}");
    a.verdict = Some(Verdict::Pass);
    a.status = Some("bad context\n".into());
    let err = run(&a, &server).await.unwrap_err();
    assert!(matches!(err, GithubError::InvalidStatusContext(_)), "{err}");
    assert!(gh.statuses().is_empty() && gh.comments().is_empty());
}
