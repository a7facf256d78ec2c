//! Routes through the API: kept in order, checked field by field, only over the company's own
//! accounts, writable by admins; and each message shows the account and the route that chose
//! it.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};

async fn post(app: &TestApp, key: &str, path: &str, body: Value) -> Value {
    let r = app.call("POST", path, key, Some(body)).await;
    // A message is accepted (202), anything else created (201).
    let want = if path == "/messages" { 202 } else { 201 };
    assert_eq!(r.status, want, "{path}: {}", r.body);
    r.body
}

/// The (field, code) pairs of a 422 answer.
fn fields(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn routes_choose_each_messages_account_and_are_recorded() {
    let app = spawn_app().await;
    let (key, id) = app.company_with_id("routing").await;
    let k = key.as_str();
    let first = post(
        &app,
        k,
        "/provider-accounts",
        json!({"name": "a", "kind": "simulator"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let kktc = post(
        &app,
        k,
        "/provider-accounts",
        json!({"name": "b", "kind": "simulator"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    post(
        &app,
        k,
        "/sender-headers",
        json!({"name": "FIRMA", "is_default": true}),
    )
    .await;
    app.buy_credit(id, 100).await;

    // No routes: the list is empty and everything goes through the first account.
    let list = app.call("GET", "/routes", k, None).await;
    assert_eq!((list.status, list.body["items"].clone()), (200, json!([])));
    let tr = post(
        &app,
        k,
        "/messages",
        json!({"to": "+905321234567", "text": "a"}),
    )
    .await;
    let m = app
        .call("GET", &format!("/messages/{}", tr["id"]), k, None)
        .await;
    assert_eq!(m.body["provider_account_id"], first, "{}", m.body);
    assert!(m.body.get("route_id").is_none(), "{}", m.body);

    let late = post(
        &app,
        k,
        "/routes",
        json!({"position": 20, "targets": [{"account_id": first}]}),
    )
    .await;
    let route = post(
        &app,
        k,
        "/routes",
        json!({"position": 10, "zone": "kktc", "recipient_kind": "msisdn", "class": null,
               "targets": [{"account_id": kktc, "weight": 5}]}),
    )
    .await;
    assert_eq!(route["zone"], "kktc");
    assert_eq!(route["targets"], json!([{"account_id": kktc, "weight": 5}]));
    assert!(route.get("class").is_none() && route.get("prefix").is_none());
    let ids: Vec<i64> = app.call("GET", "/routes", k, None).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![route["id"].as_i64().unwrap(), late["id"].as_i64().unwrap()]
    );

    let cy = post(
        &app,
        k,
        "/messages",
        json!({"to": "+905338401234", "text": "b"}),
    )
    .await;
    let tr = post(
        &app,
        k,
        "/messages",
        json!({"to": "+905321234568", "text": "c"}),
    )
    .await;
    for (sent, account, by) in [(&cy, kktc, &route), (&tr, first, &late)] {
        let m = app
            .call("GET", &format!("/messages/{}", sent["id"]), k, None)
            .await;
        assert_eq!(m.body["provider_account_id"], account, "{}", m.body);
        assert_eq!(m.body["route_id"], by["id"], "{}", m.body);
    }
    let listed = app.call("GET", "/messages?limit=10", k, None).await;
    let row = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == cy["id"])
        .unwrap()
        .clone();
    assert_eq!(
        (row["provider_account_id"].clone(), row["route_id"].clone()),
        (json!(kktc), route["id"].clone())
    );

    // Replaced whole, read back, deleted.
    let path = format!("/routes/{}", route["id"]);
    let put = app
        .call(
            "PUT",
            &path,
            k,
            Some(json!({"position": 1, "prefix": "90533", "targets": [{"account_id": first}, {"account_id": kktc}]})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert!(put.body.get("zone").is_none());
    assert_eq!(put.body["prefix"], "90533");
    let got = app.call("GET", &path, k, None).await;
    assert_eq!(got.body, put.body);
    assert_eq!(app.call("DELETE", &path, k, None).await.status, 204);
    assert_eq!(app.call("GET", &path, k, None).await.status, 404);
    assert_eq!(app.call("DELETE", &path, k, None).await.status, 404);
}

#[tokio::test]
async fn routes_are_checked_and_kept_to_their_company() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    let other = app.company("other-routes").await;
    let theirs = post(
        &app,
        &other,
        "/provider-accounts",
        json!({"name": "x", "kind": "simulator"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let mine = app.call("GET", "/provider-accounts", k, None).await.body["items"][0]["id"]
        .as_i64()
        .unwrap();

    let cases = [
        (
            json!({"position": 1, "zone": "TR", "recipient_kind": "phone", "class": "bulk",
                   "prefix": "+90", "targets": [{"account_id": mine}]}),
            vec![
                ("recipient_kind", "value.invalid"),
                ("zone", "value.invalid"),
                ("class", "value.invalid"),
                ("prefix", "value.invalid"),
            ],
        ),
        (
            json!({"position": 1, "targets": []}),
            vec![("targets", "value.empty")],
        ),
        (
            json!({"position": 1, "targets": [{"account_id": mine, "weight": 0}]}),
            vec![("targets[0].weight", "value.out_of_range")],
        ),
        (
            json!({"position": 1, "targets": [{"account_id": mine}, {"account_id": mine}]}),
            vec![("targets[1].account_id", "value.duplicate")],
        ),
        (
            json!({"position": 1, "targets": [{"account_id": mine}, {"account_id": theirs}]}),
            vec![("targets[1].account_id", "value.unknown")],
        ),
        (
            json!({"position": 2_000_000, "targets": [{"account_id": mine}]}),
            vec![("position", "value.out_of_range")],
        ),
    ];
    for (body, want) in cases {
        let r = app.call("POST", "/routes", k, Some(body.clone())).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
            .collect();
        assert_eq!(fields(&r.body), want, "{body}");
    }
    // Not JSON of the right shape: a problem document, never a 500.
    for body in [
        json!({"position": -1, "targets": []}),
        json!({"targets": [], "extra": 1}),
    ] {
        let r = app.call("POST", "/routes", k, Some(body)).await;
        assert!([400, 422].contains(&r.status), "{}", r.body);
        assert!(r.body["code"].is_string(), "{}", r.body);
    }
    assert_eq!(
        app.call("GET", "/routes", k, None).await.body["items"],
        json!([])
    );

    // Another company neither sees nor changes this one's route.
    let r = post(
        &app,
        k,
        "/routes",
        json!({"position": 1, "targets": [{"account_id": mine}]}),
    )
    .await;
    let path = format!("/routes/{}", r["id"]);
    assert_eq!(app.call("GET", &path, &other, None).await.status, 404);
    let put = app
        .call(
            "PUT",
            &path,
            &other,
            Some(json!({"position": 1, "targets": [{"account_id": theirs}]})),
        )
        .await;
    assert_eq!(put.status, 404, "{}", put.body);
    assert_eq!(app.call("DELETE", &path, &other, None).await.status, 404);

    // Only admins write.
    let viewer = app
        .call(
            "POST",
            "/api-keys",
            k,
            Some(json!({"name": "v", "role": "viewer"})),
        )
        .await;
    let viewer = viewer.body["key"].as_str().unwrap().to_owned();
    assert_eq!(app.call("GET", "/routes", &viewer, None).await.status, 200);
    let w = app
        .call(
            "POST",
            "/routes",
            &viewer,
            Some(json!({"position": 1, "targets": [{"account_id": mine}]})),
        )
        .await;
    assert_eq!(w.status, 403, "{}", w.body);
    assert_eq!(app.call("DELETE", &path, &viewer, None).await.status, 403);
}
