//! The subscriber, group and customer-account screens through a real server: what each role
//! sees, the member forms (CSRF, role), escaping, paging, and that another company's rows never
//! show.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};
use crate::web::{Browser, user};

const XSS: &str = "<script>alert(1)</script>";
/// How askama escapes it (numeric references).
const XSS_SHOWN: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";
const PASSWORD: &str = "Dogru-Parola-1";

async fn post(app: &TestApp, key: &str, path: &str, body: Value) -> i64 {
    let r = app.call("POST", path, key, Some(body)).await;
    assert_eq!(r.status, 201, "{path}: {}", r.body);
    r.body["id"].as_i64().unwrap()
}

async fn subscriber(app: &TestApp, key: &str, name: &str, phone: &str) -> i64 {
    let body = json!({"name": name, "phone": phone, "tckn": "10000000146"});
    post(app, key, "/subscribers", body).await
}

async fn members(app: &TestApp, group: i64) -> Vec<i64> {
    let r = app
        .call("GET", &format!("/groups/{group}/members"), ADMIN_KEY, None)
        .await;
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect()
}

async fn signed_in<'a>(app: &'a TestApp, login: &str, role: &str) -> Browser<'a> {
    user(app, login, PASSWORD, role).await;
    let mut b = Browser::new(app);
    let (status, _, _) = b.sign_in(login, PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    b
}

