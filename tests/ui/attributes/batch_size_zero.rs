use backfill::Backfill;

/// A batch of zero keys never advances.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e", batch_size = 0)]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
