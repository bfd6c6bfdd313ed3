//! SQLite's catalog reader, the one place its `pragma_*` table-valued functions are queried: a
//! table's columns and unique keys, for the progress table and preflight alike, and a source's
//! pages, page cache, stored order and `sqlite_stat1` statistics (for `plan`). Names are bound
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
            primary: true,
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
            primary: false,
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

/// The database's pages, page size and page cache (`cache_size`: pages, or KiB when negative).
const PAGES_SQL: &str = "SELECT (SELECT page_count FROM pragma_page_count(?1)), \
       (SELECT page_size FROM pragma_page_size(?1)), \
       (SELECT cache_size FROM pragma_cache_size(?1))";

/// The table's own pages and bytes, from the `dbstat` virtual table (when compiled in).
const TABLE_PAGES_SQL: &str = "SELECT count(*), sum(pgsize) FROM dbstat(?1) WHERE name = ?2";

/// The largest database whose table sizes are measured page by page (`dbstat` reads every
/// page of the table): 65,536 pages, 256 MiB at the default page size.
const DBSTAT_MAX_PAGES: i64 = 65_536;

/// Whether the table is `WITHOUT ROWID` (SQLite 3.37+).
const WITHOUT_ROWID_SQL: &str = "SELECT wr FROM pragma_table_list(?1, ?2) WHERE type = 'table'";

/// The statistics of the last ANALYZE: per index, `rows rows-per-first-column-value ...`.
const STAT1_SQL: &str = "SELECT idx, stat FROM sqlite_stat1 WHERE tbl = ?1 COLLATE NOCASE";

/// What [`source_stats`] reads about a table.
pub(super) struct SourceStats {
    /// The database's pages, page size and `cache_size`.
    pub database: (i64, i64, i64),
    /// The table's own pages and bytes, when `dbstat` is available.
    pub table: Option<(i64, i64)>,
    /// The table is `WITHOUT ROWID` (`None`: the server is too old to say).
    pub without_rowid: Option<bool>,
    /// The primary key's columns in order, with their declared types.
    pub primary: Vec<(String, String)>,
    /// `sqlite_stat1` rows of the table: the index and its statistics.
    pub stat1: Vec<(Option<String>, String)>,
    /// Each index of the table with its columns in order (`None` for an expression part)
    /// and whether it is partial.
    pub indexes: Vec<(String, Vec<Option<String>>, bool)>,
}

/// The size of `table`, its clustered key and its statistics; `None` when it does not exist.
pub(super) async fn source_stats(
    conn: &mut SqliteConnection,
    table: &TableName,
) -> Result<Option<SourceStats>, sqlx::Error> {
    let schema = table.schema.as_deref().unwrap_or("main");
    let columns: Vec<(String, i64, String, bool)> = sqlx::query_as(COLUMNS_SQL)
        .bind(table.name.as_str())
        .bind(table.schema.as_deref())
        .fetch_all(&mut *conn)
        .await?;
    if columns.is_empty() {
        return Ok(None);
    }
    // Every read here fetches all its rows: a statement left part-read would hold its read
    // transaction (and its snapshot of the schema) open on the pooled connection.
    let database: (i64, i64, i64) = sqlx::query_as(PAGES_SQL)
        .bind(schema)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .next()
        .unwrap_or_default();
    // dbstat visits every page of the table: only on a database small enough to read in a
    // moment. Beyond it, and on a build without dbstat, the whole file stands for the table.
    let table_pages: Option<(i64, Option<i64>)> = if database.0 <= DBSTAT_MAX_PAGES {
        sqlx::query_as(TABLE_PAGES_SQL)
            .bind(schema)
            .bind(table.name.as_str())
            .fetch_all(&mut *conn)
            .await
            .ok()
            .and_then(|rows| rows.into_iter().next())
    } else {
        None
    };
    let without_rowid: Option<i64> = sqlx::query_scalar(WITHOUT_ROWID_SQL)
        .bind(table.name.as_str())
        .bind(table.schema.as_deref())
        .fetch_all(&mut *conn)
        .await
        .ok()
        .and_then(|rows| rows.into_iter().next());
    let mut primary: Vec<(i64, String, String)> = columns
        .into_iter()
        .filter(|(_, pk, ..)| *pk > 0)
        .map(|(name, pk, declared, _)| (pk, name, declared))
        .collect();
    primary.sort();
    // No sqlite_stat1 before the first ANALYZE: no statistics.
    let stat1: Vec<(Option<String>, String)> = sqlx::query_as(STAT1_SQL)
        .bind(table.name.as_str())
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
    let index_list: Vec<(String, bool)> =
        sqlx::query_as("SELECT name, partial = 1 FROM pragma_index_list(?1, ?2) ORDER BY seq")
            .bind(table.name.as_str())
            .bind(table.schema.as_deref())
            .fetch_all(&mut *conn)
            .await?;
    let mut indexes = Vec::new();
    for (index, partial) in index_list {
        let columns: Vec<Option<String>> = sqlx::query_scalar(INDEX_COLUMNS_SQL)
            .bind(&index)
            .bind(table.schema.as_deref())
            .fetch_all(&mut *conn)
            .await?;
        indexes.push((index, columns, partial));
    }
    Ok(Some(SourceStats {
        database,
        table: table_pages.and_then(|(pages, bytes)| Some((pages, bytes?))),
        without_rowid: without_rowid.map(|wr| wr != 0),
        primary: primary
            .into_iter()
            .map(|(_, name, declared)| (name, declared))
            .collect(),
        stat1,
        indexes,
    }))
}
