//! SQLite: `BEGIN IMMEDIATE` batches (the write lock is the progress row's lock), the busy
//! timeout as the lock timeout, extended result codes and `pragma_*` lookups: its [`Driver`]
//! and the [`EngineDatabase`](super::EngineDatabase) impl that makes `SqlitePool` a
//! `BackfillPool`.

use std::future::Future;

use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{Connection, Sqlite};

use super::io::Query;
use super::{
    CatalogColumn, CatalogError, DecodeAs, Dialect, Driver, ErrorClass, ProgressType, SourceFacts,
    SourceProbe, TableName, TableShape, Timeouts, Value,
};
use crate::access::ReadAccess;
use crate::definition::{Definition, Engine, Statements};
use crate::error::Error;

mod access;
mod catalog;
mod coerce;
pub(crate) mod connect;
pub(crate) mod preflight;

/// The SQLite driver.
pub(crate) struct SqliteEngine;

/// What a run learns about a SQLite connection once: the busy timeout a batch that sets its
/// own lock timeout restores afterwards.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SqliteSession {
    /// The connections' busy timeout in milliseconds, if the pragma reported one.
    pub busy_timeout_ms: Option<i64>,
}

impl Driver for SqliteEngine {
    type Db = Sqlite;
    type Session = SqliteSession;
    const ENGINE: Engine = Engine::Sqlite;
    const DIALECT: Dialect = Dialect {
        counts_unchanged_rows: false,
        skip_unchanged_ranges: false,
        merge_batch_time: None,
        explain: "EXPLAIN QUERY PLAN ",
        row_lock: "",
        create_under_write_lock: true,
        numbered_params: false,
        table_options: "",
    };

