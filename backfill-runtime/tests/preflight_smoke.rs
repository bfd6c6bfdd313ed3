//! Preflight's catalog reading on real engines, with hand-written definitions (no derive):
//! the unique-index rules (partial, expression, prefix, composite in another order, rowid
//! alias, other unique keys), the type rules, the quoting of odd names, and a statement that
//! does not prepare. Each check reads only: the tables' row counts are compared before and after.
//!
//! `BACKFILL_TEST_POSTGRES_URL` / `BACKFILL_TEST_MYSQL_URL` name the servers; an engine whose URL
//! is unset is skipped loudly, and is a failure under `BACKFILL_TEST_REQUIRE_ALL=1`. Each test
//! needs its engine's feature (the facade turns all three on).
#![cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]

use backfill_runtime::definition::{
    Definition, Engine, KeyKind, KeyPart, Merge, Param, Ranged, Statements, Stmt, TargetColumn,
};
use backfill_runtime::{BackfillPool, Error};

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn stmt(sql: &str, params: &[Param]) -> Stmt {
    Stmt {
        sql: leak_str(sql),
        params: Box::leak(params.to_vec().into_boxed_slice()),
        holes: &[],
    }
}

/// A key probe that reports a source and a target of each key part's kind (the layout the
/// derive generates: source, target, and their collations, per part).
fn key_probe(engine: Engine, kinds: &[KeyKind]) -> String {
    let parts: Vec<&str> = kinds
        .iter()
        .map(|kind| match (engine, kind) {
            (Engine::Postgres, KeyKind::Text) => {
                "CAST(CAST(pg_typeof('a'::text) AS OID) AS BIGINT), CAST(CAST(pg_typeof('a'::text) AS OID) AS BIGINT), NULL::text, NULL::text"
            }
            (Engine::Postgres, _) => {
                "CAST(CAST(pg_typeof(1::int8) AS OID) AS BIGINT), CAST(CAST(pg_typeof(1::int8) AS OID) AS BIGINT), NULL::text, NULL::text"
            }
            (Engine::MySql, KeyKind::Text) => {
                "CAST('a' AS CHAR), CAST('a' AS CHAR), 'utf8mb4_general_ci', 'utf8mb4_general_ci'"
            }
            (Engine::MySql, _) => "CAST(1 AS SIGNED), CAST(1 AS SIGNED), 'binary', 'binary'",
            (Engine::Sqlite, _) => "1, 1",
        })
        .collect();
    format!("SELECT {}", parts.join(", "))
}

fn ranged(sql: &str, params: &[Param]) -> Ranged {
    Ranged {
        first: stmt(sql, params),
        next: stmt(sql, params),
    }
}

/// Every statement is `sql` binding `params` (the key probe aside): enough for preflight, which
/// only prepares them.
fn statements(engine: Engine, sql: &str, params: &[Param], kinds: &[KeyKind]) -> Statements {
    Statements {
        engine,
        fingerprint: "0000000000000000",
        bounds: ranged(sql, params),
        bounds_offset: ranged(sql, params),
        upsert: ranged(sql, params),
        insert: ranged(sql, params),
        verify_diff: ranged(sql, params),
        verify_extra: ranged(sql, params),
        verify_extra_tail: stmt(sql, params),
        target_count: ranged(sql, params),
        target_rows: stmt(sql, params),
        null_keys: stmt(sql, params),
        key_span: stmt(sql, params),
        upsert_all: stmt(sql, params),
        delete_extra: ranged(sql, params),
        delete_extra_tail: ranged(sql, params),
        key_probe: stmt(&key_probe(engine, kinds), &[]),
        duplicate_keys: ranged(sql, params),
        scan: &[],
        scan_refused: None,
    }
}

