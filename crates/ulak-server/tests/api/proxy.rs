//! Behind a reverse proxy: per-address limits count the client the named proxy reports in
//! `X-Forwarded-For`, and the header of anyone else is ignored; a byte that is no text in
//! what the client wrote does not hide the address the proxy appended.

use crate::helpers::{TestApp, spawn_app_with};

/// `GET /api/v1/credit` with an unknown key, as forwarded for `client`: the status.
async fn guess(app: &TestApp, client: &str, i: usize) -> u16 {
    app.http
        .get(format!("{}/api/v1/credit", app.base))
        .bearer_auth(format!("ulak_guess-{i}"))
        .header("x-forwarded-for", format!("198.51.100.1, {client}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_named_proxy_reports_the_client_and_others_are_not_believed() {
    // The test connects from 127.0.0.1: here that is the proxy.
    let app = spawn_app_with(|s| {
        s.auth_failures_per_minute = 2;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let mut a = Vec::new();
    for i in 0..3 {
        a.push(guess(&app, "203.0.113.7", i).await);
    }
    assert_eq!(
        a,
        [401, 401, 429],
        "the guesser behind the proxy is throttled"
    );
    assert_eq!(
        guess(&app, "203.0.113.8", 3).await,
        401,
        "another client behind the same proxy is not"
    );

    // Without the setting the header is anyone's to write: the address that connected counts.
    let app = spawn_app_with(|s| s.auth_failures_per_minute = 2).await;
    let mut b = Vec::new();
    for (i, client) in ["203.0.113.7", "203.0.113.8", "203.0.113.9"]
        .iter()
        .enumerate()
    {
        b.push(guess(&app, client, i).await);
    }
    assert_eq!(
        b,
        [401, 401, 429],
        "a made-up header does not buy more guesses"
    );
}

/// As [`guess`], with `junk` (raw bytes) where the client's own part of the header goes.
async fn guess_with(app: &TestApp, junk: &[u8], client: &str, i: usize) -> u16 {
    let mut value = junk.to_vec();
    value.extend_from_slice(format!(", {client}").as_bytes());
    let value = reqwest::header::HeaderValue::from_bytes(&value).unwrap();
    app.http
        .get(format!("{}/api/v1/credit", app.base))
        .bearer_auth(format!("ulak_guess-{i}"))
        .header("x-forwarded-for", value)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_non_ascii_byte_from_the_client_does_not_make_the_proxy_the_client() {
    let app = spawn_app_with(|s| {
        s.auth_failures_per_minute = 2;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let junk = b"1.2.3.4\xff\xc3";
    let mut a = Vec::new();
    for i in 0..3 {
        a.push(guess_with(&app, junk, "203.0.113.7", i).await);
    }
    assert_eq!(a, [401, 401, 429], "the guesser is counted, not the proxy");
    assert_eq!(
        guess_with(&app, junk, "203.0.113.8", 3).await,
        401,
        "another client behind the same proxy is not locked out"
    );
}
