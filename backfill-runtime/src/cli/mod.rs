//! The command line a service embeds: `list`, `sql`, `check`, `plan`, `run`, `status`, `verify`
//! and `reset` for every backfill it registers, in a few lines:
//!
//! ```text
//! // src/bin/backfill.rs of a service (the `backfill` facade re-exports this module)
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     backfill::cli::main(backfill::registry![UserStats, OrderTotals]).await
//! }
//! ```
//!
//! ```text
//! $ DATABASE_URL=postgres://app:secret@db/prod service run UserStats --pause 100ms
//! $ service status
//! $ service verify UserStats
//! ```
//!
//! `--database-url` (or `DATABASE_URL`) picks the engine by its scheme: `postgres://`,
//! `postgresql://`, `mysql://`, `mariadb://` or `sqlite:`. The password is never printed: the
//! URL is shown as `postgres://app:***@db/prod` and the password is scrubbed from every message,
//! log line and error.
//!
//! `run` shows a progress bar on a terminal (keys done / estimated total, rows/s, ETA, and
//! `throttled: replica lag 4.2s` while it waits); otherwise it logs one line per batch (job, key
//! range, rows, milliseconds), as JSON lines with `--log-format json`. The first SIGINT/SIGTERM
//! stops after the batch in flight and prints the command that resumes; a second one aborts at
//! once (the open transaction rolls back).
//!
//! Exit codes (see [`Exit`]): 0 done, 1 runtime error, 2 usage/config error, 3 preflight failed,
//! 4 verify found differences, 130 interrupted.

// A build without any engine still compiles; every database command then reports that.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(unused, unreachable_code)
)]

mod args;
mod commands;
mod connect;
mod exit;
mod format;
mod progress_bar;
mod redact;
mod signals;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::definition::{Backfill, Definition, Engine};
use crate::options::Control;
use crate::throttle::LagProbe;

use args::{Cli, Command, LogFormat};
use exit::CommandError;
use progress_bar::Display;
use redact::{RedactingStderr, Redactor};

pub use exit::Exit;
pub use redact::redact_url;

/// One backfill registered with the command line: its name (the struct's) and definition.
///
/// Usually built by `backfill::registry![...]`; by hand it is `Registered::of::<UserStats>()`.
#[derive(Debug, Clone, Copy)]
pub struct Registered {
    definition: &'static Definition,
}

impl Registered {
    /// Registers the backfill `T` (a struct with `#[derive(Backfill)]`).
    pub fn of<T: Backfill>() -> Registered {
        Registered {
            definition: T::DEFINITION,
        }
    }

    /// The name on the command line: the struct's name (`UserStats`).
    pub fn name(&self) -> &'static str {
        self.definition.name
    }

    /// The backfill's definition.
    pub fn definition(&self) -> &'static Definition {
        self.definition
    }

    fn answers_to(&self, name: &str) -> bool {
        let d = self.definition;
        d.name.eq_ignore_ascii_case(name) || d.job == name || d.table == name
    }
}

/// The backfills a service offers on its command line, in the order given.
///
/// Built by `backfill::registry![UserStats, OrderTotals]`, which expands to
/// `Registry::new(vec![Registered::of::<UserStats>(), Registered::of::<OrderTotals>()])`.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    backfills: Vec<Registered>,
}

impl Registry {
    /// A registry of `backfills`.
    pub fn new(backfills: Vec<Registered>) -> Registry {
        Registry { backfills }
    }

    /// The registered backfills, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Registered> {
        self.backfills.iter()
    }

    /// The backfill called `name`: its struct name (any case), job name or table.
    pub fn find(&self, name: &str) -> Option<&Registered> {
        self.backfills
            .iter()
            .find(|r| r.name() == name)
            .or_else(|| self.backfills.iter().find(|r| r.answers_to(name)))
    }

    fn get(&self, name: &str) -> Result<&Registered, CommandError> {
        self.find(name).ok_or_else(|| {
            let names: Vec<&str> = self.iter().map(Registered::name).collect();
            CommandError::usage(format!(
                "no backfill named `{name}`: this service registers {} (see `list`)",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))
        })
    }
}

/// Runs the command line with the process's arguments and returns its exit code.
///
/// ```text
/// #[tokio::main]
/// async fn main() -> std::process::ExitCode {
///     backfill::cli::main(backfill::registry![UserStats, OrderTotals]).await
/// }
/// ```
///
/// Exit codes: 0 done, 1 runtime error, 2 usage/config error, 3 preflight failed, 4 verify found
/// differences, 130 interrupted (see [`Exit`]).
pub async fn main(registry: Registry) -> ExitCode {
    run(registry, std::env::args_os()).await.into()
}

