//! The batch loop, written once for every engine.
//!
//! One batch is one transaction ([`Run::transaction`]): lock the shard's progress row and read
//! the cursor from it, find the range's upper key (within the shard's end), upsert the range,
//! write the upper key as the new cursor, commit. A crash, a kill or a dropped future anywhere
//! before the commit rolls the whole batch back, cursor included. A job of one worker has one
//! shard, whose row a second process waits on and then takes the next range; a job of several
//! workers ([`RunOptions::workers`]) locks any free shard with `SKIP LOCKED`, and a worker
//! that finds none splits the widest one ([`Run::split`]). Around it, [`run`] handles
//! registration, the shard plan, retries of transient errors with backoff, the split of a batch
//! that hit the statement timeout, the shutdown signal, pause and rate from outside,
//! throttles, batch sizing and reporting. What several workers add (the crew, an idle worker's
//! split, the initial shard plan, the rate over every worker) is in `workers.rs`; a batch's
//! statements in `statements.rs`; the waits between batches in `pacing.rs`; the report and the
//! progress callback in `reporting.rs`; the live limit on workers running batches at once in
//! `slots.rs`.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]
// Parts serve only some engines; a build with fewer engine features leaves them unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use std::cmp::Ordering as KeyOrdering;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::coerce::FilledRanged;
use crate::definition::{Definition, KeyKind, Merge, Ranged, Statements, Stmt};
use crate::engine::{self, BatchConnection, Conn, DecodeAs, Driver, ErrorClass, Timeouts};
use crate::error::Error;
use crate::options::{Progress, Report, RunOptions, StopReason};
use crate::progress::{plan_text, Pick, ProgressStore, Registration};
use crate::shard::KeyOrder;
use crate::sizing::BatchSizer;
use crate::throttle::RateLimit;
use crate::value::{Key, KeyValue};

mod chunks;
mod pacing;
mod reporting;
mod slots;
mod statements;
mod workers;

pub(crate) use chunks::FilledScan;
pub(crate) use statements::{key_span, ranged};
pub(crate) use workers::can_run_workers;

use slots::Slot;
use workers::Crew;

/// Batches committed at the size that went through after a statement timeout before it is
/// doubled again.
const CAP_PROVEN: u32 = 4;

/// Runs (or resumes) the backfill of `def` on `pool` by key ranges of `stmts` (the ranges
/// strategy, and the scan's merge phase). The caller has run the preflight.
pub(crate) async fn run<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    stmts: &'static Statements,
    options: RunOptions,
) -> Result<Report, Error> {
    run_with::<D>(pool, def, stmts, None, options).await
}

/// Runs (or resumes) the scan's partials phase: chunks of the source's primary key, each
/// writing its partial aggregates to the staging table, under the job `options.job`.
pub(crate) async fn run_partials<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    stmts: &'static Statements,
    scan: &FilledScan,
    options: RunOptions,
) -> Result<Report, Error> {
    run_with::<D>(pool, def, stmts, Some(scan), options).await
}

