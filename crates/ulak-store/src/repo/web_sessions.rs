//! Signing in to the web UI (issue 14): server-side sessions found by the SHA-256 of their
//! cookie token, lockout after repeated failed sign-ins per user and per client address, and
//! the language each user sees the UI in.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::{Any, Transaction};
use ulak_core::model::{CompanyId, Language, User, UserId, fold};

use super::users::{COLS as USER_COLS, user};
use crate::auth::key_hash;
use crate::db::{col, now_ms, parse};
use crate::{Result, Store, StoreError};

/// A presented token longer than this is not one of ours (they are 43 characters): it is
/// refused without a query, so junk cookies cost nothing.
const MAX_TOKEN_LEN: usize = 100;

/// `last_seen_at` is written at most this often per session, so a page that loads many
/// resources does not write on every request. Idle expiry is therefore up to this early.
const LAST_SEEN_GRANULARITY_MS: i64 = 60_000;

/// [`Store::purge_web_sign_in`] deletes sessions older than this, whatever the server's
/// absolute limit (which [`Store::web_session`] enforces on every read).
pub const WEB_SESSION_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// [`Store::purge_web_sign_in`] deletes failure counts started longer ago than this (unless
/// their lock is still in force): far beyond any sensible counting window.
const FAILURE_ROW_TTL_MS: i64 = 24 * 3600 * 1000;

/// Scopes of `sign_in_failures` rows.
const SCOPE_USER: &str = "user";
const SCOPE_ADDRESS: &str = "address";

/// The user a valid session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    /// The signed-in user (its `company_id` is the session's company).
    pub user: User,
    /// The language the user chose for the UI.
    pub language: Language,
    /// When the session was created, unix milliseconds.
    pub session_created_at: i64,
}

/// When failed sign-ins lock further attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInPolicy {
    /// Failures of one login (in one company) within `window` that lock it; 0 locks at
    /// the first failure.
    pub user_failures: u32,
    /// Failures from one client address within `window`, whatever the login, that lock
    /// the address.
    pub address_failures: u32,
    /// A count whose first failure is older than this starts over.
    pub window: Duration,
    /// How long a reached limit locks.
    pub lock_for: Duration,
}

impl Default for SignInPolicy {
    /// 10 per user, 50 per address, both within 15 minutes; locked for 15 minutes.
    fn default() -> Self {
        Self {
            user_failures: 10,
            address_failures: 50,
            window: Duration::from_secs(15 * 60),
            lock_for: Duration::from_secs(15 * 60),
        }
    }
}

