//! Redelivering a webhook event: a finished delivery (delivered or failed) of one endpoint
//! queued again, for a receiver that lost or mishandled it.

use ulak_core::model::{CompanyId, WebhookEndpointId};

use crate::db::now_ms;
use crate::{Result, Store, StoreError};

impl Store {
    /// Queues delivery `attempt_id` of the company's endpoint `endpoint` again, due now: the
    /// same event with the same `webhook-id` (a receiver that has it can drop the repeat),
    /// a fresh retry schedule (`attempts` counts from 0 again), its earlier tries kept in
    /// its history. `NotFound` when the endpoint is not the company's or the delivery not
    /// the endpoint's; `WrongState` while the delivery is still pending.
    #[tracing::instrument(skip(self))]
    pub async fn redeliver_webhook_attempt(
        &self,
        company: CompanyId,
        endpoint: WebhookEndpointId,
        attempt_id: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let state: Option<String> = sqlx::query_scalar(
            "SELECT a.state FROM webhook_attempts a \
             JOIN webhook_endpoints e ON e.id = a.endpoint_id \
             WHERE e.company_id = $1 AND a.endpoint_id = $2 AND a.id = $3",
        )
        .bind(company.0)
        .bind(endpoint.0)
        .bind(attempt_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(state) = state else {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        };
        if state == "pending" {
            tx.rollback().await?;
            return Err(StoreError::WrongState(
                "the delivery is still pending".to_owned(),
            ));
        }
        sqlx::query(
            "UPDATE webhook_attempts SET state = 'pending', attempts = 0, next_attempt_at = $2, \
             delivered_at = NULL WHERE id = $1",
        )
        .bind(attempt_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!("a webhook delivery was queued again");
        Ok(())
    }
}
