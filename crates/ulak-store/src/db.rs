//! Helpers shared by the repositories: time, row decoding, search patterns and paging.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::AnyRow;
use sqlx::{Row, query::Query};
use ulak_core::Msisdn;
use ulak_core::model::{ListQuery, Page, encode_cursor, search_fold};

use crate::{Result, Store, StoreError};

/// Now in unix milliseconds (the schema's portable timestamp).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Reads a column, naming it in the error.
/// Integers as a comma-separated list for `IN (...)`. Only for values that come from the
/// database or from Rust integers, never from text input: they are inlined, not bound.
pub(crate) fn int_list(ids: impl IntoIterator<Item = i64>) -> String {
    let mut s = String::new();
    for (i, id) in ids.into_iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&id.to_string());
    }
    s
}

/// `s` as an SQL string literal when it is short and made only of characters that need no
/// escaping in either database (letters, digits, space and `_:.,-+/`), else `None` (bind
/// it). Hot multi-row statements inline such values: SQLite looks bound parameters up by
/// name, so a statement's cost grows with the square of its parameter count.
pub(crate) fn plain_literal(s: &str) -> Option<String> {
    let plain = s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" _:.,-+/".contains(&b));
    plain.then(|| format!("'{s}'"))
}

/// `v` as SQL: a literal when plain ([`plain_literal`]), else the placeholder of a new
/// bound value pushed to `binds` (placeholders are numbered after `before` fixed ones).
pub(crate) fn literal_or_bind<'a>(v: &'a str, binds: &mut Vec<&'a str>, before: usize) -> String {
    plain_literal(v).unwrap_or_else(|| {
        binds.push(v);
        format!("${}", before + binds.len())
    })
}

/// Texts for a multi-row statement, each distinct one bound once however many rows use it
/// (one campaign's sender and body repeat in every row); plain ones are inlined
/// ([`plain_literal`]).
pub(crate) struct Interned<'a> {
    /// Placeholders before the first of these.
    before: usize,
    /// The values to bind, in placeholder order.
    values: Vec<&'a str>,
    /// Value → its placeholder number.
    seen: std::collections::HashMap<&'a str, usize>,
}

impl<'a> Interned<'a> {
    /// Empty, numbering its placeholders after `before` fixed ones.
    pub(crate) fn new(before: usize) -> Self {
        Self {
            before,
            values: Vec::new(),
            seen: std::collections::HashMap::new(),
        }
    }

    /// `v` as SQL: a literal when plain, else the placeholder of its one bound value.
    pub(crate) fn sql(&mut self, v: &'a str) -> String {
        if let Some(l) = plain_literal(v) {
            return l;
        }
        let n = *self.seen.entry(v).or_insert_with(|| {
            self.values.push(v);
            self.before + self.values.len()
        });
        format!("${n}")
    }

    /// How many values are bound.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// The values to bind, in placeholder order.
    pub(crate) fn values(&self) -> &[&'a str] {
        &self.values
    }
}

/// `values` as `IN (...)` lists: plain ones inlined ([`plain_literal`]) in long lists, the
/// rest bound in short ones whose placeholders start at `$first`. Each item is (the list's
/// SQL, the values to bind to it in order).
pub(crate) fn string_lists<'a>(values: &[&'a str], first: usize) -> Vec<(String, Vec<&'a str>)> {
    let mut out = Vec::new();
    let mut inline = Vec::new();
    let mut bound = Vec::new();
    for v in values {
        match plain_literal(v) {
            Some(l) => inline.push(l),
            None => bound.push(*v),
        }
    }
    for chunk in inline.chunks(1000) {
        out.push((chunk.join(","), Vec::new()));
    }
    for chunk in bound.chunks(50) {
        out.push((placeholders(first, chunk.len()), chunk.to_vec()));
    }
    out
}

/// `$from, $from+1, …` for `n` bound values.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn col<'r, T>(row: &'r AnyRow, name: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(name).map_err(StoreError::from_sqlx)
}

