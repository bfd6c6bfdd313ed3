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
//! Options: `--events N` (default 2,000,000), `--users M` (200,000), `--repeat N` (3: every
//! figure is measured N times, interleaved, and the median reported), `--repeat-slow N` (a figure
//! whose first run took over a minute is measured only N times), `--hand-loop-secs S` (10),
//! `--output PATH` (`BENCHMARKS.md` at the repository root; `-` writes nothing), `--keep` (leave
//! the benchmark's tables in place), `--print-sql` (print the generated statements and exit).
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
//! backfill below, the article's example.
//!
//! # Figures
//!
//! Each figure's rate is target rows (distinct users) per second of wall time, and its ratio is
//! to the limit's rate:
//!
//! - **limit**: the generated single statement (`Statements::upsert_all`: one
//!   `INSERT ... SELECT ... GROUP BY ... ON CONFLICT / ON DUPLICATE KEY` over every key) into an
//!   empty target. What the engine can do with no batching at all, and no resumability.
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

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use backfill::sqlx::mysql::MySqlPoolOptions;
use backfill::sqlx::postgres::PgPoolOptions;
use backfill::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use backfill::sqlx::types::chrono::NaiveDateTime;
use backfill::sqlx::{self, MySqlPool, PgPool, SqlitePool};
use backfill::{Backfill, Engine, Report, RunOptions, StopReason};

/// Per-user totals recomputed from `events` (the article's `user_stats`).
#[derive(Backfill, Debug)]
#[backfill(table = "user_stats", from = "events")]
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

type BoxError = Box<dyn std::error::Error>;

/// One row of `user_stats`, as read by the checksum and the hand-written loop.
type StatsRow = (i64, i64, i64, NaiveDateTime);

const USAGE: &str = "usage: cargo run --release --example bench -- --engine postgres|mysql|sqlite \
[--events N] [--users M] [--repeat N] [--repeat-slow N] [--hand-loop-secs S] [--output PATH|-] [--keep] [--print-sql] \
[--scenario upsert|in-place]";

/// Rows per page when the checksum reads the target (keyset pagination: constant memory).
const CHECKSUM_PAGE: i64 = 10_000;
/// Users per page fetched by the hand-written loop.
const HAND_PAGE: i64 = 1_000;
/// A figure whose first run takes longer than this is repeated only `--repeat-slow` times.
const SLOW_RUN: Duration = Duration::from_secs(60);
/// Events seeded unless `--events` says otherwise.
const DEFAULT_EVENTS: i64 = 2_000_000;

/// The fixed batch sizes measured.
const BATCH_SIZES: [u64; 3] = [1_000, 10_000, 100_000];

// ---------------------------------------------------------------------------------------------
// Command line

/// The command line.
struct Args {
    engine: Engine,
    events: i64,
    users: i64,
    repeat: usize,
    repeat_slow: usize,
    hand_loop: Duration,
    output: Option<PathBuf>,
    keep: bool,
    print_sql: bool,
    /// `--scenario in-place`: fill a column of an existing table instead of the upsert.
    in_place: bool,
}

impl Args {
    /// Parses the command line; `Ok(None)` for `--help`.
    fn parse() -> Result<Option<Args>, String> {
        let mut engine = None;
        let mut events = DEFAULT_EVENTS;
        let mut users = 200_000;
        let mut repeat = 3;
        let mut repeat_slow = None;
        let mut hand_loop_secs = 10;
        let mut output = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md"));
        let mut keep = false;
        let mut print_sql = false;
        let mut in_place = false;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
                None => (arg, None),
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(None),
                "--keep" => {
                    keep = true;
                    continue;
                }
                "--print-sql" => {
                    print_sql = true;
                    continue;
                }
                _ => {}
            }
            let value = match inline.or_else(|| args.next()) {
                Some(value) => value,
                None => return Err(format!("{flag} needs a value\n{USAGE}")),
            };
            match flag.as_str() {
                "--engine" => {
                    engine = Some(Engine::parse(&value).ok_or_else(|| {
                        format!("--engine {value:?}: use postgres, mysql or sqlite")
                    })?)
                }
                "--events" => events = positive(&flag, &value)?,
                "--users" => users = positive(&flag, &value)?,
                "--repeat" => repeat = positive(&flag, &value)?,
                "--repeat-slow" => repeat_slow = Some(positive(&flag, &value)?),
                "--hand-loop-secs" => hand_loop_secs = positive(&flag, &value)?,
                "--scenario" => {
                    in_place = match value.as_str() {
                        "in-place" => true,
                        "upsert" => false,
                        other => {
                            return Err(format!("--scenario {other:?}: use upsert or in-place"))
                        }
                    }
                }
                "--output" if value == "-" => output = None,
                "--output" => output = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown option {flag}\n{USAGE}")),
            }
        }
        let engine = engine.ok_or_else(|| format!("--engine is required\n{USAGE}"))?;
        let repeat = usize::try_from(repeat).map_err(|e| e.to_string())?;
        Ok(Some(Args {
            engine,
            events,
            users,
            repeat,
            repeat_slow: match repeat_slow {
                Some(n) => usize::try_from(n).map_err(|e| e.to_string())?.min(repeat),
                None => repeat,
            },
            hand_loop: Duration::from_secs(u64::try_from(hand_loop_secs).unwrap_or(10)),
            output,
            keep,
            print_sql,
            in_place,
        }))
    }
}

