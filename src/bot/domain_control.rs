//! The domain-control requirement ([`RequirementId::DomainControl`]): whoever adds a domain to
//! the register must control its DNS. Proof is a TXT record at `_xmpp-manifesto.DOMAIN`
//! ([`DOMAIN_CONTROL_LABEL`]) containing `github=LOGIN`, where LOGIN is the PR's author. Logins
//! are compared case-insensitively (GitHub's rule).
//!
//! Threat model: the record proves that whoever controls the domain's DNS vouches for a GitHub
//! account. Matching it against the signatory file's own `github` field would prove nothing
//! about the PR: anyone can write alice's login into a file, or edit alice's entry, and borrow
//! alice's record. So only the PR's author, as GitHub reports it, is matched; without an author
//! the record cannot be matched to anyone and the requirement is inconclusive.
//!
//! [`RequirementId::DomainControl`]: crate::report::RequirementId::DomainControl

use hickory_proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;

use crate::report::{Requirement, Status};

/// Where the domain-control TXT record lives, below the domain.
pub const DOMAIN_CONTROL_LABEL: &str = "_xmpp-manifesto";
/// Most TXT texts kept from one lookup.
const MAX_TXT_RECORDS: usize = 64;
/// Most TXT texts quoted as evidence.
const MAX_TXT_EVIDENCE: usize = 16;

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
/// `Err(dns error)`. `author` is the PR's author (a validated login), if known.
pub fn judge_domain_control(
    domain: &str,
    author: Option<&str>,
    lookup: Result<Vec<String>, String>,
) -> Requirement {
    let name = domain_control_name(domain);
    let fix = Some(fix(&name, author));
    let texts = match lookup {
        Ok(texts) => texts,
        Err(e) => {
            return Requirement {
                status: Status::Inconclusive,
                summary: format!("The TXT lookup of {name} failed, so domain control is unproven."),
                basis: None,
                fix,
                evidence: vec![format!("TXT {name}: {e}")],
            };
        }
    };
    let evidence = evidence(&name, &texts);
    let found = github_tokens(&texts);
    let Some(author) = author else {
        return Requirement {
            status: Status::Inconclusive,
            summary: format!(
                "The PR's author is not known (no --author), so the TXT record at {name} cannot \
                 be matched to anyone."
            ),
            basis: None,
            fix,
            evidence,
        };
    };
    match found.iter().find(|t| t.eq_ignore_ascii_case(author)) {
        Some(login) => Requirement {
            status: Status::Pass,
            summary: format!("The TXT record at {name} names github={login}."),
            basis: None,
            fix: None,
            evidence,
        },
        None => Requirement {
            status: Status::Fail,
            summary: unmatched_summary(&name, author, &texts, &found),
            basis: None,
            fix,
            evidence,
        },
    }
}

/// The record to add: for the author, or a placeholder when the author is unknown.
fn fix(name: &str, author: Option<&str>) -> String {
    let record = |login: &str| format!("`{name}. 3600 IN TXT \"github={login}\"`");
    match author {
        Some(login) => format!("Add this DNS record, then push again: {}", record(login)),
        None => format!(
            "Review with `--author LOGIN` (the PR's author); the DNS record is {}",
            record("LOGIN")
        ),
    }
}

/// The TXT texts found at `name`, quoted (or that there is none).
fn evidence(name: &str, texts: &[String]) -> Vec<String> {
    if texts.is_empty() {
        vec![format!("TXT {name}: no record")]
    } else {
        texts
            .iter()
            .take(MAX_TXT_EVIDENCE)
            .map(|t| format!("TXT {name}: \"{t}\""))
            .collect()
    }
}

/// Why no TXT text at `name` proves that `author` controls the domain.
fn unmatched_summary(name: &str, author: &str, texts: &[String], found: &[String]) -> String {
    if texts.is_empty() {
        format!("There is no TXT record at {name}.")
    } else if found.is_empty() {
        format!("The TXT records at {name} name no github login; the PR's author is {author}.")
    } else {
        // Another login's record proves that login's control, not the author's: whoever opens
        // the PR must be the one the DNS names.
        format!(
            "The TXT records at {name} name github={}, not the PR's author github={author}: \
             the record must name whoever opens the pull request.",
            found
                .iter()
                .take(MAX_TXT_EVIDENCE)
                .cloned()
                .collect::<Vec<_>>()
                .join(", github=")
        )
    }
}

/// Looks up `_xmpp-manifesto.DOMAIN` TXT: the texts (empty when none), or the DNS error.
pub async fn lookup_domain_control(
    resolver: &TokioResolver,
    domain: &str,
) -> Result<Vec<String>, String> {
    let fqdn = format!("{}.", domain_control_name(domain));
    match resolver.lookup(fqdn.as_str(), RecordType::TXT).await {
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
            .take(MAX_TXT_RECORDS)
            .collect()),
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(vec![]),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let t = github_tokens(&["v=1; github=Alice github=bob".into(), "other".into()]);
        assert_eq!(t, vec!["Alice", "bob"]);
    }

    #[test]
    fn domain_control_judged() {
        let alice = Some("alice");
        let r = judge_domain_control("a.org", alice, Ok(vec!["github=ALICE".into()]));
        assert_eq!(r.status, Status::Pass);
        let r = judge_domain_control("a.org", alice, Ok(vec![]));
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.fix
                .unwrap()
                .contains("`_xmpp-manifesto.a.org. 3600 IN TXT \"github=alice\"`")
        );
        let r = judge_domain_control("a.org", alice, Err("SERVFAIL".into()));
        assert_eq!(r.status, Status::Inconclusive);
        let r = judge_domain_control("a.org", alice, Ok(vec!["v=spf1".into()]));
        assert_eq!(r.status, Status::Fail);
        assert!(r.summary.contains("name no github login"), "{}", r.summary);
    }

    /// A record naming someone else proves nothing for the PR's author, even when the file
    /// names that someone.
    #[test]
    fn only_the_pr_author_counts() {
        let r = judge_domain_control("a.org", Some("mallory"), Ok(vec!["github=alice".into()]));
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.summary
                .contains("name github=alice, not the PR's author github=mallory"),
            "{}",
            r.summary
        );
        assert!(r.fix.unwrap().contains("\"github=mallory\""));
        // Without an author the record cannot be matched: not a failure of the domain.
        let r = judge_domain_control("a.org", None, Ok(vec!["github=alice".into()]));
        assert_eq!(r.status, Status::Inconclusive);
        assert!(r.summary.contains("no --author"), "{}", r.summary);
        assert!(r.fix.unwrap().contains("github=LOGIN"));
    }
}
