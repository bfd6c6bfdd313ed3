use backfill::Backfill;

/// `expression` instead of `expr`.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expression = "count(*)")]
    pub event_count: i64,
}

fn main() {}
