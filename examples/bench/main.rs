//! Benchmark: `run_backfill` against the article's single statement, on one engine, in one
//! process and one run, on the same deterministic data.
//!
//! ```sh
//! BACKFILL_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo run --release --example bench -- --engine postgres
//! BACKFILL_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//!   cargo run --release --example bench -- --engine mysql
//! cargo run --release --example bench -- --engine sqlite
//! ```
//!
//! Options: `--events N` (default 2,000,000), `--users M` (200,000), `--repeat N` (3, 9 in the
//! latency scenario: every figure is measured N times, interleaved, and the median reported),
//! `--repeat-slow N` (a figure whose first run took over a minute is measured only N times),
//! `--hand-loop-secs S` (10),
//! `--output PATH` (`BENCHMARKS.md` at the repository root; `-` writes nothing), `--keep` (leave
//! the benchmark's tables in place), `--print-sql` (print the generated statements and exit),
//! `--scenario upsert|in-place|workers|latency|strategies` (below), `--load-rate OPS` (500),
//! `--alone-secs S` (10) and `--waits` for the latency scenario, `--scratch`, `--drop-os-cache` and
//! `--cap-secs S` for the strategies scenario.
//!
//! # Scenarios
//!
//! - `upsert` (the default): the figures below.
//! - `in-place`: filling a column of an existing table (`in_place.rs`).
//! - `workers` (PostgreSQL, MySQL/MariaDB): the backfill with strategy ranges and 1, 2 and 4
//!   workers (and 4 with twice the default `target_batch_time`) against the limit, the single
//!   statement cut by hand into 2 ranges on 2 connections (and the same 2 on 1, and 4 on 4),
//!   the default options (auto's pick, one worker), and the CPU the server and the bench used
//!   (`scaling.rs`, `cpu.rs`); section `ENGINE-workers`.
//! - `latency` (PostgreSQL, MySQL/MariaDB): a steady application load (`load.rs`) alone and
//!   during the limit, the default backfill, batches of 100/250/500 ms (`target_batch_time`
//!   and `merge_batch_time`) and 1, 2 and 4 workers, with its p50, p99, max latency and errors
//!   (`latency.rs`); section `ENGINE-latency`. With `--waits` the section also shows what the
//!   load's sessions, the backfill's and the server's own processes waited on, sampled from
//!   the server every 20 ms (`waits.rs`).
//! - `strategies`: how each way of reading the source does against the best single statement
//!   (`strategies.rs`): the single statement with the optimizer's plan and with a full scan
//!   forced (the faster is the limit), ranges, ranges with the covering index `plan`
//!   recommends, scan and auto (rotated from round to round: each run leaves the buffer cache
//!   to the next), each checked against the limit, with what `plan` and
//!   `access_path` say and issue 13's goals; section `ENGINE-strategies`. On PostgreSQL and
//!   MySQL/MariaDB the same again on a scratch server with a 16 MB buffer cache started and
//!   stopped by the bench (`scratch.rs`), section `ENGINE-strategies-small-cache`
//!   (`--scratch with|only|skip`; `--drop-os-cache` evicts its files from the OS page cache
//!   before every run). `--cap-secs S` stops a run after S seconds (a lower bound).
//!
//! # Where it runs
//!
//! Never in the tests' tables: PostgreSQL uses the schema `bench` (created if missing, put first
//! on the search path through the URL's `options`), MariaDB/MySQL the database `backfill_bench`
//! (created if missing), SQLite a temp file (WAL journal, `synchronous = NORMAL`). The
//! benchmark's tables are dropped at the end unless `--keep`.
//!
//! # Data
//!
//! `events (id, user_id, amount, created_at)` with an index on `events(user_id)`, seeded with one
//! set-based statement (PostgreSQL `generate_series`, MariaDB a cross join of digits, SQLite a
//! recursive CTE): event `i` belongs to user `(i * 7919) % M + 1` (every 101st event has a NULL
//! user), has amount `(i * 31) % 1000` and happened `17 * i` seconds after 2024-01-01. The target
//! `user_stats (user_id PRIMARY KEY, event_count, total_amount, last_seen)` is the [`UserStats`]
//! backfill in `upsert.rs`, the article's example.
//!
//! # Figures
//!
//! Each figure's rate is target rows (distinct users) per second of wall time, and its ratio is
//! to the limit's rate:
//!
//! - **limit**: the faster of two runs of the generated single statement
//!   (`Statements::upsert_all`: one `INSERT ... SELECT ... GROUP BY ... ON CONFLICT / ON
//!   DUPLICATE KEY` over every key) into an empty target, one with the optimizer's plan and one
//!   with a full scan of `events` forced (PostgreSQL `enable_indexscan`/`enable_bitmapscan =
//!   off`, MariaDB `IGNORE INDEX`, SQLite `NOT INDEXED`), both in the table: what the engine can
//!   do with no batching at all, and no resumability (issue 13). Every scenario measures both.
//! - **backfill, default options**: `run_backfill(RunOptions::default())` into an empty target
//!   (adaptive batch size), with everything a run does: preflight, progress table, NULL-key count.
//! - **backfill, N keys per batch**: the same with a fixed batch size of 1,000, 10,000 and
//!   100,000 keys; the difference to the limit divided by the batches is the per-batch cost.
//! - **re-run**: `run_backfill` with `restart` over a full, up-to-date target: every key
//!   conflicts and nothing should be rewritten (rate = keys checked per second). On PostgreSQL
//!   the WAL it generates is reported as a percentage of the first (default) run's WAL
//!   (`pg_wal_lsn_diff` of `pg_current_wal_lsn()` before and after; server-wide, so other
//!   sessions' writes are included).
//! - **hand-written loop**: what people write without this library: page through the aggregates
//!   with sqlx (1,000 users per page) and upsert them one row per round trip, each its own
//!   transaction, for `--hand-loop-secs`; the measured rate is reported, never an extrapolation.
//!
//! # Fairness
//!
//! Before every measured run (the limit too) the server is given the previous run's background
//! work to finish, untimed: PostgreSQL `CHECKPOINT`, InnoDB `FLUSH TABLES ... FOR EXPORT` of the
//! benchmark's tables, SQLite `PRAGMA wal_checkpoint(TRUNCATE)`. Without it the figures, which
//! run in a fixed order, each paid for the writes of the one before (the default run follows
//! the limit's 200,000-row insert).
//!
//! # Checks
//!
//! After every full run the whole target is read in key order and hashed (FNV-1a of every row);
//! it must equal the limit's hash, and the hand-written loop's rows must equal the limit's rows
//! for the same users. A mismatch (a fast wrong answer) fails the benchmark: it exits non-zero
//! and writes nothing.
//!
//! # Memory
//!
//! A thread samples `VmRSS` from `/proc/self/status` every 5 ms during each run; the table shows
//! the peak per figure, and the summary the peak over the backfill runs. `VmHWM` (the process's
//! high-water mark, which cannot be reset) is reported too, with what else ran before it.
//!
//! The results go to `BENCHMARKS.md`, one section per engine, replacing that engine's previous
//! section, so running all three engines fills the file.
//!
//! # Files
//!
//! - `args.rs`: the command line.
//! - `db.rs`: the pool and the statements every scenario needs (quiesce, WAL position).
//! - `engine_sql.rs`: the schema, seed and checks of the upsert scenario, per engine.
//! - `upsert.rs`: the default scenario, its figures and how each is run;
//!   `hand_loop.rs` the loop it is compared with, `checksum.rs` its check.
//! - `in_place.rs`: the in-place scenario.
//! - `scaling.rs`: the workers scenario and its section; `cpu.rs` the CPU readings from `/proc`.
//! - `load.rs`: the application's load and its latencies; `latency.rs` the latency scenario and
//!   its section; `waits.rs` what the sessions wait on meanwhile (`--waits`).
//! - `measure.rs`: memory sampling and medians.
//! - `report.rs`: the upsert scenario's section (the table, ratios, targets).
//! - `benchmarks_md.rs`: how a section replaces the previous one in `BENCHMARKS.md`.

