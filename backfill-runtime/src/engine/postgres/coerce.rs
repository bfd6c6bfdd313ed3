//! PostgreSQL's casts for comparing a recomputed value with a stored one (the holes of a
//! statement, filled by [`crate::coerce`]).

use crate::engine::CatalogColumn;

/// `format_type` prints the type with its modifiers, quoted and schema-qualified as needed:
/// a cast to it rounds and pads exactly as the assignment of an INSERT does.
pub(super) fn coerce(expr: &str, column: &CatalogColumn) -> String {
    format!("CAST({expr} AS {})", column.sql_type)
}
