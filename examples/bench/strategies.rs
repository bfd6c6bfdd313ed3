//! The strategies scenario (`--scenario strategies`, issue 13 item 4): how each way of reading
//! the source does against the best single statement, on one engine per invocation.
//!
//! - The limit, two ways: the generated single statement (`Statements::upsert_all`) with the
//!   optimizer's plan, and with a full scan of `events` forced (PostgreSQL `SET
//!   enable_indexscan = off; SET enable_bitmapscan = off` on its connection; MariaDB
//!   `IGNORE INDEX (events_user_id)` spliced after the table in its FROM; SQLite `NOT
//!   INDEXED`). The faster of the two is "the limit" every ratio is to.
//! - `Strategy::Ranges` (default options), the same with the covering index `plan`
//!   recommends (created before the run and dropped after it, both untimed; on PostgreSQL its
//!   DDL ends with a VACUUM so the index-only scans skip the heap), `Strategy::Scan` (default
//!   adaptive chunks) and the default options (`auto`) with no covering index. Every target is
//!   checked against the limit's.
//! - What `plan` and `access_path` say (strategy, reason, verdict) without and with the index.
//!
//! On PostgreSQL and MySQL/MariaDB it runs twice, each a section of its own: on the shared
//! server (`ENGINE-strategies`) and on a scratch server with a 16 MB buffer cache started by the
//! bench (`scratch.rs`; `ENGINE-strategies-small-cache`), where the 2M events are several times
//! larger than the engine's cache. SQLite runs once (`sqlite-strategies`).

use std::fmt::Write as _;

use backfill::sqlx;
use backfill::{BackfillPool, Engine, Report, RunOptions, SourceAccess, Strategy};

use crate::args::{Args, Scratch as Where};
use crate::benchmarks_md::{section_id, write_section};
use crate::db::{on_pool, own_sql, Db};
use crate::measure::median;
use crate::report::{git_commit, mib, thousands};
use crate::scratch::{os_cached_bytes, Scratch, SCRATCH_CACHE};
use crate::upsert::{capped, Bench, Figure, Opened, Sample, UserStats};
use crate::BoxError;

/// The figures, in the order of the first round (later rounds rotate the middle three, see
/// [`rotated`]): the covering index last, so auto and the others never see it.
pub(crate) const FIGURES: [Figure; 6] = [
    Figure::Limit,
    Figure::LimitFullScan,
    Figure::Ranges,
    Figure::Scan,
    Figure::Auto,
    Figure::RangesCovered,
];

/// The covering index of `Figure::RangesCovered`: its DDL, and whether `plan` recommended it.
#[derive(Debug, Clone)]
pub(crate) struct Covering {
    pub(crate) create: Vec<String>,
    pub(crate) drop: String,
    pub(crate) recommended: bool,
}

impl Covering {
    /// The index the access path recommends, else the equivalent written here.
    fn from_access(engine: Engine, access: &SourceAccess) -> Covering {
        let recommended = access
            .analysed()
            .and_then(|path| path.covering_index.as_ref());
        let name = recommended.map_or("events_user_id_covering".to_string(), |i| i.name.clone());
        let drop = match engine {
            Engine::MySql => format!("DROP INDEX `{name}` ON events"),
            _ => format!("DROP INDEX IF EXISTS \"{name}\""),
        };
        match recommended {
            Some(index) => Covering {
                create: index.ddl.clone(),
                drop,
                recommended: true,
            },
            None => Covering {
                create: match engine {
                    Engine::Postgres => vec![
                        format!(
                            "CREATE INDEX {name} ON events (user_id) INCLUDE (amount, created_at)"
                        ),
                        "VACUUM (ANALYZE) events".to_string(),
                    ],
                    _ => vec![format!(
                        "CREATE INDEX {name} ON events (user_id, amount, created_at)"
                    )],
                },
                drop,
                recommended: false,
            },
        }
    }
}

/// What `plan` and `access_path` said, as the section prints it.
struct PlanSeen {
    strategy: Strategy,
    reason: String,
    verdict: String,
    range_read: String,
    /// The access path's whole text, for the console.
    text: String,
    /// The source's size and the cache, one line.
    size: String,
}

