//! Imports under hostile or heavy input: another company keeps writing while a large import
//! runs, oversized tables and zip bombs are refused early, and an import stops when its
//! client leaves or the server stops.

use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use ulak_server::{App, Settings};

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};

/// Posts `file` to `/subscribers/import` with `client`; the status and body, or the
/// client's error (a timeout, a closed connection).
async fn post_import(
    client: &reqwest::Client,
    base: &str,
    file: Vec<u8>,
    name: &str,
    fields: &[(&str, &str)],
) -> Result<(u16, Value), reqwest::Error> {
    let mut form = Form::new().part("file", Part::bytes(file).file_name(name.to_owned()));
    for (k, v) in fields {
        form = form.text((*k).to_owned(), (*v).to_owned());
    }
    let res = client
        .post(format!("{base}/api/v1/subscribers/import"))
        .bearer_auth(ADMIN_KEY)
        .multipart(form)
        .send()
        .await?;
    let status = res.status().as_u16();
    let text = res.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// `n` valid subscriber rows; `tckn` fills the third column of every row.
fn subscribers_csv(n: usize, tckn: &str) -> Vec<u8> {
    let mut csv = String::from("name,phone,tckn\n");
    for i in 0..n {
        csv.push_str(&format!("Abone {i},0532{i:07},{tckn}\n"));
    }
    csv.into_bytes()
}

/// The `ulak_imports_running` gauge of `/metrics`, if the server has it.
async fn imports_running(app: &TestApp) -> Option<u64> {
    let text = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("ulak_imports_running "))
        .and_then(|v| v.trim().parse().ok())
}

/// Waits up to `limit` for the gauge to read `want`.
async fn wait_running(app: &TestApp, want: u64, limit: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if imports_running(app).await == Some(want) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn count(app: &TestApp, key: &str) -> u64 {
    let mut n = 0;
    let mut cursor = String::new();
    loop {
        let a = app
            .call(
                "GET",
                &if cursor.is_empty() {
                    "/subscribers?limit=500".to_owned()
                } else {
                    format!("/subscribers?limit=500&cursor={cursor}")
                },
                key,
                None,
            )
            .await;
        n += a.body["items"].as_array().unwrap().len() as u64;
        match a.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => return n,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_company_writes_while_a_large_import_runs() {
    let app = spawn_app().await;
    let other = app.company("diger").await;
    let rows = 60_000;
    let file = subscribers_csv(rows, "");
    let (http, base) = (app.http.clone(), app.base.clone());
    let import = tokio::spawn(async move { post_import(&http, &base, file, "big.csv", &[]).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The other company creates and changes subscribers while the import runs: every write
    // succeeds, none waits long (the import holds the database's writer only briefly).
    let mut writes = 0;
    let mut slowest = Duration::ZERO;
    while !import.is_finished() {
        let t = Instant::now();
        let phone = format!("0542{writes:07}");
        let a = app
            .call(
                "POST",
                "/subscribers",
                &other,
                Some(json!({"name": "Komşu", "phone": phone})),
            )
            .await;
        assert_eq!(a.status, 201, "write {writes}: {}", a.body);
        let id = a.body["id"].as_i64().unwrap();
        let b = app
            .call(
                "PATCH",
                &format!("/subscribers/{id}"),
                &other,
                Some(json!({"name": "Komşu 2"})),
            )
            .await;
        assert_eq!(b.status, 200, "write {writes}: {}", b.body);
        slowest = slowest.max(t.elapsed());
        writes += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = import.await.unwrap().unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], rows);
    assert!(writes >= 3, "only {writes} writes overlapped the import");
    assert!(
        slowest < Duration::from_secs(3),
        "a write of the other company took {slowest:?}"
    );
    assert_eq!(count(&app, &other).await, writes);
}

#[tokio::test]
async fn a_header_of_200k_columns_is_refused_at_once() {
    let app = spawn_app().await;
    let mut csv: String = (0..200_000).map(|i| format!("c{i},")).collect();
    csv.push_str("phone\n");
    csv.push_str(&",".repeat(200_000));
    csv.push_str("05321234567\n");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let (status, body) = post_import(&client, &app.base, csv.into_bytes(), "wide.csv", &[])
        .await
        .expect("an answer within 5 s");
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("columns"), "{body}");
}

#[tokio::test]
async fn overlong_cells_and_too_many_xlsx_columns_are_refused() {
    let app = spawn_app().await;
    let csv = format!("name,phone\n{},05321234567\n", "a".repeat(100_000));
    let (status, body) = post_import(&app.http, &app.base, csv.into_bytes(), "c.csv", &[])
        .await
        .unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("bytes"), "{body}");

    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "name").unwrap();
    sheet.write_string(0, 1, "phone").unwrap();
    sheet.write_string(1, 1, "05321234567").unwrap();
    sheet.write_string(1, 5_000, "x").unwrap();
    let (status, body) = post_import(
        &app.http,
        &app.base,
        book.save_to_buffer().unwrap(),
        "w.xlsx",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("columns"), "{body}");
    assert_eq!(count(&app, ADMIN_KEY).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_request_stops_the_import_work() {
    let app = spawn_app().await;
    // Every row is refused (a bad TC ID number) after its phone is parsed, the slow part:
    // nothing would ever be handed to the store, so only a stop signal can end the work.
    let file = subscribers_csv(400_000, "1");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let base = app.base.clone();
    let request =
        tokio::spawn(async move { post_import(&client, &base, file, "slow.csv", &[]).await });
    assert!(
        wait_running(&app, 1, Duration::from_secs(10)).await,
        "the import never showed as running"
    );
    let answer = request.await.unwrap();
    assert!(
        answer.is_err(),
        "the import ended before the client left: {answer:?}"
    );
    // The client is gone: the reading thread notices within a row and ends.
    assert!(
        wait_running(&app, 0, Duration::from_secs(3)).await,
        "the import kept running after its client left"
    );
    assert_eq!(count(&app, ADMIN_KEY).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_server_ends_an_import_in_progress() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("ulak-test-stop-{}-{nanos}", std::process::id()));
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.clone(),
        bootstrap_api_key: Some(ADMIN_KEY.to_owned()),
        ..Settings::default()
    };
    let url = settings.database_url();
    let app = App::build(settings).await.unwrap();
    let base = format!("http://{}", app.local_addr().unwrap());
    let stop = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(stop.clone()));
    let file = subscribers_csv(300_000, "");
    let request = tokio::spawn({
        let base = base.clone();
        async move { post_import(&reqwest::Client::new(), &base, file, "big.csv", &[]).await }
    });
    // The upload is in, the import is being read or written.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!request.is_finished(), "the import finished too early");
    stop.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(10), server).await;
    assert!(stopped.is_ok(), "the server did not stop within 10 s");
    // An answer says why; a connection closed without one also ends the import.
    if let Ok((status, body)) = request.await.unwrap() {
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["status"], 503, "{body}");
    }
    let store = ulak_store::Store::connect(&url, [7; 32]).await.unwrap();
    let company = store.get_company_by_name("default").await.unwrap().unwrap();
    assert_eq!(
        store.count_subscribers(company.id).await.unwrap(),
        0,
        "an import cut short leaves nothing behind"
    );
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A workbook written by rust_xlsxwriter with `part` replaced (or added) by `content`.
fn workbook_with(part: &str, content: &[u8]) -> Vec<u8> {
    use std::io::{Cursor, Write};
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "name").unwrap();
    sheet.write_string(0, 1, "phone").unwrap();
    sheet.write_string(1, 0, "Ali").unwrap();
    sheet.write_string(1, 1, "05321234567").unwrap();
    let original = book.save_to_buffer().unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(original)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let file = zip.by_index_raw(i).unwrap();
        if file.name().unwrap() != part {
            out.raw_copy_file(file).unwrap();
        }
    }
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    out.start_file(part, options).unwrap();
    out.write_all(content).unwrap();
    out.finish().unwrap().into_inner()
}

