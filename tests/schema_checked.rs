//! A schema-checked build end to end: the derive checked `SchemaChecked` against
//! `tests/migrations/schema_checked/<engine>/` at compile time; here the same migrations are
//! applied with `sqlx::migrate!` to every engine, the backfill runs, its result equals the
//! single-statement recompute, and the schema the build recorded (the statement it skipped,
//! the target's columns) is what preflight compares the live table with.

mod common;

use backfill::{Backfill, BackfillPool, Engine, RunOptions};
use common::{Db, Pool};

/// Totals per user from `events`; `kind` reads the source's own `kind`, which the schema
/// shows is a column of `events` (without the schema, a bare name like the written column is
/// refused as a possible read of the stored value).
#[derive(Backfill, Debug)]
#[backfill(
    table = "user_stats",
    from = "events",
    migrations = "tests/migrations/schema_checked",
    batch_size = 7
)]
pub struct SchemaChecked {
    #[backfill(key)]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(amount)")]
    pub total_amount: i64,
    #[backfill(expr = "max(kind)")]
    pub kind: Option<String>,
}

async fn migrate(db: &Db) {
    let result = match &db.pool {
        Pool::Postgres(p) => {
            sqlx::migrate!("tests/migrations/schema_checked/postgres")
                .run(p)
                .await
        }
        Pool::MySql(p) => {
            sqlx::migrate!("tests/migrations/schema_checked/mysql")
                .run(p)
                .await
        }
        Pool::Sqlite(p) => {
            sqlx::migrate!("tests/migrations/schema_checked/sqlite")
                .run(p)
                .await
        }
    };
    result.unwrap_or_else(|e| panic!("{}: applying the migrations: {e}", db.name()));
}

#[tokio::test]
async fn the_migrations_the_build_checked_run_and_the_backfill_converges() {
    let def = SchemaChecked::definition();
    for db in common::engines("schema_checked").await {
        let name = db.name();
        migrate(&db).await;
        let mut values = Vec::new();
        for i in 0..60 {
            values.push(format!(
                "({}, {}, '{}')",
                i % 13,
                i * 3,
                ["a", "b", "c"][i % 3]
            ));
        }
        db.exec(&format!(
            "INSERT INTO events (user_id, amount, kind) VALUES {}",
            values.join(", ")
        ))
        .await;

        db.check(def)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let drift = db.pool.schema_drift(def).await.unwrap();
        assert!(drift.is_empty(), "{name}: {drift:?}");

        let report = db.run(def, RunOptions::default()).await.unwrap();
        assert_eq!(report.rows_written, 13, "{name}");
        let columns = ["user_id", "event_count", "total_amount", "kind"];
        let ran = db.checksum("user_stats", &columns, &["user_id"]).await;
        db.recompute_all(def, "user_stats").await;
        let recomputed = db.checksum("user_stats", &columns, &["user_id"]).await;
        assert_eq!(ran, recomputed, "{name}");
        assert!(db.verify(def).await.unwrap().is_clean(), "{name}");
    }
}

#[tokio::test]
async fn the_build_records_the_schema_it_checked_and_check_reports_drift() {
    let def = SchemaChecked::definition();
    let pg = def
        .checked_schema(Engine::Postgres)
        .expect("checked against postgres");
    assert_eq!(pg.migrations, "tests/migrations/schema_checked/postgres");
    assert_eq!(
        pg.skipped,
        ["tests/migrations/schema_checked/postgres/0002_data_fix.sql:2"]
    );
    let columns: Vec<&str> = pg.columns.iter().map(|c| c.name).collect();
    assert_eq!(columns, ["user_id", "event_count", "total_amount", "kind"]);
    assert!(def
        .checked_schema(Engine::MySql)
        .unwrap()
        .skipped
        .is_empty());

    for db in common::engines("schema_checked_drift").await {
        let name = db.name();
        migrate(&db).await;
        // A hotfix the migrations do not have.
        db.exec("ALTER TABLE user_stats ADD COLUMN hotfix_note TEXT")
            .await;
        let drift = db.pool.schema_drift(def).await.unwrap();
        let shown: Vec<String> = drift.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 1, "{name}: {shown:?}");
        assert!(
            shown[0].starts_with("column `hotfix_note`: in the live table, not in the migrations"),
            "{name}: {shown:?}"
        );
        // Preflight still checks the live table, which can run this backfill.
        db.check(def)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
