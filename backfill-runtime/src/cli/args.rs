//! The command line's grammar (clap derive): global options, one subcommand per action.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::definition::{Engine, Strategy};

use super::exit::EXIT_CODES_HELP;

/// Runs, inspects and verifies the backfills this service registers.
#[derive(Debug, Parser)]
#[command(
    about = "Runs, inspects and verifies the backfills this service registers",
    long_about = "Runs, inspects and verifies the backfills this service registers.\n\n\
        A backfill is an idempotent upsert recomputed from its source, one key range per \
        transaction, with the cursor committed in the same transaction: stop it at any time \
        (Ctrl-C), resume it with the same command.",
    after_help = EXIT_CODES_HELP,
    after_long_help = EXIT_CODES_HELP,
    disable_help_subcommand = true,
    args_override_self = true
)]
pub(crate) struct Cli {
    /// Database URL: postgres://, postgresql://, mysql://, mariadb:// or sqlite:
    /// (the password is never printed)
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub(crate) database_url: Option<String>,

    /// How long to wait for the first connection before giving up, e.g. 3s
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration)]
    pub(crate) connect_timeout: Duration,

    /// Log lines (when stderr is not a terminal, and for --log-format json): text or json
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,

    /// Name of the progress table (`name` or `schema.name`)
    #[arg(long, global = true, default_value = "backfill_progress")]
    pub(crate) progress_table: String,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The format of log lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines (`key=value` fields).
    Text,
    /// One JSON object per line.
    Json,
}

/// An engine named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EngineArg {
    /// PostgreSQL.
    #[value(alias = "postgresql", alias = "pg")]
    Postgres,
    /// MySQL or MariaDB.
    #[value(alias = "mariadb")]
    Mysql,
    /// SQLite.
    Sqlite,
}

impl From<EngineArg> for Engine {
    fn from(arg: EngineArg) -> Engine {
        match arg {
            EngineArg::Postgres => Engine::Postgres,
            EngineArg::Mysql => Engine::MySql,
            EngineArg::Sqlite => Engine::Sqlite,
        }
    }
}

/// A strategy named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StrategyArg {
    /// Key ranges, each read through the key.
    Ranges,
    /// The source read in chunks of its primary key, partial aggregates merged per key.
    Scan,
    /// Chosen before the run from the access path.
    Auto,
}

