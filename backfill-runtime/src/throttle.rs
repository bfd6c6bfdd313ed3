//! Throttles: a rate limit and a replica-lag guard.
//!
//! The batch loop asks [`RateLimit`] how long to wait after each batch, and polls the
//! [`LagProbe`] of [`RunOptions::lag_guard`](crate::RunOptions::lag_guard) before each batch,
//! waiting (interruptibly) while the lag is above the threshold. Probes for PostgreSQL replicas
//! ([`PgReplicaLag`]), a PostgreSQL primary ([`PgPrimaryLag`]) and MySQL/MariaDB replicas
//! ([`MySqlReplicaLag`]) are included; any other measure can implement [`LagProbe`].

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
fn seconds(secs: f64) -> Duration {
    if secs.is_finite() && secs > 0.0 {
        Duration::from_secs_f64(secs)
    } else {
        Duration::ZERO
    }
}

/// One connection to the replica at `url`, opened when the guard first probes.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn replica_pool<DB: sqlx::Database>(url: &str) -> Result<sqlx::Pool<DB>, Error> {
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
fn server_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split(['/', '?']).next().unwrap_or(rest).to_string()
}

/// The replay lag of a PostgreSQL streaming replica, measured on the replica: the age of the
/// last replayed transaction, or zero when replay has caught up with everything received (an
/// idle primary sends nothing new, so the age alone would grow forever).
#[cfg(feature = "postgres")]
#[derive(Debug, Clone)]
pub struct PgReplicaLag {
    pool: sqlx::PgPool,
    server: String,
}

#[cfg(feature = "postgres")]
impl PgReplicaLag {
    /// Connects (lazily, one connection) to the replica at `url`.
    pub fn connect(url: &str) -> Result<PgReplicaLag, Error> {
        Ok(PgReplicaLag {
            pool: replica_pool(url)?,
            server: server_of(url),
        })
    }

    /// Uses an existing pool on the replica.
    pub fn new(pool: sqlx::PgPool, name: impl Into<String>) -> PgReplicaLag {
        PgReplicaLag {
            pool,
            server: name.into(),
        }
    }
}

#[cfg(feature = "postgres")]
impl LagProbe for PgReplicaLag {
    fn lag(&self) -> Pin<Box<dyn Future<Output = Result<Option<Duration>, Error>> + Send + '_>> {
        Box::pin(async move {
            let secs: Option<f64> = sqlx::query_scalar(
                "SELECT CASE \
                   WHEN NOT pg_is_in_recovery() THEN NULL \
                   WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
                   ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) \
                 END::float8",
            )
            .fetch_one(&self.pool)
            .await
            .map_err(|e| {
                Error::database(format!("measuring the replica lag of {}", self.server), e)
            })?;
            Ok(secs.map(seconds))
        })
    }

    fn describe(&self) -> String {
        format!("replica lag of {}", self.server)
    }
}

/// The largest replay lag of the primary's streaming replicas (`pg_stat_replication`), measured
/// on the primary; `None` when no replica is connected or all are idle and caught up.
#[cfg(feature = "postgres")]
#[derive(Debug, Clone)]
pub struct PgPrimaryLag {
    pool: sqlx::PgPool,
}

#[cfg(feature = "postgres")]
impl PgPrimaryLag {
    /// Measures on the primary reached by `pool` (the backfill's own pool will do).
    pub fn new(pool: sqlx::PgPool) -> PgPrimaryLag {
        PgPrimaryLag { pool }
    }
}

#[cfg(feature = "postgres")]
impl LagProbe for PgPrimaryLag {
    fn lag(&self) -> Pin<Box<dyn Future<Output = Result<Option<Duration>, Error>> + Send + '_>> {
        Box::pin(async move {
            let secs: Option<f64> = sqlx::query_scalar(
                "SELECT EXTRACT(EPOCH FROM max(replay_lag))::float8 FROM pg_stat_replication",
            )
            .fetch_one(&self.pool)
            .await
            .map_err(|e| Error::database("reading pg_stat_replication for the lag guard", e))?;
            Ok(secs.map(seconds))
        })
    }

    fn describe(&self) -> String {
        "replay lag of the primary's replicas".to_string()
    }
}

