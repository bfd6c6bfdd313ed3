//! Bad input on every engine: a target that is missing, misnamed, unindexed or too narrow, a
//! progress table of another shape, statements that do not prepare, servers that cannot be
//! reached. Each run fails with an error that names what is wrong and says what to do, and
//! nothing is written (the tables' checksums are unchanged). Names with quotes, spaces and
//! semicolons work and inject nothing.

mod common;

use std::time::Duration;

use backfill::{Backfill, Engine, Error, Report, RunOptions, StopReason};
use common::{assert_mentions, scenario, Db, Pool};

const EVENTS: i64 = 400;
const USERS: i64 = 30;
const COLUMNS: &[&str] = &["user_id", "event_count", "total_amount"];
const EVENT_COLUMNS: &[&str] = &["id", "user_id", "amount", "created_at"];

/// A per-user totals backfill (`count(*)`, `sum(amount)` of `events`, 10 keys a batch) with
/// the struct attributes given: the tests below differ only in where its target is and what the
/// run allows.
macro_rules! totals {
    ($(#[doc = $doc:literal])* $name:ident: $($attr:tt)*) => {
        $(#[doc = $doc])*
        #[derive(Backfill, Debug)]
        #[backfill(from = "events", batch_size = 10, $($attr)*)]
        pub struct $name {
            #[backfill(key)]
            pub user_id: i64,
            #[backfill(expr = "count(*)")]
            pub event_count: i64,
            #[backfill(expr = "sum(amount)")]
            pub total_amount: i64,
        }
    };
}

totals!(
    /// Per-user totals into `user_stats`.
    Totals: table = "user_stats"
);
totals!(
    /// The same, accepting unique keys besides `user_id` (MySQL).
    TotalsAllowingOtherKeys: table = "user_stats",
    job = "user_stats_allowing_other_keys",
    allow_other_unique_keys
);
totals!(
    /// A mixed-case target name: quoted, so it is case-sensitive where the engine is.
    MixedCase: table = "UserStats"
);
totals!(
    /// A target in the test's own schema (PostgreSQL) or database (MariaDB), named explicitly.
    Qualified: table = "bft_qualified_target.user_stats"
);
totals!(
    /// A target in a schema that does not exist.
    NoSuchSchema: table = "bft_no_such_schema.user_stats"
);

/// An expression over a source column that does not exist: parses, does not prepare.
#[derive(Backfill, Debug)]
#[backfill(table = "user_stats", from = "events", batch_size = 10)]
pub struct UnknownSourceColumn {
    #[backfill(key)]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(amount_cents)")]
    pub total_amount: i64,
}

const ODD_TABLE: &str = "user's \"stats\"; order";
const ODD_KEY: &str = "group";
const ODD_COLUMN: &str = "total; amount";
const ODD_JOB: &str = "it's; DROP TABLE events; --";
const ODD_PROGRESS: &str = "bf progress; \"x\" 'y' --";

/// A table name with quotes, a space, a semicolon and a reserved word, a reserved-word key
/// column, a column with a semicolon and a space, and a job name built to break out of a string
/// literal.
#[derive(Backfill, Debug)]
#[backfill(
    table = "user's \"stats\"; order",
    from = "events",
    job = "it's; DROP TABLE events; --",
    batch_size = 7
)]
pub struct OddNames {
    #[backfill(key, column = "group", expr = "user_id")]
    pub user_id: i64,
    #[backfill(expr = "sum(amount)", column = "total; amount")]
    pub total_amount: i64,
}

/// Every available engine with `events` seeded and no target table.
async fn with_events(test: &str) -> Vec<Db> {
    let dbs = common::engines(test).await;
    for db in &dbs {
        scenario::create_tables(db).await;
        db.exec("DROP TABLE user_stats").await;
        scenario::seed_events(db, EVENTS, USERS).await;
    }
    dbs
}

/// Creates `table` with `columns` (those of [`Totals`] among them) and two stale rows a run
/// would overwrite.
async fn create_target(db: &Db, table: &str, columns: &str) {
    let table = db.quote(table);
    db.exec(&format!("CREATE TABLE {table} ({columns})")).await;
    db.exec(&format!(
        "INSERT INTO {table} (user_id, event_count, total_amount) VALUES (1, 0, 0), (2, 0, 0)"
    ))
    .await;
}

const PLAIN_TARGET: &str =
    "user_id BIGINT NOT NULL PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL";

