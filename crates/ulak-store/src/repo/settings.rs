//! Per-company SMS settings (country type, TC-ID sending, OTP credentials) and sender headers.

use sqlx::any::AnyRow;
use ulak_core::model::{
    CompanyId, ListQuery, NewSenderHeader, Page, Secret, SenderHeader, SenderHeaderId, SenderName,
    SmsSettings, SmsSettingsPatch,
};

use crate::db::{FetchCommitted, ListSql, col, now_ms, parse};
use crate::secret::SecretBox;
use crate::{Result, Store, StoreError};

/// Columns of [`settings`].
const SETTINGS: &str =
    "id, country_type, tckn_sender, tckn_active, otp_username, otp_password, opt_out_keywords";
/// Columns of [`header`].
const HEADER: &str = "id, company_id, name, is_default, created_at";

/// The associated data of a company's OTP password.
fn otp_aad(company: CompanyId) -> String {
    SecretBox::aad("companies", &company.0.to_string(), "otp_password")
}

/// Maps a companies row to its SMS settings.
fn settings(r: &AnyRow) -> Result<SmsSettings> {
    Ok(SmsSettings {
        company_id: CompanyId(col(r, "id")?),
        country_type: parse(&col::<String>(r, "country_type")?, "companies.country_type")?,
        tckn_sender: col::<Option<String>>(r, "tckn_sender")?.map(SenderName::from_stored),
        tckn_subscription_active: col::<i64>(r, "tckn_active")? != 0,
        otp_username: col(r, "otp_username")?,
        has_otp_password: col::<Option<String>>(r, "otp_password")?.is_some(),
        opt_out_keywords: col::<String>(r, "opt_out_keywords")?
            .split(',')
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// Maps a sender header row.
fn header(r: &AnyRow) -> Result<SenderHeader> {
    Ok(SenderHeader {
        id: SenderHeaderId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        name: SenderName::from_stored(col(r, "name")?),
        is_default: col::<i64>(r, "is_default")? != 0,
        created_at: col(r, "created_at")?,
    })
}

impl Store {
    /// The company's SMS settings.
    #[tracing::instrument(skip(self))]
    pub async fn get_sms_settings(&self, company: CompanyId) -> Result<Option<SmsSettings>> {
        let row = sqlx::query(sql!("SELECT {SETTINGS} FROM companies WHERE id = $1"))
            .bind(company.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(settings).transpose()
    }

    /// Changes the SMS settings; a new OTP password is encrypted before it is written.
    #[tracing::instrument(skip(self, patch))]
    pub async fn update_sms_settings(
        &self,
        company: CompanyId,
        patch: SmsSettingsPatch,
    ) -> Result<SmsSettings> {
        let _forget = self.setup_change();
        let otp = match &patch.otp_password {
            Some(Some(p)) => Some(self.secrets.seal(p.expose(), &otp_aad(company))?),
            _ => None,
        };
        let flag = |b: bool| i64::from(b);
        let row = sqlx::query(sql!(
            "UPDATE companies SET \
               country_type = COALESCE($2, country_type), \
               tckn_sender = CASE WHEN $3 = 1 THEN $4 ELSE tckn_sender END, \
               tckn_active = COALESCE($5, tckn_active), \
               otp_username = CASE WHEN $6 = 1 THEN $7 ELSE otp_username END, \
               otp_password = CASE WHEN $8 = 1 THEN $9 ELSE otp_password END, \
               opt_out_keywords = COALESCE($11, opt_out_keywords), \
               updated_at = $10 \
             WHERE id = $1 RETURNING {SETTINGS}"
        ))
        .bind(company.0)
        .bind(patch.country_type.map(|c| c.as_str()))
        .bind(flag(patch.tckn_sender.is_some()))
        .bind(patch.tckn_sender.flatten().map(|s| s.as_str().to_owned()))
        .bind(patch.tckn_subscription_active.map(i64::from))
        .bind(flag(patch.otp_username.is_some()))
        .bind(patch.otp_username.flatten())
        .bind(flag(patch.otp_password.is_some()))
        .bind(otp)
        .bind(now_ms())
        .bind(patch.opt_out_keywords.map(|k| k.join(",")))
        .fetch_committed(&self.pool)
        .await?;
        row.as_ref()
            .map(settings)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// The OTP password in clear, for the sending engine only; `None` if none is set.
    #[tracing::instrument(skip(self))]
    pub async fn decrypt_otp_password(&self, company: CompanyId) -> Result<Option<Secret>> {
        let stored: Option<Option<String>> =
            sqlx::query_scalar("SELECT otp_password FROM companies WHERE id = $1")
                .bind(company.0)
                .fetch_optional(&self.pool)
                .await?;
        let Some(stored) = stored else {
            return Err(StoreError::NotFound);
        };
        stored
            .map(|s| {
                let plain = self.secrets.open(&s, &otp_aad(company))?;
                Secret::parse(&plain).map_err(|_| StoreError::Corrupt {
                    what: "companies.otp_password",
                })
            })
            .transpose()
    }

    /// Adds a sender header; when it is the default, the previous default stops being one.
    #[tracing::instrument(skip(self, new))]
    pub async fn create_sender_header(
        &self,
        company: CompanyId,
        new: NewSenderHeader,
    ) -> Result<SenderHeader> {
        let _forget = self.setup_change();
        let mut tx = self.begin_write().await?;
        if new.is_default {
            sqlx::query("UPDATE sender_headers SET is_default = 0 WHERE company_id = $1")
                .bind(company.0)
                .execute(&mut *tx)
                .await?;
        }
        let row = sqlx::query(sql!(
            "INSERT INTO sender_headers (company_id, name, is_default, created_at) \
             SELECT $1, $2, $3, $4 FROM companies WHERE id = $1 RETURNING {HEADER}"
        ))
        .bind(company.0)
        .bind(new.name.as_str())
        .bind(i64::from(new.is_default))
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        header(&row)
    }

    /// Makes a sender header the company's default.
    #[tracing::instrument(skip(self))]
    pub async fn set_default_sender_header(
        &self,
        company: CompanyId,
        id: SenderHeaderId,
    ) -> Result<SenderHeader> {
        let _forget = self.setup_change();
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE sender_headers SET is_default = 0 WHERE company_id = $1 AND id <> $2")
            .bind(company.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(sql!(
            "UPDATE sender_headers SET is_default = 1 WHERE company_id = $1 AND id = $2 \
             RETURNING {HEADER}"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        header(&row)
    }

    /// The company's default sender header, if one is set.
    #[tracing::instrument(skip(self))]
    pub async fn default_sender_header(&self, company: CompanyId) -> Result<Option<SenderHeader>> {
        let row = sqlx::query(sql!(
            "SELECT {HEADER} FROM sender_headers WHERE company_id = $1 AND is_default = 1"
        ))
        .bind(company.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(header).transpose()
    }

    /// Deletes a sender header.
    #[tracing::instrument(skip(self))]
    pub async fn delete_sender_header(&self, company: CompanyId, id: SenderHeaderId) -> Result<()> {
        let _forget = self.setup_change();
        let r = sqlx::query("DELETE FROM sender_headers WHERE company_id = $1 AND id = $2")
            .bind(company.0)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Lists sender headers.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_sender_headers(
        &self,
        company: CompanyId,
        q: &ListQuery,
    ) -> Result<Page<SenderHeader>> {
        let sql = ListSql {
            select: format!("SELECT {HEADER} FROM sender_headers"),
            company: Some(company.0),
            filters: Vec::new(),
        };
        self.list_page(sql, q, header, |h| h.id.0).await
    }
}

impl Store {
    /// The company's sender header called `name`, or its default one when `name` is `None`.
    #[tracing::instrument(skip(self))]
    pub async fn find_sender_header(
        &self,
        company: CompanyId,
        name: Option<&str>,
    ) -> Result<Option<SenderHeader>> {
        let row = match name {
            Some(n) => {
                sqlx::query(sql!(
                    "SELECT {HEADER} FROM sender_headers WHERE company_id = $1 AND name = $2"
                ))
                .bind(company.0)
                .bind(n.trim())
                .fetch_optional(&self.pool)
                .await?
            }
            None => return self.default_sender_header(company).await,
        };
        row.as_ref().map(header).transpose()
    }
}