async fn run_with<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &'static Definition,
    stmts: &'static Statements,
    partials: Option<&FilledScan>,
    options: RunOptions,
) -> Result<Report, Error> {
    let store = match partials {
        Some(_) => ProgressStore::<D>::partials(def, &options)?,
        None => ProgressStore::<D>::new(def, &options)?,
    };
    if def.in_place && options.delete_extra {
        return Err(Error::Options(format!(
            "delete_extra deletes target rows no source row produces, but {} fills {} in place: it updates existing rows and never deletes one; run it without delete_extra",
            def.name, def.table
        )));
    }
    let workers = options.workers.max(1);
    if workers > 1 {
        can_run_workers::<D>(pool, def, store.job(), workers)?;
    }
    let session = session::<D>(pool, store.job()).await?;
    if workers > 1 && !D::skip_locked(session) {
        return Err(Error::Options(format!(
            "workers({workers}) for job `{}`: this {} server has no FOR UPDATE SKIP LOCKED (MariaDB 10.6+ and MySQL 8 have it), which several workers on one job need; run it with workers(1), or upgrade the server",
            store.job(),
            D::ENGINE
        )));
    }
    let stop = options.shutdown.child_token();
    let mut run = Run {
        pool,
        def,
        stmts,
        partials,
        fingerprint: partials.map_or(stmts.fingerprint, |p| p.fingerprint),
        options: &options,
        kinds: match partials {
            Some(_) => vec![KeyKind::Int],
            None => engine::key_kinds(def),
        },
        session,
        timeouts: Timeouts {
            statement: options.statement_timeout,
            lock: options.lock_timeout,
        },
        started: Instant::now(),
        sizer: match partials {
            Some(scan) => scan.sizer.clone(),
            None => BatchSizer::new(def, &options),
        },
        verify_diff: None,
        upsert: None,
        insert: None,
        key_arrived: false,
        span: None,
        last_batch: None,
        lag_waited: Duration::ZERO,
        sharded: workers > 1,
        shard: 0,
        order: None,
        live_rate: None,
        live_workers: None,
        slot_waiting_since: None,
        paused_since: None,
        int_span: None,
        next_sample: Instant::now(),
        shared_rate: None,
        timeout_cap: None,
        stop,
        crew: Arc::new(Crew::default()),
        report: Report {
            job: store.job().to_string(),
            batches: 0,
            keys: 0,
            rows_written: 0,
            rows_deleted: 0,
            retries: 0,
            throttled: Duration::ZERO,
            elapsed: Duration::ZERO,
            resumed_from: None,
            cursor: None,
            null_keys: 0,
            timeout_splits: 0,
            shards_split: 0,
            inserted_batches: 0,
            stop: StopReason::Done,
            strategy: crate::definition::Strategy::Ranges,
            strategy_reason: None,
            strategy_elapsed: Duration::ZERO,
            scan: None,
        },
        store,
    };
    if partials.is_none() {
        run.upsert = Some(run.fill(&stmts.upsert).await?);
        if !stmts.insert.first.sql().is_empty() {
            run.insert = Some(run.fill(&stmts.insert).await?);
        }
    }
    if run.skip_unchanged_ranges() {
        run.verify_diff = Some(run.fill(&stmts.verify_diff).await?);
    }
    match run.register(&plan_text(workers)).await? {
        Registration::AlreadyDone { cursor } => {
            tracing::info!(job = %run.report.job, "job already done; nothing to do (restart to run it again)");
            run.report.resumed_from = cursor.clone();
            run.report.cursor = cursor;
            run.report.stop = StopReason::AlreadyDone;
            run.report.elapsed = run.started.elapsed();
            return Ok(run.report);
        }
        Registration::Resume { cursor } => {
            run.report.resumed_from = cursor.clone();
            run.report.cursor = cursor;
        }
    }
    run.report.null_keys = run.count_null_keys().await?;
    if run.report.null_keys > 0 {
        tracing::warn!(job = %run.report.job, null_keys = run.report.null_keys, "source rows with a NULL key belong to no range and are skipped");
    }
    if run.sharded {
        let mut conn = run.acquire("reading the key columns' collations").await?;
        run.order = Some(KeyOrder::load::<D>(&mut conn, def).await.map_err(|problem| {
            Error::Options(format!(
                "workers({workers}) for job `{}`: cannot order keys as the batches do: {problem}; run it with workers(1)",
                run.report.job
            ))
        })?);
        drop(conn);
        run.int_span = run.first_span().await?;
        run.cut(workers).await?;
        run.report.stop = run.crew(workers).await?;
    } else {
        run.span = run.key_span().await?;
        if partials.is_some() {
            // Where the source ends, for a chunk's small tail.
            run.int_span = run.first_span().await?;
        }
        run.report.stop = run.batches().await?;
    }
    run.report.elapsed = run.started.elapsed();
    tracing::info!(
        job = %run.report.job,
        stop = ?run.report.stop,
        workers,
        batches = run.report.batches,
        keys = run.report.keys,
        rows = run.report.rows_written,
        retries = run.report.retries,
        timeout_splits = run.report.timeout_splits,
        shards_split = run.report.shards_split,
        inserted_batches = run.report.inserted_batches,
        ms = run.report.elapsed.as_millis() as u64,
        "backfill stopped"
    );
    Ok(run.report)
}

