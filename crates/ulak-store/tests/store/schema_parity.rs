//! The SQLite and PostgreSQL migration trees must build the same schema: the same tables,
//! columns (name, nullability, a type class), primary keys, unique constraints and indexes
//! (name, table, columns, unique, partial). Both databases are migrated as the store does it
//! and read back from their catalogues, so a migration written for one tree and forgotten (or
//! written differently) in the other fails here, not in production on the other database.

use std::collections::BTreeSet;

use sqlx::{PgPool, Row, SqlitePool};

use crate::helpers::TestDb;

/// The tables the migrator keeps for itself.
const MIGRATOR_TABLE: &str = "_sqlx_migrations";

/// One line per schema fact, comparable between the two databases.
type Facts = BTreeSet<String>;

/// The portable type class of a declared type: what the store may rely on.
fn class(declared: &str) -> String {
    let t = declared.to_ascii_lowercase();
    let c = if t.contains("bool") {
        "boolean"
    } else if t.contains("int") {
        "integer"
    } else if t.contains("char") || t.contains("text") || t.contains("clob") {
        "text"
    } else if t.contains("real") || t.contains("floa") || t.contains("doub") {
        "real"
    } else if t.contains("blob") || t == "bytea" || t.is_empty() {
        "blob-bytea"
    } else {
        // A kind of column this comparison does not know yet: compared as declared.
        return format!("other({t})");
    };
    c.to_owned()
}

fn column_fact(table: &str, column: &str, declared: &str, nullable: bool) -> String {
    let null = if nullable { "NULL" } else { "NOT NULL" };
    format!("table {table}: column {column} {} {null}", class(declared))
}

fn index_fact(table: &str, name: &str, columns: &[String], unique: bool, partial: bool) -> String {
    format!(
        "table {table}: index {name} ({}){}{}",
        columns.join(", "),
        if unique { " unique" } else { "" },
        if partial { " partial" } else { "" }
    )
}

/// Reads the SQLite schema.
async fn sqlite_facts(url: &str) -> Facts {
    let pool = SqlitePool::connect(url).await.expect("sqlite pool");
    let mut facts = Facts::new();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    for table in tables.into_iter().filter(|t| t != MIGRATOR_TABLE) {
        facts.insert(format!("table {table}"));
        let cols = sqlx::query(
            "SELECT name, type, \"notnull\" AS nn, pk FROM pragma_table_info($1) ORDER BY cid",
        )
        .bind(&table)
        .fetch_all(&pool)
        .await
        .expect("columns");
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in &cols {
            let name: String = c.get("name");
            let declared: String = c.get("type");
            let key: i64 = c.get("pk");
            if key > 0 {
                pk.push((key, name.clone()));
            }
            // A primary key column never holds NULL in either database (SQLite's rowid alias
            // included), whatever the catalogue's flag says.
            let nullable = c.get::<i64, _>("nn") == 0 && key == 0;
            facts.insert(column_fact(&table, &name, &declared, nullable));
        }
        pk.sort();
        let pk: Vec<String> = pk.into_iter().map(|(_, n)| n).collect();
        facts.insert(format!("table {table}: primary key ({})", pk.join(", ")));
        let indexes = sqlx::query(
            "SELECT name, \"unique\" AS uq, origin, partial FROM pragma_index_list($1)",
        )
        .bind(&table)
        .fetch_all(&pool)
        .await
        .expect("indexes");
        for ix in indexes {
            let name: String = ix.get("name");
            let origin: String = ix.get("origin");
            let columns: Vec<Option<String>> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&name)
                    .fetch_all(&pool)
                    .await
                    .expect("index columns");
            let columns: Vec<String> = columns
                .into_iter()
                .map(|c| c.unwrap_or_else(|| "<expression>".to_owned()))
                .collect();
            match origin.as_str() {
                // The primary key is compared above.
                "pk" => {}
                // UNIQUE constraints get generated names that differ between the databases.
                "u" => {
                    facts.insert(format!("table {table}: unique ({})", columns.join(", ")));
                }
                _ => {
                    facts.insert(index_fact(
                        &table,
                        &name,
                        &columns,
                        ix.get::<i64, _>("uq") != 0,
                        ix.get::<i64, _>("partial") != 0,
                    ));
                }
            }
        }
    }
    pool.close().await;
    facts
}

