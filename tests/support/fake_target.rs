//! Hand-written s2s *targets* for the dialback proof: behaviour no real server shows on demand
//! (an enforcer that ignores cleartext dialback, one that ignores dialback everywhere, a liar
//! that answers `valid` without dialing back, a lax honest one as a control).
//!
//! ```ignore
//! let pki = Pki::new();
//! let cert = pki.leaf(&["target.test"]);
//! let fake = fake_target::start(
//!     FakeTarget::IgnoresCleartextDialback,
//!     FakeOptions::new("target.test", &cert, &pki)
//!         .responder(responder_tls_addr)
//!         .idle_close(Duration::from_secs(3)),
//! )
//! .await;                                    // fake.addr(): SRV _xmpp-server._tcp.target.test
//! assert!(fake.wait_for(|e| matches!(e, Event::DialedBack { .. }), Duration::from_secs(5)).await);
//! ```
//!
//! The protocol is spoken by string matching on a bounded buffer, not by an XML parser: the
//! peers are our own checker and responder, and what matters here is what the fake *does*
//! (recorded as [`Event`]s), not how well it reads. Every read has a timeout, every buffer a
//! cap, and no input makes it panic: a fake that dies would make a test prove nothing.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::pki::{Cert, Pki};

const NS_STREAM: &str = "http://etherx.jabber.org/streams";
const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
const NS_STREAMS_ERR: &str = "urn:ietf:params:xml:ns:xmpp-streams";
/// The largest unprocessed input kept (one element must fit).
const MAX_BUFFER: usize = 64 * 1024;
/// The most one connection may send in all.
const MAX_CONNECTION_BYTES: usize = 512 * 1024;
/// Connections served at once; more are closed at once (a runaway test must not exhaust fds).
const MAX_CONNECTIONS: usize = 64;
/// Every step of a dial-back (connect, each read, TLS) must finish within this.
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// What a fake target does with dialback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeTarget {
    /// Optional STARTTLS (no `<required/>`); a cleartext `<db:result/>` gets nothing at all (no
    /// dial-back, no answer) and the stream is closed when idle; over TLS the dialback is
    /// verified honestly with the responder. Enforcement that only a difference can prove.
    IgnoresCleartextDialback,
    /// Like [`FakeTarget::IgnoresCleartextDialback`], but silent over TLS too: nothing to prove.
    IgnoresBoth,
    /// Answers every `<db:result/>` `valid` at once, without contacting anyone: a liar.
    ValidWithoutDialback,
    /// Dials back on every `<db:result/>`, cleartext or not, and answers what the responder
    /// said: a lax but honest server (a lax Prosody), the control.
    DialsBackThenAccepts,
}

/// How a fake target is set up.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// The target's XMPP domain (the `from` of its stream headers and `<db:verify/>`).
    pub domain: String,
    /// Its certificate, for STARTTLS on the checker's stream.
    pub cert: Cert,
    /// The CA the responder's certificate chains to (DER), trusted when dialing back.
    pub ca_der: Vec<u8>,
    /// Where to dial back: the responder's listener that offers STARTTLS. Given directly (no
    /// DNS); `None` makes every dial-back fail ("remote-server-not-found").
    pub responder: Option<SocketAddr>,
    /// How long a stream may stay silent before the fake closes it.
    pub idle_close: Duration,
    /// When dialing back, first authenticate the fake's own stream to the responder with its
    /// own `<db:result/>` (Prosody does so), then send `<db:verify/>`.
    pub own_result: bool,
}

impl FakeOptions {
    /// `domain` with `cert`, trusting `pki`'s CA, no responder, idle close after 30 s.
    pub fn new(domain: &str, cert: &Cert, pki: &Pki) -> Self {
        FakeOptions {
            domain: domain.to_owned(),
            cert: cert.clone(),
            ca_der: pki.ca_der(),
            responder: None,
            idle_close: Duration::from_secs(30),
            own_result: false,
        }
    }

