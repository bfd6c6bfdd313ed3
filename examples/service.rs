//! A service's backfill command line: four backfills behind `backfill::cli`, runnable on SQLite
//! with no server, and on PostgreSQL or MariaDB/MySQL by URL.
//!
//! ```sh
//! # create the demo schema and deterministic data (drops the demo tables first)
//! cargo run --example service -- --database-url sqlite:demo.db --seed
//! cargo run --example service -- --database-url sqlite:demo.db list
//! cargo run --example service -- --database-url sqlite:demo.db run UserStats
//! cargo run --example service -- --database-url sqlite:demo.db status
//! cargo run --example service -- --database-url sqlite:demo.db verify UserStats
//! cargo run --example service -- sql OrderFacts --engine postgres
//!
//! export DATABASE_URL=postgres://postgres@127.0.0.1:5432/test   # or mysql://root@127.0.0.1:3306/test
//! cargo run --example service -- --seed
//! cargo run --example service -- run OrderFacts --batch-size 500 --pause 20ms
//! ```
//!
//! `--seed` is handled here, before the command line takes over: it drops and recreates the demo tables and the progress table for the URL's engine and fills
//! them with deterministic rows (`BACKFILL_DEMO_USERS`, default 2,000 users, 10 events and 3
//! orders each), and exits. With `BACKFILL_DEMO_SEED=1` instead, the seed runs before the command
//! given (`BACKFILL_DEMO_SEED=1 service run UserStats`). Everything else is `backfill::cli`.
//!
//! The four shapes of backfill a service typically has:
//! - [`UserStats`]: an aggregate, per-user totals recomputed from `events`;
//! - [`OrderFacts`]: a denormalizing copy over a join (`orders JOIN users`), with a filter;
//! - [`DefaultSettings`]: write-once seed rows (`on_conflict = "nothing"`): a setting a user has
//!   changed is never overwritten;
//! - [`UserOrderCount`]: a new column of an existing table filled in place (`in_place`):
//!   `users.order_count` from `orders`, an UPDATE of existing rows that never inserts.

use std::process::ExitCode;
use std::str::FromStr;

use backfill::sqlx;
use backfill::Backfill;

/// Per-user totals recomputed from `events` (rows with a NULL user are counted and skipped).
#[derive(Backfill, Debug)]
#[backfill(
    table = "user_stats",
    from = "events",
    migrations = "examples/migrations"
)]
pub struct UserStats {
    /// The user: the conflict key (the primary key of `user_stats`).
    #[backfill(key)]
    pub user_id: i64,
    /// Absolute count, recomputed: a retried batch converges instead of doubling.
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    /// Absolute sum, recomputed.
    #[backfill(expr = "sum(amount)")]
    pub total_amount: i64,
    /// The newest event.
    #[backfill(expr = "max(id)")]
    pub last_event_id: i64,
}

/// One row per order that was not cancelled, denormalized with its user's country.
#[derive(Backfill, Debug)]
#[backfill(
    table = "order_facts",
    from = "orders o JOIN users u ON u.id = o.user_id",
    filter = "o.status <> 'cancelled'",
    migrations = "examples/migrations",
    // Each order meets one user (`users.id` is its primary key): the join cannot give two rows
    // for one `o.id`. The derive does not infer which joins keep a key unique, so it asks; the
    // run checks it.
    source_key_unique
)]
pub struct OrderFacts {
    /// The order: the conflict key.
    #[backfill(key, expr = "o.id")]
    pub order_id: i64,
    /// The ordering user.
    #[backfill(expr = "o.user_id")]
    pub user_id: i64,
    /// Copied from `users`.
    #[backfill(expr = "u.country")]
    pub country: String,
    /// Copied from `orders`.
    #[backfill(expr = "o.total_cents")]
    pub total_cents: i64,
}

/// Default settings for every user, written once: rows that exist are never touched.
#[derive(Backfill, Debug)]
#[backfill(
    table = "default_settings",
    from = "users",
    on_conflict = "nothing",
    migrations = "examples/migrations"
)]
pub struct DefaultSettings {
    /// The user: the conflict key.
    #[backfill(key, expr = "id")]
    pub user_id: i64,
    /// The default theme.
    #[backfill(expr = "'light'")]
    pub theme: String,
    /// A weekly digest in Germany, daily elsewhere.
    #[backfill(expr = "CASE WHEN country = 'DE' THEN 'weekly' ELSE 'daily' END")]
    pub digest: String,
}

