//! The bot's comment (`comment.md`, template `templates/comment.md`) and the workflow
//! annotations of a review.
//!
//! Everything that comes from the pull request or from the checked servers is untrusted: it is
//! clipped and escaped ([`escape`]) so that it renders inert (no HTML, mention, link or code
//! span). Only our own text (fixes, which quote A-label domains and validated logins) is kept
//! as Markdown. The comment fits in one GitHub comment: when the full version is too long, a
//! brief one is rendered, and as a last resort it is cut at a line boundary.

use std::fmt::Write as _;

use askama::Template;

use crate::bot::github::{MAX_BODY_CHARS, REVIEW_MARKER, verdict_marker};
use crate::bot::model::{
    AuthorshipOutcome, Change, ChangeKind, DomainReview, FileReview, ReviewReport,
};
use crate::output::markdown::{escape, status_badge, verdict_badge};
use crate::register::registry::{escape_data, escape_property};
use crate::report::{Report, Verdict};

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
    /// ✅ valid and the author's own, ❔ valid but whose is unknown, ❌ anything else.
    icon: &'static str,
    summary: String,
    /// Whose entry it is and whether the author may change it (escaped).
    authorship: Option<String>,
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
    /// What the check could see (escaped), when the report says.
    coverage: Option<String>,
    rows: Vec<RowView>,
    details: Option<String>,
}

#[derive(Template)]
#[template(path = "comment.md", escape = "none")]
struct CommentTemplate<'a> {
    markers: &'a str,
    verdict_line: &'a str,
    summary: &'a str,
    problems: &'a [String],
    notes: &'a [String],
    files: &'a [FileView],
    other_files: &'a [String],
    unchecked: &'a [String],
    domains: &'a [DomainView],
    rerun: &'a [String],
    footer: &'a str,
}

