//! The article's scenario end to end on every engine: the backfill lands on exactly what the
//! single-statement recompute gives, however it is interrupted, resumed or repeated.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backfill::{Backfill, Error, RunOptions, StopReason};
use common::scenario::{self, user_stats_checksum as checksum};
use common::Db;

const EVENTS: i64 = 3_000;
const USERS: i64 = 400;

/// Per-user totals recomputed from `events`.
#[derive(Backfill, Debug)]
#[backfill(table = "user_stats", from = "events", batch_size = 50)]
pub struct UserStats {
    #[backfill(key)]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(amount)")]
    pub total_amount: i64,
    #[backfill(expr = "max(created_at)")]
    pub last_seen: chrono::NaiveDateTime,
}

/// The same job with another definition (a changed expression).
#[derive(Backfill, Debug)]
#[backfill(
    table = "user_stats",
    from = "events",
    job = "user_stats",
    batch_size = 50
)]
pub struct UserStatsChanged {
    #[backfill(key)]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(amount) * 2")]
    pub total_amount: i64,
    #[backfill(expr = "max(created_at)")]
    pub last_seen: chrono::NaiveDateTime,
}

fn def() -> &'static backfill::Definition {
    UserStats::definition()
}

async fn seeded(test: &str) -> Vec<(Db, (usize, u64))> {
    let mut out = Vec::new();
    for db in common::engines(test).await {
        let expected = scenario::seed_with_reference(&db, def(), EVENTS, USERS).await;
        assert_eq!(
            expected.0,
            USERS as usize,
            "{}: every user has events",
            db.name()
        );
        out.push((db, expected));
    }
    out
}

