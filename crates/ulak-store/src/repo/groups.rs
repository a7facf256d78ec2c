//! Groups of subscribers (many-to-many).

use sqlx::any::AnyRow;
use ulak_core::model::{CompanyId, Group, GroupId, GroupName, ListQuery, Page, SubscriberId};

use ulak_core::model::search_fold;

use crate::db::{ListSql, Param, col, int_list, like_pattern, now_ms};
use crate::{Result, Store, StoreError};

/// Columns of [`group`].
const COLS: &str = "id, company_id, name, description, created_at";

/// Maps a row.
fn group(r: &AnyRow) -> Result<Group> {
    Ok(Group {
        id: GroupId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        name: GroupName::from_stored(col(r, "name")?),
        description: col(r, "description")?,
        created_at: col(r, "created_at")?,
    })
}

impl Store {
    /// Creates a group; the name is unique per company. `description` is checked with
    /// [`Group::description`].
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn create_group(
        &self,
        company: CompanyId,
        name: GroupName,
        description: Option<String>,
    ) -> Result<Group> {
        let row = sqlx::query(sql!(
            "INSERT INTO subscriber_groups (company_id, name, description, search_key, created_at) \
             SELECT $1, $2, $3, $5, $4 FROM companies WHERE id = $1 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(name.as_str())
        .bind(description)
        .bind(now_ms())
        .bind(search_fold(name.as_str()))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(group)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// A group by id.
    #[tracing::instrument(skip(self))]
    pub async fn get_group(&self, company: CompanyId, id: GroupId) -> Result<Option<Group>> {
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM subscriber_groups WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(group).transpose()
    }

    /// Renames a group and sets its description.
    #[tracing::instrument(skip(self, name, description))]
    pub async fn update_group(
        &self,
        company: CompanyId,
        id: GroupId,
        name: GroupName,
        description: Option<String>,
    ) -> Result<Group> {
        let row = sqlx::query(sql!(
            "UPDATE subscriber_groups SET name = $3, description = $4, search_key = $5 \
             WHERE company_id = $1 AND id = $2 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(id.0)
        .bind(name.as_str())
        .bind(description)
        .bind(search_fold(name.as_str()))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(group)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Deletes a group (its subscribers stay).
    #[tracing::instrument(skip(self))]
    pub async fn delete_group(&self, company: CompanyId, id: GroupId) -> Result<()> {
        let r = sqlx::query("DELETE FROM subscriber_groups WHERE company_id = $1 AND id = $2")
            .bind(company.0)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Lists groups; `search` matches the name.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_groups(&self, company: CompanyId, q: &ListQuery) -> Result<Page<Group>> {
        let mut filters = Vec::new();
        if let Some(p) = like_pattern(q, search_fold) {
            filters.push(("search_key LIKE $? ESCAPE '\\'", Param::S(p)));
        }
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM subscriber_groups"),
            company: Some(company.0),
            filters,
        };
        self.list_page(sql, q, group, |g| g.id.0).await
    }

    /// Adds subscribers to a group; existing members are skipped. Returns how many were
    /// added. `NotFound` (and nothing added) if the group or any of the subscribers is not
    /// the company's.
    #[tracing::instrument(skip(self, members), fields(n = members.len()))]
    pub async fn add_group_members(
        &self,
        company: CompanyId,
        group: GroupId,
        members: &[SubscriberId],
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM subscriber_groups WHERE company_id = $1 AND id = $2",
        )
        .bind(company.0)
        .bind(group.0)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
        let mut distinct: Vec<i64> = members.iter().map(|s| s.0).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let mut known = 0i64;
        for chunk in distinct.chunks(500) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let n: i64 = sqlx::query_scalar(sql!(
                "SELECT COUNT(*) FROM subscribers WHERE company_id = $1 AND id IN ({list})"
            ))
            .bind(company.0)
            .fetch_one(&mut *tx)
            .await?;
            known += n;
        }
        if known != distinct.len() as i64 {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
        let mut added = 0;
        for chunk in members.chunks(500) {
            let list = chunk
                .iter()
                .map(|s| s.0.to_string())
                .collect::<Vec<_>>()
                .join(",");
            // The ids are integers formatted by us, so inlining them is safe and saves
            // hundreds of bind parameters.
            let r = sqlx::query(sql!(
                "INSERT INTO group_members (group_id, subscriber_id) \
                 SELECT $1, id FROM subscribers WHERE company_id = $2 AND id IN ({list}) \
                 ON CONFLICT DO NOTHING"
            ))
            .bind(group.0)
            .bind(company.0)
            .execute(&mut *tx)
            .await?;
            added += r.rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Removes subscribers from a group; returns how many were removed (non-members are not
    /// counted). `NotFound` if the group is not the company's, like every other group call.
    #[tracing::instrument(skip(self, members), fields(n = members.len()))]
    pub async fn remove_group_members(
        &self,
        company: CompanyId,
        group: GroupId,
        members: &[SubscriberId],
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM subscriber_groups WHERE company_id = $1 AND id = $2",
        )
        .bind(company.0)
        .bind(group.0)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
        let mut removed = 0;
        for chunk in members.chunks(500) {
            let list = int_list(chunk.iter().map(|s| s.0));
            let r = sqlx::query(sql!(
                "DELETE FROM group_members WHERE group_id = $1 AND subscriber_id IN ({list})"
            ))
            .bind(group.0)
            .execute(&mut *tx)
            .await?;
            removed += r.rows_affected();
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// How many members each of `groups` has, by group id; ids that are not the company's
    /// groups are absent (the send window shows the counts beside its group list).
    #[tracing::instrument(skip_all, fields(company = company.0, n = groups.len()))]
    pub async fn group_member_counts(
        &self,
        company: CompanyId,
        groups: &[GroupId],
    ) -> Result<std::collections::HashMap<i64, i64>> {
        let mut counts = std::collections::HashMap::new();
        for chunk in groups.chunks(500) {
            let list = int_list(chunk.iter().map(|g| g.0));
            let rows = sqlx::query(sql!(
                "SELECT g.id AS id, COUNT(m.subscriber_id) AS n FROM subscriber_groups g \
                 LEFT JOIN group_members m ON m.group_id = g.id \
                 WHERE g.company_id = $1 AND g.id IN ({list}) GROUP BY g.id"
            ))
            .bind(company.0)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                counts.insert(col::<i64>(r, "id")?, col::<i64>(r, "n")?);
            }
        }
        Ok(counts)
    }

    /// The groups a subscriber is in.
    #[tracing::instrument(skip(self))]
    pub async fn subscriber_groups(
        &self,
        company: CompanyId,
        id: SubscriberId,
    ) -> Result<Vec<Group>> {
        let rows = sqlx::query(sql!(
            "SELECT {COLS} FROM subscriber_groups WHERE company_id = $1 AND id IN \
             (SELECT group_id FROM group_members WHERE subscriber_id = $2) ORDER BY id"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(group).collect()
    }
}
