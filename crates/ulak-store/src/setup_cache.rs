//! A company's sending setup — its SMS settings, the accounts and routes new messages go
//! through, its sender headers — as the send service reads it for every message, kept for at most
//! [`SETUP_TTL`]: a busy client's every send does not read three tables. A change made through
//! this handle is seen at once (every write to those tables forgets the cache); one made by
//! another node within [`SETUP_TTL`]. The API's own reads of these objects are never cached.
//! An entry is read again before it runs out, by one request at a time ([`Timed`]).

use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ulak_core::model::{CompanyId, ProviderAccount, SenderHeader, SmsSettings};

use crate::timed::{Lookup, Timed};
use crate::{Result, Routing, Store};

/// How long a company's setup is believed without reading it again.
pub const SETUP_TTL: Duration = Duration::from_secs(1);

/// Entries per map at most; past it the map starts afresh.
const MAX_ENTRIES: usize = 10_000;

/// Keeps `v`, read at `read_at`, in `map` unless the cache was cleared since (a write
/// raced the read: the value may be older than the write).
fn keep<K: Eq + Hash, V: Clone>(
    map: &Timed<K, V>,
    k: K,
    v: V,
    read_at: Instant,
    cleared_at: Instant,
) {
    if cleared_at <= read_at {
        map.put(k, v, read_at);
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
            settings: Timed::new(SETUP_TTL, MAX_ENTRIES),
            accounts: Timed::new(SETUP_TTL, MAX_ENTRIES),
            routing: Timed::new(SETUP_TTL, MAX_ENTRIES),
            headers: Timed::new(SETUP_TTL, MAX_ENTRIES),
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
/// began before is not kept, see [`keep`]).
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
        if let Lookup::Hit(v) = c.settings.get(&company.0) {
            return Ok(v);
        }
        let at = Instant::now();
        let v = self.get_sms_settings(company).await?;
        keep(&c.settings, company.0, v.clone(), at, c.cleared_at());
        Ok(v)
    }

    /// [`Store::sending_account`], as the send service reads it (see the module).
    pub async fn sending_account_cached(
        &self,
        company: CompanyId,
    ) -> Result<Option<ProviderAccount>> {
        let c = &self.setup;
        if let Lookup::Hit(v) = c.accounts.get(&company.0) {
            return Ok(v);
        }
        let at = Instant::now();
        let v = self.sending_account(company).await?;
        keep(&c.accounts, company.0, v.clone(), at, c.cleared_at());
        Ok(v)
    }

    /// [`Store::routing`], as the send service reads it (see the module).
    pub async fn sending_routing(&self, company: CompanyId) -> Result<Arc<Routing>> {
        let c = &self.setup;
        if let Lookup::Hit(v) = c.routing.get(&company.0) {
            return Ok(v);
        }
        let at = Instant::now();
        let v = Arc::new(self.routing(company).await?);
        keep(&c.routing, company.0, Arc::clone(&v), at, c.cleared_at());
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
        if let Lookup::Hit(v) = c.headers.get(&key) {
            return Ok(v);
        }
        let at = Instant::now();
        let v = self.find_sender_header(company, name).await?;
        keep(&c.headers, key, v.clone(), at, c.cleared_at());
        Ok(v)
    }
}