async fn target_sum(db: &Db, table: &str) -> (usize, u64) {
    db.checksum(table, COLUMNS, &["user_id"]).await
}

async fn events_sum(db: &Db) -> (usize, u64) {
    db.checksum("events", EVENT_COLUMNS, &["id"]).await
}

/// Options that fail fast: no retries.
fn options() -> RunOptions {
    RunOptions {
        max_retries: 0,
        retry_backoff: Duration::from_millis(10),
        ..RunOptions::default()
    }
}

fn expect_err(db: &Db, result: Result<Report, Error>) -> Error {
    match result {
        Ok(report) => panic!(
            "{}: expected an error, the run succeeded: {report:?}",
            db.name()
        ),
        Err(error) => error,
    }
}

/// Whether a table of that exact name exists in the test's namespace.
async fn table_exists(db: &Db, table: &str) -> bool {
    let sql = match db.engine {
        Engine::Postgres => {
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
        }
        Engine::MySql => {
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND BINARY table_name = ?"
        }
        Engine::Sqlite => "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
    };
    let count: Result<i64, sqlx::Error> = match &db.pool {
        Pool::Sqlite(p) => sqlx::query_scalar(sql).bind(table).fetch_one(p).await,
        Pool::Postgres(p) => sqlx::query_scalar(sql).bind(table).fetch_one(p).await,
        Pool::MySql(p) => sqlx::query_scalar(sql).bind(table).fetch_one(p).await,
    };
    count.unwrap_or_else(|e| panic!("{}: looking up {table}: {e}", db.name())) > 0
}

/// The number of progress rows of `job` (0 when the progress table does not exist).
async fn progress_rows(db: &Db, job: &str) -> i64 {
    if !table_exists(db, "backfill_progress").await {
        return 0;
    }
    let sql = match db.engine {
        Engine::Postgres => "SELECT count(*) FROM backfill_progress WHERE job = $1",
        _ => "SELECT count(*) FROM backfill_progress WHERE job = ?",
    };
    let count: Result<i64, sqlx::Error> = match &db.pool {
        Pool::Sqlite(p) => sqlx::query_scalar(sql).bind(job).fetch_one(p).await,
        Pool::Postgres(p) => sqlx::query_scalar(sql).bind(job).fetch_one(p).await,
        Pool::MySql(p) => sqlx::query_scalar(sql).bind(job).fetch_one(p).await,
    };
    count.unwrap_or_else(|e| panic!("{}: counting progress rows: {e}", db.name()))
}

/// The target's checksum after the single-statement recompute of `def` (the reference).
async fn reference_sum(db: &Db, def: &'static backfill::Definition, table: &str) -> (usize, u64) {
    db.recompute_all(def, table).await;
    target_sum(db, table).await
}

#[tokio::test]
async fn missing_target_table_is_named_and_nothing_is_written() {
    for db in with_events("missing_target").await {
        let events = events_sum(&db).await;
        let error = expect_err(&db, db.run(Totals::definition(), options()).await);
        assert!(
            matches!(error, Error::MissingTable { .. }),
            "{}: {error:?}",
            db.name()
        );
        assert!(error.is_preflight());
        assert_mentions(
            &db,
            &error,
            &[
                &format!("target table user_stats does not exist on {}", db.engine),
                "with a unique index on user_id",
            ],
        );
        let checked = db.check(Totals::definition()).await;
        assert!(
            matches!(checked, Err(Error::MissingTable { .. })),
            "{}",
            db.name()
        );
        assert!(!table_exists(&db, "user_stats").await, "{}", db.name());
        assert_eq!(
            events_sum(&db).await,
            events,
            "{}: events untouched",
            db.name()
        );
        assert_eq!(progress_rows(&db, "user_stats").await, 0, "{}", db.name());
    }
}

