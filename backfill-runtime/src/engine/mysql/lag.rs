//! MySQL/MariaDB's lag probe: [`MySqlReplicaLag`] reads a replica's `SHOW REPLICA STATUS`
//! (or `SHOW SLAVE STATUS` on older servers). Re-exported as
//! [`backfill::throttle::MySqlReplicaLag`](crate::throttle::MySqlReplicaLag); the guard that
//! polls it is engine-agnostic ([`crate::throttle`]).

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::error::Error;
use crate::throttle::{describe_lag, replica_pool, server_of, LagProbe, REPLICATION_STOPPED};

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
#[derive(Debug, Clone)]
pub struct MySqlReplicaLag {
    pool: sqlx::MySqlPool,
    server: String,
}

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
