//! Batch size: fixed when the options or the attribute set one (the options win), otherwise
//! adaptive toward `target_batch_time` — halved at once when a batch takes more than twice the
//! target (a slow batch holds locks and builds replica lag), grown toward the size the target
//! would take at the last batch's time per key — up to fourfold while a batch takes under half
//! the target, by at most half nearer it — always within `min_batch_size..=max_batch_size`.

// Parts serve only some engines; a build with fewer engine features leaves them unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use std::time::Duration;

use crate::definition::Definition;
use crate::options::RunOptions;

/// The fewest source rows per key a scan's adaptive chunk holds (see [`BatchSizer::chunks`]).
const ROWS_PER_KEY: u64 = 16;

/// The fewest source rows per key a shard of a scan's partials phase holds: a shard fewer than
/// the workers when the source is smaller (see [`partials_shard_rows`]).
const SHARD_ROWS_PER_KEY: u64 = 4;

/// The most source rows an adaptive chunk holds.
const MAX_CHUNK_ROWS: u64 = 50_000_000;

/// The fewest source rows a shard of the scan's partials phase is worth: what the chunk time
/// reads at 500,000 rows/s, or four rows per key (`keys` from an integer key's span) if that is
/// more; `scan_chunk_rows` when set. Each shard writes a partial for nearly every key, so a
/// phase of more shards writes, keys and merges more partials, which pays only where each
/// shard still reads several times as many rows: at 2M events over 200,000 users two shards of
/// 1M rows made the scan 0.85-0.90x one worker's speed, at 20M events over 2M users two of 10M
/// rows made it 1.08-1.26x one worker's one chunk of all 20M rows.
pub(crate) fn partials_shard_rows(options: &RunOptions, keys: Option<u64>) -> u64 {
    match options.scan_chunk_rows {
        Some(fixed) => fixed.max(1),
        None => first_chunk(options, keys, SHARD_ROWS_PER_KEY).0,
    }
}

/// The shards of a scan's partials phase for a source whose chunk column spans `rows`, before
/// the workers bound them: as many as [`partials_shard_rows`] fit, with one exception. Where
/// the engine writes a one-shard phase's first chunk by `CREATE TABLE AS`, which it runs with
/// its own parallel workers (`parallel_first_chunk`: PostgreSQL), a source that one adaptive
/// first chunk holds whole is one shard: more shards would write their partials by `INSERT`,
/// which PostgreSQL never runs in parallel, and twice the partials to merge, while the workers
/// share the merge either way. At 20M events over 2M users (one first chunk of all 20M rows)
/// 2 workers ran the scan 1.10x faster with one partials shard than with two, 4 workers 1.08x
/// (BENCHMARKS.md, `postgres-20m-workers`).
pub(crate) fn partials_shards(
    rows: u64,
    options: &RunOptions,
    keys: Option<u64>,
    parallel_first_chunk: bool,
) -> u64 {
    let chunks = BatchSizer::chunks(options, keys);
    if parallel_first_chunk && chunks.is_adaptive() && rows <= chunks.size() {
        return 1;
    }
    rows / partials_shard_rows(options, keys).max(1)
}

/// A scan's first adaptive chunk and its smallest: what the chunk time reads at 500,000
/// rows/s, or `rows_per_key` rows per key if that is more (keys counted by an integer key's
/// span; else at least 10,000 rows), at most [`MAX_CHUNK_ROWS`].
fn first_chunk(options: &RunOptions, keys: Option<u64>, rows_per_key: u64) -> (u64, u64) {
    let least = keys.map_or(10_000, |k| {
        k.saturating_mul(rows_per_key).clamp(10_000, MAX_CHUNK_ROWS)
    });
    let target = options.scan_chunk_time.max(Duration::from_micros(1));
    let timed = (target.as_secs_f64() * FIRST_CHUNK_ROWS_PER_SEC) as u64;
    (timed.clamp(least, MAX_CHUNK_ROWS), least)
}

/// The source rows per second a scan's first adaptive chunk is sized for, before any chunk has
/// been timed: half what a chunk read and aggregated here (1.1-1.3M rows/s on PostgreSQL, 2M
/// events over 200,000 users beyond a 16 MB cache). See [`BatchSizer::chunks`].
const FIRST_CHUNK_ROWS_PER_SEC: f64 = 500_000.0;

