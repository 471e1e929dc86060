//! `manifesto review`: reviews the signatory files a pull request adds, changes or removes.
//!
//! In a checkout of the registry, `git diff --name-status -M BASE...HEAD` names the changed
//! files. Signatory files (`signatories/*.toml`) are validated in the context of the whole
//! register at HEAD; any other changed file is reported (the bot does not review it, a
//! maintainer must). Every domain of every signatory file the PR adds, modifies or renames is
//! checked like `manifesto check` does, plus the [`RequirementId::DomainControl`] requirement:
//! a DNS TXT record at `_xmpp-manifesto.DOMAIN` containing `github=LOGIN`, for the PR's
//! author or the file's `github` login.
//!
//! Outputs: `OUT/comment.md` (the bot's comment, see [`render_comment`]), `OUT/review.json`
//! ([`ReviewReport`], schema [`SCHEMA`]), the same Markdown appended to `GITHUB_STEP_SUMMARY`
//! when it is set, and `::error` workflow commands for file problems on stdout.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use askama::Template;
use futures::StreamExt;
use hickory_proto::rr::RData;
use hickory_resolver::TokioResolver;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bot::github::{MAX_BODY_CHARS, REVIEW_MARKER, verdict_marker};
use crate::check::{CheckError, Checker};
use crate::cli::{Exit, NetworkArgs};
use crate::output::markdown::{escape, status_badge, verdict_badge};
use crate::register::registry::{
    self, RegistryError, SIGNATORIES_DIR, escape_data, escape_property,
};
use crate::report::{Report, Requirement, RequirementId, Status, Verdict};

/// JSON schema identifier of `review.json`.
pub const SCHEMA: &str = "xmpp-manifesto/review-v1";
/// Where the domain-control TXT record lives, below the domain.
pub const DOMAIN_CONTROL_LABEL: &str = "_xmpp-manifesto";
/// How long one git command may run.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(60);
/// Most bytes read from one git command (the register is small; a PR could add huge blobs).
const MAX_GIT_OUTPUT: u64 = 64 * 1024 * 1024;
/// Domains checked at the same time.
const CONCURRENT_CHECKS: usize = 8;

/// `manifesto review --base REF [--head REF] [--author LOGIN] [--out DIR]`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReviewArgs {
    /// The PR's base commit (e.g. the base branch's SHA).
    #[arg(long, value_name = "REF")]
    pub base: String,
    /// The PR's head commit.
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    pub head: String,
    /// GitHub login of the PR's author: a `github=LOGIN` TXT record for it proves domain control.
    #[arg(long, value_name = "LOGIN")]
    pub author: Option<String>,
    /// Directory for comment.md and review.json (created if missing).
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    /// The registry's git checkout.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    #[command(flatten)]
    pub network: NetworkArgs,
}

/// What can stop a review before it has a verdict.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{0:?} is not a usable git revision")]
    BadRef(String),
    #[error("{0:?} is not a GitHub login")]
    BadAuthor(String),
    #[error("cannot run git {args}: {source}")]
    GitSpawn {
        args: String,
        source: std::io::Error,
    },
    #[error("git {args} failed: {stderr}")]
    Git { args: String, stderr: String },
    #[error("git {args} did not finish within {} s", GIT_TIMEOUT.as_secs())]
    GitTimeout { args: String },
    #[error("git {args} printed more than {MAX_GIT_OUTPUT} bytes")]
    GitOutputTooLarge { args: String },
    #[error("unexpected output from git {args}: {detail}")]
    GitOutput { args: String, detail: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error("cannot render the comment: {0}")]
    Render(#[from] askama::Error),
    #[error("cannot encode review.json: {0}")]
    Json(#[from] serde_json::Error),
}

impl ReviewError {
    /// Errors in the command line (exit 2) rather than in the review.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ReviewError::BadRef(_) | ReviewError::BadAuthor(_) | ReviewError::Check(_)
        )
    }
}

/// How a file changed between base and head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Added,
    Modified,
    Renamed,
    Deleted,
    /// Copied, type changed, unmerged...
    Other,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Modified => "modified",
            ChangeKind::Renamed => "renamed",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Other => "changed",
        }
    }
}

/// One line of `git diff --name-status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// The path at head (at base for a deletion).
    pub path: String,
    /// The path at base, for renames and copies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// A problem in a signatory file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileProblem {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: String,
}

