//! The register of signatories: one TOML file per signatory under `signatories/`.
//!
//! This module reads and validates those files. Every problem is reported with the file, the
//! line and column it was found at, and a hint telling the author what to change, so that a
//! pull request gets actionable review comments (`manifesto validate --format github`).
//!
//! The rules (also in `CONTRIBUTING.md`):
//! - known keys only: `name`, `role`, `domains`, `statement`, `signed`, `website`, `contact`,
//!   `github`, `source`;
//! - `role` is `operator` (1 to [`MAX_DOMAINS`] XMPP `domains`) or `developer` (no domains);
//! - domains are written normalised: IDNA A-labels, lower case, no trailing dot; never IP
//!   literals, single labels, `localhost` or special-use names;
//! - a domain belongs to one signatory only: the earlier signature (by `signed`, then by file
//!   name) keeps it, the later file gets the error;
//! - the file is `signatories/<slug>.toml`: the slug is the first domain for an operator, the
//!   [`name_slug`] of the name for a developer (with `-2`, `-3`... when two people share a name);
//! - `signed` is a TOML date (`2024-05-01`, no quotes), not in the future, not before 2013;
//! - `website` is an `https://` URL, `contact` an `xmpp:` or `mailto:` URI;
//! - `github` (the login of the signer) is required, except for the signatures imported from
//!   2013-2014, which carry a `source` instead;
//! - every string and the file itself have a size cap.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;
use time::{Date, Month, OffsetDateTime};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub use crate::domain::MAX_DOMAIN;
use crate::domain::normalize_public;

/// Default location of the register, relative to the repository root.
pub const SIGNATORIES_DIR: &str = "signatories";
/// Largest signatory file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 16 * 1024;
/// Most domains one operator may list.
pub const MAX_DOMAINS: usize = 16;
/// Size caps, in characters, for each string key.
pub const MAX_NAME: usize = 100;
pub const MAX_STATEMENT: usize = 280;
pub const MAX_URL: usize = 200;
pub const MAX_SOURCE: usize = 200;
pub const MAX_GITHUB: usize = 39;
pub const MAX_SLUG: usize = 80;
/// Signatures dated after this year must carry `github` and may not carry `source`.
pub const LAST_IMPORTED_YEAR: i32 = 2014;

/// Keys a signatory file may hold.
pub const KEYS: [&str; 9] = [
    "name",
    "role",
    "domains",
    "statement",
    "signed",
    "website",
    "contact",
    "github",
    "source",
];

/// What the signatory does on the XMPP network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs one or more XMPP services, listed in `domains`.
    Operator,
    /// Writes XMPP software, or supports the statement without running a service.
    Developer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Developer => "developer",
        }
    }
}

/// One signature, as validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signatory {
    /// File stem: first domain for operators, name slug for developers.
    pub slug: String,
    /// The file it was read from.
    #[serde(skip)]
    pub path: PathBuf,
    pub name: String,
    pub role: Role,
    /// XMPP domains (A-labels, lower case); empty for developers.
    pub domains: Vec<String>,
    pub statement: String,
    pub signed: Date,
    pub website: Option<String>,
    pub contact: Option<String>,
    pub github: Option<String>,
    /// Where an imported (2013-2014) signature was transcribed from.
    pub source: Option<String>,
}

impl Signatory {
    /// A signature of 2013-2014 imported from the original manifesto repository.
    pub fn is_imported(&self) -> bool {
        self.source.is_some()
    }
}

/// The whole register, sorted by slug.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registry {
    pub signatories: Vec<Signatory>,
}

impl Registry {
    /// The signatory that lists `domain` (an A-label), if any.
    pub fn owner_of(&self, domain: &str) -> Option<&Signatory> {
        self.signatories
            .iter()
            .find(|s| s.domains.iter().any(|d| d == domain))
    }

    /// Number of operator domains in the register.
    pub fn domain_count(&self) -> usize {
        self.signatories.iter().map(|s| s.domains.len()).sum()
    }
}

