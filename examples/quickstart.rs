//! Quickstart on SQLite, no server needed: `cargo run --release --example quickstart`.
//!
//! Backfills per-user totals from 1,000,000 events the way a production backfill really runs:
//! stopped by a signal, killed mid-batch, resumed, checked against the single-statement
//! recompute, and re-run over an up-to-date table (which rewrites nothing).

use std::time::{Duration, Instant};

use backfill::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use backfill::sqlx::SqlitePool;
use backfill::{Backfill, CancellationToken, RunOptions};

/// Per-user totals recomputed from `events`.
#[derive(Backfill, Debug)]
#[backfill(table = "user_stats", from = "events", filter = "kind <> 'test'")]
pub struct UserStats {
    /// The user: the conflict key (`user_stats` has it as its primary key).
    #[backfill(key)]
    pub user_id: i64,
    /// Absolute count, recomputed: a retried batch converges instead of doubling.
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    /// Absolute sum, recomputed.
    #[backfill(expr = "sum(amount)")]
    pub total_amount: i64,
    /// Latest event; `greatest` keeps a newer value the application may have written.
    #[backfill(expr = "max(created_at)", merge = "greatest")]
    pub last_seen: String,
}

const EVENTS: i64 = 1_000_000;
const USERS: i64 = 100_000;

async fn seed(pool: &SqlitePool) -> Result<(), backfill::sqlx::Error> {
    for stmt in [
        "CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER, kind TEXT NOT NULL, amount INTEGER NOT NULL, created_at TEXT NOT NULL)",
        "CREATE TABLE user_stats (user_id INTEGER PRIMARY KEY, event_count INTEGER NOT NULL, total_amount INTEGER NOT NULL, last_seen TEXT NOT NULL)",
    ] {
        backfill::sqlx::query(stmt).execute(pool).await?;
    }
    // Deterministic events: every 101st has no user (it cannot be in any key range and is
    // reported, not silently dropped); every 13th is a test event the filter leaves out.
    backfill::sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO events (id, user_id, kind, amount, created_at)
         SELECT i,
                CASE WHEN i % 101 = 0 THEN NULL ELSE (i * 7919) % ?2 + 1 END,
                CASE WHEN i % 13 = 0 THEN 'test' ELSE 'purchase' END,
                (i * 31) % 1000,
                datetime('2024-01-01', '+' || (i * 17) || ' seconds')
         FROM n",
    )
    .bind(EVENTS)
    .bind(USERS)
    .execute(pool)
    .await?;
    backfill::sqlx::query("CREATE INDEX events_user_id ON events (user_id)")
        .execute(pool)
        .await?;
    Ok(())
}

