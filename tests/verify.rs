//! Verify and repair, plan, status and reset on every engine: verify finds doubled counters,
//! deleted rows and extra rows exactly, a restart run repairs what an upsert can, and the
//! operator's views read the progress table without writing anything.

mod common;

use std::time::Duration;

use backfill::{Backfill, Engine, Error, KeyValue, RunOptions, StopReason};
use common::scenario;

/// Per-user totals, 50 keys a batch.
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

fn def() -> &'static backfill::Definition {
    UserStats::definition()
}

const DAMAGE: &str = "DELETE FROM user_stats WHERE user_id IN (3, 77, 390);
    UPDATE user_stats SET event_count = event_count * 2 WHERE user_id IN (5, 6, 300, 399);
    INSERT INTO user_stats (user_id, event_count, total_amount, last_seen) VALUES (0, 1, 1, '2020-01-01 00:00:00'), (1000, 1, 1, '2020-01-01 00:00:00'), (250000, 1, 1, '2020-01-01 00:00:00')";

fn keys(values: &[i64]) -> Vec<backfill::Key> {
    values
        .iter()
        .map(|v| backfill::Key(vec![KeyValue::Int(*v)]))
        .collect()
}

#[tokio::test]
async fn verify_finds_the_damage_and_a_restart_repairs_it() {
    for db in common::engines("verify_repair").await {
        scenario::seed(&db, 3_000, 400).await;
        let empty = db.verify(def()).await.unwrap();
        assert_eq!(
            (
                empty.target_rows,
                empty.source_keys,
                empty.missing,
                empty.extra,
                empty.different
            ),
            (0, 400, 400, 0, 0),
            "{}: {empty}",
            db.name()
        );
        db.run(def(), RunOptions::default()).await.unwrap();
        let clean = db.verify(def()).await.unwrap();
        assert!(clean.is_clean(), "{}: {clean}", db.name());

        db.exec_all(DAMAGE).await;
        let damaged = db.verify(def()).await.unwrap();
        eprintln!("{}: damaged: {damaged}", db.name());
        assert_eq!(
            (
                damaged.target_rows,
                damaged.source_keys,
                damaged.missing,
                damaged.extra,
                damaged.different
            ),
            (400, 400, 3, 3, 4),
            "{}: {damaged}",
            db.name()
        );
        assert_eq!(
            damaged.missing_samples,
            keys(&[3, 77, 390]),
            "{}",
            db.name()
        );
        assert_eq!(
            damaged.extra_samples,
            keys(&[0, 1000, 250000]),
            "{}",
            db.name()
        );
        assert_eq!(
            damaged.different_samples,
            keys(&[5, 6, 300, 399]),
            "{}",
            db.name()
        );
        assert!(!damaged.is_clean());
        let text = damaged.to_string();
        assert!(
            text.contains("3 missing") && text.contains("3 extra") && text.contains("4 different"),
            "{text}"
        );

        // The repair: a restart recomputes every key. An upsert never deletes, so the extra
        // rows stay reported until removed.
        let repair = db
            .run(def(), RunOptions::default().restart(true))
            .await
            .unwrap();
        assert_eq!(
            repair.rows_written,
            7,
            "{}: 3 missing + 4 different",
            db.name()
        );
        let repaired = db.verify(def()).await.unwrap();
        eprintln!("{}: after the restart run: {repaired}", db.name());
        assert_eq!(
            (repaired.missing, repaired.different, repaired.extra),
            (0, 0, 3),
            "{}",
            db.name()
        );
        db.exec("DELETE FROM user_stats WHERE user_id IN (0, 1000, 250000)")
            .await;
        let done = db.verify(def()).await.unwrap();
        assert!(done.is_clean(), "{}: {done}", db.name());

        // No source keys at all: every target row is extra (samples capped at 10).
        db.exec("DELETE FROM events").await;
        let orphaned = db.verify(def()).await.unwrap();
        assert_eq!(
            (orphaned.extra, orphaned.source_keys),
            (400, 0),
            "{}",
            db.name()
        );
        assert_eq!(orphaned.extra_samples.len(), 10, "{}", db.name());
    }
}

