use backfill::Backfill;

/// A u64 key does not fit the i64 cursor.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: u64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
}

fn main() {}
