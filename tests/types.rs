//! Key and column types whose comparison is not byte order: case-insensitive keys (`citext`),
//! unsigned and binary key columns read through a field of another type, fractional key
//! expressions, value columns that compare case- or space-insensitively, rounding columns,
//! collations that differ between source and target, a MariaDB database whose default charset
//! is latin1, keys that left the source; then property tests that backfill random keys of every
//! key type with random batch sizes and random stops and compare the result with the
//! single-statement recompute. Each test runs on every engine the behaviour applies to; a run
//! that could loop forever is bounded and fails with a message saying so.

mod common;

use backfill::{Backfill, Engine, KeyValue, RunOptions, StopReason};
use common::types::{self, check, insert, run, run_done, verify, Kind, Shape, Val};
use common::Db;

/// Rows per `citext` key: 'A' and 'a' are one key.
#[derive(Backfill, Debug)]
#[backfill(table = "ci_counts", from = "ci_src", engines = "postgres")]
pub struct CiCounts {
    #[backfill(key)]
    pub k: String,
    #[backfill(expr = "count(*)")]
    pub n: i64,
}

/// A `BIGINT UNSIGNED` key read through an `i64` field.
#[derive(Backfill, Debug)]
#[backfill(table = "u_counts", from = "u_src", batch_size = 2, engines = "mysql")]
pub struct UnsignedAsI64 {
    #[backfill(key)]
    pub k: i64,
    #[backfill(expr = "count(*)")]
    pub n: i64,
}

/// A binary key column read through a `String` field.
#[derive(Backfill, Debug)]
#[backfill(table = "bin_counts", from = "bin_src", batch_size = 2)]
pub struct BinaryAsString {
    #[backfill(key)]
    pub k: String,
    #[backfill(expr = "count(*)")]
    pub n: i64,
}

/// A key expression that yields fractions, read through an integer field.
#[derive(Backfill, Debug)]
#[backfill(
    table = "half_counts",
    from = "half_src",
    batch_size = 2,
    engines = "postgres, mysql"
)]
pub struct HalfKey {
    #[backfill(key, postgres = "x / 2.0", mysql = "x / 2")]
    pub half_x: i64,
    #[backfill(expr = "count(*)")]
    pub n: i64,
}

/// A `numeric` source column with fractions as the key of an integer field.
#[derive(Backfill, Debug)]
#[backfill(
    table = "half_counts",
    from = "num_src",
    batch_size = 2,
    engines = "postgres",
    job = "numeric_key"
)]
pub struct NumericKey {
    #[backfill(key, expr = "amount")]
    pub half_x: i64,
    #[backfill(expr = "count(*)")]
    pub n: i64,
}

/// Text value columns whose `=` ignores case, accents or trailing spaces.
#[derive(Backfill, Debug)]
#[backfill(table = "ci_values", from = "ci_values_src", batch_size = 2)]
pub struct CiValues {
    #[backfill(key)]
    pub id: i64,
    pub a: String,
    pub b: String,
}

/// An average stored in a column that rounds it.
#[derive(Backfill, Debug)]
#[backfill(
    table = "avg_out",
    from = "avg_src",
    batch_size = 2,
    engines = "postgres, mysql"
)]
pub struct Average {
    #[backfill(key)]
    pub g: i64,
    #[backfill(expr = "avg(x)")]
    pub a: f64,
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

/// A text key whose source and target columns have different collations.
#[derive(Backfill, Debug)]
#[backfill(
    table = "coll_counts",
    from = "coll_src",
    batch_size = 2,
    engines = "postgres, mysql"
)]
pub struct CollCounts {
    #[backfill(key, expr = "name")]
    pub k: String,
    #[backfill(expr = "count(*)")]
    pub n: i64,
}

/// The same mapping with the key expression in the target's collation.
#[derive(Backfill, Debug)]
#[backfill(
    table = "coll_counts",
    from = "coll_src",
    batch_size = 2,
    engines = "postgres, mysql",
    job = "coll_counts_collated"
)]
pub struct CollCountsCollated {
    // `k COLLATE "C"` over a source column `k` is refused at compile time ("uses `k`, the
    // column this field writes"), even for a key field and even qualified by an alias
    // (`s.k COLLATE "C"`): the source column is named `name` here.
    #[backfill(
        key,
        postgres = "name COLLATE \"C\"",
        mysql = "name COLLATE utf8mb4_general_ci"
    )]
    pub k: String,
    #[backfill(expr = "count(*)")]
    pub n: i64,
}

