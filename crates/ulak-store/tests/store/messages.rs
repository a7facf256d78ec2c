//! The sending queue: acceptance with credit and idempotency, submit outcomes, receipts in
//! every id form, and the ledger always equal to the balance. Claims and leases are in
//! `leases.rs`.

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::{
    Idempotency, ReceiptIn, Store, StoreError, StoredAnswer, SubmitOutcome, SubmitResult,
};

use crate::helpers::{TestDb, company};

crate::store_tests!(
    accepting_reserves_credit_and_honours_idempotency,
    replays_return_the_first_answer_after_the_message_moved_on,
    submits_receipts_and_charges,
    receipts_match_every_id_form_and_early_ones_wait,
    batches_reserve_once_and_queue_in_order,
    sending_account_and_sender_header_lookups,
);

async fn provider(s: &Store, c: CompanyId) -> ProviderAccountId {
    let draft = ProviderAccountDraft {
        name: "sim".into(),
        kind: "simulator".into(),
        host: "builtin".into(),
        port: 2775,
        system_id: "ulak".into(),
        enabled: true,
        ..ProviderAccountDraft::default()
    };
    s.create_provider_account(
        c,
        NewProviderAccount::new(draft, CountryType::Tr, &Default::default()).unwrap(),
    )
    .await
    .unwrap()
    .id
}

pub(crate) async fn funded(s: &Store, credit: i64) -> (CompanyId, ProviderAccountId) {
    let c = company(s, CountryType::Tr).await.id;
    if credit > 0 {
        s.add_credit_entry(
            c,
            NewCreditEntry::new(LedgerKind::Purchase, credit, None).unwrap(),
        )
        .await
        .unwrap();
    }
    let p = provider(s, c).await;
    (c, p)
}

pub(crate) fn msg(p: ProviderAccountId, to: &str, text: &str) -> NewMessage {
    NewMessage::new(
        Recipient::Msisdn(ulak_core::Msisdn::parse(to, CountryType::Tr).unwrap()),
        SenderName::parse("ULAK").unwrap(),
        text,
        ulak_text::Policy::TurkishShift,
        1,
        Some(p),
        None,
        i64::MAX,
    )
    .unwrap()
}

/// The answer a test send stores with its key: the message's id and state when accepted.
fn first_answer(m: &Message) -> StoredAnswer {
    StoredAnswer {
        status: 202,
        body: format!("{{\"id\":{},\"state\":\"{}\"}}", m.id.0, m.state),
    }
}

fn idem<'a>(key: &'a str, request_hash: &'a str) -> Idempotency<'a> {
    Idempotency {
        key,
        request_hash,
        answer: first_answer,
    }
}

pub(crate) async fn balanced(s: &Store, c: CompanyId) -> i64 {
    let b = s.credit_balance(c).await.unwrap();
    assert_eq!(
        b,
        s.credit_ledger_sum(c).await.unwrap(),
        "balance = sum of the ledger"
    );
    b
}

