//! The two loops of an account, each around one testable step: submitting (claim a batch,
//! submit it, record the outcomes in one write) and receipts (apply a batch in one write).

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use ulak_core::model::{CompanyId, Message, ProviderAccountId};
use ulak_smpp::client::{Ack, Event};
use ulak_store::{
    InboundIn, ReceiptIn, ReceiptStats, Store, StoreError, SubmitOutcome, SubmitResult,
};

use crate::metrics::SubmitKind;
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
    /// Where submits are counted.
    pub metrics: crate::metrics::Metrics,
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
                at: now_ms.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)),
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
    let claimed = claim(store, account, s).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let outcomes = submit_all(provider, account, s, &claimed).await;
    if let Err(e) = store.record_submits(outcomes).await {
        s.metrics.store_error(account.0);
        return Err(e);
    }
    Ok(claimed.len())
}

/// Claims up to a batch of due messages under this worker's lease.
async fn claim(
    store: &Store,
    account: ProviderAccountId,
    s: &SubmitSettings,
) -> Result<Vec<Message>, StoreError> {
    let lease = i64::try_from(s.lease.as_millis()).unwrap_or(i64::MAX / 2);
    store
        .claim_messages(account, &s.owner, s.batch, lease)
        .await
}

/// Submits claimed messages all at once (the provider's window bounds what is in flight)
/// and turns each attempt into the outcome to record.
async fn submit_all<P: Provider>(
    provider: &P,
    account: ProviderAccountId,
    s: &SubmitSettings,
    claimed: &[Message],
) -> Vec<SubmitOutcome> {
    let attempts = futures_util::future::join_all(claimed.iter().map(|m| async move {
        let started = std::time::Instant::now();
        let a = provider.submit(m).await;
        (a, started.elapsed())
    }))
    .await;
    let now = now_ms();
    claimed
        .iter()
        .zip(attempts)
        .map(|(m, (a, took))| {
            let o = outcome(m, a, s, now);
            let kind = match o.result {
                SubmitResult::Submitted { .. } => SubmitKind::Submitted,
                SubmitResult::Retry { .. } => SubmitKind::Retried,
                SubmitResult::Failed { .. } => SubmitKind::Failed,
            };
            s.metrics.submit(account.0, kind, took);
            o
        })
        .collect()
}

/// Records a batch of outcomes in the background, retrying the write for a while: the
/// next batch is claimed and submitted meanwhile, so the operator link does not sit idle
/// while the store writes. Messages whose outcome could never be written stay leased and
/// go back to the queue when the lease ends.
fn record_in_background(
    store: &Store,
    account: ProviderAccountId,
    metrics: crate::metrics::Metrics,
    outcomes: Vec<SubmitOutcome>,
) -> tokio::task::JoinHandle<()> {
    let store = store.clone();
    tokio::spawn(async move {
        let r = retrying(account, "submit outcomes", || {
            store.record_submits(outcomes.clone())
        })
        .await;
        if let Err(e) = r {
            metrics.store_error(account.0);
            tracing::error!(account = account.0, error = %e, "submit outcomes could not be stored");
        }
    })
}