/// What the run needs to know about the server and its session, learned once.
async fn session<D: Driver>(pool: &sqlx::Pool<D::Db>, job: &str) -> Result<D::Session, Error> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| Error::database(format!("connecting to {} for job `{job}`", D::ENGINE), e))?;
    D::session(&mut conn)
        .await
        .map_err(|e| Error::database(format!("reading the {} server's version", D::ENGINE), e))
}

/// A committed batch.
struct Batch {
    /// The shard it was in.
    shard: i64,
    lo: Option<Key>,
    hi: Key,
    keys: u64,
    rows: u64,
    /// Written by the insert: the range held no target row.
    inserted: bool,
    /// Extra target rows deleted in the range (`delete_extra`).
    deleted: u64,
    took: Duration,
    /// The rate limit set from outside, as the shard's row said.
    rate: Option<u64>,
    /// The job's worker limit, as the shard's row said.
    workers: Option<u64>,
}

/// How a batch transaction ended.
enum Outcome {
    Committed(Batch),
    /// No key above the cursor: this transaction marked the job done, after deleting this
    /// many extra target rows above the last key (`delete_extra`).
    Exhausted {
        deleted: u64,
    },
    /// Another worker finished the job while this one waited.
    DoneElsewhere,
    /// Several workers: every running shard is locked by another worker (or none is left).
    NoFreeShard,
    /// The job is paused from outside; the transaction was rolled back.
    Paused,
    /// Every slot of the job's worker limit (this many) is in another batch; the
    /// transaction was rolled back.
    NoSlot {
        limit: u64,
    },
}

/// Why a batch transaction failed, the batch layer's one failure type: it decides between a
/// retry and a stop. A database error is classified by the engine
/// ([`ErrorClass`]: transient ones are retried with backoff); anything else stops the run.
enum BatchError {
    /// A database error: retried if [`Driver::classify`] calls it transient, else the run
    /// stops with it.
    Database(sqlx::Error),
    /// The run stops with this error, without a retry (a broken definition, a lost or changed
    /// progress row, a duplicate key, no progress).
    Stop(Box<Error>),
    /// The insert of a range counted empty met a key of it written meanwhile (a unique
    /// violation): the batch is done again at once with the upsert.
    KeyArrived(sqlx::Error),
}

impl From<sqlx::Error> for BatchError {
    fn from(e: sqlx::Error) -> BatchError {
        BatchError::Database(e)
    }
}

/// A unique violation: two workers split at once and chose the same new shard number, or a key
/// was written into a range between its count and its insert.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// The range a failed batch had got to, for the error message.
#[derive(Default)]
struct RangeReached {
    shard: i64,
    lo: Option<Key>,
    hi: Option<Key>,
}

