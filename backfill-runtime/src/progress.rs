//! The progress table: one row per (job, shard) holding the cursor, committed in the same
//! transaction as the batch it describes, so a crash anywhere leaves cursor and data consistent.
//!
//! The table is created if missing and its shape checked (every column, a unique key on
//! (job, shard)) before it is trusted. The cursor is stored as JSON text ([`Key::to_json`]).
//!
//! A job run by one worker has one row, shard 0, with no end. A job run by several workers
//! (`RunOptions::workers`) has a row per shard, each a key range `cursor < key <= shard_end`
//! of its own; a batch locks its shard's row with `FOR UPDATE SKIP LOCKED`, so two workers
//! never run one shard and a killed worker's shard is taken by the next one that looks.
//!
//! The control a job takes from outside (`paused`, `max_rows_per_sec`, `max_workers`) and its
//! shard plan (`plan`) are columns of every row of the job, so a batch reads them in the row it
//! has locked anyway and a split copies them to the new shard. Tables created by an older
//! version lack these five columns ([`ADDED`]): [`ProgressStore::ensure`] adds them with
//! `ALTER TABLE ... ADD COLUMN`, nullable or with a default, which every engine does without
//! rewriting the rows; a concurrent worker adding the same column first is not an error.
//!
//! The live limit on workers (`max_workers`, `service workers`) is held by *slot* rows of the
//! job, shards `-1` to `-N`: a batch of a job with a limit of K locks one of slots `-1..=-K`
//! with `SKIP LOCKED` in its own transaction, or waits when all K are in other batches. So the
//! limit needs no lease and no timeout (a killed worker's transaction, and its slot, end when
//! the server sees the connection drop), and it is held by the same row locks that already
//! keep two workers off one shard. Slot rows are marked `done` and have no range, so every
//! reader of shards, including older versions of this runtime, passes over them.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]
// Parts serve only some engines; a build with fewer engine features leaves them unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use std::marker::PhantomData;

use chrono::Utc;

use crate::definition::{Definition, Engine, KeyKind};
use crate::engine::{
    self, Conn, DecodeAs, Driver, ProgressType, TableName, TableShape, Timeouts, Value,
};
use crate::error::Error;
use crate::options::{Control, JobStatus, RunOptions, ShardStatus};
use crate::value::Key;

/// The columns a progress table must have, in the order the runtime creates them.
const COLUMNS: [&str; 16] = [
    "job",
    "shard",
    "fingerprint",
    "cursor",
    "status",
    "rows_written",
    "batches",
    "keys",
    "started_at",
    "updated_at",
    "finished_at",
    "shard_end",
    "plan",
    "paused",
    "max_rows_per_sec",
    "max_workers",
];

/// How many of [`COLUMNS`] the first versions created; the rest are [`ADDED`] to an older
/// table by `ALTER TABLE`.
const ORIGINAL: usize = 11;

/// The columns added after the first versions ([`COLUMNS`] from [`ORIGINAL`] on).
pub(crate) const ADDED: [&str; 5] = [
    "shard_end",
    "plan",
    "paused",
    "max_rows_per_sec",
    "max_workers",
];

/// The largest live limit on workers (`service workers NAME N`): one slot row each.
pub(crate) const MAX_WORKER_LIMIT: u32 = 1024;

/// How each of [`COLUMNS`] is declared: its kind (the engine names the type) and the rest.
const DECLARED: [(ProgressType, &str); 16] = [
    (ProgressType::KeyText, "NOT NULL"),
    (ProgressType::Int, "NOT NULL DEFAULT 0"),
    (ProgressType::KeyText, "NOT NULL"),
    (ProgressType::Text, "NULL"),
    (ProgressType::ShortText, "NOT NULL"),
    (ProgressType::BigInt, "NOT NULL DEFAULT 0"),
    (ProgressType::BigInt, "NOT NULL DEFAULT 0"),
    (ProgressType::BigInt, "NOT NULL DEFAULT 0"),
    (ProgressType::Time, "NOT NULL"),
    (ProgressType::Time, "NOT NULL"),
    (ProgressType::Time, "NULL"),
    (ProgressType::Text, "NULL"),
    (ProgressType::KeyText, "NULL"),
    (ProgressType::Int, "NOT NULL DEFAULT 0"),
    (ProgressType::BigInt, "NULL"),
    (ProgressType::BigInt, "NULL"),
];

const RUNNING: &str = "running";
const DONE: &str = "done";

/// The columns a shard row is read with, in [`ShardRow`]'s order.
const SHARD_COLUMNS: [&str; 10] = [
    "shard",
    "fingerprint",
    "cursor",
    "status",
    "shard_end",
    "plan",
    "paused",
    "max_rows_per_sec",
    "batches",
    "max_workers",
];

/// A shard's row as a batch sees it after locking it (or as a worker looking for work reads
/// it).
#[derive(Debug, Clone)]
pub(crate) struct ShardRow {
    /// The shard's number (0 for a job run by one worker).
    pub shard: i64,
    pub fingerprint: String,
    /// The last key done; `None` before the shard's first batch of a shard that starts at
    /// the first key.
    pub cursor: Option<Key>,
    /// The shard's last key (inclusive); `None`: up to the last key of the source.
    pub end: Option<Key>,
    pub done: bool,
    /// The job's shard plan ([`plan_text`]); `None` in a row written by an older version (a
    /// job of one worker).
    pub plan: Option<String>,
    /// Paused from outside (`service pause`): batches wait until it is cleared.
    pub paused: bool,
    /// The job's rate limit set from outside (`service rate`), for all workers together.
    pub max_rows_per_sec: Option<u64>,
    /// Batches committed in this shard.
    pub batches: u64,
    /// The job's live limit on workers running batches at once, over every process
    /// (`service workers`); `None`: no limit.
    pub max_workers: Option<u64>,
}

/// Which shard row a batch locks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pick {
    /// This shard, waiting for its lock (a job of one worker: shard 0; a split: the shard
    /// being split).
    Shard(i64),
    /// Any running shard whose row no other transaction holds (`SKIP LOCKED`), this one first.
    AnyFree { prefer: i64 },
}

/// The shard plan stored with a job: how many workers cut its key span. A worker joining a
/// job must have the same plan.
pub(crate) fn plan_text(workers: u32) -> String {
    if workers <= 1 {
        "1 worker".to_string()
    } else {
        format!("{workers} workers")
    }
}

/// The workers of a shard plan written by [`plan_text`]; `None` for any other text.
pub(crate) fn plan_workers(plan: &str) -> Option<u32> {
    match plan.split_once(' ') {
        Some((n, "worker" | "workers")) => n.parse().ok().filter(|&n| n >= 1),
        _ => None,
    }
}