/// Runs the submit loop until `stop`. While one batch is being submitted, the store
/// records the previous batch's outcomes and then claims the next batch, so the operator
/// link never waits for the database while there is work. Waits `idle` when nothing is
/// due and backs off on store errors (logged, never fatal). On stop, a batch claimed ahead
/// and not submitted is given back to the queue.
pub async fn submit_loop<P: Provider>(
    store: Store,
    provider: &P,
    account: ProviderAccountId,
    s: SubmitSettings,
    idle: Duration,
    stop: CancellationToken,
) {
    let mut since_expire = std::time::Instant::now();
    let mut since_opt_out_pass = std::time::Instant::now();
    let mut opt_out_mark: Option<i64> = None;
    // The batch to submit next, claimed while the previous one was being submitted.
    let mut ahead: Vec<Message> = Vec::new();
    // The previous batch's outcomes being written.
    let mut recording: Option<tokio::task::JoinHandle<()>> = None;
    while !stop.is_cancelled() {
        if since_expire.elapsed() > Duration::from_secs(5) {
            since_expire = std::time::Instant::now();
            if let Err(e) = store.expire_due(account).await {
                tracing::warn!(account = account.0, error = %e, "expiring messages failed");
            }
            // That pass reads every queued message: it runs when the opt-out list grew, and
            // now and then in any case (an entry removed and added again can keep the mark).
            // Until then the claim already leaves opted-out recipients out.
            let mark = store.opt_outs_mark().await.ok();
            if mark.is_none_or(|m| Some(m) != opt_out_mark)
                || since_opt_out_pass.elapsed() > OPT_OUT_PASS
            {
                since_opt_out_pass = std::time::Instant::now();
                match store.skip_opted_out(account).await {
                    Ok(_) => opt_out_mark = mark,
                    Err(e) => {
                        tracing::warn!(account = account.0, error = %e, "skipping opted-out recipients failed");
                    }
                }
            }
        }
        let current = if ahead.is_empty() {
            match claim(&store, account, &s).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(account = account.0, error = %e, "claiming messages failed");
                    sleep_or_stop(Duration::from_secs(1), &stop).await;
                    continue;
                }
            }
        } else {
            std::mem::take(&mut ahead)
        };
        if current.is_empty() {
            // Nothing due: let the last batch land before idling, so its state shows at once.
            if let Some(previous) = recording.take() {
                let _ = previous.await;
            }
            sleep_or_stop(idle, &stop).await;
            continue;
        }
        let previous = recording.take();
        let next = async {
            if let Some(previous) = previous {
                let _ = previous.await;
            }
            if stop.is_cancelled() {
                return Vec::new();
            }
            claim(&store, account, &s).await.unwrap_or_else(|e| {
                tracing::warn!(account = account.0, error = %e, "claiming messages failed");
                Vec::new()
            })
        };
        let (outcomes, next) = tokio::join!(submit_all(provider, account, &s, &current), next);
        recording = Some(record_in_background(
            &store,
            account,
            s.metrics.clone(),
            outcomes,
        ));
        ahead = next;
    }
    if let Some(previous) = recording.take() {
        let _ = previous.await;
    }
    if !ahead.is_empty() {
        let ids: Vec<_> = ahead.iter().map(|m| m.id).collect();
        if let Err(e) = store.release_claims(&s.owner, &ids).await {
            tracing::warn!(account = account.0, error = %e, "giving back claimed messages failed; their lease will run out");
        }
    }
}

/// The longest wait between two passes that skip opted-out recipients still queued.
const OPT_OUT_PASS: Duration = Duration::from_secs(300);

/// Sleeps for `wait`, or less if `stop` comes first.
async fn sleep_or_stop(wait: Duration, stop: &CancellationToken) {
    tokio::select! {
        () = stop.cancelled() => {}
        () = tokio::time::sleep(wait) => {}
    }
}

/// How long a receipt that matches no recorded submit is held, unacknowledged, before it
/// is kept as unmatched: long enough for the submit record it overtook to be written.
pub const RECEIPT_HOLD: Duration = Duration::from_secs(2);

/// How long a receipt step waits for more when few receipts are there.
const RECEIPT_LINGER: Duration = Duration::from_millis(5);

/// A receipt that matched nothing yet, held for another try.
#[derive(Debug)]
pub struct HeldReceipt {
    receipt: ReceiptIn,
    ack: Ack,
    since: Instant,
}

