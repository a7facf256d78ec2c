//! A campaign's queueing (docs/decisions/0005-sending-engine.md, 0006-sending-core.md): a start
//! makes the campaign `running` and opens its queueing (a row of `campaign_queueing`: a
//! cursor, what is left of the reservation, a timestamp, the node writing it), either with its
//! credit reserved or to be priced first ([`super::campaign_start`]); then the engine writes
//! the messages in chunks, each in one transaction that moves the cursor only if it still is
//! where the writer read it (so two writers never queue the same chunk) and takes its cost from
//! the reservation; the last one releases what is left and closes the queueing. A queueing
//! nobody carries on is taken over by another node after a while, or at once by the node that
//! wrote it when it starts again.

use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use ulak_core::model::{CampaignAction, CampaignState, CompanyId, LedgerKind, NewMessage};

use super::batch::{accounts_of, insert_messages, total_cost};
use super::credit::write_entry;
use crate::db::{Interned, col, now_ms};
use crate::{Result, Store};

/// Columns of [`queueing`].
pub(super) const QCOLS: &str =
    "campaign_id, company_id, queueing, queued_pos, reserve_left, queue_at, queue_total";

/// `queueing`: every recipient is queued, or the campaign was cancelled.
pub const QUEUEING_DONE: i64 = 0;
/// `queueing`: chunks are still being written.
pub const QUEUEING_ACTIVE: i64 = 1;
/// `queueing`: stopped (credit ran short, the setup broke) until a user resumes the campaign.
pub const QUEUEING_HALTED: i64 = 2;
/// `queueing`: the start is recorded and its audience is being priced; nothing is reserved or
/// queued yet. Then it becomes [`QUEUEING_ACTIVE`] with the cost reserved, or the row goes
/// and the campaign waits, paused, for credit.
pub const QUEUEING_PRICING: i64 = 3;

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
    /// [`QUEUEING_DONE`], [`QUEUEING_ACTIVE`], [`QUEUEING_HALTED`] or [`QUEUEING_PRICING`].
    pub queueing: i64,
    /// Audience candidates consumed by the chunks written so far (queued, skipped and
    /// duplicates alike).
    pub queued_pos: i64,
    /// Credit reserved at start and not yet used by a chunk.
    pub reserve_left: i64,
    /// When a node last wrote a chunk or said it is working on one (unix ms).
    pub queue_at: Option<i64>,
    /// Audience candidates in all: as counted when the start was recorded, exact once the
    /// queueing is done (`None` for queueing begun by an older version).
    pub total: Option<i64>,
}

pub(super) fn queueing(r: &AnyRow) -> Result<CampaignQueueing> {
    Ok(CampaignQueueing {
        campaign_id: col(r, "campaign_id")?,
        company_id: CompanyId(col(r, "company_id")?),
        queueing: col(r, "queueing")?,
        queued_pos: col(r, "queued_pos")?,
        reserve_left: col(r, "reserve_left")?,
        queue_at: col(r, "queue_at")?,
        total: col(r, "queue_total")?,
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
        let accounts = accounts_of(messages);
        crate::signal::announce_all(&mut tx, self.backend, &accounts).await?;
        tx.commit().await?;
        for a in accounts {
            self.queued_for(Some(a));
        }
        Ok(true)
    }

    /// Says a writer is still working on the campaign's queueing at cursor `pos` (it is
    /// replaying the audience up to there, or pricing it at 0), so no node takes it over.
    /// `false` when the cursor has moved or the queueing ended or halted: the writer should
    /// stop.
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
             AND campaign_id = $2 AND queued_pos = $3 AND queueing IN ({QUEUEING_ACTIVE}, {QUEUEING_PRICING})"
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
             queue_at = $2, queue_total = $3 WHERE campaign_id = $1"
        ))
        .bind(id)
        .bind(now)
        .bind(pos)
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
        // Paused (or left paused) with the reason, from the states the table lets halt.
        sqlx::query(sql!(
            "UPDATE campaigns SET state = 'paused', state_reason = $3 \
             WHERE company_id = $1 AND id = $2 AND state IN ({})",
            state_list(CampaignAction::Halt)
        ))
        .bind(company.0)
        .bind(id)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes over the queueing nobody works on: active (or pricing) queueing whose `queue_at` is before
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
             WHERE queueing IN ({QUEUEING_ACTIVE}, {QUEUEING_PRICING}) AND (queue_at IS NULL OR queue_at < $2) \
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
             WHERE queueing IN ({QUEUEING_ACTIVE}, {QUEUEING_PRICING}) AND queue_owner = $2 RETURNING {QCOLS}"
        ))
        .bind(now_ms())
        .bind(node.to_owned())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(queueing).collect()
    }
}

/// The states `action` applies to, as an SQL list of literals (`'running', 'paused'`), from
/// [`CampaignState::after`].
pub(super) fn state_list(action: CampaignAction) -> String {
    CampaignState::sources(action)
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}
