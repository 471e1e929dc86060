//! s2s enforcement proven both ways through the dialback responder (`--responder`; see
//! `crate::check::responder` and `docs/responder.md`).
//!
//! Inbound (does the target refuse a peer on a cleartext stream?): a cleartext s2s stream from
//! the responder's `domain` and a `<db:result/>` with a key minted for it (XEP-0220 §2.1). The
//! target dials back to the responder, which vouches for the key, and must then decide:
//! Prosody with `s2s_require_encryption` closes our stream with `<policy-violation/>`
//! ("Encrypted server-to-server communication is required but was not used", mod_s2s
//! `make_authenticated`); a lax server answers `<db:result type='valid'/>`. A target that
//! answers `valid` without dialing back (the responder saw no `<db:verify/>` with our key) is
//! lying and accepts anyone. A target that ignores the cleartext dialback is asked again over
//! TLS on our own stream: when that completes, it enforces, proven by difference.
//!
//! Outbound (does the target federate with a peer that offers no TLS?): the same from the
//! responder's `plain_domain`, whose endpoint never offers TLS. The responder sees the target
//! either insist on `<starttls/>` or give up (enforced; Prosody: "... required but was not
//! offered"), or authenticate in cleartext with its own `<db:result/>` or our key's
//! `<db:verify/>` (it federates in cleartext). A target that refuses our cleartext stream at
//! once (ejabberd with `s2s_use_starttls: required`) is asked over TLS on our stream instead.
//!
//! Every conclusion rests on what the target did (on our stream, or at the responder); silence
//! and a responder that cannot be read prove nothing either way.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};

use crate::check::context::{Context, OpenError};
use crate::check::net::ConnectError;
use crate::check::probes::{Answer, answer_wait, await_answer, says_tls_required};
use crate::check::responder::model::unix_ms_now;
use crate::check::responder::{
    ApiError, ConnectionRecord, KeyInput, ListenerKind, ResponderLink, VerifySeen,
};
use crate::check::xml::{Element, StreamEvent};
use crate::check::xmpp::{self, Header, NS_DIALBACK, NS_TLS, XmppError, XmppStream};
use crate::report::{ErrorKind, ProbeKind, ProbeOutcome, ProbeResult, ResponderEvidence, Service};

/// Clock difference between checker and responder tolerated when deciding whether a
/// connection the responder saw belongs to this probe.
const CLOCK_SLACK_MS: u64 = 2_000;

/// How long to wait for the target's answer to a dialback through the responder: the target
/// dials back first (a connection, STARTTLS, two dialback round trips), so several of this
/// connection's round trips, at least a second, at most the step timeout or 6 s.
fn dialback_wait(ctx: &Context<'_>, round_trip: Duration) -> Duration {
    let ceiling = ctx.timeout.min(Duration::from_secs(6));
    answer_wait(round_trip * 4, Duration::from_secs(1).min(ceiling), ceiling)
}

fn could_not_run(result: &mut ProbeResult, e: &OpenError) {
    result.outcome = ProbeOutcome::Error;
    result.detail = format!("the probe could not run: {e}");
    if let OpenError::Connect(ConnectError::RateLimited(..)) = e {
        result.error_kind = Some(ErrorKind::RateLimited);
    }
}

fn s2s_header<'a>(ctx: &'a Context<'_>, from: &'a str) -> Header<'a> {
    Header {
        service: Service::S2s,
        to: ctx.domain,
        from: Some(from),
    }
}

/// One dialback request on an open stream, and what came back within the wait.
struct Attempt {
    answer: Answer,
    nonce: String,
    /// Whether our stream was encrypted.
    secure: bool,
}

