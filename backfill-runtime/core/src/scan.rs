//! The scan strategy (issue 13): the source read in chunks of its own primary key, in stored
//! order, each chunk writing partial aggregates per key into a staging table, one row per
//! `(key, chunk)` (keyed on it once the partials are written; on MySQL from the start);
//! then the partials merged per key range into the target with the same upsert as the ranges
//! strategy.
//!
//! The derive writes every statement of both phases ([`Scan`](crate::Scan), beside the other
//! statements); three things only the run knows are left as markers the runtime fills in
//! before the first statement is prepared (see [`fill`]): the
//! staging table's name (it follows the job's name, which a run may override), the source's
//! primary-key column (read from its catalog), and on PostgreSQL the type of a partial sum
//! (read from the staging table the run created), so a merged `sum` keeps the type of the sum
//! it replaces (`sum(int)` is `bigint`, the sum of those sums would be `numeric`).

use std::fmt;

/// How a run reads the source: `strategy = "..."` on the struct, overridden by
/// `RunOptions::strategy` and the CLI's `--strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Key ranges, each read through the key (an index): the default reading for a source
    /// stored in key order or with a covering index.
    Ranges,
    /// The source read in chunks of its own primary key, partial aggregates merged per key
    /// (grouped mappings of decomposable aggregates only).
    Scan,
    /// Chosen before the run from the access path: the scan when the ranges would read a
    /// scattered source and the mapping allows it, else ranges.
    #[default]
    Auto,
}

impl Strategy {
    /// The name used in attributes and on the command line.
    ///
    /// ```
    /// use backfill_core::Strategy;
    ///
    /// assert_eq!(Strategy::parse("scan"), Some(Strategy::Scan));
    /// assert_eq!(Strategy::Auto.name(), "auto");
    /// assert_eq!(Strategy::parse("fast"), None);
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Ranges => "ranges",
            Strategy::Scan => "scan",
            Strategy::Auto => "auto",
        }
    }

    /// The strategy named `name` (`ranges`, `scan`, `auto`).
    pub fn parse(name: &str) -> Option<Strategy> {
        match name {
            "ranges" => Some(Strategy::Ranges),
            "scan" => Some(Strategy::Scan),
            "auto" => Some(Strategy::Auto),
            _ => None,
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Delimits a marker the runtime fills in. A control character no parsed SQL of the user
/// contains (the derive's holes use `\u{1}` while a statement is written).
pub const MARK: char = '\u{2}';

/// The marker standing for the staging table's name, inside a quoted identifier.
pub const STAGE_MARKER: &str = "\u{2}stage\u{2}";

/// The marker standing for the chunk column (the source's primary key), inside a quoted
/// identifier.
pub const CHUNK_MARKER: &str = "\u{2}chunk\u{2}";

/// The staging table's key columns (`k0`, `k1`, ...), its chunk column and its partials
/// (`p0`, ...), as the derive names them.
pub fn staged_key(i: usize) -> String {
    format!("k{i}")
}

/// The name of the chunk column of the staging table.
pub const STAGED_CHUNK: &str = "chunk";

/// The name of partial `i` in the staging table.
pub fn staged_partial(i: usize) -> String {
    format!("p{i}")
}

/// The marker standing for the type of the staging table's column `column`.
pub fn type_marker(column: &str) -> String {
    format!("{MARK}type {column}{MARK}")
}

/// `sql` with its markers filled in: the staging table's name `stage` (plain: lowercase
/// letters, digits and `_`, so it stands inside a quoted identifier as is), the chunk column
/// `chunk` (already escaped for the quoted identifier it stands in), and each `type` marker
/// with what `types` gives for its column. `None` names a marker `types` had no answer for.
///
/// ```
/// use backfill_core::scan::{fill, type_marker, CHUNK_MARKER, STAGE_MARKER};
///
/// let sql = format!(
///     "SELECT CAST(sum(p0) AS {}) FROM \"{STAGE_MARKER}\" WHERE \"{CHUNK_MARKER}\" > 1",
///     type_marker("p0")
/// );
/// let filled = fill(&sql, "backfill_stage_x", "id", &|c: &str| (c == "p0").then(|| "bigint".to_string()));
/// assert_eq!(
///     filled.unwrap(),
///     r#"SELECT CAST(sum(p0) AS bigint) FROM "backfill_stage_x" WHERE "id" > 1"#
/// );
/// ```
pub fn fill(
    sql: &str,
    stage: &str,
    chunk: &str,
    types: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len());
    let mut pieces = sql.split(MARK);
    out.push_str(pieces.next().unwrap_or_default());
    while let Some(inside) = pieces.next() {
        match inside {
            "stage" => out.push_str(stage),
            "chunk" => out.push_str(chunk),
            _ => match inside.strip_prefix("type ") {
                Some(column) => out.push_str(&types(column).ok_or_else(|| column.to_string())?),
                None => return Err(inside.to_string()),
            },
        }
        out.push_str(pieces.next().unwrap_or_default());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_marker_is_an_error_not_left_in_the_sql() {
        let sql = format!("SELECT {MARK}what{MARK}");
        assert_eq!(fill(&sql, "s", "c", &|_| None), Err("what".to_string()));
        let sql = format!("SELECT CAST(x AS {})", type_marker("p3"));
        assert_eq!(fill(&sql, "s", "c", &|_| None), Err("p3".to_string()));
    }
}