/// `UserStats` and `userstats` are different tables on PostgreSQL (quoted identifiers) and on
/// MariaDB with case-sensitive table names; SQLite compares names ignoring case.
#[tokio::test]
async fn mixed_case_target_name_is_exact() {
    for db in with_events("mixed_case_target").await {
        create_target(&db, "userstats", PLAIN_TARGET).await;
        let before = target_sum(&db, "userstats").await;
        let case_sensitive = match db.engine {
            Engine::Postgres => true,
            Engine::Sqlite => false,
            Engine::MySql => {
                db.scalar("SELECT CAST(@@lower_case_table_names AS SIGNED)")
                    .await
                    == 0
            }
        };
        let result = db.run(MixedCase::definition(), options()).await;
        if !case_sensitive {
            let report = result.unwrap_or_else(|e| panic!("{}: {e}", db.name()));
            assert_eq!(report.stop, StopReason::Done, "{}", db.name());
            continue;
        }
        let error = expect_err(&db, result);
        assert!(
            matches!(error, Error::MissingTable { .. }),
            "{}: {error:?}",
            db.name()
        );
        assert_mentions(
            &db,
            &error,
            &[&format!(
                "target table UserStats does not exist on {}",
                db.engine
            )],
        );
        assert_eq!(target_sum(&db, "userstats").await, before, "{}", db.name());
        assert_eq!(progress_rows(&db, "UserStats").await, 0, "{}", db.name());

        // With the exact name it runs.
        create_target(&db, "UserStats", PLAIN_TARGET).await;
        let report = db
            .run(MixedCase::definition(), options())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert_eq!(report.keys, USERS as u64, "{}", db.name());
        assert_eq!(target_sum(&db, "userstats").await, before, "{}", db.name());
    }
}

#[tokio::test]
async fn schema_qualified_target() {
    // The harness names the namespace of the test `qualified_target` `bft_qualified_target`.
    for db in with_events("qualified_target").await {
        create_target(&db, "user_stats", PLAIN_TARGET).await;
        let before = target_sum(&db, "user_stats").await;

        let error = expect_err(&db, db.run(NoSuchSchema::definition(), options()).await);
        assert!(
            matches!(error, Error::MissingTable { .. }),
            "{}: {error:?}",
            db.name()
        );
        assert_mentions(
            &db,
            &error,
            &[&format!(
                "target table bft_no_such_schema.user_stats does not exist on {}",
                db.engine
            )],
        );
        assert_eq!(target_sum(&db, "user_stats").await, before, "{}", db.name());

        let result = db.run(Qualified::definition(), options()).await;
        if db.engine == Engine::Sqlite {
            // No attached database of that name.
            let error = expect_err(&db, result);
            assert!(matches!(error, Error::MissingTable { .. }), "{error:?}");
            assert_eq!(target_sum(&db, "user_stats").await, before);
            continue;
        }
        let report = result.unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert_eq!(report.keys, USERS as u64, "{}", db.name());
        let written = target_sum(&db, "user_stats").await;
        assert_ne!(
            written,
            before,
            "{}: the stale rows were recomputed",
            db.name()
        );
        assert_eq!(
            reference_sum(&db, Qualified::definition(), "user_stats").await,
            written,
            "{}",
            db.name()
        );
    }
}

#[tokio::test]
async fn missing_column_is_named_with_its_field() {
    for db in with_events("missing_column").await {
        db.exec(
            "CREATE TABLE user_stats (user_id BIGINT NOT NULL PRIMARY KEY, \
             event_count BIGINT NOT NULL, total_amount_old BIGINT NULL)",
        )
        .await;
        db.exec(
            "INSERT INTO user_stats (user_id, event_count, total_amount_old) \
             VALUES (1, 0, 5), (2, 0, 5)",
        )
        .await;
        let columns = &["user_id", "event_count", "total_amount_old"];
        let before = db.checksum("user_stats", columns, &["user_id"]).await;
        let error = expect_err(&db, db.run(Totals::definition(), options()).await);
        assert!(
            matches!(error, Error::MissingColumn { .. }),
            "{}: {error:?}",
            db.name()
        );
        assert_mentions(
            &db,
            &error,
            &[
                "column total_amount of user_stats does not exist (field `total_amount`)",
                "#[backfill(column = \"...\")]",
            ],
        );
        let after = db.checksum("user_stats", columns, &["user_id"]).await;
        assert_eq!(after, before, "{}", db.name());
        assert_eq!(progress_rows(&db, "user_stats").await, 0, "{}", db.name());
    }
}

