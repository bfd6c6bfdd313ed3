//! The scan strategy on every engine (issue 13): the source read in chunks of its primary key,
//! partial aggregates per `(key, chunk)` in a staging table, merged per key range into the
//! target. Each run must land on the single-statement recompute, checksum for checksum, for
//! every aggregate that merges (NULL keys and NULL values included), through SIGKILLs in either
//! phase, and a chunk done again must rewrite its partials, never add to them. `auto` must
//! choose the scan for a scattered source and ranges for one stored in key order.
//!
//! Worker processes are this test binary re-run with `--exact scan_worker_process` and the
//! `BACKFILL_SCAN_WORKER_URL` variable set; without it, that test does nothing.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use backfill::{Backfill, BackfillPool, Engine, Report, RunOptions, StopReason, Strategy};
use common::types::{run_done, run_stopped, verify};
use common::{Db, Pool};

/// Every aggregate the scan merges, over values with NULLs, and expressions over aggregates.
#[derive(Backfill, Debug)]
#[backfill(
    table = "fact_stats",
    from = "facts f LEFT JOIN teams g ON g.id = f.grp",
    filter = "f.kind <> 9",
    strategy = "scan",
    batch_size = 7
)]
pub struct FactStats {
    #[backfill(key, expr = "f.grp")]
    pub grp: i64,
    #[backfill(expr = "count(*)")]
    pub n: i64,
    #[backfill(expr = "count(f.v)")]
    pub n_v: i64,
    #[backfill(expr = "sum(f.v)")]
    pub total: Option<i64>,
    #[backfill(expr = "min(f.v)")]
    pub lo: Option<i64>,
    #[backfill(expr = "max(f.v)")]
    pub hi: Option<i64>,
    #[backfill(expr = "avg(f.v)")]
    pub mean: Option<f64>,
    /// Integer division of a sum: the merged sum keeps the sum's type.
    #[backfill(expr = "coalesce(sum(f.v), 0) / 3 + count(*) * 2")]
    pub mixed: i64,
    #[backfill(expr = "max(f.label)")]
    pub last_label: Option<String>,
    #[backfill(
        postgres = "bool_and(f.flag)",
        mysql = "min(f.flag)",
        sqlite = "min(f.flag)"
    )]
    pub all_flagged: bool,
    #[backfill(
        postgres = "bool_or(NOT f.flag)",
        mysql = "max(NOT f.flag)",
        sqlite = "max(NOT f.flag)"
    )]
    pub any_unflagged: bool,
    #[backfill(expr = "max(g.weight) * count(*)")]
    pub weighted: i64,
}

const FACT_COLUMNS: &[&str] = &[
    "grp",
    "n",
    "n_v",
    "total",
    "lo",
    "hi",
    "mean",
    "mixed",
    "last_label",
    "all_flagged",
    "any_unflagged",
    "weighted",
];

/// [`FactStats`] without its `avg`: every merge reads one partial where a key has one
/// (PostgreSQL).
#[derive(Backfill, Debug)]
#[backfill(
    table = "fact_totals",
    from = "facts f LEFT JOIN teams g ON g.id = f.grp",
    filter = "f.kind <> 9",
    strategy = "scan",
    batch_size = 7
)]
pub struct FactTotals {
    #[backfill(key, expr = "f.grp")]
    pub grp: i64,
    #[backfill(expr = "count(*)")]
    pub n: i64,
    #[backfill(expr = "count(f.v)")]
    pub n_v: i64,
    #[backfill(expr = "sum(f.v)")]
    pub total: Option<i64>,
    #[backfill(expr = "min(f.v)")]
    pub lo: Option<i64>,
    #[backfill(expr = "max(f.v)")]
    pub hi: Option<i64>,
    /// Integer division of a sum: the partial read as the merged sum, of the sum's type.
    #[backfill(expr = "coalesce(sum(f.v), 0) / 3 + count(*) * 2")]
    pub mixed: i64,
    #[backfill(expr = "max(f.label)")]
    pub last_label: Option<String>,
    #[backfill(
        postgres = "bool_and(f.flag)",
        mysql = "min(f.flag)",
        sqlite = "min(f.flag)"
    )]
    pub all_flagged: bool,
    #[backfill(
        postgres = "bool_or(NOT f.flag)",
        mysql = "max(NOT f.flag)",
        sqlite = "max(NOT f.flag)"
    )]
    pub any_unflagged: bool,
    #[backfill(expr = "max(g.weight) * count(*)")]
    pub weighted: i64,
}

const TOTAL_COLUMNS: &[&str] = &[
    "grp",
    "n",
    "n_v",
    "total",
    "lo",
    "hi",
    "mixed",
    "last_label",
    "all_flagged",
    "any_unflagged",
    "weighted",
];

const GROUPS: i64 = 300;

async fn create_facts(db: &Db) {
    let script = match db.engine {
        Engine::Postgres => {
            "CREATE TABLE facts (id BIGINT PRIMARY KEY, grp BIGINT NULL, kind INT NOT NULL, v INT NULL, label TEXT NULL, flag BOOLEAN NOT NULL);
             CREATE TABLE teams (id BIGINT PRIMARY KEY, weight INT NOT NULL);
             CREATE TABLE fact_stats (grp BIGINT PRIMARY KEY, n BIGINT NOT NULL, n_v BIGINT NOT NULL, total BIGINT NULL, lo BIGINT NULL, hi BIGINT NULL, mean DOUBLE PRECISION NULL, mixed BIGINT NOT NULL, last_label TEXT NULL, all_flagged BOOLEAN NOT NULL, any_unflagged BOOLEAN NOT NULL, weighted BIGINT NOT NULL)"
        }
        Engine::MySql => {
            "CREATE TABLE facts (id BIGINT PRIMARY KEY, grp BIGINT NULL, kind INT NOT NULL, v INT NULL, label VARCHAR(40) NULL, flag BOOLEAN NOT NULL) ENGINE=InnoDB;
             CREATE TABLE teams (id BIGINT PRIMARY KEY, weight INT NOT NULL) ENGINE=InnoDB;
             CREATE TABLE fact_stats (grp BIGINT PRIMARY KEY, n BIGINT NOT NULL, n_v BIGINT NOT NULL, total BIGINT NULL, lo BIGINT NULL, hi BIGINT NULL, mean DOUBLE NULL, mixed BIGINT NOT NULL, last_label VARCHAR(40) NULL, all_flagged BOOLEAN NOT NULL, any_unflagged BOOLEAN NOT NULL, weighted BIGINT NOT NULL) ENGINE=InnoDB"
        }
        Engine::Sqlite => {
            "CREATE TABLE facts (id INTEGER PRIMARY KEY, grp INTEGER NULL, kind INTEGER NOT NULL, v INTEGER NULL, label TEXT NULL, flag BOOLEAN NOT NULL);
             CREATE TABLE teams (id INTEGER PRIMARY KEY, weight INTEGER NOT NULL);
             CREATE TABLE fact_stats (grp INTEGER PRIMARY KEY, n INTEGER NOT NULL, n_v INTEGER NOT NULL, total INTEGER NULL, lo INTEGER NULL, hi INTEGER NULL, mean REAL NULL, mixed INTEGER NOT NULL, last_label TEXT NULL, all_flagged BOOLEAN NOT NULL, any_unflagged BOOLEAN NOT NULL, weighted INTEGER NOT NULL)"
        }
    };
    db.exec_all(script).await;
}

