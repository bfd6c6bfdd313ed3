//! A job's status with its scan: the partials phase's own row of the progress table and the
//! staging table, beside the job's row.

#![allow(clippy::result_large_err)]

use super::stage;
use crate::definition::Definition;
use crate::engine::Driver;
use crate::error::Error;
use crate::options::{JobStatus, RunOptions, ScanStatus};
use crate::progress;

/// [`BackfillPool::status`](crate::pool::BackfillPool::status) on any engine: the job's row,
/// and the scan strategy's partials phase with its staging table when the job has one. A scan
/// in its partials phase has no row of its own yet: it shows as running, its cursor unset.
pub(crate) async fn status<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    options: &RunOptions,
) -> Result<Option<JobStatus>, Error> {
    let merged = progress::status::<D>(pool, def, options).await?;
    let job = options.job.clone().unwrap_or_else(|| def.job.to_string());
    let partials_options = options.clone().job(super::partials_job(&job));
    let Some(partials) = progress::partials_status::<D>(pool, def, &partials_options).await? else {
        return Ok(merged);
    };
    let stage = stage::stage_name(def.table, &job)?;
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| Error::database("connecting to read the job's status", e))?;
    let staging_exists = D::table_shape(&mut conn, &stage)
        .await
        .map_err(|e| Error::database("reading the staging table's catalog", e.source))?
        .is_some();
    let scan = ScanStatus {
        job: partials.job.clone(),
        state: partials.state.clone(),
        cursor: partials.cursor.clone(),
        chunks: partials.batches,
        source_rows: partials.keys,
        partials_written: partials.rows_written,
        staging_table: stage::shown(&stage),
        staging_exists,
        shards: partials.shards.clone(),
    };
    Ok(Some(match merged {
        Some(mut status) => {
            status.scan = Some(scan);
            status
        }
        None => JobStatus {
            job,
            fingerprint: partials.fingerprint.clone(),
            state: "running".to_string(),
            cursor: None,
            rows_written: 0,
            batches: 0,
            keys: 0,
            scan: Some(scan),
            shards: Vec::new(),
            ..partials
        },
    }))
}