/// The review of one changed signatory file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileReview {
    pub change: Change,
    /// Empty when the file is valid (and for deletions, which are not validated).
    pub problems: Vec<FileProblem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<String>,
}

impl FileReview {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The check of one domain, with `domain-control` among its requirements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainReview {
    pub domain: String,
    /// The signatory file that lists it.
    pub file: String,
    pub report: Report,
}

/// `review.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewReport {
    pub schema: String,
    pub verdict: Verdict,
    /// Resolved commits.
    pub base: String,
    pub head: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub reviewed_at: OffsetDateTime,
    pub tool_version: String,
    /// Changed signatory files.
    pub files: Vec<FileReview>,
    /// Changed files outside `signatories/*.toml`: not reviewed by the bot.
    pub other_files: Vec<Change>,
    pub domains: Vec<DomainReview>,
}

impl ReviewReport {
    /// Fail on any file problem, any change outside the register or any failed domain; else
    /// inconclusive if a domain is; else pass.
    pub fn compute_verdict(&self) -> Verdict {
        if self.files.iter().any(|f| !f.is_ok()) || !self.other_files.is_empty() {
            return Verdict::Fail;
        }
        let mut verdict = Verdict::Pass;
        for d in &self.domains {
            match d.report.verdict {
                Verdict::Fail => return Verdict::Fail,
                Verdict::Inconclusive => verdict = Verdict::Inconclusive,
                Verdict::Pass => {}
            }
        }
        verdict
    }
}

// ---------------------------------------------------------------------------------------------
// git

struct Git {
    dir: PathBuf,
}

