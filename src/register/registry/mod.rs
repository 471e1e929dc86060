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
//! - every string and the file itself have a size cap; no string holds a control, invisible,
//!   format or separator character other than U+0020 ([`crate::text::forbidden_char`]);
//! - no domain mixes scripts within a label (it could read as another name);
//! - the directory holds regular `*.toml` files only: no links, no subdirectories.
//!
//! Layout: this file holds the types and the validation of a set of files (the rules across
//! files); `files` lists a directory and reads a file, `parse` parses one file, `keys` checks it
//! one key at a time, `chars` places a refused character, `slug` names files, `problem` says
//! what is wrong and where, `render` prints it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::{Date, OffsetDateTime};

mod chars;
mod files;
mod keys;
mod parse;
mod problem;
mod render;
mod slug;

pub use crate::domain::MAX_DOMAIN;
pub use files::{DirListing, expand_paths, list_dir, toml_files};
pub use keys::is_github_login;
pub use problem::{EntryKind, Problem, RegistryError, escape_data, escape_property};
pub use render::{ValidateFormat, render_validation};
pub use slug::{is_slug, name_slug};

use files::{is_real_dir, read_capped};
use parse::{Parsed, parse_signatory};
use problem::{at_start, sort_errors};

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
    for path in paths.iter().filter(|p| !is_real_dir(p)) {
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
        match read_capped(file) {
            Ok(bytes) => sources.push((file.clone(), bytes)),
            Err(problem) => errors.push(at_start(file, problem)),
        }
    }
    let context: Vec<(PathBuf, Vec<u8>)> = context_files
        .into_iter()
        .filter_map(|f| read_capped(&f).ok().map(|b| (f, b)))
        .collect();
    let mut validation = validate_sources_in_context(&sources, &context, today);
    // Entries that are not signatory files were looked at too.
    let entries = errors
        .iter()
        .filter(|e| matches!(e.problem, Problem::NotAFile(_)))
        .count();
    validation.errors.extend(errors);
    sort_errors(&mut validation.errors);
    validation.files = files.len() + entries;
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
            Ok(p) => parsed.push(p),
            Err(mut e) => errors.append(&mut e),
        }
    }

    let mut owners: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (path, bytes) in context {
        if let Ok(p) = parse_signatory(path, bytes, today) {
            for domain in p.signatory.domains {
                owners.entry(domain).or_insert_with(|| path.clone());
            }
        }
    }
    let rejected = one_owner_per_domain(&parsed, owners, &mut errors);

    let mut signatories: Vec<Signatory> = parsed
        .into_iter()
        .zip(rejected)
        .filter(|(_, rejected)| !rejected)
        .map(|(p, _)| p.signatory)
        .collect();
    signatories.sort_by(|a, b| a.slug.cmp(&b.slug).then_with(|| a.path.cmp(&b.path)));
    sort_errors(&mut errors);
    Validation {
        registry: Registry { signatories },
        errors,
        files: sources.len(),
    }
}

/// One owner per domain: the earlier signature keeps it, then the earlier file name; `owners`
/// starts with the domains of the context files. Reports every later listing, and returns which
/// of `parsed` lost a domain.
fn one_owner_per_domain(
    parsed: &[Parsed],
    mut owners: BTreeMap<String, PathBuf>,
    errors: &mut Vec<RegistryError>,
) -> Vec<bool> {
    let mut order: Vec<usize> = (0..parsed.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&parsed[a].signatory, &parsed[b].signatory);
        (a.signed, &a.path).cmp(&(b.signed, &b.path))
    });
    let mut rejected = vec![false; parsed.len()];
    for &i in &order {
        let Parsed {
            signatory: s,
            domain_spans,
            index,
        } = &parsed[i];
        for (domain, span) in s.domains.iter().zip(domain_spans) {
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
    rejected
}
