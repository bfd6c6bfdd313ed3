//! PostgreSQL: `$n` placeholders, `SET LOCAL` timeouts and custom plans per batch, SQLSTATE
//! classification, the `UntypedText` binding of key text and `pg_catalog` lookups: its
//! [`Driver`] and the [`EngineDatabase`](super::EngineDatabase) impl that makes `PgPool` a
//! `BackfillPool`.

use std::future::Future;

use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Connection, Postgres};

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

/// What one group of a hash aggregate takes in memory, about: 273 bytes measured for a
/// `bigint` key with `count(*)`, `sum(bigint)` and `max(timestamp)` (53 MB for 200,000
/// groups). A chunk's partials compare their groups with the hash memory by it
/// (`before_partials`).
const HASH_BYTES_PER_GROUP: u64 = 272;

/// The PostgreSQL driver.
pub(crate) struct PgEngine;

/// Text sent in the binary format of `text` (the same bytes for `varchar`, `bpchar`, `name`,
/// `citext` and enums' receive functions) under the type oid 0: "unspecified", resolved by
/// the server from the context.
pub(crate) struct UntypedText<'a>(pub(crate) &'a str);

impl sqlx::Type<Postgres> for UntypedText<'_> {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        sqlx::postgres::PgTypeInfo::with_oid(sqlx::postgres::types::Oid(0))
    }
}

impl sqlx::Encode<'_, Postgres> for UntypedText<'_> {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<Postgres>>::encode(self.0, buf)
    }
}

impl Driver for PgEngine {
    type Db = Postgres;
    /// `SET LOCAL` ends with the transaction: nothing to learn or restore.
    type Session = ();
    const ENGINE: Engine = Engine::Postgres;
    const DIALECT: Dialect = Dialect {
        counts_unchanged_rows: false,
        skip_unchanged_ranges: true,
        merge_batch_time: None,
        explain: "EXPLAIN ",
        row_lock: " FOR UPDATE",
        create_under_write_lock: false,
        numbered_params: true,
        table_options: "",
    };

