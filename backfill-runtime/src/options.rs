//! What a run is asked to do ([`RunOptions`]) and what it reports ([`Report`], [`Progress`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::definition::Strategy;
use crate::throttle::LagProbe;
use crate::value::Key;

/// A progress callback, called after every committed batch and while throttled.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Options of one run. Every option has a safe default; build with the chained setters.
///
/// ```
/// use std::time::Duration;
/// use backfill_runtime::RunOptions;
///
/// let options = RunOptions::default()
///     .batch_size(5_000)
///     .pause(Duration::from_millis(50))
///     .max_retries(10);
/// assert_eq!(options.batch_size, Some(5_000));
/// ```
#[derive(Clone)]
pub struct RunOptions {
    /// Job name in the progress table; default: the definition's `job`.
    pub job: Option<String>,
    /// Fixed batch size in distinct keys; overrides the attribute and turns adaptive sizing off.
    pub batch_size: Option<u64>,
    /// Start over from the first key, accepting a changed definition.
    pub restart: bool,
    /// Delete target keys that no source row produces (keys that left the source), range by
    /// range in each batch's transaction, and those above the last source key at the end.
    /// Off by default: a backfill never deletes unless asked.
    pub delete_extra: bool,
    /// Stop (resumably) after this many batches of this run.
    pub max_batches: Option<u64>,
    /// Sleep between batches.
    pub pause: Duration,
    /// Name of the progress table (default `backfill_progress`); may be `schema.name`.
    pub progress_table: String,
    /// How many times a batch that failed with a transient error is retried.
    pub max_retries: u32,
    /// Backoff before the first retry; doubled for each next one, with jitter, capped at 30 s.
    pub retry_backoff: Duration,
    /// Adaptive sizing aims for batches of this duration.
    pub target_batch_time: Duration,
    /// Smallest adaptive batch size.
    pub min_batch_size: u64,
    /// Largest adaptive batch size.
    pub max_batch_size: u64,
    /// Batch size of the first adaptive batch.
    pub initial_batch_size: u64,
    /// Per-statement timeout inside a batch.
    pub statement_timeout: Option<Duration>,
    /// How long a batch waits for a row lock before it fails (and is retried).
    pub lock_timeout: Option<Duration>,
    /// Limit on rows written per second, averaged over the run (with several workers: over
    /// all of them together). A limit set from outside (`service rate`) replaces it.
    pub max_rows_per_sec: Option<u64>,
    /// Concurrent batch streams in this process, each with its own connection, on shards of
    /// the key span (1, the default: one stream, as before shards existed).
    pub workers: u32,
    /// The job's limit on workers running batches at once, over every process and machine,
    /// written when this run starts the job (or restarts it); see
    /// [`max_workers`](RunOptions::max_workers). `None`: no limit, or the job's own.
    pub max_workers: Option<u32>,
    /// Pause while any of these probes reports more lag than its threshold (see
    /// [`lag_guard`](RunOptions::lag_guard)).
    pub lag_guards: Vec<(Arc<dyn LagProbe>, Duration)>,
    /// How often a throttled run probes again.
    pub throttle_interval: Duration,
    /// Graceful shutdown: once cancelled, the batch in flight commits or rolls back and the run
    /// returns a resumable report.
    pub shutdown: CancellationToken,
    /// Called after every batch and while waiting.
    pub on_progress: Option<ProgressFn>,
    /// How the source is read; `None`: the definition's `strategy` (`auto` unless written).
    pub strategy: Option<Strategy>,
    /// The scan strategy's chunks: a fixed number of source rows each; `None`: adaptive
    /// toward [`scan_chunk_time`](Self::scan_chunk_time).
    pub scan_chunk_rows: Option<u64>,
    /// Adaptive chunks of the scan strategy aim for this duration (default 4 s: a chunk
    /// locks nothing the application writes, and larger chunks write fewer partials).
    pub scan_chunk_time: Duration,
    /// Adaptive batches of the scan strategy's merge phase aim for this duration; `None`:
    /// [`target_batch_time`](Self::target_batch_time), at most 25 ms on MySQL/MariaDB,
    /// where an application statement touching a row a merge batch wrote waits for its commit.
    pub merge_batch_time: Option<Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            job: None,
            batch_size: None,
            restart: false,
            delete_extra: false,
            max_batches: None,
            pause: Duration::ZERO,
            progress_table: "backfill_progress".to_string(),
            max_retries: 5,
            retry_backoff: Duration::from_millis(100),
            target_batch_time: Duration::from_millis(250),
            min_batch_size: 100,
            max_batch_size: 100_000,
            initial_batch_size: 1_000,
            statement_timeout: None,
            lock_timeout: None,
            max_rows_per_sec: None,
            workers: 1,
            max_workers: None,
            lag_guards: Vec::new(),
            throttle_interval: Duration::from_millis(500),
            shutdown: CancellationToken::new(),
            on_progress: None,
            strategy: None,
            scan_chunk_rows: None,
            scan_chunk_time: Duration::from_secs(4),
            merge_batch_time: None,
        }
    }
}

