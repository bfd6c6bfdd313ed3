//! Several workers on one job, on PostgreSQL and MariaDB: four workers in one process, three
//! processes SIGKILLed again and again, a worker joining a running job, a killed worker's shard
//! taken over, pause and resume from outside, the rate limit held over every worker, the live
//! limit on workers running batches at once, a batch split after it hit the statement timeout,
//! integer, text and composite keys. Each run must
//! land on the single-statement recompute, table checksum for table checksum, and the shards'
//! key counts must add up to the distinct keys: a range committed twice would count its keys
//! twice. SQLite refuses more than one worker.
//!
//! Worker processes are this test binary re-run with `--exact shard_worker_process` and the
//! `BACKFILL_SHARD_WORKER_URL` variable set; without it, that test does nothing.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backfill::{Backfill, BackfillPool, Control, Engine, Error, RunOptions, StopReason};
use common::scenario::{self, user_stats_checksum as checksum, UserStats};
use common::Db;

/// Per-name totals: a text key.
#[derive(Backfill, Debug)]
#[backfill(table = "name_stats", from = "named_sales s", batch_size = 20)]
pub struct NameStats {
    #[backfill(key, expr = "s.name")]
    pub name: String,
    #[backfill(expr = "count(*)")]
    pub sales: i64,
    #[backfill(expr = "sum(s.amount)")]
    pub total: i64,
}

/// Per-(region, day) totals: a composite key, text first.
#[derive(Backfill, Debug)]
#[backfill(table = "region_days", from = "region_sales s", batch_size = 20)]
pub struct RegionDays {
    #[backfill(key, expr = "s.region")]
    pub region: String,
    #[backfill(key, expr = "s.day")]
    pub day: i64,
    #[backfill(expr = "sum(s.amount)")]
    pub total: i64,
}

/// Per-(day, region) totals: a composite key, integer first.
#[derive(Backfill, Debug)]
#[backfill(table = "day_regions", from = "region_sales s", batch_size = 20)]
pub struct DayRegions {
    #[backfill(key, expr = "s.day")]
    pub day: i64,
    #[backfill(key, expr = "s.region")]
    pub region: String,
    #[backfill(expr = "sum(s.amount)")]
    pub total: i64,
}

/// `full_name` filled in place from the row's own columns: the bounds walk the target's key
/// index by offset.
#[derive(Backfill, Debug)]
#[backfill(table = "people", batch_size = 25)]
pub struct FullName {
    #[backfill(key)]
    pub id: i64,
    #[backfill(
        expr = "first_name || ' ' || last_name",
        mysql = "CONCAT(first_name, ' ', last_name)"
    )]
    pub full_name: Option<String>,
}

const USERS: i64 = 2_400;
const EVENTS: i64 = 12_000;

fn def() -> &'static backfill::Definition {
    UserStats::definition()
}

/// PostgreSQL and MariaDB, each in a fresh namespace named for `test`.
async fn servers(test: &str) -> Vec<Db> {
    let mut dbs = Vec::new();
    if let Some(db) = common::postgres(test).await {
        dbs.push(db);
    }
    if let Some(db) = common::mysql(test).await {
        dbs.push(db);
    }
    dbs
}

/// Seeds the scenario and returns the single-statement recompute's checksum (target empty).
async fn seeded(db: &Db) -> (usize, u64) {
    let expected = scenario::seed_with_reference(db, def(), EVENTS, USERS).await;
    assert_eq!(expected.0, USERS as usize);
    expected
}

/// Every shard done, and the shards' keys adding up to the distinct keys: each key was
/// committed in exactly one batch.
async fn assert_each_key_once(db: &Db, job: &str, keys: i64) {
    let (all, done) = db.shard_counts(job).await;
    assert_eq!(all, done, "{}: every shard of {job} is done", db.name());
    assert_eq!(
        db.shard_sum("keys", job).await,
        keys,
        "{}: the shards' keys add up to the distinct keys, none committed twice",
        db.name()
    );
}

/// The worker process: runs the backfill with the workers and pause it is given.
#[tokio::test]
async fn shard_worker_process() {
    let Ok(url) = std::env::var("BACKFILL_SHARD_WORKER_URL") else {
        return;
    };
    let number = |var: &str, default: u64| {
        std::env::var(var)
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(default)
    };
    let mut options = RunOptions::default()
        .workers(number("BACKFILL_SHARD_WORKERS", 2) as u32)
        .pause(Duration::from_millis(number("BACKFILL_SHARD_PAUSE_MS", 0)))
        .throttle_interval(Duration::from_millis(50))
        .max_retries(50)
        .retry_backoff(Duration::from_millis(20));
    if let Ok(n) = std::env::var("BACKFILL_SHARD_BATCH_SIZE") {
        options = options.batch_size(n.parse().expect("a batch size"));
    }
    if let Ok(k) = std::env::var("BACKFILL_SHARD_MAX_WORKERS") {
        options = options.max_workers(k.parse().expect("a worker limit"));
    }
    common::worker::run(&url, def(), options).await;
}

