//! The main session of one endpoint: stream features, STARTTLS (or Direct TLS from the first
//! byte), the TLS handshake and certificate, and the features after TLS. [`check_endpoint`]
//! runs it beside the enforcement probe (`crate::check::probes`) and the TLS posture probes
//! (`crate::check::posture`), each on its own connection.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use crate::check::context::{Context, OpenError, Opened};
use crate::check::identity;
use crate::check::net::{self, Conn};
use crate::check::probes::{enforcement_probe, outbound_probe};
use crate::check::tls::TlsError;
use crate::check::xml::{Limits, StreamEvent};
use crate::check::xmpp::{self, NS_TLS, XmppError, XmppStream, check_stream_error};
use crate::report::{
    Endpoint, ErrorKind, Mode, PresentedChain, ProbeKind, Service, StarttlsOutcome,
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
        if let Some(reason) = crate::check::reach::not_checked_by_connect(&e) {
            return Failure {
                kind: ErrorKind::NotChecked,
                message: reason,
            };
        }
        let kind = match e {
            net::ConnectError::Timeout(..) => ErrorKind::Timeout,
            net::ConnectError::Io(..) => ErrorKind::Unreachable,
            net::ConnectError::NotPublic(_) => ErrorKind::Policy,
            net::ConnectError::RateLimited(..) => ErrorKind::RateLimited,
        };
        Failure {
            kind,
            message: e.to_string(),
        }
    }
}

impl From<OpenError> for Failure {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Connect(e) => e.into(),
            OpenError::Stream(e) => e.into(),
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
                let (_, probe, outbound) = tokio::join!(
                    starttls_session(ctx, &mut endpoint, addr),
                    enforcement_probe(ctx, service, probe_kind, addr),
                    outbound_probe(ctx, service, addr)
                );
                endpoint.probes.push(probe);
                endpoint.probes.extend(outbound);
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
    let Opened {
        mut stream,
        header: stream_header,
        features,
        ..
    } = ctx.open_stream(addr, ep.service).await?;
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
    tcp: Conn,
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