/// A text key on MariaDB (non-ASCII, long).
#[derive(Backfill, Debug)]
#[backfill(
    table = "city_counts",
    from = "city_src",
    batch_size = 1,
    engines = "mysql"
)]
pub struct CityCounts {
    #[backfill(key)]
    pub k: String,
    #[backfill(expr = "count(*)")]
    pub n: i64,
}

/// Property shapes: `n = count(*)`, `hi = max(v)` grouped by the key.
#[derive(Backfill, Debug)]
#[backfill(table = "p_int", from = "p_int_src")]
pub struct PInt {
    #[backfill(key)]
    pub k: i64,
    #[backfill(expr = "count(*)")]
    pub n: i64,
    #[backfill(expr = "max(v)")]
    pub hi: Option<i64>,
}

/// A text key in the engine's default collation.
#[derive(Backfill, Debug)]
#[backfill(table = "p_text", from = "p_text_src")]
pub struct PText {
    #[backfill(key)]
    pub k: String,
    #[backfill(expr = "count(*)")]
    pub n: i64,
    #[backfill(expr = "max(v)")]
    pub hi: Option<i64>,
}

/// A text key in a case-insensitive collation.
#[derive(Backfill, Debug)]
#[backfill(table = "p_ci", from = "p_ci_src")]
pub struct PCi {
    #[backfill(key)]
    pub k: String,
    #[backfill(expr = "count(*)")]
    pub n: i64,
    #[backfill(expr = "max(v)")]
    pub hi: Option<i64>,
}

/// A text key in another collation (ICU on PostgreSQL, `utf8mb4_bin` on MariaDB, `RTRIM` on
/// SQLite).
#[derive(Backfill, Debug)]
#[backfill(table = "p_coll", from = "p_coll_src")]
pub struct PColl {
    #[backfill(key)]
    pub k: String,
    #[backfill(expr = "count(*)")]
    pub n: i64,
    #[backfill(expr = "max(v)")]
    pub hi: Option<i64>,
}

/// A composite (integer, text) key.
#[derive(Backfill, Debug)]
#[backfill(table = "p_comp", from = "p_comp_src")]
pub struct PComp {
    #[backfill(key)]
    pub a: i64,
    #[backfill(key)]
    pub b: String,
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

/// `lower(k) = n` per row of a `citext`-keyed table, in key order.
async fn folded_counts(db: &Db, table: &str) -> Vec<String> {
    db.strings(&format!(
        "SELECT lower(k::text) || '=' || n FROM {table} ORDER BY lower(k::text) COLLATE \"C\""
    ))
    .await
}

async fn create_ci_tables(db: &Db) {
    types::drop_tables(db, &["ci_src", "ci_counts"]).await;
    db.exec_all(
        "CREATE TABLE ci_src (id bigint PRIMARY KEY, k public.citext);
         CREATE TABLE ci_counts (k public.citext PRIMARY KEY, n bigint NOT NULL)",
    )
    .await;
}

#[tokio::test]
async fn citext_key_counts_case_variants_as_one_key() {
    let Some(db) = common::postgres("types_citext_key").await else {
        return;
    };
    types::ensure_citext(&db).await;
    let def = CiCounts::definition();
    for batch in [1, 2] {
        create_ci_tables(&db).await;
        db.exec("INSERT INTO ci_src VALUES (1, 'A'), (2, 'B'), (3, 'a')")
            .await;
        run_done(
            &db,
            def,
            RunOptions::default().restart(true).batch_size(batch),
        )
        .await;
        let backfilled = folded_counts(&db, "ci_counts").await;
        let report = verify(&db, def).await;
        db.recompute_all(def, "ci_counts").await;
        let recomputed = folded_counts(&db, "ci_counts").await;
        assert_eq!(
            recomputed,
            ["a=2", "b=1"],
            "the recompute groups 'A' and 'a'"
        );
        assert_eq!(
            backfilled, recomputed,
            "batch size {batch}: the backfill must count 'A' and 'a' as one citext key (verify said: {report})"
        );
        assert!(report.is_clean(), "batch size {batch}: {report}");
    }
}

#[tokio::test]
async fn citext_emails_with_case_variants_equal_the_recompute() {
    let Some(db) = common::postgres("types_citext_emails").await else {
        return;
    };
    types::ensure_citext(&db).await;
    let def = CiCounts::definition();
    create_ci_tables(&db).await;
    let mut keys: Vec<String> = (0..5_000)
        .map(|i| format!("user{i:04}@example.com"))
        .collect();
    keys.extend(
        (0..5_000)
            .filter(|i| i % 7 == 0)
            .map(|i| format!("User{i:04}@Example.COM")),
    );
    assert_eq!(keys.len(), 5_715);
    let mut rng = fastrand::Rng::with_seed(7);
    rng.shuffle(&mut keys);
    let rows: Vec<Vec<Val>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| vec![Val::Int(i as i64), Val::text(k)])
        .collect();
    insert(&db, "ci_src", &["id", "k"], &rows).await;
    run_done(&db, def, RunOptions::default().restart(true)).await;
    let backfilled = folded_counts(&db, "ci_counts").await;
    let report = verify(&db, def).await;
    db.recompute_all(def, "ci_counts").await;
    let recomputed = folded_counts(&db, "ci_counts").await;
    assert_eq!(recomputed.len(), 5_000);
    assert_eq!(
        db.scalar("SELECT sum(n)::bigint FROM ci_counts").await,
        5_715
    );
    let wrong: Vec<_> = backfilled
        .iter()
        .filter(|r| !recomputed.contains(r))
        .take(5)
        .collect();
    assert_eq!(
        types::checksum(&backfilled),
        types::checksum(&recomputed),
        "{} backfilled rows, {} recomputed; wrong rows, e.g. {wrong:?} (verify said: {report})",
        backfilled.len(),
        recomputed.len()
    );
    assert!(report.is_clean(), "{report}");
}

