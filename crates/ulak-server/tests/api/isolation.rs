//! Tenant isolation: with two companies, no endpoint reads, lists, changes or deletes the
//! other's data, by id guessing included; the answer is always 404, never 403.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn companies_never_see_each_other() {
    let app = spawn_app().await;
    let a = app.company("alfa").await;
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
    assert_eq!(
        app.call(
            "POST",
            "/credit/entries",
            &a,
            Some(json!({"kind": "purchase", "amount": 100}))
        )
        .await
        .status,
        201
    );

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