impl Db {
    async fn plan_seen(&self) -> Result<(PlanSeen, SourceAccess), BoxError> {
        let def = UserStats::definition();
        let options = RunOptions::default();
        let plan = on_pool!(self, p => p.plan(def, &options).await)?;
        let access = on_pool!(self, p => p.access_path(def, &options).await)?;
        let (verdict, range_read, size) = match access.analysed() {
            Some(path) => {
                let text = path.to_string();
                let pick = |label: &str| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(label).map(|v| v.trim().to_string()))
                        .unwrap_or_default()
                };
                (
                    path.verdict.to_string(),
                    path.read_plan.access.to_string(),
                    format!("{}; {}", pick("size:"), pick("buffer cache:")),
                )
            }
            None => (
                access.to_string().trim().to_string(),
                "–".into(),
                "–".into(),
            ),
        };
        Ok((
            PlanSeen {
                strategy: plan.strategy,
                reason: plan.strategy_reason,
                verdict,
                range_read,
                text: access.to_string(),
                size,
            },
            access,
        ))
    }

    /// InnoDB's reads of pages into its buffer pool (`Innodb_buffer_pool_reads`, server-wide);
    /// `None` on other engines.
    pub(crate) async fn pool_reads(&self) -> Option<i64> {
        match self {
            Db::MySql(p) => sqlx::query_scalar::<_, String>(
                "SELECT CAST(VARIABLE_VALUE AS CHAR) FROM information_schema.GLOBAL_STATUS \
                 WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_READS'",
            )
            .fetch_one(p)
            .await
            .ok()?
            .parse()
            .ok(),
            _ => None,
        }
    }

    /// Pages read into the buffer pool since `before` (a reading of [`Db::pool_reads`]).
    pub(crate) async fn pool_reads_since(&self, before: Option<i64>) -> Option<i64> {
        self.pool_reads()
            .await
            .zip(before)
            .map(|(now, then)| now - then)
    }
}

/// The limit's statement with a full scan of `events` forced by a hint, where the engine takes
/// one in the statement (MariaDB, SQLite); PostgreSQL's is set on the connection instead.
fn full_scan_sql(engine: Engine, upsert_all: &str) -> Result<String, BoxError> {
    let hint = match engine {
        Engine::Postgres => return Ok(upsert_all.to_string()),
        Engine::MySql => " FROM events IGNORE INDEX (events_user_id) ",
        Engine::Sqlite => " FROM events NOT INDEXED ",
    };
    if upsert_all.matches(" FROM events ").count() != 1 {
        return Err(
            format!("expected one ` FROM events ` in the single statement: {upsert_all}").into(),
        );
    }
    Ok(upsert_all.replacen(" FROM events ", hint, 1))
}

/// How the full scan is forced, for the table.
pub(crate) fn full_scan_how(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "`SET enable_indexscan = off; SET enable_bitmapscan = off`",
        Engine::MySql => "`IGNORE INDEX (events_user_id)`",
        Engine::Sqlite => "`NOT INDEXED`",
    }
}

impl Bench {
    /// The limit's statement with a full scan forced, into an empty target.
    pub(crate) async fn limit_full_scan(&mut self) -> Result<Sample, BoxError> {
        let sql = full_scan_sql(self.args.engine, self.upsert_all)?;
        self.empty_target().await?;
        self.quiesce().await?;
        let reads_before = self.db.pool_reads().await;
        let db = self.db.clone();
        let cap = self.args.cap;
        let (written, t) = self
            .timed(capped(cap, async move {
                match &db {
                    Db::Postgres(p) => {
                        let mut conn = p.acquire().await?;
                        sqlx::raw_sql("SET enable_indexscan = off; SET enable_bitmapscan = off")
                            .execute(&mut *conn)
                            .await?;
                        let written = sqlx::query(own_sql(sql.as_str()))
                            .execute(&mut *conn)
                            .await
                            .map(|r| r.rows_affected());
                        sqlx::raw_sql("RESET enable_indexscan; RESET enable_bitmapscan")
                            .execute(&mut *conn)
                            .await?;
                        written
                    }
                    _ => db.exec(&sql, &[]).await,
                }
            }))
            .await?;
        let Some(written) = written else {
            println!("    stopped at --cap-secs: the forced full scan is slower than that");
            return Ok(self.capped_sample(t.elapsed));
        };
        let written = written?;
        let reads = self.db.pool_reads_since(reads_before).await;
        let sum = self.db.checksum(self.sql.page).await?;
        match self.reference {
            // The optimizer's plan was stopped at the cap: this statement's target is the
            // reference.
            None => self.reference = Some(sum),
            Some(reference) => self.check(Figure::LimitFullScan, reference, sum),
        }
        Ok(Sample {
            elapsed: t.elapsed,
            rows: sum.rows,
            written,
            batches: Some(1),
            rss_kib: t.rss_kib,
            wal_bytes: t.wal_bytes,
            cpu: t.cpu,
            load: t.load,
            report: None,
            pool_reads: reads,
            capped: false,
        })
    }