/// The most a batch quicker than half its target grows the next: fourfold, toward the size
/// the target would take at its time per key. Small batches cost more per key than their size
/// says (each pays a statement's and a commit's fixed cost, and on PostgreSQL a scattered
/// range's bitmap reads most of the table's pages whatever its size), so such a size takes
/// less than the target. At 2M events over 200,000 users on PostgreSQL, 1,000 keys took
/// 39-48 ms and 30,000 keys 260 ms: growing by half from 1,000 keys took nine batches and
/// 75,000 keys to reach the target, at 11 µs a key against 8.6 µs after, and two workers,
/// each on a shard of 100,000 keys and each batch slower beside the other, spent most of
/// their keys there.
const QUICK_GROWTH: f64 = 4.0;

/// The most a batch between half its target and the target grows the next: by half, so noise
/// in one batch's time, or a time growing faster than its keys, overshoots little.
const GROWTH: f64 = 1.5;

/// The size after `size`, grown as a batch of it far quicker than its target grows the next
/// (the quickest an adaptive sizer grows); the access analysis counts the passes of the
/// quickest run with it.
pub(crate) fn quickest_growth(size: u64) -> u64 {
    ((size as f64 * QUICK_GROWTH) as u64).max(size + 1)
}

/// Chooses the number of distinct keys of the next batch.
#[derive(Debug, Clone)]
pub(crate) struct BatchSizer {
    size: u64,
    adaptive: Option<Adaptive>,
}

#[derive(Debug, Clone)]
struct Adaptive {
    target: Duration,
    min: u64,
    max: u64,
}

impl BatchSizer {
    /// A sizer for a run of `def` with `options`.
    pub(crate) fn new(def: &Definition, options: &RunOptions) -> BatchSizer {
        if let Some(fixed) = options.batch_size.or(def.batch_size) {
            return BatchSizer {
                size: fixed.max(1),
                adaptive: None,
            };
        }
        let min = options.min_batch_size.max(1);
        let max = options.max_batch_size.max(min);
        BatchSizer {
            size: options.initial_batch_size.clamp(min, max),
            adaptive: Some(Adaptive {
                target: options.target_batch_time.max(Duration::from_micros(1)),
                min,
                max,
            }),
        }
    }

    /// A sizer of the scan's chunks, in source rows: `scan_chunk_rows` when set, else adaptive
    /// toward `scan_chunk_time` but never under sixteen source rows per key when the keys are
    /// counted (`keys`). A chunk writes one partial row per key it holds, so a chunk smaller
    /// than the key space writes about one per source row and the staging table grows as large
    /// as the source: at 2M events over 200,000 users, chunks from 20,000 rows wrote 1.2M-2M
    /// partials; at 20M events over 2M users, chunks the 4 s target had cut to 1.7M rows wrote
    /// 16.4M partials, and the scan ran slower than the ranges. Each chunk beyond the first
    /// costs about a pass over the key space (a partial per key written, keyed and merged:
    /// 4-5 µs a key on PostgreSQL at 20M events, against 0.75 µs a source row read and
    /// aggregated), so a chunk holds at least sixteen rows per key, where that pass costs under
    /// half the chunk's own read. At 20M events over 2M users chunks of four rows per key wrote
    /// 8M and 12M rows, 4M partials, and the scan took 35-41 s; one chunk of all 20M rows wrote
    /// 2M and took 15.0 s, its key 0.6 s and its merge 6.9 s, about the single statement's
    /// 22-23 s. Such a chunk takes longer than the target, and it locks nothing the
    /// application writes; a kill loses it whole.
    ///
    /// The first chunk holds what the target reads at 500,000 rows/s (2M rows at 4 s), or
    /// sixteen rows per key if that is more: every chunk writes a partial for nearly every key,
    /// so each chunk fewer is a pass over the key space fewer. At 2M events over 200,000 users
    /// one chunk wrote 200,000 partials and the scan took 2.3-2.7 s; a first chunk of four rows
    /// per key made two, 400,000 partials and 3.3-3.6 s. A first chunk slower than twice the
    /// target halves the next, as any adaptive batch does.
    pub(crate) fn chunks(options: &RunOptions, keys: Option<u64>) -> BatchSizer {
        if let Some(fixed) = options.scan_chunk_rows {
            return BatchSizer {
                size: fixed.max(1),
                adaptive: None,
            };
        }
        let (first, min) = first_chunk(options, keys, ROWS_PER_KEY);
        BatchSizer {
            size: first,
            adaptive: Some(Adaptive {
                target: options.scan_chunk_time.max(Duration::from_micros(1)),
                min,
                max: MAX_CHUNK_ROWS,
            }),
        }
    }

    /// The size of the next batch.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The smallest batch an adaptive sizer gives (for the scan's chunks, four source rows per
    /// key); `None` for a fixed size.
    pub(crate) fn least(&self) -> Option<u64> {
        self.adaptive.as_ref().map(|a| a.min)
    }

