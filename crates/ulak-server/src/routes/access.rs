//! Users and API keys of a company: who may use Ulak, and with which role.

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ulak_core::model::{ApiKey, ApiKeyId, NewApiKey, NewUser, Role, User, UserId, UserPatch};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{ListParams, Millis, PageOut};
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path, Problem, Query};
use crate::startup::AppState;

/// A role.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RoleDto {
    /// Everything in the company, including users, keys and settings.
    Admin,
    /// Subscribers, groups, accounts, templates and sending.
    Operator,
    /// Read only.
    Viewer,
}

impl From<RoleDto> for Role {
    fn from(r: RoleDto) -> Self {
        match r {
            RoleDto::Admin => Role::Admin,
            RoleDto::Operator => Role::Operator,
            RoleDto::Viewer => Role::Viewer,
        }
    }
}

impl From<Role> for RoleDto {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => RoleDto::Admin,
            Role::Operator => RoleDto::Operator,
            Role::Viewer => RoleDto::Viewer,
        }
    }
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    /// Login name, unique in the company.
    #[schema(
        max_length = 64,
        pattern = r"^[^\S\x00-\x1F\x7F-\x9F]*[\p{L}\p{N}._@-]+[^\S\x00-\x1F\x7F-\x9F]*$"
    )]
    pub login: String,
    /// Password, at least 8 characters; stored only as an Argon2id hash.
    #[schema(
        min_length = 8,
        max_length = 256,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub password: String,
    /// Name shown to people.
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub display_name: Option<String>,
    /// Mobile phone (for SMS alerts and OTP approvals).
    #[serde(default)]
    #[schema(value_type = Option<super::schema::PhoneOrEmpty>)]
    pub phone: Option<String>,
    /// E-mail address.
    #[serde(default)]
    #[schema(value_type = Option<super::schema::EmailOrEmpty>)]
    pub email: Option<String>,
    /// Role.
    pub role: RoleDto,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchIn {
    /// New password.
    #[schema(
        min_length = 8,
        max_length = 256,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub password: Option<String>,
    /// New display name.
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub display_name: Option<String>,
    /// New phone.
    #[schema(value_type = Option<super::schema::PhoneOrEmpty>)]
    pub phone: Option<String>,
    /// New e-mail address.
    #[schema(value_type = Option<super::schema::EmailOrEmpty>)]
    pub email: Option<String>,
    /// New role. Demoting the company's last active administrator is refused (409
    /// `user.last_admin`), and so is the server's last active system administrator (409
    /// `user.last_system_admin`).
    pub role: Option<RoleDto>,
    /// `false` deactivates the user (they can no longer sign in; their web sessions end),
    /// `true` reactivates them. Deactivating the last active administrator is refused (409
    /// `user.last_admin`), and so is the last active system administrator (409
    /// `user.last_system_admin`).
    pub active: Option<bool>,
}

/// A user (never the password).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    /// Id.
    pub id: i64,
    /// Login name.
    pub login: String,
    /// Name shown to people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// E.164 phone; shown only to admin keys (personal data the other roles do not need).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// E-mail address; shown only to admin keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Role.
    pub role: RoleDto,
    /// Whether the user may sign in.
    pub active: bool,
    /// Created, unix milliseconds.
    pub created_at: Millis,
    /// Last changed, unix milliseconds.
    pub updated_at: Millis,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        UserOut {
            id: u.id.0,
            login: u.login.as_str().to_owned(),
            display_name: u.display_name,
            phone: u.phone.map(|p| p.e164().to_owned()),
            email: u.email.map(|e| e.as_str().to_owned()),
            role: u.role.into(),
            active: u.active,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

impl UserOut {
    /// The user as `caller` may see it: without phone and e-mail unless the caller is an admin.
    fn for_caller(u: User, caller: &Caller) -> Self {
        let mut out = UserOut::from(u);
        if !caller.sees_contacts() {
            out.phone = None;
            out.email = None;
        }
        out
    }
}

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyIn {
    /// Name, to tell keys apart.
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// Role.
    pub role: RoleDto,
    /// A system administrator key (default false); only the system administrator may create
    /// one, e.g. to replace its own.
    #[serde(default)]
    pub system_admin: bool,
}

/// An API key's metadata (never the key).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    /// Role.
    pub role: RoleDto,
    /// Whether it is the system administrator's key.
    pub system_admin: bool,
    /// Created, unix milliseconds.
    pub created_at: Millis,
    /// Last used, unix milliseconds (minute precision).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Millis>,
    /// Revoked, unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Millis>,
}

impl From<ApiKey> for ApiKeyOut {
    fn from(k: ApiKey) -> Self {
        ApiKeyOut {
            id: k.id.0,
            name: k.name,
            prefix: k.prefix,
            role: k.role.into(),
            system_admin: k.system_admin,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A created API key: the key itself is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    /// Metadata.
    #[serde(flatten)]
    pub meta: ApiKeyOut,
    /// The key; store it now, it cannot be read again.
    pub key: String,
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(create_key, list_keys))
        .routes(routes!(revoke_key))
}

/// Creates a user (admin).
#[utoipa::path(post, path = "/users", tag = "access", request_body = UserIn,
    responses(
        (status = 201, body = UserOut),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<UserIn>,
) -> Result<(StatusCode, JsonOut<UserOut>), ApiError> {
    caller.require(Role::Admin)?;
    let country = caller.country(&state).await?;
    let new = NewUser::new(
        &b.login,
        &b.password,
        b.display_name.as_deref(),
        b.phone.as_deref(),
        b.email.as_deref(),
        b.role.into(),
        country,
    )?;
    let u = state.store().create_user(caller.company, new).await?;
    Ok((StatusCode::CREATED, JsonOut(u.into())))
}

/// Lists users; phones and e-mail addresses only for admin keys.
#[utoipa::path(get, path = "/users", tag = "access", params(ListParams),
    responses(
        (status = 200, body = PageOut<UserOut>),
    ),
    security(("api_key" = [])))]
