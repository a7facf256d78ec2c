//! The opt-out list: phones that must never receive commercial messages.

use sqlx::any::AnyRow;
use ulak_core::Msisdn;
use ulak_core::model::{CompanyId, ListQuery, OptOut, OptOutId, Page};

use ulak_core::model::search_fold;

use crate::db::{ListSql, Param, col, like_pattern, now_ms, phone, search_key, string_lists};
use crate::{Result, Store, StoreError};

/// Columns of [`opt_out`].
const COLS: &str = "id, company_id, phone, reason, created_at";

/// Maps a row.
fn opt_out(r: &AnyRow) -> Result<OptOut> {
    Ok(OptOut {
        id: OptOutId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        phone: phone(&col::<String>(r, "phone")?, "opt_outs.phone")?,
        reason: col(r, "reason")?,
        created_at: col(r, "created_at")?,
    })
}

impl Store {
    /// Adds a phone to the opt-out list (`Conflict { field: "phone" }` if listed).
    #[tracing::instrument(skip_all, fields(company = company.0, phone = %phone.masked()))]
    pub async fn add_opt_out(
        &self,
        company: CompanyId,
        phone: &Msisdn,
        reason: Option<String>,
    ) -> Result<OptOut> {
        let row = sqlx::query(sql!(
            "INSERT INTO opt_outs (company_id, phone, reason, search_key, created_at) \
             SELECT $1, $2, $3, $4, $5 FROM companies WHERE id = $1 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(phone.e164())
        .bind(reason)
        .bind(search_key("", &[phone]))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(opt_out)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Whether a phone is on the company's opt-out list.
    #[tracing::instrument(skip_all, fields(company = company.0, phone = %phone.masked()))]
    pub async fn is_opted_out(&self, company: CompanyId, phone: &Msisdn) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM opt_outs WHERE company_id = $1 AND phone = $2",
        )
        .bind(company.0)
        .bind(phone.e164())
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Which of `phones` (E.164) are on the company's opt-out list: one read for a batch of
    /// sends.
    #[tracing::instrument(skip_all, fields(company = company.0, phones = phones.len()))]
    pub async fn opted_out_among(
        &self,
        company: CompanyId,
        phones: &[&str],
    ) -> Result<std::collections::HashSet<String>> {
        let mut conn = self.pool.acquire().await?;
        opted_out_among(&mut conn, company, phones).await
    }

    /// A mark that moves when an opt-out is added (the newest entry's id), so the sending
    /// loop can tell whether the list changed since it last skipped opted-out recipients
    /// (that pass reads every queued message).
    pub async fn opt_outs_mark(&self) -> Result<i64> {
        let n: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM opt_outs")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.unwrap_or(0))
    }

    /// Removes an entry.
    #[tracing::instrument(skip(self))]
    pub async fn delete_opt_out(&self, company: CompanyId, id: OptOutId) -> Result<()> {
        let r = sqlx::query("DELETE FROM opt_outs WHERE company_id = $1 AND id = $2")
            .bind(company.0)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Lists the opt-out list; `search` matches the phone.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_opt_outs(&self, company: CompanyId, q: &ListQuery) -> Result<Page<OptOut>> {
        let mut filters = Vec::new();
        if let Some(p) = like_pattern(q, search_fold) {
            filters.push(("search_key LIKE $? ESCAPE '\\'", Param::S(p)));
        }
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM opt_outs"),
            company: Some(company.0),
            filters,
        };
        self.list_page(sql, q, opt_out, |o| o.id.0).await
    }
}

/// Which of `phones` (E.164) are on the company's opt-out list, read on `conn` (a pooled
/// connection, or an accepting transaction's).
pub(crate) async fn opted_out_among(
    conn: &mut sqlx::AnyConnection,
    company: CompanyId,
    phones: &[&str],
) -> Result<std::collections::HashSet<String>> {
    let mut out = std::collections::HashSet::new();
    for (list, binds) in string_lists(phones, 2) {
        let mut q = sqlx::query_scalar::<_, String>(sql!(
            "SELECT phone FROM opt_outs WHERE company_id = $1 AND phone IN ({list})"
        ))
        .persistent(false)
        .bind(company.0);
        for v in binds {
            q = q.bind(v);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}
