//! What a run tells: each committed batch recorded in the report, the progress callback, the
//! fraction done, and the stop after `max_batches`.

// `Error` is the crate's one public error type, large because its variants name tables,
// columns and ranges; it is returned rarely, so it is not boxed.
#![allow(clippy::result_large_err)]
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use super::*;

impl<D: Driver> Run<'_, D> {
    /// Counts the batch in the report, the sizer, the log and the progress callback.
    pub(super) fn record(&mut self, batch: Batch) {
        self.report.batches += 1;
        self.report.keys += batch.keys;
        self.report.rows_written += batch.rows;
        self.report.rows_deleted += batch.deleted;
        self.report.inserted_batches += u64::from(batch.inserted);
        self.report.cursor = Some(batch.hi.clone());
        self.crew.batches.fetch_add(1, Ordering::Relaxed);
        self.crew.keys.fetch_add(batch.keys, Ordering::Relaxed);
        self.crew.rows.fetch_add(batch.rows, Ordering::Relaxed);
        self.sizer.record(batch.keys, batch.took);
        let range = engine::describe_range(batch.lo.as_ref(), Some(&batch.hi));
        tracing::info!(
            job = %self.report.job,
            shard = self.shard,
            range = %range,
            keys = batch.keys,
            rows = batch.rows,
            deleted = batch.deleted,
            inserted = batch.inserted,
            ms = batch.took.as_millis() as u64,
            "batch committed"
        );
        if batch.deleted > 0 {
            tracing::warn!(job = %self.report.job, range = %range, deleted = batch.deleted, "deleted target rows whose key no source row produces (delete_extra)");
        }
        self.last_batch = Some((batch.lo, batch.hi, batch.took));
        self.notify(None);
    }

    /// Counts the extra rows deleted above the last source key when the job finished.
    pub(super) fn record_tail_deleted(&mut self, deleted: u64) {
        self.report.rows_deleted += deleted;
        if deleted > 0 {
            let after = self.report.cursor.as_ref().map_or_else(
                || "(the source has no key)".to_string(),
                |k| format!("> {k}"),
            );
            tracing::warn!(job = %self.report.job, after = %after, deleted, "deleted target rows above the last source key (delete_extra)");
        }
    }

    pub(super) fn notify(&self, waiting: Option<String>) {
        let Some(callback) = &self.options.on_progress else {
            return;
        };
        let (last_range, last_batch_time) = match &self.last_batch {
            Some((lo, hi, took)) => (Some((lo.clone(), hi.clone())), *took),
            None => (None, Duration::ZERO),
        };
        // Several workers report the process's totals, whichever worker calls.
        let (batches, keys, rows_written) = if self.sharded {
            (
                self.crew.batches.load(Ordering::Relaxed),
                self.crew.keys.load(Ordering::Relaxed),
                self.crew.rows.load(Ordering::Relaxed),
            )
        } else {
            (
                self.report.batches,
                self.report.keys,
                self.report.rows_written,
            )
        };
        callback(&Progress {
            job: self.report.job.clone(),
            batches,
            keys,
            rows_written,
            cursor: self.report.cursor.clone(),
            last_range,
            last_batch_time,
            batch_size: self.sizer.size(),
            elapsed: self.started.elapsed(),
            fraction_done: self.fraction_done(),
            waiting,
        });
    }

    pub(super) fn fraction_done(&self) -> Option<f64> {
        let (min, max) = self.span?;
        let Some(cursor) = &self.report.cursor else {
            return Some(0.0);
        };
        let KeyValue::Int(at) = cursor.0.first()? else {
            return None;
        };
        let total = (max as f64 - min as f64) + 1.0;
        Some(((*at as f64 - min as f64 + 1.0) / total).clamp(0.0, 1.0))
    }

    /// `max_batches` counts the batches of every worker of this process.
    pub(super) fn max_batches_reached(&self) -> bool {
        self.options
            .max_batches
            .is_some_and(|max| self.crew.batches.load(Ordering::Relaxed) >= max)
    }
}
