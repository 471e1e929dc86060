//! Admission of inbound connections: a cap on connections open at once in all, and per source
//! (an IPv4 address, or an IPv6 /64: one host usually holds a whole /64), a cap on connections
//! open at once and a token bucket of new connections per minute. A refused connection costs a
//! token too, so a flood keeps its source refused until it stops.
//!
//! The map of sources is bounded: sources with nothing open and a full bucket carry no state
//! worth keeping and are pruned; when the map is full even so, new sources are refused rather
//! than let the map grow (an attacker with many addresses can then only deny service, which any
//! flood can, never exhaust memory).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::check::responder::config::Limits;

/// Sources tracked at most.
const MAX_SOURCES: usize = 16 * 1024;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many connections open at once from this source.
    SourceBusy,
    /// Too many new connections per minute from this source.
    SourceRate,
    /// Too many connections open at once in all, or too many sources.
    Full,
}

/// A source's key: the address, IPv6 cut to its /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source(IpAddr);

impl Source {
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Source(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    Source(IpAddr::V6(bits.into()))
                }
            },
        }
    }
}

#[derive(Debug)]
struct SourceState {
    open: usize,
    tokens: f64,
    refilled: Instant,
}

#[derive(Debug, Default)]
struct GateState {
    sources: HashMap<Source, SourceState>,
    open: usize,
    refused: u64,
}

/// The admission gate shared by every listener.
#[derive(Debug)]
pub struct Gate {
    limits: Limits,
    max_sources: usize,
    state: Mutex<GateState>,
}

/// An admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Permit {
    gate: Arc<Gate>,
    source: Source,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        state.open = state.open.saturating_sub(1);
        if let Some(s) = state.sources.get_mut(&self.source) {
            s.open = s.open.saturating_sub(1);
        }
    }
}

impl Gate {
    pub fn new(limits: Limits) -> Arc<Self> {
        Self::with_max_sources(limits, MAX_SOURCES)
    }

    fn with_max_sources(limits: Limits, max_sources: usize) -> Arc<Self> {
        Arc::new(Gate {
            limits,
            max_sources,
            state: Mutex::new(GateState::default()),
        })
    }

    // A poisoned lock only means another connection's task panicked mid-update of counters;
    // the counters stay usable.
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a connection from `ip`, or says why not (and counts the refusal).
    pub fn admit(self: &Arc<Self>, ip: IpAddr, now: Instant) -> Result<Permit, Refusal> {
        let source = Source::of(ip);
        let mut state = self.lock();
        let verdict = self.decide(&mut state, source, now);
        match verdict {
            Ok(()) => {
                state.open += 1;
                if let Some(s) = state.sources.get_mut(&source) {
                    s.open += 1;
                }
                Ok(Permit {
                    gate: Arc::clone(self),
                    source,
                })
            }
            Err(refusal) => {
                state.refused = state.refused.saturating_add(1);
                Err(refusal)
            }
        }
    }

    fn decide(&self, state: &mut GateState, source: Source, now: Instant) -> Result<(), Refusal> {
        let capacity = f64::from(self.limits.connects_per_minute.max(1));
        if !state.sources.contains_key(&source) {
            if state.sources.len() >= self.max_sources {
                prune(&mut state.sources, capacity, now);
            }
            if state.sources.len() >= self.max_sources {
                return Err(Refusal::Full);
            }
            state.sources.insert(
                source,
                SourceState {
                    open: 0,
                    tokens: capacity,
                    refilled: now,
                },
            );
        }
        let total_full = state.open >= self.limits.connections;
        let Some(s) = state.sources.get_mut(&source) else {
            return Err(Refusal::Full);
        };
        refill(s, capacity, now);
        if s.tokens < 1.0 {
            return Err(Refusal::SourceRate);
        }
        s.tokens -= 1.0;
        if s.open >= self.limits.connections_per_address {
            return Err(Refusal::SourceBusy);
        }
        if total_full {
            return Err(Refusal::Full);
        }
        Ok(())
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().open
    }

    /// Connections refused since the start.
    pub fn refused(&self) -> u64 {
        self.lock().refused
    }

    /// Sources tracked now.
    pub fn sources(&self) -> usize {
        self.lock().sources.len()
    }
}

fn refill(s: &mut SourceState, capacity: f64, now: Instant) {
    let elapsed = now.saturating_duration_since(s.refilled).as_secs_f64();
    s.tokens = (s.tokens + elapsed * capacity / 60.0).min(capacity);
    s.refilled = now;
}

fn prune(sources: &mut HashMap<Source, SourceState>, capacity: f64, now: Instant) {
    sources.retain(|_, s| {
        refill(s, capacity, now);
        s.open > 0 || s.tokens < capacity
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> Limits {
        Limits {
            connections_per_address: 2,
            connections: 3,
            connects_per_minute: 4,
            ..Limits::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn per_source_concurrency_and_total_caps() {
        let gate = Gate::new(limits());
        let now = Instant::now();
        let a1 = gate.admit(ip("192.0.2.1"), now).unwrap();
        let _a2 = gate.admit(ip("192.0.2.1"), now).unwrap();
        assert_eq!(
            gate.admit(ip("192.0.2.1"), now).unwrap_err(),
            Refusal::SourceBusy
        );
        let _b1 = gate.admit(ip("192.0.2.2"), now).unwrap();
        assert_eq!(gate.admit(ip("192.0.2.3"), now).unwrap_err(), Refusal::Full);
        drop(a1);
        assert_eq!(gate.open(), 2);
        let _a3 = gate.admit(ip("192.0.2.1"), now).unwrap();
        assert_eq!(gate.refused(), 2);
    }

    #[test]
    fn the_bucket_refills_with_time() {
        let gate = Gate::new(limits());
        let now = Instant::now();
        for _ in 0..4 {
            drop(gate.admit(ip("192.0.2.1"), now).unwrap());
        }
        assert_eq!(
            gate.admit(ip("192.0.2.1"), now).unwrap_err(),
            Refusal::SourceRate
        );
        // 4 per minute: one token every 15 s.
        let later = now + Duration::from_secs(16);
        assert!(gate.admit(ip("192.0.2.1"), later).is_ok());
    }

    #[test]
    fn ipv6_sources_are_slash_64s() {
        let gate = Gate::new(limits());
        let now = Instant::now();
        let _a = gate.admit(ip("2001:db8::1"), now).unwrap();
        let _b = gate.admit(ip("2001:db8::2"), now).unwrap();
        assert_eq!(
            gate.admit(ip("2001:db8::3"), now).unwrap_err(),
            Refusal::SourceBusy
        );
        assert_eq!(
            Source::of(ip("::ffff:192.0.2.1")),
            Source::of(ip("192.0.2.1"))
        );
    }

    #[test]
    fn the_map_of_sources_stays_bounded() {
        let gate = Gate::with_max_sources(
            Limits {
                connections: 1000,
                ..limits()
            },
            4,
        );
        let now = Instant::now();
        let mut held = Vec::new();
        for i in 0..4 {
            held.push(gate.admit(ip(&format!("192.0.2.{i}")), now).unwrap());
        }
        assert_eq!(
            gate.admit(ip("198.51.100.1"), now).unwrap_err(),
            Refusal::Full
        );
        held.clear();
        // Nothing open, but the buckets are not full yet: still state worth keeping.
        assert_eq!(
            gate.admit(ip("198.51.100.1"), now).unwrap_err(),
            Refusal::Full
        );
        let later = now + Duration::from_secs(60);
        assert!(gate.admit(ip("198.51.100.1"), later).is_ok());
        assert!(gate.sources() <= 4);
    }
}