/// Runs the command line with `args` (the first one is the program name), for services that
/// handle some arguments themselves before handing over.
///
/// ```
/// use backfill_runtime::cli::{run, Exit, Registry};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// // `list` needs no database.
/// assert_eq!(run(Registry::default(), ["service", "list"]).await, Exit::Done);
/// assert_eq!(run(Registry::default(), ["service", "check", "Nope"]).await, Exit::Usage);
/// # });
/// ```
pub async fn run<I, T>(registry: Registry, args: I) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut redactor = Redactor::none();
    for arg in &args {
        let arg = arg.to_string_lossy();
        if let Some(i) = arg.find("://") {
            let start = arg[..i].rfind('=').map_or(0, |eq| eq + 1);
            redactor.add_url(&arg[start..]);
        }
    }
    if let Ok(url) = std::env::var("DATABASE_URL") {
        redactor.add_url(&url);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let text = redactor.scrub(&e.render().to_string());
            if e.exit_code() == 0 {
                print!("{text}");
                return Exit::Done;
            }
            eprint!("{text}");
            return Exit::Usage;
        }
    };
    let redactor = Arc::new(redactor);
    init_logging(cli.log_format, &redactor);
    let ctx = Context {
        redactor: redactor.clone(),
        log_format: cli.log_format,
        progress_table: cli.progress_table.clone(),
        program: args
            .first()
            .map_or("backfill".to_string(), |p| p.to_string_lossy().into_owned()),
        args: args
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        url: cli.database_url.clone(),
    };
    match execute(&registry, &ctx, &cli).await {
        Ok(exit) => exit,
        Err(failure) => {
            ctx.error(&failure);
            failure.exit
        }
    }
}

async fn execute(registry: &Registry, ctx: &Context, cli: &Cli) -> Result<Exit, CommandError> {
    match &cli.command {
        Command::List => {
            ctx.out(commands::list(registry).trim_end());
            return Ok(Exit::Done);
        }
        Command::Sql { name, engine } => {
            let backfill = registry.get(name)?;
            let engines: Vec<Engine> = match (engine, &cli.database_url) {
                (Some(e), _) => vec![Engine::from(*e)],
                (None, Some(url)) => vec![connect::engine_of(url)?],
                (None, None) => Vec::new(),
            };
            ctx.out(commands::sql(backfill.definition(), &engines)?.trim_end());
            return Ok(Exit::Done);
        }
        _ => {}
    }
    // Resolve the name before connecting: a typo should not wait for a server.
    let named = match &cli.command {
        Command::Check { name }
        | Command::Plan { name, .. }
        | Command::Verify { name }
        | Command::Reset { name, .. }
        | Command::Pause { name, .. }
        | Command::Resume { name, .. }
        | Command::Rate { name, .. }
        | Command::Workers { name, .. } => Some(registry.get(name)?),
        Command::Run(run) => Some(registry.get(&run.name)?),
        Command::Status { name, .. } => name.as_deref().map(|n| registry.get(n)).transpose()?,
        Command::List | Command::Sql { .. } => None,
    };
    let url = cli.database_url.as_deref().ok_or_else(|| {
        CommandError::usage("no database: pass --database-url or set DATABASE_URL (postgres://, mysql://, mariadb:// or sqlite:)")
    })?;
    let mut guards: Vec<(Arc<dyn LagProbe>, Duration)> = Vec::new();
    if let Command::Run(run) = &cli.command {
        if let (Some(replica), Some(max_lag)) = (&run.replica_url, run.max_lag) {
            guards.push((connect::replica_probe(replica)?, max_lag));
        }
    }
    // Each worker of `run --workers N` has its own connection; one more serves the rest.
    let connections = match &cli.command {
        Command::Run(run) => run.workers.saturating_add(1),
        _ => 4,
    };
    let pool = connect::connect(url, cli.connect_timeout, connections).await?;
    #[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
    if let Command::Run(run) = &cli.command {
        if let Some(query) = &run.throttle_query {
            // True while the run should wait, whatever the threshold.
            guards.push((connect::throttle_query(&pool, query), Duration::ZERO));
        }
    }
    let result = dispatch(&pool, registry, ctx, cli, named, guards).await;
    pool.close().await;
    result
}

