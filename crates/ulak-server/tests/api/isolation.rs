//! Tenant isolation: with two companies, no endpoint reads, lists, changes or deletes the
//! other's data, by id guessing included; the answer is always 404, never 403.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn companies_never_see_each_other() {
    let app = spawn_app().await;
    let (a, a_id) = app.company_with_id("alfa").await;
    let b = app.company("beta").await;

    let sub = app
        .call(
            "POST",
            "/subscribers",
            &a,
            Some(json!({"name": "A1", "phone": "05321112233"})),
        )
        .await;
    let sid = sub.body["id"].as_i64().unwrap();
    let grp = app
        .call("POST", "/groups", &a, Some(json!({"name": "G"})))
        .await;
    let gid = grp.body["id"].as_i64().unwrap();
    let user = app
        .call(
            "POST",
            "/users",
            &a,
            Some(json!({"login": "u1", "password": "correct horse", "role": "viewer"})),
        )
        .await;
    let uid = user.body["id"].as_i64().unwrap();
    let opt = app
        .call(
            "POST",
            "/opt-outs",
            &a,
            Some(json!({"phone": "05321112299"})),
        )
        .await;
    let oid = opt.body["id"].as_i64().unwrap();
    let key = app
        .call(
            "POST",
            "/api-keys",
            &a,
            Some(json!({"name": "k", "role": "viewer"})),
        )
        .await;
    let kid = key.body["id"].as_i64().unwrap();
    // Credit is sold by the system administrator (a company key only reads it).
    app.buy_credit(a_id, 100).await;

    // B guesses A's ids on every kind of object.
    for path in [
        format!("/subscribers/{sid}"),
        format!("/groups/{gid}"),
        format!("/groups/{gid}/members"),
        format!("/users/{uid}"),
    ] {
        assert_eq!(
            app.call("GET", &path, &b, None).await.status,
            404,
            "GET {path}"
        );
    }
    assert_eq!(
        app.call(
            "PATCH",
            &format!("/subscribers/{sid}"),
            &b,
            Some(json!({"name": "hacked"}))
        )
        .await
        .status,
        404
    );
    assert_eq!(
        app.call(
            "PUT",
            &format!("/groups/{gid}"),
            &b,
            Some(json!({"name": "hacked"}))
        )
        .await
        .status,
        404
    );
    assert_eq!(
        app.call(
            "PATCH",
            &format!("/users/{uid}"),
            &b,
            Some(json!({"role": "admin"}))
        )
        .await
        .status,
        404
    );
    assert_eq!(
        app.call(
            "POST",
            &format!("/groups/{gid}/members"),
            &b,
            Some(json!({"subscriber_ids": [sid]}))
        )
        .await
        .status,
        404
    );
    // Nor remove members from A's group: 404, as for every other call on it.
    assert_eq!(
        app.call(
            "DELETE",
            &format!("/groups/{gid}/members"),
            &b,
            Some(json!({"subscriber_ids": [sid]}))
        )
        .await
        .status,
        404
    );
    // B's own group cannot take A's subscriber either.
    let bg = app
        .call("POST", "/groups", &b, Some(json!({"name": "G"})))
        .await;
    assert_eq!(bg.status, 201, "same group name is fine in another company");
    let bgid = bg.body["id"].as_i64().unwrap();
    assert_eq!(
        app.call(
            "POST",
            &format!("/groups/{bgid}/members"),
            &b,
            Some(json!({"subscriber_ids": [sid]}))
        )
        .await
        .status,
        404
    );
    for path in [
        format!("/subscribers/{sid}"),
        format!("/groups/{gid}"),
        format!("/users/{uid}"),
        format!("/opt-outs/{oid}"),
        format!("/api-keys/{kid}"),
    ] {
        assert_eq!(
            app.call("DELETE", &path, &b, None).await.status,
            404,
            "DELETE {path}"
        );
    }
    // Lists and balances show nothing of A.
    for path in ["/subscribers", "/opt-outs", "/credit/entries", "/users"] {
        let l = app.call("GET", path, &b, None).await;
        assert_eq!(l.status, 200);
        assert!(
            l.body["items"].as_array().unwrap().is_empty(),
            "{path}: {}",
            l.body
        );
    }
    let groups = app.call("GET", "/groups", &b, None).await;
    let ids: Vec<i64> = groups.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![bgid], "only B's own group");
    assert_eq!(
        app.call("GET", "/credit", &b, None).await.body["balance"],
        0
    );
    // The same phone may be a subscriber of both.
    assert_eq!(
        app.call(
            "POST",
            "/subscribers",
            &b,
            Some(json!({"name": "B1", "phone": "05321112233"}))
        )
        .await
        .status,
        201
    );

    // A's data is untouched.
    let s = app
        .call("GET", &format!("/subscribers/{sid}"), &a, None)
        .await;
    assert_eq!((s.status, s.body["name"].as_str()), (200, Some("A1")));
    assert_eq!(
        app.call("GET", "/credit", &a, None).await.body["balance"],
        100
    );
    assert_eq!(
        app.call("GET", &format!("/users/{uid}"), &a, None)
            .await
            .body["role"],
        "viewer"
    );
    // A company key cannot create companies or list them.
    assert_eq!(app.call("GET", "/companies", &a, None).await.status, 403);
}

