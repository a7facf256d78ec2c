//! The settings screens through a real server: API keys shown once, working against the API
//! and refused after revocation; users listed and made by admins only; the own password
//! change ending the other sessions; CSRF, roles, escaping and company isolation.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};
use crate::web::{Browser, user};

const XSS: &str = "<script>alert(1)</script>";
/// How askama escapes it (numeric references).
const XSS_SHOWN: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";
const PASSWORD: &str = "Dogru-Parola-1";

async fn signed_in<'a>(app: &'a TestApp, login: &str, role: &str) -> Browser<'a> {
    user(app, login, PASSWORD, role).await;
    let mut b = Browser::new(app);
    let (status, _, _) = b.sign_in(login, PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    b
}

/// The value of the once-shown key field of a page.
fn shown_key(page: &str) -> Option<String> {
    let at = page.find(r#"data-testid="new-key""#)?;
    let before = &page[..at];
    let v = before.rfind(r#"value=""#)? + 7;
    Some(before[v..].split('"').next()?.to_owned())
}

#[tokio::test]
async fn a_key_is_shown_once_works_and_stops_working_when_revoked() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (status, page, _) = b.get("/settings/keys").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let csrf = Browser::csrf_in(&page);
    let form = [("csrf", csrf.as_str()), ("name", XSS), ("role", "viewer")];
    let (status, page, _) = b.post("/settings/keys", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let key = shown_key(&page).expect("the new key on the page");
    assert!(page.contains(XSS_SHOWN) && !page.contains(XSS), "{page}");
    assert_eq!(
        app.call("GET", "/subscribers", &key, None).await.status,
        200
    );
    // A viewer key may read but not write, as its role says.
    let write = json!({"name": "x", "phone": "05321110001"});
    let r = app.call("POST", "/subscribers", &key, Some(write)).await;
    assert_eq!(r.status, 403);
    let (_, list, _) = b.get("/settings/keys").await;
    assert!(
        !list.contains(&key) && shown_key(&list).is_none(),
        "shown once"
    );
    let id = app.call("GET", "/api-keys", ADMIN_KEY, None).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == XSS)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let path = format!("/settings/keys/{id}/revoke");
    let (status, _, _) = b.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "needs the tick");
    assert_eq!(
        app.call("GET", "/subscribers", &key, None).await.status,
        200
    );
    let (status, _, _) = b
        .post(&path, &[("csrf", "wrong"), ("confirm", "yes")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, to) = b.post(&path, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/settings/keys"))
    );
    assert_eq!(
        app.call("GET", "/subscribers", &key, None).await.status,
        401
    );
}

#[tokio::test]
async fn the_system_administrators_key_cannot_be_revoked_from_the_web() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (_, page, _) = b.get("/settings/keys").await;
    let csrf = Browser::csrf_in(&page);
    let keys = app.call("GET", "/api-keys", ADMIN_KEY, None).await.body;
    let sys = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["system_admin"] == true)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert!(
        !page.contains(&format!("/settings/keys/{sys}/revoke")),
        "{page}"
    );
    let path = format!("/settings/keys/{sys}/revoke");
    let (status, _, _) = b.post(&path, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.call("GET", "/api-keys", ADMIN_KEY, None).await.status,
        200
    );
}

