//! The workers scenario (`--scenario workers`): the backfill with 1, 2 and 4 workers
//! (`RunOptions::workers`) on each strategy, ranges and the scan, and the default options,
//! against the limit in the same run, each figure's target checked
//! against the limit's; beside them the limit cut by hand into 2 ranges of users run side by
//! side on 2 connections and the same 2 one after another on 1, and into 4 ranges on 4
//! connections (what the engine itself gains from a second and a fourth session on this
//! machine, on the same statements, with no runtime in between), and into 16 ranges taken in
//! turn by 1, 2 and 4 connections (the same statements and plans whatever the sessions), and
//! for every figure the CPU the server and the bench used and how busy the machine was
//! (`cpu.rs`), which is what bounds the scaling when the server shares the cores with the
//! client.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use backfill::definition::Param;
use backfill::sqlx;
use backfill::RunOptions;
use tokio::task::JoinSet;

use crate::db::{on_pool, own_sql, Db};
use crate::measure::median;
use crate::report::{mib, thousands, Meta};
use crate::upsert::{Bench, Figure, Sample};
use crate::BoxError;

/// The ranges of users the limit is cut into for [`Figure::HandCut`] on 1, 2 and 4
/// connections: 12,500 users each at the default scale, about the keys of one batch of 4
/// workers at the default batch time.
const HAND_RANGES: u32 = 16;

/// The figures of the workers scenario, in the order of a round: 4 workers also with twice
/// the default `target_batch_time` (see [`Figure::WorkersTime`]).
pub(crate) fn figures() -> Vec<Figure> {
    let twice = 2 * RunOptions::default().target_batch_time.as_millis() as u64;
    vec![
        Figure::Limit,
        Figure::LimitFullScan,
        Figure::HandCut(2, 1),
        Figure::HandCut(2, 2),
        Figure::HandCut(4, 4),
        Figure::HandCut(HAND_RANGES, 1),
        Figure::HandCut(HAND_RANGES, 2),
        Figure::HandCut(HAND_RANGES, 4),
        Figure::Workers(1),
        Figure::Workers(2),
        Figure::Workers(4),
        Figure::WorkersTime(4, twice),
        Figure::ScanWorkers(1),
        Figure::ScanWorkers(2),
        Figure::ScanWorkers(4),
        Figure::Default,
    ]
}

impl Db {
    /// Runs the generated range upsert for `lo < user_id <= hi` as one autocommit statement
    /// (MySQL/MariaDB: at READ COMMITTED, as the runtime's batches run); the affected rows.
    async fn upsert_range(
        &self,
        stmt: &str,
        params: &[Param],
        lo: i64,
        hi: i64,
    ) -> sqlx::Result<u64> {
        let values: Vec<i64> = params
            .iter()
            .map(|p| match p {
                Param::Cursor(_) => lo,
                _ => hi,
            })
            .collect();
        on_pool!(self, p => {
            let mut conn = p.acquire().await?;
            if matches!(self, Db::MySql(_)) {
                sqlx::raw_sql("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .execute(&mut *conn)
                    .await?;
            }
            let mut q = sqlx::query(own_sql(stmt));
            for v in values {
                q = q.bind(v);
            }
            q.execute(&mut *conn).await.map(|r| r.rows_affected())
        })
    }
}

impl Bench {
    /// The limit cut by hand into `ranges` equal ranges of users, each its own statement, taken
    /// in turn by `connections` connections (each starts the next range not yet started):
    /// `ranges` on as many connections, all at once, or one after another on one.
    pub(crate) async fn hand_cut(
        &mut self,
        ranges: u32,
        connections: u32,
    ) -> Result<Sample, BoxError> {
        let stmt = self.upsert_range;
        if !stmt.holes.is_empty()
            || stmt
                .params
                .iter()
                .any(|p| !matches!(p, Param::Cursor(0) | Param::Hi(0)))
        {
            return Err(
                "the range upsert binds more than one key part; cannot cut it by hand".into(),
            );
        }
        self.empty_target().await?;
        self.db.quiesce().await?;
        let users = self.args.users;
        let n = i64::from(ranges.max(1));
        let next = Arc::new(AtomicI64::new(0));
        let db = self.db.clone();
        let work = async move {
            let mut streams = JoinSet::new();
            for _ in 0..connections.clamp(1, ranges.max(1)) {
                let (db, next) = (db.clone(), Arc::clone(&next));
                streams.spawn(async move {
                    let mut written = 0;
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= n {
                            return Ok::<u64, sqlx::Error>(written);
                        }
                        let (lo, hi) = (users * k / n, users * (k + 1) / n);
                        written += db.upsert_range(stmt.sql, stmt.params, lo, hi).await?;
                    }
                });
            }
            let mut written = 0;
            while let Some(result) = streams.join_next().await {
                written += result.map_err(|e| e.to_string())??;
            }
            Ok::<u64, BoxError>(written)
        };
        let (written, t) = self.timed(work).await?;
        let written = written?;
        let sum = self.db.checksum(self.sql.page).await?;
        if let Some(reference) = self.reference {
            self.check(Figure::HandCut(ranges, connections), reference, sum);
        }
        Ok(Sample {
            elapsed: t.elapsed,
            rows: sum.rows,
            written,
            batches: Some(n as u64),
            rss_kib: t.rss_kib,
            wal_bytes: t.wal_bytes,
            cpu: t.cpu,
            load: t.load,
            report: None,
            pool_reads: None,
            capped: false,
        })
    }

