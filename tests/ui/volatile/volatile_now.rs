use backfill::Backfill;

/// Stamps each row with the time of the run.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "now()")]
    pub refreshed_at: chrono::NaiveDateTime,
}

fn main() {}
