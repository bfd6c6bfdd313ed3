use backfill::Backfill;

/// A `+=` operator.
#[derive(Backfill)]
#[backfill(table = "user_stats", from = "events e")]
pub struct UserStats {
    #[backfill(key, expr = "e.user_id")]
    pub user_id: i64,
    #[backfill(expr = "count(*)", op = "+=")]
    pub event_count: i64,
}

fn main() {}
