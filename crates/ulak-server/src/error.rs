//! One error type for every handler, rendered as `application/problem+json` (RFC 9457) with
//! field-level messages. Client errors say what is wrong; internal ones are logged, not shown.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use ulak_core::{Code, Lang};
use utoipa::ToSchema;

/// A field-level validation message.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The request field, e.g. `phone` or `rows[3].tckn`.
    pub field: String,
    /// Stable machine-readable reason (docs/errors.md), e.g. `value.too_long`,
    /// `phone.landline`.
    #[schema(value_type = crate::routes::schema::ErrorCode)]
    pub code: Code,
    /// What is wrong with it: in English, or the code's Turkish text when the request's
    /// `Accept-Language` prefers Turkish.
    pub message: String,
}

/// The problem document every error response carries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Stable machine-readable reason (docs/errors.md); `request.invalid` for a validation
    /// error, whose fields carry their own codes.
    #[schema(value_type = crate::routes::schema::ErrorCode)]
    pub code: Code,
    /// What went wrong in this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Field-level messages, for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<FieldError>,
}

/// Errors a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is well-formed but its content is invalid.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// The request could not be read (bad JSON, wrong types).
    #[error("{0}")]
    BadRequest(String),
    /// No or unknown credentials.
    #[error("missing or invalid API key")]
    Unauthorized,
    /// The credentials do not allow this action.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing of that id here (including another company's objects), or no such path.
    #[error("not found")]
    NotFound,
    /// The path exists, but not with this method.
    #[error("this path does not take this method")]
    MethodNotAllowed,
    /// The request's URI is longer than the server reads.
    #[error("the URI is longer than {0} bytes")]
    UriTooLong(usize),
    /// A state conflict.
    #[error("{0}")]
    Conflict(String),
    /// A uniqueness conflict on these fields.
    #[error("already exists")]
    ConflictFields(Vec<FieldError>),
    /// The body is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// A dependency (the database) is not available.
    #[error("{0}")]
    Unavailable(String),
    /// The request took longer than the whole-request time-out.
    #[error("{0}")]
    TimedOut(String),
    /// Over a rate limit; try again after `retry_after` seconds (`Retry-After`).
    #[error("{detail}")]
    TooManyRequests {
        /// Whole seconds until a request would be let through.
        retry_after: u64,
        /// Which limit.
        detail: String,
    },
    /// A refusal with a code of its own (insufficient credit, a reused idempotency key).
    #[error("{detail}")]
    Refused {
        /// The answer's status.
        status: StatusCode,
        /// Why.
        code: Code,
        /// What happened, in English.
        detail: String,
    },
    /// Anything else: logged with its cause, shown as a generic message.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::Conflict(_) | ApiError::ConflictFields(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Refused { status, .. } => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> Code {
        match self {
            ApiError::Validation(_) => Code::RequestInvalid,
            ApiError::BadRequest(_) => Code::RequestMalformed,
            ApiError::Unauthorized => Code::AuthRequired,
            ApiError::Forbidden(_) => Code::AuthForbidden,
            ApiError::NotFound => Code::NotFound,
            ApiError::MethodNotAllowed => Code::MethodNotAllowed,
            ApiError::UriTooLong(_) => Code::RequestUriTooLong,
            ApiError::Conflict(_) => Code::StateConflict,
            ApiError::ConflictFields(_) => Code::ValueTaken,
            ApiError::TooLarge(_) => Code::RequestTooLarge,
            ApiError::Unavailable(_) => Code::ServiceUnavailable,
            ApiError::TimedOut(_) => Code::RequestTimeout,
            ApiError::TooManyRequests { .. } => Code::RateLimited,
            ApiError::Refused { code, .. } => *code,
            ApiError::Internal(_) => Code::Internal,
        }
    }

    /// One invalid field, with its code.
    pub fn field(field: impl Into<String>, code: Code, message: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }])
    }

    /// One field that broke a domain rule, with the rule's code.
    pub fn rule(field: impl Into<String>, e: ulak_core::model::RuleError) -> ApiError {
        ApiError::field(field, e.code, e.message)
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let slug = match self {
            ApiError::Validation(_) => "validation",
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound => "not-found",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::UriTooLong(_) => "uri-too-long",
            ApiError::Conflict(_) | ApiError::ConflictFields(_) => "conflict",
            ApiError::TooLarge(_) => "too-large",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::TimedOut(_) => "timeout",
            ApiError::TooManyRequests { .. } => "too-many-requests",
            ApiError::Refused { code, .. } => code.subject(),
            ApiError::Internal(_) => "internal",
        };
        let detail = match self {
            ApiError::Internal(_) => None,
            other => Some(other.to_string()),
        };
        Problem {
            kind: format!("https://ulak.dev/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code: self.code(),
            detail,
            errors: match self {
                ApiError::Validation(e) | ApiError::ConflictFields(e) => e.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let status = self.status();
        let problem = self.problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        // Kept for [`localize`], which re-renders it when Turkish is asked for.
        response.extensions_mut().insert(problem);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            // The rest of a timed-out request may still be on its way: start afresh.
            ApiError::TimedOut(_) => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

/// A JSON body: an object, as every request body is. Bodies that fail to parse become problem
/// documents too, not axum's plain text.
/// A number with a zero fraction (`3.0`) is read as the integer it is: JSON Schema's
/// `integer` takes it, so the API does too.
pub struct Json<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
        if !json {
            return Err(ApiError::BadRequest(
                "Expected request with `Content-Type: application/json`".to_owned(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| match r.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(r.body_text()),
                _ => ApiError::BadRequest(r.body_text()),
            })?;
        // Every request body is an object; serde would read a struct from an array too.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::BadRequest(
                "the body must be a JSON object".to_owned(),
            ));
        }
        let unreadable = |e: &dyn std::fmt::Display| {
            ApiError::BadRequest(format!(
                "Failed to deserialize the JSON body into the target type: {e}"
            ))
        };
        // Read straight into `T` (a campaign's million pasted numbers stay compact); only a
        // float where an integer belongs takes the second, slower way through a `Value`.
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(&mut de) {
            Ok(v) => {
                de.end().map_err(|e| unreadable(&e))?;
                Ok(Json(v))
            }
            Err(e) if e.inner().to_string().contains("floating point") => {
                let bytes = crate::numbers::integral_numbers(&bytes);
                let mut de = serde_json::Deserializer::from_slice(&bytes);
                let v = serde_path_to_error::deserialize(&mut de).map_err(|e| unreadable(&e))?;
                de.end().map_err(|e| unreadable(&e))?;
                Ok(Json(v))
            }
            Err(e) => Err(unreadable(&e)),
        }
    }
}

impl From<ulak_core::model::ValidationErrors> for ApiError {
    fn from(e: ulak_core::model::ValidationErrors) -> Self {
        ApiError::Validation(
            e.0.into_iter()
                .map(|f| FieldError {
                    field: f.field,
                    code: f.code,
                    message: f.message,
                })
                .collect(),
        )
    }
}

impl From<ulak_store::StoreError> for ApiError {
    fn from(e: ulak_store::StoreError) -> Self {
        use ulak_store::StoreError as S;
        match e {
            S::NotFound => ApiError::NotFound,
            S::Conflict { field } => ApiError::ConflictFields(vec![FieldError {
                code: Code::ValueTaken,
                message: format!("{field} already exists"),
                field,
            }]),
            S::Validation(v) => v.into(),
            S::WrongState(why) => ApiError::Conflict(why),
            S::InsufficientCredit { balance, amount } => ApiError::Refused {
                status: StatusCode::CONFLICT,
                code: Code::CreditInsufficient,
                detail: format!("insufficient credit: balance {balance}, change {amount}"),
            },
            S::LastAdmin => ApiError::Refused {
                status: StatusCode::CONFLICT,
                code: Code::UserLastAdmin,
                detail: "the company's last active administrator cannot be demoted, \
                         deactivated or deleted"
                    .to_owned(),
            },
            S::LastSystemAdmin => ApiError::Refused {
                status: StatusCode::CONFLICT,
                code: Code::UserLastSystemAdmin,
                detail: "the server's last active system administrator cannot be demoted, \
                         deactivated, deleted or lose system administration"
                    .to_owned(),
            },
            S::IdempotencyConflict => ApiError::Refused {
                status: StatusCode::CONFLICT,
                code: Code::IdempotencyBodyMismatch,
                detail: "the Idempotency-Key was already used in the last 24 hours for a \
                         different request"
                    .to_owned(),
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ulak_engine::send::SendError> for ApiError {
    fn from(e: ulak_engine::send::SendError) -> Self {
        use ulak_engine::send::SendError as E;
        match e {
            E::Invalid(v) => v.into(),
            E::NoSettings => ApiError::NotFound,
            E::InsufficientCredit { balance, amount } => {
                ulak_store::StoreError::InsufficientCredit { balance, amount }.into()
            }
            E::IdempotencyMismatch => ulak_store::StoreError::IdempotencyConflict.into(),
            E::Store(s) => s.into(),
        }
    }
}

/// Path parameters. Every one is an object's id: a segment that is no id (`abc`, a number
/// past `i64`) names no object, so it is a 404 problem document, like a missing one.
pub struct Path<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|r| match r {
                axum::extract::rejection::PathRejection::FailedToDeserializePathParams(_) => {
                    ApiError::NotFound
                }
                other => ApiError::Internal(other.body_text()),
            })
    }
}

/// Query parameters whose rejection is a problem document (not axum's plain text).
pub struct Query<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|r| ApiError::BadRequest(r.body_text()))
    }
}

