//! Throttles: a rate limit and a replica-lag guard.
//!
//! The batch loop asks [`RateLimit`] how long to wait after each batch, and polls the
//! [`LagProbe`] of [`RunOptions::lag_guard`](crate::RunOptions::lag_guard) before each batch,
//! waiting (interruptibly) while the lag is above the threshold. Probes for PostgreSQL replicas
//! ([`PgReplicaLag`]), a PostgreSQL primary ([`PgPrimaryLag`]) and MySQL/MariaDB replicas
//! ([`MySqlReplicaLag`]) are included, each in its engine's folder (`engine/<engine>/lag.rs`) and
//! re-exported here; any other measure can implement [`LagProbe`].

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]
// Parts serve only some engines; a build with fewer engine features leaves them unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::error::Error;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use crate::pool::AnyPool;

#[cfg(feature = "mysql")]
pub use crate::engine::mysql::lag::MySqlReplicaLag;
#[cfg(feature = "postgres")]
pub use crate::engine::postgres::lag::{PgPrimaryLag, PgReplicaLag};

/// Measures replication lag; a run pauses while it reports more than the threshold.
pub trait LagProbe: Send + Sync {
    /// The current lag, or `None` when it cannot be measured (not a replica).
    fn lag(&self) -> Pin<Box<dyn Future<Output = Result<Option<Duration>, Error>> + Send + '_>>;
    /// What is probed, for logs and progress (`replica lag of 127.0.0.1:5433`).
    fn describe(&self) -> String;

    /// Why a run waits when this probe reports `lag` above the threshold, as shown in
    /// [`Progress::waiting`](crate::Progress::waiting) (default: `replica lag 4.2s`).
    fn waiting_reason(&self, lag: Duration) -> String {
        describe_lag(lag)
    }
}

/// A limit on rows written per second, averaged over the run: after a burst the run waits
/// until its average is back under the limit.
///
/// ```
/// use std::time::Duration;
/// use backfill_runtime::throttle::RateLimit;
///
/// let limit = RateLimit::new(1_000);
/// // 500 rows after 100 ms: at 1000 rows/s they should have taken 500 ms.
/// assert_eq!(limit.wait(500, Duration::from_millis(100)), Duration::from_millis(400));
/// assert_eq!(limit.wait(500, Duration::from_secs(1)), Duration::ZERO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    rows_per_sec: u64,
}

impl RateLimit {
    /// A limit of `rows_per_sec` rows per second (at least 1).
    pub fn new(rows_per_sec: u64) -> RateLimit {
        RateLimit {
            rows_per_sec: rows_per_sec.max(1),
        }
    }

    /// The limit in rows per second.
    pub fn rows_per_sec(&self) -> u64 {
        self.rows_per_sec
    }

    /// How long to wait after writing `rows` rows in `elapsed`, so the average stays under the
    /// limit.
    pub fn wait(&self, rows: u64, elapsed: Duration) -> Duration {
        let due = Duration::from_secs_f64(rows as f64 / self.rows_per_sec as f64);
        due.saturating_sub(elapsed)
    }
}

/// Seconds as a `Duration`, treating negative or non-finite values as zero.
pub(crate) fn seconds(secs: f64) -> Duration {
    if secs.is_finite() && secs > 0.0 {
        Duration::from_secs_f64(secs)
    } else {
        Duration::ZERO
    }
}

/// One connection to the replica at `url`, opened when the guard first probes.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn replica_pool<DB: sqlx::Database>(url: &str) -> Result<sqlx::Pool<DB>, Error> {
    sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(1)
        .connect_lazy(url)
        .map_err(|e| {
            Error::database(
                format!("replica URL for the lag guard ({})", server_of(url)),
                e,
            )
        })
}

/// The host and port of a URL, without credentials, for messages.
pub(crate) fn server_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split(['/', '?']).next().unwrap_or(rest).to_string()
}

/// The lag [`MySqlReplicaLag`] reports for a replica whose replication is stopped
/// (`Seconds_Behind_Master` is `NULL`): longer than any threshold.
pub const REPLICATION_STOPPED: Duration = Duration::MAX;

