//! A company's sending setup — its SMS settings, the accounts and routes new messages go
//! through, its sender headers — as the send service reads it for every message, kept for at most
//! [`SETUP_TTL`]: a busy client's every send does not read three tables. A change made through
//! this handle is seen at once (every write to those tables forgets the cache); one made by
//! another node within [`SETUP_TTL`]. The API's own reads of these objects are never cached.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ulak_core::model::{CompanyId, ProviderAccount, SenderHeader, SmsSettings};

use crate::{Result, Routing, Store};

/// How long a company's setup is believed without reading it again.
pub const SETUP_TTL: Duration = Duration::from_secs(1);

/// Entries per map at most; past it the map starts afresh.
const MAX_ENTRIES: usize = 10_000;

/// Values of one kind, each with the time it was read.
#[derive(Debug)]
struct Timed<K, V> {
    map: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for Timed<K, V> {
    fn default() -> Self {
        Timed {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Timed<K, V> {
    fn get(&self, k: &K) -> Option<V> {
        let m = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        m.get(k)
            .filter(|(_, at)| at.elapsed() < SETUP_TTL)
            .map(|(v, _)| v.clone())
    }

    /// Keeps `v`, read at `read_at`, unless the cache was cleared since (a write raced the
    /// read: the value may be older than the write).
    fn put(&self, k: K, v: V, read_at: Instant, cleared_at: Instant) {
        if cleared_at > read_at {
            return;
        }
        let mut m = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if m.len() >= MAX_ENTRIES {
            m.clear();
        }
        m.insert(k, (v, read_at));
    }

    fn clear(&self) {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// The cached setups of every company.
#[derive(Debug)]
pub(crate) struct SetupCache {
    settings: Timed<i64, Option<SmsSettings>>,
    accounts: Timed<i64, Option<ProviderAccount>>,
    routing: Timed<i64, Arc<Routing>>,
    headers: Timed<(i64, Option<String>), Option<SenderHeader>>,
    cleared_at: Mutex<Instant>,
}

impl Default for SetupCache {
    fn default() -> Self {
        SetupCache {
            settings: Timed::default(),
            accounts: Timed::default(),
            routing: Timed::default(),
            headers: Timed::default(),
            cleared_at: Mutex::new(Instant::now()),
        }
    }
}

impl SetupCache {
    /// Forgets everything (a setup changed through this handle).
    pub(crate) fn clear(&self) {
        *self
            .cleared_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.settings.clear();
        self.accounts.clear();
        self.routing.clear();
        self.headers.clear();
    }

    fn cleared_at(&self) -> Instant {
        *self
            .cleared_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Forgets the cached setups when dropped: held by every write to settings, provider
/// accounts or sender headers, so the cache is cleared once the write is done (a read that
/// began before is not kept, see [`Timed::put`]).
pub(crate) struct SetupChange<'a>(&'a SetupCache);

impl Drop for SetupChange<'_> {
    fn drop(&mut self) {
        self.0.clear();
    }
}

impl Store {
    /// Marks a write to a company's sending setup (see [`SetupChange`]).
    pub(crate) fn setup_change(&self) -> SetupChange<'_> {
        SetupChange(&self.setup)
    }

    /// [`Store::get_sms_settings`], as the send service reads it (see the module).
    pub async fn sending_settings(&self, company: CompanyId) -> Result<Option<SmsSettings>> {
        let c = &self.setup;
        if let Some(v) = c.settings.get(&company.0) {
            return Ok(v);
        }
        let at = Instant::now();
        let v = self.get_sms_settings(company).await?;
        c.settings.put(company.0, v.clone(), at, c.cleared_at());
        Ok(v)
    }

    /// [`Store::sending_account`], as the send service reads it (see the module).
    pub async fn sending_account_cached(
        &self,
        company: CompanyId,
    ) -> Result<Option<ProviderAccount>> {
        let c = &self.setup;
        if let Some(v) = c.accounts.get(&company.0) {
            return Ok(v);
        }
        let at = Instant::now();
        let v = self.sending_account(company).await?;
        c.accounts.put(company.0, v.clone(), at, c.cleared_at());
        Ok(v)
    }

    /// [`Store::routing`], as the send service reads it (see the module).
    pub async fn sending_routing(&self, company: CompanyId) -> Result<Arc<Routing>> {
        let c = &self.setup;
        if let Some(v) = c.routing.get(&company.0) {
            return Ok(v);
        }
        let at = Instant::now();
        let v = Arc::new(self.routing(company).await?);
        c.routing.put(company.0, Arc::clone(&v), at, c.cleared_at());
        Ok(v)
    }

    /// [`Store::find_sender_header`], as the send service reads it (see the module).
    pub async fn sending_header(
        &self,
        company: CompanyId,
        name: Option<&str>,
    ) -> Result<Option<SenderHeader>> {
        let c = &self.setup;
        let key = (company.0, name.map(str::to_owned));
        if let Some(v) = c.headers.get(&key) {
            return Ok(v);
        }
        let at = Instant::now();
        let v = self.find_sender_header(company, name).await?;
        c.headers.put(key, v.clone(), at, c.cleared_at());
        Ok(v)
    }
}
