//! The derive's allowlist of deterministic functions, checked against the engines themselves:
//! PostgreSQL's `pg_proc` (every listed function that the server has is IMMUTABLE, or STABLE
//! and listed as reading only session settings), SQLite's `pragma_function_list` (every listed
//! scalar is registered SQLITE_DETERMINISTIC), and MariaDB (every listed function is one the
//! server knows). A list that drifts from the engines fails here, not in a user's backfill.

mod common;

use backfill::allowlist::{MYSQL, POSTGRES, POSTGRES_NEWER, POSTGRES_STABLE, SQLITE};
use backfill::Engine;
use common::Pool;

/// SQL syntax that parses as a call but is no function of the catalog.
const POSTGRES_SYNTAX: &[&str] = &["coalesce", "greatest", "least", "nullif"];

/// Functions of MySQL 8 or of MariaDB after 10.11 that MariaDB 10.11 does not have (or, for
/// `json_table`, has only in FROM): listed for the servers that have them.
const NOT_IN_MARIADB_10_11: &[&str] = &[
    "bin_to_uuid",
    "format_bytes",
    "format_pico_time",
    "is_uuid",
    "json_array_intersect",
    "json_key_value",
    "json_object_filter_keys",
    "json_object_to_array",
    "json_schema_valid",
    "json_table",
    "months_between",
    "regexp_like",
    "to_date",
    "to_number",
    "trunc",
    "uuid_to_bin",
];

fn in_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    quoted.join(", ")
}

#[tokio::test]
async fn every_listed_function_is_deterministic_on_its_engine() {
    for db in common::engines("allowlist").await {
        match db.engine {
            Engine::Postgres => postgres(&db).await,
            Engine::Sqlite => sqlite(&db).await,
            Engine::MySql => mysql(&db).await,
        }
    }
}

async fn postgres(db: &common::Db) {
    let version = db
        .scalar("SELECT current_setting('server_version_num')::bigint")
        .await;
    let listed: Vec<&str> = POSTGRES.iter().chain(POSTGRES_NEWER).copied().collect();
    let catalog = |volatility: &str| {
        format!(
            "SELECT DISTINCT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = 'pg_catalog' AND p.provolatile IN ({volatility}) AND p.proname IN ({})",
            in_list(&listed)
        )
    };
    let existing = db.strings(&catalog("'i', 's', 'v'")).await;
    let immutable = db.strings(&catalog("'i'")).await;
    let stable = db.strings(&catalog("'i', 's'")).await;
    for name in &listed {
        let exists = existing.iter().any(|e| e == name);
        if !exists {
            // Older majors lack newer functions; 15 (the lists' source) has every entry.
            let newer = POSTGRES_NEWER.contains(name) || POSTGRES_SYNTAX.contains(name);
            assert!(
                version < 150000 || newer,
                "PostgreSQL {version}: `{name}` does not exist"
            );
            continue;
        }
        let ok = immutable.iter().any(|e| e == name)
            || (POSTGRES_STABLE.contains(name) && stable.iter().any(|e| e == name));
        assert!(ok, "PostgreSQL {version}: `{name}` has no IMMUTABLE overload (and is not a listed STABLE one)");
    }
}

async fn sqlite(db: &common::Db) {
    let Pool::Sqlite(pool) = &db.pool else {
        unreachable!()
    };
    let rows: Vec<(String, String, i64)> = sqlx::query_as(common::test_sql(
        "SELECT name, type, flags FROM pragma_function_list",
    ))
    .fetch_all(pool)
    .await
    .expect("pragma_function_list");
    const SQLITE_DETERMINISTIC: i64 = 0x800;
    let mut wrong = Vec::new();
    for name in SQLITE {
        let overloads: Vec<_> = rows.iter().filter(|(n, _, _)| n == name).collect();
        let ok = !overloads.is_empty()
            && overloads
                .iter()
                .all(|(_, kind, flags)| kind != "s" || flags & SQLITE_DETERMINISTIC != 0);
        if !ok {
            wrong.push(*name);
        }
    }
    assert!(
        wrong.is_empty(),
        "SQLite: not in the bundled library, or scalars not registered SQLITE_DETERMINISTIC: {wrong:?}"
    );
}

async fn mysql(db: &common::Db) {
    let Pool::MySql(pool) = &db.pool else {
        unreachable!()
    };
    let mut missing = Vec::new();
    for name in MYSQL {
        // Call it with no arguments: an unknown function is error 1305, "FUNCTION x does not
        // exist"; a known one complains about its arguments or its syntax instead.
        let sql = format!("SELECT {name}()");
        let error = sqlx::query(common::test_sql(&sql))
            .execute(pool)
            .await
            .err();
        let unknown = error
            .as_ref()
            .and_then(|e| e.as_database_error())
            .is_some_and(|e| e.message().contains("does not exist"));
        if unknown && !NOT_IN_MARIADB_10_11.contains(name) {
            missing.push(*name);
        }
    }
    assert!(
        missing.is_empty(),
        "MariaDB: listed but unknown to the server: {missing:?}"
    );
}
