//! SQLite's casts for comparing a recomputed value with a stored one: none. Its statements have
//! no holes; this file keeps the map of every engine folder the same.

use crate::engine::CatalogColumn;

/// `expr` as it is: a column's affinity converts a value on INSERT but never rounds it, and
/// the comparison applies the same affinity.
pub(super) fn coerce(expr: &str, _column: &CatalogColumn) -> String {
    expr.to_string()
}
