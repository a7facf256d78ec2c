//! The API calls the test makes, in order, each with the answer it expects: every one of
//! them hands personal data (or a secret) to the server while the log is captured.

use serde_json::{Value, json};

use crate::data::{
    CAMPAIGN_TEXT, OPERATOR_PASSWORD, OTP_PASSWORD, PASSWORD, Personal, SINGLE_TEXT,
};
use crate::helpers::{ADMIN_KEY, TestApp};

/// Posts a subscriber import: `csv` as the file, `fields` as further form fields.
async fn import(app: &TestApp, csv: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let file = csv.as_bytes().to_vec();
    app.upload("/subscribers/import", ADMIN_KEY, file, "rehber.csv", fields)
        .await
}

/// `?search=` value, with `+` and spaces escaped.
fn q(s: &str) -> String {
    s.replace('+', "%2B").replace(' ', "%20")
}

/// Subscribers in several forms, with TC ID numbers; returns their ids.
pub async fn create_subscribers(app: &TestApp, data: &Personal) -> Vec<i64> {
    let k = ADMIN_KEY;
    let Personal { tc, .. } = data;
    let mut ids = Vec::new();
    for (name, phone, tckn) in [
        ("Ayşe Yılmaz", "+90 532 741 85 29", &tc[0]),
        ("Mehmet Demir", "0544 739 18 26", &tc[1]),
        ("Hüseyin Ersoy", "(0533) 864-27-15", &tc[2]),
        ("Leyla Əliyeva", "+994 50 318 47 62", &tc[3]),
    ] {
        let s = app
            .call(
                "POST",
                "/subscribers",
                k,
                Some(json!({"name": name, "phone": phone, "tckn": tckn,
                    "attributes": {"bakiye": "120,50"}, "consent": "opted_in"})),
            )
            .await;
        assert_eq!(s.status, 201, "{}", s.body);
        ids.push(s.body["id"].as_i64().unwrap());
    }
    // The same phone again: a conflict.
    let dup = app
        .call(
            "POST",
            "/subscribers",
            k,
            Some(json!({"name": "Tekrar", "phone": "05327418529", "tckn": tc[0]})),
        )
        .await;
    assert_eq!(dup.status, 409, "{}", dup.body);
    ids
}

