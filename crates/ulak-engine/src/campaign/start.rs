//! A campaign starts at once (docs/decisions/0006-sending-core.md): a start checks what it can
//! cheaply (the campaign's state, the company's setup), records the start in one transaction
//! and returns; the audience is priced and written by a task of [`Writers`].
//!
//! The credit guarantee stays: a campaign the balance cannot cover sends nothing. A small
//! audience (at most [`PRICED_AT_ONCE`] candidates, one chunk) is priced and queued in the call
//! itself, as every start was before (milliseconds). A larger one reserves at once the most it can cost (its candidates, counted
//! with a few indexed queries, times the most a message of its text can cost) when the balance
//! covers that, and is queued from the first chunk on, the excess released when the queueing
//! ends; otherwise nothing is reserved until the task has priced it exactly, and nothing is
//! queued before that reservation (or, if the balance cannot cover it, ever: the campaign is
//! paused with the reason, as before).

use ulak_core::model::{CampaignAction, CampaignState, CompanyId};
use ulak_store::{
    Campaign, CampaignQueueing, Opening, QUEUEING_ACTIVE, QUEUEING_HALTED, Store, StoreError,
};

use super::planner::{Beat, Setup, survey};
use super::{Audience, Chunking, PlanError, Writers, current, insufficient, write_from};

/// Audiences of at most this many candidates are priced and queued in the start call itself
/// (milliseconds), as before: a start the balance cannot cover is refused in its answer, and
/// the messages of one it can are there when it answers.
pub const PRICED_AT_ONCE: i64 = 5_000;

/// A start or resume as recorded: what the call answers. The pricing and writing go on after.
#[derive(Debug, Clone)]
pub struct Started {
    /// The campaign as recorded (its audience as the caller gave it).
    pub campaign: Campaign,
    /// Its queueing as recorded; `None` when it did not start (paused for credit).
    pub queueing: Option<CampaignQueueing>,
}

/// What is left after a start is recorded, or of a queueing taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Work {
    /// Price the audience, reserve its cost, then write it from the start.
    Price,
    /// Write from this cursor on.
    Write(i64),
}

