//! The enforcement probes: one plaintext request the server must refuse before TLS (SASL for
//! c2s, dialback for s2s), each on its own fresh connection, and the classification of the
//! answer into proof (enforced, not enforced) or no proof either way.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::check::context::{Context, OpenError};
use crate::check::net::{Conn, ConnectError};
use crate::check::xml::{Element, StreamEvent};
use crate::check::xmpp::{self, NS_DIALBACK, NS_SASL, XmppError, XmppStream, check_stream_error};
use crate::report::{ErrorKind, ProbeKind, ProbeOutcome, ProbeResult, Service};
use base64::Engine;
use rand::Rng;
use tokio::io::{AsyncRead, AsyncWrite};

/// With a responder, s2s: whether the target federates outbound with a peer that offers no
/// TLS (`crate::check::dialback`); `None` without one, or for c2s.
pub async fn outbound_probe(
    ctx: &Context<'_>,
    service: Service,
    addr: SocketAddr,
) -> Option<ProbeResult> {
    let link = ctx.responder.filter(|_| service == Service::S2s)?;
    Some(crate::check::dialback::outbound_probe(ctx, link, addr).await)
}

/// Runs the enforcement probe on a fresh plaintext connection. With a responder, the s2s
/// probe is a dialback the target can complete (`crate::check::dialback`).
pub async fn enforcement_probe(
    ctx: &Context<'_>,
    service: Service,
    kind: ProbeKind,
    addr: SocketAddr,
) -> ProbeResult {
    if let (ProbeKind::Dialback, Some(link)) = (kind, ctx.responder) {
        return crate::check::dialback::inbound_probe(ctx, link, addr).await;
    }
    let started = Instant::now();
    let mut result = ProbeResult::pending(kind);
    match ctx.open_stream(addr, service).await {
        Ok(opened) => {
            let mut stream = opened.stream;
            let wait = answer_wait(opened.round_trip, ctx.probe_wait_min, ctx.probe_wait);
            match kind {
                ProbeKind::Sasl => sasl_probe(&mut stream, &mut result, wait).await,
                ProbeKind::Dialback | ProbeKind::OutboundDialback => {
                    dialback_probe(ctx, &mut stream, &mut result, wait).await
                }
            }
            stream.close().await;
            if kind == ProbeKind::Sasl && result.outcome == ProbeOutcome::NoAnswer {
                stanza_probe(ctx, service, addr, &mut result).await;
            }
        }
        Err(e) => {
            result.outcome = ProbeOutcome::Error;
            result.detail = format!("the probe could not run: {e}");
            if let OpenError::Connect(ConnectError::RateLimited(..)) = e {
                result.error_kind = Some(ErrorKind::RateLimited);
            }
        }
    }
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

/// What came back to a probe, classified.
pub(crate) enum Answer {
    Element(Element, String),
    /// A stream error or the end of the stream: the server refused to go on in plaintext.
    Closed(String),
    Silence,
    Broken(String),
}

/// How long to wait for a probe's answer: several round trips of this very connection (the
/// stream header to features exchange just measured), at least `min`, at most
/// `max`. A server that answers at all answers within a round trip or two; waiting longer only
/// waits out servers that deliberately stay silent (Prosody's dialback).
pub(crate) fn answer_wait(round_trip: Duration, min: Duration, max: Duration) -> Duration {
    (round_trip * 4).max(min).min(max.max(min))
}

pub(crate) async fn await_answer<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut XmppStream<S>,
    wait: Duration,
) -> Answer {
    match stream.next_within(wait, "the answer to the probe").await {
        Ok(StreamEvent::Element(e, raw)) => match check_stream_error(e) {
            Ok(e) => Answer::Element(e, raw),
            Err(err) => Answer::Closed(format!("{err}: {}", XmppError::short(&raw))),
        },
        Ok(StreamEvent::Close) => Answer::Closed("</stream:stream>".into()),
        Ok(StreamEvent::Open(_)) => Answer::Broken("a second stream header".into()),
        Err(XmppError::Eof(_)) => Answer::Closed("the connection was closed".into()),
        Err(XmppError::Io(e)) => Answer::Closed(format!("the connection was reset ({e})")),
        Err(XmppError::Timeout(..)) => Answer::Silence,
        Err(e) => Answer::Broken(e.to_string()),
    }
}

