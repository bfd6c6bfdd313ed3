//! Several workers on one job ([`RunOptions::workers`](crate::RunOptions::workers)): the crew
//! of one process, each worker a [`Run`] of its own taking free shards; what an idle worker
//! does (split the widest shard, or wait); the shard plan cut when the job starts; and the rate
//! limit held over every worker of the job. The batch itself, in a shard, is the one
//! transaction of [`Run::transaction`] in `mod.rs`.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]
// Parts serve only some engines; a build with fewer engine features leaves them unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use std::cmp::Ordering as KeyOrdering;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use super::{is_unique_violation, key_span, BatchError, Run};
use crate::definition::{Definition, KeyKind};
use crate::engine::{BatchConnection, Conn, Driver, ErrorClass};
use crate::error::Error;
use crate::options::StopReason;
use crate::progress::{Pick, ShardRow};
use crate::shard;
use crate::throttle::RateLimit;
use crate::value::{Key, KeyValue};

/// Refuses `workers > 1` where it cannot work: on SQLite (one writer), and on a pool with
/// fewer connections than workers.
pub(crate) fn can_run_workers<D: Driver>(
    pool: &sqlx::Pool<D::Db>,
    def: &Definition,
    job: &str,
    workers: u32,
) -> Result<(), Error> {
    if D::ONE_WRITER {
        return Err(Error::Options(format!(
            "workers({workers}) for job `{job}` of {}: {} has one writer for the whole database, so several workers would only wait for each other; run it with workers(1) (the default, `--workers 1`), or on PostgreSQL or MySQL/MariaDB",
            def.table,
            D::ENGINE
        )));
    }
    let connections = pool.options().get_max_connections();
    if connections < workers {
        return Err(Error::Options(format!(
            "workers({workers}) for job `{job}`: the pool has at most {connections} connections and each worker needs its own; give the pool max_connections({workers}) or more, or run fewer workers"
        )));
    }
    Ok(())
}

/// What the workers of one process share: the batch count `max_batches` limits, the totals
/// the progress callback shows, and the signal that wakes its idle workers.
#[derive(Default)]
pub(super) struct Crew {
    pub(super) batches: AtomicU64,
    pub(super) keys: AtomicU64,
    pub(super) rows: AtomicU64,
    /// A worker of this process finished a shard or stopped: its idle siblings look at the
    /// shards again at once instead of at their next turn.
    pub(super) shard_finished: tokio::sync::Notify,
}

