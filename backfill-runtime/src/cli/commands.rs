//! The subcommands, each written once, generic over [`BackfillPool`].

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::definition::{Definition, Engine, KeyKind, Strategy};
use crate::options::{Control, Report, RunOptions, StopReason};
use crate::pool::BackfillPool;
use crate::throttle::LagProbe;
use crate::value::Key;
use crate::verify::VerifyReport;

use super::args::RunArgs;
use super::exit::{CommandError, Exit};
use super::format;
use super::progress_bar::LiveProgress;
use super::{signals, Context, Registered, Registry};

/// `list`: the registered backfills.
pub(crate) fn list(registry: &Registry) -> String {
    let rows: Vec<Vec<String>> = registry
        .iter()
        .map(|r| {
            let d = r.definition();
            let engines: Vec<&str> = Engine::ALL
                .iter()
                .filter(|e| d.statements(**e).is_some())
                .map(|e| e.name())
                .collect();
            let mut mode = if d.grouped { "aggregate" } else { "row copy" }.to_string();
            if d.write_once {
                mode.push_str(", write-once");
            }
            vec![
                d.name.to_string(),
                d.table.to_string(),
                d.key_columns(),
                d.job.to_string(),
                mode,
                engines.join(","),
                d.from.to_string(),
            ]
        })
        .collect();
    format::table(
        &[
            "BACKFILL", "TABLE", "KEY", "JOB", "MAPPING", "ENGINES", "FROM",
        ],
        &rows,
    )
}

/// `sql`: the generated statements of `engines` (every generated engine when empty).
pub(crate) fn sql(definition: &Definition, engines: &[Engine]) -> Result<String, CommandError> {
    let chosen: Vec<Engine> = if engines.is_empty() {
        Engine::ALL
            .into_iter()
            .filter(|e| definition.statements(*e).is_some())
            .collect()
    } else {
        engines.to_vec()
    };
    let mut blocks = Vec::new();
    for engine in chosen {
        let statements = definition.statements(engine).ok_or_else(|| {
            CommandError::usage(format!(
                "{} was not generated for {engine}: add it to `#[backfill(engines = \"...\")]` or enable the crate feature",
                definition.name
            ))
        })?;
        blocks.push(format::statements(definition, statements));
    }
    Ok(blocks.join("\n"))
}

/// The options every command that touches the progress table shares.
fn base_options(ctx: &Context, job: Option<&str>) -> RunOptions {
    let options = RunOptions::default().progress_table(ctx.progress_table.clone());
    match job {
        Some(job) => options.job(job),
        None => options,
    }
}

/// The job name a command acts on.
fn job_name(definition: &Definition, job: Option<&str>) -> String {
    job.unwrap_or(definition.job).to_string()
}

/// `check`: preflight only.
pub(crate) async fn check<P: BackfillPool>(
    pool: &P,
    ctx: &Context,
    backfill: &Registered,
) -> Result<Exit, CommandError> {
    let d = backfill.definition();
    pool.check(d).await?;
    // Advice beside the preflight: an analysis that fails does not fail the check.
    let access = pool.access_path(d, &base_options(ctx, None)).await;
    let drift = pool.schema_drift(d).await;
    ctx.out(&format!(
        "ok: {} can run on {}: table {} has a unique key on {}, and every statement prepares\n{}{}",
        d.name,
        pool.engine(),
        d.table,
        d.key_columns(),
        format::checked_schema(d, pool.engine(), &drift),
        format::source_access(&access).trim_end()
    ));
    Ok(Exit::Done)
}

