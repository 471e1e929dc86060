//! From evidence to requirements: each endpoint is judged alone, a requirement takes its worst
//! endpoint, and every status comes with a sentence an operator can act on.
//!
//! One file per requirement holds its judge of one endpoint and its pass sentence:
//! `tls_required` (shared by `c2s-tls-required` and `s2s-tls-required`), `trusted_certificate`,
//! `modern_tls` and `forward_secrecy`; `fix` holds the changes to make, in the words of the
//! server software it detects. This file aggregates the judgements and degrades them when
//! discovery failed: no conclusion may rest on a lookup that failed. Endpoints this checker
//! could not contact at all (`not-checked`: no route to their family, `--ip-family`) are not
//! judged: `unseen` says how many and why beside the judgement of the others.

mod fix;
mod forward_secrecy;
mod modern_tls;
mod outbound_tls;
mod tls_required;
mod trusted_certificate;
mod unseen;

#[cfg(test)]
mod testkit;

use std::collections::BTreeMap;

use crate::check::dns::Discovery;
use crate::check::posture::Offer;
use crate::report::{
    Basis, DiscoveryOutcome, Endpoint, ErrorKind, PostureOutcome, PostureProbe, Requirement,
    RequirementId, Service, Software, StarttlsOutcome, Status,
};

use fix::Family;
pub use fix::detect_software;

/// One endpoint's contribution to a requirement.
#[derive(Debug, Clone)]
struct Judgement {
    status: Status,
    /// Sentence about this endpoint, without the endpoint's name.
    finding: String,
    basis: Option<Basis>,
}

impl Judgement {
    fn new(status: Status, finding: impl Into<String>) -> Self {
        Judgement {
            status,
            finding: finding.into(),
            basis: None,
        }
    }

    fn with_basis(mut self, basis: Basis) -> Self {
        self.basis = Some(basis);
        self
    }
}

/// Judges one endpoint for one requirement.
type Judge = fn(&Endpoint) -> Judgement;

/// Evaluates the five requirements of a check.
pub fn requirements(
    domain: &str,
    discovery: &Discovery,
    endpoints: &[Endpoint],
    software: Option<Software>,
) -> BTreeMap<RequirementId, Requirement> {
    let mut out = BTreeMap::new();
    let family = fix::family(software, endpoints);
    for service in [Service::C2s, Service::S2s] {
        let detected = (software, family);
        let (id, req) = tls_required_for(service, domain, discovery, endpoints, detected);
        out.insert(id, req);
    }
    for (id, judge) in [
        (
            RequirementId::TrustedCertificate,
            trusted_certificate::judge as Judge,
        ),
        (RequirementId::ModernTls, modern_tls::judge),
        (RequirementId::ForwardSecrecy, forward_secrecy::judge),
    ] {
        out.insert(
            id,
            over_all_endpoints(id, judge, domain, discovery, endpoints, family),
        );
    }
    out
}

/// `s2s-outbound-tls`, for a check that used a dialback responder: the s2s endpoints whose
/// outbound probe ran.
pub fn outbound_requirement(
    domain: &str,
    discovery: &Discovery,
    endpoints: &[Endpoint],
    software: Option<Software>,
) -> Requirement {
    let id = RequirementId::S2sOutboundTls;
    let family = fix::family(software, endpoints);
    let s2s: Vec<&Endpoint> = endpoints
        .iter()
        .filter(|e| e.service == Service::S2s)
        .collect();
    let probed: Vec<&Endpoint> = s2s
        .iter()
        .copied()
        .filter(|e| outbound_tls::probe_of(e).is_some())
        .collect();
    let mut req = if s2s.is_empty() && discovery.absent.contains(&Service::S2s) {
        Requirement {
            status: Status::NotApplicable,
            summary: format!("{domain} publishes no s2s service: it does not federate."),
            basis: None,
            fix: None,
            evidence: vec![],
        }
    } else if probed.is_empty() {
        let reasons = s2s
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.label(),
                    e.error.as_deref().unwrap_or("not probed (Direct TLS)")
                )
            })
            .collect();
        Requirement {
            status: Status::Inconclusive,
            summary: format!(
                "No s2s endpoint of {domain} could be asked to federate with a peer that offers no TLS."
            ),
            basis: None,
            fix: None,
            evidence: reasons,
        }
    } else {
        aggregate(id, domain, &probed, outbound_tls::judge, family)
    };
    if discovery.failed.contains(&Service::S2s) {
        degrade_for_lookup_failure(&mut req, discovery, Service::S2s);
    }
    req
}