#[tokio::test]
async fn a_viewer_and_an_operator_change_nothing() {
    let app = spawn_app().await;
    user(&app, "kisi", PASSWORD, "viewer").await;
    for role in ["viewer", "operator"] {
        let mut b = signed_in(&app, &format!("{role}1"), role).await;
        assert_eq!(b.get("/settings/keys").await.0, StatusCode::FORBIDDEN);
        let (status, page, _) = b.get("/settings/users").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("kisi"), "{page}");
        assert!(
            !page.contains(r#"action="/settings/users"#)
                && !page.contains("/settings/keys")
                && !page.contains("Cep telefonu"),
            "{role}: {page}"
        );
        let csrf = Browser::csrf_in(&page);
        let new = [
            ("csrf", csrf.as_str()),
            ("login", "yeni"),
            ("password", PASSWORD),
            ("role", "admin"),
        ];
        assert_eq!(
            b.post("/settings/users", &new).await.0,
            StatusCode::FORBIDDEN
        );
        let key = [("csrf", csrf.as_str()), ("name", "k"), ("role", "admin")];
        assert_eq!(
            b.post("/settings/keys", &key).await.0,
            StatusCode::FORBIDDEN
        );
        let users = app.call("GET", "/users", ADMIN_KEY, None).await.body;
        let me = users["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["login"] == format!("{role}1"))
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let up = [("csrf", csrf.as_str()), ("role", "admin")];
        let path = format!("/settings/users/{me}/role");
        assert_eq!(b.post(&path, &up).await.0, StatusCode::FORBIDDEN);
        let r = app
            .call("GET", &format!("/users/{me}"), ADMIN_KEY, None)
            .await;
        assert_eq!(r.body["role"], role, "the role did not change");
    }
    let users = app.call("GET", "/users", ADMIN_KEY, None).await.body;
    assert!(!users.to_string().contains("yeni"), "no user was made");
}

#[tokio::test]
async fn an_admin_makes_a_user_and_changes_its_role_names_shown_as_text() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (_, page, _) = b.get("/settings/users").await;
    let csrf = Browser::csrf_in(&page);
    let new = [
        ("csrf", csrf.as_str()),
        ("login", "okur"),
        ("password", PASSWORD),
        ("display_name", XSS),
        ("phone", "05321110009"),
        ("email", "okur@example.com"),
        ("role", "viewer"),
    ];
    assert_eq!(
        b.post("/settings/users", &[("login", "x")]).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _, to) = b.post("/settings/users", &new).await;
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/settings/users"))
    );
    let (_, page, _) = b.get("/settings/users").await;
    assert!(page.contains(XSS_SHOWN) && !page.contains(XSS), "{page}");
    assert!(page.contains("+905321110009") && page.contains("okur@example.com"));
    // The same login again is refused on the page, and the password is not sent back.
    let (status, page, _) = b.post("/settings/users", &new).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("zaten kullanılıyor") && !page.contains(PASSWORD),
        "{page}"
    );
    let users = app.call("GET", "/users", ADMIN_KEY, None).await.body;
    let id = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == "okur")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let path = format!("/settings/users/{id}/role");
    let (status, _, _) = b
        .post(&path, &[("csrf", &csrf), ("role", "operator")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let r = app
        .call("GET", &format!("/users/{id}"), ADMIN_KEY, None)
        .await;
    assert_eq!(r.body["role"], "operator");
    let mut okur = Browser::new(&app);
    assert_eq!(
        okur.sign_in("okur", PASSWORD).await.0,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn another_companys_users_and_keys_never_show() {
    let app = spawn_app().await;
    let other = app.company("baska").await;
    let theirs = json!({"login": "yabanci", "password": PASSWORD, "role": "admin"});
    assert_eq!(
        app.call("POST", "/users", &other, Some(theirs))
            .await
            .status,
        201
    );
    let their_key = json!({"name": "Yabanci Anahtar", "role": "admin"});
    assert_eq!(
        app.call("POST", "/api-keys", &other, Some(their_key))
            .await
            .status,
        201
    );
    let prefix = app.call("GET", "/api-keys", &other, None).await.body["items"][0]["prefix"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (_, users, _) = b.get("/settings/users").await;
    assert!(
        users.contains("yonetici") && !users.contains("yabanci"),
        "{users}"
    );
    let (_, keys, _) = b.get("/settings/keys").await;
    assert!(
        !keys.contains("Yabanci Anahtar") && !keys.contains(&prefix),
        "{keys}"
    );
    let their_id = app.call("GET", "/api-keys", &other, None).await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    let csrf = Browser::csrf_in(&keys);
    let path = format!("/settings/keys/{their_id}/revoke");
    let (status, _, _) = b.post(&path, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.call("GET", "/api-keys", &other, None).await.status, 200);
}

#[tokio::test]
async fn a_password_change_needs_the_old_one_and_ends_the_other_sessions() {
    let app = spawn_app().await;
    let mut here = signed_in(&app, "okur", "viewer").await;
    let mut there = Browser::new(&app);
    assert_eq!(
        there.sign_in("okur", PASSWORD).await.0,
        StatusCode::SEE_OTHER
    );
    let (status, page, _) = here.get("/settings/password").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = Browser::csrf_in(&page);
    let new = "Yeni-Parola-22";
    let wrong = [
        ("csrf", csrf.as_str()),
        ("old", "yanlis-parola"),
        ("new", new),
    ];
    let (status, page, _) = here.post("/settings/password", &wrong).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("parola yanlış"), "{page}");
    let short = [("csrf", csrf.as_str()), ("old", PASSWORD), ("new", "kisa")];
    assert_eq!(
        here.post("/settings/password", &short).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let no_csrf = [("csrf", "x"), ("old", PASSWORD), ("new", new)];
    assert_eq!(
        here.post("/settings/password", &no_csrf).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        there.get("/").await.0,
        StatusCode::OK,
        "nothing changed yet"
    );
    let right = [("csrf", csrf.as_str()), ("old", PASSWORD), ("new", new)];
    let (status, _, to) = here.post("/settings/password", &right).await;
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/settings/password?done=1"))
    );
    assert_eq!(here.get("/").await.0, StatusCode::OK, "this session stays");
    assert_eq!(there.get("/").await.2.as_deref(), Some("/login"));
    let mut old = Browser::new(&app);
    assert_ne!(old.sign_in("okur", PASSWORD).await.2.as_deref(), Some("/"));
    let mut fresh = Browser::new(&app);
    assert_eq!(fresh.sign_in("okur", new).await.2.as_deref(), Some("/"));
}

#[tokio::test]
async fn sms_settings_are_saved_by_admins_and_the_otp_password_never_shows() {
    let app = spawn_app().await;
    let other = app.company("baska").await;
    let theirs = json!({"otp_username": "yabanci-otp"});
    assert_eq!(
        app.call("PATCH", "/sms-settings", &other, Some(theirs))
            .await
            .status,
        200
    );
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (status, page, _) = b.get("/settings/sms").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !page.contains("yabanci-otp") && page.contains("Kayıtlı parola yok"),
        "{page}"
    );
    let csrf = Browser::csrf_in(&page);
    let secret = "Gizli-OTP-Parola-9";
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("country_type", "KKTC"),
        ("tckn_sender", "ULAKTEST"),
        ("otp_username", XSS),
        ("otp_password", secret),
        ("opt_out_keywords", "RET, IPTAL, DUR"),
    ];
    let (status, _, to) = b.post("/settings/sms", &form).await;
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/settings/sms?saved=1"))
    );
    let s = app.call("GET", "/sms-settings", ADMIN_KEY, None).await.body;
    assert_eq!(s["country_type"], "KKTC");
    assert_eq!(s["tckn_sender"], "ULAKTEST");
    assert_eq!(s["otp_username"], XSS);
    assert_eq!(s["has_otp_password"], true);
    assert_eq!(s["opt_out_keywords"], json!(["RET", "IPTAL", "DUR"]));
    let (_, page, _) = b.get("/settings/sms?saved=1").await;
    assert!(page.contains(XSS_SHOWN) && !page.contains(XSS), "{page}");
    assert!(
        !page.contains(secret) && page.contains("Parola kayıtlı"),
        "{page}"
    );
    // An empty password field keeps the stored one; a refused header keeps everything.
    form[4] = ("otp_password", "");
    form[2] = ("tckn_sender", "COK-UZUN-BIR-BASLIK-ADI");
    let (status, page, _) = b.post("/settings/sms", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains(r#"role="alert""#), "{page}");
    form[2] = ("tckn_sender", "");
    assert_eq!(
        b.post("/settings/sms", &form).await.0,
        StatusCode::SEE_OTHER
    );
    let s = app.call("GET", "/sms-settings", ADMIN_KEY, None).await.body;
    assert_eq!(s["has_otp_password"], true);
    assert!(s["tckn_sender"].is_null(), "an empty header clears it: {s}");
    form.push(("otp_password_clear", "yes"));
    assert_eq!(
        b.post("/settings/sms", &form).await.0,
        StatusCode::SEE_OTHER
    );
    let s = app.call("GET", "/sms-settings", ADMIN_KEY, None).await.body;
    assert_eq!(s["has_otp_password"], false);
}

#[tokio::test]
async fn a_viewer_reads_the_sms_settings_and_may_not_change_them() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "okur", "viewer").await;
    let (status, page, _) = b.get("/settings/sms").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(r#"data-testid="read-only""#) && !page.contains("Kaydet"),
        "{page}"
    );
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("country_type", "AZ"),
        ("opt_out_keywords", "RET"),
    ];
    assert_eq!(
        b.post("/settings/sms", &form).await.0,
        StatusCode::FORBIDDEN
    );
    let form = [
        ("csrf", "x"),
        ("country_type", "AZ"),
        ("opt_out_keywords", "RET"),
    ];
    assert_eq!(
        b.post("/settings/sms", &form).await.0,
        StatusCode::FORBIDDEN
    );
    let s = app.call("GET", "/sms-settings", ADMIN_KEY, None).await.body;
    assert_eq!(s["country_type"], "TR");
}

