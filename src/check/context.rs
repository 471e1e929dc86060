//! What every endpoint check of one domain shares: names, limits, TLS client, trust roots, the
//! process-wide connection limiter, and the optional pacer and posture cache a sweep lends to
//! its checks; and the two ways a check opens a connection, both polite to the server.
//!
//! Every connection waits for its slot in the [`net::ConnectionLimiter`] (that wait counts
//! toward the check's deadline, never toward a step timeout), then for its turn when the
//! address is paced or slowed down. A connection refused after earlier ones to the same port
//! succeeded, or closed before the server sent a byte after earlier ones were answered, is
//! retried once after a pause of about a second; refused again, it is
//! [`net::ConnectError::RateLimited`], which grades as inconclusive, never as a fail. A server
//! can thus delay a check and make it inconclusive, not change a verdict.
//!
//! Only the openings that cannot carry a protocol answer are retried: the TCP connect, and an
//! XMPP stream closed before the server's stream header. A reset in answer to a TLS hello is
//! the server's answer about TLS and is kept as such (`crate::check::posture`).

use std::net::SocketAddr;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use crate::check::net::{self, Conn, ConnectError, Stage};
use crate::check::tls::TlsClient;
use crate::check::xml::{Element, Limits};
use crate::check::xmpp::{Header, XmppError, XmppStream};
use crate::report::{Service, StreamHeader};

/// The pause before the one retry of a refused connection, and the most jitter added to it (so
/// that the retries of many refused connections do not arrive together).
const RETRY_PAUSE: Duration = Duration::from_secs(1);
const RETRY_JITTER: Duration = Duration::from_millis(500);

/// Everything an endpoint check needs, shared by all endpoints of a check.
pub struct Context<'a> {
    pub domain: &'a str,
    pub s2s_from: &'a str,
    pub timeout: Duration,
    /// How long to wait for an answer to a probe before calling it silence: adapted to the
    /// connection's round trip, between these two.
    pub probe_wait_min: Duration,
    pub probe_wait: Duration,
    pub allow_private: bool,
    pub tls: &'a TlsClient,
    pub roots: &'a rustls::RootCertStore,
    pub limits: Limits,
    /// The check's deadline: no retry is started that could not end before it.
    pub deadline: Instant,
    /// Caps on open connections, shared by the whole process.
    pub limiter: &'a net::ConnectionLimiter,
    /// Spacing between connections to one address, when the caller shares one.
    pub pacer: Option<&'a net::Pacer>,
    /// Posture results shared by the endpoints of a check, or by the checks of a sweep.
    pub posture_cache: Option<&'a crate::check::posture::PostureCache>,
    /// The dialback responder, when the check has one (`--responder`).
    pub responder: Option<&'a crate::check::responder::ResponderLink>,
    /// Every address of the domain's endpoints: a connection to the responder that carries no
    /// key of ours counts as the target's only when it comes from one of them (anyone can
    /// connect to the responder claiming to be the target).
    pub target_addresses: &'a [std::net::IpAddr],
}

/// Why opening a connection or a stream failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Stream(#[from] XmppError),
}

/// An XMPP stream opened on a fresh connection: the server's stream header and features, and
/// how long they took (one round trip or so).
pub struct Opened {
    pub stream: XmppStream<Conn>,
    pub header: StreamHeader,
    pub features: Element,
    pub round_trip: Duration,
}

/// One failed attempt and, when it was turned away as a rate limiter would, where and how.
struct Failed<E> {
    error: E,
    refused: Option<(Stage, String)>,
}

impl<E: From<ConnectError>> From<ConnectError> for Failed<E> {
    fn from(e: ConnectError) -> Self {
        let refused = match &e {
            ConnectError::Io(_, io) if net::is_refusal(io) => {
                Some((Stage::Connect, turned_away(io, "")))
            }
            _ => None,
        };
        Failed {
            error: e.into(),
            refused,
        }
    }
}

/// How the server turned a connection away, in words.
fn turned_away(e: &std::io::Error, when: &str) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => format!("it refused a connection{when}"),
        std::io::ErrorKind::ConnectionReset => format!("it reset a connection{when}"),
        _ => format!("it turned a connection away{when} ({e})"),
    }
}

