//! Everything that differs per engine, behind one trait ([`Driver`], with its
//! [`Driver::Session`]): binding unsigned integers and key text, opening a batch transaction
//! with its timeouts, classifying errors ([`ErrorClass`]), the progress table's DDL, the
//! catalog and preflight. The batch loop, the progress store, verify and plan are written once
//! against this trait, and `pool.rs` implements `BackfillPool` once for every
//! `sqlx::Pool<DB>` whose database is an [`EngineDatabase`].
//!
//! The files shared by every engine:
//!
//! - `mod.rs`: the [`Driver`] trait, [`Dialect`], [`ErrorClass`], [`BatchConnection`] and the
//!   helpers on keys, ranges and placeholders;
//! - `io.rs`: [`Value`] and [`DecodeAs`], bound and decoded once, generic over
//!   `sqlx::Database` ([`io::SqlxIo`]);
//! - `catalog.rs`: what every catalog reader returns ([`TableShape`], [`CatalogError`]) and the
//!   one [`TableName`];
//! - `plan.rs`: the dry run (`BackfillPool::plan`);
//! - `sql_text.rs`: the one door for SQL text built at run time into sqlx.
//!
//! Each engine has a folder with the same files (sqlx's way: knowing one driver is knowing
//! where everything is in the others):
//!
//! - `mod.rs`: its driver (the [`Driver`] and [`EngineDatabase`] impls, its session type);
//! - `access.rs`: what it knows about the source of the range reads for `plan` and `check`
//!   (size against its cache, stored order, how its EXPLAIN reaches the table) and its online
//!   DDL of a covering index; the analysis itself is engine-agnostic (`crate::access`);
//! - `catalog.rs`: its one catalog reader, for the progress table, the holes' coercion,
//!   preflight and the source's size and statistics;
//! - `coerce.rs`: its casts for comparing a recomputed value with a stored one;
//! - `connect.rs`: its connection options, read from a URL (the command line's
//!   `cli/connect.rs` picks the engine and opens the pool);
//! - `lag.rs`: its replica-lag probes, re-exported from [`crate::throttle`];
//! - `preflight.rs`: its catalog checks before the first write (the rules they share are in
//!   `crate::preflight`).
//!
//! SQLite has no `lag.rs`: it has no replicas, so there is nothing to probe (the command line
//! refuses `--replica-url` for it; `QueryLag` and `ThrottleQuery` in `throttle.rs` serve every
//! engine, SQLite included).

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]
// Parts serve only some engines; a build with fewer engine features leaves them unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use std::future::Future;
use std::time::Duration;

use crate::access::{PhysicalOrder, ReadAccess, SourceSize};
use crate::definition::{Definition, Engine, KeyKind, Statements};
use crate::error::Error;
use crate::value::Key;
use io::{Query, SqlxIo};

pub(crate) use catalog::{CatalogColumn, CatalogError, TableName, TableShape, UniqueKey};
pub(crate) use io::{DecodeAs, Row, Value};

pub(crate) mod catalog;
pub(crate) mod io;
#[cfg(feature = "mysql")]
pub(crate) mod mysql;
pub(crate) mod plan;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub(crate) mod sql_text;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

/// What a database error means, as the engine's [`Driver::classify`] reads its code: the engine
/// layer's one failure type. The batch loop turns it into its retry-or-stop decision
/// (`batch::BatchError`), the command line into an exit code (`cli::CommandError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// Deadlock, serialization failure, lock wait timeout, dropped connection: retry the batch.
    Transient,
    /// The statement timeout fired: the batch is too big for it; retrying would time out again.
    StatementTimeout,
    /// Anything else: stop.
    Permanent,
}