struct Run<'a, D: Driver> {
    pool: &'a sqlx::Pool<D::Db>,
    def: &'static Definition,
    stmts: &'static Statements,
    /// The scan's partials phase: batches are chunks of the source's primary key.
    partials: Option<&'a FilledScan>,
    /// The fingerprint stored with the job: the statements', or the partials phase's.
    fingerprint: &'static str,
    options: &'a RunOptions,
    store: ProgressStore<D>,
    kinds: Vec<KeyKind>,
    timeouts: Timeouts,
    session: D::Session,
    started: Instant,
    sizer: BatchSizer,
    /// `verify_diff` with its holes filled, when ranges already in the target are compared
    /// before they are upserted.
    verify_diff: Option<FilledRanged>,
    /// The upsert (the UPDATE in place) with its holes filled.
    upsert: Option<FilledRanged>,
    /// PostgreSQL: the upsert without its conflict clause, with its holes filled: what writes
    /// a range that holds no target row yet.
    insert: Option<FilledRanged>,
    /// The last attempt's insert met a key written since its range was counted empty: the
    /// batch is done again with the upsert.
    key_arrived: bool,
    /// Smallest and largest source key of an integer first key column, for `fraction_done`.
    span: Option<(i64, i64)>,
    last_batch: Option<(Option<Key>, Key, Duration)>,
    /// Time spent waiting for replica lag (part of `report.throttled`).
    lag_waited: Duration,
    /// Several workers share the job: batches lock any free shard (`SKIP LOCKED`).
    sharded: bool,
    /// The shard this worker last ran (or split off), locked first when free.
    shard: i64,
    /// How keys order, for a shard's end (several workers only).
    order: Option<KeyOrder>,
    /// The rate limit set from outside, as the last locked row said.
    live_rate: Option<u64>,
    /// The job's worker limit, as the last locked row said (`slots.rs`).
    live_workers: Option<u64>,
    /// Since when this worker has waited for a slot of the worker limit.
    slot_waiting_since: Option<Instant>,
    /// Since when the job has been paused from outside, as this worker saw it.
    paused_since: Option<Instant>,
    /// The source's smallest and largest integer first key part, read once when several
    /// workers start (`None` for other keys): what splits cut.
    int_span: Option<(i128, i128)>,
    /// A text key's shards were too small to split: not sampled again before this.
    next_sample: Instant,
    /// The shared rate limit's window: since when, the job's rows written then, the limit.
    shared_rate: Option<(Instant, u64, u64)>,
    /// After a batch hit the statement timeout: the size that went through, and the batches
    /// committed at it since; doubled after [`CAP_PROVEN`] of them, until the sizer's size is
    /// reached.
    timeout_cap: Option<(u64, u32)>,
    /// Stops this worker: the caller's shutdown signal, or a sibling worker's failure.
    stop: CancellationToken,
    crew: Arc<Crew>,
    report: Report,
}

