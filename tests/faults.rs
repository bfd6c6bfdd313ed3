//! Fault injection on every engine: worker processes killed with SIGKILL and restarted, the
//! server killing the connection mid-batch, concurrent workers on one job, a lock held past the
//! lock timeout. Each run must land on the single-statement recompute, checksum for checksum,
//! with no batch applied twice.
//!
//! Worker processes are this test binary re-run with `--exact worker_process` and the
//! `BACKFILL_FAULT_WORKER_URL` variable set; without it, that test does nothing.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backfill::{BackfillPool, Engine, RunOptions, StopReason};
use common::scenario::{self, user_stats_checksum as checksum, UserStats};
use common::{hold_in_transaction, Db, LockHolder, Pool};

const USERS: i64 = 2_400;
const EVENTS: i64 = 12_000;
const BATCHES: i64 = USERS / 25;

fn def() -> &'static backfill::Definition {
    UserStats::definition()
}

/// Seeds the scenario and returns the single-statement recompute's checksum (target left empty).
async fn seeded(db: &Db) -> (usize, u64) {
    let expected = scenario::seed_with_reference(db, def(), EVENTS, USERS).await;
    assert_eq!(expected.0, USERS as usize);
    expected
}

/// The worker process: runs the backfill once against the URL it is given and prints its report.
#[tokio::test]
async fn worker_process() {
    let Ok(url) = std::env::var("BACKFILL_FAULT_WORKER_URL") else {
        return;
    };
    let pause = std::env::var("BACKFILL_FAULT_WORKER_PAUSE_MS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let options = RunOptions::default()
        .pause(Duration::from_millis(pause))
        .max_retries(50)
        .retry_backoff(Duration::from_millis(20));
    common::worker::run(&url, def(), options).await;
}

fn spawn_worker(db: &Db, pause_ms: u64) -> Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "worker_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BACKFILL_FAULT_WORKER_URL", &db.url)
        .env("BACKFILL_FAULT_WORKER_PAUSE_MS", pause_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a worker process")
}

async fn progress(db: &Db) -> (i64, String) {
    let batches = db.progress_i64("batches", "user_stats").await;
    let status = db
        .strings("SELECT status FROM backfill_progress WHERE job = 'user_stats'")
        .await;
    (batches, status.into_iter().next().unwrap_or_default())
}