pub(crate) fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// c2s: one SASL attempt before TLS for a random non-existent user. SCRAM first: Prosody
/// refuses a cleartext PLAIN even when TLS is optional, so a PLAIN rejection proves nothing.
async fn sasl_probe(stream: &mut XmppStream<Conn>, result: &mut ProbeResult, wait: Duration) {
    let user = format!("manifesto-probe-{}", random_token(10));
    let client_first = format!("n,,n={user},r={}", random_token(24));
    let b64 = base64::engine::general_purpose::STANDARD;
    let scram = format!(
        "<auth xmlns='{NS_SASL}' mechanism='SCRAM-SHA-1'>{}</auth>",
        b64.encode(client_first)
    );
    result.sent = scram.clone();
    if let Err(e) = stream.send(&scram).await {
        result.detail = format!("could not send the probe: {e}");
        return;
    }
    let answer = await_answer(stream, wait).await;
    let answer = match answer {
        Answer::Element(e, _)
            if e.is(NS_SASL, "failure") && e.has_child(NS_SASL, "invalid-mechanism") =>
        {
            // SCRAM refused as a mechanism: try PLAIN with a bogus password, still one login.
            let plain = format!(
                "<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{}</auth>",
                b64.encode(format!("\0{user}\0{}", random_token(16)))
            );
            result.sent.push_str(&plain);
            if let Err(e) = stream.send(&plain).await {
                result.detail = format!("could not send the probe: {e}");
                return;
            }
            await_answer(stream, wait).await
        }
        other => other,
    };
    classify_sasl(answer, result);
}

fn classify_sasl(answer: Answer, result: &mut ProbeResult) {
    match answer {
        Answer::Element(e, raw) => {
            result.received = XmppError::short(&raw);
            if e.is(NS_SASL, "failure") && e.has_child(NS_SASL, "encryption-required") {
                result.outcome = ProbeOutcome::Enforced;
                result.detail =
                    "the server refused to authenticate before TLS (<encryption-required/>)".into();
            } else if e.ns == NS_SASL
                && matches!(e.name.as_str(), "challenge" | "success" | "failure")
            {
                result.outcome = ProbeOutcome::NotEnforced;
                let condition = e
                    .children
                    .iter()
                    .find(|c| c.ns == NS_SASL && c.name != "text")
                    .map(|c| c.name.clone());
                result.detail = match (e.name.as_str(), condition) {
                    ("failure", Some(c)) => format!(
                        "the server processed SASL authentication in cleartext (it answered <failure><{}/></failure>, not <encryption-required/>)",
                        XmppError::short(&c)
                    ),
                    (name, _) => format!(
                        "the server processed SASL authentication in cleartext (it answered <{name}/>)"
                    ),
                };
            } else {
                result.outcome = ProbeOutcome::Error;
                result.detail = format!(
                    "unexpected answer to SASL: <{}/>",
                    XmppError::short(&e.name)
                );
            }
        }
        Answer::Closed(what) => {
            result.received = XmppError::short(&what);
            result.outcome = ProbeOutcome::Enforced;
            result.detail =
                "the server closed the stream instead of authenticating before TLS".into();
        }
        Answer::Silence => {
            result.outcome = ProbeOutcome::NoAnswer;
            result.detail =
                "no answer to SASL before TLS within the wait: no proof either way".into();
        }
        Answer::Broken(e) => {
            result.outcome = ProbeOutcome::Error;
            result.detail = format!("the answer could not be read: {e}");
        }
    }
}