#[tokio::test]
async fn every_role_reads_the_credit_ledger_of_its_own_company_only() {
    let app = spawn_app().await;
    let (_, other_id) = app.company_with_id("baska").await;
    let theirs = json!({"kind": "purchase", "amount": 777, "note": "Yabanci yukleme"});
    let path = format!("/companies/{other_id}/credit/entries");
    assert_eq!(
        app.call("POST", &path, ADMIN_KEY, Some(theirs))
            .await
            .status,
        201
    );
    let ours = json!({"kind": "purchase", "amount": 1_234_567, "note": XSS});
    let r = app
        .call("POST", "/credit/entries", ADMIN_KEY, Some(ours))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let balance = app.call("GET", "/credit", ADMIN_KEY, None).await.body["balance"]
        .as_i64()
        .unwrap();
    let mut b = signed_in(&app, "okur", "viewer").await;
    let (status, page, _) = b.get("/settings/credit").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("+1.234.567") && page.contains("Satın alma"),
        "{page}"
    );
    let shown = format!("Kalan kredi: {}", balance_tr(balance));
    assert!(page.contains(&shown), "{shown}: {page}");
    assert!(page.contains(XSS_SHOWN) && !page.contains(XSS), "{page}");
    assert!(!page.contains("Yabanci yukleme"), "{page}");
    assert!(!page.contains(r#"method="post" action="/settings/credit"#));
}

/// A whole number as Turkish writes it (1.234.567).
fn balance_tr(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[tokio::test]
async fn admins_list_provider_accounts_without_their_passwords() {
    let app = spawn_app().await;
    let secret = "operator-gizli-parola";
    let ours = json!({"name": XSS, "kind": "smpp", "host": "smpp.example.net", "port": 2775,
                      "system_id": "firma", "password": secret});
    let r = app
        .call("POST", "/provider-accounts", ADMIN_KEY, Some(ours))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let other = app.company("baska").await;
    let theirs = json!({"name": "yabanci-hesap", "kind": "smpp", "host": "h", "port": 2775,
                        "system_id": "s", "password": "pw"});
    let r = app
        .call("POST", "/provider-accounts", &other, Some(theirs))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (status, page, _) = b.get("/settings/providers").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(XSS_SHOWN) && !page.contains(XSS), "{page}");
    assert!(
        page.contains("smpp.example.net:2775") && page.contains("Kayıtlı"),
        "{page}"
    );
    assert!(
        !page.contains(secret) && !page.contains("yabanci-hesap"),
        "{page}"
    );
    let mut op = signed_in(&app, "operator1", "operator").await;
    assert_eq!(op.get("/settings/providers").await.0, StatusCode::FORBIDDEN);
    let (_, page, _) = op.get("/settings/sms").await;
    assert!(
        !page.contains("/settings/providers"),
        "no tab for operators: {page}"
    );
}
