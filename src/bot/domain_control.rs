//! The domain-control requirement ([`RequirementId::DomainControl`]): whoever adds a domain to
//! the register must control its DNS. Proof is a TXT record at `_xmpp-manifesto.DOMAIN`
//! ([`DOMAIN_CONTROL_LABEL`]) containing `github=LOGIN`, for the PR's author or the signatory
//! file's `github` login. Logins are compared case-insensitively (GitHub's rule).
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
/// `Err(dns error)`. `logins` are the accepted GitHub logins (validated), best first.
pub fn judge_domain_control(
    domain: &str,
    logins: &[String],
    lookup: Result<Vec<String>, String>,
) -> Requirement {
    let name = domain_control_name(domain);
    let fix = Some(fix(&name, logins));
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
    let matched = found
        .iter()
        .find(|t| logins.iter().any(|l| l.eq_ignore_ascii_case(t)));
    match matched {
        Some(login) => Requirement {
            status: Status::Pass,
            summary: format!("The TXT record at {name} names github={login}."),
            basis: None,
            fix: None,
            evidence,
        },
        None => Requirement {
            status: Status::Fail,
            summary: unmatched_summary(&name, logins, &texts),
            basis: None,
            fix,
            evidence,
        },
    }
}

/// The record to add: for the best login, or a placeholder when no login is known.
fn fix(name: &str, logins: &[String]) -> String {
    let record = |login: &str| format!("`{name}. 3600 IN TXT \"github={login}\"`");
    match logins.first() {
        Some(login) => format!("Add this DNS record, then push again: {}", record(login)),
        None => format!(
            "Add `github = \"LOGIN\"` (your GitHub login) to the file and a DNS record {}",
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

/// Why no TXT text at `name` proves control.
fn unmatched_summary(name: &str, logins: &[String], texts: &[String]) -> String {
    if texts.is_empty() {
        format!("There is no TXT record at {name}.")
    } else if logins.is_empty() {
        "No GitHub login to match: neither the PR author nor the file's github field is known."
            .to_owned()
    } else {
        format!(
            "The TXT records at {name} do not name github={}.",
            logins.join(" or github=")
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
        let logins = vec!["alice".to_owned()];
        let r = judge_domain_control("a.org", &logins, Ok(vec!["github=ALICE".into()]));
        assert_eq!(r.status, Status::Pass);
        let r = judge_domain_control("a.org", &logins, Ok(vec![]));
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.fix
                .unwrap()
                .contains("`_xmpp-manifesto.a.org. 3600 IN TXT \"github=alice\"`")
        );
        let r = judge_domain_control("a.org", &logins, Ok(vec!["github=mallory".into()]));
        assert_eq!(r.status, Status::Fail);
        let r = judge_domain_control("a.org", &logins, Err("SERVFAIL".into()));
        assert_eq!(r.status, Status::Inconclusive);
        let r = judge_domain_control("a.org", &[], Ok(vec!["github=x".into()]));
        assert!(r.summary.starts_with("No GitHub login to match"));
        assert!(r.fix.unwrap().contains("github=LOGIN"));
    }
}
