//! Campaigns: turning an audience (subscribers, groups, customer accounts, pasted numbers,
//! TC ID numbers) into messages. Duplicates are collapsed; opted-out, invalid or
//! unrenderable recipients are kept as `skipped` with the reason, never silently dropped.
//!
//! Nothing holds the whole audience's messages: [`Candidates`] pulls the audience a page at a
//! time, a [`Planner`] turns each candidate into a message, a skip or a duplicate (with a
//! dedupe set of 8 bytes per recipient), and a start writes the messages in chunks of
//! [`CHUNK`], each one transaction that advances a cursor on the campaign, so sending begins
//! with the first chunk and a crash leaves a point to go on from. A start is recorded and
//! answered at once; the pricing and writing go on in a task of [`Writers`] ([`start`]).

mod candidates;
mod planner;
mod start;
mod writers;

use std::time::{Duration, Instant};

use crate::text_list::TextList;
use serde::{Deserialize, Serialize};
use ulak_core::model::NewMessage;
use ulak_store::{
    Campaign, CampaignQueueing, QUEUEING_ACTIVE, QUEUEING_PRICING, SkippedRow, Store, StoreError,
};

pub use candidates::{Candidate, Candidates, Fields};
use planner::survey;
pub use planner::{Decision, Planner, Setup};
pub use start::{PRICED_AT_ONCE, Started, resume, start, start_with};
pub use writers::Writers;

/// Who a campaign goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    /// Subscribers by id.
    #[serde(default)]
    pub subscriber_ids: Vec<i64>,
    /// Every member of these groups.
    #[serde(default)]
    pub group_ids: Vec<i64>,
    /// Every phone of these customer accounts.
    #[serde(default)]
    pub customer_ids: Vec<i64>,
    /// Pasted numbers, in any common form.
    #[serde(default)]
    pub numbers: TextList,
    /// TC ID numbers (sent with the TC-ID header; needs the TC-ID subscription).
    #[serde(default)]
    pub tckns: TextList,
}

impl Audience {
    /// Whether nobody is named.
    pub fn is_empty(&self) -> bool {
        self.subscriber_ids.is_empty()
            && self.group_ids.is_empty()
            && self.customer_ids.is_empty()
            && self.numbers.is_empty()
            && self.tckns.is_empty()
    }
}

/// How the reasons a recipient is left out begin (the reasons are English sentences, stored
/// with the skipped message; the web UI names these in the user's language).
pub mod why {
    /// A subscriber whose consent is withdrawn.
    pub const OPTED_OUT: &str = "the subscriber opted out";
    /// A number on the company's opt-out list.
    pub const OPT_OUT_LIST: &str = "on the opt-out list";
    /// A pasted number that is not one (followed by `: ` and what is wrong).
    pub const INVALID_NUMBER: &str = "invalid number";
    /// A pasted TC ID number that is not one (followed by `: ` and what is wrong).
    pub const INVALID_TCKN: &str = "invalid TC ID number";
    /// An id of a subscriber, group or customer account that does not exist.
    pub const NO_SUCH: &str = "no such";
    /// A placeholder of the text without a value for the recipient (followed by its names).
    pub const NO_VALUE: &str = "no value for";
}

/// A recipient left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// `msisdn`, `tckn` or `unknown` (unreadable input).
    pub kind: String,
    /// The address (E.164, TC ID number, or the input as given).
    pub address: String,
    /// Why.
    pub reason: String,
}

/// What a campaign would send.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Messages it would send.
    pub recipients: u64,
    /// Recipients left out.
    pub skipped: Vec<Skipped>,
    /// Repeats of a recipient already in the audience, collapsed.
    pub duplicates: u64,
    /// Segments in all.
    pub segments: u64,
    /// Credits in all.
    pub cost: i64,
    /// The first messages' texts as they would be sent (at most [`SAMPLES`]).
    pub samples: Vec<String>,
}

/// How many texts a [`Plan`] keeps as samples.
pub const SAMPLES: usize = 5;