async fn accepting_reserves_credit_and_honours_idempotency(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 3).await;
    let m = s
        .enqueue_message(c, msg(p, "05321234567", "Merhaba"), None)
        .await
        .unwrap();
    assert!(!m.replayed);
    assert_eq!(m.message.state, MessageState::Queued);
    assert_eq!(m.message.recipient, "+905321234567");
    assert_eq!(balanced(s, c).await, 2);
    // More than the balance: refused, nothing stored, nothing reserved.
    let two = msg(p, "05321234568", &"x".repeat(400));
    assert_eq!(two.segments, 3);
    let err = s.enqueue_message(c, two, None).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InsufficientCredit { balance: 2, .. }),
        "{err:?}"
    );
    assert_eq!(balanced(s, c).await, 2);

    // Idempotency: the same key and request replays; a different request conflicts.
    let first = s
        .enqueue_message(c, msg(p, "05321234569", "Tek"), Some(idem("k-1", "hash-a")))
        .await
        .unwrap();
    let again = s
        .enqueue_message(c, msg(p, "05321234569", "Tek"), Some(idem("k-1", "hash-a")))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.message.id, first.message.id);
    assert_eq!(balanced(s, c).await, 1, "the replay reserved nothing");
    let err = s
        .enqueue_message(
            c,
            msg(p, "05321234569", "Başka"),
            Some(idem("k-1", "hash-b")),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::IdempotencyConflict), "{err:?}");
    // Keys are per company.
    let (other, op) = funded(s, 5).await;
    let o = s
        .enqueue_message(
            other,
            msg(op, "05321234569", "Tek"),
            Some(idem("k-1", "hash-a")),
        )
        .await
        .unwrap();
    assert!(!o.replayed);
    assert!(
        s.get_message(other, first.message.id)
            .await
            .unwrap()
            .is_none()
    );
    let d = s.get_message(c, first.message.id).await.unwrap().unwrap();
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].state, MessageState::Queued);
}

async fn submits_receipts_and_charges(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let a = s
        .enqueue_message(c, msg(p, "05321000001", "bir"), None)
        .await
        .unwrap()
        .message;
    let long = "x".repeat(200); // two GSM segments
    let b = s
        .enqueue_message(c, msg(p, "05321000002", &long), None)
        .await
        .unwrap()
        .message;
    assert_eq!(b.segments, 2);
    assert_eq!(balanced(s, c).await, 97);
    let claimed = s.claim_messages(p, "w1", 10, 60_000).await.unwrap();
    assert_eq!(
        claimed.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![a.id, b.id]
    );
    assert!(
        claimed
            .iter()
            .all(|m| m.state == MessageState::Sending && m.attempts == 1)
    );
    assert!(
        s.claim_messages(p, "w2", 10, 60_000)
            .await
            .unwrap()
            .is_empty()
    );
    s.record_submits(vec![
        SubmitOutcome {
            id: a.id,
            result: SubmitResult::Submitted {
                operator_ids: vec!["A1".into()],
            },
        },
        SubmitOutcome {
            id: b.id,
            result: SubmitResult::Submitted {
                operator_ids: vec!["100".into(), "101".into()],
            },
        },
    ])
    .await
    .unwrap();
    assert_eq!(balanced(s, c).await, 97, "the reservation became a charge");
    let kinds: Vec<LedgerKind> = s
        .list_credit_entries(c, &ListQuery::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            LedgerKind::Purchase,
            LedgerKind::Reservation,
            LedgerKind::Reservation,
            LedgerKind::Release,
            LedgerKind::Charge
        ]
    );
    let r = |id: &str, state| ReceiptIn {
        operator_ids: vec![id.into()],
        state,
        error_code: None,
        raw: format!("id:{id}"),
    };
    let st = s
        .apply_receipts(
            c,
            p,
            vec![
                r("a1", MessageState::Delivered),
                r("100", MessageState::Delivered),
            ],
        )
        .await
        .unwrap();
    assert_eq!((st.applied, st.duplicates, st.unmatched), (2, 0, 0));
    let da = s.get_message(c, a.id).await.unwrap().unwrap();
    assert_eq!(da.message.state, MessageState::Delivered);
    assert!(da.message.final_at.is_some());
    let states: Vec<_> = da.events.iter().map(|e| e.state).collect();
    assert_eq!(
        states,
        vec![
            MessageState::Queued,
            MessageState::Submitted,
            MessageState::Delivered
        ]
    );
    // One segment of two delivered: still submitted; the second fails it.
    let db_ = s.get_message(c, b.id).await.unwrap().unwrap();
    assert_eq!(db_.message.state, MessageState::Submitted);
    assert_eq!(db_.parts.len(), 2);
    let mut fail = r("101", MessageState::Undeliverable);
    fail.error_code = Some("0x0B".into());
    s.apply_receipts(c, p, vec![fail.clone()]).await.unwrap();
    let db_ = s.get_message(c, b.id).await.unwrap().unwrap();
    assert_eq!(db_.message.state, MessageState::Undeliverable);
    assert_eq!(db_.message.error_code.as_deref(), Some("0x0B"));
    // The same report again, and a late contradicting one: stored and announced once.
    let st = s
        .apply_receipts(c, p, vec![fail, r("101", MessageState::Delivered)])
        .await
        .unwrap();
    assert_eq!((st.applied, st.duplicates), (0, 2));
    let db_ = s.get_message(c, b.id).await.unwrap().unwrap();
    assert_eq!(db_.events.len(), 3);
}

