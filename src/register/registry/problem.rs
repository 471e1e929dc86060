//! What can be wrong with a signatory file, where, and what to do about it; and the two
//! printed forms of a problem (for people, and as a GitHub Actions workflow command, whose
//! properties and message are escaped so that a file name or a key cannot forge another
//! annotation).
//!
//! Every piece of text that comes from the file or its name (keys, values, domains, paths) is
//! passed through [`neutralize`] where a problem is displayed, so that the `Display` form of a
//! problem is inert wherever it is printed: a terminal (`validate`, `site`), an annotation, a
//! review comment. An ESC sequence in a key would otherwise retitle the maintainer's terminal,
//! and a newline would forge an output line. Domains are shown as [`domain::display`] decides,
//! so that a look-alike is never shown in the Unicode form it imitates.

use std::path::{Path, PathBuf};

use time::Date;

use super::{KEYS, MAX_DOMAINS, SIGNATORIES_DIR};
use crate::domain;
use crate::text::neutralize;

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
    #[error("cannot read the file: {}", neutralize(.0))]
    Io(String),
    #[error("{0}")]
    NotAFile(EntryKind),
    #[error("the file is {size} bytes, over the limit of {max} bytes")]
    FileTooLarge { size: usize, max: usize },
    #[error("the file is not valid UTF-8")]
    NotUtf8,
    #[error("TOML syntax error: {}", neutralize(.0))]
    Syntax(String),
    #[error("unknown key `{}`", neutralize(.key))]
    UnknownKey {
        key: String,
        suggestion: Option<&'static str>,
    },
    #[error("missing required key `{0}`")]
    MissingKey(&'static str),
    #[error("`{}` must be {expected}, found {found}", neutralize(.key))]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("`{}` is {len} characters long, over the limit of {max}", neutralize(.key))]
    TooLong { key: String, len: usize, max: usize },
    #[error("`{}` is empty", neutralize(.key))]
    Empty { key: String },
    /// A character [`crate::text::forbidden_char`] refuses, reported where it is written.
    #[error("`{}` contains {}, {why}", neutralize(.key), code_point(.ch))]
    ForbiddenCharacter {
        key: String,
        ch: char,
        why: &'static str,
    },
    #[error("`{}` starts or ends with whitespace", neutralize(.key))]
    Whitespace { key: String },
    #[error("`role` must be \"operator\" or \"developer\", found {}", quoted(.0))]
    BadRole(String),
    #[error("bad domain {}: {}", written_domain(.domain), neutralize(.reason))]
    BadDomain { domain: String, reason: String },
    #[error("domain {} is not written in normal form", written_domain(.domain))]
    NotNormalized { domain: String, normal: String },
    #[error("duplicate domain {}: already listed {}", shown_domain(.domain), neutralize(.other))]
    DuplicateDomain { domain: String, other: String },
    #[error("an operator lists 1 to {max} domains, found {found}")]
    DomainCount { found: usize, max: usize },
    #[error("a developer lists no domains")]
    DeveloperWithDomains,
    /// A domain with a label mixing scripts (UTS #39): it can read as another name.
    #[error("domain {} mixes scripts in {}", shown_domain(.domain), shown_labels(.labels))]
    MixedScript {
        /// The A-label form.
        domain: String,
        /// The labels that mix scripts, as A-labels.
        labels: Vec<String>,
    },
    #[error("`signed` must be a date, found {}", neutralize(.0))]
    NotADate(String),
    #[error("the date {0} is in the future")]
    FutureDate(Date),
    #[error("the date {0} is before the statement existed (2013)")]
    DateTooEarly(Date),
    #[error("`website` must be an https:// URL, found {}", quoted(.0))]
    NotHttps(String),
    #[error("`{}` is not a valid URL: {}", neutralize(.key), neutralize(.reason))]
    BadUrl { key: String, reason: String },
    #[error("`contact` must be an xmpp: or mailto: URI, found {}", quoted(.0))]
    BadContact(String),
    #[error("`github` is not a valid GitHub login: {}", quoted(.0))]
    BadGithub(String),
    #[error("`github` is required for new signatures")]
    MissingGithub,
    #[error("`source` is only for the signatures imported from 2013-2014")]
    SourceNotAllowed,
    #[error(
        "the file name does not match the slug: found `{}`, expected `{}`",
        neutralize(.found),
        neutralize(.expected)
    )]
    WrongSlug { found: String, expected: String },
    #[error("`{}` is not a valid slug for a file name", neutralize(.0))]
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
            Problem::ForbiddenCharacter { ch, .. } => forbidden_hint(*ch).into(),
            Problem::Whitespace { .. } => "remove the leading and trailing spaces".into(),
            Problem::BadRole(_) => "write role = \"operator\" or role = \"developer\"".into(),
            Problem::BadDomain { .. } => {
                "list the public XMPP domain users have addresses at, e.g. \"example.org\"".into()
            }
            Problem::NotNormalized { normal, .. } => {
                format!("write it as {}{}", quoted(normal), unicode_aside(normal))
            }
            Problem::DuplicateDomain { .. } => {
                "a domain belongs to one signatory only; if the service changed hands, \
                 ask in the pull request to move it"
                    .into()
            }
            Problem::MixedScript { .. } => {
                "a label mixing scripts (say Latin and Cyrillic letters) can read as another \
                 name, so it cannot be shown safely, and the register only lists names it can \
                 show: list the domain your users' addresses are at, each label in one script"
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
                format!(
                    "rename the file to {SIGNATORIES_DIR}/{}.toml",
                    neutralize(expected)
                )
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

fn forbidden_hint(ch: char) -> &'static str {
    match ch {
        '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => "keep it on one line",
        '\t' => "replace the tab with a space",
        c if c.is_whitespace() => "write spaces as plain U+0020 spaces",
        _ => {
            "remove it: the register shows text as it reads, so it holds no control, \
             invisible or private-use characters"
        }
    }
}