    pub fn responder(mut self, addr: SocketAddr) -> Self {
        self.responder = Some(addr);
        self
    }

    pub fn idle_close(mut self, after: Duration) -> Self {
        self.idle_close = after;
        self
    }

    /// Dial back the way Prosody does: the fake's own `<db:result/>` before `<db:verify/>`.
    pub fn own_result(mut self) -> Self {
        self.own_result = true;
        self
    }
}

/// What a fake target did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection from `peer` was accepted.
    Accepted { peer: SocketAddr },
    /// A stream header arrived; `id` is the one the fake gave the stream in reply.
    StreamOpened {
        id: String,
        from: Option<String>,
        to: Option<String>,
        secure: bool,
    },
    /// `<starttls/>` answered with `<proceed/>` and the handshake completed.
    TlsEstablished { stream_id: String },
    /// A TLS handshake (or the stream before it) failed.
    TlsFailed { detail: String },
    /// A `<db:result/>` arrived on stream `stream_id`.
    DialbackReceived {
        stream_id: String,
        from: String,
        to: String,
        key: String,
        secure: bool,
    },
    /// The `<db:result/>` was deliberately ignored (no dial-back, no answer).
    Ignored { stream_id: String, secure: bool },
    /// A dial-back to the responder: `tls` when it ran over STARTTLS there, `answer` the
    /// `type` of its `<db:verify/>` (`valid`, `invalid`), `error` when it did not complete.
    DialedBack {
        responder: Option<SocketAddr>,
        tls: bool,
        answer: Option<String>,
        error: Option<String>,
    },
    /// With [`FakeOptions::own_result`]: the responder's answer (`type`) to the fake's own
    /// `<db:result/>` on the dial-back stream.
    OwnResult { answer: String, tls: bool },
    /// The fake answered `<db:result type='...'/>` on stream `stream_id`.
    Answered {
        stream_id: String,
        kind: String,
        secure: bool,
    },
    /// The fake closed a stream that stayed silent for `idle_close`.
    IdleClosed { stream_id: String, secure: bool },
    /// The stream ended otherwise: `peer-closed`, `eof`, `limit`, `protocol`, `io`, `timeout`.
    Closed { how: String, detail: Option<String> },
}

/// A running fake target; stops (listener and every connection) on drop.
pub struct FakeServer {
    addr: SocketAddr,
    domain: String,
    events: Arc<Mutex<Vec<Event>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

impl FakeServer {
    /// The address it listens on (`127.0.0.x:port`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Everything it did so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Whether an event matching `pred` happened within `timeout` (polled).
    pub async fn wait_for(&self, pred: impl Fn(&Event) -> bool, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.events().iter().any(&pred) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether it ever dialed back (whatever came of it).
    pub fn dialed_back(&self) -> bool {
        self.events()
            .iter()
            .any(|e| matches!(e, Event::DialedBack { .. }))
    }
}

/// Starts `behaviour` on a fresh `127.0.0.x`, an ephemeral port.
pub async fn start(behaviour: FakeTarget, opts: FakeOptions) -> FakeServer {
    let ip = super::next_loopback_ip();
    let listener = TcpListener::bind((ip, 0))
        .await
        .unwrap_or_else(|e| panic!("bind a fake target on {ip}: {e}"));
    let addr = listener.local_addr().expect("the fake target's address");
    let tls = tokio_rustls::TlsAcceptor::from(server_config(&opts.cert));
    let dial = client_config(&opts.ca_der);
    let events = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::new(Shared {
        behaviour,
        opts: opts.clone(),
        tls,
        dial,
        events: events.clone(),
    });
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        while let Ok((sock, peer)) = listener.accept().await {
            while conns.try_join_next().is_some() {}
            if conns.len() >= MAX_CONNECTIONS {
                continue; // dropped: closed at once
            }
            shared.record(Event::Accepted { peer });
            let shared = shared.clone();
            conns.spawn(async move { serve(shared, sock).await });
        }
    });
    FakeServer {
        addr,
        domain: opts.domain,
        events,
        task,
    }
}

