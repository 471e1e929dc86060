//! Dialback keys a checker mints and the responder verifies (XEP-0220 §3.3, in the manner of
//! XEP-0185): an HMAC-SHA256, under a key derived from the shared secret, over the receiving
//! server, the originating server, the stream id, the time of minting and a random nonce. The
//! key carries the time and the nonce in the clear so that the responder needs no state to
//! verify it; the nonce names the key in the observations, and the responder refuses a nonce
//! it has seen before (replay) and a key older than its lifetime.
//!
//! Format: `v1-{unix seconds, hex}-{nonce, 16 hex}-{mac, 64 hex}`: only `[0-9a-f-]`, safe in
//! any XML text.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use ring::hmac;

/// The shared secret, kept only as the HMAC keys derived from it.
#[derive(Clone)]
pub struct Secret {
    dialback: hmac::Key,
    api: hmac::Key,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What a key is bound to.
#[derive(Debug, Clone, Copy)]
pub struct KeyInput<'a> {
    /// The target: the server that received our `<db:result/>` (the `to` of our stream; the
    /// `from` of its `<db:verify/>`).
    pub receiver: &'a str,
    /// The probe domain we claimed to be (`domain` or `plain_domain`).
    pub sender: &'a str,
    /// The id the target gave our stream.
    pub stream_id: &'a str,
}

/// What the responder concludes about a key in a `<db:verify/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyVerdict {
    Valid {
        nonce: String,
    },
    /// Not ours, or bound to another receiver, sender or stream.
    Forged,
    Expired {
        nonce: String,
    },
    /// Not in the key format at all.
    Malformed,
}

const PREFIX: &str = "v1";

impl Secret {
    /// At least 16 bytes of secret text (any encoding; it is hashed).
    pub fn new(text: &str) -> Result<Self, String> {
        if text.len() < 16 {
            return Err("the secret must be at least 16 characters long".into());
        }
        let derive = |label: &str| {
            let root = hmac::Key::new(hmac::HMAC_SHA256, text.as_bytes());
            hmac::Key::new(
                hmac::HMAC_SHA256,
                hmac::sign(&root, label.as_bytes()).as_ref(),
            )
        };
        Ok(Secret {
            dialback: derive("xmpp-manifesto dialback v1"),
            api: derive("xmpp-manifesto api v1"),
        })
    }

    /// A fresh key and its nonce.
    pub fn mint(&self, input: KeyInput<'_>) -> (String, String) {
        self.mint_at(input, SystemTime::now())
    }

    pub fn mint_at(&self, input: KeyInput<'_>, now: SystemTime) -> (String, String) {
        let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let nonce = hex::encode(rand::rng().random::<[u8; 8]>());
        let time = format!("{secs:x}");
        let mac = hex::encode(self.mac(input, &time, &nonce));
        (format!("{PREFIX}-{time}-{nonce}-{mac}"), nonce)
    }

    fn mac(&self, input: KeyInput<'_>, time: &str, nonce: &str) -> hmac::Tag {
        let message = [input.receiver, input.sender, input.stream_id, time, nonce].join("\0");
        hmac::sign(&self.dialback, message.as_bytes())
    }