/// `U+200B`: a character named by its code point, whatever it is.
fn code_point(c: &char) -> String {
    format!("U+{:04X}", u32::from(*c))
}

/// A value between double quotes, inert ([`neutralize`] doubles backslashes, so a quote
/// escaped here cannot be confused with one from the value).
fn quoted(s: &str) -> String {
    format!("\"{}\"", neutralize(s).replace('"', "\\\""))
}

/// A normalised domain in a message: its A-label, and beside it its Unicode form when
/// [`domain::display`] shows one (never for a look-alike).
fn shown_domain(ascii: &str) -> String {
    format!("`{}`{}", neutralize(ascii), unicode_aside(ascii))
}

/// ` (bücher.de)` after `xn--bcher-kva.de`: the Unicode form of a normalised domain, when
/// [`domain::display`] shows one; else nothing.
fn unicode_aside(ascii: &str) -> String {
    let unicode = domain::display(ascii);
    if unicode == ascii {
        String::new()
    } else {
        format!(" ({})", neutralize(&unicode))
    }
}

/// A domain as its author wrote it, quoted; but Unicode that [`domain::display`] would not
/// show (it could read as another name) is replaced by its A-label, so that the message does
/// not repeat the deception.
fn written_domain(raw: &str) -> String {
    if !raw.is_ascii()
        && let Ok(mut ascii) = domain::normalize(raw)
        && domain::display(&ascii) == ascii
    {
        // `normalize` drops a trailing dot: keep it, the message may be about it.
        if raw.trim_end().ends_with('.') {
            ascii.push('.');
        }
        return format!("{} (its Unicode form is not shown)", quoted(&ascii));
    }
    quoted(raw)
}

fn shown_labels(labels: &[String]) -> String {
    let list: Vec<String> = labels
        .iter()
        .map(|l| format!("`{}`", neutralize(l)))
        .collect();
    let plural = if list.len() == 1 { "" } else { "s" };
    format!("label{plural} {}", list.join(", "))
}

/// A path in a message: a file name is written by whoever opens a pull request.
fn shown_path(path: &Path) -> String {
    neutralize(&path.display().to_string()).into_owned()
}

/// A problem found at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {problem}", shown_path(.file))]
pub struct RegistryError {
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub problem: Problem,
}

impl RegistryError {
    /// The problem's hint, inert.
    pub fn hint(&self) -> String {
        neutralize(&self.problem.hint()).into_owned()
    }

    /// `file:line:column: error: message` then an indented `hint:` line, inert in a terminal.
    pub fn to_human(&self) -> String {
        format!(
            "{}:{}:{}: error: {}\n  hint: {}",
            shown_path(&self.file),
            self.line,
            self.column,
            self.problem,
            self.hint()
        )
    }

    /// A GitHub Actions workflow command (`::error file=F,line=L,col=C::MSG`): the text made
    /// inert, then escaped for the workflow command (GitHub lets an ESC through to the log).
    pub fn to_github(&self) -> String {
        format!(
            "::error file={},line={},col={},title={}::{}",
            escape_property(&shown_path(&self.file)),
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
    fn text_from_the_file_is_inert_in_every_form() {
        let e = RegistryError {
            file: PathBuf::from("a\u{1b}]0;t\u{7}\nb.toml"),
            line: 2,
            column: 3,
            problem: Problem::BadContact("x\"\u{1b}[2J\\".into()),
        };
        let forms = [e.to_string(), e.to_human(), e.to_github()];
        for form in &forms {
            assert!(!form.contains(['\u{1b}', '\u{7}']), "{form:?}");
        }
        assert!(!forms[0].contains('\n') && !forms[2].contains('\n'));
        assert_eq!(forms[1].lines().count(), 2, "the message and its hint");
        assert!(forms[0].starts_with("a\\u{001b}]0;t\\u{0007}\\u{000a}b.toml:2:3: "));
        // A quote of the value is escaped, after its backslashes are doubled: unambiguous.
        assert!(
            forms[0].ends_with(r#"found "x\"\u{001b}[2J\\""#),
            "{}",
            forms[0]
        );
    }

    #[test]
    fn look_alikes_are_shown_by_their_a_label() {
        assert_eq!(written_domain("jabber.org"), "\"jabber.org\"");
        assert_eq!(written_domain("bücher.de"), "\"bücher.de\"");
        assert_eq!(
            written_domain("j\u{430}bber.org."),
            "\"xn--jbber-4ve.org.\" (its Unicode form is not shown)"
        );
        assert_eq!(
            shown_domain("xn--bcher-kva.de"),
            "`xn--bcher-kva.de` (bücher.de)"
        );
        assert_eq!(shown_domain("xn--jbber-4ve.org"), "`xn--jbber-4ve.org`");
    }

    #[test]
    fn github_escaping() {
        assert_eq!(escape_data("a%b\r\nc:d,"), "a%25b%0D%0Ac:d,");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
