//! The scan strategy at run time (issue 13), and the choice of strategy.
//!
//! A scan runs in two phases, each a job of the progress table run by the one batch loop:
//!
//! 1. **Partials** (job `<job>/partials`): the source read in chunks of its first table's
//!    primary key, in stored order. Each chunk writes the partial aggregates of its rows per
//!    key into the staging table, one row per `(key, chunk)`, in the transaction that moves
//!    the chunk cursor: a killed chunk leaves nothing, a chunk done again rewrites the same
//!    rows (PostgreSQL and SQLite delete the chunk's partials and insert them into a table
//!    with no index yet; MySQL upserts them on its clustered key). Once every chunk is
//!    written, the table gets its key `(key, chunk)` (`stage::key`) and its statistics.
//! 2. **Merge** (the job itself): key ranges of the staging table, each merged per key and
//!    upserted into the target exactly as the ranges strategy upserts (absolute values, the
//!    cursor in the batch's transaction, throttles, lag guards, the same verify).
//!
//! With [`RunOptions::workers`] above one, both phases are sharded as any run of several
//! workers is: the partials phase's shards are ranges of the chunk column, each worker writing
//! its chunks side by side with the others', and the merge's shards are ranges of the key.
//!
//! The staging table is named after the job, created empty by the run (refused if it exists
//! with another shape), emptied by the first chunk (or, when the partials phase is cut into
//! shards, by the cut), and dropped when the merge is done. On PostgreSQL the first chunk of a
//! phase of one shard is written into a new table by `CREATE TABLE AS`, which the server may
//! run with parallel workers (an `INSERT ... SELECT` never is), and that table replaces the
//! staging table in the chunk's transaction.

#![allow(clippy::result_large_err)]

pub(crate) mod stage;
mod status;

use std::time::{Duration, Instant};

use stage::Markers;
pub(crate) use status::status;

use crate::access::strategy::Mapping;
use crate::access::SourceAccess;
use crate::batch;
use crate::definition::{Definition, Statements, Strategy};
use crate::engine::Driver;
use crate::error::Error;
use crate::options::{Report, RunOptions, ScanReport, StopReason};

/// The strategy a run reads the source with, and why when it was chosen (`auto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chosen {
    /// `Ranges` or `Scan`.
    pub strategy: Strategy,
    /// Why, when `auto` chose it.
    pub reason: Option<String>,
}

/// Resolves the strategy of a run of `def`: the options', else the definition's; `auto` reads
/// the access path (without timing a range) and takes the scan when the ranges would read a
/// scattered source that the mapping lets the scan read.
pub(crate) async fn choose<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    stmts: &'static Statements,
    options: &RunOptions,
) -> Result<Chosen, Error> {
    let asked = options.strategy.unwrap_or(def.strategy);
    let chosen = |strategy, reason: String| {
        Ok(Chosen {
            strategy,
            reason: Some(reason),
        })
    };
    match asked {
        Strategy::Ranges => Ok(Chosen {
            strategy: Strategy::Ranges,
            reason: None,
        }),
        Strategy::Scan => match stmts.scan() {
            Some(_) => Ok(Chosen {
                strategy: Strategy::Scan,
                reason: None,
            }),
            None => Err(Error::Options(format!(
                "strategy scan for {}: {}; run it with strategy ranges",
                def.name,
                stmts
                    .scan_refused
                    .unwrap_or("no scan statements were generated")
            ))),
        },
        Strategy::Auto => {
            if let Some(why) = stmts.scan_refused {
                return chosen(Strategy::Ranges, format!("the scan cannot read it: {why}"));
            }
            let access = match crate::engine::plan::access_path_untimed::<D>(pool, def, options)
                .await
            {
                Ok(access) => access,
                Err(e) => {
                    tracing::warn!(name = def.name, error = %e, "strategy auto: the access path could not be read; reading ranges");
                    return chosen(
                        Strategy::Ranges,
                        format!("the access path could not be read ({e})"),
                    );
                }
            };
            match access {
                SourceAccess::Analysed(path) => {
                    let advice = path.suited_strategy(Mapping {
                        grouped: def.grouped,
                        decomposable: true,
                    });
                    chosen(advice.strategy, advice.reason)
                }
                SourceAccess::NotAnalysed { reason } => chosen(Strategy::Ranges, reason),
            }
        }
    }
}

