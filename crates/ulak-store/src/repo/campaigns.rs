//! Campaigns: a bulk send's record and lifecycle (draft → running ⇄ paused → finished, or
//! cancelled). Its messages are ordinary queued messages with `campaign_id`; the queue only
//! hands out those of running campaigns, so pausing or cancelling stops submits at the next
//! claim.
//!
//! A start is streamed: its queueing is in [`super::queueing`].
//!
//! Locks on PostgreSQL are always taken campaign row first, queueing row second (a chunk takes
//! only the queueing row), so a cancel, a halt or the end never deadlock with a chunk; SQLite's
//! write transactions are serialised anyway.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use ulak_core::model::{
    CampaignAction, CampaignState, CompanyId, LedgerKind, ListQuery, Page, WebhookEventType,
};

use super::credit::write_entry;
use super::queueing::{QUEUEING_ACTIVE, QUEUEING_DONE, QUEUEING_HALTED};
use super::tallies::campaign_counts_sql;
use super::webhooks::emit_event;
use crate::db::{ListSql, col, now_ms};
use crate::{Backend, Result, Store, StoreError};

/// Columns of [`campaign`].
const COLS: &str = "id, company_id, name, state, state_reason, sender, body, audience, \
    scheduled_at, validity_s, recipients, skipped, cost, created_at, started_at, finished_at";

/// [`COLS`] with the audience left empty.
pub(super) const LEAN_COLS: &str = "id, company_id, name, state, state_reason, sender, body, '' AS audience, \
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
    /// Where it is in its life.
    pub state: CampaignState,
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
    /// Made by the web UI's preview step: purged if still a draft a day later
    /// ([`Store::purge_preview_drafts`]).
    pub preview: bool,
}

/// How old a draft made by the preview step may get before [`Store::purge_preview_drafts`]
/// deletes it: far longer than anyone looks at a preview before pressing "Gönder".
pub const PREVIEW_DRAFT_MAX_AGE_MS: i64 = 24 * 3600 * 1000;

