//! What a check could see: every report carries its [`Coverage`], so that a pass over IPv4
//! alone never reads as a pass over the whole domain.
//!
//! Requirements are judged on the endpoints that were checked (`crate::check::grade` skips the
//! `not-checked` ones that `crate::check::reach` marks); this module says which endpoints and
//! families were checked, which were not and why, in one plain sentence for every output
//! ("checked over IPv4 only: a lax IPv6 endpoint could not be seen from here"). A registry that
//! will not accept less than everything passes `--require-full-coverage`
//! ([`require_full`]): then a requirement that rests on part of its endpoints is inconclusive.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::report::{
    Coverage, CoverageStatus, Endpoint, ErrorKind, FamilyCoverage, IpFamily, NotChecked,
    Requirement, RequirementId, Service, Status,
};

fn not_checked(ep: &Endpoint) -> bool {
    ep.error_kind == Some(ErrorKind::NotChecked)
}

/// The coverage of a check, from its endpoints.
pub(crate) fn of(endpoints: &[Endpoint]) -> Coverage {
    let mut families: BTreeMap<IpFamily, FamilyCoverage> = BTreeMap::new();
    let mut missed = Vec::new();
    for ep in endpoints {
        let Ok(ip) = ep.address.parse::<IpAddr>() else {
            continue;
        };
        let family = IpFamily::of(ip);
        let f = families.entry(family).or_insert_with(|| FamilyCoverage {
            family,
            checked: 0,
            not_checked: 0,
            reasons: vec![],
        });
        if not_checked(ep) {
            let reason = ep.error.clone().unwrap_or_else(|| "not checked".into());
            f.not_checked += 1;
            if !f.reasons.contains(&reason) {
                f.reasons.push(reason.clone());
            }
            missed.push(NotChecked {
                endpoint: ep.label(),
                reason,
            });
        } else {
            f.checked += 1;
        }
    }
    let families: Vec<FamilyCoverage> = families.into_values().collect();
    let checked: usize = families.iter().map(|f| f.checked).sum();
    let status = match (checked, missed.len()) {
        (_, 0) => CoverageStatus::Full,
        (0, _) => CoverageStatus::Nothing,
        _ => CoverageStatus::Partial,
    };
    Coverage {
        status,
        summary: summary(status, &families),
        families,
        not_checked: missed,
    }
}

fn endpoints(n: usize) -> String {
    format!("{n} endpoint{}", if n == 1 { "" } else { "s" })
}

