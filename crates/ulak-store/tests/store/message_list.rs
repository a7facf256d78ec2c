//! Listing what was sent: every filter and combination against a model of the rows, keyset
//! pages that visit each row once (ties on the time included), only the company's rows, a
//! campaign's pages for its export, unmatched receipts; and each filter's query plan reading
//! its own index, not the table, on a table with realistic statistics.

use sqlx::AnyPool;
use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::{Backend, MessageCursor, MessageFilter, MessageSummary, Store};

use crate::helpers::{TestDb, company};

crate::store_tests!(
    filters_and_pages_match_a_model,
    campaign_pages_for_export_run_oldest_first,
    unmatched_receipts_list_newest_first_per_company,
    every_filter_reads_its_own_index,
    campaign_indexes_hold_only_campaign_messages
);

/// A stored message as the model sees it.
#[derive(Debug, Clone)]
struct Row {
    id: i64,
    company: i64,
    campaign: Option<i64>,
    recipient: String,
    sender: String,
    state: MessageState,
    created_at: i64,
}

async fn campaign_row(raw: &AnyPool, company: CompanyId) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO campaigns (company_id, name, state, body, audience, validity_s, created_at) \
         VALUES ($1, 'k', 'running', 'x', '{}', 86400, 0) RETURNING id",
    )
    .bind(company.0)
    .fetch_one(raw)
    .await
    .unwrap()
}

async fn insert(raw: &AnyPool, r: &mut Row) {
    let kind = if r.recipient.starts_with('+') {
        "msisdn"
    } else {
        "tckn"
    };
    r.id = sqlx::query_scalar(
        "INSERT INTO messages (company_id, campaign_id, recipient_kind, recipient, sender, body, \
         encoding, segments, cost, state, state_at, attempts, next_attempt_at, valid_until, \
         created_at) VALUES ($1, $2, $3, $4, $5, 'metin', 'gsm7', 1, 1, $6, $7, 0, $7, $7, $7) \
         RETURNING id",
    )
    .bind(r.company)
    .bind(r.campaign)
    .bind(kind)
    .bind(&r.recipient)
    .bind(&r.sender)
    .bind(r.state.as_str())
    .bind(r.created_at)
    .fetch_one(raw)
    .await
    .unwrap();
}

/// Every row of a filter, walking pages of `limit`.
async fn walk(s: &Store, c: CompanyId, f: &MessageFilter, limit: u32) -> Vec<MessageSummary> {
    let mut out: Vec<MessageSummary> = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_messages(c, f, after, limit).await.unwrap();
        assert!(page.items.len() <= limit as usize);
        out.extend(page.items);
        match page.next_cursor {
            Some(cur) => after = Some(MessageCursor::decode(&cur).expect("a cursor it wrote")),
            None => return out,
        }
    }
}

const NUMBERS: [&str; 4] = [
    "+905321234567",
    "+905429876543",
    "+994501234567",
    "10000000146",
];
const STATES: [MessageState; 4] = [
    MessageState::Delivered,
    MessageState::Failed,
    MessageState::Queued,
    MessageState::Skipped,
];

/// What the model says a filter lists for company `c`, newest first.
fn model(rows: &[Row], c: CompanyId, f: &MessageFilter) -> Vec<i64> {
    let mut want: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.company == c.0
                && f.state.is_none_or(|s| s == r.state)
                && f.campaign.is_none_or(|k| Some(k) == r.campaign)
                && f.recipient.as_ref().is_none_or(|x| *x == r.recipient)
                && f.sender.as_ref().is_none_or(|x| *x == r.sender)
                && f.from.is_none_or(|t| r.created_at >= t)
                && f.to.is_none_or(|t| r.created_at < t)
        })
        .collect();
    want.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
    want.iter().map(|r| r.id).collect()
}

