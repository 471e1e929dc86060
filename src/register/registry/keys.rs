//! One check per key of a signatory file, and the rules between keys (who may carry `source`
//! rather than `github`; what the file must be named). Each check reports its problems on the
//! [`FileCheck`] and returns the value when it is good.

use std::ops::Range;
use std::path::Path;

use time::{Date, Month};
use toml::de::DeValue;

use super::parse::{FileCheck, Values};
use super::problem::Problem;
use super::slug::{developer_slug_matches, is_domain_slug, is_slug, name_slug};
use super::{
    LAST_IMPORTED_YEAR, MAX_DOMAIN, MAX_DOMAINS, MAX_GITHUB, MAX_NAME, MAX_SOURCE, MAX_STATEMENT,
    MAX_URL, Role,
};
use crate::domain::{mixed_script_labels, normalize_public};
use crate::text::forbidden_char;

/// `name`: required.
pub(super) fn name(check: &mut FileCheck<'_>, values: &Values<'_>) -> Option<String> {
    match values.get("name") {
        Some(v) => check.string("name", v, MAX_NAME, true),
        None => {
            check.missing("name");
            None
        }
    }
}

/// `statement`: required.
pub(super) fn statement(check: &mut FileCheck<'_>, values: &Values<'_>) -> Option<String> {
    match values.get("statement") {
        Some(v) => check.string("statement", v, MAX_STATEMENT, true),
        None => {
            check.missing("statement");
            None
        }
    }
}

/// `role`: required, `operator` or `developer`.
pub(super) fn role(check: &mut FileCheck<'_>, values: &Values<'_>) -> Option<Role> {
    let Some(v) = values.get("role") else {
        check.missing("role");
        return None;
    };
    match v.get_ref() {
        DeValue::String(s) if s.as_ref() == "operator" => Some(Role::Operator),
        DeValue::String(s) if s.as_ref() == "developer" => Some(Role::Developer),
        DeValue::String(s) => {
            check.error(v.span(), Problem::BadRole(s.to_string()));
            None
        }
        _ => {
            check.wrong_type("role", v, "a string");
            None
        }
    }
}

/// The good domains of a file, with their spans.
#[derive(Debug, Default)]
pub(super) struct Domains {
    /// Normalised, without duplicates, in the order written.
    pub(super) list: Vec<String>,
    pub(super) spans: Vec<Range<usize>>,
    /// No problem with `domains` at all (the file name can then be checked against them).
    pub(super) ok: bool,
}

/// `domains`: 1 to [`MAX_DOMAINS`] for an operator, none for a developer.
pub(super) fn domains(
    check: &mut FileCheck<'_>,
    values: &Values<'_>,
    role: Option<Role>,
) -> Domains {
    let mut domains = Domains {
        ok: true,
        ..Domains::default()
    };
    let Some(v) = values.get("domains") else {
        if role == Some(Role::Operator) {
            check.missing("domains");
            domains.ok = false;
        }
        return domains;
    };
    let DeValue::Array(items) = v.get_ref() else {
        check.wrong_type("domains", v, "a list of strings");
        domains.ok = false;
        return domains;
    };
    if role == Some(Role::Developer) {
        check.error(v.span(), Problem::DeveloperWithDomains);
        domains.ok = false;
    } else if items.is_empty() || items.len() > MAX_DOMAINS {
        check.error(
            v.span(),
            Problem::DomainCount {
                found: items.len(),
                max: MAX_DOMAINS,
            },
        );
        domains.ok = false;
    }
    for item in items.iter() {
        if !domain(check, item, &mut domains) {
            domains.ok = false;
        }
    }
    domains
}

/// One item of `domains`: a public domain written in normal form, listed once. Adds it to
/// `domains` when good.
fn domain(
    check: &mut FileCheck<'_>,
    item: &toml::Spanned<DeValue<'_>>,
    domains: &mut Domains,
) -> bool {
    let Some(raw) = check.string("domains", item, MAX_DOMAIN, false) else {
        return false;
    };
    let problem = match normalize_public(&raw) {
        // Checked before the normal form: a look-alike is refused however it is written.
        Ok(normal) if !mixed_script_labels(&normal).is_empty() => Problem::MixedScript {
            labels: normal
                .split('.')
                .filter(|label| !mixed_script_labels(label).is_empty())
                .map(str::to_owned)
                .collect(),
            domain: normal,
        },
        Ok(normal) if normal == raw => {
            if !domains.list.contains(&normal) {
                domains.list.push(normal);
                domains.spans.push(item.span());
                return true;
            }
            Problem::DuplicateDomain {
                domain: normal,
                other: "earlier in this file".into(),
            }
        }
        Ok(normal) => Problem::NotNormalized {
            domain: raw,
            normal,
        },
        Err(reason) => Problem::BadDomain {
            domain: raw,
            reason: reason.0,
        },
    };
    check.error(item.span(), problem);
    false
}

