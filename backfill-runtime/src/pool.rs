//! The entry points the derive and the CLI call: [`BackfillPool`] is implemented for `PgPool`,
//! `MySqlPool` and `SqlitePool` (each behind its engine's feature), and for [`AnyPool`], the one
//! type holding a pool of any of them.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]

use std::future::Future;

use crate::access::SourceAccess;
use crate::definition::{Definition, Engine, Stmt, Strategy};
use crate::drift::SchemaDrift;
use crate::engine::{self, Driver, EngineDatabase};
use crate::error::Error;
use crate::options::{Control, JobStatus, Plan, Report, RunOptions};
use crate::verify::VerifyReport;

/// A connection pool a backfill can run on.
pub trait BackfillPool: Sync {
    /// The engine of this pool.
    fn engine(&self) -> Engine;

    /// Runs (or resumes) the backfill: preflight, then one transaction per key range.
    fn run_backfill(
        &self,
        definition: &'static Definition,
        options: RunOptions,
    ) -> impl Future<Output = Result<Report, Error>> + Send;

    /// Preflight only: checks the target's schema and prepares every statement; writes nothing.
    fn check(
        &self,
        definition: &'static Definition,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Recomputes every range read-only and compares it with the target.
    fn verify(
        &self,
        definition: &'static Definition,
    ) -> impl Future<Output = Result<VerifyReport, Error>> + Send;

    /// The job's progress row (`options.job` / `options.progress_table` respected); `None` if the
    /// job never ran or the progress table does not exist.
    fn status(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
    ) -> impl Future<Output = Result<Option<JobStatus>, Error>> + Send;

    /// Deletes the job's progress row, so the next run starts from the first key; `true` if
    /// there was one. The target table is not touched.
    fn reset(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Pauses or resumes every worker of the job, or sets its rate limit, from outside: the
    /// job's rows in the progress table change, and every worker of every process obeys at its
    /// next batch boundary. `false` if the job has no progress row (it never ran).
    fn control(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
        control: Control,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// The SQL of `stmt`, one of `definition`'s statements for this engine, exactly as a run
    /// executes it here: its holes (`CAST(expr AS <type of "column">)`, where a value is
    /// compared as the column would store it) filled with the target's column types, read
    /// from the catalog. A statement without holes comes back as generated.
    ///
    /// With the in-place `FullName` of the README (its `upsert_all` is one `UPDATE` of every row,
    /// compared as each column stores values):
    ///
    /// ```text
    /// let stmts = FullName::sql(Engine::Postgres).unwrap();
    /// let sql = pool.executable_sql(FullName::definition(), &stmts.upsert_all).await?;
    /// // Generated SQL with the catalog's column types filled in: assert it safe to sqlx.
    /// sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?; // the whole table, as one statement
    /// ```
    fn executable_sql(
        &self,
        definition: &'static Definition,
        stmt: &'static Stmt,
    ) -> impl Future<Output = Result<String, Error>> + Send;

    /// What a run would do: key span, estimated batches, the first range and its EXPLAIN.
    /// How the ranges read the source is [`BackfillPool::access_path`], apart because it reads
    /// a whole range.
    fn plan(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
    ) -> impl Future<Output = Result<Plan, Error>> + Send;

    /// How the ranges read the source, before a run: in key order, covered by an index, or
    /// scattered over the table, with the source's size against the buffer cache, the EXPLAIN
    /// of one range's read, one range read and timed (read-only, rolled back), and the
    /// covering index to create when the read is scattered. Writes nothing.
    ///
    /// The README's "Seeing a scattered read coming" runs it on SQLite:
    ///
    /// ```text
    /// let access = pool.access_path(UserStats::definition(), &RunOptions::default()).await?;
    /// if let Some(index) = access.analysed().and_then(|path| path.covering_index.as_ref()) {
    ///     println!("{}", index.ddl.join(";\n"));
    /// }
    /// ```
    fn access_path(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
    ) -> impl Future<Output = Result<SourceAccess, Error>> + Send;

    /// Where the live target table differs from the schema the build checked the mapping
    /// against (schema-checked builds: the service's migrations), naming each column; empty when
    /// the build had no migrations or nothing differs. `check` prints it; a run does not stop
    /// on it, since preflight checks the live table itself.
    fn schema_drift(
        &self,
        definition: &'static Definition,
    ) -> impl Future<Output = Result<Vec<SchemaDrift>, Error>> + Send;
}

/// One impl for every engine's pool: the statements for its engine, then the engine's
/// preflight and the shared batch loop, verify, progress store, plan and hole filling.
impl<DB> BackfillPool for sqlx::Pool<DB>
where
    DB: EngineDatabase,
{
    fn engine(&self) -> Engine {
        DB::Driver::ENGINE
    }

    async fn run_backfill(
        &self,
        definition: &'static Definition,
        options: RunOptions,
    ) -> Result<Report, Error> {
        let stmts = engine::statements(definition, DB::Driver::ENGINE)?;
        DB::Driver::preflight(self, definition, stmts).await?;
        let choosing = std::time::Instant::now();
        let chosen = crate::scan::choose::<DB::Driver>(self, definition, stmts, &options).await?;
        // A reason only when auto chose: a strategy asked for took no choosing.
        let strategy_elapsed = match chosen.reason {
            Some(_) => choosing.elapsed(),
            None => std::time::Duration::ZERO,
        };
        if let Some(reason) = &chosen.reason {
            tracing::info!(job = %options.job.as_deref().unwrap_or(definition.job), strategy = %chosen.strategy, reason = %reason, ms = strategy_elapsed.as_millis() as u64, "strategy chosen");
        }
        let mut report = if chosen.strategy == Strategy::Scan {
            crate::scan::run::<DB::Driver>(self, definition, stmts, options, chosen.reason).await?
        } else {
            let mut report =
                crate::batch::run::<DB::Driver>(self, definition, stmts, options).await?;
            report.strategy_reason = chosen.reason;
            report
        };
        report.strategy_elapsed = strategy_elapsed;
        Ok(report)
    }

    async fn check(&self, definition: &'static Definition) -> Result<(), Error> {
        let stmts = engine::statements(definition, DB::Driver::ENGINE)?;
        DB::Driver::preflight(self, definition, stmts).await
    }

    fn verify(
        &self,
        definition: &'static Definition,
    ) -> impl Future<Output = Result<VerifyReport, Error>> + Send {
        crate::verify::verify::<DB::Driver>(self, definition)
    }

    fn status(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
    ) -> impl Future<Output = Result<Option<JobStatus>, Error>> + Send {
        crate::scan::status::<DB::Driver>(self, definition, options)
    }

    fn reset(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        crate::progress::reset::<DB::Driver>(self, definition, options)
    }

    fn control(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
        control: Control,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        crate::progress::control::<DB::Driver>(self, definition, options, control)
    }

    fn executable_sql(
        &self,
        definition: &'static Definition,
        stmt: &'static Stmt,
    ) -> impl Future<Output = Result<String, Error>> + Send {
        crate::coerce::executable_sql::<DB::Driver>(self, definition, stmt)
    }

    async fn plan(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
    ) -> Result<Plan, Error> {
        let stmts = engine::statements(definition, DB::Driver::ENGINE)?;
        let strategy = crate::scan::planned::<DB::Driver>(self, definition, stmts, options).await;
        crate::engine::plan::plan::<DB::Driver>(self, definition, options, strategy).await
    }

    fn access_path(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
    ) -> impl Future<Output = Result<SourceAccess, Error>> + Send {
        crate::engine::plan::access_path::<DB::Driver>(self, definition, options)
    }

    async fn schema_drift(
        &self,
        definition: &'static Definition,
    ) -> Result<Vec<SchemaDrift>, Error> {
        let mut conn = self.acquire().await.map_err(|e| {
            Error::database(
                format!(
                    "connecting to compare {} with its migrations",
                    definition.table
                ),
                e,
            )
        })?;
        crate::drift::schema_drift::<DB::Driver>(&mut conn, definition).await
    }
}

/// A pool of whichever engine a URL or a caller picked: the one "any engine" type of the crate,
/// used by the command line (which learns the engine from `DATABASE_URL`), by
/// [`QueryLag`](crate::throttle::QueryLag) and [`ThrottleQuery`](crate::throttle::ThrottleQuery),
/// and by code that serves several engines with one code path. It is a [`BackfillPool`] itself,
/// each call passed to the engine's own pool.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # async fn demo() -> Result<(), sqlx::Error> {
/// use backfill_runtime::{pool::AnyPool, BackfillPool, Engine};
///
/// let pool = AnyPool::from(sqlx::SqlitePool::connect("sqlite::memory:").await?);
/// assert_eq!(pool.engine(), Engine::Sqlite);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub enum AnyPool {
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// MySQL/MariaDB.
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    /// SQLite.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// A build without any engine feature: never constructed.
    #[doc(hidden)]
    #[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
    None(std::convert::Infallible),
}

impl AnyPool {
    /// Closes every connection (waits for those in use to be returned).
    pub async fn close(&self) {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(p) => p.close().await,
            #[cfg(feature = "mysql")]
            AnyPool::MySql(p) => p.close().await,
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(p) => p.close().await,
            #[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
            AnyPool::None(never) => match *never {},
        }
    }
}

#[cfg(feature = "postgres")]
impl From<sqlx::PgPool> for AnyPool {
    fn from(pool: sqlx::PgPool) -> AnyPool {
        AnyPool::Postgres(pool)
    }
}

#[cfg(feature = "mysql")]
impl From<sqlx::MySqlPool> for AnyPool {
    fn from(pool: sqlx::MySqlPool) -> AnyPool {
        AnyPool::MySql(pool)
    }
}

#[cfg(feature = "sqlite")]
impl From<sqlx::SqlitePool> for AnyPool {
    fn from(pool: sqlx::SqlitePool) -> AnyPool {
        AnyPool::Sqlite(pool)
    }
}

/// Each method passes the call to the engine's pool. The match is the whole cost of an enum:
/// one arm per engine feature, no logic.
// A build without any engine has no arm that uses the arguments.
#[cfg_attr(
    not(any(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(unused_variables)
)]
impl BackfillPool for AnyPool {
    fn engine(&self) -> Engine {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(p) => p.engine(),
            #[cfg(feature = "mysql")]
            AnyPool::MySql(p) => p.engine(),
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(p) => p.engine(),
            #[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
            AnyPool::None(never) => match *never {},
        }
    }

