//! One way to run a statement inside a write transaction on either kind of connection: a
//! sqlx transaction (PostgreSQL, SQLite in memory) or the SQLite writer thread's own
//! (decision 0010). Rules written once against [`Exec`] run on both; on the thread they run
//! in place, never waiting ([`crate::sqlite_writer::ready`]), so a whole batch of the
//! engine's writes is one hop to the thread instead of a hop for every statement and for
//! every fifty rows.
//!
//! Statements use `$n` placeholders, as everywhere in the store. A text known at compile
//! time is kept prepared by both connections; one built at run time (ids inlined) is
//! prepared for its one use. A statement over a list is built by [`over_list`]: the list
//! inlined on PostgreSQL, bound as one JSON array on SQLite, whose text is then the same for
//! every list and stays prepared (preparing such statements, triggers and all, again for
//! each batch was about 8% of the writer thread's time).

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Result, StoreError};

/// A statement's text.
pub(crate) enum Sql {
    /// Known at compile time: kept prepared.
    Kept(&'static str),
    /// Built at run time: prepared for this one use.
    Once(String),
    /// Built at run time in one of a few texts ([`over_list`]): kept prepared.
    Shaped(String),
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
    /// A list of integers, bound as one JSON array ([`over_list`]).
    Ints(&'a [i64]),
    /// A list of texts, bound as one JSON array ([`over_list`]).
    Texts(&'a [&'a str]),
}

impl Arg<'_> {
    /// A list's JSON array; `None` for a single value.
    fn json(&self) -> Option<String> {
        match self {
            Arg::Ints(v) => Some(format!("[{}]", crate::db::int_list(v.iter().copied()))),
            Arg::Texts(v) => Some(serde_json::Value::from(v.to_vec()).to_string()),
            _ => None,
        }
    }
}

/// `sql` over a list, `{list}` in it standing for the list's values (an `IN ({list})`),
/// `args` its other values. On PostgreSQL the values are written into the text (by
/// `inline`, which may bind some after `args` and adds them), as the planner plans best
/// for a list it sees; on SQLite the list is one more value, a JSON array read by
/// `json_each`, so the text never changes and stays prepared.
pub(crate) fn over_list<'a>(
    on_postgres: bool,
    sql: &str,
    list: Arg<'a>,
    args: &[Arg<'a>],
    inline: impl FnOnce() -> (String, Vec<Arg<'a>>),
) -> (Sql, Vec<Arg<'a>>) {
    let mut all = args.to_vec();
    if on_postgres {
        let (text, more) = inline();
        all.extend(more);
        return (Sql::Once(sql.replace("{list}", &text)), all);
    }
    all.push(list);
    let read = format!("SELECT value FROM json_each(${})", all.len());
    (Sql::Shaped(sql.replace("{list}", &read)), all)
}

/// [`over_list`] for ids from the database, safe to inline.
pub(crate) fn over_ids<'a>(
    on_postgres: bool,
    sql: &str,
    ids: &'a [i64],
    args: &[Arg<'a>],
) -> (Sql, Vec<Arg<'a>>) {
    over_list(on_postgres, sql, Arg::Ints(ids), args, || {
        (crate::db::int_list(ids.iter().copied()), Vec::new())
    })
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
        Sql::Shaped(s) => sqlx::query(sqlx::AssertSqlSafe(s)),
    };
    for a in args {
        q = match *a {
            Arg::Int(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
            Arg::NoInt => q.bind(None::<i64>),
            Arg::NoText => q.bind(None::<&str>),
            Arg::Ints(_) | Arg::Texts(_) => q.bind(a.json()),
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
    /// Runs `f` on `sql` prepared (kept in the connection's cache unless built for one use,
    /// which would push the kept ones out) with `args` bound by name:
    /// `$n` takes the n-th, wherever it first appears.
    fn with<T>(
        &self,
        sql: Sql,
        args: &[Arg<'_>],
        f: impl FnOnce(&mut rusqlite::Statement<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut st = match &sql {
            Sql::Kept(s) => self.0.prepare_cached(s)?,
            Sql::Shaped(s) => self.0.prepare_cached(s)?,
            Sql::Once(s) => {
                let mut st = self.0.prepare(s)?;
                bind(&mut st, args)?;
                return f(&mut st);
            }
        };
        bind(&mut st, args)?;
        f(&mut st)
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
            Arg::Ints(_) | Arg::Texts(_) => st.raw_bind_parameter(p, arg.json())?,
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

    /// A statement over a list has one text on SQLite, whatever the list: the thread
    /// prepares it once and runs it for lists of any length and content (texts with quotes
    /// too). On PostgreSQL the ids are written into a text for one use.
    #[test]
    fn a_list_statement_is_prepared_once_for_every_list() {
        let mut conn = table();
        let tx = conn.transaction().unwrap();
        let mut on = OnThread(&tx);
        for (n, s) in [(1, "bir"), (2, "it's"), (3, "üç"), (4, "dört")] {
            ready(on.exec(
                "INSERT INTO t (n, s) VALUES ($1, $2)".into(),
                &[n.into(), s.into()],
            ))
            .unwrap()
            .unwrap();
        }
        let sql = "SELECT n FROM t WHERE m IS NULL AND n IN ({list}) AND n > $1 ORDER BY n";
        let mut texts = Vec::new();
        for (ids, above, want) in [
            (&[1_i64, 3, 4][..], 1, &[3_i64, 4][..]),
            (&[2][..], 0, &[2][..]),
            (&[][..], 0, &[][..]),
        ] {
            let (q, args) = over_ids(false, sql, ids, &[Arg::Int(above)]);
            let Sql::Shaped(text) = &q else {
                panic!("a SQLite list statement is kept prepared")
            };
            texts.push(text.clone());
            let got: Vec<(i64,)> = ready(on.rows(q, &args)).unwrap().unwrap();
            let got: Vec<i64> = got.into_iter().map(|(n,)| n).collect();
            assert_eq!(got, want);
        }
        texts.dedup();
        assert_eq!(texts.len(), 1, "one text: {texts:?}");
        let runs = tx
            .prepare_cached(&texts[0])
            .unwrap()
            .get_status(rusqlite::StatementStatus::Run);
        assert_eq!(runs, 3, "the one prepared statement ran for each list");
        let names = ["it's", "üç", "yok"];
        let (q, args) = over_list(
            false,
            "SELECT n FROM t WHERE s IN ({list}) ORDER BY n",
            Arg::Texts(&names),
            &[],
            || unreachable!("SQLite binds the list"),
        );
        let got: Vec<(i64,)> = ready(on.rows(q, &args)).unwrap().unwrap();
        assert_eq!(got, [(2,), (3,)]);
        let (q, args) = over_ids(true, sql, &[5, 6], &[Arg::Int(0)]);
        assert!(matches!(&q, Sql::Once(t) if t.contains("IN (5,6)")));
        assert_eq!(args.len(), 1);
    }
}