#[tokio::test]
async fn mysql_unsigned_key_with_an_i64_field_is_refused() {
    let Some(db) = common::mysql("types_unsigned_i64").await else {
        return;
    };
    db.exec_all(
        "CREATE TABLE u_src (id BIGINT PRIMARY KEY, k BIGINT UNSIGNED NULL);
         CREATE TABLE u_counts (k BIGINT UNSIGNED PRIMARY KEY, n BIGINT NOT NULL);
         INSERT INTO u_src VALUES (1, 1), (2, 2), (3, 3), (4, 9223372036854775808), (5, 18446744073709551615), (6, 2)",
    )
    .await;
    let def = UnsignedAsI64::definition();
    let err = check(&db, def).await.err().unwrap_or_else(|| {
        panic!("check accepted an i64 key field over a BIGINT UNSIGNED column (keys above i64::MAX wrap)")
    });
    assert!(
        err.to_string().contains("u64"),
        "the message names u64: {err}"
    );
    let err = run(&db, def, RunOptions::default().batch_size(1))
        .await
        .expect_err("run_backfill refuses it too");
    assert!(err.to_string().contains("u64"), "{err}");
    assert_eq!(types::count(&db, "u_counts").await, 0, "nothing written");
}

/// Creates `bin_src`/`bin_counts` with `ty` as the key column type and keys 'a', 0x61FE,
/// 0x61FF, 'b' (0x61FE twice).
async fn create_binary_tables(db: &Db, ty: &str) {
    types::drop_tables(db, &["bin_src", "bin_counts"]).await;
    let int = int_type(db);
    db.exec_all(&format!(
        "CREATE TABLE bin_src (id {int} PRIMARY KEY, k {ty} NULL);
         CREATE TABLE bin_counts (k {ty} NOT NULL PRIMARY KEY, n {int} NOT NULL)"
    ))
    .await;
    let rows: Vec<Vec<Val>> = [
        b"a".to_vec(),
        vec![0x61, 0xFE],
        vec![0x61, 0xFF],
        b"b".to_vec(),
        vec![0x61, 0xFE],
    ]
    .into_iter()
    .enumerate()
    .map(|(i, k)| vec![Val::Int(i as i64), Val::Bytes(k)])
    .collect();
    insert(db, "bin_src", &["id", "k"], &rows).await;
}

#[tokio::test]
async fn string_key_over_a_binary_column_is_refused() {
    types::each(
        common::engines("types_binary_string").await,
        |db| async move {
            let column_types: &[&str] = match db.engine {
                Engine::MySql => &["VARBINARY(16)", "BINARY(2)"],
                Engine::Postgres => &["bytea"],
                Engine::Sqlite => &["BLOB"],
            };
            let def = BinaryAsString::definition();
            for ty in column_types {
                create_binary_tables(&db, ty).await;
                let what = format!("{}: {ty}", db.name());
                let err = check(&db, def).await.err().unwrap_or_else(|| {
                    panic!("{what}: check accepted a String key field over a binary column")
                });
                assert!(
                    err.to_string().contains("Vec<u8>"),
                    "{what}: the message names Vec<u8>: {err}"
                );
                for batch in [1, 2] {
                    let err = run(
                        &db,
                        def,
                        RunOptions::default().restart(true).batch_size(batch),
                    )
                    .await
                    .err()
                    .unwrap_or_else(|| {
                        panic!("{what}: batch size {batch}: the run was not refused")
                    });
                    assert!(err.to_string().contains("Vec<u8>"), "{what}: {err}");
                }
                assert_eq!(
                    types::count(&db, "bin_counts").await,
                    0,
                    "{what}: nothing written"
                );
            }
        },
    )
    .await;
}