/// Each filter alone, and combinations, empty ones and a reversed range included.
fn sample_filters(ka: i64, kb: i64) -> Vec<MessageFilter> {
    let mut filters = vec![MessageFilter::default()];
    for st in STATES {
        filters.push(MessageFilter {
            state: Some(st),
            ..MessageFilter::default()
        });
    }
    for n in NUMBERS {
        filters.push(MessageFilter {
            recipient: Some(n.into()),
            ..MessageFilter::default()
        });
    }
    let combos = [
        (Some(MessageState::Failed), Some(ka), None, None, None, None),
        (None, Some(ka), Some(NUMBERS[0]), None, None, None),
        (None, None, Some(NUMBERS[1]), Some("ULAK"), None, None),
        (
            Some(MessageState::Delivered),
            None,
            None,
            Some("FIRMA"),
            None,
            None,
        ),
        (None, None, None, None, Some(1_005_000), Some(1_012_000)),
        (None, None, None, None, Some(1_005_000), None),
        (None, None, None, None, None, Some(1_012_000)),
        (
            Some(MessageState::Queued),
            Some(ka),
            None,
            Some("ULAK"),
            Some(1_003_000),
            None,
        ),
        (None, Some(kb), None, None, None, None),
        (None, None, None, None, Some(1_012_000), Some(1_005_000)),
        (
            None,
            None,
            Some(NUMBERS[2]),
            None,
            Some(1_010_000),
            Some(1_010_001),
        ),
    ];
    for (state, campaign, recipient, sender, from, to) in combos {
        filters.push(MessageFilter {
            state,
            campaign,
            recipient: recipient.map(Into::into),
            sender: sender.map(Into::into),
            from,
            to,
        });
    }
    filters
}

async fn filters_and_pages_match_a_model(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let a = company(s, CountryType::Tr).await.id;
    let b = company(s, CountryType::Tr).await.id;
    let (ka, kb) = (campaign_row(&raw, a).await, campaign_row(&raw, b).await);
    let mut rows = Vec::new();
    for i in 0..60_i64 {
        let mut r = Row {
            id: 0,
            company: a.0,
            campaign: (i % 3 == 0).then_some(ka),
            recipient: NUMBERS[(i % 4) as usize].into(),
            sender: if i % 5 == 0 { "FIRMA" } else { "ULAK" }.into(),
            state: STATES[(i % 7 % 4) as usize],
            // Three rows per millisecond, and not in id order: ties and order by time.
            created_at: 1_000_000 + (59 - i) / 3 * 1000,
        };
        insert(&raw, &mut r).await;
        rows.push(r);
    }
    // Company B: the same numbers, sender and times, its own campaign.
    for i in 0..10_i64 {
        let mut r = Row {
            id: 0,
            company: b.0,
            campaign: Some(kb),
            recipient: NUMBERS[(i % 4) as usize].into(),
            sender: "ULAK".into(),
            state: MessageState::Delivered,
            created_at: 1_000_000 + i * 1000,
        };
        insert(&raw, &mut r).await;
    }
    let filters = sample_filters(ka, kb);
    for f in &filters {
        let want = model(&rows, a, f);
        for limit in [1, 7, 500] {
            let got: Vec<i64> = walk(s, a, f, limit).await.iter().map(|m| m.id).collect();
            assert_eq!(got, want, "filter {f:?}, pages of {limit}");
        }
    }
    // A row carries what lists show.
    let one = &s
        .list_messages(a, &MessageFilter::default(), None, 1)
        .await
        .unwrap()
        .items[0];
    let r = rows.iter().find(|r| r.id == one.id).unwrap();
    assert_eq!(
        (one.recipient.as_str(), one.sender.as_str(), one.state),
        (r.recipient.as_str(), r.sender.as_str(), r.state)
    );
    assert_eq!(
        (one.segments, one.cost, one.created_at),
        (1, 1, r.created_at)
    );
    assert_eq!(one.campaign_id, r.campaign);
    let kind = if r.recipient.starts_with('+') {
        "msisdn"
    } else {
        "tckn"
    };
    assert_eq!(one.recipient_kind, kind);
}

