//! SMS settings and provider accounts: passwords are write-only, roles are enforced, input is
//! checked field by field.

use serde_json::json;

use crate::helpers::{ADMIN_KEY, spawn_app};

#[tokio::test]
async fn sms_settings_change_and_hide_the_otp_password() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    let s = app.call("GET", "/sms-settings", k, None).await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(s.body["country_type"], "TR");
    assert_eq!(s.body["has_otp_password"], false);

    let p = app
        .call(
            "PATCH",
            "/sms-settings",
            k,
            Some(json!({
                "country_type": "KKTC", "tckn_sender": "FIRMA TC",
                "tckn_subscription_active": true, "otp_username": "otpuser",
                "otp_password": "s3cret-otp"
            })),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["country_type"], "KKTC");
    assert_eq!(p.body["tckn_sender"], "FIRMA TC");
    assert_eq!(p.body["tckn_subscription_active"], true);
    assert_eq!(p.body["has_otp_password"], true);
    assert!(!p.body.to_string().contains("s3cret-otp"));
    // An absent field stays, null clears.
    let p = app
        .call(
            "PATCH",
            "/sms-settings",
            k,
            Some(json!({"tckn_sender": null})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body["tckn_sender"].is_null());
    assert_eq!(p.body["otp_username"], "otpuser");
    assert_eq!(p.body["has_otp_password"], true);
    // Invalid values are named and change nothing.
    let bad = app
        .call(
            "PATCH",
            "/sms-settings",
            k,
            Some(json!({"tckn_sender": "ŞİRKET", "otp_password": "", "otp_username": "x"})),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["tckn_sender", "otp_password"]);
    let s = app.call("GET", "/sms-settings", k, None).await;
    assert_eq!(s.body["otp_username"], "otpuser");
    let bad = app
        .call(
            "PATCH",
            "/sms-settings",
            k,
            Some(json!({"country_type": "DE"})),
        )
        .await;
    assert!([400, 422].contains(&bad.status), "{}", bad.body);

    // Opt-out keywords: RET and IPTAL by default, replaceable, checked.
    assert_eq!(s.body["opt_out_keywords"], json!(["RET", "IPTAL"]));
    let p = app
        .call(
            "PATCH",
            "/sms-settings",
            k,
            Some(json!({"opt_out_keywords": ["ret", "İptal", "DUR"]})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["opt_out_keywords"], json!(["RET", "İPTAL", "DUR"]));
    for bad in [json!([]), json!(["two words"]), json!(["x".repeat(21)])] {
        let r = app
            .call(
                "PATCH",
                "/sms-settings",
                k,
                Some(json!({"opt_out_keywords": bad})),
            )
            .await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }
    // The new country type decides how national numbers are read.
    let sub = app
        .call(
            "POST",
            "/subscribers",
            k,
            Some(json!({"name": "K", "phone": "0533 861 00 00"})),
        )
        .await;
    assert_eq!(sub.body["zone"], "KKTC", "{}", sub.body);

    // Only an admin changes them.
    let op = app
        .call(
            "POST",
            "/api-keys",
            k,
            Some(json!({"name": "op", "role": "operator"})),
        )
        .await;
    let op = op.body["key"].as_str().unwrap();
    assert_eq!(app.call("GET", "/sms-settings", op, None).await.status, 200);
    assert_eq!(
        app.call(
            "PATCH",
            "/sms-settings",
            op,
            Some(json!({"country_type": "TR"}))
        )
        .await
        .status,
        403
    );
}

#[tokio::test]
async fn provider_accounts_keep_passwords_write_only() {
    let app = spawn_app().await;
    // A new company: `default` starts with the built-in simulator's account.
    let k = &app.company("operator").await;
    let a = app
        .call(
            "POST",
            "/provider-accounts",
            k,
            Some(json!({
                "name": "Turkcell", "kind": "smpp", "host": "smpp.example.net", "port": 2775,
                "system_id": "firma", "password": "operator-pass-1", "binds": 2, "window": 50,
                "rate_per_sec": 100
            })),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["has_password"], true);
    assert_eq!(a.body["text_policy"], "turkish-shift", "from country TR");
    assert_eq!(a.body["bind_mode"], "transceiver");
    assert_eq!(a.body["source"], json!({"ton": 5, "npi": 0}));
    assert!(!a.body.to_string().contains("operator-pass-1"));
    let id = a.body["id"].as_i64().unwrap();

    // A replace without a password keeps the stored one.
    let r = app
        .call(
            "PUT",
            &format!("/provider-accounts/{id}"),
            k,
            Some(json!({
                "name": "Turkcell", "kind": "smpp", "host": "smpp2.example.net", "port": 3775,
                "system_id": "firma", "enabled": false
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            r.body["host"].as_str(),
            r.body["has_password"].as_bool(),
            r.body["enabled"].as_bool()
        ),
        (Some("smpp2.example.net"), Some(true), Some(false))
    );
    let list = app.call("GET", "/provider-accounts", k, None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert!(!list.body.to_string().contains("operator-pass-1"));

    // The simulator needs no connection fields.
    let sim = app
        .call(
            "POST",
            "/provider-accounts",
            k,
            Some(json!({"name": "Test", "kind": "simulator"})),
        )
        .await;
    assert_eq!(sim.status, 201, "{}", sim.body);
    assert_eq!(sim.body["has_password"], false);

    // Every invalid field is named.
    let bad = app
        .call(
            "POST",
            "/provider-accounts",
            k,
            Some(json!({
                "name": "X", "kind": "smpp", "system_id": "a-very-long-system-id",
                "binds": 0, "window": 5000, "text_policy": "latin9", "bind_mode": "both"
            })),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let mut fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        vec![
            "bind_mode",
            "binds",
            "host",
            "port",
            "system_id",
            "text_policy",
            "window"
        ]
    );
    let dup = app
        .call(
            "POST",
            "/provider-accounts",
            k,
            Some(json!({"name": "Test", "kind": "simulator"})),
        )
        .await;
    assert_eq!(dup.status, 409, "{}", dup.body);

    // Operators cannot see operator credentials at all.
    let op = app
        .call(
            "POST",
            "/api-keys",
            k,
            Some(json!({"name": "op", "role": "operator"})),
        )
        .await;
    let op = op.body["key"].as_str().unwrap();
    assert_eq!(
        app.call("GET", "/provider-accounts", op, None).await.status,
        403
    );
    assert_eq!(
        app.call("GET", &format!("/provider-accounts/{id}"), op, None)
            .await
            .status,
        403
    );
    assert_eq!(
        app.call("DELETE", &format!("/provider-accounts/{id}"), k, None)
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn provider_accounts_of_a_kind_that_cannot_send_are_refused() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    let http = json!({
        "name": "Operatör HTTP", "kind": "http", "host": "api.example.net", "port": 443,
        "system_id": "firma", "password": "operator-pass-1"
    });
    let a = app
        .call("POST", "/provider-accounts", k, Some(http.clone()))
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(a.body["errors"][0]["field"], "kind");
    assert_eq!(a.body["errors"][0]["code"], "provider.kind_unsupported");
    // Nor can an account become one.
    let sim = app
        .call(
            "POST",
            "/provider-accounts",
            k,
            Some(json!({"name": "Test", "kind": "simulator"})),
        )
        .await;
    assert_eq!(sim.status, 201, "{}", sim.body);
    let id = sim.body["id"].as_i64().unwrap();
    let r = app
        .call("PUT", &format!("/provider-accounts/{id}"), k, Some(http))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["errors"][0]["code"], "provider.kind_unsupported");
}

/// Each kind has its own settings: an HTTP setting on an SMPP account (and an SMPP one on an
/// HTTP account) is refused by name, not ignored; HTTP settings are checked although the
/// kind cannot send yet.
#[tokio::test]
async fn provider_settings_of_another_kind_are_refused() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    let smpp = json!({
        "name": "Operatör", "kind": "smpp", "host": "smpp.example.net", "port": 2775,
        "system_id": "firma", "password": "operator-pass-1",
        "base_url": "https://api.example.net", "token": "abc"
    });
    let r = app.call("POST", "/provider-accounts", k, Some(smpp)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let errors: Vec<(String, String)> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().into(),
                e["code"].as_str().unwrap().into(),
            )
        })
        .collect();
    let other = "provider.setting_other_kind".to_owned();
    assert_eq!(
        errors,
        [
            ("base_url".to_owned(), other.clone()),
            ("token".to_owned(), other.clone())
        ]
    );
    let http = json!({
        "name": "Operatör HTTP", "kind": "http", "base_url": "https://10.0.0.1/api",
        "username": "firma", "token": "abc", "window": 5
    });
    let r = app.call("POST", "/provider-accounts", k, Some(http)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let fields: Vec<(&str, &str)> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("kind", "provider.kind_unsupported"),
            ("window", "provider.setting_other_kind"),
            ("base_url", "url.target_not_allowed"),
        ]
    );
    // An SMPP account shows no HTTP settings and no token.
    let ok = app
        .call(
            "POST",
            "/provider-accounts",
            k,
            Some(json!({"name": "Test", "kind": "simulator"})),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(ok.body["has_token"], false);
    assert!(ok.body.get("base_url").is_none(), "{}", ok.body);
    assert!(ok.body.get("token").is_none(), "{}", ok.body);
}
