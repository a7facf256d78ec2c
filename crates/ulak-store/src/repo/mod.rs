//! One file per entity; each adds its methods to [`crate::Store`].

pub(crate) mod accept;
mod api_keys;
mod batch;
pub(crate) mod campaigns;
mod companies;
mod credit;
pub(crate) mod customers;
mod groups;
pub(crate) mod idempotency;
pub(crate) mod import;
pub(crate) mod inbox;
mod leases;
mod maintenance;
pub(crate) mod message_list;
pub(crate) mod messages;
mod opt_outs;
pub(crate) mod owned;
mod providers;
pub(crate) mod queueing;
pub(crate) mod receipts;
pub(crate) mod routes;
mod settings;
pub(crate) mod submits;
pub(crate) mod subscribers;
mod templates;
mod users;
pub(crate) mod webhooks;
