//! API tokens (`--tokens FILE`): the bot and the sweep send `Authorization: Bearer TOKEN` and
//! get higher limits (never another SSRF policy).
//!
//! The file holds one token a line as `NAME SHA256-HEX` (the SHA-256 of the token, so that a
//! leaked file does not leak the tokens), `#` starts a comment. A token is random and long, so
//! one unsalted hash is enough; the digests are compared in constant time, against every entry.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The file's size at most: a list of a few tokens, not a data set.
const MAX_FILE: u64 = 64 * 1024;
/// A bearer token's length at most (longer ones are not hashed at all).
const MAX_TOKEN: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error("cannot read the tokens file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("the tokens file {0} is larger than {MAX_FILE} bytes")]
    TooLarge(PathBuf),
    #[error("{0}:{1}: expected `NAME SHA256-HEX` (64 hex digits)")]
    Line(PathBuf, usize),
}

/// The known tokens' names and digests.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<(String, [u8; 32])>,
}

impl Tokens {
    pub fn load(path: &Path) -> Result<Tokens, TokensError> {
        let meta = std::fs::metadata(path).map_err(|e| TokensError::Read(path.into(), e))?;
        if meta.len() > MAX_FILE {
            return Err(TokensError::TooLarge(path.into()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| TokensError::Read(path.into(), e))?;
        Tokens::parse(&text).map_err(|line| TokensError::Line(path.into(), line))
    }

    /// Parses the file's text; `Err(line number)` for a malformed line.
    pub fn parse(text: &str) -> Result<Tokens, usize> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(name), Some(hash), None) = (words.next(), words.next(), words.next()) else {
                return Err(n + 1);
            };
            let digest: [u8; 32] = hex::decode(hash)
                .ok()
                .and_then(|d| d.try_into().ok())
                .ok_or(n + 1)?;
            entries.push((name.to_owned(), digest));
        }
        Ok(Tokens { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The name of the token whose digest `token` has, if any.
    pub fn verify(&self, token: &str) -> Option<&str> {
        if token.is_empty() || token.len() > MAX_TOKEN {
            return None;
        }
        let digest = Sha256::digest(token.as_bytes());
        let mut found = None;
        // Every entry is compared, and each comparison looks at every byte: the time does not
        // tell how close a guess came, nor which entry matched.
        for (name, expected) in &self.entries {
            let diff = expected
                .iter()
                .zip(digest.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff == 0 && found.is_none() {
                found = Some(name.as_str());
            }
        }
        found
    }
}

/// The line of a tokens file for `token` (`manifesto serve --hash-token`).
pub fn hash_line(name: &str, token: &str) -> String {
    format!("{name} {}", hex::encode(Sha256::digest(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_hashed_tokens() {
        let text = format!(
            "# the bot\n{}\n\n{}  # sweep\n",
            hash_line("bot", "s3cret"),
            hash_line("sweep", "other")
        );
        let tokens = Tokens::parse(&text).unwrap();
        assert_eq!(tokens.verify("s3cret"), Some("bot"));
        assert_eq!(tokens.verify("other"), Some("sweep"));
        assert_eq!(tokens.verify("s3cre"), None);
        assert_eq!(tokens.verify(""), None);
        assert_eq!(Tokens::parse("bot 1234\n").unwrap_err(), 1);
        assert_eq!(Tokens::parse("\nbot\n").unwrap_err(), 2);
    }
}
