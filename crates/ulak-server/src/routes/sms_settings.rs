//! A company's SMS settings: country type, TC-ID sending, OTP credentials, and its provider
//! (operator) accounts. Passwords are write-only: answers only say whether one is stored.

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ulak_core::model::{
    CompanyId, NewProviderAccount, ProviderAccount, ProviderAccountDraft, ProviderAccountId,
    ProviderKind, ProviderSettings, Role, SmsSettings, SmsSettingsDraft, SmsSettingsPatch, TonNpi,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{ListParams, Millis, PageOut, nullable};
use super::companies::CountryTypeDto;
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path, Problem, Query};
use crate::startup::AppState;

/// The company's SMS settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsSettingsOut {
    /// How national numbers are read, and the default text policy of new provider accounts.
    pub country_type: CountryTypeDto,
    /// The sender header of messages addressed by TC ID number.
    pub tckn_sender: Option<String>,
    /// Whether the company's TC-ID sending subscription is active.
    pub tckn_subscription_active: bool,
    /// The OTP account's user name.
    pub otp_username: Option<String>,
    /// Whether an OTP password is stored (it is never returned).
    pub has_otp_password: bool,
    /// Inbound messages starting with one of these words put their sender on the opt-out
    /// list (default `RET`, `IPTAL`; compared without case or Turkish accents).
    pub opt_out_keywords: Vec<String>,
}

impl From<SmsSettings> for SmsSettingsOut {
    fn from(s: SmsSettings) -> Self {
        SmsSettingsOut {
            country_type: s.country_type.into(),
            tckn_sender: s.tckn_sender.map(|h| h.as_str().to_owned()),
            tckn_subscription_active: s.tckn_subscription_active,
            otp_username: s.otp_username,
            has_otp_password: s.has_otp_password,
            opt_out_keywords: s.opt_out_keywords,
        }
    }
}

/// Changes to the SMS settings: an absent field stays, `null` clears it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsSettingsPatchIn {
    /// New country type.
    #[serde(default)]
    pub country_type: Option<CountryTypeDto>,
    /// New TC-ID sender header (sender header rules), or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<super::schema::Sender>)]
    pub tckn_sender: Option<Option<String>>,
    /// Whether the TC-ID subscription is active.
    #[serde(default)]
    pub tckn_subscription_active: Option<bool>,
    /// New OTP user name, or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 64, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub otp_username: Option<Option<String>>,
    /// New OTP password (write-only, encrypted at rest), or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, write_only, min_length = 1, max_length = 256, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub otp_password: Option<Option<String>>,
    /// New opt-out keywords (1 to 10 words).
    #[serde(default)]
    #[schema(value_type = Option<Vec<super::schema::OptOutKeyword>>, min_items = 1, max_items = 10)]
    pub opt_out_keywords: Option<Vec<String>>,
}

/// What kind of interface a provider account uses.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKindDto {
    /// Ulak's built-in SMSC simulator (for trials and tests).
    Simulator,
    /// SMPP 3.4.
    Smpp,
    /// An operator's HTTP API.
    Http,
}

impl From<ProviderKind> for ProviderKindDto {
    fn from(k: ProviderKind) -> Self {
        match k {
            ProviderKind::Simulator => ProviderKindDto::Simulator,
            ProviderKind::Smpp => ProviderKindDto::Smpp,
            ProviderKind::Http => ProviderKindDto::Http,
        }
    }
}

/// The kinds of provider account that can be created: those the engine sends through.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NewProviderKindDto {
    /// Ulak's built-in SMSC simulator (for trials and tests).
    Simulator,
    /// SMPP 3.4.
    Smpp,
}

/// How an SMPP account binds.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BindModeDto {
    /// One transceiver session per bind (default).
    Transceiver,
    /// A transmitter and a receiver session per bind.
    TransmitterReceiver,
    /// Transmitter only: no delivery reports.
    Transmitter,
}

/// SMPP type of number and numbering plan indicator.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TonNpiDto {
    /// TON: 0 unknown, 1 international, 5 alphanumeric…
    #[schema(minimum = 0, maximum = 255)]
    pub ton: u8,
    /// NPI: 0 unknown, 1 E.164…
    #[schema(minimum = 0, maximum = 255)]
    pub npi: u8,
}