/// A definition of `table` with key columns `key` and written columns `columns`
/// (`(column, rust type)`), whose statements are all `sql`.
fn definition(
    engine: Engine,
    table: &str,
    key: &[&str],
    columns: &[(&str, &str)],
    allow_other_unique_keys: bool,
    sql: &str,
    params: &[Param],
) -> &'static Definition {
    let key_parts: Vec<KeyPart> = key
        .iter()
        .map(|k| KeyPart {
            field: leak_str(&k.replace([' ', ';'], "_")),
            column: leak_str(k),
            kind: match columns.iter().find(|(c, _)| c == k) {
                Some((_, "String")) => KeyKind::Text,
                _ => KeyKind::Int,
            },
        })
        .collect();
    let target: Vec<TargetColumn> = columns
        .iter()
        .map(|(c, ty)| TargetColumn {
            field: leak_str(&c.replace([' ', ';'], "_")),
            column: leak_str(c),
            rust_type: leak_str(ty),
            key: key.contains(c),
            merge: Merge::Overwrite,
        })
        .collect();
    let kinds: Vec<KeyKind> = key_parts.iter().map(|k| k.kind).collect();
    let stmts = statements(engine, sql, params, &kinds);
    let (postgres, mysql, sqlite) = match engine {
        Engine::Postgres => (Some(stmts), None, None),
        Engine::MySql => (None, Some(stmts), None),
        Engine::Sqlite => (None, None, Some(stmts)),
    };
    Box::leak(Box::new(Definition {
        name: "Smoke",
        table: leak_str(table),
        from: "pf_source",
        in_place: false,
        filter: None,
        job: leak_str(table),
        batch_size: Some(10),
        write_once: false,
        allow_other_unique_keys,
        grouped: false,
        key: Box::leak(key_parts.into_boxed_slice()),
        columns: Box::leak(target.into_boxed_slice()),
        postgres,
        mysql,
        sqlite,
        schema: &[],
        strategy: backfill_runtime::definition::Strategy::Auto,
    }))
}

/// One case: a definition and what its check must say (`"ok"` or a part of the message).
struct Case {
    table: &'static str,
    key: &'static [&'static str],
    columns: &'static [(&'static str, &'static str)],
    allow_other_unique_keys: bool,
    expect: &'static str,
}

const fn case(
    table: &'static str,
    key: &'static [&'static str],
    columns: &'static [(&'static str, &'static str)],
    expect: &'static str,
) -> Case {
    Case {
        table,
        key,
        columns,
        allow_other_unique_keys: false,
        expect,
    }
}

fn outcome(result: Result<(), Error>) -> String {
    match result {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string(),
    }
}

/// The server URL in `var`, or `None` (skipped loudly) unless every engine is required.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn server_url(var: &str, engine: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("BACKFILL_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1") => {
            panic!("BACKFILL_TEST_REQUIRE_ALL=1 but {var} is not set: {engine} is required")
        }
        _ => {
            eprintln!("\n*** SKIPPING {engine}: {var} is not set ***\n");
            None
        }
    }
}

/// Runs every case through `check` and a content checksum of `tables` before and after.
macro_rules! run_cases {
    ($pool:expr, $engine:expr, $cases:expr, $sql:expr, $params:expr, $tables:expr) => {{
        let snapshot = || async {
            let mut all = Vec::new();
            for table in $tables {
                // The test's own table names: safe to format in.
                let sql = format!("SELECT count(*) FROM {table}");
                let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one($pool)
                    .await
                    .expect("count rows");
                all.push(n);
            }
            all
        };
        let before = snapshot().await;
        for case in $cases {
            let def = definition(
                $engine,
                case.table,
                case.key,
                case.columns,
                case.allow_other_unique_keys,
                $sql,
                $params,
            );
            let got = outcome($pool.check(def).await);
            assert!(
                got.contains(case.expect),
                "{}: {} {:?}: expected {:?}, got {got:?}",
                $engine,
                case.table,
                case.key,
                case.expect
            );
        }
        assert_eq!(
            snapshot().await,
            before,
            "{}: a check wrote something",
            $engine
        );
    }};
}

