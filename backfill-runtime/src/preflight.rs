//! Preflight: catalog checks before the first write of a run (and all of `check`).
//!
//! In order, the first failure wins: the target table exists; every target column exists; a
//! PRIMARY KEY or UNIQUE index covers exactly the key columns (any order), so the upsert has
//! something to conflict on; on MySQL no other unique index exists (unless
//! `allow_other_unique_keys`); each target column's type can hold its field's Rust type; every
//! generated statement prepares on the server. Catalogs are read with the names bound as values,
//! never formatted into SQL, and nothing is written.
//!
//! This module holds what is engine-agnostic (classifying Rust and SQL types, matching key
//! columns, the suggested `CREATE UNIQUE INDEX`, the messages); each engine's preflight
//! (`engine/<engine>/preflight.rs`) applies these rules to what its catalog reader
//! (`engine/<engine>/catalog.rs`) returns.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]
// With only some engines enabled, the helpers and kinds only the others use are unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code, unused_imports)
)]

use crate::definition::{Definition, Engine, KeyKind, Statements, Stmt, TargetColumn};
use crate::engine::{TableName, UniqueKey};
use crate::error::Error;

impl UniqueKey {
    /// Whether the index enforces uniqueness of exactly the key columns of `def`: every part a
    /// whole column (no expression, no prefix), the same set as the key in any order.
    pub(crate) fn covers_exactly_key(
        &self,
        def: &Definition,
        same: fn(&str, &str) -> bool,
    ) -> bool {
        if self.prefix {
            return false;
        }
        let columns: Option<Vec<String>> = self.columns.iter().cloned().collect();
        columns.is_some_and(|c| covers_exactly_key(def, &c, same))
    }

    /// Its columns for a message, `<expression>` for an expression part.
    pub(crate) fn columns_text(&self) -> String {
        let parts: Vec<&str> = self
            .columns
            .iter()
            .map(|c| c.as_deref().unwrap_or("<expression>"))
            .collect();
        parts.join(", ")
    }
}

/// An engine-valid `CREATE UNIQUE INDEX` on the key columns of `def`, every identifier quoted.
pub(crate) fn unique_index_suggestion(engine: Engine, def: &Definition) -> String {
    // The derive refuses any table that is not `name` or `schema.name`; a hand-written
    // definition's other name is quoted whole.
    let table = TableName::parse(def.table).unwrap_or_else(|_| TableName {
        schema: None,
        name: def.table.to_string(),
    });
    let key: Vec<&str> = def.key.iter().map(|k| k.column).collect();
    // An index name of at most 60 characters: every engine accepts it (MySQL's limit is 64).
    let mut index: String = format!("{}_{}_key", table.name, key.join("_"))
        .chars()
        .take(60)
        .collect();
    if index.is_empty() {
        index.push_str("backfill_key");
    }
    let columns: Vec<String> = key.iter().map(|c| engine.quote_ident(c)).collect();
    let columns = columns.join(", ");
    match (engine, &table.schema) {
        // SQLite puts the schema on the index, and the table must be in that schema.
        (Engine::Sqlite, Some(schema)) => format!(
            "CREATE UNIQUE INDEX {}.{} ON {} ({columns})",
            engine.quote_ident(schema),
            engine.quote_ident(&index),
            engine.quote_ident(&table.name)
        ),
        (_, Some(schema)) => format!(
            "CREATE UNIQUE INDEX {} ON {}.{} ({columns})",
            engine.quote_ident(&index),
            engine.quote_ident(schema),
            engine.quote_ident(&table.name)
        ),
        (_, None) => format!(
            "CREATE UNIQUE INDEX {} ON {} ({columns})",
            engine.quote_ident(&index),
            engine.quote_ident(&table.name)
        ),
    }
}

/// The error for a missing target table.
pub(crate) fn missing_table(engine: Engine, def: &Definition) -> Error {
    Error::MissingTable {
        table: def.table.to_string(),
        key: def.key_columns(),
        engine,
    }
}

/// The error for a target column that does not exist.
pub(crate) fn missing_column(def: &Definition, column: &TargetColumn) -> Error {
    Error::MissingColumn {
        table: def.table.to_string(),
        column: column.column.to_string(),
        field: column.field.to_string(),
    }
}

/// The error for a target without a unique index on exactly the key columns.
pub(crate) fn no_unique_index(engine: Engine, def: &Definition) -> Error {
    Error::NoUniqueIndex {
        table: def.table.to_string(),
        columns: def
            .key
            .iter()
            .map(|k| k.column)
            .collect::<Vec<_>>()
            .join(", "),
        suggestion: unique_index_suggestion(engine, def),
    }
}

