//! Throttles: a rate limit and a replica-lag guard.

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
}