/// A shard row (or slot row) to insert, its counts at zero.
struct ShardInsert<'a> {
    shard: i64,
    /// [`RUNNING`] for a shard; [`DONE`] for a slot row, which no batch runs.
    status: &'static str,
    fingerprint: &'a str,
    cursor: Option<&'a Key>,
    end: Option<&'a Key>,
    plan: &'a str,
    paused: bool,
    max_rows_per_sec: Option<u64>,
    max_workers: Option<u64>,
}

/// The shard number of slot `n` (1-based) of the job's worker limit.
fn slot_shard(n: u64) -> i64 {
    -i64::try_from(n).unwrap_or(i64::MAX)
}

/// What registering a run found.
#[derive(Debug, Clone)]
pub(crate) enum Registration {
    /// The job is not done: start or resume at `cursor` (shard 0's).
    Resume { cursor: Option<Key> },
    /// The job was done before this run (and no restart was asked).
    AlreadyDone { cursor: Option<Key> },
}

/// One job's rows in one progress table, on one engine.
pub(crate) struct ProgressStore<D> {
    written: String,
    name: TableName,
    table: String,
    job: String,
    kinds: Vec<KeyKind>,
    /// The worker limit a run starting the job writes (`RunOptions::max_workers`).
    initial_max_workers: Option<u32>,
    _driver: PhantomData<fn() -> D>,
}

impl<D: Driver> Clone for ProgressStore<D> {
    fn clone(&self) -> Self {
        ProgressStore {
            written: self.written.clone(),
            name: self.name.clone(),
            table: self.table.clone(),
            job: self.job.clone(),
            kinds: self.kinds.clone(),
            initial_max_workers: self.initial_max_workers,
            _driver: PhantomData,
        }
    }
}

impl<D: Driver> ProgressStore<D> {
    /// The store of the scan's partials phase (`options.job` its job): its cursors and shard
    /// ends are chunks of the source's integer primary key, whatever the target's key.
    pub(crate) fn partials(def: &Definition, options: &RunOptions) -> Result<Self, Error> {
        let mut store = Self::new(def, options)?;
        store.kinds = vec![KeyKind::Int];
        Ok(store)
    }

    /// The store of `options`' job (default: the definition's) in `options`' progress table.
    pub(crate) fn new(def: &Definition, options: &RunOptions) -> Result<Self, Error> {
        let name = TableName::parse(&options.progress_table)?;
        let job = options.job.clone().unwrap_or_else(|| def.job.to_string());
        if let Some(limit) = options.max_workers {
            Self::valid_worker_limit(&job, limit, "max_workers")?;
        }
        Ok(ProgressStore {
            written: options.progress_table.clone(),
            table: D::quote_table(&name),
            name,
            job,
            kinds: engine::key_kinds(def),
            initial_max_workers: options.max_workers,
            _driver: PhantomData,
        })
    }

    /// Refuses a worker limit that cannot work here: any on SQLite (one writer), 0 (a pause),
    /// more than [`MAX_WORKER_LIMIT`]. `set_by` names the option or command, for the message.
    fn valid_worker_limit(job: &str, limit: u32, set_by: &str) -> Result<(), Error> {
        if D::ONE_WRITER {
            return Err(Error::Options(format!(
                "{set_by} {limit} for job `{job}`: {} has one writer for the whole database, so its jobs run one worker and have no worker limit to set; leave it out",
                D::ENGINE
            )));
        }
        if limit == 0 {
            return Err(Error::Options(format!(
                "{set_by} 0 for job `{job}` would stop every worker: to stop the job for a while, pause it (`service pause`, `Control::Pause`); a limit is 1 or more"
            )));
        }
        if limit > MAX_WORKER_LIMIT {
            return Err(Error::Options(format!(
                "{set_by} {limit} for job `{job}`: the limit is at most {MAX_WORKER_LIMIT} workers; to run every worker the job has, lift the limit (`service workers NAME all`, `Control::Workers(None)`)"
            )));
        }
        Ok(())
    }

    /// The job name.
    pub(crate) fn job(&self) -> &str {
        &self.job
    }

    fn quoted_list(names: &[&str]) -> String {
        names
            .iter()
            .map(|c| D::quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn quoted(column: &str) -> String {
        D::quote_ident(column)
    }

    /// The columns to select, the `INT` ones (shard, paused) cast to the 64-bit integer every
    /// engine decodes as `i64`.
    fn selected(names: &[&str]) -> String {
        names
            .iter()
            .map(|c| match *c {
                "shard" | "paused" => format!("CAST({} AS {})", D::quote_ident(c), D::BIGINT_CAST),
                _ => D::quote_ident(c),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn declare(i: usize) -> String {
        let (kind, rest) = DECLARED[i];
        format!(
            "{} {} {rest}",
            Self::quoted(COLUMNS[i]),
            D::progress_type(kind)
        )
    }

    /// `CREATE TABLE IF NOT EXISTS` of the progress table (`table` already quoted).
    fn ddl(table: &str) -> String {
        let columns: Vec<String> = (0..COLUMNS.len()).map(Self::declare).collect();
        format!(
            "CREATE TABLE IF NOT EXISTS {table} ({}, PRIMARY KEY ({}, {})){}",
            columns.join(", "),
            Self::quoted("job"),
            Self::quoted("shard"),
            D::DIALECT.table_options
        )
    }

    fn where_job(&self) -> String {
        format!("{} = ?", Self::quoted("job"))
    }

    fn where_shard(&self) -> String {
        format!(
            "{} = ? AND {} = ?",
            Self::quoted("job"),
            Self::quoted("shard")
        )
    }

    fn shard_binds(&self, shard: i64) -> [Value; 2] {
        [Value::Text(self.job.clone()), Value::Int(shard)]
    }

    fn db_error(&self, doing: &str) -> impl FnOnce(sqlx::Error) -> Error + '_ {
        let context = format!(
            "{doing} progress table {} (job `{}`)",
            self.written, self.job
        );
        move |e| Error::database(context, e)
    }

    /// Checks the shape of an existing table: `columns`, and a unique key on (job, shard).
    fn validate(&self, shape: &TableShape, columns: &[&str]) -> Result<(), Error> {
        let missing = Self::missing(shape, columns);
        if !missing.is_empty() {
            return Err(Error::ProgressTable {
                table: self.written.clone(),
                problem: format!("has no column {}", missing.join(", ")),
            });
        }
        let keyed = shape.unique_keys.iter().any(|key| {
            let has = |name: &str| {
                key.columns
                    .iter()
                    .any(|c| c.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(name)))
            };
            key.columns.len() == 2 && has("job") && has("shard")
        });
        if !keyed {
            return Err(Error::ProgressTable {
                table: self.written.clone(),
                problem: "has no primary key or unique index on (job, shard)".to_string(),
            });
        }
        Ok(())
    }

    fn missing<'a>(shape: &TableShape, columns: &[&'a str]) -> Vec<&'a str> {
        let has = |c: &str| shape.columns.iter().any(|x| x.name.eq_ignore_ascii_case(c));
        columns.iter().copied().filter(|c| !has(c)).collect()
    }

