//! `strategy = "auto"`: which way of reading the source suits what the access path shows. A
//! run with `auto` asks it before its first batch (`crate::scan::choose`), and `plan` shows
//! what it chose and why.
//!
//! The rule follows what issue 13 measured on 2M events over 200k users (count, sum, max per
//! user, `user_id` spread over the table): key ranges read through a scattered key ran at 0.55x
//! (PostgreSQL), 0.19x (SQLite) and 0.03-0.11x (MariaDB, source larger than its buffer pool) of
//! the same recompute scanning the table in stored order. Ranges that read adjacent pages (a
//! source in key order, or a covering index) have no such loss.

use super::{AccessPath, CostEstimate, ReadAccess, Verdict};

pub use backfill_core::Strategy;

/// What the mapping allows, beside what the access path shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// The mapping groups source rows per key (aggregates); a row-to-row mapping has nothing
    /// to merge, so it always reads ranges.
    pub grouped: bool,
    /// Every aggregate can be merged from partials (`count`, `sum`, `min`, `max`, `avg` as sum
    /// and count, `bool_and`/`bool_or`); `count(DISTINCT ...)`, `string_agg` and percentiles
    /// cannot.
    pub decomposable: bool,
}

/// The strategy that suits an access path, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyAdvice {
    /// The strategy.
    pub strategy: Strategy,
    /// Why, for people.
    pub reason: String,
}

/// Ranges that each read the whole source beat the scan up to this many of them.
const MAX_FULL_PASSES: u64 = 2;

/// A bitmap read of a range that touches at least this share of the source's pages is
/// nearly a pass over it; a sparser one reads a page per row. Between the two shares
/// measured (0.68 faster as ranges, 0.07 faster as a scan), near their geometric mean.
const DENSE_BITMAP: f64 = 0.2;

/// Dense bitmap ranges beat the scan up to this many passes over the table in all
/// ([`CostEstimate::passes`]). At 2M events over 200,000 users on PostgreSQL the scan took
/// 1.9-2.0 s, as long as about 14 such passes: 20 fixed ranges of 10,000 keys, each on all
/// the pages, took 2.7 s, and 200 of 1,000 keys (136 passes) 8.0 s, while the default
/// adaptive ranges took 1.8-1.9 s (about 12 passes, counted as they grew by half then; they
/// grow fourfold while quick now, and the same run counts about 6).
const MAX_BITMAP_PASSES: f64 = 16.0;

impl AccessPath {
    /// How many ranges a run reads (`None` without the engine's estimates).
    fn ranges(&self) -> Option<u64> {
        self.estimate.as_ref().map(CostEstimate::ranges)
    }

    /// The share of the source's pages one range of the first batch's size falls on when
    /// scattered (`None` without the engine's estimates); `plan` shows it in its reason.
    fn bitmap_share(&self) -> Option<f64> {
        self.estimate.as_ref().map(CostEstimate::range_page_share)
    }

    /// The passes over the source's pages every range of the run reads (`None` without the
    /// engine's estimates).
    fn passes(&self) -> Option<f64> {
        self.estimate.as_ref().map(CostEstimate::passes)
    }

    /// ` (create <index> to read them in order)` when a covering index is recommended.
    fn create_covering(&self) -> String {
        self.covering_index
            .as_ref()
            .map(|index| format!(" (create {} to read them in order)", index.name))
            .unwrap_or_default()
    }

    /// The setting that sizes the engine's buffer cache (`shared_buffers`, ...), as a reason
    /// names it.
    fn cache_setting(&self) -> &str {
        self.size
            .cache
            .as_ref()
            .map_or("the cache", |c| c.setting.as_str())
    }

    /// Whether the source's own pages (without its indexes) fit in the engine's buffer cache,
    /// so ranges that each read most of them read them from there; unknown sizes do not.
    fn table_fits_cache(&self) -> bool {
        matches!(
            (self.size.table_bytes, &self.size.cache),
            (Some(table), Some(cache)) if table <= cache.bytes
        )
    }