#[tokio::test]
async fn plan_status_and_reset_read_and_forget_progress() {
    for db in common::engines("plan_status").await {
        scenario::seed(&db, 3_000, 400).await;
        let options = RunOptions::default();
        assert!(
            db.status(def(), &options).await.unwrap().is_none(),
            "{}",
            db.name()
        );

        let plan = db.plan(def(), &options).await.unwrap();
        assert_eq!(plan.estimated_keys, Some(400), "{}", db.name());
        assert_eq!(plan.estimated_batches, Some(8), "{}", db.name());
        assert_eq!(
            plan.first_range.as_ref().map(|r| r.1),
            Some(50),
            "{}",
            db.name()
        );
        assert!(!plan.explain.trim().is_empty(), "{}: an EXPLAIN", db.name());
        assert_eq!(
            db.scalar("SELECT count(*) FROM user_stats").await,
            0,
            "{}: plan writes nothing",
            db.name()
        );

        db.run(def(), RunOptions::default().max_batches(3))
            .await
            .unwrap();
        let running = db
            .status(def(), &options)
            .await
            .unwrap()
            .expect("a progress row");
        assert_eq!(
            (running.state.as_str(), running.batches, running.keys),
            ("running", 3, 150),
            "{}",
            db.name()
        );
        assert_eq!(
            running.cursor,
            Some(backfill::Key(vec![KeyValue::Int(150)])),
            "{}",
            db.name()
        );
        assert!(running.finished_at.is_none());

        db.run(def(), RunOptions::default()).await.unwrap();
        let done = db
            .status(def(), &options)
            .await
            .unwrap()
            .expect("a progress row");
        assert_eq!(
            (
                done.state.as_str(),
                done.batches,
                done.keys,
                done.rows_written
            ),
            ("done", 8, 400, 400),
            "{}",
            db.name()
        );
        assert!(done.finished_at.is_some());

        assert!(db.reset(def(), &options).await.unwrap(), "{}", db.name());
        assert!(
            !db.reset(def(), &options).await.unwrap(),
            "{}: nothing left to reset",
            db.name()
        );
        assert!(
            db.status(def(), &options).await.unwrap().is_none(),
            "{}",
            db.name()
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM user_stats").await,
            400,
            "{}: reset keeps the table",
            db.name()
        );
        let again = db.run(def(), RunOptions::default()).await.unwrap();
        assert_eq!(
            (again.stop, again.keys, again.rows_written),
            (StopReason::Done, 400, 0),
            "{}",
            db.name()
        );
    }
}

#[tokio::test]
async fn a_statement_timeout_on_one_key_stops_naming_it() {
    for db in common::engines("statement_timeout").await {
        if db.engine == Engine::Sqlite {
            eprintln!("sqlite: has no statement timeout (documented); skipped");
            continue;
        }
        scenario::seed(&db, 3_000, 400).await;
        // A trigger makes every inserted row take 2 s: the batch is split in two again and
        // again, down to one key, which still takes longer than the timeout.
        if db.engine == Engine::Postgres {
            db.exec("CREATE FUNCTION slow() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$ LANGUAGE plpgsql").await;
            db.exec("CREATE TRIGGER slow BEFORE INSERT ON user_stats FOR EACH ROW EXECUTE FUNCTION slow()").await;
        } else {
            db.exec("CREATE TRIGGER slow BEFORE INSERT ON user_stats FOR EACH ROW SET NEW.event_count = NEW.event_count + 0 * SLEEP(2)").await;
        }
        let err = db
            .run(
                def(),
                RunOptions::default().statement_timeout(Duration::from_millis(500)),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::BatchTimeout { .. }),
            "{}: {err:?}",
            db.name()
        );
        let message = err.to_string();
        assert!(
            message.contains("user_stats")
                && message.contains("<= 1")
                && message.contains("one key"),
            "{message}"
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM user_stats").await,
            0,
            "{}: rolled back",
            db.name()
        );
    }
}
