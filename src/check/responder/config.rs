//! The responder's configuration file (TOML), read by `manifesto responder` and, the same file,
//! by checkers (`--responder FILE`). Checkers need only `domain`, `plain_domain`, `api_url` and
//! the secret; the responder needs the rest too.
//!
//! ```toml
//! domain = "probe.example.org"              # offers STARTTLS (cert, key)
//! plain_domain = "plain.probe.example.org"  # never offers TLS (the outbound test)
//! listen = ["0.0.0.0:5269", "[::]:5269"]    # SRV _xmpp-server._tcp.probe.example.org
//! plain_listen = ["0.0.0.0:5270", "[::]:5270"]
//! cert = "/etc/manifesto/responder/fullchain.pem"
//! key = "/etc/manifesto/responder/privkey.pem"
//! secret_file = "/etc/manifesto/responder/secret"  # or MANIFESTO_RESPONDER_SECRET
//! api_listen = "127.0.0.1:8269"
//! api_url = "https://probe.example.org/responder/"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::check::responder::key::Secret;

/// The environment variable that holds the secret when no `secret_file` is readable (a GitHub
/// Actions secret, for the sweep and same-repository PRs).
pub const SECRET_ENV: &str = "MANIFESTO_RESPONDER_SECRET";

/// The largest configuration or secret file read.
const MAX_FILE: u64 = 64 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponderConfig {
    /// The probe domain that offers STARTTLS.
    pub domain: String,
    /// The probe domain that never offers TLS.
    pub plain_domain: String,
    #[serde(default, deserialize_with = "one_or_many")]
    pub listen: Vec<SocketAddr>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub plain_listen: Vec<SocketAddr>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub secret_file: Option<PathBuf>,
    pub api_listen: Option<SocketAddr>,
    /// Where checkers reach the API (`http://` or `https://`).
    pub api_url: String,
    #[serde(default)]
    pub limits: Limits,
    /// The directory of the file, for relative paths.
    #[serde(skip)]
    pub base: PathBuf,
}

/// The responder's limits; every one has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Connections open at once from one source address.
    pub connections_per_address: usize,
    /// Connections open at once in all.
    pub connections: usize,
    /// New connections per minute from one source address.
    pub connects_per_minute: u32,
    /// How long a key stays valid after it was minted, in seconds.
    pub key_lifetime_s: u64,
    /// Connections kept in the observation log (oldest dropped first).
    pub observations: usize,
    /// How long an observation is kept, in seconds.
    pub observation_ttl_s: u64,
    /// Idle time after which the responder closes a connection, in seconds.
    pub idle_timeout_s: u64,
    /// Bytes one connection may send in all.
    pub max_connection_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections_per_address: 8,
            connections: 512,
            connects_per_minute: 120,
            key_lifetime_s: 120,
            observations: 4096,
            observation_ttl_s: 900,
            idle_timeout_s: 20,
            max_connection_bytes: 256 * 1024,
        }
    }
}

impl Limits {
    pub fn key_lifetime(&self) -> Duration {
        Duration::from_secs(self.key_lifetime_s)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the responder configuration {0}: {1}")]
    Read(PathBuf, String),
    #[error("invalid responder configuration {0}: {1}")]
    Invalid(PathBuf, String),
    #[error(
        "no responder secret: set secret_file in {0} or the environment variable {SECRET_ENV} (hint: `head -c 32 /dev/urandom | base64 > secret`)"
    )]
    NoSecret(PathBuf),
    #[error("cannot read the responder secret {0}: {1}")]
    Secret(PathBuf, String),
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(SocketAddr),
        Many(Vec<SocketAddr>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(a) => vec![a],
        OneOrMany::Many(v) => v,
    })
}

pub(crate) fn read_capped(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    file.take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_FILE {
        return Err(format!("larger than {MAX_FILE} bytes"));
    }
    Ok(text)
}

impl ResponderConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read_capped(path).map_err(|e| ConfigError::Read(path.into(), e))?;
        let mut config = Self::parse(&text).map_err(|e| ConfigError::Invalid(path.into(), e))?;
        config.base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(config)
    }

    /// Parses and checks the file's text (domains normalised, the URL's scheme known).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut config: ResponderConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.domain = crate::domain::normalize(&config.domain)
            .map_err(|e| format!("domain {:?}: {}", config.domain, e.0))?;
        config.plain_domain = crate::domain::normalize(&config.plain_domain)
            .map_err(|e| format!("plain_domain {:?}: {}", config.plain_domain, e.0))?;
        if config.domain == config.plain_domain {
            return Err("domain and plain_domain must differ".into());
        }
        if !(config.api_url.starts_with("http://") || config.api_url.starts_with("https://")) {
            return Err(format!(
                "api_url {:?} must start with http:// or https://",
                config.api_url
            ));
        }
        Ok(config)
    }

    /// A path of the file, relative to the file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    /// The shared secret: `secret_file`, else [`SECRET_ENV`].
    pub fn secret(&self) -> Result<Secret, ConfigError> {
        if let Some(file) = &self.secret_file {
            let path = self.resolve(file);
            match read_capped(&path) {
                Ok(text) => {
                    return Secret::new(text.trim()).map_err(|e| ConfigError::Secret(path, e));
                }
                Err(e) if std::env::var_os(SECRET_ENV).is_none() => {
                    return Err(ConfigError::Secret(path, e));
                }
                Err(_) => {}
            }
        }
        match std::env::var(SECRET_ENV) {
            Ok(value) => Secret::new(value.trim())
                .map_err(|e| ConfigError::Secret(PathBuf::from(format!("${SECRET_ENV}")), e)),
            Err(_) => Err(ConfigError::NoSecret(self.base.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
domain = "Probe.Example.org"
plain_domain = "plain.probe.example.org"
listen = ["127.0.0.1:5269", "[::1]:5269"]
plain_listen = "127.0.0.1:5270"
cert = "cert.pem"
key = "key.pem"
secret_file = "secret"
api_listen = "127.0.0.1:8269"
api_url = "http://127.0.0.1:8269/"
[limits]
connections_per_address = 4
"#;

    #[test]
    fn the_documented_shape_parses() {
        let c = ResponderConfig::parse(EXAMPLE).unwrap();
        assert_eq!(c.domain, "probe.example.org");
        assert_eq!(c.listen.len(), 2);
        assert_eq!(c.plain_listen.len(), 1);
        assert_eq!(c.limits.connections_per_address, 4);
        assert_eq!(c.limits.connections, Limits::default().connections);
    }

    #[test]
    fn mistakes_are_refused() {
        let same = EXAMPLE.replace("plain.probe.example.org", "probe.example.org");
        assert!(ResponderConfig::parse(&same).is_err());
        let typo = format!("{EXAMPLE}\nlisten_typo = 1\n");
        assert!(ResponderConfig::parse(&typo).is_err());
        let url = EXAMPLE.replace("http://127.0.0.1:8269/", "ftp://x/");
        assert!(ResponderConfig::parse(&url).is_err());
    }
}
