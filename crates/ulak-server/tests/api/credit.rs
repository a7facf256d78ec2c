//! Credit through the API: the admin adds it, the balance is the ledger's sum, and amounts
//! that would overflow or overdraw are refused with a clear answer.

use serde_json::json;

use crate::helpers::{ADMIN_KEY, spawn_app};

#[tokio::test]
async fn credit_entries_are_checked() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    let add = |kind: &str, amount: i64| json!({"kind": kind, "amount": amount});
    let r = app
        .call("POST", "/credit/entries", k, Some(add("purchase", 500)))
        .await;
    assert_eq!(
        (r.status, r.body["balance_after"].as_i64()),
        (201, Some(500))
    );
    let r = app
        .call(
            "POST",
            "/credit/entries",
            k,
            Some(add("purchase", i64::MAX)),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "amount");
    let r = app
        .call("POST", "/credit/entries", k, Some(add("adjustment", -501)))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = app
        .call(
            "POST",
            "/credit/entries",
            k,
            Some(add("adjustment", i64::MIN)),
        )
        .await;
    // It has no negation to check against the balance: refused as out of range, not as a
    // shortfall of some made-up balance.
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "amount");
    assert_eq!(r.body["errors"][0]["code"], "value.out_of_range");
    assert_eq!(
        app.call("GET", "/credit", k, None).await.body["balance"],
        500
    );
}
