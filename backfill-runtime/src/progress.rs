//! The progress table: one row per (job, shard) holding the cursor, committed in the same
//! transaction as the batch it describes, so a crash anywhere leaves cursor and data consistent.
//!
//! The table is created if missing and its shape checked (every column, a unique key on
//! (job, shard)) before it is trusted. The cursor is stored as JSON text ([`Key::to_json`]).

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

use crate::definition::{Definition, KeyKind};
use crate::engine::{
    self, Conn, DecodeAs, Driver, ProgressType, TableName, TableShape, Timeouts, Value,
};
use crate::error::Error;
use crate::options::{JobStatus, RunOptions};
use crate::value::Key;

/// The columns a progress table must have, in the order the runtime creates them.
const COLUMNS: [&str; 11] = [
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
];

/// How each of [`COLUMNS`] is declared: its kind (the engine names the type) and the rest.
const DECLARED: [(ProgressType, &str); 11] = [
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
];

const RUNNING: &str = "running";
const DONE: &str = "done";

/// The job's row as a batch sees it after locking it.
#[derive(Debug, Clone)]
pub(crate) struct ProgressRow {
    pub fingerprint: String,
    pub cursor: Option<Key>,
    pub done: bool,
}

/// What registering a run found.
#[derive(Debug, Clone)]
pub(crate) enum Registration {
    /// The job is not done: start or resume at `cursor`.
    Resume { cursor: Option<Key> },
    /// The job was done before this run (and no restart was asked).
    AlreadyDone { cursor: Option<Key> },
}

/// One job's row in one progress table, on one engine.
pub(crate) struct ProgressStore<D> {
    written: String,
    name: TableName,
    table: String,
    job: String,
    shard: i64,
    kinds: Vec<KeyKind>,
    _driver: PhantomData<fn() -> D>,
}

impl<D: Driver> ProgressStore<D> {
    /// The store of `options`' job (default: the definition's) in `options`' progress table.
    pub(crate) fn new(def: &Definition, options: &RunOptions) -> Result<Self, Error> {
        let name = TableName::parse(&options.progress_table)?;
        Ok(ProgressStore {
            written: options.progress_table.clone(),
            table: D::quote_table(&name),
            name,
            job: options.job.clone().unwrap_or_else(|| def.job.to_string()),
            shard: 0,
            kinds: engine::key_kinds(def),
            _driver: PhantomData,
        })
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

    /// `CREATE TABLE IF NOT EXISTS` of the progress table (`table` already quoted).
    fn ddl(table: &str) -> String {
        let columns: Vec<String> = COLUMNS
            .iter()
            .zip(DECLARED)
            .map(|(name, (kind, rest))| {
                format!("{} {} {rest}", Self::quoted(name), D::progress_type(kind))
            })
            .collect();
        format!(
            "CREATE TABLE IF NOT EXISTS {table} ({}, PRIMARY KEY ({}, {})){}",
            columns.join(", "),
            Self::quoted("job"),
            Self::quoted("shard"),
            D::DIALECT.table_options
        )
    }

    fn where_job(&self) -> String {
        format!(
            "{} = ? AND {} = ?",
            Self::quoted("job"),
            Self::quoted("shard")
        )
    }

    fn job_binds(&self) -> [Value; 2] {
        [Value::Text(self.job.clone()), Value::Int(self.shard)]
    }

    fn db_error(&self, doing: &str) -> impl FnOnce(sqlx::Error) -> Error + '_ {
        let context = format!(
            "{doing} progress table {} (job `{}`)",
            self.written, self.job
        );
        move |e| Error::database(context, e)
    }

