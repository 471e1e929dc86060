//! `c2s-tls-required` and `s2s-tls-required`: does the server refuse to go on in plaintext?
//!
//! Direct TLS (XEP-0368) is encrypted from the first byte. On STARTTLS, the proof is a
//! plaintext probe the server refused (SASL for c2s, dialback for s2s: basis "verified"); a
//! probe that got no answer proves nothing either way, and then only the advertisement
//! (`<required/>`, or STARTTLS as the only feature: RFC 6120 §5.3.1) can carry a pass (basis
//! "advertised").

use crate::check::grade::{Judgement, no_starttls, unreached};
use crate::report::{
    Basis, Endpoint, ErrorKind, Features, Mode, ProbeKind, ProbeOutcome, Requirement,
    RequirementId, Service, Software, Status,
};

/// One endpoint of either service.
pub(super) fn judge(ep: &Endpoint, software: Option<Software>) -> Judgement {
    if ep.mode == Mode::DirectTls {
        return direct_tls(ep);
    }
    let Some(features) = &ep.pre_tls_features else {
        return unreached(ep);
    };
    if no_starttls(ep) {
        return Judgement::new(
            Status::Fail,
            "STARTTLS is not offered, so every stream is plaintext (no certificate configured?)",
        );
    }
    let probe = ep
        .probes
        .iter()
        .find(|p| matches!(p.kind, ProbeKind::Sasl | ProbeKind::Dialback));
    let probe_detail = probe.map(|p| p.detail.as_str()).unwrap_or_default();
    let how_advertised = advertised_words(features);
    match probe.map(|p| p.outcome) {
        Some(ProbeOutcome::Enforced) => Judgement::new(
            Status::Pass,
            format!("TLS is required: {probe_detail} ({how_advertised})"),
        )
        .with_basis(Basis::Verified),
        Some(ProbeOutcome::NotEnforced) => Judgement::new(
            Status::Fail,
            format!("{probe_detail} although it advertises {how_advertised}"),
        ),
        outcome => {
            let probe_note = match (outcome, probe) {
                (Some(_), Some(p)) => p.detail.clone(),
                _ => "no probe ran".into(),
            };
            if features.tls_required_advertised() {
                Judgement::new(
                    Status::Pass,
                    format!("TLS is required as advertised ({how_advertised}); {probe_note}"),
                )
                .with_basis(Basis::Advertised)
            } else if probe.is_some_and(|p| p.error_kind == Some(ErrorKind::RateLimited)) {
                // The probe that could have shown enforcement was turned away: the server's
                // refusal is no evidence of optional STARTTLS.
                Judgement::new(
                    Status::Inconclusive,
                    format!(
                        "STARTTLS is advertised without <required/> ({how_advertised}) and the plaintext probe that could show enforcement was turned away; {probe_note}"
                    ),
                )
            } else if flag_follows_setting(software) {
                Judgement::new(
                    Status::Fail,
                    format!("STARTTLS is optional ({how_advertised}); {probe_note}"),
                )
            } else {
                not_proven(ep.service, how_advertised, &probe_note)
            }
        }
    }
}

/// Whether the absence of `<required/>` proves optional TLS: only for software whose code
/// advertises the flag exactly when the setting that enforces TLS is on.
///
/// - Prosody, plugins/mod_tls.lua: `c2s_feature` / `s2s_feature` get their `<required/>` child
///   when `c2s_require_encryption` (or `require_encryption`) / `s2s_require_encryption` is
///   set, and those are the features the `stream-features` / `s2s-stream-features` hooks add.
/// - ejabberd, xmpp_stream_in.erl `get_tls_feature/1`: `#starttls{required =
///   is_starttls_required(State)}`, which asks `ejabberd_c2s:tls_required/1`
///   (`starttls_required` of the listener) or `ejabberd_s2s_in:tls_required/1`
///   (`s2s_use_starttls: required | required_trusted`); older releases built the same
///   element from the same settings in ejabberd_c2s.erl / ejabberd_s2s_in.erl (`tls_required`).
///
/// Any other software (or none detected) may enforce TLS without saying so, and a silent
/// probe is then no evidence either way: never a fail without proof.
fn flag_follows_setting(software: Option<Software>) -> bool {
    matches!(software, Some(Software::Prosody | Software::Ejabberd))
}

/// No `<required/>`, no proof, software that does not tie the flag to its setting: what would
/// decide it.
fn not_proven(service: Service, how_advertised: &str, probe_note: &str) -> Judgement {
    let decide = match service {
        Service::C2s => "a SASL attempt or a stanza refused before TLS would prove enforcement",
        Service::S2s => {
            "a check with a dialback responder would decide it (a server that enforces TLS closes the stream instead of dialing back)"
        }
    };
    Judgement::new(
        Status::Inconclusive,
        format!(
            "TLS enforcement is not advertised, not proven: {how_advertised}, and {probe_note}. Without <required/>, optional TLS is proven only for Prosody and ejabberd, whose flag follows their setting; {decide}, and advertising <starttls><required/></starttls> settles it"
        ),
    )
}

