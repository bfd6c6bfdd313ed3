//! Unsigned and binary keys, and the repair of keys that left the source: `u64` key fields
//! over MariaDB `BIGINT UNSIGNED`, `Vec<u8>` key fields over binary columns on every engine
//! (bound and compared byte by byte, stored in the cursor as hex), and
//! `RunOptions::delete_extra`, which deletes the target keys no source row produces
//! (`Report::rows_deleted`). Each lands on the single-statement recompute, verifies clean and
//! re-runs without writing; the property tests backfill random binary (and, on MariaDB,
//! unsigned) keys with random batch sizes and stops.

mod common;

use backfill::{Backfill, Engine, RunOptions, StopReason};
use common::types::{self, insert, run, run_done, verify, Kind, Shape, Val};
use common::Db;

/// A `BIGINT UNSIGNED` key through a `u64` field.
#[derive(Backfill, Debug)]
#[backfill(table = "u_counts", from = "u_src", batch_size = 2, engines = "mysql")]
pub struct U64Counts {
    #[backfill(key)]
    pub k: u64,
    #[backfill(expr = "count(*)")]
    pub n: i64,
}

/// A binary key through a `Vec<u8>` field.
#[derive(Backfill, Debug)]
#[backfill(table = "bin_counts", from = "bin_src", batch_size = 2)]
pub struct BinCounts {
    #[backfill(key)]
    pub k: Vec<u8>,
    #[backfill(expr = "count(*)")]
    pub n: i64,
}

/// Rows per key, one key a batch (keys that left the source).
#[derive(Backfill, Debug)]
#[backfill(table = "extra_counts", from = "extra_src", batch_size = 1)]
pub struct ExtraCounts {
    #[backfill(key)]
    pub k: i64,
    #[backfill(expr = "count(*)")]
    pub n: i64,
}

/// Property shape: a binary key.
#[derive(Backfill, Debug)]
#[backfill(table = "p_bytes", from = "p_bytes_src")]
pub struct PBytes {
    #[backfill(key)]
    pub k: Vec<u8>,
    #[backfill(expr = "count(*)")]
    pub n: i64,
    #[backfill(expr = "max(v)")]
    pub hi: Option<i64>,
}

/// Property shape: an unsigned 64-bit key (MariaDB).
#[derive(Backfill, Debug)]
#[backfill(table = "p_u64", from = "p_u64_src", engines = "mysql")]
pub struct PU64 {
    #[backfill(key)]
    pub k: u64,
    #[backfill(expr = "count(*)")]
    pub n: i64,
    #[backfill(expr = "max(v)")]
    pub hi: Option<i64>,
}

fn int_type(db: &Db) -> &'static str {
    match db.engine {
        Engine::Sqlite => "INTEGER",
        _ => "BIGINT",
    }
}

/// Backfills `def` into `table` in batches of `batch`, first stopped after one batch and
/// resumed, then checks it equals the recompute, verifies clean and re-runs writing nothing.
async fn converges(
    db: &Db,
    def: &'static backfill::Definition,
    table: &str,
    cols: &[(&str, Kind)],
    batch: u64,
) {
    let what = format!("{}: {} batch size {batch}", db.name(), def.name);
    db.exec(&format!("DELETE FROM {}", db.quote(table))).await;
    let first = run(
        db,
        def,
        RunOptions::default()
            .restart(true)
            .batch_size(batch)
            .max_batches(1),
    )
    .await
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(first.stop, StopReason::MaxBatches, "{what}");
    run_done(db, def, RunOptions::default().batch_size(batch)).await;
    let backfilled = types::rows(db, table, cols).await;
    let report = verify(db, def).await;
    assert!(report.is_clean(), "{what}: {report}");
    let again = run_done(
        db,
        def,
        RunOptions::default().restart(true).batch_size(batch),
    )
    .await;
    assert_eq!(again.rows_written, 0, "{what}: a re-run rewrites nothing");
    db.recompute_all(def, table).await;
    let recomputed = types::rows(db, table, cols).await;
    assert_eq!(
        types::checksum(&backfilled),
        types::checksum(&recomputed),
        "{what}:\nbackfilled: {backfilled:?}\nrecomputed: {recomputed:?}"
    );
}