#[tokio::test]
async fn worker_killed_with_sigkill_again_and_again_converges() {
    for db in common::engines("sigkill").await {
        let expected = seeded(&db).await;
        let mut rng = fastrand::Rng::with_seed(7);
        let mut kills = 0;
        let mut cursors = Vec::new();
        let mut last_batches = 0;
        // Kill at random moments (start-up, mid-batch, between batches) until 25 kills, then
        // let the last worker finish.
        loop {
            let mut child = spawn_worker(&db, 60);
            if kills < 25
                && common::worker::kill_after(&mut child, Duration::from_millis(rng.u64(20..250)))
            {
                kills += 1;
                let (batches, _) = progress_or_zero(&db).await;
                assert!(
                    batches >= last_batches,
                    "{}: progress went backwards",
                    db.name()
                );
                last_batches = batches;
                cursors.push(batches);
                continue;
            }
            common::worker::finished(child, db.name());
            break;
        }
        assert!(
            kills >= 20,
            "{}: only {kills} kills before the job finished",
            db.name()
        );
        let (batches, status) = progress(&db).await;
        assert_eq!(status, "done", "{}", db.name());
        // Every committed batch advanced the cursor: no range was committed twice.
        assert_eq!(
            batches,
            BATCHES,
            "{}: batches committed over all lives",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        eprintln!(
            "{}: survived {kills} SIGKILLs; committed batches after each: {cursors:?}",
            db.name()
        );
    }
}

async fn progress_or_zero(db: &Db) -> (i64, String) {
    let exists = match db.engine {
        Engine::Sqlite => db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'backfill_progress'").await,
        Engine::Postgres => db.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'backfill_progress'").await,
        Engine::MySql => db.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'backfill_progress'").await,
    };
    if exists == 0 {
        return (0, String::new());
    }
    let rows = db
        .scalar("SELECT count(*) FROM backfill_progress WHERE job = 'user_stats'")
        .await;
    if rows == 0 {
        return (0, String::new());
    }
    progress(db).await
}

#[tokio::test]
async fn four_workers_on_one_job_share_it_without_applying_a_batch_twice() {
    for db in common::engines("four_workers").await {
        let expected = seeded(&db).await;
        let workers: Vec<Child> = (0..4).map(|_| spawn_worker(&db, 0)).collect();
        let mut total = 0;
        for worker in workers {
            let output = worker.wait_with_output().expect("the worker's output");
            assert!(
                output.status.success(),
                "{}: a worker failed:\n{}",
                db.name(),
                String::from_utf8_lossy(&output.stderr)
            );
            total += common::worker::batches(&output);
        }
        let (batches, status) = progress(&db).await;
        assert_eq!(status, "done", "{}", db.name());
        assert_eq!(batches, BATCHES, "{}", db.name());
        assert_eq!(
            total,
            BATCHES as u64,
            "{}: the workers' batches add up, none twice",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}

/// Holds a lock on the target's row `user_id = 1200` (mid-range) in another connection.
async fn lock_target_row(db: &Db) -> LockHolder {
    db.exec("INSERT INTO user_stats (user_id, event_count, total_amount, last_seen) VALUES (1200, 0, 0, '2020-01-01 00:00:00')").await;
    match db.engine {
        Engine::Sqlite => {
            hold_in_transaction(
                db,
                "UPDATE user_stats SET event_count = 0 WHERE user_id = 1200",
            )
            .await
        }
        _ => {
            hold_in_transaction(
                db,
                "SELECT 1 FROM user_stats WHERE user_id = 1200 FOR UPDATE",
            )
            .await
        }
    }
}

#[tokio::test]
async fn a_lock_held_past_the_lock_timeout_is_waited_out_with_retries() {
    for db in common::engines("lock_timeout").await {
        let expected = seeded(&db).await;
        let holder = lock_target_row(&db).await;
        let releaser = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            holder.release().await;
        });
        let options = RunOptions::default()
            .lock_timeout(Duration::from_millis(500))
            .max_retries(30)
            .retry_backoff(Duration::from_millis(100));
        let report = db.run(def(), options).await.unwrap();
        releaser.await.unwrap();
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert!(
            report.retries >= 1,
            "{}: the locked batch timed out and was retried",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        eprintln!(
            "{}: {} retries while the row was locked",
            db.name(),
            report.retries
        );
    }
}

/// The application's open transactions on the source do not stall a batch: with a row of
/// `events` changed by an uncommitted UPDATE, the run neither waits nor retries, and it reads the
/// committed value. PostgreSQL reads never lock; on MariaDB the batches run at READ COMMITTED,
/// because at the default REPEATABLE READ InnoDB's `INSERT ... SELECT` takes shared locks on
/// the source rows it reads and would wait for this one until the lock timeout. (SQLite has one
/// writer for the whole database: an open write transaction there blocks every batch, which
/// `a_lock_held_past_the_lock_timeout_is_waited_out_with_retries` covers.)
#[tokio::test]
async fn a_source_row_locked_by_the_application_does_not_stall_a_batch() {
    for db in common::engines("source_row_lock").await {
        if db.engine == Engine::Sqlite {
            continue;
        }
        let expected = seeded(&db).await;
        let holder =
            hold_in_transaction(&db, "UPDATE events SET amount = amount + 1000 WHERE id = 5").await;
        let options = RunOptions::default()
            .lock_timeout(Duration::from_secs(1))
            .max_retries(0);
        let report = db.run(def(), options).await;
        holder.release().await;
        let report = report.unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert_eq!(report.retries, 0, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}

/// On a MariaDB primary whose binary log is statement-based, InnoDB refuses to log an
/// `INSERT ... SELECT` at READ COMMITTED (error 1665), so the batches keep the session's
/// REPEATABLE READ there and the run still lands on the recompute. The primary of
/// `.ci/mariadb-replica` logs rows; this run's connections switch their session to STATEMENT.
#[tokio::test]
async fn a_statement_based_binary_log_keeps_the_session_isolation() {
    let Some(db) = common::mysql_on(
        "BACKFILL_TEST_MYSQL_PRIMARY_URL",
        "the MariaDB primary of `bash .ci/mariadb-replica`",
        "binlog_statement",
    )
    .await
    else {
        return;
    };
    let expected = seeded(&db).await;
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::Executor::execute(&mut *conn, "SET SESSION binlog_format = 'STATEMENT'")
                    .await
                    .map(|_| ())
            })
        })
        .connect(&db.url)
        .await
        .unwrap();
    let format: String =
        sqlx::query_scalar("SELECT CAST(CONCAT(@@log_bin, ' ', @@binlog_format) AS CHAR)")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(format, "ON STATEMENT");
    let report = pool
        .run_backfill(def(), RunOptions::default())
        .await
        .unwrap();
    assert_eq!(report.stop, StopReason::Done);
    assert_eq!(checksum(&db).await, expected);
}