/// Without a unique index on the key the upsert would insert duplicates (MySQL) or fail: the
/// error suggests the index, and after creating exactly that suggestion the run works.
#[tokio::test]
async fn no_unique_index_suggests_one_that_works() {
    for db in with_events("no_unique_index").await {
        create_target(
            &db,
            "user_stats",
            "user_id BIGINT NOT NULL, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL",
        )
        .await;
        let before = target_sum(&db, "user_stats").await;
        let error = expect_err(&db, db.run(Totals::definition(), options()).await);
        let Error::NoUniqueIndex { suggestion, .. } = &error else {
            panic!("{}: expected NoUniqueIndex, got {error:?}", db.name());
        };
        assert_mentions(
            &db,
            &error,
            &["no unique index on user_stats (user_id): the upsert has nothing to conflict on"],
        );
        assert!(
            suggestion.starts_with("CREATE UNIQUE INDEX "),
            "{suggestion}"
        );
        assert!(suggestion.contains(&db.quote("user_id")), "{suggestion}");
        assert_eq!(target_sum(&db, "user_stats").await, before, "{}", db.name());
        assert_eq!(progress_rows(&db, "user_stats").await, 0, "{}", db.name());

        db.exec(suggestion).await;
        let report = db
            .run(Totals::definition(), options())
            .await
            .unwrap_or_else(|e| panic!("{}: after `{suggestion}`: {e}", db.name()));
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        let written = target_sum(&db, "user_stats").await;
        assert_eq!(written.0, USERS as usize, "{}: one row per user", db.name());
        assert_eq!(
            reference_sum(&db, Totals::definition(), "user_stats").await,
            written,
            "{}",
            db.name()
        );
    }
}

/// A unique index that contains the key but more columns does not make the key unique.
#[tokio::test]
async fn unique_index_on_other_columns_is_not_the_key() {
    for db in with_events("unique_other_columns").await {
        create_target(
            &db,
            "user_stats",
            "user_id BIGINT NOT NULL, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, \
             UNIQUE (user_id, event_count)",
        )
        .await;
        let before = target_sum(&db, "user_stats").await;
        let error = expect_err(&db, db.run(Totals::definition(), options()).await);
        assert!(
            matches!(error, Error::NoUniqueIndex { .. }),
            "{}: {error:?}",
            db.name()
        );
        assert_mentions(&db, &error, &["no unique index on user_stats (user_id)"]);
        assert_eq!(target_sum(&db, "user_stats").await, before, "{}", db.name());
        assert_eq!(progress_rows(&db, "user_stats").await, 0, "{}", db.name());
    }
}

/// On MySQL, `ON DUPLICATE KEY UPDATE` fires on any unique key, so another unique index is
/// refused unless accepted explicitly; PostgreSQL and SQLite conflict on the named key only.
#[tokio::test]
async fn other_unique_index_is_refused_on_mysql_unless_allowed() {
    for db in with_events("other_unique_index").await {
        create_target(
            &db,
            "user_stats",
            "user_id BIGINT NOT NULL PRIMARY KEY, event_count BIGINT NOT NULL, \
             total_amount BIGINT NOT NULL, legacy_code VARCHAR(20) NULL UNIQUE",
        )
        .await;
        let before = target_sum(&db, "user_stats").await;
        if db.engine == Engine::MySql {
            let error = expect_err(&db, db.run(Totals::definition(), options()).await);
            assert!(matches!(error, Error::OtherUniqueKey { .. }), "{error:?}");
            assert_mentions(
                &db,
                &error,
                &[
                    "user_stats has another unique index legacy_code (legacy_code) besides the key (user_id)",
                    "#[backfill(allow_other_unique_keys)]",
                ],
            );
            assert_eq!(target_sum(&db, "user_stats").await, before);
            assert_eq!(progress_rows(&db, "user_stats").await, 0);
            let report = db
                .run(TotalsAllowingOtherKeys::definition(), options())
                .await
                .unwrap_or_else(|e| panic!("mysql: {e}"));
            assert_eq!(report.stop, StopReason::Done);
        } else {
            let report = db
                .run(Totals::definition(), options())
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
            assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        }
        let written = target_sum(&db, "user_stats").await;
        assert_eq!(written.0, USERS as usize, "{}", db.name());
        assert_eq!(
            reference_sum(&db, Totals::definition(), "user_stats").await,
            written,
            "{}",
            db.name()
        );
    }
}