/// One step of the receipt loop: waits for at least one event (at most a moment while
/// receipts are held), takes what else is already there (up to `max`), and applies the
/// receipts with the held ones in one write. `None` when the channel closed and nothing
/// is held.
///
/// Receipts are acknowledged to the SMSC only once that write succeeded; when it finally
/// fails their acks are dropped, which asks the SMSC to deliver them again, so a crash or a
/// store outage never loses one (a repeat is recorded as a duplicate). A receipt that
/// matches nothing is held up to [`RECEIPT_HOLD`] (it usually overtook its submit record,
/// which is being written) and then kept as unmatched.
pub async fn receipt_step(
    store: &Store,
    company: CompanyId,
    account: ProviderAccountId,
    events: &mut mpsc::UnboundedReceiver<Event>,
    max: usize,
    held: &mut Vec<HeldReceipt>,
) -> Option<Result<ReceiptStats, StoreError>> {
    let mut closed = false;
    let first = if held.is_empty() {
        Some(events.recv().await?)
    } else {
        match tokio::time::timeout(Duration::from_millis(20), events.recv()).await {
            Ok(Some(e)) => Some(e),
            Ok(None) => {
                closed = true;
                None
            }
            Err(_) => None,
        }
    };
    let now = Instant::now();
    let mut batch: Vec<HeldReceipt> = std::mem::take(held);
    let mut inbound: Vec<InboundIn> = Vec::new();
    let mut inbound_acks: Vec<Ack> = Vec::new();
    let mut take = |e: Event| match e {
        Event::Receipt(r, ack) => match receipt_in(&r) {
            Some(receipt) => batch.push(HeldReceipt {
                receipt,
                ack,
                since: now,
            }),
            // Intermediate (en route, accepted): nothing to record.
            None => ack.accept(),
        },
        Event::Inbound(m, ack) => {
            inbound.push(InboundIn {
                sender: m.source.clone(),
                recipient: m.dest.clone(),
                body: m.text.clone().unwrap_or_default(),
                complete: m.complete,
            });
            inbound_acks.push(ack);
        }
    };
    let mut taken = 0;
    if let Some(e) = first {
        take(e);
        taken = 1;
    }
    // Take what is there; when that is little, linger a moment for more: receipts come in
    // a stream, and one write for many costs about what one write for a few does.
    for round in 0..2 {
        while taken < max {
            match events.try_recv() {
                Ok(e) => {
                    take(e);
                    taken += 1;
                }
                Err(_) => break,
            }
        }
        if round == 0 && taken > 0 && taken < max / 4 {
            tokio::time::sleep(RECEIPT_LINGER).await;
        }
    }
    // Receipts first, then the inbox; each is acknowledged only once stored. A write is
    // retried for a while; giving up drops the acks unanswered, so the SMSC delivers them
    // again (a repeat is recorded as a duplicate), and nothing is lost.
    let receipts = if batch.is_empty() {
        Ok(ReceiptStats::default())
    } else {
        let offered: Vec<(ReceiptIn, bool)> = batch
            .iter()
            .map(|h| {
                let keep = closed || now.duration_since(h.since) >= RECEIPT_HOLD;
                (h.receipt.clone(), keep)
            })
            .collect();
        let r = retrying(account, "receipts", || {
            store.apply_receipts_or_hold(company, account, offered.clone())
        })
        .await;
        match r {
            Ok((stats, again)) => {
                let mut again = again.into_iter().peekable();
                for (i, h) in batch.into_iter().enumerate() {
                    if again.peek() == Some(&i) {
                        again.next();
                        held.push(h);
                    } else {
                        h.ack.accept();
                    }
                }
                Ok(stats)
            }
            // The acks go unanswered: the SMSC delivers these again.
            Err(e) => Err(e),
        }
    };
    if !inbound.is_empty() {
        match retrying(account, "inbound messages", || {
            store.store_inbound(company, Some(account), inbound.clone())
        })
        .await
        {
            Ok(st) => {
                inbound_acks.into_iter().for_each(Ack::accept);
                if st.opted_out > 0 {
                    tracing::info!(
                        account = account.0,
                        senders = st.opted_out,
                        "opt-out keywords received"
                    );
                }
            }
            Err(e) => {
                drop(inbound_acks);
                tracing::error!(account = account.0, error = %e, "inbound messages could not be stored");
            }
        }
    }
    Some(receipts)
}