/// `users.order_count`, a column added to a table that already holds its rows, filled in
/// place from `orders`: existing users are updated, none is inserted, a user without orders
/// gets 0.
#[derive(Backfill, Debug)]
#[backfill(
    table = "users",
    from = "users u LEFT JOIN orders o ON o.user_id = u.id",
    in_place,
    migrations = "examples/migrations"
)]
pub struct UserOrderCount {
    /// The user: `users`' primary key.
    #[backfill(key, expr = "u.id")]
    pub id: i64,
    /// Absolute count of the user's orders.
    #[backfill(expr = "count(o.id)")]
    pub order_count: Option<i64>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    let flag = args.iter().position(|a| a == "--seed");
    if let Some(i) = flag {
        args.remove(i);
    }
    if flag.is_some() || std::env::var("BACKFILL_DEMO_SEED").is_ok_and(|v| v == "1") {
        let Some(url) = database_url(&args) else {
            eprintln!("error: --seed needs a database: pass --database-url or set DATABASE_URL");
            return ExitCode::from(2);
        };
        let users = match std::env::var("BACKFILL_DEMO_USERS") {
            Ok(n) => match n.parse::<i64>() {
                Ok(n) if (1..=10_000_000).contains(&n) => n,
                _ => {
                    eprintln!("error: BACKFILL_DEMO_USERS={n} is not a number of users between 1 and 10000000");
                    return ExitCode::from(2);
                }
            },
            Err(_) => 2_000,
        };
        let shown = backfill::cli::redact_url(&url);
        match demo::seed(&url, users).await {
            Ok(engine) => eprintln!(
                "seeded the demo schema on {engine} ({shown}): {users} users, {} events, {} orders",
                users * demo::EVENTS_PER_USER,
                users * demo::ORDERS_PER_USER
            ),
            Err(e) => {
                let message = e.replace(&url, &shown);
                eprintln!("error: seeding the demo schema on {shown} failed: {message}");
                return ExitCode::from(1);
            }
        }
        if flag.is_some() {
            return ExitCode::SUCCESS;
        }
    }
    backfill::cli::run(
        backfill::registry![UserStats, OrderFacts, DefaultSettings, UserOrderCount],
        args,
    )
    .await
    .into()
}

/// `--database-url URL`, `--database-url=URL`, or `DATABASE_URL`.
fn database_url(args: &[String]) -> Option<String> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--database-url" {
            return iter.next().cloned();
        }
        if let Some(url) = arg.strip_prefix("--database-url=") {
            return Some(url.to_string());
        }
    }
    std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty())
}

/// The demo schema and its deterministic data, per engine.
mod demo {
    use super::*;

    /// Events per user (some have no user at all).
    pub const EVENTS_PER_USER: i64 = 10;
    /// Orders per user (every fifth is cancelled).
    pub const ORDERS_PER_USER: i64 = 3;

    /// Tables dropped before the demo schema is created (the progress table too, so every
    /// demo job starts over).
    const TABLES: [&str; 7] = [
        "user_stats",
        "order_facts",
        "default_settings",
        "events",
        "orders",
        "users",
        "backfill_progress",
    ];