/// What is wrong, without where. The `Display` form is the message; [`Problem::hint`] says
/// what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("the file is {size} bytes, over the limit of {max} bytes")]
    FileTooLarge { size: usize, max: usize },
    #[error("the file is not valid UTF-8")]
    NotUtf8,
    #[error("TOML syntax error: {0}")]
    Syntax(String),
    #[error("unknown key `{key}`")]
    UnknownKey {
        key: String,
        suggestion: Option<&'static str>,
    },
    #[error("missing required key `{0}`")]
    MissingKey(&'static str),
    #[error("`{key}` must be {expected}, found {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("`{key}` is {len} characters long, over the limit of {max}")]
    TooLong { key: String, len: usize, max: usize },
    #[error("`{key}` is empty")]
    Empty { key: String },
    #[error("`{key}` contains a line break, tab or other control character")]
    ControlCharacter { key: String },
    #[error("`{key}` contains a bidirectional-text control character")]
    BidiControl { key: String },
    #[error("`{key}` starts or ends with whitespace")]
    Whitespace { key: String },
    #[error("`role` must be \"operator\" or \"developer\", found {0:?}")]
    BadRole(String),
    #[error("bad domain {domain:?}: {reason}")]
    BadDomain { domain: String, reason: String },
    #[error("domain {domain:?} is not written in normal form")]
    NotNormalized { domain: String, normal: String },
    #[error("duplicate domain `{domain}`: already listed {other}")]
    DuplicateDomain { domain: String, other: String },
    #[error("an operator lists 1 to {max} domains, found {found}")]
    DomainCount { found: usize, max: usize },
    #[error("a developer lists no domains")]
    DeveloperWithDomains,
    #[error("`signed` must be a date, found {0}")]
    NotADate(String),
    #[error("the date {0} is in the future")]
    FutureDate(Date),
    #[error("the date {0} is before the statement existed (2013)")]
    DateTooEarly(Date),
    #[error("`website` must be an https:// URL, found {0:?}")]
    NotHttps(String),
    #[error("`{key}` is not a valid URL: {reason}")]
    BadUrl { key: String, reason: String },
    #[error("`contact` must be an xmpp: or mailto: URI, found {0:?}")]
    BadContact(String),
    #[error("`github` is not a valid GitHub login: {0:?}")]
    BadGithub(String),
    #[error("`github` is required for new signatures")]
    MissingGithub,
    #[error("`source` is only for the signatures imported from 2013-2014")]
    SourceNotAllowed,
    #[error("the file name does not match the slug: found `{found}`, expected `{expected}`")]
    WrongSlug { found: String, expected: String },
    #[error("`{0}` is not a valid slug for a file name")]
    BadSlug(String),
}

impl Problem {
    /// What the author should do, in one sentence.
    pub fn hint(&self) -> String {
        match self {
            Problem::Io(_) => "check that the file exists and is readable".into(),
            Problem::FileTooLarge { .. } => {
                "a signatory file holds a few short lines; remove what is not a listed key".into()
            }
            Problem::NotUtf8 => "save the file as UTF-8".into(),
            Problem::Syntax(_) => {
                "see CONTRIBUTING.md for a template; strings need double quotes".into()
            }
            Problem::UnknownKey { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`? Known keys: {}", KEYS.join(", ")),
                None => format!("remove it; known keys: {}", KEYS.join(", ")),
            },
            Problem::MissingKey(key) => match *key {
                "domains" => {
                    "operators list their XMPP domains: domains = [\"example.org\"]".into()
                }
                "signed" => "add the date of signing without quotes: signed = 2024-05-01".into(),
                _ => format!("add `{key} = \"...\"`; see CONTRIBUTING.md for a template"),
            },
            Problem::WrongType { key, expected, .. } => match key.as_str() {
                "signed" => "write the date without quotes: signed = 2024-05-01".into(),
                "domains" => "write a list of strings: domains = [\"example.org\"]".into(),
                _ => format!("write `{key}` as {expected}"),
            },
            Problem::TooLong { .. } => "shorten it".into(),
            Problem::Empty { .. } => "fill it in, or remove the key if it is optional".into(),
            Problem::ControlCharacter { .. } => {
                "keep it on one line, without tabs or control characters".into()
            }
            Problem::BidiControl { .. } => {
                "remove the invisible direction-control characters".into()
            }
            Problem::Whitespace { .. } => "remove the leading and trailing spaces".into(),
            Problem::BadRole(_) => "write role = \"operator\" or role = \"developer\"".into(),
            Problem::BadDomain { .. } => {
                "list the public XMPP domain users have addresses at, e.g. \"example.org\"".into()
            }
            Problem::NotNormalized { normal, .. } => format!("write it as \"{normal}\""),
            Problem::DuplicateDomain { .. } => {
                "a domain belongs to one signatory only; if the service changed hands, \
                 ask in the pull request to move it"
                    .into()
            }
            Problem::DomainCount { .. } => format!(
                "list between 1 and {MAX_DOMAINS} domains; developers use role = \"developer\""
            ),
            Problem::DeveloperWithDomains => {
                "remove `domains`, or use role = \"operator\" if you run these services".into()
            }
            Problem::NotADate(_) => "write the date without quotes: signed = 2024-05-01".into(),
            Problem::FutureDate(_) => "use the date you signed, today at the latest".into(),
            Problem::DateTooEarly(_) => "use the date you signed".into(),
            Problem::NotHttps(_) => "use an https:// address".into(),
            Problem::BadUrl { .. } => {
                "write a plain https:// URL, without spaces or quotes (percent-encode them)".into()
            }
            Problem::BadContact(_) => {
                "write contact = \"xmpp:you@example.org\" or \"mailto:you@example.org\"".into()
            }
            Problem::BadGithub(_) => {
                "write your GitHub login alone, without @ or URL: github = \"octocat\"".into()
            }
            Problem::MissingGithub => {
                "add your GitHub login: github = \"octocat\" (the account opening the pull request)"
                    .into()
            }
            Problem::SourceNotAllowed => {
                "remove `source` and add `github` with your GitHub login".into()
            }
            Problem::WrongSlug { expected, .. } => {
                format!("rename the file to {SIGNATORIES_DIR}/{expected}.toml")
            }
            Problem::BadSlug(_) => {
                "use lower-case letters, digits and hyphens, e.g. jane-doe.toml".into()
            }
        }
    }
}