impl From<TonNpiDto> for TonNpi {
    fn from(t: TonNpiDto) -> Self {
        TonNpi {
            ton: t.ton,
            npi: t.npi,
        }
    }
}

impl From<TonNpi> for TonNpiDto {
    fn from(t: TonNpi) -> Self {
        TonNpiDto {
            ton: t.ton,
            npi: t.npi,
        }
    }
}

/// A provider account's settings (creating one, or replacing one's settings). `Debug` shows
/// the domain draft's fields, never the password or token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderIn {
    /// Name, unique in the company.
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// Interface kind: `simulator` or `smpp` (`http` accounts cannot send yet and are
    /// refused).
    #[schema(value_type = NewProviderKindDto)]
    pub kind: String,
    /// Host name or address (the simulator needs none); a loopback, private, link-local or
    /// other special address (`target_not_allowed`) only where the system administrator
    /// allows it.
    #[serde(default)]
    #[schema(
        max_length = 253,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub host: Option<String>,
    /// TCP port (default 2775 for the simulator).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<u16>,
    /// Operator user name (SMPP system_id, at most 15 characters).
    #[serde(default)]
    #[schema(
        max_length = 15,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub system_id: Option<String>,
    /// Operator password (write-only, encrypted at rest); omitted on a replace keeps the
    /// stored one.
    #[serde(default)]
    #[schema(
        write_only,
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub password: Option<String>,
    /// SMPP system_type (at most 12 characters).
    #[serde(default)]
    #[schema(max_length = 12, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub system_type: String,
    /// `transceiver` (default), `transmitter_receiver` or `transmitter`.
    #[serde(default)]
    #[schema(value_type = Option<BindModeDto>)]
    pub bind_mode: Option<String>,
    /// Number of sessions, 1 to 32 (default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 32)]
    pub binds: Option<u32>,
    /// Outstanding requests per session, 1 to 1000 (default 10).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub window: Option<u32>,
    /// Messages per second for the account, 1 to 100000 (default 50).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100000)]
    pub rate_per_sec: Option<u32>,
    /// `turkish-shift`, `turkish-single-shift` or `gsm7-or-ucs2` (default by country type).
    #[serde(default)]
    #[schema(value_type = Option<super::count::PolicyDto>)]
    pub text_policy: Option<String>,
    /// Source address TON/NPI (default 5/0, alphanumeric).
    #[serde(default)]
    pub source: Option<TonNpiDto>,
    /// Destination address TON/NPI (default 1/1, international E.164).
    #[serde(default)]
    pub destination: Option<TonNpiDto>,
    /// HTTP API accounts only (a setting of another kind is refused,
    /// `provider.setting_other_kind`): the API's base URL, as a webhook's address is checked.
    #[serde(default)]
    #[schema(value_type = Option<super::schema::WebhookUrl>)]
    pub base_url: Option<String>,
    /// HTTP API accounts only: the API user name.
    #[serde(default)]
    #[schema(max_length = 100, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub username: Option<String>,
    /// HTTP API accounts only: an API token (write-only, encrypted at rest); omitted on a
    /// replace keeps the stored one.
    #[serde(default)]
    #[schema(
        write_only,
        min_length = 1,
        max_length = 4096,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub token: Option<String>,
    /// Whether sending may use it (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl std::fmt::Debug for ProviderIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderIn")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// Serde default `true`.
fn yes() -> bool {
    true
}

impl ProviderIn {
    /// The domain draft; the simulator gets placeholder connection fields it does not use.
    fn draft(self) -> ProviderAccountDraft {
        let sim = self.kind == "simulator";
        let or_sim =
            |v: Option<String>, d: &str| v.unwrap_or_else(|| if sim { d } else { "" }.to_owned());
        ProviderAccountDraft {
            name: self.name,
            kind: self.kind,
            host: or_sim(self.host, "builtin"),
            port: self.port.unwrap_or(if sim { 2775 } else { 0 }),
            system_id: or_sim(self.system_id, "ulak"),
            password: self.password,
            system_type: self.system_type,
            bind_mode: self.bind_mode,
            binds: self.binds,
            window: self.window,
            rate_per_sec: self.rate_per_sec,
            text_policy: self.text_policy,
            source: self.source.map(Into::into),
            destination: self.destination.map(Into::into),
            base_url: self.base_url,
            username: self.username,
            token: self.token,
            enabled: self.enabled,
        }
    }
}