/// An order-sensitive checksum of the whole table.
async fn checksum(pool: &SqlitePool) -> Result<(i64, String), backfill::sqlx::Error> {
    let rows: Vec<String> = backfill::sqlx::query_scalar(
        "SELECT user_id || '|' || event_count || '|' || total_amount || '|' || last_seen FROM user_stats ORDER BY user_id",
    )
    .fetch_all(pool)
    .await?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in rows.iter().flat_map(|r| r.bytes().chain([b'\n'])) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    Ok((rows.len() as i64, format!("{hash:016x}")))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (pool, dir) = open_database().await?;
    let started = Instant::now();
    seed(&pool).await?;
    println!(
        "seeded {EVENTS} events over {USERS} users in {:.2?} ({})",
        started.elapsed(),
        dir.join("quickstart.db").display()
    );
    println!(
        "\nthe generated upsert (SQLite):\n  {}\n",
        UserStats::sql(backfill::Engine::Sqlite)
            .map(|s| s.upsert.next.sql)
            .unwrap_or("-")
    );
    stop_kill_and_resume(&pool).await?;
    equals_the_single_statement(&pool).await?;
    rerun_rewrites_nothing(&pool).await?;
    pool.close().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// A database file under target/ (next to the build), so nothing outside the project is
/// touched; returns the pool and the folder to remove at the end.
async fn open_database() -> Result<(SqlitePool, std::path::PathBuf), Box<dyn std::error::Error>> {
    let target = std::env::current_exe()?
        .ancestors()
        .nth(3)
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let dir = target.join(format!("quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let options = SqliteConnectOptions::new()
        .filename(dir.join("quickstart.db"))
        .create_if_missing(true)
        .journal_mode(backfill::sqlx::sqlite::SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await?;
    Ok((pool, dir))
}

/// Three runs, as a production backfill lives them: stopped by a SIGTERM, killed mid-batch,
/// then resumed from the committed cursor to the end.
async fn stop_kill_and_resume(pool: &SqlitePool) -> Result<(), Box<dyn std::error::Error>> {
    // Run 1: a SIGTERM (an evicted pod) arrives after 8 batches: the batch in flight commits,
    // the run returns a resumable report.
    let sigterm = CancellationToken::new();
    let signal = sigterm.clone();
    let run1 = UserStats::run_backfill(
        pool,
        RunOptions::default()
            .batch_size(5_000)
            .shutdown(sigterm)
            .on_progress(move |p| {
                if p.batches == 8 {
                    signal.cancel();
                }
            }),
    )
    .await?;
    println!(
        "run 1: stopped like an evicted pod (SIGTERM) after {} batches, {} keys; cursor at user {}",
        run1.batches,
        run1.keys,
        run1.cursor
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    );

    // Run 2: the process dies mid-batch (the future is dropped): the transaction in flight
    // rolls back with its cursor, everything committed stays.
    let run2 = tokio::time::timeout(
        Duration::from_millis(300),
        UserStats::run_backfill(pool, RunOptions::default().batch_size(5_000)),
    )
    .await;
    let committed: i64 = backfill::sqlx::query_scalar("SELECT count(*) FROM user_stats")
        .fetch_one(pool)
        .await?;
    match run2 {
        Err(_) => println!(
            "run 2: killed mid-run after 300 ms; {committed} users are committed, the batch in flight rolled back"
        ),
        Ok(report) => println!("run 2: finished before it could be killed: {} batches", report?.batches),
    }

    // Run 3: resume from the committed cursor and finish.
    let run3 = UserStats::run_backfill(pool, RunOptions::default()).await?;
    println!(
        "run 3: resumed after user {}: {} batches, {} keys, {} rows in {:.2?} ({:.0} rows/s, adaptive batch size)",
        run3.resumed_from.as_ref().map(ToString::to_string).unwrap_or_else(|| "-".into()),
        run3.batches,
        run3.keys,
        run3.rows_written,
        run3.elapsed,
        run3.rows_written as f64 / run3.elapsed.as_secs_f64().max(1e-9)
    );
    println!(
        "       {} events with a NULL user were counted and skipped (no key range can hold them)",
        run3.null_keys
    );
    Ok(())
}

/// Verify (read-only, range by range), then the article's single-statement recompute over an
/// emptied table: the same rows, byte for byte.
async fn equals_the_single_statement(pool: &SqlitePool) -> Result<(), Box<dyn std::error::Error>> {
    let verify = UserStats::verify(pool).await?;
    println!("verify: {verify}");
    let backfilled = checksum(pool).await?;
    let stmts = UserStats::sql(backfill::Engine::Sqlite).ok_or("no SQLite statements")?;
    backfill::sqlx::query("DELETE FROM user_stats")
        .execute(pool)
        .await?;
    backfill::sqlx::query(stmts.upsert_all.sql)
        .execute(pool)
        .await?;
    let recomputed = checksum(pool).await?;
    if backfilled != recomputed || !verify.is_clean() {
        return Err(format!(
            "the backfill differs from the single-statement recompute: {backfilled:?} vs {recomputed:?}"
        )
        .into());
    }
    println!(
        "check: user_stats ({} rows, checksum {}) equals the single-statement recompute",
        backfilled.0, backfilled.1
    );
    Ok(())
}

/// A re-run from scratch over the up-to-date table checks every key and rewrites nothing.
async fn rerun_rewrites_nothing(pool: &SqlitePool) -> Result<(), Box<dyn std::error::Error>> {
    let rerun = UserStats::run_backfill(pool, RunOptions::default().restart(true)).await?;
    println!(
        "re-run from scratch: {} keys checked, {} rows rewritten",
        rerun.keys, rerun.rows_written
    );
    if rerun.rows_written != 0 {
        return Err("a re-run over an up-to-date table rewrote rows".into());
    }
    Ok(())
}