    async fn shape(&self, conn: &mut Conn<D>) -> Result<Option<TableShape>, Error> {
        D::table_shape(conn, &self.name)
            .await
            .map_err(|e| self.db_error("reading the columns of")(e.source))
    }

    /// Whether the table exists (checking its shape if it does: a table of an older version,
    /// without the [`ADDED`] columns, passes; reading it leaves them out).
    pub(crate) async fn exists(&self, conn: &mut Conn<D>) -> Result<bool, Error> {
        match self.shape(conn).await? {
            Some(shape) => self.validate(&shape, &COLUMNS[..ORIGINAL]).map(|()| true),
            None => Ok(false),
        }
    }

    /// Whether the table has these of the [`ADDED`] columns (it exists).
    async fn has_columns(&self, conn: &mut Conn<D>, columns: &[&str]) -> Result<bool, Error> {
        Ok(self
            .shape(conn)
            .await?
            .is_some_and(|shape| Self::missing(&shape, columns).is_empty()))
    }

    /// Creates the table if it is missing, adds the columns an older version did not create,
    /// then checks its shape.
    pub(crate) async fn ensure(&self, conn: &mut Conn<D>) -> Result<(), Error> {
        if self.exists(conn).await? {
            let name = TableName::parse(&self.written)?;
            D::upgrade_progress_table(conn, &self.table, &name)
                .await
                .map_err(self.db_error("upgrading the"))?;
            return self.add_columns(conn).await;
        }
        let ddl = Self::ddl(&self.table);
        if let Err(e) = D::execute(conn, &ddl, &[]).await {
            // Another worker may have created it at the same moment (PostgreSQL reports a
            // unique violation on pg_type for the loser of that race): look again.
            if !self.exists(conn).await? {
                return Err(self.db_error("creating the")(e));
            }
        }
        match self.shape(conn).await? {
            Some(shape) => self.validate(&shape, &COLUMNS),
            None => Err(Error::ProgressTable {
                table: self.written.clone(),
                problem: "was created but cannot be found under that name".to_string(),
            }),
        }
    }

    /// Adds the [`ADDED`] columns a table created by an older version lacks, one
    /// `ALTER TABLE ... ADD COLUMN` each (nullable or with a default: no row is rewritten). A
    /// worker that loses the race to add one finds it added and goes on.
    async fn add_columns(&self, conn: &mut Conn<D>) -> Result<(), Error> {
        let Some(shape) = self.shape(conn).await? else {
            return Err(Error::ProgressTable {
                table: self.written.clone(),
                problem: "disappeared while it was being upgraded; run again".to_string(),
            });
        };
        for column in Self::missing(&shape, &ADDED) {
            let i = COLUMNS
                .iter()
                .position(|c| *c == column)
                .expect("every added column is one of COLUMNS");
            let alter = format!("ALTER TABLE {} ADD COLUMN {}", self.table, Self::declare(i));
            if let Err(e) = D::execute(conn, &alter, &[]).await {
                let added = self.shape(conn).await?.is_some_and(|shape| {
                    shape
                        .columns
                        .iter()
                        .any(|c| c.name.eq_ignore_ascii_case(column))
                });
                if !added {
                    return Err(self.db_error(&format!("adding column {column} to the"))(e));
                }
            }
        }
        match self.shape(conn).await? {
            Some(shape) => self.validate(&shape, &COLUMNS),
            None => Err(Error::ProgressTable {
                table: self.written.clone(),
                problem: "disappeared while it was being upgraded; run again".to_string(),
            }),
        }
    }

    /// Registers the run: creates the table and inserts shard 0's row if missing (a
    /// concurrent insert of the same job is ignored), then, with that row locked, resets the
    /// job (`restart`), refuses a changed definition or another shard plan, or reports a
    /// finished job. Waits for locks no longer than the run's lock timeout.
    pub(crate) async fn register(
        &self,
        conn: &mut Conn<D>,
        session: D::Session,
        timeouts: Timeouts,
        fingerprint: &str,
        plan: &str,
        restart: bool,
    ) -> Result<Registration, Error> {
        let locking = self.db_error("locking the job's row in the");
        if D::DIALECT.create_under_write_lock {
            // SQLite: the write lock is taken by BEGIN IMMEDIATE, honouring the lock timeout;
            // creating the table inside it is transactional.
            let mut tx = D::begin_batch(conn, session, timeouts)
                .await
                .map_err(locking)?;
            self.ensure(&mut tx).await?;
            self.insert_if_missing(&mut tx, fingerprint, plan).await?;
            self.settle(tx, fingerprint, plan, restart).await
        } else {
            // A concurrent CREATE TABLE inside a transaction would abort it: create outside.
            self.ensure(conn).await?;
            self.insert_if_missing(conn, fingerprint, plan).await?;
            let tx = D::begin_batch(conn, session, timeouts)
                .await
                .map_err(locking)?;
            self.settle(tx, fingerprint, plan, restart).await
        }
    }

    async fn insert_if_missing(
        &self,
        conn: &mut Conn<D>,
        fingerprint: &str,
        plan: &str,
    ) -> Result<(), Error> {
        self.insert_shard(
            conn,
            ShardInsert {
                shard: 0,
                status: RUNNING,
                fingerprint,
                cursor: None,
                end: None,
                plan,
                paused: false,
                max_rows_per_sec: None,
                max_workers: self.initial_max_workers.map(u64::from),
            },
            true,
        )
        .await
        .map_err(self.db_error("registering the job in the"))
    }

    /// Inserts a shard's row; if it exists, nothing happens (`if_missing`: registration) or
    /// the insert fails with a unique violation (a split: two workers chose the same new
    /// shard number, and the loser must not cut its parent).
    async fn insert_shard(
        &self,
        conn: &mut Conn<D>,
        row: ShardInsert<'_>,
        if_missing: bool,
    ) -> Result<(), sqlx::Error> {
        let now = Value::Time(Utc::now());
        let (rate_sql, rate) = Self::optional_int(row.max_rows_per_sec);
        let (workers_sql, workers) = Self::optional_int(row.max_workers);
        let insert = engine::placeholders::<D>(&format!(
            "INSERT INTO {} ({}) VALUES (?, ?, ?, ?, '{}', 0, 0, 0, ?, ?, NULL, ?, ?, ?, {rate_sql}, {workers_sql}){}",
            self.table,
            Self::quoted_list(&COLUMNS),
            row.status,
            if if_missing {
                D::insert_if_missing_suffix()
            } else {
                String::new()
            }
        ));
        let key = |k: Option<&Key>| k.map_or(Value::Null, |k| Value::Text(k.to_json()));
        let mut binds = vec![
            Value::Text(self.job.clone()),
            Value::Int(row.shard),
            Value::Text(row.fingerprint.to_string()),
            key(row.cursor),
            now.clone(),
            now,
            key(row.end),
            Value::Text(row.plan.to_string()),
            Value::Int(i64::from(row.paused)),
        ];
        binds.extend(rate);
        binds.extend(workers);
        D::execute(conn, &insert, &binds).await.map(drop)
    }