    fn progress_type(kind: ProgressType) -> &'static str {
        match kind {
            // SQLite stores by value, not by declared type: these only name the affinity.
            ProgressType::KeyText
            | ProgressType::ShortText
            | ProgressType::Text
            | ProgressType::Time => "TEXT",
            ProgressType::Int | ProgressType::BigInt => "INTEGER",
        }
    }

    /// Key text compares with the key column's own collation (a bound value has none).
    fn bind_key_text<'q>(q: Query<'q, Sqlite>, s: &str) -> Query<'q, Sqlite> {
        q.bind(s)
    }

    /// SQLite integers are 64-bit signed, so an unsigned key read from it always fits; one that
    /// did not would bind NULL, match no key, and stop the run as making no progress.
    fn bind_uint(q: Query<'_, Sqlite>, u: u64) -> Query<'_, Sqlite> {
        q.bind(i64::try_from(u).ok())
    }

    fn decode_uint(row: &SqliteRow, i: usize) -> Result<Option<u64>, sqlx::Error> {
        use sqlx::Row as _;
        row.try_get::<Option<u64>, _>(i)
    }

    fn rows_affected(result: &<Sqlite as sqlx::Database>::QueryResult) -> u64 {
        result.rows_affected()
    }

    /// One writer for the whole database: there is nothing to skip to.
    fn skip_locked(_session: SqliteSession) -> bool {
        false
    }

    async fn session(conn: &mut SqliteConnection) -> Result<SqliteSession, sqlx::Error> {
        let rows = Self::fetch_all(conn, "PRAGMA busy_timeout", &[], &[DecodeAs::Int]).await?;
        Ok(SqliteSession {
            busy_timeout_ms: rows.first().and_then(|r| r[0].int()),
        })
    }

    async fn begin_batch(
        conn: &mut SqliteConnection,
        _session: SqliteSession,
        timeouts: Timeouts,
    ) -> Result<sqlx::Transaction<'_, Sqlite>, sqlx::Error> {
        // The lock timeout is how long BEGIN IMMEDIATE waits for another writer. SQLite has no
        // statement timeout; `timeouts.statement` does not apply.
        if let Some(t) = timeouts.lock {
            let sql = format!("PRAGMA busy_timeout = {}", super::millis(t));
            sqlx::Executor::execute(&mut *conn, super::sql_text::setting(sql)).await?;
        }
        conn.begin_with("BEGIN IMMEDIATE").await
    }

    async fn end_batch(conn: &mut SqliteConnection, session: SqliteSession, timeouts: Timeouts) {
        if let (Some(_), Some(ms)) = (timeouts.lock, session.busy_timeout_ms) {
            let sql = format!("PRAGMA busy_timeout = {ms}");
            let _ = sqlx::Executor::execute(&mut *conn, super::sql_text::setting(sql)).await;
        }
    }

    fn preflight<'a>(
        pool: &'a sqlx::Pool<Sqlite>,
        def: &'static Definition,
        stmts: &'static Statements,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        preflight::check_sqlite(pool, def, stmts)
    }

    fn classify(err: &sqlx::Error) -> ErrorClass {
        match err {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => ErrorClass::Transient,
            // A pooled connection whose BEGIN was acknowledged to a caller that had been dropped
            // still counts as inside a transaction; the failed attempt closes it, a retry gets
            // another connection.
            sqlx::Error::InvalidSavePointStatement | sqlx::Error::WorkerCrashed => {
                ErrorClass::Transient
            }
            sqlx::Error::Database(db) => {
                // Extended result codes: the primary code is the low byte.
                let code = db
                    .code()
                    .and_then(|c| c.parse::<i64>().ok())
                    .unwrap_or_default();
                match code & 0xff {
                    5 | 6 => ErrorClass::Transient, // SQLITE_BUSY, SQLITE_LOCKED
                    _ => ErrorClass::Permanent,
                }
            }
            _ => ErrorClass::Permanent,
        }
    }

    fn table_shape<'c>(
        conn: &'c mut SqliteConnection,
        table: &'c TableName,
    ) -> impl Future<Output = Result<Option<TableShape>, CatalogError>> + Send + 'c {
        catalog::read_table(conn, table)
    }

    fn coerce(expr: &str, column: &CatalogColumn) -> String {
        coerce::coerce(expr, column)
    }

    async fn explain<'c>(
        conn: &'c mut SqliteConnection,
        sql: &'c str,
        binds: &'c [Value],
    ) -> Result<String, sqlx::Error> {
        let sql = format!("{}{sql}", Self::DIALECT.explain);
        // An EXPLAIN QUERY PLAN runs no bytecode, so it never checks the connection's schema
        // against the database's: after another connection created an index, it would print
        // the plan of before. A statement that runs reloads a changed schema first; and the
        // EXPLAIN is not cached, so it is planned again each time.
        sqlx::Executor::fetch_all(
            &mut *conn,
            sqlx::query("SELECT 1 FROM sqlite_schema LIMIT 1").persistent(false),
        )
        .await?;
        let query = super::io::query::<Self>(&sql, binds).persistent(false);
        let cols = [DecodeAs::Int, DecodeAs::Int, DecodeAs::Int, DecodeAs::Text];
        let rows = <Sqlite as super::io::SqlxIo>::fetch_rows(conn, query)
            .await?
            .iter()
            .map(|r| super::io::decode::<Self>(r, &cols))
            .collect::<Result<Vec<_>, _>>()?;
        // Indent each step under its parent.
        let mut depth: Vec<(i64, usize)> = Vec::new();
        let mut lines = Vec::new();
        for row in &rows {
            let id = row[0].int().unwrap_or_default();
            let parent = row[1].int().unwrap_or_default();
            let level = depth
                .iter()
                .find(|(pid, _)| *pid == parent)
                .map_or(0, |(_, l)| l + 1);
            depth.push((id, level));
            lines.push(format!(
                "{}{}",
                "  ".repeat(level),
                row[3].text().unwrap_or_default()
            ));
        }
        Ok(lines.join("\n"))
    }

    fn source_facts<'c>(
        conn: &'c mut SqliteConnection,
        probe: &'c SourceProbe<'c>,
    ) -> impl Future<Output = Result<SourceFacts, sqlx::Error>> + Send + 'c {
        access::source_facts(conn, probe)
    }

    fn read_access(explain: &str, table: &str, alias: Option<&str>) -> ReadAccess {
        access::read_access(explain, table, alias)
    }

    fn unused_covering_index_hint(table: &TableName, index: &str) -> String {
        access::unused_covering_index_hint(table, index)
    }

    fn covering_index_ddl(
        table: &TableName,
        name: &str,
        key: &[String],
        include: &[String],
    ) -> (Vec<String>, String) {
        access::covering_index_ddl(table, name, key, include)
    }

    /// One writer for the whole database file.
    const ONE_WRITER: bool = true;

    fn refresh_staging_statistics(table: &TableName) -> String {
        format!("ANALYZE {}", Self::quote_table(table))
    }

    /// SQLite's type affinity: any declared type containing `int` stores integers.
    fn integer_type(base_type: &str) -> bool {
        base_type.contains("int")
    }

    fn row_id() -> Option<&'static str> {
        Some("rowid")
    }
}

impl super::EngineDatabase for Sqlite {
    type Driver = SqliteEngine;
}
