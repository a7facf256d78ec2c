//! Logs never carry phone numbers, TC ID numbers or message texts: a global subscriber at
//! TRACE for every target (ours, sqlx, axum, the HTTP client, …) captures everything while the
//! API handles real personal data — subscribers created, changed, searched, imported, opt-outs,
//! users, a campaign to pasted numbers and TC ID numbers sent through the simulator, a single
//! send, and input that is refused — and no form of any of those numbers, nor the texts, may
//! appear in the captured text. No SQL statement text is logged at all (hot inserts inline
//! plain values, numbers and texts among them).
//!
//! A separate test binary, so its global subscriber affects no other test; one test, so one
//! capture holds every step's logs. The steps are in `steps.rs`, the checks in `checks.rs`.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod capture;
mod checks;
mod data;
mod steps;

use std::sync::PoisonError;

use capture::capture_logs;
use data::Personal;
use helpers::spawn_app;

#[tokio::test]
async fn logs_mask_phone_numbers_and_tc_id_numbers() {
    let logs = capture_logs();
    let app = spawn_app().await;
    let data = Personal::new();

    let ids = steps::create_subscribers(&app, &data).await;
    steps::change_subscribers(&app, &data, &ids).await;
    steps::search_subscribers(&app, &data).await;
    steps::refuse_subscriber_input(&app, &data, &ids).await;
    steps::import_subscribers(&app, &data).await;
    steps::opt_outs(&app, &data).await;
    steps::users(&app).await;
    let (campaign, message) = steps::campaign_and_single_send(&app, &data).await;
    steps::wait_until_delivered(&app, campaign, message).await;
    steps::customer_accounts(&app).await;
    steps::provider_and_otp_passwords(&app).await;
    steps::text_with_a_phone(&app).await;

    // Deletions last, then the server stops.
    steps::delete_subscribers(&app, &ids).await;
    drop(app);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let log = String::from_utf8(logs.lock().unwrap_or_else(PoisonError::into_inner).clone())
        .expect("the log is UTF-8");

    checks::code_paths_logged(&log);
    checks::no_statement_text(&log);
    checks::no_personal_data(&log, &data);
}