#[tokio::test]
async fn fractional_key_with_an_integer_field_is_refused() {
    let mut dbs = Vec::new();
    dbs.extend(common::postgres("types_fraction_key").await);
    dbs.extend(common::mysql("types_fraction_key").await);
    types::each(dbs, |db| async move {
        db.exec_all(
            "CREATE TABLE half_src (id BIGINT PRIMARY KEY, x BIGINT NOT NULL);
             CREATE TABLE half_counts (half_x BIGINT PRIMARY KEY, n BIGINT NOT NULL);
             INSERT INTO half_src VALUES (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 3)",
        )
        .await;
        let mut defs = vec![("x / 2", HalfKey::definition())];
        if db.engine == Engine::Postgres {
            db.exec_all(
                "CREATE TABLE num_src (id BIGINT PRIMARY KEY, amount numeric(10, 1) NOT NULL);
                 INSERT INTO num_src VALUES (1, 0.5), (2, 1), (3, 1.5), (4, 2), (5, 2.5)",
            )
            .await;
            defs.push(("numeric column", NumericKey::definition()));
        }
        for (name, def) in defs {
            let what = format!("{}: {name}", db.name());
            let err = check(&db, def).await.err().unwrap_or_else(|| {
                panic!("{what}: check accepted a fractional key expression for an i64 field")
            });
            let text = err.to_string();
            assert!(
                text.contains("half_x"),
                "{what}: the message names the key column: {text}"
            );
            assert!(
                text.contains("fraction") || text.contains("integer"),
                "{what}: the message says why: {text}"
            );
            let err = run(&db, def, RunOptions::default().restart(true).batch_size(1))
                .await
                .err()
                .unwrap_or_else(|| panic!("{what}: the run was not refused"));
            assert!(err.to_string().contains("half_x"), "{what}: {err}");
            assert_eq!(
                types::count(&db, "half_counts").await,
                0,
                "{what}: nothing written"
            );
        }
    })
    .await;
}

/// (id, source a, source b, stored a, stored b).
type ValueRow = (i64, &'static str, &'static str, &'static str, &'static str);

#[tokio::test]
async fn case_and_space_insensitive_value_columns_are_rewritten_and_verified() {
    types::each(common::engines("types_ci_values").await, |db| async move {
        // (id, source a, source b, stored a, stored b); every row but the last differs in
        // bytes while the column's `=` calls it equal.
        let (columns, rows): (&str, Vec<ValueRow>) = match db.engine {
            Engine::Postgres => {
                types::ensure_citext(&db).await;
                types::create_ci_collation(&db).await;
                (
                    "a public.citext NOT NULL, b text COLLATE ci NOT NULL",
                    vec![
                        (1, "Alice", "x", "alice", "x"),
                        (2, "y", "Bob", "y", "bob"),
                        (3, "same", "same", "same", "same"),
                    ],
                )
            }
            Engine::Sqlite => (
                "a TEXT COLLATE NOCASE NOT NULL, b TEXT COLLATE RTRIM NOT NULL",
                vec![
                    (1, "Alice", "x", "alice", "x"),
                    (2, "y", "b ", "y", "b"),
                    (3, "same", "same", "same", "same"),
                ],
            ),
            Engine::MySql => (
                "a VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, b VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL",
                vec![
                    (1, "Alice", "x", "alice", "x"),
                    (2, "y", "b ", "y", "b"),
                    (3, "é", "z", "e", "z"),
                    (4, "same", "same", "same", "same"),
                ],
            ),
        };
        let differing = rows.len() as u64 - 1;
        let int = int_type(&db);
        db.exec_all(&format!(
            "CREATE TABLE ci_values_src (id {int} PRIMARY KEY, {columns});
             CREATE TABLE ci_values (id {int} PRIMARY KEY, {columns})"
        ))
        .await;
        let src: Vec<Vec<Val>> = rows
            .iter()
            .map(|r| vec![Val::Int(r.0), Val::text(r.1), Val::text(r.2)])
            .collect();
        let stored: Vec<Vec<Val>> = rows
            .iter()
            .map(|r| vec![Val::Int(r.0), Val::text(r.3), Val::text(r.4)])
            .collect();
        insert(&db, "ci_values_src", &["id", "a", "b"], &src).await;
        insert(&db, "ci_values", &["id", "a", "b"], &stored).await;
        let def = CiValues::definition();
        let cols = [("id", Kind::Num), ("a", Kind::Text), ("b", Kind::Text)];

        let before = verify(&db, def).await;
        let different: Vec<i64> = (1..=differing as i64).collect();
        assert_eq!(
            (before.missing, before.extra, before.different),
            (0, 0, differing),
            "{}: verify before the run sees the changed bytes: {before}",
            db.name()
        );
        assert_eq!(
            before.different_samples,
            different
                .iter()
                .map(|i| backfill::Key(vec![KeyValue::Int(*i)]))
                .collect::<Vec<_>>(),
            "{}",
            db.name()
        );
        let report = run_done(&db, def, RunOptions::default()).await;
        assert_eq!(
            types::rows(&db, "ci_values", &cols).await,
            types::rows(&db, "ci_values_src", &cols).await,
            "{}: the target holds the source's bytes",
            db.name()
        );
        assert_eq!(report.rows_written, differing, "{}", db.name());
        let after = verify(&db, def).await;
        assert!(after.is_clean(), "{}: {after}", db.name());
        let again = run_done(&db, def, RunOptions::default().restart(true)).await;
        assert_eq!(again.rows_written, 0, "{}: a re-run rewrites nothing", db.name());
    })
    .await;
}

