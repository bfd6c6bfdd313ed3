//! MySQL/MariaDB preflight: the engine-agnostic rules of [`crate::preflight`] applied to what
//! [`catalog`](super::catalog) reads, the other-unique-key rule, the key probe's column types
//! and collations, and a server-side prepare of every statement.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]

use sqlx::mysql::MySqlConnection;
use sqlx::MySqlPool;

use super::{catalog, MySqlEngine};
use crate::coerce;
use crate::definition::{Definition, Engine, Statements};
use crate::engine::{TableName, UniqueKey};
use crate::error::Error;
use crate::preflight::{
    catalog_context, check_key_types, fetch_key_probe, missing_column, missing_table,
    no_required_column_left_out, no_unique_index, prepare_all, same_ignore_case, type_mismatch,
    KeyClass, KeyProbe, KeySide, SqlKind,
};

const ENGINE: Engine = Engine::MySql;

/// Checks the target of `def` on MySQL/MariaDB and prepares every statement; writes nothing.
pub(crate) async fn check_mysql(
    pool: &MySqlPool,
    def: &'static Definition,
    stmts: &'static Statements,
) -> Result<(), Error> {
    let mut conn = pool.acquire().await.map_err(|e| {
        Error::database(catalog_context(ENGINE, def, "connecting to the server"), e)
    })?;
    check_schema(&mut conn, def).await?;
    check_key_types(def, &probe_keys(&mut conn, def, stmts).await?)?;
    let columns = coerce::target_column_types::<MySqlEngine>(&mut conn, def).await?;
    let filled = |stmt| coerce::fill::<MySqlEngine>(def, stmt, &columns).map(|f| f.sql);
    prepare_all::<sqlx::MySql>(&mut conn, ENGINE, def, stmts, &filled).await
}

/// Runs the key probe (it reads no row) and classifies each part from the result's column
/// types and collations.
async fn probe_keys(
    conn: &mut MySqlConnection,
    def: &'static Definition,
    stmts: &'static Statements,
) -> Result<Vec<KeyProbe>, Error> {
    use sqlx::{Column as _, Row as _, TypeInfo as _};
    let row = fetch_key_probe::<sqlx::MySql>(conn, ENGINE, def, stmts).await?;
    let side = |i: usize| -> KeySide {
        let type_name = row
            .columns()
            .get(i)
            .map(|c| c.type_info().name().to_string())
            .unwrap_or_default();
        let collation: Option<String> = row.try_get(i + 2).ok().flatten();
        let binary = collation.as_deref() == Some("binary");
        let upper = type_name.to_ascii_uppercase();
        let class = if upper.contains("INT") || upper == "BOOLEAN" {
            KeyClass::Integer {
                unsigned: upper.contains("UNSIGNED"),
                wide_unsigned: upper == "BIGINT UNSIGNED",
            }
        } else if matches!(upper.as_str(), "DECIMAL" | "DOUBLE" | "FLOAT") {
            KeyClass::Fraction
        } else if upper.contains("CHAR")
            || upper.contains("TEXT")
            || upper.contains("BINARY")
            || upper.contains("BLOB")
            || upper == "ENUM"
            || upper == "SET"
        {
            if binary {
                KeyClass::Binary
            } else {
                KeyClass::Text {
                    case_insensitive: false,
                }
            }
        } else if upper == "NULL" {
            KeyClass::Unknown
        } else {
            KeyClass::Other
        };
        KeySide {
            type_name,
            class,
            collation,
        }
    };
    Ok((0..def.key.len())
        .map(|part| KeyProbe {
            source: side(part * 4),
            target: side(part * 4 + 1),
        })
        .collect())
}

async fn check_schema(conn: &mut MySqlConnection, def: &'static Definition) -> Result<(), Error> {
    let table = TableName::parse(def.table)?;
    let shape = catalog::read_table(conn, &table)
        .await
        .map_err(|e| e.in_preflight(ENGINE, def))?;
    let Some(shape) = shape else {
        return Err(missing_table(ENGINE, def));
    };
    let mut typed = Vec::with_capacity(def.columns.len());
    for column in def.columns {
        match shape
            .columns
            .iter()
            .find(|c| same_ignore_case(&c.name, column.column))
        {
            Some(found) => typed.push((column, found)),
            None => return Err(missing_column(def, column)),
        }
    }
    no_required_column_left_out(def, &shape.required_columns(), same_ignore_case)?;

    let is_key = |index: &UniqueKey| index.covers_exactly_key(def, same_ignore_case);
    if !shape.unique_keys.iter().any(is_key) {
        return Err(no_unique_index(ENGINE, def));
    }
    // In place there is no INSERT, so no ON DUPLICATE KEY to fire on another index.
    if !def.allow_other_unique_keys && !def.in_place {
        if let Some(other) = shape.unique_keys.iter().find(|i| !is_key(i)) {
            return Err(Error::OtherUniqueKey {
                table: def.table.to_string(),
                index: other.name.clone(),
                columns: other.columns_text(),
                key: def
                    .key
                    .iter()
                    .map(|k| k.column)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }

    for (column, found) in typed {
        if let Some(error) = type_mismatch(
            def,
            column,
            sql_kind(&found.base_type, &found.sql_type),
            &found.sql_type,
        ) {
            return Err(error);
        }
    }
    Ok(())
}

/// Classifies a MySQL column from `DATA_TYPE` (`int`) and `COLUMN_TYPE` (`int(10) unsigned`).
fn sql_kind(data_type: &str, column_type: &str) -> SqlKind {
    let unsigned = column_type.to_ascii_lowercase().contains("unsigned");
    let int = |signed: i128, unsigned_max: i128| SqlKind::Int {
        max: if unsigned { unsigned_max } else { signed },
    };
    match data_type.to_ascii_lowercase().as_str() {
        "tinyint" => int(i8::MAX.into(), u8::MAX.into()),
        "smallint" => int(i16::MAX.into(), u16::MAX.into()),
        "mediumint" => int((1 << 23) - 1, (1 << 24) - 1),
        "int" | "integer" => int(i32::MAX.into(), u32::MAX.into()),
        "bigint" => int(i64::MAX.into(), u64::MAX.into()),
        "decimal" | "numeric" => SqlKind::Numeric,
        "float" | "double" | "real" => SqlKind::Float,
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => SqlKind::Text,
        "date" | "datetime" | "timestamp" | "time" => SqlKind::Temporal,
        "json" => SqlKind::Json,
        _ => SqlKind::Other,
    }
}