/// "2 IPv6 endpoints not checked: this checker has no IPv6 route", one
/// part per family with endpoints not checked.
fn missed_parts(families: &[FamilyCoverage]) -> String {
    families
        .iter()
        .filter(|f| f.not_checked > 0)
        .map(|f| {
            format!(
                "{} {} not checked: {}",
                f.not_checked,
                if f.not_checked == 1 {
                    format!("{} endpoint", f.family)
                } else {
                    format!("{} endpoints", f.family)
                },
                f.reasons.join("; ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn family_list(families: &[&FamilyCoverage]) -> String {
    families
        .iter()
        .map(|f| f.family.name())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The sentence every output shows.
fn summary(status: CoverageStatus, families: &[FamilyCoverage]) -> String {
    let seen: Vec<&FamilyCoverage> = families.iter().filter(|f| f.checked > 0).collect();
    match status {
        CoverageStatus::Full if families.is_empty() => {
            "nothing to cover: no endpoint address was found".into()
        }
        CoverageStatus::Full => {
            format!("checked every endpoint found, over {}", family_list(&seen))
        }
        CoverageStatus::Nothing => format!(
            "nothing could be checked from here ({})",
            missed_parts(families)
        ),
        CoverageStatus::Partial => {
            let unseen: Vec<&FamilyCoverage> =
                families.iter().filter(|f| f.not_checked > 0).collect();
            // Whole families missing: say which family was seen and which was not.
            let whole = unseen.iter().all(|f| f.checked == 0);
            let (checked, lax) = if whole {
                (
                    format!("checked over {} only", family_list(&seen)),
                    format!(
                        "a lax {} endpoint",
                        family_list(&unseen).replace(" and ", " or ")
                    ),
                )
            } else {
                let total: usize = families.iter().map(|f| f.checked + f.not_checked).sum();
                let done: usize = families.iter().map(|f| f.checked).sum();
                (
                    format!("checked {done} of {}", endpoints(total)),
                    "a lax endpoint".to_string(),
                )
            };
            format!(
                "{checked}: {lax} could not be seen from here ({})",
                missed_parts(families)
            )
        }
    }
}

/// Which endpoints a requirement rests on.
fn in_scope(id: RequirementId, ep: &Endpoint) -> bool {
    match id {
        RequirementId::C2sTlsRequired => ep.service == Service::C2s,
        RequirementId::S2sTlsRequired => ep.service == Service::S2s,
        _ => true,
    }
}

/// `--require-full-coverage`: a pass or warn that rests on part of its endpoints becomes
/// inconclusive (a fail stays a fail: what was seen is enough for it).
pub(crate) fn require_full(
    requirements: &mut BTreeMap<RequirementId, Requirement>,
    endpoints: &[Endpoint],
    coverage: &Coverage,
) {
    for (id, req) in requirements.iter_mut() {
        let partial = endpoints.iter().any(|e| in_scope(*id, e) && not_checked(e));
        if partial && matches!(req.status, Status::Pass | Status::Warn) {
            req.status = Status::Inconclusive;
            req.summary = format!(
                "Not every endpoint could be checked and --require-full-coverage asks for all of them: {}.",
                coverage.summary
            );
            req.basis = None;
            req.fix = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{EndpointSource, Mode};

    fn ep(service: Service, address: &str, reason: Option<&str>) -> Endpoint {
        let mut ep = Endpoint::planned(
            service,
            Mode::Starttls,
            EndpointSource::Srv,
            "xmpp.example.test",
            service.default_port(),
        );
        ep.address = address.into();
        if let Some(reason) = reason {
            ep.error = Some(reason.into());
            ep.error_kind = Some(ErrorKind::NotChecked);
        }
        ep
    }

    const NO_V6: &str = "this checker has no IPv6 route";

    #[test]
    fn summaries() {
        let cases: [(&[Endpoint], CoverageStatus, &str); 6] = [
            (
                &[],
                CoverageStatus::Full,
                "nothing to cover: no endpoint address was found",
            ),
            (
                &[
                    ep(Service::C2s, "192.0.2.1", None),
                    ep(Service::C2s, "2001:db8::1", None),
                ],
                CoverageStatus::Full,
                "checked every endpoint found, over IPv4 and IPv6",
            ),
            (
                &[
                    ep(Service::C2s, "192.0.2.1", None),
                    ep(Service::S2s, "192.0.2.1", None),
                ],
                CoverageStatus::Full,
                "checked every endpoint found, over IPv4",
            ),
            (
                &[
                    ep(Service::C2s, "192.0.2.1", None),
                    ep(Service::C2s, "2001:db8::1", Some(NO_V6)),
                    ep(Service::S2s, "2001:db8::1", Some(NO_V6)),
                ],
                CoverageStatus::Partial,
                "checked over IPv4 only: a lax IPv6 endpoint could not be seen from here (2 IPv6 endpoints not checked: this checker has no IPv6 route)",
            ),
            (
                &[
                    ep(Service::C2s, "192.0.2.1", None),
                    ep(Service::C2s, "2001:db8::1", None),
                    ep(Service::C2s, "2001:db8::2", Some(NO_V6)),
                ],
                CoverageStatus::Partial,
                "checked 2 of 3 endpoints: a lax endpoint could not be seen from here (1 IPv6 endpoint not checked: this checker has no IPv6 route)",
            ),
            (
                &[ep(
                    Service::C2s,
                    "2001:db8::1",
                    Some("excluded by --ip-family ipv4"),
                )],
                CoverageStatus::Nothing,
                "nothing could be checked from here (1 IPv6 endpoint not checked: excluded by --ip-family ipv4)",
            ),
        ];
        for (eps, status, summary) in cases {
            let c = of(eps);
            assert_eq!((c.status, c.summary.as_str()), (status, summary));
        }
    }

    #[test]
    fn families_endpoints_and_brief() {
        let eps = [
            ep(Service::C2s, "192.0.2.1", None),
            ep(Service::C2s, "2001:db8::1", Some(NO_V6)),
            // No address: no family, nothing to cover.
            ep(Service::S2s, "", None),
        ];
        let c = of(&eps);
        assert_eq!(c.families.len(), 2);
        assert_eq!(
            (
                c.families[1].family,
                c.families[1].checked,
                c.families[1].not_checked
            ),
            (IpFamily::Ipv6, 0, 1)
        );
        assert_eq!(c.families[1].reasons, [NO_V6]);
        assert_eq!(c.not_checked.len(), 1);
        assert_eq!(
            c.not_checked[0].endpoint,
            "c2s starttls xmpp.example.test:5222 ([2001:db8::1])"
        );
        assert_eq!(c.brief().only, Some(IpFamily::Ipv4));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["status"], "partial");
        assert_eq!(json["families"][1]["family"], "ipv6");
        // Part of a family: no "only".
        let c = of(&[
            ep(Service::C2s, "192.0.2.1", None),
            ep(
                Service::C2s,
                "192.0.2.2",
                Some("this checker has no IPv4 route"),
            ),
        ]);
        assert_eq!((c.status, c.brief().only), (CoverageStatus::Partial, None));
        assert_eq!(of(&eps[..1]).brief().only, None);
        assert_eq!(serde_json::to_value(of(&eps[1..2]).status).unwrap(), "none");
    }

    fn req(status: Status) -> Requirement {
        Requirement {
            status,
            summary: "as judged".into(),
            basis: None,
            fix: Some("a fix".into()),
            evidence: vec![],
        }
    }

    #[test]
    fn full_coverage_required_turns_partial_passes_inconclusive() {
        // c2s fully seen over IPv4; the only s2s endpoint was not checked.
        let eps = [
            ep(Service::C2s, "192.0.2.1", None),
            ep(Service::S2s, "192.0.2.1", None),
            ep(Service::S2s, "2001:db8::1", Some(NO_V6)),
        ];
        let mut reqs = BTreeMap::from([
            (RequirementId::C2sTlsRequired, req(Status::Pass)),
            (RequirementId::S2sTlsRequired, req(Status::Pass)),
            (RequirementId::TrustedCertificate, req(Status::Warn)),
            (RequirementId::ModernTls, req(Status::Fail)),
            (RequirementId::ForwardSecrecy, req(Status::NotApplicable)),
        ]);
        require_full(&mut reqs, &eps, &of(&eps));
        let statuses: Vec<Status> = reqs.values().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [
                Status::Pass,
                Status::Inconclusive,
                Status::Inconclusive,
                Status::Fail,
                Status::NotApplicable
            ]
        );
        let s2s = &reqs[&RequirementId::S2sTlsRequired];
        assert!(
            s2s.summary.contains("--require-full-coverage"),
            "{}",
            s2s.summary
        );
        assert!(
            s2s.summary.contains("checked over IPv4 only"),
            "{}",
            s2s.summary
        );
        assert_eq!(s2s.fix, None);
        // Full coverage: nothing changes.
        let mut reqs = BTreeMap::from([(RequirementId::ModernTls, req(Status::Pass))]);
        require_full(&mut reqs, &eps[..2], &of(&eps[..2]));
        assert_eq!(reqs[&RequirementId::ModernTls].status, Status::Pass);
    }
}