#[tokio::test]
async fn rounding_column_verifies_clean_after_a_run() {
    let mut dbs = Vec::new();
    dbs.extend(common::postgres("types_rounding").await);
    dbs.extend(common::mysql("types_rounding").await);
    types::each(dbs, |db| async move {
        let decimal = match db.engine {
            Engine::Postgres => "numeric(12, 2)",
            _ => "DECIMAL(12, 2)",
        };
        db.exec_all(&format!(
            "CREATE TABLE avg_src (id BIGINT PRIMARY KEY, g BIGINT NOT NULL, x BIGINT NOT NULL);
             CREATE TABLE avg_out (g BIGINT PRIMARY KEY, a {decimal} NULL);
             INSERT INTO avg_src VALUES (1, 1, 1), (2, 1, 2), (3, 1, 2), (4, 2, 2), (5, 2, 4)"
        ))
        .await;
        let def = Average::definition();
        let first = run_done(&db, def, RunOptions::default()).await;
        assert_eq!(first.rows_written, 2, "{}", db.name());
        assert_eq!(
            types::rows(&db, "avg_out", &[("g", Kind::Num), ("a", Kind::Num)]).await,
            ["1|1.67", "2|3.00"],
            "{}",
            db.name()
        );
        let report = verify(&db, def).await;
        assert!(
            report.is_clean(),
            "{}: avg 1.666... stored as 1.67 is what the column holds: {report}",
            db.name()
        );
        let again = run_done(&db, def, RunOptions::default().restart(true)).await;
        assert_eq!(
            again.rows_written,
            0,
            "{}: a re-run rewrites nothing",
            db.name()
        );
    })
    .await;
}

#[tokio::test]
async fn restart_without_delete_extra_keeps_keys_that_left_the_source() {
    types::each(common::engines("types_extra_kept").await, |db| async move {
        let int = int_type(&db);
        db.exec_all(&format!(
            "CREATE TABLE extra_src (id {int} PRIMARY KEY, k {int} NULL);
             CREATE TABLE extra_counts (k {int} PRIMARY KEY, n {int} NOT NULL);
             INSERT INTO extra_src VALUES (1, 10), (2, 20), (3, 20), (4, 30);
             INSERT INTO extra_counts VALUES (5, 1), (15, 1), (20, 9), (35, 1)"
        ))
        .await;
        let def = ExtraCounts::definition();
        let report = run_done(&db, def, RunOptions::default().restart(true)).await;
        assert_eq!(
            report.rows_written,
            3,
            "{}: 10, 30 inserted, 20 fixed",
            db.name()
        );
        assert_eq!(
            types::rows(&db, "extra_counts", &[("k", Kind::Num), ("n", Kind::Num)]).await,
            ["10|1", "15|1", "20|2", "30|1", "35|1", "5|1"],
            "{}: nothing deleted without delete_extra",
            db.name()
        );
        let after = verify(&db, def).await;
        assert_eq!(
            (after.missing, after.different, after.extra),
            (0, 0, 3),
            "{}: {after}",
            db.name()
        );
        assert_eq!(
            after.extra_samples,
            [5, 15, 35]
                .iter()
                .map(|i| backfill::Key(vec![KeyValue::Int(*i)]))
                .collect::<Vec<_>>(),
            "{}",
            db.name()
        );
    })
    .await;
}

