//! Types against the schema: each field's Rust type against its column, and each expression's
//! type, inferred from its outermost form and the source's columns, against the column it is
//! written to (NULLs included).

use super::super::facts::{ColumnRef, Shape};
use super::super::fragment::Parsed;
use super::source_tables;
use crate::ctxt::{Ctxt, Message};
use crate::model::Engine;
use crate::schema::{Schema, Table};

/// What a column or a Rust type holds, as far as the check tells types apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An integer of this many bits.
    Int(u8),
    Float,
    Decimal,
    Text,
    Bytes,
    Bool,
    /// A date, time or timestamp.
    Temporal,
}

fn column_kind(engine: Engine, data_type: &str) -> Option<Kind> {
    let t = data_type.to_ascii_uppercase();
    let base = t.split(['(', ' ']).next().unwrap_or_default();
    Some(match base {
        // SQLite stores every integer in up to 8 bytes, whatever the declared name.
        "INT" | "INTEGER" | "SMALLINT" | "TINYINT" | "MEDIUMINT" | "BIGINT" | "INT2" | "INT4"
        | "INT8"
            if engine == Engine::Sqlite =>
        {
            Kind::Int(64)
        }
        "BIGINT" | "INT8" | "BIGSERIAL" | "SERIAL8" => Kind::Int(64),
        "INT" | "INTEGER" | "INT4" | "SERIAL" | "SERIAL4" | "MEDIUMINT" => Kind::Int(32),
        "SMALLINT" | "INT2" | "SMALLSERIAL" => Kind::Int(16),
        "TINYINT" if t.starts_with("TINYINT(1)") => Kind::Bool,
        "TINYINT" => Kind::Int(8),
        "REAL" | "FLOAT" | "FLOAT4" | "FLOAT8" | "DOUBLE" => Kind::Float,
        "NUMERIC" | "DECIMAL" => Kind::Decimal,
        "TEXT" | "VARCHAR" | "CHAR" | "CHARACTER" | "CITEXT" | "TINYTEXT" | "MEDIUMTEXT"
        | "LONGTEXT" | "NVARCHAR" | "NCHAR" | "CLOB" => Kind::Text,
        "BYTEA" | "BLOB" | "BINARY" | "VARBINARY" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
            Kind::Bytes
        }
        "BOOLEAN" | "BOOL" => Kind::Bool,
        "DATE" | "TIME" | "TIMESTAMP" | "TIMESTAMPTZ" | "DATETIME" | "TIMETZ" => Kind::Temporal,
        _ => return None,
    })
}

/// The Rust type without `Option<...>`, and whether it was an option.
fn rust_kind(ty: &str) -> (Option<Kind>, bool) {
    let squeezed: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
    let (inner, optional) = match squeezed
        .strip_prefix("Option<")
        .and_then(|s| s.strip_suffix('>'))
    {
        Some(inner) => (inner.to_string(), true),
        None => (squeezed, false),
    };
    let last = inner.rsplit("::").next().unwrap_or_default();
    let kind = match last {
        "i8" | "u8" => Some(Kind::Int(8)),
        "i16" | "u16" => Some(Kind::Int(16)),
        "i32" | "u32" => Some(Kind::Int(32)),
        "i64" | "u64" => Some(Kind::Int(64)),
        "f32" | "f64" => Some(Kind::Float),
        "String" | "str" | "&str" => Some(Kind::Text),
        "Vec<u8>" => Some(Kind::Bytes),
        "bool" => Some(Kind::Bool),
        "Decimal" | "BigDecimal" => Some(Kind::Decimal),
        "NaiveDateTime" | "NaiveDate" | "NaiveTime" | "OffsetDateTime" | "PrimitiveDateTime"
        | "Date" | "Time" => Some(Kind::Temporal),
        _ if last.starts_with("DateTime<") => Some(Kind::Temporal),
        _ => None,
    };
    (kind, optional)
}