async fn receipts_match_every_id_form_and_early_ones_wait(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    // (id in submit_sm_resp, id in the receipt)
    let cases = [
        ("1A2B", "6699"),       // hex, then decimal
        ("6700", "1a2c"),       // decimal, then hex
        ("000123", "123"),      // leading zeros dropped
        ("456", "1110"),        // an all-digit hex id, then its decimal value
        ("Msg-ABC", "msg-abc"), // text, case differs
    ];
    let mut ids = Vec::new();
    for (i, _) in cases.iter().enumerate() {
        let m = s
            .enqueue_message(c, msg(p, &format!("0532200000{i}"), "x"), None)
            .await
            .unwrap()
            .message;
        ids.push(m.id);
    }
    s.claim_messages(p, "w", 10, 60_000).await.unwrap();
    // The receipt for the last one arrives before its submit response is recorded.
    let early = ReceiptIn {
        operator_ids: vec!["msg-abc".into()],
        state: MessageState::Delivered,
        error_code: None,
        raw: "early".into(),
    };
    let st = s
        .apply_receipts(c, p, vec![early.clone(), early])
        .await
        .unwrap();
    assert_eq!((st.unmatched, st.duplicates), (1, 1), "kept once");
    assert_eq!(s.count_unmatched_receipts(c).await.unwrap(), 1);
    s.record_submits(
        cases
            .iter()
            .zip(&ids)
            .map(|((sub, _), id)| SubmitOutcome {
                id: *id,
                result: SubmitResult::Submitted {
                    operator_ids: vec![(*sub).into()],
                },
            })
            .collect(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.count_unmatched_receipts(c).await.unwrap(),
        0,
        "picked up at submit"
    );
    let last = s.get_message(c, ids[4]).await.unwrap().unwrap();
    assert_eq!(last.message.state, MessageState::Delivered);
    let receipts: Vec<ReceiptIn> = cases[..4]
        .iter()
        .map(|(_, rcpt)| ReceiptIn {
            operator_ids: vec![(*rcpt).into()],
            state: MessageState::Delivered,
            error_code: None,
            raw: String::new(),
        })
        .collect();
    let st = s.apply_receipts(c, p, receipts).await.unwrap();
    assert_eq!((st.applied, st.unmatched), (4, 0));
    for id in &ids {
        let m = s.get_message(c, *id).await.unwrap().unwrap().message;
        assert_eq!(m.state, MessageState::Delivered, "{m:?}");
    }
    // A receipt nobody sent stays listed as unmatched; another company sees none of it.
    let st = s
        .apply_receipts(
            c,
            p,
            vec![ReceiptIn {
                operator_ids: vec!["ffff9999".into()],
                state: MessageState::Delivered,
                error_code: None,
                raw: "stray".into(),
            }],
        )
        .await
        .unwrap();
    assert_eq!(st.unmatched, 1);
    assert_eq!(s.count_unmatched_receipts(c).await.unwrap(), 1);
    let (other, _) = funded(s, 0).await;
    assert_eq!(s.count_unmatched_receipts(other).await.unwrap(), 0);
}

async fn batches_reserve_once_and_queue_in_order(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 120).await;
    let msgs: Vec<NewMessage> = (0..100)
        .map(|i| msg(p, &format!("0532600{i:04}"), &format!("Kampanya {i}")))
        .collect();
    let ids = s.enqueue_batch(c, None, &msgs).await.unwrap();
    assert_eq!(ids.len(), 100);
    assert!(ids.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(balanced(s, c).await, 20);
    let d = s.get_message(c, ids[42]).await.unwrap().unwrap();
    assert_eq!(d.message.recipient, "+905326000042");
    assert_eq!(d.message.body, "Kampanya 42");
    assert_eq!(d.message.campaign_id, None);
    assert_eq!(d.events.len(), 1);
    // Too much for the balance: nothing stored.
    let err = s.enqueue_batch(c, None, &msgs[..21]).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InsufficientCredit { .. }),
        "{err:?}"
    );
    assert_eq!(balanced(s, c).await, 20);
    let claimed = s.claim_messages(p, "w", 1000, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 100);
}