/// `plan`: what a run would do; writes nothing.
pub(crate) async fn plan<P: BackfillPool>(
    pool: &P,
    ctx: &Context,
    backfill: &Registered,
    batch_size: Option<u64>,
    job: Option<&str>,
    strategy: Option<Strategy>,
) -> Result<Exit, CommandError> {
    let d = backfill.definition();
    let mut options = base_options(ctx, job);
    if let Some(size) = batch_size {
        options = options.batch_size(size);
    }
    if let Some(strategy) = strategy {
        options = options.strategy(strategy);
    }
    let plan = pool.plan(d, &options).await?;
    let first_key = d.key.first().map_or("?", |k| k.column);
    let mut out = format!(
        "plan of {} (job {}) on {}; nothing was written\n",
        d.name,
        job_name(d, job),
        pool.engine()
    );
    let line = |out: &mut String, label: &str, value: String| {
        out.push_str(&format!("  {label:<18} {value}\n"));
    };
    line(
        &mut out,
        "strategy:",
        format!("{} ({})", plan.strategy, plan.strategy_reason),
    );
    line(
        &mut out,
        "key span:",
        match &plan.key_span {
            Some((lo, hi)) => format!("{lo} ..= {hi} ({first_key})"),
            None => "the source has no keys: a run would write nothing".to_string(),
        },
    );
    line(
        &mut out,
        "estimated keys:",
        plan.estimated_keys
            .map_or("unknown".to_string(), format::count),
    );
    let sizing = if batch_size.is_some() || d.batch_size.is_some() {
        "fixed"
    } else {
        "adaptive, first batch"
    };
    line(
        &mut out,
        "batch size:",
        format!("{} keys ({sizing})", format::count(plan.batch_size)),
    );
    line(
        &mut out,
        "estimated batches:",
        plan.estimated_batches
            .map_or("unknown".to_string(), format::count),
    );
    line(
        &mut out,
        "first batch:",
        match &plan.first_range {
            Some((hi, keys)) => format!("keys <= {hi} ({} keys)", format::count(*keys)),
            None => "none".to_string(),
        },
    );
    out.push_str("  explain of the first batch's upsert:\n");
    for l in plan.explain.lines() {
        out.push_str("    ");
        out.push_str(l);
        out.push('\n');
    }
    let access = pool.access_path(d, &options).await;
    out.push_str(&format::source_access(&access));
    ctx.out(out.trim_end());
    Ok(Exit::Done)
}

/// `run`: runs or resumes the backfill with live progress and graceful signals.
pub(crate) async fn run<P: BackfillPool>(
    pool: &P,
    ctx: &Context,
    backfill: &Registered,
    args: &RunArgs,
    guards: Vec<(Arc<dyn LagProbe>, Duration)>,
) -> Result<Exit, CommandError> {
    let d = backfill.definition();
    let job = job_name(d, args.job.as_deref());
    let mut options = base_options(ctx, args.job.as_deref())
        .restart(args.restart)
        .delete_extra(args.delete_extra);
    if let Some(n) = args.batch_size {
        options = options.batch_size(n);
    }
    if let Some(t) = args.target_batch_time {
        options = options.target_batch_time(t);
    }
    if let Some(t) = args.merge_batch_time {
        options = options.merge_batch_time(t);
    }
    if let Some(n) = args.max_rows_per_sec {
        options = options.max_rows_per_sec(n);
    }
    if let Some(p) = args.pause {
        options = options.pause(p);
    }
    if let Some(n) = args.max_batches {
        options = options.max_batches(n);
    }
    if let Some(t) = args.statement_timeout {
        options = options.statement_timeout(t);
    }
    if let Some(t) = args.lock_timeout {
        options = options.lock_timeout(t);
    }
    if let Some(n) = args.max_retries {
        options = options.max_retries(n);
    }
    if let Some(strategy) = args.strategy {
        options = options.strategy(strategy.into());
    }
    if let Some(rows) = args.scan_chunk_rows {
        options = options.scan_chunk_rows(rows);
    }
    options = options.workers(args.workers);
    if let Some(k) = args.max_workers {
        options = options.max_workers(k);
    }
    for (probe, threshold) in guards {
        options = options.lag_guard(probe, threshold);
    }

    let before = pool.status(d, &options).await?;
    let prior_keys = match &before {
        Some(s) if !args.restart && s.state != "done" => s.keys,
        _ => 0,
    };
    let live = LiveProgress::new(ctx.display(), &job, prior_keys);
    match &before {
        Some(s) if !args.restart && s.state != "done" && !s.shards.is_empty() => {
            live.notice(&format!(
                "joining job {job}: {} shards, {} keys and {} rows written so far",
                s.shards.len(),
                format::count(s.keys),
                format::count(s.rows_written)
            ));
        }
        Some(s) if !args.restart && s.state != "done" => {
            if let Some(cursor) = &s.cursor {
                live.notice(&format!(
                    "resuming job {job} after key {cursor} ({} keys, {} rows written so far)",
                    format::count(s.keys),
                    format::count(s.rows_written)
                ));
            }
        }
        _ => {}
    }
    tracing::info!(
        target: "backfill::cli",
        job = %job,
        engine = pool.engine().name(),
        table = d.table,
        restart = args.restart,
        "run started"
    );

    let token = crate::CancellationToken::new();
    let options = options.shutdown(token.clone()).on_progress(live.callback());
    let watcher = {
        let live = live.clone();
        signals::watch(token.clone(), move |line| live.notice(line))
    };
    let result = pool.run_backfill(d, options).await;
    watcher.abort();
    live.finish();

    let resume = ctx.resume_command();
    match result {
        Ok(report) => Ok(summarize(ctx, &report, &resume)),
        Err(error) => {
            let mut failure = CommandError::from(error);
            if matches!(failure.exit, Exit::Failed) {
                failure
                    .message
                    .push_str(&format!("\nthe job is resumable once fixed: {resume}"));
            }
            if token.is_cancelled() {
                failure.exit = Exit::Interrupted;
            }
            Err(failure)
        }
    }
}

