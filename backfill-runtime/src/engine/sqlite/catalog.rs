//! SQLite's catalog reader, the one place its `pragma_*` table-valued functions are queried: a
//! table's columns and unique keys, for the progress table and preflight alike. Names are bound
//! as values, never formatted into SQL; an unqualified table resolves as SQLite resolves it, a
//! qualified one in that attached database.

use sqlx::sqlite::SqliteConnection;

use crate::engine::{CatalogColumn, CatalogError, TableName, TableShape, UniqueKey};

/// Whether an attached database of that name exists (`main`, `temp`, or attached).
const SCHEMA_SQL: &str = "SELECT count(*) FROM pragma_database_list WHERE name = ?1 COLLATE NOCASE";

/// The table's columns, their position in the primary key (0 when not in it), declared type,
/// and whether an INSERT must name them (NOT NULL, no default, not the rowid alias). A NULL
/// schema searches the databases in SQLite's own order.
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

/// The name [`read_table`] gives the primary key, which an `INTEGER PRIMARY KEY` (the rowid
/// alias) has no index for.
const PRIMARY_KEY: &str = "PRIMARY KEY";

/// The table's columns and unique keys, the primary key first; `None` when it does not exist.
pub(super) async fn read_table(
    conn: &mut SqliteConnection,
    table: &TableName,
) -> Result<Option<TableShape>, CatalogError> {
    if let Some(schema) = &table.schema {
        let attached: i64 = sqlx::query_scalar(SCHEMA_SQL)
            .bind(schema.as_str())
            .fetch_one(&mut *conn)
            .await
            .map_err(CatalogError::reading("listing the attached databases"))?;
        if attached == 0 {
            return Ok(None);
        }
    }
    let columns: Vec<(String, i64, String, bool)> = sqlx::query_as(COLUMNS_SQL)
        .bind(table.name.as_str())
        .bind(table.schema.as_deref())
        .fetch_all(&mut *conn)
        .await
        .map_err(CatalogError::reading("reading the columns"))?;
    if columns.is_empty() {
        return Ok(None);
    }

    let mut unique_keys = Vec::new();
    let mut primary: Vec<(i64, String)> = columns
        .iter()
        .filter(|(_, pk, ..)| *pk > 0)
        .map(|(name, pk, ..)| (*pk, name.clone()))
        .collect();
    primary.sort();
    if !primary.is_empty() {
        unique_keys.push(UniqueKey {
            name: PRIMARY_KEY.to_string(),
            columns: primary.into_iter().map(|(_, name)| Some(name)).collect(),
            prefix: false,
        });
    }
    let indexes: Vec<String> = sqlx::query_scalar(INDEXES_SQL)
        .bind(table.name.as_str())
        .bind(table.schema.as_deref())
        .fetch_all(&mut *conn)
        .await
        .map_err(CatalogError::reading("reading the indexes"))?;
    for index in indexes {
        let columns: Vec<Option<String>> = sqlx::query_scalar(INDEX_COLUMNS_SQL)
            .bind(&index)
            .bind(table.schema.as_deref())
            .fetch_all(&mut *conn)
            .await
            .map_err(CatalogError::reading("reading an index's columns"))?;
        unique_keys.push(UniqueKey {
            name: index,
            columns,
            prefix: false,
        });
    }

    Ok(Some(TableShape {
        columns: columns
            .into_iter()
            .map(|(name, _, declared, required)| CatalogColumn {
                name,
                sql_type: declared.clone(),
                base_type: declared,
                charset: None,
                required,
            })
            .collect(),
        unique_keys,
    }))
}
