use backfill::Backfill;

/// PostgreSQL's statement start time.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "statement_timestamp()")]
    pub refreshed_at: chrono::NaiveDateTime,
}

fn main() {}
