//! The upsert scenario (the default, `--scenario upsert`): the article's [`UserStats`] backfill
//! into `user_stats` against the generated single statement, every figure measured `--repeat`
//! times, interleaved, each run started after the server quiesced and its target checked against
//! the limit's. [`Bench`] holds the samples; `report.rs` turns them into the section.

use std::time::{Duration, Instant};

use backfill::definition::Stmt;
use backfill::sqlx;
use backfill::sqlx::types::chrono::NaiveDateTime;
use backfill::{Backfill, Report, RunOptions, StopReason, Strategy};

use crate::args::Args;
use crate::checksum::Checksum;
use crate::cpu::{self, CpuUse};
use crate::db::{on_pool, Db};
use crate::engine_sql::{EngineSql, HAND_DIFF};
use crate::load::{Load, LoadStats};
use crate::measure::RssSampler;
use crate::report::thousands;
use crate::BoxError;

/// Per-user totals recomputed from `events` (the article's `user_stats`).
#[derive(Backfill, Debug)]
#[backfill(table = "user_stats", from = "events")]
#[expect(
    dead_code,
    reason = "the fields define the generated SQL; the checks read rows as tuples, not as UserStats"
)]
pub struct UserStats {
    /// The conflict key: `user_stats`' primary key.
    #[backfill(key)]
    pub user_id: i64,
    /// Absolute count of the user's events.
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    /// Absolute sum of the user's amounts.
    #[backfill(expr = "sum(amount)")]
    pub total_amount: i64,
    /// The user's latest event.
    #[backfill(expr = "max(created_at)")]
    pub last_seen: NaiveDateTime,
}

/// One row of `user_stats`, as read by the checksum and the hand-written loop.
pub(crate) type StatsRow = (i64, i64, i64, NaiveDateTime);

/// A figure whose first run takes longer than this is repeated only `--repeat-slow` times.
pub(crate) const SLOW_RUN: Duration = Duration::from_secs(60);

/// The fixed batch sizes measured.
const BATCH_SIZES: [u64; 3] = [1_000, 10_000, 100_000];

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Figure {
    Limit,
    Default,
    Rerun,
    Fixed(u64),
    HandLoop,
    /// The default options with `workers(n)` and `Strategy::Ranges`.
    Workers(u32),
    /// The default options with `workers(n)` and `Strategy::Scan`: both phases sharded.
    ScanWorkers(u32),
    /// `workers(n)` and `Strategy::Ranges` with `target_batch_time` in milliseconds: whether
    /// longer batches, so fewer of them, win back what more workers than the server's cores
    /// lose (each of their batches runs on a fraction of a core, so holds fewer keys).
    WorkersTime(u32, u64),
    /// The default options with every batch of this many milliseconds: `target_batch_time`
    /// and `merge_batch_time` (the default bounds a scan's merge on MySQL/MariaDB to 25 ms).
    TargetTime(u64),
    /// The default options with a pause of this many milliseconds between batches: whether
    /// resting between batches gives the application its latency back on a server with no core
    /// to spare, and what throughput it costs.
    Paused(u64),
    /// The limit cut by hand into `ranges` equal ranges of users (the first field), each its own
    /// statement, taken in turn by `connections` connections (the second), each starting the
    /// next range not yet started: as many connections as ranges run them side by side, one
    /// runs them one after another. The same ranges on more connections are what the engine
    /// itself gains from more sessions, with no runtime in between; only the same number of
    /// ranges keeps the plans alike (PostgreSQL plans a range of half the users differently
    /// from one of a quarter).
    HandCut(u32, u32),
    /// No backfill: the application's load alone for `--alone-secs`.
    LoadAlone,
    /// The limit's statement with a full scan of `events` forced (`strategies.rs`).
    LimitFullScan,
    /// The default options with `Strategy::Ranges`.
    Ranges,
    /// `Strategy::Ranges` with the covering index in place (created before, dropped after).
    RangesCovered,
    /// The default options with `Strategy::Scan`.
    Scan,
    /// The default options (`Strategy::Auto`), no covering index.
    Auto,
}

impl Figure {
    /// Every figure, in the order of a round (the re-run needs the full target the default run
    /// leaves).
    pub(crate) fn all() -> Vec<Figure> {
        let mut all = vec![
            Figure::Limit,
            Figure::LimitFullScan,
            Figure::Default,
            Figure::Rerun,
        ];
        all.extend(BATCH_SIZES.map(Figure::Fixed));
        all.push(Figure::HandLoop);
        all
    }