/// The strategy a run would use and why, for `plan`: what [`choose`] decides, with the reason
/// when the strategy was asked for, and the reason the scan cannot run when it was asked for
/// and cannot.
pub(crate) async fn planned<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    stmts: &'static Statements,
    options: &RunOptions,
) -> (Strategy, String) {
    match choose::<D>(pool, def, stmts, options).await {
        Ok(chosen) => {
            let reason = chosen.reason.unwrap_or_else(|| match options.strategy {
                Some(_) => "asked for by the run's options".to_string(),
                None => format!("`strategy = \"{}\"` on {}", def.strategy, def.name),
            });
            (chosen.strategy, reason)
        }
        Err(e) => (Strategy::Ranges, format!("the scan cannot run: {e}")),
    }
}

/// The progress table's job of `job`'s partials phase.
pub(crate) fn partials_job(job: &str) -> String {
    format!("{job}/partials")
}

/// Runs (or resumes) the scan of `def`: the partials phase, then the merge.
pub(crate) async fn run<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    stmts: &'static Statements,
    options: RunOptions,
    reason: Option<String>,
) -> Result<Report, Error> {
    let started = Instant::now();
    let Some(scan) = stmts.scan() else {
        return Err(Error::Options(format!(
            "strategy scan for {}: {}",
            def.name,
            stmts
                .scan_refused
                .unwrap_or("no scan statements were generated")
        )));
    };
    let job = options.job.clone().unwrap_or_else(|| def.job.to_string());
    if options.workers > 1 {
        // Before the staging table is made: a refused run writes nothing.
        batch::can_run_workers::<D>(pool, def, &job, options.workers)?;
    }
    let partials_job = partials_job(&job);
    let stage = stage::stage_name(def.table, &job)?;
    // Read before a connection is held: the pool may have only one.
    let merged = crate::progress::status::<D>(pool, def, &options).await?;
    let mut partials_options = options.clone().job(partials_job.clone());
    let partials_before =
        crate::progress::partials_status::<D>(pool, def, &partials_options).await?;
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| Error::database(format!("connecting to {} for job `{job}`", D::ENGINE), e))?;
    let chunk = stage::chunk_column::<D>(&mut conn, def, scan.driving).await?;
    let mut markers = Markers::new::<D>(&stage, &chunk);
    if options.restart {
        stage::drop::<D>(&mut conn, def, scan, &stage, &markers).await?;
    } else if let Some(status) = &merged {
        if status.state == "done" {
            stage::drop::<D>(&mut conn, def, scan, &stage, &markers).await?;
            tracing::info!(job = %job, "job already done; nothing to do (restart to run it again)");
            return Ok(already_done(job, status.cursor.clone(), reason, started));
        }
        if status.fingerprint != scan.merge.fingerprint {
            return Err(Error::Options(format!(
                "job `{job}` was started by another strategy or definition (fingerprint {}; the scan's merge is {}): resume it as it was started, or run with restart to start it over with the scan",
                status.fingerprint, scan.merge.fingerprint
            )));
        }
    }
    let (shape, created) = stage::create::<D>(&mut conn, def, scan, &stage, &markers).await?;
    if !options.restart {
        // Partials written before and not all there: a staging table made now, or (PostgreSQL,
        // unlogged) emptied by a server crash. Redo them; the merge's committed ranges stand.
        if let Some(p) = partials_before.filter(|p| p.cursor.is_some()) {
            let rows = if created || !D::STAGING_EMPTIED_BY_CRASH {
                None
            } else {
                Some(stage::rows::<D>(&mut conn, &stage).await)
            };
            let lost = created
                || (D::STAGING_EMPTIED_BY_CRASH
                    && !matches!(rows, Some(Ok(n)) if n == p.rows_written));
            if lost {
                // Or another process finished the merge since this run read the job, and
                // dropped the staging table this run then found missing or made anew.
                if let Some(done) = done_meanwhile::<D>(&mut conn, def, &options).await? {
                    stage::drop::<D>(&mut conn, def, scan, &stage, &markers).await?;
                    return Ok(already_done(job, done.cursor, reason, started));
                }
                if let Some(Err(e)) = rows {
                    return Err(e);
                }
                tracing::warn!(job = %job, staging = %stage::shown(&stage), partials_written = p.rows_written, "the staging table lost the partials written before (dropped, or emptied by a server crash); the partials phase starts over");
                partials_options.restart = true;
            }
        }
    }
    markers.types = shape
        .columns
        .into_iter()
        .map(|c| (c.name, c.sql_type))
        .collect();
    // The keys a chunk may hold, for its first size: an integer key's span bounds them.
    let keys = match def.key.first().map(|k| k.kind) {
        Some(kind @ crate::definition::KeyKind::Int) => {
            match batch::key_span::<D>(&mut conn, stmts, kind).await {
                Ok(Some((crate::value::KeyValue::Int(lo), crate::value::KeyValue::Int(hi)))) => {
                    u64::try_from(i128::from(hi) - i128::from(lo) + 1).ok()
                }
                _ => None,
            }
        }
        _ => None,
    };
    drop(conn);
    let mut filled = markers.scan(def, scan, &stage, &options, keys)?;
    let partials_options = {
        let workers = partials_workers::<D>(pool, def, &filled, &partials_options, keys).await?;
        partials_options.workers(workers)
    };
    // A worker the partials phase leaves idle counts a chunk's rows beside its write, where
    // the engine writes the chunk on one core: PostgreSQL's first chunk, by `CREATE TABLE AS`,
    // already runs on the server's parallel workers, and beside it the count made 2 workers'
    // scan of 20M events 1.0 s slower (10.3 and 14.0 s against 9.3 and 13.0 s, by hand). SQLite
    // (one writer) runs one worker.
    filled.count_beside = partials_options.workers < options.workers
        && !filled.parallel_first_chunk()
        && !D::ONE_WRITER;
    tracing::info!(job = %job, staging = %filled.stage, chunk_column = %chunk, source = %scan.driving, workers = partials_options.workers, "scan: partials phase");
    let status_options = partials_options.clone();
    let partials = batch::run_partials::<D>(pool, def, stmts, &filled, partials_options).await?;
    let mut scan_report = ScanReport {
        staging_table: filled.stage.clone(),
        job: partials_job,
        chunks: partials.batches,
        source_rows: partials.keys,
        partials_written: partials.rows_written,
        finished: partials.finished(),
        partials_elapsed: started.elapsed(),
        one_partial_per_key: false,
    };
    let spent = options
        .max_batches
        .is_some_and(|max| partials.batches >= max);
    if !partials.finished() || spent {
        return Ok(Report {
            job,
            keys: 0,
            rows_written: 0,
            resumed_from: None,
            cursor: None,
            elapsed: started.elapsed(),
            stop: if partials.finished() {
                StopReason::MaxBatches
            } else {
                partials.stop.clone()
            },
            strategy: Strategy::Scan,
            strategy_reason: reason,
            scan: Some(scan_report),
            ..partials
        });
    }
    {
        let mut conn = pool.acquire().await.map_err(|e| {
            Error::database(format!("connecting to {} for job `{job}`", D::ENGINE), e)
        })?;
        let keyed = match stage::key::<D>(&mut conn, def, scan, &stage, &markers).await {
            Ok(()) => stage::analyze::<D>(&mut conn, &stage).await,
            Err(e) => Err(e),
        };
        if let Err(e) = keyed {
            // The staging table dropped by another process that finished the merge meanwhile.
            return match done_meanwhile::<D>(&mut conn, def, &options).await? {
                Some(done) => Ok(already_done(job, done.cursor, reason, started)),
                None => Err(e),
            };
        }
    }
    let merge = match scan.merge_one.first() {
        Some(one) if one_chunk::<D>(pool, def, &status_options).await? => {
            scan_report.one_partial_per_key = true;
            one
        }
        _ => &scan.merge,
    };
    let merge = markers.merge(def, merge)?;
    let mut merge_options = options.clone();
    merge_options.target_batch_time = merge_batch_time(&options, D::DIALECT.merge_batch_time);
    merge_options.max_batches = options
        .max_batches
        .map(|max| max.saturating_sub(partials.batches));
    tracing::info!(job = %job, staging = %filled.stage, one_partial_per_key = scan_report.one_partial_per_key, "scan: merge phase");
    let mut report = batch::run::<D>(pool, def, merge, merge_options).await?;
    if report.finished() {
        let mut conn = pool.acquire().await.map_err(|e| {
            Error::database(format!("connecting to {} for job `{job}`", D::ENGINE), e)
        })?;
        stage::drop::<D>(&mut conn, def, scan, &stage, &markers).await?;
    }
    report.batches += partials.batches;
    report.retries += partials.retries;
    report.throttled += partials.throttled;
    report.null_keys = partials.null_keys;
    report.elapsed = started.elapsed();
    report.strategy = Strategy::Scan;
    report.strategy_reason = reason;
    report.scan = Some(scan_report);
    Ok(report)
}

