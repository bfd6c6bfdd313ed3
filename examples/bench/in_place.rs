//! The in-place scenario (`--scenario in-place`): filling a column of an existing table, the
//! backfill people run most, against the single `UPDATE ... SET` over the whole table.
//!
//! `people (id PRIMARY KEY, a, b, email NOT NULL, score NULL)` gets one row per event of the
//! seeded `events` table (2,000,000 by default); [`PeopleScore`] fills `score = a * 1000 + b`
//! in place. Figures, each the median of `--repeat` runs after the column was reset to NULL and
//! the server quiesced (both untimed):
//!
//! - **limit**: the generated single statement (`Statements::upsert_all`: one guarded `UPDATE`
//!   of every row), what the engine does with no batching and no resumability;
//! - **backfill, default options**: `run_backfill(RunOptions::default())`;
//! - **re-run**: `run_backfill` with `restart` over the filled column: every row is compared and
//!   none is written (rate = rows checked per second); on PostgreSQL its WAL as a share of the
//!   first run's.
//!
//! After every run the whole column is compared with `a * 1000 + b` on the server.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use backfill::{Backfill, Engine, RunOptions, StopReason};

use crate::args::Args;
use crate::db::{on_pool, Db};
use crate::measure::median;
use crate::report::thousands;
use crate::BoxError;

/// `people.score` computed from the row's own columns, in place.
#[derive(Backfill, Debug)]
#[backfill(table = "people")]
pub struct PeopleScore {
    /// The table's primary key.
    #[backfill(key)]
    pub id: i64,
    /// The new column.
    #[backfill(expr = "a * 1000 + b")]
    pub score: Option<i64>,
}

/// One measured run.
struct Run {
    took: Duration,
    rows_written: u64,
    wal: Option<i64>,
}

/// Creates and fills `people` from `events` (seeded by the caller).
async fn seed(db: &Db, engine: Engine) -> Result<u64, BoxError> {
    let text = match engine {
        Engine::MySql => "VARCHAR(64)",
        _ => "TEXT",
    };
    let email = match engine {
        Engine::MySql => "CONCAT('user', id, '@example.com')",
        _ => "'user' || id || '@example.com'",
    };
    db.exec_all(&[
        "DROP TABLE IF EXISTS people",
        &format!(
            "CREATE TABLE people (id BIGINT PRIMARY KEY, a BIGINT NOT NULL, b BIGINT NOT NULL, \
             email {text} NOT NULL, score BIGINT NULL)"
        ),
        &format!(
            "INSERT INTO people (id, a, b, email) SELECT id, amount, id % 997, {email} FROM events"
        ),
    ])
    .await?;
    Ok(db.int("SELECT count(*) FROM people").await? as u64)
}

/// Empties the column and the progress table, then lets the server finish that work.
async fn reset(db: &Db, engine: Engine) -> Result<(), BoxError> {
    db.exec_all(&[
        "UPDATE people SET score = NULL",
        "DROP TABLE IF EXISTS backfill_progress",
    ])
    .await?;
    quiesce(db, engine).await
}

async fn quiesce(db: &Db, engine: Engine) -> Result<(), BoxError> {
    match engine {
        Engine::Postgres => db.exec_all(&["CHECKPOINT"]).await?,
        Engine::MySql => {
            on_pool!(db, p => {
                let mut conn = p.acquire().await?;
                backfill::sqlx::raw_sql("FLUSH TABLES people FOR EXPORT")
                    .execute(&mut *conn)
                    .await?;
                backfill::sqlx::raw_sql("UNLOCK TABLES").execute(&mut *conn).await?;
            });
        }
        Engine::Sqlite => db.exec_all(&["PRAGMA wal_checkpoint(TRUNCATE)"]).await?,
    }
    Ok(())
}

/// Rows whose score is not the recompute: 0 after every full run.
async fn wrong_rows(db: &Db) -> Result<i64, BoxError> {
    Ok(db
        .int("SELECT count(*) FROM people WHERE score IS NULL OR score <> a * 1000 + b")
        .await?)
}

async fn timed_backfill(db: &Db, options: RunOptions) -> Result<Run, BoxError> {
    let wal = db.wal_position().await?;
    let started = Instant::now();
    let report = on_pool!(db, p => PeopleScore::run_backfill(p, options).await)?;
    let took = started.elapsed();
    if report.stop != StopReason::Done {
        return Err(format!("the in-place backfill stopped with {:?}", report.stop).into());
    }
    let wal = match (wal, db.wal_position().await?) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    Ok(Run {
        took,
        rows_written: report.rows_written,
        wal,
    })
}