fn direct_tls(ep: &Endpoint) -> Judgement {
    if ep.tls.is_some() {
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

/// s2s: how the dialback responder proved the pass, or, without one, what it would add to an
/// advertised one.
pub(super) fn responder_note(req: &mut Requirement, eps: &[&Endpoint]) {
    if req.status != Status::Pass {
        return;
    }
    let evidence = eps.iter().find_map(|e| {
        e.probes
            .iter()
            .find(|p| p.kind == ProbeKind::Dialback)
            .and_then(|p| p.responder.as_ref())
    });
    match (evidence, req.basis) {
        (Some(r), Some(Basis::Verified)) => {
            req.summary.push_str(&format!(
                " Inbound, through the dialback responder: {}.",
                r.words()
            ));
        }
        (None, Some(Basis::Advertised)) => req.summary.push_str(
            " A check with the dialback responder (--responder, see docs/responder.md) would prove it.",
        ),
        _ => {}
    }
}

pub(super) fn pass_summary(id: RequirementId, endpoints: &str, basis: Option<Basis>) -> String {
    let how = match basis {
        Some(Basis::Verified) => "proved by a refused plaintext probe",
        _ => "as advertised with <required/>; a plaintext probe gave no proof either way",
    };
    let who = match id {
        RequirementId::S2sTlsRequired => "Servers",
        _ => "Clients",
    };
    format!("{who} must use TLS on {endpoints} ({how}).")
}

#[cfg(test)]
mod tests {
    use crate::check::grade::testkit::{Table, c2s, dns, s2s};
    use crate::report::Basis::{Advertised, Verified};
    use crate::report::IpFamily::Ipv4;
    use crate::report::ProbeOutcome::{Attempted, Enforced, Error, NoAnswer, NotEnforced};
    use crate::report::RequirementId::{C2sTlsRequired, S2sTlsRequired};
    use crate::report::Service::{C2s, S2s};
    use crate::report::Status::{Fail, Inconclusive, NotApplicable, Pass};

    /// The cases in the order of the snapshot: one endpoint (pass and what it rests on, fail,
    /// no conclusion), then what discovery changes, then several endpoints, then endpoints this
    /// checker could not see.
    #[test]
    fn c2s_tls_required() {
        let table = [
            c2s_passes,
            c2s_failures,
            c2s_no_conclusion,
            c2s_discovery,
            c2s_several_endpoints,
            c2s_coverage,
        ]
        .into_iter()
        .fold(Table::new(C2sTlsRequired), |table, cases| cases(table));
        insta::assert_snapshot!(table.run());
    }

    /// Pass, and what it rests on: a refused probe or Direct TLS (verified), or the
    /// advertisement when the probe proved nothing (advertised).
    fn c2s_passes(table: Table) -> Table {
        table
            .case("pass: SASL refused before TLS", (Pass, Verified), [c2s()])
            .case("pass: Direct TLS", (Pass, Verified), [c2s().direct_tls()])
            .case(
                "pass: STARTTLS and Direct TLS, both verified",
                (Pass, Verified),
                [c2s(), c2s().direct_tls()],
            )
            .case(
                "pass: <required/>, the probe got no answer",
                (Pass, Advertised),
                [c2s().probe(NoAnswer)],
            )
            .case(
                "pass: <required/>, the probe could not run",
                (Pass, Advertised),
                [c2s().probe(Error)],
            )
            .case(
                "pass: STARTTLS as the only feature, no probe",
                (Pass, Advertised),
                [c2s().starttls_only_feature().no_probe()],
            )
            .case(
                "pass: one endpoint verified, one only advertised",
                (Pass, Advertised),
                [c2s(), c2s().at("192.0.2.2").probe(NoAnswer)],
            )
    }

    /// Plaintext processed, STARTTLS optional or missing, or no XMPP before TLS.
    fn c2s_failures(table: Table) -> Table {
        table
            .case(
                "fail: SASL processed in cleartext despite <required/>",
                Fail,
                [c2s().probe(NotEnforced)],
            )
            .case(
                "fail: STARTTLS optional, the probe got no answer, Prosody detected",
                Fail,
                [c2s().starttls_optional().probe(NoAnswer).prosody()],
            )
            .case(
                "fail: STARTTLS optional, the probe could not run, ejabberd detected",
                Fail,
                [c2s().starttls_optional().probe(Error).ejabberd()],
            )
            .case("fail: no STARTTLS", Fail, [c2s().no_starttls()])
            .case(
                "fail: no STARTTLS, Prosody detected",
                Fail,
                [c2s().no_starttls().prosody()],
            )
            .case(
                "fail: optional, ejabberd detected",
                Fail,
                [c2s().starttls_optional().probe(NotEnforced).ejabberd()],
            )
            .case(
                "fail: stream error before TLS",
                Fail,
                [c2s().protocol_error("stream error <host-unknown/>")],
            )
            .case(
                "fail: not XMPP",
                Fail,
                [c2s().protocol_error("protocol error: not an XML stream")],
            )
    }

    /// The evidence is missing: unreachable, timed out, or no c2s endpoint at all.
    fn c2s_no_conclusion(table: Table) -> Table {
        table
            .case(
                "inconclusive: unreachable",
                Inconclusive,
                [c2s().unreachable()],
            )
            .case("inconclusive: timeout", Inconclusive, [c2s().timeout()])
            .case(
                "inconclusive: Direct TLS handshake timed out",
                Inconclusive,
                [c2s().direct_tls().timeout()],
            )
            .case("inconclusive: no c2s endpoint found", Inconclusive, [s2s()])
            .case(
                "inconclusive: rate-limited everywhere",
                Inconclusive,
                [c2s().rate_limited()],
            )
            .case(
                "inconclusive: STARTTLS optional, the probe was rate-limited",
                Inconclusive,
                [c2s().starttls_optional().probe_rate_limited()],
            )
            .case(
                "inconclusive: STARTTLS optional, the probe got no answer, software unknown",
                Inconclusive,
                [c2s().starttls_optional().probe(NoAnswer)],
            )
            .case(
                "inconclusive: STARTTLS optional, the probe could not run, Openfire detected",
                Inconclusive,
                [c2s().starttls_optional().probe(Error).openfire()],
            )
            .case(
                "inconclusive: STARTTLS optional, the probe was rate-limited, Prosody detected",
                Inconclusive,
                [c2s().starttls_optional().probe_rate_limited().prosody()],
            )
            .case(
                "fail: a processed SASL is proof whatever the software",
                Fail,
                [c2s().starttls_optional().probe(NotEnforced).openfire()],
            )
            .case(
                "pass: <required/>, the probe was rate-limited",
                (Pass, Advertised),
                [c2s().probe_rate_limited()],
            )
    }

    /// No c2s service published (not applicable), and what a failed lookup degrades: only
    /// its own service, and never a fail.
    fn c2s_discovery(table: Table) -> Table {
        table
            .case_dns(
                "not-applicable: SRV target \".\"",
                NotApplicable,
                dns().absent(C2s),
                [s2s()],
            )
            .case_dns(
                "inconclusive: SRV lookup failed, no endpoint",
                Inconclusive,
                dns().failed(C2s),
                [s2s()],
            )
            .case_dns(
                "inconclusive: SRV lookup failed beside a passing endpoint",
                Inconclusive,
                dns().failed(C2s),
                [c2s()],
            )
            .case_dns(
                "fail: a failed lookup does not hide a fail",
                Fail,
                dns().failed(C2s),
                [c2s().probe(NotEnforced)],
            )
            .case_dns(
                "pass: the s2s lookup failure does not touch c2s",
                (Pass, Verified),
                dns().failed(S2s),
                [c2s()],
            )
    }

    /// The worst endpoint decides.
    fn c2s_several_endpoints(table: Table) -> Table {
        table
            .case(
                "fail: one endpoint of three",
                Fail,
                [
                    c2s(),
                    c2s().at("192.0.2.2").probe(NotEnforced),
                    c2s().direct_tls(),
                ],
            )
            .case(
                "fail: beats inconclusive",
                Fail,
                [
                    c2s().unreachable(),
                    c2s()
                        .at("192.0.2.2")
                        .starttls_optional()
                        .probe(NoAnswer)
                        .prosody(),
                ],
            )
            .case(
                "inconclusive: beats pass, two endpoints share it",
                Inconclusive,
                [
                    c2s(),
                    c2s().at("192.0.2.2").timeout(),
                    c2s().at("2001:db8::1").unreachable(),
                ],
            )
    }

    /// Endpoints never contacted (no route to their family, or left out by --ip-family): judged
    /// on the others; inconclusive when none was checked; an unreachable one stays the server's.
    fn c2s_coverage(table: Table) -> Table {
        table
            .case(
                "pass: judged over IPv4, the IPv6 endpoint not checked (no route)",
                (Pass, Verified),
                [c2s(), c2s().at(V6).no_route()],
            )
            .case(
                "pass: the IPv6 endpoint left out by --ip-family ipv4",
                (Pass, Verified),
                [c2s(), c2s().at(V6).excluded(Ipv4)],
            )
            .case(
                "fail: what was seen fails, the IPv6 endpoint not checked",
                Fail,
                [c2s().probe(NotEnforced), c2s().at(V6).no_route()],
            )
            .case(
                "inconclusive: the IPv4 endpoint unreachable, the IPv6 endpoint not checked",
                Inconclusive,
                [c2s().unreachable(), c2s().at(V6).no_route()],
            )
            .case(
                "inconclusive: nothing checked (IPv6 only, no route)",
                Inconclusive,
                [c2s().at(V6).no_route(), s2s()],
            )
            .case_dns(
                "inconclusive: nothing checked, and an SRV lookup failed",
                Inconclusive,
                dns().failed(C2s),
                [c2s().at(V6).no_route()],
            )
            .case(
                "pass: s2s not checked does not touch c2s",
                (Pass, Verified),
                [c2s(), s2s().at(V6).no_route()],
            )
    }

    const V6: &str = "2001:db8::1";

    #[test]
    fn s2s_tls_required() {
        let table = s2s_without_required(s2s_basics(Table::new(S2sTlsRequired)));
        let table = table
            .case(
                "fail: dialback valid in cleartext",
                Fail,
                [s2s().probe(NotEnforced)],
            )
            .case("fail: no STARTTLS", Fail, [s2s().no_starttls()])
            .case(
                "inconclusive: unreachable",
                Inconclusive,
                [s2s().unreachable()],
            )
            .case_dns(
                "not-applicable: SRV target \".\"",
                NotApplicable,
                dns().absent(S2s),
                [c2s()],
            )
            .case_dns(
                "inconclusive: SRV lookup failed beside a passing endpoint",
                Inconclusive,
                dns().failed(S2s),
                [s2s()],
            )
            .case(
                "fail: the worst of two",
                Fail,
                [s2s(), s2s().at("192.0.2.2").probe(NotEnforced)],
            )
            .case(
                "pass: c2s failing does not touch s2s",
                (Pass, Verified),
                [c2s().probe(NotEnforced), s2s()],
            )
            .case(
                "pass: judged over IPv4, the IPv6 endpoint not checked (no route)",
                (Pass, Verified),
                [s2s(), s2s().at(V6).no_route()],
            )
            .case(
                "inconclusive: nothing checked (IPv6 only, no route)",
                Inconclusive,
                [s2s().at(V6).no_route()],
            );
        insta::assert_snapshot!(table.run());
    }

    /// Pass on a proof or on `<required/>`; what the advertisement alone decides.
    fn s2s_basics(table: Table) -> Table {
        table
            .case(
                "pass: dialback refused before TLS",
                (Pass, Verified),
                [s2s().probe(Enforced)],
            )
            .case("pass: Direct TLS", (Pass, Verified), [s2s().direct_tls()])
            .case(
                "pass: dialback attempted, <required/> decides",
                (Pass, Advertised),
                [s2s().probe(Attempted)],
            )
            .case(
                "pass: no answer to dialback (dialing back first)",
                (Pass, Advertised),
                [s2s().probe(NoAnswer)],
            )
    }

    /// No `<required/>` and no proof from the dialback probe: a fail only for the software
    /// whose flag follows its setting, inconclusive for any other; a proof fails whatever it is.
    fn s2s_without_required(table: Table) -> Table {
        table
            .case(
                "fail: dialback attempted and STARTTLS optional, Prosody detected",
                Fail,
                [s2s().starttls_optional().probe(Attempted).prosody()],
            )
            .case(
                "fail: silent dialback and STARTTLS optional, ejabberd detected",
                Fail,
                [s2s().starttls_optional().probe(NoAnswer).ejabberd()],
            )
            .case(
                "inconclusive: silent dialback and STARTTLS optional, software unknown",
                Inconclusive,
                [s2s().starttls_optional().probe(NoAnswer)],
            )
            .case(
                "inconclusive: dialback attempted and STARTTLS optional, Tigase detected",
                Inconclusive,
                [s2s().starttls_optional().probe(Attempted).tigase()],
            )
            .case(
                "inconclusive: silent dialback, STARTTLS optional, another server's caps",
                Inconclusive,
                [s2s()
                    .starttls_optional()
                    .probe(NoAnswer)
                    .caps("https://example.org/xmpp")],
            )
            .case(
                "fail: dialback valid in cleartext whatever the software",
                Fail,
                [s2s().starttls_optional().probe(NotEnforced).openfire()],
            )
            .case(
                "fail: the enforcing endpoint does not hide the optional one (Prosody)",
                Fail,
                [
                    s2s(),
                    s2s()
                        .at("192.0.2.2")
                        .starttls_optional()
                        .probe(NoAnswer)
                        .prosody(),
                ],
            )
    }
}