impl fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("job", &self.job)
            .field("batch_size", &self.batch_size)
            .field("restart", &self.restart)
            .field("max_batches", &self.max_batches)
            .field("pause", &self.pause)
            .field("progress_table", &self.progress_table)
            .field("max_retries", &self.max_retries)
            .field("target_batch_time", &self.target_batch_time)
            .field("statement_timeout", &self.statement_timeout)
            .field("lock_timeout", &self.lock_timeout)
            .field("max_rows_per_sec", &self.max_rows_per_sec)
            .field("workers", &self.workers)
            .field("max_workers", &self.max_workers)
            .field("strategy", &self.strategy)
            .field("scan_chunk_rows", &self.scan_chunk_rows)
            .field(
                "lag_guards",
                &self
                    .lag_guards
                    .iter()
                    .map(|(probe, threshold)| (probe.describe(), *threshold))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl RunOptions {
    /// Sets the job name.
    pub fn job(mut self, job: impl Into<String>) -> Self {
        self.job = Some(job.into());
        self
    }
    /// Sets a fixed batch size (distinct keys per batch); turns adaptive sizing off.
    pub fn batch_size(mut self, keys: u64) -> Self {
        self.batch_size = Some(keys);
        self
    }
    /// Starts over from the first key and accepts a changed definition.
    pub fn restart(mut self, restart: bool) -> Self {
        self.restart = restart;
        self
    }
    /// Deletes target keys that no source row produces, each range in its batch's
    /// transaction (counted in [`Report::rows_deleted`] and logged): the repair of keys that
    /// left the source, which upserts alone never remove. Off by default.
    ///
    /// ```
    /// use backfill_runtime::RunOptions;
    ///
    /// let repair = RunOptions::default().restart(true).delete_extra(true);
    /// assert!(repair.delete_extra);
    /// ```
    pub fn delete_extra(mut self, delete: bool) -> Self {
        self.delete_extra = delete;
        self
    }
    /// Stops after `n` batches; the job stays resumable.
    pub fn max_batches(mut self, n: u64) -> Self {
        self.max_batches = Some(n);
        self
    }
    /// Sleeps this long between batches.
    pub fn pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }
    /// Uses another progress table (`name` or `schema.name`).
    pub fn progress_table(mut self, table: impl Into<String>) -> Self {
        self.progress_table = table.into();
        self
    }
    /// Retries a batch up to `n` times on transient errors.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }
    /// Sets the first retry's backoff.
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff = backoff;
        self
    }
    /// Aims adaptive batches at this duration.
    pub fn target_batch_time(mut self, target: Duration) -> Self {
        self.target_batch_time = target;
        self
    }
    /// Bounds adaptive batch sizes.
    pub fn batch_size_bounds(mut self, min: u64, max: u64) -> Self {
        self.min_batch_size = min.max(1);
        self.max_batch_size = max.max(self.min_batch_size);
        self
    }
    /// Sets the statement timeout of every statement in a batch.
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = Some(timeout);
        self
    }
    /// Sets how long a batch waits for a lock before it fails and is retried.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }
    /// Limits rows written per second.
    pub fn max_rows_per_sec(mut self, rows: u64) -> Self {
        self.max_rows_per_sec = Some(rows);
        self
    }

    /// Runs `n` concurrent batch streams in this process, each with its own connection, on
    /// disjoint shards of the key span (PostgreSQL, MariaDB 10.6+, MySQL 8; SQLite has one
    /// writer and refuses more than 1). The same run started in other processes or on other
    /// machines joins the same job; every worker of a job must be given the same `n` (the
    /// job's shard plan). The pool needs at least `n` connections. With the scan strategy both
    /// of its phases are sharded: the chunks of the source side by side, then the merge's key
    /// ranges.
    ///
    /// ```
    /// use backfill_runtime::RunOptions;
    ///
    /// assert_eq!(RunOptions::default().workers, 1);
    /// assert_eq!(RunOptions::default().workers(4).workers, 4);
    /// // No workers is one worker.
    /// assert_eq!(RunOptions::default().workers(0).workers, 1);
    /// ```
    pub fn workers(mut self, n: u32) -> Self {
        self.workers = n.max(1);
        self
    }
    /// Starts the job with a live limit of `k` workers running batches at once, summed over
    /// every process and machine on the job ([`Control::Workers`], `service workers NAME
    /// N|all`, changes it while it runs). The others wait at their batch boundary, polling
    /// every [`throttle_interval`](RunOptions::throttle_interval), and go on when the limit is
    /// raised: so a process started with `workers(8).max_workers(2)` runs 2 batches at once
    /// and can be raised live to 8. Written only by the run that starts the job (or restarts
    /// it); a run joining a started job keeps the job's limit and logs a warning if it asked
    /// for another. Only for jobs of several workers; SQLite refuses it, and so does 0 (pause
    /// the job instead).
    ///
    /// ```
    /// use backfill_runtime::RunOptions;
    ///
    /// let options = RunOptions::default().workers(8).max_workers(2);
    /// assert_eq!((options.workers, options.max_workers), (8, Some(2)));
    /// ```
    pub fn max_workers(mut self, k: u32) -> Self {
        self.max_workers = Some(k);
        self
    }
    /// Pauses while `probe` reports more lag than `threshold`. Call it once per thing to watch
    /// (each replica, a throttle query): before each batch every guard is asked, and the run
    /// waits while any of them is above its threshold.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use backfill_runtime::{throttle::LagProbe, RunOptions};
    ///
    /// // `replica`: a `PgReplicaLag` or `MySqlReplicaLag`; `busy`: a `ThrottleQuery`.
    /// fn guarded(replica: Arc<dyn LagProbe>, busy: Arc<dyn LagProbe>) -> RunOptions {
    ///     RunOptions::default()
    ///         .lag_guard(replica, Duration::from_secs(5))
    ///         .lag_guard(busy, Duration::ZERO)
    /// }
    /// ```
    pub fn lag_guard(mut self, probe: Arc<dyn LagProbe>, threshold: Duration) -> Self {
        self.lag_guards.push((probe, threshold));
        self
    }
    /// How often a throttled run looks again.
    pub fn throttle_interval(mut self, interval: Duration) -> Self {
        self.throttle_interval = interval;
        self
    }
    /// Uses this token as the shutdown signal.
    pub fn shutdown(mut self, token: CancellationToken) -> Self {
        self.shutdown = token;
        self
    }
    /// Cancels the run's shutdown token when `signal` completes (e.g. `tokio::signal::ctrl_c()`).
    pub fn shutdown_on<F>(self, signal: F) -> Self
    where
        F: Future + Send + 'static,
    {
        let token = self.shutdown.clone();
        let signal: Pin<Box<dyn Future<Output = F::Output> + Send>> = Box::pin(signal);
        tokio::spawn(async move {
            tokio::select! {
                _ = signal => token.cancel(),
                _ = token.cancelled() => {}
            }
        });
        self
    }
    /// Reads the source with `strategy`, overriding the definition's `strategy = "..."`:
    /// [`Strategy::Scan`] reads it in chunks of its primary key and merges partial aggregates
    /// (refused, naming why, for a mapping it cannot read), [`Strategy::Ranges`] by key ranges,
    /// [`Strategy::Auto`] chooses before the run from the access path.
    ///
    /// ```
    /// use backfill_runtime::{definition::Strategy, RunOptions};
    ///
    /// let options = RunOptions::default().strategy(Strategy::Scan);
    /// assert_eq!(options.strategy, Some(Strategy::Scan));
    /// ```
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = Some(strategy);
        self
    }
    /// Cuts the scan strategy's chunks at `rows` source rows each (adaptive sizing off).
    pub fn scan_chunk_rows(mut self, rows: u64) -> Self {
        self.scan_chunk_rows = Some(rows.max(1));
        self
    }
    /// Aims the scan's merge batches at `target` (see
    /// [`merge_batch_time`](Self::merge_batch_time)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use backfill_runtime::RunOptions;
    ///
    /// // On MySQL/MariaDB the merge would aim at 25 ms; here its batches may take 250 ms.
    /// let options = RunOptions::default().merge_batch_time(Duration::from_millis(250));
    /// assert_eq!(options.merge_batch_time, Some(Duration::from_millis(250)));
    /// ```
    pub fn merge_batch_time(mut self, target: Duration) -> Self {
        self.merge_batch_time = Some(target);
        self
    }
    /// Aims adaptive scan chunks at `target`.
    pub fn scan_chunk_time(mut self, target: Duration) -> Self {
        self.scan_chunk_time = target;
        self
    }
    /// Calls `f` after every batch and while throttled.
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(f));
        self
    }
}

