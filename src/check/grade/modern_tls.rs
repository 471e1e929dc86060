//! `modern-tls`: TLS 1.2 or later works, and the broken or deprecated versions are refused.
//!
//! The posture probes (`crate::check::posture`) show what the server still ACCEPTS: SSLv2 and
//! SSLv3 are broken and prohibited (RFC 6176, RFC 7568) and fail; TLS 1.0 and 1.1 are
//! deprecated (RFC 8996) and warn. When no posture probe got as far as a hello, the main
//! session alone is judged.

use crate::check::grade::{Judgement, accepted, no_starttls, posture_outcome, posture_probe, ran};
use crate::check::posture::Offer;
use crate::report::{Endpoint, ErrorKind, PostureOutcome, PostureProbe, Status};

/// The versions a server should no longer accept, oldest first.
const LEGACY: [Offer; 4] = [Offer::Sslv2, Offer::Sslv3, Offer::Tls10, Offer::Tls11];

pub(super) fn judge(ep: &Endpoint) -> Judgement {
    if let Some(judgement) = from_posture(ep) {
        return judgement;
    }
    from_session(ep)
}

/// The main session alone: the version it negotiated.
fn from_session(ep: &Endpoint) -> Judgement {
    match (&ep.tls, ep.error_kind) {
        (Some(tls), _) => Judgement::new(Status::Pass, format!("negotiated {}", tls.version)),
        (None, Some(ErrorKind::TlsIncompatible)) => Judgement::new(
            Status::Fail,
            format!(
                "no TLS 1.2 or 1.3 handshake succeeded: {}",
                ep.error.as_deref().unwrap_or("the handshake failed")
            ),
        ),
        (None, _) if no_starttls(ep) => {
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

/// From the posture probes: fail if SSLv2/SSLv3 is accepted or nothing >= TLS 1.2 works; warn
/// if TLS 1.0/1.1 is accepted; inconclusive if a legacy version could not be probed; pass
/// otherwise. `None` when no posture probe got as far as a hello.
pub(super) fn from_posture(ep: &Endpoint) -> Option<Judgement> {
    if !ep.posture.iter().any(ran) {
        return None;
    }
    let accepted_legacy: Vec<&str> = LEGACY
        .into_iter()
        .filter(|o| accepted(ep, *o))
        .map(pretty)
        .collect();
    let modern: Vec<&str> = [Offer::Tls13, Offer::Tls12]
        .into_iter()
        .filter(|o| accepted(ep, *o))
        .map(pretty)
        .collect();
    if accepted(ep, Offer::Sslv2) || accepted(ep, Offer::Sslv3) {
        return Some(Judgement::new(
            Status::Fail,
            format!(
                "the server still accepts {} (SSLv2 and SSLv3 are broken and prohibited: RFC 6176, RFC 7568)",
                list(&accepted_legacy)
            ),
        ));
    }
    let negotiated = ep.tls.as_ref().map(|t| t.version.clone());
    let modern_words = match (modern.is_empty(), negotiated) {
        (false, _) => format!("accepts {}", list(&modern)),
        (true, Some(version)) => format!("negotiated {version}"),
        (true, None) => return Some(no_modern_version(ep, &accepted_legacy)),
    };
    if !accepted_legacy.is_empty() {
        return Some(Judgement::new(
            Status::Warn,
            format!(
                "{modern_words}, but still accepts {} (deprecated by RFC 8996)",
                list(&accepted_legacy)
            ),
        ));
    }
    let unknown = unprobed_legacy(ep);
    if !unknown.is_empty() {
        return Some(Judgement::new(
            Status::Inconclusive,
            format!(
                "{modern_words}; the legacy protocols could not all be probed ({})",
                unknown.join("; ")
            ),
        ));
    }
    Some(Judgement::new(
        Status::Pass,
        format!(
            "{modern_words}; SSLv2, SSLv3, TLS 1.0 and TLS 1.1 are not accepted{}",
            silence_note(ep)
        ),
    ))
}

/// Neither TLS 1.2 nor 1.3 was accepted by a probe or negotiated by the session: a fail when
/// both were refused (or the handshake proved incompatible), else no conclusion.
fn no_modern_version(ep: &Endpoint, accepted_legacy: &[&str]) -> Judgement {
    let refused = |o| posture_outcome(ep, o) == Some(PostureOutcome::Refused);
    if (refused(Offer::Tls12) && refused(Offer::Tls13))
        || ep.error_kind == Some(ErrorKind::TlsIncompatible)
    {
        let only = if accepted_legacy.is_empty() {
            String::new()
        } else {
            format!(" (only {})", list(accepted_legacy))
        };
        return Judgement::new(
            Status::Fail,
            format!("the server accepts neither TLS 1.2 nor TLS 1.3{only}"),
        );
    }
    let why = posture_probe(ep, Offer::Tls12)
        .and_then(|p| p.detail.clone())
        .or_else(|| ep.error.clone())
        .unwrap_or_else(|| "no data".into());
    Judgement::new(
        Status::Inconclusive,
        format!("whether TLS 1.2 or 1.3 works could not be established: {why}"),
    )
}

/// The legacy versions whose probe never sent its hello (or is missing), with why.
fn unprobed_legacy(ep: &Endpoint) -> Vec<String> {
    LEGACY
        .into_iter()
        .map(|o| (o, posture_probe(ep, o).unwrap_or(&MISSING)))
        .filter(|(_, p)| !ran(p))
        .map(|(o, p)| {
            format!(
                "{}: {}",
                pretty(o),
                p.detail.as_deref().unwrap_or("not probed")
            )
        })
        .collect()
}

/// A server that accepts a version answers its hello at once: silence counts as not accepted,
/// and the sentence says so.
fn silence_note(ep: &Endpoint) -> String {
    let silent: Vec<&str> = LEGACY
        .into_iter()
        .filter(|o| {
            !matches!(
                posture_outcome(ep, *o),
                Some(PostureOutcome::Refused) | Some(PostureOutcome::Accepted)
            )
        })
        .map(pretty)
        .collect();
    if silent.is_empty() {
        String::new()
    } else {
        format!(
            " ({} got no TLS answer, counted as not accepted)",
            list(&silent)
        )
    }
}

/// Stands in for a posture probe that is not in the report at all.
static MISSING: PostureProbe = PostureProbe {
    offer: String::new(),
    outcome: PostureOutcome::Error,
    selected_suite: None,
    sent_hex: String::new(),
    received_hex: String::new(),
    detail: None,
};

fn list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn pretty(offer: Offer) -> &'static str {
    match offer {
        Offer::Sslv2 => "SSLv2",
        Offer::Sslv3 => "SSLv3",
        Offer::Tls10 => "TLS 1.0",
        Offer::Tls11 => "TLS 1.1",
        Offer::Tls12 => "TLS 1.2",
        Offer::Tls13 => "TLS 1.3",
        Offer::Tls12StaticRsa => "static-RSA TLS 1.2",
        Offer::Tls12RsaPreferred => "RSA-first TLS 1.2",
        Offer::Tls12FsFirst => "FS-first TLS 1.2",
    }
}

pub(super) fn pass_summary(endpoints: &str) -> String {
    format!(
        "TLS 1.2 or later works on {endpoints}, and SSLv2, SSLv3, TLS 1.0 and TLS 1.1 are not accepted where probed."
    )
}

#[cfg(test)]
mod tests {
    use super::from_posture;
    use crate::check::grade::testkit::{Table, c2s, default_prosody, dns, s2s, weak_prosody};
    use crate::check::posture::Offer;
    use crate::report::PostureOutcome::{Accepted, Inconclusive as Silent, Refused};
    use crate::report::RequirementId::ModernTls;
    use crate::report::Service::{C2s, S2s};
    use crate::report::Status::{Fail, Inconclusive, NotApplicable, Pass, Warn};

    const RSA_CBC: Option<&str> = Some("TLS_RSA_WITH_AES_128_CBC_SHA");

    /// The cases in the order of the snapshot: one endpoint (pass, warn, fail, no conclusion),
    /// then what discovery changes, then several endpoints.
    #[test]
    fn modern_tls() {
        let table = [
            passes,
            warnings,
            failures,
            no_conclusion,
            discovery,
            several_endpoints,
            coverage,
        ]
        .into_iter()
        .fold(Table::new(ModernTls), |table, cases| cases(table));
        insta::assert_snapshot!(table.run());
    }

    /// The legacy versions not accepted (silence to an SSLv2 hello counts as not accepted), or
    /// the session alone when no probe ran.
    fn passes(table: Table) -> Table {
        table
            .case("pass: default Prosody", Pass, [c2s()])
            .case(
                "pass: an SSLv2 hello met silence",
                Pass,
                [c2s().offer(Offer::Sslv2, Silent, None)],
            )
            .case(
                "pass: the session alone, no posture probe ran",
                Pass,
                [c2s().posture_not_run()],
            )
            .case(
                "pass: the session alone, no posture recorded",
                Pass,
                [c2s().posture(vec![])],
            )
    }

    /// The deprecated TLS 1.0 and 1.1 still accepted beside a modern version.
    fn warnings(table: Table) -> Table {
        table
            .case(
                "warn: TLS 1.0 and 1.1 accepted",
                Warn,
                [c2s().posture(weak_prosody())],
            )
            .case(
                "warn: TLS 1.1 accepted, Prosody detected",
                Warn,
                [c2s().offer(Offer::Tls11, Accepted, RSA_CBC).prosody()],
            )
    }

    /// SSLv2 or SSLv3 accepted, no modern version, or no TLS at all.
    fn failures(table: Table) -> Table {
        let only_tls10 = c2s()
            .posture(weak_prosody())
            .offer(Offer::Tls11, Refused, None)
            .offer(Offer::Tls12, Refused, None)
            .offer(Offer::Tls13, Refused, None)
            .tls_incompatible();
        table
            .case(
                "fail: SSLv3 accepted",
                Fail,
                [c2s().offer(Offer::Sslv3, Accepted, RSA_CBC)],
            )
            .case(
                "fail: SSLv2 accepted",
                Fail,
                [c2s().offer(Offer::Sslv2, Accepted, None)],
            )
            .case("fail: only TLS 1.0", Fail, [only_tls10])
            .case(
                "fail: the session alone, no TLS 1.2/1.3 handshake",
                Fail,
                [c2s().posture_not_run().tls_incompatible()],
            )
            .case("fail: no STARTTLS", Fail, [c2s().no_starttls()])
    }

    /// The evidence is missing: a probe that could not run or got no answer, an unreachable
    /// endpoint, a timeout.
    fn no_conclusion(table: Table) -> Table {
        table
            .case(
                "inconclusive: the SSLv3 probe could not connect",
                Inconclusive,
                [c2s().offer_not_run(Offer::Sslv3)],
            )
            .case(
                "inconclusive: TLS 1.2 and 1.3 unanswered, no session",
                Inconclusive,
                [c2s()
                    .timeout()
                    .posture(default_prosody())
                    .offer(Offer::Tls12, Silent, None)
                    .offer(Offer::Tls13, Silent, None)],
            )
            .case(
                "inconclusive: unreachable",
                Inconclusive,
                [c2s().unreachable()],
            )
            .case("inconclusive: timeout", Inconclusive, [s2s().timeout()])
    }

    /// No service published, or a lookup that failed: it outranks a pass and a warn.
    fn discovery(table: Table) -> Table {
        table
            .case_dns(
                "not-applicable: no XMPP service at all",
                NotApplicable,
                dns().absent(C2s).absent(S2s),
                [],
            )
            .case_dns(
                "inconclusive: c2s SRV lookup failed beside passing endpoints",
                Inconclusive,
                dns().failed(C2s),
                [c2s(), s2s()],
            )
            .case_dns(
                "inconclusive: a failed lookup outranks a warn",
                Inconclusive,
                dns().failed(C2s),
                [s2s().posture(weak_prosody())],
            )
    }

    /// Endpoints never contacted: judged on the others, inconclusive when none was checked.
    fn coverage(table: Table) -> Table {
        const V6: &str = "2001:db8::1";
        table
            .case(
                "pass: judged over IPv4, the IPv6 endpoint not checked (no route)",
                Pass,
                [c2s(), c2s().at(V6).no_route()],
            )
            .case(
                "warn: what was seen warns, the IPv6 endpoint left out by --ip-family",
                Warn,
                [
                    c2s().posture(weak_prosody()),
                    c2s().at(V6).excluded(crate::report::IpFamily::Ipv4),
                ],
            )
            .case(
                "inconclusive: nothing checked (IPv6 only, no route)",
                Inconclusive,
                [c2s().at(V6).no_route(), s2s().at(V6).no_route()],
            )
    }

    /// The worst endpoint decides.
    fn several_endpoints(table: Table) -> Table {
        table
            .case(
                "warn: the worst of two",
                Warn,
                [c2s(), s2s().posture(weak_prosody())],
            )
            .case(
                "fail: the worst of three",
                Fail,
                [
                    c2s(),
                    s2s().posture(weak_prosody()),
                    c2s().at("192.0.2.2").offer(Offer::Sslv3, Accepted, RSA_CBC),
                ],
            )
    }

    #[test]
    fn no_hello_sent_leaves_the_session_to_judge() {
        assert!(from_posture(&c2s().posture_not_run().build()).is_none());
        assert!(from_posture(&c2s().posture(vec![]).build()).is_none());
        assert!(from_posture(&c2s().build()).is_some());
    }
}
