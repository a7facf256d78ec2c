//! The inbox: messages subscribers sent to the company's numbers (requests, complaints,
//! replies, opt-outs).

use axum::Json as JsonOut;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{ListParams, Millis, PageOut};
use crate::auth::Caller;
use crate::error::{ApiError, Query};
use crate::startup::AppState;

/// An inbound message.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundOut {
    /// Id.
    pub id: i64,
    /// Sender: E.164 when it reads as a number.
    pub sender: String,
    /// The company's number or short code it was sent to.
    pub recipient: String,
    /// The text; empty when it could not be decoded (then see `body_raw`).
    pub text: String,
    /// The message's bytes as received, in lower-case hex (every part's user data joined,
    /// without UDH), present only when its text could not be decoded (8-bit data such as
    /// binary or WAP push, read with `data_coding`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_raw: Option<String>,
    /// The SMPP data_coding it arrived with (0 GSM 7-bit, 4 8-bit data, 8 UCS-2…), when
    /// known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_coding: Option<u8>,
    /// False when parts of a long message never arrived.
    pub complete: bool,
    /// The subscriber with the sender's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriber_id: Option<i64>,
    /// It was an opt-out keyword: the sender is now on the opt-out list.
    pub opt_out: bool,
    /// Received, unix ms.
    pub received_at: Millis,
}

impl From<ulak_store::InboundMessage> for InboundOut {
    fn from(m: ulak_store::InboundMessage) -> Self {
        InboundOut {
            id: m.id,
            sender: m.sender,
            recipient: m.recipient,
            text: m.body,
            body_raw: m.body_raw.map(|b| {
                use std::fmt::Write;
                b.iter()
                    .fold(String::with_capacity(b.len() * 2), |mut s, x| {
                        let _ = write!(s, "{x:02x}");
                        s
                    })
            }),
            data_coding: m.data_coding,
            complete: m.complete,
            subscriber_id: m.subscriber_id.map(|s| s.0),
            opt_out: m.opt_out,
            received_at: m.received_at,
        }
    }
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// Lists inbound messages, oldest first.
#[utoipa::path(get, path = "/inbound", tag = "inbox", params(ListParams),
    responses((status = 200, body = PageOut<InboundOut>)), security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<JsonOut<PageOut<InboundOut>>, ApiError> {
    let page = state
        .store()
        .list_inbound(caller.company, &params.query()?)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, InboundOut::from)))
}
