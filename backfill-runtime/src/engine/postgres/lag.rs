//! PostgreSQL's lag probes: [`PgReplicaLag`] measures replay lag on a streaming replica,
//! [`PgPrimaryLag`] reads `pg_stat_replication` on the primary. Re-exported as
//! `backfill::throttle::{PgReplicaLag, PgPrimaryLag}`; the guard that polls them is
//! engine-agnostic ([`crate::throttle`]).

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::error::Error;
use crate::throttle::{replica_pool, seconds, server_of, LagProbe};

/// The replay lag of a PostgreSQL streaming replica, measured on the replica: the age of the
/// last replayed transaction, or zero when replay has caught up with everything received (an
/// idle primary sends nothing new, so the age alone would grow forever).
#[derive(Debug, Clone)]
pub struct PgReplicaLag {
    pool: sqlx::PgPool,
    server: String,
}

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
#[derive(Debug, Clone)]
pub struct PgPrimaryLag {
    pool: sqlx::PgPool,
}

impl PgPrimaryLag {
    /// Measures on the primary reached by `pool` (the backfill's own pool will do).
    pub fn new(pool: sqlx::PgPool) -> PgPrimaryLag {
        PgPrimaryLag { pool }
    }
}

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
