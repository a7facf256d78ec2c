//! Recently verified API keys, so a busy client's every request does not read `api_keys`:
//! an entry serves for at most [`KEY_TTL`], so a key revoked anywhere (another node, another
//! process) stops working within that time; one revoked through this handle stops at once.
//! Only keys that verified are kept (a wrong key is the rate limiter's business), under the
//! hash of the key, never the key itself, and at most [`MAX_KEYS`] of them.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ulak_core::model::{ApiKeyAuth, ApiKeyId};

/// How long a verified key is believed without asking the database again.
pub const KEY_TTL: Duration = Duration::from_secs(1);

/// Most keys remembered; past it the cache starts afresh (each key costs one read then).
const MAX_KEYS: usize = 10_000;

/// How long a key that verified is known as a good one: an address throttled for guessing
/// still gets through with a known key ([`KeyCache::known`]).
pub const KNOWN_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    keys: Mutex<HashMap<String, (ApiKeyAuth, Instant)>>,
    /// Hashes of keys that verified within [`KNOWN_TTL`]: which key, when.
    known: Mutex<HashMap<String, (ApiKeyId, Instant)>>,
}

impl KeyCache {
    /// The key with this hash, if it verified less than [`KEY_TTL`] ago.
    pub(crate) fn get(&self, hash: &str) -> Option<ApiKeyAuth> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.get(hash)
            .filter(|(_, at)| at.elapsed() < KEY_TTL)
            .map(|(auth, _)| *auth)
    }

    /// Remembers a key that verified now.
    pub(crate) fn put(&self, hash: String, auth: ApiKeyAuth) {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= MAX_KEYS {
            keys.retain(|_, (_, at)| at.elapsed() < KEY_TTL);
            if keys.len() >= MAX_KEYS {
                keys.clear();
            }
        }
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= MAX_KEYS && !known.contains_key(&hash) {
            known.retain(|_, (_, at)| at.elapsed() < KNOWN_TTL);
            // Still full: the older half goes, so one tenant's many fresh keys cannot wipe
            // out every other client's entry at once.
            if known.len() >= MAX_KEYS {
                let mut ages: Vec<Instant> = known.values().map(|(_, at)| *at).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                known.retain(|_, (_, at)| *at > cut);
            }
        }
        known.insert(hash.clone(), (auth.key_id, Instant::now()));
        keys.insert(hash, (auth, Instant::now()));
    }

    /// Whether the key with this hash verified within [`KNOWN_TTL`]. Only real keys get
    /// here, so a guesser cannot: it says nothing about whether the key still works.
    pub(crate) fn known(&self, hash: &str) -> bool {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known
            .get(hash)
            .is_some_and(|(_, at)| at.elapsed() < KNOWN_TTL)
    }

    /// Forgets key `id` (revoked through this handle).
    pub(crate) fn forget(&self, id: ApiKeyId) {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.retain(|_, (auth, _)| auth.key_id != id);
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.retain(|_, (key, _)| *key != id);
    }

    /// Forgets the key with this hash as a known one (it no longer verifies: revoked on
    /// another node).
    pub(crate) fn unknown(&self, hash: &str) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.remove(hash);
    }
}