/// A positive integer option (`2_000_000` and `2,000,000` accepted).
fn positive(flag: &str, value: &str) -> Result<i64, String> {
    value
        .replace(['_', ','], "")
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{flag} takes a positive integer, got {value:?}"))
}

// ---------------------------------------------------------------------------------------------
// The engines

/// The benchmark's own SQL on one engine: schema, seed, checks and the hand-written loop. The
/// backfill's SQL is the generated one.
struct EngineSql {
    /// Drops and creates the tables (no index on `events` yet: it is built after the seed).
    setup: &'static [&'static str],
    /// Seeds `events`; binds the number of events, then the number of users.
    seed: String,
    /// Run after the seed: the index on `events(user_id)`, statistics.
    after_seed: &'static [&'static str],
    /// Empties the target.
    truncate: &'static str,
    /// Drops the progress table, so a run into an empty target starts with default options.
    drop_progress: &'static str,
    /// Copies the limit's target to `user_stats_ref`, for the hand-written loop's check.
    snapshot: &'static [&'static str],
    /// One page of the target in key order; binds the last key read, the page size.
    page: &'static str,
    /// One page of aggregates for the hand-written loop; binds the last user, the page size.
    hand_fetch: &'static str,
    /// One row's upsert for the hand-written loop; binds the four columns.
    hand_upsert: &'static str,
    /// The server's version.
    version: &'static str,
    /// The settings that matter for write throughput, as one text.
    settings: &'static str,
    /// The tables are dropped at the end (unless `--keep`).
    teardown: &'static str,
}

/// Rows of the hand-written loop's target that differ from the limit's (same on every engine).
const HAND_DIFF: &str = "SELECT count(*) FROM user_stats AS h \
    LEFT JOIN user_stats_ref AS r ON r.user_id = h.user_id \
    WHERE r.user_id IS NULL OR r.event_count <> h.event_count \
    OR r.total_amount <> h.total_amount OR r.last_seen <> h.last_seen";