/// A TLS server configuration presenting `cert` (its chain file and key), ring only.
pub fn server_config(cert: &Cert) -> Arc<rustls::ServerConfig> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert.chain_file)
        .expect("read the certificate chain")
        .collect::<Result<_, _>>()
        .expect("parse the certificate chain");
    let key = PrivateKeyDer::from_pem_file(&cert.key_file).expect("read the private key");
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a TLS server configuration");
    Arc::new(config)
}

/// A TLS client configuration trusting only `ca_der`, ring only.
pub fn client_config(ca_der: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.to_vec()))
        .expect("add the test CA");
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    // The project's one provider (Cargo.toml): two would make rustls panic at runtime.
    Arc::new(rustls::crypto::ring::default_provider())
}

struct Shared {
    behaviour: FakeTarget,
    opts: FakeOptions,
    tls: tokio_rustls::TlsAcceptor,
    dial: Arc<rustls::ClientConfig>,
    events: Arc<Mutex<Vec<Event>>>,
}

impl Shared {
    fn record(&self, event: Event) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}

/// Why a stream ended, as recorded (`how`: `timeout`, `eof`, `io`, `limit`, `protocol`,
/// `idle`, `peer-closed`).
#[derive(Debug)]
pub struct Ended {
    pub how: &'static str,
    pub detail: Option<String>,
}

impl Ended {
    fn new(how: &'static str, detail: impl Into<Option<String>>) -> Self {
        Ended {
            how,
            detail: detail.into(),
        }
    }
}

/// One connection from a checker: cleartext first, then (after `<starttls/>`) over TLS.
async fn serve(shared: Arc<Shared>, sock: TcpStream) {
    let mut conn = XmlConn::new(sock);
    let ended = match session(&shared, &mut conn, false).await {
        Ok(Next::StartTls) => match conn.into_inner() {
            // A checker that never finishes the handshake must not hold the task forever.
            Ok(sock) => match tokio::time::timeout(DIAL_TIMEOUT, shared.tls.accept(sock))
                .await
                .unwrap_or_else(|_| Err(std::io::Error::other("TLS handshake timed out")))
            {
                Ok(tls) => {
                    let mut conn = XmlConn::new(tls);
                    match session(&shared, &mut conn, true).await {
                        Ok(_) => Ended::new("protocol", "a second <starttls/>".to_owned()),
                        Err(ended) => ended,
                    }
                }
                Err(e) => {
                    shared.record(Event::TlsFailed {
                        detail: e.to_string(),
                    });
                    Ended::new("io", e.to_string())
                }
            },
            Err(detail) => {
                shared.record(Event::TlsFailed {
                    detail: detail.clone(),
                });
                Ended::new("protocol", detail)
            }
        },
        Err(ended) => ended,
    };
    shared.record(Event::Closed {
        how: ended.how.to_owned(),
        detail: ended.detail,
    });
}

/// How a cleartext session hands over.
enum Next {
    StartTls,
}