async fn dialback_on<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: &Context<'_>,
    link: &ResponderLink,
    stream: &mut XmppStream<S>,
    (sender, stream_id, wait): (&str, &str, Duration),
    result: &mut ProbeResult,
) -> (Answer, String) {
    let input = KeyInput {
        receiver: ctx.domain,
        sender,
        stream_id,
    };
    let (key, nonce) = link.secret.mint(input);
    let request = format!(
        "<db:result xmlns:db='{NS_DIALBACK}' from='{}' to='{}'>{key}</db:result>",
        xmpp::escape_attr(sender),
        xmpp::escape_attr(ctx.domain)
    );
    if !result.sent.is_empty() {
        result.sent.push_str(" | over TLS: ");
    }
    result.sent.push_str(&request);
    let sent_ms = unix_ms_now();
    if let Err(e) = stream.send(&request).await {
        return (
            Answer::Broken(format!("could not send the probe: {e}")),
            nonce,
        );
    }
    if sender != link.config.plain_domain {
        return (await_answer(stream, wait).await, nonce);
    }
    // Outbound: a target that gave up on the plain probe domain may say nothing on our stream;
    // what it did there decides, so stop waiting once the responder has seen it.
    let answer = tokio::select! {
        answer = await_answer(stream, wait) => answer,
        () = decided_at_responder((link, ctx.target_addresses), ctx.domain, &nonce, sent_ms) => Answer::Silence,
    };
    (answer, nonce)
}

