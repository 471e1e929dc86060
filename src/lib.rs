//! xmpp-manifesto: verifies that XMPP services really enforce TLS, and keeps the register of
//! the XMPP manifesto on ubiquitous encryption honest.
//!
//! The binary (`manifesto`) is a thin shell over [`cli::main`].

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
pub mod site;
pub mod sweep;
pub mod tls;
pub mod xml;
pub mod xmpp;