    /// The workers section: the table, the goals of issue 14 met or missed, and the CPU that
    /// explains them.
    pub(crate) fn scaling_section(&self, meta: &Meta) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### Workers on {}: {} events over {} users\n",
            meta.version,
            thousands(self.args.events as u64),
            thousands(self.args.users as u64)
        );
        let _ =
            writeln!(
            s,
            "{} cores; median of {} per figure, interleaved, one process, one run of the bench \
             (`--scenario workers`); {}{}; load average {} before the run.\n",
            meta.cores,
            self.args.repeat,
            meta.date,
            meta.commit.as_ref().map(|c| format!(", commit {c}")).unwrap_or_default(),
            meta.load_average.as_deref().unwrap_or("n/a"),
        );
        let (limit, _) = self.best_limit();
        let one = self.median_rate(Figure::Workers(1)).unwrap_or(f64::NAN);
        let scan_one = self.median_rate(Figure::ScanWorkers(1)).unwrap_or(f64::NAN);
        let _ = writeln!(
            s,
            "| figure | median time | rows/s | × limit | × 1 worker | batches | server CPU | bench CPU | machine busy | peak RSS |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for figure in figures() {
            let list = self.samples(figure);
            let (Some(rate), Some(elapsed)) = (
                self.median_rate(figure),
                median(list.iter().map(|x| x.elapsed)),
            ) else {
                continue;
            };
            let cores = |pick: fn(&crate::cpu::CpuUse, std::time::Duration) -> f64| {
                median(
                    list.iter()
                        .filter_map(|x| x.cpu.map(|c| pick(&c, x.elapsed))),
                )
                .map_or("n/a".to_string(), |c| format!("{c:.2} cores"))
            };
            let busy = median(list.iter().filter_map(|x| x.cpu.map(|c| c.machine_busy)))
                .map_or("n/a".to_string(), |b| format!("{:.0}%", b * 100.0));
            let _ = writeln!(
                s,
                "| {} | {:.2} s | {} | {:.2}× | {} | {} | {} | {} | {} | {} |",
                figure.label(self.args.hand_loop),
                elapsed.as_secs_f64(),
                thousands(rate.round() as u64),
                rate / limit,
                match figure {
                    Figure::Workers(_) | Figure::WorkersTime(..) => format!("{:.2}×", rate / one),
                    Figure::ScanWorkers(_) => format!("{:.2}×", rate / scan_one),
                    _ => "–".to_string(),
                },
                median(list.iter().filter_map(|x| x.batches)).map_or("–".to_string(), thousands),
                cores(|c, wall| c.cores(wall).0),
                cores(|c, wall| c.cores(wall).1),
                busy,
                mib(list.iter().filter_map(|x| x.rss_kib).max()),
            );
        }
        self.scaling_goals(&mut s);
        s
    }

    /// Issue 14's goals from the same medians.
    fn scaling_goals(&self, s: &mut String) {
        let rate = |f| self.median_rate(f).unwrap_or(f64::NAN);
        let ((limit, _), split) = (self.best_limit(), rate(Figure::HandCut(2, 2)));
        let (serial, split4) = (rate(Figure::HandCut(2, 1)), rate(Figure::HandCut(4, 4)));
        let (q1, q2, q4) = (
            rate(Figure::HandCut(HAND_RANGES, 1)),
            rate(Figure::HandCut(HAND_RANGES, 2)),
            rate(Figure::HandCut(HAND_RANGES, 4)),
        );
        let (w1, w2, w4) = (
            rate(Figure::Workers(1)),
            rate(Figure::Workers(2)),
            rate(Figure::Workers(4)),
        );
        let (s1, s2, s4) = (
            rate(Figure::ScanWorkers(1)),
            rate(Figure::ScanWorkers(2)),
            rate(Figure::ScanWorkers(4)),
        );
        let met = |ok: bool| if ok { "met" } else { "**missed**" };
        // Issue 14: PostgreSQL 2 workers >= 1.6x the limit at 2M events and >= 1.5x at 20M;
        // MariaDB >= 1.3x at 2M.
        let engine_goal = match self.args.engine {
            backfill::Engine::Postgres if self.args.events >= 20_000_000 => 1.5,
            backfill::Engine::Postgres => 1.6,
            _ => 1.3,
        };
        let peak = [Figure::Workers(4), Figure::ScanWorkers(4)]
            .into_iter()
            .flat_map(|f| self.samples(f).iter().filter_map(|x| x.rss_kib))
            .max();
        self.limit_line(s);
        let _ = writeln!(s, "\nGoals (issue 14), from these medians:\n");
        let _ = writeln!(
            s,
            "- 2 workers ≥ 1.6× 1 worker: {:.2}× ({}); the engine's own on the same \
             statements, the 2 hand-cut ranges side by side against one after the other: {:.2}×; \
             {HAND_RANGES} hand-cut ranges on 2 connections against 1: {:.2}×",
            w2 / w1,
            met(w2 / w1 >= 1.6),
            split / serial,
            q2 / q1
        );
        let _ = writeln!(
            s,
            "- 4 workers no slower than 2: {:.2}× ({}); the engine's own, 4 hand-cut ranges on \
             4 connections against 2 on 2: {:.2}×; the same {HAND_RANGES} hand-cut ranges on 4 \
             connections against 2 (the same statements and plans): {:.2}×",
            w4 / w2,
            met(w4 >= w2),
            split4 / split,
            q4 / q2
        );
        let twice = figures().into_iter().find_map(|f| match f {
            Figure::WorkersTime(4, ms) => Some(ms),
            _ => None,
        });
        if let Some(ms) = twice {
            let batches = |f| {
                median(self.samples(f).iter().filter_map(|x| x.batches))
                    .map_or("–".to_string(), thousands)
            };
            let _ = writeln!(
                s,
                "- 4 workers with target_batch_time {ms} ms against 2 at the default: {:.2}× \
                 ({} batches against {}; 4 workers at the default ran {}): whether batches of \
                 twice the time, so fewer of them, win back what 4 workers lose to 2",
                rate(Figure::WorkersTime(4, ms)) / w2,
                batches(Figure::WorkersTime(4, ms)),
                batches(Figure::Workers(2)),
                batches(Figure::Workers(4)),
            );
        }
        let best2 = w2.max(s2);
        let _ = writeln!(
            s,
            "- 2 workers ≥ {engine_goal}× the limit: {:.2}× ({}): ranges {:.2}×, the scan {:.2}×",
            best2 / limit,
            met(best2 / limit >= engine_goal),
            w2 / limit,
            s2 / limit
        );
        let _ = writeln!(
            s,
            "- the scan's own scaling: 2 workers {:.2}× 1 worker, 4 workers {:.2}× 2",
            s2 / s1,
            s4 / s2
        );
        let _ = writeln!(
            s,
            "- peak RSS < 64 MiB with 4 workers: {} ({})",
            mib(peak),
            met(peak.is_some_and(|kib| kib < 64 * 1024))
        );
        let busy = |f| {
            median(
                self.samples(f)
                    .iter()
                    .filter_map(|x| x.cpu.map(|c| c.machine_busy)),
            )
        };
        let server = |f| {
            median(
                self.samples(f)
                    .iter()
                    .filter_map(|x| x.cpu.map(|c| c.cores(x.elapsed).0)),
            )
        };
        let _ = writeln!(
            s,
            "\nWhat bounds it: the single statement cut by hand into 2 key ranges on 2 \
             connections, with no runtime in between (each range read with the optimizer's \
             plan, as the ranges of a run are), ran at {:.2}× the limit and {:.2}× the single \
             statement with the optimizer's plan: what a second session gains from the engine on \
             this machine. The server used {} of CPU with 1 worker and {} with 2, \
             the machine being {} and {} busy (100% = both cores). CPU columns are core-seconds \
             per second of wall time from `/proc` (server: every `postgres`/`mariadbd` \
             process; bench: this process).",
            split / limit,
            split / rate(Figure::Limit),
            server(Figure::Workers(1)).map_or("n/a".to_string(), |c| format!("{c:.2} cores")),
            server(Figure::Workers(2)).map_or("n/a".to_string(), |c| format!("{c:.2} cores")),
            busy(Figure::Workers(1)).map_or("n/a".to_string(), |b| format!("{:.0}%", b * 100.0)),
            busy(Figure::Workers(2)).map_or("n/a".to_string(), |b| format!("{:.0}%", b * 100.0)),
        );
        if let Some(reference) = self.reference {
            let _ = writeln!(
                s,
                "\nChecks: every run's target equals the limit's ({reference}); every run started \
                 after the previous run's writes were flushed (untimed)."
            );
        }
    }
}
