//! API keys: only a SHA-256 of the key is stored, with a short prefix for display.

use sqlx::any::AnyRow;
use ulak_core::model::{ApiKey, ApiKeyAuth, ApiKeyId, CompanyId, ListQuery, NewApiKey, Page, Role};

use crate::auth::{KEY_PREFIX, display_prefix, key_hash, new_api_key};
use crate::db::{FetchCommitted, ListSql, col, now_ms, parse};
use crate::key_cache::LAST_USE_EVERY;
use crate::timed::Lookup;
use crate::{Result, Store, StoreError};

/// Columns of [`api_key`] (never the hash).
const COLS: &str =
    "id, company_id, name, prefix, role, system_admin, created_at, last_used_at, revoked_at";

/// `last_used_at` is written at most this often per key ([`LAST_USE_EVERY`]), so
/// authenticating every request does not turn every read into a write.
const LAST_USED_GRANULARITY_MS: i64 = LAST_USE_EVERY.as_secs() as i64 * 1000;

/// Maps a row.
fn api_key(r: &AnyRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        name: col(r, "name")?,
        prefix: col(r, "prefix")?,
        role: parse::<Role>(&col::<String>(r, "role")?, "api_keys.role")?,
        system_admin: col::<i64>(r, "system_admin")? != 0,
        created_at: col(r, "created_at")?,
        last_used_at: col(r, "last_used_at")?,
        revoked_at: col(r, "revoked_at")?,
    })
}

impl Store {
    /// Creates a key; returns its metadata and the key itself, which is shown once and
    /// cannot be read back.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn create_api_key(
        &self,
        company: CompanyId,
        new: NewApiKey,
    ) -> Result<(ApiKey, String)> {
        let (key, prefix, hash) = new_api_key()?;
        let meta = self.insert_api_key(company, &new, &prefix, &hash).await?;
        Ok((meta, key))
    }

    /// Registers a key given from configuration (the bootstrap key) as a system administrator
    /// key of company `default`, unless a key with its hash exists; returns its metadata.
    /// A revoked bootstrap key is put back in force: the configuration says it is the system
    /// administrator's, and a start must not leave the system without one it can reach.
    #[tracing::instrument(skip_all)]
    pub async fn ensure_bootstrap_key(&self, key: &str) -> Result<ApiKey> {
        if !key.starts_with(KEY_PREFIX) || key.len() < KEY_PREFIX.len() + 32 {
            return Err(StoreError::Config(format!(
                "the bootstrap key must start with {KEY_PREFIX} and have at least 32 more characters"
            )));
        }
        let hash = key_hash(key);
        let row = sqlx::query(sql!(
            "UPDATE api_keys SET revoked_at = NULL WHERE key_hash = $1 RETURNING {COLS}"
        ))
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(r) = row {
            return api_key(&r);
        }
        let company = self
            .get_company_by_name(crate::DEFAULT_COMPANY)
            .await?
            .ok_or(StoreError::NotFound)?;
        let new = NewApiKey::new("bootstrap", Role::Admin, true)?;
        self.insert_api_key(company.id, &new, &display_prefix(key), &hash)
            .await
    }

    /// Inserts key metadata (company must exist).
    async fn insert_api_key(
        &self,
        company: CompanyId,
        new: &NewApiKey,
        prefix: &str,
        hash: &str,
    ) -> Result<ApiKey> {
        let row = sqlx::query(sql!(
            "INSERT INTO api_keys (company_id, name, prefix, key_hash, role, system_admin, created_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7 FROM companies WHERE id = $1 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(&new.name)
        .bind(prefix)
        .bind(hash)
        .bind(new.role.as_str())
        .bind(i64::from(new.system_admin))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(api_key)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Whether a presented key verified through this handle within a day: a known good key,
    /// let past the throttle of an address that guesses (it is still verified). Reads
    /// nothing.
    pub fn api_key_known(&self, key: &str) -> bool {
        self.keys.known(&key_hash(key.trim()))
    }

    /// Looks a presented key up by its hash; `None` if unknown or revoked. Records the use.
    /// A key that verified in the last [`crate::KEY_TTL`] is believed without a read (so a
    /// key revoked elsewhere stops within that time; through this handle, at once).
    #[tracing::instrument(skip_all)]
    pub async fn authenticate_api_key(&self, key: &str) -> Result<Option<ApiKeyAuth>> {
        let hash = key_hash(key.trim());
        let refreshing = match self.keys.get(&hash) {
            Lookup::Hit(auth) => return Ok(Some(auth)),
            Lookup::Refresh => true,
            Lookup::Miss => false,
        };
        let generation = self.keys.generation();
        let read_at = std::time::Instant::now();
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await;
        let row = match row {
            Ok(row) => row,
            // A failed re-read of a key still within its time (now, and not revoked here
            // meanwhile): believed, as it is for every other request.
            Err(e) => {
                return self
                    .keys
                    .peek(&hash)
                    .filter(|_| refreshing)
                    .map(Some)
                    .ok_or(e.into());
            }
        };
        let Some(row) = row else {
            self.keys.unknown(&hash);
            return Ok(None);
        };
        let k = api_key(&row)?;
        let now = now_ms();
        if k.last_used_at
            .is_none_or(|t| t < now - LAST_USED_GRANULARITY_MS)
            && self.keys.last_use_due(k.id)
        {
            self.record_last_use(k.id, now);
        }
        let auth = ApiKeyAuth {
            key_id: k.id,
            company_id: k.company_id,
            role: k.role,
            system_admin: k.system_admin,
        };
        self.keys.put(hash, auth, read_at, generation);
        Ok(Some(auth))
    }

    /// Writes key `id`'s last use in a task of its own, in the writers' line: no request
    /// waits for it. (An UPDATE takes SQLite's write lock even when it changes nothing;
    /// through the readers' pool it met the accept path's writer in SQLite's busy handler,
    /// which sleeps in steps of up to 100 ms.) A failure is logged; the next is a minute on.
    fn record_last_use(&self, id: ApiKeyId, now: i64) {
        let writer = self.writer.clone();
        tokio::spawn(async move {
            let r = sqlx::query(
                "UPDATE api_keys SET last_used_at = $2 \
                 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
            )
            .bind(id.0)
            .bind(now)
            .bind(now - LAST_USED_GRANULARITY_MS)
            .execute(&writer)
            .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, key = id.0, "recording an API key's last use failed");
            }
        });
    }

    /// A key's metadata by id.
    #[tracing::instrument(skip(self))]
    pub async fn get_api_key(&self, company: CompanyId, id: ApiKeyId) -> Result<Option<ApiKey>> {
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM api_keys WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(api_key).transpose()
    }

    /// Revokes a key (kept for the audit trail; it no longer authenticates).
    #[tracing::instrument(skip(self))]
    pub async fn revoke_api_key(&self, company: CompanyId, id: ApiKeyId) -> Result<ApiKey> {
        let row = sqlx::query(sql!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE company_id = $1 AND id = $2 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(id.0)
        .bind(now_ms())
        .fetch_committed(&self.pool)
        .await?;
        self.keys.forget(id);
        row.as_ref()
            .map(api_key)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Lists a company's keys (revoked ones included).
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_api_keys(&self, company: CompanyId, q: &ListQuery) -> Result<Page<ApiKey>> {
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM api_keys"),
            company: Some(company.0),
            filters: Vec::new(),
        };
        self.list_page(sql, q, api_key, |k| k.id.0).await
    }
}
