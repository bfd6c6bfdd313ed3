//! MySQL/MariaDB: `?` placeholders, session timeouts (MariaDB `max_statement_time`, MySQL 8
//! `max_execution_time`), batches at READ COMMITTED (the source is read without locks),
//! error-number classification and `information_schema` lookups: its [`Driver`] and the
//! [`EngineDatabase`](super::EngineDatabase) impl that makes `MySqlPool` a `BackfillPool`.

use std::future::Future;

use sqlx::mysql::{MySqlConnection, MySqlDatabaseError, MySqlRow};
use sqlx::{Column as _, Connection, MySql, Row as _, TypeInfo as _};

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
pub(crate) mod lag;
pub(crate) mod preflight;

/// The MySQL/MariaDB driver.
pub(crate) struct MySqlEngine;

/// What a run learns about a MySQL/MariaDB server once, for every batch's session settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MySqlSession {
    /// The server is MariaDB: its statement timeout is `max_statement_time` (seconds), not
    /// MySQL's `max_execution_time` (milliseconds).
    pub mariadb: bool,
    /// Batches run at READ COMMITTED, so `INSERT ... SELECT` reads the source without locking
    /// it (false only when a statement-based binary log forbids it).
    pub read_committed: bool,
    /// The server has `FOR UPDATE SKIP LOCKED` (MariaDB 10.6+, MySQL 8.0.1+), which several
    /// workers on one job need.
    pub skip_locked: bool,
}

/// Whether a server of this `VERSION()` has `SKIP LOCKED`.
fn has_skip_locked(version: &str) -> bool {
    let mut numbers = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor, patch) = (
        numbers.next().unwrap_or(0),
        numbers.next().unwrap_or(0),
        numbers.next().unwrap_or(0),
    );
    if version.contains("MariaDB") {
        (major, minor) >= (10, 6)
    } else {
        (major, minor, patch) >= (8, 0, 1)
    }
}

/// One cell of an EXPLAIN row as text, whatever its type.
fn cell_text(row: &MySqlRow, i: usize) -> String {
    let type_name = row.columns()[i].type_info().name().to_ascii_uppercase();
    let text = if type_name.contains("INT") {
        if type_name.contains("UNSIGNED") {
            row.try_get_unchecked::<Option<u64>, _>(i)
                .ok()
                .flatten()
                .map(|v| v.to_string())
        } else {
            row.try_get_unchecked::<Option<i64>, _>(i)
                .ok()
                .flatten()
                .map(|v| v.to_string())
        }
    } else if type_name.contains("DOUBLE") || type_name.contains("FLOAT") {
        row.try_get_unchecked::<Option<f64>, _>(i)
            .ok()
            .flatten()
            .map(|v| v.to_string())
    } else {
        row.try_get_unchecked::<Option<String>, _>(i).ok().flatten()
    };
    text.unwrap_or_else(|| "NULL".to_string())
}

/// Whole seconds, at least 1 (`innodb_lock_wait_timeout` takes no fraction).
fn whole_seconds(d: std::time::Duration) -> u64 {
    (d.as_secs_f64().ceil() as u64).max(1)
}

impl Driver for MySqlEngine {
    type Db = MySql;
    type Session = MySqlSession;
    const ENGINE: Engine = Engine::MySql;
    const DIALECT: Dialect = Dialect {
        counts_unchanged_rows: true,
        skip_unchanged_ranges: false,
        merge_batch_time: Some(std::time::Duration::from_millis(25)),
        explain: "EXPLAIN ",
        row_lock: " FOR UPDATE",
        create_under_write_lock: false,
        numbered_params: false,
        // Its own character set, whatever the database's default: a latin1 default could not
        // store a cursor or job name outside latin1 (error 1366).
        table_options: " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    };

    fn progress_type(kind: ProgressType) -> &'static str {
        match kind {
            ProgressType::KeyText => "VARCHAR(191)",
            ProgressType::ShortText => "VARCHAR(32)",
            // Any key a target can hold, as JSON (TEXT stops at 65,535 bytes: error 1406).
            ProgressType::Text => "LONGTEXT",
            ProgressType::Int => "INT",
            ProgressType::BigInt => "BIGINT",
            ProgressType::Time => "DATETIME(6)",
        }
    }

    fn insert_if_missing_suffix() -> String {
        // Not INSERT IGNORE, which would also turn real errors into warnings.
        " ON DUPLICATE KEY UPDATE `job` = `job`".to_string()
    }