impl Git {
    async fn run(&self, args: &[&str], stdin: Option<Vec<u8>>) -> Result<Vec<u8>, ReviewError> {
        let shown = args.join(" ");
        let mut cmd = tokio::process::Command::new("git");
        cmd.arg("-C")
            .arg(&self.dir)
            .args(["-c", "core.quotePath=off"])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .stdin(if stdin.is_some() {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|source| ReviewError::GitSpawn {
            args: shown.clone(),
            source,
        })?;
        let writer = match (stdin, child.stdin.take()) {
            (Some(input), Some(mut pipe)) => Some(tokio::spawn(async move {
                let _ = pipe.write_all(&input).await;
                drop(pipe);
            })),
            _ => None,
        };
        // Each pipe is dropped as soon as its reader stops (at EOF or at the cap), so a git that
        // writes too much gets EPIPE and exits instead of blocking until the timeout.
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let work = async {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let read_out = async {
                if let Some(s) = stdout {
                    s.take(MAX_GIT_OUTPUT + 1).read_to_end(&mut out).await?;
                }
                Ok::<_, std::io::Error>(())
            };
            let read_err = async {
                if let Some(s) = stderr {
                    s.take(64 * 1024).read_to_end(&mut err).await?;
                }
                Ok::<_, std::io::Error>(())
            };
            let (a, b) = tokio::join!(read_out, read_err);
            a.and(b)?;
            let status = child.wait().await?;
            Ok::<_, std::io::Error>((status, out, err))
        };
        let result = tokio::time::timeout(GIT_TIMEOUT, work).await;
        if let Some(w) = writer {
            w.abort();
        }
        let (status, out, err) = match result {
            Err(_) => return Err(ReviewError::GitTimeout { args: shown }),
            Ok(Err(source)) => {
                return Err(ReviewError::GitSpawn {
                    args: shown,
                    source,
                });
            }
            Ok(Ok(v)) => v,
        };
        if out.len() as u64 > MAX_GIT_OUTPUT {
            return Err(ReviewError::GitOutputTooLarge { args: shown });
        }
        if !status.success() {
            return Err(ReviewError::Git {
                args: shown,
                stderr: String::from_utf8_lossy(&err).trim().to_owned(),
            });
        }
        Ok(out)
    }

    /// The commit a revision names (never an option: refs starting with `-` are refused).
    async fn commit(&self, rev: &str) -> Result<String, ReviewError> {
        if rev.is_empty() || rev.starts_with('-') || rev.chars().any(|c| c.is_control()) {
            return Err(ReviewError::BadRef(rev.to_owned()));
        }
        let spec = format!("{rev}^{{commit}}");
        let out = self
            .run(&["rev-parse", "--verify", "--quiet", &spec], None)
            .await
            .map_err(|e| match e {
                ReviewError::Git { .. } => ReviewError::BadRef(rev.to_owned()),
                e => e,
            })?;
        let sha = String::from_utf8_lossy(&out).trim().to_owned();
        if sha.is_empty() || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ReviewError::BadRef(rev.to_owned()));
        }
        Ok(sha)
    }

    /// `git diff --name-status -M -z BASE...HEAD` (the PR's changes since it forked).
    async fn changes(&self, base: &str, head: &str) -> Result<Vec<Change>, ReviewError> {
        let range = format!("{base}...{head}");
        let out = self
            .run(
                &[
                    "diff",
                    "--name-status",
                    "-M",
                    "-z",
                    "--no-ext-diff",
                    "--no-textconv",
                    &range,
                    "--",
                ],
                None,
            )
            .await?;
        parse_name_status(&out).map_err(|detail| ReviewError::GitOutput {
            args: "diff --name-status".into(),
            detail,
        })
    }

    /// Paths of the files directly under `signatories/` at `rev`.
    async fn signatory_paths(&self, rev: &str) -> Result<Vec<String>, ReviewError> {
        let tree = format!("{rev}:{SIGNATORIES_DIR}");
        let out = match self
            .run(&["ls-tree", "-z", "--name-only", &tree], None)
            .await
        {
            Ok(out) => out,
            // No signatories/ at that revision: an empty register.
            Err(ReviewError::Git { .. }) => return Ok(vec![]),
            Err(e) => return Err(e),
        };
        Ok(out
            .split(|b| *b == 0)
            .filter(|n| !n.is_empty())
            .map(|n| format!("{SIGNATORIES_DIR}/{}", String::from_utf8_lossy(n)))
            .filter(|p| is_signatory_path(p))
            .collect())
    }

    /// The contents of `paths` at `rev`, in one `git cat-file --batch`; missing ones are left out.
    async fn read_files(
        &self,
        rev: &str,
        paths: &[String],
    ) -> Result<BTreeMap<String, Vec<u8>>, ReviewError> {
        let mut files = BTreeMap::new();
        if paths.is_empty() {
            return Ok(files);
        }
        let mut input = Vec::new();
        for p in paths {
            input.extend_from_slice(format!("{rev}:{p}\n").as_bytes());
        }
        let out = self.run(&["cat-file", "--batch"], Some(input)).await?;
        let bad = |detail: &str| ReviewError::GitOutput {
            args: "cat-file --batch".into(),
            detail: detail.into(),
        };
        let mut rest = &out[..];
        for p in paths {
            let nl = rest
                .iter()
                .position(|b| *b == b'\n')
                .ok_or_else(|| bad("header line missing"))?;
            let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
            rest = &rest[nl + 1..];
            let fields: Vec<&str> = header.split(' ').collect();
            if fields.last() == Some(&"missing") || fields.last() == Some(&"ambiguous") {
                continue;
            }
            let size: usize = fields
                .get(2)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("no size in header"))?;
            if rest.len() < size + 1 {
                return Err(bad("object cut short"));
            }
            if fields.get(1) == Some(&"blob") {
                files.insert(p.clone(), rest[..size].to_vec());
            }
            rest = &rest[size + 1..];
        }
        Ok(files)
    }
}

/// Parses `git diff --name-status -z` output.
pub fn parse_name_status(out: &[u8]) -> Result<Vec<Change>, String> {
    let mut fields = out
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let mut changes = Vec::new();
    while let Some(status) = fields.next() {
        if status.is_empty() {
            continue;
        }
        let mut path = || {
            fields
                .next()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| format!("no path after status {status:?}"))
        };
        let change = match status.as_bytes()[0] {
            b'A' => Change {
                kind: ChangeKind::Added,
                path: path()?,
                from: None,
            },
            b'M' => Change {
                kind: ChangeKind::Modified,
                path: path()?,
                from: None,
            },
            b'D' => Change {
                kind: ChangeKind::Deleted,
                path: path()?,
                from: None,
            },
            b'R' | b'C' => {
                let from = path()?;
                let to = path()?;
                Change {
                    kind: if status.starts_with('R') {
                        ChangeKind::Renamed
                    } else {
                        ChangeKind::Other
                    },
                    path: to,
                    from: Some(from),
                }
            }
            _ => Change {
                kind: ChangeKind::Other,
                path: path()?,
                from: None,
            },
        };
        changes.push(change);
    }
    Ok(changes)
}