impl EngineSql {
    fn new(engine: Engine, events: i64) -> EngineSql {
        match engine {
            Engine::Postgres => EngineSql {
                setup: &[
                    "DROP TABLE IF EXISTS events, user_stats, user_stats_ref, backfill_progress",
                    "CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT, amount BIGINT NOT NULL, created_at TIMESTAMP NOT NULL)",
                    "CREATE TABLE user_stats (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_seen TIMESTAMP NOT NULL)",
                    "CREATE TABLE user_stats_ref (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_seen TIMESTAMP NOT NULL)",
                ],
                seed: "INSERT INTO events (id, user_id, amount, created_at) \
                       SELECT i, CASE WHEN i % 101 = 0 THEN NULL ELSE (i * 7919) % $2 + 1 END, (i * 31) % 1000, \
                              TIMESTAMP '2024-01-01' + i * INTERVAL '17 seconds' \
                       FROM generate_series(1, $1::bigint) AS i"
                    .to_string(),
                after_seed: &[
                    "CREATE INDEX events_user_id ON events (user_id)",
                    "VACUUM ANALYZE events",
                ],
                truncate: "TRUNCATE user_stats",
                drop_progress: "DROP TABLE IF EXISTS backfill_progress",
                snapshot: &[
                    "TRUNCATE user_stats_ref",
                    "INSERT INTO user_stats_ref SELECT * FROM user_stats",
                ],
                page: "SELECT user_id, event_count, total_amount, last_seen FROM user_stats \
                       WHERE user_id > $1 ORDER BY user_id LIMIT $2",
                hand_fetch: "SELECT user_id, count(*), sum(amount)::bigint, max(created_at) FROM events \
                             WHERE user_id > $1 GROUP BY user_id ORDER BY user_id LIMIT $2",
                hand_upsert: "INSERT INTO user_stats (user_id, event_count, total_amount, last_seen) \
                              VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
                              event_count = EXCLUDED.event_count, total_amount = EXCLUDED.total_amount, \
                              last_seen = EXCLUDED.last_seen",
                version: "SELECT 'PostgreSQL ' || current_setting('server_version')",
                settings: "SELECT 'shared_buffers ' || current_setting('shared_buffers') \
                           || ', work_mem ' || current_setting('work_mem') \
                           || ', synchronous_commit ' || current_setting('synchronous_commit') \
                           || ', fsync ' || current_setting('fsync') \
                           || ', wal_level ' || current_setting('wal_level')",
                teardown: "DROP SCHEMA bench CASCADE",
            },
            Engine::MySql => EngineSql {
                setup: &[
                    "DROP TABLE IF EXISTS events, user_stats, user_stats_ref, backfill_progress",
                    "CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT NULL, amount BIGINT NOT NULL, created_at DATETIME NOT NULL)",
                    "CREATE TABLE user_stats (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_seen DATETIME NOT NULL)",
                    "CREATE TABLE user_stats_ref (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_seen DATETIME NOT NULL)",
                ],
                seed: mysql_seed(events),
                after_seed: &[
                    "ALTER TABLE events ADD INDEX events_user_id (user_id)",
                    "ANALYZE TABLE events",
                ],
                truncate: "TRUNCATE TABLE user_stats",
                drop_progress: "DROP TABLE IF EXISTS backfill_progress",
                snapshot: &[
                    "TRUNCATE TABLE user_stats_ref",
                    "INSERT INTO user_stats_ref SELECT * FROM user_stats",
                ],
                page: "SELECT user_id, event_count, total_amount, last_seen FROM user_stats \
                       WHERE user_id > ? ORDER BY user_id LIMIT ?",
                hand_fetch: "SELECT user_id, count(*), CAST(sum(amount) AS SIGNED), max(created_at) FROM events \
                             WHERE user_id > ? GROUP BY user_id ORDER BY user_id LIMIT ?",
                hand_upsert: "INSERT INTO user_stats (user_id, event_count, total_amount, last_seen) \
                              VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
                              event_count = VALUES(event_count), total_amount = VALUES(total_amount), \
                              last_seen = VALUES(last_seen)",
                version: "SELECT CAST(CONCAT(IF(VERSION() LIKE '%MariaDB%', 'MariaDB ', 'MySQL '), VERSION()) AS CHAR)",
                settings: "SELECT CAST(CONCAT('innodb_buffer_pool_size ', @@innodb_buffer_pool_size DIV 1048576, 'MB', \
                           ', innodb_flush_log_at_trx_commit ', @@innodb_flush_log_at_trx_commit, \
                           ', log_bin ', @@log_bin) AS CHAR)",
                teardown: "DROP DATABASE backfill_bench",
            },
            Engine::Sqlite => EngineSql {
                setup: &[
                    "DROP TABLE IF EXISTS events",
                    "DROP TABLE IF EXISTS user_stats",
                    "DROP TABLE IF EXISTS user_stats_ref",
                    "DROP TABLE IF EXISTS backfill_progress",
                    "CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER, amount INTEGER NOT NULL, created_at TEXT NOT NULL)",
                    "CREATE TABLE user_stats (user_id INTEGER PRIMARY KEY, event_count INTEGER NOT NULL, total_amount INTEGER NOT NULL, last_seen TEXT NOT NULL)",
                    "CREATE TABLE user_stats_ref (user_id INTEGER PRIMARY KEY, event_count INTEGER NOT NULL, total_amount INTEGER NOT NULL, last_seen TEXT NOT NULL)",
                ],
                seed: "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
                       INSERT INTO events (id, user_id, amount, created_at) \
                       SELECT i, CASE WHEN i % 101 = 0 THEN NULL ELSE (i * 7919) % ?2 + 1 END, (i * 31) % 1000, \
                              datetime('2024-01-01', '+' || (i * 17) || ' seconds') \
                       FROM n"
                    .to_string(),
                after_seed: &["CREATE INDEX events_user_id ON events (user_id)", "ANALYZE"],
                truncate: "DELETE FROM user_stats",
                drop_progress: "DROP TABLE IF EXISTS backfill_progress",
                snapshot: &[
                    "DELETE FROM user_stats_ref",
                    "INSERT INTO user_stats_ref SELECT * FROM user_stats",
                ],
                page: "SELECT user_id, event_count, total_amount, last_seen FROM user_stats \
                       WHERE user_id > ? ORDER BY user_id LIMIT ?",
                hand_fetch: "SELECT user_id, count(*), sum(amount), max(created_at) FROM events \
                             WHERE user_id > ? GROUP BY user_id ORDER BY user_id LIMIT ?",
                hand_upsert: "INSERT INTO user_stats (user_id, event_count, total_amount, last_seen) \
                              VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET \
                              event_count = excluded.event_count, total_amount = excluded.total_amount, \
                              last_seen = excluded.last_seen",
                version: "SELECT 'SQLite ' || sqlite_version()",
                settings: "SELECT 'journal_mode ' || (SELECT journal_mode FROM pragma_journal_mode) \
                           || ', synchronous ' || CASE (SELECT synchronous FROM pragma_synchronous) \
                              WHEN 0 THEN 'OFF' WHEN 1 THEN 'NORMAL' WHEN 2 THEN 'FULL' ELSE 'EXTRA' END",
                teardown: "SELECT 1",
            },
        }
    }
}