/// A problem found at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {problem}", file.display())]
pub struct RegistryError {
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub problem: Problem,
}

impl RegistryError {
    pub fn hint(&self) -> String {
        self.problem.hint()
    }

    /// `file:line:column: error: message` then an indented `hint:` line.
    pub fn to_human(&self) -> String {
        format!(
            "{}:{}:{}: error: {}\n  hint: {}",
            self.file.display(),
            self.line,
            self.column,
            self.problem,
            self.hint()
        )
    }

    /// A GitHub Actions workflow command (`::error file=F,line=L,col=C::MSG`), escaped.
    pub fn to_github(&self) -> String {
        format!(
            "::error file={},line={},col={},title={}::{}",
            escape_property(&self.file.display().to_string()),
            self.line,
            self.column,
            escape_property("manifesto validate"),
            escape_data(&format!("{} (hint: {})", self.problem, self.hint()))
        )
    }
}

/// Escapes the message of a workflow command, as GitHub's toolkit does.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command (also `:` and `,`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The outcome of validating a set of files: what was read, and every problem.
#[derive(Debug, Clone, Default)]
pub struct Validation {
    pub registry: Registry,
    /// Sorted by file, line, column.
    pub errors: Vec<RegistryError>,
    /// Number of files looked at.
    pub files: usize,
}