    /// `Strategy::Ranges` with the covering index: created, the run, dropped.
    pub(crate) async fn ranges_covered(&mut self) -> Result<Sample, BoxError> {
        let covering = self.covering.clone().ok_or("no covering index to create")?;
        let create: Vec<&str> = covering.create.iter().map(String::as_str).collect();
        self.db.exec_all(&create).await?;
        let options = RunOptions::default().strategy(Strategy::Ranges);
        let sample = self.backfill(Figure::RangesCovered, options, true).await;
        self.db.exec_all(&[covering.drop.as_str()]).await?;
        sample
    }
}

/// `FIGURES` for round `round`: the single statements first (the first is every run's
/// reference), then ranges, scan and auto rotated by the round, then the covering index (its
/// DDL last).
fn rotated(round: usize) -> Vec<Figure> {
    let mut middle = vec![Figure::Ranges, Figure::Scan, Figure::Auto];
    let len = middle.len();
    middle.rotate_left(round % len);
    let mut order = vec![Figure::Limit, Figure::LimitFullScan];
    order.extend(middle);
    order.push(Figure::RangesCovered);
    debug_assert!(FIGURES.iter().all(|f| order.contains(f)));
    order
}

/// Which server a part of the scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Shared,
    Scratch,
}

/// Runs the scenario on the engine's shared server and (PostgreSQL, MySQL) a scratch server
/// with a small cache, as `--scratch` says; `Ok(false)` when a target was wrong.
pub(crate) async fn run(args: Args, load_average: Option<String>) -> Result<bool, BoxError> {
    let servers: &[Server] = match (args.engine, args.scratch) {
        (Engine::Sqlite, _) | (_, Where::Skip) => &[Server::Shared],
        (_, Where::Only) => &[Server::Scratch],
        (_, Where::With) => &[Server::Shared, Server::Scratch],
    };
    let mut ok = true;
    for &server in servers {
        ok &= run_on(&args, server, load_average.clone()).await?;
    }
    Ok(ok)
}

async fn run_on(
    args: &Args,
    server: Server,
    load_average: Option<String>,
) -> Result<bool, BoxError> {
    let engine = args.engine;
    let scratch = match server {
        Server::Scratch => {
            println!(
                "starting a scratch {} server with a {SCRATCH_CACHE} buffer cache ...",
                engine.name()
            );
            Some(Scratch::start(engine)?)
        }
        Server::Shared => None,
    };
    let dir = tempfile::tempdir()?;
    let db = match &scratch {
        Some(s) => Db::connect_to(engine, &s.url, dir.path()).await?,
        None => Db::connect(engine, dir.path()).await?,
    };
    let Opened {
        mut bench,
        version,
        settings,
        null_events,
    } = Bench::open(args.clone(), db).await?;
    if args.drop_os_cache {
        bench.os_cache_dir = scratch.as_ref().map(|s| s.data_dir.clone());
    }
    // Each run starts with `events` just read into the cache in stored order (`Db::warm`):
    // with a cache smaller than the source and its indexes, a run otherwise inherits what the
    // figure before it left (on MariaDB with a 128 MB pool, auto, which runs the scan's
    // statements, took 1.17x the scan's time over 5 rotated rounds: it followed the scan,
    // whose staging writes evict `events`, in 4 of them, and read 8,701 pages into the pool
    // against the scan's 1,017; with a plain read before each run, 1.11x, 5,738 pages against
    // 200, as InnoDB keeps a plain scan's pages out of the young sublist).
    bench.warm_source = match engine {
        Engine::Postgres => Some("SELECT count(*) FROM (SELECT sum(amount) FROM events) AS w"),
        Engine::MySql => {
            Some("SELECT count(*) FROM (SELECT sum(amount) FROM events FORCE INDEX (PRIMARY)) AS w")
        }
        Engine::Sqlite => None,
    };

    let (without, access) = bench.db.plan_seen().await?;
    println!(
        "plan, no covering index: strategy {:?}: {}\n{}",
        without.strategy, without.reason, without.text
    );
    let covering = Covering::from_access(engine, &access);
    let create: Vec<&str> = covering.create.iter().map(String::as_str).collect();
    bench.db.exec_all(&create).await?;
    let (with, _) = bench.db.plan_seen().await?;
    bench.db.exec_all(&[covering.drop.as_str()]).await?;
    println!(
        "plan, with {}: strategy {:?}: {}\n{}",
        covering.create.join("; "),
        with.strategy,
        with.reason,
        with.text
    );
    bench.covering = Some(covering);

    // Each round runs ranges, scan and auto in a rotated order: a run leaves the buffer cache
    // to the next (the scan's staging writes evict the source), and a fixed order charged that
    // to the same figure every round (MariaDB: auto after the scan read 5x its pages).
    bench.run_rounds(rotated).await?;

    let cached = bench.os_cache_dir.as_deref().and_then(|d| {
        crate::scratch::drop_os_cache(d).ok()?;
        os_cached_bytes(d)
    });
    let section = bench.strategies_section(&Heading {
        version,
        settings,
        null_events,
        server,
        load_average,
        without,
        with,
        cached,
    });
    println!("\n{section}");
    if !bench.args.keep {
        bench.db.exec_all(&[bench.sql.teardown]).await?;
    }
    bench.db.close().await;
    drop(scratch);
    if !bench.failures.is_empty() {
        eprintln!("FAILED: a run produced a wrong target; nothing was written:");
        for failure in &bench.failures {
            eprintln!("  - {failure}");
        }
        return Ok(false);
    }
    if let Some(path) = &bench.args.output {
        let suffix = match server {
            Server::Shared => "strategies",
            Server::Scratch => "strategies-small-cache",
        };
        let id = format!("{}-{suffix}", section_id(engine, bench.args.events));
        write_section(path, &id, &section)?;
        println!("wrote the section {id} of {}", path.display());
    }
    Ok(true)
}