    /// Key text compares with the key column's own collation (a bound string is coercible).
    fn bind_key_text<'q>(q: Query<'q, MySql>, s: &str) -> Query<'q, MySql> {
        q.bind(s)
    }

    fn bind_uint(q: Query<'_, MySql>, u: u64) -> Query<'_, MySql> {
        q.bind(u)
    }

    fn decode_uint(row: &MySqlRow, i: usize) -> Result<Option<u64>, sqlx::Error> {
        row.try_get::<Option<u64>, _>(i)
    }

    fn rows_affected(result: &<MySql as sqlx::Database>::QueryResult) -> u64 {
        result.rows_affected()
    }

    /// A progress table of an older version has a `TEXT` cursor in the database's default
    /// charset: a latin1 default cannot store a key outside latin1 (error 1366) and `TEXT`
    /// stops at 65,535 bytes (error 1406). Converted once, in place.
    async fn upgrade_progress_table<'c>(
        conn: &'c mut MySqlConnection,
        quoted: &'c str,
        table: &'c TableName,
    ) -> Result<(), sqlx::Error> {
        let shape = catalog::read_table(conn, table)
            .await
            .map_err(|e| e.source)?;
        let current = shape
            .as_ref()
            .and_then(|shape| {
                shape
                    .columns
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case("cursor"))
            })
            .map(|c| {
                (
                    c.base_type == "longtext",
                    c.charset.as_deref() == Some("utf8mb4"),
                )
            });
        if matches!(current, Some((true, true)) | None) {
            return Ok(());
        }
        let alter = format!(
            "ALTER TABLE {quoted} CONVERT TO CHARACTER SET utf8mb4, \
             MODIFY `cursor` LONGTEXT CHARACTER SET utf8mb4 NULL"
        );
        Self::execute(conn, &alter, &[]).await.map(drop)
    }

    async fn session(conn: &mut MySqlConnection) -> Result<MySqlSession, sqlx::Error> {
        let rows = Self::fetch_all(conn, "SELECT VERSION()", &[], &[DecodeAs::Text]).await?;
        let version = rows.first().and_then(|r| r[0].text()).unwrap_or_default();
        // InnoDB refuses to write a statement-based binary log at READ COMMITTED (error 1665);
        // there the batches keep the session's level. A server without these variables
        // (`binlog_format` is deprecated in MySQL 8) logs rows.
        let binlog = match Self::fetch_all(
            conn,
            "SELECT CAST(@@log_bin AS CHAR), CAST(@@binlog_format AS CHAR)",
            &[],
            &[DecodeAs::Text, DecodeAs::Text],
        )
        .await
        {
            Ok(rows) => rows,
            // ER_UNKNOWN_SYSTEM_VARIABLE
            Err(sqlx::Error::Database(e))
                if e.try_downcast_ref::<MySqlDatabaseError>()
                    .is_some_and(|e| e.number() == 1193) =>
            {
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let statement_binlog = binlog.into_iter().next().is_some_and(|row| {
            matches!(row[0].text(), Some("1" | "ON"))
                && row[1]
                    .text()
                    .is_some_and(|f| f.eq_ignore_ascii_case("STATEMENT"))
        });
        Ok(MySqlSession {
            mariadb: version.contains("MariaDB"),
            read_committed: !statement_binlog,
            skip_locked: has_skip_locked(version),
        })
    }

    async fn begin_batch(
        conn: &mut MySqlConnection,
        session: MySqlSession,
        timeouts: Timeouts,
    ) -> Result<sqlx::Transaction<'_, MySql>, sqlx::Error> {
        // Numbers only: the one place the runtime formats values into SQL. Session variables,
        // restored by end_batch.
        if let Some(t) = timeouts.lock {
            let sql = format!(
                "SET SESSION innodb_lock_wait_timeout = {}",
                whole_seconds(t)
            );
            sqlx::Executor::execute(&mut *conn, super::sql_text::setting(sql)).await?;
        }
        if let Some(t) = timeouts.statement {
            let sql = if session.mariadb {
                format!("SET SESSION max_statement_time = {:.3}", t.as_secs_f64())
            } else {
                format!("SET SESSION max_execution_time = {}", super::millis(t))
            };
            sqlx::Executor::execute(&mut *conn, super::sql_text::setting(sql)).await?;
        }
        if session.read_committed {
            // The next transaction only: nothing to restore. At the default REPEATABLE READ,
            // InnoDB's INSERT ... SELECT takes shared next-key locks on every source row and
            // gap it reads, so the application's writes to the source would wait for the batch.
            sqlx::Executor::execute(&mut *conn, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                .await?;
        }
        conn.begin().await
    }

    async fn end_batch(conn: &mut MySqlConnection, session: MySqlSession, timeouts: Timeouts) {
        if timeouts.lock.is_some() {
            let _ = sqlx::Executor::execute(
                &mut *conn,
                "SET SESSION innodb_lock_wait_timeout = DEFAULT",
            )
            .await;
        }
        if timeouts.statement.is_some() {
            let sql = if session.mariadb {
                "SET SESSION max_statement_time = DEFAULT"
            } else {
                "SET SESSION max_execution_time = DEFAULT"
            };
            let _ = sqlx::Executor::execute(&mut *conn, sql).await;
        }
    }

    fn preflight<'a>(
        pool: &'a sqlx::Pool<MySql>,
        def: &'static Definition,
        stmts: &'static Statements,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        preflight::check_mysql(pool, def, stmts)
    }

    fn classify(err: &sqlx::Error) -> ErrorClass {
        match err {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => ErrorClass::Transient,
            sqlx::Error::Database(db) => match db.try_downcast_ref::<MySqlDatabaseError>() {
                Some(e) => match e.number() {
                    // lock wait timeout, deadlock, too many connections, server shutdown,
                    // network errors, connection killed, server gone / lost, disconnected
                    1205 | 1213 | 1040 | 1053 | 1158..=1161 | 1927 | 2006 | 2013 | 4031 => {
                        ErrorClass::Transient
                    }
                    // MariaDB max_statement_time, MySQL max_execution_time
                    1969 | 3024 => ErrorClass::StatementTimeout,
                    _ => ErrorClass::Permanent,
                },
                None => ErrorClass::Permanent,
            },
            _ => ErrorClass::Permanent,
        }
    }
    fn key_text_order<'c>(
        conn: &'c mut MySqlConnection,
        table: &'c TableName,
        column: &'c str,
    ) -> impl Future<Output = Result<Option<String>, sqlx::Error>> + Send + 'c {
        catalog::key_text_order(conn, table, column)
    }

    fn skip_locked(session: MySqlSession) -> bool {
        session.skip_locked
    }

    fn table_shape<'c>(
        conn: &'c mut MySqlConnection,
        table: &'c TableName,
    ) -> impl Future<Output = Result<Option<TableShape>, CatalogError>> + Send + 'c {
        catalog::read_table(conn, table)
    }

    fn coerce(expr: &str, column: &CatalogColumn) -> String {
        coerce::coerce(expr, column)
    }

    async fn explain<'c>(
        conn: &'c mut MySqlConnection,
        sql: &'c str,
        binds: &'c [Value],
    ) -> Result<String, sqlx::Error> {
        let sql = format!("{}{sql}", Self::DIALECT.explain);
        let rows = super::io::query::<Self>(&sql, binds)
            .fetch_all(&mut *conn)
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                row.columns()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{}={}", c.name(), cell_text(row, i)))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n"))
    }

    fn source_facts<'c>(
        conn: &'c mut MySqlConnection,
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

    fn index_hint(index: &str) -> Option<String> {
        Some(access::index_hint(index))
    }

    fn covering_index_ddl(
        table: &TableName,
        name: &str,
        key: &[String],
        include: &[String],
    ) -> (Vec<String>, String) {
        access::covering_index_ddl(table, name, key, include)
    }

    const BIGINT_CAST: &'static str = "SIGNED";

    fn refresh_staging_statistics(table: &TableName) -> String {
        format!("ANALYZE TABLE {}", Self::quote_table(table))
    }
}

impl super::EngineDatabase for MySql {
    type Driver = MySqlEngine;
}

#[cfg(test)]
mod tests {
    use super::has_skip_locked;

    #[test]
    fn skip_locked_comes_with_mariadb_10_6_and_mysql_8() {
        assert!(has_skip_locked("10.11.6-MariaDB-0+deb12u1"));
        assert!(has_skip_locked("10.6.0-MariaDB"));
        assert!(has_skip_locked("11.4.2-MariaDB-log"));
        assert!(!has_skip_locked("10.5.23-MariaDB"));
        assert!(has_skip_locked("8.0.36"));
        assert!(has_skip_locked("8.4.0-commercial"));
        assert!(!has_skip_locked("8.0.0-dmr"));
        assert!(!has_skip_locked("5.7.44-log"));
    }
}