/// The candidates of `audience`, counted without reading them: pasted entries and subscriber
/// ids by their number, groups and customer accounts with one query each.
async fn entries(store: &Store, company: CompanyId, a: &Audience) -> Result<i64, StoreError> {
    let listed = [a.subscriber_ids.len(), a.numbers.len(), a.tckns.len()]
        .into_iter()
        .map(|n| i64::try_from(n).unwrap_or(i64::MAX))
        .fold(0i64, i64::saturating_add);
    let counted = if a.group_ids.is_empty() && a.customer_ids.is_empty() {
        0
    } else {
        store
            .count_audience(company, &a.group_ids, &a.customer_ids)
            .await?
    };
    Ok(listed.saturating_add(counted))
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Records the start of `campaign` (a draft, or one paused for credit before it started) and
/// says what is left to do; the setup is checked first (the same errors as planning).
async fn record(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
) -> Result<(Started, Option<Work>), PlanError> {
    let (company, id) = (campaign.company_id, campaign.id);
    let setup = Setup::load(store, campaign).await?;
    let total = entries(store, company, audience).await?;
    let wait_for_credit = |cost: i64, balance: i64| async move {
        let reason = insufficient(cost, balance);
        let c = store
            .set_campaign_state(company, id, CampaignAction::WaitForCredit, Some(&reason))
            .await?;
        Ok::<_, PlanError>((
            Started {
                campaign: with_audience(c, campaign),
                queueing: None,
            },
            None,
        ))
    };
    // `priced`: the cost is the plan's, not a bound.
    let (opening, work, total, priced) = if total <= PRICED_AT_ONCE {
        let s = survey(store, campaign, audience, false, None).await?;
        let balance = store.credit_balance(company).await?;
        if balance < s.plan.cost {
            return wait_for_credit(s.plan.cost, balance).await;
        }
        let opening = Opening::Reserved {
            recipients: count(s.plan.recipients),
            skipped: count(s.skipped),
            cost: s.plan.cost,
        };
        (opening, Work::Write(0), count(s.entries), true)
    } else {
        let most = total.checked_mul(setup.most_per_message());
        let balance = store.credit_balance(company).await?;
        match most {
            Some(cost) if cost <= balance => {
                let opening = Opening::Reserved {
                    recipients: 0,
                    skipped: 0,
                    cost,
                };
                (opening, Work::Write(0), total, false)
            }
            _ => (Opening::Pricing, Work::Price, total, false),
        }
    };
    drop(setup);
    let opened = match store
        .open_campaign_queueing(company, id, opening, Some(total))
        .await
    {
        Ok(q) => q,
        Err(StoreError::InsufficientCredit { balance, .. }) => match opening {
            // Priced: refused for credit as before.
            Opening::Reserved { cost, .. } if priced => {
                return wait_for_credit(cost, balance).await;
            }
            // A bound the balance no longer covers (spent meanwhile): priced first, then.
            _ => {
                let q = store
                    .open_campaign_queueing(company, id, Opening::Pricing, Some(total))
                    .await?;
                return Ok((started(store, campaign, q).await?, Some(Work::Price)));
            }
        },
        Err(e) => return Err(e.into()),
    };
    Ok((started(store, campaign, opened).await?, Some(work)))
}

async fn started(
    store: &Store,
    campaign: &Campaign,
    q: CampaignQueueing,
) -> Result<Started, PlanError> {
    Ok(Started {
        campaign: current(store, campaign).await?,
        queueing: Some(q),
    })
}

/// `c` with the audience of `campaign` (the store's answers leave it out).
fn with_audience(mut c: Campaign, campaign: &Campaign) -> Campaign {
    c.audience.clone_from(&campaign.audience);
    c
}

/// `campaign` without its audience, for a task to keep (it has the parsed one).
fn lean(campaign: &Campaign) -> Campaign {
    Campaign {
        id: campaign.id,
        company_id: campaign.company_id,
        name: campaign.name.clone(),
        state: campaign.state,
        state_reason: campaign.state_reason.clone(),
        sender: campaign.sender.clone(),
        body: campaign.body.clone(),
        audience: String::new(),
        scheduled_at: campaign.scheduled_at,
        validity_s: campaign.validity_s,
        recipients: campaign.recipients,
        skipped: campaign.skipped,
        cost: campaign.cost,
        created_at: campaign.created_at,
        started_at: campaign.started_at,
        finished_at: campaign.finished_at,
    }
}

/// Does what a start or a takeover left: prices the audience if that is not done (reserving
/// its cost, or leaving the campaign paused for credit, nothing queued), then writes it.
pub(super) async fn run(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
    work: Work,
    chunking: Chunking,
) -> Result<(), PlanError> {
    let from = match work {
        Work::Write(pos) => pos,
        Work::Price => {
            if !price(store, campaign, audience).await? {
                return Ok(());
            }
            0
        }
    };
    write_from(store, campaign, audience, from, chunking).await
}

/// Prices a started campaign's audience and reserves its cost; `false` when the queueing
/// cannot go on (paused for credit or a broken setup, as if never started; or cancelled).
async fn price(store: &Store, campaign: &Campaign, audience: &Audience) -> Result<bool, PlanError> {
    let (company, id) = (campaign.company_id, campaign.id);
    let mut beat = Beat::new(store, company, id);
    let s = match survey(store, campaign, audience, false, Some(&mut beat)).await {
        Ok(s) => s,
        Err(PlanError::Setup { field, message, .. }) => {
            let reason = format!("queueing stopped: {field}: {message}; fix it and resume");
            store
                .unstart_campaign(company, id, CampaignAction::Halt, &reason)
                .await?;
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    if beat.gone {
        return Ok(false);
    }
    let cost = s.plan.cost;
    let (recipients, skipped, total) =
        (count(s.plan.recipients), count(s.skipped), count(s.entries));
    drop(s);
    match store
        .price_campaign_queueing(company, id, recipients, skipped, cost, total)
        .await
    {
        Ok(go_on) => Ok(go_on),
        Err(StoreError::InsufficientCredit { balance, .. }) => {
            let reason = insufficient(cost, balance);
            store
                .unstart_campaign(company, id, CampaignAction::WaitForCredit, &reason)
                .await?;
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Hands `work` on campaign `campaign` to a task of `writers`, which logs what stops it.
fn spawn(store: &Store, writers: &Writers, campaign: &Campaign, audience: Audience, work: Work) {
    let (store, campaign) = (store.clone(), lean(campaign));
    let id = campaign.id;
    let spawned = writers.spawn(id, async move {
        if let Err(e) = run(&store, &campaign, &audience, work, Chunking::default()).await {
            tracing::warn!(campaign = id, error = %e, "campaign queueing failed; it will be taken up again");
        }
    });
    if !spawned {
        // This process's earlier task for it has not ended yet; once it has, the queueing is
        // taken over as any other left alone.
        tracing::info!(
            campaign = id,
            "campaign queueing already at work here; left to it"
        );
    }
}

/// Starts a draft (or a campaign paused before anything was queued): checks its setup, records
/// the start and returns at once, the campaign `running` and its queueing opened; a task of
/// `writers` then prices the audience if needed and queues it, its messages handed out from
/// the first chunk. A small audience is priced and queued before the call returns (or, if the
/// balance cannot cover it, the campaign is paused saying so), as before.
pub async fn start(
    store: &Store,
    writers: &Writers,
    campaign: &Campaign,
    audience: Audience,
) -> Result<Started, PlanError> {
    let (started, work) = record(store, campaign, &audience).await?;
    let small = matches!(started.queueing.and_then(|q| q.total), Some(t) if t <= PRICED_AT_ONCE);
    match work {
        // One chunk: written here, the start answered as it always was.
        Some(Work::Write(0)) if small => {
            let (company, id) = (campaign.company_id, campaign.id);
            if let Err(e) = write_from(store, campaign, &audience, 0, Chunking::default()).await {
                // Recorded and reserved: left to be taken over, like a task that failed.
                tracing::warn!(campaign = id, error = %e, "campaign queueing failed; it will be taken up again");
            }
            return Ok(Started {
                campaign: current(store, campaign).await?,
                queueing: store.campaign_queueing(company, id).await?,
            });
        }
        Some(work) => spawn(store, writers, campaign, audience, work),
        None => {}
    }
    Ok(started)
}

/// [`start`] with the pricing and writing done in the call, with the given chunking (tests:
/// `chunking.limit` leaves the queueing unfinished, as a crash would). Returns the campaign as
/// it then stands.
pub async fn start_with(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
    chunking: Chunking,
) -> Result<Campaign, PlanError> {
    let (started, work) = record(store, campaign, audience).await?;
    let Some(work) = work else {
        return Ok(started.campaign);
    };
    run(store, campaign, audience, work, chunking).await?;
    current(store, campaign).await
}

/// Resumes a paused campaign and returns at once: one paused for credit before anything was
/// queued starts now ([`start`]); one whose queueing halted (credit ran short, the setup
/// broke) runs again and a task of `writers` goes on queueing from the cursor; any other just
/// runs again (a queueing still at work carries on).
pub async fn resume(
    store: &Store,
    writers: &Writers,
    campaign: &Campaign,
    audience: Audience,
) -> Result<Started, PlanError> {
    if campaign.state == CampaignState::Paused && campaign.started_at.is_none() {
        return start(store, writers, campaign, audience).await;
    }
    let (company, id) = (campaign.company_id, campaign.id);
    let before = store.campaign_queueing(company, id).await?;
    let c = store
        .set_campaign_state(company, id, CampaignAction::Resume, None)
        .await?;
    let now = store.campaign_queueing(company, id).await?;
    // Only the request that turned a halted queueing active goes on with it (a concurrent
    // second resume finds the campaign running and fails above).
    if before.is_some_and(|q| q.queueing == QUEUEING_HALTED)
        && let Some(q) = now
        && q.queueing == QUEUEING_ACTIVE
    {
        spawn(
            store,
            writers,
            campaign,
            audience,
            Work::Write(q.queued_pos),
        );
    }
    Ok(Started {
        campaign: with_audience(c, campaign),
        queueing: now,
    })
}
