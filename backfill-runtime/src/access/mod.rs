//! The access path of the batches' source read, seen before a run: how one key range is read
//! ([`AccessPath`]), what it will cost, and the covering index that makes it an in-order,
//! index-only read, with the engine's online DDL.
//!
//! Key-range batches read the source through the key, one range at a time. When the source's
//! rows are stored in another order (events appended by time, grouped by user), every range
//! gathers its keys' rows from pages spread over the whole table: cheap while the table fits in
//! the buffer cache, one random page read per row beyond it. `plan` and `check` say so before a
//! run, from what each engine knows: the source's size against its cache, the key's correlation
//! with the physical order (PostgreSQL's `pg_stats`; InnoDB's and SQLite's clustered key, else a
//! sample of rows in stored order), the EXPLAIN of one range's read, and one range read and
//! timed, read-only, in a transaction rolled back.
//!
//! The columns a range reads are taken from the generated upsert itself (`source.rs`): the
//! derive emits statements, not a list of the source columns a mapping names, and the statement
//! is what the engine runs. A name counts as a column of the source only when the source's
//! catalog has it.

use std::fmt;
use std::time::Duration;

pub(crate) mod analyse;
pub(crate) mod pin;
pub(crate) mod source;
pub mod strategy;

/// What `plan` and [`BackfillPool::access_path`](crate::BackfillPool::access_path) found about
/// the source read of the batches.
#[derive(Debug, Clone)]
pub enum SourceAccess {
    /// The read of one range was found and analysed.
    Analysed(Box<AccessPath>),
    /// Nothing to analyse, or no way to: why (an in-place update of the target's own rows
    /// reads the target through its key index; a key that names no single source table).
    NotAnalysed {
        /// Why, for people.
        reason: String,
    },
}

impl SourceAccess {
    /// The analysis, if there is one.
    pub fn analysed(&self) -> Option<&AccessPath> {
        match self {
            SourceAccess::Analysed(path) => Some(path),
            SourceAccess::NotAnalysed { .. } => None,
        }
    }
}

/// How one key range of the source is read, what it costs, and what would make it an
/// in-order read.
#[derive(Debug, Clone)]
pub struct AccessPath {
    /// The source table the ranges read, as the FROM clause names it (`schema.name` or `name`).
    pub source: String,
    /// The expressions the ranges filter on, one per key part, as the statement writes them.
    pub range_key: Vec<String>,
    /// The source's columns the ranges filter on, when every key part is a plain column of it.
    pub key_columns: Option<Vec<String>>,
    /// The source's other columns the read names (values, filter, join conditions), as the
    /// catalog spells them.
    pub columns_read: Vec<String>,
    /// The source's size against the engine's buffer cache.
    pub size: SourceSize,
    /// How the source's rows are stored relative to the key.
    pub order: PhysicalOrder,
    /// The engine's plan of one range's read.
    pub read_plan: RangeReadPlan,
    /// Pages per key and per range, from the engine's estimates; `None` without statistics.
    pub estimate: Option<CostEstimate>,
    /// One range read and timed (read-only, rolled back); `None` when the source has no keys.
    pub sample: Option<RangeSample>,
    /// Whether the ranges read the source in order.
    pub verdict: Verdict,
    /// The covering index to create when the read is scattered; `None` when it is in order or
    /// covered already, when that is unknown (no statistics: ANALYZE first), or when no index
    /// can cover it (see [`AccessPath::notes`]).
    pub covering_index: Option<CoveringIndex>,
    /// The covering index the statements that read ranges name in an index hint (MySQL and
    /// MariaDB: `FORCE INDEX`, whose optimizer otherwise weighs it against the key's plain
    /// index by estimates that sampled statistics tip either way); `None` on the other engines
    /// and where no index covers the read.
    pub pinned_index: Option<String>,
    /// Anything else worth knowing (statistics missing, a column no index can hold).
    pub notes: Vec<String>,
}

impl AccessPath {
    /// The time every range of the run would spend reading at the measured pace: the sample's
    /// time per key times the estimated keys. A warm cache makes the sample fast; a source
    /// larger than the cache reads slower than this once the run is under way.
    pub fn projected_read(&self) -> Option<Duration> {
        let sample = self.sample.as_ref().filter(|s| s.keys > 0)?;
        let keys = self.estimate.as_ref()?.distinct_keys;
        Some(sample.elapsed.mul_f64(keys as f64 / sample.keys as f64))
    }
}

