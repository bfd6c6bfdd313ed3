//! The entry points the derive and the CLI call: [`BackfillPool`] is implemented for `PgPool`,
//! `MySqlPool` and `SqlitePool` (each behind its engine's feature).

use std::future::Future;

use crate::definition::{Definition, Engine, Stmt};
use crate::error::Error;
use crate::options::{JobStatus, Plan, Report, RunOptions};
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
    fn plan(
        &self,
        definition: &'static Definition,
        options: &RunOptions,
    ) -> impl Future<Output = Result<Plan, Error>> + Send;
}
