//! MySQL/MariaDB's catalog reader, the one place its `information_schema` is queried: a table's
//! columns and unique indexes, for the progress table and preflight alike, and a source's size,
//! primary key and key cardinality with the buffer pool's size (for `plan`). Names are bound as
//! values, never formatted into SQL; an unqualified name is looked up in the connection's
//! default database (`DATABASE()`).

use sqlx::mysql::MySqlConnection;

use crate::engine::{CatalogColumn, CatalogError, TableName, TableShape, UniqueKey};

/// Candidate tables; the exact match is picked in Rust, since `information_schema` compares
/// with a case-insensitive collation while table names are case-sensitive on most servers.
const TABLE_SQL: &str = "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR) \
     FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?";

/// `lower_case_table_names`: 0 means table names are compared exactly.
const CASE_SQL: &str = "SELECT CAST(@@lower_case_table_names AS SIGNED)";

/// Every column: name, `DATA_TYPE`, `COLUMN_TYPE`, character set, and whether an INSERT must
/// name it.
const COLUMNS_SQL: &str = "SELECT CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR), \
       CAST(COLUMN_TYPE AS CHAR), CAST(CHARACTER_SET_NAME AS CHAR), \
       CAST(IS_NULLABLE = 'NO' AND COLUMN_DEFAULT IS NULL \
         AND EXTRA NOT LIKE '%auto_increment%' AND EXTRA NOT LIKE '%GENERATED%' AS SIGNED) \
     FROM information_schema.COLUMNS \
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION";

/// Unique indexes with their columns in order; a column is NULL for an expression part and
/// `prefix` is 1 for a prefix (`col(10)`) part.
const INDEXES_SQL: &str = "SELECT CAST(INDEX_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
       CAST(SUB_PART IS NOT NULL AS SIGNED) \
     FROM information_schema.STATISTICS \
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 \
     ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX";

