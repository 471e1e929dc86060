//! From evidence to requirements: each endpoint is judged alone, a requirement takes its worst
//! endpoint, and every status comes with a sentence an operator can act on.

use std::collections::BTreeMap;

use crate::check::dns::Discovery;
use crate::report::{
    Basis, Endpoint, ErrorKind, Features, Mode, ProbeOutcome, Requirement, RequirementId, Service,
    Software, StarttlsOutcome, Status,
};

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

/// The software the endpoints revealed: the XEP-0115 caps node in the stream features when
/// sent, else the shape of the stream id (Prosody: a UUID; ejabberd: a long decimal number).
pub fn detect_software(endpoints: &[Endpoint]) -> Option<Software> {
    let caps = endpoints
        .iter()
        .flat_map(|e| {
            [&e.pre_tls_features, &e.post_tls_features]
                .into_iter()
                .flatten()
                .filter_map(|f| f.caps_node.as_deref())
        })
        .next();
    if let Some(node) = caps {
        let node = node.to_ascii_lowercase();
        return Some(if node.contains("prosody.im") {
            Software::Prosody
        } else if node.contains("process-one.net") || node.contains("ejabberd") {
            Software::Ejabberd
        } else if node.contains("igniterealtime.org") || node.contains("openfire") {
            Software::Openfire
        } else if node.contains("tigase") {
            Software::Tigase
        } else {
            Software::Other
        });
    }
    let ids: Vec<&str> = endpoints
        .iter()
        .filter_map(|e| e.stream.as_ref()?.id.as_deref())
        .collect();
    if !ids.is_empty() && ids.iter().all(|id| is_uuid(id)) {
        return Some(Software::Prosody);
    }
    if !ids.is_empty()
        && ids
            .iter()
            .all(|id| id.len() >= 10 && id.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some(Software::Ejabberd);
    }
    None
}

fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Evaluates the five requirements of a check.
pub fn requirements(
    domain: &str,
    discovery: &Discovery,
    endpoints: &[Endpoint],
    software: Option<Software>,
) -> BTreeMap<RequirementId, Requirement> {
    let mut out = BTreeMap::new();
    for service in [Service::C2s, Service::S2s] {
        let id = match service {
            Service::C2s => RequirementId::C2sTlsRequired,
            Service::S2s => RequirementId::S2sTlsRequired,
        };
        let eps: Vec<&Endpoint> = endpoints.iter().filter(|e| e.service == service).collect();
        let req = if discovery.failed.contains(&service) && eps.is_empty() {
            service_lookup_failed(discovery, service)
        } else if eps.is_empty() && discovery.absent.contains(&service) {
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
            let mut req = aggregate(id, domain, &eps, tls_required, software);
            if discovery.failed.contains(&service) {
                degrade_for_lookup_failure(&mut req, discovery, service);
            }
            req
        };
        out.insert(id, req);
    }

    let all: Vec<&Endpoint> = endpoints.iter().collect();
    for (id, judge) in [
        (
            RequirementId::TrustedCertificate,
            certificate as fn(&Endpoint) -> Judgement,
        ),
        (RequirementId::ModernTls, modern_tls),
        (RequirementId::ForwardSecrecy, forward_secrecy),
    ] {
        let req = if all.is_empty() {
            no_endpoints(domain, discovery)
        } else {
            let mut req = aggregate(id, domain, &all, judge, software);
            if !discovery.failed.is_empty() {
                for service in &discovery.failed {
                    degrade_for_lookup_failure(&mut req, discovery, *service);
                }
            }
            req
        };
        out.insert(id, req);
    }
    out
}

