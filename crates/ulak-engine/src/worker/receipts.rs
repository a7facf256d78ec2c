//! The receipt loop's step: delivery reports and inbound messages from the provider, stored
//! in batches and acknowledged to the SMSC only once stored.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use ulak_core::model::{CompanyId, ProviderAccountId};
use ulak_smpp::client::{Ack, Event};
use ulak_store::{InboundIn, ReceiptIn, ReceiptStats, Store, StoreError};

use super::retrying;
use crate::smpp::receipt_in;

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
                // No text (8-bit data): keep the bytes rather than store an empty message.
                body_raw: m.text.is_none().then(|| m.payload.clone()),
                data_coding: Some(m.data_coding),
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
