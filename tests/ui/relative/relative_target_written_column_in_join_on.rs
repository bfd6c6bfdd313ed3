use backfill::Backfill;

/// The ON clause reads a column the backfill writes: which rows join changes once it is written.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e JOIN user_stats s ON s.user_id = e.user_id AND s.event_count < 100")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "sum(e.amount)")]
    pub total_amount: i64,
}

fn main() {}
