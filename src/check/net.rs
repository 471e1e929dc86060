//! Bounded connects under the address policy of [`crate::check::address`].
//!
//! The bot runs on shared CI runners: without `--allow-private` it must never become a probe
//! into the runner's own network, so only globally routable addresses are contacted.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;

pub use crate::check::address::is_public;

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