/// An `i64` field into a 32-bit column would fail (or worse, be clamped) half-way through.
#[tokio::test]
async fn column_narrower_than_the_field_is_refused() {
    for db in with_events("narrow_column").await {
        create_target(
            &db,
            "user_stats",
            "user_id BIGINT NOT NULL PRIMARY KEY, event_count BIGINT NOT NULL, total_amount INT NOT NULL",
        )
        .await;
        let before = target_sum(&db, "user_stats").await;
        let result = db.run(Totals::definition(), options()).await;
        if db.engine == Engine::Sqlite {
            // SQLite's INT is a 64-bit integer affinity: nothing to refuse.
            let report = result.unwrap_or_else(|e| panic!("sqlite: {e}"));
            assert_eq!(report.stop, StopReason::Done);
            continue;
        }
        let error = expect_err(&db, result);
        assert!(
            matches!(error, Error::TypeMismatch { .. }),
            "{}: {error:?}",
            db.name()
        );
        let sql_type = if db.engine == Engine::Postgres {
            "integer"
        } else {
            "int(11)"
        };
        assert_mentions(
            &db,
            &error,
            &[&format!(
                "column user_stats.total_amount has type {sql_type}, which cannot hold field `total_amount: i64`"
            )],
        );
        assert_eq!(target_sum(&db, "user_stats").await, before, "{}", db.name());
        assert_eq!(progress_rows(&db, "user_stats").await, 0, "{}", db.name());
    }
}

#[tokio::test]
async fn progress_table_of_another_shape_is_refused() {
    for db in with_events("progress_shape").await {
        create_target(&db, "user_stats", PLAIN_TARGET).await;
        db.exec("CREATE TABLE backfill_progress (id BIGINT NOT NULL, note VARCHAR(20) NULL)")
            .await;
        db.exec("INSERT INTO backfill_progress (id, note) VALUES (1, 'mine')")
            .await;
        let before = target_sum(&db, "user_stats").await;
        let progress = db
            .checksum("backfill_progress", &["id", "note"], &["id"])
            .await;
        let error = expect_err(&db, db.run(Totals::definition(), options()).await);
        assert!(
            matches!(error, Error::ProgressTable { .. }),
            "{}: {error:?}",
            db.name()
        );
        assert_mentions(
            &db,
            &error,
            &[
                "progress table backfill_progress exists but",
                "progress_table",
            ],
        );
        assert_eq!(target_sum(&db, "user_stats").await, before, "{}", db.name());
        let after = db
            .checksum("backfill_progress", &["id", "note"], &["id"])
            .await;
        assert_eq!(
            after,
            progress,
            "{}: the foreign table is untouched",
            db.name()
        );
    }
}

#[tokio::test]
async fn statement_that_does_not_prepare_is_named_with_the_server_message() {
    for db in with_events("does_not_prepare").await {
        create_target(&db, "user_stats", PLAIN_TARGET).await;
        let before = target_sum(&db, "user_stats").await;
        let error = expect_err(
            &db,
            db.run(UnknownSourceColumn::definition(), options()).await,
        );
        let Error::Prepare { sql, message, .. } = &error else {
            panic!("{}: expected Prepare, got {error:?}", db.name());
        };
        assert!(message.contains("amount_cents"), "{}: {message}", db.name());
        assert!(sql.contains("amount_cents"), "{}: {sql}", db.name());
        assert_mentions(
            &db,
            &error,
            &[
                "statement for user_stats does not prepare on",
                "amount_cents",
            ],
        );
        let checked = db.check(UnknownSourceColumn::definition()).await;
        assert!(
            matches!(checked, Err(Error::Prepare { .. })),
            "{}",
            db.name()
        );
        assert_eq!(target_sum(&db, "user_stats").await, before, "{}", db.name());
        assert_eq!(progress_rows(&db, "user_stats").await, 0, "{}", db.name());
    }
}

const SECRET: &str = "s3cret-Pw-do-not-print";

fn assert_no_secret(error: &Error) {
    let display = error.to_string();
    let debug = format!("{error:?}");
    assert!(!display.contains(SECRET), "password in Display: {display}");
    assert!(!debug.contains(SECRET), "password in Debug: {debug}");
}

/// Nothing listens on port 1: connecting fails, as an error (not a hang, not a panic).
#[tokio::test]
async fn unreachable_servers_fail_without_leaking_the_password() {
    let pg = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy(&format!("postgres://postgres:{SECRET}@127.0.0.1:1/test"))
        .expect("a valid URL");
    let error = Totals::run_backfill(&pg, options())
        .await
        .expect_err("postgres on port 1");
    assert!(!error.is_preflight(), "{error:?}");
    assert_no_secret(&error);

    let my = sqlx::mysql::MySqlPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy(&format!("mysql://root:{SECRET}@127.0.0.1:1/test"))
        .expect("a valid URL");
    let error = Totals::run_backfill(&my, options())
        .await
        .expect_err("mysql on port 1");
    assert!(!error.is_preflight(), "{error:?}");
    assert_no_secret(&error);

    let dir = tempfile::tempdir().expect("a temp dir");
    let missing = dir.path().join("no-such-dir").join("db.sqlite");
    let lite = sqlx::sqlite::SqlitePoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy(&format!("sqlite://{}", missing.display()))
        .expect("a valid URL");
    let error = Totals::run_backfill(&lite, options())
        .await
        .expect_err("sqlite file in a missing directory");
    assert!(!error.is_preflight(), "{error:?}");
}