    /// Whether `key` was minted with this secret for `input`, no longer ago than `lifetime`
    /// (and not more than a minute in the future: clocks differ). Replays are the caller's to
    /// refuse, by nonce.
    pub fn verify(
        &self,
        key: &str,
        input: KeyInput<'_>,
        lifetime: Duration,
        now: SystemTime,
    ) -> KeyVerdict {
        let mut parts = key.trim().split('-');
        let (Some(PREFIX), Some(time), Some(nonce), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return KeyVerdict::Malformed;
        };
        let (Ok(secs), Ok(mac)) = (u64::from_str_radix(time, 16), hex::decode(mac)) else {
            return KeyVerdict::Malformed;
        };
        if nonce.len() != 16 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) || time.len() > 16 {
            return KeyVerdict::Malformed;
        }
        let message = [input.receiver, input.sender, input.stream_id, time, nonce].join("\0");
        if hmac::verify(&self.dialback, message.as_bytes(), &mac).is_err() {
            return KeyVerdict::Forged;
        }
        let minted = UNIX_EPOCH + Duration::from_secs(secs);
        let nonce = nonce.to_owned();
        let too_old = now.duration_since(minted).is_ok_and(|age| age > lifetime);
        let too_new = minted
            .duration_since(now)
            .is_ok_and(|ahead| ahead > Duration::from_secs(60));
        if too_old || too_new {
            return KeyVerdict::Expired { nonce };
        }
        KeyVerdict::Valid { nonce }
    }

    /// The bearer token of the responder's API.
    pub fn api_token(&self) -> String {
        hex::encode(hmac::sign(&self.api, b"bearer"))
    }

    /// Whether `token` is the API token, in constant time.
    pub fn api_token_matches(&self, token: &str) -> bool {
        let Ok(bytes) = hex::decode(token.trim()) else {
            return false;
        };
        hmac::verify(&self.api, b"bearer", &bytes).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: KeyInput<'static> = KeyInput {
        receiver: "target.example",
        sender: "probe.example",
        stream_id: "abc123",
    };

    fn secret() -> Secret {
        Secret::new("correct horse battery staple").unwrap()
    }

    #[test]
    fn a_minted_key_verifies_once_bound_to_its_input() {
        let s = secret();
        let now = SystemTime::now();
        let (key, nonce) = s.mint_at(INPUT, now);
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'v')
        );
        let life = Duration::from_secs(120);
        assert_eq!(
            s.verify(&key, INPUT, life, now),
            KeyVerdict::Valid {
                nonce: nonce.clone()
            }
        );
        for other in [
            KeyInput {
                receiver: "other.example",
                ..INPUT
            },
            KeyInput {
                sender: "plain.probe.example",
                ..INPUT
            },
            KeyInput {
                stream_id: "abc124",
                ..INPUT
            },
        ] {
            assert_eq!(s.verify(&key, other, life, now), KeyVerdict::Forged);
        }
        let later = now + Duration::from_secs(121);
        assert_eq!(
            s.verify(&key, INPUT, life, later),
            KeyVerdict::Expired { nonce }
        );
        let other_secret = Secret::new("another secret of enough length").unwrap();
        assert_eq!(
            other_secret.verify(&key, INPUT, life, now),
            KeyVerdict::Forged
        );
    }

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        let s = secret();
        let life = Duration::from_secs(120);
        let now = SystemTime::now();
        for key in [
            "",
            "v1",
            "v1-x-y-z",
            "v1-ffffffffffffffffffff-0011223344556677-00",
            "v2-1-0011223344556677-00",
            "v1-1-0011223344556677-zz-1",
        ] {
            assert!(
                matches!(
                    s.verify(key, INPUT, life, now),
                    KeyVerdict::Malformed | KeyVerdict::Forged
                ),
                "{key}"
            );
        }
    }

    proptest::proptest! {
        /// Whatever a target sends as a key, verifying it never panics and never says valid.
        #[test]
        fn any_key_text_is_refused_without_panic(key in ".{0,200}", id in "[ -~]{0,40}") {
            let input = KeyInput { stream_id: &id, ..INPUT };
            let verdict = secret().verify(&key, input, Duration::from_secs(120), SystemTime::now());
            let valid = matches!(verdict, KeyVerdict::Valid { .. });
            proptest::prop_assert!(!valid, "{:?} accepted", key);
        }
    }

    #[test]
    fn the_api_token_is_derived_not_the_secret() {
        let s = secret();
        let token = s.api_token();
        assert!(!token.contains("horse"));
        assert!(s.api_token_matches(&token));
        assert!(!s.api_token_matches("00"));
        assert!(!s.api_token_matches("not hex"));
    }
}