/// Prints what a run did and returns its exit code.
fn summarize(ctx: &Context, report: &Report, resume: &str) -> Exit {
    let at = report
        .cursor
        .as_ref()
        .map_or("the first key".to_string(), |k| format!("key {k}"));
    let deleted = if report.rows_deleted > 0 {
        format!(
            ", {} extra rows deleted",
            format::count(report.rows_deleted)
        )
    } else {
        String::new()
    };
    let mut split = Vec::new();
    if report.shards_split > 0 {
        split.push(format!(
            "{} shards split",
            format::count(report.shards_split)
        ));
    }
    if report.timeout_splits > 0 {
        split.push(format!(
            "{} batches split after the statement timeout",
            format::count(report.timeout_splits)
        ));
    }
    if report.inserted_batches > 0 {
        split.push(format!(
            "{} batches inserted into ranges with no target row",
            format::count(report.inserted_batches)
        ));
    }
    let split = if split.is_empty() {
        String::new()
    } else {
        format!("; {}", split.join(", "))
    };
    let scanned = match &report.scan {
        Some(scan) => format!(
            "; scanned {} source rows in {} chunks into {} ({} partial rows)",
            format::count(scan.source_rows),
            format::count(scan.chunks),
            scan.staging_table,
            format::count(scan.partials_written)
        ),
        None => String::new(),
    };
    let work = format!(
        "{} keys in {} batches, {} rows written{deleted} in {} ({}){split}{scanned}",
        format::count(report.keys),
        format::count(report.batches),
        format::count(report.rows_written),
        format::duration(report.elapsed),
        format::rate(report.rows_written, report.elapsed)
    );
    let stop = match report.stop {
        StopReason::Done => "done",
        StopReason::AlreadyDone => "already_done",
        StopReason::MaxBatches => "max_batches",
        StopReason::Shutdown => "interrupted",
    };
    tracing::info!(
        target: "backfill::cli",
        job = %report.job,
        stop,
        batches = report.batches,
        keys = report.keys,
        rows = report.rows_written,
        deleted = report.rows_deleted,
        retries = report.retries,
        timeout_splits = report.timeout_splits,
        shards_split = report.shards_split,
        inserted_batches = report.inserted_batches,
        strategy = %report.strategy,
        ms = report.elapsed.as_millis() as u64,
        cursor = %format::lower_bound(report.cursor.as_ref()),
        "run finished"
    );
    let mut lines = Vec::new();
    let exit = match report.stop {
        StopReason::Done => {
            lines.push(format!("done: job {}: {work}", report.job));
            Exit::Done
        }
        StopReason::AlreadyDone => {
            lines.push(format!(
                "job {} is already done; nothing was written (pass --restart to recompute every key)",
                report.job
            ));
            Exit::Done
        }
        StopReason::MaxBatches => {
            lines.push(format!(
                "paused: job {} stopped at {at} after --max-batches: {work}",
                report.job
            ));
            lines.push(format!("resume with: {resume}"));
            Exit::Done
        }
        StopReason::Shutdown => {
            lines.push(format!(
                "interrupted: job {} stopped at {at} (every batch up to it is committed): {work}",
                report.job
            ));
            lines.push(format!("resume with: {resume}"));
            Exit::Interrupted
        }
    };
    if let Some(from) = &report.resumed_from {
        lines.push(format!("  resumed after key {from}"));
    }
    if report.retries > 0 {
        lines.push(format!(
            "  {} batches retried after transient errors",
            format::count(report.retries)
        ));
    }
    if !report.throttled.is_zero() {
        lines.push(format!(
            "  throttled for {}",
            format::duration(report.throttled)
        ));
    }
    if report.null_keys > 0 {
        lines.push(format!(
            "warning: {} source rows have a NULL key and are in no batch: they were skipped",
            format::count(report.null_keys)
        ));
    }
    ctx.out(&lines.join("\n"));
    exit
}

