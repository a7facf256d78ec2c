//! The web UI's front door through a real server: the sign-in form, sessions, CSRF, lockout,
//! sign-out and the language switch. (The browser tests in web/e2e drive the same pages in
//! Chromium.)

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};

/// A browser without redirects, keeping the cookies the server sets by hand.
pub(crate) struct Browser<'a> {
    pub(crate) app: &'a TestApp,
    pub(crate) http: reqwest::Client,
    pub(crate) cookies: Vec<(String, String)>,
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            app,
            http,
            cookies: Vec::new(),
        }
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) fn keep(&mut self, r: &Response) {
        for c in r.headers().get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !attrs.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    pub(crate) fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    pub(crate) async fn get(&mut self, path: &str) -> (StatusCode, String, Option<String>) {
        let r = self
            .http
            .get(format!("{}{path}", self.app.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let location = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        (r.status(), r.text().await.unwrap(), location)
    }

    pub(crate) async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, Option<String>) {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let r = self
            .http
            .post(format!("{}{path}", self.app.base))
            .header(COOKIE, self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let location = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        (r.status(), r.text().await.unwrap(), location)
    }

    /// The CSRF token the page's forms carry.
    pub(crate) fn csrf_in(page: &str) -> String {
        let at = page.find(r#"name="csrf" value=""#).expect("a csrf field") + 19;
        page[at..].split('"').next().unwrap().to_owned()
    }

    pub(crate) async fn sign_in(
        &mut self,
        login: &str,
        password: &str,
    ) -> (StatusCode, String, Option<String>) {
        let (_, page, _) = self.get("/login").await;
        let csrf = Self::csrf_in(&page);
        self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("company", "default"),
                ("username", login),
                ("password", password),
            ],
        )
        .await
    }
}

pub(crate) async fn user(app: &TestApp, login: &str, password: &str, role: &str) {
    let r = app
        .call(
            "POST",
            "/users",
            ADMIN_KEY,
            Some(json!({"login": login, "password": password, "role": role})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[tokio::test]
async fn the_sign_in_page_is_turkish_and_locked_down() {
    let app = spawn_app().await;
    let r = reqwest::get(format!("{}/login", app.base)).await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let cookie = h[SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.starts_with("ulak_login_csrf=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let page = r.text().await.unwrap();
    assert!(
        page.contains(r#"<html lang="tr">"#) && page.contains("Giriş yap"),
        "{page}"
    );
    assert!(page.contains(r#"id="company" name="company" value="default""#));
    let css = reqwest::get(format!("{}/static/ulak.css", app.base))
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let none = reqwest::get(format!("{}/static/nope.js", app.base))
        .await
        .unwrap();
    assert_eq!(none.status(), 404);
}

#[tokio::test]
async fn signing_in_opens_the_dashboard_and_signing_out_ends_the_session() {
    let app = spawn_app().await;
    user(&app, "ayse", "Dogru-Parola-1", "operator").await;
    let mut b = Browser::new(&app);
    let (status, _, to) = b.get("/").await;
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/login"))
    );
    let (status, _, to) = b.sign_in("Ayse", "Dogru-Parola-1").await;
    assert_eq!((status, to.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    let token = b.cookie("ulak_session").expect("a session cookie");
    assert!(
        b.cookie("ulak_login_csrf").is_none(),
        "the form's cookie is dropped"
    );
    let (status, page, _) = b.get("/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<h1>Gösterge paneli</h1>") && page.contains(r#"data-testid="credit""#),
        "{page}"
    );
    assert!(!page.contains('{'), "every placeholder filled: {page}");
    // Signed in, the form sends to the dashboard.
    assert_eq!(b.get("/login").await.2.as_deref(), Some("/"));
    // Signing in again (a form opened before) starts a new session and ends the old one.
    let mut form_tab = Browser::new(&app);
    let (_, page, _) = form_tab.get("/login").await;
    let csrf = Browser::csrf_in(&page);
    b.cookies.push((
        "ulak_login_csrf".into(),
        form_tab.cookie("ulak_login_csrf").unwrap(),
    ));
    let fields = [
        ("csrf", csrf.as_str()),
        ("company", "default"),
        ("username", "ayse"),
        ("password", "Dogru-Parola-1"),
    ];
    assert_eq!(b.post("/login", &fields).await.0, StatusCode::SEE_OTHER);
    let fresh = b.cookie("ulak_session").unwrap();
    assert_ne!(fresh, token);
    let mut old = Browser::new(&app);
    old.cookies.push(("ulak_session".into(), token));
    assert_eq!(old.get("/").await.0, StatusCode::SEE_OTHER);
    // Signing out needs the form's token; with it the session is gone.
    let (_, page, _) = b.get("/").await;
    let csrf = Browser::csrf_in(&page);
    assert_eq!(
        b.post("/logout", &[("csrf", "wrong")]).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(b.get("/").await.0, StatusCode::OK);
    let (status, _, to) = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/login"))
    );
    let mut replay = Browser::new(&app);
    replay.cookies.push(("ulak_session".into(), fresh));
    assert_eq!(replay.get("/").await.2.as_deref(), Some("/login"));
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let app = spawn_app().await;
    user(&app, "mehmet", "Dogru-Parola-1", "operator").await;
    let mut b = Browser::new(&app);
    b.get("/login").await;
    let form = [
        ("company", "default"),
        ("username", "mehmet"),
        ("password", "Dogru-Parola-1"),
    ];
    let (status, page, _) = b.post("/login", &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains(r#"role="alert""#), "{page}");
    // A token from the page but no cookie (another site's form) is refused too.
    let (_, page, _) = b.get("/login").await;
    let csrf = Browser::csrf_in(&page);
    let mut other = Browser::new(&app);
    let mut with = form.to_vec();
    with.push(("csrf", &csrf));
    assert_eq!(other.post("/login", &with).await.0, StatusCode::FORBIDDEN);
    assert!(other.cookie("ulak_session").is_none());
}

#[tokio::test]
async fn ten_wrong_passwords_lock_the_user_even_against_the_right_one() {
    let app = spawn_app().await;
    user(&app, "kilit", "Dogru-Parola-1", "operator").await;
    user(&app, "diger", "Dogru-Parola-1", "operator").await;
    let mut b = Browser::new(&app);
    for _ in 0..9 {
        let (status, page, _) = b.sign_in("kilit", "yanlis-parola").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(page.contains("Kullanıcı adı veya parola hatalı."), "{page}");
    }
    let (status, page, _) = b.sign_in("kilit", "yanlis-parola").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("kilitlendi"), "{page}");
    let (status, page, _) = b.sign_in("kilit", "Dogru-Parola-1").await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "locked, even with the right password"
    );
    assert!(page.contains("kilitlendi") && b.cookie("ulak_session").is_none());
    // Another user from the same address is not locked out by it.
    let (status, _, to) = b.sign_in("diger", "Dogru-Parola-1").await;
    assert_eq!((status, to.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
}

#[tokio::test]
async fn the_language_is_remembered_per_user() {
    let app = spawn_app().await;
    user(&app, "elif", "Dogru-Parola-1", "viewer").await;
    let mut b = Browser::new(&app);
    b.sign_in("elif", "Dogru-Parola-1").await;
    let (_, page, _) = b.get("/").await;
    let csrf = Browser::csrf_in(&page);
    assert_eq!(
        b.post("/language", &[("csrf", &csrf), ("language", "xx")])
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let (status, _, to) = b
        .post("/language", &[("csrf", &csrf), ("language", "en")])
        .await;
    assert_eq!((status, to.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    let (_, page, _) = b.get("/").await;
    assert!(
        page.contains(r#"<html lang="en">"#) && page.contains("<h1>Dashboard</h1>"),
        "{page}"
    );
    let mut again = Browser::new(&app);
    again.sign_in("elif", "Dogru-Parola-1").await;
    let (_, page, _) = again.get("/").await;
    assert!(
        page.contains("<h1>Dashboard</h1>"),
        "remembered for the user: {page}"
    );
}

#[tokio::test]
async fn a_huge_form_is_refused_before_it_is_read() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    b.get("/login").await;
    let csrf = b.cookie("ulak_login_csrf").unwrap();
    let padding = "a=b&".repeat(1 << 18); // 1 MiB of fields
    let body = format!("csrf={csrf}&{padding}company=default&username=x&password=y");
    let r = b
        .http
        .post(format!("{}/login", app.base))
        .header(COOKIE, b.cookie_header())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The import wizard's upload keeps the larger limit: a body of this size is not refused
    // for its size there (it is refused for its missing token).
    let big = "x".repeat(1 << 20);
    let r = b
        .http
        .post(format!("{}/import", app.base))
        .header("content-type", "multipart/form-data; boundary=B")
        .body(format!("--B\r\ncontent-disposition: form-data; name=\"csrf\"\r\n\r\nno\r\n--B\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n{big}\r\n--B--\r\n"))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_password_reset_through_the_api_ends_the_web_sessions() {
    let app = spawn_app().await;
    user(&app, "kurban", "Dogru-Parola-1", "operator").await;
    let mut b = Browser::new(&app);
    b.sign_in("kurban", "Dogru-Parola-1").await;
    assert_eq!(b.get("/").await.0, StatusCode::OK);
    let users = app.call("GET", "/users", ADMIN_KEY, None).await;
    let items = users.body["items"].as_array().unwrap();
    let me = items.iter().find(|u| u["login"] == "kurban").unwrap();
    let id = me["id"].as_i64().unwrap();
    let r = app
        .call(
            "PATCH",
            &format!("/users/{id}"),
            ADMIN_KEY,
            Some(json!({"display_name": "K"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        b.get("/").await.0,
        StatusCode::OK,
        "only a new password ends them"
    );
    let r = app
        .call(
            "PATCH",
            &format!("/users/{id}"),
            ADMIN_KEY,
            Some(json!({"password": "Yeni-Parola-123"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(b.get("/").await.2.as_deref(), Some("/login"));
}

#[tokio::test]
async fn answers_with_company_data_are_not_cached() {
    let app = spawn_app().await;
    user(&app, "onbellek", "Dogru-Parola-1", "operator").await;
    let mut b = Browser::new(&app);
    b.sign_in("onbellek", "Dogru-Parola-1").await;
    let r = b
        .http
        .get(format!("{}/messages/export?campaign=1", app.base))
        .header(COOKIE, b.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store", "{}", r.status());
    let css = reqwest::get(format!("{}/static/ulak.css", app.base))
        .await
        .unwrap();
    assert_eq!(css.headers()["cache-control"], "public, max-age=3600");
}

#[tokio::test]
async fn a_form_the_browser_says_comes_from_another_site_is_refused() {
    let app = spawn_app().await;
    user(&app, "ayse", "Dogru-Parola-1", "operator").await;
    let mut b = Browser::new(&app);
    let (_, page, _) = b.get("/login").await;
    let csrf = Browser::csrf_in(&page);
    let form = format!("csrf={csrf}&company=default&username=ayse&password=Dogru-Parola-1");
    let post = |site: &'static str| {
        b.http
            .post(format!("{}/login", app.base))
            .header(COOKIE, b.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("sec-fetch-site", site)
            .body(form.clone())
            .send()
    };
    // A sibling subdomain could plant the sign-in form's cookie; the browser still says where
    // the form came from.
    for site in ["cross-site", "same-site"] {
        let r = post(site).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{site}");
        assert!(
            r.text().await.unwrap().contains("başka bir siteden"),
            "{site}"
        );
    }
    let r = post("same-origin").await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the page's own form signs in"
    );
}
