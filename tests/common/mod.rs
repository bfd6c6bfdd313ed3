//! The shared harness of the integration tests: yields every available engine, each in a
//! namespace of its own (a temp file on SQLite, a schema on PostgreSQL, a database on MariaDB),
//! so each scenario is written once, runs on all three, and tests run in parallel.
//!
//! `BACKFILL_TEST_POSTGRES_URL` and `BACKFILL_TEST_MYSQL_URL` name the servers; an engine whose
//! URL is unset is skipped with a loud message, and is a failure under
//! `BACKFILL_TEST_REQUIRE_ALL=1` (as `.ci/run` sets it).
#![allow(dead_code)]

pub mod scenario;
pub mod types;
pub mod worker;

use std::hash::{Hash, Hasher};

use backfill::{BackfillPool, Definition, Engine, Error, Report, RunOptions, VerifyReport};
use sqlx::{MySqlPool, PgPool};

/// SQL a test wrote itself (setup, damage, checks), as sqlx 0.9 takes a string that is not a
/// literal: identifiers come from the test's own names, never from data it reads.
pub fn test_sql(text: &str) -> sqlx::SqlStr {
    sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(text.to_string()))
}

/// A connection pool of one engine: the runtime's own "any engine" pool, so a scenario calls
/// `run_backfill`, `check`, ... once for every engine.
pub use backfill::AnyPool as Pool;

/// One engine, in a namespace of its own for this test.
pub struct Db {
    pub engine: Engine,
    pub pool: Pool,
    /// A URL that reaches the same namespace (for worker processes and the CLI).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

fn require_all() -> bool {
    std::env::var("BACKFILL_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// Whether the run includes `engine` (`sqlite`, `postgres`, `mysql`): all of them unless
/// `BACKFILL_TEST_ENGINES` lists some (`.ci/run` runs the suites again with
/// `BACKFILL_TEST_ENGINES=postgres` against other PostgreSQL majors). An engine left out is
/// neither run nor reported.
pub fn selected(engine: &str) -> bool {
    match std::env::var("BACKFILL_TEST_ENGINES") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .any(|e| e.trim().eq_ignore_ascii_case(engine)),
        _ => true,
    }
}

/// The URL in `var`, or `None` (skipped, loudly) when it is unset and not every engine is
/// required; `engine` names what is missing.
pub fn server_url(var: &str, engine: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if require_all() => {
            panic!("BACKFILL_TEST_REQUIRE_ALL=1 but {var} is not set: {engine} is required")
        }
        _ => {
            eprintln!(
                "\n*** SKIPPING {engine}: {var} is not set (set it, or run `bash .ci/run`) ***\n"
            );
            None
        }
    }
}

/// A name safe to use unquoted as a schema or database name.
fn namespace(test: &str) -> String {
    let clean: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("bft_{clean}")
}

/// Every available engine for the test named `test`, each in a fresh, empty namespace.
pub async fn engines(test: &str) -> Vec<Db> {
    let mut dbs = Vec::new();
    if selected("sqlite") {
        dbs.push(sqlite(test).await);
    }
    if let Some(db) = postgres(test).await {
        dbs.push(db);
    }
    if let Some(db) = mysql(test).await {
        dbs.push(db);
    }
    dbs
}

/// A fresh SQLite database in a temp file.
pub async fn sqlite(_test: &str) -> Db {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("test.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .expect("open a temp SQLite file");
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&pool)
        .await
        .expect("WAL mode");
    Db {
        engine: Engine::Sqlite,
        pool: Pool::Sqlite(pool),
        url,
        _dir: Some(dir),
    }
}

/// A fresh schema on the PostgreSQL server, first on the search path.
pub async fn postgres(test: &str) -> Option<Db> {
    if !selected("postgres") {
        return None;
    }
    let base = server_url("BACKFILL_TEST_POSTGRES_URL", "PostgreSQL")?;
    let schema = namespace(test);
    let admin = PgPool::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {base}: {e}"));
    sqlx::query(test_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
        .execute(&admin)
        .await
        .expect("drop the test schema");
    sqlx::query(test_sql(&format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("create the test schema");
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}%2Cpublic");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .expect("connect to the test schema");
    Some(Db {
        engine: Engine::Postgres,
        pool: Pool::Postgres(pool),
        url,
        _dir: None,
    })
}

/// A fresh database on the MariaDB server.
pub async fn mysql(test: &str) -> Option<Db> {
    mysql_on("BACKFILL_TEST_MYSQL_URL", "MariaDB", test).await
}

/// A fresh database on the MySQL/MariaDB server whose URL is in the variable `var` (`engine`
/// names it in the skip or require message).
pub async fn mysql_on(var: &str, engine: &str, test: &str) -> Option<Db> {
    if !selected("mysql") {
        return None;
    }
    let base = server_url(var, engine)?;
    let database = namespace(test);
    let admin = MySqlPool::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach MariaDB at {base}: {e}"));
    sqlx::query(test_sql(&format!("DROP DATABASE IF EXISTS {database}")))
        .execute(&admin)
        .await
        .expect("drop the test database");
    sqlx::query(test_sql(&format!("CREATE DATABASE {database}")))
        .execute(&admin)
        .await
        .expect("create the test database");
    admin.close().await;
    let root = base.rsplit_once('/').map(|(root, _)| root).unwrap_or(&base);
    let url = format!("{root}/{database}");
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .expect("connect to the test database");
    Some(Db {
        engine: Engine::MySql,
        pool: Pool::MySql(pool),
        url,
        _dir: None,
    })
}

impl Db {
    /// `sqlite`, `postgres` or `mysql`, for messages.
    pub fn name(&self) -> &'static str {
        self.engine.name()
    }

    /// Runs one statement with no parameters (setup and damage).
    pub async fn exec(&self, sql: &str) -> u64 {
        self.try_exec(sql)
            .await
            .unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.name()))
    }

