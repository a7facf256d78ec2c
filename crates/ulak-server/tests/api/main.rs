//! API tests through a real server on port 0 (`spawn_app`), one module per feature.
#![allow(clippy::unwrap_used)]

mod access;
mod attribute_limits;
mod campaign_start;
mod campaigns;
mod count;
mod credit;
mod customers;
mod error_codes;
mod files;
mod frontdoor;
mod helpers;
mod import;
mod import_limits;
mod inbox;
mod invalid_input;
mod isolation;
mod message_batch;
mod message_list;
mod messages;
mod openapi;
mod protocol;
mod routes;
mod sms_settings;
mod subscribers;
mod templates;
mod web;
mod web_admin;
mod web_import;
mod web_log;
mod web_people;
mod web_providers;
mod web_routes;
mod web_send;
mod web_settings;
mod webhooks;
