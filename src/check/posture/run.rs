//! Running the posture probes: one fresh connection per probe (after `<proceed/>` for
//! STARTTLS, from the first byte for Direct TLS), a hand-built hello or a rustls handshake
//! pinned to one version, and the first bytes of the answer read within a deadline and a cap.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use crate::check::context::Context;
use crate::check::net::Conn;
use crate::check::posture::Offer;
use crate::check::posture::hello::{client_hello, sslv2_client_hello, version_name};
use crate::check::posture::reply::{Reply, classify, parse_reply};
use crate::check::xml::StreamEvent;
use crate::check::xmpp::{NS_TLS, XmppError};
use crate::report::{Mode, PostureOutcome, PostureProbe, Service};
use rand::Rng;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Most bytes read from a server in answer to a hand-built hello.
pub const MAX_REPLY: usize = 4096;
/// Most bytes of the answer kept (as hex) in the report.
pub const MAX_RECEIVED_HEX_BYTES: usize = 256;
/// Most bytes of what was sent kept (as hex) for the rustls probes (their hello is bigger).
const MAX_SENT_HEX_BYTES: usize = 1024;
/// Upper bound of the wait for the first answer to a hello (the step timeout if shorter): a
/// server that accepts answers at once, so a long wait only delays a check.
const MAX_REPLY_WAIT: Duration = Duration::from_secs(5);

fn hex_capped(bytes: &[u8], cap: usize) -> String {
    hex::encode(&bytes[..bytes.len().min(cap)])
}

/// Runs every posture probe of one endpoint, concurrently, one fresh connection each.
pub async fn run_posture(
    ctx: &Context<'_>,
    service: Service,
    mode: Mode,
    addr: SocketAddr,
) -> Vec<PostureProbe> {
    futures::future::join_all(
        Offer::ALL
            .into_iter()
            .map(|offer| run_probe(ctx, service, mode, addr, offer)),
    )
    .await
}

/// Runs one posture probe on its own connection.
pub async fn run_probe(
    ctx: &Context<'_>,
    service: Service,
    mode: Mode,
    addr: SocketAddr,
    offer: Offer,
) -> PostureProbe {
    let mut probe = PostureProbe {
        offer: offer.name().into(),
        outcome: PostureOutcome::Error,
        selected_suite: None,
        sent_hex: String::new(),
        received_hex: String::new(),
        detail: None,
    };
    let io = match open_transport(ctx, service, mode, addr).await {
        Ok(io) => io,
        Err(e) => {
            probe.detail = Some(format!("the probe could not run: {e}"));
            return probe;
        }
    };
    if offer.hand_built() {
        raw_probe(ctx, io, offer, &mut probe).await;
    } else {
        rustls_probe(ctx, io, service, mode, offer, &mut probe).await;
    }
    probe
}

/// A connection ready for a TLS hello: after `<proceed/>` for STARTTLS, fresh for Direct TLS.
async fn open_transport(
    ctx: &Context<'_>,
    service: Service,
    mode: Mode,
    addr: SocketAddr,
) -> Result<Conn, String> {
    if mode == Mode::DirectTls {
        return ctx.connect(addr).await.map_err(|e| e.to_string());
    }
    let mut stream = ctx
        .open_stream(addr, service)
        .await
        .map_err(|e| e.to_string())?
        .stream;
    stream
        .send(&format!("<starttls xmlns='{NS_TLS}'/>"))
        .await
        .map_err(|e| e.to_string())?;
    match stream.next("the answer to <starttls/>").await {
        Ok(StreamEvent::Element(e, _)) if e.is(NS_TLS, "proceed") => {}
        Ok(StreamEvent::Element(e, _)) => {
            return Err(format!(
                "<starttls/> was answered with <{}/>",
                XmppError::short(&e.name)
            ));
        }
        Ok(_) => return Err("<starttls/> was not answered with <proceed/>".into()),
        Err(e) => return Err(e.to_string()),
    }
    stream.into_transport().map_err(|e| e.to_string())
}

fn reply_wait(ctx: &Context<'_>) -> Duration {
    ctx.timeout.min(MAX_REPLY_WAIT)
}

/// How reading an answer ended.
enum ReadEnd {
    Classified(Reply),
    Eof,
    Reset(String),
    Silence,
    Full,
}

