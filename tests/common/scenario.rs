//! The article's scenario on every engine: `events` (some with a NULL user) and the per-user
//! aggregate `user_stats`, seeded with deterministic data.

use backfill::{Backfill, Engine};

use super::Db;

/// The scenario's backfill: per-user totals, 25 keys a batch (the fault and shard tests kill
/// and resume it).
#[derive(Backfill, Debug)]
#[backfill(table = "user_stats", from = "events", batch_size = 25)]
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

/// The columns of `user_stats`, for checksums.
pub const USER_STATS_COLUMNS: &[&str] = &["user_id", "event_count", "total_amount", "last_seen"];

/// Creates `events` and `user_stats` (empty).
pub async fn create_tables(db: &Db) {
    let script = match db.engine {
        Engine::Postgres => {
            "CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT NULL, amount BIGINT NOT NULL, created_at TIMESTAMP NOT NULL);
             CREATE INDEX events_user_id ON events (user_id);
             CREATE TABLE user_stats (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_seen TIMESTAMP NOT NULL)"
        }
        Engine::MySql => {
            "CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT NULL, amount BIGINT NOT NULL, created_at DATETIME NOT NULL, INDEX events_user_id (user_id)) ENGINE=InnoDB;
             CREATE TABLE user_stats (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_seen DATETIME NOT NULL) ENGINE=InnoDB"
        }
        Engine::Sqlite => {
            "CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER NULL, amount INTEGER NOT NULL, created_at TEXT NOT NULL);
             CREATE INDEX events_user_id ON events (user_id);
             CREATE TABLE user_stats (user_id INTEGER PRIMARY KEY, event_count INTEGER NOT NULL, total_amount INTEGER NOT NULL, last_seen TEXT NOT NULL)"
        }
    };
    db.exec_all(script).await;
}

/// Event `i`'s user: spread over `users` users, every 97th event has no user, and every 41st
/// belongs to user 7, who so has more events than a batch has keys (a batch cut by rows would
/// split that user's aggregate; a batch of whole keys cannot).
fn user_of(i: i64, users: i64) -> Option<i64> {
    if i % 97 == 0 {
        None
    } else if i % 41 == 0 {
        Some(7)
    } else {
        Some((i * 7919) % users + 1)
    }
}

/// Inserts `events` events over `users` users (ids 1..=users), deterministic, in chunks with
/// bound values.
pub async fn seed_events(db: &Db, events: i64, users: i64) {
    const CHUNK: i64 = 500;
    let mut start = 1;
    while start <= events {
        let end = (start + CHUNK - 1).min(events);
        let n = (end - start + 1) as usize;
        let rows: Vec<String> = (0..n)
            .map(|r| match db.engine {
                Engine::Postgres => {
                    let b = r * 4;
                    format!(
                        "(${}, ${}, ${}, CAST(${} AS TIMESTAMP))",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4
                    )
                }
                _ => "(?, ?, ?, ?)".to_string(),
            })
            .collect();
        let sql = format!(
            "INSERT INTO events (id, user_id, amount, created_at) VALUES {}",
            rows.join(", ")
        );
        macro_rules! insert {
            ($pool:expr) => {{
                let mut q = sqlx::query(super::test_sql(&sql));
                for i in start..=end {
                    q = q
                        .bind(i)
                        .bind(user_of(i, users))
                        .bind((i * 31) % 1000)
                        .bind(created_at(i));
                }
                q.execute($pool).await.map(|_| ())
            }};
        }
        let result = match &db.pool {
            super::Pool::Sqlite(p) => insert!(p),
            super::Pool::Postgres(p) => insert!(p),
            super::Pool::MySql(p) => insert!(p),
        };
        result.unwrap_or_else(|e| panic!("{}: seeding events: {e}", db.name()));
        start = end + 1;
    }
}

/// Event `i`'s timestamp as text, second precision.
fn created_at(i: i64) -> String {
    let base = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid date");
    (base + chrono::Duration::seconds(i * 37))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Creates both tables and seeds them.
pub async fn seed(db: &Db, events: i64, users: i64) {
    create_tables(db).await;
    seed_events(db, events, users).await;
}

/// Number of events with a NULL user among the first `events`.
pub fn null_user_events(events: i64) -> u64 {
    (1..=events).filter(|i| i % 97 == 0).count() as u64
}

/// Ordered checksum of the whole `user_stats` table.
pub async fn user_stats_checksum(db: &Db) -> (usize, u64) {
    db.checksum("user_stats", USER_STATS_COLUMNS, &["user_id"])
        .await
}

/// Seeds the scenario and returns the checksum of `def`'s single-statement recompute, with
/// `user_stats` left empty again: what every backfill of `def` must land on.
pub async fn seed_with_reference(
    db: &Db,
    def: &'static backfill::Definition,
    events: i64,
    users: i64,
) -> (usize, u64) {
    seed(db, events, users).await;
    db.recompute_all(def, "user_stats").await;
    let expected = user_stats_checksum(db).await;
    db.exec("DELETE FROM user_stats").await;
    expected
}
