//! The command line: `--engine`, the scale (`--events`, `--users`), how often each figure is
//! measured (`--repeat`, `--repeat-slow`, `--hand-loop-secs`), where the results go (`--output`),
//! and the switches (`--keep`, `--print-sql`, `--scenario`). `2,000,000` and `2_000_000` are both
//! accepted; `--flag=value` works as well as `--flag value`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use backfill::Engine;

pub(crate) const USAGE: &str = "usage: cargo run --release --example bench -- --engine postgres|mysql|sqlite \
[--events N] [--users M] [--repeat N] [--repeat-slow N] [--hand-loop-secs S] [--output PATH|-] [--keep] [--print-sql] \
[--scenario upsert|in-place]";

/// Events seeded unless `--events` says otherwise.
pub(crate) const DEFAULT_EVENTS: i64 = 2_000_000;

/// The command line.
pub(crate) struct Args {
    pub(crate) engine: Engine,
    pub(crate) events: i64,
    pub(crate) users: i64,
    pub(crate) repeat: usize,
    pub(crate) repeat_slow: usize,
    pub(crate) hand_loop: Duration,
    pub(crate) output: Option<PathBuf>,
    pub(crate) keep: bool,
    pub(crate) print_sql: bool,
    /// `--scenario in-place`: fill a column of an existing table instead of the upsert.
    pub(crate) in_place: bool,
}

impl Args {
    /// Parses the command line; `Ok(None)` for `--help`.
    pub(crate) fn parse() -> Result<Option<Args>, String> {
        let mut engine = None;
        let mut events = DEFAULT_EVENTS;
        let mut users = 200_000;
        let mut repeat = 3;
        let mut repeat_slow = None;
        let mut hand_loop_secs = 10;
        let mut output = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md"));
        let mut keep = false;
        let mut print_sql = false;
        let mut in_place = false;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
                None => (arg, None),
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(None),
                "--keep" => {
                    keep = true;
                    continue;
                }
                "--print-sql" => {
                    print_sql = true;
                    continue;
                }
                _ => {}
            }
            let value = match inline.or_else(|| args.next()) {
                Some(value) => value,
                None => return Err(format!("{flag} needs a value\n{USAGE}")),
            };
            match flag.as_str() {
                "--engine" => {
                    engine = Some(Engine::parse(&value).ok_or_else(|| {
                        format!("--engine {value:?}: use postgres, mysql or sqlite")
                    })?)
                }
                "--events" => events = positive(&flag, &value)?,
                "--users" => users = positive(&flag, &value)?,
                "--repeat" => repeat = positive(&flag, &value)?,
                "--repeat-slow" => repeat_slow = Some(positive(&flag, &value)?),
                "--hand-loop-secs" => hand_loop_secs = positive(&flag, &value)?,
                "--scenario" => {
                    in_place = match value.as_str() {
                        "in-place" => true,
                        "upsert" => false,
                        other => {
                            return Err(format!("--scenario {other:?}: use upsert or in-place"))
                        }
                    }
                }
                "--output" if value == "-" => output = None,
                "--output" => output = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown option {flag}\n{USAGE}")),
            }
        }
        let engine = engine.ok_or_else(|| format!("--engine is required\n{USAGE}"))?;
        let repeat = usize::try_from(repeat).map_err(|e| e.to_string())?;
        Ok(Some(Args {
            engine,
            events,
            users,
            repeat,
            repeat_slow: match repeat_slow {
                Some(n) => usize::try_from(n).map_err(|e| e.to_string())?.min(repeat),
                None => repeat,
            },
            hand_loop: Duration::from_secs(u64::try_from(hand_loop_secs).unwrap_or(10)),
            output,
            keep,
            print_sql,
            in_place,
        }))
    }
}

/// A positive integer option (`2_000_000` and `2,000,000` accepted).
fn positive(flag: &str, value: &str) -> Result<i64, String> {
    value
        .replace(['_', ','], "")
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{flag} takes a positive integer, got {value:?}"))
}