/// Behaviour flags of an engine's SQL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    /// The affected-row count of the upsert includes unchanged rows (MySQL's CLIENT_FOUND_ROWS:
    /// inserted 1, changed 2, unchanged 1), so rows written are counted as the growth of the
    /// range's target rows plus `affected - keys`.
    pub counts_unchanged_rows: bool,
    /// `ON CONFLICT DO UPDATE ... WHERE` still locks and WAL-logs every matched row, so a range
    /// that already holds target rows is compared first (`verify_diff`) and skipped when equal.
    pub skip_unchanged_ranges: bool,
    /// The most a scan's merge batch aims at unless `merge_batch_time` says otherwise: `None`,
    /// `target_batch_time`. MySQL/MariaDB: 25 ms. A merge batch holds the target rows it
    /// writes until it commits, and there an application statement touching one of them, even
    /// an update of a row the batch has just inserted, waits for it; a merge batch reads the
    /// staging table in key order, so a shorter one costs little. The latency scenario's
    /// breakdown by operation shows it: on MariaDB at 100 ms merges the application's updates
    /// of target rows had a p99 of 5.1x and 2.7x their p99 alone while its reads and its
    /// updates of source rows were at 1.6-2.0x (every statement alike: the CPU the backfill
    /// takes); at 25 ms, in three runs, the target's updates were at 2.0-2.6x and the whole
    /// load's p99 at 1.79-2.36x its p99 alone, where the figure of 100 ms batches in the same
    /// runs left them at 2.7-3.7x and 1.79-2.39x, at the same throughput (0.94-1.04x). Earlier,
    /// 100 ms merges against 250 ms: 1.57-2.54x against 1.51-4.21x in six runs (BENCHMARKS.md,
    /// `mysql-latency`).
    pub merge_batch_time: Option<std::time::Duration>,
    /// Prefix that makes a statement show its plan without running it.
    pub explain: &'static str,
    /// Appended to the progress row's SELECT to lock it (empty on SQLite, whose
    /// `BEGIN IMMEDIATE` already holds the database's write lock).
    pub row_lock: &'static str,
    /// Placeholders are `$1, $2, ...` rather than `?`.
    pub numbered_params: bool,
    /// The progress table is created and the job's row inserted inside the write-locked
    /// transaction (SQLite, whose DDL is transactional and whose lock is the whole database),
    /// rather than before it.
    pub create_under_write_lock: bool,
    /// Appended to the progress table's `CREATE TABLE`.
    pub table_options: &'static str,
}

/// The kinds of the progress table's columns; each engine names their types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProgressType {
    /// Text that is part of a key or compared whole (job, fingerprint).
    KeyText,
    /// A short label (status).
    ShortText,
    /// Text of any length (the cursor).
    Text,
    /// A small integer (shard).
    Int,
    /// A counter.
    BigInt,
    /// A point in time.
    Time,
}

/// Per-batch timeouts from the run options.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timeouts {
    pub statement: Option<Duration>,
    pub lock: Option<Duration>,
}

/// A connection of the driver's database.
pub(crate) type Conn<D> = <<D as Driver>::Db as sqlx::Database>::Connection;

/// A pooled connection lent to a batch (or to the job's registration, or to filling a
/// statement's holes from the catalog): unless the work is marked finished, the connection is closed instead of returned to the pool when this guard
/// drops. That covers a failed batch (the connection may be broken, or mid-transaction) and a
/// run whose future was dropped mid-batch (the connection may still carry the batch's session
/// timeouts, or a transaction sqlx lost track of): the application sharing the pool never gets
/// it back.
pub(crate) struct BatchConnection<'c, D: Driver> {
    conn: &'c mut sqlx::pool::PoolConnection<D::Db>,
    finished: bool,
}

impl<'c, D: Driver> BatchConnection<'c, D> {
    pub(crate) fn new(conn: &'c mut sqlx::pool::PoolConnection<D::Db>) -> Self {
        BatchConnection {
            conn,
            finished: false,
        }
    }

    /// The connection.
    pub(crate) fn conn(&mut self) -> &mut Conn<D> {
        &mut *self.conn
    }

    /// The work ended cleanly (session settings restored): the connection may go back.
    pub(crate) fn finished(&mut self) {
        self.finished = true;
    }
}

