//! MySQL/MariaDB's casts for comparing a recomputed value with a stored one (the holes of a
//! statement, filled by [`crate::coerce`]).

use crate::engine::CatalogColumn;

/// MySQL casts only to a few types, so the column type picks the one that coerces as its
/// INSERT does: a decimal to its precision and scale, a fractional-second time to its
/// precision, a float to single precision, an integer rounded, text into the column's
/// character set. Other types are compared as they are.
pub(super) fn coerce(expr: &str, column: &CatalogColumn) -> String {
    let ty = column.sql_type.to_ascii_lowercase();
    let base = ty.split(['(', ' ']).next().unwrap_or_default();
    let args = ty
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(args, _)| args)
        .filter(|args| args.chars().all(|c| c.is_ascii_digit() || c == ','));
    let unsigned = ty.contains("unsigned");
    match (base, args) {
        ("decimal" | "numeric", Some(args)) => format!("CAST({expr} AS DECIMAL({args}))"),
        ("decimal" | "numeric", None) => format!("CAST({expr} AS DECIMAL)"),
        ("tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint", _) => {
            let to = if unsigned { "UNSIGNED" } else { "SIGNED" };
            format!("CAST({expr} AS {to})")
        }
        ("float", _) => format!("CAST({expr} AS FLOAT)"),
        ("double" | "real", _) => format!("CAST({expr} AS DOUBLE)"),
        ("datetime" | "timestamp", Some(p)) => format!("CAST({expr} AS DATETIME({p}))"),
        ("datetime" | "timestamp", None) => format!("CAST({expr} AS DATETIME)"),
        ("time", Some(p)) => format!("CAST({expr} AS TIME({p}))"),
        ("time", None) => format!("CAST({expr} AS TIME)"),
        ("date", _) => format!("CAST({expr} AS DATE)"),
        ("binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob", _) => {
            format!("CAST({expr} AS BINARY)")
        }
        _ => match &column.charset {
            Some(charset)
                if charset
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                format!("CONVERT({expr} USING {charset})")
            }
            _ => expr.to_string(),
        },
    }
}