#[tokio::test]
async fn key_collation_differing_between_source_and_target_is_refused() {
    let mut dbs = Vec::new();
    dbs.extend(common::postgres("types_collation_mismatch").await);
    dbs.extend(common::mysql("types_collation_mismatch").await);
    types::each(dbs, |db| async move {
        let (src, dst, words): (&str, &str, &[&str]) = match db.engine {
            Engine::Postgres => (
                "text COLLATE \"en-US-x-icu\"",
                "text COLLATE \"C\"",
                &["collation", "en-US-x-icu", "C"],
            ),
            _ => (
                "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
                &["collation", "utf8mb4_bin", "utf8mb4_general_ci"],
            ),
        };
        db.exec_all(&format!(
            "CREATE TABLE coll_src (id BIGINT PRIMARY KEY, name {src} NULL);
             CREATE TABLE coll_counts (k {dst} NOT NULL PRIMARY KEY, n BIGINT NOT NULL);
             INSERT INTO coll_src VALUES (1, 'a'), (2, 'B'), (3, 'b'), (4, 'Z'), (5, 'é'), (6, 'B')"
        ))
        .await;
        let def = CollCounts::definition();
        let err = check(&db, def).await.err().unwrap_or_else(|| {
            panic!(
                "{}: check accepted a key whose source collation differs from the target's",
                db.name()
            )
        });
        let text = err.to_string();
        for word in words {
            assert!(
                text.contains(word),
                "{}: the message names {word:?}: {text}",
                db.name()
            );
        }
        let err = run(&db, def, RunOptions::default())
            .await
            .err()
            .unwrap_or_else(|| panic!("{}: the first run was not refused", db.name()));
        assert!(
            err.to_string().contains("collation"),
            "{}: {err}",
            db.name()
        );
        assert_eq!(
            types::count(&db, "coll_counts").await,
            0,
            "{}: nothing written",
            db.name()
        );
    })
    .await;
}

#[tokio::test]
async fn key_expression_in_the_target_collation_runs_reruns_and_verifies() {
    let mut dbs = Vec::new();
    dbs.extend(common::postgres("types_collation_explicit").await);
    dbs.extend(common::mysql("types_collation_explicit").await);
    types::each(dbs, |db| async move {
        let (src, dst) = match db.engine {
            Engine::Postgres => ("text COLLATE \"en-US-x-icu\"", "text COLLATE \"C\""),
            _ => (
                "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
            ),
        };
        // Distinct under both collations, in a different order under each.
        db.exec_all(&format!(
            "CREATE TABLE coll_src (id BIGINT PRIMARY KEY, name {src} NULL);
             CREATE TABLE coll_counts (k {dst} NOT NULL PRIMARY KEY, n BIGINT NOT NULL);
             INSERT INTO coll_src VALUES (1, 'a'), (2, 'B'), (3, 'c'), (4, 'Z'), (5, 'é'), (6, 'B'), (7, 'Ab'), (8, 'aC')"
        ))
        .await;
        let def = CollCountsCollated::definition();
        let cols = [("k", Kind::Text), ("n", Kind::Num)];
        let first = run_done(&db, def, RunOptions::default()).await;
        assert_eq!(first.keys, 7, "{}", db.name());
        let again = run_done(&db, def, RunOptions::default().restart(true)).await;
        assert_eq!(again.rows_written, 0, "{}: a re-run rewrites nothing", db.name());
        let report = verify(&db, def).await;
        assert!(report.is_clean(), "{}: {report}", db.name());
        let backfilled = types::rows(&db, "coll_counts", &cols).await;
        db.recompute_all(def, "coll_counts").await;
        assert_eq!(
            backfilled,
            types::rows(&db, "coll_counts", &cols).await,
            "{}",
            db.name()
        );
        assert_eq!(backfilled.len(), 7, "{}", db.name());
    })
    .await;
}

/// A fresh MariaDB database whose default character set is latin1 (so is the progress table's,
/// unless the runtime declares its own).
async fn latin1_mysql(test: &str) -> Option<Db> {
    let db = common::mysql(test).await?;
    db.exec("ALTER DATABASE DEFAULT CHARACTER SET latin1 COLLATE latin1_swedish_ci")
        .await;
    Some(db)
}

async fn city_tables(db: &Db, ty: &str) -> bool {
    types::drop_tables(db, &["city_src", "city_counts"]).await;
    db.exec(&format!(
        "CREATE TABLE city_src (id BIGINT PRIMARY KEY, k {ty} NULL)"
    ))
    .await;
    let sql = format!("CREATE TABLE city_counts (k {ty} NOT NULL PRIMARY KEY, n BIGINT NOT NULL)");
    let common::Pool::MySql(pool) = &db.pool else {
        unreachable!()
    };
    match sqlx::query(common::test_sql(&sql)).execute(pool).await {
        Ok(_) => true,
        Err(e) => {
            eprintln!("mysql: InnoDB refuses a key of {ty}, case skipped: {e}");
            false
        }
    }
}

