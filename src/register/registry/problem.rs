//! What can be wrong with a signatory file, where, and what to do about it; and the two
//! printed forms of a problem (for people, and as a GitHub Actions workflow command, whose
//! properties and message are escaped so that a file name or a key cannot forge another
//! annotation).

use std::path::{Path, PathBuf};

use time::Date;

use super::{KEYS, MAX_DOMAINS, SIGNATORIES_DIR};

/// What an entry of a register directory is, when it is not a signatory file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A symbolic link (to a file, a directory, or nothing): never followed, as it could point
    /// outside the register and what it points to is not what the pull request shows.
    Symlink,
    /// A directory: the register is flat.
    Directory,
    /// A regular file whose name does not end in `.toml`: it would never be read.
    NotToml,
    /// A FIFO, a socket, a device.
    Special,
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EntryKind::Symlink => "a symbolic link, not a signatory file",
            EntryKind::Directory => "a directory, not a signatory file",
            EntryKind::NotToml => "not a signatory file: its name does not end in .toml",
            EntryKind::Special => "not a regular file",
        })
    }
}

/// What is wrong, without where. The `Display` form is the message; [`Problem::hint`] says
/// what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("{0}")]
    NotAFile(EntryKind),
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
            Problem::NotAFile(kind) => entry_hint(*kind).into(),
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

fn entry_hint(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Symlink => {
            "replace the link with the file itself: links are not followed, as what they \
             point to is not what the pull request shows"
        }
        EntryKind::Directory => {
            "signatory files sit directly in signatories/, one <slug>.toml each: move them up \
             and remove the directory"
        }
        EntryKind::NotToml => {
            "name it <slug>.toml (see CONTRIBUTING.md), or move it out of the register"
        }
        EntryKind::Special => "a signatory file is a plain text file",
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

/// A problem with a whole file (it cannot be read, parsed, or placed), reported at 1:1.
pub(super) fn at_start(path: &Path, problem: Problem) -> RegistryError {
    RegistryError {
        file: path.to_path_buf(),
        line: 1,
        column: 1,
        problem,
    }
}

/// Sorts by position, so the author reads them top to bottom (stable: problems at one place
/// keep the order they were found in).
pub(super) fn sort_errors(errors: &mut [RegistryError]) {
    errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escaping() {
        assert_eq!(escape_data("a%b\r\nc:d,"), "a%25b%0D%0Ac:d,");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
