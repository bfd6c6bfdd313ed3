use backfill::Backfill;

/// An unknown function in `filter`: it decides which rows belong to the backfill.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", filter = "is_active(e.user_id)")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