/// Reads the PostgreSQL schema (the connection's `search_path` schema).
async fn postgres_facts(url: &str) -> Facts {
    let pool = PgPool::connect(url).await.expect("pg pool");
    let mut facts = Facts::new();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    assert!(
        !tables.is_empty(),
        "no tables in the test schema: is search_path set?"
    );
    for table in tables.iter().filter(|t| *t != MIGRATOR_TABLE) {
        facts.insert(format!("table {table}"));
    }
    let cols = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty, \
         is_nullable::text AS n FROM information_schema.columns \
         WHERE table_schema = current_schema()",
    )
    .fetch_all(&pool)
    .await
    .expect("columns");
    for c in cols {
        let table: String = c.get("t");
        if table == MIGRATOR_TABLE {
            continue;
        }
        facts.insert(column_fact(
            &table,
            &c.get::<String, _>("c"),
            &c.get::<String, _>("ty"),
            c.get::<String, _>("n") == "YES",
        ));
    }
    let indexes = sqlx::query(
        "SELECT t.relname::text AS t, i.relname::text AS name, ix.indisunique AS uq, \
                ix.indisprimary AS pk, ix.indpred IS NOT NULL AS partial, \
                EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = ix.indexrelid \
                        AND k.contype = 'u') AS constraint_unique, \
                ARRAY(SELECT CASE WHEN k.attnum = 0 THEN '<expression>' ELSE a.attname::text END \
                      FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
                      LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                      ORDER BY k.ord) AS cols \
         FROM pg_index ix \
         JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_class i ON i.oid = ix.indexrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema()",
    )
    .fetch_all(&pool)
    .await
    .expect("indexes");
    for ix in indexes {
        let table: String = ix.get("t");
        if table == MIGRATOR_TABLE {
            continue;
        }
        let columns: Vec<String> = ix.get("cols");
        if ix.get::<bool, _>("pk") {
            facts.insert(format!(
                "table {table}: primary key ({})",
                columns.join(", ")
            ));
        } else if ix.get::<bool, _>("constraint_unique") {
            facts.insert(format!("table {table}: unique ({})", columns.join(", ")));
        } else {
            facts.insert(index_fact(
                &table,
                &ix.get::<String, _>("name"),
                &columns,
                ix.get("uq"),
                ix.get("partial"),
            ));
        }
    }
    // A table without a primary key says so, as SQLite's reading does.
    for table in tables.iter().filter(|t| *t != MIGRATOR_TABLE) {
        let prefix = format!("table {table}: primary key (");
        if !facts.iter().any(|f| f.starts_with(&prefix)) {
            facts.insert(format!("{prefix})"));
        }
    }
    pool.close().await;
    facts
}

/// Both trees, migrated as the store does it, give the same schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_migrations_build_the_same_schema() {
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let lite = TestDb::sqlite().await;
    let a = sqlite_facts(&lite.url).await;
    let b = postgres_facts(&pg.url).await;
    lite.finish().await;
    pg.finish().await;
    // The readings themselves must see the schema, or an empty pair would compare equal.
    for facts in [&a, &b] {
        assert!(
            facts.contains("table messages: column state text NOT NULL")
                && facts.contains("table messages: primary key (id)"),
            "{facts:#?}"
        );
    }
    let mut diff = Vec::new();
    for f in a.difference(&b) {
        diff.push(format!("only in SQLite:     {f}"));
    }
    for f in b.difference(&a) {
        diff.push(format!("only in PostgreSQL: {f}"));
    }
    assert!(
        diff.is_empty(),
        "the migration trees differ:\n{}",
        diff.join("\n")
    );
}
