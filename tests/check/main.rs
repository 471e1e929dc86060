//! `manifesto check`: one test binary for the checker's room (see `tests/support/` for the
//! harness every module uses).

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod coverage;
mod dns_edge;
mod dnssec;
mod fake_servers;
mod fake_targets_selftest;
mod harness;
mod interop;
mod node;
mod policy;
mod politeness;
mod posture;
mod responder;
mod responder_server;
