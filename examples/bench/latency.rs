//! The latency scenario (`--scenario latency`): what a backfill costs the application. The
//! load of `load.rs` (`--load-rate` single-row reads and writes per second on `events` and
//! `user_stats`, through its own pool) runs alone for `--alone-secs`, then during the limit,
//! the default backfill, the default with every batch of 100, 250 and 500 ms
//! (`target_batch_time` and, for a scan's merge, `merge_batch_time`: the default bounds
//! MySQL/MariaDB's merges to 25 ms), the default with a pause between batches as long as its
//! target batch time, and 1, 2 and 4 workers on ranges (1: the default's cost without the
//! scan's staging table), every figure `--repeat` times, interleaved; each figure's latencies
//! are pooled over its runs. The section shows the load's p50, p99 and max latency and its
//! errors per figure beside the backfill's throughput, the median over a figure's runs of each
//! run's own p99 (which one stall of the machine in one run does not move), each operation's
//! p99 (what the backfill slows: a row lock its batch holds, or every statement alike), with
//! `--waits` what the sessions waited on (`waits.rs`), and which batch time keeps the
//! application's p99 within 2× its p99 alone at the best throughput.

use backfill::RunOptions;
use std::fmt::Write as _;

use crate::load::{LoadStats, LOAD_CONNECTIONS, OP_NAMES};
use crate::measure::median;
use crate::report::{thousands, Meta};
use crate::upsert::{Bench, Figure, Sample};
use crate::waits::{Waits, INTERVAL, PILED};
use crate::BoxError;

/// The `target_batch_time`s compared, in milliseconds.
const TARGETS_MS: [u64; 3] = [100, 250, 500];

/// The goal: the application's p99 during a backfill at most this many times its p99 alone.
const P99_GOAL: f64 = 2.0;

/// The default `target_batch_time`, in milliseconds.
fn default_ms() -> u64 {
    RunOptions::default().target_batch_time.as_millis() as u64
}

/// The figures of the latency scenario, in the order of a round.
pub(crate) fn figures() -> Vec<Figure> {
    let mut all = vec![
        Figure::LoadAlone,
        Figure::Limit,
        Figure::LimitFullScan,
        Figure::Default,
    ];
    all.extend(TARGETS_MS.into_iter().map(Figure::TargetTime));
    all.extend([
        Figure::Paused(default_ms()),
        Figure::Workers(1),
        Figure::Workers(2),
        Figure::Workers(4),
    ]);
    all
}

impl Bench {
    /// The load alone for `--alone-secs`, nothing else running.
    pub(crate) async fn load_alone(&mut self) -> Result<Sample, BoxError> {
        self.db.quiesce().await?;
        let ((), t) = self.timed(tokio::time::sleep(self.args.alone)).await?;
        Ok(Sample {
            elapsed: t.elapsed,
            rows: 0,
            written: 0,
            batches: None,
            rss_kib: t.rss_kib,
            wal_bytes: t.wal_bytes,
            cpu: t.cpu,
            load: t.load,
            report: None,
            pool_reads: None,
            capped: false,
        })
    }

    /// A figure's load latencies, pooled over its runs.
    fn pooled(&self, figure: Figure) -> Option<LoadStats> {
        let mut all: Option<LoadStats> = None;
        for stats in self.samples(figure).iter().filter_map(|x| x.load.as_ref()) {
            match &mut all {
                Some(all) => all.merge(stats),
                None => all = Some(stats.clone()),
            }
        }
        all
    }

    /// The median over a figure's runs of each run's own p99, in milliseconds: what one stall
    /// of the machine, which decides the pooled p99 of the run it lands in, does not move.
    fn median_run_p99(&self, figure: Figure) -> Option<f64> {
        median(
            self.samples(figure)
                .iter()
                .filter_map(|x| x.load.as_ref().and_then(|l| l.quantile_ms(0.99))),
        )
    }

