//! One way to run a statement inside a write transaction on either kind of connection: a
//! sqlx transaction (PostgreSQL, SQLite in memory) or the SQLite writer thread's own
//! (decision 0010). Rules written once against [`Exec`] run on both; on the thread they run
//! in place, never waiting ([`crate::sqlite_writer::ready`]), so a whole batch of the
//! engine's writes is one hop to the thread instead of a hop for every statement and for
//! every fifty rows.
//!
//! Statements use `$n` placeholders, as everywhere in the store. A text known at compile
//! time is kept prepared by both connections; one built at run time (ids inlined) is
//! prepared for its one use.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Result, StoreError};

/// A statement's text.
pub(crate) enum Sql {
    /// Known at compile time: kept prepared.
    Kept(&'static str),
    /// Built at run time: prepared for this one use.
    Once(String),
}

impl From<&'static str> for Sql {
    fn from(s: &'static str) -> Self {
        Sql::Kept(s)
    }
}

impl From<String> for Sql {
    fn from(s: String) -> Self {
        Sql::Once(s)
    }
}

/// A value bound to a placeholder. A null keeps its type: PostgreSQL types every
/// parameter, and a text column refuses an integer null.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    /// An integer.
    Int(i64),
    /// A text.
    Text(&'a str),
    /// A null integer.
    NoInt,
    /// A null text.
    NoText,
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v)
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Arg::NoInt, Arg::Int)
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Arg::NoText, Arg::Text)
    }
}

impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().into()
    }
}

/// A column's value, read by position from either connection's row.
pub(crate) trait Col: Sized {
    /// From a sqlx row.
    fn any(r: &AnyRow, i: usize) -> Result<Self>;
    /// From a rusqlite row.
    fn lite(r: &rusqlite::Row<'_>, i: usize) -> Result<Self>;
}

macro_rules! col {
    ($($t:ty),*) => {$(
        impl Col for $t {
            fn any(r: &AnyRow, i: usize) -> Result<Self> {
                r.try_get(i).map_err(StoreError::from_sqlx)
            }
            fn lite(r: &rusqlite::Row<'_>, i: usize) -> Result<Self> {
                Ok(r.get(i)?)
            }
        }
    )*};
}
col!(i64, Option<i64>, String, Option<String>);

/// A row's columns, in the statement's order.
pub(crate) trait Cols: Sized {
    /// From a sqlx row.
    fn any(r: &AnyRow) -> Result<Self>;
    /// From a rusqlite row.
    fn lite(r: &rusqlite::Row<'_>) -> Result<Self>;
}

macro_rules! cols {
    ($(($($t:ident $i:tt),+)),*) => {$(
        impl<$($t: Col),+> Cols for ($($t,)+) {
            fn any(r: &AnyRow) -> Result<Self> {
                Ok(($($t::any(r, $i)?,)+))
            }
            fn lite(r: &rusqlite::Row<'_>) -> Result<Self> {
                Ok(($($t::lite(r, $i)?,)+))
            }
        }
    )*};
}
cols!(
    (A 0),
    (A 0, B 1),
    (A 0, B 1, C 2),
    (A 0, B 1, C 2, D 3),
    (A 0, B 1, C 2, D 3, E 4),
    (A 0, B 1, C 2, D 3, E 4, F 5),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8)
);

/// A write transaction that runs statements.
pub(crate) trait Exec {
    /// Whether the database is PostgreSQL (advisory locks; see `lock_receipts`).
    fn on_postgres(&self) -> bool;