/// The table's columns and unique indexes; `None` when it does not exist. The name is matched
/// as the server matches it (exactly, unless `lower_case_table_names` is set).
pub(super) async fn read_table(
    conn: &mut MySqlConnection,
    table: &TableName,
) -> Result<Option<TableShape>, CatalogError> {
    let case_mode: Option<i64> = sqlx::query_scalar(CASE_SQL)
        .fetch_one(&mut *conn)
        .await
        .map_err(CatalogError::reading("reading lower_case_table_names"))?;
    let exact_case = case_mode.unwrap_or(0) == 0;
    let same_name = |stored: &str, written: &str| {
        if exact_case {
            stored == written
        } else {
            stored.eq_ignore_ascii_case(written)
        }
    };
    let candidates: Vec<(String, String)> = sqlx::query_as(TABLE_SQL)
        .bind(table.schema.as_deref())
        .bind(table.name.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(CatalogError::reading("looking up the table"))?;
    let found = candidates.into_iter().find(|(schema, name)| {
        same_name(name, &table.name) && table.schema.as_deref().is_none_or(|s| same_name(schema, s))
    });
    let Some((schema, name)) = found else {
        return Ok(None);
    };

    let columns: Vec<(String, String, String, Option<String>, i64)> = sqlx::query_as(COLUMNS_SQL)
        .bind(&schema)
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .map_err(CatalogError::reading("reading the columns"))?;
    let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(INDEXES_SQL)
        .bind(&schema)
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .map_err(CatalogError::reading("reading the indexes"))?;
    let mut unique_keys: Vec<UniqueKey> = Vec::new();
    for (index, column, prefix) in rows {
        match unique_keys.last_mut() {
            Some(last) if last.name == index => {
                last.columns.push(column);
                last.prefix |= prefix != 0;
            }
            _ => unique_keys.push(UniqueKey {
                primary: index == "PRIMARY",
                name: index,
                columns: vec![column],
                prefix: prefix != 0,
            }),
        }
    }
    Ok(Some(TableShape {
        columns: columns
            .into_iter()
            .map(
                |(name, data_type, column_type, charset, required)| CatalogColumn {
                    name,
                    sql_type: column_type,
                    base_type: data_type,
                    charset,
                    required: required != 0,
                },
            )
            .collect(),
        unique_keys,
    }))
}

/// The table's estimated data and index bytes and rows (InnoDB's statistics).
const SIZE_SQL: &str = "SELECT CAST(DATA_LENGTH AS SIGNED), CAST(INDEX_LENGTH AS SIGNED), \
       CAST(TABLE_ROWS AS SIGNED) \
     FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?";

/// The buffer pool and the page size, in bytes.
const CACHE_SQL: &str =
    "SELECT CAST(@@innodb_buffer_pool_size AS SIGNED), CAST(@@innodb_page_size AS SIGNED)";

/// The PRIMARY KEY's columns in order: InnoDB stores the rows in its order.
const PRIMARY_SQL: &str = "SELECT CAST(COLUMN_NAME AS CHAR) \
     FROM information_schema.STATISTICS \
     WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
       AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX";

/// Estimated distinct values of a column that leads an index.
const CARDINALITY_SQL: &str = "SELECT CAST(MAX(CARDINALITY) AS SIGNED) \
     FROM information_schema.STATISTICS \
     WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
       AND SEQ_IN_INDEX = 1 AND COLUMN_NAME = ?";

/// Every index's columns in order; a column is NULL for an expression part and `prefix` is 1
/// for a prefix part.
const SOURCE_INDEXES_SQL: &str = "SELECT CAST(INDEX_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
       CAST(SUB_PART IS NOT NULL AS SIGNED) \
     FROM information_schema.STATISTICS \
     WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
     ORDER BY INDEX_NAME, SEQ_IN_INDEX";

/// What [`source_stats`] reads about a table.
pub(super) struct SourceStats {
    /// `DATA_LENGTH`: the clustered index, rows included.
    pub data_bytes: Option<i64>,
    /// `INDEX_LENGTH`: the secondary indexes.
    pub index_bytes: Option<i64>,
    /// `TABLE_ROWS`, an estimate.
    pub rows: Option<i64>,
    /// `innodb_buffer_pool_size`.
    pub buffer_pool: Option<i64>,
    /// `innodb_page_size`.
    pub page_size: Option<i64>,
    /// The PRIMARY KEY's columns, empty without one.
    pub primary: Vec<String>,
    /// The key column's estimated distinct values, when an index starts with it.
    pub key_cardinality: Option<i64>,
    /// Its indexes whose every part is a whole column, with their columns in order.
    pub indexes: Vec<(String, Vec<String>)>,
}

/// The size of `table`, the buffer pool, its primary key and the key column's cardinality;
/// `None` when the table does not exist.
pub(super) async fn source_stats(
    conn: &mut MySqlConnection,
    table: &TableName,
    key_column: Option<&str>,
) -> Result<Option<SourceStats>, sqlx::Error> {
    let row: Option<(Option<i64>, Option<i64>, Option<i64>)> = sqlx::query_as(SIZE_SQL)
        .bind(table.schema.as_deref())
        .bind(table.name.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some((data_bytes, index_bytes, rows)) = row else {
        return Ok(None);
    };
    let (buffer_pool, page_size): (Option<i64>, Option<i64>) =
        sqlx::query_as(CACHE_SQL).fetch_one(&mut *conn).await?;
    let primary: Vec<String> = sqlx::query_scalar(PRIMARY_SQL)
        .bind(table.schema.as_deref())
        .bind(table.name.as_str())
        .fetch_all(&mut *conn)
        .await?;
    let key_cardinality = match key_column {
        Some(column) => {
            sqlx::query_scalar::<_, Option<i64>>(CARDINALITY_SQL)
                .bind(table.schema.as_deref())
                .bind(table.name.as_str())
                .bind(column)
                .fetch_one(&mut *conn)
                .await?
        }
        None => None,
    };
    let parts: Vec<(String, Option<String>, i64)> = sqlx::query_as(SOURCE_INDEXES_SQL)
        .bind(table.schema.as_deref())
        .bind(table.name.as_str())
        .fetch_all(&mut *conn)
        .await?;
    // An index with an expression or a prefix part cannot cover a read: left out.
    let mut indexes: Vec<(String, Option<Vec<String>>)> = Vec::new();
    for (index, column, prefix) in parts {
        if indexes.last().is_none_or(|(name, _)| *name != index) {
            indexes.push((index, Some(Vec::new())));
        }
        if let Some((_, columns)) = indexes.last_mut() {
            *columns = match (columns.take(), column) {
                (Some(mut cols), Some(column)) if prefix == 0 => {
                    cols.push(column);
                    Some(cols)
                }
                _ => None,
            };
        }
    }
    Ok(Some(SourceStats {
        data_bytes,
        index_bytes,
        rows,
        buffer_pool,
        page_size,
        primary,
        key_cardinality,
        indexes: indexes
            .into_iter()
            .filter_map(|(name, columns)| Some((name, columns?)))
            .collect(),
    }))
}

/// A key column's character set and collation.
const KEY_ORDER_SQL: &str =
    "SELECT CAST(CHARACTER_SET_NAME AS CHAR), CAST(COLLATION_NAME AS CHAR) \
     FROM information_schema.COLUMNS \
     WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND COLUMN_NAME = ?";

/// How a bound text value compares as the key column `column` of `table` compares: converted
/// to the column's character set, with its collation. `None` when the column is not found or
/// its names are not plain words (they are formatted into SQL).
pub(super) async fn key_text_order(
    conn: &mut MySqlConnection,
    table: &TableName,
    column: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(KEY_ORDER_SQL)
        .bind(table.schema.as_deref())
        .bind(table.name.as_str())
        .bind(column)
        .fetch_optional(&mut *conn)
        .await?;
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    Ok(
        row.and_then(|(charset, collation)| match (charset, collation) {
            (Some(cs), Some(co)) if word(&cs) && word(&co) => {
                Some(format!("CONVERT(? USING {cs}) COLLATE {co}"))
            }
            (None, None) => Some("?".to_string()),
            _ => None,
        }),
    )
}
