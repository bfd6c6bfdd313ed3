//! SQLite preflight: the `pragma_*` table-valued functions (names bound; an unqualified table
//! resolves as SQLite resolves it, a qualified one in that attached database) and a prepare of
//! every statement. Column types are not checked: SQLite's type affinity stores any value.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]

use sqlx::sqlite::SqliteConnection;
use sqlx::SqlitePool;

use super::{
    catalog_context, check_key_types, covers_exactly_key, missing_column, missing_table,
    no_required_column_left_out, no_unique_index, prepare_all, same_ignore_case, KeyClass,
    KeyProbe, KeySide, TableName,
};
use crate::coerce;
use crate::definition::{Definition, Engine, Statements};
use crate::engine::sqlite::SqliteEngine;
use crate::error::Error;

const ENGINE: Engine = Engine::Sqlite;

/// Whether an attached database of that name exists (`main`, `temp`, or attached).
const SCHEMA_SQL: &str = "SELECT count(*) FROM pragma_database_list WHERE name = ?1 COLLATE NOCASE";

/// The table's columns and their position in the primary key (0 when not in it). A NULL schema
/// searches the databases in SQLite's own order.
const COLUMNS_SQL: &str = "SELECT name, pk, type, \
       \"notnull\" = 1 AND dflt_value IS NULL \
       AND NOT (pk = 1 AND upper(type) = 'INTEGER' \
         AND (SELECT count(*) FROM pragma_table_info(?1, ?2) WHERE pk > 0) = 1) \
     FROM pragma_table_info(?1, ?2) ORDER BY cid";

/// Unique, non-partial indexes (those created by UNIQUE and PRIMARY KEY constraints included).
const INDEXES_SQL: &str = "SELECT name FROM pragma_index_list(?1, ?2) \
     WHERE \"unique\" = 1 AND partial = 0 ORDER BY seq";

/// An index's key columns in order; an expression part has a NULL name.
const INDEX_COLUMNS_SQL: &str = "SELECT name FROM pragma_index_info(?1, ?2) ORDER BY seqno";

/// Checks the target of `def` on SQLite and prepares every statement; writes nothing.
pub(crate) async fn check_sqlite(
    pool: &SqlitePool,
    def: &'static Definition,
    stmts: &'static Statements,
) -> Result<(), Error> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| Error::database(catalog_context(ENGINE, def, "opening a connection"), e))?;
    check_schema(&mut conn, def).await?;
    let filled = |stmt| coerce::fill::<SqliteEngine>(def, stmt, &[]).map(|f| f.sql);
    prepare_all::<sqlx::Sqlite>(&mut conn, ENGINE, def, stmts, &filled).await
}

async fn check_schema(conn: &mut SqliteConnection, def: &'static Definition) -> Result<(), Error> {
    let table = TableName::parse(def.table);
    let lookup = |what: &'static str| {
        move |e: sqlx::Error| Error::database(catalog_context(ENGINE, def, what), e)
    };

    if let Some(schema) = table.schema {
        let attached: i64 = sqlx::query_scalar(SCHEMA_SQL)
            .bind(schema)
            .fetch_one(&mut *conn)
            .await
            .map_err(lookup("listing the attached databases"))?;
        if attached == 0 {
            return Err(missing_table(ENGINE, def));
        }
    }

    let columns: Vec<(String, i64, String, bool)> = sqlx::query_as(COLUMNS_SQL)
        .bind(table.name)
        .bind(table.schema)
        .fetch_all(&mut *conn)
        .await
        .map_err(lookup("reading the columns"))?;
    if columns.is_empty() {
        return Err(missing_table(ENGINE, def));
    }
    for column in def.columns {
        if !columns
            .iter()
            .any(|(name, ..)| same_ignore_case(name, column.column))
        {
            return Err(missing_column(def, column));
        }
    }
    let required: Vec<String> = columns
        .iter()
        .filter(|c| c.3)
        .map(|c| c.0.clone())
        .collect();
    no_required_column_left_out(def, &required, same_ignore_case)?;
    let columns: Vec<(String, i64, String)> = columns
        .into_iter()
        .map(|(name, pk, ty, _)| (name, pk, ty))
        .collect();
    check_key_types(def, &key_probes(def, &columns))?;

    // The primary key: an `INTEGER PRIMARY KEY` (the rowid alias) has no index of its own, so
    // it is read from the columns; any other primary key is unique all the same.
    let mut primary: Vec<(i64, String)> = columns
        .iter()
        .filter(|(_, pk, _)| *pk > 0)
        .map(|(name, pk, _)| (*pk, name.clone()))
        .collect();
    primary.sort();
    let primary: Vec<String> = primary.into_iter().map(|(_, name)| name).collect();
    if covers_exactly_key(def, &primary, same_ignore_case) {
        return Ok(());
    }

    let indexes: Vec<String> = sqlx::query_scalar(INDEXES_SQL)
        .bind(table.name)
        .bind(table.schema)
        .fetch_all(&mut *conn)
        .await
        .map_err(lookup("reading the indexes"))?;
    for index in indexes {
        let parts: Vec<Option<String>> = sqlx::query_scalar(INDEX_COLUMNS_SQL)
            .bind(&index)
            .bind(table.schema)
            .fetch_all(&mut *conn)
            .await
            .map_err(lookup("reading an index's columns"))?;
        let columns: Option<Vec<String>> = parts.into_iter().collect();
        if columns.is_some_and(|c| covers_exactly_key(def, &c, same_ignore_case)) {
            return Ok(());
        }
    }
    Err(no_unique_index(ENGINE, def))
}

/// The target key columns by their declared type's affinity (SQLite's rules, section 3.1 of
/// "Datatypes In SQLite"); the source side is not described by SQLite, so it is not checked.
fn key_probes(def: &Definition, columns: &[(String, i64, String)]) -> Vec<KeyProbe> {
    let unknown = || KeySide {
        type_name: String::new(),
        class: KeyClass::Unknown,
        collation: None,
    };
    def.key
        .iter()
        .map(|part| {
            let declared = columns
                .iter()
                .find(|(name, _, _)| same_ignore_case(name, part.column))
                .map(|(_, _, ty)| ty.clone())
                .unwrap_or_default();
            let upper = declared.to_ascii_uppercase();
            let class = if upper.contains("INT") {
                KeyClass::Integer {
                    unsigned: false,
                    wide_unsigned: false,
                }
            } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
                KeyClass::Text {
                    case_insensitive: false,
                }
            } else if upper.contains("BLOB") {
                KeyClass::Binary
            } else if upper.contains("REAL") || upper.contains("FLOA") || upper.contains("DOUB") {
                KeyClass::Fraction
            } else {
                // No declared type, or NUMERIC affinity: any value can be stored; not checked.
                KeyClass::Unknown
            };
            KeyProbe {
                source: unknown(),
                target: KeySide {
                    type_name: declared,
                    class,
                    collation: None,
                },
            }
        })
        .collect()
}