    /// Checks the shape of an existing table: every column, and a unique key on (job, shard).
    fn validate(&self, shape: &TableShape) -> Result<(), Error> {
        let has = |c: &str| shape.columns.iter().any(|x| x.name.eq_ignore_ascii_case(c));
        let missing: Vec<&str> = COLUMNS.iter().copied().filter(|c| !has(c)).collect();
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

    /// Whether the table exists (checking its shape if it does).
    pub(crate) async fn exists(&self, conn: &mut Conn<D>) -> Result<bool, Error> {
        let shape = D::table_shape(conn, &self.name)
            .await
            .map_err(|e| self.db_error("reading the columns of")(e.source))?;
        match shape {
            Some(shape) => self.validate(&shape).map(|()| true),
            None => Ok(false),
        }
    }

    /// Creates the table if it is missing, then checks its shape.
    pub(crate) async fn ensure(&self, conn: &mut Conn<D>) -> Result<(), Error> {
        if self.exists(conn).await? {
            let name = TableName::parse(&self.written)?;
            return D::upgrade_progress_table(conn, &self.table, &name)
                .await
                .map_err(self.db_error("upgrading the"));
        }
        let ddl = Self::ddl(&self.table);
        if let Err(e) = D::execute(conn, &ddl, &[]).await {
            // Another worker may have created it at the same moment (PostgreSQL reports a
            // unique violation on pg_type for the loser of that race): look again.
            if !self.exists(conn).await? {
                return Err(self.db_error("creating the")(e));
            }
        }
        if self.exists(conn).await? {
            Ok(())
        } else {
            Err(Error::ProgressTable {
                table: self.written.clone(),
                problem: "was created but cannot be found under that name".to_string(),
            })
        }
    }

    /// Registers the run: creates the table and inserts the job's row if missing (a concurrent
    /// insert of the same job is ignored), then, with the row locked, resets it (`restart`),
    /// refuses a changed definition, or reports a finished job. Waits for locks no longer than
    /// the run's lock timeout.
    pub(crate) async fn register(
        &self,
        conn: &mut Conn<D>,
        session: D::Session,
        timeouts: Timeouts,
        fingerprint: &str,
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
            self.insert_if_missing(&mut tx, fingerprint).await?;
            self.settle(tx, fingerprint, restart).await
        } else {
            // A concurrent CREATE TABLE inside a transaction would abort it: create outside.
            self.ensure(conn).await?;
            self.insert_if_missing(conn, fingerprint).await?;
            let tx = D::begin_batch(conn, session, timeouts)
                .await
                .map_err(locking)?;
            self.settle(tx, fingerprint, restart).await
        }
    }

    async fn insert_if_missing(&self, conn: &mut Conn<D>, fingerprint: &str) -> Result<(), Error> {
        let now = Value::Time(Utc::now());
        let insert = engine::placeholders::<D>(&format!(
            "INSERT INTO {} ({}) VALUES (?, ?, ?, NULL, '{RUNNING}', 0, 0, 0, ?, ?){}",
            self.table,
            Self::quoted_list(&COLUMNS[..10]),
            D::insert_if_missing_suffix()
        ));
        let [job, shard] = self.job_binds();
        let binds = [
            job,
            shard,
            Value::Text(fingerprint.to_string()),
            now.clone(),
            now,
        ];
        D::execute(conn, &insert, &binds)
            .await
            .map(drop)
            .map_err(self.db_error("registering the job in the"))
    }