    async fn run_backfill(
        &self,
        definition: &'static Definition,
        options: RunOptions,
    ) -> Result<Report, Error> {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(p) => p.run_backfill(definition, options).await,
            #[cfg(feature = "mysql")]
            AnyPool::MySql(p) => p.run_backfill(definition, options).await,
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(p) => p.run_backfill(definition, options).await,
            #[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
            AnyPool::None(never) => match *never {},
        }
    }

    async fn check(&self, definition: &'static Definition) -> Result<(), Error> {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(p) => p.check(definition).await,
            #[cfg(feature = "mysql")]
            AnyPool::MySql(p) => p.check(definition).await,
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(p) => p.check(definition).await,
            #[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
            AnyPool::None(never) => match *never {},
        }
    }

    async fn verify(&self, definition: &'static Definition) -> Result<VerifyReport, Error> {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(p) => p.verify(definition).await,
            #[cfg(feature = "mysql")]
            AnyPool::MySql(p) => p.verify(definition).await,
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(p) => p.verify(definition).await,
            #[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
            AnyPool::None(never) => match *never {},
        }
    }

    async fn status(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
    ) -> Result<Option<JobStatus>, Error> {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(p) => p.status(definition, options).await,
            #[cfg(feature = "mysql")]
            AnyPool::MySql(p) => p.status(definition, options).await,
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(p) => p.status(definition, options).await,
            #[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
            AnyPool::None(never) => match *never {},
        }
    }

    async fn reset(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
    ) -> Result<bool, Error> {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(p) => p.reset(definition, options).await,
            #[cfg(feature = "mysql")]
            AnyPool::MySql(p) => p.reset(definition, options).await,
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(p) => p.reset(definition, options).await,
            #[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
            AnyPool::None(never) => match *never {},
        }
    }

    async fn control(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
        control: Control,
    ) -> Result<bool, Error> {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(p) => p.control(definition, options, control).await,
            #[cfg(feature = "mysql")]
            AnyPool::MySql(p) => p.control(definition, options, control).await,
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(p) => p.control(definition, options, control).await,
            #[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
            AnyPool::None(never) => match *never {},
        }
    }

    async fn executable_sql(
        &self,
        definition: &'static Definition,
        stmt: &'static Stmt,
    ) -> Result<String, Error> {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(p) => p.executable_sql(definition, stmt).await,
            #[cfg(feature = "mysql")]
            AnyPool::MySql(p) => p.executable_sql(definition, stmt).await,
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(p) => p.executable_sql(definition, stmt).await,
            #[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
            AnyPool::None(never) => match *never {},
        }
    }

    async fn plan(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
    ) -> Result<Plan, Error> {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(p) => p.plan(definition, options).await,
            #[cfg(feature = "mysql")]
            AnyPool::MySql(p) => p.plan(definition, options).await,
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(p) => p.plan(definition, options).await,
            #[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
            AnyPool::None(never) => match *never {},
        }
    }

    async fn access_path(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
    ) -> Result<SourceAccess, Error> {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(p) => p.access_path(definition, options).await,
            #[cfg(feature = "mysql")]
            AnyPool::MySql(p) => p.access_path(definition, options).await,
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(p) => p.access_path(definition, options).await,
            #[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
            AnyPool::None(never) => match *never {},
        }
    }

    async fn schema_drift(
        &self,
        definition: &'static Definition,
    ) -> Result<Vec<SchemaDrift>, Error> {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(p) => p.schema_drift(definition).await,
            #[cfg(feature = "mysql")]
            AnyPool::MySql(p) => p.schema_drift(definition).await,
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(p) => p.schema_drift(definition).await,
            #[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
            AnyPool::None(never) => match *never {},
        }
    }
}
