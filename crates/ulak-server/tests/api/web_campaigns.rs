//! The campaign list, a campaign's delivery chart and the dashboard through a real server:
//! newest first in pages, the state filter (a bad value is a 400 page), another company's
//! campaigns never shown, the chart's figures for a known set of messages, the unread count
//! and the provider accounts' status (also as JSON), escaping.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::AnyPool;

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};
use crate::web::{Browser, user};

const XSS: &str = "<script>alert(1)</script>";
const XSS_SHOWN: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";
const PASSWORD: &str = "Dogru-Parola-1";

async fn signed_in<'a>(app: &'a TestApp, login: &str, role: &str) -> Browser<'a> {
    user(app, login, PASSWORD, role).await;
    let mut b = Browser::new(app);
    let (status, _, _) = b.sign_in(login, PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    b
}

/// A draft campaign of the key's company.
async fn draft(app: &TestApp, key: &str, name: &str) -> i64 {
    let body = json!({"name": name, "audience": {"numbers": ["05321112233"]}, "text": "Merhaba"});
    let r = app.call("POST", "/campaigns", key, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

/// The test server's database, for what only the engine writes (final states and times).
async fn raw(app: &TestApp) -> AnyPool {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=rwc", app.dir.join("ulak.db").display());
    AnyPool::connect(&url).await.unwrap()
}

/// The `href` of the pager's link `rel`, unescaped.
fn link(page: &str, rel: &str) -> Option<String> {
    let at = page.find(&format!(r#"rel="{rel}""#))?;
    let before = &page[..at];
    let href = before.rfind("href=\"")? + 6;
    Some(before[href..].split('"').next()?.replace("&#38;", "&"))
}

#[tokio::test]
async fn the_list_pages_newest_first_filters_by_state_and_shows_only_the_company() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..22 {
        ids.push(draft(&app, ADMIN_KEY, &format!("Kampanya {i:02}")).await);
    }
    let xss = draft(&app, ADMIN_KEY, XSS).await;
    let (other_key, _) = app.company_with_id("baska").await;
    let foreign = draft(&app, &other_key, "Başkasının kampanyası").await;
    let r = app
        .call(
            "POST",
            &format!("/campaigns/{}/cancel", ids[3]),
            ADMIN_KEY,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let mut b = signed_in(&app, "izleyici", "viewer").await;
    let (status, page, _) = b.get("/campaigns").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(XSS_SHOWN) && !page.contains(XSS), "escaped");
    assert!(!page.contains("Başkasının"), "another company's campaign");
    assert!(
        page.contains(r#"aria-current="page">Kampanyalar"#),
        "{page}"
    );
    // Newest first: the XSS one, then 21, 20, …; 20 rows a page.
    let order: Vec<usize> = [xss, ids[21], ids[20]]
        .iter()
        .map(|id| page.find(&format!(r#"data-campaign="{id}""#)).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "newest first");
    assert_eq!(page.matches("data-campaign=").count(), 20);
    assert!(page.contains("Taslak"), "the state, translated");
    let next = link(&page, "next").expect("a next page");
    let (status, second, _) = b.get(&next).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second.matches("data-campaign=").count(), 3);
    assert!(second.contains(&format!(r#"data-campaign="{}""#, ids[0])));
    let prev = link(&second, "prev").expect("a previous page");
    assert_eq!(b.get(&prev).await.1.matches("data-campaign=").count(), 20);

    let (_, cancelled, _) = b.get("/campaigns?state=cancelled").await;
    assert_eq!(cancelled.matches("data-campaign=").count(), 1);
    assert!(cancelled.contains(&format!(r#"data-campaign="{}""#, ids[3])));
    assert!(cancelled.contains(r#"<option value="cancelled" selected>"#));
    for bad in [
        "/campaigns?state=bogus",
        "/campaigns?cursor=zz%3C",
        "/campaigns?state=%00",
    ] {
        let (status, page, _) = b.get(bad).await;
        let expected = if bad.contains("cursor") {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(status, expected, "{bad}: {page}");
        assert!(page.contains("<h1>") || page.contains("alert"), "{page}");
    }
    let (status, _, _) = b.get(&format!("/campaigns/{foreign}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_delivery_chart_counts_final_messages_per_bucket() {
    let app = spawn_app().await;
    let id = draft(&app, ADMIN_KEY, "Grafik").await;
    let mut b = signed_in(&app, "ayse", "operator").await;
    let (_, page, _) = b.get(&format!("/campaigns/{id}")).await;
    assert!(
        page.contains(r#"data-testid="no-chart""#),
        "a draft has none"
    );

    // Ten minutes of a finished campaign: 1-minute buckets; three delivered in the first,
    // one rejected and one expired in the third, a cancelled one never counted.
    let pool = raw(&app).await;
    // A whole minute (the chart's buckets are whole minutes: its counts are kept by minute).
    let (start, min) = (1_699_999_980_000_i64, 60_000_i64);
    sqlx::query(
        "UPDATE campaigns SET state = 'finished', started_at = $1, finished_at = $2 WHERE id = $3",
    )
    .bind(start)
    .bind(start + 10 * min)
    .bind(id)
    .execute(&pool)
    .await
    .unwrap();
    let company: i64 = sqlx::query_scalar("SELECT company_id FROM campaigns WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    for (state, at) in [
        ("delivered", start + 1),
        ("delivered", start + 2),
        ("delivered", start + min - 1),
        ("rejected", start + 2 * min),
        ("expired", start + 3 * min - 1),
        ("cancelled", start + 2 * min),
    ] {
        sqlx::query(
            "INSERT INTO messages (company_id, campaign_id, recipient_kind, recipient, sender, \
             body, encoding, segments, cost, state, state_at, attempts, next_attempt_at, \
             valid_until, created_at, final_at) VALUES ($1, $2, 'msisdn', '+905321234567', \
             'ULAK', 'x', 'gsm7', 1, 1, $3, $4, 0, $4, $4, $4, $4)",
        )
        .bind(company)
        .bind(id)
        .bind(state)
        .bind(at)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
    let (status, page, _) = b.get(&format!("/campaigns/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("<svg") && page.contains(r#"role="img""#),
        "{page}"
    );
    assert!(
        page.contains("toplam 3 teslim, 2 başarısız"),
        "the text alternative: {page}"
    );
    assert_eq!(page.matches(r#"<rect class="bar-delivered""#).count(), 1);
    assert_eq!(page.matches(r#"<rect class="bar-failed""#).count(), 1);
    // The table: ten buckets, the first 3 / 0, the third 0 / 2 (Istanbul: UTC+3).
    let table = &page[page.find(r#"data-testid="delivery-table""#).unwrap()..];
    assert_eq!(table.matches("<th scope=\"row\">").count(), 10, "{table}");
    assert!(
        table.contains(r#"01:13</th><td class="num">3</td><td class="num">0</td>"#),
        "{table}"
    );
    assert!(
        table.contains(r#"01:15</th><td class="num">0</td><td class="num">2</td>"#),
        "{table}"
    );
    // The list's row counts the same messages (the cancelled one is final, not failed).
    let (_, list, _) = b.get("/campaigns?state=finished").await;
    let row = &list[list.find(&format!(r#"data-campaign="{id}""#)).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    for shown in [
        r#"data-testid="row-delivered">3<"#,
        r#"data-testid="row-failed">2<"#,
        r#"data-testid="row-done">6 / 6<"#,
        "Tamamlandı",
    ] {
        assert!(row.contains(shown), "{shown}: {row}");
    }
}

#[tokio::test]
async fn the_dashboard_shows_the_week_campaigns_unread_and_provider_status() {
    let app = spawn_app().await;
    let r = app
        .call(
            "POST",
            "/credit/entries",
            ADMIN_KEY,
            Some(json!({"kind": "purchase", "amount": 100})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    for to in ["05321234567", "05327654321"] {
        let body = json!({"to": to, "text": "Merhaba"});
        let r = app.call("POST", "/messages", ADMIN_KEY, Some(body)).await;
        assert_eq!(r.status, 202, "{}", r.body);
    }
    let id = draft(&app, ADMIN_KEY, "Son kampanya").await;
    let pool = raw(&app).await;
    let company: i64 = sqlx::query_scalar("SELECT company_id FROM campaigns WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    for (i, read) in [(1, false), (2, false), (3, true)] {
        sqlx::query(
            "INSERT INTO inbound_messages (company_id, sender, recipient, body, complete, \
             opt_out, received_at, read_at) VALUES ($1, '905321112233', '4545', $2, 1, 0, $3, $4)",
        )
        .bind(company)
        .bind(format!("{XSS} {i}"))
        .bind(1_700_000_000_000_i64 + i)
        .bind(read.then_some(1_i64))
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let mut b = signed_in(&app, "izleyici", "viewer").await;
    let (status, page, _) = b.get("/").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains('{'), "every placeholder filled: {page}");
    assert!(page.contains(r#"data-testid="unread">2</a>"#), "{page}");
    assert!(page.contains(XSS_SHOWN) && !page.contains(XSS), "escaped");
    assert!(
        page.contains(r#"data-testid="week""#) && page.contains("toplam 2 kabul"),
        "{page}"
    );
    assert!(
        page.contains(&format!(r#"data-campaign="{id}""#)),
        "the latest campaign"
    );
    assert!(page.contains(&format!(r#"href="/campaigns/{id}""#)));
    // The default company's simulator account, with its bind state on this node.
    let providers = &page[page.find(r#"data-testid="providers""#).unwrap()..];
    assert!(providers.contains("data-provider-state="), "{providers}");

    let list = app.call("GET", "/provider-accounts", ADMIN_KEY, None).await;
    let account = list.body["items"][0]["id"].as_i64().unwrap();
    let s = app
        .call(
            "GET",
            &format!("/provider-accounts/{account}/status"),
            ADMIN_KEY,
            None,
        )
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(s.body["id"], account);
    assert!(
        s.body["queued"].is_i64() && s.body["window_in_use"].is_u64(),
        "{}",
        s.body
    );
    let (other_key, _) = app.company_with_id("baska").await;
    let foreign = app
        .call(
            "GET",
            &format!("/provider-accounts/{account}/status"),
            &other_key,
            None,
        )
        .await;
    assert_eq!(foreign.status, 404, "another company's account");
}

#[tokio::test]
async fn a_path_with_no_id_is_the_uis_400_page_not_plain_text() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "ayse", "operator").await;
    for path in ["/campaigns/abc", "/campaigns/1x/progress"] {
        let (status, page, _) = b.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(page.contains("İstek okunamadı."), "{path}: {page}");
    }
    let (_, page, _) = b.get("/campaigns").await;
    let csrf = Browser::csrf_in(&page);
    for path in [
        "/campaigns/abc/pause",
        "/templates/abc",
        "/templates/abc/delete",
    ] {
        let (status, page, _) = b.post(path, &[("csrf", csrf.as_str())]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(page.contains("İstek okunamadı."), "{path}: {page}");
    }
}
