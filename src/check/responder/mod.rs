//! The checker's side of the dialback responder (`manifesto responder`, `crate::responder`):
//! the configuration file both read, the dialback keys a checker mints and the responder
//! verifies, the observations the responder records, and the client of its HTTP API.
//!
//! Why a responder: XEP-0220 dialback makes the target connect back to the sender domain and
//! ask it whether the key is genuine (`<db:verify/>`). With a sender domain that resolves
//! nowhere (our default, [`crate::check::DEFAULT_S2S_FROM`]), Prosody dials back, fails and stays
//! silent, so nothing is proven. With a sender domain whose s2s endpoint we run, the dialback
//! completes and the target must then decide on our cleartext stream: refuse it (enforced) or
//! accept it (not enforced). A second probe domain that never offers TLS shows whether the
//! target federates outbound in cleartext.
//!
//! Threat model: the target is untrusted. It may answer `valid` without dialing back (the
//! responder then has no record of our key: a lie, graded as a failure), replay keys (each key
//! verifies once), or forge them (an HMAC under a secret only checkers and the responder hold).
//! The API is authenticated with a token derived from the same secret; the secret never
//! travels.

pub mod client;
pub mod config;
pub mod key;
pub mod model;

pub use client::{ApiClient, ApiError};
pub use config::{ConfigError, ResponderConfig};
pub use key::{KeyInput, KeyVerdict, Secret};
pub use model::{
    ConnectionRecord, End, ListenerKind, Observations, ResultSeen, TlsSeen, VerifySeen,
};

use std::path::Path;
use std::time::Duration;

/// What a checker holds of a responder: its configuration, the secret, and the API client.
#[derive(Debug)]
pub struct ResponderLink {
    pub config: ResponderConfig,
    pub secret: Secret,
    pub api: ApiClient,
}

impl ResponderLink {
    /// Reads the responder's configuration file and the secret (`secret_file` or
    /// `MANIFESTO_RESPONDER_SECRET`).
    pub fn load(path: &Path, timeout: Duration) -> Result<Self, ConfigError> {
        let config = ResponderConfig::load(path)?;
        let secret = config.secret()?;
        let api = ApiClient::new(&config, &secret, timeout);
        Ok(ResponderLink {
            config,
            secret,
            api,
        })
    }
}