/// A snapshot of a running job, passed to the progress callback.
#[derive(Debug, Clone)]
pub struct Progress {
    /// The job name.
    pub job: String,
    /// Batches committed by this run.
    pub batches: u64,
    /// Keys processed by this run.
    pub keys: u64,
    /// Rows written (inserted or changed) by this run.
    pub rows_written: u64,
    /// The last committed key.
    pub cursor: Option<Key>,
    /// The last batch's range, lower bound exclusive.
    pub last_range: Option<(Option<Key>, Key)>,
    /// The last batch's duration.
    pub last_batch_time: Duration,
    /// The batch size the next batch will use.
    pub batch_size: u64,
    /// Elapsed time of this run.
    pub elapsed: Duration,
    /// Estimated fraction done (0.0..=1.0), for integer keys, from the source's min/max key.
    pub fraction_done: Option<f64>,
    /// Set while the run waits: why (`replica lag 4.2s`, `rate limit`).
    pub waiting: Option<String>,
}

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Every key was processed.
    Done,
    /// The job was already done before this run; nothing was written.
    AlreadyDone,
    /// `max_batches` was reached.
    MaxBatches,
    /// The shutdown signal fired.
    Shutdown,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The job name.
    pub job: String,
    /// Batches committed by this run.
    pub batches: u64,
    /// Distinct keys processed by this run.
    pub keys: u64,
    /// Rows inserted or changed by this run (unchanged rows are not counted).
    pub rows_written: u64,
    /// Target rows deleted because no source row produces their key (only with
    /// [`RunOptions::delete_extra`]).
    pub rows_deleted: u64,
    /// Batches retried after a transient error, or (PostgreSQL) after a key was written into a
    /// range between its count and its insert.
    pub retries: u64,
    /// Time spent waiting for throttles.
    pub throttled: Duration,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The cursor this run resumed from, `None` if it started at the first key.
    pub resumed_from: Option<Key>,
    /// The last committed key.
    pub cursor: Option<Key>,
    /// Source rows with a NULL key: no range can contain them, so they were skipped.
    pub null_keys: u64,
    /// Batches that hit the statement timeout and were split in two and retried.
    pub timeout_splits: u64,
    /// Shards this run split so an idle worker could take the second half.
    pub shards_split: u64,
    /// PostgreSQL: batches whose range held no target row yet, written by a plain `INSERT
    /// ... SELECT` instead of the upsert (the same rows, at half the upsert's cost; see
    /// `Statements::insert`).
    pub inserted_batches: u64,
    /// Why the run stopped.
    pub stop: StopReason,
    /// How the run read the source: [`Strategy::Ranges`] or [`Strategy::Scan`] (what `auto`
    /// chose).
    pub strategy: Strategy,
    /// Why that strategy, when it was chosen rather than asked for (`auto`).
    pub strategy_reason: Option<String>,
    /// Wall time spent choosing the strategy before the run started, outside
    /// [`Report::elapsed`]: `auto`'s read of the access path (its catalog and statistics, the
    /// first range's bounds, an `EXPLAIN`), zero when the strategy was asked for.
    pub strategy_elapsed: Duration,
    /// The scan's partials phase, when the run read the source with the scan strategy (the
    /// fields above then describe the merge phase, `batches`, `retries` and `throttled` both).
    pub scan: Option<ScanReport>,
}