#[tokio::test]
async fn mysql_u64_key_over_bigint_unsigned_runs_to_completion() {
    let Some(db) = common::mysql("types_u64_key").await else {
        return;
    };
    db.exec_all(
        "CREATE TABLE u_src (id BIGINT PRIMARY KEY, k BIGINT UNSIGNED NULL);
         CREATE TABLE u_counts (k BIGINT UNSIGNED PRIMARY KEY, n BIGINT NOT NULL);
         INSERT INTO u_src VALUES (1, 1), (2, 2), (3, 3), (4, 9223372036854775808), (5, 18446744073709551615), (6, 2), (7, 18446744073709551615), (8, NULL)",
    )
    .await;
    let def = U64Counts::definition();
    types::check(&db, def)
        .await
        .expect("a u64 key field over BIGINT UNSIGNED is accepted");
    let cols = [("k", Kind::Num), ("n", Kind::Num)];
    for batch in [1, 2] {
        converges(&db, def, "u_counts", &cols, batch).await;
        assert_eq!(
            types::rows(&db, "u_counts", &cols).await,
            [
                "18446744073709551615|2",
                "1|1",
                "2|2",
                "3|1",
                "9223372036854775808|1"
            ],
        );
    }
}

#[tokio::test]
async fn vec_u8_key_over_binary_columns_runs_on_every_engine() {
    types::each(common::engines("types_bytes_key").await, |db| async move {
        let column_types: &[&str] = match db.engine {
            Engine::MySql => &["VARBINARY(16)", "BINARY(2)"],
            Engine::Postgres => &["bytea"],
            Engine::Sqlite => &["BLOB"],
        };
        let keys: Vec<Vec<u8>> = vec![
            b"a".to_vec(),
            vec![0x61, 0xFE],
            vec![0x61, 0xFF],
            b"b".to_vec(),
            vec![0x61, 0xFE],
            vec![0x00],
            vec![0x00, 0x61],
            vec![0xFF, 0xFF],
            vec![0x80],
        ];
        let def = BinCounts::definition();
        for ty in column_types {
            types::drop_tables(&db, &["bin_src", "bin_counts"]).await;
            let int = int_type(&db);
            db.exec_all(&format!(
                "CREATE TABLE bin_src (id {int} PRIMARY KEY, k {ty} NULL);
                 CREATE TABLE bin_counts (k {ty} NOT NULL PRIMARY KEY, n {int} NOT NULL)"
            ))
            .await;
            let rows: Vec<Vec<Val>> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| vec![Val::Int(i as i64), Val::Bytes(k.clone())])
                .collect();
            insert(&db, "bin_src", &["id", "k"], &rows).await;
            types::check(&db, def)
                .await
                .unwrap_or_else(|e| panic!("{}: {ty}: a Vec<u8> key is accepted: {e}", db.name()));
            let cols = [("k", Kind::Bytes), ("n", Kind::Num)];
            for batch in [1, 2] {
                converges(&db, def, "bin_counts", &cols, batch).await;
                assert_eq!(
                    types::count(&db, "bin_counts").await,
                    8,
                    "{}: {ty}",
                    db.name()
                );
            }
        }
    })
    .await;
}

/// Source keys 10, 20 (twice), 30; the target also holds 5 (below the first source key), 15
/// (between two), 35 and 40 (above the last), and a wrong count for 20.
async fn extra_tables(db: &Db) {
    let int = int_type(db);
    types::drop_tables(db, &["extra_src", "extra_counts"]).await;
    db.exec_all(&format!(
        "CREATE TABLE extra_src (id {int} PRIMARY KEY, k {int} NULL);
         CREATE TABLE extra_counts (k {int} PRIMARY KEY, n {int} NOT NULL);
         INSERT INTO extra_src VALUES (1, 10), (2, 20), (3, 20), (4, 30), (5, NULL);
         INSERT INTO extra_counts VALUES (5, 1), (15, 1), (20, 9), (35, 1), (40, 7)"
    ))
    .await;
}