/// Why a campaign cannot be planned at all.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The company lacks what sending needs (a provider account, a sender header).
    #[error("{field}: {message}")]
    Setup {
        /// The field to fix.
        field: &'static str,
        /// Why, as a stable code.
        code: ulak_core::Code,
        /// What is missing.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Money in kuruş as Turkish lira text: `123456` → `1.234,56`.
fn lira(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let v = minor.unsigned_abs();
    let whole = (v / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(ch);
    }
    format!("{sign}{grouped},{:02}", v % 100)
}

/// Candidates per chunk when queueing: each chunk is one transaction. Queueing now runs beside
/// the sending, and SQLite has one writer: a chunk of 5,000 held it for about 100 ms, which a
/// single send accepted meanwhile waited out (bench-priority p99 172 ms); 1,000 keep it near
/// 20 ms (p99 81 ms) at the same campaign rate (docs/benchmarks.md).
pub const CHUNK: usize = 1_000;

/// How long a campaign's queueing may go without a chunk or a sign of life before a node takes
/// it over (the writer died, or its request was dropped).
pub const QUEUE_STALE: Duration = Duration::from_secs(30);

/// How often a writer replaying the audience up to its cursor says it is still at work.
const TOUCH_EVERY: Duration = Duration::from_secs(5);

/// Pasted numbers or TC ID numbers read per refill of a [`Candidates`] buffer.
const INPUT_PAGE: usize = 1_000;

/// Builds the plan of `campaign` as the data stands now (the messages are counted and priced,
/// not kept).
pub async fn plan(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
) -> Result<Plan, PlanError> {
    Ok(survey(store, campaign, audience, true, None).await?.plan)
}

/// How a start or a resume writes the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    /// Candidates per chunk (queued, skipped and duplicates alike); each chunk is one
    /// transaction.
    pub size: usize,
    /// Stop after this many chunks and leave the rest to a resume (tests); `None`: all.
    pub limit: Option<usize>,
}

impl Default for Chunking {
    fn default() -> Self {
        Chunking {
            size: CHUNK,
            limit: None,
        }
    }
}

fn insufficient(cost: i64, balance: i64) -> String {
    format!("insufficient credit: it needs {cost}, the balance is {balance}; add credit and resume")
}

/// The campaign as stored now. Its audience is not read again (a million pasted numbers are
/// 15 MB of JSON, and reading them costs several times that): it is `campaign`'s.
async fn current(store: &Store, campaign: &Campaign) -> Result<Campaign, PlanError> {
    let mut c = store
        .get_campaign_lean(campaign.company_id, campaign.id)
        .await?
        .ok_or(StoreError::NotFound)?;
    c.audience.clone_from(&campaign.audience);
    Ok(c)
}

/// Queues what is left of a started campaign's audience, from its cursor (pass 2 of a start,
/// or its continuation after a crash or a halt). Returns the campaign as it then stands.
pub async fn queue(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
) -> Result<Campaign, PlanError> {
    queue_with(store, campaign, audience, Chunking::default()).await
}

/// [`queue`] with the given chunking.
pub async fn queue_with(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
    chunking: Chunking,
) -> Result<Campaign, PlanError> {
    if let Some(q) = store
        .campaign_queueing(campaign.company_id, campaign.id)
        .await?
        && q.queueing == QUEUEING_ACTIVE
    {
        write_from(store, campaign, audience, q.queued_pos, chunking).await?;
    }
    current(store, campaign).await
}