#[tokio::test]
async fn keys_roles_and_revocation() {
    let app = spawn_app().await;
    let a = app.company("gamma").await;
    let viewer = app
        .call(
            "POST",
            "/api-keys",
            &a,
            Some(json!({"name": "ro", "role": "viewer"})),
        )
        .await;
    assert_eq!(viewer.status, 201);
    let vkey = viewer.body["key"].as_str().unwrap().to_owned();
    assert_eq!(
        app.call("GET", "/subscribers", &vkey, None).await.status,
        200
    );
    assert_eq!(
        app.call("POST", "/groups", &vkey, Some(json!({"name": "x"})))
            .await
            .status,
        403
    );
    let kid = viewer.body["id"].as_i64().unwrap();
    let own = app.call("GET", "/api-keys", &a, None).await;
    let own_id = own.body["items"][0]["id"].as_i64().unwrap();
    assert_eq!(
        app.call("DELETE", &format!("/api-keys/{own_id}"), &a, None)
            .await
            .status,
        409,
        "no self-revocation"
    );
    assert_eq!(
        app.call("DELETE", &format!("/api-keys/{kid}"), &a, None)
            .await
            .status,
        200
    );
    assert_eq!(
        app.call("GET", "/subscribers", &vkey, None).await.status,
        401
    );
    assert_eq!(
        app.call("GET", "/subscribers", "ulak_not-a-key", None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn customers_templates_headers_providers_and_settings_are_per_company() {
    let app = spawn_app().await;
    let a = app.company("alfa").await;
    let b = app.company("beta").await;
    let post = |path: &'static str, body: serde_json::Value| {
        let app = &app;
        let a = a.clone();
        async move {
            let r = app.call("POST", path, &a, Some(body)).await;
            assert_eq!(r.status, 201, "{path}: {}", r.body);
            r.body["id"].as_i64().unwrap()
        }
    };
    let cid = post(
        "/customers",
        json!({"code": "C1", "title": "A Ltd", "phones": ["05321112233"]}),
    )
    .await;
    let tid = post("/templates", json!({"name": "t", "body": "Merhaba {{ad}}"})).await;
    let hid = post(
        "/sender-headers",
        json!({"name": "ALFA", "is_default": true}),
    )
    .await;
    let pid = post(
        "/provider-accounts",
        json!({"name": "p", "kind": "smpp", "host": "h", "port": 2775, "system_id": "s", "password": "pw-of-alfa"}),
    )
    .await;
    let r = app
        .call(
            "PATCH",
            "/sms-settings",
            &a,
            Some(json!({"otp_username": "alfa-otp", "country_type": "AZ"})),
        )
        .await;
    assert_eq!(r.status, 200);

    for path in [
        format!("/customers/{cid}"),
        format!("/templates/{tid}"),
        format!("/provider-accounts/{pid}"),
    ] {
        assert_eq!(
            app.call("GET", &path, &b, None).await.status,
            404,
            "GET {path}"
        );
    }
    let writes = [
        (
            "PATCH",
            format!("/customers/{cid}"),
            json!({"title": "hacked"}),
        ),
        (
            "PUT",
            format!("/templates/{tid}"),
            json!({"name": "t", "body": "hacked"}),
        ),
        (
            "POST",
            format!("/templates/{tid}/preview"),
            json!({"fields": {"ad": "x"}}),
        ),
        (
            "PUT",
            format!("/provider-accounts/{pid}"),
            json!({"name": "p", "kind": "smpp", "host": "evil", "port": 1, "system_id": "s"}),
        ),
        (
            "POST",
            format!("/sender-headers/{hid}/default"),
            json!(null),
        ),
    ];
    for (method, path, body) in writes {
        let body = (!body.is_null()).then_some(body);
        assert_eq!(
            app.call(method, &path, &b, body).await.status,
            404,
            "{method} {path}"
        );
    }
    for path in [
        format!("/customers/{cid}"),
        format!("/templates/{tid}"),
        format!("/sender-headers/{hid}"),
        format!("/provider-accounts/{pid}"),
    ] {
        assert_eq!(
            app.call("DELETE", &path, &b, None).await.status,
            404,
            "DELETE {path}"
        );
    }
    for path in [
        "/customers",
        "/templates",
        "/sender-headers",
        "/provider-accounts",
    ] {
        let l = app.call("GET", path, &b, None).await;
        assert_eq!(l.status, 200);
        assert!(
            l.body["items"].as_array().unwrap().is_empty(),
            "{path}: {}",
            l.body
        );
    }
    // B's settings are its own, and changing them leaves A's alone.
    let s = app.call("GET", "/sms-settings", &b, None).await;
    assert_eq!(
        (
            s.body["country_type"].as_str(),
            s.body["otp_username"].is_null()
        ),
        (Some("TR"), true)
    );
    app.call(
        "PATCH",
        "/sms-settings",
        &b,
        Some(json!({"otp_username": "beta-otp"})),
    )
    .await;
    let s = app.call("GET", "/sms-settings", &a, None).await;
    assert_eq!(s.body["otp_username"], "alfa-otp");
    // A's objects are untouched.
    let c = app
        .call("GET", &format!("/customers/{cid}"), &a, None)
        .await;
    assert_eq!(c.body["title"], "A Ltd");
    let p = app
        .call("GET", &format!("/provider-accounts/{pid}"), &a, None)
        .await;
    assert_eq!(p.body["host"], "h");
    let t = app
        .call("GET", &format!("/templates/{tid}"), &a, None)
        .await;
    assert_eq!(t.body["body"], "Merhaba {{ad}}");
    let h = app.call("GET", "/sender-headers", &a, None).await;
    assert_eq!(h.body["items"][0]["is_default"], true);
}
