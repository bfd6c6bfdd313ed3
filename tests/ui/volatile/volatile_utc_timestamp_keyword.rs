use backfill::Backfill;

/// `UTC_TIMESTAMP` without parentheses: the parser reads a column, MySQL reads the clock.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "mysql")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "UTC_TIMESTAMP")]
    pub refreshed_at: String,
}

fn main() {}
