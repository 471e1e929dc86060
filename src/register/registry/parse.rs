//! Reading one signatory file: size, encoding and TOML syntax, then the keys (each checked on
//! its own in [`super::keys`]), every problem placed at its line and column.
//!
//! The file is untrusted (it comes from a pull request): it is capped in size before it is
//! parsed, and every problem is collected rather than stopping at the first, so the author
//! gets one complete review.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use time::Date;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::chars::forbidden_in_source;
use super::problem::{Problem, RegistryError, at_start, sort_errors};
use super::{KEYS, MAX_FILE_BYTES, Signatory, keys};
use crate::text::first_forbidden;

/// The known keys of a file, with their values (unknown keys are reported, not kept).
pub(super) type Values<'a> = BTreeMap<&'static str, &'a Spanned<DeValue<'a>>>;

/// A signatory as read from its file, with what the checks across files need.
#[derive(Debug, Clone)]
pub(super) struct Parsed {
    pub(super) signatory: Signatory,
    /// The span of each domain, in the order of `signatory.domains`.
    pub(super) domain_spans: Vec<Range<usize>>,
    /// To place a problem found later (a domain another file lists).
    pub(super) index: LineIndex,
}

/// Byte offset to 1-based line and column (in characters).
#[derive(Debug, Clone)]
pub(super) struct LineIndex {
    text: String,
    starts: Vec<usize>,
}

impl LineIndex {
    pub(super) fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            text: text.to_owned(),
            starts,
        }
    }

    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
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

/// The problems of one file, as they are found.
pub(super) struct FileCheck<'a> {
    path: &'a Path,
    index: LineIndex,
    errors: Vec<RegistryError>,
}

impl FileCheck<'_> {
    pub(super) fn error(&mut self, span: Range<usize>, problem: Problem) {
        let (line, column) = self.index.position(span.start);
        self.errors.push(RegistryError {
            file: self.path.to_path_buf(),
            line,
            column,
            problem,
        });
    }

    /// A required key is absent: reported at the start of the file.
    pub(super) fn missing(&mut self, key: &'static str) {
        self.error(0..0, Problem::MissingKey(key));
    }

    /// A problem with the file as a whole (no key to point at).
    pub(super) fn whole(&mut self, problem: Problem) {
        self.error(0..0, problem);
    }

    pub(super) fn wrong_type(
        &mut self,
        key: &str,
        value: &Spanned<DeValue<'_>>,
        expected: &'static str,
    ) {
        self.error(
            value.span(),
            Problem::WrongType {
                key: key.into(),
                expected,
                found: value.get_ref().type_str(),
            },
        );
    }

    /// A string value, checked for type, emptiness, length, and characters that
    /// [`first_forbidden`] refuses (controls, invisibles, separators: they make a value read
    /// as something it is not), the first of them reported where it is written.
    pub(super) fn string(
        &mut self,
        key: &str,
        value: &Spanned<DeValue<'_>>,
        max: usize,
        trim: bool,
    ) -> Option<String> {
        let span = value.span();
        let DeValue::String(s) = value.get_ref() else {
            self.wrong_type(key, value, "a string");
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
        if let Some((_, ch, why)) = first_forbidden(s) {
            // The offset in the value is not the offset in the file (quotes, escapes): find
            // where the character is written; the start of the value if it cannot be found.
            let at = self
                .index
                .text
                .get(span.clone())
                .and_then(forbidden_in_source)
                .map_or(span.start, |offset| span.start + offset);
            let problem = Problem::ForbiddenCharacter {
                key: key.into(),
                ch,
                why,
            };
            self.error(at..at, problem);
            ok = false;
        } else if trim && s.trim() != s {
            // (Only without a refused character: a trailing newline is reported once.)
            self.error(span, Problem::Whitespace { key: key.into() });
            ok = false;
        }
        ok.then(|| s.to_owned())
    }
}

/// Parses and checks one file.
pub(super) fn parse_signatory(
    path: &Path,
    bytes: &[u8],
    today: Date,
) -> Result<Parsed, Vec<RegistryError>> {
    let text = decode(path, bytes)?;
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
    let values = known_keys(&mut check, &table);

    // In this order, so that problems at the same place read in the order of the template.
    let name = keys::name(&mut check, &values);
    let statement = keys::statement(&mut check, &values);
    let role = keys::role(&mut check, &values);
    let domains = keys::domains(&mut check, &values, role);
    let signed = keys::signed(&mut check, &values, today);
    let website = keys::website(&mut check, &values);
    let contact = keys::contact(&mut check, &values);
    let github = keys::github(&mut check, &values);
    let source = keys::source(&mut check, &values);
    keys::provenance(&mut check, &values, signed);
    let slug = keys::slug(&mut check, &values, path, role, name.as_deref(), &domains);

    sort_errors(&mut check.errors);
    if !check.errors.is_empty() {
        return Err(check.errors);
    }
    match (name, role, statement, signed) {
        (Some(name), Some(role), Some(statement), Some(signed)) => Ok(Parsed {
            signatory: Signatory {
                slug,
                path: path.to_path_buf(),
                name,
                role,
                domains: domains.list,
                statement,
                signed,
                website,
                contact,
                github,
                source,
            },
            domain_spans: domains.spans,
            index: check.index,
        }),
        // Every `None` above pushed an error.
        _ => Err(vec![at_start(path, Problem::MissingKey("name"))]),
    }
}

/// The text of a file within the size cap, or where its UTF-8 breaks.
fn decode<'b>(path: &Path, bytes: &'b [u8]) -> Result<&'b str, Vec<RegistryError>> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(vec![at_start(
            path,
            Problem::FileTooLarge {
                size: bytes.len(),
                max: MAX_FILE_BYTES,
            },
        )]);
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned();
        let (line, column) = LineIndex::new(&valid).position(valid.len());
        vec![RegistryError {
            file: path.to_path_buf(),
            line,
            column,
            problem: Problem::NotUtf8,
        }]
    })
}

/// The values of the known keys; every other key is a problem, with a suggestion.
fn known_keys<'a>(check: &mut FileCheck<'_>, table: &'a Spanned<DeTable<'a>>) -> Values<'a> {
    let mut values = Values::new();
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
    values
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index() {
        let idx = LineIndex::new("a = 1\nbé = 2\n");
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(6), (2, 1));
        assert_eq!(idx.position(10), (2, 4));
    }
}