    /// SQL and bind for an optional integer: a literal `NULL`, or a bound value cast to
    /// `BIGINT`. Never a NULL bound as a parameter: a NULL binds as text, and a statement
    /// prepared (and cached by sqlx) with a text parameter then misreads an integer bound on
    /// its next use (PostgreSQL: "invalid byte sequence for encoding UTF8: 0x00").
    fn optional_int(value: Option<u64>) -> (String, Option<Value>) {
        match value {
            Some(v) => (
                format!("CAST(? AS {})", D::BIGINT_CAST),
                Some(Value::Int(i64::try_from(v).unwrap_or(i64::MAX))),
            ),
            None => ("NULL".to_string(), None),
        }
    }

    /// With shard 0 locked in `tx`: restart, refuse, or report; commits unless refusing.
    async fn settle(
        &self,
        mut tx: sqlx::Transaction<'_, D::Db>,
        fingerprint: &str,
        plan: &str,
        restart: bool,
    ) -> Result<Registration, Error> {
        let row = self
            .lock(&mut tx, Pick::Shard(0))
            .await
            .map_err(self.db_error("locking the job's row in the"))?;
        let Some(row) = row.transpose()? else {
            return Err(Error::ProgressTable {
                table: self.written.clone(),
                problem: format!("lost the row of job `{}` right after inserting it (was it reset concurrently?); run again", self.job),
            });
        };
        if restart {
            self.restart(&mut tx, fingerprint, plan)
                .await
                .map_err(self.db_error("resetting the job in the"))?;
            tx.commit()
                .await
                .map_err(self.db_error("resetting the job in the"))?;
            return Ok(Registration::Resume { cursor: None });
        }
        if row.fingerprint != fingerprint {
            return Err(Error::FingerprintMismatch {
                job: self.job.clone(),
                stored: row.fingerprint,
                current: fingerprint.to_string(),
            });
        }
        let stored_plan = row.plan.clone().unwrap_or_else(|| plan_text(1));
        if stored_plan != plan {
            return Err(Error::Options(format!(
                "job `{}` in progress table {} has the shard plan of {stored_plan}, but this run asks for {plan}: run it with the same workers option as the job's other workers (`workers`, `--workers`) to join it, or with restart to start over with the new plan",
                self.job, self.written
            )));
        }
        if let Some(asked) = self.initial_max_workers {
            if row.max_workers != Some(u64::from(asked)) {
                let kept = row.max_workers.map_or("no worker limit".to_string(), |k| {
                    format!("a worker limit of {k}")
                });
                tracing::warn!(job = %self.job, "max_workers({asked}) is written only when a job starts; job `{}` has started and keeps {kept}: change it with `service workers NAME {asked}` (Control::Workers)", self.job);
            }
        }
        let running = self
            .shards(&mut tx)
            .await?
            .iter()
            .filter(|s| !s.done)
            .count();
        tx.commit()
            .await
            .map_err(self.db_error("reading the job from the"))?;
        Ok(if running == 0 {
            Registration::AlreadyDone { cursor: row.cursor }
        } else {
            Registration::Resume { cursor: row.cursor }
        })
    }

    /// Cuts a fresh job into shards: with shard 0 locked, if the job still has that one row,
    /// untouched (no batch, no end), it becomes the range up to `ends[0]` and a row is
    /// inserted for each next range (the last one without an end). A job another worker cut
    /// first, or that has started, is left as it is. Commits.
    ///
    /// `clear` (the scan's partials phase: emptying the staging table) runs in the same
    /// transaction when the job is found fresh, even with nothing to cut: no chunk of it has
    /// been written yet, and none can be until this commits.
    pub(crate) async fn cut(
        &self,
        mut tx: sqlx::Transaction<'_, D::Db>,
        ends: &[Key],
        clear: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let Some(Ok(first)) = self.lock(&mut tx, Pick::Shard(0)).await? else {
            return tx.rollback().await;
        };
        let fresh = first.cursor.is_none()
            && first.end.is_none()
            && first.batches == 0
            && !first.done
            && self.shards(&mut tx).await.is_ok_and(|s| s.len() == 1);
        if !fresh {
            return tx.rollback().await;
        }
        if let Some(clear) = clear {
            D::execute(&mut tx, clear, &[]).await?;
        }
        if ends.is_empty() {
            return tx.commit().await;
        }
        self.set_end(&mut tx, 0, Some(&ends[0])).await?;
        let plan = first.plan.clone().unwrap_or_else(|| plan_text(1));
        for (i, start) in ends.iter().enumerate() {
            let shard = i64::try_from(i + 1).unwrap_or(i64::MAX);
            self.insert_shard(
                &mut tx,
                ShardInsert {
                    shard,
                    status: RUNNING,
                    fingerprint: &first.fingerprint,
                    cursor: Some(start),
                    end: ends.get(i + 1),
                    plan: &plan,
                    paused: first.paused,
                    max_rows_per_sec: first.max_rows_per_sec,
                    max_workers: first.max_workers,
                },
                false,
            )
            .await?;
        }
        tx.commit().await
    }

    /// Splits `parent` (locked in `conn`'s transaction) at `at`: the parent now ends at `at`,
    /// and shard `new` takes the rest, `at < key <= ` the parent's old end, with the job's
    /// plan and control copied.
    pub(crate) async fn split(
        &self,
        conn: &mut Conn<D>,
        parent: &ShardRow,
        at: &Key,
        new: i64,
    ) -> Result<(), sqlx::Error> {
        self.insert_shard(
            conn,
            ShardInsert {
                shard: new,
                status: RUNNING,
                fingerprint: &parent.fingerprint,
                cursor: Some(at),
                end: parent.end.as_ref(),
                plan: parent.plan.as_deref().unwrap_or("1 worker"),
                paused: parent.paused,
                max_rows_per_sec: parent.max_rows_per_sec,
                max_workers: parent.max_workers,
            },
            false,
        )
        .await?;
        self.set_end(conn, parent.shard, Some(at)).await
    }

