//! Campaigns: a bulk send's record and lifecycle (draft → running ⇄ paused → finished, or
//! cancelled). Its messages are ordinary queued messages with `campaign_id`; the queue only
//! hands out those of running campaigns, so pausing or cancelling stops submits at the next
//! claim.
//!
//! A start is streamed (docs/decisions/0005-sending-engine.md): one transaction reserves the
//! whole cost, makes the campaign `running` and opens its queueing (a row of
//! `campaign_queueing`: a cursor, what is left of the reservation, a timestamp); then the engine
//! writes the messages in chunks, each in one transaction that moves the cursor only if it
//! still is where the writer read it (so two writers never queue the same chunk) and takes its
//! cost from the reservation; the last one releases what is left and closes the queueing.
//!
//! Locks on PostgreSQL are always taken campaign row first, queueing row second (a chunk takes
//! only the queueing row), so a cancel, a halt or the end never deadlock with a chunk; SQLite's
//! write transactions are serialised anyway.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use ulak_core::model::{CompanyId, LedgerKind, ListQuery, NewMessage, Page, WebhookEventType};

use super::batch::{insert_messages, total_cost};
use super::credit::write_entry;
use super::webhooks::emit_event;
use crate::db::{Interned, ListSql, col, now_ms};
use crate::{Backend, Result, Store, StoreError};

/// Columns of [`campaign`].
const COLS: &str = "id, company_id, name, state, state_reason, sender, body, audience, \
    scheduled_at, validity_s, recipients, skipped, cost, created_at, started_at, finished_at";

/// [`COLS`] with the audience left empty.
const LEAN_COLS: &str = "id, company_id, name, state, state_reason, sender, body, '' AS audience, \
    scheduled_at, validity_s, recipients, skipped, cost, created_at, started_at, finished_at";

/// Columns of [`queueing`].
const QCOLS: &str = "campaign_id, company_id, queueing, queued_pos, reserve_left, queue_at";

/// `queueing`: every recipient is queued, or the campaign was cancelled.
pub const QUEUEING_DONE: i64 = 0;
/// `queueing`: chunks are still being written.
pub const QUEUEING_ACTIVE: i64 = 1;
/// `queueing`: stopped (credit ran short, the setup broke) until a user resumes the campaign.
pub const QUEUEING_HALTED: i64 = 2;

/// Where a started campaign's queueing stands. Kept in a row of its own, not in the
/// campaign's: that one holds the audience (15 MB of JSON for a million pasted numbers), and
/// SQLite rebuilds a whole row in memory on every update, while the cursor moves with every
/// chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CampaignQueueing {
    /// The campaign.
    pub campaign_id: i64,
    /// Its company.
    pub company_id: CompanyId,
    /// [`QUEUEING_DONE`], [`QUEUEING_ACTIVE`] or [`QUEUEING_HALTED`].
    pub queueing: i64,
    /// Audience candidates consumed by the chunks written so far (queued, skipped and
    /// duplicates alike).
    pub queued_pos: i64,
    /// Credit reserved at start and not yet used by a chunk.
    pub reserve_left: i64,
    /// When a node last wrote a chunk or said it is working on one (unix ms).
    pub queue_at: Option<i64>,
}

fn queueing(r: &AnyRow) -> Result<CampaignQueueing> {
    Ok(CampaignQueueing {
        campaign_id: col(r, "campaign_id")?,
        company_id: CompanyId(col(r, "company_id")?),
        queueing: col(r, "queueing")?,
        queued_pos: col(r, "queued_pos")?,
        reserve_left: col(r, "reserve_left")?,
        queue_at: col(r, "queue_at")?,
    })
}

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

/// A recipient left out of a campaign: (recipient kind, address, reason).
pub type SkippedRow = (String, String, String);