async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<JsonOut<PageOut<UserOut>>, ApiError> {
    let page = state
        .store()
        .list_users(caller.company, &params.query()?)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, |u| {
        UserOut::for_caller(u, &caller)
    })))
}

/// Reads a user; the phone and e-mail address only for admin keys.
#[utoipa::path(get, path = "/users/{id}", tag = "access", params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, body = UserOut),
    ),
    security(("api_key" = [])))]
async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<UserOut>, ApiError> {
    let u = state
        .store()
        .get_user(caller.company, UserId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(JsonOut(UserOut::for_caller(u, &caller)))
}

/// Changes a user (admin).
#[utoipa::path(patch, path = "/users/{id}", tag = "access", params(("id" = i64, Path, description = "User id")),
    request_body = UserPatchIn,
    responses(
        (status = 200, body = UserOut),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<UserPatchIn>,
) -> Result<JsonOut<UserOut>, ApiError> {
    caller.require(Role::Admin)?;
    changeable(&state, &caller, UserId(id)).await?;
    let country = caller.country(&state).await?;
    let patch = UserPatch::new(
        b.password.as_deref(),
        b.display_name.as_deref(),
        b.phone.as_deref(),
        b.email.as_deref(),
        b.role.map(Into::into),
        country,
    )?
    .with_active(b.active);
    let reset = b.password.is_some();
    let u = state
        .store()
        .update_user(caller.company, UserId(id), patch)
        .await?;
    // A password set by an administrator ends the user's web sessions: a stolen session must
    // not outlive the reset.
    if reset {
        state
            .store()
            .delete_user_web_sessions(caller.company, UserId(id), None)
            .await?;
    }
    Ok(JsonOut(u.into()))
}

/// Deletes a user (admin); never the company's last active administrator (409
/// `user.last_admin`) nor the server's last active system administrator (409
/// `user.last_system_admin`).
#[utoipa::path(delete, path = "/users/{id}", tag = "access", params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    changeable(&state, &caller, UserId(id)).await?;
    state
        .store()
        .delete_user(caller.company, UserId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 404 for no such user of the caller's company, 403 for a system administrator's account
/// and a caller who is not one ([`User::changeable_by`]).
async fn changeable(state: &AppState, caller: &Caller, id: UserId) -> Result<(), ApiError> {
    let target = state
        .store()
        .get_user(caller.company, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if target.changeable_by(caller.system_admin) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only the system administrator changes a system administrator's account".into(),
        ))
    }
}

/// Creates an API key (admin; a system administrator key only by the system administrator);
/// the answer holds the key, shown this once.
#[utoipa::path(post, path = "/api-keys", tag = "access", request_body = ApiKeyIn,
    responses(
        (status = 201, body = ApiKeyCreated),
        (status = 403, description = "Not an admin key, or `system_admin` asked by a key that is not the system administrator's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<ApiKeyIn>,
) -> Result<(StatusCode, JsonOut<ApiKeyCreated>), ApiError> {
    caller.require_key_manager(b.system_admin)?;
    let new = NewApiKey::new(&b.name, b.role.into(), b.system_admin)?;
    let (meta, key) = state.store().create_api_key(caller.company, new).await?;
    Ok((
        StatusCode::CREATED,
        JsonOut(ApiKeyCreated {
            meta: meta.into(),
            key,
        }),
    ))
}

/// Lists API keys (admin).
#[utoipa::path(get, path = "/api-keys", tag = "access", params(ListParams),
    responses(
        (status = 200, body = PageOut<ApiKeyOut>),
    ),
    security(("api_key" = [])))]
async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<JsonOut<PageOut<ApiKeyOut>>, ApiError> {
    caller.require(Role::Admin)?;
    let page = state
        .store()
        .list_api_keys(caller.company, &params.query()?)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, ApiKeyOut::from)))
}

/// Revokes an API key (admin; a system administrator key only by the system administrator);
/// it stops working at once.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "access", params(("id" = i64, Path, description = "API key id")),
    responses(
        (status = 200, body = ApiKeyOut),
        (status = 403, description = "Not an admin key, or the key to revoke is a system administrator's and the caller's is not", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key used cannot revoke itself", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<ApiKeyOut>, ApiError> {
    caller.require(Role::Admin)?;
    if caller.key_id == ApiKeyId(id) {
        return Err(ApiError::Conflict(
            "a key cannot revoke itself; use another admin key".to_owned(),
        ));
    }
    let target = state
        .store()
        .get_api_key(caller.company, ApiKeyId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    caller.require_key_manager(target.system_admin)?;
    let k = state
        .store()
        .revoke_api_key(caller.company, ApiKeyId(id))
        .await?;
    Ok(JsonOut(k.into()))
}