/// What the section says besides the samples.
struct Heading {
    version: String,
    settings: String,
    null_events: i64,
    server: Server,
    load_average: Option<String>,
    without: PlanSeen,
    with: PlanSeen,
    /// The scratch server's files in the OS page cache right after an eviction, and their size.
    cached: Option<(u64, u64)>,
}

impl Bench {
    fn strategies_section(&self, h: &Heading) -> String {
        let engine = self.args.engine;
        let mut s = String::new();
        let title = match (engine, h.server) {
            (Engine::Sqlite, _) => "SQLite".to_string(),
            (_, Server::Shared) => format!("{} (the shared server)", h.version),
            (_, Server::Scratch) => format!(
                "{} (a scratch server with a {SCRATCH_CACHE} buffer cache: larger than memory)",
                h.version
            ),
        };
        let _ = writeln!(
            s,
            "## Strategies on {title}: {} events over {} users\n",
            thousands(self.args.events as u64),
            thousands(self.args.users as u64)
        );
        let _ =
            writeln!(
            s,
            "{}; {} cores; {} events with a NULL user; median of {} per figure, interleaved, one \
             process, one run of the bench (`--scenario strategies`); {}{}; load average {} \
             before the run.\n",
            h.version,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            thousands(h.null_events as u64),
            self.args.repeat,
            chrono::Utc::now().format("%Y-%m-%d"),
            git_commit().map(|c| format!(", commit {c}")).unwrap_or_default(),
            h.load_average.as_deref().unwrap_or("n/a"),
        );
        let _ = writeln!(
            s,
            "Server settings: {}. Source: {}.\n",
            h.settings, h.without.size
        );

        let rate = |f| self.median_rate(f).unwrap_or(f64::NAN);
        let (limit, limit_is) = self.best_limit();
        let pool_reads = engine == Engine::MySql;
        let _ = writeln!(
            s,
            "| figure | runs | median time | rows/s | × limit | read with | batches | chunks | partials written | partials phase |{} peak RSS |",
            if pool_reads { " pages read into the buffer pool |" } else { "" }
        );
        let _ = writeln!(
            s,
            "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|{}---:|",
            if pool_reads { "---:|" } else { "" }
        );
        for figure in FIGURES {
            let list = self.samples(figure);
            let Some(elapsed) = median(list.iter().map(|x| x.elapsed)) else {
                continue;
            };
            let label = match figure {
                Figure::Limit => "single statement, optimizer's plan".to_string(),
                Figure::LimitFullScan => {
                    format!(
                        "single statement, full scan forced ({})",
                        full_scan_how(engine)
                    )
                }
                Figure::RangesCovered => {
                    let c = self.covering.as_ref();
                    format!(
                        "ranges with the covering index (`{}`{})",
                        c.map_or(String::new(), |c| c.create[0].clone()),
                        if c.is_some_and(|c| c.recommended) {
                            ", as plan recommends"
                        } else {
                            ""
                        }
                    )
                }
                f => f.label(self.args.hand_loop),
            };
            let read_with: Vec<String> = {
                let mut v: Vec<String> = list
                    .iter()
                    .filter_map(|x| x.report.as_ref().map(|r| r.strategy.name().to_string()))
                    .collect();
                v.dedup();
                v
            };
            let scans: Vec<_> = list
                .iter()
                .filter_map(|x| x.report.as_ref()?.scan.clone())
                .collect();
            let over = if list.iter().any(|x| x.capped) {
                "> "
            } else {
                ""
            };
            let under = if list.iter().any(|x| x.capped) {
                "< "
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "| {label} | {} | {over}{:.2} s | {under}{} | {under}{:.2}× | {} | {} | {} | {} | {} |{} {} |",
                list.len(),
                elapsed.as_secs_f64(),
                thousands(rate(figure).round() as u64),
                rate(figure) / limit,
                if list.iter().any(|x| x.capped) && read_with.is_empty() {
                    "– (stopped)".to_string()
                } else if read_with.is_empty() {
                    "one statement".to_string()
                } else {
                    read_with.join(", ")
                },
                median(list.iter().filter_map(|x| x.batches)).map_or("–".to_string(), thousands),
                median(scans.iter().map(|x| x.chunks)).map_or("–".to_string(), thousands),
                median(scans.iter().map(|x| x.partials_written)).map_or("–".to_string(), thousands),
                median(scans.iter().map(|x| x.partials_elapsed))
                    .map_or("–".to_string(), |d| format!("{:.2} s", d.as_secs_f64())),
                if pool_reads {
                    format!(
                        " {} |",
                        median(list.iter().filter_map(|x| x.pool_reads))
                            .map_or("–".to_string(), |n| thousands(n.max(0) as u64))
                    )
                } else {
                    String::new()
                },
                mib(list.iter().filter_map(|x| x.rss_kib).max()),
            );
        }
        let _ =
            writeln!(
            s,
            "\nThe limit is the faster single statement, the one with {limit_is}: {} rows/s. A figure marked \
             `>` was stopped at `--cap-secs` {} (its time a lower bound, its target unchecked). \
             Scan rows: \
             batches are the merge's, chunks and partials the partials phase's (partials = \
             staging rows written, one per key and chunk; the partials phase is its wall time, \
             staging table included, the merge took the rest).{}",
            thousands(limit.round() as u64),
            self.args.cap.map_or("–".to_string(), |c| format!("{} s", c.as_secs())),
            if pool_reads {
                " Pages read into the buffer pool: `Innodb_buffer_pool_reads` over the run \
                 (server-wide), each a read from the OS (page cache or disk)."
            } else {
                ""
            }
        );
        self.strategy_goals(&mut s, h, limit);
        let _ = writeln!(
            s,
            "\nWhat `plan` says (default options; `BackfillPool::plan` and `access_path`):\n"
        );
        for (when, p) in [
            ("without the covering index", &h.without),
            ("with the covering index", &h.with),
        ] {
            let _ = writeln!(
                s,
                "- {when}: strategy **{}**: {}. Access path: {}; range read: {}.",
                p.strategy.name(),
                p.reason,
                p.verdict,
                p.range_read
            );
        }
        if h.server == Server::Scratch {
            let _ = writeln!(
                s,
                "\nBeyond the buffer cache means beyond the engine's own cache: the machine's \
                 RAM holds the scratch server's files in the OS page cache. {}",
                match (self.os_cache_dir.is_some(), h.cached) {
                    (true, Some((cached, size))) => format!(
                        "With `--drop-os-cache` they were evicted from it before every measured \
                         run (`sync`, `dd iflag=nocache count=0`); right after an eviction {} of \
                         their {} were still cached (`fincore`), so the runs read from the disk.",
                        mib(Some(cached / 1024)),
                        mib(Some(size / 1024))
                    ),
                    (true, None) => "`--drop-os-cache` evicted them before every run, unverified (`fincore` failed).".to_string(),
                    (false, _) => "They were not evicted (`--drop-os-cache` not given): reads past the engine's cache came from RAM, not the disk.".to_string(),
                }
            );
        }
        if let Some(reference) = self.reference {
            let _ = writeln!(
                s,
                "\nChecks: every run's target equals the optimizer's-plan statement's ({reference}); \
                 every run started after the previous run's writes were flushed{} (untimed); the \
                 covering index was created before its run and dropped after it (untimed).",
                if self.warm_source.is_some() {
                    " and after one read of `events` in stored order into the cache (on MariaDB \
                     with `innodb_old_blocks_time = 0`, so its pages are made young and evict \
                     what the previous figure left), so each starts with the same cache whatever \
                     ran before it"
                } else {
                    ""
                }
            );
        }
        s
    }