/// Parses a stored E.164 phone.
pub(crate) fn phone(s: &str, what: &'static str) -> Result<Msisdn> {
    Msisdn::from_e164(s).map_err(|_| StoreError::Corrupt { what })
}

/// Parses a stored enum name.
pub(crate) fn parse<T: std::str::FromStr>(s: &str, what: &'static str) -> Result<T> {
    s.parse().map_err(|_| StoreError::Corrupt { what })
}

/// The folded text ([`search_fold`]) a row is searched by: its name and phone digits (E.164 without `+`,
/// national with trunk 0), so "ayşe", "0532 12" and "90532" all match.
pub(crate) fn search_key(name: &str, phones: &[&Msisdn]) -> String {
    let mut s = search_fold(name);
    for p in phones {
        s.push(' ');
        s.push_str(&p.e164()[1..]);
        s.push_str(" 0");
        s.push_str(p.nsn());
    }
    s
}

/// A `LIKE` pattern for a search, folded by `f` the way the column was; phone-like searches
/// lose their punctuation.
pub(crate) fn like_pattern(q: &ListQuery, f: fn(&str) -> String) -> Option<String> {
    let key = f(q.search_text()?);
    let phone_like = key
        .chars()
        .all(|c| c.is_ascii_digit() || " +()-".contains(c));
    let key: String = if phone_like {
        key.chars().filter(char::is_ascii_digit).collect()
    } else {
        key
    };
    let mut p = String::from("%");
    for c in key.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    Some(p)
}

/// A bound parameter of a dynamically built query.
pub(crate) enum Param {
    /// Integer.
    I(i64),
    /// Text.
    S(String),
}

/// Binds params in order.
pub(crate) fn bind_all<'q>(
    mut q: Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    params: Vec<Param>,
) -> Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for p in params {
        q = match p {
            Param::I(v) => q.bind(v),
            Param::S(v) => q.bind(v),
        };
    }
    q
}

/// About how many bytes of rows one list page carries at most; a page of large rows (e.g.
/// subscribers with many attributes) ends early with a cursor.
pub const PAGE_BYTES: usize = 2 * 1024 * 1024;

/// One list request, built into `SELECT … WHERE company_id = $1 AND id > $2 [filters]
/// ORDER BY id LIMIT n+1` (one extra row tells whether there is a next page).
pub(crate) struct ListSql<'a> {
    /// Columns and table, e.g. `SELECT id, name FROM t`.
    pub select: String,
    /// Company scope (`None` only for the system-wide company list).
    pub company: Option<i64>,
    /// Extra `AND` conditions using `$?` for their one parameter each.
    pub filters: Vec<(&'a str, Param)>,
}

/// The row a write statement returns (`… RETURNING`), once the statement is committed. On
/// PostgreSQL sqlx's `fetch_optional` answers at the first row, before the implicit commit
/// that follows it; a write that clears a cache afterwards would let a read in between keep
/// the old value.
pub(crate) trait FetchCommitted {
    /// The first row of the whole answer (`fetch_all`, which waits for the commit).
    async fn fetch_committed(self, pool: &sqlx::AnyPool) -> Result<Option<AnyRow>>;
}

impl FetchCommitted for Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
    async fn fetch_committed(self, pool: &sqlx::AnyPool) -> Result<Option<AnyRow>> {
        Ok(self.fetch_all(pool).await?.into_iter().next())
    }
}

impl Store {
    /// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: a deferred
    /// transaction that reads first cannot take the write lock once another connection has
    /// written (SQLITE_BUSY without waiting for busy_timeout), so concurrent requests would fail
    /// instead of queueing. PostgreSQL needs nothing special.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            crate::Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            crate::Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Runs a list request and maps rows.
    pub(crate) async fn list_page<T>(
        &self,
        sql: ListSql<'_>,
        q: &ListQuery,
        map: impl Fn(&AnyRow) -> Result<T>,
        id_of: impl Fn(&T) -> i64,
    ) -> Result<Page<T>> {
        self.list_page_weighed(sql, q, map, id_of, |_| 0).await
    }