/// Pass 2 of a start, or its continuation, from cursor `pos`. Returns when the queueing is
/// done, halted, taken over by another writer or cancelled (or after `chunking.limit`
/// chunks); the caller reads the campaign as it then stands.
///
/// The first `pos` candidates were written by an earlier writer: they are only counted
/// as seen (no rendering, no writes), and so is every recipient the campaign already has a
/// message for, in case the audience's data moved since. Then each chunk of `chunking.size`
/// candidates is written in one transaction that moves the cursor only if it is still where
/// this writer found it; if it is not (another node took over, the campaign was cancelled)
/// this writer stops. A chunk that costs more than is left of the start's reservation reserves
/// the excess; if the balance cannot cover it the queueing halts with the campaign paused
/// until a resume. The last chunk releases what is left of the reservation.
async fn write_from(
    store: &Store,
    campaign: &Campaign,
    audience: &Audience,
    mut pos: i64,
    chunking: Chunking,
) -> Result<(), PlanError> {
    let (company, id) = (campaign.company_id, campaign.id);
    let halt = |pos: i64, reason: String| async move {
        // Not halted when the cursor moved meanwhile: then another writer carries on.
        store
            .halt_campaign_queueing(company, id, pos, &reason)
            .await
            .map(drop)
            .map_err(PlanError::from)
    };
    let mut planner = match Planner::new(store, campaign).await {
        Ok(p) => p,
        Err(PlanError::Setup { field, message, .. }) => {
            return halt(
                pos,
                format!("queueing stopped: {field}: {message}; fix it and resume"),
            )
            .await;
        }
        Err(e) => return Err(e),
    };
    planner.expect(audience);
    let mut source = planner.candidates(store, company, audience);

    // Replay up to the cursor, saying now and then that this writer is at work.
    let mut replayed = 0i64;
    let mut touched = Instant::now();
    while replayed < pos {
        let Some(c) = source.next().await? else {
            break;
        };
        planner.replay(&c);
        replayed += 1;
        if touched.elapsed() >= TOUCH_EVERY {
            if !store.touch_campaign_queueing(company, id, pos).await? {
                return Ok(());
            }
            touched = Instant::now();
        }
    }
    if pos > 0 {
        if !store.touch_campaign_queueing(company, id, pos).await? {
            return Ok(());
        }
        store
            .for_each_campaign_recipient(company, id, |kind, address| {
                planner.remember_stored(kind, address);
            })
            .await?;
    }

    let size = chunking.size.max(1);
    let mut messages: Vec<NewMessage> = Vec::new();
    let mut skipped: Vec<SkippedRow> = Vec::new();
    let mut taken = 0usize;
    let mut chunks = 0usize;
    loop {
        let next = source.next().await?;
        let end = next.is_none();
        if let Some(c) = next {
            taken += 1;
            match planner.decide(c) {
                Decision::Message(m) => messages.push(m),
                Decision::Skipped(s) => skipped.push((s.kind, s.address, s.reason)),
                Decision::Duplicate => {}
            }
        }
        if taken == size || (end && taken > 0) {
            let new_pos = pos + i64::try_from(taken).unwrap_or(i64::MAX);
            match store
                .queue_campaign_chunk(company, id, pos, new_pos, &messages, &skipped)
                .await
            {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(StoreError::InsufficientCredit { balance, amount }) => {
                    return halt(
                        pos,
                        format!(
                            "insufficient credit: the recipients added since the start need {} \
                             more, the balance is {balance}; add credit and resume",
                            amount.unsigned_abs()
                        ),
                    )
                    .await;
                }
                Err(e) => return Err(e.into()),
            }
            pos = new_pos;
            taken = 0;
            messages.clear();
            skipped.clear();
            chunks += 1;
            if !end && chunking.limit.is_some_and(|l| chunks >= l) {
                return Ok(());
            }
        }
        if end {
            break;
        }
    }
    // The dedupe set goes before the end's reads.
    drop(source);
    drop(planner);
    store.finish_campaign_queueing(company, id, pos).await?;
    Ok(())
}

/// Takes up the queueing `q`, left by a writer that stopped (the supervisor's recovery), until
/// it is done: prices the audience first if that was not done, then writes from the cursor.
/// An unreadable stored audience halts it.
pub async fn continue_queueing(store: Store, q: CampaignQueueing) {
    let (company, id, pos) = (q.company_id, q.campaign_id, q.queued_pos);
    let mut campaign = match store.get_campaign(company, id).await {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(campaign = id, error = %e, "campaign queueing: loading the campaign failed; it will be taken up again");
            return;
        }
    };
    // The stored JSON is not needed once read (it can be megabytes).
    let json = std::mem::take(&mut campaign.audience);
    let parsed = serde_json::from_str::<Audience>(&json);
    drop(json);
    let audience = match parsed {
        Ok(a) => a,
        Err(e) => {
            let reason = format!("queueing stopped: the stored audience is unreadable: {e}");
            let halted = if q.queueing == QUEUEING_PRICING {
                let action = ulak_core::model::CampaignAction::Halt;
                store.unstart_campaign(company, id, action, &reason).await
            } else {
                store
                    .halt_campaign_queueing(company, id, pos, &reason)
                    .await
            };
            if let Err(e) = halted {
                tracing::warn!(campaign = id, error = %e, "halting a campaign's queueing failed");
            }
            return;
        }
    };
    tracing::info!(campaign = id, from = pos, "taking up a campaign's queueing");
    let work = if q.queueing == QUEUEING_PRICING {
        start::Work::Price
    } else {
        start::Work::Write(pos)
    };
    // Dropped mid-chunk (the writers stop), the chunk is rolled back; the next taker goes on
    // from the cursor.
    match start::run(&store, &campaign, &audience, work, Chunking::default()).await {
        Ok(()) => tracing::info!(campaign = id, "campaign queueing taken up and left"),
        Err(e) => {
            tracing::warn!(campaign = id, error = %e, "campaign queueing failed; it will be taken up again");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lira_is_written_the_turkish_way() {
        assert_eq!(super::lira(123_456), "1.234,56");
        assert_eq!(super::lira(5), "0,05");
        assert_eq!(super::lira(-10_000_000), "-100.000,00");
    }
}