/// `Seconds_Behind_Source` / `Seconds_Behind_Master` of a MySQL/MariaDB replica, read with
/// `SHOW REPLICA STATUS` (MariaDB 10.5.1+, MySQL 8.0.22+; MySQL 8.4 has only this form) and,
/// where the server does not know that statement, `SHOW SLAVE STATUS`.
///
/// A replica whose replication threads are stopped reports `NULL`: its lag is unknown and
/// growing, so the probe reports it as [`REPLICATION_STOPPED`] and the run waits ("replication
/// stopped on 127.0.0.1:3308") until replication runs again, rather than writing at full speed
/// into a replica that applies nothing. A server that is not a replica at all (no status row)
/// is an error naming it: the guard would otherwise protect nothing.
///
/// ```no_run
/// # async fn demo() -> Result<(), backfill_runtime::Error> {
/// use std::{sync::Arc, time::Duration};
/// use backfill_runtime::{throttle::MySqlReplicaLag, RunOptions};
///
/// let probe = MySqlReplicaLag::connect("mysql://monitor@replica-1:3306/app")?;
/// let options = RunOptions::default().lag_guard(Arc::new(probe), Duration::from_secs(5));
/// # Ok(()) }
/// ```
#[cfg(feature = "mysql")]
#[derive(Debug, Clone)]
pub struct MySqlReplicaLag {
    pool: sqlx::MySqlPool,
    server: String,
}

/// The lag [`MySqlReplicaLag`] reports for a replica whose replication is stopped
/// (`Seconds_Behind_Master` is `NULL`): longer than any threshold.
pub const REPLICATION_STOPPED: Duration = Duration::MAX;

#[cfg(feature = "mysql")]
impl MySqlReplicaLag {
    /// Connects (lazily, one connection) to the replica at `url`.
    pub fn connect(url: &str) -> Result<MySqlReplicaLag, Error> {
        Ok(MySqlReplicaLag {
            pool: replica_pool(url)?,
            server: server_of(url),
        })
    }

    /// Uses an existing pool on the replica.
    pub fn new(pool: sqlx::MySqlPool, name: impl Into<String>) -> MySqlReplicaLag {
        MySqlReplicaLag {
            pool,
            server: name.into(),
        }
    }

    /// The replica's status rows: `SHOW REPLICA STATUS`, or `SHOW SLAVE STATUS` on a server
    /// that does not know it (MariaDB before 10.5.1, MySQL before 8.0.22).
    async fn status(&self) -> Result<Vec<sqlx::mysql::MySqlRow>, Error> {
        // The text protocol: SHOW statements are not preparable everywhere.
        match sqlx::raw_sql("SHOW REPLICA STATUS")
            .fetch_all(&self.pool)
            .await
        {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42000") => {
                sqlx::raw_sql("SHOW SLAVE STATUS")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| {
                        Error::database(
                            format!("SHOW SLAVE STATUS on {} for the lag guard", self.server),
                            e,
                        )
                    })
            }
            other => other.map_err(|e| {
                Error::database(
                    format!("SHOW REPLICA STATUS on {} for the lag guard", self.server),
                    e,
                )
            }),
        }
    }
}

