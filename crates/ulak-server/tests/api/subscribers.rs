//! Subscribers and groups through the API: create, read, update, delete, list, members, and
//! bad input getting field-level problems.

use serde_json::json;

use crate::helpers::{ADMIN_KEY, spawn_app};

#[tokio::test]
async fn subscriber_lifecycle_and_group_membership() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    let s = app
        .call("POST", "/subscribers", k, Some(json!({"name": "Ayşe Yılmaz", "phone": "+90 (532) 123 45 67", "attributes": {"bakiye": "120,50"}})))
        .await;
    assert_eq!(s.status, 201, "{}", s.body);
    assert_eq!(s.body["phone"], "+905321234567");
    let id = s.body["id"].as_i64().unwrap();

    let dup = app
        .call(
            "POST",
            "/subscribers",
            k,
            Some(json!({"name": "B", "phone": "05321234567"})),
        )
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.body["errors"][0]["field"], "phone");

    let g = app
        .call("POST", "/groups", k, Some(json!({"name": "VIP"})))
        .await;
    assert_eq!(g.status, 201);
    let gid = g.body["id"].as_i64().unwrap();
    let m = app
        .call(
            "POST",
            &format!("/groups/{gid}/members"),
            k,
            Some(json!({"subscriber_ids": [id]})),
        )
        .await;
    assert_eq!((m.status, m.body["changed"].as_u64()), (200, Some(1)));
    let members = app
        .call("GET", &format!("/groups/{gid}/members"), k, None)
        .await;
    assert_eq!(members.body["items"][0]["id"], id);
    let filtered = app
        .call("GET", &format!("/subscribers?group_id={gid}"), k, None)
        .await;
    assert_eq!(filtered.body["items"].as_array().unwrap().len(), 1);

    let p = app
        .call(
            "PATCH",
            &format!("/subscribers/{id}"),
            k,
            Some(json!({"name": "Ayşe Kaya", "tckn": "10000000146"})),
        )
        .await;
    assert_eq!(
        (p.status, p.body["name"].as_str()),
        (200, Some("Ayşe Kaya"))
    );
    assert_eq!(p.body["tckn"], "10000000146");

    let search = app.call("GET", "/subscribers?search=kaya", k, None).await;
    assert_eq!(search.body["items"].as_array().unwrap().len(), 1);

    let d = app
        .call("DELETE", &format!("/subscribers/{id}"), k, None)
        .await;
    assert_eq!(d.status, 204);
    assert_eq!(
        app.call("GET", &format!("/subscribers/{id}"), k, None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn bad_input_gets_field_level_problems_and_changes_nothing() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    let bad = app
        .call(
            "POST",
            "/subscribers",
            k,
            Some(json!({"name": "", "phone": "0312 123 45 67", "tckn": "12345678901"})),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"phone") && fields.contains(&"tckn") && fields.contains(&"name"),
        "{fields:?}"
    );
    let wrong_type = app
        .call(
            "POST",
            "/subscribers",
            k,
            Some(json!({"name": 5, "phone": "05321234567"})),
        )
        .await;
    assert_eq!(wrong_type.status, 400);
    let unknown = app
        .call(
            "POST",
            "/subscribers",
            k,
            Some(json!({"name": "x", "phone": "05321234567", "fax": "1"})),
        )
        .await;
    assert_eq!(unknown.status, 400);
    let list = app.call("GET", "/subscribers", k, None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
    let cursor = app.call("GET", "/subscribers?cursor=zzz", k, None).await;
    assert_eq!(cursor.status, 422);
    for limit in ["0", "501"] {
        let l = app
            .call("GET", &format!("/subscribers?limit={limit}"), k, None)
            .await;
        assert_eq!(
            (l.status, l.body["errors"][0]["field"].as_str()),
            (422, Some("limit"))
        );
    }
    let bad_id = app
        .call("GET", "/subscribers/9223372036854775808", k, None)
        .await;
    assert_eq!(
        bad_id.status, 404,
        "an id that is not an i64 names no subscriber: a problem document"
    );
    assert_eq!(bad_id.body["status"], 404);
}

#[tokio::test]
async fn pagination_walks_every_row_once() {
    let app = spawn_app().await;
    for i in 0..7 {
        let a = app
            .call(
                "POST",
                "/subscribers",
                ADMIN_KEY,
                Some(json!({"name": format!("S{i}"), "phone": format!("053212345{i:02}")})),
            )
            .await;
        assert_eq!(a.status, 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/subscribers?limit=3&cursor={c}"),
            None => "/subscribers?limit=3".to_owned(),
        };
        let page = app.call("GET", &path, ADMIN_KEY, None).await;
        for item in page.body["items"].as_array().unwrap() {
            seen.push(item["id"].as_i64().unwrap());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 7);
}