impl Validation {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Today's date in UTC.
pub fn today_utc() -> Date {
    OffsetDateTime::now_utc().date()
}

/// The `*.toml` files under `dir` (not recursive, hidden files skipped), sorted.
pub fn toml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if !hidden && path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Expands directories to their `*.toml` files; files are kept as given.
pub fn expand_paths(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<RegistryError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            match toml_files(path) {
                Ok(found) => files.extend(found),
                Err(e) => errors.push(at_start(path, Problem::Io(e.to_string()))),
            }
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    files.dedup();
    (files, errors)
}

fn at_start(path: &Path, problem: Problem) -> RegistryError {
    RegistryError {
        file: path.to_path_buf(),
        line: 1,
        column: 1,
        problem,
    }
}

/// Validates the files (directories are expanded to their `*.toml` files), checking each file
/// and then the rules across files (one owner per domain). `today` bounds `signed`.
///
/// A file named on its own (not through its directory) is also checked against the other
/// `*.toml` files of its directory, so that checking only the files of a pull request still
/// catches a domain that another signatory already lists. Those other files are context: their
/// own problems are not reported, and a clash with one of them is reported on the named file.
pub fn validate_paths(paths: &[PathBuf], today: Date) -> Validation {
    let (files, mut errors) = expand_paths(paths);
    let mut context_files = Vec::new();
    for path in paths.iter().filter(|p| !p.is_dir()) {
        let dir = match path.parent() {
            Some(d) if d.as_os_str().is_empty() => Path::new("."),
            Some(d) => d,
            None => continue,
        };
        if let Ok(siblings) = toml_files(dir) {
            context_files.extend(
                siblings
                    .into_iter()
                    .filter(|s| !files.iter().any(|f| f == s || same_file(f, s))),
            );
        }
    }
    context_files.sort();
    context_files.dedup();
    let mut sources = Vec::with_capacity(files.len());
    for file in &files {
        match std::fs::read(file) {
            Ok(bytes) => sources.push((file.clone(), bytes)),
            Err(e) => errors.push(at_start(file, Problem::Io(e.to_string()))),
        }
    }
    let context: Vec<(PathBuf, Vec<u8>)> = context_files
        .into_iter()
        .filter_map(|f| std::fs::read(&f).ok().map(|b| (f, b)))
        .collect();
    let mut validation = validate_sources_in_context(&sources, &context, today);
    validation.errors.extend(errors);
    sort_errors(&mut validation.errors);
    validation.files = files.len();
    validation
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Loads the register from `dir`, failing with every problem if any file is invalid.
pub fn load_dir(dir: &Path, today: Date) -> Result<Registry, Vec<RegistryError>> {
    let v = validate_paths(&[dir.to_path_buf()], today);
    if v.errors.is_empty() {
        Ok(v.registry)
    } else {
        Err(v.errors)
    }
}

/// Validates files given as (path, bytes): each on its own, then across files.
pub fn validate_sources(sources: &[(PathBuf, Vec<u8>)], today: Date) -> Validation {
    validate_sources_in_context(sources, &[], today)
}

/// Like [`validate_sources`], with context files that already own their domains: a domain of
/// `sources` listed in `context` is an error in the source. Context files are not reported on
/// and not part of the returned registry.
pub fn validate_sources_in_context(
    sources: &[(PathBuf, Vec<u8>)],
    context: &[(PathBuf, Vec<u8>)],
    today: Date,
) -> Validation {
    let mut errors = Vec::new();
    let mut parsed: Vec<Parsed> = Vec::new();
    for (path, bytes) in sources {
        match parse_signatory(path, bytes, today) {
            Ok((signatory, spans, index)) => parsed.push((signatory, spans, index)),
            Err(mut e) => errors.append(&mut e),
        }
    }

    let mut owners: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (path, bytes) in context {
        if let Ok((s, _, _)) = parse_signatory(path, bytes, today) {
            for domain in s.domains {
                owners.entry(domain).or_insert_with(|| path.clone());
            }
        }
    }

    // One owner per domain: the earlier signature keeps it, then the earlier file name.
    let mut order: Vec<usize> = (0..parsed.len()).collect();
    order.sort_by(|&a, &b| {
        (parsed[a].0.signed, &parsed[a].0.path).cmp(&(parsed[b].0.signed, &parsed[b].0.path))
    });
    let mut rejected = vec![false; parsed.len()];
    for &i in &order {
        let (s, spans, index) = &parsed[i];
        for (domain, span) in s.domains.iter().zip(spans) {
            if let Some(owner) = owners.get(domain) {
                let (line, column) = index.position(span.start);
                errors.push(RegistryError {
                    file: s.path.clone(),
                    line,
                    column,
                    problem: Problem::DuplicateDomain {
                        domain: domain.clone(),
                        other: format!("in {}", owner.display()),
                    },
                });
                rejected[i] = true;
            }
        }
        for domain in &s.domains {
            owners
                .entry(domain.clone())
                .or_insert_with(|| s.path.clone());
        }
    }

    let mut signatories: Vec<Signatory> = parsed
        .into_iter()
        .zip(rejected)
        .filter(|(_, rejected)| !rejected)
        .map(|((s, _, _), _)| s)
        .collect();
    signatories.sort_by(|a, b| a.slug.cmp(&b.slug).then_with(|| a.path.cmp(&b.path)));
    sort_errors(&mut errors);
    Validation {
        registry: Registry { signatories },
        errors,
        files: sources.len(),
    }
}

fn sort_errors(errors: &mut [RegistryError]) {
    errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
}

/// Byte offset to 1-based line and column (in characters).
#[derive(Debug, Clone)]
struct LineIndex {
    text: String,
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            text: text.to_owned(),
            starts,
        }
    }

    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line, column)
    }
}

struct FileCheck<'a> {
    path: &'a Path,
    index: LineIndex,
    errors: Vec<RegistryError>,
}

