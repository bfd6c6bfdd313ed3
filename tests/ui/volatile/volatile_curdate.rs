use backfill::Backfill;

/// MySQL's `curdate()`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", engines = "mysql")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "curdate()")]
    pub refreshed_at: chrono::NaiveDate,
}

fn main() {}