    pub(crate) fn label(self, hand_loop: Duration) -> String {
        match self {
            Figure::Limit => {
                "single statement (one INSERT … SELECT … GROUP BY … upsert), optimizer's plan"
                    .to_string()
            }
            Figure::Default => "backfill, default options (adaptive)".to_string(),
            Figure::Rerun => "re-run with restart over a full target".to_string(),
            Figure::Fixed(n) => format!("backfill, {} keys per batch", thousands(n)),
            Figure::HandLoop => format!(
                "hand-written loop, one upsert per round trip ({} s cap)",
                hand_loop.as_secs()
            ),
            Figure::Workers(1) => "backfill, strategy ranges, 1 worker".to_string(),
            Figure::Workers(n) => format!("backfill, strategy ranges, {n} workers"),
            Figure::ScanWorkers(1) => "backfill, strategy scan, 1 worker".to_string(),
            Figure::ScanWorkers(n) => format!("backfill, strategy scan, {n} workers"),
            Figure::WorkersTime(n, ms) => {
                format!("backfill, strategy ranges, {n} workers, target_batch_time {ms} ms")
            }
            Figure::TargetTime(ms) => {
                format!("backfill, target_batch_time and merge_batch_time {ms} ms")
            }
            Figure::Paused(ms) => {
                format!("backfill, default options, pause {ms} ms between batches")
            }
            Figure::HandCut(ranges, n) if n == ranges => {
                format!("single statement cut by hand into {n} key ranges on {n} connections, side by side")
            }
            Figure::HandCut(ranges, 1) => {
                format!("single statement cut by hand into {ranges} key ranges, one after another on 1 connection")
            }
            Figure::HandCut(ranges, n) => {
                format!("the same {ranges} key ranges taken in turn by {n} connections")
            }
            Figure::LoadAlone => "no backfill: the load alone".to_string(),
            Figure::LimitFullScan => "single statement, full scan forced".to_string(),
            Figure::Ranges => "ranges (strategy ranges, default options)".to_string(),
            Figure::RangesCovered => "ranges with the covering index".to_string(),
            Figure::Scan => "scan (strategy scan, adaptive chunks)".to_string(),
            Figure::Auto => "auto (default options)".to_string(),
        }
    }

    pub(crate) fn is_backfill(self) -> bool {
        matches!(
            self,
            Figure::Default
                | Figure::Rerun
                | Figure::Fixed(_)
                | Figure::Workers(_)
                | Figure::ScanWorkers(_)
                | Figure::WorkersTime(..)
                | Figure::TargetTime(_)
                | Figure::Paused(_)
                | Figure::Ranges
                | Figure::RangesCovered
                | Figure::Scan
                | Figure::Auto
        )
    }
}

/// One run of one figure.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) elapsed: Duration,
    /// Target rows the run covered (keys checked for the re-run, rows upserted by the loop).
    pub(crate) rows: u64,
    /// Rows inserted or changed (the report's count; the limit's affected rows).
    pub(crate) written: u64,
    pub(crate) batches: Option<u64>,
    pub(crate) rss_kib: Option<u64>,
    pub(crate) wal_bytes: Option<i64>,
    /// CPU of the bench and the server during the run.
    pub(crate) cpu: Option<CpuUse>,
    /// The application's latencies during the run, when a load ran beside it.
    pub(crate) load: Option<LoadStats>,
    /// The backfill's report, for a backfill run (the strategy it read with, the scan's
    /// partials).
    pub(crate) report: Option<Report>,
    /// MySQL/MariaDB: pages InnoDB read into its buffer pool during the run
    /// (`Innodb_buffer_pool_reads`, server-wide).
    pub(crate) pool_reads: Option<i64>,
    /// The run was stopped at `--cap-secs`: its time is a lower bound and its target was not
    /// checked.
    pub(crate) capped: bool,
}

