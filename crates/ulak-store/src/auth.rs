//! Password hashing (Argon2id PHC strings) and API key generation and hashing (SHA-256).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::{Result, StoreError};

/// Every key starts with this, so leaked keys are easy to find by secret scanners.
pub(crate) const KEY_PREFIX: &str = "ulak_";
/// Characters of the key kept in clear for display: the prefix plus 6 random characters
/// (36 bits: enough to tell keys apart, far too few to guess the rest).
const DISPLAY_LEN: usize = KEY_PREFIX.len() + 6;

/// Hashes a password with Argon2id default parameters (m=19 MiB, t=2, p=1) off the async
/// runtime: it takes tens of milliseconds on purpose.
pub(crate) async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|_| StoreError::Hash)
    })
    .await
    .map_err(|_| StoreError::Hash)?
}

/// Checks a password against a stored PHC string; any parse failure is "no".
pub(crate) async fn verify_password(password: String, phc: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), phc.as_str())
            .is_ok()
    })
    .await
    .map_err(|_| StoreError::Hash)
}

/// Spends the time of one password check when the login is unknown, so response times do not
/// tell an attacker which login names exist.
pub(crate) async fn verify_dummy(password: String) -> Result<()> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    tokio::task::spawn_blocking(move || {
        let phc = DUMMY.get_or_init(|| {
            Argon2::default()
                .hash_password(b"ulak-dummy-password")
                .map(|h| h.to_string())
                .unwrap_or_default()
        });
        let _ = Argon2::default().verify_password(password.as_bytes(), phc.as_str());
    })
    .await
    .map_err(|_| StoreError::Hash)
}

/// A new random API key (`ulak_` + 43 base64url characters = 256 bits), its display prefix
/// and its hash.
pub(crate) fn new_api_key() -> Result<(String, String, String)> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|_| StoreError::Hash)?;
    let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    let prefix = display_prefix(&key);
    let hash = key_hash(&key);
    Ok((key, prefix, hash))
}

/// The non-secret beginning of a key shown in lists.
pub(crate) fn display_prefix(key: &str) -> String {
    key.chars().take(DISPLAY_LEN).collect()
}

/// Hex SHA-256 of a key. A fast hash is right here (unlike passwords): keys are 256 random
/// bits, so there is nothing to brute-force, and lookups by hash must be cheap per request.
pub(crate) fn key_hash(key: &str) -> String {
    let d = Sha256::digest(key.as_bytes());
    let mut s = String::with_capacity(64);
    for b in d.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
