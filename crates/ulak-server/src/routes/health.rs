//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;

use crate::startup::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Ready"),
        (status = 503, description = "The database is not reachable"),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.ready().await {
        true => (StatusCode::OK, "ready"),
        false => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

/// Prometheus metrics: messages per state, and per provider account submits, retries,
/// failures, receipts, unmatched receipts, store errors and submit latency; imports running. Counts only: no
/// personal data, so it needs no key (keep the port internal, as usual for metrics).
pub async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let queue = match state.store().count_messages_by_state().await {
        Ok(q) => q,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: counting messages failed");
            Vec::new()
        }
    };
    let mut text = state.metrics().render(&queue);
    text.push_str(&format!(
        "# HELP ulak_imports_running Imports whose work (reading, checking, writing) is going on.\n\
         # TYPE ulak_imports_running gauge\nulak_imports_running {}\n",
        state.imports().get()
    ));
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