impl<D: Driver> Drop for BatchConnection<'_, D> {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.close_on_drop();
        }
    }
}

/// What differs per engine. Implemented by unit types, one per engine feature.
pub(crate) trait Driver: Sized + Send + Sync + 'static {
    /// The sqlx database.
    type Db: SqlxIo;
    /// The engine.
    const ENGINE: Engine;
    /// Its SQL's behaviour flags.
    const DIALECT: Dialect;
    /// What a run learns about the server and its session once, before the first batch
    /// ([`Driver::session`]), and hands to every [`Driver::begin_batch`] and
    /// [`Driver::end_batch`]: MySQL's flavour and isolation, SQLite's busy timeout to restore;
    /// nothing on PostgreSQL.
    type Session: Copy + Send + Sync + 'static;

    /// Quotes one identifier for this engine.
    fn quote_ident(ident: &str) -> String {
        Self::ENGINE.quote_ident(ident)
    }

    /// Quotes a possibly schema-qualified table name.
    fn quote_table(table: &TableName) -> String {
        match &table.schema {
            Some(schema) => format!(
                "{}.{}",
                Self::quote_ident(schema),
                Self::quote_ident(&table.name)
            ),
            None => Self::quote_ident(&table.name),
        }
    }

    /// The type of a progress-table column of this kind.
    fn progress_type(kind: ProgressType) -> &'static str;

    /// Appended to the progress row's INSERT so a concurrent insert of the same job is ignored.
    fn insert_if_missing_suffix() -> String {
        format!(
            " ON CONFLICT ({}, {}) DO NOTHING",
            Self::quote_ident("job"),
            Self::quote_ident("shard")
        )
    }

    /// Brings a progress table created by an older version up to today's DDL (`quoted` is its
    /// quoted name). Nothing to do on most engines.
    fn upgrade_progress_table<'c>(
        _conn: &'c mut Conn<Self>,
        _quoted: &'c str,
        _table: &'c TableName,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'c {
        async { Ok(()) }
    }

    /// Whether the server has `FOR UPDATE SKIP LOCKED`, which several workers on one job need
    /// (PostgreSQL; MariaDB 10.6+, MySQL 8; not SQLite).
    fn skip_locked(_session: Self::Session) -> bool {
        true
    }

    /// SQL for one bound text value (`?`) that compares as the key column `column` of `table`
    /// compares (its type and collation), for ordering two keys the way the batches' ranges
    /// do; `None` when the catalog does not say.
    fn key_text_order<'c>(
        _conn: &'c mut Conn<Self>,
        _table: &'c TableName,
        _column: &'c str,
    ) -> impl Future<Output = Result<Option<String>, sqlx::Error>> + Send + 'c {
        async { Ok(Some("?".to_string())) }
    }

    /// Binds an unsigned integer (a MySQL `BIGINT UNSIGNED` key part).
    fn bind_uint(q: Query<'_, Self::Db>, u: u64) -> Query<'_, Self::Db>;

    /// Binds text that is a key part, so it compares as the key column does (see
    /// [`Value::KeyText`]).
    fn bind_key_text<'q>(q: Query<'q, Self::Db>, s: &str) -> Query<'q, Self::Db>;

    /// Column `i` as an unsigned integer (`None` for NULL).
    fn decode_uint(
        row: &<Self::Db as sqlx::Database>::Row,
        i: usize,
    ) -> Result<Option<u64>, sqlx::Error>;

    /// The rows a statement affected, as the engine counts them.
    fn rows_affected(result: &<Self::Db as sqlx::Database>::QueryResult) -> u64;

    /// Runs a query and decodes the first `cols.len()` columns of every row.
    fn fetch_all<'c>(
        conn: &'c mut Conn<Self>,
        sql: &'c str,
        binds: &'c [Value],
        cols: &'c [DecodeAs],
    ) -> impl Future<Output = Result<Vec<Row>, sqlx::Error>> + Send + 'c {
        async move {
            let rows = Self::Db::fetch_rows(conn, io::query::<Self>(sql, binds)).await?;
            rows.iter().map(|r| io::decode::<Self>(r, cols)).collect()
        }
    }

    /// Runs a statement; returns the affected rows.
    fn execute<'c>(
        conn: &'c mut Conn<Self>,
        sql: &'c str,
        binds: &'c [Value],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c {
        async move {
            let result = Self::Db::run(conn, io::query::<Self>(sql, binds)).await?;
            Ok(Self::rows_affected(&result))
        }
    }

    /// Learns what the run needs to know about the server and its session.
    fn session(
        conn: &mut Conn<Self>,
    ) -> impl Future<Output = Result<Self::Session, sqlx::Error>> + Send + '_;

    /// Begins a batch transaction with its timeouts (and the write lock on SQLite).
    fn begin_batch(
        conn: &mut Conn<Self>,
        session: Self::Session,
        timeouts: Timeouts,
    ) -> impl Future<Output = Result<sqlx::Transaction<'_, Self::Db>, sqlx::Error>> + Send;

    /// In a chunk's transaction of the scan strategy, before its partials are read: settings
    /// that make the engine read the chunk in stored order, and aggregate its `groups` (at
    /// most; `None` when not known) the faster way. Nothing by default: MySQL and SQLite are
    /// told in the statement (index hints in its FROM; MySQL's `SQL_BIG_RESULT` to sort its
    /// groups).
    fn before_partials(
        _conn: &mut Conn<Self>,
        _groups: Option<u64>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + '_ {
        async { Ok(()) }
    }

    /// Restores session settings a batch changed (best effort, after commit or rollback).
    fn end_batch(
        conn: &mut Conn<Self>,
        session: Self::Session,
        timeouts: Timeouts,
    ) -> impl Future<Output = ()> + Send + '_;

    /// The catalog checks before the first write (its `preflight.rs`): the target's schema
    /// fits the definition and every statement prepares.
    fn preflight<'a>(
        pool: &'a sqlx::Pool<Self::Db>,
        def: &'static Definition,
        stmts: &'static Statements,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a;

    /// Whether an error is worth retrying.
    fn classify(err: &sqlx::Error) -> ErrorClass;

    /// The table's columns and unique keys from the engine's catalog (its `catalog.rs`, the
    /// one reader of it); `None` when the table does not exist.
    fn table_shape<'c>(
        conn: &'c mut Conn<Self>,
        table: &'c TableName,
    ) -> impl Future<Output = Result<Option<TableShape>, CatalogError>> + Send + 'c;

    /// `expr` coerced the way an INSERT into `column` coerces it (rounded to its scale,
    /// converted to its character set), for comparing a recomputed value with a stored one.
    fn coerce(expr: &str, column: &CatalogColumn) -> String;

    /// The engine's plan of a statement, as text; runs nothing.
    fn explain<'c>(
        conn: &'c mut Conn<Self>,
        sql: &'c str,
        binds: &'c [Value],
    ) -> impl Future<Output = Result<String, sqlx::Error>> + Send + 'c;

    /// What the engine knows about the source of the range reads (its `access.rs`): its size
    /// against the buffer cache, the order its rows are stored in, its distinct keys.
    fn source_facts<'c>(
        conn: &'c mut Conn<Self>,
        probe: &'c SourceProbe<'c>,
    ) -> impl Future<Output = Result<SourceFacts, sqlx::Error>> + Send + 'c;

    /// How the plan printed by [`Driver::explain`] reaches the source `table` (named `alias`
    /// in the statement, if aliased).
    fn read_access(explain: &str, table: &str, alias: Option<&str>) -> ReadAccess;

    /// What to run when the index `index` on `table` holds every column a range reads but the
    /// plan does not read it alone (PostgreSQL: the visibility map; elsewhere: statistics).
    fn unused_covering_index_hint(table: &TableName, index: &str) -> String;

    /// The index hint that makes a table reference read `index` (written just after the
    /// reference), on engines whose optimizer needs one to keep to a covering index; `None`
    /// elsewhere. See [`crate::access::pin`].
    fn index_hint(_index: &str) -> Option<String> {
        None
    }

    /// The online DDL of the index `name` on `table` over `key` then `include` (the other
    /// columns read), every identifier quoted, and what to know about running it.
    fn covering_index_ddl(
        table: &TableName,
        name: &str,
        key: &[String],
        include: &[String],
    ) -> (Vec<String>, String);

    /// Whether the whole database has one writer at a time (SQLite), so a job runs one worker
    /// and has no worker limit to set.
    const ONE_WRITER: bool = false;

    /// The type a `CAST` names for a 64-bit signed integer (`BIGINT`; MySQL's `SIGNED`).
    const BIGINT_CAST: &'static str = "BIGINT";

    /// Whether a server crash empties a scan's staging table (PostgreSQL creates it
    /// `UNLOGGED`): a resumed run then counts its rows against the partials written.
    const STAGING_EMPTIED_BY_CRASH: bool = false;

    /// The statement that refreshes the statistics of a scan's staging table `table` once its
    /// partials are written and keyed, before the merge reads it by key ranges.
    fn refresh_staging_statistics(table: &TableName) -> String;

    /// Whether a column whose catalog base type is `base_type` (lowercase) holds integers, so
    /// a scan can cut its chunks on it.
    fn integer_type(base_type: &str) -> bool {
        INTEGER_TYPES.contains(&base_type)
    }

    /// The column every table has that a scan cuts its chunks on when the source's primary key
    /// is not one integer column (SQLite's `rowid`); `None` on engines without one.
    fn row_id() -> Option<&'static str> {
        None
    }
}

