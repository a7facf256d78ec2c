//! One behavioural suite for the store, run against SQLite and PostgreSQL: every test exists
//! as `sqlite::<name>` and `postgres::<name>` in its module.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod accept;
mod basics;
mod bounds;
mod campaign_start;
mod campaign_takeover;
mod campaigns;
mod credit_property;
mod dashboard;
mod import;
mod inbox;
mod isolation;
mod key_cache;
mod lanes;
mod leases;
mod message_list;
mod messages;
mod pages;
mod preview_drafts;
mod routes;
mod schema_parity;
mod secrets;
mod segments;
mod settings;
mod setup_cache;
mod subscribers;
mod system_admins;
mod tallies;
mod web_sessions;
mod webhooks;