/// `status`: the progress rows of `backfills`.
pub(crate) async fn status<P: BackfillPool>(
    pool: &P,
    ctx: &Context,
    backfills: &[&Registered],
    job: Option<&str>,
) -> Result<Exit, CommandError> {
    let mut rows = Vec::new();
    let mut details = Vec::new();
    for backfill in backfills {
        let d = backfill.definition();
        let options = base_options(ctx, job);
        let name = job_name(d, job);
        match pool.status(d, &options).await? {
            None => rows.push(format::StatusRow::not_started(d.name, &name)),
            Some(status) => {
                // Shards move side by side: one cursor says nothing of the whole.
                let span = if status.state != "done"
                    && status.shards.is_empty()
                    && status.cursor.is_some()
                    && d.key.first().is_some_and(|k| k.kind == KeyKind::Int)
                {
                    // The key span comes with the plan; without it the percentage is unknown,
                    // which is no reason to fail `status`.
                    pool.plan(d, &options)
                        .await
                        .ok()
                        .and_then(|plan| plan.key_span)
                } else {
                    None
                };
                let fraction = format::status_fraction(&status, span.as_ref());
                rows.push(format::StatusRow::from_status(
                    d.name,
                    &status,
                    fraction,
                    chrono::Utc::now(),
                ));
                if backfills.len() == 1 {
                    details.push(format!(
                        "  started {}, {} batches, {} keys, fingerprint {}{}",
                        status.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        format::count(status.batches),
                        format::count(status.keys),
                        status.fingerprint,
                        status.finished_at.map_or(String::new(), |f| format!(
                            ", finished {}",
                            f.format("%Y-%m-%d %H:%M:%S UTC")
                        ))
                    ));
                    details.extend(format::control_lines(&status, d.name));
                }
            }
        }
    }
    let mut out = format::status_table(&rows);
    for line in details {
        out.push_str(&line);
        out.push('\n');
    }
    ctx.out(out.trim_end());
    Ok(Exit::Done)
}

/// `verify`: exit 4 when the table differs from its source.
pub(crate) async fn verify<P: BackfillPool>(
    pool: &P,
    ctx: &Context,
    backfill: &Registered,
) -> Result<Exit, CommandError> {
    let d = backfill.definition();
    let report = pool.verify(d).await?;
    let clean = report.missing == 0 && report.extra == 0 && report.different == 0;
    tracing::info!(
        target: "backfill::cli",
        job = d.job,
        target_rows = report.target_rows,
        source_keys = report.source_keys,
        missing = report.missing,
        extra = report.extra,
        different = report.different,
        "verify finished"
    );
    ctx.out(&verify_text(d, &report, clean, &ctx.program));
    Ok(if clean { Exit::Done } else { Exit::Differences })
}

fn verify_text(d: &Definition, report: &VerifyReport, clean: bool, program: &str) -> String {
    let mut out = format!(
        "verify {} ({}): {} rows in the table, {} distinct keys in the source\n",
        d.name,
        d.table,
        format::count(report.target_rows),
        format::count(report.source_keys)
    );
    let samples = |keys: &[Key]| -> String {
        if keys.is_empty() {
            String::new()
        } else {
            let shown: Vec<String> = keys.iter().map(Key::to_string).collect();
            format!(" (e.g. {})", shown.join(", "))
        }
    };
    out.push_str(&format!(
        "  missing:   {}{}\n",
        format::count(report.missing),
        samples(&report.missing_samples)
    ));
    out.push_str(&format!(
        "  different: {}{}\n",
        format::count(report.different),
        samples(&report.different_samples)
    ));
    out.push_str(&format!(
        "  extra:     {}{}\n",
        format::count(report.extra),
        samples(&report.extra_samples)
    ));
    if clean {
        out.push_str("ok: the table matches its source");
    } else {
        out.push_str(&format!(
            "differences found: recompute every key with `{program} run {} --restart`",
            d.name
        ));
        if report.extra > 0 {
            out.push_str(&format!(
                "; extra keys are not deleted by default: add --delete-extra to that run to delete the rows of {} whose key no source row produces",
                d.table
            ));
        }
    }
    out
}