impl From<StrategyArg> for Strategy {
    fn from(arg: StrategyArg) -> Strategy {
        match arg {
            StrategyArg::Ranges => Strategy::Ranges,
            StrategyArg::Scan => Strategy::Scan,
            StrategyArg::Auto => Strategy::Auto,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the registered backfills
    List,
    /// Print the generated SQL of a backfill, formatted
    Sql {
        /// The backfill (struct name, job or table)
        name: String,
        /// Engine whose SQL to print; default: the DATABASE_URL's engine, else every engine
        #[arg(long, value_enum)]
        engine: Option<EngineArg>,
    },
    /// Preflight only: check the target table, its unique key and every statement; writes nothing
    Check {
        /// The backfill (struct name, job or table)
        name: String,
    },
    /// Show what a run would do: key range, estimated batches, the first batch's EXPLAIN; writes nothing
    Plan {
        /// The backfill (struct name, job or table)
        name: String,
        /// Fixed batch size (distinct keys per batch)
        #[arg(long)]
        batch_size: Option<u64>,
        /// Job name in the progress table (default: the backfill's job)
        #[arg(long)]
        job: Option<String>,
        /// How a run would read the source (default: the backfill's `strategy`, else auto)
        #[arg(long, value_enum)]
        strategy: Option<StrategyArg>,
    },
    /// Run or resume a backfill
    Run(Box<RunArgs>),
    /// Show the progress of one job, or of every registered job
    Status {
        /// The backfill (struct name, job or table); default: every registered backfill
        name: Option<String>,
        /// Job name in the progress table (default: the backfill's job)
        #[arg(long, requires = "name")]
        job: Option<String>,
    },
    /// Recompute every key read-only and compare with the table (exit 4 on differences)
    Verify {
        /// The backfill (struct name, job or table)
        name: String,
    },
    /// Forget a job's progress so the next run starts from the first key (the table is kept)
    Reset {
        /// The backfill (struct name, job or table)
        name: String,
        /// Job name in the progress table (default: the backfill's job)
        #[arg(long)]
        job: Option<String>,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Pause every worker of a job, in every process, at its next batch boundary
    Pause {
        /// The backfill (struct name, job or table)
        name: String,
        /// Job name in the progress table (default: the backfill's job)
        #[arg(long)]
        job: Option<String>,
    },
    /// Resume a paused job: every worker goes on at its next look
    Resume {
        /// The backfill (struct name, job or table)
        name: String,
        /// Job name in the progress table (default: the backfill's job)
        #[arg(long)]
        job: Option<String>,
    },
    /// Set the rows-per-second limit of a running job, summed over all its workers
    Rate {
        /// The backfill (struct name, job or table)
        name: String,
        /// Rows written per second over every worker, or `off` to lift the limit
        #[arg(value_parser = parse_rate)]
        rows: RateArg,
        /// Job name in the progress table (default: the backfill's job)
        #[arg(long)]
        job: Option<String>,
    },
    /// Set how many workers of a running job run batches at once, over every process
    Workers {
        /// The backfill (struct name, job or table)
        name: String,
        /// Workers running batches at once (1 to 1024), or `all` to lift the limit; the others
        /// wait at their next batch boundary. Above the workers started it runs no more: start
        /// more processes, or start them with a larger --workers and a lower limit
        #[arg(value_parser = parse_worker_limit)]
        limit: WorkerLimitArg,
        /// Job name in the progress table (default: the backfill's job)
        #[arg(long)]
        job: Option<String>,
    },
}

/// The limit of `workers`: workers running batches at once, or `None` for `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WorkerLimitArg(pub(crate) Option<u32>);

/// Parses `workers`' limit: 1 to 1024 workers, or `all`.
pub(crate) fn parse_worker_limit(text: &str) -> Result<WorkerLimitArg, String> {
    match text.trim() {
        "all" | "off" | "none" => Ok(WorkerLimitArg(None)),
        n => match n.parse::<u32>() {
            Ok(0) => Err(
                "a limit of 0 workers would stop the job: to stop it for a while, use `pause`"
                    .to_string(),
            ),
            Ok(n) if n <= crate::progress::MAX_WORKER_LIMIT => Ok(WorkerLimitArg(Some(n))),
            _ => Err(format!(
                "`{text}` is not a worker limit: write a number of workers from 1 to {}, e.g. 2, or `all` to lift the limit",
                crate::progress::MAX_WORKER_LIMIT
            )),
        },
    }
}

/// The limit of `rate`: rows per second, or `None` for `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateArg(pub(crate) Option<u64>);

/// Parses `rate`'s limit: a positive number of rows per second, or `off`.
pub(crate) fn parse_rate(text: &str) -> Result<RateArg, String> {
    match text.trim() {
        "off" | "none" => Ok(RateArg(None)),
        n => match n.parse::<u64>() {
            Ok(0) | Err(_) => Err(format!(
                "`{text}` is not a rate: write a positive number of rows per second, e.g. 5000, or `off`"
            )),
            Ok(n) => Ok(RateArg(Some(n))),
        },
    }
}

/// Options of `run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The backfill (struct name, job or table)
    pub(crate) name: String,
    /// Fixed batch size in distinct keys (turns adaptive sizing off)
    #[arg(long)]
    pub(crate) batch_size: Option<u64>,
    /// Adaptive sizing aims for batches of this duration, e.g. 500ms
    #[arg(long, value_parser = parse_duration)]
    pub(crate) target_batch_time: Option<Duration>,
    /// The scan's merge batches aim for this duration (default: --target-batch-time, at most
    /// 25ms on MySQL/MariaDB), e.g. 250ms
    #[arg(long, value_parser = parse_duration)]
    pub(crate) merge_batch_time: Option<Duration>,
    /// Limit on rows written per second
    #[arg(long)]
    pub(crate) max_rows_per_sec: Option<u64>,
    /// Sleep between batches, e.g. 100ms
    #[arg(long, value_parser = parse_duration)]
    pub(crate) pause: Option<Duration>,
    /// Start over from the first key (also accepts a changed definition)
    #[arg(long)]
    pub(crate) restart: bool,
    /// Delete target rows whose key no source row produces (keys that left the source), each
    /// range in its batch's transaction; never done without this flag
    #[arg(long)]
    pub(crate) delete_extra: bool,
    /// Stop (resumably) after this many batches
    #[arg(long)]
    pub(crate) max_batches: Option<u64>,
    /// Concurrent workers in this process, each with its own connection, on shards of the key
    /// span; the same command in other processes joins the job (PostgreSQL, MariaDB 10.6+,
    /// MySQL 8)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) workers: u32,
    /// When this run starts the job: at most this many of its workers, over every process,
    /// run batches at once (e.g. --workers 8 --max-workers 2, raised live with `workers NAME
    /// 8`); a run joining a started job keeps the job's limit
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) max_workers: Option<u32>,
    /// Timeout of every statement in a batch, e.g. 30s
    #[arg(long, value_parser = parse_duration)]
    pub(crate) statement_timeout: Option<Duration>,
    /// How long a batch waits for a row lock before it fails and is retried, e.g. 5s
    #[arg(long, value_parser = parse_duration)]
    pub(crate) lock_timeout: Option<Duration>,
    /// Retries of a batch after a transient error (deadlock, lock timeout, dropped connection)
    #[arg(long)]
    pub(crate) max_retries: Option<u32>,
    /// Job name in the progress table (default: the backfill's job)
    #[arg(long)]
    pub(crate) job: Option<String>,
    /// How to read the source: ranges (through the key), scan (in chunks of the source's
    /// primary key, partial aggregates merged per key) or auto (default: the backfill's
    /// `strategy`, else chosen from the access path)
    #[arg(long, value_enum)]
    pub(crate) strategy: Option<StrategyArg>,
    /// The scan's chunks: source rows per chunk (default: adaptive, about 4s each, the first of 2,000,000 rows or sixteen rows per key, whichever is more)
    #[arg(long)]
    pub(crate) scan_chunk_rows: Option<u64>,
    /// URL of a replica to watch: the run pauses while its lag exceeds --max-lag
    #[arg(long, requires = "max_lag")]
    pub(crate) replica_url: Option<String>,
    /// Largest replication lag tolerated before pausing, e.g. 5s
    #[arg(long, value_parser = parse_duration, requires = "replica_url")]
    pub(crate) max_lag: Option<Duration>,
    /// SQL run on the database before each batch (like gh-ost's): the run pauses while it
    /// returns true, e.g. "SELECT count(*) > 20 FROM pg_stat_activity WHERE state = 'active'"
    #[arg(long, value_name = "SQL")]
    pub(crate) throttle_query: Option<String>,
}

/// Parses a duration: a number with a unit (`250ms`, `5s`, `2m`, `1h`, `1.5s`); a bare number
/// is seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write e.g. 250ms, 5s, 2m or 1h"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" | "sec" | "secs" => value,
        "m" | "min" | "mins" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}`: write e.g. 250ms, 5s, 2m or 1h"
            ))
        }
    };
    if !seconds.is_finite() || !(0.0..=1e9).contains(&seconds) {
        return Err(format!("`{text}` is not a reasonable duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("service").chain(args.iter().copied()))
    }

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration("fast")
            .unwrap_err()
            .contains("not a duration"));
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn run_takes_every_option() {
        let cli = parse(&[
            "--database-url",
            "sqlite:x.db",
            "run",
            "UserStats",
            "--batch-size",
            "10",
            "--pause",
            "50ms",
            "--restart",
            "--max-batches",
            "3",
            "--statement-timeout",
            "30s",
            "--lock-timeout",
            "2s",
            "--max-retries",
            "7",
            "--max-rows-per-sec",
            "1000",
            "--target-batch-time",
            "500ms",
            "--merge-batch-time",
            "250ms",
            "--job",
            "user_stats_v2",
            "--progress-table",
            "ops.progress",
            "--replica-url",
            "postgres://replica/db",
            "--max-lag",
            "5s",
            "--throttle-query",
            "SELECT count(*) > 20 FROM pg_stat_activity",
        ])
        .unwrap();
        assert_eq!(cli.database_url.as_deref(), Some("sqlite:x.db"));
        assert_eq!(cli.progress_table, "ops.progress");
        let Command::Run(run) = cli.command else {
            panic!("not run: {:?}", cli.command)
        };
        assert_eq!(run.name, "UserStats");
        assert_eq!(run.batch_size, Some(10));
        assert_eq!(run.pause, Some(Duration::from_millis(50)));
        assert!(run.restart);
        assert_eq!(run.max_batches, Some(3));
        assert_eq!(run.statement_timeout, Some(Duration::from_secs(30)));
        assert_eq!(run.lock_timeout, Some(Duration::from_secs(2)));
        assert_eq!(run.max_retries, Some(7));
        assert_eq!(run.max_rows_per_sec, Some(1000));
        assert_eq!(run.target_batch_time, Some(Duration::from_millis(500)));
        assert_eq!(run.merge_batch_time, Some(Duration::from_millis(250)));
        assert_eq!(run.job.as_deref(), Some("user_stats_v2"));
        assert_eq!(run.max_lag, Some(Duration::from_secs(5)));
        assert_eq!(
            run.throttle_query.as_deref(),
            Some("SELECT count(*) > 20 FROM pg_stat_activity")
        );
    }

    #[test]
    fn workers_pause_resume_and_rate_parse() {
        let Command::Run(run) = parse(&["run", "X", "--workers", "4"]).unwrap().command else {
            panic!("not run")
        };
        assert_eq!(run.workers, 4);
        let Command::Run(run) = parse(&["run", "X"]).unwrap().command else {
            panic!("not run")
        };
        assert_eq!((run.workers, run.max_workers), (1, None));
        assert!(parse(&["run", "X", "--workers", "0"]).is_err());
        let Command::Run(run) = parse(&["run", "X", "--workers", "8", "--max-workers", "2"])
            .unwrap()
            .command
        else {
            panic!("not run")
        };
        assert_eq!((run.workers, run.max_workers), (8, Some(2)));
        assert!(parse(&["run", "X", "--max-workers", "0"]).is_err());
        assert!(matches!(
            parse(&["workers", "X", "3", "--job", "j"]).unwrap().command,
            Command::Workers {
                limit: WorkerLimitArg(Some(3)),
                job: Some(_),
                ..
            }
        ));
        assert!(matches!(
            parse(&["workers", "X", "all"]).unwrap().command,
            Command::Workers {
                limit: WorkerLimitArg(None),
                ..
            }
        ));
        for wrong in ["0", "1025", "many", "-1"] {
            assert!(parse(&["workers", "X", wrong]).is_err(), "{wrong}");
        }
        assert!(matches!(
            parse(&["pause", "X", "--job", "j"]).unwrap().command,
            Command::Pause { job: Some(_), .. }
        ));
        assert!(matches!(
            parse(&["resume", "X"]).unwrap().command,
            Command::Resume { .. }
        ));
        assert!(matches!(
            parse(&["rate", "X", "5000"]).unwrap().command,
            Command::Rate {
                rows: RateArg(Some(5000)),
                ..
            }
        ));
        assert!(matches!(
            parse(&["rate", "X", "off"]).unwrap().command,
            Command::Rate {
                rows: RateArg(None),
                ..
            }
        ));
        assert!(parse(&["rate", "X", "0"]).is_err());
        assert!(parse(&["rate", "X", "fast"]).is_err());
    }

    #[test]
    fn replica_url_needs_max_lag() {
        let err = parse(&["run", "X", "--replica-url", "postgres://r/db"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn engines_have_aliases() {
        for (name, engine) in [
            ("postgres", EngineArg::Postgres),
            ("postgresql", EngineArg::Postgres),
            ("mysql", EngineArg::Mysql),
            ("mariadb", EngineArg::Mysql),
            ("sqlite", EngineArg::Sqlite),
        ] {
            let cli = parse(&["sql", "X", "--engine", name]).unwrap();
            assert!(
                matches!(cli.command, Command::Sql { engine: Some(e), .. } if e == engine),
                "{name}"
            );
        }
        assert!(parse(&["sql", "X", "--engine", "oracle"]).is_err());
    }

    #[test]
    fn status_name_is_optional_and_reset_has_yes() {
        assert!(matches!(
            parse(&["status"]).unwrap().command,
            Command::Status { name: None, .. }
        ));
        assert!(matches!(
            parse(&["reset", "X", "-y"]).unwrap().command,
            Command::Reset { yes: true, .. }
        ));
        assert!(parse(&["status", "--job", "j"]).is_err());
    }

    #[test]
    fn help_lists_the_exit_codes_and_hides_the_url() {
        std::env::set_var("DATABASE_URL", "postgres://app:hunter22@h/db");
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("130  interrupted"), "{help}");
        assert!(help.contains("3    preflight failed"), "{help}");
        assert!(!help.contains("hunter22"), "{help}");
    }
}