/// A lag measured by a query of your own, like gh-ost's `--throttle-query`: the query returns
/// one row with one floating-point column, the lag in seconds (`NULL` or no row: no lag). Use it
/// for a replication topology the built-in probes do not know (a heartbeat table, a proxy's
/// view, a maintenance flag), on any engine.
///
/// ```
/// # async fn demo(pool: sqlx::SqlitePool) {
/// use std::{sync::Arc, time::Duration};
/// use backfill_runtime::{throttle::QueryLag, RunOptions};
///
/// let probe = QueryLag::sqlite(pool, "SELECT seconds FROM heartbeat_lag");
/// let options = RunOptions::default().lag_guard(Arc::new(probe), Duration::from_secs(2));
/// # }
/// ```
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
#[derive(Debug, Clone)]
pub struct QueryLag {
    pool: AnyPool,
    query: String,
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
impl QueryLag {
    /// Runs `query` (returning floating-point seconds) on the pool of any engine.
    pub fn new(pool: impl Into<AnyPool>, query: impl Into<String>) -> QueryLag {
        QueryLag {
            pool: pool.into(),
            query: query.into(),
        }
    }

    /// Runs `query` (returning `double precision` seconds) on a PostgreSQL pool.
    #[cfg(feature = "postgres")]
    pub fn postgres(pool: sqlx::PgPool, query: impl Into<String>) -> QueryLag {
        QueryLag::new(pool, query)
    }

    /// Runs `query` (returning `DOUBLE` seconds) on a MySQL/MariaDB pool.
    #[cfg(feature = "mysql")]
    pub fn mysql(pool: sqlx::MySqlPool, query: impl Into<String>) -> QueryLag {
        QueryLag::new(pool, query)
    }

    /// Runs `query` (returning `REAL` seconds) on a SQLite pool.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(pool: sqlx::SqlitePool, query: impl Into<String>) -> QueryLag {
        QueryLag::new(pool, query)
    }
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
impl LagProbe for QueryLag {
    fn lag(&self) -> Pin<Box<dyn Future<Output = Result<Option<Duration>, Error>> + Send + '_>> {
        Box::pin(async move {
            let query = self.query.as_str();
            let secs: Result<Option<Option<f64>>, sqlx::Error> = match &self.pool {
                #[cfg(feature = "postgres")]
                AnyPool::Postgres(p) => {
                    sqlx::query_scalar(crate::engine::sql_text::operator_query(query))
                        .fetch_optional(p)
                        .await
                }
                #[cfg(feature = "mysql")]
                AnyPool::MySql(p) => {
                    sqlx::query_scalar(crate::engine::sql_text::operator_query(query))
                        .fetch_optional(p)
                        .await
                }
                #[cfg(feature = "sqlite")]
                AnyPool::Sqlite(p) => {
                    sqlx::query_scalar(crate::engine::sql_text::operator_query(query))
                        .fetch_optional(p)
                        .await
                }
            };
            let secs = secs.map_err(|e| {
                Error::database(
                    format!("running the throttle query `{query}` (it must return one floating-point column, seconds)"),
                    e,
                )
            })?;
            Ok(secs.flatten().map(seconds))
        })
    }

    fn describe(&self) -> String {
        format!("throttle query `{}`", self.query)
    }
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
/// A throttle query, like gh-ost's `--throttle-query`: any SQL returning one boolean (on
/// MySQL/MariaDB an integer, 0 or not) that is true while the backfill should wait, such as
/// `SELECT count(*) > 20 FROM pg_stat_activity WHERE state = 'active'`. Use it as a lag guard
/// (any threshold): while it returns true, no batch starts.
///
/// ```
/// # async fn demo(pool: sqlx::PgPool) {
/// use std::{sync::Arc, time::Duration};
/// use backfill_runtime::{throttle::ThrottleQuery, RunOptions};
///
/// let busy = ThrottleQuery::postgres(
///     pool,
///     "SELECT count(*) > 20 FROM pg_stat_activity WHERE state = 'active'",
/// );
/// let options = RunOptions::default().lag_guard(Arc::new(busy), Duration::ZERO);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ThrottleQuery(QueryLag);

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
impl ThrottleQuery {
    /// Runs `query` (returning a boolean, or on MySQL/MariaDB an integer, 0 = go) on the pool of
    /// any engine.
    pub fn new(pool: impl Into<AnyPool>, query: impl Into<String>) -> ThrottleQuery {
        ThrottleQuery(QueryLag::new(pool, query))
    }