/// The workers of the partials phase, out of `options.workers`. Each shard writes a partial for
/// nearly every key, so every shard of the partials phase adds about a pass over the key space
/// to the staging table and to the merge: it pays only where each shard still reads several
/// times as many rows. So it runs as many workers as
/// [`partials_shards`](crate::sizing::partials_shards) says (by the span of the chunk column;
/// `keys` the key's span), at least one: one on PostgreSQL wherever one first chunk holds the
/// source. At 2M events over 200,000 users that is one on every engine: two workers' two
/// shards made the scan 0.85x (MariaDB) and 0.90x (PostgreSQL) as fast as one worker. A phase
/// under way keeps the plan it was started with, so every process joins it alike.
async fn partials_workers<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    scan: &batch::FilledScan,
    options: &RunOptions,
    keys: Option<u64>,
) -> Result<u32, Error> {
    if options.workers <= 1 {
        return Ok(1);
    }
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| Error::database(format!("connecting to {} for the scan", D::ENGINE), e))?;
    if !options.restart {
        let store = crate::progress::ProgressStore::<D>::partials(def, options)?;
        let started = store
            .shards(&mut conn)
            .await
            .ok()
            .and_then(|shards| shards.first().and_then(|s| s.plan.clone()))
            .and_then(|plan| crate::progress::plan_workers(&plan));
        if let Some(workers) = started {
            return Ok(workers);
        }
    }
    let span = scan.span::<D>(&mut conn).await.map_err(|e| {
        Error::database(
            format!("reading the primary-key span of {}", scan.driving),
            e,
        )
    })?;
    let rows = span.map_or(0, |(min, max)| {
        u64::try_from(i128::from(max) - i128::from(min) + 1).unwrap_or(u64::MAX)
    });
    let shards = crate::sizing::partials_shards(rows, options, keys, scan.parallel_first_chunk());
    Ok(u32::try_from(shards)
        .unwrap_or(u32::MAX)
        .clamp(1, options.workers))
}

