//! The job's live limit on workers running batches at once ([`Control::Workers`],
//! `service workers NAME N|all`, [`RunOptions::max_workers`]), held over every process and
//! machine by slot rows of the progress table (see `progress.rs`).
//!
//! A batch of a job of several workers with a limit of K locks one of the K slot rows with
//! `SKIP LOCKED` in its own transaction, next to its shard's row; with none free, it rolls
//! back and the worker waits. So at most K batches of the job are in flight at once, a slot
//! is free again the moment its batch commits, rolls back or its connection drops (no lease,
//! no timeout), and a lowered limit stops the extra workers at their next batch boundary.
//! What the limit bounds is batches in flight, the load on the server: a worker between
//! batches (its pause, a rate wait) holds no slot.
//!
//! A worker that saw a limit locks the slot before its shard, so a waiting worker never holds
//! a shard that a running one wants; the first batch after a limit appears locks it after
//! (the shard's row is where the limit is read). The row's limit is checked either way.
//!
//! [`Control::Workers`]: crate::Control::Workers
//! [`RunOptions::max_workers`]: crate::RunOptions::max_workers

use std::time::Instant;

use super::Run;
use crate::engine::{Conn, Driver};

/// What a batch holds of the job's worker limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    /// No limit known (a job of one worker, or none set): the batch takes no slot.
    Unlimited,
    /// Slot `n` (1-based), locked in the batch's transaction.
    Held(u64),
    /// Every slot of a limit of this many is in another batch: the worker waits.
    Full(u64),
}

impl<D: Driver> Run<'_, D> {
    /// Before the shard's row is locked: a free slot of the limit this worker last saw,
    /// [`Slot::Unlimited`] if it saw none.
    pub(super) async fn slot_before_shard(&self, conn: &mut Conn<D>) -> Result<Slot, sqlx::Error> {
        match self.live_workers {
            Some(limit) if self.sharded => self.take_slot(conn, limit).await,
            _ => Ok(Slot::Unlimited),
        }
    }

    /// After the shard's row is read: what the batch holds under the limit that row has, a
    /// slot taken now if it took none before. [`Slot::Full`] when it must wait: no slot is
    /// free, or the limit was lowered below the slot it took.
    pub(super) async fn slot_after_shard(
        &self,
        conn: &mut Conn<D>,
        slot: Slot,
        limit: Option<u64>,
    ) -> Result<Slot, sqlx::Error> {
        if !self.sharded {
            return Ok(Slot::Unlimited);
        }
        match (slot, limit) {
            (slot, None) => Ok(slot),
            (Slot::Held(n), Some(k)) if n <= k => Ok(slot),
            (Slot::Held(_), Some(k)) => Ok(Slot::Full(k)),
            (Slot::Unlimited, Some(k)) => self.take_slot(conn, k).await,
            (Slot::Full(k), _) => Ok(Slot::Full(k)),
        }
    }

    /// Locks a free slot of a limit of `limit`; when none is free, reads the limit as it is
    /// now, so a raised or lifted limit is seen at once rather than after a wait.
    async fn take_slot(&self, conn: &mut Conn<D>, limit: u64) -> Result<Slot, sqlx::Error> {
        if let Some(n) = self.store.lock_slot(conn, limit).await? {
            return Ok(Slot::Held(n));
        }
        match self.store.worker_limit(conn).await? {
            None => Ok(Slot::Unlimited),
            Some(live) if live > limit => Ok(self
                .store
                .lock_slot(conn, live)
                .await?
                .map_or(Slot::Full(live), Slot::Held)),
            Some(live) => Ok(Slot::Full(live)),
        }
    }

    /// A batch found every slot of a limit of `limit` taken: logs it once, creates any slot
    /// row the limit lacks (then looks again at once), else waits one throttle interval.
    /// `false` if shut down meanwhile.
    pub(super) async fn wait_for_slot(&mut self, limit: u64) -> bool {
        self.live_workers = Some(limit);
        if self.slot_waiting_since.is_none() {
            tracing::info!(
                job = %self.report.job,
                shard = self.shard,
                limit,
                "waiting: job `{}` runs at most {limit} workers' batches at once and as many are running; this worker goes on when one is free or the limit is raised (`service workers NAME N|all`, Control::Workers)",
                self.report.job
            );
            self.slot_waiting_since = Some(Instant::now());
        }
        let created = match self.pool.acquire().await {
            Ok(mut conn) => self.store.ensure_slots(&mut conn, limit).await,
            Err(e) => Err(e),
        };
        match created {
            Ok(true) => return !self.stop.is_cancelled(),
            Ok(false) => {}
            // Looked at again at the next turn; a missed look does not stop a run.
            Err(e) => {
                tracing::warn!(job = %self.report.job, error = %e, "could not create the slot rows of the job's worker limit")
            }
        }
        self.notify(Some(format!(
            "waiting for a worker slot: job `{}` runs at most {limit} workers at once",
            self.report.job
        )));
        let started = Instant::now();
        let slept = self.sleep(self.options.throttle_interval).await;
        self.report.throttled += started.elapsed();
        slept
    }

    /// A batch committed under the limit its shard's row had: remembered for the next batch,
    /// and the end of a wait logged.
    pub(super) fn ran_under(&mut self, limit: Option<u64>) {
        self.live_workers = limit;
        if let Some(since) = self.slot_waiting_since.take() {
            tracing::info!(job = %self.report.job, shard = self.shard, waited_ms = since.elapsed().as_millis() as u64, "got a worker slot; running batches again");
        }
    }
}
