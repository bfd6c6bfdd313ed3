use backfill::Backfill;

/// `e.country` is neither a key nor inside an aggregate.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)")]
    pub event_count: i64,
    #[backfill(expr = "e.country")]
    pub country: String,
}

fn main() {}
