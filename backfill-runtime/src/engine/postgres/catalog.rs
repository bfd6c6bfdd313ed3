//! PostgreSQL's catalog reader, the one place its `pg_catalog` is queried: a table's columns and
//! the unique indexes `ON CONFLICT` can infer (for the progress table and preflight alike), and
//! the base types of the key probe's type oids. Names are bound as values, never formatted into
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
             ORDER BY k.ord) \
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
    let indexes: Vec<(String, Vec<String>)> = sqlx::query_as(INDEXES_SQL)
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
            .map(|(name, columns)| UniqueKey {
                name,
                columns: columns.into_iter().map(Some).collect(),
                prefix: false,
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
