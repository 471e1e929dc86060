//! The dialback responder (`manifesto responder`): the s2s endpoint of the probe domains, which
//! lets a checker prove that a target refuses (or accepts) a cleartext s2s stream.
//!
//! A checker opens a cleartext s2s stream to a target claiming to be a probe domain and sends
//! `<db:result/>` with a key it minted ([`crate::check::responder::key`]). The target dials back
//! to the probe domain, that is here, and asks with `<db:verify/>` whether the key is genuine
//! (XEP-0220 §2.1.2). The responder answers from the key alone (an HMAC under the shared
//! secret, bound to the target, the probe domain and the stream id, in the manner of
//! XEP-0185), records what the peer did, and serves the records to checkers over an
//! authenticated HTTP API ([`api`]). The `domain` listeners offer STARTTLS (RFC 6120 §5), the
//! `plain_domain` listeners never do: what a target sends there shows whether it federates in
//! cleartext outbound.
//!
//! Threat model: every peer is untrusted, on the s2s listeners and on the API.
//! - A verifier, never a relay: the responder answers dialback and nothing else; a stanza ends
//!   the stream. So it may answer a peer's own `<db:result/>` `valid` (Prosody authenticates
//!   its own outgoing stream before it sends `<db:verify/>`): vouching routes nothing.
//! - A key verifies once (replay set, [`store`]) and only within its lifetime; one bound to
//!   another target, probe domain or stream id is forged.
//! - Bounded memory and time: every read has a timeout and a byte cap, the XML parser has
//!   depth, attribute and size limits, a connection has a lifetime and a number of dialback
//!   elements, the observation log and the replay set have caps, and the source map of the
//!   admission gate is bounded ([`limits`]).
//! - Per-source limits: connections open at once and new connections per minute per source
//!   (IPv4 address or IPv6 /64), and a global cap; refused connections are counted, not
//!   recorded, so a flood cannot push a checker's records out of the log any faster than
//!   admitted connections can.

pub mod api;
pub mod limits;
pub mod server;
pub mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::check::responder::config::{ConfigError, Limits, ResponderConfig, read_capped};
use crate::check::responder::key::Secret;
use crate::check::responder::model::{ListenerKind, Observations};
use crate::responder::limits::Gate;
use crate::responder::store::Store;

/// Live nonces kept at most (see [`store`]).
const MAX_NONCES: usize = 64 * 1024;

/// How long [`Running::shutdown`] waits for open connections to record their end.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ResponderError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the responder configuration {0}")]
    Invalid(String),
    #[error("cannot use the certificate {cert} and key {key}: {reason}")]
    Certificate {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

impl ResponderError {
    /// Whether the operator's configuration is at fault (rather than the system).
    pub fn is_usage(&self) -> bool {
        !matches!(self, ResponderError::Bind(..))
    }
}

pub(crate) use crate::check::responder::model::unix_ms_now;

/// What every listener and connection shares.
pub(crate) struct Shared {
    pub(crate) domain: String,
    pub(crate) plain_domain: String,
    pub(crate) limits: Limits,
    pub(crate) secret: Secret,
    tls: Option<RwLock<Arc<ServerConfig>>>,
    tls_files: Option<(PathBuf, PathBuf)>,
    store: Mutex<Store>,
    pub(crate) gate: Arc<Gate>,
    pub(crate) stop: watch::Receiver<bool>,
}

impl Shared {
    // A poisoned lock means a task panicked while holding it; the log itself stays coherent
    // (every update is one assignment), so keep serving.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn tls_config(&self) -> Option<Arc<ServerConfig>> {
        let holder = self.tls.as_ref()?;
        let guard = holder.read().unwrap_or_else(PoisonError::into_inner);
        Some(Arc::clone(&guard))
    }

    pub(crate) fn domain_of(&self, kind: ListenerKind) -> &str {
        match kind {
            ListenerKind::Tls => &self.domain,
            ListenerKind::Plain => &self.plain_domain,
        }
    }

    pub(crate) fn observations(&self, domain: Option<&str>, since_ms: u64) -> Observations {
        self.store().observations(domain, since_ms, unix_ms_now())
    }
}

/// The dialback responder.
#[derive(Debug)]
pub struct Responder;

/// A started responder: its bound addresses (port 0 in the configuration is resolved here).
pub struct Running {
    pub tls_addrs: Vec<SocketAddr>,
    pub plain_addrs: Vec<SocketAddr>,
    pub api_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("tls_addrs", &self.tls_addrs)
            .field("plain_addrs", &self.plain_addrs)
            .field("api_addr", &self.api_addr)
            .finish_non_exhaustive()
    }
}

impl Responder {
    /// Reads the secret named by `config` and starts (see [`Responder::start_with_secret`]).
    pub async fn start(config: ResponderConfig) -> Result<Running, ResponderError> {
        let secret = config.secret()?;
        Self::start_with_secret(config, secret).await
    }