impl Sample {
    pub(crate) fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The benchmark of one engine.
pub(crate) struct Bench {
    pub(crate) args: Args,
    pub(crate) db: Db,
    pub(crate) sql: EngineSql,
    pub(crate) upsert_all: &'static str,
    /// The generated upsert of one range (`cursor < key <= hi`), for the limit cut by hand.
    pub(crate) upsert_range: &'static Stmt,
    /// The application's load, run beside every timed run when set (`--scenario latency`).
    pub(crate) load: Option<Load>,
    /// The limit's target: every other full run must equal it.
    pub(crate) reference: Option<Checksum>,
    pub(crate) samples: Vec<(Figure, Vec<Sample>)>,
    pub(crate) failures: Vec<String>,
    /// The covering index of the strategies scenario (`Figure::RangesCovered`).
    pub(crate) covering: Option<crate::strategies::Covering>,
    /// The data directory of a scratch server whose files leave the OS page cache before every
    /// measured run (`--drop-os-cache`).
    pub(crate) os_cache_dir: Option<std::path::PathBuf>,
    /// Read into the cache before every measured run, untimed (`Db::warm`), so each starts
    /// with the same cache whatever ran before it (`--scenario strategies` on a server engine).
    pub(crate) warm_source: Option<&'static str>,
}

impl Db {
    async fn backfill(&self, options: RunOptions) -> Result<Report, backfill::Error> {
        on_pool!(self, p => UserStats::run_backfill(p, options).await)
    }
}

/// A seeded benchmark and what its section says about the server.
pub(crate) struct Opened {
    pub(crate) bench: Bench,
    pub(crate) version: String,
    pub(crate) settings: String,
    pub(crate) null_events: i64,
}

impl Bench {
    /// The benchmark of `args.engine` on `db`, its data seeded.
    pub(crate) async fn open(args: Args, db: Db) -> Result<Opened, BoxError> {
        let engine = args.engine;
        let stmts = UserStats::sql(engine).ok_or("UserStats was not generated for this engine")?;
        if !stmts.upsert_all.params.is_empty() {
            return Err("the single-statement recompute binds parameters; expected none".into());
        }
        let sql = EngineSql::new(engine, args.events);
        let version = db.text(sql.version).await?;
        let settings = db.text(sql.settings).await?;
        let bench = Bench {
            args,
            db,
            sql,
            upsert_all: stmts.upsert_all.sql,
            upsert_range: &stmts.upsert.next,
            load: None,
            reference: None,
            samples: Vec::new(),
            failures: Vec::new(),
            covering: None,
            os_cache_dir: None,
            warm_source: None,
        };
        println!(
            "{version}: seeding {} events over {} users ...",
            thousands(bench.args.events as u64),
            thousands(bench.args.users as u64)
        );
        let seeded = bench.seed().await?;
        let null_events = bench
            .db
            .int("SELECT count(*) FROM events WHERE user_id IS NULL")
            .await?;
        println!("  seeded in {seeded:.2?}; settings: {settings}");
        Ok(Opened {
            bench,
            version,
            settings,
            null_events,
        })
    }

    pub(crate) async fn seed(&self) -> Result<Duration, BoxError> {
        let started = Instant::now();
        self.db.exec_all(self.sql.setup).await?;
        self.db
            .exec(&self.sql.seed, &[self.args.events, self.args.users])
            .await?;
        self.db.exec_all(self.sql.after_seed).await?;
        Ok(started.elapsed())
    }

    /// An empty target and no progress table.
    pub(crate) async fn empty_target(&self) -> sqlx::Result<()> {
        self.db
            .exec_all(&[self.sql.truncate, self.sql.drop_progress])
            .await
    }

    /// The untimed pause before a measured run: the server's background work flushed
    /// (`Db::quiesce`), the source read into the cache when `warm_source` is set (`Db::warm`),
    /// and, with `--drop-os-cache` on a scratch server, its files dropped from the OS page
    /// cache.
    pub(crate) async fn quiesce(&self) -> Result<(), BoxError> {
        self.db.quiesce().await?;
        if let Some(read) = self.warm_source {
            self.db.warm(read).await?;
        }
        if let Some(dir) = &self.os_cache_dir {
            crate::scratch::drop_os_cache(dir)?;
        }
        Ok(())
    }

    /// Runs every figure `--repeat` times, interleaved, so drift hits every figure alike.
    pub(crate) async fn run(&mut self, figures: &[Figure]) -> Result<(), BoxError> {
        self.run_rounds(|_| figures.to_vec()).await
    }

    /// Runs `--repeat` rounds, each of the figures `order(round)` gives, in that order.
    pub(crate) async fn run_rounds(
        &mut self,
        order: impl Fn(usize) -> Vec<Figure>,
    ) -> Result<(), BoxError> {
        for round in 0..self.args.repeat {
            for figure in order(round) {
                if round >= self.args.repeat_slow && self.is_slow(figure) {
                    continue;
                }
                let sample = self.measure(figure).await?;
                println!(
                    "  round {}/{}: {:<58} {:>9.2?} {:>12} rows/s{}",
                    round + 1,
                    self.args.repeat,
                    figure.label(self.args.hand_loop),
                    sample.elapsed,
                    thousands(sample.rate().round() as u64),
                    sample
                        .batches
                        .map(|b| format!(", {b} batches"))
                        .unwrap_or_default()
                );
                if let Some(load) = &sample.load {
                    println!(
                        "    load: {} ops, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} errors",
                        load.micros.len(),
                        load.quantile_ms(0.5).unwrap_or(f64::NAN),
                        load.quantile_ms(0.99).unwrap_or(f64::NAN),
                        load.quantile_ms(1.0).unwrap_or(f64::NAN),
                        load.errors
                    );
                }
                match self.samples.iter_mut().find(|(f, _)| *f == figure) {
                    Some((_, list)) => list.push(sample),
                    None => self.samples.push((figure, vec![sample])),
                }
            }
        }
        Ok(())
    }