    /// Runs a statement; the rows it changed.
    async fn exec(&mut self, sql: Sql, args: &[Arg<'_>]) -> Result<u64>;

    /// Runs a statement and reads every row it answers.
    async fn rows<R: Cols>(&mut self, sql: Sql, args: &[Arg<'_>]) -> Result<Vec<R>>;

    /// The first row a statement answers, if any.
    async fn row<R: Cols>(&mut self, sql: Sql, args: &[Arg<'_>]) -> Result<Option<R>> {
        Ok(self.rows(sql, args).await?.into_iter().next())
    }
}

/// A sqlx query of `sql` with `args` bound.
fn bound<'a>(sql: Sql, args: &[Arg<'a>]) -> sqlx::query::Query<'a, Any, sqlx::any::AnyArguments> {
    let mut q = match sql {
        Sql::Kept(s) => sqlx::query(s),
        Sql::Once(s) => sqlx::query(sqlx::AssertSqlSafe(s)).persistent(false),
    };
    for a in args {
        q = match *a {
            Arg::Int(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
            Arg::NoInt => q.bind(None::<i64>),
            Arg::NoText => q.bind(None::<&str>),
        };
    }
    q
}

impl Exec for Transaction<'_, Any> {
    fn on_postgres(&self) -> bool {
        self.backend_name() == "PostgreSQL"
    }

    async fn exec(&mut self, sql: Sql, args: &[Arg<'_>]) -> Result<u64> {
        Ok(bound(sql, args).execute(&mut **self).await?.rows_affected())
    }

    async fn rows<R: Cols>(&mut self, sql: Sql, args: &[Arg<'_>]) -> Result<Vec<R>> {
        let rows = bound(sql, args).fetch_all(&mut **self).await?;
        rows.iter().map(R::any).collect()
    }
}

/// The SQLite writer thread's transaction.
pub(crate) struct OnThread<'c>(pub(crate) &'c rusqlite::Transaction<'c>);

impl OnThread<'_> {
    /// Runs `f` on `sql` prepared (kept in the connection's cache when known at compile
    /// time; a statement used once would push the kept ones out) with `args` bound by name:
    /// `$n` takes the n-th, wherever it first appears.
    fn with<T>(
        &self,
        sql: Sql,
        args: &[Arg<'_>],
        f: impl FnOnce(&mut rusqlite::Statement<'_>) -> Result<T>,
    ) -> Result<T> {
        match &sql {
            Sql::Kept(s) => {
                let mut st = self.0.prepare_cached(s)?;
                bind(&mut st, args)?;
                f(&mut st)
            }
            Sql::Once(s) => {
                let mut st = self.0.prepare(s)?;
                bind(&mut st, args)?;
                f(&mut st)
            }
        }
    }
}

/// Binds `args` to `st`'s `$n` placeholders. Every value must be named and every name must
/// be a `$n` with a value (stricter than sqlx, which binds a missing value as NULL and drops
/// a surplus one): a mismatch fails loudly in the SQLite suite instead of writing a NULL.
fn bind(st: &mut rusqlite::Statement<'_>, args: &[Arg<'_>]) -> Result<()> {
    let mut highest = 0;
    for p in 1..=st.parameter_count() {
        let name = st.parameter_name(p).unwrap_or_default().to_owned();
        let arg = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| {
                highest = highest.max(n);
                args.get(n.checked_sub(1)?)
            })
            .ok_or_else(|| StoreError::Config(format!("no value for {name:?} in a statement")))?;
        match *arg {
            Arg::Int(v) => st.raw_bind_parameter(p, v)?,
            Arg::Text(v) => st.raw_bind_parameter(p, v)?,
            Arg::NoInt | Arg::NoText => st.raw_bind_parameter(p, rusqlite::types::Null)?,
        }
    }
    // Distinct names, all `$n` up to the highest: every value is named once.
    if highest != args.len() || st.parameter_count() != args.len() {
        return Err(StoreError::Config(format!(
            "a statement names {highest} values and is given {}",
            args.len()
        )));
    }
    Ok(())
}

impl Exec for OnThread<'_> {
    fn on_postgres(&self) -> bool {
        false
    }

    async fn exec(&mut self, sql: Sql, args: &[Arg<'_>]) -> Result<u64> {
        self.with(sql, args, |st| Ok(st.raw_execute()? as u64))
    }

    async fn rows<R: Cols>(&mut self, sql: Sql, args: &[Arg<'_>]) -> Result<Vec<R>> {
        self.with(sql, args, |st| {
            let mut rows = st.raw_query();
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(R::lite(r)?);
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::sqlite_writer::ready;

    fn table() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER, s TEXT, m INTEGER, z TEXT);")
            .unwrap();
        conn
    }

    /// `$n` takes the n-th value wherever it first appears in the text, as in sqlx: SQLite
    /// numbers named parameters in the order they first appear.
    #[test]
    fn placeholders_take_their_own_value_in_any_order() {
        let mut conn = table();
        let tx = conn.transaction().unwrap();
        let mut on = OnThread(&tx);
        let args = [Arg::Int(7), Arg::Text("yedi"), Arg::NoInt, Arg::NoText];
        let changed = ready(on.exec(
            "INSERT INTO t (z, m, s, n) VALUES ($4, $3, $2, $1)".into(),
            &args,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(changed, 1);
        let row: Option<(i64, String, Option<i64>, Option<String>)> = ready(
            on.row(
                "SELECT n, s, m, z FROM t WHERE s = $2 AND n = $1"
                    .to_owned()
                    .into(),
                &[Arg::Int(7), Arg::Text("yedi")],
            ),
        )
        .unwrap()
        .unwrap();
        assert_eq!(row, Some((7, "yedi".to_owned(), None, None)));
    }

    /// A statement that names a value it was not given, is given one it does not name, or
    /// names one otherwise than `$n` is an error, not a null or a panic.
    #[test]
    fn values_and_placeholders_must_match() {
        let mut conn = table();
        let tx = conn.transaction().unwrap();
        let mut on = OnThread(&tx);
        for (sql, args) in [
            ("INSERT INTO t (n, s) VALUES ($1, $2)", &[Arg::Int(1)][..]),
            (
                "INSERT INTO t (n) VALUES ($1)",
                &[Arg::Int(1), Arg::Int(2)][..],
            ),
            (
                "INSERT INTO t (n) VALUES ($2)",
                &[Arg::Int(1), Arg::Int(2)][..],
            ),
            ("INSERT INTO t (n) VALUES (:n)", &[Arg::Int(1)][..]),
            ("INSERT INTO t (n) VALUES (?)", &[Arg::Int(1)][..]),
        ] {
            let r = ready(on.exec(sql.into(), args)).unwrap();
            assert!(matches!(r, Err(StoreError::Config(_))), "{sql}: {r:?}");
        }
        let rows: Vec<(i64,)> = ready(on.rows("SELECT n FROM t".into(), &[]))
            .unwrap()
            .unwrap();
        assert!(rows.is_empty(), "nothing was written");
    }

    /// Rows come back in order, each column from its position.
    #[test]
    fn rows_read_every_row_in_order() {
        let mut conn = table();
        let tx = conn.transaction().unwrap();
        let mut on = OnThread(&tx);
        for (n, s) in [(1, "bir"), (2, "iki"), (3, "üç")] {
            ready(on.exec(
                "INSERT INTO t (n, s) VALUES ($1, $2)".into(),
                &[Arg::Int(n), Arg::Text(s)],
            ))
            .unwrap()
            .unwrap();
        }
        let rows: Vec<(String, i64)> = ready(on.rows(
            "SELECT s, n FROM t WHERE n >= $1 ORDER BY n DESC".into(),
            &[Arg::Int(2)],
        ))
        .unwrap()
        .unwrap();
        assert_eq!(rows, [("üç".to_owned(), 3), ("iki".to_owned(), 2)]);
    }
}