async fn dispatch<P: crate::pool::BackfillPool>(
    pool: &P,
    registry: &Registry,
    ctx: &Context,
    cli: &Cli,
    named: Option<&Registered>,
    guards: Vec<(Arc<dyn LagProbe>, Duration)>,
) -> Result<Exit, CommandError> {
    let backfill = || {
        named.ok_or_else(|| {
            CommandError::usage("this command needs the name of a backfill (see `list`)")
        })
    };
    match &cli.command {
        Command::Check { .. } => commands::check(pool, ctx, backfill()?).await,
        Command::Plan {
            batch_size,
            job,
            strategy,
            ..
        } => {
            let strategy = strategy.map(crate::definition::Strategy::from);
            commands::plan(
                pool,
                ctx,
                backfill()?,
                *batch_size,
                job.as_deref(),
                strategy,
            )
            .await
        }
        Command::Run(run) => commands::run(pool, ctx, backfill()?, run, guards).await,
        Command::Status { job, .. } => {
            let all: Vec<&Registered> = match named {
                Some(one) => vec![one],
                None => registry.iter().collect(),
            };
            commands::status(pool, ctx, &all, job.as_deref()).await
        }
        Command::Verify { .. } => commands::verify(pool, ctx, backfill()?).await,
        Command::Reset { job, yes, .. } => {
            commands::reset(pool, ctx, backfill()?, job.as_deref(), *yes).await
        }
        Command::Pause { job, .. } => {
            commands::control(pool, ctx, backfill()?, job.as_deref(), Control::Pause).await
        }
        Command::Resume { job, .. } => {
            commands::control(pool, ctx, backfill()?, job.as_deref(), Control::Resume).await
        }
        Command::Rate { rows, job, .. } => {
            commands::control(
                pool,
                ctx,
                backfill()?,
                job.as_deref(),
                Control::Rate(rows.0),
            )
            .await
        }
        Command::Workers { limit, job, .. } => {
            commands::control(
                pool,
                ctx,
                backfill()?,
                job.as_deref(),
                Control::Workers(limit.0),
            )
            .await
        }
        Command::List | Command::Sql { .. } => Ok(Exit::Done),
    }
}

/// Installs the stderr subscriber (`BACKFILL_LOG` overrides the filter); a service that already
/// installed one keeps it.
fn init_logging(format: LogFormat, redactor: &Arc<Redactor>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BACKFILL_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,backfill::cli=info"));
    let writer = RedactingStderr {
        redactor: redactor.clone(),
    };
    let _ = match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(writer)
            .try_init(),
    };
}

/// What every command needs to print safely.
pub(crate) struct Context {
    redactor: Arc<Redactor>,
    log_format: LogFormat,
    progress_table: String,
    /// `argv[0]`, for the commands the output suggests.
    program: String,
    /// The arguments after the program name, as given.
    args: Vec<String>,
    url: Option<String>,
}

impl Context {
    /// Prints a result on stdout, secrets scrubbed.
    fn out(&self, text: &str) {
        println!("{}", self.redactor.scrub(text));
    }

    /// Reports a failure on stderr: `error: ...`, or a JSON log line with `--log-format json`.
    fn error(&self, failure: &CommandError) {
        let message = self.redactor.scrub(&failure.message);
        match self.log_format {
            LogFormat::Text => eprintln!("error: {message}"),
            LogFormat::Json => tracing::error!(
                target: "backfill::cli",
                exit_code = failure.exit.code(),
                "{message}"
            ),
        }
    }

    /// A bar on a terminal with text logs; log lines otherwise.
    fn display(&self) -> Display {
        if self.log_format == LogFormat::Text && std::io::stderr().is_terminal() {
            Display::Bar
        } else {
            Display::Log
        }
    }

    /// The database URL, redacted.
    fn shown_url(&self) -> String {
        self.url
            .as_deref()
            .map_or("the database".to_string(), redact_url)
    }

    /// The command that resumes this run: the same arguments without `--restart`.
    fn resume_command(&self) -> String {
        let mut words = vec![shell_quote(&self.program)];
        words.extend(
            self.args
                .iter()
                .filter(|a| a.as_str() != "--restart")
                .map(|a| shell_quote(a)),
        );
        self.redactor.scrub(&words.join(" "))
    }
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,%+".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(args: &[&str]) -> Context {
        let mut redactor = Redactor::none();
        redactor.add_url("postgres://app:s3cret@db/prod");
        Context {
            redactor: Arc::new(redactor),
            log_format: LogFormat::Text,
            progress_table: "backfill_progress".into(),
            program: "./service".into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            url: Some("postgres://app:s3cret@db/prod".into()),
        }
    }

    #[test]
    fn the_resume_command_drops_restart_and_the_password() {
        let ctx = context(&[
            "--database-url",
            "postgres://app:s3cret@db/prod",
            "run",
            "UserStats",
            "--restart",
            "--pause",
            "50ms",
            "--job",
            "it's",
        ]);
        assert_eq!(
            ctx.resume_command(),
            "./service --database-url postgres://app:***@db/prod run UserStats --pause 50ms --job 'it'\\''s'"
        );
        assert_eq!(ctx.shown_url(), "postgres://app:***@db/prod");
    }

    #[test]
    fn unknown_names_list_the_registered_ones() {
        let err = Registry::default().get("UserStat").unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(
            err.message.contains("no backfill named `UserStat`"),
            "{}",
            err.message
        );
    }

    #[tokio::test]
    async fn usage_errors_exit_2_and_help_exits_0() {
        assert_eq!(
            run(Registry::default(), ["service", "frobnicate"]).await,
            Exit::Usage
        );
        assert_eq!(
            run(Registry::default(), ["service", "--help"]).await,
            Exit::Done
        );
        assert_eq!(
            run(Registry::default(), ["service", "run"]).await,
            Exit::Usage,
            "run without a name"
        );
    }
}
