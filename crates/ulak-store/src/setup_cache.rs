//! A company's sending setup — its SMS settings, the accounts and routes new messages go
//! through, its sender headers — as the send service reads it for every message, kept for at most
//! [`SETUP_TTL`]: a busy client's every send does not read three tables. A change made through
//! this handle is seen at once (every write to those tables forgets the cache); one made by
//! another node within [`SETUP_TTL`]. The API's own reads of these objects are never cached.
//! An entry is read again before it runs out, by one request at a time ([`Timed`]).

use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ulak_core::model::{CompanyId, ProviderAccount, SenderHeader, SmsSettings};

use crate::timed::{Lookup, Timed};
use crate::{Result, Routing, Store};

/// How long a company's setup is believed without reading it again.
pub const SETUP_TTL: Duration = Duration::from_secs(1);

/// Entries per map at most; past it the map starts afresh.
const MAX_ENTRIES: usize = 10_000;

/// The cached setups of every company.
#[derive(Debug)]
pub(crate) struct SetupCache {
    settings: Timed<i64, Option<SmsSettings>>,
    accounts: Timed<i64, Option<ProviderAccount>>,
    routing: Timed<i64, Arc<Routing>>,
    headers: Timed<(i64, Option<String>), Option<SenderHeader>>,
}

impl Default for SetupCache {
    fn default() -> Self {
        SetupCache {
            settings: Timed::new(SETUP_TTL, MAX_ENTRIES),
            accounts: Timed::new(SETUP_TTL, MAX_ENTRIES),
            routing: Timed::new(SETUP_TTL, MAX_ENTRIES),
            headers: Timed::new(SETUP_TTL, MAX_ENTRIES),
        }
    }
}

impl SetupCache {
    /// Forgets everything (a setup changed through this handle).
    pub(crate) fn clear(&self) {
        self.settings.clear();
        self.accounts.clear();
        self.routing.clear();
        self.headers.clear();
    }
}

/// `map`'s value of `k`, or `read`'s answer, kept unless the map changed meanwhile (a write
/// raced the read: the answer may be older than the write). A failed re-read of a value
/// still within its time falls back on it, as every other request does meanwhile.
async fn cached<K, V>(map: &Timed<K, V>, k: K, read: impl Future<Output = Result<V>>) -> Result<V>
where
    K: Eq + Hash,
    V: Clone,
{
    let refreshing = match map.get(&k) {
        Lookup::Hit(v) => return Ok(v),
        Lookup::Refresh => true,
        Lookup::Miss => false,
    };
    let generation = map.generation();
    let at = Instant::now();
    let v = match read.await {
        Ok(v) => v,
        Err(e) => return map.peek(&k).filter(|_| refreshing).ok_or(e),
    };
    map.put(k, v.clone(), at, generation);
    Ok(v)
}

/// Forgets the cached setups when dropped: held by every write to settings, provider
/// accounts or sender headers, so the cache is cleared once the write is done (a read that
/// began before is not kept, see [`cached`]).
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
        cached(
            &self.setup.settings,
            company.0,
            self.get_sms_settings(company),
        )
        .await
    }

    /// [`Store::sending_account`], as the send service reads it (see the module).
    pub async fn sending_account_cached(
        &self,
        company: CompanyId,
    ) -> Result<Option<ProviderAccount>> {
        cached(
            &self.setup.accounts,
            company.0,
            self.sending_account(company),
        )
        .await
    }

    /// [`Store::routing`], as the send service reads it (see the module).
    pub async fn sending_routing(&self, company: CompanyId) -> Result<Arc<Routing>> {
        let read = async { Ok(Arc::new(self.routing(company).await?)) };
        cached(&self.setup.routing, company.0, read).await
    }

    /// [`Store::find_sender_header`], as the send service reads it (see the module).
    pub async fn sending_header(
        &self,
        company: CompanyId,
        name: Option<&str>,
    ) -> Result<Option<SenderHeader>> {
        let key = (company.0, name.map(str::to_owned));
        cached(
            &self.setup.headers,
            key,
            self.find_sender_header(company, name),
        )
        .await
    }
}
