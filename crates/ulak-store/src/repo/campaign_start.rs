//! Starting a campaign (docs/decisions/0006-sending-core.md, "A campaign starts at once"): one
//! transaction records the start — the campaign `running`, its queueing opened — and the
//! request is answered. The credit is reserved in that transaction (the plan's total, or a bound
//! on it), or, when the balance may not cover it, only once the audience is priced
//! ([`QUEUEING_PRICING`]): then [`Store::price_campaign_queueing`] reserves the exact cost and
//! the queueing goes on, or [`Store::unstart_campaign`] leaves the campaign paused as a start
//! refused for credit always did, with nothing reserved or queued.

use std::collections::HashMap;

use ulak_core::model::{CampaignAction, CampaignState, CompanyId, LedgerKind};

use super::credit::write_entry;
use super::queueing::{
    CampaignQueueing, QCOLS, QUEUEING_ACTIVE, QUEUEING_PRICING, queueing, state_list,
};
use crate::db::{int_list, now_ms};
use crate::{Result, Store, StoreError};

/// How a start opens a campaign's queueing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// `cost` is reserved now. `recipients` and `skipped` are the plan's counts, or 0 when the
    /// cost is a bound and the audience is planned only as it is queued.
    Reserved {
        /// Messages planned.
        recipients: i64,
        /// Recipients left out.
        skipped: i64,
        /// Credit reserved.
        cost: i64,
    },
    /// Nothing is reserved yet: the audience is priced first ([`QUEUEING_PRICING`]).
    Pricing,
}

/// The `CASE` expression that moves `state` as `action` does, from [`CampaignState::after`].
fn state_after(action: CampaignAction) -> String {
    let arms: String = CampaignState::sources(action)
        .into_iter()
        .filter_map(|s| Some(format!(" WHEN '{}' THEN '{}'", s, s.after(action)?)))
        .collect();
    format!("CASE state{arms} ELSE state END")
}

impl Store {
    /// Starts a draft, or a campaign paused before anything was queued, with its plan's
    /// totals and `cost` reserved: [`Store::open_campaign_queueing`] with
    /// [`Opening::Reserved`].
    pub async fn begin_campaign_queueing(
        &self,
        company: CompanyId,
        id: i64,
        recipients: i64,
        skipped: i64,
        cost: i64,
    ) -> Result<()> {
        let opening = Opening::Reserved {
            recipients,
            skipped,
            cost,
        };
        self.open_campaign_queueing(company, id, opening, None)
            .await
            .map(drop)
    }