/// `rows` facts over `GROUPS` groups, deterministic: some with no group, some values NULL,
/// group 5's values all NULL, group 6's rows all filtered out, group 7 in every chunk.
async fn seed_facts(db: &Db, rows: i64) {
    let teams = db.quote("teams");
    for g in (1..=GROUPS).collect::<Vec<_>>().chunks(200) {
        let values: Vec<String> = g
            .iter()
            .map(|id| format!("({id}, {})", id % 4 + 1))
            .collect();
        db.exec(&format!(
            "INSERT INTO {teams} (id, weight) VALUES {}",
            values.join(", ")
        ))
        .await;
    }
    let mut rng = fastrand::Rng::with_seed(13);
    let ids: Vec<i64> = (1..=rows).collect();
    for chunk in ids.chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|&id| {
                let grp = if id % 53 == 0 {
                    "NULL".to_string()
                } else if id % 29 == 0 {
                    "7".to_string()
                } else {
                    rng.i64(1..=GROUPS).to_string()
                };
                let kind = if grp == "6" { 9 } else { rng.i64(0..12) };
                let v = if grp == "5" || rng.u8(0..10) == 0 {
                    "NULL".to_string()
                } else {
                    rng.i64(-1000..100_000).to_string()
                };
                let label = if rng.bool() {
                    format!("'label {}'", rng.u16(0..500))
                } else {
                    "NULL".to_string()
                };
                let flag = if rng.u8(0..20) == 0 { "false" } else { "true" };
                format!("({id}, {grp}, {kind}, {v}, {label}, {flag})")
            })
            .collect();
        db.exec(&format!(
            "INSERT INTO facts (id, grp, kind, v, label, flag) VALUES {}",
            values.join(", ")
        ))
        .await;
    }
}

/// The tables, and `rows` facts in them (see [`seed_facts`]).
async fn facts(db: &Db, rows: i64) {
    create_facts(db).await;
    seed_facts(db, rows).await;
}

/// The single-statement recompute's checksum of `fact_stats` (the target left empty).
async fn reference(db: &Db) -> (usize, u64) {
    db.recompute_all(FactStats::definition(), "fact_stats")
        .await;
    let expected = checksum(db).await;
    db.exec("DELETE FROM fact_stats").await;
    expected
}

async fn checksum(db: &Db) -> (usize, u64) {
    db.checksum("fact_stats", FACT_COLUMNS, &["grp"]).await
}

async fn table_exists(db: &Db, name: &str) -> bool {
    let sql = match db.engine {
        Engine::Sqlite => format!("SELECT count(*) FROM sqlite_master WHERE name = '{name}'"),
        Engine::Postgres => format!("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{name}'"),
        Engine::MySql => format!("SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{name}'"),
    };
    db.scalar(&sql).await > 0
}

const STAGE: &str = "backfill_stage_fact_stats";

