//! The import wizard through a real server: upload, mapping over a preview, the API's import
//! into a new group, row errors (escaped, downloadable), roles, CSRF, and companies apart.

use reqwest::StatusCode;
use reqwest::header::COOKIE;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};
use crate::web::{Browser, user};

const XSS: &str = "<script>alert(1)</script>";
const XSS_SHOWN: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";
const PASSWORD: &str = "Dogru-Parola-1";
/// The README's example file.
const README_CSV: &str = "Ad Soyad;Telefon;TC;Bakiye\nAyşe Yılmaz;0532 123 45 67;10000000146;120,50\nMehmet Demir;+90 542 987 65 43;;80,00\n";

async fn signed_in<'a>(app: &'a TestApp, login: &str, role: &str) -> Browser<'a> {
    user(app, login, PASSWORD, role).await;
    let mut b = Browser::new(app);
    let (status, _, _) = b.sign_in(login, PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    b
}

/// Posts step 1 as a browser does: `fields` in order (the CSRF token first), then the file.
async fn upload(b: &mut Browser<'_>, fields: &[(&str, &str)], csv: &str) -> (StatusCode, String) {
    let mut form = Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let part = Part::bytes(csv.as_bytes().to_vec())
        .file_name("aboneler.csv")
        .mime_str("text/csv")
        .unwrap();
    form = form.part("file", part);
    let r = b
        .http
        .post(format!("{}/import", b.app.base))
        .header(COOKIE, b.cookie_header())
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The hidden `token` of the mapping step.
fn token_in(page: &str) -> String {
    let at = page.find(r#"name="token" value=""#).expect("a token field") + 20;
    page[at..].split('"').next().unwrap().to_owned()
}

/// Uploads `csv` as subscribers into a new group `group`; the mapping page and its token.
async fn to_mapping(b: &mut Browser<'_>, group: &str, csv: &str) -> (String, String) {
    let (_, page, _) = b.get("/import").await;
    let csrf = Browser::csrf_in(&page);
    let fields = [
        ("csrf", csrf.as_str()),
        ("kind", "subscribers"),
        ("group", ""),
        ("new_group", group),
    ];
    let (status, page) = upload(b, &fields, csv).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let token = token_in(&page);
    (page, token)
}

async fn group_members(app: &TestApp, name: &str) -> Vec<Value> {
    let groups = app.call("GET", "/groups", ADMIN_KEY, None).await;
    let id = groups.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no group {name}: {}", groups.body))["id"]
        .as_i64()
        .unwrap();
    let r = app
        .call("GET", &format!("/groups/{id}/members"), ADMIN_KEY, None)
        .await;
    r.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_readme_csv_goes_into_a_new_group_vip() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "operator1", "operator").await;
    let (page, token) = to_mapping(&mut b, "VIP", README_CSV).await;
    // The preview shows the first rows; the file itself stays on the server.
    assert!(page.contains("Ayşe Yılmaz") && page.contains("<th scope=\"col\">Ad Soyad</th>"));
    assert_eq!(token.len(), 43);
    assert!(
        !page.contains("0532 123 45 67\""),
        "no cell goes back in a field"
    );
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("token", token.as_str()),
        ("map.name", "Ad Soyad"),
        ("map.phone", "Telefon"),
        ("map.tckn", "TC"),
        ("map.consent", ""),
        ("attr", "Bakiye"),
        ("mode", "all-or-nothing"),
    ];
    let (status, result, _) = b.post("/import/run", &form).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert!(
        result.contains(r#"<dd data-testid="imported">2</dd>"#),
        "{result}"
    );
    let members = group_members(&app, "VIP").await;
    let phones: Vec<&str> = members.iter().filter_map(|m| m["phone"].as_str()).collect();
    assert_eq!(phones.len(), 2, "{members:?}");
    assert!(phones.contains(&"+905321234567") && phones.contains(&"+905429876543"));
    let ayse = members
        .iter()
        .find(|m| m["phone"] == "+905321234567")
        .unwrap();
    assert_eq!(ayse["attributes"]["bakiye"], "120,50", "{ayse}");
    // The upload is gone once imported: running it again imports nothing twice.
    let (status, _, _) = b.post("/import/run", &form).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn one_upload_run_twice_at_once_is_imported_once() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "operator1", "operator").await;
    // Large enough that the first run is still reading when the second one starts.
    let mut csv = String::from("Ad Soyad;Telefon\n");
    for i in 0..20_000 {
        csv.push_str(&format!("Abone {i};0{}\n", 5_320_000_000u64 + i));
    }
    let (page, token) = to_mapping(&mut b, "İkiKez", &csv).await;
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("token", token.as_str()),
        ("map.name", "Ad Soyad"),
        ("map.phone", "Telefon"),
        ("mode", "skip-invalid"),
    ];
    let mut twin = Browser::new(&app);
    twin.cookies = b.cookies.clone();
    let (one, two) = tokio::join!(
        b.post("/import/run", &form),
        twin.post("/import/run", &form)
    );
    let mut statuses = [one.0, two.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::NOT_FOUND],
        "one run imports, the other finds the upload taken"
    );
}

