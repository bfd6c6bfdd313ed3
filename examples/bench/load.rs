//! The application's side of a backfill: a steady OLTP load on the benchmark's own tables,
//! through a small pool of its own, whose latency is measured while nothing else runs and
//! while each figure runs.
//!
//! The load is open-loop: operation `i` is due at `start + i / rate`, is started at that time
//! whatever the earlier ones are doing, and its latency is counted from when it was due, so a
//! stall shows in full (no coordinated omission: a closed loop would issue fewer operations
//! while the server is slow and hide the stall). Operations rotate over four single-row
//! statements on keys spread over the whole key space by a fixed pseudo-random sequence:
//!
//! - a point read of `events` by primary key, and of `user_stats` by `user_id`;
//! - a point update of the same kinds of rows, `SET amount = amount` and
//!   `SET last_seen = last_seen`: each takes the row's lock (and writes a row version on
//!   PostgreSQL) as an application's write does, while leaving every value as it was, so the
//!   backfill's results are still checked against the limit's.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backfill::sqlx::mysql::MySqlPoolOptions;
use backfill::sqlx::postgres::PgPoolOptions;
use backfill::sqlx::{self, MySqlPool, PgPool};
use tokio::task::JoinHandle;

use crate::db::{own_sql, Db};
use crate::waits::{Sampler, Sampling, Waits, LOAD_APPLICATION};
use crate::BoxError;

/// Connections of the load's own pool: the application's, not the backfill's.
pub(crate) const LOAD_CONNECTIONS: u32 = 8;

/// The four operations, in the order they rotate; every one binds one key.
pub(crate) const OPS: [(&str, &str); 4] = [
    (
        "SELECT amount FROM events WHERE id = $1",
        "SELECT amount FROM events WHERE id = ?",
    ),
    (
        "SELECT event_count FROM user_stats WHERE user_id = $1",
        "SELECT event_count FROM user_stats WHERE user_id = ?",
    ),
    (
        "UPDATE events SET amount = amount WHERE id = $1",
        "UPDATE events SET amount = amount WHERE id = ?",
    ),
    (
        "UPDATE user_stats SET last_seen = last_seen WHERE user_id = $1",
        "UPDATE user_stats SET last_seen = last_seen WHERE user_id = ?",
    ),
];

/// What each operation of [`OPS`] is, for the latency section's breakdown.
pub(crate) const OP_NAMES: [&str; OPS.len()] = [
    "read `events`",
    "read `user_stats`",
    "update `events`",
    "update `user_stats`",
];

/// The load's pool, on the benchmark's namespace.
#[derive(Clone)]
enum LoadPool {
    Postgres(PgPool),
    MySql(MySqlPool),
}

/// A steady load of `rate` operations per second over `events` ids `1..=events` and users
/// `1..=users`.
pub(crate) struct Load {
    pool: LoadPool,
    rate: u64,
    events: i64,
    users: i64,
    /// What the sessions wait on, sampled while the load runs (`--waits`).
    sampler: Option<Sampler>,
}

/// A running load: stop it to get its latencies.
pub(crate) struct Running {
    stop: Arc<AtomicBool>,
    task: JoinHandle<LoadStats>,
    sampling: Option<Sampling>,
}

/// The latencies of one stretch of load.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoadStats {
    /// Every completed operation's latency in microseconds, from when it was due; sorted.
    pub(crate) micros: Vec<u64>,
    /// The same latencies by operation, in the order of [`OPS`] ([`OP_NAMES`]); each sorted.
    pub(crate) by_op: [Vec<u64>; OPS.len()],
    /// Operations that failed (the error counts, the latency does not).
    pub(crate) errors: u64,
    /// The first error's message.
    pub(crate) first_error: Option<String>,
    /// Wall time the load ran.
    pub(crate) elapsed: Duration,
    /// What the sessions waited on meanwhile, when sampled (`--waits`).
    pub(crate) waits: Option<Waits>,
}