/// The bot's comment: at most [`MAX_BODY_CHARS`] characters, verdict and markers first.
pub fn render_comment(review: &ReviewReport) -> Result<String, askama::Error> {
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

/// The comment with `detail`, section by section.
fn render_with(review: &ReviewReport, detail: Detail) -> Result<String, askama::Error> {
    let markers = format!("{REVIEW_MARKER}\n{}", verdict_marker(review.verdict));
    let verdict_line = format!(
        "## xmpp-manifesto review: {}",
        verdict_badge(review.verdict)
    );
    let summary = summary(review);
    // Our own sentences, escaped anyway: they quote logins.
    let problems: Vec<String> = review.problems.iter().map(|p| escape(p)).collect();
    let notes: Vec<String> = review.notes.iter().map(|n| escape(n)).collect();
    let files = file_views(&review.files, detail);
    let other_files = other_file_lines(&review.other_files, detail);
    let unchecked = unchecked_lines(review, detail);
    let domains: Vec<DomainView> = review
        .domains
        .iter()
        .map(|d| domain_view(d, detail))
        .collect();
    let rerun = rerun_lines(review);
    let footer = footer(review);
    let page = CommentTemplate {
        markers: &markers,
        verdict_line: &verdict_line,
        summary: &summary,
        problems: &problems,
        notes: &notes,
        files: &files,
        other_files: &other_files,
        unchecked: &unchecked,
        domains: &domains,
        rerun: &rerun,
        footer: &footer,
    };
    page.render()
}

/// One sentence of counts: files, problems, domains, other files.
fn summary(review: &ReviewReport) -> String {
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
    let foreign = review.files.iter().filter(|f| f.is_foreign()).count();
    if foreign > 0 {
        let _ = write!(
            summary,
            "; {foreign} file{} not the author's own (the signer or a maintainer must confirm)",
            plural(foreign)
        );
    }
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
    summary
}

/// The "Signatory files" section: one entry per file, at most `detail.items()`.
fn file_views(files: &[FileReview], detail: Detail) -> Vec<FileView> {
    let items = detail.items();
    let mut views: Vec<FileView> = files
        .iter()
        .take(items)
        .map(|f| file_view(f, detail))
        .collect();
    if files.len() > items {
        views.push(FileView {
            heading: format!("… and {} more files", files.len() - items),
            icon: "➖",
            summary: "See review.json.".into(),
            authorship: None,
            problems: vec![],
        });
    }
    views
}

fn file_view(f: &FileReview, detail: Detail) -> FileView {
    let (clip, items) = (detail.clip(), detail.items());
    let summary = if f.change.kind == ChangeKind::Deleted {
        "Removed from the register.".to_owned()
    } else if f.is_ok() {
        valid_file_summary(f, clip)
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
    let icon = match &f.authorship {
        _ if !f.is_ok() => "❌",
        Some(a) if a.is_own() => "✅",
        Some(a) if a.outcome == AuthorshipOutcome::NoAuthor => "❔",
        _ => "❌",
    };
    // Never clipped: it says whose entry this is and who must confirm.
    let authorship = f.authorship.as_ref().map(|a| {
        let mark = match a.outcome {
            AuthorshipOutcome::Own => "✅",
            AuthorshipOutcome::NoAuthor => "❔",
            _ => "❌",
        };
        format!("{mark} Authorship: {}", escape(&a.summary))
    });
    FileView {
        heading: change_line(&f.change, clip),
        icon,
        summary,
        authorship,
        problems,
    }
}

/// What a valid file declares: name, role, domains, GitHub login.
fn valid_file_summary(f: &FileReview, clip: usize) -> String {
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
}

/// `added PATH`, `renamed FROM → TO`...
fn change_line(c: &Change, clip: usize) -> String {
    let path = match &c.from {
        Some(from) => format!("{} → {}", esc(from, clip), esc(&c.path, clip)),
        None => esc(&c.path, clip),
    };
    format!("{} {path}", c.kind.as_str())
}

/// The "Changes outside `signatories/`" section.
fn other_file_lines(others: &[Change], detail: Detail) -> Vec<String> {
    let (clip, items) = (detail.clip(), detail.items());
    let mut lines: Vec<String> = others
        .iter()
        .take(items)
        .map(|c| change_line(c, clip))
        .collect();
    if others.len() > items {
        lines.push(format!("… and {} more", others.len() - items));
    }
    lines
}

/// The "Domains not checked" section: `DOMAIN (in FILE)`, escaped.
fn unchecked_lines(review: &ReviewReport, detail: Detail) -> Vec<String> {
    let (clip, items) = (detail.clip(), detail.items());
    let all = &review.unchecked_domains;
    let mut lines: Vec<String> = all
        .iter()
        .take(items)
        .map(|u| format!("{} (in {})", esc(&u.domain, clip), esc(&u.file, clip)))
        .collect();
    if all.len() > items {
        lines.push(format!("… and {} more", all.len() - items));
    }
    lines
}

/// One domain's section: its requirements as table rows, its evidence in full detail only.
fn domain_view(d: &DomainReview, detail: Detail) -> DomainView {
    let clip = detail.clip();
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
    let details = (detail == Detail::Full).then(|| evidence_details(r, clip, detail.items()));
    DomainView {
        heading: format!("{}: {}", esc(&d.domain, clip), verdict_badge(r.verdict)),
        file: esc(&d.file, clip),
        coverage: r.coverage.as_ref().map(|c| esc(&c.summary, clip)),
        rows,
        details,
    }
}

/// `manifesto check DOMAIN` for each domain that did not pass.
fn rerun_lines(review: &ReviewReport) -> Vec<String> {
    review
        .domains
        .iter()
        .filter(|d| d.report.verdict != Verdict::Pass)
        // A-label domains only: safe in a code span.
        .filter(|d| {
            d.domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
        .map(|d| format!("`manifesto check {}`", d.domain))
        .collect()
}

/// Tool version, time of the review, base and head.
fn footer(review: &ReviewReport) -> String {
    format!(
        "xmpp-manifesto {} · reviewed {} · base {} · head {}",
        esc(&review.tool_version, 40),
        review
            .reviewed_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        esc(&short(&review.base), 40),
        esc(&short(&review.head), 40),
    )
}

/// Evidence, advisories and endpoints of one report, as Markdown lines (escaped).
fn evidence_details(r: &Report, clip: usize, items: usize) -> String {
    let evidence = r.requirements.iter().flat_map(|(id, req)| {
        req.evidence
            .iter()
            .map(move |line| format!("- `{}` {}", id.as_str(), esc(line, clip)))
    });
    let advisories = r
        .advisories
        .iter()
        .map(|a| format!("- advisory {}: {}", esc(&a.id, clip), esc(&a.summary, clip)));
    let endpoints = r.endpoints.iter().map(|ep| {
        let state = ep
            .tls
            .as_ref()
            .map(|t| format!("{} {}", t.version, t.cipher_suite))
            .or_else(|| ep.error.clone())
            .unwrap_or_default();
        format!(
            "- endpoint {}: {}",
            esc(&ep.label(), clip),
            esc(&state, clip)
        )
    });
    let lines = r
        .requirements
        .values()
        .map(|req| req.evidence.len())
        .sum::<usize>()
        + r.advisories.len()
        + r.endpoints.len();
    let mut out = String::new();
    for line in evidence.chain(advisories).chain(endpoints).take(items) {
        out.push_str(&line);
        out.push('\n');
    }
    if lines > items {
        let _ = writeln!(out, "- … and {} more lines in review.json", lines - items);
    }
    out
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `::error` workflow commands for the file problems, the files that are not the author's to
/// change, and the files outside the register.
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
    for f in review.files.iter().filter(|f| f.is_foreign()) {
        if let Some(a) = &f.authorship {
            let _ = writeln!(
                out,
                "::error file={},title={}::{}",
                escape_property(&f.change.path),
                escape_property("manifesto review"),
                escape_data(&a.summary)
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
