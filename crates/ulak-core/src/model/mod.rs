//! The domain model of issue 5: companies (tenants) and everything scoped to them. Types here
//! are free of SQL and HTTP; input structs (`New*`, `*Patch`) check their rules when built and
//! report every failure with the field it belongs to, so the API can show field-level messages.

#![warn(missing_docs)]

#[macro_use]
mod names;
mod campaign;
mod company;
mod credit;
mod customer;
mod ids;
mod language;
pub mod limits;
mod message;
mod provider;
mod query;
mod role;
mod route;
mod sms;
mod subscriber;
pub mod template;
#[cfg(test)]
mod tests;
mod user;
pub mod validation;
mod webhook;

use crate::CountryType;

pub use campaign::{CampaignAction, CampaignState};
pub use company::{Company, CompanyName, NewCompany};
pub use credit::{CreditEntry, LedgerKind, NewCreditEntry};
pub use customer::{
    CustomerAccount, CustomerAccountPatch, CustomerKind, MAX_PHONES, NewCustomerAccount,
};
pub use ids::{
    ApiKeyId, CompanyId, CreditEntryId, CustomerAccountId, GroupId, MessageId, OptOutId,
    ProviderAccountId, SenderHeaderId, SubscriberId, TemplateId, UserId, WebhookEndpointId,
};
pub use language::Language;
pub use message::{
    DEFAULT_VALIDITY_S, MAX_MESSAGE_SEGMENTS, MAX_SCHEDULE_AHEAD_MS, MAX_VALIDITY_S,
    MIN_VALIDITY_S, Message, MessageEvent, MessagePart, MessageState, NewMessage, Recipient,
    SCHEDULE_SKEW_MS, TextCount, TrafficClass, check_schedule, check_validity, valid_until,
};
pub use provider::{
    BindMode, HttpSettings, MAX_HTTP_IN_FLIGHT, NewProviderAccount, ProviderAccount,
    ProviderAccountDraft, ProviderFamily, ProviderKind, ProviderSettings, SmppSettings, TonNpi,
};
pub use query::{ListQuery, MAX_LIMIT, Page, encode_cursor, fold, search_fold};
pub use role::Role;
pub use route::{
    MAX_ROUTE_POSITION, MAX_ROUTE_PREFIX, MAX_ROUTE_TARGETS, MAX_ROUTE_WEIGHT, MAX_ROUTES,
    NewRoute, Route, RouteChoice, RouteDraft, RouteId, RouteMatch, RouteRecipient, RouteTarget,
    RouteTargetDraft, RouteZone, choose, failover_target, route_seed,
};
pub use sms::{
    NewSenderHeader, Secret, SenderHeader, SenderName, SmsSettings, SmsSettingsDraft,
    SmsSettingsPatch,
};
pub use subscriber::{
    Attributes, Consent, Group, GroupName, MAX_ATTRIBUTE_NAME_CHARS, MAX_ATTRIBUTE_VALUE_CHARS,
    MAX_ATTRIBUTES, MAX_ATTRIBUTES_BYTES, NewSubscriber, OptOut, Subscriber, SubscriberPatch,
    opt_out_reason,
};
pub use template::{MissingFields, NewTemplate, Template, TemplateBody, TemplateError};
pub use user::{
    ApiKey, ApiKeyAuth, Email, LoginName, NewApiKey, NewUser, Password, User, UserPatch,
};
pub use validation::{ErrorCode, FieldError, Lines, RuleError, ValidationErrors, check_controls};
pub use webhook::{
    MAX_WEBHOOK_DESCRIPTION, MAX_WEBHOOK_URL, NewWebhookEndpoint, WebhookAttempt,
    WebhookAttemptLog, WebhookDeliveryState, WebhookEndpoint, WebhookEndpointPatch,
    WebhookEventType, parse_webhook_url,
};