/// One stream (up to a STARTTLS): header, features, then elements until the end.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    conn: &mut XmlConn<S>,
    secure: bool,
) -> Result<Next, Ended> {
    let idle = shared.opts.idle_close;
    let header = match conn.next_item(idle).await? {
        Item::Header(attrs) => attrs,
        other => {
            return Err(protocol(conn, &format!("expected a stream header, got {other:?}")).await);
        }
    };
    let id = random_id();
    shared.record(Event::StreamOpened {
        id: id.clone(),
        from: attr(&header, "from"),
        to: attr(&header, "to"),
        secure,
    });
    if secure {
        shared.record(Event::TlsEstablished {
            stream_id: id.clone(),
        });
    }
    let starttls = if secure {
        String::new()
    } else {
        format!("<starttls xmlns='{NS_TLS}'/>")
    };
    let reply = format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' \
         xmlns:stream='{NS_STREAM}' from='{}' id='{id}' version='1.0'>\
         <stream:features>{starttls}<dialback xmlns='urn:xmpp:features:dialback'/></stream:features>",
        shared.opts.domain
    );
    conn.write(&reply).await?;
    loop {
        let item = match conn.next_item(idle).await {
            Err(ended) if ended.how == "timeout" => {
                shared.record(Event::IdleClosed {
                    stream_id: id.clone(),
                    secure,
                });
                let _ = conn.write("</stream:stream>").await;
                conn.shutdown().await;
                return Err(Ended::new("idle", None));
            }
            other => other?,
        };
        match item {
            Item::End => {
                let _ = conn.write("</stream:stream>").await;
                conn.shutdown().await;
                return Err(Ended::new("peer-closed", None));
            }
            Item::Element(el) if el.name == "starttls" && !secure => {
                conn.write(&format!("<proceed xmlns='{NS_TLS}'/>")).await?;
                return Ok(Next::StartTls);
            }
            Item::Element(el) if el.name == "db:result" => {
                on_result(shared, conn, &el, &id, secure).await?;
            }
            // Anything else (stanzas, pings, whitespace keepalives folded away): ignored, as a
            // server ignores what an unauthenticated peer sends.
            _ => {}
        }
    }
}

/// A `<db:result/>` from the checker: what each behaviour does with it.
async fn on_result<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    conn: &mut XmlConn<S>,
    el: &Element,
    stream_id: &str,
    secure: bool,
) -> Result<(), Ended> {
    let (Some(from), Some(to)) = (attr(&el.attrs, "from"), attr(&el.attrs, "to")) else {
        return Err(stream_error(conn, "improper-addressing").await);
    };
    if el.attrs.iter().any(|(k, _)| k == "type") {
        return Ok(()); // an answer, not a request: nothing to do
    }
    let key = el.text.trim().to_owned();
    shared.record(Event::DialbackReceived {
        stream_id: stream_id.to_owned(),
        from: from.clone(),
        to: to.clone(),
        key: key.clone(),
        secure,
    });
    let kind = match (shared.behaviour, secure) {
        (FakeTarget::IgnoresCleartextDialback, false) | (FakeTarget::IgnoresBoth, _) => {
            shared.record(Event::Ignored {
                stream_id: stream_id.to_owned(),
                secure,
            });
            return Ok(());
        }
        (FakeTarget::ValidWithoutDialback, _) => "valid".to_owned(),
        (FakeTarget::IgnoresCleartextDialback, true) | (FakeTarget::DialsBackThenAccepts, _) => {
            let dial = dial_back(shared, &to, &from, stream_id, &key).await;
            let kind = match &dial {
                Ok((_, answer)) => answer.clone(),
                Err(_) => "error".to_owned(),
            };
            shared.record(Event::DialedBack {
                responder: shared.opts.responder,
                tls: dial.as_ref().is_ok_and(|(tls, _)| *tls),
                answer: dial.as_ref().ok().map(|(_, a)| a.clone()),
                error: dial.err(),
            });
            kind
        }
    };
    let body = if kind == "error" {
        "<error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
    } else {
        ""
    };
    let answer = format!("<db:result type='{kind}' from='{to}' to='{from}'>{body}</db:result>");
    conn.write(&answer).await?;
    shared.record(Event::Answered {
        stream_id: stream_id.to_owned(),
        kind,
        secure,
    });
    Ok(())
}