async fn campaign_pages_for_export_run_oldest_first(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let a = company(s, CountryType::Tr).await.id;
    let b = company(s, CountryType::Tr).await.id;
    let ka = campaign_row(&raw, a).await;
    let mut want = Vec::new();
    for i in 0..23_i64 {
        let mut r = Row {
            id: 0,
            company: a.0,
            campaign: (i % 2 == 0).then_some(ka),
            recipient: NUMBERS[0].into(),
            sender: "ULAK".into(),
            state: MessageState::Delivered,
            created_at: 5_000 + i / 4,
        };
        insert(&raw, &mut r).await;
        if r.campaign.is_some() {
            want.push(r.id);
        }
    }
    let mut got = Vec::new();
    let mut after = None;
    loop {
        let page = s.campaign_messages_after(a, ka, after, 4).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.cursor());
        got.extend(page.iter().map(|m| m.id));
    }
    assert_eq!(got, want);
    // Another company's campaign is nothing.
    assert!(
        s.campaign_messages_after(b, ka, None, 4)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn unmatched_receipts_list_newest_first_per_company(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let a = company(s, CountryType::Tr).await.id;
    let b = company(s, CountryType::Tr).await.id;
    let mut ids = Vec::new();
    for (i, c) in [a, b, a, a, b, a, a].iter().enumerate() {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO receipts_unmatched (provider_account_id, company_id, operator_id, \
             id_key, state, error_code, raw, received_at) \
             VALUES (7, $1, $2, $2, 'undeliverable', '034', 'id:x text:gizli', $3) RETURNING id",
        )
        .bind(c.0)
        .bind(format!("op{i}"))
        .bind(1000 + i as i64)
        .fetch_one(&raw)
        .await
        .unwrap();
        if *c == a {
            ids.push((id, format!("op{i}"), 1000 + i as i64));
        }
    }
    ids.reverse();
    let mut got = Vec::new();
    let mut cursor = None;
    loop {
        let q = ListQuery::parse(Some(2), cursor.take(), None, None).unwrap();
        let page = s.list_unmatched_receipts(a, &q).await.unwrap();
        for r in &page.items {
            assert_eq!(r.provider_account_id, 7);
            assert_eq!(r.state, MessageState::Undeliverable);
            assert_eq!(r.error_code.as_deref(), Some("034"));
            got.push((r.id, r.operator_id.clone(), r.received_at));
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(got, ids);
}

/// Fills company `c` with `n` messages in one statement: 1,000 numbers, three senders (one
/// used by 1 % of the rows), 2 % failed, a quarter in ten campaigns, a millisecond apart;
/// then statistics, as the engine keeps them on PostgreSQL (with them SQLite's planner
/// chose a worse index, before it was told which to read).
async fn fill(db: &TestDb, c: CompanyId, n: i64) {
    let select = "SELECT $1, CASE WHEN i % 4 = 0 THEN 1000 + (i / 7) % 10 END, 'msisdn', \
        '+905320' || (100000 + i % 1000), \
        CASE WHEN i % 100 = 0 THEN 'RARE' WHEN i % 2 = 0 THEN 'ULAK' ELSE 'FIRMA' END, \
        'metin', 'gsm7', 1, 1, CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'delivered' END, \
        i, 0, i, i, 1000000 + i";
    let cols = "INSERT INTO messages (company_id, campaign_id, recipient_kind, recipient, sender, \
        body, encoding, segments, cost, state, state_at, attempts, next_attempt_at, valid_until, \
        created_at)";
    let sql = match db.store.backend() {
        Backend::Sqlite => format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
             {cols} {select} FROM n"
        ),
        Backend::Postgres => format!("{cols} {select} FROM generate_series(1, {n}) AS n(i)"),
    };
    let raw = db.raw().await;
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(c.0)
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query("ANALYZE").execute(&raw).await.unwrap();
}

/// The index SQLite is told to read for a filter.
fn expected_index(f: &MessageFilter) -> &'static str {
    match f {
        MessageFilter {
            recipient: Some(_), ..
        } => "messages_recipient",
        MessageFilter {
            campaign: Some(_),
            state: Some(_),
            ..
        } => "messages_campaign",
        MessageFilter {
            campaign: Some(_), ..
        } => "messages_campaign_time",
        MessageFilter {
            sender: Some(_), ..
        } => "messages_sender",
        MessageFilter { state: Some(_), .. } => "messages_state",
        _ => "messages_company",
    }
}