    async fn set_end(
        &self,
        conn: &mut Conn<D>,
        shard: i64,
        end: Option<&Key>,
    ) -> Result<(), sqlx::Error> {
        let sql = engine::placeholders::<D>(&format!(
            "UPDATE {} SET {} = ?, {} = ? WHERE {}",
            self.table,
            Self::quoted("shard_end"),
            Self::quoted("updated_at"),
            self.where_shard()
        ));
        let [job, shard] = self.shard_binds(shard);
        let end = end.map_or(Value::Null, |k| Value::Text(k.to_json()));
        D::execute(conn, &sql, &[end, Value::Time(Utc::now()), job, shard])
            .await
            .map(drop)
    }

    /// Locks and reads a shard's row inside a batch transaction (`FOR UPDATE`, with
    /// `SKIP LOCKED` for [`Pick::AnyFree`]; on SQLite the transaction's `BEGIN IMMEDIATE`
    /// already holds the write lock). `None` if there is no such row (or none free); the inner
    /// error is a cursor that cannot be read.
    ///
    /// A free shard is looked for in two steps, each reading rows in primary-key order so it
    /// locks the one row it returns: the preferred shard by its key, then the first free one.
    /// (One query ordering by "preferred first" would sort, and InnoDB locks every row it
    /// reads for a sort, holding all free shards for one batch.)
    pub(crate) async fn lock(
        &self,
        conn: &mut Conn<D>,
        pick: Pick,
    ) -> Result<Option<Result<ShardRow, Error>>, sqlx::Error> {
        let prefer = match pick {
            Pick::Shard(shard) => {
                let binds = self.shard_binds(shard);
                return self
                    .lock_where(conn, &self.where_shard(), &binds, "", "")
                    .await;
            }
            Pick::AnyFree { prefer } => prefer,
        };
        let running = format!("{} = '{RUNNING}'", Self::quoted("status"));
        let preferred = format!("{} AND {running}", self.where_shard());
        let binds = self.shard_binds(prefer);
        if let Some(row) = self
            .lock_where(conn, &preferred, &binds, "", " SKIP LOCKED")
            .await?
        {
            return Ok(Some(row));
        }
        let any = format!("{} AND {running}", self.where_job());
        let first = format!(" ORDER BY {} LIMIT 1", Self::quoted("shard"));
        let binds = [Value::Text(self.job.clone())];
        self.lock_where(conn, &any, &binds, &first, " SKIP LOCKED")
            .await
    }

    /// `SELECT ... WHERE {condition}{order} FOR UPDATE{skip}`: the first row, locked.
    async fn lock_where(
        &self,
        conn: &mut Conn<D>,
        condition: &str,
        binds: &[Value],
        order: &str,
        skip: &str,
    ) -> Result<Option<Result<ShardRow, Error>>, sqlx::Error> {
        let sql = engine::placeholders::<D>(&format!(
            "SELECT {} FROM {} WHERE {condition}{order}{}{skip}",
            Self::selected(&SHARD_COLUMNS),
            self.table,
            D::DIALECT.row_lock,
        ));
        let rows = D::fetch_all(conn, &sql, binds, &Self::shard_decode()).await?;
        Ok(rows.into_iter().next().map(|row| self.shard_row(&row)))
    }

    fn shard_decode() -> [DecodeAs; 10] {
        use DecodeAs::{Int, Text};
        [Int, Text, Text, Text, Text, Text, Int, Int, Int, Int]
    }

    fn shard_row(&self, row: &[Value]) -> Result<ShardRow, Error> {
        let count = |v: &Value| v.int().map_or(0, |i| u64::try_from(i).unwrap_or(0));
        Ok(ShardRow {
            shard: row[0].int().unwrap_or(0),
            fingerprint: row[1].text().unwrap_or_default().to_string(),
            cursor: self.parse_cursor(row[2].text())?,
            done: row[3].text() == Some(DONE),
            end: self.parse_cursor(row[4].text())?,
            plan: row[5].text().map(str::to_string),
            paused: row[6].int().unwrap_or(0) != 0,
            max_rows_per_sec: row[7].int().and_then(|r| u64::try_from(r).ok()),
            batches: count(&row[8]),
            max_workers: row[9].int().and_then(|r| u64::try_from(r).ok()),
        })
    }

    /// Every shard row of the job, unlocked, in shard order (the slot rows left out).
    pub(crate) async fn shards(&self, conn: &mut Conn<D>) -> Result<Vec<ShardRow>, Error> {
        let sql = engine::placeholders::<D>(&format!(
            "SELECT {} FROM {} WHERE {} AND {} >= 0 ORDER BY {}",
            Self::selected(&SHARD_COLUMNS),
            self.table,
            self.where_job(),
            Self::quoted("shard"),
            Self::quoted("shard")
        ));
        let rows = D::fetch_all(
            conn,
            &sql,
            &[Value::Text(self.job.clone())],
            &Self::shard_decode(),
        )
        .await
        .map_err(self.db_error("reading the shards of the job from the"))?;
        rows.iter().map(|row| self.shard_row(row)).collect()
    }

    /// Rows written by every shard of the job so far, and the rate limit set from outside
    /// (for the rate limit shared by workers).
    pub(crate) async fn rows_written(
        &self,
        conn: &mut Conn<D>,
    ) -> Result<(u64, Option<u64>), sqlx::Error> {
        let sql = engine::placeholders::<D>(&format!(
            "SELECT CAST(COALESCE(SUM({}), 0) AS {int}), CAST(MAX({}) AS {int}) FROM {} WHERE {}",
            Self::quoted("rows_written"),
            Self::quoted("max_rows_per_sec"),
            self.table,
            self.where_job(),
            int = D::BIGINT_CAST,
        ));
        let rows = D::fetch_all(
            conn,
            &sql,
            &[Value::Text(self.job.clone())],
            &[DecodeAs::Int, DecodeAs::Int],
        )
        .await?;
        let count = |v: Option<&Value>| v.and_then(Value::int).and_then(|n| u64::try_from(n).ok());
        let row = rows.first();
        Ok((
            count(row.map(|r| &r[0])).unwrap_or(0),
            count(row.map(|r| &r[1])),
        ))
    }

    fn parse_cursor(&self, text: Option<&str>) -> Result<Option<Key>, Error> {
        text.map(|t| Key::from_json(t, &self.kinds))
            .transpose()
            .map_err(|problem| Error::BadCursor {
                job: self.job.clone(),
                problem,
            })
    }

