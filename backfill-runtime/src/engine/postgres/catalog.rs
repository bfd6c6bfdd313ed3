//! PostgreSQL's catalog reader, the one place its `pg_catalog` is queried: a table's columns and
//! the unique indexes `ON CONFLICT` can infer (for the progress table and preflight alike), the
//! base types of the key probe's type oids, and a source's size, the server's caches and a
//! column's `pg_stats` (for `plan`). Names are bound as values, never formatted into
//! SQL; an unqualified name resolves along the search path with `to_regclass`, as the DML does.

use sqlx::postgres::types::Oid;
use sqlx::postgres::PgConnection;

use crate::engine::{CatalogColumn, CatalogError, TableName, TableShape, UniqueKey};

/// Resolves the table (schema-qualified, or along the search path) to its oid; views,
/// materialized views and foreign tables count as existing (the index check then fails).
const TABLE_SQL: &str = "SELECT c.oid FROM pg_catalog.pg_class c \
     WHERE c.oid = pg_catalog.to_regclass(CASE WHEN $1::text IS NULL \
       THEN pg_catalog.quote_ident($2::text) \
       ELSE pg_catalog.quote_ident($1::text) || '.' || pg_catalog.quote_ident($2::text) END) \
     AND c.relkind IN ('r', 'p', 'v', 'm', 'f')";

/// Every live column: name, type as PostgreSQL prints it, the base type's name (domains
/// resolved) for the type check, and whether an INSERT must name it.
const COLUMNS_SQL: &str =
    "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
       COALESCE(bt.typname, t.typname)::text, \
       a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '' \
     FROM pg_catalog.pg_attribute a \
     JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
     LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype \
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped \
     ORDER BY a.attnum";

/// Unique indexes ON CONFLICT can infer: not partial, no expressions, valid, not deferrable;
/// their key columns (INCLUDE columns left out), the primary key first.
const INDEXES_SQL: &str = "SELECT ic.relname::text, \
       ARRAY(SELECT a.attname::text FROM generate_series(0, i.indnkeyatts - 1) AS k(ord) \
             JOIN pg_catalog.pg_attribute a \
               ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.ord] \
             ORDER BY k.ord), \
       i.indisprimary \
     FROM pg_catalog.pg_index i \
     JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
     WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indimmediate \
       AND i.indpred IS NULL AND i.indexprs IS NULL \
     ORDER BY i.indisprimary DESC, ic.relname";

/// Base type names (domains resolved), printed names, and whether each is an enum, by type oid.
const TYPES_SQL: &str = "SELECT t.oid::int8, COALESCE(bt.typname, t.typname)::text, \
       pg_catalog.format_type(t.oid, NULL), COALESCE(bt.typtype, t.typtype) = 'e' \
     FROM pg_catalog.pg_type t \
     LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype \
     WHERE t.oid = ANY($1)";

/// A type as [`base_types`] reads it.
pub(super) struct BaseType {
    /// The type's oid.
    pub oid: i64,
    /// `pg_type.typname` of the type, or of a domain's base type.
    pub base: String,
    /// The type's name as PostgreSQL prints it.
    pub name: String,
    /// The type (or a domain's base type) is an enum.
    pub is_enum: bool,
}