async fn city_case(db: &Db, keys: &[String]) {
    let rows: Vec<Vec<Val>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| vec![Val::Int(i as i64), Val::text(k)])
        .collect();
    insert(db, "city_src", &["id", "k"], &rows).await;
    let def = CityCounts::definition();
    let cols = [("k", Kind::Text), ("n", Kind::Num)];
    let report = run(db, def, RunOptions::default().restart(true))
        .await
        .unwrap_or_else(|e| panic!("mysql: a utf8mb4 key on a latin1 database: {e}"));
    assert_eq!(report.stop, StopReason::Done);
    let backfilled = types::rows(db, "city_counts", &cols).await;
    let clean = verify(db, def).await;
    db.recompute_all(def, "city_counts").await;
    assert_eq!(backfilled, types::rows(db, "city_counts", &cols).await);
    assert!(clean.is_clean(), "{clean}");
    // Resumed from the stored cursor after one batch: the same.
    db.exec("DELETE FROM city_counts").await;
    let first = run(db, def, RunOptions::default().restart(true).max_batches(1))
        .await
        .unwrap_or_else(|e| panic!("mysql: {e}"));
    assert_eq!(first.stop, StopReason::MaxBatches);
    run_done(db, def, RunOptions::default()).await;
    assert_eq!(backfilled, types::rows(db, "city_counts", &cols).await);
}