mod args;
mod benchmarks_md;
mod checksum;
mod cpu;
mod db;
mod engine_sql;
mod hand_loop;
mod in_place;
mod latency;
mod load;
mod measure;
mod report;
mod scaling;
mod scratch;
mod strategies;
mod upsert;
mod waits;

use std::process::ExitCode;

use crate::args::{Args, Scenario, USAGE};
use crate::benchmarks_md::{section_id, write_section};
use crate::db::Db;
use crate::load::Load;
use crate::measure::proc_status_kib;
use crate::report::{git_commit, load_average, Meta};
use crate::upsert::{Bench, Figure, Opened, UserStats};
use backfill::Engine;

/// Any failure ends the benchmark with its message.
type BoxError = Box<dyn std::error::Error>;

/// Seeds, runs the chosen scenario and writes its section; `Ok(false)` when a run produced a
/// wrong target (then nothing is written).
async fn run(args: Args) -> Result<bool, BoxError> {
    let engine = args.engine;
    let load_average = load_average();
    if args.print_sql {
        let stmts = UserStats::sql(engine).ok_or("UserStats was not generated for this engine")?;
        for (name, stmt) in stmts.named() {
            println!("-- {name}\n{};\n", stmt.sql);
        }
        return Ok(true);
    }
    if args.scenario == Scenario::Strategies {
        return strategies::run(args, load_average).await;
    }
    let dir = tempfile::tempdir()?;
    let db = Db::connect(engine, dir.path()).await?;
    let Opened {
        mut bench,
        version,
        settings,
        null_events,
    } = Bench::open(args, db).await?;
    let scenario = bench.args.scenario;
    if matches!(scenario, Scenario::Workers | Scenario::Latency) && engine == Engine::Sqlite {
        return Err("--scenario workers and latency run on PostgreSQL and MySQL/MariaDB (SQLite has one writer)".into());
    }
    if scenario == Scenario::InPlace {
        let section = in_place::run(&bench.args, &bench.db, &version).await?;
        println!("\n{section}");
        if !bench.args.keep {
            bench.db.exec_all(&[bench.sql.teardown]).await?;
        }
        bench.db.close().await;
        if let Some(path) = &bench.args.output {
            let id = format!("{}-in-place", section_id(engine, bench.args.events));
            write_section(path, &id, &section)?;
            println!("wrote the section {id} of {}", path.display());
        }
        return Ok(true);
    }
    let (figures, suffix) = match scenario {
        Scenario::Workers => (scaling::figures(), Some("workers")),
        Scenario::Latency => {
            let a = &bench.args;
            bench.load =
                Some(Load::connect(&bench.db, a.load_rate, a.events, a.users, a.waits).await?);
            // The limit first: its target is every other run's reference.
            let mut figures = latency::figures();
            figures.retain(|f| *f != Figure::Limit);
            figures.insert(0, Figure::Limit);
            (figures, Some("latency"))
        }
        _ => (Figure::all(), None),
    };
    bench.run(&figures).await?;

    let meta = Meta {
        version,
        settings,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        null_events,
        hwm_kib: proc_status_kib("VmHWM"),
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        commit: git_commit(),
        load_average,
    };
    let section = match scenario {
        Scenario::Workers => bench.scaling_section(&meta),
        Scenario::Latency => bench.latency_section(&meta),
        _ => bench.section(&meta),
    };
    println!("\n{section}");
    if !bench.args.keep {
        bench.db.exec_all(&[bench.sql.teardown]).await?;
    }
    bench.db.close().await;
    if !bench.failures.is_empty() {
        eprintln!("FAILED: a run produced a wrong target; nothing was written:");
        for failure in &bench.failures {
            eprintln!("  - {failure}");
        }
        return Ok(false);
    }
    if let Some(path) = &bench.args.output {
        let id = match suffix {
            Some(suffix) => format!("{}-{suffix}", section_id(engine, bench.args.events)),
            None => section_id(engine, bench.args.events),
        };
        write_section(path, &id, &section)?;
        println!("wrote the section {id} of {}", path.display());
    }
    Ok(true)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}
