//! Routes: a company's ordered rules choosing the provider account of each message
//! (`ulak_core::model::route`). A route may name only the company's own accounts.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use ulak_core::Code;
use ulak_core::model::{
    CompanyId, MAX_ROUTES, NewRoute, ProviderAccount, ProviderAccountId, Recipient, Route, RouteId,
    RouteMatch, RouteTarget, TrafficClass, ValidationErrors, choose, route_seed,
};

use crate::db::{col, now_ms, parse};
use crate::{Backend, Result, Store, StoreError};

/// Columns of [`route`].
const COLS: &str = "id, company_id, position, recipient_kind, zone, prefix, class, created_at, \
    updated_at";

/// Reads an optional stable name.
fn opt<T: std::str::FromStr>(
    r: &AnyRow,
    name: &'static str,
    what: &'static str,
) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    col::<Option<String>>(r, name)?
        .map(|s| parse(&s, what))
        .transpose()
}

/// Maps a row, without its targets.
fn route(r: &AnyRow) -> Result<Route> {
    Ok(Route {
        id: RouteId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        position: u32::try_from(col::<i64>(r, "position")?).map_err(|_| StoreError::Corrupt {
            what: "routes.position",
        })?,
        matches: RouteMatch {
            recipient_kind: opt(r, "recipient_kind", "routes.recipient_kind")?,
            zone: opt(r, "zone", "routes.zone")?,
            prefix: col(r, "prefix")?,
            class: opt(r, "class", "routes.class")?,
        },
        targets: Vec::new(),
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
    })
}

/// The accounts a company's new messages may go through, and how to pick one per message.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// The company's routes, in order.
    pub routes: Vec<Route>,
    /// Its enabled accounts, by id (the first is the default).
    pub accounts: Vec<ProviderAccount>,
}

impl Routing {
    /// The account a message to `to` in lane `class` goes through, and the route that chose
    /// it: the first route that fits with an enabled account not `down`; when none does (or
    /// the company has no routes), the company's first enabled account, without a route.
    /// `None` when the company has no enabled account.
    pub fn pick(
        &self,
        to: &Recipient,
        class: TrafficClass,
        down: impl Fn(ProviderAccountId) -> bool,
    ) -> Option<(Option<RouteId>, &ProviderAccount)> {
        let account = |id| self.accounts.iter().find(|a| a.id == id);
        let unusable = |id| account(id).is_none() || down(id);
        if let Some(c) = choose(&self.routes, to, class, unusable, route_seed(to)) {
            return account(c.account).map(|a| (Some(c.route), a));
        }
        self.accounts.first().map(|a| (None, a))
    }
}

impl Store {
    /// A company's routes, in order (position, then age).
    #[tracing::instrument(skip(self))]
    pub async fn list_routes(&self, company: CompanyId) -> Result<Vec<Route>> {
        let rows = sqlx::query(sql!(
            "SELECT {COLS} FROM routes WHERE company_id = $1 ORDER BY position, id"
        ))
        .bind(company.0)
        .fetch_all(&self.pool)
        .await?;
        let mut routes = rows.iter().map(route).collect::<Result<Vec<_>>>()?;
        self.fill_targets(&mut routes).await?;
        Ok(routes)
    }

    /// A route by id.
    #[tracing::instrument(skip(self))]
    pub async fn get_route(&self, company: CompanyId, id: RouteId) -> Result<Option<Route>> {
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM routes WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row.as_ref().map(route).transpose()? else {
            return Ok(None);
        };
        let mut one = vec![r];
        self.fill_targets(&mut one).await?;
        Ok(one.pop())
    }

    /// Every route (of any company) that names `account`: the ones its messages may move
    /// along when it is down.
    #[tracing::instrument(skip(self))]
    pub async fn routes_through(&self, account: ProviderAccountId) -> Result<Vec<Route>> {
        let rows = sqlx::query(
            "SELECT r.id, r.company_id, r.position, r.recipient_kind, r.zone, r.prefix, r.class, \
             r.created_at, r.updated_at FROM routes r WHERE r.id IN \
             (SELECT route_id FROM route_targets WHERE provider_account_id = $1) \
             ORDER BY r.id",
        )
        .bind(account.0)
        .fetch_all(&self.pool)
        .await?;
        let mut routes = rows.iter().map(route).collect::<Result<Vec<_>>>()?;
        self.fill_targets(&mut routes).await?;
        Ok(routes)
    }

    /// Reads the targets of `routes`, in their order.
    async fn fill_targets(&self, routes: &mut [Route]) -> Result<()> {
        if routes.is_empty() {
            return Ok(());
        }
        // Ids come from the database: safe to inline.
        let ids: Vec<String> = routes.iter().map(|r| r.id.0.to_string()).collect();
        let ids = ids.join(",");
        let rows = sqlx::query(sql!(
            "SELECT route_id, provider_account_id, weight FROM route_targets \
             WHERE route_id IN ({ids}) ORDER BY route_id, ord"
        ))
        .persistent(false)
        .fetch_all(&self.pool)
        .await?;
        let mut by_route: HashMap<i64, Vec<RouteTarget>> = HashMap::new();
        for r in &rows {
            let weight =
                u32::try_from(col::<i64>(r, "weight")?).map_err(|_| StoreError::Corrupt {
                    what: "route_targets.weight",
                })?;
            by_route
                .entry(col(r, "route_id")?)
                .or_default()
                .push(RouteTarget {
                    account: ProviderAccountId(col(r, "provider_account_id")?),
                    weight,
                });
        }
        for r in routes {
            r.targets = by_route.remove(&r.id.0).unwrap_or_default();
        }
        Ok(())
    }

