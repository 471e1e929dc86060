//! `manifesto serve`: a public check service (issue 12). An HTTP service (axum) that runs
//! `manifesto check` for anyone, keeps every result in SQLite, and shows them as pages and as a
//! JSON API; the bot and the sweep can ask it for complete checks (dual-stack, with the dialback
//! responder) with `--node URL`.
//!
//! Threat model: every request is untrusted (the domain asked for, the client's address, the
//! headers and body); the SSRF policy of `check` always applies (no non-public address unless
//! `--allow-private`, for tests only); per-client and per-domain limits, a global cap on running
//! checks and a bounded queue keep it from being turned against the servers it checks or
//! against itself; tokens raise the limits, never the policy.
//!
//! Rooms: `model` (the API's JSON shapes, shared with the `--node` client), `pages` (HTML and
//! the SVG history chart, askama templates in the register's look).

pub mod model;
pub mod pages;
