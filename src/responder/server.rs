//! One inbound s2s connection: stream header, features, STARTTLS (on the `domain` listeners),
//! dialback (`<db:result/>` answered, `<db:verify/>` verified), and nothing else (RFC 6120,
//! XEP-0220). Everything the peer does is recorded in its [`ConnectionRecord`], which the
//! store holds while the connection lives, so a checker sees a `<db:verify/>` before the
//! target can act on our answer.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use rand::Rng;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::check::responder::key::{KeyInput, KeyVerdict};
use crate::check::responder::model::{
    ConnectionRecord, End, ListenerKind, ResultSeen, TlsSeen, VerifySeen,
};
use crate::check::xml::{self, Element, NS_STREAMS, StreamEvent, XmlError};
use crate::check::xmpp::{
    NS_DIALBACK, NS_DIALBACK_FEATURE, NS_STREAM_ERRORS, NS_TLS, XmppError, XmppStream, escape_attr,
    stream_error,
};
use crate::responder::limits::Permit;
use crate::responder::store::Claim;
use crate::responder::{Shared, unix_ms_now};

/// How long one connection may last, however active: whitespace keepalives every few
/// seconds would otherwise hold a place forever.
const MAX_LIFETIME: Duration = Duration::from_secs(300);

/// `<db:result/>` and `<db:verify/>` elements one connection may send in all.
const MAX_DIALBACKS: usize = 32;

/// Clock skew [`crate::check::responder::key::Secret::verify`] allows a key minted ahead.
const FUTURE_SKEW_MS: u64 = 60_000;

const NS_SERVER: &str = "jabber:server";

/// Serves one admitted connection until it ends, and records how it ended.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    kind: ListenerKind,
    tcp: TcpStream,
    peer: SocketAddr,
    permit: Permit,
) {
    let _permit = permit;
    let _ = tcp.set_nodelay(true);
    let started = unix_ms_now();
    let record = ConnectionRecord {
        listener: Some(kind),
        peer: peer.ip().to_string(),
        started_ms: started,
        ..ConnectionRecord::default()
    };
    let record = shared.store().open(record, started);
    let mut stop = shared.stop.clone();
    let io = Capped::new(tcp, shared.limits.max_connection_bytes);
    let mut conn = Conn {
        shared: Arc::clone(&shared),
        kind,
        record,
        secure: false,
        dialbacks: 0,
    };
    let end = tokio::select! {
        end = tokio::time::timeout(MAX_LIFETIME, conn.run(io)) => {
            end.unwrap_or_else(|_| end_now("limit", Some("the connection's lifetime".into())))
        }
        _ = stop.wait_for(|s| *s) => end_now("shutdown", None),
    };
    conn.record.end = Some(end);
    conn.save();
}

fn end_now(how: &str, detail: Option<String>) -> End {
    End {
        at_ms: unix_ms_now(),
        how: how.into(),
        detail,
    }
}

/// What a stream (before or after TLS) came to.
enum Next {
    StartTls,
    End(End),
}

/// What one element came to.
enum Step {
    Continue,
    StartTls,
    End(End),
}

struct Conn {
    shared: Arc<Shared>,
    kind: ListenerKind,
    record: ConnectionRecord,
    secure: bool,
    dialbacks: usize,
}

impl Conn {
    fn save(&self) {
        self.shared.store().update(&self.record);
    }

    fn domain(&self) -> &str {
        self.shared.domain_of(self.kind)
    }

    fn idle(&self) -> Duration {
        Duration::from_secs(self.shared.limits.idle_timeout_s.max(1))
    }

    fn stream_of<S: AsyncRead + AsyncWrite + Unpin>(&self, io: S) -> XmppStream<S> {
        let limits = xml::Limits {
            // The whole connection is capped by `Capped`; one stream may use all of it.
            phase_bytes: self.shared.limits.max_connection_bytes,
            ..xml::Limits::default()
        };
        XmppStream::new(io, self.idle(), limits)
    }

