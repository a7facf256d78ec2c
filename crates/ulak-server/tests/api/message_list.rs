//! Listing what was sent over the API: filters (a recipient in any form), cursor pages,
//! a campaign's messages and its CSV export, unmatched receipts, refusals by field, and
//! nothing of another company — on SQLite and PostgreSQL.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use ulak_core::model::MessageState;
use ulak_store::{DEFAULT_COMPANY, ReceiptIn, Store};

use crate::helpers::{ADMIN_KEY, Backend, TestApp, spawn_app, spawn_app_on};

async fn get(app: &TestApp, key: &str, path: &str) -> Value {
    let a = app.call("GET", path, key, None).await;
    assert_eq!(a.status, 200, "{path}: {}", a.body);
    a.body
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect()
}

/// Three single sends and a campaign of two; returns the campaign id.
async fn sent(app: &TestApp) -> i64 {
    let k = ADMIN_KEY;
    let c = app
        .call(
            "POST",
            "/credit/entries",
            k,
            Some(json!({"kind": "purchase", "amount": 100})),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    for to in ["0532 123 45 67", "+90 542 987 65 43", "+905321234567"] {
        let m = app
            .call(
                "POST",
                "/messages",
                k,
                Some(json!({"to": to, "text": "Merhaba"})),
            )
            .await;
        assert_eq!(m.status, 202, "{}", m.body);
    }
    let c = app
        .call(
            "POST",
            "/campaigns",
            k,
            Some(
                json!({"name": "Liste", "audience": {"numbers": ["05051112233", "05051112234"]},
                        "text": "Kampanya", "start": true}),
            ),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    c.body["id"].as_i64().unwrap()
}

/// Another company sees none of it.
async fn other_company_sees_nothing(app: &TestApp, campaign: i64) {
    let other = app.company("baska").await;
    assert!(ids(&get(app, &other, "/messages").await).is_empty());
    let theirs = format!("/messages?campaign={campaign}");
    assert!(ids(&get(app, &other, &theirs).await).is_empty());
    for path in [
        format!("/campaigns/{campaign}/messages"),
        format!("/campaigns/{campaign}/export"),
    ] {
        assert_eq!(
            app.call("GET", &path, &other, None).await.status,
            404,
            "{path}"
        );
    }
    assert!(ids(&get(app, &other, "/receipts/unmatched").await).is_empty());
}

async fn lists_filters_and_pages(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    let k = ADMIN_KEY;
    let campaign = sent(&app).await;
    let all = get(&app, k, "/messages").await;
    let all_ids = ids(&all);
    assert_eq!(all_ids.len(), 5, "{all}");
    assert!(all.get("next_cursor").is_none());
    // Newest first: the campaign's messages were accepted last.
    assert!(all_ids.windows(2).all(|w| w[0] > w[1]), "{all_ids:?}");
    let first = &all["items"][0];
    let keys: BTreeSet<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for want in [
        "id",
        "state",
        "state_at",
        "recipient_kind",
        "recipient",
        "sender",
        "campaign_id",
        "segments",
        "cost",
        "created_at",
    ] {
        assert!(keys.contains(want), "{want} missing: {first}");
    }
    assert!(
        !keys.contains("text") && !keys.contains("events"),
        "{first}"
    );
    // Pages of two visit every message once.
    let mut walked = Vec::new();
    let mut path = "/messages?limit=2".to_owned();
    loop {
        let page = get(&app, k, &path).await;
        walked.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/messages?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(walked, all_ids);
    // A number in another form finds the same messages.
    let to = get(&app, k, "/messages?recipient=0532%20123%2045%2067").await;
    assert_eq!(ids(&to).len(), 2, "{to}");
    assert!(
        to["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["recipient"] == "+905321234567")
    );
    let by_campaign = get(&app, k, &format!("/messages?campaign={campaign}")).await;
    assert_eq!(ids(&by_campaign), all_ids[..2].to_vec());
    let of_campaign = get(&app, k, &format!("/campaigns/{campaign}/messages")).await;
    assert_eq!(ids(&of_campaign), all_ids[..2].to_vec());
    let both = format!("/campaigns/{campaign}/messages?recipient=%2B905051112233");
    assert_eq!(ids(&get(&app, k, &both).await).len(), 1);
    assert_eq!(ids(&get(&app, k, "/messages?sender=ULAK").await), all_ids);
    assert!(ids(&get(&app, k, "/messages?sender=OTHER").await).is_empty());
    assert!(ids(&get(&app, k, "/messages?state=cancelled").await).is_empty());
    let created: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["created_at"].as_i64().unwrap())
        .collect();
    let (newest, oldest) = (created[0], created[4]);
    let window = format!("/messages?from={oldest}&to={}", newest + 1);
    assert_eq!(ids(&get(&app, k, &window).await), all_ids);
    let before = format!("/messages?to={oldest}");
    assert!(ids(&get(&app, k, &before).await).is_empty());
    let after = format!("/messages?from={}", newest + 1);
    assert!(ids(&get(&app, k, &after).await).is_empty());
    other_company_sees_nothing(&app, campaign).await;
}

#[tokio::test]
async fn messages_are_listed_filtered_and_paged_on_sqlite() {
    lists_filters_and_pages(Backend::Sqlite).await;
}

#[tokio::test]
async fn messages_are_listed_filtered_and_paged_on_postgres() {
    lists_filters_and_pages(Backend::Postgres).await;
}

#[tokio::test]
async fn bad_filters_are_refused_by_field() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    for (query, field) in [
        ("state=sent", "state"),
        ("recipient=12345", "recipient"),
        ("recipient=10000000147", "recipient"),
        ("sender=%20", "sender"),
        ("from=-1", "from"),
        ("campaign=0", "campaign"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=c1", "cursor"),
        ("cursor=m1.", "cursor"),
        ("cursor=m8000000000000000.1", "cursor"),
    ] {
        let a = app
            .call("GET", &format!("/messages?{query}"), k, None)
            .await;
        assert_eq!(a.status, 422, "{query}: {}", a.body);
        assert_eq!(a.body["errors"][0]["field"], field, "{query}: {}", a.body);
    }
    // An inverted time range is schema-valid and matches nothing.
    let a = app
        .call("GET", "/messages?from=2000&to=1999", k, None)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["items"].as_array().map(Vec::len), Some(0));
    for query in ["cursor=m1.1", "limit=500"] {
        let a = app
            .call("GET", &format!("/receipts/unmatched?{query}"), k, None)
            .await;
        let want = if query.starts_with("cursor") {
            422
        } else {
            200
        };
        assert_eq!(a.status, want, "{query}: {}", a.body);
    }
    // Not a number at all: unreadable, like any list's `limit=abc`.
    let a = app.call("GET", "/messages?from=abc", k, None).await;
    assert_eq!(a.status, 400, "{}", a.body);
    let a = app.call("GET", "/campaigns/999/messages", k, None).await;
    assert_eq!(a.status, 404, "{}", a.body);
}

#[tokio::test]
async fn a_campaign_exports_as_csv() {
    let app = spawn_app().await;
    let campaign = sent(&app).await;
    let res = app
        .http
        .get(format!("{}/api/v1/campaigns/{campaign}/export", app.base))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(h["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        h["content-disposition"],
        format!("attachment; filename=\"campaign-{campaign}.csv\"").as_str()
    );
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(
        lines[0],
        "id,recipient,state,state_reason,error_code,segments,cost,created_at,submitted_at,final_at"
    );
    assert_eq!(lines.len(), 3, "{text}");
    let listed = get(&app, ADMIN_KEY, &format!("/campaigns/{campaign}/messages")).await;
    let mut want = ids(&listed);
    want.reverse();
    let got: Vec<i64> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(got, want, "oldest first");
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(cells[1], "+905051112233");
    assert!(
        cells[7].ends_with('Z') && cells[7].contains('T'),
        "{}",
        lines[1]
    );
}

#[tokio::test]
async fn unmatched_receipts_are_listed_newest_first() {
    let app = spawn_app().await;
    // The engine stores receipts straight into the store; do the same here.
    let url = format!("sqlite://{}?mode=rwc", app.dir.join("ulak.db").display());
    let store = Store::connect(&url, [0; 32]).await.unwrap();
    let company = store
        .get_company_by_name(DEFAULT_COMPANY)
        .await
        .unwrap()
        .unwrap()
        .id;
    let account = store.sending_account(company).await.unwrap().unwrap().id;
    let receipt = |id: &str| ReceiptIn {
        operator_ids: vec![id.into()],
        state: MessageState::Undeliverable,
        error_code: Some("034".into()),
        raw: format!("id:{id} sub:001 dlvrd:000 stat:UNDELIV err:034 text:Gizli metin"),
    };
    let stats = store
        .apply_receipts(
            company,
            account,
            vec![receipt("abc1"), receipt("abc2"), receipt("abc3")],
        )
        .await
        .unwrap();
    assert_eq!(stats.unmatched, 3);
    store.close().await;
    let first = get(&app, ADMIN_KEY, "/receipts/unmatched?limit=2").await;
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["operator_message_id"], "abc3");
    assert_eq!(items[0]["state"], "undeliverable");
    assert_eq!(items[0]["error_code"], "034");
    assert_eq!(items[0]["provider_account_id"], account.0);
    assert!(items[0]["received_at"].as_i64().unwrap() > 0);
    // The raw report (it can carry the text) is not shown.
    assert!(!first.to_string().contains("Gizli"), "{first}");
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = get(
        &app,
        ADMIN_KEY,
        &format!("/receipts/unmatched?cursor={cursor}"),
    )
    .await;
    assert_eq!(rest["items"][0]["operator_message_id"], "abc1");
    assert!(rest.get("next_cursor").is_none());
}