/// Each field's Rust type against its column; the columns whose field was reported.
pub(super) fn types_fit(cx: &Ctxt, parsed: &Parsed, engine: Engine, target: &Table) -> Vec<String> {
    let mut reported = Vec::new();
    for field in &parsed.cont.fields {
        let Some(column) = target.column(&field.column) else {
            continue;
        };
        let rust = crate::ast::type_name(field.ty);
        let (kind, optional) = rust_kind(&rust);
        let col = column_kind(engine, &column.data_type);
        let name = &field.column;
        let mismatch = match (kind, col) {
            (Some(Kind::Int(r)), Some(Kind::Int(c))) if r > c => Some(format!(
                "a {r}-bit integer does not fit in `{}` ({c} bits)",
                column.data_type
            )),
            (Some(r), Some(c)) if std::mem::discriminant(&r) != std::mem::discriminant(&c) => {
                Some(format!("`{rust}` is not what `{}` holds", column.data_type))
            }
            _ => None,
        };
        if let Some(why) = mismatch {
            let suggestion = match col {
                Some(Kind::Int(64)) => "i64",
                Some(Kind::Int(32)) => "i32",
                Some(Kind::Int(16)) => "i16",
                Some(Kind::Int(_)) => "i8",
                Some(Kind::Float) => "f64",
                Some(Kind::Text) => "String",
                Some(Kind::Bytes) => "Vec<u8>",
                Some(Kind::Bool) => "bool",
                _ => "a type sqlx maps to it",
            };
            cx.error_spanned_by(
                field.ty,
                Message::new(format!("field `{}` is `{rust}`, column `{}.{name}` is `{}`", field.ident, target.display(), column.data_type))
                    .note(why)
                    .help(format!("declare the field as `{suggestion}` (or `Option<{suggestion}>`), or change the column's type in a migration")),
            );
            reported.push(field.column.clone());
            continue;
        }
        if !column.not_null && !optional && kind.is_some() && field.attrs.key.is_none() {
            cx.error_spanned_by(
                field.ty,
                Message::new(format!("column `{}.{name}` can be NULL, field `{}` is `{rust}`", target.display(), field.ident))
                    .note("verify reads the stored row back into the struct, and a NULL does not fit a non-`Option` field")
                    .help(format!("declare it `Option<{rust}>`, or make the column NOT NULL in a migration")),
            );
        }
    }
    reported
}

/// The kind of a source column named by `r`: through its table's alias, or, unqualified, the
/// first table of `from` that has it.
fn source_kind(engine: Engine, tables: &[(String, &Table)], r: &ColumnRef) -> Option<Kind> {
    let table = match r.qualifier.as_slice() {
        [alias] => tables
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(alias))
            .map(|(_, t)| *t)?,
        [] => tables
            .iter()
            .map(|(_, t)| *t)
            .find(|t| t.column(&r.column).is_some())?,
        _ => return None,
    };
    column_kind(engine, &table.column(&r.column)?.data_type)
}

/// The source column an expression of `shape` passes through (itself, or the argument of
/// `min`/`max`/`sum`/`avg`), when that column can be NULL: the expression can be NULL too.
fn nullable_source<'s>(tables: &[(String, &'s Table)], shape: &Shape) -> Option<&'s str> {
    let r = match shape {
        Shape::Column(r) | Shape::MinMax(r) | Shape::Sum(r) | Shape::Avg(r) => r,
        _ => return None,
    };
    let table = match r.qualifier.as_slice() {
        [alias] => tables
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(alias))
            .map(|(_, t)| *t)?,
        [] => tables
            .iter()
            .map(|(_, t)| *t)
            .find(|t| t.column(&r.column).is_some())?,
        _ => return None,
    };
    let column = table.column(&r.column)?;
    (!column.not_null).then_some(column.name.as_str())
}