/// Integer types a scan's chunk column may have, by the catalog's base type name.
const INTEGER_TYPES: &[&str] = &[
    "int2",
    "int4",
    "int8",
    "smallint",
    "integer",
    "bigint",
    "int",
    "tinyint",
    "mediumint",
];

/// What `plan` asks an engine about the source of the range reads.
#[derive(Debug)]
pub(crate) struct SourceProbe<'a> {
    /// The source table.
    pub table: &'a TableName,
    /// The source's columns the ranges filter on, when every key part is one.
    pub key_columns: Option<&'a [String]>,
    /// How the first key part is decoded (for a sample in stored order).
    pub key_kind: KeyKind,
}

/// What an engine knows about the source of the range reads.
#[derive(Debug, Default)]
pub(crate) struct SourceFacts {
    /// Its size against the buffer cache.
    pub size: SourceSize,
    /// The order its rows are stored in; the correlation where the engine keeps it.
    pub order: PhysicalOrder,
    /// Distinct values of the first key column, from the engine's statistics.
    pub distinct_keys: Option<u64>,
    /// The first key column of the first rows in stored order, where the engine keeps no
    /// correlation statistic: the correlation is computed from it.
    pub stored_order_sample: Option<Vec<crate::value::KeyValue>>,
    /// The source's valid, non-partial indexes on plain columns, each with every column it
    /// holds: its key columns in order, then PostgreSQL's INCLUDE columns and the columns an
    /// engine adds by itself (InnoDB's primary key, SQLite's rowid alias).
    pub indexes: Vec<(String, Vec<String>)>,
}