/// MariaDB/MySQL seed: the numbers `1..=events` from a cross join of as many copies of a digits
/// table as `events` has digits (no recursion limit to raise). Binds events, then users.
fn mysql_seed(events: i64) -> String {
    let width = events.to_string().len();
    let number: Vec<String> = (0..width)
        .map(|k| format!("{} * d{k}.d", 10_i64.pow(k as u32)))
        .collect();
    let joins: Vec<String> = (0..width).map(|k| format!("digits AS d{k}")).collect();
    format!(
        "INSERT INTO events (id, user_id, amount, created_at) \
         WITH digits (d) AS (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
           UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
           UNION ALL SELECT 8 UNION ALL SELECT 9) \
         SELECT n.i, CASE WHEN n.i % 101 = 0 THEN NULL ELSE (n.i * 7919) % p.users + 1 END, \
                (n.i * 31) % 1000, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (n.i * 17) SECOND \
         FROM (SELECT CAST(? AS SIGNED) AS events, CAST(? AS SIGNED) AS users) AS p \
         JOIN (SELECT {} + 1 AS i FROM {}) AS n ON n.i <= p.events",
        number.join(" + "),
        joins.join(" CROSS JOIN ")
    )
}

/// A connection pool of the benchmarked engine.
enum Db {
    Postgres(PgPool),
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$p` bound to the pool, whatever its engine (each arm is typed separately).
macro_rules! on_pool {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            Db::Postgres($p) => $body,
            Db::MySql($p) => $body,
            Db::Sqlite($p) => $body,
        }
    };
}

/// The in-place scenario (`--scenario in-place`); after `on_pool!`, which it uses.
mod in_place;

/// The namespace of the benchmark on each engine.
const PG_SCHEMA: &str = "bench";
const MYSQL_DATABASE: &str = "backfill_bench";

fn server_url(var: &str, example: &str) -> Result<String, BoxError> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => Err(format!("set {var} (e.g. {example}) to benchmark this engine").into()),
    }
}

impl Db {
    /// Connects to the benchmark's namespace, creating it if missing. The temp dir (SQLite)
    /// must outlive the pool.
    async fn connect(engine: Engine, dir: &Path) -> Result<Db, BoxError> {
        match engine {
            Engine::Postgres => {
                let base = server_url(
                    "BACKFILL_TEST_POSTGRES_URL",
                    "postgres://postgres@127.0.0.1:5432/test",
                )?;
                let admin = PgPool::connect(&base).await?;
                sqlx::raw_sql(&format!("CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}"))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{PG_SCHEMA}");
                let pool = PgPoolOptions::new()
                    .max_connections(4)
                    .connect(&url)
                    .await?;
                let db = Db::Postgres(pool);
                db.expect_namespace("SELECT current_schema()::text", PG_SCHEMA)
                    .await?;
                Ok(db)
            }
            Engine::MySql => {
                let base = server_url(
                    "BACKFILL_TEST_MYSQL_URL",
                    "mysql://root@127.0.0.1:3306/test",
                )?;
                let admin = MySqlPool::connect(&base).await?;
                sqlx::raw_sql(&format!("CREATE DATABASE IF NOT EXISTS {MYSQL_DATABASE}"))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                let root = base
                    .rsplit_once('/')
                    .map_or(base.as_str(), |(root, _)| root);
                let pool = MySqlPoolOptions::new()
                    .max_connections(4)
                    .connect(&format!("{root}/{MYSQL_DATABASE}"))
                    .await?;
                let db = Db::MySql(pool);
                db.expect_namespace("SELECT CAST(DATABASE() AS CHAR)", MYSQL_DATABASE)
                    .await?;
                Ok(db)
            }
            Engine::Sqlite => {
                let options = SqliteConnectOptions::new()
                    .filename(dir.join("bench.db"))
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30));
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await?;
                Ok(Db::Sqlite(pool))
            }
        }
    }

    /// Refuses to drop anything unless the connection is in the benchmark's own namespace.
    async fn expect_namespace(&self, sql: &str, expected: &str) -> Result<(), BoxError> {
        let current = self.text(sql).await?;
        if current != expected {
            return Err(format!(
                "the benchmark's connection is in {current:?}, not {expected:?}: refusing to touch its tables"
            )
            .into());
        }
        Ok(())
    }

    /// Runs statements with no parameters (simple protocol: DDL, VACUUM).
    async fn exec_all(&self, script: &[&str]) -> sqlx::Result<()> {
        for sql in script {
            on_pool!(self, p => sqlx::raw_sql(sql).execute(p).await.map(|_| ()))?;
        }
        Ok(())
    }

    /// Runs a prepared statement binding integers; returns the affected rows.
    async fn exec(&self, sql: &str, binds: &[i64]) -> sqlx::Result<u64> {
        on_pool!(self, p => {
            let mut q = sqlx::query(sql);
            for b in binds {
                q = q.bind(*b);
            }
            q.execute(p).await.map(|r| r.rows_affected())
        })
    }

    async fn int(&self, sql: &str) -> sqlx::Result<i64> {
        on_pool!(self, p => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await)
    }

    async fn text(&self, sql: &str) -> sqlx::Result<String> {
        on_pool!(self, p => sqlx::query_scalar::<_, String>(sql).fetch_one(p).await)
    }

    /// Lets the server finish the previous figure's background work before a measured run:
    /// figures run in a fixed order, and each would otherwise pay for the writes of the one
    /// before it (measured on MariaDB: the first batches of the default run, right after the
    /// limit, took 2-3 times longer than later ones). PostgreSQL writes a `CHECKPOINT`; InnoDB
    /// flushes the benchmark tables' dirty pages and merges their buffered changes (`FLUSH
    /// TABLES ... FOR EXPORT`); SQLite checkpoints its WAL into the database file. Never timed.
    async fn quiesce(&self) -> sqlx::Result<()> {
        match self {
            Db::Postgres(p) => sqlx::raw_sql("CHECKPOINT").execute(p).await.map(|_| ()),
            Db::MySql(p) => {
                let mut conn = p.acquire().await?;
                sqlx::raw_sql("FLUSH TABLES events, user_stats, user_stats_ref FOR EXPORT")
                    .execute(&mut *conn)
                    .await?;
                sqlx::raw_sql("UNLOCK TABLES")
                    .execute(&mut *conn)
                    .await
                    .map(|_| ())
            }
            Db::Sqlite(p) => sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(p)
                .await
                .map(|_| ()),
        }
    }

