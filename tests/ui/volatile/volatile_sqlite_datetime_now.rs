use backfill::Backfill;

/// SQLite reads the clock through the `'now'` argument.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "sqlite")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "datetime('now')")]
    pub refreshed_at: String,
}

fn main() {}
