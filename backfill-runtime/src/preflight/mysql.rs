//! MySQL/MariaDB preflight: `information_schema` lookups (names bound; the default database is
//! `DATABASE()`), the other-unique-key rule, and a server-side prepare of every statement.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]

use sqlx::mysql::MySqlConnection;
use sqlx::MySqlPool;

use super::{
    catalog_context, check_key_types, covers_exactly_key, missing_column, missing_table,
    no_required_column_left_out, no_unique_index, prepare_all, prepare_error, same_ignore_case,
    type_mismatch, KeyClass, KeyProbe, KeySide, SqlKind, TableName,
};
use crate::coerce;
use crate::definition::{Definition, Engine, Statements};
use crate::engine::mysql::MySqlEngine;
use crate::error::Error;

const ENGINE: Engine = Engine::MySql;

/// Candidate tables; the exact match is picked in Rust, since `information_schema` compares
/// with a case-insensitive collation while table names are case-sensitive on most servers.
const TABLE_SQL: &str = "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR) \
     FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?";

/// `lower_case_table_names`: 0 means table names are compared exactly.
const CASE_SQL: &str = "SELECT CAST(@@lower_case_table_names AS SIGNED)";

const COLUMNS_SQL: &str = "SELECT CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR), \
       CAST(COLUMN_TYPE AS CHAR), \
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

/// One unique index: its name, its columns (`None` for an expression), whether any part is a
/// prefix.
struct UniqueIndex {
    name: String,
    columns: Vec<Option<String>>,
    prefix: bool,
}

impl UniqueIndex {
    /// Whether the index enforces uniqueness of exactly the key columns.
    fn is_key(&self, def: &Definition) -> bool {
        if self.prefix {
            return false;
        }
        let columns: Option<Vec<String>> = self.columns.iter().cloned().collect();
        columns.is_some_and(|c| covers_exactly_key(def, &c, same_ignore_case))
    }

    fn columns_text(&self) -> String {
        let parts: Vec<&str> = self
            .columns
            .iter()
            .map(|c| c.as_deref().unwrap_or("<expression>"))
            .collect();
        parts.join(", ")
    }
}

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
    let table = TableName::parse(def.table);
    let lookup = |what: &'static str| {
        move |e: sqlx::Error| Error::database(catalog_context(ENGINE, def, what), e)
    };

    let case_mode: Option<i64> = sqlx::query_scalar(CASE_SQL)
        .fetch_one(&mut *conn)
        .await
        .map_err(lookup("reading lower_case_table_names"))?;
    let exact_case = case_mode.unwrap_or(0) == 0;
    let same_name = |stored: &str, written: &str| {
        if exact_case {
            stored == written
        } else {
            stored.eq_ignore_ascii_case(written)
        }
    };
    let candidates: Vec<(String, String)> = sqlx::query_as(TABLE_SQL)
        .bind(table.schema)
        .bind(table.name)
        .fetch_all(&mut *conn)
        .await
        .map_err(lookup("looking up the table"))?;
    let found = candidates.into_iter().find(|(schema, name)| {
        same_name(name, table.name) && table.schema.is_none_or(|s| same_name(schema, s))
    });
    let Some((schema, name)) = found else {
        return Err(missing_table(ENGINE, def));
    };

    let columns: Vec<(String, String, String, i64)> = sqlx::query_as(COLUMNS_SQL)
        .bind(&schema)
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .map_err(lookup("reading the columns"))?;
    let mut typed = Vec::with_capacity(def.columns.len());
    for column in def.columns {
        match columns
            .iter()
            .find(|(stored, ..)| same_ignore_case(stored, column.column))
        {
            Some((_, data_type, column_type, _)) => typed.push((column, data_type, column_type)),
            None => return Err(missing_column(def, column)),
        }
    }
    let required: Vec<String> = columns
        .iter()
        .filter(|c| c.3 != 0)
        .map(|c| c.0.clone())
        .collect();
    no_required_column_left_out(def, &required, same_ignore_case)?;

    let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(INDEXES_SQL)
        .bind(&schema)
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .map_err(lookup("reading the indexes"))?;
    let mut indexes: Vec<UniqueIndex> = Vec::new();
    for (index, column, prefix) in rows {
        match indexes.last_mut() {
            Some(last) if last.name == index => {
                last.columns.push(column);
                last.prefix |= prefix != 0;
            }
            _ => indexes.push(UniqueIndex {
                name: index,
                columns: vec![column],
                prefix: prefix != 0,
            }),
        }
    }
    if !indexes.iter().any(|i| i.is_key(def)) {
        return Err(no_unique_index(ENGINE, def));
    }
    if !def.allow_other_unique_keys {
        if let Some(other) = indexes.iter().find(|i| !i.is_key(def)) {
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

    for (column, data_type, column_type) in typed {
        if let Some(error) =
            type_mismatch(def, column, sql_kind(data_type, column_type), column_type)
        {
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