/// The table's columns and unique indexes; `None` when it does not exist.
pub(super) async fn read_table(
    conn: &mut PgConnection,
    table: &TableName,
) -> Result<Option<TableShape>, CatalogError> {
    let oid: Option<Oid> = sqlx::query_scalar(TABLE_SQL)
        .bind(table.schema.as_deref())
        .bind(table.name.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(CatalogError::reading("looking up the table"))?;
    let Some(oid) = oid else {
        return Ok(None);
    };
    let columns: Vec<(String, String, String, bool)> = sqlx::query_as(COLUMNS_SQL)
        .bind(oid)
        .fetch_all(&mut *conn)
        .await
        .map_err(CatalogError::reading("reading the columns"))?;
    let indexes: Vec<(String, Vec<String>, bool)> = sqlx::query_as(INDEXES_SQL)
        .bind(oid)
        .fetch_all(&mut *conn)
        .await
        .map_err(CatalogError::reading("reading the indexes"))?;
    Ok(Some(TableShape {
        columns: columns
            .into_iter()
            .map(|(name, sql_type, base_type, required)| CatalogColumn {
                name,
                sql_type,
                base_type,
                charset: None,
                required,
            })
            .collect(),
        unique_keys: indexes
            .into_iter()
            .map(|(name, columns, primary)| UniqueKey {
                name,
                columns: columns.into_iter().map(Some).collect(),
                prefix: false,
                primary,
            })
            .collect(),
    }))
}

/// The base types of `oids` (in no particular order).
pub(super) async fn base_types(
    conn: &mut PgConnection,
    oids: &[i64],
) -> Result<Vec<BaseType>, CatalogError> {
    let rows: Vec<(i64, String, String, bool)> = sqlx::query_as(TYPES_SQL)
        .bind(oids)
        .fetch_all(&mut *conn)
        .await
        .map_err(CatalogError::reading("reading key types"))?;
    Ok(rows
        .into_iter()
        .map(|(oid, base, name, is_enum)| BaseType {
            oid,
            base,
            name,
            is_enum,
        })
        .collect())
}

/// The table's size and the planner's estimates: pages, rows (`None` before the first VACUUM
/// or ANALYZE), the heap's bytes, with indexes and TOAST, and its schema and name as stored.
const SIZE_SQL: &str = "SELECT c.relpages::int8, \
       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::int8 END, \
       pg_catalog.pg_relation_size(c.oid), pg_catalog.pg_total_relation_size(c.oid), \
       n.nspname::text, c.relname::text \
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.oid = pg_catalog.to_regclass(CASE WHEN $1::text IS NULL \
       THEN pg_catalog.quote_ident($2::text) \
       ELSE pg_catalog.quote_ident($1::text) || '.' || pg_catalog.quote_ident($2::text) END)";

/// The buffer cache and the OS cache the planner assumes, in bytes.
const CACHE_SQL: &str = "SELECT name::text, \
       (setting::int8 * pg_catalog.pg_size_bytes(COALESCE(unit, 'B')))::int8 \
     FROM pg_catalog.pg_settings WHERE name IN ('shared_buffers', 'effective_cache_size')";

/// A column's statistics from the last ANALYZE: its correlation with the heap's order and its
/// distinct values (negative: a fraction of the rows).
const COLUMN_STATS_SQL: &str = "SELECT correlation::float8, n_distinct::float8 \
     FROM pg_catalog.pg_stats \
     WHERE schemaname = $1 AND tablename = $2 AND attname = $3 \
     ORDER BY inherited LIMIT 1";

/// Every valid, non-partial index on plain columns: its name and columns, key columns first
/// in order, then its INCLUDE columns.
const SOURCE_INDEXES_SQL: &str = "SELECT ic.relname::text, \
       ARRAY(SELECT a.attname::text \
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_catalog.pg_attribute a \
               ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             ORDER BY k.ord) \
     FROM pg_catalog.pg_index i \
     JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
     JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = $1 AND c.relname = $2 AND i.indisvalid \
       AND i.indpred IS NULL AND i.indexprs IS NULL \
     ORDER BY ic.relname";

/// What [`source_stats`] reads about a table.
pub(super) struct SourceStats {
    /// `relpages`.
    pub pages: i64,
    /// `reltuples`, `None` before the first VACUUM or ANALYZE.
    pub rows: Option<i64>,
    /// `pg_relation_size`: the heap.
    pub heap_bytes: i64,
    /// `pg_total_relation_size`: with indexes and TOAST.
    pub total_bytes: i64,
    /// `shared_buffers` and `effective_cache_size`, in bytes, by name.
    pub caches: Vec<(String, i64)>,
    /// The key column's `pg_stats` row: correlation and `n_distinct`; `None` before ANALYZE.
    pub key_stats: Option<(Option<f64>, Option<f64>)>,
    /// Its indexes on plain columns, with their key then INCLUDE columns.
    pub indexes: Vec<(String, Vec<String>)>,
}

/// The size of `table`, the server's caches, and the statistics of its column `key_column`;
/// `None` when the table does not exist.
pub(super) async fn source_stats(
    conn: &mut PgConnection,
    table: &TableName,
    key_column: Option<&str>,
) -> Result<Option<SourceStats>, sqlx::Error> {
    let row: Option<(i64, Option<i64>, i64, i64, String, String)> = sqlx::query_as(SIZE_SQL)
        .bind(table.schema.as_deref())
        .bind(table.name.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some((pages, rows, heap_bytes, total_bytes, schema, name)) = row else {
        return Ok(None);
    };
    let caches: Vec<(String, i64)> = sqlx::query_as(CACHE_SQL).fetch_all(&mut *conn).await?;
    let key_stats = match key_column {
        Some(column) => {
            sqlx::query_as(COLUMN_STATS_SQL)
                .bind(&schema)
                .bind(&name)
                .bind(column)
                .fetch_optional(&mut *conn)
                .await?
        }
        None => None,
    };
    let indexes: Vec<(String, Vec<String>)> = sqlx::query_as(SOURCE_INDEXES_SQL)
        .bind(&schema)
        .bind(&name)
        .fetch_all(&mut *conn)
        .await?;
    Ok(Some(SourceStats {
        pages,
        rows,
        heap_bytes,
        total_bytes,
        caches,
        key_stats,
        indexes,
    }))
}

/// A key column's type without modifiers and its collation, schema-qualified and quoted
/// (`NULL` for a type without one).
const KEY_ORDER_SQL: &str = "SELECT pg_catalog.format_type(a.atttypid, NULL), \
       CASE WHEN a.attcollation <> 0 THEN pg_catalog.quote_ident(n.nspname) || '.' \
         || pg_catalog.quote_ident(co.collname) END \
     FROM pg_catalog.pg_attribute a \
     LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation \
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = co.collnamespace \
     WHERE a.attrelid = $1 AND a.attname = $2 AND NOT a.attisdropped";

/// How a bound text value compares as the key column `column` of `table` compares: cast to
/// the column's type (a `citext` ignores case) with the column's collation. `None` when the
/// table or column is not found.
pub(super) async fn key_text_order(
    conn: &mut PgConnection,
    table: &TableName,
    column: &str,
) -> Result<Option<String>, sqlx::Error> {
    let oid: Option<Oid> = sqlx::query_scalar(TABLE_SQL)
        .bind(table.schema.as_deref())
        .bind(table.name.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(oid) = oid else {
        return Ok(None);
    };
    let row: Option<(String, Option<String>)> = sqlx::query_as(KEY_ORDER_SQL)
        .bind(oid)
        .bind(column)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|(ty, collation)| match collation {
        Some(collation) => format!("CAST(? AS {ty}) COLLATE {collation}"),
        None => format!("CAST(? AS {ty})"),
    }))
}