    /// Starts the job over: its other shards (and slot rows) deleted, shard 0 reset to the
    /// whole key span; the control set from outside is kept, except a worker limit the run
    /// asks for (`RunOptions::max_workers`).
    async fn restart(
        &self,
        conn: &mut Conn<D>,
        fingerprint: &str,
        plan: &str,
    ) -> Result<(), sqlx::Error> {
        let others = engine::placeholders::<D>(&format!(
            "DELETE FROM {} WHERE {} AND {} <> 0",
            self.table,
            self.where_job(),
            Self::quoted("shard")
        ));
        D::execute(conn, &others, &[Value::Text(self.job.clone())]).await?;
        if let Some(limit) = self.initial_max_workers {
            let sql = engine::placeholders::<D>(&format!(
                "UPDATE {} SET {} = CAST(? AS {}) WHERE {}",
                self.table,
                Self::quoted("max_workers"),
                D::BIGINT_CAST,
                self.where_shard()
            ));
            let [job, shard] = self.shard_binds(0);
            D::execute(conn, &sql, &[Value::Int(i64::from(limit)), job, shard]).await?;
        }
        let col = Self::quoted;
        let sql = engine::placeholders::<D>(&format!(
            "UPDATE {} SET {} = ?, {} = NULL, {} = '{RUNNING}', {} = 0, {} = 0, {} = 0, {} = ?, {} = ?, {} = NULL, {} = NULL, {} = ? WHERE {}",
            self.table,
            col("fingerprint"),
            col("cursor"),
            col("status"),
            col("rows_written"),
            col("batches"),
            col("keys"),
            col("started_at"),
            col("updated_at"),
            col("finished_at"),
            col("shard_end"),
            col("plan"),
            self.where_shard()
        ));
        let now = Value::Time(Utc::now());
        let [job, shard] = self.shard_binds(0);
        let binds = [
            Value::Text(fingerprint.to_string()),
            now.clone(),
            now,
            Value::Text(plan.to_string()),
            job,
            shard,
        ];
        D::execute(conn, &sql, &binds).await.map(drop)
    }

    /// Moves the shard's cursor to `hi` and adds the batch's counts (in the batch's
    /// transaction).
    pub(crate) async fn advance(
        &self,
        conn: &mut Conn<D>,
        shard: i64,
        hi: &Key,
        rows: u64,
        keys: u64,
    ) -> Result<(), sqlx::Error> {
        let col = Self::quoted;
        let sql = engine::placeholders::<D>(&format!(
            "UPDATE {} SET {c} = ?, {r} = {r} + ?, {b} = {b} + 1, {k} = {k} + ?, {u} = ? WHERE {}",
            self.table,
            self.where_shard(),
            c = col("cursor"),
            r = col("rows_written"),
            b = col("batches"),
            k = col("keys"),
            u = col("updated_at"),
        ));
        let [job, shard] = self.shard_binds(shard);
        let binds = [
            Value::Text(hi.to_json()),
            Value::Int(i64::try_from(rows).unwrap_or(i64::MAX)),
            Value::Int(i64::try_from(keys).unwrap_or(i64::MAX)),
            Value::Time(Utc::now()),
            job,
            shard,
        ];
        D::execute(conn, &sql, &binds).await.map(drop)
    }

    /// Marks the shard done (in the transaction that found no more keys in it).
    pub(crate) async fn mark_done(
        &self,
        conn: &mut Conn<D>,
        shard: i64,
    ) -> Result<(), sqlx::Error> {
        let sql = engine::placeholders::<D>(&format!(
            "UPDATE {} SET {} = '{DONE}', {} = ?, {} = ? WHERE {}",
            self.table,
            Self::quoted("status"),
            Self::quoted("finished_at"),
            Self::quoted("updated_at"),
            self.where_shard()
        ));
        let now = Value::Time(Utc::now());
        let [job, shard] = self.shard_binds(shard);
        D::execute(conn, &sql, &[now.clone(), now, job, shard])
            .await
            .map(drop)
    }

    /// Pauses, resumes, sets the rate limit or the worker limit of every worker of the job:
    /// one UPDATE of all its rows (waiting for a batch in flight to commit). `false` if the
    /// job has no row. A worker limit also creates the slot rows it needs.
    pub(crate) async fn control(
        &self,
        conn: &mut Conn<D>,
        control: Control,
    ) -> Result<bool, Error> {
        if let Control::Workers(Some(limit)) = control {
            Self::valid_worker_limit(&self.job, limit, "a worker limit of")?;
        }
        if let (Control::Workers(None), Engine::Sqlite) = (control, D::ENGINE) {
            return Err(Error::Options(format!(
                "job `{}`: SQLite has one writer for the whole database, so its jobs run one worker and have no worker limit to lift",
                self.job
            )));
        }
        if !self.exists(conn).await? {
            return Ok(false);
        }
        self.add_columns(conn).await?;
        let (column, (value_sql, value)) = match control {
            Control::Pause => ("paused", Self::optional_int(Some(1))),
            Control::Resume => ("paused", Self::optional_int(Some(0))),
            Control::Rate(rate) => ("max_rows_per_sec", Self::optional_int(rate)),
            Control::Workers(limit) => ("max_workers", Self::optional_int(limit.map(u64::from))),
        };
        let sql = engine::placeholders::<D>(&format!(
            "UPDATE {} SET {} = {value_sql}, {} = ? WHERE {}",
            self.table,
            Self::quoted(column),
            Self::quoted("updated_at"),
            self.where_job()
        ));
        let mut binds: Vec<Value> = value.into_iter().collect();
        binds.extend([Value::Time(Utc::now()), Value::Text(self.job.clone())]);
        let changed = D::execute(conn, &sql, &binds)
            .await
            .map_err(self.db_error("changing the control of the job in the"))?;
        // Twice: a split copies the control from the shard it locks, so a split that held
        // its shard while the first UPDATE waited for it inserted a row that UPDATE did not
        // see (it was not in its snapshot). Every such split has committed by now, and every
        // later one copies the new value.
        D::execute(conn, &sql, &binds)
            .await
            .map_err(self.db_error("changing the control of the job in the"))?;
        if let Control::Workers(Some(limit)) = control {
            if changed > 0 {
                self.ensure_slots(conn, u64::from(limit))
                    .await
                    .map_err(self.db_error("creating the worker slots of the job in the"))?;
            }
        }
        Ok(changed > 0)
    }

