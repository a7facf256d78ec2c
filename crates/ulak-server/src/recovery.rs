//! Recovery tools run on the server's own data (`ulak admin …`): a new password for a user or a
//! new system administrator key, for when the secrets the first start printed are lost. They
//! need what `serve` needs (the database and the master key), so only the server's operator
//! can use them.

use ulak_core::model::{CompanyId, ListQuery, NewApiKey, NewUser, Role, User, UserPatch, fold};
use ulak_store::{DEFAULT_COMPANY, Store, StoreError};

use crate::config::Settings;
use crate::startup::{StartError, open_existing_store, random_password};

/// Why a recovery tool failed.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The server's data could not be opened.
    #[error("{0}")]
    Open(#[from] StartError),
    /// No company of that name.
    #[error("no company named {0:?}")]
    NoCompany(String),
    /// The database refused.
    #[error("database: {0}")]
    Store(StoreError),
}

impl From<StoreError> for RecoveryError {
    fn from(e: StoreError) -> Self {
        RecoveryError::Store(e)
    }
}

/// What `reset_password` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordReset {
    /// The new password, to show once.
    pub password: String,
    /// Whether the user did not exist and was created (as an admin).
    pub created: bool,
}

/// Gives `login` of `company` a new random password (and reactivates it); a missing user is
/// created as an admin (the `admin` user may have been deleted: this is how one gets back in).
pub async fn reset_password(
    settings: &Settings,
    company: &str,
    login: &str,
) -> Result<PasswordReset, RecoveryError> {
    let store = open_existing_store(settings).await?;
    let result = reset_in(&store, company, login).await;
    store.close().await;
    result
}

async fn reset_in(
    store: &Store,
    company: &str,
    login: &str,
) -> Result<PasswordReset, RecoveryError> {
    let company = store
        .get_company_by_name(&fold(company.trim()))
        .await?
        .ok_or_else(|| RecoveryError::NoCompany(company.to_owned()))?;
    let password = random_password()?;
    let wanted = fold(login.trim());
    let created = match find_user(store, company.id, &wanted).await? {
        Some(user) => {
            let patch = UserPatch::new(
                Some(&password),
                None,
                None,
                None,
                None,
                company.country_type,
            )
            .map_err(StoreError::from)?
            // The way back in: a deactivated user is active again.
            .with_active(Some(true));
            store.update_user(company.id, user.id, patch).await?;
            false
        }
        None => {
            let new = NewUser::new(
                login,
                &password,
                None,
                None,
                None,
                Role::Admin,
                company.country_type,
            )
            .map_err(StoreError::from)?;
            store.create_user(company.id, new).await?;
            true
        }
    };
    Ok(PasswordReset { password, created })
}

/// The user whose login is exactly `login` (folded): the store's search matches parts of
/// logins, so walk its pages.
async fn find_user(
    store: &Store,
    company: CompanyId,
    login: &str,
) -> Result<Option<User>, StoreError> {
    let mut query = ListQuery {
        limit: Some(ulak_core::model::MAX_LIMIT),
        search: Some(login.to_owned()),
        ..ListQuery::default()
    };
    loop {
        let page = store.list_users(company, &query).await?;
        if let Some(u) = page.items.into_iter().find(|u| u.login.as_str() == login) {
            return Ok(Some(u));
        }
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return Ok(None),
        }
    }
}

/// Creates a new system administrator key in company `default` named `name`; returns the key.
/// Existing keys stay as they are (revoke a lost one with the new key).
pub async fn new_system_admin_key(
    settings: &Settings,
    name: &str,
) -> Result<String, RecoveryError> {
    let store = open_existing_store(settings).await?;
    let result = async {
        let company = store
            .get_company_by_name(DEFAULT_COMPANY)
            .await?
            .ok_or_else(|| RecoveryError::NoCompany(DEFAULT_COMPANY.to_owned()))?;
        let new = NewApiKey::new(name, Role::Admin, true).map_err(StoreError::from)?;
        let (_, key) = store.create_api_key(company.id, new).await?;
        Ok(key)
    }
    .await;
    store.close().await;
    result
}