/// Reads until the answer can be classified, the peer closes, the deadline or the byte cap.
async fn read_reply<S: AsyncRead + Unpin>(io: &mut S, wait: Duration) -> (Vec<u8>, ReadEnd) {
    let deadline = tokio::time::Instant::now() + wait;
    let mut received = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let room = MAX_REPLY.saturating_sub(received.len()).min(chunk.len());
        if room == 0 {
            return (received, ReadEnd::Full);
        }
        let n = match tokio::time::timeout_at(deadline, io.read(&mut chunk[..room])).await {
            Err(_) => return (received, ReadEnd::Silence),
            Ok(Err(e)) => return (received, ReadEnd::Reset(e.to_string())),
            Ok(Ok(0)) => return (received, ReadEnd::Eof),
            Ok(Ok(n)) => n,
        };
        received.extend_from_slice(chunk.get(..n).unwrap_or_default());
        match parse_reply(&received) {
            Reply::NeedMore => {}
            reply => return (received, ReadEnd::Classified(reply)),
        }
    }
}

/// Sends a hand-built hello and classifies the answer.
async fn raw_probe(ctx: &Context<'_>, mut io: Conn, offer: Offer, probe: &mut PostureProbe) {
    let hello = if offer == Offer::Sslv2 {
        sslv2_client_hello(&rand::rng().random::<[u8; 16]>())
    } else {
        match client_hello(offer, ctx.domain, &rand::rng().random::<[u8; 32]>()) {
            Some(h) => h,
            None => {
                probe.detail = Some("no hand-built hello for this offer".into());
                return;
            }
        }
    };
    let write = async {
        io.write_all(&hello).await?;
        io.flush().await
    };
    match tokio::time::timeout(ctx.timeout, write).await {
        Ok(Ok(())) => probe.sent_hex = hex::encode(&hello),
        Ok(Err(e)) => {
            // Closed before we could even send: the server will not talk TLS with us here.
            probe.outcome = PostureOutcome::Refused;
            probe.detail = Some(format!(
                "the connection was closed while sending the hello: {e}"
            ));
            return;
        }
        Err(_) => {
            probe.outcome = PostureOutcome::Inconclusive;
            probe.detail = Some("timed out sending the hello".into());
            return;
        }
    }
    let (received, end) = read_reply(&mut io, reply_wait(ctx)).await;
    probe.received_hex = hex_capped(&received, MAX_RECEIVED_HEX_BYTES);
    let asked = version_name(offer.version());
    let (outcome, suite, detail) = match end {
        ReadEnd::Classified(reply) => classify(offer, &reply),
        ReadEnd::Eof if received.is_empty() => (
            PostureOutcome::Refused,
            None,
            format!("the server closed the connection in answer to the {asked} hello"),
        ),
        ReadEnd::Eof => (
            PostureOutcome::Refused,
            None,
            format!(
                "the server closed the connection after {} bytes of an incomplete answer to the {asked} hello",
                received.len()
            ),
        ),
        ReadEnd::Reset(e) => (
            PostureOutcome::Refused,
            None,
            format!("the server reset the connection in answer to the {asked} hello ({e})"),
        ),
        ReadEnd::Silence if received.is_empty() => (
            PostureOutcome::Inconclusive,
            None,
            format!(
                "no answer to the {asked} hello within {:?}",
                reply_wait(ctx)
            ),
        ),
        ReadEnd::Silence => (
            PostureOutcome::Inconclusive,
            None,
            format!("incomplete answer to the {asked} hello before the deadline"),
        ),
        ReadEnd::Full => (
            PostureOutcome::Error,
            None,
            format!("no ServerHello in the first {MAX_REPLY} bytes"),
        ),
    };
    probe.outcome = outcome;
    probe.selected_suite = suite;
    probe.detail = Some(detail);
    let _ = tokio::time::timeout(Duration::from_millis(200), io.shutdown()).await;
}

/// Accepts any certificate and signature: a posture probe only asks which protocol the server
/// accepts; the certificate is judged on the main session.
#[derive(Debug)]
struct AcceptAnything(Vec<SignatureScheme>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.clone()
    }
}

