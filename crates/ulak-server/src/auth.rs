//! Who is calling: `Authorization: Bearer <api key>` resolved to a company and a role, and
//! the rules of who may do what, kept here once:
//!
//! - roles rank admin > operator > viewer within the caller's company ([`Caller::require`]);
//! - the system administrator (a key flagged `system_admin`, in company `default`) alone
//!   creates companies, sells credit (purchases and adjustments), switches the TC-ID
//!   subscription on or off, and manages system-administrator keys — a company administrator,
//!   `default`'s included, reads these but cannot change them ([`Caller::require_system_admin`],
//!   [`Caller::require_key_manager`]);
//! - users' phones and e-mail addresses are shown to admins only ([`Caller::sees_contacts`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
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

    /// Refuses unless the caller may create or revoke a key: an admin for company keys, the
    /// system administrator for system-administrator keys (so a company administrator of
    /// `default` cannot lock the system administrator out).
    pub fn require_key_manager(&self, system_admin_key: bool) -> Result<(), ApiError> {
        self.require(Role::Admin)?;
        if system_admin_key && !self.system_admin {
            return Err(ApiError::Forbidden(
                "system administrator keys are managed only by the system administrator".to_owned(),
            ));
        }
        Ok(())
    }

    /// Whether users' phones and e-mail addresses may be shown to the caller (admins only:
    /// they are personal data the other roles do not need).
    pub fn sees_contacts(&self) -> bool {
        self.role == Role::Admin
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
        // The peer, when served over TCP (requests built in tests have none).
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let limits = state.limits();
        if let Some(ip) = source {
            // An address that guessed wrong too often is refused before its key is verified,
            // unless the key is one known to have verified (a guesser's cannot be), so a
            // guesser sharing a client's address does not lock the client out.
            if let Err(e) = limits.auth_allowed(ip)
                && !state.store().api_key_known(key)
            {
                return Err(e);
            }
        }
        let Some(auth) = state.store().authenticate_api_key(key).await? else {
            if let Some(ip) = source {
                limits.auth_failed(ip);
            }
            return Err(ApiError::Unauthorized);
        };
        limits.key(auth.key_id)?;
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