/// The indexes that serve a filter by its equality columns; the company's only without one.
fn eligible(f: &MessageFilter) -> Vec<&'static str> {
    let mut out = Vec::new();
    if f.recipient.is_some() {
        out.push("messages_recipient");
    }
    if f.campaign.is_some() {
        out.push("messages_campaign_time");
        if f.state.is_some() {
            out.push("messages_campaign");
        }
    }
    if f.sender.is_some() {
        out.push("messages_sender");
    }
    if f.state.is_some() {
        out.push("messages_state");
    }
    if out.is_empty() {
        out.push("messages_company");
    }
    out
}

/// The most rows PostgreSQL's plan expects to sort (0 without a sort).
fn sorted_rows(plan: &str) -> u64 {
    plan.lines()
        .filter(|l| {
            l.trim_start()
                .trim_start_matches("->")
                .trim_start()
                .starts_with("Sort ")
        })
        .filter_map(|l| l.split("rows=").nth(1)?.split(' ').next()?.parse().ok())
        .max()
        .unwrap_or(0)
}

async fn every_filter_reads_its_own_index(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    let other = company(s, CountryType::Tr).await.id;
    fill(db, c, 20_000).await;
    fill(db, other, 2_000).await;
    for bits in 0..64_u32 {
        let on = |k: u32| bits & (1 << k) != 0;
        let f = MessageFilter {
            state: on(0).then_some(MessageState::Failed),
            campaign: on(1).then_some(1003),
            recipient: on(2).then(|| "+905320100042".to_owned()),
            sender: on(3).then(|| "RARE".to_owned()),
            from: on(4).then_some(1_002_000),
            to: on(5).then_some(1_015_000),
        };
        let index = expected_index(&f);
        for paged in [false, true] {
            let plan = s.explain_list_messages(c, &f, paged).await.unwrap();
            let why = format!("filter {f:?}, paged {paged}:\n{plan}");
            match s.backend() {
                Backend::Sqlite => {
                    assert!(
                        plan.contains(&format!("USING INDEX {index} "))
                            || plan.contains(&format!("USING COVERING INDEX {index} ")),
                        "{why}"
                    );
                    assert!(!plan.contains("SCAN "), "{why}");
                    assert!(!plan.contains("TEMP B-TREE"), "{why}");
                }
                Backend::Postgres => {
                    // PostgreSQL weighs the filters itself: any index of a given filter,
                    // never the company's when there is one (each is selective here).
                    let reads = |i: &str| {
                        plan.contains(&format!("using {i} on messages"))
                            || plan.contains(&format!("Bitmap Index Scan on {i} "))
                    };
                    assert!(eligible(&f).iter().any(|i| reads(i)), "{why}");
                    assert!(!plan.contains("Seq Scan"), "{why}");
                    // Sorting the few rows a selective filter finds is fine; sorting many is
                    // what the indexes are for.
                    assert!(sorted_rows(&plan) <= 100, "{why}");
                }
            }
        }
    }
}

/// A single send has no campaign: it takes no entry in a campaign's indexes (migration
/// 0025), so neither its insert nor its state changes touch them. The queries that read them
/// still choose them (`every_filter_reads_its_own_index`).
async fn campaign_indexes_hold_only_campaign_messages(db: &TestDb) {
    let raw = db.raw().await;
    for name in ["messages_campaign", "messages_campaign_time"] {
        let def: String = match db.store.backend() {
            Backend::Sqlite => sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = $1"),
            Backend::Postgres => sqlx::query_scalar(
                "SELECT indexdef FROM pg_indexes \
                     WHERE indexname = $1 AND schemaname = current_schema()",
            ),
        }
        .bind(name)
        .fetch_one(&raw)
        .await
        .unwrap();
        let def = def.to_lowercase().replace(['(', ')'], "");
        assert!(
            def.contains("where campaign_id is not null"),
            "{name}: {def}"
        );
    }
    raw.close().await;
}