/// The source's size against the buffer cache. Sizes are the engine's estimates.
#[derive(Debug, Clone, Default)]
pub struct SourceSize {
    /// The table's own data (PostgreSQL's heap, InnoDB's clustered index, SQLite's b-tree; the
    /// whole database file on a SQLite without the `dbstat` table), in bytes.
    pub table_bytes: Option<u64>,
    /// With its indexes, in bytes.
    pub total_bytes: Option<u64>,
    /// What `table_bytes` measures, when it is not the table alone (`the database file`).
    pub measured: Option<String>,
    /// The table's pages.
    pub pages: Option<u64>,
    /// Estimated rows.
    pub rows: Option<u64>,
    /// The engine's buffer cache (`shared_buffers`, `innodb_buffer_pool_size`, `cache_size`).
    pub cache: Option<CacheSize>,
    /// A further cache the engine plans with (PostgreSQL's `effective_cache_size`, the OS
    /// cache it assumes).
    pub planner_cache: Option<CacheSize>,
}

/// A cache setting and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSize {
    /// The setting's name.
    pub setting: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// How the source's rows are stored relative to the key the ranges filter on.
#[derive(Debug, Clone, Default)]
pub struct PhysicalOrder {
    /// The key the rows are stored in order of: InnoDB's PRIMARY KEY (its clustered index),
    /// SQLite's rowid (or its `INTEGER PRIMARY KEY` alias, or a `WITHOUT ROWID` table's
    /// PRIMARY KEY); `None` on a PostgreSQL heap, stored in no key's order.
    pub clustered_by: Option<Vec<String>>,
    /// The correlation of the first key column with the stored order, from -1 to 1.
    pub correlation: Option<Correlation>,
}

/// The correlation of the key with the stored order: near 1 (or -1), consecutive keys' rows
/// sit on the same pages; near 0, they are spread over the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    /// From -1 to 1.
    pub value: f64,
    /// Where it comes from.
    pub source: CorrelationSource,
}

/// Where a [`Correlation`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorrelationSource {
    /// The engine's statistics (PostgreSQL `pg_stats.correlation`, as of the last ANALYZE).
    Statistics,
    /// Measured here over the first rows in stored order (InnoDB, SQLite keep no such
    /// statistic).
    Sample {
        /// Rows sampled.
        rows: u64,
    },
}

/// The engine's plan of one range's read.
#[derive(Debug, Clone)]
pub struct RangeReadPlan {
    /// How the source table is reached.
    pub access: ReadAccess,
    /// The EXPLAIN of the read, as the engine prints it.
    pub explain: String,
}

/// How a range's read reaches the source table, as its EXPLAIN says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadAccess {
    /// From an index alone, which holds every column read, in key order.
    IndexOnly {
        /// The index.
        index: String,
    },
    /// Through an index, then each row from the table.
    Index {
        /// The index.
        index: String,
    },
    /// A bitmap of the range's rows from an index, then their pages in page order
    /// (PostgreSQL).
    Bitmap {
        /// The index.
        index: Option<String>,
    },
    /// A range of the clustered key itself (InnoDB's PRIMARY KEY, SQLite's rowid): the rows
    /// in stored order.
    ClusteredRange,
    /// The whole table.
    FullScan,
    /// Anything else, as the engine names it.
    Other(String),
    /// The source has no keys: no range to explain.
    NoRange,
}

/// What a range costs in pages, from the engine's estimates.
#[derive(Debug, Clone, PartialEq)]
pub struct CostEstimate {
    /// Distinct keys of the source.
    pub distinct_keys: u64,
    /// Source rows per key.
    pub rows_per_key: f64,
    /// Pages per key when the rows are stored in key order: the table's pages over its keys.
    pub pages_per_key_in_order: f64,
    /// Pages per key when they are scattered: one page per row, at most the whole table.
    pub pages_per_key_scattered: f64,
    /// Keys per range (the first batch's size).
    pub keys_per_range: u64,
    /// The most keys a range grows to: the adaptive sizer's `max_batch_size`, else
    /// `keys_per_range`.
    pub max_keys_per_range: u64,
    /// Pages per range in key order.
    pub pages_per_range_in_order: f64,
    /// Pages per range when scattered.
    pub pages_per_range_scattered: f64,
}

