//! Which of a list of ids the company has: a request that names objects (a campaign's
//! audience) is checked against these before anything is created.

use std::collections::HashSet;

use ulak_core::model::CompanyId;

use crate::db::int_list;
use crate::{Result, Store};

/// A kind of object a request can name by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owned {
    /// A subscriber.
    Subscriber,
    /// A group of subscribers.
    Group,
    /// A customer account.
    CustomerAccount,
}

impl Owned {
    fn table(self) -> &'static str {
        match self {
            Owned::Subscriber => "subscribers",
            Owned::Group => "subscriber_groups",
            Owned::CustomerAccount => "customer_accounts",
        }
    }
}

impl Store {
    /// The ids of `ids` that name no `kind` of `company` (another company's included), each
    /// once, in the order they first appear.
    #[tracing::instrument(skip(self, ids), fields(n = ids.len()))]
    pub async fn missing_ids(
        &self,
        company: CompanyId,
        kind: Owned,
        ids: &[i64],
    ) -> Result<Vec<i64>> {
        let mut missing = Vec::new();
        let mut seen = HashSet::new();
        for chunk in ids.chunks(1000) {
            let distinct: Vec<i64> = chunk.iter().copied().filter(|i| seen.insert(*i)).collect();
            if distinct.is_empty() {
                continue;
            }
            // Integers formatted here: safe to inline, and no bind-parameter limit to mind.
            let list = int_list(distinct.iter().copied());
            let found: HashSet<i64> = sqlx::query_scalar::<_, i64>(sql!(
                "SELECT id FROM {} WHERE company_id = $1 AND id IN ({list})",
                kind.table()
            ))
            .persistent(false)
            .bind(company.0)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .collect();
            missing.extend(distinct.into_iter().filter(|i| !found.contains(i)));
        }
        Ok(missing)
    }
}
