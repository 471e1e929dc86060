//! The latest report of a domain as its page shows it: one view per section of the page
//! (requirements, advisories, endpoints, discovery), in words rather than enum names.

use super::rfc3339;
use crate::report::{
    Advisory, AdvisoryLevel, Basis, CertificateInfo, DiscoveryOutcome, DiscoveryRecord, Endpoint,
    ProbeKind, ProbeOutcome, ProbeResult, Report, Requirement, RequirementId, TlsInfo, Verdict,
};

pub(crate) struct RequirementView {
    pub(crate) id: &'static str,
    pub(crate) title: &'static str,
    pub(crate) status: &'static str,
    pub(crate) class: &'static str,
    pub(crate) summary: String,
    pub(crate) basis: Option<&'static str>,
    pub(crate) fix: Option<String>,
    pub(crate) evidence: Vec<String>,
}

pub(crate) struct AdvisoryView {
    pub(crate) id: String,
    pub(crate) level: &'static str,
    pub(crate) class: &'static str,
    pub(crate) summary: String,
    pub(crate) fix: Option<String>,
    pub(crate) evidence: Vec<String>,
}

pub(crate) struct EndpointView {
    pub(crate) label: String,
    pub(crate) error: Option<String>,
    pub(crate) tls: String,
    pub(crate) certificate: String,
    pub(crate) probes: Vec<String>,
}

pub(crate) struct ReportView {
    pub(crate) checked_at: String,
    pub(crate) verdict: &'static str,
    pub(crate) verdict_class: &'static str,
    pub(crate) tool_version: String,
    pub(crate) duration: String,
    pub(crate) software: Option<&'static str>,
    /// What the check could see, when the report says.
    pub(crate) coverage: Option<String>,
    pub(crate) requirements: Vec<RequirementView>,
    pub(crate) advisories: Vec<AdvisoryView>,
    pub(crate) endpoints: Vec<EndpointView>,
    pub(crate) discovery: Vec<String>,
}

pub(crate) fn report_view(r: &Report) -> ReportView {
    ReportView {
        checked_at: rfc3339(r.checked_at),
        verdict: r.verdict.as_str(),
        verdict_class: match r.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NoService => "no-service",
        },
        tool_version: r.tool_version.clone(),
        duration: format!("{:.1} s", r.duration_ms as f64 / 1000.0),
        software: r.software.map(|s| s.name()),
        coverage: r.coverage.as_ref().map(|c| c.summary.clone()),
        requirements: r
            .requirements
            .iter()
            .map(|(id, q)| requirement_view(*id, q))
            .collect(),
        advisories: r.advisories.iter().map(advisory_view).collect(),
        endpoints: r.endpoints.iter().map(endpoint_view).collect(),
        discovery: r.discovery.iter().map(discovery_line).collect(),
    }
}

fn requirement_view(id: RequirementId, q: &Requirement) -> RequirementView {
    RequirementView {
        id: id.as_str(),
        title: id.title(),
        status: q.status.as_str(),
        // The CSS class is the status name.
        class: q.status.as_str(),
        summary: q.summary.clone(),
        basis: q.basis.map(|b| match b {
            Basis::Verified => "verified by a plaintext probe",
            Basis::Advertised => "as advertised by the server, not probed",
        }),
        fix: q.fix.clone(),
        evidence: q.evidence.clone(),
    }
}

fn advisory_view(a: &Advisory) -> AdvisoryView {
    let (level, class) = match a.level {
        AdvisoryLevel::Info => ("info", "info"),
        AdvisoryLevel::Warn => ("warning", "warn"),
    };
    AdvisoryView {
        id: a.id.clone(),
        level,
        class,
        summary: a.summary.clone(),
        fix: a.fix.clone(),
        evidence: a.evidence.clone(),
    }
}

fn endpoint_view(e: &Endpoint) -> EndpointView {
    EndpointView {
        label: e.label(),
        error: e.error.clone(),
        tls: e
            .tls
            .as_ref()
            .map_or_else(|| "no TLS session".into(), tls_text),
        certificate: e
            .certificate
            .as_ref()
            .map_or_else(|| "none seen".into(), certificate_text),
        probes: e.probes.iter().map(probe_text).collect(),
    }
}

fn tls_text(t: &TlsInfo) -> String {
    format!(
        "{} {}{}",
        t.version,
        t.cipher_suite,
        if t.forward_secret {
            ", forward secret"
        } else {
            ", no forward secrecy"
        }
    )
}

/// Trust, name match, every error, then the leaf's issuer and expiry.
fn certificate_text(c: &CertificateInfo) -> String {
    let mut s = if c.is_trusted() {
        "trusted".to_owned()
    } else {
        "not trusted".to_owned()
    };
    if let Some(m) = &c.name_match {
        s.push_str(&format!(", name matched by {m}"));
    }
    for err in [&c.chain_error, &c.name_error].into_iter().flatten() {
        s.push_str(&format!("; {err}"));
    }
    if c.expired {
        s.push_str("; expired");
    }
    if let Some(l) = c.chain.first() {
        s.push_str(&format!(
            "; issued by {}, valid until {}",
            l.issuer, l.not_after
        ));
    }
    s
}

fn probe_text(p: &ProbeResult) -> String {
    let kind = match p.kind {
        ProbeKind::Sasl => "SASL auth before TLS",
        ProbeKind::Dialback => "dialback before TLS",
        ProbeKind::OutboundDialback => "dialback from a peer without TLS (outbound)",
    };
    let outcome = match p.outcome {
        ProbeOutcome::Enforced => "refused (good)",
        ProbeOutcome::NotEnforced => "accepted without TLS",
        ProbeOutcome::Attempted => "processed in cleartext, outcome unproven",
        ProbeOutcome::NoAnswer => "no answer",
        ProbeOutcome::Error => "could not run",
    };
    match &p.responder {
        Some(r) => format!("{kind}: {outcome} ({})", r.words()),
        None => format!("{kind}: {outcome}"),
    }
}

fn discovery_line(d: &DiscoveryRecord) -> String {
    let outcome = match d.outcome {
        DiscoveryOutcome::Found => "found",
        DiscoveryOutcome::NoRecords => "no records",
        DiscoveryOutcome::ServiceAbsent => "service decidedly absent",
        DiscoveryOutcome::Fallback => "fallback to the domain's addresses",
        DiscoveryOutcome::Error => "lookup failed",
        DiscoveryOutcome::Refused => "refused by policy",
    };
    let mut s = format!("{} ({} {}): {outcome}", d.name, d.service, d.mode);
    if !d.records.is_empty() {
        s.push_str(&format!(": {}", d.records.join(", ")));
    }
    if let Some(detail) = &d.detail {
        s.push_str(&format!(" ({detail})"));
    }
    s
}