    /// Issue 13's goals from the same medians.
    fn strategy_goals(&self, s: &mut String, h: &Heading, limit: f64) {
        let rate = |f| self.median_rate(f).unwrap_or(f64::NAN);
        let met = |ok: bool| if ok { "met" } else { "**not met**" };
        let (ranges, covered, scan, auto) = (
            rate(Figure::Ranges),
            rate(Figure::RangesCovered),
            rate(Figure::Scan),
            rate(Figure::Auto),
        );
        let _ = writeln!(s, "\nGoals (issue 13), from these medians:\n");
        let _ = writeln!(
            s,
            "- ranges with the covering index ≥ 1.0× the limit: {:.2}× ({})",
            covered / limit,
            met(covered >= limit)
        );
        let scan_ratio = scan / limit;
        if h.server == Server::Scratch {
            let _ = writeln!(
                s,
                "- without it, scan ≥ 0.5× the limit beyond the buffer cache: {scan_ratio:.2}× ({})",
                met(scan_ratio >= 0.5)
            );
        } else {
            let _ = writeln!(
                s,
                "- (the scan's goal, ≥ 0.5×, is for the source larger than the cache; here: {scan_ratio:.2}×)"
            );
        }
        let (better, which, better_figure) = if scan > ranges {
            (scan, Strategy::Scan, Figure::Scan)
        } else {
            (ranges, Strategy::Ranges, Figure::Ranges)
        };
        let _ = writeln!(
            s,
            "- auto no more than 10% slower than the better of ranges and scan ({which}): \
             auto takes {:.2}× its time ({})",
            better / auto,
            met(auto * 1.1 >= better)
        );
        if let Some(paired) = self.paired_line(better_figure, which) {
            let _ = writeln!(s, "{paired}");
        }
    }

