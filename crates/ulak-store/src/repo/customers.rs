//! Customer accounts ("cari hesap").

use sqlx::any::AnyRow;
use ulak_core::Msisdn;
use ulak_core::model::{
    CompanyId, CustomerAccount, CustomerAccountId, CustomerAccountPatch, ListQuery,
    NewCustomerAccount, Page,
};

use super::subscribers::{ROW_BYTES, attrs, attrs_bytes, attrs_json};
use ulak_core::model::search_fold;

use crate::db::{ListSql, Param, col, like_pattern, now_ms, parse, phone, search_key};
use crate::{Result, Store, StoreError};

/// Columns of [`customer`].
const COLS: &str =
    "id, company_id, code, title, kind, phones, balance_minor, attributes, created_at, updated_at";

/// Phones as a JSON array of E.164 strings.
pub(crate) fn phones_json(p: &[Msisdn]) -> String {
    let v: Vec<&str> = p.iter().map(Msisdn::e164).collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}

/// The search key: code, title and phones.
pub(crate) fn key(code: &str, title: &str, phones: &[Msisdn]) -> String {
    let refs: Vec<&Msisdn> = phones.iter().collect();
    search_key(&format!("{code} {title}"), &refs)
}

/// Maps a row.
fn customer(r: &AnyRow) -> Result<CustomerAccount> {
    const W: &str = "customer_accounts.phones";
    let raw: Vec<String> = serde_json::from_str(&col::<String>(r, "phones")?)
        .map_err(|_| StoreError::Corrupt { what: W })?;
    Ok(CustomerAccount {
        id: CustomerAccountId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        code: col(r, "code")?,
        title: col(r, "title")?,
        kind: parse(&col::<String>(r, "kind")?, "customer_accounts.kind")?,
        phones: raw.iter().map(|p| phone(p, W)).collect::<Result<_>>()?,
        balance_minor: col(r, "balance_minor")?,
        attributes: attrs(r, "customer_accounts.attributes")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
    })
}

impl Store {
    /// Creates a customer account; the code is unique per company.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn create_customer_account(
        &self,
        company: CompanyId,
        new: NewCustomerAccount,
    ) -> Result<CustomerAccount> {
        let row = sqlx::query(sql!(
            "INSERT INTO customer_accounts (company_id, code, title, kind, phones, balance_minor, \
             attributes, search_key, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $9 FROM companies WHERE id = $1 \
             RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(&new.code)
        .bind(&new.title)
        .bind(new.kind.as_str())
        .bind(phones_json(&new.phones))
        .bind(new.balance_minor)
        .bind(attrs_json(&new.attributes))
        .bind(key(&new.code, &new.title, &new.phones))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(customer)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// A customer account by id.
    #[tracing::instrument(skip(self))]
    pub async fn get_customer_account(
        &self,
        company: CompanyId,
        id: CustomerAccountId,
    ) -> Result<Option<CustomerAccount>> {
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM customer_accounts WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(customer).transpose()
    }

    /// Changes a customer account.
    #[tracing::instrument(skip(self, patch))]
    pub async fn update_customer_account(
        &self,
        company: CompanyId,
        id: CustomerAccountId,
        patch: CustomerAccountPatch,
    ) -> Result<CustomerAccount> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM customer_accounts WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut c = customer(&row)?;
        if let Some(v) = patch.title {
            c.title = v;
        }
        if let Some(v) = patch.kind {
            c.kind = v;
        }
        if let Some(v) = patch.phones {
            c.phones = v;
        }
        if let Some(v) = patch.balance_minor {
            c.balance_minor = v;
        }
        if let Some(v) = patch.attributes {
            c.attributes = v;
        }
        let row = sqlx::query(sql!(
            "UPDATE customer_accounts SET title = $3, kind = $4, phones = $5, balance_minor = $6, \
             attributes = $7, search_key = $8, updated_at = $9 \
             WHERE company_id = $1 AND id = $2 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(id.0)
        .bind(&c.title)
        .bind(c.kind.as_str())
        .bind(phones_json(&c.phones))
        .bind(c.balance_minor)
        .bind(attrs_json(&c.attributes))
        .bind(key(&c.code, &c.title, &c.phones))
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        customer(&row)
    }

    /// Deletes a customer account.
    #[tracing::instrument(skip(self))]
    pub async fn delete_customer_account(
        &self,
        company: CompanyId,
        id: CustomerAccountId,
    ) -> Result<()> {
        let r = sqlx::query("DELETE FROM customer_accounts WHERE company_id = $1 AND id = $2")
            .bind(company.0)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Lists customer accounts; `search` matches code, title or a phone.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_customer_accounts(
        &self,
        company: CompanyId,
        q: &ListQuery,
    ) -> Result<Page<CustomerAccount>> {
        let mut filters = Vec::new();
        if let Some(p) = like_pattern(q, search_fold) {
            filters.push(("search_key LIKE $? ESCAPE '\\'", Param::S(p)));
        }
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM customer_accounts"),
            company: Some(company.0),
            filters,
        };
        self.list_page_weighed(
            sql,
            q,
            customer,
            |c| c.id.0,
            |c| {
                ROW_BYTES
                    + c.code.len()
                    + c.title.len()
                    + 20 * c.phones.len()
                    + attrs_bytes(&c.attributes)
            },
        )
        .await
    }
}