    /// The largest batch this sizer gives: its bound when adaptive, else its fixed size.
    pub(crate) fn largest(&self) -> u64 {
        self.adaptive.as_ref().map_or(self.size, |a| a.max)
    }

    /// Whether the size adapts to batch durations.
    pub(crate) fn is_adaptive(&self) -> bool {
        self.adaptive.is_some()
    }

    /// Learns from a committed batch of `keys` keys (fewer than asked at the end of the key
    /// space) that took `took`.
    pub(crate) fn record(&mut self, keys: u64, took: Duration) {
        let Some(a) = &self.adaptive else {
            return;
        };
        if took > a.target * 2 {
            self.size = (self.size / 2).clamp(a.min, a.max);
            return;
        }
        // A short last batch says nothing about the speed of a full one.
        if keys < self.size || took >= a.target {
            return;
        }
        let target = a.target.as_secs_f64();
        let cap = if took * 2 < a.target {
            QUICK_GROWTH
        } else {
            GROWTH
        };
        let ratio = (target / took.as_secs_f64().max(1e-6)).min(cap);
        let grown = (self.size as f64 * ratio).round() as u64;
        self.size = grown.max(self.size + 1).clamp(a.min, a.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(batch_size: Option<u64>) -> Definition {
        Definition {
            name: "T",
            table: "t",
            from: "s",
            in_place: false,
            filter: None,
            job: "t",
            batch_size,
            write_once: false,
            allow_other_unique_keys: false,
            grouped: false,
            key: &[],
            columns: &[],
            postgres: None,
            mysql: None,
            sqlite: None,
            schema: &[],
            strategy: crate::definition::Strategy::Auto,
        }
    }

    fn adaptive() -> BatchSizer {
        let options = RunOptions::default()
            .target_batch_time(Duration::from_millis(100))
            .batch_size_bounds(10, 1_000);
        BatchSizer::new(
            &def(None),
            &RunOptions {
                initial_batch_size: 100,
                ..options
            },
        )
    }

    #[test]
    fn options_win_over_the_attribute_and_stay_fixed() {
        let mut sizer = BatchSizer::new(&def(Some(50)), &RunOptions::default().batch_size(70));
        assert_eq!(sizer.size(), 70);
        assert!(!sizer.is_adaptive());
        sizer.record(70, Duration::from_secs(10));
        assert_eq!(sizer.size(), 70);
        let sizer = BatchSizer::new(&def(Some(50)), &RunOptions::default());
        assert_eq!(sizer.size(), 50);
    }

    #[test]
    fn a_slow_batch_halves_the_size_at_once() {
        let mut sizer = adaptive();
        sizer.record(100, Duration::from_millis(201));
        assert_eq!(sizer.size(), 50);
        sizer.record(50, Duration::from_secs(5));
        assert_eq!(sizer.size(), 25);
    }

    #[test]
    fn batches_under_half_the_target_grow_toward_it_fourfold_at_most() {
        let mut sizer = adaptive();
        sizer.record(100, Duration::from_millis(1));
        assert_eq!(sizer.size(), 400);
        // 40 ms of a 100 ms target: to what 100 ms takes at that pace.
        sizer.record(400, Duration::from_millis(40));
        assert_eq!(sizer.size(), 1_000, "bounded by max_batch_size");
        let mut sizer = adaptive();
        sizer.record(100, Duration::from_millis(40));
        assert_eq!(sizer.size(), 250);
        sizer.record(250, Duration::from_millis(60));
        assert_eq!(
            sizer.size(),
            375,
            "half the target or more: by half at most"
        );
    }

    #[test]
    fn batches_nearer_the_target_grow_by_at_most_half() {
        let mut sizer = adaptive();
        sizer.record(100, Duration::from_millis(50));
        assert_eq!(sizer.size(), 150);
        sizer.record(150, Duration::from_millis(80));
        assert_eq!(sizer.size(), 188);
        // Between the target and twice the target: unchanged.
        sizer.record(188, Duration::from_millis(150));
        assert_eq!(sizer.size(), 188);
    }

    #[test]
    fn quickest_growth_is_fourfold() {
        assert_eq!(quickest_growth(1_000), 4_000);
        assert_eq!(quickest_growth(0), 1);
    }

    #[test]
    fn sizes_stay_within_bounds() {
        let mut sizer = adaptive();
        for _ in 0..20 {
            sizer.record(sizer.size(), Duration::from_micros(10));
        }
        assert_eq!(sizer.size(), 1_000);
        for _ in 0..20 {
            sizer.record(sizer.size(), Duration::from_secs(1));
        }
        assert_eq!(sizer.size(), 10);
    }

    #[test]
    fn a_short_last_batch_does_not_grow_the_size() {
        let mut sizer = adaptive();
        sizer.record(3, Duration::from_millis(1));
        assert_eq!(sizer.size(), 100);
    }

    #[test]
    fn a_scan_chunk_holds_sixteen_rows_per_key_however_slow() {
        let options = RunOptions::default();
        let mut chunks = BatchSizer::chunks(&options, Some(2_000_000));
        assert_eq!(chunks.size(), 32_000_000);
        chunks.record(32_000_000, Duration::from_secs(80));
        assert_eq!(
            chunks.size(),
            32_000_000,
            "never under sixteen rows per key"
        );
        let mut chunks = BatchSizer::chunks(&options, Some(200_000));
        assert_eq!(chunks.size(), 3_200_000);
        chunks.record(3_200_000, Duration::from_secs(3));
        assert_eq!(chunks.size(), 4_266_667, "grows toward the time target");
        chunks.record(4_266_667, Duration::from_secs(1));
        assert_eq!(chunks.size(), 17_066_668, "fourfold under half the target");
        chunks.record(17_066_668, Duration::from_secs(1));
        assert_eq!(chunks.size(), 50_000_000, "up to the most a chunk holds");
        // Keys unknown: from what 4 s read at 500,000 rows/s, down to 10,000.
        let mut unknown = BatchSizer::chunks(&options, None);
        assert_eq!(unknown.size(), 2_000_000);
        for _ in 0..10 {
            unknown.record(unknown.size(), Duration::from_secs(60));
        }
        assert_eq!(unknown.size(), 10_000);
        // Fixed rows win.
        let fixed = BatchSizer::chunks(&options.clone().scan_chunk_rows(500), Some(2_000_000));
        assert_eq!(fixed.size(), 500);
    }

    #[test]
    fn a_first_scan_chunk_is_what_the_target_reads_at_half_a_million_rows_a_second() {
        // 100,000 keys: 2M rows (4 s), more than sixteen rows per key.
        let options = RunOptions::default();
        assert_eq!(
            BatchSizer::chunks(&options, Some(100_000)).size(),
            2_000_000
        );
        // A shorter target, and sixteen rows per key is more.
        let short = options.scan_chunk_time(Duration::from_secs(1));
        assert_eq!(BatchSizer::chunks(&short, Some(100_000)).size(), 1_600_000);
        assert_eq!(BatchSizer::chunks(&short, Some(10)).size(), 500_000);
    }

    #[test]
    fn a_partials_shard_holds_four_rows_per_key_and_what_the_chunk_time_reads() {
        let options = RunOptions::default();
        // 20M events over 2M users: shards of 8M rows, so 2 workers at 20M rows.
        assert_eq!(partials_shard_rows(&options, Some(2_000_000)), 8_000_000);
        // 2M events over 200,000 users: what 4 s reads, 2M rows, so 1 worker.
        assert_eq!(partials_shard_rows(&options, Some(200_000)), 2_000_000);
        assert_eq!(partials_shard_rows(&options, None), 2_000_000);
        assert_eq!(
            partials_shard_rows(&options.scan_chunk_rows(300), Some(2_000_000)),
            300
        );
    }

    #[test]
    fn a_source_one_parallel_first_chunk_holds_is_one_partials_shard() {
        let options = RunOptions::default();
        // 20M events over 2M users: a first chunk of 32M rows holds them all, so PostgreSQL's
        // parallel CREATE TABLE AS reads them in one shard; MySQL's chunks make 2 shards.
        assert_eq!(
            partials_shards(20_000_000, &options, Some(2_000_000), true),
            1
        );
        assert_eq!(
            partials_shards(20_000_000, &options, Some(2_000_000), false),
            2
        );
        // Past what one first chunk holds (at most 50M rows), shards as before.
        assert_eq!(
            partials_shards(100_000_000, &options, Some(2_000_000), true),
            12
        );
        assert_eq!(
            partials_shards(40_000_000, &options, Some(2_000_000), true),
            5
        );
        // A text key (no span): first chunks of what 4 s reads, 2M rows.
        assert_eq!(partials_shards(1_500_000, &options, None, true), 1);
        assert_eq!(partials_shards(6_000_000, &options, None, true), 3);
        // Fixed chunks (`scan_chunk_rows`) shard by their size on every engine.
        let fixed = options.scan_chunk_rows(200);
        assert_eq!(partials_shards(6_000, &fixed, Some(300), true), 30);
        assert_eq!(partials_shards(6_000, &fixed, Some(300), false), 30);
    }
}