    /// Runs a list request and maps rows, ending the page early once the rows' `weight`
    /// (about their size in bytes) reaches [`PAGE_BYTES`]: a page holds at least one row,
    /// and rows are read one at a time, so neither the answer nor this call's memory grows
    /// with the page's row limit times the largest row.
    pub(crate) async fn list_page_weighed<T>(
        &self,
        sql: ListSql<'_>,
        q: &ListQuery,
        map: impl Fn(&AnyRow) -> Result<T>,
        id_of: impl Fn(&T) -> i64,
        weight: impl Fn(&T) -> usize,
    ) -> Result<Page<T>> {
        self.list_page_ordered(sql, q, map, id_of, weight, false)
            .await
    }

    /// [`Store::list_page`] newest first (by id, descending): the cursor is then the last
    /// id of the page before, and the next page holds the ids below it.
    pub(crate) async fn list_page_newest<T>(
        &self,
        sql: ListSql<'_>,
        q: &ListQuery,
        map: impl Fn(&AnyRow) -> Result<T>,
        id_of: impl Fn(&T) -> i64,
    ) -> Result<Page<T>> {
        self.list_page_ordered(sql, q, map, id_of, |_| 0, true)
            .await
    }

    async fn list_page_ordered<T>(
        &self,
        sql: ListSql<'_>,
        q: &ListQuery,
        map: impl Fn(&AnyRow) -> Result<T>,
        id_of: impl Fn(&T) -> i64,
        weight: impl Fn(&T) -> usize,
        newest_first: bool,
    ) -> Result<Page<T>> {
        use futures_util::TryStreamExt;
        let limit = usize::try_from(q.effective_limit()).unwrap_or(usize::MAX);
        let (mut text, after) = if newest_first {
            let before = q.after_id()?.unwrap_or(i64::MAX);
            (format!("{} WHERE id < $1", sql.select), before)
        } else {
            let after = q.after_id()?.unwrap_or(0);
            (format!("{} WHERE id > $1", sql.select), after)
        };
        let mut params = vec![Param::I(after)];
        if let Some(c) = sql.company {
            params.push(Param::I(c));
            text.push_str(&format!(" AND company_id = ${}", params.len()));
        }
        for (cond, p) in sql.filters {
            params.push(p);
            text.push_str(" AND ");
            text.push_str(&cond.replace("$?", &format!("${}", params.len())));
        }
        params.push(Param::I(i64::try_from(limit).unwrap_or(i64::MAX) + 1));
        let order = if newest_first { "id DESC" } else { "id" };
        text.push_str(&format!(" ORDER BY {order} LIMIT ${}", params.len()));
        let query = bind_all(sqlx::query(sqlx::AssertSqlSafe(text)), params);
        let mut rows = query.fetch(&self.pool);
        let mut items = Vec::new();
        let mut bytes = 0usize;
        let mut more = false;
        while let Some(row) = rows.try_next().await? {
            // A row beyond the page (by count or by size): there is a next page.
            if items.len() == limit || bytes >= PAGE_BYTES {
                more = true;
                break;
            }
            let t = map(&row)?;
            bytes = bytes.saturating_add(weight(&t));
            items.push(t);
        }
        drop(rows);
        let next_cursor = if more {
            items.last().map(|t| encode_cursor(id_of(t)))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_text_is_inlined() {
        assert_eq!(plain_literal("n12345").as_deref(), Some("'n12345'"));
        assert_eq!(
            plain_literal("operator ids: A1, B2").as_deref(),
            Some("'operator ids: A1, B2'")
        );
        assert_eq!(plain_literal("x'; DROP TABLE messages; --"), None);
        assert_eq!(plain_literal("back\\slash"), None);
        assert_eq!(plain_literal("ümlaut"), None);
        assert_eq!(plain_literal(&"a".repeat(201)), None);
        let lists = string_lists(&["n1", "t'x", "n2"], 3);
        assert_eq!(
            lists,
            vec![
                ("'n1','n2'".to_owned(), vec![]),
                ("$3".to_owned(), vec!["t'x"])
            ]
        );
    }
}