impl FileCheck<'_> {
    fn error(&mut self, span: Range<usize>, problem: Problem) {
        let (line, column) = self.index.position(span.start);
        self.errors.push(RegistryError {
            file: self.path.to_path_buf(),
            line,
            column,
            problem,
        });
    }

    /// A string value, checked for type, emptiness, length, control and bidi characters.
    fn string(
        &mut self,
        key: &str,
        value: &Spanned<DeValue<'_>>,
        max: usize,
        trim: bool,
    ) -> Option<String> {
        let span = value.span();
        let DeValue::String(s) = value.get_ref() else {
            self.error(
                span,
                Problem::WrongType {
                    key: key.into(),
                    expected: "a string",
                    found: value.get_ref().type_str(),
                },
            );
            return None;
        };
        let s: &str = s;
        let mut ok = true;
        let len = s.chars().count();
        if s.trim().is_empty() {
            self.error(span.clone(), Problem::Empty { key: key.into() });
            return None;
        }
        if len > max {
            self.error(
                span.clone(),
                Problem::TooLong {
                    key: key.into(),
                    len,
                    max,
                },
            );
            ok = false;
        }
        if s.chars().any(char::is_control) {
            self.error(span.clone(), Problem::ControlCharacter { key: key.into() });
            ok = false;
        }
        if s.chars().any(is_bidi_control) {
            self.error(span.clone(), Problem::BidiControl { key: key.into() });
            ok = false;
        }
        if trim && s.trim() != s {
            self.error(span, Problem::Whitespace { key: key.into() });
            ok = false;
        }
        ok.then(|| s.to_owned())
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        || c == '\u{061C}'
}

/// A signatory with the span of each of its domains (for the cross-file duplicate check) and
/// the line index of its file.
type Parsed = (Signatory, Vec<Range<usize>>, LineIndex);