pub(super) fn campaign(r: &AnyRow) -> Result<Campaign> {
    Ok(Campaign {
        id: col(r, "id")?,
        company_id: CompanyId(col(r, "company_id")?),
        name: col(r, "name")?,
        state: col::<String>(r, "state")?
            .parse()
            .map_err(|_| StoreError::Corrupt {
                what: "campaigns.state",
            })?,
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
    /// Creates a draft campaign. The answer leaves out the audience (`""`), which the
    /// caller has: echoing a million pasted numbers back through the driver cost several
    /// copies of 15 MB.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn create_campaign(&self, company: CompanyId, new: NewCampaign) -> Result<Campaign> {
        let row = sqlx::query(sql!(
            "INSERT INTO campaigns (company_id, name, state, sender, body, audience, \
             scheduled_at, validity_s, created_at, preview) \
             SELECT $1, $2, 'draft', $3, $4, $5, $6, $7, $8, $9 FROM companies WHERE id = $1 \
             RETURNING {LEAN_COLS}"
        ))
        .bind(company.0)
        .bind(&new.name)
        .bind(&new.sender)
        .bind(&new.body)
        .bind(&new.audience)
        .bind(new.scheduled_at)
        .bind(new.validity_s)
        .bind(now_ms())
        .bind(i64::from(new.preview))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(campaign)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Deletes up to `limit` campaigns the preview step made more than
    /// [`PREVIEW_DRAFT_MAX_AGE_MS`] ago that never started: drafts previewed and then neither
    /// sent nor edited, and drafts cancelled by "Düzenle" or a refusal (each keeps its whole
    /// audience). Returns how many went. Drafts made through the API and anything that started
    /// stay. For a periodic task.
    #[tracing::instrument(skip(self))]
    pub async fn purge_preview_drafts(&self, limit: u32) -> Result<u64> {
        let before = now_ms().saturating_sub(PREVIEW_DRAFT_MAX_AGE_MS);
        // The outer conditions again: a start racing the purge either changes the state
        // first (the row no longer matches, PostgreSQL re-checks it) or finds no draft.
        let r = sqlx::query(
            "DELETE FROM campaigns WHERE preview = 1 AND started_at IS NULL \
             AND state IN ('draft', 'cancelled') AND created_at < $1 \
             AND id IN (SELECT id FROM campaigns WHERE preview = 1 AND started_at IS NULL \
                 AND state IN ('draft', 'cancelled') AND created_at < $1 \
                 ORDER BY created_at LIMIT $2)",
        )
        .bind(before)
        .bind(i64::from(limit))
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected())
    }

    /// Cancels campaign `id` if it is still a draft (a preview given up); `false` when it is
    /// not (gone, or started meanwhile, which must then go on: a plain cancel would stop it).
    #[tracing::instrument(skip(self))]
    pub async fn cancel_draft(&self, company: CompanyId, id: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE campaigns SET state = 'cancelled', finished_at = $3 \
             WHERE company_id = $1 AND id = $2 AND state = 'draft'",
        )
        .bind(company.0)
        .bind(id)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
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

    /// A campaign by id with its `audience` left empty: the audience can be megabytes (a
    /// million pasted numbers), and the engine, which has it already, reads the campaign's
    /// state and totals with every start.
    #[tracing::instrument(skip(self))]
    pub async fn get_campaign_lean(&self, company: CompanyId, id: i64) -> Result<Option<Campaign>> {
        let row = sqlx::query(sql!(
            "SELECT {LEAN_COLS} FROM campaigns WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(campaign).transpose()
    }

    /// Lists campaigns, without their audiences (`""`; [`Store::get_campaign`] has it).
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_campaigns(
        &self,
        company: CompanyId,
        q: &ListQuery,
    ) -> Result<Page<Campaign>> {
        let sql = ListSql {
            select: format!("SELECT {LEAN_COLS} FROM campaigns"),
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
        // The counts the triggers keep (migration 0023): a few rows per quarter hour the
        // campaign's messages were written in, whatever its size.
        let rows: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(campaign_counts_sql()))
            .bind(company.0)
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Applies `action` to a campaign with `reason`, as [`CampaignState::after`] allows;
    /// `Conflict` naming the state when it does not apply there.
    #[tracing::instrument(skip(self))]
    pub async fn set_campaign_state(
        &self,
        company: CompanyId,
        id: i64,
        action: CampaignAction,
        reason: Option<&str>,
    ) -> Result<Campaign> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        // The row locks (PostgreSQL; SQLite's write transaction already serialises) order this
        // after a chunk being written and before the next: a cancel sees every queued chunk.
        let current: Option<String> = sqlx::query_scalar(sql!(
            "SELECT state FROM campaigns WHERE company_id = $1 AND id = $2{}",
            self.row_lock()
        ))
        .bind(company.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = current else {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        };
        let queue: Option<(i64, i64)> = sqlx::query_as(sql!(
            "SELECT queueing, reserve_left FROM campaign_queueing WHERE campaign_id = $1{}",
            self.row_lock()
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let next = current
            .parse::<CampaignState>()
            .ok()
            .and_then(|s| s.after(action));
        let Some(next) = next else {
            tx.rollback().await?;
            return Err(StoreError::WrongState(format!(
                "not possible: the campaign is {current}"
            )));
        };
        let to = next.as_str();
        if next == CampaignState::Cancelled {
            // Whatever has not been submitted is not: cancelled, its credit released, with the
            // reservation of the recipients not queued yet.
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
            let reserve_left = queue.map_or(0, |(_, left)| left);
            let released = rows
                .iter()
                .try_fold(reserve_left, |sum, (_, c)| sum.checked_add(*c))
                .ok_or(StoreError::Corrupt {
                    what: "messages.cost",
                })?;
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
        // Cancelled while its recipients were being queued: its totals become what was queued
        // (a start on a reserved bound has none until then), the rest never will be.
        if next == CampaignState::Cancelled && queue.is_some_and(|(q, _)| q != QUEUEING_DONE) {
            sqlx::query(
                "UPDATE campaigns SET \
                 recipients = (SELECT COUNT(*) FROM messages m WHERE m.company_id = $1 \
                   AND m.campaign_id = $2 AND m.segments > 0), \
                 skipped = (SELECT COUNT(*) FROM messages m WHERE m.company_id = $1 \
                   AND m.campaign_id = $2 AND m.segments = 0), \
                 cost = (SELECT CAST(COALESCE(SUM(m.cost), 0) AS BIGINT) FROM messages m \
                   WHERE m.company_id = $1 AND m.campaign_id = $2 AND m.segments > 0) \
                 WHERE company_id = $1 AND id = $2",
            )
            .bind(company.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        // A cancel ends the queueing (its reservation was released above); a resume of a
        // campaign whose queueing stopped lets it go on, stamped as being worked on now so the
        // caller continues it before another node would take it over.
        if next == CampaignState::Cancelled || (next == CampaignState::Running && queue.is_some()) {
            sqlx::query(sql!(
                "UPDATE campaign_queueing SET \
                 queueing = CASE WHEN $2 = 'cancelled' THEN {QUEUEING_DONE} \
                   WHEN queueing = {QUEUEING_HALTED} THEN {QUEUEING_ACTIVE} ELSE queueing END, \
                 queue_at = CASE WHEN $2 = 'running' AND queueing = {QUEUEING_HALTED} THEN $3 \
                   ELSE queue_at END, \
                 queue_owner = CASE WHEN $2 = 'running' AND queueing = {QUEUEING_HALTED} THEN $4 \
                   ELSE queue_owner END, \
                 reserve_left = CASE WHEN $2 = 'cancelled' THEN 0 ELSE reserve_left END \
                 WHERE campaign_id = $1"
            ))
            .bind(id)
            .bind(to)
            .bind(now)
            .bind(self.node().map(str::to_owned))
            .execute(&mut *tx)
            .await?;
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

    /// Calls `f` with the (recipient kind, address) of each message of the campaign, skipped
    /// ones left out, read as one stream: one pass over the campaign's index however many
    /// there are, never all in memory.
    #[tracing::instrument(skip(self, f))]
    pub async fn for_each_campaign_recipient(
        &self,
        company: CompanyId,
        id: i64,
        mut f: impl FnMut(&str, &str),
    ) -> Result<()> {
        let mut rows = sqlx::query_as::<_, (String, String)>(
            "SELECT recipient_kind, recipient FROM messages WHERE company_id = $1 \
             AND campaign_id = $2 AND segments > 0",
        )
        .bind(company.0)
        .bind(id)
        .fetch(&self.pool);
        while let Some((kind, address)) = rows.try_next().await? {
            f(&kind, &address);
        }
        Ok(())
    }

    /// ` FOR UPDATE` on PostgreSQL (a read that takes the row's lock); nothing on SQLite,
    /// whose write transaction already excludes other writers.
    pub(super) fn row_lock(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// Takes the campaign row's lock on PostgreSQL (first, before its queueing row's).
    pub(super) async fn lock_campaign(
        &self,
        tx: &mut Transaction<'static, Any>,
        company: CompanyId,
        id: i64,
    ) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT id FROM campaigns WHERE company_id = $1 AND id = $2 FOR UPDATE")
                .bind(company.0)
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        }
        Ok(())
    }
    /// Running campaigns with every recipient queued and no message left to send or hear about
    /// become `finished` (announced as `campaign.finished`). Returns how many.
    #[tracing::instrument(skip(self))]
    pub async fn finish_done_campaigns(&self) -> Result<u64> {
        let now = now_ms();
        // Called every second: a read decides first, so the writer is taken only when a
        // campaign has ended.
        let any: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM campaigns WHERE state = 'running' \
             AND NOT EXISTS (SELECT 1 FROM campaign_queueing q WHERE q.campaign_id = campaigns.id \
               AND q.queueing <> 0) \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.campaign_id = campaigns.id \
               AND m.state IN ('scheduled', 'queued', 'sending', 'submitted')) LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        if any.is_none() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let done: Vec<(i64, i64)> = sqlx::query_as(
            "UPDATE campaigns SET state = 'finished', finished_at = $1 WHERE state = 'running' \
             AND NOT EXISTS (SELECT 1 FROM campaign_queueing q WHERE q.campaign_id = campaigns.id \
               AND q.queueing <> 0) \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.campaign_id = campaigns.id \
               AND m.state IN ('scheduled', 'queued', 'sending', 'submitted')) \
             RETURNING id, company_id",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for (id, company) in &done {
            let counts: Vec<(String, i64)> =
                sqlx::query_as(sqlx::AssertSqlSafe(campaign_counts_sql()))
                    .bind(company)
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
