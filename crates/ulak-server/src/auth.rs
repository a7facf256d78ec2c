//! Who is calling: `Authorization: Bearer <api key>` resolved to a company and a role.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use ulak_core::model::{ApiKeyId, CompanyId, Role};

use crate::error::ApiError;
use crate::startup::AppState;

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The company every query is scoped to.
    pub company: CompanyId,
    /// What the key may do.
    pub role: Role,
    /// Whether the key is the system administrator's.
    pub system_admin: bool,
    /// The key used.
    pub key_id: ApiKeyId,
}

impl Caller {
    /// Refuses unless the caller's role is at least `role` (admin > operator > viewer).
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        let rank = |r: Role| match r {
            Role::Viewer => 0,
            Role::Operator => 1,
            Role::Admin => 2,
        };
        if rank(self.role) >= rank(role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role; the key has {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }

    /// The country type of the caller's company: how national phone numbers are read.
    pub async fn country(&self, state: &AppState) -> Result<ulak_core::CountryType, ApiError> {
        Ok(state
            .store()
            .get_company(self.company)
            .await?
            .ok_or(ApiError::NotFound)?
            .country_type)
    }

    /// Refuses unless the caller holds the system administrator's key.
    pub fn require_system_admin(&self) -> Result<(), ApiError> {
        if self.system_admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only the system administrator's key may do this".to_owned(),
            ))
        }
    }
}

/// The token of an `Authorization: Bearer <token>` value. The scheme name is
/// case-insensitive (RFC 9110 §11.1): `bearer`, `BEARER` and `Bearer` all work.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim_start().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let key = bearer_token(header).ok_or(ApiError::Unauthorized)?;
        let auth = state
            .store()
            .authenticate_api_key(key)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Caller {
            company: auth.company_id,
            role: auth.role,
            system_admin: auth.system_admin,
            key_id: auth.key_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_scheme_is_case_insensitive() {
        for h in ["Bearer k1", "bearer k1", "BEARER k1", "bEaReR   k1 "] {
            assert_eq!(bearer_token(h), Some("k1"), "{h}");
        }
        for h in ["Basic k1", "Bearer", "Bearer   ", "Bearerk1", "k1"] {
            assert_eq!(bearer_token(h), None, "{h}");
        }
    }
}
