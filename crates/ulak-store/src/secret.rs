//! Encryption at rest for operator passwords and other secrets the sending engine must read
//! back in clear (so they cannot be hashed).

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Format version prefix; a new key or algorithm gets `v2:` so old values stay readable.
const PREFIX: &str = "v1:";
/// AES-GCM nonce length (96 bits).
const NONCE_LEN: usize = 12;

/// Why a secret could not be encrypted or decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Not `v1:` + base64, or too short.
    #[error("stored secret is malformed")]
    Malformed,
    /// Wrong key, tampered value, or a value moved to another row or column (AAD mismatch).
    #[error("stored secret cannot be decrypted (wrong key or tampered)")]
    Decrypt,
    /// A configured key is not 32 bytes of hex or base64.
    #[error("the secret key must be 32 bytes: 64 hex digits or base64")]
    BadKey,
    /// The cipher refused to encrypt.
    #[error("encryption failed")]
    Encrypt,
}

/// AES-256-GCM with a random 96-bit nonce per value, stored as `v1:` + base64(nonce ‖
/// ciphertext+tag). The associated data names the table, row and column, so a ciphertext
/// copied to another row or column does not decrypt.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    /// Key of [`SecretBox::keyed_digest`], derived from the same key (never the key itself).
    digest_key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    /// A box with the given 32-byte key.
    pub fn new(key: [u8; 32]) -> Self {
        use sha2::Digest;
        let mut derive = sha2::Sha256::new();
        derive.update(b"ulak keyed digest\0");
        derive.update(key);
        Self {
            cipher: Aes256Gcm::new(&key.into()),
            digest_key: derive.finalize().into(),
        }
    }

    /// A digest of `text` under this box's key (SHA-256 of a derived key and the text), hex:
    /// equal texts give equal digests, but without the key a short text such as an IP address
    /// cannot be found by trying every value.
    pub fn keyed_digest(&self, text: &str) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(self.digest_key);
        h.update(text.as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads a 32-byte key from configuration text: 64 hex digits or standard base64.
    pub fn parse_key(text: &str) -> Result<[u8; 32], SecretError> {
        let t = text.trim();
        let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| SecretError::BadKey)?
        } else {
            STANDARD.decode(t).map_err(|_| SecretError::BadKey)?
        };
        bytes.try_into().map_err(|_| SecretError::BadKey)
    }

    /// The associated data for a table, row identity and column.
    pub fn aad(table: &str, row: &str, column: &str) -> String {
        format!("ulak:{table}:{row}:{column}")
    }

    /// Encrypts `plain` bound to `aad`.
    pub fn seal(&self, plain: &str, aad: &str) -> Result<String, SecretError> {
        let nonce = Nonce::generate();
        let ct = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Encrypt)?;
        let mut raw = Vec::with_capacity(NONCE_LEN + ct.len());
        raw.extend_from_slice(nonce.as_slice());
        raw.extend_from_slice(&ct);
        Ok(format!("{PREFIX}{}", STANDARD.encode(raw)))
    }

    /// Decrypts a value made by [`SecretBox::seal`] with the same `aad`.
    pub fn open(&self, stored: &str, aad: &str) -> Result<String, SecretError> {
        let b64 = stored.strip_prefix(PREFIX).ok_or(SecretError::Malformed)?;
        let raw = STANDARD.decode(b64).map_err(|_| SecretError::Malformed)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(SecretError::Malformed);
        }
        let (n, ct) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(n).map_err(|_| SecretError::Malformed)?;
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| SecretError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn keyed_digests_depend_on_the_key() {
        let (a, b) = (SecretBox::new([1; 32]), SecretBox::new([2; 32]));
        let d = a.keyed_digest("127.0.0.1");
        assert_eq!(d, a.keyed_digest("127.0.0.1"));
        assert_eq!(d.len(), 64);
        assert_ne!(d, a.keyed_digest("127.0.0.2"));
        assert_ne!(
            d,
            b.keyed_digest("127.0.0.1"),
            "another key, another digest"
        );
        use sha2::Digest;
        let plain: String = sha2::Sha256::digest(b"127.0.0.1")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_ne!(d, plain, "not a plain hash anyone can recompute");
    }

    #[test]
    fn round_trip_and_aad_binding() {
        let b = SecretBox::new([7; 32]);
        let s = b.seal("gizli-şifre", "a").unwrap();
        assert!(s.starts_with("v1:"));
        assert!(!s.contains("gizli"));
        assert_eq!(b.open(&s, "a").unwrap(), "gizli-şifre");
        assert_eq!(b.open(&s, "b"), Err(SecretError::Decrypt));
        assert_ne!(b.seal("x", "a").unwrap(), b.seal("x", "a").unwrap());
        assert_eq!(
            SecretBox::new([8; 32]).open(&s, "a"),
            Err(SecretError::Decrypt)
        );
        assert_eq!(b.open("v1:!!", "a"), Err(SecretError::Malformed));
    }

    #[test]
    fn parses_configured_keys() {
        let hex = "07".repeat(32);
        assert_eq!(SecretBox::parse_key(&hex).unwrap(), [7; 32]);
        assert_eq!(
            SecretBox::parse_key(&STANDARD.encode([9u8; 32])).unwrap(),
            [9; 32]
        );
        assert_eq!(SecretBox::parse_key("abc"), Err(SecretError::BadKey));
        assert_eq!(
            SecretBox::parse_key(&STANDARD.encode([1u8; 16])),
            Err(SecretError::BadKey)
        );
    }
}