/// A run whose future is dropped while its batch waits (on a row lock, with lock and statement
/// timeouts set) leaves nothing behind in the pool it was given: every connection the
/// application gets from it afterwards has the session settings it had before the run (MySQL
/// session timeouts, SQLite's busy timeout; PostgreSQL's are `SET LOCAL`).
#[tokio::test]
async fn a_dropped_run_leaves_no_session_setting_in_the_pool() {
    for db in common::engines("dropped_settings").await {
        let name = db.name();
        let expected = seeded(&db).await;
        let settings = match db.engine {
            Engine::MySql => "SELECT CAST(CONCAT(@@SESSION.innodb_lock_wait_timeout, ' ', @@SESSION.max_statement_time) AS CHAR)",
            Engine::Postgres => "SELECT current_setting('lock_timeout') || ' ' || current_setting('statement_timeout')",
            Engine::Sqlite => "SELECT CAST(timeout AS TEXT) FROM pragma_busy_timeout",
        };
        let before = db.strings(settings).await;
        let holder = lock_target_row(&db).await;
        let options = RunOptions::default()
            .batch_size(3_000)
            .lock_timeout(Duration::from_secs(30))
            .statement_timeout(Duration::from_secs(60));
        let run = tokio::time::timeout(Duration::from_millis(1_500), db.run(def(), options)).await;
        assert!(
            run.is_err(),
            "{name}: the run was still waiting on the lock when dropped"
        );
        holder.release().await;
        tokio::time::sleep(Duration::from_millis(500)).await;

        // Every connection of the pool at once, so the one the batch used is among them.
        macro_rules! every_connection {
            ($pool:expr) => {{
                let mut all = Vec::new();
                for _ in 0..$pool.size() {
                    all.push($pool.acquire().await.unwrap());
                }
                let mut seen = Vec::new();
                for conn in &mut all {
                    let s: String = sqlx::query_scalar(settings)
                        .fetch_one(&mut **conn)
                        .await
                        .unwrap();
                    seen.push(s);
                }
                seen
            }};
        }
        let seen = match &db.pool {
            Pool::MySql(p) => every_connection!(p),
            Pool::Postgres(p) => every_connection!(p),
            Pool::Sqlite(p) => every_connection!(p),
        };
        assert!(!seen.is_empty(), "{name}");
        for s in &seen {
            assert_eq!(
                s, &before[0],
                "{name}: a pooled connection kept the run's settings: {seen:?}"
            );
        }
        let report = db.run(def(), RunOptions::default()).await.unwrap();
        assert_eq!(report.stop, StopReason::Done, "{name}");
        assert_eq!(checksum(&db).await, expected, "{name}");
    }
}