    /// The demo's migrations per engine: the schema the derive checked the backfills against.
    fn migration(engine: &str) -> &'static str {
        match engine {
            "mysql" => include_str!("migrations/mysql/0001_demo.sql"),
            "postgres" => include_str!("migrations/postgres/0001_demo.sql"),
            _ => include_str!("migrations/sqlite/0001_demo.sql"),
        }
    }

    /// Drops the demo tables, then applies the engine's migration (its statements hold no `;`
    /// inside a literal, so splitting on `;` is exact).
    fn schema(engine: &str) -> Vec<String> {
        let mut stmts: Vec<String> = TABLES
            .iter()
            .map(|t| format!("DROP TABLE IF EXISTS {t}"))
            .collect();
        let without_comments: Vec<&str> = migration(engine)
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect();
        stmts.extend(
            without_comments
                .join("\n")
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        stmts
    }

    /// The numbers 1..=N as a row source `n(i)`, N given by the placeholder `n` (on MySQL,
    /// cut by a `WHERE n.i <= ?` the caller appends). `max` bounds N.
    fn numbers(engine: &str, n: &str, max: i64) -> String {
        match engine {
            "postgres" => format!("(SELECT generate_series(1, {n}) AS i) AS n"),
            // Digits cross-joined: no recursion limit (MySQL 8 stops recursive CTEs at 1000).
            "mysql" => {
                let digits = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";
                let mut places = 1;
                while 10_i64.pow(places) < max {
                    places += 1;
                }
                let terms: Vec<String> = (0..places)
                    .map(|p| format!("{} * d{p}.d", 10_i64.pow(p)))
                    .collect();
                let tables: Vec<String> = (0..places).map(|p| format!("{digits} d{p}")).collect();
                format!(
                    "(SELECT {} + 1 AS i FROM {}) AS n",
                    terms.join(" + "),
                    tables.join(", ")
                )
            }
            _ => format!(
                "(WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < {n}) SELECT i FROM r) AS n"
            ),
        }
    }

    /// Inserts: (SQL, binds). Every value is computed from the row number, so a seed is the
    /// same on every engine and every time.
    fn data(engine: &str, users: i64) -> Vec<(String, Vec<&'static str>)> {
        let max = users * EVENTS_PER_USER.max(ORDERS_PER_USER);
        // Placeholders: the row count, then the number of users.
        let (count, users) = match engine {
            "postgres" => ("$1", "$2"),
            "mysql" => ("?", "?"),
            _ => ("?1", "?2"),
        };
        let limit = |table_rows: &str| match engine {
            // MySQL binds positionally: the user count comes first in the SELECT list, the
            // row count last in the WHERE.
            "mysql" => format!("{} WHERE n.i <= ?", numbers(engine, table_rows, max)),
            _ => numbers(engine, table_rows, max),
        };
        let (users_binds, rows_binds): (Vec<&'static str>, Vec<&'static str>) = match engine {
            "mysql" => (vec!["users"], vec!["users", "rows"]),
            _ => (vec!["users"], vec!["rows", "users"]),
        };
        vec![
            (
                format!(
                    "INSERT INTO users (id, country) SELECT n.i, CASE n.i % 4 WHEN 0 THEN 'DE' WHEN 1 THEN 'US' WHEN 2 THEN 'FR' ELSE 'JP' END FROM {}",
                    limit(count)
                ),
                users_binds,
            ),
            (
                format!(
                    "INSERT INTO events (id, user_id, amount) SELECT n.i, CASE WHEN n.i % 97 = 0 THEN NULL ELSE (n.i * 7919) % {users} + 1 END, (n.i * 31) % 1000 FROM {}",
                    limit(count)
                ),
                rows_binds.clone(),
            ),
            (
                format!(
                    "INSERT INTO orders (id, user_id, status, total_cents) SELECT n.i, (n.i * 13) % {users} + 1, CASE WHEN n.i % 5 = 0 THEN 'cancelled' ELSE 'paid' END, (n.i * 37) % 10000 FROM {}",
                    limit(count)
                ),
                rows_binds,
            ),
            // A user who already chose a theme: the write-once backfill leaves the row alone.
            (
                "INSERT INTO default_settings (user_id, theme, digest) VALUES (1, 'dark', 'never')"
                    .to_string(),
                vec![],
            ),
        ]
    }

    /// The bind values of one insert, by name.
    fn binds(names: &[&str], table: usize, users: i64) -> Vec<i64> {
        let rows = match table {
            1 => users * EVENTS_PER_USER,
            2 => users * ORDERS_PER_USER,
            _ => users,
        };
        names
            .iter()
            .map(|n| if *n == "rows" { rows } else { users })
            .collect()
    }

    /// Drops and recreates the demo schema on the URL's engine and fills it; returns the engine.
    pub async fn seed(url: &str, users: i64) -> Result<&'static str, String> {
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => {
                let pool = sqlx::PgPool::connect(url)
                    .await
                    .map_err(|e| e.to_string())?;
                fill(&pool, "postgres", users).await?;
                pool.close().await;
                Ok("PostgreSQL")
            }
            "mysql" | "mariadb" => {
                let url = url.replacen("mariadb:", "mysql:", 1);
                let pool = sqlx::MySqlPool::connect(&url)
                    .await
                    .map_err(|e| e.to_string())?;
                fill(&pool, "mysql", users).await?;
                pool.close().await;
                Ok("MySQL/MariaDB")
            }
            "sqlite" => {
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                    .map_err(|e| e.to_string())?
                    .create_if_missing(true)
                    // Readers (`status`) never wait for a running batch.
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
                let pool = sqlx::SqlitePool::connect_with(options)
                    .await
                    .map_err(|e| e.to_string())?;
                fill(&pool, "sqlite", users).await?;
                pool.close().await;
                Ok("SQLite")
            }
            other => Err(format!(
                "unknown scheme `{other}`: use postgres://, mysql://, mariadb:// or sqlite:"
            )),
        }
    }

    async fn fill<DB>(pool: &sqlx::Pool<DB>, engine: &str, users: i64) -> Result<(), String>
    where
        DB: sqlx::Database,
        for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
        <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
        i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        // The demo's own DDL and INSERTs, built per engine with every value bound: safe to
        // run, which sqlx asks code to assert for any SQL that is not a literal.
        for stmt in schema(engine) {
            sqlx::query::<DB>(sqlx::AssertSqlSafe(stmt.as_str()))
                .execute(pool)
                .await
                .map_err(|e| format!("{stmt}: {e}"))?;
        }
        for (table, (stmt, names)) in data(engine, users).into_iter().enumerate() {
            let mut query = sqlx::query::<DB>(sqlx::AssertSqlSafe(stmt.as_str()));
            for value in binds(&names, table, users) {
                query = query.bind(value);
            }
            query
                .execute(pool)
                .await
                .map_err(|e| format!("{stmt}: {e}"))?;
        }
        Ok(())
    }
}