    /// Binds every listener of `config` (s2s with STARTTLS, s2s without, API) and serves them
    /// until [`Running::shutdown`] (or until the [`Running`] is dropped).
    pub async fn start_with_secret(
        config: ResponderConfig,
        secret: Secret,
    ) -> Result<Running, ResponderError> {
        if config.listen.is_empty() && config.plain_listen.is_empty() {
            return Err(ResponderError::Invalid(
                "has neither listen nor plain_listen".into(),
            ));
        }
        let tls_files = match (&config.cert, &config.key) {
            (Some(cert), Some(key)) => Some((config.resolve(cert), config.resolve(key))),
            (None, None) => None,
            _ => return Err(ResponderError::Invalid("needs both cert and key".into())),
        };
        if tls_files.is_none() && !config.listen.is_empty() {
            return Err(ResponderError::Invalid(
                "needs cert and key for its listen addresses (they offer STARTTLS)".into(),
            ));
        }
        let tls = match &tls_files {
            Some((cert, key)) => Some(RwLock::new(load_tls(cert, key)?)),
            None => None,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let limits = config.limits.clone();
        let shared = Arc::new(Shared {
            domain: config.domain.clone(),
            plain_domain: config.plain_domain.clone(),
            gate: Gate::new(limits.clone()),
            store: Mutex::new(Store::new(
                limits.observations,
                limits.observation_ttl_s.saturating_mul(1000),
                MAX_NONCES,
            )),
            limits,
            secret,
            tls,
            tls_files,
            stop: stop_rx,
        });
        let mut running = Running {
            tls_addrs: Vec::new(),
            plain_addrs: Vec::new(),
            api_addr: None,
            shared: Arc::clone(&shared),
            stop: stop_tx,
            tasks: Vec::new(),
        };
        for (addrs, kind) in [
            (&config.listen, ListenerKind::Tls),
            (&config.plain_listen, ListenerKind::Plain),
        ] {
            for addr in addrs {
                let listener = bind(*addr).await?;
                let local = listener
                    .local_addr()
                    .map_err(|e| ResponderError::Bind(*addr, e))?;
                match kind {
                    ListenerKind::Tls => running.tls_addrs.push(local),
                    ListenerKind::Plain => running.plain_addrs.push(local),
                }
                let task = tokio::spawn(accept_loop(listener, kind, Arc::clone(&shared)));
                running.tasks.push(task);
            }
        }
        if let Some(addr) = config.api_listen {
            let listener = bind(addr).await?;
            running.api_addr = Some(
                listener
                    .local_addr()
                    .map_err(|e| ResponderError::Bind(addr, e))?,
            );
            running
                .tasks
                .push(tokio::spawn(api::serve(listener, Arc::clone(&shared))));
        }
        Ok(running)
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ResponderError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| ResponderError::Bind(addr, e))
}

async fn accept_loop(listener: TcpListener, kind: ListenerKind, shared: Arc<Shared>) {
    let mut stop = shared.stop.clone();
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => match shared.gate.admit(peer.ip(), Instant::now()) {
                Ok(permit) => {
                    tokio::spawn(server::serve(Arc::clone(&shared), kind, tcp, peer, permit));
                }
                // Closed before a byte is read: a refused flood costs a count, not a record.
                Err(refusal) => tracing::debug!("refused a connection from {peer}: {refusal:?}"),
            },
            Err(e) => {
                // Out of descriptors, typically: pause rather than spin.
                tracing::warn!("accept on {kind:?} listener: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads a certificate chain and its private key (PEM) into a TLS server configuration: the
/// ring provider, TLS 1.2 and 1.3, no client certificate asked.
pub(crate) fn load_tls(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, ResponderError> {
    let fail = |reason: String| ResponderError::Certificate {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        reason,
    };
    let chain_pem = read_capped(cert).map_err(&fail)?;
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("certificate: {e}")))?;
    if chain.is_empty() {
        return Err(fail("no certificate in the file".into()));
    }
    let key_pem = read_capped(key).map_err(&fail)?;
    let private = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| fail(format!("private key: {e}")))?;
    let config = ServerConfig::builder_with_provider(crate::check::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| fail(e.to_string()))?;
    Ok(Arc::new(config))
}

impl Running {
    /// The records that concern `domain` (all when `None`) and started at or after `since_ms`.
    pub fn observations(&self, domain: Option<&str>, since_ms: u64) -> Observations {
        self.shared.observations(domain, since_ms)
    }

    /// Connections refused by the limits since the start.
    pub fn refused(&self) -> u64 {
        self.shared.gate.refused()
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.shared.gate.open()
    }

    /// Re-reads the certificate and key files (after a renewal). On error the old ones stay.
    pub fn reload_certificates(&self) -> Result<(), ResponderError> {
        let (Some((cert, key)), Some(holder)) = (&self.shared.tls_files, &self.shared.tls) else {
            return Ok(());
        };
        let config = load_tls(cert, key)?;
        *holder.write().unwrap_or_else(PoisonError::into_inner) = config;
        Ok(())
    }

    /// Stops accepting, ends every connection (recorded as `shutdown`) and the API.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while self.shared.gate.open() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
