//! Mobile subscribers.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use ulak_core::model::{
    Attributes, CompanyId, Consent, ListQuery, NewSubscriber, Page, Subscriber, SubscriberId,
    SubscriberPatch,
};
use ulak_core::{Msisdn, Tckn};

use ulak_core::model::search_fold;

use crate::db::{ListSql, Param, col, like_pattern, now_ms, parse, phone, search_key};
use crate::{Result, Store, StoreError};

/// Columns of [`subscriber`].
pub(crate) const COLS: &str =
    "id, company_id, name, phone, tckn, attributes, consent, created_at, updated_at";

/// Serialises attributes for the TEXT column.
pub(crate) fn attrs_json(a: &Attributes) -> String {
    // A map of strings always serialises; the fallback is only for the type system.
    serde_json::to_string(a.as_map()).unwrap_or_else(|_| "{}".into())
}

/// About what a row costs beside its texts (ids, phone, times, JSON punctuation), for
/// bounding list pages by size.
pub(crate) const ROW_BYTES: usize = 160;

/// About the size of attributes as JSON, for bounding list pages by size.
pub(crate) fn attrs_bytes(a: &Attributes) -> usize {
    a.as_map().iter().map(|(k, v)| k.len() + v.len() + 6).sum()
}

/// Reads the attributes column.
pub(crate) fn attrs(r: &AnyRow, what: &'static str) -> Result<Attributes> {
    let s: String = col(r, "attributes")?;
    serde_json::from_str::<BTreeMap<String, String>>(&s)
        .map(Attributes::from_stored)
        .map_err(|_| StoreError::Corrupt { what })
}

/// Maps a row.
pub(crate) fn subscriber(r: &AnyRow) -> Result<Subscriber> {
    let tckn: Option<String> = col(r, "tckn")?;
    Ok(Subscriber {
        id: SubscriberId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        name: col(r, "name")?,
        phone: phone(&col::<String>(r, "phone")?, "subscribers.phone")?,
        tckn: tckn
            .map(|t| {
                Tckn::parse(&t).map_err(|_| StoreError::Corrupt {
                    what: "subscribers.tckn",
                })
            })
            .transpose()?,
        attributes: attrs(r, "subscribers.attributes")?,
        consent: parse::<Consent>(&col::<String>(r, "consent")?, "subscribers.consent")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
    })
}

impl Store {
    /// Creates a subscriber; the phone is unique per company (`Conflict { field: "phone" }`).
    #[tracing::instrument(skip_all, fields(company = company.0, phone = %new.phone.masked()))]
    pub async fn create_subscriber(
        &self,
        company: CompanyId,
        new: NewSubscriber,
    ) -> Result<Subscriber> {
        let now = now_ms();
        let row = sqlx::query(sql!(
            "INSERT INTO subscribers (company_id, name, phone, tckn, attributes, consent, \
             search_key, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $8 FROM companies WHERE id = $1 \
             RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(&new.name)
        .bind(new.phone.e164())
        .bind(new.tckn.map(|t| t.as_string()))
        .bind(attrs_json(&new.attributes))
        .bind(new.consent.as_str())
        .bind(search_key(&new.name, &[&new.phone]))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(subscriber)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// A subscriber by id.
    #[tracing::instrument(skip(self))]
    pub async fn get_subscriber(
        &self,
        company: CompanyId,
        id: SubscriberId,
    ) -> Result<Option<Subscriber>> {
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM subscribers WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(subscriber).transpose()
    }

    /// A subscriber by phone.
    #[tracing::instrument(skip_all, fields(company = company.0, phone = %phone.masked()))]
    pub async fn get_subscriber_by_phone(
        &self,
        company: CompanyId,
        phone: &Msisdn,
    ) -> Result<Option<Subscriber>> {
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM subscribers WHERE company_id = $1 AND phone = $2"
        ))
        .bind(company.0)
        .bind(phone.e164())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(subscriber).transpose()
    }

    /// Changes a subscriber.
    #[tracing::instrument(skip(self, patch))]
    pub async fn update_subscriber(
        &self,
        company: CompanyId,
        id: SubscriberId,
        patch: SubscriberPatch,
    ) -> Result<Subscriber> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM subscribers WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut s = subscriber(&row)?;
        if let Some(v) = patch.name {
            s.name = v;
        }
        if let Some(v) = patch.phone {
            s.phone = v;
        }
        if let Some(v) = patch.tckn {
            s.tckn = v;
        }
        if let Some(v) = patch.attributes {
            s.attributes = v;
        }
        if let Some(v) = patch.consent {
            s.consent = v;
        }
        let row = sqlx::query(sql!(
            "UPDATE subscribers SET name = $3, phone = $4, tckn = $5, attributes = $6, \
             consent = $7, search_key = $8, updated_at = $9 \
             WHERE company_id = $1 AND id = $2 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(id.0)
        .bind(&s.name)
        .bind(s.phone.e164())
        .bind(s.tckn.map(|t| t.as_string()))
        .bind(attrs_json(&s.attributes))
        .bind(s.consent.as_str())
        .bind(search_key(&s.name, &[&s.phone]))
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        subscriber(&row)
    }

    /// Deletes a subscriber (and its group memberships).
    #[tracing::instrument(skip(self))]
    pub async fn delete_subscriber(&self, company: CompanyId, id: SubscriberId) -> Result<()> {
        let r = sqlx::query("DELETE FROM subscribers WHERE company_id = $1 AND id = $2")
            .bind(company.0)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Lists subscribers; `search` matches name or phone, `group_id` limits to a group.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_subscribers(
        &self,
        company: CompanyId,
        q: &ListQuery,
    ) -> Result<Page<Subscriber>> {
        let mut filters = Vec::new();
        if let Some(p) = like_pattern(q, search_fold) {
            filters.push(("search_key LIKE $? ESCAPE '\\'", Param::S(p)));
        }
        if let Some(g) = q.group_id {
            filters.push((
                "id IN (SELECT subscriber_id FROM group_members WHERE group_id = $?)",
                Param::I(g.0),
            ));
        }
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM subscribers"),
            company: Some(company.0),
            filters,
        };
        self.list_page_weighed(
            sql,
            q,
            subscriber,
            |s| s.id.0,
            |s| ROW_BYTES + s.name.len() + attrs_bytes(&s.attributes),
        )
        .await
    }

    /// Number of subscribers of a company.
    #[tracing::instrument(skip(self))]
    pub async fn count_subscribers(&self, company: CompanyId) -> Result<i64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM subscribers WHERE company_id = $1")
            .bind(company.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }
}