/// Whether `index_columns` are exactly the key columns of `def`, in any order. `same` compares
/// two column names the way the engine does (exactly on PostgreSQL, ignoring ASCII case on
/// MySQL and SQLite).
pub(crate) fn covers_exactly_key(
    def: &Definition,
    index_columns: &[String],
    same: fn(&str, &str) -> bool,
) -> bool {
    if index_columns.len() != def.key.len() {
        return false;
    }
    let key_in_index = def
        .key
        .iter()
        .all(|k| index_columns.iter().any(|c| same(c, k.column)));
    let index_in_key = index_columns
        .iter()
        .all(|c| def.key.iter().any(|k| same(c, k.column)));
    key_in_index && index_in_key
}

/// Exact comparison of names (PostgreSQL identifiers, quoted).
pub(crate) fn same_exact(a: &str, b: &str) -> bool {
    a == b
}

/// Comparison ignoring ASCII case (MySQL column names, SQLite identifiers).
pub(crate) fn same_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// What a Rust field type is, as far as the type check cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RustKind {
    /// An integer type with its largest value.
    Int { max: i128 },
    /// `f32`, `f64`.
    Float,
    /// `rust_decimal::Decimal`, `bigdecimal::BigDecimal`.
    Decimal,
    /// `String`, `&str`, `Cow<str>`.
    Text,
    /// `bool`.
    Bool,
    /// A date, time or timestamp type (chrono, time).
    Temporal,
    /// `serde_json::Value`, `sqlx::types::Json<T>`.
    Json,
    /// Anything else: not checked.
    Other,
}

