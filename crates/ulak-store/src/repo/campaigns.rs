//! Campaigns: a bulk send's record and lifecycle (draft → running ⇄ paused → finished, or
//! cancelled). Its messages are ordinary queued messages with `campaign_id`; the queue only
//! hands out those of running campaigns, so pausing or cancelling stops submits at the next
//! claim.

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::any::AnyRow;
use ulak_core::model::{CompanyId, LedgerKind, ListQuery, Page, WebhookEventType};

use super::credit::write_entry;
use super::webhooks::emit_event;
use crate::db::{ListSql, col, now_ms};
use crate::{Result, Store, StoreError};

/// Columns of [`campaign`].
const COLS: &str = "id, company_id, name, state, state_reason, sender, body, audience, \
    scheduled_at, validity_s, recipients, skipped, cost, created_at, started_at, finished_at";

/// A stored campaign.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Campaign {
    /// Id.
    pub id: i64,
    /// Owning company.
    pub company_id: CompanyId,
    /// Name.
    pub name: String,
    /// draft, running, paused, finished or cancelled.
    pub state: String,
    /// Why it is in that state (a pause for credit, say).
    pub state_reason: Option<String>,
    /// Sender header (`None`: the company's default).
    pub sender: Option<String>,
    /// Text, with `{{placeholders}}` filled per recipient.
    pub body: String,
    /// The audience as given (JSON).
    pub audience: String,
    /// Start time (unix ms), if scheduled.
    pub scheduled_at: Option<i64>,
    /// Validity of its messages, seconds.
    pub validity_s: i64,
    /// Messages queued.
    pub recipients: i64,
    /// Recipients left out (opted out, invalid, missing fields).
    pub skipped: i64,
    /// Credits reserved for it.
    pub cost: i64,
    /// Created (unix ms).
    pub created_at: i64,
    /// Started (unix ms).
    pub started_at: Option<i64>,
    /// Finished or cancelled (unix ms).
    pub finished_at: Option<i64>,
}

/// A new campaign (draft).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCampaign {
    /// Name.
    pub name: String,
    /// Sender header.
    pub sender: Option<String>,
    /// Text.
    pub body: String,
    /// Audience JSON.
    pub audience: String,
    /// Start time.
    pub scheduled_at: Option<i64>,
    /// Validity, seconds.
    pub validity_s: i64,
}

fn campaign(r: &AnyRow) -> Result<Campaign> {
    Ok(Campaign {
        id: col(r, "id")?,
        company_id: CompanyId(col(r, "company_id")?),
        name: col(r, "name")?,
        state: col(r, "state")?,
        state_reason: col(r, "state_reason")?,
        sender: col(r, "sender")?,
        body: col(r, "body")?,
        audience: col(r, "audience")?,
        scheduled_at: col(r, "scheduled_at")?,
        validity_s: col(r, "validity_s")?,
        recipients: col(r, "recipients")?,
        skipped: col(r, "skipped")?,
        cost: col(r, "cost")?,
        created_at: col(r, "created_at")?,
        started_at: col(r, "started_at")?,
        finished_at: col(r, "finished_at")?,
    })
}

impl Store {
    /// Creates a draft campaign.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn create_campaign(&self, company: CompanyId, new: NewCampaign) -> Result<Campaign> {
        let row = sqlx::query(sql!(
            "INSERT INTO campaigns (company_id, name, state, sender, body, audience, \
             scheduled_at, validity_s, created_at) \
             SELECT $1, $2, 'draft', $3, $4, $5, $6, $7, $8 FROM companies WHERE id = $1 \
             RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(&new.name)
        .bind(&new.sender)
        .bind(&new.body)
        .bind(&new.audience)
        .bind(new.scheduled_at)
        .bind(new.validity_s)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(campaign)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// A campaign by id.
    #[tracing::instrument(skip(self))]
    pub async fn get_campaign(&self, company: CompanyId, id: i64) -> Result<Option<Campaign>> {
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM campaigns WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(campaign).transpose()
    }

    /// Lists campaigns.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_campaigns(
        &self,
        company: CompanyId,
        q: &ListQuery,
    ) -> Result<Page<Campaign>> {
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM campaigns"),
            company: Some(company.0),
            filters: Vec::new(),
        };
        self.list_page(sql, q, campaign, |c| c.id).await
    }