/// Stores recipients left out of a campaign as `skipped` messages with their reason (never
/// silently dropped), inside `tx`.
async fn insert_skipped(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    campaign: i64,
    sender: &str,
    skipped: &[SkippedRow],
    now: i64,
) -> Result<()> {
    let mut rest = skipped;
    while !rest.is_empty() {
        // The sender is $1; plain texts are inlined and the rest bound once each.
        let mut texts = Interned::new(1);
        let mut values = String::new();
        let mut rows = 0;
        for (kind, address, reason) in rest {
            if rows == 500 || texts.len() >= 64 {
                break;
            }
            if rows > 0 {
                values.push(',');
            }
            values.push_str(&format!(
                "({}, {campaign}, {}, {}, $1, '', '', 0, 0, 'skipped', {}, {now}, 0, {now}, \
                 {now}, {now}, {now})",
                company.0,
                texts.sql(kind),
                texts.sql(address),
                texts.sql(reason),
            ));
            rows += 1;
        }
        rest = &rest[rows..];
        let mut q = sqlx::query(sql!(
            "INSERT INTO messages (company_id, campaign_id, recipient_kind, recipient, sender, \
             body, encoding, segments, cost, state, state_reason, state_at, attempts, \
             next_attempt_at, valid_until, created_at, final_at) VALUES {values}"
        ))
        .persistent(false)
        .bind(sender);
        for v in texts.values() {
            q = q.bind(*v);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

impl Store {
    /// Creates a draft campaign. The answer leaves out the audience (`""`), which the
    /// caller has: echoing a million pasted numbers back through the driver cost several
    /// copies of 15 MB.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn create_campaign(&self, company: CompanyId, new: NewCampaign) -> Result<Campaign> {
        let row = sqlx::query(sql!(
            "INSERT INTO campaigns (company_id, name, state, sender, body, audience, \
             scheduled_at, validity_s, created_at) \
             SELECT $1, $2, 'draft', $3, $4, $5, $6, $7, $8 FROM companies WHERE id = $1 \
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
        if !from.contains(&current.as_str()) {
            tx.rollback().await?;
            return Err(StoreError::Conflict {
                field: format!("state (the campaign is {current})"),
            });
        }
        if to == "cancelled" {
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
        // A cancel ends the queueing (its reservation was released above); a resume of a
        // campaign whose queueing stopped lets it go on, stamped as being worked on now so the
        // caller continues it before another node would take it over.
        if to == "cancelled" || (to == "running" && queue.is_some()) {
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

    /// Starts a draft, or a campaign paused before anything was queued, in one transaction:
    /// reserves `cost` (one ledger entry), records the totals planned, makes it `running` and
    /// opens its queueing (cursor 0, `reserve_left = cost`). `InsufficientCredit` when the
    /// balance cannot cover it and `Conflict` when it is no longer startable: nothing changes.
    /// (Returns nothing: the campaign's row holds the audience, which can be megabytes, and
    /// the caller has it.)
    #[tracing::instrument(skip(self))]
    pub async fn begin_campaign_queueing(
        &self,
        company: CompanyId,
        id: i64,
        recipients: i64,
        skipped: i64,
        cost: i64,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let started = sqlx::query(
            "UPDATE campaigns SET state = 'running', state_reason = NULL, recipients = $3, \
             skipped = $4, cost = $5, started_at = $6 \
             WHERE company_id = $1 AND id = $2 \
             AND (state = 'draft' OR (state = 'paused' AND started_at IS NULL))",
        )
        .bind(company.0)
        .bind(id)
        .bind(recipients)
        .bind(skipped)
        .bind(cost)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if started != 1 {
            let state: Option<String> =
                sqlx::query_scalar("SELECT state FROM campaigns WHERE company_id = $1 AND id = $2")
                    .bind(company.0)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.rollback().await?;
            return Err(match state {
                None => StoreError::NotFound,
                Some(s) => StoreError::Conflict {
                    field: format!("state (the campaign is {s} and started)"),
                },
            });
        }
        sqlx::query(sql!(
            "INSERT INTO campaign_queueing ({QCOLS}, queue_owner) \
             VALUES ($1, $2, {QUEUEING_ACTIVE}, 0, $3, $4, $5)"
        ))
        .bind(id)
        .bind(company.0)
        .bind(cost)
        .bind(now)
        .bind(self.node().map(str::to_owned))
        .execute(&mut *tx)
        .await?;
        if cost > 0 {
            let note = format!("campaign {id}");
            if let Err(e) = write_entry(
                &mut tx,
                company,
                LedgerKind::Reservation,
                -cost,
                Some(&note),
            )
            .await
            {
                tx.rollback().await?;
                return Err(e);
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Where the campaign's queueing stands; `None` if it never started.
    #[tracing::instrument(skip(self))]
    pub async fn campaign_queueing(
        &self,
        company: CompanyId,
        id: i64,
    ) -> Result<Option<CampaignQueueing>> {
        let row = sqlx::query(sql!(
            "SELECT {QCOLS} FROM campaign_queueing WHERE company_id = $1 AND campaign_id = $2"
        ))
        .bind(company.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(queueing).transpose()
    }

    /// Writes one chunk of a campaign's queueing in one transaction, if its cursor is still at
    /// `expected_pos` and it is queueing: inserts `messages` (their cost taken from
    /// `reserve_left`; what passes it is reserved now, and `InsufficientCredit` writes
    /// nothing), stores `skipped` as skipped messages, and moves the cursor to `new_pos`.
    /// `Ok(false)`, with nothing written, when the cursor has moved (another writer has this
    /// chunk) or the queueing ended or halted (cancelled, say).
    #[tracing::instrument(skip(self, messages, skipped),
        fields(messages = messages.len(), skipped = skipped.len()))]
    pub async fn queue_campaign_chunk(
        &self,
        company: CompanyId,
        id: i64,
        expected_pos: i64,
        new_pos: i64,
        messages: &[NewMessage],
        skipped: &[SkippedRow],
    ) -> Result<bool> {
        let total = total_cost(messages)?;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        // Locks the queueing row on PostgreSQL, so a concurrent writer at the same cursor waits
        // here and then finds it moved; SQLite's write transaction already serialises. A
        // campaign is queueing only while running or paused (a cancel closes it).
        let left: Option<i64> = sqlx::query_scalar(sql!(
            "SELECT reserve_left FROM campaign_queueing WHERE company_id = $1 \
             AND campaign_id = $2 AND queued_pos = $3 AND queueing = {QUEUEING_ACTIVE}{}",
            self.row_lock()
        ))
        .bind(company.0)
        .bind(id)
        .bind(expected_pos)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(reserve_left) = left else {
            tx.rollback().await?;
            return Ok(false);
        };
        let used = total.min(reserve_left.max(0));
        let excess = total - used;
        if excess > 0 {
            let note = format!("campaign {id}: recipients beyond the start's reservation");
            if let Err(e) = write_entry(
                &mut tx,
                company,
                LedgerKind::Reservation,
                -excess,
                Some(&note),
            )
            .await
            {
                tx.rollback().await?;
                return Err(e);
            }
        }
        let moved = sqlx::query(sql!(
            "UPDATE campaign_queueing SET queued_pos = $4, reserve_left = reserve_left - $5, \
             queue_at = $6, queue_owner = $7 WHERE company_id = $1 AND campaign_id = $2 \
             AND queued_pos = $3 AND queueing = {QUEUEING_ACTIVE}"
        ))
        .bind(company.0)
        .bind(id)
        .bind(expected_pos)
        .bind(new_pos)
        .bind(used)
        .bind(now)
        .bind(self.node().map(str::to_owned))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_messages(&mut tx, company, Some(id), messages, now).await?;
        if !skipped.is_empty() {
            let sender: Option<String> =
                sqlx::query_scalar("SELECT sender FROM campaigns WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            insert_skipped(
                &mut tx,
                company,
                id,
                sender.as_deref().unwrap_or_default(),
                skipped,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Says a writer is still working on the campaign's queueing at cursor `pos` (it is
    /// replaying the audience up to there), so no node takes it over. `false` when the cursor
    /// has moved or the queueing ended: the writer should stop.
    #[tracing::instrument(skip(self))]
    pub async fn touch_campaign_queueing(
        &self,
        company: CompanyId,
        id: i64,
        pos: i64,
    ) -> Result<bool> {
        // In a write transaction, which on SQLite queues behind the other writers rather than
        // racing them for the lock.
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(sql!(
            "UPDATE campaign_queueing SET queue_at = $4, queue_owner = $5 WHERE company_id = $1 \
             AND campaign_id = $2 AND queued_pos = $3 AND queueing = {QUEUEING_ACTIVE}"
        ))
        .bind(company.0)
        .bind(id)
        .bind(pos)
        .bind(now_ms())
        .bind(self.node().map(str::to_owned))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Ends a campaign's queueing after its last chunk (cursor at `pos`): releases the
    /// reservation left over, and records the totals of what was queued (messages, skipped
    /// recipients, their cost) on the campaign. `false` when the cursor has moved or the
    /// queueing already ended (another writer finished it, or the campaign was cancelled).
    #[tracing::instrument(skip(self))]
    pub async fn finish_campaign_queueing(
        &self,
        company: CompanyId,
        id: i64,
        pos: i64,
    ) -> Result<bool> {
        // Counted before the write transaction: the chunks are all written (the cursor check
        // below makes sure), and a message's segments and cost never change. Skipped rows are
        // the ones without segments (a message has at least one).
        let (recipients, skipped, cost): (i64, i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(CASE WHEN segments > 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN segments = 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN segments > 0 THEN cost ELSE 0 END), 0) AS BIGINT) \
             FROM messages WHERE company_id = $1 AND campaign_id = $2",
        )
        .bind(company.0)
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        let mut tx = self.begin_write().await?;
        self.lock_campaign(&mut tx, company, id).await?;
        let left: Option<i64> = sqlx::query_scalar(sql!(
            "SELECT reserve_left FROM campaign_queueing WHERE company_id = $1 \
             AND campaign_id = $2 AND queued_pos = $3 AND queueing = {QUEUEING_ACTIVE}{}",
            self.row_lock()
        ))
        .bind(company.0)
        .bind(id)
        .bind(pos)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(left) = left else {
            tx.rollback().await?;
            return Ok(false);
        };
        if left > 0 {
            let note = format!("campaign {id}: reserved at start, not needed");
            write_entry(&mut tx, company, LedgerKind::Release, left, Some(&note)).await?;
        }
        let now = now_ms();
        sqlx::query(sql!(
            "UPDATE campaign_queueing SET queueing = {QUEUEING_DONE}, reserve_left = 0, \
             queue_at = $2 WHERE campaign_id = $1"
        ))
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // Only when they changed since the start: the row holds the audience, and rewriting
        // it costs a copy of it in memory on SQLite.
        sqlx::query(
            "UPDATE campaigns SET recipients = $3, skipped = $4, cost = $5 \
             WHERE company_id = $1 AND id = $2 \
             AND (recipients <> $3 OR skipped <> $4 OR cost <> $5)",
        )
        .bind(company.0)
        .bind(id)
        .bind(recipients)
        .bind(skipped)
        .bind(cost)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Stops a campaign's queueing at cursor `pos` until a user resumes it: pauses the
    /// campaign with `reason` (queueing [`QUEUEING_HALTED`]; a resume makes it active again).
    /// `false` when the cursor has moved or the queueing ended.
    #[tracing::instrument(skip(self))]
    pub async fn halt_campaign_queueing(
        &self,
        company: CompanyId,
        id: i64,
        pos: i64,
        reason: &str,
    ) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        self.lock_campaign(&mut tx, company, id).await?;
        let n = sqlx::query(sql!(
            "UPDATE campaign_queueing SET queueing = {QUEUEING_HALTED}, queue_at = $4 \
             WHERE company_id = $1 AND campaign_id = $2 AND queued_pos = $3 \
             AND queueing = {QUEUEING_ACTIVE}"
        ))
        .bind(company.0)
        .bind(id)
        .bind(pos)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE campaigns SET state = 'paused', state_reason = $3 \
             WHERE company_id = $1 AND id = $2 AND state IN ('running', 'paused')",
        )
        .bind(company.0)
        .bind(id)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes over the queueing nobody works on: active queueing whose `queue_at` is before
    /// `stale_before` (unix ms) or unset. Each is stamped with the time now in the same
    /// statement, so of several nodes asking at once only one gets it (PostgreSQL re-checks
    /// the condition on the locked row).
    #[tracing::instrument(skip(self))]
    pub async fn claim_stale_campaign_queueing(
        &self,
        stale_before: i64,
    ) -> Result<Vec<CampaignQueueing>> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sql!(
            "UPDATE campaign_queueing SET queue_at = $1, queue_owner = $3 \
             WHERE queueing = {QUEUEING_ACTIVE} AND (queue_at IS NULL OR queue_at < $2) \
             RETURNING {QCOLS}"
        ))
        .bind(now_ms())
        .bind(stale_before)
        .bind(self.node().map(str::to_owned))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(queueing).collect()
    }

    /// Takes back the campaign queueings this handle's node ([`Store::for_node`]) was writing
    /// when it stopped, however recent their stamp: a node that (re)starts is not writing any,
    /// so they were left by its previous run and need no 30 s wait to be seen as abandoned.
    /// Stamps them as being worked on now. Nothing without a node.
    pub async fn claim_own_campaign_queueing(&self) -> Result<Vec<CampaignQueueing>> {
        let Some(node) = self.node() else {
            return Ok(Vec::new());
        };
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sql!(
            "UPDATE campaign_queueing SET queue_at = $1 \
             WHERE queueing = {QUEUEING_ACTIVE} AND queue_owner = $2 RETURNING {QCOLS}"
        ))
        .bind(now_ms())
        .bind(node.to_owned())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(queueing).collect()
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
    fn row_lock(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// Takes the campaign row's lock on PostgreSQL (first, before its queueing row's).
    async fn lock_campaign(
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