const ID: &[(&str, &str)] = &[("user_id", "i64")];

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_catalog_rules() {
    let Some(base) = server_url("BACKFILL_TEST_POSTGRES_URL", "PostgreSQL") else {
        return;
    };
    let admin = sqlx::PgPool::connect(&base)
        .await
        .expect("reach PostgreSQL");
    for sql in [
        "DROP SCHEMA IF EXISTS pf_smoke CASCADE",
        "CREATE SCHEMA pf_smoke",
    ] {
        sqlx::query(sql)
            .execute(&admin)
            .await
            .expect("reset the schema");
    }
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    let pool = sqlx::PgPool::connect(&format!("{base}{sep}options=-c%20search_path%3Dpf_smoke"))
        .await
        .expect("connect to pf_smoke");
    for sql in [
        "CREATE TABLE pf_source (user_id bigint, amount bigint)",
        "INSERT INTO pf_source VALUES (1, 10), (2, 20)",
        "CREATE TABLE pf_stats (user_id bigint PRIMARY KEY, total bigint, small int4, j json, \
         jb jsonb, s text, ts timestamp)",
        "INSERT INTO pf_stats (user_id, total) VALUES (1, 0)",
        "CREATE TABLE \"PfStats\" (user_id bigint PRIMARY KEY)",
        "CREATE TABLE pf_nokey (user_id bigint, b bigint)",
        "CREATE TABLE pf_partial (user_id bigint, b bigint)",
        "CREATE UNIQUE INDEX pf_partial_key ON pf_partial (user_id) WHERE b > 0",
        "CREATE TABLE pf_expr (user_id bigint, b bigint)",
        "CREATE UNIQUE INDEX pf_expr_key ON pf_expr ((user_id + 0))",
        "CREATE TABLE pf_deferred (user_id bigint UNIQUE DEFERRABLE INITIALLY DEFERRED)",
        "CREATE TABLE pf_include (user_id bigint, b bigint)",
        "CREATE UNIQUE INDEX pf_include_key ON pf_include (user_id) INCLUDE (b)",
        "CREATE TABLE pf_comp (a bigint, b bigint, c bigint, UNIQUE (b, a))",
        "CREATE TABLE \"user's \"\"stats\"\"\" (\"user id\" bigint, \"total; amount\" bigint)",
        "CREATE UNIQUE INDEX ON \"user's \"\"stats\"\"\" (\"user id\")",
        "CREATE DOMAIN pf_small AS int2",
        "CREATE TABLE pf_domain (user_id bigint PRIMARY KEY, d pf_small)",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    let cases = [
        case(
            "pf_stats",
            &["user_id"],
            &[
                ("user_id", "i64"),
                ("total", "Option<i64>"),
                ("s", "String"),
                ("jb", "serde_json::Value"),
                ("ts", "chrono::NaiveDateTime"),
                ("small", "Option<i32>"),
            ],
            "ok",
        ),
        case("pf_smoke.pf_stats", &["user_id"], ID, "ok"),
        case("PfStats", &["user_id"], ID, "ok"),
        case("pfstats", &["user_id"], ID, "target table pfstats does not exist on PostgreSQL"),
        case("no_such_schema.pf_stats", &["user_id"], ID, "target table no_such_schema.pf_stats does not exist"),
        case("pf_stats", &["user_id"], &[("user_id", "i64"), ("Total", "i64")], "column Total of pf_stats does not exist (field `Total`)"),
        case("pf_nokey", &["user_id"], ID, "no unique index on pf_nokey (user_id): the upsert has nothing to conflict on; add one before backfilling: CREATE UNIQUE INDEX \"pf_nokey_user_id_key\" ON \"pf_nokey\" (\"user_id\")"),
        case("pf_smoke.pf_nokey", &["user_id"], ID, "CREATE UNIQUE INDEX \"pf_nokey_user_id_key\" ON \"pf_smoke\".\"pf_nokey\" (\"user_id\")"),
        case("pf_partial", &["user_id"], ID, "no unique index on pf_partial (user_id)"),
        case("pf_expr", &["user_id"], ID, "no unique index on pf_expr (user_id)"),
        case("pf_deferred", &["user_id"], ID, "no unique index on pf_deferred (user_id)"),
        case("pf_include", &["user_id"], ID, "ok"),
        case("pf_comp", &["a", "b"], &[("a", "i64"), ("b", "i64")], "ok"),
        case("pf_comp", &["a"], &[("a", "i64")], "no unique index on pf_comp (a)"),
        case("pf_stats", &["user_id"], &[("user_id", "i64"), ("small", "i64")], "column pf_stats.small has type integer, which cannot hold field `small: i64`"),
        case("pf_stats", &["user_id"], &[("user_id", "i64"), ("j", "serde_json::Value")], "use jsonb"),
        case("pf_stats", &["user_id"], &[("user_id", "i64"), ("total", "String")], "text cannot be stored in a numeric column"),
        case("pf_stats", &["user_id"], &[("user_id", "i64"), ("ts", "i64")], "a number cannot be stored in a date/time column"),
        case("pf_domain", &["user_id"], &[("user_id", "i64"), ("d", "i32")], "column pf_domain.d has type pf_small, which cannot hold field `d: i32`"),
        case("user's \"stats\"", &["user id"], &[("user id", "i64"), ("total; amount", "i64")], "ok"),
        case("user's \"stats\"", &["total; amount"], &[("total; amount", "i64")], "CREATE UNIQUE INDEX \"user's \"\"stats\"\"_total; amount_key\" ON \"user's \"\"stats\"\"\" (\"total; amount\")"),
    ];
    // `$1 || 'x'` and `$2 + 1` only prepare with the parameter types the runtime binds.
    let sql = "SELECT count(*), $1 || 'x', $2 + 1 FROM pf_source";
    let params = &[Param::Cursor(0), Param::Limit];
    run_cases!(
        &pool,
        Engine::Postgres,
        cases,
        sql,
        params,
        ["pf_source", "pf_stats"]
    );

    let bad = definition(
        Engine::Postgres,
        "pf_stats",
        &["user_id"],
        ID,
        false,
        "SELECT nope FROM pf_source",
        &[],
    );
    let got = outcome(pool.check(bad).await);
    assert!(
        got.contains("the bounds (first batch) statement for pf_stats does not prepare on PostgreSQL: column \"nope\" does not exist"),
        "{got}"
    );
    assert!(got.contains("sql: SELECT nope FROM pf_source"), "{got}");
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_catalog_rules() {
    let Some(base) = server_url("BACKFILL_TEST_MYSQL_URL", "MariaDB") else {
        return;
    };
    let admin = sqlx::MySqlPool::connect(&base)
        .await
        .expect("reach MariaDB");
    for sql in [
        "DROP DATABASE IF EXISTS pf_smoke",
        "CREATE DATABASE pf_smoke",
    ] {
        sqlx::query(sql)
            .execute(&admin)
            .await
            .expect("reset the database");
    }
    admin.close().await;
    let root = base
        .rsplit_once('/')
        .map_or(base.as_str(), |(root, _)| root);
    let pool = sqlx::MySqlPool::connect(&format!("{root}/pf_smoke"))
        .await
        .expect("connect to pf_smoke");
    for sql in [
        "CREATE TABLE pf_source (user_id bigint, amount bigint)",
        "INSERT INTO pf_source VALUES (1, 10), (2, 20)",
        "CREATE TABLE pf_stats (user_id bigint PRIMARY KEY, total bigint, small int, j json, \
         s text, ts datetime, flag tinyint(1), ub int unsigned, big bigint unsigned)",
        "INSERT INTO pf_stats (user_id, total) VALUES (1, 0)",
        "CREATE TABLE PfStats (user_id bigint PRIMARY KEY)",
        "CREATE TABLE pf_nokey (user_id bigint, b bigint)",
        "CREATE TABLE pf_two (id bigint AUTO_INCREMENT PRIMARY KEY, user_id bigint, \
         UNIQUE KEY uk (user_id))",
        "CREATE TABLE pf_prefix (name varchar(50), UNIQUE KEY p (name(10)))",
        "CREATE TABLE pf_comp (a bigint, b bigint, c bigint, UNIQUE KEY ba (b, a))",
        "CREATE TABLE `user's \"stats\"` (`user id` bigint, `total; amount` bigint, \
         UNIQUE KEY `k; 1` (`user id`))",
        "CREATE TABLE pf_other (user_id bigint PRIMARY KEY, `code; x` bigint, \
         UNIQUE KEY `it's; other` (`code; x`, user_id))",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    let case_sensitive: i64 = sqlx::query_scalar("SELECT CAST(@@lower_case_table_names AS SIGNED)")
        .fetch_one(&pool)
        .await
        .expect("lower_case_table_names");
    let mut cases = vec![
        case(
            "pf_stats",
            &["user_id"],
            &[
                ("user_id", "i64"),
                ("total", "Option<i64>"),
                ("s", "String"),
                ("j", "serde_json::Value"),
                ("ts", "chrono::NaiveDateTime"),
                ("flag", "bool"),
                ("ub", "u32"),
                ("big", "i64"),
            ],
            "ok",
        ),
        case("pf_smoke.pf_stats", &["user_id"], ID, "ok"),
        case("PfStats", &["user_id"], ID, "ok"),
        case("no_such_db.pf_stats", &["user_id"], ID, "target table no_such_db.pf_stats does not exist on MySQL/MariaDB"),
        case("pf_stats", &["user_id"], &[("user_id", "i64"), ("nope", "i64")], "column nope of pf_stats does not exist (field `nope`)"),
        // MySQL column names ignore case.
        case("pf_stats", &["USER_ID"], &[("USER_ID", "i64"), ("Total", "i64")], "ok"),
        case("pf_nokey", &["user_id"], ID, "CREATE UNIQUE INDEX `pf_nokey_user_id_key` ON `pf_nokey` (`user_id`)"),
        case("pf_two", &["user_id"], ID, "pf_two has another unique index PRIMARY (id) besides the key (user_id)"),
        case("pf_prefix", &["name"], &[("name", "String")], "no unique index on pf_prefix (name)"),
        case("pf_comp", &["a", "b"], &[("a", "i64"), ("b", "i64")], "ok"),
        case("pf_other", &["user_id"], ID, "pf_other has another unique index it's; other (code; x, user_id) besides the key (user_id)"),
        case("pf_stats", &["user_id"], &[("user_id", "i64"), ("small", "i64")], "column pf_stats.small has type int(11), which cannot hold field `small: i64`"),
        case("pf_stats", &["user_id"], &[("user_id", "i64"), ("ub", "i64")], "column pf_stats.ub has type int(10) unsigned, which cannot hold field `ub: i64`"),
        case("pf_stats", &["user_id"], &[("user_id", "i64"), ("small", "i32")], "ok"),
        case("pf_stats", &["user_id"], &[("user_id", "i64"), ("total", "String")], "text cannot be stored in a numeric column"),
        case("pf_stats", &["user_id"], &[("user_id", "i64"), ("ts", "i64")], "a number cannot be stored in a date/time column"),
        case("user's \"stats\"", &["user id"], &[("user id", "i64"), ("total; amount", "i64")], "ok"),
    ];
    cases.push(Case {
        allow_other_unique_keys: true,
        ..case("pf_two", &["user_id"], ID, "ok")
    });
    if case_sensitive == 0 {
        cases.push(case(
            "pfstats",
            &["user_id"],
            ID,
            "target table pfstats does not exist",
        ));
    }
    let sql = "SELECT count(*) FROM pf_source WHERE user_id > ? LIMIT ?";
    let params = &[Param::Cursor(0), Param::Limit];
    run_cases!(
        &pool,
        Engine::MySql,
        cases,
        sql,
        params,
        ["pf_source", "pf_stats"]
    );

    let bad = definition(
        Engine::MySql,
        "pf_stats",
        &["user_id"],
        ID,
        false,
        "SELECT nope FROM pf_source",
        &[],
    );
    let got = outcome(pool.check(bad).await);
    assert!(
        got.contains("the bounds (first batch) statement for pf_stats does not prepare on MySQL/MariaDB: Unknown column 'nope'"),
        "{got}"
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_catalog_rules() {
    let path = std::env::temp_dir().join(format!(
        "backfill-preflight-smoke-{}.db",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("open a temp SQLite file");
    for sql in [
        "CREATE TABLE pf_source (user_id INTEGER, amount INTEGER)",
        "INSERT INTO pf_source VALUES (1, 10), (2, 20)",
        "CREATE TABLE pf_stats (user_id INTEGER PRIMARY KEY, total INTEGER, s TEXT)",
        "INSERT INTO pf_stats (user_id, total) VALUES (1, 0)",
        "CREATE TABLE pf_nokey (user_id INTEGER, b INTEGER)",
        "CREATE TABLE pf_other (user_id INTEGER, b INTEGER UNIQUE)",
        "CREATE TABLE pf_partial (user_id INTEGER, b INTEGER)",
        "CREATE UNIQUE INDEX pf_partial_key ON pf_partial (user_id) WHERE b > 0",
        "CREATE TABLE pf_comp (a INTEGER, b INTEGER, c INTEGER, PRIMARY KEY (b, a))",
        "CREATE TABLE pf_without_rowid (a TEXT PRIMARY KEY, b INTEGER) WITHOUT ROWID",
        "CREATE TABLE pf_expr (a INTEGER, b TEXT)",
        "CREATE UNIQUE INDEX pf_expr_key ON pf_expr (lower(b))",
        "CREATE TABLE \"user's \"\"stats\"\"\" (\"user id\" INTEGER, \"total; amount\" INTEGER)",
        "CREATE UNIQUE INDEX \"i; x\" ON \"user's \"\"stats\"\"\" (\"user id\")",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    let cases = [
        case(
            "pf_stats",
            &["user_id"],
            &[("user_id", "i64"), ("total", "i64"), ("s", "String")],
            "ok",
        ),
        case("main.pf_stats", &["user_id"], ID, "ok"),
        // SQLite identifiers ignore case.
        case("PF_STATS", &["USER_ID"], &[("USER_ID", "i64")], "ok"),
        case(
            "no_such_db.pf_stats",
            &["user_id"],
            ID,
            "target table no_such_db.pf_stats does not exist on SQLite",
        ),
        case(
            "pf_missing",
            &["user_id"],
            ID,
            "target table pf_missing does not exist on SQLite",
        ),
        case(
            "pf_stats",
            &["user_id"],
            &[("user_id", "i64"), ("nope", "i64")],
            "column nope of pf_stats does not exist (field `nope`)",
        ),
        case(
            "pf_nokey",
            &["user_id"],
            ID,
            "CREATE UNIQUE INDEX \"pf_nokey_user_id_key\" ON \"pf_nokey\" (\"user_id\")",
        ),
        case(
            "main.pf_nokey",
            &["user_id"],
            ID,
            "CREATE UNIQUE INDEX \"main\".\"pf_nokey_user_id_key\" ON \"pf_nokey\" (\"user_id\")",
        ),
        case(
            "pf_other",
            &["user_id"],
            ID,
            "no unique index on pf_other (user_id)",
        ),
        case("pf_other", &["b"], &[("b", "i64")], "ok"),
        case(
            "pf_partial",
            &["user_id"],
            ID,
            "no unique index on pf_partial (user_id)",
        ),
        case("pf_comp", &["a", "b"], &[("a", "i64"), ("b", "i64")], "ok"),
        case("pf_without_rowid", &["a"], &[("a", "String")], "ok"),
        case(
            "pf_expr",
            &["b"],
            &[("b", "String")],
            "no unique index on pf_expr (b)",
        ),
        case(
            "user's \"stats\"",
            &["user id"],
            &[("user id", "i64"), ("total; amount", "i64")],
            "ok",
        ),
    ];
    let sql = "SELECT count(*) FROM pf_source WHERE user_id > ? LIMIT ?";
    let params = &[Param::Cursor(0), Param::Limit];
    run_cases!(
        &pool,
        Engine::Sqlite,
        cases,
        sql,
        params,
        ["pf_source", "pf_stats"]
    );

    let bad = definition(
        Engine::Sqlite,
        "pf_stats",
        &["user_id"],
        ID,
        false,
        "SELECT nope FROM pf_source",
        &[],
    );
    let got = outcome(pool.check(bad).await);
    assert!(
        got.contains("the bounds (first batch) statement for pf_stats does not prepare on SQLite: no such column: nope"),
        "{got}"
    );
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}