/// Parses and checks one file.
fn parse_signatory(path: &Path, bytes: &[u8], today: Date) -> Result<Parsed, Vec<RegistryError>> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(vec![at_start(
            path,
            Problem::FileTooLarge {
                size: bytes.len(),
                max: MAX_FILE_BYTES,
            },
        )]);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned();
            let (line, column) = LineIndex::new(&valid).position(valid.len());
            return Err(vec![RegistryError {
                file: path.to_path_buf(),
                line,
                column,
                problem: Problem::NotUtf8,
            }]);
        }
    };
    let mut check = FileCheck {
        path,
        index: LineIndex::new(text),
        errors: Vec::new(),
    };
    let table = match DeTable::parse(text) {
        Ok(t) => t,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().replace('\n', " ");
            check.error(span, Problem::Syntax(message));
            return Err(check.errors);
        }
    };

    let mut values: BTreeMap<&'static str, &Spanned<DeValue<'_>>> = BTreeMap::new();
    for (key, value) in table.get_ref().iter() {
        let k: &str = key.get_ref();
        match KEYS.iter().find(|known| **known == k) {
            Some(known) => {
                values.insert(known, value);
            }
            None => check.error(
                key.span(),
                Problem::UnknownKey {
                    key: k.to_owned(),
                    suggestion: suggest_key(k),
                },
            ),
        }
    }
    let whole = 0..0;

    let name = match values.get("name") {
        Some(v) => check.string("name", v, MAX_NAME, true),
        None => {
            check.error(whole.clone(), Problem::MissingKey("name"));
            None
        }
    };
    let statement = match values.get("statement") {
        Some(v) => check.string("statement", v, MAX_STATEMENT, true),
        None => {
            check.error(whole.clone(), Problem::MissingKey("statement"));
            None
        }
    };
    let role = match values.get("role") {
        Some(v) => match v.get_ref() {
            DeValue::String(s) if s.as_ref() == "operator" => Some(Role::Operator),
            DeValue::String(s) if s.as_ref() == "developer" => Some(Role::Developer),
            DeValue::String(s) => {
                let found = s.to_string();
                check.error(v.span(), Problem::BadRole(found));
                None
            }
            other => {
                check.error(
                    v.span(),
                    Problem::WrongType {
                        key: "role".into(),
                        expected: "a string",
                        found: other.type_str(),
                    },
                );
                None
            }
        },
        None => {
            check.error(whole.clone(), Problem::MissingKey("role"));
            None
        }
    };

    // Domains.
    let mut domains = Vec::new();
    let mut domain_spans = Vec::new();
    let mut domains_ok = true;
    match values.get("domains") {
        Some(v) => match v.get_ref() {
            DeValue::Array(items) => {
                if role == Some(Role::Developer) {
                    check.error(v.span(), Problem::DeveloperWithDomains);
                    domains_ok = false;
                } else if items.is_empty() || items.len() > MAX_DOMAINS {
                    check.error(
                        v.span(),
                        Problem::DomainCount {
                            found: items.len(),
                            max: MAX_DOMAINS,
                        },
                    );
                    domains_ok = false;
                }
                for item in items.iter() {
                    let Some(raw) = check.string("domains", item, MAX_DOMAIN, false) else {
                        domains_ok = false;
                        continue;
                    };
                    match normalize_public(&raw) {
                        Ok(normal) if normal == raw => {
                            if domains.contains(&normal) {
                                check.error(
                                    item.span(),
                                    Problem::DuplicateDomain {
                                        domain: normal,
                                        other: "earlier in this file".into(),
                                    },
                                );
                                domains_ok = false;
                            } else {
                                domains.push(normal);
                                domain_spans.push(item.span());
                            }
                        }
                        Ok(normal) => {
                            check.error(
                                item.span(),
                                Problem::NotNormalized {
                                    domain: raw,
                                    normal,
                                },
                            );
                            domains_ok = false;
                        }
                        Err(reason) => {
                            check.error(
                                item.span(),
                                Problem::BadDomain {
                                    domain: raw,
                                    reason: reason.0,
                                },
                            );
                            domains_ok = false;
                        }
                    }
                }
            }
            other => {
                check.error(
                    v.span(),
                    Problem::WrongType {
                        key: "domains".into(),
                        expected: "a list of strings",
                        found: other.type_str(),
                    },
                );
                domains_ok = false;
            }
        },
        None => {
            if role == Some(Role::Operator) {
                check.error(whole.clone(), Problem::MissingKey("domains"));
                domains_ok = false;
            }
        }
    }

    // Date.
    let signed = match values.get("signed") {
        Some(v) => match v.get_ref() {
            DeValue::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
                match dt.date.and_then(|d| {
                    let month = Month::try_from(d.month).ok()?;
                    Date::from_calendar_date(i32::from(d.year), month, d.day).ok()
                }) {
                    Some(date) => {
                        let earliest =
                            Date::from_calendar_date(2013, Month::January, 1).unwrap_or(date);
                        // One day of grace: east of UTC, tomorrow may already have begun.
                        let latest = today.next_day().unwrap_or(today);
                        if date > latest {
                            check.error(v.span(), Problem::FutureDate(date));
                            None
                        } else if date < earliest {
                            check.error(v.span(), Problem::DateTooEarly(date));
                            None
                        } else {
                            Some(date)
                        }
                    }
                    None => {
                        check.error(v.span(), Problem::NotADate(dt.to_string()));
                        None
                    }
                }
            }
            DeValue::Datetime(dt) => {
                check.error(v.span(), Problem::NotADate(dt.to_string()));
                None
            }
            other => {
                check.error(
                    v.span(),
                    Problem::WrongType {
                        key: "signed".into(),
                        expected: "a date",
                        found: other.type_str(),
                    },
                );
                None
            }
        },
        None => {
            check.error(whole.clone(), Problem::MissingKey("signed"));
            None
        }
    };

    let website = values.get("website").and_then(|v| {
        let s = check.string("website", v, MAX_URL, true)?;
        match check_https_url(&s) {
            Ok(()) => Some(s),
            Err(problem) => {
                check.error(v.span(), problem);
                None
            }
        }
    });
    let contact = values.get("contact").and_then(|v| {
        let s = check.string("contact", v, MAX_URL, true)?;
        if check_contact(&s) {
            Some(s)
        } else {
            check.error(v.span(), Problem::BadContact(s));
            None
        }
    });
    let github = values.get("github").and_then(|v| {
        let s = check.string("github", v, MAX_GITHUB, true)?;
        if is_github_login(&s) {
            Some(s)
        } else {
            check.error(v.span(), Problem::BadGithub(s));
            None
        }
    });
    let source = values
        .get("source")
        .and_then(|v| check.string("source", v, MAX_SOURCE, true));
    if let Some(date) = signed {
        if date.year() > LAST_IMPORTED_YEAR {
            if let Some(v) = values.get("source") {
                check.error(v.span(), Problem::SourceNotAllowed);
            }
            if !values.contains_key("github") {
                check.error(whole.clone(), Problem::MissingGithub);
            }
        } else if !values.contains_key("github") && !values.contains_key("source") {
            check.error(whole.clone(), Problem::MissingGithub);
        }
    } else if !values.contains_key("github") && !values.contains_key("source") {
        check.error(whole.clone(), Problem::MissingGithub);
    }

    // Slug: the file name must follow from the content.
    let found = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    if path.extension().is_none_or(|e| e != "toml") || (!is_slug(&found) && !is_domain_slug(&found))
    {
        check.error(whole.clone(), Problem::BadSlug(found.clone()));
    } else {
        match (role, &name) {
            (Some(Role::Operator), _) if domains_ok => {
                if let (Some(first), Some(span)) = (domains.first(), domain_spans.first())
                    && *first != found
                {
                    check.error(
                        span.clone(),
                        Problem::WrongSlug {
                            found: found.clone(),
                            expected: first.clone(),
                        },
                    );
                }
            }
            (Some(Role::Developer), Some(name)) => {
                let expected = name_slug(name);
                if !developer_slug_matches(&expected, &found) {
                    let span = values.get("name").map_or(0..0, |v| v.span());
                    check.error(
                        span,
                        Problem::WrongSlug {
                            found: found.clone(),
                            expected: if expected.is_empty() {
                                "a-name-in-latin-letters".into()
                            } else {
                                expected
                            },
                        },
                    );
                }
            }
            _ => {}
        }
    }

    // Sort by position so the author reads them top to bottom.
    sort_errors(&mut check.errors);
    if !check.errors.is_empty() {
        return Err(check.errors);
    }
    match (name, role, statement, signed) {
        (Some(name), Some(role), Some(statement), Some(signed)) => Ok((
            Signatory {
                slug: found,
                path: path.to_path_buf(),
                name,
                role,
                domains,
                statement,
                signed,
                website,
                contact,
                github,
                source,
            },
            domain_spans,
            check.index,
        )),
        // Every `None` above pushed an error.
        _ => Err(vec![at_start(path, Problem::MissingKey("name"))]),
    }
}

