//! The receipt loop's step: delivery reports and inbound messages from the provider, stored
//! in batches and acknowledged to the operator only once stored.

use std::time::{Duration, Instant};

use ulak_core::model::{CompanyId, ProviderAccountId};
use ulak_store::{InboundIn, ReceiptIn, ReceiptStats, Store, StoreError};

use super::retrying;
use crate::provider::{Ack, Events, ProviderEvent};

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
/// Receipts are acknowledged to the operator only once that write succeeded; when it finally
/// fails their acks are dropped, which asks the operator to deliver them again, so a crash or a
/// store outage never loses one (a repeat is recorded as a duplicate). A receipt that
/// matches nothing is held up to [`RECEIPT_HOLD`] (it usually overtook its submit record,
/// which is being written) and then kept as unmatched.
pub async fn receipt_step(
    store: &Store,
    company: CompanyId,
    account: ProviderAccountId,
    events: &mut Events,
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
    let mut take = |e: ProviderEvent| match e {
        ProviderEvent::Receipt(receipt, ack) => batch.push(HeldReceipt {
            receipt,
            ack,
            since: now,
        }),
        ProviderEvent::Inbound(m, ack) => {
            inbound.push(m);
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
    // retried for a while; giving up drops the acks unanswered, so the operator delivers them
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
            // The acks go unanswered: the operator delivers these again.
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use tokio::sync::mpsc;
    use ulak_core::CountryType;
    use ulak_core::model::{ListQuery, MessageState, NewProviderAccount, ProviderAccountDraft};
    use ulak_store::DEFAULT_COMPANY;

    use super::*;

    /// A store in a directory of its own (kept as long as the returned guard).
    async fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::connect(&url, [7; 32]).await.unwrap();
        (dir, store)
    }

    /// A delivery report for `operator_id`.
    fn delivered(operator_id: &str) -> ReceiptIn {
        ReceiptIn {
            operator_ids: vec![operator_id.to_owned()],
            state: MessageState::Delivered,
            error_code: None,
            raw: String::new(),
        }
    }

    /// An inbound text message.
    fn text_in() -> InboundIn {
        InboundIn {
            sender: "905321234567".into(),
            recipient: "4545".into(),
            body: "merhaba".into(),
            body_raw: None,
            data_coding: Some(0),
            complete: true,
        }
    }

    fn ack() -> (Ack, Arc<AtomicBool>) {
        let done = Arc::new(AtomicBool::new(false));
        let seen = done.clone();
        (Ack::new(move || seen.store(true, Ordering::SeqCst)), done)
    }

    /// When the store cannot take them (after its retries), no event is acknowledged: the
    /// acks are dropped unanswered, so the operator delivers the events again.
    #[tokio::test]
    async fn events_the_store_cannot_take_are_not_acknowledged() {
        let (_dir, store) = temp_store().await;
        store.close().await;
        // The writes' retries wait about a minute in all: let the clock jump over them.
        tokio::time::pause();
        let (tx, mut events) = mpsc::unbounded_channel();
        let dropped = Arc::new(AtomicBool::new(false));
        let mut answers = Vec::new();
        for i in 0..2 {
            // Each ack notes whether it was accepted, and (through what it owns) when it goes.
            let guard = DropFlag(dropped.clone());
            let (a, done) = ack();
            let a = Ack::new(move || {
                let _keep = &guard;
                a.accept();
            });
            answers.push(done);
            if i == 0 {
                let r = delivered("op-1");
                tx.send(ProviderEvent::Receipt(r, a)).unwrap();
            } else {
                let m = text_in();
                tx.send(ProviderEvent::Inbound(m, a)).unwrap();
            }
        }
        drop(tx);
        let mut held = Vec::new();
        let r = receipt_step(
            &store,
            ulak_core::model::CompanyId(1),
            ulak_core::model::ProviderAccountId(1),
            &mut events,
            1000,
            &mut held,
        )
        .await
        .unwrap();
        assert!(r.is_err(), "{r:?}");
        assert!(held.is_empty());
        assert!(answers.iter().all(|d| !d.load(Ordering::SeqCst)));
        assert!(dropped.load(Ordering::SeqCst), "the acks were dropped");
    }

    /// Sets its flag when dropped.
    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// Events are acknowledged only once `receipt_step` has stored them; a receipt that
    /// matches nothing is held unacknowledged for a while first.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn events_are_acknowledged_after_they_are_stored() {
        let (_dir, store) = temp_store().await;
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
        let (tx, mut events) = mpsc::unbounded_channel();
        let mut receipts = Vec::new();
        for i in 0..2 {
            let (a, done) = ack();
            let r = delivered(&format!("nowhere-{i}"));
            tx.send(ProviderEvent::Receipt(r, a)).unwrap();
            receipts.push(done);
        }
        let (a, inbound) = ack();
        let m = text_in();
        tx.send(ProviderEvent::Inbound(m, a)).unwrap();

        let mut held = Vec::new();
        let first = receipt_step(&store, company, account, &mut events, 1000, &mut held)
            .await
            .unwrap()
            .unwrap();
        // The inbound message is stored and acknowledged; the receipts match nothing yet and
        // are held, unanswered.
        assert_eq!(first.unmatched, 0);
        assert_eq!(held.len(), 2);
        assert!(inbound.load(Ordering::SeqCst));
        assert!(receipts.iter().all(|d| !d.load(Ordering::SeqCst)));
        let page = store
            .list_inbound(company, &ListQuery::default())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);

        let mut unmatched = 0;
        let end = Instant::now() + Duration::from_secs(10);
        while !held.is_empty() && Instant::now() < end {
            let r = receipt_step(&store, company, account, &mut events, 1000, &mut held).await;
            unmatched += r.unwrap().unwrap().unmatched;
        }
        // Past the hold they are kept as unmatched, and only then acknowledged.
        assert_eq!(unmatched, 2);
        assert!(receipts.iter().all(|d| d.load(Ordering::SeqCst)));
        drop(tx);
        assert!(
            receipt_step(&store, company, account, &mut events, 1000, &mut held)
                .await
                .is_none()
        );
    }
}
