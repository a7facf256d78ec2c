//! Failover: the queued messages of a provider account that is down move to another account
//! of the route that chose them.

use ulak_core::model::{MessageId, ProviderAccountId, RouteId};

use crate::db::now_ms;
use crate::{Result, Store};

/// Messages moved per transaction (a campaign may have a million queued on the account).
const MOVE_CHUNK: i64 = 5_000;

impl Store {
    /// Moves the messages of `route` queued for account `from` to account `to`, with an event
    /// saying why (`reason`, no personal data), and makes them due now. Only `queued` rows
    /// move: a message being submitted is leased (`sending`) and stays with its account, and
    /// one with segments the operator already took is left to finish where it began, so
    /// nothing moved can have reached an operator. Returns the ids moved.
    #[tracing::instrument(skip(self, reason))]
    pub async fn move_queued(
        &self,
        from: ProviderAccountId,
        route: RouteId,
        to: ProviderAccountId,
        reason: &str,
    ) -> Result<Vec<MessageId>> {
        let mut moved = Vec::new();
        loop {
            let now = now_ms();
            let mut tx = self.begin_write().await?;
            // The same row cannot be claimed and moved: both are conditional updates of
            // `state = 'queued'` rows, and the claim's turns it into `sending`.
            let ids: Vec<i64> = sqlx::query_scalar(
                "UPDATE messages SET provider_account_id = $3, \
                 next_attempt_at = CASE WHEN next_attempt_at > $4 THEN $4 ELSE next_attempt_at END \
                 WHERE id IN (SELECT m.id FROM messages m WHERE m.provider_account_id = $1 \
                 AND m.route_id = $2 AND m.state = 'queued' AND NOT EXISTS \
                 (SELECT 1 FROM message_parts p WHERE p.message_id = m.id) \
                 ORDER BY m.id LIMIT $5) AND state = 'queued' AND provider_account_id = $1 \
                 RETURNING id",
            )
            .bind(from.0)
            .bind(route.0)
            .bind(to.0)
            .bind(now)
            .bind(MOVE_CHUNK)
            .fetch_all(&mut *tx)
            .await?;
            if ids.is_empty() {
                tx.rollback().await?;
                break;
            }
            let detail = format!(
                "moved from provider account {} to {} by route {}: {reason}",
                from.0, to.0, route.0
            );
            // Ids come from the database: safe to inline; the detail is bound once.
            let values: Vec<String> = ids
                .iter()
                .map(|id| format!("({id}, 'queued', $1, {now})"))
                .collect();
            let values = values.join(",");
            sqlx::query(sql!(
                "INSERT INTO message_events (message_id, state, detail, at) VALUES {values}"
            ))
            .persistent(false)
            .bind(&detail)
            .execute(&mut *tx)
            .await?;
            crate::signal::announce_all(&mut tx, self.backend, &[to.0]).await?;
            tx.commit().await?;
            self.queued_for(Some(to.0));
            let n = ids.len();
            moved.extend(ids.into_iter().map(MessageId));
            if i64::try_from(n).unwrap_or(i64::MAX) < MOVE_CHUNK {
                break;
            }
        }
        Ok(moved)
    }
}