    fn is_slow(&self, figure: Figure) -> bool {
        self.samples
            .iter()
            .find(|(f, _)| *f == figure)
            .and_then(|(_, list)| list.first())
            .is_some_and(|s| s.elapsed > SLOW_RUN)
    }

    pub(crate) async fn measure(&mut self, figure: Figure) -> Result<Sample, BoxError> {
        match figure {
            Figure::Limit => self.limit().await,
            Figure::Default => self.backfill(figure, RunOptions::default(), true).await,
            Figure::Rerun => {
                let options = RunOptions::default().restart(true);
                self.backfill(figure, options, false).await
            }
            Figure::Fixed(n) => {
                let options = RunOptions::default().batch_size(n);
                self.backfill(figure, options, true).await
            }
            Figure::HandLoop => self.hand_loop().await,
            // Each strategy whatever the worker count, so a scaling of workers compares ranges
            // with ranges and the scan with the scan (`Figure::Default` shows auto's pick).
            Figure::Workers(n) => {
                let options = RunOptions::default().workers(n).strategy(Strategy::Ranges);
                self.backfill(figure, options, true).await
            }
            Figure::ScanWorkers(n) => {
                let options = RunOptions::default().workers(n).strategy(Strategy::Scan);
                self.backfill(figure, options, true).await
            }
            Figure::WorkersTime(n, ms) => {
                let options = RunOptions::default()
                    .workers(n)
                    .strategy(Strategy::Ranges)
                    .target_batch_time(Duration::from_millis(ms));
                self.backfill(figure, options, true).await
            }
            Figure::TargetTime(ms) => {
                let time = Duration::from_millis(ms);
                let options = RunOptions::default()
                    .target_batch_time(time)
                    .merge_batch_time(time);
                self.backfill(figure, options, true).await
            }
            Figure::Paused(ms) => {
                let options = RunOptions::default().pause(Duration::from_millis(ms));
                self.backfill(figure, options, true).await
            }
            Figure::HandCut(ranges, n) => self.hand_cut(ranges, n).await,
            Figure::LoadAlone => self.load_alone().await,
            Figure::LimitFullScan => self.limit_full_scan().await,
            Figure::Ranges => {
                let options = RunOptions::default().strategy(Strategy::Ranges);
                self.backfill(figure, options, true).await
            }
            Figure::RangesCovered => self.ranges_covered().await,
            Figure::Scan => {
                let options = RunOptions::default().strategy(Strategy::Scan);
                self.backfill(figure, options, true).await
            }
            Figure::Auto => self.backfill(figure, RunOptions::default(), true).await,
        }
    }

    async fn limit(&mut self) -> Result<Sample, BoxError> {
        self.empty_target().await?;
        self.quiesce().await?;
        let reads_before = self.db.pool_reads().await;
        let (written, t) = self
            .timed(capped(self.args.cap, self.db.exec(self.upsert_all, &[])))
            .await?;
        let Some(written) = written else {
            println!("    stopped at --cap-secs: the single statement is slower than that");
            return Ok(self.capped_sample(t.elapsed));
        };
        let written = written?;
        let pool_reads = self.db.pool_reads_since(reads_before).await;
        let sum = self.db.checksum(self.sql.page).await?;
        match self.reference {
            None => {
                self.reference = Some(sum);
                self.db.exec_all(self.sql.snapshot).await?;
            }
            Some(reference) => self.check(Figure::Limit, reference, sum),
        }
        Ok(Sample {
            elapsed: t.elapsed,
            rows: sum.rows,
            written,
            batches: Some(1),
            rss_kib: t.rss_kib,
            wal_bytes: t.wal_bytes,
            cpu: t.cpu,
            load: t.load,
            report: None,
            pool_reads,
            capped: false,
        })
    }

