//! Operator (provider) accounts. The password is encrypted with the row's identity as
//! associated data and is only readable through [`Store::decrypt_provider_password`].

use sqlx::any::AnyRow;
use ulak_core::model::limits;
use ulak_core::model::{
    CompanyId, HttpSettings, ListQuery, NewProviderAccount, Page, ProviderAccount,
    ProviderAccountId, ProviderFamily, ProviderKind, ProviderSettings, Secret, SmppSettings,
    TonNpi,
};

use crate::db::{FetchCommitted, ListSql, col, now_ms, parse};
use crate::secret::SecretBox;
use crate::{Result, Store, StoreError};

/// Columns of [`account`].
const COLS: &str = "id, company_id, name, kind, host, port, system_id, password, system_type, \
    bind_mode, binds, window_size, rate_per_sec, text_policy, source_ton, source_npi, dest_ton, \
    dest_npi, enabled, created_at, updated_at, base_url, username, token";

/// The sealed columns of an account.
#[derive(Debug, Clone, Copy)]
enum Sealed {
    /// The operator password.
    Password,
    /// The HTTP API token.
    Token,
}

/// The associated data of an account's secret in `column` (`password` or `token`).
fn aad(company: CompanyId, id: i64, column: &str) -> String {
    SecretBox::aad("provider_accounts", &format!("{}:{id}", company.0), column)
}

/// Reads a small integer column.
fn small<T: TryFrom<i64>>(r: &AnyRow, name: &'static str, what: &'static str) -> Result<T> {
    T::try_from(col::<i64>(r, name)?).map_err(|_| StoreError::Corrupt { what })
}

/// Maps a row (without the password and token).
fn account(r: &AnyRow) -> Result<ProviderAccount> {
    const W: &str = "provider_accounts";
    let kind: ProviderKind = parse(&col::<String>(r, "kind")?, "provider_accounts.kind")?;
    let settings = match kind.family() {
        ProviderFamily::Smpp => ProviderSettings::Smpp(smpp_settings(r)?),
        // An account made before HTTP settings existed has none: empty, not a reason to
        // fail every list that holds it (migration 0018 also disabled it).
        ProviderFamily::Http => ProviderSettings::Http(HttpSettings {
            base_url: col::<Option<String>>(r, "base_url")?.unwrap_or_default(),
            username: col::<Option<String>>(r, "username")?.unwrap_or_default(),
        }),
    };
    Ok(ProviderAccount {
        id: ProviderAccountId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        name: col(r, "name")?,
        kind,
        has_password: col::<Option<String>>(r, "password")?.is_some(),
        has_token: col::<Option<String>>(r, "token")?.is_some(),
        rate_per_sec: small(r, "rate_per_sec", W)?,
        text_policy: parse(
            &col::<String>(r, "text_policy")?,
            "provider_accounts.text_policy",
        )?,
        enabled: col::<i64>(r, "enabled")? != 0,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        settings,
    })
}

/// The SMPP columns of a row.
fn smpp_settings(r: &AnyRow) -> Result<SmppSettings> {
    const W: &str = "provider_accounts";
    Ok(SmppSettings {
        host: col(r, "host")?,
        port: small(r, "port", W)?,
        system_id: col(r, "system_id")?,
        system_type: col(r, "system_type")?,
        bind_mode: parse(
            &col::<String>(r, "bind_mode")?,
            "provider_accounts.bind_mode",
        )?,
        binds: small(r, "binds", W)?,
        window: small(r, "window_size", W)?,
        source: TonNpi {
            ton: small(r, "source_ton", W)?,
            npi: small(r, "source_npi", W)?,
        },
        destination: TonNpi {
            ton: small(r, "dest_ton", W)?,
            npi: small(r, "dest_npi", W)?,
        },
    })
}

/// The SMPP columns an account stores: its settings, or empty values for another family.
fn smpp_columns(new: &NewProviderAccount) -> SmppSettings {
    match &new.settings {
        ProviderSettings::Smpp(s) => s.clone(),
        ProviderSettings::Http(_) => SmppSettings {
            host: String::new(),
            port: 0,
            system_id: String::new(),
            system_type: String::new(),
            bind_mode: ulak_core::model::BindMode::Transceiver,
            binds: 0,
            window: 0,
            source: TonNpi { ton: 0, npi: 0 },
            destination: TonNpi { ton: 0, npi: 0 },
        },
    }
}

/// The HTTP columns an account stores (`None` for another family).
fn http_columns(new: &NewProviderAccount) -> (Option<&str>, Option<&str>) {
    match &new.settings {
        ProviderSettings::Http(h) => (Some(&h.base_url), Some(&h.username)),
        ProviderSettings::Smpp(_) => (None, None),
    }
}

