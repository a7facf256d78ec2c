//! Users of a company.

use sqlx::any::AnyRow;
use ulak_core::model::{CompanyId, ListQuery, NewUser, Page, Role, User, UserId, UserPatch};

use crate::auth::{hash_password, verify_dummy, verify_password};
use ulak_core::model::fold;

use crate::db::{ListSql, Param, col, like_pattern, now_ms, parse, phone};
use crate::{Backend, Result, Store, StoreError};

/// Columns of [`user`] (never the password hash).
pub(crate) const COLS: &str = "id, company_id, login, display_name, phone, email, role, active, system_admin, created_at, \
     updated_at";

/// Maps a row.
pub(crate) fn user(r: &AnyRow) -> Result<User> {
    let ph: Option<String> = col(r, "phone")?;
    Ok(User {
        id: UserId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        login: User::stored_login(col(r, "login")?),
        display_name: col(r, "display_name")?,
        phone: ph.map(|p| phone(&p, "users.phone")).transpose()?,
        email: col::<Option<String>>(r, "email")?.map(User::stored_email),
        role: parse::<Role>(&col::<String>(r, "role")?, "users.role")?,
        active: col::<i64>(r, "active")? != 0,
        system_admin: col::<i64>(r, "system_admin")? != 0,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
    })
}