/// What the scan strategy's partials phase did in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// The staging table the partials went to (dropped once the merge is done).
    pub staging_table: String,
    /// The progress table's job of the partials phase (`<job>/partials`).
    pub job: String,
    /// Chunks committed by this run.
    pub chunks: u64,
    /// Source rows those chunks held (of the first table of `from`).
    pub source_rows: u64,
    /// Staging rows written (on MySQL/MariaDB, its affected-row count).
    pub partials_written: u64,
    /// Whether the partials phase was complete when the merge started.
    pub finished: bool,
    /// Wall time of this run's partials phase: the staging table made or checked, then the
    /// chunks. The merge took the rest of [`Report::elapsed`].
    pub partials_elapsed: Duration,
    /// The partials phase wrote one chunk, so every key has one partial row, and the merge
    /// read each key's row without a GROUP BY (PostgreSQL, unless a value merges an `avg`).
    pub one_partial_per_key: bool,
}

impl Report {
    /// Whether the job is complete (`Done` or `AlreadyDone`).
    pub fn finished(&self) -> bool {
        matches!(self.stop, StopReason::Done | StopReason::AlreadyDone)
    }
}

/// A job's row in the progress table, as `status` shows it.
#[derive(Debug, Clone)]
pub struct JobStatus {
    /// The job name.
    pub job: String,
    /// Fingerprint of the definition that started the job.
    pub fingerprint: String,
    /// `running` (started, not finished: running now or interrupted) or `done`.
    pub state: String,
    /// The last committed key; `None` before the first batch.
    pub cursor: Option<Key>,
    /// Rows written since the job (re)started.
    pub rows_written: u64,
    /// Batches committed since the job (re)started.
    pub batches: u64,
    /// Keys processed since the job (re)started.
    pub keys: u64,
    /// When the job (re)started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// When the last batch committed.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// When the job finished.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Paused from outside (`service pause`): every worker waits at its next batch.
    pub paused: bool,
    /// The rate limit set from outside (`service rate`), for all workers together.
    pub max_rows_per_sec: Option<u64>,
    /// The live limit on workers running batches at once, over every process (`service
    /// workers`, [`RunOptions::max_workers`]); `None`: every worker runs.
    pub max_workers: Option<u32>,
    /// Every shard of a job run by several workers, in shard order (empty for a job of one
    /// worker, whose one row the fields above describe).
    pub shards: Vec<ShardStatus>,
    /// The scan strategy's partials phase and its staging table, when the job reads its
    /// source with the scan (`None` otherwise).
    pub scan: Option<ScanStatus>,
}

