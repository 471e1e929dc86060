//! Per-endpoint work: the main session (features, STARTTLS, TLS, post-TLS features) and the
//! enforcement probes, each on its own fresh plaintext connection.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use rand::Rng;
use tokio::net::TcpStream;

use crate::check::context::Context;
use crate::check::identity;
use crate::check::net;
use crate::check::tls::TlsError;
use crate::check::xml::{Element, Limits, StreamEvent};
use crate::check::xmpp::{
    self, NS_DIALBACK, NS_SASL, NS_TLS, XmppError, XmppStream, check_stream_error,
};
use crate::report::{
    Endpoint, ErrorKind, Mode, PresentedChain, ProbeKind, ProbeOutcome, ProbeResult, Service,
    StarttlsOutcome,
};

/// Why a session stopped, with the kind that decides how it is graded.
#[derive(Debug)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

impl Failure {
    fn protocol(message: impl Into<String>) -> Self {
        Failure {
            kind: ErrorKind::Protocol,
            message: message.into(),
        }
    }
}

impl From<net::ConnectError> for Failure {
    fn from(e: net::ConnectError) -> Self {
        let kind = match e {
            net::ConnectError::Timeout(..) => ErrorKind::Timeout,
            net::ConnectError::Io(..) => ErrorKind::Unreachable,
            net::ConnectError::NotPublic(_) => ErrorKind::Policy,
        };
        Failure {
            kind,
            message: e.to_string(),
        }
    }
}

impl From<XmppError> for Failure {
    fn from(e: XmppError) -> Self {
        let kind = match e {
            XmppError::Timeout(..) => ErrorKind::Timeout,
            XmppError::Eof(_) | XmppError::Io(_) => ErrorKind::Unreachable,
            _ => ErrorKind::Protocol,
        };
        Failure {
            kind,
            message: e.to_string(),
        }
    }
}

impl From<TlsError> for Failure {
    fn from(e: TlsError) -> Self {
        let kind = match e {
            TlsError::Incompatible(_) => ErrorKind::TlsIncompatible,
            TlsError::Timeout(_) => ErrorKind::Timeout,
            _ => ErrorKind::Tls,
        };
        Failure {
            kind,
            message: e.to_string(),
        }
    }
}

/// Checks one endpoint: the main session, for STARTTLS the enforcement probe, and the TLS
/// posture probes, all concurrently.
pub async fn check_endpoint(
    ctx: &Context<'_>,
    mut endpoint: Endpoint,
    addr: SocketAddr,
) -> Endpoint {
    let started = Instant::now();
    let (service, mode) = (endpoint.service, endpoint.mode);
    let main = async {
        match mode {
            Mode::Starttls => {
                let probe_kind = match service {
                    Service::C2s => ProbeKind::Sasl,
                    Service::S2s => ProbeKind::Dialback,
                };
                let (_, probe) = tokio::join!(
                    starttls_session(ctx, &mut endpoint, addr),
                    enforcement_probe(ctx, service, probe_kind, addr)
                );
                endpoint.probes.push(probe);
            }
            Mode::DirectTls => direct_tls_session(ctx, &mut endpoint, addr).await,
        }
    };
    // TLS posture probes (crate::check::posture): concurrently, one fresh connection each.
    let posture = async {
        match ctx.posture_cache {
            Some(cache) => cache.get_or_run(ctx, service, mode, addr).await,
            None => crate::check::posture::run_posture(ctx, service, mode, addr).await,
        }
    };
    let ((), posture) = tokio::join!(main, posture);
    endpoint.posture = posture;
    endpoint.duration_ms = started.elapsed().as_millis() as u64;
    endpoint
}

async fn starttls_session(ctx: &Context<'_>, ep: &mut Endpoint, addr: SocketAddr) {
    if let Err(e) = try_starttls_session(ctx, ep, addr).await {
        record_failure(ep, e);
    }
}

fn record_failure(ep: &mut Endpoint, e: Failure) {
    ep.error = Some(e.message);
    ep.error_kind = Some(e.kind);
}