    /// Runs `query` (returning `boolean`) on a PostgreSQL pool.
    #[cfg(feature = "postgres")]
    pub fn postgres(pool: sqlx::PgPool, query: impl Into<String>) -> ThrottleQuery {
        ThrottleQuery(QueryLag::postgres(pool, query))
    }

    /// Runs `query` (returning an integer, 0 = go) on a MySQL/MariaDB pool.
    #[cfg(feature = "mysql")]
    pub fn mysql(pool: sqlx::MySqlPool, query: impl Into<String>) -> ThrottleQuery {
        ThrottleQuery(QueryLag::mysql(pool, query))
    }

    /// Runs `query` (returning a boolean/integer) on a SQLite pool.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(pool: sqlx::SqlitePool, query: impl Into<String>) -> ThrottleQuery {
        ThrottleQuery(QueryLag::sqlite(pool, query))
    }
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
impl LagProbe for ThrottleQuery {
    fn lag(&self) -> Pin<Box<dyn Future<Output = Result<Option<Duration>, Error>> + Send + '_>> {
        Box::pin(async move {
            let query = self.0.query.as_str();
            let flag: Result<Option<Option<bool>>, sqlx::Error> = match &self.0.pool {
                #[cfg(feature = "postgres")]
                AnyPool::Postgres(p) => {
                    sqlx::query_scalar(crate::engine::sql_text::operator_query(query))
                        .fetch_optional(p)
                        .await
                }
                #[cfg(feature = "mysql")]
                AnyPool::MySql(p) => sqlx::query_scalar::<_, Option<i64>>(
                    crate::engine::sql_text::operator_query(query),
                )
                .fetch_optional(p)
                .await
                .map(|v| v.map(|v| v.map(|n| n != 0))),
                #[cfg(feature = "sqlite")]
                AnyPool::Sqlite(p) => {
                    sqlx::query_scalar(crate::engine::sql_text::operator_query(query))
                        .fetch_optional(p)
                        .await
                }
            };
            let flag = flag.map_err(|e| {
                Error::database(
                    format!("running the throttle query `{query}` (it must return one boolean)"),
                    e,
                )
            })?;
            // True: wait, whatever the threshold.
            Ok(flag.flatten().unwrap_or(false).then_some(Duration::MAX))
        })
    }

    fn describe(&self) -> String {
        format!("throttle query `{}`", self.0.query)
    }

    fn waiting_reason(&self, _lag: Duration) -> String {
        format!("throttle query `{}` is true", self.0.query)
    }
}

/// How a run's wait is shown in [`Progress::waiting`](crate::Progress::waiting):
/// `replica lag 4.2s`.
pub(crate) fn describe_lag(lag: Duration) -> String {
    format!("replica lag {:.1}s", lag.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_averages_over_the_run() {
        let limit = RateLimit::new(100);
        assert_eq!(limit.wait(0, Duration::ZERO), Duration::ZERO);
        assert_eq!(limit.wait(50, Duration::ZERO), Duration::from_millis(500));
        assert_eq!(
            limit.wait(200, Duration::from_millis(1_500)),
            Duration::from_millis(500)
        );
        // Ahead of the limit after a slow stretch: no wait, however large the next batch was.
        assert_eq!(limit.wait(200, Duration::from_secs(3)), Duration::ZERO);
    }

    #[test]
    fn rate_limit_of_zero_means_one_row_per_second() {
        let limit = RateLimit::new(0);
        assert_eq!(limit.rows_per_sec(), 1);
        assert_eq!(limit.wait(2, Duration::ZERO), Duration::from_secs(2));
    }

    #[test]
    fn lag_reads_like_the_progress_line() {
        assert_eq!(
            describe_lag(Duration::from_millis(4_240)),
            "replica lag 4.2s"
        );
        assert_eq!(seconds(-1.0), Duration::ZERO);
        assert_eq!(seconds(f64::NAN), Duration::ZERO);
    }

    #[test]
    fn server_names_leave_credentials_out() {
        assert_eq!(
            server_of("postgres://u:secret@db-replica:5433/app?x=1"),
            "db-replica:5433"
        );
        assert_eq!(
            server_of("mysql://root@127.0.0.1:3306/test"),
            "127.0.0.1:3306"
        );
    }
}