/// What the merge's adaptive batches aim at: `merge_batch_time` when set, else
/// `target_batch_time`, at most the engine's bound (MySQL/MariaDB, see `Dialect`).
fn merge_batch_time(options: &RunOptions, engine_bound: Option<Duration>) -> Duration {
    match (options.merge_batch_time, engine_bound) {
        (Some(set), _) => set,
        (None, Some(bound)) => options.target_batch_time.min(bound),
        (None, None) => options.target_batch_time,
    }
}

/// Whether the partials phase, done, wrote one chunk in all its runs and shards, so every key
/// has one partial row: its first chunk's transaction emptied the staging table (or made it
/// anew), and each chunk writes one row per key.
async fn one_chunk<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    options: &RunOptions,
) -> Result<bool, Error> {
    let status = crate::progress::partials_status::<D>(pool, def, options).await?;
    Ok(status.is_some_and(|s| s.state == "done" && s.batches == 1))
}

/// The job's status when its merge is done: another process of the job may finish it, and drop
/// the staging table, while this one starts or keys the table.
async fn done_meanwhile<D: Driver>(
    conn: &mut crate::engine::Conn<D>,
    def: &'static Definition,
    options: &RunOptions,
) -> Result<Option<crate::options::JobStatus>, Error> {
    let store = crate::progress::ProgressStore::<D>::new(def, options)?;
    Ok(store.status(conn).await?.filter(|s| s.state == "done"))
}

/// The report of a scan whose merge was done before this run.
fn already_done(
    job: String,
    cursor: Option<crate::value::Key>,
    reason: Option<String>,
    started: Instant,
) -> Report {
    Report {
        job,
        batches: 0,
        keys: 0,
        rows_written: 0,
        rows_deleted: 0,
        retries: 0,
        throttled: std::time::Duration::ZERO,
        elapsed: started.elapsed(),
        resumed_from: cursor.clone(),
        cursor,
        null_keys: 0,
        timeout_splits: 0,
        shards_split: 0,
        inserted_batches: 0,
        stop: StopReason::AlreadyDone,
        strategy: Strategy::Scan,
        strategy_reason: reason,
        strategy_elapsed: std::time::Duration::ZERO,
        scan: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_merge_aims_at_the_engine_bound_unless_told_otherwise() {
        let ms = Duration::from_millis;
        let options = RunOptions::default();
        // MySQL/MariaDB bound the default 250 ms to 25 ms; PostgreSQL and SQLite keep it.
        assert_eq!(merge_batch_time(&options, Some(ms(25))), ms(25));
        assert_eq!(merge_batch_time(&options, None), ms(250));
        // A shorter target_batch_time stays shorter.
        let short = options.clone().target_batch_time(ms(10));
        assert_eq!(merge_batch_time(&short, Some(ms(25))), ms(10));
        // merge_batch_time wins on every engine, either way.
        let set = options.merge_batch_time(ms(400));
        assert_eq!(merge_batch_time(&set, Some(ms(25))), ms(400));
        assert_eq!(merge_batch_time(&set, None), ms(400));
    }
}