/// `signatories/NAME.toml`, directly in the directory, not hidden, no control characters (a
/// file name with a line break is reported as another file, never fed to `git cat-file`).
pub fn is_signatory_path(path: &str) -> bool {
    path.strip_prefix(SIGNATORIES_DIR)
        .and_then(|r| r.strip_prefix('/'))
        .is_some_and(|name| {
            !name.contains('/')
                && !name.chars().any(char::is_control)
                && !name.starts_with('.')
                && name.len() > 5
                && name.ends_with(".toml")
        })
}

// ---------------------------------------------------------------------------------------------
// domain control

/// The TXT record name that proves control of `domain`.
pub fn domain_control_name(domain: &str) -> String {
    format!("{DOMAIN_CONTROL_LABEL}.{domain}")
}

/// The `github=LOGIN` tokens of TXT record texts (case is kept; compare case-insensitively).
pub fn github_tokens(texts: &[String]) -> Vec<String> {
    texts
        .iter()
        .flat_map(|t| t.split(|c: char| c.is_whitespace() || c == ';' || c == ','))
        .filter_map(|tok| {
            let (k, v) = tok.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("github")
                .then(|| v.trim().to_owned())
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// Judges domain control from the TXT lookup: `Ok(texts)` (empty when there is no record) or
/// `Err(dns error)`. `logins` are the accepted GitHub logins (validated), best first.
pub fn judge_domain_control(
    domain: &str,
    logins: &[String],
    lookup: Result<Vec<String>, String>,
) -> Requirement {
    let name = domain_control_name(domain);
    let record = |login: &str| format!("`{name}. 3600 IN TXT \"github={login}\"`");
    let fix = match logins.first() {
        Some(login) => Some(format!(
            "Add this DNS record, then push again: {}",
            record(login)
        )),
        None => Some(format!(
            "Add `github = \"LOGIN\"` (your GitHub login) to the file and a DNS record {}",
            record("LOGIN")
        )),
    };
    match lookup {
        Err(e) => Requirement {
            status: Status::Inconclusive,
            summary: format!("The TXT lookup of {name} failed, so domain control is unproven."),
            basis: None,
            fix,
            evidence: vec![format!("TXT {name}: {e}")],
        },
        Ok(texts) => {
            let found = github_tokens(&texts);
            let matched = found
                .iter()
                .find(|t| logins.iter().any(|l| l.eq_ignore_ascii_case(t)));
            let evidence: Vec<String> = if texts.is_empty() {
                vec![format!("TXT {name}: no record")]
            } else {
                texts
                    .iter()
                    .take(16)
                    .map(|t| format!("TXT {name}: \"{t}\""))
                    .collect()
            };
            match matched {
                Some(login) => Requirement {
                    status: Status::Pass,
                    summary: format!("The TXT record at {name} names github={login}."),
                    basis: None,
                    fix: None,
                    evidence,
                },
                None => Requirement {
                    status: Status::Fail,
                    summary: if texts.is_empty() {
                        format!("There is no TXT record at {name}.")
                    } else if logins.is_empty() {
                        "No GitHub login to match: neither the PR author nor the file's github \
                         field is known."
                            .to_owned()
                    } else {
                        format!(
                            "The TXT records at {name} do not name github={}.",
                            logins.join(" or github=")
                        )
                    },
                    basis: None,
                    fix,
                    evidence,
                },
            }
        }
    }
}

/// Looks up `_xmpp-manifesto.DOMAIN` TXT: the texts (empty when none), or the DNS error.
pub async fn lookup_domain_control(
    resolver: &TokioResolver,
    domain: &str,
) -> Result<Vec<String>, String> {
    let fqdn = format!("{}.", domain_control_name(domain));
    match resolver
        .lookup(fqdn.as_str(), hickory_proto::rr::RecordType::TXT)
        .await
    {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .take(64)
            .collect()),
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(vec![]),
        Err(e) => Err(e.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// the review

/// Runs the review (no output written). `author` must already be a valid login, if given.
pub async fn review(
    repo: &Path,
    base: &str,
    head: &str,
    author: Option<&str>,
    checker: &Checker,
) -> Result<ReviewReport, ReviewError> {
    let git = Git {
        dir: repo.to_path_buf(),
    };
    let base_sha = git.commit(base).await?;
    let head_sha = git.commit(head).await?;
    let changes = git.changes(&base_sha, &head_sha).await?;

    let mut signatory_changes = Vec::new();
    let mut other_files = Vec::new();
    for c in changes {
        let paths_ok = is_signatory_path(&c.path)
            && c.from.as_deref().is_none_or(is_signatory_path)
            && c.kind != ChangeKind::Other;
        if paths_ok {
            signatory_changes.push(c);
        } else {
            other_files.push(c);
        }
    }

    // Validate the changed files against the whole register at head.
    let changed: Vec<String> = signatory_changes
        .iter()
        .filter(|c| c.kind != ChangeKind::Deleted)
        .map(|c| c.path.clone())
        .collect();
    let all_paths = git.signatory_paths(&head_sha).await?;
    let contents = git.read_files(&head_sha, &all_paths).await?;
    let mut sources = Vec::new();
    let mut context = Vec::new();
    let mut unreadable = BTreeSet::new();
    for p in &changed {
        match contents.get(p) {
            Some(bytes) => sources.push((PathBuf::from(p), bytes.clone())),
            None => {
                unreadable.insert(p.clone());
            }
        }
    }
    for (p, bytes) in &contents {
        if !changed.contains(p) {
            context.push((PathBuf::from(p), bytes.clone()));
        }
    }
    let validation =
        registry::validate_sources_in_context(&sources, &context, registry::today_utc());

    let mut files = Vec::new();
    for c in &signatory_changes {
        let mut review = FileReview {
            change: c.clone(),
            problems: vec![],
            name: None,
            role: None,
            domains: vec![],
            github: None,
        };
        if c.kind != ChangeKind::Deleted {
            let path = PathBuf::from(&c.path);
            review.problems = validation
                .errors
                .iter()
                .filter(|e| e.file == path)
                .map(file_problem)
                .collect();
            if unreadable.contains(&c.path) {
                review.problems.push(FileProblem {
                    line: 1,
                    column: 1,
                    message: "not a regular file at head".into(),
                    hint: "signatory files are plain TOML files".into(),
                });
            }
            if let Some(s) = validation
                .registry
                .signatories
                .iter()
                .find(|s| s.path == path)
            {
                review.name = Some(s.name.clone());
                review.role = Some(s.role.as_str().to_owned());
                review.domains = s.domains.clone();
                review.github = s.github.clone();
            }
        }
        files.push(review);
    }

    // Check every domain of the valid files that the PR adds, modifies or renames.
    let mut jobs = Vec::new();
    for f in files.iter().filter(|f| f.is_ok()) {
        let mut logins: Vec<String> = Vec::new();
        if let Some(g) = &f.github {
            logins.push(g.clone());
        }
        if let Some(a) = author
            && !logins.iter().any(|l| l.eq_ignore_ascii_case(a))
        {
            logins.push(a.to_owned());
        }
        for d in &f.domains {
            jobs.push((d.clone(), f.change.path.clone(), logins.clone()));
        }
    }
    let domains: Vec<DomainReview> = futures::stream::iter(jobs)
        .map(|(domain, file, logins)| async move {
            let (mut report, txt) = tokio::join!(
                checker.check(&domain),
                lookup_domain_control(checker.resolver(), &domain)
            );
            let control = judge_domain_control(&domain, &logins, txt);
            report
                .requirements
                .insert(RequirementId::DomainControl, control);
            report.verdict =
                Verdict::from_statuses(report.requirements.values().map(|r| &r.status));
            DomainReview {
                domain,
                file,
                report,
            }
        })
        .buffered(CONCURRENT_CHECKS)
        .collect()
        .await;

    let mut review = ReviewReport {
        schema: SCHEMA.into(),
        verdict: Verdict::Pass,
        base: base_sha,
        head: head_sha,
        author: author.map(str::to_owned),
        reviewed_at: OffsetDateTime::now_utc(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        files,
        other_files,
        domains,
    };
    review.verdict = review.compute_verdict();
    Ok(review)
}

fn file_problem(e: &RegistryError) -> FileProblem {
    FileProblem {
        line: e.line,
        column: e.column,
        message: e.problem.to_string(),
        hint: e.hint(),
    }
}

/// `::error` workflow commands for the file problems and the files outside the register.
pub fn annotations(review: &ReviewReport) -> String {
    let mut out = String::new();
    for f in &review.files {
        for p in &f.problems {
            let _ = writeln!(
                out,
                "::error file={},line={},col={},title={}::{}",
                escape_property(&f.change.path),
                p.line,
                p.column,
                escape_property("manifesto review"),
                escape_data(&format!("{} (hint: {})", p.message, p.hint))
            );
        }
    }
    for c in &review.other_files {
        let _ = writeln!(
            out,
            "::error file={},title={}::{}",
            escape_property(&c.path),
            escape_property("manifesto review"),
            escape_data(
                "this pull request changes a file outside signatories/*.toml: the bot does not \
                 review it; a maintainer must (or move it to a separate pull request)"
            )
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// the comment

/// How much of the untrusted detail the comment carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    Full,
    Brief,
}

impl Detail {
    /// Longest untrusted value shown, in characters (before escaping).
    fn clip(self) -> usize {
        match self {
            Detail::Full => 1000,
            Detail::Brief => 120,
        }
    }
    /// Most list items shown (files, problems, evidence lines).
    fn items(self) -> usize {
        match self {
            Detail::Full => 200,
            Detail::Brief => 20,
        }
    }
}

/// Escapes untrusted text after clipping it to `max` characters.
fn esc(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        let cut: String = s.chars().take(max).collect();
        format!("{}… (cut)", escape(&cut))
    } else {
        escape(s)
    }
}

/// Our own text (fixes may hold code spans; the only outside data in them are A-label domains
/// and validated GitHub logins), kept from breaking a table row.
fn trusted_cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\r', '\n'], " ")
}

struct FileView {
    heading: String,
    ok: bool,
    summary: String,
    problems: Vec<String>,
}

struct RowView {
    id: &'static str,
    status: &'static str,
    summary: String,
    fix: String,
}

struct DomainView {
    heading: String,
    file: String,
    rows: Vec<RowView>,
    details: Option<String>,
}

#[derive(Template)]
#[template(path = "comment.md", escape = "none")]
struct CommentTemplate<'a> {
    markers: &'a str,
    verdict_line: &'a str,
    summary: &'a str,
    files: &'a [FileView],
    other_files: &'a [String],
    domains: &'a [DomainView],
    rerun: &'a [String],
    footer: &'a str,
}

/// The bot's comment: at most [`MAX_BODY_CHARS`] characters, verdict and markers first.
pub fn render_comment(review: &ReviewReport) -> Result<String, ReviewError> {
    let limit = MAX_BODY_CHARS - 512;
    let full = render_with(review, Detail::Full)?;
    if full.chars().count() <= limit {
        return Ok(full);
    }
    let brief = render_with(review, Detail::Brief)?;
    if brief.chars().count() <= limit {
        return Ok(brief);
    }
    // Still too long (thousands of files): cut at a line boundary. The verdict and the markers
    // are at the top, so they stay.
    let mut cut: String = brief.chars().take(limit).collect();
    if let Some(nl) = cut.rfind('\n') {
        cut.truncate(nl + 1);
    }
    cut.push_str(
        "\n\n**This review was cut to fit in a comment**: the whole review is in `review.json`, \
         in the artifact of the review workflow.\n",
    );
    Ok(cut)
}

fn render_with(review: &ReviewReport, detail: Detail) -> Result<String, ReviewError> {
    let clip = detail.clip();
    let items = detail.items();
    let markers = format!("{REVIEW_MARKER}\n{}", verdict_marker(review.verdict));
    let verdict_line = format!(
        "## xmpp-manifesto review: {}",
        verdict_badge(review.verdict)
    );
    let problems: usize = review.files.iter().map(|f| f.problems.len()).sum();
    let failing = review
        .domains
        .iter()
        .filter(|d| d.report.verdict != Verdict::Pass)
        .count();
    let mut summary = format!(
        "{} signatory file{} changed, {} problem{} in them; {} domain{} checked, {} not passing",
        review.files.len(),
        plural(review.files.len()),
        problems,
        plural(problems),
        review.domains.len(),
        plural(review.domains.len()),
        failing
    );
    if !review.other_files.is_empty() {
        let _ = write!(
            summary,
            "; {} other file{} changed (not reviewed by the bot)",
            review.other_files.len(),
            plural(review.other_files.len())
        );
    }
    summary.push('.');
    if review.files.is_empty() && review.other_files.is_empty() {
        summary.push_str(" Nothing to review.");
    }

    let mut files = Vec::new();
    for f in review.files.iter().take(items) {
        let path = match &f.change.from {
            Some(from) => format!("{} → {}", esc(from, clip), esc(&f.change.path, clip)),
            None => esc(&f.change.path, clip),
        };
        let heading = format!("{} {path}", f.change.kind.as_str());
        let summary = if f.change.kind == ChangeKind::Deleted {
            "Removed from the register (a maintainer confirms removals).".to_owned()
        } else if f.is_ok() {
            let mut s = format!(
                "Valid: {} ({})",
                esc(f.name.as_deref().unwrap_or(""), clip),
                f.role.as_deref().unwrap_or("")
            );
            if !f.domains.is_empty() {
                let _ = write!(
                    s,
                    ", domains: {}",
                    f.domains
                        .iter()
                        .map(|d| esc(d, clip))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            if let Some(g) = &f.github {
                let _ = write!(s, ", github: {}", esc(g, clip));
            }
            s.push('.');
            s
        } else {
            format!(
                "{} problem{} to fix:",
                f.problems.len(),
                plural(f.problems.len())
            )
        };
        let mut problems: Vec<String> = f
            .problems
            .iter()
            .take(items)
            .map(|p| {
                format!(
                    "line {}, column {}: {} (hint: {})",
                    p.line,
                    p.column,
                    esc(&p.message, clip),
                    esc(&p.hint, clip)
                )
            })
            .collect();
        if f.problems.len() > items {
            problems.push(format!("… and {} more", f.problems.len() - items));
        }
        files.push(FileView {
            heading,
            ok: f.is_ok(),
            summary,
            problems,
        });
    }
    if review.files.len() > items {
        files.push(FileView {
            heading: format!("… and {} more files", review.files.len() - items),
            ok: true,
            summary: "See review.json.".into(),
            problems: vec![],
        });
    }

    let mut other_files: Vec<String> = review
        .other_files
        .iter()
        .take(items)
        .map(|c| {
            let path = match &c.from {
                Some(from) => format!("{} → {}", esc(from, clip), esc(&c.path, clip)),
                None => esc(&c.path, clip),
            };
            format!("{} {path}", c.kind.as_str())
        })
        .collect();
    if review.other_files.len() > items {
        other_files.push(format!("… and {} more", review.other_files.len() - items));
    }

    let mut domains = Vec::new();
    for d in &review.domains {
        let r = &d.report;
        let rows = r
            .requirements
            .iter()
            .map(|(id, req)| RowView {
                id: id.as_str(),
                status: status_badge(req.status),
                summary: esc(&req.summary, clip),
                fix: req.fix.as_deref().map(trusted_cell).unwrap_or_default(),
            })
            .collect();
        let details = (detail == Detail::Full).then(|| evidence_details(r, clip, items));
        domains.push(DomainView {
            heading: format!("{}: {}", esc(&d.domain, clip), verdict_badge(r.verdict)),
            file: esc(&d.file, clip),
            rows,
            details,
        });
    }

    let mut rerun = Vec::new();
    for d in review
        .domains
        .iter()
        .filter(|d| d.report.verdict != Verdict::Pass)
    {
        // A-label domains only: safe in a code span.
        if d.domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            rerun.push(format!("`manifesto check {}`", d.domain));
        }
    }
    let footer = format!(
        "xmpp-manifesto {} · reviewed {} · base {} · head {}",
        esc(&review.tool_version, 40),
        review
            .reviewed_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        esc(&short(&review.base), 40),
        esc(&short(&review.head), 40),
    );
    let page = CommentTemplate {
        markers: &markers,
        verdict_line: &verdict_line,
        summary: &summary,
        files: &files,
        other_files: &other_files,
        domains: &domains,
        rerun: &rerun,
        footer: &footer,
    };
    Ok(page.render()?)
}

/// Evidence, advisories and endpoints of one report, as Markdown lines (escaped).
fn evidence_details(r: &Report, clip: usize, items: usize) -> String {
    let mut out = String::new();
    let mut lines = 0;
    for (id, req) in &r.requirements {
        for line in &req.evidence {
            lines += 1;
            if lines <= items {
                let _ = writeln!(out, "- `{}` {}", id.as_str(), esc(line, clip));
            }
        }
    }
    for a in &r.advisories {
        lines += 1;
        if lines <= items {
            let _ = writeln!(
                out,
                "- advisory {}: {}",
                esc(&a.id, clip),
                esc(&a.summary, clip)
            );
        }
    }
    for ep in &r.endpoints {
        lines += 1;
        if lines <= items {
            let state = ep
                .tls
                .as_ref()
                .map(|t| format!("{} {}", t.version, t.cipher_suite))
                .or_else(|| ep.error.clone())
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- endpoint {}: {}",
                esc(&ep.label(), clip),
                esc(&state, clip)
            );
        }
    }
    if lines > items {
        let _ = writeln!(out, "- … and {} more lines in review.json", lines - items);
    }
    out
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

// ---------------------------------------------------------------------------------------------
// the command

/// `manifesto review`: writes the outputs, prints annotations, returns the exit code.
pub async fn run_review(args: &ReviewArgs) -> Result<Exit, ReviewError> {
    if let Some(a) = &args.author
        && !registry::is_github_login(a)
    {
        return Err(ReviewError::BadAuthor(a.clone()));
    }
    let checker = Checker::new(args.network.check_options())?;
    let review = review(
        &args.repo,
        &args.base,
        &args.head,
        args.author.as_deref(),
        &checker,
    )
    .await?;
    let comment = render_comment(&review)?;
    let json = serde_json::to_string_pretty(&review)?;
    let write = |path: PathBuf, data: &[u8]| {
        std::fs::write(&path, data).map_err(|source| ReviewError::Write { path, source })
    };
    std::fs::create_dir_all(&args.out).map_err(|source| ReviewError::Write {
        path: args.out.clone(),
        source,
    })?;
    write(args.out.join("comment.md"), comment.as_bytes())?;
    write(args.out.join("review.json"), format!("{json}\n").as_bytes())?;
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        let path = PathBuf::from(summary);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| ReviewError::Write {
                path: path.clone(),
                source,
            })?;
        f.write_all(format!("{comment}\n").as_bytes())
            .map_err(|source| ReviewError::Write { path, source })?;
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(annotations(&review).as_bytes());
    let _ = writeln!(
        stdout,
        "manifesto review: {} ({} file{}, {} domain{}); wrote {} and {}",
        review.verdict,
        review.files.len(),
        plural(review.files.len()),
        review.domains.len(),
        plural(review.domains.len()),
        args.out.join("comment.md").display(),
        args.out.join("review.json").display()
    );
    Ok(Exit::for_verdicts([review.verdict]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_status_parses() {
        let out = b"A\0signatories/a.org.toml\0R087\0signatories/b.toml\0signatories/c.toml\0D\0README.md\0";
        let c = parse_name_status(out).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].kind, ChangeKind::Added);
        assert_eq!(c[1].kind, ChangeKind::Renamed);
        assert_eq!(c[1].from.as_deref(), Some("signatories/b.toml"));
        assert_eq!(c[1].path, "signatories/c.toml");
        assert_eq!(c[2].kind, ChangeKind::Deleted);
    }

    #[test]
    fn signatory_paths() {
        assert!(is_signatory_path("signatories/a.org.toml"));
        assert!(!is_signatory_path("signatories/sub/a.toml"));
        assert!(!is_signatory_path("signatories/.hidden.toml"));
        assert!(!is_signatory_path("signatories/README.md"));
        assert!(!is_signatory_path("README.md"));
        assert!(!is_signatory_path("signatoriesx/a.toml"));
        assert!(!is_signatory_path("signatories/a\nb.toml"));
    }

    #[test]
    fn tokens() {
        let t = github_tokens(&["v=1; github=Alice github=bob".into(), "other".into()]);
        assert_eq!(t, vec!["Alice", "bob"]);
    }

    #[test]
    fn domain_control_judged() {
        let logins = vec!["alice".to_owned()];
        let r = judge_domain_control("a.org", &logins, Ok(vec!["github=ALICE".into()]));
        assert_eq!(r.status, Status::Pass);
        let r = judge_domain_control("a.org", &logins, Ok(vec![]));
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.fix
                .unwrap()
                .contains("`_xmpp-manifesto.a.org. 3600 IN TXT \"github=alice\"`")
        );
        let r = judge_domain_control("a.org", &logins, Ok(vec!["github=mallory".into()]));
        assert_eq!(r.status, Status::Fail);
        let r = judge_domain_control("a.org", &logins, Err("SERVFAIL".into()));
        assert_eq!(r.status, Status::Inconclusive);
    }
}
