//! Campaigns through the API to the built-in simulator: audience from a group and pasted
//! numbers, duplicates collapsed, opted-out and invalid recipients kept as skipped with the
//! reason, preview, start, live counts, pause for credit, pause/resume/cancel.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};

async fn wait_state(app: &TestApp, id: i64, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = app
            .call("GET", &format!("/campaigns/{id}"), ADMIN_KEY, None)
            .await;
        assert_eq!(c.status, 200, "{}", c.body);
        if c.body["state"] == state {
            return c.body;
        }
        assert!(
            Instant::now() < deadline,
            "still {}: {}",
            c.body["state"],
            c.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_campaign_to_a_group_is_delivered_and_explains_every_left_out_recipient() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    let g = app
        .call("POST", "/groups", k, Some(json!({"name": "Müşteriler"})))
        .await;
    let gid = g.body["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for (name, phone, consent) in [
        ("Ayşe", "05321110001", "opted_in"),
        ("Mehmet", "05321110002", "unknown"),
        ("Zeynep", "05321110003", "opted_out"),
    ] {
        let s = app
            .call(
                "POST",
                "/subscribers",
                k,
                Some(json!({"name": name, "phone": phone, "consent": consent})),
            )
            .await;
        ids.push(s.body["id"].as_i64().unwrap());
    }
    app.call(
        "POST",
        &format!("/groups/{gid}/members"),
        k,
        Some(json!({"subscriber_ids": ids})),
    )
    .await;
    app.call(
        "POST",
        "/opt-outs",
        k,
        Some(json!({"phone": "05321110009"})),
    )
    .await;
    let body = json!({
        "name": "Bayram",
        "audience": {"group_ids": [gid],
                     "numbers": ["0532 111 00 01", "05321110009", "0312 000 00 00", "05321110010"]},
        "text": "Sayın {{ad}}, bayramınız kutlu olsun."
    });
    let c = app.call("POST", "/campaigns", k, Some(body)).await;
    assert_eq!(c.status, 201, "{}", c.body);
    assert_eq!(c.body["state"], "draft");
    let id = c.body["id"].as_i64().unwrap();

    // Preview without credit: 2 to send; Zeynep opted out, 05321110009 on the list, the
    // landline invalid, 05321110010 has no name for {{ad}}; 0532 111 00 01 is Ayşe again.
    let p = app
        .call("GET", &format!("/campaigns/{id}/preview"), k, None)
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(
        (
            p.body["recipients"].as_u64(),
            p.body["duplicates"].as_u64(),
            p.body["cost"].as_i64()
        ),
        (Some(2), Some(1), Some(2)),
        "{}",
        p.body
    );
    let reasons: Vec<&str> = p.body["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("opted out")));
    assert!(reasons.iter().any(|r| r.contains("opt-out list")));
    assert!(reasons.iter().any(|r| r.contains("invalid number")));
    assert!(reasons.iter().any(|r| r.contains("no value for ad")));
    assert_eq!(p.body["samples"][0], "Sayın Ayşe, bayramınız kutlu olsun.");

    // Starting without credit pauses it with the reason; with credit, resume sends it.
    let s = app
        .call("POST", &format!("/campaigns/{id}/start"), k, None)
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(s.body["state"], "paused");
    assert!(
        s.body["state_reason"]
            .as_str()
            .unwrap()
            .contains("insufficient credit")
    );
    app.call(
        "POST",
        "/credit/entries",
        k,
        Some(json!({"kind": "purchase", "amount": 10})),
    )
    .await;
    let r = app
        .call("POST", &format!("/campaigns/{id}/resume"), k, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["recipients"].as_i64(), r.body["skipped"].as_i64()),
        (Some(2), Some(4))
    );
    let done = wait_state(&app, id, "finished").await;
    assert_eq!(
        done["counts"],
        json!({"delivered": 2, "skipped": 4}),
        "{done}"
    );
    assert_eq!(app.call("GET", "/credit", k, None).await.body["balance"], 8);
    // A finished campaign cannot be started again.
    let again = app
        .call("POST", &format!("/campaigns/{id}/start"), k, None)
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    // Nor paused, resumed or cancelled: each a state conflict, not a taken value.
    for action in ["start", "pause", "resume", "cancel"] {
        let r = app
            .call("POST", &format!("/campaigns/{id}/{action}"), k, None)
            .await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (409, Some("state.conflict")),
            "{action}: {}",
            r.body
        );
        assert!(r.body["errors"].is_null(), "{}", r.body);
    }
    // Another company sees none of it.
    let other = app.company("diger").await;
    assert_eq!(
        app.call("GET", &format!("/campaigns/{id}"), &other, None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn pausing_and_cancelling_stop_the_rest() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    app.call(
        "POST",
        "/credit/entries",
        k,
        Some(json!({"kind": "purchase", "amount": 5000})),
    )
    .await;
    let numbers: Vec<String> = (0..3000).map(|i| format!("0535{i:07}")).collect();
    let c = app
        .call(
            "POST",
            "/campaigns",
            k,
            Some(json!({"name": "Büyük", "audience": {"numbers": numbers},
                        "text": "Kampanya", "start": true})),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    assert_eq!(c.body["state"], "running");
    let id = c.body["id"].as_i64().unwrap();
    let p = app
        .call("POST", &format!("/campaigns/{id}/pause"), k, None)
        .await;
    assert_eq!(p.body["state"], "paused", "{}", p.body);
    // Within two seconds nothing more is handed out.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let a = app.call("GET", &format!("/campaigns/{id}"), k, None).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let b = app.call("GET", &format!("/campaigns/{id}"), k, None).await;
    assert_eq!(
        a.body["counts"]["queued"], b.body["counts"]["queued"],
        "{} / {}",
        a.body, b.body
    );
    let x = app
        .call("POST", &format!("/campaigns/{id}/cancel"), k, None)
        .await;
    assert_eq!(x.body["state"], "cancelled", "{}", x.body);
    let counts = &x.body["counts"];
    let cancelled = counts["cancelled"].as_i64().unwrap_or(0);
    let sent: i64 = ["submitted", "delivered", "sending"]
        .iter()
        .map(|s| counts[*s].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(cancelled + sent, 3000, "{counts}");
    assert!(cancelled > 0, "{counts}");
    // The cancelled ones' credit came back.
    let balance = app.call("GET", "/credit", k, None).await.body["balance"]
        .as_i64()
        .unwrap();
    assert_eq!(balance, 5000 - sent, "{counts}");
}

/// Send times are bounded: from now (a minute of clock skew) to one year ahead, for
/// campaigns as for single messages; `i64::MAX`, absurd pasts and a year and a day ahead are
/// field errors, not accepted drafts whose expiry would wrap.
#[tokio::test]
async fn schedules_beyond_a_year_or_in_the_past_are_refused() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let day = 24 * 3600 * 1000;
    let campaign = |at: i64, start: bool| {
        json!({"name": "Zamanlı", "text": "Merhaba", "audience": {"numbers": ["05321234567"]},
               "scheduled_at": at, "start": start})
    };
    for at in [i64::MAX, now + 367 * day, now - day, 0, -1, i64::MIN] {
        for start in [false, true] {
            let r = app
                .call("POST", "/campaigns", k, Some(campaign(at, start)))
                .await;
            assert_eq!(r.status, 422, "{at}: {}", r.body);
            assert_eq!(r.body["errors"][0]["field"], "scheduled_at", "{}", r.body);
        }
        let r = app
            .call(
                "POST",
                "/messages",
                k,
                Some(json!({"to": "05321234567", "text": "Merhaba", "scheduled_at": at})),
            )
            .await;
        assert_eq!(r.status, 422, "{at}: {}", r.body);
        assert!(
            r.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == "scheduled_at"),
            "{}",
            r.body
        );
    }
    let r = app
        .call(
            "POST",
            "/campaigns",
            k,
            Some(campaign(now + 30 * day, false)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .call(
            "POST",
            "/campaigns",
            k,
            Some(
                json!({"name": "X", "text": "Merhaba", "audience": {"numbers": ["05321234567"]},
                        "validity": 259_201}),
            ),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "validity");
}

#[tokio::test]
async fn unknown_ids_in_an_audience_are_refused_at_creation() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    let other = app.company("baska").await;
    let theirs = app
        .call("POST", "/groups", &other, Some(json!({"name": "G"})))
        .await;
    let their_group = theirs.body["id"].as_i64().unwrap();
    let ours = app
        .call("POST", "/groups", k, Some(json!({"name": "G"})))
        .await;
    let our_group = ours.body["id"].as_i64().unwrap();
    let body = json!({
        "name": "Yanlış",
        "audience": {"group_ids": [our_group, their_group, 990_001],
                     "subscriber_ids": [990_002], "customer_ids": [990_003],
                     "numbers": ["05321110001"]},
        "text": "Merhaba",
        "start": true
    });
    let c = app.call("POST", "/campaigns", k, Some(body)).await;
    assert_eq!(c.status, 422, "{}", c.body);
    let errors = c.body["errors"].as_array().unwrap();
    let named: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        named,
        vec![
            (
                "audience.subscriber_ids[0]",
                "the company has no subscriber 990002"
            ),
            (
                "audience.group_ids[1]",
                &*format!("the company has no group {their_group}")
            ),
            ("audience.group_ids[2]", "the company has no group 990001"),
            (
                "audience.customer_ids[0]",
                "the company has no customer account 990003"
            ),
        ]
    );
    assert!(errors.iter().all(|e| e["code"] == "value.unknown"));
    // Nothing was created.
    let list = app.call("GET", "/campaigns", k, None).await;
    assert_eq!(list.body["items"], json!([]));
}