/// A connection of the run's pool, found on the server while it waits on the held lock, is
/// killed by the server; the batch is retried and the run finishes identical.
#[tokio::test]
async fn the_server_killing_the_connection_mid_batch_is_retried() {
    for db in common::engines("server_kill").await {
        if db.engine == Engine::Sqlite {
            eprintln!("sqlite: no server to kill a connection; covered by the SIGKILL test");
            continue;
        }
        let expected = seeded(&db).await;
        let holder = lock_target_row(&db).await;
        // Only this test's connections are killed.
        let options = RunOptions::default()
            .max_retries(30)
            .retry_backoff(Duration::from_millis(50));
        let run = spawn_run(&db, "bf_server_kill", options).await;
        let mut kills = 0;
        let mut killed = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while kills < 3 && Instant::now() < deadline {
            let waiting = match db.engine {
                Engine::Postgres => db.scalar("SELECT COALESCE(min(pid), 0)::bigint FROM pg_stat_activity WHERE application_name = 'bf_server_kill' AND wait_event_type = 'Lock'").await,
                // The upsert of the locked range, executing for over 300 ms: blocked on the row lock.
                _ => db.scalar("SELECT CAST(COALESCE(MIN(ID), 0) AS SIGNED) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND IN ('Query', 'Execute') AND INFO LIKE 'INSERT INTO%' AND TIME_MS > 300").await,
            };
            if waiting != 0 && !killed.contains(&waiting) {
                killed.push(waiting);
                match db.engine {
                    Engine::Postgres => {
                        db.scalar(&format!(
                            "SELECT count(*) FROM (SELECT pg_terminate_backend({waiting})) AS k"
                        ))
                        .await;
                    }
                    _ => {
                        db.exec(&format!("KILL CONNECTION {waiting}")).await;
                    }
                }
                kills += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        holder.release().await;
        let report = run.await.unwrap().unwrap();
        assert_eq!(
            kills,
            3,
            "{}: the blocked batch was found and killed 3 times",
            db.name()
        );
        assert!(
            report.retries >= 3,
            "{}: {} retries",
            db.name(),
            report.retries
        );
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        eprintln!(
            "{}: {kills} connections killed by the server, {} retries",
            db.name(),
            report.retries
        );
    }
}

/// The backfill run in a task on a pool of its own (PostgreSQL or MySQL/MariaDB), so a test can
/// find its connections on the server: on PostgreSQL named `application_name` (the other tests
/// of this binary run side by side in the same database), on MySQL/MariaDB in the test's own
/// database.
async fn spawn_run(
    db: &Db,
    application_name: &str,
    options: RunOptions,
) -> tokio::task::JoinHandle<Result<backfill::Report, backfill::Error>> {
    let def = def();
    match db.engine {
        Engine::Postgres => {
            let url = format!("{}&application_name={application_name}", db.url);
            let p = sqlx::PgPool::connect(&url).await.unwrap();
            tokio::spawn(async move { p.run_backfill(def, options).await })
        }
        Engine::MySql => {
            let p = sqlx::MySqlPool::connect(&db.url).await.unwrap();
            tokio::spawn(async move { p.run_backfill(def, options).await })
        }
        Engine::Sqlite => panic!("sqlite: no server to find a connection on"),
    }
}

/// On PostgreSQL a range with no target row yet is written by the upsert cut before its
/// conflict clause, a plain `INSERT`; one holding target rows by the upsert. A fresh target is
/// inserted batch by batch, a target filled over its first half with wrong values (an earlier
/// tool's, or the application's) is upserted there and inserted beyond, and both land on the
/// recompute. The other engines always upsert.
#[tokio::test]
async fn an_empty_range_is_inserted_and_a_filled_one_upserted() {
    for db in common::engines("insert_empty_range").await {
        let expected = seeded(&db).await;
        let report = db.run(def(), RunOptions::default()).await.unwrap();
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        let inserted = match db.engine {
            Engine::Postgres => report.batches,
            _ => 0,
        };
        assert_eq!(
            report.inserted_batches,
            inserted,
            "{}: {report:?}",
            db.name()
        );

        // The first half of the keys filled with wrong values, the rest empty.
        db.exec("DELETE FROM user_stats WHERE user_id > 1200").await;
        db.exec("UPDATE user_stats SET event_count = event_count + 1, total_amount = 0")
            .await;
        let report = db
            .run(def(), RunOptions::default().restart(true).batch_size(100))
            .await
            .unwrap();
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        assert_eq!(report.batches, (USERS / 100) as u64, "{}", db.name());
        if db.engine == Engine::Postgres {
            // Ranges above user 1,200 hold no target row; the one straddling it holds some.
            assert_eq!(report.inserted_batches, 12, "{}: {report:?}", db.name());
        } else {
            assert_eq!(report.inserted_batches, 0, "{}", db.name());
        }
        assert_eq!(report.retries, 0, "{}", db.name());
    }
}

/// A key the application writes into a range after the batch counted the range empty: on
/// PostgreSQL the batch's `INSERT` waits on the application's uncommitted row, fails with a
/// unique violation when it commits, and the batch is rolled back and done again with the
/// upsert, which overwrites the application's values with the recomputed ones. On MariaDB the
/// upsert waits and overwrites them. Either way the table ends equal to the recompute, the
/// redo counted as a retry.
#[tokio::test]
async fn a_key_written_while_its_empty_range_is_inserted_is_upserted_again() {
    for db in common::engines("key_arrived").await {
        if db.engine == Engine::Sqlite {
            eprintln!("sqlite: one writer, so nothing is written between a count and an insert");
            continue;
        }
        let expected = seeded(&db).await;
        // The application's row for user 5, in the first range, uncommitted.
        let app = hold_in_transaction(&db, "INSERT INTO user_stats (user_id, event_count, total_amount, last_seen) VALUES (5, 0, 0, '2020-01-01 00:00:00')").await;
        let options = RunOptions::default()
            .lock_timeout(Duration::from_secs(30))
            .statement_timeout(Duration::from_secs(30));
        let run = spawn_run(&db, "bf_key_arrived", options).await;
        // The first batch's write, waiting on the application's row.
        let waiting = match db.engine {
            Engine::Postgres => "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bf_key_arrived' AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO%'",
            // This test's own database.
            _ => "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND IN ('Query', 'Execute') AND INFO LIKE 'INSERT INTO%' AND TIME_MS > 300",
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while db.scalar(waiting).await == 0 {
            assert!(
                Instant::now() < deadline,
                "{}: the first batch never waited on the application's row",
                db.name()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        app.commit().await;
        let report = run.await.unwrap().unwrap();
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
        if db.engine == Engine::Postgres {
            assert_eq!(report.retries, 1, "{}: the first batch redone", db.name());
            // Every batch but the redone first one found its range empty.
            assert_eq!(
                report.inserted_batches,
                report.batches - 1,
                "{}: {report:?}",
                db.name()
            );
        } else {
            assert_eq!(report.retries, 0, "{}", db.name());
        }
    }
}