/// `c2s-tls-required` or `s2s-tls-required`: the endpoints of one service. The software
/// detected decides what a missing `<required/>` proves; its family, the words of the fix.
fn tls_required_for(
    service: Service,
    domain: &str,
    discovery: &Discovery,
    endpoints: &[Endpoint],
    (software, family): (Option<Software>, Family),
) -> (RequirementId, Requirement) {
    let id = match service {
        Service::C2s => RequirementId::C2sTlsRequired,
        Service::S2s => RequirementId::S2sTlsRequired,
    };
    let all: Vec<&Endpoint> = endpoints.iter().filter(|e| e.service == service).collect();
    let (eps, unseen) = unseen::split(&all);
    let lookup_failed = discovery.failed.contains(&service);
    let req = if lookup_failed && all.is_empty() {
        service_lookup_failed(discovery, service)
    } else if all.is_empty() && discovery.absent.contains(&service) {
        Requirement {
            status: Status::NotApplicable,
            summary: format!(
                "{domain} publishes no {service} service (SRV target \".\"): nothing to require."
            ),
            basis: None,
            fix: None,
            evidence: vec![],
        }
    } else {
        let mut req = if eps.is_empty() && !unseen.is_empty() {
            unseen::nothing_seen(&unseen)
        } else {
            let judge = |e: &Endpoint| tls_required::judge(e, software);
            let mut req = aggregate(id, domain, &eps, judge, family);
            if service == Service::S2s {
                tls_required::responder_note(&mut req, &eps);
            }
            unseen::note(&mut req, &unseen);
            req
        };
        if lookup_failed {
            degrade_for_lookup_failure(&mut req, discovery, service);
        }
        req
    };
    (id, req)
}

/// A requirement on every endpoint of both services.
fn over_all_endpoints(
    id: RequirementId,
    judge: Judge,
    domain: &str,
    discovery: &Discovery,
    endpoints: &[Endpoint],
    family: Family,
) -> Requirement {
    let all: Vec<&Endpoint> = endpoints.iter().collect();
    if all.is_empty() {
        return no_endpoints(domain, discovery);
    }
    let (checked, unseen) = unseen::split(&all);
    let mut req = if checked.is_empty() {
        unseen::nothing_seen(&unseen)
    } else {
        let mut req = aggregate(id, domain, &checked, judge, family);
        unseen::note(&mut req, &unseen);
        req
    };
    for service in &discovery.failed {
        degrade_for_lookup_failure(&mut req, discovery, *service);
    }
    req
}

fn lookup_errors(discovery: &Discovery, service: Service) -> Vec<String> {
    discovery
        .records
        .iter()
        .filter(|r| r.service == service && r.detail.is_some())
        .filter(|r| r.outcome == DiscoveryOutcome::Error)
        .map(|r| {
            format!(
                "{}: lookup failed: {}",
                r.name,
                r.detail.as_deref().unwrap_or_default()
            )
        })
        .collect()
}

fn service_lookup_failed(discovery: &Discovery, service: Service) -> Requirement {
    Requirement {
        status: Status::Inconclusive,
        summary: format!(
            "The {service} SRV lookup failed, so the {service} endpoints are unknown; check the domain's DNS servers and retry."
        ),
        basis: None,
        fix: None,
        evidence: lookup_errors(discovery, service),
    }
}

/// A failed lookup may hide endpoints: nothing better than inconclusive may rest on the rest.
fn degrade_for_lookup_failure(req: &mut Requirement, discovery: &Discovery, service: Service) {
    req.evidence.extend(lookup_errors(discovery, service));
    if req.status < Status::Inconclusive {
        req.status = Status::Inconclusive;
        req.summary = format!(
            "A {service} SRV lookup failed, so some endpoints may be unchecked; check the domain's DNS servers and retry."
        );
        req.basis = None;
    }
}

fn no_endpoints(domain: &str, discovery: &Discovery) -> Requirement {
    let all_absent = discovery.absent.len() == 2;
    Requirement {
        status: if all_absent {
            Status::NotApplicable
        } else {
            Status::Inconclusive
        },
        summary: if all_absent {
            format!("{domain} publishes no XMPP service.")
        } else {
            format!("No XMPP endpoint of {domain} could be found or reached.")
        },
        basis: None,
        fix: None,
        evidence: vec![],
    }
}

