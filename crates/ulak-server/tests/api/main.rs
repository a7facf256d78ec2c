//! API tests through a real server on port 0 (`spawn_app`), one module per feature.
#![allow(clippy::unwrap_used)]

mod campaigns;
mod count;
mod credit;
mod customers;
mod helpers;
mod import;
mod invalid_input;
mod isolation;
mod messages;
mod openapi;
mod protocol;
mod sms_settings;
mod subscribers;
mod templates;
mod webhooks;