/// Dials back to the responder as `receiver` asking about `sender`'s key for `stream_id`:
/// STARTTLS when offered (trusting the test CA, SNI = `sender`), then `<db:verify/>`.
/// Returns (over TLS, the answer's `type`).
async fn dial_back(
    shared: &Shared,
    receiver: &str,
    sender: &str,
    stream_id: &str,
    key: &str,
) -> Result<(bool, String), String> {
    let addr = shared
        .opts
        .responder
        .ok_or("no responder address: remote-server-not-found")?;
    let sock = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connect to {addr}: timed out"))?
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let mut conn = XmlConn::new(sock);
    let features = open_stream(&mut conn, receiver, sender).await?;
    if !features.contains(NS_TLS) {
        own_result(shared, &mut conn, receiver, sender, false).await?;
        let answer = verify(&mut conn, receiver, sender, stream_id, key).await?;
        return Ok((false, answer));
    }
    conn.write(&format!("<starttls xmlns='{NS_TLS}'/>"))
        .await
        .map_err(ended_text)?;
    match conn.next_item(DIAL_TIMEOUT).await.map_err(ended_text)? {
        Item::Element(el) if el.name == "proceed" => {}
        other => return Err(format!("STARTTLS refused: {other:?}")),
    }
    let sock = conn.into_inner()?;
    let name = ServerName::try_from(sender.to_owned()).map_err(|e| format!("SNI {sender}: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(shared.dial.clone());
    let tls = tokio::time::timeout(DIAL_TIMEOUT, connector.connect(name, sock))
        .await
        .map_err(|_| "TLS handshake timed out".to_owned())?
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let mut conn = XmlConn::new(tls);
    open_stream(&mut conn, receiver, sender).await?;
    own_result(shared, &mut conn, receiver, sender, true).await?;
    let answer = verify(&mut conn, receiver, sender, stream_id, key).await?;
    Ok((true, answer))
}

/// With [`FakeOptions::own_result`], sends the fake's own `<db:result/>` on the dial-back
/// stream and waits for its answer (recorded); otherwise nothing.
async fn own_result<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    conn: &mut XmlConn<S>,
    receiver: &str,
    sender: &str,
    tls: bool,
) -> Result<(), String> {
    if !shared.opts.own_result {
        return Ok(());
    }
    let key = random_id();
    let request = format!("<db:result from='{receiver}' to='{sender}'>{key}</db:result>");
    conn.write(&request).await.map_err(ended_text)?;
    loop {
        match conn.next_item(DIAL_TIMEOUT).await.map_err(ended_text)? {
            Item::Element(el) if el.name == "db:result" => {
                let answer = attr(&el.attrs, "type").unwrap_or_else(|| "(no type)".to_owned());
                shared.record(Event::OwnResult { answer, tls });
                return Ok(());
            }
            Item::End => return Err("the responder closed the stream".to_owned()),
            _ => {}
        }
    }
}

/// Sends an s2s stream header and returns the features' text.
async fn open_stream<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut XmlConn<S>,
    from: &str,
    to: &str,
) -> Result<String, String> {
    let header = format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' \
         xmlns:stream='{NS_STREAM}' from='{from}' to='{to}' version='1.0'>"
    );
    conn.write(&header).await.map_err(ended_text)?;
    match conn.next_item(DIAL_TIMEOUT).await.map_err(ended_text)? {
        Item::Header(_) => {}
        other => return Err(format!("expected a stream header, got {other:?}")),
    }
    match conn.next_item(DIAL_TIMEOUT).await.map_err(ended_text)? {
        Item::Element(el) if el.name == "stream:features" => Ok(el.text),
        other => Err(format!("expected stream features, got {other:?}")),
    }
}