impl<D: Driver> Run<'_, D> {
    /// The rate limit over every worker of the job: the rows all shards have written since
    /// this worker first saw the current limit, against the time since then. Waits in steps
    /// of at most a second, reading the rows and the limit again after each, so a limit
    /// changed or lifted from outside takes effect during a wait. `false` if shut down.
    pub(super) async fn shared_rate_limit(&mut self) -> bool {
        loop {
            let Some(limit) = self.live_rate.or(self.options.max_rows_per_sec) else {
                self.shared_rate = None;
                return true;
            };
            let read = match self.pool.acquire().await {
                Ok(mut conn) => self.store.rows_written(&mut conn).await,
                Err(e) => Err(e),
            };
            let total = match read {
                Ok((total, live)) => {
                    self.live_rate = live;
                    if self.live_rate.or(self.options.max_rows_per_sec) != Some(limit) {
                        continue;
                    }
                    total
                }
                Err(e) => {
                    // The next batch boundary reads it again; a missed reading does not stop
                    // a run.
                    tracing::warn!(job = %self.report.job, error = %e, "could not read the rows written by every worker for the rate limit");
                    return !self.stop.is_cancelled();
                }
            };
            let (since, base) = match self.shared_rate {
                Some((since, base, seen)) if seen == limit => (since, base),
                _ => {
                    self.shared_rate = Some((Instant::now(), total, limit));
                    return !self.stop.is_cancelled();
                }
            };
            let wait = RateLimit::new(limit).wait(total.saturating_sub(base), since.elapsed());
            if wait.is_zero() {
                return !self.stop.is_cancelled();
            }
            if !self.throttle(wait.min(Duration::from_secs(1))).await {
                return false;
            }
        }
    }

    /// A worker of this run: the same definition, statements, session and store, a report,
    /// sizer and preferred shard of its own.
    fn worker(&self, n: u32) -> Self {
        let mut report = self.report.clone();
        report.batches = 0;
        report.keys = 0;
        report.rows_written = 0;
        report.rows_deleted = 0;
        report.retries = 0;
        report.throttled = Duration::ZERO;
        Run {
            pool: self.pool,
            def: self.def,
            stmts: self.stmts,
            partials: self.partials,
            fingerprint: self.fingerprint,
            options: self.options,
            store: self.store.clone(),
            kinds: self.kinds.clone(),
            timeouts: self.timeouts,
            session: self.session,
            started: self.started,
            sizer: self.sizer.clone(),
            verify_diff: self.verify_diff.clone(),
            upsert: self.upsert.clone(),
            insert: self.insert.clone(),
            key_arrived: false,
            span: None,
            last_batch: None,
            lag_waited: Duration::ZERO,
            sharded: true,
            shard: i64::from(n),
            order: self.order.clone(),
            live_rate: None,
            live_workers: None,
            slot_waiting_since: None,
            paused_since: None,
            int_span: self.int_span,
            next_sample: Instant::now(),
            shared_rate: None,
            timeout_cap: None,
            stop: self.stop.clone(),
            crew: self.crew.clone(),
            report,
        }
    }

    /// Runs `workers` workers side by side, each taking free shards until none is left; the
    /// first to fail stops the others, and its error is the run's. The report adds theirs up.
    pub(super) async fn crew(&mut self, workers: u32) -> Result<StopReason, Error> {
        let mut crew: Vec<Self> = (0..workers).map(|n| self.worker(n)).collect();
        let stop = self.stop.clone();
        let results = futures_util::future::join_all(crew.iter_mut().map(|worker| {
            let stop = stop.clone();
            async move {
                let result = worker.batches().await;
                if result.is_err() {
                    stop.cancel();
                }
                worker.crew.shard_finished.notify_waiters();
                result
            }
        }))
        .await;
        let mut stops = Vec::new();
        let mut failure = None;
        for (worker, result) in crew.iter().zip(results) {
            let r = &worker.report;
            self.report.batches += r.batches;
            self.report.keys += r.keys;
            self.report.rows_written += r.rows_written;
            self.report.rows_deleted += r.rows_deleted;
            self.report.retries += r.retries;
            self.report.timeout_splits += r.timeout_splits;
            self.report.shards_split += r.shards_split;
            self.report.inserted_batches += r.inserted_batches;
            self.report.throttled = self.report.throttled.max(r.throttled);
            if r.cursor.is_some() && r.cursor > self.report.cursor {
                self.report.cursor = r.cursor.clone();
            }
            match result {
                Ok(stop) => stops.push(stop),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(if stops.contains(&StopReason::MaxBatches) {
            StopReason::MaxBatches
        } else if stops.contains(&StopReason::Shutdown) {
            StopReason::Shutdown
        } else {
            StopReason::Done
        })
    }

    /// What a worker does when every running shard is locked by another: `true` if none is
    /// left (the job is done); otherwise it splits the widest shard and takes its second half,
    /// or, when none is worth splitting, waits a moment (a killed worker's shard frees up as
    /// soon as the server sees its connection drop), or until a sibling in this process
    /// finishes a shard.
    pub(super) async fn idle(&mut self) -> Result<bool, Error> {
        // Listening from before the shards are read, so a shard finished meanwhile wakes it.
        let crew = self.crew.clone();
        let finished = crew.shard_finished.notified();
        tokio::pin!(finished);
        finished.as_mut().enable();
        let mut conn = self.acquire("reading the job's shards").await?;
        let shards = self.store.shards(&mut conn).await?;
        drop(conn);
        if shards.iter().all(|s| s.done) {
            return Ok(true);
        }
        let paused = shards.iter().any(|s| s.paused);
        if !paused && self.split(&shards).await? {
            return Ok(false);
        }
        // Short: a shard another process finishes, or frees by dying, is seen at the next
        // look; one this process finishes wakes it at once.
        let wait = self
            .options
            .throttle_interval
            .min(Duration::from_millis(25));
        tokio::select! {
            _ = self.sleep(wait) => {}
            _ = finished => {}
        }
        Ok(false)
    }

    /// Splits the running shard with the most keys left, as far as it can tell, at a key
    /// inside its unprocessed range; this worker takes the new second half. `false` when no
    /// shard is worth splitting (or another worker split or finished it first).
    ///
    /// Where to cut is worked out from the unlocked rows first (integer keys: in Rust; text
    /// keys: by reading the shard's next keys), and the shard's row is locked only to cut
    /// it, so a worker looking for work does not take its shard from the worker running it.
    async fn split(&mut self, shards: &[ShardRow]) -> Result<bool, Error> {
        let span = self.int_span;
        let running = shards.iter().filter(|s| !s.done);
        let candidate = if span.is_some() {
            running.max_by_key(|s| shard::width(s.cursor.as_ref(), s.end.as_ref(), span))
        } else {
            // Text and binary first parts have no width to measure: the last shard (no end)
            // first, where the sample below measures how many keys are left.
            running.max_by_key(|s| (s.end.is_none(), std::cmp::Reverse(s.shard)))
        };
        let Some(candidate) = candidate else {
            return Ok(false);
        };
        let batch = i128::from(i64::try_from(self.limit()).unwrap_or(i64::MAX));
        let at = match span {
            Some(_) => shard::split_point(
                &self.kinds,
                candidate.cursor.as_ref(),
                candidate.end.as_ref(),
                span,
                // Worth it from one batch's width left: two half batches side by side end
                // sooner than one and a half in a row.
                batch,
            ),
            None if Instant::now() < self.next_sample => None,
            None => {
                let mut conn = self.acquire("reading a shard's next keys").await?;
                let at = self
                    .sample(&mut conn, candidate)
                    .await
                    .map_err(|e| match e {
                        BatchError::Stop(e) => *e,
                        BatchError::Database(e) | BatchError::KeyArrived(e) => Error::database(
                            format!(
                                "reading the next keys of shard {} of job `{}`",
                                candidate.shard, self.report.job
                            ),
                            e,
                        ),
                    })?;
                if at.is_none() {
                    // Too few keys left to split: look again later, not at every turn.
                    self.next_sample = Instant::now() + Duration::from_millis(500);
                }
                at
            }
        };
        let Some(at) = at else {
            return Ok(false);
        };
        let new = shards.iter().map(|s| s.shard).max().unwrap_or(0) + 1;
        let context = || {
            format!(
                "splitting shard {} of job `{}`",
                candidate.shard, self.report.job
            )
        };
        let mut conn = self.acquire("splitting a shard").await?;
        let mut batch_conn = BatchConnection::<D>::new(&mut conn);
        let result = self
            .split_shard(batch_conn.conn(), candidate, at, new, batch)
            .await;
        D::end_batch(batch_conn.conn(), self.session, self.timeouts).await;
        let split = match result {
            Ok(split) => {
                batch_conn.finished();
                split
            }
            Err(BatchError::Stop(e)) => return Err(*e),
            // Another worker took the same new shard number, the shard's lock was held past
            // the lock timeout, or the statement timeout fired: look again at the next turn
            // (the batches go on meanwhile).
            Err(BatchError::Database(e))
                if D::classify(&e) != ErrorClass::Permanent || is_unique_violation(&e) =>
            {
                tracing::debug!(job = %self.report.job, shard = candidate.shard, error = %e, "split given up; looking again");
                None
            }
            Err(BatchError::Database(e) | BatchError::KeyArrived(e)) => {
                return Err(Error::database(context(), e))
            }
        };
        let Some(at) = split else {
            return Ok(false);
        };
        self.shard = new;
        self.report.shards_split += 1;
        tracing::info!(job = %self.report.job, shard = candidate.shard, new_shard = new, at = %at, "split a shard; this worker takes the keys above the split");
        Ok(true)
    }

    /// With the shard's row locked (waiting for its batch in flight), cuts it at `at`, or,
    /// for an integer first key when its cursor has moved past `at` meanwhile, at the middle
    /// of what is left, and inserts shard `new` for the rest. `None` when the shard is done,
    /// paused, was cut by another worker, or is too small now.
    async fn split_shard(
        &self,
        conn: &mut Conn<D>,
        seen: &ShardRow,
        at: Key,
        new: i64,
        batch: i128,
    ) -> Result<Option<Key>, BatchError> {
        let mut tx = D::begin_batch(conn, self.session, self.timeouts).await?;
        let Some(row) = self.store.lock(&mut tx, Pick::Shard(seen.shard)).await? else {
            return Ok(None);
        };
        let row = row.map_err(|e| BatchError::Stop(Box::new(e)))?;
        if row.done || row.paused || row.end != seen.end {
            tx.rollback().await?;
            return Ok(None);
        }
        let at = match (&row.cursor, self.int_span) {
            (Some(cursor), _) if self.cmp(&mut tx, cursor, &at).await? != KeyOrdering::Less => {
                match self.int_span {
                    Some(span) => shard::split_point(
                        &self.kinds,
                        row.cursor.as_ref(),
                        row.end.as_ref(),
                        Some(span),
                        batch,
                    ),
                    None => None,
                }
            }
            _ => Some(at),
        };
        let Some(at) = at else {
            tx.rollback().await?;
            return Ok(None);
        };
        self.store.split(&mut tx, &row, &at, new).await?;
        tx.commit().await?;
        Ok(Some(at))
    }

    /// A key about halfway through a shard of a text or binary first key, found by reading
    /// its next keys in doubling counts (at most 64 batches' worth, so a split of a huge shard
    /// reads a bounded number of keys and cuts off the part after them); `None` when fewer
    /// than two batches are left.
    async fn sample(&self, conn: &mut Conn<D>, row: &ShardRow) -> Result<Option<Key>, BatchError> {
        let batch = self.limit();
        let cap = batch.saturating_mul(64);
        let mut n = batch.saturating_mul(2);
        let seen = loop {
            let Some((hi, keys)) = self.bounds(conn, row.cursor.as_ref(), n).await? else {
                return Ok(None);
            };
            let past_end = match &row.end {
                Some(end) => self.cmp(conn, &hi, end).await? == KeyOrdering::Greater,
                None => false,
            };
            if past_end || keys < n || n >= cap {
                break if past_end { n } else { keys.min(n) };
            }
            n = n.saturating_mul(2);
        };
        let mut half = seen / 2;
        while half >= batch {
            let Some((at, _)) = self.bounds(conn, row.cursor.as_ref(), half).await? else {
                return Ok(None);
            };
            let inside = match &row.end {
                Some(end) => self.cmp(conn, &at, end).await? == KeyOrdering::Less,
                None => true,
            };
            if inside {
                return Ok(Some(at));
            }
            half /= 2;
        }
        Ok(None)
    }

    /// The source's smallest and largest first key part, when it is an integer (splits and
    /// the initial plan cut its span); `None` for other keys or an empty source.
    pub(super) async fn first_span(&self) -> Result<Option<(i128, i128)>, Error> {
        if !matches!(self.kinds.first(), Some(KeyKind::Int | KeyKind::UInt)) {
            return Ok(None);
        }
        let mut conn = self.acquire("reading the source key span").await?;
        if let Some(scan) = self.partials {
            return scan
                .span::<D>(&mut conn)
                .await
                .map(|span| span.map(|(min, max)| (i128::from(min), i128::from(max))))
                .map_err(|e| {
                    Error::database(
                        format!("reading the primary-key span of {}", scan.driving),
                        e,
                    )
                });
        }
        let span = key_span::<D>(&mut conn, self.stmts, self.kinds[0])
            .await
            .map_err(|e| {
                Error::database(
                    format!("reading the key span of the source of {}", self.def.table),
                    e,
                )
            })?;
        let int = |v: &KeyValue| match v {
            KeyValue::Int(i) => Some(i128::from(*i)),
            KeyValue::UInt(u) => Some(i128::from(*u)),
            _ => None,
        };
        Ok(span.and_then(|(min, max)| Some((int(&min)?, int(&max)?))))
    }

    /// The initial shard plan of a fresh job of several workers: an integer first key's span
    /// cut into `workers` equal widths. Other keys start as one shard that idle workers split
    /// by sampling. A job another worker cut first, or that has started, is left as it is.
    ///
    /// The scan's partials phase empties its staging table here, in the cut's transaction,
    /// rather than in its first chunk's: once the job is cut, the other shards' chunks may
    /// commit before shard 0's first one.
    pub(super) async fn cut(&self, workers: u32) -> Result<(), Error> {
        let clear = self.partials.map(|scan| scan.clear.as_str());
        let Some(span) = self.int_span else {
            return Ok(());
        };
        let cuts = shard::initial_cuts(&self.kinds, span, workers);
        let context = || format!("cutting job `{}` into shards", self.report.job);
        let mut conn = self.acquire("cutting the job into shards").await?;
        let mut batch_conn = BatchConnection::<D>::new(&mut conn);
        let result = match D::begin_batch(batch_conn.conn(), self.session, self.timeouts).await {
            Ok(tx) => self.store.cut(tx, &cuts, clear).await,
            Err(e) => Err(e),
        };
        D::end_batch(batch_conn.conn(), self.session, self.timeouts).await;
        result.map_err(|e| Error::database(context(), e))?;
        batch_conn.finished();
        Ok(())
    }
}