/// The partials phase of a job read with the scan strategy, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanStatus {
    /// Its job in the progress table (`<job>/partials`).
    pub job: String,
    /// `running` or `done`.
    pub state: String,
    /// The last chunk done: the source's primary key it ended at.
    pub cursor: Option<Key>,
    /// Chunks committed.
    pub chunks: u64,
    /// Source rows read.
    pub source_rows: u64,
    /// Partial rows written to the staging table.
    pub partials_written: u64,
    /// The staging table (created by the run, dropped when the merge is done).
    pub staging_table: String,
    /// Whether the staging table exists now.
    pub staging_exists: bool,
    /// Every shard of a partials phase run by several workers, in shard order (empty for one
    /// worker): its cursor and end are the source's primary key, its batches chunks, its keys
    /// source rows and its rows partials.
    pub shards: Vec<ShardStatus>,
}

/// What `service pause`, `service resume`, `service rate` and `service workers` change in
/// every row of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Every worker waits at its next batch boundary until resumed.
    Pause,
    /// Clears a pause.
    Resume,
    /// Rows written per second, summed over every worker of the job; `None` lifts the limit
    /// set from outside (the run's own `max_rows_per_sec` applies again).
    Rate(Option<u64>),
    /// At most this many workers of the job run batches at once, over every process and
    /// machine; `None` lifts the limit. The others wait at their next batch boundary (a
    /// batch in flight finishes) and go on when it is raised. Raising it above the workers
    /// started (`workers(n)` in each process) runs no more: start more processes, or start
    /// them with more workers and a lower limit to raise later. 1 to 1024; refused on SQLite,
    /// whose jobs run one worker.
    Workers(Option<u32>),
}

/// One shard of a job run by several workers, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardStatus {
    /// The shard's number.
    pub shard: i64,
    /// `running` or `done`.
    pub state: String,
    /// The last key done in the shard (`None`: none yet, from the first key).
    pub cursor: Option<Key>,
    /// The shard's last key (`None`: up to the source's last key).
    pub end: Option<Key>,
    /// Rows written in the shard.
    pub rows_written: u64,
    /// Batches committed in the shard.
    pub batches: u64,
    /// Keys processed in the shard.
    pub keys: u64,
    /// When the shard was created.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Its last batch.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// When it finished.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a run would do, from [`BackfillPool::plan`](crate::pool::BackfillPool::plan); writes nothing.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Smallest and largest non-NULL source key (first key column).
    pub key_span: Option<(KeyValueSpan, KeyValueSpan)>,
    /// Estimated distinct source keys (integer keys: from the span; else the engine's statistics).
    pub estimated_keys: Option<u64>,
    /// Batch size the run would start with.
    pub batch_size: u64,
    /// Estimated number of batches.
    pub estimated_batches: Option<u64>,
    /// The first batch's range: upper bound and number of keys.
    pub first_range: Option<(Key, u64)>,
    /// The engine's plan (EXPLAIN) of the first batch's upsert.
    pub explain: String,
    /// How a run would read the source (`Ranges` or `Scan`; what `auto` would choose).
    pub strategy: Strategy,
    /// Why: asked for, or what `auto` read from the access path.
    pub strategy_reason: String,
}

/// One end of the source key span (the first key column's value).
pub type KeyValueSpan = crate::value::KeyValue;