    /// Starts a draft, or a campaign paused before anything was queued, in one transaction:
    /// makes it `running` and opens its queueing (cursor 0, `total` audience candidates as
    /// counted now), reserving the cost now or leaving it to the pricing as `opening` says.
    /// `InsufficientCredit` when the balance cannot cover a reservation and `WrongState` when
    /// it is no longer startable: nothing changes. Returns the queueing as opened. (Not the
    /// campaign: its row holds the audience, which can be megabytes, and the caller has it.)
    #[tracing::instrument(skip(self), name = "begin_campaign_queueing")]
    pub async fn open_campaign_queueing(
        &self,
        company: CompanyId,
        id: i64,
        opening: Opening,
        total: Option<i64>,
    ) -> Result<CampaignQueueing> {
        let (recipients, skipped, cost, state) = match opening {
            Opening::Reserved {
                recipients,
                skipped,
                cost,
            } => (recipients, skipped, cost, QUEUEING_ACTIVE),
            Opening::Pricing => (0, 0, 0, QUEUEING_PRICING),
        };
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        // Only a campaign that never started: a draft, or one paused for credit at its start.
        let started = sqlx::query(sql!(
            "UPDATE campaigns SET state = 'running', state_reason = NULL, recipients = $3, \
             skipped = $4, cost = $5, started_at = $6 \
             WHERE company_id = $1 AND id = $2 AND state IN ({}) AND started_at IS NULL",
            state_list(CampaignAction::Start)
        ))
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
                Some(s) => {
                    StoreError::WrongState(format!("not possible: the campaign is {s} and started"))
                }
            });
        }
        let row = sqlx::query(sql!(
            "INSERT INTO campaign_queueing ({QCOLS}, queue_owner) \
             VALUES ($1, $2, {state}, 0, $3, $4, $5, $6) RETURNING {QCOLS}"
        ))
        .bind(id)
        .bind(company.0)
        .bind(cost)
        .bind(now)
        .bind(total)
        .bind(self.node().map(str::to_owned))
        .fetch_one(&mut *tx)
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
        queueing(&row)
    }

    /// Ends the pricing of a started campaign: reserves `cost`, records the plan's totals
    /// (`total` candidates) and lets its queueing go on from cursor 0. `Ok(false)`, with
    /// nothing changed, when it is no longer being priced (cancelled meanwhile);
    /// `InsufficientCredit` when the balance cannot cover it, nothing changed.
    #[tracing::instrument(skip(self))]
    pub async fn price_campaign_queueing(
        &self,
        company: CompanyId,
        id: i64,
        recipients: i64,
        skipped: i64,
        cost: i64,
        total: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        self.lock_campaign(&mut tx, company, id).await?;
        let pricing: Option<i64> = sqlx::query_scalar(sql!(
            "SELECT queueing FROM campaign_queueing WHERE company_id = $1 AND campaign_id = $2 \
             AND queueing = {QUEUEING_PRICING}{}",
            self.row_lock()
        ))
        .bind(company.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if pricing.is_none() {
            tx.rollback().await?;
            return Ok(false);
        }
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
        sqlx::query(sql!(
            "UPDATE campaign_queueing SET queueing = {QUEUEING_ACTIVE}, reserve_left = $2, \
             queue_total = $3, queue_at = $4, queue_owner = $5 WHERE campaign_id = $1"
        ))
        .bind(id)
        .bind(cost)
        .bind(total)
        .bind(now_ms())
        .bind(self.node().map(str::to_owned))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE campaigns SET recipients = $3, skipped = $4, cost = $5 \
             WHERE company_id = $1 AND id = $2",
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

    /// Takes back the start of a campaign whose audience was being priced, which cannot go on
    /// (the balance does not cover it, the setup broke): `action` moves the campaign as the
    /// table says (to `paused`) with `reason`, and it is left as if it never started — no
    /// queueing, no start time — so a resume starts it again. `false`, with nothing changed,
    /// when it is no longer being priced (cancelled meanwhile).
    #[tracing::instrument(skip(self))]
    pub async fn unstart_campaign(
        &self,
        company: CompanyId,
        id: i64,
        action: CampaignAction,
        reason: &str,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        self.lock_campaign(&mut tx, company, id).await?;
        let gone = sqlx::query(sql!(
            "DELETE FROM campaign_queueing WHERE company_id = $1 AND campaign_id = $2 \
             AND queueing = {QUEUEING_PRICING}"
        ))
        .bind(company.0)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if gone != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(sql!(
            "UPDATE campaigns SET state = {}, state_reason = $3, started_at = NULL, \
             recipients = 0, skipped = 0, cost = 0 \
             WHERE company_id = $1 AND id = $2 AND state IN ({})",
            state_after(action),
            state_list(action)
        ))
        .bind(company.0)
        .bind(id)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The number of audience candidates `group_ids` and `customer_ids` give, as a campaign's
    /// planning reads them: each group's members, each customer account's phones, and one
    /// (left out) for an id the company does not have; an id named twice counts twice.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn count_audience(
        &self,
        company: CompanyId,
        group_ids: &[i64],
        customer_ids: &[i64],
    ) -> Result<i64> {
        let mut per_group: HashMap<i64, i64> = HashMap::new();
        for &g in group_ids {
            if per_group.contains_key(&g) {
                continue;
            }
            let (found, members): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM subscriber_groups WHERE company_id = $1 AND id = $2), \
                 (SELECT COUNT(*) FROM subscribers WHERE company_id = $1 \
                   AND id IN (SELECT subscriber_id FROM group_members WHERE group_id = $2))",
            )
            .bind(company.0)
            .bind(g)
            .fetch_one(&self.pool)
            .await?;
            per_group.insert(g, if found == 0 { 1 } else { members });
        }
        let mut phones: HashMap<i64, i64> = HashMap::new();
        let mut wanted: Vec<i64> = customer_ids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        for part in wanted.chunks(500) {
            let rows: Vec<(i64, String)> = sqlx::query_as(sql!(
                "SELECT id, phones FROM customer_accounts WHERE company_id = $1 AND id IN ({})",
                int_list(part.iter().copied())
            ))
            .bind(company.0)
            .fetch_all(&self.pool)
            .await?;
            for (id, json) in rows {
                let list: Vec<serde_json::Value> =
                    serde_json::from_str(&json).map_err(|_| StoreError::Corrupt {
                        what: "customer_accounts.phones",
                    })?;
                phones.insert(id, i64::try_from(list.len()).unwrap_or(i64::MAX));
            }
        }
        let groups = group_ids
            .iter()
            .map(|g| per_group.get(g).copied().unwrap_or(1));
        let customers = customer_ids
            .iter()
            .map(|c| phones.get(c).copied().unwrap_or(1));
        Ok(groups.chain(customers).fold(0i64, i64::saturating_add))
    }

    /// The queueing of each of `ids` that started, by campaign id (for a page of campaigns).
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn campaign_queueings(
        &self,
        company: CompanyId,
        ids: &[i64],
    ) -> Result<HashMap<i64, CampaignQueueing>> {
        let mut out = HashMap::new();
        for part in ids.chunks(500) {
            let rows = sqlx::query(sql!(
                "SELECT {QCOLS} FROM campaign_queueing WHERE company_id = $1 \
                 AND campaign_id IN ({})",
                int_list(part.iter().copied())
            ))
            .bind(company.0)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                let q = queueing(r)?;
                out.insert(q.campaign_id, q);
            }
        }
        Ok(out)
    }
}
