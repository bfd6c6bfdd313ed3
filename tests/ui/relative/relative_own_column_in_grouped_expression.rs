use backfill::Backfill;

/// Adds the batch's count to the stored count.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "event_count + count(*)")]
    pub event_count: i64,
}

fn main() {}
