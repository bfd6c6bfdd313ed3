//! `plan` sees a scattered read coming, on every engine: events appended in no user order,
//! grouped per user, get the covering index recommended with DDL that runs on the engine, after
//! which `plan` says the ranges are covered; events appended in user order, and a row-to-row
//! copy keyed by the source's stored order, get no recommendation.

mod common;

use backfill::access::{CorrelationSource, ReadAccess, Verdict};
use backfill::{AccessPath, AnyPool, Backfill, BackfillPool, Engine, RunOptions, SourceAccess};
use common::Db;

/// Per-user totals of events stored in no user order.
#[derive(Backfill, Debug)]
#[backfill(
    table = "stats_scattered",
    from = "events_scattered e",
    batch_size = 100
)]
pub struct ScatteredStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: i64,
}

/// Per-user totals of events stored in user order.
#[derive(Backfill, Debug)]
#[backfill(table = "stats_ordered", from = "events_ordered e", batch_size = 100)]
pub struct OrderedStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: i64,
}

/// A row-to-row copy keyed by the source's primary key.
#[derive(Backfill, Debug)]
#[backfill(table = "events_copy", from = "events_ordered", batch_size = 500)]
pub struct EventCopy {
    #[backfill(key)]
    pub id: i64,
    pub user_id: i64,
    pub amount: i64,
}

/// In place from the table's own rows: nothing but the target to read.
#[derive(Backfill, Debug)]
#[backfill(table = "events_ordered", in_place, batch_size = 500)]
pub struct NoteLength {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "length(note)")]
    pub note_length: Option<i64>,
}

/// Per-user totals of events never analysed.
#[derive(Backfill, Debug)]
#[backfill(table = "stats_fresh", from = "events_fresh e", batch_size = 100)]
pub struct FreshStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: i64,
}

/// Per-(tenant, user) totals: a composite key, both parts columns of the source.
#[derive(Backfill, Debug)]
#[backfill(table = "stats_tenant", from = "events_tenant e", batch_size = 100)]
pub struct TenantStats {
    #[backfill(key, expr = "e.tenant_id")]
    pub tenant_id: i64,
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: i64,
}

const ROWS: i64 = 20_000;
const USERS: i64 = 2_000;

/// `events_<name>` with `ROWS` events over `USERS` users, `user_of(i)` the user of the i-th
/// row appended, an index on `user_id` (not covering), and the target table; analysed.
async fn seed(db: &Db, name: &str, user_of: impl Fn(i64) -> i64) {
    seed_without_statistics(db, name, user_of).await;
    analyze(db, &format!("events_{name}")).await;
}

/// [`seed`] without the statistics (and, on PostgreSQL, with autovacuum off for the table, so
/// none appear during the test).
async fn seed_without_statistics(db: &Db, name: &str, user_of: impl Fn(i64) -> i64) {
    let id = match db.engine {
        Engine::Postgres => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        Engine::MySql => "BIGINT AUTO_INCREMENT PRIMARY KEY",
        Engine::Sqlite => "INTEGER PRIMARY KEY",
    };
    db.exec(&format!(
        "CREATE TABLE events_{name} (id {id}, user_id BIGINT NOT NULL, amount BIGINT NOT NULL, \
         note VARCHAR(200), note_length BIGINT){}",
        if db.engine == Engine::Postgres {
            " WITH (autovacuum_enabled = false)"
        } else {
            ""
        }
    ))
    .await;
    for chunk in 0..ROWS / 1_000 {
        let values: Vec<String> = (chunk * 1_000..(chunk + 1) * 1_000)
            .map(|i| format!("({}, {i}, 'note {i}')", user_of(i)))
            .collect();
        db.exec(&format!(
            "INSERT INTO events_{name} (user_id, amount, note) VALUES {}",
            values.join(", ")
        ))
        .await;
    }
    db.exec(&format!(
        "CREATE INDEX events_{name}_user ON events_{name} (user_id)"
    ))
    .await;
    db.exec(&format!(
        "CREATE TABLE stats_{name} (user_id BIGINT PRIMARY KEY, event_count BIGINT, \
         total_amount BIGINT)"
    ))
    .await;
}

/// The engine's statistics of `table`, as an operator would refresh them.
async fn analyze(db: &Db, table: &str) {
    match db.engine {
        Engine::Postgres => db.exec(&format!("VACUUM (ANALYZE) {table}")).await,
        Engine::MySql => db.exec(&format!("ANALYZE TABLE {table}")).await,
        Engine::Sqlite => db.exec("ANALYZE").await,
    };
}