/// A provider account; the password and token are never shown. The SMPP settings of an
/// account of another kind are empty values.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderOut {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Interface kind.
    pub kind: ProviderKindDto,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Operator user name (SMPP system_id).
    pub system_id: String,
    /// Whether a password is stored.
    pub has_password: bool,
    /// SMPP system_type.
    pub system_type: String,
    /// Bind mode.
    pub bind_mode: String,
    /// Sessions.
    pub binds: u32,
    /// Window per session.
    pub window: u32,
    /// Messages per second.
    pub rate_per_sec: u32,
    /// Data coding policy.
    pub text_policy: String,
    /// Source TON/NPI.
    pub source: TonNpiDto,
    /// Destination TON/NPI.
    pub destination: TonNpiDto,
    /// HTTP API accounts: the API's base URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// HTTP API accounts: the API user name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Whether an HTTP API token is stored.
    pub has_token: bool,
    /// Whether sending may use it.
    pub enabled: bool,
    /// Created, unix milliseconds.
    pub created_at: Millis,
    /// Last changed, unix milliseconds.
    pub updated_at: Millis,
}

impl From<ProviderAccount> for ProviderOut {
    fn from(a: ProviderAccount) -> Self {
        let (smpp, http) = match a.settings {
            ProviderSettings::Smpp(s) => (Some(s), None),
            ProviderSettings::Http(h) => (None, Some(h)),
        };
        let none = TonNpiDto { ton: 0, npi: 0 };
        let bind_mode = smpp.as_ref().map(|s| s.bind_mode.as_str().to_owned());
        ProviderOut {
            id: a.id.0,
            name: a.name,
            kind: a.kind.into(),
            host: smpp.as_ref().map(|s| s.host.clone()).unwrap_or_default(),
            port: smpp.as_ref().map_or(0, |s| s.port),
            system_id: smpp
                .as_ref()
                .map(|s| s.system_id.clone())
                .unwrap_or_default(),
            has_password: a.has_password,
            system_type: smpp
                .as_ref()
                .map(|s| s.system_type.clone())
                .unwrap_or_default(),
            bind_mode: bind_mode.unwrap_or_default(),
            binds: smpp.as_ref().map_or(0, |s| s.binds),
            window: smpp.as_ref().map_or(0, |s| s.window),
            rate_per_sec: a.rate_per_sec,
            text_policy: a.text_policy.as_str().to_owned(),
            source: smpp.as_ref().map_or(none, |s| s.source.into()),
            destination: smpp.as_ref().map_or(none, |s| s.destination.into()),
            base_url: http.as_ref().map(|h| h.base_url.clone()),
            username: http.map(|h| h.username),
            has_token: a.has_token,
            enabled: a.enabled,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, update_settings))
        .routes(routes!(set_tckn_subscription))
        .routes(routes!(create_provider, list_providers))
        .routes(routes!(get_provider, replace_provider, delete_provider))
}

/// Reads the company's SMS settings.
#[utoipa::path(get, path = "/sms-settings", tag = "sms-settings",
    responses((status = 200, body = SmsSettingsOut)), security(("api_key" = [])))]
async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<JsonOut<SmsSettingsOut>, ApiError> {
    let s = state
        .store()
        .get_sms_settings(caller.company)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(JsonOut(s.into()))
}

/// Changes the company's SMS settings (admin). `tckn_subscription_active` is the system
/// administrator's to change: other keys may only send its current value.
#[utoipa::path(patch, path = "/sms-settings", tag = "sms-settings", request_body = SmsSettingsPatchIn,
    responses(
        (status = 200, body = SmsSettingsOut),
        (status = 403, description = "Not an admin key, or a change of `tckn_subscription_active` by a key that is not the system administrator's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn update_settings(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<SmsSettingsPatchIn>,
) -> Result<JsonOut<SmsSettingsOut>, ApiError> {
    caller.require(Role::Admin)?;
    if let Some(wanted) = b.tckn_subscription_active
        && !caller.system_admin
    {
        let current = state
            .store()
            .get_sms_settings(caller.company)
            .await?
            .ok_or(ApiError::NotFound)?;
        // A client sending back what it read is fine; changing it is not.
        if current.tckn_subscription_active != wanted {
            caller.require_system_admin()?;
        }
    }
    let patch = SmsSettingsPatch::new(SmsSettingsDraft {
        country_type: b.country_type.map(Into::into),
        tckn_sender: b.tckn_sender,
        tckn_subscription_active: b.tckn_subscription_active,
        otp_username: b.otp_username,
        otp_password: b.otp_password,
        opt_out_keywords: b.opt_out_keywords,
    })?;
    let s = state
        .store()
        .update_sms_settings(caller.company, patch)
        .await?;
    Ok(JsonOut(s.into()))
}

/// Whether a company's TC-ID subscription is on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TcknSubscriptionIn {
    /// On or off.
    pub active: bool,
}

