//! `manifesto review`: reviews the signatory files a pull request adds, changes or removes.
//!
//! In a checkout of the registry, `git diff --raw -M BASE...HEAD` names the changed
//! files. Signatory files (`signatories/*.toml`) are validated in the context of the whole
//! register at HEAD; any other changed file is reported (the bot does not review it, a
//! maintainer must). Every domain of every signatory file the PR adds, modifies or renames is
//! checked like `manifesto check` does, plus the [`RequirementId::DomainControl`] requirement:
//! a DNS TXT record at `_xmpp-manifesto.DOMAIN` containing `github=LOGIN` for the PR's author.
//!
//! Threat model: the PR's contents are the attacker's; the PR's author (`--author`, which the
//! workflow takes from the event) and the base branch are not. So a review passes only when
//! every changed file is the author's own entry, by the base version's `github` for a file that
//! existed (`bot/authorship.rs`), every domain checked passes with domain control naming
//! the author, and nothing outside the register changed. Without an author nothing can be
//! verified, and the review is at best inconclusive.
//!
//! Outputs: `OUT/comment.md` (the bot's comment, see [`render_comment`]), `OUT/review.json`
//! ([`ReviewReport`], schema [`SCHEMA`]), the same Markdown appended to the step summary file
//! (`GITHUB_STEP_SUMMARY`) when there is one, and [`annotations`] (`::error` workflow commands
//! for file problems), which the command prints on stdout.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use time::OffsetDateTime;

use crate::bot::authorship::{self, Signer};
use crate::bot::git::Git;
use crate::check::{CheckError, CheckOptions, Checker};
use crate::register::registry::{self, RegistryError};
use crate::report::{RequirementId, Verdict};

pub use crate::bot::comment::{annotations, render_comment};
pub use crate::bot::domain_control::{
    DOMAIN_CONTROL_LABEL, domain_control_name, github_tokens, judge_domain_control,
    lookup_domain_control,
};
pub use crate::bot::git::{GIT_TIMEOUT, GitError, is_signatory_path, parse_raw_diff};
pub use crate::bot::model::{
    Authorship, AuthorshipOutcome, Change, ChangeKind, DomainReview, FileProblem, FileReview,
    ReviewReport, SCHEMA, UncheckedDomain,
};

/// Domains checked at the same time.
const CONCURRENT_CHECKS: usize = 8;
/// Most domains one review checks. Each check takes up to the check's own deadline, and a PR
/// may list any number of files of up to 16 domains each: the cap bounds a review's time
/// whatever the PR holds (two rounds of concurrent checks). An honest operator lists at
/// most 16 domains in one file; more in one PR is split, or reviewed by a maintainer.
pub const MAX_DOMAINS_PER_REVIEW: usize = 16;
/// Git's mode of a regular, non-executable file: the only kind of signatory file.
const REGULAR_FILE_MODE: &str = "100644";

/// What `manifesto review` is asked to do.
#[derive(Debug, Clone)]
pub struct ReviewOptions {
    /// The registry's git checkout.
    pub repo: PathBuf,
    /// The PR's base commit (e.g. the base branch's SHA).
    pub base: String,
    /// The PR's head commit.
    pub head: String,
    /// GitHub login of the PR's author, as GitHub reports it (never from the PR's files): the
    /// only login that may change entries and whose `github=LOGIN` TXT record proves domain
    /// control. Without it nothing can be verified.
    pub author: Option<String>,
    /// Directory for comment.md and review.json (created if missing).
    pub out: PathBuf,
    /// A file the comment is appended to (GitHub's job summary), if any.
    pub step_summary: Option<PathBuf>,
    /// How domains are checked.
    pub check: CheckOptions,
    /// Why the dialback responder could not be used although one was asked for (a pull request
    /// from a fork gets no secrets), for the comment.
    pub responder_unavailable: Option<String>,
}

/// A finished review and where it was written.
#[derive(Debug, Clone)]
pub struct ReviewOutput {
    pub review: ReviewReport,
    /// The rendered comment, as written to `comment_path`.
    pub comment: String,
    /// `OUT/comment.md`.
    pub comment_path: PathBuf,
    /// `OUT/review.json`.
    pub json_path: PathBuf,
}

/// What can stop a review before it has a verdict.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{0:?} is not a GitHub login")]
    BadAuthor(String),
    #[error(transparent)]
    Git(#[from] GitError),
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
            ReviewError::BadAuthor(_)
                | ReviewError::Git(GitError::BadRef(_))
                | ReviewError::Check(_)
        )
    }
}