    /// PostgreSQL: the current WAL insert position in bytes; `None` on other engines.
    async fn wal_position(&self) -> sqlx::Result<Option<i64>> {
        match self {
            Db::Postgres(p) => sqlx::query_scalar::<_, i64>(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint",
            )
            .fetch_one(p)
            .await
            .map(Some),
            _ => Ok(None),
        }
    }

    /// The whole target in key order, hashed; read in pages so memory stays flat.
    async fn checksum(&self, page_sql: &str) -> sqlx::Result<Checksum> {
        let mut sum = Checksum::default();
        let mut cursor = i64::MIN;
        loop {
            let page: Vec<StatsRow> = on_pool!(self, p => {
                sqlx::query_as::<_, StatsRow>(page_sql)
                    .bind(cursor)
                    .bind(CHECKSUM_PAGE)
                    .fetch_all(p)
                    .await
            })?;
            for row in &page {
                sum.add(row);
            }
            match page.last() {
                Some(last) if page.len() as i64 == CHECKSUM_PAGE => cursor = last.0,
                _ => return Ok(sum),
            }
        }
    }

    async fn backfill(&self, options: RunOptions) -> Result<Report, backfill::Error> {
        on_pool!(self, p => UserStats::run_backfill(p, options).await)
    }

    /// What people write without the library: page through the aggregates, upsert one row per
    /// round trip (each its own transaction), until the keys or the time budget run out.
    /// Returns the rows upserted.
    async fn hand_loop(&self, sql: &EngineSql, budget: Duration) -> sqlx::Result<u64> {
        let started = Instant::now();
        let mut cursor = i64::MIN;
        let mut rows = 0;
        loop {
            let page: Vec<StatsRow> = on_pool!(self, p => {
                sqlx::query_as::<_, StatsRow>(sql.hand_fetch)
                    .bind(cursor)
                    .bind(HAND_PAGE)
                    .fetch_all(p)
                    .await
            })?;
            let Some(last) = page.last() else {
                return Ok(rows);
            };
            cursor = last.0;
            for (user_id, count, total, last_seen) in page {
                if started.elapsed() >= budget {
                    return Ok(rows);
                }
                on_pool!(self, p => {
                    sqlx::query(sql.hand_upsert)
                        .bind(user_id)
                        .bind(count)
                        .bind(total)
                        .bind(last_seen)
                        .execute(p)
                        .await
                        .map(|_| ())
                })?;
                rows += 1;
            }
        }
    }

    async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

/// An order-sensitive hash (FNV-1a 64) of a whole table, and its number of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Checksum {
    rows: u64,
    hash: u64,
}