impl CostEstimate {
    /// The estimate for `pages` pages of `rows` rows over `keys` distinct keys, read
    /// `batch_size` keys at a time; `None` when a count is zero.
    pub(crate) fn new(pages: u64, rows: u64, keys: u64, batch_size: u64) -> Option<CostEstimate> {
        if pages == 0 || rows == 0 || keys == 0 {
            return None;
        }
        let (pages, rows, keys_f) = (pages as f64, rows as f64, keys as f64);
        let rows_per_key = rows / keys_f;
        let in_order = pages / keys_f;
        let scattered = rows_per_key.min(pages).max(in_order);
        let per_range = batch_size.min(keys) as f64;
        Some(CostEstimate {
            distinct_keys: keys,
            rows_per_key,
            pages_per_key_in_order: in_order,
            pages_per_key_scattered: scattered,
            keys_per_range: batch_size.min(keys),
            max_keys_per_range: batch_size.min(keys),
            pages_per_range_in_order: (in_order * per_range).min(pages).max(1.0),
            pages_per_range_scattered: (scattered * per_range).min(pages).max(1.0),
        })
    }

    /// The same estimate for ranges that grow from `keys_per_range` up to `largest` keys, as
    /// adaptive batches do.
    pub(crate) fn growing_to(mut self, largest: u64) -> CostEstimate {
        self.max_keys_per_range = largest.clamp(self.keys_per_range, self.distinct_keys.max(1));
        self
    }

    /// How many ranges of `keys_per_range` keys cover the distinct keys.
    pub fn ranges(&self) -> u64 {
        self.distinct_keys.div_ceil(self.keys_per_range.max(1))
    }

    /// The share of the table's pages one scattered range falls on, from 0 to 1.
    pub fn range_page_share(&self) -> f64 {
        self.page_share(self.keys_per_range)
    }

    /// The share of the table's pages a scattered range of `keys` keys falls on.
    fn page_share(&self, keys: u64) -> f64 {
        let pages = (self.pages_per_key_in_order * self.distinct_keys as f64).max(1.0);
        let scattered = (self.pages_per_key_scattered * keys as f64).clamp(1.0, pages);
        scattered / pages
    }

    /// The table's pages every scattered range of a run reads, in passes over the table (a
    /// range on all of its pages is one pass): each range's share of the pages, summed over
    /// ranges that start at `keys_per_range` keys and grow fourfold each, up to
    /// `max_keys_per_range`, as adaptive batches far quicker than their target do. Slower
    /// batches grow less and are more, so for an adaptive run this is the fewest passes it can
    /// make.
    pub fn passes(&self) -> f64 {
        let keys = self.distinct_keys;
        let largest = self.max_keys_per_range.max(1);
        let (mut covered, mut size, mut passes) = (0u64, self.keys_per_range.max(1), 0.0);
        while covered < keys && size < largest {
            let range = size.min(keys - covered);
            passes += self.page_share(range);
            covered += range;
            size = crate::sizing::quickest_growth(size).min(largest);
        }
        // The rest in ranges of the largest size.
        let rest = keys.saturating_sub(covered);
        passes += (rest / largest) as f64 * self.page_share(largest);
        if rest % largest > 0 {
            passes += self.page_share(rest % largest);
        }
        passes
    }
}

/// One range's read, run and timed: read-only, in a transaction rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSample {
    /// Keys in the range (the first batch's).
    pub keys: u64,
    /// Rows the read returned (one per key when grouped).
    pub rows: u64,
    /// How long the read took, rows fetched included.
    pub elapsed: Duration,
}

/// Whether the ranges read the source in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Each range is read from an index that holds every column it needs, in key order.
    Covered {
        /// The index.
        index: String,
    },
    /// The rows are stored in (or close to) key order: a range reads adjacent pages.
    InKeyOrder {
        /// Why, for people.
        reason: String,
    },
    /// Each range gathers its rows from pages spread over the table.
    Scattered {
        /// Why, for people.
        reason: String,
    },
    /// Not known (no statistics, a key that is an expression).
    Unknown {
        /// Why, for people.
        reason: String,
    },
}