impl LoadStats {
    /// The `q` quantile (0.0..=1.0) of the latencies (nearest rank), in milliseconds.
    pub(crate) fn quantile_ms(&self, q: f64) -> Option<f64> {
        quantile_ms(&self.micros, q)
    }

    /// The `q` quantile of operation `op`'s latencies (an index of [`OPS`]), in milliseconds.
    pub(crate) fn op_quantile_ms(&self, op: usize, q: f64) -> Option<f64> {
        quantile_ms(&self.by_op[op], q)
    }

    /// Adds another stretch's latencies (the runs of one figure pooled together).
    pub(crate) fn merge(&mut self, other: &LoadStats) {
        self.micros.extend_from_slice(&other.micros);
        self.micros.sort_unstable();
        for (mine, theirs) in self.by_op.iter_mut().zip(&other.by_op) {
            mine.extend_from_slice(theirs);
            mine.sort_unstable();
        }
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        self.elapsed += other.elapsed;
        match (&mut self.waits, &other.waits) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (None, Some(theirs)) => self.waits = Some(theirs.clone()),
            (_, None) => {}
        }
    }

    /// Operations per second actually completed.
    pub(crate) fn ops_per_sec(&self) -> f64 {
        (self.micros.len() as u64 + self.errors) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl Load {
    /// Opens the load's own pool (every connection opened now, so no run pays for it) on the
    /// benchmark's namespace (the same server as `db`), and with `waits` one more connection
    /// that samples what the sessions wait on (`waits.rs`).
    pub(crate) async fn connect(
        db: &Db,
        rate: u64,
        events: i64,
        users: i64,
        waits: bool,
    ) -> Result<Load, BoxError> {
        let pool = match db {
            Db::Postgres(p) => {
                let options = p.connect_options().as_ref().clone();
                LoadPool::Postgres(
                    PgPoolOptions::new()
                        .min_connections(LOAD_CONNECTIONS)
                        .max_connections(LOAD_CONNECTIONS)
                        .connect_with(options.application_name(LOAD_APPLICATION))
                        .await?,
                )
            }
            Db::MySql(p) => {
                let options = p.connect_options().as_ref().clone();
                LoadPool::MySql(
                    MySqlPoolOptions::new()
                        .min_connections(LOAD_CONNECTIONS)
                        .max_connections(LOAD_CONNECTIONS)
                        .connect_with(options)
                        .await?,
                )
            }
            Db::Sqlite(_) => {
                return Err("the load generator runs on PostgreSQL and MySQL/MariaDB".into())
            }
        };
        let sampler = if waits {
            Some(Sampler::connect(db).await?)
        } else {
            None
        };
        let load = Load {
            pool,
            rate: rate.max(1),
            events,
            users,
            sampler,
        };
        // Warm every connection's prepared statements, untimed.
        let warm = load.start();
        tokio::time::sleep(Duration::from_secs(1)).await;
        warm.stop().await;
        Ok(load)
    }

    /// Starts the load; it runs until [`Running::stop`].
    pub(crate) fn start(&self) -> Running {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let pool = self.pool.clone();
        let (rate, events, users) = (self.rate, self.events, self.users);
        let task = tokio::spawn(async move {
            let micros = Arc::new(Mutex::new(Vec::new()));
            let errors = Arc::new(AtomicU64::new(0));
            let first_error = Arc::new(Mutex::new(None));
            let mut keys = fastrand::Rng::with_seed(0x00b4_cf11);
            let period = Duration::from_secs_f64(1.0 / rate as f64);
            let started = Instant::now();
            let mut inflight = Vec::new();
            let mut i: u32 = 0;
            while !flag.load(Ordering::Relaxed) {
                let due = started + period * i;
                tokio::time::sleep_until(due.into()).await;
                let op = i as usize % OPS.len();
                let key = if op.is_multiple_of(2) {
                    keys.i64(1..=events)
                } else {
                    keys.i64(1..=users)
                };
                let (pool, micros, errors, first_error) = (
                    pool.clone(),
                    Arc::clone(&micros),
                    Arc::clone(&errors),
                    Arc::clone(&first_error),
                );
                inflight.push(tokio::spawn(async move {
                    match pool.run(op, key).await {
                        Ok(()) => lock(&micros).push((op, due.elapsed().as_micros() as u64)),
                        Err(e) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            lock(&first_error).get_or_insert_with(|| e.to_string());
                        }
                    }
                }));
                inflight.retain(|t: &JoinHandle<()>| !t.is_finished());
                i += 1;
            }
            let elapsed = started.elapsed();
            for t in inflight {
                let _ = t.await;
            }
            let mut by_op: [Vec<u64>; OPS.len()] = Default::default();
            for (op, us) in std::mem::take(&mut *lock(&micros)) {
                by_op[op].push(us);
            }
            let mut micros: Vec<u64> = by_op.concat();
            micros.sort_unstable();
            for op in &mut by_op {
                op.sort_unstable();
            }
            let first_error = lock(&first_error).take();
            LoadStats {
                micros,
                by_op,
                errors: errors.load(Ordering::Relaxed),
                first_error,
                elapsed,
                waits: None,
            }
        });
        let sampling = self.sampler.as_ref().map(Sampler::start);
        Running {
            stop,
            task,
            sampling,
        }
    }
}