/// A duration in milliseconds, saturating.
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Whether `token` can be one of ours: 1..=[`MAX_TOKEN_LEN`] base64url characters.
fn well_formed(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The user columns prefixed with table alias `u` (the session's own columns share names).
fn user_cols_of_u() -> String {
    USER_COLS
        .split(',')
        .map(|c| {
            let c = c.trim();
            format!("u.{c} AS {c}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The subject a login is counted under: hashed so no login name is kept with the counts,
/// and folded the way [`Store::verify_user_password`] folds it ("Admin" is "admin").
fn user_subject(secrets: &crate::SecretBox, company: CompanyId, login: &str) -> String {
    secrets.keyed_digest(&format!("{}:{}", company.0, fold(login.trim())))
}

/// The subject an address is counted under: a keyed digest
/// ([`crate::SecretBox::keyed_digest`]), as addresses are personal data and the few billion
/// IPv4 addresses could otherwise simply be tried against the table.
fn address_subject(secrets: &crate::SecretBox, address: &str) -> String {
    secrets.keyed_digest(address)
}

impl Store {
    /// Starts a session for a user of `company`; returns the raw token (32 random bytes,
    /// base64url without padding), which only the cookie keeps. `NotFound` when the user
    /// is not one of `company`'s.
    #[tracing::instrument(skip_all, fields(company = company.0, user = user.0))]
    pub async fn create_web_session(&self, company: CompanyId, user: UserId) -> Result<String> {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|_| StoreError::Hash)?;
        let token = URL_SAFE_NO_PAD.encode(raw);
        let r = sqlx::query(
            "INSERT INTO web_sessions (token_hash, user_id, company_id, created_at, last_seen_at) \
             SELECT $1, id, company_id, $4, $4 FROM users \
             WHERE company_id = $2 AND id = $3 AND active = 1",
        )
        .bind(key_hash(&token))
        .bind(company.0)
        .bind(user.0)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(token)
    }

    /// The user of a presented session token; `None` when the token is malformed, unknown,
    /// unused for longer than `idle` or older than `absolute` (an expired session is
    /// deleted). Records the use, at most once a minute.
    #[tracing::instrument(skip_all)]
    pub async fn web_session(
        &self,
        token: &str,
        idle: Duration,
        absolute: Duration,
    ) -> Result<Option<SessionUser>> {
        if !well_formed(token) {
            return Ok(None);
        }
        let row = sqlx::query(sql!(
            "SELECT s.id AS session_id, s.created_at AS session_created_at, \
             s.last_seen_at AS session_last_seen_at, u.language AS language, {} \
             FROM web_sessions s JOIN users u ON u.id = s.user_id AND u.company_id = s.company_id \
             AND u.active = 1 WHERE s.token_hash = $1",
            user_cols_of_u()
        ))
        .bind(key_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id: i64 = col(&row, "session_id")?;
        let created: i64 = col(&row, "session_created_at")?;
        let seen: i64 = col(&row, "session_last_seen_at")?;
        let now = now_ms();
        if now.saturating_sub(seen) > ms(idle) || now.saturating_sub(created) > ms(absolute) {
            sqlx::query("DELETE FROM web_sessions WHERE id = $1")
                .bind(id)
                .execute(&self.pool)
                .await?;
            return Ok(None);
        }
        if now.saturating_sub(seen) > LAST_SEEN_GRANULARITY_MS {
            sqlx::query(
                "UPDATE web_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2",
            )
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        }
        Ok(Some(SessionUser {
            user: user(&row)?,
            language: parse(&col::<String>(&row, "language")?, "users.language")?,
            session_created_at: created,
        }))
    }

    /// Ends the session of a token (signing out); an unknown token is not an error.
    #[tracing::instrument(skip_all)]
    pub async fn delete_web_session(&self, token: &str) -> Result<()> {
        if !well_formed(token) {
            return Ok(());
        }
        sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
            .bind(key_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every session of a user except `keep`'s (the one that changed the password);
    /// returns how many ended.
    #[tracing::instrument(skip_all, fields(company = company.0, user = user.0))]
    pub async fn delete_user_web_sessions(
        &self,
        company: CompanyId,
        user: UserId,
        keep: Option<&str>,
    ) -> Result<u64> {
        // No stored hash is empty, so "" keeps nothing.
        let keep = keep.map(key_hash).unwrap_or_default();
        let r = sqlx::query(
            "DELETE FROM web_sessions WHERE company_id = $1 AND user_id = $2 \
             AND token_hash <> $3",
        )
        .bind(company.0)
        .bind(user.0)
        .bind(keep)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Remembers the language a user chose; `NotFound` for a user of another company.
    #[tracing::instrument(skip(self))]
    pub async fn set_user_language(
        &self,
        company: CompanyId,
        user: UserId,
        language: Language,
    ) -> Result<()> {
        let r = sqlx::query(
            "UPDATE users SET language = $3, updated_at = $4 WHERE company_id = $1 AND id = $2",
        )
        .bind(company.0)
        .bind(user.0)
        .bind(language.as_str())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Until when (unix ms) signing in as `login` from `address` is locked, if either is
    /// locked now (the later of the two).
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn sign_in_locked(
        &self,
        company: CompanyId,
        login: &str,
        address: &str,
    ) -> Result<Option<i64>> {
        let until: Vec<Option<i64>> = sqlx::query_scalar(
            "SELECT locked_until FROM sign_in_failures \
             WHERE ((scope = $1 AND subject = $2) OR (scope = $3 AND subject = $4)) \
             AND locked_until > $5",
        )
        .bind(SCOPE_USER)
        .bind(user_subject(&self.secrets, company, login))
        .bind(SCOPE_ADDRESS)
        .bind(address_subject(&self.secrets, address))
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?;
        Ok(until.into_iter().flatten().max())
    }

    /// Counts one failed sign-in against both the login and the address. Returns until when
    /// (unix ms) signing in is locked if this failure reached a limit or a lock is already
    /// in force (the later of the two), else `None`: with the default policy the 10th wrong
    /// password of a login locks it.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn record_sign_in_failure(
        &self,
        company: CompanyId,
        login: &str,
        address: &str,
        policy: &SignInPolicy,
    ) -> Result<Option<i64>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let by_user = count_failure(
            &mut tx,
            SCOPE_USER,
            &user_subject(&self.secrets, company, login),
            policy.user_failures,
            policy,
            now,
        )
        .await?;
        let by_address = count_failure(
            &mut tx,
            SCOPE_ADDRESS,
            &address_subject(&self.secrets, address),
            policy.address_failures,
            policy,
            now,
        )
        .await?;
        tx.commit().await?;
        if by_user.is_some() || by_address.is_some() {
            tracing::info!(
                user = by_user.is_some(),
                address = by_address.is_some(),
                "sign-in locked after repeated failures"
            );
        }
        Ok(by_user.max(by_address))
    }

    /// Forgets a login's failures after it signed in. The address's count stays: one right
    /// password must not let an address go on guessing other logins.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn clear_sign_in_failures(&self, company: CompanyId, login: &str) -> Result<()> {
        sqlx::query("DELETE FROM sign_in_failures WHERE scope = $1 AND subject = $2")
            .bind(SCOPE_USER)
            .bind(user_subject(&self.secrets, company, login))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes sessions older than [`WEB_SESSION_MAX_AGE`] and failure counts older than a
    /// day whose lock is over; returns how many rows went. Expired sessions are otherwise
    /// deleted only when presented again, so this is for a periodic task.
    #[tracing::instrument(skip_all)]
    pub async fn purge_web_sign_in(&self) -> Result<u64> {
        let now = now_ms();
        let sessions = sqlx::query("DELETE FROM web_sessions WHERE created_at < $1")
            .bind(now.saturating_sub(ms(WEB_SESSION_MAX_AGE)))
            .execute(&self.pool)
            .await?;
        let failures = sqlx::query(
            "DELETE FROM sign_in_failures WHERE first_at < $1 \
             AND (locked_until IS NULL OR locked_until <= $2)",
        )
        .bind(now.saturating_sub(FAILURE_ROW_TTL_MS))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(sessions.rows_affected() + failures.rows_affected())
    }
}

/// Inside a transaction: counts one failure of a subject (a count whose first failure is
/// older than the window starts over) and locks it when the count reaches `limit`. Returns
/// the lock in force after this failure, if any.
async fn count_failure(
    tx: &mut Transaction<'static, Any>,
    scope: &str,
    subject: &str,
    limit: u32,
    policy: &SignInPolicy,
    now: i64,
) -> Result<Option<i64>> {
    let row = sqlx::query(
        "INSERT INTO sign_in_failures (scope, subject, failures, first_at, locked_until) \
         VALUES ($1, $2, 1, $3, NULL) \
         ON CONFLICT (scope, subject) DO UPDATE SET \
           failures = CASE WHEN sign_in_failures.first_at < $4 THEN 1 \
                      ELSE sign_in_failures.failures + 1 END, \
           first_at = CASE WHEN sign_in_failures.first_at < $4 THEN $3 \
                      ELSE sign_in_failures.first_at END \
         RETURNING failures, locked_until",
    )
    .bind(scope)
    .bind(subject)
    .bind(now)
    .bind(now.saturating_sub(ms(policy.window)))
    .fetch_one(&mut **tx)
    .await?;
    let failures: i64 = col(&row, "failures")?;
    let locked: Option<i64> = col(&row, "locked_until")?;
    let locked = locked.filter(|&t| t > now);
    if failures < i64::from(limit) {
        return Ok(locked);
    }
    let until = now.saturating_add(ms(policy.lock_for));
    // A lock already running longer is not shortened.
    if locked.is_some_and(|t| t >= until) {
        return Ok(locked);
    }
    sqlx::query("UPDATE sign_in_failures SET locked_until = $3 WHERE scope = $1 AND subject = $2")
        .bind(scope)
        .bind(subject)
        .bind(until)
        .execute(&mut **tx)
        .await?;
    Ok(Some(until))
}