    /// Adds a route. Its accounts must be the company's (`targets[i].account_id`
    /// `value.unknown` otherwise); at most [`MAX_ROUTES`] per company (`value.too_many`).
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn create_route(&self, company: CompanyId, new: NewRoute) -> Result<Route> {
        let _forget = self.setup_change();
        let mut tx = self.begin_write().await?;
        lock_company(&mut tx, self.backend, company).await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM routes WHERE company_id = $1")
            .bind(company.0)
            .fetch_one(&mut *tx)
            .await?;
        if usize::try_from(n).unwrap_or(usize::MAX) >= MAX_ROUTES {
            let m = format!("a company keeps at most {MAX_ROUTES} routes");
            return Err(ValidationErrors::single("position", Code::ValueTooMany, m).into());
        }
        check_accounts(&mut tx, company, &new).await?;
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO routes (company_id, position, recipient_kind, zone, prefix, class, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(company.0)
        .bind(i64::from(new.position))
        .bind(new.matches.recipient_kind.map(|k| k.as_str()))
        .bind(new.matches.zone.map(|z| z.as_str()))
        .bind(new.matches.prefix.as_deref())
        .bind(new.matches.class.map(|c| c.as_str()))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        write_targets(&mut tx, id, &new).await?;
        tx.commit().await?;
        self.get_route(company, RouteId(id))
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Replaces a route.
    #[tracing::instrument(skip(self, new))]
    pub async fn update_route(
        &self,
        company: CompanyId,
        id: RouteId,
        new: NewRoute,
    ) -> Result<Route> {
        let _forget = self.setup_change();
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE routes SET position = $3, recipient_kind = $4, zone = $5, prefix = $6, \
             class = $7, updated_at = $8 WHERE company_id = $1 AND id = $2",
        )
        .bind(company.0)
        .bind(id.0)
        .bind(i64::from(new.position))
        .bind(new.matches.recipient_kind.map(|k| k.as_str()))
        .bind(new.matches.zone.map(|z| z.as_str()))
        .bind(new.matches.prefix.as_deref())
        .bind(new.matches.class.map(|c| c.as_str()))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        check_accounts(&mut tx, company, &new).await?;
        sqlx::query("DELETE FROM route_targets WHERE route_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        write_targets(&mut tx, id.0, &new).await?;
        tx.commit().await?;
        self.get_route(company, id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Deletes a route (its messages keep its id).
    #[tracing::instrument(skip(self))]
    pub async fn delete_route(&self, company: CompanyId, id: RouteId) -> Result<()> {
        let _forget = self.setup_change();
        let r = sqlx::query("DELETE FROM routes WHERE company_id = $1 AND id = $2")
            .bind(company.0)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// A company's routes and enabled accounts, read now (see [`Routing`]).
    #[tracing::instrument(skip(self))]
    pub async fn routing(&self, company: CompanyId) -> Result<Routing> {
        Ok(Routing {
            routes: self.list_routes(company).await?,
            accounts: self.enabled_accounts(company).await?,
        })
    }
}

/// Serialises route writes of one company on PostgreSQL (the count of routes must hold
/// against a concurrent add); SQLite's write transaction already does. `NotFound` for no
/// such company.
async fn lock_company(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    company: CompanyId,
) -> Result<()> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let found: Option<i64> =
        sqlx::query_scalar(sql!("SELECT id FROM companies WHERE id = $1{lock}"))
            .bind(company.0)
            .fetch_optional(&mut **tx)
            .await?;
    found.map(|_| ()).ok_or(StoreError::NotFound)
}

/// Refuses targets that are not accounts of `company`, each with its field.
async fn check_accounts(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    new: &NewRoute,
) -> Result<()> {
    // Ids are integers: safe to inline.
    let ids: Vec<String> = new
        .targets
        .iter()
        .map(|t| t.account.0.to_string())
        .collect();
    let ids = ids.join(",");
    let owned: Vec<i64> = sqlx::query_scalar(sql!(
        "SELECT id FROM provider_accounts WHERE company_id = $1 AND id IN ({ids})"
    ))
    .persistent(false)
    .bind(company.0)
    .fetch_all(&mut **tx)
    .await?;
    let mut e = ValidationErrors::default();
    for (i, t) in new.targets.iter().enumerate() {
        if !owned.contains(&t.account.0) {
            let f = format!("targets[{i}].account_id");
            e.push(
                f,
                Code::ValueUnknown,
                "not a provider account of this company",
            );
        }
    }
    if e.is_empty() { Ok(()) } else { Err(e.into()) }
}

async fn write_targets(
    tx: &mut Transaction<'static, Any>,
    route: i64,
    new: &NewRoute,
) -> Result<()> {
    // Integers only: safe to inline.
    let values: Vec<String> = new
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| format!("({route}, {i}, {}, {})", t.account.0, t.weight))
        .collect();
    let values = values.join(",");
    sqlx::query(sql!(
        "INSERT INTO route_targets (route_id, ord, provider_account_id, weight) VALUES {values}"
    ))
    .persistent(false)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