#[cfg(feature = "mysql")]
impl LagProbe for MySqlReplicaLag {
    fn lag(&self) -> Pin<Box<dyn Future<Output = Result<Option<Duration>, Error>> + Send + '_>> {
        use sqlx::{Column as _, Row as _};
        Box::pin(async move {
            let rows = self.status().await?;
            let Some(row) = rows.first() else {
                return Err(Error::LagGuard(format!(
                    "{} is not a replica (SHOW REPLICA STATUS returned no row): point the \
                     guard at a replica, or remove it",
                    self.server
                )));
            };
            let column = ["Seconds_Behind_Source", "Seconds_Behind_Master"]
                .into_iter()
                .find(|name| row.columns().iter().any(|c| c.name() == *name))
                .ok_or_else(|| {
                    Error::LagGuard(format!(
                        "the replica status of {} has neither Seconds_Behind_Source nor \
                         Seconds_Behind_Master",
                        self.server
                    ))
                })?;
            let secs: Option<i64> = row
                .try_get_unchecked(column)
                .map_err(|e| Error::database(format!("reading {column} of {}", self.server), e))?;
            Ok(Some(match secs {
                Some(s) => Duration::from_secs(u64::try_from(s).unwrap_or(0)),
                None => REPLICATION_STOPPED,
            }))
        })
    }

    fn describe(&self) -> String {
        format!("replica lag of {}", self.server)
    }

    fn waiting_reason(&self, lag: Duration) -> String {
        if lag == REPLICATION_STOPPED {
            format!(
                "replication stopped on {} (Seconds_Behind_Master is NULL)",
                self.server
            )
        } else {
            describe_lag(lag)
        }
    }
}

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
    pool: QueryLagPool,
    query: String,
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
#[derive(Debug, Clone)]
enum QueryLagPool {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
impl QueryLag {
    /// Runs `query` (returning `double precision` seconds) on a PostgreSQL pool.
    #[cfg(feature = "postgres")]
    pub fn postgres(pool: sqlx::PgPool, query: impl Into<String>) -> QueryLag {
        QueryLag {
            pool: QueryLagPool::Postgres(pool),
            query: query.into(),
        }
    }

    /// Runs `query` (returning `DOUBLE` seconds) on a MySQL/MariaDB pool.
    #[cfg(feature = "mysql")]
    pub fn mysql(pool: sqlx::MySqlPool, query: impl Into<String>) -> QueryLag {
        QueryLag {
            pool: QueryLagPool::MySql(pool),
            query: query.into(),
        }
    }

    /// Runs `query` (returning `REAL` seconds) on a SQLite pool.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(pool: sqlx::SqlitePool, query: impl Into<String>) -> QueryLag {
        QueryLag {
            pool: QueryLagPool::Sqlite(pool),
            query: query.into(),
        }
    }
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
impl LagProbe for QueryLag {
    fn lag(&self) -> Pin<Box<dyn Future<Output = Result<Option<Duration>, Error>> + Send + '_>> {
        Box::pin(async move {
            let query = self.query.as_str();
            let secs: Result<Option<Option<f64>>, sqlx::Error> = match &self.pool {
                #[cfg(feature = "postgres")]
                QueryLagPool::Postgres(p) => {
                    sqlx::query_scalar(crate::engine::sql_text::operator_query(query))
                        .fetch_optional(p)
                        .await
                }
                #[cfg(feature = "mysql")]
                QueryLagPool::MySql(p) => {
                    sqlx::query_scalar(crate::engine::sql_text::operator_query(query))
                        .fetch_optional(p)
                        .await
                }
                #[cfg(feature = "sqlite")]
                QueryLagPool::Sqlite(p) => {
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
                QueryLagPool::Postgres(p) => {
                    sqlx::query_scalar(crate::engine::sql_text::operator_query(query))
                        .fetch_optional(p)
                        .await
                }
                #[cfg(feature = "mysql")]
                QueryLagPool::MySql(p) => sqlx::query_scalar::<_, Option<i64>>(
                    crate::engine::sql_text::operator_query(query),
                )
                .fetch_optional(p)
                .await
                .map(|v| v.map(|v| v.map(|n| n != 0))),
                #[cfg(feature = "sqlite")]
                QueryLagPool::Sqlite(p) => {
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
