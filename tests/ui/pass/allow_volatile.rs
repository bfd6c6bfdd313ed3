use backfill::Backfill;

/// Per-user totals stamped with the time of the run, accepted explicitly.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "current_timestamp", allow_volatile)]
    pub refreshed_at: chrono::NaiveDateTime,
}

fn main() {}