fn suggest_key(key: &str) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase();
    let aliases: [(&str, &str); 8] = [
        ("domain", "domains"),
        ("date", "signed"),
        ("url", "website"),
        ("homepage", "website"),
        ("email", "contact"),
        ("jid", "contact"),
        ("xmpp", "contact"),
        ("type", "role"),
    ];
    if let Some((_, to)) = aliases.iter().find(|(from, _)| *from == lower) {
        return Some(to);
    }
    KEYS.iter()
        .map(|k| (edit_distance(&lower, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `[a-z0-9]+(-[a-z0-9]+)*`, at most [`MAX_SLUG`] characters.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SLUG
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn is_domain_slug(s: &str) -> bool {
    normalize_public(s).is_ok_and(|d| d == s)
}

fn developer_slug_matches(expected: &str, found: &str) -> bool {
    if expected.is_empty() {
        // A name with no Latin letters: any valid slug.
        return is_slug(found);
    }
    if found == expected {
        return true;
    }
    // Two people of the same name: `jane-doe-2`, `jane-doe-3`...
    found
        .strip_prefix(expected)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n >= 2) && !n.starts_with('0'))
}

/// The slug of a person's or organisation's name: Latin letters folded to ASCII, lower case,
/// every other run of characters a single hyphen. "Valérian Saliou" gives `valerian-saliou`,
/// "Mike Taylor (bear)" `mike-taylor-bear`. Empty for names without Latin letters or digits.
pub fn name_slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_dash = false;
    for c in name.chars() {
        let folded = fold_latin(c);
        if folded.is_empty() {
            pending_dash = true;
            continue;
        }
        if pending_dash && !out.is_empty() {
            out.push('-');
        }
        pending_dash = false;
        out.push_str(folded);
    }
    out.truncate(MAX_SLUG);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// ASCII folding of Latin letters (lower case); "" for anything else.
fn fold_latin(c: char) -> &'static str {
    const ASCII: [&str; 36] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f", "g", "h",
        "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
    ];
    if c.is_ascii_alphanumeric() {
        let l = c.to_ascii_lowercase();
        let i = if l.is_ascii_digit() {
            l as usize - '0' as usize
        } else {
            10 + l as usize - 'a' as usize
        };
        return ASCII[i];
    }
    let lower = c.to_lowercase().next().unwrap_or(c);
    match lower {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => "",
    }
}