/// Sends `<db:verify/>` and waits for its answer's `type`; closes the stream.
async fn verify<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut XmlConn<S>,
    receiver: &str,
    sender: &str,
    stream_id: &str,
    key: &str,
) -> Result<String, String> {
    let request = format!(
        "<db:verify from='{receiver}' to='{sender}' id='{stream_id}'>{}</db:verify>",
        escape(key)
    );
    conn.write(&request).await.map_err(ended_text)?;
    let answer = loop {
        match conn.next_item(DIAL_TIMEOUT).await.map_err(ended_text)? {
            Item::Element(el) if el.name == "db:verify" => {
                break attr(&el.attrs, "type").unwrap_or_else(|| "(no type)".to_owned());
            }
            Item::Element(el) if el.name == "stream:error" => {
                return Err(format!("stream error: {}", el.text));
            }
            Item::End => return Err("the responder closed the stream".to_owned()),
            _ => {}
        }
    };
    let _ = conn.write("</stream:stream>").await;
    conn.shutdown().await;
    Ok(answer)
}

fn ended_text(ended: Ended) -> String {
    match ended.detail {
        Some(detail) => format!("{}: {detail}", ended.how),
        None => ended.how.to_owned(),
    }
}

async fn stream_error<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut XmlConn<S>,
    condition: &str,
) -> Ended {
    let error = format!(
        "<stream:error><{condition} xmlns='{NS_STREAMS_ERR}'/></stream:error></stream:stream>"
    );
    let _ = conn.write(&error).await;
    conn.shutdown().await;
    Ended::new("protocol", condition.to_owned())
}

async fn protocol<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut XmlConn<S>, detail: &str) -> Ended {
    let mut ended = stream_error(conn, "bad-format").await;
    ended.detail = Some(detail.chars().take(200).collect());
    ended
}

/// A fresh stream id: 16 hex digits.
fn random_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Escapes text for XML character data and attribute values.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

/// The value of attribute `name`, if present.
pub fn attr(attrs: &[(String, String)], name: &str) -> Option<String> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// One top-level item of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `<stream:stream ...>` with its attributes.
    Header(Vec<(String, String)>),
    /// A complete child of the stream.
    Element(Element),
    /// `</stream:stream>`.
    End,
}

/// A complete top-level element: its qualified name, attributes (values unescaped only of the
/// five predefined entities) and everything between its tags, as raw text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
}

