//! Who may do what: system administrator keys are out of company administrators' reach, credit
//! and the TC-ID subscription are the system administrator's, and users' phones and e-mail
//! addresses are shown to admins only.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};

/// Creates a key with `key` as the caller; returns (id, key).
async fn new_key(app: &TestApp, key: &str, role: &str) -> (i64, String) {
    let r = app
        .call(
            "POST",
            "/api-keys",
            key,
            Some(json!({"name": role, "role": role})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    (
        r.body["id"].as_i64().unwrap(),
        r.body["key"].as_str().unwrap().to_owned(),
    )
}

fn system_admin_key_id(list: &Value) -> i64 {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["system_admin"] == true && k["revoked_at"].is_null())
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_company_admin_of_default_cannot_touch_system_administrator_keys() {
    let app = spawn_app().await;
    // An ordinary admin of company `default`, made by the system administrator.
    let (_, admin) = new_key(&app, ADMIN_KEY, "admin").await;
    let list = app.call("GET", "/api-keys", &admin, None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let boot = system_admin_key_id(&list.body);

    let r = app
        .call("DELETE", &format!("/api-keys/{boot}"), &admin, None)
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        r.body["type"], "https://ulak.dev/problems/forbidden",
        "{}",
        r.body
    );
    assert_eq!(
        app.call("GET", "/companies", ADMIN_KEY, None).await.status,
        200
    );
    // Nor can it make itself a system administrator key.
    let r = app
        .call(
            "POST",
            "/api-keys",
            &admin,
            Some(json!({"name": "me too", "role": "admin", "system_admin": true})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);

    // The system administrator can: a second system key, which then retires the bootstrap key.
    let r = app
        .call(
            "POST",
            "/api-keys",
            ADMIN_KEY,
            Some(json!({"name": "rotated", "role": "admin", "system_admin": true})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["system_admin"], true);
    let second = r.body["key"].as_str().unwrap().to_owned();
    assert_eq!(
        app.call("GET", "/companies", &second, None).await.status,
        200
    );
    let r = app
        .call("DELETE", &format!("/api-keys/{boot}"), &second, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.call("GET", "/companies", ADMIN_KEY, None).await.status,
        401
    );

    // The bootstrap key is in the configuration: the next start puts it back in force.
    let app = app.restart().await;
    assert_eq!(
        app.call("GET", "/companies", ADMIN_KEY, None).await.status,
        200
    );
    // Another company's admin does not even see `default`'s keys.
    let other = app.company("baska").await;
    let r = app
        .call("DELETE", &format!("/api-keys/{boot}"), &other, None)
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[tokio::test]
async fn credit_and_the_tc_id_subscription_are_the_system_administrators() {
    let app = spawn_app().await;
    let (a, a_id) = app.company_with_id("alfa").await;
    let buy = json!({"kind": "purchase", "amount": 1_000_000_000});
    let r = app
        .call("POST", "/credit/entries", &a, Some(buy.clone()))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app
        .call(
            "POST",
            "/credit/entries",
            &a,
            Some(json!({"kind": "adjustment", "amount": 5})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Nor may a company's admin sell to itself through the system administrator's path.
    let r = app
        .call(
            "POST",
            &format!("/companies/{a_id}/credit/entries"),
            &a,
            Some(buy.clone()),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // `default`'s own admins are company admins too.
    let (_, d_admin) = new_key(&app, ADMIN_KEY, "admin").await;
    let r = app
        .call("POST", "/credit/entries", &d_admin, Some(buy.clone()))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        app.call("GET", "/credit", &a, None).await.body["balance"],
        0
    );

    let r = app
        .call(
            "PATCH",
            "/sms-settings",
            &a,
            Some(json!({"tckn_subscription_active": true})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Sending back the value it read is not a change.
    let r = app
        .call(
            "PATCH",
            "/sms-settings",
            &a,
            Some(json!({"tckn_subscription_active": false, "tckn_sender": "ALFA TC"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["tckn_subscription_active"], false);

    // The system administrator sells credit and switches the subscription on.
    app.buy_credit(a_id, 1_000_000_000).await;
    let r = app
        .call(
            "PUT",
            &format!("/companies/{a_id}/tckn-subscription"),
            ADMIN_KEY,
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .call(
            "PUT",
            &format!("/companies/{a_id}/tckn-subscription"),
            &a,
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // The company reads both.
    assert_eq!(
        app.call("GET", "/credit", &a, None).await.body["balance"],
        1_000_000_000
    );
    let entries = app.call("GET", "/credit/entries", &a, None).await;
    assert_eq!(entries.body["items"][0]["amount"], 1_000_000_000);
    let s = app.call("GET", "/sms-settings", &a, None).await;
    assert_eq!(s.body["tckn_subscription_active"], true, "{}", s.body);
    // The system administrator's own company works through the short path.
    let r = app
        .call("POST", "/credit/entries", ADMIN_KEY, Some(buy))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    for path in ["/companies/999999/credit/entries"] {
        let r = app
            .call(
                "POST",
                path,
                ADMIN_KEY,
                Some(json!({"kind": "purchase", "amount": 1})),
            )
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
    }
    let r = app
        .call(
            "PUT",
            "/companies/999999/tckn-subscription",
            ADMIN_KEY,
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[tokio::test]
async fn only_admins_see_users_phones_and_e_mail_addresses() {
    let app = spawn_app().await;
    let a = app.company("alfa").await;
    let u = app
        .call(
            "POST",
            "/users",
            &a,
            Some(
                json!({"login": "ayse", "password": "correct horse", "role": "operator",
                        "phone": "05321112233", "email": "ayse@example.com"}),
            ),
        )
        .await;
    assert_eq!(u.status, 201, "{}", u.body);
    let uid = u.body["id"].as_i64().unwrap();
    for role in ["viewer", "operator"] {
        let (_, k) = new_key(&app, &a, role).await;
        let list = app.call("GET", "/users", &k, None).await;
        assert_eq!(list.status, 200, "{}", list.body);
        let text = list.body.to_string();
        assert!(text.contains("ayse"), "{text}");
        assert!(
            !text.contains("+905321112233") && !text.contains("example.com"),
            "{role}: {text}"
        );
        let one = app.call("GET", &format!("/users/{uid}"), &k, None).await;
        assert_eq!(one.status, 200);
        assert!(one.body.get("phone").is_none() && one.body.get("email").is_none());
    }
    let list = app.call("GET", "/users", &a, None).await;
    let text = list.body.to_string();
    assert!(
        text.contains("+905321112233") && text.contains("ayse@example.com"),
        "{text}"
    );
}