#[tokio::test]
async fn row_errors_are_escaped_listed_and_downloadable() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "operator2", "operator").await;
    let csv = format!("name,phone\n{XSS},0532 111 22 33\nBozuk,12\n=cmd,abc\n");
    let (page, token) = to_mapping(&mut b, "", &csv).await;
    assert!(page.contains(XSS_SHOWN) && !page.contains(XSS), "{page}");
    // Columns named like a field are preselected.
    assert!(page.contains("<option selected>phone</option>"), "{page}");
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("token", token.as_str()),
        ("map.name", "name"),
        ("map.phone", "phone"),
        ("mode", "skip-invalid"),
    ];
    let (status, result, _) = b.post("/import/run", &form).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert!(
        result.contains(r#"<dd data-testid="imported">1</dd>"#),
        "{result}"
    );
    assert!(
        result.contains(r#"data-testid="errors""#) && result.contains("<td class=\"num\">3</td>")
    );
    let link = format!("/import/{token}/errors.csv");
    assert!(result.contains(&link), "{result}");
    let (status, csv_out, _) = b.get(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv_out.starts_with("row,column,reason\r\n3,\"phone\","),
        "{csv_out}"
    );
    assert!(csv_out.contains("\n4,\"phone\","), "{csv_out}");
    // Another company's user finds neither the report nor the upload.
    let (other_key, _) = app.company_with_id("baska").await;
    let r = app
        .call(
            "POST",
            "/users",
            &other_key,
            Some(json!({"login": "yabanci", "password": PASSWORD, "role": "admin"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut them = Browser::new(&app);
    let (_, login, _) = them.get("/login").await;
    let csrf = Browser::csrf_in(&login);
    let form = [
        ("csrf", csrf.as_str()),
        ("company", "baska"),
        ("username", "yabanci"),
        ("password", PASSWORD),
    ];
    let (status, _, _) = them.post("/login", &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, body, _) = them.get(&link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("phone"), "{body}");
    let (_, page, _) = them.get("/import").await;
    assert!(!page.contains(XSS_SHOWN));
}

#[tokio::test]
async fn all_or_nothing_imports_nothing_when_a_row_is_invalid() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "operator3", "operator").await;
    let (page, token) = to_mapping(&mut b, "Hepsi", "name,phone\nA,05321112233\nB,12\n").await;
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("token", token.as_str()),
        ("map.name", "name"),
        ("map.phone", "phone"),
        ("mode", "all-or-nothing"),
    ];
    let (status, result, _) = b.post("/import/run", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{result}");
    assert!(result.contains("hiçbir şey aktarılmadı"), "{result}");
    let subs = app.call("GET", "/subscribers", ADMIN_KEY, None).await;
    assert_eq!(subs.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_viewer_reads_and_gets_403_and_csrf_is_checked_first() {
    let app = spawn_app().await;
    let g = app
        .call("POST", "/groups", ADMIN_KEY, Some(json!({"name": XSS})))
        .await;
    assert_eq!(g.status, 201);
    let other = app.company("baska").await;
    let r = app
        .call(
            "POST",
            "/groups",
            &other,
            Some(json!({"name": "Yabancı Grup"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let mut op = signed_in(&app, "operator4", "operator").await;
    let (status, page, _) = op.get("/import").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"enctype="multipart/form-data""#));
    assert!(
        page.contains(XSS_SHOWN) && !page.contains(XSS),
        "groups are escaped"
    );
    assert!(
        !page.contains("Yabancı"),
        "another company's groups never show"
    );
    // No token, or a wrong one: refused before anything is stored.
    let (status, _) = upload(&mut op, &[("kind", "subscribers")], README_CSV).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = upload(&mut op, &[("csrf", "yanlis")], README_CSV).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = op.post("/import/run", &[("token", "x")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let mut viewer = signed_in(&app, "viewer1", "viewer").await;
    let (status, page, _) = viewer.get("/import").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"data-testid="read-only""#));
    assert!(
        !page.contains(r#"action="/import""#),
        "no upload form: {page}"
    );
    let csrf = Browser::csrf_in(&page);
    let (status, body) = upload(&mut viewer, &[("csrf", csrf.as_str())], README_CSV).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let form = [("csrf", csrf.as_str()), ("token", "x")];
    let (status, _, _) = viewer.post("/import/run", &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let subs = app.call("GET", "/subscribers", ADMIN_KEY, None).await;
    assert_eq!(subs.body["items"].as_array().unwrap().len(), 0);
}

/// Creates a template through the page; its id from the redirect.
async fn new_template(b: &mut Browser<'_>, name: &str, body: &str) -> i64 {
    let (_, page, _) = b.get("/templates").await;
    let csrf = Browser::csrf_in(&page);
    let form = [("csrf", csrf.as_str()), ("name", name), ("body", body)];
    let (status, page, location) = b.post("/templates", &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let location = location.unwrap();
    location
        .strip_prefix("/templates/")
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn templates_are_created_previewed_edited_and_deleted() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "operator5", "operator").await;
    let id = new_template(&mut b, XSS, "Sayın {{ad}}, bakiyeniz {{bakiye}} TL.").await;
    let (status, page, _) = b.get(&format!("/templates/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(XSS_SHOWN) && !page.contains(XSS), "{page}");
    assert!(
        page.contains(r#"data-count-url="/send/count""#),
        "the send window's counter"
    );
    assert!(page.contains(r#"id="count-chars">38<"#), "{page}");
    assert!(
        page.contains("Sayın Ayşe Yılmaz, bakiyeniz [bakiye] TL."),
        "{page}"
    );
    let (_, page, _) = b
        .get(&format!(
            "/templates/{id}?sample.ad=Mehmet&sample.bakiye=80%2C00"
        ))
        .await;
    assert!(page.contains("Sayın Mehmet, bakiyeniz 80,00 TL."), "{page}");
    let (_, list, _) = b.get("/templates").await;
    assert!(list.contains(&format!(r#"href="/templates/{id}""#)) && list.contains(XSS_SHOWN));

    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Bayram"),
        ("body", "İyi bayramlar {{ad}}"),
    ];
    let (status, _, location) = b.post(&format!("/templates/{id}"), &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some(format!("/templates/{id}").as_str())
    );
    let r = app
        .call("GET", &format!("/templates/{id}"), ADMIN_KEY, None)
        .await;
    assert_eq!(
        (r.body["name"].as_str(), r.body["body"].as_str()),
        (Some("Bayram"), Some("İyi bayramlar {{ad}}"))
    );

    // A broken placeholder is the API's refusal, with what was typed kept (escaped).
    let form = [
        ("csrf", csrf.as_str()),
        ("name", XSS),
        ("body", "Merhaba {{ad"),
    ];
    let (status, page, _) = b.post("/templates", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains(r#"data-testid="errors""#) && page.contains("Merhaba {{ad</textarea>"));
    assert!(!page.contains(XSS));

    let (status, _, location) = b
        .post(&format!("/templates/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/templates"))
    );
    let (status, _, _) = b.get(&format!("/templates/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_viewer_reads_templates_and_other_companies_stay_apart() {
    let app = spawn_app().await;
    let r = app
        .call(
            "POST",
            "/templates",
            ADMIN_KEY,
            Some(json!({"name": "Bizim", "body": "Merhaba {{ad}}"})),
        )
        .await;
    let ours = r.body["id"].as_i64().unwrap();
    let other = app.company("baska").await;
    let r = app
        .call(
            "POST",
            "/templates",
            &other,
            Some(json!({"name": "Yabancı", "body": "Gizli metin"})),
        )
        .await;
    let theirs = r.body["id"].as_i64().unwrap();
    let mut v = signed_in(&app, "viewer2", "viewer").await;
    let (status, list, _) = v.get("/templates").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("Bizim") && !list.contains("Yabancı") && !list.contains("Gizli"));
    assert!(
        !list.contains(r#"action="/templates""#),
        "a viewer gets no form: {list}"
    );
    let (status, page, _) = v.get(&format!("/templates/{ours}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains(r#"data-testid="edit""#) && !page.contains(r#"data-testid="delete""#));
    let csrf = Browser::csrf_in(&page);
    let form = [("csrf", csrf.as_str()), ("name", "X"), ("body", "Y")];
    for path in [
        "/templates".to_owned(),
        format!("/templates/{ours}"),
        format!("/templates/{ours}/delete"),
    ] {
        let (status, _, _) = v.post(&path, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let mut op = signed_in(&app, "operator6", "operator").await;
    let (status, _, _) = op.post("/templates", &[("name", "X"), ("body", "Y")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");
    let (status, page, _) = op.get(&format!("/templates/{theirs}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!page.contains("Gizli"));
    let (_, page, _) = op.get("/templates").await;
    let csrf = Browser::csrf_in(&page);
    let (status, _, _) = op
        .post(&format!("/templates/{theirs}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let r = app
        .call("GET", &format!("/templates/{theirs}"), &other, None)
        .await;
    assert_eq!(r.status, 200, "their template is still there");
    let r = app.call("GET", "/templates", ADMIN_KEY, None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

/// The uploads waiting in the wizard's folder, by token.
fn waiting(app: &TestApp) -> Vec<String> {
    let mut tokens: Vec<String> = std::fs::read_dir(app.dir.join("web-imports"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".upload").map(str::to_owned)
        })
        .collect();
    tokens.sort();
    tokens
}

#[tokio::test]
async fn a_company_keeps_five_uploads_waiting_and_a_sixth_drops_its_oldest() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "operator1", "operator").await;
    // Another company's waiting upload, as its wizard leaves it: neither counted nor dropped.
    let (_, theirs) = app.company_with_id("baska").await;
    let folder = app.dir.join("web-imports");
    std::fs::create_dir_all(&folder).unwrap();
    let foreign = "f".repeat(43);
    std::fs::write(folder.join(format!("{foreign}.upload")), README_CSV).unwrap();
    std::fs::write(
        folder.join(format!("{foreign}.json")),
        json!({"company": theirs, "customers": false, "group": null, "new_group": "",
               "content_type": "text/csv"})
        .to_string(),
    )
    .unwrap();
    let mut tokens = Vec::new();
    for i in 0..6 {
        let (_, token) = to_mapping(&mut b, &format!("Bekleyen{i}"), README_CSV).await;
        tokens.push(token);
        // Distinct modification times, so "oldest" is well defined.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let now = waiting(&app);
    assert_eq!(now.len(), 6, "five of ours and theirs: {now:?}");
    assert!(now.contains(&foreign), "another company's upload stays");
    assert!(
        !now.contains(&tokens[0]),
        "our oldest made room for the sixth"
    );
    // The dropped one is gone for its wizard; the newest still runs.
    let (_, page, _) = b.get("/import").await;
    let csrf = Browser::csrf_in(&page);
    let run = |token: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("token", token.to_owned()),
            ("map.name", "Ad Soyad".to_owned()),
            ("map.phone", "Telefon".to_owned()),
            ("mode", "skip-invalid".to_owned()),
        ]
    };
    let form = run(&tokens[0]);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, _) = b.post("/import/run", &form).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let form = run(&tokens[5]);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, page, _) = b.post("/import/run", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
}

/// Step 1 of upload `n` over a raw connection, as a slow client sends it: the CSRF part at
/// once, the rest (the fields and the file) `after` later; the answer's status code.
async fn slow_upload(
    app: &TestApp,
    cookie: &str,
    csrf: &str,
    n: usize,
    after: std::time::Duration,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let b = "ulakSinir";
    let first = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{b}\r\n"
    );
    let rest = format!(
        "Content-Disposition: form-data; name=\"kind\"\r\n\r\nsubscribers\r\n--{b}\r\n\
         Content-Disposition: form-data; name=\"new_group\"\r\n\r\nYavaş{n}\r\n--{b}\r\n\
         Content-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{README_CSV}\r\n--{b}--\r\n"
    );
    let host = app.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST /import HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\
         Content-Type: multipart/form-data; boundary={b}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        first.len() + rest.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(after).await;
    // A refused upload may be answered (and closed) before the rest is sent.
    let _ = s.write_all(rest.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn uploads_arriving_at_once_take_at_most_five_places() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "operator1", "operator").await;
    let (_, page, _) = b.get("/import").await;
    let csrf = Browser::csrf_in(&page);
    let cookie = b.cookie_header();
    let slow = std::time::Duration::from_millis(1500);
    let all =
        futures_util::future::join_all((0..8).map(|n| slow_upload(&app, &cookie, &csrf, n, slow)))
            .await;
    let ok = all.iter().filter(|s| **s == 200).count();
    let busy = all.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, busy), (5, 3), "{all:?}");
    assert_eq!(waiting(&app).len(), 5);
    // Finished now, the oldest of them makes room for the next.
    let (_, _token) = to_mapping(&mut b, "Sonraki", README_CSV).await;
    assert_eq!(waiting(&app).len(), 5);
}