/// What an expression of `shape` yields, from the schema: `None` when not inferred.
fn shape_kind(engine: Engine, tables: &[(String, &Table)], shape: &Shape) -> Option<Kind> {
    match shape {
        Shape::Count => Some(Kind::Int(64)),
        Shape::Column(r) | Shape::MinMax(r) => source_kind(engine, tables, r),
        Shape::Sum(r) => match source_kind(engine, tables, r)? {
            Kind::Int(_) => Some(Kind::Int(64)),
            k @ (Kind::Float | Kind::Decimal) => Some(k),
            _ => None,
        },
        Shape::Avg(r) => match source_kind(engine, tables, r)? {
            Kind::Int(_) | Kind::Decimal => Some(Kind::Decimal),
            Kind::Float => Some(Kind::Float),
            _ => None,
        },
        Shape::Text => Some(Kind::Text),
        Shape::Cast(t) => column_kind(engine, t),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Int(_) => "an integer",
        Kind::Float => "a floating-point number",
        Kind::Decimal => "a fractional number",
        Kind::Text => "text",
        Kind::Bytes => "bytes",
        Kind::Bool => "a boolean",
        Kind::Temporal => "a date or time",
    }
}

/// The value an expression computes against the column it is written to, where the schema
/// tells its type: `count(*)` into a TEXT column, `max(created_at)` into a BIGINT, `a || b`
/// into an integer, `avg(x)` into an integer column (which rounds it).
pub(super) fn expression_types_fit(
    cx: &Ctxt,
    parsed: &Parsed,
    engine: Engine,
    schema: &Schema,
    target: &Table,
    mistyped: &[String],
) {
    let Some(tables) = source_tables(schema, parsed) else {
        return;
    };
    for (field, frag) in parsed.field_fragments() {
        if mistyped.contains(&field.field.column) {
            continue; // one error per field: its Rust type is already wrong for the column
        }
        let Some(column) = target.column(&field.field.column) else {
            continue;
        };
        let Some(col) = column_kind(engine, &column.data_type) else {
            continue;
        };
        let Some((_, facts)) = frag.facts.iter().find(|(e, _)| *e == engine) else {
            continue;
        };
        let nullable = facts
            .shape
            .as_ref()
            .and_then(|s| nullable_source(&tables, s));
        if let (Some(source), true, false) = (nullable, column.not_null, field.field.is_key()) {
            cx.error_spanned_by(
                frag.lit,
                Message::new(format!(
                    "{} can be NULL (`{source}` can), column `{}.{}` is NOT NULL",
                    crate::ctxt::shown(&frag.lit.value()),
                    target.display(),
                    column.name
                ))
                .note("a source row with NULL there makes the batch fail, and the run stop")
                .help(format!("write the value for NULL: `coalesce({}, 0)` (or `''`), or make the column NULL-able in a migration", frag.lit.value())),
            );
            continue;
        }
        let Some(value) = facts
            .shape
            .as_ref()
            .and_then(|s| shape_kind(engine, &tables, s))
        else {
            continue;
        };
        let numeric = |k: Kind| matches!(k, Kind::Int(_) | Kind::Float | Kind::Decimal);
        let fits = match (value, col) {
            (Kind::Int(_), c) => numeric(c),
            (Kind::Float | Kind::Decimal, Kind::Int(_)) => false,
            (v, c) if numeric(v) => numeric(c),
            (v, c) => std::mem::discriminant(&v) == std::mem::discriminant(&c),
        };
        if fits {
            continue;
        }
        let rounds = numeric(value) && matches!(col, Kind::Int(_));
        let mut message = Message::new(format!(
            "{} computes {}, column `{}.{}` is `{}`",
            crate::ctxt::shown(&frag.lit.value()),
            kind_name(value),
            target.display(),
            column.name,
            column.data_type
        ));
        message = if rounds {
            message
                .note("the column would round it, so the backfill writes less than it computes")
                .help(
                    "round it yourself (`round(avg(x))`) or make the column NUMERIC in a migration",
                )
        } else {
            message
                .note("the engine would refuse it at run time, or (MySQL) convert it silently")
                .help("compute the column's type (a CAST, another aggregate), or change the column in a migration")
        };
        cx.error_spanned_by(frag.lit, message);
    }
}
