//! Leases of a node that restarted: its previous run died holding them, so they need not
//! run out before the messages go back to the queue.

use ulak_core::model::{MessageId, MessageState};

use crate::db::{int_list, now_ms};
use crate::{Result, Store};

impl Store {
    /// Puts back in the queue every message that `owner` (this node, in a previous run) had
    /// claimed and not recorded. Call it once when the node starts, before it claims
    /// anything: those messages were in flight when it stopped, so they may reach the
    /// operator twice (at most that many). Returns how many.
    #[tracing::instrument(skip(self))]
    pub async fn requeue_leases_of(&self, owner: &str) -> Result<u64> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let reason = "requeued: the node restarted while it was being submitted";
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE messages SET state = 'queued', state_at = $1, lease_owner = NULL, \
             lease_until = NULL, state_reason = $3 \
             WHERE state = 'sending' AND lease_owner = $2 RETURNING id",
        )
        .bind(now)
        .bind(owner)
        .bind(reason)
        .fetch_all(&mut *tx)
        .await?;
        for id in &ids {
            sqlx::query(
                "INSERT INTO message_events (message_id, state, detail, at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(MessageState::Queued.as_str())
            .bind(reason)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Gives back claimed messages that were never submitted (a worker stopping with a
    /// batch it had claimed ahead): they return to the queue as they were, the attempt not
    /// counted. Returns how many.
    #[tracing::instrument(skip_all, fields(messages = ids.len()))]
    pub async fn release_claims(&self, owner: &str, ids: &[MessageId]) -> Result<u64> {
        let mut released = 0;
        for chunk in ids.chunks(1000) {
            // Ids come from the database: safe to inline.
            let list = int_list(chunk.iter().map(|m| m.0));
            let done = sqlx::query(sql!(
                "UPDATE messages SET state = 'queued', lease_owner = NULL, lease_until = NULL, \
                 attempts = attempts - 1 \
                 WHERE state = 'sending' AND lease_owner = $1 AND id IN ({list})"
            ))
            .persistent(false)
            .bind(owner)
            .execute(&self.writer)
            .await?;
            released += done.rows_affected();
        }
        Ok(released)
    }
}