    /// Locks a free slot of a worker limit of `limit` in the batch's transaction (`SKIP
    /// LOCKED`): its number, 1 to `limit`, or `None` when every one is in another batch (or
    /// not created yet, see [`ensure_slots`](Self::ensure_slots)). The slots are read in
    /// primary-key order, so the one row returned is the one row locked.
    pub(crate) async fn lock_slot(
        &self,
        conn: &mut Conn<D>,
        limit: u64,
    ) -> Result<Option<u64>, sqlx::Error> {
        let shard = Self::quoted("shard");
        let sql = engine::placeholders::<D>(&format!(
            "SELECT CAST({shard} AS {}) FROM {} WHERE {} AND {shard} < 0 AND {shard} >= ? ORDER BY {shard} DESC LIMIT 1{} SKIP LOCKED",
            D::BIGINT_CAST,
            self.table,
            self.where_job(),
            D::DIALECT.row_lock,
        ));
        let binds = [Value::Text(self.job.clone()), Value::Int(slot_shard(limit))];
        let rows = D::fetch_all(conn, &sql, &binds, &[DecodeAs::Int]).await?;
        Ok(rows
            .first()
            .and_then(|r| r[0].int())
            .and_then(|n| u64::try_from(-n).ok()))
    }

    /// The job's worker limit as committed now (shard 0's row, unlocked): what a worker that
    /// found no free slot reads to learn that the limit was raised or lifted.
    pub(crate) async fn worker_limit(
        &self,
        conn: &mut Conn<D>,
    ) -> Result<Option<u64>, sqlx::Error> {
        let sql = engine::placeholders::<D>(&format!(
            "SELECT {} FROM {} WHERE {}",
            Self::quoted("max_workers"),
            self.table,
            self.where_shard()
        ));
        let rows = D::fetch_all(conn, &sql, &self.shard_binds(0), &[DecodeAs::Int]).await?;
        Ok(rows
            .first()
            .and_then(|r| r[0].int())
            .and_then(|n| u64::try_from(n).ok()))
    }

    /// Creates the slot rows `-1..=-limit` the job lacks (a limit just set or raised, set when
    /// the job started, or kept across a restart, which deleted them), each committed on its
    /// own, outside any batch. Only missing ones are inserted: an insert that met an existing
    /// slot would wait for the batch holding it. `true` if it created any.
    pub(crate) async fn ensure_slots(
        &self,
        conn: &mut Conn<D>,
        limit: u64,
    ) -> Result<bool, sqlx::Error> {
        let shard = Self::quoted("shard");
        let sql = engine::placeholders::<D>(&format!(
            "SELECT CAST({shard} AS {}) FROM {} WHERE {} AND {shard} < 0 AND {shard} >= ?",
            D::BIGINT_CAST,
            self.table,
            self.where_job(),
        ));
        let binds = [Value::Text(self.job.clone()), Value::Int(slot_shard(limit))];
        let existing: Vec<i64> = D::fetch_all(conn, &sql, &binds, &[DecodeAs::Int])
            .await?
            .iter()
            .filter_map(|r| r[0].int())
            .collect();
        let missing: Vec<i64> = (1..=limit)
            .map(slot_shard)
            .filter(|n| !existing.contains(n))
            .collect();
        if missing.is_empty() {
            return Ok(false);
        }
        // The job's own values, so the slot rows look like its other rows.
        let Ok(rows) = self.shards(conn).await else {
            return Ok(false);
        };
        let Some(first) = rows.first() else {
            return Ok(false);
        };
        for shard in missing {
            self.insert_shard(
                conn,
                ShardInsert {
                    shard,
                    status: DONE,
                    fingerprint: &first.fingerprint,
                    cursor: None,
                    end: None,
                    plan: first.plan.as_deref().unwrap_or("1 worker"),
                    paused: first.paused,
                    max_rows_per_sec: first.max_rows_per_sec,
                    max_workers: first.max_workers,
                },
                true,
            )
            .await?;
        }
        Ok(true)
    }

    /// The job's rows, summed, with one line per shard; `None` if the table or the job does
    /// not exist.
    pub(crate) async fn status(&self, conn: &mut Conn<D>) -> Result<Option<JobStatus>, Error> {
        if !self.exists(conn).await? {
            return Ok(None);
        }
        // A table of an older version shows what it has: the shard and control columns came
        // first, the worker limit later.
        let added = self.has_columns(conn, &ADDED[..4]).await?;
        let limited = added && self.has_columns(conn, &ADDED[4..]).await?;
        let mut columns = vec![
            "shard",
            "fingerprint",
            "status",
            "cursor",
            "rows_written",
            "batches",
            "keys",
            "started_at",
            "updated_at",
            "finished_at",
        ];
        if added {
            columns.extend(["shard_end", "paused", "max_rows_per_sec"]);
        }
        if limited {
            columns.push("max_workers");
        }
        let sql = engine::placeholders::<D>(&format!(
            "SELECT {} FROM {} WHERE {} AND {} >= 0 ORDER BY {}",
            Self::selected(&columns),
            self.table,
            self.where_job(),
            Self::quoted("shard"),
            Self::quoted("shard")
        ));
        use DecodeAs::{Int, Text, Time};
        let mut decode = vec![Int, Text, Text, Text, Int, Int, Int, Time, Time, Time];
        if added {
            decode.extend([Text, Int, Int]);
        }
        if limited {
            decode.push(Int);
        }
        let rows = D::fetch_all(conn, &sql, &[Value::Text(self.job.clone())], &decode)
            .await
            .map_err(self.db_error("reading the job from the"))?;
        let count = |v: &Value| v.int().map_or(0, |i| u64::try_from(i).unwrap_or(0));
        let mut shards = Vec::new();
        for row in &rows {
            let started_at = row[7].time().unwrap_or_default();
            shards.push(ShardStatus {
                shard: row[0].int().unwrap_or(0),
                state: row[2].text().unwrap_or_default().to_string(),
                cursor: self.parse_cursor(row[3].text())?,
                end: if added {
                    self.parse_cursor(row[10].text())?
                } else {
                    None
                },
                rows_written: count(&row[4]),
                batches: count(&row[5]),
                keys: count(&row[6]),
                started_at,
                updated_at: row[8].time().unwrap_or(started_at),
                finished_at: row[9].time(),
            });
        }
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let done = shards.iter().all(|s| s.state == DONE);
        let zero = &shards[0];
        Ok(Some(JobStatus {
            job: self.job.clone(),
            fingerprint: first[1].text().unwrap_or_default().to_string(),
            state: if done { DONE } else { RUNNING }.to_string(),
            cursor: zero.cursor.clone(),
            rows_written: shards.iter().map(|s| s.rows_written).sum(),
            batches: shards.iter().map(|s| s.batches).sum(),
            keys: shards.iter().map(|s| s.keys).sum(),
            started_at: shards
                .iter()
                .map(|s| s.started_at)
                .min()
                .unwrap_or_default(),
            updated_at: shards
                .iter()
                .map(|s| s.updated_at)
                .max()
                .unwrap_or_default(),
            finished_at: if done {
                shards.iter().filter_map(|s| s.finished_at).max()
            } else {
                None
            },
            paused: added && first[11].int().unwrap_or(0) != 0,
            max_rows_per_sec: if added {
                first[12].int().and_then(|r| u64::try_from(r).ok())
            } else {
                None
            },
            max_workers: if limited {
                first[13].int().and_then(|r| u32::try_from(r).ok())
            } else {
                None
            },
            shards: if shards.len() > 1 { shards } else { Vec::new() },
            scan: None,
        }))
    }