/// Rows read in stored order for [`SourceFacts::stored_order_sample`].
pub(crate) const STORED_ORDER_SAMPLE_ROWS: u64 = 10_000;

/// A sqlx database a backfill runs on, naming its [`Driver`]: what makes
/// `impl<DB: EngineDatabase> BackfillPool for sqlx::Pool<DB>` (in `pool.rs`) one generic impl
/// for `PgPool`, `MySqlPool` and `SqlitePool`.
pub(crate) trait EngineDatabase: SqlxIo {
    /// The engine's driver.
    type Driver: Driver<Db = Self>;
}

/// The statements of `def` for `engine`, or the error naming the struct and the engine.
pub(crate) fn statements(
    def: &'static Definition,
    engine: Engine,
) -> Result<&'static Statements, Error> {
    def.statements(engine)
        .ok_or_else(|| Error::EngineNotGenerated {
            name: def.name.to_string(),
            engine,
        })
}

/// Rewrites `?` placeholders as `$1, $2, ...` when the engine numbers them. Only used on the
/// runtime's own SQL (progress table), which has no `?` inside literals.
pub(crate) fn placeholders<D: Driver>(sql: &str) -> String {
    if !D::DIALECT.numbered_params {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// The key kinds of a definition, in key order.
pub(crate) fn key_kinds(def: &Definition) -> Vec<KeyKind> {
    def.key.iter().map(|k| k.kind).collect()
}

/// Decodes the first `kinds.len()` values of a row as a key; `None` if any part is NULL.
pub(crate) fn row_key(row: &[Value], kinds: &[KeyKind]) -> Option<Key> {
    row.iter()
        .take(kinds.len())
        .map(Value::key_value)
        .collect::<Option<Vec<_>>>()
        .filter(|parts| parts.len() == kinds.len())
        .map(Key)
}

/// The row of a `bounds` read that found keys, `None` when none is left: the read returns no
/// row, or (one integer key, by `max` and `count`) one whose count, after the `kinds.len()`
/// key parts, is 0.
pub(crate) fn bounds_row<'r>(rows: &'r [Vec<Value>], kinds: &[KeyKind]) -> Option<&'r [Value]> {
    rows.first()
        .filter(|row| row.get(kinds.len()).and_then(Value::int) != Some(0))
        .map(Vec::as_slice)
}