/// `reset`: forgets the job's progress after a confirmation.
pub(crate) async fn reset<P: BackfillPool>(
    pool: &P,
    ctx: &Context,
    backfill: &Registered,
    job: Option<&str>,
    yes: bool,
) -> Result<Exit, CommandError> {
    let d = backfill.definition();
    let name = job_name(d, job);
    if !yes {
        let question = format!(
            "reset job {name} in {} on {}? its next run starts over from the first key (the table {} is not touched) [y/N] ",
            ctx.progress_table,
            ctx.shown_url(),
            d.table
        );
        if !confirm(&question)? {
            return Err(CommandError::failed(format!(
                "reset of job {name} cancelled: not confirmed (answer y, or pass --yes)"
            )));
        }
    }
    let options = base_options(ctx, job);
    if pool.reset(d, &options).await? {
        ctx.out(&format!(
            "reset job {name}: the next run starts from the first key (the table {} was not touched)",
            d.table
        ));
    } else {
        ctx.out(&format!(
            "job {name} has no progress in {}: nothing to reset",
            ctx.progress_table
        ));
    }
    Ok(Exit::Done)
}

/// `pause`, `resume`, `rate` and `workers`: changes the job's rows in the progress table; every
/// worker of every process obeys at its next batch boundary.
pub(crate) async fn control<P: BackfillPool>(
    pool: &P,
    ctx: &Context,
    backfill: &Registered,
    job: Option<&str>,
    control: Control,
) -> Result<Exit, CommandError> {
    let d = backfill.definition();
    let name = job_name(d, job);
    let options = base_options(ctx, job);
    if !pool.control(d, &options, control).await? {
        return Err(CommandError::failed(format!(
            "job {name} has no progress in {}: start it with `run {}` first (pause, resume, rate and workers act on a job that has run)",
            ctx.progress_table, d.name
        )));
    }
    ctx.out(&match control {
        Control::Pause => format!(
            "paused job {name}: every worker waits after its batch in flight (`resume {}` to go on)",
            d.name
        ),
        Control::Resume => format!("resumed job {name}: every worker goes on at its next look"),
        Control::Rate(Some(rows)) => format!(
            "job {name} now writes at most {} rows per second, over all its workers",
            format::count(rows)
        ),
        Control::Rate(None) => format!(
            "lifted the rate limit set from outside on job {name} (a run's own --max-rows-per-sec still holds)"
        ),
        Control::Workers(Some(k)) => format!(
            "job {name} now runs at most {k} {} at once, over every process: the others wait at their next batch boundary; raising it beyond the workers started runs no more (start more processes, or a larger --workers)",
            if k == 1 { "worker" } else { "workers" }
        ),
        Control::Workers(None) => format!(
            "lifted the worker limit of job {name}: every worker started goes on at its next look"
        ),
    });
    Ok(Exit::Done)
}

/// Asks on stderr, reads one line from stdin; only `y`/`yes` confirms.
fn confirm(question: &str) -> Result<bool, CommandError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        eprintln!("{question}(reading the answer from stdin)");
    } else {
        eprint!("{question}");
        let _ = std::io::stderr().flush();
    }
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer).map_err(|e| {
        CommandError::usage(format!("cannot read the confirmation from stdin: {e}"))
    })?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::KeyValue;

    #[test]
    fn verify_says_how_to_repair() {
        static DEF: Definition = Definition {
            name: "UserStats",
            table: "user_stats",
            from: "events",
            in_place: false,
            filter: None,
            job: "user_stats",
            batch_size: None,
            write_once: false,
            allow_other_unique_keys: false,
            grouped: true,
            key: &[],
            columns: &[],
            postgres: None,
            mysql: None,
            sqlite: None,
            schema: &[],
            strategy: crate::definition::Strategy::Auto,
        };
        let report = VerifyReport {
            target_rows: 10,
            source_keys: 11,
            missing: 1,
            different: 2,
            missing_samples: vec![Key(vec![KeyValue::Int(7)])],
            ..VerifyReport::default()
        };
        let text = verify_text(&DEF, &report, false, "service");
        assert!(text.contains("missing:   1 (e.g. 7)"), "{text}");
        assert!(text.contains("different: 2\n"), "{text}");
        assert!(
            text.contains("recompute every key with `service run UserStats --restart`"),
            "{text}"
        );
        let clean = verify_text(&DEF, &VerifyReport::default(), true, "service");
        assert!(
            clean.ends_with("ok: the table matches its source"),
            "{clean}"
        );
        let missing = sql(&DEF, &[Engine::MySql]).unwrap_err();
        assert_eq!(missing.exit, Exit::Usage);
        assert!(missing
            .message
            .contains("UserStats was not generated for MySQL/MariaDB"));
    }
}
