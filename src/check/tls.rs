//! TLS client: rustls with the ring provider, SNI = the XMPP domain.
//!
//! The handshake accepts any certificate so that the report can show what an untrusted
//! server presents and what it offers after TLS; the certificate is judged afterwards by
//! [`crate::check::identity::assess`]. Handshake signatures are still verified, so the server
//! proves it holds the key of the certificate it presented.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::report::TlsInfo;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS handshake timed out after {0:?}")]
    Timeout(Duration),
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    #[error(
        "TLS handshake failed: the server accepts no TLS version or cipher suite of TLS 1.2/1.3 with forward secrecy ({0})"
    )]
    Incompatible(String),
    #[error("invalid server name for SNI: {0}")]
    Name(String),
    #[error("TLS configuration: {0}")]
    Config(String),
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[derive(Debug)]
struct RecordingVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Judged after the handshake (identity::assess), never trusted for anything secret.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Client configurations, one per ALPN need, built once per checker.
#[derive(Clone)]
pub struct TlsClient {
    plain: Arc<ClientConfig>,
    alpn_client: Arc<ClientConfig>,
    alpn_server: Arc<ClientConfig>,
}

impl TlsClient {
    pub fn new() -> Result<Self, TlsError> {
        let build = |alpn: Option<&[u8]>| -> Result<Arc<ClientConfig>, TlsError> {
            let provider = provider();
            let verifier = RecordingVerifier {
                algorithms: provider.signature_verification_algorithms,
            };
            let mut config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| TlsError::Config(e.to_string()))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            config.resumption = rustls::client::Resumption::disabled();
            if let Some(alpn) = alpn {
                config.alpn_protocols = vec![alpn.to_vec()];
            }
            Ok(Arc::new(config))
        };
        Ok(TlsClient {
            plain: build(None)?,
            alpn_client: build(Some(b"xmpp-client"))?,
            alpn_server: build(Some(b"xmpp-server"))?,
        })
    }

    /// Runs the handshake with SNI = `domain`.
    pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: S,
        domain: &str,
        alpn: Option<&'static str>,
        timeout: Duration,
    ) -> Result<(TlsStream<S>, TlsInfo, Vec<CertificateDer<'static>>), TlsError> {
        let config = match alpn {
            Some("xmpp-client") => self.alpn_client.clone(),
            Some("xmpp-server") => self.alpn_server.clone(),
            _ => self.plain.clone(),
        };
        let name = ServerName::try_from(domain.to_owned())
            .map_err(|_| TlsError::Name(domain.to_owned()))?;
        let started = Instant::now();
        let stream = tokio::time::timeout(timeout, TlsConnector::from(config).connect(name, io))
            .await
            .map_err(|_| TlsError::Timeout(timeout))?
            .map_err(classify_io_error)?;
        let handshake_ms = started.elapsed().as_millis() as u64;
        let (_, conn) = stream.get_ref();
        let suite = conn.negotiated_cipher_suite();
        let info = TlsInfo {
            version: conn
                .protocol_version()
                .map(version_name)
                .unwrap_or_else(|| "unknown".into()),
            cipher_suite: suite
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_else(|| "unknown".into()),
            key_exchange: conn
                .negotiated_key_exchange_group()
                .map(|g| format!("{:?}", g.name())),
            // rustls only offers (EC)DHE key exchange: any suite it negotiates is forward-secret.
            forward_secret: suite.is_some(),
            alpn: conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            handshake_ms,
        };
        let chain = conn
            .peer_certificates()
            .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default();
        Ok((stream, info, chain))
    }
}

pub fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".into(),
        rustls::ProtocolVersion::TLSv1_1 => "TLS 1.1".into(),
        rustls::ProtocolVersion::TLSv1_0 => "TLS 1.0".into(),
        rustls::ProtocolVersion::SSLv3 => "SSL 3.0".into(),
        other => format!("{other:?}"),
    }
}

fn classify_io_error(e: std::io::Error) -> TlsError {
    let text = e.to_string();
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        use rustls::AlertDescription as A;
        match inner {
            rustls::Error::AlertReceived(A::ProtocolVersion)
            | rustls::Error::AlertReceived(A::HandshakeFailure)
            | rustls::Error::AlertReceived(A::InsufficientSecurity)
            | rustls::Error::PeerIncompatible(_) => return TlsError::Incompatible(text),
            _ => {}
        }
    }
    TlsError::Handshake(text)
}
