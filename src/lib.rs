//! xmpp-manifesto: verifies that XMPP services really enforce TLS, and keeps the register of
//! the XMPP manifesto on ubiquitous encryption honest.
//!
//! The binary (`manifesto`) is a thin shell over [`cli::main`].

// Untrusted input everywhere: library code returns errors, it never panics on them.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod advisories;
pub mod check;
pub mod cli;
pub mod dane;
pub mod dns;
pub mod github;
pub mod grade;
pub mod identity;
pub mod lifecycle;
pub mod net;
pub mod output;
pub mod posture;
pub mod probes;
pub mod registry;
pub mod report;
pub mod review;
pub mod site;
pub mod sweep;
pub mod tls;
pub mod xml;
pub mod xmpp;
