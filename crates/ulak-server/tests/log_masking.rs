//! Logs never carry phone numbers, TC ID numbers or message texts: a global subscriber at
//! TRACE for every target (ours, sqlx, axum, the HTTP client, …) captures everything while the
//! API handles real personal data — subscribers created, changed, searched, imported, opt-outs,
//! users, a campaign to pasted numbers and TC ID numbers sent through the simulator, a single
//! send, and input that is refused — and no form of any of those numbers, nor the texts, may
//! appear in the captured text. No SQL statement text is logged at all (hot inserts inline
//! plain values, numbers and texts among them).
//!
//! A separate test binary, so its global subscriber affects no other test.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use helpers::{ADMIN_KEY, TestApp, spawn_app};

/// Everything logged, as the fmt subscriber wrote it.
type Buffer = Arc<Mutex<Vec<u8>>>;

/// One writer per event, appending to the shared buffer.
struct Capture(Buffer);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the global subscriber: the binary's fmt output (`ulak serve`'s `init_logs`), with
/// everything enabled at TRACE, span creation and close written too, and no colours.
fn capture_logs() -> Buffer {
    let buffer = Buffer::default();
    let writer = Arc::clone(&buffer);
    tracing_subscriber::fmt()
        // Not from the environment: a RUST_LOG must not be able to make the test vacuous.
        .with_env_filter(EnvFilter::new("trace"))
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || Capture(Arc::clone(&writer)))
        .try_init()
        .expect("this test binary installs the only global subscriber");
    buffer
}

/// A valid TC ID number from its first nine digits (d1 != 0):
/// d10 = ((d1+d3+d5+d7+d9)*7 - (d2+d4+d6+d8)) mod 10, d11 = (d1+…+d10) mod 10.
fn tckn(first_nine: [u8; 9]) -> String {
    assert_ne!(first_nine[0], 0);
    let odd: i32 = first_nine.iter().step_by(2).map(|&d| i32::from(d)).sum();
    let even: i32 = first_nine
        .iter()
        .skip(1)
        .step_by(2)
        .map(|&d| i32::from(d))
        .sum();
    let d10 = (odd * 7 - even).rem_euclid(10);
    let d11 = (odd + even + d10).rem_euclid(10);
    let mut s: String = first_nine.iter().map(|d| char::from(b'0' + d)).collect();
    s.push(char::from(b'0' + u8::try_from(d10).unwrap()));
    s.push(char::from(b'0' + u8::try_from(d11).unwrap()));
    s
}

/// The same number with a wrong last check digit.
fn bad_check_digit(valid: &str) -> String {
    let (head, last) = valid.split_at(10);
    let d = last.parse::<u8>().unwrap();
    format!("{head}{}", (d + 1) % 10)
}

/// Every form of one phone a log could carry: E.164, E.164 without `+`, national with the
/// trunk 0, and the bare national significant number.
fn phone_forms(cc: &str, nsn: &str) -> Vec<String> {
    vec![
        format!("+{cc}{nsn}"),
        format!("{cc}{nsn}"),
        format!("0{nsn}"),
        nsn.to_owned(),
    ]
}

/// The log with the separators people write inside numbers (`0532 741 85 29`,
/// `(0532) 741-85-29`) removed between digits, so spaced forms are caught too.
fn squeeze_numbers(log: &str) -> String {
    let chars: Vec<char> = log.chars().collect();
    let mut out = String::with_capacity(log.len());
    for (i, &c) in chars.iter().enumerate() {
        let separator = matches!(c, ' ' | '-' | '(' | ')' | '.');
        if separator {
            let before = out.chars().last().is_some_and(|p| p.is_ascii_digit());
            let after = chars[i + 1..]
                .iter()
                .find(|n| !matches!(n, ' ' | '-' | '(' | ')' | '.'))
                .is_some_and(char::is_ascii_digit);
            if before && after {
                continue;
            }
        }
        out.push(c);
    }
    out
}