#[tokio::test]
async fn an_operator_sees_escaped_rows_marks_and_send_links() {
    let app = spawn_app().await;
    let s = subscriber(&app, ADMIN_KEY, XSS, "05321110001").await;
    let g = post(&app, ADMIN_KEY, "/groups", json!({"name": XSS})).await;
    let body =
        json!({"code": "C-1", "title": XSS, "phones": ["05321110002"], "balance_minor": 123456});
    let c = post(&app, ADMIN_KEY, "/customers", body).await;
    let mut b = signed_in(&app, "operator1", "operator").await;
    let marks = [
        ("/subscribers", format!(r#"name="subscribers" value="{s}""#)),
        ("/groups", format!(r#"name="groups" value="{g}""#)),
        ("/customers", format!(r#"name="customers" value="{c}""#)),
    ];
    for (path, mark) in marks {
        let (status, page, _) = b.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            page.contains(XSS_SHOWN) && !page.contains(XSS),
            "{path}: {page}"
        );
        assert!(page.contains(&mark), "{path} marks rows: {page}");
        assert!(
            page.contains(r#"<form id="bulk" method="get" action="/send">"#)
                && page.contains("Toplu SMS")
                && page.contains("SMS Gönder"),
            "{path}: {page}"
        );
    }
    let (_, page, _) = b.get("/customers").await;
    assert!(page.contains(&format!(r#"href="/send?customers={c}""#)) && page.contains("1.234,56"));
    let (status, card, _) = b.get(&format!("/subscribers/{s}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(card.contains(XSS_SHOWN) && !card.contains(XSS), "{card}");
    assert!(card.contains("+905321110001") && card.contains("•••••••••46"));
    assert!(!card.contains("10000000146"), "the TC ID number is masked");
    assert!(card.contains(&format!(r#"href="/send?subscribers={s}""#)));
}

#[tokio::test]
async fn a_viewer_sees_no_actions_and_is_refused_when_posting() {
    let app = spawn_app().await;
    let s = subscriber(&app, ADMIN_KEY, "Veli", "05321110003").await;
    let g = post(&app, ADMIN_KEY, "/groups", json!({"name": "VIP"})).await;
    let mut b = signed_in(&app, "izleyici", "viewer").await;
    for path in [
        "/subscribers",
        "/groups",
        "/customers",
        &format!("/groups/{g}"),
    ] {
        let (status, page, _) = b.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            !page.contains("/send?")
                && !page.contains("Toplu SMS")
                && !page.contains(r#"type="checkbox""#)
                && !page.contains("/members/"),
            "{path} shows a viewer actions: {page}"
        );
    }
    let (_, page, _) = b.get(&format!("/groups/{g}?find=Veli")).await;
    assert!(!page.contains("/members/add"));
    let csrf = Browser::csrf_in(&page);
    let sid = s.to_string();
    let form = [("csrf", csrf.as_str()), ("subscribers", sid.as_str())];
    let (status, page, _) = b.post(&format!("/groups/{g}/members/add"), &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("yetkiniz yok"), "{page}");
    assert!(members(&app, g).await.is_empty());
}

#[tokio::test]
async fn members_are_added_and_removed_by_forms_with_the_csrf_token() {
    let app = spawn_app().await;
    let s = subscriber(&app, ADMIN_KEY, "Zeynep Üye", "05321110004").await;
    let g = post(&app, ADMIN_KEY, "/groups", json!({"name": "Kulüp"})).await;
    let mut b = signed_in(&app, "operator2", "operator").await;
    let (_, page, _) = b.get(&format!("/groups/{g}?find=zeynep")).await;
    assert!(
        page.contains(&format!(r#"name="subscribers" value="{s}""#)),
        "found to add: {page}"
    );
    let csrf = Browser::csrf_in(&page);
    let sid = s.to_string();
    let add = format!("/groups/{g}/members/add");
    let (status, _, _) = b.post(&add, &[("subscribers", &sid)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no token");
    let (status, _, _) = b
        .post(&add, &[("csrf", "0bad"), ("subscribers", &sid)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a wrong token");
    assert!(members(&app, g).await.is_empty());
    let form = [("csrf", csrf.as_str()), ("subscribers", sid.as_str())];
    let (status, _, to) = b.post(&add, &form).await;
    let back = format!("/groups/{g}");
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some(back.as_str()))
    );
    assert_eq!(members(&app, g).await, vec![s]);
    let (_, page, _) = b.get(&back).await;
    assert!(page.contains("Zeynep Üye") && page.contains("/members/remove"));
    let (_, card, _) = b.get(&format!("/subscribers/{s}")).await;
    assert!(
        card.contains(&format!(r#"href="/groups/{g}">Kulüp</a>"#)),
        "{card}"
    );
    let (status, _, _) = b.post(&format!("{back}/members/remove"), &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(members(&app, g).await.is_empty());
    let bad = [("csrf", csrf.as_str()), ("subscribers", "x")];
    assert_eq!(b.post(&add, &bad).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn another_companys_rows_never_show() {
    let app = spawn_app().await;
    let other = app.company("baska").await;
    let theirs = subscriber(&app, &other, "Yabancı Abone", "05321110005").await;
    let their_group = post(&app, &other, "/groups", json!({"name": "Yabancı Grup"})).await;
    let body = json!({"code": "Y-1", "title": "Yabancı Cari", "phones": ["05321110006"]});
    post(&app, &other, "/customers", body).await;
    let ours = post(&app, ADMIN_KEY, "/groups", json!({"name": "Bizim"})).await;
    let mut b = signed_in(&app, "operator3", "operator").await;
    for path in [
        "/subscribers",
        "/groups",
        "/customers",
        "/subscribers?q=Yabanc",
    ] {
        let (status, page, _) = b.get(path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!page.contains("Yabancı"), "{path}: {page}");
    }
    for path in [
        format!("/subscribers/{theirs}"),
        format!("/groups/{their_group}"),
        "/subscribers/abc".to_owned(),
    ] {
        let (status, page, _) = b.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            !page.contains("Yabancı") && page.contains("bulunamadı"),
            "{page}"
        );
    }
    let (_, page, _) = b.get(&format!("/groups/{ours}")).await;
    let csrf = Browser::csrf_in(&page);
    let sid = theirs.to_string();
    let form = [("csrf", csrf.as_str()), ("subscribers", sid.as_str())];
    let (status, _, _) = b.post(&format!("/groups/{ours}/members/add"), &form).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(members(&app, ours).await.is_empty());
}

/// The `href` of the link with `rel`, unescaped.
fn link(page: &str, rel: &str) -> Option<String> {
    let at = page.find(&format!(r#"rel="{rel}""#))?;
    let start = page[..at].rfind("href=\"")? + 6;
    let end = start + page[start..].find('"')?;
    Some(page[start..end].replace("&#38;", "&").replace("&amp;", "&"))
}

#[tokio::test]
async fn search_and_keyset_pages_walk_forward_and_back() {
    let app = spawn_app().await;
    for i in 0..55 {
        subscriber(
            &app,
            ADMIN_KEY,
            &format!("Sayfa {i:02}"),
            &format!("0532220{i:04}"),
        )
        .await;
    }
    subscriber(&app, ADMIN_KEY, "Başka Biri", "05323330000").await;
    let mut b = signed_in(&app, "operator4", "operator").await;
    let rows = |page: &str| page.matches(r#"<a href="/subscribers/"#).count();
    let (_, first, _) = b.get("/subscribers?q=sayfa").await;
    assert_eq!(rows(&first), 50);
    assert!(!first.contains("Başka Biri") && link(&first, "prev").is_none());
    let next = link(&first, "next").expect("a next page");
    assert!(next.starts_with("/subscribers?q=sayfa&cursor="), "{next}");
    let (_, second, _) = b.get(&next).await;
    assert_eq!(rows(&second), 5);
    assert!(second.contains("Sayfa 54") && link(&second, "next").is_none());
    let prev = link(&second, "prev").expect("a previous page");
    assert_eq!(prev, "/subscribers?q=sayfa");
    let (_, again, _) = b.get(&prev).await;
    assert!(again.contains("Sayfa 00"));
    let (status, page, _) = b.get("/subscribers?cursor=nope").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(r#"role="alert""#) && rows(&page) == 0,
        "{page}"
    );
}
