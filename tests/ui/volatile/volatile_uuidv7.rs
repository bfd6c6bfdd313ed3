use backfill::Backfill;

/// PostgreSQL 18's `uuidv7()`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "postgres")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "CAST(uuidv7() AS TEXT)")]
    pub run_id: String,
}

fn main() {}
