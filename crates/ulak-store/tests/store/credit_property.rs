//! Credit under random sequences of what sending does — single sends, batches, top-ups,
//! submits, failures, retries, expiry, opt-outs — checked after every step: the balance is
//! never negative, it equals the sum of the ledger, and it equals purchases minus the cost of
//! every message that still holds or has spent its credit.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::{Store, StoreError, SubmitOutcome, SubmitResult};

use crate::helpers::{TestDb, company, simulator_account};

crate::store_tests!(credit_holds_under_random_sequences);

/// Messages whose credit is reserved or charged (everything but released states).
async fn holding(s: &Store, c: CompanyId, ids: &[MessageId]) -> i64 {
    let mut total = 0;
    for id in ids {
        let m = s.get_message(c, *id).await.unwrap().unwrap().message;
        if !matches!(
            m.state,
            MessageState::Failed
                | MessageState::Expired
                | MessageState::Skipped
                | MessageState::Cancelled
        ) || m.submitted_at.is_some()
        {
            total += m.cost;
        }
    }
    total
}

async fn credit_holds_under_random_sequences(db: &TestDb) {
    let s = &db.store;
    let sequences: u64 = std::env::var("ULAK_CREDIT_SEQUENCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    for seed in 0..sequences {
        let mut rng = StdRng::seed_from_u64(seed);
        let c = company(s, CountryType::Tr).await.id;
        let p = simulator_account(s, c, "p").await;
        let mut purchased = 0i64;
        let mut ids: Vec<MessageId> = Vec::new();
        let mut n = 0u32;
        let mut next_msg = |rng: &mut StdRng, valid: bool| {
            n += 1;
            let len = rng.random_range(1..400);
            let mut m = NewMessage::new(
                Recipient::Msisdn(
                    ulak_core::Msisdn::parse(&format!("0532{:07}", n), CountryType::Tr).unwrap(),
                ),
                SenderName::parse("ULAK").unwrap(),
                &"a".repeat(len),
                ulak_text::Policy::TurkishShift,
                1,
                Some(p),
                None,
                i64::MAX,
            )
            .unwrap();
            if !valid {
                m.valid_until = 1;
            }
            m
        };
        for step in 0..40 {
            let op = rng.random_range(0..9);
            let ctx = format!("seed {seed} step {step} op {op}");
            match op {
                0 => {
                    let amount = rng.random_range(1..8);
                    s.add_credit_entry(
                        c,
                        NewCreditEntry::new(LedgerKind::Purchase, amount, None).unwrap(),
                    )
                    .await
                    .unwrap();
                    purchased += amount;
                }
                1 | 2 => {
                    let m = next_msg(&mut rng, true);
                    match s.enqueue_message(c, m, None).await {
                        Ok(e) => ids.push(e.message.id),
                        Err(StoreError::InsufficientCredit { .. }) => {}
                        Err(e) => panic!("{ctx}: {e:?}"),
                    }
                }
                3 => {
                    let k = rng.random_range(1..5);
                    let batch: Vec<NewMessage> = (0..k).map(|_| next_msg(&mut rng, true)).collect();
                    match s.enqueue_batch(c, None, &batch).await {
                        Ok(got) => ids.extend(got),
                        Err(StoreError::InsufficientCredit { .. }) => {}
                        Err(e) => panic!("{ctx}: {e:?}"),
                    }
                }
                4..=6 => {
                    let claimed = s.claim_messages(p, "w", 3, 60_000).await.unwrap();
                    let outcomes = claimed
                        .iter()
                        .map(|m| SubmitOutcome {
                            id: m.id,
                            result: match rng.random_range(0..3) {
                                0 => SubmitResult::Submitted {
                                    operator_ids: vec![format!("op{}", m.id.0)],
                                },
                                1 => SubmitResult::Failed {
                                    reason: "refused".into(),
                                    code: None,
                                },
                                _ => SubmitResult::Retry {
                                    reason: "throttled".into(),
                                    at: 0,
                                },
                            },
                        })
                        .collect();
                    s.record_submits(outcomes).await.unwrap();
                }
                7 => {
                    let m = next_msg(&mut rng, false);
                    if let Ok(e) = s.enqueue_message(c, m, None).await {
                        ids.push(e.message.id);
                    }
                    s.expire_due(p).await.unwrap();
                }
                _ => {
                    if let Some(id) = ids.last() {
                        let m = s.get_message(c, *id).await.unwrap().unwrap().message;
                        let phone =
                            ulak_core::Msisdn::parse(&m.recipient, CountryType::Tr).unwrap();
                        let _ = s.add_opt_out(c, &phone, None).await;
                        s.skip_opted_out(p).await.unwrap();
                    }
                }
            }
            let balance = s.credit_balance(c).await.unwrap();
            assert!(balance >= 0, "{ctx}: negative balance {balance}");
            assert_eq!(
                balance,
                s.credit_ledger_sum(c).await.unwrap(),
                "{ctx}: ledger"
            );
            assert_eq!(
                balance,
                purchased - holding(s, c, &ids).await,
                "{ctx}: purchases minus what messages hold"
            );
        }
    }
}
