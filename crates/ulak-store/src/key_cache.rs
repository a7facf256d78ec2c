//! Recently verified API keys, so a busy client's every request does not read `api_keys`:
//! an entry serves for at most [`KEY_TTL`], so a key revoked anywhere (another node, another
//! process) stops working within that time; one revoked through this handle stops at once.
//! Only keys that verified are kept (a wrong key is the rate limiter's business), under the
//! hash of the key, never the key itself, and at most [`MAX_KEYS`] of them.
//!
//! An entry is read again before it runs out, by one request at a time ([`Timed`]).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ulak_core::model::{ApiKeyAuth, ApiKeyId};

use crate::timed::{Lookup, Timed};

/// How long a verified key is believed without asking the database again.
pub const KEY_TTL: Duration = Duration::from_secs(1);

/// Most keys remembered; past it the cache starts afresh (each key costs one read then).
const MAX_KEYS: usize = 10_000;

/// How long a key that verified is known as a good one: an address throttled for guessing
/// still gets through with a known key ([`KeyCache::known`]).
pub const KNOWN_TTL: Duration = Duration::from_secs(24 * 3600);

/// A key's last use is written at most this often by one process.
pub(crate) const LAST_USE_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(crate) struct KeyCache {
    keys: Timed<String, ApiKeyAuth>,
    /// Hashes of keys that verified within [`KNOWN_TTL`]: which key, when.
    known: Mutex<HashMap<String, (ApiKeyId, Instant)>>,
    /// When this process last wrote each key's last use.
    last_use: Mutex<HashMap<ApiKeyId, Instant>>,
}

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache {
            keys: Timed::new(KEY_TTL, MAX_KEYS),
            known: Mutex::default(),
            last_use: Mutex::default(),
        }
    }
}

impl KeyCache {
    /// The key with this hash: believed if it verified less than [`KEY_TTL`] ago, but past
    /// half of that one caller at a time is told to read it again.
    pub(crate) fn get(&self, hash: &str) -> Lookup<ApiKeyAuth> {
        self.keys.get(hash)
    }

    /// The key with this hash if still believed now ([`Timed::peek`]).
    pub(crate) fn peek(&self, hash: &str) -> Option<ApiKeyAuth> {
        self.keys.peek(hash)
    }

    /// The generation to read a key under ([`Timed::generation`]).
    pub(crate) fn generation(&self) -> u64 {
        self.keys.generation()
    }

    /// Whether this process is to write key `id`'s last use now: not if it did in the last
    /// [`LAST_USE_EVERY`] (one write per key and minute, however many requests).
    pub(crate) fn last_use_due(&self, id: ApiKeyId) -> bool {
        let mut m = self.last_use.lock().unwrap_or_else(PoisonError::into_inner);
        if m.get(&id).is_some_and(|t| t.elapsed() < LAST_USE_EVERY) {
            return false;
        }
        if m.len() >= MAX_KEYS {
            m.retain(|_, t| t.elapsed() < LAST_USE_EVERY);
        }
        m.insert(id, Instant::now());
        true
    }

    /// Remembers a key that the database said works at `read_at`, under `generation` (not
    /// if it was revoked through this handle meanwhile).
    pub(crate) fn put(&self, hash: String, auth: ApiKeyAuth, read_at: Instant, generation: u64) {
        // `known` is locked first here and wherever both change (a forget cannot fall
        // between the two).
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.keys.put(hash.clone(), auth, read_at, generation) {
            return;
        }
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
        known.insert(hash, (auth.key_id, Instant::now()));
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
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        self.keys.retain(|auth| auth.key_id != id);
        known.retain(|_, (key, _)| *key != id);
    }

    /// Forgets the key with this hash (it no longer verifies: revoked on another node).
    pub(crate) fn unknown(&self, hash: &str) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        self.keys.remove(hash);
        known.remove(hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulak_core::model::{CompanyId, Role};

    fn auth() -> ApiKeyAuth {
        ApiKeyAuth {
            key_id: ApiKeyId(7),
            company_id: CompanyId(1),
            role: Role::Operator,
            system_admin: false,
        }
    }

    #[test]
    fn a_key_gone_from_the_database_or_revoked_here_is_dropped_at_once() {
        let c = KeyCache::default();
        c.put("h".into(), auth(), Instant::now(), c.generation());
        c.put("g".into(), auth(), Instant::now(), c.generation());
        assert_eq!(c.get("h"), Lookup::Hit(auth()));
        c.unknown("h");
        assert_eq!(c.get("h"), Lookup::Miss);
        assert!(!c.known("h"));
        assert!(c.known("g"));
        c.forget(ApiKeyId(7));
        assert_eq!(c.get("g"), Lookup::Miss);
        assert!(!c.known("g"));
    }

    #[test]
    fn a_key_s_last_use_is_due_once_a_minute() {
        let c = KeyCache::default();
        assert!(c.last_use_due(ApiKeyId(1)));
        assert!(!c.last_use_due(ApiKeyId(1)));
        assert!(c.last_use_due(ApiKeyId(2)));
    }

    #[test]
    fn a_key_read_before_its_revocation_here_is_neither_kept_nor_known() {
        let c = KeyCache::default();
        let read_under = c.generation();
        c.forget(ApiKeyId(7));
        c.put("h".into(), auth(), Instant::now(), read_under);
        assert_eq!(c.get("h"), Lookup::Miss);
        assert_eq!(c.peek("h"), None);
        assert!(!c.known("h"));
    }
}