fn lookup_errors(discovery: &Discovery, service: Service) -> Vec<String> {
    discovery
        .records
        .iter()
        .filter(|r| r.service == service && r.detail.is_some())
        .filter(|r| r.outcome == crate::report::DiscoveryOutcome::Error)
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

fn aggregate(
    id: RequirementId,
    domain: &str,
    eps: &[&Endpoint],
    judge: impl Fn(&Endpoint) -> Judgement,
    software: Option<Software>,
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
    let basis = if matches!(status, Status::Pass | Status::Warn)
        && matches!(
            id,
            RequirementId::C2sTlsRequired | RequirementId::S2sTlsRequired
        ) {
        if judged.iter().all(|(_, j)| j.basis == Some(Basis::Verified)) {
            Some(Basis::Verified)
        } else {
            Some(Basis::Advertised)
        }
    } else {
        None
    };
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
        Status::Fail | Status::Warn => fix_for(id, worst.map(|(e, _)| *e), domain, software),
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

fn pass_summary(id: RequirementId, domain: &str, n: usize, basis: Option<Basis>) -> String {
    let endpoints = if n == 1 {
        "the endpoint".to_string()
    } else {
        format!("all {n} endpoints")
    };
    let how = match basis {
        Some(Basis::Verified) => "proved by a refused plaintext probe",
        _ => "as advertised with <required/>; a plaintext probe gave no proof either way",
    };
    match id {
        RequirementId::C2sTlsRequired => {
            format!("Clients must use TLS on {endpoints} ({how}).")
        }
        RequirementId::S2sTlsRequired => {
            format!("Servers must use TLS on {endpoints} ({how}).")
        }
        RequirementId::TrustedCertificate => format!(
            "The certificate on {endpoints} chains to a trusted CA, names {domain} and is valid."
        ),
        RequirementId::ModernTls => format!(
            "TLS 1.2 or later works on {endpoints}, and SSLv2, SSLv3, TLS 1.0 and TLS 1.1 are not accepted where probed."
        ),
        RequirementId::ForwardSecrecy => format!(
            "A forward-secret key exchange is used on {endpoints}, and static-RSA suites are refused where probed."
        ),
        RequirementId::DomainControl => "Domain control is proven.".into(),
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

fn tls_required(ep: &Endpoint) -> Judgement {
    if ep.mode == Mode::DirectTls {
        return if ep.tls.is_some() {
            Judgement::new(
                Status::Pass,
                "Direct TLS (XEP-0368): the stream is encrypted from the first byte",
            )
            .with_basis(Basis::Verified)
        } else {
            Judgement::new(
                Status::Inconclusive,
                format!(
                    "the Direct TLS handshake failed: {}",
                    ep.error.as_deref().unwrap_or("no data")
                ),
            )
        };
    }
    let Some(features) = &ep.pre_tls_features else {
        return unreached(ep);
    };
    if !starttls_offered(ep) {
        return Judgement::new(
            Status::Fail,
            "STARTTLS is not offered, so every stream is plaintext (no certificate configured?)",
        );
    }
    let probe = ep.probes.first();
    let advertised = features.tls_required_advertised();
    let how_advertised = advertised_words(features);
    match probe.map(|p| p.outcome) {
        Some(ProbeOutcome::Enforced) => Judgement::new(
            Status::Pass,
            format!(
                "TLS is required: {} ({how_advertised})",
                probe.map(|p| p.detail.as_str()).unwrap_or_default()
            ),
        )
        .with_basis(Basis::Verified),
        Some(ProbeOutcome::NotEnforced) => Judgement::new(
            Status::Fail,
            format!(
                "{} although it advertises {how_advertised}",
                probe.map(|p| p.detail.as_str()).unwrap_or_default()
            ),
        ),
        outcome => {
            let probe_note = match (outcome, probe) {
                (Some(_), Some(p)) => p.detail.clone(),
                _ => "no probe ran".into(),
            };
            if advertised {
                Judgement::new(
                    Status::Pass,
                    format!("TLS is required as advertised ({how_advertised}); {probe_note}"),
                )
                .with_basis(Basis::Advertised)
            } else {
                Judgement::new(
                    Status::Fail,
                    format!("STARTTLS is optional ({how_advertised}); {probe_note}"),
                )
            }
        }
    }
}

fn advertised_words(f: &Features) -> &'static str {
    if f.starttls && f.starttls_required {
        "<starttls><required/></starttls>"
    } else if f.starttls && f.elements.len() == 1 {
        "STARTTLS as its only feature"
    } else if f.starttls {
        "<starttls/> without <required/>"
    } else {
        "no <starttls/>"
    }
}

fn certificate(ep: &Endpoint) -> Judgement {
    let Some(cert) = &ep.certificate else {
        if ep.pre_tls_features.is_some() && !starttls_offered(ep) && ep.mode == Mode::Starttls {
            return Judgement::new(Status::Fail, "no certificate: STARTTLS is not offered");
        }
        return match ep.error_kind {
            Some(ErrorKind::Protocol) if ep.pre_tls_features.is_none() => unreached(ep),
            Some(ErrorKind::TlsIncompatible) => Judgement::new(
                Status::Fail,
                format!(
                    "no certificate was presented: {}",
                    ep.error.as_deref().unwrap_or("the TLS handshake failed")
                ),
            ),
            _ => Judgement::new(
                Status::Inconclusive,
                format!(
                    "no certificate could be obtained: {}",
                    ep.error.as_deref().unwrap_or("TLS was not established")
                ),
            ),
        };
    };
    if cert.is_trusted() {
        let leaf = cert.chain.first();
        return Judgement::new(
            Status::Pass,
            format!(
                "trusted; {} matches; issued by {}; valid until {}",
                cert.name_match.as_deref().unwrap_or("name"),
                leaf.map(|l| l.issuer.as_str()).unwrap_or("?"),
                leaf.map(|l| l.not_after.as_str()).unwrap_or("?")
            ),
        );
    }
    let mut problems = Vec::new();
    if let Some(e) = &cert.chain_error {
        problems.push(e.clone());
    }
    if let Some(e) = &cert.name_error {
        let only_host = cert
            .chain
            .first()
            .is_some_and(|l| l.dns_names.iter().any(|n| n.eq_ignore_ascii_case(&ep.host)));
        if only_host && ep.host != e.as_str() {
            problems.push(format!(
                "it names only the server host {}, not the XMPP domain",
                ep.host
            ));
        } else {
            problems.push(e.clone());
        }
    }
    if cert.expired {
        let until = cert
            .chain
            .first()
            .map(|l| l.not_after.as_str())
            .unwrap_or("?");
        problems.push(format!("the certificate expired on {until}"));
    }
    if cert.not_yet_valid {
        problems.push("the certificate is not valid yet".into());
    }
    Judgement::new(Status::Fail, problems.join("; "))
}

fn modern_tls(ep: &Endpoint) -> Judgement {
    if let Some((status, finding)) = crate::check::posture::judge_modern_tls(ep) {
        return Judgement::new(status, finding);
    }
    match (&ep.tls, ep.error_kind) {
        (Some(tls), _) => Judgement::new(Status::Pass, format!("negotiated {}", tls.version)),
        (None, Some(ErrorKind::TlsIncompatible)) => Judgement::new(
            Status::Fail,
            format!(
                "no TLS 1.2 or 1.3 handshake succeeded: {}",
                ep.error.as_deref().unwrap_or("the handshake failed")
            ),
        ),
        (None, _) if ep.pre_tls_features.is_some() && !starttls_offered(ep) => {
            Judgement::new(Status::Fail, "no TLS at all: STARTTLS is not offered")
        }
        (None, _) => Judgement::new(
            Status::Inconclusive,
            format!(
                "TLS was not established: {}",
                ep.error.as_deref().unwrap_or("no data")
            ),
        ),
    }
}

fn forward_secrecy(ep: &Endpoint) -> Judgement {
    if let Some((status, finding)) = crate::check::posture::judge_forward_secrecy(ep) {
        return Judgement::new(status, finding);
    }
    match &ep.tls {
        Some(tls) if tls.forward_secret => Judgement::new(
            Status::Pass,
            format!(
                "{} with {}",
                tls.cipher_suite,
                tls.key_exchange
                    .as_deref()
                    .unwrap_or("an ephemeral key exchange")
            ),
        ),
        Some(tls) => Judgement::new(
            Status::Fail,
            format!("{} is not forward-secret", tls.cipher_suite),
        ),
        None if ep.pre_tls_features.is_some() && !starttls_offered(ep) => {
            Judgement::new(Status::Fail, "no TLS at all: STARTTLS is not offered")
        }
        None => Judgement::new(
            Status::Inconclusive,
            format!(
                "TLS was not established: {}",
                ep.error.as_deref().unwrap_or("no data")
            ),
        ),
    }
}

/// The change to make, in the words of the server software when it is known.
fn fix_for(
    id: RequirementId,
    worst: Option<&Endpoint>,
    domain: &str,
    software: Option<Software>,
) -> Option<String> {
    let no_starttls = worst.is_some_and(|e| {
        e.mode == Mode::Starttls && e.pre_tls_features.is_some() && !starttls_offered(e)
    });
    let prosody = matches!(software, Some(Software::Prosody));
    let ejabberd = matches!(software, Some(Software::Ejabberd));
    let both = |p: &str, e: &str| -> String {
        if prosody {
            format!("Prosody: {p}")
        } else if ejabberd {
            format!("ejabberd: {e}")
        } else {
            format!("Prosody: {p}. ejabberd: {e}")
        }
    };
    let cert_fix = || {
        both(
            &format!(
                "install a certificate for {domain} (e.g. `prosodyctl --root cert import /etc/letsencrypt/live`), referenced by `certificates = \"certs\"`"
            ),
            &format!("list a certificate for {domain} under `certfiles:`"),
        )
    };
    let text = match id {
        RequirementId::C2sTlsRequired if no_starttls => cert_fix(),
        RequirementId::C2sTlsRequired => both(
            "set `c2s_require_encryption = true` in prosody.cfg.lua and restart",
            "set `starttls_required: true` on the `ejabberd_c2s` listener in ejabberd.yml",
        ),
        RequirementId::S2sTlsRequired if no_starttls => cert_fix(),
        RequirementId::S2sTlsRequired => both(
            "set `s2s_require_encryption = true` in prosody.cfg.lua and restart",
            "set `s2s_use_starttls: required` in ejabberd.yml",
        ),
        RequirementId::TrustedCertificate if no_starttls => cert_fix(),
        RequirementId::TrustedCertificate => format!(
            "Use a certificate from a widely trusted CA (e.g. Let's Encrypt) whose subjectAltName includes {domain} itself (not only the server host), renewed before it expires; serve the full chain. {}",
            both(
                "`prosodyctl --root cert import /etc/letsencrypt/live`",
                "`certfiles: [\"/etc/letsencrypt/live/*/*.pem\"]`",
            )
        ),
        RequirementId::ModernTls => both(
            "`ssl = { protocol = \"tlsv1_2+\" }` (or `tls_profile = \"intermediate\"` in 0.12+)",
            "`protocol_options: [no_sslv3, no_tlsv1, no_tlsv1_1]` on each listener and for s2s",
        ),
        RequirementId::ForwardSecrecy => both(
            "`ssl = { ciphers = \"HIGH+kEECDH:HIGH+kEDH:!aNULL:!MD5\" }` (or `tls_profile = \"intermediate\"`)",
            "`ciphers: \"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM\"` on each listener and `s2s_ciphers`",
        ),
        RequirementId::DomainControl => return None,
    };
    Some(text)
}
