//! SQLite preflight: the engine-agnostic rules of [`crate::preflight`] applied to what
//! [`catalog`](super::catalog) reads, the key columns' affinities, and a prepare of every
//! statement. Column types are not checked: SQLite's type affinity stores any value.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]

use sqlx::sqlite::SqliteConnection;
use sqlx::SqlitePool;

use super::{catalog, SqliteEngine};
use crate::coerce;
use crate::definition::{Definition, Engine, Statements};
use crate::engine::{CatalogColumn, TableName};
use crate::error::Error;
use crate::preflight::{
    catalog_context, check_key_types, missing_column, missing_table, no_required_column_left_out,
    no_unique_index, prepare_all, same_ignore_case, KeyClass, KeyProbe, KeySide,
};

const ENGINE: Engine = Engine::Sqlite;

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
    let table = TableName::parse(def.table)?;
    let shape = catalog::read_table(conn, &table)
        .await
        .map_err(|e| e.in_preflight(ENGINE, def))?;
    let Some(shape) = shape else {
        return Err(missing_table(ENGINE, def));
    };
    for column in def.columns {
        if !shape
            .columns
            .iter()
            .any(|c| same_ignore_case(&c.name, column.column))
        {
            return Err(missing_column(def, column));
        }
    }
    no_required_column_left_out(def, &shape.required_columns(), same_ignore_case)?;
    check_key_types(def, &key_probes(def, &shape.columns))?;

    // The primary key counts even when it has no index of its own (the rowid alias).
    if shape
        .unique_keys
        .iter()
        .any(|index| index.covers_exactly_key(def, same_ignore_case))
    {
        return Ok(());
    }
    Err(no_unique_index(ENGINE, def))
}

/// The target key columns by their declared type's affinity (SQLite's rules, section 3.1 of
/// "Datatypes In SQLite"); the source side is not described by SQLite, so it is not checked.
fn key_probes(def: &Definition, columns: &[CatalogColumn]) -> Vec<KeyProbe> {
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
                .find(|c| same_ignore_case(&c.name, part.column))
                .map(|c| c.sql_type.clone())
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
