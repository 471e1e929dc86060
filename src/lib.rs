//! xmpp-manifesto: verifies that XMPP services really enforce TLS, and keeps the register of
//! the XMPP manifesto on ubiquitous encryption honest.
//!
//! The binary (`manifesto`) is a thin shell over [`cli::main`].

pub mod cli;
pub mod github;
pub mod report;
