//! The pace of a run between batches: lag guards, the rate limit, throttles, the pause, and
//! the backoff of a retried batch; each wait ends early on shutdown.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use super::*;

impl<D: Driver> Run<'_, D> {
    /// Waits while any lag guard reports more than its threshold; `false` if shut down.
    pub(super) async fn wait_for_lag(&mut self) -> Result<bool, Error> {
        if self.options.lag_guards.is_empty() {
            return Ok(true);
        }
        let guards = self.options.lag_guards.clone();
        let mut failures = 0;
        loop {
            let mut waiting = None;
            for (probe, threshold) in &guards {
                match probe.lag().await {
                    Ok(Some(lag)) if lag > *threshold => {
                        waiting = Some(probe.waiting_reason(lag));
                        break;
                    }
                    Ok(_) => {}
                    Err(e) if failures < self.options.max_retries => {
                        failures += 1;
                        tracing::warn!(job = %self.report.job, probe = %probe.describe(), error = %e, "lag probe failed; waiting");
                        waiting = Some(format!("{} unknown: {e}", probe.describe()));
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            let Some(waiting) = waiting else {
                return Ok(true);
            };
            self.notify(Some(waiting));
            let started = Instant::now();
            let slept = self.sleep(self.options.throttle_interval).await;
            self.report.throttled += started.elapsed();
            self.lag_waited += started.elapsed();
            if !slept {
                return Ok(false);
            }
        }
    }

    /// Waits until the run's average is back under `max_rows_per_sec`; `false` if shut down.
    /// One worker with no limit set from outside counts its own rows, as before shards; with
    /// several workers, or a limit set from outside (`service rate`), the limit holds for the
    /// sum over every worker of the job, read from its rows.
    pub(super) async fn rate_limit(&mut self) -> bool {
        if self.sharded || self.live_rate.is_some() {
            return self.shared_rate_limit().await;
        }
        let Some(limit) = self.options.max_rows_per_sec.map(RateLimit::new) else {
            return true;
        };
        // Time paused for replica lag is not credit for a burst afterwards.
        let writing = self.started.elapsed().saturating_sub(self.lag_waited);
        let wait = limit.wait(self.report.rows_written, writing);
        self.throttle(wait).await
    }

    /// Waits `wait` for the rate limit; `false` if shut down.
    pub(super) async fn throttle(&mut self, wait: Duration) -> bool {
        if wait.is_zero() {
            return true;
        }
        self.notify(Some("rate limit".to_string()));
        let started = Instant::now();
        let slept = self.sleep(wait).await;
        self.report.throttled += started.elapsed();
        slept
    }

    /// Sleeps unless the shutdown signal fires first; `false` if it did.
    pub(super) async fn sleep(&self, duration: Duration) -> bool {
        if duration.is_zero() {
            return !self.stop.is_cancelled();
        }
        tokio::select! {
            _ = self.stop.cancelled() => false,
            _ = tokio::time::sleep(duration) => true,
        }
    }

    pub(super) fn backoff(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1).min(30)).unwrap_or(30);
        let base = self.options.retry_backoff.as_secs_f64() * 2f64.powi(exponent);
        Duration::from_secs_f64((base * (0.5 + fastrand::f64())).min(30.0))
    }
}
