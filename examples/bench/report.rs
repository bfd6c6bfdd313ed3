//! The engine's section of `BENCHMARKS.md`, as printed at the end of a run: the line on the
//! server and the scale, the table (median time, rows/s, ratio to the limit, batches, ms per
//! batch, rows written, peak RSS per figure), the targets, the WAL and memory notes, and the
//! checks; with the number formats the table uses.

use std::fmt::Write as _;

use crate::checksum::CHECKSUM_PAGE;
use crate::measure::median;
use crate::upsert::{Bench, Figure, Sample, SLOW_RUN};

impl Bench {
    pub(crate) fn samples(&self, figure: Figure) -> &[Sample] {
        self.samples
            .iter()
            .find(|(f, _)| *f == figure)
            .map_or(&[], |(_, list)| list.as_slice())
    }

    pub(crate) fn median_rate(&self, figure: Figure) -> Option<f64> {
        median(self.samples(figure).iter().map(Sample::rate))
    }

    /// The limit every `× limit` column divides by: the faster of the single statement with the
    /// optimizer's plan and with a full scan of the source forced (issue 13), with which it was.
    pub(crate) fn best_limit(&self) -> (f64, &'static str) {
        let rate = |f| self.median_rate(f).unwrap_or(f64::NAN);
        let (optimizer, forced) = (rate(Figure::Limit), rate(Figure::LimitFullScan));
        if forced > optimizer {
            (forced, "a full scan forced")
        } else {
            (optimizer, "the optimizer's plan")
        }
    }

    /// The line under a table that says which single statement was the limit, and how the full
    /// scan was forced.
    pub(crate) fn limit_line(&self, s: &mut String) {
        let (_, which) = self.best_limit();
        let _ = writeln!(
            s,
            "\nThe limit (`× limit`) is the faster of the two single statements; this run, the one \
             with {which} (the full scan is forced by {}).",
            crate::strategies::full_scan_how(self.args.engine)
        );
    }

    /// The engine's section of `BENCHMARKS.md`.
    pub(crate) fn section(&self, meta: &Meta) -> String {
        let mut s = String::new();
        self.heading(&mut s, meta);
        self.figures(&mut s);
        self.targets(&mut s);
        self.notes(&mut s, meta);
        s
    }

    /// The engine, its version and the data the figures were measured on.
    fn heading(&self, s: &mut String, meta: &Meta) {
        let _ = writeln!(s, "## {}\n", self.args.engine);
        let _ = writeln!(
            s,
            "{} on {} cores; {} events over {} users ({} events with a NULL user); median of {} \
             per figure{}; {}{}.\n",
            meta.version,
            meta.cores,
            thousands(self.args.events as u64),
            thousands(self.args.users as u64),
            thousands(meta.null_events as u64),
            plural(self.args.repeat, "run"),
            if self.args.repeat_slow < self.args.repeat {
                format!(
                    " ({} for a figure whose first run took over {} s)",
                    plural(self.args.repeat_slow, "run"),
                    SLOW_RUN.as_secs()
                )
            } else {
                String::new()
            },
            meta.date,
            meta.commit
                .as_ref()
                .map(|c| format!(", commit {c}"))
                .unwrap_or_default(),
        );
        let _ = writeln!(s, "Server settings: {}.\n", meta.settings);
    }

    /// The table: one row per figure, its median time and rate against the limit's.
    fn figures(&self, s: &mut String) {
        let hand = self.args.hand_loop;
        let (limit, _) = self.best_limit();
        let _ = writeln!(
            s,
            "| figure | runs | median time | rows/s | × limit | batches | ms/batch | rows written | peak RSS |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for figure in Figure::all() {
            let list = self.samples(figure);
            let (Some(rate), Some(elapsed)) = (
                self.median_rate(figure),
                median(list.iter().map(|x| x.elapsed)),
            ) else {
                continue;
            };
            let batches = median(list.iter().filter_map(|x| x.batches));
            let per_batch = match (figure, batches) {
                (Figure::Limit | Figure::LimitFullScan | Figure::HandLoop, _) | (_, None) => {
                    "–".to_string()
                }
                (_, Some(b)) => format!("{:.1}", elapsed.as_secs_f64() * 1e3 / b.max(1) as f64),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {:.2} s | {} | {:.2}× | {} | {} | {} | {} |",
                figure.label(hand),
                list.len(),
                elapsed.as_secs_f64(),
                thousands(rate.round() as u64),
                rate / limit,
                batches.map_or("–".to_string(), thousands),
                per_batch,
                median(list.iter().map(|x| x.written)).map_or("–".to_string(), thousands),
                mib(list.iter().filter_map(|x| x.rss_kib).max()),
            );
        }
    }

