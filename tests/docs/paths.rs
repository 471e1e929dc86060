//! Which repository paths a Markdown document names, by one rule a writer can keep in mind:
//!
//! - the target of a relative Markdown link (`[text](docs/bot.md#anchor)`, `![alt](x.png)`, or
//!   a reference definition `[id]: target`), resolved from the document's directory, its
//!   `#fragment` dropped. Not a target with a scheme (`https:`, `mailto:`...) or a bare
//!   `#anchor`;
//! - a word of inline code (`` `src/report.rs` ``, `` `bash scripts/test.sh` ``) or of a fenced
//!   code block that starts with one of the repository's top-level directories ([`TOP_DIRS`])
//!   or is one of its top-level files ([`TOP_FILES`]), resolved from the repository root (where
//!   the docs' commands run);
//! - a code word that starts with `../`: it names something outside the repository, which the
//!   docs must not depend on (always reported).
//!
//! Skipped, also by rule:
//! - globs and placeholders: a word containing one of [`PLACEHOLDER_MARKS`] (`*`, `<`, `{`,
//!   `...`), or an upper-case word such as `DOMAIN`, `N` or `FILE` (the upper-case file names
//!   of [`UPPER_CASE_NAMES`], such as `README.md`, excepted);
//! - a path under `signatories/` other than the directory itself: the docs' examples of
//!   signatory files (`signatories/example.org.toml`). The register's files come and go with
//!   its signatories; the docs must not depend on one of them.

use std::path::{Component, Path, PathBuf};

/// The repository's top-level directories: a code word that starts with one of them is a path.
/// Listed here rather than read from the disk, so that a directory that disappears is reported
/// rather than making its paths look like words.
pub const TOP_DIRS: [&str; 11] = [
    "src/",
    "tests/",
    "docs/",
    "scripts/",
    "signatories/",
    "templates/",
    "assets/",
    "benches/",
    "examples/",
    ".github/",
    ".ci/",
];

/// The repository's top-level files a code word may name alone.
pub const TOP_FILES: [&str; 8] = [
    "README.md",
    "CONTRIBUTING.md",
    "LICENSE",
    "Cargo.toml",
    "Cargo.lock",
    "clippy.toml",
    "rustfmt.toml",
    ".gitignore",
];

/// What makes a word a glob or a placeholder rather than a path.
pub const PLACEHOLDER_MARKS: [&str; 11] = ["*", "?", "<", ">", "{", "}", "[", "]", "$", "...", "…"];

/// Upper-case words that are real file names, not placeholders.
pub const UPPER_CASE_NAMES: [&str; 5] =
    ["README", "CONTRIBUTING", "LICENSE", "CHANGELOG", "SECURITY"];

/// One path a document names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// 1-based line of the document.
    pub line: usize,
    /// As written (a link target without its fragment, or a code word).
    pub written: String,
    /// Relative to the repository root, or why it cannot be in the repository.
    pub path: Result<PathBuf, String>,
}

/// Every path `text` names; `doc` is the document's path relative to the repository root.
pub fn mentions(doc: &Path, text: &str) -> Vec<Mention> {
    let (prose, code_lines) = split_fences(text);
    let mut out = Vec::new();
    let spans = code_spans(&prose);
    for (offset, span) in &spans {
        for word in span.split_whitespace() {
            if let Some(m) = code_word(line_of(&prose, *offset), word) {
                out.push(m);
            }
        }
    }
    for (line, code) in &code_lines {
        for word in code.split_whitespace() {
            if let Some(m) = code_word(*line, word) {
                out.push(m);
            }
        }
    }
    let without_code = blank_spans(&prose, &spans);
    let dir = doc.parent().unwrap_or(Path::new(""));
    for (offset, target) in link_targets(&without_code) {
        if let Some(written) = relative_target(&target) {
            out.push(Mention {
                line: line_of(&without_code, offset),
                path: normalise(&dir.join(&written)),
                written,
            });
        }
    }
    out.sort_by_key(|m| m.line);
    out
}