async fn sending_account_and_sender_header_lookups(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 0).await;
    assert_eq!(s.sending_account(c).await.unwrap().map(|a| a.id), Some(p));
    let other = company(s, CountryType::Tr).await.id;
    assert!(
        s.sending_account(other).await.unwrap().is_none(),
        "per company"
    );
    assert!(s.find_sender_header(c, None).await.unwrap().is_none());
    s.create_sender_header(c, NewSenderHeader::new("ULAK", false).unwrap())
        .await
        .unwrap();
    s.create_sender_header(c, NewSenderHeader::new("FIRMA", true).unwrap())
        .await
        .unwrap();
    let by_name = s
        .find_sender_header(c, Some(" ULAK "))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_name.name.as_str(), "ULAK");
    let default = s.find_sender_header(c, None).await.unwrap().unwrap();
    assert_eq!(default.name.as_str(), "FIRMA");
    assert!(
        s.find_sender_header(c, Some("YOK"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.find_sender_header(other, Some("ULAK"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn replays_return_the_first_answer_after_the_message_moved_on(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 10).await;
    let first = s
        .enqueue_message(c, msg(p, "05321234570", "Bir"), Some(idem("k-2", "h")))
        .await
        .unwrap();
    let answer = first.answer.clone().expect("the first answer is stored");
    assert_eq!(answer, first_answer(&first.message));
    assert!(answer.body.contains("\"queued\""));
    // The message is submitted and delivered.
    let claimed = s.claim_messages(p, "w", 10, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    s.record_submits(vec![SubmitOutcome {
        id: first.message.id,
        result: SubmitResult::Submitted {
            operator_ids: vec!["77".into()],
        },
    }])
    .await
    .unwrap();
    s.apply_receipts(
        c,
        p,
        vec![ReceiptIn {
            operator_ids: vec!["77".into()],
            state: MessageState::Delivered,
            error_code: None,
            raw: "id:77 stat:DELIVRD".into(),
        }],
    )
    .await
    .unwrap();
    let now = s.get_message(c, first.message.id).await.unwrap().unwrap();
    assert_eq!(now.message.state, MessageState::Delivered);
    // Both ways of replaying give the first answer, not the message as it is now.
    let looked_up = s
        .idempotent_replay(c, "k-2", "h")
        .await
        .unwrap()
        .expect("a replay");
    assert!(looked_up.replayed);
    assert_eq!(looked_up.answer.as_ref(), Some(&answer));
    let again = s
        .enqueue_message(c, msg(p, "05321234570", "Bir"), Some(idem("k-2", "h")))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.answer, Some(answer));
    assert_eq!(again.message.id, first.message.id);
    // A new key is no replay; another request under the key is a conflict.
    assert!(s.idempotent_replay(c, "k-3", "h").await.unwrap().is_none());
    assert!(matches!(
        s.idempotent_replay(c, "k-2", "other").await,
        Err(StoreError::IdempotencyConflict)
    ));
}
