//! What the campaign routes answer: a campaign with its counts and queueing, and a preview.

use std::collections::BTreeMap;

use serde::Serialize;
use ulak_core::model::CampaignState;
use ulak_store::{
    Campaign, CampaignQueueing, QUEUEING_ACTIVE, QUEUEING_DONE, QUEUEING_HALTED, QUEUEING_PRICING,
};
use utoipa::ToSchema;

use crate::routes::common::Millis;

/// A campaign with its counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignOut {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// draft, running, paused, finished or cancelled.
    pub state: String,
    /// Why (a pause for credit, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// Sender header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// The text.
    pub text: String,
    /// Recipients with a message: the plan's count once the start has priced the audience,
    /// the final count once the queueing is done (0 before either: a large audience the
    /// balance covers at once is queued without a plan; see `queueing`).
    pub recipients: i64,
    /// Recipients left out (see the `skipped` messages for each reason); counted like
    /// `recipients`.
    pub skipped: i64,
    /// Credits reserved: the plan's cost, or while a start queues without a plan the most it
    /// can cost (the excess is released when the queueing is done); then what was queued.
    pub cost: i64,
    /// Messages per state, live.
    pub counts: BTreeMap<String, i64>,
    /// Created, unix ms.
    pub created_at: Millis,
    /// Started, unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Millis>,
    /// Finished or cancelled, unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Millis>,
    /// How the queueing of its recipients stands; absent until it starts (and for one paused
    /// for credit at its start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queueing: Option<QueueingOut>,
}

/// Where the queueing of a campaign's recipients is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueingState {
    /// The start is recorded and the audience is being priced; nothing is reserved or sent
    /// until its cost is reserved (if the balance cannot cover it, the campaign ends `paused`
    /// with the reason and nothing sent).
    Pricing,
    /// Recipients are being written; those written are sent while the campaign runs.
    Active,
    /// Stopped until a resume (credit ran short, the setup broke: see `state_reason`).
    Halted,
    /// Every recipient is written, or the campaign was cancelled.
    Done,
}

/// The progress of a campaign's queueing, in audience entries (each recipient as given:
/// queued, left out or collapsed as a repeat).
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueingOut {
    /// Where it is.
    pub state: QueueingState,
    /// Entries written so far.
    pub written: i64,
    /// Entries in all: counted when the start was recorded, exact once done.
    pub total: Option<i64>,
    /// Entries never written because the campaign was cancelled first (total minus written):
    /// no message, nothing sent, nothing charged. 0 otherwise.
    pub not_queued: i64,
}

fn queueing_out(c: &Campaign, q: &CampaignQueueing) -> Option<QueueingOut> {
    let state = match q.queueing {
        QUEUEING_PRICING => QueueingState::Pricing,
        QUEUEING_ACTIVE => QueueingState::Active,
        QUEUEING_HALTED => QueueingState::Halted,
        QUEUEING_DONE => QueueingState::Done,
        _ => return None,
    };
    let not_queued = match (c.state, q.total) {
        (CampaignState::Cancelled, Some(total)) => total.saturating_sub(q.queued_pos).max(0),
        _ => 0,
    };
    Some(QueueingOut {
        state,
        written: q.queued_pos,
        total: q.total,
        not_queued,
    })
}

pub(super) fn out(
    c: Campaign,
    counts: BTreeMap<String, i64>,
    queueing: Option<&CampaignQueueing>,
) -> CampaignOut {
    CampaignOut {
        queueing: queueing.and_then(|q| queueing_out(&c, q)),
        id: c.id,
        name: c.name,
        state: c.state.as_str().to_owned(),
        state_reason: c.state_reason,
        sender: c.sender,
        text: c.body,
        recipients: c.recipients,
        skipped: c.skipped,
        cost: c.cost,
        counts,
        created_at: c.created_at,
        started_at: c.started_at,
        finished_at: c.finished_at,
    }
}

/// A recipient left out.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkippedOut {
    /// `msisdn`, `tckn` or `unknown`.
    pub kind: String,
    /// The address or the input.
    pub address: String,
    /// Why.
    pub reason: String,
}

/// What a campaign would send now.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewOut {
    /// Messages it would send.
    pub recipients: usize,
    /// Segments in all.
    pub segments: u64,
    /// Credits in all.
    pub cost: i64,
    /// The company's balance now.
    pub balance: i64,
    /// Repeats collapsed.
    pub duplicates: u64,
    /// Recipients left out, with the reason (at most 1,000 listed).
    pub skipped: Vec<SkippedOut>,
    /// How many are left out in all.
    pub skipped_total: usize,
    /// The first messages as they would be sent (at most 5).
    pub samples: Vec<String>,
}
