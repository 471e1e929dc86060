//! xmpp-manifesto: verifies that XMPP services really enforce TLS, and keeps the register of
//! the XMPP manifesto on ubiquitous encryption honest.
//!
//! The binary (`manifesto`) is a thin shell over [`cli::main`].

// Untrusted input everywhere: library code returns errors, it never panics on them.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod bot;
pub mod check;
pub mod cli;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod output;
pub mod register;
pub mod report;
pub mod site;
pub mod text;