impl Running {
    /// Stops issuing operations, waits for those in flight, and returns the latencies.
    pub(crate) async fn stop(self) -> LoadStats {
        self.stop.store(true, Ordering::Relaxed);
        let mut stats = self.task.await.unwrap_or_default();
        if let Some(sampling) = self.sampling {
            stats.waits = Some(sampling.stop().await);
        }
        stats
    }
}

impl LoadPool {
    /// Runs operation `op` on `key`, each its own autocommit statement.
    async fn run(&self, op: usize, key: i64) -> sqlx::Result<()> {
        let (pg, my) = OPS[op];
        match self {
            LoadPool::Postgres(p) => sqlx::query(own_sql(pg))
                .bind(key)
                .execute(p)
                .await
                .map(|_| ()),
            LoadPool::MySql(p) => sqlx::query(own_sql(my))
                .bind(key)
                .execute(p)
                .await
                .map(|_| ()),
        }
    }
}

/// The `q` quantile (0.0..=1.0) of sorted latencies in microseconds (nearest rank), in
/// milliseconds.
fn quantile_ms(sorted: &[u64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1] as f64 / 1e3)
}

/// A mutex whose holder cannot panic while holding it (a push, a take).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::LoadStats;

    #[test]
    fn quantiles_are_nearest_rank_over_the_sorted_latencies() {
        let stats = LoadStats {
            micros: (1..=100).map(|ms| ms * 1_000).collect(),
            ..LoadStats::default()
        };
        assert_eq!(stats.quantile_ms(0.5), Some(50.0));
        assert_eq!(stats.quantile_ms(0.99), Some(99.0));
        assert_eq!(stats.quantile_ms(1.0), Some(100.0));
        assert_eq!(LoadStats::default().quantile_ms(0.99), None);
    }

    #[test]
    fn merged_runs_pool_their_latencies_and_errors() {
        let mut a = LoadStats {
            micros: vec![1, 5],
            by_op: [vec![5], vec![1], vec![], vec![]],
            errors: 1,
            ..LoadStats::default()
        };
        a.merge(&LoadStats {
            micros: vec![3],
            by_op: [vec![3], vec![], vec![], vec![]],
            errors: 2,
            first_error: Some("lock wait timeout".to_string()),
            ..LoadStats::default()
        });
        assert_eq!(a.micros, [1, 3, 5]);
        assert_eq!(
            a.by_op[0],
            [3, 5],
            "each operation's latencies pooled and sorted"
        );
        assert_eq!(a.op_quantile_ms(0, 1.0), Some(0.005));
        assert_eq!(a.op_quantile_ms(2, 0.99), None);
        assert_eq!(a.errors, 3);
        assert_eq!(a.first_error.as_deref(), Some("lock wait timeout"));
    }
}
