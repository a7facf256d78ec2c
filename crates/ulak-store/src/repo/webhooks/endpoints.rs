//! A company's webhook endpoints: creating (with a fresh signing secret, stored encrypted),
//! reading, listing, changing and deleting them, and reading the secret for the signer.

use sqlx::any::AnyRow;
use ulak_core::model::{
    CompanyId, ListQuery, NewWebhookEndpoint, Page, Secret, WebhookEndpoint, WebhookEndpointId,
    WebhookEndpointPatch, WebhookEventType,
};

use super::{event_types, new_secret};
use crate::db::{ListSql, col, now_ms};
use crate::secret::SecretBox;
use crate::{Result, Store, StoreError};

/// Columns of [`endpoint`].
const COLS: &str = "id, company_id, url, description, event_types, enabled, created_at, updated_at";

/// The associated data of an endpoint's secret.
fn aad(company: CompanyId, id: i64) -> String {
    SecretBox::aad(
        "webhook_endpoints",
        &format!("{}:{id}", company.0),
        "secret",
    )
}

/// The stored form of an event type list.
fn event_types_text(types: &[WebhookEventType]) -> String {
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    serde_json::to_string(&names).unwrap_or_else(|_| "[]".to_owned())
}

/// Maps a row (without the secret).
fn endpoint(r: &AnyRow) -> Result<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        id: WebhookEndpointId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        url: col(r, "url")?,
        description: col(r, "description")?,
        event_types: event_types(&col::<String>(r, "event_types")?)?,
        enabled: col::<i64>(r, "enabled")? != 0,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
    })
}

impl Store {
    /// Creates an endpoint with a fresh signing secret (`whsec_` + base64 of 24 random
    /// bytes), stored encrypted. The secret is returned in clear here, once; afterwards only
    /// [`Store::get_webhook_secret`] reads it (for the signer).
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn create_webhook_endpoint(
        &self,
        company: CompanyId,
        new: NewWebhookEndpoint,
    ) -> Result<(WebhookEndpoint, Secret)> {
        let secret = new_secret()?;
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO webhook_endpoints (company_id, url, description, event_types, enabled, \
             created_at, updated_at) SELECT $1, $2, $3, $4, $5, $6, $6 FROM companies \
             WHERE id = $1 RETURNING id",
        )
        .bind(company.0)
        .bind(&new.url)
        .bind(&new.description)
        .bind(event_types_text(&new.event_types))
        .bind(i64::from(new.enabled))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let id = id.ok_or(StoreError::NotFound)?;
        let sealed = self.secrets.seal(&secret, &aad(company, id))?;
        sqlx::query("UPDATE webhook_endpoints SET secret = $2 WHERE id = $1")
            .bind(id)
            .bind(sealed)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let e = self
            .get_webhook_endpoint(company, WebhookEndpointId(id))
            .await?
            .ok_or(StoreError::NotFound)?;
        let secret = Secret::parse(&secret).map_err(|_| StoreError::Corrupt {
            what: "webhook_endpoints.secret",
        })?;
        Ok((e, secret))
    }

    /// An endpoint by id.
    #[tracing::instrument(skip(self))]
    pub async fn get_webhook_endpoint(
        &self,
        company: CompanyId,
        id: WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>> {
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM webhook_endpoints WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(endpoint).transpose()
    }

    /// Lists the company's endpoints.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_webhook_endpoints(
        &self,
        company: CompanyId,
        q: &ListQuery,
    ) -> Result<Page<WebhookEndpoint>> {
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM webhook_endpoints"),
            company: Some(company.0),
            filters: Vec::new(),
        };
        self.list_page(sql, q, endpoint, |e| e.id.0).await
    }

    /// Changes an endpoint's URL, description, event types or enabled flag.
    #[tracing::instrument(skip(self, patch))]
    pub async fn update_webhook_endpoint(
        &self,
        company: CompanyId,
        id: WebhookEndpointId,
        patch: WebhookEndpointPatch,
    ) -> Result<WebhookEndpoint> {
        let (set_description, description) = match patch.description {
            None => (0i64, None),
            Some(d) => (1, d),
        };
        let row = sqlx::query(sql!(
            "UPDATE webhook_endpoints SET url = COALESCE($3, url), \
             description = CASE WHEN $4 = 1 THEN $5 ELSE description END, \
             event_types = COALESCE($6, event_types), enabled = COALESCE($7, enabled), \
             updated_at = $8 WHERE company_id = $1 AND id = $2 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(id.0)
        .bind(patch.url)
        .bind(set_description)
        .bind(description)
        .bind(patch.event_types.as_deref().map(event_types_text))
        .bind(patch.enabled.map(i64::from))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(endpoint)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Deletes an endpoint with its deliveries.
    #[tracing::instrument(skip(self))]
    pub async fn delete_webhook_endpoint(
        &self,
        company: CompanyId,
        id: WebhookEndpointId,
    ) -> Result<()> {
        let r = sqlx::query("DELETE FROM webhook_endpoints WHERE company_id = $1 AND id = $2")
            .bind(company.0)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The endpoint's signing secret in clear — for the signer only, never for an API
    /// answer.
    #[tracing::instrument(skip(self))]
    pub async fn get_webhook_secret(
        &self,
        company: CompanyId,
        id: WebhookEndpointId,
    ) -> Result<Secret> {
        let stored: Option<Option<String>> = sqlx::query_scalar(
            "SELECT secret FROM webhook_endpoints WHERE company_id = $1 AND id = $2",
        )
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        let stored = stored.flatten().ok_or(StoreError::NotFound)?;
        let plain = self.secrets.open(&stored, &aad(company, id.0))?;
        Secret::parse(&plain).map_err(|_| StoreError::Corrupt {
            what: "webhook_endpoints.secret",
        })
    }
}
