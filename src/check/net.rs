//! Connections to the servers under test: the address policy, how many are open at once, and
//! how a refusal after earlier successes is told from a closed port.
//!
//! The bot runs on shared CI runners: without `--allow-private` it must never become a probe
//! into the runner's own network, so only globally routable addresses are contacted (the table
//! of [`crate::check::address`]).
//!
//! One check opens about 23 connections per address (per service: the session, the enforcement
//! probe and nine posture probes), and a domain with many SRV targets multiplies that. Many
//! servers limit new connections per source (nftables or iptables `limit`, fail2ban, Prosody's
//! and ejabberd's own limits), and a process has a file-descriptor limit (a domain with 16
//! targets of 3 addresses once opened 528 sockets at once: "Too many open files"). So:
//!
//! - [`ConnectionLimiter`], shared by the whole process: at most a few connections open at once
//!   to one IP address (`--max-connections-per-address`) and a bounded number in all
//!   (`--max-connections`, by default below the file-descriptor limit, which [`raise_fd_limit`]
//!   lifts to the hard limit at start). Each [`Conn`] holds its permits until it is dropped.
//! - The limiter remembers, per address and port, connections the server accepted and answered.
//!   A refusal or reset at connect (or before the server sent a byte) after such successes is
//!   most likely rate limiting, not a closed port: the caller backs off and retries once
//!   (`crate::check::context`), new connections to that address are spaced out from then on,
//!   and a second refusal is reported as [`ConnectError::RateLimited`] (inconclusive).
//! - The [`Pacer`] a sweep shares spaces every connection to one address.
//!
//! Threat model: the server decides when to refuse or reset. It can make the checker wait (at
//! most one pause and one retry per connection, within the check's deadline) and make its own
//! results inconclusive; a refusal is never evidence for a pass or a fail.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

pub use crate::check::address::is_public;

/// Default of `--max-connections-per-address`: connections open at once to one IP address.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 4;
/// Upper bound of the default of `--max-connections` (the process-wide cap).
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// File descriptors kept free of connections for DNS sockets, files and the runtime.
const FD_RESERVE: u64 = 64;
/// The process-wide cap never defaults below this, however low the descriptor limit.
const MIN_MAX_CONNECTIONS: usize = 4;
/// The spacing of new connections to an address once it refused one after successes, and
/// the most it grows to when the spaced connections are refused too.
const SLOW_INTERVAL: Duration = Duration::from_millis(250);
const SLOWEST_INTERVAL: Duration = Duration::from_secs(2);

fn not_public_reason(ip: IpAddr) -> &'static str {
    crate::check::address::judge(ip)
        .err()
        .map_or("allowed only with --allow-private", |n| n.reason)
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("connection to {0} timed out after {1:?}")]
    Timeout(SocketAddr, Duration),
    #[error("connection to {0} failed: {1}")]
    Io(SocketAddr, std::io::Error),
    #[error(
        "refused to connect to {0}: not a public address: {reason} (pass --allow-private to allow it)",
        reason = not_public_reason(*.0)
    )]
    NotPublic(IpAddr),
    /// Refused or reset again after a pause, when earlier connections to it had succeeded.
    #[error("{0} appears to rate-limit new connections: {1}")]
    RateLimited(SocketAddr, String),
}

/// Refused, reset or aborted: what a rate limiter (a `reject` rule, a full listen queue, an
/// application limit) answers, as opposed to a timeout or no route.
pub(crate) fn is_refusal(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
    )
}

/// Spacing between connections to the same address, shared by every check of a sweep: each
/// connection to an IP address starts at least `interval` after the previous one to it.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: std::sync::Mutex<std::collections::HashMap<IpAddr, tokio::time::Instant>>,
}

