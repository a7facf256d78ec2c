//! `POST /messages/batch`: each item answered as a single send would be, in order, with its
//! own idempotency key; one refusal never refuses the others; the messages are delivered.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, Backend, TestApp, spawn_app, spawn_app_on};

async fn credit(app: &TestApp, amount: i64) {
    let r = app
        .call(
            "POST",
            "/credit/entries",
            ADMIN_KEY,
            Some(json!({"kind": "purchase", "amount": amount})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

async fn batch(app: &TestApp, key: &str, lang: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}/api/v1/messages/batch", app.base))
        .bearer_auth(key)
        .json(&body);
    if let Some(l) = lang {
        req = req.header("Accept-Language", l);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn each_item_is_answered_on_its_own_on_sqlite() {
    items_are_answered_on_their_own(Backend::Sqlite).await;
}

#[tokio::test]
async fn each_item_is_answered_on_its_own_on_postgres() {
    items_are_answered_on_their_own(Backend::Postgres).await;
}

async fn items_are_answered_on_their_own(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    credit(&app, 4).await;
    let opt = app
        .call(
            "POST",
            "/opt-outs",
            ADMIN_KEY,
            Some(json!({"phone": "05321110009"})),
        )
        .await;
    assert_eq!(opt.status, 201, "{}", opt.body);
    let (s, first) = batch(
        &app,
        ADMIN_KEY,
        None,
        json!({"messages": [{"to": "05321110001", "text": "Bir", "idempotency_key": "b-1"}]}),
    )
    .await;
    assert_eq!(s, 200, "{first}");
    let first_id = first["results"][0]["message"]["id"].as_i64().unwrap();
    let body = json!({"messages": [
        {"to": "0532 111 00 02", "text": "İki"},
        {"to": "05321110001", "text": "Bir", "idempotency_key": "b-1"},
        {"to": "05321110003", "text": "Başka", "idempotency_key": "b-1"},
        {"to": "0212 555 00 00", "text": "Sabit hat"},
        {"to": "05321110009", "text": "Ret listesinde"},
        {"to": "05321110004", "text": "", "idempotency_key": "b-2"},
        {"to": "05321110005", "text": "Başlık", "sender": "YOK"},
        {"to": "05321110006", "text": "Üç"},
        {"to": "05321110007", "text": "Dört"},
        {"to": "05321110008", "text": "Beş: kredi yetmez"},
    ]});
    let (s, r) = batch(&app, ADMIN_KEY, None, body).await;
    assert_eq!(s, 200, "{r}");
    let res = r["results"].as_array().unwrap();
    assert_eq!(res.len(), 10);
    for (i, item) in res.iter().enumerate() {
        assert_eq!(item["index"], i, "in the request's order: {r}");
    }
    let code = |i: usize| res[i]["problem"]["code"].as_str().unwrap_or("").to_owned();
    let field_code = |i: usize| {
        res[i]["problem"]["errors"][0]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(res[0]["status"], 202);
    assert_eq!(res[0]["message"]["recipient"], "+905321110002");
    assert_eq!(
        (res[1]["status"].as_u64(), res[1]["replayed"].as_bool()),
        (Some(202), Some(true))
    );
    assert_eq!(res[1]["message"]["id"], first_id, "the first answer");
    assert_eq!(
        (res[2]["status"].as_u64(), code(2)),
        (Some(409), "idempotency.body_mismatch".into())
    );
    assert_eq!(
        (res[3]["status"].as_u64(), field_code(3)),
        (Some(422), "phone.landline".into())
    );
    assert_eq!(field_code(4), "phone.opted_out");
    assert_eq!(field_code(5), "text.empty");
    assert_eq!(field_code(6), "sender.unknown");
    assert_eq!(
        (res[7]["status"].as_u64(), res[8]["status"].as_u64()),
        (Some(202), Some(202))
    );
    assert_eq!(
        (res[9]["status"].as_u64(), code(9)),
        (Some(409), "credit.insufficient".into()),
        "a balance of 4 covered Bir, İki, Üç and Dört"
    );
    assert_eq!(
        (r["accepted"].as_u64(), r["refused"].as_u64()),
        (Some(3), Some(6))
    );
    assert_eq!(
        app.call("GET", "/credit", ADMIN_KEY, None).await.body["balance"],
        0
    );

    // A refused item left its key unused: the same key with a good text is accepted.
    credit(&app, 1).await;
    let (_, again) = batch(
        &app,
        ADMIN_KEY,
        None,
        json!({"messages": [{"to": "05321110004", "text": "Şimdi", "idempotency_key": "b-2"}]}),
    )
    .await;
    assert_eq!(again["results"][0]["status"], 202, "{again}");

    // Every accepted message is delivered.
    let ids = [
        first_id,
        res[0]["message"]["id"].as_i64().unwrap(),
        res[7]["message"]["id"].as_i64().unwrap(),
        again["results"][0]["message"]["id"].as_i64().unwrap(),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    for id in ids {
        loop {
            let m = app
                .call("GET", &format!("/messages/{id}"), ADMIN_KEY, None)
                .await;
            if m.body["state"] == "delivered" {
                break;
            }
            assert!(Instant::now() < deadline, "{}", m.body);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn the_batch_is_bounded_read_only_keys_are_refused_and_turkish_is_spoken() {
    let app = spawn_app().await;
    credit(&app, 10).await;
    let one = json!({"to": "05321110001", "text": "Merhaba"});
    let (s, r) = batch(
        &app,
        ADMIN_KEY,
        None,
        json!({"messages": vec![one.clone(); 1001]}),
    )
    .await;
    assert_eq!(
        (s, r["errors"][0]["code"].as_str()),
        (422, Some("value.too_many")),
        "{r}"
    );
    let (s, r) = batch(&app, ADMIN_KEY, None, json!({"messages": []})).await;
    assert_eq!(
        (s, r["errors"][0]["code"].as_str()),
        (422, Some("value.empty")),
        "{r}"
    );
    let (s, r) = batch(
        &app,
        ADMIN_KEY,
        None,
        json!({"messages": [{"to": "05321110001", "text": "x", "extra": 1}]}),
    )
    .await;
    assert_eq!(
        s, 400,
        "unknown fields of an item are refused, as in a single send: {r}"
    );

    let v = app
        .call(
            "POST",
            "/api-keys",
            ADMIN_KEY,
            Some(json!({"name": "v", "role": "viewer"})),
        )
        .await;
    let viewer = v.body["key"].as_str().unwrap().to_owned();
    let (s, _) = batch(&app, &viewer, None, json!({"messages": [one]})).await;
    assert_eq!(s, 403);

    let (s, r) = batch(
        &app,
        ADMIN_KEY,
        Some("tr-TR,tr;q=0.9"),
        json!({"messages": [{"to": "0212 555 00 00", "text": "Sabit"}]}),
    )
    .await;
    assert_eq!(s, 200);
    let p = &r["results"][0]["problem"];
    assert_eq!(p["errors"][0]["code"], "phone.landline");
    assert_eq!(p["title"], "Geçersiz Veri", "{p}");
}

/// An item must have the form the document gives it (types, and its text fields' maximum and
/// characters): out of it the request is malformed (400); a rule beyond it is the item's own.
#[tokio::test]
async fn an_item_out_of_the_documented_form_is_malformed() {
    let app = spawn_app().await;
    credit(&app, 10).await;
    let malformed = [
        r#"{"messages":[{"to":"05321110001","text":"x","validity":9223372036854775808}]}"#,
        r#"{"messages":[{"to":"05321110001","text":"x","idempotency_key":"bad key"}]}"#,
        r#"{"messages":[{"to":"05321110001","text":"a\u0000b"}]}"#,
        r#"{"messages":[{"to":"05321112233","to":"05321112299","text":"x"}]}"#,
        r#"{"messages":[{"to":"05321110001","text":"x","idempotency_key":"a","idempotency_key":"b"}]}"#,
    ];
    for raw in malformed {
        let res = app
            .http
            .post(format!("{}/api/v1/messages/batch", app.base))
            .bearer_auth(ADMIN_KEY)
            .header("Content-Type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 400, "{raw}");
    }
    let (s, r) = batch(
        &app,
        ADMIN_KEY,
        None,
        json!({"messages": [{"to": "05321110001", "text": "x", "validity": 59}]}),
    )
    .await;
    assert_eq!(
        (s, r["results"][0]["problem"]["errors"][0]["code"].as_str()),
        (200, Some("validity.out_of_range")),
        "{r}"
    );
    assert_eq!(
        app.call("GET", "/credit", ADMIN_KEY, None).await.body["balance"],
        10,
        "nothing was accepted"
    );
}