async fn try_starttls_session(
    ctx: &Context<'_>,
    ep: &mut Endpoint,
    addr: SocketAddr,
) -> Result<(), Failure> {
    let tcp = ctx.connect(addr).await?;
    let mut stream = XmppStream::new(tcp, ctx.timeout, ctx.limits);
    let header = ctx.header(ep.service);
    let (stream_header, features) = stream.open(&header).await?;
    let pre_1_0 = stream_header.version.as_deref() != Some("1.0");
    ep.stream = Some(stream_header);
    ep.pre_tls_features = Some(xmpp::features(&features));
    if pre_1_0 {
        return Err(Failure::protocol(
            "the server answered with a pre-XMPP-1.0 stream (no version='1.0')",
        ));
    }

    // Sent even when not advertised: a server may still accept it.
    stream
        .send(&format!("<starttls xmlns='{NS_TLS}'/>"))
        .await?;
    let answer = match stream.next("the answer to <starttls/>").await {
        Ok(StreamEvent::Element(e, _)) => e,
        Ok(StreamEvent::Close) | Err(XmppError::Eof(_)) => {
            ep.starttls = Some(StarttlsOutcome::Closed);
            return Err(Failure::protocol(
                "the server closed the stream instead of answering <starttls/>",
            ));
        }
        Ok(StreamEvent::Open(_)) => {
            return Err(Failure::protocol("unexpected second stream header"));
        }
        Err(XmppError::Timeout(..)) => {
            ep.starttls = Some(StarttlsOutcome::NoAnswer);
            return Err(Failure {
                kind: ErrorKind::Timeout,
                message: "no answer to <starttls/>".into(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    if answer.is(NS_TLS, "failure") {
        ep.starttls = Some(StarttlsOutcome::Failure);
        return Err(Failure::protocol(
            "the server refused STARTTLS (<failure/>)",
        ));
    }
    if !answer.is(NS_TLS, "proceed") {
        if let Err(e) = check_stream_error(answer.clone()) {
            ep.starttls = Some(StarttlsOutcome::Closed);
            return Err(Failure::protocol(format!(
                "the server answered <starttls/> with a {e}"
            )));
        }
        return Err(Failure::protocol(format!(
            "unexpected answer to <starttls/>: <{}/>",
            XmppError::short(&answer.name)
        )));
    }
    ep.starttls = Some(StarttlsOutcome::Proceed);
    let limits = stream.limits();
    let tcp = stream.into_transport()?;
    tls_and_features(ctx, ep, tcp, None, limits).await
}

async fn direct_tls_session(ctx: &Context<'_>, ep: &mut Endpoint, addr: SocketAddr) {
    let result = async {
        let tcp = ctx.connect(addr).await?;
        let alpn = match ep.service {
            Service::C2s => "xmpp-client",
            Service::S2s => "xmpp-server",
        };
        tls_and_features(ctx, ep, tcp, Some(alpn), ctx.limits).await
    }
    .await;
    if let Err(e) = result {
        record_failure(ep, e);
    }
}

/// TLS handshake, certificate assessment, then a new stream with a new parser.
async fn tls_and_features(
    ctx: &Context<'_>,
    ep: &mut Endpoint,
    tcp: TcpStream,
    alpn: Option<&'static str>,
    limits: Limits,
) -> Result<(), Failure> {
    let (tls, info, chain) = ctx
        .tls
        .handshake(tcp, ctx.domain, alpn, ctx.timeout)
        .await?;
    ep.tls = Some(info);
    ep.certificate = Some(identity::assess(
        &chain,
        ctx.domain,
        ep.service,
        ep.mode,
        ctx.roots,
        SystemTime::now(),
    ));
    ep.presented = PresentedChain(chain);
    let mut secure = XmppStream::new(tls, ctx.timeout, limits);
    match secure.open(&ctx.header(ep.service)).await {
        Ok((header, features)) => {
            if ep.mode == Mode::DirectTls {
                ep.stream = Some(header);
            }
            ep.post_tls_features = Some(xmpp::features(&features));
            secure.close().await;
        }
        // After TLS a server may rightly refuse us (Prosody's s2s_secure_auth without a client
        // certificate): not a failure of the target, but worth showing.
        Err(e) => ep.post_tls_error = Some(e.to_string()),
    }
    Ok(())
}

/// Runs the enforcement probe on a fresh plaintext connection.
pub async fn enforcement_probe(
    ctx: &Context<'_>,
    service: Service,
    kind: ProbeKind,
    addr: SocketAddr,
) -> ProbeResult {
    let started = Instant::now();
    let mut result = ProbeResult {
        kind,
        outcome: ProbeOutcome::Error,
        sent: String::new(),
        received: String::new(),
        detail: String::new(),
        duration_ms: 0,
    };
    let run = async {
        let tcp = ctx.connect(addr).await.map_err(|e| e.to_string())?;
        let mut stream = XmppStream::new(tcp, ctx.timeout, ctx.limits);
        let opened = Instant::now();
        stream
            .open(&ctx.header(service))
            .await
            .map_err(|e| e.to_string())?;
        let wait = answer_wait(opened.elapsed(), ctx.probe_wait_min, ctx.probe_wait);
        match kind {
            ProbeKind::Sasl => sasl_probe(&mut stream, &mut result, wait).await,
            ProbeKind::Dialback => dialback_probe(ctx, &mut stream, &mut result, wait).await,
        }
        stream.close().await;
        Ok::<(), String>(())
    };
    if let Err(e) = run.await {
        result.outcome = ProbeOutcome::Error;
        result.detail = format!("the probe could not run: {e}");
    }
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

/// What came back to a probe, classified.
enum Answer {
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
fn answer_wait(round_trip: Duration, min: Duration, max: Duration) -> Duration {
    (round_trip * 4).max(min).min(max.max(min))
}

async fn await_answer(stream: &mut XmppStream<TcpStream>, wait: Duration) -> Answer {
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

fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// c2s: one SASL attempt before TLS for a random non-existent user. SCRAM first: Prosody
/// refuses a cleartext PLAIN even when TLS is optional, so a PLAIN rejection proves nothing.
async fn sasl_probe(stream: &mut XmppStream<TcpStream>, result: &mut ProbeResult, wait: Duration) {
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

/// s2s: a dialback request before TLS.
async fn dialback_probe(
    ctx: &Context<'_>,
    stream: &mut XmppStream<TcpStream>,
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