/// A shared strings table: the workbook's two header texts, then `n` copies of `filler`.
fn shared_strings(n: usize, filler: &str) -> Vec<u8> {
    let mut xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{n}" uniqueCount="{n}"><si><t>name</t></si><si><t>phone</t></si><si><t>Ali</t></si><si><t>05321234567</t></si>"#
    );
    let item = format!("<si><t>{filler}</t></si>");
    xml.reserve(item.len() * n);
    for _ in 0..n {
        xml.push_str(&item);
    }
    xml.push_str("</sst>");
    xml.into_bytes()
}

#[tokio::test]
async fn xlsx_zip_bombs_are_refused_before_they_unpack() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    // 1. Shared strings of 80 MB that pack into a few hundred KB.
    let bomb = workbook_with(
        "xl/sharedStrings.xml",
        &shared_strings(1, &"A".repeat(80 << 20)),
    );
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    // 2. More shared strings than the table may hold, each tiny.
    let many = workbook_with("xl/sharedStrings.xml", &shared_strings(1_100_000, "x"));
    // 3. A table claiming a billion strings (its reader would reserve room for them).
    let mut claim = shared_strings(0, "");
    let at = claim
        .windows(13)
        .position(|w| w == b"uniqueCount=\"")
        .unwrap()
        + 13;
    claim.splice(at..at + 1, *b"1000000000");
    let claim = workbook_with("xl/sharedStrings.xml", &claim);
    // 4. Styles where every one of 70,000 formats copies a long font name.
    let mut styles = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><name val="{}"/></font></fonts><cellXfs count="70000">"#,
        "F".repeat(1000)
    );
    for _ in 0..70_000 {
        styles.push_str(r#"<xf numFmtId="0" fontId="0"/>"#);
    }
    styles.push_str("</cellXfs></styleSheet>");
    let styles = workbook_with("xl/styles.xml", styles.as_bytes());
    for (what, file) in [
        ("shared strings", bomb),
        ("shared strings", many),
        ("shared strings", claim),
        ("styles", styles),
    ] {
        let t = Instant::now();
        let (status, body) = post_import(&client, &app.base, file, "bomb.xlsx", &[])
            .await
            .unwrap();
        assert_eq!(status, 413, "{what}: {body}");
        assert_eq!(body["status"], 413, "{what}: {body}");
        assert!(body.to_string().contains(what), "{what}: {body}");
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{what}: {:?}",
            t.elapsed()
        );
    }
    assert_eq!(count(&app, ADMIN_KEY).await, 0);
    // An honest workbook still imports.
    let ok = workbook_with("xl/sharedStrings.xml", &shared_strings(3, "dolgu"));
    let (status, body) = post_import(&client, &app.base, ok, "ok.xlsx", &[])
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 1);
}