/// The right server, the wrong password: refused, and the password appears nowhere.
#[tokio::test]
async fn wrong_mariadb_password_is_refused_without_leaking_it() {
    let Some(db) = common::mysql("wrong_password").await else {
        return;
    };
    let (scheme, rest) = db.url.split_once("://").expect("a URL with a scheme");
    let (userinfo, host) = rest.split_once('@').expect("a URL with a user");
    let user = userinfo.split(':').next().unwrap_or(userinfo);
    let url = format!("{scheme}://{user}:{SECRET}@{host}");
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy(&url)
        .expect("a valid URL");
    let error = Totals::run_backfill(&pool, options())
        .await
        .expect_err("a wrong password");
    assert!(!error.is_preflight(), "{error:?}");
    assert!(error.to_string().contains("Access denied"), "{error}");
    assert_no_secret(&error);
    let checked = Totals::check(&pool).await.expect_err("a wrong password");
    assert_no_secret(&checked);
}

/// The table `user's "stats"; order` with columns `group` and `total; amount`, the job `it's; DROP TABLE events; --`,
/// then the same job again in a progress table whose name has quotes, spaces and a semicolon:
/// quoted and bound, so they run like any other names.
#[tokio::test]
async fn reserved_words_and_hostile_job_names_inject_nothing() {
    for db in with_events("odd_names").await {
        let events = events_sum(&db).await;
        db.exec(&format!(
            "CREATE TABLE {} ({} BIGINT NOT NULL PRIMARY KEY, {} BIGINT NOT NULL)",
            db.quote(ODD_TABLE),
            db.quote(ODD_KEY),
            db.quote(ODD_COLUMN)
        ))
        .await;
        let columns = &[ODD_KEY, ODD_COLUMN];
        let def = OddNames::definition();
        db.check(def)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", db.name()));

        let report = db
            .run(def, options())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        assert_eq!(report.stop, StopReason::Done, "{}", db.name());
        assert_eq!(report.job, ODD_JOB, "{}", db.name());
        assert_eq!(report.keys, USERS as u64, "{}", db.name());
        assert_eq!(report.batches, (USERS as u64).div_ceil(7), "{}", db.name());
        assert_eq!(progress_rows(&db, ODD_JOB).await, 1, "{}", db.name());
        assert_eq!(
            db.progress_i64("batches", ODD_JOB).await,
            report.batches as i64,
            "{}",
            db.name()
        );
        assert!(table_exists(&db, "events").await, "{}", db.name());
        assert_eq!(
            events_sum(&db).await,
            events,
            "{}: events untouched",
            db.name()
        );
        let written = db.checksum(ODD_TABLE, columns, &[ODD_KEY]).await;
        assert_eq!(written.0, USERS as usize, "{}", db.name());

        // The same job in a progress table with a hostile name: a fresh job there.
        let again = db
            .run(
                def,
                RunOptions {
                    progress_table: ODD_PROGRESS.to_string(),
                    ..options()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{}: progress table {ODD_PROGRESS:?}: {e}", db.name()));
        assert_eq!(again.stop, StopReason::Done, "{}", db.name());
        assert_eq!(again.keys, USERS as u64, "{}", db.name());
        assert_eq!(again.rows_written, 0, "{}: already up to date", db.name());
        assert!(table_exists(&db, ODD_PROGRESS).await, "{}", db.name());
        assert!(table_exists(&db, "events").await, "{}", db.name());
        assert_eq!(events_sum(&db).await, events, "{}", db.name());
        assert_eq!(db.checksum(ODD_TABLE, columns, &[ODD_KEY]).await, written);

        db.recompute_all(def, ODD_TABLE).await;
        let reference = db.checksum(ODD_TABLE, columns, &[ODD_KEY]).await;
        assert_eq!(written, reference, "{}", db.name());
        let verify = db
            .verify(def)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        assert!(verify.is_clean(), "{}: {verify}", db.name());
    }
}