impl Store {
    /// Creates a provider account. The row is inserted first so its id can be part of the
    /// password's associated data, then the encrypted password is written — one transaction.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn create_provider_account(
        &self,
        company: CompanyId,
        new: NewProviderAccount,
    ) -> Result<ProviderAccount> {
        let _forget = self.setup_change();
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        let smpp = smpp_columns(&new);
        let (base_url, username) = http_columns(&new);
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO provider_accounts (company_id, name, kind, host, port, system_id, \
             system_type, bind_mode, binds, window_size, rate_per_sec, text_policy, source_ton, \
             source_npi, dest_ton, dest_npi, enabled, created_at, updated_at, base_url, \
             username) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $18, $19, $20 FROM companies WHERE id = $1 RETURNING id",
        )
        .bind(company.0)
        .bind(&new.name)
        .bind(new.kind.as_str())
        .bind(&smpp.host)
        .bind(i64::from(smpp.port))
        .bind(&smpp.system_id)
        .bind(&smpp.system_type)
        .bind(smpp.bind_mode.as_str())
        .bind(i64::from(smpp.binds))
        .bind(i64::from(smpp.window))
        .bind(i64::from(new.rate_per_sec))
        .bind(new.text_policy.as_str())
        .bind(i64::from(smpp.source.ton))
        .bind(i64::from(smpp.source.npi))
        .bind(i64::from(smpp.destination.ton))
        .bind(i64::from(smpp.destination.npi))
        .bind(i64::from(new.enabled))
        .bind(now)
        .bind(base_url)
        .bind(username)
        .fetch_optional(&mut *tx)
        .await?;
        let id = id.ok_or(StoreError::NotFound)?;
        let (password, token) = self.seal_secrets(company, id, &new)?;
        if password.is_some() || token.is_some() {
            sqlx::query("UPDATE provider_accounts SET password = $2, token = $3 WHERE id = $1")
                .bind(id)
                .bind(password)
                .bind(token)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.get_provider_account(company, ProviderAccountId(id))
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The account's password and token, sealed with the row's identity.
    fn seal_secrets(
        &self,
        company: CompanyId,
        id: i64,
        new: &NewProviderAccount,
    ) -> Result<(Option<String>, Option<String>)> {
        let seal = |s: &Option<Secret>, column: &str| {
            s.as_ref()
                .map(|s| self.secrets.seal(s.expose(), &aad(company, id, column)))
                .transpose()
        };
        Ok((seal(&new.password, "password")?, seal(&new.token, "token")?))
    }

    /// Replaces a provider account's settings; a `None` password or token keeps the stored
    /// one (while the account stays of the same family: a token means nothing to SMPP).
    #[tracing::instrument(skip(self, new))]
    pub async fn update_provider_account(
        &self,
        company: CompanyId,
        id: ProviderAccountId,
        new: NewProviderAccount,
    ) -> Result<ProviderAccount> {
        let _forget = self.setup_change();
        let (password, token) = self.seal_secrets(company, id.0, &new)?;
        let smpp = smpp_columns(&new);
        let (base_url, username) = http_columns(&new);
        let row = sqlx::query(sql!(
            "UPDATE provider_accounts SET name = $3, kind = $4, host = $5, port = $6, \
             system_id = $7, system_type = $8, bind_mode = $9, binds = $10, window_size = $11, \
             rate_per_sec = $12, text_policy = $13, source_ton = $14, source_npi = $15, \
             dest_ton = $16, dest_npi = $17, enabled = $18, updated_at = $19, \
             password = COALESCE($20, password), base_url = $21, username = $22, \
             token = CASE WHEN $21 IS NULL THEN NULL ELSE COALESCE($23, token) END \
             WHERE company_id = $1 AND id = $2 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(id.0)
        .bind(&new.name)
        .bind(new.kind.as_str())
        .bind(&smpp.host)
        .bind(i64::from(smpp.port))
        .bind(&smpp.system_id)
        .bind(&smpp.system_type)
        .bind(smpp.bind_mode.as_str())
        .bind(i64::from(smpp.binds))
        .bind(i64::from(smpp.window))
        .bind(i64::from(new.rate_per_sec))
        .bind(new.text_policy.as_str())
        .bind(i64::from(smpp.source.ton))
        .bind(i64::from(smpp.source.npi))
        .bind(i64::from(smpp.destination.ton))
        .bind(i64::from(smpp.destination.npi))
        .bind(i64::from(new.enabled))
        .bind(now_ms())
        .bind(password)
        .bind(base_url)
        .bind(username)
        .bind(token)
        .fetch_committed(&self.pool)
        .await?;
        row.as_ref()
            .map(account)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// A provider account by id.
    #[tracing::instrument(skip(self))]
    pub async fn get_provider_account(
        &self,
        company: CompanyId,
        id: ProviderAccountId,
    ) -> Result<Option<ProviderAccount>> {
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM provider_accounts WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account).transpose()
    }

    /// The operator password in clear — for the sending engine's bind only, never for an API
    /// response. `None` if the account has no password.
    #[tracing::instrument(skip(self))]
    pub async fn decrypt_provider_password(
        &self,
        company: CompanyId,
        id: ProviderAccountId,
    ) -> Result<Option<Secret>> {
        self.decrypt_secret(company, id, Sealed::Password).await
    }

    /// The HTTP API token in clear — for the sending engine only, never for an API
    /// response. `None` if the account has no token.
    #[tracing::instrument(skip(self))]
    pub async fn decrypt_provider_token(
        &self,
        company: CompanyId,
        id: ProviderAccountId,
    ) -> Result<Option<Secret>> {
        self.decrypt_secret(company, id, Sealed::Token).await
    }

    /// Opens the secret in `column` of the account.
    async fn decrypt_secret(
        &self,
        company: CompanyId,
        id: ProviderAccountId,
        column: Sealed,
    ) -> Result<Option<Secret>> {
        let (name, what, max) = match column {
            Sealed::Password => ("password", "provider_accounts.password", limits::SECRET),
            Sealed::Token => ("token", "provider_accounts.token", limits::PROVIDER_TOKEN),
        };
        let stored: Option<Option<String>> = sqlx::query_scalar(sql!(
            "SELECT {name} FROM provider_accounts WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        let stored = stored.ok_or(StoreError::NotFound)?;
        stored
            .map(|s| {
                let plain = self.secrets.open(&s, &aad(company, id.0, name))?;
                Secret::parse_within(&plain, max).map_err(|_| StoreError::Corrupt { what })
            })
            .transpose()
    }

    /// Deletes a provider account.
    #[tracing::instrument(skip(self))]
    pub async fn delete_provider_account(
        &self,
        company: CompanyId,
        id: ProviderAccountId,
    ) -> Result<()> {
        let _forget = self.setup_change();
        let r = sqlx::query("DELETE FROM provider_accounts WHERE company_id = $1 AND id = $2")
            .bind(company.0)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Lists provider accounts.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_provider_accounts(
        &self,
        company: CompanyId,
        q: &ListQuery,
    ) -> Result<Page<ProviderAccount>> {
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM provider_accounts"),
            company: Some(company.0),
            filters: Vec::new(),
        };
        self.list_page(sql, q, account, |a| a.id.0).await
    }
}

impl Store {
    /// Every enabled provider account of every company, for the sending engine.
    #[tracing::instrument(skip(self))]
    pub async fn list_active_provider_accounts(&self) -> Result<Vec<ProviderAccount>> {
        let rows = sqlx::query(sql!(
            "SELECT {COLS} FROM provider_accounts WHERE enabled = 1 ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(account).collect()
    }

    /// Whether provider account `id` is still the one a worker was started for: it exists,
    /// is enabled and was last changed at `updated_at`. A worker asks before each claim, so
    /// after an account is changed, disabled or deleted — and on SQLite, whose ids come back
    /// after the newest row is deleted, replaced by another company's account with the same
    /// id — its old link takes nothing more.
    pub async fn provider_account_unchanged(
        &self,
        id: ProviderAccountId,
        updated_at: i64,
    ) -> Result<bool> {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM provider_accounts WHERE id = $1 AND enabled = 1 AND updated_at = $2",
        )
        .bind(id.0)
        .bind(updated_at)
        .fetch_optional(&self.pool)
        .await?;
        Ok(n.is_some())
    }
}

impl Store {
    /// The account a company's new messages go through: its first enabled one.
    #[tracing::instrument(skip(self))]
    pub async fn sending_account(&self, company: CompanyId) -> Result<Option<ProviderAccount>> {
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM provider_accounts WHERE company_id = $1 AND enabled = 1 \
             ORDER BY id LIMIT 1"
        ))
        .bind(company.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account).transpose()
    }

    /// A company's enabled accounts, oldest first (the first is [`Store::sending_account`]).
    #[tracing::instrument(skip(self))]
    pub async fn enabled_accounts(&self, company: CompanyId) -> Result<Vec<ProviderAccount>> {
        let rows = sqlx::query(sql!(
            "SELECT {COLS} FROM provider_accounts WHERE company_id = $1 AND enabled = 1 \
             ORDER BY id"
        ))
        .bind(company.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(account).collect()
    }

    /// The text policy the company's new messages are sent with, and so counted with: its
    /// sending account's ([`Store::sending_account`]), or without one its country's default
    /// (the policy a new account starts with). `NotFound` for no such company.
    #[tracing::instrument(skip(self))]
    pub async fn sending_text_policy(&self, company: CompanyId) -> Result<ulak_core::TextPolicy> {
        if let Some(a) = self.sending_account(company).await? {
            return Ok(a.text_policy);
        }
        let c = self
            .get_company(company)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(c.country_type.default_text_policy())
    }
}