    /// Deletes the job's rows, every shard; `true` if there was one.
    pub(crate) async fn delete(&self, conn: &mut Conn<D>) -> Result<bool, Error> {
        if !self.exists(conn).await? {
            return Ok(false);
        }
        let sql = engine::placeholders::<D>(&format!(
            "DELETE FROM {} WHERE {}",
            self.table,
            self.where_job()
        ));
        let deleted = D::execute(conn, &sql, &[Value::Text(self.job.clone())])
            .await
            .map_err(self.db_error("deleting the job from the"))?;
        Ok(deleted > 0)
    }
}

/// [`BackfillPool::status`](crate::pool::BackfillPool::status) on any engine.
pub(crate) async fn status<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    options: &RunOptions,
) -> Result<Option<JobStatus>, Error> {
    status_in::<D>(pool, ProgressStore::<D>::new(def, options)?).await
}

/// The status of the scan's partials phase, `options.job` its job
/// ([`ProgressStore::partials`]).
pub(crate) async fn partials_status<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    options: &RunOptions,
) -> Result<Option<JobStatus>, Error> {
    status_in::<D>(pool, ProgressStore::<D>::partials(def, options)?).await
}

async fn status_in<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    store: ProgressStore<D>,
) -> Result<Option<JobStatus>, Error> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| Error::database("connecting to read the job's status", e))?;
    store.status(&mut conn).await
}

/// [`BackfillPool::reset`](crate::pool::BackfillPool::reset) on any engine.
pub(crate) async fn reset<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    options: &RunOptions,
) -> Result<bool, Error> {
    let store = ProgressStore::<D>::new(def, options)?;
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| Error::database("connecting to reset the job", e))?;
    store.delete(&mut conn).await
}

/// [`BackfillPool::control`](crate::pool::BackfillPool::control) on any engine.
pub(crate) async fn control<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    options: &RunOptions,
    control: Control,
) -> Result<bool, Error> {
    let store = ProgressStore::<D>::new(def, options)?;
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| Error::database("connecting to control the job", e))?;
    store.control(&mut conn, control).await
}

#[cfg(all(test, feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod tests {
    use super::*;

    #[test]
    fn a_plan_reads_back_as_its_workers() {
        for n in [1, 2, 4, 64] {
            assert_eq!(plan_workers(&plan_text(n)), Some(n));
        }
        for other in ["", "workers", "0 workers", "two workers", "2 shards", "2"] {
            assert_eq!(plan_workers(other), None, "{other:?}");
        }
    }

    /// The DDL each engine got when it was written out per engine, with the shard and control
    /// columns after the first versions' eleven, and the worker limit last.
    #[test]
    fn the_progress_table_is_declared_as_before_on_every_engine() {
        use crate::engine::{mysql::MySqlEngine, postgres::PgEngine, sqlite::SqliteEngine};
        assert_eq!(
            ProgressStore::<PgEngine>::ddl("\"p\""),
            "CREATE TABLE IF NOT EXISTS \"p\" (\"job\" TEXT NOT NULL, \"shard\" INTEGER NOT NULL DEFAULT 0, \"fingerprint\" TEXT NOT NULL, \"cursor\" TEXT NULL, \"status\" TEXT NOT NULL, \"rows_written\" BIGINT NOT NULL DEFAULT 0, \"batches\" BIGINT NOT NULL DEFAULT 0, \"keys\" BIGINT NOT NULL DEFAULT 0, \"started_at\" TIMESTAMPTZ NOT NULL, \"updated_at\" TIMESTAMPTZ NOT NULL, \"finished_at\" TIMESTAMPTZ NULL, \"shard_end\" TEXT NULL, \"plan\" TEXT NULL, \"paused\" INTEGER NOT NULL DEFAULT 0, \"max_rows_per_sec\" BIGINT NULL, \"max_workers\" BIGINT NULL, PRIMARY KEY (\"job\", \"shard\"))"
        );
        assert_eq!(
            ProgressStore::<SqliteEngine>::ddl("\"p\""),
            "CREATE TABLE IF NOT EXISTS \"p\" (\"job\" TEXT NOT NULL, \"shard\" INTEGER NOT NULL DEFAULT 0, \"fingerprint\" TEXT NOT NULL, \"cursor\" TEXT NULL, \"status\" TEXT NOT NULL, \"rows_written\" INTEGER NOT NULL DEFAULT 0, \"batches\" INTEGER NOT NULL DEFAULT 0, \"keys\" INTEGER NOT NULL DEFAULT 0, \"started_at\" TEXT NOT NULL, \"updated_at\" TEXT NOT NULL, \"finished_at\" TEXT NULL, \"shard_end\" TEXT NULL, \"plan\" TEXT NULL, \"paused\" INTEGER NOT NULL DEFAULT 0, \"max_rows_per_sec\" INTEGER NULL, \"max_workers\" INTEGER NULL, PRIMARY KEY (\"job\", \"shard\"))"
        );
        assert_eq!(
            ProgressStore::<MySqlEngine>::ddl("`p`"),
            "CREATE TABLE IF NOT EXISTS `p` (`job` VARCHAR(191) NOT NULL, `shard` INT NOT NULL DEFAULT 0, `fingerprint` VARCHAR(191) NOT NULL, `cursor` LONGTEXT NULL, `status` VARCHAR(32) NOT NULL, `rows_written` BIGINT NOT NULL DEFAULT 0, `batches` BIGINT NOT NULL DEFAULT 0, `keys` BIGINT NOT NULL DEFAULT 0, `started_at` DATETIME(6) NOT NULL, `updated_at` DATETIME(6) NOT NULL, `finished_at` DATETIME(6) NULL, `shard_end` LONGTEXT NULL, `plan` VARCHAR(191) NULL, `paused` INT NOT NULL DEFAULT 0, `max_rows_per_sec` BIGINT NULL, `max_workers` BIGINT NULL, PRIMARY KEY (`job`, `shard`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        );
        assert_eq!(
            PgEngine::insert_if_missing_suffix(),
            " ON CONFLICT (\"job\", \"shard\") DO NOTHING"
        );
        assert_eq!(
            SqliteEngine::insert_if_missing_suffix(),
            " ON CONFLICT (\"job\", \"shard\") DO NOTHING"
        );
    }
}