#[tokio::test]
async fn delete_extra_removes_keys_that_left_the_source() {
    types::each(
        common::engines("types_delete_extra").await,
        |db| async move {
            let def = ExtraCounts::definition();
            let cols = [("k", Kind::Num), ("n", Kind::Num)];
            let expected = ["10|1", "20|2", "30|1"];
            for batch in [1, 2, 100] {
                let what = format!("{}: batch size {batch}", db.name());
                extra_tables(&db).await;
                let before = verify(&db, def).await;
                assert_eq!(
                    (before.missing, before.extra, before.different),
                    (2, 4, 1),
                    "{what}: {before}"
                );
                let report = run_done(
                    &db,
                    def,
                    RunOptions::default()
                        .restart(true)
                        .delete_extra(true)
                        .batch_size(batch),
                )
                .await;
                assert_eq!(report.rows_deleted, 4, "{what}: 5, 15, 35 and 40");
                assert_eq!(
                    types::rows(&db, "extra_counts", &cols).await,
                    expected,
                    "{what}"
                );
                let after = verify(&db, def).await;
                assert!(after.is_clean(), "{what}: {after}");
                let again = run_done(
                    &db,
                    def,
                    RunOptions::default().restart(true).delete_extra(true),
                )
                .await;
                assert_eq!(
                    (again.rows_written, again.rows_deleted),
                    (0, 0),
                    "{what}: a re-run changes nothing"
                );
            }

            // Stopped after every batch and resumed: the deletes add up, the tail included.
            extra_tables(&db).await;
            let mut deleted = 0;
            let mut finished = false;
            for i in 0..10 {
                let report = run(
                    &db,
                    def,
                    RunOptions::default()
                        .restart(i == 0)
                        .delete_extra(true)
                        .max_batches(1),
                )
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
                deleted += report.rows_deleted;
                if report.finished() {
                    finished = true;
                    break;
                }
            }
            assert!(finished, "{}: not done after 10 one-batch runs", db.name());
            assert_eq!(deleted, 4, "{}", db.name());
            assert_eq!(
                types::rows(&db, "extra_counts", &cols).await,
                expected,
                "{}",
                db.name()
            );
            assert!(verify(&db, def).await.is_clean(), "{}", db.name());

            // An empty source: everything in the target is extra.
            extra_tables(&db).await;
            db.exec("DELETE FROM extra_src").await;
            let report = run_done(
                &db,
                def,
                RunOptions::default().restart(true).delete_extra(true),
            )
            .await;
            assert_eq!(report.rows_deleted, 5, "{}", db.name());
            assert_eq!(types::count(&db, "extra_counts").await, 0, "{}", db.name());
            assert!(verify(&db, def).await.is_clean(), "{}", db.name());

            // Without the option nothing is deleted.
            extra_tables(&db).await;
            let report = run_done(&db, def, RunOptions::default().restart(true)).await;
            assert_eq!(report.rows_deleted, 0, "{}", db.name());
            assert_eq!(types::count(&db, "extra_counts").await, 7, "{}", db.name());
            assert_eq!(verify(&db, def).await.extra, 4, "{}", db.name());
        },
    )
    .await;
}

const CASES: u64 = 12;

async fn property_on(db: Db, engine_seed: u64) {
    let started = std::time::Instant::now();
    let bytes = match db.engine {
        Engine::Postgres => "bytea",
        Engine::MySql => "VARBINARY(16)",
        Engine::Sqlite => "BLOB",
    };
    let shape = Shape {
        name: "binary key",
        def: PBytes::definition(),
        src: "p_bytes_src",
        target: "p_bytes",
        keys: vec![("k", bytes.to_string(), Kind::Bytes)],
        exact: true,
    };
    let mut total = types::property(&db, &shape, CASES, engine_seed * 100 + 50, true, &|rng| {
        vec![Val::Bytes(types::bytes_key(rng))]
    })
    .await;
    eprintln!("{}: binary key: {total} cases passed", db.name());
    if db.engine == Engine::MySql {
        let shape = Shape {
            name: "unsigned 64-bit key",
            def: PU64::definition(),
            src: "p_u64_src",
            target: "p_u64",
            keys: vec![("k", "BIGINT UNSIGNED".to_string(), Kind::Num)],
            exact: true,
        };
        let n = types::property(&db, &shape, CASES, engine_seed * 100 + 51, true, &|rng| {
            vec![Val::U64(types::u64_key(rng))]
        })
        .await;
        eprintln!("{}: unsigned 64-bit key: {n} cases passed", db.name());
        total += n;
    }
    eprintln!(
        "{}: {total} property cases passed in {:?}",
        db.name(),
        started.elapsed()
    );
}

#[tokio::test]
async fn property_random_binary_keys_sqlite() {
    property_on(common::sqlite("types_new_property").await, 1).await;
}

#[tokio::test]
async fn property_random_binary_keys_postgres() {
    if let Some(db) = common::postgres("types_new_property").await {
        property_on(db, 2).await;
    }
}

#[tokio::test]
async fn property_random_binary_and_unsigned_keys_mysql() {
    if let Some(db) = common::mysql("types_new_property").await {
        property_on(db, 3).await;
    }
}