/// Classifies a Rust type as written in the struct (`Option<i64>`, `chrono::NaiveDateTime`).
pub(crate) fn rust_kind(ty: &str) -> RustKind {
    let mut ty: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
    // Unwrap `Option<...>` (any path to it) as often as it is nested.
    loop {
        let inner = ty
            .strip_suffix('>')
            .and_then(|t| t.split_once('<'))
            .filter(|(outer, _)| last_segment(outer) == "Option")
            .map(|(_, inner)| inner.to_string());
        match inner {
            Some(inner) => ty = inner,
            None => break,
        }
    }
    if ty.starts_with('&') {
        return if ty.ends_with("str") {
            RustKind::Text
        } else {
            RustKind::Other
        };
    }
    let outer = ty.split_once('<').map_or(ty.as_str(), |(outer, _)| outer);
    let int = |max: i128| RustKind::Int { max };
    match last_segment(outer) {
        "i8" => int(i8::MAX.into()),
        "i16" => int(i16::MAX.into()),
        "i32" => int(i32::MAX.into()),
        "i64" | "isize" => int(i64::MAX.into()),
        "i128" => int(i128::MAX),
        "u8" => int(u8::MAX.into()),
        "u16" => int(u16::MAX.into()),
        "u32" => int(u32::MAX.into()),
        "u64" | "usize" | "u128" => int(u64::MAX.into()),
        "f32" | "f64" => RustKind::Float,
        "Decimal" | "BigDecimal" => RustKind::Decimal,
        "String" | "str" | "Cow" => RustKind::Text,
        "bool" => RustKind::Bool,
        "NaiveDateTime" | "NaiveDate" | "NaiveTime" | "DateTime" | "OffsetDateTime"
        | "PrimitiveDateTime" | "Date" | "Time" => RustKind::Temporal,
        "Value" | "JsonValue" | "Json" => RustKind::Json,
        _ => RustKind::Other,
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

/// What a target column's SQL type is, as far as the type check cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqlKind {
    /// An integer column with its largest value.
    Int { max: i128 },
    /// `numeric`/`decimal`.
    Numeric,
    /// A floating point column.
    Float,
    /// A text column.
    Text,
    /// A boolean column.
    Bool,
    /// A date, time, timestamp or interval column.
    Temporal,
    /// A JSON type with an equality operator (`jsonb`, MySQL `json`).
    Json,
    /// PostgreSQL `json`: no equality operator, so the unchanged-row guard cannot compare it.
    JsonWithoutEquality,
    /// Anything else: not checked.
    Other,
}

/// Whether a field of kind `rust` fits a column of kind `sql`: `None` if it does (or the
/// combination is not clearly wrong), else the hint of the error. Deliberately conservative:
/// only what cannot hold the value is rejected.
pub(crate) fn type_mismatch_hint(rust: RustKind, sql: SqlKind) -> Option<String> {
    match (rust, sql) {
        (_, SqlKind::JsonWithoutEquality) => Some(
            "use jsonb: the json type has no equality operator, so the upsert cannot tell an \
             unchanged row from a changed one (ALTER the column to jsonb)"
                .to_string(),
        ),
        (RustKind::Int { max: field }, SqlKind::Int { max: column }) if field > column => {
            Some(format!(
                "the column holds values up to {column} but the field's type allows {field}; \
                 widen the column (e.g. to bigint) or use a narrower field type"
            ))
        }
        (RustKind::Int { .. } | RustKind::Float | RustKind::Decimal, SqlKind::Temporal) => Some(
            "a number cannot be stored in a date/time column; map a date/time expression to a \
             date/time field type (e.g. chrono::NaiveDateTime), or change the column's type"
                .to_string(),
        ),
        (RustKind::Text, SqlKind::Int { .. } | SqlKind::Numeric | SqlKind::Float) => Some(
            "text cannot be stored in a numeric column; use a numeric field type, or change the \
             column to a text type"
                .to_string(),
        ),
        (RustKind::Temporal, SqlKind::Int { .. } | SqlKind::Numeric | SqlKind::Float) => Some(
            "a date/time cannot be stored in a numeric column; change the column to a date/time \
             type, or map the field to a number"
                .to_string(),
        ),
        _ => None,
    }
}

/// The type-mismatch error of `column`, if its SQL type cannot hold the field.
pub(crate) fn type_mismatch(
    def: &Definition,
    column: &TargetColumn,
    sql_kind: SqlKind,
    sql_type: &str,
) -> Option<Error> {
    type_mismatch_hint(rust_kind(column.rust_type), sql_kind).map(|hint| Error::TypeMismatch {
        table: def.table.to_string(),
        column: column.column.to_string(),
        sql_type: sql_type.to_string(),
        field: column.field.to_string(),
        rust_type: column.rust_type.to_string(),
        hint,
    })
}

/// Refuses an upsert that leaves out one of `required` (NOT NULL columns without a default):
/// its INSERT half cannot build a new row. In place, rows are only updated: nothing is needed.
pub(crate) fn no_required_column_left_out(
    def: &Definition,
    required: &[String],
    same: fn(&str, &str) -> bool,
) -> Result<(), Error> {
    if def.in_place {
        return Ok(());
    }
    match required
        .iter()
        .find(|r| !def.columns.iter().any(|c| same(c.column, r)))
    {
        Some(column) => Err(Error::RequiredColumnLeftOut {
            table: def.table.to_string(),
            column: column.clone(),
            name: def.name.to_string(),
        }),
        None => Ok(()),
    }
}

/// How a key's values order and compare, as far as the batch ranges care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyClass {
    /// An integer type; `wide_unsigned` for MySQL `BIGINT UNSIGNED` (beyond `i64`).
    Integer {
        /// Unsigned.
        unsigned: bool,
        /// Unsigned 64-bit: values above `i64::MAX`.
        wide_unsigned: bool,
    },
    /// A type that can hold fractions (numeric, decimal, float).
    Fraction,
    /// Text; `case_insensitive` for a type that compares ignoring case (`citext`).
    Text {
        /// The type itself ignores case (PostgreSQL `citext`).
        case_insensitive: bool,
    },
    /// A binary string.
    Binary,
    /// Another type, by its name.
    Other,
    /// The server did not say (SQLite expressions): not checked.
    Unknown,
}

/// One side of a key part as the server describes it.
#[derive(Debug, Clone)]
pub(crate) struct KeySide {
    /// The type's name as the server prints it.
    pub type_name: String,
    /// Its class.
    pub class: KeyClass,
    /// Its collation, where the engine can tell.
    pub collation: Option<String>,
}

/// The source key expression and the target key column of one key part.
#[derive(Debug, Clone)]
pub(crate) struct KeyProbe {
    /// The source key expression.
    pub source: KeySide,
    /// The target key column.
    pub target: KeySide,
}