    /// Runs one statement with no parameters; its error, when the engine refuses it.
    pub async fn try_exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
        match &self.pool {
            Pool::Sqlite(p) => sqlx::query(test_sql(sql))
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            Pool::Postgres(p) => sqlx::query(test_sql(sql))
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            Pool::MySql(p) => sqlx::query(test_sql(sql))
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
        }
    }

    /// Runs several `;`-separated statements (none may contain a `;` in a literal).
    pub async fn exec_all(&self, script: &str) {
        for stmt in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            self.exec(stmt).await;
        }
    }

    /// A single integer (a count) from a query with no parameters.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let result = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_scalar::<_, i64>(test_sql(sql))
                    .fetch_one(p)
                    .await
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar::<_, i64>(test_sql(sql))
                    .fetch_one(p)
                    .await
            }
            Pool::MySql(p) => {
                sqlx::query_scalar::<_, i64>(test_sql(sql))
                    .fetch_one(p)
                    .await
            }
        };
        result.unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.name()))
    }

    /// Text rows from a query that selects one text column.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        let result = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_scalar::<_, String>(test_sql(sql))
                    .fetch_all(p)
                    .await
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar::<_, String>(test_sql(sql))
                    .fetch_all(p)
                    .await
            }
            Pool::MySql(p) => {
                sqlx::query_scalar::<_, String>(test_sql(sql))
                    .fetch_all(p)
                    .await
            }
        };
        result.unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.name()))
    }

    /// Quotes an identifier for this engine.
    pub fn quote(&self, ident: &str) -> String {
        self.engine.quote_ident(ident)
    }

    /// A checksum of the whole table, rows ordered by `order_by`: every column rendered as text
    /// (NULL as a marker), hashed in order. Returns (rows, hash).
    pub async fn checksum(&self, table: &str, columns: &[&str], order_by: &[&str]) -> (usize, u64) {
        let text = match self.engine {
            Engine::MySql => "CHAR",
            _ => "TEXT",
        };
        let cells: Vec<String> = columns
            .iter()
            .map(|c| format!("COALESCE(CAST({} AS {text}), '<null>')", self.quote(c)))
            .collect();
        let concat = match self.engine {
            Engine::MySql => format!("CONCAT_WS('|', {})", cells.join(", ")),
            _ => cells.join(" || '|' || "),
        };
        let order: Vec<String> = order_by.iter().map(|c| self.quote(c)).collect();
        let sql = format!(
            "SELECT {concat} FROM {} ORDER BY {}",
            self.quote(table),
            order.join(", ")
        );
        let rows = self.strings(&sql).await;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        rows.hash(&mut hasher);
        (rows.len(), hasher.finish())
    }

    /// Runs the backfill `def` on this engine.
    pub async fn run(
        &self,
        def: &'static Definition,
        options: RunOptions,
    ) -> Result<Report, Error> {
        self.pool.run_backfill(def, options).await
    }

    /// Preflight of `def` on this engine.
    pub async fn check(&self, def: &'static Definition) -> Result<(), Error> {
        self.pool.check(def).await
    }

    /// Verify of `def` on this engine.
    pub async fn verify(&self, def: &'static Definition) -> Result<VerifyReport, Error> {
        self.pool.verify(def).await
    }

    /// The job's progress row.
    pub async fn status(
        &self,
        def: &'static Definition,
        options: &RunOptions,
    ) -> Result<Option<backfill::JobStatus>, Error> {
        self.pool.status(def, options).await
    }

    /// Forgets the job's progress.
    pub async fn reset(
        &self,
        def: &'static Definition,
        options: &RunOptions,
    ) -> Result<bool, Error> {
        self.pool.reset(def, options).await
    }

    /// What a run would do.
    pub async fn plan(
        &self,
        def: &'static Definition,
        options: &RunOptions,
    ) -> Result<backfill::Plan, Error> {
        self.pool.plan(def, options).await
    }

    /// A lag probe that reads `SELECT seconds FROM fake_lag` on this engine (a table the test
    /// creates and updates).
    pub fn lag_probe(&self) -> backfill::throttle::QueryLag {
        let query = "SELECT seconds FROM fake_lag";
        backfill::throttle::QueryLag::new(self.pool.clone(), query)
    }

    /// A throttle query on this engine: `SELECT flag <> 0 FROM busy`.
    pub fn throttle_query(&self) -> backfill::throttle::ThrottleQuery {
        let query = "SELECT flag <> 0 FROM busy";
        backfill::throttle::ThrottleQuery::new(self.pool.clone(), query)
    }

    /// Empties `table` and fills it with the definition's single-statement recompute (the
    /// article's `INSERT ... SELECT ... GROUP BY ... ON CONFLICT`), the reference result.
    pub async fn recompute_all(&self, def: &'static Definition, table: &str) {
        self.exec(&format!("DELETE FROM {}", self.quote(table)))
            .await;
        let stmts = def
            .statements(self.engine)
            .unwrap_or_else(|| panic!("{} has no {} statements", def.name, self.name()));
        assert!(
            stmts.upsert_all.params.is_empty(),
            "upsert_all binds nothing"
        );
        let sql = self.pool.executable_sql(def, &stmts.upsert_all).await;
        let sql = sql.unwrap_or_else(|e| panic!("{}: the single statement: {e}", self.name()));
        self.exec(&sql).await;
    }

    /// A progress-table integer column of a job.
    pub async fn progress_i64(&self, column: &str, job: &str) -> i64 {
        let sql = format!(
            "SELECT {} FROM backfill_progress WHERE job = '{}'",
            self.quote(column),
            job.replace('\'', "''")
        );
        self.scalar(&sql).await
    }

    /// The sum of a progress-table integer column over every shard of a job.
    pub async fn shard_sum(&self, column: &str, job: &str) -> i64 {
        let int = if self.engine == Engine::MySql {
            "SIGNED"
        } else {
            "BIGINT"
        };
        self.scalar(&format!(
            "SELECT CAST(COALESCE(SUM({}), 0) AS {int}) FROM backfill_progress WHERE job = '{}'",
            self.quote(column),
            job.replace('\'', "''")
        ))
        .await
    }

    /// A job's shards, and how many of them are done.
    pub async fn shard_counts(&self, job: &str) -> (i64, i64) {
        let job = job.replace('\'', "''");
        let all = self
            .scalar(&format!(
                "SELECT count(*) FROM backfill_progress WHERE job = '{job}'"
            ))
            .await;
        let done = self
            .scalar(&format!(
                "SELECT count(*) FROM backfill_progress WHERE job = '{job}' AND status = 'done'"
            ))
            .await;
        (all, done)
    }
}