/// c2s, when SASL got silence: a stanza before authentication, on a second fresh connection.
/// A server that enforces TLS may stay silent on SASL yet say why it refuses a stanza: a
/// stream error `<policy-violation/>` whose text says TLS (encryption) is required proves
/// enforcement. `<not-authorized/>` is the answer to any stanza before authentication, TLS or
/// not (RFC 6120 §4.9.3.12), so it proves nothing, whatever its text; silence neither. (Openfire
/// closes such a stream with `<not-authorized/>` "TLS is mandatory, but was not established.",
/// StanzaHandler.java `closeNeverEncryptedConnection`; its SASL probe already closes the
/// stream, which proves enforcement before this probe runs.)
async fn stanza_probe(
    ctx: &Context<'_>,
    service: Service,
    addr: SocketAddr,
    result: &mut ProbeResult,
) {
    let stanza = format!(
        "<iq type='get' id='manifesto-{}'><query xmlns='jabber:iq:roster'/></iq>",
        random_token(8)
    );
    let opened = match ctx.open_stream(addr, service).await {
        Ok(opened) => opened,
        Err(e) => {
            result.detail.push_str(&format!(
                "; the stanza probe before authentication could not run: {e}"
            ));
            return;
        }
    };
    let mut stream = opened.stream;
    let wait = answer_wait(opened.round_trip, ctx.probe_wait_min, ctx.probe_wait);
    result.sent.push_str(&stanza);
    let verdict = match stream.send(&stanza).await {
        Ok(()) => {
            classify_stanza_answer(stream.next_within(wait, "the answer to the stanza").await)
        }
        Err(e) => StanzaVerdict::NoProof(format!("could not send the stanza: {e}")),
    };
    stream.close().await;
    match verdict {
        StanzaVerdict::Enforced(received) => {
            result.received = received;
            result.outcome = ProbeOutcome::Enforced;
            result.detail = "the server refused a stanza before TLS with <policy-violation/> saying TLS is required (it gave no answer to SASL)".into();
        }
        StanzaVerdict::NoProof(what) => {
            result.detail.push_str(&format!(
                "; a stanza before authentication proved nothing either: {what}"
            ));
        }
    }
}

enum StanzaVerdict {
    /// What the server sent, shortened.
    Enforced(String),
    /// What happened, in words.
    NoProof(String),
}

fn classify_stanza_answer(event: Result<StreamEvent, XmppError>) -> StanzaVerdict {
    let event = match event {
        Ok(StreamEvent::Element(e, raw)) => match check_stream_error(e) {
            Err(XmppError::StreamError { condition, text }) => {
                let text = text.unwrap_or_default();
                if condition == "policy-violation" && says_tls_required(&text) {
                    return StanzaVerdict::Enforced(XmppError::short(&raw));
                }
                format!("stream error <{condition}/> {text:?}")
            }
            Err(e) => e.to_string(),
            Ok(e) => format!("it answered <{}/>", XmppError::short(&e.name)),
        },
        Ok(StreamEvent::Close) => "it closed the stream without saying why".into(),
        Ok(StreamEvent::Open(_)) => "a second stream header".into(),
        Err(XmppError::Timeout(..)) => "no answer within the wait".into(),
        Err(e) => e.to_string(),
    };
    StanzaVerdict::NoProof(event)
}

/// Whether a stream error's text says that TLS is required: it names TLS, SSL or encryption.
/// A policy violation for another reason (too many connections, a blocked address) proves
/// nothing about TLS.
pub(crate) fn says_tls_required(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    ["tls", "ssl", "encrypt", "starttls", "secure"]
        .iter()
        .any(|word| text.contains(word))
}

/// s2s: a dialback request before TLS.
async fn dialback_probe(
    ctx: &Context<'_>,
    stream: &mut XmppStream<Conn>,
    result: &mut ProbeResult,
    wait: Duration,
) {
    let key = hex::encode(rand::rng().random::<[u8; 20]>());
    let request = format!(
        "<db:result xmlns:db='{NS_DIALBACK}' from='{}' to='{}'>{key}</db:result>",
        xmpp::escape_attr(ctx.s2s_from),
        xmpp::escape_attr(ctx.domain)
    );
    result.sent = request.clone();
    if let Err(e) = stream.send(&request).await {
        result.detail = format!("could not send the probe: {e}");
        return;
    }
    classify_dialback(await_answer(stream, wait).await, result);
}