impl Pacer {
    pub fn new(interval: Duration) -> Pacer {
        Pacer {
            interval,
            next: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Waits for this connection's turn to `ip`.
    pub async fn wait(&self, ip: IpAddr) {
        if self.interval.is_zero() {
            return;
        }
        let now = tokio::time::Instant::now();
        let slot = {
            let mut next = match self.next.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            let slot = next.get(&ip).map_or(now, |t| (*t).max(now));
            next.insert(ip, slot + self.interval);
            slot
        };
        if slot > now {
            tokio::time::sleep_until(slot).await;
        }
    }
}

/// The file-descriptor soft limit, raised to the hard limit; the limit in force after (`None`
/// when unlimited or unknown). Called once at start by the CLI, so that the default
/// process-wide connection cap ([`default_max_connections`]) can be as high as allowed.
pub fn raise_fd_limit() -> std::io::Result<Option<u64>> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        match (limit.current, limit.maximum) {
            (Some(current), Some(maximum)) if current < maximum => {
                let raised = Rlimit {
                    current: Some(maximum),
                    maximum: Some(maximum),
                };
                setrlimit(Resource::Nofile, raised)?;
                Ok(Some(maximum))
            }
            (current, _) => Ok(current),
        }
    }
    #[cfg(not(unix))]
    Ok(None)
}

/// The file-descriptor soft limit in force (`None` when unlimited or unknown).
pub fn fd_soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    None
}

/// The default process-wide cap on open connections: [`DEFAULT_MAX_CONNECTIONS`], or fewer so
/// that 64 descriptors of the soft limit stay free for everything else.
pub fn default_max_connections() -> usize {
    match fd_soft_limit() {
        Some(soft) => usize::try_from(soft.saturating_sub(FD_RESERVE))
            .unwrap_or(usize::MAX)
            .clamp(MIN_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS),
        None => DEFAULT_MAX_CONNECTIONS,
    }
}

/// Caps on open connections, per IP address and for the whole process, and what each address
/// has shown so far (see the module documentation). One per process: every check of a run,
/// including a sweep's and a review's, shares it through `CheckOptions::connection_limiter`.
#[derive(Debug)]
pub struct ConnectionLimiter {
    per_address: usize,
    max_total: usize,
    total: Arc<Semaphore>,
    addresses: Mutex<HashMap<IpAddr, Arc<Address>>>,
}

impl ConnectionLimiter {
    /// At most `per_address` connections open at once to one IP address and `total` in all
    /// (both at least 1).
    pub fn new(per_address: usize, total: usize) -> Self {
        let (per_address, max_total) = (per_address.max(1), total.max(1));
        ConnectionLimiter {
            per_address,
            max_total,
            total: Arc::new(Semaphore::new(max_total)),
            addresses: Mutex::new(HashMap::new()),
        }
    }

    pub fn per_address(&self) -> usize {
        self.per_address
    }

    pub fn max_total(&self) -> usize {
        self.max_total
    }

    /// What is known of `ip` (created on first use; one small entry per address contacted).
    pub(crate) fn address(&self, ip: IpAddr) -> Arc<Address> {
        let mut addresses = lock(&self.addresses);
        addresses
            .entry(ip)
            .or_insert_with(|| {
                Arc::new(Address {
                    slots: Arc::new(Semaphore::new(self.per_address)),
                    memory: Mutex::new(Memory::default()),
                    settled: tokio::sync::Notify::new(),
                    last_slowed_start: tokio::sync::Mutex::new(None),
                })
            })
            .clone()
    }