    /// The latency section: the table, the goal, and the choice of `target_batch_time`.
    pub(crate) fn latency_section(&self, meta: &Meta) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### The application's latency during a backfill, on {}: {} events over {} users\n",
            meta.version,
            thousands(self.args.events as u64),
            thousands(self.args.users as u64)
        );
        let _ = writeln!(
            s,
            "{} cores; a steady load of {} operations per second (open loop; point reads and \
             updates of `events` and `user_stats` rows, keys spread over the key space, through \
             its own pool of 8 connections; latency from when each operation was due; the CPU \
             columns as in the workers section, the load's own included), measured \
             alone for {} s and during each figure; {} per figure, interleaved, latencies pooled \
             over them (`--scenario latency`); {}{}; load average {} before the run.\n",
            meta.cores,
            self.args.load_rate,
            self.args.alone.as_secs(),
            if self.args.repeat == 1 {
                "1 run".to_string()
            } else {
                format!("{} runs", self.args.repeat)
            },
            meta.date,
            meta.commit
                .as_ref()
                .map(|c| format!(", commit {c}"))
                .unwrap_or_default(),
            meta.load_average.as_deref().unwrap_or("n/a"),
        );
        let (limit, _) = self.best_limit();
        let alone_p99 = self
            .pooled(Figure::LoadAlone)
            .and_then(|l| l.quantile_ms(0.99))
            .unwrap_or(f64::NAN);
        let _ = writeln!(
            s,
            "| during | median time | backfill rows/s | × limit | operations | ops/s | p50 | p99 | max | errors | p99 × alone | runs' median p99 × alone | server CPU | machine busy |"
        );
        let _ = writeln!(
            s,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        let alone_run_p99 = self.median_run_p99(Figure::LoadAlone).unwrap_or(f64::NAN);
        for figure in figures() {
            let list = self.samples(figure);
            let Some(load) = self.pooled(figure) else {
                continue;
            };
            let elapsed = median(list.iter().map(|x| x.elapsed)).unwrap_or_default();
            let (rate, ratio) = match (figure, self.median_rate(figure)) {
                (Figure::LoadAlone, _) | (_, None) => ("–".to_string(), "–".to_string()),
                (_, Some(r)) => (thousands(r.round() as u64), format!("{:.2}×", r / limit)),
            };
            let ms = |q| {
                load.quantile_ms(q)
                    .map_or("n/a".to_string(), |v| format!("{v:.2} ms"))
            };
            let p99 = load.quantile_ms(0.99).unwrap_or(f64::NAN);
            let server = median(
                list.iter()
                    .filter_map(|x| x.cpu.map(|c| c.cores(x.elapsed).0)),
            )
            .map_or("n/a".to_string(), |c| format!("{c:.2} cores"));
            let busy = median(list.iter().filter_map(|x| x.cpu.map(|c| c.machine_busy)))
                .map_or("n/a".to_string(), |b| format!("{:.0}%", b * 100.0));
            let _ = writeln!(
                s,
                "| {} | {:.2} s | {} | {} | {} | {:.0} | {} | {} | {} | {} | {:.2}× | {} | {} | {} |",
                figure.label(self.args.hand_loop),
                elapsed.as_secs_f64(),
                rate,
                ratio,
                thousands(load.micros.len() as u64),
                load.ops_per_sec(),
                ms(0.5),
                ms(0.99),
                ms(1.0),
                load.errors,
                p99 / alone_p99,
                self.median_run_p99(figure).map_or("n/a".to_string(), |m| format!(
                    "{m:.2} ms, {:.2}×",
                    m / alone_run_p99
                )),
                server,
                busy,
            );
        }
        let errors: Vec<String> = figures()
            .into_iter()
            .filter_map(|f| {
                self.pooled(f)
                    .and_then(|l| l.first_error)
                    .map(|e| format!("{}: {e}", f.label(self.args.hand_loop)))
            })
            .collect();
        if !errors.is_empty() {
            let _ = writeln!(s, "\nFirst error per figure: {}.", errors.join("; "));
        }
        let _ = writeln!(
            s,
            "\nThe p99 pools every operation of a figure's runs; one stall of the machine (a few \
             hundred ms in which every operation waits, the load alone's included) delays every \
             operation due during it and decides the pooled p99 of the figure it lands in. The \
             runs' median p99 is the median over the figure's runs of each run's own p99 (a \
             backfill's run of 2 s at 500 operations a second: its 10th slowest of 1,000; the \
             load alone's run of 10 s: its 50th slowest of 5,000), against the same median for \
             the load alone: what a stall in a few runs does not move."
        );
        self.by_operation(&mut s);
        self.waits_table(&mut s);
        self.limit_line(&mut s);
        self.latency_goal(&mut s, alone_p99);
        s
    }

    /// Each operation's p99 per figure, as a multiple of its own p99 alone: which of the
    /// application's statements a backfill slows (an update waiting for a row lock the batch
    /// holds until it commits, against every statement waiting for the CPU or the log).
    fn by_operation(&self, s: &mut String) {
        let alone = self.pooled(Figure::LoadAlone);
        let _ = writeln!(
            s,
            "\nThe p99 of each operation, and its multiple of the same operation's p99 alone:\n"
        );
        let _ = writeln!(s, "| during | {} |", OP_NAMES.join(" | "));
        let _ = writeln!(s, "|---|{}", "---:|".repeat(OP_NAMES.len()));
        for figure in figures() {
            let Some(load) = self.pooled(figure) else {
                continue;
            };
            let cells: Vec<String> = (0..OP_NAMES.len())
                .map(|op| {
                    let p99 = load.op_quantile_ms(op, 0.99);
                    let base = alone.as_ref().and_then(|a| a.op_quantile_ms(op, 0.99));
                    match (p99, base) {
                        (Some(v), Some(b)) if figure != Figure::LoadAlone => {
                            format!("{v:.2} ms, {:.2}×", v / b)
                        }
                        (Some(v), _) => format!("{v:.2} ms"),
                        (None, _) => "n/a".to_string(),
                    }
                })
                .collect();
            let _ = writeln!(
                s,
                "| {} | {} |",
                figure.label(self.args.hand_loop),
                cells.join(" | ")
            );
        }
    }

    /// What the sessions waited on during each figure, when sampled (`--waits`): the load's
    /// busy sessions in every sample and in the samples where they piled up (a stall), the
    /// backfill's, and the server's own processes'.
    fn waits_table(&self, s: &mut String) {
        if self
            .pooled(Figure::LoadAlone)
            .and_then(|l| l.waits)
            .is_none()
        {
            return;
        }
        let _ = writeln!(
            s,
            "\nWhat the sessions waited on, sampled from the server every {} ms (`--waits`; \
             PostgreSQL: `pg_stat_activity`'s `wait_event_type:wait_event` of every active \
             session, `on CPU` when it waits on nothing the server tracks; MySQL/MariaDB: the \
             processlist's `STATE`); a sample is piled when {} or more of the load's {} \
             connections were busy at once, a stall; busy, mean: the sessions busy in a sample \
             on average (the backfill's include PostgreSQL's parallel workers: above 1, it \
             takes more than one core while on CPU); each list gives a wait's share of the \
             sessions sampled; WAL is what the server wrote during the figure (PostgreSQL, \
             `pg_current_wal_lsn()` before and after, the load's included; median of the runs, \
             and per second of the run):\n",
            INTERVAL.as_millis(),
            PILED,
            LOAD_CONNECTIONS,
        );
        let _ = writeln!(
            s,
            "| during | samples | load busy, mean | backfill busy, mean | piled samples | the load's waits | the load's waits, piled | the backfill's waits | the server's processes | WAL |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---|---|---|---|---:|");
        for figure in figures() {
            let Some(w) = self.pooled(figure).and_then(|l| l.waits) else {
                continue;
            };
            let list = self.samples(figure);
            let wal =
                median(list.iter().filter_map(|x| x.wal_bytes)).map_or("–".to_string(), |b| {
                    let secs = median(list.iter().map(|x| x.elapsed))
                        .unwrap_or_default()
                        .as_secs_f64()
                        .max(1e-9);
                    let mib = b as f64 / (1024.0 * 1024.0);
                    format!("{mib:.1} MiB, {:.1} MiB/s", mib / secs)
                });
            let _ = writeln!(
                s,
                "| {} | {} | {:.2} | {:.2} | {} ({:.1}%) | {} | {} | {} | {} | {} |",
                figure.label(self.args.hand_loop),
                thousands(w.samples),
                w.load_busy as f64 / w.samples.max(1) as f64,
                w.backfill.values().sum::<u64>() as f64 / w.samples.max(1) as f64,
                thousands(w.piled_samples),
                w.piled_samples as f64 * 100.0 / w.samples.max(1) as f64,
                Waits::top(&w.load, 3),
                Waits::top(&w.piled, 3),
                Waits::top(&w.backfill, 3),
                Waits::top(&w.server, 3),
                wal,
            );
        }
    }

    /// The goal for the default backfill, and the `target_batch_time` this run would choose.
    fn latency_goal(&self, s: &mut String, alone_p99: f64) {
        let p99 = |f| {
            self.pooled(f)
                .and_then(|l| l.quantile_ms(0.99))
                .unwrap_or(f64::NAN)
        };
        let default = p99(Figure::Default);
        let runs = |f| self.median_run_p99(f).unwrap_or(f64::NAN);
        let met = |ok: bool| if ok { "met" } else { "**missed**" };
        let _ = writeln!(
            s,
            "\nGoal (issue 14): the application's p99 during the default backfill ≤ {P99_GOAL}× its \
             p99 alone: {default:.2} ms against {alone_p99:.2} ms, {:.2}× ({}); the runs' median \
             p99 {:.2} ms against {:.2} ms, {:.2}×. During the single \
             statement: {:.2} ms, {:.2}×, with the optimizer's plan; {:.2} ms, {:.2}×, with a full \
             scan forced.",
            default / alone_p99,
            met(default / alone_p99 <= P99_GOAL),
            runs(Figure::Default),
            runs(Figure::LoadAlone),
            runs(Figure::Default) / runs(Figure::LoadAlone),
            p99(Figure::Limit),
            p99(Figure::Limit) / alone_p99,
            p99(Figure::LimitFullScan),
            p99(Figure::LimitFullScan) / alone_p99,
        );
        let paused = Figure::Paused(default_ms());
        let _ = writeln!(
            s,
            "\nWith a pause of {} ms between batches (as long as the target batch time): p99 \
             {:.2} ms, {:.2}× alone ({}), at {} rows/s, {:.2}× the default's throughput.",
            default_ms(),
            p99(paused),
            p99(paused) / alone_p99,
            met(p99(paused) / alone_p99 <= P99_GOAL),
            self.median_rate(paused)
                .map_or("n/a".to_string(), |r| thousands(r.round() as u64)),
            match (self.median_rate(paused), self.median_rate(Figure::Default)) {
                (Some(p), Some(d)) if d > 0.0 => p / d,
                _ => f64::NAN,
            },
        );
        let within: Vec<(u64, f64)> = TARGETS_MS
            .into_iter()
            .map(|ms| (ms, Figure::TargetTime(ms)))
            .filter(|(_, f)| p99(*f) / alone_p99 <= P99_GOAL)
            .filter_map(|(ms, f)| self.median_rate(f).map(|r| (ms, r)))
            .collect();
        let choice = within
            .iter()
            .max_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
        let listed: Vec<String> = TARGETS_MS
            .into_iter()
            .map(|ms| {
                let f = Figure::TargetTime(ms);
                format!(
                    "{ms} ms: {} rows/s, p99 {:.2}×",
                    self.median_rate(f)
                        .map_or("n/a".to_string(), |r| thousands(r.round() as u64)),
                    p99(f) / alone_p99
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "\nBatch time (`target_batch_time` and `merge_batch_time`) by this run ({}): {}.",
            listed.join("; "),
            match choice {
                Some((ms, _)) =>
                    format!("the best throughput within {P99_GOAL}× the p99 alone is {ms} ms"),
                None => format!(
                    "none kept the p99 within {P99_GOAL}× the p99 alone; the lowest p99 was at {} ms",
                    TARGETS_MS
                        .into_iter()
                        .min_by(|a, b| p99(Figure::TargetTime(*a))
                            .partial_cmp(&p99(Figure::TargetTime(*b)))
                            .unwrap_or(std::cmp::Ordering::Equal))
                        .unwrap_or(0)
                ),
            }
        );
    }
}
