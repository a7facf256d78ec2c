//! The two loops of an account, each around one testable step: submitting (claim a batch,
//! submit it, record the outcomes in one write) and receipts (apply a batch in one write).

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use ulak_core::model::{CompanyId, Message, ProviderAccountId};
use ulak_smpp::client::Event;
use ulak_store::{ReceiptStats, Store, StoreError, SubmitOutcome, SubmitResult};

use crate::provider::{Attempt, Provider, backoff};
use crate::smpp::receipt_in;

/// How the submit loop behaves.
#[derive(Debug, Clone)]
pub struct SubmitSettings {
    /// Who holds the leases (unique per process).
    pub owner: String,
    /// Messages claimed at a time.
    pub batch: usize,
    /// How long a claim lasts before another worker may take the message again.
    pub lease: Duration,
    /// Attempts before a message fails for good.
    pub max_attempts: u32,
    /// First retry delay.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
}

/// The outcome of one attempt, as the store records it.
pub fn outcome(m: &Message, attempt: Attempt, s: &SubmitSettings, now_ms: i64) -> SubmitOutcome {
    let result = match attempt {
        Attempt::Accepted(operator_ids) => SubmitResult::Submitted { operator_ids },
        Attempt::Permanent { reason, code } => SubmitResult::Failed { reason, code },
        Attempt::Transient(reason) if m.attempts >= s.max_attempts => SubmitResult::Failed {
            reason: format!("gave up after {} attempts: {reason}", m.attempts),
            code: None,
        },
        Attempt::Transient(reason) => {
            let wait = backoff(m.attempts, s.retry_base, s.retry_max);
            SubmitResult::Retry {
                reason: format!("attempt {} failed: {reason}; retrying", m.attempts),
                at: now_ms + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2),
            }
        }
    };
    SubmitOutcome { id: m.id, result }
}

/// One step of the submit loop: claims up to `batch` due messages of `account`, submits
/// them all at once (the provider's window bounds what is in flight), and records every
/// outcome in one write. Returns how many were claimed.
pub async fn submit_step<P: Provider>(
    store: &Store,
    provider: &P,
    account: ProviderAccountId,
    s: &SubmitSettings,
) -> Result<usize, StoreError> {
    let lease = i64::try_from(s.lease.as_millis()).unwrap_or(i64::MAX / 2);
    let claimed = store
        .claim_messages(account, &s.owner, s.batch, lease)
        .await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let attempts = futures_util::future::join_all(claimed.iter().map(|m| provider.submit(m))).await;
    let now = now_ms();
    let outcomes = claimed
        .iter()
        .zip(attempts)
        .map(|(m, a)| outcome(m, a, s, now))
        .collect();
    store.record_submits(outcomes).await?;
    Ok(claimed.len())
}

/// Runs the submit loop until `stop`: steps back to back while there is work, waits `idle`
/// when there is none, and backs off on store errors (logged, never fatal).
pub async fn submit_loop<P: Provider>(
    store: Store,
    provider: &P,
    account: ProviderAccountId,
    s: SubmitSettings,
    idle: Duration,
    stop: CancellationToken,
) {
    let mut since_expire = std::time::Instant::now();
    while !stop.is_cancelled() {
        if since_expire.elapsed() > Duration::from_secs(5) {
            since_expire = std::time::Instant::now();
            if let Err(e) = store.expire_due(account).await {
                tracing::warn!(account = account.0, error = %e, "expiring messages failed");
            }
        }
        let wait = match submit_step(&store, provider, account, &s).await {
            Ok(0) => idle,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(account = account.0, error = %e, "submit step failed");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// One step of the receipt loop: waits for at least one event, takes what else is already
/// there (up to `max`), and applies the receipts in one write. `None` when the channel
/// closed.
pub async fn receipt_step(
    store: &Store,
    company: CompanyId,
    account: ProviderAccountId,
    events: &mut mpsc::UnboundedReceiver<Event>,
    max: usize,
) -> Option<Result<ReceiptStats, StoreError>> {
    let first = events.recv().await?;
    let mut batch = Vec::new();
    let take = |e: Event, batch: &mut Vec<_>| match e {
        Event::Receipt(r) => batch.extend(receipt_in(&r)),
        Event::Inbound(m) => {
            // Stored by the inbox (a later step of issue 6); counted here meanwhile.
            tracing::info!(
                account = account.0,
                parts = m.parts,
                "inbound message received"
            );
        }
    };
    take(first, &mut batch);
    while batch.len() < max {
        match events.try_recv() {
            Ok(e) => take(e, &mut batch),
            Err(_) => break,
        }
    }
    if batch.is_empty() {
        return Some(Ok(ReceiptStats::default()));
    }
    // A failed write is retried: the receipts are already acknowledged to the SMSC, so
    // dropping them would lose them.
    let mut delay = Duration::from_millis(100);
    loop {
        match store.apply_receipts(company, account, batch.clone()).await {
            Ok(s) => return Some(Ok(s)),
            Err(e) if delay < Duration::from_secs(30) => {
                tracing::warn!(account = account.0, error = %e, "storing receipts failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => return Some(Err(e)),
        }
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
