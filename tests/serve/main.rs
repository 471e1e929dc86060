//! `manifesto serve`: one test binary for the check service's room. The real binary is started
//! on 127.0.0.1 with a temporary database, and talked to over HTTP (`client.rs`); checks run
//! against a real Prosody behind the in-process DNS (`tests/support/`).

#[path = "../support/mod.rs"]
mod support;

mod api;
mod browser;
mod client;
mod figures;
mod lifecycle;
mod limits;
mod node;
mod properties;
mod schema;
mod service;
