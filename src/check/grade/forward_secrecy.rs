//! `forward-secrecy`: an ephemeral (EC)DHE key exchange is used, and static-RSA key exchange
//! (which lets a stolen server key decrypt recorded traffic) is refused.
//!
//! Three posture probes decide (`crate::check::posture`): a TLS 1.2 hello with static-RSA
//! suites only, one with static RSA listed first, and one with forward-secret suites first. The
//! server's picks tell a server that prefers static RSA (fail) from one that only follows the
//! client's order or still accepts static RSA from a client that offers nothing else (warn).
//! When no such probe got as far as a hello, the main session alone is judged.

use crate::check::grade::{Judgement, no_starttls, posture_probe, ran};
use crate::check::posture::{Offer, name_is_forward_secret};
use crate::report::{Endpoint, PostureOutcome, PostureProbe, Status};

pub(super) fn judge(ep: &Endpoint) -> Judgement {
    if let Some(judgement) = from_posture(ep) {
        return judgement;
    }
    from_session(ep)
}

/// The main session alone: whether the suite it negotiated is forward-secret.
fn from_session(ep: &Endpoint) -> Judgement {
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
        None if no_starttls(ep) => {
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

/// The suites the server picked for the two mixed offers.
struct Picks {
    rsa_first: Option<String>,
    fs_first: Option<String>,
}

fn is_fs(suite: &Option<String>) -> bool {
    suite.as_deref().is_some_and(name_is_forward_secret)
}

fn is_non_fs(suite: &Option<String>) -> bool {
    suite.as_deref().is_some_and(|s| !name_is_forward_secret(s))
}

/// From the posture probes. Fail if the server picks a non-forward-secret suite although
/// forward-secret ones are offered (whatever their order), or accepts only non-FS; warn if it
/// accepts non-FS (when only those are offered, or when a client lists them first and the
/// server follows the client's order) but picks FS for a client that prefers it; pass if it
/// refuses non-FS. `None` when no probe ran.
pub(super) fn from_posture(ep: &Endpoint) -> Option<Judgement> {
    let stat = posture_probe(ep, Offer::Tls12StaticRsa)?;
    let rsa_first = posture_probe(ep, Offer::Tls12RsaPreferred);
    let fs_first = posture_probe(ep, Offer::Tls12FsFirst);
    if !ran(stat) && !rsa_first.is_some_and(ran) && !fs_first.is_some_and(ran) {
        return None;
    }
    let pick = |p: Option<&PostureProbe>| {
        p.filter(|p| p.outcome == PostureOutcome::Accepted)
            .and_then(|p| p.selected_suite.clone())
    };
    let picks = Picks {
        rsa_first: pick(rsa_first),
        fs_first: pick(fs_first),
    };
    if is_non_fs(&picks.fs_first) || (is_non_fs(&picks.rsa_first) && !is_fs(&picks.fs_first)) {
        let picked = picks
            .fs_first
            .clone()
            .filter(|s| !name_is_forward_secret(s))
            .or(picks.rsa_first.clone())
            .unwrap_or_default();
        return Some(Judgement::new(
            Status::Fail,
            format!(
                "offered forward-secret and static-RSA suites, the server picked {picked} (no forward secrecy): it prefers static RSA"
            ),
        ));
    }
    let fs_shown = forward_secrecy_shown(ep, &picks);
    match stat.outcome {
        PostureOutcome::Accepted => Some(static_rsa_accepted(stat, fs_shown, &picks)),
        PostureOutcome::Refused => fs_shown.map(|fs| {
            Judgement::new(
                Status::Pass,
                format!("{fs}; static-RSA (non forward-secret) suites are refused"),
            )
        }),
        _ => Some(Judgement::new(
            Status::Inconclusive,
            format!(
                "whether static-RSA suites are accepted could not be established: {}",
                stat.detail.as_deref().unwrap_or("no data")
            ),
        )),
    }
}

/// The best evidence that forward secrecy works: the server's own preference, a pick for a
/// client that prefers it, or the main session.
fn forward_secrecy_shown(ep: &Endpoint, picks: &Picks) -> Option<String> {
    if is_fs(&picks.rsa_first) {
        return picks
            .rsa_first
            .clone()
            .map(|p| format!("it prefers forward secrecy (picks {p} over static RSA)"));
    }
    let session_fs = ep.tls.as_ref().filter(|t| t.forward_secret).map(|t| {
        format!(
            "negotiated {} with {}",
            t.cipher_suite,
            t.key_exchange.as_deref().unwrap_or("(EC)DHE")
        )
    });
    picks
        .fs_first
        .clone()
        .filter(|p| name_is_forward_secret(p))
        .map(|p| format!("it picks {p} for a client that prefers forward secrecy"))
        .or(session_fs)
}

/// Static RSA accepted from a client that offers only that: a warn when forward secrecy works
/// otherwise, a fail when it never does.
fn static_rsa_accepted(stat: &PostureProbe, fs_shown: Option<String>, picks: &Picks) -> Judgement {
    let suite = stat
        .selected_suite
        .as_deref()
        .unwrap_or("a static-RSA suite");
    let Some(fs) = fs_shown else {
        return Judgement::new(
            Status::Fail,
            format!(
                "the server accepts {suite} (no forward secrecy) and no forward-secret suite could be negotiated"
            ),
        );
    };
    let follows_client = if is_non_fs(&picks.rsa_first) {
        format!(
            "; it follows the client's order, so a client that lists static RSA first gets {} (no forward secrecy)",
            picks.rsa_first.clone().unwrap_or_default()
        )
    } else {
        String::new()
    };
    Judgement::new(
        Status::Warn,
        format!(
            "{fs}, but it still accepts {suite} (no forward secrecy) when a client offers only static-RSA suites{follows_client}"
        ),
    )
}

pub(super) fn pass_summary(endpoints: &str) -> String {
    format!(
        "A forward-secret key exchange is used on {endpoints}, and static-RSA suites are refused where probed."
    )
}

#[cfg(test)]
mod tests {
    use super::from_posture;
    use crate::check::grade::testkit::{Table, c2s, dns, s2s, weak_prosody};
    use crate::check::posture::Offer;
    use crate::report::PostureOutcome::{Accepted, Inconclusive as Silent, Refused};
    use crate::report::RequirementId::ForwardSecrecy;
    use crate::report::Service::{C2s, S2s};
    use crate::report::Status::{Fail, Inconclusive, NotApplicable, Pass, Warn};

    const RSA: Option<&str> = Some("TLS_RSA_WITH_AES_128_GCM_SHA256");
    const ECDHE: Option<&str> = Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");

    /// The cases in the order of the snapshot: one endpoint (pass, warn, fail, no conclusion),
    /// then what discovery changes, then several endpoints.
    #[test]
    fn forward_secrecy() {
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
        .fold(Table::new(ForwardSecrecy), |table, cases| cases(table));
        insta::assert_snapshot!(table.run());
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
                "inconclusive: nothing checked (IPv6 only, no route)",
                Inconclusive,
                [c2s().at(V6).no_route()],
            )
    }

    /// Forward secrecy shown, static RSA refused; or the session alone when no probe ran.
    fn passes(table: Table) -> Table {
        table
            .case("pass: default Prosody", Pass, [c2s()])
            .case(
                "pass: the session alone, no posture probe ran",
                Pass,
                [c2s().posture_not_run()],
            )
            .case(
                "pass: static RSA refused, forward secrecy shown by the session only",
                Pass,
                [c2s().offer(Offer::Tls12RsaPreferred, Refused, None).offer(
                    Offer::Tls12FsFirst,
                    Refused,
                    None,
                )],
            )
    }

    /// Static RSA still accepted, but forward secrecy is what a client that wants it gets.
    fn warnings(table: Table) -> Table {
        table
            .case(
                "warn: follows the client's order and accepts static RSA",
                Warn,
                [c2s().posture(weak_prosody())],
            )
            .case(
                "warn: prefers forward secrecy but accepts static RSA",
                Warn,
                [c2s()
                    .posture(weak_prosody())
                    .offer(Offer::Tls12RsaPreferred, Accepted, ECDHE)],
            )
            .case(
                "warn: ejabberd detected",
                Warn,
                [c2s().posture(weak_prosody()).ejabberd()],
            )
    }

    /// Static RSA preferred or the only thing that works, by the probes or the session.
    fn failures(table: Table) -> Table {
        table
            .case(
                "fail: prefers static RSA",
                Fail,
                [c2s()
                    .posture(weak_prosody())
                    .offer(Offer::Tls12FsFirst, Accepted, RSA)],
            )
            .case(
                "fail: static RSA only, nothing forward-secret",
                Fail,
                [c2s()
                    .offer(Offer::Tls12StaticRsa, Accepted, RSA)
                    .offer(Offer::Tls12RsaPreferred, Refused, None)
                    .offer(Offer::Tls12FsFirst, Refused, None)
                    .tls12("TLS_RSA_WITH_AES_128_GCM_SHA256", false)],
            )
            .case(
                "fail: the session alone, not forward-secret",
                Fail,
                [c2s()
                    .posture_not_run()
                    .tls12("TLS_RSA_WITH_AES_256_GCM_SHA384", false)],
            )
            .case(
                "fail: static RSA refused, nothing forward-secret shown, the session decides",
                Fail,
                [c2s()
                    .offer(Offer::Tls12RsaPreferred, Refused, None)
                    .offer(Offer::Tls12FsFirst, Refused, None)
                    .tls12("TLS_RSA_WITH_AES_256_GCM_SHA384", false)],
            )
            .case("fail: no STARTTLS", Fail, [c2s().no_starttls()])
    }

    /// The evidence is missing: silence, an unreachable endpoint, a timeout.
    fn no_conclusion(table: Table) -> Table {
        table
            .case(
                "inconclusive: the static-RSA probe met silence",
                Inconclusive,
                [c2s().offer(Offer::Tls12StaticRsa, Silent, None)],
            )
            .case(
                "inconclusive: unreachable",
                Inconclusive,
                [c2s().unreachable()],
            )
            .case("inconclusive: timeout", Inconclusive, [s2s().timeout()])
    }

    /// No service published, or a lookup that failed beside passing endpoints.
    fn discovery(table: Table) -> Table {
        table
            .case_dns(
                "not-applicable: no XMPP service at all",
                NotApplicable,
                dns().absent(C2s).absent(S2s),
                [],
            )
            .case_dns(
                "inconclusive: s2s SRV lookup failed beside passing endpoints",
                Inconclusive,
                dns().failed(S2s),
                [c2s(), s2s()],
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
                    s2s()
                        .at("192.0.2.2")
                        .offer(Offer::Tls12FsFirst, Accepted, RSA),
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