impl<D: Driver> Run<'_, D> {
    /// One batch = one transaction. Every early return drops `tx`, which rolls back the whole
    /// batch, cursor included.
    async fn transaction(
        &self,
        conn: &mut Conn<D>,
        limit: u64,
        reached: &mut RangeReached,
    ) -> Result<Outcome, BatchError> {
        let started = Instant::now();
        let mut tx = D::begin_batch(conn, self.session, self.timeouts).await?;
        let slot = self.slot_before_shard(&mut tx).await?;
        if let Slot::Full(limit) = slot {
            tx.rollback().await?;
            return Ok(Outcome::NoSlot { limit });
        }
        let pick = if self.sharded {
            Pick::AnyFree { prefer: self.shard }
        } else {
            Pick::Shard(0)
        };
        let row = match self.store.lock(&mut tx, pick).await? {
            Some(row) => row.map_err(|e| BatchError::Stop(Box::new(e)))?,
            None if self.sharded => {
                tx.rollback().await?;
                return Ok(Outcome::NoFreeShard);
            }
            None => return Err(BatchError::Stop(Box::new(self.lost_row()))),
        };
        if row.fingerprint != self.fingerprint {
            return Err(BatchError::Stop(Box::new(
                self.changed_by_another(row.fingerprint),
            )));
        }
        if row.done {
            tx.rollback().await?;
            return Ok(Outcome::DoneElsewhere);
        }
        if row.paused {
            tx.rollback().await?;
            return Ok(Outcome::Paused);
        }
        if let Slot::Full(limit) = self
            .slot_after_shard(&mut tx, slot, row.max_workers)
            .await?
        {
            tx.rollback().await?;
            return Ok(Outcome::NoSlot { limit });
        }
        let shard = row.shard;
        reached.shard = shard;
        let lo = row.cursor;
        reached.lo = lo.clone();
        let bounds = match self.partials {
            Some(scan) => self.chunk_bounds(&mut tx, scan, lo.as_ref(), limit).await?,
            None => self
                .bounds(&mut tx, lo.as_ref(), limit)
                .await?
                .map(|(hi, keys)| (hi, Some(keys))),
        };
        let bounds = match (bounds, &row.end) {
            (Some((hi, keys)), Some(end)) => {
                self.within(&mut tx, lo.as_ref(), hi, keys, end).await?
            }
            (bounds, _) => bounds,
        };
        let bounds = match (bounds, self.partials) {
            (Some((hi, keys)), Some(_)) => Some(
                self.no_small_tail(&mut tx, lo.as_ref(), hi, keys, row.end.as_ref())
                    .await?,
            ),
            (bounds, _) => bounds,
        };
        let Some((hi, keys)) = bounds else {
            let deleted = match &row.end {
                _ if self.partials.is_some() => 0,
                Some(end) => {
                    self.delete_extra(&mut tx, &self.stmts.delete_extra, lo.as_ref(), Some(end))
                        .await?
                }
                None => {
                    self.delete_extra(&mut tx, &self.stmts.delete_extra_tail, lo.as_ref(), None)
                        .await?
                }
            };
            self.store.mark_done(&mut tx, shard).await?;
            tx.commit().await?;
            return Ok(Outcome::Exhausted { deleted });
        };
        reached.hi = Some(hi.clone());
        if let Some(lo) = &lo {
            if self.no_progress(lo, &hi) {
                return Err(BatchError::Stop(Box::new(Error::NoProgress {
                    table: self.def.table.to_string(),
                    job: self.report.job.clone(),
                    cursor: lo.to_string(),
                    hi: hi.to_string(),
                })));
            }
        }
        if let Some(scan) = self.partials {
            let (rows, keys) = self
                .write_chunk(&mut tx, scan, lo.as_ref(), &hi, keys)
                .await?;
            self.store.advance(&mut tx, shard, &hi, rows, keys).await?;
            tx.commit().await?;
            return Ok(Outcome::Committed(Batch {
                shard,
                lo,
                hi,
                keys,
                rows,
                inserted: false,
                deleted: 0,
                took: started.elapsed(),
                rate: row.max_rows_per_sec,
                workers: row.max_workers,
            }));
        }
        self.no_duplicate_keys(&mut tx, lo.as_ref(), &hi, limit)
            .await?;
        let (rows, inserted) = self.upsert(&mut tx, lo.as_ref(), &hi, keys, limit).await?;
        let deleted = self
            .delete_extra(&mut tx, &self.stmts.delete_extra, lo.as_ref(), Some(&hi))
            .await?;
        // The last range of a shard, cut at its end: every source key of it now has its
        // target row, so the target's rows in the range count its keys (with any extra
        // target key in it, unless `delete_extra` has just deleted them).
        let keys = match keys {
            Some(keys) => keys,
            None => self.target_count(&mut tx, lo.as_ref(), &hi, limit).await?,
        };
        self.store.advance(&mut tx, shard, &hi, rows, keys).await?;
        tx.commit().await?;
        Ok(Outcome::Committed(Batch {
            shard,
            lo,
            hi,
            keys,
            rows,
            inserted,
            deleted,
            took: started.elapsed(),
            rate: row.max_rows_per_sec,
            workers: row.max_workers,
        }))
    }

    /// The range `(lo, hi]` cut back to the shard's `end`: unchanged, with its number of keys
    /// (if counted), when `hi <= end`; else `(lo, end]`, whose number of keys is counted after
    /// its upsert (`None` here: finding it from the source would take a search over the next
    /// keys); `None` when no key above `lo` is within the end (the shard is done).
    async fn within(
        &self,
        conn: &mut Conn<D>,
        lo: Option<&Key>,
        hi: Key,
        keys: Option<u64>,
        end: &Key,
    ) -> Result<Option<(Key, Option<u64>)>, BatchError> {
        if self.cmp(conn, &hi, end).await? != KeyOrdering::Greater {
            return Ok(Some((hi, keys)));
        }
        if let Some(lo) = lo {
            if self.cmp(conn, lo, end).await? != KeyOrdering::Less {
                return Ok(None);
            }
        }
        match self.bounds(conn, lo, 1).await? {
            Some((first, _)) if self.cmp(conn, &first, end).await? != KeyOrdering::Greater => {
                Ok(Some((end.clone(), None)))
            }
            _ => Ok(None),
        }
    }

    /// How two keys compare in the batches' order.
    async fn cmp(&self, conn: &mut Conn<D>, a: &Key, b: &Key) -> Result<KeyOrdering, BatchError> {
        match &self.order {
            Some(order) => Ok(order.cmp::<D>(conn, a, b).await?),
            None => Err(BatchError::Stop(Box::new(self.definition_broken(
                "a shard's end was compared before the key order was read",
            )))),
        }
    }

    /// Runs batches until the keys run out, `max_batches`, or the shutdown signal.
    async fn batches(&mut self) -> Result<StopReason, Error> {
        loop {
            if self.stop.is_cancelled() {
                return Ok(StopReason::Shutdown);
            }
            if self.max_batches_reached() {
                return Ok(StopReason::MaxBatches);
            }
            if !self.wait_for_lag().await? {
                return Ok(StopReason::Shutdown);
            }
            // A shutdown during the batch lets it finish (it is short) and stops after it; a
            // dropped future rolls it back.
            let batch = match self.batch_with_retries(self.limit()).await? {
                None => return Ok(StopReason::Shutdown),
                Some(Outcome::Exhausted { deleted }) => {
                    self.record_tail_deleted(deleted);
                    self.notify(None);
                    if self.sharded {
                        self.crew.shard_finished.notify_waiters();
                        continue;
                    }
                    return Ok(StopReason::Done);
                }
                Some(Outcome::DoneElsewhere) => {
                    self.notify(None);
                    return Ok(StopReason::Done);
                }
                Some(Outcome::NoFreeShard) => {
                    if self.idle().await? {
                        self.notify(None);
                        return Ok(StopReason::Done);
                    }
                    continue;
                }
                Some(Outcome::Paused) => {
                    if self.paused_since.is_none() {
                        tracing::info!(job = %self.report.job, shard = self.shard, "paused from outside; waiting for resume");
                        self.paused_since = Some(Instant::now());
                    }
                    self.notify(Some(format!(
                        "paused from outside (`resume {}` to go on)",
                        self.report.job
                    )));
                    let started = Instant::now();
                    let slept = self.sleep(self.options.throttle_interval).await;
                    self.report.throttled += started.elapsed();
                    if !slept {
                        return Ok(StopReason::Shutdown);
                    }
                    continue;
                }
                Some(Outcome::NoSlot { limit }) => {
                    if !self.wait_for_slot(limit).await {
                        return Ok(StopReason::Shutdown);
                    }
                    continue;
                }
                Some(Outcome::Committed(batch)) => batch,
            };
            if let Some(since) = self.paused_since.take() {
                tracing::info!(job = %self.report.job, shard = self.shard, paused_ms = since.elapsed().as_millis() as u64, "resumed");
            }
            // The shard it got is the one it asks for first next time.
            self.shard = batch.shard;
            self.live_rate = batch.rate;
            self.ran_under(batch.workers);
            self.record(batch);
            if self.stop.is_cancelled() {
                return Ok(StopReason::Shutdown);
            }
            if self.max_batches_reached() {
                return Ok(StopReason::MaxBatches);
            }
            if !self.rate_limit().await || !self.sleep(self.options.pause).await {
                return Ok(StopReason::Shutdown);
            }
        }
    }

    /// The next batch's size: the sizer's, or less after a batch hit the statement timeout.
    fn limit(&self) -> u64 {
        let size = self.sizer.size();
        self.timeout_cap
            .map_or(size, |(cap, _)| cap.min(size))
            .max(1)
    }

    /// One batch, retried on transient errors with exponential backoff and jitter, and split
    /// in two (down to one key) when it hits the statement timeout. `None` when the shutdown
    /// signal fired during a backoff (the failed batch was rolled back).
    async fn batch_with_retries(&mut self, limit: u64) -> Result<Option<Outcome>, Error> {
        let mut retries = 0;
        let mut limit = limit;
        loop {
            let mut reached = RangeReached::default();
            let result = match self.pool.acquire().await {
                Ok(mut conn) => {
                    // Closed, not pooled, if the batch fails or this future is dropped.
                    let mut batch_conn = BatchConnection::<D>::new(&mut conn);
                    let result = self
                        .transaction(batch_conn.conn(), limit, &mut reached)
                        .await;
                    D::end_batch(batch_conn.conn(), self.session, self.timeouts).await;
                    if result.is_ok() {
                        batch_conn.finished();
                    }
                    result
                }
                Err(e) => Err(BatchError::Database(e)),
            };
            let error = match result {
                Ok(outcome) => {
                    if matches!(outcome, Outcome::Committed(_)) {
                        self.timeout_cap = match self.timeout_cap {
                            Some((cap, proven)) if proven + 1 >= CAP_PROVEN => {
                                Some((cap.saturating_mul(2), 0))
                            }
                            Some((cap, proven)) => Some((cap, proven + 1)),
                            None => None,
                        }
                        .filter(|(cap, _)| *cap < self.sizer.size());
                    }
                    self.key_arrived = false;
                    return Ok(Some(outcome));
                }
                Err(BatchError::Stop(e)) => return Err(*e),
                Err(BatchError::KeyArrived(e)) if !self.key_arrived => {
                    let range = engine::describe_range(reached.lo.as_ref(), reached.hi.as_ref());
                    tracing::info!(job = %self.report.job, shard = reached.shard, range = %range, error = %e, "a key of a range counted empty was written meanwhile; rolled back, doing the batch again with the upsert");
                    self.key_arrived = true;
                    self.report.retries += 1;
                    continue;
                }
                Err(BatchError::KeyArrived(e) | BatchError::Database(e)) => e,
            };
            let range = engine::describe_range(reached.lo.as_ref(), reached.hi.as_ref());
            match D::classify(&error) {
                ErrorClass::Transient if retries < self.options.max_retries => {
                    retries += 1;
                    self.report.retries += 1;
                    let wait = self.backoff(retries);
                    tracing::warn!(job = %self.report.job, shard = reached.shard, range = %range, retry = retries, wait_ms = wait.as_millis() as u64, error = %error, "batch failed with a transient error; rolled back, retrying");
                    if !self.sleep(wait).await {
                        return Ok(None);
                    }
                }
                ErrorClass::StatementTimeout if limit > 1 => {
                    limit /= 2;
                    self.timeout_cap = Some((limit, 0));
                    self.report.timeout_splits += 1;
                    tracing::warn!(job = %self.report.job, shard = reached.shard, range = %range, keys = limit, error = %error, "batch hit the statement timeout; rolled back, split in two, retrying the first half");
                    if self.stop.is_cancelled() {
                        return Ok(None);
                    }
                }
                ErrorClass::StatementTimeout => {
                    return Err(Error::BatchTimeout {
                        table: self.def.table.to_string(),
                        range,
                        timeout: self
                            .timeouts
                            .statement
                            .map(|t| format!(" of {t:?}"))
                            .unwrap_or_default(),
                        source: error,
                    })
                }
                _ => {
                    let retried = if retries > 0 {
                        format!(" after {retries} retries")
                    } else {
                        String::new()
                    };
                    return Err(Error::Batch {
                        table: self.def.table.to_string(),
                        range,
                        retried,
                        source: error,
                    });
                }
            }
        }
    }

    /// The error for generated statements that do not fit together (a bind of a key part
    /// the statement does not have, a NULL upper key): the derive's output is broken, not the
    /// data.
    fn definition_broken(&self, problem: &str) -> Error {
        Error::Definition {
            name: self.def.name.to_string(),
            problem: problem.to_string(),
        }
    }

    fn lost_row(&self) -> Error {
        Error::ProgressTable {
            table: self.options.progress_table.clone(),
            problem: format!(
                "lost the row of job `{}` during the run (was it reset concurrently?); run again to start over",
                self.report.job
            ),
        }
    }

    fn changed_by_another(&self, stored: String) -> Error {
        Error::FingerprintMismatch {
            job: self.report.job.clone(),
            stored,
            current: self.fingerprint.to_string(),
        }
    }

    /// Registers the run in the progress table, retrying transient errors.
    async fn register(&mut self, plan: &str) -> Result<Registration, Error> {
        let mut retries = 0;
        loop {
            let result = match self.pool.acquire().await {
                Ok(mut conn) => {
                    let mut batch_conn = BatchConnection::<D>::new(&mut conn);
                    let result = self
                        .store
                        .register(
                            batch_conn.conn(),
                            self.session,
                            self.timeouts,
                            self.fingerprint,
                            plan,
                            self.options.restart,
                        )
                        .await;
                    D::end_batch(batch_conn.conn(), self.session, self.timeouts).await;
                    if result.is_ok() {
                        batch_conn.finished();
                    }
                    result
                }
                Err(e) => Err(Error::database("connecting to register the job", e)),
            };
            match result {
                Err(Error::Database { source, .. })
                    if D::classify(&source) == ErrorClass::Transient
                        && retries < self.options.max_retries =>
                {
                    retries += 1;
                    self.report.retries += 1;
                    if !self.sleep(self.backoff(retries)).await {
                        return Err(Error::database(
                            "registering the job (shut down while retrying)",
                            source,
                        ));
                    }
                }
                other => return other,
            }
        }
    }

    async fn count_null_keys(&self) -> Result<u64, Error> {
        let stmt = &self.stmts.null_keys;
        let mut conn = self.acquire("counting source rows with a NULL key").await?;
        let rows = D::fetch_all(&mut conn, stmt.sql, &[], &[DecodeAs::Int])
            .await
            .map_err(|e| {
                Error::database(
                    format!(
                        "counting the source rows of {} with a NULL key",
                        self.def.table
                    ),
                    e,
                )
            })?;
        Ok(engine::first_count(&rows))
    }

    /// The source's smallest and largest integer first key, for `fraction_done`.
    async fn key_span(&self) -> Result<Option<(i64, i64)>, Error> {
        if self.kinds.first() != Some(&KeyKind::Int) || self.options.on_progress.is_none() {
            return Ok(None);
        }
        let mut conn = self.acquire("reading the source key span").await?;
        if let Some(scan) = self.partials {
            return scan.span::<D>(&mut conn).await.map_err(|e| {
                Error::database(
                    format!("reading the primary-key span of {}", scan.driving),
                    e,
                )
            });
        }
        key_span::<D>(&mut conn, self.stmts, self.kinds[0])
            .await
            .map(|span| match span {
                Some((KeyValue::Int(min), KeyValue::Int(max))) => Some((min, max)),
                _ => None,
            })
            .map_err(|e| {
                Error::database(
                    format!("reading the key span of the source of {}", self.def.table),
                    e,
                )
            })
    }

    async fn acquire(&self, doing: &str) -> Result<sqlx::pool::PoolConnection<D::Db>, Error> {
        self.pool
            .acquire()
            .await
            .map_err(|e| Error::database(format!("connecting to {} for {doing}", D::ENGINE), e))
    }
}
