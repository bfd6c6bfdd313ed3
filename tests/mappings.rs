//! The other shapes of mapping on every engine: a composite (integer, text) key over a join
//! with a filter, a 1:1 copy into reserved-word and mixed-case names, merged columns and
//! write-once rows. Each lands on what the single-statement recompute gives.

mod common;

use backfill::{Backfill, Engine, RunOptions, StopReason};
use common::Db;

/// Revenue per (shop, region) from orders joined to shops, cancelled orders left out.
#[derive(Backfill, Debug)]
#[backfill(
    table = "region_revenue",
    from = "orders o JOIN shops s ON s.id = o.shop_id",
    filter = "o.status <> 'cancelled'",
    batch_size = 7
)]
pub struct RegionRevenue {
    #[backfill(key, expr = "o.shop_id")]
    pub shop_id: i64,
    #[backfill(key, expr = "s.region")]
    pub region: String,
    #[backfill(expr = "count(*)")]
    pub orders: i64,
    #[backfill(expr = "sum(o.total)")]
    pub revenue: i64,
}

/// A 1:1 copy into a mixed-case table with a reserved-word column.
#[derive(Backfill, Debug)]
#[backfill(table = "ItemCopy", from = "orders", batch_size = 9)]
pub struct ItemCopy {
    #[backfill(key, expr = "id")]
    pub id: i64,
    #[backfill(column = "order", expr = "total * 10")]
    pub order_value: i64,
    #[backfill(column = "Label", expr = "status")]
    pub label: String,
}

/// Merged and write-once columns: first and last order per shop, and a note kept as written.
#[derive(Backfill, Debug)]
#[backfill(table = "shop_seen", from = "orders", batch_size = 4)]
pub struct ShopSeen {
    #[backfill(key)]
    pub shop_id: i64,
    #[backfill(expr = "max(total)", merge = "greatest")]
    pub biggest: i64,
    #[backfill(expr = "min(total)", merge = "least")]
    pub smallest: i64,
    #[backfill(expr = "'first seen by backfill'", merge = "keep")]
    pub note: String,
}

/// Write-once seed rows: existing rows are never touched.
#[derive(Backfill, Debug)]
#[backfill(
    table = "shop_settings",
    from = "shops",
    on_conflict = "nothing",
    batch_size = 5
)]
pub struct ShopSettings {
    #[backfill(key, expr = "id")]
    pub shop_id: i64,
    #[backfill(expr = "'daily'")]
    pub report_every: String,
}

async fn create(db: &Db) {
    let (text, int) = match db.engine {
        Engine::MySql => ("VARCHAR(64)", "BIGINT"),
        Engine::Postgres => ("TEXT", "BIGINT"),
        Engine::Sqlite => ("TEXT", "INTEGER"),
    };
    let q = |s: &str| db.quote(s);
    let script = format!(
        "CREATE TABLE shops (id {int} PRIMARY KEY, region {text} NOT NULL);
         CREATE TABLE orders (id {int} PRIMARY KEY, shop_id {int} NOT NULL, status {text} NOT NULL, total {int} NOT NULL);
         CREATE TABLE region_revenue (shop_id {int} NOT NULL, region {text} NOT NULL, orders {int} NOT NULL, revenue {int} NOT NULL, PRIMARY KEY (shop_id, region));
         CREATE TABLE {item} (id {int} PRIMARY KEY, {order} {int} NOT NULL, {label} {text} NOT NULL);
         CREATE TABLE shop_seen (shop_id {int} PRIMARY KEY, biggest {int} NOT NULL, smallest {int} NOT NULL, note {text} NOT NULL);
         CREATE TABLE shop_settings (shop_id {int} PRIMARY KEY, report_every {text} NOT NULL)",
        item = q("ItemCopy"),
        order = q("order"),
        label = q("Label"),
    );
    db.exec_all(&script).await;
    let regions = ["eu", "us", "apac"];
    let mut shops = Vec::new();
    for id in 1..=23 {
        shops.push(format!("({id}, '{}')", regions[id % 3]));
    }
    db.exec(&format!(
        "INSERT INTO shops (id, region) VALUES {}",
        shops.join(", ")
    ))
    .await;
    let statuses = ["paid", "cancelled", "shipped", "paid"];
    let mut orders = Vec::new();
    for id in 1..=200_i64 {
        orders.push(format!(
            "({id}, {}, '{}', {})",
            id * 13 % 23 + 1,
            statuses[(id % 4) as usize],
            id * 37 % 500
        ));
    }
    db.exec(&format!(
        "INSERT INTO orders (id, shop_id, status, total) VALUES {}",
        orders.join(", ")
    ))
    .await;
}