/// Runs a store write, retrying it with a growing pause for about 50 seconds.
async fn retrying<T, F, Fut>(account: ProviderAccountId, what: &str, f: F) -> Result<T, StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if delay < Duration::from_secs(30) => {
                tracing::warn!(account = account.0, error = %e, "storing {what} failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ulak_core::CountryType;
    use ulak_core::model::{NewProviderAccount, ProviderAccountDraft};
    use ulak_smpp::client::{Client, ClientConfig};
    use ulak_smpp::pdu::{Address, ShortMessage};
    use ulak_smpp::sim::{Counts, InboundConcat, Inject, SimConfig, SimHandle, Simulator};
    use ulak_store::DEFAULT_COMPANY;

    use super::*;

    async fn counts_until(s: &SimHandle, done: impl Fn(&Counts) -> bool) -> Counts {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let c = s.counts();
            if done(&c) || Instant::now() > end {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Receipts are answered to the SMSC only once `receipt_step` has stored them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn receipts_are_acknowledged_after_they_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(
            &format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()),
            [7; 32],
        )
        .await
        .unwrap();
        let company = store
            .get_company_by_name(DEFAULT_COMPANY)
            .await
            .unwrap()
            .unwrap()
            .id;
        let draft = ProviderAccountDraft {
            name: "Simülatör".into(),
            kind: "simulator".into(),
            host: "builtin".into(),
            port: 2775,
            system_id: "ulak".into(),
            enabled: true,
            ..ProviderAccountDraft::default()
        };
        let account = store
            .create_provider_account(
                company,
                NewProviderAccount::new(draft, CountryType::Tr, &Default::default()).unwrap(),
            )
            .await
            .unwrap()
            .id;
        let sim = Simulator::start(SimConfig::default()).await.unwrap();
        let (client, mut events) = Client::start(ClientConfig {
            addr: sim.local_addr().to_string(),
            system_id: "ulak".into(),
            password: "secret".into(),
            ..ClientConfig::default()
        });
        assert!(client.wait_bound(Duration::from_secs(5)).await);
        for i in 0..2 {
            client
                .submit(ShortMessage {
                    source: Address::new(5, 0, "ULAK"),
                    dest: Address::new(1, 1, format!("90532000000{i}")),
                    registered_delivery: 1,
                    short_message: "hello".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        sim.inject_inbound(&Inject {
            system_id: None,
            from: "905321234567".into(),
            to: "4545".into(),
            text: "merhaba".into(),
            concat: InboundConcat::Udh8,
            reverse: false,
        })
        .unwrap();
        let c = counts_until(&sim, |c| c.receipts_sent == 2 && c.inbound_sent == 1).await;
        assert_eq!((c.receipts_sent, c.inbound_sent), (2, 1));
        // Sent, received by the client, but not answered while nothing stored them.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(sim.counts().deliver_acked, 0);

        let mut unmatched = 0;
        let mut held = Vec::new();
        let end = Instant::now() + Duration::from_secs(10);
        while sim.counts().deliver_acked < 3 && Instant::now() < end {
            let step = receipt_step(&store, company, account, &mut events, 1000, &mut held);
            if let Ok(r) = tokio::time::timeout(Duration::from_secs(2), step).await {
                unmatched += r.unwrap().unwrap().unmatched;
            }
        }
        // Neither matches a stored message; both are kept as unmatched, then acknowledged.
        assert_eq!(unmatched, 2);
        let c = counts_until(&sim, |c| c.deliver_acked == 3).await;
        assert_eq!(
            (c.deliver_acked, c.deliver_nacked, c.redelivered),
            (3, 0, 0)
        );
        client.shutdown().await;
    }
}