/// The count a `SELECT count(*)` read returned (its first row's first column), 0 when it
/// returned no row or no count.
pub(crate) fn first_count(rows: &[Vec<Value>]) -> u64 {
    rows.first()
        .and_then(|row| row.first())
        .and_then(Value::int)
        .map_or(0, |n| u64::try_from(n).unwrap_or(0))
}

/// A key range for messages: `> 100 and <= 200`, `<= 200`, `> 100`, `from the first key`.
pub(crate) fn describe_range(lo: Option<&Key>, hi: Option<&Key>) -> String {
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!("> {lo} and <= {hi}"),
        (None, Some(hi)) => format!("<= {hi}"),
        (Some(lo), None) => format!("> {lo}"),
        (None, None) => "from the first key".to_string(),
    }
}

/// Binds a statement's params from the cursor, the upper bound and the limit.
pub(crate) fn bind_params(
    params: &[crate::definition::Param],
    cursor: Option<&Key>,
    hi: Option<&Key>,
    limit: u64,
) -> Result<Vec<Value>, String> {
    use crate::definition::Param;
    params
        .iter()
        .map(|p| match p {
            Param::Cursor(i) => cursor
                .and_then(|k| k.0.get(*i))
                .map(Value::from)
                .ok_or_else(|| format!("statement binds cursor part {i} but there is none")),
            Param::Hi(i) => hi
                .and_then(|k| k.0.get(*i))
                .map(Value::from)
                .ok_or_else(|| format!("statement binds upper bound part {i} but there is none")),
            Param::Limit => Ok(Value::Int(i64::try_from(limit).unwrap_or(i64::MAX))),
            Param::Offset => Ok(Value::Int(
                i64::try_from(limit.saturating_sub(1)).unwrap_or(i64::MAX),
            )),
        })
        .collect()
}

/// A duration in whole milliseconds, at least 1.
pub(crate) fn millis(d: Duration) -> u128 {
    d.as_millis().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::KeyValue;

    #[test]
    fn ranges_read_like_the_where_clause() {
        let k = |i| Key(vec![KeyValue::Int(i)]);
        assert_eq!(
            describe_range(Some(&k(100)), Some(&k(200))),
            "> 100 and <= 200"
        );
        assert_eq!(describe_range(None, Some(&k(200))), "<= 200");
        assert_eq!(describe_range(Some(&k(5)), None), "> 5");
    }
}
