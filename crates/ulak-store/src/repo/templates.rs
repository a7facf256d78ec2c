//! SMS templates; bodies are checked by `TemplateBody::parse` before they get here.

use sqlx::any::AnyRow;
use ulak_core::model::{
    CompanyId, ListQuery, NewTemplate, Page, Template, TemplateBody, TemplateId,
};

use ulak_core::model::search_fold;

use crate::db::{ListSql, Param, col, like_pattern, now_ms};
use crate::{Result, Store, StoreError};

/// Columns of [`template`].
const COLS: &str = "id, company_id, name, body, created_at, updated_at";

/// Maps a row; a stored body that no longer parses is reported as corrupt.
fn template(r: &AnyRow) -> Result<Template> {
    let body: String = col(r, "body")?;
    Ok(Template {
        id: TemplateId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        name: col(r, "name")?,
        body: TemplateBody::parse(&body).map_err(|_| StoreError::Corrupt {
            what: "sms_templates.body",
        })?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
    })
}

impl Store {
    /// Creates a template; the name is unique per company.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn create_template(&self, company: CompanyId, new: NewTemplate) -> Result<Template> {
        let row = sqlx::query(sql!(
            "INSERT INTO sms_templates (company_id, name, body, search_key, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $5 FROM companies WHERE id = $1 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(&new.name)
        .bind(new.body.as_str())
        .bind(search_fold(&new.name))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(template)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// A template by id.
    #[tracing::instrument(skip(self))]
    pub async fn get_template(
        &self,
        company: CompanyId,
        id: TemplateId,
    ) -> Result<Option<Template>> {
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM sms_templates WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(template).transpose()
    }

    /// Replaces a template's name and body.
    #[tracing::instrument(skip(self, new))]
    pub async fn update_template(
        &self,
        company: CompanyId,
        id: TemplateId,
        new: NewTemplate,
    ) -> Result<Template> {
        let row = sqlx::query(sql!(
            "UPDATE sms_templates SET name = $3, body = $4, search_key = $5, updated_at = $6 \
             WHERE company_id = $1 AND id = $2 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(id.0)
        .bind(&new.name)
        .bind(new.body.as_str())
        .bind(search_fold(&new.name))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(template)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Deletes a template.
    #[tracing::instrument(skip(self))]
    pub async fn delete_template(&self, company: CompanyId, id: TemplateId) -> Result<()> {
        let r = sqlx::query("DELETE FROM sms_templates WHERE company_id = $1 AND id = $2")
            .bind(company.0)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Lists templates; `search` matches the name.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_templates(
        &self,
        company: CompanyId,
        q: &ListQuery,
    ) -> Result<Page<Template>> {
        let mut filters = Vec::new();
        if let Some(p) = like_pattern(q, search_fold) {
            filters.push(("search_key LIKE $? ESCAPE '\\'", Param::S(p)));
        }
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM sms_templates"),
            company: Some(company.0),
            filters,
        };
        self.list_page(sql, q, template, |t| t.id.0).await
    }
}