    /// Waits for a free slot to `address`, then for one in the process (in that order, so that
    /// a connection waiting for its address holds no process-wide slot). First come, first
    /// served (tokio's semaphores are fair).
    pub(crate) async fn acquire(&self, address: &Address) -> Option<Slot> {
        let address = address.slots.clone().acquire_owned().await.ok()?;
        let total = self.total.clone().acquire_owned().await.ok()?;
        Some(Slot {
            _address: address,
            _total: total,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Permission to keep one connection open: released when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    _address: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

/// One IP address: its slots, and what its ports have shown.
#[derive(Debug)]
pub(crate) struct Address {
    slots: Arc<Semaphore>,
    memory: Mutex<Memory>,
    /// Woken whenever a connect to this address ends, either way.
    settled: tokio::sync::Notify,
    /// When the last connection at the slower pace started; the lock orders them.
    last_slowed_start: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Debug, Default)]
struct Memory {
    ports: HashMap<u16, Seen>,
    slowed: Option<Slowed>,
}

/// Connects to one port under way, and connections the server accepted, and answered (sent
/// a byte on).
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    connecting: u32,
    accepted: u32,
    answered: u32,
}

/// New connections to an address that refused one after successes: one every `interval`.
#[derive(Debug)]
struct Slowed {
    since: Instant,
    interval: Duration,
}

/// Where a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Refused or reset while connecting.
    Connect,
    /// Closed or reset after connecting, before the server sent a byte.
    FirstRead,
}

impl Address {
    fn seen(&self, port: u16, change: impl FnOnce(&mut Seen)) {
        let mut memory = lock(&self.memory);
        change(memory.ports.entry(port).or_default());
    }

    /// A connect to `port` starts; it ends when the guard is told how, or dropped (a connect
    /// cut by the check's deadline).
    pub(crate) fn connecting(&self, port: u16) -> Connecting<'_> {
        self.seen(port, |s| s.connecting = s.connecting.saturating_add(1));
        Connecting {
            address: self,
            port,
            ended: false,
        }
    }

    fn connected(&self, port: u16, accepted: bool) {
        self.seen(port, |s| {
            s.connecting = s.connecting.saturating_sub(1);
            if accepted {
                s.accepted = s.accepted.saturating_add(1);
            }
        });
        self.settled.notify_waiters();
    }

    fn answered(&self, port: u16) {
        self.seen(port, |s| s.answered = s.answered.saturating_add(1));
    }

    /// Whether a refusal at `stage` on `port` looks like rate limiting, and how many earlier
    /// connections succeeded: some were accepted (for a refused connect) or answered (for a
    /// silent close: this very connection was accepted) on this port, or the address already
    /// refused one after successes. A port that never accepted one is closed, not limited.
    pub(crate) fn earlier_successes(&self, port: u16, stage: Stage) -> Option<u32> {
        let memory = lock(&self.memory);
        let seen = memory.ports.get(&port).copied().unwrap_or_default();
        let n = match stage {
            Stage::Connect => seen.accepted,
            Stage::FirstRead => seen.answered,
        };
        (n > 0 || memory.slowed.is_some()).then_some(n)
    }

    /// [`Address::earlier_successes`] for a refused connect, once the connects to `port` that
    /// were under way with it have ended (at most `wait`): a rate limiter answers the first
    /// connections of a burst with an acceptance and the next ones with a refusal at the same
    /// moment, and the refusal must not be judged before the acceptances are known.
    pub(crate) async fn successes_once_settled(&self, port: u16, wait: Duration) -> Option<u32> {
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.settled.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if let Some(n) = self.earlier_successes(port, Stage::Connect) {
                return Some(n);
            }
            let in_flight = lock(&self.memory)
                .ports
                .get(&port)
                .is_some_and(|s| s.connecting > 0);
            if !in_flight || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// After a refusal that looks like rate limiting: new connections to this address are
    /// spaced from now on, and further apart when one that started at that pace (at or after
    /// `since`) is refused too.
    pub(crate) fn slow_down(&self, started: Instant) {
        let mut memory = lock(&self.memory);
        match &mut memory.slowed {
            None => {
                let now = Instant::now();
                memory.slowed = Some(Slowed {
                    since: now,
                    interval: SLOW_INTERVAL,
                });
            }
            Some(slowed) if started >= slowed.since => {
                slowed.interval = (slowed.interval * 2).min(SLOWEST_INTERVAL);
            }
            Some(_) => {}
        }
    }

    /// The spacing of new connections, once the address was slowed down.
    fn slowed_interval(&self) -> Option<Duration> {
        lock(&self.memory).slowed.as_ref().map(|s| s.interval)
    }

    /// Waits for this connection's turn when the address was slowed down: at least the
    /// interval after the previous connection really started (one at a time, in order, so
    /// that late wake-ups on a busy machine never bunch connections together). False, without
    /// waiting, when the turn would come after `deadline`.
    pub(crate) async fn wait_turn(&self, deadline: Instant) -> bool {
        if self.slowed_interval().is_none() {
            return true;
        }
        let mut last = self.last_slowed_start.lock().await;
        let interval = self.slowed_interval().unwrap_or(SLOW_INTERVAL);
        let now = Instant::now();
        let at = last.map_or(now, |l| (l + interval).max(now));
        if at >= deadline {
            return false;
        }
        tokio::time::sleep_until(at).await;
        *last = Some(Instant::now());
        true
    }
}

/// A connect under way (see [`Address::connecting`]).
pub(crate) struct Connecting<'a> {
    address: &'a Address,
    port: u16,
    ended: bool,
}