#[tokio::test]
async fn backfill_equals_the_single_statement_recompute() {
    for (db, expected) in seeded("equals_recompute").await {
        let report = db.run(def(), RunOptions::default()).await.unwrap();
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert_eq!(report.keys, USERS as u64, "{}", db.name());
        assert_eq!(report.batches, (USERS as u64).div_ceil(50), "{}", db.name());
        assert_eq!(report.rows_written, USERS as u64, "{}", db.name());
        assert_eq!(
            report.null_keys,
            scenario::null_user_events(EVENTS),
            "{}",
            db.name()
        );
        assert_eq!(report.resumed_from, None, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());

        // Read back typed through the generated FromRow.
        let first: Vec<UserStats> = match &db.pool {
            common::Pool::Sqlite(p) => {
                sqlx::query_as("SELECT * FROM user_stats ORDER BY user_id LIMIT 1")
                    .fetch_all(p)
                    .await
                    .unwrap()
            }
            common::Pool::Postgres(p) => {
                sqlx::query_as("SELECT * FROM user_stats ORDER BY user_id LIMIT 1")
                    .fetch_all(p)
                    .await
                    .unwrap()
            }
            common::Pool::MySql(p) => {
                sqlx::query_as("SELECT * FROM user_stats ORDER BY user_id LIMIT 1")
                    .fetch_all(p)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(first[0].user_id, 1, "{}", db.name());
        assert!(first[0].event_count > 0, "{}", db.name());

        // A finished job is not re-run unless asked.
        let again = db.run(def(), RunOptions::default()).await.unwrap();
        assert_eq!(again.stop, StopReason::AlreadyDone, "{}", db.name());
        assert_eq!((again.batches, again.rows_written), (0, 0), "{}", db.name());
    }
}

#[tokio::test]
async fn a_bare_reinsert_fails_on_the_key_where_the_upsert_converges() {
    for (db, expected) in seeded("bare_reinsert").await {
        let heavy = db
            .scalar("SELECT count(*) FROM events WHERE user_id = 7")
            .await;
        assert!(
            heavy > 50,
            "{}: user 7 has more events ({heavy}) than a batch has keys",
            db.name()
        );
        db.run(def(), RunOptions::default().max_batches(2))
            .await
            .unwrap();
        // What a plain INSERT ... SELECT of the same range does when a batch is retried.
        let bare = "INSERT INTO user_stats (user_id, event_count, total_amount, last_seen) SELECT user_id, count(*), sum(amount), max(created_at) FROM events WHERE user_id IS NOT NULL AND user_id <= 100 GROUP BY user_id";
        let err = match &db.pool {
            common::Pool::Sqlite(p) => sqlx::query(bare).execute(p).await.unwrap_err(),
            common::Pool::Postgres(p) => sqlx::query(bare).execute(p).await.unwrap_err(),
            common::Pool::MySql(p) => sqlx::query(bare).execute(p).await.unwrap_err(),
        };
        let message = err.to_string().to_lowercase();
        assert!(
            message.contains("unique") || message.contains("duplicate"),
            "{}: {message}",
            db.name()
        );
        // The backfill re-does the same range (restart) and converges.
        let again = db
            .run(def(), RunOptions::default().restart(true))
            .await
            .unwrap();
        assert!(again.finished(), "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}

#[tokio::test]
async fn stopped_by_max_batches_then_resumed_equals_uninterrupted() {
    for (db, expected) in seeded("max_batches").await {
        let first = db
            .run(def(), RunOptions::default().max_batches(3))
            .await
            .unwrap();
        assert_eq!(first.stop, StopReason::MaxBatches, "{}", db.name());
        assert_eq!((first.batches, first.keys), (3, 150), "{}", db.name());
        assert_eq!(
            db.scalar("SELECT count(*) FROM user_stats").await,
            150,
            "{}",
            db.name()
        );

        let second = db.run(def(), RunOptions::default()).await.unwrap();
        assert_eq!(second.stop, StopReason::Done, "{}", db.name());
        assert_eq!(second.resumed_from, first.cursor, "{}", db.name());
        assert_eq!(second.keys, USERS as u64 - 150, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}

#[tokio::test]
async fn shutdown_signal_stops_between_batches_and_resumes() {
    for (db, expected) in seeded("shutdown").await {
        let token = backfill::CancellationToken::new();
        let trigger = token.clone();
        let seen = Arc::new(AtomicU64::new(0));
        let counter = seen.clone();
        let options = RunOptions::default().shutdown(token).on_progress(move |p| {
            counter.store(p.batches, Ordering::SeqCst);
            if p.batches == 2 {
                trigger.cancel();
            }
        });
        let first = db.run(def(), options).await.unwrap();
        assert_eq!(first.stop, StopReason::Shutdown, "{}", db.name());
        assert_eq!(first.batches, 2, "{}", db.name());
        assert!(!first.finished(), "{}", db.name());
        let committed = db.scalar("SELECT count(*) FROM user_stats").await;
        assert_eq!(
            committed,
            100,
            "{}: exactly the two committed batches",
            db.name()
        );

        let second = db.run(def(), RunOptions::default()).await.unwrap();
        assert_eq!(second.resumed_from, first.cursor, "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}

#[tokio::test]
async fn dropped_run_future_rolls_back_and_resumes_identical() {
    for (db, expected) in seeded("dropped_future").await {
        // Cut the run off at several points; every cut leaves a consistent cursor.
        for ms in [1_u64, 15, 40] {
            let options = RunOptions::default().pause(Duration::from_millis(5));
            let _ = tokio::time::timeout(Duration::from_millis(ms), db.run(def(), options)).await;
        }
        let report = db
            .run(def(), RunOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", db.name()));
        assert!(report.finished(), "{}", db.name());
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}

/// PostgreSQL: the row versions (`xmin`) of the whole table; a rewritten row gets a new one.
async fn row_versions(db: &Db) -> Option<Vec<String>> {
    let sql = "SELECT string_agg(xmin::text, ',' ORDER BY user_id) FROM user_stats";
    match db.engine {
        backfill::Engine::Postgres => Some(db.strings(sql).await),
        _ => None,
    }
}

#[tokio::test]
async fn a_rerun_over_an_up_to_date_table_writes_nothing() {
    for (db, expected) in seeded("rerun").await {
        db.run(def(), RunOptions::default()).await.unwrap();
        let before = row_versions(&db).await;
        let rerun = db
            .run(def(), RunOptions::default().restart(true))
            .await
            .unwrap();
        assert_eq!(rerun.stop, StopReason::Done, "{}", db.name());
        assert_eq!(
            rerun.keys,
            USERS as u64,
            "{}: every key was checked",
            db.name()
        );
        assert_eq!(rerun.rows_written, 0, "{}: nothing rewritten", db.name());
        assert_eq!(
            row_versions(&db).await,
            before,
            "{}: no new row versions",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}

#[tokio::test]
async fn doubled_counters_are_repaired_by_a_restart() {
    for (db, expected) in seeded("repair").await {
        db.run(def(), RunOptions::default()).await.unwrap();
        // What a relative `count = count + n` does on a retried batch.
        db.exec("UPDATE user_stats SET event_count = event_count * 2, total_amount = total_amount * 2 WHERE user_id <= 120").await;
        assert_ne!(checksum(&db).await, expected, "{}", db.name());
        let repair = db
            .run(def(), RunOptions::default().restart(true))
            .await
            .unwrap();
        assert_eq!(
            repair.rows_written,
            120,
            "{}: exactly the damaged rows",
            db.name()
        );
        assert_eq!(checksum(&db).await, expected, "{}", db.name());
    }
}

#[tokio::test]
async fn a_changed_definition_is_refused_and_writes_nothing() {
    for (db, _) in seeded("fingerprint").await {
        db.run(def(), RunOptions::default().max_batches(2))
            .await
            .unwrap();
        let before = checksum(&db).await;
        let changed = UserStatsChanged::definition();
        let err = db.run(changed, RunOptions::default()).await.unwrap_err();
        let stored = def().statements(db.engine).unwrap().fingerprint;
        let current = changed.statements(db.engine).unwrap().fingerprint;
        assert!(
            matches!(err, Error::FingerprintMismatch { .. }),
            "{}: {err}",
            db.name()
        );
        let message = err.to_string();
        assert!(
            message.contains(stored) && message.contains(current),
            "{message}"
        );
        assert!(message.contains("restart"), "{message}");
        assert_eq!(
            checksum(&db).await,
            before,
            "{}: nothing written",
            db.name()
        );

        // Restart accepts the new definition and recomputes every key with it.
        let report = db
            .run(changed, RunOptions::default().restart(true))
            .await
            .unwrap();
        assert!(report.finished(), "{}", db.name());
        let doubled = db
            .scalar("SELECT count(*) FROM user_stats WHERE total_amount % 2 = 1")
            .await;
        assert_eq!(
            doubled,
            0,
            "{}: every total recomputed by the new definition",
            db.name()
        );
    }
}