/// The problem documents of a request in the language its `Accept-Language` prefers: Turkish
/// texts (title, detail, each field's message) replace the English ones when `tr` is asked
/// for; codes stay as they are. Every answer that carries a problem says its language in
/// `Content-Language`.
pub async fn localize(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let lang = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map_or(Lang::En, Lang::from_accept_language);
    let mut response = next.run(request).await;
    let Some(problem) = response.extensions_mut().remove::<Problem>() else {
        return response;
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    if lang == Lang::En {
        return response;
    }
    let body = serde_json::to_vec(&problem.in_lang(lang)).unwrap_or_default();
    headers.remove(header::CONTENT_LENGTH);
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, axum::body::Body::from(body))
}

impl Problem {
    /// This problem with its texts in `lang` (the codes' texts; details that only English
    /// has, such as a limit's figure, give way to the code's general text).
    pub fn in_lang(mut self, lang: Lang) -> Problem {
        if lang == Lang::En {
            return self;
        }
        if let Some(t) = status_title(self.status, lang) {
            t.clone_into(&mut self.title);
        }
        self.detail = Some(self.code.text(lang).to_owned());
        for e in &mut self.errors {
            e.code.text(lang).clone_into(&mut e.message);
        }
        self
    }
}

/// A status's title in Turkish.
fn status_title(status: u16, lang: Lang) -> Option<&'static str> {
    if lang != Lang::Tr {
        return None;
    }
    Some(match status {
        400 => "Hatalı İstek",
        401 => "Kimlik Doğrulanmadı",
        403 => "Yetkisiz",
        404 => "Bulunamadı",
        405 => "Yönteme İzin Verilmiyor",
        408 => "İstek Zaman Aşımı",
        409 => "Çakışma",
        413 => "İstek Çok Büyük",
        414 => "Adres Çok Uzun",
        422 => "Geçersiz Veri",
        429 => "Çok Fazla İstek",
        500 => "Sunucu Hatası",
        503 => "Hizmet Kullanılamıyor",
        _ => return None,
    })
}