    /// Whether the source, with its indexes (the ranges read the key's index and the rows),
    /// is larger than the engine's buffer cache. Unknown sizes count as larger: a scattered
    /// read of a table of unknown size is not assumed to be cached.
    pub fn outgrows_cache(&self) -> bool {
        match (
            self.size.total_bytes.or(self.size.table_bytes),
            &self.size.cache,
        ) {
            (Some(source), Some(cache)) => source > cache.bytes,
            _ => true,
        }
    }

    /// The strategy that suits this read of the source for `mapping`: ranges unless they are
    /// known to be scattered and the mapping's aggregates can be merged from partials.
    pub fn suited_strategy(&self, mapping: Mapping) -> StrategyAdvice {
        let advice = |strategy, reason: String| StrategyAdvice { strategy, reason };
        match &self.verdict {
            _ if !mapping.grouped => advice(
                Strategy::Ranges,
                "row to row: each key is its own rows, nothing to merge from a scan".to_string(),
            ),
            Verdict::Covered { index } => advice(
                Strategy::Ranges,
                format!("each range is an in-order, index-only read of {index}"),
            ),
            Verdict::InKeyOrder { .. } => advice(
                Strategy::Ranges,
                format!(
                    "{} is stored in key order: each range reads adjacent pages",
                    self.source
                ),
            ),
            Verdict::Unknown { reason } => advice(
                Strategy::Ranges,
                format!("nothing measured says ranges are scattered ({reason})"),
            ),
            Verdict::Scattered { .. } if !mapping.decomposable => advice(
                Strategy::Ranges,
                match &self.covering_index {
                    Some(index) => format!(
                        "scattered, but an aggregate cannot be merged from partials: create {} \
                         so each range reads in order",
                        index.name
                    ),
                    None => {
                        "scattered, but an aggregate cannot be merged from partials".to_string()
                    }
                },
            ),
            // PostgreSQL reads a range's rows by a bitmap, their pages in stored order. Where a
            // range's rows fall on most of the table's pages, each range is nearly a pass over
            // the table, at memory speed while the table stays in shared_buffers: at 2M events
            // over 200,000 users (a 1,000-key range on 68% of the pages, adaptive ranges about
            // 12 passes in all as they grew by half; a 115 MB table) ranges ran at 0.81-0.82x
            // the best single statement in a 128MB shared_buffers, against 0.73-0.75x for the
            // scan, and at 0.70-0.71x in a 16MB one, where each pass reads the table from the
            // OS, against 0.70-0.83x. Where a range's rows fall on few pages, each row costs a
            // page of its own: at 20M events (7% of the pages) ranges ran slower than the scan
            // (BENCHMARKS.md, `postgres-20m-strategies`). And many ranges are many passes:
            // fixed ranges of 10,000 or 1,000 keys (20 and 136 passes) took 2.7 s and 8.0 s
            // against the scan's 1.9-2.2 s.
            Verdict::Scattered { .. }
                if matches!(self.read_plan.access, ReadAccess::Bitmap { .. })
                    && self.bitmap_share().is_none_or(|share| share >= DENSE_BITMAP)
                    && self.passes().is_none_or(|p| p <= MAX_BITMAP_PASSES)
                    && self.table_fits_cache() =>
            {
                advice(
                    Strategy::Ranges,
                    format!(
                        "scattered, but each range reads its rows' pages of {} in stored order (a bitmap heap scan{}) from {}, which holds the table: as fast as the scan's pass, partials and merge{}",
                        self.source,
                        match (self.bitmap_share(), self.passes()) {
                            (Some(share), Some(passes)) => format!(
                                ", on {:.0}% of its pages; about {passes:.0} passes over it in all",
                                share * 100.0
                            ),
                            _ => String::new(),
                        },
                        self.cache_setting(),
                        self.create_covering()
                    ),
                )
            }
            // The engine reads the whole source for one range (ranges so wide that a full
            // scan costs less than the index): each range is one pass in stored order, as the
            // scan's chunks are, and two such passes cost no more than the scan's one pass plus
            // its partials and merge (the scan took 1.2-1.4x the single statement's time at
            // 2M events in BENCHMARKS.md, 1.7x at 20M). Reasoned, not yet seen in a
            // benchmark: PostgreSQL reads even a 100,000-key range of the 2M-event table by an
            // index scan.
            Verdict::Scattered { .. }
                if matches!(self.read_plan.access, ReadAccess::FullScan)
                    && self.ranges().is_some_and(|n| n <= MAX_FULL_PASSES) =>
            {
                advice(
                    Strategy::Ranges,
                    format!(
                        "each of the {} ranges reads {} whole, in stored order (a full scan): \
                         no more than the scan's pass, partials and merge",
                        self.ranges().unwrap_or(0),
                        self.source
                    ),
                )
            }
            Verdict::Scattered { .. } if !self.outgrows_cache() => advice(
                Strategy::Ranges,
                format!(
                    "scattered, but {} and its indexes fit in {}: each range's pages are read from memory{}",
                    self.source,
                    self.cache_setting(),
                    self.create_covering()
                ),
            ),
            Verdict::Scattered { .. } => advice(
                Strategy::Scan,
                format!(
                    "scattered{}: a scan in stored order reads each page once{}",
                    match (&self.read_plan.access, self.bitmap_share(), self.passes()) {
                        (ReadAccess::Bitmap { .. }, Some(share), _) if share < DENSE_BITMAP => {
                            format!(
                                " (a range's rows fall on {:.0}% of its pages, a page per row)",
                                share * 100.0
                            )
                        }
                        // Dense ranges the scan beats: too many passes, or passes read
                        // past the buffer cache.
                        (ReadAccess::Bitmap { .. }, Some(share), Some(passes)) => format!(
                            " (each range's rows fall on {:.0}% of its pages or more, {})",
                            share * 100.0,
                            if passes > MAX_BITMAP_PASSES {
                                format!("and the ranges read about {passes:.0} passes over it in all")
                            } else {
                                format!(
                                    "about {passes:.0} passes over it in all, each read past the \
                                     buffer cache"
                                )
                            }
                        ),
                        _ => String::new(),
                    },
                    match &self.covering_index {
                        Some(index) =>
                            format!(" (or create {} and read ranges in order)", index.name),
                        None => String::new(),
                    }
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{CoveringIndex, PhysicalOrder, RangeReadPlan, ReadAccess, SourceSize};

    fn path(verdict: Verdict, covering: bool) -> AccessPath {
        AccessPath {
            source: "events".into(),
            range_key: vec!["user_id".into()],
            key_columns: Some(vec!["user_id".into()]),
            columns_read: vec!["amount".into()],
            size: SourceSize::default(),
            order: PhysicalOrder::default(),
            read_plan: RangeReadPlan {
                access: ReadAccess::FullScan,
                explain: String::new(),
            },
            estimate: None,
            sample: None,
            verdict,
            covering_index: covering.then(|| CoveringIndex {
                name: "events_user_id_covering".into(),
                key: vec!["user_id".into()],
                include: vec!["amount".into()],
                ddl: Vec::new(),
                note: String::new(),
            }),
            pinned_index: None,
            notes: Vec::new(),
        }
    }

    /// A scattered read of `events`, with a covering index to recommend or not.
    fn scattered_path(covering: bool) -> AccessPath {
        path(
            Verdict::Scattered {
                reason: String::new(),
            },
            covering,
        )
    }

    const GROUPED: Mapping = Mapping {
        grouped: true,
        decomposable: true,
    };

    #[test]
    fn only_a_scattered_grouping_that_merges_from_partials_suits_a_scan() {
        let scattered = || Verdict::Scattered {
            reason: String::new(),
        };
        let advice = path(scattered(), true).suited_strategy(GROUPED);
        assert_eq!(advice.strategy, Strategy::Scan);
        assert!(
            advice.reason.contains("events_user_id_covering"),
            "{advice:?}"
        );

        let distinct = Mapping {
            grouped: true,
            decomposable: false,
        };
        assert_eq!(
            path(scattered(), true).suited_strategy(distinct).strategy,
            Strategy::Ranges
        );
        let row_to_row = Mapping {
            grouped: false,
            decomposable: true,
        };
        assert_eq!(
            path(scattered(), false)
                .suited_strategy(row_to_row)
                .strategy,
            Strategy::Ranges
        );
        for in_order in [
            Verdict::Covered { index: "i".into() },
            Verdict::InKeyOrder {
                reason: String::new(),
            },
            Verdict::Unknown {
                reason: "no statistics".into(),
            },
        ] {
            assert_eq!(
                path(in_order, false).suited_strategy(GROUPED).strategy,
                Strategy::Ranges
            );
        }
    }

    #[test]
    fn a_scattered_source_that_fits_in_the_cache_reads_ranges() {
        let mut fits = scattered_path(true);
        fits.size.table_bytes = Some(100 << 20);
        fits.size.cache = Some(crate::access::CacheSize {
            setting: "shared_buffers".into(),
            bytes: 128 << 20,
        });
        let advice = fits.suited_strategy(GROUPED);
        assert_eq!(advice.strategy, Strategy::Ranges, "{advice:?}");
        assert!(advice.reason.contains("shared_buffers"), "{advice:?}");
        fits.size.table_bytes = Some(200 << 20);
        assert_eq!(fits.suited_strategy(GROUPED).strategy, Strategy::Scan);
    }

    /// A scattered read of `events` by `access`, and what it advises with the estimate for
    /// `pages` pages of `rows` rows over `keys` keys read `batch` keys at a time, fixed
    /// (`None`: no estimate).
    fn advice_for(access: ReadAccess, estimate: Option<[u64; 4]>) -> StrategyAdvice {
        let [pages, rows, keys, batch] = estimate.unwrap_or_default();
        growing(access, estimate.map(|_| [pages, rows, keys, batch, batch]))
    }

    /// As [`advice_for`], the ranges growing from `batch` keys up to `largest`, as adaptive
    /// batches do; a 115 MB table (175 MB with its indexes) in a 128 MB shared_buffers.
    fn growing(access: ReadAccess, estimate: Option<[u64; 5]>) -> StrategyAdvice {
        cached(access, estimate, 128)
    }

    /// As [`growing`], in a shared_buffers of `cache_mb` MB.
    fn cached(access: ReadAccess, estimate: Option<[u64; 5]>, cache_mb: u64) -> StrategyAdvice {
        let mut read = scattered_path(false);
        read.size.table_bytes = Some(115 << 20);
        read.size.total_bytes = Some(175 << 20);
        read.size.cache = Some(crate::access::CacheSize {
            setting: "shared_buffers".into(),
            bytes: cache_mb << 20,
        });
        read.read_plan.access = access;
        if let Some([pages, rows, keys, batch, largest]) = estimate {
            read.estimate = crate::access::CostEstimate::new(pages, rows, keys, batch)
                .map(|e| e.growing_to(largest));
        }
        read.suited_strategy(GROUPED)
    }

    #[test]
    fn a_scattered_bitmap_read_stays_with_ranges() {
        let bitmap = || ReadAccess::Bitmap {
            index: Some("events_user_id".into()),
        };
        let advice = advice_for(bitmap(), None);
        assert_eq!(advice.strategy, Strategy::Ranges, "{advice:?}");
        assert!(advice.reason.contains("bitmap heap scan"), "{advice:?}");
        // 2M events over 200,000 keys on 14,700 pages: a 1,000-key range's 10,000 rows fall
        // on most of them, and adaptive ranges growing fourfold to 100,000 keys make about 6
        // passes.
        let advice = growing(bitmap(), Some([14_700, 2_000_000, 200_000, 1_000, 100_000]));
        assert_eq!(advice.strategy, Strategy::Ranges, "{advice:?}");
        assert!(
            advice.reason.contains(
                "on 68% of its pages; about 6 passes over it in all) from shared_buffers, \
                 which holds the table"
            ),
            "{advice:?}"
        );
        // The same in a 16 MB shared_buffers: each pass reads the table from the OS.
        let advice = cached(
            bitmap(),
            Some([14_700, 2_000_000, 200_000, 1_000, 100_000]),
            16,
        );
        assert_eq!(advice.strategy, Strategy::Scan, "{advice:?}");
        assert!(
            advice
                .reason
                .contains("about 6 passes over it in all, each read past the buffer cache"),
            "{advice:?}"
        );
        // 20M events over 2M keys on 147,000 pages: the same range touches 7% of them, a
        // page per row, and the source outgrows the cache (unknown here): the scan.
        let advice = advice_for(bitmap(), Some([147_000, 20_000_000, 2_000_000, 1_000]));
        assert_eq!(advice.strategy, Strategy::Scan, "{advice:?}");
    }

    #[test]
    fn dense_bitmap_ranges_win_only_when_they_make_few_passes() {
        let bitmap = || ReadAccess::Bitmap {
            index: Some("events_user_id".into()),
        };
        // The same table in fixed ranges of 10,000 keys: 20 ranges, each on all the pages.
        let advice = advice_for(bitmap(), Some([14_700, 2_000_000, 200_000, 10_000]));
        assert_eq!(advice.strategy, Strategy::Scan, "{advice:?}");
        assert!(
            advice.reason.contains("about 20 passes over it in all"),
            "{advice:?}"
        );
        // And of 1,000 keys: 200 ranges on 68% of the pages each.
        let advice = advice_for(bitmap(), Some([14_700, 2_000_000, 200_000, 1_000]));
        assert_eq!(advice.strategy, Strategy::Scan, "{advice:?}");
        assert!(advice.reason.contains("about 136 passes"), "{advice:?}");
        // 20,000 keys over 14,700 pages in fixed ranges of 2,000: 10 passes, ranges.
        let advice = advice_for(bitmap(), Some([14_700, 2_000_000, 20_000, 2_000]));
        assert_eq!(advice.strategy, Strategy::Ranges, "{advice:?}");
    }

    #[test]
    fn passes_add_each_ranges_share_as_the_ranges_grow() {
        let fixed = crate::access::CostEstimate::new(14_700, 2_000_000, 200_000, 1_000).unwrap();
        assert!((fixed.passes() - 200.0 * 10_000.0 / 14_700.0).abs() < 1e-6);
        // Growing fourfold: 1,000 keys (68%), then 4,000, 16,000 and 64,000 (whole passes),
        // then 100,000 keys; 6 ranges cover the 200,000 keys.
        let grown = fixed.clone().growing_to(100_000);
        assert!((grown.passes() - (10_000.0 / 14_700.0 + 5.0)).abs() < 1e-6);
        // Never beyond the keys there are.
        assert_eq!(fixed.growing_to(u64::MAX).max_keys_per_range, 200_000);
    }

    #[test]
    fn ranges_that_each_scan_the_whole_source_win_only_when_few() {
        // 200,000 keys over 13,000 pages, read 100,000 keys at a time: two passes.
        let advice = advice_for(
            ReadAccess::FullScan,
            Some([13_000, 2_000_000, 200_000, 100_000]),
        );
        assert_eq!(advice.strategy, Strategy::Ranges, "{advice:?}");
        assert!(advice.reason.contains("each of the 2 ranges"), "{advice:?}");
        // Three passes: the scan reads it once.
        let advice = advice_for(
            ReadAccess::FullScan,
            Some([13_000, 2_000_000, 200_000, 60_000]),
        );
        assert_eq!(advice.strategy, Strategy::Scan, "{advice:?}");
        // No estimate: nothing says how many passes.
        let advice = advice_for(ReadAccess::FullScan, None);
        assert_eq!(advice.strategy, Strategy::Scan, "{advice:?}");
    }
}
