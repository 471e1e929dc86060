//! DANE (RFC 6698, RFC 7671, RFC 7673 for SRV): TLSA records at `_PORT._tcp.TARGET` matched
//! against the chain a server presents. Advisory only: never a failure of the manifesto.
//!
//! [`assess`] runs beside the endpoint checks with a DNSSEC-validating resolver
//! ([`validating_resolver`], `--trust-anchor` for tests): it asks again the SRV names discovery
//! found and the A/AAAA of their targets, and, where both validate ("secure"), the TLSA records at
//! `_PORT._tcp.TARGET` ([`lookup_tlsa`]). [`degrade_discovery`] turns bogus answers into failed
//! lookups (the check becomes inconclusive, never a pass); [`advisories`] reports `dnssec` and
//! `dane` findings, TLSA matched against the chain each endpoint presented ([`match_tlsa`]).
//!
//! The files: `tlsa` (records, and matching them against a chain), `lookup` (the validating
//! resolver, TLSA lookups, the DNSSEC status of an answer), `assess` (what the validating
//! resolver says about a discovery, and the degradation of bogus answers) and `advice` (the
//! advisories).

mod advice;
mod assess;
mod lookup;
mod tlsa;

#[cfg(test)]
mod tests;

pub use advice::advisories;
pub use assess::{Assessment, NameStatus, RootCheck, assess, degrade_discovery};
pub(crate) use lookup::tlsa_records;
pub use lookup::{DnssecStatus, TlsaLookup, lookup_tlsa, validating_resolver};
pub use tlsa::{DaneMatch, MAX_TLSA_RECORDS, Tlsa, match_tlsa, suggested_tlsa, tlsa_name};
