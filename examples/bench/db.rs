//! The connection to the benchmarked engine: one pool per engine behind [`Db`], the `on_pool!`
//! macro that runs the same sqlx code on whichever pool it is, and the statements every scenario
//! needs (plain execution, one integer or text, the untimed quiesce between runs, PostgreSQL's
//! WAL position). Connecting creates and enters the benchmark's own namespace, never the tests'.

use std::path::Path;
use std::time::Duration;

use backfill::sqlx::mysql::MySqlPoolOptions;
use backfill::sqlx::postgres::PgPoolOptions;
use backfill::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use backfill::sqlx::{self, MySqlPool, PgPool, SqlitePool};
use backfill::Engine;

use crate::BoxError;

/// A connection pool of the benchmarked engine.
pub(crate) enum Db {
    Postgres(PgPool),
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$p` bound to the pool, whatever its engine (each arm is typed separately).
macro_rules! on_pool {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Postgres($p) => $body,
            $crate::db::Db::MySql($p) => $body,
            $crate::db::Db::Sqlite($p) => $body,
        }
    };
}

pub(crate) use on_pool;

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
    pub(crate) async fn connect(engine: Engine, dir: &Path) -> Result<Db, BoxError> {
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
    pub(crate) async fn exec_all(&self, script: &[&str]) -> sqlx::Result<()> {
        for sql in script {
            on_pool!(self, p => sqlx::raw_sql(sql).execute(p).await.map(|_| ()))?;
        }
        Ok(())
    }

    /// Runs a prepared statement binding integers; returns the affected rows.
    pub(crate) async fn exec(&self, sql: &str, binds: &[i64]) -> sqlx::Result<u64> {
        on_pool!(self, p => {
            let mut q = sqlx::query(sql);
            for b in binds {
                q = q.bind(*b);
            }
            q.execute(p).await.map(|r| r.rows_affected())
        })
    }

    pub(crate) async fn int(&self, sql: &str) -> sqlx::Result<i64> {
        on_pool!(self, p => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await)
    }

    pub(crate) async fn text(&self, sql: &str) -> sqlx::Result<String> {
        on_pool!(self, p => sqlx::query_scalar::<_, String>(sql).fetch_one(p).await)
    }

    /// Lets the server finish the previous figure's background work before a measured run:
    /// figures run in a fixed order, and each would otherwise pay for the writes of the one
    /// before it (measured on MariaDB: the first batches of the default run, right after the
    /// limit, took 2-3 times longer than later ones). PostgreSQL writes a `CHECKPOINT`; InnoDB
    /// flushes the benchmark tables' dirty pages and merges their buffered changes (`FLUSH
    /// TABLES ... FOR EXPORT`); SQLite checkpoints its WAL into the database file. Never timed.
    pub(crate) async fn quiesce(&self) -> sqlx::Result<()> {
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
    pub(crate) async fn wal_position(&self) -> sqlx::Result<Option<i64>> {
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

    pub(crate) async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}