async fn run_and_compare(
    db: &Db,
    def: &'static backfill::Definition,
    table: &str,
    cols: &[&str],
    order: &[&str],
) {
    let report = db.run(def, RunOptions::default()).await.unwrap();
    assert_eq!(report.stop, StopReason::Done, "{}: {}", db.name(), def.name);
    let backfilled = db.checksum(table, cols, order).await;
    db.recompute_all(def, table).await;
    let recomputed = db.checksum(table, cols, order).await;
    assert!(backfilled.0 > 0, "{}: {} wrote rows", db.name(), def.name);
    assert_eq!(backfilled, recomputed, "{}: {}", db.name(), def.name);
    let verify = db.verify(def).await.unwrap();
    assert!(verify.is_clean(), "{}: {}: {verify}", db.name(), def.name);
}

#[tokio::test]
async fn composite_key_over_a_join_with_a_filter() {
    for db in common::engines("composite").await {
        create(&db).await;
        let def = RegionRevenue::definition();
        run_and_compare(
            &db,
            def,
            "region_revenue",
            &["shop_id", "region", "orders", "revenue"],
            &["shop_id", "region"],
        )
        .await;
        let cancelled_left_out = db
            .scalar("SELECT count(*) FROM orders o WHERE o.status <> 'cancelled' AND EXISTS (SELECT 1 FROM region_revenue r WHERE r.shop_id = o.shop_id AND r.orders > 0)")
            .await;
        assert_eq!(
            cancelled_left_out,
            150,
            "{}: 200 orders, 50 cancelled",
            db.name()
        );
        // Interrupted mid-way and resumed from a (shop_id, region) cursor: identical.
        let expected = db
            .checksum(
                "region_revenue",
                &["shop_id", "region", "orders", "revenue"],
                &["shop_id", "region"],
            )
            .await;
        db.exec("DELETE FROM region_revenue").await;
        let first = db
            .run(def, RunOptions::default().restart(true).max_batches(2))
            .await
            .unwrap();
        assert_eq!(first.keys, 14, "{}", db.name());
        let cursor = first.cursor.clone().expect("a cursor after two batches");
        assert_eq!(
            cursor.0.len(),
            2,
            "{}: composite cursor {cursor}",
            db.name()
        );
        db.run(def, RunOptions::default()).await.unwrap();
        let resumed = db
            .checksum(
                "region_revenue",
                &["shop_id", "region", "orders", "revenue"],
                &["shop_id", "region"],
            )
            .await;
        assert_eq!(resumed, expected, "{}", db.name());
    }
}

#[tokio::test]
async fn copy_into_reserved_and_mixed_case_names() {
    for db in common::engines("copy").await {
        create(&db).await;
        let def = ItemCopy::definition();
        run_and_compare(&db, def, "ItemCopy", &["id", "order", "Label"], &["id"]).await;
        assert_eq!(
            db.scalar(&format!("SELECT count(*) FROM {}", db.quote("ItemCopy")))
                .await,
            200
        );
    }
}

#[tokio::test]
async fn merged_and_write_once_columns_converge() {
    for db in common::engines("merges").await {
        create(&db).await;
        let seen = ShopSeen::definition();
        db.run(seen, RunOptions::default()).await.unwrap();
        // The application moved some values past what the source says, and wrote notes.
        db.exec(
            "UPDATE shop_seen SET biggest = 10000, smallest = -5, note = 'kept' WHERE shop_id <= 3",
        )
        .await;
        let cols = ["shop_id", "biggest", "smallest", "note"];
        let before = db.checksum("shop_seen", &cols, &["shop_id"]).await;
        let rerun = db
            .run(seen, RunOptions::default().restart(true))
            .await
            .unwrap();
        assert_eq!(
            rerun.rows_written,
            0,
            "{}: merges converge, nothing rewritten",
            db.name()
        );
        assert_eq!(
            db.checksum("shop_seen", &cols, &["shop_id"]).await,
            before,
            "{}",
            db.name()
        );
        // A stored value below the recomputed maximum is raised, never lowered.
        db.exec("UPDATE shop_seen SET biggest = -1 WHERE shop_id = 4")
            .await;
        let fix = db
            .run(seen, RunOptions::default().restart(true))
            .await
            .unwrap();
        assert_eq!(fix.rows_written, 1, "{}", db.name());
        assert_eq!(
            db.scalar("SELECT count(*) FROM shop_seen WHERE note = 'kept'")
                .await,
            3,
            "{}: kept column untouched",
            db.name()
        );

        let settings = ShopSettings::definition();
        db.exec("INSERT INTO shop_settings (shop_id, report_every) VALUES (2, 'weekly')")
            .await;
        let report = db.run(settings, RunOptions::default()).await.unwrap();
        assert_eq!(report.keys, 23, "{}", db.name());
        assert_eq!(
            report.rows_written,
            22,
            "{}: existing row left alone",
            db.name()
        );
        assert_eq!(
            db.strings("SELECT report_every FROM shop_settings WHERE shop_id = 2")
                .await,
            vec!["weekly".to_string()],
            "{}",
            db.name()
        );
        let again = db
            .run(settings, RunOptions::default().restart(true))
            .await
            .unwrap();
        assert_eq!(again.rows_written, 0, "{}", db.name());
    }
}

