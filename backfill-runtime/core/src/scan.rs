//! The scan strategy (issue 13): the source read in chunks of its own primary key, in stored
//! order, each chunk writing partial aggregates per key into a staging table keyed by
//! `(key, chunk)`; then the partials merged per key range into the target with the same upsert
//! as the ranges strategy.
//!
//! The derive writes every statement of both phases; three things only the run knows are left
//! as markers the runtime fills in before the first statement is prepared (see [`fill`]): the
//! staging table's name (it follows the job's name, which a run may override), the source's
//! primary-key column (read from its catalog), and on PostgreSQL the type of a partial sum
//! (read from the staging table the run created), so a merged `sum` keeps the type of the sum
//! it replaces (`sum(int)` is `bigint`, the sum of those sums would be `numeric`).

use std::fmt;

use crate::statement::{Ranged, Statements, Stmt, Storage};

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

/// Every statement of the scan strategy on one engine.
pub struct Scan<S: Storage = crate::Static> {
    /// Hex hash of the partials phase's statements: stored with its progress row.
    pub fingerprint: S::Text,
    /// The source table the chunks are cut on (the first table of `from`), as written.
    pub driving: S::Text,
    /// Creates the staging table, empty, its columns typed (and collated) as the key
    /// expressions and partial aggregates are.
    pub create: Stmt<S>,
    /// Gives the staging table its key `(k0, ..., chunk)` (empty where `create` does).
    pub index: Stmt<S>,
    /// Empties the staging table: run in the first chunk's transaction, so partials left by an
    /// earlier life of the job are never merged.
    pub clear: Stmt<S>,
    /// The staging table's column names, in order: keys, chunk, partials.
    pub columns: S::List<S::Text>,
    /// The chunk's upper bound `Offset` rows past the cursor in primary-key order (`i64`); no
    /// row when fewer remain.
    pub chunk_offset: Ranged<S>,
    /// The largest primary key of the next `Limit` rows and their number (`i64`, `i64`); no
    /// row when none is left.
    pub chunk_bounds: Ranged<S>,
    /// The smallest and largest primary key of the source (`i64`), for progress.
    pub chunk_span: Stmt<S>,
    /// The partials of a chunk `cursor < pk <= hi`, upserted with `chunk = hi`: a chunk done
    /// again rewrites its own partials.
    pub partials: Ranged<S>,
    /// Drops the staging table (if it exists).
    pub drop: Stmt<S>,
    /// The merge phase: every statement of a backfill whose source is the staging table.
    pub merge: Statements<S>,
}

impl<S: Storage> Scan<S> {
    /// Every statement of the partials phase with a name, in a fixed order: for review,
    /// printing and the fingerprint.
    pub fn named(&self) -> Vec<(&'static str, &Stmt<S>)> {
        vec![
            ("create the staging table", &self.create),
            ("key the staging table", &self.index),
            ("empty the staging table", &self.clear),
            (
                "chunk bound by offset (first chunk)",
                &self.chunk_offset.first,
            ),
            ("chunk bound by offset", &self.chunk_offset.next),
            ("chunk bounds (first chunk)", &self.chunk_bounds.first),
            ("chunk bounds", &self.chunk_bounds.next),
            ("chunk span", &self.chunk_span),
            ("partials (first chunk)", &self.partials.first),
            ("partials", &self.partials.next),
            ("drop the staging table", &self.drop),
        ]
    }
}

/// FNV-1a 64 of the partials phase's statements, as 16 hex digits.
pub fn scan_fingerprint<S: Storage>(scan: &Scan<S>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, stmt) in scan.named() {
        let text = format!("{name}\0{}\0{:?}\0", stmt.sql(), stmt.params());
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
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

impl<S: Storage> fmt::Debug for Scan<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Scan");
        s.field("fingerprint", &self.fingerprint)
            .field("driving", &self.driving)
            .field("columns", &self.columns);
        for (name, stmt) in self.named() {
            s.field(name, stmt);
        }
        s.field("merge", &self.merge).finish()
    }
}

impl<S: Storage> PartialEq for Scan<S> {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint.as_ref() == other.fingerprint.as_ref()
            && self.driving.as_ref() == other.driving.as_ref()
            && self.named() == other.named()
            && self.merge == other.merge
    }
}

impl<S: Storage> Eq for Scan<S> {}

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