async fn access(db: &Db, def: &'static backfill::Definition) -> AccessPath {
    access_on(&db.pool, db.name(), def).await
}

async fn access_on(pool: &AnyPool, engine: &str, def: &'static backfill::Definition) -> AccessPath {
    let access = pool
        .access_path(def, &RunOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{engine}: {e}"));
    eprintln!("--- {engine} {}:\n{access}", def.name);
    match access {
        SourceAccess::Analysed(path) => *path,
        SourceAccess::NotAnalysed { reason } => {
            panic!("{engine}: {} not analysed: {reason}", def.name)
        }
    }
}

/// A new pool on the same database, as a new `backfill plan` process would open.
async fn reconnect(db: &Db) -> AnyPool {
    match db.engine {
        Engine::Sqlite => AnyPool::Sqlite(sqlx::SqlitePool::connect(&db.url).await.unwrap()),
        Engine::Postgres => AnyPool::Postgres(sqlx::PgPool::connect(&db.url).await.unwrap()),
        Engine::MySql => AnyPool::MySql(sqlx::MySqlPool::connect(&db.url).await.unwrap()),
    }
}

#[tokio::test]
async fn a_scattered_source_gets_the_covering_index_and_then_reads_it() {
    for db in common::engines("access_scattered").await {
        // Consecutive rows belong to users far apart: every user's rows spread over the table.
        seed(&db, "scattered", |i| (i * 7_919) % USERS).await;
        let path = access(&db, ScatteredStats::definition()).await;
        let engine = db.name();

        assert_eq!(path.source, "events_scattered", "{engine}");
        assert_eq!(path.range_key, ["e.user_id"], "{engine}");
        assert_eq!(
            path.key_columns.as_deref(),
            Some(&["user_id".to_string()][..])
        );
        assert_eq!(path.columns_read, ["amount"], "{engine}");
        assert!(
            matches!(path.verdict, Verdict::Scattered { .. }),
            "{engine}: {:?}",
            path.verdict
        );
        let correlation = path.order.correlation.as_ref().expect("a correlation");
        assert!(correlation.value.abs() < 0.5, "{engine}: {correlation:?}");
        let expected_source = match db.engine {
            Engine::Postgres => CorrelationSource::Statistics,
            Engine::MySql | Engine::Sqlite => CorrelationSource::Sample { rows: 10_000 },
        };
        assert_eq!(correlation.source, expected_source, "{engine}");
        assert!(
            !matches!(path.read_plan.access, ReadAccess::IndexOnly { .. }),
            "{engine}: {:?}",
            path.read_plan.access
        );
        let sample = path.sample.as_ref().expect("one range timed");
        assert_eq!((sample.keys, sample.rows), (100, 100), "{engine}");
        let estimate = path.estimate.as_ref().expect("an estimate after ANALYZE");
        assert_eq!(estimate.keys_per_range, 100, "{engine}");
        // 10 rows per key: InnoDB's sampled cardinality overshoots, the key span bounds it.
        assert!(
            (estimate.rows_per_key - 10.0).abs() < 2.0,
            "{engine}: {estimate:?}"
        );
        assert!(
            estimate.pages_per_range_scattered > estimate.pages_per_range_in_order,
            "{engine}: {estimate:?}"
        );
        let size = &path.size;
        assert!(
            size.table_bytes.is_some_and(|b| b > 100_000),
            "{engine}: {size:?}"
        );
        assert!(size.cache.is_some(), "{engine}: {size:?}");

        let index = path.covering_index.as_ref().expect("a covering index");
        assert_eq!(index.name, "events_scattered_user_id_covering", "{engine}");
        let expected = match db.engine {
            Engine::Postgres => vec![
                r#"CREATE INDEX CONCURRENTLY "events_scattered_user_id_covering" ON "events_scattered" ("user_id") INCLUDE ("amount")"#,
                r#"VACUUM (ANALYZE) "events_scattered""#,
            ],
            Engine::MySql => vec![
                "ALTER TABLE `events_scattered` ADD INDEX `events_scattered_user_id_covering` (`user_id`, `amount`), ALGORITHM=INPLACE, LOCK=NONE",
            ],
            Engine::Sqlite => vec![
                r#"CREATE INDEX "events_scattered_user_id_covering" ON "events_scattered" ("user_id", "amount")"#,
                r#"ANALYZE "events_scattered_user_id_covering""#,
            ],
        };
        assert_eq!(index.ddl, expected, "{engine}");

        // The DDL as printed runs on the engine, and the next plan reads the index alone (no
        // other step: PostgreSQL's DDL includes the VACUUM its index-only scans need, SQLite's
        // the ANALYZE of the new index).
        for ddl in &index.ddl {
            db.exec(ddl).await;
        }
        // As `backfill plan` would run after the DDL: a new process, so new connections (an
        // open SQLite connection keeps the statistics it loaded; the servers' do not).
        let fresh = reconnect(&db).await;
        let after = access_on(&fresh, engine, ScatteredStats::definition()).await;
        fresh.close().await;
        assert_eq!(
            after.verdict,
            Verdict::Covered {
                index: index.name.clone()
            },
            "{engine}: {}",
            after.read_plan.explain
        );
        assert_eq!(after.covering_index, None, "{engine}");
        // MySQL/MariaDB: the ranges name the index in a hint (the optimizer's own choice
        // between it and events_scattered_user_id flips with the sampled statistics), and the
        // plan says so; the other engines' planners need none.
        let pinned = (db.engine == Engine::MySql).then(|| index.name.clone());
        assert_eq!(after.pinned_index, pinned, "{engine}");
        assert_eq!(
            after.notes.iter().any(|n| n.contains("index hint")),
            pinned.is_some(),
            "{engine}: {:?}",
            after.notes
        );
        // `plan` explains the first batch's upsert as the run executes it.
        let plan = db
            .plan(ScatteredStats::definition(), &RunOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{engine}: {e}"));
        if db.engine == Engine::MySql {
            assert!(
                plan.explain.contains(&format!("key={}", index.name))
                    && plan.explain.contains("Using index"),
                "{engine}: {}",
                plan.explain
            );
        }

        // Nothing was written: the target is still empty.
        assert_eq!(db.scalar("SELECT count(*) FROM stats_scattered").await, 0);

        // The run (pinned on MySQL/MariaDB) lands on the single statement's recompute.
        let columns = ["user_id", "event_count", "total_amount"];
        db.run(ScatteredStats::definition(), RunOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{engine}: {e}"));
        let ran = db.checksum("stats_scattered", &columns, &["user_id"]).await;
        db.recompute_all(ScatteredStats::definition(), "stats_scattered")
            .await;
        let recomputed = db.checksum("stats_scattered", &columns, &["user_id"]).await;
        assert_eq!(ran, recomputed, "{engine}");
        assert_eq!(ran.0 as i64, USERS, "{engine}");
    }
}

#[tokio::test]
async fn a_source_stored_in_key_order_gets_no_recommendation() {
    for db in common::engines("access_ordered").await {
        // Each user's rows appended together, users in order.
        seed(&db, "ordered", |i| i / (ROWS / USERS)).await;
        db.exec("CREATE TABLE events_copy (id BIGINT PRIMARY KEY, user_id BIGINT, amount BIGINT)")
            .await;
        let engine = db.name();

        let path = access(&db, OrderedStats::definition()).await;
        assert!(
            matches!(path.verdict, Verdict::InKeyOrder { .. }),
            "{engine}: {:?}",
            path.verdict
        );
        let correlation = path.order.correlation.as_ref().expect("a correlation");
        assert!(correlation.value > 0.9, "{engine}: {correlation:?}");
        assert_eq!(path.covering_index, None, "{engine}");

        // Row to row, keyed by the primary key the rows are stored (or appended) in.
        let copy = access(&db, EventCopy::definition()).await;
        assert!(
            matches!(copy.verdict, Verdict::InKeyOrder { .. }),
            "{engine}: {:?}",
            copy.verdict
        );
        assert_eq!(copy.covering_index, None, "{engine}");
        assert!(
            copy.notes.iter().any(|n| n.contains("row to row")),
            "{engine}: {:?}",
            copy.notes
        );
        assert_eq!(copy.columns_read, ["user_id", "amount"], "{engine}");

        // In place from its own rows: the ranges read the rows they update, through the key.
        let own = db
            .pool
            .access_path(NoteLength::definition(), &RunOptions::default())
            .await
            .unwrap();
        let SourceAccess::NotAnalysed { reason } = own else {
            panic!("{engine}: an in-place update of its own rows analysed: {own}");
        };
        assert!(
            reason.contains("in place from its own rows"),
            "{engine}: {reason}"
        );
    }
}

#[tokio::test]
async fn without_statistics_postgres_asks_for_analyze_before_any_ddl() {
    let Some(db) = common::postgres("access_no_stats").await else {
        return;
    };
    seed_without_statistics(&db, "fresh", |i| (i * 7_919) % USERS).await;
    let path = access(&db, FreshStats::definition()).await;
    let Verdict::Unknown { reason } = &path.verdict else {
        panic!("unknown without pg_stats: {:?}", path.verdict);
    };
    assert!(reason.contains("run ANALYZE events_fresh"), "{reason}");
    assert_eq!(path.order.correlation, None);
    assert_eq!(path.covering_index, None);
    assert!(path.sample.is_some(), "the range is still read and timed");

    analyze(&db, "events_fresh").await;
    let path = access(&db, FreshStats::definition()).await;
    assert!(
        matches!(path.verdict, Verdict::Scattered { .. }),
        "{:?}",
        path.verdict
    );
    assert!(path.covering_index.is_some());
}

#[tokio::test]
async fn a_composite_key_gets_an_index_on_both_parts() {
    for db in common::engines("access_composite").await {
        let engine = db.name();
        db.exec(
            "CREATE TABLE events_tenant (id BIGINT NOT NULL PRIMARY KEY, tenant_id BIGINT NOT NULL, \
             user_id BIGINT NOT NULL, amount BIGINT NOT NULL)",
        )
        .await;
        for chunk in 0..ROWS / 1_000 {
            let values: Vec<String> = (chunk * 1_000..(chunk + 1) * 1_000)
                .map(|i| {
                    let spread = (i * 7_919) % ROWS;
                    format!("({i}, {}, {}, {i})", spread % 20, spread % 500)
                })
                .collect();
            db.exec(&format!(
                "INSERT INTO events_tenant (id, tenant_id, user_id, amount) VALUES {}",
                values.join(", ")
            ))
            .await;
        }
        db.exec(
            "CREATE TABLE stats_tenant (tenant_id BIGINT NOT NULL, user_id BIGINT NOT NULL, \
             total_amount BIGINT, PRIMARY KEY (tenant_id, user_id))",
        )
        .await;
        analyze(&db, "events_tenant").await;

        let path = access(&db, TenantStats::definition()).await;
        assert_eq!(path.range_key, ["e.tenant_id", "e.user_id"], "{engine}");
        assert!(
            matches!(path.verdict, Verdict::Scattered { .. }),
            "{engine}: {:?}",
            path.verdict
        );
        let index = path.covering_index.as_ref().expect("a covering index");
        assert_eq!(
            (index.key.as_slice(), index.include.as_slice()),
            (
                &["tenant_id".to_string(), "user_id".to_string()][..],
                &["amount".to_string()][..]
            ),
            "{engine}"
        );
        for ddl in &index.ddl {
            db.exec(ddl).await;
        }
        let fresh = reconnect(&db).await;
        let after = access_on(&fresh, engine, TenantStats::definition()).await;
        fresh.close().await;
        assert_eq!(
            after.verdict,
            Verdict::Covered {
                index: index.name.clone()
            },
            "{engine}: {}",
            after.read_plan.explain
        );
    }
}

#[tokio::test]
async fn a_source_larger_than_the_page_cache_is_said_to_be() {
    let db = common::sqlite("access_small_cache").await;
    seed(&db, "scattered", |i| (i * 7_919) % USERS).await;
    // A 64 KiB page cache, as `PRAGMA cache_size = -64` gives a connection.
    let options: sqlx::sqlite::SqliteConnectOptions = db.url.parse().unwrap();
    let small = sqlx::SqlitePool::connect_with(options.pragma("cache_size", "-64"))
        .await
        .unwrap();
    let pool = AnyPool::Sqlite(small);
    let path = access_on(&pool, "sqlite", ScatteredStats::definition()).await;
    let cache = path.size.cache.as_ref().expect("the page cache");
    assert_eq!(
        (cache.setting.as_str(), cache.bytes),
        ("cache_size", 64 * 1024)
    );
    assert!(
        path.to_string()
            .contains("cache_size 64.0 kB: the source is larger"),
        "{path}"
    );
    pool.close().await;
}