    /// The project's targets, met or not, from the same medians.
    fn targets(&self, s: &mut String) {
        self.limit_line(s);
        let (limit, _) = self.best_limit();
        let default = self.median_rate(Figure::Default).unwrap_or(f64::NAN);
        let hand_rate = self.median_rate(Figure::HandLoop).unwrap_or(f64::NAN);
        let peak = self
            .samples
            .iter()
            .filter(|(f, _)| f.is_backfill())
            .flat_map(|(_, list)| list.iter().filter_map(|x| x.rss_kib))
            .max();
        let met = |ok: bool| if ok { "met" } else { "**not met**" };
        let _ = writeln!(s, "\nTargets, for reference:\n");
        let _ = writeln!(
            s,
            "- default ≥ 0.90× limit: {:.2}× ({})",
            default / limit,
            met(default / limit >= 0.90)
        );
        let _ = writeln!(
            s,
            "- default ≥ 20× hand-written loop: {:.1}× ({})",
            default / hand_rate,
            met(default / hand_rate >= 20.0)
        );
        let _ = writeln!(
            s,
            "- peak RSS < 64 MiB: {} during the backfill runs ({})",
            mib(peak),
            met(peak.is_some_and(|kib| kib < 64 * 1024))
        );
    }

    /// WAL, memory and what was checked.
    fn notes(&self, s: &mut String, meta: &Meta) {
        let wal = |f: Figure| median(self.samples(f).iter().filter_map(|x| x.wal_bytes));
        if let (Some(first), Some(rerun)) = (wal(Figure::Default), wal(Figure::Rerun)) {
            let _ = writeln!(
                s,
                "\nWAL: the first (default) run generated {}, the re-run {}: {:.2}% of the first run's \
                 (`pg_wal_lsn_diff` of `pg_current_wal_lsn()`, server-wide, medians).",
                bytes(first),
                bytes(rerun),
                rerun as f64 * 100.0 / first.max(1) as f64
            );
        }
        let _ = writeln!(
            s,
            "\nMemory: RSS sampled every 5 ms during each run (the column is the peak per figure). \
             The process's VmHWM at the end was {}; it also covers the seed, the checksums (read in \
             pages of {} rows) and the hand-written loop, which ran in the same process.",
            mib(meta.hwm_kib),
            thousands(CHECKSUM_PAGE as u64)
        );
        if let Some(reference) = self.reference {
            let _ = writeln!(
                s,
                "\nChecks: every full run's target equals the limit's ({reference}); the hand-written \
                 loop's rows equal the limit's. Rates are target rows per second of wall time \
                 (keys checked for the re-run, rows upserted for the hand-written loop). Every \
                 run, the limit's too, started after the previous run's writes were flushed \
                 (`CHECKPOINT`, `FLUSH TABLES ... FOR EXPORT` or `wal_checkpoint`; untimed)."
            );
        }
    }
}

/// What the section says about the run besides the figures.
pub(crate) struct Meta {
    pub(crate) version: String,
    pub(crate) settings: String,
    pub(crate) cores: usize,
    pub(crate) null_events: i64,
    pub(crate) hwm_kib: Option<u64>,
    pub(crate) date: String,
    pub(crate) commit: Option<String>,
    /// `/proc/loadavg`'s 1, 5 and 15 minute averages when the run started.
    pub(crate) load_average: Option<String>,
}

/// The machine's load averages (1, 5, 15 minutes), as `/proc/loadavg` has them.
pub(crate) fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub(crate) fn mib(kib: Option<u64>) -> String {
    kib.map_or("n/a".to_string(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    })
}

fn bytes(n: i64) -> String {
    if n.abs() >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

pub(crate) fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}