impl Default for Checksum {
    fn default() -> Checksum {
        Checksum {
            rows: 0,
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }
}

impl Checksum {
    fn add(&mut self, (user_id, count, total, last_seen): &StatsRow) {
        let line = format!("{user_id}|{count}|{total}|{last_seen}\n");
        for byte in line.bytes() {
            self.hash = (self.hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.rows += 1;
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows, FNV-1a {:016x}",
            thousands(self.rows),
            self.hash
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Memory

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`); `None` off Linux.
fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix(field)?
            .strip_prefix(':')?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

/// Samples the process's resident memory every 5 ms on a thread of its own until stopped.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Option<u64>>,
}

impl RssSampler {
    fn start() -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peak = proc_status_kib("VmRSS");
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
                peak = peak.max(proc_status_kib("VmRSS"));
            }
            peak
        });
        RssSampler { stop, thread }
    }

    /// The peak resident memory seen, in KiB.
    fn stop(self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().ok().flatten()
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Figure {
    Limit,
    Default,
    Rerun,
    Fixed(u64),
    HandLoop,
}

impl Figure {
    /// Every figure, in the order of a round (the re-run needs the full target the default run
    /// leaves).
    fn all() -> Vec<Figure> {
        let mut all = vec![Figure::Limit, Figure::Default, Figure::Rerun];
        all.extend(BATCH_SIZES.map(Figure::Fixed));
        all.push(Figure::HandLoop);
        all
    }

    fn label(self, hand_loop: Duration) -> String {
        match self {
            Figure::Limit => "limit: one INSERT … SELECT … GROUP BY … upsert".to_string(),
            Figure::Default => "backfill, default options (adaptive)".to_string(),
            Figure::Rerun => "re-run with restart over a full target".to_string(),
            Figure::Fixed(n) => format!("backfill, {} keys per batch", thousands(n)),
            Figure::HandLoop => format!(
                "hand-written loop, one upsert per round trip ({} s cap)",
                hand_loop.as_secs()
            ),
        }
    }

    fn is_backfill(self) -> bool {
        matches!(self, Figure::Default | Figure::Rerun | Figure::Fixed(_))
    }
}

/// One run of one figure.
#[derive(Debug, Clone)]
struct Sample {
    elapsed: Duration,
    /// Target rows the run covered (keys checked for the re-run, rows upserted by the loop).
    rows: u64,
    /// Rows inserted or changed (the report's count; the limit's affected rows).
    written: u64,
    batches: Option<u64>,
    rss_kib: Option<u64>,
    wal_bytes: Option<i64>,
}

impl Sample {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The median of a non-empty list (the lower middle for an even length).
fn median<T: Copy + PartialOrd>(values: impl IntoIterator<Item = T>) -> Option<T> {
    let mut values: Vec<T> = values.into_iter().collect();
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.get(values.len().saturating_sub(1) / 2).copied()
}

/// The benchmark of one engine.
struct Bench {
    args: Args,
    db: Db,
    sql: EngineSql,
    upsert_all: &'static str,
    /// The limit's target: every other full run must equal it.
    reference: Option<Checksum>,
    samples: Vec<(Figure, Vec<Sample>)>,
    failures: Vec<String>,
}

impl Bench {
    async fn seed(&self) -> Result<Duration, BoxError> {
        let started = Instant::now();
        self.db.exec_all(self.sql.setup).await?;
        self.db
            .exec(&self.sql.seed, &[self.args.events, self.args.users])
            .await?;
        self.db.exec_all(self.sql.after_seed).await?;
        Ok(started.elapsed())
    }

    /// An empty target and no progress table.
    async fn empty_target(&self) -> sqlx::Result<()> {
        self.db
            .exec_all(&[self.sql.truncate, self.sql.drop_progress])
            .await
    }

    /// Runs every figure `--repeat` times, interleaved, so drift hits every figure alike.
    async fn run(&mut self) -> Result<(), BoxError> {
        for round in 0..self.args.repeat {
            for figure in Figure::all() {
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

    async fn measure(&mut self, figure: Figure) -> Result<Sample, BoxError> {
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
        }
    }

    async fn limit(&mut self) -> Result<Sample, BoxError> {
        self.empty_target().await?;
        self.db.quiesce().await?;
        let rss = RssSampler::start();
        let started = Instant::now();
        let written = self.db.exec(self.upsert_all, &[]).await?;
        let elapsed = started.elapsed();
        let rss_kib = rss.stop();
        let sum = self.db.checksum(self.sql.page).await?;
        match self.reference {
            None => {
                self.reference = Some(sum);
                self.db.exec_all(self.sql.snapshot).await?;
            }
            Some(reference) => self.check(Figure::Limit, reference, sum),
        }
        Ok(Sample {
            elapsed,
            rows: sum.rows,
            written,
            batches: Some(1),
            rss_kib,
            wal_bytes: None,
        })
    }

    async fn backfill(
        &mut self,
        figure: Figure,
        options: RunOptions,
        empty: bool,
    ) -> Result<Sample, BoxError> {
        if empty {
            self.empty_target().await?;
        }
        self.db.quiesce().await?;
        let wal_before = self.db.wal_position().await?;
        let rss = RssSampler::start();
        let started = Instant::now();
        let report = self.db.backfill(options).await;
        let elapsed = started.elapsed();
        let rss_kib = rss.stop();
        let report = report?;
        let wal_after = self.db.wal_position().await?;
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
            elapsed,
            rows: report.keys,
            written: report.rows_written,
            batches: Some(report.batches),
            rss_kib,
            wal_bytes: wal_before.zip(wal_after).map(|(a, b)| b - a),
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
        })
    }

    fn check(&mut self, figure: Figure, reference: Checksum, sum: Checksum) {
        if sum != reference {
            self.failures.push(format!(
                "{}: the target ({sum}) differs from the limit's ({reference})",
                figure.label(self.args.hand_loop)
            ));
        }
    }

    fn samples(&self, figure: Figure) -> &[Sample] {
        self.samples
            .iter()
            .find(|(f, _)| *f == figure)
            .map_or(&[], |(_, list)| list.as_slice())
    }

    fn median_rate(&self, figure: Figure) -> Option<f64> {
        median(self.samples(figure).iter().map(Sample::rate))
    }

    /// The engine's section of `BENCHMARKS.md`.
    fn section(&self, meta: &Meta) -> String {
        let hand = self.args.hand_loop;
        let limit = self.median_rate(Figure::Limit).unwrap_or(f64::NAN);
        let mut s = String::new();
        let _ = writeln!(s, "## {}\n", self.args.engine);
        let _ = writeln!(
            s,
            "{} on {} cores; {} events over {} users ({} events with a NULL user); median of {} \
             per figure{}; {}{}.\n",
            meta.version,
            meta.cores,
            thousands(self.args.events as u64),
            thousands(self.args.users as u64),
            thousands(meta.null_events as u64),
            plural(self.args.repeat, "run"),
            if self.args.repeat_slow < self.args.repeat {
                format!(
                    " ({} for a figure whose first run took over {} s)",
                    plural(self.args.repeat_slow, "run"),
                    SLOW_RUN.as_secs()
                )
            } else {
                String::new()
            },
            meta.date,
            meta.commit
                .as_ref()
                .map(|c| format!(", commit {c}"))
                .unwrap_or_default(),
        );
        let _ = writeln!(s, "Server settings: {}.\n", meta.settings);
        let _ = writeln!(
            s,
            "| figure | runs | median time | rows/s | × limit | batches | ms/batch | rows written | peak RSS |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for figure in Figure::all() {
            let list = self.samples(figure);
            let (Some(rate), Some(elapsed)) = (
                self.median_rate(figure),
                median(list.iter().map(|x| x.elapsed)),
            ) else {
                continue;
            };
            let batches = median(list.iter().filter_map(|x| x.batches));
            let per_batch = match (figure, batches) {
                (Figure::Limit | Figure::HandLoop, _) | (_, None) => "–".to_string(),
                (_, Some(b)) => format!("{:.1}", elapsed.as_secs_f64() * 1e3 / b.max(1) as f64),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {:.2} s | {} | {:.2}× | {} | {} | {} | {} |",
                figure.label(hand),
                list.len(),
                elapsed.as_secs_f64(),
                thousands(rate.round() as u64),
                rate / limit,
                batches.map_or("–".to_string(), thousands),
                per_batch,
                median(list.iter().map(|x| x.written)).map_or("–".to_string(), thousands),
                mib(list.iter().filter_map(|x| x.rss_kib).max()),
            );
        }
        let default = self.median_rate(Figure::Default).unwrap_or(f64::NAN);
        let hand_rate = self.median_rate(Figure::HandLoop).unwrap_or(f64::NAN);
        let peak = self
            .samples
            .iter()
            .filter(|(f, _)| f.is_backfill())
            .flat_map(|(_, list)| list.iter().filter_map(|x| x.rss_kib))
            .max();
        let met = |ok: bool| if ok { "met" } else { "**not met**" };
        let _ = writeln!(s, "\nTargets, for reference:\n");
        let _ = writeln!(
            s,
            "- default ≥ 0.90× limit: {:.2}× ({})",
            default / limit,
            met(default / limit >= 0.90)
        );
        let _ = writeln!(
            s,
            "- default ≥ 20× hand-written loop: {:.1}× ({})",
            default / hand_rate,
            met(default / hand_rate >= 20.0)
        );
        let _ = writeln!(
            s,
            "- peak RSS < 64 MiB: {} during the backfill runs ({})",
            mib(peak),
            met(peak.is_some_and(|kib| kib < 64 * 1024))
        );
        let wal = |f: Figure| median(self.samples(f).iter().filter_map(|x| x.wal_bytes));
        if let (Some(first), Some(rerun)) = (wal(Figure::Default), wal(Figure::Rerun)) {
            let _ = writeln!(
                s,
                "\nWAL: the first (default) run generated {}, the re-run {}: {:.2}% of the first run's \
                 (`pg_wal_lsn_diff` of `pg_current_wal_lsn()`, server-wide, medians).",
                bytes(first),
                bytes(rerun),
                rerun as f64 * 100.0 / first.max(1) as f64
            );
        }
        let _ = writeln!(
            s,
            "\nMemory: RSS sampled every 5 ms during each run (the column is the peak per figure). \
             The process's VmHWM at the end was {}; it also covers the seed, the checksums (read in \
             pages of {} rows) and the hand-written loop, which ran in the same process.",
            mib(meta.hwm_kib),
            thousands(CHECKSUM_PAGE as u64)
        );
        if let Some(reference) = self.reference {
            let _ = writeln!(
                s,
                "\nChecks: every full run's target equals the limit's ({reference}); the hand-written \
                 loop's rows equal the limit's. Rates are target rows per second of wall time \
                 (keys checked for the re-run, rows upserted for the hand-written loop). Every \
                 run, the limit's too, started after the previous run's writes were flushed \
                 (`CHECKPOINT`, `FLUSH TABLES ... FOR EXPORT` or `wal_checkpoint`; untimed)."
            );
        }
        s
    }
}

/// What the section says about the run besides the figures.
struct Meta {
    version: String,
    settings: String,
    cores: usize,
    null_events: i64,
    hwm_kib: Option<u64>,
    date: String,
    commit: Option<String>,
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("n/a".to_string(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    })
}

fn bytes(n: i64) -> String {
    if n.abs() >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}

// ---------------------------------------------------------------------------------------------
// BENCHMARKS.md

const HEADER: &str = "# Benchmarks\n\n\
Written by `cargo run --release --example bench -- --engine postgres|mysql|sqlite` (defaults: \
2,000,000 events over 200,000 users, median of 3 runs); `examples/bench/main.rs` explains every figure. \
Each run replaces its engine's section (a run at another scale has a section of its own, such as `postgres-20m`); notes written by hand below a section are kept. The limit is the article's single \
`INSERT ... SELECT ... GROUP BY ... ON CONFLICT / ON DUPLICATE KEY UPDATE` over every key: fast, \
but one transaction that cannot be resumed, throttled or stopped.\n";

/// The section of a run: the engine's name, and the scale when it is not the default
/// (`postgres-20m` for 20,000,000 events), so a run at another scale keeps the default one.
fn section_id(engine: Engine, events: i64) -> String {
    if events == DEFAULT_EVENTS {
        engine.name().to_string()
    } else if events % 1_000_000 == 0 {
        format!("{}-{}m", engine.name(), events / 1_000_000)
    } else {
        format!("{}-{events}", engine.name())
    }
}

/// A section of `BENCHMARKS.md`: its id, its text between the markers (markers included), and
/// what follows it up to the next section (a note added by hand, kept when the section is
/// replaced).
struct Section {
    id: String,
    text: String,
    note: String,
}

/// Every `<!-- bench:ID begin -->` ... `<!-- bench:ID end -->` section of the file, in order.
fn sections(file: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut rest = file;
    while let Some(at) = rest.find("<!-- bench:") {
        let after = &rest[at + "<!-- bench:".len()..];
        let Some(id_end) = after.find(" begin -->") else {
            break;
        };
        let id = after[..id_end].to_string();
        let end_marker = format!("<!-- bench:{id} end -->");
        let Some(stop) = rest.find(&end_marker) else {
            break;
        };
        let tail = &rest[stop + end_marker.len()..];
        let next = tail.find("<!-- bench:").unwrap_or(tail.len());
        out.push(Section {
            id,
            text: rest[at..stop + end_marker.len()].to_string(),
            note: tail[..next].trim().to_string(),
        });
        rest = &tail[next..];
    }
    out
}

/// Replaces (or appends) the section `id`, keeping every other section and every note.
fn write_section(path: &Path, id: &str, section: &str) -> std::io::Result<()> {
    let file = std::fs::read_to_string(path).unwrap_or_default();
    let text = format!(
        "<!-- bench:{id} begin -->\n{}\n<!-- bench:{id} end -->",
        section.trim()
    );
    let mut all = sections(&file);
    match all.iter_mut().find(|s| s.id == id) {
        Some(existing) => existing.text = text,
        None => all.push(Section {
            id: id.to_string(),
            text,
            note: String::new(),
        }),
    }
    let mut out = String::from(HEADER);
    for s in all {
        out.push('\n');
        out.push_str(&s.text);
        out.push('\n');
        if !s.note.is_empty() {
            out.push('\n');
            out.push_str(&s.note);
            out.push('\n');
        }
    }
    std::fs::write(path, out)
}

// ---------------------------------------------------------------------------------------------

async fn run(args: Args) -> Result<bool, BoxError> {
    let engine = args.engine;
    if args.print_sql {
        let stmts = UserStats::sql(engine).ok_or("UserStats was not generated for this engine")?;
        for (name, stmt) in stmts.named() {
            println!("-- {name}\n{};\n", stmt.sql);
        }
        return Ok(true);
    }
    let dir = tempfile::tempdir()?;
    let db = Db::connect(engine, dir.path()).await?;
    let stmts = UserStats::sql(engine).ok_or("UserStats was not generated for this engine")?;
    if !stmts.upsert_all.params.is_empty() {
        return Err("the single-statement recompute binds parameters; expected none".into());
    }
    let sql = EngineSql::new(engine, args.events);
    let version = db.text(sql.version).await?;
    let settings = db.text(sql.settings).await?;
    let mut bench = Bench {
        args,
        db,
        sql,
        upsert_all: stmts.upsert_all.sql,
        reference: None,
        samples: Vec::new(),
        failures: Vec::new(),
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
    if bench.args.in_place {
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
    bench.run().await?;

    let meta = Meta {
        version,
        settings,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        null_events,
        hwm_kib: proc_status_kib("VmHWM"),
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        commit: git_commit(),
    };
    let section = bench.section(&meta);
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
        let id = section_id(engine, bench.args.events);
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