/// The worst endpoint decides: its status, its sentence (with how many more share it), and
/// the fix for it; every endpoint's judgement becomes a line of evidence.
fn aggregate(
    id: RequirementId,
    domain: &str,
    eps: &[&Endpoint],
    judge: impl Fn(&Endpoint) -> Judgement,
    family: Family,
) -> Requirement {
    let judged: Vec<(&Endpoint, Judgement)> = eps.iter().map(|e| (*e, judge(e))).collect();
    let status = judged
        .iter()
        .map(|(_, j)| j.status)
        .max()
        .unwrap_or(Status::Inconclusive);
    let evidence = judged
        .iter()
        .map(|(e, j)| format!("{}: {}: {}", e.label(), j.status, j.finding))
        .collect();
    let worst = judged.iter().find(|(_, j)| j.status == status);
    let basis = aggregate_basis(id, status, &judged);
    let summary = match (status, worst) {
        (Status::Pass, _) => pass_summary(id, domain, judged.len(), basis),
        (_, Some((e, j))) => {
            let others = judged.iter().filter(|(_, o)| o.status == status).count() - 1;
            let more = if others > 0 {
                format!(
                    " (and {others} more endpoint{})",
                    if others == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            };
            format!("{}{more}: {}", e.label(), j.finding)
        }
        (_, None) => "No endpoint was judged.".into(),
    };
    let fix = match status {
        Status::Fail | Status::Warn => fix::fix_for(id, worst.map(|(e, _)| *e), domain, family),
        _ => None,
    };
    Requirement {
        status,
        summary,
        basis,
        fix,
        evidence,
    }
}

/// What a `*-tls-required` pass or warn rests on: verified only when every endpoint's is.
fn aggregate_basis(
    id: RequirementId,
    status: Status,
    judged: &[(&Endpoint, Judgement)],
) -> Option<Basis> {
    let tls_required = matches!(
        id,
        RequirementId::C2sTlsRequired
            | RequirementId::S2sTlsRequired
            | RequirementId::S2sOutboundTls
    );
    if !tls_required || !matches!(status, Status::Pass | Status::Warn) {
        return None;
    }
    if judged.iter().all(|(_, j)| j.basis == Some(Basis::Verified)) {
        Some(Basis::Verified)
    } else {
        Some(Basis::Advertised)
    }
}

fn pass_summary(id: RequirementId, domain: &str, n: usize, basis: Option<Basis>) -> String {
    let endpoints = if n == 1 {
        "the endpoint".to_string()
    } else {
        format!("all {n} endpoints")
    };
    match id {
        RequirementId::C2sTlsRequired | RequirementId::S2sTlsRequired => {
            tls_required::pass_summary(id, &endpoints, basis)
        }
        RequirementId::TrustedCertificate => trusted_certificate::pass_summary(&endpoints, domain),
        RequirementId::ModernTls => modern_tls::pass_summary(&endpoints),
        RequirementId::ForwardSecrecy => forward_secrecy::pass_summary(&endpoints),
        RequirementId::DomainControl => "Domain control is proven.".into(),
        RequirementId::S2sOutboundTls => outbound_tls::pass_summary(&endpoints),
    }
}

/// Judgement for an endpoint that never got as far as the evidence needed.
fn unreached(ep: &Endpoint) -> Judgement {
    let message = ep.error.clone().unwrap_or_else(|| "no data".into());
    if message.starts_with("stream error") {
        return Judgement::new(
            Status::Fail,
            format!("the server refused the stream before TLS: {message}"),
        );
    }
    match ep.error_kind {
        Some(ErrorKind::Protocol) => Judgement::new(
            Status::Fail,
            format!("the endpoint does not speak XMPP correctly: {message}"),
        ),
        _ => Judgement::new(Status::Inconclusive, format!("could not check: {message}")),
    }
}

fn starttls_offered(ep: &Endpoint) -> bool {
    ep.pre_tls_features.as_ref().is_some_and(|f| f.starttls)
        || ep.starttls == Some(StarttlsOutcome::Proceed)
}

/// A STARTTLS endpoint that answered with features but offers no STARTTLS: no TLS at all.
fn no_starttls(ep: &Endpoint) -> bool {
    ep.pre_tls_features.is_some() && !starttls_offered(ep)
}

/// The posture probe of `offer`, if it was recorded (see `crate::check::posture`).
fn posture_probe(ep: &Endpoint, offer: Offer) -> Option<&PostureProbe> {
    ep.posture.iter().find(|p| p.offer == offer.name())
}

fn posture_outcome(ep: &Endpoint, offer: Offer) -> Option<PostureOutcome> {
    posture_probe(ep, offer).map(|p| p.outcome)
}

fn accepted(ep: &Endpoint, offer: Offer) -> bool {
    posture_outcome(ep, offer) == Some(PostureOutcome::Accepted)
}

/// Whether the probe got as far as sending its hello.
fn ran(p: &PostureProbe) -> bool {
    !p.sent_hex.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::grade::testkit::{DOMAIN, c2s, dns, s2s};

    /// A server that turns the checker's connections away (rate limiting) makes a check
    /// inconclusive, never a fail, whatever else the endpoint showed.
    #[test]
    fn being_turned_away_is_never_a_fail() {
        let cases = [
            vec![c2s().rate_limited(), s2s().rate_limited()],
            vec![c2s().direct_tls().rate_limited()],
            vec![
                c2s().starttls_optional().probe_rate_limited(),
                s2s().starttls_optional().probe_rate_limited(),
            ],
        ];
        let discovery = dns().build();
        for endpoints in cases {
            let endpoints: Vec<Endpoint> = endpoints.into_iter().map(Into::into).collect();
            let all = requirements(DOMAIN, &discovery, &endpoints, None);
            for (id, req) in &all {
                assert_ne!(req.status, Status::Fail, "{id}: {}", req.summary);
            }
            let c2s = &all[&RequirementId::C2sTlsRequired];
            assert_eq!(c2s.status, Status::Inconclusive, "{}", c2s.summary);
        }
    }
}