/// The text with the lines of fenced code blocks blanked (so that offsets keep their line),
/// and those lines with their line numbers.
fn split_fences(text: &str) -> (String, Vec<(usize, &str)>) {
    let mut prose = String::with_capacity(text.len());
    let mut code = Vec::new();
    let mut fence: Option<&str> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(open), Some(m)) if open == m && trimmed.trim_end() == m => fence = None,
            (Some(_), _) => code.push((i + 1, line)),
            (None, None) => prose.push_str(line),
        }
        prose.push('\n');
    }
    (prose, code)
}

/// Inline code spans: a run of backticks, to the next run of the same length.
fn code_spans(text: &str) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let run_at = |i: usize| bytes[i..].iter().take_while(|b| **b == b'`').count();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let n = run_at(i);
        let start = i + n;
        let mut j = start;
        let mut close = None;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let m = run_at(j);
                if m == n {
                    close = Some(j);
                    break;
                }
                j += m;
            } else {
                j += 1;
            }
        }
        match close {
            Some(end) => {
                spans.push((start, &text[start..end]));
                i = end + n;
            }
            None => i = start,
        }
    }
    spans
}

/// The text with every code span replaced by spaces (line breaks kept).
fn blank_spans(text: &str, spans: &[(usize, &str)]) -> String {
    let mut out = text.as_bytes().to_vec();
    for (start, span) in spans {
        for b in &mut out[*start..start + span.len()] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }
    // Whole spans were replaced, and they begin and end at backticks: still UTF-8.
    String::from_utf8_lossy(&out).into_owned()
}

/// Inline link targets (`](target "title")`) and reference definitions (`[id]: target`).
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("](") {
        let start = from + found + 2;
        let mut depth = 0usize;
        let end = text[start..]
            .char_indices()
            .find(|(_, c)| match c {
                '(' => {
                    depth += 1;
                    false
                }
                ')' if depth == 0 => true,
                ')' => {
                    depth -= 1;
                    false
                }
                _ => c.is_whitespace(),
            })
            .map_or(text.len(), |(k, _)| start + k);
        let target = text[start..end]
            .trim_start_matches('<')
            .trim_end_matches('>');
        out.push((start, target.to_owned()));
        from = end;
    }
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if line.len() - trimmed.len() <= 3
            && trimmed.starts_with('[')
            && let Some(k) = trimmed.find("]:")
            && let Some(target) = trimmed[k + 2..].split_whitespace().next()
        {
            out.push((offset, target.to_owned()));
        }
        offset += line.len();
    }
    out
}

/// A link target that names a file of the repository: no scheme, not a bare anchor; without
/// its fragment.
fn relative_target(target: &str) -> Option<String> {
    if target.is_empty() || target.starts_with('#') || target.starts_with('/') {
        return None;
    }
    let scheme = target.split_once(':').is_some_and(|(s, _)| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if scheme {
        return None;
    }
    let path = target.split(['#', '?']).next().unwrap_or_default();
    (!path.is_empty()).then(|| path.to_owned())
}

/// A word of code, if it names a path by the rule of this module.
fn code_word(line: usize, raw: &str) -> Option<Mention> {
    let word = raw
        .trim_start_matches(['(', '"', '\''])
        .trim_end_matches([',', ';', ':', ')', '"', '\'']);
    if is_placeholder(word) {
        return None;
    }
    let word = word.trim_end_matches('.');
    if word.starts_with("../") {
        return Some(Mention {
            line,
            written: word.to_owned(),
            path: Err("outside the repository".into()),
        });
    }
    let named = TOP_DIRS.iter().any(|d| word.starts_with(d)) || TOP_FILES.contains(&word);
    if !named || (word.starts_with("signatories/") && word != "signatories/") {
        return None;
    }
    Some(Mention {
        line,
        written: word.to_owned(),
        path: normalise(Path::new(word)),
    })
}

/// A glob or a placeholder: see [`PLACEHOLDER_MARKS`] and [`UPPER_CASE_NAMES`].
pub fn is_placeholder(word: &str) -> bool {
    if PLACEHOLDER_MARKS.iter().any(|m| word.contains(m)) {
        return true;
    }
    word.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .any(|w| w.chars().all(|c| c.is_ascii_uppercase()) && !UPPER_CASE_NAMES.contains(&w))
}

/// `a/./b/../c` as `a/c`; an error when it climbs out of the repository root.
fn normalise(path: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err("outside the repository".into());
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err("an absolute path".into());
            }
        }
    }
    Ok(out)
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