/// Without the dialback responder, s2s enforcement is proven only where a server refuses a
/// cleartext dialback at once, and outbound federation is not tested: the sweep, which holds
/// the secret, proves both later.
fn s2s_pending(opts: &ReviewOptions, review: &ReviewReport) -> Option<String> {
    // A check service (`--node`) runs its own checks, with its own responder.
    if opts.check.responder.is_some() || opts.check.node.is_some() || review.domains.is_empty() {
        return None;
    }
    let why = opts
        .responder_unavailable
        .as_deref()
        .map(|why| format!(" ({why})"))
        .unwrap_or_default();
    Some(format!(
        "s2s proof pending: this review ran without the dialback responder{why}, so s2s TLS \
         enforcement is proven here only where a server refuses a cleartext dialback at once, \
         and federation with peers that offer no TLS is not tested; the next sweep proves both."
    ))
}

/// `manifesto review`: reviews the PR and writes comment.md, review.json and the step summary.
/// Printing (annotations, the summary line) and the exit code are the caller's.
pub async fn run_review(opts: &ReviewOptions) -> Result<ReviewOutput, ReviewError> {
    let checker = Checker::new(opts.check.clone())?;
    let review = review(
        &opts.repo,
        &opts.base,
        &opts.head,
        opts.author.as_deref(),
        &checker,
    )
    .await?;
    let mut review = review;
    if let Some(note) = s2s_pending(opts, &review) {
        review.notes.push(note);
    }
    let comment = render_comment(&review)?;
    let json = serde_json::to_string_pretty(&review)?;
    let write = |path: PathBuf, data: &[u8]| {
        std::fs::write(&path, data).map_err(|source| ReviewError::Write { path, source })
    };
    std::fs::create_dir_all(&opts.out).map_err(|source| ReviewError::Write {
        path: opts.out.clone(),
        source,
    })?;
    let comment_path = opts.out.join("comment.md");
    let json_path = opts.out.join("review.json");
    write(comment_path.clone(), comment.as_bytes())?;
    write(json_path.clone(), format!("{json}\n").as_bytes())?;
    if let Some(path) = &opts.step_summary {
        append(path, format!("{comment}\n").as_bytes())?;
    }
    Ok(ReviewOutput {
        review,
        comment,
        comment_path,
        json_path,
    })
}

/// Appends `data` to `path`, creating it if missing.
fn append(path: &Path, data: &[u8]) -> Result<(), ReviewError> {
    let error = |source| ReviewError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(error)?;
    f.write_all(data).map_err(error)
}

/// Runs the review (no output written). `author` must be a valid login, if given.
pub async fn review(
    repo: &Path,
    base: &str,
    head: &str,
    author: Option<&str>,
    checker: &Checker,
) -> Result<ReviewReport, ReviewError> {
    if let Some(a) = author
        && !registry::is_github_login(a)
    {
        // It is compared with logins and quoted in the comment as our own text.
        return Err(ReviewError::BadAuthor(a.to_owned()));
    }
    let git = Git {
        dir: repo.to_path_buf(),
    };
    let base_sha = git.commit(base).await?;
    let head_sha = git.commit(head).await?;
    let changes = git.changes(&base_sha, &head_sha).await?;
    let (signatory_changes, other_files) = split_changes(changes);
    let mut files = review_files(&git, &head_sha, &signatory_changes).await?;
    judge_authorship(&git, (&base_sha, &head_sha), author, &mut files).await?;
    let mut problems = Vec::new();
    if author.is_none() && !files.is_empty() {
        problems.push(
            "The pull request's author is not known (the review ran without --author): no \
             change can be verified as its signer's own, and no domain-control record matched."
                .to_owned(),
        );
    }
    let mut jobs = domain_jobs(&files);
    let unchecked_domains: Vec<UncheckedDomain> = if jobs.len() > MAX_DOMAINS_PER_REVIEW {
        let unchecked = jobs.split_off(MAX_DOMAINS_PER_REVIEW);
        problems.push(too_many_domains(MAX_DOMAINS_PER_REVIEW + unchecked.len()));
        unchecked
            .into_iter()
            .map(|j| UncheckedDomain {
                domain: j.domain,
                file: j.file,
            })
            .collect()
    } else {
        vec![]
    };
    let domains = check_domains(checker, author, jobs).await;
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
        unchecked_domains,
        problems,
        notes: vec![],
    };
    review.verdict = review.compute_verdict();
    Ok(review)
}

