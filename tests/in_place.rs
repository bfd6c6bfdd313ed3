//! In-place backfills on every engine: a column of an existing table filled from the row's own
//! columns (no `from`), from a join grouped per key (`from` with `in_place`), written once
//! (`merge = "keep"`, a volatile UUID) or merged with the stored value (`greatest`, `least`).
//! The targets have NOT NULL columns without defaults, which an upsert could never satisfy; an
//! in-place batch is an UPDATE that never inserts or deletes. Each run lands on the single
//! whole-table UPDATE (`upsert_all`), compared row by row over every column of the table, so it
//! also proves no other column moved; re-runs write nothing; a stopped run resumes and a changed
//! definition waits for a restart; worker processes SIGKILLed again and again resume to the same
//! table; text, composite and reserved-word keys and a filter cut the same ranges; a row held by
//! the application is waited out; an application writing other columns and inserting rows while
//! a backfill runs loses nothing; bad input is refused by preflight with nothing written.
//!
//! Worker processes are this test binary re-run with `--exact worker_process` and the
//! `BACKFILL_IN_PLACE_WORKER_URL` variable set; without it, that test does nothing.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backfill::{Backfill, BackfillPool, Definition, Engine, Error, Report, RunOptions, StopReason};
use common::{assert_mentions, hold_in_transaction, Db, Pool};

// ---------------------------------------------------------------------------------------------
// The backfills
// ---------------------------------------------------------------------------------------------

/// `full_name` of every person from the row's own first and last name, 25 keys a batch.
#[derive(Backfill, Debug)]
#[backfill(table = "people", batch_size = 25)]
pub struct FullName {
    #[backfill(key)]
    pub id: i64,
    #[backfill(
        expr = "first_name || ' ' || last_name",
        mysql = "CONCAT(first_name, ' ', last_name)"
    )]
    pub full_name: Option<String>,
}

/// The same job with another definition: last name first.
#[derive(Backfill, Debug)]
#[backfill(table = "people", job = "people", batch_size = 25)]
pub struct FullNameReversed {
    #[backfill(key)]
    pub id: i64,
    #[backfill(
        expr = "last_name || ', ' || first_name",
        mysql = "CONCAT(last_name, ', ', first_name)"
    )]
    pub full_name: Option<String>,
}

/// The same backfill on a table that also has a unique index on `email`: in place, other unique
/// indexes do not matter (no ON DUPLICATE KEY to fire on them).
#[derive(Backfill, Debug)]
#[backfill(table = "people_unique_email", batch_size = 25)]
pub struct FullNameUniqueEmail {
    #[backfill(key)]
    pub id: i64,
    #[backfill(
        expr = "first_name || ' ' || last_name",
        mysql = "CONCAT(first_name, ' ', last_name)"
    )]
    pub full_name: Option<String>,
}

/// Orders per user, every user (the source starts from the target itself, so a user without
/// orders gets 0).
#[derive(Backfill, Debug)]
#[backfill(
    table = "users",
    from = "users u LEFT JOIN orders o ON o.user_id = u.id",
    in_place,
    batch_size = 13
)]
pub struct OrderCount {
    #[backfill(key, expr = "u.id")]
    pub id: i64,
    #[backfill(expr = "count(o.id)")]
    pub order_count: Option<i64>,
}

/// Orders per user from `orders` alone: a user without orders has no source row and is left as
/// it is; an order of a user that does not exist inserts nothing.
#[derive(Backfill, Debug)]
#[backfill(
    table = "users",
    from = "orders o",
    in_place,
    job = "order_count_from_orders",
    batch_size = 11
)]
pub struct OrderCountFromOrders {
    #[backfill(key, expr = "o.user_id")]
    pub id: i64,
    #[backfill(expr = "count(*)")]
    pub order_count: Option<i64>,
}

/// A public id for every person that has none: a new UUID each, written once.
#[derive(Backfill, Debug)]
#[backfill(table = "people", job = "public_id", batch_size = 50)]
pub struct PublicId {
    #[backfill(key)]
    pub id: i64,
    #[backfill(
        postgres = "gen_random_uuid()::text",
        mysql = "UUID()",
        sqlite = "lower(hex(randomblob(16)))",
        merge = "keep"
    )]
    pub public_id: Option<String>,
}

/// The best score of each player: never lowered below what the application recorded.
#[derive(Backfill, Debug)]
#[backfill(table = "players", batch_size = 16)]
pub struct BestScore {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "score_a + score_b", merge = "greatest")]
    pub best_score: Option<i64>,
    #[backfill(expr = "score_a - score_b", merge = "least")]
    pub worst_gap: Option<i64>,
}

/// A label from each product's own name and text key, 7 keys a batch.
#[derive(Backfill, Debug)]
#[backfill(table = "products", batch_size = 7)]
pub struct ProductLabel {
    #[backfill(key)]
    pub sku: String,
    #[backfill(
        expr = "name || ' (' || sku || ')'",
        mysql = "CONCAT(name, ' (', sku, ')')"
    )]
    pub label: Option<String>,
}

/// A display name per (tenant, account), a composite key, 5 keys a batch.
#[derive(Backfill, Debug)]
#[backfill(table = "accounts", batch_size = 5)]
pub struct AccountDisplay {
    #[backfill(key)]
    pub tenant_id: i64,
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "upper(name)")]
    pub display: Option<String>,
}

/// Full names of the people a filter selects; the others are left as they are.
#[derive(Backfill, Debug)]
#[backfill(table = "people", filter = "id % 3 <> 0", batch_size = 40)]
pub struct FilteredFullName {
    #[backfill(key)]
    pub id: i64,
    #[backfill(
        expr = "first_name || ' ' || last_name",
        mysql = "CONCAT(first_name, ' ', last_name)"
    )]
    pub full_name: Option<String>,
}

/// A mixed-case table, a reserved-word key column and a reserved-word target column, both
/// renamed from their fields.
#[derive(Backfill, Debug)]
#[backfill(table = "InPlaceItems", batch_size = 9)]
pub struct ReservedNames {
    #[backfill(key, column = "group")]
    pub group_id: i64,
    #[backfill(column = "order", expr = "upper(status)")]
    pub order_label: Option<String>,
}

/// A price with tax, stored in a column that rounds it to cents.
#[derive(Backfill, Debug)]
#[backfill(table = "prices", batch_size = 6)]
pub struct PriceWithTax {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "net * 1.0825")]
    pub gross: Option<f64>,
}

/// An upsert into a target whose primary key fills itself (identity, AUTO_INCREMENT, rowid),
/// keyed on another unique column.
#[derive(Backfill, Debug)]
#[backfill(
    table = "event_totals",
    from = "tally_events",
    allow_other_unique_keys,
    batch_size = 4
)]
pub struct EventTotals {
    #[backfill(key)]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub events: i64,
}

/// A target column that does not exist.
#[derive(Backfill, Debug)]
#[backfill(table = "people", job = "nick_name", batch_size = 50)]
pub struct NickName {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "first_name")]
    pub nick_name: Option<String>,
}

/// A target without any unique index on its key.
#[derive(Backfill, Debug)]
#[backfill(table = "people_no_index", job = "no_index", batch_size = 50)]
pub struct FullNameNoIndex {
    #[backfill(key)]
    pub id: i64,
    #[backfill(
        expr = "first_name || ' ' || last_name",
        mysql = "CONCAT(first_name, ' ', last_name)"
    )]
    pub full_name: Option<String>,
}

/// A key on a column that is not the target's key (`last_name` has an index, not a unique one).
#[derive(Backfill, Debug)]
#[backfill(table = "people", job = "by_last_name", batch_size = 50)]
pub struct FullNameByLastName {
    #[backfill(key)]
    pub last_name: String,
    #[backfill(
        expr = "first_name || ' ' || last_name",
        mysql = "CONCAT(first_name, ' ', last_name)"
    )]
    pub full_name: Option<String>,
}

/// An upsert (with `from`) into `contacts`, whose `email` is NOT NULL without a default and not
/// written by the struct: every INSERT would fail on it.
#[derive(Backfill, Debug)]
#[backfill(table = "contacts", from = "contact_import", batch_size = 10)]
pub struct ContactNicknames {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "nickname")]
    pub nickname: Option<String>,
}

/// The same upsert into a target whose NOT NULL `email` has a default: accepted.
#[derive(Backfill, Debug)]
#[backfill(
    table = "contacts_with_default",
    from = "contact_import",
    batch_size = 10
)]
pub struct ContactNicknamesWithDefault {
    #[backfill(key)]
    pub id: i64,
    #[backfill(expr = "nickname")]
    pub nickname: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The data
// ---------------------------------------------------------------------------------------------

/// People in the main tests (ids 1..=2,198, a gap every tenth).
const PEOPLE: i64 = 2_000;
/// People in the SIGKILL test: 120 batches of 25.
const KILLED_PEOPLE: i64 = 3_000;

const PEOPLE_COLUMNS: &[&str] = &[
    "id",
    "email",
    "first_name",
    "last_name",
    "created_at",
    "full_name",
    "public_id",
];
/// The columns the application owns (every column but the two backfilled ones).
const APP_COLUMNS: &[&str] = &["id", "email", "first_name", "last_name", "created_at"];

const FIRST: &[&str] = &[
    "Ada", "Grace", "Alan", "Zoë", "Émile", "O'Neil", "Linus", "barbara", "Edsger", "Ken",
    "Jean-Luc",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "O'Brien",
    "Dijkstra",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Müller",
    "van Rossum",
    "Nakamura",
];

/// The `i`-th person's id: 1..=9, 11..=19, ... (a gap every tenth).
fn person_id(i: i64) -> i64 {
    i + i / 10
}

#[derive(Clone, Debug, PartialEq)]
struct Person {
    email: String,
    first: String,
    last: String,
}

impl Person {
    fn of(id: i64) -> Person {
        Person {
            email: format!("user{id}@example.com"),
            first: FIRST[(id % 11) as usize].to_string(),
            last: LAST[((id / 11 + id * 3) % 11) as usize].to_string(),
        }
    }