    /// Its messages per state.
    #[tracing::instrument(skip(self))]
    pub async fn campaign_counts(
        &self,
        company: CompanyId,
        id: i64,
    ) -> Result<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, COUNT(*) FROM messages WHERE company_id = $1 AND campaign_id = $2 \
             GROUP BY state",
        )
        .bind(company.0)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// Moves a campaign from one of `from` to `to` with `reason`; `Conflict` naming the state
    /// when it is in none of them.
    #[tracing::instrument(skip(self))]
    pub async fn set_campaign_state(
        &self,
        company: CompanyId,
        id: i64,
        from: &[&str],
        to: &str,
        reason: Option<&str>,
    ) -> Result<Campaign> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT state FROM campaigns WHERE company_id = $1 AND id = $2")
                .bind(company.0)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(current) = current else {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        };
        if !from.contains(&current.as_str()) {
            tx.rollback().await?;
            return Err(StoreError::Conflict {
                field: format!("state (the campaign is {current})"),
            });
        }
        if to == "cancelled" {
            // Whatever has not been submitted is not: cancelled, its credit released.
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "UPDATE messages SET state = 'cancelled', state_at = $3, final_at = $3, \
                 state_reason = 'the campaign was cancelled' \
                 WHERE company_id = $1 AND campaign_id = $2 AND state IN ('queued', 'scheduled') \
                 RETURNING id, cost",
            )
            .bind(company.0)
            .bind(id)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            let released: i64 = rows.iter().map(|(_, c)| c).sum();
            if released > 0 {
                write_entry(
                    &mut tx,
                    company,
                    LedgerKind::Release,
                    released,
                    Some("campaign cancelled"),
                )
                .await?;
            }
        }
        let row = sqlx::query(sql!(
            "UPDATE campaigns SET state = $3, state_reason = $4, \
             started_at = CASE WHEN $3 = 'running' AND started_at IS NULL THEN $5 ELSE started_at END, \
             finished_at = CASE WHEN $3 IN ('finished', 'cancelled') THEN $5 ELSE finished_at END \
             WHERE company_id = $1 AND id = $2 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(id)
        .bind(to)
        .bind(reason)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        campaign(&row)
    }

    /// Records a started campaign's totals and moves it to `running`.
    #[tracing::instrument(skip(self))]
    pub async fn mark_campaign_started(
        &self,
        company: CompanyId,
        id: i64,
        recipients: i64,
        skipped: i64,
        cost: i64,
    ) -> Result<Campaign> {
        let row = sqlx::query(sql!(
            "UPDATE campaigns SET state = 'running', state_reason = NULL, recipients = $3, \
             skipped = $4, cost = $5, started_at = $6 \
             WHERE company_id = $1 AND id = $2 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(id)
        .bind(recipients)
        .bind(skipped)
        .bind(cost)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(campaign)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Stores recipients left out of a campaign as `skipped` messages with their reason
    /// (never silently dropped): (recipient kind, address, reason).
    #[tracing::instrument(skip_all, fields(company = company.0, skipped = skipped.len()))]
    pub async fn record_skipped(
        &self,
        company: CompanyId,
        campaign: i64,
        sender: &str,
        skipped: &[(String, String, String)],
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        for chunk in skipped.chunks(200) {
            let mut text = String::from(
                "INSERT INTO messages (company_id, campaign_id, recipient_kind, recipient, sender, \
                 body, encoding, segments, cost, state, state_reason, state_at, attempts, \
                 next_attempt_at, valid_until, created_at, final_at) VALUES ",
            );
            for k in 0..chunk.len() {
                let b = k * 3 + 5;
                if k > 0 {
                    text.push(',');
                }
                text.push_str(&format!(
                    "($1, $2, ${}, ${}, $3, '', '', 0, 0, 'skipped', ${}, $4, 0, $4, $4, $4, $4)",
                    b,
                    b + 1,
                    b + 2
                ));
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(text))
                .bind(company.0)
                .bind(campaign)
                .bind(sender)
                .bind(now);
            for (kind, address, reason) in chunk {
                q = q.bind(kind).bind(address).bind(reason);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Running campaigns with no message left to send or hear about become `finished`
    /// (announced as `campaign.finished`). Returns how many.
    #[tracing::instrument(skip(self))]
    pub async fn finish_done_campaigns(&self) -> Result<u64> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let done: Vec<(i64, i64)> = sqlx::query_as(
            "UPDATE campaigns SET state = 'finished', finished_at = $1 WHERE state = 'running' \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.campaign_id = campaigns.id \
               AND m.state IN ('scheduled', 'queued', 'sending', 'submitted')) \
             RETURNING id, company_id",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for (id, company) in &done {
            let counts: Vec<(String, i64)> = sqlx::query_as(
                "SELECT state, COUNT(*) FROM messages WHERE campaign_id = $1 GROUP BY state",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            let counts: BTreeMap<String, i64> = counts.into_iter().collect();
            emit_event(
                &mut tx,
                CompanyId(*company),
                WebhookEventType::CampaignFinished,
                json!({"id": id, "counts": counts}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done.len() as u64)
    }
}