/// The changes the bot reviews (signatory files added, modified, renamed or deleted), and the
/// others, which a maintainer must.
fn split_changes(changes: Vec<Change>) -> (Vec<Change>, Vec<Change>) {
    changes.into_iter().partition(|c| {
        is_signatory_path(&c.path)
            && c.from.as_deref().is_none_or(is_signatory_path)
            && c.kind != ChangeKind::Other
    })
}

/// The register at head, split for validation: the changed files (`sources`), the others
/// (`context`), and the changed paths that are no blob there.
struct Register {
    sources: Vec<(PathBuf, Vec<u8>)>,
    context: Vec<(PathBuf, Vec<u8>)>,
    unreadable: BTreeSet<String>,
}

/// Reads the register at `head`; `ignored` paths (changed files that are not regular files)
/// are in neither part.
async fn read_register(
    git: &Git,
    head: &str,
    changed: &[String],
    ignored: &BTreeSet<&str>,
) -> Result<Register, GitError> {
    let all_paths = git.signatory_paths(head).await?;
    let contents = git.read_files(head, &all_paths).await?;
    let mut register = Register {
        sources: Vec::new(),
        context: Vec::new(),
        unreadable: BTreeSet::new(),
    };
    for p in changed {
        match contents.get(p) {
            Some(bytes) => register.sources.push((PathBuf::from(p), bytes.clone())),
            None => {
                register.unreadable.insert(p.clone());
            }
        }
    }
    for (p, bytes) in &contents {
        if !changed.contains(p) && !ignored.contains(p.as_str()) {
            register.context.push((PathBuf::from(p), bytes.clone()));
        }
    }
    Ok(register)
}

