//! The inbox over the API: an inbound message whose text could not be decoded is listed with
//! its bytes.

use serde_json::{Value, json};
use ulak_store::{DEFAULT_COMPANY, InboundIn, Store};

use crate::helpers::{ADMIN_KEY, spawn_app};

#[tokio::test]
async fn an_undecodable_inbound_message_is_listed_with_its_bytes() {
    let app = spawn_app().await;
    // The engine stores inbound messages straight into the store; do the same here.
    let url = format!("sqlite://{}?mode=rwc", app.dir.join("ulak.db").display());
    let store = Store::connect(&url, [0; 32]).await.unwrap();
    let company = store
        .get_company_by_name(DEFAULT_COMPANY)
        .await
        .unwrap()
        .unwrap()
        .id;
    let inbound = |body: &str, raw: Option<Vec<u8>>, dcs: u8| InboundIn {
        sender: "905321112233".into(),
        recipient: "4545".into(),
        body: body.into(),
        body_raw: raw,
        data_coding: Some(dcs),
        complete: true,
    };
    store
        .store_inbound(
            company,
            None,
            vec![
                inbound("", Some(vec![0x00, 0xff, 0x10, 0xab]), 4),
                inbound("Merhaba", None, 0),
            ],
        )
        .await
        .unwrap();
    store.close().await;
    let a = app.call("GET", "/inbound", ADMIN_KEY, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let items = a.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", a.body);
    assert_eq!(
        (
            &items[0]["text"],
            &items[0]["body_raw"],
            &items[0]["data_coding"]
        ),
        (&"".into(), &"00ff10ab".into(), &4.into())
    );
    assert_eq!(items[1]["text"], "Merhaba");
    assert!(items[1].get("body_raw").is_none(), "{}", items[1]);
}

/// The id of `default`'s built-in simulator account (made by the first start).
async fn simulator_account(app: &crate::helpers::TestApp, key: &str) -> i64 {
    let a = app.call("GET", "/provider-accounts", key, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "simulator")
        .and_then(|p| p["id"].as_i64())
        .expect("a simulator account")
}

/// Polls the inbox until a message with `text` is there.
async fn wait_for_inbound(app: &crate::helpers::TestApp, key: &str, text: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let a = app.call("GET", "/inbound", key, None).await;
        assert_eq!(a.status, 200, "{}", a.body);
        if let Some(m) = a.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["text"] == text)
        {
            return m.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not in the inbox: {}",
            a.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_message_sent_into_the_simulator_arrives_in_the_inbox() {
    let app = spawn_app().await;
    let id = simulator_account(&app, ADMIN_KEY).await;
    let path = format!("/provider-accounts/{id}/simulated-inbound");
    // Long enough for two concatenated parts: reassembled on the real inbound path.
    let text = format!("Randevu <b>{}</b>", "ertele ".repeat(30));
    let body = json!({"from": "0532 111 22 33", "to": "4545", "text": text});
    // 503 until the engine has bound the account, just after the start.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let a = loop {
        let a = app.call("POST", &path, ADMIN_KEY, Some(body.clone())).await;
        if a.status != 503 || std::time::Instant::now() > deadline {
            break a;
        }
        assert_eq!(a.body["code"], "service.unavailable", "{}", a.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(a.body["parts"], 2, "{}", a.body);
    let m = wait_for_inbound(&app, ADMIN_KEY, &text).await;
    assert_eq!(
        (&m["sender"], &m["recipient"], &m["complete"]),
        (&json!("+905321112233"), &json!("4545"), &json!(true)),
        "{m}"
    );

    // Refusals: bad fields all at once, a viewer, another company's account, no such one.
    let bad = json!({"from": "0212 111 22 33", "to": "45a", "text": " "});
    let a = app.call("POST", &path, ADMIN_KEY, Some(bad)).await;
    assert_eq!(a.status, 422, "{}", a.body);
    let fields: Vec<&str> = a.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["from", "to", "text"], "{}", a.body);
    let ok = json!({"from": "05321112233", "to": "4545", "text": "x"});
    let viewer = app
        .call(
            "POST",
            "/api-keys",
            ADMIN_KEY,
            Some(json!({"name": "v", "role": "viewer"})),
        )
        .await;
    assert_eq!(viewer.status, 201, "{}", viewer.body);
    let viewer = viewer.body["key"].as_str().unwrap().to_owned();
    let a = app.call("POST", &path, &viewer, Some(ok.clone())).await;
    assert_eq!(a.status, 403, "{}", a.body);
    let other = app.company("baska").await;
    let a = app.call("POST", &path, &other, Some(ok.clone())).await;
    assert_eq!(a.status, 404, "another company's account: {}", a.body);
    let a = app
        .call(
            "POST",
            "/provider-accounts/999999/simulated-inbound",
            ADMIN_KEY,
            Some(ok),
        )
        .await;
    assert_eq!(a.status, 404, "{}", a.body);
}