/// Runs the scenario; returns the BENCHMARKS.md section.
pub(crate) async fn run(args: &Args, db: &Db, version: &str) -> Result<String, BoxError> {
    let engine = args.engine;
    let stmts = PeopleScore::sql(engine).ok_or("PeopleScore was not generated for this engine")?;
    let rows = seed(db, engine).await?;
    let limit_sql = on_pool!(db, p => {
        backfill::BackfillPool::executable_sql(p, PeopleScore::definition(), &stmts.upsert_all)
            .await
    })?;
    println!("in place: {} rows in people", thousands(rows));
    let (mut limit, mut first, mut rerun) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..args.repeat {
        reset(db, engine).await?;
        let started = Instant::now();
        let written = db.exec(&limit_sql, &[]).await?;
        limit.push(started.elapsed());
        check(db, "limit", written, rows).await?;

        reset(db, engine).await?;
        let run = timed_backfill(db, RunOptions::default()).await?;
        check(db, "default", run.rows_written, rows).await?;
        quiesce(db, engine).await?;
        let again = timed_backfill(db, RunOptions::default().restart(true)).await?;
        if again.rows_written != 0 || wrong_rows(db).await? != 0 {
            return Err(format!(
                "the re-run wrote {} rows; it must write none",
                again.rows_written
            )
            .into());
        }
        println!(
            "  round {}: limit {:.2?}, default {:.2?}, re-run {:.2?}",
            round + 1,
            limit[round],
            run.took,
            again.took
        );
        first.push(run);
        rerun.push(again);
    }
    let secs = |d: Duration| d.as_secs_f64();
    let limit_s = median(limit.iter().map(|d| secs(*d))).unwrap_or(f64::NAN);
    let first_s = median(first.iter().map(|r| secs(r.took))).unwrap_or(f64::NAN);
    let rerun_s = median(rerun.iter().map(|r| secs(r.took))).unwrap_or(f64::NAN);
    let rate = |s: f64| rows as f64 / s;
    let mut out = String::new();
    writeln!(
        out,
        "### In place on {version}: {} rows, `score = a * 1000 + b`\n",
        thousands(rows)
    )?;
    writeln!(
        out,
        "Medians of {} runs, one process, one run of the bench.\n",
        args.repeat
    )?;
    writeln!(out, "| figure | seconds | rows/s | ratio |")?;
    writeln!(out, "|---|---:|---:|---:|")?;
    writeln!(
        out,
        "| limit: one `UPDATE` of every row | {limit_s:.2} | {} | 1.00x the limit |",
        thousands(rate(limit_s) as u64)
    )?;
    writeln!(
        out,
        "| backfill, default options | {first_s:.2} | {} | **{:.2}x** the limit |",
        thousands(rate(first_s) as u64),
        limit_s / first_s
    )?;
    writeln!(
        out,
        "| re-run (writes 0 rows) | {rerun_s:.2} | {} | **{:.1}x** faster than the first run |",
        thousands(rate(rerun_s) as u64),
        first_s / rerun_s
    )?;
    let wal_first = median(first.iter().filter_map(|r| r.wal.map(|w| w as f64)));
    let wal_rerun = median(rerun.iter().filter_map(|r| r.wal.map(|w| w as f64)));
    if let (Some(a), Some(b)) = (wal_first, wal_rerun) {
        writeln!(
            out,
            "\nWAL: first run {:.1} MiB, re-run {:.1} MiB ({:.2}% of the first).",
            a / 1_048_576.0,
            b / 1_048_576.0,
            100.0 * b / a
        )?;
    }
    Ok(out)
}

/// Every row must hold the recompute after a full run that wrote `written` rows.
async fn check(db: &Db, figure: &str, written: u64, rows: u64) -> Result<(), BoxError> {
    // One row read back typed, through the derive's `FromRow`.
    let first: PeopleScore = on_pool!(db, p => {
        backfill::sqlx::query_as("SELECT id, score FROM people ORDER BY id LIMIT 1")
            .fetch_one(p)
            .await
    })?;
    let expected = db
        .int("SELECT a * 1000 + b FROM people ORDER BY id LIMIT 1")
        .await?;
    if first.score != Some(expected) {
        return Err(format!(
            "in place, {figure}: row {} has score {:?}, expected {expected}",
            first.id, first.score
        )
        .into());
    }
    let wrong = wrong_rows(db).await?;
    if wrong != 0 || written != rows {
        return Err(format!(
            "in place, {figure}: {written} rows written of {rows}, {wrong} rows wrong afterwards"
        )
        .into());
    }
    Ok(())
}