fn pinned_config(offer: Offer, alpn: Option<&[u8]>) -> Result<Arc<ClientConfig>, String> {
    let provider = crate::check::tls::provider();
    let schemes = provider
        .signature_verification_algorithms
        .supported_schemes();
    let version: &'static rustls::SupportedProtocolVersion = if offer == Offer::Tls13 {
        &rustls::version::TLS13
    } else {
        &rustls::version::TLS12
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnything(schemes)))
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    if let Some(alpn) = alpn {
        config.alpn_protocols = vec![alpn.to_vec()];
    }
    Ok(Arc::new(config))
}

/// The first bytes each way of a connection, for the report.
#[derive(Default)]
struct Recorded {
    sent: Vec<u8>,
    received: Vec<u8>,
}

struct Recorder<S> {
    inner: S,
    log: Arc<Mutex<Recorded>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorder<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll
            && let Ok(mut log) = this.log.lock()
        {
            let new = buf.filled().get(before..).unwrap_or_default();
            let room = MAX_RECEIVED_HEX_BYTES.saturating_sub(log.received.len());
            log.received.extend_from_slice(&new[..new.len().min(room)]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorder<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll
            && let Ok(mut log) = this.log.lock()
        {
            let written = buf.get(..n).unwrap_or_default();
            let room = MAX_SENT_HEX_BYTES.saturating_sub(log.sent.len());
            log.sent
                .extend_from_slice(&written[..written.len().min(room)]);
        }
        poll
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A rustls handshake pinned to one version (TLS 1.2 or 1.3).
async fn rustls_probe(
    ctx: &Context<'_>,
    io: Conn,
    service: Service,
    mode: Mode,
    offer: Offer,
    probe: &mut PostureProbe,
) {
    let alpn: Option<&[u8]> = match (mode, service) {
        (Mode::DirectTls, Service::C2s) => Some(b"xmpp-client"),
        (Mode::DirectTls, Service::S2s) => Some(b"xmpp-server"),
        _ => None,
    };
    let config = match pinned_config(offer, alpn) {
        Ok(c) => c,
        Err(e) => {
            probe.detail = Some(format!("TLS configuration: {e}"));
            return;
        }
    };
    let name = match ServerName::try_from(ctx.domain.to_owned()) {
        Ok(n) => n,
        Err(_) => {
            probe.detail = Some(format!("invalid server name {}", ctx.domain));
            return;
        }
    };
    let log = Arc::new(Mutex::new(Recorded::default()));
    let recorder = Recorder {
        inner: io,
        log: log.clone(),
    };
    let connector = tokio_rustls::TlsConnector::from(config);
    let result = tokio::time::timeout(ctx.timeout, connector.connect(name, recorder)).await;
    if let Ok(log) = log.lock() {
        probe.sent_hex = hex::encode(&log.sent);
        probe.received_hex = hex::encode(&log.received);
    }
    let asked = version_name(offer.version());
    let received_xml = probe.received_hex.starts_with("3c");
    let (outcome, suite, detail) = match result {
        Err(_) => (
            PostureOutcome::Inconclusive,
            None,
            format!(
                "the {asked} handshake did not finish within {:?}",
                ctx.timeout
            ),
        ),
        Ok(Ok(mut tls)) => {
            let (_, conn) = tls.get_ref();
            let suite = conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()));
            let version = conn.protocol_version().map(u16::from);
            let _ = tokio::time::timeout(Duration::from_millis(200), tls.shutdown()).await;
            if version == Some(offer.version()) {
                (
                    PostureOutcome::Accepted,
                    suite.clone(),
                    format!(
                        "a full {asked} handshake succeeded with {}",
                        suite.as_deref().unwrap_or("an unknown suite")
                    ),
                )
            } else {
                (
                    PostureOutcome::Error,
                    None,
                    format!("the handshake ended on {version:?}, not {asked}"),
                )
            }
        }
        Ok(Err(_)) if received_xml => (
            PostureOutcome::Error,
            None,
            format!("the server answered the {asked} hello in XML, not TLS"),
        ),
        Ok(Err(e)) => {
            let refused = e
                .get_ref()
                .and_then(|i| i.downcast_ref::<rustls::Error>())
                .map(|r| format!("{r}"))
                .unwrap_or_else(|| e.to_string());
            (
                PostureOutcome::Refused,
                None,
                format!("the {asked} handshake failed: {refused}"),
            )
        }
    };
    probe.outcome = outcome;
    probe.selected_suite = suite;
    probe.detail = Some(detail);
}