/// A row-to-row copy keyed by the user over a join that fans out (a user with two orders),
/// declared `source_key_unique` wrongly: the derive takes the declaration, the run catches it.
#[derive(Backfill, Debug)]
#[backfill(
    table = "last_order",
    from = "users u JOIN orders o ON o.user_id = u.id",
    source_key_unique,
    batch_size = 2
)]
pub struct LastOrder {
    #[backfill(key, expr = "u.id")]
    pub user_id: i64,
    #[backfill(expr = "o.total")]
    pub total: i64,
}

/// The same fan-out, filling an existing column in place.
#[derive(Backfill, Debug)]
#[backfill(
    table = "users",
    from = "users u JOIN orders o ON o.user_id = u.id",
    in_place,
    source_key_unique,
    batch_size = 2
)]
pub struct UserLastTotal {
    #[backfill(key, expr = "u.id")]
    pub id: i64,
    #[backfill(expr = "o.total")]
    pub last_total: Option<i64>,
}

#[tokio::test]
async fn a_key_that_several_source_rows_produce_stops_the_run_naming_it() {
    for db in common::engines("mappings_duplicate_keys").await {
        let name = db.name();
        db.exec_all(
            "CREATE TABLE users (id BIGINT PRIMARY KEY, last_total BIGINT NULL);
             CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, total BIGINT NOT NULL);
             CREATE TABLE last_order (user_id BIGINT PRIMARY KEY, total BIGINT NOT NULL);
             INSERT INTO users (id) VALUES (1), (2), (3), (4);
             INSERT INTO orders VALUES (10, 1, 100), (11, 2, 200), (12, 3, 300), (13, 3, 301), (14, 4, 400)",
        )
        .await;
        for (def, table, column) in [
            (LastOrder::definition(), "last_order", "total"),
            (UserLastTotal::definition(), "users", "last_total"),
        ] {
            let error = db
                .run(def, RunOptions::default())
                .await
                .expect_err("a fan-out must stop the run");
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("2 source rows produce key 3 of {table}")),
                "{name}: {message}"
            );
            assert!(
                matches!(error, backfill::Error::DuplicateKey { .. }),
                "{name}"
            );
            // The first range (users 1 and 2) committed; the range holding user 3 wrote
            // nothing, and the job resumes there.
            let written = db
                .scalar(&format!(
                    "SELECT count(*) FROM {table} WHERE {column} IS NOT NULL"
                ))
                .await;
            assert_eq!(written, 2, "{name}: {table}");
            let cursor = db
                .strings(&format!(
                    "SELECT {} FROM backfill_progress WHERE job = '{}'",
                    db.quote("cursor"),
                    def.job
                ))
                .await;
            assert_eq!(cursor, ["[2]"], "{name}: {table}");
        }
        // Once the source yields one row per key, the same job finishes from its cursor.
        db.exec("DELETE FROM orders WHERE id = 13").await;
        for def in [LastOrder::definition(), UserLastTotal::definition()] {
            let report = db.run(def, RunOptions::default()).await.unwrap();
            assert_eq!(report.stop, StopReason::Done, "{name}");
            assert!(db.verify(def).await.unwrap().is_clean(), "{name}");
        }
        assert_eq!(
            db.strings("SELECT CAST(total AS CHAR) FROM last_order ORDER BY user_id")
                .await
                .len(),
            4,
            "{name}"
        );
    }
}

#[test]
fn the_runtime_recomputes_the_fingerprint_the_derive_stored() {
    // One `Statements` struct and one fingerprint function serve the derive (owned strings)
    // and the runtime (`'static` data): the same hash on both sides of the compile.
    for definition in [
        RegionRevenue::definition(),
        ItemCopy::definition(),
        ShopSeen::definition(),
        ShopSettings::definition(),
    ] {
        for engine in Engine::ALL {
            let statements = definition
                .statements(engine)
                .expect("generated for every engine");
            assert_eq!(
                backfill::definition::fingerprint(statements),
                statements.fingerprint,
                "{} on {engine}",
                definition.name
            );
        }
    }
}
