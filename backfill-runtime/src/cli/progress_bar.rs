//! Live progress of a run: an indicatif bar on a terminal (keys done / estimated total, rows/s,
//! ETA, and a visible throttled state), one structured log line per batch otherwise.
//!
//! The total is estimated without scanning: integer keys report how far the cursor is through
//! the source's key span ([`Progress::fraction_done`]); other keys have an unknown total and get
//! a spinner.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::options::Progress;

use super::format;

/// The bar on screen, if any: log lines and notices are printed above it instead of through it.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Runs `print` with the active bar (if any) cleared from the screen, redrawn after.
pub(crate) fn above_bar<R>(print: impl FnOnce() -> R) -> R {
    let bar = match ACTIVE_BAR.lock() {
        Ok(active) => active.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    match bar {
        Some(bar) => bar.suspend(print),
        None => print(),
    }
}

fn set_active_bar(bar: Option<ProgressBar>) {
    match ACTIVE_BAR.lock() {
        Ok(mut active) => *active = bar,
        Err(poisoned) => *poisoned.into_inner() = bar,
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Display {
    /// An indicatif bar on stderr.
    Bar,
    /// A tracing event per batch (text or JSON, by the subscriber).
    Log,
}

/// What has been shown so far, to report per-batch differences and state changes only.
#[derive(Debug, Default)]
struct Shown {
    /// The job of the last report: a scan reports its partials phase (`<job>/partials`), then
    /// its merge (the job), each counting from zero.
    job: Option<String>,
    batches: u64,
    rows: u64,
    keys: u64,
    waiting: Option<String>,
    first_fraction: Option<f64>,
}

/// The progress display of one run; [`LiveProgress::callback`] goes into `RunOptions`.
#[derive(Clone)]
pub(crate) struct LiveProgress {
    display: Display,
    bar: Option<ProgressBar>,
    /// The job the run was started for.
    job: String,
    /// Keys processed by earlier runs of this job (a resumed run), for the bar's position.
    prior_keys: u64,
    shown: Arc<Mutex<Shown>>,
}

const BAR_TEMPLATE: &str = "{spinner} {prefix} [{bar:30}] {human_pos}/{human_len} keys  {msg}";
const SPINNER_TEMPLATE: &str = "{spinner} {prefix} {human_pos} keys  {msg}";

impl LiveProgress {
    /// A display for `job`; `prior_keys` were done by earlier runs.
    pub(crate) fn new(display: Display, job: &str, prior_keys: u64) -> LiveProgress {
        let bar = (display == Display::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(style(SPINNER_TEMPLATE));
            bar.set_prefix(job.to_string());
            bar.set_position(prior_keys);
            bar.set_message("starting");
            bar.enable_steady_tick(Duration::from_millis(120));
            set_active_bar(Some(bar.clone()));
            bar
        });
        LiveProgress {
            display,
            bar,
            job: job.to_string(),
            prior_keys,
            shown: Arc::new(Mutex::new(Shown::default())),
        }
    }

    /// The callback for [`RunOptions::on_progress`](crate::RunOptions::on_progress).
    pub(crate) fn callback(&self) -> impl Fn(&Progress) + Send + Sync + 'static {
        let me = self.clone();
        move |p: &Progress| me.update(p)
    }

    fn update(&self, p: &Progress) {
        let mut shown = match self.shown.lock() {
            Ok(shown) => shown,
            Err(poisoned) => poisoned.into_inner(),
        };
        if shown.job.as_deref() != Some(p.job.as_str()) {
            // A new phase (a scan's merge after its partials): its own counts, bar and ETA.
            if shown.job.is_some() {
                *shown = Shown::default();
                if let Some(bar) = &self.bar {
                    bar.unset_length();
                    bar.set_style(style(SPINNER_TEMPLATE));
                    bar.set_position(0);
                }
            }
            shown.job = Some(p.job.clone());
            if let Some(bar) = &self.bar {
                bar.set_prefix(p.job.clone());
            }
        }
        if shown.first_fraction.is_none() {
            // The fraction before this run's first batch is unknown; the first report is the
            // closest to it (its batch is one of many).
            shown.first_fraction = p.fraction_done;
        }
        let new_batch = p.batches > shown.batches;
        let waiting_changed = p.waiting != shown.waiting;
        match self.display {
            Display::Bar => self.draw(p, &shown),
            Display::Log => {
                if new_batch {
                    log_batch(
                        p,
                        p.rows_written - shown.rows.min(p.rows_written),
                        p.keys - shown.keys.min(p.keys),
                    );
                }
                if waiting_changed {
                    match &p.waiting {
                        Some(why) => tracing::info!(
                            target: "backfill::cli",
                            job = %p.job,
                            reason = %why,
                            "throttled: {why}"
                        ),
                        None => {
                            tracing::info!(target: "backfill::cli", job = %p.job, "resumed after throttling")
                        }
                    }
                }
            }
        }
        shown.batches = p.batches;
        shown.rows = p.rows_written;
        shown.keys = p.keys;
        shown.waiting = p.waiting.clone();
    }

    fn draw(&self, p: &Progress, shown: &Shown) {
        let Some(bar) = &self.bar else { return };
        let prior = if p.job == self.job {
            self.prior_keys
        } else {
            0
        };
        let done = prior + p.keys;
        match p.fraction_done {
            Some(f) if f > 0.0 => {
                if bar.length().is_none() {
                    bar.set_style(style(BAR_TEMPLATE));
                }
                let total = ((done as f64) / f).round() as u64;
                bar.set_length(total.max(done));
            }
            _ => {}
        }
        bar.set_position(done);
        bar.set_message(bar_message(p, shown.first_fraction));
    }

    /// Removes the bar (before the final summary is printed).
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            set_active_bar(None);
            bar.finish_and_clear();
        }
    }

    /// Shows a notice (signal received, resuming): above the bar, or as a log line.
    pub(crate) fn notice(&self, line: &str) {
        match self.display {
            Display::Bar => above_bar(|| eprintln!("{line}")),
            Display::Log => tracing::info!(target: "backfill::cli", "{line}"),
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The text after the bar: `1,234 rows/s  ETA 3m 12s`, or the reason the run waits.
pub(crate) fn bar_message(p: &Progress, first_fraction: Option<f64>) -> String {
    if let Some(why) = &p.waiting {
        return format!("throttled: {why}");
    }
    let mut msg = format::rate(p.rows_written, p.elapsed);
    if let (Some(start), Some(now)) = (first_fraction, p.fraction_done) {
        if let Some(left) = format::eta(start, now, p.elapsed) {
            msg.push_str("  ETA ");
            msg.push_str(&format::duration(left));
        }
    }
    msg
}

fn log_batch(p: &Progress, rows: u64, keys: u64) {
    let (from, to) = match &p.last_range {
        Some((lo, hi)) => (format::lower_bound(lo.as_ref()), hi.to_string()),
        None => (
            "start".to_string(),
            p.cursor
                .as_ref()
                .map_or("-".to_string(), ToString::to_string),
        ),
    };
    let ms = p.last_batch_time.as_millis() as u64;
    // A field that is `None` (no estimate of the total yet) is left out of the line.
    let percent = p.fraction_done.map(|f| (f * 1000.0).round() / 10.0);
    tracing::info!(
        target: "backfill::cli",
        job = %p.job,
        batch = p.batches,
        from = %from,
        to = %to,
        keys,
        rows,
        ms,
        rows_total = p.rows_written,
        percent,
        "batch committed"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Key, KeyValue};

    fn progress() -> Progress {
        Progress {
            job: "user_stats".into(),
            batches: 4,
            keys: 4_000,
            rows_written: 8_000,
            cursor: Some(Key(vec![KeyValue::Int(4_000)])),
            last_range: Some((
                Some(Key(vec![KeyValue::Int(3_000)])),
                Key(vec![KeyValue::Int(4_000)]),
            )),
            last_batch_time: Duration::from_millis(120),
            batch_size: 1_000,
            elapsed: Duration::from_secs(4),
            fraction_done: Some(0.4),
            waiting: None,
        }
    }

    #[test]
    fn the_bar_shows_rate_and_eta() {
        // 0.1 -> 0.4 in 4 s: 0.6 left takes 8 s.
        assert_eq!(
            bar_message(&progress(), Some(0.1)),
            "2,000 rows/s  ETA 8.0s"
        );
        let mut unknown = progress();
        unknown.fraction_done = None;
        assert_eq!(bar_message(&unknown, None), "2,000 rows/s");
    }

    #[test]
    fn the_bar_shows_why_it_waits() {
        let mut p = progress();
        p.waiting = Some("replica lag 4.2s".into());
        assert_eq!(bar_message(&p, Some(0.1)), "throttled: replica lag 4.2s");
    }

    #[test]
    fn the_log_display_tracks_batches() {
        let live = LiveProgress::new(Display::Log, "user_stats", 0);
        let cb = live.callback();
        cb(&progress());
        let shown = live.shown.lock().unwrap();
        assert_eq!((shown.batches, shown.rows, shown.keys), (4, 8_000, 4_000));
        assert_eq!(shown.first_fraction, Some(0.4));
    }

    #[test]
    fn a_scans_merge_counts_from_zero_after_its_partials() {
        let live = LiveProgress::new(Display::Log, "user_stats", 0);
        let cb = live.callback();
        let partials = Progress {
            job: "user_stats/partials".into(),
            batches: 9,
            keys: 2_000_000,
            ..progress()
        };
        cb(&partials);
        cb(&Progress {
            batches: 1,
            keys: 1_000,
            rows_written: 1_000,
            fraction_done: Some(0.01),
            ..progress()
        });
        let shown = live.shown.lock().unwrap();
        assert_eq!(shown.job.as_deref(), Some("user_stats"));
        assert_eq!(
            (shown.batches, shown.keys),
            (1, 1_000),
            "the merge's own counts"
        );
        assert_eq!(shown.first_fraction, Some(0.01), "the merge's own ETA");
    }
}
