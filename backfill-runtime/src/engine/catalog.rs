//! What every engine's catalog reader (`engine/<engine>/catalog.rs`) returns: a table's
//! columns and unique keys ([`TableShape`]), the failed read ([`CatalogError`]), and the one
//! [`TableName`] the runtime parses a programmer's table name into. Preflight, the progress
//! table and the filling of statements' holes all read a table through these types.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]

use crate::definition::{Definition, Engine};
use crate::error::Error;

/// A table name as the programmer wrote it (`table = "..."`, `RunOptions::progress_table`):
/// `name`, or `schema.name` (a PostgreSQL schema, a MySQL database, an attached SQLite
/// database), each part unquoted and trimmed. Nothing else is a table name: `a.b.c` is refused
/// rather than read as schema `a` and table `b.c` (the derive refuses it at compile time; a
/// progress table named so is an options error). Quotes and spaces inside a part belong to the
/// name: the SQL quotes every part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    /// The schema (PostgreSQL), database (MySQL) or attached database (SQLite), if written.
    pub schema: Option<String>,
    /// The table's own name.
    pub name: String,
}

impl TableName {
    /// Parses `name` or `schema.name`.
    pub(crate) fn parse(written: &str) -> Result<TableName, Error> {
        let invalid = || {
            Error::Options(format!(
                "table name {written:?} is not `name` or `schema.name`: use a plain name, optionally qualified by one schema"
            ))
        };
        let parts: Vec<&str> = written.split('.').map(str::trim).collect();
        match parts.as_slice() {
            [name] if !name.is_empty() => Ok(TableName {
                schema: None,
                name: name.to_string(),
            }),
            [schema, name] if !schema.is_empty() && !name.is_empty() => Ok(TableName {
                schema: Some(schema.to_string()),
                name: name.to_string(),
            }),
            _ => Err(invalid()),
        }
    }
}

/// One column of a table as its engine's catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CatalogColumn {
    /// The column's name as stored.
    pub name: String,
    /// The type as the catalog prints it, with its modifiers, for a cast to it
    /// ([`Driver::coerce`](super::Driver::coerce)) and messages: PostgreSQL `format_type` (`numeric(12,2)`,
    /// `public.citext`), MySQL `COLUMN_TYPE` (`decimal(12,2)`, `bigint(20) unsigned`), SQLite
    /// the declared type.
    pub sql_type: String,
    /// The type's bare name, for classifying it: PostgreSQL `typname` with domains resolved
    /// (`int4`), MySQL `DATA_TYPE` (`int`), SQLite the declared type.
    pub base_type: String,
    /// MySQL: the character set of a text column.
    pub charset: Option<String>,
    /// NOT NULL without a default and not filled by the database (identity, generated,
    /// AUTO_INCREMENT, the rowid alias): an INSERT must name it.
    pub required: bool,
}

/// A unique index (or primary key) of a table, as its engine's catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UniqueKey {
    /// The index's name (`PRIMARY KEY` for SQLite's primary key, which may have no index).
    pub name: String,
    /// Its key columns in order; `None` for an expression part.
    pub columns: Vec<Option<String>>,
    /// Some part indexes only a prefix of its column (MySQL `col(10)`).
    pub prefix: bool,
    /// The table's primary key (its columns are NOT NULL; InnoDB and a SQLite `WITHOUT ROWID`
    /// table store rows in its order).
    pub primary: bool,
}

/// The columns and unique keys of an existing table: what [`Driver::table_shape`](super::Driver::table_shape) reads, for
/// the progress table, the coercion of statements' holes and preflight alike.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableShape {
    /// Every column, in the table's order.
    pub columns: Vec<CatalogColumn>,
    /// Each unique index (primary key included), the primary key first. PostgreSQL lists only
    /// those `ON CONFLICT` can infer (valid, immediate, not partial, no expressions).
    pub unique_keys: Vec<UniqueKey>,
}

impl TableShape {
    /// The columns an INSERT must name.
    pub(crate) fn required_columns(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|c| c.required)
            .map(|c| c.name.clone())
            .collect()
    }
}

/// A catalog read that failed: which read, and the database's error.
#[derive(Debug)]
pub(crate) struct CatalogError {
    /// What was being read (`reading the columns`), for the message.
    pub reading: &'static str,
    /// The database's error.
    pub source: sqlx::Error,
}

impl CatalogError {
    /// Wraps a failed read described by `reading` (for `map_err`).
    pub(crate) fn reading(reading: &'static str) -> impl FnOnce(sqlx::Error) -> CatalogError {
        move |source| CatalogError { reading, source }
    }

    /// The error of a failed read during preflight of `def` on `engine`.
    pub(crate) fn in_preflight(self, engine: Engine, def: &Definition) -> Error {
        Error::database(
            crate::preflight::catalog_context(engine, def, self.reading),
            self.source,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_parse_with_and_without_schema() {
        assert_eq!(
            TableName::parse("backfill_progress").unwrap(),
            TableName {
                schema: None,
                name: "backfill_progress".into()
            }
        );
        assert_eq!(
            TableName::parse("ops.progress").unwrap().schema.as_deref(),
            Some("ops")
        );
        assert!(TableName::parse("a.b.c").is_err());
        assert!(TableName::parse(".x").is_err());
        // Quotes and spaces belong to the name; only a dot separates the schema.
        assert_eq!(
            TableName::parse("user's \"stats\"").unwrap(),
            TableName {
                schema: None,
                name: "user's \"stats\"".into()
            }
        );
    }
}