/// Returns once the responder has seen the target decide about the plain probe domain (never,
/// if it does not: the caller's wait bounds it).
async fn decided_at_responder(
    (link, target_addresses): (&ResponderLink, &[IpAddr]),
    target: &str,
    nonce: &str,
    since_ms: u64,
) {
    let mut pause = Duration::from_millis(20);
    loop {
        tokio::time::sleep(pause).await;
        let seen = observe(
            (link, target_addresses),
            target,
            nonce,
            ListenerKind::Plain,
            since_ms,
        )
        .await;
        if seen.is_ok_and(|s| s.outbound_decided()) {
            return;
        }
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// A dialback on a fresh cleartext stream from `sender`.
async fn in_cleartext(
    ctx: &Context<'_>,
    link: &ResponderLink,
    addr: SocketAddr,
    sender: &str,
    result: &mut ProbeResult,
) -> Result<Attempt, OpenError> {
    let opened = ctx.open_stream_with(addr, &s2s_header(ctx, sender)).await?;
    let mut stream = opened.stream;
    let wait = dialback_wait(ctx, opened.round_trip);
    let id = opened.header.id.unwrap_or_default();
    let (answer, nonce) = dialback_on(ctx, link, &mut stream, (sender, &id, wait), result).await;
    stream.close().await;
    Ok(Attempt {
        answer,
        nonce,
        secure: false,
    })
}

/// A dialback on a fresh stream from `sender` after STARTTLS; `Err` says why it could not be
/// asked.
async fn over_tls(
    ctx: &Context<'_>,
    link: &ResponderLink,
    addr: SocketAddr,
    sender: &str,
    result: &mut ProbeResult,
) -> Result<Attempt, String> {
    let header = s2s_header(ctx, sender);
    let opened = ctx
        .open_stream_with(addr, &header)
        .await
        .map_err(|e| e.to_string())?;
    let mut stream = opened.stream;
    let started = Instant::now();
    let step = async {
        stream
            .send(&format!("<starttls xmlns='{NS_TLS}'/>"))
            .await?;
        match stream.next("the answer to <starttls/>").await? {
            StreamEvent::Element(e, _) if e.is(NS_TLS, "proceed") => Ok(()),
            _ => Err(XmppError::Protocol("STARTTLS was refused".into())),
        }
    };
    step.await.map_err(|e| e.to_string())?;
    let limits = stream.limits();
    let tcp = stream.into_transport().map_err(|e| e.to_string())?;
    let (tls, _, _) = ctx
        .tls
        .handshake(tcp, ctx.domain, None, ctx.timeout)
        .await
        .map_err(|e| e.to_string())?;
    let mut secure = XmppStream::new(tls, ctx.timeout, limits);
    let (stream_header, _) = secure
        .open(&header)
        .await
        .map_err(|e| format!("after TLS: {e}"))?;
    let wait = dialback_wait(ctx, started.elapsed() / 4);
    let id = stream_header.id.unwrap_or_default();
    let (answer, nonce) = dialback_on(ctx, link, &mut secure, (sender, &id, wait), result).await;
    secure.close().await;
    Ok(Attempt {
        answer,
        nonce,
        secure: true,
    })
}

/// What the responder saw of one probe.
struct Seen {
    /// The `<db:verify/>` carrying our key, and the connection it came on.
    verify: Option<(VerifySeen, ConnectionRecord)>,
    /// Connections from the target to the listener of interest that began during the probe.
    fresh: Vec<ConnectionRecord>,
    /// Connections in that window that claimed to be the target from another address: not
    /// evidence.
    elsewhere: usize,
}

/// How a connection to the responder ended, when the target ended it (not our idle timeout or
/// limits).
fn ended_by_peer(c: &ConnectionRecord) -> bool {
    c.end
        .as_ref()
        .is_some_and(|e| matches!(e.how.as_str(), "peer-closed" | "stream-error" | "reset"))
}

impl Seen {
    /// Outbound: the target authenticated in cleartext, insisted on TLS, or gave up.
    fn outbound_decided(&self) -> bool {
        self.verify.is_some()
            || self
                .fresh
                .iter()
                .any(|c| c.starttls_unoffered || !c.results.is_empty() || ended_by_peer(c))
    }

    fn evidence(&self, sender: &str) -> ResponderEvidence {
        let tls = self
            .verify
            .as_ref()
            .and_then(|(v, c)| v.secure.then(|| c.tls.as_ref().map(|t| t.version.clone())))
            .flatten();
        ResponderEvidence {
            sender: sender.to_owned(),
            dialed_back: self.verify.is_some(),
            verified: self
                .verify
                .as_ref()
                .is_some_and(|(v, _)| v.answered == "valid"),
            tls,
            starttls_unoffered: self.fresh.iter().any(|c| c.starttls_unoffered),
            connections: u32::try_from(self.fresh.len()).unwrap_or(u32::MAX),
            by_difference: false,
            summary: String::new(),
        }
    }
}

/// Asks the responder what the target did since `started_ms` (our clock).
async fn observe(
    (link, target_addresses): (&ResponderLink, &[IpAddr]),
    target: &str,
    nonce: &str,
    listener: ListenerKind,
    started_ms: u64,
) -> Result<Seen, ApiError> {
    // Keys verify within their lifetime on connections that may be older than the probe (a
    // target reuses its outgoing stream to the responder), so look back that far for them.
    let lifetime_ms = link.config.limits.key_lifetime_s.saturating_mul(1000);
    let since = started_ms.saturating_sub(lifetime_ms + CLOCK_SLACK_MS);
    let asked_at = unix_ms_now();
    let observed = link.api.connections(target, since, Some(nonce)).await?;
    // The responder's clock may differ from ours: move our start onto its clock.
    let offset = i128::from(observed.now_ms) - i128::from(asked_at);
    let start_there = u64::try_from(i128::from(started_ms) + offset).unwrap_or(0);
    let verify = observed.connections.iter().find_map(|c| {
        c.verify_of(nonce)
            .filter(|v| v.from.eq_ignore_ascii_case(target))
            .map(|v| (v.clone(), c.clone()))
    });
    let (fresh, elsewhere): (Vec<_>, Vec<_>) = observed
        .connections
        .into_iter()
        .filter(|c| c.listener == Some(listener) && c.concerns(target))
        .filter(|c| c.started_ms + CLOCK_SLACK_MS >= start_there)
        .partition(|c| from_target(c, target_addresses));
    Ok(Seen {
        verify,
        fresh,
        elsewhere: elsewhere.len(),
    })
}

/// Whether a connection came from one of the target's addresses. A connection without our key
/// proves something about the target only then: anyone may connect to the responder and claim
/// to be the target, to fake a pass for their own domain or a failure for someone else's.
///
/// On loopback (reachable only with `--allow-private`, i.e. in tests) every process of the host
/// connects out from 127.0.0.1 or ::1 whatever address it listens on: there the host is the
/// granularity, and any loopback peer matches a loopback target.
fn from_target(c: &ConnectionRecord, target_addresses: &[IpAddr]) -> bool {
    let Ok(peer) = c.peer.parse::<IpAddr>() else {
        return false;
    };
    let peer = peer.to_canonical();
    target_addresses
        .iter()
        .any(|t| t.to_canonical() == peer || (t.is_loopback() && peer.is_loopback()))
}

/// Whether a `<db:result type='error'/>` refuses for want of TLS: a `<policy-violation/>`
/// whose text names TLS (another policy proves nothing about TLS).
fn refuses_for_tls(e: &Element) -> bool {
    let Some(error) = e.children.iter().find(|c| c.name == "error") else {
        return false;
    };
    let policy = error.children.iter().any(|c| c.name == "policy-violation");
    let text: Vec<&str> = error
        .children
        .iter()
        .filter(|c| c.name == "text")
        .map(|c| c.text.as_str())
        .collect();
    policy && says_tls_required(&text.join(" "))
}

fn dialback_type(e: &Element) -> Option<&str> {
    (e.is(NS_DIALBACK, "result") || e.is(NS_DIALBACK, "verify"))
        .then(|| e.attr("type").unwrap_or("none"))
}

/// Inbound: does the target refuse a dialback-authenticated peer on a cleartext stream?
pub(crate) async fn inbound_probe(
    ctx: &Context<'_>,
    link: &ResponderLink,
    addr: SocketAddr,
) -> ProbeResult {
    let started = Instant::now();
    let started_ms = unix_ms_now();
    let mut result = ProbeResult::pending(ProbeKind::Dialback);
    let sender = link.config.domain.as_str();
    match in_cleartext(ctx, link, addr, sender, &mut result).await {
        Ok(attempt) => {
            let seen = observe(
                (link, ctx.target_addresses),
                ctx.domain,
                &attempt.nonce,
                ListenerKind::Tls,
                started_ms,
            )
            .await;
            judge_inbound(&attempt.answer, seen, sender, &mut result);
            let dialed_back = result.responder.as_ref().is_some_and(|r| r.dialed_back);
            if result.outcome == ProbeOutcome::NoAnswer && !dialed_back {
                by_difference(ctx, link, addr, &mut result).await;
            }
        }
        Err(e) => could_not_run(&mut result, &e),
    }
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

fn judge_inbound(
    answer: &Answer,
    seen: Result<Seen, ApiError>,
    sender: &str,
    result: &mut ProbeResult,
) {
    let (mut evidence, api_note) = match &seen {
        Ok(seen) => (Some(seen.evidence(sender)), String::new()),
        Err(e) => (
            None,
            format!(" (the responder could not be asked what it saw: {e})"),
        ),
    };
    let dialed = evidence.as_ref().map(|e| e.dialed_back && e.verified);
    let how = evidence
        .as_ref()
        .and_then(|e| e.tls.clone())
        .map(|v| format!("over {v}"))
        .unwrap_or_else(|| "in cleartext".into());
    let (outcome, detail) = match answer {
        Answer::Closed(what) => {
            result.received = XmppError::short(what);
            let detail = match dialed {
                Some(true) => format!(
                    "the server dialled back to {sender} ({how}), which vouched for our key, and then closed our cleartext stream ({}): it requires TLS of its peers, proved through the responder",
                    XmppError::short(what)
                ),
                _ => "the server closed the stream instead of running dialback before TLS".into(),
            };
            (ProbeOutcome::Enforced, detail)
        }
        Answer::Element(e, raw) => {
            result.received = XmppError::short(raw);
            judge_inbound_element(e, dialed, sender, &how)
        }
        Answer::Silence => {
            let detail = match dialed {
                Some(true) => format!(
                    "the server dialled back to {sender}, which vouched for our key, and then said nothing on our cleartext stream: no proof either way"
                ),
                Some(false) => format!(
                    "no answer to a dialback from {sender} before TLS, and no dial-back to the responder"
                ),
                None => {
                    "no answer to dialback before TLS within the wait: no proof either way".into()
                }
            };
            (ProbeOutcome::NoAnswer, detail)
        }
        Answer::Broken(e) => (
            ProbeOutcome::Error,
            format!("the answer could not be read: {e}"),
        ),
    };
    result.outcome = outcome;
    result.detail = format!("{detail}{api_note}");
    if let Some(evidence) = evidence.as_mut() {
        evidence.summary = result.detail.clone();
    }
    result.responder = evidence;
}

fn judge_inbound_element(
    e: &Element,
    dialed: Option<bool>,
    sender: &str,
    how: &str,
) -> (ProbeOutcome, String) {
    match (dialback_type(e), dialed) {
        (Some("valid"), Some(true)) => (
            ProbeOutcome::NotEnforced,
            format!(
                "the server dialled back to {sender} ({how}) and then accepted our cleartext stream (<db:result type='valid'/>): it federates with peers that do not use TLS"
            ),
        ),
        (Some("valid"), Some(false)) => (
            ProbeOutcome::NotEnforced,
            format!(
                "the server answered <db:result type='valid'/> on a cleartext stream without ever dialing back to {sender} (the responder saw no <db:verify/> with our key): it accepts unauthenticated peers without TLS"
            ),
        ),
        (Some("valid"), None) => (
            ProbeOutcome::NotEnforced,
            "the server authenticated a peer with dialback in cleartext (type='valid')".into(),
        ),
        (Some(_), _) if refuses_for_tls(e) => (
            ProbeOutcome::Enforced,
            format!(
                "the server refused the dialback from {sender} on our cleartext stream, saying TLS is required"
            ),
        ),
        (Some(kind), _) => (
            ProbeOutcome::Attempted,
            format!(
                "the server ran dialback before TLS and answered type='{}'",
                XmppError::short(kind)
            ),
        ),
        (None, _) => (
            ProbeOutcome::Attempted,
            format!(
                "the server answered a cleartext dialback request with <{}/>",
                XmppError::short(&e.name)
            ),
        ),
    }
}

/// The cleartext dialback got no answer and no dial-back: the same dialback over TLS on our
/// own stream. When that completes (a dial-back to the responder, then `valid`), the target
/// ignored the cleartext one on purpose.
async fn by_difference(
    ctx: &Context<'_>,
    link: &ResponderLink,
    addr: SocketAddr,
    result: &mut ProbeResult,
) {
    let started_ms = unix_ms_now();
    let sender = link.config.domain.as_str();
    let attempt = match over_tls(ctx, link, addr, sender, result).await {
        Ok(attempt) => attempt,
        Err(e) => {
            result.detail.push_str(&format!(
                "; the same dialback over TLS could not be asked: {e}"
            ));
            return;
        }
    };
    let seen = observe(
        (link, ctx.target_addresses),
        ctx.domain,
        &attempt.nonce,
        ListenerKind::Tls,
        started_ms,
    )
    .await;
    let completed = match (&attempt.answer, &seen) {
        (Answer::Element(e, _), Ok(seen)) => {
            dialback_type(e) == Some("valid")
                && seen
                    .verify
                    .as_ref()
                    .is_some_and(|(v, _)| v.answered == "valid")
        }
        _ => false,
    };
    if completed && attempt.secure {
        result.outcome = ProbeOutcome::Enforced;
        result.detail = format!(
            "the server ignored a dialback from {sender} on a cleartext stream (no dial-back, no answer) but completed the same dialback over TLS on our stream (it dialled back to {sender} and answered valid): it requires TLS, proved by difference"
        );
        if let Ok(seen) = &seen {
            let mut evidence = seen.evidence(sender);
            evidence.by_difference = true;
            evidence.summary = result.detail.clone();
            result.responder = Some(evidence);
        }
        return;
    }
    let what = match &attempt.answer {
        Answer::Element(e, _) => format!("it answered <{}/>", XmppError::short(&e.qualified())),
        Answer::Closed(what) => format!("it closed the stream ({})", XmppError::short(what)),
        Answer::Silence => "it said nothing".into(),
        Answer::Broken(e) => format!("its answer could not be read ({e})"),
    };
    result.detail.push_str(&format!(
        "; the same dialback over TLS did not complete either ({what}): no proof either way"
    ));
}

/// Outbound: does the target federate with a peer that offers no TLS?
pub(crate) async fn outbound_probe(
    ctx: &Context<'_>,
    link: &ResponderLink,
    addr: SocketAddr,
) -> ProbeResult {
    let started = Instant::now();
    let started_ms = unix_ms_now();
    let mut result = ProbeResult::pending(ProbeKind::OutboundDialback);
    let sender = link.config.plain_domain.as_str();
    let first = match in_cleartext(ctx, link, addr, sender, &mut result).await {
        Ok(attempt) => attempt,
        Err(e) => {
            could_not_run(&mut result, &e);
            result.duration_ms = started.elapsed().as_millis() as u64;
            return result;
        }
    };
    let mut seen = observe(
        (link, ctx.target_addresses),
        ctx.domain,
        &first.nonce,
        ListenerKind::Plain,
        started_ms,
    )
    .await;
    let mut attempt = first;
    let untouched = seen
        .as_ref()
        .is_ok_and(|s| s.verify.is_none() && s.fresh.is_empty());
    if untouched && matches!(attempt.answer, Answer::Closed(_)) {
        // It refused our cleartext stream at once (ejabberd, `s2s_use_starttls: required`):
        // ask again on a stream it accepts, so that only the peer's lack of TLS is in question.
        let again_ms = unix_ms_now();
        match over_tls(ctx, link, addr, sender, &mut result).await {
            Ok(second) => {
                seen = observe(
                    (link, ctx.target_addresses),
                    ctx.domain,
                    &second.nonce,
                    ListenerKind::Plain,
                    again_ms,
                )
                .await;
                attempt = second;
            }
            Err(e) => result.detail = format!("over TLS, the dialback could not be asked: {e}; "),
        }
    }
    judge_outbound(&attempt, seen, sender, &mut result);
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

fn judge_outbound(
    attempt: &Attempt,
    seen: Result<Seen, ApiError>,
    sender: &str,
    result: &mut ProbeResult,
) {
    let on_our_stream = match &attempt.answer {
        Answer::Element(_, raw) => XmppError::short(raw),
        Answer::Closed(what) => XmppError::short(what),
        Answer::Silence => "nothing".into(),
        Answer::Broken(e) => XmppError::short(e),
    };
    result.received = on_our_stream.clone();
    let stream_words = if attempt.secure {
        "our TLS stream"
    } else {
        "our cleartext stream"
    };
    let seen = match seen {
        Ok(seen) => seen,
        Err(e) => {
            result.outcome = ProbeOutcome::Error;
            result.detail.push_str(&format!(
                "the responder could not be asked what the server did: {e}; no proof either way"
            ));
            return;
        }
    };
    let mut evidence = seen.evidence(sender);
    let cleartext_verify = seen.verify.as_ref().filter(|(v, _)| !v.secure);
    let cleartext_result = seen
        .fresh
        .iter()
        .any(|c| c.tls.is_none() && c.results.iter().any(|r| !r.secure));
    let gave_up = seen.fresh.iter().find_map(|c| {
        let ended = c.end.as_ref()?;
        let quiet = c.results.is_empty() && c.verifies.is_empty();
        (quiet && ended_by_peer(c)).then(|| {
            let detail = ended
                .detail
                .as_deref()
                .map(XmppError::short)
                .unwrap_or_default();
            format!("{} {detail}", ended.how).trim().to_owned()
        })
    });
    let (outcome, detail) = if cleartext_verify.is_some() || cleartext_result {
        let what = if cleartext_verify.is_some() {
            "sent our key's <db:verify/>"
        } else {
            "authenticated its own stream with <db:result/>"
        };
        (
            ProbeOutcome::NotEnforced,
            format!(
                "the server dialled back to {sender}, which offers no TLS, and {what} in cleartext: it federates with peers that offer no TLS"
            ),
        )
    } else if evidence.starttls_unoffered {
        (
            ProbeOutcome::Enforced,
            format!(
                "the server connected to {sender}, which offers no TLS, and insisted on <starttls/>: it does not federate without TLS"
            ),
        )
    } else if let Some(how) = gave_up {
        (
            ProbeOutcome::Enforced,
            format!(
                "the server connected to {sender}, which offers no TLS, and gave up without authenticating ({how}): it does not federate without TLS"
            ),
        )
    } else {
        let elsewhere = match seen.elsewhere {
            0 => String::new(),
            n => format!(
                "; {n} connection(s) that claimed to be it came from addresses that are not the domain's, and count for nothing"
            ),
        };
        (
            ProbeOutcome::NoAnswer,
            format!(
                "the server never authenticated to {sender} (the responder saw {} connection(s) from its addresses) and answered {on_our_stream} on {stream_words}{elsewhere}: no proof either way",
                seen.fresh.len()
            ),
        )
    };
    result.outcome = outcome;
    result.detail.push_str(&detail);
    evidence.summary = result.detail.clone();
    result.responder = Some(evidence);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(ns: &str, name: &str, attrs: &[(&str, &str)], children: Vec<Element>) -> Element {
        Element {
            ns: ns.into(),
            name: name.into(),
            attrs: attrs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            children,
            text: String::new(),
        }
    }

    /// Only the target's own addresses count (v4-mapped v6 as v4; any loopback for a loopback
    /// target); anyone else claiming to be it counts for nothing.
    #[test]
    fn only_the_targets_addresses_count() {
        let record = |peer: &str| ConnectionRecord {
            peer: peer.into(),
            ..ConnectionRecord::default()
        };
        let public: Vec<IpAddr> =
            vec!["192.0.2.7".parse().unwrap(), "2001:db8::7".parse().unwrap()];
        assert!(from_target(&record("192.0.2.7"), &public));
        assert!(from_target(&record("::ffff:192.0.2.7"), &public));
        assert!(from_target(&record("2001:db8::7"), &public));
        for other in [
            "192.0.2.8",
            "2001:db8::8",
            "127.0.0.1",
            "not an address",
            "",
        ] {
            assert!(!from_target(&record(other), &public), "{other}");
        }
        let loopback: Vec<IpAddr> = vec!["127.0.0.42".parse().unwrap()];
        assert!(from_target(&record("127.0.0.1"), &loopback));
        assert!(!from_target(&record("192.0.2.7"), &loopback));
    }

    #[test]
    fn valid_after_a_dial_back_fails_and_valid_without_one_is_a_lie() {
        let valid = el(NS_DIALBACK, "result", &[("type", "valid")], vec![]);
        let (o, d) = judge_inbound_element(&valid, Some(true), "probe.example", "over TLS 1.3");
        assert_eq!(o, ProbeOutcome::NotEnforced);
        assert!(d.contains("dialled back"), "{d}");
        let (o, d) = judge_inbound_element(&valid, Some(false), "probe.example", "");
        assert_eq!(o, ProbeOutcome::NotEnforced);
        assert!(d.contains("without ever dialing back"), "{d}");
        let invalid = el(NS_DIALBACK, "result", &[("type", "invalid")], vec![]);
        let (o, _) = judge_inbound_element(&invalid, Some(true), "probe.example", "");
        assert_eq!(o, ProbeOutcome::Attempted);
    }
}