impl Connecting<'_> {
    pub(crate) fn ended(mut self, accepted: bool) {
        self.ended = true;
        self.address.connected(self.port, accepted);
    }
}

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.address.connected(self.port, false);
        }
    }
}

/// A TCP connection that holds its slot in the [`ConnectionLimiter`] until it is dropped, and
/// tells its address when the server first answers.
#[derive(Debug)]
pub struct Conn {
    tcp: TcpStream,
    heard: Heard,
    address: Arc<Address>,
    port: u16,
    _slot: Slot,
}

/// Whether the server sent anything on a connection, readable after the connection was handed
/// to a stream or a TLS session.
#[derive(Debug, Clone, Default)]
pub(crate) struct Heard(Arc<AtomicBool>);

impl Heard {
    pub(crate) fn anything(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl Conn {
    /// A connection `address` accepted.
    pub(crate) fn accepted(tcp: TcpStream, address: Arc<Address>, port: u16, slot: Slot) -> Conn {
        Conn {
            tcp,
            heard: Heard::default(),
            address,
            port,
            _slot: slot,
        }
    }

    pub(crate) fn heard(&self) -> Heard {
        self.heard.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll
            && buf.filled().len() > before
            && !this.heard.0.swap(true, Ordering::Relaxed)
        {
            this.address.answered(this.port);
        }
        poll
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

pub async fn connect(
    addr: SocketAddr,
    timeout: Duration,
    allow_private: bool,
) -> Result<TcpStream, ConnectError> {
    if !allow_private && !is_public(addr.ip()) {
        return Err(ConnectError::NotPublic(addr.ip()));
    }
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| ConnectError::Timeout(addr, timeout))?
        .map_err(|e| ConnectError::Io(addr, e))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pacer_spaces_connections_to_one_address() {
        let pacer = Pacer::new(Duration::from_millis(100));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let start = tokio::time::Instant::now();
        pacer.wait(a).await;
        pacer.wait(b).await;
        assert!(start.elapsed() < Duration::from_millis(50));
        pacer.wait(a).await;
        pacer.wait(a).await;
        assert!(start.elapsed() >= Duration::from_millis(200));
    }

    /// Whether `fut` is still pending after a short while.
    async fn pending<F: std::future::Future>(fut: F) -> bool {
        tokio::time::timeout(Duration::from_millis(50), fut)
            .await
            .is_err()
    }

    #[tokio::test]
    async fn the_limiter_caps_one_address_and_the_whole_process() {
        let limiter = ConnectionLimiter::new(2, 3);
        let (a, b, c) = (
            limiter.address("192.0.2.1".parse().unwrap()),
            limiter.address("192.0.2.2".parse().unwrap()),
            limiter.address("192.0.2.3".parse().unwrap()),
        );
        let first = limiter.acquire(&a).await.unwrap();
        let _second = limiter.acquire(&a).await.unwrap();
        assert!(
            pending(limiter.acquire(&a)).await,
            "a third slot to one address"
        );
        let _other = limiter.acquire(&b).await.unwrap();
        assert!(pending(limiter.acquire(&c)).await, "a fourth slot in all");
        drop(first);
        assert!(limiter.acquire(&c).await.is_some());
        assert_eq!((limiter.per_address(), limiter.max_total()), (2, 3));
    }

    #[test]
    fn a_refusal_looks_like_rate_limiting_only_after_a_success_on_that_port() {
        let limiter = ConnectionLimiter::new(4, 16);
        let a = limiter.address("192.0.2.1".parse().unwrap());
        assert_eq!(a.earlier_successes(5222, Stage::Connect), None);
        a.connecting(5222).ended(false);
        drop(a.connecting(5222));
        assert_eq!(a.earlier_successes(5222, Stage::Connect), None);
        a.connecting(5222).ended(true);
        assert_eq!(a.earlier_successes(5222, Stage::Connect), Some(1));
        assert_eq!(a.earlier_successes(5222, Stage::FirstRead), None);
        assert_eq!(a.earlier_successes(5269, Stage::Connect), None);
        a.answered(5222);
        assert_eq!(a.earlier_successes(5222, Stage::FirstRead), Some(1));
        // Once the address turned one away after successes, its other ports are suspect too.
        a.slow_down(Instant::now());
        assert_eq!(a.earlier_successes(5269, Stage::Connect), Some(0));
    }

    #[test]
    fn the_slowing_doubles_only_for_connections_made_at_the_slower_pace() {
        let limiter = ConnectionLimiter::new(4, 16);
        let a = limiter.address("192.0.2.1".parse().unwrap());
        assert_eq!(a.slowed_interval(), None);
        let earlier = Instant::now()
            .checked_sub(Duration::from_millis(1))
            .unwrap();
        a.slow_down(earlier);
        assert_eq!(a.slowed_interval(), Some(SLOW_INTERVAL));
        // A refusal of a connection that started before the slowing changes nothing.
        a.slow_down(earlier);
        assert_eq!(a.slowed_interval(), Some(SLOW_INTERVAL));
        a.slow_down(Instant::now());
        assert_eq!(a.slowed_interval(), Some(SLOW_INTERVAL * 2));
        for _ in 0..8 {
            a.slow_down(Instant::now());
        }
        assert_eq!(a.slowed_interval(), Some(SLOWEST_INTERVAL));
    }

    #[tokio::test]
    async fn a_slowed_down_address_spaces_its_connections() {
        let limiter = ConnectionLimiter::new(4, 16);
        let a = limiter.address("192.0.2.1".parse().unwrap());
        let far = Instant::now() + Duration::from_secs(60);
        let started = Instant::now();
        assert!(a.wait_turn(far).await && a.wait_turn(far).await);
        assert!(
            started.elapsed() < SLOW_INTERVAL,
            "paced before any refusal"
        );
        a.slow_down(Instant::now());
        let started = Instant::now();
        assert!(a.wait_turn(far).await);
        assert!(a.wait_turn(far).await);
        assert!(a.wait_turn(far).await);
        assert!(started.elapsed() >= SLOW_INTERVAL * 2);
        let near = Instant::now() + Duration::from_millis(10);
        assert!(!a.wait_turn(near).await, "a turn after the deadline");
    }

    #[test]
    fn the_default_cap_stays_below_the_descriptor_limit() {
        let cap = default_max_connections();
        assert!((MIN_MAX_CONNECTIONS..=DEFAULT_MAX_CONNECTIONS).contains(&cap));
        if let Some(soft) = fd_soft_limit() {
            assert!(
                cap as u64
                    <= soft
                        .saturating_sub(FD_RESERVE)
                        .max(MIN_MAX_CONNECTIONS as u64)
            );
        }
    }

    #[test]
    fn public_and_private() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "2a01:4f8::1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