fn classify_dialback(answer: Answer, result: &mut ProbeResult) {
    match answer {
        Answer::Element(e, raw) => {
            result.received = XmppError::short(&raw);
            if e.is(NS_DIALBACK, "result") || e.is(NS_DIALBACK, "verify") {
                match e.attr("type") {
                    Some("valid") => {
                        result.outcome = ProbeOutcome::NotEnforced;
                        result.detail =
                            "the server authenticated a peer with dialback in cleartext (type='valid')".into();
                    }
                    other => {
                        result.outcome = ProbeOutcome::Attempted;
                        result.detail = format!(
                            "the server ran dialback before TLS and answered type='{}'",
                            XmppError::short(other.unwrap_or("none"))
                        );
                    }
                }
            } else {
                result.outcome = ProbeOutcome::Attempted;
                result.detail = format!(
                    "the server answered a cleartext dialback request with <{}/>",
                    XmppError::short(&e.name)
                );
            }
        }
        Answer::Closed(what) => {
            result.received = XmppError::short(&what);
            result.outcome = ProbeOutcome::Enforced;
            result.detail =
                "the server closed the stream instead of running dialback before TLS".into();
        }
        Answer::Silence => {
            result.outcome = ProbeOutcome::NoAnswer;
            result.detail = "no answer to dialback before TLS within the wait (the server may be dialing back first): no proof either way".into();
        }
        Answer::Broken(e) => {
            result.outcome = ProbeOutcome::Error;
            result.detail = format!("the answer could not be read: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(ns: &str, name: &str, text: &str, children: Vec<Element>) -> Element {
        Element {
            ns: ns.into(),
            name: name.into(),
            attrs: vec![],
            children,
            text: text.into(),
        }
    }

    fn stream_error(condition: &str, text: Option<&str>) -> Result<StreamEvent, XmppError> {
        let mut children = vec![el(xmpp::NS_STREAM_ERRORS, condition, "", vec![])];
        if let Some(t) = text {
            children.push(el(xmpp::NS_STREAM_ERRORS, "text", t, vec![]));
        }
        let e = el(crate::check::xml::NS_STREAMS, "error", "", children);
        Ok(StreamEvent::Element(
            e,
            "<stream:error>…</stream:error>".into(),
        ))
    }

    /// Only a policy violation that names TLS proves enforcement; not-authorized (the answer
    /// to any stanza before authentication), another policy violation, a stanza error,
    /// silence or a bare close prove nothing.
    #[test]
    fn a_stanza_refused_for_tls_proves_enforcement_and_nothing_else_does() {
        let enforced = |event| matches!(classify_stanza_answer(event), StanzaVerdict::Enforced(_));
        assert!(enforced(stream_error(
            "policy-violation",
            Some("Encryption is required")
        )));
        assert!(enforced(stream_error(
            "policy-violation",
            Some("TLS required before authentication")
        )));
        let no_proof = [
            stream_error(
                "not-authorized",
                Some("TLS is mandatory, but was not established."),
            ),
            stream_error("not-authorized", None),
            stream_error("policy-violation", None),
            stream_error("policy-violation", Some("Too many connections")),
            Ok(StreamEvent::Element(
                el("jabber:client", "iq", "", vec![]),
                "<iq type='error'/>".into(),
            )),
            Ok(StreamEvent::Close),
            Err(XmppError::Timeout(Duration::from_millis(400), "the answer")),
        ];
        for event in no_proof {
            let shown = format!("{event:?}");
            assert!(
                matches!(classify_stanza_answer(event), StanzaVerdict::NoProof(_)),
                "{shown}"
            );
        }
    }

    #[test]
    fn answer_wait_follows_the_round_trip() {
        let (min, max) = (Duration::from_millis(400), Duration::from_secs(2));
        assert_eq!(answer_wait(Duration::from_millis(1), min, max), min);
        assert_eq!(
            answer_wait(Duration::from_millis(200), min, max),
            Duration::from_millis(800)
        );
        assert_eq!(answer_wait(Duration::from_secs(3), min, max), max);
        assert_eq!(answer_wait(Duration::from_millis(1), max * 2, max), max * 2);
    }
}