    /// With the row locked in `tx`: restart, refuse, or report; commits unless refusing.
    async fn settle(
        &self,
        mut tx: sqlx::Transaction<'_, D::Db>,
        fingerprint: &str,
        restart: bool,
    ) -> Result<Registration, Error> {
        let row = self
            .lock(&mut tx)
            .await
            .map_err(self.db_error("locking the job's row in the"))?;
        let Some(row) = row.transpose()? else {
            return Err(Error::ProgressTable {
                table: self.written.clone(),
                problem: format!("lost the row of job `{}` right after inserting it (was it reset concurrently?); run again", self.job),
            });
        };
        if restart {
            self.restart(&mut tx, fingerprint)
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
        tx.commit()
            .await
            .map_err(self.db_error("reading the job from the"))?;
        Ok(if row.done {
            Registration::AlreadyDone { cursor: row.cursor }
        } else {
            Registration::Resume { cursor: row.cursor }
        })
    }

    /// Locks and reads the job's row inside a batch transaction (`FOR UPDATE`; on SQLite the
    /// transaction's `BEGIN IMMEDIATE` already holds the write lock). `None` if there is no row;
    /// the inner error is a cursor that cannot be read.
    pub(crate) async fn lock(
        &self,
        conn: &mut Conn<D>,
    ) -> Result<Option<Result<ProgressRow, Error>>, sqlx::Error> {
        let sql = engine::placeholders::<D>(&format!(
            "SELECT {} FROM {} WHERE {}{}",
            Self::quoted_list(&["fingerprint", "cursor", "status"]),
            self.table,
            self.where_job(),
            D::DIALECT.row_lock
        ));
        let rows = D::fetch_all(
            conn,
            &sql,
            &self.job_binds(),
            &[DecodeAs::Text, DecodeAs::Text, DecodeAs::Text],
        )
        .await?;
        Ok(rows.into_iter().next().map(|row| {
            let cursor = self.parse_cursor(row[1].text())?;
            Ok(ProgressRow {
                fingerprint: row[0].text().unwrap_or_default().to_string(),
                cursor,
                done: row[2].text() == Some(DONE),
            })
        }))
    }

    fn parse_cursor(&self, text: Option<&str>) -> Result<Option<Key>, Error> {
        text.map(|t| Key::from_json(t, &self.kinds))
            .transpose()
            .map_err(|problem| Error::BadCursor {
                job: self.job.clone(),
                problem,
            })
    }

    async fn restart(&self, conn: &mut Conn<D>, fingerprint: &str) -> Result<(), sqlx::Error> {
        let col = Self::quoted;
        let sql = engine::placeholders::<D>(&format!(
            "UPDATE {} SET {} = ?, {} = NULL, {} = '{RUNNING}', {} = 0, {} = 0, {} = 0, {} = ?, {} = ?, {} = NULL WHERE {}",
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
            self.where_job()
        ));
        let now = Value::Time(Utc::now());
        let [job, shard] = self.job_binds();
        let binds = [
            Value::Text(fingerprint.to_string()),
            now.clone(),
            now,
            job,
            shard,
        ];
        D::execute(conn, &sql, &binds).await.map(drop)
    }

    /// Moves the cursor to `hi` and adds the batch's counts (in the batch's transaction).
    pub(crate) async fn advance(
        &self,
        conn: &mut Conn<D>,
        hi: &Key,
        rows: u64,
        keys: u64,
    ) -> Result<(), sqlx::Error> {
        let col = Self::quoted;
        let sql = engine::placeholders::<D>(&format!(
            "UPDATE {} SET {c} = ?, {r} = {r} + ?, {b} = {b} + 1, {k} = {k} + ?, {u} = ? WHERE {}",
            self.table,
            self.where_job(),
            c = col("cursor"),
            r = col("rows_written"),
            b = col("batches"),
            k = col("keys"),
            u = col("updated_at"),
        ));
        let [job, shard] = self.job_binds();
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

    /// Marks the job done (in the transaction that found no more keys).
    pub(crate) async fn mark_done(&self, conn: &mut Conn<D>) -> Result<(), sqlx::Error> {
        let sql = engine::placeholders::<D>(&format!(
            "UPDATE {} SET {} = '{DONE}', {} = ?, {} = ? WHERE {}",
            self.table,
            Self::quoted("status"),
            Self::quoted("finished_at"),
            Self::quoted("updated_at"),
            self.where_job()
        ));
        let now = Value::Time(Utc::now());
        let [job, shard] = self.job_binds();
        D::execute(conn, &sql, &[now.clone(), now, job, shard])
            .await
            .map(drop)
    }

    /// The job's row; `None` if the table or the row does not exist.
    pub(crate) async fn status(&self, conn: &mut Conn<D>) -> Result<Option<JobStatus>, Error> {
        if !self.exists(conn).await? {
            return Ok(None);
        }
        let sql = engine::placeholders::<D>(&format!(
            "SELECT {} FROM {} WHERE {}",
            Self::quoted_list(&[
                "fingerprint",
                "status",
                "cursor",
                "rows_written",
                "batches",
                "keys",
                "started_at",
                "updated_at",
                "finished_at"
            ]),
            self.table,
            self.where_job()
        ));
        use DecodeAs::{Int, Text, Time};
        let rows = D::fetch_all(
            conn,
            &sql,
            &self.job_binds(),
            &[Text, Text, Text, Int, Int, Int, Time, Time, Time],
        )
        .await
        .map_err(self.db_error("reading the job from the"))?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let count = |v: &Value| v.int().map_or(0, |i| u64::try_from(i).unwrap_or(0));
        let started_at = row[6].time().unwrap_or_default();
        Ok(Some(JobStatus {
            job: self.job.clone(),
            fingerprint: row[0].text().unwrap_or_default().to_string(),
            state: row[1].text().unwrap_or_default().to_string(),
            cursor: self.parse_cursor(row[2].text())?,
            rows_written: count(&row[3]),
            batches: count(&row[4]),
            keys: count(&row[5]),
            started_at,
            updated_at: row[7].time().unwrap_or(started_at),
            finished_at: row[8].time(),
        }))
    }

    /// Deletes the job's row; `true` if there was one.
    pub(crate) async fn delete(&self, conn: &mut Conn<D>) -> Result<bool, Error> {
        if !self.exists(conn).await? {
            return Ok(false);
        }
        let sql = engine::placeholders::<D>(&format!(
            "DELETE FROM {} WHERE {}",
            self.table,
            self.where_job()
        ));
        let deleted = D::execute(conn, &sql, &self.job_binds())
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
    let store = ProgressStore::<D>::new(def, options)?;
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

#[cfg(all(test, feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod tests {
    use super::*;

    /// The DDL each engine got when it was written out per engine.
    #[test]
    fn the_progress_table_is_declared_as_before_on_every_engine() {
        use crate::engine::{mysql::MySqlEngine, postgres::PgEngine, sqlite::SqliteEngine};
        assert_eq!(
            ProgressStore::<PgEngine>::ddl("\"p\""),
            "CREATE TABLE IF NOT EXISTS \"p\" (\"job\" TEXT NOT NULL, \"shard\" INTEGER NOT NULL DEFAULT 0, \"fingerprint\" TEXT NOT NULL, \"cursor\" TEXT NULL, \"status\" TEXT NOT NULL, \"rows_written\" BIGINT NOT NULL DEFAULT 0, \"batches\" BIGINT NOT NULL DEFAULT 0, \"keys\" BIGINT NOT NULL DEFAULT 0, \"started_at\" TIMESTAMPTZ NOT NULL, \"updated_at\" TIMESTAMPTZ NOT NULL, \"finished_at\" TIMESTAMPTZ NULL, PRIMARY KEY (\"job\", \"shard\"))"
        );
        assert_eq!(
            ProgressStore::<SqliteEngine>::ddl("\"p\""),
            "CREATE TABLE IF NOT EXISTS \"p\" (\"job\" TEXT NOT NULL, \"shard\" INTEGER NOT NULL DEFAULT 0, \"fingerprint\" TEXT NOT NULL, \"cursor\" TEXT NULL, \"status\" TEXT NOT NULL, \"rows_written\" INTEGER NOT NULL DEFAULT 0, \"batches\" INTEGER NOT NULL DEFAULT 0, \"keys\" INTEGER NOT NULL DEFAULT 0, \"started_at\" TEXT NOT NULL, \"updated_at\" TEXT NOT NULL, \"finished_at\" TEXT NULL, PRIMARY KEY (\"job\", \"shard\"))"
        );
        assert_eq!(
            ProgressStore::<MySqlEngine>::ddl("`p`"),
            "CREATE TABLE IF NOT EXISTS `p` (`job` VARCHAR(191) NOT NULL, `shard` INT NOT NULL DEFAULT 0, `fingerprint` VARCHAR(191) NOT NULL, `cursor` LONGTEXT NULL, `status` VARCHAR(32) NOT NULL, `rows_written` BIGINT NOT NULL DEFAULT 0, `batches` BIGINT NOT NULL DEFAULT 0, `keys` BIGINT NOT NULL DEFAULT 0, `started_at` DATETIME(6) NOT NULL, `updated_at` DATETIME(6) NOT NULL, `finished_at` DATETIME(6) NULL, PRIMARY KEY (`job`, `shard`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
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
