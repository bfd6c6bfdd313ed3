//! PostgreSQL preflight: the engine-agnostic rules of [`crate::preflight`] applied to what
//! [`catalog`](super::catalog) reads, the key probe's types, and a server-side prepare of every
//! statement with the parameter types the runtime binds.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]

use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgConnection, PgTypeInfo};
use sqlx::{Executor, PgPool, Postgres, Type};

use super::{catalog, PgEngine};
use crate::coerce;
use crate::definition::{Definition, Engine, KeyKind, Param, Statements};
use crate::engine::TableName;
use crate::error::Error;
use crate::preflight::{
    catalog_context, check_key_types, fetch_key_probe, missing_column, missing_table,
    no_required_column_left_out, no_unique_index, prepare_error, same_exact, type_mismatch,
    KeyClass, KeyProbe, KeySide, SqlKind,
};

const ENGINE: Engine = Engine::Postgres;

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

/// Runs the key probe (it reads no row): the type oid and collation of every source key
/// expression and target key column, then their base types from the catalog.
async fn probe_keys(
    conn: &mut PgConnection,
    def: &'static Definition,
    stmts: &'static Statements,
) -> Result<Vec<KeyProbe>, Error> {
    use sqlx::Row as _;
    let row = fetch_key_probe::<sqlx::Postgres>(conn, ENGINE, def, stmts).await?;
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
    let types = catalog::base_types(conn, &oids)
        .await
        .map_err(|e| e.in_preflight(ENGINE, def))?;
    let side = |i: usize| -> KeySide {
        let (base, name, is_enum) = types
            .iter()
            .find(|t| t.oid == oids[i])
            .map_or(("", "unknown".to_string(), false), |t| {
                (t.base.as_str(), t.name.clone(), t.is_enum)
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
    let table = TableName::parse(def.table)?;
    let shape = catalog::read_table(conn, &table)
        .await
        .map_err(|e| e.in_preflight(ENGINE, def))?;
    let Some(shape) = shape else {
        return Err(missing_table(ENGINE, def));
    };
    let mut typed = Vec::with_capacity(def.columns.len());
    for column in def.columns {
        match shape.columns.iter().find(|c| c.name == column.column) {
            Some(found) => typed.push((column, found)),
            None => return Err(missing_column(def, column)),
        }
    }
    no_required_column_left_out(def, &shape.required_columns(), same_exact)?;

    if !shape
        .unique_keys
        .iter()
        .any(|index| index.covers_exactly_key(def, same_exact))
    {
        return Err(no_unique_index(ENGINE, def));
    }

    for (column, found) in typed {
        if let Some(error) = type_mismatch(def, column, sql_kind(&found.base_type), &found.sql_type)
        {
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
