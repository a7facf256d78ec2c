//! Companies (tenants). Only the system administrator manages them; the server checks that.

use sqlx::any::AnyRow;
use ulak_core::Code;
use ulak_core::model::{Company, CompanyId, ListQuery, NewCompany, Page, ValidationErrors};

use ulak_core::model::search_fold;

use crate::db::{ListSql, col, now_ms, parse};
use crate::{Result, Store, StoreError};

/// Columns of [`company`].
const COLS: &str = "id, name, display_name, country_type, created_at";

/// Maps a row.
fn company(r: &AnyRow) -> Result<Company> {
    Ok(Company::from_stored(
        CompanyId(col(r, "id")?),
        col(r, "name")?,
        col(r, "display_name")?,
        parse(&col::<String>(r, "country_type")?, "companies.country_type")?,
        col(r, "created_at")?,
    ))
}

impl Store {
    /// Creates a company.
    #[tracing::instrument(skip_all, fields(name = %new.name))]
    pub async fn create_company(&self, new: NewCompany) -> Result<Company> {
        let now = now_ms();
        let row = sqlx::query(sql!(
            "INSERT INTO companies (name, display_name, country_type, search_key, created_at, \
             updated_at) VALUES ($1, $2, $3, $5, $4, $4) RETURNING {COLS}"
        ))
        .bind(new.name.as_str())
        .bind(&new.display_name)
        .bind(new.country_type.as_str())
        .bind(now)
        .bind(search_fold(&format!("{} {}", new.name, new.display_name)))
        .fetch_one(&self.pool)
        .await?;
        company(&row)
    }

    /// A company by id.
    #[tracing::instrument(skip(self))]
    pub async fn get_company(&self, id: CompanyId) -> Result<Option<Company>> {
        let row = sqlx::query(sql!("SELECT {COLS} FROM companies WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(company).transpose()
    }

    /// A company by its short name.
    #[tracing::instrument(skip(self))]
    pub async fn get_company_by_name(&self, name: &str) -> Result<Option<Company>> {
        let row = sqlx::query(sql!("SELECT {COLS} FROM companies WHERE name = $1"))
            .bind(name.trim().to_ascii_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(company).transpose()
    }

    /// All companies (system administrator only); `search` matches the name.
    #[tracing::instrument(skip_all)]
    pub async fn list_companies(&self, q: &ListQuery) -> Result<Page<Company>> {
        let mut filters = Vec::new();
        if let Some(p) = crate::db::like_pattern(q, search_fold) {
            filters.push(("search_key LIKE $? ESCAPE '\\'", crate::db::Param::S(p)));
        }
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM companies"),
            company: None,
            filters,
        };
        self.list_page(sql, q, company, |c| c.id.0).await
    }

    /// Renames a company's display name.
    #[tracing::instrument(skip(self, display_name))]
    pub async fn update_company(&self, id: CompanyId, display_name: &str) -> Result<Company> {
        let dn = display_name.trim();
        if dn.is_empty() || dn.chars().count() > 200 {
            return Err(ValidationErrors::single(
                "display_name",
                Code::ValueInvalid,
                "1..=200 characters",
            )
            .into());
        }
        let row = sqlx::query(sql!(
            "UPDATE companies SET display_name = $2, updated_at = $3, \
             search_key = name || ' ' || $4 WHERE id = $1 RETURNING {COLS}"
        ))
        .bind(id.0)
        .bind(dn)
        .bind(now_ms())
        .bind(search_fold(dn))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(company)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }
}