    fn full_name(&self) -> String {
        format!("{} {}", self.first, self.last)
    }
}

fn created_at(id: i64) -> String {
    let base = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid date");
    (base + chrono::Duration::seconds(id * 61))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A SQL string literal (the data holds apostrophes, never backslashes).
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn lit_opt(s: &Option<String>) -> String {
    s.as_deref().map_or_else(|| "NULL".to_string(), lit)
}

/// What a person's `full_name` holds before the first run: mostly NULL, some already right,
/// some stale, some right but for the letter case (equal under MariaDB's default collation,
/// different bytes: it must be rewritten).
fn initial_full_name(id: i64) -> Option<String> {
    let right = Person::of(id).full_name();
    if id % 13 == 0 {
        Some("stale".to_string())
    } else if id % 17 == 0 {
        Some(right.to_uppercase())
    } else if id % 10 == 1 {
        Some(right)
    } else {
        None
    }
}

/// Every fifth person already has a public id.
fn initial_public_id(id: i64) -> Option<String> {
    (id % 5 == 0).then(|| format!("legacy-{id}"))
}

/// The DDL of a people table named `table` (no index but the primary key, unless `extra`).
fn people_ddl(db: &Db, table: &str, primary_key: bool) -> String {
    let pk = if primary_key { " PRIMARY KEY" } else { "" };
    match db.engine {
        Engine::Postgres => format!(
            "CREATE TABLE {table} (id BIGINT NOT NULL{pk}, email VARCHAR(128) NOT NULL, first_name VARCHAR(64) NOT NULL, last_name VARCHAR(64) NOT NULL, created_at TIMESTAMP NOT NULL, full_name VARCHAR(200) NULL, public_id VARCHAR(64) NULL)"
        ),
        Engine::MySql => format!(
            "CREATE TABLE {table} (id BIGINT NOT NULL{pk}, email VARCHAR(128) NOT NULL, first_name VARCHAR(64) NOT NULL, last_name VARCHAR(64) NOT NULL, created_at DATETIME NOT NULL, full_name VARCHAR(200) NULL, public_id VARCHAR(64) NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        ),
        Engine::Sqlite => {
            let id = if primary_key {
                "id INTEGER PRIMARY KEY"
            } else {
                "id INTEGER NOT NULL"
            };
            format!(
                "CREATE TABLE {table} ({id}, email TEXT NOT NULL, first_name TEXT NOT NULL, last_name TEXT NOT NULL, created_at TEXT NOT NULL, full_name TEXT NULL, public_id TEXT NULL)"
            )
        }
    }
}

/// Inserts the people `ids` into `table` with the given initial backfilled columns.
async fn insert_people(
    db: &Db,
    table: &str,
    ids: impl IntoIterator<Item = i64>,
    full_name: impl Fn(i64) -> Option<String>,
    public_id: impl Fn(i64) -> Option<String>,
) {
    let ids: Vec<i64> = ids.into_iter().collect();
    for chunk in ids.chunks(250) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|&id| {
                let p = Person::of(id);
                format!(
                    "({id}, {}, {}, {}, {}, {}, {})",
                    lit(&p.email),
                    lit(&p.first),
                    lit(&p.last),
                    lit(&created_at(id)),
                    lit_opt(&full_name(id)),
                    lit_opt(&public_id(id)),
                )
            })
            .collect();
        db.exec(&format!(
            "INSERT INTO {table} (id, email, first_name, last_name, created_at, full_name, public_id) VALUES {}",
            rows.join(", ")
        ))
        .await;
    }
}

/// Creates `people` with `n` people.
async fn seed_people(db: &Db, n: i64) {
    if db.engine == Engine::Postgres {
        common::types::ensure_gen_random_uuid(db).await;
    }
    db.exec(&people_ddl(db, "people", true)).await;
    insert_people(
        db,
        "people",
        (1..=n).map(person_id),
        initial_full_name,
        initial_public_id,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Whole-table comparisons
// ---------------------------------------------------------------------------------------------

/// Every row of `table` ordered by `order_by`, each rendered as its columns' text joined by `|`
/// (NULL as `<null>`), as `Db::checksum` renders them.
async fn rows(db: &Db, table: &str, columns: &[&str], order_by: &[&str]) -> Vec<String> {
    let text = match db.engine {
        Engine::MySql => "CHAR",
        _ => "TEXT",
    };
    let cells: Vec<String> = columns
        .iter()
        .map(|c| format!("COALESCE(CAST({} AS {text}), '<null>')", db.quote(c)))
        .collect();
    let concat = match db.engine {
        Engine::MySql => format!("CONCAT_WS('|', {})", cells.join(", ")),
        _ => cells.join(" || '|' || "),
    };
    let order: Vec<String> = order_by.iter().map(|c| db.quote(c)).collect();
    db.strings(&format!(
        "SELECT {concat} FROM {} ORDER BY {}",
        db.quote(table),
        order.join(", ")
    ))
    .await
}

/// Asserts two renderings of a table are identical, showing the first rows that differ.
fn assert_same_rows(db: &Db, what: &str, actual: &[String], expected: &[String]) {
    if actual == expected {
        return;
    }
    let differing: Vec<String> = actual
        .iter()
        .zip(expected)
        .filter(|(a, e)| a != e)
        .take(5)
        .map(|(a, e)| format!("\n  got      {a}\n  expected {e}"))
        .collect();
    panic!(
        "{}: {what}: {} rows, expected {}; first differing rows:{}",
        db.name(),
        actual.len(),
        expected.len(),
        differing.concat()
    );
}

/// The single whole-table statement of `def` on this engine (no parameters), its holes (a
/// value cast to its column's type) filled from the catalog as a run fills them.
async fn upsert_all(db: &Db, def: &'static Definition) -> String {
    let stmts = def
        .statements(db.engine)
        .unwrap_or_else(|| panic!("{} has no {} statements", def.name, db.name()));
    let stmt = &stmts.upsert_all;
    assert!(stmt.params.is_empty(), "upsert_all binds nothing");
    let sql = match &db.pool {
        Pool::Sqlite(p) => p.executable_sql(def, stmt).await,
        Pool::Postgres(p) => p.executable_sql(def, stmt).await,
        Pool::MySql(p) => p.executable_sql(def, stmt).await,
    };
    sql.unwrap_or_else(|e| panic!("{}: the whole-table UPDATE of {}: {e}", db.name(), def.name))
}

/// Asserts `table` as the backfill left it equals the reference: `column` emptied and refilled
/// by the single whole-table UPDATE, every column of the table compared. Leaves the reference.
async fn assert_matches_reference(
    db: &Db,
    def: &'static Definition,
    table: &str,
    column: &str,
    columns: &[&str],
) {
    let backfilled = rows(db, table, columns, &["id"]).await;
    db.exec(&format!(
        "UPDATE {} SET {} = NULL",
        db.quote(table),
        db.quote(column)
    ))
    .await;
    db.exec(&upsert_all(db, def).await).await;
    let reference = rows(db, table, columns, &["id"]).await;
    assert_same_rows(
        db,
        &format!("{} against the single UPDATE", def.name),
        &backfilled,
        &reference,
    );
}

/// `(id, text column)` pairs of `table`, ordered by id.
async fn id_texts(db: &Db, table: &str, column: &str) -> Vec<(i64, Option<String>)> {
    let sql = format!("SELECT id, {column} FROM {table} ORDER BY id");
    let result = match &db.pool {
        Pool::Sqlite(p) => sqlx::query_as(common::test_sql(&sql)).fetch_all(p).await,
        Pool::Postgres(p) => sqlx::query_as(common::test_sql(&sql)).fetch_all(p).await,
        Pool::MySql(p) => sqlx::query_as(common::test_sql(&sql)).fetch_all(p).await,
    };
    result.unwrap_or_else(|e| panic!("{}: {sql}: {e}", db.name()))
}

/// `(id, integer column)` pairs of `table`, ordered by id.
async fn id_ints(db: &Db, table: &str, column: &str) -> Vec<(i64, Option<i64>)> {
    let sql = format!("SELECT id, {column} FROM {table} ORDER BY id");
    let result = match &db.pool {
        Pool::Sqlite(p) => sqlx::query_as(common::test_sql(&sql)).fetch_all(p).await,
        Pool::Postgres(p) => sqlx::query_as(common::test_sql(&sql)).fetch_all(p).await,
        Pool::MySql(p) => sqlx::query_as(common::test_sql(&sql)).fetch_all(p).await,
    };
    result.unwrap_or_else(|e| panic!("{}: {sql}: {e}", db.name()))
}

fn done(db: &Db, what: &str, result: Result<Report, Error>) -> Report {
    let report = result.unwrap_or_else(|e| panic!("{}: {what}: {e}", db.name()));
    assert_eq!(report.stop, StopReason::Done, "{}: {what}", db.name());
    report
}

// ---------------------------------------------------------------------------------------------
// 1. A new column filled from the row's own columns
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn full_name_is_filled_in_place_and_equals_the_single_update() {
    for db in common::engines("in_place_full_name").await {
        let name = db.name();
        seed_people(&db, PEOPLE).await;
        let def = FullName::definition();
        let app_before = rows(&db, "people", APP_COLUMNS, &["id"]).await;
        let ids: Vec<i64> = (1..=PEOPLE).map(person_id).collect();
        let to_change = ids
            .iter()
            .filter(|&&id| initial_full_name(id) != Some(Person::of(id).full_name()))
            .count() as u64;
        assert!(to_change > 1_500 && to_change < PEOPLE as u64, "{name}");

        db.check(def)
            .await
            .unwrap_or_else(|e| panic!("{name}: preflight of an in-place backfill: {e}"));
        let report = done(
            &db,
            "first run",
            db.run(def, RunOptions::default().batch_size(37)).await,
        );
        assert_eq!(report.keys, PEOPLE as u64, "{name}: every person is a key");
        assert_eq!(report.batches, (PEOPLE as u64).div_ceil(37), "{name}");
        assert_eq!(
            report.rows_written, to_change,
            "{name}: rows changed, the rows already right not counted"
        );
        assert_eq!(report.null_keys, 0, "{name}");
        assert_eq!(report.rows_deleted, 0, "{name}: in place never deletes");

        // Nothing else moved, nothing was inserted or deleted, and every full name is the
        // person's own first and last name, byte for byte.
        assert_same_rows(
            &db,
            "the application's columns",
            &rows(&db, "people", APP_COLUMNS, &["id"]).await,
            &app_before,
        );
        let expected: Vec<(i64, Option<String>)> = ids
            .iter()
            .map(|&id| (id, Some(Person::of(id).full_name())))
            .collect();
        assert_eq!(
            id_texts(&db, "people", "full_name").await,
            expected,
            "{name}"
        );
        assert_matches_reference(&db, def, "people", "full_name", PEOPLE_COLUMNS).await;

        let verify = db.verify(def).await.unwrap();
        assert!(verify.is_clean(), "{name}: {verify}");
        assert_eq!(
            (verify.missing, verify.extra, verify.different),
            (0, 0, 0),
            "{name}"
        );
        assert_eq!(verify.target_rows, PEOPLE as u64, "{name}");

        // A finished job is not re-run; restarted, it rewrites nothing.
        let again = db.run(def, RunOptions::default()).await.unwrap();
        assert_eq!(again.stop, StopReason::AlreadyDone, "{name}");
        let table = rows(&db, "people", PEOPLE_COLUMNS, &["id"]).await;
        // PostgreSQL: the row versions' creating transactions, which any rewrite would change.
        let xmins = "SELECT string_agg(xmin::text, ',' ORDER BY id) FROM people";
        let xmin_before = match db.engine {
            Engine::Postgres => db.strings(xmins).await,
            _ => Vec::new(),
        };
        let rerun = done(
            &db,
            "restart",
            db.run(def, RunOptions::default().restart(true).batch_size(37))
                .await,
        );
        assert_eq!(rerun.rows_written, 0, "{name}: a re-run writes no row");
        if db.engine == Engine::Postgres {
            assert_eq!(
                db.strings(xmins).await,
                xmin_before,
                "{name}: a re-run writes no new row version (xmin unchanged)"
            );
        }
        assert_eq!(rerun.keys, PEOPLE as u64, "{name}");
        assert_same_rows(
            &db,
            "after a re-run",
            &rows(&db, "people", PEOPLE_COLUMNS, &["id"]).await,
            &table,
        );

        // A damaged row is found by verify and repaired by a restart, alone.
        db.exec("UPDATE people SET full_name = 'x' WHERE id = 7")
            .await;
        let verify = db.verify(def).await.unwrap();
        assert_eq!(verify.different, 1, "{name}: {verify}");
        assert_eq!((verify.missing, verify.extra), (0, 0), "{name}: {verify}");
        let samples: Vec<String> = verify
            .different_samples
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(samples, vec!["7".to_string()], "{name}");
        let repair = done(
            &db,
            "repair",
            db.run(def, RunOptions::default().restart(true)).await,
        );
        assert_eq!(repair.rows_written, 1, "{name}: only the damaged row");
        assert_same_rows(
            &db,
            "after the repair",
            &rows(&db, "people", PEOPLE_COLUMNS, &["id"]).await,
            &table,
        );

        // Damage only the bytes see: the letter case, a trailing space (equal under MariaDB's
        // case-insensitive PAD SPACE collation).
        db.exec("UPDATE people SET full_name = UPPER(full_name) WHERE id = 11")
            .await;
        let padded = match db.engine {
            Engine::MySql => "UPDATE people SET full_name = CONCAT(full_name, ' ') WHERE id = 12",
            _ => "UPDATE people SET full_name = full_name || ' ' WHERE id = 12",
        };
        db.exec(padded).await;
        let verify = db.verify(def).await.unwrap();
        assert_eq!(verify.different, 2, "{name}: {verify}");
        let repair = done(
            &db,
            "byte repair",
            db.run(def, RunOptions::default().restart(true)).await,
        );
        assert_eq!(repair.rows_written, 2, "{name}");
        assert_same_rows(
            &db,
            "after the byte repair",
            &rows(&db, "people", PEOPLE_COLUMNS, &["id"]).await,
            &table,
        );
        assert!(db.verify(def).await.unwrap().is_clean(), "{name}");
    }
}

/// A unique index besides the key does not matter in place (on MySQL an upsert would need
/// `allow_other_unique_keys`; an UPDATE by key cannot hit another key's row).
#[tokio::test]
async fn another_unique_index_does_not_matter_in_place() {
    for db in common::engines("in_place_unique_email").await {
        let name = db.name();
        db.exec(&people_ddl(&db, "people_unique_email", true)).await;
        db.exec("CREATE UNIQUE INDEX people_email ON people_unique_email (email)")
            .await;
        insert_people(
            &db,
            "people_unique_email",
            (1..=300).map(person_id),
            |_| None,
            |_| None,
        )
        .await;
        let def = FullNameUniqueEmail::definition();
        let app_before = rows(&db, "people_unique_email", APP_COLUMNS, &["id"]).await;
        let report = done(&db, "run", db.run(def, RunOptions::default()).await);
        assert_eq!(report.rows_written, 300, "{name}");
        assert_same_rows(
            &db,
            "the application's columns",
            &rows(&db, "people_unique_email", APP_COLUMNS, &["id"]).await,
            &app_before,
        );
        assert_matches_reference(&db, def, "people_unique_email", "full_name", PEOPLE_COLUMNS)
            .await;
    }
}

/// Stopped after a few batches and resumed, it lands on the same table; a changed definition is
/// refused on the started job until a restart, which recomputes every row.
#[tokio::test]
async fn a_stopped_run_resumes_and_a_changed_definition_needs_a_restart() {
    for db in common::engines("in_place_resume").await {
        let name = db.name();
        seed_people(&db, PEOPLE).await;
        let def = FullName::definition();
        let first = db
            .run(def, RunOptions::default().max_batches(10))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(first.stop, StopReason::MaxBatches, "{name}");
        assert_eq!(first.keys, 250, "{name}");
        let cursor = first.cursor.clone().expect("a cursor after ten batches");
        assert_eq!(cursor.to_string(), person_id(250).to_string(), "{name}");
        let untouched = db
            .scalar(&format!(
                "SELECT count(*) FROM people WHERE id > {cursor} AND full_name IS NULL"
            ))
            .await;
        let nulls_after_cursor = (251..=PEOPLE)
            .map(person_id)
            .filter(|&id| initial_full_name(id).is_none())
            .count() as i64;
        assert_eq!(
            untouched, nulls_after_cursor,
            "{name}: nothing after the cursor was written"
        );

        let changed = FullNameReversed::definition();
        let error = db
            .run(changed, RunOptions::default())
            .await
            .expect_err("a changed definition on a started job");
        assert!(
            matches!(error, Error::FingerprintMismatch { .. }),
            "{name}: {error:?}"
        );

        let rest = done(&db, "resume", db.run(def, RunOptions::default()).await);
        assert_eq!(rest.resumed_from, Some(cursor), "{name}");
        assert_eq!(rest.keys, PEOPLE as u64 - 250, "{name}");
        assert_matches_reference(&db, def, "people", "full_name", PEOPLE_COLUMNS).await;

        let report = done(
            &db,
            "the changed definition, restarted",
            db.run(changed, RunOptions::default().restart(true)).await,
        );
        assert_eq!(
            report.rows_written, PEOPLE as u64,
            "{name}: every row changes"
        );
        let reversed: Vec<(i64, Option<String>)> = (1..=PEOPLE)
            .map(person_id)
            .map(|id| {
                let p = Person::of(id);
                (id, Some(format!("{}, {}", p.last, p.first)))
            })
            .collect();
        assert_eq!(
            id_texts(&db, "people", "full_name").await,
            reversed,
            "{name}"
        );
        assert_matches_reference(&db, changed, "people", "full_name", PEOPLE_COLUMNS).await;
        assert!(db.verify(changed).await.unwrap().is_clean(), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. SIGKILLed worker processes
// ---------------------------------------------------------------------------------------------

/// The worker process: runs `FullName` once against the URL it is given and prints its report.
#[tokio::test]
async fn worker_process() {
    let Ok(url) = std::env::var("BACKFILL_IN_PLACE_WORKER_URL") else {
        return;
    };
    let pause = std::env::var("BACKFILL_IN_PLACE_WORKER_PAUSE_MS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let options = RunOptions::default()
        .pause(Duration::from_millis(pause))
        .max_retries(50)
        .retry_backoff(Duration::from_millis(20));
    let def = FullName::definition();
    common::worker::run(&url, def, options).await;
}

fn spawn_worker(db: &Db, pause_ms: u64) -> Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "worker_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BACKFILL_IN_PLACE_WORKER_URL", &db.url)
        .env("BACKFILL_IN_PLACE_WORKER_PAUSE_MS", pause_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a worker process")
}

/// The job's committed batches, 0 before the progress table or its row exists.
async fn committed_batches(db: &Db) -> i64 {
    let exists = match db.engine {
        Engine::Sqlite => db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'backfill_progress'").await,
        Engine::Postgres => db.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'backfill_progress'").await,
        Engine::MySql => db.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'backfill_progress'").await,
    };
    if exists == 0
        || db
            .scalar("SELECT count(*) FROM backfill_progress WHERE job = 'people'")
            .await
            == 0
    {
        return 0;
    }
    db.progress_i64("batches", "people").await
}

#[tokio::test]
async fn workers_killed_with_sigkill_again_and_again_fill_the_same_table() {
    for db in common::engines("in_place_sigkill").await {
        let name = db.name();
        seed_people(&db, KILLED_PEOPLE).await;
        let def = FullName::definition();
        let to_change = (1..=KILLED_PEOPLE)
            .map(person_id)
            .filter(|&id| initial_full_name(id) != Some(Person::of(id).full_name()))
            .count() as i64;
        let app_before = rows(&db, "people", APP_COLUMNS, &["id"]).await;
        let mut rng = fastrand::Rng::with_seed(11);
        let mut kills = 0;
        let mut after_each = Vec::new();
        let mut last = 0;
        loop {
            let mut child = spawn_worker(&db, 60);
            if kills < 25 {
                let after = Duration::from_millis(rng.u64(20..250));
                let started = Instant::now();
                while started.elapsed() < after {
                    if child.try_wait().expect("poll the worker").is_some() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                if child.try_wait().expect("poll the worker").is_none() {
                    child.kill().expect("SIGKILL the worker");
                    child.wait().expect("reap the worker");
                    kills += 1;
                    let batches = committed_batches(&db).await;
                    assert!(batches >= last, "{name}: progress went backwards");
                    last = batches;
                    after_each.push(batches);
                    continue;
                }
            }
            let output = child.wait_with_output().expect("the worker's output");
            assert!(
                output.status.success(),
                "{name}: worker failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(
                common::worker::reported(&output),
                "{name}: the last worker printed no report"
            );
            break;
        }
        assert!(
            kills >= 20,
            "{name}: only {kills} kills before the job finished"
        );
        let status = db
            .strings("SELECT status FROM backfill_progress WHERE job = 'people'")
            .await;
        assert_eq!(status, vec!["done".to_string()], "{name}");
        // Every committed batch moved the cursor once; every row was changed once over all
        // lives (a killed batch rolled back with its cursor, and its rows were written by the
        // batch that re-did the range).
        assert_eq!(
            db.progress_i64("batches", "people").await,
            (KILLED_PEOPLE + 24) / 25,
            "{name}: batches committed over all lives"
        );
        assert_eq!(
            db.progress_i64("keys", "people").await,
            KILLED_PEOPLE,
            "{name}"
        );
        assert_eq!(
            db.progress_i64("rows_written", "people").await,
            to_change,
            "{name}: rows changed over all lives"
        );
        assert_same_rows(
            &db,
            "the application's columns",
            &rows(&db, "people", APP_COLUMNS, &["id"]).await,
            &app_before,
        );
        assert_matches_reference(&db, def, "people", "full_name", PEOPLE_COLUMNS).await;
        assert!(db.verify(def).await.unwrap().is_clean(), "{name}");
        eprintln!(
            "{name}: survived {kills} SIGKILLs; committed batches after each: {after_each:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3. The joined form
// ---------------------------------------------------------------------------------------------

const USERS: i64 = 300;
const ORDERS: i64 = 1_000;
const USER_COLUMNS: &[&str] = &["id", "name", "email", "order_count"];

/// Order `i`'s user, or none (no such order): users 1..=400 (301..=400 do not exist), and no
/// user whose id is a multiple of 7 has orders.
fn order_user(i: i64) -> Option<i64> {
    let user = (i * 7919) % 400 + 1;
    (user % 7 != 0).then_some(user)
}

/// Orders per existing user, as the source says.
fn order_counts() -> BTreeMap<i64, i64> {
    let mut counts: BTreeMap<i64, i64> = (1..=USERS).map(|u| (u, 0)).collect();
    for i in 1..=ORDERS {
        if let Some(u) = order_user(i) {
            if let Some(c) = counts.get_mut(&u) {
                *c += 1;
            }
        }
    }
    counts
}

/// A user's `order_count` before the first run: NULL, stale (999) or already right.
fn initial_order_count(id: i64, counts: &BTreeMap<i64, i64>) -> Option<i64> {
    if id % 9 == 0 {
        Some(999)
    } else if id % 10 == 0 {
        Some(counts[&id])
    } else {
        None
    }
}

async fn insert_users(db: &Db, ids: impl Iterator<Item = i64>) {
    let counts = order_counts();
    let values: Vec<String> = ids
        .map(|id| {
            let count = counts
                .get(&id)
                .and_then(|_| initial_order_count(id, &counts))
                .map_or_else(|| "NULL".to_string(), |c| c.to_string());
            format!(
                "({id}, {}, {}, {count})",
                lit(&format!("User {id}")),
                lit(&format!("u{id}@example.com"))
            )
        })
        .collect();
    db.exec(&format!(
        "INSERT INTO users (id, name, email, order_count) VALUES {}",
        values.join(", ")
    ))
    .await;
}

async fn seed_users_and_orders(db: &Db) {
    let (int, text, tail) = match db.engine {
        Engine::MySql => (
            "BIGINT",
            "VARCHAR(128)",
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        ),
        Engine::Postgres => ("BIGINT", "VARCHAR(128)", ""),
        Engine::Sqlite => ("INTEGER", "TEXT", ""),
    };
    db.exec(&format!(
        "CREATE TABLE users (id {int} PRIMARY KEY, name {text} NOT NULL, email {text} NOT NULL, order_count {int} NULL){tail}"
    ))
    .await;
    db.exec(&format!(
        "CREATE TABLE orders (id {int} PRIMARY KEY, user_id {int} NOT NULL, total {int} NOT NULL){tail}"
    ))
    .await;
    db.exec("CREATE INDEX orders_user_id ON orders (user_id)")
        .await;
    insert_users(db, 1..=USERS).await;
    let orders: Vec<String> = (1..=ORDERS)
        .filter_map(|i| order_user(i).map(|u| format!("({i}, {u}, {})", i * 37 % 500)))
        .collect();
    for chunk in orders.chunks(250) {
        db.exec(&format!(
            "INSERT INTO orders (id, user_id, total) VALUES {}",
            chunk.join(", ")
        ))
        .await;
    }
}

#[tokio::test]
async fn order_counts_fill_existing_users_from_a_join() {
    for db in common::engines("in_place_joined").await {
        let name = db.name();
        seed_users_and_orders(&db).await;
        let def = OrderCount::definition();
        let counts = order_counts();
        let without_orders = counts.values().filter(|&&c| c == 0).count() as i64;
        assert!(without_orders > 30, "{name}: users without orders exist");
        let to_change = counts
            .iter()
            .filter(|(&id, &c)| initial_order_count(id, &counts) != Some(c))
            .count() as u64;
        let orders_before = rows(&db, "orders", &["id", "user_id", "total"], &["id"]).await;
        let app_before = rows(&db, "users", &["id", "name", "email"], &["id"]).await;

        db.check(def)
            .await
            .unwrap_or_else(|e| panic!("{name}: preflight: {e}"));
        let report = done(&db, "first run", db.run(def, RunOptions::default()).await);
        assert_eq!(report.keys, USERS as u64, "{name}");
        assert_eq!(report.rows_written, to_change, "{name}");
        let expected: Vec<(i64, Option<i64>)> =
            counts.iter().map(|(&id, &c)| (id, Some(c))).collect();
        assert_eq!(
            id_ints(&db, "users", "order_count").await,
            expected,
            "{name}"
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM users WHERE order_count = 0")
                .await,
            without_orders,
            "{name}: users without orders get 0"
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM users WHERE order_count IS NULL")
                .await,
            0,
            "{name}"
        );
        assert_same_rows(
            &db,
            "the users' other columns",
            &rows(&db, "users", &["id", "name", "email"], &["id"]).await,
            &app_before,
        );
        assert_same_rows(
            &db,
            "orders",
            &rows(&db, "orders", &["id", "user_id", "total"], &["id"]).await,
            &orders_before,
        );
        assert_matches_reference(&db, def, "users", "order_count", USER_COLUMNS).await;
        let verify = db.verify(def).await.unwrap();
        assert!(verify.is_clean(), "{name}: {verify}");

        // A new user with no orders, and a first order for user 7: a restart gives the one 0
        // and the other 1, and rewrites nothing else.
        db.exec("INSERT INTO users (id, name, email) VALUES (1000, 'New', 'new@example.com')")
            .await;
        db.exec("INSERT INTO orders (id, user_id, total) VALUES (5000, 7, 12)")
            .await;
        let verify = db.verify(def).await.unwrap();
        assert_eq!(verify.different, 2, "{name}: {verify}");
        assert_eq!((verify.missing, verify.extra), (0, 0), "{name}: {verify}");
        let report = done(
            &db,
            "after new rows",
            db.run(def, RunOptions::default().restart(true)).await,
        );
        assert_eq!(report.rows_written, 2, "{name}");
        assert_eq!(
            db.scalar("SELECT order_count FROM users WHERE id = 1000")
                .await,
            0,
            "{name}: the new user without orders"
        );
        assert_eq!(
            db.scalar("SELECT order_count FROM users WHERE id = 7")
                .await,
            1,
            "{name}"
        );
        assert_matches_reference(&db, def, "users", "order_count", USER_COLUMNS).await;
        let table = rows(&db, "users", USER_COLUMNS, &["id"]).await;
        let rerun = done(
            &db,
            "re-run",
            db.run(def, RunOptions::default().restart(true)).await,
        );
        assert_eq!(rerun.rows_written, 0, "{name}");
        assert_same_rows(
            &db,
            "after a re-run",
            &rows(&db, "users", USER_COLUMNS, &["id"]).await,
            &table,
        );
    }
}

/// From `orders` alone: users without orders have no source row and keep what they had; the
/// orders of users that do not exist (301..=400) insert nothing.
#[tokio::test]
async fn a_target_row_without_a_source_row_is_left_as_it_is() {
    for db in common::engines("in_place_inner").await {
        let name = db.name();
        seed_users_and_orders(&db).await;
        let def = OrderCountFromOrders::definition();
        let counts = order_counts();
        let initial = id_ints(&db, "users", "order_count").await;
        let expected: Vec<(i64, Option<i64>)> = initial
            .iter()
            .map(|&(id, before)| {
                let c = counts[&id];
                (id, if c == 0 { before } else { Some(c) })
            })
            .collect();
        // Users without orders that keep a value: NULL, and a stale 999 (id 63).
        assert!(expected.contains(&(63, Some(999))), "{name}");
        assert!(expected.contains(&(7, None)), "{name}");

        // The reference: the single UPDATE from the same initial table.
        db.exec(&upsert_all(&db, def).await).await;
        let reference = rows(&db, "users", USER_COLUMNS, &["id"]).await;
        db.exec("DELETE FROM users").await;
        insert_users(&db, 1..=USERS).await;
        assert_eq!(
            id_ints(&db, "users", "order_count").await,
            initial,
            "{name}"
        );

        let changes = initial
            .iter()
            .zip(&expected)
            .filter(|(before, after)| before != after)
            .count() as u64;
        // `delete_extra` would delete the users without orders: refused, nothing written.
        let error = db
            .run(def, RunOptions::default().delete_extra(true))
            .await
            .expect_err("delete_extra in place");
        assert!(matches!(error, Error::Options(_)), "{name}: {error:?}");
        assert!(error.to_string().contains("in place"), "{name}: {error}");
        assert_eq!(
            id_ints(&db, "users", "order_count").await,
            initial,
            "{name}"
        );

        let report = done(&db, "run", db.run(def, RunOptions::default()).await);
        assert_eq!(report.rows_written, changes, "{name}");
        assert_eq!(report.rows_deleted, 0, "{name}");
        assert_eq!(
            id_ints(&db, "users", "order_count").await,
            expected,
            "{name}"
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM users").await,
            USERS,
            "{name}: nothing inserted for the orders of users that do not exist"
        );
        assert_same_rows(
            &db,
            "against the single UPDATE",
            &rows(&db, "users", USER_COLUMNS, &["id"]).await,
            &reference,
        );
        let verify = db.verify(def).await.unwrap();
        assert_eq!(
            (verify.missing, verify.extra, verify.different),
            (0, 0, 0),
            "{name}: in place, missing and extra are always 0: {verify}"
        );
        let rerun = done(
            &db,
            "re-run",
            db.run(def, RunOptions::default().restart(true)).await,
        );
        assert_eq!(rerun.rows_written, 0, "{name}");
        assert_same_rows(
            &db,
            "after a re-run",
            &rows(&db, "users", USER_COLUMNS, &["id"]).await,
            &reference,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Written once: merge = "keep" with a volatile value
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn keep_writes_a_new_uuid_only_where_there_is_none() {
    for db in common::engines("in_place_keep_uuid").await {
        let name = db.name();
        seed_people(&db, PEOPLE).await;
        let def = PublicId::definition();
        let ids: Vec<i64> = (1..=PEOPLE).map(person_id).collect();
        let nulls = ids
            .iter()
            .filter(|&&id| initial_public_id(id).is_none())
            .count() as u64;
        let others: Vec<&str> = PEOPLE_COLUMNS
            .iter()
            .copied()
            .filter(|c| *c != "public_id")
            .collect();
        let others_before = rows(&db, "people", &others, &["id"]).await;

        let report = done(&db, "first run", db.run(def, RunOptions::default()).await);
        assert_eq!(report.rows_written, nulls, "{name}: only the NULL rows");
        let after = id_texts(&db, "people", "public_id").await;
        assert_eq!(after.len(), ids.len(), "{name}");
        let mut seen = std::collections::HashSet::new();
        for (id, value) in &after {
            let value = value
                .as_deref()
                .unwrap_or_else(|| panic!("{name}: person {id} has no public id"));
            match initial_public_id(*id) {
                Some(legacy) => assert_eq!(value, legacy, "{name}: person {id} kept its id"),
                None => assert!(
                    value.len() >= 32 && !value.starts_with("legacy-"),
                    "{name}: person {id}: {value}"
                ),
            }
            assert!(seen.insert(value.to_string()), "{name}: {value} twice");
        }
        assert_same_rows(
            &db,
            "every other column",
            &rows(&db, "people", &others, &["id"]).await,
            &others_before,
        );
        let verify = db.verify(def).await.unwrap();
        assert!(verify.is_clean(), "{name}: {verify}");

        // A re-run changes nothing: every row has its value and keeps it.
        let table = rows(&db, "people", PEOPLE_COLUMNS, &["id"]).await;
        let rerun = done(
            &db,
            "re-run",
            db.run(def, RunOptions::default().restart(true)).await,
        );
        assert_eq!(rerun.rows_written, 0, "{name}");
        assert_same_rows(
            &db,
            "after a re-run",
            &rows(&db, "people", PEOPLE_COLUMNS, &["id"]).await,
            &table,
        );

        // A new person gets one; nobody else's changes.
        insert_people(&db, "people", [90_000], |_| None, |_| None).await;
        let report = done(
            &db,
            "new row",
            db.run(def, RunOptions::default().restart(true)).await,
        );
        assert_eq!(report.rows_written, 1, "{name}");
        let now = rows(&db, "people", PEOPLE_COLUMNS, &["id"]).await;
        assert_same_rows(&db, "the rows that had an id", &now[..table.len()], &table);
        assert_eq!(
            db.scalar("SELECT count(*) FROM people WHERE public_id IS NULL")
                .await,
            0,
            "{name}"
        );
    }
}

/// A player's scores, and what the application already stored: NULL, higher or lower than the
/// recompute.
fn player(id: i64) -> (i64, i64, Option<i64>, Option<i64>) {
    let (a, b) = (id * 37 % 100, id * 11 % 50);
    let best = match id % 3 {
        0 => None,
        1 => Some(a + b + 1_000),
        _ => Some(a + b - 7),
    };
    let gap = match id % 4 {
        0 => None,
        1 => Some(a - b - 500),
        _ => Some(a - b + 3),
    };
    (a, b, best, gap)
}

async fn seed_players(db: &Db) {
    let int = if db.engine == Engine::Sqlite {
        "INTEGER"
    } else {
        "BIGINT"
    };
    let text = if db.engine == Engine::Sqlite {
        "TEXT"
    } else {
        "VARCHAR(64)"
    };
    db.exec(&format!(
        "CREATE TABLE players (id {int} PRIMARY KEY, name {text} NOT NULL, score_a {int} NOT NULL, score_b {int} NOT NULL, best_score {int} NULL, worst_gap {int} NULL)"
    ))
    .await;
    let values: Vec<String> = (1..=200)
        .map(|id| {
            let (a, b, best, gap) = player(id);
            let opt = |v: Option<i64>| v.map_or_else(|| "NULL".to_string(), |v| v.to_string());
            format!("({id}, 'p{id}', {a}, {b}, {}, {})", opt(best), opt(gap))
        })
        .collect();
    db.exec(&format!(
        "INSERT INTO players (id, name, score_a, score_b, best_score, worst_gap) VALUES {}",
        values.join(", ")
    ))
    .await;
}

const PLAYER_COLUMNS: &[&str] = &[
    "id",
    "name",
    "score_a",
    "score_b",
    "best_score",
    "worst_gap",
];

#[tokio::test]
async fn greatest_and_least_merge_in_place() {
    for db in common::engines("in_place_merges").await {
        let name = db.name();
        let def = BestScore::definition();
        seed_players(&db).await;
        db.exec(&upsert_all(&db, def).await).await;
        let reference = rows(&db, "players", PLAYER_COLUMNS, &["id"]).await;
        db.exec("DROP TABLE players").await;
        seed_players(&db).await;

        let expected: Vec<String> = (1..=200)
            .map(|id| {
                let (a, b, best, gap) = player(id);
                let best = best.map_or(a + b, |s| s.max(a + b));
                let gap = gap.map_or(a - b, |g| g.min(a - b));
                format!("{id}|p{id}|{a}|{b}|{best}|{gap}")
            })
            .collect();
        let changes = (1..=200)
            .filter(|&id| {
                let (a, b, best, gap) = player(id);
                best.is_none_or(|s| s < a + b) || gap.is_none_or(|g| g > a - b)
            })
            .count() as u64;
        let report = done(&db, "run", db.run(def, RunOptions::default()).await);
        assert_eq!(report.rows_written, changes, "{name}");
        let table = rows(&db, "players", PLAYER_COLUMNS, &["id"]).await;
        assert_same_rows(&db, "against the model", &table, &expected);
        assert_same_rows(&db, "against the single UPDATE", &table, &reference);
        assert!(db.verify(def).await.unwrap().is_clean(), "{name}");
        let rerun = done(
            &db,
            "re-run",
            db.run(def, RunOptions::default().restart(true)).await,
        );
        assert_eq!(rerun.rows_written, 0, "{name}");
        assert_same_rows(
            &db,
            "after a re-run",
            &rows(&db, "players", PLAYER_COLUMNS, &["id"]).await,
            &expected,
        );
    }
}

/// A text key whose values differ in letter case and accents (ordered and compared by each
/// engine's collation: case- and accent-insensitive on MariaDB) and a composite key, cut into
/// small ranges: every row is written once, a re-run writes nothing.
#[tokio::test]
async fn text_and_composite_keys_in_place() {
    for db in common::engines("in_place_keys").await {
        let name = db.name();
        let (int, text, tail) = match db.engine {
            Engine::MySql => (
                "BIGINT",
                "VARCHAR(64)",
                " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            ),
            Engine::Postgres => ("BIGINT", "VARCHAR(64)", ""),
            Engine::Sqlite => ("INTEGER", "TEXT", ""),
        };
        db.exec(&format!(
            "CREATE TABLE products (sku {text} NOT NULL PRIMARY KEY, name {text} NOT NULL, label {text} NULL){tail}"
        ))
        .await;
        db.exec(&format!(
            "CREATE TABLE accounts (tenant_id {int} NOT NULL, id {int} NOT NULL, name {text} NOT NULL, display {text} NULL, PRIMARY KEY (tenant_id, id)){tail}"
        ))
        .await;
        let prefixes = ["a", "B", "c", "D", "é", "É", "z", "Z", "ö", "_", "0"];
        let products: Vec<String> = (1..=150)
            .map(|i| {
                let sku = format!("{}{i:03}", prefixes[i % prefixes.len()]);
                format!("({}, {})", lit(&sku), lit(&format!("Product {i}")))
            })
            .collect();
        db.exec(&format!(
            "INSERT INTO products (sku, name) VALUES {}",
            products.join(", ")
        ))
        .await;
        let accounts: Vec<String> = (1..=12_i64)
            .flat_map(|tenant| {
                (1..=(tenant * 5 % 17 + 1)).map(move |id| {
                    format!("({tenant}, {id}, {})", lit(&format!("acct {tenant}-{id}")))
                })
            })
            .collect();
        db.exec(&format!(
            "INSERT INTO accounts (tenant_id, id, name) VALUES {}",
            accounts.join(", ")
        ))
        .await;

        for (def, table, column, columns, rows_total) in [
            (
                ProductLabel::definition(),
                "products",
                "label",
                &["sku", "name", "label"][..],
                products.len(),
            ),
            (
                AccountDisplay::definition(),
                "accounts",
                "display",
                &["tenant_id", "id", "name", "display"][..],
                accounts.len(),
            ),
        ] {
            let order: &[&str] = &columns[..columns.len() - 2];
            let report = done(&db, def.name, db.run(def, RunOptions::default()).await);
            assert_eq!(report.keys, rows_total as u64, "{name}: {}", def.name);
            assert_eq!(
                report.rows_written, rows_total as u64,
                "{name}: {}",
                def.name
            );
            let backfilled = rows(&db, table, columns, order).await;
            assert!(
                !backfilled.iter().any(|r| r.ends_with("<null>")),
                "{name}: {}: a row was skipped",
                def.name
            );
            db.exec(&format!("UPDATE {table} SET {column} = NULL"))
                .await;
            db.exec(&upsert_all(&db, def).await).await;
            assert_same_rows(
                &db,
                &format!("{} against the single UPDATE", def.name),
                &backfilled,
                &rows(&db, table, columns, order).await,
            );
            assert!(db.verify(def).await.unwrap().is_clean(), "{name}");
            let rerun = done(
                &db,
                def.name,
                db.run(def, RunOptions::default().restart(true)).await,
            );
            assert_eq!(rerun.rows_written, 0, "{name}: {}", def.name);
            assert_eq!(rerun.keys, rows_total as u64, "{name}: {}", def.name);
        }
    }
}

/// Quoted names everywhere an in-place statement names the table, the key or the column.
#[tokio::test]
async fn reserved_and_mixed_case_names_in_place() {
    for db in common::engines("in_place_reserved").await {
        let name = db.name();
        let (int, text) = match db.engine {
            Engine::Sqlite => ("INTEGER", "TEXT"),
            _ => ("BIGINT", "VARCHAR(32)"),
        };
        let (table, group, order) = (
            db.quote("InPlaceItems"),
            db.quote("group"),
            db.quote("order"),
        );
        db.exec(&format!(
            "CREATE TABLE {table} ({group} {int} NOT NULL PRIMARY KEY, status {text} NOT NULL, {order} {text} NULL)"
        ))
        .await;
        let statuses = ["paid", "Shipped", "new", "ok"];
        let values: Vec<String> = (1..=100)
            .map(|i| format!("({}, '{}')", i * 2, statuses[i % 4]))
            .collect();
        db.exec(&format!(
            "INSERT INTO {table} ({group}, status) VALUES {}",
            values.join(", ")
        ))
        .await;
        let def = ReservedNames::definition();
        let report = done(&db, "run", db.run(def, RunOptions::default()).await);
        assert_eq!(report.rows_written, 100, "{name}");
        let columns = ["group", "status", "order"];
        let backfilled = rows(&db, "InPlaceItems", &columns, &["group"]).await;
        let expected: Vec<String> = (1..=100)
            .map(|i| {
                let s = statuses[i % 4];
                format!("{}|{s}|{}", i * 2, s.to_uppercase())
            })
            .collect();
        assert_same_rows(&db, "against the model", &backfilled, &expected);
        db.exec(&format!("UPDATE {table} SET {order} = NULL")).await;
        db.exec(&upsert_all(&db, def).await).await;
        assert_same_rows(
            &db,
            "against the single UPDATE",
            &backfilled,
            &rows(&db, "InPlaceItems", &columns, &["group"]).await,
        );
        assert!(db.verify(def).await.unwrap().is_clean(), "{name}");
        let rerun = done(
            &db,
            "re-run",
            db.run(def, RunOptions::default().restart(true)).await,
        );
        assert_eq!(rerun.rows_written, 0, "{name}");
    }
}

/// A value the column rounds (`numeric(12,2)`): the guard and verify compare what the column
/// holds, so a re-run writes nothing and verify is clean.
#[tokio::test]
async fn a_rounding_column_is_not_rewritten_by_a_re_run() {
    for db in common::engines("in_place_rounding").await {
        let name = db.name();
        let (int, decimal) = match db.engine {
            Engine::Postgres => ("BIGINT", "numeric(12, 2)"),
            Engine::MySql => ("BIGINT", "DECIMAL(12, 2)"),
            Engine::Sqlite => ("INTEGER", "NUMERIC"),
        };
        db.exec(&format!(
            "CREATE TABLE prices (id {int} PRIMARY KEY, sku {int} NOT NULL, net {decimal} NOT NULL, gross {decimal} NULL)"
        ))
        .await;
        let values: Vec<String> = (1..=60)
            .map(|i| format!("({i}, {}, {}.{:02})", i * 10, i * 3 + 1, i * 37 % 100))
            .collect();
        db.exec(&format!(
            "INSERT INTO prices (id, sku, net) VALUES {}",
            values.join(", ")
        ))
        .await;
        let def = PriceWithTax::definition();
        let columns = ["id", "sku", "net", "gross"];
        let report = done(&db, "run", db.run(def, RunOptions::default()).await);
        assert_eq!(report.rows_written, 60, "{name}");
        let verify = db.verify(def).await.unwrap();
        assert!(verify.is_clean(), "{name}: {verify}");
        let again = done(
            &db,
            "re-run",
            db.run(def, RunOptions::default().restart(true)).await,
        );
        assert_eq!(again.rows_written, 0, "{name}: a re-run rewrites nothing");
        let backfilled = rows(&db, "prices", &columns, &["id"]).await;
        if db.engine != Engine::Sqlite {
            assert!(
                backfilled[0].ends_with("|4.37|4.73"),
                "{name}: rounded to cents: {}",
                backfilled[0]
            );
        }
        db.exec("UPDATE prices SET gross = NULL").await;
        db.exec(&upsert_all(&db, def).await).await;
        assert_same_rows(
            &db,
            "against the single UPDATE",
            &backfilled,
            &rows(&db, "prices", &columns, &["id"]).await,
        );
    }
}

/// A `filter` selects the rows to fill; the others keep what they hold.
#[tokio::test]
async fn a_filter_leaves_the_other_rows_as_they_are() {
    for db in common::engines("in_place_filter").await {
        let name = db.name();
        seed_people(&db, 600).await;
        let def = FilteredFullName::definition();
        db.exec(&upsert_all(&db, def).await).await;
        let reference = rows(&db, "people", PEOPLE_COLUMNS, &["id"]).await;
        db.exec("DROP TABLE people").await;
        seed_people(&db, 600).await;
        let before = id_texts(&db, "people", "full_name").await;
        let expected: Vec<(i64, Option<String>)> = before
            .iter()
            .map(|(id, full)| {
                if id % 3 == 0 {
                    (*id, full.clone())
                } else {
                    (*id, Some(Person::of(*id).full_name()))
                }
            })
            .collect();
        let changes = before.iter().zip(&expected).filter(|(b, e)| b != e).count() as u64;
        let report = done(&db, "run", db.run(def, RunOptions::default()).await);
        assert_eq!(report.rows_written, changes, "{name}");
        assert_eq!(
            id_texts(&db, "people", "full_name").await,
            expected,
            "{name}"
        );
        assert_same_rows(
            &db,
            "against the single UPDATE",
            &rows(&db, "people", PEOPLE_COLUMNS, &["id"]).await,
            &reference,
        );
        assert!(db.verify(def).await.unwrap().is_clean(), "{name}");
        let rerun = done(
            &db,
            "re-run",
            db.run(def, RunOptions::default().restart(true)).await,
        );
        assert_eq!(rerun.rows_written, 0, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. The application writing while the backfill runs
// ---------------------------------------------------------------------------------------------

async fn try_exec(pool: &Pool, sql: &str) -> Result<u64, sqlx::Error> {
    match pool {
        Pool::Sqlite(p) => sqlx::query(common::test_sql(sql))
            .execute(p)
            .await
            .map(|r| r.rows_affected()),
        Pool::Postgres(p) => sqlx::query(common::test_sql(sql))
            .execute(p)
            .await
            .map(|r| r.rows_affected()),
        Pool::MySql(p) => sqlx::query(common::test_sql(sql))
            .execute(p)
            .await
            .map(|r| r.rows_affected()),
    }
}

/// A lock wait, deadlock, serialization failure or busy database: the application retries.
fn is_transient(e: &sqlx::Error) -> bool {
    let message = e.to_string().to_lowercase();
    [
        "lock", "busy", "deadlock", "serializ", "40001", "40p01", "1205", "1213",
    ]
    .iter()
    .any(|m| message.contains(m))
}

#[derive(Default)]
struct Writes {
    people: BTreeMap<i64, Person>,
    updates: u64,
    inserts: u64,
    retries: u64,
}

/// Updates the email and last name of random people and inserts new people until `stop`,
/// recording each write once it committed.
async fn application(pool: Pool, writes: Arc<Mutex<Writes>>, stop: Arc<AtomicBool>) {
    let mut rng = fastrand::Rng::with_seed(5);
    let mut n = 0_u64;
    let mut next_id = 100_000;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let ids: Vec<i64> = writes.lock().unwrap().people.keys().copied().collect();
        let (id, person, sql) = if rng.u8(0..10) < 7 {
            let id = ids[rng.usize(0..ids.len())];
            let mut p = writes.lock().unwrap().people[&id].clone();
            p.email = format!("w{n}.{id}@example.org");
            p.last = format!("{}-{n}", LAST[rng.usize(0..LAST.len())]);
            let sql = format!(
                "UPDATE people SET email = {}, last_name = {} WHERE id = {id}",
                lit(&p.email),
                lit(&p.last)
            );
            (id, p, sql)
        } else {
            let id = next_id;
            next_id += 1;
            let p = Person {
                email: format!("new{id}@example.org"),
                first: FIRST[rng.usize(0..FIRST.len())].to_string(),
                last: LAST[rng.usize(0..LAST.len())].to_string(),
            };
            let sql = format!(
                "INSERT INTO people (id, email, first_name, last_name, created_at) VALUES ({id}, {}, {}, {}, {})",
                lit(&p.email),
                lit(&p.first),
                lit(&p.last),
                lit(&created_at(id))
            );
            (id, p, sql)
        };
        let insert = sql.starts_with("INSERT");
        let mut attempts = 0;
        loop {
            match try_exec(&pool, &sql).await {
                Ok(1) => break,
                Ok(other) => panic!("the application's write affected {other} rows: {sql}"),
                Err(e) if is_transient(&e) && attempts < 100 => {
                    attempts += 1;
                    {
                        writes.lock().unwrap().retries += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(e) => panic!("the application's write failed: {sql}: {e}"),
            }
        }
        {
            let mut w = writes.lock().unwrap();
            w.people.insert(id, person);
            if insert {
                w.inserts += 1;
            } else {
                w.updates += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(0..3))).await;
    }
}

#[tokio::test]
async fn application_writes_during_the_backfill_are_all_kept() {
    for db in common::engines("in_place_concurrent").await {
        let name = db.name();
        seed_people(&db, PEOPLE).await;
        let def = FullName::definition();
        let writes = Arc::new(Mutex::new(Writes {
            people: (1..=PEOPLE)
                .map(person_id)
                .map(|id| (id, Person::of(id)))
                .collect(),
            ..Writes::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let app = tokio::spawn(application(db.pool.clone(), writes.clone(), stop.clone()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let options = RunOptions::default()
            .batch_size(20)
            .pause(Duration::from_millis(5))
            .lock_timeout(Duration::from_secs(5))
            .max_retries(50)
            .retry_backoff(Duration::from_millis(10));
        let report = db.run(def, options).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.store(true, Ordering::Relaxed);
        app.await.expect("the application task");
        let report = done(&db, "run beside the application", report);
        let w = std::mem::take(&mut *writes.lock().unwrap());
        assert!(
            w.updates >= 50 && w.inserts >= 10,
            "{name}: the application wrote during the run ({} updates, {} inserts)",
            w.updates,
            w.inserts
        );

        // Every application write is there, and nothing else.
        let expected: Vec<String> = w
            .people
            .iter()
            .map(|(id, p)| format!("{id}|{}|{}|{}", p.email, p.first, p.last))
            .collect();
        let model: BTreeMap<i64, String> = w
            .people
            .iter()
            .map(|(&id, p)| (id, p.full_name()))
            .collect();
        let (updates, inserts, retries) = (w.updates, w.inserts, w.retries);
        assert_same_rows(
            &db,
            "the application's writes",
            &rows(
                &db,
                "people",
                &["id", "email", "first_name", "last_name"],
                &["id"],
            )
            .await,
            &expected,
        );

        // A final restart pass brings every full name to its row's own names, rewriting only
        // the rows the application changed after their batch.
        let stale = id_texts(&db, "people", "full_name")
            .await
            .into_iter()
            .filter(|(id, full)| full.as_deref() != Some(model[id].as_str()))
            .count() as u64;
        let last = done(
            &db,
            "final pass",
            db.run(def, RunOptions::default().restart(true)).await,
        );
        assert_eq!(last.rows_written, stale, "{name}: the stale rows, no other");
        let full_names: Vec<(i64, Option<String>)> = model
            .iter()
            .map(|(&id, full)| (id, Some(full.clone())))
            .collect();
        assert_eq!(
            id_texts(&db, "people", "full_name").await,
            full_names,
            "{name}"
        );
        assert_matches_reference(&db, def, "people", "full_name", PEOPLE_COLUMNS).await;
        assert!(db.verify(def).await.unwrap().is_clean(), "{name}");
        eprintln!(
            "{name}: {updates} updates and {inserts} inserts beside {} batches ({} rows written, {} batch retries); {retries} application retries; {stale} rows stale, fixed by the final pass",
            report.batches, report.rows_written, report.retries
        );
    }
}

/// The application holds a row of the target (on SQLite, the database) past the lock timeout:
/// the batch times out, is retried with backoff, and the run finishes on the reference.
#[tokio::test]
async fn a_row_held_by_the_application_is_waited_out_with_retries() {
    for db in common::engines("in_place_lock").await {
        let name = db.name();
        seed_people(&db, 400).await;
        let def = FullName::definition();
        let holder = match db.engine {
            Engine::Sqlite => {
                hold_in_transaction(&db, "UPDATE people SET email = email WHERE id = 200").await
            }
            _ => hold_in_transaction(&db, "SELECT id FROM people WHERE id = 200 FOR UPDATE").await,
        };
        let releaser = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            holder.release().await;
        });
        let options = RunOptions::default()
            .lock_timeout(Duration::from_millis(500))
            .max_retries(30)
            .retry_backoff(Duration::from_millis(100));
        let report = db.run(def, options).await;
        releaser.await.unwrap();
        let report = done(&db, "run behind a held row", report);
        assert!(report.retries >= 1, "{name}: the locked batch was retried");
        assert_matches_reference(&db, def, "people", "full_name", PEOPLE_COLUMNS).await;
        eprintln!("{name}: {} retries while the row was held", report.retries);
    }
}

/// While `PublicId` runs, the application gives public ids of its own to random people that have
/// none (`... WHERE public_id IS NULL`): every id it wrote is still there at the end, whether
/// its row's batch came before or after, and every person has exactly one id.
#[tokio::test]
async fn keep_never_overwrites_a_value_the_application_wrote_meanwhile() {
    for db in common::engines("in_place_keep_concurrent").await {
        let name = db.name();
        seed_people(&db, PEOPLE).await;
        let def = PublicId::definition();
        let stop = Arc::new(AtomicBool::new(false));
        let app = {
            let (pool, stop) = (db.pool.clone(), stop.clone());
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(9);
                let (mut written, mut retries) = (BTreeMap::new(), 0_u64);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let id = person_id(rng.i64(1..=PEOPLE));
                    let value = format!("app-{n}");
                    let sql = format!(
                        "UPDATE people SET public_id = '{value}' WHERE id = {id} AND public_id IS NULL"
                    );
                    loop {
                        match try_exec(&pool, &sql).await {
                            Ok(1) => {
                                written.insert(id, value);
                                break;
                            }
                            Ok(_) => break,
                            Err(e) if is_transient(&e) && retries < 1_000 => {
                                retries += 1;
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            Err(e) => panic!("the application's write failed: {sql}: {e}"),
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(rng.u64(0..3))).await;
                }
                (written, retries)
            })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        let options = RunOptions::default()
            .batch_size(20)
            .pause(Duration::from_millis(5))
            .max_retries(50)
            .retry_backoff(Duration::from_millis(10));
        let report = db.run(def, options).await;
        stop.store(true, Ordering::Relaxed);
        let (written, retries) = app.await.expect("the application task");
        done(&db, "run beside the application", report);
        assert!(written.len() >= 20, "{name}: the application wrote ids");
        let after: BTreeMap<i64, Option<String>> = id_texts(&db, "people", "public_id")
            .await
            .into_iter()
            .collect();
        for (id, value) in &written {
            assert_eq!(
                after[id].as_deref(),
                Some(value.as_str()),
                "{name}: person {id}'s id, written by the application, was overwritten"
            );
        }
        for (id, value) in &after {
            let value = value
                .as_deref()
                .unwrap_or_else(|| panic!("{name}: person {id} has no public id"));
            if let Some(legacy) = initial_public_id(*id) {
                assert_eq!(value, legacy, "{name}: person {id}");
            }
        }
        let rerun = done(
            &db,
            "re-run",
            db.run(def, RunOptions::default().restart(true)).await,
        );
        assert_eq!(rerun.rows_written, 0, "{name}");
        eprintln!(
            "{name}: {} ids written by the application during the run ({retries} retries), all kept",
            written.len()
        );
    }
}

/// The application's open transaction on a source row (an order being changed) does not stall
/// a joined in-place batch: it neither waits nor retries, and reads the committed value.
/// PostgreSQL reads never lock; on MariaDB the batches must run at READ COMMITTED (at
/// REPEATABLE READ InnoDB locks the source rows an UPDATE ... JOIN reads). SQLite has one
/// writer: covered by `a_row_held_by_the_application_is_waited_out_with_retries`.
#[tokio::test]
async fn a_source_row_locked_by_the_application_does_not_stall_a_joined_batch() {
    for db in common::engines("in_place_source_lock").await {
        if db.engine == Engine::Sqlite {
            continue;
        }
        let name = db.name();
        seed_users_and_orders(&db).await;
        let def = OrderCount::definition();
        let holder = hold_in_transaction(&db, "UPDATE orders SET user_id = 7 WHERE id = 5").await;
        if db.engine == Engine::MySql {
            // InnoDB reads the rows a multi-table UPDATE joins with shared locks, at every
            // isolation level (README, "Filling a new column"): the batch holding the range
            // waits on the application's row and retries; the application is never failed.
            let options = RunOptions::default()
                .lock_timeout(Duration::from_secs(1))
                .max_retries(10)
                .retry_backoff(Duration::from_millis(200));
            let run = db.run(def, options);
            let release = async {
                tokio::time::sleep(Duration::from_millis(2_500)).await;
                holder.release().await;
            };
            let (report, ()) = tokio::join!(run, release);
            let report = done(&db, "run beside an open transaction", report);
            assert!(report.retries >= 1, "{name}: the batch waited: {report:?}");
        } else {
            let options = RunOptions::default()
                .lock_timeout(Duration::from_secs(1))
                .max_retries(0);
            let report = db.run(def, options).await;
            holder.release().await;
            let report = done(&db, "run beside an open transaction", report);
            assert_eq!(report.retries, 0, "{name}");
        }
        let expected: Vec<(i64, Option<i64>)> = order_counts()
            .into_iter()
            .map(|(id, c)| (id, Some(c)))
            .collect();
        assert_eq!(
            id_ints(&db, "users", "order_count").await,
            expected,
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Bad input
// ---------------------------------------------------------------------------------------------

/// Options that fail fast.
fn options() -> RunOptions {
    RunOptions::default()
        .max_retries(0)
        .retry_backoff(Duration::from_millis(10))
}

fn expect_err(db: &Db, what: &str, result: Result<Report, Error>) -> Error {
    match result {
        Ok(report) => panic!(
            "{}: {what}: expected an error, the run succeeded: {report:?}",
            db.name()
        ),
        Err(error) => error,
    }
}

/// The progress rows of `job` (0 when the progress table does not exist).
async fn progress_rows(db: &Db, job: &str) -> i64 {
    let exists = match db.engine {
        Engine::Sqlite => db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'backfill_progress'").await,
        Engine::Postgres => db.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'backfill_progress'").await,
        Engine::MySql => db.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'backfill_progress'").await,
    };
    if exists == 0 {
        return 0;
    }
    db.scalar(&format!(
        "SELECT count(*) FROM backfill_progress WHERE job = {}",
        lit(job)
    ))
    .await
}

/// Runs `def` expecting a preflight error (and the same from `check`), with every table in
/// `tables` unchanged and no progress row for `job`.
async fn refused(
    db: &Db,
    def: &'static Definition,
    job: &str,
    tables: &[(&str, &[&str])],
    options: RunOptions,
) -> Error {
    let mut before = Vec::new();
    for (table, columns) in tables {
        before.push(rows(db, table, columns, &["id"]).await);
    }
    let error = expect_err(db, def.name, db.run(def, options).await);
    for ((table, columns), before) in tables.iter().zip(&before) {
        assert_same_rows(
            db,
            &format!("{table} after the refused {}", def.name),
            &rows(db, table, columns, &["id"]).await,
            before,
        );
    }
    assert_eq!(
        progress_rows(db, job).await,
        0,
        "{}: {}",
        db.name(),
        def.name
    );
    error
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_written() {
    for db in common::engines("in_place_bad_input").await {
        let name = db.name();
        seed_people(&db, 200).await;
        let people: &[(&str, &[&str])] = &[("people", PEOPLE_COLUMNS)];

        // A target column that does not exist.
        let error = refused(&db, NickName::definition(), "nick_name", people, options()).await;
        assert!(
            matches!(error, Error::MissingColumn { .. }),
            "{name}: {error:?}"
        );
        assert!(error.is_preflight(), "{name}");
        assert_mentions(&db, &error, &["nick_name", "people"]);
        let checked = db.check(NickName::definition()).await;
        assert!(
            matches!(checked, Err(Error::MissingColumn { .. })),
            "{name}: {checked:?}"
        );

        // No unique index on the key.
        db.exec(&people_ddl(&db, "people_no_index", false)).await;
        insert_people(&db, "people_no_index", 1..=50, |_| None, |_| None).await;
        let error = refused(
            &db,
            FullNameNoIndex::definition(),
            "no_index",
            &[("people_no_index", PEOPLE_COLUMNS)],
            options(),
        )
        .await;
        assert!(
            matches!(error, Error::NoUniqueIndex { .. }),
            "{name}: {error:?}"
        );
        assert!(error.is_preflight(), "{name}");
        assert_mentions(&db, &error, &["people_no_index", "id"]);
        assert!(
            db.check(FullNameNoIndex::definition()).await.is_err(),
            "{name}"
        );

        // A key that is not the target's key: `last_name` is indexed, not unique.
        db.exec("CREATE INDEX people_last_name ON people (last_name)")
            .await;
        let error = refused(
            &db,
            FullNameByLastName::definition(),
            "by_last_name",
            people,
            options(),
        )
        .await;
        assert!(error.is_preflight(), "{name}: {error:?}");
        assert_mentions(&db, &error, &["people", "last_name"]);
        assert!(
            db.check(FullNameByLastName::definition()).await.is_err(),
            "{name}"
        );

        // delete_extra has nothing to delete in place: refused.
        let error = refused(
            &db,
            FullName::definition(),
            "people",
            people,
            options().delete_extra(true),
        )
        .await;
        assert!(matches!(error, Error::Options(_)), "{name}: {error:?}");
        assert_mentions(&db, &error, &["in place"]);
        // Without it the same backfill runs.
        done(
            &db,
            "FullName",
            db.run(FullName::definition(), options()).await,
        );
    }
}

/// An upsert into a target with a NOT NULL column without a default that the struct does not
/// write fails on its first INSERT: refused by preflight, naming the column and the in-place
/// form. The same target with a default on that column is accepted.
#[tokio::test]
async fn an_upsert_that_leaves_a_required_column_out_is_refused() {
    for db in common::engines("in_place_required_column").await {
        let name = db.name();
        let (int, text) = match db.engine {
            Engine::MySql => ("BIGINT", "VARCHAR(128)"),
            Engine::Postgres => ("BIGINT", "VARCHAR(128)"),
            Engine::Sqlite => ("INTEGER", "TEXT"),
        };
        db.exec_all(&format!(
            "CREATE TABLE contact_import (id {int} PRIMARY KEY, nickname {text} NOT NULL);
             CREATE TABLE contacts (id {int} PRIMARY KEY, email {text} NOT NULL, nickname {text} NULL);
             CREATE TABLE contacts_with_default (id {int} PRIMARY KEY, email {text} NOT NULL DEFAULT 'unknown', nickname {text} NULL);
             INSERT INTO contact_import (id, nickname) VALUES (1, 'ace'), (2, 'bee'), (3, 'cee'), (4, 'dee'), (5, 'eve');
             INSERT INTO contacts (id, email, nickname) VALUES (1, 'a@example.com', NULL), (2, 'b@example.com', 'old'), (9, 'z@example.com', NULL);
             INSERT INTO contacts_with_default (id, email, nickname) VALUES (1, 'a@example.com', NULL), (2, 'b@example.com', 'old')"
        ))
        .await;
        let columns: &[&str] = &["id", "email", "nickname"];
        let error = refused(
            &db,
            ContactNicknames::definition(),
            "contacts",
            &[
                ("contacts", columns),
                ("contact_import", &["id", "nickname"]),
            ],
            options(),
        )
        .await;
        assert!(error.is_preflight(), "{name}: {error:?}");
        assert_mentions(&db, &error, &["contacts", "email", "in place"]);
        let checked = db
            .check(ContactNicknames::definition())
            .await
            .expect_err("check refuses it too");
        assert_mentions(&db, &checked, &["email", "in place"]);

        // With a default the INSERT can fill it: accepted, and the new rows get the default.
        let def = ContactNicknamesWithDefault::definition();
        let report = done(&db, "upsert with a default", db.run(def, options()).await);
        assert_eq!(report.rows_written, 5, "{name}");
        assert_eq!(
            rows(&db, "contacts_with_default", columns, &["id"]).await,
            vec![
                "1|a@example.com|ace",
                "2|b@example.com|bee",
                "3|unknown|cee",
                "4|unknown|dee",
                "5|unknown|eve"
            ],
            "{name}"
        );
    }
}

/// A NOT NULL column the database fills itself (an identity, AUTO_INCREMENT, SQLite's rowid
/// declared NOT NULL) is not a required column the upsert leaves out: accepted, and the
/// inserted rows get their ids.
#[tokio::test]
async fn an_upsert_into_a_table_whose_key_fills_itself_is_accepted() {
    for db in common::engines("in_place_identity").await {
        let name = db.name();
        let id = match db.engine {
            Engine::Postgres => "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
            Engine::MySql => "id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
            Engine::Sqlite => "id INTEGER NOT NULL PRIMARY KEY",
        };
        db.exec_all(&format!(
            "CREATE TABLE tally_events (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL);
             CREATE TABLE event_totals ({id}, user_id BIGINT NOT NULL UNIQUE, events BIGINT NOT NULL);
             INSERT INTO tally_events (id, user_id) VALUES (1, 10), (2, 10), (3, 20), (4, 30), (5, 30), (6, 30)"
        ))
        .await;
        let def = EventTotals::definition();
        db.check(def)
            .await
            .unwrap_or_else(|e| panic!("{name}: a self-filling key is not left out: {e}"));
        let report = done(&db, "upsert", db.run(def, options()).await);
        assert_eq!(report.rows_written, 3, "{name}");
        assert_eq!(
            rows(&db, "event_totals", &["user_id", "events"], &["user_id"]).await,
            vec!["10|2", "20|1", "30|3"],
            "{name}"
        );
        assert_eq!(
            db.scalar("SELECT count(DISTINCT id) FROM event_totals")
                .await,
            3,
            "{name}"
        );
    }
}