async fn import(app: &TestApp, csv: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let mut form = Form::new().part(
        "file",
        Part::bytes(csv.as_bytes().to_vec()).file_name("rehber.csv"),
    );
    for (k, v) in fields {
        form = form.text((*k).to_owned(), (*v).to_owned());
    }
    let res = app
        .http
        .post(format!("{}/api/v1/subscribers/import", app.base))
        .bearer_auth(ADMIN_KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// The operator password of the provider account the test creates.
const OPERATOR_PASSWORD: &str = "operator-secret-4711";
/// The OTP password the test sets.
const OTP_PASSWORD: &str = "otp-secret-0815";

/// The password of the user the test creates.
const PASSWORD: &str = "uzun-bir-parola-8517";

/// The campaign's text: personal, and plain enough to be written into SQL as a literal.
const CAMPAIGN_TEXT: &str = "Randevunuz 14 Mart 10:30 Dr Selin Kaya ile, kod 58172";
/// A single send's text.
const SINGLE_TEXT: &str = "Sifreniz 904417, kimseyle paylasmayin";

/// `?search=` value, with `+` and spaces escaped.
fn q(s: &str) -> String {
    s.replace('+', "%2B").replace(' ', "%20")
}

#[tokio::test]
async fn logs_mask_phone_numbers_and_tc_id_numbers() {
    let logs = capture_logs();
    let app = spawn_app().await;
    let k = ADMIN_KEY;

    let tc = [
        tckn([3, 8, 4, 1, 9, 2, 7, 6, 5]),
        tckn([2, 7, 1, 8, 4, 6, 3, 9, 5]),
        tckn([4, 6, 2, 9, 1, 7, 5, 8, 3]),
        tckn([5, 1, 9, 3, 7, 2, 8, 4, 6]),
        tckn([6, 3, 5, 8, 2, 9, 1, 7, 4]),
        tckn([7, 9, 3, 6, 5, 1, 4, 2, 8]),
        tckn([8, 2, 6, 4, 1, 9, 3, 7, 5]), // campaign
        tckn([9, 4, 7, 2, 6, 3, 8, 1, 5]), // campaign
    ];
    // Refused TC IDs: a wrong 11th digit; a wrong 10th digit (83729164550 would be valid); and a
    // JSON number where a string belongs.
    let bad_tc = [
        bad_check_digit(&tc[0]),
        "83729164505".to_owned(),
        "72810946518".to_owned(),
    ];
    // (cc, nsn): every phone the test hands over, valid ones first.
    let phones: &[(&str, &str)] = &[
        ("90", "5327418529"), // subscriber A
        ("90", "5447391826"), // subscriber B
        ("90", "5338642715"), // subscriber C (KKTC)
        ("994", "503184762"), // subscriber D (Azerbaijan)
        ("90", "5359182746"), // A's new phone
        ("90", "5057264183"), // imported
        ("90", "5426381957"), // imported
        ("90", "5528143690"), // imported
        ("90", "5069473825"), // opt-out only
        ("90", "5387152946"), // user
        ("90", "5436291857"), // user's new phone
        ("90", "5376248159"), // sent as a JSON number (refused)
        ("90", "5417826935"), // imported, refused with a bad TC ID (all-or-nothing)
        ("90", "5309671428"), // imported, skipped with a bad TC ID (skip-invalid)
        ("90", "3124567891"), // landline (refused)
        ("90", "5318264975"), // customer account
        ("90", "5467192835"), // customer account's second phone
        ("90", "5324918367"), // customer account, imported
        ("90", "5061837294"), // campaign, pasted
        ("90", "5392817465"), // campaign, pasted
        ("90", "5417263819"), // campaign, pasted
        ("90", "5058264137"), // single send
    ];
    // Refused phone inputs kept as typed (too short, too long): they have no valid form.
    let bad_phones = ["0532 918 27", "+90 532 667 78 89 90 1"];

    // Subscribers in several forms, with TC ID numbers.
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

    // Changes: phone, TC ID, then removing the TC ID.
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

    // Searches by phone in every form, and by TC ID (matches nothing, must not be logged).
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

    // Refused input: invalid phones and TC IDs, and numbers where strings belong.
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

    // Imports: accepted, refused (all-or-nothing), partly skipped.
    let csv = format!(
        "name;phone;tckn\nAli Veli;0505 726 41 83;{}\nZeynep Kaya;+90 542 638 19 57;\nCan Öz;05528143690;\n",
        tc[5]
    );
    let (status, body) = import(&app, &csv, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 3, "{body}");
    let csv = format!(
        "name,phone,tckn\nBora,05417826935,{}\nCem,0532 918 27,\nDeniz,05057264183,\n",
        bad_tc[0]
    );
    let (status, body) = import(&app, &csv, &[]).await;
    assert_eq!(status, 422, "{body}");
    let csv = format!(
        "Ad,Telefon,TC\nEce,05309671428,{}\nFırat,05447391826,{}\n",
        bad_tc[1], tc[1]
    );
    let mapping = r#"{"name":"Ad","phone":"Telefon","tckn":"TC"}"#;
    let (status, body) = import(
        &app,
        &csv,
        &[("mapping", mapping), ("mode", "skip-invalid")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 0, "{body}");

    // Opt-outs: added, repeated, refused, searched, removed.
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

    // Users carry a phone too.
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

    // A campaign to pasted numbers and TC ID numbers, previewed, started and sent through the
    // built-in simulator; and a single send. The texts are plain ASCII, the kind the bulk
    // insert writes into its statement instead of binding.
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

    // Customer accounts: created, changed, searched, imported; and operator and OTP passwords.
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
    let res = app
        .http
        .post(format!("{}/api/v1/customers/import", app.base))
        .bearer_auth(k)
        .multipart(
            Form::new().part(
                "file",
                Part::bytes(b"code;title;phones\nC2;Cari 2;0532 491 83 67\n".to_vec())
                    .file_name("c.csv"),
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
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

    // A message text with a phone number in it.
    let c = app
        .call(
            "POST",
            "/count",
            k,
            Some(json!({"text": "Bizi 0532 741 85 29 numarasından arayın"})),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.body);

    // Deletions last, then the server stops.
    for id in &ids[1..] {
        let d = app
            .call("DELETE", &format!("/subscribers/{id}"), k, None)
            .await;
        assert_eq!(d.status, 204, "{}", d.body);
    }
    drop(app);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let log = String::from_utf8(logs.lock().unwrap_or_else(PoisonError::into_inner).clone())
        .expect("the log is UTF-8");

    // The code paths did log: store spans, their masked fields, and sqlx statements.
    for evidence in [
        "create_subscriber",
        "update_subscriber",
        "list_subscribers",
        "get_subscriber",
        "delete_subscriber",
        "begin_subscriber_import",
        "subscriber_import_check",
        "subscriber_import_write",
        "add_opt_out",
        "list_opt_outs",
        "delete_opt_out",
        "create_user",
        "update_user",
        "create_campaign",
        "begin_campaign_queueing",
        "queue_campaign_chunk",
        "enqueue_message",
        "claim_messages",
        "record_submits",
        "create_customer_account",
        "update_customer_account",
        "begin_customer_import",
        "customer_import_check",
        "customer_import_write",
        "create_provider_account",
        "update_sms_settings",
        // `create_subscriber`'s and `add_opt_out`'s phone fields, masked.
        "+90532*****29",
        "+90533*****15",
        "+99450*****62",
        "+90506*****25",
    ] {
        assert!(
            log.contains(evidence),
            "the log lacks {evidence:?}, so it proves nothing ({} bytes):\n{}",
            log.len(),
            tail(&log)
        );
    }

    // No statement text at any level: sqlx's statement and slow-statement logs are off.
    for sql in [
        "sqlx::query",
        "INSERT INTO",
        "UPDATE messages",
        "db.statement",
    ] {
        assert!(
            !log.contains(sql),
            "SQL statement text in the log ({sql}):\n{}",
            tail(&log)
        );
    }

    let squeezed = squeeze_numbers(&log);
    let mut leaks = Vec::new();
    let mut secrets: Vec<String> = phones
        .iter()
        .flat_map(|(cc, nsn)| phone_forms(cc, nsn))
        .collect();
    secrets.extend(tc.iter().cloned());
    secrets.extend(bad_tc.iter().cloned());
    for raw in bad_phones {
        secrets.push(raw.to_owned());
        secrets.push(raw.chars().filter(char::is_ascii_digit).collect());
    }
    // Not phones or ID numbers, but no less secret: the user's password and the API key.
    secrets.push(PASSWORD.to_owned());
    secrets.push(OPERATOR_PASSWORD.to_owned());
    secrets.push(OTP_PASSWORD.to_owned());
    secrets.push(ADMIN_KEY.to_owned());
    // Message texts, whole and in part.
    for text in [CAMPAIGN_TEXT, SINGLE_TEXT] {
        secrets.push(text.to_owned());
        secrets.extend(text.split(", ").map(str::to_owned));
    }
    for secret in &secrets {
        for (which, text) in [("log", &log), ("log without separators", &squeezed)] {
            if let Some(at) = text.find(secret.as_str()) {
                let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
                leaks.push(format!(
                    "{secret} in the {which}: {}",
                    &text[line_start..line_end]
                ));
                break;
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "personal data in the logs:\n{}",
        leaks.join("\n")
    );
}

/// The end of a long log, for failure messages.
fn tail(log: &str) -> &str {
    let mut start = log.len().saturating_sub(4000);
    while !log.is_char_boundary(start) {
        start += 1;
    }
    &log[start..]
}
