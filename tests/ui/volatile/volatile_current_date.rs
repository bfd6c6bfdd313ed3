use backfill::Backfill;

/// `current_date` changes at midnight.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "current_date")]
    pub refreshed_at: chrono::NaiveDate,
}

fn main() {}
