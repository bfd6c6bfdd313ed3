//! PostgreSQL preflight: `pg_catalog` lookups (names bound, resolved with `to_regclass` along
//! the search path when unqualified) and a server-side prepare of every statement.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]

use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgConnection, PgTypeInfo};
use sqlx::{Executor, PgPool, Postgres, Type};

use super::{
    catalog_context, check_key_types, covers_exactly_key, missing_column, missing_table,
    no_required_column_left_out, no_unique_index, prepare_error, same_exact, type_mismatch,
    KeyClass, KeyProbe, KeySide, SqlKind, TableName,
};
use crate::coerce;
use crate::definition::{Definition, Engine, KeyKind, Param, Statements};
use crate::engine::postgres::PgEngine;
use crate::error::Error;

const ENGINE: Engine = Engine::Postgres;

/// Resolves the table (schema-qualified, or along the search path) to its oid; views,
/// materialized views and foreign tables count as existing (the index check then fails).
const TABLE_SQL: &str = "SELECT c.oid FROM pg_catalog.pg_class c \
     WHERE c.oid = pg_catalog.to_regclass(CASE WHEN $1::text IS NULL \
       THEN pg_catalog.quote_ident($2::text) \
       ELSE pg_catalog.quote_ident($1::text) || '.' || pg_catalog.quote_ident($2::text) END) \
     AND c.relkind IN ('r', 'p', 'v', 'm', 'f')";

/// Every live column: name, type as PostgreSQL prints it, and the base type's name (domains
/// resolved) for the type check.
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
/// their key columns (INCLUDE columns left out).
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

/// Checks the target of `def` on PostgreSQL and prepares every statement; writes nothing.
pub(crate) async fn check_postgres(
    pool: &PgPool,
    def: &'static Definition,
    stmts: &'static Statements,
) -> Result<(), Error> {
    let mut conn = pool.acquire().await.map_err(|e| {
        Error::database(catalog_context(ENGINE, def, "connecting to the server"), e)
    })?;
    check_schema(&mut conn, def).await?;
    check_key_types(def, &probe_keys(&mut conn, def, stmts).await?)?;
    prepare_all(&mut conn, def, stmts).await
}

/// Base type names (domains resolved) and whether each is an enum, by type oid.
const TYPES_SQL: &str = "SELECT t.oid::int8, COALESCE(bt.typname, t.typname)::text, \
       pg_catalog.format_type(t.oid, NULL), COALESCE(bt.typtype, t.typtype) = 'e' \
     FROM pg_catalog.pg_type t \
     LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype \
     WHERE t.oid = ANY($1)";

/// Runs the key probe (it reads no row): the type oid and collation of every source key
/// expression and target key column, then their base types from the catalog.
async fn probe_keys(
    conn: &mut PgConnection,
    def: &'static Definition,
    stmts: &'static Statements,
) -> Result<Vec<KeyProbe>, Error> {
    use sqlx::Row as _;
    let row = sqlx::query(stmts.key_probe.sql)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| {
            prepare_error(
                ENGINE,
                def,
                "key types and collations",
                stmts.key_probe.sql,
                e,
            )
        })?;
    let mut oids = Vec::new();
    let mut collations = Vec::new();
    for part in 0..def.key.len() {
        for i in [part * 4, part * 4 + 1] {
            let oid: i64 = row.try_get(i).map_err(|e| {
                Error::database(catalog_context(ENGINE, def, "reading the key probe"), e)
            })?;
            let collation: Option<String> = row.try_get(i + 2).map_err(|e| {
                Error::database(catalog_context(ENGINE, def, "reading the key probe"), e)
            })?;
            oids.push(oid);
            collations.push(collation);
        }
    }
    let types: Vec<(i64, String, String, bool)> = sqlx::query_as(TYPES_SQL)
        .bind(&oids)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Error::database(catalog_context(ENGINE, def, "reading key types"), e))?;
    let side = |i: usize| -> KeySide {
        let (base, name, is_enum) = types
            .iter()
            .find(|(oid, ..)| *oid == oids[i])
            .map_or(("", "unknown".to_string(), false), |(_, base, name, e)| {
                (base.as_str(), name.clone(), *e)
            });
        let class = match base {
            "int2" | "int4" | "int8" => KeyClass::Integer {
                unsigned: false,
                wide_unsigned: false,
            },
            "numeric" | "float4" | "float8" | "money" => KeyClass::Fraction,
            "text" | "varchar" | "bpchar" | "name" | "char" => KeyClass::Text {
                case_insensitive: false,
            },
            "citext" => KeyClass::Text {
                case_insensitive: true,
            },
            "bytea" => KeyClass::Binary,
            _ if is_enum => KeyClass::Text {
                case_insensitive: false,
            },
            _ => KeyClass::Other,
        };
        KeySide {
            type_name: name,
            class,
            collation: collations[i].clone(),
        }
    };
    Ok((0..def.key.len())
        .map(|part| KeyProbe {
            source: side(part * 2),
            target: side(part * 2 + 1),
        })
        .collect())
}