/// `signed`: required, a TOML local date, from 2013 (when the statement was written) to today.
pub(super) fn signed(check: &mut FileCheck<'_>, values: &Values<'_>, today: Date) -> Option<Date> {
    let Some(v) = values.get("signed") else {
        check.missing("signed");
        return None;
    };
    let dt = match v.get_ref() {
        DeValue::Datetime(dt) => dt,
        _ => {
            check.wrong_type("signed", v, "a date");
            return None;
        }
    };
    let date = (dt.time.is_none() && dt.offset.is_none())
        .then_some(dt.date)
        .flatten()
        .and_then(|d| {
            let month = Month::try_from(d.month).ok()?;
            Date::from_calendar_date(i32::from(d.year), month, d.day).ok()
        });
    let Some(date) = date else {
        check.error(v.span(), Problem::NotADate(dt.to_string()));
        return None;
    };
    let earliest = Date::from_calendar_date(2013, Month::January, 1).unwrap_or(date);
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

/// `website`: optional, an `https://` URL to a public host name.
pub(super) fn website(check: &mut FileCheck<'_>, values: &Values<'_>) -> Option<String> {
    let v = values.get("website")?;
    let s = check.string("website", v, MAX_URL, true)?;
    match check_https_url(&s) {
        Ok(()) => Some(s),
        Err(problem) => {
            check.error(v.span(), problem);
            None
        }
    }
}

/// `contact`: optional, an `xmpp:` or `mailto:` URI.
pub(super) fn contact(check: &mut FileCheck<'_>, values: &Values<'_>) -> Option<String> {
    let v = values.get("contact")?;
    let s = check.string("contact", v, MAX_URL, true)?;
    if is_contact_uri(&s) {
        Some(s)
    } else {
        check.error(v.span(), Problem::BadContact(s));
        None
    }
}

/// `github`: the signer's login (whether it is required: [`provenance`]).
pub(super) fn github(check: &mut FileCheck<'_>, values: &Values<'_>) -> Option<String> {
    let v = values.get("github")?;
    let s = check.string("github", v, MAX_GITHUB, true)?;
    if is_github_login(&s) {
        Some(s)
    } else {
        check.error(v.span(), Problem::BadGithub(s));
        None
    }
}

/// `source`: where an imported signature was transcribed from (who may carry it:
/// [`provenance`]).
pub(super) fn source(check: &mut FileCheck<'_>, values: &Values<'_>) -> Option<String> {
    let v = values.get("source")?;
    check.string("source", v, MAX_SOURCE, true)
}

/// Who signed: a signature after [`LAST_IMPORTED_YEAR`] names its signer's GitHub login and
/// carries no `source`; an imported one carries at least one of the two.
pub(super) fn provenance(check: &mut FileCheck<'_>, values: &Values<'_>, signed: Option<Date>) {
    let has_github = values.contains_key("github");
    match signed {
        Some(date) if date.year() > LAST_IMPORTED_YEAR => {
            if let Some(v) = values.get("source") {
                check.error(v.span(), Problem::SourceNotAllowed);
            }
            if !has_github {
                check.whole(Problem::MissingGithub);
            }
        }
        _ => {
            if !has_github && !values.contains_key("source") {
                check.whole(Problem::MissingGithub);
            }
        }
    }
}

/// The file name follows from the content: the first domain for an operator, the name's slug
/// for a developer. Returns the slug the file has.
pub(super) fn slug(
    check: &mut FileCheck<'_>,
    values: &Values<'_>,
    path: &Path,
    role: Option<Role>,
    name: Option<&str>,
    domains: &Domains,
) -> String {
    let found = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    if path.extension().is_none_or(|e| e != "toml") || (!is_slug(&found) && !is_domain_slug(&found))
    {
        check.whole(Problem::BadSlug(found.clone()));
        return found;
    }
    match (role, name) {
        (Some(Role::Operator), _) if domains.ok => {
            if let (Some(first), Some(span)) = (domains.list.first(), domains.spans.first())
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
    found
}

/// An `https://` URL without credentials, quotes or spaces, to a public host name.
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
        // Named by its code point when it cannot be seen.
        let shown = if forbidden_char(c).is_some() {
            format!("U+{:04X}", u32::from(c))
        } else {
            format!("'{c}'")
        };
        return Err(bad(&format!("character {shown} is not allowed")));
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

fn is_contact_uri(s: &str) -> bool {
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