#[tokio::test]
async fn the_scan_equals_the_single_statement_for_every_merged_aggregate() {
    for db in common::engines("scan_equal").await {
        facts(&db, 3_000).await;
        let expected = reference(&db).await;
        assert!(expected.0 > 250, "{}: {expected:?}", db.name());
        let options = RunOptions::default().scan_chunk_rows(97);
        let report = run_done(&db, FactStats::definition(), options).await;
        assert_eq!(report.strategy, Strategy::Scan, "{}", db.name());
        let scan = report.scan.clone().expect("a scan report");
        assert_eq!(
            scan.chunks,
            3_000u64.div_ceil(97),
            "{}: {scan:?}",
            db.name()
        );
        assert_eq!(scan.source_rows, 3_000, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        assert!(
            !table_exists(&db, STAGE).await,
            "{}: the staging table is dropped once merged",
            db.name()
        );
        assert!(
            verify(&db, FactStats::definition()).await.is_clean(),
            "{}",
            db.name()
        );
        // Facts with no group reach the key as NULL: counted and skipped, as by the ranges.
        let null_keys = db
            .scalar("SELECT count(*) FROM facts WHERE grp IS NULL AND kind <> 9")
            .await;
        assert!(null_keys > 40, "{}: {null_keys}", db.name());
        assert_eq!(report.null_keys, null_keys as u64, "{}", db.name());

        // Run again: already done, nothing written, no staging table left behind.
        let again = common::types::run(&db, FactStats::definition(), RunOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        assert_eq!(again.stop, StopReason::AlreadyDone, "{}", db.name());
        assert!(!table_exists(&db, STAGE).await, "{}", db.name());

        // Restarted with adaptive chunks over a changed source: the same as the recompute.
        db.exec("UPDATE facts SET v = v + 1 WHERE id % 3 = 0").await;
        let expected = reference(&db).await;
        let report = run_done(
            &db,
            FactStats::definition(),
            RunOptions::default().restart(true),
        )
        .await;
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}

/// A partials phase of one chunk leaves one partial row per key, and on PostgreSQL the merge
/// reads each key's row without grouping, every merge written as the partial itself; more
/// chunks are merged grouped. Either way, stopped and resumed mid-merge (the resumed run
/// deciding again from the partials job), the table equals the single statement's, and on
/// PostgreSQL the merge inserts into ranges the target does not hold yet.
#[tokio::test]
async fn one_partial_per_key_is_merged_without_grouping() {
    for db in common::engines("scan_one_partial").await {
        facts(&db, 3_000).await;
        let table = match db.engine {
            Engine::MySql => "CREATE TABLE fact_totals (grp BIGINT PRIMARY KEY, n BIGINT NOT NULL, n_v BIGINT NOT NULL, total BIGINT NULL, lo BIGINT NULL, hi BIGINT NULL, mixed BIGINT NOT NULL, last_label VARCHAR(40) NULL, all_flagged BOOLEAN NOT NULL, any_unflagged BOOLEAN NOT NULL, weighted BIGINT NOT NULL) ENGINE=InnoDB",
            Engine::Postgres => "CREATE TABLE fact_totals (grp BIGINT PRIMARY KEY, n BIGINT NOT NULL, n_v BIGINT NOT NULL, total BIGINT NULL, lo BIGINT NULL, hi BIGINT NULL, mixed BIGINT NOT NULL, last_label TEXT NULL, all_flagged BOOLEAN NOT NULL, any_unflagged BOOLEAN NOT NULL, weighted BIGINT NOT NULL)",
            Engine::Sqlite => "CREATE TABLE fact_totals (grp INTEGER PRIMARY KEY, n INTEGER NOT NULL, n_v INTEGER NOT NULL, total INTEGER NULL, lo INTEGER NULL, hi INTEGER NULL, mixed INTEGER NOT NULL, last_label TEXT NULL, all_flagged BOOLEAN NOT NULL, any_unflagged BOOLEAN NOT NULL, weighted INTEGER NOT NULL)",
        };
        db.exec(table).await;
        let def = FactTotals::definition();
        db.recompute_all(def, "fact_totals").await;
        let totals = || db.checksum("fact_totals", TOTAL_COLUMNS, &["grp"]);
        let expected = totals().await;
        assert!(expected.0 > 250, "{}: {expected:?}", db.name());
        db.exec("DELETE FROM fact_totals").await;
        let postgres = db.engine == Engine::Postgres;

        // One chunk, then 3 of the merge's batches (7 keys each); then the rest, resumed.
        let stopped = run_stopped(&db, def, RunOptions::default().max_batches(4)).await;
        let scan = stopped.scan.clone().expect("a scan report");
        assert_eq!(scan.chunks, 1, "{}: {scan:?}", db.name());
        assert_eq!(
            scan.one_partial_per_key,
            postgres,
            "{}: {scan:?}",
            db.name()
        );
        let report = run_done(&db, def, RunOptions::default()).await;
        let scan = report.scan.clone().expect("a scan report");
        assert_eq!(
            scan.one_partial_per_key,
            postgres,
            "{}: {scan:?}",
            db.name()
        );
        assert_eq!(totals().await, expected, "{}", db.name());
        assert!(verify(&db, def).await.is_clean(), "{}", db.name());
        let inserted = stopped.inserted_batches + report.inserted_batches;
        let merged = stopped.batches - 1 + report.batches;
        assert_eq!(inserted, if postgres { merged } else { 0 }, "{}", db.name());

        // Chunks of 97 rows: several partials per key, merged grouped.
        let report = run_done(
            &db,
            def,
            RunOptions::default().restart(true).scan_chunk_rows(97),
        )
        .await;
        let scan = report.scan.clone().expect("a scan report");
        assert!(scan.chunks > 1, "{}: {scan:?}", db.name());
        assert!(!scan.one_partial_per_key, "{}: {scan:?}", db.name());
        assert_eq!(totals().await, expected, "{}", db.name());
        // Every range held its rows already: upserted, and skipped where they match.
        assert_eq!(report.inserted_batches, 0, "{}", db.name());
        assert_eq!(report.rows_written, 0, "{}: nothing changed", db.name());
    }
}

/// The worker process: runs the scan once against the URL it is given and prints its report.
#[tokio::test]
async fn scan_worker_process() {
    let Ok(url) = std::env::var("BACKFILL_SCAN_WORKER_URL") else {
        return;
    };
    let workers = std::env::var("BACKFILL_SCAN_WORKERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let pause = std::env::var("BACKFILL_SCAN_PAUSE_MS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let options = RunOptions::default()
        .scan_chunk_rows(100)
        .workers(workers)
        .pause(Duration::from_millis(pause))
        .max_retries(50)
        .retry_backoff(Duration::from_millis(20));
    common::worker::run(&url, FactStats::definition(), options).await;
}

fn spawn_worker(db: &Db) -> Child {
    spawn_workers(db, 1, 50)
}

/// A worker process running `workers` workers, pausing `pause_ms` between batches.
fn spawn_workers(db: &Db, workers: u32, pause_ms: u64) -> Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "scan_worker_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BACKFILL_SCAN_WORKER_URL", &db.url)
        .env("BACKFILL_SCAN_WORKERS", workers.to_string())
        .env("BACKFILL_SCAN_PAUSE_MS", pause_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a worker process")
}

async fn partials_done(db: &Db) -> bool {
    matches!(job(db, "fact_stats/partials").await, Some((s, _)) if s == "done")
}

/// Runs the job from the start in chunks of 500 rows and stops after 8 batches: the 3,000
/// facts' partials phase done (6 chunks) and the merge under way.
async fn into_the_merge(db: &Db) {
    let options = RunOptions::default()
        .restart(true)
        .scan_chunk_rows(500)
        .max_batches(8);
    run_stopped(db, FactStats::definition(), options).await;
    assert!(partials_done(db).await, "{}: in the merge", db.name());
}

/// The `status` and `batches` of a job's row, or nothing before its first registration.
async fn job(db: &Db, job: &str) -> Option<(String, i64)> {
    if !table_exists(db, "backfill_progress").await {
        return None;
    }
    let rows = db
        .strings(&format!(
            "SELECT status FROM backfill_progress WHERE job = '{job}'"
        ))
        .await;
    let status = rows.into_iter().next()?;
    Some((status, db.progress_i64("batches", job).await))
}

#[tokio::test]
async fn sigkills_in_either_phase_end_identical() {
    for db in common::engines("scan_sigkill").await {
        facts(&db, 6_000).await;
        let expected = reference(&db).await;
        let mut rng = fastrand::Rng::with_seed(11);
        let (mut kills, mut in_partials, mut in_merge) = (0, 0, 0);
        // Twelve kills at random moments in each phase; a worker that should not be killed in
        // the partials phase is let through it and killed in the merge.
        loop {
            let mut child = spawn_worker(&db);
            let merging = partials_done(&db).await;
            let kill = if merging {
                in_merge < 12
            } else {
                in_partials < 12 || in_merge < 12
            };
            if kill {
                if !merging && in_partials >= 12 {
                    while !partials_done(&db).await && child.try_wait().unwrap().is_none() {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                if common::worker::kill_after(&mut child, Duration::from_millis(rng.u64(20..200))) {
                    kills += 1;
                    if partials_done(&db).await {
                        in_merge += 1;
                    } else {
                        in_partials += 1;
                    }
                    continue;
                }
            }
            common::worker::finished(child, db.name());
            break;
        }
        assert!(kills >= 20, "{}: only {kills} kills", db.name());
        assert!(
            in_partials >= 3 && in_merge >= 3,
            "{}: kills in the partials phase {in_partials}, in the merge {in_merge}",
            db.name()
        );
        // Every committed chunk and range moved its cursor once: no range committed twice.
        let (status, chunks) = job(&db, "fact_stats/partials")
            .await
            .expect("the partials job");
        assert_eq!(status, "done", "{}", db.name());
        assert_eq!(chunks, 60, "{}: chunks committed over all lives", db.name());
        let (status, ranges) = job(&db, "fact_stats").await.expect("the merge job");
        assert_eq!(status, "done", "{}", db.name());
        let keys = db.scalar("SELECT count(*) FROM fact_stats").await;
        assert_eq!(
            ranges,
            (keys + 6) / 7,
            "{}: merge ranges committed over all lives",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        assert!(!table_exists(&db, STAGE).await, "{}", db.name());
        eprintln!(
            "{}: survived {kills} SIGKILLs ({in_partials} in the partials phase, {in_merge} in the merge)",
            db.name()
        );
    }
}

/// Both phases of a sharded scan done, each source row read by exactly one committed chunk
/// and each key merged by exactly one committed range.
async fn assert_each_row_and_key_once(db: &Db, rows: i64) {
    for job in ["fact_stats/partials", "fact_stats"] {
        let (all, done) = db.shard_counts(job).await;
        assert_eq!(all, done, "{}: every shard of {job} is done", db.name());
    }
    assert_eq!(
        db.shard_sum("keys", "fact_stats/partials").await,
        rows,
        "{}: the partials shards' source rows add up to the source, no chunk committed twice",
        db.name()
    );
    let keys = db.scalar("SELECT count(*) FROM fact_stats").await;
    assert_eq!(
        db.shard_sum("keys", "fact_stats").await,
        keys,
        "{}: the merge shards' keys add up to the target's, no range committed twice",
        db.name()
    );
}

/// Four workers on both phases of the scan land on the single statement. The partials phase
/// is cut into shards of the chunk column, so its staging table is emptied by the cut: the
/// partials a lost job left behind (its progress rows gone, its staging table kept) must not
/// be merged, though shard 0's first chunk may commit after other shards' chunks.
#[tokio::test]
async fn workers_share_both_phases_of_the_scan() {
    for db in common::engines("scan_workers").await {
        facts(&db, 6_000).await;
        let expected = reference(&db).await;
        if db.engine == Engine::Sqlite {
            let err = common::types::run(
                &db,
                FactStats::definition(),
                RunOptions::default().workers(4),
            )
            .await
            .expect_err("SQLite refuses several workers");
            assert!(err.to_string().contains("one writer"), "{err}");
            assert!(
                !table_exists(&db, STAGE).await,
                "refused before the staging table is made"
            );
            continue;
        }
        // A job lost half-way: three chunks of partials in the staging table, its progress
        // rows deleted.
        run_stopped(
            &db,
            FactStats::definition(),
            RunOptions::default().scan_chunk_rows(500).max_batches(3),
        )
        .await;
        let left = db
            .scalar(&format!("SELECT count(*) FROM {}", db.quote(STAGE)))
            .await;
        assert!(left > 100, "{}: {left} partials left", db.name());
        db.exec("DELETE FROM backfill_progress").await;

        let report = run_done(
            &db,
            FactStats::definition(),
            RunOptions::default().scan_chunk_rows(200).workers(4),
        )
        .await;
        assert_eq!(report.strategy, Strategy::Scan, "{}", db.name());
        let scan = report.scan.clone().expect("a scan report");
        assert_eq!(scan.source_rows, 6_000, "{}: {scan:?}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        assert_each_row_and_key_once(&db, 6_000).await;
        let (partial_shards, _) = db.shard_counts("fact_stats/partials").await;
        let (merge_shards, _) = db.shard_counts("fact_stats").await;
        let status = db
            .status(FactStats::definition(), &RunOptions::default())
            .await
            .expect("the job's status")
            .expect("a job");
        let shown = status.scan.expect("the scan's status").shards;
        assert_eq!(
            shown.len() as i64,
            partial_shards,
            "{}: {shown:?}",
            db.name()
        );
        assert_eq!(
            shown.iter().map(|s| s.keys).sum::<u64>(),
            6_000,
            "{}: status shows the partials shards' source rows",
            db.name()
        );
        assert!(
            partial_shards >= 4 && merge_shards >= 4,
            "{}: {partial_shards} partials shards, {merge_shards} merge shards",
            db.name()
        );
        assert!(!table_exists(&db, STAGE).await, "{}", db.name());
        assert!(
            verify(&db, FactStats::definition()).await.is_clean(),
            "{}",
            db.name()
        );
    }
}

/// Three processes of two workers each on one scan, SIGKILLed again and again in both phases,
/// land on the single statement with no chunk and no range committed twice.
#[tokio::test]
async fn sharded_scan_processes_killed_again_and_again_converge() {
    for db in common::engines("scan_shard_sigkill").await {
        if db.engine == Engine::Sqlite {
            continue;
        }
        facts(&db, 12_000).await;
        let expected = reference(&db).await;
        let mut rng = fastrand::Rng::with_seed(17);
        let mut workers: Vec<Child> = (0..3).map(|_| spawn_workers(&db, 2, 150)).collect();
        let (mut in_partials, mut in_merge) = (0, 0);
        // Twelve kills in each phase; once the partials phase has had its twelve, the workers
        // are let through it.
        while in_partials < 12 || in_merge < 12 {
            tokio::time::sleep(Duration::from_millis(rng.u64(20..150))).await;
            let i = rng.usize(0..workers.len());
            if workers[i].try_wait().expect("poll a worker").is_some() {
                // It finished the job: every other worker will too.
                break;
            }
            let merging = partials_done(&db).await;
            if !merging && in_partials >= 12 {
                continue;
            }
            workers[i].kill().expect("SIGKILL the worker");
            workers[i].wait().expect("reap the worker");
            if merging {
                in_merge += 1;
            } else {
                in_partials += 1;
            }
            workers[i] = spawn_workers(&db, 2, 150);
        }
        for worker in workers {
            common::worker::finished(worker, db.name());
        }
        assert!(
            in_partials + in_merge >= 20 && in_partials >= 3 && in_merge >= 3,
            "{}: kills in the partials phase {in_partials}, in the merge {in_merge}",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        assert_each_row_and_key_once(&db, 12_000).await;
        assert!(!table_exists(&db, STAGE).await, "{}", db.name());
        eprintln!(
            "{}: {} SIGKILLs of 3 processes of 2 workers ({in_partials} in the partials phase, {in_merge} in the merge)",
            db.name(),
            in_partials + in_merge
        );
    }
}

/// The statement of a chunk's partials, its markers filled as the run fills them (the staging
/// table of the job `fact_stats`, the chunk column `id`), the chunk's bounds written in.
/// The statements a run writes the chunk `lo < id <= hi` with, in order: the chunk's partials
/// deleted (where they are inserted; MySQL upserts them and has none), then its partials.
fn chunk_sql(db: &Db, lo: i64, hi: i64) -> Vec<String> {
    let stmts = FactStats::definition()
        .statements(db.engine)
        .expect("generated for every engine");
    let scan = stmts.scan().expect("scan statements");
    [&scan.clear_chunk, &scan.partials.next]
        .into_iter()
        .filter(|stmt| !stmt.sql.is_empty())
        .map(|stmt| {
            let mut sql = stmt
                .sql
                .replace("\u{2}stage\u{2}", STAGE)
                .replace("\u{2}chunk\u{2}", "id");
            // Test only: the bounds are numbers the test chose, written where the run binds
            // them.
            for (i, param) in stmt.params.iter().enumerate() {
                let value = match param {
                    backfill::definition::Param::Cursor(_) => lo,
                    _ => hi,
                };
                sql = match db.engine {
                    Engine::Postgres => sql.replace(&format!("${}", i + 1), &value.to_string()),
                    _ => sql.replacen('?', &value.to_string(), 1),
                };
            }
            sql
        })
        .collect()
}

/// Writes the chunk `lo < id <= hi` again, as a run writes it.
async fn redo_chunk(db: &Db, lo: i64, hi: i64) {
    for sql in chunk_sql(db, lo, hi) {
        db.exec(&sql).await;
    }
}

/// A chunk's partials as stored: key, and every partial, as text.
async fn staged(db: &Db, chunk: i64) -> Vec<String> {
    db.strings(&format!(
        "SELECT {} FROM {STAGE} WHERE chunk = {chunk} ORDER BY k0",
        concat_text(db, &["k0", "p0", "p1", "p2", "p3"])
    ))
    .await
}

fn concat_text(db: &Db, columns: &[&str]) -> String {
    let cast: Vec<String> = columns
        .iter()
        .map(|c| match db.engine {
            Engine::MySql => format!("COALESCE(CAST({c} AS CHAR), 'NULL')"),
            _ => format!("COALESCE(CAST({c} AS TEXT), 'NULL')"),
        })
        .collect();
    match db.engine {
        Engine::MySql => format!("CONCAT_WS('|', {})", cast.join(", ")),
        _ => cast.join(" || '|' || "),
    }
}

#[tokio::test]
async fn a_changed_chunk_done_again_rewrites_its_partials() {
    for db in common::engines("scan_redo").await {
        facts(&db, 3_000).await;
        // Two chunks of 1,000 rows, then stop: the staging table holds their partials.
        let options = RunOptions::default().scan_chunk_rows(1_000).max_batches(2);
        run_stopped(&db, FactStats::definition(), options).await;
        let before = staged(&db, 2_000).await;
        assert!(!before.is_empty(), "{}: chunk 2's partials", db.name());
        // `status` shows the job in its partials phase, with the staging table.
        let status = db
            .status(FactStats::definition(), &RunOptions::default())
            .await
            .unwrap()
            .expect("the job's status");
        assert_eq!(status.state, "running", "{}", db.name());
        let scan = status.scan.expect("the partials phase");
        assert_eq!((scan.chunks, scan.source_rows), (2, 2_000), "{}", db.name());
        assert_eq!(scan.staging_table, STAGE, "{}", db.name());
        assert!(scan.staging_exists, "{}", db.name());

        // The source changes inside chunk 2, and the chunk is done again, twice.
        db.exec("UPDATE facts SET v = 7 WHERE id > 1000 AND id <= 2000 AND id % 5 = 0")
            .await;
        redo_chunk(&db, 1_000, 2_000).await;
        let after = staged(&db, 2_000).await;
        redo_chunk(&db, 1_000, 2_000).await;
        assert_eq!(
            staged(&db, 2_000).await,
            after,
            "{}: done twice, the same",
            db.name()
        );
        assert_eq!(after.len(), before.len(), "{}: no partial added", db.name());
        assert_ne!(
            after,
            before,
            "{}: the new values rewrote the partials",
            db.name()
        );

        // The rest of the job merges them into what the single statement computes now.
        let report = run_done(&db, FactStats::definition(), RunOptions::default()).await;
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        let done = checksum(&db).await;
        assert_eq!(done, reference(&db).await, "{}", db.name());
        let status = db
            .status(FactStats::definition(), &RunOptions::default())
            .await
            .unwrap()
            .expect("the job's status");
        assert_eq!(status.state, "done", "{}", db.name());
        let scan = status.scan.expect("the partials phase");
        assert_eq!(
            (scan.state.as_str(), scan.source_rows),
            ("done", 3_000),
            "{}",
            db.name()
        );
        assert!(!scan.staging_exists, "{}: dropped once merged", db.name());
    }
}

#[tokio::test]
async fn a_staging_table_lost_mid_job_is_noticed_and_its_partials_redone() {
    for db in common::engines("scan_lost").await {
        facts(&db, 3_000).await;
        let expected = reference(&db).await;
        // Lost after the partials phase (the merge has started), then during it: dropped by
        // hand, and (PostgreSQL's unlogged table) emptied as a server crash empties it.
        let losses: &[&str] = match db.engine {
            Engine::Postgres => &["DROP TABLE", "TRUNCATE"],
            _ => &["DROP TABLE"],
        };
        for loss in losses {
            db.exec("DELETE FROM fact_stats").await;
            into_the_merge(&db).await;
            db.exec(&format!("{loss} {STAGE}")).await;
            let report = run_done(&db, FactStats::definition(), RunOptions::default()).await;
            assert_eq!(
                report.scan.as_ref().map(|s| s.source_rows),
                Some(3_000),
                "{}: {loss}: partials redone",
                db.name()
            );
            assert_eq!(checksum(&db).await, expected, "{}: {loss}", db.name());
        }
    }
}

/// A process that starts as another finishes the merge, and drops the staging table, reports
/// the job done: it read the job as merging, found no staging table and made one anew, and
/// only then sees the other's finish; it neither fails on the missing table nor redoes the
/// partials of a finished job. PostgreSQL, where the test orders the two: a transaction it
/// holds open has created the staging table uncommitted, so the run finds none and its own
/// `CREATE` waits until the test has marked the job done and rolled that transaction back.
#[tokio::test]
async fn a_process_starting_as_another_finishes_the_merge_reports_done() {
    for db in common::engines("scan_finish_race").await {
        let Pool::Postgres(pool) = &db.pool else {
            continue;
        };
        facts(&db, 3_000).await;
        into_the_merge(&db).await;
        // The other process's finish, as the run will meet it: the staging table dropped, and
        // made again in a transaction that has not committed.
        db.exec(&format!("DROP TABLE {STAGE}")).await;
        let mut holder = pool.begin().await.unwrap();
        let holder_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *holder)
            .await
            .unwrap();
        sqlx::query(common::test_sql(&format!("CREATE TABLE {STAGE} (x INT)")))
            .execute(&mut *holder)
            .await
            .unwrap();
        let run = tokio::spawn({
            let pool = db.pool.clone();
            async move {
                pool.run_backfill(FactStats::definition(), RunOptions::default())
                    .await
            }
        });
        let waiting = format!(
            "SELECT count(*) FROM pg_stat_activity WHERE {holder_pid} = ANY(pg_blocking_pids(pid))"
        );
        let mut tries = 0;
        while db.scalar(&waiting).await == 0 {
            tries += 1;
            assert!(tries < 400, "the run never waited on the staging table");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        db.exec("UPDATE backfill_progress SET status = 'done' WHERE job = 'fact_stats'")
            .await;
        holder.rollback().await.unwrap();
        let report = run.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.stop, StopReason::AlreadyDone, "{report:?}");
        assert!(report.scan.is_none(), "no partials redone: {report:?}");
        assert!(!table_exists(&db, STAGE).await, "the staging table dropped");
    }
}

/// A job's first chunk replaces whatever the staging table held (a job started over by hand,
/// its progress gone and its staging table left): on PostgreSQL by a new table, written by
/// `CREATE TABLE AS` (which may run in parallel) and renamed over the old one in the chunk's
/// transaction; elsewhere by emptying it.
#[tokio::test]
async fn a_first_chunk_replaces_what_the_staging_table_held() {
    for db in common::engines("scan_first_chunk").await {
        facts(&db, 3_000).await;
        let expected = reference(&db).await;
        let options = RunOptions::default().scan_chunk_rows(1_000).max_batches(2);
        run_stopped(&db, FactStats::definition(), options.clone()).await;
        let two_chunks = db.scalar(&format!("SELECT count(*) FROM {STAGE}")).await;
        let first_chunk = db
            .scalar(&format!(
                "SELECT count(*) FROM {STAGE} WHERE chunk = (SELECT min(chunk) FROM {STAGE})"
            ))
            .await;
        assert!(two_chunks > first_chunk, "{}", db.name());
        let oid =
            "SELECT CAST(CAST(CAST('backfill_stage_fact_stats' AS regclass) AS oid) AS BIGINT)";
        let before = match db.engine {
            Engine::Postgres => Some(db.scalar(oid).await),
            _ => None,
        };
        // The job forgotten, its staging table left with both chunks' partials.
        db.exec("DELETE FROM backfill_progress").await;
        run_stopped(&db, FactStats::definition(), options.max_batches(1)).await;
        assert_eq!(
            db.scalar(&format!("SELECT count(*) FROM {STAGE}")).await,
            first_chunk,
            "{}: only the first chunk's partials",
            db.name()
        );
        if let Some(before) = before {
            assert_ne!(db.scalar(oid).await, before, "a new staging table");
            assert!(!table_exists(&db, &format!("{STAGE}_next")).await);
        }
        run_done(&db, FactStats::definition(), RunOptions::default()).await;
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}

#[tokio::test]
async fn auto_scans_a_scattered_source_beyond_the_cache_and_reads_ranges_otherwise() {
    let auto = || RunOptions::default().strategy(Strategy::Auto);
    for db in common::engines("scan_auto").await {
        facts(&db, 3_000).await;
        if db.engine == Engine::Postgres {
            db.exec("ANALYZE facts").await;
        }
        // Scattered or not, 3,000 rows fit in every engine's cache: ranges, and `plan` says why.
        let plan = db.plan(FactStats::definition(), &auto()).await.unwrap();
        assert_eq!(plan.strategy, Strategy::Ranges, "{}: {plan:?}", db.name());
        let report = run_done(&db, FactStats::definition(), auto()).await;
        assert_eq!(report.strategy, Strategy::Ranges, "{}", db.name());
        assert_eq!(
            report.strategy_reason.as_deref(),
            Some(plan.strategy_reason.as_str())
        );
        assert!(report.scan.is_none(), "{}", db.name());
        // Auto's choice is timed apart from the run; a strategy asked for costs nothing.
        assert!(
            report.strategy_elapsed > std::time::Duration::ZERO,
            "{}: {report:?}",
            db.name()
        );
        let asked = RunOptions::default()
            .strategy(Strategy::Ranges)
            .restart(true);
        let report = run_done(&db, FactStats::definition(), asked).await;
        assert_eq!(
            report.strategy_elapsed,
            std::time::Duration::ZERO,
            "{}: {report:?}",
            db.name()
        );
        assert_eq!(report.strategy_reason, None, "{}", db.name());
        eprintln!(
            "{}: auto on 3,000 rows: {}",
            db.name(),
            plan.strategy_reason
        );
        if db.engine != Engine::Sqlite {
            assert!(
                plan.strategy_reason.contains("fit in")
                    || plan.strategy_reason.contains("stored close to key order"),
                "{}: {}",
                db.name(),
                plan.strategy_reason
            );
            continue;
        }
        // SQLite's cache is 2 MiB by default: 200,000 facts (about 6 MiB) outgrow it.
        db.exec("DELETE FROM facts").await;
        db.exec("DELETE FROM teams").await;
        seed_facts(&db, 200_000).await;
        let expected = reference(&db).await;
        let plan = db.plan(FactStats::definition(), &auto()).await.unwrap();
        assert_eq!(
            plan.strategy,
            Strategy::Scan,
            "{}: {}",
            db.name(),
            plan.strategy_reason
        );
        assert!(
            plan.strategy_reason.contains("scattered"),
            "{}",
            plan.strategy_reason
        );
        let report = run_done(&db, FactStats::definition(), auto().restart(true)).await;
        assert_eq!(report.strategy, Strategy::Scan, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        // The same rows stored in key order: ranges read adjacent pages.
        db.exec("UPDATE facts SET grp = id / 300 + 1 WHERE grp IS NOT NULL")
            .await;
        let plan = db.plan(FactStats::definition(), &auto()).await.unwrap();
        assert_eq!(
            plan.strategy,
            Strategy::Ranges,
            "{}: {}",
            db.name(),
            plan.strategy_reason
        );
        eprintln!(
            "sqlite: auto on 200,000 rows: scan; in key order: {}",
            plan.strategy_reason
        );
    }
}

#[tokio::test]
async fn a_staging_table_of_another_shape_is_refused_and_nothing_is_written() {
    for db in common::engines("scan_shape").await {
        facts(&db, 500).await;
        db.exec(&format!("CREATE TABLE {STAGE} (k0 BIGINT, note TEXT)"))
            .await;
        let error = common::types::run(&db, FactStats::definition(), RunOptions::default())
            .await
            .expect_err("a staging table of another shape");
        common::assert_mentions(
            &db,
            &error,
            &[
                STAGE,
                "another shape",
                "k0, note",
                &format!("DROP TABLE {STAGE}"),
            ],
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM fact_stats").await,
            0,
            "{}",
            db.name()
        );
        assert!(
            job(&db, "fact_stats/partials").await.is_none(),
            "{}",
            db.name()
        );
        // Dropped by the run when asked to start over.
        restarted(&db).await;
    }
}

/// Runs the scan again from the start, to the end: it drops the staging table it finds, and
/// again when the merge is done.
async fn restarted(db: &Db) -> Report {
    let report = run_done(
        db,
        FactStats::definition(),
        RunOptions::default().restart(true),
    )
    .await;
    assert_eq!(report.strategy, Strategy::Scan, "{}", db.name());
    assert!(!table_exists(db, STAGE).await, "{}", db.name());
    report
}

#[tokio::test]
async fn the_staging_table_is_keyed_before_the_merge_and_a_doubled_partial_stops_it() {
    for db in common::engines("scan_key").await {
        facts(&db, 3_000).await;
        let expected = reference(&db).await;
        // Every chunk written, nothing merged: 3 chunks of 1,000 rows (the next run finds no
        // fourth, and goes on to the merge).
        let options = RunOptions::default().scan_chunk_rows(1_000).max_batches(3);
        run_stopped(&db, FactStats::definition(), options).await;
        assert_eq!(
            job(&db, "fact_stats/partials")
                .await
                .map(|(_, batches)| batches),
            Some(3),
            "{}: every chunk written",
            db.name()
        );
        // One partial written twice by hand. MySQL keys the table from the start and refuses
        // it there; PostgreSQL and SQLite key it once the partials are written, and refuse it
        // then, before anything is merged. (Another partial goes, so the rows still number
        // what the partials phase wrote: PostgreSQL redoes the partials of a staging table
        // whose rows do not, as a crash leaves its unlogged table.)
        let first = db.scalar(&format!("SELECT min(chunk) FROM {STAGE}")).await;
        let last = db.scalar(&format!("SELECT max(chunk) FROM {STAGE}")).await;
        let doubled = format!(
            "INSERT INTO {STAGE} SELECT * FROM {STAGE} WHERE chunk = {first} AND k0 = (SELECT min(k0) FROM {STAGE} WHERE chunk = {first})"
        );
        match db.engine {
            Engine::MySql => {
                let refused = db
                    .try_exec(&doubled)
                    .await
                    .expect_err("keyed from the start");
                assert!(
                    refused.to_string().contains("Duplicate"),
                    "mysql: {refused}"
                );
            }
            _ => {
                assert_eq!(db.exec(&doubled).await, 1, "{}", db.name());
                let gone = format!(
                    "DELETE FROM {STAGE} WHERE chunk = {last} AND k0 = (SELECT max(k0) FROM {STAGE} WHERE chunk = {last})"
                );
                assert_eq!(db.exec(&gone).await, 1, "{}", db.name());
                let error = common::types::run(&db, FactStats::definition(), RunOptions::default())
                    .await
                    .expect_err("a doubled partial");
                common::assert_mentions(&db, &error, &[STAGE, "k0, chunk", "restart"]);
                assert_eq!(
                    db.scalar("SELECT count(*) FROM fact_stats").await,
                    0,
                    "{}: nothing merged",
                    db.name()
                );
            }
        }
        // Started over, it ends as the single statement does.
        restarted(&db).await;
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}

/// Facts per label: a text key, whose cursor is not the partials phase's integer chunk.
#[derive(Backfill, Debug)]
#[backfill(
    table = "label_stats",
    from = "facts f",
    filter = "f.label IS NOT NULL"
)]
pub struct LabelStats {
    #[backfill(key, expr = "f.label")]
    pub label: String,
    #[backfill(expr = "count(*)")]
    pub n: i64,
    #[backfill(expr = "sum(f.id)")]
    pub ids: i64,
}

/// A text key: the partials phase's chunks (and shards) are integers of the source's primary
/// key whatever the target's key, and the merge's ranges are the text key's, in both a run of
/// one worker and a run of several.
#[tokio::test]
async fn a_text_key_is_scanned_by_integer_chunks() {
    for db in common::engines("scan_text_key").await {
        if db.engine == Engine::Sqlite {
            // SQLite's staging table cannot carry a text key's collation: refused at compile
            // time (tests/ui/strategy/scan_sqlite_text_key.rs).
            continue;
        }
        create_facts(&db).await;
        let ddl = match db.engine {
            Engine::MySql => "CREATE TABLE label_stats (label VARCHAR(40) PRIMARY KEY, n BIGINT NOT NULL, ids BIGINT NOT NULL)",
            _ => "CREATE TABLE label_stats (label TEXT PRIMARY KEY, n BIGINT NOT NULL, ids BIGINT NOT NULL)",
        };
        db.exec(ddl).await;
        seed_facts(&db, 4_000).await;
        db.recompute_all(LabelStats::definition(), "label_stats")
            .await;
        let expected = db
            .checksum("label_stats", &["label", "n", "ids"], &["label"])
            .await;
        for workers in [1, 3] {
            db.exec("DELETE FROM label_stats").await;
            let options = RunOptions::default()
                .scan_chunk_rows(300)
                .batch_size(40)
                .workers(workers)
                .strategy(Strategy::Scan)
                .restart(true);
            let report = run_done(&db, LabelStats::definition(), options).await;
            let scan = report.scan.clone().expect("a scan report");
            assert_eq!(scan.source_rows, 4_000, "{} {workers}: {scan:?}", db.name());
            assert_eq!(
                db.checksum("label_stats", &["label", "n", "ids"], &["label"])
                    .await,
                expected,
                "{} with {workers} workers",
                db.name()
            );
        }
    }
}

/// Adaptive chunks: a last chunk smaller than the smallest chunk (sixteen source rows per key,
/// at least 10,000 rows) is taken with the one before, so 15,000 rows make one chunk of all of
/// them, not 10,000 and 5,000. And with two workers the partials phase runs the one worker
/// whose chunks fit in the source (a second shard would write a second partial for nearly
/// every key), while the merge runs both.
#[tokio::test]
async fn a_small_last_chunk_is_taken_with_the_one_before() {
    for db in common::engines("scan_small_tail").await {
        facts(&db, 15_000).await;
        let expected = reference(&db).await;
        let workers = if db.engine == Engine::Sqlite { 1 } else { 2 };
        let options = RunOptions::default()
            .scan_chunk_time(Duration::from_millis(1))
            .workers(workers);
        let report = run_done(&db, FactStats::definition(), options).await;
        let scan = report.scan.clone().expect("a scan report");
        assert_eq!(
            (scan.chunks, scan.source_rows),
            (1, 15_000),
            "{}: {scan:?}",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        let plan = |job: &str| {
            format!("SELECT plan FROM backfill_progress WHERE job = '{job}' AND shard = 0")
        };
        assert_eq!(
            db.strings(&plan("fact_stats/partials")).await,
            ["1 worker"],
            "{}",
            db.name()
        );
        if workers > 1 {
            assert_eq!(
                db.strings(&plan("fact_stats")).await,
                ["2 workers"],
                "{}",
                db.name()
            );
        }
    }
}

/// A chunk of the whole source has no count from its bounds: its rows are counted after its
/// write in its transaction, or, with 2 workers, whose partials phase of one shard leaves one
/// idle, beside the write on a second connection of the pool (MariaDB; PostgreSQL writes that
/// chunk on its parallel workers and counts after it), or after it when none comes within 100
/// ms (a pool of two whose other connection the test holds for the first two seconds). Each
/// way the report counts every source row and the target equals the single statement.
#[tokio::test]
async fn a_whole_source_chunk_is_counted_beside_its_write_or_after_it() {
    for db in common::engines("scan_counted").await {
        facts(&db, 15_000).await;
        let expected = reference(&db).await;
        let two = match db.engine {
            Engine::Postgres => Some(Pool::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(&db.url)
                    .await
                    .unwrap(),
            )),
            Engine::MySql => Some(Pool::MySql(
                sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(2)
                    .connect(&db.url)
                    .await
                    .unwrap(),
            )),
            // One writer: one worker.
            Engine::Sqlite => None,
        };
        let mut runs = vec![(&db.pool, 1, "1 worker", false)];
        if let Some(two) = &two {
            runs.push((&db.pool, 2, "2 workers", false));
            runs.push((two, 2, "2 workers, the pool's other connection held", true));
        }
        for (pool, workers, how, hold) in runs {
            let held = if hold {
                // Taken before the run starts, given back two seconds into it.
                let conn: Box<dyn Send> = match pool {
                    Pool::Postgres(p) => Box::new(p.acquire().await.unwrap()),
                    Pool::MySql(p) => Box::new(p.acquire().await.unwrap()),
                    Pool::Sqlite(p) => Box::new(p.acquire().await.unwrap()),
                };
                Some(tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    drop(conn);
                }))
            } else {
                None
            };
            let options = RunOptions::default().restart(true).workers(workers);
            let Ok(result) = tokio::time::timeout(
                Duration::from_secs(60),
                pool.run_backfill(FactStats::definition(), options),
            )
            .await
            else {
                panic!("{}, {how}: the run did not end", db.name())
            };
            let report = result.unwrap_or_else(|e| panic!("{}, {how}: {e}", db.name()));
            if let Some(held) = held {
                held.await.unwrap();
            }
            assert_eq!(report.stop, StopReason::Done, "{}, {how}", db.name());
            let scan = report.scan.clone().expect("a scan report");
            assert_eq!(
                (scan.chunks, scan.source_rows),
                (1, 15_000),
                "{}, {how}: {scan:?}",
                db.name()
            );
            assert_eq!(checksum(&db).await, expected, "{}, {how}", db.name());
            db.exec("DELETE FROM fact_stats").await;
        }
        if let Some(two) = two {
            two.close().await;
        }
    }
}

/// The rows per key a chunk's own primary keys show can mislead: 5,000 facts with sparse ids
/// (100 apart) then 15,000 dense ones make a first chunk of 10,000 rows whose density promises
/// a few hundred rows after it, where 10,000 are left. The chunk bound that many rows further
/// tells, so the chunk is not widened to the end: two chunks of 10,000 rows.
#[tokio::test]
async fn a_chunk_is_widened_only_when_few_rows_are_really_left() {
    for db in common::engines("scan_tail_checked").await {
        facts(&db, 20_000).await;
        db.exec("UPDATE facts SET id = id + 1000000 WHERE id > 5000")
            .await;
        db.exec("UPDATE facts SET id = -id WHERE id <= 5000").await;
        db.exec("UPDATE facts SET id = -id * 100 WHERE id < 0")
            .await;
        let expected = reference(&db).await;
        let options = RunOptions::default().scan_chunk_time(Duration::from_millis(1));
        let report = run_done(&db, FactStats::definition(), options).await;
        let scan = report.scan.clone().expect("a scan report");
        assert_eq!(
            (scan.chunks, scan.source_rows),
            (2, 20_000),
            "{}: {scan:?}",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}

/// Runs `sql` on `pool` from a run's progress callback, on a multi-threaded runtime: the run
/// goes on only once it is committed.
fn exec_from_callback(pool: &common::Pool, sql: &str) {
    let text = common::test_sql(sql);
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(async {
            match pool {
                common::Pool::Postgres(p) => sqlx::query(text).execute(p).await.map(drop),
                common::Pool::MySql(p) => sqlx::query(text).execute(p).await.map(drop),
                common::Pool::Sqlite(p) => sqlx::query(text).execute(p).await.map(drop),
            }
        })
    })
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Rows written during the partials phase above the source's span, as read when the run
/// started, are read too, in chunks no larger than the chunk size: the chunk that reaches the
/// span's end stops there (its rows counted, not bounded by offset), and the new rows after it
/// are bounded as any chunk. 3,000 facts in chunks of 2,000 rows; once the first chunk has
/// committed, 3,000 more are written above them: chunks of 2,000, 1,000 (to the span's end),
/// 2,000 and 1,000 rows, and the target equals the recompute over all 6,000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_written_above_the_span_during_the_scan_are_read_in_bounded_chunks() {
    for db in common::engines("scan_grown_source").await {
        facts(&db, 3_000).await;
        let chunks = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
        let (seen, pool) = (chunks.clone(), db.pool.clone());
        let grow = "INSERT INTO facts (id, grp, kind, v, label, flag) \
                    SELECT id + 3000, grp, kind, v, label, flag FROM facts WHERE id <= 3000";
        let options = RunOptions::default()
            .strategy(Strategy::Scan)
            .scan_chunk_rows(2_000)
            .on_progress(move |p| {
                if !p.job.ends_with("/partials") || p.waiting.is_some() {
                    return;
                }
                let mut seen = seen.lock().unwrap();
                let before: u64 = seen.iter().sum();
                if p.keys > before {
                    seen.push(p.keys - before);
                    if seen.len() == 1 {
                        exec_from_callback(&pool, grow);
                    }
                }
            });
        let report = run_done(&db, FactStats::definition(), options).await;
        let scan = report.scan.clone().expect("a scan report");
        assert_eq!(
            chunks.lock().unwrap().as_slice(),
            [2_000, 1_000, 2_000, 1_000],
            "{}: each chunk's source rows",
            db.name()
        );
        assert_eq!(scan.source_rows, 6_000, "{}: {scan:?}", db.name());
        let got = checksum(&db).await;
        db.exec("DELETE FROM fact_stats").await;
        assert_eq!(got, reference(&db).await, "{}", db.name());
    }
}
