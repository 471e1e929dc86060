//! `s2s-outbound-tls`: does the server refuse to federate with a peer that offers no TLS?
//! Present only when a dialback responder was used (`--responder`): the outbound probe
//! (`crate::check::dialback`) makes the target dial back to the responder's `plain_domain`,
//! whose endpoint never offers TLS, and the responder tells what the target did there. Only
//! what the target did decides: a cleartext `<db:verify/>` or `<db:result/>` fails, an
//! insisted `<starttls/>` or a refusal passes (basis verified), anything else is inconclusive.

use crate::check::grade::Judgement;
use crate::report::{Basis, Endpoint, ErrorKind, ProbeKind, ProbeOutcome, Status};

/// The outbound probe of an endpoint, if it ran.
pub(super) fn probe_of(ep: &Endpoint) -> Option<&crate::report::ProbeResult> {
    ep.probes
        .iter()
        .find(|p| p.kind == ProbeKind::OutboundDialback)
}

pub(super) fn judge(ep: &Endpoint) -> Judgement {
    let Some(probe) = probe_of(ep) else {
        return Judgement::new(Status::Inconclusive, "the outbound probe did not run");
    };
    match probe.outcome {
        ProbeOutcome::Enforced => {
            Judgement::new(Status::Pass, probe.detail.clone()).with_basis(Basis::Verified)
        }
        ProbeOutcome::NotEnforced => Judgement::new(Status::Fail, probe.detail.clone()),
        _ if probe.error_kind == Some(ErrorKind::RateLimited) => Judgement::new(
            Status::Inconclusive,
            format!("the outbound probe was turned away: {}", probe.detail),
        ),
        _ => Judgement::new(Status::Inconclusive, probe.detail.clone()),
    }
}

pub(super) fn pass_summary(endpoints: &str) -> String {
    format!(
        "Servers behind {endpoints} refuse to federate with a peer that offers no TLS (proved through the dialback responder)."
    )
}

#[cfg(test)]
mod tests {
    use crate::check::grade::testkit::{Table, dns, s2s};
    use crate::report::Basis::Verified;
    use crate::report::ProbeOutcome::{Enforced, Error, NoAnswer, NotEnforced};
    use crate::report::RequirementId::S2sOutboundTls;
    use crate::report::Service::S2s;
    use crate::report::Status::{Fail, Inconclusive, NotApplicable, Pass};

    /// Only what the target did at the responder decides; silence, a probe that could not
    /// run and a Direct-TLS-only service are inconclusive; no s2s service is not applicable.
    #[test]
    fn s2s_outbound_tls() {
        let table = Table::new(S2sOutboundTls)
            .case(
                "pass: insisted on STARTTLS",
                (Pass, Verified),
                [s2s().outbound(Enforced)],
            )
            .case(
                "pass: two endpoints, both proven",
                (Pass, Verified),
                [
                    s2s().outbound(Enforced),
                    s2s().at("192.0.2.2").outbound(Enforced),
                ],
            )
            .case(
                "fail: federated in cleartext",
                Fail,
                [s2s().outbound(NotEnforced)],
            )
            .case(
                "fail: one endpoint of two federated in cleartext",
                Fail,
                [
                    s2s().outbound(Enforced),
                    s2s().at("192.0.2.2").outbound(NotEnforced),
                ],
            )
            .case(
                "inconclusive: never dialled back",
                Inconclusive,
                [s2s().outbound(NoAnswer)],
            )
            .case(
                "inconclusive: could not run",
                Inconclusive,
                [s2s().outbound(Error)],
            )
            .case(
                "inconclusive: no probe (Direct TLS only)",
                Inconclusive,
                [s2s().direct_tls()],
            )
            .case_dns(
                "not applicable: no s2s service",
                NotApplicable,
                dns().absent(S2s),
                [],
            );
        insta::assert_snapshot!(table.run());
    }
}