    pub(crate) async fn backfill(
        &mut self,
        figure: Figure,
        options: RunOptions,
        empty: bool,
    ) -> Result<Sample, BoxError> {
        if empty {
            self.empty_target().await?;
        }
        self.quiesce().await?;
        let reads_before = self.db.pool_reads().await;
        let (report, t) = self
            .timed(capped(self.args.cap, self.db.backfill(options)))
            .await?;
        let Some(report) = report else {
            println!(
                "    stopped at --cap-secs {}: {} is slower than that",
                self.args.cap.map_or(0, |c| c.as_secs()),
                figure.label(self.args.hand_loop)
            );
            return Ok(self.capped_sample(t.elapsed));
        };
        let report = report?;
        let pool_reads = self.db.pool_reads_since(reads_before).await;
        if report.stop != StopReason::Done {
            self.failures.push(format!(
                "{}: the run stopped with {:?} instead of finishing",
                figure.label(self.args.hand_loop),
                report.stop
            ));
        }
        let sum = self.db.checksum(self.sql.page).await?;
        if let Some(reference) = self.reference {
            self.check(figure, reference, sum);
        }
        Ok(Sample {
            elapsed: t.elapsed,
            rows: report.keys,
            written: report.rows_written,
            batches: Some(report.batches),
            rss_kib: t.rss_kib,
            wal_bytes: t.wal_bytes,
            cpu: t.cpu,
            load: t.load,
            report: Some(report),
            pool_reads,
            capped: false,
        })
    }

    async fn hand_loop(&mut self) -> Result<Sample, BoxError> {
        self.db.exec_all(&[self.sql.truncate]).await?;
        self.db.quiesce().await?;
        let rss = RssSampler::start();
        let started = Instant::now();
        let rows = self.db.hand_loop(&self.sql, self.args.hand_loop).await?;
        let elapsed = started.elapsed();
        let rss_kib = rss.stop();
        let wrong = self.db.int(HAND_DIFF).await?;
        if wrong != 0 || rows == 0 {
            self.failures.push(format!(
                "hand-written loop: {wrong} of its {rows} rows differ from the limit's"
            ));
        }
        Ok(Sample {
            elapsed,
            rows,
            written: rows,
            batches: None,
            rss_kib,
            wal_bytes: None,
            cpu: None,
            load: None,
            report: None,
            pool_reads: None,
            capped: false,
        })
    }

    pub(crate) fn check(&mut self, figure: Figure, reference: Checksum, sum: Checksum) {
        if sum != reference {
            self.failures.push(format!(
                "{}: the target ({sum}) differs from the limit's ({reference})",
                figure.label(self.args.hand_loop)
            ));
        }
    }
}

/// `work`, or `None` when it did not finish within `cap` (dropped then: its transaction rolls
/// back).
pub(crate) async fn capped<T>(
    cap: Option<Duration>,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    match cap {
        Some(cap) => tokio::time::timeout(cap, work).await.ok(),
        None => Some(work.await),
    }
}

impl Bench {
    /// A run stopped at `--cap-secs`: its time is a lower bound, its rows the limit's.
    pub(crate) fn capped_sample(&self, elapsed: Duration) -> Sample {
        Sample {
            elapsed,
            rows: self.reference.map_or(self.args.users as u64, |r| r.rows),
            written: 0,
            batches: None,
            rss_kib: None,
            wal_bytes: None,
            cpu: None,
            load: None,
            report: None,
            pool_reads: None,
            capped: true,
        }
    }
}

/// What was measured around one timed run besides its result.
pub(crate) struct Timed {
    pub(crate) elapsed: Duration,
    pub(crate) rss_kib: Option<u64>,
    pub(crate) cpu: Option<CpuUse>,
    pub(crate) load: Option<LoadStats>,
    /// The WAL the server wrote meanwhile, every session's (PostgreSQL; `None` elsewhere).
    pub(crate) wal_bytes: Option<i64>,
}

impl Bench {
    /// Runs `work` timed, with the memory sampler, the CPU counters, the WAL position
    /// (PostgreSQL) and (when set) the application's load around exactly the timed part: the
    /// untimed quiesce and checks before and after a run are not in any of them.
    pub(crate) async fn timed<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Result<(T, Timed), BoxError> {
        let engine = self.args.engine;
        let wal_before = self.db.wal_position().await?;
        let running = self.load.as_ref().map(Load::start);
        let cpu_before = cpu::read(engine);
        let rss = RssSampler::start();
        let started = Instant::now();
        let out = work.await;
        let elapsed = started.elapsed();
        let rss_kib = rss.stop();
        let cpu = cpu_before.zip(cpu::read(engine)).map(|(a, b)| a.until(b));
        let load = match running {
            Some(running) => Some(running.stop().await),
            None => None,
        };
        let wal_after = self.db.wal_position().await?;
        Ok((
            out,
            Timed {
                elapsed,
                rss_kib,
                cpu,
                load,
                wal_bytes: wal_before.zip(wal_after).map(|(a, b)| b - a),
            },
        ))
    }
}