/// An index that makes each range an in-order, index-only read, with the DDL to create it
/// online on the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoveringIndex {
    /// The index's name.
    pub name: String,
    /// The key columns, in key order.
    pub key: Vec<String>,
    /// The other columns read, stored in the index (PostgreSQL `INCLUDE`; part of the key on
    /// MySQL/MariaDB and SQLite).
    pub include: Vec<String>,
    /// The statements to run, in order, identifiers quoted for the engine.
    pub ddl: Vec<String>,
    /// What to know about running them.
    pub note: String,
}

/// The correlation between the stored order of `values` (as read, in stored order) and their
/// sorted order, as PostgreSQL's `pg_stats.correlation` defines it; `None` under two values or
/// when they are all equal.
pub(crate) fn stored_order_correlation<T: Ord>(values: &[T]) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    // Rank of each value in sorted order; equal values share the rank of their first place.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].cmp(&values[b]));
    let mut rank = vec![0f64; n];
    let mut first = 0;
    for (place, &i) in order.iter().enumerate() {
        if place > 0 && values[order[place - 1]] != values[i] {
            first = place;
        }
        rank[i] = first as f64;
    }
    let mean_pos = (n - 1) as f64 / 2.0;
    let mean_rank = rank.iter().sum::<f64>() / n as f64;
    let (mut cov, mut var_pos, mut var_rank) = (0.0, 0.0, 0.0);
    for (pos, r) in rank.iter().enumerate() {
        let (dp, dr) = (pos as f64 - mean_pos, r - mean_rank);
        cov += dp * dr;
        var_pos += dp * dp;
        var_rank += dr * dr;
    }
    (var_rank > 0.0).then(|| cov / (var_pos * var_rank).sqrt())
}

/// Above this absolute correlation the rows of consecutive keys share pages: ranges read in
/// order. PostgreSQL's planner treats correlation the same way (its index scan cost moves from
/// random to sequential page reads with the square of it); 0.9 leaves at most a few percent of
/// the pages out of order.
pub(crate) const IN_ORDER_CORRELATION: f64 = 0.9;

/// A correlation for people, two decimals, never `-0.00`.
fn correlation(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    format!("{:.2}", if rounded == 0.0 { 0.0 } else { rounded })
}

/// Bytes for people: `512 B`, `1.2 MB`, `3.0 GB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A count of pages for people: whole numbers, one decimal under 10.
fn pages(n: f64) -> String {
    if n < 10.0 {
        format!("{n:.1}")
    } else {
        format!("{n:.0}")
    }
}

impl fmt::Display for ReadAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadAccess::IndexOnly { index } => write!(f, "index-only scan of {index}"),
            ReadAccess::Index { index } => {
                write!(f, "index scan of {index}, then each row from the table")
            }
            ReadAccess::Bitmap { index: Some(index) } => {
                write!(
                    f,
                    "bitmap scan of {index}, then the rows' pages from the table"
                )
            }
            ReadAccess::Bitmap { index: None } => {
                write!(f, "bitmap scan, then the rows' pages from the table")
            }
            ReadAccess::ClusteredRange => {
                write!(f, "a range of the clustered key (rows in stored order)")
            }
            ReadAccess::FullScan => write!(f, "a full scan of the table"),
            ReadAccess::Other(what) => write!(f, "{what}"),
            ReadAccess::NoRange => write!(f, "no range: the source has no keys"),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Covered { index } => write!(
                f,
                "covered: each range is an in-order, index-only read of {index}"
            ),
            Verdict::InKeyOrder { reason } => write!(f, "in key order: {reason}"),
            Verdict::Scattered { reason } => write!(f, "scattered: {reason}"),
            Verdict::Unknown { reason } => write!(f, "unknown: {reason}"),
        }
    }
}

impl fmt::Display for SourceAccess {
    /// The human text `plan` and `check` print, one `label: value` line each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceAccess::Analysed(path) => path.fmt(f),
            SourceAccess::NotAnalysed { reason } => writeln!(f, "source access: {reason}"),
        }
    }
}