fn check_https_url(s: &str) -> Result<(), Problem> {
    let Some(rest) = s.strip_prefix("https://") else {
        return Err(Problem::NotHttps(s.to_owned()));
    };
    let bad = |reason: &str| Problem::BadUrl {
        key: "website".into(),
        reason: reason.into(),
    };
    if let Some(c) = s
        .chars()
        .find(|c| !c.is_ascii_graphic() || "\"<>\\^`{|}".contains(*c))
    {
        return Err(bad(&format!("character {c:?} is not allowed")));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad("no user name or password in the address"));
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    if host.is_empty() {
        return Err(bad("no host name"));
    }
    let host = host.to_ascii_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return Err(bad("use a host name, not an IP address"));
    }
    normalize_public(&host).map(|_| ()).map_err(|r| bad(&r.0))
}

fn check_contact(s: &str) -> bool {
    let rest = s
        .strip_prefix("xmpp:")
        .or_else(|| s.strip_prefix("mailto:"));
    match rest {
        Some(rest) => {
            rest.contains('@')
                && !rest.starts_with('@')
                && !rest
                    .chars()
                    .any(|c| c.is_whitespace() || "\"<>\\`".contains(c))
        }
        None => false,
    }
}

/// GitHub logins: 1 to 39 letters, digits or single hyphens, not at either end.
pub fn is_github_login(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_GITHUB
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Output format of `manifesto validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ValidateFormat {
    /// `file:line:column: error: message` and a hint, for people.
    #[default]
    Human,
    /// GitHub Actions workflow commands (`::error file=...,line=...,col=...::message`).
    Github,
}

/// `manifesto validate [PATH...]`: checks signatory files.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// Files or directories to check (directories: their *.toml files).
    #[arg(default_value = SIGNATORIES_DIR)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ValidateFormat::Human)]
    pub format: ValidateFormat,
}

/// Runs `manifesto validate`: prints every problem; exit 0 when none, 1 otherwise.
pub fn run_validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let validation = validate_paths(&args.paths, today_utc());
    let text = render_validation(&validation, args.format);
    print!("{text}");
    Ok(if validation.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The output of `manifesto validate` for a validation (errors, then a summary line).
pub fn render_validation(validation: &Validation, format: ValidateFormat) -> String {
    let mut out = String::new();
    for e in &validation.errors {
        let line = match format {
            ValidateFormat::Human => e.to_human(),
            ValidateFormat::Github => e.to_github(),
        };
        let _ = writeln!(out, "{line}");
    }
    let files = validation.files;
    let plural = if files == 1 { "" } else { "s" };
    if validation.is_ok() {
        let people = validation.registry.signatories.len();
        let domains = validation.registry.domain_count();
        let _ = writeln!(
            out,
            "{files} signatory file{plural} checked: no problems ({people} signator{}, {domains} domain{})",
            if people == 1 { "y" } else { "ies" },
            if domains == 1 { "" } else { "s" }
        );
    } else {
        let n = validation.errors.len();
        let _ = writeln!(
            out,
            "{files} signatory file{plural} checked: {n} problem{}",
            if n == 1 { "" } else { "s" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(name_slug("Valérian Saliou"), "valerian-saliou");
        assert_eq!(name_slug("Mike Taylor (bear)"), "mike-taylor-bear");
        assert_eq!(
            name_slug("Rafał bluszcz Zawadzki"),
            "rafal-bluszcz-zawadzki"
        );
        assert_eq!(name_slug("Holger Weiß"), "holger-weiss");
        assert_eq!(name_slug("Адам"), "");
        assert!(developer_slug_matches("jane-doe", "jane-doe-2"));
        assert!(!developer_slug_matches("jane-doe", "jane-doe-1"));
        assert!(!developer_slug_matches("jane-doe", "jane-doe-x"));
    }

    #[test]
    fn line_index() {
        let idx = LineIndex::new("a = 1\nbé = 2\n");
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(6), (2, 1));
        assert_eq!(idx.position(10), (2, 4));
    }

    #[test]
    fn github_escaping() {
        assert_eq!(escape_data("a%b\r\nc:d,"), "a%25b%0D%0Ac:d,");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