#[tokio::test]
async fn mysql_latin1_database_runs_a_utf8mb4_key() {
    let Some(db) = latin1_mysql("types_latin1_key").await else {
        return;
    };
    assert!(city_tables(&db, "VARCHAR(20) CHARACTER SET utf8mb4").await);
    let keys: Vec<String> = ["東京", "大阪", "東京", "abc", "Zürich", "😀"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    city_case(&db, &keys).await;
}

#[tokio::test]
async fn mysql_long_multibyte_key_runs() {
    let mut dbs = Vec::new();
    dbs.extend(common::mysql("types_long_key").await);
    dbs.extend(latin1_mysql("types_long_key_latin1").await);
    for (db, charset) in dbs.iter().zip(["utf8mb4", "latin1"]) {
        eprintln!("mysql: long keys on a database whose default charset is {charset}");
        // 700 characters of 2- to 4-byte UTF-8 (up to 2,800 bytes: InnoDB indexes up to 3,072).
        if city_tables(db, "VARCHAR(700) CHARACTER SET utf8mb4").await {
            let keys: Vec<String> = ["東", "😀", "é", "京"]
                .iter()
                .map(|c| {
                    let mut k = "東".repeat(699);
                    k.push_str(c);
                    k
                })
                .collect();
            city_case(db, &keys).await;
        }
        // 3,000 emoji (12,000 bytes): more than an InnoDB index holds; skipped if refused.
        if city_tables(db, "VARCHAR(3000) CHARACTER SET utf8mb4").await {
            let keys: Vec<String> = (0..3)
                .map(|i| format!("{}{i}", "😀".repeat(2_999)))
                .collect();
            city_case(db, &keys).await;
        }
    }
}

/// The property shapes on `db`: (shape, whether rows with a NULL key are added, key generator).
type KeyGen = Box<dyn Fn(&mut fastrand::Rng) -> Vec<Val> + Send + Sync>;

fn shapes(db: &Db) -> Vec<(Shape, bool, KeyGen)> {
    let int = int_type(db).to_string();
    let (text, ci, coll, coll_exact) = match db.engine {
        Engine::Postgres => ("TEXT", "public.citext", "TEXT COLLATE \"und-x-icu\"", true),
        Engine::MySql => (
            "VARCHAR(64) CHARACTER SET utf8mb4",
            "VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            "VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            false,
        ),
        Engine::Sqlite => ("TEXT", "TEXT COLLATE NOCASE", "TEXT COLLATE RTRIM", false),
    };
    // MariaDB's default utf8mb4 collation (utf8mb4_general_ci) is case-insensitive.
    let text_exact = db.engine != Engine::MySql;
    let int_key: KeyGen = Box::new(|rng| vec![Val::Int(types::int_key(rng))]);
    let text_key = || -> KeyGen { Box::new(|rng| vec![Val::Text(types::text_key(rng))]) };
    vec![
        (
            Shape {
                name: "integer key",
                def: PInt::definition(),
                src: "p_int_src",
                target: "p_int",
                keys: vec![("k", int.clone(), Kind::Num)],
                exact: true,
            },
            true,
            int_key,
        ),
        (
            Shape {
                name: "text key (default collation)",
                def: PText::definition(),
                src: "p_text_src",
                target: "p_text",
                keys: vec![("k", text.to_string(), Kind::Text)],
                exact: text_exact,
            },
            true,
            text_key(),
        ),
        (
            Shape {
                name: "text key (case-insensitive)",
                def: PCi::definition(),
                src: "p_ci_src",
                target: "p_ci",
                keys: vec![("k", ci.to_string(), Kind::Text)],
                exact: false,
            },
            true,
            text_key(),
        ),
        (
            Shape {
                name: "text key (other collation)",
                def: PColl::definition(),
                src: "p_coll_src",
                target: "p_coll",
                keys: vec![("k", coll.to_string(), Kind::Text)],
                exact: coll_exact,
            },
            false,
            text_key(),
        ),
        (
            Shape {
                name: "composite (integer, text) key",
                def: PComp::definition(),
                src: "p_comp_src",
                target: "p_comp",
                keys: vec![("a", int, Kind::Num), ("b", text.to_string(), Kind::Text)],
                exact: text_exact,
            },
            false,
            Box::new(|rng| {
                let a = if rng.bool() {
                    rng.i64(-2..=2)
                } else {
                    types::int_key(rng)
                };
                vec![Val::Int(a), Val::Text(types::text_key(rng))]
            }),
        ),
    ]
}

const CASES: u64 = 12;

async fn property_on(db: Db, engine_seed: u64) {
    if db.engine == Engine::Postgres {
        types::ensure_citext(&db).await;
    }
    let started = std::time::Instant::now();
    let db = std::sync::Arc::new(db);
    let mut total = 0;
    let mut failures = Vec::new();
    // Each key type in a task of its own: a failing one does not hide the others.
    for (i, (shape, null_rows, key)) in shapes(&db).into_iter().enumerate() {
        let name = shape.name;
        let shared = db.clone();
        let seed = engine_seed * 100 + i as u64;
        let task = tokio::spawn(async move {
            types::property(&shared, &shape, CASES, seed, null_rows, &*key).await
        });
        match task.await {
            Ok(n) => {
                eprintln!("{}: {name}: {n} cases passed", db.name());
                total += n;
            }
            Err(_) => failures.push(name),
        }
    }
    eprintln!(
        "{}: {total} property cases passed in {:?}",
        db.name(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{}: property failed for {failures:?} (messages above)",
        db.name()
    );
}

#[tokio::test]
async fn property_random_keys_sqlite() {
    property_on(common::sqlite("types_property").await, 1).await;
}

#[tokio::test]
async fn property_random_keys_postgres() {
    if let Some(db) = common::postgres("types_property").await {
        property_on(db, 2).await;
    }
}

#[tokio::test]
async fn property_random_keys_mysql() {
    if let Some(db) = common::mysql("types_property").await {
        property_on(db, 3).await;
    }
}

#[tokio::test]
async fn mysql_progress_table_of_an_older_version_is_upgraded() {
    let Some(db) = latin1_mysql("types_old_progress_table").await else {
        return;
    };
    // The DDL of the previous version: a TEXT cursor in the database's default charset.
    db.exec(
        "CREATE TABLE `backfill_progress` (`job` VARCHAR(191) NOT NULL, `shard` INT NOT NULL DEFAULT 0, \
         `fingerprint` VARCHAR(191) NOT NULL, `cursor` TEXT NULL, `status` VARCHAR(32) NOT NULL, \
         `rows_written` BIGINT NOT NULL DEFAULT 0, `batches` BIGINT NOT NULL DEFAULT 0, \
         `keys` BIGINT NOT NULL DEFAULT 0, `started_at` DATETIME(6) NOT NULL, \
         `updated_at` DATETIME(6) NOT NULL, `finished_at` DATETIME(6) NULL, \
         PRIMARY KEY (`job`, `shard`)) ENGINE=InnoDB",
    )
    .await;
    assert!(city_tables(&db, "VARCHAR(20) CHARACTER SET utf8mb4").await);
    let keys: Vec<String> = ["東京", "大阪", "Zürich"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    city_case(&db, &keys).await;
    let cursor = db
        .strings(
            "SELECT CONCAT(data_type, ' ', character_set_name) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = 'backfill_progress' \
             AND column_name = 'cursor'",
        )
        .await;
    assert_eq!(cursor, ["longtext utf8mb4"]);
}