/// Switches a company's TC-ID sending subscription on or off (system administrator only).
#[utoipa::path(put, path = "/companies/{id}/tckn-subscription", tag = "sms-settings",
    request_body = TcknSubscriptionIn, params(("id" = i64, Path, description = "Company id")),
    responses(
        (status = 200, body = SmsSettingsOut),
        (status = 403, description = "Not the system administrator's key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn set_tckn_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<TcknSubscriptionIn>,
) -> Result<JsonOut<SmsSettingsOut>, ApiError> {
    caller.require_system_admin()?;
    let company = state
        .store()
        .get_company(CompanyId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let patch = SmsSettingsPatch::new(SmsSettingsDraft {
        tckn_subscription_active: Some(b.active),
        ..SmsSettingsDraft::default()
    })?;
    let s = state.store().update_sms_settings(company.id, patch).await?;
    Ok(JsonOut(s.into()))
}

/// Adds a provider (operator) account (admin).
#[utoipa::path(post, path = "/provider-accounts", tag = "sms-settings", request_body = ProviderIn,
    responses(
        (status = 201, body = ProviderOut),
        (status = 409, description = "The name is already in use", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn create_provider(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<ProviderIn>,
) -> Result<(StatusCode, JsonOut<ProviderOut>), ApiError> {
    caller.require(Role::Admin)?;
    let country = caller.country(&state).await?;
    let new = NewProviderAccount::new(b.draft(), country, state.outbound())?;
    let a = state
        .store()
        .create_provider_account(caller.company, new)
        .await?;
    Ok((StatusCode::CREATED, JsonOut(a.into())))
}

/// Lists provider accounts (admin).
#[utoipa::path(get, path = "/provider-accounts", tag = "sms-settings", params(ListParams),
    responses((status = 200, body = PageOut<ProviderOut>)), security(("api_key" = [])))]
async fn list_providers(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<JsonOut<PageOut<ProviderOut>>, ApiError> {
    caller.require(Role::Admin)?;
    let page = state
        .store()
        .list_provider_accounts(caller.company, &params.query()?)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, ProviderOut::from)))
}

/// Reads a provider account (admin).
#[utoipa::path(get, path = "/provider-accounts/{id}", tag = "sms-settings", params(("id" = i64, Path, description = "Provider account id")),
    responses((status = 200, body = ProviderOut)), security(("api_key" = [])))]
async fn get_provider(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<ProviderOut>, ApiError> {
    caller.require(Role::Admin)?;
    let a = state
        .store()
        .get_provider_account(caller.company, ProviderAccountId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(JsonOut(a.into()))
}

/// Replaces a provider account's settings (admin); without `password` the stored one stays.
#[utoipa::path(put, path = "/provider-accounts/{id}", tag = "sms-settings", params(("id" = i64, Path, description = "Provider account id")),
    request_body = ProviderIn, responses((status = 200, body = ProviderOut)), security(("api_key" = [])))]
async fn replace_provider(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<ProviderIn>,
) -> Result<JsonOut<ProviderOut>, ApiError> {
    caller.require(Role::Admin)?;
    let country = caller.country(&state).await?;
    let new = NewProviderAccount::new(b.draft(), country, state.outbound())?;
    let a = state
        .store()
        .update_provider_account(caller.company, ProviderAccountId(id), new)
        .await?;
    Ok(JsonOut(a.into()))
}

/// Deletes a provider account (admin).
#[utoipa::path(delete, path = "/provider-accounts/{id}", tag = "sms-settings", params(("id" = i64, Path, description = "Provider account id")),
    responses((status = 204, description = "Deleted")), security(("api_key" = [])))]
async fn delete_provider(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    state
        .store()
        .delete_provider_account(caller.company, ProviderAccountId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