    /// Auto against the better strategy round by round (each round ran both, adjacent, after
    /// the same quiesce), the median of those ratios, and what auto spent choosing: the
    /// measure that cancels drift between rounds, which the ratio of the two medians does not.
    fn paired_line(&self, better: Figure, which: Strategy) -> Option<String> {
        let (auto, other) = (self.samples(Figure::Auto), self.samples(better));
        if auto.len() != other.len() || auto.iter().chain(other).any(|x| x.capped) {
            return None;
        }
        let ratios: Vec<f64> = auto
            .iter()
            .zip(other)
            .map(|(a, o)| a.elapsed.as_secs_f64() / o.elapsed.as_secs_f64().max(1e-9))
            .collect();
        let paired = median(ratios.iter().copied())?;
        let reports: Vec<&Report> = auto.iter().filter_map(|a| a.report.as_ref()).collect();
        let choosing = median(
            reports
                .iter()
                .map(|r| r.strategy_elapsed.as_secs_f64() * 1000.0),
        )?;
        let read: Vec<&str> = reports.iter().map(|r| r.strategy.name()).collect();
        let chose = match read.first() {
            Some(&first) if read.iter().all(|r| *r == first) && first == which.name() => format!(
                "auto chose {which} in {choosing:.0} ms (median), the one thing it runs that \
                 {which} does not"
            ),
            Some(&first) if read.iter().all(|r| *r == first) => {
                format!("auto chose {first} in every round, in {choosing:.0} ms (median)")
            }
            _ => format!(
                "auto chose in {choosing:.0} ms (median) and read with {}",
                read.join(", ")
            ),
        };
        Some(format!(
            "  - round by round (each round's auto time over its {which} time: {}): median \
             {paired:.2}× ({}); {chose}",
            ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
            if paired <= 1.1 { "met" } else { "**not met**" }
        ))
    }
}