/// Refuses a key whose values the runtime cannot read back exactly as the field's type, or
/// whose source and target compare keys differently: each would make batches repeat a range
/// forever or split one key's rows across two batches.
pub(crate) fn check_key_types(def: &Definition, probes: &[KeyProbe]) -> Result<(), Error> {
    for (part, probe) in def.key.iter().zip(probes) {
        let refuse = |problem: String, hint: String| Error::KeyType {
            table: def.table.to_string(),
            column: part.column.to_string(),
            field: part.field.to_string(),
            rust_type: def
                .columns
                .iter()
                .find(|c| c.field == part.field)
                .map_or("?", |c| c.rust_type)
                .to_string(),
            problem,
            hint,
        };
        for (side, what) in [
            (&probe.source, "the source key expression"),
            (&probe.target, "the target key column"),
        ] {
            if let Some((problem, hint)) = key_type_mismatch(part.kind, side, what) {
                return Err(refuse(problem, hint));
            }
        }
        let (source, target) = (&probe.source, &probe.target);
        if let (
            KeyClass::Text {
                case_insensitive: source_ignores_case,
            },
            KeyClass::Text {
                case_insensitive: target_ignores_case,
            },
        ) = (&source.class, &target.class)
        {
            if source_ignores_case != target_ignores_case {
                return Err(refuse(
                    format!(
                        "the source key has type {} but the target column has type {}, and only one of them ignores case, so keys equal in one are distinct in the other",
                        source.type_name, target.type_name
                    ),
                    format!(
                        "cast the source key to the target's type in `expr` (e.g. `CAST(... AS {})`) or give both the same type",
                        target.type_name
                    ),
                ));
            }
        }
        if let (Some(source_collation), Some(target_collation)) =
            (&source.collation, &target.collation)
        {
            if source_collation != target_collation && matches!(source.class, KeyClass::Text { .. })
            {
                return Err(refuse(
                    format!(
                        "the source key has collation {source_collation} but the target column has collation {target_collation}: batches are cut in the source's order and compared in the target's, so keys would fall in the wrong range"
                    ),
                    format!(
                        "give the source key the target's collation in `expr`, e.g. `expr = \"e.{} COLLATE {target_collation}\"`, or use the same collation for both columns",
                        part.column
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Why `side` cannot hold keys of `kind`, with what to write instead; `None` if it can.
fn key_type_mismatch(kind: KeyKind, side: &KeySide, what: &str) -> Option<(String, String)> {
    let ty = &side.type_name;
    match (kind, &side.class) {
        (_, KeyClass::Unknown) => None,
        (KeyKind::Int, KeyClass::Integer { wide_unsigned, .. }) => wide_unsigned.then(|| {
            (
                format!("{what} has type {ty}, whose values above i64::MAX the i64 field cannot hold (they would wrap to negative keys)"),
                "declare the key field `u64`".to_string(),
            )
        }),
        (KeyKind::UInt, KeyClass::Integer { unsigned, .. }) => (!unsigned).then(|| {
            (
                format!("{what} has type {ty}, which is signed: a u64 field cannot hold its negative keys"),
                "declare the key field `i64`".to_string(),
            )
        }),
        (KeyKind::Text, KeyClass::Text { .. }) | (KeyKind::Bytes, KeyClass::Binary) => None,
        (KeyKind::Int | KeyKind::UInt, KeyClass::Fraction) => Some((
            format!("{what} has type {ty}, which can hold fractions: an integer field would round the key, and a range could repeat or skip keys"),
            "make the key an integer in `expr` (e.g. `CAST(... AS BIGINT)`, `x DIV 2` on MySQL), or use an integer column".to_string(),
        )),
        (KeyKind::Text, KeyClass::Binary) => Some((
            format!("{what} is a binary string ({ty}): its bytes need not be UTF-8 and compare byte by byte, which a String key cannot round-trip"),
            "declare the key field `Vec<u8>`".to_string(),
        )),
        (KeyKind::Bytes, KeyClass::Text { .. }) => Some((
            format!("{what} has type {ty}, which compares by its collation, not byte by byte as a Vec<u8> key binds"),
            "declare the key field `String`".to_string(),
        )),
        (_, KeyClass::Integer { .. }) => Some((
            format!("{what} has type {ty}, an integer"),
            "declare the key field as an integer (`i64`)".to_string(),
        )),
        (KeyKind::Int | KeyKind::UInt, _) => Some((
            format!("{what} has type {ty}, which is not an integer"),
            "make the key an integer in `expr`, or declare the field with the key's type (`String`, `Vec<u8>`)".to_string(),
        )),
        (KeyKind::Text, _) => Some((
            format!("{what} has type {ty}, which is not text"),
            "cast it to text in `expr` (e.g. `CAST(... AS TEXT)`), or declare the field with the key's type".to_string(),
        )),
        (KeyKind::Bytes, _) => Some((
            format!("{what} has type {ty}, which is not a binary string"),
            "declare the field with the key's type".to_string(),
        )),
    }
}

/// Turns a failed prepare into [`Error::Prepare`] (a server's refusal) or [`Error::Database`]
/// (the connection failed).
pub(crate) fn prepare_error(
    engine: Engine,
    def: &Definition,
    statement: &str,
    sql: &str,
    error: sqlx::Error,
) -> Error {
    match error {
        sqlx::Error::Database(db) => Error::Prepare {
            statement: statement.to_string(),
            table: def.table.to_string(),
            engine,
            message: db.message().to_string(),
            sql: sql.to_string(),
        },
        other => Error::database(
            format!(
                "preflight of {} on {engine}: preparing the {statement} statement",
                def.table
            ),
            other,
        ),
    }
}

/// Prepares every statement of `stmts` on the server, which checks their tables and columns
/// (MySQL's COM_STMT_PREPARE, SQLite's compiler, which also checks the conflict target);
/// PostgreSQL's preflight prepares with explicit parameter types instead.
#[cfg(any(feature = "mysql", feature = "sqlite"))]
pub(crate) async fn prepare_all<DB>(
    conn: &mut DB::Connection,
    engine: Engine,
    def: &'static Definition,
    stmts: &'static Statements,
    filled: &(dyn Fn(&'static Stmt) -> Result<String, Error> + Sync),
) -> Result<(), Error>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    for (name, stmt) in stmts.named() {
        let sql = filled(stmt)?;
        sqlx::Executor::prepare(&mut *conn, crate::engine::sql_text::assembled(sql.as_str()))
            .await
            .map_err(|e| prepare_error(engine, def, name, &sql, e))?;
    }
    Ok(())
}

/// Runs the generated key probe (it reads no row) and returns its one row, for the engine's
/// own reading of the key parts' types and collations; a failure names the statement.
pub(crate) async fn fetch_key_probe<DB>(
    conn: &mut DB::Connection,
    engine: Engine,
    def: &'static Definition,
    stmts: &'static Statements,
) -> Result<DB::Row, Error>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    sqlx::query::<DB>(stmts.key_probe.sql)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| {
            prepare_error(
                engine,
                def,
                "key types and collations",
                stmts.key_probe.sql,
                e,
            )
        })
}

/// The context of a catalog query that failed.
pub(crate) fn catalog_context(engine: Engine, def: &Definition, what: &str) -> String {
    format!("preflight of {} on {engine}: {what}", def.table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_rust_types() {
        assert_eq!(
            rust_kind("i64"),
            RustKind::Int {
                max: i64::MAX.into()
            }
        );
        assert_eq!(
            rust_kind("Option<i32>"),
            RustKind::Int {
                max: i32::MAX.into()
            }
        );
        assert_eq!(
            rust_kind("std::option::Option < u16 >"),
            RustKind::Int { max: 65535 }
        );
        assert_eq!(rust_kind("chrono::NaiveDateTime"), RustKind::Temporal);
        assert_eq!(
            rust_kind("Option<chrono::DateTime<chrono::Utc>>"),
            RustKind::Temporal
        );
        assert_eq!(rust_kind("String"), RustKind::Text);
        assert_eq!(rust_kind("&'static str"), RustKind::Text);
        assert_eq!(rust_kind("rust_decimal::Decimal"), RustKind::Decimal);
        assert_eq!(rust_kind("serde_json::Value"), RustKind::Json);
        assert_eq!(rust_kind("Vec<u8>"), RustKind::Other);
        assert_eq!(rust_kind("uuid::Uuid"), RustKind::Other);
    }

    #[test]
    fn rejects_only_clear_mismatches() {
        let i64_ = rust_kind("i64");
        let int4 = SqlKind::Int {
            max: i32::MAX.into(),
        };
        let int8 = SqlKind::Int {
            max: i64::MAX.into(),
        };
        assert!(type_mismatch_hint(i64_, int4).is_some());
        assert!(type_mismatch_hint(i64_, int8).is_none());
        assert!(type_mismatch_hint(rust_kind("i32"), int4).is_none());
        assert!(type_mismatch_hint(i64_, SqlKind::Text).is_none());
        assert!(type_mismatch_hint(i64_, SqlKind::Numeric).is_none());
        assert!(type_mismatch_hint(rust_kind("bool"), int4).is_none());
        assert!(type_mismatch_hint(RustKind::Text, int8).is_some());
        assert!(type_mismatch_hint(RustKind::Text, SqlKind::Numeric).is_some());
        assert!(type_mismatch_hint(i64_, SqlKind::Temporal).is_some());
        assert!(type_mismatch_hint(RustKind::Json, SqlKind::JsonWithoutEquality).is_some());
        assert!(type_mismatch_hint(RustKind::Json, SqlKind::Json).is_none());
        assert!(type_mismatch_hint(RustKind::Other, int4).is_none());
    }
}