/// Validates the changed signatory files against the whole register at head: each file's
/// problems, and what it declares when it is valid. Deletions are not validated, nor are files
/// that are not regular files (their only problem is that).
async fn review_files(
    git: &Git,
    head: &str,
    changes: &[Change],
) -> Result<Vec<FileReview>, ReviewError> {
    let irregular: BTreeMap<&str, FileProblem> = changes
        .iter()
        .filter_map(|c| mode_problem(c).map(|p| (c.path.as_str(), p)))
        .collect();
    let ignored: BTreeSet<&str> = irregular.keys().copied().collect();
    let changed: Vec<String> = changes
        .iter()
        .filter(|c| c.kind != ChangeKind::Deleted && !ignored.contains(c.path.as_str()))
        .map(|c| c.path.clone())
        .collect();
    let register = read_register(git, head, &changed, &ignored).await?;
    let validation = registry::validate_sources_in_context(
        &register.sources,
        &register.context,
        registry::today_utc(),
    );
    let mut files = Vec::new();
    for c in changes {
        let mut review = FileReview {
            change: c.clone(),
            problems: vec![],
            name: None,
            role: None,
            domains: vec![],
            github: None,
            authorship: None,
        };
        if let Some(problem) = irregular.get(c.path.as_str()) {
            review.problems = vec![problem.clone()];
        } else if c.kind != ChangeKind::Deleted {
            let path = PathBuf::from(&c.path);
            review.problems = file_problems(
                &validation.errors,
                &path,
                register.unreadable.contains(&c.path),
            );
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
    Ok(files)
}

/// Why a changed file is not a signatory file whatever it holds: it is not a regular file at
/// head. A symbolic link's blob is its target's *name*, which `cat-file` would hand to the
/// validator while a checkout (the site, `manifesto validate`) follows the link to another
/// file; a submodule has no contents here at all. An executable bit has no use on a data file
/// and is refused too, so that the rule is simply "mode 100644". Deletions have no mode.
fn mode_problem(c: &Change) -> Option<FileProblem> {
    let mode = c.mode.as_deref()?;
    if mode == REGULAR_FILE_MODE {
        return None;
    }
    let (what, hint) = match mode {
        "120000" => (
            "a symbolic link",
            "commit the TOML file itself, not a link to one",
        ),
        "100755" => (
            "an executable file",
            "remove the executable bit: git update-index --chmod=-x FILE (or chmod -x FILE)",
        ),
        "160000" => ("a submodule", "commit the TOML file itself"),
        _ => ("not a plain file", "commit the TOML file itself"),
    };
    Some(FileProblem {
        line: 1,
        column: 1,
        message: format!("{what} (git mode {mode}), not a regular file"),
        hint: format!("{hint}; signatory files are regular files (git mode 100644)"),
    })
}

/// The validation errors of the file at `path`, and whether it is no blob at head.
fn file_problems(errors: &[RegistryError], path: &Path, unreadable: bool) -> Vec<FileProblem> {
    let mut problems: Vec<FileProblem> = errors
        .iter()
        .filter(|e| e.file == path)
        .map(file_problem)
        .collect();
    if unreadable {
        problems.push(FileProblem {
            line: 1,
            column: 1,
            message: "not a regular file at head".into(),
            hint: "signatory files are plain TOML files".into(),
        });
    }
    problems
}

fn file_problem(e: &RegistryError) -> FileProblem {
    FileProblem {
        line: e.line,
        column: e.column,
        message: e.problem.to_string(),
        hint: e.hint(),
    }
}

/// Sets each file's authorship: may the PR's `author` make its change? The signer of a file
/// that existed is read from the base branch (`base`), never from the PR; the signer a file
/// claims from the head version.
async fn judge_authorship(
    git: &Git,
    (base, head): (&str, &str),
    author: Option<&str>,
    files: &mut [FileReview],
) -> Result<(), GitError> {
    // A rename's entry is the file it came from; an addition's, whatever the base branch has at
    // that path (usually nothing).
    let base_path = |c: &Change| c.from.clone().unwrap_or_else(|| c.path.clone());
    let base_paths: Vec<String> = files.iter().map(|f| base_path(&f.change)).collect();
    let base_files = git.read_files(base, &base_paths).await?;
    let head_paths: Vec<String> = files
        .iter()
        .filter(|f| f.change.kind != ChangeKind::Deleted)
        .map(|f| f.change.path.clone())
        .collect();
    let head_files = git.read_files(head, &head_paths).await?;
    let signer = |files: &BTreeMap<String, Vec<u8>>, path: &str| {
        files
            .get(path)
            .map_or(Signer::Absent, |bytes| Signer::of_file(bytes))
    };
    for f in files.iter_mut() {
        let base_signer = signer(&base_files, &base_path(&f.change));
        let head_signer = if f.change.kind == ChangeKind::Deleted {
            Signer::Absent
        } else {
            signer(&head_files, &f.change.path)
        };
        f.authorship = Some(authorship::judge(
            f.change.kind,
            &base_signer,
            &head_signer,
            author,
        ));
    }
    Ok(())
}

/// The review-level problem of a PR that lists `listed` domains, over the cap.
fn too_many_domains(listed: usize) -> String {
    let max = MAX_DOMAINS_PER_REVIEW;
    format!(
        "This pull request lists {listed} domains; the bot checks at most {max} domains per \
         review, so the first {max} were checked and {} {} not. Split it into pull requests \
         of at most {max} domains each, or a maintainer must review it.",
        listed - max,
        if listed - max == 1 { "was" } else { "were" }
    )
}

/// A domain to check and the signatory file that lists it.
struct DomainJob {
    domain: String,
    file: String,
}

/// Every domain of the valid files that the PR adds, modifies or renames.
fn domain_jobs(files: &[FileReview]) -> Vec<DomainJob> {
    files
        .iter()
        .filter(|f| f.is_ok())
        .flat_map(|f| {
            f.domains.iter().map(|d| DomainJob {
                domain: d.clone(),
                file: f.change.path.clone(),
            })
        })
        .collect()
}

/// Checks the domains, a few at a time, in order; adds domain control (for `author`) to each
/// report.
async fn check_domains(
    checker: &Checker,
    author: Option<&str>,
    jobs: Vec<DomainJob>,
) -> Vec<DomainReview> {
    futures::stream::iter(jobs)
        .map(|job| check_domain(checker, author, job))
        .buffered(CONCURRENT_CHECKS)
        .collect()
        .await
}

async fn check_domain(checker: &Checker, author: Option<&str>, job: DomainJob) -> DomainReview {
    let (mut report, txt) = tokio::join!(
        checker.check(&job.domain),
        lookup_domain_control(checker.resolver(), &job.domain)
    );
    let control = judge_domain_control(&job.domain, author, txt);
    report
        .requirements
        .insert(RequirementId::DomainControl, control);
    report.verdict = Verdict::from_requirements(&report.requirements);
    DomainReview {
        domain: job.domain,
        file: job.file,
        report,
    }
}