async fn check_schema(conn: &mut PgConnection, def: &'static Definition) -> Result<(), Error> {
    let table = TableName::parse(def.table);
    let oid: Option<Oid> = sqlx::query_scalar(TABLE_SQL)
        .bind(table.schema)
        .bind(table.name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| Error::database(catalog_context(ENGINE, def, "looking up the table"), e))?;
    let Some(oid) = oid else {
        return Err(missing_table(ENGINE, def));
    };

    let columns: Vec<(String, String, String, bool)> = sqlx::query_as(COLUMNS_SQL)
        .bind(oid)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Error::database(catalog_context(ENGINE, def, "reading the columns"), e))?;
    let mut typed = Vec::with_capacity(def.columns.len());
    for column in def.columns {
        match columns.iter().find(|(name, ..)| name == column.column) {
            Some((_, sql_type, base, _)) => typed.push((column, sql_type, base)),
            None => return Err(missing_column(def, column)),
        }
    }
    let required: Vec<String> = columns
        .iter()
        .filter(|c| c.3)
        .map(|c| c.0.clone())
        .collect();
    no_required_column_left_out(def, &required, same_exact)?;

    let indexes: Vec<(String, Vec<String>)> = sqlx::query_as(INDEXES_SQL)
        .bind(oid)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Error::database(catalog_context(ENGINE, def, "reading the indexes"), e))?;
    if !indexes
        .iter()
        .any(|(_, cols)| covers_exactly_key(def, cols, same_exact))
    {
        return Err(no_unique_index(ENGINE, def));
    }

    for (column, sql_type, base) in typed {
        if let Some(error) = type_mismatch(def, column, sql_kind(base), sql_type) {
            return Err(error);
        }
    }
    Ok(())
}

/// Classifies a PostgreSQL base type name (`pg_type.typname`).
fn sql_kind(typname: &str) -> SqlKind {
    match typname {
        "int2" => SqlKind::Int {
            max: i16::MAX.into(),
        },
        "int4" => SqlKind::Int {
            max: i32::MAX.into(),
        },
        "int8" => SqlKind::Int {
            max: i64::MAX.into(),
        },
        "numeric" => SqlKind::Numeric,
        "float4" | "float8" => SqlKind::Float,
        "text" | "varchar" | "bpchar" | "name" | "citext" => SqlKind::Text,
        "bool" => SqlKind::Bool,
        "date" | "time" | "timetz" | "timestamp" | "timestamptz" | "interval" => SqlKind::Temporal,
        "jsonb" => SqlKind::Json,
        "json" => SqlKind::JsonWithoutEquality,
        _ => SqlKind::Other,
    }
}

/// Prepares every statement with its parameters' types (as the runtime binds them: key parts
/// as `int8`/`text`, the limit as `int8`), so the server checks it as it will run.
async fn prepare_all(
    conn: &mut PgConnection,
    def: &'static Definition,
    stmts: &'static Statements,
) -> Result<(), Error> {
    let columns = coerce::target_column_types::<PgEngine>(conn, def).await?;
    for (name, stmt) in stmts.named() {
        let types: Vec<PgTypeInfo> = stmt
            .params
            .iter()
            .map(|param| match param {
                Param::Cursor(i) | Param::Hi(i) => match def.key.get(*i).map(|k| k.kind) {
                    // Unspecified: the server types it as the key it is compared with.
                    Some(KeyKind::Text) => PgTypeInfo::with_oid(Oid(0)),
                    Some(KeyKind::Bytes) => <Vec<u8> as Type<Postgres>>::type_info(),
                    _ => <i64 as Type<Postgres>>::type_info(),
                },
                Param::Limit | Param::Offset => <i64 as Type<Postgres>>::type_info(),
            })
            .collect();
        let sql = coerce::fill::<PgEngine>(def, stmt, &columns)?.sql;
        (&mut *conn)
            .prepare_with(crate::engine::sql_text::assembled(sql.as_str()), &types)
            .await
            .map_err(|e| prepare_error(ENGINE, def, name, &sql, e))?;
    }
    Ok(())
}