/// A stream read element by element from a bounded buffer. Also used by the self-tests (the
/// checker's and the responder's side in miniature).
pub struct XmlConn<S> {
    io: S,
    buf: Vec<u8>,
    total: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> XmlConn<S> {
    pub fn new(io: S) -> Self {
        XmlConn {
            io,
            buf: Vec::new(),
            total: 0,
        }
    }

    /// The stream, for TLS; refused when bytes beyond the last element are buffered (they would
    /// be lost or fed to TLS: RFC 6120 §5.4.3.3 wants none).
    pub fn into_inner(self) -> Result<S, String> {
        if self.buf.iter().any(|b| !b.is_ascii_whitespace()) {
            return Err(format!(
                "{} bytes after <starttls/> or <proceed/>",
                self.buf.len()
            ));
        }
        Ok(self.io)
    }

    pub async fn write(&mut self, text: &str) -> Result<(), Ended> {
        match tokio::time::timeout(DIAL_TIMEOUT, self.io.write_all(text.as_bytes())).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Ended::new("io", e.to_string())),
            Err(_) => return Err(Ended::new("io", "write timed out".to_owned())),
        }
        let _ = tokio::time::timeout(DIAL_TIMEOUT, self.io.flush()).await;
        Ok(())
    }

    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.io.shutdown()).await;
    }

    /// The next item, waiting at most `idle` for each read (error `timeout` when nothing came).
    pub async fn next_item(&mut self, idle: Duration) -> Result<Item, Ended> {
        loop {
            match parse_item(&self.buf) {
                Parsed::Item(item, used) => {
                    self.buf.drain(..used);
                    return Ok(item);
                }
                Parsed::Invalid(why) => return Err(Ended::new("protocol", why)),
                Parsed::More => {}
            }
            if self.buf.len() > MAX_BUFFER {
                return Err(Ended::new(
                    "limit",
                    format!("an element over {MAX_BUFFER} bytes"),
                ));
            }
            let mut chunk = [0u8; 4096];
            let n = match tokio::time::timeout(idle, self.io.read(&mut chunk)).await {
                Err(_) => return Err(Ended::new("timeout", None)),
                Ok(Err(e)) => return Err(Ended::new("io", e.to_string())),
                Ok(Ok(0)) => return Err(Ended::new("eof", None)),
                Ok(Ok(n)) => n,
            };
            self.total += n;
            if self.total > MAX_CONNECTION_BYTES {
                return Err(Ended::new(
                    "limit",
                    format!("over {MAX_CONNECTION_BYTES} bytes"),
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

enum Parsed {
    Item(Item, usize),
    More,
    Invalid(String),
}

/// Finds the first complete item in `buf`: skips whitespace, the XML declaration and
/// comments-free prologue; a start tag of `stream:stream` is a header; any other element is
/// complete at its self-closing `/>` or at the first matching end tag (the fakes' peers never
/// nest an element in one of the same name).
fn parse_item(buf: &[u8]) -> Parsed {
    let text = match std::str::from_utf8(buf) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&buf[..e.valid_up_to()]) {
            Ok(prefix) => prefix, // a character cut in two by a read: the rest is coming
            Err(_) => return Parsed::Invalid("not UTF-8".into()),
        },
        Err(_) => return Parsed::Invalid("not UTF-8".into()),
    };
    let mut start = text.len() - text.trim_start().len();
    let rest = &text[start..];
    if rest.starts_with("<?") {
        let Some(end) = rest.find("?>") else {
            return Parsed::More;
        };
        start += end + 2;
        return match parse_item(&buf[start..]) {
            Parsed::Item(item, used) => Parsed::Item(item, start + used),
            other => other,
        };
    }
    if rest.is_empty() {
        return Parsed::More;
    }
    if !rest.starts_with('<') {
        return Parsed::Invalid(format!("text outside an element: {:?}", clip(rest)));
    }
    if rest.starts_with("</") {
        let Some(end) = rest.find('>') else {
            return Parsed::More;
        };
        return if rest[2..end].trim() == "stream:stream" {
            Parsed::Item(Item::End, start + end + 1)
        } else {
            Parsed::Invalid(format!("unexpected end tag {:?}", clip(&rest[..end + 1])))
        };
    }
    let Some(tag_end) = rest.find('>') else {
        return Parsed::More;
    };
    let tag = &rest[1..tag_end];
    let self_closing = tag.ends_with('/');
    let tag = tag.trim_end_matches('/');
    let name_len = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
    let name = tag[..name_len].to_owned();
    let attrs = parse_attrs(&tag[name_len..]);
    if name == "stream:stream" {
        return Parsed::Item(Item::Header(attrs), start + tag_end + 1);
    }
    if self_closing {
        let element = Element {
            name,
            attrs,
            text: String::new(),
        };
        return Parsed::Item(Item::Element(element), start + tag_end + 1);
    }
    let close = format!("</{name}>");
    let body = &rest[tag_end + 1..];
    let Some(close_at) = body.find(&close) else {
        return Parsed::More;
    };
    let element = Element {
        text: body[..close_at].to_owned(),
        name,
        attrs,
    };
    Parsed::Item(
        Item::Element(element),
        start + tag_end + 1 + close_at + close.len(),
    )
}

/// `key='value'` and `key="value"` pairs; anything unreadable is skipped, never a panic.
fn parse_attrs(mut s: &str) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    while let Some(eq) = s.find('=') {
        let key = s[..eq].trim().to_owned();
        let after = s[eq + 1..].trim_start();
        let Some(quote) = after.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            break;
        };
        let Some(end) = after[1..].find(quote) else {
            break;
        };
        attrs.push((key, unescape(&after[1..1 + end])));
        s = &after[1 + end + 1..];
    }
    attrs
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}