/// Changes: phone, TC ID, then removing the TC ID.
pub async fn change_subscribers(app: &TestApp, data: &Personal, ids: &[i64]) {
    let k = ADMIN_KEY;
    let Personal { tc, .. } = data;
    let a = ids[0];
    let p = app
        .call(
            "PATCH",
            &format!("/subscribers/{a}"),
            k,
            Some(json!({"phone": "0535 918 27 46", "tckn": tc[4]})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["phone"], "+905359182746");
    let p = app
        .call(
            "PATCH",
            &format!("/subscribers/{}", ids[1]),
            k,
            Some(json!({"tckn": ""})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let got = app.call("GET", &format!("/subscribers/{a}"), k, None).await;
    assert_eq!(got.body["tckn"], tc[4].as_str());
}

/// Searches by phone in every form, and by TC ID (matches nothing, must not be logged).
pub async fn search_subscribers(app: &TestApp, data: &Personal) {
    let k = ADMIN_KEY;
    let Personal { tc, .. } = data;
    for search in [
        "+905359182746",
        "905359182746",
        "05359182746",
        "5359182746",
        "0544 739 18 26",
        "503184762",
        tc[1].as_str(),
    ] {
        let l = app
            .call(
                "GET",
                &format!("/subscribers?search={}", q(search)),
                k,
                None,
            )
            .await;
        assert_eq!(l.status, 200, "{search}: {}", l.body);
    }
    let l = app
        .call(
            "GET",
            &format!("/subscribers?search={}", q("05359182746")),
            k,
            None,
        )
        .await;
    assert_eq!(l.body["items"].as_array().unwrap().len(), 1, "{}", l.body);
}

/// Refused input: invalid phones and TC IDs, and numbers where strings belong.
pub async fn refuse_subscriber_input(app: &TestApp, data: &Personal, ids: &[i64]) {
    let k = ADMIN_KEY;
    let Personal {
        bad_tc, bad_phones, ..
    } = data;
    let a = ids[0];

    for body in [
        json!({"name": "Kısa", "phone": bad_phones[0]}),
        json!({"name": "Uzun", "phone": bad_phones[1]}),
        json!({"name": "Sabit", "phone": "0312 456 78 91"}),
        json!({"name": "Yanlış TC", "phone": "05069473825", "tckn": bad_tc[0]}),
        json!({"name": "Yanlış TC", "phone": "05069473825", "tckn": bad_tc[1]}),
        json!({"name": "Sayı", "phone": 5376248159_u64}),
        json!({"name": "Sayı", "phone": "05069473825", "tckn": bad_tc[2].parse::<u64>().unwrap()}),
    ] {
        let r = app.call("POST", "/subscribers", k, Some(body)).await;
        assert!(matches!(r.status, 400 | 422), "{}", r.body);
    }
    for body in [
        json!({"phone": "0312 456 78 91"}),
        json!({"tckn": bad_tc[0]}),
    ] {
        let r = app
            .call("PATCH", &format!("/subscribers/{a}"), k, Some(body))
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
    }
}

/// Imports: accepted, refused (all-or-nothing), partly skipped.
pub async fn import_subscribers(app: &TestApp, data: &Personal) {
    let Personal { tc, bad_tc, .. } = data;
    let csv = format!(
        "name;phone;tckn\nAli Veli;0505 726 41 83;{}\nZeynep Kaya;+90 542 638 19 57;\nCan Öz;05528143690;\n",
        tc[5]
    );
    let (status, body) = import(app, &csv, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 3, "{body}");
    let csv = format!(
        "name,phone,tckn\nBora,05417826935,{}\nCem,0532 918 27,\nDeniz,05057264183,\n",
        bad_tc[0]
    );
    let (status, body) = import(app, &csv, &[]).await;
    assert_eq!(status, 422, "{body}");
    let csv = format!(
        "Ad,Telefon,TC\nEce,05309671428,{}\nFırat,05447391826,{}\n",
        bad_tc[1], tc[1]
    );
    let mapping = r#"{"name":"Ad","phone":"Telefon","tckn":"TC"}"#;
    let (status, body) = import(app, &csv, &[("mapping", mapping), ("mode", "skip-invalid")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 0, "{body}");
}

/// Opt-outs: added, repeated, refused, searched, removed.
pub async fn opt_outs(app: &TestApp, data: &Personal) {
    let k = ADMIN_KEY;
    let Personal { bad_phones, .. } = data;
    let o = app
        .call(
            "POST",
            "/opt-outs",
            k,
            Some(json!({"phone": "0506 947 38 25", "reason": "RET"})),
        )
        .await;
    assert_eq!(o.status, 201, "{}", o.body);
    let oid = o.body["id"].as_i64().unwrap();
    let o = app
        .call(
            "POST",
            "/opt-outs",
            k,
            Some(json!({"phone": "+905447391826"})),
        )
        .await;
    assert_eq!(o.status, 201, "{}", o.body);
    let dup = app
        .call(
            "POST",
            "/opt-outs",
            k,
            Some(json!({"phone": "05069473825"})),
        )
        .await;
    assert_eq!(dup.status, 409, "{}", dup.body);
    let bad = app
        .call(
            "POST",
            "/opt-outs",
            k,
            Some(json!({"phone": bad_phones[1]})),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    for search in ["05069473825", "+905447391826", "5069473825"] {
        let l = app
            .call("GET", &format!("/opt-outs?search={}", q(search)), k, None)
            .await;
        assert_eq!(l.status, 200, "{}", l.body);
        assert_eq!(l.body["items"].as_array().unwrap().len(), 1, "{}", l.body);
    }
    let d = app
        .call("DELETE", &format!("/opt-outs/{oid}"), k, None)
        .await;
    assert_eq!(d.status, 204, "{}", d.body);
}

/// Users carry a phone too.
pub async fn users(app: &TestApp) {
    let k = ADMIN_KEY;
    let u = app
        .call(
            "POST",
            "/users",
            k,
            Some(json!({"login": "operator1", "password": PASSWORD,
                "phone": "0538 715 29 46", "role": "operator"})),
        )
        .await;
    assert_eq!(u.status, 201, "{}", u.body);
    let uid = u.body["id"].as_i64().unwrap();
    let u = app
        .call(
            "PATCH",
            &format!("/users/{uid}"),
            k,
            Some(json!({"phone": "+90 543 629 18 57"})),
        )
        .await;
    assert_eq!(u.status, 200, "{}", u.body);
    let u = app
        .call(
            "PATCH",
            &format!("/users/{uid}"),
            k,
            Some(json!({"phone": "0312 456 78 91"})),
        )
        .await;
    assert_eq!(u.status, 422, "{}", u.body);
}

/// A campaign to pasted numbers and TC ID numbers, previewed, started and sent through the
/// built-in simulator; and a single send. The texts are plain ASCII, the kind the bulk
/// insert writes into its statement instead of binding. Returns the campaign's and the
/// message's ids.
pub async fn campaign_and_single_send(app: &TestApp, data: &Personal) -> (i64, i64) {
    let k = ADMIN_KEY;
    let Personal { tc, .. } = data;
    let r = app
        .call(
            "POST",
            "/credit/entries",
            k,
            Some(json!({"kind": "purchase", "amount": 100})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .call(
            "PATCH",
            "/sms-settings",
            k,
            Some(json!({"tckn_subscription_active": true, "tckn_sender": "ULAK TC"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = app
        .call(
            "POST",
            "/campaigns",
            k,
            Some(
                json!({"name": "Randevu", "text": CAMPAIGN_TEXT, "audience": {
                    "numbers": ["0506 183 72 94", "+905392817465", "5417263819"],
                    "tckns": [tc[6], tc[7]],
                }}),
            ),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let cid = c.body["id"].as_i64().unwrap();
    let p = app
        .call("GET", &format!("/campaigns/{cid}/preview"), k, None)
        .await;
    assert_eq!(p.body["recipients"], 5, "{}", p.body);
    let st = app
        .call("POST", &format!("/campaigns/{cid}/start"), k, None)
        .await;
    assert_eq!(st.status, 200, "{}", st.body);
    let m = app
        .call(
            "POST",
            "/messages",
            k,
            Some(json!({"to": "0505 826 41 37", "text": SINGLE_TEXT})),
        )
        .await;
    assert_eq!(m.status, 202, "{}", m.body);
    let mid = m.body["id"].as_i64().unwrap();
    (cid, mid)
}

/// Waits until the campaign has finished and the single send is delivered, through the
/// simulator.
pub async fn wait_until_delivered(app: &TestApp, cid: i64, mid: i64) {
    let k = ADMIN_KEY;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let c = app.call("GET", &format!("/campaigns/{cid}"), k, None).await;
        let m = app.call("GET", &format!("/messages/{mid}"), k, None).await;
        if c.body["state"] == "finished" && m.body["state"] == "delivered" {
            assert_eq!(c.body["counts"]["delivered"], 5, "{}", c.body);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered: {} {}",
            c.body,
            m.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Customer accounts: created, changed, searched, imported.
pub async fn customer_accounts(app: &TestApp) {
    let k = ADMIN_KEY;
    let c = app
        .call(
            "POST",
            "/customers",
            k,
            Some(json!({"code": "C1", "title": "Cari", "phones": ["0531 826 49 75"]})),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let cid = c.body["id"].as_i64().unwrap();
    let c = app
        .call(
            "PATCH",
            &format!("/customers/{cid}"),
            k,
            Some(json!({"phones": ["+90 531 826 49 75", "05467192835"]})),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.body);
    let c = app
        .call(
            "GET",
            &format!("/customers?search={}", q("5467192835")),
            k,
            None,
        )
        .await;
    assert_eq!(c.body["items"].as_array().map(Vec::len), Some(1));
    let csv = b"code;title;phones\nC2;Cari 2;0532 491 83 67\n".to_vec();
    let (status, _) = app.upload("/customers/import", k, csv, "c.csv", &[]).await;
    assert_eq!(status, 200);
}

/// Operator and OTP passwords.
pub async fn provider_and_otp_passwords(app: &TestApp) {
    let k = ADMIN_KEY;
    let p = app
        .call(
            "POST",
            "/provider-accounts",
            k,
            Some(
                json!({"name": "op", "kind": "smpp", "host": "h", "port": 2775,
                        "system_id": "sys", "password": OPERATOR_PASSWORD}),
            ),
        )
        .await;
    assert_eq!(p.status, 201, "{}", p.body);
    let p = app
        .call(
            "PATCH",
            "/sms-settings",
            k,
            Some(json!({"otp_username": "otp", "otp_password": OTP_PASSWORD})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
}

/// A message text with a phone number in it.
pub async fn text_with_a_phone(app: &TestApp) {
    let k = ADMIN_KEY;
    let c = app
        .call(
            "POST",
            "/count",
            k,
            Some(json!({"text": "Bizi 0532 741 85 29 numarasından arayın"})),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.body);
}

/// Deletes every subscriber but A.
pub async fn delete_subscribers(app: &TestApp, ids: &[i64]) {
    let k = ADMIN_KEY;
    for id in &ids[1..] {
        let d = app
            .call("DELETE", &format!("/subscribers/{id}"), k, None)
            .await;
        assert_eq!(d.status, 204, "{}", d.body);
    }
}
