//! Idempotency keys of single sends: a key is remembered for 24 hours with the request's
//! fingerprint and the first answer (status and body), which a repeat gets back exactly —
//! even after the message moved on, or its number opted out.

use sqlx::{Any, Transaction};
use ulak_core::model::{CompanyId, Message, MessageId};

use super::messages::Enqueued;
use crate::db::now_ms;
use crate::{Result, Store, StoreError};

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3600 * 1000;

/// An answer as the first request got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// HTTP status.
    pub status: u16,
    /// The body, exactly.
    pub body: String,
}

/// An idempotency key with the request it was first used for.
#[derive(Clone, Copy)]
pub struct Idempotency<'a> {
    /// The client's key.
    pub key: &'a str,
    /// Fingerprint of the request, computed on its normalized form (a number however
    /// written is the same request).
    pub request_hash: &'a str,
    /// Builds the first answer from the new message; stored in the same transaction.
    pub answer: fn(&Message) -> StoredAnswer,
}

impl std::fmt::Debug for Idempotency<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("request_hash", &self.request_hash)
            .finish_non_exhaustive()
    }
}

/// A key seen within its lifetime: the message it made and the answer it got (absent for
/// keys written before answers were stored).
pub(crate) type Seen = (i64, Option<StoredAnswer>);

/// A live key of a company (`$3`: the oldest creation time still alive).
pub(crate) const LOOKUP: &str = "SELECT request_hash, message_id, answer_status, answer_body FROM idempotency_keys \
     WHERE company_id = $1 AND idem_key = $2 AND created_at > $3";

/// Forgets a key that expired (`$3`: the oldest creation time still alive).
pub(crate) const FORGET_EXPIRED: &str =
    "DELETE FROM idempotency_keys WHERE company_id = $1 AND idem_key = $2 AND created_at <= $3";

/// Remembers a key with its message and answer.
pub(crate) const REMEMBER: &str = "INSERT INTO idempotency_keys (company_id, idem_key, request_hash, message_id, \
     created_at, answer_status, answer_body) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// A row of [`LOOKUP`].
pub(crate) type KeyRow = (String, i64, Option<i64>, Option<String>);

/// What a looked-up key means for a request with `request_hash`: `IdempotencyConflict` if
/// it was used for another request.
pub(crate) fn judge(row: Option<KeyRow>, request_hash: &str) -> Result<Option<Seen>> {
    let Some((hash, message_id, status, body)) = row else {
        return Ok(None);
    };
    if hash != request_hash {
        return Err(StoreError::IdempotencyConflict);
    }
    let answer = match (status.and_then(|s| u16::try_from(s).ok()), body) {
        (Some(status), Some(body)) => Some(StoredAnswer { status, body }),
        _ => None,
    };
    Ok(Some((message_id, answer)))
}

/// Looks `key` up among the live keys of `company` ([`judge`]).
async fn lookup<'c, E>(
    exec: E,
    company: CompanyId,
    key: &str,
    request_hash: &str,
    now: i64,
) -> Result<Option<Seen>>
where
    E: sqlx::Executor<'c, Database = Any>,
{
    let row: Option<KeyRow> = sqlx::query_as(LOOKUP)
        .bind(company.0)
        .bind(key)
        .bind(now.saturating_sub(IDEMPOTENCY_TTL_MS))
        .fetch_optional(exec)
        .await?;
    judge(row, request_hash)
}

/// Inside an accepting transaction: forgets `key` if it expired, then looks it up.
pub(crate) async fn seen(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    idem: &Idempotency<'_>,
    now: i64,
) -> Result<Option<Seen>> {
    sqlx::query(FORGET_EXPIRED)
        .bind(company.0)
        .bind(idem.key)
        .bind(now.saturating_sub(IDEMPOTENCY_TTL_MS))
        .execute(&mut **tx)
        .await?;
    lookup(&mut **tx, company, idem.key, idem.request_hash, now).await
}

/// Inside the accepting transaction: remembers `key` with the new message and its answer.
pub(crate) async fn remember(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    idem: &Idempotency<'_>,
    message: &Message,
    now: i64,
) -> Result<StoredAnswer> {
    let answer = (idem.answer)(message);
    sqlx::query(REMEMBER)
        .bind(company.0)
        .bind(idem.key)
        .bind(idem.request_hash)
        .bind(message.id.0)
        .bind(now)
        .bind(i64::from(answer.status))
        .bind(&answer.body)
        .execute(&mut **tx)
        .await?;
    Ok(answer)
}

impl Store {
    /// The replay of a key seen in the last 24 hours with the same request (`None` if the key
    /// is new, `IdempotencyConflict` if it was used for another request). Read before a
    /// request is checked, so a repeat gets the first answer even when the request would
    /// now be refused (the number opted out since, say).
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn idempotent_replay(
        &self,
        company: CompanyId,
        key: &str,
        request_hash: &str,
    ) -> Result<Option<Enqueued>> {
        match lookup(&self.pool, company, key, request_hash, now_ms()).await? {
            None => Ok(None),
            Some(seen) => self.replayed(company, seen).await.map(Some),
        }
    }

    /// The answer of a replay: the stored one, with the message as it is now.
    pub(crate) async fn replayed(&self, company: CompanyId, seen: Seen) -> Result<Enqueued> {
        let (id, answer) = seen;
        let message = self
            .get_message(company, MessageId(id))
            .await?
            .ok_or(StoreError::NotFound)?
            .message;
        Ok(Enqueued {
            message,
            replayed: true,
            answer,
        })
    }
}
