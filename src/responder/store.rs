//! The observation log and the replay set, both bounded.
//!
//! The log holds one [`ConnectionRecord`] per admitted connection, oldest first (ids increase
//! with insertion, so a record is found by binary search): at most `limits.observations`
//! records, none older than `limits.observation_ttl_s`. A connection updates its record in
//! place while it lives; once evicted, a record is not brought back.
//!
//! The replay set holds the nonces of keys that verified, each until its key can no longer
//! verify anyway (lifetime, plus the minute of clock skew [`Secret::verify`] allows). Only keys
//! with a valid MAC reach it, and only checkers mint those, so its size follows checker
//! activity, not peer activity; still it is capped, and when full it refuses new nonces
//! (fail closed: a refused valid key costs one inconclusive check, an accepted replay would cost
//! a false proof).
//!
//! [`Secret::verify`]: crate::check::responder::key::Secret::verify

use std::collections::{HashMap, VecDeque};

use crate::check::responder::model::{ConnectionRecord, Observations};

/// What claiming a nonce found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Fresh,
    Replayed,
    /// The replay set is full of live nonces.
    Full,
}

#[derive(Debug)]
pub struct Store {
    records: VecDeque<ConnectionRecord>,
    max_records: usize,
    ttl_ms: u64,
    nonces: HashMap<String, u64>,
    /// (expiry, nonce), in order of insertion; expiries grow with it (one lifetime for all).
    nonce_order: VecDeque<(u64, String)>,
    max_nonces: usize,
    next_id: u64,
}

impl Store {
    pub fn new(max_records: usize, ttl_ms: u64, max_nonces: usize) -> Self {
        Store {
            records: VecDeque::new(),
            max_records,
            ttl_ms,
            nonces: HashMap::new(),
            nonce_order: VecDeque::new(),
            max_nonces,
            next_id: 1,
        }
    }

    /// Adds a record for a new connection, with a fresh id, and returns it.
    pub fn open(&mut self, mut record: ConnectionRecord, now_ms: u64) -> ConnectionRecord {
        record.id = self.next_id;
        self.next_id += 1;
        self.prune(now_ms);
        if self.max_records > 0 {
            while self.records.len() >= self.max_records {
                self.records.pop_front();
            }
            self.records.push_back(record.clone());
        }
        record
    }

    /// Replaces the record with the same id, if it is still kept.
    pub fn update(&mut self, record: &ConnectionRecord) {
        if let Ok(i) = self.records.binary_search_by_key(&record.id, |r| r.id) {
            self.records[i] = record.clone();
        }
    }

    fn prune(&mut self, now_ms: u64) {
        let oldest = now_ms.saturating_sub(self.ttl_ms);
        while self.records.front().is_some_and(|r| r.started_ms < oldest) {
            self.records.pop_front();
        }
    }

    /// The records that concern `domain` (all when `None`) and started at or after `since_ms`.
    pub fn observations(
        &mut self,
        domain: Option<&str>,
        since_ms: u64,
        now_ms: u64,
    ) -> Observations {
        self.prune(now_ms);
        let connections = self
            .records
            .iter()
            .filter(|r| r.started_ms >= since_ms)
            .filter(|r| domain.is_none_or(|d| r.concerns(d)))
            .cloned()
            .collect();
        Observations {
            connections,
            now_ms,
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Claims `nonce` until `expires_ms`.
    pub fn claim(&mut self, nonce: &str, now_ms: u64, expires_ms: u64) -> Claim {
        while let Some((expiry, _)) = self.nonce_order.front() {
            if *expiry > now_ms {
                break;
            }
            if let Some((expiry, old)) = self.nonce_order.pop_front() {
                // Only if not re-claimed later with a later expiry.
                if self.nonces.get(&old) == Some(&expiry) {
                    self.nonces.remove(&old);
                }
            }
        }
        if self.nonces.contains_key(nonce) {
            return Claim::Replayed;
        }
        if self.nonces.len() >= self.max_nonces {
            return Claim::Full;
        }
        self.nonces.insert(nonce.to_owned(), expires_ms);
        self.nonce_order.push_back((expires_ms, nonce.to_owned()));
        Claim::Fresh
    }

    pub fn nonces(&self) -> usize {
        self.nonces.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(started_ms: u64, from: &str) -> ConnectionRecord {
        ConnectionRecord {
            started_ms,
            stream_from: Some(from.into()),
            ..ConnectionRecord::default()
        }
    }

    #[test]
    fn the_log_keeps_the_newest_records_up_to_its_cap() {
        let mut store = Store::new(3, 1_000_000, 10);
        let ids: Vec<u64> = (0..5)
            .map(|i| store.open(record(1000 + i, "a.example"), 2000).id)
            .collect();
        assert_eq!(ids, [1, 2, 3, 4, 5]);
        assert_eq!(store.len(), 3);
        let seen = store.observations(None, 0, 2000);
        let kept: Vec<u64> = seen.connections.iter().map(|r| r.id).collect();
        assert_eq!(kept, [3, 4, 5]);
        // An evicted record is not brought back by its connection.
        let mut gone = record(1000, "a.example");
        gone.id = 1;
        store.update(&gone);
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn updates_filters_and_ttl() {
        let mut store = Store::new(10, 1000, 10);
        let mut a = store.open(record(5000, "a.example"), 5000);
        store.open(record(5500, "b.example"), 5500);
        a.stream_to = Some("probe.example".into());
        store.update(&a);
        let seen = store.observations(Some("A.example"), 0, 5600);
        assert_eq!(seen.connections, vec![a]);
        assert_eq!(seen.now_ms, 5600);
        assert_eq!(store.observations(None, 5400, 5600).connections.len(), 1);
        // a is older than the TTL at 6100.
        assert_eq!(store.observations(None, 0, 6100).connections.len(), 1);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn a_nonce_is_claimed_once_until_it_expires_and_the_set_is_capped() {
        let mut store = Store::new(10, 1000, 2);
        assert_eq!(store.claim("n1", 0, 100), Claim::Fresh);
        assert_eq!(store.claim("n1", 50, 150), Claim::Replayed);
        assert_eq!(store.claim("n2", 50, 150), Claim::Fresh);
        assert_eq!(store.claim("n3", 60, 160), Claim::Full);
        // n1 expired at 100: the set has room again.
        assert_eq!(store.claim("n3", 101, 201), Claim::Fresh);
        assert_eq!(store.nonces(), 2);
        assert_eq!(store.claim("n2", 120, 220), Claim::Replayed);
    }
}