impl Store {
    /// Creates a user; the password is hashed with Argon2id.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn create_user(&self, company: CompanyId, new: NewUser) -> Result<User> {
        let hash = hash_password(new.password.expose().to_owned()).await?;
        let now = now_ms();
        let row = sqlx::query(sql!(
            "INSERT INTO users (company_id, login, display_name, phone, email, role, password_hash, \
             created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $8 FROM companies WHERE id = $1 \
             RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(new.login.as_str())
        .bind(new.display_name)
        .bind(new.phone.map(|p| p.e164().to_owned()))
        .bind(new.email.map(|e| e.as_str().to_owned()))
        .bind(new.role.as_str())
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(user)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Makes a user of company `default` a system administrator, or no longer one; any other
    /// company's user is `NotFound` (only `default`'s users may be one). `LastSystemAdmin` for
    /// the server's last active system administrator ([`Store::update_user`]). Whether the
    /// caller may is the caller's check.
    #[tracing::instrument(skip(self))]
    pub async fn set_user_system_admin(
        &self,
        company: CompanyId,
        id: UserId,
        on: bool,
    ) -> Result<User> {
        let mut tx = self.begin_write().await?;
        let admins = self.lock_active_admins(&mut tx, company).await?;
        if !on && admins.last_system(id) {
            tx.rollback().await?;
            return Err(StoreError::LastSystemAdmin);
        }
        let row = sqlx::query(sql!(
            "UPDATE users SET system_admin = $3, updated_at = $4 \
             WHERE company_id = $1 AND id = $2 \
             AND company_id = (SELECT id FROM companies WHERE name = $5) \
             RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(id.0)
        .bind(i64::from(on))
        .bind(now_ms())
        .bind(crate::DEFAULT_COMPANY)
        .fetch_optional(&mut *tx)
        .await?;
        let changed = row
            .as_ref()
            .map(user)
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(changed)
    }

    /// A user by id.
    #[tracing::instrument(skip(self))]
    pub async fn get_user(&self, company: CompanyId, id: UserId) -> Result<Option<User>> {
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM users WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user).transpose()
    }

    /// Checks a login and password; `None` when either is wrong or the user is deactivated
    /// (the caller cannot tell which: each costs the same hash check).
    #[tracing::instrument(skip(self, login, password))]
    pub async fn verify_user_password(
        &self,
        company: CompanyId,
        login: &str,
        password: &str,
    ) -> Result<Option<User>> {
        let login = ulak_core::model::fold(login.trim());
        let row = sqlx::query(sql!(
            "SELECT {COLS}, password_hash FROM users \
             WHERE company_id = $1 AND login = $2 AND active = 1"
        ))
        .bind(company.0)
        .bind(login)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            verify_dummy(password.to_owned()).await?;
            return Ok(None);
        };
        let phc: String = col(&row, "password_hash")?;
        if verify_password(password.to_owned(), phc).await? {
            user(&row).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Changes a user. Deactivating one ends their web sessions. `LastAdmin` when the change
    /// would leave the company without an active administrator
    /// ([`UserPatch::removes_admin`]), `LastSystemAdmin` when it would leave the server
    /// without an active system administrator (who alone opens companies and sells credit
    /// on the web), whoever asks.
    #[tracing::instrument(skip(self, patch))]
    pub async fn update_user(
        &self,
        company: CompanyId,
        id: UserId,
        patch: UserPatch,
    ) -> Result<User> {
        let hash = match &patch.password {
            Some(p) => Some(hash_password(p.expose().to_owned()).await?),
            None => None,
        };
        let flag = |b: bool| i64::from(b);
        let mut tx = self.begin_write().await?;
        let admins = self.lock_active_admins(&mut tx, company).await?;
        let current = sqlx::query(sql!(
            "SELECT {COLS} FROM users WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = current.as_ref().map(user).transpose()? else {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        };
        if patch.removes_admin(&current) {
            let refused = if admins.last(id) {
                Some(StoreError::LastAdmin)
            } else if admins.last_system(id) {
                Some(StoreError::LastSystemAdmin)
            } else {
                None
            };
            if let Some(e) = refused {
                tx.rollback().await?;
                return Err(e);
            }
        }
        let row = sqlx::query(sql!(
            "UPDATE users SET \
               password_hash = COALESCE($3, password_hash), \
               display_name = CASE WHEN $4 = 1 THEN $5 ELSE display_name END, \
               phone = CASE WHEN $6 = 1 THEN $7 ELSE phone END, \
               email = CASE WHEN $8 = 1 THEN $9 ELSE email END, \
               role = COALESCE($10, role), active = COALESCE($12, active), updated_at = $11 \
             WHERE company_id = $1 AND id = $2 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(id.0)
        .bind(hash)
        .bind(flag(patch.display_name.is_some()))
        .bind(patch.display_name.flatten())
        .bind(flag(patch.phone.is_some()))
        .bind(patch.phone.flatten().map(|p| p.e164().to_owned()))
        .bind(flag(patch.email.is_some()))
        .bind(patch.email.flatten().map(|e| e.as_str().to_owned()))
        .bind(patch.role.map(Role::as_str))
        .bind(now_ms())
        .bind(patch.active.map(flag))
        .fetch_optional(&mut *tx)
        .await?;
        let changed = row
            .as_ref()
            .map(user)
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        if patch.active == Some(false) {
            sqlx::query("DELETE FROM web_sessions WHERE company_id = $1 AND user_id = $2")
                .bind(company.0)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// The company's active administrators, locked until the transaction ends (on PostgreSQL
    /// `FOR UPDATE`, in id order so two demotions wait for each other instead of
    /// deadlocking; on SQLite the write transaction already serialises writers). The system
    /// administrators are among them: only active administrators of `default` act as one.
    async fn lock_active_admins(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        company: CompanyId,
    ) -> Result<ActiveAdmins> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE",
            Backend::Sqlite => "",
        };
        let rows: Vec<(i64, i64)> = sqlx::query_as(sql!(
            "SELECT id, system_admin FROM users \
             WHERE company_id = $1 AND role = 'admin' AND active = 1 ORDER BY id {lock}"
        ))
        .bind(company.0)
        .fetch_all(&mut **tx)
        .await?;
        Ok(ActiveAdmins {
            all: rows.iter().map(|r| r.0).collect(),
            system: rows.iter().filter(|r| r.1 != 0).map(|r| r.0).collect(),
        })
    }

    /// Deletes a user; `LastAdmin` for the company's last active administrator,
    /// `LastSystemAdmin` for the server's last active system administrator.
    #[tracing::instrument(skip(self))]
    pub async fn delete_user(&self, company: CompanyId, id: UserId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let admins = self.lock_active_admins(&mut tx, company).await?;
        let refused = if admins.all == [id.0] {
            Some(StoreError::LastAdmin)
        } else if admins.last_system(id) {
            Some(StoreError::LastSystemAdmin)
        } else {
            None
        };
        if let Some(e) = refused {
            tx.rollback().await?;
            return Err(e);
        }
        let r = sqlx::query("DELETE FROM users WHERE company_id = $1 AND id = $2")
            .bind(company.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Lists users; `search` matches the login.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_users(&self, company: CompanyId, q: &ListQuery) -> Result<Page<User>> {
        let mut filters = Vec::new();
        if let Some(p) = like_pattern(q, fold) {
            filters.push(("login LIKE $? ESCAPE '\\'", Param::S(p)));
        }
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM users"),
            company: Some(company.0),
            filters,
        };
        self.list_page(sql, q, user, |u| u.id.0).await
    }
}

/// A company's active administrators (ids), and which of them are system administrators.
struct ActiveAdmins {
    all: Vec<i64>,
    system: Vec<i64>,
}

impl ActiveAdmins {
    /// Whether `id` is the only active administrator left (or none is).
    fn last(&self, id: UserId) -> bool {
        self.all.iter().all(|a| *a == id.0)
    }

    /// Whether `id` is an active system administrator and no other one is left.
    fn last_system(&self, id: UserId) -> bool {
        self.system == [id.0]
    }
}