    async fn run(&mut self, io: Capped<TcpStream>) -> End {
        let mut xs = self.stream_of(io);
        let offer_tls = self.kind == ListenerKind::Tls;
        match self.stream(&mut xs, offer_tls).await {
            Next::End(end) => return end,
            Next::StartTls => {}
        }
        if let Err(e) = xs.send(&format!("<proceed xmlns='{NS_TLS}'/>")).await {
            return end_now("reset", Some(e.to_string()));
        }
        // A peer must wait for the handshake after <starttls/>: bytes already buffered would be
        // fed to neither XML nor TLS.
        let io = match xs.into_transport() {
            Ok(io) => io,
            Err(e) => return end_now("protocol", Some(e.to_string())),
        };
        let tls = match self.accept_tls(io).await {
            Ok(tls) => tls,
            Err(end) => return end,
        };
        self.secure = true;
        let mut xs = self.stream_of(tls);
        match self.stream(&mut xs, false).await {
            Next::End(end) => end,
            Next::StartTls => end_now("protocol", Some("a second <starttls/>".into())),
        }
    }

    async fn accept_tls<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: S,
    ) -> Result<TlsStream<S>, End> {
        let Some(config) = self.shared.tls_config() else {
            return Err(end_now("tls", Some("no certificate configured".into())));
        };
        let accept = TlsAcceptor::from(config).accept(io);
        let result = tokio::time::timeout(self.idle(), accept).await;
        let failure = match result {
            Ok(Ok(tls)) => {
                let (_, session) = tls.get_ref();
                self.record.tls = Some(TlsSeen {
                    version: session
                        .protocol_version()
                        .map(crate::check::tls::version_name)
                        .unwrap_or_default(),
                    cipher: session
                        .negotiated_cipher_suite()
                        .map(|s| {
                            let suite = s.suite();
                            suite
                                .as_str()
                                .map_or_else(|| format!("{suite:?}"), str::to_owned)
                        })
                        .unwrap_or_default(),
                });
                self.save();
                return Ok(tls);
            }
            Ok(Err(e)) => tls_failure(&e),
            Err(_) => "the handshake timed out".to_owned(),
        };
        self.record.tls_error = Some(XmppError::short(&failure));
        self.save();
        Err(end_now("tls", Some(XmppError::short(&failure))))
    }

    /// One stream: the peer's header, ours and our features, then elements until the stream
    /// ends or the peer asks for TLS.
    async fn stream<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        xs: &mut XmppStream<S>,
        offer_tls: bool,
    ) -> Next {
        let open = match xs.next_within(self.idle(), "the stream header").await {
            Ok(StreamEvent::Open(open)) => open,
            Ok(StreamEvent::Close) => return Next::End(end_now("peer-closed", None)),
            Ok(StreamEvent::Element(..)) => {
                return Next::End(end_now("protocol", Some("no stream header".into())));
            }
            Err(e) => return Next::End(self.read_failure(xs, e, false).await),
        };
        let peer_from = open.attr("from").map(str::to_owned);
        let peer_to = open.attr("to").unwrap_or_default().to_owned();
        if self.record.stream_from.is_none() && self.record.stream_to.is_none() {
            self.record.stream_from = peer_from.as_deref().map(XmppError::short);
            self.record.stream_to = Some(XmppError::short(&peer_to));
            self.save();
        }
        let header = self.header(peer_from.as_deref());
        if !peer_to.eq_ignore_ascii_case(self.domain()) {
            let _ = xs.send(&header).await;
            let detail = format!("a stream to {:?}", XmppError::short(&peer_to));
            return Next::End(self.refuse(xs, "host-unknown", "protocol", detail).await);
        }
        let mut features = String::from("<stream:features>");
        if offer_tls {
            features.push_str(&format!("<starttls xmlns='{NS_TLS}'/>"));
        }
        features.push_str(&format!(
            "<dialback xmlns='{NS_DIALBACK_FEATURE}'><errors/></dialback></stream:features>"
        ));
        if let Err(e) = xs.send(&format!("{header}{features}")).await {
            return Next::End(end_now("reset", Some(e.to_string())));
        }
        loop {
            let step = match xs.next_within(self.idle(), "a dialback element").await {
                Ok(StreamEvent::Element(element, _)) => self.element(xs, &element, offer_tls).await,
                Ok(StreamEvent::Close) => {
                    let _ = xs.send("</stream:stream>").await;
                    Step::End(end_now("peer-closed", None))
                }
                Ok(StreamEvent::Open(_)) => Step::End(end_now("protocol", None)),
                Err(e) => Step::End(self.read_failure(xs, e, true).await),
            };
            match step {
                Step::Continue => {}
                Step::StartTls => return Next::StartTls,
                Step::End(end) => return Next::End(end),
            }
        }
    }

    fn header(&self, peer_from: Option<&str>) -> String {
        let id = hex::encode(rand::rng().random::<[u8; 12]>());
        let to = peer_from
            .map(|from| format!(" to='{}'", escape_attr(from)))
            .unwrap_or_default();
        format!(
            "<?xml version='1.0'?><stream:stream xmlns='{NS_SERVER}' xmlns:db='{NS_DIALBACK}' xmlns:stream='{NS_STREAMS}' from='{}'{to} id='{id}' version='1.0'>",
            escape_attr(self.domain())
        )
    }

    async fn element<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        xs: &mut XmppStream<S>,
        e: &Element,
        offer_tls: bool,
    ) -> Step {
        if e.is(NS_STREAMS, "error") {
            let detail = match stream_error(e) {
                XmppError::StreamError { condition, text } => match text {
                    Some(text) => format!("{condition}: {text}"),
                    None => condition,
                },
                other => other.to_string(),
            };
            return Step::End(end_now("stream-error", Some(XmppError::short(&detail))));
        }
        if e.is(NS_TLS, "starttls") {
            if offer_tls {
                return Step::StartTls;
            }
            if self.kind == ListenerKind::Plain {
                self.record.starttls_unoffered = true;
                self.save();
            }
            let _ = xs
                .send(&format!("<failure xmlns='{NS_TLS}'/></stream:stream>"))
                .await;
            let detail = "<starttls/> where none was offered".to_owned();
            return Step::End(end_now("protocol", Some(detail)));
        }
        let dialback = e.ns == NS_DIALBACK
            && (e.name == "result" || e.name == "verify")
            && e.attr("type").is_none();
        if dialback {
            if self.dialbacks >= MAX_DIALBACKS {
                let detail = format!("more than {MAX_DIALBACKS} dialback elements");
                return Step::End(self.refuse(xs, "policy-violation", "limit", detail).await);
            }
            self.dialbacks += 1;
            let sent = if e.name == "result" {
                self.db_result(xs, e).await
            } else {
                self.db_verify(xs, e).await
            };
            return match sent {
                Ok(()) => Step::Continue,
                Err(e) => Step::End(end_now("reset", Some(e.to_string()))),
            };
        }
        let name = format!(
            "<{}/> ({})",
            XmppError::short(&e.name),
            XmppError::short(&e.ns)
        );
        let stanza = e.ns == NS_SERVER && matches!(e.name.as_str(), "message" | "presence" | "iq");
        let (condition, detail) = if stanza {
            (
                "not-authorized",
                format!("a stanza {name}: the responder routes nothing"),
            )
        } else {
            ("unsupported-stanza-type", format!("an unexpected {name}"))
        };
        Step::End(self.refuse(xs, condition, "protocol", detail).await)
    }

    /// The peer authenticates its own stream to us: we relay nothing, so `valid` costs
    /// nothing, and Prosody waits for it before it sends `<db:verify/>`.
    async fn db_result<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        xs: &mut XmppStream<S>,
        e: &Element,
    ) -> Result<(), XmppError> {
        let from = e.attr("from").unwrap_or_default();
        let to = e.attr("to").unwrap_or_default();
        let answered = if to.eq_ignore_ascii_case(self.domain()) {
            "valid"
        } else {
            "invalid"
        };
        self.record.results.push(ResultSeen {
            from: XmppError::short(from),
            to: XmppError::short(to),
            secure: self.secure,
            answered: answered.into(),
            at_ms: unix_ms_now(),
        });
        self.save();
        xs.send(&format!(
            "<db:result type='{answered}' from='{}' to='{}'/>",
            escape_attr(to),
            escape_attr(from)
        ))
        .await
    }

    async fn db_verify<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        xs: &mut XmppStream<S>,
        e: &Element,
    ) -> Result<(), XmppError> {
        let from = e.attr("from").unwrap_or_default();
        let to = e.attr("to").unwrap_or_default();
        let id = e.attr("id").unwrap_or_default();
        let (answered, reason, nonce) = self.judge(from, to, id, e.text.trim());
        self.record.verifies.push(VerifySeen {
            from: XmppError::short(from),
            to: XmppError::short(to),
            id: XmppError::short(id),
            nonce,
            secure: self.secure,
            answered: answered.into(),
            reason: reason.into(),
            at_ms: unix_ms_now(),
        });
        // Recorded before the answer: the target acts on it at once, and the checker then
        // reads the record.
        self.save();
        xs.send(&format!(
            "<db:verify type='{answered}' from='{}' to='{}' id='{}'/>",
            escape_attr(to),
            escape_attr(from),
            escape_attr(id)
        ))
        .await
    }

    /// The answer to a `<db:verify/>`, why, and the key's nonce.
    fn judge(
        &self,
        from: &str,
        to: &str,
        id: &str,
        key: &str,
    ) -> (&'static str, &'static str, Option<String>) {
        if !to.eq_ignore_ascii_case(self.domain()) {
            return ("invalid", "not this listener's domain", None);
        }
        let receiver = from.to_ascii_lowercase();
        let input = KeyInput {
            receiver: &receiver,
            sender: self.domain(),
            stream_id: id,
        };
        let lifetime = self.shared.limits.key_lifetime();
        let verdict = self
            .shared
            .secret
            .verify(key, input, lifetime, SystemTime::now());
        match verdict {
            KeyVerdict::Valid { nonce } => {
                let now = unix_ms_now();
                let lifetime_ms = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
                let until = now
                    .saturating_add(lifetime_ms)
                    .saturating_add(FUTURE_SKEW_MS);
                match self.shared.store().claim(&nonce, now, until) {
                    Claim::Fresh => ("valid", "minted by a checker", Some(nonce)),
                    Claim::Replayed => ("invalid", "replayed", Some(nonce)),
                    Claim::Full => ("invalid", "replay set full", Some(nonce)),
                }
            }
            KeyVerdict::Forged => ("invalid", "forged", None),
            KeyVerdict::Expired { nonce } => ("invalid", "expired", Some(nonce)),
            KeyVerdict::Malformed => ("invalid", "malformed", None),
        }
    }

    /// Sends a stream error and closes (RFC 6120 §4.9).
    async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        xs: &mut XmppStream<S>,
        condition: &str,
        how: &str,
        detail: String,
    ) -> End {
        let _ = xs
            .send(&format!(
                "<stream:error><{condition} xmlns='{NS_STREAM_ERRORS}'/></stream:error></stream:stream>"
            ))
            .await;
        end_now(how, Some(XmppError::short(&detail)))
    }

    /// A read that failed: time, bytes, malformed XML, or the peer gone.
    async fn read_failure<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        xs: &mut XmppStream<S>,
        e: XmppError,
        header_sent: bool,
    ) -> End {
        let detail = e.to_string();
        let (condition, how) = match &e {
            XmppError::Eof(_) => return end_now("peer-closed", Some("EOF".into())),
            XmppError::Timeout(..) => ("connection-timeout", "idle"),
            XmppError::Io(io) if Capped::<TcpStream>::is_cap(io) => ("policy-violation", "limit"),
            XmppError::Io(_) => return end_now("reset", Some(XmppError::short(&detail))),
            XmppError::Xml(
                XmlError::TooLarge(_) | XmlError::TooDeep(_) | XmlError::TooManyAttributes(_),
            ) => ("policy-violation", "limit"),
            XmppError::Xml(XmlError::Restricted(_)) => ("restricted-xml", "protocol"),
            _ => ("not-well-formed", "protocol"),
        };
        if !header_sent {
            let _ = xs.send(&self.header(None)).await;
        }
        self.refuse(xs, condition, how, detail).await
    }
}

/// Why a handshake failed, in words: an alert the peer sent says what it refused (a peer
/// that does not accept our certificate sends `bad_certificate` or `unknown_ca`).
fn tls_failure(e: &io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(alert)) => format!("the peer sent the alert {alert:?}"),
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}

/// The marker of a connection that sent more than its byte cap.
#[derive(Debug, thiserror::Error)]
#[error("the peer sent more than {0} bytes on one connection")]
struct CapExceeded(usize);

/// A transport whose reads stop with an error after `cap` bytes in all (TLS included).
pub(crate) struct Capped<S> {
    inner: S,
    left: usize,
    cap: usize,
}

impl<S> Capped<S> {
    pub(crate) fn new(inner: S, cap: usize) -> Self {
        Capped {
            inner,
            left: cap,
            cap,
        }
    }

    fn is_cap(e: &io::Error) -> bool {
        e.get_ref().is_some_and(|i| i.is::<CapExceeded>())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.left == 0 {
            return Poll::Ready(Err(io::Error::other(CapExceeded(self.cap))));
        }
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        self.left = self.left.saturating_sub(read);
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
