use backfill::Backfill;

/// When each row was first backfilled: volatile, but kept once written, so re-runs converge.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "current_timestamp", allow_volatile, merge = "keep")]
    pub first_backfilled_at: chrono::NaiveDateTime,
}

fn main() {}
