//! The command line: `--engine`, the scale (`--events`, `--users`), how often each figure is
//! measured (`--repeat`, `--repeat-slow`, `--hand-loop-secs`), where the results go (`--output`),
//! the switches (`--keep`, `--print-sql`), the scenario (`--scenario upsert|in-place|workers|
//! latency|strategies`), the application's load of the latency scenario (`--load-rate`,
//! `--alone-secs`, `--waits`) and where the strategies scenario runs (`--scratch with|only|skip`,
//! `--drop-os-cache`). `2,000,000` and `2_000_000` are both
//! accepted; `--flag=value` works as well as `--flag value`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use backfill::Engine;

pub(crate) const USAGE: &str = "usage: cargo run --release --example bench -- --engine postgres|mysql|sqlite \
[--events N] [--users M] [--repeat N] [--repeat-slow N] [--hand-loop-secs S] [--output PATH|-] [--keep] [--print-sql] \
[--scenario upsert|in-place|workers|latency|strategies] [--load-rate OPS] [--alone-secs S] [--waits] \
[--scratch with|only|skip] [--drop-os-cache] [--cap-secs S]

scenarios:
  upsert     (default) the backfill's figures against the single statement (the limit)
  in-place   filling a column of an existing table against one UPDATE of every row
  workers    scaling: ranges and the scan with 1, 2 and 4 workers against the limit and the single
             statement cut by hand into 2 ranges side by side, with the server's and the bench's CPU (PostgreSQL, MySQL)
  latency    the application's latency: a steady load of --load-rate single-row reads and
             writes per second (default 500) alone for --alone-secs (default 10), during the
             limit, the default backfill, batches of 100/250/500 ms (target and merge), 1, 2
             and 4 workers on ranges; --repeat defaults to 9 here (a p99 needs the operations of
             several runs); --waits samples what every session waits on every 20 ms and adds it
             to the section
  strategies the limit with the optimizer's plan and with a forced full scan (the faster is
             the limit), ranges, ranges with the covering index, scan and auto side by side,
             with what plan says; on PostgreSQL and MySQL also on a scratch server with a
             16 MB buffer cache (--scratch with, the default; only: that part alone; skip:
             the shared server alone); --drop-os-cache drops the scratch server's files from
             the OS page cache before every measured run; --cap-secs S stops a limit or
             backfill run after S seconds and reports its time as a lower bound";

/// Which comparison a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// The backfill's figures against the single statement (`upsert.rs`).
    Upsert,
    /// A column filled in place (`in_place.rs`).
    InPlace,
    /// Workers against the limit (`scaling.rs`).
    Workers,
    /// The application's latency during each figure (`latency.rs`).
    Latency,
    /// Ranges, ranges with the covering index, scan and auto against the best single
    /// statement (`strategies.rs`).
    Strategies,
}

/// Where the strategies scenario runs on a server engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scratch {
    /// The shared server, then a scratch server with a small buffer cache.
    With,
    /// The scratch server alone.
    Only,
    /// The shared server alone.
    Skip,
}

/// Events seeded unless `--events` says otherwise.
pub(crate) const DEFAULT_EVENTS: i64 = 2_000_000;

/// The command line.
#[derive(Debug, Clone)]
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
    pub(crate) scenario: Scenario,
    /// The latency scenario's operations per second.
    pub(crate) load_rate: u64,
    /// How long the latency scenario measures the load alone, per round.
    pub(crate) alone: Duration,
    /// The latency scenario samples what the sessions wait on (`--waits`).
    pub(crate) waits: bool,
    /// Where the strategies scenario runs.
    pub(crate) scratch: Scratch,
    /// The strategies scenario: drop the scratch server's files from the OS page cache before
    /// every measured run there.
    pub(crate) drop_os_cache: bool,
    /// A limit or backfill run still going after this long is stopped (`--cap-secs`).
    pub(crate) cap: Option<Duration>,
}

/// How often each figure is measured unless `--repeat` says: 3, the median reported; 9 in the
/// latency scenario, whose figures pool their runs' operations. At 500 operations a second a
/// backfill of 1.5 s gives 750 operations a run, so over 3 runs the p99 is the 23rd slowest of
/// about 2,300: on PostgreSQL at 2M events two figures of the same options (the default, and
/// batches of 250 ms) gave 3.80x and 2.61x the p99 alone in one run of 3, and 1.84x and 1.87x
/// in the next of 9 (6,200-6,800 operations each).
fn default_repeat(scenario: Scenario) -> usize {
    match scenario {
        Scenario::Latency => 9,
        _ => 3,
    }
}

impl Args {
    /// Parses the command line; `Ok(None)` for `--help`.
    pub(crate) fn parse() -> Result<Option<Args>, String> {
        let mut engine = None;
        let mut events = DEFAULT_EVENTS;
        let mut users = 200_000;
        let mut repeat = None;
        let mut repeat_slow = None;
        let mut hand_loop_secs = 10;
        let mut output = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md"));
        let mut keep = false;
        let mut print_sql = false;
        let mut scenario = Scenario::Upsert;
        let mut load_rate = 500;
        let mut alone_secs = 10;
        let mut scratch = Scratch::With;
        let mut drop_os_cache = false;
        let mut waits = false;
        let mut cap_secs = None;
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
                "--drop-os-cache" => {
                    drop_os_cache = true;
                    continue;
                }
                "--waits" => {
                    waits = true;
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
                "--repeat" => repeat = Some(positive(&flag, &value)?),
                "--repeat-slow" => repeat_slow = Some(positive(&flag, &value)?),
                "--hand-loop-secs" => hand_loop_secs = positive(&flag, &value)?,
                "--scenario" => {
                    scenario = match value.as_str() {
                        "upsert" => Scenario::Upsert,
                        "in-place" => Scenario::InPlace,
                        "workers" => Scenario::Workers,
                        "latency" => Scenario::Latency,
                        "strategies" => Scenario::Strategies,
                        other => {
                            return Err(format!(
                                "--scenario {other:?}: use upsert, in-place, workers, latency or strategies"
                            ))
                        }
                    }
                }
                "--scratch" => {
                    scratch = match value.as_str() {
                        "with" => Scratch::With,
                        "only" => Scratch::Only,
                        "skip" => Scratch::Skip,
                        other => return Err(format!("--scratch {other:?}: use with, only or skip")),
                    }
                }
                "--cap-secs" => cap_secs = Some(positive(&flag, &value)?),
                "--load-rate" => load_rate = positive(&flag, &value)?,
                "--alone-secs" => alone_secs = positive(&flag, &value)?,
                "--output" if value == "-" => output = None,
                "--output" => output = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown option {flag}\n{USAGE}")),
            }
        }
        let engine = engine.ok_or_else(|| format!("--engine is required\n{USAGE}"))?;
        let repeat = match repeat {
            Some(n) => usize::try_from(n).map_err(|e| e.to_string())?,
            None => default_repeat(scenario),
        };
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
            scenario,
            load_rate: u64::try_from(load_rate).unwrap_or(500),
            alone: Duration::from_secs(u64::try_from(alone_secs).unwrap_or(10)),
            waits,
            scratch,
            drop_os_cache,
            cap: cap_secs.map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(1))),
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