impl Context<'_> {
    /// A bounded connect in its turn, retried once when refused as a rate limiter would.
    pub async fn connect(&self, addr: SocketAddr) -> Result<Conn, ConnectError> {
        // A plain closure returning an `async move` block, not an `async ||` closure: see
        // `politely` for why.
        self.politely(addr, || async move { Ok(self.connect_once(addr).await?) })
            .await
    }

    /// A connection and an XMPP stream on it (our header, the server's header and features),
    /// retried once when refused, or closed before the server said anything, as a rate limiter
    /// would.
    pub async fn open_stream(
        &self,
        addr: SocketAddr,
        service: Service,
    ) -> Result<Opened, OpenError> {
        self.open_stream_with(addr, &self.header(service)).await
    }

    /// [`Self::open_stream`] with our own stream header (an s2s stream from a responder's probe
    /// domain).
    pub async fn open_stream_with(
        &self,
        addr: SocketAddr,
        header: &Header<'_>,
    ) -> Result<Opened, OpenError> {
        // `async move` copies the two references (`self`, `header`) and `addr` into each
        // attempt's future; see `politely` for why this is not an `async ||` closure.
        self.politely(addr, || async move {
            let conn = self.connect_once(addr).await?;
            let heard = conn.heard();
            let mut stream = XmppStream::new(conn, self.timeout, self.limits);
            let started = std::time::Instant::now();
            match stream.open(header).await {
                Ok((header, features)) => Ok(Opened {
                    stream,
                    header,
                    features,
                    round_trip: started.elapsed(),
                }),
                Err(e) => {
                    const WHEN: &str = " before sending anything";
                    let how = match &e {
                        XmppError::Eof(_) => Some(format!("it closed a connection{WHEN}")),
                        XmppError::Io(io) if net::is_refusal(io) => Some(turned_away(io, WHEN)),
                        _ => None,
                    };
                    let refused = how
                        .filter(|_| !heard.anything())
                        .map(|how| (Stage::FirstRead, how));
                    Err(Failed {
                        error: OpenError::Stream(e),
                        refused,
                    })
                }
            }
        })
        .await
    }

    /// Runs `attempt`; when it was turned away after earlier connections to the same port
    /// succeeded, slows the address down, pauses, and runs it once more.
    ///
    /// `attempt` is a closure that returns a future of one concrete type `F`, not an
    /// `impl AsyncFn`: the future of an async closure's call borrows the closure for a lifetime
    /// chosen at each call, and rustc then has to prove the whole check's future `Send` for
    /// every such lifetime, which it cannot (rust-lang/rust#102211, "implementation of `Send`
    /// is not general enough"). The check's future was thus not `Send`, and could not be
    /// spawned (`manifesto serve` runs each check on its own task). With `F` named here, the
    /// future holds only `F` and the caller's references, and is `Send` when they are.
    async fn politely<T, E, F>(&self, addr: SocketAddr, attempt: impl Fn() -> F) -> Result<T, E>
    where
        E: From<ConnectError> + std::fmt::Display,
        F: Future<Output = Result<T, Failed<E>>>,
    {
        let started = Instant::now();
        let failed = match attempt().await {
            Ok(t) => return Ok(t),
            Err(failed) => failed,
        };
        let Some((stage, how)) = failed.refused else {
            return Err(failed.error);
        };
        let address = self.limiter.address(addr.ip());
        let earlier = match stage {
            Stage::Connect => {
                address
                    .successes_once_settled(addr.port(), self.timeout)
                    .await
            }
            Stage::FirstRead => address.earlier_successes(addr.port(), stage),
        };
        let Some(earlier) = earlier else {
            return Err(failed.error);
        };
        address.slow_down(started);
        let jitter = rand::rng().random_range(Duration::ZERO..=RETRY_JITTER);
        let pause = RETRY_PAUSE + jitter;
        let first = format!("{how}, after {earlier} earlier connection(s) to it succeeded");
        if Instant::now() + pause >= self.deadline {
            let then = "; not retried: the check's deadline is too near";
            return Err(self.rate_limited(addr, &first, then));
        }
        tokio::time::sleep(pause).await;
        let started = Instant::now();
        match attempt().await {
            Ok(t) => Ok(t),
            Err(again) if again.refused.is_some() => {
                address.slow_down(started);
                let then = format!(", and again after a pause of {:.1} s", pause.as_secs_f64());
                Err(self.rate_limited(addr, &first, &then))
            }
            Err(again) => Err(again.error),
        }
    }

    fn rate_limited<E: From<ConnectError>>(&self, addr: SocketAddr, first: &str, then: &str) -> E {
        ConnectError::RateLimited(
            addr,
            format!(
                "{first}{then}. Re-run the check later, or have the server allow more new \
                 connections from the checker's address (this checker opens at most {} at once \
                 to one address: --max-connections-per-address)",
                self.limiter.per_address()
            ),
        )
        .into()
    }

    /// One bounded connect: a slot in the limiter, then this address's turn when connections
    /// are paced (a sweep) or slowed down (after a refusal).
    async fn connect_once(&self, addr: SocketAddr) -> Result<Conn, ConnectError> {
        if !self.allow_private && !net::is_public(addr.ip()) {
            return Err(ConnectError::NotPublic(addr.ip()));
        }
        let address = self.limiter.address(addr.ip());
        let slot = self.limiter.acquire(&address).await.ok_or_else(|| {
            ConnectError::Io(
                addr,
                std::io::Error::other("the connection limiter is closed"),
            )
        })?;
        if let Some(pacer) = self.pacer {
            pacer.wait(addr.ip()).await;
        }
        if !address.wait_turn(self.deadline).await {
            return Err(ConnectError::RateLimited(
                addr,
                "it refused connections after earlier ones succeeded, and this one's turn at \
                 the slower pace would come after the check's deadline; re-run the check later"
                    .into(),
            ));
        }
        let connecting = address.connecting(addr.port());
        let tcp = net::connect(addr, self.timeout, self.allow_private).await;
        connecting.ended(tcp.is_ok());
        Ok(Conn::accepted(tcp?, address, addr.port(), slot))
    }

    pub(crate) fn header(&self, service: Service) -> Header<'_> {
        Header {
            service,
            to: self.domain,
            from: (service == Service::S2s).then_some(self.s2s_from),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant as StdInstant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    struct Fixture {
        tls: TlsClient,
        roots: rustls::RootCertStore,
        limiter: net::ConnectionLimiter,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture {
                tls: TlsClient::new().unwrap(),
                roots: rustls::RootCertStore::empty(),
                limiter: net::ConnectionLimiter::new(4, 16),
            }
        }

        fn ctx(&self) -> Context<'_> {
            Context {
                domain: "example.test",
                s2s_from: "probe.invalid",
                timeout: Duration::from_secs(2),
                probe_wait_min: Duration::from_millis(300),
                probe_wait: Duration::from_millis(300),
                allow_private: true,
                tls: &self.tls,
                roots: &self.roots,
                limits: Limits::default(),
                deadline: Instant::now() + Duration::from_secs(20),
                limiter: &self.limiter,
                pacer: None,
                posture_cache: None,
                responder: None,
                target_addresses: &[],
            }
        }
    }

    /// A listener that accepts `n` connections, answers `answer` on each, and is then closed:
    /// its port refuses from then on.
    async fn accepting(
        n: usize,
        answer: &'static [u8],
    ) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            for _ in 0..n {
                let (mut s, _) = listener.accept().await.unwrap();
                let _ = s.write_all(answer).await;
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
                });
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn a_port_that_never_accepted_is_closed_not_rate_limited() {
        let f = Fixture::new();
        let (addr, task) = accepting(0, b"").await;
        task.await.unwrap();
        let started = StdInstant::now();
        let e = f.ctx().connect(addr).await.unwrap_err();
        assert!(matches!(e, ConnectError::Io(..)), "{e}");
        assert!(started.elapsed() < RETRY_PAUSE, "retried a closed port");
    }

    #[tokio::test]
    async fn a_refusal_after_a_success_is_retried_once_then_rate_limited() {
        let f = Fixture::new();
        let (addr, task) = accepting(1, b"").await;
        let ctx = f.ctx();
        let first = ctx.connect(addr).await.unwrap();
        task.await.unwrap();
        drop(first);
        let started = StdInstant::now();
        let e = ctx.connect(addr).await.unwrap_err();
        assert!(
            started.elapsed() >= RETRY_PAUSE,
            "no pause before the retry"
        );
        let ConnectError::RateLimited(_, message) = &e else {
            panic!("not rate-limited: {e}");
        };
        assert!(
            message.contains(
                "it refused a connection, after 1 earlier connection(s) to it succeeded, and again"
            ),
            "{e}"
        );
        assert!(message.contains("--max-connections-per-address"), "{e}");
    }

    #[tokio::test]
    async fn a_retry_that_gets_through_is_a_plain_success() {
        let f = Fixture::new();
        let (addr, task) = accepting(1, b"").await;
        let ctx = f.ctx();
        drop(ctx.connect(addr).await.unwrap());
        task.await.unwrap();
        // The port opens again during the pause, as a rate limiter's bucket refills.
        let reopened = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let listener = TcpListener::bind(addr).await.unwrap();
            let (s, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(s);
        });
        assert!(ctx.connect(addr).await.is_ok());
        reopened.await.unwrap();
    }

    #[tokio::test]
    async fn a_stream_closed_before_a_byte_after_answered_ones_is_rate_limited() {
        let f = Fixture::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // The first connection is answered; every later one is closed at once.
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"<").await.unwrap();
            loop {
                let (s, _) = listener.accept().await.unwrap();
                drop(s);
            }
        });
        let ctx = f.ctx();
        let mut first = ctx.connect(addr).await.unwrap();
        let mut byte = [0u8; 1];
        first.read_exact(&mut byte).await.unwrap();
        let e = match ctx.open_stream(addr, Service::C2s).await {
            Ok(_) => panic!("a stream opened on a server that closes at once"),
            Err(e) => e,
        };
        assert!(
            matches!(e, OpenError::Connect(ConnectError::RateLimited(..))),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("a connection before sending anything, after 1 earlier"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_stream_closed_by_a_server_that_never_answered_is_not_retried() {
        let f = Fixture::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (s, _) = listener.accept().await.unwrap();
                drop(s);
            }
        });
        let started = StdInstant::now();
        let e = match f.ctx().open_stream(addr, Service::C2s).await {
            Ok(_) => panic!("a stream opened on a server that closes at once"),
            Err(e) => e,
        };
        assert!(
            matches!(e, OpenError::Stream(XmppError::Eof(_) | XmppError::Io(_))),
            "{e}"
        );
        assert!(started.elapsed() < RETRY_PAUSE, "retried");
    }
}