/// Asserts that `error`'s message names every one of `parts` (a table, a column, the fix).
pub fn assert_mentions(db: &Db, error: &Error, parts: &[&str]) {
    let message = error.to_string();
    for part in parts {
        assert!(
            message.contains(part),
            "{}: the error should mention {part:?}: {message}",
            db.name()
        );
    }
}

/// Runs `sql` in a transaction of another connection and keeps it open (on SQLite, a write
/// transaction: the whole database is locked).
pub async fn hold_in_transaction(db: &Db, sql: &str) -> LockHolder {
    match &db.pool {
        Pool::Postgres(p) => {
            let mut tx = p.begin().await.unwrap();
            sqlx::query(test_sql(sql)).execute(&mut *tx).await.unwrap();
            LockHolder::Pg(tx)
        }
        Pool::MySql(p) => {
            let mut tx = p.begin().await.unwrap();
            sqlx::query(test_sql(sql)).execute(&mut *tx).await.unwrap();
            LockHolder::MySql(tx)
        }
        Pool::Sqlite(p) => {
            let mut conn = p.acquire().await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut *conn)
                .await
                .unwrap();
            sqlx::query(test_sql(sql))
                .execute(&mut *conn)
                .await
                .unwrap();
            LockHolder::Sqlite(conn)
        }
    }
}

pub enum LockHolder {
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
}

impl LockHolder {
    /// Commits the held transaction: what it wrote becomes visible.
    pub async fn commit(self) {
        match self {
            LockHolder::Pg(tx) => tx.commit().await.unwrap(),
            LockHolder::MySql(tx) => tx.commit().await.unwrap(),
            LockHolder::Sqlite(mut conn) => {
                sqlx::query("COMMIT").execute(&mut *conn).await.unwrap();
            }
        }
    }

    /// Rolls the held transaction back.
    pub async fn release(self) {
        match self {
            LockHolder::Pg(tx) => tx.rollback().await.unwrap(),
            LockHolder::MySql(tx) => tx.rollback().await.unwrap(),
            LockHolder::Sqlite(mut conn) => {
                sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
            }
        }
    }
}