    fn progress_type(kind: ProgressType) -> &'static str {
        match kind {
            ProgressType::KeyText | ProgressType::ShortText | ProgressType::Text => "TEXT",
            ProgressType::Int => "INTEGER",
            ProgressType::BigInt => "BIGINT",
            ProgressType::Time => "TIMESTAMPTZ",
        }
    }

    /// Key text bound with no declared type, so PostgreSQL gives the parameter the type of the key
    /// it is compared with: `citext_key > $1` then compares as `citext` (ignoring case, as the
    /// key's GROUP BY, ORDER BY and unique index do), where a `text` parameter would make it a
    /// case-sensitive `text` comparison and split one key's rows across two batches.
    fn bind_key_text<'q>(q: Query<'q, Postgres>, s: &str) -> Query<'q, Postgres> {
        q.bind(UntypedText(s))
    }

    /// PostgreSQL has no unsigned integers (and the derive refuses a `u64` field for it): a value
    /// beyond `i64` binds NULL, matches no key, and stops the run as making no progress.
    fn bind_uint(q: Query<'_, Postgres>, u: u64) -> Query<'_, Postgres> {
        q.bind(i64::try_from(u).ok())
    }

    fn decode_uint(row: &PgRow, i: usize) -> Result<Option<u64>, sqlx::Error> {
        use sqlx::Row as _;
        row.try_get::<Option<i64>, _>(i)?
            .map(|v| {
                u64::try_from(v).map_err(|e| sqlx::Error::ColumnDecode {
                    index: i.to_string(),
                    source: Box::new(e),
                })
            })
            .transpose()
    }

    fn rows_affected(result: &<Postgres as sqlx::Database>::QueryResult) -> u64 {
        result.rows_affected()
    }

    async fn session(_conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn begin_batch(
        conn: &mut PgConnection,
        _session: (),
        timeouts: Timeouts,
    ) -> Result<sqlx::Transaction<'_, Postgres>, sqlx::Error> {
        let mut tx = conn.begin().await?;
        // Plan every range for its own bounds. After five executions PostgreSQL may switch a
        // prepared statement to its generic plan, which assumes a fixed selectivity for
        // `key > $1 AND key <= $2`: for large ranges that is an index scan, measured 2.6x
        // slower than the custom bitmap-heap plan on a 100,000-key range of a 20M-row table
        // (BENCHMARKS.md). Planning a batch's statement costs well under a millisecond.
        sqlx::Executor::execute(&mut *tx, "SET LOCAL plan_cache_mode = force_custom_plan").await?;
        // Numbers only: the one place the runtime formats values into SQL.
        if let Some(t) = timeouts.statement {
            let sql = format!("SET LOCAL statement_timeout = '{}ms'", super::millis(t));
            sqlx::Executor::execute(&mut *tx, super::sql_text::setting(sql)).await?;
        }
        if let Some(t) = timeouts.lock {
            let sql = format!("SET LOCAL lock_timeout = '{}ms'", super::millis(t));
            sqlx::Executor::execute(&mut *tx, super::sql_text::setting(sql)).await?;
        }
        Ok(tx)
    }

    async fn before_partials(
        conn: &mut PgConnection,
        groups: Option<u64>,
    ) -> Result<(), sqlx::Error> {
        // PostgreSQL has no index hints. With a GROUP BY over more groups than work_mem holds,
        // it walks the index of the grouped key instead of hashing: the scattered read the scan
        // exists to avoid (measured on 1M of 2M events over 200,000 users: a GroupAggregate
        // over `events_user_id`). Plain index scans off leaves the chunk's primary-key range
        // to a bitmap scan, which reads its pages in stored order; 64MB lets the hash
        // aggregate of a chunk stay in memory (2.5 s against 1.6 s per chunk, measured). A
        // server or role that gives more keeps it.
        sqlx::Executor::execute(&mut *conn, "SET LOCAL enable_indexscan = off").await?;
        sqlx::Executor::execute(
            &mut *conn,
            "SELECT set_config('work_mem', '64MB', true) \
             WHERE pg_size_bytes(current_setting('work_mem')) < pg_size_bytes('64MB')",
        )
        .await?;
        // More groups than the hash memory holds: aggregate by sorting. A hash aggregate
        // that spills writes every group out and reads it back, and a parallel one does so in
        // every worker (each sees nearly every key); a sort spills in runs it merges once, and
        // its groups come out in key order, the order the staging table is written in. One
        // chunk of 20M events over 2M users: 12.0 s hashed against 7.1 s sorted with 2
        // parallel workers, 14.0 s against 9.1 s with none; a chunk of 2M events over 200,000
        // users, whose groups fit (53 MB), 0.84-0.87 s hashed against 0.96-1.03 s sorted.
        // PostgreSQL 12 has no `hash_mem_multiplier`: its hash memory is `work_mem`.
        if let Some(groups) = groups {
            let bytes = groups.saturating_mul(HASH_BYTES_PER_GROUP) as f64;
            sqlx::query(
                "SELECT set_config('enable_hashagg', 'off', true) \
                 WHERE $1 > pg_size_bytes(current_setting('work_mem')) \
                 * COALESCE(current_setting('hash_mem_multiplier', true), '1')::float8",
            )
            .bind(bytes)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    async fn end_batch(_conn: &mut PgConnection, _session: (), _timeouts: Timeouts) {
        // SET LOCAL ends with the transaction.
    }

    fn preflight<'a>(
        pool: &'a sqlx::Pool<Postgres>,
        def: &'static Definition,
        stmts: &'static Statements,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        preflight::check_postgres(pool, def, stmts)
    }

    fn classify(err: &sqlx::Error) -> ErrorClass {
        match err {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => ErrorClass::Transient,
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                match code.as_ref() {
                    // serialization failure, deadlock, lock timeout, too many connections,
                    // the server terminating or refusing the connection
                    "40001" | "40P01" | "55P03" | "53300" | "57P01" | "57P02" | "57P03" => {
                        ErrorClass::Transient
                    }
                    "57014" if db.message().contains("statement timeout") => {
                        ErrorClass::StatementTimeout
                    }
                    c if c.starts_with("08") => ErrorClass::Transient,
                    _ => ErrorClass::Permanent,
                }
            }
            _ => ErrorClass::Permanent,
        }
    }
    fn key_text_order<'c>(
        conn: &'c mut PgConnection,
        table: &'c TableName,
        column: &'c str,
    ) -> impl Future<Output = Result<Option<String>, sqlx::Error>> + Send + 'c {
        catalog::key_text_order(conn, table, column)
    }

    fn table_shape<'c>(
        conn: &'c mut PgConnection,
        table: &'c TableName,
    ) -> impl Future<Output = Result<Option<TableShape>, CatalogError>> + Send + 'c {
        catalog::read_table(conn, table)
    }

    fn coerce(expr: &str, column: &CatalogColumn) -> String {
        coerce::coerce(expr, column)
    }

    async fn explain<'c>(
        conn: &'c mut PgConnection,
        sql: &'c str,
        binds: &'c [Value],
    ) -> Result<String, sqlx::Error> {
        let sql = format!("{}{sql}", Self::DIALECT.explain);
        let rows = Self::fetch_all(conn, &sql, binds, &[DecodeAs::Text]).await?;
        Ok(rows
            .iter()
            .filter_map(|r| r[0].text().map(str::to_string))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    fn source_facts<'c>(
        conn: &'c mut PgConnection,
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

    /// The staging table is `UNLOGGED`: a crash truncates it.
    const STAGING_EMPTIED_BY_CRASH: bool = true;

    /// Vacuumed too, which marks its pages all-visible, so each merge range finds its keys from
    /// the key's index alone (the range bounds took 0.23 s of a 2M-event merge reading the
    /// table too, 0.12 s after the vacuum, which took 0.09 s).
    fn refresh_staging_statistics(table: &TableName) -> String {
        format!("VACUUM (ANALYZE) {}", Self::quote_table(table))
    }
}

impl super::EngineDatabase for Postgres {
    type Driver = PgEngine;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test server's URL; `None` (the test skipped) unless every engine is required.
    fn url() -> Option<String> {
        match std::env::var("BACKFILL_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ if std::env::var("BACKFILL_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1") => {
                panic!("BACKFILL_TEST_REQUIRE_ALL=1 but BACKFILL_TEST_POSTGRES_URL is not set")
            }
            _ => {
                eprintln!("\n*** SKIPPING PostgreSQL: BACKFILL_TEST_POSTGRES_URL is not set ***\n");
                None
            }
        }
    }

    /// Inside a batch every statement is planned for its range (`force_custom_plan`), and the
    /// setting ends with the batch's transaction.
    #[tokio::test]
    async fn a_batch_plans_each_range_for_its_own_bounds() {
        let Some(url) = url() else { return };
        let mut conn = PgConnection::connect(&url).await.unwrap();
        let mut tx = PgEngine::begin_batch(&mut conn, (), Timeouts::default())
            .await
            .unwrap();
        let inside: String = sqlx::query_scalar("SHOW plan_cache_mode")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        let after: String = sqlx::query_scalar("SHOW plan_cache_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            (inside.as_str(), after.as_str()),
            ("force_custom_plan", "auto")
        );
    }

    /// The setting `name` inside a chunk's transaction, after `before_partials(groups)`, and
    /// after the transaction.
    async fn in_a_chunk(conn: &mut PgConnection, name: &str, groups: Option<u64>) -> [String; 2] {
        let show = "SELECT current_setting($1)";
        let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
        PgEngine::before_partials(&mut tx, groups).await.unwrap();
        let inside: String = sqlx::query_scalar(show)
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        let after: String = sqlx::query_scalar(show)
            .bind(name)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        [inside, after]
    }

    /// A chunk's partials get at least 64MB of `work_mem`; a session (server, role) that gives
    /// more keeps it, and the chunk's setting ends with its transaction.
    #[tokio::test]
    async fn a_chunk_raises_work_mem_and_never_lowers_it() {
        let Some(url) = url() else { return };
        let mut conn = PgConnection::connect(&url).await.unwrap();
        let mut seen = Vec::new();
        for set in ["SET work_mem = '4MB'", "SET work_mem = '256MB'"] {
            sqlx::Executor::execute(&mut conn, set).await.unwrap();
            seen.push(in_a_chunk(&mut conn, "work_mem", None).await);
        }
        assert_eq!(seen, [["64MB", "4MB"], ["256MB", "256MB"]]);
    }

    /// A chunk of more groups than the hash memory holds is aggregated by sorting; one whose
    /// groups fit, or whose groups are not known, is left to the planner; the setting ends
    /// with the chunk's transaction. At the chunk's 64MB of `work_mem` (128MB of hash memory
    /// from PostgreSQL 13 on, 64MB on 12), 100,000 groups fit and 2,000,000 do not.
    #[tokio::test]
    async fn a_chunk_of_more_groups_than_memory_sorts() {
        let Some(url) = url() else { return };
        let mut conn = PgConnection::connect(&url).await.unwrap();
        sqlx::Executor::execute(&mut conn, "SET work_mem = '4MB'")
            .await
            .unwrap();
        let mut seen = Vec::new();
        for groups in [Some(2_000_000), Some(100_000), None] {
            seen.push((
                groups,
                in_a_chunk(&mut conn, "enable_hashagg", groups).await,
            ));
        }
        assert_eq!(
            seen,
            [
                (Some(2_000_000), ["off", "on"].map(String::from)),
                (Some(100_000), ["on", "on"].map(String::from)),
                (None, ["on", "on"].map(String::from)),
            ]
        );
    }
}