impl fmt::Display for AccessPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = |f: &mut fmt::Formatter<'_>, label: &str, value: &str| {
            writeln!(f, "{:<20}{value}", format!("{label}:"))
        };
        let key = match &self.key_columns {
            Some(cols) => format!("{} (column {})", self.range_key.join(", "), cols.join(", ")),
            None => format!(
                "{} (not a column of {})",
                self.range_key.join(", "),
                self.source
            ),
        };
        line(f, "source", &self.source)?;
        line(f, "ranges filter on", &key)?;
        let read = if self.columns_read.is_empty() {
            "no other column".to_string()
        } else {
            self.columns_read.join(", ")
        };
        line(f, "columns read", &read)?;

        let s = &self.size;
        let mut size = match (s.table_bytes, s.total_bytes) {
            (Some(t), Some(all)) if all > t => {
                format!("{} ({} with indexes)", bytes(t), bytes(all))
            }
            (Some(t), _) => bytes(t),
            _ => "unknown".to_string(),
        };
        if let Some(what) = &s.measured {
            size.push_str(&format!(", {what}"));
        }
        if let Some(rows) = s.rows {
            size.push_str(&format!(", ~{rows} rows"));
        }
        line(f, "size", &size)?;
        if let Some(cache) = &s.cache {
            let fits = match s.total_bytes.or(s.table_bytes) {
                Some(_) if !self.outgrows_cache() => ": the source fits in it",
                Some(_) => ": the source is larger, scattered reads go to disk or the OS cache",
                None => "",
            };
            let mut text = format!("{} {}{fits}", cache.setting, bytes(cache.bytes));
            if let Some(planner) = &s.planner_cache {
                text.push_str(&format!(
                    " ({} {} assumed by the planner)",
                    planner.setting,
                    bytes(planner.bytes)
                ));
            }
            line(f, "buffer cache", &text)?;
        }

        let mut order = Vec::new();
        if let Some(by) = &self.order.clustered_by {
            order.push(format!("rows stored in order of {}", by.join(", ")));
        }
        if let Some(c) = &self.order.correlation {
            let from = match c.source {
                CorrelationSource::Statistics => "statistics".to_string(),
                CorrelationSource::Sample { rows } => {
                    format!("sampled over the first {rows} rows in stored order")
                }
            };
            order.push(format!(
                "key correlation with stored order {} ({from})",
                correlation(c.value)
            ));
        }
        if order.is_empty() {
            order.push("unknown".to_string());
        }
        line(f, "physical order", &order.join("; "))?;
        line(f, "range read", &self.read_plan.access.to_string())?;
        if let Some(e) = &self.estimate {
            line(
                f,
                "cost estimate",
                &format!(
                    "{} keys, {:.1} rows per key; per range of {} keys: {} pages in key order, {} pages scattered; all the ranges, scattered: about {:.1} passes over the table",
                    e.distinct_keys,
                    e.rows_per_key,
                    e.keys_per_range,
                    pages(e.pages_per_range_in_order),
                    pages(e.pages_per_range_scattered),
                    e.passes(),
                ),
            )?;
        }
        if let Some(sample) = &self.sample {
            let mut text = format!(
                "one range of {} keys read in {:.1} ms ({} rows; read-only, rolled back)",
                sample.keys,
                sample.elapsed.as_secs_f64() * 1000.0,
                sample.rows
            );
            if let Some(total) = self.projected_read() {
                let total = if total < Duration::from_secs(1) {
                    format!("{} ms", total.as_millis())
                } else {
                    format!("{:.1} s", total.as_secs_f64())
                };
                text.push_str(&format!("; every range at that pace: {total} of reading"));
            }
            line(f, "measured", &text)?;
        }
        line(f, "verdict", &self.verdict.to_string())?;
        for note in &self.notes {
            line(f, "note", note)?;
        }
        match &self.covering_index {
            Some(index) => {
                writeln!(
                    f,
                    "recommendation:     a covering index makes each range an in-order, index-only read:"
                )?;
                for ddl in &index.ddl {
                    writeln!(f, "    {ddl};")?;
                }
                writeln!(f, "  {}", index.note)?;
            }
            None => line(f, "recommendation", "none")?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_of_stored_order() {
        let ordered: Vec<i64> = (0..100).collect();
        assert!((stored_order_correlation(&ordered).unwrap() - 1.0).abs() < 1e-9);
        let reversed: Vec<i64> = (0..100).rev().collect();
        assert!((stored_order_correlation(&reversed).unwrap() + 1.0).abs() < 1e-9);
        // Each key's rows appended together, keys in order: still in order.
        let grouped: Vec<i64> = (0..100).map(|i| i / 10).collect();
        assert!(stored_order_correlation(&grouped).unwrap() > 0.95);
        // A fixed shuffle: far from order.
        let mut shuffled: Vec<i64> = (0..1000).map(|i| (i * 7919) % 1000).collect();
        shuffled.rotate_left(3);
        assert!(stored_order_correlation(&shuffled).unwrap().abs() < 0.2);
        assert_eq!(stored_order_correlation(&[5, 5, 5]), None);
        assert_eq!(stored_order_correlation::<i64>(&[]), None);
    }

    #[test]
    fn pages_per_key_in_order_and_scattered() {
        // 20,000 rows on 200 pages, 2,000 keys of 10 rows, ranges of 100 keys.
        let e = CostEstimate::new(200, 20_000, 2_000, 100).unwrap();
        assert_eq!(e.rows_per_key, 10.0);
        assert_eq!(e.pages_per_key_in_order, 0.1);
        assert_eq!(e.pages_per_key_scattered, 10.0);
        assert_eq!(e.pages_per_range_in_order, 10.0);
        // 100 keys of 10 scattered rows: 1,000 row reads, capped at the table's 200 pages.
        assert_eq!(e.pages_per_range_scattered, 200.0);
        assert_eq!(CostEstimate::new(0, 1, 1, 1), None);
    }

    #[test]
    fn the_text_says_what_to_run_and_why() {
        let path = AccessPath {
            source: "app.events".into(),
            range_key: vec!["e.user_id".into()],
            key_columns: Some(vec!["user_id".into()]),
            columns_read: vec!["amount".into()],
            size: SourceSize {
                table_bytes: Some(3 << 30),
                total_bytes: Some(4 << 30),
                measured: None,
                pages: Some(393_216),
                rows: Some(20_000_000),
                cache: Some(CacheSize {
                    setting: "shared_buffers".into(),
                    bytes: 128 << 20,
                }),
                planner_cache: None,
            },
            order: PhysicalOrder {
                clustered_by: None,
                correlation: Some(Correlation {
                    value: -0.001,
                    source: CorrelationSource::Statistics,
                }),
            },
            read_plan: RangeReadPlan {
                access: ReadAccess::Bitmap {
                    index: Some("events_user_id_idx".into()),
                },
                explain: String::new(),
            },
            estimate: CostEstimate::new(393_216, 20_000_000, 200_000, 1_000),
            sample: Some(RangeSample {
                keys: 1_000,
                rows: 1_000,
                elapsed: Duration::from_millis(250),
            }),
            verdict: Verdict::Scattered {
                reason: "spread".into(),
            },
            covering_index: Some(CoveringIndex {
                name: "events_user_id_covering".into(),
                key: vec!["user_id".into()],
                include: vec!["amount".into()],
                ddl: vec!["CREATE INDEX ...".into(), "VACUUM ...".into()],
                note: "run each outside a transaction".into(),
            }),
            pinned_index: None,
            notes: Vec::new(),
        };
        assert_eq!(path.projected_read(), Some(Duration::from_secs(50)));
        let text = path.to_string();
        for expected in [
            "size:               3.0 GB (4.0 GB with indexes), ~20000000 rows\n",
            "buffer cache:       shared_buffers 128.0 MB: the source is larger, scattered reads go to disk or the OS cache\n",
            "physical order:     key correlation with stored order 0.00 (statistics)\n",
            "range read:         bitmap scan of events_user_id_idx, then the rows' pages from the table\n",
            "cost estimate:      200000 keys, 100.0 rows per key; per range of 1000 keys: 1966 pages in key order, 100000 pages scattered; all the ranges, scattered: about 50.9 passes over the table\n",
            "every range at that pace: 50.0 s of reading\n",
            "verdict:            scattered: spread\n",
            "    CREATE INDEX ...;\n    VACUUM ...;\n  run each outside a transaction\n",
        ] {
            assert!(text.contains(expected), "{expected:?} in\n{text}");
        }
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 kB");
        assert_eq!(bytes(128 * 1024 * 1024), "128.0 MB");
    }
}
