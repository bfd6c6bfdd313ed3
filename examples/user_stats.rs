//! The article's `user_stats` scenario on a real server:
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example user_stats
//! DATABASE_URL=mysql://root@127.0.0.1:3306/test        cargo run --example user_stats
//! DATABASE_URL=sqlite://user_stats.db?mode=rwc         cargo run --example user_stats
//! ```
//!
//! Drops and recreates `events` and `user_stats` in that database, seeds 200,000 events, runs
//! the backfill with a graceful Ctrl-C (SIGINT) and SIGTERM, and verifies the result.

use backfill::{Backfill, BackfillPool, Engine, RunOptions};

/// Per-user totals recomputed from `events`.
#[derive(Backfill, Debug)]
#[backfill(table = "user_stats", from = "events")]
pub struct UserStats {
    /// The conflict key.
    #[backfill(key)]
    pub user_id: i64,
    /// Absolute count.
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    /// Absolute sum.
    #[backfill(expr = "sum(amount)")]
    pub total_amount: i64,
    /// Latest event.
    #[backfill(expr = "max(created_at)")]
    pub last_seen: backfill::sqlx::types::chrono::NaiveDateTime,
}

const EVENTS: i64 = 200_000;
const USERS: i64 = 20_000;

fn schema(engine: Engine) -> [&'static str; 5] {
    match engine {
        Engine::Postgres => [
            "DROP TABLE IF EXISTS events, user_stats",
            "CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT, amount BIGINT NOT NULL, created_at TIMESTAMP NOT NULL)",
            "CREATE INDEX events_user_id ON events (user_id)",
            "CREATE TABLE user_stats (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_seen TIMESTAMP NOT NULL)",
            "INSERT INTO events SELECT i, CASE WHEN i % 101 = 0 THEN NULL ELSE (i * 7919) % $2 + 1 END, (i * 31) % 1000, TIMESTAMP '2024-01-01' + i * INTERVAL '17 seconds' FROM generate_series(1, $1) AS i",
        ],
        Engine::MySql => [
            "DROP TABLE IF EXISTS events, user_stats",
            "CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT, amount BIGINT NOT NULL, created_at DATETIME NOT NULL, INDEX events_user_id (user_id))",
            "SELECT 1",
            "CREATE TABLE user_stats (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_seen DATETIME NOT NULL)",
            "INSERT INTO events WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT i, CASE WHEN i % 101 = 0 THEN NULL ELSE (i * 7919) % ? + 1 END, (i * 31) % 1000, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i * 17) SECOND FROM n",
        ],
        Engine::Sqlite => [
            "DROP TABLE IF EXISTS events",
            "CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER, amount INTEGER NOT NULL, created_at TEXT NOT NULL)",
            "CREATE INDEX events_user_id ON events (user_id)",
            "DROP TABLE IF EXISTS user_stats; CREATE TABLE user_stats (user_id INTEGER PRIMARY KEY, event_count INTEGER NOT NULL, total_amount INTEGER NOT NULL, last_seen TEXT NOT NULL)",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) INSERT INTO events SELECT i, CASE WHEN i % 101 = 0 THEN NULL ELSE (i * 7919) % ?2 + 1 END, (i * 31) % 1000, datetime('2024-01-01', '+' || (i * 17) || ' seconds') FROM n",
        ],
    }
}

async fn scenario<P>(
    pool: &P,
    exec: impl AsyncFn(&'static str, bool) -> Result<(), backfill::sqlx::Error>,
) -> Result<(), Box<dyn std::error::Error>>
where
    P: BackfillPool,
{
    let engine = pool.engine();
    for (i, stmt) in schema(engine).into_iter().enumerate() {
        exec(stmt, i == 4).await?;
    }
    println!("{engine}: seeded {EVENTS} events over {USERS} users");
    let options = RunOptions::default()
        .restart(true)
        .shutdown_on(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .on_progress(|p| {
            if p.batches % 10 == 0 {
                println!(
                    "  {} batches, {} keys, {} rows",
                    p.batches, p.keys, p.rows_written
                );
            }
        });
    let report = UserStats::run_backfill(pool, options).await?;
    println!(
        "{engine}: {:?} after {} batches, {} keys, {} rows written in {:.2?}; {} events with a NULL user skipped",
        report.stop, report.batches, report.keys, report.rows_written, report.elapsed, report.null_keys
    );
    let verify = UserStats::verify(pool).await?;
    println!("{engine}: verify: {verify}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| "set DATABASE_URL (postgres://, mysql:// or sqlite://)")?;
    let engine = url
        .split(':')
        .next()
        .and_then(Engine::parse)
        .ok_or("DATABASE_URL must start with postgres://, mysql:// or sqlite:")?;
    match engine {
        Engine::Postgres => {
            let pool = backfill::sqlx::PgPool::connect(&url).await?;
            let p = pool.clone();
            scenario(&pool, async move |sql: &'static str, seed: bool| {
                let q = backfill::sqlx::query(sql);
                let q = if seed { q.bind(EVENTS).bind(USERS) } else { q };
                q.execute(&p).await.map(|_| ())
            })
            .await
        }
        Engine::MySql => {
            let pool = backfill::sqlx::MySqlPool::connect(&url).await?;
            let p = pool.clone();
            scenario(&pool, async move |sql: &'static str, seed: bool| {
                let q = backfill::sqlx::query(sql);
                let q = if seed { q.bind(EVENTS).bind(USERS) } else { q };
                q.execute(&p).await.map(|_| ())
            })
            .await
        }
        Engine::Sqlite => {
            let pool = backfill::sqlx::SqlitePool::connect(&url).await?;
            let p = pool.clone();
            scenario(&pool, async move |sql: &'static str, seed: bool| {
                for part in sql.split("; ") {
                    let q = backfill::sqlx::query(part);
                    let q = if seed { q.bind(EVENTS).bind(USERS) } else { q };
                    q.execute(&p).await?;
                }
                Ok(())
            })
            .await
        }
    }
}