/// Now, in microseconds since the epoch: one clock for the test and its worker processes.
fn epoch_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_micros() as i64
}

fn spawn_worker(db: &Db, workers: u32, pause_ms: u64) -> Child {
    worker_command(db, workers, pause_ms)
        .spawn()
        .expect("spawn a worker process")
}

/// The command of a worker process, for a test to add variables to.
fn worker_command(db: &Db, workers: u32, pause_ms: u64) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([
            "--exact",
            "shard_worker_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BACKFILL_SHARD_WORKER_URL", &db.url)
        .env("BACKFILL_SHARD_WORKERS", workers.to_string())
        .env("BACKFILL_SHARD_PAUSE_MS", pause_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for a worker process and returns the batches it reported.
fn finished_worker(db: &Db, child: Child) -> u64 {
    let output = child.wait_with_output().expect("the worker's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}: a worker failed:\n{stdout}\n{}",
        db.name(),
        String::from_utf8_lossy(&output.stderr)
    );
    common::worker::batches(&output)
}

fn kill(child: &mut Child) {
    child.kill().expect("SIGKILL the worker");
    child.wait().expect("reap the worker");
}

/// Waits until the job's shards have committed at least `batches` batches (the progress
/// table may not exist yet).
async fn wait_for_batches(db: &Db, batches: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let exists = match db.engine {
            Engine::Postgres => db.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'backfill_progress'").await,
            _ => db.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'backfill_progress'").await,
        };
        if exists > 0 && db.shard_sum("batches", "user_stats").await >= batches {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: no progress in 60 s",
            db.name()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn four_workers_in_one_process_land_on_the_single_statement() {
    for db in servers("shard_four_workers").await {
        let expected = seeded(&db).await;

        let started = Instant::now();
        let one = db
            .run(def(), RunOptions::default().job("one_worker"))
            .await
            .unwrap();
        let one_took = started.elapsed();
        assert_eq!(one.stop, StopReason::Done, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        db.exec("DELETE FROM user_stats").await;

        let started = Instant::now();
        let four = db
            .run(def(), RunOptions::default().workers(4))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        let four_took = started.elapsed();
        assert_eq!(four.stop, StopReason::Done, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        assert_eq!(four.keys, USERS as u64, "{}", db.name());
        let (shards, _) = db.shard_counts("user_stats").await;
        assert!(shards >= 4, "{}: {shards} shards", db.name());
        assert_each_key_once(&db, "user_stats", USERS).await;
        assert_eq!(
            db.shard_sum("batches", "user_stats").await,
            four.batches as i64,
            "{}: the shard rows' batches are the run's",
            db.name()
        );

        let status = db
            .status(def(), &RunOptions::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.state, "done", "{}", db.name());
        assert_eq!(status.shards.len() as i64, shards, "{}", db.name());
        assert_eq!(status.keys, USERS as u64, "{}", db.name());
        assert!(db.verify(def()).await.unwrap().is_clean(), "{}", db.name());

        // A re-run of a finished job of four workers does nothing.
        let again = db
            .run(def(), RunOptions::default().workers(4))
            .await
            .unwrap();
        assert_eq!(again.stop, StopReason::AlreadyDone, "{}", db.name());
        // A restart starts the job over: one shard again, cut anew.
        db.exec("UPDATE user_stats SET event_count = 0 WHERE user_id % 7 = 0")
            .await;
        let restarted = db
            .run(def(), RunOptions::default().workers(4).restart(true))
            .await
            .unwrap();
        assert_eq!(restarted.stop, StopReason::Done, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        assert_each_key_once(&db, "user_stats", USERS).await;
        eprintln!(
            "{}: 1 worker {} batches in {one_took:?}; 4 workers {} batches over {shards} shards ({} splits) in {four_took:?}",
            db.name(),
            one.batches,
            four.batches,
            four.shards_split,
        );
    }
}

/// Creates `named_sales` and `region_sales` with their targets, and fills the sources.
async fn seed_text_keys(db: &Db) {
    let script = match db.engine {
        Engine::Postgres => {
            "CREATE TABLE named_sales (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL, amount BIGINT NOT NULL);
             CREATE TABLE name_stats (name VARCHAR(40) PRIMARY KEY, sales BIGINT NOT NULL, total BIGINT NOT NULL);
             CREATE TABLE region_sales (id BIGINT PRIMARY KEY, region VARCHAR(16) NOT NULL, day BIGINT NOT NULL, amount BIGINT NOT NULL);
             CREATE TABLE region_days (region VARCHAR(16) NOT NULL, day BIGINT NOT NULL, total BIGINT NOT NULL, PRIMARY KEY (region, day));
             CREATE TABLE day_regions (day BIGINT NOT NULL, region VARCHAR(16) NOT NULL, total BIGINT NOT NULL, PRIMARY KEY (day, region))"
        }
        _ => {
            "CREATE TABLE named_sales (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL, amount BIGINT NOT NULL) ENGINE=InnoDB;
             CREATE TABLE name_stats (name VARCHAR(40) PRIMARY KEY, sales BIGINT NOT NULL, total BIGINT NOT NULL) ENGINE=InnoDB;
             CREATE TABLE region_sales (id BIGINT PRIMARY KEY, region VARCHAR(16) NOT NULL, day BIGINT NOT NULL, amount BIGINT NOT NULL) ENGINE=InnoDB;
             CREATE TABLE region_days (region VARCHAR(16) NOT NULL, day BIGINT NOT NULL, total BIGINT NOT NULL, PRIMARY KEY (region, day)) ENGINE=InnoDB;
             CREATE TABLE day_regions (day BIGINT NOT NULL, region VARCHAR(16) NOT NULL, total BIGINT NOT NULL, PRIMARY KEY (day, region)) ENGINE=InnoDB"
        }
    };
    db.exec_all(script).await;
    // Names in mixed case and with spaces, so the collation's order is not the bytes' order.
    let names: Vec<String> = (0..2_000)
        .map(|i| {
            let first = [
                "alma", "Bruno", "chen", "Dana", "émile", "Farid", "gus", "Hana",
            ][i % 8];
            format!("{first} {:04}", (i * 7_919) % 2_000)
        })
        .collect();
    for chunk in (0..6_000usize).collect::<Vec<_>>().chunks(500) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|i| format!("({i}, '{}', {})", names[i % names.len()], i % 97))
            .collect();
        db.exec(&format!(
            "INSERT INTO named_sales (id, name, amount) VALUES {}",
            rows.join(", ")
        ))
        .await;
        let rows: Vec<String> = chunk
            .iter()
            .map(|i| {
                let region = ["north", "South", "east", "West", "ünter", "mid"][i % 6];
                format!("({i}, '{region}', {}, {})", (i * 31) % 400, i % 89)
            })
            .collect();
        db.exec(&format!(
            "INSERT INTO region_sales (id, region, day, amount) VALUES {}",
            rows.join(", ")
        ))
        .await;
    }
}

/// Runs `d` with four workers and compares its table with the single statement's.
async fn four_workers_match(
    db: &Db,
    d: &'static backfill::Definition,
    table: &str,
    key: &[&str],
    columns: &[&str],
) {
    db.recompute_all(d, table).await;
    let expected = db.checksum(table, columns, key).await;
    db.exec(&format!("DELETE FROM {table}")).await;
    let report = db
        .run(d, RunOptions::default().workers(4))
        .await
        .unwrap_or_else(|e| panic!("{}: {}: {e}", db.name(), d.name));
    assert_eq!(report.stop, StopReason::Done, "{}: {}", db.name(), d.name);
    assert_eq!(
        db.checksum(table, columns, key).await,
        expected,
        "{}: {}",
        db.name(),
        d.name
    );
    assert_each_key_once(db, d.job, expected.0 as i64).await;
    let (shards, _) = db.shard_counts(d.job).await;
    assert!(shards >= 2, "{}: {}: {shards} shards", db.name(), d.name);
    eprintln!(
        "{}: {} with 4 workers: {} batches over {shards} shards, {} splits",
        db.name(),
        d.name,
        report.batches,
        report.shards_split
    );
}

#[tokio::test]
async fn text_and_composite_keys_are_sharded() {
    for db in servers("shard_text_keys").await {
        seed_text_keys(&db).await;
        four_workers_match(
            &db,
            NameStats::definition(),
            "name_stats",
            &["name"],
            &["name", "sales", "total"],
        )
        .await;
        four_workers_match(
            &db,
            RegionDays::definition(),
            "region_days",
            &["region", "day"],
            &["region", "day", "total"],
        )
        .await;
        four_workers_match(
            &db,
            DayRegions::definition(),
            "day_regions",
            &["day", "region"],
            &["day", "region", "total"],
        )
        .await;
    }
}

#[tokio::test]
async fn delete_extra_with_workers_deletes_keys_in_every_shard() {
    for db in servers("shard_delete_extra").await {
        let expected = seeded(&db).await;
        // Target keys no source row produces: below the first key (the first shard), above
        // the last (the last shard), and 0.
        for id in [-7, -1, 0, 2_401, 2_500, 9_999] {
            db.exec(&format!("INSERT INTO user_stats (user_id, event_count, total_amount, last_seen) VALUES ({id}, 1, 1, '2020-01-01 00:00:00')"))
                .await;
        }
        let report = db
            .run(def(), RunOptions::default().workers(4).delete_extra(true))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert_eq!(report.rows_deleted, 6, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        assert_each_key_once(&db, "user_stats", USERS).await;
    }
}

#[tokio::test]
async fn an_in_place_backfill_is_sharded() {
    for db in servers("shard_in_place").await {
        db.exec("CREATE TABLE people (id BIGINT PRIMARY KEY, first_name VARCHAR(20) NOT NULL, last_name VARCHAR(20) NOT NULL, full_name VARCHAR(50) NULL)")
            .await;
        // 3,000 people with gaps in their ids, so offsets and key widths differ.
        for chunk in (0..3_000i64).collect::<Vec<_>>().chunks(500) {
            let rows: Vec<String> = chunk
                .iter()
                .map(|i| {
                    format!(
                        "({}, 'first{}', 'last{}', NULL)",
                        i * 3 + i % 7,
                        i % 97,
                        i % 89
                    )
                })
                .collect();
            db.exec(&format!("INSERT INTO people VALUES {}", rows.join(", ")))
                .await;
        }
        let columns = ["id", "first_name", "last_name", "full_name"];
        // The reference: the single whole-table UPDATE (recompute_all would empty the table
        // first, as it does for a target filled from another source).
        let d = FullName::definition();
        let stmts = d
            .statements(db.engine)
            .expect("postgres and mysql statements");
        let update = db.pool.executable_sql(d, &stmts.upsert_all).await.unwrap();
        db.exec(&update).await;
        assert_eq!(
            db.scalar("SELECT count(*) FROM people WHERE full_name IS NOT NULL")
                .await,
            3_000,
            "{}",
            db.name()
        );
        let expected = db.checksum("people", &columns, &["id"]).await;
        db.exec("UPDATE people SET full_name = NULL").await;
        let report = db
            .run(FullName::definition(), RunOptions::default().workers(4))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert_eq!(
            db.checksum("people", &columns, &["id"]).await,
            expected,
            "{}",
            db.name()
        );
        assert_each_key_once(&db, "people", 3_000).await;
        assert_eq!(report.keys, 3_000, "{}", db.name());
        let (shards, _) = db.shard_counts("people").await;
        assert!(shards >= 4, "{}: {shards} shards", db.name());
    }
}

#[tokio::test]
async fn processes_killed_with_sigkill_again_and_again_converge() {
    for db in servers("shard_sigkill").await {
        let expected = seeded(&db).await;
        let mut rng = fastrand::Rng::with_seed(11);
        let mut workers: Vec<Child> = (0..3).map(|_| spawn_worker(&db, 2, 300)).collect();
        let mut kills = 0;
        let mut finished = 0;
        while kills < 24 {
            tokio::time::sleep(Duration::from_millis(rng.u64(40..250))).await;
            let i = rng.usize(0..workers.len());
            if workers[i].try_wait().expect("poll a worker").is_some() {
                // It finished the job: every other worker will too.
                finished += 1;
                break;
            }
            kill(&mut workers[i]);
            kills += 1;
            workers[i] = spawn_worker(&db, 2, 300);
        }
        let mut batches = 0;
        for worker in workers {
            batches += finished_worker(&db, worker);
        }
        assert!(
            kills >= 20,
            "{}: only {kills} kills before the job finished",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        assert_each_key_once(&db, "user_stats", USERS).await;
        let committed = db.shard_sum("batches", "user_stats").await;
        assert!(
            committed >= batches as i64,
            "{}: the shard rows count every batch the last processes committed",
            db.name()
        );
        let (shards, _) = db.shard_counts("user_stats").await;
        eprintln!(
            "{}: {kills} SIGKILLs of 3 processes of 2 workers ({finished} early finish); {committed} batches over {shards} shards",
            db.name()
        );
    }
}

#[tokio::test]
async fn a_worker_joins_a_running_job() {
    for db in servers("shard_join").await {
        let expected = seeded(&db).await;
        let first = spawn_worker(&db, 2, 80);
        wait_for_batches(&db, 10).await;
        let joined = db
            .run(def(), RunOptions::default().workers(2))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        assert_eq!(joined.stop, StopReason::Done, "{}", db.name());
        assert!(
            joined.batches > 0,
            "{}: the worker that joined took shards of its own",
            db.name()
        );
        let first_batches = finished_worker(&db, first);
        assert!(first_batches > 0, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        assert_each_key_once(&db, "user_stats", USERS).await;
        assert_eq!(
            db.shard_sum("batches", "user_stats").await,
            (first_batches + joined.batches) as i64,
            "{}: the two processes' batches are the shards' batches",
            db.name()
        );

        // A worker with another plan is refused, naming both.
        db.exec("DELETE FROM backfill_progress").await;
        let partial = db
            .run(def(), RunOptions::default().workers(2).max_batches(2))
            .await
            .unwrap();
        assert_eq!(partial.stop, StopReason::MaxBatches, "{}", db.name());
        let err = db
            .run(def(), RunOptions::default().workers(3))
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("2 workers")
                && message.contains("3 workers")
                && message.contains("user_stats")
                && message.contains("restart"),
            "{}: {message}",
            db.name()
        );
    }
}

#[tokio::test]
async fn a_killed_workers_shard_is_taken_over() {
    for db in servers("shard_takeover").await {
        let expected = seeded(&db).await;
        let mut first = spawn_worker(&db, 4, 100);
        wait_for_batches(&db, 8).await;
        kill(&mut first);
        // The shards the killed process was in the middle of.
        let as_text = match db.engine {
            Engine::Postgres => "CAST(shard AS TEXT)",
            _ => "CAST(shard AS CHAR)",
        };
        let started: Vec<String> = db
            .strings(&format!("SELECT {as_text} FROM backfill_progress WHERE job = 'user_stats' AND status = 'running' AND batches > 0"))
            .await;
        assert!(
            !started.is_empty(),
            "{}: the killed process left shards half done",
            db.name()
        );
        let before = db.shard_sum("batches", "user_stats").await;
        let report = db
            .run(def(), RunOptions::default().workers(4))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        for shard in &started {
            let state = db
                .strings(&format!(
                    "SELECT status FROM backfill_progress WHERE job = 'user_stats' AND shard = {shard}"
                ))
                .await;
            assert_eq!(
                state,
                vec!["done".to_string()],
                "{}: shard {shard}",
                db.name()
            );
        }
        assert_eq!(
            db.shard_sum("batches", "user_stats").await,
            before + report.batches as i64,
            "{}",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        assert_each_key_once(&db, "user_stats", USERS).await;
    }
}

#[tokio::test]
async fn pause_and_resume_reach_every_process() {
    for db in servers("shard_pause").await {
        let expected = seeded(&db).await;
        let workers: Vec<Child> = (0..2).map(|_| spawn_worker(&db, 2, 40)).collect();
        wait_for_batches(&db, 6).await;
        assert!(db
            .pool
            .control(def(), &RunOptions::default(), Control::Pause)
            .await
            .unwrap());
        // The batches in flight finish; then nothing moves.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let paused_at = db.shard_sum("batches", "user_stats").await;
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(
            db.shard_sum("batches", "user_stats").await,
            paused_at,
            "{}: no batch while paused",
            db.name()
        );
        let status = db
            .status(def(), &RunOptions::default())
            .await
            .unwrap()
            .unwrap();
        assert!(status.paused, "{}: status shows the pause", db.name());
        assert_eq!(status.state, "running", "{}", db.name());
        assert!(db
            .pool
            .control(def(), &RunOptions::default(), Control::Resume)
            .await
            .unwrap());
        for worker in workers {
            finished_worker(&db, worker);
        }
        assert!(
            db.shard_sum("batches", "user_stats").await > paused_at,
            "{}",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        assert_each_key_once(&db, "user_stats", USERS).await;
        let status = db
            .status(def(), &RunOptions::default())
            .await
            .unwrap()
            .unwrap();
        assert!(!status.paused, "{}", db.name());
        eprintln!(
            "{}: paused at {paused_at} batches for 2.3 s, resumed, done",
            db.name()
        );

        // A job of one worker obeys the same flag.
        let single = RunOptions::default().job("one_worker_paused");
        db.exec("DELETE FROM user_stats").await;
        let first = db.run(def(), single.clone().max_batches(1)).await.unwrap();
        assert_eq!(first.stop, StopReason::MaxBatches, "{}", db.name());
        assert!(db
            .pool
            .control(def(), &single, Control::Pause)
            .await
            .unwrap());
        let pool = db.pool.clone();
        let options = single.clone().throttle_interval(Duration::from_millis(50));
        let run = tokio::spawn(async move { pool.run_backfill(def(), options).await });
        // Paused for 2 s: with 1 s, a CI run once counted under 0.5 s of it (the run's start,
        // preflight included, beside this binary's other tests); it must still wait 0.5 s.
        tokio::time::sleep(Duration::from_millis(2_000)).await;
        assert_eq!(
            db.shard_sum("batches", "one_worker_paused").await,
            1,
            "{}: no batch while paused",
            db.name()
        );
        assert!(db
            .pool
            .control(def(), &single, Control::Resume)
            .await
            .unwrap());
        let report = run.await.unwrap().unwrap();
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert!(
            report.throttled >= Duration::from_millis(500),
            "{}",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}

#[tokio::test]
async fn the_rate_limit_holds_over_every_worker() {
    for db in servers("shard_rate").await {
        let expected = seeded(&db).await;
        // Register the job (one batch), then limit it from outside.
        let first = db
            .run(def(), RunOptions::default().workers(4).max_batches(1))
            .await
            .unwrap();
        assert_eq!(first.stop, StopReason::MaxBatches, "{}", db.name());
        const RATE: u64 = 1_500;
        assert!(db
            .pool
            .control(def(), &RunOptions::default(), Control::Rate(Some(RATE)))
            .await
            .unwrap());
        let status = db
            .status(def(), &RunOptions::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.max_rows_per_sec, Some(RATE), "{}", db.name());
        // On one connection (its prepared statements cached), the limit lifted and set again:
        // a NULL bound as text once must not break the integer bound next.
        let one = match db.engine {
            Engine::Postgres => backfill::AnyPool::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&db.url)
                    .await
                    .unwrap(),
            ),
            _ => backfill::AnyPool::MySql(
                sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(1)
                    .connect(&db.url)
                    .await
                    .unwrap(),
            ),
        };
        for rate in [None, Some(RATE * 2), None, Some(RATE)] {
            assert!(one
                .control(def(), &RunOptions::default(), Control::Rate(rate))
                .await
                .unwrap_or_else(|e| panic!("{}: rate {rate:?}: {e}", db.name())));
            let status = one
                .status(def(), &RunOptions::default())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(status.max_rows_per_sec, rate, "{}", db.name());
        }
        one.close().await;
        let started = Instant::now();
        let report = db
            .run(def(), RunOptions::default().workers(4))
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        let rate = report.rows_written as f64 / took.as_secs_f64();
        // Loosely: four workers unthrottled write these rows many times faster.
        assert!(
            rate < RATE as f64 * 1.5,
            "{}: {rate:.0} rows/s with a limit of {RATE} over 4 workers",
            db.name()
        );
        assert!(report.throttled > Duration::ZERO, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        eprintln!(
            "{}: 4 workers limited to {RATE} rows/s wrote {} rows in {took:?}: {rate:.0} rows/s",
            db.name(),
            report.rows_written
        );

        // Changed live: the job starts over at 200 rows/s (12 s for its rows), and the limit
        // is lifted from outside after a second and a half; the workers go on at full speed.
        db.exec("DELETE FROM user_stats").await;
        assert!(db
            .pool
            .control(def(), &RunOptions::default(), Control::Rate(Some(200)))
            .await
            .unwrap());
        let started = Instant::now();
        let pool = db.pool.clone();
        let run = tokio::spawn(async move {
            pool.run_backfill(def(), RunOptions::default().workers(4).restart(true))
                .await
        });
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let limited = db.shard_sum("rows_written", "user_stats").await;
        assert!(db
            .pool
            .control(def(), &RunOptions::default(), Control::Rate(None))
            .await
            .unwrap());
        let report = run.await.unwrap().unwrap();
        let took = started.elapsed();
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert!(
            limited < 600,
            "{}: {limited} rows in the first 1.5 s at 200 rows/s",
            db.name()
        );
        assert!(
            took < Duration::from_secs(8),
            "{}: the lifted limit let the run finish early, not in 12 s: {took:?}",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        eprintln!(
            "{}: {limited} rows in 1.5 s at 200 rows/s, then lifted: done in {took:?}",
            db.name()
        );
    }
}

/// Makes every row inserted into `user_stats` take `ms` milliseconds (sleeping, not
/// computing: concurrent batches do not compete for the CPU).
async fn slow_inserts(db: &Db, ms: u32) {
    let seconds = f64::from(ms) / 1000.0;
    if db.engine == Engine::Postgres {
        db.exec(&format!("CREATE FUNCTION slow() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep({seconds}); RETURN NEW; END $$ LANGUAGE plpgsql")).await;
        db.exec(
            "CREATE TRIGGER slow BEFORE INSERT ON user_stats FOR EACH ROW EXECUTE FUNCTION slow()",
        )
        .await;
    } else {
        db.exec(&format!("CREATE TRIGGER slow BEFORE INSERT ON user_stats FOR EACH ROW SET NEW.event_count = NEW.event_count + 0 * SLEEP({seconds})")).await;
    }
}

/// Like [`slow_inserts`], and each row written logs the server's clock (microseconds since
/// the epoch) in `batch_log`, committed with its batch: the server's own record of when
/// batches wrote, whatever the load on the worker processes. PostgreSQL logs the transaction,
/// so each batch is the span from its first row to its last. MariaDB has no transaction id a
/// trigger can read reliably (`INNODB_TRX` is a cache refreshed every 100 ms), so it logs how
/// many connections of this database are in this trigger (a batch's upsert) at that moment
/// instead: `PROCESSLIST` shows a connection's statement inside the trigger, not the upsert.
async fn slow_logged_inserts(db: &Db, ms: u32) {
    let seconds = f64::from(ms) / 1000.0;
    if db.engine == Engine::Postgres {
        db.exec("CREATE TABLE batch_log (tx TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)")
            .await;
        db.exec(&format!("CREATE FUNCTION slow_logged() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep({seconds}); INSERT INTO batch_log VALUES (txid_current()::text, extract(epoch FROM clock_timestamp()) * 1000000); RETURN NEW; END $$ LANGUAGE plpgsql")).await;
        db.exec("CREATE TRIGGER slow AFTER INSERT ON user_stats FOR EACH ROW EXECUTE FUNCTION slow_logged()").await;
    } else {
        db.exec("CREATE TABLE batch_log (n BIGINT NOT NULL, at DOUBLE NOT NULL)")
            .await;
        db.exec(&format!("CREATE TRIGGER slow AFTER INSERT ON user_stats FOR EACH ROW BEGIN DO SLEEP({seconds}); INSERT INTO batch_log VALUES ((SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND (INFO LIKE 'DO SLEEP%' OR INFO LIKE 'INSERT INTO batch_log%')), UNIX_TIMESTAMP(SYSDATE(6)) * 1000000); END")).await;
    }
}

/// The most batches of the job writing at once in `[from, to]` (microseconds since the epoch):
/// on PostgreSQL from the spans of the batches that began and ended in it (a batch in flight
/// when the limit changed is left out, however long it took), on MariaDB the largest count a
/// row written in it logged.
async fn most_at_once(db: &Db, from: i64, to: i64) -> usize {
    if db.engine != Engine::Postgres {
        return db
            .scalar(&format!(
                "SELECT CAST(COALESCE(MAX(n), 0) AS SIGNED) FROM batch_log WHERE at >= {from} AND at <= {to}"
            ))
            .await as usize;
    }
    let spans: Vec<(i64, i64)> = db
        .strings("SELECT CAST(MIN(at) AS BIGINT) || ' ' || CAST(MAX(at) AS BIGINT) FROM batch_log GROUP BY tx")
        .await
        .iter()
        .map(|row| {
            let (start, end) = row.split_once(' ').expect("two times");
            (start.parse().expect("a time"), end.parse().expect("a time"))
        })
        .collect();
    let mut events: Vec<(i64, i32)> = spans
        .iter()
        .filter(|(start, end)| *start >= from && *end <= to)
        .flat_map(|(start, end)| [(*start, 1), (*end, -1)])
        .collect();
    // An end sorts before a start at the same moment.
    events.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, step) in events {
        now += step;
        most = most.max(now);
    }
    most as usize
}

#[tokio::test]
async fn a_worker_limit_holds_across_processes_and_changes_live() {
    for db in servers("shard_worker_limit").await {
        let expected = seeded(&db).await;
        // 5 ms a row, 20 keys a batch: 100 ms batches, 12 s for the job one batch at a time.
        slow_logged_inserts(&db, 5).await;
        // A job of 4 workers, 2 in each of 2 processes, started with a limit of 1.
        let started = epoch_micros();
        let workers: Vec<Child> = (0..2)
            .map(|_| {
                worker_command(&db, 2, 0)
                    .env("BACKFILL_SHARD_BATCH_SIZE", "20")
                    .env("BACKFILL_SHARD_MAX_WORKERS", "1")
                    .spawn()
                    .expect("spawn a worker process")
            })
            .collect();
        wait_for_batches(&db, 3).await;
        let status = db
            .status(def(), &RunOptions::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            status.max_workers,
            Some(1),
            "{}: status shows the limit",
            db.name()
        );
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        // A change takes effect when its UPDATE commits, which waits for the batches holding
        // the job's rows and slots; batches that start meanwhile still read the old limit. So
        // a window under the old limit ends when the call is made, and one under the new
        // limit begins when it returns (`(called, returned)`, microseconds since the epoch).
        let control = |limit: Option<u32>| {
            let pool = db.pool.clone();
            async move {
                let called = epoch_micros();
                assert!(pool
                    .control(def(), &RunOptions::default(), Control::Workers(limit))
                    .await
                    .unwrap());
                (called, epoch_micros())
            }
        };
        let raised = control(Some(4)).await;
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        let lowered = control(Some(1)).await;
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        let lifted = control(None).await;
        eprintln!(
            "{}: the changes took {} / {} / {} ms",
            db.name(),
            (raised.1 - raised.0) / 1000,
            (lowered.1 - lowered.0) / 1000,
            (lifted.1 - lifted.0) / 1000
        );
        let mut total = 0;
        for worker in workers {
            total += finished_worker(&db, worker);
        }
        assert_eq!(
            db.scalar("SELECT count(*) FROM batch_log").await,
            USERS,
            "{}: every row written once, and logged",
            db.name()
        );
        // A batch that read the old limit before the change committed finishes under it; a
        // waiting worker looks again every 50 ms.
        const SETTLE_US: i64 = 300_000;
        let at_one = most_at_once(&db, started, raised.0).await;
        let at_four = most_at_once(&db, raised.1 + SETTLE_US, lowered.0).await;
        let at_one_again = most_at_once(&db, lowered.1 + SETTLE_US, lifted.0).await;
        eprintln!(
            "{}: at most {at_one} batches at once under a limit of 1, {at_four} under 4, {at_one_again} under 1 again; {total} batches",
            db.name()
        );
        assert_eq!(
            at_one,
            1,
            "{}: a limit of 1 holds over 2 processes",
            db.name()
        );
        assert!(
            (2..=4).contains(&at_four),
            "{}: raised to 4, more workers ran at once ({at_four})",
            db.name()
        );
        assert_eq!(
            at_one_again,
            1,
            "{}: lowered to 1, the others stopped",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        assert_each_key_once(&db, "user_stats", USERS).await;
        let status = db
            .status(def(), &RunOptions::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.max_workers, None, "{}", db.name());
        assert_eq!(status.state, "done", "{}", db.name());
        assert!(
            status.shards.iter().all(|s| s.shard >= 0),
            "{}: status shows shards, not the slot rows",
            db.name()
        );

        // Refused with the job named and what to do instead.
        for (limit, part) in [(0, "pause"), (5_000, "all")] {
            let err = db
                .pool
                .control(def(), &RunOptions::default(), Control::Workers(Some(limit)))
                .await
                .unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains("user_stats") && message.contains(part),
                "{}: {message}",
                db.name()
            );
        }
    }
}

#[tokio::test]
async fn a_batch_that_hits_the_statement_timeout_is_split() {
    for db in servers("shard_timeout_split").await {
        let expected = seeded(&db).await;
        // A trigger makes every inserted row take 3 ms: 400 rows take 1.2 s, 50 take 150 ms.
        slow_inserts(&db, 3).await;
        let report = db
            .run(
                def(),
                RunOptions::default()
                    .batch_size(400)
                    .statement_timeout(Duration::from_millis(600)),
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert!(
            report.timeout_splits >= 1,
            "{}: the 400-key batch was split",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        eprintln!(
            "{}: {} batches, {} split after the statement timeout",
            db.name(),
            report.batches,
            report.timeout_splits
        );
    }
}

#[tokio::test]
async fn sqlite_refuses_more_than_one_worker() {
    if !common::selected("sqlite") {
        return;
    }
    let db = common::sqlite("shard_sqlite").await;
    seeded(&db).await;
    let err = db
        .run(def(), RunOptions::default().workers(2))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Options(_)), "{err:?}");
    let message = err.to_string();
    for part in ["workers(2)", "SQLite", "workers(1)", "user_stats"] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert_eq!(db.scalar("SELECT count(*) FROM user_stats").await, 0);
    let report = db.run(def(), RunOptions::default()).await.unwrap();
    assert_eq!(report.stop, StopReason::Done);

    // No worker limit either: from outside, or when a run starts.
    for limit in [Some(2), None] {
        let err = db
            .pool
            .control(def(), &RunOptions::default(), Control::Workers(limit))
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, Error::Options(_))
                && message.contains("SQLite")
                && message.contains("user_stats"),
            "{message}"
        );
    }
    let err = db
        .run(def(), RunOptions::default().max_workers(2).restart(true))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("max_workers 2") && err.to_string().contains("SQLite"),
        "{err}"
    );
}

#[tokio::test]
async fn a_progress_table_of_an_older_version_gains_the_new_columns() {
    let mut dbs = servers("shard_old_table").await;
    if common::selected("sqlite") {
        dbs.push(common::sqlite("shard_old_table").await);
    }
    for db in dbs {
        let expected = seeded(&db).await;
        let (text, time, big) = match db.engine {
            Engine::Postgres => ("TEXT", "TIMESTAMPTZ", "BIGINT"),
            Engine::MySql => ("VARCHAR(191)", "DATETIME(6)", "BIGINT"),
            Engine::Sqlite => ("TEXT", "TEXT", "INTEGER"),
        };
        let cursor = if db.engine == Engine::MySql {
            "LONGTEXT"
        } else {
            "TEXT"
        };
        let q = |c: &str| db.quote(c);
        db.exec(&format!(
            "CREATE TABLE backfill_progress ({} {text} NOT NULL, {} INTEGER NOT NULL DEFAULT 0, {} {text} NOT NULL, {} {cursor} NULL, {} {text} NOT NULL, {} {big} NOT NULL DEFAULT 0, {} {big} NOT NULL DEFAULT 0, {} {big} NOT NULL DEFAULT 0, {} {time} NOT NULL, {} {time} NOT NULL, {} {time} NULL, PRIMARY KEY ({}, {}))",
            q("job"), q("shard"), q("fingerprint"), q("cursor"), q("status"), q("rows_written"), q("batches"), q("keys"), q("started_at"), q("updated_at"), q("finished_at"), q("job"), q("shard")
        ))
        .await;
        let half = db
            .run(def(), RunOptions::default().max_batches(3))
            .await
            .unwrap();
        assert_eq!(half.stop, StopReason::MaxBatches, "{}", db.name());
        for column in [
            "shard_end",
            "plan",
            "paused",
            "max_rows_per_sec",
            "max_workers",
        ] {
            let n = match db.engine {
                Engine::Sqlite => db.scalar(&format!("SELECT count(*) FROM pragma_table_info('backfill_progress') WHERE name = '{column}'")).await,
                Engine::Postgres => db.scalar(&format!("SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'backfill_progress' AND column_name = '{column}'")).await,
                Engine::MySql => db.scalar(&format!("SELECT count(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'backfill_progress' AND column_name = '{column}'")).await,
            };
            assert_eq!(n, 1, "{}: column {column} added", db.name());
        }
        let rest = db.run(def(), RunOptions::default()).await.unwrap();
        assert_eq!(rest.stop, StopReason::Done, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}
