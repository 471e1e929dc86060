//! Per-client limits on new checks: a token bucket per client address (an IPv6 client is its
//! /64, what one subscriber usually gets; an IPv4-mapped address is its IPv4 address), or per
//! API token, which gets [`TOKEN_FACTOR`] times more. Only requests that would start a new
//! check take from the bucket: a stored result or a check already under way costs nothing.
//!
//! The table of buckets is bounded ([`MAX_CLIENTS`]): when full, buckets that have refilled
//! completely (clients that went quiet) are dropped; if none has, new clients share one
//! overflow bucket, so that a flood of addresses cannot grow the memory nor escape the limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How much more a request with a valid token may ask for.
pub const TOKEN_FACTOR: u32 = 10;
/// Buckets kept at most.
const MAX_CLIENTS: usize = 65_536;

/// Who a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Client {
    Addr(IpAddr),
    Token(String),
    /// Every new client while the table is full.
    Overflow,
}

impl Client {
    /// The client of an address: IPv6 masked to its /64.
    pub fn from_addr(ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(_) => Client::Addr(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::Addr(IpAddr::V4(v4)),
                None => {
                    let masked = u128::from(v6) & !((1u128 << 64) - 1);
                    Client::Addr(IpAddr::V6(masked.into()))
                }
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets: `per_minute` checks a minute for an address, in bursts of as many.
#[derive(Debug)]
pub struct Limiter {
    per_minute: u32,
    buckets: Mutex<HashMap<Client, Bucket>>,
}

impl Limiter {
    pub fn new(per_minute: u32) -> Limiter {
        Limiter {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn capacity(&self, client: &Client) -> f64 {
        let factor = if matches!(client, Client::Token(_)) {
            TOKEN_FACTOR
        } else {
            1
        };
        f64::from(self.per_minute.saturating_mul(factor))
    }

    /// Takes one check from `client`'s bucket, or says how long until one is there.
    pub fn try_take(&self, client: &Client) -> Result<(), Duration> {
        self.try_take_at(client, Instant::now())
    }

    fn try_take_at(&self, client: &Client, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned table cannot tell: refuse rather than let everything through.
            return Err(Duration::from_secs(60));
        };
        let key = if buckets.contains_key(client) || buckets.len() < MAX_CLIENTS {
            client.clone()
        } else {
            self.evict_full(&mut buckets, now);
            if buckets.len() < MAX_CLIENTS {
                client.clone()
            } else {
                Client::Overflow
            }
        };
        let capacity = self.capacity(&key);
        let rate = capacity / 60.0;
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                ((1.0 - bucket.tokens) / rate).ceil().max(1.0),
            ))
        }
    }

    fn evict_full(&self, buckets: &mut HashMap<Client, Bucket>, now: Instant) {
        buckets.retain(|client, bucket| {
            let capacity = self.capacity(client);
            let refilled = bucket.tokens
                + now.saturating_duration_since(bucket.at).as_secs_f64() * capacity / 60.0;
            refilled < capacity
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_and_tokens_get_more() {
        let limiter = Limiter::new(2);
        let now = Instant::now();
        let a = Client::from_addr("2001:db8::1".parse().unwrap());
        let b = Client::from_addr("2001:db8::2".parse().unwrap());
        assert_eq!(a, b, "one /64 is one client");
        assert!(limiter.try_take_at(&a, now).is_ok());
        assert!(limiter.try_take_at(&b, now).is_ok());
        let wait = limiter.try_take_at(&a, now).unwrap_err();
        assert_eq!(wait, Duration::from_secs(30));
        assert!(limiter.try_take_at(&a, now + wait).is_ok());
        let token = Client::Token("bot".into());
        for _ in 0..20 {
            assert!(limiter.try_take_at(&token, now).is_ok());
        }
        assert!(limiter.try_take_at(&token, now).is_err());
        assert_eq!(
            Client::from_addr("::ffff:192.0.2.1".parse().unwrap()),
            Client::Addr("192.0.2.1".parse().unwrap())
        );
    }
}
